"""The public file format (NetCDF-4, read with xarray) and safe, atomic writes.

Layout (see README, "Output files"): coordinates ``time``, ``probe`` (1..P), ``row``/``col``
(``x1, p1, x2, p2, ...``); variables ``x``, ``p`` (time, probe), ``cov`` (time, row, col),
``sync``, ``sync_variance``, ``mutual_information``, ``log_negativity`` (time) and more; global
attributes: every input parameter (``config_json`` and flattened ``<table>.<key>``), the
conventions (``convention.*``), the harmosync version.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import observables as obs
from .conventions import CONVENTIONS, phase_space_labels
from .errors import HarmosyncError

def version() -> str:
    from . import __version__

    return __version__


def flatten(d: dict, prefix: str = "") -> dict:
    """Nested dict → {"table.key": scalar-or-list} with values netCDF can store."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        elif isinstance(v, bool):
            out[key] = int(v)
        elif isinstance(v, (int, float, str)):
            out[key] = v
        elif isinstance(v, (list, tuple)):
            # whole numbers stay whole (site numbers, probe pairs); a list with a float is float
            whole = all(isinstance(x, int) and not isinstance(x, bool) for x in v)
            try:
                arr = np.asarray(v, dtype=np.int64 if whole else float)
                out[key] = arr.ravel() if arr.ndim <= 1 else json.dumps(v)
            except (TypeError, ValueError, OverflowError):
                out[key] = json.dumps(v)
    return out


def provenance(config_dict: dict) -> dict:
    attrs = {"harmosync_version": version(), "config_json": json.dumps(config_dict, sort_keys=True)}
    attrs.update(flatten(config_dict))
    attrs.update({f"convention.{k}": v for k, v in CONVENTIONS.items()})
    return attrs


@dataclass(frozen=True, eq=False)
class Layout:
    """The public layout as plain arrays: ``name -> (dims, values, attrs)`` for coordinates and
    data variables, plus global attributes. :func:`to_dataset` wraps it in xarray; :func:`write`
    writes it with h5netcdf directly, so that ``harmosync simulate`` imports neither xarray nor
    pandas nor dask (half of its run time was their import)."""

    coords: dict
    data_vars: dict
    attrs: dict


def layout(result) -> Layout:
    """RunResult → :class:`Layout` (README, "Output files")."""
    p = result.mean.shape[1] // 2
    labels = np.array(phase_space_labels(n=p))

    cfg = result.config

    def var(name, values):
        o = obs.get(name)
        attrs = {"units": o.units, "long_name": o.long_name,
                 **o.attrs(cfg.sync.probes, cfg.sync.window, cfg.sync.delay)}
        return (o.dims if o.steady else ("time", *o.dims), np.asarray(values), attrs)

    coords = {
        "time": (("time",), np.asarray(result.times), {"units": obs.TIME_UNITS, "long_name": "time"}),
        "probe": (("probe",), np.arange(1, p + 1), {}),
        **{d: ((d,), np.arange(1, p + 1), {"long_name": f"probe number ({d[-1]} of the pair)"})
           for d in ("probe_a", "probe_b") if any(d in obs.get(q).dims for q in result.series)},
        "row": (("row",), labels, {}),
        "col": (("col",), labels, {}),
    }
    data = {"x": var("x", result.mean[:, 0::2]), "p": var("p", result.mean[:, 1::2]),
            "cov": var("cov", result.cov)}
    for name, arr in result.series.items():
        data[name] = var(name, arr)
    attrs = provenance(cfg.to_dict())
    attrs.update({f"result.{k}": v for k, v in result.info.items()})
    attrs["title"] = "harmosync simulate"
    return Layout(coords, data, attrs)


def to_dataset(result):
    """RunResult → xarray.Dataset with the public layout."""
    import xarray as xr

    lay = layout(result)
    variables = lambda d: {k: xr.Variable(dims, v, attrs) for k, (dims, v, attrs) in d.items()}  # noqa: E731
    return xr.Dataset(variables(lay.data_vars), coords=variables(lay.coords), attrs=lay.attrs)


