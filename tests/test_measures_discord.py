"""Gaussian quantum discord D(a|b), classical correlation J(a|b), Rényi-2 mutual information and
the pairwise matrices — against a brute-force minimisation, closed forms, thewalrus and QuTiP.

Notation (CONVENTIONS.md, "Gaussian quantum discord"): blocks α, β, γ of 2σ (vacuum = 1),
𝒜 = det α, ℬ = det β, 𝒞 = det γ, 𝒟 = det 2σ, ν± the symplectic eigenvalues of 2σ,
f(x) = ((x+1)/2) ln((x+1)/2) − ((x−1)/2) ln((x−1)/2), and
    D(A|B) = f(√ℬ) − f(ν₋) − f(ν₊) + f(√E_min),   J(A|B) = I − D = f(√𝒜) − f(√E_min),
E_min = min over pure Gaussian measurements Σ on B of det(α − γ(β + Σ)⁻¹γᵀ) (Adesso & Datta,
PRL 105, 030501 (2010); Giorda & Paris, PRL 105, 020503 (2010)).
"""

import numpy as np
import pytest
from scipy.linalg import block_diag, expm
from scipy.optimize import brentq, minimize, minimize_scalar

from harmosync import measures as ms
from harmosync.conventions import symplectic_form, to_block
from harmosync.errors import HarmosyncError


# --- independent reference -------------------------------------------------------------------
def f(x):
    x = np.asarray(x, dtype=float)
    a, b = (x + 1) / 2, (x - 1) / 2
    return a * np.log(a) - np.where(b > 0, b * np.log(np.where(b > 0, b, 1.0)), 0.0)


def symplectic_spectrum(cov):
    """ν of 2σ from the eigenvalues ±iν of Ω·2σ (no code shared with measures)."""
    n = cov.shape[-1] // 2
    return np.sort(np.abs(np.linalg.eigvals(symplectic_form(n) @ (2 * cov)).imag))[::2]


def conditional_det(s2, theta, lam):
    """det(α − γ(β + Σ)⁻¹γᵀ), Σ = R(θ) diag(λ, 1/λ) R(θ)ᵀ: a pure Gaussian measurement on B."""
    al, be, ga = s2[:2, :2], s2[2:, 2:], s2[:2, 2:]
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    sig = rot @ np.diag([lam, 1 / lam]) @ rot.T
    return np.linalg.det(al - ga @ np.linalg.solve(be + sig, ga.T))


def homodyne_det(s2, theta):
    """The λ → 0 limit of conditional_det: α − γ u uᵀ γᵀ / (uᵀβu), u = (cos θ, sin θ)."""
    al, be, ga = s2[:2, :2], s2[2:, 2:], s2[:2, 2:]
    u = np.array([np.cos(theta), np.sin(theta)])
    gu = ga @ u
    return np.linalg.det(al - np.outer(gu, gu) / (u @ be @ u))


def brute_force(cov):
    """(D, J, homodyne optimal?) with E_min from scipy: Nelder–Mead over (θ, ln λ), |ln λ| ≤ 14,
    from a grid of starts, and the homodyne limit over θ."""
    s2 = 2 * np.asarray(cov)
    interior = hom = np.inf
    for th0 in np.linspace(0, np.pi, 6, endpoint=False):
        hom = min(hom, minimize_scalar(lambda t: homodyne_det(s2, t), bracket=(th0, th0 + 0.3)).fun)
        for s0 in (-3.0, 0.0, 3.0):
            r = minimize(lambda p: conditional_det(s2, p[0], np.exp(np.clip(p[1], -14, 14))), [th0, s0],
                         method="Nelder-Mead", options=dict(xatol=1e-10, fatol=1e-15, maxiter=4000))
            interior = min(interior, r.fun)
    e = max(min(interior, hom), 1.0)
    nu = symplectic_spectrum(cov)
    big_a, big_b = np.linalg.det(s2[:2, :2]), np.linalg.det(s2[2:, 2:])
    d = f(np.sqrt(big_b)) - f(nu[0]) - f(nu[1]) + f(np.sqrt(e))
    return d, f(np.sqrt(big_a)) - f(np.sqrt(e)), hom <= interior


def random_symplectic(n, rng, scale=0.3):
    h = rng.normal(size=(2 * n, 2 * n))
    return expm(symplectic_form(n) @ (h + h.T) * scale)


