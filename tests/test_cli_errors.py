"""Issue 4: a catalogue of bad inputs to `harmosync simulate`. Each must exit with status 2, print
one line on stderr that names the problem, print no traceback, and leave no output file."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from harmosync.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
BASE = tomllib.loads((EXAMPLES / "fig1.toml").read_text())
BASE["chain"]["sites"] = 20
BASE["time"]["stop"] = 60.0


def toml_dumps(d: dict) -> str:
    def val(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return f'"{v}"'
        if isinstance(v, float):
            return {float("inf"): "inf", float("-inf"): "-inf"}.get(v, "nan" if v != v else repr(v))
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        return str(v)

    out = []
    for table, body in d.items():
        if isinstance(body, dict):
            out.append(f"[{table}]")
            out += [f"{k} = {val(v)}" for k, v in body.items()]
        else:
            out.insert(0, f"{table} = {val(body)}")
    return "\n".join(out) + "\n"


def edit(**changes):
    """BASE with changes {"table.key": value}; value None deletes the key, "table": None the table."""
    d = copy.deepcopy(BASE)
    for path, v in changes.items():
        parts = path.split(".")
        node = d
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        if v is None:
            node.pop(parts[-1], None)
        else:
            node[parts[-1]] = v
    return d


CASES = {
    # misspelt or unknown keys
    "unknown_table": (edit(**{"chian": {"sites": 3}}), ["unknown key 'chian'", 'did you mean "chain"']),
    "unknown_chain_key": (edit(**{"chain.omega": 0.4}), ["unknown key 'omega'", 'did you mean "omega0"']),
    "unknown_probes_key": (edit(**{"probes.strength": [0.2, 0.2]}), ["'strength'", '"strengths"']),
    "typo_for_required_key": (edit(**{"probes.strengths": None, "probes.strength": [0.2, 0.2]}),
                              ["unknown key 'strength'", '"strengths"']),
    "unknown_initial_key": (edit(**{"initial.squeeze": [0.0, 0.0]}), ["'squeeze'", '"squeezing"']),
    "missing_time": (edit(time=None), ["time", "missing"]),
    "two_environments": (edit(graph={"sites": 2, "edges": [[1, 2, 0.5]], "onsite_frequencies": 0.4}), ["exactly one environment"]),
    # wrong types and shapes
    "sites_string": (edit(**{"chain.sites": "many"}), ["chain.sites", "must be a number", "'many'"]),
    "sites_boolean": (edit(**{"chain.sites": True}), ["chain.sites", "must be a number", "True"]),
    "coupling_text": (edit(**{"probes.coupling": "0.5"}), ["probes.coupling", "must be a number"]),
    "ragged_coupling_matrix": (edit(**{"probes.coupling": [[0.0, 0.5], [0.5]]}), ["coupling", "2×2 matrix"]),
    "g_huge": (edit(**{"chain.g": 1e300}), ["chain.g", "beyond the supported magnitude"]),
    "x_huge": (edit(**{"initial.x": [1e300, 1.4]}), ["initial.x", "beyond the supported magnitude"]),
    "seed_negative": (edit(**{"chain.disorder": 0.1, "chain.seed": -3}), ["chain.seed", "greater than or equal to 0"]),
    "sites_absurd": (edit(**{"chain.sites": 10**12}), ["chain.sites", "less than or equal to"]),
    "probe_without_site": (edit(**{"probes.sites": [[], 1]}), ["probe 1 has an empty list of sites"]),
    "sites_fraction": (edit(**{"chain.sites": 2.5}), ["chain.sites", "integer"]),
    "frequencies_not_list": (edit(**{"probes.frequencies": 1.0}), ["probes.frequencies", "list"]),
    "mismatched_strengths": (edit(**{"probes.strengths": [0.2]}), ["strengths has length 1", "2"]),
    "mismatched_initial": (edit(**{"initial.x": [0.1]}), ["initial.x has length 1", "P = 2"]),
    "covariance_shape": (edit(**{"initial.x": None, "initial.p": None, "initial.squeezing": None,
                                 "initial.squeezing_angle": None, "initial.covariance": [[1.0, 0.0], [0.0, 1.0]]}),
                         ["initial.covariance must be 4×4"]),
    # non-finite and impossible values
    "omega0_negative": (edit(**{"chain.omega0": -0.4}), ["chain.omega0", "greater than or equal to 0"]),
    "omega0_zero_free_ends": (edit(**{"chain.omega0": 0.0, "chain.boundary": "free"}),
                              ["config error: chain:", "omega0 = 0 is stable only with fixed ends"]),
    "onsite_negative": (edit(**{"chain.onsite_frequencies": [0.4] * 19 + [-0.4]}),
                        ["config error: chain: chain onsite_frequencies must all be ≥ 0", "site 20"]),
    "coupling_matrix_diagonal": (edit(**{"probes.coupling": [[0.0, 0.5], [0.5, 0.1]]}),
                                 ["config error: probes:", "nonzero diagonal"]),
    "graph_duplicate_edge": (edit(chain=None, **{"probes.sites": [1, 2]},
                                  graph={"sites": 3, "edges": [[1, 2, 0.5], [2, 1, 0.5]], "onsite_frequencies": 0.4}),
                             ["config error: graph", "repeats the bond [1, 2, 0.5]"]),
    "omega0_nan": (edit(**{"chain.omega0": float("nan")}), ["chain.omega0", "finite"]),
    "g_inf": (edit(**{"chain.g": float("inf")}), ["chain.g", "finite"]),
    "sites_zero": (edit(**{"chain.sites": 0}), ["chain.sites", "greater than 0"]),
    "boundary_typo": (edit(**{"chain.boundary": "fixd"}), ["chain.boundary", "fixed"]),
    "negative_frequency": (edit(**{"probes.frequencies": [1.0, -1.1]}), ["frequencies must be positive"]),
    "zero_frequency": (edit(**{"probes.frequencies": [1.0, 0.0]}), ["frequencies must be positive"]),
    "tiny_frequency": (edit(**{"probes.frequencies": [1e-12, 1.1]}), ["frequencies must be at least 1e-06"]),
    "subnormal_frequency": (edit(**{"probes.frequencies": [1e-300, 1.1]}), ["frequencies must be at least 1e-06"]),
    "env_temperature_negative": (edit(**{"chain.temperature": -1.0}), ["chain.temperature", "greater than or equal to 0"]),
    "probe_temperature_negative": (edit(**{"initial.temperature": [0.1, -1.0]}), ["temperature", "≥ 0"]),
    # sites outside 1..M
    "site_too_large": (edit(**{"probes.sites": [1, 21]}), ["site 21", "1..20"]),
    "site_zero": (edit(**{"probes.sites": [0, 1]}), ["site 0", "1..20"]),
    "graph_edge_outside": (edit(chain=None, graph={"sites": 3, "edges": [[1, 4, 0.5]], "onsite_frequencies": 0.4}),
                           ["edge [1, 4, 0.5]", "1..3"]),
    # stability and states
    "unstable_coupling": (edit(**{"probes.strengths": [3.0, 3.0]}), ["unstable", "smallest eigenvalue", "|K| <"]),
    "uncertainty_violated": (edit(**{"initial.x": None, "initial.p": None, "initial.squeezing": None, "initial.squeezing_angle": None,
                                     "initial.covariance": [[0.1, 0, 0, 0], [0, 0.1, 0, 0], [0, 0, 0.5, 0], [0, 0, 0, 0.5]]}),
                             ["uncertainty principle"]),
    "covariance_asymmetric": (edit(**{"initial.x": None, "initial.p": None, "initial.squeezing": None, "initial.squeezing_angle": None,
                                      "initial.covariance": [[1, 0.3, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]}),
                              ["symmetric"]),
    "covariance_ragged": (edit(**{"initial.x": None, "initial.p": None, "initial.squeezing": None, "initial.squeezing_angle": None,
                                  "initial.covariance": [[0.5, 0, 0], [0, 0.5, 0, 0], [0, 0, 0.5, 0], [0, 0, 0, 0.5]]}),
                          ["initial.covariance rows have different lengths", "give 4 rows of 4"]),
    "probe_frequency_unresolvable": (edit(**{"probes.frequencies": [1e-8, 1.1], "probes.coupling": 0.0, "probes.strengths": [0.0, 0.2]}),
                                     ["frequencies must be at least 1e-06", "rescale your units"]),
    "squeezing_overflow": (edit(**{"initial.squeezing": [400.0, 0.0]}), ["squeezing r = 400", "too large"]),
    "squeezing_negative": (edit(**{"initial.squeezing": [-1.0, 0.0]}), ["squeezing r", "≥ 0"]),
    # time grid
    "step_zero": (edit(**{"time.step": 0.0}), ["time.step", "greater than 0"]),
    "stop_before_start": (edit(**{"time.start": 10.0, "time.stop": 5.0}), ["stop = 5", "after start"]),
    "empty_grid": (edit(**{"time.stop": 0.0}), ["stop = 0", "after start"]),
    "step_aliases": (edit(**{"time.step": 2.0}), ["too coarse", "use step <"]),
    "step_longer_than_run": (edit(**{"time.step": 100.0}), ["longer than the run"]),
    # sync window
    "window_below_step": (edit(**{"sync.window": 0.01}), ["window", "use window ≥ 0.1"]),
    "window_longer_than_run": (edit(**{"sync.window": 200.0}), ["longer than the run"]),
    "window_not_multiple": (edit(**{"sync.window": 20.03}), ["not a whole number of time steps"]),
    "delay_not_multiple": (edit(**{"sync.delay": 0.013}), ["delay", "whole number"]),
    "sync_probe_missing": (edit(**{"sync.probes": [1, 3]}), ["sync.probes", "1..2"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_config_is_refused_cleanly(name, tmp_path):
    data, fragments = CASES[name]
    cfg = tmp_path / "bad.toml"
    cfg.write_text(toml_dumps(data))
    out = tmp_path / "out.nc"
    res = CliRunner().invoke(main, ["simulate", str(cfg), "-o", str(out)])
    assert res.exit_code == 2, res.output
    msg = res.stderr.strip()
    assert msg.startswith("harmosync: error:") and "\n" not in msg, msg
    assert "Traceback" not in res.output
    for frag in fragments:
        assert frag in msg, f"{frag!r} not in {msg!r}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


def test_catalogue_is_large_enough():
    assert len(CASES) + len(FILE_CASES) >= 30


def _ok_config(tmp_path) -> Path:
    cfg = tmp_path / "ok.toml"
    cfg.write_text(toml_dumps(BASE))
    return cfg


FILE_CASES = ["missing_config", "not_toml", "not_utf8", "output_exists", "output_dir_missing", "output_is_dir", "plot_exists",
              "plot_same_as_output", "output_unwritable", "plot_unwritable", "plot_bad_extension", "output_bad_extension",
              "output_is_the_config", "output_is_a_fifo", "output_is_a_symlink", "output_name_too_long"]


@pytest.mark.parametrize("name", FILE_CASES)
def test_bad_files_are_refused_cleanly(name, tmp_path):
    cfg = _ok_config(tmp_path)
    out = tmp_path / "out.nc"
    args = ["simulate", str(cfg), "-o", str(out)]
    before = None
    if name == "missing_config":
        args[1], frag = str(tmp_path / "nope.toml"), "does not exist"
    elif name == "not_toml":
        cfg.write_text("[chain\nsites = 3")
        frag = "not valid TOML"
    elif name == "not_utf8":
        cfg.write_bytes(b"\xff\xfe\x00garbage")
        frag = "not UTF-8"
    elif name == "output_exists":
        out.write_text("precious")
        before, frag = "precious", "already exists"
    elif name == "output_dir_missing":
        args[3], frag = str(tmp_path / "no" / "out.nc"), "does not exist"
    elif name == "output_is_dir":
        (tmp_path / "d.nc").mkdir()
        args[3], frag = str(tmp_path / "d.nc"), "is a directory"
    elif name == "plot_exists":
        (tmp_path / "q.png").write_text("precious")
        args += ["--plot", str(tmp_path / "q.png")]
        frag = "already exists"
    elif name == "plot_same_as_output":
        args += ["--plot", str(out)]
        frag = "--plot"
    elif name == "output_bad_extension":  # a NetCDF file named like something else
        args[3], frag = str(tmp_path / "out.toml"), "must end in .nc"
    elif name == "output_is_the_config":
        cfg = cfg.rename(tmp_path / "run.nc")  # TOML content, NetCDF name: -o would replace it
        args[1:4] = [str(cfg), "-o", str(cfg)]
        args += ["--overwrite"]
        before, out, frag = cfg.read_text(), cfg, "is the input"
    elif name == "output_is_a_fifo":  # --overwrite must not replace a pipe or device (/dev/null)
        os.mkfifo(out)
        args += ["--overwrite"]
        frag = "special file"
    elif name == "output_is_a_symlink":
        (tmp_path / "real.nc").write_text("precious")
        out.symlink_to(tmp_path / "real.nc")
        args += ["--overwrite"]
        before, frag = "precious", "symbolic link"
    elif name == "output_name_too_long":
        args[3], frag = str(tmp_path / ("a" * 230 + ".nc")), "bytes long"
    elif name == "output_unwritable":  # /proc accepts no new files, even for root
        args[3], frag = "/proc/harmosync-test.nc", "cannot write"
    elif name == "plot_unwritable":
        args += ["--plot", "/proc/harmosync-test.png"]
        frag = "cannot write"
    else:
        args += ["--plot", str(tmp_path / "q.xyz")]
        frag = "must end in .png, .pdf, .svg"
    names_before = sorted(p.name for p in tmp_path.iterdir())
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2, res.output
    assert frag in res.stderr and res.stderr.count("\n") == 1
    if before is not None:
        assert out.read_text() == before  # never overwritten
    assert sorted(p.name for p in tmp_path.iterdir()) == names_before


def test_overwrite_flag_replaces(tmp_path):
    cfg = _ok_config(tmp_path)
    out = tmp_path / "out.nc"
    out.write_text("old")
    res = CliRunner().invoke(main, ["simulate", str(cfg), "-o", str(out), "--overwrite", "-q"])
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:4] == b"\x89HDF"


def test_real_process_exit_status_and_single_line(tmp_path):
    """Through a real process: status 2, exactly one stderr line, no traceback."""
    data, _ = CASES["unknown_chain_key"]
    cfg = tmp_path / "bad.toml"
    cfg.write_text(toml_dumps(data))
    r = subprocess.run([sys.executable, "-m", "harmosync", "simulate", str(cfg), "-o", str(tmp_path / "o.nc")],
                       capture_output=True, text=True, env=os.environ | {"PYTHONWARNINGS": "ignore"})
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert not (tmp_path / "o.nc").exists()


def test_usage_error_exit_2_and_help_has_example():
    r = CliRunner().invoke(main, ["simulate"])
    assert r.exit_code == 2
    h = CliRunner().invoke(main, ["simulate", "--help"])
    assert h.exit_code == 0 and "Example" in h.output


def test_internal_error_exit_1_with_hint(tmp_path, monkeypatch):
    import harmosync.simulation as sim

    def boom(cfg):
        raise RuntimeError("boom")

    monkeypatch.setattr(sim, "simulate", boom)
    cfg = _ok_config(tmp_path)
    r = CliRunner().invoke(main, ["simulate", str(cfg), "-o", str(tmp_path / "o.nc")])
    assert r.exit_code == 1 and "internal error" in r.stderr and "report" in r.stderr
    assert not (tmp_path / "o.nc").exists()


def test_numerical_failure_is_an_internal_error_exit_1(tmp_path, monkeypatch):
    """A NumericalError (a computed result failed its check: harmosync's fault, not the input's)
    exits 1 like any internal error, as the README says, on one line asking for a report."""
    import harmosync.simulation as sim
    from harmosync.errors import NumericalError

    def unphysical(cfg):
        raise NumericalError("the probes' covariance violates σ + iΩ/2 ≥ 0 at time index 0 beyond roundoff; "
                             "nothing was written (report this with your config)")

    monkeypatch.setattr(sim, "simulate", unphysical)
    cfg = _ok_config(tmp_path)
    r = CliRunner().invoke(main, ["simulate", str(cfg), "-o", str(tmp_path / "o.nc")])
    msg = r.stderr.strip()
    assert r.exit_code == 1 and msg.startswith("harmosync: internal error:") and "\n" not in msg, msg
    assert "report this" in msg and "Traceback" not in r.output
    assert not (tmp_path / "o.nc").exists()


def test_acoustic_fixed_chain_simulates(tmp_path):
    """chain.omega0 = 0 with fixed ends (the Ohmic-like chain of Eq. 9) runs and writes."""
    cfg = tmp_path / "ok.toml"
    cfg.write_text(toml_dumps(edit(**{"chain.omega0": 0.0})))
    r = CliRunner().invoke(main, ["simulate", str(cfg), "-o", str(tmp_path / "o.nc")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "o.nc").exists()


def test_out_of_memory_is_one_line_with_the_fix(tmp_path, monkeypatch):
    """A MemoryError anywhere (e.g. a huge environment in `kernels`) is exit 2 with one line that
    says what to shrink, not an 'internal error'; nothing is written."""
    import harmosync.simulation as sim

    def oom(cfg):
        raise MemoryError("Unable to allocate 7.28 TiB for an array")

    monkeypatch.setattr(sim, "simulate", oom)
    cfg = _ok_config(tmp_path)
    r = CliRunner().invoke(main, ["simulate", str(cfg), "-o", str(tmp_path / "o.nc")])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1
    assert r.stderr.startswith("harmosync: error: out of memory (Unable to allocate 7.28 TiB") and "coarser" in r.stderr
    assert not (tmp_path / "o.nc").exists()


def test_every_command_has_help_with_example():
    """`harmosync CMD --help` exits 0 and shows an example, for every registered command."""
    from click.testing import CliRunner

    runner = CliRunner()
    names = main.list_commands(None)
    assert "simulate" in names
    for name in names:
        r = runner.invoke(main, [name, "--help"])
        assert r.exit_code == 0, (name, r.output)
        assert "Example" in r.output, name


def test_config_with_byte_order_mark_is_read(tmp_path):
    """A UTF-8 byte-order mark (Windows editors) is not a TOML error."""
    cfg = _ok_config(tmp_path)
    cfg.write_bytes(b"\xef\xbb\xbf" + cfg.read_bytes())
    r = CliRunner().invoke(main, ["simulate", str(cfg), "-o", str(tmp_path / "o.nc"), "-q"])
    assert r.exit_code == 0, r.output


def test_the_command_turns_numpys_huge_pages_off_unless_the_user_chose():
    """The command (its main, before any subcommand imports) sets NUMPY_MADVISE_HUGEPAGE=0 for
    itself and its workers (synchronous huge-page compaction stalls large allocations); a value
    the user set is kept."""
    import os
    import subprocess
    import sys

    code = ("import contextlib, io, os\nfrom harmosync import cli\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    cli.main.main(['--help'], standalone_mode=False)\n"
            "from numpy._core.multiarray import _set_madvise_hugepage as f\n"
            "print(os.environ['NUMPY_MADVISE_HUGEPAGE'], f(False))")
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "False"]
    out = subprocess.run([sys.executable, "-c", code], env=env | {"NUMPY_MADVISE_HUGEPAGE": "1"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "True"]
