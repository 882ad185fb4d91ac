"""The rough edges a new user hits (issue 15): changing a parameter from Python, the crosstalk
of the right probe pair, counts in words, integer attributes, Zarr stores that open without a
warning, deeply nested TOML, and what makes a release (version, citation, a wheel in CI)."""

from __future__ import annotations

import json
import math
import re
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import harmosync
from harmosync import config, io
from harmosync import sweep as sw
from harmosync.analysis import times as tm
from harmosync.cli import main
from harmosync.errors import HarmosyncError, UnstableNetworkError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SMALL = {  # Fig. 1's probes on a 40-site chain, t ≤ 20
    "chain": {"sites": 40, "omega0": 0.4, "g": 1.2},
    "probes": {"frequencies": [1.0, 1.1], "coupling": 0.5, "sites": [1, 1], "strengths": [0.2, 0.2]},
    "initial": {"x": [0.14, 1.4]},
    "time": {"stop": 20.0, "step": 0.05},
    "sync": {"window": 5.0},
}


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def toml(d: dict) -> str:
    """A config dict as TOML (tables of scalars and lists only)."""
    out = []
    for table, body in d.items():
        out.append(f"[{table}]")
        out += [f"{k} = {json.dumps(v)}" for k, v in body.items()]
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------------------------
# 1. Changing a parameter from Python
# ----------------------------------------------------------------------------------------------
def test_load_takes_a_dict_validated_as_a_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(toml(SMALL))
    assert config.load(SMALL) == config.load(path)
    bad = {**SMALL, "chain": {**SMALL["chain"], "omega": 0.4}}
    path.write_text(toml(bad))
    with pytest.raises(HarmosyncError) as from_file:
        config.load(path)
    with pytest.raises(HarmosyncError) as from_dict:
        config.load(bad)
    assert str(from_dict.value) == str(from_file.value)
    assert "unknown key 'omega'" in str(from_dict.value) and 'did you mean "omega0"' in str(from_dict.value)
    with pytest.raises(HarmosyncError, match="a TOML file's path or a dict"):
        config.load(3)


def test_replace_uses_the_sweep_paths_and_leaves_the_original():
    cfg = config.load(SMALL)
    new = config.replace(cfg, "probes.strengths[2]", 0.3)
    assert new.probes.strengths == [0.2, 0.3] and cfg.probes.strengths == [0.2, 0.2]
    both = config.replace(cfg, "probes.strengths[*]", 0.1, "chain.g", 1.1)
    assert both.probes.strengths == [0.1, 0.1] and both.chain.g == 1.1
    assert config.replace(cfg, {"probes.sites[2]": 5, "time.stop": 30.0}) == \
        config.parse({**SMALL, "probes": {**SMALL["probes"], "sites": [1, 5]}, "time": {"stop": 30.0, "step": 0.05}})
    assert config.replace(cfg, "initial.x", np.array([0.0, 1.0])).initial.x == [0.0, 1.0]  # numpy values too
    # the same point as the sweep's: one grammar, one meaning
    spec = sw.build_spec(SMALL, {"probes.strengths[2]": [0.05, 0.3]}, {"summaries": ["sync"]})
    assert spec.point_config(1) == new


@pytest.mark.parametrize("args, needle", [
    (("probes.strengths[3]", 0.1), "probes.strengths has 2 entries; probe 3 does not exist"),
    (("probes.strenghts[2]", 0.1), 'unknown key \'strenghts\' in [probes] (did you mean "strengths"?)'),
    (("probes[1].sites", 1), "[probes] is one table, not an array of tables"),
    (("probes.sites[0]", 1), "numbered from 1"),
    (("chain.g", -1.0), "chain.g: Input should be greater than or equal to 0"),
    (("chain.g", "1.2"), "chain.g: must be a number"),
    (("probes.sites[2]", 41), "site 41"),
    (("probes.strengths[2]",), "path, value pairs"),
])
def test_replace_refuses_in_one_line_as_a_file_would(args, needle):
    with pytest.raises(HarmosyncError) as e:
        config.replace(config.load(SMALL), *args)
    msg = str(e.value)
    assert msg.startswith("config error") and needle in msg and "\n" not in msg, msg