def random_state(rng, mixedness, n=2):
    """S diag(ν) Sᵀ with ν − ½ exponential of mean ``mixedness``: a physical state."""
    s = random_symplectic(n, rng)
    return s @ np.diag(np.repeat(0.5 + rng.exponential(mixedness, n), 2)) @ s.T


def local_symplectic(rng):
    return block_diag(random_symplectic(1, rng, 0.5), random_symplectic(1, rng, 0.5))


def two_mode_squeezer(r):
    ch, sh = np.cosh(r), np.sinh(r)
    return np.array([[ch, 0, sh, 0], [0, ch, 0, -sh], [sh, 0, ch, 0], [0, -sh, 0, ch]])


def standard_form(a, b, c1, c2):
    """σ with 2σ = [[a·1, diag(c1, c2)], [diag(c1, c2), b·1]]."""
    return 0.5 * np.array([[a, 0, c1, 0], [0, a, 0, c2], [c1, 0, b, 0], [0, c2, 0, b]])


# --- brute force -----------------------------------------------------------------------------
def test_discord_matches_brute_force_minimisation():
    """D and J on seeded random two-mode states (mixedness from nearly pure to hot) equal the
    brute-force minimum over all pure Gaussian measurements, homodyne included, to 1e-7; the
    sample holds states of both branches (homodyne-optimal and finitely squeezed optimum)."""
    rng = np.random.default_rng(11)
    covs = np.array([random_state(rng, m) for m in (1e-8, 1e-4, 0.05, 0.5, 3.0) * 2])
    d, j = ms.discord(covs, 0, 1), ms.classical_correlation(covs, 0, 1)
    branches = set()
    for k, cov in enumerate(covs):
        d_ref, j_ref, homodyne = brute_force(cov)
        branches.add(homodyne)
        assert abs(d[k] - d_ref) < 1e-7 and abs(j[k] - j_ref) < 1e-7, k
    assert branches == {True, False}
    # and D(b|a), measuring the other mode: swap the modes
    swap = np.array([2, 3, 0, 1])
    for cov in covs[:3]:
        assert abs(ms.discord(cov, 1, 0) - brute_force(cov[np.ix_(swap, swap)])[0]) < 1e-7


def test_branch_boundary():
    """Across the boundary of Adesso & Datta's two branches,
    (𝒟 − 𝒜ℬ)² = (1 + ℬ)𝒞²(𝒜 + 𝒟), located by bisection on a family 2σ = [[3·1, diag(1.5, 1.5c)],
    [diag(1.5, 1.5c), 2·1]] under a local symplectic map: on it and on both sides (1e-3, 1e-9 away),
    D equals the brute force to 1e-7 and is continuous."""
    loc = local_symplectic(np.random.default_rng(4))

    def state(c):
        return loc @ standard_form(3.0, 2.0, 1.5, 1.5 * c) @ loc.T

    def condition(c):
        s2 = 2 * state(c)
        a, b = np.linalg.det(s2[:2, :2]), np.linalg.det(s2[2:, 2:])
        cc, dd = np.linalg.det(s2[:2, 2:]), np.linalg.det(s2)
        return (dd - a * b) ** 2 - (1 + b) * cc**2 * (a + dd)

    c0 = brentq(condition, -0.9, -0.3, xtol=1e-15)
    cs = c0 + np.array([-1e-3, -1e-9, 0.0, 1e-9, 1e-3])
    d = ms.discord(np.array([state(c) for c in cs]))
    for c, dk in zip(cs[[0, 2, 4]], d[[0, 2, 4]]):
        assert abs(dk - brute_force(state(c))[0]) < 1e-7
    assert abs(d[1] - d[2]) < 1e-8 and abs(d[3] - d[2]) < 1e-8


# --- limits ----------------------------------------------------------------------------------
def test_product_states_have_no_discord():
    """σ_A ⊕ σ_B: D = J = 0, including a pure B (ℬ = 1 exactly), a pure A, equal ν (degenerate)."""
    sq = np.diag([0.5 * np.exp(-1.2), 0.5 * np.exp(1.2)])
    th = np.diag([1.7, 1.7])
    rot = random_symplectic(1, np.random.default_rng(1))
    for a, b in [(th, sq), (sq, th), (th, 0.5 * np.eye(2)), (rot @ th @ rot.T, th), (sq, rot @ sq @ rot.T)]:
        cov = block_diag(a, b)
        for x, y in ((0, 1), (1, 0)):
            assert abs(ms.discord(cov, x, y)) < 1e-12 and abs(ms.classical_correlation(cov, x, y)) < 1e-12


