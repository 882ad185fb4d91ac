"""Fig. 3: synchronization by crosstalk (paper Sec. IV B).

Uncoupled probes (λ = 0, δω/ω1 = 0.1) at the opposite edges, sites 1 and M = 300, K = 0.2,
Ω0 = 0.4, g = 1.2. The paper: during independent dissipation (t < τ_CT) the probes lose their
energy and do not synchronize; at the crosstalk time τ_CT = τ_R/2 each starts to receive the
other's broadband signal, the oscillations rise again with a beating, and perfect
synchronization emerges until τ_R, when each receives its own reflection. Two initial states:
symmetric x1 = x2 = 1.4, p = 0 and asymmetric x1 = x2 = 2, p1 = 0, p2 = 10 ("10√ω1"); the
asymmetric one synchronizes with a delay, C between ⟨x1(t)⟩ and ⟨x2(t + τ)⟩.

The shaded regions and the zoom window use τ_CT and τ_R from
:func:`harmosync.analysis.times.characteristic_times` (group velocity at the probe
frequencies). Open choices: see :data:`CHOICES`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dynamics as dy
from .. import measures as ms
from ..analysis.times import characteristic_times
from ..errors import HarmosyncError
from ..network import Network, chain, couple, probes
from . import common

TITLE = "synchronization by crosstalk between probes at opposite edges"


@dataclass(frozen=True)
class Params:
    """Fig. 3 caption values (ω1 = 1 units) and the recipe's open choices."""

    frequencies: tuple[float, float] = (1.0, 1.1)  # δω/ω1 = 0.1
    coupling: float = 0.0
    strengths: tuple[float, float] = (0.2, 0.2)
    plug: tuple[int, int] = (1, 300)  # opposite edges, 1 and M
    sites: int = 300
    omega0: float = 0.4
    g: float = 1.2
    symmetric_x0: tuple[float, float] = (1.4, 1.4)
    symmetric_p0: tuple[float, float] = (0.0, 0.0)
    asymmetric_x0: tuple[float, float] = (2.0, 2.0)
    asymmetric_p0: tuple[float, float] = (0.0, 10.0)  # "p2(0) = 10√ω1"
    max_delay: float = np.pi  # delays searched in [−max_delay, max_delay] [1/ω1]
    zoom_width: float = 100.0  # panel (c): [τ_CT, τ_CT + zoom_width] [1/ω1]
    stop: float = 1500.0
    step: float = 0.05
    window: float = 20.0

    def __post_init__(self):
        common.check_run(self.stop, self.step, self.window)
        if not (np.isfinite(self.max_delay) and 0 <= self.max_delay < self.stop / 4):
            raise HarmosyncError(f"max_delay must be in [0, stop/4), got {self.max_delay!r}")


CHOICES = {
    "initial_state": "coherent states at the caption's x(0), p(0); " + common.ENVIRONMENT_REASON,
    "delay": (
        "the paper does not say how the delay is chosen; harmosync takes the τ in [−π/ω1, π/ω1] (half a "
        "period of probe 1: a longer delay only adds whole periods) on the time grid that maximises the "
        "mean C over the crosstalk window [τ_CT + Δt, τ_R − 2Δt] (measures.best_delay; searched every 0.25, "
        "then refined on the 0.05 grid); the symmetric case has no delay (best_delay = 0, not searched)"
    ),
    "regions": "independent dissipation [0, τ_CT], crosstalk [τ_CT, τ_R], revival [τ_R, end] with τ_CT, τ_R "
               "from analysis.times.characteristic_times (carrier group velocity at the probe frequencies)",
    "zoom": "panel (c) shows the symmetric case on [τ_CT, τ_CT + 100], where the oscillations rise again",
    "window": common.WINDOW_REASON,
    "time_range": common.STOP_REASON,
    "step": common.STEP_REASON,
}

CASES = ("symmetric", "asymmetric")


def network(params: Params) -> Network:
    return couple(chain(params.sites, params.omega0, params.g),
                  probes(params.frequencies, params.coupling, params.plug, params.strengths))


