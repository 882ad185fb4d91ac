"""The low-rank solver's bound terms (solvers/lowrank.py), each against an independent
computation: extended-precision (np.longdouble) sums and the 40-digit reference
(tests/reference_mp.py).

* trig_sum_errors(nufft=False): the direct tables' roundoff and phase error, 4ε√N·Σ|u||c| +
  3ε·w_k·t·|u||c|, bounds z̃(t) − z(t) for z(t) = Σ_k u_k (c_q,k cos w_k t + c_p,k sin w_k t);
* an evolution's bound charges the NUFFT's floor (NUFFT_FLOOR) only once an evaluation runs the
  NUFFT (dynamics.evaluation.uses_nufft, NormalModeEvolution.cover), and then stays honest."""

import numpy as np
import pytest

from harmosync import dynamics as dy
from harmosync import network as nw
from harmosync import states as st
from harmosync.dynamics import evaluation as ev
from harmosync.solvers import lowrank as lr
from harmosync.solvers import roundoff as ro
from harmosync.solvers import trigsum as ts
from reference_mp import Reference


def trig_sums_ld(w, alpha, beta, t):
    """Σ_k α_k cos(w_k t) + β_k sin(w_k t) in long double, (T, C)."""
    wl, tl = np.asarray(w, np.longdouble), np.asarray(t, np.longdouble)
    arg = np.outer(tl, wl)
    return np.cos(arg) @ np.asarray(alpha, np.longdouble) + np.sin(arg) @ np.asarray(beta, np.longdouble)


@pytest.mark.parametrize("seed", range(4))
def test_direct_trig_sums_are_within_the_direct_bound(seed):
    """|z̃(t) − z(t)| ≤ dZ of trig_sum_errors(nufft=False) for the direct tables (ts.direct, a
    uniform grid) and for the arbitrary-grid products, z in long double, exact w (μ error 0)."""
    rng = np.random.default_rng(seed)
    n, count, h = 400, 700, 0.37
    w = np.sort(rng.uniform(1e-3, 3.0, n))
    r = rng.normal(size=(1, n))
    cq, cp = rng.normal(size=(n, 3)) * 10 ** rng.uniform(-3, 3, (n, 1)), rng.normal(size=(n, 3))
    t0 = 1000.0 * seed
    t = t0 + h * np.arange(count)
    _, dz = ro.trig_sum_errors(w, r, cq, cp, float(t[-1]), np.zeros(n), nufft=False)
    for u, dzu, (a, b) in ((r / np.sqrt(w), dz[0], (cq, cp)), (r * np.sqrt(w), dz[1], (cp, -cq))):
        alpha, beta = u[0][:, None] * a, u[0][:, None] * b
        exact = trig_sums_ld(w, alpha, beta, t)
        fast = np.vstack([v for _, v in ts.direct(w, alpha, beta, t0, h, count, block=256)])
        plain = np.cos(np.outer(t, w)) @ alpha + np.sin(np.outer(t, w)) @ beta
        for got in (fast, plain):
            err = np.abs(got - exact).astype(float).max(axis=0)
            assert np.all(err <= dzu), (err / dzu).max()
    _, dz_nufft = ro.trig_sum_errors(w, r, cq, cp, float(t[-1]), np.zeros(n))
    assert np.all(dz_nufft > dz)  # the NUFFT's floor (6e-14 of Σ|u||c|) is above 4ε√N


def chain_case():
    net = nw.couple(nw.chain(60, 0.2, 1.0, "fixed"), nw.probes([1.0, 1.1], 0.1, [1, 30], [0.3, 0.2]))
    init = st.InitialState(st.product(st.squeezed(1.0, 0.5, 0.3, x=1.0), st.coherent(1.1, 0.5)), 0.4)
    return net, init


