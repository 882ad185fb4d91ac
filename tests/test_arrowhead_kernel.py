"""The compiled secular-equation kernels of harmosync.solvers.arrowhead.

* The secular sums ψ(μ) = Σ_{j<k} z_j²/(μ − λ_j), ψ′ = −Σ_{j<k} z_j²/(μ − λ_j)² and φ, φ′ over
  the poles j ≥ k (module docstring of arrowhead: f(μ) = s − μ + ψ + φ) against the same sums
  in mpmath at 40 digits, from the same inputs (μ − λ_j = (λ_o − λ_j) + τ formed exactly there).
  The kernel's terms share a sign within each sum, so its error is relative: the rounding of
  μ − λ_j (ε), of the term (2ε) and of four running sums ((n/4 + 2) ε).
* The roots μ_k of [[s, zᵀ], [z, diag(λ)]] on the map's size (302 poles; the threaded sums)
  against numpy.linalg.eigh, and each network's roots bitwise the same alone (one thread) or
  in the batch (two threads).
* The roots on a chain's spectrum against f in mpmath: at the sums' roundoff (the stopping rule);
  a root far below its pole keeps its own relative digits.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

from harmosync.solvers import arrowhead

EPS = np.finfo(float).eps


def _reference(poles, z2, net, origin, tau, left):
    """(ψ, ψ′, φ, φ′) per row in mpmath, 40 digits."""
    out = np.empty((tau.size, 4))
    with mp.workdps(40):
        for r in range(tau.size):
            mu_minus = [(mp.mpf(poles[origin[r]]) - mp.mpf(lj)) + mp.mpf(tau[r]) for lj in poles]
            terms = [mp.mpf(z2[net[r], j]) / d for j, d in enumerate(mu_minus)]
            k = left[r]
            out[r] = [float(mp.fsum(terms[:k])), float(-mp.fsum(t / d for t, d in zip(terms[:k], mu_minus[:k]))),
                      float(mp.fsum(terms[k:])), float(-mp.fsum(t / d for t, d in zip(terms[k:], mu_minus[k:])))]
    return out


@pytest.mark.parametrize("n", [1, 3, 9, 61])
def test_secular_sums_match_mpmath(n):
    """secular_sums = the exact sums (mpmath) within (n/4 + 6) ε relative, for roots in every
    interval (k = 0 … n) near and far from the poles, in several networks at once."""
    rng = np.random.default_rng(n)
    poles = np.sort(rng.uniform(0.2, 3.0, n))
    nb = 3
    z2 = rng.uniform(0.0, 0.5, (nb, n)) ** 2
    k = np.tile(np.arange(n + 1), 2 * nb)
    net = np.repeat(np.arange(2 * nb) % nb, n + 1)
    origin = np.clip(k - 1, 0, n - 1)
    gap = np.diff(np.concatenate([[poles[0] - 1.0], poles, [poles[-1] + 1.0]]))
    # τ: from a relative 1e-9 of the gap (a root close to its pole) to half of it
    frac = np.where(np.arange(k.size) % 2 == 0, 1e-9, 0.5) * rng.uniform(0.1, 1.0, k.size)
    tau = frac * gap[k]
    tau[k == 0] = -tau[k == 0]  # the first root lies below the first pole
    got = np.column_stack(arrowhead.secular_sums(poles, z2, net, origin, tau, k))
    ref = _reference(poles, z2, net, origin, tau, k)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, ref, rtol=(n / 4 + 6) * EPS, atol=0)
    # empty sums (no pole left of root 0, none right of root n) are exactly 0
    assert np.all(got[k == 0][:, :2] == 0) and np.all(got[k == n][:, 2:] == 0)


def test_secular_roots_on_the_map_size_match_eigh_and_do_not_depend_on_the_batch():
    """Fig. 6's size: 302 poles, 50 networks (15 150 roots × 302 poles, above the threshold
    for two threads). Roots μ_k = λ_o + τ against eigh of [[s, zᵀ], [z, diag(λ)]] within
    1e-13 of its norm, n_k = |U_0k| within 1e-12, and networks 0 and 37 alone (one thread)
    bitwise as in the batch."""
    rng = np.random.default_rng(6)
    n, nb = 302, 50
    assert nb * (n + 1) * n >= arrowhead.PARALLEL_MIN
    poles = np.sort(0.16 + 4.8 * np.sin(np.pi * np.arange(1, n + 1) / (2 * (n + 1))) ** 2)
    z = rng.normal(0.0, 0.05, (nb, n))
    s = rng.uniform(1.0, 1.3, nb)
    origin, tau, norm = arrowhead.secular_solve_many(poles, z, s)
    for b in (0, 37):
        alone = arrowhead.secular_solve(poles, z[b], s[b])
        assert all(np.array_equal(x[b], y) for x, y in zip((origin, tau, norm), alone))
    for b in range(0, nb, 7):
        a = np.diag(np.concatenate([[s[b]], poles]))
        a[0, 1:] = a[1:, 0] = z[b]
        lam, u = np.linalg.eigh(a)
        np.testing.assert_allclose(poles[origin[b]] + tau[b], lam, rtol=0, atol=1e-13 * np.abs(lam).max())
        np.testing.assert_allclose(norm[b], np.abs(u[0]), rtol=0, atol=1e-12)


def test_means_recheck_a_grid_changed_in_place():
    """The closed solver's means remember the last grid they checked (a map evaluates hundreds
    of evolutions on one grid); a grid changed in place afterwards is checked again: a time
    that no longer increases is refused, and a grid made non-uniform is evaluated at its own
    times (= the direct trig sums Σ_k cos/sin(w_k t) at those times)."""
    from harmosync import dynamics as dy
    from harmosync import network as nw
    from harmosync import states as st
    from harmosync.errors import HarmosyncError

    net = nw.couple(nw.chain(30, 0.4, 1.2), nw.probes((1.0, 1.1), 0.5, (1, 9), (0.06, 0.06)))
    evo = dy.solve(net, st.InitialState(st.product(st.coherent(1.0, 0.14), st.coherent(1.1, 1.4))))
    t = 0.05 * np.arange(2001)
    before = evo.means(t, columns=(0, 2))
    assert np.array_equal(evo.means(t, columns=(0, 2)), before)
    t[700] = t[699]
    with pytest.raises(HarmosyncError, match="strictly increasing"):
        evo.means(t, columns=(0, 2))
    t[700] = 35.0 + 0.013  # no longer uniform
    direct = evo.means(t, columns=(0, 2), engine="direct")
    np.testing.assert_allclose(evo.means(t, columns=(0, 2)), direct, rtol=0, atol=1e-13)
    np.testing.assert_allclose(np.delete(direct, 700, 0), np.delete(before, 700, 0), rtol=0, atol=1e-12)


def test_covariance_of_sub_blocks_is_the_same():
    """The compiled low-rank contraction σ_ab(t) = const_ab + Σ_r λ_r z_ar(t) z_br(t) reads the
    trig sums' rows through strided views when ``block`` cuts a NUFFT chunk: the covariance is
    bitwise the same for any block (the direct path's GEMM blocks follow ``block``: not there), symmetric, and the equal-time Robertson–Schrödinger
    condition σ_xx σ_pp − σ_xp² ≥ 1/4 (ħ = 1) holds for each oscillator."""
    from harmosync import dynamics as dy
    from harmosync import network as nw
    from harmosync import states as st

    net = nw.couple(nw.chain(30, 0.4, 1.2), nw.probes((1.0, 1.1), 0.5, (1, 9), (0.06, 0.06)))
    evo = dy.solve(net, st.InitialState(st.product(st.coherent(1.0, 0.14), st.coherent(1.1, 1.4))))
    t = 0.05 * np.arange(3001)
    whole = evo.moments(t, block=4096, engine="nufft").cov
    cut = evo.moments(t, block=777, engine="nufft").cov
    assert np.array_equal(whole, cut)
    assert np.array_equal(whole, np.swapaxes(whole, 1, 2))
    for i in range(2):
        x, p = 2 * i, 2 * i + 1
        assert np.all(whole[:, x, x] * whole[:, p, p] - whole[:, x, p] ** 2 >= 0.25 - 1e-10)


@pytest.mark.parametrize("site, strength", [(1, 0.2), (150, 0.02), (77, 0.5)])
def test_secular_roots_reach_the_sums_roundoff_on_a_chain_spectrum(site, strength):
    """The computed roots μ̃ = λ_o + τ of f(μ) = s − μ + Σ z_j²/(μ − λ_j) for a probe on a fixed
    chain of 300 sites (its spectrum and mode row: the map's poles), f(μ̃) in mpmath (40 digits,
    μ̃ − λ_j = (λ_o − λ_j) + τ exactly) against its terms' size T = |s − λ_o| + |τ| + Σ z²/|μ̃ − λ_j|:
    every root within the stopping rule (|f| ≤ 8ε·log₂(n + 1)·T, the sums' own roundoff
    (n/4 + 6)ε·T on top) and, on these chains, within 16ε·T. Until session 15 a root stopped as
    soon as it was within 8ε·log₂(n + 1)·T: the worst stayed at 26–67ε·T here, where one more
    step reaches a few ε (the eigenvector term's residuals with them)."""
    from harmosync.network import chain_mode_rows, chain_modes

    n = 300
    poles = chain_modes(n, 0.4, 1.0, "fixed", vectors=False)[0] ** 2
    z = strength * chain_mode_rows(n, "fixed", [site])[0]
    keep = np.abs(z) > 0  # (a mode with a node at the site: an eigenpair already, deflated)
    poles, z = poles[keep], z[keep]
    s = 1.1
    origin, tau, _ = arrowhead.secular_solve(poles, z, s)
    rel = np.empty(tau.size)
    with mp.workdps(40):
        for r in range(tau.size):
            diff = [(mp.mpf(poles[origin[r]]) - mp.mpf(lj)) + mp.mpf(tau[r]) for lj in poles]
            terms = [mp.mpf(zj) ** 2 / d for zj, d in zip(z, diff)]
            f = (mp.mpf(s) - mp.mpf(poles[origin[r]])) - mp.mpf(tau[r]) + mp.fsum(terms)
            size = abs(mp.mpf(s) - mp.mpf(poles[origin[r]])) + abs(mp.mpf(tau[r])) + mp.fsum(abs(t) for t in terms)
            rel[r] = float(abs(f) / size)
    assert np.all(rel <= (8 * np.log2(z.size + 1) + z.size / 4 + 6) * EPS)
    assert np.max(rel) <= 16 * EPS, np.quantile(rel, [0.5, 0.9, 0.99, 1.0]) / EPS


def test_a_root_far_below_its_pole_keeps_its_relative_digits():
    """A first merge near the stability limit (review s15: fuzz crit 478's family, 11 poles from
    2.59, s = 0.049): the lowest root μ₀ = 0.0055 is stored as the first pole + τ, τ ≈ −2.58, so
    8ε of f's terms is ~ε|τ|/|μ₀| = 500ε of μ₀. Against mpmath (40 digits) μ̃₀ is within 1e-13
    of itself; the session-15 steps had stopped it right after a large step at 4.3e-13 (before
    them 2.0e-14): such a root stops at 8ε only after a step within √ε|μ|."""
    poles = np.array([2.586003594584918, 2.6025075793673413, 2.650682479020515, 2.7266254496817,
                      2.8241840435181644, 2.935454643460574, 3.051422767253335, 3.162693367195745,
                      3.2602519610322096, 3.3361949316933948, 3.3843698313465675])
    z = np.array([0.10530367219334444, 0.14740607135865527, 0.1428894988049374, 0.13546410811483864,
                  0.12528105882975085, 0.11254764846762925, 0.09752309254332348, 0.08051324768821087,
                  0.06186438529119963, 0.04195614241181472, 0.02119379346444875])
    s = 0.04948292097823918
    origin, tau, _ = arrowhead.secular_solve(poles, z, s)
    with mp.workdps(40):
        lam, z2 = [mp.mpf(x) for x in poles], [mp.mpf(x) ** 2 for x in z]
        mu = mp.findroot(lambda m: mp.mpf(s) - m + mp.fsum(w / (m - x) for w, x in zip(z2, lam)),
                         (mp.mpf("1e-6"), lam[0] - mp.mpf("1e-6")), solver="anderson")
        got = lam[origin[0]] + mp.mpf(tau[0])
        rel = float(abs(got - mu) / abs(mu))
    assert 0 < float(mu) < 0.01 and rel <= 1e-13, rel
