"""Review s9b: break tests of session 9's late error-bound changes (since acdcbd1; issue 11).

Eigenvalue enclosures against λ of V from the parameters (tests/reference_mp.potentials_mp, 50
digits, not λ rounded to double); whole solves against tests/reference_mp.Reference (40 digits):
honest err ≤ error_bound, and tight error_bound ≤ 100·max(err, 1e-13·max|σ|) (issue 11, item 2).
Findings are strict xfails with their numbers; the attacks that held pass.
"""

from __future__ import annotations

import time

import mpmath as mp
import numpy as np
import pytest
from reference_mp import Reference, potentials_mp

import harmosync.dynamics as dy
import harmosync.network as nw
import harmosync.states as st
from harmosync.dynamics.spectrum import chain_spectrum, dense_spectrum
from harmosync.solvers.lowrank import soft_modes
from harmosync.solvers.roundoff import enclose
from harmosync.solvers.stieltjes import MATSUBARA_MAX, variance_function, variance_rule


def _chain_graph(m, g):
    a = np.zeros((m, m))
    for j in range(m - 1):
        a[j, j + 1] = a[j + 1, j] = g
    return a


def _rings(omegas, g=1e-4):
    """Disjoint rings of 4 (bond g), ring r with on-site frequency omegas[r]."""
    n = len(omegas)
    a = np.zeros((4 * n, 4 * n))
    for r in range(n):
        for j in range(4):
            a[4 * r + j, 4 * r + (j + 1) % 4] = a[4 * r + (j + 1) % 4, 4 * r + j] = g
    return a


def _eigenvalue_errors(net, mu, dps=50):
    with mp.workdps(dps):
        lam = sorted(mp.eigsy(potentials_mp(net)[0], eigvals_only=True))
        return np.array([float(abs(mp.mpf(float(m)) - x)) for m, x in zip(mu, lam)])


def _measure(net, initial, observe, times, method="dense"):
    """(err, error_bound, 1e-13·max|σ|, cpu seconds of the solve) against the 40-digit reference."""
    ref_mean, ref_cov = Reference(net, initial, observe=observe).moments(times)
    t0 = time.process_time()
    sol = dy.solve(net, initial, method=method, observe=observe, t_max=float(max(times)))
    m = sol.moments(times)
    cpu = time.process_time() - t0
    err = max(float(np.abs(m.cov - ref_cov).max()), float(np.abs(m.mean - ref_mean).max()))
    return err, sol.error_bound, 1e-13 * float(np.abs(ref_cov).max()), cpu


# ---- 1. block_enclose: stiff bonds, several soft probes -------------------------------------

STIFF = [  # (bond g, Ω0, probe frequencies, K)
    (1e4, 1e-3, (1e-3, 1.1e-3, 2e-3), 1e-9),
    (1e4, 1e-3, (1e-3,), 0.0),
    (1e6, 1e-3, (1e-2, 1e-2 + 1e-12), 1e-10),
    (1e8, 1.0, (1e-2, 1e-2, 1e-2), 1e-8),
    (1e10, 1.0, (1e-3, 1.1e-3, 2e-3), 1e-9),
    (1e10, 1.0, (1e-2, 1e-2 + 1e-12), 1e-10),
]


@pytest.mark.parametrize("g, omega0, freqs, k", STIFF)
def test_stiff_chains_soft_probe_enclosures_hold(g, omega0, freqs, k):
    """|μ̃_k − λ_k| ≤ e_k (50 digits) on a stiff 8-site chain with 1–3 soft, some degenerate,
    probes. Held here and on 300 random stiff chains/rings (g 1e3–1e10, 1–4 probes 1e-4–1e-1,
    K ≤ 1e-4·ω², near-degenerate to 1e-13): worst err/e 0.996 (a stiff mode)."""
    p = len(freqs)
    net = nw.couple(nw.graph(_chain_graph(8, g), omega0),
                    nw.probes(freqs, 0.0, [[1 + 2 * j] for j in range(p)], [[k]] * p))
    spec = dense_spectrum(net, (0,), None)
    assert np.all(_eigenvalue_errors(net, spec.mu) <= spec.mu_error)


