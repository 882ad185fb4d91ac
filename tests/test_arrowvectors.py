"""The chain path's eigenvector term (solvers/arrowvectors.py): b ≥ |B| and g ≥ |G| for the
vectors x_k = (a_k, ŷ_k) against B = XᵀAX − Λ̃ − (GΛ̃ + Λ̃G)/2 and G = XᵀX − I formed in 40
digits, the site rows' error against W·ŷ in 40 digits, and the bound it gives against the
40-digit moments, with the merges' old deflation (which lost a near pair's mixing) put back."""

from __future__ import annotations

import sys

import mpmath as mp
import numpy as np
import pytest
from reference_mp import Reference

import harmosync.dynamics as dy
import harmosync.network as nw
import harmosync.solvers.arrowhead as ah
import harmosync.states as st
from harmosync.solvers.arrowvectors import chain_mode_bound, yhat

mp.mp.dps = 40


def _arrowhead(seed, p, m, near=False):
    rng = np.random.default_rng(seed)
    d = np.sort(rng.uniform(0.2, 4.0, m))
    c = rng.normal(0, 0.3, (p, m))
    w = rng.uniform(0.5, 2.0, p)
    if near == "pole":  # probes resonant with poles 3 and 5, their couplings there at rounding
        w[:2] = np.sqrt(d[[3, 5]])
        c[:, [3, 5]] *= 1e-18
    elif near and p > 1:
        w[1] = w[0] * (1 + 1e-9)
    vs = np.diag(w**2) + (np.diag(np.full(p - 1, 0.01), 1) + np.diag(np.full(p - 1, 0.01), -1) if p > 1 else 0)
    if near == "pole":
        vs = np.diag(w**2)
    return vs, d, c


def _exact(vs, d, c, mu, x):
    """(B, G) in 40 digits for the columns x (N, n) of A = [[vs, c], [cᵀ, diag(d)]] (doubles as exact)."""
    p, m = c.shape
    a = mp.matrix(p + m, p + m)
    for i in range(p):
        for j in range(p):
            a[i, j] = mp.mpf(vs[i, j])
        for j in range(m):
            a[i, p + j] = a[p + j, i] = mp.mpf(c[i, j])
    for j in range(m):
        a[p + j, p + j] = mp.mpf(d[j])
    xm = mp.matrix(x.tolist())
    gram = xm.T * xm
    ax = xm.T * a * xm
    n = x.shape[1]
    b = np.zeros((n, n))
    g = np.zeros((n, n))
    for k in range(n):
        for l in range(n):
            gk = gram[k, l] - (1 if k == l else 0)
            g[k, l] = float(abs(gk))
            b[k, l] = float(abs(ax[k, l] - (mu[k] if k == l else 0) - gk * (mp.mpf(mu[k]) + mp.mpf(mu[l])) / 2))
    return b, g


@pytest.mark.parametrize("offsets", [False, True])
@pytest.mark.parametrize("seed,p,m,near", [(1, 1, 7, False), (2, 2, 9, False), (3, 3, 8, False),
                                           (4, 2, 10, True), (5, 2, 6, True), (6, 2, 9, "pole"),
                                           (7, 3, 8, "pole")])
def test_b_and_g_enclose_the_exact_perturbation(seed, p, m, near, offsets):
    """Off the diagonal, b_kl ≥ |B_kl| and g_kl ≥ |G_kl| for X = [(a_k, ŷ_k)] with B, G in 40
    digits (A's doubles taken as exact: no input rounding); on it g_kk ≥ |‖x_k‖² − 1| (review
    s11: a pole mode's defect 4.1e-17 had rounded away in double). ŷ from μ̃, or from the
    merges' offsets (the solver's); "pole": probes resonant with two poles, coupled there at
    rounding (ŷ_j at those poles from the normalisation)."""
    vs, d, c = _arrowhead(seed, p, m, near)
    modes = ah.arrowhead_modes(vs, d, c)
    mu = modes.values
    a = modes.rows(probe_rows=np.eye(p))
    base, off = modes.pole_offsets(d) if offsets else (mu, np.zeros(mu.size))
    term = chain_mode_bound(mu, a, vs, d, c, (np.zeros(m), np.zeros((p, m))),
                            offsets=(base, off) if offsets else None)
    assert term.rows is None
    b, g = term.matrices()
    x = term.columns(a, d, c)  # (a_k, ŷ_k); at a pole, ŷ_j from the normalisation
    assert np.all(np.isfinite(x))
    b_ex, g_ex = _exact(vs, d, c, mu, x)
    off = ~np.eye(mu.size, dtype=bool)
    assert np.all(b_ex[off] <= b[off])
    assert np.all(g_ex <= g)
    # and not vacuous: the largest b within 1e4 of the largest |B| (both ~ the solve's rounding)
    assert b[off].max() <= 1e4 * max(b_ex[off].max(), 1e-17)


