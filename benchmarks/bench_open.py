"""Benchmark: open systems (issue 12, O1–O3) against the solve_ivp route.

For each case it prints

  (a) the in-process time of ``simulation.simulate`` (network, exact open solve, moments, every
      measure), best of --repeat, with the solve / moments split, and the recorded error bound;
  (b) the same first and second moments of the probes through scipy's solve_ivp (DOP853) on the
      probe rows G = R e^{At} of the propagator, dG/dt = G A (A sparse), plus the steady state
      σ_∞ from ``solve_continuous_lyapunov``: ⟨R_P⟩ = G m(0), σ_PP = σ_∞,PP + G(σ(0) − σ_∞)Gᵀ
      (exact when a unique steady state exists), integrated in segments of 100 time units. It
      runs on the first --ivp-fraction of the time span and is extrapolated linearly (DOP853's
      step on an oscillatory problem is set by the highest frequency, so its cost grows as t);
      its max |Δ| against (a) on that span is printed (equal accuracy: tighten --rtol until it
      is at harmosync's error bound);
  (c) the full Lyapunov ODE dσ/dt = Aσ + σAᵀ + D (2N × 2N, with the means) estimated: one
      right-hand side timed, times the number of evaluations (b) needed (same step control).

  O1: examples/open/fig1_lossy_probes.toml (M = 300, t ≤ 1500, step 0.05, γ = 1e-3 on both
      probes, T = 0); target ≤ 0.5 s, and ≥ 10× faster than (b).
  O2: examples/open/fig1_absorbing_end.toml (Lindblad γ = 0.05 on sites 201–300); ≤ 2 s.
  O3: O1 with M = 10⁴, t ≤ 25,000, step 0.1 (``--cases O3``; not in the default set): the
      structured path (harmosync.dynamics.open_modes); target ≤ 60 s and ≤ 2 GB (peak RSS of
      the process, printed). No solve_ivp comparison (the dense drift alone is 3.2 GB).
      NUMPY_MADVISE_HUGEPAGE=0 in the environment saves 6–12 s of system time on a busy machine
      (docs/open-systems.md, "Speed").

``--dense`` forces the dense open path (the solver before the structured path) for a
before/after comparison in the same process conditions (O1, O2).

The machine is shared: wall times are noisy (the CPU time of (a) is printed beside its wall
time); BLAS is limited to --blas-threads (default 1: on a loaded 2-core machine more threads
spin-wait). Rerun on a quiet machine for numbers to quote.
Usage:  python benchmarks/bench_open.py [--repeat 3] [--cases O1 O2 O3] [--ivp-fraction 0.1] [--dense]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.integrate import solve_ivp
from threadpoolctl import threadpool_limits

from harmosync import config as cfgmod
from harmosync.baths import drift_diffusion
from harmosync.dynamics import open_modes
from harmosync.dynamics.open import initial_moments
from harmosync.simulation import prepare, simulate, solve

ROOT = Path(__file__).resolve().parents[1]
CASES = {"O1": ("examples/open/fig1_lossy_probes.toml", 0.5), "O2": ("examples/open/fig1_absorbing_end.toml", 2.0),
         "O3": ("examples/open/fig1_lossy_probes.toml", 60.0)}
#: O3 = O1's config with these lines replaced
O3_EDITS = {"sites = 300": "sites = 10000", "stop = 1500.0": "stop = 25000.0", "step = 0.05": "step = 0.1"}
SEGMENT = 100.0


def time_harmosync(cfg, repeat: int):
    best = None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        res = simulate(cfg)
        total, cpu = time.perf_counter() - t0, time.process_time() - c0
        point = prepare(cfg)
        t1 = time.perf_counter()
        evo = solve(point)
        t2 = time.perf_counter()
        evo.moments(point.times)
        t3 = time.perf_counter()
        row = (total, t2 - t1, t3 - t2, cpu)
        best = row if best is None or row[0] < best[0] else best
    return res, best


def ivp_route(cfg, fraction: float, rtol: float, atol: float):
    """(b): means and probe covariances on the first ``fraction`` of the grid; returns
    (seconds, times, mean, cov, nfev, seconds of the Lyapunov solve)."""
    point = prepare(cfg)
    net = point.network
    a, d = drift_diffusion(net, point.baths)
    m0, s0, _ = initial_moments(net, point.state)
    p = net.n_probes
    idx = np.ravel([[2 * r, 2 * r + 1] for r in range(p)])
    t0 = time.perf_counter()
    s_inf = sla.solve_continuous_lyapunov(a, -d)
    t_lyap = time.perf_counter() - t0
    s_inf = 0.5 * (s_inf + s_inf.T)
    delta = s0 - s_inf
    at = sp.csr_matrix(a.T)
    n2 = a.shape[0]
    times = point.times[: max(2, int(round(fraction * point.times.size)))]
    g = np.zeros((idx.size, n2))
    g[np.arange(idx.size), idx] = 1.0

    def rhs(_, y):  # d/dt G = G A, rows flattened
        return (at @ y.reshape(idx.size, n2).T).T.ravel()

    means, covs, nfev, start = [], [], 0, 0.0
    t0 = time.perf_counter()
    while start < times[-1]:
        stop = min(start + SEGMENT, times[-1])
        sel = times[(times >= start - 1e-12) & (times <= stop + 1e-12)]
        if covs:
            sel = sel[1:]
        sol = solve_ivp(rhs, (start, stop), g.ravel(), method="DOP853", t_eval=sel, rtol=rtol, atol=atol)
        nfev += sol.nfev
        gs = sol.y.T.reshape(-1, idx.size, n2)
        means.append(gs @ m0)
        covs.append(s_inf[np.ix_(idx, idx)] + gs @ delta @ np.swapaxes(gs, 1, 2))
        g = sol.y[:, -1].reshape(idx.size, n2)
        start = stop
    secs = time.perf_counter() - t0 + t_lyap
    return secs, times, np.concatenate(means), np.concatenate(covs), nfev, t_lyap


def full_lyapunov_rhs_seconds(cfg) -> float:
    """Seconds per right-hand side of the full Lyapunov ODE (means and 2N × 2N σ)."""
    point = prepare(cfg)
    a, d = drift_diffusion(point.network, point.baths)
    asp = sp.csr_matrix(a)
    n2 = a.shape[0]
    y = np.random.default_rng(1).standard_normal(n2 + n2 * n2)

    def rhs(y):
        m, s = y[:n2], y[n2:].reshape(n2, n2)
        as_ = asp @ s
        return np.concatenate([asp @ m, (as_ + as_.T + d).ravel()])

    rhs(y)
    t0 = time.perf_counter()
    for _ in range(5):
        rhs(y)
    return (time.perf_counter() - t0) / 5


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--blas-threads", type=int, default=1)
    ap.add_argument("--cases", nargs="+", default=["O1", "O2"], choices=list(CASES))
    ap.add_argument("--dense", action="store_true", help="force the dense open path (before/after)")
    ap.add_argument("--ivp-fraction", type=float, default=0.1)
    ap.add_argument("--rtol", type=float, default=1e-12)
    ap.add_argument("--atol", type=float, default=1e-14)
    args = ap.parse_args()
    with threadpool_limits(args.blas_threads):
        run(args)


def load_case(name: str):
    path, _ = CASES[name]
    if name != "O3":
        return cfgmod.load(ROOT / path)
    text = (ROOT / path).read_text()
    for old, new in O3_EDITS.items():
        assert old in text, old
        text = text.replace(old, new)
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(text)
    return cfgmod.load(f.name)


def run_o3(cfg, target: float):
    t0, c0 = time.perf_counter(), time.process_time()
    res = simulate(cfg)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"O3 (M = 10⁴, t ≤ 25,000, step 0.1): simulate {total:.1f} s (CPU {cpu:.1f} s), peak RSS {rss:.0f} MB; "
          f"target ≤ {target:g} s and 2 GB: {'met' if total <= target and rss <= 2048 else 'MISSED'}; "
          f"error bound {res.info['error_bound']:.2g}; {type(res.evolution).__name__}")


def run(args):
    if args.dense:
        open_modes.MODES_MIN = 10**9
    for name in args.cases:
        path, target = CASES[name]
        cfg = load_case(name)
        if name == "O3":
            run_o3(cfg, target)
            continue
        res, (total, t_solve, t_mom, cpu) = time_harmosync(cfg, args.repeat)
        print(f"{name} ({path}): simulate {total:.3f} s (CPU {cpu:.3f} s; solve {t_solve:.3f} s, moments {t_mom:.3f} s); "
              f"target ≤ {target:g} s: {'met' if total <= target else 'MISSED'}; "
              f"error bound {res.info['error_bound']:.2g}")
        secs, times, mean, cov, nfev, t_lyap = ivp_route(cfg, args.ivp_fraction, args.rtol, args.atol)
        k = times.size
        err = max(float(np.max(np.abs(mean - res.mean[:k]))), float(np.max(np.abs(cov - res.cov[:k]))))
        scale = (res.times[-1] / times[-1])
        est = (secs - t_lyap) * scale + t_lyap
        print(f"  solve_ivp (DOP853, rtol {args.rtol:g}) on the probe rows + Lyapunov σ_∞: {secs:.2f} s for "
              f"t ≤ {times[-1]:g} ({nfev} rhs, Lyapunov {t_lyap:.2f} s), max |Δ| {err:.2g}; "
              f"whole run ≈ {est:.1f} s = {est / total:.0f}× simulate")
        per = full_lyapunov_rhs_seconds(cfg)
        full = per * nfev * scale
        print(f"  full Lyapunov ODE (estimated): {per * 1e3:.2f} ms per rhs × {nfev * scale:.0f} rhs ≈ {full:.0f} s "
              f"= {full / total:.0f}× simulate")


if __name__ == "__main__":
    main()
