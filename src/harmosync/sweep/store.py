"""The results of a sweep: their layout, the Zarr store, and the gridded Dataset.

The raw store has one ``point`` dimension (the grid in C order), chunked by task, so two
writers (tasks, shards) never touch the same chunk; ``status`` (0 missing, 1 done, 2 failed) is
written after a chunk's data and is the commit marker. A complete store (no point missing) has
its metadata consolidated (:func:`consolidate_if_complete`), so ``xarray.open_zarr`` opens it
without a warning. :func:`open_sweep` returns the gridded
Dataset: one dimension per axis, then ``time``, ``probe``, ``row``/``col``, ``interval``.

Store format 2 names the summary intervals' dimension ``interval`` (coordinates
``interval_start``, ``interval_stop``) and carries units on every axis; format 1 called it
``window``. A format-1 store has the same arrays, so it is resumed as it is, and read (by
:func:`open_sweep`) as format 2.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import config as cfgmod
from ..errors import HarmosyncError
from ..observables import REGISTRY, TIME_UNITS, series_of
from .spec import Axis, SweepSpec, axis_units, parse_path, set_path

SWEEP_FORMAT = 2
READABLE_FORMATS = (1, 2)
TITLE = "harmosync sweep"
#: Format 1 → 2: the summary intervals' dimension and coordinates.
RENAMED_IN_FORMAT_2 = {"window": "interval", "window_start": "interval_start", "window_stop": "interval_stop"}


# ----------------------------------------------------------------------------------------------
# Layout
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VarSpec:
    name: str
    dims: tuple[str, ...]  # after "point"
    attrs: dict


def store_layout(spec: SweepSpec) -> tuple[list[VarSpec], dict[str, np.ndarray]]:
    """The per-point variables (besides ``status``) and the non-point coordinates."""
    cfg = cfgmod.parse(spec.base)
    keep = spec.keep
    p = len(cfg.probes.frequencies)
    coords: dict[str, np.ndarray] = {}
    if keep.series:
        coords["time"] = cfg.time.grid()[:: keep.stride]
        if {"x", "p"} & set(keep.series):
            coords["probe"] = np.arange(1, p + 1)
        if any("probe_a" in REGISTRY[q].dims for q in keep.series):
            coords["probe_a"] = coords["probe_b"] = np.arange(1, p + 1)
        if "cov" in keep.series:
            coords["row"] = coords["col"] = np.arange(2 * p)
    if keep.summaries or keep.onset:
        coords["interval"] = np.arange(len(keep.windows))
        coords["interval_start"] = np.array([w[0] for w in keep.windows])
        coords["interval_stop"] = np.array([w[1] for w in keep.windows])
    pair = np.array(cfg.sync.probes)
    out = []
    for q in keep.series:
        dims = ("time", *REGISTRY[q].dims)
        attrs = {"units": REGISTRY[q].units, "long_name": REGISTRY[q].long_name}
        if q == "cov":
            from ..conventions import phase_space_labels

            attrs["row_labels"] = " ".join(phase_space_labels(n=p))
        out.append(VarSpec(q, dims, attrs))
    for q in keep.summaries:
        for s in keep.stats:
            out.append(VarSpec(f"{q}_{s}", ("interval",), {
                "units": REGISTRY[q].units, "long_name": f"{s} over the interval of {REGISTRY[q].long_name}",
                "cell_methods": f"time: {'mean' if s == 'mean' else 'minimum' if s == 'min' else 'maximum'}"}))
    for q in keep.onset:
        hold = keep.onset_hold if keep.onset_hold is not None else "5 * sync.window"
        out.append(VarSpec(f"{q}_onset", ("interval",), {
            "units": TIME_UNITS, "long_name": f"onset time of synchronization: first t with |{q}| >= "
                                           f"{keep.onset_threshold:g} on all of [t, t + hold]",
            "threshold": keep.onset_threshold, "hold": str(hold)}))
    for v in out:
        base_q, how = series_of(v.name)
        if REGISTRY[base_q].probes == "pair":  # as in simulate's file (Observable.attrs)
            v.attrs["probes"] = pair
        if REGISTRY[base_q].bounded and how != "onset":
            v.attrs["value_range"] = np.array([-1.0, 1.0])
    return out, coords


def _attrs(spec: SweepSpec) -> dict:
    from .. import io

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
                        "computed, 1 computed, 2 failed (the point's config or network was refused). "
                        "interval: the [keep] summary intervals (interval_start, interval_stop)."),
    })
    return attrs


def _axis_attrs(a: Axis) -> dict:
    return {"path": a.path, "units": a.units, "long_name": f"sweep axis {a.path}"}


def _status_attrs() -> dict:
    return {"flag_values": np.array([0, 1, 2], np.int8), "flag_meanings": "not_computed computed failed",
            "long_name": "status of the point"}


def raw_dataset(spec: SweepSpec, chunk: int, full: Callable):
    """The flat (point, ...) Dataset with every value at its fill; ``full(shape, fill, dtype,
    chunks)`` makes the arrays (dask for a store template, numpy in memory)."""
    import xarray as xr

    vars_, coords = store_layout(spec)
    sizes = {k: len(v) for k, v in coords.items() if k in ("time", "probe", "probe_a", "probe_b", "row", "col", "interval")}
    n = spec.size
    data = {}
    for v in vars_:
        shape = (n,) + tuple(sizes[d] for d in v.dims)
        data[v.name] = xr.Variable(("point",) + v.dims, full(shape, np.nan, np.float64, (chunk,) + shape[1:]),
                                   attrs=v.attrs)
    data["status"] = xr.Variable(("point",), full((n,), 0, np.int8, (chunk,)), attrs=_status_attrs())
    cvars = {}
    for k, v in coords.items():
        dim = "interval" if k.startswith("interval") else k
        attrs = {"units": "1/[w]"} if k in ("time", "interval_start", "interval_stop") else {}
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


def upgrade(ds):
    """A Dataset (raw or gridded) of store format 1 read as format 2: the ``window`` dimension
    and coordinates renamed to ``interval``, units on the axes. Later formats pass unchanged."""
    if ds.attrs.get("sweep_format") != 1:
        return ds
    ds = ds.rename({k: v for k, v in RENAMED_IN_FORMAT_2.items() if k in ds.variables or k in ds.dims})
    for a in json.loads(ds.attrs["sweep_json"]):
        if a["name"] in ds.coords:
            ds[a["name"]].attrs["units"] = axis_units(parse_path(a["path"]))
    ds.attrs["sweep_format"] = SWEEP_FORMAT
    return ds


# ----------------------------------------------------------------------------------------------
# The Zarr store
# ----------------------------------------------------------------------------------------------
@dataclass
class StoreInfo:
    path: Path
    chunk: int
    status: np.ndarray  # (P,) int8
    created: bool


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
    replace = path.exists() and overwrite
    if replace and not _is_store(path):
        raise HarmosyncError(f"--overwrite replaces only a harmosync sweep store; {str(path)!r} is not one "
                             "(remove it yourself if you mean it)")
    if replace or not path.exists():
        chunk = chunk or (chunk_hint() if chunk_hint else 1)  # may refuse the sweep: the old store stays
    if replace:
        shutil.rmtree(path)
    created = False
    if not path.exists():
        created = _create(path, spec, chunk)
    elif not path.is_dir() or not _is_store(path):
        raise HarmosyncError(f"output {str(path)!r} exists and is not a harmosync sweep store; choose another name")
    group = zarr.open_group(str(path), mode="r+")
    attrs = dict(group.attrs)
    _check_resumable(path, attrs, spec)
    status = read_status(group["status"])
    if not created:
        for a in empty_chunks(path, group):  # data a power cut left empty: compute those points again
            status[a:a + int(attrs["chunk_points"])] = 0
    return StoreInfo(path, int(attrs["chunk_points"]), status, created)


def check_writable(path: Path) -> Path:
    """The directory a new store ``path`` goes in, refused unless it exists and is writable."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise HarmosyncError(f"cannot write {str(path)!r}: directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise HarmosyncError(f"cannot write {str(path)!r}: directory {str(parent)!r} is not writable")
    return parent


