"""The whole analysis of one network as data: what ``harmosync analyze`` and ``harmosync
kernels`` print and save, for Python users to inspect (docs/analysis.md, Sec. 4).

* :func:`report` → :class:`AnalysisReport`: characteristic times (chain), Rayleigh's
  prediction (two probes; "not applicable" with its reason otherwise), damping matrix and exact
  poles, localized modes, optionally the decay rates fitted from the exact dynamics; with
  baths, the open system's damped modes and rate gap (:mod:`harmosync.analysis.open`), also
  for the probes alone;
* :func:`kernels_report` → :class:`KernelsReport`: the Langevin kernels with their spectral
  densities on a frequency grid, smoothed and (homogeneous chain) in the continuum limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import HarmosyncError
from ..network import Network
from . import langevin as lg
from . import rayleigh as ry
from .localized import LocalizedMode, localized_modes, steady_modes
from .open import OpenReport, open_report
from .times import CharacteristicTimes, characteristic_times

#: Largest horizon [1/ω] accepted for an environment without a revival time (not a chain).
HORIZON_LIMIT = 1e4


@dataclass(frozen=True, eq=False)
class AnalysisReport:
    """Everything known analytically about ``network`` (units as in :mod:`harmosync.analysis`).

    ``prediction``: Rayleigh's :class:`~harmosync.analysis.rayleigh.Prediction` (for P ≠ 2
    probes: verdict NOT_APPLICABLE, reason NOT_TWO_PROBES). ``times``: the chain's
    :class:`CharacteristicTimes` (None for another environment or g = 0). ``rayleigh``: the
    two-probe :class:`~harmosync.analysis.rayleigh.RayleighAnalysis` (None for P ≠ 2).
    ``localized_modes``: normal modes outside the band. ``measured_rates``: G_1, G_2 [ω] fitted
    from the exact dynamics (``report(check=True)``, two probes), else None. ``open``: the
    :class:`~harmosync.analysis.open.OpenReport` when the report was asked with baths, else
    None. The probes alone (no environment, with baths): ``prediction`` is None, ``times`` and
    ``rayleigh`` None, no localized modes; only ``open`` says anything.
    """

    network: Network
    prediction: ry.Prediction | None
    times: CharacteristicTimes | None
    rayleigh: ry.RayleighAnalysis | None
    localized_modes: tuple[LocalizedMode, ...]
    measured_rates: tuple[float, float] | None = None
    open: OpenReport | None = None

    @property
    def steady_modes(self) -> tuple[LocalizedMode, ...]:
        """The localized modes that keep the probes oscillating, heaviest first
        (:func:`~harmosync.analysis.localized.steady_modes`)."""
        return steady_modes(self.localized_modes)

    @property
    def steady_pattern(self) -> ry.Verdict | None:
        """What the probes settle into once everything that radiates has decayed: SYNC (ANTI_SYNC)
        when exactly one localized mode keeps them oscillating and it is in phase (anti-phase),
        NONE when none does (the probes come to rest), None otherwise (several such modes, or
        not two probes, or the probes alone: see ``open``)."""
        if self.prediction is None:
            return None
        steady = self.steady_modes
        if not steady:
            return ry.Verdict.NONE
        if len(steady) > 1:
            return None
        return {"in phase": ry.Verdict.SYNC, "anti-phase": ry.Verdict.ANTI_SYNC}.get(steady[0].pattern)


def horizon_limit(network: Network) -> float:
    """The largest echo horizon [1/ω] that still means damping: a chain's revival time
    τ_R,front (past it echoes are revivals and their number grows without bound), otherwise
    HORIZON_LIMIT."""
    env = network.environment
    if env.kind == "chain" and env.g:
        return characteristic_times(network).tau_revival_front
    return HORIZON_LIMIT


def check_horizon(network: Network, horizon: float, name: str = "horizon") -> None:
    """Refuse a horizon that is not a positive time or is beyond :func:`horizon_limit`;
    ``name`` is how the message calls it (e.g. the CLI's option "--horizon")."""
    limit = horizon_limit(network)
    if not (math.isfinite(horizon) and horizon > 0):
        raise HarmosyncError(f"{name} {horizon:g} must be a positive time [1/ω]; give one ≤ {limit:.4g} or leave it automatic")
    if horizon > limit:
        raise HarmosyncError(f"{name} {horizon:g} is beyond the revival time {limit:.4g} [1/ω]; "
                             f"give a horizon ≤ {limit:.4g} or leave it automatic")


def _check_environment(network: Network, what: str) -> None:
    if network.environment.sites == 0:
        more = "; for the probes alone give them [[baths]] (the open system's modes)" if what == "analyze" else ""
        raise HarmosyncError(f"{what} needs an environment ([chain] or [graph]): it analyses how the environment "
                             f"damps the probes{more}")


def report(network: Network, *, initial_mean=None, horizon: float | None = None, check: bool = False,
           pair: tuple[int, int] = (1, 2), baths=()) -> AnalysisReport:
    """The analysis of ``network`` as an :class:`AnalysisReport`.

    ``initial_mean``: the probes' initial means (x1, p1, x2, p2, ...), for the amplitudes the
    localized modes keep. ``horizon`` [1/ω]: echoes returning within it count as damping
    (default: automatic, see ``rayleigh.model_horizon``). ``check``: also fit the two decay
    rates from the exact dynamics (``rayleigh.measure_decay_rates``; about 0.5 s for Fig. 1's
    300-site chain, 2 s for 3000 sites). ``pair``: the probes (numbers from 1, as ``sync.probes``) whose crosstalk
    time τ_CT is reported.
    ``baths``: :class:`harmosync.baths.Bath` s; when given, ``open`` holds the open system's
    modes (and the probes alone, without an environment, are accepted).
    """
    baths = tuple(baths)
    if baths and network.environment.sites == 0:
        return _probes_alone(network, baths, horizon=horizon, check=check)
    _check_environment(network, "analyze")
    if horizon is not None:
        check_horizon(network, horizon)
    env = network.environment
    times = characteristic_times(network, pair) if env.kind == "chain" and env.g else None
    loc = localized_modes(network, initial_mean)
    opened = open_report(network, baths) if baths else None
    if network.n_probes != 2:
        prediction = ry.Prediction(ry.Verdict.NOT_APPLICABLE, ry.Reason.NOT_TWO_PROBES)
        return AnalysisReport(network, prediction, times, None, loc, open=opened)
    ray = ry.analyze(network, horizon=horizon)
    rates = tuple(float(x) for x in ry.measure_decay_rates(network, horizon=horizon)) if check else None
    return AnalysisReport(network, ray.prediction, times, ray, loc, rates, open=opened)


def _probes_alone(network: Network, baths, *, horizon, check) -> AnalysisReport:
    """The probes alone with baths: only the open analysis applies (refuse the closed options)."""
    if horizon is not None:
        raise HarmosyncError("horizon counts the environment's echoes; the probes alone have no environment: drop it")
    if check:
        raise HarmosyncError("check fits the environment's damping rates; the probes alone have none "
                             "(the open rates reported are exact): drop it")
    return AnalysisReport(network, None, None, None, (), open=open_report(network, baths))


@dataclass(frozen=True, eq=False)
class KernelsReport:
    """The Langevin kernels of ``kernels.network`` and their spectral densities.

    ``omega`` [ω]: grid from 0 to 1.1 × the highest bath or probe-mode frequency. ``width`` [ω]:
    the Gaussian smoothing of the discrete density (``Kernels.default_width``).
    ``spectral_density``: smoothed J′_ss′(ω), (len(ω), P, P) [ω²], normal modes.
    ``continuum_spectral_density``: the closed-form continuum limit in the normal modes, the one
    the Rayleigh analysis uses, keeping the echoes within ``horizon`` [1/ω] (paths up to
    ``paths_max_length`` sites); None (and NaN) unless the environment is a homogeneous chain.
    """

    kernels: lg.Kernels
    omega: np.ndarray
    width: float
    spectral_density: np.ndarray
    continuum_spectral_density: np.ndarray | None
    horizon: float
    paths_max_length: float


def kernels_report(network: Network, times, *, points: int = 2000) -> KernelsReport:
    """Kernels γ_s(t), η(t) on ``times`` [1/ω] (``langevin.kernels``) and the spectral densities
    on ``points`` frequencies."""
    _check_environment(network, "kernels")
    kern = lg.kernels(network, times)
    top = 1.1 * max(float(kern.bath_frequencies[-1]), float(kern.system_frequencies[-1]))
    om = np.linspace(0.0, top, points)
    width = kern.default_width()
    smooth = kern.spectral_density(om, width=width)
    env = network.environment
    cont, h, max_len = None, float("nan"), float("nan")
    if env.homogeneous_chain and env.g:
        h, max_len = ry.model_horizon(network)
        cont = lg.to_modes(lg.continuum_spectral_density(network, om, max_length=max_len), kern.rotation)
    return KernelsReport(kern, om, width, smooth, cont, h, max_len)
