"""The one contract every solver satisfies: an :class:`Evolution`.

:func:`harmosync.dynamics.solve` returns an object with these members, whatever solver made it;
everything above the dynamics (simulation, sweeps, figures, analysis) reads only these. A
second solver (open systems: damped, complex eigenvalues, no conserved energy) plugs in by
returning the same members.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import HarmosyncError


@dataclass(frozen=True, eq=False)
class Moments:
    """First and second moments of the observed oscillators on a time grid, interleaved
    ordering (x1, p1, x2, p2, …) [x in ω^(-1/2), p in ω^(1/2)]."""

    times: np.ndarray  # (T,)
    mean: np.ndarray  # (T, 2n)
    cov: np.ndarray  # (T, 2n, 2n), σ_ab = ½⟨{ΔR_a, ΔR_b}⟩
    rows: tuple[int, ...]  # the observed oscillators, 0-based, probes first


@runtime_checkable
class Evolution(Protocol):
    """The exact evolution of a network from an initial Gaussian state, for a set of observed
    oscillators.

    * ``rows``: observed oscillators (0-based: probes first, then environment sites);
    * ``error_bound``: absolute bound on the error of any returned moment (an evolution solved
      without a ``t_max`` may raise it as it evaluates later times: read it after evaluating);
    * ``t_max``: the largest |t| the evolution may be evaluated at (the ``t_max`` it was solved
      for, which its error bound covers; ∞ when none was given);
    * ``max_frequency``: the fastest oscillation in the moments [ω] (the Nyquist check of a
      time grid); for a damped solver, the largest |Im| of the drift's eigenvalues;
    * ``energy``: the conserved ⟨H⟩ [ω], or None when the dynamics conserves none (baths);
    * ``has_covariance``: False when solved for the first moments only;
    * ``steady``: the observed oscillators' unique steady covariance σ_∞ (interleaved), or None
      (the closed solver: no relaxation; an open system with noiseless modes);
    * ``means(times)`` (T, 2n), ``moments(times)`` → :class:`Moments`, ``iter_moments(times)``
      → chunks (slice, mean, cov), all interleaved;
    * ``diagnostics()``: solver facts for a file's metadata (``{name: number}``).
    """

    rows: tuple[int, ...]
    error_bound: float
    t_max: float

    @property
    def max_frequency(self) -> float: ...

    @property
    def energy(self) -> float | None: ...

    @property
    def has_covariance(self) -> bool: ...

    @property
    def steady(self) -> np.ndarray | None: ...

    def means(self, times) -> np.ndarray: ...

    def moments(self, times) -> Moments: ...

    def iter_moments(self, times) -> Iterator[tuple[slice, np.ndarray, np.ndarray]]: ...

    def diagnostics(self) -> dict: ...


def check_times(times) -> np.ndarray:
    """A 1-D, finite, strictly increasing, non-empty time grid [1/frequency unit]."""
    try:
        t = np.asarray(times, dtype=float)
    except (TypeError, ValueError):
        raise HarmosyncError("times must be numbers") from None
    if t.ndim != 1 or t.size == 0:
        raise HarmosyncError(f"times must be a non-empty 1-D array, got shape {t.shape}")
    if not np.all(np.isfinite(t)):
        raise HarmosyncError("times must be finite")
    if t.size > 1 and np.any(np.diff(t) <= 0):
        raise HarmosyncError("times must be strictly increasing")
    return t


#: a time grid counts as uniform within rounding only: |t_i − (t_0 + ih)| ≤ GRID_TOL·max(1, |t|);
#: it is then evaluated at t_0 + ih, and the error bound is for those times (the labels t_i may
#: differ by that much: review s17 moved a grid by 3.5ε·t and the means at w·t = 3e6 erred 1.06
#: of the bound against the labels); a grid off by more is evaluated at its own times
GRID_TOL = 8 * np.finfo(float).eps


def uniform_step(t: np.ndarray, min_size: int = 2) -> float | None:
    """The step h of a uniform grid ``t`` (within ``GRID_TOL``), or None."""
    if t.size < min_size:
        return None
    h = (t[-1] - t[0]) / (t.size - 1)
    if np.max(np.abs(t - (t[0] + h * np.arange(t.size)))) <= GRID_TOL * max(1.0, abs(t[0]), abs(t[-1])):
        return float(h)
    return None


def steps_before(t: np.ndarray, h: float | None) -> int | None:
    """Whole steps h from 0 to t[0] when a solver that accumulates from t = 0 (the open paths'
    noise) should step there: t[0] is a multiple of h (within ``GRID_TOL``) and the lead costs at
    most a few times the grid itself; else None (evaluate the grid at its own times)."""
    if h is None:
        return None
    lead = int(round(t[0] / h))
    if abs(lead * h - t[0]) > GRID_TOL * max(1.0, abs(t[0])) or lead > 4 * t.size + 1024:
        return None
    return lead

