"""Cross-validation of harmosync.measures against thewalrus on seeded random Gaussian states.

Random physical states: σ = S diag(ν, ν) Sᵀ (block ordering x..., p...) with thermal symplectic
eigenvalues ν_k ≥ ½ (some exactly ½: pure modes) and a random symplectic S = O₁ Z O₂ (O from
Haar-random unitaries, Z = diag(e^{−r}, e^{r}) single-mode squeezers), ħ = 1.

Conventions: harmosync uses ħ = 1 (vacuum σ = ½·1) and the interleaved ordering; thewalrus uses
the block ordering and takes ħ as an argument, default ħ = 2 (vacuum σ = 1). Each comparison is
made both with ``hbar=1`` on σ and with thewalrus's default ħ = 2 on 2σ, and the orderings are
converted with thewalrus's own ``xxpp_to_xpxp``.

Checked: symplectic eigenvalues (the construction's ν, thewalrus ``symplectic_eigenvals`` and
``williamson``), von Neumann entropy (``vonneumann_entropy``), log negativity for every
bipartition of 2–4 modes and for bipartitions of a subset of the modes (``log_negativity`` on
``reduced_state``), mutual information, and purity and entropy from the Fock-space density
matrix (``density_matrix``) of 1- and 2-mode states — a route that uses no symplectic algebra.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import unitary_group
from thewalrus.decompositions import symplectic_eigenvals, williamson
from thewalrus.quantum import density_matrix, is_valid_cov, log_negativity, vonneumann_entropy
from thewalrus.symplectic import reduced_state, sympmat, xxpp_to_xpxp

from harmosync import measures as ms
from harmosync.conventions import symplectic_form, to_block, to_interleaved

MODES = [1, 2, 3, 4]
SEEDS = range(4)


def orthogonal_symplectic(n: int, rng) -> np.ndarray:
    """[[Re U, −Im U], [Im U, Re U]] for a Haar-random n × n unitary U (block ordering)."""
    if n == 1:
        u = np.exp(2j * np.pi * rng.uniform()) * np.ones((1, 1))
    else:
        u = unitary_group.rvs(n, random_state=rng)
    return np.block([[u.real, -u.imag], [u.imag, u.real]])


def random_state(n: int, seed: int, *, pure: int = 0, nu_max: float = 2.0, r_max: float = 0.8):
    """(σ block ordering, ħ = 1; ν ascending). ``pure`` modes have ν = ½ exactly."""
    rng = np.random.default_rng(seed)
    nu = np.sort(np.concatenate([np.full(pure, 0.5), rng.uniform(0.6, nu_max, n - pure)]))
    r = rng.uniform(0.0, r_max, n)
    z = np.diag(np.concatenate([np.exp(-r), np.exp(r)]))
    s = orthogonal_symplectic(n, rng) @ z @ orthogonal_symplectic(n, rng)
    cov = s @ np.diag(np.concatenate([nu, nu])) @ s.T
    cov = 0.5 * (cov + cov.T)
    assert is_valid_cov(cov, hbar=1)
    return cov, nu


def cases(modes=MODES, seeds=SEEDS):
    # vary the number of pure modes: 0 (mixed) .. n (pure)
    return [(n, seed, seed % (n + 1)) for n in modes for seed in seeds]


def test_orderings_and_symplectic_form_match_thewalrus():
    """harmosync's to_block / to_interleaved are thewalrus's xxpp ↔ xpxp permutations, and its
    block-ordered Ω is thewalrus's ``sympmat``."""
    for n in MODES:
        cov, _ = random_state(n, 7)
        inter = xxpp_to_xpxp(cov)
        np.testing.assert_array_equal(to_interleaved(cov), inter)
        np.testing.assert_array_equal(to_block(inter), cov)
        vec = np.arange(2.0 * n)
        np.testing.assert_array_equal(to_interleaved(vec), xxpp_to_xpxp(vec))
        np.testing.assert_array_equal(symplectic_form(n, ordering="block"), sympmat(n))
        np.testing.assert_array_equal(to_interleaved(sympmat(n)), symplectic_form(n))


@pytest.mark.parametrize("n, seed, pure", cases())
def test_symplectic_eigenvalues(n, seed, pure):
    """ν_k of σ = S diag(ν, ν) Sᵀ: harmosync = the construction = thewalrus (eigenvalues of Ωσ,
    and the Williamson normal form σ = S D Sᵀ)."""
    cov, nu = random_state(n, seed, pure=pure)
    got = ms.symplectic_eigenvalues(xxpp_to_xpxp(cov))
    np.testing.assert_allclose(got, nu, rtol=1e-10)
    np.testing.assert_allclose(got, np.sort(np.abs(symplectic_eigenvals(cov))), rtol=1e-10)
    np.testing.assert_allclose(got, np.sort(np.diag(williamson(cov)[0])[:n]), rtol=1e-10)
    # ħ = 2: thewalrus's eigenvalues of 2σ are 2ν (vacuum 1)
    np.testing.assert_allclose(2 * got, np.sort(np.abs(symplectic_eigenvals(2 * cov))), rtol=1e-10)


