"""Session 11 fuzz (not collected by pytest), review s11's: the structured chain path against
the 40-digit reference on adversarial chains — poles (probes resonant with chain modes, their
couplings at rounding), resonant, stiff (g up to 1e9), near-critical and soft (Ω0 down to
1e-6); P = 1–5, probes on one site or mirror sites, squeezed and hot, free and fixed ends,
chain sites observed. One line per case: err, bound, the chain eigenvector term (vt),
err/bound and bound/max(err, 1e-13·max|σ|); BAD where err > bound. References are cached in
$HARMOSYNC_FUZZ_CACHE (default /tmp/fuzz_s11_refs). COARSE=1 puts the merges' old deflation
back (LAPACK's 8ε‖A‖ for every coupling), which the eigenvector term must then cover.
Usage (from tests/): python fuzz_s11_chain_vectors.py KIND START STOP, KIND one of pole, res,
stiff, crit, soft (session 11: pole 0–60, res 0–80, stiff 0–60, crit 0–50, soft 0–50)."""

import os
import sys
import time
import warnings

import numpy as np
from reference_mp import Reference

import harmosync.dynamics as dy
import harmosync.network as nw
import harmosync.states as st



def chain_mode(M, w0, g, bnd, j):
    if bnd == "fixed":
        return np.sqrt(w0**2 + 4 * g * np.sin(np.pi * j / (2 * (M + 1)))**2)
    return np.sqrt(w0**2 + 4 * g * np.sin(np.pi * (j - 1) / (2 * M))**2)


def crit_scale(env, freqs, lam, sites, k):
    from test_bound_tightness import critical_scale
    try:
        return critical_scale(env, freqs, lam, sites, k)
    except Exception:
        return np.inf


def gen(kind, seed):
    rng = np.random.default_rng({"res": 1, "stiff": 2, "crit": 3, "soft": 4, "pole": 5}[kind] * 100000 + seed)
    M = int(rng.integers(4, 26))
    bnd = str(rng.choice(["free", "fixed"]))
    g = 10 ** rng.uniform(-1, 2)
    w0 = 10 ** rng.uniform(-2, 0.3)
    P = int(rng.integers(1, 6))
    if kind == "stiff":
        g = 10 ** rng.uniform(4, 9)
        w0 = 10 ** rng.uniform(-3, 0.5)
    if kind == "soft":
        w0 = 10 ** rng.uniform(-6, -2)
        g = 10 ** rng.uniform(-1, 1)
    # frequencies
    fs = rng.integers(0, 4)
    if kind == "stiff" and rng.uniform() < 0.7:
        freqs = list(10 ** rng.uniform(-4, -1, P))
    elif fs == 0:  # resonant with chain modes
        js = rng.integers(1, M + 1, P)
        freqs = [chain_mode(M, w0, g, bnd, j) * (1 + float(rng.choice([0.0, 1e-15, 1e-13, 1e-10, 1e-7]))) for j in js]
    elif fs == 1:  # identical / near-identical
        w = chain_mode(M, w0, g, bnd, int(rng.integers(1, M + 1))) * 10 ** rng.uniform(-0.3, 0.3)
        freqs = [w * (1 + float(rng.choice([0.0, 0.0, 1e-15, 1e-12, 1e-9]))) for _ in range(P)]
    elif fs == 2:  # soft probes
        freqs = list(10 ** rng.uniform(-3, -0.5, P))
    else:
        freqs = list(10 ** rng.uniform(-1, 1, P))
    freqs = [float(f) for f in freqs]
    ss = rng.integers(0, 4)
    if kind == "pole":
        M = int(rng.integers(2, 12)) * 2 + 1
        mid = (M + 1) // 2
        om = nw.chain_modes(M, w0, g, bnd, vectors=False)[0]
        node = [j for j in range(M) if (bnd == "fixed" and (j + 1) % 2 == 0) or (bnd == "free" and j % 2 == 1)]
        freqs = [float(om[int(rng.choice(node))]) if rng.uniform() < 0.7 else float(om[int(rng.integers(0, M))])
                 for _ in range(P)]
        if rng.uniform() < 0.3:
            freqs = [freqs[0]] * P
        ss = 4
        sites = [mid if rng.uniform() < 0.7 else int(rng.choice([mid, M + 1 - mid, 1, M])) for _ in range(P)]
    if ss == 0:
        sites = [int(rng.integers(1, M + 1)) for _ in range(P)]
    elif ss == 1:
        a = int(rng.integers(1, M + 1)); sites = [a if i % 2 == 0 else M + 1 - a for i in range(P)]
    elif ss == 2:
        a = int(rng.integers(1, M + 1)); sites = [a] * P
    elif ss == 3:
        sites = [int(rng.choice([1, M])) for _ in range(P)]
    lam = 0.0 if rng.uniform() < 0.6 else float(10 ** rng.uniform(-6, -1)) * min(freqs) ** 2
    if rng.uniform() < 0.5:
        kmag = 10 ** rng.uniform(-14, -4, P)
    else:
        kmag = np.full(P, 10 ** rng.uniform(-14, -2))
    k = kmag * rng.choice([-1.0, 1.0], P)
    env = nw.chain(M, w0, g, bnd)
    crit = crit_scale(env, freqs, lam, sites, k)
    if kind == "crit" and np.isfinite(crit):
        k = k * crit * (1 - 10 ** rng.uniform(-7, -1))
    elif np.isfinite(crit) and crit < 1:
        k = k * crit * 0.5
    net = nw.couple(env, nw.probes(freqs, lam, [[s] for s in sites], [[float(x)] for x in k]))
    T = 0.0 if rng.uniform() < 0.4 else float(10 ** rng.uniform(-2, 3))
    if kind == "soft":
        T = float(10 ** rng.uniform(0, 3))
    states = []
    for w in freqs:
        r = float(st.MAX_SQUEEZING * rng.uniform() ** 2) if rng.uniform() < 0.4 else float(rng.uniform(0, 1))
        states.append(st.squeezed(w, r, float(rng.uniform(0, 6.28)), x=float(rng.normal()), p=float(rng.normal())))
    init = st.InitialState(st.product(*states), T)
    n = P + M
    nobs = int(rng.integers(1, 4))
    obs = sorted(set(range(P)) | set(int(x) for x in rng.integers(P, n, nobs)))
    if rng.uniform() < 0.3:
        obs = sorted(set(int(x) for x in rng.integers(P, n, nobs + 1)))  # chain sites only
    tmax = float(10 ** rng.uniform(0, 4))
    times = [0.0, tmax / 7, tmax]
    desc = (f"M={M} {bnd} g={g:.3g} w0={w0:.3g} P={P} sites={sites} freqs={[f'{f:.6g}' for f in freqs]} "
            f"K={[f'{x:.2g}' for x in k]} lam={lam:.2g} T={T:.3g} obs={obs} tmax={tmax:.3g}")
    return net, init, obs, times, desc


