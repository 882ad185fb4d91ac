"""Rayleigh analysis (analysis/rayleigh.py, paper Sec. III, Eqs. 6, 7, 9): Markov damping rates
G′_ss = J′_ss(Ω_s)/Ω_s against decay rates fitted from the exact dynamics, their degradation
with K, the Ohmic limit (Eq. 9), the sync/anti-sync prediction, and the localized modes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from harmosync import measures as ms
from harmosync import network as nw
from harmosync.analysis import langevin as lg
from conftest import probe_means

from harmosync import dynamics as dy
from harmosync.analysis import rayleigh as ry
from harmosync.errors import HarmosyncError


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Small dense problems: one BLAS thread is faster, and far faster on a loaded machine."""
    with threadpool_limits(1):
        yield


WEAK = [  # Fig. 1 geometry (both probes on site 1 of the 300-site chain) and variations
    {"coupling": 0.5, "strengths": (0.05, 0.05)},
    {"coupling": 0.5, "strengths": (0.1, 0.1)},
    {"coupling": 0.1, "strengths": (0.1, 0.1)},
    {"coupling": 0.5, "frequencies": (1.0, 1.2), "strengths": (0.1, 0.1)},
    {"coupling": 0.5, "strengths": (0.1, -0.1)},
    {"coupling": 0.3, "strengths": (0.1, 0.06)},
]


@pytest.mark.parametrize("kw", WEAK)
def test_markov_rates_match_exact_dynamics_at_weak_coupling(kw):
    """K ≤ 0.1: G′_ss (amplitude of ⟨q_s⟩ ∝ e^{−G′_ss t/2}) agrees within 10% with the rate
    fitted from the envelope (|Hilbert transform|) of the exact ⟨q_s(t)⟩ on t ∈ [20, 400], the
    probes started in the pure normal mode q_s. Measured: within 5% for every case here."""
    net = nw.paper_network(**kw)
    a = ry.analyze(net)
    fit = ry.measure_decay_rates(net, method="envelope", window=(20.0, 400.0))
    g = np.array([a.damping_matrix[0][0], a.damping_matrix[1][1]])
    np.testing.assert_allclose(fit, g, rtol=0.10)


def test_markov_error_grows_like_K_squared_and_poles_match_dynamics():
    """Beyond weak coupling: the exact continuum poles (det[V_S − ω² + Σ(ω²)] = 0) agree with
    matrix-pencil fits of the exact dynamics within 1% for K = 0.05 … 0.4, while the Markov
    error |G′ − exact|/exact grows ≈ ∝ K² (×4 per doubling of K) and is of the order of the
    weak-coupling parameter max G′/Ω."""
    errs = []
    for k in (0.05, 0.1, 0.2, 0.4):
        net = nw.paper_network(strengths=(k, k))
        a = ry.analyze(net, localized=False)
        fit = ry.measure_decay_rates(net, method="pencil")
        np.testing.assert_allclose(fit, a.exact_rates, rtol=1e-2)
        errs.append(a.markov_error)
        assert 0.3 * a.weak_coupling_parameter < a.markov_error < 3 * a.weak_coupling_parameter
    ratios = np.array(errs[1:]) / np.array(errs[:-1])
    assert np.all((ratios > 3) & (ratios < 6)), ratios
    assert errs[1] < 0.01 and errs[-1] > 0.1


def test_ohmic_limit_eq9():
    """Eq. (9): for probes at one edge of a chain with Ω0 → 0 and Ω ≪ √g the bath is Ohmic,
    G′_11 = K²(1 + sin 2θ)/g^{3/2}, G′_22 = K²(1 − sin 2θ)/g^{3/2}, and
    G′_11/G′_22 = (1 + sin 2θ)/(1 − sin 2θ)."""
    g, k = 400.0, 0.05
    net = nw.paper_network(omega0=1e-3, g=g, sites=300, coupling=0.5, strengths=(k, k))
    a = ry.analyze(net, localized=False, poles=False)
    s2 = math.sin(2 * a.theta)
    assert a.ohmic_applicable
    assert a.damping_matrix[0][0] == pytest.approx(k**2 * (1 + s2) / g**1.5, rel=1e-3)
    assert a.damping_matrix[1][1] == pytest.approx(k**2 * (1 - s2) / g**1.5, rel=1e-3)
    assert a.damping_ratio == pytest.approx(a.ohmic_ratio_eq9, rel=1e-3)


def _sync(net, t_range=(150.0, 600.0)):
    t = np.arange(0, t_range[1] + 40, 0.05)
    x = probe_means(net, [0.14, 0.0, 1.4, 0.0], t)[:, 0::2]
    c = ms.sync_factor(x[:, 0], x[:, 1], 0.05, 20.0)
    return c[(t > t_range[0]) & (t < t_range[1])]