@pytest.mark.parametrize("r", [1e-6, 1e-3, 0.1, 0.5, 1.0, 2.0, 3.0])
def test_pure_states_discord_equals_entanglement_entropy(r):
    """For a pure two-mode state D(A|B) = D(B|A) = J = S(A), the entanglement entropy (here from
    thewalrus where it resolves it), also for nearly product (r = 1e-6) and strongly entangled
    states."""
    from thewalrus.quantum import entanglement_entropy

    rng = np.random.default_rng(int(r * 1e6) % 1000)
    s = local_symplectic(rng) @ two_mode_squeezer(r) @ local_symplectic(rng)
    cov = 0.5 * s @ s.T
    s_a = f(np.sqrt(np.linalg.det(2 * cov[:2, :2])))  # S(A) = f(√𝒜)
    if r >= 0.1:  # thewalrus rounds ν within 1e-8 or so of ½ to ½
        assert entanglement_entropy(to_block(cov), modes_A=[0], hbar=1) == pytest.approx(s_a, rel=1e-9)
    tol = 1e-9 * max(1.0, s_a)
    assert abs(ms.discord(cov, 0, 1) - s_a) < tol and abs(ms.discord(cov, 1, 0) - s_a) < tol
    assert abs(ms.classical_correlation(cov, 0, 1) - s_a) < tol


def test_two_mode_squeezed_vacuum_against_qutip():
    """D(TMSV, r) = S(ρ_A) with ρ_A the partial trace of S₂(r)|00⟩ in a truncated Fock space
    (QuTiP): the pieces computed outside harmosync and thewalrus."""
    import qutip

    n, r = 25, 0.4  # Fock tail ∝ tanh(r)^(2n) ≈ 1e-21
    a, b = qutip.tensor(qutip.destroy(n), qutip.qeye(n)), qutip.tensor(qutip.qeye(n), qutip.destroy(n))
    psi = (r * (a * b - a.dag() * b.dag())).expm() * qutip.tensor(qutip.basis(n, 0), qutip.basis(n, 0))
    s_a = qutip.entropy_vn(psi.ptrace(0))
    ch, sh = np.cosh(2 * r), np.sinh(2 * r)
    cov = 0.5 * np.array([[ch, 0, sh, 0], [0, ch, 0, -sh], [sh, 0, ch, 0], [0, -sh, 0, ch]])
    assert abs(ms.discord(cov) - s_a) < 1e-9


@pytest.mark.parametrize("nu_a,nu_b,r", [(1.0, 1.0, 0.3), (2.0, 1.0, 0.7), (1.0, 4.0, 0.5), (3.0, 3.0, 1.5),
                                         (1.0 + 1e-9, 1.0, 0.2)])
def test_two_mode_squeezed_thermal_closed_form(nu_a, nu_b, r):
    """Squeezed thermal state S₂(r)(ν_A·1 ⊕ ν_B·1)S₂(r)ᵀ (2σ units), a = ν_A ch² + ν_B sh²,
    b = ν_A sh² + ν_B ch², c = (ν_A + ν_B) ch sh: the optimal measurement is heterodyne and
    D(A|B) = f(b) − f(ν_A) − f(ν_B) + f(a − c²/(1 + b)) (Adesso & Datta 2010; Giorda & Paris 2010),
    J(A|B) = f(a) − f(a − c²/(1 + b)). ν_A = ν_B is a degenerate symplectic spectrum."""
    s = two_mode_squeezer(r)
    cov = 0.5 * s @ np.diag([nu_a, nu_a, nu_b, nu_b]) @ s.T
    ch2, sh2 = np.cosh(r) ** 2, np.sinh(r) ** 2
    a, b, c = nu_a * ch2 + nu_b * sh2, nu_a * sh2 + nu_b * ch2, (nu_a + nu_b) * np.cosh(r) * np.sinh(r)
    cond = a - c**2 / (1 + b)
    assert abs(ms.discord(cov) - (f(b) - f(nu_a) - f(nu_b) + f(cond))) < 1e-10
    assert abs(ms.classical_correlation(cov) - (f(a) - f(cond))) < 1e-10


