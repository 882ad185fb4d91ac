"""The error bound is honest and tight on soft and hot networks (issue 11, item 2), against the
mpmath reference (tests/reference_mp.py: σ(t) = S(t) σ(0) S(t)ᵀ from the typed parameters).

The bound (``Evolution.error_bound``, on every mean and covariance entry over the run) must
satisfy err ≤ bound ≤ 100·max(err, FLOOR·max|σ|), FLOOR·max|σ| the double-precision noise of a
covariance of that scale (tests/test_accuracy.py). Hot soft networks are where a normwise term
broke this: at T > 0 a soft mode's thermal variance T/μ_0 puts an eigenvalue ~T/Ω_0 into Δ (the
initial state's deviation from the coupled network's stationary state, in scaled normal
coordinates), and a roundoff term ~dim·ε·‖Δ‖ charged to every observed entry was 1000× the
error (solvers.lowrank.core_roundoff now bounds it componentwise, from the actual residual of
the core's eigendecomposition)."""

import numpy as np
import pytest

from conftest import random_probe_state
from harmosync import dynamics as dy
from harmosync import network as nw
from harmosync import states as st
from reference_mp import Reference
from test_accuracy import FLOOR, TIMES


def random_graph(rng, m: int, omega0: float, density: float) -> nw.Environment:
    """A connected random graph of m sites: a path plus each other bond with probability
    ``density`` (couplings 0.2–1.5), on-site Ω0 with up to two stiff sites (0.3–1.2)."""
    a = np.triu(rng.uniform(0.2, 1.5, (m, m)) * (rng.uniform(size=(m, m)) < density), 1)
    a[np.arange(m - 1), np.arange(1, m)] = rng.uniform(0.2, 1.5, m - 1)  # connected: a path
    onsite = np.full(m, omega0)
    onsite[rng.integers(0, m, int(rng.integers(0, 3)))] = rng.uniform(0.3, 1.2)
    return nw.graph(a + a.T, onsite)


def critical_scale(env, freqs, lam, plug, k) -> float:
    """The factor c such that strengths c·K put the network at its stability limit: V > 0 iff
    V_S − B V_E⁻¹ Bᵀ > 0 (Schur complement), and the Schur term scales as c²."""
    trial = nw.Probes(tuple(freqs), np.full((len(freqs),) * 2, lam) - np.diag([lam] * len(freqs)),
                      tuple((i, plug[i], float(k[i])) for i in range(len(freqs))))
    b = np.zeros((len(freqs), env.sites))
    for i, s, kk in trial.attachments:
        b[i, s - 1] += kk
    schur = b @ np.linalg.solve(env.potential(), b.T)
    top = np.max(np.linalg.eigvals(np.linalg.solve(trial.potential(), schur)).real)
    return 1.0 / np.sqrt(top) if top > 0 else np.inf


def soft_network(seed: int, kind: str):
    """A random network with a soft spectrum and its initial state: a free or fixed chain
    (``kind`` "chain") or a random graph ("graph") with on-site frequencies Ω_0 ∈ [1e-6, 1e-2]
    (log-uniform; on a graph, Ω_0 on every site but one or two sites stiff), 1–2 probes with
    strengths at 5–90% of the stability limit, and an environment at T = 0 or T ∈ [1e-3, 1]
    (log-uniform)."""
    rng = np.random.default_rng(1000 + seed)
    omega0 = 10 ** rng.uniform(-6, -2)
    if kind == "chain":
        m = int(rng.integers(8, 21))
        env = nw.chain(m, omega0, rng.uniform(0.5, 1.5), str(rng.choice(["free", "fixed"])))
    else:
        m = int(rng.integers(5, 13))
        env = random_graph(rng, m, omega0, 0.5)
    p = int(rng.integers(1, 3))
    freqs = rng.uniform(0.7, 1.5, p)
    lam = rng.uniform(0, 0.3) if p > 1 else 0.0
    plug = [int(s) for s in rng.integers(1, m + 1, p)]
    k = rng.choice([-1.0, 1.0], p) * rng.uniform(0.2, 1.0, p)
    k = k * rng.uniform(0.05, 0.9) * min(critical_scale(env, freqs, lam, plug, k), 1.0)
    net = nw.couple(env, nw.probes(freqs, lam, plug, list(k)))
    temperature = 0.0 if rng.uniform() < 0.3 else 10 ** rng.uniform(-3, 0)
    return net, st.InitialState(random_probe_state(seed, freqs), temperature)


