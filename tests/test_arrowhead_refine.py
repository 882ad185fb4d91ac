"""The a-posteriori refinement of the chain path's eigenvalues in double with error-free
transformations (harmosync.solvers.roundoff.arrow_refine, used by arrowhead.arrowhead_errors).

For the arrowhead A = [[V_S, C], [Cᵀ, diag(d)]], a computed eigenpair (μ̃, probe row a) and
x = (a, ŷ), ŷ_j = fl(fl(Σ_i C_ij a_i)/fl(μ̃ − d_j)) (the kernel's own double vector), the
returned (ρ, half, η) must satisfy, in exact rational arithmetic (fractions.Fraction: the
inputs are doubles, so A, x, s = (A − μ̃)x and xᵀAx/xᵀx are exact rationals):

    |xᵀAx/xᵀx − ρ| ≤ half   and   ‖(A − μ̃)x‖/‖x‖ ≤ η,

and with an input rounding |δA| ≤ (d_vs, δC, δd) the same for A + δA at the corners the
bound charges (half and η grow by |x|ᵀ|δA||x|/‖x‖² and ‖|δA||x|‖/‖x‖). The inputs include
adversarial cancellation: modes within an ulp of a pole (huge ŷ, s_env of catastrophic
cancellation), poles in a cluster 1e-15 wide, entries over twelve orders of magnitude. Then
arrowhead_errors' e_k against the eigenvalues of A in mpmath (40 digits) on random arrowheads.
"""

from __future__ import annotations

from fractions import Fraction

import mpmath as mp
import numpy as np
import pytest

from harmosync.solvers import arrowhead, roundoff

EPS = np.finfo(float).eps


def _arrowhead(vs, d, c):
    p, m = c.shape
    a = np.zeros((p + m, p + m))
    a[:p, :p], a[:p, p:], a[p:, :p] = vs, c, c.T
    a[p:, p:] = np.diag(d)
    return a


def _y(a, mu, d, c):
    """ŷ exactly as the kernel forms it (C_0j a_0 + C_1j a_1 + … left to right, then one division)."""
    cta = c[0] * a[0]
    for i in range(1, a.shape[0]):
        cta = cta + c[i] * a[i]
    return cta / (mu - d)


def _exact(vs, d, c, a, mu):
    """(Rayleigh quotient, ‖(A − μ̃)x‖²/‖x‖², x) in rationals for x = (a, ŷ)."""
    y = _y(a, mu, d, c)
    x = [Fraction(float(v)) for v in np.concatenate([a, y])]
    big = _arrowhead(vs, d, c)
    ax = [sum((Fraction(float(big[i, j])) * x[j] for j in range(len(x)) if big[i, j] != 0), Fraction(0))
          for i in range(len(x))]
    n2 = sum(v * v for v in x)
    m = Fraction(float(mu))
    res = [ax[i] - m * x[i] for i in range(len(x))]
    return sum(v * w for v, w in zip(x, ax)) / n2, sum(r * r for r in res) / n2, np.array([float(v) for v in x])


def _case(seed, p, m, kind):
    rng = np.random.default_rng(seed)
    if kind == "random":
        d = np.sort(rng.uniform(0.1, 5.0, m))
        c = rng.normal(0, 0.3, (p, m))
        vs = rng.normal(0, 0.2, (p, p))
    elif kind == "cluster":  # poles 1e-15 apart, weak couplings: modes on top of the poles
        d = 1.0 + EPS * np.arange(m) * 4
        c = rng.normal(0, 1e-9, (p, m))
        vs = rng.normal(0, 0.2, (p, p))
    else:  # "scales": twelve orders of magnitude in d and C
        d = np.sort(10.0 ** rng.uniform(-6, 6, m))
        c = rng.normal(0, 1, (p, m)) * 10.0 ** rng.uniform(-4, 3, (p, m))
        vs = rng.normal(0, 1e2, (p, p))
    vs = vs + vs.T + np.diag(rng.uniform(1.0, 3.0, p))
    mu, u = np.linalg.eigh(_arrowhead(vs, d, c))
    return vs, d, c, mu, np.ascontiguousarray(u[:p])


