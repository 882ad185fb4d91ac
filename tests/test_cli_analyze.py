"""`harmosync analyze` and `harmosync kernels`: report contents and units, saved files that agree
with the library, refusal to overwrite, one-line errors with exit status 2."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from threadpoolctl import threadpool_limits

from harmosync import config, io
from harmosync import network as nw
from harmosync.analysis import langevin as lg
from harmosync.analysis import summary
from harmosync.analysis.rayleigh import Reason, Verdict
from harmosync.cli import main
from harmosync.cli.analyze import format_report, report_dict


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Small dense problems: one BLAS thread is faster, and far faster on a loaded machine."""
    with threadpool_limits(1):
        yield


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def small_cfg(tmp_path):
    """Fig. 1 parameters on a 60-site chain, t ≤ 40."""
    text = (EXAMPLES / "fig1.toml").read_text().replace("sites = 300", "sites = 60").replace("stop = 1500.0", "stop = 40.0")
    path = tmp_path / "small.toml"
    path.write_text(text)
    assert tomllib.loads(text)["chain"]["sites"] == 60
    return path


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_analyze_fig1_report_and_json(tmp_path):
    """The paper's Fig. 1: the report names anti-sync, gives τ_R with units, and the JSON holds
    the same numbers as the analysis report, its prediction both in words and as data."""
    out = tmp_path / "fig1.json"
    res = run("analyze", EXAMPLES / "fig1.toml", "-o", out)
    assert res.exit_code == 0, res.output
    assert "anti-sync" in res.output and "EXPECTED" in res.output
    assert "τ_R" in res.output and "[1/ω]" in res.output and "[sites·ω]" in res.output
    rep = json.loads(out.read_text())
    a = summary.report(config.load(EXAMPLES / "fig1.toml").build_network())
    assert rep["rayleigh"]["damping_matrix"][0][0] == a.rayleigh.damping_matrix[0][0]
    assert rep["rayleigh"]["kind"] == "anti-sync" and rep["rayleigh"]["expected"] is True
    assert (rep["rayleigh"]["verdict"], rep["rayleigh"]["reason_code"]) == ("anti-sync", "gap")
    assert rep["prediction"] == {"verdict": "anti-sync", "reason_code": "gap"}
    assert rep["rayleigh"]["reason"].startswith("gap: q1 decays, q2 survives")
    assert rep["characteristic_times"]["tau_revival_front"] == a.times.tau_revival_front
    assert rep["characteristic_times"]["tau_crosstalk"] is None  # NaN → null: strict JSON
    assert rep["config"]["chain"]["sites"] == 300 and "units" in rep and "conventions" in rep


def test_analyze_refuses_overwrite_and_netcdf(tmp_path, small_cfg):
    out = tmp_path / "a.json"
    assert run("analyze", small_cfg, "-o", out, "-q").exit_code == 0
    res = run("analyze", small_cfg, "-o", out, "-q")
    assert res.exit_code == 2 and "--overwrite" in res.output and len(res.output.strip().splitlines()) == 1
    assert run("analyze", small_cfg, "-o", out, "-q", "--overwrite").exit_code == 0
    nc = tmp_path / "a.nc"
    assert run("analyze", small_cfg, "-o", nc, "-q", "--check").exit_code == 0
    ds = io.read(nc)
    assert ds.damping_matrix.attrs["units"] == "[w]" and "report_json" in ds.attrs
    assert json.loads(ds.attrs["report_json"])["measured_rates"] is not None
    assert "convention.units" in ds.attrs


