"""Parameter sweeps: Cartesian grids over any config value, run on an executor, stored in Zarr.

A sweep is a ``simulate`` config (the *base*) plus axes — dotted paths into the config with the
values they take — and a *keep* spec saying what to store per point: full time series and/or
summaries (mean/min/max over time windows, onset time of synchronization). See docs/sweeps.md.

Layers, top to bottom:

* spec: paths (``"probes.sites[2]"``, probe numbers from 1, ``[*]`` = every entry), axes, keep,
  the canonical hash that identifies a sweep;
* compute: one point → arrays, computing only what the keep spec needs (means only when no
  kept quantity depends on the covariance);
* layout/store: the raw Zarr layout has one ``point`` dimension (C order over the axes),
  chunked by task, so two writers (tasks, shards) never touch the same chunk; ``status``
  (0 missing, 1 done, 2 failed) is written after a chunk's data and is the commit marker;
* runner: one loop over the ``concurrent.futures`` Executor interface (a local process pool,
  a serial in-process executor, or dask.distributed through ``Client.get_executor()``).

:func:`open_sweep` returns the gridded Dataset (one dimension per axis).

Times are in 1/[ω], as everywhere in harmosync (ħ = 1, unit masses).
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import hashlib
import itertools
import json
import math
import os
import re
import shutil
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import config as cfgmod
from . import dynamics as dy
from . import measures as ms
from .errors import HarmosyncError, UnstableNetworkError, suggest
from .observables import SUMMARY_STATS
from .simulation import check_result, check_time_grid, check_window

SWEEP_FORMAT = 1
TITLE = "harmosync sweep"

# What each storable quantity needs: "mean" (first moments only) or "cov" (also covariances).
SERIES = {
    "x": "mean", "p": "mean", "q1": "mean", "q2": "mean", "sync": "mean", "complete_sync": "mean",
    "cov": "cov", "sync_variance": "cov", "mutual_information": "cov", "log_negativity": "cov",
    "complete_sync_quantum": "cov", "energy_probes": "cov",
}
SCALAR_SERIES = [s for s in SERIES if s not in ("x", "p", "cov")]
PAIR_SERIES = {"sync", "sync_variance", "mutual_information", "log_negativity", "complete_sync",
               "complete_sync_quantum", "q1", "q2"}
C_VALUED = ("sync", "sync_variance")  # Eq. (3): values in [−1, 1]
STATS = SUMMARY_STATS  # <series>_<stat> summaries (io's numerical guard reads the names)
KEEP_KEYS = ("series", "stride", "summaries", "stats", "windows", "onset", "onset_threshold", "onset_hold")
AXIS_KEYS = ("start", "stop", "step", "num", "values", "name")
AXIS_UNITS = {  # by config key; shown on plots and stored as the coordinate's units
    "sites": "site number (1..M)",  # probes.sites; chain.sites (M) is a count "strengths": "[w]^2", "frequencies": "[w]", "coupling": "[w]^2",
    "omega0": "[w]", "g": "[w]^2", "temperature": "[w]", "disorder": "1", "seed": "1", "x": "[w]^(-1/2)",
    "p": "[w]^(1/2)", "squeezing": "1", "squeezing_angle": "rad", "start": "1/[w]", "stop": "1/[w]",
    "step": "1/[w]", "window": "1/[w]", "delay": "1/[w]",
}
MAX_FULL_VALIDATION = 20_000  # grids up to this size have every point validated up front
MAX_CORNERS = 64
TARGET_TASK_SECONDS = 2.0
MAX_CHUNK_BYTES = 64 * 2**20
MIN_TASKS = 64
MIN_TASK_SECONDS = 0.25


# ==============================================================================================
# Paths into the config
# ==============================================================================================
_PATH = re.compile(r"^([A-Za-z_]\w*)\.([A-Za-z_]\w*)((?:\[(?:\d+|\*)\])*)$")


@dataclass(frozen=True)
class Axis:
    """One sweep axis: ``path`` as the user wrote it, ``name`` (a safe variable name),
    ``segments`` (table, key, then 0-based indices or ``"*"``) and its ``values``."""

    path: str
    name: str
    segments: tuple
    values: tuple

    @property
    def size(self) -> int:
        return len(self.values)


def parse_path(path: str) -> tuple:
    """``"probes.sites[2]"`` → ``("probes", "sites", 1)`` (indices 1-based in, 0-based out);
    ``[*]`` stays ``"*"``. Checks the grammar and the table and key names."""
    m = _PATH.match(path.replace(" ", ""))
    if not m:
        raise HarmosyncError(
            f"sweep error: '{path}' is not a config path; write a dotted path like \"chain.g\" or "
            "\"probes.sites[2]\" (probe numbers start at 1, [*] sets every entry)")
    table, key, idx = m.groups()
    tables = list(cfgmod.RunConfig.model_fields)
    if table not in tables:
        raise HarmosyncError(f"sweep error: '{path}': unknown table '{table}'{suggest(table, tables)}; "
                             f"tables are {', '.join(tables)}")
    fields = _table_fields(table)
    if key not in fields:
        raise HarmosyncError(f"sweep error: '{path}': unknown key '{key}' in [{table}]{suggest(key, fields)}; "
                             f"valid keys: {', '.join(fields)}")
    segs: list = [table, key]
    for tok in re.findall(r"\[(\d+|\*)\]", idx):
        if tok == "*":
            segs.append("*")
        elif int(tok) < 1:
            raise HarmosyncError(f"sweep error: '{path}': entries are numbered from 1 (probe 1, probe 2, ...)")
        else:
            segs.append(int(tok) - 1)
    return tuple(segs)


def _table_fields(table: str) -> list[str]:
    ann = cfgmod.RunConfig.model_fields[table].annotation
    models = [a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type) and hasattr(a, "model_fields")]
    return list(models[0].model_fields) if models else []


def safe_name(path: str) -> str:
    """A NetCDF/Zarr-safe variable name: ``probes.sites[2]`` → ``probes_sites_2``,
    ``probes.strengths[*]`` → ``probes_strengths_all``."""
    s = path.replace("[*]", "_all")
    return re.sub(r"_+", "_", re.sub(r"[^0-9A-Za-z_]", "_", s)).strip("_")


def set_path(data: dict, segments: tuple, value) -> dict:
    """A copy of ``data`` with ``value`` at ``segments``; containers along the path are copied,
    everything else shared. A missing table or key is created (the schema checks it later)."""
    head, rest = segments[0], segments[1:]
    if isinstance(head, str) and head != "*":
        out = dict(data)
        out[head] = value if not rest else set_path(out.get(head, {}), rest, value)
        return out
    out = list(data)
    idx = range(len(out)) if head == "*" else [head]
    for i in idx:
        out[i] = value if not rest else set_path(out[i], rest, value)
    return out


def _check_target(base: dict, axis_path: str, segments: tuple) -> None:
    """The entry at ``segments`` must exist in the base config (lists cannot grow), except for a
    plain ``table.key`` whose key has a default."""
    table, key, idx = segments[0], segments[1], segments[2:]
    if not idx:
        return
    node = base.get(table, {}).get(key)
    where = f"{table}.{key}"
    for i, s in enumerate(idx):
        if not isinstance(node, list):
            raise HarmosyncError(f"sweep error: '{axis_path}': {where} is not a list in the config; give the full "
                                 f"list in [{table}] first, then sweep one entry")
        if s != "*" and s >= len(node):
            what = "probe" if table == "probes" and i == 0 else "entry"
            raise HarmosyncError(f"sweep error: '{axis_path}': {where} has {len(node)} entries; {what} {s + 1} "
                                 "does not exist")
        node = node[0] if s == "*" else node[s]
        where += "[*]" if s == "*" else f"[{s + 1}]"


def _axis_values(path: str, spec) -> tuple[tuple, str | None]:
    """Values of one axis from ``{start, stop, step|num}``, ``{values}`` or a plain list."""
    if isinstance(spec, (list, tuple, np.ndarray)):
        spec = {"values": list(np.asarray(spec).tolist()) if isinstance(spec, np.ndarray) else list(spec)}
    if not isinstance(spec, dict):
        raise HarmosyncError(f"sweep error: '{path}': give {{ start, stop, step }} or {{ start, stop, num }} "
                             f"or {{ values = [...] }}, got {spec!r}")
    for k in spec:
        if k not in AXIS_KEYS:
            raise HarmosyncError(f"sweep error: '{path}': unknown option '{k}'{suggest(k, AXIS_KEYS)}; "
                                 f"options are {', '.join(AXIS_KEYS)}")
    name = spec.get("name")
    if name is not None and (not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_]\w*", name)):
        raise HarmosyncError(f"sweep error: '{path}': name = {name!r} must be an identifier like \"m\" or \"K\"")
    if "values" in spec:
        if any(k in spec for k in ("start", "stop", "step", "num")):
            raise HarmosyncError(f"sweep error: '{path}': give values or a range (start, stop, ...), not both")
        vals = spec["values"]
        if isinstance(vals, np.ndarray):
            vals = vals.tolist()
        if not isinstance(vals, (list, tuple)) or not vals:
            raise HarmosyncError(f"sweep error: '{path}': values must be a non-empty list")
        for v in vals:
            if isinstance(v, (dict, list, tuple)) or (isinstance(v, float) and not math.isfinite(v)):
                raise HarmosyncError(f"sweep error: '{path}': value {v!r} must be a finite number, a string "
                                     "or a boolean")
        vals = [v.item() if isinstance(v, np.generic) else v for v in vals]
        if len(set(map(repr, vals))) != len(vals):
            raise HarmosyncError(f"sweep error: '{path}': values repeat; give each value once")
        return _unify(tuple(vals)), name
    for k in ("start", "stop"):
        if k not in spec:
            raise HarmosyncError(f"sweep error: '{path}': a range needs start and stop (inclusive) and step or num")
        if isinstance(spec[k], bool) or not isinstance(spec[k], (int, float)) or not math.isfinite(spec[k]):
            raise HarmosyncError(f"sweep error: '{path}': {k} = {spec[k]!r} must be a finite number")
    start, stop = spec["start"], spec["stop"]
    if "step" in spec and "num" in spec:
        raise HarmosyncError(f"sweep error: '{path}': give step or num, not both")
    if stop < start:
        raise HarmosyncError(f"sweep error: '{path}': stop = {stop} is below start = {start}")
    if "num" in spec:
        num = spec["num"]
        if isinstance(num, bool) or not isinstance(num, int) or num < 1:
            raise HarmosyncError(f"sweep error: '{path}': num = {num!r} must be a whole number ≥ 1")
        if num > 1 and stop == start:
            raise HarmosyncError(f"sweep error: '{path}': start = stop = {start} gives one value; use num = 1")
        vals = np.linspace(start, stop, num)
        if isinstance(start, int) and isinstance(stop, int) and np.all(vals == np.round(vals)):
            return tuple(int(v) for v in np.round(vals)), name
        return tuple(float(f"{v:.12g}") for v in vals), name
    if "step" not in spec and not all(isinstance(v, int) for v in (start, stop)):
        raise HarmosyncError(f"sweep error: '{path}': the range {start}..{stop} is not whole numbers; "
                             "give step or num (step 1 is the default only for whole-number ranges)")
    step = spec.get("step", 1)  # { start, stop } alone: every whole step, e.g. sites 1..300
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not step > 0 or not math.isfinite(step):
        raise HarmosyncError(f"sweep error: '{path}': step = {step!r} must be a positive number")
    n = int(math.floor((stop - start) / step + 1e-9)) + 1
    if n > 10**7:
        raise HarmosyncError(f"sweep error: '{path}': {n} values is too many; use a larger step")
    if all(isinstance(v, int) for v in (start, stop, step)):
        return tuple(start + step * k for k in range(n)), name
    # 12 significant digits: 0.15, not 0.15000000000000002, so that ds.sel(K=0.15) works
    return tuple(float(f"{start + step * k:.12g}") for k in range(n)), name


def _unify(vals: tuple) -> tuple:
    """Ints become floats on an axis that has a float, so 1 and 1.0 hash alike."""
    if any(isinstance(v, float) for v in vals) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                         for v in vals):
        return tuple(float(v) for v in vals)
    return vals


# ==============================================================================================
# What to keep
# ==============================================================================================
@dataclass(frozen=True)
class Keep:
    """What to store per point. ``series``: full time series (every ``stride``-th time);
    ``summaries`` × ``stats``: mean/min/max over each window; ``onset``: onset time of
    synchronization per window (see :func:`onset_time`). Windows are (start, stop) [1/ω]."""

    series: tuple[str, ...] = ()
    stride: int = 1
    summaries: tuple[str, ...] = ()
    stats: tuple[str, ...] = STATS
    windows: tuple[tuple[float, float], ...] = ()
    onset: tuple[str, ...] = ()
    onset_threshold: float = 0.9
    onset_hold: float | None = None  # None: 5 × sync.window of the point

    @property
    def quantities(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.series + self.summaries + self.onset))

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["windows"] = [list(w) for w in self.windows]
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


def parse_keep(keep: dict | Keep | None, base: cfgmod.RunConfig) -> Keep:
    """Validate the ``[keep]`` table against the base config (one-line errors naming the key)."""
    if isinstance(keep, Keep):
        keep = keep.to_dict()
    if not keep:
        raise HarmosyncError('sweep error: say what to keep per point in a [keep] table, e.g. series = ["sync"] '
                             'or summaries = ["sync", "log_negativity"]')
    if not isinstance(keep, dict):
        raise HarmosyncError("sweep error: [keep] must be a table")
    for k in keep:
        if k not in KEEP_KEYS:
            raise HarmosyncError(f"sweep error: unknown key '{k}' in [keep]{suggest(k, KEEP_KEYS)}; "
                                 f"valid keys: {', '.join(KEEP_KEYS)}")

    def names(key, allowed):
        v = keep.get(key, [])
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, (list, tuple)):
            raise HarmosyncError(f"sweep error: keep.{key} must be a list of names, got {v!r}")
        for n in v:
            if n not in allowed:
                raise HarmosyncError(f"sweep error: keep.{key}: unknown quantity {n!r}{suggest(str(n), allowed)}; "
                                     f"choose from {', '.join(allowed)}")
        return tuple(dict.fromkeys(v))

    series = names("series", list(SERIES))
    summaries = names("summaries", SCALAR_SERIES)
    onset = names("onset", list(C_VALUED))
    stats = names("stats", list(STATS)) if "stats" in keep else STATS
    if not (series or summaries or onset):
        raise HarmosyncError("sweep error: [keep] keeps nothing; give series, summaries or onset")
    if "stats" in keep and not stats:
        raise HarmosyncError("sweep error: keep.stats is empty; give some of mean, min, max")
    p = len(base.probes.frequencies)
    for q in series + summaries + onset:
        if q in PAIR_SERIES and p < 2:
            raise HarmosyncError(f"sweep error: keep: {q} needs two probes; the config has {p}")
        if q in ("q1", "q2") and p != 2:
            raise HarmosyncError(f"sweep error: keep: {q} (system normal modes, Eq. A4–A5) needs exactly two probes")
    stride = keep.get("stride", 1)
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise HarmosyncError(f"sweep error: keep.stride = {stride!r} must be a whole number ≥ 1")
    thr = keep.get("onset_threshold", 0.9)
    if isinstance(thr, bool) or not isinstance(thr, (int, float)) or not 0 < thr <= 1:
        raise HarmosyncError(f"sweep error: keep.onset_threshold = {thr!r} must be in (0, 1]")
    hold = keep.get("onset_hold")
    if hold is not None and (isinstance(hold, bool) or not isinstance(hold, (int, float))
                             or not math.isfinite(hold) or hold < 0):
        raise HarmosyncError(f"sweep error: keep.onset_hold = {hold!r} must be a time ≥ 0 [1/ω]")
    t0, t1 = base.time.start, base.time.stop
    wins = keep.get("windows", [[t0, t1]])
    if not isinstance(wins, (list, tuple)) or not wins:
        raise HarmosyncError("sweep error: keep.windows must be a list of [start, stop] pairs")
    windows = []
    for w in wins:
        ok = isinstance(w, (list, tuple)) and len(w) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in w)
        if not ok or not w[0] < w[1]:
            raise HarmosyncError(f"sweep error: keep.windows: {w!r} must be [start, stop] with start < stop [1/ω]")
        windows.append((float(w[0]), float(w[1])))
    return Keep(series, stride, summaries, stats, tuple(windows), onset, float(thr),
                None if hold is None else float(hold))


# ==============================================================================================
# The sweep specification
# ==============================================================================================
SWEPT = "<swept>"


@dataclass(frozen=True, eq=False)
class SweepSpec:
    """A validated sweep: the base config (normalized dict), the axes and the keep spec."""

    base: dict
    axes: tuple[Axis, ...]
    keep: Keep

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(a.size for a in self.axes)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def point_values(self, index: int) -> tuple:
        return tuple(a.values[i] for a, i in zip(self.axes, np.unravel_index(index, self.shape)))

    def point_dict(self, index: int) -> dict:
        d = self.base
        for a, v in zip(self.axes, self.point_values(index)):
            d = set_path(d, a.segments, v)
        return d

    def point_config(self, index: int) -> cfgmod.RunConfig:
        return _parse_point(self, index)

    def describe(self, index: int) -> str:
        return ", ".join(f"{a.path} = {v!r}" for a, v in zip(self.axes, self.point_values(index)))

    @property
    def marked_base(self) -> dict:
        """The base with every swept entry replaced by "<swept>" (for hashing and attrs)."""
        d = self.base
        for a in self.axes:
            d = set_path(d, a.segments, SWEPT)
        return d

    def hashes(self) -> dict[str, str]:
        parts = {"base": self.marked_base, "sweep": [[a.path, a.name, list(a.values)] for a in self.axes],
                 "keep": self.keep.to_dict()}
        out = {k: _digest(v) for k, v in parts.items()}
        out["all"] = _digest([out["base"], out["sweep"], out["keep"]])
        return out


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:32]


def _parse_point(spec: SweepSpec, index: int) -> cfgmod.RunConfig:
    try:
        return cfgmod.parse(spec.point_dict(index))
    except HarmosyncError as e:
        raise HarmosyncError(f"sweep error: at {spec.describe(index)}: {e}") from None


def build_spec(base_config, axes: dict, keep) -> SweepSpec:
    """Validate the base config, the axes and the keep spec (cheap: no dynamics)."""
    if isinstance(base_config, cfgmod.RunConfig):
        base_cfg = base_config
    else:
        if not isinstance(base_config, dict):
            raise HarmosyncError("sweep error: the base config must be a dict or a RunConfig")
        for k in ("sweep", "keep"):
            if k in base_config:
                raise HarmosyncError(f"sweep error: pass the [{k}] table as the {'axes' if k == 'sweep' else k} "
                                     "argument, not inside the base config")
        base_cfg = cfgmod.parse(base_config)
    base = base_cfg.to_dict()
    if not isinstance(axes, dict) or not axes:
        raise HarmosyncError('sweep error: the [sweep] table is empty; give at least one axis, e.g. '
                             '"probes.sites[2]" = { start = 1, stop = 300 }')
    out, seen = [], {}
    for path, spec in _flatten_axes(axes).items():
        segs = parse_path(path)
        _check_target(base, path, segs)
        values, name = _axis_values(path, spec)
        name = name or safe_name(path)
        if name in seen:
            raise HarmosyncError(f"sweep error: '{path}' and '{seen[name]}' both give the axis name {name!r}")
        seen[name] = path
        out.append(Axis(path, name, segs, values))
    for i, a in enumerate(out):
        for b in out[:i]:
            if _overlap(a.segments, b.segments):
                raise HarmosyncError(f"sweep error: '{a.path}' and '{b.path}' set the same config entry")
    keep = parse_keep(keep, base_cfg)
    if keep.series and any(a.segments[0] == "time" for a in out):
        raise HarmosyncError("sweep error: sweeping time.* changes the time grid from point to point; "
                             "keep only summaries and onset, not series")
    reserved = {"point", "time", "probe", "row", "col", "window", "window_start", "window_stop", "status"}
    reserved |= set(_data_names(keep))
    for a in out:
        if a.name in reserved:
            raise HarmosyncError(f"sweep error: '{a.path}': axis name {a.name!r} is taken by an output variable; "
                                 "give another with name = \"...\"")
    return SweepSpec(base, tuple(out), keep)


def _overlap(s1: tuple, s2: tuple) -> bool:
    for a, b in zip(s1, s2):
        if a != b and "*" not in (a, b):
            return False
    return True


def _flatten_axes(axes: dict, prefix: str = "") -> dict:
    """Unquoted dotted keys in TOML arrive as nested tables; put them back into paths."""
    out = {}
    for k, v in axes.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v and not any(x in v for x in AXIS_KEYS):
            out.update(_flatten_axes(v, key + "."))
        else:
            out[key] = v
    return out


def load_toml(path) -> tuple[dict, dict, dict]:
    """Read a sweep config: (base config dict, [sweep] table, [keep] table)."""
    import tomllib

    path = Path(path)
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise HarmosyncError(f"config file {str(path)!r} does not exist") from None
    except OSError as e:
        raise HarmosyncError(f"cannot read config file {str(path)!r}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise HarmosyncError(f"config file {str(path)!r} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise HarmosyncError(f"config file {str(path)!r} is not valid TOML: {e}") from None
    axes = data.pop("sweep", None)
    keep = data.pop("keep", None)
    if axes is None:
        raise HarmosyncError(f"config file {str(path)!r} has no [sweep] table; add one, e.g. "
                             '[sweep] "probes.sites[2]" = { start = 1, stop = 300 }')
    return data, axes, keep


def validate(spec: SweepSpec) -> cfgmod.RunConfig:
    """Check the grid before anything runs: every point parses (grids up to 20,000 points; larger
    ones: every value of every axis and the corners), and the corners of the grid build their
    network, state and time grid. A network that is unstable at some points is not an error
    here: those points are recorded as failed (status 2). Returns the first point's config."""
    n = spec.size
    if n <= MAX_FULL_VALIDATION:
        idx: Any = range(n)
    else:
        zero = [0] * len(spec.axes)
        lines = {int(np.ravel_multi_index(zero[:d] + [i] + zero[d + 1:], spec.shape))
                 for d, a in enumerate(spec.axes) for i in range(a.size)}
        idx = sorted(lines | set(_corners(spec)))
    for i in idx:
        _parse_point(spec, i)
    for i in _corners(spec):
        try:
            _check_point(_parse_point(spec, i), spec.keep)
        except UnstableNetworkError:
            continue
        except HarmosyncError as e:
            raise HarmosyncError(f"sweep error: at {spec.describe(i)}: {e}") from None
    return _parse_point(spec, 0)


