"""Drawing functions for the paper's figures (matplotlib only). Each takes the data (an xarray
object or plain numbers) and an optional ``ax`` and returns the Axes; the figure recipes in
:mod:`harmosync.figures` lay them out. Styles follow the paper: probe 1 / q1 black solid, probe 2
/ q2 red dashed; times in [ω₁⁻¹]. Labels are "quantity [unit]" (:mod:`.labels`), units from the
registry of observables; legends sit outside the axes (:func:`.labels.legend_outside`).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from . import labels as lb

#: Fig. 3's background colours: independent dissipation (pink), crosstalk (blue), revival (light blue).
REGION_COLORS = ("#f6d5dc", "#b9cdea", "#ddeef8")
REGION_NAMES = ("independent dissipation", "crosstalk", "revival")
PROBE_STYLES = ({"color": "k", "ls": "-"}, {"color": "tab:red", "ls": "--"})
TIME_LABEL = lb.time_label(omega=lb.OMEGA1)
#: Font size of panel titles: at least the tick labels' (matplotlib's "medium").
TITLE_SIZE = "medium"


def _ax(ax):
    return ax if ax is not None else plt.gca()


def ylabel(ax, name: str, symbol: str | None = None):
    """y label of an observable of the registry, in the paper's unit ω₁."""
    ax.set_ylabel(lb.observable_label(name, omega=lb.OMEGA1, symbol=symbol))
    return ax


def time_regions(taus, *, ax=None, t_end: float | None = None, labels: bool = True):
    """Shade [0, τ_CT] (independent dissipation), [τ_CT, τ_R] (crosstalk) and [τ_R, t_end]
    (revival) as in the paper's Fig. 3. ``taus`` = (τ_CT, τ_R) [1/ω1]; a NaN τ_CT shades
    only the revival."""
    ax = _ax(ax)
    tau_ct, tau_r = (float(x) for x in taus)
    end = ax.get_xlim()[1] if t_end is None else float(t_end)
    spans = [(0.0, tau_ct, 0), (tau_ct, tau_r, 1), (tau_r, end, 2)] if np.isfinite(tau_ct) else [(tau_r, end, 2)]
    for a, b, i in spans:
        ax.axvspan(a, b, color=REGION_COLORS[i], lw=0, zorder=0, label=REGION_NAMES[i] if labels else None)
    return ax


def tau_markers(taus: dict, *, ax=None, labels: bool = True):
    """Vertical dotted lines at the given times (e.g. {"τ_R": 658}), named in math text along
    the top of the axes (``labels``), never over the traces."""
    return lb.markers_on_top(_ax(ax), taus, labels=labels)


def sync(da, *, ax=None, label: str | None = None, undefined: bool = True, **style):
    """C(t, Δt) of Eq. (3) in [−1, 1]; the trailing times where the forward window passes the
    end of the run (C undefined) hatched (``undefined``: once per axes)."""
    ax = _ax(ax)
    kw = {"color": "k", "lw": 0.9}
    kw.update(style)
    ax.plot(da["time"], da, label=label, **kw)
    ax.set_ylim(-1.08, 1.08)
    ax.axhline(0, color="0.6", lw=0.5, zorder=1)
    if undefined:
        lb.undefined_band(ax, da["time"], da, label=lb.UNDEFINED_LABEL)
    window = da.attrs.get("window")
    symbol = r"$C(t, \Delta t)$" if window is None else rf"$C(t, \Delta t = {float(window):g})$"
    return ylabel(ax, "sync", symbol)


def positions(da, *, ax=None, names=(r"$\langle x_1\rangle$", r"$\langle x_2\rangle$"), lw: float = 0.7,
              legend: str | None = "right"):
    """⟨x_i(t)⟩ [ω₁^(−1/2)] of the two probes (dims time, probe)."""
    ax = _ax(ax)
    for i, (name, style) in enumerate(zip(names, PROBE_STYLES)):
        ax.plot(da["time"], da.isel(probe=i), lw=lw, label=name, **style)
    ylabel(ax, "x", r"$\langle x_i\rangle$")
    if legend:
        lb.legend_outside(ax, where=legend)
    return ax


def normal_modes(ds, *, ax=None, lw: float = 0.7, legend: str | None = "right"):
    """⟨q1(t)⟩ (black) and ⟨q2(t)⟩ (red), Eqs. (A4)–(A5) [ω₁^(−1/2)]; the smaller signal is
    drawn on top so that the damped mode stays visible."""
    ax = _ax(ax)
    rms = [float(np.sqrt(np.nanmean(np.asarray(ds[q]) ** 2))) for q in ("q1", "q2")]
    for i, q in enumerate(("q1", "q2")):
        ax.plot(ds["time"], ds[q], lw=lw, label=lb.SYMBOLS[q], color=PROBE_STYLES[i]["color"],
                zorder=3 if rms[i] < rms[1 - i] else 2)
    ylabel(ax, "q1", r"$\langle q_s\rangle$")
    if legend:
        lb.legend_outside(ax, where=legend)
    return ax


