"""Fig. 1: synchronization via weak dissipation (paper Sec. III A).

Two coupled, detuned probes (ω2/ω1 = 1.1, λ = 0.5) both at site 1 of a 300-site chain
(Ω0 = 0.4, g = 1.2), K = 0.2. The paper: C(t) of ⟨x1⟩, ⟨x2⟩ shows perfect anti-synchronization
up to the revival τ_R (only x+ = x1 + x2 couples to the chain, so q2 is damped and q1 survives,
Eq. 9); at τ_R the reflected signal degrades it and regrows ⟨q1⟩; it is restored until ≈ 2τ_R.
With the repulsive K2 = −0.2 (Kx2X1 → −Kx2X1), x− couples instead and the probes synchronize.

Open choices (recorded in the file as ``choice.*``): p(0) = 0 and coherent states; Δt = 20;
0 ≤ t ≤ 1500 at step 0.05. See :data:`CHOICES`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dynamics as dy
from .. import measures as ms
from ..network import Network, chain, couple, probes, system_mode_coordinates, system_normal_modes
from . import common

TITLE = "anti-synchronization via weak dissipation, and synchronization with the flipped coupling"


@dataclass(frozen=True)
class Params:
    """Fig. 1 caption values (ω1 = 1 units) and the recipe's open choices."""

    frequencies: tuple[float, float] = (1.0, 1.1)  # ω1, ω2 [ω1]
    coupling: float = 0.5  # λ [ω1²]
    strengths: tuple[float, float] = (0.2, 0.2)  # K1, K2 [ω1²]
    flipped_strength: float = -0.2  # K2 of the repulsive variant (Sec. III A) [ω1²]
    plug: tuple[int, int] = (1, 1)  # sites of probes 1, 2 (1..M)
    sites: int = 300  # M
    omega0: float = 0.4  # Ω0 [ω1]
    g: float = 1.2  # [ω1²]
    x0: tuple[float, float] = (0.14, 1.4)  # ⟨x_i(0)⟩ [ω1^(-1/2)]
    p0: tuple[float, float] = (0.0, 0.0)  # ⟨p_i(0)⟩ [ω1^(1/2)]
    stop: float = 1500.0  # [1/ω1]
    step: float = 0.05  # [1/ω1]
    window: float = 20.0  # Δt of Eq. (3) [1/ω1]

    def __post_init__(self):
        common.check_run(self.stop, self.step, self.window)


CHOICES = {
    "initial_state": "coherent states (displaced vacua of the bare probes) at the caption's x(0); "
                     "the caption gives no p(0), so p(0) = 0; " + common.ENVIRONMENT_REASON,
    "window": common.WINDOW_REASON,
    "time_range": common.STOP_REASON,
    "step": common.STEP_REASON,
    "flipped_strength": "Sec. III A's repulsive variant Kx2X1 -> -Kx2X1: K2 = -K, everything else equal",
}

CASES = ("attractive", "repulsive")


def network(params: Params, k2: float | None = None) -> Network:
    """The Fig. 1 network; ``k2`` replaces probe 2's K (the flipped variant)."""
    k = params.strengths if k2 is None else (params.strengths[0], k2)
    return couple(chain(params.sites, params.omega0, params.g),
                  probes(params.frequencies, params.coupling, params.plug, k))