def test_bound_charges_the_nufft_floor_only_when_the_nufft_runs():
    """With t_max: after direct evaluations the bound is the solve's; an evaluation through the
    NUFFT raises it (uses_nufft true) to the bound with NUFFT_FLOOR, for every time up to t_max
    (also times evaluated earlier), and it never goes down."""
    net, init = chain_case()
    times = np.linspace(0.0, 200.0, 4001)
    sol = dy.solve(net, init, t_max=200.0)
    evo = sol.evolution if hasattr(sol, "evolution") else sol
    b0 = sol.error_bound
    assert not ev.uses_nufft(evo, times, engine="direct") and ev.uses_nufft(evo, times, engine="nufft")
    sol.moments(times, engine="direct")
    assert sol.error_bound == b0
    m_nufft = sol.moments(times, engine="nufft")
    b1 = sol.error_bound
    w, mu_err = evo.frequencies, evo.mu_error
    with_floor = evo.fixed_bound + ro.evaluation_roundoff(w, evo.readout, evo.nu, evo.values, evo.vectors,
                                                          200.0, mu_err, nufft=True)
    if evo.vector_term is not None:  # a dense solve's eigenvector term, in both bounds
        with_floor += evo.vector_term(200.0)
    assert b1 >= with_floor > b0
    sol.moments(times[:10], engine="direct")
    assert sol.error_bound == b1
    m_direct = sol.moments(times, engine="direct")
    assert np.abs(m_nufft.cov - m_direct.cov).max() <= 2 * b1


def test_the_bounds_assemble_keeps_for_both_evaluators_are_those_cover_would_compute():
    """assemble bounds the roundoff at t_max for the direct tables and the NUFFT in one pass
    (roundoff.means_roundoffs, evaluation_roundoffs: each the number of its own call) and keeps
    both (NormalModeEvolution.known_roundoff); cover, when the NUFFT first runs, takes the kept
    one: the bound is bit for bit the one it computes afresh without them, for a means-only and
    a covariance evolution."""
    from dataclasses import replace

    net, init = chain_case()
    times = np.linspace(0.0, 200.0, 4001)
    for covariance in (False, True):
        evo = dy.solve(net, init, t_max=200.0, covariance=covariance)
        evo = evo.evolution if hasattr(evo, "evolution") else evo
        w, r, m0, e = evo.frequencies, evo.readout, evo.mean0, evo.mu_error
        assert ro.means_roundoffs(w, r, m0, 200.0, e) == [ro.means_roundoff(w, r, m0, 200.0, e, nufft=f)
                                                          for f in (False, True)]
        assert ro.evaluation_roundoffs(w, r, evo.nu, evo.values, evo.vectors, 200.0, e) == [
            ro.evaluation_roundoff(w, r, evo.nu, evo.values, evo.vectors, 200.0, e, nufft=f) for f in (False, True)]
        assert set(evo.known_roundoff) == {(200.0, False), (200.0, True)}
        fresh = replace(evo, known_roundoff={})
        for x in (evo, fresh):
            x.means(times, engine="nufft")
        assert evo.error_bound == fresh.error_bound and evo.nufft_covered and fresh.nufft_covered
        base = ro.means_roundoff(w, r, m0, 200.0, e, nufft=True)
        assert evo.error_bound >= base > ro.means_roundoff(w, r, m0, 200.0, e, nufft=False)


def test_nufft_evaluation_is_within_the_raised_bound():
    """A small soft network evaluated through the NUFFT on a uniform grid (solved without t_max,
    so that cover raises the horizon and the floor together): every mean and covariance entry
    within error_bound of the 40-digit reference."""
    net = nw.couple(nw.chain(8, 0.01, 1.0, "free"), nw.probes([1.0, 1.2], 0.2, [1, 8], [0.02, -0.015]))
    init = st.InitialState(st.product(st.squeezed(1.0, 1.0, 0.2, x=0.5), st.coherent(1.2, 0.5)), 0.5)
    times = np.linspace(0.0, 50.0, 41)
    sol = dy.solve(net, init, observe=[0, 1, 5])
    before = sol.error_bound
    m = sol.moments(times, engine="nufft")
    ref_mean, ref_cov = Reference(net, init, observe=[0, 1, 5]).moments(times)
    err = max(float(np.abs(m.cov - ref_cov).max()), float(np.abs(m.mean - ref_mean).max()))
    assert err <= sol.error_bound and sol.error_bound > before


