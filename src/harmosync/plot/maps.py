"""Maps and line plots of sweep results over one or two sweep axes (or an axis and time).

The paper's Fig. 6 is ``sweep_map(ds["sync"], x="m", y="time")``: C(t) against the plugging
site and time. C-valued variables (``value_range = [-1, 1]`` in their attrs: sync,
sync_variance and their summaries) use a diverging colour map fixed to [−1, 1], so C = 0 is
white; other variables that change sign get a diverging map centred on zero (TwoSlopeNorm).
Points not computed or failed are NaN and drawn grey.
"""

from __future__ import annotations

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np  # noqa: E402

from ..errors import HarmosyncError  # noqa: E402
from . import labels as lb

DIVERGING = "RdBu_r"
SEQUENTIAL = "viridis"


def _is_c(da) -> bool:
    r = da.attrs.get("value_range")
    return r is not None and np.allclose(np.asarray(r, float), [-1.0, 1.0])


def axis_label(da, dim: str) -> str:
    """"name [unit]" for a sweep axis (its config path beside a user's name, e.g. "K
    (probes.strengths[*]) [ω²]"), "t [ω⁻¹]" for time (:func:`.labels.label`)."""
    if dim == "time":
        return lb.time_label()
    c = da.coords[dim] if dim in da.coords else None
    attrs = c.attrs if c is not None else {}
    path = attrs.get("path", dim)
    name = path if dim == path.replace("[*]", "_all").replace(".", "_").replace("[", "_").rstrip("]") \
        else f"{dim}  ({path})"  # an axis named in the config, e.g. "K  (probes.strengths[*])"
    return lb.label(name, attrs.get("units", ""))


def value_label(da) -> str:
    """The quantity of a variable with its unit: a registry observable (or a sweep summary of
    one) by its symbol and registry units, anything else by its long name and ``units``."""
    from ..observables import REGISTRY, series_of

    name = str(da.name or "")
    if name in REGISTRY or series_of(name)[0] in REGISTRY:
        return lb.observable_label(name)
    return lb.label(da.attrs.get("long_name", name), da.attrs.get("units", ""))


def _norm(da):
    if _is_c(da):
        return DIVERGING, mcolors.Normalize(vmin=-1.0, vmax=1.0)
    v = np.asarray(da.values, float)
    v = v[np.isfinite(v)]
    if v.size and v.min() < 0 < v.max():
        return DIVERGING, mcolors.TwoSlopeNorm(vcenter=0.0, vmin=v.min(), vmax=v.max())
    return SEQUENTIAL, None


def _uniform(c: np.ndarray) -> bool:
    if c.size < 2 or not np.issubdtype(c.dtype, np.number):
        return False
    d = np.diff(c.astype(float))
    return bool(np.all(d > 0) and np.allclose(d, d[0], rtol=1e-6, atol=0))


def sweep_map(da, x: str, y: str, *, ax=None, colorbar: bool = True):
    """Colour map of a 2-D DataArray over dims ``x`` and ``y`` (sweep axes or ``time``).
    Returns the Axes."""
    ax = ax or plt.gca()
    if set(da.dims) != {x, y}:
        raise HarmosyncError(f"a map needs exactly the dims {x} and {y}; {da.name} has {', '.join(da.dims)}")
    z = da.transpose(y, x)
    cmap, norm = _norm(da)
    cm = plt.get_cmap(cmap).with_extremes(bad="0.8")
    xs, ys = np.asarray(z[x].values), np.asarray(z[y].values)
    if _uniform(xs) and _uniform(ys):  # fast for big maps (Fig. 6: 300 × 30001)
        dx, dy = xs[1] - xs[0], ys[1] - ys[0]
        im = ax.imshow(np.asarray(z.values, float), origin="lower", aspect="auto", cmap=cm, norm=norm,
                       extent=(xs[0] - dx / 2, xs[-1] + dx / 2, ys[0] - dy / 2, ys[-1] + dy / 2),
                       interpolation="nearest")
    else:
        xx = xs if np.issubdtype(xs.dtype, np.number) else np.arange(xs.size)
        yy = ys if np.issubdtype(ys.dtype, np.number) else np.arange(ys.size)
        im = ax.pcolormesh(xx, yy, np.asarray(z.values, float), cmap=cm, norm=norm, shading="nearest",
                           rasterized=True)
    ax.set_xlabel(axis_label(da, x))
    ax.set_ylabel(axis_label(da, y))
    if colorbar:
        ax.figure.colorbar(im, ax=ax, label=value_label(da))
    return ax