@pytest.mark.parametrize("kind", ["random", "cluster", "scales"])
@pytest.mark.parametrize("p,m,seed", [(1, 7, 0), (2, 24, 1), (3, 40, 2)])
def test_refinement_encloses_the_exact_rayleigh_quotient_and_residual(kind, p, m, seed):
    vs, d, c, mu, a = _case(seed, p, m, kind)
    # adversarial: modes nudged by an ulp, and ones an ulp off a pole (ŷ ~ 1e16·Cᵀa)
    mu = mu.copy()
    mu[::3] = np.nextafter(mu[::3], np.inf)
    near = np.nextafter(d[: min(3, m)], np.inf)
    mu = np.concatenate([mu, near])
    a = np.concatenate([a, a[:, : near.size]], axis=1)
    ok = ~np.isin(mu, d) & np.any(a != 0, axis=0)  # (arrowhead_errors refines no others)
    mu, a = mu[ok], np.ascontiguousarray(a[:, ok])
    zero = (np.zeros(m), np.zeros((p, m)))
    rho, half, eta = roundoff.arrow_refine(a, mu, vs, d, c, np.zeros(p), zero)
    scale = np.abs(d).max() + np.abs(c).max() + np.abs(vs).max()
    for k in range(mu.size):
        rq, r2, _ = _exact(vs, d, c, a[:, k], mu[k])
        err = abs(rq - Fraction(float(rho[k])) - Fraction(float(rho[k] - np.longdouble(float(rho[k])))))
        assert err <= Fraction(float(half[k])), (k, float(err), half[k])
        assert r2 <= Fraction(float(eta[k])) ** 2, (k, float(r2) ** 0.5, eta[k])
        # the arithmetic is charged ~1e-28 of ‖A‖: half is mostly the long-double rounding of ρ
        assert half[k] <= 2 * float(np.finfo(np.longdouble).eps) * abs(float(rho[k])) + 1e-24 * scale
        assert eta[k] <= float(r2) ** 0.5 * (1 + 1e-12) + 1e-24 * scale


@pytest.mark.parametrize("seed", [3, 4])
def test_refinement_charges_the_input_rounding(seed):
    """With |δA| ≤ (d_vs, δC, δd): the Rayleigh quotient and residual of every matrix A + δA
    with δA at a corner of the box (signs chosen to push each up or down) stay inside."""
    p, m = 2, 12
    vs, d, c, mu, a = _case(seed, p, m, "random")
    rng = np.random.default_rng(seed)
    dd, dc, dvs = 1e-6 * rng.uniform(0, 1, m), 1e-6 * rng.uniform(0, 1, (p, m)), 1e-6 * rng.uniform(0, 1, p)
    rho, half, eta = roundoff.arrow_refine(a, mu, vs, d, c, dvs, (dd, dc))
    for k in range(mu.size):
        x = _exact(vs, d, c, a[:, k], mu[k])[2]
        sx = np.sign(x)
        for sign in (1, -1):  # δA_ij = ±|δA_ij| sgn(x_i x_j): xᵀδAx = ±|x|ᵀ|δA||x|
            vs2 = vs + sign * np.diag(dvs) * np.outer(sx[:p], sx[:p])
            c2 = c + sign * dc * np.outer(sx[:p], sx[p:])
            d2 = d + sign * dd
            big = _arrowhead(vs2, d2, c2)
            xf = [Fraction(float(v)) for v in x]
            ax = [sum((Fraction(float(big[i, j])) * xf[j] for j in range(len(xf))), Fraction(0)) for i in range(len(xf))]
            n2 = sum(v * v for v in xf)
            rq = sum(v * w for v, w in zip(xf, ax)) / n2
            r2 = sum((ax[i] - Fraction(float(mu[k])) * xf[i]) ** 2 for i in range(len(xf))) / n2
            assert abs(rq - Fraction(float(rho[k]))) <= Fraction(float(half[k])) * (1 + Fraction(1, 10**9))
            assert r2 <= Fraction(float(eta[k])) ** 2


@pytest.mark.parametrize("seed", range(3))
def test_arrowhead_errors_enclose_the_eigenvalues_in_40_digits(seed):
    """e_k ≥ |μ̃_k − λ_k| for every mode (refined or not), λ_k by mpmath.eigsy at 40 digits
    from the same (double) A; the refined ones below the a-priori radius (by half, median)."""
    p, m = 2, 30
    vs, d, c, mu, a = _case(seed, p, m, "random")
    radius = 8 * EPS * mu[-1] * (mu / mu[-1] + 2 * np.linalg.norm(a, axis=0))
    e = arrowhead.arrowhead_errors(mu, a, vs, d, c, radius, (np.zeros(m), np.zeros((p, m))), count=16)
    with mp.workdps(40):
        big = _arrowhead(vs, d, c)
        exact = np.array(sorted(float(x) for x in mp.eigsy(mp.matrix(big.tolist()), eigvals_only=True)))
    assert np.all(np.abs(mu - exact) <= e)
    refined = np.argsort(-np.sum(a * a, axis=0), kind="stable")[:16]
    assert np.all(e[refined] < radius[refined]) and np.median(e[refined] / radius[refined]) < 0.5


