"""`harmosync figure all`: the whole process, and where each figure's time goes.

    python benchmarks/bench_figures.py                       # 3 runs of the process (this tree)
    python benchmarks/bench_figures.py --against /work/main/src --runs 4
                                                             # alternate with another tree's src
    python benchmarks/bench_figures.py --phases              # per figure, in one process
    python benchmarks/bench_figures.py --timeline --runs 3   # where one run's time goes, per process

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
    compiled kernels: the steady state of ``figure all``'s workers)."""
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


def timeline_child(out: str) -> None:
    """``figure all`` into ``out`` with each phase logged to stderr as
    ``wall thread_cpu pid event`` (``wall`` from the process's start): the recipes' compute and
    draw, the PNG render, the workers and the warm-up wrapped."""
    t0 = time.time()

    def log(event):
        print(f"{time.time() - t0:.3f} {time.thread_time():.3f} {os.getpid()} {event}", file=sys.stderr, flush=True)

    from harmosync import figures
    from harmosync.cli import figure as cli
    from harmosync.cli import main as cli_main
    from harmosync.plot import render

    def wrap(mod, name):
        fn = getattr(mod, name, None)
        if fn is None:  # another tree's layout
            return

        def logged(*args, **kwargs):
            tag = f"{name} {args[0]}" if args and isinstance(args[0], int) else name
            log(f"> {tag}")
            try:
                return fn(*args, **kwargs)
            finally:
                log(f"< {tag}")
        setattr(mod, name, logged)

    for mod, name in ((figures, "compute"), (figures, "draw"), (cli, "_compute_all"), (cli, "_draw_all"),
                      (render, "render_png"), (render, "warm_up")):
        wrap(mod, name)
    log("start")
    sys.argv = ["harmosync", "figure", "all", "--out", out, "-q", "--overwrite"]
    try:
        cli_main()
    finally:
        log("end")


def timeline(src: str) -> None:
    """Where the time of one ``figure all`` goes, per process (thread CPU [s] of each main
    thread; the PNG encoder thread and numba's threads are not in it)."""
    with tempfile.TemporaryDirectory() as out:
        env = dict(os.environ, PYTHONPATH=src)
        err = subprocess.run([sys.executable, __file__, "--timeline-child", out], env=env, check=True,
                             capture_output=True, text=True).stderr
    events: dict[str, dict[str, tuple[float, float]]] = {}
    for line in err.splitlines():
        wall, cpu, pid, event = line.split(" ", 3)
        events.setdefault(pid, {})[event] = (float(wall), float(cpu))
    for ev in events.values():
        if "> _compute_all" in ev:
            print(f"computing: started at {ev['> _compute_all'][0]:.2f} s; CPU to figure 1's data "
                  f"{ev['< compute 1'][1]:.2f} s, in all {ev['< _compute_all'][1]:.2f} s")
        elif "> _draw_all" in ev and "> draw 1" in ev:
            first, end = ev["> draw 1"], ev["< _draw_all"]
            warm = ev["< warm_up"][1] - ev["> warm_up"][1]
            print(f"drawing: CPU before figure 1's data {first[1]:.2f} s (warm-up {warm:.2f} s), figure 1 at "
                  f"{first[0]:.2f} s wall, then {end[1] - first[1]:.2f} s of CPU to {end[0]:.2f} s wall")
        elif "start" in ev:
            print(f"parent: CPU {ev['end'][1]:.2f} s (before forking, with the interpreter's start), "
                  f"wall {ev['end'][0]:.2f} s from its start  (load {os.getloadavg()[0]:.1f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--against", help="another tree's src directory, alternated with this one")
    ap.add_argument("--phases", action="store_true", help="per-figure phases in one process")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--timeline", action="store_true", help="where one run's time goes, per process")
    ap.add_argument("--timeline-child", metavar="OUT", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.timeline_child:
        timeline_child(args.timeline_child)
        return
    if args.phases:
        phases(args.repeat)
        return
    if args.timeline:
        for _ in range(args.runs):
            timeline(args.against or str(ROOT / "src"))
        return
    trees = [("this", str(ROOT / "src"))] + ([("against", args.against)] if args.against else [])
    for i in range(args.runs):
        for name, src in trees:
            r = run_process(src)
            print(f"run {i + 1} {name:>7}: wall {r['wall']:5.2f} s  CPU {r['cpu']:5.2f} s  "
                  f"PNG {r['png_bytes'] / 1e6:.2f} MB  (load {r['load']:.1f})", flush=True)


if __name__ == "__main__":
    main()
