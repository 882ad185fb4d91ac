"""Cross-validation of the exact normal-mode solution against independent numerical methods.

The linear equations of motion of H = ½ pᵀp + ½ xᵀVx (ħ = 1, unit masses) are, in the block
ordering R = (x..., p...),

    dR/dt = A R,   A = [[0, 1], [−V, 0]],   so R(t) = S(t) R(0) with S(t) = exp(A t),

⟨R⟩(t) = S(t)⟨R⟩(0) and σ(t) = S(t) σ(0) S(t)ᵀ. Two references that share nothing with
harmosync's normal-mode machinery (no eigendecomposition of V anywhere):

* the paper's networks (M = 300): integrate the probe rows S_P of the propagator,
  d/dt S_P = S_P A (S commutes with A), with ``scipy.integrate.solve_ivp`` (DOP853), then
  ⟨R_P⟩ = S_P ⟨R⟩(0) and σ_PP = S_P σ(0) S_Pᵀ;
* small random networks: S(t) = ``scipy.linalg.expm`` (A t), full 2N × 2N covariance.

V and σ(0) are built here from the paper's Eqs. (1), (2) and CONVENTIONS.md (environment state
⟨XXᵀ⟩ = ½ V_E^{−1/2} coth(V_E^{1/2}/2T), ⟨PPᵀ⟩ = ½ V_E^{1/2} coth(V_E^{1/2}/2T) via
``scipy.linalg.sqrtm``/``expm``), and checked against harmosync's before use.

Measured on the coarse grid (every 10 time units, t ≤ 1500) with RTOL = 3e-12: Fig. 1 max
error 4.0e-10 in ⟨x_i⟩, ⟨p_i⟩ (scale max|mean| = 1.44) and 1.3e-10 in σ_PP (scale max|σ_ab| =
0.81); Fig. 4 1.4e-10 in σ_PP (scale 32.8, i.e. 4e-12 relative). Asserted: ≤ 1e-8 absolute.
The residual is DOP853's global error (it falls with RTOL: 1.3e-10 / 4e-11 at RTOL = 1e-12),
not harmosync's.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.integrate import solve_ivp

from conftest import probe_means

from harmosync import dynamics as dy
from harmosync.dynamics import reference as dyref
from harmosync import network as nw
from harmosync import states as st
from harmosync.conventions import to_block

# Paper runs: t ≤ 1500 at step 0.05 (what `harmosync simulate` evaluates).
STOP, STEP = 1500.0, 0.05
EVERY = 200  # compare every 200 steps = every 10 time units [1/ω1]
# DOP853 tolerances: global error ≈ 4e-10 at t = 1500, 25× inside the 1e-8 requirement.
RTOL, ATOL = 3e-12, 3e-14
TOL = 1e-8  # the requirement, absolute


# ----------------------------------------------------------------------------------------------
# Independent builders (paper Eqs. 1, 2; CONVENTIONS.md)
# ----------------------------------------------------------------------------------------------
def chain_potential(m: int, omega0: float, g: float) -> np.ndarray:
    """V_E = Ω0²·1 + g·tridiag(−1, 2, −1): the fixed-end chain of Sec. III A."""
    return omega0**2 * np.eye(m) + g * (2 * np.eye(m) - np.eye(m, k=1) - np.eye(m, k=-1))


def total_potential(v_env, freqs, lam, attachments) -> np.ndarray:
    """V = [[V_S, B], [Bᵀ, V_E]]: V_S = diag(ω²) + λ·Laplacian of the probe pairs,
    B[i, site − 1] += K for each (probe i, site, K)."""
    p, m = len(freqs), v_env.shape[0]
    lam_m = np.full((p, p), float(lam)) - np.diag([float(lam)] * p)
    vs = np.diag(np.asarray(freqs, float) ** 2 + lam_m.sum(axis=1)) - lam_m
    b = np.zeros((p, m))
    for i, site, k in attachments:
        b[i, site - 1] += k
    return np.block([[vs, b], [b.T, v_env]])


def environment_state(v_env: np.ndarray, temperature: float):
    """(⟨XXᵀ⟩, ⟨PPᵀ⟩) of the thermal state of H_E alone, by matrix functions of V_E."""
    w = np.real(sla.sqrtm(v_env))
    w = 0.5 * (w + w.T)
    if temperature == 0:
        coth = np.eye(len(w))
    else:
        e = sla.expm(w / temperature)  # coth(W/2T) = (e^{W/T} + 1)(e^{W/T} − 1)^{-1}
        coth = np.linalg.solve(e - np.eye(len(w)), e + np.eye(len(w)))
    return 0.5 * np.linalg.solve(w, coth), 0.5 * w @ coth


def squeezed_block(omega: float, r: float, phi: float) -> np.ndarray:
    """(x, p) covariance of S(r e^{iφ})|0⟩ (CONVENTIONS: φ = 0 squeezes x)."""
    ch, sh = np.cosh(2 * r), np.sinh(2 * r)
    d = np.diag([omega**-0.5, omega**0.5])
    return d @ (0.5 * np.array([[ch - sh * np.cos(phi), -sh * np.sin(phi)],
                                [-sh * np.sin(phi), ch + sh * np.cos(phi)]])) @ d


def full_initial_state(v, n_probes, probe_cov, probe_mean, temperature):
    """σ(0) and ⟨R⟩(0) in the block ordering: probes ⊗ thermal state of H_E alone."""
    n = v.shape[0]
    exx, epp = environment_state(v[n_probes:, n_probes:], temperature)
    sig = np.zeros((2 * n, 2 * n))
    px = np.arange(n_probes)
    idx = np.concatenate([px, n + px])  # probe x's then p's
    pc = np.asarray(probe_cov)  # interleaved (x1, p1, x2, p2, ...)
    order = np.concatenate([np.arange(0, 2 * n_probes, 2), np.arange(1, 2 * n_probes, 2)])
    sig[np.ix_(idx, idx)] = pc[np.ix_(order, order)]
    sig[n_probes:n, n_probes:n] = exx
    sig[n + n_probes:, n + n_probes:] = epp
    mean = np.zeros(2 * n)
    pm = np.asarray(probe_mean)
    mean[px], mean[n + px] = pm[0::2], pm[1::2]
    return sig, mean


# ----------------------------------------------------------------------------------------------
# The paper's runs against solve_ivp on the probe rows of the propagator
# ----------------------------------------------------------------------------------------------
def probe_rows_ivp(v: np.ndarray, n_probes: int, times: np.ndarray) -> np.ndarray:
    """S_P(t) (T, 2P, 2N): rows x1, p1, x2, p2, ... (interleaved) of exp(A t), columns in block
    ordering, from d/dt [S_x, S_p] = [S_x, S_p] A = [−S_p V, S_x] with DOP853."""
    n = v.shape[0]
    vs = sp.csr_matrix(v)
    rows = np.ravel(np.column_stack([np.arange(n_probes), n + np.arange(n_probes)]))
    y0 = np.zeros((2 * n_probes, 2 * n))
    y0[np.arange(2 * n_probes), rows] = 1.0

    def rhs(_, y):
        s = y.reshape(2 * n_probes, 2 * n)
        return np.hstack([-(vs @ s[:, n:].T).T, s[:, :n]]).ravel()

    sol = solve_ivp(rhs, (times[0], times[-1]), y0.ravel(), method="DOP853", rtol=RTOL, atol=ATOL,
                    t_eval=times)
    assert sol.success, sol.message
    return sol.y.T.reshape(times.size, 2 * n_probes, 2 * n)


FIG1 = {"freqs": (1.0, 1.1), "lam": 0.5, "k": 0.2,
        "probes": [("coherent", 1.0, 0.14, 0.0), ("coherent", 1.1, 1.4, 0.0)]}
FIG4 = {"freqs": (1.0, 1.2), "lam": 0.0, "k": 0.8,
        "probes": [("squeezed", 1.0, 2.0, 0.0), ("squeezed", 1.2, 2.0, 0.0)]}


@pytest.mark.parametrize("case", [FIG1, FIG4], ids=["fig1", "fig4"])
def test_paper_runs_match_solve_ivp(case):
    """⟨x_i⟩, ⟨p_i⟩ and σ_PP(t) of the paper's Fig. 1 / Fig. 4 runs (M = 300, Ω0 = 0.4, g = 1.2,
    both probes at site 1) from harmosync's exact solution on the full 30001-point grid agree
    with S_P(t)⟨R⟩(0) and S_P(t) σ(0) S_P(t)ᵀ, S_P from DOP853, to 1e-8 absolute every 10 time
    units up to t = 1500."""
    m, omega0, g = 300, 0.4, 1.2
    attach = [(0, 1, case["k"]), (1, 1, case["k"])]
    net = nw.paper_network(sites=m, omega0=omega0, g=g, frequencies=case["freqs"],
                           coupling=case["lam"], plug=(1, 1), strengths=(case["k"], case["k"]))
    v = total_potential(chain_potential(m, omega0, g), case["freqs"], case["lam"], attach)
    np.testing.assert_allclose(net.potential(), v, rtol=0, atol=1e-15)

    kind = case["probes"][0][0]
    if kind == "coherent":
        states = [st.coherent(w, x, p) for _, w, x, p in case["probes"]]
        pcov = sla.block_diag(*[np.diag([1 / (2 * w), w / 2]) for _, w, _, _ in case["probes"]])
        pmean = np.ravel([[x, p] for _, _, x, p in case["probes"]])
    else:
        states = [st.squeezed(w, r, phi) for _, w, r, phi in case["probes"]]
        pcov = sla.block_diag(*[squeezed_block(w, r, phi) for _, w, r, phi in case["probes"]])
        pmean = np.zeros(4)
    init = st.InitialState(st.product(*states))
    np.testing.assert_allclose(init.probes.cov, pcov, rtol=1e-14, atol=0)
    sig0, mu0 = full_initial_state(v, 2, pcov, pmean, 0.0)
    np.testing.assert_allclose(to_block(dyref.initial_covariance(net, init)), sig0, rtol=0, atol=1e-12)

    grid = STEP * np.arange(round(STOP / STEP) + 1)
    exact = (dy.solve(net, init)).moments(grid)
    times = grid[::EVERY]
    assert times[-1] == STOP
    s_p = probe_rows_ivp(v, 2, times)
    mean_ref = s_p @ mu0
    cov_ref = s_p @ sig0 @ np.swapaxes(s_p, 1, 2)

    mean_err = np.abs(exact.mean[::EVERY] - mean_ref).max()
    cov_err = np.abs(exact.cov[::EVERY] - cov_ref).max()
    assert mean_err <= TOL, f"max |Δ mean| = {mean_err:.3g}"
    assert cov_err <= TOL, f"max |Δ σ_PP| = {cov_err:.3g} (scale {np.abs(cov_ref).max():.3g})"
    # the comparison is not vacuous: the probes do move and lose their initial state
    assert np.abs(cov_ref[-1] - cov_ref[0]).max() > 0.1 * np.abs(cov_ref[0]).max()

    if kind == "squeezed":
        # Fig. 4 has zero means; check the mean dynamics of the same network with displaced probes
        shifted = st.product(*[st.squeezed(w, r, phi, x=0.3 - i, p=0.5 * i)
                               for i, (_, w, r, phi) in enumerate(case["probes"])])
        _, mu_d = full_initial_state(v, 2, pcov, shifted.mean, 0.0)
        got = (dy.solve(net, st.InitialState(shifted))).moments(times).mean
        assert np.abs(exact.mean).max() == 0.0
        err = np.abs(got - s_p @ mu_d).max()
        assert err <= TOL, f"max |Δ mean| = {err:.3g}"


# ----------------------------------------------------------------------------------------------
# Small random networks against the matrix exponential
# ----------------------------------------------------------------------------------------------
def random_small_network(seed: int, m: int = 5):
    """A random graph environment with two probes (probe 2 plugged into two sites, one K
    negative), built from raw parameters so that V can be formed independently."""
    rng = np.random.default_rng(seed)
    a = np.triu(rng.uniform(0.1, 0.6, (m, m)) * (rng.uniform(size=(m, m)) < 0.6), 1)
    a = a + a.T
    onsite = rng.uniform(0.5, 1.5, m)
    freqs = tuple(rng.uniform(0.8, 1.4, 2))
    lam = float(rng.uniform(-0.1, 0.4))
    s1, s2, s3 = (int(s) for s in rng.choice(np.arange(1, m + 1), 3, replace=False))
    k1, k2, k3 = np.array([0.25, 0.2, -0.15]) * rng.uniform(0.3, 1.0, 3)
    net = nw.couple(nw.graph(a, onsite), nw.probes(freqs, lam, [s1, [s2, s3]], [k1, [k2, k3]]))
    v_env = np.diag(onsite**2 + a.sum(axis=1)) - a
    v = total_potential(v_env, freqs, lam, [(0, s1, k1), (1, s2, k2), (1, s3, k3)])
    np.testing.assert_allclose(net.potential(), v, rtol=0, atol=1e-14)
    return net, v


def generator(v: np.ndarray) -> np.ndarray:
    """A (2N × 2N, interleaved): dx_i/dt = p_i, dp_i/dt = −Σ_j V_ij x_j."""
    n = v.shape[0]
    a = np.zeros((2 * n, 2 * n))
    a[0::2, 1::2] = np.eye(n)
    a[1::2, 0::2] = -v
    return a


def block_generator(v: np.ndarray) -> np.ndarray:
    n = v.shape[0]
    return np.block([[np.zeros((n, n)), np.eye(n)], [-v, np.zeros((n, n))]])


@pytest.mark.parametrize("seed", range(4))
def test_propagator_matches_expm(seed):
    """dynamics.propagator(t) = exp(A t), A built from V, interleaved ordering, up to t ≈ 300."""
    net, v = random_small_network(seed)
    a = generator(v)
    for t in (0.0, 0.37, 2.9, 41.0, 297.3):
        ref = sla.expm(a * t)
        tol = 1e-10 * max(1.0, np.abs(ref).max())
        np.testing.assert_allclose(dyref.propagator(net, t), ref, rtol=0, atol=tol)


@pytest.mark.parametrize("seed, temperature", [(0, 0.0), (1, 0.0), (2, 0.6), (3, 1.5)])
def test_full_covariance_matches_expm(seed, temperature):
    """Every oscillator's mean and the full 2N × 2N covariance (observe = all) equal
    exp(At)⟨R⟩(0) and exp(At) σ(0) exp(At)ᵀ, with σ(0) = probes ⊗ thermal state of H_E (built
    here by matrix functions of V_E); on a non-uniform grid and on a uniform grid longer than
    one evaluation block."""
    net, v = random_small_network(seed)
    n = v.shape[0]
    rng = np.random.default_rng(100 + seed)
    probes = st.product(
        st.squeezed(net.probes.frequencies[0], 0.6, 0.7, x=0.4, p=-0.2),
        st.thermal(net.probes.frequencies[1], 0.8, x=-0.3, p=0.1),
    )
    init = st.InitialState(probes, temperature)
    sig0, mu0 = full_initial_state(v, 2, probes.cov, probes.mean, temperature)
    np.testing.assert_allclose(to_block(dyref.initial_covariance(net, init)), sig0, rtol=0, atol=1e-12)

    sol = dy.solve(net, init, observe=range(n))
    ab = block_generator(v)
    uniform = 0.13 * np.arange(1100)  # > dynamics.BLOCK points: several evaluation blocks
    scattered = np.sort(rng.uniform(0, 250, 15))
    for times, pick in ((uniform, np.arange(0, 1100, 37)), (scattered, np.arange(15))):
        got = sol.moments(times)
        for k in pick:
            s = sla.expm(ab * times[k])
            cov_ref = s @ sig0 @ s.T
            tol = 1e-10 * max(1.0, np.abs(cov_ref).max())
            np.testing.assert_allclose(to_block(got.mean[k]), s @ mu0, rtol=0, atol=tol)
            np.testing.assert_allclose(to_block(got.cov[k]), cov_ref, rtol=0, atol=tol)


@pytest.mark.parametrize("seed", range(3))
def test_probe_means_match_expm(seed):
    """dynamics.probe_means (means alone, no covariance work) = the probe rows of
    exp(A t) (⟨x⟩, ⟨p⟩ of the probes; environment at rest), on a uniform grid."""
    net, v = random_small_network(seed)
    start = np.random.default_rng(seed).normal(size=4)
    mu0 = np.zeros(2 * v.shape[0])
    mu0[:4] = start  # interleaved: the probes are oscillators 0 and 1
    times = 0.21 * np.arange(1500)
    got = probe_means(net, start, times)
    a = generator(v)
    for k in range(0, 1500, 149):
        ref = (sla.expm(a * times[k]) @ mu0)[:4]
        np.testing.assert_allclose(got[k], ref, rtol=0, atol=1e-10 * max(1.0, np.abs(ref).max()))