def _mirror_arrowhead(m, boundary, site, w, k):
    """Identical probes (ω, coupling K) at mirror sites s and M + 1 − s of a chain (Ω0 = 0.05,
    g = 1): the arrowhead's probe rows are C_1j = ±C_0j, and its two probe-like modes (symmetric,
    antisymmetric) are split by far less than the per-mode residual intervals' width."""
    from harmosync.network import chain_mode_rows, chain_modes

    d = chain_modes(m, 0.05, 1.0, boundary, vectors=False)[0] ** 2
    c = k * chain_mode_rows(m, boundary, [site, m + 1 - site])
    vs = np.diag([w * w + k, w * w + k])
    return vs, d, c


@pytest.mark.parametrize("m, boundary, site, w, k, split", [
    (6, "free", 2, 0.125, 1.4e-9, False), (14, "fixed", 3, 0.054, 2.7e-9, False), (8, "fixed", 2, 0.7, 1e-8, False),
    (15, "fixed", 4, 0.3, 1e-6, True), (9, "free", 1, 1.3, 1e-3, True)])
def test_mirror_pair_is_one_cluster_enclosing_the_50_digit_eigenvalues(m, boundary, site, w, k, split):
    """A degenerate pair (identical probes at mirror sites): e_k ≥ |μ̃_k − λ_k| for every mode,
    λ_k the 50-digit eigenvalues of the same double A (compared in mpmath), and the pair's e_k
    within 100× of max(its error, ε μ̃): Kahan's subspace residual for the pair
    (softgeometry.cluster_enclose with arrowhead_errors' columns), where the per-mode intervals
    overlap and fall back to the a-priori 8ε(μ + 2‖V‖|a|) (measured before: 3e3–2e4× the error).
    With stronger couplings (``split``) the pair is resolved mode by mode, and stays tight."""
    vs, d, c = _mirror_arrowhead(m, boundary, site, w, k)
    modes = arrowhead.arrowhead_modes(vs, d, c)
    mu = modes.values
    a = modes.rows(probe_rows=np.eye(2), env_rows=None)
    radius = 8 * EPS * mu[-1] * (mu / mu[-1] + 2 * np.linalg.norm(a, axis=0))
    e = arrowhead.arrowhead_errors(mu, a, vs, d, c, radius, (np.zeros(m), np.zeros((2, m))), count=128)
    with mp.workdps(50):
        lam = sorted(mp.eigsy(mp.matrix(_arrowhead(vs, d, c).tolist()), eigvals_only=True))
        err = np.array([float(abs(mp.mpf(float(x)) - y)) for x, y in zip(mu, lam)])
    assert np.all(err <= e)
    pair = np.argsort(-np.sum(a * a, axis=0))[:2]
    assert (abs(mu[pair[0]] - mu[pair[1]]) > radius[pair].max()) == split  # the per-mode intervals overlap
    assert np.all(e[pair] <= 100 * np.maximum(err[pair], EPS * mu[pair]))


@pytest.mark.parametrize("m, boundary, site, js, k", [
    (15, "fixed", 8, (13, 9, 1), 5.2e-4),  # s11 fuzz pole 0: three probes at the middle site (even k)
    (9, "fixed", 5, (1, 1), 3e-3),  # two identical probes, one pole (k = 2)
    (11, "free", 6, (1, 3), 1e-2)])  # free: cos(πk(j − ½)/M) vanishes at j − ½ = M/2 for odd k