@pytest.mark.parametrize("kind", ["eigen", "perturbed", "random", "scaled", "tiny"])
def test_given_columns_data_enclose_the_exact_residual(kind):
    """arrow_vectors(y=…) (the pole modes' and the merges' columns, Dot2 since session 13): for
    x = (a, y) given, ρ ≥ |((A − μ)x)_P| entrywise, η ≥ ‖((A − μ)x)_E‖ and |fl‖x‖² − ‖x‖²| ≤ n2err
    against 40 digits (A's doubles exact, no input rounding); ‖x‖² by Sum2, whose bound
    (4u + γ²)‖x‖² is ~N/4 times below the recursive sum's. "eigen": the arrowhead's own vectors
    (the residual cancels to rounding); "scaled": entries from 1e-30 to 1e30; "tiny": the
    vectors times 1e-175, whose squares underflow (review s14b: η 1e-187 against ‖s_E‖ 1e-169
    until the sums of squares carried their underflow)."""
    from harmosync.solvers.roundoff import arrow_vectors

    vs, d, c = _arrowhead(11, 2, 40)
    modes = ah.arrowhead_modes(vs, d, c)
    mu = modes.values
    pa, ya = modes.columns(np.arange(mu.size))
    rng = np.random.default_rng(3)
    if kind == "perturbed":
        ya = ya * (1 + 1e-9 * rng.normal(size=ya.shape))
    elif kind == "random":
        pa, ya = rng.normal(size=pa.shape), rng.normal(size=ya.shape)
    elif kind == "scaled":
        ya = ya * 10.0 ** rng.integers(-30, 31, size=ya.shape)
    elif kind == "tiny":
        pa, ya = pa * 1e-175, ya * 1e-175
    p, m = c.shape
    zero = (np.zeros(m), np.zeros((p, m)))
    rho, _, eta, _, _, n2, n2err, delta = arrow_vectors(pa, mu, vs, d, c, np.zeros(p), zero, y=ya)
    assert np.all(delta == 0)
    for k in range(mu.size):
        x = [mp.mpf(v) for v in np.concatenate([pa[:, k], ya[:, k]])]
        for i in range(p):
            s = mp.fsum([mp.mpf(vs[i, j]) * x[j] for j in range(p)] + [mp.mpf(c[i, j]) * x[p + j] for j in range(m)]) \
                - mp.mpf(mu[k]) * x[i]
            assert abs(s) <= rho[i, k]
        se = mp.sqrt(mp.fsum([(mp.mpf(c[0, j]) * x[0] + mp.mpf(c[1, j]) * x[1] + (mp.mpf(d[j]) - mp.mpf(mu[k])) * x[p + j]) ** 2
                              for j in range(m)]))
        assert se <= eta[k]
        exact = mp.fsum([v * v for v in x])
        assert abs(exact - mp.mpf(n2[k])) <= n2err[k]
        if kind != "tiny":  # (there: the underflow's m·2⁻¹⁰⁷⁴)
            assert n2err[k] <= 5 * np.finfo(float).eps * n2[k]  # Sum2's, not the recursive sum's (N + 2)u
    with pytest.raises(ValueError, match="finite"):
        bad = ya.copy()
        bad[3, 0] = np.nan
        arrow_vectors(pa, mu, vs, d, c, np.zeros(p), zero, y=bad)
    with pytest.raises(ValueError, match=r"\(M, b\)"):
        arrow_vectors(pa, mu, vs, d, c, np.zeros(p), zero, y=ya[:, :-1])


