"""Fig. 6: C(t) against the plugging site m of the second probe and time (paper Sec. III B, App. B).

Probe 1 at site 1, probe 2 at site m = 1…300 of the 300-site chain (Ω0 = 0.4, g = 1.2);
ω2/ω1 = 1.1, λ = 0.5, K = 0.06. The paper: in a triangular region — m far from both ends, before
crosstalk and before the echo of probe 2 from the nearer end — the probes dissipate independently
and do not synchronize, whatever m is; afterwards crosstalk and reflections make C depend
strongly and non-monotonically on m, often with synchronization at later times.

Only the first moments are needed: the networks share the chain, so
:func:`harmosync.dynamics.solve_many` computes the chain with probe 1 once and adds probe 2 per m
(one secular equation), then the trig sums of ⟨x1⟩, ⟨x2⟩ per m (:func:`dynamics.many.means_many`,
one thread per core), with one BLAS thread (:func:`common.one_thread`); the same path a sweep over
a plugging site takes. C is evaluated at every ``every`` in time from samples at
``step`` (:func:`harmosync.measures.sync_factor` sampled every ``every``).
Open choices: :data:`CHOICES`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dynamics as dy
from .. import measures as ms
from ..analysis.times import characteristic_times
from ..dynamics.many import cores, means_many
from ..errors import HarmosyncError
from ..network import Network, chain, couple, probes
from . import common

#: ``compute`` takes ``progress=`` (a bar over the plugging sites).
SLOW = True

TITLE = "synchronization map against the plugging site of probe 2 and time"


@dataclass(frozen=True)
class Params:
    """Fig. 6 caption values (ω1 = 1 units) and the recipe's open choices."""

    frequencies: tuple[float, float] = (1.0, 1.1)
    coupling: float = 0.5
    strengths: tuple[float, float] = (0.06, 0.06)
    first_site: int = 1
    second_sites: tuple[int, ...] | None = None  # None: every site 1..M
    sites: int = 300
    omega0: float = 0.4
    g: float = 1.2
    x0: tuple[float, float] = (0.14, 1.4)
    p0: tuple[float, float] = (0.0, 0.0)
    stop: float = 1500.0
    step: float = 0.1  # sampling of the signals [1/ω1]
    every: float = 1.0  # spacing of the map in time [1/ω1]
    window: float = 20.0

    def __post_init__(self):
        common.check_run(self.stop, self.step, self.window)
        k = self.every / self.step
        if not (np.isfinite(k) and k >= 1 and abs(k - round(k)) < 1e-9):
            raise HarmosyncError(f"figure parameter every = {self.every!r} must be a whole multiple of step = {self.step:g}")
        if self.second_sites is not None and not all(
                isinstance(m, (int, np.integer)) and 1 <= m <= self.sites for m in self.second_sites):
            raise HarmosyncError(f"second_sites must be sites in 1..{self.sites}, got {self.second_sites}")

    @property
    def plugging_sites(self) -> tuple[int, ...]:
        return tuple(range(1, self.sites + 1)) if self.second_sites is None else tuple(int(m) for m in self.second_sites)


CHOICES = {
    "initial_state": (
        "the caption gives none; Fig. 1's x(0) = (0.14, 1.4), p(0) = 0 (coherent states), since Fig. 6 "
        "has Fig. 1's probes (omega2/omega1 = 1.1, lambda = 0.5) and is Fig. 1's configuration at m = 1; "
        + common.ENVIRONMENT_REASON
    ),
    "time_range": "0 <= t <= 1500 as in the other figures; the paper's axis range is not in its text",
    "step": (
        "signals sampled at 0.1 (60 samples per probe period; C differs from the 0.05 sampling of the "
        "other figures by at most 1.3e-4, measured at m = 1, 75, 150, 225, 300), C stored every 1.0 "
        "(the plot's resolution)"
    ),
    "window": common.WINDOW_REASON,
    "lines": (
        "dashed: crosstalk tau_CT(m) = (m - 1)/v; dotted: echo of probe 2 from the nearer end, "
        "2 min(m, M + 1 - m)/v2; dash-dotted: revival tau_R(m) (analysis.times.characteristic_times, "
        "carrier group velocities v at the probe frequencies). The triangular region is below both of "
        "the first two"
    ),
}


def network(params: Params, m: int) -> Network:
    return couple(chain(params.sites, params.omega0, params.g),
                  probes(params.frequencies, params.coupling, (params.first_site, m), params.strengths))