def methods(net):
    env = net.environment
    chain = env.kind == "chain" and env.homogeneous_chain and env.boundary in ("fixed", "free")
    return ("dense", "chain") if chain else ("dense",)


def check(net, init, times=TIMES):
    ref_mean, ref_cov = Reference(net, init).moments(times)
    scale = float(np.abs(ref_cov).max())
    out = []
    for method in methods(net):
        sol = dy.solve(net, init, method=method, t_max=float(times[-1]))
        m = sol.moments(times)
        err = max(float(np.abs(m.cov - ref_cov).max()), float(np.abs(m.mean - ref_mean).max()))
        out.append((method, err, sol.error_bound, scale))
    return out


def assert_tight(err, bound, scale, limit=100):
    """Honest (err ≤ bound) and tight (bound ≤ limit·max(err, FLOOR·scale))."""
    assert err <= bound, (err, bound)
    assert bound <= limit * max(err, FLOOR * scale), (err, bound, scale)


#: (seed, kind) → the tightness these random networks reach, 100× elsewhere (none left). The soft
#: eigenvectors' term (softmodes.vector_roundoff) is componentwise now (it made seeds 2, 3, 9
#: 106–192×; now ≤ 2e-14 there); seed 9's chain path was left at 100.1× by the trig sums' phase
#: and summation errors over t ≤ 1000 (roundoff.evaluation_roundoff: 4.8e-11 of the bound
#: 5.5e-11, against an error of 3.1e-13), 87× (bound 4.8e-11) since the NUFFT's floor is charged
#: only when the NUFFT runs. What is left there is the worst case of a real mechanism (phases
#: 3ε·w·t and t·δw_k, all of one sign); its Σ_r |λ_r| Z_ar dZ_br also drops the cancellation
#: between Δ's eigenvectors, which the first-order form Σ_k θ_k|ũ_ak|·|(Δ̃ũ_b)_k| keeps
#: (Cauchy–Schwarz with Δ̃'s row norms, v_kΛGΛv_kᵀ, G = VᵀV, and the soft modes' Δ̃ columns):
#: 3.0e-11, bound 3.7e-11, 67× (a change in lowrank.py, not made)
LOOSER: dict = {}


@pytest.mark.parametrize("kind", ["chain", "graph"])
@pytest.mark.parametrize("seed", range(12))
def test_random_soft_networks_bound_is_honest_and_tight(seed, kind):
    """Seeded random soft networks (Ω_0 = 1e-6…1e-2, T = 0…1, free and fixed chains on the dense
    and chain paths, graphs on the dense path): err ≤ bound ≤ 100·max(err, 1e-13·max|σ|) over
    t = 0…1000 (LOOSER: the exceptions, with their numbers), err the largest deviation of any
    mean or covariance entry from mpmath."""
    net, init = soft_network(seed, kind)
    for method, err, bound, scale in check(net, init):
        assert_tight(err, bound, scale, limit=LOOSER.get((seed, kind), 100))