def write(result, path, *, overwrite: bool = False) -> Path:
    """Write a RunResult to NetCDF-4 atomically, after the numerical guard (:func:`check_values`)."""
    lay = layout(result)
    check_values(lay.data_vars)
    with atomic_path(path, overwrite=overwrite) as tmp:
        write_layout(lay, tmp)
    return Path(path)


def write_layout(lay: Layout, path) -> None:
    """The layout as NetCDF-4 through h5netcdf, variable for variable what xarray's own
    ``to_netcdf(engine="h5netcdf")`` writes (floats carry ``_FillValue = NaN``, labels are
    variable-length strings); tests check that xarray reads it back identical to
    :func:`to_dataset`. Not atomic by itself: callers pass a path from :func:`atomic_path`."""
    import h5netcdf
    import h5py

    with h5netcdf.File(path, "w") as f:
        f.dimensions = {name: len(values) for name, (_, values, _) in lay.coords.items()}
        for name, (dims, values, attrs) in {**lay.coords, **lay.data_vars}.items():
            if values.dtype.kind == "U":
                v = f.create_variable(name, dims, dtype=h5py.string_dtype(), data=values.astype(object))
            elif values.dtype.kind == "f":
                v = f.create_variable(name, dims, data=values, fillvalue=np.nan)
            else:
                v = f.create_variable(name, dims, data=values)
            v.attrs.update(attrs)
        f.attrs.update(lay.attrs)


#: Longest output file name [bytes]: the hidden temporary beside it, ``.<name>.<pid>.<random>.partial``,
#: must still fit the usual 255-byte limit.
MAX_NAME = 200

#: Variables that are no observable's but NaN by definition somewhere (the figures' crosstalk
#: times, best delays and delayed C); observables say it themselves (``Observable.nan_allowed``).
NAN_ALLOWED_PREFIXES = ("sync", "tau", "best_delay")


def check_dataset(ds) -> None:
    """:func:`check_values` on the data variables of an xarray Dataset."""
    check_values({name: (None, var.values, None) for name, var in ds.data_vars.items()})


def _rules(name: str) -> tuple[bool, bool, bool, bool]:
    """(NaN allowed, +inf allowed, within [−1, 1], non-negative) for a stored variable: an
    observable's own flags, inherited by its sweep summaries; onset times may be NaN."""
    base, how = obs.series_of(name)
    o = obs.REGISTRY.get(base)
    if o is None:
        return name.startswith(NAN_ALLOWED_PREFIXES), False, name.startswith("sync"), False
    if how == obs.ONSET:
        return True, False, False, False
    # state-based measures are NaN where a Brownian bath makes the state unphysical (open systems)
    return o.nan_allowed or o.state_based, o.inf_allowed, o.bounded, o.nonnegative and how is None


def check_values(data_vars: dict) -> None:
    """Numerical guard for any result before it is written (``name -> (dims, values, attrs)``):
    finite values (but where the observable is NaN or +inf by definition), synchronization
    factors within [−1, 1], non-negative mutual information and log negativity (the registry's
    flags, :mod:`harmosync.observables`). Raises NumericalError naming the variable."""
    from .errors import NumericalError

    for name, (_, vals, _) in data_vars.items():
        vals = np.asarray(vals)
        name = str(name)
        if vals.dtype.kind not in "fc":
            continue
        nan_ok, inf_ok, bounded, nonneg = _rules(name)
        if not nan_ok and not np.all(np.isfinite(vals)):
            raise NumericalError(f"{name} contains NaN or inf; nothing was written (report this with your config)")
        if not inf_ok and np.any(np.isinf(vals)):
            raise NumericalError(f"{name} contains inf; nothing was written (report this with your config)")
        if bounded and np.nanmax(np.abs(vals), initial=0.0) > 1 + 1e-12:
            raise NumericalError(f"{name} leaves [-1, 1]; nothing was written (report this with your config)")
        if nonneg and np.nanmin(vals, initial=0.0) < -1e-9:
            raise NumericalError(f"{name} is negative; nothing was written (report this with your config)")


