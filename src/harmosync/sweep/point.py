"""One point of a sweep: its config → the time series and summaries its ``[keep]`` asks for.

A point is a run, computed on the one path of :mod:`harmosync.simulation` (``prepare`` then
``observe``, the observables of the registry), with the checks that only a sweep needs (the
summary intervals, the onset hold). :func:`summarize` and :func:`onset_time` reduce a series
over the summary intervals; :func:`evaluate` does it all for one point, optionally from an
evolution solved in a batch (:func:`harmosync.dynamics.solve_many`). Times are in 1/[ω]
(ħ = 1, unit masses).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .. import config as cfgmod
from .. import dynamics as dy
from .. import observables as obs
from .. import simulation as sim
from ..errors import HarmosyncError
from .keep import STATS, Keep


def prepare(cfg: cfgmod.RunConfig, keep: Keep) -> sim.Point:
    """:func:`harmosync.simulation.prepare` (the time grid shared with the sweep's other points)
    and the checks of ``keep`` against the point's time grid (summary intervals inside the
    run, an onset hold shorter than it)."""
    point = sim.prepare(cfg, shared=True)
    if keep.onset or keep.summaries:
        t = cfg.time
        problem = _keep_problem(t.start, t.stop, t.step, keep, _hold(point, keep) if keep.onset else None)
        if problem:
            raise HarmosyncError(problem)
    return point


@functools.lru_cache(maxsize=64)
def _keep_problem(start: float, stop: float, step: float, keep: Keep, hold: float | None) -> str | None:
    """Why ``keep`` does not fit the time grid of [time] ``start``, ``stop``, ``step`` (the
    summary intervals and the onset ``hold``), or None: the same for every point of a sweep
    that does not sweep [time], so checked once."""
    times = sim.time_grid(cfgmod.TimeConfig(start=start, stop=stop, step=step))
    eps = 1e-9 * max(1.0, abs(times[-1]))
    for w0, w1 in keep.windows:
        if not np.any((times >= w0 - eps) & (times <= w1 + eps)):
            return (f"keep.windows: [{w0:g}, {w1:g}] contains no time of the run "
                    f"[{times[0]:g}, {times[-1]:g}]")
    if hold is not None and hold > times[-1] - times[0]:
        return (f"sweep error: keep.onset_hold = {hold:g} is longer than the run "
                f"({times[-1] - times[0]:g}); every onset would be NaN — shorten it")
    return None


def check_point(cfg: cfgmod.RunConfig, keep: Keep) -> None:
    """All input checks of one point, the time step against its fastest mode included, for
    :func:`validate` (without solving a closed network: the driver loads no kernel)."""
    point = prepare(cfg, keep)
    sim.check_time_grid(point.times, sim.fastest_mode(point))


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
    series = compute_series(point, keep.quantities, evolution=evolution)
    return reduce_series([point], [series], keep)[0]


def reduce_series(points: list, series: list[dict], keep: Keep) -> list[dict[str, np.ndarray]]:
    """The kept variables of prepared points from their time series ``series`` ({name: array}
    each): strided series, summaries and onsets (as :func:`summarize` and :func:`onset_time`,
    for all points of one time grid at once). Returns per point {variable name: array}."""
    out: list[dict] = [{q: s[q][:: keep.stride] for q in keep.series} for s in series]
    if not (keep.summaries or keep.onset):
        return out
    groups: dict[tuple, list[int]] = {}
    for k, pt in enumerate(points):  # points with the same time grid and onset hold
        t = pt.times
        groups.setdefault((t.size, float(t[0]), float(t[-1]), _hold(pt, keep)), []).append(k)
    for (_, _, _, hold), idx in groups.items():
        times = points[idx[0]].times
        stacked = {q: np.stack([series[k][q] for k in idx]) for q in dict.fromkeys(keep.summaries + keep.onset)}
        kept = {}
        for q in keep.summaries:
            kept.update((f"{q}_{s}", v) for s, v in summarize_many(stacked[q], times, keep.windows, keep.stats).items())
        for q in keep.onset:
            kept[f"{q}_onset"] = np.stack([onset_many(stacked[q], times, keep.onset_threshold, hold, w)
                                           for w in keep.windows], axis=1)
        for name, v in kept.items():
            for row, k in enumerate(idx):
                out[k][name] = v[row]
    return out


def _hold(point: sim.Point, keep: Keep) -> float:
    return keep.onset_hold if keep.onset_hold is not None else 5.0 * point.config.sync.window


def summarize_many(values: np.ndarray, times: np.ndarray, windows, stats=STATS) -> dict[str, np.ndarray]:
    """:func:`summarize` of many series on one time grid, ``values`` (S, T): {stat: (S,
    number of intervals)}, the same numbers (a row with NaN in an interval goes through
    :func:`summarize`)."""
    out = {s: np.full((values.shape[0], len(windows)), np.nan) for s in stats}
    for k, (w0, w1) in enumerate(windows):
        lo, hi = _interval(times, w0, w1)
        if hi <= lo:
            continue
        v = values[:, lo:hi]
        holes = np.isnan(v).any(axis=1)
        whole = ~holes
        rows = v if not holes.any() else v[whole]  # each row reduced alone: the same numbers either way
        for s in stats:
            out[s][whole, k] = getattr(np, s)(rows, axis=1)
        for row in np.flatnonzero(holes):
            for s, x in summarize(values[row], times, [(w0, w1)], stats).items():
                out[s][row, k] = x[0]
    return out


def onset_many(c: np.ndarray, times: np.ndarray, threshold: float, hold: float, window) -> np.ndarray:
    """:func:`onset_time` of many series on one time grid, ``c`` (S, T): (S,) [1/ω]."""
    lo, hi = _interval(times, *window)
    out = np.full(c.shape[0], np.nan)
    step = times[1] - times[0] if times.size > 1 else 1.0
    h = math.ceil(hold / step - 1e-9) if hold > 0 else 0
    n = hi - lo - h
    if hi <= lo or n <= 0:
        return out
    with np.errstate(invalid="ignore"):
        above = np.abs(c[:, lo:hi]) >= threshold
    run = np.zeros((c.shape[0], hi - lo + 1), np.int32 if hi - lo < 2**31 else np.int64)
    np.cumsum(above, axis=1, out=run[:, 1:])
    ok = (run[:, h + 1:] - run[:, :n]) == h + 1
    first = np.argmax(ok, axis=1)
    found = ok[np.arange(c.shape[0]), first]
    out[found] = times[lo + first[found]]
    return out


def _interval(times: np.ndarray, w0: float, w1: float) -> tuple[int, int]:
    """The samples [lo, hi) of the sorted ``times`` with w0 ≤ t ≤ w1 (to 1e-9 relative), the
    ones :func:`summarize` and :func:`onset_time` select."""
    eps = 1e-9 * max(1.0, abs(times[-1]))
    idx = np.flatnonzero((times >= w0 - eps) & (times <= w1 + eps))
    return (int(idx[0]), int(idx[-1]) + 1) if idx.size else (0, 0)


#: points evaluated together: their moments, series and stacked signals at most ~8 MB
BLOCK_BYTES = 8 * 2**20


def evaluate_many(points: list, keep: Keep, notes: dict | None = None) -> list:
    """:func:`evaluate` for many prepared points, solving together the ones that share a chain
    (:func:`harmosync.dynamics.solve_many`: a sweep over plugging sites or strengths is the
    Fig. 6 map path) and computing their C(t, Δt) and summaries together
    (:func:`harmosync.simulation.observe_many`), a block of points at a time. Returns, per
    point, its {name: array} or the HarmosyncError it raised. ``notes``: filled with
    {index: line} for the points computed with a warning (:func:`harmosync.simulation.run_note`)."""
    evolutions, failed = _solve(points, keep)
    out: list = [failed.get(k, pt) if isinstance(pt, HarmosyncError) or k in failed else None
                 for k, pt in enumerate(points)]
    todo = [k for k, o in enumerate(out) if o is None]
    block = max(1, BLOCK_BYTES // max((kept_bytes(points[k].network.n_probes, points[k].times.size, keep) for k in todo),
                                         default=1))
    for a in range(0, len(todo), block):
        idx = todo[a:a + block]
        seen = sim.observe_many([points[k] for k in idx], keep.quantities, [evolutions.get(k) for k in idx])
        for k, r in zip(idx, seen):
            if isinstance(r, HarmosyncError):
                out[k] = r
            elif notes is not None and points[k].baths and (note := sim.run_note(points[k], r[0], r[2])):
                notes[k] = note
        done = [(k, r[3]) for k, r in zip(idx, seen) if not isinstance(r, HarmosyncError)]
        kept = reduce_series([points[k] for k, _ in done], [series for _, series in done], keep)
        for (k, _), v in zip(done, kept):
            out[k] = v
    return out


def kept_bytes(n_probes: int, n_times: int, keep: Keep) -> int:
    """Memory of one point in :func:`evaluate_many`: its moments, the kept series and the
    stacked signals of C, 8 bytes each per time."""
    d = 2 * n_probes
    cov = d * d if obs.needs_covariance(keep.quantities) else 0
    return 8 * n_times * (d + cov + 3 + len(keep.quantities))


def _solve(points: list, keep: Keep) -> tuple[dict[int, dy.Evolution], dict[int, HarmosyncError]]:
    """The evolutions of the prepared points (closed ones through solve_many, a batch per time
    grid; open ones are left to observe) and the errors of the refused ones, by index."""
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
    return evolutions, failed
