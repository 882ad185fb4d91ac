"""Axis labels in one notation, "quantity [unit]", and the drawing helpers every plot shares.

Units come from the files (the registry of observables, :mod:`harmosync.observables`, and the
sweep axes) in harmosync's plain-text form ("1/[w]", "[w]^(-1/2)", "nat", "1"); this module is
the one place that turns them into what a figure shows: powers of the frequency unit as math
text (ω⁻¹ for a time, ω^(−1/2) for a position), "1" for a dimensionless quantity. The paper's
figures write the unit ω₁ (``omega=OMEGA1``), runs of the user's config ω.
"""

from __future__ import annotations

import re

import numpy as np

OMEGA = r"\omega"
OMEGA1 = r"\omega_1"

#: Short math symbols of the registry's observables (their units and long names stay in the
#: registry); a name not here is labelled by its long name.
SYMBOLS = {
    "x": r"$\langle x_i\rangle$", "p": r"$\langle p_i\rangle$", "q1": r"$\langle q_1\rangle$",
    "q2": r"$\langle q_2\rangle$", "energy_probes": r"$\langle H_S\rangle$",
    "sync": r"$C(t, \Delta t)$", "sync_variance": r"$C(t, \Delta t)$ of $\langle x_i^2\rangle$",
    "sync_matrix": r"$C(t, \Delta t)$", "mutual_information_matrix": r"$I$",
    "mutual_information": r"$I$", "log_negativity": r"$E_N$", "discord": r"$D(1|2)$",
    "discord_reverse": r"$D(2|1)$", "classical_correlation": r"$J(1|2)$",
    "renyi2_mutual_information": r"$I_2$", "complete_sync": r"$S_c$", "complete_sync_quantum": r"$S_q$",
}
#: Words for units that are not a power of the frequency unit.
WORDS = {"nat": "nat", "nats": "nat", "rad": "rad", "1": "1", "": "1",
         "site number (1..M)": "site", "probe number (1..P)": "probe"}
#: Legend entry of the hatched band where C(t, Δt) is undefined (Eq. 3's window past the end).
UNDEFINED_LABEL = r"$C$ undefined: $t + \Delta t$" + "\nbeyond the end of the run"
_POWER = re.compile(r"^\[w\](?:\^\(?(-?\d+(?:/\d+)?)\)?)?$")


def unit_text(units: str, *, omega: str = OMEGA) -> str:
    """The display form of a file's ``units`` attribute: "1/[w]" → $\\omega^{-1}$,
    "[w]^(-1/2)" → $\\omega^{-1/2}$, "[w]^2" → $\\omega^{2}$, "nat" → nat, "1" → 1. Units
    with a comment ("[w] (hbar = 1)") keep their first word; anything else is shown as is."""
    u = str(units).strip()
    if u in WORDS:
        return WORDS[u]
    u = u.split(" (")[0].strip()
    if u == "1/[w]":
        return rf"${omega}^{{-1}}$"
    m = _POWER.match(u)
    if m:
        power = m.group(1) or "1"
        return rf"${omega}$" if power == "1" else rf"${omega}^{{{power}}}$"
    if u == "sites*[w]":
        return rf"site ${omega}$"
    return WORDS.get(u, u)


def label(quantity: str, units: str, *, omega: str = OMEGA) -> str:
    """"quantity [unit]", the one notation of every axis and colour bar."""
    return f"{quantity} [{unit_text(units, omega=omega)}]"


def time_label(*, omega: str = OMEGA) -> str:
    from ..observables import TIME_UNITS

    return label("time $t$", TIME_UNITS, omega=omega)


def observable_label(name: str, *, omega: str = OMEGA, symbol: str | None = None) -> str:
    """The label of an observable of the registry (or of a sweep summary ``<name>_<stat>``):
    its symbol and its registry units."""
    from ..observables import ONSET, REGISTRY, TIME_UNITS, series_of

    if name in REGISTRY:
        return label(symbol or SYMBOLS.get(name, REGISTRY[name].long_name), REGISTRY[name].units, omega=omega)
    series, stat = series_of(name)
    sym = symbol or SYMBOLS.get(series, series)
    if stat == ONSET:
        return label(f"onset time of {sym}", TIME_UNITS, omega=omega)
    units = REGISTRY[series].units if series in REGISTRY else ""
    return label(f"{stat} of {sym}" if stat else sym, units, omega=omega)


def math_name(name: str) -> str:
    """A marker name as math text: "τ_R" → $\\tau_R$, "2τ_R" → $2\\tau_R$, "τ_CT" → $\\tau_{CT}$."""
    m = re.match(r"^(\d*)τ_(\w+)$", name)
    if not m:
        return name
    sub = m.group(2)
    return rf"${m.group(1)}\tau_{{{sub}}}$" if len(sub) > 1 else rf"${m.group(1)}\tau_{sub}$"