def test_modes_at_a_pole_take_their_columns_enclosures(m, boundary, site, js, k):
    """Probes resonant with chain modes that have a node at their site: those modes stay at their
    poles (μ̃ = d_j), where the vectors (a, Cᵀa/(μ̃ − d)) are undefined, and kept the a-priori
    radius 8ε(μ + 2‖V‖|a|), 9e-14 against an actual 1e-17 (s11 fuzz pole 0: the bound 1.8e3× the
    error). With the merges' own columns (arrowhead._column_refine, and their clusters by
    cluster_enclose): e_k ≥ |μ̃_k − λ_k| for every mode against the 50-digit eigenvalues of the
    same double A, and on the modes at a pole within 100× of max(error, ε μ̃)."""
    from harmosync import network as nw

    d, _ = nw.chain_modes(m, 0.355, 6.4, boundary)
    d = d**2
    w = np.sqrt(d[list(js)])
    p = w.size
    vs = np.diag(w**2)
    c = np.array([k * np.sign(i % 2 - 0.5) * nw.chain_mode_rows(m, boundary, [site])[0] for i in range(p)])
    modes = arrowhead.arrowhead_modes(vs, d, c)
    mu = modes.values
    a = modes.rows(probe_rows=np.eye(p), env_rows=None)
    radius = 8 * EPS * mu[-1] * (mu / mu[-1] + 2 * np.linalg.norm(a, axis=0))
    rounding = (np.zeros(m), np.zeros((p, m)))
    e = arrowhead.arrowhead_errors(mu, a, vs, d, c, radius, rounding, count=128, merged=modes.columns)
    with mp.workdps(50):
        lam = sorted(mp.eigsy(mp.matrix(_arrowhead(vs, d, c).tolist()), eigvals_only=True))
        err = np.array([float(abs(mp.mpf(float(x)) - y)) for x, y in zip(mu, lam)])
    assert np.all(err <= e)
    ds = np.sort(d)
    pos = np.clip(np.searchsorted(ds, mu), 1, ds.size - 1)
    at = np.minimum(np.abs(mu - ds[pos - 1]), np.abs(mu - ds[pos])) <= 8 * EPS * mu
    assert np.any(at)
    assert np.all(e[at] <= 100 * np.maximum(err[at], EPS * mu[at]))


def _arrowhead_eigenvalue_errors(vs, d, c, mu):
    with mp.workdps(50):
        lam = sorted(mp.eigsy(mp.matrix(_arrowhead(vs, d, c).tolist()), eigvals_only=True))
        return np.array([float(abs(mp.mpf(float(x)) - y)) for x, y in zip(mu, lam)])


@pytest.mark.parametrize("frac", [15.0, 7.0, 1.0])
def test_a_dropped_coupling_at_a_pole_is_in_every_radius(frac):
    """A probe exactly at a chain pole (V_S = d_j), its coupling there just below what the merge
    drops (~16ε d_j where the probe and the pole are one level): A's pair splits by ±|z_j|, while
    the merges keep μ̃ = d_j for both, and the mode with a = 0 had only 8ε·μ (review of session
    18: the error 1.5× that, 1.87× with the pole's column enclosure). The merges' dropped
    couplings (ArrowheadModes.deflation, Weyl) are in every radius: e_k ≥ |μ̃_k − λ_k| against 50
    digits, for every mode."""
    from harmosync import network as nw

    m, j, site = 9, 2, 1
    d = nw.chain_modes(m, 0.3, 1.0, "fixed", vectors=False)[0] ** 2
    row = nw.chain_mode_rows(m, "fixed", [site])[0]
    vs = np.array([[d[j]]])
    c = (frac * EPS * d[j] / abs(row[j])) * row[None, :]
    modes = arrowhead.arrowhead_modes(vs, d, c)
    mu = modes.values
    a = modes.rows(probe_rows=np.eye(1), env_rows=None)
    assert modes.deflation >= abs(c[0, j]) * (1 - 1e-12)  # (the coupling at the pole was dropped)
    e = arrowhead.chain_mode_errors(mu, a, vs, d, c, (np.zeros(m), np.zeros((1, m))), count=128,
                                    merged=modes.columns, deflation=modes.deflation)
    assert np.all(_arrowhead_eigenvalue_errors(vs, d, c, mu) <= e)


@pytest.mark.parametrize("m, g, s, k, boundary", [(8, 1e-9, 1e7, 10.0, "fixed"), (20, 1e-10, 1e6, 1.0, "free"),
                                                 (12, 1e-13, 1.0, 1e2, "fixed")])