@common.one_thread
def compute(params: Params = Params(), *, progress: bool = False):
    """C(t) of ⟨x1⟩, ⟨x2⟩ for every plugging site m (dims site, time), with the characteristic
    times τ_CT(m), τ_echo(m), τ_R(m) [1/ω1]. ``progress``: show a tqdm bar over m."""
    import xarray as xr

    t = common.time_grid(params.stop, params.step)
    stride = round(params.every / params.step)
    sites = params.plugging_sites
    state = common.coherent_pair(params.frequencies, params.x0, params.p0)
    env = chain(params.sites, params.omega0, params.g)  # one chain (and its stability bounds) for all m
    nets = [couple(env, probes(params.frequencies, params.coupling, (params.first_site, m), params.strengths))
            for m in sites]
    evolutions = dy.solve_many(nets, state, covariance=False, t_max=t[-1])
    out = np.empty((len(sites), t[::stride].size))
    tau_ct, tau_echo, tau_r = (np.empty(len(sites)) for _ in range(3))
    bar = sites
    if progress:
        from tqdm import tqdm

        bar = tqdm(sites, desc="Fig. 6 sites", unit="site", leave=False)
    for i, m in enumerate(bar):
        ct = characteristic_times(nets[i])
        tau_ct[i] = np.nan if ct.tau_crosstalk is None else ct.tau_crosstalk
        tau_echo[i] = 2 * min(m, params.sites + 1 - m) / ct.group_velocity[1]
        tau_r[i] = ct.tau_revival
    # ⟨x1⟩, ⟨x2⟩ only (half the trig sums), then C of every site at once (sync_factor works
    # through the stack in cache-sized blocks); both on every core
    x = means_many(evolutions, t, columns=(0, 2))
    out[:] = ms.sync_factor(x[:, :, 0], x[:, :, 1], params.step, params.window, workers=cores())[:, ::stride]
    del x
    ds = xr.Dataset(
        {"sync": (("site", "time"), out), "tau_crosstalk": (("site",), tau_ct),
         "tau_echo": (("site",), tau_echo), "tau_revival": (("site",), tau_r)},
        coords={"site": list(sites), "time": t[::stride]},
    )
    ds["site"].attrs["long_name"] = "plugging site m of probe 2 (1..M)"
    ds["sync"].attrs.update(long_name="synchronization factor C(t, window) of <x1>, <x2>, Eq. (3)",
                            window=params.window, sampling_step=params.step)
    ds["tau_crosstalk"].attrs.update(units="1/[w]", long_name="crosstalk time |m - 1| / v (analysis.times)")
    ds["tau_echo"].attrs.update(units="1/[w]", long_name="echo of probe 2 from the nearer chain end, 2 min(m, M+1-m) / v2")
    ds["tau_revival"].attrs.update(units="1/[w]", long_name="revival time (analysis.times)")
    ds = common.finish(ds, figure=6, title=TITLE, params=params, choices=CHOICES, network=network(params, sites[-1]))
    ds.attrs["times.second_site"] = int(sites[-1])  # the global times.* are for this m; per-m ones are variables
    return ds


def triangle(ds, *, margin: float | None = None):
    """Boolean (site, time) mask of the triangular region of App. B: t + Δt before both the
    crosstalk and the near-end echo of probe 2 (so the whole forward window is inside), and
    t ≥ ``margin`` (default 2Δt, past the initial transient)."""
    window = float(ds["sync"].attrs["window"])
    margin = 2 * window if margin is None else margin
    edge = np.fmin(ds["tau_crosstalk"], ds["tau_echo"])
    return (ds["time"] >= margin) & (ds["time"] + window < edge)


def draw(ds):
    """The map (x: m, y: t) at its own resolution (one cell per site and stored time), diverging
    colours centred on C = 0, with the τ curves; the band at the end where C is undefined (the
    forward window [t, t + Δt] passes the end of the run) hatched. Returns the Figure."""
    import matplotlib.pyplot as plt

    from ..plot import labels, paper

    p = common.read_params(Params, ds)
    fig, ax = plt.subplots(figsize=(9.5, 6.4), layout="constrained")
    paper.sync_map(ds["sync"], ax=ax)
    paper.site_lines(ds, ax=ax, names={"tau_crosstalk": "crosstalk $\\tau_{CT}(m)$",
                                       "tau_echo": "echo of probe 2 (nearer end)",
                                       "tau_revival": "revival $\\tau_R(m)$"})
    ax.set_ylim(float(ds.time[0]), float(ds.time[-1]))
    labels.legend_outside(ax, where="above", ncol=4)
    ax.text(0.7 * p.sites, 0.25 * float(np.nanmax(ds["tau_crosstalk"])), "triangle: independent\ndissipation, no sync",
            ha="center", va="center", fontsize="small")
    ax.set_title(f"synchronization factor $C(t, \\Delta t = {p.window:g})$ of $\\langle x_1\\rangle$, "
                 "$\\langle x_2\\rangle$", fontsize=paper.TITLE_SIZE, loc="left", pad=22)
    fig.suptitle(f"Fig. 6  ω₂/ω₁ = {p.frequencies[1] / p.frequencies[0]:g}, λ = {p.coupling:g}, "
                 f"K = {p.strengths[0]:g}, Ω₀ = {p.omega0:g}, g = {p.g:g}, M = {p.sites}, probe 1 at site "
                 f"{p.first_site}, x(0) = {p.x0}", fontsize=paper.TITLE_SIZE)
    return fig