def test_fig1_anti_sync_and_flipped_sync_predicted_and_observed():
    """Fig. 1 (K = 0.2): q1 (x1, x2 in phase) is damped 100× faster than q2 → anti-sync, and the
    exact C < −0.99 on average for 150 < t < 600. Flipping K2 (Sec. III A) swaps the damping:
    q1 survives → sync, exact C > 0.99."""
    a = ry.analyze(nw.paper_network())
    assert (a.kind, a.surviving_mode, a.expected) == ("anti-sync", 2, True)
    assert a.time_to_sync < a.times.tau_revival_front
    assert np.nanmean(_sync(nw.paper_network())) < -0.99
    flipped = nw.paper_network(strengths=(0.2, -0.2))
    b = ry.analyze(flipped)
    assert (b.kind, b.surviving_mode, b.expected) == ("sync", 1, True)
    assert np.nanmean(_sync(flipped)) > 0.99
    assert b.tau_sync_eq7 == pytest.approx(1 / max(b.damping_matrix[0][0], b.damping_matrix[1][1]))


def test_fig2_weak_coupling_no_sync():
    """Fig. 2, K = 0.1, λ = 0: no gap to speak of (G′_11 ≈ G′_22) and each mode lives on one
    probe, so no sync is predicted; the exact C indeed wanders (mean |C| < 0.7)."""
    net = nw.paper_network(coupling=0.0, strengths=(0.1, 0.1))
    a = ry.analyze(net)
    assert not a.expected and a.relative_gap < 0.05
    assert not a.localized_modes
    assert np.nanmean(np.abs(_sync(net))) < 0.7


def test_fig2_strong_coupling_localized_mode():
    """Fig. 2, K = 0.8: one normal mode of the whole network lies below the band (ω < Ω0 = 0.4),
    in phase on both probes. It is the late oscillation: the exact ⟨x(t)⟩ minus this mode's
    contribution decays at the rate of the other exact continuum pole (within 10%), and the
    remaining oscillation has the mode's frequency."""
    net = nw.paper_network(coupling=0.0, strengths=(0.8, 0.8))
    x0 = np.array([1.0, 1.0])
    a = ry.analyze(net, initial_mean=[1.0, 0.0, 1.0, 0.0])
    (mode,) = a.localized_modes
    assert mode.side == "below" and mode.frequency < 0.4 and mode.pattern == "in phase"
    assert "sync" in a.steady_state
    t = np.arange(0, 640, 0.05)
    x = probe_means(net, np.ravel(np.column_stack([x0, np.zeros(2)])), t)[:, 0::2]
    amp = np.array(mode.probe_amplitudes)
    loc = np.outer(np.cos(mode.frequency * t), amp * (amp @ x0))
    res = np.abs(x - loc)
    early, late = (t > 200) & (t < 250), (t > 500) & (t < 550)
    rate = -2 * np.log(res[late].max() / res[early].max()) / 300.0
    slow = max(r for r in a.exact_rates if r > 1e-9)
    assert rate == pytest.approx(slow, rel=0.1)
    np.testing.assert_allclose(np.abs(x[late]).max(axis=0), mode.steady_amplitude, rtol=0.1)


def test_default_horizon_geometries():
    """The continuum model the analysis uses: edge probes see the semi-infinite edge density
    K² sin k/g; probes at opposite edges have no cross damping before the crosstalk (η ≈ 0,
    Sec. IV B); a probe deep in the chain sees the bulk density K²/(2g sin k)."""
    fig1 = ry.analyze(nw.paper_network(coupling=0.0, strengths=(0.1, 0.1)), poles=False)
    k = 2 * np.arcsin(np.sqrt((1.0 - 0.16) / 4.8))
    assert fig1.damping_matrix[0][0] == pytest.approx(0.01 * np.sin(k) / 1.2, rel=1e-12)
    fig3 = ry.analyze(nw.paper_network(coupling=0.0, plug=(1, 300)), poles=False)
    assert fig3.cross_damping == (0.0, 0.0)
    deep = ry.analyze(nw.paper_network(coupling=0.0, plug=(1, 150), strengths=(0.06, 0.06)), poles=False)
    k2 = 2 * np.arcsin(np.sqrt((1.21 - 0.16) / 4.8))
    assert deep.damping_matrix[1][1] == pytest.approx(0.0036 / (2 * 1.2 * 1.1 * np.sin(k2)), rel=1e-12)


def test_damping_matrix_bases():
    """G′ is the x-basis damping rotated to the normal modes: G′ = R G Rᵀ (paper: M⁻¹GM), and
    the Markov rate is J/Ω with J from the langevin module."""
    net = nw.paper_network(plug=(1, 3))
    a = ry.analyze(net, localized=False, poles=False)
    r, om, _ = lg.system_rotation(net)
    gp, gx = np.array(a.damping_matrix), np.array(a.damping_matrix_x)
    np.testing.assert_allclose(r @ gx @ r.T, gp, atol=1e-15)
    j = lg.continuum_spectral_density(net, om, max_length=a.paths_max_length)
    assert a.damping_matrix[0][0] == pytest.approx((r @ j[0] @ r.T)[0, 0] / om[0])
    assert a.gap == pytest.approx(abs(gp[0, 0] - gp[1, 1]))


