"""The open-system analysis (harmosync.analysis.open, `harmosync analyze` with [[baths]]).

Physics checked: the rates are −Re λ(A) (their sum is −tr A / 2 for underdamped pairs); at weak
damping a common Brownian bath with weights c damps the probes' normal mode q_s at
γ (R c)_s² / 2 (R the rotation of Eq. A7), so with c = (1, 1) the rate gap is γ |sin 2θ| and
the slow mode q2 moves the probes in anti-phase; separate Lindblad baths shift every eigenvalue
by −γ/2 (no gap); a common bath on identical oscillators leaves the antisymmetric mode
noiseless. The verdict is checked against the exact means.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from harmosync import dynamics as dy
from harmosync import network as nw
from harmosync import states as st
from harmosync.analysis import summary
from harmosync.analysis.open import open_report
from harmosync.analysis.rayleigh import SYNC_RATIO, Verdict
from harmosync.baths import Bath, drift_diffusion
from harmosync.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
FREQS, COUPLING, GAMMA = (1.0, 1.05), 0.05, 0.02


def alone(freqs, coupling=0.0):
    return nw.couple(nw.no_environment(), nw.probes(freqs, coupling, None, None))


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def brownian_common(weights=None, rate=GAMMA):
    return [Bath("brownian", rate, probes=(1, 2), common=True, weights=weights, temperature=1.0)]


def test_rates_are_the_drift_eigenvalues_and_sum_to_half_the_trace():
    """Σ_pairs rate = −tr A / 2 (every mode underdamped); each rate, frequency is −Re λ, Im λ."""
    net = alone(FREQS, COUPLING)
    baths = brownian_common()
    rep = open_report(net, baths)
    a, _ = drift_diffusion(net, baths)
    assert rep.modes.rates.sum() == pytest.approx(-np.trace(a) / 2, rel=1e-12)
    lam = np.linalg.eigvals(a)
    up = np.sort_complex(lam[lam.imag > 0])
    np.testing.assert_allclose(np.sort_complex(-rep.modes.rates + 1j * rep.modes.frequencies), up, rtol=1e-12)
    assert rep.modes.rates[0] <= rep.modes.rates[1]


@pytest.mark.parametrize("weights, verdict", [(None, Verdict.ANTI_SYNC), ((1.0, -1.0), Verdict.SYNC)])
def test_common_brownian_bath_rate_gap_is_rayleighs_at_weak_damping(weights, verdict):
    """First order in γ: mode q_s decays at γ(R c)_s²/2; c = (1, ±1) gives the gap γ|sin 2θ|;
    c = (1, 1) leaves q2 = −sin θ x1 + cos θ x2 (anti-phase), c = (1, −1) leaves q1 (in phase)."""
    theta, _ = nw.system_normal_modes(FREQS, COUPLING)
    rep = open_report(alone(FREQS, COUPLING), brownian_common(weights))
    assert rep.rate_gap == pytest.approx(GAMMA * abs(np.sin(2 * theta)), rel=0.05)
    assert rep.verdict is verdict and rep.reason == "gap"
    assert rep.time_to_sync == pytest.approx(np.log(SYNC_RATIO) / rep.rate_gap)
    assert abs(abs(rep.phase) - (np.pi if verdict is Verdict.ANTI_SYNC else 0.0)) < 0.3
    assert rep.steady_state and not rep.modes.noiseless


def test_verdict_matches_the_exact_means():
    """The exact means at t ≈ 10/gap, when only the survivor Re(a_j e^{λt}) is left: over a
    window of ~3 periods x1 and x2 correlate as cos(arg a₂/a₁), the reported phase (anti-phase
    up to the mixing by the common bath: C's plateau −0.96 of docs/open-systems.md (c))."""
    net = alone(FREQS, COUPLING)
    baths = brownian_common()
    rep = open_report(net, baths)
    evo = dy.solve(net, st.InitialState(st.product(st.coherent(1.0, 1.0), st.coherent(1.05, 0.0))), baths=baths)
    t = 10 / rep.rate_gap + np.arange(0.0, 20.0, 0.1)
    m = evo.means(t)
    r = np.corrcoef(m[:, 0], m[:, 2])[0, 1]
    assert rep.verdict is Verdict.ANTI_SYNC and r == pytest.approx(np.cos(rep.phase), abs=2e-3) and r < -0.9


def test_separate_lindblad_baths_have_no_gap():
    """Local Lindblad baths at the own frequencies add −γ/2·I: every rate is γ/2 (no gap)."""
    rep = open_report(alone(FREQS, COUPLING), [Bath("lindblad", GAMMA, probes=(1, 2), temperature=1.0)])
    np.testing.assert_allclose(rep.modes.rates, GAMMA / 2, rtol=1e-10)
    assert rep.verdict is Verdict.NONE and rep.reason == "no-gap" and rep.time_to_sync == np.inf


def test_noiseless_mode_reported():
    """Identical oscillators, common Lindblad bath (c = 1, 1): x1 − x2 is decoupled (rate 0)."""
    rep = open_report(alone((1.0, 1.0)), [Bath("lindblad", 0.05, probes=(1, 2), common=True, temperature=0.0)])
    assert len(rep.modes.noiseless) == 1 and not rep.steady_state
    k = rep.modes.noiseless[0]
    assert rep.modes.rates[k] == pytest.approx(0.0, abs=1e-12)
    assert rep.verdict is Verdict.ANTI_SYNC  # the noiseless antisymmetric mode survives
    assert rep.as_dict()["noiseless_modes"][0]["probe_weights"] == pytest.approx([0.5, 0.5], abs=1e-9)


def test_three_probes_not_applicable_but_reported():
    rep = open_report(alone((1.0, 1.1, 1.2), 0.05), [Bath("lindblad", 0.01, probes=(1,), temperature=0.0)])
    assert rep.verdict is Verdict.NOT_APPLICABLE and rep.reason == "not-two-probes"
    assert rep.modes.probe_weights.shape == (3, 3)


def test_summary_report_probes_alone_and_refusals():
    net = alone(FREQS, COUPLING)
    rep = summary.report(net, baths=brownian_common())
    assert rep.prediction is None and rep.rayleigh is None and rep.open.verdict is Verdict.ANTI_SYNC
    with pytest.raises(Exception, match="probes alone"):
        summary.report(net)
    with pytest.raises(Exception, match="horizon"):
        summary.report(net, baths=brownian_common(), horizon=10.0)


def test_cli_probes_alone_prints_the_open_section_and_saves_it(tmp_path):
    cfg = EXAMPLES / "open" / "two_oscillators_brownian_common.toml"
    out = tmp_path / "a.json"
    res = run("analyze", cfg, "-o", out)
    assert res.exit_code == 0, res.output
    assert "Open system" in res.output and "anti-sync" in res.output and "rate gap" in res.output
    d = json.loads(out.read_text())
    assert d["open"]["verdict"] == "anti-sync" and d["prediction"] is None
    assert 1 / d["open"]["rate_gap"] == pytest.approx(70, rel=0.05)  # docs/open-systems.md (c)
    nc = tmp_path / "a.nc"
    assert run("analyze", cfg, "-o", nc, "-q").exit_code == 0


def test_cli_separate_baths_no_sync():
    res = run("analyze", EXAMPLES / "open" / "two_oscillators_lindblad_separate.toml")
    assert res.exit_code == 0 and "none: no rate gap" in res.output


def test_cli_probes_alone_without_baths_refused_in_one_line(tmp_path):
    text = (EXAMPLES / "open" / "two_oscillators_brownian_common.toml").read_text().split("[[baths]]")[0]
    path = tmp_path / "nobath.toml"
    path.write_text(text)
    res = run("analyze", path)
    assert res.exit_code == 2 and "[[baths]]" in res.output and len(res.output.strip().splitlines()) == 1


def test_cli_environment_with_baths_prints_closed_then_open(tmp_path):
    text = (EXAMPLES / "open" / "fig1_absorbing_end.toml").read_text()
    text = text.replace("sites = 300", "sites = 60").replace("start = 201, stop = 300", "start = 41, stop = 60")
    path = tmp_path / "small.toml"
    path.write_text(text)
    res = run("analyze", path)
    assert res.exit_code == 0, res.output
    assert "Rayleigh analysis" in res.output and "Open system" in res.output and "not part of" not in res.output
    assert res.output.index("Rayleigh analysis") < res.output.index("Open system")
