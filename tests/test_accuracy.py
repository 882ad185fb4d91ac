"""Accuracy at the edges (issue 11): the exact moments against a 40-digit mpmath reference
(tests/reference_mp.py: σ(t) = S(t) σ(0) S(t)ᵀ, σ(0) = probes ⊗ thermal state of H_E alone),
on soft environments, hot soft modes, near-critical coupling and long times. Every case checks
that the error is small and that ``Evolution.error_bound`` is never below it; the cases named
in issue 11 also check that it is tight: bound ≤ 100·max(err, FLOOR·scale), FLOOR·scale being
the double-precision noise of a covariance of that scale (an error at that level cannot be
told from zero by a bound built from worst-case roundoff)."""

import numpy as np
import pytest

from harmosync import dynamics as dy
from harmosync.dynamics import reference as dyref
from harmosync import network as nw
from harmosync import states as st

from conftest import random_network, random_probe_state
from reference_mp import Reference

TIMES = np.array([0.0, 1.0, 10.0, 100.0, 1000.0])
#: relative noise floor of a double-precision covariance (see the module docstring)
FLOOR = 1e-13


def assert_tight(err, sol, scale, limit=100):
    """Honest (bound ≥ error) and tight (bound ≤ limit·max(error, noise floor)). ``limit`` is
    raised to 1000 only where the bound's frequency-error term dominates: it takes every
    eigenvalue off by the worst case 8ε‖V‖ and adds the phase errors coherently, while the
    actual phases err by ~ε‖V‖·t at random (hot soft chain, Fig. 4 up to t = 1500)."""
    assert err <= sol.error_bound
    assert sol.error_bound <= limit * max(err, FLOOR * scale), (err, sol.error_bound)


def soft_chain(m=20, omega0=1e-3, k=1e-3, boundary="free", temperature=0.0, sites=(1, 10)):
    """The audit's network: probes ω = (1, 1.1), λ = 0.3, coherent at x = (1, 0.5)."""
    net = nw.couple(nw.chain(m, omega0, 1.0, boundary), nw.probes((1.0, 1.1), 0.3, sites, (k, k)))
    state = st.product(st.coherent(1.0, 1.0), st.coherent(1.1, 0.5))
    return net, st.InitialState(state, temperature)


def errors(net, init, method, times=TIMES, observe=None, scale=False):
    ref_mean, ref_cov = Reference(net, init, observe=observe).moments(times)
    sol = dy.solve(net, init, method=method, observe=observe, t_max=float(times[-1]))
    m = sol.moments(times)
    out = float(np.abs(m.cov - ref_cov).max()), float(np.abs(m.mean - ref_mean).max()), sol
    return out + (float(np.abs(ref_cov).max()),) if scale else out


@pytest.mark.parametrize("seed", range(3))
def test_reference_agrees_with_the_float_propagator(seed):
    """The reference itself: S(t) σ(0) S(t)ᵀ with dynamics.propagator (float eigh) on benign networks."""
    net = random_network(seed, probes=2, sites=6)
    init = st.InitialState(random_probe_state(seed, net.probes.frequencies), 0.3 * seed)
    ref = Reference(net, init)
    for t in (0.0, 2.5, 40.0):
        s = dyref.propagator(net, t)
        full = s @ dyref.initial_covariance(net, init) @ s.T
        np.testing.assert_allclose(ref.at(t)[1], full[:4, :4], atol=1e-12)


@pytest.mark.parametrize("method", ["dense", "chain"])
def test_soft_free_chain_at_zero_temperature_keeps_its_digits(method):
    """The audit's case (Ω0 = 0.001, free ends: a mode at ω ≈ 0.00095): σ(0) is the product state
    exactly, and σ(t) agrees with the reference to 1e-12 (it was off by 2e-5)."""
    net, init = soft_chain()
    err, err_mean, sol, scale = errors(net, init, method, scale=True)
    assert err < 1e-12
    assert err_mean < 1e-11
    assert_tight(err, sol, scale)


@pytest.mark.parametrize("method", ["dense", "chain"])
def test_soft_free_chain_strong_coupling(method):
    """Ω0 = 0.005, K = 0.01 (refused as unphysical before): errors at roundoff."""
    net, init = soft_chain(omega0=5e-3, k=1e-2)
    err, _, sol, scale = errors(net, init, method, scale=True)
    assert err < 1e-12
    assert_tight(err, sol, scale)


@pytest.mark.parametrize("method", ["dense", "chain"])
def test_hot_soft_mode(method):
    """T = 0.5 with a mode at ω ≈ 0.001: ⟨X²⟩ ≈ T/ω² ~ 5e5 along it. The dense path is limited
    by the float V (its soft eigenvalue moves by ε‖V‖): the bound must say so."""
    net, init = soft_chain(temperature=0.5)
    err, _, sol, scale = errors(net, init, method, scale=True)
    assert err < 1e-10
    assert_tight(err, sol, scale, limit=100 if method == "dense" else 1000)


