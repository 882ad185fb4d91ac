"""Pieces of lowrank.low_rank_delta's error bound computed more cheaply (solvers/lowrank.py),
each against an independent computation:

* ``symmetric_norms``: ‖H‖₂ = max |λ(H)| of the symmetric P × P resolvent blocks H_ζ (closed form
  for P = 2) against numpy's SVD norm and against the eigenvalues in long double: never below
  the exact norm, at most ~1e-14 above it;
* the pole rule's relative error ε_r at the eigenvalues of V, V_S and V_E, with V_E's part
  remembered across networks: exactly the maximum over all points at once (stieltjes'
  rule_relative_error on the concatenation).
"""

import numpy as np
import pytest

from harmosync import network as nw
from harmosync.solvers import lowrank as lr
from harmosync.solvers.stieltjes import kernel_basis, rule_relative_error, snap_interval

LD = np.longdouble


def exact_norms_2x2(h):
    """max |λ| of symmetric 2 × 2 matrices in long double (64-bit mantissa)."""
    a, b, d = h[:, 0, 0].astype(LD), h[:, 0, 1].astype(LD), h[:, 1, 1].astype(LD)
    mid, rad = (a + d) / 2, np.sqrt(((a - d) / 2) ** 2 + b * b)
    return np.maximum(np.abs(mid + rad), np.abs(mid - rad))


@pytest.mark.parametrize("p", [1, 2, 3])
def test_symmetric_norms_bound_the_spectral_norm(p):
    rng = np.random.default_rng(p)
    x = rng.normal(size=(500, p, p)) * np.exp(rng.uniform(-20, 20, (500, 1, 1)))
    h = x + np.swapaxes(x, 1, 2)  # symmetric, definite and indefinite
    h[:100] = x[:100] @ np.swapaxes(x[:100], 1, 2)  # positive semidefinite, as H_ζ is for ζ > 0
    if p == 2:
        h[100:110] = np.diag([1.0, 1e-30])  # nearly singular
        h[110:120] = [[1.0, 1e-9], [1e-9, 1.0 + 1e-17]]  # nearly degenerate
    got = lr.symmetric_norms(h)
    svd = np.linalg.norm(h, 2, axis=(1, 2))
    assert np.all(got <= svd * (1 + 1e-14))
    if p == 2:
        exact = exact_norms_2x2(h)
        assert np.all(got.astype(LD) >= exact)
        assert np.all(got.astype(LD) <= exact * (1 + LD(1e-14)))
    else:
        assert np.all(got >= svd * (1 - 1e-15))


def test_rule_error_with_the_environment_remembered_is_the_maximum_over_all_points():
    """ε_r over μ ∪ eig(V_S) ∪ env_d: the environment's part computed once and remembered, the
    maximum of the parts exactly what one call over all points gives (Fig. 6-like chains, T = 0
    and T > 0, the remembered value reused)."""
    env_d = nw.chain_modes(300, 0.4, 1.2, vectors=False)[0] ** 2
    rng = np.random.default_rng(2)
    for temp in (0.0, 0.3):
        for _ in range(3):
            mu = np.sort(np.concatenate([env_d * rng.uniform(0.999, 1.001, env_d.size), [0.9, 1.3]]))
            vs_eig = np.array([1.0, 1.21]) + rng.uniform(0, 0.05, 2)
            lo, hi = min(mu.min(), env_d.min(), vs_eig.min()), max(mu.max(), env_d.max(), vs_eig.max())
            rule = kernel_basis(*snap_interval(lo, hi), temp)[0]
            whole = rule_relative_error(rule, np.concatenate([mu, env_d, vs_eig]), temp)
            for _ in range(2):  # computed, then remembered
                parts = max(rule_relative_error(rule, np.concatenate([mu, vs_eig]), temp),
                            lr._environment_rule_error(rule, env_d, temp))
                assert parts == whole


