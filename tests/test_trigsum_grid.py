"""The non-uniform FFT's grids (solvers/trigsum.py): small 5-smooth grids with σ = G/L ≥ 1.75
and a width-18 kernel, chosen per record by a cost model, and the moments read straight from
each chunk's transform (dynamics/evaluation.py).

Checked against independent references:
* the trig sums f_c(t_j) = Σ_k α_kc cos(w_k t_j) + β_kc sin(w_k t_j) summed directly in long
  double (64-bit mantissa, ~1e-19) on a subset of times, for several grids (σ from 1.75 to
  2.5), chunk lengths and frequency sets (a narrow band as in the Fig. 6 map, a wide band up to
  w·h = π, long times where a double 2π would shift the phases); the error is asserted below
  the bound that ``roundoff.trig_sum_errors`` states, φ_s Σ_k(|α_kc| + |β_kc|) + Σ_k θ_k √(α² + β²)
  with φ_s = max(4ε√N, 1e-14), θ_k = 3ε w_k t (and, without the phase term, below φ_s/2);
* the fused moments against the trig sums' rows contracted by ``_covariance_rows`` (bitwise) and
  against the BLAS engine within the evolution's error bound.
"""

import numpy as np
import pytest

from harmosync import dynamics as dy
from harmosync import network as nw
from harmosync import states as st
from harmosync.dynamics import evaluation as ev
from harmosync.solvers import trigsum as ts
from harmosync.solvers.roundoff import trig_sum_errors
from moments_reference import contracted_moments, laid_out_columns

LD = np.longdouble
EPS = np.finfo(float).eps


def long_double_sums(w, a, b, t0, h, idx):
    """Σ_k α_k cos(w_k t) + β_k sin(w_k t) at t = t0 + j h (j in idx), all in long double."""
    t = LD(t0) + LD(h) * np.asarray(idx, dtype=LD)
    ph = np.outer(t, np.asarray(w, float).astype(LD))
    return np.cos(ph) @ a.astype(LD) + np.sin(ph) @ b.astype(LD)


def plan_sums(plan, coef, t0, h, count):
    """The trig sums by one plan's chunks (evaluate), stacked (count, C)."""
    out = [plan.evaluate(coef, LD(t0) + LD(h) * s) for s in range(0, count, plan.length)]
    return np.vstack(out)[:count]


def stated_bound(w, a, b, t_max):
    """The bound of roundoff.trig_sum_errors on each column (the x row with readout √w, so that
    its u_k = 1; exact frequencies: eigenvalue errors 0)."""
    z, dz = trig_sum_errors(w, np.sqrt(w)[None, :], a, b, t_max, mu_error=np.zeros(w.size))
    return dz[0]


FREQS = {
    "fig6 band": lambda rng: np.sort(rng.uniform(0.4, 2.23, 302)),  # x = wh ∈ [0.02, 0.11]
    "wide band": lambda rng: np.sort(rng.uniform(0.1, 0.999 * np.pi / 0.05, 120)),  # x up to π
}


@pytest.mark.parametrize("band", sorted(FREQS))
@pytest.mark.parametrize("length, grid", [(300, None), (1429, None), (1500, 3000), (1400, 3500), (2728, 4800), (2308, 4096)])
def test_nufft_grids_match_long_double_sums(band, length, grid):
    """Each grid (σ = G/L from 1.75 to 2.5) and chunk length: error ≤ the stated bound, and the
    NUFFT's own part (no phase term) ≤ φ_s/2 of Σ(|α| + |β|)."""
    rng = np.random.default_rng(length)
    w = FREQS[band](rng)
    a, b = rng.normal(size=(w.size, 5)), rng.normal(size=(w.size, 5))
    h, t0, count = 0.05, 0.0, 3 * length + 17
    plan = ts.NufftPlan(w, h, length, grid)
    assert plan.grid >= ts.UPSAMPLE * length + ts.WIDTH
    got = plan_sums(plan, a - 1j * b, t0, h, count)
    idx = np.arange(0, count, 7)
    err = np.abs(got[idx] - long_double_sums(w, a, b, t0, h, idx).astype(float)).max(0)
    size = np.abs(a).sum(0) + np.abs(b).sum(0)
    phi = max(4 * EPS * np.sqrt(w.size), 1e-14)
    assert np.all(err <= 0.5 * phi * size), (err / size).max()
    assert np.all(err <= stated_bound(w, a, b, t0 + h * count))


