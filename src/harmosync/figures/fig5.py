"""Fig. 5: squeezed probes at the opposite edges (paper Sec. V B).

As Fig. 4 (λ = 0, ω2/ω1 = 1.2, r1 = r2 = 2) but the probes at sites 1 and M = 300 with
K = 0.2. The paper: the fluctuations synchronize during the crosstalk window, the mutual
information rises from zero to finite values there, but entanglement is never created.

The squeezing quadrature is an open choice: both angles are computed, as in Fig. 4
(:data:`CHOICES`). The three time regions of Fig. 3 are shaded (τ_CT, τ_R from
:func:`harmosync.analysis.times.characteristic_times`).
"""

from __future__ import annotations

from dataclasses import dataclass


from . import common
from .fig4 import CHOICES as FIG4_CHOICES
from .fig4 import Params as Fig4Params
from .fig4 import compute_squeezed, draw_squeezed

TITLE = "squeezed probes at opposite edges: variances synchronize by crosstalk, no entanglement"


@dataclass(frozen=True)
class Params(Fig4Params):
    """Fig. 5 caption values (ω1 = 1 units): Fig. 4's squeezed pair, but at the opposite edges and
    with K = 0.2; the recipe's open choices are Fig. 4's."""

    strengths: tuple[float, float] = (0.2, 0.2)
    plug: tuple[int, int] = (1, 300)


CHOICES = dict(FIG4_CHOICES)
CHOICES["regions"] = ("independent dissipation [0, τ_CT], crosstalk [τ_CT, τ_R], revival [τ_R, end] with τ_CT, "
                      "τ_R from analysis.times.characteristic_times")


def compute(params: Params = Params()):
    """Fig. 5 data: ⟨x_i²⟩, I, E_N and C of ⟨x_i²⟩ per squeezing angle (fig4.compute_squeezed)."""
    return compute_squeezed(params, figure=5, title=TITLE, choices=CHOICES)


def draw(ds):
    p = common.read_params(Params, ds)
    return draw_squeezed(ds, regions=True, caption=(
        f"Fig. 5  squeezed vacua r = {p.squeezing:g}, λ = {p.coupling:g}, ω₂/ω₁ = {p.frequencies[1]:g}, "
        f"probes at sites {p.plug[0]} and {p.plug[1]}, K = {p.strengths[0]:g}, M = {p.sites}, "
        f"Ω₀ = {p.omega0:g}, g = {p.g:g}"))
