"""Speed and scale: harmosync's exact paths against generic integrators, W1–W5 of issue 6.

    python benchmarks/bench_scale.py            # everything (≈ 5–10 min on 2 cores)
    python benchmarks/bench_scale.py --quick    # short versions of every workload (≈ 1–2 min)
    python benchmarks/bench_scale.py --only W1 W4 --json results.json

Workloads (the whole computation: means + the probes' covariance + measures, unless noted):

  W1  Fig. 4: M = 300, t ≤ 1500 at step 0.05 (examples/fig4.toml through simulation.simulate)
  W2  Fig. 6 map: 300 plugging sites, t ≤ 1500 at step 0.05, means and C(t) only
  W3  M = 10⁴, t ≤ 25 000 at step 0.1 (past the first revival: no light-cone cut)
  W4  M = 10⁶, probes at sites 1 and 2, t ≤ 2000 at step 0.05 (light-cone cut)
  W5  Fig. 6 map with the probes' covariance and all measures (mutual information, log
      negativity, C of the means and of ⟨x²⟩, Mari's complete synchronization)

Each workload runs in its own process (so the peak RSS printed is that run's). Against the
same equations, dR/dt = A R with A = [[0, 1], [−V, 0]] (ħ = 1, unit masses):

  ivp-rows   scipy solve_ivp (DOP853) on the probe rows of the propagator, d/dt S_P = S_P A
             (sparse V), then ⟨R_P⟩ = S_P⟨R⟩(0) and σ_PP = S_P σ(0) S_Pᵀ with σ(0) = probes ⊕
             the chain's ground state in its closed-form modes (a DST applies W); tolerances
             chosen for an error comparable to harmosync's stated bound (printed: max error
             against harmosync on a subgrid). For W2 (means only): the 2N-vector mean ODE.
  lyapunov   solve_ivp (DOP853) on the full covariance equation dσ/dt = Aσ + σAᵀ.
  expm-step  one S(h) = expm(A h), then S_P(t + h) = S_P(t) S(h) (probe rows) — and, where
             named, the full σ(t + h) = S(h) σ(t) S(h)ᵀ, or a fresh expm(A t) per output time.

Runs that would take more than about a minute are timed on a short stretch of the time axis
(or on a few of the 300 networks) and extrapolated linearly; the table says so ("extrap.").
Runs that cannot fit in memory are estimated from their flop count at the measured GEMM rate
("estimate").

Floor: result bytes / measured memory bandwidth (writing the result once) and the flops of
harmosync's own exact representation (non-uniform FFTs of the 2n(R+1) trig-sum columns, the
rank-R covariance contraction, the P secular sweeps of O(N²)) / measured GEMM rate; the floor is
the larger of the two. Rates are measured by this script (DGEMM 2000³ on all BLAS threads,
a STREAM-like triad on 0.8 GB).

The machine is shared with other jobs: wall times are noisy. The table prints the load average
at the start; rerun on a quiet machine before quoting numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy
from scipy.fft import dst
from scipy.integrate import solve_ivp

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = ("W1", "W2", "W3", "W4", "W5")
ONE_MINUTE = 60.0


# ----------------------------------------------------------------------------------------------
# Machine
# ----------------------------------------------------------------------------------------------
def machine_rates() -> dict:
    """DGEMM rate [GFLOP/s] and triad memory bandwidth [GB/s], best of 3."""
    rng = np.random.default_rng(0)
    n = 2000
    a, b = rng.random((n, n)), rng.random((n, n))
    a @ b
    best = np.inf
    for _ in range(3):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    gemm = 2 * n**3 / best / 1e9
    m = 33_000_000  # 3 arrays × 264 MB
    x, y, z = np.ones(m), np.ones(m), np.empty(m)
    best = np.inf
    for _ in range(3):
        t = time.perf_counter()
        np.multiply(y, 1.5, out=z)
        np.add(z, x, out=z)
        best = min(best, time.perf_counter() - t)
    bw = 4 * 8 * m / best / 1e9  # read y, write z, read z and x, write z … ≈ 4 streams
    # one core's FFT rate on the transforms the Fig. 6 maps run (G = 60 025 complex points,
    # 8 contiguous rows), counted as 5 G log2 G flops per transform
    import scipy.fft as sfft

    g = sfft.next_fast_len(2 * 30001 + 16)
    x = rng.random((8, g)) + 1j * rng.random((8, g))
    best = np.inf
    for _ in range(5):
        t = time.perf_counter()
        sfft.ifft(x, axis=1, workers=1)
        best = min(best, time.perf_counter() - t)
    fft = 8 * 5 * g * np.log2(g) / best / 1e9
    return {"gemm_gflops": gemm, "bandwidth_gbs": bw, "fft_gflops_per_core": fft}


def machine_info() -> dict:
    from threadpoolctl import threadpool_info

    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = [f"{i.get('internal_api')} {i.get('version')} ({i.get('num_threads')} threads)" for i in threadpool_info()
            if i.get("user_api") == "blas"]
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "blas": "; ".join(sorted(set(blas))), "load": os.getloadavg()}


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


# ----------------------------------------------------------------------------------------------
# Shared helpers: references on the same equations
# ----------------------------------------------------------------------------------------------
def chain_w_apply(rows: np.ndarray, m: int) -> np.ndarray:
    """rows (k, M) @ W with W_jk = √(2/(M+1)) sin(πjk/(M+1)) (fixed-end chain modes): a DST-I."""
    return dst(rows, type=1, axis=-1) * np.sqrt(2.0 / (m + 1)) / 2


def probe_moments_from_rows(s_p, net, init, om):
    """⟨R_P⟩ and σ_PP (block ordering) from probe rows S_P (T, 2P, 2N), σ(0) = probes ⊕ chain
    ground state (½ W diag(1/Ω) Wᵀ, ½ W diag(Ω) Wᵀ) — fixed-end homogeneous chain."""
    from harmosync.conventions import to_block

    p, n = net.n_probes, net.size
    m = n - p
    pidx = np.r_[0:p, n:n + p]
    sp_ = s_p[:, :, pidx]
    pb = to_block(init.probes.cov)
    cov = sp_ @ pb @ np.swapaxes(sp_, 1, 2)
    t_, k_ = s_p.shape[:2]
    sx = chain_w_apply(s_p[:, :, p:n].reshape(-1, m), m).reshape(t_, k_, m)
    spp = chain_w_apply(s_p[:, :, n + p:].reshape(-1, m), m).reshape(t_, k_, m)
    cov += 0.5 * (sx / om) @ np.swapaxes(sx, 1, 2) + 0.5 * (spp * om) @ np.swapaxes(spp, 1, 2)
    mean = sp_ @ to_block(init.probes.mean)
    return mean, cov


def ivp_rows(net, init, grid, *, rtol, atol, segment=100.0, keep_every=1, stop=None):
    """DOP853 on d/dt S_P = S_P A with sparse V, streamed in segments; returns (mean, cov) at
    grid[::keep_every] (block ordering) up to ``stop`` and the wall time."""
    from harmosync import network as nw

    p, n = net.n_probes, net.size
    v = net.potential(sparse=True)
    om = nw.chain_modes(n - p, net.environment.omega0, net.environment.g, vectors=False)[0]

    def rhs(_, y):
        s = y.reshape(2 * p, 2 * n)
        out = np.empty_like(s)
        out[:, :n] = -(v @ s[:, n:].T).T
        out[:, n:] = s[:, :n]
        return out.ravel()

    s0 = np.zeros((2 * p, 2 * n))
    s0[:p, :p] = np.eye(p)
    s0[p:, n:n + p] = np.eye(p)
    stop = grid[-1] if stop is None else stop
    keep = grid[::keep_every]
    keep = keep[keep <= stop + 1e-12]
    means, covs = [], []
    t0 = time.perf_counter()
    y = s0.ravel()
    start, first = grid[0], True
    while start < stop - 1e-12:
        end = min(start + segment, stop)
        sel = keep[((keep >= start) if first else (keep > start)) & (keep <= end)]
        teval = np.union1d(sel, [end])
        sol = solve_ivp(rhs, (start, end), y, method="DOP853", t_eval=teval, rtol=rtol, atol=atol)
        if not sol.success:
            raise RuntimeError(sol.message)
        ys = sol.y.T
        mask = np.isin(teval, sel)
        if mask.any():
            s_p = ys[mask].reshape(-1, 2 * p, 2 * n)
            mu, cv = probe_moments_from_rows(s_p, net, init, om)
            means.append(mu)
            covs.append(cv)
        y = ys[-1]
        start, first = end, False
    wall = time.perf_counter() - t0
    return np.concatenate(means), np.concatenate(covs), wall, keep


def lyapunov_rate(net, init, t_short, rtol, atol, budget=25.0) -> tuple[float, float]:
    """Wall time of DOP853 on dσ/dt = Aσ + σAᵀ (full 2N × 2N) over [0, t_short]; returns
    (seconds per time unit, simulated span)."""
    from harmosync.conventions import to_block
    from harmosync.dynamics import reference as dyref

    n = net.size
    v = net.potential(sparse=True)
    s0 = to_block(dyref.initial_covariance(net, init))

    def rhs(_, y):
        s = y.reshape(2 * n, 2 * n)
        a_s = np.empty_like(s)
        a_s[:n] = s[n:]
        a_s[n:] = -(v @ s[:n])
        return (a_s + a_s.T).ravel()

    t0 = time.perf_counter()
    done = 0.0
    y = s0.ravel()
    step = t_short / 10
    while done < t_short and time.perf_counter() - t0 < budget:
        sol = solve_ivp(rhs, (done, done + step), y, method="DOP853", rtol=rtol, atol=atol)
        y = sol.y[:, -1]
        done += step
    return (time.perf_counter() - t0) / done, done


def expm_step_rows(net, init, grid, keep_every=1, max_steps=None):
    """S(h) = expm(A h) once, S_P(t + h) = S_P(t) S(h); moments at grid[::keep_every]."""
    import scipy.linalg as sla

    from harmosync import network as nw

    p, n = net.n_probes, net.size
    v = net.potential()
    h = grid[1] - grid[0]
    a = np.block([[np.zeros((n, n)), np.eye(n)], [-v, np.zeros((n, n))]])
    om = nw.chain_modes(n - p, net.environment.omega0, net.environment.g, vectors=False)[0]
    t0 = time.perf_counter()
    s_h = sla.expm(a * h)
    s = np.zeros((2 * p, 2 * n))
    s[:p, :p] = np.eye(p)
    s[p:, n:n + p] = np.eye(p)
    steps = grid.size - 1 if max_steps is None else min(max_steps, grid.size - 1)
    kept, idx = [], []
    for k in range(steps + 1):
        if k % keep_every == 0:
            kept.append(s.copy())
            idx.append(k)
        if k < steps:
            s = s @ s_h
    rows = np.array(kept)
    mean, cov = probe_moments_from_rows(rows, net, init, om)
    wall = time.perf_counter() - t0
    return mean, cov, wall, steps


def expm_per_time_rate(net, samples=3) -> float:
    import scipy.linalg as sla

    n = net.size
    v = net.potential()
    a = np.block([[np.zeros((n, n)), np.eye(n)], [-v, np.zeros((n, n))]])
    t0 = time.perf_counter()
    for k in range(samples):
        sla.expm(a * (100.0 + 37.0 * k))
    return (time.perf_counter() - t0) / samples


def errors(ref_mean, ref_cov, mean, cov) -> float:
    return float(max(np.abs(ref_mean - mean).max(), np.abs(ref_cov - cov).max()))


# ----------------------------------------------------------------------------------------------
# Measures as simulation.simulate computes them
# ----------------------------------------------------------------------------------------------
def all_measures(mean, cov, step, window):
    """The measures simulate() computes for probes 1, 2 (interleaved mean/cov)."""
    from harmosync import measures as ms

    out = {}
    x2a = cov[:, 0, 0] + mean[:, 0] ** 2
    x2b = cov[:, 2, 2] + mean[:, 2] ** 2
    out["sync"] = ms.sync_factor(mean[:, 0], mean[:, 2], step, window)
    out["sync_variance"] = ms.sync_factor(x2a, x2b, step, window)
    out["mutual_information"] = ms.mutual_information(cov, [0], [1])
    out["log_negativity"] = ms.log_negativity(cov, [0], [1])
    out["complete_sync"] = ms.complete_sync(mean, None, 0, 1)
    out["complete_sync_quantum"] = ms.complete_sync(mean, cov, 0, 1)
    return out


def two_mode_measures(cov):
    """Prototype (not part of harmosync): mutual information and log negativity of two modes
    from the symplectic invariants, ν_A = √det A, ν±² = (Δ ± √(Δ² − 4 det σ))/2 with
    Δ = det A + det B ± 2 det C (− for the partial transpose), the smaller as det σ/ν₊²."""
    a = cov[:, 0:2, 0:2]
    b = cov[:, 2:4, 2:4]
    c = cov[:, 0:2, 2:4]
    da = a[:, 0, 0] * a[:, 1, 1] - a[:, 0, 1] ** 2
    db = b[:, 0, 0] * b[:, 1, 1] - b[:, 0, 1] ** 2
    dc = c[:, 0, 0] * c[:, 1, 1] - c[:, 0, 1] * c[:, 1, 0]
    ds = np.linalg.det(cov)

    def pair(delta):
        root = np.sqrt(np.maximum(delta * delta - 4 * ds, 0.0))
        big = 0.5 * (delta + root)
        return np.sqrt(np.maximum(ds / big, 0.0)), np.sqrt(big)

    def s(nu):
        nu = np.maximum(nu, 0.5)
        bb = nu - 0.5
        with np.errstate(divide="ignore", invalid="ignore"):
            tb = np.where(bb > 0, bb * np.log(np.where(bb > 0, bb, 1.0)), 0.0)
        return (nu + 0.5) * np.log(nu + 0.5) - tb

    lo, hi = pair(da + db + 2 * dc)
    mi = s(np.sqrt(da)) + s(np.sqrt(db)) - s(lo) - s(hi)
    lo_t, _ = pair(da + db - 2 * dc)
    ln = np.maximum(0.0, -np.log(2 * lo_t))
    return mi, ln


# ----------------------------------------------------------------------------------------------
# Workloads (each returns a dict with rows and facts)
# ----------------------------------------------------------------------------------------------
def params(name: str, quick: bool) -> dict:
    if name == "W1":
        return {"stop": 300.0 if quick else 1500.0, "step": 0.05}
    if name == "W2":
        return {"stop": 300.0 if quick else 1500.0, "step": 0.05, "sites": 30 if quick else 300}
    if name == "W3":
        return {"sites": 2000 if quick else 10_000, "stop": 5000.0 if quick else 25_000.0, "step": 0.1}
    if name == "W4":
        return {"sites": 100_000 if quick else 1_000_000, "stop": 400.0 if quick else 2000.0, "step": 0.05}
    if name == "W5":
        return {"stop": 300.0 if quick else 1500.0, "step": 0.05, "sites": 30 if quick else 300}
    raise ValueError(name)


def floor(result_bytes: float, flops: float, rates: dict) -> dict:
    tb = result_bytes / (rates["bandwidth_gbs"] * 1e9)
    tf = flops / (rates["gemm_gflops"] * 1e9)
    return {"bytes": result_bytes, "flops": flops, "t_bytes": tb, "t_flops": tf, "floor": max(tb, tf)}


def harmosync_flops(n_modes, p, rank, count, dense: bool) -> float:
    cols = 4 * (rank + 1)
    g = 2 * min(count, 1 << 16)
    chunks = -(-count // (g // 2))
    fft = chunks * 0.5 * cols * 5 * g * np.log2(g)
    contraction = count * 16 * rank * 2
    modes = 9 * n_modes**3 if dense else 10 * 6 * p * n_modes**2
    return fft + contraction + modes


def run_w1(q: bool, rates: dict) -> dict:
    from harmosync import config as cfgmod
    from harmosync import dynamics as dy
    from harmosync import network as nw
    from harmosync.conventions import to_block
    from harmosync.simulation import simulate

    pr = params("W1", q)
    cfg = cfgmod.load(ROOT / "examples" / "fig4.toml")
    if q:
        cfg = cfg.model_copy(update={"time": cfg.time.model_copy(update={"stop": pr["stop"]})})
    simulate(cfg)  # warm-up (imports, caches)
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        res = simulate(cfg)
        best = min(best, time.perf_counter() - t0)
    net, init = res.network, cfg.build_state()
    t0 = time.perf_counter()
    sol = dy.solve(net, init)
    t1 = time.perf_counter()
    sol.moments(res.times)
    t2 = time.perf_counter()
    rss = peak_rss_gb()
    grid = res.times
    every = 200
    ref_mean, ref_cov = to_block(res.mean[::every]), to_block(res.cov[::every])
    rows = [{"method": "harmosync solve + moments (means, σ_PP)", "time": t2 - t0, "err": sol.error_bound,
             "note": f"solve {t1 - t0:.3f} s + moments {t2 - t1:.3f} s; rank {sol.rank}; peak RSS {rss:.2f} GB"},
            {"method": "harmosync simulate() (in-process, incl. all measures)", "time": best, "err": sol.error_bound,
             "note": "best of 3; the measures (harmosync.measures) take the rest"}]
    mean, cov, wall, _ = ivp_rows(net, init, grid, rtol=1e-10, atol=1e-12, keep_every=every)
    # covariance for every output time costs the same per time as for the kept ones: time it
    t0 = time.perf_counter()
    om = nw.chain_modes(net.environment.sites, 0.4, 1.2, vectors=False)[0]
    fake = np.zeros((every * 20, 4, 2 * net.size))
    probe_moments_from_rows(fake, net, init, om)
    per_time = (time.perf_counter() - t0) / fake.shape[0]
    full_cost = wall + per_time * grid.size
    rows.append({"method": "solve_ivp DOP853, probe rows (rtol 1e-10)", "time": full_cost,
                 "err": errors(ref_mean, ref_cov, mean, cov),
                 "note": f"integration {wall:.1f} s + σ_PP at all {grid.size} times (timed on {fake.shape[0]})"})
    rate, span = lyapunov_rate(net, init, 5.0, rtol=1e-10, atol=1e-12)
    rows.append({"method": "solve_ivp DOP853, full covariance (Lyapunov)", "time": rate * pr["stop"], "err": None,
                 "note": f"extrap. from t ≤ {span:g}; state (2N)² = {(2 * net.size) ** 2:.3g} numbers", "extrap": True})
    mean, cov, wall, steps = expm_step_rows(net, init, grid, keep_every=every)
    rows.append({"method": "expm step, probe rows", "time": wall, "err": errors(ref_mean, ref_cov, mean, cov),
                 "note": f"one expm(A h), {steps} row steps"})
    n2 = 2 * net.size
    per_step = 2 * 2 * n2**3 / (rates["gemm_gflops"] * 1e9)
    rows.append({"method": "expm step, full covariance S σ Sᵀ", "time": per_step * (grid.size - 1), "err": None,
                 "note": "estimate: 2 GEMMs of (2N)³ per step at the measured rate", "extrap": True})
    rows.append({"method": "expm per output time", "time": expm_per_time_rate(net) * grid.size, "err": None,
                 "note": "extrap. from 3 expm(A t)", "extrap": True})
    result_bytes = grid.size * (4 + 16 + 8) * 8
    fl = floor(result_bytes, harmosync_flops(net.size, 2, sol.rank, grid.size, dense=True), rates)
    return {"name": "W1", "rows": rows, "floor": fl, "peak_rss_gb": rss,
            "what": f"Fig. 4, M = 300, t ≤ {pr['stop']:g} step {pr['step']}, {grid.size} times"}


def fig6_setup(pr):
    from harmosync import network as nw
    from harmosync import states as st

    env = nw.chain(300, 0.4, 1.2)
    probes_ = nw.probes((1.0, 1.1), 0.5, (1, 1), (0.06, 0.06))
    init = st.InitialState(st.product(st.coherent(1.0, 0.14), st.coherent(1.1, 1.4)))
    grid = pr["step"] * np.arange(round(pr["stop"] / pr["step"]) + 1)
    sites = list(range(1, 301)) if pr["sites"] >= 300 else list(np.linspace(1, 300, pr["sites"]).astype(int))
    return env, probes_, init, grid, sites


def map_evolutions(env, probes_, init, sites, **kw):
    """The Fig. 6 networks (probe 2 at each of ``sites``) solved together: dynamics.solve_many."""
    from harmosync import dynamics as dy
    from harmosync import network as nw

    return dy.solve_many([nw.couple(env, q) for q in dy.plugging_sweep(probes_, sites)], init, **kw)


def sync_map(env, probes_, init, sites, grid):
    """C(t) of ⟨x1⟩, ⟨x2⟩ for every plugging site (S, T): the map path of figure 6 and sweeps."""
    from harmosync import measures as ms

    from harmosync.dynamics.many import cores, means_many

    evos = map_evolutions(env, probes_, init, sites, covariance=False, t_max=grid[-1])
    x = means_many(evos, grid, columns=(0, 2))  # ⟨x1⟩, ⟨x2⟩ only, on every core
    return ms.sync_factor(x[:, :, 0], x[:, :, 1], grid[1] - grid[0], 20.0, workers=cores())


def run_w2(q: bool, rates: dict) -> dict:
    import scipy.linalg as sla

    from harmosync import measures as ms
    from harmosync import network as nw

    pr = params("W2", q)
    env, probes_, init, grid, sites = fig6_setup(pr)
    sync_map(env, probes_, init, sites[:3], grid)  # warm-up
    t0 = time.perf_counter()
    cmap = sync_map(env, probes_, init, sites, grid)
    wall = time.perf_counter() - t0
    rss = peak_rss_gb()
    rows = [{"method": "harmosync dynamics.solve_many + means + sync_factor", "time": wall, "err": None,
             "note": f"{len(sites)} networks × {grid.size} times; peak RSS {rss:.2f} GB"}]
    # references on 2 networks, extrapolated to all
    sample = [sites[len(sites) // 3], sites[-1]]
    t_ivp = t_exp = 0.0
    err = 0.0
    for m in sample:
        net = nw.couple(env, nw.probes((1.0, 1.1), 0.5, (1, m), (0.06, 0.06)))
        n = net.size
        v = net.potential(sparse=True)
        y0 = np.zeros(2 * n)
        y0[:2] = init.probes.mean[0::2]
        y0[n:n + 2] = init.probes.mean[1::2]

        def rhs(_, y, n=n, v=v):
            return np.concatenate([y[n:], -(v @ y[:n])])

        t0 = time.perf_counter()
        sol = solve_ivp(rhs, (0, grid[-1]), y0, method="DOP853", t_eval=grid, rtol=1e-10, atol=1e-12)
        c_ivp = ms.sync_factor(sol.y[0][None], sol.y[1][None], pr["step"], 20.0)
        t_ivp += time.perf_counter() - t0
        i = sites.index(m)
        err = max(err, float(np.nanmax(np.abs(c_ivp[0] - cmap[i]))))
        a = np.block([[np.zeros((n, n)), np.eye(n)], [-net.potential(), np.zeros((n, n))]])
        t0 = time.perf_counter()
        s_h = sla.expm(a * pr["step"])
        y = y0.copy()
        xs = np.empty((grid.size, 2))
        for k in range(grid.size):
            xs[k] = y[:2]
            y = s_h @ y
        ms.sync_factor(xs[:, 0][None], xs[:, 1][None], pr["step"], 20.0)
        t_exp += time.perf_counter() - t0
    scale = len(sites) / len(sample)
    rows.append({"method": "solve_ivp DOP853, mean ODE (2N), per network", "time": t_ivp * scale, "err": err,
                 "note": f"extrap. from {len(sample)} networks (err: max |ΔC|)", "extrap": True})
    rows.append({"method": "expm step, mean vector, per network", "time": t_exp * scale, "err": None,
                 "note": f"extrap. from {len(sample)} networks", "extrap": True})
    result_bytes = len(sites) * grid.size * (4 + 1) * 8
    # + C of Eq. (3) from running sums: ~86 flops per sample (docs/benchmarks.md)
    fl = floor(result_bytes, len(sites) * (harmosync_flops(302, 1, 0, grid.size, dense=False) + 86 * grid.size),
               rates)
    return {"name": "W2", "rows": rows, "floor": fl, "peak_rss_gb": rss,
            "what": f"Fig. 6 map, {len(sites)} plugging sites, t ≤ {pr['stop']:g} step {pr['step']}, means and C"}


def run_big(name: str, q: bool, rates: dict) -> dict:
    """W3 (no cut) and W4 (light-cone cut): solve + moments + all measures."""
    from harmosync import dynamics as dy
    from harmosync import network as nw
    from harmosync import states as st
    from harmosync.conventions import to_block

    pr = params(name, q)
    plug = (1, 1) if name == "W3" else (1, 2)
    init = st.InitialState(st.product(st.coherent(1.0, 0.14), st.coherent(1.1, 1.4)))
    t0 = time.perf_counter()
    net = nw.paper_network(sites=pr["sites"], plug=plug)
    t_build = time.perf_counter() - t0
    grid = pr["step"] * np.arange(round(pr["stop"] / pr["step"]) + 1)
    t0 = time.perf_counter()
    sol = dy.solve(net, init, t_max=grid[-1])
    t1 = time.perf_counter()
    mom = sol.moments(grid)
    t2 = time.perf_counter()
    all_measures(mom.mean, mom.cov, pr["step"], 20.0)
    t3 = time.perf_counter()
    rss = peak_rss_gb()
    rows = [{"method": f"harmosync solve + moments + measures ({sol.method})", "time": t3 - t0, "err": sol.error_bound,
             "note": f"N = {sol.frequencies.size}, rank {sol.rank}: solve {t1 - t0:.2f} s, moments {t2 - t1:.2f} s, "
                     f"measures {t3 - t2:.2f} s; network build {t_build:.2f} s (not included); peak RSS {rss:.2f} GB"}]
    # solve_ivp on the probe rows of the full chain: a short stretch, extrapolated
    t_short = 20.0 if name == "W3" else 2.0
    sub = grid[grid <= t_short + 1e-9]
    mean, cov, wall, keep = ivp_rows(net, init, sub, rtol=1e-10, atol=1e-12, keep_every=max(1, sub.size // 10))
    idx = np.searchsorted(grid, keep)
    err = errors(to_block(mom.mean[idx]), to_block(mom.cov[idx]), mean, cov)
    # σ_PP for every output time: DSTs of size M per row; time a batch and scale
    om = nw.chain_modes(pr["sites"], 0.4, 1.2, vectors=False)[0]
    batch = 8
    t0 = time.perf_counter()
    probe_moments_from_rows(np.zeros((batch, 4, 2 * net.size)), net, init, om)
    per_time = (time.perf_counter() - t0) / batch
    total = wall * grid[-1] / t_short + per_time * grid.size
    rows.append({"method": "solve_ivp DOP853, probe rows, full chain", "time": total, "err": err,
                 "note": f"extrap. from t ≤ {t_short:g} ({wall:.1f} s) + σ_PP at all times", "extrap": True})
    if sol.window is not None:
        m_cut = sol.window[1] - sol.window[0] + 1
        cut = nw.paper_network(sites=m_cut, plug=plug)
        mean, cov, wall_c, keep = ivp_rows(cut, init, sub, rtol=1e-10, atol=1e-12, keep_every=max(1, sub.size // 10))
        err_c = errors(to_block(mom.mean[idx]), to_block(mom.cov[idx]), mean, cov)
        om_c = nw.chain_modes(m_cut, 0.4, 1.2, vectors=False)[0]
        t0 = time.perf_counter()
        probe_moments_from_rows(np.zeros((batch * 8, 4, 2 * cut.size)), cut, init, om_c)
        per_time_c = (time.perf_counter() - t0) / (batch * 8)
        rows.append({"method": f"solve_ivp DOP853, probe rows, same cut chain (M = {m_cut})",
                     "time": wall_c * grid[-1] / t_short + per_time_c * grid.size, "err": err_c,
                     "note": f"extrap. from t ≤ {t_short:g}", "extrap": True})
    n2 = 2 * net.size
    lyap_flops_rhs = 2 * 3 * n2 * n2
    steps = grid[-1] / 0.05 * 12  # DOP853: ~12 stages per step, steps ≈ 0.05 at these tolerances
    rows.append({"method": "solve_ivp, full covariance (Lyapunov)", "time": lyap_flops_rhs * steps / (rates["gemm_gflops"] * 1e9),
                 "err": None, "note": f"estimate (not run): state (2N)² = {n2 * n2:.2g} numbers = {8 * n2 * n2 / 1e9:.3g} GB",
                 "extrap": True})
    rows.append({"method": "expm step, probe rows", "time": (20 * n2**3 + 2 * 2 * n2 * n2 * grid.size) / (rates["gemm_gflops"] * 1e9),
                 "err": None, "note": f"estimate (not run): expm of a dense {n2}² matrix = {8 * n2 * n2 / 1e9:.3g} GB",
                 "extrap": True})
    result_bytes = grid.size * (4 + 16 + 8) * 8
    fl = floor(result_bytes, harmosync_flops(sol.frequencies.size, 2, sol.rank, grid.size, dense=False), rates)
    what = (f"M = {pr['sites']:,}, probes at sites {plug}, t ≤ {pr['stop']:g} step {pr['step']}, {grid.size} times")
    return {"name": name, "rows": rows, "floor": fl, "peak_rss_gb": rss, "what": what}


MEASURE_NAMES = ("sync", "sync_variance", "mutual_information", "log_negativity", "complete_sync",
                 "complete_sync_quantum")


def _w5_part(task):
    """One worker of the W5 map: solve_many on its share of the sites (one BLAS/FFT thread),
    moments and every measure, written into the shared result array."""
    shm_name, shape, q, part, parts, closed_forms = task
    from multiprocessing import shared_memory

    from threadpoolctl import threadpool_limits

    from harmosync import measures as ms
    from harmosync.solvers import trigsum

    trigsum.FFT_WORKERS = 1 if parts > 1 else -1
    pr = params("W5", q)
    env, probes_, init, grid, sites = fig6_setup(pr)
    mine = list(range(part, len(sites), parts))
    shm = shared_memory.SharedMemory(name=shm_name)
    out = np.ndarray(shape, dtype=float, buffer=shm.buf)
    with threadpool_limits(1 if parts > 1 else None):
        sols = map_evolutions(env, probes_, init, [sites[i] for i in mine], t_max=grid[-1])
        for i, sol in zip(mine, sols):
            mom = sol.moments(grid, by_entry=True)  # each entry's series contiguous: what the measures read
            x2a = mom.cov[:, 0, 0] + mom.mean[:, 0] ** 2
            x2b = mom.cov[:, 2, 2] + mom.mean[:, 2] ** 2
            c = ms.sync_factor(np.vstack([mom.mean[:, 0], x2a]), np.vstack([mom.mean[:, 2], x2b]), pr["step"], 20.0)
            if closed_forms:
                mi, ln = two_mode_measures(mom.cov)
            else:
                mi, ln = ms.mutual_information(mom.cov, [0], [1]), ms.log_negativity(mom.cov, [0], [1])
            out[:, i] = np.vstack([c[0], c[1], mi, ln, ms.complete_sync(mom.mean, None, 0, 1),
                                   ms.complete_sync(mom.mean, mom.cov, 0, 1)])
    shm.close()
    return len(mine)


def w5_map(q: bool, workers: int, closed_forms: bool, sites_limit=None):
    """The W5 map with ``workers`` processes (fork) writing into one shared array: (wall time,
    result, CPU time of this process and its workers — the fair measure on a shared machine)."""
    import multiprocessing as mp
    import resource
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import shared_memory

    def cpu():
        ch = resource.getrusage(resource.RUSAGE_CHILDREN)  # workers, once reaped at the pool's exit
        return time.process_time() + ch.ru_utime + ch.ru_stime

    pr = params("W5", q)
    _, _, _, grid, sites = fig6_setup(pr)
    shape = (len(MEASURE_NAMES), len(sites), grid.size)
    shm = shared_memory.SharedMemory(create=True, size=int(np.prod(shape)) * 8)
    try:
        t0, c0 = time.perf_counter(), cpu()
        tasks = [(shm.name, shape, q, k, workers, closed_forms) for k in range(workers)]
        if workers == 1:
            list(map(_w5_part, tasks))
        else:
            with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as ex:
                list(ex.map(_w5_part, tasks))
        wall, cpu_time = time.perf_counter() - t0, cpu() - c0
        result = np.ndarray(shape, dtype=float, buffer=shm.buf).copy()
    finally:
        shm.close()
        shm.unlink()
    return wall, result, cpu_time


def run_w5(q: bool, rates: dict) -> dict:
    from harmosync import network as nw

    pr = params("W5", q)
    env, probes_, init, grid, sites = fig6_setup(pr)
    w5_map(True, 1, False)  # warm-up (quick size)
    wall2, res2, cpu2 = w5_map(q, 2, False)
    rss = peak_rss_gb()
    wall1, res1, cpu1 = w5_map(q, 1, False)
    # the naive closed two-mode formulas (unstable near ν1 = ν2) on a subset, against measures.py
    sub = list(range(0, len(sites), max(1, len(sites) // 10)))
    sols = map_evolutions(env, probes_, init, [sites[i] for i in sub], t_max=grid[-1])
    d_meas = 0.0
    for i, sol in zip(sub, sols):
        mom = sol.moments(grid)
        mi, ln = two_mode_measures(mom.cov)
        d_meas = max(d_meas, float(np.abs(mi - res2[2, i]).max()), float(np.abs(ln - res2[3, i]).max()))
    d_workers = float(np.nanmax(np.abs(res1 - res2)))
    rows = [{"method": "harmosync, 2 processes: solve_many + moments + all measures", "time": wall2, "err": None,
             "note": f"{len(sites)} networks, CPU {cpu2:.2f} s (workers + driver), measures.py "
                     f"MI/LN (textbook closed forms differ by {d_meas:.1e}); peak RSS "
                     f"{rss:.2f} GB (driver; + the shared result)"},
            {"method": "the same, 1 process", "time": wall1, "err": None,
             "note": f"CPU {cpu1:.2f} s; results identical to the 2-process run to "
                     f"{d_workers:.0e}"}]
    # solve_ivp / expm on one network, extrapolated to all
    m = sites[len(sites) // 2]
    net = nw.couple(env, nw.probes((1.0, 1.1), 0.5, (1, m), (0.06, 0.06)))
    every = 200
    _, _, wall, _ = ivp_rows(net, init, grid, rtol=1e-10, atol=1e-12, keep_every=every)
    om = nw.chain_modes(300, 0.4, 1.2, vectors=False)[0]
    t0 = time.perf_counter()
    probe_moments_from_rows(np.zeros((2000, 4, 2 * net.size)), net, init, om)
    per_time = (time.perf_counter() - t0) / 2000
    rows.append({"method": "solve_ivp DOP853, probe rows, per network", "time": (wall + per_time * grid.size) * len(sites),
                 "err": None, "note": "extrap. from 1 network (1 process)", "extrap": True})
    _, _, wall, _ = expm_step_rows(net, init, grid, keep_every=every)
    rows.append({"method": "expm step, probe rows, per network", "time": (wall + per_time * grid.size) * len(sites),
                 "err": None, "note": "extrap. from 1 network (1 process)", "extrap": True})
    rank = int(np.mean([s.rank for s in sols]))
    result_bytes = len(sites) * grid.size * (4 + 16 + len(MEASURE_NAMES)) * 8
    fl = floor(result_bytes, len(sites) * harmosync_flops(302, 1, rank, grid.size, dense=False), rates)
    return {"name": "W5", "rows": rows, "floor": fl, "peak_rss_gb": rss,
            "what": f"Fig. 6 map with covariance and all measures, {len(sites)} sites, t ≤ {pr['stop']:g}"}


RUNNERS = {"W1": run_w1, "W2": run_w2, "W3": lambda q, r: run_big("W3", q, r), "W4": lambda q, r: run_big("W4", q, r),
           "W5": run_w5}
TARGETS = {"W1": 0.3, "W2": 1.5, "W3": 60.0, "W4": 5.0, "W5": 6.0}  # W2, W5: issue 14


# ----------------------------------------------------------------------------------------------
def fmt_time(t) -> str:
    if t is None:
        return "—"
    if t < 1:
        return f"{t * 1e3:.0f} ms"
    if t < 120:
        return f"{t:.2f} s"
    if t < 7200:
        return f"{t / 60:.1f} min"
    if t < 3 * 86400:
        return f"{t / 3600:.1f} h"
    return f"{t / 86400:.0f} d"


def print_table(results: list[dict], info: dict, rates: dict, quick: bool) -> None:
    print(f"# harmosync scale benchmark{' (--quick)' if quick else ''}")
    print(f"machine: {info['cpu']}, {info['cores']} cores; BLAS {info['blas']}; numpy {info['numpy']}, "
          f"scipy {info['scipy']}, python {info['python']}")
    print(f"load average at start: {info['load'][0]:.2f} {info['load'][1]:.2f} {info['load'][2]:.2f} "
          f"(shared machine: wall times are noisy)")
    print(f"measured: DGEMM {rates['gemm_gflops']:.1f} GFLOP/s, triad bandwidth {rates['bandwidth_gbs']:.1f} GB/s, "
          f"FFT {rates.get('fft_gflops_per_core', float('nan')):.1f} GFLOP/s per core\n")
    for r in results:
        if "error" in r:
            print(f"## {r['name']}: FAILED: {r['error']}\n")
            continue
        h = r["rows"][0]["time"]
        fl = r["floor"]
        print(f"## {r['name']}: {r['what']}")
        target = TARGETS.get(r["name"])
        print(f"target ≤ {fmt_time(target)}; floor {fmt_time(fl['floor'])} "
              f"(result {fl['bytes'] / 1e6:.1f} MB → {fmt_time(fl['t_bytes'])}; {fl['flops']:.2g} flops → "
              f"{fmt_time(fl['t_flops'])}); peak RSS {r['peak_rss_gb']:.2f} GB")
        print(f"| {'method':<64} | {'time':>9} | {'× harmosync':>11} | {'max error':>9} | note")
        print(f"|{'-' * 66}|{'-' * 11}|{'-' * 13}|{'-' * 11}|------")
        for row in r["rows"]:
            ratio = row["time"] / h if row is not r["rows"][0] else 1.0
            err = "—" if row.get("err") is None else f"{row['err']:.1e}"
            print(f"| {row['method']:<64} | {fmt_time(row['time']):>9} | {ratio:>11.3g} | {err:>9} | {row['note']}")
        print()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short versions of every workload")
    ap.add_argument("--only", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    ap.add_argument("--json", type=Path, help="also write the results as JSON")
    ap.add_argument("--workload", choices=WORKLOADS, help=argparse.SUPPRESS)  # child process
    ap.add_argument("--rates", help=argparse.SUPPRESS)
    ap.add_argument("--measure-rates", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.measure_rates:
        print("JSON:" + json.dumps(machine_rates()))
        return 0
    if args.workload:
        rates = json.loads(args.rates)
        try:
            out = RUNNERS[args.workload](args.quick, rates)
        except Exception as exc:  # noqa: BLE001 — report it in the table, keep going
            out = {"name": args.workload, "error": f"{type(exc).__name__}: {exc}"}
        print("JSON:" + json.dumps(out, default=float))
        return 0
    info = machine_info()
    # rates in a child process too: Linux keeps a process's peak RSS across fork + exec, so the
    # parent must stay small for the children's peak RSS to be their own
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--measure-rates"],
                          capture_output=True, text=True, check=True)
    rates = json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("JSON:")][-1][5:])
    results = []
    for name in args.only:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--workload", name, "--rates", json.dumps(rates)]
        if args.quick:
            cmd.append("--quick")
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("JSON:")]
        if not line:
            results.append({"name": name, "error": (proc.stderr or proc.stdout)[-2000:]})
        else:
            results.append(json.loads(line[-1][5:]))
        print(f"[{name} done in {time.perf_counter() - t0:.0f} s]", file=sys.stderr)
    print_table(results, info, rates, args.quick)
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "rates": rates, "quick": args.quick, "results": results},
                                        indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