def check_output_path(path, *, overwrite: bool = False) -> Path:
    """Refuse an existing file (unless ``overwrite``) or a directory we cannot write, before
    any computation starts."""
    path = Path(path)
    if len(path.name.encode()) > MAX_NAME:
        raise HarmosyncError(f"output name {path.name[:40]!r}... is {len(path.name.encode())} bytes long; "
                             f"use at most {MAX_NAME} (the temporary file beside it needs the rest)")
    try:
        exists, is_dir = path.exists(), path.is_dir()
        special = path.is_symlink() or (exists and not is_dir and not path.is_file())
    except OSError as e:
        raise HarmosyncError(f"cannot write {str(path)!r}: {e.strerror}") from None
    if is_dir:
        raise HarmosyncError(f"output {str(path)!r} is a directory; give a file name")
    if special:  # --overwrite would replace the link, device or pipe itself (e.g. /dev/null)
        raise HarmosyncError(f"output {str(path)!r} is a symbolic link or a special file, not a regular file; "
                             "give the path of a regular file")
    if exists and not overwrite:
        raise HarmosyncError(f"output {str(path)!r} already exists; choose another name or pass --overwrite")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise HarmosyncError(f"cannot write {str(path)!r}: directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise HarmosyncError(f"cannot write {str(path)!r}: directory {str(parent)!r} is not writable")
    try:  # os.access says yes to root even where nothing can be created (/proc, read-only mounts)
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise HarmosyncError(f"cannot write {str(path)!r}: {e.strerror} in directory {str(parent)!r}") from None
    return path


NETCDF_SUFFIXES = (".nc", ".nc4", ".h5")
IMAGE_SUFFIXES = (".png", ".pdf", ".svg")


def check_suffix(path, allowed: tuple[str, ...], what: str) -> None:
    """Refuse an output whose name says another format than the one written (a PNG named .jpg,
    a NetCDF file named .toml)."""
    if path and Path(path).suffix.lower() not in allowed:
        raise HarmosyncError(f"{what} {str(path)!r} must end in {', '.join(allowed)}")


def check_not_input(source, *outputs) -> None:
    """Refuse an output that would replace the command's own input (e.g. -o CONFIG.toml)."""
    src = os.path.realpath(source)
    for out in outputs:
        if out and os.path.realpath(out) == src:
            raise HarmosyncError(f"output {str(out)!r} is the input {str(source)!r}; give the output its own name")


def check_distinct(*paths) -> None:
    """Refuse two outputs of one command that name the same file."""
    real = [os.path.realpath(p) for p in paths if p]
    if len(set(real)) != len(real):
        raise HarmosyncError(f"two outputs name the same file ({', '.join(str(p) for p in paths if p)}); give each its own name")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_partials(path) -> list[Path]:
    """Remove ``.<name>.<pid>.*.partial`` files left beside ``path`` by killed runs."""
    path = Path(path)
    removed = []
    for f in path.parent.glob(f".{path.name}.*.partial"):
        try:
            pid = int(f.name[len(path.name) + 2:].split(".", 1)[0])
        except ValueError:
            continue
        if not _alive(pid):
            try:
                f.unlink() if f.is_file() else __import__("shutil").rmtree(f)
                removed.append(f)
            except OSError:
                pass
    return removed


@contextmanager
def atomic_path(path, *, overwrite: bool = False):
    """Yield a temporary path beside ``path``; rename it into place only if the block succeeds.

    The temporary name is ``.<name>.<pid>.<random>.partial``: hidden, and marked incomplete. A
    Python error removes it; a SIGKILL cannot, so the next write to the same path removes stale
    partials of dead processes. A finished-looking file only ever appears complete.
    """
    path = check_output_path(path, overwrite=overwrite)
    clean_stale_partials(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
        if path.exists() and not overwrite:
            raise HarmosyncError(f"output {str(path)!r} appeared while computing; not overwritten")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_netcdf(ds, path, *, overwrite: bool = False) -> Path:
    """Write ``ds`` to NetCDF-4 (h5netcdf) atomically, after :func:`check_dataset`."""
    check_dataset(ds)
    with atomic_path(path, overwrite=overwrite) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")
    return Path(path)


def read(path):
    """Open a harmosync NetCDF file as an xarray Dataset (loaded into memory)."""
    import xarray as xr

    path = Path(path)
    if not path.exists():
        raise HarmosyncError(f"file {str(path)!r} does not exist")
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()
