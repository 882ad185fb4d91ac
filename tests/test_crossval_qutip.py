"""Cross-validation against QuTiP: the full quantum evolution in Fock space of a tiny network.

Two probes (ω = 1, 1.1, λ = 0.1) plugged with K = 0.2 into sites 1 and 2 of a 2-site chain
(Ω0 = 0.9, g = 0.3, fixed ends): four oscillators, H = Σ p²/2 + ½ xᵀVx (ħ = 1, unit masses).
Each oscillator i is represented in the Fock basis of a local reference frequency ω_i (the bare
probe frequency for the probes, √V_jj for the chain sites):

    x_i = (a_i + a_i†)/√(2ω_i),   p_i = i √(ω_i/2) (a_i† − a_i),

in QuTiP's excitation-number-restricted space (total number of local quanta ≤ E; dimension
C(E+4, 4)), far cheaper than a per-mode cutoff for the same accuracy. The initial state is
|probe 1⟩ ⊗ |probe 2⟩ ⊗ |ground state of H_E alone⟩ (QuTiP's ``groundstate`` of H_E on the
two chain modes), evolved by ``qutip.sesolve``. Nothing here assumes Gaussianity.

Compared with harmosync's exact solution: ⟨x_i⟩, ⟨p_i⟩ and the symmetrized covariance
σ_ab = Re⟨R_a R_b⟩ − ⟨R_a⟩⟨R_b⟩ of all four oscillators; and, for the squeezed case, the log
negativity ln‖ρ_P^{T_2}‖₁ (``qutip.partial_transpose``) and von Neumann entropies
−Tr ρ ln ρ (``qutip.entropy_vn``) of the probes' reduced density matrix ρ_P, against
harmosync's values from the covariance.

Truncation: the difference from harmosync shrinks as E grows (asserted). Measured max
differences for t ≤ 20: coherent case, E = 12 → 16: moments (means and σ) 1.8e-4 → 6e-7;
squeezed case, E = 16 → 20: σ 5e-6 → 1.1e-7, E_N 1.7e-4 → 1.4e-5 (the most truncation-
sensitive: ‖ρ^{T_B}‖₁ sums every small negative eigenvalue), entropies 1.7e-6 → 4e-8.
Asserted: moments ≤ 2e-6, E_N ≤ 3e-5, entropies and I ≤ 2e-6 at the higher cutoff.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
import qutip as qt

from harmosync import dynamics as dy
from harmosync import measures as ms
from harmosync import network as nw
from harmosync import states as st

FREQS = (1.0, 1.1)
TIMES = np.linspace(0.0, 20.0, 6)  # [1/ω1]
BIG = 80  # Fock space in which the single-mode probe states are prepared before truncation
SESOLVE = {"atol": 1e-12, "rtol": 1e-10, "nsteps": 100_000, "store_states": True}

CASES = {
    # (x, p) of each coherent probe [ω^-1/2, ω^1/2]
    "coherent": {"coherent": [(0.14, 0.0), (1.4, -0.3)], "cutoffs": (12, 16), "tol": 2e-6},
    # squeezed vacua r = 0.3 at angles 0 (x squeezed) and 0.8
    "squeezed": {"squeezed": [(0.3, 0.0), (0.3, 0.8)], "cutoffs": (16, 20), "tol": 2e-6},
}


def tiny_network() -> nw.Network:
    return nw.couple(nw.chain(2, 0.9, 0.3), nw.probes(FREQS, 0.1, (1, 2), (0.2, 0.2)))


def probe_states(case: dict):
    """harmosync Gaussian states and Fock amplitudes (length BIG) of the two probes."""
    gauss, amps = [], []
    for w, (x, p) in zip(FREQS, case.get("coherent", [])):
        gauss.append(st.coherent(w, x, p))
        alpha = np.sqrt(w / 2) * x + 1j * p / np.sqrt(2 * w)  # a = √(ω/2) x + i p/√(2ω)
        amps.append(qt.coherent(BIG, alpha, method="analytic").full().ravel())
    for w, (r, phi) in zip(FREQS, case.get("squeezed", [])):
        gauss.append(st.squeezed(w, r, phi))
        # QuTiP: S(z) = exp((z* a² − z a†²)/2), z = r e^{iφ}; φ = 0 squeezes x
        amps.append((qt.squeeze(BIG, r * np.exp(1j * phi)) * qt.basis(BIG, 0)).full().ravel())
    return gauss, amps


def local_frequencies(v: np.ndarray) -> np.ndarray:
    return np.array([FREQS[0], FREQS[1], np.sqrt(v[2, 2]), np.sqrt(v[3, 3])])


def quadratures(ops, wref):
    x = [(a + a.dag()) / np.sqrt(2 * w) for a, w in zip(ops, wref)]
    p = [1j * np.sqrt(w / 2) * (a.dag() - a) for a, w in zip(ops, wref)]
    return x, p


def hamiltonian(x, p, v):
    n = len(x)
    h = sum(0.5 * p[i] * p[i] for i in range(n))
    return h + sum(0.5 * v[i, j] * x[i] * x[j] for i in range(n) for j in range(n) if v[i, j] != 0)


def environment_ground_state(v: np.ndarray, nc: int):
    """QuTiP's ground state of H_E (the chain alone) in a per-mode cutoff nc, and its energy."""
    wref = local_frequencies(v)[2:]
    ops = [qt.tensor([qt.destroy(nc) if j == i else qt.qeye(nc) for j in range(2)]) for i in range(2)]
    x, p = quadratures(ops, wref)
    energy, ket = hamiltonian(x, p, v[2:, 2:]).groundstate()
    return energy, ket, x, p