def test_pole_products_are_remembered_per_basis_and_equal_fresh_ones():
    """The cores' factors cc·w and coef·w (w = ω for B_x, −ω·ζ for B_p) depend only on the
    pole rule and skeleton basis: remembered per basis (the same arrays for a map's networks),
    equal to the products formed afresh, and formed anew for another basis."""
    rule, skel, coef = kernel_basis(*snap_interval(0.16, 2.5), 0.0)
    got = lr._pole_products(coef, rule.weights, rule.poles)
    assert lr._pole_products(coef, rule.weights, rule.poles) is got
    cc = np.einsum("sq,tq->stq", coef, coef).reshape(coef.shape[0] ** 2, -1)
    for name, w in (("x", rule.weights), ("p", -rule.weights * rule.poles)):
        weights, ccw, coefw = got[name]
        assert np.array_equal(weights, w) and np.array_equal(ccw, cc * w) and np.array_equal(coefw, coef * w)
    rule2, _, coef2 = kernel_basis(*snap_interval(0.2, 2.5), 0.0)
    other = lr._pole_products(coef2, rule2.weights, rule2.poles)
    assert other is not got and np.array_equal(other["x"][2], coef2 * rule2.weights)


def test_block2_is_np_block():
    """lowrank.block2(a, b, c, d) is np.block([[a, b], [c, d]]) (shapes, dtype, values)."""
    rng = np.random.default_rng(4)
    a, b, c, d = rng.normal(size=(3, 2)), rng.normal(size=(3, 5)), rng.normal(size=(4, 2)), rng.normal(size=(4, 5))
    for blocks in ((a, b, c, d), (a, b.astype(np.float32), c, d), (np.zeros((0, 2)), np.zeros((0, 5)), c, d)):
        got, want = lr.block2(*blocks), np.block([[blocks[0], blocks[1]], [blocks[2], blocks[3]]])
        assert got.dtype == want.dtype and np.array_equal(got, want)


def _skeleton_reference(mu, a, psi, kern, weights, rho, exact):
    """Σ_j Σ_q w_jq·b_q(ρ_j) of lowrank.skeleton_error term by term in long double: d_k =
    1/(μ_k + ζ_q), e_k = |d_k − (c_0q + Σ_s c_sq/(μ_k + ζ_s))| (0 on ``exact``), ae = |A|(ρ∘e),
    ad = |A|(ρ∘d), pe, pd the same with |Ψ|; b_q = aeᵀ|H_q|(2ad + ae) + Σ_i (ae pd + pe ad +
    ae pe)_i + peᵀ|R_q|(|A|ρ)."""
    zeta, skel, coef, h, rz = (np.asarray(x) for x in kern)
    mu_l, aa, pp = mu.astype(LD), np.abs(a).astype(LD), np.abs(psi).astype(LD)
    total, eta = LD(0), np.zeros(zeta.size)
    for q in range(zeta.size):
        d = 1 / (mu_l + LD(zeta[q]))
        approx = LD(coef[0, q]) + sum(LD(coef[1 + s, q]) / (mu_l + LD(zeta[skel[s]])) for s in range(skel.size))
        e = np.abs(d - approx)
        e[list(exact)] = 0
        eta[q] = float(e.max())
        for wt, rh in zip(weights, rho):
            r = rh.astype(LD)
            ae, ad, pe, pd = aa @ (r * e), aa @ (r * d), pp @ (r * e), pp @ (r * d)
            b = (ae @ np.abs(h[q]).astype(LD) @ (2 * ad + ae) + np.sum(ae * pd + pe * ad + ae * pe)
                 + pe @ np.abs(rz[q]).astype(LD) @ (aa @ r))
            total += LD(wt[q]) * b
    return float(total), eta