# ---- 2. cluster_enclose: several adjacent degenerate groups ---------------------------------

@pytest.mark.parametrize("copies, bridge", [(3, 0.0), (4, 1e-30), (3, 1e-18), (4, 1e-12)])
def test_copies_of_a_ring_enclosures_hold(copies, bridge):
    """k disjoint (or bridged by 1e-30–1e-12) rings of 5, g = 1e-4, Ω0 = 1e-3: degenerate groups
    of size k and 2k side by side. Held on 240 such networks (rings of 4–6, stars, pairs; 2–4
    copies): worst err/e 0.967."""
    sub = np.zeros((5, 5))
    for j in range(5):
        sub[j, (j + 1) % 5] = sub[(j + 1) % 5, j] = 1e-4
    a = np.kron(np.eye(copies), sub)
    for i in range(copies - 1):
        a[5 * i, 5 * (i + 1)] = a[5 * (i + 1), 5 * i] = bridge
    net = nw.couple(nw.graph(a, 1e-3), nw.probes((1.0,), 0.0, [[1]], [[1e-5]]))
    spec = dense_spectrum(net, (0,), None)
    assert np.all(_eigenvalue_errors(net, spec.mu) <= spec.mu_error)


# ---- 3. soft_mode_errors' reordering: the spectrum stays consistent -------------------------

@pytest.mark.parametrize("path", ["chain", "dense"])
@pytest.mark.parametrize("freqs, k", [((2e-3, 1e-3, 1e-3 * (1 + 1e-14)), 1e-15),
                                      ((1e-3, 1e-3 * (1 + 1e-13), 1e-3 * (1 + 2e-13)), 1e-10),
                                      ((1e-2,) * 4, 0.0)])
def test_reordered_soft_columns_match_their_eigenvalues(path, freqs, k):
    """μ ascending, and each returned column u_k (all sites observed) has its 50-digit Rayleigh
    quotient within e_k of μ_k: the columns were permuted with their ρ (measured ≤ 0.95 e_k)."""
    p = len(freqs)
    probes = nw.probes(freqs, 0.0, [[1 + j] for j in range(p)], [[k]] * p)
    if path == "chain":
        net, fn = nw.couple(nw.chain(8, 1.0, 1e8, "free"), probes), chain_spectrum
    else:
        net, fn = nw.couple(nw.graph(_chain_graph(8, 1e8), 1.0), probes), dense_spectrum
    n = 8 + p
    spec = fn(net, tuple(range(n)), None)
    assert np.all(np.diff(spec.mu) >= 0)
    e = np.broadcast_to(spec.mu_error, spec.mu.shape)
    with mp.workdps(50):
        v = potentials_mp(net)[0]
        for j in range(p + 1):
            u = mp.matrix([mp.mpf(float(x)) for x in spec.readout[:, j]])
            q = (u.T * v * u)[0] / (u.T * u)[0]
            assert float(abs(q - mp.mpf(float(spec.mu[j])))) <= e[j]


# ---- 4. lowrank.soft_modes: the 1e-6 extension moves the straddling pair --------------------

def _straddle(split):
    """Three rings of 4 (g = 1e-4), a probe ω = 1 at site 1 (K = 1e-7); ring 0's uniform mode
    just below the soft cut 1e-4·max μ (Ω0 = 0.01(1 − 1e-8)), rings 1, 2 with μ offsets
    1e-6 ∓ split/2 (relative) above it: the soft set takes ring 1's uniform mode (within 1e-6
    of the top soft one) and leaves ring 2's, ``split`` away."""
    om0 = 0.01 * (1 - 1e-8)
    d = 2.475e-11 if split == 1e-12 else 2.5e-11  # the probe's shift of ring 0's level
    omegas = [om0 * np.sqrt(1 + x) for x in (0.0, 1e-6 - split / 2 - d, 1e-6 + split / 2 - d)]
    return nw.couple(nw.graph(_rings(omegas), sum([[o] * 4 for o in omegas], [])),
                     nw.probes((1.0,), 0.0, [[1]], [[1e-7]]))


