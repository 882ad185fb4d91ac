"""`harmosync figure all`: the whole process, and where each figure's time goes.

    python benchmarks/bench_figures.py                       # 3 runs of the process (this tree)
    python benchmarks/bench_figures.py --against /work/main/src --runs 4
                                                             # alternate with another tree's src
    python benchmarks/bench_figures.py --phases              # per figure, in one process

``process``: ``python -m harmosync figure all --out TMP -q`` in a fresh process per run, wall
time and CPU (user + system of the process and its workers, RUSAGE_CHILDREN), and the PNG sizes.
With ``--against SRC`` the runs alternate between this tree and SRC (each with its own
PYTHONPATH), so both see the same load. ``--phases``: after the CLI's preload, each figure's
CPU time [s] to compute, build the Figure (``draw``) and write its files (NetCDF + PNG, the
CLI's ``_write``, run in turn as ``harmosync figure N`` does), the best of ``--repeat`` rounds;
the first round pays the process's first-time costs and is shown apart (the total). The machine is shared: quote
CPU beside wall, and the load average printed with each run.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_process(src: str) -> dict:
    """One ``figure all`` process with PYTHONPATH=src: wall [s], CPU [s], PNG bytes."""
    with tempfile.TemporaryDirectory() as out:
        env = dict(os.environ, PYTHONPATH=src)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "harmosync", "figure", "all", "--out", out, "-q"], env=env, check=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        png = sum(p.stat().st_size for p in Path(out).glob("*.png"))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, "png_bytes": png, "load": os.getloadavg()[0]}


def phases(repeat: int) -> None:
    """Per-figure CPU of compute / draw / write in this process (after loading xarray and the
    compiled kernels, as ``figure all`` does before its figures)."""
    import matplotlib.pyplot as plt
    import numpy as np
    import xarray as xr

    from harmosync import figures, jit
    from harmosync.cli import figure as cli

    xr.Dataset({"x": ("t", np.zeros(1))}, coords={"t": [0.0]})  # xarray's first-Dataset imports
    jit.load_all()
    rows: dict[int, list] = {}
    with tempfile.TemporaryDirectory() as out:
        for r in range(repeat):
            for n in sorted(figures.FIGURES):
                paths = {"nc": Path(out) / f"fig{n}.nc", "png": Path(out) / f"fig{n}.png"}
                t = [time.process_time()]
                ds = figures.compute(n)
                t.append(time.process_time())
                fig = figures.draw(n, ds)
                t.append(time.process_time())
                cli._write(ds, fig, paths, overwrite=True)
                t.append(time.process_time())
                plt.close(fig)
                rows.setdefault(n, []).append([b - a for a, b in zip(t, t[1:])])
    print(f"{'figure':>6} {'compute':>8} {'draw':>6} {'write':>6} {'total':>6}   (CPU s, best of {repeat}; first round)")
    for n, v in rows.items():
        best = [min(c) for c in zip(*v)]
        print(f"{n:>6} {best[0]:8.3f} {best[1]:6.3f} {best[2]:6.3f} {sum(best):6.3f}   ({sum(v[0]):.3f})")
    print(f"{'sum':>6} {sum(min(c[0] for c in v) for v in rows.values()):8.3f} "
          f"{sum(min(c[1] for c in v) for v in rows.values()):6.3f} "
          f"{sum(min(c[2] for c in v) for v in rows.values()):6.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--against", help="another tree's src directory, alternated with this one")
    ap.add_argument("--phases", action="store_true", help="per-figure phases in one process")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if args.phases:
        phases(args.repeat)
        return
    trees = [("this", str(ROOT / "src"))] + ([("against", args.against)] if args.against else [])
    for i in range(args.runs):
        for name, src in trees:
            r = run_process(src)
            print(f"run {i + 1} {name:>7}: wall {r['wall']:5.2f} s  CPU {r['cpu']:5.2f} s  "
                  f"PNG {r['png_bytes'] / 1e6:.2f} MB  (load {r['load']:.1f})", flush=True)


if __name__ == "__main__":
    main()
