"""Benchmark: a fresh process's start, the cost numba's kernels add to a one-run process.

Two workloads, each a fresh interpreter, trees alternated round by round (the load of a shared
machine then falls on both alike):

  simulate  `python -m harmosync simulate examples/fig4.toml -o OUT.nc -q` (interpreter start,
            imports, config, solve, measures, the NetCDF file, exit);
  W4        bench_scale's W4 harmosync row (M = 10⁶ sites, light cone): solve + moments +
            measures, the first run in a process, timed inside it (numba's start included).

For each it prints every run's wall and CPU time (user + system of the child, from wait4) and
their medians per tree. Trees are source directories (the `src` of a checkout); `PYTHONPATH`
selects each, numba's cache must be warm (run once first). BLAS threads are not limited.

Usage:  python benchmarks/bench_start.py [--rounds 5] [--only simulate W4] SRC [SRC ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

W4 = """
import sys, time
t_start = time.perf_counter(); c_start = time.process_time()
import numpy as np
sys.path.insert(0, {bench!r})
from bench_scale import all_measures, params
from harmosync import dynamics as dy, network as nw, states as st
pr = params("W4", False)
init = st.InitialState(st.product(st.coherent(1.0, 0.14), st.coherent(1.1, 1.4)))
net = nw.paper_network(sites=pr["sites"], plug=(1, 2))
grid = pr["step"] * np.arange(round(pr["stop"] / pr["step"]) + 1)
t0 = time.perf_counter(); c0 = time.process_time()
sol = dy.solve(net, init, t_max=grid[-1])
mom = sol.moments(grid)
all_measures(mom.mean, mom.cov, pr["step"], 20.0)
print(time.perf_counter() - t0, time.process_time() - c0)
"""


def child_times(cmd: list[str], src: str) -> tuple[float, float, str]:
    """Wall and CPU (user + system, from RUSAGE_CHILDREN around it) of one child process, and its stdout."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {**os.environ, "PYTHONPATH": src, "NUMPY_MADVISE_HUGEPAGE": "0"}
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode:
        sys.exit(f"{' '.join(cmd)} failed ({src}):\n{out.stderr}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, out.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("srcs", nargs="+", help="source trees to compare (…/src)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", nargs="+", choices=("simulate", "W4"), default=["simulate", "W4"])
    args = ap.parse_args()
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        out_nc = str(Path(tmp) / "out.nc")
        cmds = {
            "simulate": [sys.executable, "-m", "harmosync", "simulate", "examples/fig4.toml", "-o", out_nc, "-q",
                         "--overwrite"],
            "W4": [sys.executable, "-c", W4.format(bench=str(ROOT / "benchmarks"))],
        }
        for r in range(args.rounds):
            for name in args.only:
                for src in args.srcs:
                    wall, cpu, out = child_times(cmds[name], src)
                    line = f"round {r + 1} {name:8s} {src}: process wall {wall:.3f} s, CPU {cpu:.3f} s"
                    if name == "W4":
                        w, c = map(float, out.split())
                        line += f"; timed run wall {w:.3f} s, CPU {c:.3f} s"
                        results.setdefault((name, src), []).append((w, c))
                    else:
                        results.setdefault((name, src), []).append((wall, cpu))
                    print(line, flush=True)
    print(f"\nmedians ({args.rounds} rounds; load average now {os.getloadavg()[0]:.2f}):")
    for (name, src), rows in results.items():
        print(f"  {name:8s} {src}: wall {statistics.median(r[0] for r in rows):.3f} s, "
              f"CPU {statistics.median(r[1] for r in rows):.3f} s")


if __name__ == "__main__":
    main()
