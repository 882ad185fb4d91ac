"""Generalized Langevin equation (analysis/langevin.py): the coefficients of Eqs. (A8)–(A10),
the kernels of Eqs. (4), (5), (A12), (A13), the spectral densities, and Eq. (A11) integrated
with these kernels against the exact ⟨q_s(t)⟩ of harmosync.dynamics."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
from threadpoolctl import threadpool_limits

from harmosync import dynamics as dy
from harmosync import network as nw
from harmosync import states as st
from harmosync.analysis import langevin as lg
from harmosync.errors import HarmosyncError


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Small dense problems: one BLAS thread is faster, and far faster on a loaded machine."""
    with threadpool_limits(1):
        yield


def paper_c(theta, m, n, M, K):
    """Eqs. (A9), (A10) literally, K1 = K2 = K."""
    j = np.arange(1, M + 1)
    sm, sn = np.sin(np.pi * j * m / (M + 1)), np.sin(np.pi * j * n / (M + 1))
    pref = np.sqrt(2 * K**2 / (M + 1))
    return np.array([pref * (np.cos(theta) * sm + np.sin(theta) * sn),
                     pref * (np.cos(theta) * sn - np.sin(theta) * sm)])


@pytest.mark.parametrize("m, n", [(1, 1), (1, 40), (17, 5)])
def test_coefficients_are_eqs_A9_A10(m, n):
    """c_s(j) of the fixed chain equal (A9), (A10) for K1 = K2; Ω_j equal (A8); θ from (A7)."""
    M, K = 40, 0.2
    net = nw.paper_network(sites=M, plug=(m, n), strengths=(K, K))
    c, om = lg.coefficients(net)
    r, oms, theta = lg.system_rotation(net)
    np.testing.assert_allclose(c, paper_c(theta, m, n, M, K), atol=1e-14)
    j = np.arange(1, M + 1)
    np.testing.assert_allclose(om**2, 0.4**2 + 4 * 1.2 * np.sin(np.pi * j / (2 * (M + 1))) ** 2, rtol=1e-14)
    np.testing.assert_allclose(r @ net.probes.potential() @ r.T, np.diag(oms**2), atol=1e-13)
    assert np.tan(2 * theta) == pytest.approx(2 * 0.5 / (1.1**2 - 1.0))


@pytest.mark.parametrize("boundary", ["fixed", "free", "periodic"])
def test_kernel_is_B_VEinv_cos_VE_half_t_BT(boundary):
    """Γ′(t) = R B V_E⁻¹ cos(V_E^½ t) Bᵀ Rᵀ with matrix functions from scipy (sqrtm, cosm),
    for unequal and sign-flipped strengths (the generalisation of A9, A10); fixed and free
    chains use closed-form mode rows at the plugged sites, periodic ones the dense modes."""
    net = nw.paper_network(sites=12, plug=(2, 9), strengths=(0.3, -0.17), boundary=boundary)
    ve = net.environment.potential()
    b = net.coupling_block()
    r, _, _ = lg.system_rotation(net)
    t = np.array([0.0, 0.7, 3.1, 25.0])
    kern = lg.kernels(net, t)
    root = np.real(sla.sqrtm(ve))
    for i, ti in enumerate(t):
        ref = r @ b @ np.linalg.solve(ve, sla.cosm(root * ti)) @ b.T @ r.T
        np.testing.assert_allclose(kern.matrix[i], ref, atol=1e-12)
    assert np.allclose(kern.eta, kern.matrix[:, 1, 0])  # η is symmetric (Sec. II B)
    np.testing.assert_allclose(kern.shift, kern.matrix[0])


def _exact_q(net, x0, p0, t):
    init = st.InitialState(st.product(*(st.coherent(w, x, p) for w, x, p in zip(net.probes.frequencies, x0, p0))))
    mom = dy.solve(net, init, t_max=float(np.max(np.abs(t)))).moments(t)
    r, _, _ = lg.system_rotation(net)
    return mom.mean[:, 0::2] @ r.T, mom.mean[:, 1::2] @ r.T


CASES = [  # (K1, K2, sites): weak and moderate coupling, common and separate sites, sign flip
    (0.05, 0.05, (1, 1)),
    (0.4, 0.4, (1, 1)),
    (0.1, -0.07, (3, 30)),
]


@pytest.mark.parametrize("k1, k2, plug", CASES)
def test_eq_A11_reproduces_exact_mean(k1, k2, plug):
    """Eq. (A11), q̈ + [Ω² − Γ′(0)] q + ∫Γ′(t−t′) q̇(t′) dt′ = −Γ′(t) q(0) (noise averaged out),
    integrated with the kernels of (A12), (A13) (auxiliary-variable ODE, DOP853), gives the exact
    ⟨q_s(t)⟩, ⟨q̇_s(t)⟩ from harmosync.dynamics to 1e-8 up to t = 100."""
    net = nw.paper_network(sites=50, plug=plug, strengths=(k1, k2))
    t = np.arange(0, 100.001, 0.1)
    q_ex, p_ex = _exact_q(net, [0.14, 1.4], [0.3, -0.2], t)
    q, p = lg.solve_mean(net, q_ex[0], p_ex[0], t)
    assert np.abs(q - q_ex).max() < 1e-8
    assert np.abs(p - p_ex).max() < 1e-8