def test_replace_refuses_an_unstable_network_at_once():
    """One probe (ω = 1) on a one-site fixed chain: V = [[ω², K], [K, Ω0² + 2g]] (H_I = K x X,
    no counterterm) is positive definite iff K² < ω²(Ω0² + 2g), here K < √2.56 = 1.6."""
    one = {"chain": {"sites": 1, "omega0": 0.4, "g": 1.2},
           "probes": {"frequencies": [1.0], "sites": [1], "strengths": [0.2]}, "time": {"stop": 5.0, "step": 0.1}}
    cfg = config.load(one)
    assert config.replace(cfg, "probes.strengths[1]", 1.59).probes.strengths == [1.59]
    with pytest.raises(UnstableNetworkError, match=r"\|K\| < 1\.6\b"):
        config.replace(cfg, "probes.strengths[1]", 1.61)


# ----------------------------------------------------------------------------------------------
# 2. analyze: the crosstalk of the sync.probes pair, the temperature, --check's duration
# ----------------------------------------------------------------------------------------------
THREE = {"chain": {"sites": 60, "omega0": 0.4, "g": 1.2, "temperature": 0.5},
         "probes": {"frequencies": [1.0, 1.1, 1.2], "coupling": 0.0, "sites": [1, 1, 50],
                    "strengths": [0.1, 0.1, 0.1]},
         "time": {"stop": 10.0, "step": 0.05}, "sync": {"window": 2.0, "probes": [1, 3]}}


def carrier(w, omega0=0.4, g=1.2):
    """Group velocity v = dω/dk = g sin k / ω of ω² = Ω0² + 4g sin²(k/2) [sites·ω]."""
    k = math.acos(1 - (w**2 - omega0**2) / (2 * g))
    return g * math.sin(k) / w


def test_crosstalk_is_that_of_the_sync_pair(tmp_path):
    """Probes at sites 1, 1, 50 and sync.probes = [1, 3]: τ_CT = 49 / max(v(ω1), v(ω3)), the
    first arrival of either carrier at the other probe (analysis/times.py)."""
    ct = tm.characteristic_times(config.load(THREE).build_network(), (1, 3))
    assert ct.crosstalk_distance == 49
    assert ct.tau_crosstalk == pytest.approx(49 / max(carrier(1.0), carrier(1.2)), rel=1e-12)
    path = tmp_path / "three.toml"
    path.write_text(toml(THREE))
    res = run("analyze", path)
    assert res.exit_code == 0, res.output
    line = next(x for x in res.output.splitlines() if "crosstalk τ_CT" in x)
    assert f"{ct.tau_crosstalk:.4g} [1/ω]" in line and "between probes 1 and 3" in line, line
    assert "share a site" not in res.output
    assert "temperature T = 0.5 [ω] (k_B = 1)" in res.output
    path.write_text(toml({**THREE, "sync": {"window": 2.0, "probes": [1, 2]}}))
    res = run("analyze", path)
    assert "— (probes 1 and 2 (sync.probes) share site 1)" in res.output, res.output


def test_analyze_help_states_the_measured_check_time():
    """--check fits the rates from the exact dynamics; its help gives the duration measured
    (`time harmosync analyze examples/fig1.toml -q [--check]`: +0.5 s), not "a few seconds"."""
    res = run("analyze", "--help")
    assert "a few seconds" not in res.output
    assert re.search(r"--check\s.*~\d+(\.\d+)? s for Fig\. 1", " ".join(res.output.split())), res.output


