"""Fast exact paths against the plain dense eigendecomposition and independent references.

Each fast path is checked against something that shares none of its numerics:

* pole rule of the stationary variance g(x) = ν(√x)/√x, ν = ½ coth(√x/2T) (paper Sec. V states;
  CONVENTIONS: vacuum ⟨x²⟩ = 1/2ω) against the closed form;
* low-rank Δ (harmosync.solvers.lowrank) against Δ = T σ(0) Tᵀ − diag(ν, ν) built from the dense
  eigendecomposition of V and the full 2N × 2N initial covariance;
* secular-equation normal modes (harmosync.solvers.arrowhead) against ``numpy.linalg.eigh``:
  eigenvalues, probe rows, orthogonality and the residual V u = μ u — probes at interior sites,
  at both ends, at one common site, four probes, strong coupling at 0.999 of the stability edge,
  free ends, and decoupled chain modes (deflation); the secular roots of many networks solved
  together (each bitwise as alone);
* non-uniform FFT trig sums against an extended-precision direct sum;
* solve(method="chain") against solve(method="dense"), and against scipy's DOP853 on the probe
  rows of the propagator, d/dt S_P = S_P A (a scaled-down W3);
* the many-network path (Fig. 6, sweeps over a plugging site) against single solves;
* the documented memory bound of the streamed evaluation (tracemalloc).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import random_network, random_probe_state
from scipy.integrate import solve_ivp

from harmosync import dynamics as dy
from harmosync.dynamics import normal_modes as nm
from harmosync.dynamics import reference as dyref
from harmosync import measures as ms
from harmosync import network as nw
from harmosync import states as st
from harmosync.conventions import thermal_factor, to_block
from harmosync.errors import HarmosyncError, UnstableNetworkError
from harmosync.solvers import trigsum as ts
from harmosync.solvers import arrowhead
from harmosync.solvers.arrowhead import arrowhead_modes
from harmosync.solvers.lowrank import low_rank_delta
from harmosync.solvers.stieltjes import variance_function, variance_rule

COHERENT = st.InitialState(st.product(st.coherent(1.0, 0.14), st.coherent(1.1, 1.4)))


def squeezed_pair(w1=1.0, w2=1.2, r=2.0, temperature=0.0):
    return st.InitialState(st.product(st.squeezed(w1, r), st.squeezed(w2, r, 0.7)), temperature)


# ----------------------------------------------------------------------------------------------
# Pole rule and low-rank Δ
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("temperature", [0.0, 0.01, 0.3, 1.0, 20.0])
def test_pole_rule_reproduces_stationary_variance(temperature):
    """Σ_q ω_q/(x + ζ_q) = ν(√x)/√x, ν = ½ coth(√x/2T), to 2e-15 relative on [a, b]."""
    a, b = 0.12, 6.0
    rule = variance_rule(a, b, temperature)
    x = np.linspace(a, b, 5001)
    w = np.sqrt(x)
    exact = 0.5 / w if temperature == 0 else 0.5 / np.tanh(w / (2 * temperature)) / w
    np.testing.assert_allclose(rule(x), exact, rtol=2e-15, atol=0)
    np.testing.assert_allclose(variance_function(x, temperature), exact, rtol=1e-15)
    assert rule.error <= 5e-14 * max(1.0, temperature)


# BUG (fixed, session 9): at b ≫ T² (stiff bonds, low T) the Matsubara rule took every pole up to
# 10√b one by one, 2e7 of them for b = 4e10 at T = 0.015, and the solve died in a MemoryError
# (606 GB asked). Beyond MATSUBARA_MAX the tail integral now starts where the Euler–Maclaurin term
# allows and is taken in doubling Gauss–Legendre panels (stieltjes._tail_panels).
@pytest.mark.parametrize("a, b, temperature", [(1e-8, 4e10, 0.015), (1e-6, 4e10, 0.3), (1e-8, 1e8, 0.01)])
def test_pole_rule_at_stiff_spectra_and_low_temperature(a, b, temperature):
    """ν(√x)/√x to 5e-15 relative at 4000 points log-spaced on [a, b] (evaluated in chunks), with
    at most 2·10⁴ poles (measured: 3,300 – 3,500; relative error ≤ 1.5e-15)."""
    rule = variance_rule(a, b, temperature)
    assert rule.poles.size <= 20000
    x = np.geomspace(a, b, 4000)
    w = np.sqrt(x)
    exact = 0.5 / np.tanh(w / (2 * temperature)) / w
    got = np.concatenate([rule(c) for c in np.array_split(x, 40)])
    np.testing.assert_allclose(got, exact, rtol=5e-15, atol=0)


def test_stiff_cold_chain_solves():
    """The reviewer's reproducer (a fixed chain of 5, g = 1e10, Ω0 = 2.3e-4, probes 5.2e-3 and 7.8e-2
    with K = 0.23, T = 0.015) solves: no MemoryError, and err ≤ error_bound against the 40-digit
    reference at t = 0, 10, 100, the probes and a site observed (measured 8.7e-11 ≤ 2.3e-9)."""
    from reference_mp import Reference

    net = nw.couple(nw.chain(5, 2.3e-4, 1e10, "fixed"), nw.probes((5.2e-3, 7.8e-2), 0.0, [1, 5], [0.23, 0.23]))
    init = st.InitialState(st.product(st.squeezed(5.2e-3, 0.3, 0.7), st.squeezed(7.8e-2, 0.3, 0.7)), 0.015)
    times = [0.0, 10.0, 100.0]
    ref_mean, ref_cov = Reference(net, init, observe=[0, 1, 4]).moments(times)
    sol = dy.solve(net, init, method="dense", observe=[0, 1, 4], t_max=100.0)
    m = sol.moments(times)
    err = max(float(np.abs(m.cov - ref_cov).max()), float(np.abs(m.mean - ref_mean).max()))
    assert err <= sol.error_bound < np.inf


def dense_delta(net, init):
    """Δ = T σ(0) Tᵀ − diag(ν, ν), T = blockdiag(√w Uᵀ, Uᵀ/√w), from numpy.linalg.eigh and the
    full initial covariance (block ordering)."""
    w, u = np.linalg.eigh(net.potential())
    w = np.sqrt(w)
    s0 = to_block(dyref.initial_covariance(net, init))
    n = w.size
    t = np.block([[np.sqrt(w)[:, None] * u.T, np.zeros((n, n))], [np.zeros((n, n)), u.T / np.sqrt(w)[:, None]]])
    nu = thermal_factor(w, init.environment_temperature)
    return t @ s0 @ t.T - np.diag(np.concatenate([nu, nu])), w, u


DELTA_CASES = {
    "fig1": lambda: (nw.paper_network(), COHERENT),
    "fig4": lambda: (nw.paper_network(frequencies=(1.0, 1.2), coupling=0.0, strengths=(0.8, 0.8)),
                     squeezed_pair()),
    "thermal-interior": lambda: (nw.paper_network(sites=40, plug=(3, 30), strengths=(0.3, -0.2)),
                                 st.InitialState(st.product(st.thermal(1.0, 0.5, x=0.3), st.squeezed(1.1, 0.5, 0.3)), 0.7)),
    "graph-3probes": lambda: (random_network(3, probes=3, sites=7),
                              st.InitialState(random_probe_state(3, random_network(3, probes=3, sites=7).probes.frequencies), 0.2)),
}


@pytest.mark.parametrize("case", sorted(DELTA_CASES))
def test_low_rank_delta_matches_dense(case):
    """The low-rank Δ (resolvent identity + pole rule, probe rows only) equals the dense Δ
    within its stated bound."""
    net, init = DELTA_CASES[case]()
    ref, w, u = dense_delta(net, init)
    p = net.n_probes
    env_w, env_u = net.environment.modes()
    lr = low_rank_delta(w**2, u[:p], net.probes.potential(), env_w**2, net.coupling_block() @ env_u,
                        init.probes.cov, init.environment_temperature)
    got = np.einsum("r,anr,bmr->anbm", lr.values, lr.vectors, lr.vectors).reshape(ref.shape)
    err = np.abs(got - ref).max()
    assert err <= lr.bound + 1e-13 * max(1.0, np.abs(ref).max()), (err, lr.bound)
    assert lr.bound < 1e-10
    assert lr.values.size < 40  # numerically low rank


# ----------------------------------------------------------------------------------------------
# Secular-equation normal modes
# ----------------------------------------------------------------------------------------------
def _edge(strengths=(0.8, 0.8), frac=0.999):
    net = nw.paper_network(sites=120, frequencies=(1.0, 1.2), coupling=0.0, strengths=strengths)
    _, s_star = nw.stability_report(net)
    return nw.paper_network(sites=120, frequencies=(1.0, 1.2), coupling=0.0,
                            strengths=tuple(k * s_star * frac for k in strengths))


MODE_CASES = {
    "common-site": lambda: nw.paper_network(sites=120),
    "both-ends": lambda: nw.paper_network(sites=120, plug=(1, 120), coupling=0.0),
    "interior": lambda: nw.paper_network(sites=120, plug=(60, 61), strengths=(0.3, -0.2)),
    "deflation-center": lambda: nw.paper_network(sites=121, plug=(61, 31)),
    "four-probes": lambda: nw.couple(nw.chain(90, 0.4, 1.2), nw.probes([1.0, 1.1, 0.9, 1.3], 0.2, [1, 30, 60, 90],
                                                                        [0.2, 0.3, 0.1, 0.25])),
    "multi-site-probe": lambda: nw.couple(nw.chain(80, 0.5, 1.0), nw.probes([1.0, 1.2], 0.1, [[3, 40], 77], [[0.2, -0.1], 0.3])),
    "uncoupled-probe": lambda: nw.couple(nw.chain(80, 0.4, 1.2), nw.probes([1.0, 1.1], 0.5, [1, 5], [0.2, 0.0])),
    "stability-edge": _edge,
    "free-ends": lambda: nw.couple(nw.chain(100, 0.4, 1.2, "free"), nw.probes([1.0, 1.1], 0.5, [1, 7], [0.2, 0.3])),
}


@pytest.mark.parametrize("case", sorted(MODE_CASES))
def test_secular_modes_match_dense_eigh(case):
    """Eigenvalues, probe rows (sign-free products a_i a_j), orthonormality UᵀU = 1 and the
    residual V U = U diag(μ) of the secular-equation modes, against numpy.linalg.eigh."""
    net = MODE_CASES[case]()
    p = net.n_probes
    lam, u = np.linalg.eigh(net.potential())
    env_w, env_u = net.environment.modes()
    modes = arrowhead_modes(net.probes.potential(), env_w**2, net.coupling_block() @ env_u)
    scale = np.abs(lam).max()
    np.testing.assert_allclose(modes.values, lam, rtol=0, atol=1e-13 * scale)
    full = modes.rows(probe_rows=np.eye(p), env_rows=env_u)  # all rows of U, site basis
    a = full[:p]
    prod = np.einsum("ik,jk->ijk", a, a)
    prod_ref = np.einsum("ik,jk->ijk", u[:p], u[:p])
    # compare per eigenvalue cluster-free modes (all are distinct here)
    assert np.abs(prod - prod_ref).max() < 1e-12
    np.testing.assert_allclose(full.T @ full, np.eye(full.shape[1]), atol=1e-12)
    assert np.abs(net.potential() @ full - full * modes.values).max() < 1e-12 * scale


def test_secular_roots_of_a_batch_are_each_network_alone():
    """secular_solve_many on networks sharing the poles λ: the roots μ_k and norms n_k of
    [[s, zᵀ], [z, diag(λ)]] equal numpy.linalg.eigh's eigenvalues and |U_0k| (the probe
    component, n_k of the module docstring), and each network's numbers are bitwise those it
    gets alone or in another batch (a sweep's results do not depend on how it is cut)."""
    rng = np.random.default_rng(11)
    n, nb = 70, 6
    poles = np.sort(rng.uniform(0.1, 4.0, n))
    z = rng.normal(0.0, 0.3, (nb, n))
    z[2] *= 1e-4  # weak coupling: roots within ~1e-8 of the poles
    z[4] *= 30.0  # strong coupling: roots far outside [λ_1, λ_n]
    s = rng.uniform(0.5, 3.0, nb)
    origin, tau, norm = arrowhead.secular_solve_many(poles, z, s)
    part = arrowhead.secular_solve_many(poles, z[[4, 1]], s[[4, 1]])
    for b in range(nb):
        alone = arrowhead.secular_solve(poles, z[b], s[b])
        for got, ref in zip((origin[b], tau[b], norm[b]), alone):
            assert np.array_equal(got, ref)
        a = np.diag(np.concatenate([[s[b]], poles]))
        a[0, 1:] = a[1:, 0] = z[b]
        lam, u = np.linalg.eigh(a)
        scale = np.abs(lam).max()
        np.testing.assert_allclose(poles[origin[b]] + tau[b], lam, rtol=0, atol=1e-13 * scale)
        np.testing.assert_allclose(norm[b], np.abs(u[0]), rtol=0, atol=1e-12)
    for j, b in enumerate((4, 1)):
        assert all(np.array_equal(p[j], q[b]) for p, q in zip(part, (origin, tau, norm)))


@pytest.mark.parametrize("boundary", ["fixed", "free"])
def test_solve_chain_matches_dense_solve(boundary):
    """solve(method="chain") = solve(method="dense"): means and covariance of the probes and of
    an observed site, on a uniform and a non-uniform grid, within the stated bounds."""
    net = nw.paper_network(sites=150, plug=(2, 100), coupling=0.3, strengths=(0.25, -0.3), boundary=boundary)
    init = st.InitialState(st.product(st.squeezed(1.0, 1.0, 0.3, x=0.5), st.coherent(1.1, -0.4, 0.7)), 0.2)
    rows = (0, 1, 2 + 49)
    a = dy.solve(net, init, observe=rows, method="dense")
    b = dy.solve(net, init, observe=rows, method="chain")
    assert a.method == "dense" and b.method == "chain"
    assert np.isclose(a.energy, b.energy, rtol=1e-12)
    for times in (np.linspace(0, 400, 4001), np.sort(np.random.default_rng(1).uniform(0, 400, 300))):
        ma, mb = a.moments(times), b.moments(times)
        tol = max(1e-11, 10 * (a.error_bound + b.error_bound))
        np.testing.assert_allclose(mb.mean, ma.mean, atol=1e-11)
        np.testing.assert_allclose(mb.cov, ma.cov, atol=tol)


def test_energy_is_the_initial_expectation_of_H():
    """Solution.energy = ½ Tr(V⟨xxᵀ⟩) + ½ Tr⟨ppᵀ⟩ at t = 0 from the full initial state."""
    net = nw.paper_network(sites=30, plug=(4, 9))
    init = st.InitialState(st.product(st.squeezed(1.0, 0.8, 1.0, x=0.2, p=0.1), st.thermal(1.1, 0.4)), 0.5)
    s0 = to_block(dyref.initial_covariance(net, init))
    m0 = to_block(dyref.initial_mean(net, init))
    n = net.size
    xx = s0[:n, :n] + np.outer(m0[:n], m0[:n])
    pp = s0[n:, n:] + np.outer(m0[n:], m0[n:])
    ref = 0.5 * (np.trace(net.potential() @ xx) + np.trace(pp))
    for method in ("dense", "chain"):
        assert np.isclose(dy.solve(net, init, method=method).energy, ref, rtol=1e-13)


def probe_rows_ivp(v, p, times, rtol=1e-12, atol=1e-14):
    """Probe rows S_P (2P × 2N, block ordering) of S(t) = exp(At), A = [[0, 1], [−V, 0]], by
    DOP853 on d/dt S_P = S_P A, with V sparse."""
    n = v.shape[0]
    vs = sp.csr_matrix(v)

    def rhs(_, y):
        s = y.reshape(2 * p, 2 * n)
        return np.hstack([-(vs @ s[:, n:].T).T, s[:, :n]]).ravel()

    s0 = np.zeros((2 * p, 2 * n))
    s0[:p, :p] = np.eye(p)
    s0[p:, n:n + p] = np.eye(p)
    sol = solve_ivp(rhs, (0, times[-1]), s0.ravel(), method="DOP853", t_eval=times, rtol=rtol, atol=atol)
    assert sol.success
    return sol.y.T.reshape(times.size, 2 * p, 2 * n)


def test_structured_path_matches_solve_ivp():
    """A scaled-down W3 (M = 500 > DENSE_MAX: secular path, no cut) against DOP853 on the probe
    rows of the propagator: ⟨R_P⟩ = S_P⟨R⟩(0), σ_PP = S_P σ(0) S_Pᵀ, to 1e-8."""
    net = nw.paper_network(sites=500, plug=(1, 3))
    init = squeezed_pair(r=1.0)
    sol = dy.solve(net, init)
    assert sol.method == "chain"
    times = np.linspace(0, 60, 7)
    m = sol.moments(times)
    s_p = probe_rows_ivp(net.potential(), 2, times)
    s0 = to_block(dyref.initial_covariance(net, init))
    mu0 = to_block(dyref.initial_mean(net, init))
    cov_ref = s_p @ s0 @ np.swapaxes(s_p, 1, 2)
    np.testing.assert_allclose(to_block(m.cov), cov_ref, atol=1e-8)
    np.testing.assert_allclose(to_block(m.mean), s_p @ mu0, atol=1e-8)


# ----------------------------------------------------------------------------------------------
# Trig sums
# ----------------------------------------------------------------------------------------------
def test_nufft_trig_sums_match_extended_precision():
    """Σ_k α cos(w t) + β sin(w t) on t_j = t0 + jh: NUFFT and BLAS evaluators against a
    long-double direct sum, to 1e-13 of Σ|α| + |β| (chunks of 2^12: several chunks)."""
    rng = np.random.default_rng(2)
    n, c, count, h, t0 = 250, 5, 9000, 0.05, 3.7
    w = np.sort(rng.uniform(0.3, 2.3, n))
    a, b = rng.normal(size=(n, c)), rng.normal(size=(n, c))
    fast = np.vstack([v for _, v in ts.nufft(w, a, b, t0, h, count, chunk=1 << 12)])
    blas = np.vstack([v for _, v in ts.direct(w, a, b, t0, h, count)])
    idx = np.arange(0, count, 37)
    tl = np.longdouble(t0) + np.longdouble(h) * idx.astype(np.longdouble)
    wl = w.astype(np.longdouble)
    ref = (np.cos(np.outer(tl, wl)) @ a.astype(np.longdouble) + np.sin(np.outer(tl, wl)) @ b.astype(np.longdouble))
    scale = np.abs(a).sum(0) + np.abs(b).sum(0)
    assert (np.abs(fast[idx] - ref.astype(float)).max(0) / scale).max() < 1e-13
    assert (np.abs(blas[idx] - ref.astype(float)).max(0) / scale).max() < 1e-13


def test_moment_engines_agree(fig1_network, fig1_state):
    """iter_moments with the NUFFT and with BLAS blocks give the same moments; means() = the
    means of moments(); a zero initial mean stays exactly zero."""
    sol = dy.solve(fig1_network, fig1_state)
    t = 0.05 * np.arange(6001)
    a = sol.moments(t, engine="nufft")
    b = sol.moments(t, engine="direct")
    np.testing.assert_allclose(a.mean, b.mean, atol=1e-12)
    np.testing.assert_allclose(a.cov, b.cov, atol=1e-12)
    np.testing.assert_allclose(sol.means(t), a.mean, atol=1e-12)
    zero = dy.solve(fig1_network, squeezed_pair(1.0, 1.1, 0.5))
    assert np.all(zero.moments(t, engine="nufft").mean == 0.0)


def test_means_only_solution_refuses_moments(fig1_network, fig1_state):
    sol = dy.solve(fig1_network, fig1_state, covariance=False)
    t = np.linspace(0, 100, 1001)
    np.testing.assert_allclose(sol.means(t), (dy.solve(fig1_network, fig1_state)).moments(t).mean, atol=1e-12)
    with pytest.raises(HarmosyncError, match="covariance=False"):
        sol.moments(t)


def test_streamed_memory_is_bounded_by_n_and_chunk():
    """Streaming 200 001 times through iter_moments needs memory bounded by the documented
    8·N·(6C + 8) + 48·L·C bytes (C columns, L the NUFFT chunk), not by T × N."""
    net = nw.paper_network(sites=600)
    sol = dy.solve(net, squeezed_pair(r=1.0))
    n, c = sol.frequencies.size, 4 * (sol.rank + 1)
    from harmosync.dynamics.evaluation import nufft_chunk

    chunk = nufft_chunk(c)
    bound = 8 * n * (6 * c + 8) + 48 * chunk * c
    times = 0.05 * np.arange(200_001)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    total = 0.0
    for _, mean, cov in sol.iter_moments(times):
        total += float(cov[:, 0, 0].sum())
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    assert np.isfinite(total)
    assert peak <= bound, (peak, bound)
    assert peak < 0.1 * times.size * n * 8  # far below one T × N array


# ----------------------------------------------------------------------------------------------
# Many networks on one chain
# ----------------------------------------------------------------------------------------------
def test_solve_many_matches_single_solves():
    """solve_many over a plugging sweep (the chain's modes and probe 1's secular stage shared)
    = dy.solve per network: sites at the end, interior, the common site, the far end."""
    env = nw.chain(60, 0.4, 1.2)
    pr = nw.probes((1.0, 1.1), 0.5, (1, 1), (0.2, 0.2))
    sites = [1, 2, 31, 60]
    init = squeezed_pair(1.0, 1.1, 0.8)
    nets = [nw.couple(env, q) for q in dy.plugging_sweep(pr, sites)]
    t = np.linspace(0, 150, 1501)
    sols = dy.solve_many(nets, init, t_max=t[-1])
    assert all(s.method == "chain" for s in sols)  # the shared path, not per-network solves
    for s, sol in zip(sites, sols):
        ref = dy.solve(nw.couple(env, nw.probes((1.0, 1.1), 0.5, (1, s), (0.2, 0.2))), init)
        a, b = sol.moments(t), ref.moments(t)
        np.testing.assert_allclose(a.mean, b.mean, atol=1e-11)
        np.testing.assert_allclose(a.cov, b.cov, atol=max(1e-11, 10 * (sol.error_bound + ref.error_bound)))
        assert np.isclose(sol.energy, ref.energy, rtol=1e-13)


def test_solve_many_mixes_environments_and_cuts():
    """Networks on different chains, a graph and a chain the light cone cuts each get the
    evolution dy.solve gives them, in the order given."""
    a = nw.couple(nw.chain(30, 0.4, 1.2), nw.probes((1.0, 1.1), 0.5, (1, 5), (0.2, 0.2)))
    b = nw.couple(nw.chain(31, 0.4, 1.2), nw.probes((1.0, 1.1), 0.5, (1, 5), (0.2, 0.2)))
    ring = np.array([[0, 1.0, 1.0], [1.0, 0, 1.0], [1.0, 1.0, 0]])
    g = nw.couple(nw.graph(ring, 0.5), nw.probes((1.0, 1.1), 0.5, (1, 3), (0.2, 0.2)))
    long = nw.couple(nw.chain(3000, 0.4, 1.2), nw.probes((1.0, 1.1), 0.5, (1, 2), (0.2, 0.2)))
    t = np.linspace(0, 20, 201)
    sols = dy.solve_many([a, g, b, long], COHERENT, t_max=t[-1])
    assert "lightcone" in sols[3].method
    for net, sol in zip([a, g, b, long], sols):
        ref = dy.solve(net, COHERENT, t_max=t[-1])
        np.testing.assert_allclose(sol.moments(t).mean, ref.moments(t).mean, atol=1e-11)


def test_solve_many_refuses_mismatched_states():
    env = nw.chain(40, 0.4, 1.2)
    net = nw.couple(env, nw.probes((1.0, 1.2), 0.0, (1, 1), (0.2, 0.2)))
    with pytest.raises(HarmosyncError, match="initial states for 2 networks"):
        dy.solve_many([net, net], [COHERENT])
    three = st.InitialState(st.product(st.coherent(1.0), st.coherent(1.0), st.coherent(1.0)))
    with pytest.raises(HarmosyncError, match="probe modes"):
        dy.solve_many([net], three)


@pytest.mark.parametrize("threads", [1, 2])
def test_nufft_rows_are_the_values_transposed(threads):
    """The NUFFT's (C, L) rows (each column contiguous, for moments by entry) are bitwise its
    (L, C) values transposed, with one FFT thread or several (row blocks split at ducc0's SIMD
    groups), over several chunks and an odd column count (35 rows: two blocks, a remainder)."""
    rng = np.random.default_rng(4)
    n, c, count = 200, 69, 9001
    w = np.sort(rng.uniform(0.3, 2.3, n))
    a, b = rng.normal(size=(n, c)), rng.normal(size=(n, c))
    with ts.fft_threads(threads):
        cols = np.vstack([v for _, v in ts.nufft(w, a, b, 1.3, 0.05, count, chunk=1 << 12)])
        rows = np.hstack([v for _, v in ts.nufft(w, a, b, 1.3, 0.05, count, chunk=1 << 12, rows=True)])
    with ts.fft_threads(3 - threads):
        other = np.vstack([v for _, v in ts.nufft(w, a, b, 1.3, 0.05, count, chunk=1 << 12)])
    assert np.array_equal(rows.T, cols) and np.array_equal(cols, other)


def test_moments_by_entry_and_streamed_are_the_same_numbers(fig1_network, fig1_state):
    """moments(by_entry=True) holds the numbers of moments() (bitwise), stored entry by entry
    (cov[:, a, b] contiguous); iter_moments streams the same numbers; σ stays symmetric."""
    sol = dy.solve(fig1_network, fig1_state)
    t = 0.05 * np.arange(7001)
    a = sol.moments(t)
    b = sol.moments(t, by_entry=True)
    assert np.array_equal(a.mean, b.mean) and np.array_equal(a.cov, b.cov)
    assert b.cov[:, 1, 2].flags.c_contiguous and a.cov.flags.c_contiguous
    streamed = np.concatenate([c for _, _, c in sol.iter_moments(t, block=1000)])
    assert np.array_equal(streamed, a.cov) and np.array_equal(a.cov, np.swapaxes(a.cov, 1, 2))