def _corners(spec: SweepSpec) -> list[int]:
    choices = [sorted({0, a.size - 1}) for a in spec.axes]
    out = [int(np.ravel_multi_index(c, spec.shape)) for c in itertools.islice(itertools.product(*choices), MAX_CORNERS)]
    return sorted(set(out) | {spec.size - 1})


# ==============================================================================================
# One point
# ==============================================================================================
@dataclass(frozen=True, eq=False)
class _Prepared:
    cfg: cfgmod.RunConfig
    network: Any
    state: Any
    times: np.ndarray
    pair: tuple[int, int]  # 0-based probes compared by C, MI, E_N


def _prepare(cfg: cfgmod.RunConfig, keep: Keep) -> _Prepared:
    """Build the point's network and state and run simulate's input checks that need no
    dynamics (sync probes, window, keep windows). The time step is checked against the fastest
    normal mode by :func:`check_time_grid` once the frequencies are known."""
    net = cfg.build_network()
    state = cfg.build_state()
    times = cfg.time.grid()
    p = net.n_probes
    a, b = cfg.sync.probes
    if p >= 2 and not (1 <= a <= p and 1 <= b <= p and a != b):
        raise HarmosyncError(f"config error: sync.probes = [{a}, {b}] must name two different probes in 1..{p}")
    if p >= 2:
        check_window(times, cfg.sync.window, cfg.sync.delay)
        if times.size > 1:  # Eq. (3) needs Δt and the delay as whole numbers of steps
            step = float(times[1] - times[0])
            ms.window_samples(step, cfg.sync.window)
            k = round(cfg.sync.delay / step)
            if abs(k * step - cfg.sync.delay) > 1e-6 * max(step, abs(cfg.sync.delay)):
                raise HarmosyncError(f"sync.delay = {cfg.sync.delay:g} is not a whole number of time steps ({step:g})")
    if keep.onset or keep.summaries:
        eps = 1e-9 * max(1.0, abs(times[-1]))
        for w0, w1 in keep.windows:
            if not np.any((times >= w0 - eps) & (times <= w1 + eps)):
                raise HarmosyncError(f"keep.windows: [{w0:g}, {w1:g}] contains no time of the run "
                                     f"[{times[0]:g}, {times[-1]:g}]")
    if keep.onset:
        hold = keep.onset_hold if keep.onset_hold is not None else 5.0 * cfg.sync.window
        if hold > times[-1] - times[0]:
            raise HarmosyncError(f"sweep error: keep.onset_hold = {hold:g} is longer than the run "
                                 f"({times[-1] - times[0]:g}); every onset would be NaN — shorten it")
    return _Prepared(cfg, net, state, times, (a - 1, b - 1))


