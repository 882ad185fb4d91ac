"""Rayleigh analysis (analysis/rayleigh.py, paper Sec. III, Eqs. 6, 7, 9): Markov damping rates
G′_ss = J′_ss(Ω_s)/Ω_s against decay rates fitted from the exact dynamics, their degradation
with K, the Ohmic limit (Eq. 9), and the structured sync/anti-sync prediction."""

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
from harmosync.analysis.rayleigh import Reason, Verdict
from harmosync.analysis.times import characteristic_times
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
        a = ry.analyze(net)
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
    a = ry.analyze(net, poles=False)
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
    q1 survives → sync, exact C > 0.99. The deadline is the revival τ_R,front."""
    a = ry.analyze(nw.paper_network())
    p = a.prediction
    assert (p.verdict, p.reason, p.pattern, p.surviving_mode, p.expected) == (Verdict.ANTI_SYNC, Reason.GAP, "anti-sync", 2, True)
    assert p.deadline_source == "revival"
    assert p.deadline == characteristic_times(nw.paper_network()).tau_revival_front
    assert p.time_to_sync == pytest.approx(2 * math.log(ry.SYNC_RATIO) / a.gap) and p.time_to_sync < p.deadline
    assert np.nanmean(_sync(nw.paper_network())) < -0.99
    flipped = nw.paper_network(strengths=(0.2, -0.2))
    b = ry.analyze(flipped)
    assert (b.prediction.verdict, b.prediction.surviving_mode, b.prediction.expected) == (Verdict.SYNC, 1, True)
    assert np.nanmean(_sync(flipped)) > 0.99
    assert b.tau_sync_eq7 == pytest.approx(1 / max(b.damping_matrix[0][0], b.damping_matrix[1][1]))


def test_fig2_weak_coupling_no_sync():
    """Fig. 2, K = 0.1, λ = 0: no gap to speak of (G′_11 ≈ G′_22) and each mode lives on one
    probe, so no sync is predicted; the exact C indeed wanders (mean |C| < 0.7)."""
    net = nw.paper_network(coupling=0.0, strengths=(0.1, 0.1))
    a = ry.analyze(net)
    assert (a.prediction.verdict, a.prediction.reason) == (Verdict.NONE, Reason.ONE_PROBE_MODE)
    assert not a.prediction.expected and a.relative_gap < 0.05
    assert np.nanmean(np.abs(_sync(net))) < 0.7


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
    a = ry.analyze(net, poles=False)
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
    assert res.spectral_model.startswith("smoothed") and math.isnan(res.markov_error)
    assert res.markov_grade == "unchecked" and res.prediction.deadline_source == "heisenberg"
    assert res.damping_matrix[0][0] >= 0 and res.damping_matrix[1][1] >= 0


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
    p = res.prediction
    assert p.deadline == pytest.approx(t_h, rel=1e-12) and p.deadline_source == "heisenberg"
    assert p.time_to_sync > t_h and (p.verdict, p.reason) == (Verdict.NONE, Reason.GAP_TOO_SMALL)
    t = np.arange(0, 400, 0.05)
    x = probe_means(net, [0.14, 0.0, 1.4, 0.0], t)
    c = ms.sync_factor(x[:, 0], x[:, 2], 0.05, 20.0)
    late = c[(t > 200) & (t < 380)]
    assert np.nanmax(late) - np.nanmin(late) > 0.5 and np.nanmean(late) > -0.9  # nothing settles


def test_as_dict_and_bad_input():
    a = ry.analyze(nw.paper_network(coupling=0.0, strengths=(0.8, 0.8)))
    d = a.as_dict()
    assert json.loads(json.dumps(d))["prediction"]["verdict"] == "none"
    assert d["prediction"]["reason"] == "one-probe-mode" and d["markov_grade"] == "poor"
    three = nw.couple(nw.chain(20, 0.4, 1.2), nw.probes([1.0, 1.1, 1.2], 0.1, [1, 2, 3], [0.1, 0.1, 0.1]))
    with pytest.raises(HarmosyncError, match="two probes"):
        ry.analyze(three)
    with pytest.raises(HarmosyncError, match="horizon"):
        ry.analyze(nw.paper_network(), horizon=-1.0)
    with pytest.raises(HarmosyncError, match="method"):
        ry.measure_decay_rates(nw.paper_network(sites=20), method="fft")