@cache
def fock_run(name: str, excitations: int):
    """Evolve the case in the ENR space with ≤ ``excitations`` local quanta. Returns the means
    (T, 8), symmetrized covariances (T, 8, 8) (interleaved x1, p1, ..., x4, p4), and per time
    E_N(ρ_P), S(ρ_P), S(ρ_1), S(ρ_2)."""
    case = CASES[name]
    v = tiny_network().potential()
    nc = excitations + 1
    _, amps = probe_states(case)
    _, env_ket, _, _ = environment_ground_state(v, nc)
    env = env_ket.full().reshape(nc, nc)
    dims = [nc] * 4
    nstates, _, idx2state = qt.enr_state_dictionaries(dims, excitations)
    occ = np.array([idx2state[k] for k in range(nstates)])
    vec = amps[0][occ[:, 0]] * amps[1][occ[:, 1]] * env[occ[:, 2], occ[:, 3]]
    psi0 = qt.Qobj(vec / np.linalg.norm(vec), dims=qt.enr_fock(dims, excitations, [0] * 4)._dims)

    x, p = quadratures(qt.enr_destroy(dims, excitations), local_frequencies(v))
    h = hamiltonian(x, p, v)
    res = qt.sesolve(h, psi0, TIMES, options=SESOLVE)
    quad = [op.data_as("csr_matrix") for i in range(4) for op in (x[i], p[i])]

    means, covs, corr = [], [], []
    for psi in res.states:
        y = psi.full().ravel()
        ry = np.array([q @ y for q in quad])  # R_a |ψ⟩ (R_a Hermitian in the truncated space)
        m = (y.conj() @ ry.T).real
        means.append(m)
        covs.append((ry.conj() @ ry.T).real - np.outer(m, m))
        full = np.zeros((nc,) * 4, complex)
        full[tuple(occ.T)] = y
        rho = np.einsum("abij,cdij->abcd", full, full.conj()).reshape(nc * nc, nc * nc)
        rho_p = qt.Qobj(rho, dims=[[nc, nc], [nc, nc]])
        corr.append([
            np.log(qt.partial_transpose(rho_p, [0, 1]).norm("tr")),
            qt.entropy_vn(rho_p),
            qt.entropy_vn(rho_p.ptrace(0)),
            qt.entropy_vn(rho_p.ptrace(1)),
        ])
    return np.array(means), np.array(covs), np.array(corr)


