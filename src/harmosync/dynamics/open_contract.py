"""What the open solver's two evolutions (dense :class:`.open.OpenEvolution`, structured
:class:`.open_modes.ModalOpenEvolution`) share: the contract's members that follow from the
eigenvalues of the drift, the steady state, and ``means``/``moments`` around each path's own
``evaluate(t, means_only)``."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ..errors import HarmosyncError, NumericalError
from ..solvers import blas_threads
from .contract import Moments, check_times


#: ln of the largest growth factor e^{2 g t} a read-out accepts: σ(0)·e^{600} stays far inside
#: double precision (e^{709.8}) for any state a config accepts, with room for the evaluation's
#: intermediate products
GROWTH_LOG_MAX = 600.0


@dataclass(frozen=True, eq=False, kw_only=True)
class OpenContract:
    """Base of the open solvers' evolutions (frozen dataclasses built by keyword): ``rows``,
    ``eigenvalues`` (all of A's), ``steady`` (σ_∞ or None), ``noiseless`` ((frequency, probe
    weight), ...), ``n_probes``, the contract's flags, and an ``evaluate(t, means_only) ->
    (mean, cov | None)`` method in each subclass; ``blas``: BLAS threads while evaluating
    (None: as set)."""

    rows: tuple[int, ...]
    eigenvalues: np.ndarray
    steady: np.ndarray | None
    noiseless: tuple[tuple[float, float], ...]
    n_probes: int
    has_covariance: bool = True
    t_max: float = np.inf
    energy: None = None
    error_bound: float = 0.0
    _cache: dict = field(default_factory=dict, repr=False)
    blas: ClassVar[int | None] = None

    def _diagnostics(self, rank: int, **extra) -> dict:
        """The diagnostics both paths report: ``rank`` (columns propagated), slowest decay rate
        [w], noiseless modes, the path's own ``extra``, highest mode frequency [w], relaxation
        time [1/w] when a mode decays."""
        d = {"rank": int(rank), "slowest_rate": self.slowest_rate, "noiseless_modes": len(self.noiseless),
             **extra, "highest_mode_frequency": self.max_frequency}
        if self.slowest_rate > 0:
            d["relaxation_time"] = 1.0 / self.slowest_rate
        return d

    @property
    def max_frequency(self) -> float:
        """The largest |Im λ(A)| [w]."""
        return float(np.max(np.abs(self.eigenvalues.imag))) if self.eigenvalues.size else 0.0

    @property
    def slowest_rate(self) -> float:
        """The smallest decay rate −Re λ(A) [w] (0 when a mode is noiseless)."""
        return float(max(0.0, -np.max(self.eigenvalues.real)))

    @property
    def growth_rate(self) -> float:
        """max Re λ(A) [w] when a mode grows (the baths pump energy into it: no steady state
        and no noiseless mode), else 0."""
        if self.steady is not None or self.noiseless or not self.eigenvalues.size:
            return 0.0
        return float(max(0.0, np.max(self.eigenvalues.real)))

    def steady_state(self) -> np.ndarray:
        """σ_∞ of the observed oscillators (2n × 2n, interleaved), or an error naming the
        noiseless modes or the growing one."""
        if self.growth_rate > 0:
            lam = self.eigenvalues[int(np.argmax(self.eigenvalues.real))]
            raise HarmosyncError(f"no steady state: a mode of frequency {abs(lam.imag):.4g} [w] grows at rate "
                                 f"{lam.real:.3g} [w] (the baths pump energy into it)")
        if self.steady is None:
            freqs = ", ".join(f"{w:.4g} (probe weight {p:.2g})" for w, p in self.noiseless[:6])
            raise HarmosyncError(f"no unique steady state: {len(self.noiseless)} noiseless mode(s) of "
                                 f"frequency {freqs}{' ...' if len(self.noiseless) > 6 else ''}")
        return self.steady

    def check_growth(self, t_max: float) -> None:
        """Refuse (one line) a read-out at times where a growing mode's moments, ~e^{2 g t},
        leave double precision (2 g t > GROWTH_LOG_MAX)."""
        g = self.growth_rate
        if g > 0 and 2 * g * float(t_max) > GROWTH_LOG_MAX:
            raise HarmosyncError(
                f"a mode grows at rate {g:.3g} [w] (the baths pump energy into it): by t = {float(t_max):g} the "
                f"moments reach ~e^{2 * g * float(t_max):.0f}, beyond double precision; read them only up to "
                f"t = {GROWTH_LOG_MAX / (2 * g):.4g}")

    def _threads(self):
        return blas_threads(self.blas) if self.blas is not None else nullcontext()

    def means(self, times) -> np.ndarray:
        t = check_times(times)
        self.check_growth(t[-1] if t.size else 0.0)
        with self._threads():
            return self.evaluate(t, means_only=True)[0]

    def moments(self, times) -> Moments:
        t = check_times(times)
        self.check_growth(t[-1] if t.size else 0.0)
        with self._threads():
            mean, cov = self.evaluate(t, means_only=False)
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(cov))):
            raise NumericalError("the open evolution produced NaN or inf; check the baths and the state")
        return Moments(t, mean, cov, self.rows)

    def iter_moments(self, times):
        m = self.moments(times)
        yield slice(0, m.times.size), m.mean, m.cov