def test_site_rows_error_encloses_the_merges_rows():
    """The solution's site rows (from the merges) against W·ŷ in 40 digits, W the fixed chain's
    exact mode rows: |readout − Wŷ| ≤ row_error."""
    m, p = 11, 2
    net = nw.couple(nw.chain(m, 1.0, 1.0, "fixed"), nw.probes([1.0, 1.3], 0.0, [[2], [7]], [[0.4], [0.3]]))
    init = st.InitialState(st.product(st.coherent(1.0, 1.0, 0.0), st.coherent(1.3, 0.0, 0.5)), 0.0)
    rows = [0, 1, 2, 6, 11]
    sol = dy.solve(net, init, method="chain", observe=rows)
    from harmosync.dynamics.spectrum import chain_spectrum

    spec = chain_spectrum(net, tuple(rows), None)
    row_error = spec.mode_bound.rows
    assert np.all(row_error[:2] == 0)  # the probes' rows are the vectors' own
    mu, a = spec.mu, spec.a
    base, off = ah.arrowhead_modes(net.probes.potential(), spec.env_d, spec.env_c).pole_offsets(spec.env_d)
    assert base.size == mu.size  # (every mode seen here)
    y = yhat(a, base, spec.env_d, spec.env_c, off=off)
    for i, r in enumerate(rows[2:], 2):
        s = r - p + 1
        for k in range(mu.size):
            exact = mp.fsum(mp.sqrt(mp.mpf(2) / (m + 1)) * mp.sin(mp.pi * s * (j + 1) / (m + 1)) * mp.mpf(y[j, k])
                            for j in range(m))
            assert abs(float(spec.readout[i, k] - exact)) <= row_error[i, k]
    assert sol.error_bound > 0


def _coarse(values, z, s):
    """The merges' deflation before session 10 (LAPACK's 8ε‖A‖ for every coupling)."""
    n = values.size
    stage = ah._Stage(n_prev=n)
    z = np.array(z, float)
    tol = 8 * ah.EPS * (max(float(np.abs(values).max(initial=0.0)), abs(s)) + float(np.linalg.norm(z)))
    for i in np.flatnonzero(np.diff(values) <= tol).tolist():
        if abs(z[i]) > tol and abs(z[i + 1]) > tol:
            r = float(np.hypot(z[i], z[i + 1]))
            stage.rotations.append((i, i + 1, z[i + 1] / r, z[i] / r))
            z[i], z[i + 1] = 0.0, r
    coupled = np.abs(z) > tol
    stage.active, stage.deflated = np.flatnonzero(coupled), np.flatnonzero(~coupled)
    stage.poles, stage.z = values[stage.active], z[stage.active]
    return stage


def test_old_deflation_error_is_inside_the_bound(monkeypatch):
    """Review s10's near-degenerate pair (probes ω, ω(1 + 1e-10) at sites 3 and 6 of a free
    8-site chain, K = 1.4e-7), solved with the old deflation, which dropped the pair's coupling
    1.2e-13: its rows came out unrotated, error 1.95e-7 against the 40-digit moments, and the
    bound without an eigenvector term was 5.6e-8. The term sees the dropped coupling in the
    probe residual of (a, ŷ): measured bound 2.0e-6 (term 1.93e-6)."""
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    from test_review_s10 import _near_pair

    net, init = _near_pair(1e-10)
    times = [0.0, 20.0, 11586.0]
    rm, rc = Reference(net, init, observe=[0, 1]).moments(times)
    monkeypatch.setattr(ah, "_deflate", _coarse)
    sol = dy.solve(net, init, method="chain", observe=[0, 1], t_max=max(times))
    m = sol.moments(times)
    err = max(float(np.abs(m.cov - rc).max()), float(np.abs(m.mean - rm).max()))
    assert err > 1e-7  # the old deflation's error is there
    term = sol.vector_term(sol.t_max)
    assert err <= sol.error_bound <= 100 * err
    assert sol.error_bound - term < err  # without the term the bound would not hold