def crosstalk_window(ct, window: float) -> tuple[float, float]:
    """[τ_CT + Δt, τ_R − 2Δt] [1/ω1]: start times whose forward window [t, t + Δt] lies in the
    crosstalk region, with a margin of Δt before τ_R because the revival is not sharp — the
    reflected signal's precursor reaches the probes ≈ 15–20 before τ_R (carrier), so that C with
    Δt = 20 starts to fall at t ≈ 620 for the paper's parameters (docs/paper.md)."""
    return ct.tau_crosstalk + window, ct.tau_revival - 2 * window


def best_delay(x1, x2, times, step: float, window: float, delays, span, *, coarse: int = 5) -> float:
    """:func:`harmosync.measures.best_delay` over ``span`` = (start, stop): first on every
    ``coarse``-th delay, then on all delays within ``coarse`` steps of the coarse best (the mean
    C is smooth in τ on the scale of a period, 2π/ω ≈ 6), and on only the samples the delayed
    windows touch (the same scores as on the whole run)."""
    delays = np.asarray(delays, dtype=float)
    k = round(float(np.max(np.abs(delays))) / step)
    n = ms.window_samples(step, window)
    i0 = max(0, int(np.searchsorted(times, span[0])) - k)
    i1 = min(times.size, int(np.searchsorted(times, span[1], side="right")) + n + k + 1)
    f, g, tt = x1[i0:i1], x2[i0:i1], times[i0:i1]
    rough, _ = ms.best_delay(f, g, step, window, delays[::coarse], t_range=span, times=tt)
    near = delays[np.abs(delays - rough) <= coarse * step * (1 + 1e-9)]
    best, _ = ms.best_delay(f, g, step, window, near, t_range=span, times=tt)
    return best


@common.one_thread
def compute(params: Params = Params()):
    """⟨x_i⟩, C(t) and the delayed C(t; τ*) for both initial states (exact means)."""
    import xarray as xr

    t = common.time_grid(params.stop, params.step)
    net = network(params)
    ct = characteristic_times(net)
    if ct.tau_crosstalk is None:
        raise HarmosyncError("Fig. 3 needs the probes at two different sites (no crosstalk time otherwise)")
    span = crosstalk_window(ct, params.window)
    n_delay = int(np.floor(params.max_delay / params.step + 1e-9))
    delays = params.step * np.arange(-n_delay, n_delay + 1)
    starts = [(params.symmetric_x0, params.symmetric_p0), (params.asymmetric_x0, params.asymmetric_p0)]
    x = np.empty((2, t.size, 2))
    c = np.empty((2, t.size))
    cd = np.empty((2, t.size))
    best = np.empty(2)
    for i, (x0, p0) in enumerate(starts):
        state = common.coherent_pair(params.frequencies, x0, p0)
        m = dy.solve(net, state, covariance=False, t_max=t[-1]).means(t)
        x1, x2 = m[:, 0], m[:, 2]
        x[i] = m[:, 0::2]
        c[i] = ms.sync_factor(x1, x2, params.step, params.window)
        # the symmetric state is drawn without delay (the paper's solid line); only the
        # asymmetric one is searched
        best[i] = 0.0 if i == 0 else best_delay(x1, x2, t, params.step, params.window, delays, span)
        cd[i] = ms.sync_factor(x1, x2, params.step, params.window, delay=best[i])
    ds = xr.Dataset(
        {"x": (("case", "time", "probe"), x), "sync": (("case", "time"), c),
         "sync_delayed": (("case", "time"), cd), "best_delay": (("case",), best)},
        coords={"case": list(CASES), "time": t, "probe": [1, 2],
                "x0": (("case", "probe"), [list(s[0]) for s in starts]),
                "p0": (("case", "probe"), [list(s[1]) for s in starts])},
    )
    ds["x"].attrs["long_name"] = "first moment <x_i>"
    ds["sync"].attrs.update(long_name="synchronization factor C(t, window) of <x1>, <x2>, Eq. (3)",
                            window=params.window)
    ds["sync_delayed"].attrs.update(units="1", long_name="C(t, window) of <x1(t')> and <x2(t' + best_delay)> (Sec. IV B)",
                                    window=params.window)
    ds["best_delay"].attrs.update(units="1/[w]", long_name="delay maximising the mean C over the crosstalk window",
                                  t_range=np.array(span))
    ds["x0"].attrs.update(units="[w]^(-1/2)", long_name="<x_i(0)>")
    ds["p0"].attrs.update(units="[w]^(1/2)", long_name="<p_i(0)>")
    return common.finish(ds, figure=3, title=TITLE, params=params, choices=CHOICES, network=net)


