"""Exact dynamics: analytic solutions, the propagator's symplecticity, energy conservation and
the uncertainty principle along the evolution on seeded random networks."""

import numpy as np
import pytest

from harmosync import dynamics as dy
from harmosync.dynamics import reference as dyref
from harmosync import measures as ms
from harmosync import network as nw
from harmosync import states as st
from harmosync.conventions import symplectic_form, to_block

from conftest import random_network, random_probe_state


def lone_probe(omega, state, sites=4):
    """One probe with K = 0: it evolves as a free oscillator of frequency ω."""
    net = nw.couple(nw.chain(sites, 0.5, 1.0), nw.probes([omega], 0.0, [1], [0.0]))
    return net, st.InitialState(state)


def test_single_oscillator_means_and_variances():
    """x(t) = x0 cos ωt + (p0/ω) sin ωt; ⟨δx²⟩(t) = σxx c² + σpp s²/ω² + 2σxp cs/ω."""
    w = 1.3
    state = st.squeezed(w, 0.7, 0.9, x=0.4, p=-0.2)
    net, init = lone_probe(w, state)
    t = np.linspace(0, 30, 301)
    m = dy.solve(net, init, t_max=float(np.max(np.abs(t)))).moments(t)
    c, s = np.cos(w * t), np.sin(w * t)
    np.testing.assert_allclose(m.mean[:, 0], 0.4 * c - 0.2 / w * s, atol=1e-12)
    np.testing.assert_allclose(m.mean[:, 1], -0.4 * w * s - 0.2 * c, atol=1e-12)
    sxx, sxp, spp = state.cov[0, 0], state.cov[0, 1], state.cov[1, 1]
    np.testing.assert_allclose(m.cov[:, 0, 0], sxx * c**2 + spp * s**2 / w**2 + 2 * sxp * c * s / w, atol=1e-12)


def test_two_coupled_probes_oscillate_in_normal_modes_eq_A7():
    """K = 0: q1 = cos θ x1 + sin θ x2 oscillates at Ω1 alone, q2 at Ω2 (Eqs. A4, A5, A7)."""
    freqs, lam = (1.0, 1.1), 0.5
    net = nw.couple(nw.chain(3, 0.4, 1.2), nw.probes(freqs, lam, (1, 1), (0.0, 0.0)))
    init = st.InitialState(st.product(st.coherent(1.0, 0.14), st.coherent(1.1, 1.4)))
    t = np.linspace(0, 100, 2001)
    m = dy.solve(net, init, t_max=float(np.max(np.abs(t)))).moments(t)
    theta, om = nw.system_normal_modes(freqs, lam)
    q1, q2 = nw.system_mode_coordinates(m.mean[:, 0], m.mean[:, 2], theta)
    q10, q20 = nw.system_mode_coordinates(0.14, 1.4, theta)
    np.testing.assert_allclose(q1, q10 * np.cos(om[0] * t), atol=1e-12)
    np.testing.assert_allclose(q2, q20 * np.cos(om[1] * t), atol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_propagator_is_symplectic(seed):
    """S(t) Ω S(t)ᵀ = Ω for the exact propagator of a random network."""
    net = random_network(seed, probes=2 + seed % 2, sites=5)
    om = symplectic_form(net.size)
    for t in (0.3, 7.0, 123.4):
        s = dyref.propagator(net, t)
        np.testing.assert_allclose(s @ om @ s.T, om, atol=1e-10)


@pytest.mark.parametrize("seed", range(6))
def test_moments_match_dense_propagator(seed):
    """Low-rank normal-mode evaluation = S(t) σ(0) S(t)ᵀ, within the stated error bound, incl.
    a thermal environment and a non-uniform time grid."""
    net = random_network(seed, probes=2, sites=6, kind="chain" if seed % 2 else "graph")
    init = st.InitialState(random_probe_state(seed, net.probes.frequencies), 0.3 * (seed % 3))
    times = np.sort(np.random.default_rng(seed).uniform(0, 200, 17)) if seed % 2 else np.linspace(0, 200, 17)
    sol = dy.solve(net, init, observe=range(net.size))
    m = sol.moments(times)
    s0, mu0 = dyref.initial_covariance(net, init), dyref.initial_mean(net, init)
    for k, t in enumerate(times):
        s = dyref.propagator(net, t)
        np.testing.assert_allclose(m.mean[k], s @ mu0, atol=1e-11)
        np.testing.assert_allclose(m.cov[k], s @ s0 @ s.T, atol=max(1e-11, 10 * sol.error_bound))


@pytest.mark.parametrize("seed", range(4))
def test_energy_conserved_and_state_physical(seed):
    """⟨H⟩ = ½ Tr(V ⟨xxᵀ⟩) + ½ Tr⟨ppᵀ⟩ is constant; σ(t) + iΩ/2 ≥ 0 at all times."""
    net = random_network(10 + seed, probes=2, sites=5)
    init = st.InitialState(random_probe_state(seed, net.probes.frequencies), 0.2 * seed)
    sol = dy.solve(net, init, observe=range(net.size))
    m = sol.moments(np.linspace(0, 300, 61))
    v = net.potential()
    cb = to_block(m.cov)
    mb = to_block(m.mean)
    n = net.size
    xx = cb[:, :n, :n] + mb[:, :n, None] * mb[:, None, :n]
    pp = cb[:, n:, n:] + mb[:, n:, None] * mb[:, None, n:]
    energy = 0.5 * (np.einsum("ij,tji->t", v, xx) + np.einsum("tii->t", pp))
    np.testing.assert_allclose(energy, energy[0], rtol=1e-11)
    assert np.isclose(energy[0], sol.energy, rtol=1e-11)
    assert np.all(ms.is_physical(m.cov, tol=1e-10))


def test_paper_fig4_probe_block_physical_and_bounded(fig4_network, fig4_state):
    """The paper's Fig. 4 run: physical probe covariance at all 30001 times, rank stays small,
    error bound ≤ 1e-9."""
    sol = dy.solve(fig4_network, fig4_state)
    m = sol.moments(np.arange(0, 1500.0001, 0.05))
    assert sol.rank < 60 and sol.error_bound < 1e-9
    assert np.all(ms.is_physical(m.cov, tol=1e-9))


def test_chunking_does_not_change_results(fig1_network, fig1_state):
    sol = dy.solve(fig1_network, fig1_state)
    t = np.arange(0, 50, 0.05)
    a = sol.moments(t, block=64)
    b = sol.moments(t, block=1000)
    np.testing.assert_allclose(a.cov, b.cov, atol=1e-13)
    np.testing.assert_allclose(a.mean, b.mean, atol=1e-13)


@pytest.mark.parametrize("times, fragment", [([], "non-empty"), ([0, 2, 1], "increasing"), ([0, np.inf], "finite")])
def test_bad_time_grids(fig1_network, fig1_state, times, fragment):
    from harmosync.errors import HarmosyncError

    sol = dy.solve(fig1_network, fig1_state)
    with pytest.raises(HarmosyncError, match=fragment):
        sol.moments(times)
