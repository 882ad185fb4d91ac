"""Sweep benchmarks: wall time, throughput and peak memory.

    python benchmarks/bench_sweep.py            # everything (~5–10 min on 2 cores)
    python benchmarks/bench_sweep.py --quick    # smaller versions (~1 min)

Cases (each in a fresh subprocess, so peak RSS is that run's own):

* ``fig6``: the paper's Fig. 6 as a sweep (examples/fig6_sweep.toml: 300 sites, t ≤ 1500 at
  step 0.05, C(t) kept at every time) with 1 and with 2 worker processes.
* ``blas``: the first 30 sites of Fig. 6 serially, on a 2-process pool with BLAS capped to one
  thread per worker (the default), and on a 2-process pool left uncapped (oversubscribed).
* ``summary``: a 10,000-point summary-only sweep (100 K × 100 ω2, M = 20, t ≤ 100; mean/min/max
  of C over a window and the onset time), into a Zarr store: points per second and the peak
  RSS of the driver and of the largest worker, next to a 1,024-point run of the same kind to
  show that memory does not grow with the number of points.

Every case also reports the CPU time of the driver and its workers together (user + system;
``cpu [ms/pt]`` per point; read as soon as the sweep returns, before its result is checked),
which a machine shared with other work inflates much less than the wall time. Wall-clock numbers depend on the machine and on what else runs on it; say so when
quoting them. One case alone: ``python benchmarks/bench_sweep.py --case summary 100``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _peak_mb(who) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux: KiB


#: the sampler of WorkerPeak: a separate process, so that the driver runs no thread of its own
#: (a sweep forks its workers from a driver with no other thread: sweep.executors.start_method)
SAMPLER = r"""
import os, select, sys
driver, me, peak, known, k = sys.argv[1], str(os.getpid()), 0, set(), 0

def status(pid):
    try:
        with open(f"/proc/{pid}/status") as fh:
            return {a: b.strip() for a, b in (line.split(":", 1) for line in fh if ":" in line)}
    except OSError:
        return {}

while not select.select([sys.stdin], [], [], 0.1)[0]:
    new = set()
    if k % 5 == 0:  # look for new descendants twice a second
        parents = {driver} | known
        new = {d for d in os.listdir("/proc") if d.isdigit() and d != me and status(d).get("PPid") in parents} - known
    k += 1
    for d in list(known):  # a child just found may be between fork and exec (the driver's image): next time
        st = status(d)
        if st.get("PPid") not in {driver} | known:
            known.discard(d)
        elif "VmHWM" in st:
            peak = max(peak, int(st["VmHWM"].split()[0]))
    known |= new
print(peak)
"""


class WorkerPeak:
    """Peak RSS of this process's descendants (the sweep's workers: forked from the driver, or
    the fork server and the workers it forks) [MB], from their VmHWM, sampled every 0.1 s while
    the sweep runs by a separate process (``RUSAGE_CHILDREN``'s ru_maxrss is not that: it
    counts a spawned child's image between fork and exec, i.e. the driver's RSS when it
    spawned). Its CPU time is not counted (the cases read theirs before it ends)."""

    def __enter__(self):
        self._proc = subprocess.Popen([sys.executable, "-c", SAMPLER, str(os.getpid())], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True)
        return self

    def __exit__(self, *exc):
        out, _ = self._proc.communicate("stop\n")
        self.peak_kb = int(out)

    @property
    def mb(self) -> float:
        return self.peak_kb / 1024


def _cpu_s(who) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def stop_fork_server() -> None:
    """Stop multiprocessing's fork server if the sweep started one (its pools are shut down), so
    that its CPU time and its workers' (which it waited for) count in RUSAGE_CHILDREN."""
    from multiprocessing import forkserver

    server = forkserver._forkserver  # noqa: SLF001 — CPython's own tests stop it this way
    if getattr(server, "_forkserver_pid", None) is not None:
        server._stop()


def cpu_spent(cpu0: float) -> dict:
    """CPU seconds since ``cpu0`` (RUSAGE_SELF) of the driver and of driver + workers (the fork
    server, if any, stopped first): read as soon as the sweep returns, so that checking its
    result (dask imports distributed to compute anything) does not count."""
    stop_fork_server()
    return {"driver_cpu_s": _cpu_s(resource.RUSAGE_SELF) - cpu0,
            "cpu_s": _cpu_s(resource.RUSAGE_SELF) + _cpu_s(resource.RUSAGE_CHILDREN) - cpu0}