# ----------------------------------------------------------------------------------------------
# Δ's data and core: the rounding of Ψ and H_ζ (lowrank.input_roundoff), the core c = T·K·Tᵀ
# ----------------------------------------------------------------------------------------------
def captured(monkeypatch, name):
    """Record the arguments of lowrank.``name`` (called by name inside low_rank_delta)."""
    calls = []
    orig = getattr(lr, name)

    def spy(*args, **kw):
        calls.append((args, kw))
        return orig(*args, **kw)

    monkeypatch.setattr(lr, name, spy)
    return calls


@pytest.mark.parametrize("seed", [49, 158])
def test_psi_rounding_bounds_the_actual_error(seed):
    """|Ψ̃ − Ψ| ≤ psi_rounding for Ψ = A diag(μ) − V_S A formed in double from a near-critical
    network's modes, Ψ from the same double data in 50-digit mpmath (every column, the soft ones
    where Ψ ~ μ_0·A cancels against |V_S||A|)."""
    import mpmath as mp
    from test_review_s6b import near_critical

    net, _, _ = near_critical(seed)
    mu, u = np.linalg.eigh(net.potential().toarray() if hasattr(net.potential(), "toarray") else net.potential())
    p = net.n_probes
    a, vs = u[:p], net.probes.potential()
    psi = a * mu[None, :] - vs @ a
    bound = lr.psi_rounding(mu, a, vs, psi)
    with mp.workdps(50):
        for i in range(p):
            for k in range(mu.size):
                exact = mp.mpf(a[i, k]) * mp.mpf(mu[k]) - mp.fsum(mp.mpf(vs[i, j]) * mp.mpf(a[j, k]) for j in range(p))
                assert abs(mp.mpf(psi[i, k]) - exact) <= bound[i, k], (i, k)


def test_bracket_bound_covers_a_perturbed_environment_resolvent(monkeypatch):
    """Finite perturbation, independent of the bound's algebra: H_ζ ← H_ζ + δH with δH = κ·S∘Σ_j
    |c_j||c_j|ᵀ/(d_j + ζ) (S random symmetric signs, κ = 1e-7) moves every observed moment (t =
    0, 1, 100; the full solve) by at most bracket_roundoff's H part for |δH| (X is linear in H),
    and by more than a thousandth of it (the readout is not loose by orders of magnitude)."""
    from test_review_s6b import near_critical

    net, init, observe = near_critical(158)
    times = [0.0, 1.0, 100.0]
    base = dy.solve(net, init, method="dense", observe=observe, t_max=100.0).moments(times)
    calls = captured(monkeypatch, "input_roundoff")
    rng = np.random.default_rng(1)
    orig = lr.environment_resolvents
    kappa, state = 1e-7, {"first": True}

    def perturbed(env_d, env_c, poles):
        h = orig(env_d, env_c, poles)
        if not state.pop("first", False):
            return h
        signs = rng.choice([-1.0, 1.0], h.shape)
        signs = np.triu(signs) + np.swapaxes(np.triu(signs, 1), 1, 2)
        return h + kappa * signs * orig(env_d, np.abs(env_c), poles)

    monkeypatch.setattr(lr, "environment_resolvents", perturbed)
    moved = dy.solve(net, init, method="dense", observe=observe, t_max=100.0).moments(times)
    change = max(float(np.abs(moved.cov - base.cov).max()), float(np.abs(moved.mean - base.mean).max()))
    mu, a, _, _, env_d, env_c, kern, weights, rho = calls[0][0]
    h_abs = orig(env_d, np.abs(env_c), kern[0])
    _, bound = lr.bracket_roundoff(mu, a, kern, weights, rho, np.zeros_like(a), kappa * h_abs)
    assert 1e-3 * bound < change <= bound, (change, bound)