# ----------------------------------------------------------------------------------------------
# Drawing helpers
# ----------------------------------------------------------------------------------------------
def legend_outside(ax, *, where: str = "right", **kw):
    """A legend outside the axes, where it cannot cover data: to the right of the axes
    (``where="right"``) or in a row just above them (``"above"``, right-aligned)."""
    from matplotlib.lines import Line2D

    kw.setdefault("fontsize", "small")
    kw.setdefault("frameon", False)
    pairs = list(zip(*ax.get_legend_handles_labels()))
    pairs.sort(key=lambda hl: not isinstance(hl[0], Line2D))  # curves first, shaded bands after
    handles, texts = [h for h, _ in pairs], [t for _, t in pairs]
    if where == "above":
        kw.setdefault("ncol", max(1, len(handles)))
        return ax.legend(handles, texts, loc="lower right", bbox_to_anchor=(1.0, 1.0), borderaxespad=0.2,
                         handlelength=1.6, columnspacing=1.0, **kw)
    return ax.legend(handles, texts, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, **kw)


def markers_on_top(ax, times: dict, *, labels: bool = True):
    """Vertical dotted lines at the given times [same units as the x axis]; their names (math
    text) as ticks of a secondary axis along the top, off the data."""
    kept = {k: float(v) for k, v in times.items() if v is not None and np.isfinite(v)}
    for t in kept.values():
        ax.axvline(t, color="0.35", lw=0.8, ls=":", zorder=1)
    if labels and kept:
        top = ax.secondary_xaxis("top")
        top.set_xticks(list(kept.values()), labels=[math_name(k) for k in kept])
        top.tick_params(length=3, pad=1, labelsize="medium")
    return ax


def undefined_band(ax, times, values, *, label: str | None = None):
    """Hatch the trailing times where ``values`` is NaN (the forward window [t, t + Δt] passes
    the end of the run, Eq. 3), so a curve that stops early reads as undefined, not as cut
    (``label``: default :data:`UNDEFINED_LABEL`)."""
    label = UNDEFINED_LABEL if label is None else label
    values = np.asarray(values, dtype=float)
    times = np.asarray(times, dtype=float)
    finite = np.flatnonzero(np.isfinite(values))
    if finite.size == 0 or finite[-1] == values.size - 1:
        return None
    return ax.axvspan(times[finite[-1]], times[-1], facecolor="0.92", edgecolor="0.6", hatch="///", lw=0,
                      zorder=0.5, label=label)  # above shaded regions (zorder 0), below curves


def dense_line(ax, t, y, *, color, label: str, pixels: int = 400, lw: float = 0.8, zorder: float = 2,
               phase: int = 0, **kw):
    """A curve that stays readable when it oscillates faster than the figure resolves (more than
    one extremum per ``pixels``-th of the time range): then its min–max envelope over bins of a
    few oscillations is drawn translucent, with the bin mean as a line (or, for an oscillation
    about zero, the envelope outlined), instead of a solid block that hides every other curve. An identically zero curve is drawn dashed, "≡ 0"."""
    t, y = np.asarray(t, float), np.asarray(y, float)
    finite = np.isfinite(y)
    if y.size and np.all(y[finite] == 0):
        return ax.plot(t, y, color=color, lw=1.4, ls=(4 * phase, (4, 4)), label=f"{label} ≡ 0", zorder=zorder + 1,
                       **kw)
    extrema = np.count_nonzero(np.diff(np.sign(np.diff(y[finite])))) if finite.sum() > 2 else 0
    if extrema > pixels:
        nb = int(np.clip(extrema // 4, 50, pixels))
        n = y.size // nb
        yb, tb = y[:nb * n].reshape(nb, n), t[:nb * n].reshape(nb, n).mean(axis=1)
        ok = np.isfinite(yb).any(axis=1)
        yb, tb = yb[ok], tb[ok]
        lo, hi = np.nanmin(yb, axis=1), np.nanmax(yb, axis=1)
        ax.fill_between(tb, lo, hi, color=color, alpha=0.2, lw=0, zorder=zorder)
        if np.nanmin(y) < 0 < np.nanmax(y):  # an oscillation about zero: its envelope, outlined
            ax.plot(tb, lo, color=color, lw=lw, zorder=zorder + 0.5, **kw)
            return ax.plot(tb, hi, color=color, lw=lw, zorder=zorder + 0.5, label=f"{label} (envelope)", **kw)
        return ax.plot(tb, np.nanmean(yb, axis=1), color=color, lw=lw * 1.4, zorder=zorder + 0.5,
                       label=f"{label} (band: range, line: mean)", **kw)
    return ax.plot(t, y, color=color, lw=lw, label=label, zorder=zorder, **kw)
