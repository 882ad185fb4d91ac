"""Session 12 fuzz (not collected by pytest): identical or near-identical probes (relative
splits 0, 1e-15, 1e-12, 1e-9), joined by λ or not, weakly to strongly plugged (|K| 1e-12…1e-2)
into free or fixed chains of 10–200 sites, squeezed and hot: the chain path against the dense
eigh (|chain − dense| ≤ the sum of their bounds, else BAD), and the Gram defect of the chain
path's probe and site rows [A; R] (orthonormal rows of an orthogonal U). One line per 20th
case and per flagged one; EXC where a solve raises.
Usage (from tests/): python fuzz_s12_identical_probes.py START STOP (session 12: 0 150; before
the merges' Löwner step 19 of 150 refused on the chain path and 25 had a Gram defect above
1e-8, up to 1.6e-4; after, none refused, worst defect 4.0e-12, none BAD)."""
import sys, warnings, numpy as np
import harmosync.dynamics as dy, harmosync.network as nw, harmosync.states as st
from harmosync.dynamics.spectrum import chain_spectrum
bad = worst_gram = 0
n0, n1 = int(sys.argv[1]), int(sys.argv[2])
for seed in range(n0, n1):
    rng = np.random.default_rng(777000 + seed)
    M = int(rng.integers(10, 200)); P = int(rng.integers(2, 7))
    bnd = str(rng.choice(["free", "fixed"]))
    g = float(10 ** rng.uniform(-1, 2)); w0 = float(10 ** rng.uniform(-2, 0.3))
    w = float(10 ** rng.uniform(-0.5, 0.8))
    split = float(rng.choice([0.0, 0.0, 1e-15, 1e-12, 1e-9]))
    freqs = [w * (1 + split * i) for i in range(P)]
    lam = float(rng.choice([0.0, 10 ** rng.uniform(-4, -1)]))
    sites = [int(rng.integers(1, M + 1)) if rng.uniform() < 0.6 else int(rng.choice([1, M, (M + 1) // 2])) for _ in range(P)]
    k = 10 ** rng.uniform(-12, -2, P) * rng.choice([-1.0, 1.0], P)
    try:
        net = nw.couple(nw.chain(M, w0, g, bnd), nw.probes(freqs, lam, [[s] for s in sites], [[x] for x in k]))
    except Exception as e:
        continue
    T = 0.0 if rng.uniform() < 0.5 else float(10 ** rng.uniform(-2, 1))
    init = st.InitialState(st.product(*[st.squeezed(f, float(rng.uniform(0, 1.5)), float(rng.uniform(0, 6)), x=float(rng.normal()), p=float(rng.normal())) for f in freqs]), T)
    obs = sorted(set(range(P)) | {P + int(rng.integers(0, M))})
    times = [0.0, 7.3, 40.0]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            c = dy.solve(net, init, method="chain", observe=obs, t_max=40.0)
            d = dy.solve(net, init, method="dense", observe=obs, t_max=40.0)
            mc, md = c.moments(times), d.moments(times)
    except Exception as e:
        print(seed, "EXC", type(e).__name__, str(e)[:100], flush=True); continue
    diff = max(np.abs(mc.cov - md.cov).max(), np.abs(mc.mean - md.mean).max())
    spec = chain_spectrum(net, tuple(obs), None)
    R = np.vstack([spec.a, spec.readout[P:]])
    gram = np.abs(R @ R.T - np.eye(R.shape[0])).max()
    worst_gram = max(worst_gram, gram)
    flag = "BAD" if diff > c.error_bound + d.error_bound else ""
    bad += bool(flag)
    if flag or gram > 1e-12 or seed % 20 == 0:
        print(seed, f"M={M} P={P} split={split:g} lam={lam:.2g} diff {diff:.2e} bounds {c.error_bound:.2e} {d.error_bound:.2e} gram {gram:.1e} {flag}", flush=True)
print("bad", bad, "worst gram", worst_gram)
