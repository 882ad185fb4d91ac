"""Review of session 9 (issue 11, degenerate soft clusters): attempts to break the cluster
enclosures (solvers.softgeometry.cluster_enclose), the stationary part's cluster terms
(solvers.softmodes.vector_roundoff) and the dense path's clustered Rayleigh errors and V_E's near
modes (dynamics.spectrum), each against an independent computation:

- eigenvalues: |μ̃_k − λ_k| ≤ e_k with λ_k the 50-digit eigenvalues of V built from the
  parameters (reference_mp.potentials_mp), compared in mpmath, not against λ rounded to double;
- whole solves: the 40-digit reference (tests/reference_mp.Reference); err = the largest
  |mean − ref|, |σ − ref| over the times and observed entries. Honest: err ≤ error_bound.
  Tight: error_bound ≤ 100·max(err, 1e-13·max|σ|) (issue 11, "within about 100×").

Attacks that held are plain tests. The weaknesses found are strict xfails, each with its
reproducer and the numbers measured on branch s9 (commit acdcbd1) and, where it differs, before
session 9 (dfad653). No attack found a dishonest bound, a crash or a traceback.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from reference_mp import Reference, potentials_mp

import harmosync.dynamics as dy
import harmosync.network as nw
import harmosync.states as st
from harmosync.dynamics.spectrum import dense_spectrum
from harmosync.solvers.softgeometry import unit_gram_defect
from harmosync.solvers.softmodes import vector_roundoff
from harmosync.solvers.stieltjes import variance_function


def _edges(n, edges):
    """The coupling matrix (n × n) with A_jk = A_kj = a for (j, k, a) in ``edges`` (0-based)."""
    a = np.zeros((n, n))
    for j, k, x in edges:
        a[j, k] = a[k, j] = x
    return a


def _complete(n, g):
    return _edges(n, [(j, k, g) for j in range(n) for k in range(j + 1, n)])


def _hypercube(d, g):
    return _edges(2**d, [(i, i ^ (1 << b), g) for i in range(2**d) for b in range(d) if i < i ^ (1 << b)])


def _chain(m, g):
    return _edges(m, [(j, j + 1, g) for j in range(m - 1)])


def _twins(sub, bridge):
    """Two copies of the graph ``sub`` side by side, their first sites joined by ``bridge``."""
    m = sub.shape[0]
    a = np.zeros((2 * m, 2 * m))
    a[:m, :m] = a[m:, m:] = sub
    a[0, m] = a[m, 0] = bridge
    return a


def _measure(net, initial, observe, times, method="dense"):
    """(err, error_bound, 1e-13·max|σ|) of ``method`` against the 40-digit reference."""
    ref_mean, ref_cov = Reference(net, initial, observe=observe).moments(times)
    sol = dy.solve(net, initial, method=method, observe=observe, t_max=float(max(times)))
    m = sol.moments(times)
    err = max(float(np.abs(m.cov - ref_cov).max()), float(np.abs(m.mean - ref_mean).max()))
    return err, sol.error_bound, 1e-13 * float(np.abs(ref_cov).max())


def _measure_near_horizon(net, initial, observe, times, count=400, method="dense"):
    """:func:`_measure` with ``count`` more times evenly over [0.9, 1]·t_max: the bound covers
    every |t| ≤ t_max, and the phase errors it charges (~ε·w·t) oscillate with t, so a few times
    can all land near their zeros (docs/conventions.md, "How tightness is measured")."""
    t_max = float(max(times))
    grid = np.union1d(np.asarray(times, float), np.linspace(0.9 * t_max, t_max, count))
    return _measure(net, initial, observe, grid, method)


def _eigenvalue_errors(net, mu, dps=50):
    """|μ̃_k − λ_k| in ``dps`` digits, λ_k the sorted eigenvalues of V from the parameters."""
    with mp.workdps(dps):
        lam = sorted(mp.eigsy(potentials_mp(net)[0], eigvals_only=True))
        return np.array([float(abs(mp.mpf(float(m)) - x)) for m, x in zip(mu, lam)])


# ----------------------------------------------------------------------------------------------
# Eigenvalue enclosures (cluster_enclose, rayleigh_errors)
# ----------------------------------------------------------------------------------------------
def _level(a, om0):
    return om0**2 + float(np.max(np.linalg.eigvalsh(np.diag(a.sum(1)) - a)))


#: (coupling matrix, on-site Ω (scalar or per site), probe ω, its site, K)
ENCLOSURE_CASES = {
    # K7: a 6-fold degenerate level Ω0² + 7g, soft beside ω = 1 (split by K only where plugged)
    "complete7_soft": (_complete(7, 1e-5), 1e-3, 1.0, 2, 1e-6),
    "complete7_stiff": (_complete(7, 1.0), 0.5, 2.0, 1, 0.0),
    # Q3: levels 0, 2g, 4g, 6g (+Ω0²) with multiplicities 1, 3, 3, 1
    "hypercube3": (_hypercube(3, 1e-4), 1e-3, 1.0, 1, 1e-5),
    # two identical chains bridged by 1e-30 (a split far below ε·μ) and by 1e-14
    "twins_bridge_1e-30": (_twins(_chain(3, 1e-3), 1e-30), 1e-3, 1.0, 2, 1e-4),
    "twins_bridge_1e-14": (_twins(_chain(3, 1e-3), 1e-14), 1e-3, 1.0, 2, 1e-4),
    # a star's degenerate leaves split by two tiny leaf–leaf bonds (5e-21 and 5e-17 relative to their level)
    "star_split_leaves": (_edges(6, [(0, j, 1e-4) for j in range(1, 6)] + [(1, 2, 1e-24), (3, 4, 1e-20)]),
                          1e-2, 1.0, 1, 1e-6),
    # six identical isolated sites, and a seventh 1e-12 (relative, in Ω²) above them
    "isolated_with_neighbour": (np.zeros((7, 7)), [3e-3] * 6 + [3e-3 * (1 + 5e-13)], 1.0, 1, 1e-9),
}


@pytest.mark.parametrize("name", list(ENCLOSURE_CASES))
def test_cluster_enclosures_hold_the_50_digit_eigenvalues(name):
    """|μ̃_k − λ_k| ≤ e_k (the Kahan subspace / Li–Li enclosures of every clustered group, and
    the per-mode ones elsewhere) for exactly and nearly degenerate clusters of 2–6 modes, soft and
    stiff, beside another mode. Measured: max err/e 0.19–0.999 here, ≤ 0.99999 over 700 random
    such networks (complete graphs, hypercubes, rings, stars, isolated sites, twin subgraphs with
    bridges 1e-34 – 1e-10, neighbours 1e-15 – 1e-8 away)."""
    a, om0, w, site, k = ENCLOSURE_CASES[name]
    net = nw.couple(nw.graph(a, om0), nw.probes((w,), 0.0, [[site]], [[k]]))
    spec = dense_spectrum(net, (0,), None)
    e = np.broadcast_to(spec.mu_error, spec.mu.shape)
    assert np.all(_eigenvalue_errors(net, spec.mu) <= e)


def _rotate(x, i, j, angle):
    c, s = np.cos(angle), np.sin(angle)
    x[:, [i, j]] = x[:, [i, j]] @ np.array([[c, -s], [s, c]])


def _rotated_cluster(seed):
    """V = Q diag(λ) Qᵀ (exact eigenbasis Q): a soft cluster of 2–4 modes at λ_c ∈ [1e-9, 1e-6]
    split by 0 – 1e-4 (relative), soft neighbours 1e-6 – 1e-1 (relative) away, stiff modes 0.5 – 4.
    The computed basis X̃ = Q rotated by a random O(1) orthogonal matrix inside the cluster (any
    basis of it is exact when unsplit), by 1e-13 – 1e-9 between soft and stiff columns and by
    ≤ 1e-10 between the cluster and a neighbour. Inputs as soft_mode_errors makes them: η_k, t_k ≥
    ‖X̃_{S∖k}ᵀr_k‖ over all the other soft columns, the cluster's label and Gram defect, and
    enclosures |ρ_k − λ_k| (+ the cluster's spread on its members, so that they overlap).
    Returns the largest |[X̃ f(Λ) X̃ᵀ − Q f(Λ) Qᵀ]_ab| (f = g, μg) on three rows and
    vector_roundoff/3."""
    rng = np.random.default_rng(seed)
    size, base = int(rng.integers(2, 5)), 10 ** rng.uniform(-9, -6)
    split = float(rng.choice([0.0, 1e-12, 1e-9, 1e-7, 1e-5, 1e-4]))
    cluster = base * (1 + split * np.sort(rng.uniform(0, 1, size)))
    others = [base * (1 + 10 ** rng.uniform(-6, -1) * rng.choice([-1, 1])), base * 10 ** rng.uniform(-1.5, -0.3)]
    soft = np.sort(np.concatenate([cluster, others[:int(rng.integers(0, 3))]]))
    lam = np.concatenate([soft, np.linspace(0.5, 4.0, 5)])
    n, s, members = lam.size, soft.size, np.flatnonzero(np.isin(soft, cluster))
    q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    x = q.copy()
    x[:, members] = x[:, members] @ np.linalg.qr(rng.standard_normal((size, size)))[0]
    for i in range(s):
        _rotate(x, i, int(rng.integers(s, n)), 10 ** rng.uniform(-13, -9))
    if s > size:
        _rotate(x, int(rng.choice(np.setdiff1d(np.arange(s), members))), int(members[0]), 10 ** rng.uniform(-14, -10))
    v = (q * lam) @ q.T
    rho = np.einsum("ij,ij->j", x, v @ x)
    res = v @ x[:, :s] - x[:, :s] * rho[:s]
    other = x[:, :s].T @ res
    np.fill_diagonal(other, 0.0)
    eta, t, label, gram = np.zeros(n), np.zeros(n), np.arange(n), np.zeros(n)
    eta[:s] = np.linalg.norm(res, axis=0) * (1 + 1e-9) + 1e-30
    t[:s] = np.linalg.norm(other, axis=0) * (1 + 1e-9) + 1e-30
    e = np.abs(rho - lam) * (1 + 1e-9) + 1e-30
    e[members] += np.ptp(cluster)
    label[members], gram[members] = members[0], unit_gram_defect(x[:, members])
    rows = sorted({int(k) for k in rng.integers(0, n, 3)})
    temperature = float(rng.choice([0.0, 1e-3, 0.5]))
    g = variance_function(lam, temperature)
    err = max(np.abs(((x * f) @ x.T - (q * f) @ q.T)[np.ix_(rows, rows)]).max() for f in (g, g * lam))
    return err, vector_roundoff(rho, e, np.array([eta, t, label, gram]), x[rows], temperature) / 3


@pytest.mark.parametrize("seed", range(40))
def test_vector_roundoff_covers_rotated_clusters_of_two_to_four(seed):
    """The stationary part's eigenvector term against the exact basis Q (_rotated_cluster): honest
    on every case (measured err/bound ≤ 0.48 over 1,500 seeds of this generator, ≤ 0.40 over
    3,500 draws of a variant)."""
    err, bound = _rotated_cluster(seed)
    assert err <= bound


# ----------------------------------------------------------------------------------------------
# Whole solves that held: honest and within 100×
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bridge", [0.0, 1e-26, 1e-20, 1e-16, 1e-12])
@pytest.mark.parametrize("k", [0.0, 1e-4])
def test_twin_chains_split_by_a_bridge_are_honest_and_tight(bridge, k):
    """Two identical soft chains (3 sites, g = Ω0 = 1e-3) bridged by 1e-26 … 1e-12 (splits of
    their pairs from far below to far above ε·μ), identical probes (ω = 1) on the twin sites 1
    and 4 (K = 0: unplugged), T = 0, a probe and a site of each chain observed, t up to 1e4:
    err ≤ bound ≤ 100·max(err, 1e-13·max|σ|) (measured ratios 0.5–37)."""
    net = nw.couple(nw.graph(_twins(_chain(3, 1e-3), bridge), 1e-3),
                    nw.probes((1.0, 1.0), 0.0, [[1], [4]], [[k], [k]]))
    init = st.InitialState(st.product(st.coherent(1.0, 1.0, 0.0), st.coherent(1.0, 0.0, 0.5)), 0.0)
    err, bound, floor = _measure(net, init, [0, 2, 5, 4], [0.0, 100.0, 1e4])
    assert err <= bound <= 100 * max(err, floor)


#: soft graphs with large degenerate clusters: (coupling matrix, Ω0, probe site)
CLUSTER_GRAPHS = {
    "complete5": (_complete(5, 1e-4), 1e-3, 1),
    "complete6": (_complete(6, 1e-5), 1e-3, 2),
    "hypercube3": (_hypercube(3, 1e-4), 1e-3, 1),
    "isolated6": (np.zeros((6, 6)), 1e-3, 2),
}


@pytest.mark.parametrize("temperature", [0.0, 0.5])
@pytest.mark.parametrize("name", list(CLUSTER_GRAPHS))
def test_large_soft_clusters_are_honest_and_tight(name, temperature):
    """Complete graphs (a 4- and 5-fold level), the 3-cube and six isolated sites, Ω0 = 1e-3, a
    probe ω = 1 at K = 1e-5, a probe and two sites observed to t = 1000 (measured ratios
    0.15–0.34: the bound sits below the 1e-13·max|σ| floor)."""
    a, om0, site = CLUSTER_GRAPHS[name]
    net = nw.couple(nw.graph(a, om0), nw.probes((1.0,), 0.0, [[site]], [[1e-5]]))
    init = st.InitialState(st.product(st.squeezed(1.0, 0.0, 0.3, x=1.0, p=0.2)), temperature)
    err, bound, floor = _measure(net, init, [0, 1, 2], [0.0, 30.0, 1000.0])
    assert err <= bound <= 100 * max(err, floor)


def test_a_hot_soft_level_beside_a_degenerate_cluster_is_honest():
    """The closest call found (err/bound 0.935, over 800 random tries of this family): K4
    (g = 3.75e-7, Ω0 = 4.6e-5) and an isolated site 1.2e-9 (relative) below its 3-fold level,
    T = 0.19, two sites observed. The error, 2.37e-5 at t = 0 on ⟨X²⟩ = 2.2e7 (1e-12 relative: V_E's
    soft mode), is what environment_roundoff bounds to first order (2.372e-5: the bound is
    essentially exact there, the other terms add 4%)."""
    nd, g, om0, rel = 4, 3.754719648418772e-07, 4.625592813280778e-05, -1.2426474421798554e-09
    a = np.pad(_complete(nd, g), ((0, 1), (0, 1)))
    onsite = np.append(np.full(nd, om0), np.sqrt((om0**2 + nd * g) * (1 + rel)))
    w = 0.03942347709590903
    net = nw.couple(nw.graph(a, onsite), nw.probes((w,), 0.0, [[2]], [[3.0422678959913853e-06]]))
    init = st.InitialState(st.product(st.squeezed(w, 0.0, 0.0, x=1.0, p=0.0)), 0.1894866625890619)
    err, bound, floor = _measure(net, init, [2, 4], [0.0, 105.91139191152499, 47253.56717551663])
    assert 0.5 * bound <= err <= bound  # honest, and the error is really there (not a floor)


@pytest.mark.parametrize("boundary", ["fixed", "free"])
def test_solve_many_with_identical_symmetric_probes_is_honest_and_tight(boundary):
    """solve_many on one soft chain (M = 10, Ω0 = 1e-3, g = 1): identical probes (ω = 0.02,
    K = 1e-6) at the mirror sites (1, 10), (2, 9) and both at site 3 (an exactly decoupled
    degenerate pair), T = 0, squeezed (measured ratios 11–27)."""
    env = nw.chain(10, 1e-3, 1.0, boundary)
    w = 0.02
    nets = [nw.couple(env, nw.probes((w, w), 0.0, sites, [[1e-6], [1e-6]]))
            for sites in ([[1], [10]], [[2], [9]], [[3], [3]])]
    init = st.InitialState(st.product(st.squeezed(w, 1.0, 0.3, x=1.0, p=0.0), st.coherent(w, 0.0, 0.5)), 0.0)
    times = [0.0, 10.0, 3e3]
    for net, sol in zip(nets, dy.solve_many(nets, init, t_max=times[-1])):
        ref_mean, ref_cov = Reference(net, init).moments(times)
        m = sol.moments(times)
        err = max(float(np.abs(m.cov - ref_cov).max()), float(np.abs(m.mean - ref_mean).max()))
        assert err <= sol.error_bound <= 100 * max(err, 1e-13 * float(np.abs(ref_cov).max()))


# ----------------------------------------------------------------------------------------------
# Weaknesses found: strict xfails (each honest; the bound is more than 100× the error)
# ----------------------------------------------------------------------------------------------
#: identical probes at mirror sites of a homogeneous chain (fuzz of this review, seeds 68 and 25)
SYMMETRIC_CHAINS = {
    "free_M6": ((6, 0.001703938244383018, 5.46799042987074, "free"), 0.12488895779413174,
                ([2], [5]), 1.380432951225072e-09, (0.0, 1.0160988465227117), [0, 2, 4],
                [0.0, 1.0, 23233.493876657987, 69700.48162997396]),
    "fixed_M14": ((14, 0.005099941922106813, 6.753102543529425, "fixed"), 0.05423114396527977,
                  ([3], [12]), 2.6799563702326248e-09, (0.0, 0.0), [0, 13],
                  [0.0, 1.0, 5700.411652143069, 17101.234956429205]),
}


def _symmetric_chain(name):
    chain, w, sites, k, rs, observe, times = SYMMETRIC_CHAINS[name]
    net = nw.couple(nw.chain(*chain), nw.probes((w, w), 0.0, list(sites), [[k], [k]]))
    init = st.InitialState(st.product(*(st.squeezed(w, r, 0.4, x=1.0, p=-0.3) for r in rs)), 0.0)
    return net, init, observe, times


@pytest.mark.parametrize("name", list(SYMMETRIC_CHAINS))
def test_identical_mirror_probes_dense_is_tight(name):
    """The dense path, whose degenerate probe pair is now one cluster: ratios 18 (free_M6) and 7
    (fixed_M14); before session 9 5.4e3 and 4.6e4."""
    err, bound, floor = _measure(*_symmetric_chain(name))
    assert err <= bound <= 100 * max(err, floor)


@pytest.mark.parametrize("name", list(SYMMETRIC_CHAINS))
def test_identical_mirror_probes_chain_is_tight(name):
    """method="chain" on the same networks (err 7.9e-12, 2.8e-11): was a strict xfail, bound
    5.3e-8 and 8.4e-8 (ratios 6.65e3 and 3.03e3), dominated by means_roundoff with Weyl-like μ
    errors 9.5e-14 on the pair. The pair is now one cluster in arrowhead_errors too (columns
    x_k = (a_k, ŷ_k)): bound 4.3e-11 and 3.7e-11 (ratios 5.4 and 1.3), the pair's enclosures
    3.1e-17 and 3.7e-17 against 50-digit errors 2.1e-17 and 3.5e-17."""
    net, init, observe, times = _symmetric_chain(name)
    err, bound, floor = _measure(net, init, observe, times, method="chain")
    assert err <= bound
    assert bound <= 100 * max(err, floor)


# FIXED (session 9, after this review): every V_E mode now gets a posteriori errors (rayleigh_errors)
# instead of Weyl's 8ε‖V_E‖ above ENV_NEAR = 1e-2·max d: 212× → 11×.
def test_hot_near_critical_complete_graph_is_tight():
    """K3 (g = 5.6e-6, Ω0 = 1.05e-3), two probes (ω = 0.37, 0.011) both at site 1 at 1 − 2e-6 of the
    stability limit, T = 7.5, the second probe squeezed r = 5: err 20.7, bound 4.4e3 (ratio 212;
    dfad653: 210, the 10×-miss floor, ratio 10). environment_roundoff alone is 1.2e-4 at t_max = 100
    against a floor of 5.8e-6: every V_E mode now carries an error into environment_roundoff
    (before: none without soft V_E modes), a posteriori only below ENV_NEAR·max d (none here: d =
    1.1e-6, 1.8e-5 ×2), Weyl's 8ε‖V_E‖ for the rest, fed through Δ at T = 7.5 (g′ ~ T/x²). With
    ENV_NEAR = 1.1 (a posteriori errors for every V_E mode; monkeypatched then, the code's now) the bound
    is 228, ratio 11."""
    a = _complete(3, 5.580253264443068e-06)
    pr = nw.probes((0.37076521361627385, 0.01118824463700623), 0.0, [[1], [1]],
                   [[-1.9221849454422917e-05], [-1.9221849454422917e-05]])
    net = nw.couple(nw.graph(a, 0.001052113092246784), pr)
    init = st.InitialState(st.product(
        st.squeezed(0.37076521361627385, 0.0, 3.549442834019797, x=-0.230502495936821, p=-1.0765033549811727),
        st.squeezed(0.01118824463700623, 5.0, 4.762832827136902, x=0.985756454381405, p=-0.6826579474245691)),
        7.4619806809102665)
    err, bound, floor = _measure(net, init, [0, 1, 4], [0.0, 1.0, 1148747.2807975446, 3446241.8423926337])
    assert err <= bound
    assert bound <= 100 * max(err, floor)


def test_unplugged_squeezed_probe_beside_isolated_sites_is_tight():
    """Three identical isolated sites (Ω0 = 0.045, an exactly degenerate triple; ∞ before session
    9) and an unplugged probe ω = 5.1 squeezed r = 2.06, T = 1.1e-3, t up to 1.3e4: bound 2.3e-8,
    all of it evaluation_roundoff (the trig sums' phase term ~ε·w·t·max|σ|). Was a strict xfail
    (session 9 to 11): at the four times 0, 1, t_max/3, t_max the error is 4.9e-12 (1.55e3×), but
    the bound is for every |t| ≤ t_max, and over 400 more times in [0.9, 1]·t_max the error
    reaches 5.6e-10 (the rounded phase w·t, ~ε·6.5e4 rad, times σ_pp ~ 150): 40×."""
    w = 5.09858281550003
    net = nw.couple(nw.graph(np.zeros((3, 3)), 0.0453943508637971), nw.probes((w,), 0.0, [[3]], [[0.0]]))
    init = st.InitialState(st.product(st.squeezed(w, 2.0576132410155243, 0.14234233788479073,
                                                  x=-0.16308453478572035, p=1.5989748896130742)), 0.0011230728668716345)
    err, bound, floor = _measure_near_horizon(net, init, [0, 2, 3], [0.0, 1.0, 4265.760313718363, 12797.28094115509])
    assert err <= bound
    assert bound <= 100 * max(err, floor)


# FIXED (session 17): evaluation_roundoff's phase part through Δ's hot rows less their isotropic
# part (roundoff._isotropic_phase): 7.6e-8 → 5.7e-10; the divided differences of f_s and f_k by
# √(x² + 1) (2× on f_s): vector_term 1.54e-9 → 1.01e-9. Bound 7.7e-8 → 1.65e-9: 4.6e3× → 98×.
def test_hot_complete_graph_with_identical_probes_is_tight():
    """K5 (g = 1, Ω0 = 0.265: a 4-fold stiff level), identical probes ω = 0.305 at sites 2 and 4
    (K = 2.9e-5), T = 9.7, t up to 8.2e4: err 1.5e-11 at the four times, bound 2.2e-7 when
    found (vector_term 1.3e-7, evaluation_roundoff 8.6e-8), 7.7e-8 at session 12; over 400 more
    times near t_max the error reaches 1.7e-11: 4.6e3×. Most of it was evaluation_roundoff's
    phase term on the probes' modes, where Δ ≈ −ν I (ν ≈ T/w ≈ 32 against a probe state ~1): a
    phase error rotates each mode's plane and leaves that part as it is. Now 1.65e-9 (98×)."""
    w = 0.3046225835587865
    net = nw.couple(nw.graph(_complete(5, 1.0), 0.26502541784282535),
                    nw.probes((w, w), 0.0, [[2], [4]], [[2.8715925424775696e-05], [2.8715925424775696e-05]]))
    init = st.InitialState(st.product(
        st.squeezed(w, 0.5243051030329108, 0.7, x=0.17856311932304658, p=-2.0088506602216594),
        st.squeezed(w, 0.0, 0.7, x=-0.934805341868265, p=-1.703094052958168)), 9.708115984925014)
    err, bound, floor = _measure_near_horizon(net, init, [0, 2, 3], [0.0, 1.0, 27167.53805648207, 81502.61416944621])
    assert err <= bound
    assert bound <= 100 * max(err, floor)


def _isolated_with_twin_probes(om0, k):
    """Four identical isolated sites Ω0 and identical probes ω = 1 at sites 1 and 2 with strength
    K: two exactly degenerate soft pairs, (probe i, site i) at Ω0² − ~K² and the bare sites 3, 4
    at Ω0² (K = 0: one 4-fold level)."""
    return nw.couple(nw.graph(np.zeros((4, 4)), om0), nw.probes((1.0, 1.0), 0.0, [[1], [2]], [[k], [k]]))


def test_isolated_sites_one_degenerate_level_is_honest():
    """K = 0: the four sites form one cluster, finite and honest (∞ before session 9)."""
    net = _isolated_with_twin_probes(1e-7, 0.0)
    init = st.InitialState(st.product(st.coherent(1.0, 1.0, 0.0), st.coherent(1.0, 0.0, 0.5)), 0.0)
    err, bound, floor = _measure(net, init, [0, 2], [0.0, 100.0])
    assert err <= bound <= 100 * max(err, floor)


# FIXED (session 9, after this review): the groups are certified together (cluster_enclose: hulls
# apart from one another and from the rest's enclosures hold exactly their own eigenvalues).
@pytest.mark.parametrize("om0", [1e-5, 1e-7])
@pytest.mark.parametrize("observe", [[0, 1], [0, 2]])
def test_two_adjacent_degenerate_pairs_get_a_finite_bound(om0, observe):
    """K = 1e-9 splits the 4-fold level into two exact pairs 1e-18 apart (1e-8 relative at Ω0 =
    1e-5). Each pair has residuals ~1e-25 and is a cluster, but cluster_enclose certifies a group
    only where the other modes' enclosures stay clear of it (left < lo − r, hi + r < right), and
    the other pair's enclosures are still the per-mode fallback (Weyl, 1.8e-15 ≫ 1e-18): each
    pair blocks the other, both keep e = 1.8e-15 and vector_roundoff returns ∞ (eigen_roundoff
    alone 3.6e6 at Ω0 = 1e-7). Measured: err 7.3e-12 (Ω0 = 1e-5, probe and site), 6.1e-15 (the
    probes), 1.1e-16 (Ω0 = 1e-7); error_bound ∞ in all, at T = 0 and 1e-3, and before session 9."""
    net = _isolated_with_twin_probes(om0, 1e-9)
    init = st.InitialState(st.product(st.coherent(1.0, 1.0, 0.0), st.coherent(1.0, 0.0, 0.5)), 0.0)
    err, bound, floor = _measure(net, init, observe, [0.0, 100.0])
    assert err <= bound
    assert bound <= 100 * max(err, floor)


def _two_rings(om0, rel):
    """Two rings of 4 (g = 1e-4) with on-site Ω0 and Ω0·(1 + rel), a probe ω = 1 at site 1, K = 1e-7."""
    a = np.zeros((8, 8))
    a[:4, :4] = a[4:, 4:] = _edges(4, [(j, (j + 1) % 4, 1e-4) for j in range(4)])
    return nw.couple(nw.graph(a, [om0] * 4 + [om0 * (1 + rel)] * 4), nw.probes((1.0,), 0.0, [[1]], [[1e-7]]))


@pytest.mark.parametrize("om0", [0.0099, 0.0101])
def test_two_nearly_equal_rings_are_tight(om0):
    """Two rings whose levels differ by 2e-12 (relative), their lowest pair below or above the
    soft cut SOFT·max μ = 1e-4: ratio 10."""
    init = st.InitialState(st.product(st.coherent(1.0, 1.0, 0.0)), 0.0)
    err, bound, floor = _measure(_two_rings(om0, 1e-12), init, [0, 1, 5], [0.0, 100.0])
    assert err <= bound <= 100 * max(err, floor)


# FIXED (session 9, after this review): soft_modes takes in any mode within 1e-6 (relative) of the
# highest soft one, so that a nearly degenerate pair is refined whole.
@pytest.mark.parametrize("rel", [1e-12, 1e-8])
def test_a_pair_straddling_the_soft_cut_is_tight(rel):
    """Ω0 = 0.01 puts the rings' uniform modes at μ = 1e-4·(1 − ~1e-10) and 1e-4·(1 + 2·rel): the
    first is soft (η = 6e-21), the second, 2e-16 away, is not. The enclosures hold (1e-19), but
    vector_roundoff's hard angle s_h = η/gap_H = 2.4e-6 makes it 3.9e-4 against an error of
    6.5e-12 (rel 1e-12; 5.3e-7 at rel 1e-8). Unchanged since dfad653."""
    init = st.InitialState(st.product(st.coherent(1.0, 1.0, 0.0)), 0.0)
    err, bound, floor = _measure(_two_rings(0.01, rel), init, [0, 1, 5], [0.0, 100.0])
    assert err <= bound
    assert bound <= 100 * max(err, floor)