@pytest.mark.parametrize("split", [1e-12, 1e-14])
def test_the_straddling_pair_is_built(split):
    """The construction: μ_2/μ_0 − 1 > 1e-6 > μ_1/μ_0 − 1 (the pair (1, 2) straddled the 1e-6 window
    of 9f031a6), and now the soft set does not split it (SOFT_GAP's run takes both); the
    enclosures hold (50 digits)."""
    net = _straddle(split)
    spec = dense_spectrum(net, (0,), None)
    assert soft_modes(spec.mu).tolist() == [0, 1, 2]
    off = spec.mu[1:3] / spec.mu[0] - 1
    assert off[0] < 1e-6 < off[1]
    assert np.all(_eigenvalue_errors(net, spec.mu) <= spec.mu_error)


# FINDING: the fix 9f031a6 (a mode within 1e-6 of the highest soft one is soft too) moves the
# cut; a nearly degenerate pair straddling top·(1 + 1e-6) is as loose as the pair straddling the
# cut was (6e7×): bound 0.044 against err 6.5e-12 (6.8e9×, split 1e-12), 5.8 against 6.5e-12
# (9e11×, split 1e-14); hot (T = 0.5): 4.4 and 581 (1.9e10×, 2.5e12×). Honest. A regression of
# 9f031a6: at e94020e (and acdcbd1) the same networks had bound 1.13e-8 (1,750×; the pair both
# hard, as in the next test's finding).
# FIXED (session 9): lowrank.SOFT_GAP, a run of close modes moves the cut (no fixed window)
@pytest.mark.parametrize("temperature", [0.0, 0.5])
@pytest.mark.parametrize("split", [1e-12, 1e-14])
def test_a_pair_straddling_the_extended_soft_set_is_tight(split, temperature):
    init = st.InitialState(st.product(st.coherent(1.0, 1.0, 0.0)), temperature)
    err, bound, floor, _ = _measure(_straddle(split), init, [0, 1, 5, 9], [0.0, 100.0])
    assert err <= bound
    assert bound <= 100 * max(err, floor)


def _ring_pair_above(offset, rings=3):
    """Ring 0's uniform mode just below the soft cut (as in :func:`_straddle`), the other rings'
    ``offset`` (relative) above it, all hard (soft_modes = [0])."""
    om0 = 0.01 * (1 - 1e-8)
    omegas = [om0 * np.sqrt(1 + x) for x in (0.0,) + (offset,) * (rings - 1)]
    return nw.couple(nw.graph(_rings(omegas), sum([[o] * 4 for o in omegas], [])),
                     nw.probes((1.0,), 0.0, [[1]], [[1e-7]]))


def _ring_pair_ratio(offset, rings):
    net = _ring_pair_above(offset, rings)  # (the soft set: [0], or with SOFT_GAP's run [0, 1, ...])
    init = st.InitialState(st.product(st.coherent(1.0, 1.0, 0.0)), 0.0)
    obs = [0, 1, 5, 9] if rings == 3 else [0, 1, 5]
    return _measure(net, init, obs, [0.0, 100.0])[:3]


@pytest.mark.parametrize("offset", [1e-4, 1e-3])
def test_a_soft_mode_with_hard_neighbours_1e4_away_is_tight(offset):
    """The soft mode's nearest hard modes ``offset`` (relative) above it: ratio 27.6 (1e-4),
    11.9 (1e-3)."""
    err, bound, floor = _ring_pair_ratio(offset, 3)
    assert err <= bound <= 100 * max(err, floor)


