"""Benchmark: the correlation measures of issue 13 on the paper's time grid (30,001 times).

Input: a smooth trajectory of 30,001 physical two-mode covariances (a fixed mixed state rotated by
a slowly turning beam splitter, so both branches of E_min and every time differ), and for the
pairwise matrices 3 probes. Prints the in-process wall time of each measure, median of --repeat
runs; the issue's target is ≤ 0.05 s for each new measure on two modes. The machine is shared:
rerun on a quiet machine for numbers to quote.

Usage:  PYTHONPATH=src python benchmarks/bench_measures.py [--repeat 7] [--times 30001]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from scipy.linalg import expm

from harmosync import measures as ms
from harmosync.conventions import symplectic_form


def trajectory(times: int, modes: int = 2, seed: int = 1) -> np.ndarray:
    """σ(t) = R(t) S ν Sᵀ R(t)ᵀ with S a random symplectic map, ν thermal factors ≥ ½, R(t) a
    beam splitter between modes 0 and 1 turning by 1e-3 per step."""
    rng = np.random.default_rng(seed)
    h = rng.normal(size=(2 * modes, 2 * modes))
    s = expm(symplectic_form(modes) @ (h + h.T) * 0.3)
    base = s @ np.diag(np.repeat(0.5 + rng.exponential(0.7, modes), 2)) @ s.T
    th = 1e-3 * np.arange(times)
    rot = np.broadcast_to(np.eye(2 * modes), (times, 2 * modes, 2 * modes)).copy()
    c, sn = np.cos(th), np.sin(th)
    for k in range(2):
        rot[:, k, k] = rot[:, 2 + k, 2 + k] = c
        rot[:, k, 2 + k], rot[:, 2 + k, k] = sn, -sn
    return rot @ base @ np.swapaxes(rot, 1, 2)


def median_time(fn, repeat: int) -> float:
    fn()  # warm-up
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--times", type=int, default=30001)
    args = ap.parse_args()
    cov2 = trajectory(args.times)
    cov3 = trajectory(args.times, modes=3)
    x = np.cos(np.outer(0.05 * np.arange(args.times), [1.0, 1.02, 0.97])).copy()
    cases = {
        "discord D(0|1)": lambda: ms.discord(cov2, 0, 1),
        "classical_correlation J(0|1)": lambda: ms.classical_correlation(cov2, 0, 1),
        "renyi2_mutual_information": lambda: ms.renyi2_mutual_information(cov2, [0], [1]),
        "mutual_information (existing, for scale)": lambda: ms.mutual_information(cov2, [0], [1]),
        "log_negativity (existing, for scale)": lambda: ms.log_negativity(cov2, [0], [1]),
        "sync_matrix, 3 probes, window 20": lambda: ms.sync_matrix(x, 0.05, 20.0),
        "mutual_information_matrix, 3 modes": lambda: ms.mutual_information_matrix(cov3),
    }
    print(f"{args.times} times, median of {args.repeat} runs (target ≤ 0.050 s for the new two-mode measures)")
    for name, fn in cases.items():
        print(f"  {name:42s} {median_time(fn, args.repeat):7.4f} s")
    d = ms.discord(cov2)
    print(f"  discord range {np.nanmin(d):.4f}..{np.nanmax(d):.4f} nats, NaN count {int(np.isnan(d).sum())}")


if __name__ == "__main__":
    main()