def store_chunk(spec: SweepSpec, chunk: int) -> int:
    """Points per task (= Zarr chunk) of a new store asked to have ``chunk``: 1 to the grid's size."""
    return max(1, min(int(chunk), spec.size))


def _create(path: Path, spec: SweepSpec, chunk: int) -> bool:
    """Write the store's template (every value at its fill) beside ``path`` and rename it into
    place. False if another shard created it first."""
    parent = check_writable(path)
    chunk = store_chunk(spec, chunk)
    tmp = parent / f".{path.name}.{os.getpid()}.creating"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        import dask.array as da

        def full(shape, fill, dtype, chunks):
            return da.full(shape, fill, dtype=dtype, chunks=chunks)

        ds = raw_dataset(spec, chunk, full)
        enc = {v: {"chunks": ds[v].data.chunksize, "fill_value": ds[v].data.dtype.type(
            0 if v == "status" else np.nan)} for v in ds.data_vars}
        ds.to_zarr(str(tmp), mode="w-", compute=False, consolidated=False, encoding=enc)
        try:
            os.rename(tmp, path)
            return True
        except OSError:  # another shard created it first
            return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _check_resumable(path: Path, attrs: dict, spec: SweepSpec) -> None:
    """Same harmosync version, a format this code writes into, the same sweep."""
    from .. import io

    if attrs.get("harmosync_version") != io.version():
        raise HarmosyncError(f"store {str(path)!r} was written by harmosync {attrs.get('harmosync_version')}, this "
                             f"is {io.version()}; finish it with that version or start a new store")
    fmt = attrs.get("sweep_format")
    if fmt not in READABLE_FORMATS:  # format 1 differs only in a dimension's name: its arrays are ours
        raise HarmosyncError(f"store {str(path)!r} has sweep format {fmt}, this harmosync writes formats "
                             f"{', '.join(map(str, READABLE_FORMATS))}; finish it with the harmosync that wrote it, "
                             "or start afresh with --overwrite")
    h = spec.hashes()
    if attrs.get("sweep_hash") != h["all"]:
        parts = [t for t, k in (("the base config", "base"), ("[sweep]", "sweep"), ("[keep]", "keep"))
                 if attrs.get(f"sweep_hash_{'axes' if k == 'sweep' else k}") != h[k]]
        raise HarmosyncError(f"store {str(path)!r} holds a different sweep ({' and '.join(parts) or 'the config'} "
                             "differ); its points cannot be mixed with these — use another output or --overwrite")


