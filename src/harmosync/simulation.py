"""One run: config → exact moments → the observables, as plain arrays (no xarray here).

The single path of a run, shared by ``simulate`` and every sweep point: :func:`prepare` builds
and checks the inputs, :func:`observe` evolves them (``dynamics.solve``, or an evolution a
caller solved in a batch) and computes the requested observables from the registry
(:mod:`harmosync.observables`). ``io.to_dataset`` turns a :class:`RunResult` into the public
NetCDF layout.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from . import dynamics as dy
from . import measures as ms
from . import observables as obs
from .config import RunConfig
from .errors import HarmosyncError, NumericalError
from .network import Network, system_normal_modes
from .states import InitialState


@dataclass(frozen=True, eq=False)
class RunResult:
    config: RunConfig
    network: Network
    evolution: dy.Evolution
    times: np.ndarray
    mean: np.ndarray  # (T, 2P) interleaved
    cov: np.ndarray  # (T, 2P, 2P)
    series: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (T,)
    info: dict = field(default_factory=dict)  # scalars for metadata


def check_time_grid(times: np.ndarray, w_max: float) -> None:
    """Refuse a step that aliases the fastest normal mode (Nyquist: step < π / w_max)."""
    if times.size > 1:
        step = times[1] - times[0]
        safe = np.pi / w_max
        if step >= safe:
            raise HarmosyncError(
                f"time step {step:g} is too coarse for the fastest normal mode (frequency {w_max:.4g}): "
                f"it would alias; use step < {safe:.4g}"
            )


def check_window(times: np.ndarray, window: float, delay: float = 0.0) -> None:
    """The sync window must be a whole number (≥ 2) of steps (measures.window_samples, the rule
    sync_factor applies) and, with the delay, fit inside the run."""
    if times.size < 2:
        raise HarmosyncError("the sync window needs a time grid of at least two points")
    ms.window_samples(times[1] - times[0], window)
    if window + abs(delay) > times[-1] - times[0]:
        raise HarmosyncError(
            f"sync window {window:g} (plus delay {abs(delay):g}) is longer than the run ({times[-1] - times[0]:g}); "
            "shorten the window or run longer"
        )


def available_memory() -> float | None:
    """Memory available to a new allocation [bytes] (Linux MemAvailable), None if unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def memory_estimate(n_times: int, n_probes: int) -> float:
    """Peak memory of :func:`simulate` [bytes]: the (T, 2P, 2P) covariance about seven times over
    (moments, measures, the file) plus ~8 series of length T · 2P, fitted to the measured peaks
    (1.1 kB per time for 2 probes, 5.9 kB for 5)."""
    d = 2 * n_probes
    return float(n_times) * 8.0 * (7 * d * d + 8 * d)


def check_memory(n_times: int, n_probes: int) -> None:
    """Refuse a run that cannot fit in memory before computing anything."""
    need, have = memory_estimate(n_times, n_probes), available_memory()
    if have is not None and need > 0.8 * have:
        raise HarmosyncError(
            f"the run needs ≈ {need / 1e9:.3g} GB of memory ({n_times} times × the {2 * n_probes}×{2 * n_probes} "
            f"covariance), more than the {have / 1e9:.3g} GB available; use a coarser time step or a shorter run "
            "(or a sweep that keeps summaries)"
        )


@dataclass(frozen=True, eq=False)
class Point:
    """A run's inputs, built and checked (everything but the dynamics): the config, its network,
    initial state, time grid [1/w] and the pair of probes (0-based) of ``sync.probes``."""

    config: RunConfig
    network: Network
    state: InitialState
    times: np.ndarray
    pair: tuple[int, int]

    @property
    def t_max(self) -> float:
        return float(np.max(np.abs(self.times)))


def prepare(cfg: RunConfig) -> Point:
    """Build the network and state of ``cfg`` and run the input checks that need no dynamics:
    ``sync.probes`` names two probes, and Eq. (3)'s window and delay are whole numbers of steps
    that fit the run. (The step is checked against the fastest mode by :func:`observe`.)"""
    net = cfg.build_network()
    state = cfg.build_state()
    times = cfg.time.grid()
    p = net.n_probes
    a, b = cfg.sync.probes
    if p >= 2 and not (1 <= a <= p and 1 <= b <= p and a != b):
        raise HarmosyncError(f"config error: sync.probes = [{a}, {b}] must name two different probes in 1..{p}")
    if p >= 2:
        check_window(times, cfg.sync.window, cfg.sync.delay)
        step = float(times[1] - times[0])
        k = round(cfg.sync.delay / step)  # Eq. (3) with a delay: a whole number of steps
        if abs(k * step - cfg.sync.delay) > 1e-6 * max(step, abs(cfg.sync.delay)):
            raise HarmosyncError(f"sync.delay = {cfg.sync.delay:g} is not a whole number of time steps ({step:g})")
    return Point(cfg, net, state, times, (a - 1, b - 1))