@pytest.mark.parametrize("seed", [34, 94, 147])
def test_bound_is_tight_on_hot_near_critical_chains(seed):
    """err ≤ bound ≤ 100·max(err, 1e-13·max|σ|) against the 40-digit reference (t = 0, 1, 100,
    every mean and covariance entry) on near-critical chains at T = 0.6–4.8, where the worst-case
    γ_{2m+kterms+2}|T||K||T|ᵀ of the core's 350–500-term pole sums made the bound 122–181× the
    error; core_roundoff's long-double check of c (and the direct tables' floor) bring it to 7–16×."""
    from test_bound_tightness import assert_tight
    from test_review_s6b import near_critical_error

    assert_tight(*near_critical_error(seed))


def test_core_check_in_long_double_is_within_the_worst_case(monkeypatch):
    """The a-posteriori error of c = T·K·Tᵀ (c against the same sums in long double) lies within
    the a-priori worst case γ_{2m+kterms+2}|T||K||T|ᵀ it replaces, entry by entry; and the long
    double c agrees with c to that level (it is the same matrix)."""
    from test_review_s6b import near_critical

    calls = captured(monkeypatch, "core_roundoff")
    net, init, observe = near_critical(147)
    dy.solve(net, init, method="dense", observe=observe, t_max=100.0)
    args, kw = calls[0]
    (qx, tx, _), (qp, tp, _) = args[2]
    kx, kqp, kp = args[3]
    c = args[4][0]
    m, split = kx.shape[0], tx.shape[0]
    k = np.abs(np.block([[kx, kqp], [kqp.T, kp]]))
    t = np.zeros((c.shape[0], 2 * m))
    t[:split, :m], t[split:, m:] = np.abs(tx), np.abs(tp)
    n = 2 * m + args[6] + 2
    gam = n * 0.5 * np.finfo(float).eps / (1 - n * 0.5 * np.finfo(float).eps)
    worst = gam * t @ np.maximum(k, k.T) @ t.T
    actual = np.abs(c - kw["exact"]()).astype(float)
    assert np.all(actual <= worst) and actual.max() < 0.1 * worst.max()


@pytest.mark.parametrize("r", [6.4, 8.0])
def test_a_squeezed_probe_does_not_set_which_pairs_of_delta_are_dropped(r):
    """One probe squeezed to r (‖Δ‖ ~ e^(2r)/2ω ~ 1e5–1e6) on a free 6-site chain at T = 0,
    chain sites observed: Δ's pairs below tol·‖Δ‖ ~ 1e-7 were dropped, among them the
    environment's own (~K²), which the observed sites read at their size: 3.5e-7 of
    max|σ| = 1.8 lost (40 digits; the bound 3.5e-6 said so, through the t = 0 check). Where Δ's
    readout is most of the bound and pairs were dropped, Δ is kept again with tol·RETRY_TOL
    (normal_modes.assemble): err ≤ 1e-9·max|σ| (measured 5e-12 and 4.9e-10) and
    err ≤ bound ≤ 10·max(err, 1e-13·max|σ|) (measured 2–6×)."""
    net = nw.couple(nw.chain(6, 2.0, 2.5, "free"), nw.probes([3.4], 0.0, [[1]], [[-0.01]]))
    init = st.InitialState(st.product(st.squeezed(3.4, r, 5.6, x=-0.15, p=1.4)), 0.0)
    obs, times = [1, 5], np.union1d([0.0, 0.11], np.linspace(0.7, 0.8, 6))
    ref_mean, ref_cov = Reference(net, init, observe=obs).moments(times)
    ref_cov = np.asarray(ref_cov, float)
    for method in ("dense", "chain"):
        sol = dy.solve(net, init, observe=obs, t_max=0.8, method=method)
        m = sol.moments(times)
        err = max(float(np.abs(m.cov - ref_cov).max()), float(np.abs(m.mean - np.asarray(ref_mean, float)).max()))
        scale = float(np.abs(ref_cov).max())
        assert err <= 1e-9 * scale, (method, err / scale)
        assert err <= sol.error_bound <= 10 * max(err, 1e-13 * scale), (method, err, sol.error_bound)