def _long_near_pair(m):
    """test_review_s10's near pair (split 1e-10) on a free chain of ``m`` sites."""
    w, k = 0.14251019910965385, 1.3836452600479713e-07
    env = nw.chain(m, 0.00815233751766698, 33.486010359869184, "free")
    net = nw.couple(env, nw.probes([w, w * (1 + 1e-10)], 0.0, [[3], [6]], [[k], [k]]))
    init = st.InitialState(st.product(st.squeezed(w, 0.2, 0.3, x=-0.8, p=-1.8),
                                      st.squeezed(w, 2.0, 0.0, x=0.4, p=-0.8)), 0.0)
    return net, init


def test_the_term_holds_above_the_dense_paths_limit(monkeypatch):
    """4102 modes (above VECTOR_TERM_MAX, where until session 13 the chain path took its
    eigenvectors as exact): the near pair on a 4100-site chain, solved with the old deflation.
    Its moments differ from the sound solve's by |Δ| (measured 1.4e-7 in σ); an honest bound
    must cover |Δ| − the sound solve's bound. It does with the term (1.4e-6), and would not
    without it (measured 2.9e-8 with the sound bound added)."""
    from harmosync.dynamics.spectrum import VECTOR_TERM_MAX

    net, init = _long_near_pair(4100)
    times = [0.0, 20.0, 3000.0, 11586.0]
    good = dy.solve(net, init, method="chain", observe=[0, 1], t_max=max(times))
    mg = good.moments(times)
    monkeypatch.setattr(ah, "_deflate", _coarse)
    bad = dy.solve(net, init, method="chain", observe=[0, 1], t_max=max(times))
    assert bad.frequencies.size > VECTOR_TERM_MAX
    mb = bad.moments(times)
    diff = max(float(np.abs(mb.cov - mg.cov).max()), float(np.abs(mb.mean - mg.mean).max()))
    assert diff > 1e-8  # the old deflation's error is there
    term = bad.vector_term(bad.t_max)
    assert diff <= bad.error_bound + good.error_bound
    assert bad.error_bound - term + good.error_bound < diff  # without the term it would not hold


def test_means_only_networks_of_a_map_carry_the_term(monkeypatch):
    """solve_many's means-only networks (a map's) take the term too (until session 13 they took
    their eigenvectors as exact): the same 4100-site pair, means only, old deflation: |Δ⟨x⟩|
    1.2e-8 against the sound solve; the bound 9.0e-8, without the term 2.0e-9 (sound bound
    added)."""
    net, init = _long_near_pair(4100)
    times = [0.0, 20.0, 3000.0, 11586.0]
    good = dy.solve(net, init, method="chain", observe=[0, 1], t_max=max(times))
    mg = good.means(times)
    monkeypatch.setattr(ah, "_deflate", _coarse)
    bad = dy.solve_many([net], [init], covariance=False, t_max=max(times))[0]
    diff = float(np.abs(bad.means(times) - mg).max())
    assert diff > 1e-9
    term = bad.vector_term(bad.t_max)
    assert diff <= bad.error_bound + good.error_bound
    assert bad.error_bound - term + good.error_bound < diff


def test_a_resonant_cluster_takes_the_merges_columns_above_the_dense_paths_limit(monkeypatch):
    """Four identical probes resonant with a chain mode of a 4100-site chain (review s13's case):
    the vectors (a_k, ŷ_k) of the cluster are not orthogonal, and the merges' own columns must
    stand in for them at any size. A work budget that shared the enclosures' (tried in session
    13) gave them none from ~3500 modes: the term 7.3e-6 (measured with the columns switched off)
    against 1.0e-9 with them; at 2500 sites it had made the whole bound 73× looser."""
    import harmosync.dynamics.spectrum as spm

    m, g, w0 = 4100, 30.3, 0.577
    w = float(nw.chain_modes(m, w0, g, "free", vectors=False)[0][int(0.55 * m)])
    k = [-2.2e-05, 4.6e-06, -1.2e-07, 1.2e-09]
    net = nw.couple(nw.chain(m, w0, g, "free"), nw.probes([w] * 4, 0.0, [[7], [10], [13], [16]], [[x] for x in k]))
    init = st.InitialState(st.product(*[st.squeezed(w, 0.5, 0.3 * i, x=0.5, p=-0.2) for i in range(4)]), 0.0)
    t_max = 4 * m / np.sqrt(g)
    sol = dy.solve(net, init, method="chain", observe=[0, 1, 2, 3], t_max=t_max)
    assert sol.frequencies.size > spm.VECTOR_TERM_MAX
    with_columns = sol.vector_term(sol.t_max)
    chain_result = spm.chain_result
    monkeypatch.setattr(spm, "chain_result", lambda *a, **kw: chain_result(*a, **{**kw, "columns": None}))
    without = dy.solve(net, init, method="chain", observe=[0, 1, 2, 3], t_max=t_max)
    assert np.array_equal(sol.moments([t_max]).cov, without.moments([t_max]).cov)  # the bound alone moves
    assert with_columns <= 1e-2 * without.vector_term(without.t_max)


