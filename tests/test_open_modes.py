"""The structured open solver (harmosync.dynamics.open_modes, harmosync.solvers.damped).

Local Lindblad baths of one rate γ: A = A_H − (γ/2)EEᵀ. Checked against: the dense drift and
diffusion of harmosync.baths (the blocks), numpy's dense eigendecomposition of A (eigenvalues,
eigenvectors: A v = λ v, wᵀA = λ wᵀ), the dense open path (moments, σ_∞, non-uniform grids),
scipy's solve_ivp on the full Lyapunov equation dσ/dt = Aσ + σAᵀ + D (20–60 oscillators, with
the error bound ≥ the actual error) and solve_continuous_lyapunov (σ_∞).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
from test_open_systems import _graph_network, coherent_pair, lyapunov_ivp

from harmosync import network as nw
from harmosync import states as st
from harmosync.baths import Bath, drift_diffusion, hamiltonian_drift
from harmosync.dynamics.open import solve_open
from harmosync.dynamics.open_modes import ModalOpenEvolution, local_damping
from harmosync.errors import HarmosyncError
from harmosync.solvers.damped import damped_modes


def _chain(sites=40, **kw):
    return nw.paper_network(sites=sites, **kw)


def _state(temperature=0.0):
    return st.InitialState(coherent_pair((1.0, 1.1), (0.14, 1.4)).probes, temperature)


@pytest.mark.parametrize("baths", [
    [Bath("lindblad", 0.01, probes=(1, 2), temperature=0.3)],
    [Bath("lindblad", 0.02, probes=(1,), sites=(3, 7), occupation=0.2),
     Bath("lindblad", 0.02, probes=(2,), temperature=0.0, frequency=1.3)],
    [Bath("lindblad", 0.01, probes=(1,), temperature=0.5), Bath("lindblad", 0.01, probes=(1,), occupation=0.1),
     Bath("lindblad", 0.005, sites=(4,), common=True, weights=(2.0,), temperature=0.2)],
])
def test_local_damping_blocks_are_the_dense_drift_and_diffusion(baths):
    """A − A_H = −(γ/2)EEᵀ and D = diag(D_xx, D_pp) on the damped oscillators (rates of baths on
    one oscillator add; a one-member common bath with weight c damps at γc²)."""
    net = _chain(20)
    dmp = local_damping(net, baths)
    a, d = drift_diffusion(net, baths)
    a_d = np.zeros_like(a)
    dd = np.zeros_like(d)
    for j, dx, dp in zip(dmp.sites, dmp.dxx, dmp.dpp):
        a_d[2 * j, 2 * j] = a_d[2 * j + 1, 2 * j + 1] = -dmp.gamma / 2
        dd[2 * j, 2 * j], dd[2 * j + 1, 2 * j + 1] = dx, dp
    np.testing.assert_allclose(a - hamiltonian_drift(net), a_d, atol=1e-16)
    np.testing.assert_allclose(d, dd, atol=1e-16)


@pytest.mark.parametrize("baths", [
    [Bath("brownian", 0.01, probes=(1, 2), temperature=0.3)],
    [Bath("lindblad", 0.01, sites=(3, 7), common=True, temperature=0.3)],
    [Bath("lindblad", 0.01, probes=(1,), temperature=0.3), Bath("lindblad", 0.02, probes=(2,), temperature=0.3)],
    [Bath("lindblad", 0.0, probes=(1, 2), temperature=0.3)],
])
def test_other_baths_are_not_local_damping_and_take_the_dense_path(baths):
    """Brownian, common (several members), unequal rates, γ = 0: no structured form; ``auto``
    solves them densely and ``modes`` refuses in one line."""
    net = _chain(40)
    assert local_damping(net, baths) is None
    assert not isinstance(solve_open(net, _state(), baths), ModalOpenEvolution)
    with pytest.raises(HarmosyncError, match="structured open solver does not apply"):
        solve_open(net, _state(), baths, method="modes")


@pytest.mark.parametrize("sites, gamma, damped", [(40, 0.002, [0, 1]), (40, 0.02, [0, 1]), (300, 0.01, [0, 1]),
                                                  (30, 0.05, [5, 17, 29])])
def test_damped_modes_are_the_eigenpairs_of_the_drift(sites, gamma, damped):
    """λ from det(I + γ(λ + γ/4)g(λ)) = 0 equal numpy's eigenvalues of the dense A (Im λ > 0),
    and the Cauchy-like vectors satisfy A v = λ v and wᵀA = λ wᵀ, w = swap(v). The cases at
    γ = 0.02 and 0.01 have resonant clusters (roots more than half-way to the next pole)."""
    net = _chain(sites)
    baths = [Bath("lindblad", gamma, probes=tuple(j + 1 for j in damped if j < 2),
                  sites=tuple(j - 1 for j in damped if j >= 2), temperature=0.0)]
    a, _ = drift_diffusion(net, baths)
    mu, u = np.linalg.eigh(net.potential())
    modes = damped_modes(mu, u[damped].T, gamma)
    ref = np.linalg.eigvals(a)
    ref = np.sort(ref[ref.imag > 0].imag + 1j * ref[ref.imag > 0].real)
    got = np.sort(modes.lam.imag + 1j * modes.lam.real)
    np.testing.assert_allclose(got, ref, atol=1e-12)
    q, pi = modes.vectors(slice(0, modes.lam.size))
    v = np.zeros((a.shape[0], q.shape[0]), complex)
    v[0::2], v[1::2] = u @ q.T, u @ pi.T
    w = np.zeros_like(v)
    w[0::2], w[1::2] = u @ pi.T, u @ q.T
    scale = np.abs(v).max(axis=0)
    assert np.max(np.abs(a @ v - v * modes.lam) / scale) < 1e-12
    assert np.max(np.abs(w.T @ a - modes.lam[:, None] * w.T) / scale[:, None]) < 1e-12


def _cases():
    return {
        "chain": (_chain(40, strengths=(0.3, 0.3)),
                  [Bath("lindblad", 0.02, probes=(1, 2), temperature=0.3),
                   Bath("lindblad", 0.02, sites=(35, 36, 40), occupation=0.1)], (0, 1, 2 + 4, 2 + 35), 0.1),
        "graph": (_graph_network(40, 3), [Bath("lindblad", 0.03, sites=(1, 9, 30), temperature=0.2, frequency=1.1)],
                  (0, 1, 2 + 10), 0.0),
        "alone": (nw.couple(nw.no_environment(), nw.probes(np.linspace(0.8, 1.3, 44), 0.05, None, None)),
                  [Bath("lindblad", 0.01, probes=(1, 2, 44), temperature=0.4)], (0, 1, 43), 0.0),
    }


@pytest.mark.parametrize("case", ["chain", "graph", "alone"])
def test_structured_path_against_solve_ivp_and_the_dense_path(case):
    """20–60 oscillators: the structured path is chosen automatically, agrees with DOP853 on the
    full Lyapunov equation (to the integrator's tolerance) and with the dense open path within
    the sum of the two recorded error bounds; its bound covers its distance to the dense path."""
    net, baths, rows, temp = _cases()[case]
    if case == "alone":
        state = st.InitialState(st.product(*[st.coherent(w, 0.3) for w in np.linspace(0.8, 1.3, 44)]))
    else:
        state = _state(temp)
    t = np.linspace(0, 30, 61)
    evo = solve_open(net, state, baths, observe=rows)
    assert isinstance(evo, ModalOpenEvolution)
    m = evo.moments(t)
    ref_mean, ref_cov = lyapunov_ivp(net, state, baths, t, rows)
    np.testing.assert_allclose(m.mean, ref_mean, atol=1e-8)
    np.testing.assert_allclose(m.cov, ref_cov, atol=1e-8)
    dense = solve_open(net, state, baths, observe=rows, method="dense")
    md = dense.moments(t)
    err = max(np.abs(m.mean - md.mean).max(), np.abs(m.cov - md.cov).max())
    assert err <= evo.error_bound + dense.error_bound
    assert evo.error_bound < 1e-9


def test_fig1_lossy_probes_structured_equals_dense_within_the_bound():
    """The O1 network (Fig. 1, M = 300, γ = 1e-3 on both probes, T = 0) to t = 300: the
    structured moments equal the dense path's within the recorded bounds, and the bound is
    small (≤ 1e-9)."""
    net = _chain(300)
    baths = [Bath("lindblad", 0.001, probes=(1, 2), temperature=0.0)]
    t = np.arange(0, 300.0001, 0.05)
    fast = solve_open(net, _state(), baths)
    assert isinstance(fast, ModalOpenEvolution)
    a, b = fast.moments(t), solve_open(net, _state(), baths, method="dense").moments(t)
    err = max(np.abs(a.mean - b.mean).max(), np.abs(a.cov - b.cov).max())
    assert err <= fast.error_bound and fast.error_bound < 1e-9


def test_steady_state_and_irregular_grids():
    """σ_∞ (the double sum with −1/(λ_a + λ_b)) solves the Lyapunov equation (against
    solve_continuous_lyapunov); a non-uniform grid and a late uniform start (double sum with
    (e^{(λ_a+λ_b)t} − 1)/(λ_a + λ_b), and the noise accumulated from 0) equal the uniform grid;
    a step with ‖A‖h > ½ (Q_h by doubling) equals the dense path."""
    net = _chain(40, strengths=(0.4, 0.4))
    baths = [Bath("lindblad", 0.05, probes=(1, 2), sites=(40,), temperature=0.3)]
    state = _state(0.2)
    evo = solve_open(net, state, baths)
    assert isinstance(evo, ModalOpenEvolution)
    a, d = drift_diffusion(net, baths)
    full = sla.solve_continuous_lyapunov(a, -d)
    np.testing.assert_allclose(evo.steady_state(), full[:4, :4], atol=1e-10)
    t = np.linspace(0, 20, 201)
    whole = evo.moments(t)
    pick = [0, 3, 17, 40, 41, 120, 200]
    np.testing.assert_allclose(evo.moments(t[pick]).cov, whole.cov[pick], atol=1e-11)
    np.testing.assert_allclose(evo.moments(t[50:]).cov, whole.cov[50:], atol=1e-11)
    np.testing.assert_allclose(evo.means(t), whole.mean, atol=1e-13)
    coarse = np.arange(0, 60.001, 0.75)
    dense = solve_open(net, state, baths, method="dense").moments(coarse)
    np.testing.assert_allclose(evo.moments(coarse).cov, dense.cov, atol=1e-10)


def test_noiseless_modes_are_named_and_no_steady_state_is_returned():
    """A mode that does not touch the damped oscillator (here the modes with a node there, on a
    tiny damping: rates below NOISELESS_TOL·max|λ|) is noiseless: σ_∞ is refused, as in the
    dense path, which names the same number of modes."""
    net = _chain(300)
    baths = [Bath("lindblad", 0.001, probes=(1, 2), temperature=0.0)]
    fast, dense = solve_open(net, _state(), baths), solve_open(net, _state(), baths, method="dense")
    assert fast.diagnostics()["noiseless_modes"] == dense.diagnostics()["noiseless_modes"] > 0
    assert fast.steady is None
    with pytest.raises(HarmosyncError, match="noiseless"):
        fast.steady_state()


def test_damped_exponential_sums_nufft_and_direct_against_brute_force():
    """2 Re Σ_m b_m e^{λ_m t} on a uniform grid: the blocked BLAS sum and the non-uniform FFT
    with the damping as a Taylor series about each chunk's centre (strongly damped modes
    directly) equal the brute-force sum, within ~(P + 2)·1e-14 of Σ|2b| (the phase error ε·ωt
    of the reference itself included)."""
    from harmosync.solvers import expsum

    rng = np.random.default_rng(0)
    k = 800
    lam = -rng.uniform(0, 1e-6, k) + 1j * np.sort(rng.uniform(0.4, 2.2, k))
    lam[:4] -= [1e-3, 3e-4, 2e-2, 1e-4]  # strongly damped: summed directly inside the NUFFT path
    b = rng.standard_normal((k, 5)) + 1j * rng.standard_normal((k, 5))
    h, count, t0 = 0.1, 20000, 3.0
    pick = np.array([0, 1, 4095, 4096, 12345, count - 1])
    ref = 2 * np.real(np.exp(np.outer(t0 + h * pick, lam)) @ b)
    scale = float(np.max(np.sum(2 * np.abs(b), axis=0)))
    for engine in ("direct", "nufft"):
        rel, gen = expsum.evaluate(lam, b, t0, h, count, engine=engine)
        got = np.vstack([v for _, v in gen])
        assert got.shape == (count, 5)
        assert np.abs(got[pick] - ref).max() <= rel * scale + 1e-15 * scale * h * count


def test_solve_passes_the_method_to_the_open_solver():
    """`dynamics.solve(..., baths=, method=)`: "dense" and "modes" select the two open paths
    (equal within their bounds), a closed-only method is refused in one line."""
    from harmosync import dynamics as dy

    net, state = _chain(), _state()
    baths = (Bath(kind="lindblad", probes=(1, 2), rate=1e-3),)
    t = np.linspace(0.0, 50.0, 101)
    dense = dy.solve(net, state, baths=baths, method="dense")
    modes = dy.solve(net, state, baths=baths, method="modes")
    assert isinstance(modes, ModalOpenEvolution) and not isinstance(dense, ModalOpenEvolution)
    a, b = dense.moments(t), modes.moments(t)
    assert np.max(np.abs(a.cov - b.cov)) <= dense.error_bound + modes.error_bound
    with pytest.raises(HarmosyncError, match="method must be one of auto, dense, modes"):
        dy.solve(net, state, baths=baths, method="chain")
