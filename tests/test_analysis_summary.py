"""The analysis report (analysis/summary.py): one object holding what `harmosync analyze` prints,
with Rayleigh's prediction as data. Verdicts on cases whose answer the paper gives (Fig. 1:
anti-sync; its repulsive K2 < 0 variant of Sec. III A: sync), the decision order of Rayleigh's
condition (Sec. III) on hand-made damping, "not applicable" for P ≠ 2, and the kernels' report
against the langevin module."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from harmosync import network as nw
from harmosync.analysis import langevin as lg
from harmosync.analysis import rayleigh as ry
from harmosync.analysis.rayleigh import Reason, Verdict
from harmosync.analysis.summary import AnalysisReport, check_horizon, kernels_report, report
from harmosync.analysis.times import CharacteristicTimes
from harmosync.errors import HarmosyncError


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Small dense problems: one BLAS thread is faster, and far faster on a loaded machine."""
    with threadpool_limits(1):
        yield


def test_fig1_report_fields_and_verdict():
    """Fig. 1 (the paper's C → −1): anti-sync, because the in-phase mode q1 is damped ~100×
    faster (G′_11 ≫ G′_22) and the out-of-phase q2 survives until well before τ_R. The report
    holds the same RayleighAnalysis as rayleigh.analyze, the chain's times, no localized mode,
    and is frozen."""
    net = nw.paper_network()
    rep = report(net, initial_mean=[0.14, 0.0, 1.4, 0.0])
    assert isinstance(rep, AnalysisReport) and isinstance(rep.times, CharacteristicTimes)
    assert rep.prediction is rep.rayleigh.prediction
    assert rep.rayleigh == ry.analyze(net)
    assert (rep.prediction.verdict, rep.prediction.reason) == (Verdict.ANTI_SYNC, Reason.GAP)
    g = rep.rayleigh.damping_matrix
    assert g[0][0] > 50 * g[1][1] and rep.prediction.surviving_mode == 2
    assert rep.prediction.deadline == rep.times.tau_revival_front
    assert rep.localized_modes == () and rep.steady_pattern == Verdict.NONE
    assert rep.measured_rates is None and rep.network is net
    with pytest.raises(dataclasses.FrozenInstanceError):
        rep.prediction = None


def test_repulsive_coupling_flips_the_verdict():
    """Sec. III A: K2 → −K2 maps x2 → −x2, which swaps which mode is damped: q1 now survives
    and the probes synchronize (G′_11 and G′_22 trade places to within the band's dispersion)."""
    a = report(nw.paper_network())
    b = report(nw.paper_network(strengths=(0.2, -0.2)))
    assert (b.prediction.verdict, b.prediction.reason, b.prediction.surviving_mode) == (Verdict.SYNC, Reason.GAP, 1)
    ga, gb = a.rayleigh.damping_matrix, b.rayleigh.damping_matrix
    assert gb[1][1] == pytest.approx(ga[0][0], rel=0.2) and gb[0][0] == pytest.approx(ga[1][1], rel=0.2)


@pytest.mark.parametrize("n", [1, 3])
def test_one_or_three_probes_not_applicable(n):
    """Rayleigh's condition is the two-probe theory of Sec. III: for P = 1 or 3 the verdict is
    NOT_APPLICABLE with reason NOT_TWO_PROBES, while the times and localized modes remain."""
    net = nw.couple(nw.chain(40, 0.4, 1.2), nw.probes([1.0 + 0.1 * i for i in range(n)], 0.0, [1] * n, [0.1] * n))
    rep = report(net)
    assert (rep.prediction.verdict, rep.prediction.reason) == (Verdict.NOT_APPLICABLE, Reason.NOT_TWO_PROBES)
    assert not rep.prediction.expected and rep.rayleigh is None and rep.measured_rates is None
    assert rep.times.tau_revival_front == pytest.approx(80 / rep.times.group_velocity_max)
    assert isinstance(rep.localized_modes, tuple)
    assert report(net, check=True).measured_rates is None


def _rotation(theta):
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[c, s], [-s, c]])


