"""Session 9 fuzz (not collected by pytest): err/bound of the exact solve against the mpmath
reference on soft environments with degenerate or nearly degenerate modes (rings, stars, tori,
isolated sites, two identical chains; identical soft probes placed symmetrically), where the soft
modes are clustered (solvers.softgeometry). Probes unplugged, weakly or strongly plugged; T = 0
and hot; squeezed. Usage: python tests/fuzz_s9_clusters.py START STOP (one line per case)."""

import sys

import numpy as np
from fuzz_s7_bounds import compare
from test_bound_tightness import critical_scale
from test_soft_clusters import _ring, _star, _torus

from harmosync import network as nw
from harmosync import states as st


def _graph(rng):
    kind = str(rng.choice(["ring", "star", "torus", "isolated", "twins"]))
    g = 10 ** rng.uniform(-5, -2)
    if kind == "ring":
        a = _ring(int(rng.integers(4, 10)), g)
    elif kind == "star":
        a = _star(int(rng.integers(3, 8)), g)
    elif kind == "torus":
        a = _torus(3, g)
    elif kind == "isolated":
        a = np.pad(_ring(int(rng.integers(3, 7)), g), ((0, int(rng.integers(2, 4))),) * 2)
    else:  # two identical chains side by side
        m = int(rng.integers(3, 6))
        a = np.zeros((2 * m, 2 * m))
        for j in range(m - 1):
            a[j, j + 1] = a[j + 1, j] = a[m + j, m + j + 1] = a[m + j + 1, m + j] = g
    return kind, nw.graph(a, 10 ** rng.uniform(-4, -2.5)), a.shape[0]


def case(seed):
    rng = np.random.default_rng(909000 + seed)
    if rng.uniform() < 0.25:  # identical soft probes placed symmetrically on a chain
        m = int(rng.integers(6, 20))
        env, kind = nw.chain(m, 10 ** rng.uniform(-1, 0.5), 10 ** rng.uniform(-0.5, 1), str(rng.choice(["free", "fixed"]))), "twins-probes"
        w = 10 ** rng.uniform(-3.5, -2)
        freqs, site = np.array([w, w]), int(rng.integers(1, m // 2 + 1))
        plug = [site, m + 1 - site]
        k = np.full(2, 1.0)
        scale_k = 10 ** rng.uniform(-6, -0.01)
    else:
        kind, env, m = _graph(rng)
        p = int(rng.integers(1, 3))
        freqs = 10 ** rng.uniform(-0.5, 1, p)
        plug = [int(rng.integers(1, m + 1)) for _ in range(p)]
        k = rng.choice([-1.0, 1.0], p)
        scale_k = 0.0 if rng.uniform() < 0.2 else 10 ** rng.uniform(-9, -0.01)
    lam = 0.0
    crit = critical_scale(env, freqs, lam, plug, k)
    kk = k * scale_k * min(crit, 1.0)
    net = nw.couple(env, nw.probes(tuple(freqs), lam, plug, list(kk)))
    temperature = 0.0 if rng.uniform() < 0.4 else 10 ** rng.uniform(-2, 1)
    states = []
    for w in freqs:
        r = rng.uniform(0, 3) if rng.uniform() < 0.5 else 0.0
        s = st.squeezed(w, r, rng.uniform(0, 2 * np.pi), x=rng.normal(), p=rng.normal())
        states.append(s)
    init = st.InitialState(st.product(*states), temperature)
    n = len(freqs) + m
    observe = sorted(set(int(x) for x in rng.integers(0, n, 2)) | {0})
    tmax = float(10 ** rng.uniform(1, 3.5))
    return net, init, observe, [0.0, 1.0, tmax / 3, tmax], kind, scale_k, temperature


def run(seed):
    net, init, observe, times, kind, scale_k, temp = case(seed)
    scale, out = compare(net, init, observe, times)
    return kind, scale_k, temp, scale, out


if __name__ == "__main__":
    for seed in range(int(sys.argv[1]), int(sys.argv[2])):
        try:
            kind, scale_k, temp, scale, out = run(seed)
        except Exception as e:  # noqa: BLE001 (a fuzz: report and go on)
            print(f"seed {seed}: {type(e).__name__}: {str(e)[:200]}", flush=True)
            continue
        for method, err, bound in out:
            flag = "BAD" if err > bound else ""
            tight = bound / max(err, 1e-13 * scale)
            print(f"seed {seed} {kind} K×{scale_k:.2g} T={temp:.3g} {method}: err {err:.3g} bound {bound:.3g} "
                  f"err/bound {err / bound if bound else np.inf:.3g} tight {tight:.3g} scale {scale:.3g} {flag}",
                  flush=True)