@pytest.mark.parametrize("n, seed, pure", cases())
def test_von_neumann_entropy(n, seed, pure):
    """S = Σ (ν+½)ln(ν+½) − (ν−½)ln(ν−½) [nats] = thewalrus ``vonneumann_entropy`` (ħ = 1 on σ,
    ħ = 2 on 2σ); zero for pure states."""
    cov, _ = random_state(n, seed, pure=pure)
    got = ms.von_neumann_entropy(xxpp_to_xpxp(cov))
    assert abs(got - vonneumann_entropy(cov, hbar=1)) < 1e-10
    assert abs(got - vonneumann_entropy(2 * cov)) < 1e-10
    if pure == n:
        assert abs(got) < 1e-10


def bipartitions(n: int):
    """Every split of modes 0..n−1 into A and its complement B (A containing mode 0)."""
    for k in range(1, n):
        for a in itertools.combinations(range(n), k):
            if 0 in a:
                yield list(a), [m for m in range(n) if m not in a]


@pytest.mark.parametrize("n", [2, 3, 4])
def test_log_negativity_every_bipartition(n):
    """E_N = Σ max(0, −ln 2ν̃_k) (partial transpose p → −p on one side) = thewalrus
    ``log_negativity`` (which transposes A; E_N is symmetric), for every A | B split, on pure
    and mixed random states."""
    values = []
    for seed in SEEDS:
        cov, _ = random_state(n, 10 * n + seed, pure=seed % (n + 1), r_max=1.0)
        inter = xxpp_to_xpxp(cov)
        for a, b in bipartitions(n):
            got = ms.log_negativity(inter, a, b)
            assert abs(got - log_negativity(cov, modes_A=a, hbar=1)) < 1e-10
            assert abs(got - log_negativity(2 * cov, modes_A=a)) < 1e-10
            assert abs(got - ms.log_negativity(inter, b, a)) < 1e-10
            values.append(got)
    # not vacuous: most random squeezed states are entangled across some split
    assert np.count_nonzero(np.array(values) > 0.05) >= len(values) // 3


@pytest.mark.parametrize("a, b", [([0], [2]), ([1], [3]), ([0, 3], [1]), ([2], [0, 1])])
def test_log_negativity_of_a_subsystem(a, b):
    """With A ∪ B a proper subset of the modes, E_N is that of the reduced state of A ∪ B
    (thewalrus ``reduced_state`` then ``log_negativity``)."""
    for seed in SEEDS:
        cov, _ = random_state(4, 50 + seed, pure=seed % 2, r_max=1.2)
        _, sub = reduced_state(np.zeros(8), cov, a + b)
        ref = log_negativity(sub, modes_A=list(range(len(a))), hbar=1)
        assert abs(ms.log_negativity(xxpp_to_xpxp(cov), a, b) - ref) < 1e-10


@pytest.mark.parametrize("a, b", [([0], [1]), ([0], [1, 2]), ([1, 3], [0]), ([0, 2], [1, 3])])
def test_mutual_information(a, b):
    """I(A:B) = S_A + S_B − S_AB [nats] with thewalrus entropies of ``reduced_state``s; I ≥ 0,
    and I = 2 S_A for a pure state of A ∪ B."""
    modes = max(a + b) + 1
    for seed in SEEDS:
        pure = modes if seed == 0 else seed % modes
        cov, _ = random_state(modes, 70 + seed, pure=pure)

        def s(part, cov=cov):
            sub = reduced_state(np.zeros(2 * modes), cov, sorted(part))[1]
            return vonneumann_entropy(sub, hbar=1)

        got = ms.mutual_information(xxpp_to_xpxp(cov), a, b)
        assert abs(got - (s(a) + s(b) - s(a + b))) < 1e-10
        assert got > -1e-12
        if pure == modes and len(a + b) == modes:
            assert abs(got - 2 * s(a)) < 1e-9


@pytest.mark.parametrize("n, seed", [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)])
def test_purity_and_entropy_from_fock_space(n, seed):
    """Tr ρ² = Π 1/(2ν_k) and S = −Tr ρ ln ρ from thewalrus's Fock-space density matrix
    (ħ = 2 convention; states with few photons, cutoff 24 (1 mode) or 20 (2 modes) per mode,
    so the neglected tail is < 1e-11)."""
    cov, nu = random_state(n, 90 + seed, pure=seed % 2, nu_max=0.75, r_max=0.25)
    cutoff = 24 if n == 1 else 20
    rho = density_matrix(np.zeros(2 * n), 2 * cov, cutoff=cutoff)
    # thewalrus orders a mixed state's indices (i1, j1, i2, j2, ...): bring kets first
    perm = list(range(0, 2 * n, 2)) + list(range(1, 2 * n, 2))
    rho = rho.transpose(perm).reshape(cutoff**n, cutoff**n)
    assert abs(np.trace(rho).real - 1) < 1e-11
    lam = np.clip(np.linalg.eigvalsh(0.5 * (rho + rho.conj().T)), 0, None)
    inter = xxpp_to_xpxp(cov)
    assert abs(ms.purity(inter) - np.sum(lam**2)) < 1e-10
    assert abs(ms.purity(inter) - np.prod(0.5 / nu)) < 1e-10
    entropy = -np.sum(lam[lam > 1e-300] * np.log(lam[lam > 1e-300]))
    assert abs(ms.von_neumann_entropy(inter) - entropy) < 1e-9