#: the status codes a point can have (module docstring)
STATUS_CODES = (0, 1, 2)


def read_status(arr) -> np.ndarray:
    """The status array; a chunk that cannot be decoded (e.g. left empty by a power cut), or that
    decodes to codes other than 0, 1, 2 (corrupted), counts as not computed, so its points are
    computed again (and the chunk rewritten)."""
    n, c = arr.shape[0], arr.chunks[0]
    try:
        out = np.asarray(arr[:], dtype=np.int8)
    except Exception:  # noqa: BLE001
        out = np.zeros(n, np.int8)
        for a in range(0, n, c):
            try:
                out[a:a + c] = arr[a:a + c]
            except Exception:  # noqa: BLE001
                pass
    for a in range(0, n, c):
        if not np.isin(out[a:a + c], STATUS_CODES).all():
            out[a:a + c] = 0
    return out


METADATA_FILES = ("zarr.json", ".zarray", ".zattrs", ".zgroup", ".zmetadata")


def empty_chunks(path: Path, group) -> list[int]:
    """First points of the chunks (along ``point``) that some data array holds as an empty file:
    zarr renames a chunk into place without fsync, so after a power cut a chunk can be empty
    while the status chunk written after it says done. Such points are not computed."""
    firsts = set()
    for name, arr in group.arrays():
        dims = getattr(arr.metadata, "dimension_names", None) or arr.attrs.get("_ARRAY_DIMENSIONS") or ()
        if name == "status" or not dims or dims[0] != "point":
            continue
        root = path / name
        for f in root.rglob("*"):
            if f.name in METADATA_FILES or not f.is_file() or f.stat().st_size:
                continue
            rel = f.relative_to(root).parts
            key = rel[1:] if rel[0] == "c" else re.split(r"[./]", "/".join(rel))
            if key and key[0].isdigit():
                firsts.add(int(key[0]) * arr.chunks[0])
    return sorted(firsts)


def consolidate_if_complete(path) -> bool:
    """Consolidate the store's metadata once no point is missing (status 0 nowhere), so that
    ``xarray.open_zarr`` reads it in one request and without a warning. The data chunks are
    not touched: a consolidated store still opens and resumes as before. True if consolidated."""
    import zarr

    group = zarr.open_group(str(path), mode="r")
    if np.any(read_status(group["status"]) == 0):
        return False
    with warnings.catch_warnings():  # zarr notes that format 3 has no standard for it yet; xarray reads it
        warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")
        zarr.consolidate_metadata(str(path))
    return True


#: ZarrSink writes finished tasks at most this often [s] (the first at once) ...
SAVE_SECONDS = 1.0
#: ... or as soon as the pending ones hold this much data [bytes]
SAVE_BYTES = 64 * 2**20