def _hue_label(da, hue: str, v) -> str:
    """A line's label: a summary interval by its time window (t in [start, stop]), else hue = v."""
    if hue == "interval" and "interval_start" in da.coords:
        sel = da.sel({hue: v})
        return f"t in [{float(sel.interval_start):g}, {float(sel.interval_stop):g}]"
    return f"{hue} = {v}"


def sweep_line(da, x: str, *, ax=None, hue: str | None = None):
    """Line plot of a DataArray against ``x``; a second small dim ``hue`` gives one line per value."""
    ax = ax or plt.gca()
    if hue is None:
        ax.plot(da[x].values, da.values, marker="." if da.sizes[x] <= 60 else None, lw=1, color="k")
    else:
        for v in da[hue].values:
            ax.plot(da[x].values, da.sel({hue: v}).values, marker="." if da.sizes[x] <= 60 else None, lw=1,
                    label=_hue_label(da, hue, v))
        lb.legend_outside(ax)
    if _is_c(da):
        ax.set_ylim(-1.05, 1.05)
        ax.axhline(0, color="0.7", lw=0.5)
    ax.set_xlabel(axis_label(da, x))
    ax.set_ylabel(value_label(da))
    return ax


def _resolve(ds, name: str, what: str) -> str:
    """A dim from its name, or from a sweep axis's config path (``probes.sites[2]``)."""
    if name in ds.dims:
        return name
    for d in ds.dims:
        if d in ds.coords and ds.coords[d].attrs.get("path") == name:
            return d
    from ..errors import suggest

    raise HarmosyncError(f"{what} {name!r} is not a dimension of the sweep{suggest(name, list(ds.dims))}; "
                         f"dimensions: {', '.join(ds.dims)}")


def select(ds, var: str, sel: dict | None = None):
    """``ds[var]`` with the selections applied (nearest value for numeric coordinates, refused
    outside the coordinate's range)."""
    if var not in ds.data_vars:
        from ..errors import suggest

        raise HarmosyncError(f"variable {var!r} is not in the sweep{suggest(var, list(ds.data_vars))}; "
                             f"variables: {', '.join(ds.data_vars)}")
    da = ds[var]
    for k, v in (sel or {}).items():
        dim = _resolve(ds, k, "--sel")
        if dim not in da.dims:
            raise HarmosyncError(f"--sel {k}: {var} has no dimension {dim}; its dimensions: {', '.join(da.dims)}")
        coord = da[dim].values
        if np.issubdtype(coord.dtype, np.number):
            try:
                v = float(v)
            except ValueError:
                raise HarmosyncError(f"--sel {k}={v}: give a number") from None
            c = np.sort(coord.astype(float))
            half = 0.5 * float(np.min(np.diff(c))) if c.size > 1 else 1e-9 * max(1.0, abs(c[0]))
            if not np.isfinite(v) or v < c[0] - half or v > c[-1] + half:
                raise HarmosyncError(f"--sel {k}={v:g}: outside the values of {dim}, {c[0]:g} … {c[-1]:g}; "
                                     "give a value in that range")
            i = int(np.argmin(np.abs(coord.astype(float) - v)))
        else:
            hits = np.flatnonzero(coord.astype(str) == str(v))
            if not hits.size:
                raise HarmosyncError(f"--sel {k}={v}: not a value of {dim}; values: {', '.join(map(str, coord[:8]))}")
            i = int(hits[0])
        da = da.isel({dim: i})
    return da


