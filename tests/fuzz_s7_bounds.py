"""Review s7 fuzz (not collected by pytest): err/bound of the exact solve against the mpmath
reference on random networks beyond the earlier fuzzes: stiff bonds, zero on-site defects,
Ω0 → 0, T = 0 and hot, squeezing up to MAX_SQUEEZING, environment sites observed, long times.
Usage: python tests/fuzz_s7_bounds.py START STOP  (prints one line per case)."""

import sys

import numpy as np

from harmosync import dynamics as dy
from harmosync import network as nw
from harmosync import states as st
from reference_mp import Reference
from test_bound_tightness import critical_scale, random_graph


import os
FOCUS = os.environ.get("FOCUS")


def case(seed):
    rng = np.random.default_rng({None: 77000, "stiff": 99000, "squeeze": 66000}.get(FOCUS, 88000) + seed)
    omega0 = 10 ** rng.uniform(-6, 0)
    g = 10 ** rng.uniform(-1, 3) if rng.uniform() < 0.4 else rng.uniform(0.5, 1.5)
    kind = str(rng.choice(["free", "fixed", "defect", "zero", "graph"]))
    if FOCUS == "squeeze":  # moderate networks, every probe strongly squeezed
        g = 10 ** rng.uniform(-0.3, 1.7)
        omega0 = 10 ** rng.uniform(-2, 0)
    elif FOCUS == "stiff":  # stiff bonds, defects, graphs
        g = 10 ** rng.uniform(2, 4)
        kind = str(rng.choice(["zero", "defect", "free", "fixed"]))
    elif FOCUS:  # hot soft chains with a zero or weak defect
        omega0 = 10 ** rng.uniform(-8, -3)
        kind = str(rng.choice(["zero", "defect"]))
    if kind in ("free", "fixed"):
        m = int(rng.integers(4, 20))
        env = nw.chain(m, omega0, g, kind)
    elif kind in ("defect", "zero"):
        m = int(rng.integers(4, 16))
        on = np.full(m, omega0)
        on[rng.integers(0, m)] = 0.0 if kind == "zero" else rng.uniform(0.05, 3)
        env = nw.chain(m, omega0, g, str(rng.choice(["free", "fixed"])), onsite_frequencies=on)
    else:
        m = int(rng.integers(4, 13))
        env = random_graph(rng, m, omega0, 0.4)
    p = int(rng.integers(1, 4))
    freqs = rng.uniform(0.3, 3, p)
    lam = rng.uniform(0, 0.3) if p > 1 else 0.0
    plug = [int(rng.integers(1, m + 1)) if rng.uniform() < 0.5 else int(rng.choice([1, m])) for _ in range(p)]
    k = rng.choice([-1.0, 1.0], p) * rng.uniform(0.2, 1.0, p)
    frac = 1 - 10 ** rng.uniform(-5, -0.1)
    k = k * frac * min(critical_scale(env, freqs, lam, plug, k), 1.0)
    net = nw.couple(env, nw.probes(freqs, lam, plug, list(k)))
    u = rng.uniform()
    temperature = 0.0 if u < 0.25 else 10 ** rng.uniform(-2, 2)
    if FOCUS:
        temperature = 10 ** rng.uniform(0, 3)
    states = []
    for w in freqs:
        r = st.MAX_SQUEEZING * rng.uniform() ** 2 if rng.uniform() < 0.5 else rng.uniform(0, 1)
        if rng.uniform() < 0.15:
            r = st.MAX_SQUEEZING
        if FOCUS == "squeeze":
            r = rng.uniform(6, st.MAX_SQUEEZING)
        s = st.squeezed(w, r, rng.uniform(0, 2 * np.pi), x=rng.normal(), p=rng.normal())
        states.append(st.GaussianState(s.mean, s.cov * (1 + 2 * rng.uniform(0, 0.5))))
    init = st.InitialState(st.product(*states), temperature)
    n = p + m
    observe = sorted(set(int(x) for x in rng.integers(0, n, int(rng.integers(1, 4)))) | {0})
    tmax = float(10 ** rng.uniform(1, 4))
    times = [0.0, 1.0, tmax / 3, tmax]
    return net, init, observe, times, kind, omega0, g, frac, temperature


def compare(net, init, observe, times):
    """(max|σ| of the reference, [(method, err, bound)]): dense, and chain where it applies,
    against the 40-digit reference."""
    ref = Reference(net, init, observe=observe).moments(times)
    env = net.environment
    methods = ["dense"]
    if env.homogeneous_chain and env.boundary in ("fixed", "free"):
        methods.append("chain")
    out = []
    for method in methods:
        sol = dy.solve(net, init, method=method, observe=observe, t_max=times[-1])
        mo = sol.moments(times)
        err = max(float(np.abs(mo.cov - ref[1]).max()), float(np.abs(mo.mean - ref[0]).max()))
        out.append((method, err, sol.error_bound))
    return float(np.abs(ref[1]).max()), out


def run(seed):
    net, init, observe, times, kind, omega0, g, frac, temp = case(seed)
    scale, out = compare(net, init, observe, times)
    return kind, omega0, g, frac, temp, scale, out


if __name__ == "__main__":
    for seed in range(int(sys.argv[1]), int(sys.argv[2])):
        try:
            kind, omega0, g, frac, temp, scale, out = run(seed)
        except Exception as e:  # noqa: BLE001 (a fuzz: report and go on)
            print(f"seed {seed}: {type(e).__name__}: {str(e)[:200]}", flush=True)
            continue
        for method, err, bound in out:
            flag = "BAD" if err > bound else ""
            print(f"seed {seed} {kind} Ω0={omega0:.2g} g={g:.3g} frac={frac:.6f} T={temp:.3g} {method}: "
                  f"err {err:.3g} bound {bound:.3g} ratio {err / bound if bound else np.inf:.3g} scale {scale:.3g} {flag}",
                  flush=True)