def solve(point: Point, *, covariance: bool = True) -> dy.Evolution:
    """The point's evolution up to its last time (long chains cut to the light cone)."""
    return dy.solve(point.network, point.state, t_max=point.t_max, covariance=covariance)


def observe(point: Point, names, *, evolution: dy.Evolution | None = None):
    """Evolve ``point`` and compute the observables ``names`` (registry order is the caller's).
    Covariances are computed only if one of ``names`` needs them; then the result passes the
    numerical guard (:func:`check_result`). ``evolution``: one solved already (in a batch,
    :func:`harmosync.dynamics.solve_many`), with covariances if they are needed.
    Returns (evolution, mean (T, 2P), cov (T, 2P, 2P) or None, {name: values})."""
    names = list(names)
    need_cov = obs.needs_covariance(names)
    evo = evolution if evolution is not None else solve(point, covariance=need_cov)
    check_time_grid(point.times, evo.max_frequency)
    if need_cov:
        mom = evo.moments(point.times)
        mean, cov = mom.mean, mom.cov
    else:  # first moments only: the covariance's low-rank part was never built
        mean, cov = evo.means(point.times), None
    cfg = point.config
    ctx = obs.Context(point.times, mean, cov, point.network, point.pair, cfg.sync.window,
                      cfg.sync.delay, evo.error_bound)
    values = obs.compute(names, ctx)
    if need_cov:
        check_result(mean, cov, values)
    return evo, mean, cov, values


def simulate(cfg: RunConfig) -> RunResult:
    """Build the network and state of ``cfg``, evolve exactly, compute every observable that
    applies to its number of probes (:func:`harmosync.observables.available`)."""
    point = prepare(cfg)
    net, p = point.network, point.network.n_probes
    check_memory(point.times.size, p)
    names = obs.available(p)
    evo, mean, cov, values = observe(point, names)
    series = {q: v for q, v in values.items() if q not in ("x", "p", "cov")}
    diag = evo.diagnostics()
    info = {"rank": diag.pop("rank"), "error_bound": evo.error_bound}
    if evo.energy is not None:
        info["energy_total"] = evo.energy
    info.update(diag)
    if p == 2:
        theta, om = system_normal_modes(net.probes.frequencies, net.probes.coupling[0, 1])
        info.update(theta=theta, Omega1=float(om[0]), Omega2=float(om[1]))
    info.update(_times(net))
    reason = precision_warning(evo.error_bound, cov)
    if reason is not None:
        warnings.warn(reason, PrecisionWarning, stacklevel=2)
        info["precision_warning"] = reason
    return RunResult(cfg, point.network, evo, point.times, mean, cov, series, info)


# -- precision warning (issue 11, item 2) -------------------------------------------------------
#: relative accuracy of the covariance below which :func:`simulate` warns (docs/conventions.md,
#: "Precision warning"): fewer than six digits of its largest entry
PRECISION_LIMIT = 1e-6


class PrecisionWarning(UserWarning):
    """The run's error bound is too large for the digits its results need (written anyway)."""


def precision_warning(error_bound: float, cov: np.ndarray) -> str | None:
    """One-line reason when the bound on every covariance entry, ``error_bound``, exceeds
    PRECISION_LIMIT × max |σ_ab(t)| over the run (or is not finite), else None."""
    scale = float(np.max(np.abs(cov))) if cov is not None and cov.size else 0.0
    if np.isfinite(error_bound) and error_bound <= PRECISION_LIMIT * scale:
        return None
    return (f"double precision cannot reach the accuracy this run needs: the covariance is known only to "
            f"±{error_bound:.2g} (result.error_bound), {error_bound / scale if scale else np.inf:.2g} of its "
            f"largest entry {scale:.3g} (limit {PRECISION_LIMIT:g}); the results are written with that bound; "
            "a shorter run, a lower temperature or a higher lowest frequency (Ω0) brings it down")


def _times(net: Network) -> dict:
    """Characteristic times (τ_CT, τ_R, group velocities) for chain environments, else {}."""
    if net.environment.kind != "chain" or not net.environment.g:
        return {}
    from .analysis.times import characteristic_times

    try:
        return {f"times.{k}": v for k, v in characteristic_times(net).as_dict().items()}
    except HarmosyncError:
        return {}


def check_result(mean, cov, series) -> None:
    """Numerical guard before anything is written: finite numbers, physical covariances."""
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(cov))):
        raise NumericalError("the result contains NaN or inf; nothing was written")
    bad = ~ms.is_physical(cov, tol=1e-8)
    if np.any(bad):
        k = int(np.flatnonzero(bad)[0])
        raise NumericalError(
            f"the probes' covariance violates σ + iΩ/2 ≥ 0 at time index {k} beyond roundoff; nothing was written "
            "(report this with your config)"
        )
    for name, values in series.items():
        if not obs.get(name).nan_allowed and not np.all(np.isfinite(values)):
            raise NumericalError(f"{name} contains NaN or inf; nothing was written")