def test_fewer_modes_than_close_pair_neighbours():
    """Five modes, fewer than NEAR = 8 neighbours on each side (a 3-site chain, two probes): the
    close pairs' shifts run past the last mode (a slice gn[: n − i − 1] with n − i − 1 < 0 once
    took rows from the end and failed to broadcast). The bound holds against 40 digits."""
    net = nw.couple(nw.chain(3, 0.5, 1.0, "fixed"), nw.probes([1.0, 1.1], 0.05, [[1], [3]], [[0.2], [0.2]]))
    init = st.InitialState(st.product(st.coherent(1.0, 1.0, 0.0), st.squeezed(1.1, 0.5, 0.3, x=0.2)), 0.0)
    times = [0.0, 7.0, 40.0]
    sol = dy.solve(net, init, method="chain", t_max=max(times))
    assert sol.frequencies.size == 5
    rm, rc = Reference(net, init, observe=[0, 1]).moments(times)
    m = sol.moments(times)
    err = max(float(np.abs(m.cov - rc).max()), float(np.abs(m.mean - rm).max()))
    assert err <= sol.error_bound


def test_close_pairs_take_the_merges_own_columns():
    """Two identical probes resonant with a mode of a free chain of 7 (ω = 1.009, at sites 1 and
    4, K = ∓4.2e-9) and two more at ω = 0.782 (review s11's pole 25): the three modes at μ ≈ 1.02
    lie within 2e-9 of each other, and the vectors (a_k, ŷ_k), ŷ = Cᵀa/(μ − d), have
    x_kᵀx_l = 4.3e-8 there (a_k's rounding over μ − d_j ~ 1e-9), which made the bound 4.2e5× the
    error. Such pairs now take ŷ from the merges' own columns (ArrowheadModes.columns):
    b ≥ |B| and g ≥ |G| for the vectors used, against 40 digits, and G there ≤ 1e-14."""
    w1, w2, k = 1.0092508745147946, 0.7824072982274702, 4.16137421115058e-09
    net = nw.couple(nw.chain(7, 0.4885262090056175, 0.24020153065653257, "free"),
                    nw.probes([w1, w2, w2, w1], 0.0, [[1], [4], [4], [4]], [[-k], [-k], [-k], [k]]))
    from harmosync.dynamics.spectrum import chain_spectrum

    spec = chain_spectrum(net, (0, 1, 2, 3, 6), None)
    term = spec.mode_bound
    assert any(isinstance(j, slice) for j, _ in term.vectors[3])  # (some ŷ from the merges' columns)
    b, g = term.matrices()
    x = term.columns(spec.a, spec.env_d, spec.env_c)
    vs = np.asarray(net.probes.potential().toarray() if hasattr(net.probes.potential(), "toarray")
                    else net.probes.potential(), float)
    b_ex, g_ex = _exact(vs, spec.env_d, spec.env_c, spec.mu, x)
    off = ~np.eye(spec.mu.size, dtype=bool)
    assert np.all(b_ex[off] <= b[off])
    assert np.all(g_ex <= g)
    assert g_ex[off].max() <= 1e-14