def test_rotated_close_poles_are_in_every_radius(m, g, s, k, boundary):
    """A stiff probe (s ≫ d) on a nearly flat chain: its poles lie closer than the merge's 8ε of
    s, which rotates them into one coupled pole and keeps the rest as diag(λ_last, λ_j), each
    rotation off by up to √2|λ_j − λ_last| (review of session 18: a mode moved 4.2e-10 against an
    enclosure of 1.8e-15). With that spread in ArrowheadModes.deflation, e_k ≥ |μ̃_k − λ_k| against
    50 digits, for every mode, with and without the chain's rounding."""
    from harmosync import network as nw

    d = nw.chain_modes(m, 1.0, g, boundary, vectors=False)[0] ** 2
    vs = np.array([[s]])
    c = k * nw.chain_mode_rows(m, boundary, [1])
    modes = arrowhead.arrowhead_modes(vs, d, c)
    assert any(st.rotations for st in modes.stages)
    mu = modes.values
    a = modes.rows(probe_rows=np.eye(1), env_rows=None)
    err = _arrowhead_eigenvalue_errors(vs, d, c, mu)
    for rounding in ((np.zeros(m), np.zeros((1, m))), arrowhead.chain_rounding(d, c, m, 1.0, g, boundary, [(0, 1, k)])):
        e = arrowhead.chain_mode_errors(mu, a, vs, d, c, rounding, count=128, merged=modes.columns,
                                        deflation=modes.deflation)
        assert np.all(err <= e)


def test_left_out_modes_count_in_the_enclosures_gaps():
    """A probe at a free chain's pole (V_S = d_5, K = −1.5e-14), its coupling there dropped: the
    pole's mode (a = 0) is left out of the solution (spectrum.seen_modes), and the probe's mode,
    an ulp from it, was enclosed (3.1e-15) by Kato–Temple with a gap that did not count the
    left-out eigenvalue, 3.2e-15 away (review of session 18). With the left-out modes' μ̃ given
    (``unseen``), e_k ≥ |μ̃_k − λ_k| on the kept modes against 50 digits."""
    from harmosync import network as nw

    m, site, k, j = 24, 11, -1.5e-14, 5
    d = nw.chain_modes(m, 0.645, 8.51, "free", vectors=False)[0] ** 2
    vs = np.array([[d[j]]])
    c = k * nw.chain_mode_rows(m, "free", [site])
    modes = arrowhead.arrowhead_modes(vs, d, c)
    mu = modes.values
    a = modes.rows(probe_rows=np.eye(1), env_rows=None)
    keep = np.any(a != 0, axis=0)
    assert not keep.all()
    kept = np.flatnonzero(keep)
    rounding = arrowhead.chain_rounding(d, c, m, 0.645, 8.51, "free", [(0, site, k)])
    e = arrowhead.chain_mode_errors(mu[keep], a[:, keep], vs, d, c, rounding, count=128,
                                    merged=lambda ks: modes.columns(kept[np.asarray(ks, int)]),
                                    deflation=modes.deflation, unseen=mu[~keep])
    assert np.all(_arrowhead_eigenvalue_errors(vs, d, c, mu)[keep] <= e)


def test_secular_roots_hug_stiff_poles_with_tiny_couplings():
    """A soft probe (s = 4e-6) coupled by z ~ 1e-16 to stiff poles 1 … 3.8e8 (deflation now keeps
    such couplings, arrowhead._deflate): every root lies τ_k ≈ z_k²/(λ_k − s) ~ 1e-39 above its
    pole, and the one above the last pole had the bracket [0, 0] (‖z‖ below half an ulp of the pole
    rounded away in max(s, λ) + ‖z‖ − λ): τ = 0, its vector 0/0. Each offset τ_k against the
    arrowhead's 100-digit eigenvalue less its pole, to 1e-12 relative."""
    poles = np.array([1.0, 1.52240945e+07, 5.85786448e+07, 1.23463315e+08, 2.00000001e+08, 2.76536687e+08,
                      3.41421357e+08, 3.84775908e+08])
    z = np.array([3.53553391e-16, 4.90392640e-16, 4.61939766e-16, 4.15734806e-16, 3.53553391e-16,
                  2.77785117e-16, 1.91341716e-16, 9.75451610e-17])
    s = 4e-6
    with np.errstate(all="raise"):
        origin, tau, norm = arrowhead.secular_solve(poles, z, s)
    assert np.all(np.isfinite(tau)) and np.all(norm > 0)
    with mp.workdps(100):  # τ ~ 1e-41 beside λ ~ 4e8: 49 digits go to the pole
        n = poles.size
        a = mp.zeros(n + 1, n + 1)
        a[0, 0] = mp.mpf(s)
        for j in range(n):
            a[0, j + 1] = a[j + 1, 0] = mp.mpf(float(z[j]))
            a[j + 1, j + 1] = mp.mpf(float(poles[j]))
        lam = sorted(mp.eigsy(a, eigvals_only=True))
        for k in range(1, n + 1):  # the roots above the poles (k = 0: near s)
            exact = lam[k] - mp.mpf(float(poles[origin[k]]))
            assert abs(float((mp.mpf(float(tau[k])) - exact) / exact)) <= 1e-12