@common.one_thread
def compute(params: Params = Params()):
    """⟨x_i⟩, ⟨q_s⟩ and C(t) of ⟨x1⟩, ⟨x2⟩ for K2 = +K (``case = attractive``) and the flipped
    K2 (``case = repulsive``). Exact normal-mode evolution of the means
    (:func:`harmosync.dynamics.solve`, first moments only)."""
    import xarray as xr

    t = common.time_grid(params.stop, params.step)
    theta, omegas = system_normal_modes(params.frequencies, params.coupling)
    state = common.coherent_pair(params.frequencies, params.x0, params.p0)
    xs, cs, qs = [], [], []
    nets = [network(params), network(params, params.flipped_strength)]
    for net in nets:
        # only the first moments are plotted; they follow the classical equations of motion
        m = dy.solve(net, state, covariance=False, t_max=t[-1]).means(t)
        x1, x2 = m[:, 0], m[:, 2]
        xs.append(np.column_stack([x1, x2]))
        qs.append(np.column_stack(system_mode_coordinates(x1, x2, theta)))
        cs.append(ms.sync_factor(x1, x2, params.step, params.window))
    ds = xr.Dataset(
        {
            "x": (("case", "time", "probe"), np.array(xs)),
            "q1": (("case", "time"), np.array(qs)[:, :, 0]),
            "q2": (("case", "time"), np.array(qs)[:, :, 1]),
            "sync": (("case", "time"), np.array(cs)),
        },
        coords={"case": list(CASES), "time": t, "probe": [1, 2],
                "K2": ("case", [params.strengths[1], params.flipped_strength])},
    )
    ds["x"].attrs["long_name"] = "first moment <x_i>"
    ds["q1"].attrs["long_name"] = "system normal mode q1 = cos(theta) x1 + sin(theta) x2 (Eq. A4), lower frequency"
    ds["q2"].attrs["long_name"] = "system normal mode q2 = -sin(theta) x1 + cos(theta) x2 (Eq. A5)"
    ds["sync"].attrs.update(long_name="synchronization factor C(t, window) of <x1>, <x2>, Eq. (3)",
                            window=params.window)
    ds["K2"].attrs.update(units="[w]^2", long_name="coupling of probe 2 to the chain")
    ds.attrs.update(theta=theta, Omega1=float(omegas[0]), Omega2=float(omegas[1]))
    return common.finish(ds, figure=1, title=TITLE, params=params, choices=CHOICES, network=nets[0])


def draw(ds):
    """(a) C(t) for both signs of K2, (b) ⟨q1⟩, ⟨q2⟩ for K2 = +K (the paper's lower panel),
    (c) the same for the flipped K2; τ_R and 2τ_R marked. Returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    from ..plot import labels, paper

    tau_r = ds.attrs["times.tau_revival"]
    fig, axes = plt.subplots(3, 1, figsize=(9.0, 7.6), sharex=True, height_ratios=(1.0, 1.2, 1.2),
                             layout="constrained")
    a = ds.sel(case="attractive")
    r = ds.sel(case="repulsive")
    paper.sync(a["sync"], ax=axes[0], label=f"$K_2 = {float(a.K2):+g}$")
    paper.sync(r["sync"], ax=axes[0], color="tab:red", ls="--", undefined=False,
               label=f"$K_2 = {float(r.K2):+g}$\n(Sec. III A)")
    labels.legend_outside(axes[0])
    paper.normal_modes(a, ax=axes[1])
    paper.normal_modes(r, ax=axes[2])
    axes[0].set_title("synchronization factor of $\\langle x_1\\rangle$, $\\langle x_2\\rangle$",
                      fontsize=paper.TITLE_SIZE, loc="left")
    axes[1].set_title(f"$K_1 = K_2 = {float(a.K2):g}$: $q_1$ ($\\approx x_+$) damped, $q_2$ survives: "
                      "anti-synchronization", fontsize=paper.TITLE_SIZE, loc="left")
    axes[2].set_title(f"$K_2 = {float(r.K2):+g}$: $q_2$ ($\\approx x_-$) damped, $q_1$ survives: "
                      "synchronization", fontsize=paper.TITLE_SIZE, loc="left")
    for i, ax in enumerate(axes):
        paper.tau_markers({"τ_R": tau_r, "2τ_R": 2 * tau_r}, ax=ax, labels=i == 0)
    axes[-1].set_xlabel(paper.TIME_LABEL)
    axes[-1].set_xlim(float(ds.time[0]), float(ds.time[-1]))
    p = common.read_params(Params, ds)
    fig.suptitle(f"Fig. 1  ω₂/ω₁ = {p.frequencies[1] / p.frequencies[0]:g}, λ = {p.coupling:g}, "
                 f"K = {p.strengths[0]:g}, M = {p.sites}, Ω₀ = {p.omega0:g}, g = {p.g:g}, "
                 f"x(0) = {p.x0}", fontsize=paper.TITLE_SIZE)
    return fig