def _check_point(cfg: cfgmod.RunConfig, keep: Keep) -> None:
    """All input checks of one point, without the dynamics (for :func:`validate`)."""
    pre = _prepare(cfg, keep)
    sol = dy.solve(pre.network, pre.state, t_max=float(np.max(np.abs(pre.times))), covariance=False)
    check_time_grid(pre.times, sol.max_frequency)


def compute_series(cfg: cfgmod.RunConfig, names, *, keep: Keep | None = None) -> tuple[np.ndarray, dict]:
    """The time series ``names`` of one run, as :func:`harmosync.simulation.simulate` defines
    them, computing only what they need. When none needs a covariance, the low-rank part of the
    solution is never built (``dynamics.solve(..., covariance=False)``): the means are then
    exact and the covariance of the result is not used. Returns (times, {name: array})."""
    keep = keep or Keep(series=tuple(names))
    names = tuple(names)
    need_cov = any(SERIES[q] == "cov" for q in names)
    pre = _prepare(cfg, keep)
    sol = dy.solve(pre.network, pre.state, t_max=float(np.max(np.abs(pre.times))), covariance=need_cov)
    check_time_grid(pre.times, sol.max_frequency)
    if need_cov:
        mom = sol.moments(pre.times)
        mean, cov = mom.mean, mom.cov
    else:  # first moments only: the covariance's low-rank part was never built
        mean, cov = sol.means(pre.times), None
    times, net = pre.times, pre.network
    i, j = pre.pair
    step = times[1] - times[0] if times.size > 1 else 0.0
    win, delay = cfg.sync.window, cfg.sync.delay
    out: dict[str, np.ndarray] = {}
    for q in names:
        if q == "x":
            out[q] = mean[:, 0::2]
        elif q == "p":
            out[q] = mean[:, 1::2]
        elif q == "cov":
            out[q] = cov
        elif q == "sync":
            out[q] = ms.sync_factor(mean[:, 2 * i], mean[:, 2 * j], step, win, delay=delay)
        elif q == "sync_variance":
            x2i = cov[:, 2 * i, 2 * i] + mean[:, 2 * i] ** 2
            x2j = cov[:, 2 * j, 2 * j] + mean[:, 2 * j] ** 2
            out[q] = ms.sync_factor(x2i, x2j, step, win, delay=delay)
        elif q == "mutual_information":
            out[q] = ms.mutual_information(cov, [i], [j], accuracy=sol.error_bound)
        elif q == "log_negativity":
            out[q] = ms.log_negativity(cov, [i], [j], accuracy=sol.error_bound)
        elif q == "complete_sync":
            out[q] = ms.complete_sync(mean, None, i, j)
        elif q == "complete_sync_quantum":
            out[q] = ms.complete_sync(mean, cov, i, j)
        elif q == "energy_probes":
            vs = net.probes.potential()
            sx = cov[:, 0::2, 0::2] + mean[:, 0::2, None] * mean[:, None, 0::2]
            sp2 = np.einsum("tii->t", cov[:, 1::2, 1::2]) + np.sum(mean[:, 1::2] ** 2, axis=1)
            out[q] = 0.5 * (np.einsum("ij,tji->t", vs, sx) + sp2)
        elif q in ("q1", "q2"):
            from .network import system_mode_coordinates, system_normal_modes

            theta, _ = system_normal_modes(net.probes.frequencies, net.probes.coupling[0, 1])
            out["q1"], out["q2"] = system_mode_coordinates(mean[:, 0], mean[:, 2], theta)
    if need_cov:
        check_result(mean, cov, out)  # simulate's guard: finite, physical covariances
    return times, {q: out[q] for q in names}


