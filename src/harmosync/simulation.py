"""One run: config → exact moments → the paper's measures, as plain arrays (no xarray here).

``io.to_dataset`` turns a :class:`RunResult` into the public NetCDF layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import dynamics as dy
from . import measures as ms
from .config import RunConfig
from .errors import HarmosyncError, NumericalError
from .network import Network, system_normal_modes


@dataclass(frozen=True, eq=False)
class RunResult:
    config: RunConfig
    network: Network
    solution: dy.Solution
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


def simulate(cfg: RunConfig) -> RunResult:
    """Build the network and state of ``cfg``, evolve exactly, compute every measure."""
    net = cfg.build_network()
    state = cfg.build_state()
    times = cfg.time.grid()
    p = net.n_probes
    a, b = cfg.sync.probes
    if not (1 <= a <= p and 1 <= b <= p and a != b):
        if p >= 2:
            raise HarmosyncError(f"config error: sync.probes = [{a}, {b}] must name two different probes in 1..{p}")
    check_memory(times.size, p)
    sol = dy.solve(net, state, t_max=float(np.max(np.abs(times))))
    check_time_grid(times, float(sol.frequencies[-1]))
    if p >= 2:
        check_window(times, cfg.sync.window, cfg.sync.delay)
    mom = dy.moments(sol, times)
    mean, cov = mom.mean, mom.cov
    series: dict[str, np.ndarray] = {}
    vs = net.probes.potential()
    sx = cov[:, 0::2, 0::2] + mean[:, 0::2, None] * mean[:, None, 0::2]
    sp2 = np.einsum("tii->t", cov[:, 1::2, 1::2]) + np.sum(mean[:, 1::2] ** 2, axis=1)
    series["energy_probes"] = 0.5 * (np.einsum("ij,tji->t", vs, sx) + sp2)
    if p >= 2:
        i, j = a - 1, b - 1
        step = times[1] - times[0]
        series["sync"] = ms.sync_factor(mean[:, 2 * i], mean[:, 2 * j], step, cfg.sync.window, delay=cfg.sync.delay)
        x2i = cov[:, 2 * i, 2 * i] + mean[:, 2 * i] ** 2
        x2j = cov[:, 2 * j, 2 * j] + mean[:, 2 * j] ** 2
        series["sync_variance"] = ms.sync_factor(x2i, x2j, step, cfg.sync.window, delay=cfg.sync.delay)
        series["mutual_information"] = ms.mutual_information(cov, [i], [j], accuracy=sol.error_bound)
        series["log_negativity"] = ms.log_negativity(cov, [i], [j], accuracy=sol.error_bound)
        series["complete_sync"] = ms.complete_sync(mean, None, i, j)
        series["complete_sync_quantum"] = ms.complete_sync(mean, cov, i, j)
    info = {"rank": sol.rank, "error_bound": sol.error_bound, "energy_total": sol.energy,
            "highest_mode_frequency": float(sol.frequencies[-1]),
            "lowest_mode_frequency": float(sol.frequencies[0])}
    if p == 2:
        theta, om = system_normal_modes(net.probes.frequencies, net.probes.coupling[0, 1])
        q1, q2 = dy.normal_mode_coordinates(mean[:, 0], mean[:, 2], theta)
        series["q1"], series["q2"] = q1, q2
        info.update(theta=theta, Omega1=float(om[0]), Omega2=float(om[1]))
    info.update(_times(net))
    check_result(mean, cov, series)
    return RunResult(cfg, net, sol, times, mean, cov, series, info)


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
    for name in ("energy_probes", "mutual_information", "log_negativity"):
        if name in series and not np.all(np.isfinite(series[name])):
            raise NumericalError(f"{name} contains NaN or inf; nothing was written")