def _term_data(seed, n, p, spectrum, soft=0):
    """ArrowTerm data of random per-mode bounds on a spectrum of n modes (ascending μ)."""
    from harmosync.solvers.arrowvectors import NEAR

    rng = np.random.default_rng(seed)
    if spectrum == "chain":  # a fixed chain's band with two probe modes inside it
        mu = np.sort(np.concatenate([0.01 + 4 * np.sin(np.pi * np.arange(1, n - 1) / (2 * n)) ** 2, [1.0, 1.21]]))
    elif spectrum == "clusters":  # runs of 12 equal or nearly equal eigenvalues (1e-13 or ~δ apart)
        mu = np.repeat(rng.uniform(0.1, 3.0, n // 12), 12)
        mu = np.sort(mu + rng.integers(0, 3, mu.size) * np.where(rng.uniform(0, 1, mu.size) < 0.5, 1e-13, 3e-16 * mu))
        mu = np.concatenate([mu, np.linspace(3.1, 4.0, n - mu.size)])
    else:  # random, widely graded
        mu = np.sort(10.0 ** rng.uniform(-3, 1, n))
    scale = 10.0 ** rng.uniform(-17, -12, (1, n))  # residuals ~ε, some modes far worse
    aa = np.abs(rng.normal(0, 1, (p, n))) / np.sqrt(n)
    rho, beta = rng.uniform(0, 1, (p, n)) * scale, rng.uniform(0, 1, (p, n)) * scale
    nu = 1 + rng.uniform(0, 1e-12, n)
    eta, dsum, zeta = (rng.uniform(0, 1, n) * scale[0] for _ in range(3))
    sidx = np.full(n, -1, np.int64)
    where = rng.choice(n, soft, replace=False)
    sidx[where] = np.arange(soft)
    delta = rng.uniform(0, 4e-16, n) * mu * (rng.uniform(0, 1, n) < 0.5)
    gdiag = rng.uniform(0, 1e-14, n)
    gnear = np.where(rng.uniform(0, 1, (n, NEAR)) < 0.3, rng.uniform(0, 1e-13, (n, NEAR)), np.inf)
    spb = sg = np.zeros((1, 1))
    if soft:
        x = rng.uniform(0, 1e-13, (soft, soft))
        spb, sg = x + x.T, (x * 0.5 + x.T * 0.5)
    nue = np.minimum(nu, rng.uniform(0, 1, n))
    data = tuple(np.ascontiguousarray(z) for z in (aa, rho, beta, nu, eta, dsum, zeta, sidx, mu, delta, gdiag,
                                                      gnear, spb, sg, nue))
    return data, np.sqrt(mu)


@pytest.mark.parametrize("spectrum", ["chain", "clusters", "graded"])
@pytest.mark.parametrize("soft", [0, 3])
def test_far_pairs_by_blocks_enclose_every_pair(monkeypatch, spectrum, soft):
    """The gains' pass above FAR_FROM modes (the pairs more than WINDOW apart by index blocks,
    each block's F and 1/gap at its member nearest the mode) against every pair one by one:
    Σ_k |u_ak|(B ∘ F + (G/2)(h_k + h_l))_kl ≥ the pairs' own sums, entry by entry (soft modes'
    rows and columns included), and on a chain's spectrum within 2×.
    An infinite datum gives ∞, not NaN (review s14: 0·∞ in the blocks' sums)."""
    import harmosync.solvers.arrowvectors as av

    n, p = 300, 2
    data, w = _term_data(7, n, p, spectrum, soft)
    u = np.abs(np.random.default_rng(8).normal(0, 1, (3, n))) / np.sqrt(n)
    term = av.ArrowTerm(data, None)
    for t in (3.0, 2000.0):
        hs = np.minimum(t, 1 / w)
        out = {}
        for far in (True, False):
            monkeypatch.setattr(av, "FAR_FROM", 0 if far else 10**9)
            gx, gp = np.zeros((6, n)), np.zeros((6, n))
            term.raw_gains(w, hs, u, t, gx, gp)
            out[far] = np.concatenate([gx, gp])
        exact, blocks = out[False], out[True]
        assert np.all(exact > 0)
        # (up to the sums' order: _row_gains raises both by 1 + 4Nε for it; review s14 saw
        # 1 − 3.2e-13 at N = 5000, a soft mode's far column added after its window)
        assert np.all(blocks >= exact * (1 - 4 * n * np.finfo(float).eps)), np.min(blocks / exact)
        if spectrum == "chain":
            assert np.sum(blocks) <= 2 * np.sum(exact)
    bad = list(data)
    bad[4] = data[4].copy()
    bad[4][100] = np.inf  # η of one mode, whose readout entries are 0
    u[:, 100] = 0.0
    monkeypatch.setattr(av, "FAR_FROM", 0)
    gx, gp = np.zeros((6, n)), np.zeros((6, n))
    av.ArrowTerm(tuple(bad), None).raw_gains(w, np.minimum(2.0, 1 / w), u, 2.0, gx, gp)
    assert not np.any(np.isnan(gx)) and not np.any(np.isnan(gp)) and np.any(np.isinf(gx))


def _chain_basis_mp(m, boundary):
    """The chain's exact mode rows W (sites × modes), as network.chain_modes has them."""
    w = mp.matrix(m, m)
    for j in range(1, m + 1):
        for k in range(m):
            if boundary == "fixed":
                w[j - 1, k] = mp.sqrt(mp.mpf(2) / (m + 1)) * mp.sin(mp.pi * j * (k + 1) / (m + 1))
            else:
                w[j - 1, k] = 1 / mp.sqrt(m) if k == 0 else mp.sqrt(mp.mpf(2) / m) * mp.cos(mp.pi * k * (j - mp.mpf(1) / 2) / m)
    return w


def test_soft_modes_pairs_enclose_their_exact_perturbation(monkeypatch):
    """A free chain g = 3e7, Ω0 = 1.5e-3 with three probes at its end (four soft modes beside
    stiff ones up to 1.2e8): for the vectors the term is for (the refined soft columns, taken to
    the chain's modes by the exact Wᵀ) b_sl ≥ |B_sl| (B = QᵀVQ − Λ̃, Q the orthonormalised
    vectors, V exact: 60 digits) on every pair, and on each soft mode's row within 10× of the
    row's largest |B|. The soft pairs' δA part is componentwise (_soft_rounding): ‖x_s‖·‖|δA||x_l|‖
    charged δd ~ ε·1e8 of the stiff poles, 2e-8 against |B| ≤ 1.2e-11 on three of those rows.
    Since session 18 the covariance takes these b too (it left them to vector_roundoff, which
    bounds those vectors' errors in the stationary part only: |B| up to 1.2e-9 where b was 0)."""
    from reference_mp import potentials_mp

    import harmosync.dynamics.spectrum as spm

    seen = {}

    def spy(mu, a, vs, env_d, env_c, rounding, **kw):
        term = chain_mode_bound(mu, a, vs, env_d, env_c, rounding, **kw)
        seen.update(term=term, mu=mu, a=a, d=env_d, c=env_c, soft=kw["soft"])
        return term

    monkeypatch.setattr(spm, "chain_mode_bound", spy)
    p, m = 3, 10
    net = nw.couple(nw.chain(m, 1.5e-3, 3e7, "free"),
                    nw.probes((2e-3, 0.05, 0.26), 0.0, [[1], [1], [1]], [[1e-8], [5e-5], [4.5e-7]]))
    spm.chain_spectrum(net, (0, 1, 2, 3, 10), None)
    term, mu, soft = seen["term"], np.asarray(seen["mu"]), seen["soft"]
    assert soft is not None and soft[0].size == 4
    b, _ = term.matrices()
    x = term.columns(seen["a"], seen["d"], seen["c"])
    with mp.workdps(60):
        t = mp.zeros(p + m)
        w = _chain_basis_mp(m, "free")
        for i in range(p):
            t[i, i] = 1
        for i in range(m):
            for j in range(m):
                t[p + i, p + j] = w[i, j]
        v = t.T * potentials_mp(net)[0] * t  # V in (probes, chain modes)
        xm = mp.matrix(x.tolist())
        ym = t.T * mp.matrix(np.asarray(soft[1], float).tolist())
        for c, k in enumerate(soft[0]):
            for i in range(p + m):
                xm[i, int(k)] = ym[i, c]
        e, u = mp.eigsy(xm.T * xm)
        q = xm * (u * mp.diag([1 / mp.sqrt(z) for z in e]) * u.T)
        bq = q.T * v * q
        n = mu.size
        exact = np.array([[float(abs(bq[i, j])) for j in range(n)] for i in range(n)])
    off = ~np.eye(n, dtype=bool)
    assert np.all(exact[off] <= b[off])
    for s in soft[0]:
        row = off[s]
        assert b[s, row].max() <= 10 * exact[s, row].max()