# FINDING: just beyond the 1e-6 window the soft mode's hard gap is ~1e-6·μ and the bound grows
# as 1/gap (the hard angle η/gap_H): err 6.5e-12 for every offset; bound 1.12e-8 (1.01e-6:
# 1,730×; two rings 1,630×), 3.8e-9 (3e-6: 589×), 1.19e-9 (1e-5: 184×; two rings 173×),
# 1.8e-10 (1e-4: 27.6×). Within 100× needs a window of ~3e-5, not 1e-6. Honest.
# FIXED (session 9): lowrank.SOFT_GAP = 1e-4 takes these neighbours in
@pytest.mark.parametrize("offset, rings", [(1.01e-6, 3), (1.01e-6, 2), (1e-5, 2)])
def test_a_soft_mode_with_hard_neighbours_just_beyond_the_window_is_tight(offset, rings):
    err, bound, floor = _ring_pair_ratio(offset, rings)
    assert err <= bound
    assert bound <= 100 * max(err, floor)


# ---- 5. roundoff.enclose: the running max ---------------------------------------------------

def test_enclose_sees_a_long_interval_past_a_short_one():
    """J = [0, 10] (ρ 5), [1, 2] (ρ 1.5), [11, 12] (ρ 11.5): the short one lies inside the long
    one, which its neighbour test alone would miss; both get the fallback (∞), the third its
    Kato–Temple radius."""
    mu = np.array([1.5, 5.0, 11.5])
    e = enclose(mu, mu, np.array([0.5, 5.0, 0.5]), np.zeros(3))
    assert np.isinf(e[0]) and np.isinf(e[1]) and np.isfinite(e[2])


# ---- 6. the Matsubara rule's tail panels ----------------------------------------------------

WIDE = [(1e-6, 4e10, 0.015), (1e-8, 4e10, 1e-3), (1e-2, 4e10, 0.05), (1e-6, 1e12, 0.01),
        (1e-10, 1e6, 1e-4)]


@pytest.mark.parametrize("a, b, temperature", WIDE)
def test_tail_panel_rule_is_relatively_accurate(a, b, temperature):
    """|g − r|/g ≤ 1e-14 on 20,001 geometric points of [a, b] (measured ≤ 1.6e-15) with the
    tail in panels (more than MATSUBARA_MAX poles were asked for: b ≫ T²), ≤ 4,000 poles."""
    rule = variance_rule(a, b, temperature)
    x = np.geomspace(a, b, 20001)
    g = variance_function(x, temperature)
    assert np.max(np.abs(g - rule(x)) / g) <= 1e-14
    assert rule.poles.size <= 4000 < MATSUBARA_MAX


# Was a strict xfail ("PoleRule.error misses the maximum near a: 6.1e-16 vs 1.2e-14", sampled
# in double on 20001 geometric points). Against 40 digits the rule's error near a is 1e-18: the
# 1.2e-14 was the double evaluation's rounding (~5 ulp of √x·g ≈ 11 there), not the rule. The
# check below is on the rule's own error; variance_rule now also samples 1001 geometric points
# on wide intervals (it saw none in (a, a + 1.5e-7·b)).
def test_pole_rule_error_is_the_max_over_the_interval():
    """√x|g(x) − r(x)| ≤ rule.error, g and r (the rule's double poles and weights) in 40 digits, on
    120 geometric points of [a, b] and 40 next to a, a = 1e-6, b = 4e10, T = 0.015."""
    a, b, temperature = 1e-6, 4e10, 0.015
    rule = variance_rule(a, b, temperature)
    poles = [mp.mpf(float(p)) for p in rule.poles]
    weights = [mp.mpf(float(w)) for w in rule.weights]
    worst = mp.mpf(0)
    with mp.workdps(40):
        for x in np.concatenate([np.geomspace(a, b, 120), np.geomspace(a, 1e-4, 40)]):
            xm = mp.mpf(float(x))
            g = mp.coth(mp.sqrt(xm) / (2 * temperature)) / (2 * mp.sqrt(xm))
            r = mp.mpf(float(rule.constant)) + mp.fsum(w / (xm + p) for w, p in zip(weights, poles))
            worst = max(worst, mp.sqrt(xm) * abs(g - r))
    assert float(worst) <= rule.error