@pytest.mark.parametrize("omega0", [1e-5, 2.8e-6])
def test_hot_stress_chain_bound_is_tight(omega0):
    """Issue 11's hot stress chains (free, M = 18, one probe at site 9, K = 2Ω_0, T = 0.5): the
    bound was 1.4e-9 against errors ~1e-12 (ratio 700–1900, the normwise core roundoff), then
    1.7e-10 and 5e-10 (ratio 400–500: the soft eigenvector's first-order term, g(μ_0) ~ T/μ_0 =
    7e10 times the probe's weight 8e-7 times the normwise ‖P_H x̃‖ ≤ η/gap = 8e-17/0.03). With
    that term componentwise (|(P_H x̃)_a| on the probe's row: 1e-17, not 2.7e-15; softmodes.
    hard_components) the bound is 0.9e-11–1.7e-11 against errors 3e-13–2.6e-12: within 100×."""
    from test_soft_spectra import stress_chain

    net, init = stress_chain(omega0, 0.5)
    for method, err, bound, scale in check(net, init):
        assert_tight(err, bound, scale)


def factorised_delta(seed, soft_eig=1e5, tol=0.0):
    """A Δ = G K Gᵀ like low_rank_delta's with a hot soft mode: N = 30 modes, mode 0 soft (μ_0 =
    1e-10, its own exact column E, its core entries ~``soft_eig``, read out through a small r_0),
    8 smooth function columns F elsewhere; factorised as low_rank_delta does (QR per block, the
    core c = T K Tᵀ, its eigh, v = Q·V). Returns the readout bound ρ, the computed pieces and
    the exact Δ and computed Δ̃ in extended precision (2N × 2N, q then p coordinates); Δ̃ keeps
    the pairs with |λ| > ``tol``·max|λ| (low_rank_delta's rule)."""
    from harmosync.solvers import lowrank as lr

    rng = np.random.default_rng(seed)
    n, m0 = 30, 8
    mu = np.concatenate([[1e-10], np.sort(rng.uniform(0.05, 4.0, n - 1))])
    sw = np.sqrt(np.sqrt(mu))
    soft = np.array([0])
    f = np.stack([1.0 / (mu + z) for z in np.geomspace(0.1, 100, m0)], axis=1)
    f *= rng.normal(size=(n, 1))
    f[soft] = 0.0
    m = m0 + 1

    def sym(a):
        return 0.5 * (a + a.T)

    kx, kp = sym(rng.normal(size=(m, m))), sym(rng.normal(size=(m, m)))
    kqp = 0.1 * rng.normal(size=(m, m))
    # the soft mode's own column carries ~T/Ω_0 in c (scaled by √w_0² in q, by 1/√w_0² in p)
    kx[-1, -1], kp[-1, -1] = soft_eig / sw[0] ** 2, soft_eig * sw[0] ** 2
    kx[-1, :-1] = kx[:-1, -1] = 30 * rng.normal(size=m0) / sw[0]
    qx, tx = lr.orthogonal_factor(f, sw, soft)
    qp, tp = lr.orthogonal_factor(f, sw, soft, divide=True)
    c = np.block([[tx @ kx @ tx.T, tx @ kqp @ tp.T], [tp @ kqp.T @ tx.T, tp @ kp @ tp.T]])
    c = 0.5 * (c + c.T)
    lam, vec = np.linalg.eigh(c)
    keep = np.flatnonzero(np.abs(lam) > tol * np.abs(lam).max())
    split = qx.shape[1]
    vq, vp = qx @ vec[:split, keep], qp @ vec[split:, keep]
    r = rng.uniform(0.1, 1.0, n)
    r[soft] = 1e-6
    rho = r * np.maximum(1 / sw, sw)
    ld = np.longdouble
    e = np.zeros((n, 1))
    e[soft] = 1.0
    g = np.zeros((2 * n, 2 * m), ld)
    g[:n, :m] = (sw[:, None] * np.hstack([f, e])).astype(ld)
    g[n:, m:] = (np.hstack([f, e]) / sw[:, None]).astype(ld)
    k = np.block([[kx, kqp], [kqp.T, kp]]).astype(ld)
    v = np.vstack([vq, vp]).astype(ld)
    exact, used = g @ k @ g.T, (v * lam[keep].astype(ld)) @ v.T
    q = np.concatenate([rho @ np.abs(qx), rho @ np.abs(qp)])
    args = (rho, q, ((qx, tx, sw[:, None] * f), (qp, tp, f / sw[:, None])), (kx, kqp, kp),
            (c, lam, vec, keep), (vq, vp))
    return args, exact, used, lam, mu