def summarize(values: np.ndarray, times: np.ndarray, windows, stats=STATS) -> dict[str, np.ndarray]:
    """Mean, min, max of ``values`` over the samples with start ≤ t ≤ stop of each window,
    ignoring NaN (C is NaN over the last Δt of a run). The mean is the sample mean on the
    uniform grid. NaN where a window has no finite sample. Returns {stat: (W,)}."""
    out = {s: np.full(len(windows), np.nan) for s in stats}
    eps = 1e-9 * max(1.0, abs(times[-1]))
    for k, (w0, w1) in enumerate(windows):
        v = values[(times >= w0 - eps) & (times <= w1 + eps)]
        v = v[~np.isnan(v)]
        if v.size:
            for s in stats:
                out[s][k] = getattr(np, s)(v)
    return out


def onset_time(c: np.ndarray, times: np.ndarray, threshold: float, hold: float, window) -> float:
    """Onset of synchronization: the first time t in the window such that |C(t′)| ≥ threshold at
    every sample t′ ∈ [t, t + hold], with [t, t + hold] inside the window (hold rounded up to a
    whole number of steps). |C| counts synchronization and anti-synchronization alike; NaN
    samples (past the end of the data) count as below. NaN if there is no such t [1/ω]."""
    w0, w1 = window
    eps = 1e-9 * max(1.0, abs(times[-1]))
    idx = np.flatnonzero((times >= w0 - eps) & (times <= w1 + eps))
    if idx.size == 0:
        return math.nan
    step = times[1] - times[0] if times.size > 1 else 1.0
    h = math.ceil(hold / step - 1e-9) if hold > 0 else 0
    with np.errstate(invalid="ignore"):
        above = np.abs(c[idx]) >= threshold
    n = idx.size - h
    if n <= 0:
        return math.nan
    run = np.concatenate([[0], np.cumsum(above)])
    ok = (run[h + 1:] - run[: n]) == h + 1
    return float(times[idx[np.argmax(ok)]]) if ok.any() else math.nan


