"""How a sweep starts and saves (issue 14): a new store is created while the first tasks run,
and finished tasks are written together.

``run_sweep`` validates the grid, submits the first tasks, and only then creates a new store (or
the in-memory Dataset), so the workers compute while the driver imports xarray/zarr/dask and
writes the template. What must not change: the stored numbers (bit for bit those of a sweep that
made its store first), a store another run created meanwhile (its task size and its finished
points are the ones kept), and Ctrl-C (before the store exists nothing is left behind). The
store's writer (``store.ZarrSink``) writes a finished task at once when its last write is
``SAVE_SECONDS`` old, else with the next ones (neighbouring tasks in one write per array), and
everything pending when the runner flushes it (at the end, on Ctrl-C, on errors).
"""

from __future__ import annotations

import concurrent.futures as cf
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harmosync import sweep as sw
from harmosync.sweep import executors
from harmosync.sweep import run as run_mod
from harmosync.sweep import store as store_mod

BASE = {
    "chain": {"sites": 6, "omega0": 0.4, "g": 1.2},
    "probes": {"frequencies": [1.0, 1.1], "coupling": 0.0, "sites": [1, 1], "strengths": [0.1, 0.1]},
    "initial": {"x": [1.4, 1.4]},
    "time": {"stop": 12.0, "step": 0.05},
    "sync": {"window": 2.0},
}
AXES = {"probes.strengths[*]": {"values": [0.05, 0.2, 0.35, 0.5], "name": "K"},
        "probes.frequencies[2]": {"values": [1.0, 1.2, 1.4], "name": "w2"}}
KEEP = {"summaries": ["sync"], "windows": [[1, 9]], "onset": ["sync"], "onset_threshold": 0.5, "onset_hold": 1.0}
VARS = ("sync_mean", "sync_min", "sync_max", "sync_onset")
QUIET = dict(progress=False, log=lambda s: None)


class Recording(executors.SerialExecutor):
    """Runs tasks at submission (as the serial executor) and calls ``hook(k, start, stop)``
    before the k-th one."""

    def __init__(self, hook):
        self.hook, self.count = hook, 0

    def submit(self, fn, /, *args, **kwargs):
        self.hook(self.count, *args[1:])
        self.count += 1
        return super().submit(fn, *args, **kwargs)


def reference():
    return sw.run_sweep(BASE, AXES, keep=KEEP, executor="serial", batch=5, **QUIET)


def test_a_new_store_is_created_after_the_first_task_is_out_with_the_same_numbers(tmp_path):
    """The first task is submitted before the store exists; the finished store holds the
    numbers of the in-memory sweep bit for bit, with the asked task size."""
    out = tmp_path / "s.zarr"
    seen = []
    ex = Recording(lambda k, a, b: seen.append(out.exists()))
    ds = sw.run_sweep(BASE, AXES, keep=KEEP, store=out, executor=ex, batch=5, **QUIET).load()
    assert seen[0] is False
    assert ds.attrs["chunk_points"] == 5 and (ds["status"] == 1).all()
    ref = reference()
    for v in VARS:
        assert np.array_equal(ds[v].values, ref[v].values, equal_nan=True), v


def test_a_store_created_meanwhile_by_another_run_keeps_its_task_size_and_points(tmp_path):
    """Another run creates the store (3 points per task) and finishes its first task while
    ours is submitting tasks of 5: ours then computes the other's missing tasks only, in the
    other's chunks, and the store holds the reference numbers."""
    out = tmp_path / "s.zarr"
    spec = sw.build_spec(BASE, AXES, KEEP)

    def other_run(k, a, b):
        if k == 0:
            first_task_done(out, spec, 3)

    log = []
    ds = sw.run_sweep(BASE, AXES, keep=KEEP, store=out, executor=Recording(other_run), batch=5,
                      progress=False, log=log.append).load()
    assert ds.attrs["chunk_points"] == 3 and (ds["status"] == 1).all()
    assert any("created meanwhile by another run" in s and "computing its 9 missing points" in s for s in log)
    ref = reference()
    for v in VARS:
        assert np.array_equal(ds[v].values, ref[v].values, equal_nan=True), v


