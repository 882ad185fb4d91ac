"""A sweep's task computed in batches (issue 14): the batched routes against the one-point ones.

A task's points share work: the C(t, Δt) of Eq. (3) of all of them comes from one
``sync_factor`` call on the stacked signals (``observables.compute_many``,
``simulation.observe_many``), their summaries and onsets from array operations over the points
(``sweep.point.summarize_many``, ``onset_many``), their initial states from a
cache (``simulation.initial_state``), and their configs validate only the tables
the axes touch (``config.parse_update``). Each route must give *the same numbers* (bit for bit)
and the same refusals as its one-point definition, whatever the batch: that is what these tests
check. The physics of a point is tested in test_sweep.py and test_simulate.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from harmosync import config, observables, simulation
from harmosync import sweep as sw
from harmosync.errors import HarmosyncError
from harmosync.sweep import executors
from harmosync.sweep import point as point_mod

BASE = {
    "chain": {"sites": 12, "omega0": 0.4, "g": 1.2},
    "probes": {"frequencies": [1.0, 1.1], "coupling": 0.3, "sites": [1, 4], "strengths": [0.2, 0.2]},
    "initial": {"x": [0.3, 1.4], "squeezing": [0.2, 0.0]},
    "time": {"stop": 40.0, "step": 0.05},
    "sync": {"window": 5.0},
}


def configs(strengths=(0.1, 0.25, 0.4), w2=(1.0, 1.2), **sync):
    out = []
    for k in strengths:
        for w in w2:
            d = {**BASE, "probes": {**BASE["probes"], "strengths": [k, k], "frequencies": [1.0, w]},
                 "sync": {**BASE["sync"], **sync}}
            out.append(config.parse(d))
    return out


def same(a, b) -> bool:
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


# ----------------------------------------------------------------------------------------------
# Summaries and onsets of many series = summarize / onset_time row by row
# ----------------------------------------------------------------------------------------------
def test_summaries_of_many_series_are_summarize_row_by_row():
    """mean/min/max over start ≤ t ≤ stop ignoring NaN (sweep.point.summarize): rows without
    NaN in an interval are reduced together, rows with NaN one by one; intervals that hold no
    sample, or only NaN, give NaN."""
    rng = np.random.default_rng(7)
    t = 0.05 * np.arange(401)
    v = rng.uniform(-1, 1, (9, t.size))
    v[2, 50:60] = np.nan  # a hole inside the first interval
    v[:, -100:] = np.nan  # C past the end of the data
    v[5, :] = np.nan
    windows = [(1.0, 12.0), (10.0, 20.0), (14.0, 20.0), (25.0, 30.0), (0.0, 20.0)]
    many = point_mod.summarize_many(v, t, windows)
    for r in range(v.shape[0]):
        one = sw.summarize(v[r], t, windows)
        for s in sw.STATS:
            assert same(many[s][r], one[s]), (r, s)
    assert np.isnan(many["mean"][:, 3]).all()  # no sample in [25, 30]


def test_onsets_of_many_series_are_onset_time_row_by_row():
    """The onset of synchronization (first t with |C| ≥ threshold on all of [t, t + hold],
    sweep.point.onset_time) of many series at once, against the one-series definition, for
    holds from zero to longer than the interval, with NaN samples counting as below."""
    rng = np.random.default_rng(11)
    t = 0.5 * np.arange(80)
    c = rng.uniform(-1, 1, (40, t.size))
    c[rng.uniform(size=c.shape) < 0.05] = np.nan
    c[3] = np.minimum(1.0, t / 10)  # an analytic one: onset 9 for threshold 0.9
    for thr, hold, win in [(0.3, 0.0, (0, 40)), (0.2, 1.2, (3.0, 30.0)), (0.1, 3.0, (2.5, 39.5)),
                           (0.9, 5.0, (0, 40)), (0.5, 50.0, (0, 40)), (0.5, 1.0, (45, 50))]:
        many = point_mod.onset_many(c, t, thr, hold, win)
        for r in range(c.shape[0]):
            assert same(many[r], sw.onset_time(c[r], t, thr, hold, win)), (r, thr, hold, win)
    assert point_mod.onset_many(c[3:4], t, 0.9, 5.0, (0, 40))[0] == pytest.approx(9.0)


# ----------------------------------------------------------------------------------------------
# C of Eq. (3) for many runs in one call
# ----------------------------------------------------------------------------------------------
def contexts(cfgs, *, covariance=False):
    out = []
    for cfg in cfgs:
        pt = simulation.prepare(cfg)
        evo = simulation.solve(pt, covariance=covariance)
        mom = evo.moments(pt.times) if covariance else None
        mean = mom.mean if covariance else evo.means(pt.times)
        out.append(observables.Context(pt.times, mean, mom.cov if covariance else None, pt.network, pt.pair,
                                       cfg.sync.window, cfg.sync.delay, evo.error_bound))
    return out


def test_compute_many_is_compute_run_by_run():
    """observables.compute_many stacks the signals of the C(t, Δt) observables (sync of ⟨x⟩,
    sync_variance of ⟨x²⟩) of runs with one time grid, Δt and τ into one sync_factor call; runs
    with another Δt or τ form their own group. Every value is compute's, bit for bit."""
    cfgs = configs() + configs(strengths=(0.3,), delay=0.5) + configs(strengths=(0.3,), window=4.0)
    ctx = contexts(cfgs, covariance=True)
    names = ["sync", "sync_variance", "complete_sync", "x"]
    many = observables.compute_many(names, ctx)
    for c, got in zip(ctx, many):
        want = observables.compute(names, c)
        assert list(got) == names
        for q in names:
            assert same(got[q], want[q]), q