def exact(name: str):
    net = tiny_network()
    gauss, _ = probe_states(CASES[name])
    return (dy.solve(net, st.InitialState(st.product(*gauss)), observe=range(4))).moments(TIMES)


def test_environment_ground_state_is_qutips():
    """QuTiP's ground state of H_E alone has energy ½ Σ_k Ω_k and second moments
    ⟨XXᵀ⟩ = ½ V_E^{-1/2}, ⟨PPᵀ⟩ = ½ V_E^{1/2}: harmosync's environment state (CONVENTIONS)."""
    net = tiny_network()
    v = net.potential()
    energy, ket, x, p = environment_ground_state(v, 16)
    w, u = net.environment.modes()
    assert abs(energy - 0.5 * w.sum()) < 1e-10
    exx, epp = st.environment_covariance(w, u, 0.0)
    for i in range(2):
        for j in range(2):
            assert abs(qt.expect(x[i] * x[j], ket) - exx[i, j]) < 1e-8
            assert abs(qt.expect(p[i] * p[j], ket) - epp[i, j]) < 1e-8
            assert abs(qt.expect(0.5 * (x[i] * p[j] + p[j] * x[i]), ket)) < 1e-8


@pytest.mark.parametrize("name", list(CASES))
def test_moments_match_fock_space(name):
    """⟨x_i⟩, ⟨p_i⟩ and σ_ab = ½⟨{ΔR_a, ΔR_b}⟩ of all four oscillators, t ≤ 20: harmosync's exact
    solution equals the Fock-space evolution within the truncation tolerance, and the Fock result
    converges towards it as the cutoff grows."""
    ref = exact(name)
    low, high = CASES[name]["cutoffs"]
    errs = {}
    for e in (low, high):
        mean, cov, _ = fock_run(name, e)
        errs[e] = max(np.abs(mean - ref.mean).max(), np.abs(cov - ref.cov).max())
    assert errs[high] <= CASES[name]["tol"], errs
    assert errs[high] < errs[low], errs
    # not vacuous: the state changes by far more than the tolerance
    assert np.abs(ref.cov[-1] - ref.cov[0]).max() > 1e3 * CASES[name]["tol"]


def test_squeezed_entanglement_and_entropies_match_fock_space():
    """Squeezed probes (r = 0.3): E_N = ln‖ρ_P^{T_B}‖₁, S(ρ_P) and I = S(ρ_1) + S(ρ_2) − S(ρ_P)
    (nats) of the probes' reduced density matrix in Fock space equal harmosync's Gaussian
    formulas on σ_PP; the agreement improves with the cutoff."""
    ref = exact("squeezed")
    cov_p = ref.cov[:, :4, :4]
    hs = np.column_stack([
        ms.log_negativity(cov_p, [0], [1]),
        ms.von_neumann_entropy(cov_p),
        ms.von_neumann_entropy(cov_p[:, :2, :2]),
        ms.von_neumann_entropy(cov_p[:, 2:, 2:]),
    ])
    low, high = CASES["squeezed"]["cutoffs"]
    err = {}
    for e in (low, high):
        corr = fock_run("squeezed", e)[2]
        err[e] = np.abs(corr - hs).max(axis=0)
        mi_fock = corr[:, 2] + corr[:, 3] - corr[:, 1]
        err[e] = np.append(err[e], np.abs(mi_fock - ms.mutual_information(cov_p, [0], [1])).max())
    assert np.all(err[high] <= [3e-5, 2e-6, 2e-6, 2e-6, 2e-6]), err
    assert err[high][0] < err[low][0]
    # not vacuous: the probes do get entangled and correlated
    assert hs[:, 0].max() > 0.1 and hs[:, 1].max() > 0.1