CACHE = os.environ.get("HARMOSYNC_FUZZ_CACHE", "/tmp/fuzz_s11_refs")
os.makedirs(CACHE, exist_ok=True)
if os.environ.get("COARSE"):
    import harmosync.solvers.arrowhead as ah
    from test_arrowvectors import _coarse

    ah._deflate = _coarse
kind = sys.argv[1]
for seed in range(int(sys.argv[2]), int(sys.argv[3])):
    try:
        net, init, obs, times, desc = gen(kind, seed)
        rf = f"{CACHE}/{kind}_{seed}.npz"
        if os.path.exists(rf):
            z = np.load(rf); rm, rc = z["m"], z["c"]
        else:
            rm, rc = Reference(net, init, observe=obs).moments(times)
            rm, rc = np.array(rm, float), np.array(rc, float)
            np.savez(rf, m=rm, c=rc)
        fl = 1e-13 * float(np.abs(rc).max())
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            sol = dy.solve(net, init, method="chain", observe=obs, t_max=max(times))
            m = sol.moments(times)
        dt = time.perf_counter() - t0
        err = max(float(np.abs(m.cov - rc).max()), float(np.abs(m.mean - rm).max()))
        b = sol.error_bound
        vt = float(sol.vector_term(sol.t_max)) if sol.vector_term is not None else 0.0
        flag = "BAD" if not (err <= b) else ("LOOSE" if b > 100 * max(err, fl) else "")
        print(f"{kind} {seed} err {err:.3g} bound {b:.3g} vt {vt:.3g} e/b {err/b:.3g} b/max {b/max(err,fl):.3g} "
              f"{dt:.2f}s {flag} | {desc}", flush=True)
    except Exception as ex:
        print(f"{kind} {seed}: EXC {type(ex).__name__}: {str(ex)[:200]}", flush=True)
