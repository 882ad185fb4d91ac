"""One point of a sweep: its config → the time series and summaries its ``[keep]`` asks for.

:func:`compute_series` computes the series of one run as :func:`harmosync.simulation.simulate`
defines them, and only those asked for (means only when nothing kept needs a covariance);
:func:`summarize` and :func:`onset_time` reduce a series over the summary intervals;
:func:`evaluate` does all three for one point. Times are in 1/[ω] (ħ = 1, unit masses).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import config as cfgmod
from .. import dynamics as dy
from .. import measures as ms
from ..errors import HarmosyncError
from ..simulation import check_result, check_time_grid, check_window
from .keep import SERIES, STATS, Keep


@dataclass(frozen=True, eq=False)
class _Prepared:
    cfg: cfgmod.RunConfig
    network: Any
    state: Any
    times: np.ndarray
    pair: tuple[int, int]  # 0-based probes compared by C, MI, E_N


def _prepare(cfg: cfgmod.RunConfig, keep: Keep) -> _Prepared:
    """Build the point's network and state and run simulate's input checks that need no
    dynamics (sync probes, Δt of Eq. (3), summary intervals). The time step is checked against the fastest
    normal mode by :func:`check_time_grid` once the frequencies are known."""
    net = cfg.build_network()
    state = cfg.build_state()
    times = cfg.time.grid()
    p = net.n_probes
    a, b = cfg.sync.probes
    if p >= 2 and not (1 <= a <= p and 1 <= b <= p and a != b):
        raise HarmosyncError(f"config error: sync.probes = [{a}, {b}] must name two different probes in 1..{p}")
    if p >= 2:
        check_window(times, cfg.sync.window, cfg.sync.delay)
        if times.size > 1:  # Eq. (3) needs Δt and the delay as whole numbers of steps
            step = float(times[1] - times[0])
            ms.window_samples(step, cfg.sync.window)
            k = round(cfg.sync.delay / step)
            if abs(k * step - cfg.sync.delay) > 1e-6 * max(step, abs(cfg.sync.delay)):
                raise HarmosyncError(f"sync.delay = {cfg.sync.delay:g} is not a whole number of time steps ({step:g})")
    if keep.onset or keep.summaries:
        eps = 1e-9 * max(1.0, abs(times[-1]))
        for w0, w1 in keep.windows:
            if not np.any((times >= w0 - eps) & (times <= w1 + eps)):
                raise HarmosyncError(f"keep.windows: [{w0:g}, {w1:g}] contains no time of the run "
                                     f"[{times[0]:g}, {times[-1]:g}]")
    if keep.onset:
        hold = keep.onset_hold if keep.onset_hold is not None else 5.0 * cfg.sync.window
        if hold > times[-1] - times[0]:
            raise HarmosyncError(f"sweep error: keep.onset_hold = {hold:g} is longer than the run "
                                 f"({times[-1] - times[0]:g}); every onset would be NaN — shorten it")
    return _Prepared(cfg, net, state, times, (a - 1, b - 1))


def check_point(cfg: cfgmod.RunConfig, keep: Keep) -> None:
    """All input checks of one point, without the dynamics (for :func:`validate`)."""
    pre = _prepare(cfg, keep)
    sol = dy.solve(pre.network, pre.state, t_max=float(np.max(np.abs(pre.times))), covariance=False)
    check_time_grid(pre.times, float(sol.frequencies[-1]))


def compute_series(cfg: cfgmod.RunConfig, names, *, keep: Keep | None = None) -> tuple[np.ndarray, dict]:
    """The time series ``names`` of one run, as :func:`harmosync.simulation.simulate` defines
    them, computing only what they need. When none needs a covariance, the low-rank part of the
    solution is never built (``dynamics.solve(..., covariance=False)``): the means are then
    exact and the covariance of the result is not used. Returns (times, {name: array})."""
    keep = keep or Keep(series=tuple(names))
    names = tuple(names)
    need_cov = any(SERIES[q] == "cov" for q in names)
    pre = _prepare(cfg, keep)
    sol = dy.solve(pre.network, pre.state, t_max=float(np.max(np.abs(pre.times))), covariance=need_cov)
    check_time_grid(pre.times, float(sol.frequencies[-1]))
    if need_cov:
        mom = dy.moments(sol, pre.times)
        mean, cov = mom.mean, mom.cov
    else:  # first moments only: the covariance's low-rank part was never built
        mean, cov = dy.means(sol, pre.times), None
    times, net = pre.times, pre.network
    i, j = pre.pair
    step = times[1] - times[0] if times.size > 1 else 0.0
    win, delay = cfg.sync.window, cfg.sync.delay
    out: dict[str, np.ndarray] = {}
    for q in names:
        if q == "x":
            out[q] = mean[:, 0::2]
        elif q == "p":
            out[q] = mean[:, 1::2]
        elif q == "cov":
            out[q] = cov
        elif q == "sync":
            out[q] = ms.sync_factor(mean[:, 2 * i], mean[:, 2 * j], step, win, delay=delay)
        elif q == "sync_variance":
            x2i = cov[:, 2 * i, 2 * i] + mean[:, 2 * i] ** 2
            x2j = cov[:, 2 * j, 2 * j] + mean[:, 2 * j] ** 2
            out[q] = ms.sync_factor(x2i, x2j, step, win, delay=delay)
        elif q == "mutual_information":
            out[q] = ms.mutual_information(cov, [i], [j], accuracy=sol.error_bound)
        elif q == "log_negativity":
            out[q] = ms.log_negativity(cov, [i], [j], accuracy=sol.error_bound)
        elif q == "complete_sync":
            out[q] = ms.complete_sync(mean, None, i, j)
        elif q == "complete_sync_quantum":
            out[q] = ms.complete_sync(mean, cov, i, j)
        elif q == "energy_probes":
            vs = net.probes.potential()
            sx = cov[:, 0::2, 0::2] + mean[:, 0::2, None] * mean[:, None, 0::2]
            sp2 = np.einsum("tii->t", cov[:, 1::2, 1::2]) + np.sum(mean[:, 1::2] ** 2, axis=1)
            out[q] = 0.5 * (np.einsum("ij,tji->t", vs, sx) + sp2)
        elif q in ("q1", "q2"):
            from ..network import system_normal_modes

            theta, _ = system_normal_modes(net.probes.frequencies, net.probes.coupling[0, 1])
            out["q1"], out["q2"] = dy.normal_mode_coordinates(mean[:, 0], mean[:, 2], theta)
    if need_cov:
        check_result(mean, cov, out)  # simulate's guard: finite, physical covariances
    return times, {q: out[q] for q in names}


def summarize(values: np.ndarray, times: np.ndarray, windows, stats=STATS) -> dict[str, np.ndarray]:
    """Mean, min, max of ``values`` over the samples with start ≤ t ≤ stop of each summary
    interval ``windows`` [(start, stop), ...], ignoring NaN (C is NaN over the last Δt of a
    run). The mean is the sample mean on the uniform grid. NaN where an interval has no finite
    sample. Returns {stat: (number of intervals,)}."""
    out = {s: np.full(len(windows), np.nan) for s in stats}
    eps = 1e-9 * max(1.0, abs(times[-1]))
    for k, (w0, w1) in enumerate(windows):
        v = values[(times >= w0 - eps) & (times <= w1 + eps)]
        v = v[~np.isnan(v)]
        if v.size:
            for s in stats:
                out[s][k] = getattr(np, s)(v)
    return out


def onset_time(c: np.ndarray, times: np.ndarray, threshold: float, hold: float, window) -> float:
    """Onset of synchronization: the first time t in the summary interval ``window`` = (start,
    stop) such that |C(t′)| ≥ threshold at every sample t′ ∈ [t, t + hold], with [t, t + hold]
    inside the interval (hold rounded up to a whole number of steps). |C| counts
    synchronization and anti-synchronization alike; NaN samples (past the end of the data)
    count as below. NaN if there is no such t [1/ω]."""
    w0, w1 = window
    eps = 1e-9 * max(1.0, abs(times[-1]))
    idx = np.flatnonzero((times >= w0 - eps) & (times <= w1 + eps))
    if idx.size == 0:
        return math.nan
    step = times[1] - times[0] if times.size > 1 else 1.0
    h = math.ceil(hold / step - 1e-9) if hold > 0 else 0
    with np.errstate(invalid="ignore"):
        above = np.abs(c[idx]) >= threshold
    n = idx.size - h
    if n <= 0:
        return math.nan
    run = np.concatenate([[0], np.cumsum(above)])
    ok = (run[h + 1:] - run[: n]) == h + 1
    return float(times[idx[np.argmax(ok)]]) if ok.any() else math.nan


def evaluate(cfg: cfgmod.RunConfig, keep: Keep) -> dict[str, np.ndarray]:
    """Everything ``keep`` asks for at one point: {variable name: array} (see
    :func:`harmosync.sweep.store.store_layout`)."""
    times, series = compute_series(cfg, keep.quantities, keep=keep)
    hold = keep.onset_hold if keep.onset_hold is not None else 5.0 * cfg.sync.window
    out = {}
    for q in keep.series:
        out[q] = series[q][:: keep.stride]
    for q in keep.summaries:
        for s, v in summarize(series[q], times, keep.windows, keep.stats).items():
            out[f"{q}_{s}"] = v
    for q in keep.onset:
        out[f"{q}_onset"] = np.array([onset_time(series[q], times, keep.onset_threshold, hold, w)
                                      for w in keep.windows])
    return out