@pytest.mark.parametrize("exact", [(), (0, 3)])
def test_skeleton_error_is_its_formula(exact):
    """skeleton_error (its ρ folded into the |A|, |Ψ| rows, one product per block, and with the
    resolvent table ``inv`` shared) against its formula summed term by term in long double:
    within 1e-13 relative; the shared table gives the same numbers bitwise, as it does for
    bracket_roundoff."""
    rng = np.random.default_rng(7)
    n, p, nq, ns = 300, 2, 200, 6
    mu = np.sort(rng.uniform(0.05, 3.0, n))
    a, psi = rng.normal(size=(p, n)), rng.normal(size=(p, n))
    zeta = np.sort(rng.uniform(0.01, 50.0, nq))
    skel = np.sort(rng.choice(nq, ns, replace=False))
    coef = rng.normal(size=(ns + 1, nq)) * 0.1
    h, rz = rng.normal(size=(nq, p, p)), rng.normal(size=(nq, p, p))
    kern = (zeta, skel, coef, h, rz)
    weights = (rng.uniform(0, 1, nq), rng.uniform(0, 1, nq))
    rho = (rng.uniform(0, 2, n), rng.uniform(0, 2, n))
    total, eta = lr.skeleton_error(mu, a, psi, kern, weights, rho, exact=exact)
    want, want_eta = _skeleton_reference(mu, a, psi, kern, weights, rho, exact)
    assert abs(total - want) <= 1e-13 * want
    np.testing.assert_allclose(eta, want_eta, rtol=1e-12)
    inv = 1.0 / (mu[:, None] + zeta)
    shared = lr.skeleton_error(mu, a, psi, kern, weights, rho, exact=exact, inv=inv)
    assert shared[0] == total and np.array_equal(shared[1], eta)
    dpsi, dh = np.abs(rng.normal(size=(p, n))) * 1e-16, np.abs(rng.normal(size=(nq, p, p))) * 1e-16
    assert (lr.bracket_roundoff(mu, a, kern, weights, rho, dpsi, dh, inv=inv)
            == lr.bracket_roundoff(mu, a, kern, weights, rho, dpsi, dh))


def test_environment_resolvents_share_their_table_and_match_long_double():
    """H_ζ = Σ_j c_j c_jᵀ/(d_j + ζ) (lowrank.environment_resolvents) with the table 1/(d_j + ζ)
    remembered across calls (a map's networks share V_E and the poles): bitwise the first call's
    numbers for another coupling, within 1e-15 relative of the sum in long double; a V_E with
    other eigenvalues (same shape, or mutated in place) gets its own table, not a stale one."""
    rng = np.random.default_rng(11)
    d = np.sort(rng.uniform(0.1, 5.0, 300))
    zeta = np.sort(rng.uniform(0.01, 40.0, 301))
    lr._ENV_TABLES.clear()
    for c in (rng.normal(size=(2, 300)), rng.normal(size=(2, 300))):
        first = lr.environment_resolvents(d, c, zeta)
        assert lr.environment_resolvents(d, c, zeta).tobytes() == first.tobytes()
        ref = np.einsum("im,jm,qm->qij", c.astype(LD), c.astype(LD), 1 / (d.astype(LD)[None, :] + zeta.astype(LD)[:, None]))
        scale = np.einsum("im,jm,qm->qij", np.abs(c), np.abs(c), 1 / (d[None, :] + zeta[:, None]))
        assert np.all(np.abs(first - ref).astype(float) <= 1e-15 * 300 * scale)
    other = d.copy()
    other[5] *= 1.5
    c = rng.normal(size=(2, 300))
    fresh = np.einsum("im,jm,qm->qij", c.astype(LD), c.astype(LD), 1 / (other.astype(LD)[None, :] + zeta.astype(LD)[:, None]))
    got = lr.environment_resolvents(other, c, zeta)
    assert np.abs(got - fresh).max() < 1e-12
    d[5] *= 1.5  # the first V_E mutated in place: compared by value, so not served from before
    assert np.array_equal(lr.environment_resolvents(d, c, zeta), got)
