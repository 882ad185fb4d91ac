"""Pairwise matrices of a run with more than two probes (dims time, probe, probe), e.g.
``sync_matrix`` (C(t, Δt) of every pair) and ``mutual_information_matrix``, drawn at chosen
times so that clusters of synchronized probes show as blocks.

C-valued matrices use a diverging map fixed to [−1, 1] (C = 0 white); others a sequential map
from 0. Each cell is annotated with its value when the matrix is small enough to read.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..errors import HarmosyncError
from . import labels as lb

MAX_ANNOTATED = 12  # probes; larger matrices are not annotated


def matrix_dims(da) -> tuple[str, str]:
    """The two probe dimensions of a (time, probe, probe) DataArray, refused otherwise."""
    other = [d for d in da.dims if d != "time"]
    if "time" not in da.dims or len(other) != 2:
        raise HarmosyncError(f"{da.name} is not a (time, probe, probe) matrix; its dimensions: {', '.join(da.dims)}")
    return other[0], other[1]


def at_times(da, times) -> list[int]:
    """Indices of the stored times nearest to ``times`` [1/ω], refused outside the run."""
    t = np.asarray(da["time"].values, float)
    step = float(np.min(np.diff(t))) if t.size > 1 else 0.0
    out = []
    for v in times:
        if not np.isfinite(v) or v < t[0] - step / 2 or v > t[-1] + step / 2:
            raise HarmosyncError(f"--at {v:g}: outside the run's times {t[0]:g} … {t[-1]:g}; give times in that range")
        out.append(int(np.argmin(np.abs(t - v))))
    return out


def _is_c(da) -> bool:
    r = da.attrs.get("value_range")
    return (r is not None and np.allclose(np.asarray(r, float), [-1.0, 1.0])) or str(da.name).startswith("sync")


def value_label(da) -> str:
    """The matrix's quantity and unit: its symbol with the registry's units where it is
    registered, else its ``units`` attribute."""
    from ..observables import REGISTRY

    name = str(da.name)
    units = REGISTRY[name].units if name in REGISTRY else da.attrs.get("units", "")
    return lb.label(lb.SYMBOLS.get(name, da.attrs.get("long_name", name)), units)


def matrix(da, index: int, *, ax=None, norm=None, cmap=None, annotate: bool = True):
    """The matrix ``da`` at time index ``index`` (pcolormesh, one cell per probe pair, probe
    numbers on the axes); returns the QuadMesh."""
    ax = ax or plt.gca()
    a, b = matrix_dims(da)
    m = da.isel(time=index).transpose(a, b)
    va, vb = np.asarray(m[a].values), np.asarray(m[b].values)
    z = np.asarray(m.values, float)
    c_valued = _is_c(da)
    mesh = ax.pcolormesh(np.arange(vb.size + 1) + 0.5, np.arange(va.size + 1) + 0.5, z, cmap=cmap, norm=norm)
    ax.set_xticks(np.arange(1, vb.size + 1), labels=[str(v) for v in vb])
    ax.set_yticks(np.arange(1, va.size + 1), labels=[str(v) for v in va])
    ax.set_aspect("equal")
    ax.invert_yaxis()
    if annotate and max(z.shape) <= MAX_ANNOTATED:
        for (i, j), v in np.ndenumerate(z):
            if np.isfinite(v):
                rgba = mesh.cmap(mesh.norm(v))
                dark = 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2] < 0.5
                ax.text(j + 1, i + 1, f"{v:.2f}" if c_valued else f"{v:.2g}", ha="center", va="center", fontsize="small",
                        color="w" if dark else "k")
    ax.set_xlabel(lb.label("probe $b$", "probe number (1..P)"))
    ax.set_ylabel(lb.label("probe $a$", "probe number (1..P)"))
    ax.set_title(f"$t = {float(da['time'][index]):g}$ " + lb.unit_text("1/[w]"), fontsize="medium", loc="left")
    return mesh


def matrices(ds, var: str, times, *, title: str | None = None) -> "plt.Figure":
    """One panel per time in ``times`` [1/ω] of ``ds[var]``, with one shared colour bar."""
    import matplotlib.colors as mcolors

    if var not in ds.data_vars:
        from ..errors import suggest

        found = [k for k in ds.data_vars if len(ds[k].dims) == 3 and "time" in ds[k].dims]
        raise HarmosyncError(f"variable {var!r} is not in the file{suggest(var, list(ds.data_vars))}; "
                             f"(time, probe, probe) matrices there: {', '.join(found) or 'none'}")
    da = ds[var]
    matrix_dims(da)
    idx = at_times(da, times)
    if _is_c(da):
        cmap, norm = plt.get_cmap("RdBu_r").with_extremes(bad="0.8"), mcolors.Normalize(-1.0, 1.0)
    else:
        sel = np.asarray(da.isel(time=idx).values, float)
        hi = float(np.nanmax(sel)) if np.isfinite(sel).any() else 1.0
        cmap, norm = plt.get_cmap("viridis").with_extremes(bad="0.8"), mcolors.Normalize(0.0, hi if hi > 0 else 1.0)
    n = len(idx)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n + 1.4, 4.5), squeeze=False, layout="constrained")
    for ax, i in zip(axes[0], idx):
        mesh = matrix(da, i, ax=ax, norm=norm, cmap=cmap)
    fig.colorbar(mesh, ax=list(axes[0]), label=value_label(da), shrink=0.9)
    w = da.attrs.get("window")
    default = f"{lb.SYMBOLS.get(var, var)} of every probe pair" + (f", $\\Delta t = {float(w):g}$" if w else "")
    fig.suptitle(title or default, fontsize="medium")
    return fig


def save(ds, var: str, times, path, *, overwrite: bool = False, title: str | None = None):
    """Draw :func:`matrices` and write it atomically (PNG, PDF or SVG by suffix)."""
    from .maps import save_figure

    save_figure(matrices(ds, var, times, title=title), path, overwrite=overwrite)
