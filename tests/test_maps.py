"""Maps: many networks on one chain solved together — ``dynamics.solve_many`` (the chain's work
shared), the sweep's point path and ``figure 6`` — against ``dynamics.solve`` network by network.

The map routes differ from a single solve only in how the normal modes are found (the shared
secular stage of the chain with probe 1, or one stacked ``eigh`` for small networks) and in
that C of Eq. (3) is computed on all signal pairs at once. Both are exact up to roundoff: the
means agree within the accuracy recorded for the structured solver (1e-11, the bound the
solve_many tests use), and C — a normalised covariance of the means over a window of Δt — within
that error divided by the signals' spread over a window (well inside 1e-8 here).
"""

from __future__ import annotations

import numpy as np
import pytest

from harmosync import dynamics as dy
from harmosync import measures as ms
from harmosync import network as nw
from harmosync import states as st
from harmosync import sweep as sw
from harmosync.dynamics import evaluation as ev
from harmosync.dynamics import many
from harmosync.baths import Bath
from harmosync.dynamics.normal_modes import NormalModeEvolution
from harmosync.errors import HarmosyncError
from harmosync.solvers import trigsum as ts
from harmosync.figures import common, fig6

COHERENT = st.InitialState(st.product(st.coherent(1.0, 0.14), st.coherent(1.1, 1.4)))
MEAN_TOL = 1e-11
SYNC_TOL = 1e-8


def fig6_map(sites, m_chain, t, window):
    """The Fig. 6 map as W2 and ``figure 6`` compute it: all networks through solve_many
    (means only), C of every site from one stacked sync_factor call."""
    env = nw.chain(m_chain, 0.4, 1.2)
    pr = nw.probes((1.0, 1.1), 0.5, (1, 1), (0.06, 0.06))
    nets = [nw.couple(env, q) for q in dy.plugging_sweep(pr, sites)]
    sols = dy.solve_many(nets, COHERENT, covariance=False, t_max=t[-1])
    means = many.means_many(sols, t, workers=2)
    x = many.means_many(sols, t, columns=(0, 2), workers=2)
    return sols, means, x, ms.sync_factor(x[:, :, 0], x[:, :, 1], t[1] - t[0], window, workers=2)


def one_network(m, m_chain, t, window):
    net = nw.couple(nw.chain(m_chain, 0.4, 1.2), nw.probes((1.0, 1.1), 0.5, (1, m), (0.06, 0.06)))
    mean = dy.solve(net, COHERENT, t_max=t[-1]).means(t)
    return mean, ms.sync_factor(mean[:, 0], mean[:, 2], t[1] - t[0], window)


def test_fast_map_matches_per_network_solves_on_a_subset_of_sites():
    """Fig. 6 on a 120-site chain (the shared secular path): ⟨x⟩, ⟨p⟩ and C(t) of Eq. (3) at
    the ends, next to them, in the middle and near the far end equal dy.solve's."""
    m_chain, t, window = 120, 0.1 * np.arange(2001), 10.0
    sites = list(range(1, m_chain + 1))
    sols, means, x, cmap = fig6_map(sites, m_chain, t, window)
    assert all(s.method == "chain" for s in sols)  # the shared path, not per-network solves
    for m in (1, 2, 37, 60, 61, 119, 120):
        mean, c = one_network(m, m_chain, t, window)
        np.testing.assert_allclose(means[m - 1], mean, rtol=0, atol=MEAN_TOL)
        np.testing.assert_allclose(x[m - 1], mean[:, [0, 2]], rtol=0, atol=MEAN_TOL)
        assert np.array_equal(np.isnan(cmap[m - 1]), np.isnan(c))
        np.testing.assert_allclose(cmap[m - 1], c, rtol=0, atol=SYNC_TOL, equal_nan=True)


def test_means_many_is_each_evolutions_own_means():
    """means_many (threads over networks, one FFT thread each) returns every evolution's own
    means bit for bit; the positions alone (columns 0, 2: half the transforms, the same pair of
    columns per transform) are those columns of the full means, bit for bit; other selections
    agree within roundoff; and a grid of T = 2n times keeps its rows in time order."""
    env = nw.chain(80, 0.4, 1.2)
    pr = nw.probes((1.0, 1.1), 0.5, (1, 1), (0.06, 0.06))
    nets = [nw.couple(env, q) for q in dy.plugging_sweep(pr, [1, 5, 40, 80])]
    sols = dy.solve_many(nets, COHERENT, covariance=False, t_max=150.0)
    t = 0.05 * np.arange(3001)
    full = [s.means(t) for s in sols]
    for workers in (1, 2):
        assert np.array_equal(many.means_many(sols, t, workers=workers), np.array(full))
        x = many.means_many(sols, t, columns=(0, 2), workers=workers)
        assert np.array_equal(x, np.array(full)[:, :, [0, 2]])
    odd = many.means_many(sols, t, columns=(3, 0))
    np.testing.assert_allclose(odd, np.array(full)[:, :, [3, 0]], rtol=0, atol=MEAN_TOL)
    # T = 4 = 2n times: (T, 2n) is square, and must not be permuted as a matrix
    short = sols[1].means(t[:4])
    np.testing.assert_allclose(short, full[1][:4], rtol=0, atol=MEAN_TOL)
    with pytest.raises(HarmosyncError, match="columns"):
        sols[0].means(t, columns=(4,))
    with pytest.raises(HarmosyncError, match="columns"):
        many.means_many(sols, t, columns=(0, -1))
    with pytest.raises(HarmosyncError, match="workers"):
        many.means_many(sols, t, workers=0)
    with pytest.raises(HarmosyncError, match="workers"):
        ms.sync_factor(full[0][:, 0], full[0][:, 2], 0.05, 1.0, workers=1.5)


