"""Exact Gaussian dynamics: one entry, :func:`solve`, and one contract, :class:`Evolution`.

``solve(network, initial, ...)`` returns an :class:`Evolution` (observed rows, ``means(t)``,
``moments(t)``, ``iter_moments(t)``, ``max_frequency``, ``error_bound``, ``t_max``, ``energy``);
nothing outside this package reads more of it. Today's solver is the closed one
(:mod:`.normal_modes`: normal modes, structured chain paths, light cone); :func:`solve_many`
(:mod:`.many`) solves many networks on one chain, sharing the chain's work. Open systems enter
through the same ``solve`` (``baths=``, :mod:`harmosync.baths`) with a second solver behind it
(:mod:`.open`: dense, or for local Lindblad baths of one rate on a few oscillators the
structured path of :mod:`.open_modes`, built on the closed solver's modes).
:mod:`.reference` holds slow, obviously correct references for the tests.
"""

from __future__ import annotations

from ..network import Network
from ..states import InitialState
from .contract import Evolution as Evolution
from .contract import Moments as Moments
from .contract import check_times as check_times
from .many import plugging_sweep as plugging_sweep
from .many import solve_many as solve_many
from .normal_modes import METHODS
from .normal_modes import fastest_mode as fastest_mode
from .normal_modes import solve_closed
from .open import solve_open


def solve(network: Network, initial: InitialState, *, observe=None, t_max: float | None = None,
          covariance: bool = True, tol: float = 1e-12, method: str = "auto", baths=()) -> Evolution:
    """The exact evolution of ``network`` from ``initial``, as an :class:`Evolution`.

    ``observe``: 0-based oscillators (probes first, then sites) whose moments will be
    evaluated; default the probes. ``t_max`` [1/ω]: the largest |t| that will be evaluated
    (a long fixed-end chain is then cut to the probes' light cone, and later times are refused).
    ``covariance=False``: first moments only (cheaper; ``moments`` then refuses). ``tol``:
    eigenvalues of the initial state's low-rank deviation below tol·max(1, ‖Δ‖) are dropped, and
    counted in ``error_bound`` (below tol·1e-4·max(1, ‖Δ‖) where that makes the bound smaller:
    a strongly squeezed probe's ‖Δ‖ sets the scale far above the observed entries'). ``method``: one of ``METHODS`` ("auto", "dense", "chain").
    ``baths``: :class:`harmosync.baths.Bath` objects; any bath selects the open solver
    (:func:`.open.solve_open`: exact, no energy), whose ``method`` is one of
    ``open.OPEN_METHODS`` ("auto", "dense", "modes").
    """
    if baths:
        return solve_open(network, initial, tuple(baths), observe=observe, t_max=t_max,
                          covariance=covariance, method=method)
    return solve_closed(network, initial, observe=observe, t_max=t_max, covariance=covariance,
                        tol=tol, method=method)


__all__ = ["METHODS", "Evolution", "Moments", "check_times", "plugging_sweep", "solve", "solve_many"]