def test_observe_many_is_observe_point_by_point_and_keeps_errors_per_point():
    """simulation.observe_many = observe for each point (moments and observables bit for bit);
    a point that observe refuses (a time step that aliases its fastest mode) gets that error,
    and the others their numbers."""
    cfgs = configs()
    coarse = config.parse({**BASE, "probes": {**BASE["probes"], "strengths": [0.1, 0.1]},
                           "time": {"stop": 40.0, "step": 1.5}, "sync": {"window": 6.0}})
    points = [simulation.prepare(c) for c in cfgs[:2]] + [simulation.prepare(coarse)] + \
        [simulation.prepare(c) for c in cfgs[2:]]
    names = ["sync", "x", "q1"]
    got = simulation.observe_many(points, names)
    assert isinstance(got[2], HarmosyncError) and "alias" in str(got[2])
    for pt, g in zip(points[:2] + points[3:], got[:2] + got[3:]):
        _, mean, cov, values = simulation.observe(pt, names)
        assert cov is None and g[2] is None and same(g[1], mean)
        for q in names:
            assert same(g[3][q], values[q]), q


def test_evaluate_many_is_independent_of_the_block_of_points(monkeypatch):
    """A task evaluates its points in blocks (point.BLOCK_BYTES bounds the memory of the stacked
    moments): the kept variables are the same for blocks of one point, of a few, and of all —
    and equal evaluate() of each point alone."""
    keep = sw.Keep(series=("sync",), stride=3, summaries=("sync", "sync_variance"), windows=((0, 20), (10, 40)),
                   onset=("sync",), onset_threshold=0.4, onset_hold=1.0)
    points = [sw.prepare(c, keep) for c in configs()]
    results = {}
    for block_bytes in (1, 3 * 8 * 801 * 30, point_mod.BLOCK_BYTES):
        monkeypatch.setattr(point_mod, "BLOCK_BYTES", block_bytes)
        results[block_bytes] = sw.evaluate_many(points, keep)
    alone = [sw.evaluate(p, keep, evolution=e) for p, e in zip(points, _evolutions(points))]
    for res in list(results.values()) + [alone]:
        for got, want in zip(res, results[1]):
            assert list(got) == keep.variable_names()
            for name in got:
                assert same(got[name], want[name]), name


def _evolutions(points):
    """Each point's evolution as evaluate_many solves it (one solve_many batch)."""
    from harmosync import dynamics

    return dynamics.solve_many([p.network for p in points], [p.state for p in points],
                               covariance=True, t_max=points[0].t_max)