def test_means_many_groups_networks_of_different_sizes_bit_for_bit():
    """means_many evaluates the NUFFT networks in groups (their extended-precision points and
    phases in one pass: trigsum.nufft_many): networks of different chains
    (different numbers of modes, so different chunk plans) in one call, beside an open
    network's (its own path), with group sizes 1 to all and the phases formed a few chunks at a
    time or all at once, give each evolution's own means bit for bit; a grid too short for the
    NUFFT (direct tables) likewise."""
    nets = [nw.couple(nw.chain(m, 0.4, 1.2), nw.probes((1.0, 1.1), 0.5, (1, s), (0.06, 0.06)))
            for m, s in ((40, 3), (120, 60), (75, 75), (120, 1), (33, 10))]
    sols = [dy.solve(net, COHERENT, covariance=False, t_max=1500.0) for net in nets]
    assert len({s.frequencies.size for s in sols}) >= 3
    # (and an open network, whose means go one by one: lossy probes on a short chain)
    sols.insert(2, dy.solve(nw.couple(nw.chain(6, 0.4, 1.2), nw.probes((1.0, 1.1), 0.5, (1, 3), (0.06, 0.06))),
                            COHERENT, baths=[Bath("lindblad", 1e-3, probes=(1, 2))]))
    t = 0.05 * np.arange(30001)  # (3 chunks of 10,001 times: the phases a chunk or two at a time)
    nufft = [isinstance(s, NormalModeEvolution) and ev.uses_nufft(s, t, means_only=True) for s in sols]
    assert sum(nufft) >= 3 and not all(nufft)  # (groups and the one-by-one path in one call)
    own = np.array([s.means(t)[:, [0, 2]] if not isinstance(s, NormalModeEvolution) else s.means(t, columns=(0, 2))
                    for s in sols])
    for group, batch, elements in ((1, 64, 1 << 18), (2, 1, 1), (16, 2, 500), (16, 64, 1 << 18)):
        for workers in (1, 2):
            with pytest.MonkeyPatch.context() as mp:  # (and the phases in batches of a few chunks)
                mp.setattr(many, "MEANS_GROUP", group)
                mp.setattr(ts, "PHASE_BATCH", batch)
                mp.setattr(ts, "PHASE_ELEMENTS", elements)
                assert np.array_equal(many.means_many(sols, t, columns=(0, 2), workers=workers), own)
    short = t[:40]
    assert not any(isinstance(s, NormalModeEvolution) and ev.uses_nufft(s, short, means_only=True) for s in sols)
    assert np.array_equal(many.means_many(sols, short, workers=2), np.array([s.means(short) for s in sols]))


def test_shared_secular_path_is_bitwise_the_same_in_any_batch():
    """The chain path with the last probe's secular equations solved together gives a network
    the same evolution, bit for bit, alone or beside any others (a sweep's numbers do not depend
    on how its points are cut into tasks), and within roundoff dy.solve's."""
    env = nw.chain(90, 0.4, 1.2)
    pr = nw.probes((1.0, 1.1), 0.5, (1, 1), (0.06, 0.06))
    nets = [nw.couple(env, q) for q in dy.plugging_sweep(pr, [1, 2, 13, 45, 89, 90])]
    t = 0.1 * np.arange(1501)
    batch = dy.solve_many(nets, COHERENT, covariance=False, t_max=t[-1])
    other = dy.solve_many([nets[4], nets[1]], COHERENT, covariance=False, t_max=t[-1])
    assert all(s.method == "chain" for s in batch)
    for k, net in enumerate(nets):
        alone = dy.solve_many([net], COHERENT, covariance=False, t_max=t[-1])[0]
        assert np.array_equal(batch[k].means(t), alone.means(t))
        np.testing.assert_allclose(batch[k].means(t), dy.solve(net, COHERENT, t_max=t[-1]).means(t),
                                   rtol=0, atol=MEAN_TOL)
    assert np.array_equal(other[0].means(t), batch[4].means(t))
    assert np.array_equal(other[1].means(t), batch[1].means(t))