def draw(ds):
    """(a) ⟨x1⟩, ⟨x2⟩ (symmetric), (b) C(t): symmetric, and asymmetric delayed (grey: without the
    delay), (c) the symmetric dynamics in [τ_CT, τ_CT + zoom]; regions shaded in (a), (b)."""
    import matplotlib.pyplot as plt

    from ..plot import labels, paper

    p = common.read_params(Params, ds)
    taus = (ds.attrs["times.tau_crosstalk"], ds.attrs["times.tau_revival"])
    fig, axes = plt.subplots(3, 1, figsize=(9.5, 8.4), height_ratios=(1.1, 1.0, 1.0), layout="constrained")
    sym, asym = ds.sel(case="symmetric"), ds.sel(case="asymmetric")
    end = float(ds.time[-1])
    paper.positions(sym["x"], ax=axes[0], lw=0.5)
    paper.time_regions(taus, ax=axes[0], t_end=end)
    labels.legend_outside(axes[0])
    paper.sync(sym["sync"], ax=axes[1], label="symmetric")
    paper.sync(asym["sync_delayed"], ax=axes[1], color="tab:red", ls="--", undefined=False,
               label=f"asymmetric, delay\n$\\tau = {float(asym.best_delay):.2f}$")
    paper.sync(asym["sync"], ax=axes[1], color="0.6", lw=0.5, undefined=False, label="asymmetric,\nno delay")
    paper.time_regions(taus, ax=axes[1], t_end=end, labels=False)
    labels.legend_outside(axes[1])
    for ax in axes[:2]:
        ax.set_xlim(float(ds.time[0]), end)
        ax.set_xlabel(paper.TIME_LABEL)
        paper.tau_markers({"τ_CT": taus[0], "τ_R": taus[1]}, ax=ax, labels=ax is axes[0])
    a, b = taus[0], taus[0] + p.zoom_width
    paper.positions(sym["x"].sel(time=slice(a, b)), ax=axes[2], lw=0.9)
    axes[2].set_xlim(a, b)
    axes[2].set_gid("zoom")  # a zoom: the one panel whose time range differs on purpose
    axes[2].set_xlabel(paper.TIME_LABEL)
    axes[2].set_title("(c) symmetric state: the oscillations rise again when the other probe's signal arrives",
                      fontsize=paper.TITLE_SIZE, loc="left")
    axes[0].set_title(f"(a) symmetric state $x(0) = {tuple(p.symmetric_x0)}$, $p(0) = {tuple(p.symmetric_p0)}$",
                      fontsize=paper.TITLE_SIZE, loc="left")
    axes[1].set_title(f"(b) synchronization factor; asymmetric state $x(0) = {tuple(p.asymmetric_x0)}$, "
                      f"$p(0) = {tuple(p.asymmetric_p0)}$", fontsize=paper.TITLE_SIZE, loc="left")
    fig.suptitle(f"Fig. 3  λ = {p.coupling:g}, ω₂/ω₁ = {p.frequencies[1] / p.frequencies[0]:g}, probes at sites "
                 f"{p.plug[0]} and {p.plug[1]}, K = {p.strengths[0]:g}, M = {p.sites}, Ω₀ = {p.omega0:g}, "
                 f"g = {p.g:g};  $\\tau_{{CT}}$ = {taus[0]:.0f}, $\\tau_R$ = {taus[1]:.0f}", fontsize=paper.TITLE_SIZE)
    return fig