def test_a_degenerate_probe_pair_beside_a_long_chain_takes_its_columns():
    """Two identical probes at the ends of a free 5000-site chain (g = 4, Ω0 = 0.3), both at the
    frequency of its third-highest mode, K = 1e-6, and a third (ω = 1, K = 0.05) at its middle
    (review s20's timing network): the pair lies 8.9e-16 apart in ω, 8.3e-9 from that mode, and
    its vectors (a, ŷ) are poor (η = 4.2e-6). The merges' own columns enclose it again; a work
    budget of P·N² a column (sessions 18 to 20) gave none from ~4100 modes: e = 4.2e-6 and a
    bound 130× looser (3.2e3 at t_max = 1e4). Sylvester's inertia of the exact
    A = [[V_S, C], [Cᵀ, diag(d)]] (orthogonally similar to the network's V), from 40-digit d and
    C of the closed forms: #{λ < x} = #{d_j < x} + #{negative eigenvalues of
    V_S − x − C(D − x)⁻¹Cᵀ} (Haynsworth), so λ_k ∈ [μ̃_k ± e_k] for the three modes nearest the
    pair, and the pair's e_k ≤ 100 ε μ̃."""
    from harmosync import network as nw
    from harmosync import states as st
    import harmosync.dynamics as dy

    m, w0, g = 5000, 0.3, 4.0
    f = float(nw.chain_modes(m, w0, g, "free", vectors=False)[0][-3])
    om, sites, ks = [f, f, 1.0], [1, m, m // 2], [1e-6, 1e-6, 0.05]
    net = nw.couple(nw.chain(m, w0, g, "free"), nw.probes(om, 0.0, [[s] for s in sites], [[k] for k in ks]))
    init = st.InitialState(st.product(st.squeezed(f, 1.0, 0.4), st.squeezed(f, 1.0, 0.1), st.squeezed(1.0, 0.5)), 2.0)
    sol = dy.solve(net, init, method="chain", observe=[0], t_max=1e-3, covariance=False)
    mu, e = sol.frequencies**2, sol.mu_error
    assert mu.size == m + 3
    with mp.workdps(40):
        pi, m_mp = mp.pi, mp.mpf(m)
        d = [mp.mpf(w0) ** 2 + 4 * mp.mpf(g) * mp.sin(pi * j / (2 * m_mp)) ** 2 for j in range(m)]
        c = [[mp.mpf(k) / mp.sqrt(m_mp)] + [mp.mpf(k) * mp.sqrt(2 / m_mp) * mp.cos(pi * j * (s - mp.mpf(0.5)) / m_mp)
                                            for j in range(1, m)] for s, k in zip(sites, ks)]

        def below(x):  # #{λ < x}
            schur = mp.diag([mp.mpf(w) ** 2 - x for w in om])
            for j in range(m):
                inv = 1 / (d[j] - x)
                for i1 in range(3):
                    for i2 in range(i1, 3):
                        schur[i1, i2] -= c[i1][j] * c[i2][j] * inv
            for i1 in range(3):
                for i2 in range(i1):
                    schur[i1, i2] = schur[i2, i1]
            return sum(1 for dj in d if dj < x) + sum(1 for v in mp.eigsy(schur, eigvals_only=True) if v < 0)

        pair = np.argsort(np.abs(mu - f * f))[:3]
        for k in pair:
            lo, hi = mp.mpf(float(mu[k])) - mp.mpf(float(e[k])), mp.mpf(float(mu[k])) + mp.mpf(float(e[k]))
            assert below(lo) <= k < below(hi)
    probe = np.argsort(-np.sum(sol.readout**2, axis=0))[:2]  # (the observed probe's two hybrids)
    assert set(probe) <= set(pair)
    assert np.all(e[pair] <= 100 * EPS * mu[pair])
