"""Fig. 4: squeezed probes at a common node, strong coupling (paper Sec. V A).

Uncoupled probes (λ = 0, ω2/ω1 = 1.2) both at site 1 of the 300-site chain (Ω0 = 0.4, g = 1.2),
K = 0.8, starting in squeezed vacua with r1 = r2 = 2. The paper: the second moments ⟨x1²⟩, ⟨x2²⟩
synchronize (C of the variances ≈ 1) until τ_R; mutual information and logarithmic negativity
build up from the product state and, after an oscillatory decay, reach steady non-zero values;
synchronization "witnesses" entanglement; C ≈ 0 for 650 < t < 700.

The squeezing quadrature is not stated in the paper (CONVENTIONS.md). The recipe computes both:
angle φ = 0 (squeezed in x, the primary, left column) and φ = π (squeezed in p, right column);
see :data:`CHOICES`. The signals of C are the second moments ⟨x_i²⟩ (CONVENTIONS.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dynamics as dy
from .. import measures as ms
from ..errors import HarmosyncError
from ..network import Network, chain, couple, probes
from . import common

TITLE = "squeezed probes at a common node: second moments, correlations, synchronization"


@dataclass(frozen=True)
class Params:
    """Fig. 4 caption values (ω1 = 1 units) and the recipe's open choices."""

    frequencies: tuple[float, float] = (1.0, 1.2)
    coupling: float = 0.0
    strengths: tuple[float, float] = (0.8, 0.8)
    plug: tuple[int, int] = (1, 1)
    sites: int = 300
    omega0: float = 0.4
    g: float = 1.2
    squeezing: float = 2.0  # r1 = r2
    angles: tuple[float, ...] = (0.0, np.pi)  # squeezing angles φ; the first is the primary
    stop: float = 1500.0
    step: float = 0.05
    window: float = 20.0

    def __post_init__(self):
        common.check_run(self.stop, self.step, self.window)
        if not self.angles:
            raise HarmosyncError("figure parameter angles must list at least one squeezing angle")


CHOICES = {
    "squeezing_quadrature": (
        "the paper does not say which quadrature is squeezed; the primary is angle 0 (squeezed in x, "
        "<x^2>(0) = e^(-2r)/(2 omega), the CONVENTIONS default); angle pi (squeezed in p) is computed "
        "beside it (dimension squeezing_angle) and drawn in the right column"
    ),
    "initial_state": "product of squeezed vacua of the bare probes, zero mean; " + common.ENVIRONMENT_REASON,
    "signals": "C is computed between the second moments <x1^2>, <x2^2> (the means stay zero)",
    "window": common.WINDOW_REASON,
    "time_range": common.STOP_REASON,
    "step": common.STEP_REASON,
}

DISCORD_REASON = ("Fig. 4 adds the Gaussian discord D(1|2) (Adesso & Datta 2010; not in the paper) beside the "
                  "mutual information, as Giorgi et al., PRA 85, 052101 (2012) tie synchronization to discord")


def network(params) -> Network:
    return couple(chain(params.sites, params.omega0, params.g),
                  probes(params.frequencies, params.coupling, params.plug, params.strengths))


@common.one_thread
def compute_squeezed(params, *, figure: int, title: str, choices: dict, discord: bool = False):
    """⟨x_i²⟩, mutual information, log negativity and C of ⟨x1²⟩, ⟨x2²⟩ for every squeezing
    angle (exact covariance, dynamics.solve); with ``discord``, also the Gaussian discord D(1|2)
    (measures.discord, to the evolution's error bound). Shared by Figs. 4 and 5."""
    import xarray as xr

    t = common.time_grid(params.stop, params.step)
    net = network(params)
    n = len(params.angles)
    x2 = np.empty((n, t.size, 2))
    mi, ln, c, dis = (np.empty((n, t.size)) for _ in range(4))
    for i, angle in enumerate(params.angles):
        sol = dy.solve(net, common.squeezed_pair(params.frequencies, params.squeezing, angle))
        m = sol.moments(t)
        x2[i] = np.diagonal(m.cov, axis1=1, axis2=2)[:, 0::2] + m.mean[:, 0::2] ** 2
        mi[i] = ms.mutual_information(m.cov, [0], [1], accuracy=sol.error_bound)
        ln[i] = ms.log_negativity(m.cov, [0], [1], accuracy=sol.error_bound)
        if discord:
            dis[i] = ms.discord(m.cov, 0, 1, accuracy=sol.error_bound)
        c[i] = ms.sync_factor(x2[i, :, 0], x2[i, :, 1], params.step, params.window)
    ds = xr.Dataset(
        {"x2": (("squeezing_angle", "time", "probe"), x2),
         "mutual_information": (("squeezing_angle", "time"), mi),
         "log_negativity": (("squeezing_angle", "time"), ln),
         "sync_variance": (("squeezing_angle", "time"), c)},
        coords={"squeezing_angle": list(params.angles), "time": t, "probe": [1, 2]},
    )
    ds["x2"].attrs.update(units="1/[w]", long_name="second moment <x_i^2> (= variance: the means are zero)")
    ds["sync_variance"].attrs.update(long_name="synchronization factor C(t, window) of <x1^2>, <x2^2>",
                                     window=params.window)
    ds["mutual_information"].attrs["long_name"] = "mutual information I(1:2) = S_1 + S_2 - S_12"
    ds["log_negativity"].attrs["long_name"] = "logarithmic negativity E_N between the probes"
    if discord:
        ds["discord"] = (("squeezing_angle", "time"), dis)
        ds["discord"].attrs["long_name"] = "Gaussian quantum discord D(1|2), Gaussian measurements on probe 2"
    ds["squeezing_angle"].attrs.update(units="rad", long_name="squeezing angle phi (0: squeezed in x, pi: in p)")
    return common.finish(ds, figure=figure, title=title, params=params, choices=choices, network=net)