def test_invariant_under_local_symplectic_maps_and_frequency_scaling():
    """D(S_A ⊕ S_B σ (S_A ⊕ S_B)ᵀ) = D(σ) for random local symplectic maps, including the
    frequency scaling diag(ω^-½, ω^½) of x and p."""
    rng = np.random.default_rng(5)
    for m in (1e-3, 0.3, 2.0):
        cov = random_state(rng, m)
        ref = (ms.discord(cov, 0, 1), ms.discord(cov, 1, 0), ms.classical_correlation(cov))
        for loc in [local_symplectic(rng) for _ in range(3)] + [np.diag([0.5, 2.0, 1.7 ** -0.5, 1.7 ** 0.5])]:
            moved = loc @ cov @ loc.T
            new = (ms.discord(moved, 0, 1), ms.discord(moved, 1, 0), ms.classical_correlation(moved))
            np.testing.assert_allclose(new, ref, rtol=1e-9, atol=1e-12)


def test_bounds_and_definition_of_classical_correlation():
    """On 200 random states (from nearly pure to hot, as one stack): D ≥ 0, J ≥ 0 (so D ≤ I),
    and J = I − D with I from mutual_information, to roundoff."""
    rng = np.random.default_rng(8)
    covs = np.array([random_state(rng, m) for m in np.geomspace(1e-10, 10, 200)])
    d, j = ms.discord(covs), ms.classical_correlation(covs)
    mi = ms.mutual_information(covs)
    assert np.all(d >= 0) and np.all(j >= 0) and np.all(np.isfinite(d))
    np.testing.assert_allclose(j, mi - d, atol=1e-12)


@pytest.mark.parametrize("eps", [1e-2, 1e-4, 1e-6, 1e-7, 1e-8])
def test_nearly_pure_measured_mode(eps):
    """ℬ → 1: thermal A (ν = 5) mixed with vacuum B by a beam splitter of angle ε (ℬ − 1 ≈ 8ε²,
    down to 1e-15), under local maps: D equals the brute force to 1e-9 and vanishes with ℬ − 1,
    D ≤ 10(ℬ − 1)(1 + |ln(ℬ − 1)|); the closed form's division by (ℬ − 1)² lost 2e-5 here."""
    rng = np.random.default_rng(3)
    c, s = np.cos(eps), np.sin(eps)
    bs = np.array([[c, 0, s, 0], [0, c, 0, s], [-s, 0, c, 0], [0, -s, 0, c]])
    m = local_symplectic(rng) @ bs
    cov = m @ np.diag([2.5, 2.5, 0.5, 0.5]) @ m.T
    d = ms.discord(cov)
    assert abs(d - brute_force(cov)[0]) < 1e-9
    bm1 = 8 * eps**2
    assert 0 <= d <= 10 * bm1 * (1 + abs(np.log(bm1)))


# --- input handling --------------------------------------------------------------------------
def test_reduced_pair_of_a_larger_state_and_shapes():
    """Modes a, b of an n-mode covariance: D of the two-mode reduced state; a stack (T, 2n, 2n)
    gives (T,), a single covariance a scalar array."""
    rng = np.random.default_rng(6)
    covs = np.array([random_state(rng, 0.4, n=3) for _ in range(4)])
    d = ms.discord(covs, 2, 0)
    assert d.shape == (4,)
    for k in range(4):
        sub = ms.reduced(covs[k], [2, 0])
        assert d[k] == pytest.approx(float(ms.discord(sub, 0, 1)), abs=1e-14)
    assert ms.discord(covs[0], 1, 2).shape == ()
    with pytest.raises(HarmosyncError, match="disjoint"):
        ms.discord(covs[0], 1, 1)
    with pytest.raises(HarmosyncError, match="disjoint"):
        ms.discord(covs[0], 0, 3)


def test_unphysical_states_give_nan_never_a_clamped_value():
    """σ + iΩ/2 ≱ 0 beyond roundoff (ν₋ = 0.45, or σ not even positive definite) gives NaN for
    D and J; the physical states of the same stack are unaffected; a pure state whose ν₋ falls
    below ½ by roundoff is still physical."""
    rng = np.random.default_rng(9)
    good = random_state(rng, 0.5)
    s = random_symplectic(2, rng)
    covs = np.array([good, 0.45 / 0.5 * 0.5 * s @ s.T, -good, 0.5 * s @ s.T, good])
    d, j = ms.discord(covs), ms.classical_correlation(covs)
    assert np.isnan(d[1]) and np.isnan(d[2]) and np.isnan(j[1]) and np.isnan(j[2])
    assert np.all(np.isfinite(d[[0, 3, 4]])) and d[0] == d[4] == ms.discord(good)


