"""Numbers for docs/paper.md where the paper is ambiguous: the window Δt of Eq. (3).

Run from the repository root:  python docs/figures/alternatives.py
Prints a Markdown table: each figure's claim statistic for Δt = 10, 20 (harmosync's default), 40.
The statistics and their time windows are those of tests/test_figures.py.
"""

from __future__ import annotations

import numpy as np

from harmosync import figures
from harmosync.figures.common import window_mean


def stats(window: float) -> dict[str, float]:
    out = {}
    w = window
    f1 = figures.compute(1, figures.recipe(1).Params(window=w))
    t = f1.time.values
    out["Fig. 1: mean C, K2 = +K, 150 ≤ t ≤ 600"] = window_mean(f1.sync.sel(case="attractive"), t, 150, 600)
    out["Fig. 1: mean C, K2 = −K, 150 ≤ t ≤ 600"] = window_mean(f1.sync.sel(case="repulsive"), t, 150, 600)
    f2 = figures.compute(2, figures.recipe(2).Params(window=w)).sel(initial="primary")
    tr = f2.attrs["times.tau_revival"]
    out["Fig. 2: mean C, K = 0.8, τ_R/2 ≤ t ≤ τ_R − Δt"] = window_mean(f2.sync.sel(K=0.8), t, tr / 2, tr - w)
    out["Fig. 2: mean of abs(C), K = 0.1, same window"] = window_mean(np.abs(f2.sync.sel(K=0.1)), t, tr / 2, tr - w)
    f3 = figures.compute(3, figures.recipe(3).Params(window=w))
    tc, tr = f3.attrs["times.tau_crosstalk"], f3.attrs["times.tau_revival"]
    out["Fig. 3: mean C, symmetric, τ_CT + Δt ≤ t ≤ τ_R − 2Δt"] = window_mean(f3.sync.sel(case="symmetric"), t, tc + w, tr - 2 * w)
    out["Fig. 3: mean C(τ*), asymmetric, same window"] = window_mean(f3.sync_delayed.sel(case="asymmetric"), t, tc + w, tr - 2 * w)
    f5 = figures.compute(5, figures.recipe(5).Params(window=w)).sel(squeezing_angle=0.0)
    out["Fig. 5: mean C of ⟨x²⟩, φ = 0, same window"] = window_mean(f5.sync_variance, t, tc + w, tr - 2 * w)
    return out


if __name__ == "__main__":
    windows = (10.0, 20.0, 40.0)
    table = {w: stats(w) for w in windows}
    rows = list(table[windows[0]])
    print("| statistic | " + " | ".join(f"Δt = {w:g}" for w in windows) + " |")
    print("|---|" + "---|" * len(windows))
    for r in rows:
        print(f"| {r} | " + " | ".join(f"{table[w][r]:+.4f}" for w in windows) + " |")