def second_moments(da, *, ax=None, log: bool = True, legend: str | None = "right"):
    """⟨x_i²⟩(t) [ω₁⁻¹] of the two probes (dims time, probe); log scale by default since the
    squeezed states span e^(±2r)."""
    ax = _ax(ax)
    for i, (name, style) in enumerate(zip((r"$\langle x_1^2\rangle$", r"$\langle x_2^2\rangle$"), PROBE_STYLES)):
        ax.plot(da["time"], da.isel(probe=i), lw=0.6, label=name, **style)
    if log:
        ax.set_yscale("log")
    ax.set_ylabel(lb.label(r"$\langle x_i^2\rangle$", da.attrs.get("units", "1/[w]"), omega=lb.OMEGA1))
    if legend:
        lb.legend_outside(ax, where=legend)
    return ax


#: Correlation measures of the squeezed-probe figures: variable, label, colour.
CORRELATIONS = (("mutual_information", "mutual information $I$", "tab:blue"),
                ("discord", "discord $D(1|2)$", "tab:orange"),
                ("log_negativity", "log negativity $E_N$", "k"))


def correlations(ds, *, ax=None, legend: str | None = "right"):
    """Mutual information (blue), Gaussian discord D(1|2) (orange, where present) and
    logarithmic negativity (black) [nat]; one that is identically zero is drawn dashed."""
    ax = _ax(ax)
    for name, text, color in CORRELATIONS:
        if name in ds:
            lb.dense_line(ax, ds["time"], ds[name], color=color, label=text, pixels=10**9, lw=0.7)
    ax.set_ylabel(lb.label("correlations", "nat"))
    lo, hi = ax.get_ylim()
    ax.set_ylim(-0.03 * hi, hi)  # a zero curve stays off the spine
    if legend:
        lb.legend_outside(ax, where=legend)
    return ax


def block_mean(z: np.ndarray, k: int) -> np.ndarray:
    """Means of ``z`` over blocks of ``k`` consecutive rows, NaN ignored (NaN where a block has
    no finite value); the last block may be shorter."""
    n = -(-z.shape[0] // k)
    pad = np.full((n * k - z.shape[0], z.shape[1]), np.nan)
    blocks = np.concatenate([z, pad]).reshape(n, k, z.shape[1])
    ok = np.isfinite(blocks)
    count = ok.sum(axis=1)
    total = np.where(ok, blocks, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def sync_map(da, *, ax=None, colorbar: bool = True, max_rows: int = 400):
    """C(t) against the plugging site m (x axis) and time t (y axis): diverging map centred on 0,
    one cell per plugging site, nearest-neighbour (no moiré between sites). Time has more stored
    samples than a figure has pixel rows, and C ripples at twice the probe frequency: picking
    one sample per pixel would alias that ripple into stripes, so rows are averaged over blocks
    of consecutive stored times down to at most ``max_rows`` (display only; the file keeps
    every time). Where C is undefined (the forward window passes the end of the run) hatched."""
    ax = _ax(ax)
    z = np.asarray(da.transpose("time", "site").values, float)
    sites, times = np.asarray(da["site"], float), np.asarray(da["time"], float)
    ds_, dt = (sites[1] - sites[0]) if sites.size > 1 else 1.0, (times[1] - times[0]) if times.size > 1 else 1.0
    k = max(1, -(-times.size // max_rows))
    z = block_mean(z, k)
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad=(0, 0, 0, 0))
    y0, y1 = times[0] - dt / 2, times[0] - dt / 2 + z.shape[0] * k * dt
    if sites.size < 2 or np.allclose(np.diff(sites), ds_):
        im = ax.imshow(z, origin="lower", aspect="auto", cmap=cmap, vmin=-1.0, vmax=1.0, interpolation="nearest",
                       zorder=1, extent=(sites[0] - ds_ / 2, sites[-1] + ds_ / 2, y0, y1))
    else:
        edges = np.concatenate([[sites[0] - 0.5], (sites[1:] + sites[:-1]) / 2, [sites[-1] + 0.5]])
        im = ax.pcolormesh(edges, np.linspace(y0, y1, z.shape[0] + 1), z, cmap=cmap, vmin=-1.0, vmax=1.0,
                           shading="flat", zorder=1, antialiased=False, linewidth=0)
    undefined = ~np.isfinite(np.asarray(da.values, float)).any(axis=da.dims.index("site"))
    if undefined.any():  # times with no C at any site: the end of the run
        first = times[np.flatnonzero(undefined)[0]] - dt / 2
        ax.axhspan(first, times[-1] + dt / 2, facecolor="0.92", edgecolor="0.55", hatch="///", lw=0, zorder=1.5,
                   label=lb.UNDEFINED_LABEL.replace("\n", " "))
    if colorbar:
        ax.figure.colorbar(im, ax=ax, label=lb.observable_label("sync", omega=lb.OMEGA1), pad=0.02)
    ax.set_xlabel(lb.label("plugging site $m$ of probe 2", "site number (1..M)"))
    ax.set_ylabel(TIME_LABEL)
    return ax


def site_lines(ds, *, ax=None, names: dict | None = None):
    """Characteristic-time curves t(m) over a sync map (variables with dim ``site``)."""
    ax = _ax(ax)
    styles = ["k--", "k:", "k-."]
    names = names or {}
    for (var, label), style in zip(names.items(), styles):
        ax.plot(ds["site"], ds[var], style, lw=0.9, label=label)
    ax.set_ylim(float(ds["time"][0]), float(ds["time"][-1]))
    return ax