class ZarrSink:
    """Writes finished tasks (``start``, ``stop``, ``data``, ``status``) into the store: data
    first, then status (the commit marker). A task is written at once if the last write is
    SAVE_SECONDS old, else with the tasks that finish until then, each run of neighbouring
    tasks in one write per array (a write costs the driver ~1 ms of zarr overhead, a tenth of a
    fast task's computing). :meth:`flush` writes what is pending; the runner calls it at the
    end, on Ctrl-C and on any error, so only a killed driver loses finished tasks: at most
    SAVE_SECONDS of them, computed again on resume."""

    def __init__(self, path: Path):
        import zarr

        self.group = zarr.open_group(str(path), mode="r+")
        self.arrays: dict = {}
        self.pending: list = []
        self.written = -math.inf  # time.monotonic() of the last write

    def _array(self, name: str):
        arr = self.arrays.get(name)
        if arr is None:  # opened once: each opening reads the array's metadata
            arr = self.arrays[name] = self.group[name]
        return arr

    def write(self, res) -> None:
        self.pending.append(res)
        if (time.monotonic() - self.written >= SAVE_SECONDS
                or sum(v.nbytes for r in self.pending for v in r.data.values()) >= SAVE_BYTES):
            self.flush()
            self.written = time.monotonic()

    def flush(self) -> None:
        """Write the pending tasks: each run of neighbouring ones, data then status."""
        pending = sorted(self.pending, key=lambda r: r.start)
        while pending:
            k = 1
            while k < len(pending) and pending[k].start == pending[k - 1].stop and \
                    pending[k].data.keys() == pending[0].data.keys():
                k += 1
            run, pending = pending[:k], pending[k:]
            a, b = run[0].start, run[-1].stop
            for name in run[0].data:
                self._array(name)[a:b] = np.concatenate([r.data[name] for r in run]) if k > 1 else run[0].data[name]
            self._array("status")[a:b] = np.concatenate([r.status for r in run]) if k > 1 else run[0].status
            self.pending = pending
        self.pending = []


class MemorySink:
    """Writes finished tasks into an in-memory raw Dataset (see :func:`raw_dataset`)."""

    def __init__(self, ds):
        self.ds = ds

    def flush(self) -> None:
        pass

    def write(self, res) -> None:
        for name, v in res.data.items():
            self.ds[name].values[res.start:res.stop] = v
        self.ds["status"].values[res.start:res.stop] = res.status


# ----------------------------------------------------------------------------------------------
# The gridded Dataset
# ----------------------------------------------------------------------------------------------
def to_grid(raw, *, spec_axes: list[dict] | None = None):
    """Flat (point, ...) Dataset → one dimension per sweep axis, axis values as coordinates
    (works on numpy- and dask-backed data)."""
    import xarray as xr

    axes = spec_axes if spec_axes is not None else json.loads(raw.attrs["sweep_json"])
    names = [a["name"] for a in axes]
    shape = tuple(len(a["values"]) for a in axes)
    data = {}
    with _local_rechunks():
        for name, var in raw.data_vars.items():
            if var.dims and var.dims[0] == "point":
                data[name] = xr.Variable(tuple(names) + var.dims[1:], var.data.reshape(shape + var.shape[1:]),
                                         var.attrs)
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


def _local_rechunks():
    """dask's reshape of a lazy store rechunks, and asks dask.distributed for a client to pick
    the method, importing it (~0.4 s, a tenth of a 10,000-point sweep) even when nothing uses
    it. Without distributed imported there is no client: the method is "tasks" either way, so
    say so then. A context manager (a no-op once distributed is imported)."""
    import contextlib
    import sys

    if "distributed" in sys.modules or "dask" not in sys.modules:
        return contextlib.nullcontext()
    import dask

    return dask.config.set({"array.rechunk.method": dask.config.get("array.rechunk.method", None) or "tasks"})


def open_sweep(path, *, load: bool = True):
    """Open a sweep store (Zarr, or a NetCDF export) as the gridded Dataset: one dimension per
    sweep axis (coordinates = the axis values; attrs ``path`` = the config path, ``units``),
    then ``time``/``interval``/... . ``status`` says which points are computed (1), failed (2)
    or missing (0). A store of format 1 is read as format 2 (see :func:`upgrade`).
    """
    import xarray as xr

    path = Path(path)
    if not path.exists():
        raise HarmosyncError(f"{str(path)!r} does not exist")
    if path.is_dir():
        if not _is_store(path):
            raise HarmosyncError(f"{str(path)!r} is not a harmosync sweep store")
        raw = xr.open_zarr(str(path), consolidated=False)
        _check_readable(path, raw.attrs)
        ds = to_grid(upgrade(raw))
    else:
        try:
            ds = xr.open_dataset(path, engine="h5netcdf")
        except Exception as e:  # noqa: BLE001
            raise HarmosyncError(f"cannot read {str(path)!r} as NetCDF: {e}") from None
        if ds.attrs.get("title") != TITLE:
            raise HarmosyncError(f"{str(path)!r} is not a harmosync sweep export")
        _check_readable(path, ds.attrs)
        ds = upgrade(ds)
    return ds.load() if load else ds


def _check_readable(path: Path, attrs) -> None:
    fmt = attrs.get("sweep_format")
    if fmt not in READABLE_FORMATS:
        raise HarmosyncError(f"{str(path)!r} has sweep format {fmt}; this harmosync reads formats "
                             f"{', '.join(map(str, READABLE_FORMATS))} — read it with the harmosync that wrote it")


def export_netcdf(store, out, *, overwrite: bool = False):
    """Write the gridded Dataset of ``store`` to NetCDF-4 atomically; refuses an incomplete store."""
    from .. import io

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