# ----------------------------------------------------------------------------------------------
# 3. Counts in words, whole numbers in the attributes, one way to write NetCDF from a sweep
# ----------------------------------------------------------------------------------------------
def test_one_probe_is_one_probe_and_sites_stay_whole(tmp_path):
    one = {**SMALL, "probes": {"frequencies": [1.0], "sites": [3], "strengths": [0.2]}, "initial": {}}
    path = tmp_path / "one.toml"
    path.write_text(toml(one))
    out = tmp_path / "one.nc"
    res = run("simulate", path, "-o", out)
    assert res.exit_code == 0, res.output
    assert "1 probe, 40 sites" in res.output and "1 probes" not in res.output
    ds = io.read(out)
    assert ds.attrs["probes.sites"].dtype.kind == "i" and list(np.atleast_1d(ds.attrs["probes.sites"])) == [3]
    assert ds.attrs["probes.frequencies"].dtype.kind == "f"
    flat = io.flatten({"a": [1, 2], "b": [1, 2.5], "c": [True, False], "d": [[1, 2], 3]})
    assert flat["a"].dtype == np.int64 and flat["b"].dtype == np.float64 and flat["d"] == "[[1, 2], 3]"


SWEEP_TOML = toml(SMALL) + '[sweep]\n"probes.sites[2]" = { values = [1, 3] }\n[keep]\nsummaries = ["sync"]\n'


def test_sweep_export_is_the_documented_way_and_netcdf_its_old_spelling(tmp_path):
    cfg = tmp_path / "s.toml"
    cfg.write_text(SWEEP_TOML)
    help_text = run("sweep", "--help").output
    assert "--export" in help_text and "--netcdf" not in help_text
    res = run("sweep", cfg, "-o", tmp_path / "s.zarr", "--export", tmp_path / "e.nc", "--netcdf", "--no-progress")
    assert res.exit_code == 2 and "give --export OUT.nc or --netcdf, not both" in res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "s.zarr").exists()
    res = run("sweep", cfg, "-o", tmp_path / "s.zarr", "--netcdf", "--no-progress")
    assert res.exit_code == 0 and (tmp_path / "s.nc").exists(), res.output
    res = run("sweep", cfg, "--dry-run")
    assert "2 points = 2 probes_sites_2" in res.output, res.output


# ----------------------------------------------------------------------------------------------
# 4. Zarr stores: consolidated when complete; the dashboard only when there is one
# ----------------------------------------------------------------------------------------------
def _open_zarr_warnings(store):
    import xarray as xr

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        xr.open_zarr(store).close()
    return [str(w.message) for w in caught]


def test_a_complete_store_opens_without_warning_and_an_interrupted_one_resumes(tmp_path):
    axes = {"probes.sites[2]": [1, 2, 3, 4]}
    keep = {"summaries": ["sync"], "windows": [[0, 20]]}
    store = tmp_path / "s.zarr"
    kw = dict(keep=keep, store=store, executor="serial", progress=False, log=lambda s: None, batch=1)
    sw.run_sweep(SMALL, axes, shard="1/2", **kw)  # half the grid: an unfinished store, as if interrupted
    assert any("consolidated" in w for w in _open_zarr_warnings(store))
    logs = []
    ds = sw.run_sweep(SMALL, axes, **{**kw, "log": logs.append}).load()
    assert any("2 of 4 points already done; computing the remaining 2" in s for s in logs), logs
    assert _open_zarr_warnings(store) == []
    ref = sw.run_sweep(SMALL, axes, keep=keep, executor="serial", progress=False, log=lambda s: None, batch=1)
    assert np.array_equal(ds["sync_mean"].values, ref["sync_mean"].values, equal_nan=True)
    # a complete, consolidated store resumes as any other: nothing left to do, same data
    again = sw.run_sweep(SMALL, axes, **kw).load()
    assert np.array_equal(again["sync_mean"].values, ref["sync_mean"].values, equal_nan=True)


class _Client:
    """What choose_executor reads of a dask Client."""

    def __init__(self, link, services=("dashboard",)):
        self.dashboard_link, self.services = link, services

    def nthreads(self):
        return {"tcp://127.0.0.1:1": 1}

    def scheduler_info(self, **kw):
        return {"services": {s: 8787 for s in self.services}}

    def get_executor(self, **kw):
        return object()