# ----------------------------------------------------------------------------------------------
# Shared initial states and time grids; configs validated by table
# ----------------------------------------------------------------------------------------------
def test_initial_states_are_shared_by_equal_configs_only():
    """simulation.initial_state: configs with the same [initial], probe frequencies and
    environment temperature share one state (read-only arrays) equal to cfg.build_state();
    another frequency or temperature gives another state."""
    a, b = configs(strengths=(0.1, 0.4), w2=(1.2,))
    sa, sb = simulation.initial_state(a), simulation.initial_state(b)
    assert sa is sb
    ref = a.build_state()
    assert same(sa.probes.cov, ref.probes.cov) and same(sa.probes.mean, ref.probes.mean)
    assert not sa.probes.cov.flags.writeable and not sa.probes.mean.flags.writeable
    # the vacuum of probe 2 has <x²> = 1/(2 ω2): another ω2 is another state
    (c,) = configs(strengths=(0.1,), w2=(1.3,))
    assert simulation.initial_state(c).probes.cov[2, 2] == pytest.approx(0.5 / 1.3)
    hot = config.parse({**BASE, "chain": {**BASE["chain"], "temperature": 0.2}})
    assert simulation.initial_state(hot).environment_temperature == 0.2


def test_parse_update_gives_parse_s_config_and_parse_s_refusals():
    """A sweep point validates only the tables its axes set values in (config.parse_update): the
    same RunConfig as parsing the whole dict, and for a refused value the same one-line message."""
    spec = sw.build_spec(BASE, {"probes.strengths[*]": {"values": [0.1, -0.2]},
                                "probes.frequencies[2]": {"values": [1.0, 1.3]}}, {"summaries": ["sync"]})
    base = config.parse(spec.base)
    for i in range(spec.size):
        d = spec.point_dict(i)
        assert config.parse_update(base, d, ("probes",)).to_dict() == config.parse(d).to_dict()
    for bad in ({"frequencies": [1.0, -1.0]}, {"strengths": [0.1, True]}, {"sites": [1, 4, 5]}, {"oops": 1}):
        d = {**spec.base, "probes": {**spec.base["probes"], **bad}}
        with pytest.raises(HarmosyncError) as want:
            config.parse(d)
        with pytest.raises(HarmosyncError) as got:
            config.parse_update(base, d, ("probes",))
        assert str(got.value) == str(want.value)
    bad = sw.build_spec(BASE, {"time.stop": {"values": [40.0, 0.01]}}, {"summaries": ["sync"]})
    with pytest.raises(HarmosyncError, match=r"sweep error: at time.stop = 0.01: config error: time: "):
        bad.point_config(1)


def test_early_pool_only_for_a_local_pool_and_released_when_serial_will_do():
    """executors.early_pool starts the local workers before validation only for a local pool
    of more than one worker (and more than one task); choose_executor uses it, or stops it
    when one process will do."""
    assert executors.early_pool("serial", 2, 100) is None
    assert executors.early_pool(None, 2, 1) is None
    assert executors.early_pool(None, 1, 100) is None
    pool = executors.early_pool(None, 2, 100)
    try:
        assert pool is not None and pool.workers == 2
        ex, inflight, used = executors.choose_executor(None, 2, 1, print, pool)
        assert isinstance(ex, executors.SerialExecutor) and used is None and pool.executor is None
    finally:
        pool.terminate()


def test_a_large_sweep_on_the_early_pool_equals_the_serial_sweep(tmp_path):
    """A sweep of ≥ run.EARLY_POOL_POINTS points runs on workers started before validation,
    whose tasks batch their points: the store holds the serial sweep's numbers bit for bit."""
    from harmosync.sweep import run as run_mod

    base = {**BASE, "chain": {**BASE["chain"], "sites": 6}, "time": {"stop": 12.0, "step": 0.05},
            "sync": {"window": 2.0}}
    axes = {"probes.strengths[*]": {"start": 0.05, "stop": 0.5, "num": 16, "name": "K"},
            "probes.frequencies[2]": {"start": 1.0, "stop": 1.4, "num": 15, "name": "w2"}}
    keep = {"summaries": ["sync"], "windows": [[1, 9]], "onset": ["sync"], "onset_threshold": 0.5,
            "onset_hold": 1.0}
    assert 16 * 15 >= run_mod.EARLY_POOL_POINTS
    quiet = dict(progress=False, log=lambda s: None)
    pooled = sw.run_sweep(base, axes, keep=keep, store=tmp_path / "p.zarr", workers=2, batch=40, **quiet).load()
    serial = sw.run_sweep(base, axes, keep=keep, executor="serial", batch=7, **quiet)
    assert (pooled["status"] == 1).all()
    for v in ("sync_mean", "sync_min", "sync_max", "sync_onset"):
        assert same(pooled[v].values, serial[v].values), v