def test_nufft_long_times_keep_their_phases():
    """At t ≈ 10⁴–2·10⁴ (w t ≈ 4·10⁴ rad) the chunk phases and grid positions are reduced by an
    extended-precision 2π: the error stays at the same level relative to Σ|α| + |β|."""
    rng = np.random.default_rng(7)
    w = FREQS["fig6 band"](rng)
    a, b = rng.normal(size=(w.size, 4)), rng.normal(size=(w.size, 4))
    t0, h, count = 12345.678, 0.05, 200_001
    got = np.vstack([v for _, v in ts.nufft(w, a, b, t0, h, count)])
    idx = np.r_[0:40, count - 40:count, np.arange(0, count, 997)]
    err = np.abs(got[idx] - long_double_sums(w, a, b, t0, h, idx).astype(float)).max(0)
    size = np.abs(a).sum(0) + np.abs(b).sum(0)
    assert np.all(err <= 0.5 * max(4 * EPS * np.sqrt(w.size), 1e-14) * size), (err / size).max()


def test_chunk_plan_covers_the_record_on_fast_grids():
    """Chunks cover every time, each ≤ the cap; grids are 2^a 3^b 5^c with G ≥ σL + W."""
    for n, ncols, count, cap in [(302, 124, 30001, 1 << 16), (302, 2, 30001, 1 << 16), (30, 5, 500, 7),
                                 (10, 1, 1, 1 << 16), (600, 200, 250_001, 1 << 12)]:
        length, grid = ts.chunk_plan(n, ncols, count, cap)
        assert 1 <= length <= cap and length * -(-count // length) >= count
        assert grid >= ts.UPSAMPLE * length + ts.WIDTH
        g = grid
        for p in (2, 3, 5):
            while g % p == 0:
                g //= p
        assert g == 1


def test_plan_takes_a_power_of_two_where_the_fft_is_cheaper_for_many_rows():
    """The cost model counts ducc0's faster power-of-two lengths (≥ 4 rows in its SIMD lanes,
    in cache; measured 0.85–0.90× per point): the Fig. 6 map's 62 rows take 13 chunks on
    G = 4,096 (σ = 1.775) instead of 11 on 4,800; one or two rows keep the general rate."""
    assert ts._fft_ns(4096, 62) < 0.9 * ts._fft_ns(4096, 1)
    assert ts._fft_ns(4800, 62) == ts._fft_ns(4800, 1) and ts._fft_ns(8192, 62) == ts._fft_ns(8192, 1)
    assert ts.chunk_plan(302, 124, 30001, ev.nufft_chunk(124)) == (2308, 4096)


def test_transform_leaves_the_reused_grid_zero():
    """Only the support is written and reset: the thread's input grid is zero after a call."""
    rng = np.random.default_rng(3)
    w = FREQS["wide band"](rng)
    plan = ts.NufftPlan(w, 0.05, 500)
    plan.transform(rng.normal(size=(w.size, 6)) + 0j, np.ones(w.size, complex))
    b, _ = ts._workspace(3, plan.grid)
    assert not np.any(b)


def test_fused_moments_are_the_contracted_rows():
    """iter_moment_rows' fused pass (columns split from each transform, contracted per 256
    outputs) gives bitwise the trig sums' rows (nufft rows=True) contracted by _covariance_rows."""
    net = nw.couple(nw.chain(60, 0.4, 1.2), nw.probes((1.0, 1.1), 0.5, (1, 30), (0.06, 0.06)))
    init = st.InitialState(st.product(st.coherent(1.0, 0.14), st.coherent(1.1, 1.4)))
    sol = dy.solve(net, init)
    t = 0.05 * np.arange(9001)
    got = list(ev.iter_moment_rows(sol, t, block=1000, engine="nufft"))
    mean, cov = contracted_moments(sol, t, t[1] - t[0])
    mean_f = np.hstack([m for _, m, _ in got])
    cov_f = np.concatenate([c for _, _, c in got], axis=-1)
    assert [s.start for s, _, _ in got] == sorted({s.start for s, _, _ in got})
    assert np.array_equal(mean_f, mean) and np.array_equal(cov_f, cov)


@pytest.mark.parametrize("probes", [1, 2, 3, 5])
def test_slab_moments_on_one_fft_thread_are_the_contracted_rows(probes):
    """On one FFT thread (a map's workers) each chunk is transformed slab by slab of rows
    (trigsum.NufftPlan.transform_slabs, evaluation.slab_rows: a multiple of n rows, whole r's)
    and each slab contracted while in cache: bitwise the rows of one whole transform contracted
    by _covariance_rows, for 1, 2, 3 and 5 observed probes (slabs of 8, 8, 24 rows, and one
    whole transform), over several chunks and a remainder."""
    sites = (1, 9, 20, 33, 40)[:probes]
    freqs = (1.0, 1.1, 0.9, 1.05, 0.95)[:probes]
    net = nw.couple(nw.chain(40, 0.4, 1.2), nw.probes(freqs, 0.5, sites, (0.06,) * probes))
    init = st.InitialState(st.product(*[st.coherent(f, 0.3 + 0.2 * i) for i, f in enumerate(freqs)]), 0.2)
    sol = dy.solve(net, init)
    t = 0.05 * np.arange(12007)
    rows = probes * (sol.rank + 1)
    assert ev.slab_rows(probes) == {1: 8, 2: 8, 3: 24, 5: 0}[probes]
    assert ts.chunk_plan(sol.frequencies.size, 2 * rows, t.size, ev.nufft_chunk(2 * rows))[0] < t.size
    with ts.fft_threads(1):
        got = list(ev.iter_moment_rows(sol, t, block=5000, engine="nufft"))
    mean, cov = contracted_moments(sol, t, t[1] - t[0])
    assert np.array_equal(np.hstack([m for _, m, _ in got]), mean)
    assert np.array_equal(np.concatenate([c for _, _, c in got], axis=-1), cov)


def test_slabs_are_the_whole_transform_and_leave_the_grid_zero():
    """transform_slabs hands over the rows of transform() in order, bitwise (slabs of 8 and 16
    rows and an uneven last slab), and leaves the reused input grid zero."""
    rng = np.random.default_rng(5)
    w = FREQS["fig6 band"](rng)
    plan = ts.NufftPlan(w, 0.05, 700)
    coef = rng.normal(size=(w.size, 86)) + 1j * rng.normal(size=(w.size, 86))
    phase = np.exp(1j * rng.uniform(0, 2 * np.pi, w.size))
    with ts.fft_threads(1):
        whole = plan.transform(coef, phase).copy()
        for slab in (8, 16):
            parts = []
            plan.transform_slabs(coef, phase, slab, lambda r0, fb: parts.append((r0, fb.copy())))
            assert [r0 for r0, _ in parts] == list(range(0, 43, slab))
            assert np.array_equal(np.vstack([fb for _, fb in parts]), whole)
            b, _ = ts._workspace(43, plan.grid)
            assert not np.any(b)


@pytest.mark.parametrize("engine", ["nufft", "direct"])
def test_moments_written_in_place_are_the_streamed_chunks(engine):
    """moments(by_entry=True) writes each chunk straight into its stores (iter_moment_rows'
    ``into``): bitwise the chunks moments() copies, over several NUFFT chunks and a remainder."""
    net = nw.couple(nw.chain(60, 0.4, 1.2), nw.probes((1.0, 1.1), 0.5, (1, 30), (0.06, 0.06)))
    init = st.InitialState(st.product(st.coherent(1.0, 0.14), st.coherent(1.1, 1.4)))
    sol = dy.solve(net, init)
    t = 0.05 * np.arange(20003)
    assert ts.chunk_plan(sol.frequencies.size, 4 + 4 * sol.rank, t.size, ev.nufft_chunk(4 + 4 * sol.rank))[0] < t.size
    a = sol.moments(t, engine=engine)
    b = sol.moments(t, engine=engine, by_entry=True)
    assert np.array_equal(a.mean, b.mean) and np.array_equal(a.cov, b.cov)


@pytest.mark.parametrize("observe", [None, (1,), (0, 1, 5)])
def test_moment_columns_are_the_mode_columns_laid_out(observe):
    """evaluation.moment_columns (one compiled pass) = mode_columns' numpy products laid out in
    evaluation order (moments_reference.laid_out_columns): bitwise, for 1, 2 and 3 observed
    oscillators."""
    net = nw.couple(nw.chain(40, 0.4, 1.2), nw.probes((1.0, 1.1), 0.5, (1, 20), (0.06, 0.06)))
    init = st.InitialState(st.product(st.squeezed(1.0, 0.3, 0.2), st.coherent(1.1, 1.4)), 0.4)
    sol = dy.solve(net, init, observe=observe)
    got, want = ev.moment_columns(sol), laid_out_columns(sol)
    assert sol.vectors.shape[2] > 0
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


@pytest.mark.parametrize("by_entry", [False, True])
@pytest.mark.parametrize("engine", ["nufft", "direct"])
@pytest.mark.parametrize("where", ["mean", "cov"])
def test_moments_refuse_a_non_finite_result(where, engine, by_entry):
    """A NaN in one mode's initial mean (the means) or in one column of Δ's eigenvectors (σ
    only) reaches every later chunk: moments() raises NumericalError on every engine and
    layout (by_entry: the fused pass reports it as it writes σ, no second pass); the same
    evolution unspoilt evaluates."""
    from harmosync.errors import NumericalError

    net = nw.couple(nw.chain(60, 0.4, 1.2), nw.probes((1.0, 1.1), 0.5, (1, 30), (0.06, 0.06)))
    init = st.InitialState(st.product(st.coherent(1.0, 0.14), st.coherent(1.1, 1.4)))
    sol = dy.solve(net, init)
    t = 0.05 * np.arange(20003)
    assert np.isfinite(sol.moments(t, engine=engine, by_entry=by_entry).cov).all()
    if where == "mean":
        spoilt = sol.mean0.copy()
        spoilt[0, 3] = np.nan
        object.__setattr__(sol, "mean0", spoilt)
    else:
        spoilt = sol.vectors.copy()
        spoilt[1, 5, 0] = np.nan
        object.__setattr__(sol, "vectors", spoilt)
    with pytest.raises(NumericalError, match="NaN or inf"):
        sol.moments(t, engine=engine, by_entry=by_entry)


def test_map_network_moments_match_blas_within_bound():
    """A Fig. 6 network (300 sites, probe 2 at site 150, t ≤ 300): the NUFFT moments and the BLAS
    engine's agree within the evolution's error bound (each is within it of the exact ones)."""
    env = nw.chain(300, 0.4, 1.2)
    net = nw.couple(env, nw.probes((1.0, 1.1), 0.5, (1, 150), (0.06, 0.06)))
    init = st.InitialState(st.product(st.coherent(1.0, 0.14), st.coherent(1.1, 1.4)))
    t = 0.05 * np.arange(6001)
    sol = dy.solve(net, init, t_max=t[-1])
    fast, blas = sol.moments(t, engine="nufft"), sol.moments(t, engine="direct")
    diff = max(np.abs(fast.mean - blas.mean).max(), np.abs(fast.cov - blas.cov).max())
    assert diff <= 2 * sol.error_bound, (diff, sol.error_bound)


def exact_points(w, h, grid):
    """x_k = w_k h mod 2π and −x_k mod 2π, in long double as the plan forms them, and dx = 2π/G,
    as exact fractions (the reference for the plan's taps: the plan's 2π is TWO_PI)."""
    from fractions import Fraction

    x = np.mod(np.asarray(w, float).astype(LD) * LD(h), ts.TWO_PI)
    pts = np.concatenate([x, np.mod(-x, ts.TWO_PI)])

    def frac(v):  # a long double as an exact fraction (its two doubles)
        hi = float(v)
        return Fraction(hi) + Fraction(float(v - LD(hi)))

    return [frac(p) for p in pts], frac(ts.TWO_PI / grid)


@pytest.mark.parametrize("band", ["fig6 band", "wide band", "near zero"])
def test_plan_taps_are_the_kernel_at_the_exact_offsets(band):
    """NufftPlan's taps (the compiled _points pass): each tap o = first_k + i of point x_k
    (first_k = ⌈x_k/dx⌉ − W/2) has weight φ(z), z = (o·dx − x_k)/(W dx/2), within 64ε of φ at
    the exact z (z in double-double: about an ulp; the long-double form it replaced lost up to
    1300 ulps of z near z = 0), 0 where |z| > 1; the touched grid points, o mod G ascending, are
    the support and each tap's slot indexes its own there. Points near 0 and 2π wrap around
    the grid."""
    rng = np.random.default_rng(11)
    w = {"fig6 band": lambda: FREQS["fig6 band"](rng), "wide band": lambda: FREQS["wide band"](rng),
         "near zero": lambda: np.sort(rng.uniform(1e-9, 2e-3, 40))}[band]()
    h, length = 0.05, 1429
    plan = ts.NufftPlan(w, h, length)
    pts, dx = exact_points(w, h, plan.grid)
    beta = ts.BETA
    worst = 0.0
    taps = []
    for k in rng.choice(len(pts), size=min(len(pts), 60), replace=False):
        first = int(np.ceil(float(pts[k] / dx) - ts.WIDTH / 2))
        for i in range(ts.WIDTH):
            o = first + i
            z = float((o * dx - pts[k]) / (ts.WIDTH * dx / 2))
            ref = np.exp(beta * (np.sqrt(max(0.0, 1 - z * z)) - 1)) if abs(z) <= 1 else 0.0
            worst = max(worst, abs(plan.weight[k, i] - ref))
            if abs(z) > 1 + 1e-12:
                assert plan.weight[k, i] == 0.0
            assert plan.support[plan.slot[k, i]] == o % plan.grid
            taps.append(o % plan.grid)
    assert worst <= 64 * EPS, worst
    assert np.all(np.diff(plan.support) > 0) and set(taps) <= set(plan.support.tolist())
    assert plan.support.size == np.unique(plan.support[plan.slot]).size  # every support point is some tap's


def test_points_and_phases_of_many_plans_are_each_plans_own():
    """points_many and phases_many (one pass of array operations over all of a map's networks)
    give each plan's points and chunk phases bit for bit, for frequency sets of different sizes
    on different grids."""
    rng = np.random.default_rng(5)
    ws = [np.sort(rng.uniform(0.01, 3.0, n)) for n in (1, 7, 302, 45)]
    lengths = [300, 1429, 2308, 777]
    plans = [ts.NufftPlan(w, 0.05, L) for w, L in zip(ws, lengths)]
    many = ts.points_many(ws, 0.05, [p.grid for p in plans])
    for w, p, pts in zip(ws, plans, many):
        for a, b in zip(ts.points(w, 0.05, p.grid), pts):
            assert np.array_equal(a, b)
        again = ts.NufftPlan(w, 0.05, p.length, p.grid, points_of=pts)
        assert np.array_equal(again.weight, p.weight) and np.array_equal(again.slot, p.slot)
    starts = [list(range(0, 5000, p.length)) for p in plans]
    many_ph = ts.phases_many([p.w for p in plans], 0.05, [p.half for p in plans], 12.5, starts)
    for p, s, ph in zip(plans, starts, many_ph):
        assert np.array_equal(ph, p.phases(12.5, s))