def plot_variable(ds, var: str, *, x: str | None = None, y: str | None = None, sel: dict | None = None, ax=None):
    """A map (two free dims) or a line plot (one free dim, plus at most one small dim drawn as
    several lines) of ``ds[var]``; dims of size 1 are dropped. Defaults: x = the first sweep
    axis, y = time if ``var`` has it, else the second sweep axis."""
    da = select(ds, var, sel)
    da = da.squeeze(drop=False)
    if np.issubdtype(da.dtype, np.number) and not np.any(np.isfinite(da.values)):
        raise HarmosyncError(f"{var} has no finite value{' at this selection' if sel else ''} (all NaN or inf, e.g. "
                             "C of zero means, or S_c of coinciding means): nothing to plot")
    axes = ds.attrs.get("sweep_axes", "").split()
    free = list(da.dims)
    x = _resolve(ds, x, "--x") if x else None
    y = _resolve(ds, y, "--y") if y else None
    for d in (x, y):
        if d is not None and d not in free:
            raise HarmosyncError(f"{var} has no free dimension {d} (after --sel); free: {', '.join(free) or 'none'}")
    if x is None:
        rest = [d for d in free if d != y]
        x = next((d for d in rest if d in axes), rest[0] if rest else None)
    if x is None:
        raise HarmosyncError(f"{var} has no dimension left to plot against")
    if y is None and len(free) >= 2:
        rest = [d for d in free if d != x]
        y = "time" if "time" in rest else next((d for d in rest if d in axes), None)
        if y is None and len(rest) == 1 and da.sizes[rest[0]] <= 12:
            return _titled(sweep_line(da, x, ax=ax, hue=rest[0]), da, sel)
        y = y or rest[0]
    if y is None:
        return _titled(sweep_line(da, x, ax=ax), da, sel)
    extra = [d for d in free if d not in (x, y)]
    if extra:
        raise HarmosyncError(f"{var} has more dimensions than a map shows: {', '.join(extra)}; pick values with "
                             + " ".join(f"--sel {d}=..." for d in extra))
    return _titled(sweep_map(da, x, y, ax=ax), da, sel)


def _titled(ax, da, sel):
    fixed = [f"{k} = {da.coords[k].values.item():g}" for k in da.coords
             if da.coords[k].ndim == 0 and np.issubdtype(da.coords[k].dtype, np.number)
             and not k.startswith("interval")]
    if "interval_start" in da.coords and da.coords["interval_start"].ndim == 0:
        fixed.append(f"t in [{float(da.interval_start):g}, {float(da.interval_stop):g}]")
    ax.set_title(", ".join([value_label(da).rsplit(" [", 1)[0]] + fixed), fontsize="medium")
    return ax


def figure(ds, var: str, *, x=None, y=None, sel=None, title: str | None = None):
    """A Figure of :func:`plot_variable` with a title."""
    fig, ax = plt.subplots(figsize=(8.5, 4.8), layout="constrained")
    try:
        plot_variable(ds, var, x=x, y=y, sel=sel, ax=ax)
    except BaseException:
        plt.close(fig)
        raise
    fig.suptitle(title or "harmosync sweep (ħ = 1, unit masses)", fontsize="medium")
    return fig


def save_figure(fig, path, *, overwrite: bool = False, dpi: int = 130) -> None:
    """Write ``fig`` atomically (PNG, PDF or SVG by the suffix of ``path``) and close it."""
    from ..io import atomic_path

    try:
        suffix = str(path).rsplit(".", 1)[-1].lower()
        with atomic_path(path, overwrite=overwrite) as tmp:
            fig.savefig(tmp, format=suffix if suffix in ("png", "pdf", "svg") else "png", dpi=dpi)
    finally:
        plt.close(fig)


def save(ds, var: str, path, *, x=None, y=None, sel=None, overwrite: bool = False, title: str | None = None):
    """Draw :func:`figure` and write it atomically (PNG, PDF or SVG by suffix)."""
    save_figure(figure(ds, var, x=x, y=y, sel=sel, title=title), path, overwrite=overwrite)
