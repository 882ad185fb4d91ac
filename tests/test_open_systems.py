"""Open systems (CONVENTIONS, "Open systems"; harmosync.baths, harmosync.dynamics.open).

Checked against: QuTiP's mesolve in truncated Fock space (Lindblad local, common with weights,
thermal; Brownian through its superoperator), scipy's solve_ivp on the full equations
dm/dt = A m, dσ/dt = Aσ + σAᵀ + D (networks of 20–60 oscillators), analytic solutions of a
single damped oscillator, and invariants (σ + iΩ/2 ≥ 0 under Lindblad baths; the closed solver
at γ = 0).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
from scipy.integrate import solve_ivp

from harmosync import config, simulation
from harmosync import dynamics as dy
from harmosync import network as nw
from harmosync import states as st
from harmosync.baths import Bath, drift_diffusion
from harmosync.conventions import symplectic_form, thermal_occupation
from harmosync.errors import HarmosyncError


def alone(freqs, coupling=0.0):
    return nw.couple(nw.no_environment(), nw.probes(freqs, coupling, None, None))


def coherent_pair(freqs, xs, ps=(0.0, 0.0)):
    return st.InitialState(st.product(*(st.coherent(w, x, p) for w, x, p in zip(freqs, xs, ps))))


def lyapunov_ivp(network, initial, baths, times, rows=None):
    """The reference: dm/dt = A m, dσ/dt = Aσ + σAᵀ + D integrated by DOP853 (tight tolerances),
    from the full initial state (probes ⊕ environment's own thermal state)."""
    a, d = drift_diffusion(network, baths)
    n2 = a.shape[0]
    p = network.n_probes
    m0 = np.zeros(n2)
    m0[: 2 * p] = initial.probes.mean
    s0 = np.zeros((n2, n2))
    s0[: 2 * p, : 2 * p] = initial.probes.cov
    if network.environment.sites:
        om, w = network.environment.modes()
        xx, pp = st.environment_covariance(om, w, initial.environment_temperature)
        s0[2 * p::2, 2 * p::2], s0[2 * p + 1::2, 2 * p + 1::2] = xx, pp

    def rhs(_, y):
        m, s = y[:n2], y[n2:].reshape(n2, n2)
        return np.concatenate([a @ m, (a @ s + s @ a.T + d).ravel()])

    sol = solve_ivp(rhs, (0, times[-1]), np.concatenate([m0, s0.ravel()]), method="DOP853",
                    t_eval=times, rtol=1e-11, atol=1e-13)
    rows = range(p) if rows is None else rows
    idx = np.ravel([[2 * r, 2 * r + 1] for r in rows])
    y = sol.y.T
    return y[:, idx], y[:, n2:].reshape(-1, n2, n2)[:, idx][:, :, idx]


# ---------------------------------------------------------------------------------------------
# Analytic: one damped oscillator
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("temperature", [0.0, 0.7])
def test_single_lindblad_oscillator_decays_at_half_rate_to_its_thermal_state(temperature):
    """Local Lindblad bath on an isolated oscillator: ⟨x(t)⟩ = x0 e^{−γt/2} cos ωt, and
    σ(t) = e^{−γt} σ(0) + (1 − e^{−γt}) σ_th with σ_th = (n̄ + ½) diag(1/ω, ω) (the vacuum σ(0)
    is rotation invariant in scaled units)."""
    w, g, x0 = 1.3, 0.08, 0.9
    net = alone([w])
    evo = dy.solve(net, st.InitialState(st.coherent(w, x0)),
                   baths=[Bath("lindblad", g, probes=(1,), temperature=temperature)])
    t = np.linspace(0, 60, 601)
    m = evo.moments(t)
    np.testing.assert_allclose(m.mean[:, 0], x0 * np.exp(-g * t / 2) * np.cos(w * t), atol=1e-12)
    nu = float(thermal_occupation(w, temperature)) + 0.5
    th, vac = nu * np.diag([1 / w, w]), 0.5 * np.diag([1 / w, w])
    ref = np.exp(-g * t)[:, None, None] * vac + (1 - np.exp(-g * t))[:, None, None] * th
    np.testing.assert_allclose(m.cov, ref, atol=1e-12)
    np.testing.assert_allclose(evo.steady_state(), th, atol=1e-13)
    assert evo.energy is None and evo.diagnostics()["slowest_rate"] == pytest.approx(g / 2)


def test_single_brownian_oscillator_relaxes_to_its_thermal_state_even_at_critical_damping():
    """Brownian bath (w_b = ω): dx = p dt, dp = (−ω²x − γp) dt + noise; ⟨x⟩ solves the damped
    oscillator equation. At γ = 2ω (critical, A defective) ⟨x(t)⟩ = x0 (1 + ωt) e^{−ωt}; the
    steady state is thermal, ⟨x²⟩ = (n̄ + ½)/ω, ⟨p²⟩ = (n̄ + ½)ω."""
    w, temp, x0 = 1.0, 0.5, 1.0
    net = alone([w])
    t = np.linspace(0, 20, 201)
    for g in (0.3, 2 * w):
        evo = dy.solve(net, st.InitialState(st.coherent(w, x0)),
                       baths=[Bath("brownian", g, probes=(1,), temperature=temp)])
        m = evo.moments(t)
        if g == 2 * w:
            ref = x0 * (1 + w * t) * np.exp(-w * t)
        else:
            wd = np.sqrt(w**2 - g**2 / 4)
            ref = x0 * np.exp(-g * t / 2) * (np.cos(wd * t) + g / (2 * wd) * np.sin(wd * t))
        np.testing.assert_allclose(m.mean[:, 0], ref, atol=1e-11)
        nu = float(thermal_occupation(w, temp)) + 0.5
        np.testing.assert_allclose(evo.steady_state(), np.diag([nu / w, nu * w]), atol=1e-12)
        ivp_mean, ivp_cov = lyapunov_ivp(net, st.InitialState(st.coherent(w, x0)),
                                         [Bath("brownian", g, probes=(1,), temperature=temp)], t)
        np.testing.assert_allclose(m.cov, ivp_cov, atol=1e-9)
        assert evo.error_bound < 1e-8


# ---------------------------------------------------------------------------------------------
# QuTiP in Fock space
# ---------------------------------------------------------------------------------------------
def _qutip_moments(freqs, lam, alphas, baths_q, times, cutoff):
    """⟨R⟩ and σ of two oscillators from QuTiP's mesolve (Fock cutoff ``cutoff``);
    ``baths_q(x, p, a)`` returns (collapse operators, extra Liouvillian or None)."""
    qt = pytest.importorskip("qutip")
    a = [qt.tensor(qt.destroy(cutoff), qt.qeye(cutoff)), qt.tensor(qt.qeye(cutoff), qt.destroy(cutoff))]
    x = [(a[j] + a[j].dag()) / np.sqrt(2 * freqs[j]) for j in range(2)]
    p = [1j * np.sqrt(freqs[j] / 2) * (a[j].dag() - a[j]) for j in range(2)]
    h = sum(freqs[j] * (a[j].dag() * a[j]) for j in range(2)) + 0.5 * lam * (x[0] - x[1]) ** 2
    psi = qt.tensor(qt.coherent(cutoff, alphas[0]), qt.coherent(cutoff, alphas[1]))
    c_ops, extra = baths_q(x, p, a)
    ops = [x[0], p[0], x[1], p[1]]
    e_ops = ops + [(ops[i] * ops[j] + ops[j] * ops[i]) / 2 for i in range(4) for j in range(i, 4)]
    if extra is not None:
        liou = qt.liouvillian(h, c_ops) + extra
        res = qt.mesolve(liou, psi * psi.dag(), times, e_ops=e_ops, options={"atol": 1e-12, "rtol": 1e-10})
    else:
        res = qt.mesolve(h, psi * psi.dag(), times, c_ops=c_ops, e_ops=e_ops,
                         options={"atol": 1e-12, "rtol": 1e-10})
    ev = [np.real(np.asarray(e)) for e in res.expect]
    mean = np.stack(ev[:4], axis=1)
    cov = np.empty((len(times), 4, 4))
    k = 4
    for i in range(4):
        for j in range(i, 4):
            cov[:, i, j] = cov[:, j, i] = ev[k] - mean[:, i] * mean[:, j]
            k += 1
    return mean, cov


FREQS, LAM = (1.0, 1.2), 0.15
ALPHAS = (0.5, 0.3j)


def _harmosync(baths, times):
    net = alone(FREQS, LAM)
    xs = [np.sqrt(2 / w) * np.real(a) for w, a in zip(FREQS, ALPHAS)]
    ps = [np.sqrt(2 * w) * np.imag(a) for w, a in zip(FREQS, ALPHAS)]
    return dy.solve(net, coherent_pair(FREQS, xs, ps), baths=baths).moments(times)


def _compare_in_cutoff(baths, baths_q, times, tol):
    """Converges in the Fock cutoff: the error falls from the smaller cutoff to the larger one
    and ends below ``tol``."""
    m = _harmosync(baths, times)
    errs = []
    for cutoff in (6, 14):
        mean, cov = _qutip_moments(FREQS, LAM, ALPHAS, baths_q, times, cutoff)
        errs.append(max(np.abs(mean - m.mean).max(), np.abs(cov - m.cov).max()))
    assert errs[1] < errs[0] and errs[1] < tol, errs


def test_lindblad_local_thermal_against_qutip():
    """Separate baths at T = 0.5: L_j = a_j at γ(n̄_j + 1), a_j† at γ n̄_j, n̄_j at ω_j."""
    g, temp = 0.1, 0.5
    nb = [float(thermal_occupation(w, temp)) for w in FREQS]

    def baths_q(x, p, a):
        ops = []
        for j in range(2):
            ops += [np.sqrt(g * (nb[j] + 1)) * a[j], np.sqrt(g * nb[j]) * a[j].dag()]
        return ops, None

    _compare_in_cutoff([Bath("lindblad", g, probes=(1, 2), temperature=temp)], baths_q,
                       np.linspace(0, 8, 9), 1e-6)


def test_lindblad_common_with_weights_against_qutip():
    """One common bath, L = a_1 − 0.5 a_2, occupation n̄ = 0.3."""
    g, nbar = 0.2, 0.3

    def baths_q(x, p, a):
        el = a[0] - 0.5 * a[1]
        return [np.sqrt(g * (nbar + 1)) * el, np.sqrt(g * nbar) * el.dag()], None

    _compare_in_cutoff([Bath("lindblad", g, probes=(1, 2), occupation=nbar, common=True, weights=(1.0, -0.5))],
                       baths_q, np.linspace(0, 8, 9), 1e-6)


def test_brownian_common_against_qutip_superoperator():
    """−i(γ/2)[X, {P, ρ}] − D_c[X, [X, ρ]] with X = x1 + x2, P = p1 + p2, D_c = γ w_b (n̄ + ½),
    w_b = mean of the frequencies, n̄ at w_b."""
    qt = pytest.importorskip("qutip")
    g, temp = 0.05, 0.4
    wb = float(np.mean(FREQS))
    dc = g * wb * (float(thermal_occupation(wb, temp)) + 0.5)

    def baths_q(x, p, a):
        big_x, big_p = x[0] + x[1], p[0] + p[1]
        pre, post = qt.spre, qt.spost
        # [X, {P, ρ}] = XPρ + XρP − PρX − ρPX;  [X, [X, ρ]] = XXρ − 2XρX + ρXX
        anti = pre(big_x * big_p) + pre(big_x) * post(big_p) - pre(big_p) * post(big_x) - post(big_p * big_x)
        double = pre(big_x * big_x) - 2 * pre(big_x) * post(big_x) + post(big_x * big_x)
        return [], -1j * (g / 2) * anti - dc * double

    _compare_in_cutoff([Bath("brownian", g, probes=(1, 2), temperature=temp, common=True)], baths_q,
                       np.linspace(0, 6, 7), 1e-6)


# ---------------------------------------------------------------------------------------------
# solve_ivp on the full Lyapunov equation, 20–60 oscillators
# ---------------------------------------------------------------------------------------------
def _graph_network(m, seed):
    rng = np.random.default_rng(seed)
    a = np.triu(rng.uniform(0, 0.3, (m, m)) * (rng.uniform(size=(m, m)) < 0.2), 1)
    env = nw.graph(a + a.T, rng.uniform(0.6, 1.4, m))
    return nw.couple(env, nw.probes([1.0, 1.1], 0.3, [1, m], [0.2, -0.15]))


@pytest.mark.parametrize("case", ["chain", "graph", "alone"])
def test_against_solve_ivp_on_the_full_lyapunov_equation(case):
    """Mixed baths (Lindblad on the probes, thermal; Brownian on environment sites; a common
    Lindblad bath with weights) on networks of 20–60 oscillators: the exact solver against
    DOP853 on dσ/dt = Aσ + σAᵀ + D, probes and two observed sites."""
    if case == "chain":
        net = nw.paper_network(sites=40, strengths=(0.3, 0.3))
        baths = [Bath("lindblad", 0.02, probes=(1, 2), temperature=0.3),
                 Bath("brownian", 0.1, sites=tuple(range(30, 41)), temperature=0.2),
                 Bath("lindblad", 0.05, probes=(1,), sites=(5, 6), common=True, weights=(1.0, 0.5, -0.5),
                      occupation=0.1)]
        rows = (0, 1, 2 + 4, 2 + 35)
        state = st.InitialState(coherent_pair((1.0, 1.1), (1.0, 0.0)).probes, 0.1)
    elif case == "graph":
        net = _graph_network(25, 3)
        baths = [Bath("lindblad", 0.03, sites="all", temperature=0.1),
                 Bath("brownian", 0.05, probes=(1, 2), common=True, temperature=0.5, frequency=1.05)]
        rows = (0, 1, 2 + 10)
        state = coherent_pair((1.0, 1.1), (0.0, 0.7))
    else:
        net = nw.couple(nw.no_environment(), nw.probes(np.linspace(0.8, 1.3, 20), 0.05, None, None))
        baths = [Bath("lindblad", 0.04, probes=tuple(range(1, 21, 2)), temperature=0.2),
                 Bath("brownian", 0.02, probes=tuple(range(2, 21, 2)), temperature=0.4)]
        rows = (0, 1, 7)
        state = st.InitialState(st.product(*[st.coherent(w, 0.3) for w in np.linspace(0.8, 1.3, 20)]))
    t = np.linspace(0, 30, 61)
    evo = dy.solve(net, state, baths=baths, observe=rows)
    m = evo.moments(t)
    ref_mean, ref_cov = lyapunov_ivp(net, state, baths, t, rows)
    np.testing.assert_allclose(m.mean, ref_mean, atol=1e-8)
    np.testing.assert_allclose(m.cov, ref_cov, atol=1e-8)


def test_non_uniform_grid_and_late_start_agree_with_the_uniform_grid():
    """The rows path on an irregular grid, and a uniform grid starting at t0 > 0, give the same
    moments as the uniform grid from 0."""
    net = nw.paper_network(sites=20)
    baths = [Bath("lindblad", 0.05, probes=(1, 2), temperature=0.2)]
    state = coherent_pair((1.0, 1.1), (1.0, 0.0))
    evo = dy.solve(net, state, baths=baths)
    t = np.linspace(0, 20, 201)
    full = evo.moments(t)
    late = evo.moments(t[50:])
    irregular = evo.moments(t[[0, 3, 17, 40, 41, 120, 200]])
    np.testing.assert_allclose(late.cov, full.cov[50:], atol=1e-11)
    np.testing.assert_allclose(irregular.cov, full.cov[[0, 3, 17, 40, 41, 120, 200]], atol=1e-11)
    np.testing.assert_allclose(irregular.mean, full.mean[[0, 3, 17, 40, 41, 120, 200]], atol=1e-11)
    np.testing.assert_allclose(evo.means(t), full.mean, atol=1e-14)


# ---------------------------------------------------------------------------------------------
# Steady state, noiseless modes, invariants
# ---------------------------------------------------------------------------------------------
def test_steady_state_is_the_long_time_limit_and_solves_the_lyapunov_equation():
    """σ_∞ (Lyapunov equation) equals σ(t) at t ≫ 1/slowest rate (propagation), and
    A σ_∞ + σ_∞ Aᵀ + D = 0 for the full network."""
    net = nw.paper_network(sites=12, strengths=(0.4, 0.4))
    baths = [Bath("lindblad", 0.3, sites="all", temperature=0.3), Bath("brownian", 0.2, probes=(2,), temperature=1.0)]
    state = coherent_pair((1.0, 1.1), (1.0, 0.0))
    evo = dy.solve(net, state, baths=baths, observe=range(net.size))
    rate = evo.diagnostics()["slowest_rate"]
    t_late = 60 / rate
    late = evo.moments(np.array([t_late]))
    sig = evo.steady_state()
    np.testing.assert_allclose(late.cov[0], sig, atol=1e-10)
    a, d = drift_diffusion(net, baths)
    # σ_∞ is interleaved over every oscillator here (observe = all)
    assert np.abs(a @ sig + sig @ a.T + d).max() < 1e-12
    np.testing.assert_allclose(sig, sla.solve_continuous_lyapunov(a, -d), atol=1e-12)


def test_common_bath_on_identical_oscillators_leaves_a_noiseless_mode():
    """c = (1, 1) on two uncoupled identical oscillators: the symmetric mode decays at 2γ·½ in
    amplitude (rate 2γ in energy), the antisymmetric one is noiseless, so there is no unique
    steady state; the solver says which mode, and refuses σ_∞."""
    g = 0.1
    net = alone([1.0, 1.0])
    evo = dy.solve(net, coherent_pair((1.0, 1.0), (1.0, 0.0)),
                   baths=[Bath("lindblad", g, probes=(1, 2), common=True, temperature=0.0)])
    assert evo.diagnostics()["noiseless_modes"] == 1
    assert evo.noiseless[0][0] == pytest.approx(1.0)
    with pytest.raises(HarmosyncError, match="noiseless"):
        evo.steady_state()
    t = np.linspace(0, 40, 401)
    m = evo.means(t)
    sym = (m[:, 0] + m[:, 2]) / 2
    anti = (m[:, 0] - m[:, 2]) / 2
    np.testing.assert_allclose(sym, 0.5 * np.exp(-g * t) * np.cos(t), atol=1e-12)  # (a1+a2)/√2 at 2γ
    np.testing.assert_allclose(anti, 0.5 * np.cos(t), atol=1e-12)


def test_lindblad_states_stay_physical_at_all_times():
    """σ + iΩ/2 ≥ 0 for every time and the whole network under random Lindblad baths."""
    rng = np.random.default_rng(7)
    net = _graph_network(20, 11)
    baths = [Bath("lindblad", float(rng.uniform(0.01, 0.5)), sites=(int(s),), temperature=float(rng.uniform(0, 1)))
             for s in rng.choice(np.arange(1, 21), 6, replace=False)]
    baths.append(Bath("lindblad", 0.2, probes=(1, 2), common=True, weights=(0.7, -1.3), occupation=0.05))
    state = st.InitialState(st.product(st.squeezed(1.0, 0.8), st.coherent(1.1, 0.5)))
    evo = dy.solve(net, state, baths=baths, observe=range(net.size))
    cov = evo.moments(np.linspace(0, 50, 101)).cov
    lam = np.linalg.eigvalsh(cov + 0.5j * symplectic_form(net.size))[:, 0]
    assert lam.min() > -1e-10


def test_closed_model_recovered_at_zero_rate():
    """γ = 0: the open solver reproduces the closed normal-mode solver (Fig. 1 network, short)."""
    net = nw.paper_network(sites=60)
    state = coherent_pair((1.0, 1.1), (1.0, 0.0))
    t = np.arange(0, 100.0001, 0.1)
    closed = dy.solve(net, state).moments(t)
    open_ = dy.solve(net, state, baths=[Bath("lindblad", 0.0, probes=(1, 2), temperature=0.0)]).moments(t)
    np.testing.assert_allclose(open_.mean, closed.mean, atol=1e-10)
    np.testing.assert_allclose(open_.cov, closed.cov, atol=1e-10)


def test_two_coupled_probes_alone_closed_solver_is_exact():
    """No environment, no bath: the closed solver on two coupled probes matches expm of the
    Hamiltonian drift (σ(t) = e^{At}σ(0)e^{Aᵀt})."""
    net = alone((1.0, 1.05), 0.05)
    state = coherent_pair((1.0, 1.05), (1.0, 0.0))
    t = np.linspace(0, 50, 11)
    m = dy.solve(net, state).moments(t)
    a, _ = drift_diffusion(net, [])
    for k, tk in enumerate(t):
        phi = sla.expm(a * tk)
        np.testing.assert_allclose(m.mean[k], phi @ state.probes.mean, atol=1e-12)
        np.testing.assert_allclose(m.cov[k], phi @ state.probes.cov @ phi.T, atol=1e-12)


def test_brownian_steady_state_can_violate_the_uncertainty_principle():
    """CONVENTIONS: at T = 0, two probes ω = 1, 1.1 with λ = 0.5 in separate Brownian baths reach
    a σ_∞ whose smallest eigenvalue of σ_∞ + iΩ/2 is −0.13 (weak damping; a normal mode faster
    than w_b)."""
    net = alone((1.0, 1.1), 0.5)
    evo = dy.solve(net, coherent_pair((1.0, 1.1), (0.0, 0.0)),
                   baths=[Bath("brownian", 0.01, probes=(1, 2), temperature=0.0)])
    lam = np.linalg.eigvalsh(evo.steady_state() + 0.5j * symplectic_form(2))[0]
    assert lam == pytest.approx(-0.13, abs=0.005)


# ---------------------------------------------------------------------------------------------
# simulate: outputs
# ---------------------------------------------------------------------------------------------
TWO = {"probes": {"frequencies": [1.0, 1.05], "coupling": 0.05}, "initial": {"x": [1.0, 0.0]},
       "time": {"stop": 100.0, "step": 0.1}}


def test_simulate_writes_the_steady_covariance_and_slowest_rate():
    cfg = config.parse({**TWO, "baths": [{"kind": "lindblad", "probes": [1, 2], "rate": 0.05, "temperature": 0.5}]})
    res = simulation.simulate(cfg)
    net = res.network
    a, d = drift_diffusion(net, cfg.build_baths(net))
    np.testing.assert_allclose(res.series["cov_steady"], sla.solve_continuous_lyapunov(a, -d), atol=1e-12)
    assert res.info["slowest_rate"] == pytest.approx(-np.max(np.linalg.eigvals(a).real), rel=1e-9)
    assert "energy_total" not in res.info and "unphysical_times" not in res.info


def test_simulate_flags_brownian_unphysical_times_with_nan_state_measures():
    """The run is computed; where σ + iΩ/2 ≥ 0 fails the entropic measures are NaN, elsewhere
    they are finite; a warning names when and by how much."""
    base = {**TWO, "probes": {"frequencies": [1.0, 1.1], "coupling": 0.5}, "initial": {}}
    cfg = config.parse({**base, "baths": [{"kind": "brownian", "probes": [1, 2], "rate": 0.1, "temperature": 0.0}]})
    with pytest.warns(RuntimeWarning, match="smallest eigenvalue"):
        res = simulation.simulate(cfg)
    bad, lam = simulation.uncertainty_violation(res.cov)
    assert bad.any() and res.info["unphysical_times"] == int(bad.sum())
    assert res.info["unphysical_min_eigenvalue"] == pytest.approx(lam.min())
    for q in ("mutual_information", "log_negativity", "discord"):
        assert np.all(np.isnan(res.series[q][bad])) and np.all(np.isfinite(res.series[q][~bad])), q
    assert np.all(np.isfinite(res.series["sync_variance"][:500]))


def test_sweep_path_addresses_a_bath_table():
    from harmosync.sweep import spec as sp

    assert sp.parse_path("baths[1].rate") == ("baths", 0, "rate")
    with pytest.raises(HarmosyncError, match=r"baths\[1\]\.rate"):
        sp.parse_path("baths.rate")
    base = {**TWO, "baths": [{"kind": "lindblad", "probes": [1, 2], "rate": 0.05, "temperature": 0.0}]}
    s = sp.build_spec(base, {"baths[1].rate": {"values": [0.01, 0.02]}}, {"series": ["sync"]})
    assert s.point_config(1).baths[0].rate == 0.02
    assert sp.axis_units(("baths", 0, "rate")) == "[w]"


def test_open_modes_rates_gap_and_noiseless_modes():
    """Common Lindblad bath, c = (1, 1), on two identical uncoupled oscillators: the
    antisymmetric mode is noiseless (rate 0), the symmetric one decays at γ (L = √2 a_sym at γ:
    amplitude rate 2γ/2); the rate gap is γ. A single local bath: rate γ/2."""
    from harmosync.dynamics.open import open_modes

    g = 0.1
    modes = open_modes(alone([1.0, 1.0]), [Bath("lindblad", g, probes=(1, 2), common=True, temperature=0.0)])
    np.testing.assert_allclose(modes.rates, [0.0, g], atol=1e-12)
    np.testing.assert_allclose(modes.frequencies, [1.0, 1.0], atol=1e-12)
    assert modes.noiseless == (0,) and modes.rate_gap == pytest.approx(g)
    np.testing.assert_allclose(modes.probe_weights, 0.5, atol=1e-12)
    single = open_modes(alone([1.3]), [Bath("lindblad", g, probes=(1,), temperature=0.0)])
    np.testing.assert_allclose(single.rates, [g / 2])
    assert np.isnan(single.rate_gap)


def test_fast_paths_agree_with_independent_routes():
    """Above CHECK_MAX (2N > 64) the observed σ_∞ comes from the eigendecomposition,
    σ_∞ = X K Xᴴ with K_ab = (X⁻¹DX⁻ᴴ)_ab/−(λ_a + λ̄_b): it equals solve_continuous_lyapunov's.
    With many damped sites Q_h = ∫₀ʰ e^{As}Se^{Aᵀs}ds comes from the Taylor series of
    L(X) = AX + XAᵀ: it equals Van Loan's block exponential."""
    from harmosync.dynamics.open import CHECK_MAX, series_noise, noise_source, van_loan

    net = nw.paper_network(sites=40, strengths=(0.4, 0.4))
    assert 2 * net.size > CHECK_MAX
    baths = [Bath("lindblad", 0.05, sites=tuple(range(26, 41)),
                  temperature=0.2), Bath("brownian", 0.01, probes=(1,), temperature=0.5)]
    evo = dy.solve(net, coherent_pair((1.0, 1.1), (1.0, 0.0)), baths=baths)
    a, d = drift_diffusion(net, baths)
    full = sla.solve_continuous_lyapunov(a, -d)
    np.testing.assert_allclose(evo.steady_state(), full[:4, :4], atol=1e-11)
    s = noise_source(evo)
    np.testing.assert_allclose(s, d + evo.damping @ evo.sigma_s + evo.sigma_s @ evo.damping.T, atol=1e-15)
    h = 0.05
    np.testing.assert_allclose(series_noise(a, s, h), van_loan(a, s, h)[1], atol=1e-16, rtol=0)


def test_a_common_bath_can_pump_a_mode_and_the_run_is_still_exact():
    """L = a_1 + a_2 on detuned probes (ω = 1, 1.1) plugged into one site of a free chain: the
    a_j are the bare probes' ladder operators, so the dissipator does not commute with H, and
    one collective mode grows (Re λ(A) > 0, confirmed in 30-digit mpmath, not roundoff). There
    is no steady state; the moments are exact all the same (against DOP853 on the Lyapunov
    equation), the state stays physical (the master equation is of Lindblad form), and
    simulate warns with the rate."""
    import mpmath as mp

    net = nw.couple(nw.chain(40, 1.0, 1.0, "free"), nw.probes((1.0, 1.1), 0.0, (1, 1), (0.5, 0.5)))
    baths = [Bath("lindblad", 1.0, probes=(1, 2), common=True, temperature=0.0)]
    a, _ = drift_diffusion(net, baths)
    top = float(np.max(np.linalg.eigvals(a).real))
    with mp.workdps(30):
        exact = max(mp.re(z) for z in mp.eig(mp.matrix(a.tolist()), left=False, right=False))
    assert top > 1e-5 and float(exact) == pytest.approx(top, rel=1e-6)
    state = coherent_pair((1.0, 1.1), (1.0, 0.0))
    evo = dy.solve(net, state, baths=baths, observe=(0, 1, 2))
    with pytest.raises(HarmosyncError, match="grows at rate"):
        evo.steady_state()
    t = np.linspace(0, 30, 61)
    m = evo.moments(t)
    ref_mean, ref_cov = lyapunov_ivp(net, state, baths, t, (0, 1, 2))
    np.testing.assert_allclose(m.mean, ref_mean, atol=1e-8)
    np.testing.assert_allclose(m.cov, ref_cov, atol=1e-8)
    om = symplectic_form(3)
    assert min(np.linalg.eigvalsh(c + 0.5j * om).min() for c in m.cov) > -1e-10
    cfg = config.parse({"chain": {"sites": 40, "omega0": 1.0, "g": 1.0, "boundary": "free"},
                        "probes": {"frequencies": [1.0, 1.1], "sites": [1, 1], "strengths": [0.5, 0.5]},
                        "initial": {"x": [1.0, 0.0]}, "time": {"stop": 20.0, "step": 0.1},
                        "baths": [{"kind": "lindblad", "probes": [1, 2], "rate": 1.0, "temperature": 0.0,
                                   "common": True}]})
    with pytest.warns(RuntimeWarning, match="grows at rate"):
        res = simulation.simulate(cfg)
    assert res.info["growing_rate"] == pytest.approx(top, rel=1e-9)
    assert "cov_steady" not in res.series and "slowest_rate" not in res.info
    from harmosync.analysis.open import open_report

    rep = open_report(net, baths)
    assert not rep.steady_state and not rep.modes.noiseless
    assert [-rep.modes.rates[k] for k in rep.modes.growing] == [pytest.approx(top, rel=1e-9)]


def test_soft_graph_environment_initial_state_from_its_parameters():
    """A 4-site path graph with on-site Ω = 1e-3 at T = 1 (⟨X²⟩ ∝ T/Ω² ~ 1e6 on its soft uniform
    mode), a probe on site 1 with a Lindblad bath, a site observed. The open solver's initial
    environment state took a float eigh of V_E, whose soft eigenvalue carries ε‖V_E‖ absolute:
    2.9e-5 off at t = 0, above the recorded bound 1.3e-5 (review of session 22). Against the
    40-digit reference's initial state (tests/reference_mp.py), propagated as e^{At}σ₀e^{Aᵀt} (scipy's
    expm) plus the noise from one expm of the vectorised generator d/dt[vec σ; 1] = [[I⊗A + A⊗I,
    vec D], [0, 0]] from σ = 0 (no Van Loan, no eigendecomposition of A; that generator on σ₀ itself
    errs 5e-9 at t = 10): within 2e-15 of σ's scale (the route's own error 1.2e-10 there, 4.7e-16
    of it), and the bound holds."""
    from reference_mp import Reference

    a = np.zeros((4, 4))
    a[0, 1] = a[1, 0] = a[1, 2] = a[2, 1] = a[2, 3] = a[3, 2] = 0.5
    net = nw.couple(nw.graph(a, [1e-3] * 4), nw.probes([1.0], 0.0, [1], [1e-5]))
    init = st.InitialState(st.product(st.coherent(1.0, x=1.0)), 1.0)
    baths = [Bath("lindblad", 0.01, probes=(1,), temperature=0.0)]
    obs, times = [0, 1], np.array([0.0, 1.0, 10.0])
    evo = dy.solve(net, init, baths=baths, observe=obs, method="dense")
    m = evo.moments(times)
    full = list(range(net.size))
    s0 = np.asarray(Reference(net, init, observe=full, dps=40).moments(np.array([0.0]))[1], float)[0]
    amat, dmat = drift_diffusion(net, baths)
    k = amat.shape[0]
    gen = np.zeros((k * k + 1, k * k + 1))
    gen[: k * k, : k * k] = np.kron(np.eye(k), amat) + np.kron(amat, np.eye(k))
    gen[: k * k, -1] = dmat.ravel()
    idx = np.ravel([[2 * r, 2 * r + 1] for r in obs])
    scale = float(np.abs(s0).max())
    assert scale > 1e5
    for i, t in enumerate(times):
        phi = sla.expm(amat * t)
        noise = (sla.expm(gen * t)[: k * k, -1]).reshape(k, k)
        ref = (phi @ s0 @ phi.T + noise)[np.ix_(idx, idx)]
        err = float(np.abs(m.cov[i] - ref).max())
        assert err <= evo.error_bound
        assert err < 2e-15 * scale, (t, err)


def test_structured_path_reads_a_noiseless_mode_on_any_grid():
    """An uncoupled, undamped probe beside a 45-site chain and a lossy one: the structured path's
    source sum (e^{(λ_a+λ_b)t} − 1)/(λ_a + λ_b) met λ_a + λ_b = 0 exactly (0/0, NaN: a
    NumericalError on a non-uniform grid; review of session 22); its limit is t. The moments
    equal the dense solver's on a non-uniform grid."""
    net = nw.couple(nw.chain(45, 0.4, 1.2), nw.probes([1.0, 1.1], 0.0, [1, 1], [0.0, 0.2]))
    init = st.InitialState(st.product(st.coherent(1.0, x=1.0), st.coherent(1.1, x=0.5)))
    baths = [Bath("lindblad", 0.01, probes=(2,), temperature=0.0)]
    t = np.array([0.0, 0.3, 1.7, 2.0, 5.5])
    modes = dy.solve(net, init, baths=baths, method="modes")
    dense = dy.solve(net, init, baths=baths, method="dense")
    assert len(modes.noiseless) == 1
    a, b = modes.moments(t), dense.moments(t)
    np.testing.assert_allclose(a.cov, b.cov, rtol=0, atol=modes.error_bound + dense.error_bound)
    np.testing.assert_allclose(a.mean, b.mean, rtol=0, atol=modes.error_bound + dense.error_bound)


def test_one_long_step_under_a_hot_bath_on_soft_sites():
    """A fixed chain with on-site Ω0 = 6.7e-4 and hot Lindblad baths (T = 4.1: n̄ ≈ 6e3, so
    S ~ γ(2n̄ + 1)/2Ω0 ~ 1e7) on two sites, read at t = 74 in one step: Van Loan's block
    [[−A, S], [0, Aᵀ]] took its expm scaling from ‖S‖τ and put ε‖S‖τ into e^{−Aτ}; the doublings
    carried it into Q_h, 0.016 off on the observed entries (review s22b; above 32 oscillators
    6.5× the bound). S now enters at unit scale. Against solve_ivp on the full Lyapunov equation:
    within 1e-10 of σ's scale (was 1.3e-9), and within the bound."""
    m = 8
    net = nw.couple(nw.chain(m, 6.65839421924604e-4, 1.2390507153046826, "fixed"),
                    nw.probes([0.7008158495692179], 0.0, [m - 2], [-0.0045]))
    init = st.InitialState(st.product(st.coherent(0.7008158495692179, x=-1.3)), 0.0)
    baths = [Bath("lindblad", 1.0583283702956954, sites=(3, m // 2), temperature=4.11050606280432)]
    obs, times = [0, m // 2 + 1], np.array([0.0, 74.22484150111852])
    ref_mean, ref_cov = lyapunov_ivp(net, init, baths, times, rows=obs)
    evo = dy.solve(net, init, baths=baths, observe=obs, method="dense")
    mom = evo.moments(times)
    scale = float(np.abs(ref_cov[-1]).max())
    err = float(np.abs(mom.cov[-1] - ref_cov[-1]).max())
    assert scale > 1e7 and err < 1e-10 * scale and err <= evo.error_bound, (err, scale, evo.error_bound)