def test_no_dashboard_link_for_a_scheduler_without_a_dashboard():
    """`dask scheduler --no-dashboard` still serves HTTP and reports a "dashboard" service, but
    its /status page answers 404 (checked by hand on distributed 2026.8): no link then."""
    import http.server
    import threading

    from harmosync.sweep.executors import choose_executor, dashboard_link

    class Pages(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200 if self.path == "/status" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Pages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        root = f"http://127.0.0.1:{server.server_port}"
        said = []
        choose_executor(_Client(root + "/missing"), None, 4, said.append)
        assert said and "no dashboard" in said[0] and "http" not in said[0], said
        assert dashboard_link(_Client(root + "/status")) == root + "/status"
        assert dashboard_link(_Client(root + "/status", services=())) is None
        assert dashboard_link(_Client("http://127.0.0.1:1/status")) == "http://127.0.0.1:1/status"  # unreachable: kept
    finally:
        server.shutdown()
        server.server_close()


# ----------------------------------------------------------------------------------------------
# 5. A TOML nested thousands of levels deep is bad input: one line, exit 2
# ----------------------------------------------------------------------------------------------
DEEP = {
    "array": "x = " + "[" * 5000 + "]" * 5000 + "\n",
    "inline table": "x = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n",
    "dotted table": "[" + ".".join(["a"] * 3000) + "]\n",
}


@pytest.mark.parametrize("kind", list(DEEP))
@pytest.mark.parametrize("command", ["simulate", "sweep"])
def test_deeply_nested_toml_is_one_line_exit_2(tmp_path, kind, command):
    path = tmp_path / "deep.toml"
    base = SWEEP_TOML if command == "sweep" else toml(SMALL)
    path.write_text(base.replace("[keep]", "[sweep.more]\n" + DEEP[kind] + "[keep]") if command == "sweep"
                    else DEEP[kind] + base)
    res = run(command, path, "-o", tmp_path / ("o.zarr" if command == "sweep" else "o.nc"))
    assert res.exit_code == 2, res.output
    assert len(res.output.strip().splitlines()) == 1 and "levels deep" in res.output, res.output
    assert "RecursionError" not in res.output


def test_a_deep_dict_is_refused_by_load():
    deep: dict = {}
    node = deep
    for _ in range(3000):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(HarmosyncError, match="levels deep"):
        config.load({**SMALL, "initial": deep})


# ----------------------------------------------------------------------------------------------
# 6. A release: --version, CITATION.cff, the wheel in CI
# ----------------------------------------------------------------------------------------------
def test_version_is_the_package_version():
    res = run("--version")
    assert res.exit_code == 0 and res.output.strip() == f"harmosync, version {harmosync.__version__}"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["version"] == harmosync.__version__


def test_citation_cites_the_paper_and_the_software():
    yaml = pytest.importorskip("yaml")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    assert str(cff["version"]) == harmosync.__version__ and cff["title"].startswith("harmosync")
    paper = cff["preferred-citation"]
    assert paper["doi"] == "10.1103/PhysRevA.94.052118" and paper["year"] == 2016 and paper["volume"] == 94
    assert [a["family-names"] for a in paper["authors"]] == ["Benedetti", "Galve", "Mandarino", "Paris", "Zambrini"]


def test_ci_builds_the_wheel_and_runs_the_cli_from_it():
    """After the README's test command, .ci/run builds a wheel, installs it into a fresh venv and
    runs `harmosync --version` and `harmosync simulate` from there; `build` is in the test extra."""
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    test_cmd = re.findall(r"```bash\n(.*?)```", readme, re.S)[0].splitlines()[1].split("#")[0].strip()
    after = ci.split(test_cmd, 1)[1]
    assert "python -m build --wheel" in after and "venv" in after and ".whl" in after
    assert "harmosync --version" in after and "harmosync simulate" in after and "fig1.toml" in after
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    assert any(re.match(r"build\b", r) for r in extra)