# --- Rényi-2 ---------------------------------------------------------------------------------
@pytest.mark.parametrize("r", [0.0, 0.3, 1.0, 2.5])
def test_renyi2_two_mode_squeezed_vacuum(r):
    """TMSV: S₂(A) = ½ ln det(cosh 2r·1) = ln cosh 2r, S₂(AB) = 0, so I₂ = 2 ln cosh 2r."""
    ch, sh = np.cosh(2 * r), np.sinh(2 * r)
    cov = 0.5 * np.array([[ch, 0, sh, 0], [0, ch, 0, -sh], [sh, 0, ch, 0], [0, -sh, 0, ch]])
    assert ms.renyi2_mutual_information(cov) == pytest.approx(2 * np.log(ch), rel=1e-12, abs=1e-14)


def test_renyi2_closed_forms():
    """Product of thermal/squeezed states: I₂ = 0. Squeezed thermal state: I₂ = ln(ab/(ν_A ν_B))
    (2σ units). S₂ = −ln Tr ρ² (the purity, Π 1/(2ν)). A pure three-mode state: I₂(A:BC) = 2 S₂(A)."""
    cov = block_diag(np.diag([0.5 * np.exp(-1.0), 0.5 * np.exp(1.0)]), np.diag([2.0, 2.0]))
    assert abs(ms.renyi2_mutual_information(cov)) < 1e-14
    nu_a, nu_b, r = 2.0, 3.0, 0.6
    s = two_mode_squeezer(r)
    cov = 0.5 * s @ np.diag([nu_a, nu_a, nu_b, nu_b]) @ s.T
    a = nu_a * np.cosh(r) ** 2 + nu_b * np.sinh(r) ** 2
    b = nu_a * np.sinh(r) ** 2 + nu_b * np.cosh(r) ** 2
    assert ms.renyi2_mutual_information(cov) == pytest.approx(np.log(a * b / (nu_a * nu_b)), rel=1e-12)
    assert ms.renyi2_entropy(cov) == pytest.approx(-np.log(ms.purity(cov)), rel=1e-12)
    rng = np.random.default_rng(2)
    pure = np.array([0.5 * m @ m.T for m in [random_symplectic(3, rng) for _ in range(3)]])
    i2 = ms.renyi2_mutual_information(pure, [0], [1, 2])
    np.testing.assert_allclose(i2, 2 * ms.renyi2_entropy(ms.reduced(pure, [0])), rtol=1e-9)


# --- many probes -----------------------------------------------------------------------------
@pytest.mark.parametrize("delay", [0.0, 0.3])
def test_sync_matrix_entries_are_the_pairwise_factors(delay):
    """sync_matrix[t, i, j] = sync_factor(x_i, x_j; τ)[t] for every ordered pair."""
    step = 0.05
    t = np.arange(0, 30, step)
    x = np.stack([np.sin(1.1 * t), np.sin(1.1 * t + 0.4) * np.exp(-t / 20), np.cos(0.7 * t)], axis=1)
    c = ms.sync_matrix(x, step, 5.0, delay=delay)
    assert c.shape == (t.size, 3, 3)
    for i in range(3):
        for j in range(3):
            np.testing.assert_array_equal(c[:, i, j], ms.sync_factor(x[:, i], x[:, j], step, 5.0, delay=delay))


def test_mutual_information_matrix_entries_are_the_pairwise_values():
    """mutual_information_matrix[..., i, j] = I(i:j), symmetric, diagonal NaN."""
    rng = np.random.default_rng(12)
    covs = np.array([random_state(rng, 0.3, n=3) for _ in range(5)])
    mi = ms.mutual_information_matrix(covs)
    assert mi.shape == (5, 3, 3) and np.all(np.isnan(mi[:, [0, 1, 2], [0, 1, 2]]))
    for i in range(3):
        for j in range(3):
            if i != j:  # I(i:j) and I(j:i) differ by roundoff
                np.testing.assert_allclose(mi[:, i, j], ms.mutual_information(covs, [i], [j]), rtol=1e-12)
    sub = ms.mutual_information_matrix(covs, [2, 0])
    np.testing.assert_array_equal(sub[:, 0, 1], ms.mutual_information(covs, [2], [0]))
