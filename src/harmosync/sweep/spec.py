"""What a sweep is: paths into the config, axes and their values, the validated grid.

An axis is a path into the config (:mod:`harmosync.config_paths`, the grammar
:func:`harmosync.config.replace` also reads): ``table.key`` followed, for list entries, by entry
numbers from 1 (for ``[probes]`` lists the probe number) or ``[*]`` for every entry:
``"chain.g"``, ``"probes.sites[2]"``, ``"probes.strengths[*]"``, ``"graph.edges[3][2]"``,
``"baths[1].rate"`` (arrays of tables are numbered from 1 too).

:func:`build_spec` turns a base config, the ``[sweep]`` axes and the ``[keep]`` table into a
:class:`SweepSpec` (cheap: no dynamics); :func:`validate` checks the grid's points before
anything runs.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import config as cfgmod
from .. import config_paths as cpaths
from ..config_paths import NAME, is_key, set_path
from ..errors import HarmosyncError, UnstableNetworkError, suggest
from .keep import Keep, parse_keep
from .point import check_point

AXIS_KEYS = ("start", "stop", "step", "num", "values", "name")
AXIS_UNITS = {  # by config key; shown on plots and stored as the coordinate's units
    "sites": "site number (1..M)",  # probes.sites; chain.sites (M) is a count, see axis_units
    "strengths": "[w]^2", "frequencies": "[w]", "coupling": "[w]^2",
    "omega0": "[w]", "g": "[w]^2", "temperature": "[w]", "disorder": "1", "seed": "1", "x": "[w]^(-1/2)",
    "p": "[w]^(1/2)", "squeezing": "1", "squeezing_angle": "rad", "start": "1/[w]", "stop": "1/[w]",
    "step": "1/[w]", "window": "1/[w]", "delay": "1/[w]", "onsite_frequencies": "[w]",
    "probes": "probe number (1..P)",  # sync.probes
    "rate": "[w]", "occupation": "1", "frequency": "[w]", "weights": "1",  # [[baths]]
}
#: Config keys with no one unit: a word (boundary, a bath's kind), a switch (common), or entries of mixed units ([j, k, A_jk], means, covariances).
NO_UNITS = ("boundary", "edges", "mean", "covariance", "kind", "common")
#: Names an axis may not take: the output's dimensions and coordinates (besides the keep's variables).
RESERVED = ("point", "time", "probe", "row", "col", "interval", "interval_start", "interval_stop", "status")
MAX_FULL_VALIDATION = 20_000  # grids up to this size have every point validated up front
MAX_CORNERS = 64
SWEPT = "<swept>"


# ----------------------------------------------------------------------------------------------
# Paths into the config
# ----------------------------------------------------------------------------------------------
def path_segments(path: str) -> tuple:
    """The grammar alone (:func:`harmosync.config_paths.path_segments`), errors as sweep errors:
    ``"probes.sites[2]"`` → ``("probes", "sites", 1)``."""
    return cpaths.path_segments(path, what="sweep error")


def parse_path(path: str) -> tuple:
    """``"probes.sites[2]"`` → ``("probes", "sites", 1)``, checking the table and key names
    against the config schema (:func:`harmosync.config_paths.parse_path`)."""
    return cpaths.parse_path(path, cfgmod.RunConfig, what="sweep error")


def _table_fields(table: str) -> list[str]:
    return cpaths.table_fields(cfgmod.RunConfig, table)


def axis_units(segments: tuple) -> str:
    """Units of the config entry at ``segments`` (AXIS_UNITS by key; ``chain.sites`` is a count)."""
    key = [s for s in segments if is_key(s)][-1]
    if key == "sites" and segments[0] not in ("probes", "baths"):
        return "1"
    return AXIS_UNITS.get(key, "")


def safe_name(path: str) -> str:
    """A NetCDF/Zarr-safe variable name: ``probes.sites[2]`` → ``probes_sites_2``,
    ``probes.strengths[*]`` → ``probes_strengths_all``."""
    s = path.replace("[*]", "_all")
    return re.sub(r"_+", "_", re.sub(r"[^0-9A-Za-z_]", "_", s)).strip("_")


# ----------------------------------------------------------------------------------------------
# Axes
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Axis:
    """One sweep axis: ``path`` as the user wrote it, ``name`` (a safe variable name),
    ``segments`` (see :func:`path_segments`) and its ``values``."""

    path: str
    name: str
    segments: tuple
    values: tuple

    @property
    def size(self) -> int:
        return len(self.values)

    @property
    def units(self) -> str:
        return axis_units(self.segments)


#: the most values one axis may have (a range beyond it is refused before anything is built)
MAX_AXIS_VALUES = 10**7


def axis_values(path: str, spec) -> tuple[tuple, str | None]:
    """Values of one axis from ``{start, stop, step|num}``, ``{values}`` or a plain list, and
    its ``name`` if given. Ranges are inclusive."""
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
    if name is not None and (not isinstance(name, str) or not re.fullmatch(NAME, name)):
        raise HarmosyncError(f"sweep error: '{path}': name = {name!r} must be an identifier like \"m\" or \"K\"")
    if "values" in spec:
        return _listed_values(path, spec), name
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
        if num > MAX_AXIS_VALUES:
            raise HarmosyncError(f"sweep error: '{path}': num = {num} values is too many (at most "
                                 f"{MAX_AXIS_VALUES:.0e}); use a smaller num")
        vals = np.linspace(start, stop, num)
        if isinstance(start, int) and isinstance(stop, int) and np.all(vals == np.round(vals)):
            return tuple(int(v) for v in np.round(vals)), name
        return _tidy(vals.tolist()), name
    if "step" not in spec and not all(isinstance(v, int) for v in (start, stop)):
        raise HarmosyncError(f"sweep error: '{path}': the range {start}..{stop} is not whole numbers; "
                             "give step or num (step 1 is the default only for whole-number ranges)")
    step = spec.get("step", 1)  # { start, stop } alone: every whole step, e.g. sites 1..300
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not step > 0 or not math.isfinite(step):
        raise HarmosyncError(f"sweep error: '{path}': step = {step!r} must be a positive number")
    n = int(math.floor((stop - start) / step + 1e-9)) + 1
    if n > MAX_AXIS_VALUES:
        raise HarmosyncError(f"sweep error: '{path}': {n} values is too many; use a larger step")
    if all(isinstance(v, int) for v in (start, stop, step)):
        return tuple(start + step * k for k in range(n)), name
    return _tidy([start + step * k for k in range(n)]), name


def _tidy(vals: list) -> tuple:
    """The values to 12 significant digits (0.15, not 0.15000000000000002, so that
    ds.sel(K=0.15) works), or to 15 or 17 where 12 would merge neighbours; a range finer than
    that (neighbours one double apart) is refused."""
    for digits in (12, 15, 17):
        out = tuple(float(f"{v:.{digits}g}") for v in vals)
        if len(set(out)) == len(out):
            return out
    raise HarmosyncError(f"sweep error: a range from {vals[0]!r} to {vals[-1]!r} with {len(vals)} values is finer "
                         "than double precision (values repeat); use fewer values or a wider range")


def _listed_values(path: str, spec: dict) -> tuple:
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
    return _unify(tuple(vals))


def _unify(vals: tuple) -> tuple:
    """Ints become floats on an axis that has a float, so 1 and 1.0 hash alike."""
    if any(isinstance(v, float) for v in vals) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                         for v in vals):
        return tuple(float(v) for v in vals)
    return vals


# ----------------------------------------------------------------------------------------------
# The sweep specification
# ----------------------------------------------------------------------------------------------
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
        """The point's validated config (the tables its axes touch validated anew, the rest
        the base's: :func:`harmosync.config.parse_update`); a refused one names the point."""
        try:
            return cfgmod.parse_update(self.base_config, self.point_dict(index), self.tables)
        except HarmosyncError as e:
            raise HarmosyncError(f"sweep error: at {self.describe(index)}: {e}") from None

    @functools.cached_property
    def base_config(self) -> cfgmod.RunConfig:
        return cfgmod.parse(self.base)

    @functools.cached_property
    def tables(self) -> tuple[str, ...]:
        """The top-level config tables the axes set values in."""
        return tuple(dict.fromkeys(a.segments[0] for a in self.axes))

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
        cpaths.check_target(base, path, segs, what="sweep error")
        values, name = axis_values(path, spec)
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
    reserved = set(RESERVED) | set(keep.variable_names())
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
    """Read a sweep config: (base config dict, [sweep] table, [keep] table). UTF-8, a
    byte-order mark allowed, as for ``simulate``."""
    data = cfgmod.read_toml(path)
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
        idx = sorted(lines | set(corners(spec)))
    for i in idx:
        spec.point_config(i)
    for i in corners(spec):
        try:
            check_point(spec.point_config(i), spec.keep)
        except UnstableNetworkError:
            continue
        except HarmosyncError as e:
            raise HarmosyncError(f"sweep error: at {spec.describe(i)}: {e}") from None
    return spec.point_config(0)


def corners(spec: SweepSpec) -> list[int]:
    """Flat indices of the grid's corners (at most MAX_CORNERS of them, and the last point)."""
    choices = [sorted({0, a.size - 1}) for a in spec.axes]
    out = [int(np.ravel_multi_index(c, spec.shape)) for c in itertools.islice(itertools.product(*choices), MAX_CORNERS)]
    return sorted(set(out) | {spec.size - 1})
