"""Quick-look figure of a ``simulate`` result: the probes' first moments, C of the means and of
⟨x²⟩, and the correlation measures, titled with the run's parameters. Labels are "quantity
[unit]" with the registry's units (:mod:`.labels`); curves that oscillate faster than the
pixels are drawn as translucent envelopes with their mean, so that none hides another."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from . import labels as lb

COLORS = ("k", "tab:red", "tab:blue", "tab:green", "tab:purple", "tab:brown")
#: Correlation measures drawn in the last panel: variable, legend text, colour.
CORRELATIONS = (("mutual_information", "mutual information $I$", "tab:blue"),
                ("discord", "discord $D(a|b)$", "tab:orange"),
                ("log_negativity", "log negativity $E_N$", "k"))


def moments(ds, *, ax=None):
    """⟨x_i(t)⟩ of every probe [ω^(−1/2)]."""
    ax = ax or plt.gca()
    for k, i in enumerate(ds.probe.values):
        lb.dense_line(ax, ds.time, ds.x.sel(probe=i), color=COLORS[k % len(COLORS)],
                      label=rf"$\langle x_{{{i}}}\rangle$", lw=0.7, zorder=2 + k, phase=k)
    ax.set_ylabel(lb.observable_label("x"))
    lb.legend_outside(ax)
    return ax


def sync(ds, *, ax=None, name="sync"):
    """C(t, Δt) in [−1, 1] of the pair ``sync.probes``; trailing undefined times hatched."""
    ax = ax or plt.gca()
    da = ds[name]
    ax.plot(ds.time, da, lw=0.8, color="k")
    ax.set_ylim(-1.05, 1.05)
    ax.axhline(0, color="0.7", lw=0.5)
    if not np.isfinite(da.values).any():  # e.g. C of means that stay zero (squeezed vacua)
        ax.text(0.5, 0.75, "$C$ undefined at every time: the signals stay zero", transform=ax.transAxes,
                ha="center", va="center", color="0.3")
    else:
        lb.undefined_band(ax, ds.time, da)
    w = da.attrs.get("window", np.nan)
    a, b = pair(ds)
    power = "" if name == "sync" else "^2"
    of = rf"$\langle x_{{{a}}}{power}\rangle$, $\langle x_{{{b}}}{power}\rangle$"
    ax.set_ylabel(lb.observable_label(name, symbol=rf"$C(t, \Delta t = {float(w):g})$"))
    ax.set_title(f"synchronization factor of {of}", fontsize="medium", loc="left")
    if ax.get_legend_handles_labels()[0]:  # the undefined band
        lb.legend_outside(ax)
    return ax


def pair(ds) -> tuple[str, str]:
    """The probe numbers (1-based) of the pair the pairwise outputs refer to (``sync.probes``)."""
    p = ds["sync"].attrs.get("probes") if "sync" in ds else None
    p = ds.attrs.get("sync.probes", (1, 2)) if p is None else p
    return tuple(str(int(v)) for v in np.asarray(p).ravel()[:2])


def correlations(ds, *, ax=None):
    """Mutual information, discord D(a|b) and log negativity of the pair ``sync.probes`` [nat]."""
    ax = ax or plt.gca()
    a, b = pair(ds)
    for k, (name, text, color) in enumerate(CORRELATIONS):
        text = text.replace("a|b", f"{a}|{b}")
        if name in ds:
            lb.dense_line(ax, ds.time, ds[name], color=color, label=text, lw=0.8, zorder=4 - k, phase=k)
    ax.set_ylabel(lb.label("correlations", "nat"))
    lo, hi = ax.get_ylim()
    ax.set_ylim(-0.03 * hi, hi)
    lb.legend_outside(ax)
    return ax


def title(ds) -> str:
    """The run's parameters in two lines (from the file's flattened config attributes)."""
    a = ds.attrs

    def fmt(key):
        v = a.get(key)
        if v is None:
            return "?"
        v = np.atleast_1d(np.asarray(v))
        if np.issubdtype(v.dtype, np.number):
            v = [int(x) if float(x).is_integer() and key.endswith("sites") else float(x) for x in v]
            text = ", ".join(f"{x:g}" if isinstance(x, float) else str(x) for x in v)
        else:
            text = ", ".join(map(str, v))
        return text if len(v) == 1 else f"({text})"

    chain = (f"chain M = {fmt('chain.sites')}, Ω₀ = {fmt('chain.omega0')}, g = {fmt('chain.g')}, "
             f"T = {fmt('chain.temperature')}")
    probes = (f"probes ω = {fmt('probes.frequencies')}, λ = {fmt('probes.coupling')}, sites {fmt('probes.sites')}, "
              f"K = {fmt('probes.strengths')}")
    given = [(name, key) for name, key in (("x(0)", "initial.x"), ("p(0)", "initial.p"), ("r", "initial.squeezing"),
                                           ("φ", "initial.squeezing_angle")) if key in a]
    start = ", ".join(f"{name} = {fmt(key)}" for name, key in given) or "probes in their vacua"
    return f"harmosync simulate: {chain}\n{probes}; {start}  (ħ = 1, unit masses)"


def quicklook_figure(ds):
    """The quick-look Figure: moments, C of the means and of ⟨x²⟩, correlations."""
    has_pair = "sync" in ds
    rows = 1 + has_pair + ("sync_variance" in ds) + any(n in ds for n, _, _ in CORRELATIONS)
    fig, axes = plt.subplots(rows, 1, figsize=(9.5, 2.3 * rows + 0.6), sharex=True, squeeze=False,
                             layout="constrained")
    axes = list(axes[:, 0])
    moments(ds, ax=axes.pop(0))
    if has_pair:
        sync(ds, ax=axes.pop(0))
    if "sync_variance" in ds:
        sync(ds, ax=axes.pop(0), name="sync_variance")
    if axes:
        correlations(ds, ax=axes.pop(0))
    fig.axes[-1].set_xlabel(lb.time_label())
    fig.axes[0].set_xlim(float(ds.time[0]), float(ds.time[-1]))
    fig.suptitle(title(ds), fontsize="medium")
    return fig


def quicklook(ds, path, *, overwrite: bool = False, fmt: str | None = None):
    """:func:`quicklook_figure` written atomically (``fmt``: png, pdf or svg; default from the
    file name)."""
    from ..io import atomic_path

    fig = quicklook_figure(ds)
    suffix = fmt or str(path).rsplit(".", 1)[-1].lower()
    suffix = suffix if suffix in ("png", "pdf", "svg") else "png"
    try:
        if str(path).endswith(".partial"):  # already a temporary file of the caller's
            fig.savefig(path, format=suffix, dpi=120)
        else:
            with atomic_path(path, overwrite=overwrite) as tmp:
                fig.savefig(tmp, format=suffix, dpi=120)
    finally:
        plt.close(fig)