def test_graph_environment_uses_smoothed_density():
    """A non-chain environment: the smoothed discrete density (no closed form, no poles)."""
    rng = np.random.default_rng(3)
    a = np.triu(rng.uniform(0, 1, (30, 30)) * (rng.uniform(size=(30, 30)) < 0.2), 1)
    net = nw.couple(nw.graph(a + a.T, 0.8), nw.probes([1.0, 1.1], 0.3, [1, 2], [0.1, 0.1]))
    res = ry.analyze(net)
    assert res.spectral_model.startswith("smoothed") and math.isnan(res.markov_error) and res.times is None
    assert res.damping_matrix[0][0] >= 0 and res.damping_matrix[1][1] >= 0


@pytest.mark.parametrize("boundary", ["fixed", "free"])
def test_localized_modes_of_long_chains_from_the_schur_complement(monkeypatch, boundary):
    """Above the dense limit a chain's localized modes are its bound states, found from the P × P
    Schur complement S(μ) by inertia counts and bisection (closed-form resolvent for fixed ends,
    sparse LU otherwise; no N × N eigensolver, so M = 10⁶ takes under a second): frequencies,
    probe amplitudes (up to sign), decay lengths and steady amplitudes equal dense eigh's,
    here with the limit lowered below a 400-site chain; a probe below the band and one above it
    give localized modes on both sides."""
    net = nw.couple(nw.chain(400, 0.4, 1.2, boundary=boundary), nw.probes([0.2, 2.6], 0.05, [1, 3], [0.05, 0.9]))
    m0 = [0.14, 0.0, 1.4, 0.2]
    dense = ry.localized_modes(net, m0)
    monkeypatch.setattr(ry, "DENSE_LIMIT", 50)
    fast = ry.localized_modes(net, m0)
    assert len(dense) == len(fast) >= 2 and {m.side for m in dense} == {"below", "above"}
    for a, b in zip(dense, fast):
        assert a.side == b.side and a.pattern == b.pattern
        assert b.frequency == pytest.approx(a.frequency, rel=1e-12)
        np.testing.assert_allclose(np.abs(b.probe_amplitudes), np.abs(a.probe_amplitudes), atol=1e-10)
        assert b.decay_length == pytest.approx(a.decay_length, rel=1e-9)
        np.testing.assert_allclose(b.steady_amplitude, a.steady_amplitude, atol=1e-10)


def test_small_graph_does_not_predict_sync_beyond_its_heisenberg_time():
    """A 6-site ring is a closed system: its discrete levels (mean spacing Δ) are resolved after
    t_H = 2π/Δ, and the exact dynamics never settles (C keeps swinging by more than 0.5 in late
    windows). The gap's sync time is beyond t_H, so synchronization is not predicted."""
    a = np.zeros((6, 6))
    for j in range(6):
        a[j, (j + 1) % 6] = a[(j + 1) % 6, j] = 1.0
    net = nw.couple(nw.graph(a, 0.4), nw.probes([1.0, 1.1], 0.5, [1, 1], [0.2, 0.2]))
    res = ry.analyze(net)
    w = net.environment.modes()[0]
    t_h = 2 * np.pi * (w.size - 1) / (w[-1] - w[0])  # mean spacing of the ring's 6 levels
    assert res.time_to_sync > t_h and not res.expected and "Heisenberg time" in res.reason
    t = np.arange(0, 400, 0.05)
    x = probe_means(net, [0.14, 0.0, 1.4, 0.0], t)
    c = ms.sync_factor(x[:, 0], x[:, 2], 0.05, 20.0)
    late = c[(t > 200) & (t < 380)]
    assert np.nanmax(late) - np.nanmin(late) > 0.5 and np.nanmean(late) > -0.9  # nothing settles


def test_as_dict_and_bad_input():
    a = ry.analyze(nw.paper_network(coupling=0.0, strengths=(0.8, 0.8)), initial_mean=[0.14, 0, 1.4, 0])
    d = a.as_dict()
    json.dumps(d)
    assert d["localized_modes"][0]["side"] == "below" and "tau_revival" in d["times"]
    three = nw.couple(nw.chain(20, 0.4, 1.2), nw.probes([1.0, 1.1, 1.2], 0.1, [1, 2, 3], [0.1, 0.1, 0.1]))
    with pytest.raises(HarmosyncError, match="two probes"):
        ry.analyze(three)
    with pytest.raises(HarmosyncError, match="horizon"):
        ry.analyze(nw.paper_network(), horizon=-1.0)
    with pytest.raises(HarmosyncError, match="method"):
        ry.measure_decay_rates(nw.paper_network(sites=20), method="fft")