def first_task_done(out, spec, chunk: int) -> None:
    """Another run: creates the store with ``chunk`` points per task and saves its first task."""
    info = store_mod.open_store(out, spec, chunk=chunk)
    assert info.created
    sink = store_mod.ZarrSink(info.path)
    sink.write(run_mod.run_task(run_mod.Payload(spec.base, spec.axes, spec.keep), 0, chunk))
    sink.flush()


def test_ctrl_c_before_the_store_exists_leaves_nothing(tmp_path):
    """Ctrl-C while the first task runs, before the store is created: KeyboardInterrupt, a
    line saying so ("interrupted: ...", which the command writes to stderr), and no store (nor
    a half-written template) on disk."""
    out = tmp_path / "s.zarr"

    def interrupt(k, a, b):
        raise KeyboardInterrupt

    log = []
    with pytest.raises(KeyboardInterrupt):
        sw.run_sweep(BASE, AXES, keep=KEEP, store=out, executor=Recording(interrupt), batch=5,
                     progress=False, log=log.append)
    assert not out.exists() and list(Path(tmp_path).iterdir()) == []
    assert log[-1].startswith("interrupted: no point was saved yet")


def test_an_existing_store_is_resumed_as_before(tmp_path):
    """A store that exists is opened before any task runs (its status says what is left)."""
    out = tmp_path / "s.zarr"
    first_task_done(out, sw.build_spec(BASE, AXES, KEEP), 5)
    seen = []
    ex = Recording(lambda k, a, b: seen.append((a, out.exists())))
    ds = sw.run_sweep(BASE, AXES, keep=KEEP, store=out, executor=ex, **QUIET).load()
    assert seen == [(5, True), (10, True)]
    assert isinstance(ex, cf.Executor) and (ds["status"] == 1).all()


def test_finished_tasks_are_written_at_once_or_together_data_before_status(tmp_path, monkeypatch):
    """The first task is written at once; the next ones (out of order, one not next to the
    others) wait for the flush, which writes each run of neighbours: every value where its task
    put it, status 1 on exactly the written points."""
    monkeypatch.setattr(store_mod, "SAVE_SECONDS", 3600.0)
    spec = sw.build_spec(BASE, AXES, KEEP)
    info = store_mod.open_store(tmp_path / "s.zarr", spec, chunk=2)
    sink = store_mod.ZarrSink(info.path)

    def task(a):
        vals = np.arange(a, a + 2, dtype=float)[:, None]
        data = {v: vals + k / 10 for k, v in enumerate(VARS)}
        return run_mod.TaskResult(a, a + 2, np.ones(2, np.int8), data, [], 0.0)

    def saved():
        return np.asarray(sink.group["status"][:])

    sink.write(task(2))
    assert list(np.flatnonzero(saved())) == [2, 3]
    for a in (6, 0, 10, 4):
        sink.write(task(a))
    assert list(np.flatnonzero(saved())) == [2, 3]
    sink.flush()
    assert list(np.flatnonzero(saved())) == [0, 1, 2, 3, 4, 5, 6, 7, 10, 11] and sink.pending == []
    for k, v in enumerate(VARS):
        got = np.asarray(sink.group[v][:])[:, 0]
        want = np.where(saved() == 1, np.arange(12) + k / 10, np.nan)
        assert np.array_equal(got, want, equal_nan=True), v


def test_a_local_pool_times_the_first_point_so_the_driver_never_starts_numba(tmp_path):
    """chunk_hint's timing runs in a worker of the started pool (its kernels loaded by the fork
    server): the driver then never imports numba (~0.5 s of CPU and ~100 MB that competed with
    the workers), and the tasks are sized from a warm timing (not ~8× too small)."""
    script = tmp_path / "run.py"
    script.write_text(
        "import sys\n"
        "from harmosync import sweep as sw\n"
        "def main():\n"
        "    base = {'chain': {'sites': 20, 'omega0': 0.4, 'g': 1.2},\n"
        "            'probes': {'frequencies': [1.0, 1.1], 'sites': [1, 1], 'strengths': [0.1, 0.1]},\n"
        "            'initial': {'x': [1.4, 1.4]}, 'time': {'stop': 100.0, 'step': 0.05}, 'sync': {'window': 10.0}}\n"
        "    axes = {'probes.strengths[*]': {'start': 0.05, 'stop': 0.9, 'num': 40},\n"
        "            'probes.frequencies[2]': {'start': 1.0, 'stop': 1.5, 'num': 40}}\n"
        "    lines = []\n"
        "    ds = sw.run_sweep(base, axes, keep={'summaries': ['sync']}, workers=2, progress=False, log=lines.append)\n"
        "    assert int((ds['status'] > 0).sum()) == 1600\n"
        "    print('numba' in sys.modules, lines[0])\n"
        "if __name__ == '__main__':\n"
        "    main()\n")
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    loaded, _, line = r.stdout.strip().partition(" ")
    assert loaded == "False", r.stdout
    chunk = int(line.rsplit("up to ", 1)[1])
    assert chunk >= 20, line  # warm-timed (~30 here, bounded by MIN_TASKS), not ~8× smaller