def case_fig6(cpu0: float, workers: int, sites: int, blas: str) -> dict:
    from harmosync import sweep as sw

    base, axes, keep = sw.load_toml(ROOT / "examples" / "fig6_sweep.toml")
    axes = {"probes.sites[2]": {"start": 1, "stop": sites, "name": "m"}}
    tmp = Path(tempfile.mkdtemp())
    try:
        t0 = time.perf_counter()
        executor = "serial" if workers == 0 else "processes"
        ds = sw.run_sweep(base, axes, keep=keep, store=tmp / "f.zarr", executor=executor, workers=max(workers, 1),
                          progress=False, log=lambda s: None, blas_threads=None if blas == "uncapped" else 1)
        wall = time.perf_counter() - t0
        cpu = cpu_spent(cpu0)
        assert int((ds["status"] == 1).sum()) == sites
        size = sum(f.stat().st_size for f in (tmp / "f.zarr").rglob("*") if f.is_file())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"points": sites, "wall_s": wall, "points_per_s": sites / wall, "store_mb": size / 2**20, **cpu}


def case_summary(cpu0: float, n_side: int) -> dict:
    from harmosync import sweep as sw

    base = {
        "chain": {"sites": 20, "omega0": 0.4, "g": 1.2},
        "probes": {"frequencies": [1.0, 1.1], "coupling": 0.0, "sites": [1, 1], "strengths": [0.1, 0.1]},
        "initial": {"x": [1.4, 1.4]},
        "time": {"stop": 100.0, "step": 0.05},
        "sync": {"window": 10.0},
    }
    axes = {"probes.strengths[*]": {"start": 0.05, "stop": 0.9, "num": n_side, "name": "K"},
            "probes.frequencies[2]": {"start": 1.0, "stop": 1.5, "num": n_side, "name": "w2"}}
    keep = {"summaries": ["sync"], "windows": [[10, 90]], "onset": ["sync"], "onset_hold": 20.0}
    tmp = Path(tempfile.mkdtemp())
    try:
        t0 = time.perf_counter()
        ds = sw.run_sweep(base, axes, keep=keep, store=tmp / "s.zarr", progress=False, log=lambda s: None)
        wall = time.perf_counter() - t0
        cpu = cpu_spent(cpu0)
        n = n_side * n_side
        assert int((ds["status"] > 0).sum()) == n
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"points": n, "wall_s": wall, "points_per_s": n / wall, **cpu}


def run_case(args: list[str]) -> dict:
    r = subprocess.run([sys.executable, __file__, "--case", *args], capture_output=True, text=True, check=False)
    if r.returncode:
        raise SystemExit(f"case {args} failed:\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--case", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.case:
        import harmosync.sweep  # noqa: F401 — imported before the clocks start, as in the cases

        cpu0 = _cpu_s(resource.RUSAGE_SELF)
        kind, *rest = a.case
        with WorkerPeak() as workers:
            out = (case_fig6(cpu0, int(rest[0]), int(rest[1]), rest[2]) if kind == "fig6"
                   else case_summary(cpu0, int(rest[0])))
        out["driver_peak_rss_mb"] = _peak_mb(resource.RUSAGE_SELF)
        out["worker_peak_rss_mb"] = workers.mb
        out["load_average"] = os.getloadavg()[0]
        print(json.dumps(out))
        return
    print(f"# harmosync sweep benchmarks — {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} "
          "(shared machine: wall times are noisy)")
    sites = 60 if a.quick else 300
    rows = []
    for w in (1, 2):
        r = run_case(["fig6", str(w), str(sites), "capped"])
        rows.append((f"Fig. 6 sweep, {sites} sites, t ≤ 1500, {w} worker{'s' if w > 1 else ''}", r))
    for label, w, blas in (("serial, BLAS default", 0, "uncapped"), ("2 workers, BLAS capped to 1", 2, "capped"),
                           ("2 workers, BLAS uncapped", 2, "uncapped")):
        r = run_case(["fig6", str(w), str(16 if a.quick else 30), blas])
        rows.append((f"Fig. 6, first {r['points']} sites, {label}", r))
    for side in ((10, 30) if a.quick else (32, 100)):  # ~1,000 and 10,000 points
        r = run_case(["summary", str(side)])
        rows.append((f"summary-only sweep, {r['points']} points (M = 20, t ≤ 100)", r))
    w = max(len(k) for k, _ in rows)
    print(f"{'case':<{w}}  {'wall [s]':>9}  {'points/s':>9}  {'cpu [ms/pt]':>11}  {'driver RSS':>10}  "
          f"{'worker RSS':>10}  {'load':>5}")
    for k, r in rows:
        print(f"{k:<{w}}  {r['wall_s']:9.1f}  {r['points_per_s']:9.2f}  {1e3 * r['cpu_s'] / r['points']:11.3f}  "
              f"{r['driver_peak_rss_mb']:8.0f}MB  {r['worker_peak_rss_mb']:8.0f}MB  {r['load_average']:5.1f}")
    print("target (issue 14): the 10,000-point summary-only sweep at ≥ 2,000 points/s on 2 cores, memory bounded")


if __name__ == "__main__":
    main()