@pytest.mark.parametrize("seed", range(4))
def test_core_roundoff_bounds_the_factorisation_error(seed):
    """lowrank.core_roundoff against the factorisation's actual error, Δ̃ − Δ with Δ = G K Gᵀ
    and Δ̃ = Σ λ_r v_r v_rᵀ both in extended precision: |u_aᵀ(Δ̃ − Δ)u_b| ≤ bound for readouts
    in the box |u| ≤ ρ (random signs, and the rotating readouts of x and p rows, (r/√w)(cos wt,
    sin wt) and r√w(−sin wt, cos wt)). With an eigenvalue ~1e5 on the soft column the normwise
    dim·ε·max|λ|·‖ρ‖² is ≥ 10× the componentwise bound, which stays within 100× of the largest
    error seen (or of 1e-13 of the largest readout of Δ itself)."""
    from harmosync.solvers import lowrank as lr

    args, exact, used, lam, mu = factorised_delta(seed)
    bound = lr.core_roundoff(*args)
    err = used - exact
    rho = args[0]
    n = rho.size
    rng = np.random.default_rng(seed)
    box = rng.choice([-1.0, 1.0], size=(400, 2 * n)) * np.concatenate([rho, rho])
    wt = np.sqrt(mu)[None, :] * rng.uniform(0, 1000, (200, 1))
    r = rho / np.maximum(1 / mu**0.25, mu**0.25)  # the readout row's |r_k|
    x_rows = np.hstack([r / mu**0.25 * np.cos(wt), r / mu**0.25 * np.sin(wt)])
    p_rows = np.hstack([-r * mu**0.25 * np.sin(wt), r * mu**0.25 * np.cos(wt)])
    pairs = [(box[:200], box[200:]), (x_rows, x_rows), (x_rows, p_rows), (p_rows, p_rows)]
    ld = np.longdouble

    def read(mat, ua, ub):
        return np.abs(np.einsum("ai,ij,aj->a", ua.astype(ld), mat, ub.astype(ld)).astype(float))

    seen = max(float(read(err, ua, ub).max()) for ua, ub in pairs)
    scale = max(float(read(exact, ua, ub).max()) for ua, ub in pairs[1:])
    assert seen <= bound, (seen, bound)
    eps = np.finfo(float).eps
    normwise = 4 * (lam.size + 8) * eps * float(np.abs(lam).max()) * float(rho @ rho)
    assert bound < 0.1 * normwise, (bound, normwise)
    assert bound <= 100 * max(seen, 1e-13 * scale), (seen, bound, scale)


@pytest.mark.parametrize("seed", range(4))
def test_core_roundoff_on_the_kept_pairs_alone_bounds_their_error(seed):
    """Session 17: with ``dropped`` given, core_roundoff may bound Δ̃ = Σ_kept λ_r v_r v_rᵀ by the
    kept pairs' residual V_kΛ_kV_kᵀ − c alone (the dropped pairs in it exactly). ``dropped`` = ∞
    forces that form: against Δ̃ − Δ in extended precision, a hot soft column (core entries ~1e9)
    whose eigh leaves noise pairs ~ε·1e9 on the other columns, dropped at 1e-12·max|λ|; the
    bound with the true dropped-pair bound is the smaller of the two forms."""
    from harmosync.solvers import lowrank as lr

    args, exact, used, lam, mu = factorised_delta(seed, soft_eig=1e9, tol=1e-12)
    assert args[4][3].size < lam.size  # some pairs are dropped
    kept_only = lr.core_roundoff(*args, dropped=np.inf)
    full = lr.core_roundoff(*args)
    assert lr.core_roundoff(*args, dropped=1.0) == min(full + 1.0, kept_only)
    rho = args[0]
    n = rho.size
    rng = np.random.default_rng(seed)
    # readouts as the bound takes them: each mode's (q, p) of norm ρ_k (review s17: the ±ρ box on
    # q and p apart is √2 larger, and reached 1.07 of this bound on another seed)
    box = rng.choice([-1.0, 1.0], size=(400, 2 * n)) * np.concatenate([rho, rho]) / np.sqrt(2)
    ld = np.longdouble
    err = used - exact
    seen = float(np.abs(np.einsum("ai,ij,aj->a", box[:200].astype(ld), err, box[200:].astype(ld))).max())
    assert seen <= kept_only, (seen, kept_only)


