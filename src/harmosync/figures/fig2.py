"""Fig. 2: uncoupled probes at a common node (paper Sec. IV A).

λ = 0, ω2/ω1 = 1.1, both probes at site 1 of the 300-site chain (Ω0 = 0.4, g = 1.2), with
K = 0.1 and K = 0.8. The paper: at weak coupling the probes keep oscillating at their own
(Lamb-shifted) detuned frequencies and never synchronize; at K = 0.8, after a fast decay, they
settle into steady, large oscillations at a frequency below both probe frequencies (the paper
says "the lowest frequency of the chain Ω0 = 0.4"), perfectly synchronized, until the revival.

The caption gives no initial state (open choice, see :data:`CHOICES`). The recipe uses
x1(0) = x2(0) = 1.4, p(0) = 0 and also computes the Fig. 1 displacement x(0) = (0.14, 1.4) as
the alternative (``initial = alternative``); the two differ at K = 0.8 (docs/paper.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dynamics as dy
from .. import measures as ms
from ..network import Network, chain, couple, probes
from . import common

TITLE = "uncoupled probes at a common node: no sync at K = 0.1, sync at K = 0.8"


@dataclass(frozen=True)
class Params:
    """Fig. 2 caption values (ω1 = 1 units) and the recipe's open choices."""

    frequencies: tuple[float, float] = (1.0, 1.1)  # ω1, ω2 [ω1]
    coupling: float = 0.0  # λ [ω1²]
    strengths: tuple[float, ...] = (0.1, 0.8)  # the K of each curve (both probes) [ω1²]
    plug: tuple[int, int] = (1, 1)
    sites: int = 300
    omega0: float = 0.4
    g: float = 1.2
    x0: tuple[float, float] = (1.4, 1.4)  # [ω1^(-1/2)]
    p0: tuple[float, float] = (0.0, 0.0)  # [ω1^(1/2)]
    alternative_x0: tuple[float, float] = (0.14, 1.4)  # Fig. 1's displacement
    alternative_p0: tuple[float, float] = (0.0, 0.0)
    stop: float = 1500.0
    step: float = 0.05
    window: float = 20.0

    def __post_init__(self):
        common.check_run(self.stop, self.step, self.window)


CHOICES = {
    "initial_state": (
        "the caption gives none; x1(0) = x2(0) = 1.4, p(0) = 0 (coherent states) is the paper's own state "
        "for uncoupled probes of the same detuning (Fig. 3, symmetric case) and excites both probes "
        "equally, as the text's 'generic initial condition exciting the two probes'; the Fig. 1 "
        "displacement x(0) = (0.14, 1.4) is computed too (initial = alternative): with it, C at K = 0.8 "
        "does not reach 1 before the revival (docs/paper.md). " + common.ENVIRONMENT_REASON
    ),
    "window": common.WINDOW_REASON,
    "time_range": common.STOP_REASON,
    "step": common.STEP_REASON,
}

INITIAL = ("primary", "alternative")


def network(params: Params, k: float) -> Network:
    """Both probes plugged at ``params.plug`` with the same K = ``k``."""
    return couple(chain(params.sites, params.omega0, params.g),
                  probes(params.frequencies, params.coupling, params.plug, (k, k)))