def test_eq_A11_check_is_sensitive():
    """The check can fail: kernels 2% too strong (every c_s(j) scaled by 1.01, which also moves
    the −Γ′(0) shift and the initial slip) miss the exact mean by far more than 1e-8."""
    net = nw.paper_network(sites=50, strengths=(0.2, 0.2))
    t = np.arange(0, 50.001, 0.1)
    q_ex, p_ex = _exact_q(net, [0.14, 1.4], [0.0, 0.0], t)
    kern = lg.kernels(net, t)
    wrong = lg.Kernels(kern.times, kern.matrix, kern.coefficients * 1.01, kern.bath_frequencies,
                       kern.system_frequencies, kern.rotation, kern.theta, net)
    q, _ = lg.solve_mean(wrong, q_ex[0], p_ex[0], t)
    assert np.abs(q - q_ex).max() > 1e-4


def test_volterra_scheme_from_tabulated_kernels():
    """Eq. (A11) integrated from the TABULATED γ1, γ2, η only (trapezoid Volterra scheme):
    second-order convergence (error ratio ≈ 4 when the step halves) and, after Richardson
    extrapolation of h = 0.04 and 0.02, agreement with the exact mean to 1e-3 up to t = 60."""
    net = nw.paper_network(sites=40, plug=(1, 4), strengths=(0.2, 0.2))
    t = np.arange(0, 60.0001, 0.02)
    q_ex, p_ex = _exact_q(net, [0.14, 1.4], [0.0, 0.5], t)
    q1, _ = lg.volterra_mean(lg.kernels(net, t), q_ex[0], p_ex[0])
    q2, _ = lg.volterra_mean(lg.kernels(net, t[::2]), q_ex[0], p_ex[0])
    e1, e2 = np.abs(q1 - q_ex).max(), np.abs(q2 - q_ex[::2]).max()
    assert 3.5 < e2 / e1 < 4.5
    assert np.abs((4 * q1[::2] - q2) / 3 - q_ex[::2]).max() < 1e-3


def test_spectral_weights_sum_rule():
    """Γ′(0) = (2/π) ∫ J(ω)/ω dω: the discrete weights satisfy Σ_j w_j/Ω_j · 2/π = γ(0); the
    smoothed density integrates to the total weight."""
    net = nw.paper_network(sites=80, plug=(1, 9), strengths=(0.2, 0.15))
    kern = lg.kernels(net, [0.0])
    w = kern.spectral_weights()
    np.testing.assert_allclose(2 / np.pi * (w / kern.bath_frequencies).sum(axis=2), kern.matrix[0], rtol=1e-12)
    om = np.linspace(0.0, 3.0, 30001)
    j = kern.spectral_density(om)
    np.testing.assert_allclose(np.trapezoid(j, om, axis=0), w.sum(axis=2), rtol=1e-6, atol=1e-10)


def test_continuum_edge_density_matches_long_chain():
    """The closed-form edge density J = K² sin k/g (paths L = 0, 2) against the discrete spectral
    density of a 2000-site chain smoothed over 2 level spacings: within 1% inside the band."""
    K, M = 0.2, 2000
    net = nw.paper_network(sites=M, coupling=0.0, plug=(1, 1), strengths=(K, K))
    kern = lg.kernels(net, [0.0])
    om = np.linspace(0.6, 2.0, 15)
    smooth = np.einsum("as,wst,tb->wab", kern.rotation.T, kern.spectral_density(om, width=3 * kern.default_width()), kern.rotation)
    cont = lg.continuum_spectral_density(net, om, max_length=2)
    k = 2 * np.arcsin(np.sqrt((om**2 - 0.16) / 4.8))
    np.testing.assert_allclose(cont[:, 0, 0], K**2 * np.sin(k) / 1.2, rtol=1e-12)
    np.testing.assert_allclose(smooth, cont, rtol=1e-2)


def test_continuum_bulk_density_matches_smoothed_interior_site():
    """A site in the middle of a long chain, smoothed over a width that averages the wall
    interference, sees the infinite-chain density K²/(2g sin k) (direct path only)."""
    K, M = 0.2, 1500
    net = nw.paper_network(sites=M, coupling=0.0, plug=(750, 750), strengths=(K, K))
    kern = lg.kernels(net, [0.0])
    om = np.linspace(0.7, 1.9, 7)
    smooth = np.einsum("as,wst,tb->wab", kern.rotation.T, kern.spectral_density(om, width=0.03), kern.rotation)
    bulk = lg.continuum_spectral_density(net, om, max_length=0)
    np.testing.assert_allclose(smooth, bulk, rtol=2e-2)


@pytest.mark.parametrize("boundary", ["fixed", "free", "periodic"])
def test_green_function_by_images_is_the_resolvent(boundary):
    """Σ(z) = B (z − V_E)⁻¹ Bᵀ: the image sum over all paths against a direct solve at complex
    z (off the real axis, so that long paths are exponentially small)."""
    M = 25
    env = nw.chain(M, 0.4, 1.2, boundary)
    net = nw.couple(env, nw.probes([1.0, 1.1], 0.3, [2, 19], [0.2, -0.3]))
    z = 1.3 + 0.6j
    b = net.coupling_block()
    ref = b @ np.linalg.solve(z * np.eye(M) - env.potential(), b.T)
    got = lg.continuum_self_energy(net, z, max_length=40 * M)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-14)


def test_bad_input():
    net = nw.paper_network(sites=10)
    with pytest.raises(HarmosyncError, match="q0 and p0"):
        lg.solve_mean(net, [1.0], None, [0.0, 1.0])
    with pytest.raises(HarmosyncError, match="width"):
        lg.kernels(net, [0.0]).spectral_density([1.0], width=-1)
    with pytest.raises(HarmosyncError, match="times"):
        lg.kernels(net, [1.0, 0.5])
    single = nw.couple(nw.chain(10, 0.4, 1.2), nw.probes([1.0], 0.0, [1], [0.1]))
    with pytest.raises(HarmosyncError, match="two probes"):
        _ = lg.kernels(single, [0.0]).eta
