"""Adversarial review of the structured open path (issue 12): cases where a result must be
within its recorded error_bound of an independent reference. The reference propagates the
full Lyapunov equation exactly: σ(t) = Φσ(0)Φᵀ + Q_t, Φ = e^{At}, Q_t = ∫₀ᵗ e^{As}De^{Aᵀs}ds by
Van Loan's block exponential on a step with ‖A‖h ≤ ¼, then Q_{2h} = Q_h + Φ_hQ_hΦ_hᵀ."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
from test_open_systems import coherent_pair

from harmosync import network as nw
from harmosync import states as st
from harmosync.baths import Bath, drift_diffusion
from harmosync.dynamics.open import solve_open


def _exact(net, state, baths, t, rows):
    """(mean, cov) of the observed oscillators at each time of ``t`` (module docstring)."""
    a, d = drift_diffusion(net, baths)
    n2, p = a.shape[0], net.n_probes
    m0, s0 = np.zeros(n2), np.zeros((n2, n2))
    m0[: 2 * p], s0[: 2 * p, : 2 * p] = state.probes.mean, state.probes.cov
    om, w = net.environment.modes()
    xx, pp = st.environment_covariance(om, w, state.environment_temperature)
    s0[2 * p::2, 2 * p::2], s0[2 * p + 1::2, 2 * p + 1::2] = xx, pp
    idx = np.ravel([[2 * r, 2 * r + 1] for r in rows])
    means, covs = [], []
    for ti in t:
        j = max(0, int(np.ceil(np.log2(max(ti * np.linalg.norm(a, 1) / 0.25, 1.0)))))
        h = ti / 2**j
        big = np.zeros((2 * n2, 2 * n2))
        big[:n2, :n2], big[:n2, n2:], big[n2:, n2:] = -a, d, a.T
        f = sla.expm(big * h)
        phi, q = sla.expm(a * h), f[n2:, n2:].T @ f[:n2, n2:]
        for _ in range(j):
            q, phi = q + phi @ q @ phi.T, phi @ phi
        s = phi @ s0 @ phi.T + q
        means.append((phi @ m0)[idx])
        covs.append(0.5 * (s + s.T)[np.ix_(idx, idx)])
    return np.array(means), np.array(covs)


@pytest.mark.parametrize("method", ["modes", "dense"])
@pytest.mark.parametrize("times", [
    1000 + 9e-7 + 0.5 * np.arange(20),  # a uniform grid whose start is not a multiple of h
    np.concatenate([np.linspace(0, 1000, 51)[:25], np.linspace(0, 1000, 51)[25:] + 9e-9]),  # almost uniform
], ids=["offset_start", "almost_uniform"])
def test_nearly_uniform_grids_are_within_the_bound(method, times):
    """σ(t), m(t) at the times asked for, not at a nearby uniform grid: a start t0 = kh + 9e-7
    (accepted by the 1e-9·t0 tolerance) or points off the uniform grid by 9e-9 (the 1e-11·t_end
    tolerance) were evaluated on the grid, with errors ~1e-7 against bounds ~1e-10."""
    net = nw.paper_network(sites=40)
    state = st.InitialState(coherent_pair((1.0, 1.1), (0.14, 1.4)).probes, 0.2)
    baths = [Bath("lindblad", 0.01, probes=(1, 2), temperature=0.3)]
    evo = solve_open(net, state, baths, method=method)
    m = evo.moments(times)
    pick = [0, 1, 19, 25] if times.size > 25 else [0, 1, 19]
    mean, cov = _exact(net, state, baths, times[pick], (0, 1))
    err = max(np.abs(m.mean[pick] - mean).max(), np.abs(m.cov[pick] - cov).max())
    assert err <= evo.error_bound


@pytest.mark.parametrize("sites, method", [(20, "auto"), (40, "dense"), (40, "modes")])
def test_means_only_record_an_error_bound(sites, method):
    """means() (covariance=False) on the dense path recorded no error bound (0.0) while its
    means differ from m(t) = e^{At}m(0) by roundoff; every path's bound covers that."""
    net = nw.paper_network(sites=sites)
    state = st.InitialState(coherent_pair((1.0, 1.1), (0.14, 1.4)).probes, 0.2)
    baths = [Bath("lindblad", 0.01, probes=(1, 2), temperature=0.3)]
    evo = solve_open(net, state, baths, method=method, covariance=False)
    t = np.linspace(0, 200, 41)
    mean, _ = _exact(net, state, baths, t, (0, 1))
    err = np.abs(evo.means(t) - mean).max()
    assert 0 < err <= evo.error_bound


def test_a_late_short_uniform_grid_does_not_step_from_zero(monkeypatch):
    """Two times t0 = 10⁴ and t0 + 2⁻¹⁰ (h exact, t0 a whole number of steps) are evaluated by
    summing over all t0/h ≈ 10⁷ steps from 0 (the noise accumulated step by step): O(t0/h) work
    for two outputs (≈ 65 s CPU at t0 = 10⁵; the dense path likewise builds a 10⁸-point grid).
    The work should stay O(T): here, no exponential sum over more than 1000 times (such a grid
    is evaluated at its own times, contract.steps_before)."""
    from harmosync.dynamics import open_modes
    from harmosync.solvers import expsum

    original = expsum.evaluate

    def guarded(lam, b, t0, h, count, **kw):
        assert count <= 1000, f"exponential sum over {count} times for 2 requested"
        return original(lam, b, t0, h, count, **kw)

    monkeypatch.setattr(open_modes.expsum, "evaluate", guarded)
    net = nw.paper_network(sites=40)
    state = st.InitialState(coherent_pair((1.0, 1.1), (0.14, 1.4)).probes, 0.2)
    baths = [Bath("lindblad", 0.01, probes=(1, 2), temperature=0.3)]
    times = np.array([1e4, 1e4 + 2.0**-10])
    mean, cov = _exact(net, state, baths, times, (0, 1))
    for method in ("modes", "dense"):  # and both paths are still exact there (own times)
        evo = solve_open(net, state, baths, method=method)
        m = evo.moments(times)
        assert max(np.abs(m.mean - mean).max(), np.abs(m.cov - cov).max()) <= evo.error_bound


@pytest.mark.parametrize("times", [
    1000 + 9e-7 + 0.5 * np.arange(20),
    np.concatenate([np.linspace(0, 1000, 51)[:25], np.linspace(0, 1000, 51)[25:] + 9e-9]),
], ids=["offset_start", "almost_uniform"])
def test_closed_nearly_uniform_grids_are_within_the_bound(times):
    """The closed solver too evaluates the times asked for (the grid test allows rounding only,
    contract.GRID_TOL): against S(t)σ(0)S(t)ᵀ from dynamics.reference (float propagator)."""
    from harmosync import dynamics as dy
    from harmosync.dynamics import reference as dyref

    net = nw.paper_network(sites=40)
    state = st.InitialState(coherent_pair((1.0, 1.1), (0.14, 1.4)).probes, 0.2)
    evo = dy.solve(net, state)
    m = evo.moments(times)
    s0 = dyref.initial_covariance(net, state)
    err = 0.0
    for k in (0, 1, len(times) - 1):
        s = dyref.propagator(net, times[k])
        err = max(err, np.abs(m.cov[k] - (s @ s0 @ s.T)[:4, :4]).max())
    assert err <= evo.error_bound + 1e-11  # the float propagator's own error at t ~ 1e3