@common.one_thread
def compute(params: Params = Params()):
    """⟨x_i⟩ and C(t) of ⟨x1⟩, ⟨x2⟩ for every K and both initial states (exact means)."""
    import xarray as xr

    t = common.time_grid(params.stop, params.step)
    nets = [network(params, k) for k in params.strengths]
    starts = [(params.x0, params.p0), (params.alternative_x0, params.alternative_p0)]
    x = np.empty((len(starts), len(nets), t.size, 2))
    c = np.empty((len(starts), len(nets), t.size))
    for j, net in enumerate(nets):
        for i, (x0, p0) in enumerate(starts):
            state = common.coherent_pair(params.frequencies, x0, p0)
            m = dy.solve(net, state, covariance=False, t_max=t[-1]).means(t)
            x[i, j] = m[:, 0::2]
            c[i, j] = ms.sync_factor(m[:, 0], m[:, 2], params.step, params.window)
    ds = xr.Dataset(
        {"x": (("initial", "K", "time", "probe"), x), "sync": (("initial", "K", "time"), c)},
        coords={"initial": list(INITIAL), "K": list(params.strengths), "time": t, "probe": [1, 2],
                "x0": (("initial", "probe"), [list(params.x0), list(params.alternative_x0)]),
                "p0": (("initial", "probe"), [list(params.p0), list(params.alternative_p0)])},
    )
    ds["x"].attrs["long_name"] = "first moment <x_i>"
    ds["sync"].attrs.update(long_name="synchronization factor C(t, window) of <x1>, <x2>, Eq. (3)",
                            window=params.window)
    ds["K"].attrs.update(units="[w]^2", long_name="coupling K of both probes to site 1")
    ds["x0"].attrs.update(units="[w]^(-1/2)", long_name="<x_i(0)>")
    ds["p0"].attrs.update(units="[w]^(1/2)", long_name="<p_i(0)>")
    return common.finish(ds, figure=2, title=TITLE, params=params, choices=CHOICES, network=nets[0])


def draw(ds):
    """Top: C(t) for each K (primary initial state; the alternative state's strongest-K curve in
    grey). Bottom: ⟨x1⟩, ⟨x2⟩ for the weakest (left) and strongest (right) K."""
    import matplotlib.pyplot as plt

    from ..plot import labels, paper

    tau_r = ds.attrs["times.tau_revival"]
    p = common.read_params(Params, ds)
    fig = plt.figure(figsize=(10.0, 6.8), layout="constrained")
    grid = fig.add_gridspec(2, 2, height_ratios=(1.0, 1.1))
    top = fig.add_subplot(grid[0, :])
    bottom = [fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])]
    prim = ds.sel(initial="primary")
    ks = [float(k) for k in ds.K.values]
    styles = [{"color": "k", "ls": "-"}, {"color": "tab:red", "ls": ":", "lw": 1.3}]
    for i, (k, style) in enumerate(zip(ks, styles * len(ks))):
        paper.sync(prim["sync"].sel(K=k), ax=top, label=f"$K = {k:g}$", undefined=i == 0, **style)
    alt = ds.sel(initial="alternative", K=ks[-1])
    x0 = tuple(float(v) for v in alt.x0.values)
    paper.sync(alt["sync"], ax=top, color="0.55", lw=0.7, undefined=False,
               label=f"$K = {ks[-1]:g}$, Fig. 1's\n$x(0) = {x0}$")
    labels.legend_outside(top)
    top.set_title(f"synchronization factor of $\\langle x_1\\rangle$, $\\langle x_2\\rangle$, "
                  f"$x(0) = {tuple(p.x0)}$", fontsize=paper.TITLE_SIZE, loc="left")
    paper.tau_markers({"τ_R": tau_r}, ax=top)
    top.set_xlabel(paper.TIME_LABEL)
    for ax, k, words in zip(bottom, (ks[0], ks[-1]), ("weak coupling", "strong coupling")):
        paper.positions(prim["x"].sel(K=k), ax=ax, legend="above")
        paper.tau_markers({"τ_R": tau_r}, ax=ax, labels=False)
        ax.set_title(f"{words}, $K = {k:g}$", fontsize=paper.TITLE_SIZE, loc="left")
        ax.set_xlabel(paper.TIME_LABEL)
    for ax in (top, *bottom):
        ax.set_xlim(float(ds.time[0]), float(ds.time[-1]))
    fig.suptitle(f"Fig. 2  λ = {p.coupling:g}, ω₂/ω₁ = {p.frequencies[1] / p.frequencies[0]:g}, both probes at "
                 f"site {p.plug[0]}, M = {p.sites}, Ω₀ = {p.omega0:g}, g = {p.g:g}", fontsize=paper.TITLE_SIZE)
    return fig