def compute(params: Params = Params()):
    """Fig. 4 data: see :func:`compute_squeezed`."""
    return compute_squeezed(params, figure=4, title=TITLE, choices={**CHOICES, "discord": DISCORD_REASON},
                            discord=True)


def _angle_name(phi: float) -> str:
    if np.isclose(phi, 0.0):
        return "squeezed in $x$ ($\\varphi = 0$)"
    if np.isclose(phi, np.pi):
        return "squeezed in $p$ ($\\varphi = \\pi$)"
    return f"squeezing angle $\\varphi = {phi:.3g}$"


def draw_squeezed(ds, *, caption: str, regions: bool):
    """One column per squeezing angle: ⟨x_i²⟩, (I, D where computed, E_N), C of ⟨x_i²⟩; τ_R
    marked, or the three time regions shaded (``regions``, Fig. 5). The legends (the same in
    every column) sit right of the last column."""
    import matplotlib.pyplot as plt

    from ..plot import labels, paper

    angles = [float(a) for a in ds.squeezing_angle.values]
    fig, axes = plt.subplots(3, len(angles), figsize=(4.6 * len(angles) + 2.2, 7.8), sharex=True, squeeze=False,
                             layout="constrained")
    tau_ct, tau_r = ds.attrs["times.tau_crosstalk"], ds.attrs["times.tau_revival"]
    end = float(ds.time[-1])
    for j, phi in enumerate(angles):
        d = ds.sel(squeezing_angle=phi)
        col = axes[:, j]
        last = j == len(angles) - 1
        paper.second_moments(d["x2"], ax=col[0], legend=None)
        paper.correlations(d, ax=col[1], legend=None)
        paper.sync(d["sync_variance"], ax=col[2], label="$C$ of $\\langle x_1^2\\rangle$, $\\langle x_2^2\\rangle$")
        col[2].set_ylabel(col[2].get_ylabel().replace("$ [", "$ of $\\langle x_i^2\\rangle$ ["))
        col[0].set_title(_angle_name(phi), fontsize=paper.TITLE_SIZE, loc="left")
        for i, ax in enumerate(col):
            ax.set_xlim(float(ds.time[0]), end)
            if regions:
                paper.time_regions((tau_ct, tau_r), ax=ax, t_end=end, labels=i == 0)
                paper.tau_markers({"τ_CT": tau_ct, "τ_R": tau_r}, ax=ax, labels=i == 0)
            else:
                paper.tau_markers({"τ_R": tau_r}, ax=ax, labels=i == 0)
            if last:
                labels.legend_outside(ax)
        col[2].set_xlabel(paper.TIME_LABEL)
    fig.suptitle(caption, fontsize=paper.TITLE_SIZE)
    return fig


def draw(ds):
    """Fig. 4: see :func:`draw_squeezed`."""
    p = common.read_params(Params, ds)
    return draw_squeezed(ds, regions=False, caption=(
        f"Fig. 4  squeezed vacua r = {p.squeezing:g}, λ = {p.coupling:g}, ω₂/ω₁ = {p.frequencies[1]:g}, "
        f"both at site {p.plug[0]}, K = {p.strengths[0]:g}, M = {p.sites}, Ω₀ = {p.omega0:g}, g = {p.g:g}"))