def test_sweep_over_the_plugging_site_is_the_same_map():
    """A sweep over probes.sites[2] (tasks of 7 points, solved together per task) keeps the C(t)
    that per-network solves give."""
    m_chain, stop, step, window = 60, 150.0, 0.05, 10.0
    base = {"chain": {"sites": m_chain, "omega0": 0.4, "g": 1.2},
            "probes": {"frequencies": [1.0, 1.1], "coupling": 0.5, "sites": [1, 1], "strengths": [0.06, 0.06]},
            "initial": {"x": [0.14, 1.4]}, "time": {"stop": stop, "step": step}, "sync": {"window": window}}
    ds = sw.run_sweep(base, {"probes.sites[2]": {"start": 1, "stop": m_chain, "name": "m"}},
                      keep={"series": ["sync", "x"]}, executor="serial", batch=7, progress=False,
                      log=lambda s: None)
    t = ds["time"].values
    for m in (1, 2, 30, 59, 60):
        mean, c = one_network(m, m_chain, t, window)
        np.testing.assert_allclose(ds["x"].sel(m=m).values, mean[:, 0::2], rtol=0, atol=MEAN_TOL)
        np.testing.assert_allclose(ds["sync"].sel(m=m).values, c, rtol=0, atol=SYNC_TOL, equal_nan=True)


def test_figure6_compute_is_the_same_map():
    """figure 6's compute (solve_many, C of all sites at once, sampled every ``every``) at
    three sites of a shorter run equals per-network solves."""
    p = fig6.Params(stop=150.0, second_sites=(1, 150, 300))
    ds = fig6.compute(p)
    t = common.time_grid(p.stop, p.step)
    stride = round(p.every / p.step)
    for m in p.second_sites:
        _, c = one_network(m, p.sites, t, p.window)
        np.testing.assert_allclose(ds["sync"].sel(site=m).values, c[::stride], rtol=0, atol=SYNC_TOL,
                                   equal_nan=True)


def test_small_networks_solved_in_one_stack_are_bitwise_solve():
    """Networks of at most DENSE_BATCH oscillators take solve's dense path with one stacked
    eigh: each evolution is bit for bit dy.solve's (means, covariances, error bound), whatever
    other networks share its batch."""
    env = nw.chain(20, 0.4, 1.2)
    init = st.InitialState(st.product(st.squeezed(1.0, 0.3, x=1.4), st.coherent(1.1, 1.4)))
    nets = [nw.couple(env, nw.probes((1.0, w2), 0.3, (1, 4), (k, k)))
            for k in (0.05, 0.3, 0.6) for w2 in (1.0, 1.2, 1.5)]
    assert max(n.size for n in nets) <= many.DENSE_BATCH
    t = 0.05 * np.arange(801)
    sols = dy.solve_many(nets, init, t_max=t[-1])
    alone = dy.solve_many(nets[4:5], init, t_max=t[-1])[0]
    for net, sol in zip(nets, sols):
        ref = dy.solve(net, init, t_max=t[-1])
        a, b = sol.moments(t), ref.moments(t)
        assert sol.method == ref.method == "dense"
        assert np.array_equal(a.mean, b.mean) and np.array_equal(a.cov, b.cov)
        assert sol.error_bound == ref.error_bound and sol.energy == ref.energy
    assert np.array_equal(alone.moments(t).cov, sols[4].moments(t).cov)


@pytest.mark.parametrize("delay", [0.0, 0.3, -0.5])
def test_sync_factor_of_a_stack_is_each_pair_alone(delay):
    """C of a stack of signal pairs (computed in blocks of pairs) is bit for bit C of each pair
    alone, with NaN samples and a delay; and it is Eq. (3) computed window by window (trapezoid
    means of δf δg over [t, t + Δt])."""
    rng = np.random.default_rng(7)
    step, window, size = 0.1, 2.0, 700
    tt = step * np.arange(size)
    f = np.sin(1.3 * tt + rng.uniform(0, 6, (45, 1))) + 0.1 * rng.standard_normal((45, size))
    g = np.cos(0.9 * tt + rng.uniform(0, 6, (45, 1))) * np.exp(-tt / 50)
    f[3, 100:104] = np.nan
    g[40, 650] = np.nan
    c = ms.sync_factor(f, g, step, window, delay=delay)
    assert np.array_equal(ms.sync_factor(f, g, step, window, delay=delay, workers=2), c, equal_nan=True)
    for i in (0, 3, 17, 40, 44):
        assert np.array_equal(c[i], ms.sync_factor(f[i], g[i], step, window, delay=delay), equal_nan=True)
    n, k = round(window / step), round(delay / step)
    w = np.full(n + 1, 1.0 / n)
    w[0] = w[-1] = 0.5 / n
    for i in (0, 17):
        for s in (10, 150, 400):
            a, b = f[i, s:s + n + 1], g[i, s + k:s + k + n + 1]
            da, db = a - w @ a, b - w @ b
            want = (w @ (da * db)) / np.sqrt((w @ (da * da)) * (w @ (db * db)))
            assert c[i, s] == pytest.approx(want, abs=1e-12)
