"""Drawing functions for the paper's figures (matplotlib only). Each takes the data (an xarray
object or plain numbers) and an optional ``ax`` and returns the Axes; the figure recipes in
:mod:`harmosync.figures` lay them out. Styles follow the paper: probe 1 / q1 black solid, probe 2
/ q2 red dashed; times in [1/ω1].
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

#: Fig. 3's background colours: independent dissipation (pink), crosstalk (blue), revival (light blue).
REGION_COLORS = ("#f6d5dc", "#b9cdea", "#ddeef8")
REGION_NAMES = ("independent dissipation", "crosstalk", "revival")
PROBE_STYLES = ({"color": "k", "ls": "-"}, {"color": "tab:red", "ls": "--"})
TIME_LABEL = "t  [1/ω₁]"


def _ax(ax):
    return ax if ax is not None else plt.gca()


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


def tau_markers(taus: dict, *, ax=None, y: float = 0.03):
    """Vertical dotted lines at the given times, labelled near the bottom of the axes with their
    keys (e.g. {"τ_R": 658})."""
    ax = _ax(ax)
    trans = ax.get_xaxis_transform()
    for name, t in taus.items():
        if t is None or not np.isfinite(t):
            continue
        ax.axvline(t, color="0.35", lw=0.8, ls=":", zorder=1)
        ax.text(t, y, f" {name}", transform=trans, fontsize="x-small", va="bottom", ha="left", color="0.2")
    return ax


def sync(da, *, ax=None, label: str | None = None, **style):
    """C(t, Δt) of Eq. (3) in [−1, 1]."""
    ax = _ax(ax)
    kw = {"color": "k", "lw": 0.9}
    kw.update(style)
    ax.plot(da["time"], da, label=label, **kw)
    ax.set_ylim(-1.08, 1.08)
    ax.axhline(0, color="0.6", lw=0.5, zorder=1)
    window = da.attrs.get("window")
    ax.set_ylabel("C(t)" if window is None else f"C(t)  (Δt = {float(window):g})")
    return ax


def positions(da, *, ax=None, names=("⟨x₁⟩", "⟨x₂⟩"), lw: float = 0.7):
    """⟨x_i(t)⟩ [ω1^(-1/2)] of the two probes (dims time, probe)."""
    ax = _ax(ax)
    for i, (name, style) in enumerate(zip(names, PROBE_STYLES)):
        ax.plot(da["time"], da.isel(probe=i), lw=lw, label=name, **style)
    ax.set_ylabel("[ω₁^(-1/2)]")
    ax.legend(loc="upper right", fontsize="x-small", ncol=2)
    return ax


def normal_modes(ds, *, ax=None, lw: float = 0.7):
    """⟨q1(t)⟩ (black) and ⟨q2(t)⟩ (red), Eqs. (A4)–(A5) [ω1^(-1/2)]; the smaller signal is
    drawn on top so that the damped mode stays visible."""
    ax = _ax(ax)
    rms = [float(np.sqrt(np.nanmean(np.asarray(ds[q]) ** 2))) for q in ("q1", "q2")]
    for i, q in enumerate(("q1", "q2")):
        ax.plot(ds["time"], ds[q], lw=lw, label=f"⟨q{'₁₂'[i]}⟩", color=PROBE_STYLES[i]["color"],
                zorder=3 if rms[i] < rms[1 - i] else 2)
    ax.set_ylabel("[ω₁^(-1/2)]")
    ax.legend(loc="upper right", fontsize="x-small", ncol=2)
    return ax


def second_moments(da, *, ax=None, log: bool = True):
    """⟨x_i²⟩(t) [1/ω1] of the two probes (dims time, probe); log scale by default since the
    squeezed states span e^(±2r)."""
    ax = _ax(ax)
    for i, (name, style) in enumerate(zip(("⟨x₁²⟩", "⟨x₂²⟩"), PROBE_STYLES)):
        ax.plot(da["time"], da.isel(probe=i), lw=0.6, label=name, **style)
    if log:
        ax.set_yscale("log")
    ax.set_ylabel("[1/ω₁]")
    ax.legend(loc="upper right", fontsize="x-small", ncol=2)
    return ax


def correlations(ds, *, ax=None):
    """Mutual information (blue) and logarithmic negativity (black) [nats]."""
    ax = _ax(ax)
    ax.plot(ds["time"], ds["mutual_information"], lw=0.7, color="tab:blue", label="mutual information I")
    ax.plot(ds["time"], ds["log_negativity"], lw=0.7, color="k", label="log negativity E_N")
    ax.set_ylabel("[nats]")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper right", fontsize="x-small")
    return ax


def sync_map(da, *, ax=None, colorbar: bool = True):
    """C(t) against the plugging site m (x axis) and time t (y axis): diverging map centred on 0."""
    ax = _ax(ax)
    mesh = ax.pcolormesh(da["site"], da["time"], da.transpose("time", "site").values, cmap="RdBu_r",
                         vmin=-1.0, vmax=1.0, shading="nearest", rasterized=True)
    if colorbar:
        ax.figure.colorbar(mesh, ax=ax, label="C(t)", pad=0.02)
    ax.set_xlabel("plugging site m of probe 2")
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
    if names:
        ax.legend(loc="upper right", fontsize="x-small", framealpha=0.85)
    return ax