def soft_vectors_seen(net, init, method):
    """(mu, mu_error, residual, readout) as solve hands them to softmodes.vector_roundoff, every
    oscillator observed (the readout's columns are then the refined soft vectors x̃_k entire)."""
    from harmosync.dynamics import normal_modes as nm

    got = {}
    orig = nm.vector_roundoff

    def capture(mu, mu_err, res, readout, temperature=0.0):
        got["args"] = (mu, mu_err, res, readout)
        return orig(mu, mu_err, res, readout, temperature)

    nm.vector_roundoff = capture
    try:
        dy.solve(net, init, method=method, observe=range(net.size), t_max=10.0)
    finally:
        nm.vector_roundoff = orig
    return got["args"]


SOFT_CASES = {"stress Ω0=2.8e-6, T=0.5": lambda: __import__("test_soft_spectra").stress_chain(2.8e-6, 0.5),
              "chain 2": lambda: soft_network(2, "chain"), "chain 9": lambda: soft_network(9, "chain"),
              "graph 4": lambda: soft_network(4, "graph")}


@pytest.mark.parametrize("case", list(SOFT_CASES))
def test_soft_vectors_hard_part_is_bounded_componentwise(case):
    """softmodes.hard_rows against 40-digit eigenvectors u_l of V from the parameters: the
    refined soft vector's part outside the exact soft span, z_k = P_H x̃_k = x̃_k − Σ_{j∈S} u_j
    (u_jᵀx̃_k), entry by entry on every row, is ≤ the bound and within 100× of it (measured
    2–42×), while the normwise ‖z_k‖ ≤ η_k/gap_H that vector_roundoff used before is 10⁵–10⁹×
    above it on the probes' rows (the hot soft chains' bound was 400× the error for that)."""
    import mpmath as mp

    from harmosync.solvers import softmodes as sm
    from reference_mp import potentials_mp

    net, init = SOFT_CASES[case]()
    mp.mp.dps = 40
    lam, u = mp.eigsy(potentials_mp(net)[0])
    order = sorted(range(net.size), key=lambda i: lam[i])
    for method in methods(net):
        args = soft_vectors_seen(net, init, method)
        readout = args[3]
        geo = sm.soft_geometry(*args)
        bound = sm.hard_rows(geo)
        z = np.zeros_like(bound)
        for c, k in enumerate(geo.modes):
            x = mp.matrix([mp.mpf(float(a)) for a in readout[:, k]])
            for j in geo.modes:
                uj = u[:, order[j]]
                x = x - mp.fsum(uj[i] * readout[i, k] for i in range(net.size)) * uj
            z[:, c] = [abs(float(x[i])) for i in range(net.size)]
        assert np.all(z <= bound), (method, z, bound)
        assert np.all(bound.max(axis=0) <= 100 * z.max(axis=0)), (method, z.max(axis=0), bound.max(axis=0))
        probes = bound[:net.n_probes].max(axis=0)
        assert np.all(probes <= 1e-4 * geo.s_h), (method, probes, geo.s_h)