@pytest.mark.parametrize("theta, damping, kw, expected", [
    # q1 = (x1 + x2)/√2 damped, q2 = (x2 − x1)/√2 survives → anti-sync (Fig. 1)
    (math.pi / 4, (0.05, 0.0005), {}, (Verdict.ANTI_SYNC, Reason.GAP, 2)),
    # q2 damped, q1 in phase survives → sync (Sec. III A)
    (math.pi / 4, (0.0005, 0.05), {}, (Verdict.SYNC, Reason.GAP, 1)),
    (math.pi / 4, (0.01, 0.01), {}, (Verdict.NONE, Reason.NO_GAP, 2)),
    (0.0, (0.05, 0.0005), {}, (Verdict.NONE, Reason.ONE_PROBE_MODE, 2)),  # λ = 0: modes on one probe
    (math.pi / 4, (0.0105, 0.0005), {"deadline": 100.0}, (Verdict.NONE, Reason.GAP_TOO_SMALL, 2)),
    (math.pi / 4, (0.05, 0.0005), {"pole_merged": True}, (Verdict.NOT_APPLICABLE, Reason.POLE_MERGED, 2)),
    (math.pi / 4, (0.05, 0.0005), {"markov_error": 0.31}, (Verdict.NOT_APPLICABLE, Reason.MARKOV_INACCURATE, 2)),
    (math.pi / 4, (0.05, 0.0005), {"markov_error": 0.29}, (Verdict.ANTI_SYNC, Reason.GAP, 2)),
    (math.pi / 4, (0.05, 0.0005), {"cross_ok": False}, (Verdict.NOT_APPLICABLE, Reason.CROSS_DAMPING, 2)),
    # a gap too small wins over a failed approximation (the order of Reason)
    (math.pi / 4, (0.0105, 0.0005), {"deadline": 100.0, "pole_merged": True}, (Verdict.NONE, Reason.GAP_TOO_SMALL, 2)),
])
def test_rayleigh_condition_decision(theta, damping, kw, expected):
    """Rayleigh's condition: the less damped mode survives; its components (R_s1, R_s2) with the
    same sign mean sync, opposite anti-sync; it counts if the amplitude ratio falls SYNC_RATIO×
    (t = 2 ln 10 / gap; 460.5 > 100 for a gap of 0.01) before the deadline and the approximation
    holds."""
    deadline = kw.pop("deadline", 1000.0)
    p = ry.predict(_rotation(theta), damping, deadline, "revival", **kw)
    assert (p.verdict, p.reason, p.surviving_mode) == expected
    gap = abs(damping[0] - damping[1])
    assert p.time_to_sync == (2 * math.log(ry.SYNC_RATIO) / gap if gap else math.inf)


def test_horizon_checks():
    """An echo horizon must be a positive time not past the revival (τ_R,front = 2M/v_max for
    edge probes), beyond which echoes are revivals, not damping."""
    net = nw.paper_network(sites=60)
    limit = 120 / report(net).times.group_velocity_max
    check_horizon(net, 0.99 * limit)
    for bad in (-3.0, 0.0, math.nan, 1.01 * limit):
        with pytest.raises(HarmosyncError, match="horizon"):
            report(net, horizon=bad)
    with pytest.raises(HarmosyncError, match="^--horizon 1e\\+06 is beyond the revival time"):
        check_horizon(net, 1e6, "--horizon")


def test_check_fits_rates_near_the_exact_poles():
    """report(check=True) adds the rates fitted from the exact dynamics: within 1% of the exact
    continuum poles for Fig. 1's probes on a 120-site chain (first echo after t ≈ 260)."""
    rep = report(nw.paper_network(sites=120), check=True)
    assert len(rep.measured_rates) == 2
    np.testing.assert_allclose(rep.measured_rates, rep.rayleigh.exact_rates, rtol=1e-2)


def test_kernels_report_matches_langevin():
    """The spectral densities of kernels_report: the smoothed one is Kernels.spectral_density at
    the default width; the continuum one is J′ = R J Rᵀ of the closed-form site density (edge:
    J_11 = K² sin k/g per probe before rotation). A graph environment has no continuum limit."""
    net = nw.paper_network(sites=60)
    t = np.arange(0, 5.0, 0.5)
    rep = kernels_report(net, t, points=50)
    kern = lg.kernels(net, t)
    np.testing.assert_array_equal(rep.kernels.matrix, kern.matrix)
    assert rep.omega[0] == 0 and rep.omega[-1] == pytest.approx(1.1 * kern.bath_frequencies[-1])
    np.testing.assert_allclose(rep.spectral_density, kern.spectral_density(rep.omega), rtol=1e-14)
    site = lg.continuum_spectral_density(net, rep.omega, max_length=rep.paths_max_length)
    r = kern.rotation
    np.testing.assert_allclose(rep.continuum_spectral_density, r @ site @ r.T, atol=1e-15)
    np.testing.assert_allclose(lg.to_sites(rep.continuum_spectral_density, r), site, atol=1e-15)
    w = rep.omega[(rep.omega > 0.5) & (rep.omega < 2.0)]
    k = 2 * np.arcsin(np.sqrt((w**2 - 0.16) / 4.8))
    np.testing.assert_allclose(lg.continuum_spectral_density(net, w, max_length=rep.paths_max_length)[:, 0, 0],
                               0.04 * np.sin(k) / 1.2, rtol=1e-12)
    ring = np.roll(np.eye(8), 1, axis=1)
    graph = nw.couple(nw.graph(ring + ring.T, 1.0), nw.probes([1.0, 1.1], 0.3, [1, 2], [0.1, 0.1]))
    g = kernels_report(graph, t, points=20)
    assert g.continuum_spectral_density is None and math.isnan(g.horizon)


def test_docs_example_runs(monkeypatch):
    """The Python example of docs/analysis.md, Sec. 4, runs and says what its comments say."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    text = (root / "docs" / "analysis.md").read_text()
    code = text.split("## 4. The report object")[1].split("```python\n")[1].split("```")[0]
    monkeypatch.chdir(root)
    ns: dict = {}
    exec(compile(code, "docs/analysis.md", "exec"), ns)  # noqa: S102
    rep = ns["rep"]
    assert rep.prediction.verdict == "anti-sync" and rep.prediction.reason == Reason.GAP
    assert round(rep.prediction.time_to_sync, 2) == 93.14 and round(rep.times.tau_revival_front, 1) == 656.8
    assert rep.localized_modes == () and rep.steady_pattern == Verdict.NONE