def evaluate(cfg: cfgmod.RunConfig, keep: Keep) -> dict[str, np.ndarray]:
    """Everything ``keep`` asks for at one point: {variable name: array} (see :func:`layout`)."""
    times, series = compute_series(cfg, keep.quantities, keep=keep)
    hold = keep.onset_hold if keep.onset_hold is not None else 5.0 * cfg.sync.window
    out = {}
    for q in keep.series:
        out[q] = series[q][:: keep.stride]
    for q in keep.summaries:
        for s, v in summarize(series[q], times, keep.windows, keep.stats).items():
            out[f"{q}_{s}"] = v
    for q in keep.onset:
        out[f"{q}_onset"] = np.array([onset_time(series[q], times, keep.onset_threshold, hold, w)
                                      for w in keep.windows])
    return out


# ==============================================================================================
# Tasks (run in worker processes)
# ==============================================================================================
@dataclass(frozen=True, eq=False)
class Payload:
    """What every task needs; small and picklable (sent with each task)."""

    base: dict
    axes: tuple[Axis, ...]
    keep: Keep
    blas_threads: int | None = 1


@dataclass(frozen=True, eq=False)
class TaskResult:
    start: int
    stop: int
    status: np.ndarray  # (n,) int8: 1 done, 2 failed
    data: dict  # name -> (n, ...) arrays
    errors: list  # [(flat index, message)]
    seconds: float


def run_task(payload: Payload, start: int, stop: int) -> TaskResult:
    """Compute points start..stop−1 (flat C-order indices). A point whose config or network is
    refused (HarmosyncError) is recorded as failed with NaN values; anything else propagates."""
    t0 = time.perf_counter()
    if payload.blas_threads:
        from threadpoolctl import threadpool_limits

        # One BLAS thread per worker: faster on a full machine, and bitwise-reproducible results
        # whatever the executor.
        with threadpool_limits(limits=payload.blas_threads):
            return _run_points(payload, start, stop, t0)
    return _run_points(payload, start, stop, t0)


def _run_points(payload: Payload, start: int, stop: int, t0: float) -> TaskResult:
    spec = SweepSpec(payload.base, payload.axes, payload.keep)
    n = stop - start
    status = np.ones(n, np.int8)
    data: dict[str, np.ndarray] = {}
    errors = []
    for k, i in enumerate(range(start, stop)):
        try:
            out = evaluate(_parse_point(spec, i), spec.keep)
        except HarmosyncError as e:
            status[k] = 2
            errors.append((i, str(e)))
            continue
        for name, v in out.items():
            if name not in data:
                data[name] = np.full((n,) + v.shape, np.nan)
            data[name][k] = v
    return TaskResult(start, stop, status, data, errors, time.perf_counter() - t0)


