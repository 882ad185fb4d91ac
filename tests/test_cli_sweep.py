"""``harmosync sweep`` and ``harmosync plot`` as a user runs them (subprocesses).

The key test SIGKILLs the driver mid-sweep — no chance to clean up, as when a machine is lost —
then reruns the same command: it must compute only the points that are not in the store (the
count it reports equals the store's missing points) and end with the same store as an
uninterrupted run.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import zarr
from click.testing import CliRunner

from harmosync import sweep as sw
from harmosync.cli import main

CONFIG = """
[chain]
sites = 60
omega0 = 0.4
g = 1.2

[probes]
frequencies = [1.0, 1.1]
coupling = 0.5
sites = [1, 1]
strengths = [0.2, 0.2]

[initial]
x = [0.14, 1.4]
squeezing = [0.5, 0.5]

[time]
stop = 300.0
step = 0.05

[sync]
window = 10.0

[sweep]
"probes.sites[2]" = { start = 1, stop = 16, name = "m" }

[keep]
series = ["sync"]
stride = 10
summaries = ["sync", "mutual_information"]
windows = [[0, 150], [150, 300]]
"""
CMD = [sys.executable, "-c", "from harmosync.cli import main; main()"]


def harmosync(*args, cwd=None):
    return subprocess.run([*CMD, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300, check=False)


def invoke(*args):
    """In-process (fast) for commands that fail before computing anything."""
    r = CliRunner().invoke(main, [str(a) for a in args])
    r.returncode = r.exit_code
    return r


@pytest.fixture()
def cfg(tmp_path):
    p = tmp_path / "sweep.toml"
    p.write_text(CONFIG)
    return p


def test_commands_are_listed():
    r = invoke("--help")
    assert r.returncode == 0 and "sweep" in r.stdout and "plot" in r.stdout


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(x) for x in fh.read().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_sigkill_driver_then_resume_computes_only_missing_points(cfg, tmp_path):
    store = tmp_path / "out.zarr"
    args = ["sweep", cfg, "-o", store, "--batch", "1", "-j", "2", "--no-progress"]
    proc = subprocess.Popen([*CMD, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    workers: list[int] = []
    done = 0
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            workers = [c for c in _children(proc.pid) if _alive(c)] or workers
            try:
                done = int(np.count_nonzero(zarr.open_group(str(store), mode="r")["status"][:]))
            except Exception:  # noqa: BLE001 — not created yet
                done = 0
            if done >= 1:
                proc.send_signal(signal.SIGKILL)  # the driver only: its workers must follow it
                break
            time.sleep(0.02)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    # Workers die with the driver (PR_SET_PDEATHSIG) instead of computing points nobody writes.
    t = time.monotonic()
    while any(_alive(w) for w in workers) and time.monotonic() - t < 10:
        time.sleep(0.05)
    assert workers and not any(_alive(w) for w in workers)

    status = np.asarray(zarr.open_group(str(store), mode="r")["status"][:])
    missing = int(np.count_nonzero(status == 0))
    assert 0 < missing < status.size, "the driver was not killed mid-sweep"

    r = harmosync(*args)
    assert r.returncode == 0, r.stderr
    m = re.search(r"(\d+) of 16 points already done; computing the remaining (\d+)", r.stdout)
    assert m and int(m.group(2)) == missing and int(m.group(1)) == 16 - missing, r.stdout
    assert f"done: {missing} points" in r.stdout

    base, axes, keep = sw.load_toml(cfg)
    ref = sw.run_sweep(base, axes, keep=keep, store=tmp_path / "ref.zarr", executor="serial", batch=1,
                       progress=False, log=lambda s: None).load()
    got = sw.open_sweep(store)
    assert got.attrs == ref.attrs
    for v in ref.variables:
        assert np.array_equal(got[v].values, ref[v].values, equal_nan=True), v
        assert got[v].attrs == ref[v].attrs


def test_sigterm_saves_the_finished_points_and_exits_143(cfg, tmp_path):
    """SIGTERM (a batch scheduler's time limit) unwinds the driver like Ctrl-C: the finished
    tasks the store's writer still holds (it groups writes, SAVE_SECONDS) are written, the
    message counts the saved points, exit status 128 + 15; resuming computes only the rest."""
    store = tmp_path / "out.zarr"
    args = ["sweep", cfg, "-o", store, "--batch", "1", "-j", "2", "--no-progress"]
    proc = subprocess.Popen([*CMD, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                done = int(np.count_nonzero(zarr.open_group(str(store), mode="r")["status"][:]))
            except Exception:  # noqa: BLE001 — not created yet
                done = 0
            if done >= 1:
                proc.send_signal(signal.SIGTERM)
                break
            time.sleep(0.02)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    err = err.decode()
    status = np.asarray(zarr.open_group(str(store), mode="r")["status"][:])
    saved = int(np.count_nonzero(status))
    if saved == status.size:
        pytest.skip("the sweep finished before SIGTERM arrived")
    assert proc.returncode == 143, err
    m = re.search(r"interrupted: (\d+) of 16 points are saved", err)
    assert m and int(m.group(1)) == saved, err
    r = harmosync(*args)
    assert r.returncode == 0 and f"computing the remaining {16 - saved}" in r.stdout, r.stdout + r.stderr


def test_different_config_into_existing_store_is_refused(cfg, tmp_path):
    small = cfg.read_text().replace("stop = 16", "stop = 2").replace("stop = 300.0", "stop = 40.0") \
        .replace("[[0, 150], [150, 300]]", "[[0, 40]]")
    a = tmp_path / "a.toml"
    a.write_text(small)
    store = tmp_path / "s.zarr"
    r = harmosync("sweep", a, "-o", store, "--netcdf", "--no-progress")
    assert r.returncode == 0 and "wrote" in r.stdout and (tmp_path / "s.nc").exists(), r.stderr
    b = tmp_path / "b.toml"
    b.write_text(small.replace("g = 1.2", "g = 1.3"))
    r = invoke("sweep", b, "-o", store)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "holds a different sweep (the base config differ" in r.stderr
    r = invoke("plot", store, "sync", "-o", tmp_path / "m.png")
    assert r.returncode == 0 and (tmp_path / "m.png").stat().st_size > 1000, r.stderr
    r = invoke("plot", tmp_path / "s.nc", "synk", "-o", tmp_path / "n.png")
    assert r.returncode == 2 and 'did you mean "sync"' in r.stderr
    r = invoke("sweep", a, "-o", tmp_path / "x.nc")
    assert r.returncode == 2 and "use --export OUT.nc" in r.stderr


@pytest.mark.parametrize("sweep_table, needle", [
    ('"probes.sites[3]" = [1, 2]', "probes.sites has 2 entries; probe 3 does not exist"),
    ('"probes.sitez[2]" = [1, 2]', 'unknown key \'sitez\' in [probes] (did you mean "sites"?)'),
    ('"probes.sites[2]" = { start = 1, stop = 61 }', "probes.sites[2] = 61"),
    ('"chain.sites" = { values = [10, 0] }', "chain.sites = 0"),
    ('"probes.sites[2]" = { begin = 1, stop = 3 }', "unknown option 'begin'"),
])
def test_bad_sweep_tables_exit_2_with_one_line(cfg, tmp_path, sweep_table, needle):
    bad = re.sub(r'\[sweep\]\n.*\n', f"[sweep]\n{sweep_table}\n", cfg.read_text())
    p = tmp_path / "bad.toml"
    p.write_text(bad)
    r = invoke("sweep", p, "-o", tmp_path / "x.zarr")
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.startswith("harmosync: error: sweep error: ") and r.stderr.count("\n") == 1
    assert needle in r.stderr
    assert not (tmp_path / "x.zarr").exists()  # nothing ran, nothing written


def test_a_sweep_file_with_a_byte_order_mark_is_read_as_simulate_reads_it(cfg, tmp_path):
    """A UTF-8 BOM (Windows editors) is fine for simulate (config.load), so for sweep too."""
    p = tmp_path / "bom.toml"
    p.write_bytes(b"\xef\xbb\xbf" + cfg.read_bytes())
    r = invoke("sweep", p, "--dry-run")
    assert r.returncode == 0 and "16 points = 16 m (probes.sites[2])" in r.stdout, r.stdout + r.stderr


def test_local_cluster_option_and_dry_run(cfg, tmp_path):
    r = invoke("sweep", cfg, "--dry-run")
    assert r.returncode == 0 and "16 points = 16 m (probes.sites[2])" in r.stdout
    small = cfg.read_text().replace("stop = 16", "stop = 4").replace("stop = 300.0", "stop = 40.0") \
        .replace("[[0, 150], [150, 300]]", "[[0, 40]]")
    p = tmp_path / "s.toml"
    p.write_text(small)
    r = harmosync("sweep", p, "-o", tmp_path / "c.zarr", "--local-cluster", "2", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert re.search(r"dask: 2 workers, 2 threads; dashboard: http://\S+", r.stdout)
    base, axes, keep = sw.load_toml(p)
    ref = sw.run_sweep(base, axes, keep=keep, executor="serial", progress=False, log=lambda s: None)
    got = sw.open_sweep(tmp_path / "c.zarr")
    for v in ref.data_vars:
        assert np.array_equal(got[v].values, ref[v].values, equal_nan=True), v


def test_plot_sel_outside_the_axis_is_refused():
    """--sel with a value outside a sweep axis (or non-finite) is an input error, not a silent
    nearest pick."""
    import xarray as xr

    from harmosync.errors import HarmosyncError
    from harmosync.plot import maps

    ds = xr.Dataset({"c": (("K", "time"), np.zeros((3, 4)))}, coords={"K": [0.1, 0.2, 0.3], "time": np.arange(4.0)})
    assert float(maps.select(ds, "c", {"K": "0.21"}).K) == 0.2
    for bad in ("99", "nan", "inf", "-1"):
        with pytest.raises(HarmosyncError, match="outside the values of K"):
            maps.select(ds, "c", {"K": bad})


def test_plot_of_a_variable_without_finite_values_is_refused():
    """A map of C for zero means (all NaN) is an error naming the reason, not a blank image."""
    import xarray as xr

    from harmosync.errors import HarmosyncError
    from harmosync.plot import maps

    ds = xr.Dataset({"sync_mean": (("m",), np.full(3, np.nan)), "ok": (("m",), [0.1, np.nan, 0.3])},
                    coords={"m": [1, 2, 3]}, attrs={"sweep_axes": "m"})
    with pytest.raises(HarmosyncError, match="sync_mean has no finite value"):
        maps.plot_variable(ds, "sync_mean")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    maps.plot_variable(ds, "ok", ax=ax)  # partly NaN is fine
    plt.close(fig)


def test_sweep_warnings_go_to_stderr_and_no_bar_in_logs(cfg, tmp_path):
    """A sweep with failing points warns on stderr (also with --quiet); with stderr not a
    terminal there is no progress bar to fill the log."""
    bad = cfg.read_text().replace('"probes.sites[2]" = { start = 1, stop = 16, name = "m" }',
                                  '"probes.strengths[2]" = { values = [0.2, 50.0], name = "K" }')
    bad = bad.replace("stop = 300.0", "stop = 40.0").replace("[[0, 150], [150, 300]]", "[[0, 40]]")
    p = tmp_path / "bad.toml"
    p.write_text(bad)
    r = harmosync("sweep", p, "-o", tmp_path / "b.zarr", "-q")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert "warning: 1 points failed" in r.stderr and "\r" not in r.stderr and "pt/s" not in r.stderr