FORKED = """
import os, signal, sys, threading, time
import numpy as np
from harmosync import sweep as sw
from harmosync.sweep import executors


def cli_like_handler(signum, frame):
    raise KeyboardInterrupt  # what the CLI's SIGTERM handler does in the driver


def inside():
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    return (signal.getsignal(signal.SIGTERM) == signal.SIG_DFL, signal.getsignal(signal.SIGINT) == signal.SIG_IGN,
            sorted(int(s) for s in blocked), os.getppid(), "numba" in sys.modules)


def main():
    signal.signal(signal.SIGTERM, cli_like_handler)
    assert executors.start_method() == "fork"
    pool = executors.LocalPool(2)
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == set()  # the driver's mask is restored
    sigterm_default, sigint_ignored, blocked, parent, kernels = pool.executor.submit(inside).result()
    assert sigterm_default and sigint_ignored and blocked == [] and parent == os.getpid() and kernels
    assert "numba" not in sys.modules  # the workers loaded the kernels, not the driver
    pool.terminate()  # SIGTERM to the workers: they end silently (the driver's handler would raise)
    deadline = time.monotonic() + 30
    while threading.active_count() > 1 and time.monotonic() < deadline:  # the pool's threads end
        time.sleep(0.01)
    base = {BASE!r}
    axes = {{"probes.strengths[*]": {{"start": 0.05, "stop": 0.5, "num": 16}},
            "probes.frequencies[2]": {{"start": 1.0, "stop": 1.4, "num": 15}}}}
    keep = {KEEP!r}
    quiet = dict(progress=False, log=lambda s: None)
    assert executors.start_method() == "fork"
    forked = sw.run_sweep(base, axes, keep=keep, workers=2, batch=40, **quiet)
    assert threading.active_count() == 1  # no progress bar shown: no tqdm monitor thread left
    serial = sw.run_sweep(base, axes, keep=keep, executor="serial", batch=7, **quiet)
    assert (forked["status"] == 1).all()
    for v in {VARS!r}:
        assert np.array_equal(forked[v].values, serial[v].values, equal_nan=True), v
    threading.Thread(target=threading.Event().wait, daemon=True).start()
    assert executors.start_method() != "fork"  # another thread could hold a lock the copy needs
    print("ok")


if __name__ == "__main__":
    main()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked from the driver on Linux")
def test_a_driver_without_threads_forks_its_workers_with_their_own_signals_and_the_same_numbers(tmp_path):
    """A driver that runs no other thread forks its workers (executors.start_method): each has
    SIGTERM at its default (the CLI's handler, inherited, would raise in it), SIGINT ignored and
    no signal left blocked, loads the kernels itself (the driver never imports numba), and ends
    silently when terminated; the sweep's numbers are the serial sweep's bit for bit. A driver
    with another thread gets the fork server."""
    script = tmp_path / "forked.py"
    script.write_text(FORKED.format(BASE=BASE, KEEP=KEEP, VARS=VARS))
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
    assert "Traceback" not in r.stderr, r.stderr


def test_a_cheap_point_is_timed_in_a_batch_as_a_task_computes_it(monkeypatch):
    """time_point times a point cheaper than BATCH_TIMING_BELOW again in batches of copies
    (evaluate_many, as run_task computes a task's points), twice, and returns the best per-point
    time: tasks are sized on what a batched point costs, not on a lone one (6× more here)."""
    spec = sw.build_spec(BASE, AXES, KEEP)
    batches = []
    real = run_mod.evaluate_many

    def counting(points, keep, *args):
        batches.append([p.config for p in points])
        return real(points, keep, *args)

    monkeypatch.setattr(run_mod, "evaluate_many", counting)
    first = spec.point_config(0)
    kind, per, nbytes = run_mod.time_point(first, spec.keep)
    assert kind == "ok" and 0 < per < run_mod.BATCH_TIMING_BELOW and nbytes == 8 * len(VARS)
    assert len(batches) == 2
    for configs in batches:
        assert 2 <= len(configs) <= run_mod.BATCH_TIMING_POINTS and all(c == first for c in configs)


UNGUARDED = """
import threading, time
threading.Thread(target=time.sleep, args=(60,), daemon=True).start()  # a driver with a thread: no plain fork
from harmosync.sweep.run import run_sweep
run_sweep({base!r}, {axes!r}, keep={{"summaries": ["sync"]}}, workers=2, batch=5, progress=False, log=lambda s: None)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork server's path (Linux)")
def test_a_script_without_a_main_guard_is_told_why_its_workers_died(tmp_path):
    """A script whose sweep is not under `if __name__ == "__main__":`, run with a thread (so the
    workers come from the fork server and import the script), loses its workers (multiprocessing
    refuses a pool started while a worker bootstraps). The error named only "out of memory?";
    it now names the missing guard first, in one line."""
    script = tmp_path / "unguarded.py"
    base = {**BASE, "chain": {"sites": 30, "omega0": 0.4, "g": 1.2}, "time": {"stop": 20.0, "step": 0.05}}
    axes = {"probes.sites[2]": {"values": list(range(1, 31))}}  # enough work for a pool
    script.write_text(UNGUARDED.format(base=base, axes=axes))
    src = str(Path(__file__).resolve().parents[1] / "src")
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                       env={**__import__("os").environ, "PYTHONPATH": src}, cwd=tmp_path)
    assert p.returncode == 1
    last = [line for line in p.stderr.splitlines() if line.startswith("harmosync.sweep.executors.WorkersLost")]
    assert len(last) == 1 and 'if __name__ == "__main__":' in last[0] and "finished points are saved" in last[0]


def test_the_cli_is_not_told_to_add_a_main_guard(monkeypatch):
    """`harmosync sweep` (python -m harmosync, or the console script) has its guard: its
    message keeps to the other cause."""
    import types

    fake = types.ModuleType("__main__")
    fake.__file__ = "/usr/local/bin/harmosync"
    monkeypatch.setitem(sys.modules, "__main__", fake)
    assert "__main__" not in executors.lost_workers_message() and "out of memory" in executors.lost_workers_message()


def test_a_module_run_with_python_m_is_not_told_to_add_a_main_guard(monkeypatch):
    """`python -m pytest` or `python -m harmosync` (a __main__ with a module spec) is not a
    script run by path: no guard hint."""
    import importlib.machinery
    import types

    fake = types.ModuleType("__main__")
    fake.__file__ = "/somewhere/pytest/__main__.py"
    fake.__spec__ = importlib.machinery.ModuleSpec("pytest.__main__", None)
    monkeypatch.setitem(sys.modules, "__main__", fake)
    assert "__main__" not in executors.lost_workers_message()


@pytest.mark.parametrize("sites, t_max", [(20, None), (3000, 40.0), (3000, None)])
def test_the_drivers_fastest_mode_is_the_solves(sites, t_max):
    """dynamics.fastest_mode (the sweep driver's early time-grid check, no solution) gives the
    fastest normal mode the solve itself finds: dense, cut to the light cone, the chain path."""
    from harmosync import dynamics as dy
    from harmosync import network as nw
    from harmosync import states as st

    net = nw.paper_network(sites=sites)
    init = st.InitialState(st.product(st.coherent(1.0, 0.14), st.coherent(1.1, 1.4)))
    want = dy.solve(net, init, t_max=t_max, covariance=False).max_frequency
    assert abs(dy.fastest_mode(net, init, t_max=t_max) - want) <= 1e-12 * want