def _worker_init(parent: int) -> None:
    """Process-pool workers: leave Ctrl-C to the driver, and die with it (Linux) so that a
    SIGKILLed driver leaves no orphans computing points nobody will write."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            pass
    if os.getppid() != parent:
        os._exit(1)


# ==============================================================================================
# Layout of the results
# ==============================================================================================
@dataclass(frozen=True)
class VarSpec:
    name: str
    dims: tuple[str, ...]  # after "point"
    attrs: dict


def _data_names(keep: Keep) -> list[str]:
    names = list(keep.series)
    names += [f"{q}_{s}" for q in keep.summaries for s in keep.stats]
    names += [f"{q}_onset" for q in keep.onset]
    return names


def layout(spec: SweepSpec) -> tuple[list[VarSpec], dict[str, np.ndarray]]:
    """The per-point variables (besides ``status``) and the non-point coordinates."""
    from .observables import REGISTRY

    UNITS = {q: o.units for q, o in REGISTRY.items()}
    LONG_NAMES = {q: o.long_name for q, o in REGISTRY.items()}

    cfg = cfgmod.parse(spec.base)
    keep = spec.keep
    p = len(cfg.probes.frequencies)
    coords: dict[str, np.ndarray] = {}
    if keep.series:
        coords["time"] = cfg.time.grid()[:: keep.stride]
        if {"x", "p"} & set(keep.series):
            coords["probe"] = np.arange(1, p + 1)
        if "cov" in keep.series:
            coords["row"] = coords["col"] = np.arange(2 * p)
    if keep.summaries or keep.onset:
        coords["window"] = np.arange(len(keep.windows))
        coords["window_start"] = np.array([w[0] for w in keep.windows])
        coords["window_stop"] = np.array([w[1] for w in keep.windows])
    pair = np.array(cfg.sync.probes)
    out = []
    for q in keep.series:
        dims = {"x": ("time", "probe"), "p": ("time", "probe"), "cov": ("time", "row", "col")}.get(q, ("time",))
        attrs = {"units": UNITS.get(q, ""), "long_name": LONG_NAMES.get(q, q)}
        if q == "cov":
            from .conventions import phase_space_labels

            attrs["row_labels"] = " ".join(phase_space_labels(n=p))
        out.append(VarSpec(q, dims, attrs))
    for q in keep.summaries:
        for s in keep.stats:
            out.append(VarSpec(f"{q}_{s}", ("window",), {
                "units": UNITS.get(q, ""), "long_name": f"{s} over the window of {LONG_NAMES.get(q, q)}",
                "cell_methods": f"time: {'mean' if s == 'mean' else 'minimum' if s == 'min' else 'maximum'}"}))
    for q in keep.onset:
        hold = keep.onset_hold if keep.onset_hold is not None else "5 * sync.window"
        out.append(VarSpec(f"{q}_onset", ("window",), {
            "units": "1/[w]", "long_name": f"onset time of synchronization: first t with |{q}| >= "
                                           f"{keep.onset_threshold:g} on all of [t, t + hold]",
            "threshold": keep.onset_threshold, "hold": str(hold)}))
    for v in out:
        base_q = v.name if v.name in SERIES else v.name.rsplit("_", 1)[0]
        if base_q in PAIR_SERIES:
            v.attrs["probes"] = pair
        if base_q in C_VALUED and not v.name.endswith("_onset"):
            v.attrs["value_range"] = np.array([-1.0, 1.0])
    return out, coords


def _attrs(spec: SweepSpec) -> dict:
    from . import io

    h = spec.hashes()
    attrs = io.provenance(spec.marked_base)
    attrs.update({
        "title": TITLE,
        "sweep_format": SWEEP_FORMAT,
        "sweep_hash": h["all"], "sweep_hash_base": h["base"], "sweep_hash_axes": h["sweep"],
        "sweep_hash_keep": h["keep"],
        "sweep_json": json.dumps([{"path": a.path, "name": a.name, "values": list(a.values)} for a in spec.axes]),
        "keep_json": json.dumps(spec.keep.to_dict()),
        "sweep_axes": " ".join(a.name for a in spec.axes),
        "n_points": spec.size,
        "description": ("config_json is the base config; entries marked \"<swept>\" take the value of the "
                        "point's sweep coordinates (sweep_json gives their config paths). status: 0 not "
                        "computed, 1 computed, 2 failed (the point's config or network was refused)."),
    })
    return attrs


def _axis_attrs(a: Axis) -> dict:
    units = "1" if a.segments[1] == "sites" and a.segments[0] != "probes" else AXIS_UNITS.get(a.segments[1], "")
    return {"path": a.path, "units": units, "long_name": f"sweep axis {a.path}"}


def _status_attrs() -> dict:
    return {"flag_values": np.array([0, 1, 2], np.int8), "flag_meanings": "not_computed computed failed",
            "long_name": "status of the point"}


# ==============================================================================================
# The Zarr store
# ==============================================================================================
@dataclass
class StoreInfo:
    path: Path
    chunk: int
    status: np.ndarray  # (P,) int8
    created: bool


def _raw_dataset(spec: SweepSpec, chunk: int, full: Callable):
    """The flat (point, ...) Dataset with every value at its fill; ``full(shape, fill, dtype,
    chunks)`` makes the arrays (dask for a store template, numpy in memory)."""
    import xarray as xr

    vars_, coords = layout(spec)
    sizes = {k: len(v) for k, v in coords.items() if k in ("time", "probe", "row", "col", "window")}
    n = spec.size
    data = {}
    for v in vars_:
        shape = (n,) + tuple(sizes[d] for d in v.dims)
        data[v.name] = xr.Variable(("point",) + v.dims, full(shape, np.nan, np.float64, (chunk,) + shape[1:]),
                                   attrs=v.attrs)
    data["status"] = xr.Variable(("point",), full((n,), 0, np.int8, (chunk,)), attrs=_status_attrs())
    cvars = {}
    for k, v in coords.items():
        dim = "window" if k.startswith("window") else k
        attrs = {"units": "1/[w]"} if k in ("time", "window_start", "window_stop") else {}
        cvars[k] = xr.Variable((dim,), v, attrs=attrs)
    for i, a in enumerate(spec.axes):
        pos = np.unravel_index(np.arange(n), spec.shape)[i]
        attrs = _axis_attrs(a)
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in a.values):
            grid = np.asarray(a.values)[pos]
        else:  # strings/booleans: store the index (Zarr v3 has no stable string type); values in attrs
            grid = pos.astype(np.int64)
            attrs["values_json"] = json.dumps(list(a.values))
            attrs["long_name"] += " (index into values_json)"
        cvars[a.name] = xr.Variable(("point",), grid, attrs=attrs)
    ds = xr.Dataset(data, coords=cvars, attrs=_attrs(spec))
    ds.attrs["chunk_points"] = chunk
    return ds


def _is_store(path: Path) -> bool:
    try:
        import zarr

        return zarr.open_group(str(path), mode="r").attrs.get("title") == TITLE
    except Exception:  # noqa: BLE001 — anything unreadable is "not a sweep store"
        return False


def open_store(path, spec: SweepSpec, *, chunk: int | None, overwrite: bool = False,
               chunk_hint: Callable[[], int] | None = None) -> StoreInfo:
    """Create the store (if absent) or open it for resuming, refusing a store of another sweep.

    Creation is atomic: the store is built in a temporary directory beside ``path`` and renamed
    into place, so shards starting together agree on one store (the loser opens the winner's).
    """
    import zarr

    path = Path(path)
    if path.exists() and overwrite:
        if not _is_store(path):
            raise HarmosyncError(f"--overwrite replaces only a harmosync sweep store; {str(path)!r} is not one "
                                 "(remove it yourself if you mean it)")
        shutil.rmtree(path)
    created = False
    if not path.exists():
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.is_dir():
            raise HarmosyncError(f"cannot write {str(path)!r}: directory {str(parent)!r} does not exist")
        if not os.access(parent, os.W_OK):
            raise HarmosyncError(f"cannot write {str(path)!r}: directory {str(parent)!r} is not writable")
        chunk = chunk or (chunk_hint() if chunk_hint else 1)
        chunk = max(1, min(int(chunk), spec.size))
        tmp = parent / f".{path.name}.{os.getpid()}.creating"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            import dask.array as da

            def full(shape, fill, dtype, chunks):
                return da.full(shape, fill, dtype=dtype, chunks=chunks)

            ds = _raw_dataset(spec, chunk, full)
            enc = {v: {"chunks": ds[v].data.chunksize, "fill_value": ds[v].data.dtype.type(
                0 if v == "status" else np.nan)} for v in ds.data_vars}
            ds.to_zarr(str(tmp), mode="w-", compute=False, consolidated=False, encoding=enc)
            try:
                os.rename(tmp, path)
                created = True
            except OSError:  # another shard created it first
                pass
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    elif not path.is_dir() or not _is_store(path):
        raise HarmosyncError(f"output {str(path)!r} exists and is not a harmosync sweep store; choose another name")
    group = zarr.open_group(str(path), mode="r+")
    attrs = dict(group.attrs)
    from . import io

    if attrs.get("harmosync_version") != io.version():
        raise HarmosyncError(f"store {str(path)!r} was written by harmosync {attrs.get('harmosync_version')}, this "
                             f"is {io.version()}; finish it with that version or start a new store")
    h = spec.hashes()
    if attrs.get("sweep_hash") != h["all"]:
        parts = [t for t, k in (("the base config", "base"), ("[sweep]", "sweep"), ("[keep]", "keep"))
                 if attrs.get(f"sweep_hash_{'axes' if k == 'sweep' else k}") != h[k]]
        raise HarmosyncError(f"store {str(path)!r} holds a different sweep ({' and '.join(parts) or 'the config'} "
                             "differ); its points cannot be mixed with these — use another output or --overwrite")
    return StoreInfo(path, int(attrs["chunk_points"]), read_status(group["status"]), created)


def read_status(arr) -> np.ndarray:
    """The status array; a chunk that cannot be decoded (e.g. left empty by a power cut) counts as
    not computed, so its points are computed again."""
    try:
        return np.asarray(arr[:], dtype=np.int8)
    except Exception:  # noqa: BLE001
        n, c = arr.shape[0], arr.chunks[0]
        out = np.zeros(n, np.int8)
        for a in range(0, n, c):
            try:
                out[a:a + c] = arr[a:a + c]
            except Exception:  # noqa: BLE001
                pass
        return out


class _ZarrSink:
    """Writes finished tasks into the store: data first, then status (the commit marker)."""

    def __init__(self, path: Path):
        import zarr

        self.group = zarr.open_group(str(path), mode="r+")
        self.arrays: dict = {}

    def write(self, res: TaskResult) -> None:
        for name, v in res.data.items():
            arr = self.arrays.get(name) or self.arrays.setdefault(name, self.group[name])
            arr[res.start:res.stop] = v
        self.group["status"][res.start:res.stop] = res.status


class _MemorySink:
    def __init__(self, ds):
        self.ds = ds

    def write(self, res: TaskResult) -> None:
        for name, v in res.data.items():
            self.ds[name].values[res.start:res.stop] = v
        self.ds["status"].values[res.start:res.stop] = res.status


def to_grid(raw, *, spec_axes: list[dict] | None = None):
    """Flat (point, ...) Dataset → one dimension per sweep axis, axis values as coordinates
    (works on numpy- and dask-backed data)."""
    import xarray as xr

    axes = spec_axes if spec_axes is not None else json.loads(raw.attrs["sweep_json"])
    names = [a["name"] for a in axes]
    shape = tuple(len(a["values"]) for a in axes)
    data = {}
    for name, var in raw.data_vars.items():
        if var.dims and var.dims[0] == "point":
            data[name] = xr.Variable(tuple(names) + var.dims[1:], var.data.reshape(shape + var.shape[1:]), var.attrs)
        else:
            data[name] = var.variable
    coords = {}
    for k, c in raw.coords.items():
        if "point" not in c.dims:
            coords[k] = c.variable
    for a in axes:
        attrs = dict(raw[a["name"]].attrs) if a["name"] in raw.coords else {"path": a["path"]}
        attrs.pop("values_json", None)
        attrs["long_name"] = f"sweep axis {a['path']}"
        coords[a["name"]] = xr.Variable((a["name"],), np.asarray(a["values"]), attrs)
    if "row" in coords:
        labels = next((v.attrs["row_labels"].split() for v in data.values() if "row_labels" in v.attrs), None)
        if labels:
            coords["row"] = xr.Variable(("row",), np.array(labels))
            coords["col"] = xr.Variable(("col",), np.array(labels))
    return xr.Dataset(data, coords=coords, attrs=dict(raw.attrs))


def open_sweep(path, *, load: bool = True):
    """Open a sweep store (Zarr, or a NetCDF export) as the gridded Dataset: one dimension per
    sweep axis (coordinates = the axis values; attrs ``path`` = the config path), then ``time``
    /``window``/... . ``status`` says which points are computed (1), failed (2) or missing (0).
    """
    import xarray as xr

    path = Path(path)
    if not path.exists():
        raise HarmosyncError(f"{str(path)!r} does not exist")
    if path.is_dir():
        if not _is_store(path):
            raise HarmosyncError(f"{str(path)!r} is not a harmosync sweep store")
        raw = xr.open_zarr(str(path), consolidated=False)
        ds = to_grid(raw)
    else:
        try:
            ds = xr.open_dataset(path, engine="h5netcdf")
        except Exception as e:  # noqa: BLE001
            raise HarmosyncError(f"cannot read {str(path)!r} as NetCDF: {e}") from None
        if ds.attrs.get("title") != TITLE:
            raise HarmosyncError(f"{str(path)!r} is not a harmosync sweep export")
    return ds.load() if load else ds


def export_netcdf(store, out, *, overwrite: bool = False):
    """Write the gridded Dataset of ``store`` to NetCDF-4 atomically; refuses an incomplete store."""
    from . import io

    ds = open_sweep(store, load=False)
    missing = int((ds["status"] == 0).sum())
    if missing:
        raise HarmosyncError(f"store {str(store)!r} still has {missing} points not computed (other shards?); "
                             "finish them before exporting")
    io.write_netcdf(ds, out, overwrite=overwrite)
    return Path(out)


def point_config(ds, **coords) -> cfgmod.RunConfig:
    """The full config of one point of a sweep Dataset or store, selected by axis name = value:
    ``point_config(ds, probes_sites_2=150)`` — ready for :func:`harmosync.simulation.simulate`."""
    if isinstance(ds, (str, os.PathLike)):
        ds = open_sweep(ds, load=False)
    base = json.loads(ds.attrs["config_json"])
    d = base
    for a in json.loads(ds.attrs["sweep_json"]):
        if a["name"] not in coords:
            raise HarmosyncError(f"point_config: give a value for the axis {a['name']} ({a['path']})")
        v = coords.pop(a["name"])
        vals = list(a["values"])
        if v not in vals:
            raise HarmosyncError(f"point_config: {a['name']} = {v!r} is not on the axis; values: {vals[:5]}...")
        d = set_path(d, parse_path(a["path"]), v)
    if coords:
        raise HarmosyncError(f"point_config: unknown axes {sorted(coords)}")
    return cfgmod.parse(d)


# ==============================================================================================
# The runner
# ==============================================================================================
class SerialExecutor(cf.Executor):
    """Runs each task in the calling process when it is submitted (no pool, no pickling)."""

    def submit(self, fn, /, *args, **kwargs):
        fut: cf.Future = cf.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except Exception as e:  # noqa: BLE001 — delivered through the future, like a pool would
            fut.set_exception(e)
        return fut


def default_workers() -> int:
    """CPUs this process may use (sched_getaffinity, else os.cpu_count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def process_pool(workers: int) -> cf.ProcessPoolExecutor:
    """A local pool of ``workers`` processes, started with "spawn" (safe whatever threads the
    driver runs: tqdm, dask, Jupyter)."""
    import multiprocessing as mp
    import threading

    pool = cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"),
                                  initializer=_worker_init, initargs=(os.getpid(),))
    # Start the workers now, with SIGINT ignored: they inherit that through exec, so a Ctrl-C
    # (sent to the whole process group) is the driver's alone, even while workers start up.
    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        for _ in range(workers):
            pool.submit(int)
    finally:
        if main:
            signal.signal(signal.SIGINT, old)
    return pool


def _terminate(pool: cf.ProcessPoolExecutor) -> None:
    # Stop computing at once on Ctrl-C instead of waiting for running tasks (private attribute,
    # present in CPython 3.8+; best effort).
    for p in list(getattr(pool, "_processes", {}).values() or []):
        try:
            p.terminate()
        except Exception:  # noqa: BLE001
            pass
    pool.shutdown(wait=False, cancel_futures=True)


class WorkersLost(RuntimeError):
    pass


def _drive(executor, tasks, payload, sink, on_done, *, max_inflight: int, rebuild=None, max_restarts: int = 3):
    """The one runner loop: keep up to ``max_inflight`` tasks submitted, write each as it
    finishes. A broken local pool (a worker killed) is rebuilt and its tasks resubmitted;
    dask.distributed reschedules lost tasks itself. Returns the (possibly rebuilt) executor."""
    queue = deque(tasks)
    inflight: dict = {}
    restarts = 0
    try:
        while queue or inflight:
            while queue and len(inflight) < max_inflight:
                t = queue.popleft()
                inflight[executor.submit(run_task, payload, t[0], t[1])] = t
            done, _ = cf.wait(list(inflight), return_when=cf.FIRST_COMPLETED)
            for fut in done:
                task = inflight.pop(fut)
                try:
                    res = fut.result()
                except cf.BrokenExecutor:
                    if rebuild is None or restarts >= max_restarts:
                        raise WorkersLost("worker processes died repeatedly (out of memory?); the finished points "
                                          "are saved, run the same command again to resume") from None
                    restarts += 1
                    queue.extendleft(reversed([task] + list(inflight.values())))
                    inflight.clear()
                    executor = rebuild(executor)
                    break
                sink.write(res)
                on_done(res)
    except BaseException:
        for f in inflight:
            f.cancel()
        raise
    return executor


def _chunk_hint(spec: SweepSpec, first: cfgmod.RunConfig) -> Callable[[], int]:
    """Points per task (= Zarr chunk): about TARGET_TASK_SECONDS of work, timed on the first
    point with one BLAS thread; smaller if that leaves fewer than MIN_TASKS tasks, but never
    tasks under MIN_TASK_SECONDS (per-task overhead); at most MAX_CHUNK_BYTES of kept data."""

    def hint() -> int:
        from threadpoolctl import threadpool_limits

        t0 = time.perf_counter()
        try:
            with threadpool_limits(limits=1):
                out = evaluate(first, spec.keep)
            per = max(time.perf_counter() - t0, 1e-6)
            nbytes = sum(np.asarray(v).nbytes for v in out.values())
        except UnstableNetworkError:
            return max(1, min(math.ceil(spec.size / MIN_TASKS), 100))
        except HarmosyncError as e:
            raise HarmosyncError(f"sweep error: at {spec.describe(0)}: {e}") from None
        by_time = max(1, int(TARGET_TASK_SECONDS / per))
        by_count = max(1, math.ceil(spec.size / MIN_TASKS))
        floor = max(1, math.ceil(MIN_TASK_SECONDS / per))
        by_bytes = max(1, MAX_CHUNK_BYTES // max(nbytes, 1))
        return min(max(min(by_time, by_count), floor), by_bytes)

    return hint


def _parse_shard(shard) -> tuple[int, int] | None:
    if shard is None:
        return None
    if isinstance(shard, str):
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", shard)
        if not m:
            raise HarmosyncError(f"--shard {shard!r} must look like i/n, e.g. 3/10 (i from 1 to n)")
        shard = (int(m.group(1)), int(m.group(2)))
    i, n = shard
    if not (n >= 1 and 1 <= i <= n):
        raise HarmosyncError(f"--shard {i}/{n}: need 1 ≤ i ≤ n")
    return i, n


def run_sweep(base_config, axes: dict, *, keep, store=None, executor=None, workers: int | None = None,
              batch: int | None = None, shard=None, progress: bool = True, overwrite: bool = False,
              blas_threads: int | None = 1, log: Callable[[str], None] | None = None):
    """Run a Cartesian parameter sweep and return its gridded :class:`xarray.Dataset`.

    ``base_config``: a ``simulate`` config (dict as in the TOML, or a RunConfig). ``axes``:
    {path: spec}, path like ``"chain.g"``, ``"probes.sites[2]"`` (probe numbers from 1) or
    ``"probes.strengths[*]"`` (every probe), spec ``{"start", "stop", "step" | "num"}``
    (inclusive), ``{"values": [...]}`` or a list; optional ``"name"``. ``keep``: the [keep]
    table (see :class:`Keep`).

    ``store``: a Zarr directory, written as points finish; rerunning with the same arguments
    resumes (only missing points are computed); a store of a different sweep is refused.
    ``None`` keeps everything in memory. ``executor``: None (a local process pool of
    ``workers`` processes, default all CPUs), ``"serial"``, any concurrent.futures Executor, or a
    dask.distributed Client. ``batch``: points per task (= Zarr chunk; default ~2 s of work).
    ``shard``: ``(i, n)`` or ``"i/n"``: compute only tasks k with k mod n = i − 1 (job arrays).
    ``blas_threads``: BLAS threads per task (None: leave as is).
    Returns the Dataset (lazy, Zarr-backed, for a store; in memory otherwise).
    """
    from tqdm.auto import tqdm

    say = log if log is not None else (lambda s: print(s, file=sys.stderr))
    spec = build_spec(base_config, axes, keep)
    shard = _parse_shard(shard)
    if shard and store is None:
        raise HarmosyncError("--shard needs a store (-o OUT.zarr) that all shards write into")
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise HarmosyncError(f"batch = {batch!r} must be a whole number of points ≥ 1")
    first = validate(spec)
    hint = _chunk_hint(spec, first)
    if store is not None:
        info = open_store(store, spec, chunk=batch, overwrite=overwrite, chunk_hint=hint)
        chunk, status = info.chunk, info.status
        if batch is not None and batch != chunk and not info.created:
            say(f"note: {store} was created with {chunk} points per task; keeping that")
        sink: Any = _ZarrSink(info.path)
    else:
        chunk = batch or hint()
        ds_mem = _raw_dataset(spec, chunk, lambda shape, fill, dtype, chunks: np.full(shape, fill, dtype))
        status = ds_mem["status"].values
        sink = _MemorySink(ds_mem)
    n = spec.size
    tasks = []
    for k, a in enumerate(range(0, n, chunk)):
        b = min(a + chunk, n)
        if shard and k % shard[1] != shard[0] - 1:
            continue
        if np.any(status[a:b] == 0):
            tasks.append((a, b))
    todo = sum(b - a for a, b in tasks)
    mine = sum(min(a + chunk, n) - a for k, a in enumerate(range(0, n, chunk))
               if not shard or k % shard[1] == shard[0] - 1)
    where = f"shard {shard[0]}/{shard[1]} of " if shard else ""
    if store is not None and todo < mine:
        earlier = int(np.count_nonzero(status == 2))
        say(f"{where}{store}: {mine - todo} of {mine} points already done; computing the remaining {todo}"
            + (f" ({earlier} points failed earlier: status 2)" if earlier else ""))
    else:
        say(f"{where}{store if store is not None else 'sweep'}: computing {todo} points "
            f"({' × '.join(f'{a.size} {a.name}' for a in spec.axes)}) in {len(tasks)} tasks of up to {chunk}")

    payload = Payload(spec.base, spec.axes, spec.keep, blas_threads)
    own = None
    rebuild = None
    if executor is None or executor == "processes":
        nw = workers or default_workers()
        nw = max(1, min(nw, len(tasks)))
        if nw == 1 and executor is None:
            ex: Any = SerialExecutor()
        else:
            ex = own = process_pool(nw)

            def rebuild(old):
                nonlocal own
                _terminate(old)
                own = process_pool(nw)
                return own
        inflight = 1 if own is None else 2 * nw
    elif executor == "serial":
        ex, inflight = SerialExecutor(), 1
    elif hasattr(executor, "get_executor"):  # a dask.distributed Client
        ex = executor.get_executor(pure=False)
        nthreads = sum(executor.nthreads().values()) or 1
        inflight = 2 * nthreads
        say(f"dask: {len(executor.nthreads())} workers, {nthreads} threads; dashboard: {executor.dashboard_link}")
    elif isinstance(executor, cf.Executor):
        ex, inflight = executor, 2 * (getattr(executor, "_max_workers", None) or 8)
    else:
        raise HarmosyncError(f"executor = {executor!r}: give None, 'serial', 'processes', a concurrent.futures "
                             "Executor or a dask.distributed Client")

    failed: list = []
    # no bar in logs: a redirected stderr would collect every refresh as a line
    bar = tqdm(total=todo, unit="pt", desc="sweep", disable=not progress or todo == 0 or not sys.stderr.isatty(),
               dynamic_ncols=True,
               smoothing=0.1)
    t0 = time.perf_counter()

    def on_done(res: TaskResult):
        failed.extend(res.errors)
        bar.update(res.stop - res.start)
        if failed:
            bar.set_postfix(failed=len(failed), refresh=False)

    try:
        if tasks:
            _drive(ex, tasks, payload, sink, on_done, max_inflight=inflight, rebuild=rebuild)
    except KeyboardInterrupt:
        bar.close()
        if own is not None:
            _terminate(own)
            own = None
        if store is not None:
            import zarr

            st = read_status(zarr.open_group(str(store), mode="r")["status"])
            say(f"interrupted: {int(np.count_nonzero(st))} of {n} points are saved in {store}; "
                "run the same command again to resume")
        raise
    finally:
        bar.close()
        if own is not None:
            own.shutdown(wait=True, cancel_futures=True)
    dt = time.perf_counter() - t0
    if todo:
        say(f"done: {todo} points in {dt:.1f} s ({todo / dt:.3g} points/s)" + (f"; wrote {store}" if store else ""))
    if failed:
        i, msg = failed[0]
        say(f"warning: {len(failed)} points failed (status 2, values NaN); first at {spec.describe(i)}: {msg}")
    if store is not None:
        return open_sweep(store, load=False)
    return to_grid(ds_mem)


def run_toml(path, **kwargs):
    """:func:`run_sweep` on a sweep TOML file (base config + [sweep] + [keep])."""
    base, axes, keep = load_toml(path)
    return run_sweep(base, axes, keep=keep, **kwargs)