@pytest.mark.parametrize("args, msg", [
    (["analyze", "missing.toml"], "does not exist"),
    (["analyze", "{cfg}", "-o", "x.txt"], ".json or .nc"),
    (["analyze", "{cfg}", "--horizon", "-3"], "horizon"),
    (["kernels", "{cfg}"], "nothing to do"),
    (["kernels", "{cfg}", "--plot", "k.png", "--stop", "-1"], "--stop"),
    (["kernels", "{cfg}", "--plot", "k.png", "--step", "5", "--stop", "40"], "aliases"),
])
def test_bad_input_one_line_exit_2(tmp_path, small_cfg, args, msg, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = run(*[a.replace("{cfg}", str(small_cfg)) for a in args])
    assert res.exit_code == 2
    assert msg in res.output and len(res.output.strip().splitlines()) == 1


@pytest.mark.parametrize("n", [1, 3])
def test_analyze_says_why_rayleigh_needs_two_probes(tmp_path, n):
    """With one or three probes the report still gives the times and localized modes, and says
    that the Rayleigh analysis (two-probe theory) was not done, instead of leaving it out."""
    cfg = tmp_path / "c.toml"
    w = ", ".join(str(1.0 + 0.1 * i) for i in range(n))
    cfg.write_text(f"[chain]\nsites = 40\nomega0 = 0.4\ng = 1.2\n[probes]\nfrequencies = [{w}]\n"
                   f"coupling = 0.0\nsites = [{', '.join(['1'] * n)}]\nstrengths = [{', '.join(['0.1'] * n)}]\n"
                   "[time]\nstop = 10.0\nstep = 0.05\n[sync]\nwindow = 2.0\n")
    res = run("analyze", cfg)
    assert res.exit_code == 0, res.output
    assert "τ_R" in res.output and "Localized normal modes" in res.output
    assert f"Rayleigh analysis: not done; it is the two-probe theory of Sec. III and this network has {n} probe" in res.output
    out = tmp_path / "c.json"
    assert run("analyze", cfg, "-q", "-o", out).exit_code == 0
    rep = json.loads(out.read_text())
    assert rep["rayleigh"] is None and rep["prediction"] == {"verdict": "not-applicable", "reason_code": "not-two-probes"}


def test_every_reason_is_put_into_words(small_cfg):
    """The text report states each Reason of Rayleigh's prediction in words with its numbers
    (the prediction swapped into a real Fig. 1 report)."""
    cfg = config.load(small_cfg)
    rep = summary.report(cfg.build_network())
    words = {
        Reason.GAP: "gap: q1 decays, q2 survives; amplitude ratio falls 10× by t = 93.14 [1/ω] < τ_R",
        Reason.NO_GAP: "no damping gap",
        Reason.ONE_PROBE_MODE: "the surviving mode q2 lives on one probe",
        Reason.GAP_TOO_SMALL: "the damped mode needs 93.14 [1/ω] to fall 10× below q2, after the revival τ_R",
        Reason.POLE_MERGED: "a probe resonance has merged with the band edge",
        Reason.MARKOV_INACCURATE: f"its rates are off by {100 * rep.rayleigh.markov_error:.3g}%",
        Reason.CROSS_DAMPING: f"cross damping |G′_12| = {max(map(abs, rep.rayleigh.cross_damping)):.3g} is not small",
    }
    assert set(words) == set(Reason) - {Reason.NOT_TWO_PROBES}
    for reason, text in words.items():
        p = dataclasses.replace(rep.prediction, reason=reason)
        r = dataclasses.replace(rep, prediction=p, rayleigh=dataclasses.replace(rep.rayleigh, prediction=p))
        d = report_dict(r, cfg)
        assert text in d["rayleigh"]["reason"] and d["rayleigh"]["reason_code"] == reason.value
        assert f"prediction                  anti-sync (q2 survives); EXPECTED: {d['rayleigh']['reason']}\n" in format_report(d)
    graph = summary.report(nw.couple(nw.graph(np.ones((6, 6)) - np.eye(6), 1.0), nw.probes([1.0, 1.1], 0.5, [1, 1], [0.2, 0.2])))
    assert graph.prediction.deadline_source == "heisenberg"
    p = dataclasses.replace(graph.prediction, reason=Reason.GAP_TOO_SMALL, verdict=Verdict.NONE)
    d = report_dict(dataclasses.replace(graph, prediction=p, rayleigh=dataclasses.replace(graph.rayleigh, prediction=p)), cfg)
    assert "after the Heisenberg time 2π/Δ of the environment's 6 discrete modes" in d["rayleigh"]["reason"]


def test_bad_config_exit_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[chain]\nsites = 10\nomega0 = 0.4\ng = 1.2\n[probes]\nfrequencies = [1.0]\n")
    res = run("analyze", bad)
    assert res.exit_code == 2 and res.output.startswith("harmosync: error: config error")


def test_kernels_files_match_library(tmp_path, small_cfg):
    """The NetCDF written by `kernels` holds γ1, γ2, η of langevin.kernels on the chosen grid,
    with units; the plot is written."""
    nc, png = tmp_path / "k.nc", tmp_path / "k.png"
    res = run("kernels", small_cfg, "--plot", png, "-o", nc, "--stop", 20, "--step", 0.1)
    assert res.exit_code == 0, res.output
    assert png.stat().st_size > 10_000
    ds = io.read(nc)
    net = config.load(small_cfg).build_network()
    kern = lg.kernels(net, np.arange(0, 20.0001, 0.1))
    np.testing.assert_allclose(ds.gamma1.values, kern.gamma1, atol=1e-15)
    np.testing.assert_allclose(ds.eta.values, kern.eta, atol=1e-15)
    np.testing.assert_allclose(ds.coefficient.values, kern.coefficients)
    assert ds.gamma2.attrs["units"] == "[w]^2" and ds.time.attrs["units"] == "1/[w]"
    assert "continuum_spectral_density" in ds and ds.attrs["title"] == "harmosync kernels"
    assert run("kernels", small_cfg, "--plot", png).exit_code == 2  # exists, no --overwrite


def test_help_has_examples():
    for cmd in ("analyze", "kernels"):
        res = run(cmd, "--help")
        assert res.exit_code == 0 and "Example" in res.output and f"harmosync {cmd}" in res.output


def test_kernels_of_a_config_with_baths_say_the_baths_are_left_out(tmp_path):
    """Γ′(t) = Σ_j c_s(j)c_s′(j)/Ω_j² cos(Ω_j t) (Eqs. A12, A13) is the closed environment's: a
    config with [[baths]] (here Lindblad baths on sites 201–300) gets the same kernels as
    without them, a one-line warning that says so, and the note in the file's attributes."""
    src = EXAMPLES / "open" / "fig1_absorbing_end.toml"
    closed = tomllib.loads(src.read_text())
    closed.pop("baths")
    cfg_closed = config.load(closed)
    nc = tmp_path / "k.nc"
    res = CliRunner().invoke(main, ["kernels", str(src), "-o", str(nc), "--stop", "5", "--step", "0.1", "-q"])
    assert res.exit_code == 0, res.output
    warning = [line for line in res.stderr.splitlines() if line]
    assert len(warning) == 1 and "[[baths]]" in warning[0] and "not included" in warning[0]
    ds = io.read(nc)
    assert "not included" in ds.attrs["baths"]
    kern = lg.kernels(cfg_closed.build_network(), ds.time.values)
    np.testing.assert_allclose(ds.gamma1.values, kern.gamma1, rtol=0, atol=1e-15)