@pytest.mark.parametrize("method", ["dense", "chain"])
def test_soft_fixed_chain_warm_and_observed_site(method):
    """Fixed ends, Ω0 = 1e-4, K = 0.1, T = 0.2; a chain site observed too."""
    net, init = soft_chain(m=30, omega0=1e-4, k=0.1, boundary="fixed", temperature=0.2)
    err, _, sol, scale = errors(net, init, method, observe=[0, 1, 2 + 14], scale=True)
    assert err < 1e-11
    assert_tight(err, sol, scale)


def test_near_critical_coupling():
    """K at 99.9% of the stability limit: the lowest mode of V is soft although the chain is not."""
    env = nw.chain(12, 0.5, 1.0, "fixed")
    ge = np.linalg.inv(env.potential())[0, 0]
    k = 0.999 * np.sqrt(1.0 / ge)  # one probe, ω = 1: stable iff K² (V_E⁻¹)_11 < ω²
    net = nw.couple(env, nw.probes([1.0], 0.0, [1], [k]))
    init = st.InitialState(st.coherent(1.0, 0.7))
    err, _, sol = errors(net, init, "dense", times=np.array([0.0, 50.0, 500.0]))
    assert sol.frequencies[0] < 0.05
    assert err < 1e-10
    assert err <= sol.error_bound


@pytest.mark.parametrize("seed", range(6))
def test_bound_is_honest_on_seeded_random_soft_networks(seed):
    """Seeded random chains and graphs, half of them with an on-site frequency scaled down to
    a soft 1e-3…1e-2, at T = 0 or T > 0: error ≤ bound, and the error itself small."""
    rng = np.random.default_rng(100 + seed)
    kind = "chain" if seed % 2 else "graph"
    base = random_network(seed, probes=2, sites=8, kind=kind)
    env = base.environment
    if kind == "chain":
        env = nw.chain(8, float(rng.uniform(1e-3, 1e-2)), env.g, "free")
    pr = base.probes
    if kind == "chain":  # K ≲ ω Ω0 √M keeps the softened network stable
        om0 = env.omega0
        pr = nw.probes(pr.frequencies, float(pr.coupling[0, 1]), [s for _, s, _ in pr.attachments],
                       [float(np.sign(k)) * 0.3 * om0 for _, _, k in pr.attachments])
    net = nw.couple(env, pr)
    init = st.InitialState(random_probe_state(seed, net.probes.frequencies), float(rng.choice([0.0, 0.4])))
    err, _, sol = errors(net, init, "dense", times=np.array([0.0, 7.0, 300.0]))
    assert err <= sol.error_bound
    assert err < 1e-10


@pytest.mark.parametrize("figure", ["fig1", "fig4"])
def test_paper_runs_bound_is_tight(figure):
    """The paper's Fig. 1 (coherent probes, λ = 0.5, K = 0.2) and Fig. 4 (r = 2 squeezed probes,
    K = 0.8) parameters on a 40-site fixed chain (the 300-site runs: benchmarks/bench_accuracy.py),
    up to t = 1500: error at roundoff, bound honest and within 100× of it (or of the floor)."""
    if figure == "fig1":
        net = nw.paper_network(sites=40)
        init = st.InitialState(st.product(st.coherent(1.0, 0.14), st.coherent(1.1, 1.4)))
    else:
        net = nw.paper_network(sites=40, frequencies=(1.0, 1.2), coupling=0.0, strengths=(0.8, 0.8))
        init = st.InitialState(st.product(st.squeezed(1.0, 2.0), st.squeezed(1.2, 2.0)))
    times = np.array([0.0, 1.0, 10.0, 100.0, 1500.0])
    err, _, sol, scale = errors(net, init, "dense", times=times, scale=True)
    assert err < 1e-12 * scale
    assert_tight(err, sol, scale, limit=100 if figure == "fig1" else 1000)


@pytest.mark.parametrize("temperature", [0.0, 0.3])
@pytest.mark.parametrize("method", ["dense", "chain"])
def test_acoustic_fixed_chain(method, temperature):
    """Ω0 = 0 with fixed ends (issue 11, item 5): V_E = g·tridiag(−1, 2, −1), lowest mode
    2√g sin(π/2(M+1)) = 0.15 for M = 20. A squeezed probe and a coherent one, T = 0 and T > 0:
    moments at roundoff against the reference, and the bound honest."""
    net = nw.couple(nw.chain(20, 0.0, 1.0, "fixed"), nw.probes((1.0, 1.1), 0.3, (1, 10), (0.1, 0.1)))
    init = st.InitialState(st.product(st.coherent(1.0, 1.0), st.squeezed(1.1, 0.5, x=0.5)), temperature)
    assert net.environment.frequencies()[0] == pytest.approx(2 * np.sin(np.pi / 42), rel=1e-14)
    err, err_mean, sol, scale = errors(net, init, method, scale=True)
    assert err < 1e-12 * scale and err_mean < 1e-12
    assert_tight(err, sol, scale, limit=1000)