COLD = [  # (bond g, T, probe frequencies, K, ends)
    (1e10, 0.015, (1e-3, 1e-3 * (1 + 1e-9)), 1e-12, "free"),
    (1e8, 0.001, (1e-2,), 1e-8, "fixed"),
    (1e10, 1e-3, (1.0,), 1e-3, "fixed"),
]


@pytest.mark.parametrize("method", ["dense", "chain"])
@pytest.mark.parametrize("g, temperature, freqs, k, ends", COLD)
def test_stiff_cold_chains_are_honest_tight_and_quick(g, temperature, freqs, k, ends, method):
    """6-site stiff chains at low T (the Matsubara tail in panels), squeezed probes (r = 0.5),
    t = 0, 50, 3000: err ≤ bound ≤ 100·max(err, floor), a solve in < 10 s CPU (measured ratios
    0.37–9.1, ≤ 2.5 s)."""
    p = len(freqs)
    net = nw.couple(nw.chain(6, 1.0, g, ends), nw.probes(freqs, 0.0, [[1 + 2 * j] for j in range(p)], [[k]] * p))
    init = st.InitialState(st.product(*[st.squeezed(w, 0.5, 0.3, x=1.0, p=0.2) for w in freqs]), temperature)
    err, bound, floor, cpu = _measure(net, init, [0, p, p + 2], [0.0, 50.0, 3000.0], method)
    assert err <= bound <= 100 * max(err, floor)
    assert cpu < 10


# FINDING (not from the late changes: the same at acdcbd1): hot stiff free chains with soft
# probes were loose. g = 1e6, 6 sites, probes ω = (1e-3, 2e-3) at sites 1, 3, K = 1e-9, T = 5,
# both probes observed, t = 0, 50, 3000: bound 6.4e-5 against err 1.4e-9 (chain, 4.5e4×),
# 1.2e-3 against 5.1e-8 (dense, 2.3e4×); at T = 0 the same networks are within 20×.
# vector_roundoff's t_k (‖X̃ᵀr_k‖ over the other soft modes) was charged over the gap to the
# nearest (3e-6, the other probe), though the residual lies along the chain's zero mode (gap 1).
# Now each pair over its own gap too (softgeometry.pair_angles): vector_roundoff 6.4e-5 → 1.9e-10
# (chain), 1.2e-3 → 4.1e-7 (dense); bounds 3.0e-7 (209×) and 7.5e-7 (15×). The chain's 209×
# (the low-rank readout term and evaluation_roundoff) became 86× once its merge kept the stiff
# modes' probe components (arrowhead._deflate, review s10): err 4.0e-9, bound 3.4e-7.
def _hot_stiff_chain():
    freqs = (1e-3, 2e-3)
    net = nw.couple(nw.chain(6, 1.0, 1e6, "free"), nw.probes(freqs, 0.0, [[1], [3]], [[1e-9]] * 2))
    init = st.InitialState(st.product(*[st.squeezed(w, 0.5, 0.3, x=1.0, p=0.2) for w in freqs]), 5.0)
    return net, init


def test_hot_stiff_chain_with_soft_probes_is_tight_dense():
    net, init = _hot_stiff_chain()
    err, bound, floor, _ = _measure(net, init, [0, 1], [0.0, 50.0, 3000.0], "dense")
    assert err <= bound <= 100 * max(err, floor)


def test_hot_stiff_chain_with_soft_probes_is_tight_chain():
    net, init = _hot_stiff_chain()
    err, bound, floor, _ = _measure(net, init, [0, 1], [0.0, 50.0, 3000.0], "chain")
    assert err <= bound
    assert bound <= 100 * max(err, floor)
