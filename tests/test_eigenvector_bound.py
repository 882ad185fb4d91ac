"""The dense path's eigenvector term (spectrum.mode_perturbation, propagator_divided_differences,
eigenvector_roundoff): each inequality it rests on, checked against an independent computation
(dense time grids, 40-digit mpmath), and the whole bound against the 40-digit reference."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
import scipy.sparse as sp

from harmosync import dynamics as dy
from harmosync import network as nw
from harmosync import states as st
from harmosync.dynamics.spectrum import gram_defect, mode_perturbation, propagator_divided_differences
from reference_mp import Reference


def _functions(w, t):
    """cos(wt), sin(wt)/w, w sin(wt) on a time grid t (T,) for frequencies w (N,): (3, T, N)."""
    x = np.outer(t, w)
    return np.array([np.cos(x), np.sin(x) / w, w * np.sin(x)])


@pytest.mark.parametrize("seed", range(4))
def test_divided_differences_bound_the_propagator_functions_over_the_horizon(seed):
    """|f(μ_k, t') − f(μ_l, t')| ≤ F_kl·|μ_k − μ_l| for every t' ≤ t (fine grid) and
    |∂f/∂μ| ≤ F_kk (central differences), f = cos(√μ t'), sin(√μ t')/√μ, √μ sin(√μ t'):
    the divided differences of Daleckii–Krein's formula, near-degenerate and far pairs."""
    rng = np.random.default_rng(seed)
    w = np.sort(np.concatenate([10 ** rng.uniform(-2, 1.5, 6), [1.0, 1.0 + 1e-7, 3.0, 3.0 + 1e-3]]))
    t = 10 ** rng.uniform(0, 2)
    grid = np.linspace(0.0, t, 20001)
    f = _functions(w, grid)
    bounds = propagator_divided_differences(w, t)
    mu = w**2
    for fi, bi in zip(f, bounds):
        diff = np.max(np.abs(fi[:, :, None] - fi[:, None, :]), axis=0)
        gap = np.abs(mu[:, None] - mu[None, :])
        off = ~np.eye(w.size, dtype=bool)
        assert np.all(diff[off] <= bi[off] * gap[off] * (1 + 1e-9) + 1e-15)
    h = 1e-6 * w
    fp, fm = _functions(w + h, grid), _functions(w - h, grid)
    for fpi, fmi, bi in zip(fp, fm, bounds):
        deriv = np.max(np.abs(fpi - fmi), axis=0) / (2 * h) / (2 * w)  # d/dμ = (d/dw)/(2w)
        assert np.all(deriv <= np.diag(bi) * (1 + 1e-4))


def _stiff_chain(seed):
    rng = np.random.default_rng(seed)
    m = 8
    omega0, g = 10 ** rng.uniform(-3, 0), 10 ** rng.uniform(2, 4)
    onsite = np.full(m, omega0)
    onsite[int(rng.integers(0, m))] = 0.0
    env = nw.chain(m, omega0, g, "fixed", onsite_frequencies=onsite)
    return nw.couple(env, nw.probes((1.3, 2.2), 0.1, [2, 6], [0.5, -0.4]))


@pytest.mark.parametrize("seed", range(3))
def test_mode_perturbation_bounds_the_exact_matrix_in_the_computed_basis(seed):
    """With Q = Ũ(ŨᵀŨ)^(−1/2) (exactly orthogonal, 40 digits) and V_exact from the parameters,
    |QᵀV_exactQ − Λ̃|_kl ≤ b_kl entrywise, off the diagonal (the diagonal is the eigenvalue
    errors' part, bounded separately, but b covers it too); b is at most 50× the largest |entry|."""
    net = _stiff_chain(seed)
    v = net.potential()
    mu, u = np.linalg.eigh(v)
    b, g, _ = mode_perturbation(sp.csr_matrix(v), sp.csr_matrix(v.shape), mu, u)  # V_exact = the float V here
    mp.mp.dps = 40
    um = mp.matrix(u.tolist())
    gram = um.T * um
    ev, evec = mp.eighe(gram)
    inv_sqrt = evec * mp.diag([1 / mp.sqrt(x) for x in ev]) * evec.T
    q = um * inv_sqrt
    vm = mp.matrix(v.tolist())  # V's entries are the parameters' (plus V's rounding, in b)
    exact = q.T * vm * q
    n = mu.size
    dev = np.array([[float(abs(exact[i, j] - (mu[i] if i == j else 0))) for j in range(n)] for i in range(n)])
    assert np.all(dev <= b), float(np.max(dev / b))
    assert np.max(b) <= 50 * np.max(dev - np.diag(np.diag(dev))), (np.max(b), np.max(dev))
    defect = np.array([[float(abs(gram[i, j] - (1 if i == j else 0))) for j in range(n)] for i in range(n)])
    assert np.all(defect <= g) and np.all(g <= defect + 4e-18)


def test_mode_perturbation_takes_the_symmetric_form_on_a_stiff_chain():
    """B = ŨᵀR + (GΛ̃ − Λ̃G)/2 = (ŨᵀR + RᵀŨ)/2 to first order (ŨᵀVŨ is symmetric), so b needs no
    |G_kl|·|μ_k − μ_l|/2: on a free chain g = 3e7 with soft probes (gaps to 1.2e8, G ~ 1e-16) that
    term made b up to 41× |B|. Against 40 digits (V_exact = the float V): |B| ≤ b everywhere, and
    b within 1% of |B| on every entry above 1e-3 of the largest."""
    net = nw.couple(nw.chain(10, 1.5e-3, 3e7, "free"),
                    nw.probes((2e-3, 0.05, 0.26), 0.0, [[1], [1], [1]], [[1e-8], [5e-5], [4.5e-7]]))
    v = net.potential()
    v = v.toarray() if hasattr(v, "toarray") else np.asarray(v)
    mu, u = np.linalg.eigh(v)
    b, _, _ = mode_perturbation(sp.csr_matrix(v), sp.csr_matrix(v.shape), mu, u)
    with mp.workdps(40):
        um = mp.matrix(u.tolist())
        ev, evec = mp.eighe(um.T * um)
        q = um * (evec * mp.diag([1 / mp.sqrt(x) for x in ev]) * evec.T)
        exact = q.T * mp.matrix(v.tolist()) * q
        n = mu.size
        dev = np.array([[float(abs(exact[i, j] - (mu[i] if i == j else 0))) for j in range(n)] for i in range(n)])
    off = ~np.eye(n, dtype=bool)
    assert np.all(dev <= b)
    big = off & (dev > 1e-3 * dev[off].max())
    assert np.all(b[big] <= 1.01 * dev[big]), float(np.max(b[big] / dev[big]))


def test_refined_soft_modes_pairs_are_bounded_pair_by_pair_on_a_stiff_chain(monkeypatch):
    """The same chain through dense_spectrum, its four soft modes refined from V's parameters: with
    V_exact from the parameters (50 digits, reference_mp) and the refined Ũ, |B| ≤ b_means on every
    pair, and (i) the soft pairs within 10× of |B| where |B| > 1e-21 (pair by pair and in the
    symmetric form, softmodes.soft_pairs; the norm over the other soft modes, t_l, gave 5e3× on
    the two softest, 2.3e-18 against 4.7e-22, and x̂_kᵀr_l beside G_kl(μ_l − μ_k)/2, which cancel,
    23× on modes 1 and 3), (ii) the stiff vectors orthogonal to the soft ones to rounding (softmodes.orthogonalize_hard),
    |G| ≤ 5e-16 there (4e-15 from LAPACK: that rounding along the soft mode, and its share
    (μ_l − μ_k)G_kl/2 of B, made the eigenvector term 5e-6 against an error of 1e-8)."""
    from reference_mp import potentials_mp

    from harmosync.dynamics import spectrum

    net = nw.couple(nw.chain(10, 1.5e-3, 3e7, "free"),
                    nw.probes((2e-3, 0.05, 0.26), 0.0, [[1], [1], [1]], [[1e-8], [5e-5], [4.5e-7]]))
    got = {}
    eigh = np.linalg.eigh

    def keep(a):
        out = eigh(a)
        got.setdefault(a.shape[0], out[1])  # V's eigh (the environment's comes first: 10 × 10)
        return out

    monkeypatch.setattr(spectrum.np.linalg, "eigh", keep)
    spec = spectrum.dense_spectrum(net, (0, 1, 2), None)
    u, mu = got[13], spec.mu  # refined in place
    _, g, b = spec.mode_bound
    with mp.workdps(50):
        um = mp.matrix(u.tolist())
        ev, evec = mp.eighe(um.T * um)
        q = um * (evec * mp.diag([1 / mp.sqrt(x) for x in ev]) * evec.T)
        exact = q.T * potentials_mp(net)[0] * q
        n = mu.size
        dev = np.array([[float(abs(exact[i, j])) if i != j else 0.0 for j in range(n)] for i in range(n)])
    assert np.all(dev <= b)
    soft = np.arange(4)
    pair = np.ix_(soft, soft)
    sb, sd = b[pair], dev[pair]
    big = (sd > 1e-21) & ~np.eye(4, dtype=bool)
    assert big.sum() >= 4 and np.all(sb[big] <= 10 * sd[big]), float(np.max(sb[big] / sd[big]))
    assert np.max(g[:4, 4:]) <= 5e-16


@pytest.mark.parametrize("n", [5, 300, 1500])
def test_gram_defect_is_the_exact_orthogonality_defect(n):
    """|ŨᵀŨ − I| from the error-free sliced products (Ozaki) equals the exactly rounded one:
    against exact rational arithmetic (fractions) on sampled entries of a computed eigh's Ũ."""
    from fractions import Fraction

    rng = np.random.default_rng(n)
    a = rng.normal(size=(n, n))
    u = np.linalg.eigh(a + a.T)[1]
    g = gram_defect(u)
    pairs = [(int(k), int(k)) for k in rng.integers(0, n, 5)]  # the diagonal (max|Ũ| < 1/2: scaled), and off it
    for k, l in pairs + [tuple(int(x) for x in rng.integers(0, n, 2)) for _ in range(20)]:
        exact = abs(sum(Fraction(float(x)) * Fraction(float(y)) for x, y in zip(u[:, k], u[:, l])) - (k == l))
        assert float(exact) <= g[k, l] <= float(exact) + 4e-18, (k, l, float(exact), g[k, l])


def test_bound_covers_a_stiff_chain_with_a_squeezed_probe_without_loosening_it_past_3x():
    """err ≤ error_bound ≤ 3·err on review s7's stiff chain (40-digit reference σ(t) = Sσ(0)Sᵀ):
    the eigenvector term is what covers it (err 4.7e-6; without it the bound was 4.2e-7)."""
    from test_review_s7 import stiff_squeezed_network
    net, init = stiff_squeezed_network()
    observe, times = [0, 2], np.linspace(0.0, 30.0, 61)
    ref_mean, ref_cov = Reference(net, init, observe=observe).moments(times)
    sol = dy.solve(net, init, method="dense", observe=observe, t_max=30.0)
    m = sol.moments(times)
    err = max(float(np.abs(m.cov - ref_cov).max()), float(np.abs(m.mean - ref_mean).max()))
    assert err <= sol.error_bound <= 3 * err, (err, sol.error_bound)


def test_without_t_max_the_bound_covers_the_times_evaluated():
    """Solved without t_max, the evolution adds the eigenvector term as it evaluates later times
    (cover): err ≤ error_bound after evaluating t ≤ 30 on the stiff chain, and the bound is the
    t_max = 30 solve's (to 1e-3: whether Δ keeps more pairs, normal_modes.RETRY_TOL, is decided
    at solve, here at t = ∞ against t = 30 there; 7.5189e-6 against 7.5197e-6)."""
    from test_review_s7 import stiff_squeezed_network
    net, init = stiff_squeezed_network()
    observe, times = [0, 2], np.linspace(0.0, 30.0, 61)
    ref_mean, ref_cov = Reference(net, init, observe=observe).moments(times)
    sol = dy.solve(net, init, method="dense", observe=observe)
    m = sol.moments(times)
    err = max(float(np.abs(m.cov - ref_cov).max()), float(np.abs(m.mean - ref_mean).max()))
    assert err <= sol.error_bound
    assert sol.error_bound == pytest.approx(dy.solve(net, init, method="dense", observe=observe,
                                                     t_max=30.0).error_bound, rel=1e-3)


@pytest.mark.parametrize("t", [0.5, 40.0, 1500.0])
def test_compiled_row_gains_are_the_divided_differences_contracted_with_the_readout(t):
    """G_x = |U|(B∘F_c + G)/√w (x rows), |U|(B∘F_k + (G/2)(w_k + w_l))/√w (p rows); G_p with F_s
    and (G/2)(h_k + h_l), h = min(t, 1/w), and F_c·√w: the compiled loop (spectrum._row_gains)
    against the same sums from propagator_divided_differences in numpy, with B's diagonal left
    out and degenerate pairs (gap 0) included; equal to the sums' rounding, and never below."""
    from harmosync.dynamics.spectrum import _row_gains

    rng = np.random.default_rng(int(t))
    m = 60
    w = np.sort(rng.uniform(0.05, 3.0, m))
    w[5] = w[4]
    w[9] = w[8] * (1 + 1e-12)
    b = np.abs(rng.normal(size=(m, m))) * 1e-15
    b = np.maximum(b, b.T)
    g = np.abs(rng.normal(size=(m, m))) * 1e-16
    u = np.abs(rng.normal(size=(3, m)))
    fc, fs, fk = propagator_divided_differences(w, t)
    bb = b.copy()
    np.fill_diagonal(bb, 0.0)
    hs = np.minimum(t, 1 / w)
    uc, us, uk = (u @ (bb * f + g / 2 * np.add.outer(h, h)) for f, h in ((fc, np.ones(m)), (fs, hs), (fk, w)))
    want_x, want_p = np.concatenate([uc, uk]) / np.sqrt(w), np.concatenate([us, uc]) * np.sqrt(w)
    gx, gp = _row_gains(b, g, w, u, t)
    for got, want in ((gx, want_x), (gp, want_p)):
        assert np.all(got >= want * (1 - 4 * m * 2.3e-16))
        assert np.all(got <= want * (1 + 12 * m * 2.3e-16))


@pytest.mark.parametrize("seed", range(3))
def test_residual_matrix_is_exact_to_its_stated_bound(seed):
    """R = VŨ − ŨΛ̃ from error-free products and sums: |R̃ − R| ≤ ε|R| + rel·(|V||Ũ| + |Ũ||Λ̃|)
    entrywise against exact rational arithmetic, on a graph with stiff and soft bonds (terms
    that cancel to ~ε‖V‖), and for a V beyond 2^995 (the extended-precision route)."""
    from fractions import Fraction

    from harmosync.dynamics.spectrum import residual_matrix

    rng = np.random.default_rng(seed)
    n = 40
    a = np.where(rng.uniform(size=(n, n)) < 0.15, -(10 ** rng.uniform(-3, 3, (n, n))), 0.0)
    a = np.triu(a, 1)
    a = a + a.T
    a += np.diag(-a.sum(axis=1) + 10 ** rng.uniform(-4, 1, n))
    for v in (a, a * 2.0**1000):
        mu, u = np.linalg.eigh(v)
        res, rel, _ = residual_matrix(sp.csr_matrix(v), mu, u)
        mag = np.abs(v) @ np.abs(u) + np.abs(u) * np.abs(mu)
        for _ in range(60):
            i, k = (int(x) for x in rng.integers(0, n, 2))
            exact = sum(Fraction(float(v[i, j])) * Fraction(float(u[j, k])) for j in range(n) if v[i, j]) \
                - Fraction(float(u[i, k])) * Fraction(float(mu[k]))
            dev = abs(Fraction(float(res[i, k])) - exact)
            assert float(dev) <= 2.3e-16 * abs(float(exact)) + rel * mag[i, k] * 1.01 + 1e-300, (i, k)


@pytest.mark.parametrize("kind", ["random", "clustered", "graded"])
def test_rayleigh_errors_enclose_the_exact_eigenvalues(kind):
    """e_k ≥ |μ̃_k − λ_k| (λ_k in 40 digits, V + δV with |δV| ≤ the rounding passed), mode by mode,
    from the residual theorem and Kato–Temple on the error-free residual; clusters within ~ε‖V‖
    fall back to Weyl's 8ε‖V‖ + ‖δV‖; above 512 modes the residual is formed in column blocks."""
    from harmosync.dynamics.spectrum import rayleigh_errors, residual_matrix

    rng = np.random.default_rng(len(kind))
    for n in (30, 600):
        if kind == "random":
            a = rng.normal(size=(n, n)) * 10 ** rng.uniform(-3, 3)
        elif kind == "clustered":
            q = np.linalg.qr(rng.normal(size=(n, n)))[0]
            ev = np.concatenate([1 + rng.normal(size=n // 2) * 1e-12, rng.uniform(1, 5, n - n // 2)])
            a = (q * ev) @ q.T
        else:  # a stiff diagonal over a soft chain: Rayleigh quotients dominate the error
            a = np.diag(rng.uniform(0, 1, n) ** 4 * 1e4) - np.diag(np.ones(n - 1), 1)
        a = (a + a.T) / 2
        mu, u = np.linalg.eigh(a)
        e = rayleigh_errors(sp.csr_matrix(a), mu, u, sp.csr_matrix(np.abs(a) * 1e-17))
        if n > 100:  # the blocked route: the same bounds as one block would give, within rounding
            whole = rayleigh_errors(sp.csr_matrix(a), mu, u, sp.csr_matrix(np.abs(a) * 1e-17),
                                    residual=residual_matrix(sp.csr_matrix(a), mu, u))
            assert np.allclose(e, whole, rtol=1e-12, atol=0)
            continue
        mp.mp.dps = 40
        exact = np.array(sorted(float(x) for x in mp.eigsy(mp.matrix(a.tolist()), eigvals_only=True)))
        assert np.all(np.abs(mu - exact) <= e)
        assert np.median(e) <= 50 * np.median(np.abs(mu - exact) + 1e-17 * np.max(np.abs(mu)))


@pytest.mark.parametrize("seed", range(2))
def test_normwise_mode_bound_bounds_the_exact_matrix_and_the_sharp_form(seed):
    """The two-product form (normwise_mode_bound: Cauchy–Schwarz on ŨᵀR, fl(ŨᵀŨ) − I with its
    γ_N rounding, ‖|δV|‖ for ŨᵀδVŨ) bounds |QᵀV_exactQ − Λ̃| entrywise (40 digits, as above) and
    is never below the sharp form (mode_perturbation) on the same eigh; stacked (a batch of
    networks) it is the same network by network."""
    from harmosync.dynamics.spectrum import normwise_mode_bound

    net = _stiff_chain(seed)
    v = net.potential()
    mu, u = np.linalg.eigh(v)
    b, g, _ = normwise_mode_bound(sp.csr_matrix(v), mu, u, np.zeros(mu.size))
    sharp = mode_perturbation(sp.csr_matrix(v), sp.csr_matrix(v.shape), mu, u)
    assert np.all(b >= sharp[0]) and np.all(g >= sharp[1])
    mp.mp.dps = 40
    um = mp.matrix(u.tolist())
    gram = um.T * um
    ev, evec = mp.eighe(gram)
    q = um * (evec * mp.diag([1 / mp.sqrt(x) for x in ev]) * evec.T)
    exact = q.T * mp.matrix(v.tolist()) * q
    n = mu.size
    dev = np.array([[float(abs(exact[i, j] - (mu[i] if i == j else 0))) for j in range(n)] for i in range(n)])
    assert np.all(dev <= b)
    one = normwise_mode_bound(v, mu, u, np.zeros(mu.size))  # dense V: the stack's product (not CSR's)
    stacked = normwise_mode_bound(np.stack([v, 2 * v]), np.stack([mu, 2 * mu]), np.stack([u, u]),
                                  np.zeros((2, mu.size)))
    assert np.allclose(stacked[0][0], one[0], rtol=1e-13, atol=0)
    assert np.allclose(stacked[1][0], one[1], rtol=1e-13, atol=0)
    assert np.all(one[0] >= dev)


def test_above_the_sharp_forms_size_the_normwise_term_still_covers_the_stiff_chain(monkeypatch):
    """A dense solve above VECTOR_TERM_MAX takes the normwise term: err ≤ error_bound on review
    s7's stiff chain (40-digit reference; VECTOR_TERM_MAX lowered to 4 to reach that branch), a
    bound larger than the sharp one."""
    import harmosync.dynamics.spectrum as spectrum
    from test_review_s7 import stiff_squeezed_network

    net, init = stiff_squeezed_network()
    observe = [0, 2]
    times = np.linspace(0.0, 30.0, 31)
    ref_mean, ref_cov = Reference(net, init, observe=observe).moments(times)
    sharp = dy.solve(net, init, method="dense", observe=observe, t_max=30.0).error_bound
    monkeypatch.setattr(spectrum, "VECTOR_TERM_MAX", 4)
    sol = dy.solve(net, init, method="dense", observe=observe, t_max=30.0)
    m = sol.moments(times)
    err = max(float(np.abs(m.cov - ref_cov).max()), float(np.abs(m.mean - ref_mean).max()))
    assert err <= sol.error_bound and sol.error_bound > sharp, (err, sol.error_bound, sharp)


def test_a_means_only_batch_carries_the_normwise_term_and_covers_stiff_chains():
    """solve_many's means-only batches (summary sweeps) take the eigenvector term's normwise form
    (stacked, a-priori |δV|'s row sums ≤ 2γ_(N+4)·|V|'s): err ≤ error_bound for ⟨x⟩, ⟨p⟩ of three stiff
    chains (g = 4286, Ω0 = 4e-6, large displacements) against the 40-digit reference, the term
    > 0 in each bound."""
    from harmosync import states as st

    env = nw.chain(8, 4.0e-6, 4285.6, "fixed")
    nets = [nw.couple(env, nw.probes((1.34, 2.27), 0.13, [4, 7], [k, -0.85])) for k in (0.3, 0.75, 1.2)]
    init = st.InitialState(st.GaussianState(np.array([300.0, -200.0, 150.0, 80.0]), np.eye(4) * 0.5), 0.0)
    times = np.linspace(0.0, 30.0, 16)
    sols = dy.solve_many(nets, init, covariance=False, t_max=None)
    for net, sol in zip(nets, sols):
        assert sol.vector_term is not None and sol.vector_term(30.0) > 0
        mean = sol.means(times)
        ref_mean, _ = Reference(net, init).moments(times)
        err = float(np.abs(mean - ref_mean).max())
        assert err <= sol.error_bound, (err, sol.error_bound)


def test_with_t_max_the_term_is_taken_at_once_and_the_arrays_let_go():
    """A dense solve with t_max keeps the eigenvector term's value at t_max, not its N × N
    bounds (the term is nondecreasing in t): the same error bound as the term evaluated from
    the kept arrays, a pickle without them, and the bound unchanged by later evaluations."""
    import pickle

    from harmosync.dynamics.spectrum import VectorTerm

    from harmosync import states as st

    net = nw.paper_network(sites=120)
    init = st.InitialState(st.product(st.coherent(1.0, 0.14), st.coherent(1.1, 1.4)))
    sol = dy.solve(net, init, method="dense", t_max=200.0)
    free = dy.solve(net, init, method="dense")  # no t_max: the arrays kept, the term per horizon
    assert sol.vector_term.b is None and free.vector_term.b is not None
    # (Δ may keep more pairs with t_max, normal_modes.RETRY_SHARE: the term moves at 1e-12)
    assert sol.vector_term(200.0) == pytest.approx(free.vector_term(200.0), rel=1e-9)
    assert sol.vector_term(50.0) >= free.vector_term(50.0)  # t_max's value covers earlier times
    kept = VectorTerm(free.vector_term.b, *free.vector_term.args, **free.vector_term.kwargs)
    assert [kept(t) for t in (10.0, 100.0, 200.0)] == sorted(kept(t) for t in (10.0, 100.0, 200.0))
    n = sol.frequencies.size  # b and g: two N × N arrays of doubles fewer
    assert len(pickle.dumps(free)) - len(pickle.dumps(sol)) >= 0.9 * 2 * 8 * n**2
    bound = sol.error_bound
    sol.moments(np.linspace(0.0, 200.0, 401))
    assert sol.error_bound >= bound


def test_the_eigenvector_term_counts_at_t0():
    """At t = 0 the propagator is the identity, but Ũ's non-orthogonality (G, |Ũ ᵀŨ − I|) is
    there at once: m(0) = ŨŨᵀm₀. The term returned 0 at t = 0, and a means-only dense solve read
    at t = 0 only had a bound of 4.5e-21 against an error of 1.5e-16 on a chain site whose mean is
    exactly 0 (review of session 21, s20 generator ident 5032). Now err ≤ bound there, and the
    term at t = 0 is the limit of its values at t → 0+."""
    f = [2.4299123708776063, 2.427482701254999, 2.4299126138688676]
    k = [-3.920170919627967e-09, -1.0969559618328674e-07, 5.040229802835697e-07]
    states = [(0.3107012114291499, 1.1115759573541268, -1.2765347635229363, 0.07321644575511863),
              (0.8507802141151013, 6.143880186752737, -0.838281832990495, -1.3234087791813165),
              (0.001400849698493092, 3.013346870678429, 0.33543329210945694, -0.7201724995907784)]
    net = nw.couple(nw.chain(20, 0.9068514316766977, 1.844724653785913, "fixed"),
                    nw.probes(f, 0.0, [[19], [2], [19]], [[x] for x in k]))
    init = st.InitialState(st.product(*[st.squeezed(w, r, a, x=x, p=p) for w, (r, a, x, p) in zip(f, states)]),
                           0.015290185822965109)
    sol = dy.solve(net, init, method="dense", observe=[21], covariance=False)
    err = float(np.abs(sol.means(np.zeros(1))).max())  # chain site 19: ⟨x⟩ = ⟨p⟩ = 0 exactly
    assert 0 < err <= sol.error_bound
    assert sol.vector_term(0.0) == pytest.approx(sol.vector_term(1e-300), rel=1e-12) and sol.vector_term(0.0) > 0


def test_a_cluster_of_many_identical_probes_gets_its_gram_from_the_vectors():
    """16 identical probes (ω = 1), one at site 1 of a 3-site fixed chain and 15 at site 3, all
    pairwise coupled by λ = −(1 − 1e-3)/16: V_S = (1 + 16λ)I − λJ (J all ones) has a 15-fold
    eigenvalue 1e-3, of which the chain sees two directions (probe 1's and the 15's sum), so the
    chain path's modes hold a degenerate cluster of 13. Beyond the close pairs' window (NEAR = 8 apart) G_kl was its gap form at a
    zero gap, ‖x_k‖‖x_l‖ = 1, and the bound 2.3e4 against an error 5e-10. With the window grown
    to the cluster (arrowvectors._near_width): honest against 30 digits, and within 1000× of
    the error and 30× of the dense path's bound (measured 420× and 17×)."""
    p = 16
    lam = -(1 - 1e-3) / p
    net = nw.couple(nw.chain(3, 1.0, 1.0, "fixed"),
                    nw.probes([1.0] * p, lam * (np.ones((p, p)) - np.eye(p)), [1] + [3] * (p - 1), [1e-3] * p))
    init = st.InitialState(st.product(*[st.coherent(1.0, 0.1 * (i % 3)) for i in range(p)]), 1.0)
    obs, times = [0, 1, p + 1], np.array([0.0, 1.0, 10.0, 100.0])
    ref_mean, ref_cov = Reference(net, init, observe=obs, dps=30).moments(times)
    bounds = {}
    for method in ("dense", "chain"):
        sol = dy.solve(net, init, method=method, observe=obs, t_max=100.0)
        m = sol.moments(times)
        err = max(float(np.abs(m.cov - ref_cov).max()), float(np.abs(m.mean - ref_mean).max()))
        assert err <= sol.error_bound
        bounds[method] = (sol.error_bound, err)
    bound, err = bounds["chain"]
    assert bound <= 1000 * err and bound <= 30 * bounds["dense"][0], bounds


def test_forty_identical_probes_keep_an_honest_bound_without_the_long_double_core():
    """40 probes as in the test above (V_S's 1e-3 eigenvalue 39-fold): the long-double core's
    pole products (poles × (2P)² numbers, ~3.3e6 here) are past lowrank.EXACT_CORE_MAX, so the
    core's rounding keeps its worst-case term (P = 40 took 3.5 s that way, 0.4 s now; P = 300 ran
    out of 24 GB, review s22b). Both paths honest against 30 digits, and within 1e-6 of σ."""
    from harmosync.solvers import lowrank

    p = 40
    lam = -(1 - 1e-3) / p
    net = nw.couple(nw.chain(3, 1.0, 1.0, "fixed"),
                    nw.probes([1.0] * p, lam * (np.ones((p, p)) - np.eye(p)), [1] + [3] * (p - 1), [1e-3] * p))
    init = st.InitialState(st.product(*[st.coherent(1.0, 0.1 * (i % 3)) for i in range(p)]), 1.0)
    obs, times = [0, 1, p + 1], np.array([0.0, 10.0, 100.0])
    assert 500 * (2 * p) ** 2 > lowrank.EXACT_CORE_MAX
    ref_mean, ref_cov = Reference(net, init, observe=obs, dps=30).moments(times)
    for method in ("dense", "chain"):
        sol = dy.solve(net, init, method=method, observe=obs, t_max=100.0)
        m = sol.moments(times)
        err = max(float(np.abs(m.cov - ref_cov).max()), float(np.abs(m.mean - ref_mean).max()))
        assert err <= sol.error_bound <= 1e-6, (method, err, sol.error_bound)
