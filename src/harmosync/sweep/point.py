"""One point of a sweep: its config → the time series and summaries its ``[keep]`` asks for.

A point is a run, computed on the one path of :mod:`harmosync.simulation` (``prepare`` then
``observe``, the observables of the registry), with the checks that only a sweep needs (the
summary intervals, the onset hold). :func:`summarize` and :func:`onset_time` reduce a series
over the summary intervals; :func:`evaluate` does it all for one point, optionally from an
evolution solved in a batch (:func:`harmosync.dynamics.solve_many`). Times are in 1/[ω]
(ħ = 1, unit masses).
"""

from __future__ import annotations

import math

import numpy as np

from .. import config as cfgmod
from .. import dynamics as dy
from .. import observables as obs
from .. import simulation as sim
from ..errors import HarmosyncError
from .keep import STATS, Keep


def prepare(cfg: cfgmod.RunConfig, keep: Keep) -> sim.Point:
    """:func:`harmosync.simulation.prepare` and the checks of ``keep`` against the point's
    time grid (summary intervals inside the run, an onset hold shorter than it)."""
    point = sim.prepare(cfg)
    times = point.times
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
    return point


def check_point(cfg: cfgmod.RunConfig, keep: Keep) -> None:
    """All input checks of one point, with the first moments' evolution only (the time step
    against the fastest mode), for :func:`validate`."""
    point = prepare(cfg, keep)
    sim.check_time_grid(point.times, sim.solve(point, covariance=False).max_frequency)


def compute_series(point: sim.Point, names, *, evolution: dy.Evolution | None = None) -> dict:
    """The time series ``names`` of one prepared point, as ``simulate`` defines them (the
    registry), computing only what they need. Returns {name: array}."""
    return sim.observe(point, names, evolution=evolution)[3]


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


def evaluate(point: sim.Point, keep: Keep, *, evolution: dy.Evolution | None = None) -> dict[str, np.ndarray]:
    """Everything ``keep`` asks for at one prepared point: {variable name: array} (see
    :func:`harmosync.sweep.store.store_layout`)."""
    times, cfg = point.times, point.config
    series = compute_series(point, keep.quantities, evolution=evolution)
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


def evaluate_many(points: list, keep: Keep) -> list:
    """:func:`evaluate` for many prepared points, solving together the ones that share a chain
    (:func:`harmosync.dynamics.solve_many`: a sweep over plugging sites or strengths is the
    Fig. 6 map path). Returns, per point, its {name: array} or the HarmosyncError it raised."""
    need_cov = obs.needs_covariance(keep.quantities)
    # open systems (baths) are solved one by one by observe: solve_many is the closed solver
    ok = [k for k, pt in enumerate(points) if not isinstance(pt, HarmosyncError) and not pt.baths]
    evolutions: dict[int, dy.Evolution] = {}
    failed: dict[int, HarmosyncError] = {}
    groups: dict[tuple, list[int]] = {}
    for k in ok:  # one batch per time grid (solve_many cuts with one t_max)
        groups.setdefault((points[k].t_max,), []).append(k)
    for (t_max,), idx in groups.items():
        # every point through solve_many, even alone in its task: a point's numbers must not
        # depend on how the sweep was cut into tasks (bitwise the same on any executor)
        try:
            evolutions.update(zip(idx, dy.solve_many([points[k].network for k in idx],
                                                     [points[k].state for k in idx], covariance=need_cov, t_max=t_max)))
        except HarmosyncError:
            # one point is refused: solve_many each point alone, so that it gets its own error
            # and the others the same numbers as in any other batch
            for k in idx:
                try:
                    evolutions[k] = dy.solve_many([points[k].network], [points[k].state],
                                                  covariance=need_cov, t_max=t_max)[0]
                except HarmosyncError as e:
                    failed[k] = e
    out = []
    for k, pt in enumerate(points):
        if isinstance(pt, HarmosyncError) or k in failed:
            out.append(failed.get(k, pt))
            continue
        try:
            out.append(evaluate(pt, keep, evolution=evolutions.get(k)))
        except HarmosyncError as e:
            out.append(e)
    return out
