"""The rest of a closed evolution's error bound (harmosync.dynamics.normal_modes, "Error
bound"), besides Δ's (:mod:`.lowrank`): per-mode eigenvalue enclosures
(:func:`~harmosync.dynamics.spectrum.rayleigh_errors` for a dense eigh,
:func:`.arrowhead.arrowhead_errors` for the chain's secular equations by :func:`arrow_refine`'s
error-free transformations, both through :func:`enclose`), what the eigenvalues' error does to
the stationary split
(:func:`eigen_roundoff`), and the trig sums' roundoff and phase errors for the covariance
(:func:`evaluation_roundoff`) and the means (:func:`means_roundoff`), from
:func:`trig_sum_errors`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..jit import fma, kernel
from .stieltjes import variance_function


def eigen_roundoff(mu, readout, temperature: float = 0.0, mu_error=None) -> float:
    """Bound on what the eigenvalues' error does to the observed covariance through the
    stationary split [same units as σ], to first order in the errors: each μ_k is off by at most
    e_k (``mu_error``: scalar or (N,), from :func:`~harmosync.dynamics.spectrum.rayleigh_errors`
    or the worst case; default
    8ε‖V‖, a backward-stable dense eigh). Three pieces, each ≤ Σ_k r_ak² e_k G_k (x) or
    Σ_k r_ak² e_k μ_k G_k (p):
      S   the stationary part g(μ̃) instead of g(μ);
      E_0 the initial state rebuilt from the split: Δ's resolvent identity takes the computed
          modes as exact modes of V_0 + H, which errs by g[λ, μ̃_k]·(μ̃_k − μ_k) (a divided
          difference of g; its partner λ of V_0 lies above the soft modes: λ_min(V) ≤ λ_min(V_0)
          since H has zero diagonal blocks);
      the deviation Δ then carries E_0 − S: |error(t)| ≤ |S| + |E_0 − S| ≤ 2|S| + |E_0|.
    G_k bounds |g′| on [μ̃_k − e_k, ∞): g(μ) = ν(√μ)/√μ obeys |g′(μ)| ≤ g(μ)/μ
    (d ln g/dμ ∈ [−1/μ, −1/2μ]) and g(μ)/μ decreases, so G_k = g(m_k)/m_k, m_k = μ̃_k − e_k
    (mean value theorem); for g_p = μg, 0 ≤ g_p′ ≤ g_p/2μ. Infinite if some e_k ≥ μ̃_k.
    Negligible unless the spectrum is soft: it is what bounds a thermal soft mode. (Cross terms
    |Σ r_ak r_bk δg_k| ≤ the larger diagonal, Cauchy–Schwarz.) The computed eigenvectors are
    taken as exact (their error, ~ε‖V‖/gap, enters σ through differences of g between modes:
    measured negligible, tests/test_accuracy.py)."""
    mu = np.asarray(mu, float)
    r2 = np.asarray(readout, float) ** 2
    if r2.size == 0:
        return 0.0
    e = 8 * np.finfo(float).eps * float(mu.max()) if mu_error is None else np.asarray(mu_error, float)
    e = np.broadcast_to(e, mu.shape)
    if np.any(e >= mu):
        return np.inf
    lo = mu - e
    gx = variance_function(lo, temperature) * e / lo
    return 3.0 * float(max(np.max(r2 @ gx), np.max(r2 @ (gx * mu))))

#: the non-uniform FFT's error relative to Σ|α| + |β|: mid-chunk ~1e-15, but the deconvolution
#: 1/φ̂(m) amplifies the FFT's roundoff toward the chunk's ends; the worst found (review of
#: session 5: one mode, w = 2.08e-4, h = 0.05, 3489 times) is 2.8e-14 (2.1e-14 at σ = 2), and
#: 1e-14 was below it. 6e-14: twice that
NUFFT_FLOOR = 6e-14

def trig_sum_errors(w, readout, coef_q, coef_p, t_max: float, mu_error=None, *, nufft: bool = True):
    """Bounds for the trig sums z(t) = Σ_k u_k [c_q,k cos(w_k t) + c_p,k sin(w_k t)] that give
    every observed x (u = r/√w) and p (u = r√w, c_q and c_p swapped: −c_q sin + c_p cos) row,
    for each column of ``coef_q``, ``coef_p`` (N, C), over |t| ≤ t_max: returns (Z, dZ), both
    (2n, C) (the x rows, then the p rows), with |z(t)| ≤ Z and |z̃(t) − z(t)| ≤ dZ, z the exact
    sum (exact eigenvalues μ_k), z̃ the computed one (w_k = √μ̃_k). Term by term, with a the
    cosine's and b the sine's coefficient (|u_k| times):
      * |z| ≤ Z from :func:`mode_terms` (the exact propagator, μ_k within e_k of μ̃_k);
      * summation and evaluation roundoff: φ_s = 4ε√N of the terms' size: for the direct tables
        (``nufft`` False; cos/sin(w t) directly, or the table cos/sin(w τ) (τ < 2t_max) against
        the coefficients rotated to the block start t_b) every intermediate is within
        (1 + 2s²)|a| + 3s|b| (s = min(1, w t_max)), charged where below |a| + |b|; when the
        non-uniform FFT may run, max(4ε√N, NUFFT_FLOOR)·(|a| + |b|) (its error is relative to
        Σ_k |c_k|, whatever the phases);
      * the rounded phases, θ_k = 3ε w_k t (w_k, t's split into block start and table offsets,
        and the products each rounded: :func:`harmosync.solvers.trigsum.direct`): a pure phase
        error, ≤ θ_k·min(√(a² + b²), s'|a| + |b|) (a rotated phasor: |A cos(x + δ − φ) −
        A cos(x − φ)| ≤ A|δ|; or term by term, |sin x − sin y| ≤ |x − y| and |cos x − cos y| ≤
        |x − y|·max|sin| between x and y, s' = min(1, w t(1 + 3ε)));
      * the eigenvalue error e_k (``mu_error``; default 8ε max μ̃): the propagator at μ̃_k
        against μ_k, from :func:`mode_terms`."""
    z, (dz,) = _trig_sums(w, readout, coef_q, coef_p, t_max, mu_error, (nufft,))
    return z, dz


def _gam(n, ulp: float = 0.5 * np.finfo(float).eps):
    # γ_n = nε_u/(1 − nε_u): the worst-case relative rounding of an n-term sum (Higham §3.1)
    return n * ulp / (1 - n * ulp)


def _frequency_interval(w, e):
    """(w_lo, w_hi) (N,): √μ over |μ − μ̃_k| ≤ e_k, μ̃ = w² (w_lo 0 where e_k ≥ μ̃_k)."""
    mu = w * w
    return np.sqrt(np.maximum(mu - e, 0.0)), np.sqrt(mu + e)


def _mode_errors(w, mu_error) -> np.ndarray:
    """e_k (N,) ≥ |μ̃_k − μ_k|: ``mu_error`` (scalar or (N,)), or the dense eigh's worst case 8ε·max μ̃."""
    e = 8 * np.finfo(float).eps * float(w.max()) ** 2 if mu_error is None else np.asarray(mu_error, float)
    return np.broadcast_to(e, w.shape)


def _trig_sums(w, readout, coef_q, coef_p, t_max: float, mu_error, floors, *, parts: bool = False,
               runs: bool = True):
    """:func:`trig_sum_errors` for each ``nufft`` in ``floors``: (Z, [dZ for each]), the shared
    terms once (each dZ the numbers of its own call). ``parts``: also (dP, [dR for each]), dZ's
    two parts apart: dP the phase's (the eigenvalue error and the rounded phases, one for every
    column and both rows of a mode), dR the evaluation's rounding (:func:`evaluation_roundoffs`
    takes the first through Δ's entries on the hot modes). ``runs``: Z with the near-degenerate
    modes' terms summed with their signs first (:func:`mode_clusters`; ``readout`` and the
    coefficients signed), else mode by mode."""
    w = np.asarray(w, float)
    signed = np.atleast_2d(np.asarray(readout, float))
    r = np.abs(signed)
    eps = np.finfo(float).eps
    t = float(t_max) if np.isfinite(t_max) else 0.0
    e = _mode_errors(w, mu_error)
    cq, cp = np.abs(np.asarray(coef_q, float)), np.abs(np.asarray(coef_p, float))
    full, rot = cq + cp, _hypot(cq, cp)
    zx, ex0 = _mode_apply(_mode_factors(w, e, t, True), e, cq, cp, rot)  # x rows: a = c_q, b = c_p
    zp, ep0 = _mode_apply(_mode_factors(w, e, t, False), e, cp, cq, rot)  # p rows: a = c_p, b = c_q
    s = np.minimum(1.0, w * t * (1 + 3 * eps))  # ≥ |sin| of the exact and rounded phase
    near = np.flatnonzero(s < 1)
    phase = (3 * eps * w * t)[:, None] * rot
    ux, up = r / np.sqrt(w), r * np.sqrt(w)
    out, rounding = [], []
    if near.size:
        a, b, sn, rn, fn = cq[near], cp[near], s[near, None], rot[near], full[near]
        tn = (3 * eps * w[near] * t)[:, None]
        phase_x, phase_p = tn * np.minimum(rn, sn * a + b), tn * np.minimum(rn, a + sn * b)
    for nufft in floors:
        # rounding and rounded phases, the same on both rows where every sine may reach 1
        phi = max(4 * eps * np.sqrt(w.size), NUFFT_FLOOR) if nufft else 4 * eps * np.sqrt(w.size)
        base = phase + phi * full
        ex, ep = ex0 + base, ep0 + base
        if near.size:  # a smaller sine: the phase's min, and the direct tables' smaller intermediates
            round_x = round_p = phi * fn
            if not nufft:
                sm = np.minimum(1.0, w[near] * t)[:, None]
                round_x = phi * np.minimum(fn, (1 + 2 * sm * sm) * a + 3 * sm * b)
                round_p = phi * np.minimum(fn, (1 + 2 * sm * sm) * b + 3 * sm * a)
            ex[near] = ex0[near] + round_x + phase_x
            ep[near] = ep0[near] + round_p + phase_p
            if parts:
                rx, rp = phi * full, phi * full
                rx[near], rp[near] = round_x, round_p
        elif parts:
            rx = rp = phi * full
        out.append(np.vstack([ux @ ex, up @ ep]))
        if parts:
            rounding.append(np.vstack([ux @ rx, up @ rp]))
    runs = mode_clusters(w, t, mu_error) if runs else None
    if runs is None:
        z = np.vstack([ux @ zx, up @ zp])
    else:  # near-degenerate modes' terms summed with their signs first (mode_clusters)
        sq, sp = np.asarray(coef_q, float), np.asarray(coef_p, float)
        sw = np.sqrt(w)[None, :]
        z = np.vstack([clustered_readout(signed / sw, sq, sp, zx, runs),
                       clustered_readout(signed * sw, sp, sq, zp, runs)])
    if not parts:
        return z, out
    px, pp = ex0 + phase, ep0 + phase
    if near.size:
        px[near], pp[near] = ex0[near] + phase_x, ep0[near] + phase_p
    return z, out, np.vstack([ux @ px, up @ pp]), rounding

def mode_terms(w, e, t: float, a, b, rot=None, *, x_row: bool):
    """Per mode and column (N, C): (Z, E) with |f(μ, τ)| ≤ Z and |f(μ, τ) − f(μ̃, τ)| ≤ E for all
    |τ| ≤ t and |μ − μ̃| ≤ e, where f is one term of an observed row in unscaled normal
    coordinates: on an x row f = X cos(√μ τ) + P sin(√μ τ)/√μ, on a p row f = −√μ X sin(√μ τ)
    + P cos(√μ τ), with the computed term's cosine coefficient |a| and sine coefficient |b|
    (scaled: x row a = X, b = P/w̃; p row a = P, b = w̃X; w̃ = √μ̃ = ``w``). The computed
    modes are exact modes of V + δV (δV = U diag(μ̃ − μ) Uᵀ), the initial state is exact in
    unscaled coordinates: the eigenvalue error moves the propagator, amplitude and phase
    together. Mean value theorem on [μ̃ − e, μ̃ + e] (w' = √μ' ≥ w_lo = √max(μ̃ − e, 0), ≤ w_hi):
      x row, rotated form: |∂f/∂w'| ≤ τ·√(X² + P²/w'²) + |P|·|sin w'τ|/w'², ∂μ' = 2w'∂w';
            entrywise: |∂_μ cos(w'τ)| = τ|sin w'τ|/2w' ≤ min(τ²/2, τ/2w_lo),
            |∂_μ sin(w'τ)/w'| = |w'τ cos w'τ − sin w'τ|/2w'³ ≤ min(τ³/6, (τ/w_lo² + 1/w_lo³)/2)
            (|sin x − x cos x| ≤ x³/3: its derivative x sin x ≤ x²);
      p row, rotated: |∂f/∂w'| ≤ τ·√(w'²X² + P²) + |X|·|sin w'τ|; entrywise:
            |∂_μ w' sin w'τ| = |sin w'τ + w'τ cos w'τ|/2w' ≤ min(τ, (τ + 1/w_lo)/2).
      split form (|sin| ≤ 1, the sine's and cosine's parts apart): x row |∂f/∂w'| ≤ τ|X| +
            (|P|/w')·|w'τ cos w'τ − sin w'τ|/w' ≤ τ|X| + (|P|/w_lo)·√(τ² + 1/w_lo²); p row
            ≤ τ|P| + |X|·|w'τ cos w'τ + sin w'τ| ≤ τ|P| + |X|·√(w_hi²τ² + 1).
    The smallest of the forms per term. Near w' → 0 the entrywise form has no 1/w: the
    phase error t·δw of a soft mode is undone by its amplitude's (sin(wt)/w ≈ t); the rotated
    form, t·e/2w, is the old phase error plus the amplitude's e|b|/2w² beside it (which the
    phase alone missed: up to 2× on a p row's X part at small w't). Z likewise: x row
    min(√(a² + (b w̃/w_lo)²), |a| + |b| w̃ min(t, 1/w_lo)); p row min(√(a² + (b w_hi/w̃)²),
    |a| + |b|(w_hi/w̃) min(1, w_hi t)). With ``rot`` ≥ √(a² + b²) given, √(a² + k²b²) ≤ k·rot
    (k ≥ 1) stands for it (one product instead of a hypot per term)."""
    return _mode_apply(_mode_factors(w, np.broadcast_to(e, np.shape(w)), t, x_row), e, a, b,
                       _hypot(a, b) if rot is None else rot)

def _mode_factors(w, e, t: float, x_row: bool):
    """mode_terms' per-mode factors (N,): (t, flat, near, k, amp, c_hat, s_hat, rotated's
    b-factor, split's b-factor, t/2w_lo) — the forms of its docstring."""
    lo, hi = _frequency_interval(w, e)
    # the entrywise and split forms where they can be the smaller (w_lo t < 30; beyond, within
    # 1 + 1/(w_lo t) of the rotated one): a min over honest bounds
    everywhere = float(lo.min(initial=np.inf)) * t >= 30  # none of them: the rotated form alone
    near = np.zeros(0, int) if everywhere else np.flatnonzero(lo * t < 30)
    flat = None if everywhere else lo < 1e-100  # the entrywise form only (1/w_lo would overflow)
    inv = 1.0 / (lo if everywhere else np.where(flat, 1.0, lo))  # 1/w_lo
    half = inv / 2
    with np.errstate(over="ignore"):
        k = w * inv if x_row else hi / w  # P/w_lo, w_hi X in b's units
        m = k * np.minimum(t, inv) if x_row else np.minimum(1.0, hi * t) / w
    if everywhere:
        return t, flat, near, k, None, None, None, m * half, None, t * half
    with np.errstate(over="ignore"):
        if x_row:
            amp = w * np.where(flat, t, np.minimum(t, inv))  # |P sin w'τ/w'| ≤ |P| min(τ, 1/w_lo)
            s_hat = w * np.where(flat, t**3 / 6, np.minimum(t**3 / 6, (t * inv**2 + inv**3) / 2))
            split_b = k * np.sqrt(t * t + inv * inv)  # |x cos x − sin x| ≤ √(x² + 1)
        else:
            amp = k * np.minimum(1.0, hi * t)
            s_hat = np.where(flat, t, np.minimum(t, (t + inv) / 2)) / w
            split_b = np.sqrt((hi * t) ** 2 + 1) / w  # |x cos x + sin x| ≤ √(x² + 1)
        c_hat = np.where(flat, t * t / 2, np.minimum(t * t / 2, t * half))
    return t, flat, near, k, amp, c_hat, s_hat, m * half, split_b * half, t * half

def _mode_apply(factors, e, a, b, rot):
    """(Z, E) of :func:`mode_terms` from its per-mode ``factors`` (:func:`_mode_factors`)."""
    t, flat, near, k, amp, c_hat, s_hat, m_half, split_half, t_half = factors
    e = np.broadcast_to(e, k.shape)
    if t == 0:  # the propagator at τ = 0 is 1 whatever μ
        return np.array(a, dtype=float), np.zeros(np.shape(a))
    if near.size == 0 and np.isfinite(e).all():  # the rotated form alone, as below
        z = k[:, None] * rot
        return z, (t_half[:, None] * z + m_half[:, None] * b) * e[:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        z = k[:, None] * rot  # ≥ √(a² + k²b²), k ≥ 1
        bound = t_half[:, None] * z
        bound += m_half[:, None] * b  # the rotated form
        if near.size:
            an, bn, fn = a[near], b[near], flat[near, None]
            small = an + amp[near, None] * bn
            z[near] = np.where(fn, small, np.minimum(z[near], small))
            ent = c_hat[near, None] * an + s_hat[near, None] * bn
            split = t_half[near, None] * an + split_half[near, None] * bn
            bound[near] = np.where(fn, ent, np.minimum(bound[near], np.minimum(ent, split)))
        err = bound * e[:, None]
    if not np.all(np.isfinite(e)):  # e = ∞ (an unresolved cluster): ∞·0 where a term is 0
        err = np.where(bound == 0, np.where(np.isfinite(e)[:, None], 0.0, np.inf), err)
        z = np.where(np.isnan(z), np.inf, z)
    return z, err

#: the coarsest runs (:func:`mode_clusters`): modes whose neighbours lie within CLUSTER_GAP/t in
#: frequency; each finer level CLUSTER_STEP× tighter, CLUSTER_LEVELS in all (down to 1e-13/t)
CLUSTER_GAP = 0.1
CLUSTER_STEP = 100.0
CLUSTER_LEVELS = 7

#: rows × run modes × columns :func:`clustered_readout` forms at a time (else rows in chunks)
CLUSTER_CHUNK = 4e6
#: the most rows × run modes × columns × levels a :func:`clustered_readout` call works through
#: (beyond, the mode-by-mode form: many observed rows at a short t_max, where every mode chains)
CLUSTER_WORK = 3e5


class Clusters(NamedTuple):
    """Nested runs of near-degenerate modes (:func:`mode_clusters`)."""

    index: np.ndarray  # (K,) the modes in the coarsest runs, run by run, ascending w̃ within each
    levels: tuple  # ((starts (R,), drift (K,)), …), finest first: each a segmentation of index


def mode_clusters(w, t: float, mu_error=None) -> Clusters | None:
    """Runs of near-degenerate modes, nested: at level j (j = 0 the coarsest) the modes, in
    ascending w̃, whose neighbours lie within CLUSTER_GAP/(t·CLUSTER_STEP^j), a run spread over
    more than CLUSTER_GAP/t cut as the next finer level cuts it (its drift would see little);
    CLUSTER_LEVELS levels. Per level and mode a drift δ_k ≥ 0 such that, for |τ| ≤ t and w̄ the
    middle of its run, each of cos(w̃_kτ), sin(w̃_kτ) (the computed propagator), cos(w_kτ),
    (w̃_k/w_k)·sin(w_kτ) and (w_k/w̃_k)·sin(w_kτ) (the exact one, |μ_k − μ̃_k| ≤ e_k,
    ``mu_error``) lies within δ_k of the same function at w̄: δ_k = (ρ_k − 1) + ρ_k·min(2,
    (|w̃_k − w̄| + η_k)·t), η_k ≥ |w_k − w̃_k|, ρ_k ≥ the ratios' largest (|sin a − sin b|,
    |cos a − cos b| ≤ |a − b|). Modes whose ρ_k or η_k is infinite (e_k ≥ μ̃_k, or e_k
    infinite) are in no run. None for t infinite or no run. Why: a probe resonant with an
    environment mode through a weak coupling splits them by ~the coupling, and their
    eigenvectors' rows then cancel in every readout that sums over the pair (the probe's part
    of a chain site's row), which a mode-by-mode bound |U_ak||c_k| misses (s11 fuzz res 72:
    2.5e5× the error; tests/test_resonant_runs.py). Nested, because a run that chains many
    modes (small t) has a drift too large to see the pair's cancellation inside it."""
    w = np.asarray(w, float)
    t = float(t)
    if w.size < 2 or not np.isfinite(t):
        return None
    order = np.argsort(w, kind="stable")
    ws = w[order]
    gaps = np.diff(ws)
    with np.errstate(divide="ignore", over="ignore"):
        top = CLUSTER_GAP / t if t > 0 else np.inf
    if not np.any(gaps <= top):
        return None
    lo, hi = _frequency_interval(w, _mode_errors(w, mu_error))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rho = np.maximum(w / lo, hi / w)
        eta = np.maximum(w - lo, hi - w)
    bad = ~(np.isfinite(rho[order]) & np.isfinite(eta[order]))
    forced = bad[1:] | bad[:-1]  # a mode in no run: cut on both sides
    # the cuts between sorted neighbours, finest level first; a run too wide keeps the finer cuts
    cuts, previous = [], np.ones(gaps.size, bool)
    for j in reversed(range(CLUSTER_LEVELS if t > 0 else 1)):
        cut = forced | (gaps > top / CLUSTER_STEP**j)
        run = np.concatenate([[0], np.cumsum(cut)])  # the run of each sorted mode
        first = np.flatnonzero(np.concatenate([[True], cut]))
        last = np.concatenate([first[1:] - 1, [ws.size - 1]])
        wide = (ws[last] - ws[first]) > top
        cut = cut | (wide[run[:-1]] & previous)
        cuts.append(cut)
        previous = cut
    starts_all = [np.flatnonzero(np.concatenate([[True], c])) for c in cuts[::-1]]  # coarsest first
    size0 = np.diff(np.concatenate([starts_all[0], [ws.size]]))
    member = np.repeat(size0 >= 2, size0)  # sorted modes in a run of the coarsest level
    if not member.any():
        return None
    index = order[member]
    pos = np.flatnonzero(member)  # their sorted positions
    wi, ri, ei = w[index], rho[index], eta[index]
    levels, seen = [], None
    for starts in starts_all:  # each level restricted to the coarsest runs' modes
        head = np.zeros(ws.size, bool)
        head[starts] = True
        st = np.flatnonzero(head[pos])
        if seen is not None and np.array_equal(st, seen):
            continue
        if st.size == index.size:  # single modes only: nothing finer to see
            break
        seen = st
        size = np.diff(np.concatenate([st, [index.size]]))
        mid = np.repeat(0.5 * (wi[st] + wi[st + size - 1]), size)  # ascending within a run
        drift = ((ri - 1) + ri * np.minimum(2.0, (np.abs(wi - mid) + ei) * t)) * (1 + 1e-12)
        levels.append((st, drift))
    return Clusters(index, tuple(levels[::-1])) if levels else None


def clustered_readout(rows, a, b, plain, clusters: Clusters | None) -> np.ndarray:
    """A bound (n, C) on max over |τ| ≤ t of |Σ_k rows_ik (a_kj θ_k(τ) + b_kj θ′_k(τ))|, for θ_k,
    θ′_k within each level's drift δ_k of c(w̄τ), s(w̄τ) on each of its runs (c² + s² = 1: cos
    and sin, or −sin and cos), given ``plain`` (N, C) ≥ |a_kj θ_k + b_kj θ′_k| mode by mode:
    |rows|·plain, with each run's share, finest level first, the smaller of its sub-runs'
    shares (its modes' plain shares at the finest) and
        |(S_a, S_b)| + Σ_(k in run) |rows_ik|(|a_kj| + |b_kj|)(δ_k + γ_(m+2)),
    S_a = Σ_(k in run) rows_ik a_kj (rounded: γ_(m+2) of its |terms|, m the run's size). ``rows``
    (n, N), ``a``, ``b`` (N, C), signed (``b`` None: zero). Never above |rows|·plain; the
    mode-by-mode form beyond CLUSTER_WORK."""
    rows = np.atleast_2d(np.asarray(rows, float))
    ar = np.abs(rows)
    if clusters is None or not clusters.levels or \
            rows.shape[0] * clusters.index.size * np.shape(plain)[1] * len(clusters.levels) > CLUSTER_WORK:
        return ar @ plain
    idx = clusters.index
    masked = np.array(plain, dtype=float)
    masked[idx] = 0.0
    out = ar @ masked
    a = np.asarray(a, float)[idx]
    b = None if b is None else np.asarray(b, float)[idx]
    pk = np.asarray(plain, float)[idx]
    ab = np.abs(a) if b is None else np.abs(a) + np.abs(b)
    k, c = a.shape
    # per level and mode: the drift plus its run's γ_(m+2) (the sums' rounding), and a margin
    slack = []
    for starts, drift in clusters.levels:
        size = np.diff(np.concatenate([starts, [k]]))
        slack.append(drift * (1 + 1e-12) + np.repeat(_gam(size + 2), size))
    step = max(1, int(CLUSTER_CHUNK // max(1, k * c)))
    for lo in range(0, rows.shape[0], step):  # rows in chunks: (K, rows, C) arrays
        r = rows[lo:lo + step, idx].T[:, :, None]  # (K, nr, 1)
        nr = r.shape[1]
        ra = (r * a[:, None, :]).reshape(k, -1)
        rb = None if b is None else (r * b[:, None, :]).reshape(k, -1)
        rab = (np.abs(r) * ab[:, None, :]).reshape(k, -1)
        share = (np.abs(r) * pk[:, None, :]).reshape(k, -1)  # each mode's plain share
        for (starts, _), sl in zip(clusters.levels, slack):
            sa = np.abs(np.add.reduceat(ra, starts, axis=0))
            if rb is not None:
                sa = _hypot(sa, np.abs(np.add.reduceat(rb, starts, axis=0)))
            run = sa + np.add.reduceat(rab * sl[:, None], starts, axis=0)
            best = np.minimum(np.add.reduceat(share, starts, axis=0), run)
            share = np.zeros_like(share)
            share[starts] = best  # each run's share at its first mode
        out[lo:lo + nr] += share.sum(axis=0).reshape(nr, c)
    return out

def _hypot(a, b):
    # ≥ √(a² + b²) for a, b ≥ 0 (np.hypot is ~10× slower here): the squares' underflow is caught
    # by max(a, b), the rounding by 1 + 4ε
    return np.maximum(np.sqrt(a * a + b * b) * (1 + 4 * np.finfo(float).eps), np.maximum(a, b))

def means_roundoff(w, readout, mean0, t_max: float, mu_error=None, *, nufft: bool = True) -> float:
    """Bound on the error of every observed mean ⟨x_a(t)⟩, ⟨p_a(t)⟩ for |t| ≤ t_max: the trig
    sums of :func:`trig_sum_errors` with the initial mean in scaled normal coordinates
    ``mean0`` (2, N) as their one column, plus the roundoff of forming ``mean0`` (a P-term dot
    product per mode, relative 4ε of its absolute value; the probe rows of U taken as exact).
    ``nufft``: whether the sums may run through the non-uniform FFT (:func:`trig_sum_errors`)."""
    return means_roundoffs(w, readout, mean0, t_max, mu_error, floors=(nufft,))[0]


def means_roundoffs(w, readout, mean0, t_max: float, mu_error=None, *, floors=(False, True)) -> list[float]:
    """:func:`means_roundoff` for each ``nufft`` in ``floors`` (the shared terms once; each the
    number of its own call)."""
    m = np.asarray(mean0, float)
    if np.size(readout) == 0 or not np.any(m):
        return [0.0 for _ in floors]
    # (Z mode by mode: mean0's rounding is independent from mode to mode)
    z, dzs = _trig_sums(w, readout, m[0][:, None], m[1][:, None], t_max, mu_error, floors, runs=False)
    return [float(np.max(dz + 4 * np.finfo(float).eps * z)) for dz in dzs]

def evaluation_roundoff(w, readout, nu, values, vectors, t_max: float, mu_error=None, *,
                        nufft: bool = True) -> float:
    """Bound on the roundoff and phase error of evaluating σ(t) = const + Σ_r λ_r z_r z_rᵀ for
    |t| ≤ t_max, on every entry σ_ab (a, b any observed x or p). The constant part is a dot
    product (≲ 4ε√N of its absolute terms). With (Z, dZ) of :func:`trig_sum_errors` for the
    columns v_r: |δ(z_a z_b)| ≤ Z_a dZ_b + dZ_a Z_b + dZ_a dZ_b, summed over r with |λ_r|, plus
    (R + 2)ε Σ_r |λ_r| Z_a Z_b for the products and sums of the assembly; the largest over
    (a, b) pairs. ``nufft``: whether the sums may run through the non-uniform FFT."""
    return evaluation_roundoffs(w, readout, nu, values, vectors, t_max, mu_error, floors=(nufft,))[0]


def evaluation_roundoffs(w, readout, nu, values, vectors, t_max: float, mu_error=None, *,
                         floors=(False, True)) -> list[float]:
    """:func:`evaluation_roundoff` for each ``nufft`` in ``floors`` (the shared terms once; each
    the number of its own call)."""
    w = np.asarray(w, float)
    r = np.abs(np.asarray(readout, float))
    if r.size == 0:
        return [0.0 for _ in floors]
    eps = np.finfo(float).eps
    base = 4 * eps * np.sqrt(w.size) * float(np.max((r**2) @ (nu * (1 / w + w))))
    if not np.size(values):
        return [float(base) for _ in floors]
    lam = np.abs(np.asarray(values, float))
    hot = _isotropic_modes(w, r, mu_error, t_max, values, vectors)
    if hot.size:  # (the signed rows: the trig sums' near-degenerate runs, mode_clusters)
        z, dzs, dp, drs = _trig_sums(w, readout, vectors[0], vectors[1], t_max, mu_error, floors, parts=True)
        phase = _isotropic_phase(w, readout, mu_error, t_max, np.asarray(values, float), vectors, hot)
    else:
        z, dzs = _trig_sums(w, readout, vectors[0], vectors[1], t_max, mu_error, floors)
    zl = z * lam
    out = []
    for i, dz in enumerate(dzs):
        zz = z + dz  # ≥ the computed sums (the assembly rounds their products)
        rest = (lam.size + 2) * eps * ((zz * lam) @ zz.T)
        pair = zl @ dz.T
        pair = pair + pair.T + (dz * lam) @ dz.T + rest
        if hot.size:  # the phase part through Δ's hot rows, the rounding's as above: the smaller
            dr = drs[i]
            rd = zl @ dr.T + (dp * lam) @ dr.T
            rd = rd + rd.T + (dr * lam) @ dr.T
            pair = np.minimum(pair, phase + rd + rest)
        out.append(float(base + float(pair.max())))
    return out


#: the most modes whose rows of Δ :func:`_isotropic_phase` forms (:func:`_isotropic_modes`)
ISOTROPIC_MAX = 64


def _isotropic_modes(w, readout, mu_error, t_max: float, values, vectors) -> np.ndarray:
    """The modes (at most ISOTROPIC_MAX, ascending) whose 2 × 2 block of Δ is mostly isotropic,
    c_k·I: Σ_r |λ_r|(v_xrk² + v_prk²) more than 4× the Frobenius norm of the block less c_k I
    (a hot probe's mode: Δ ≈ −ν_k I there, ν_k ~ T/w_k, against a state of size ~1). A phase
    error leaves c_k I as it is (:func:`_isotropic_phase`). Only where the rotated bounds of
    :func:`mode_terms` hold for every mode (μ̃_k − e_k ≥ 1e-200, e_k finite: an unresolved
    cluster's e = ∞ met Δ's zeros as 0·∞, review s17), for 0 < t_max < ∞, and where
    it can pay: none unless their isotropic parts hold half of Δ's phase terms, each mode's
    weighed by max_a r_ak²(1/w_k + w_k)·(e_k t/2w_k + 3ε w_k t) (W5's maps: 64 modes of
    rounding-level Δ, 0.1% of the bound for +0.75 ms a network)."""
    lam = np.asarray(values, float)
    w = np.asarray(w, float)
    if not lam.size or not 0 < t_max < np.inf:
        return np.zeros(0, dtype=int)
    vx, vp = np.asarray(vectors[0], float), np.asarray(vectors[1], float)
    e = _mode_errors(w, mu_error)
    sxx, spp, sxp = (vx * vx) @ lam, (vp * vp) @ lam, (vx * vp) @ lam
    rest = np.sqrt(0.5 * (sxx - spp) ** 2 + 2 * sxp**2)
    split = (vx * vx + vp * vp) @ np.abs(lam)
    with np.errstate(over="ignore"):  # an exactly isotropic block: ∞
        ratio = split / np.maximum(rest, np.finfo(float).tiny)
    if not np.all(np.isfinite(e) & (w * w - e >= 1e-200)):  # (every mode's rotated form is used)
        return np.zeros(0, dtype=int)
    cand = np.flatnonzero(ratio > 4)
    hot = np.sort(cand[np.argsort(-ratio[cand], kind="stable")[:ISOTROPIC_MAX]])
    r2 = np.max(np.asarray(readout, float) ** 2, axis=0, initial=0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        weight = r2 * (1 / w + w) * (e * t_max / (2 * w) + 3 * np.finfo(float).eps * w * t_max)
        weight = np.where(np.isfinite(weight), weight, np.finfo(float).max)
    if not float((split[hot] - rest[hot]) @ weight[hot]) >= 0.5 * float(split @ weight):
        return np.zeros(0, dtype=int)
    return hot


def _isotropic_phase(w, r, mu_error, t_max: float, lam, vectors, hot) -> np.ndarray:
    """Bound (2n, 2n), every pair of observed rows, on the phase part of σ(t)'s evaluation error
    (:func:`_trig_sums`' dP: the eigenvalue error and the rounded phases) for |t| ≤ t_max, with
    Δ = Σ_r λ_r v_r v_rᵀ split as Δ' + C, C = Σ_(k hot) c_k I_k (c_k: half the trace of Δ's block
    on mode k, so that Δ' is small there). Computed σ = F̃ΔF̃ᵀ, exact FΔFᵀ, F̃ the rows' functionals
    mode by mode at μ̃ and the rounded phases: rounding a phase rotates mode k's plane, so
    F̃_k c_k I F̃_kᵀ = c_k u_ak u_bk/w̃_k (x rows; c_k u u w̃ p rows) whatever the phase, and against
    the exact μ_k (the initial state exact in unscaled coordinates, c_k·diag(1/w̃, w̃) there)
    |F_k C F_kᵀ − F̃_k C F̃_kᵀ| = |c_k|·sin²(w t)·|μ̃ − μ|/(w² w̃) (x x; w̃·…/w̃² p p, /(w w̃) x p)
    ≤ |c_k| e_k ρ_ak ρ_bk/(μ̃_k − e_k), ρ = |U_a|/√w̃ or |U_a|√w̃: no t. The rest,
    |Σ_kl δF_ak Δ'_kl F_bl + F_ak Δ'_kl δF_bl + δF_ak Δ'_kl δF_bl|, with the rotated forms of
    :func:`mode_terms` as norms per mode (|F_k y| ≤ ρ_k k_k ‖y‖, |δF_k y| ≤ ρ_k G_k ‖y‖, G_k =
    e_k(t k_k + m_k)/2w_lo + 3ε w_k t) and ‖Δ'_kl‖ ≤ its Frobenius norm, formed for k or l hot
    (plus γ_(R+2) of Σ_r |λ_r|(|v_xr| + |v_pr|)(|v_xr| + |v_pr|)ᵀ for its rounding); the pairs
    of cold modes as :func:`evaluation_roundoffs` does, over the columns v_r with their hot
    entries zeroed."""
    eps = np.finfo(float).eps
    w = np.asarray(w, float)
    t = float(t_max)
    e = _mode_errors(w, mu_error)
    vx, vp = np.asarray(vectors[0], float), np.asarray(vectors[1], float)
    # the cold pairs: the columns without their hot entries, through |λ_r|
    cx, cp = vx.copy(), vp.copy()
    cx[hot] = cp[hot] = 0.0
    z0, _, dp0, _ = _trig_sums(w, r, cx, cp, t, mu_error, (), parts=True)  # (r signed: its runs)
    r = np.abs(r)
    al = np.abs(lam)
    cold = (z0 * al) @ dp0.T
    cold = cold + cold.T + (dp0 * al) @ dp0.T
    # Δ's rows on the hot modes, less c_k on their own block
    lx, lp = vx[hot] * lam, vp[hot] * lam  # (H, R)
    sxx, sxp, spx, spp = lx @ vx.T, lx @ vp.T, lp @ vx.T, lp @ vp.T
    idx = np.arange(hot.size)
    c = 0.5 * (sxx[idx, hot] + spp[idx, hot])
    sxx[idx, hot] -= c
    spp[idx, hot] -= c
    av = np.abs(vx) + np.abs(vp)
    g = _gam(lam.size + 2, eps)
    norm = np.sqrt(sxx * sxx + sxp * sxp + spx * spx + spp * spp) * (1 + 8 * eps) + g * ((av[hot] * al) @ av.T)
    # per mode, the rotated forms of mode_terms (x rows, p rows)
    _, _, _, kx, _, _, _, mhx, _, th = _mode_factors(w, e, t, True)
    _, _, _, kp, _, _, _, mhp, _, _ = _mode_factors(w, e, t, False)
    ph = 3 * eps * w * t
    sw = np.sqrt(w)
    ux, up = r / sw, r * sw
    big_g = np.vstack([ux * (e * (th * kx + mhx) + ph), up * (e * (th * kp + mhp) + ph)])  # (2n, N)
    big_z = np.vstack([ux * kx, up * kp])
    gh, zh = big_g[:, hot], big_z[:, hot]
    norm_c = norm.copy()
    norm_c[:, hot] = 0.0  # k cold, l hot: the rest
    out = gh @ (norm @ (big_z + big_g).T) + zh @ (norm @ big_g.T)
    out += big_g @ (norm_c.T @ (zh + gh).T) + big_z @ (norm_c.T @ gh.T)
    rh = np.vstack([ux[:, hot], up[:, hot]])
    out += (rh * (np.abs(c) * e[hot] / (w[hot] ** 2 - e[hot]))) @ rh.T
    return cold + out

def enclose(mu, rho, half, eta, fallback=None) -> np.ndarray:
    """e_k from per-mode data (:func:`~harmosync.dynamics.spectrum.rayleigh_errors`): the
    Rayleigh quotient ρ_k (extended precision) of the exact matrix lies within ``half`` of ρ_k, its
    residual norm is ≤ ``eta``; intervals J_k = ρ_k ± (half + eta) — an eigenvalue in each (the
    residual theorem, Parlett, The Symmetric Eigenvalue Problem, Thm 4.5.1), exactly one where they
    are disjoint; then Kato–Temple (ibid., Thm 10.5.1) |λ_k − ρ_k| ≤ η_k²/δ_k, δ_k the distance to
    the neighbouring intervals; overlapping modes get ``fallback``.
    A mode known only by a radius e around μ̃ passes ρ = μ̃, half = e, eta = 0."""
    ld = np.longdouble
    mu = np.asarray(mu, float)
    rho = np.asarray(rho, ld)
    n = mu.size
    rho_f = rho.astype(float)
    half = np.asarray(half, float) * (1 + 1e-12) + 2 * np.finfo(float).eps * np.abs(rho_f)  # + ρ to float
    eta = np.asarray(eta, float) * (1 + 1e-12)
    lo, hi = rho_f - half - eta, rho_f + half + eta
    order = np.argsort(lo, kind="stable")
    lo_s, hi_s = lo[order], hi[order]
    # in order of left ends: apart from every earlier interval (the running max of their right
    # ends: a long one may reach past a short one in between) and from the next
    left = np.concatenate([[-np.inf], np.maximum.accumulate(hi_s)[:-1]])
    right = np.concatenate([lo_s[1:], [np.inf]])
    ok = (left < lo_s) & (hi_s < right)
    c_lo, c_hi = (rho_f - half)[order], (rho_f + half)[order]
    delta = np.minimum(c_lo - left, right - c_hi) * (1 - 1e-12)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        temple = np.where(delta > 0, eta[order] ** 2 / delta, np.inf)
    e = np.empty(n)
    e[order] = np.minimum(eta[order], temple)
    e += np.abs(mu.astype(ld) - rho).astype(float) * (1 + 1e-12) + half
    ok_modes = np.empty(n, bool)
    ok_modes[order] = ok
    return np.where(ok_modes, e, np.inf if fallback is None else np.maximum(e, fallback))


#: absolute allowance for products below the normal range (TwoProduct is exact only above it)
TINY = 1e-290


def _arrow_refine(a, mu, vs, d, c, dvs, dd, dc, out):
    """Residual, Rayleigh quotient and rounding terms of x_k = (a_k, ŷ_k) for the arrowhead
    A = [[V_S, C], [Cᵀ, diag(d)]] (:func:`arrow_refine`), in double with error-free
    transformations: each residual entry s = Σ x_i y_i by Dot2 (TwoProduct by an FMA,
    :func:`~harmosync.jit.fma`, until session 14 by Veltkamp–Dekker splitting: the same values,
    W2's residuals 20% faster; TwoSum cascade), loops over the modes k innermost (they
    vectorise). TwoProduct needs the product itself rounded on its own: numba without fastmath
    contracts nothing else into an FMA (tests/test_arrowhead_refine.py would see it). ``out``
    (3, b): the Rayleigh quotient's correction xᵀs/‖x‖², its half-width, the residual bound."""
    p, b = a.shape
    m = d.size
    u = 2.0 ** -53
    sa = np.empty((p, b))
    smu = np.empty((4, b))
    _arrow_signs(a, mu, np.zeros(b), sa, smu)
    # the probe block's Dot2 (sum, compensation), Σ|terms|, Σ_j δC_ij |ŷ_j|; per-mode sums
    # ‖x‖², ‖ŝ‖², ‖T‖², xᵀŝ, |x|ᵀ|ŝ|, |x|ᵀT, |x|ᵀ|δA||x|, ‖|δA||x|‖²
    probe = np.zeros((4, p, b))
    acc = np.zeros((9, b))
    _arrow_environment(a, mu, np.zeros(b), d, c, dd, dc, sa, smu, probe, acc, np.empty((0, 0)), True)
    _arrow_probes(a, vs, dvs, sa, smu, probe, acc)
    n2, s2, t2, q, qa, xt, sk, e2 = acc[0], acc[1], acc[2], acc[3], acc[4], acc[5], acc[6], acc[7]
    n = m + p + 2  # terms of the longest Dot2 and of each sum below
    g2 = (2 * n * u / (1 - 2 * n * u)) ** 2  # ≥ γ_n² (Dot2's bound)
    gn = n * u / (1 - n * u)
    safe = 1 + 8 * (n + 4) * u  # each sum of non-negative terms in double, its square root
    for k in range(b):
        n2l = n2[k] / safe  # ≤ ‖x‖²
        res = (math.sqrt(s2[k]) * safe + g2 * math.sqrt(t2[k]) * safe + TINY) / (1 - u)
        out[0, k] = q[k] / n2[k]
        out[1, k] = (sk[k] * safe + (4 * gn + 4 * u) * qa[k] * safe + 3 * g2 * xt[k] * safe + TINY) / n2l * safe
        out[2, k] = (res + math.sqrt(e2[k]) * safe) / math.sqrt(n2l) * safe


def _arrow_signs(a, mu, delta, sa, smu):
    """|a| (``sa`` (P, b)), −μ, |μ|, −δ, |δ| (``smu`` (4, b); δ the shift's second part μ* − μ̃:
    0 for :func:`_arrow_refine`), per mode, for :func:`_arrow_refine` and :func:`_arrow_vectors`."""
    p, b = a.shape
    for i in range(p):
        for k in range(b):
            sa[i, k] = abs(a[i, k])
    for k in range(b):
        smu[0, k], smu[1, k], smu[2, k], smu[3, k] = -mu[k], abs(mu[k]), -delta[k], abs(delta[k])


def _arrow_environment(a, base, off, d, c, dd, dc, sa, smu, probe, acc, yg, full):
    """_arrow_refine's pass over the poles j: ŷ_j = (Cᵀa)_j/((base − d_j) + off) (μ̃ = base + off;
    :func:`arrow_refine`: base μ̃, off 0), or ``yg``'s rows when it has any (given columns, (M, b)),
    the environment entry s_j = Σ_i C_ij a_i + d_j ŷ_j − μ ŷ_j by Dot2 and its sums into
    ``acc``, and C_ij ŷ_j into the probe block's Dot2. Not ``full`` (:func:`_arrow_vectors`): without
    the Rayleigh quotient's sums (xᵀŝ, |x|ᵀ|ŝ|, |x|ᵀT) and the sums of |terms| T (they enter
    only times γ², bounded there from norms): 15% of the pass."""
    p, b = a.shape
    given = yg.shape[0] > 0
    aa = sa
    nm, amu, nd, adl = smu[0], smu[1], smu[2], smu[3]
    ps, pc, pt, pd = probe[0], probe[1], probe[2], probe[3]
    n2, s2, t2, q, qa, xt, sk, e2 = acc[0], acc[1], acc[2], acc[3], acc[4], acc[5], acc[6], acc[7]
    tmp = np.empty((6, b))
    cta, y, es, ec, et, ed = tmp[0], tmp[1], tmp[2], tmp[3], tmp[4], tmp[5]
    for j in range(d.size):
        dj = d[j]
        for k in range(b):
            cta[k] = c[0, j] * a[0, k]
        for i in range(1, p):
            cij = c[i, j]
            for k in range(b):
                cta[k] += cij * a[i, k]
        if given:  # ŷ: any double vector will do (the bound is for the x it makes)
            for k in range(b):
                y[k] = yg[j, k]
        else:  # (two loops: a branch inside kept the pass from vectorising, 2.6× slower)
            for k in range(b):
                y[k] = cta[k] / ((base[k] - dj) + off[k])
        for k in range(b):
            yk = y[k]
            # the environment entry: first d_j ŷ_j, −μ ŷ_j (TwoProduct each, TwoSum)
            s = dj * yk
            r = fma(dj, yk, -s)
            hp = nm[k] * yk
            rp = fma(nm[k], yk, -hp)
            s1 = s + hp
            z = s1 - s
            es[k] = s1
            ec[k] = r + (((s - (s1 - z)) + (hp - z)) + rp)
            # − δ ŷ_j (the shift's second part; δ = 0 adds exact zeros)
            hp = nd[k] * yk
            rp = fma(nd[k], yk, -hp)
            s1 = es[k] + hp
            z = s1 - es[k]
            ec[k] += ((es[k] - (s1 - z)) + (hp - z)) + rp
            es[k] = s1
            ay = abs(yk)
            if full:
                et[k] = (abs(dj) + amu[k] + adl[k]) * ay
            else:  # ‖d∘ŷ‖² (T_E's largest part on a wide spectrum: review s14, max|d|‖ŷ‖ was 1e6× it)
                t2[k] += (abs(dj) * ay) * (abs(dj) * ay)
            ed[k] = dd[j] * ay
            sq = yk * yk  # (TwoSum: n2 as before, its error into acc[8])
            s1 = n2[k] + sq
            z = s1 - n2[k]
            acc[8, k] += (n2[k] - (s1 - z)) + (sq - z)
            n2[k] = s1
        for i in range(p):
            cij = c[i, j]
            acij, dcij = abs(cij), dc[i, j]
            for k in range(b):
                # environment: + C_ij a_i
                hp = cij * a[i, k]
                rp = fma(cij, a[i, k], -hp)
                s1 = es[k] + hp
                z = s1 - es[k]
                ec[k] += ((es[k] - (s1 - z)) + (hp - z)) + rp
                es[k] = s1
                if full:
                    et[k] += acij * aa[i, k]
                ed[k] += dcij * aa[i, k]
                # probe i: + C_ij ŷ_j
                hp = cij * y[k]
                rp = fma(cij, y[k], -hp)
                s1 = ps[i, k] + hp
                z = s1 - ps[i, k]
                pc[i, k] += ((ps[i, k] - (s1 - z)) + (hp - z)) + rp
                ps[i, k] = s1
                ay = abs(y[k])
                if full:
                    pt[i, k] += acij * ay
                pd[i, k] += dcij * ay
        for k in range(b):
            sj = es[k] + ec[k]
            ay = abs(y[k])
            s2[k] += sj * sj
            if full:
                t2[k] += et[k] * et[k]
                q[k] += y[k] * sj
                qa[k] += ay * abs(sj)
                xt[k] += ay * et[k]
            sk[k] += ay * ed[k]
            e2[k] += ed[k] * ed[k]


def _arrow_probes(a, vs, dvs, sa, smu, probe, acc):
    """_arrow_refine's probe block: V_S[i, l] a_l and −μ a_i into each entry's Dot2, then its
    sums into ``acc``."""
    p, b = a.shape
    aa = sa
    nm, amu, nd, adl = smu[0], smu[1], smu[2], smu[3]
    ps, pc, pt, pd = probe[0], probe[1], probe[2], probe[3]
    n2, s2, t2, q, qa, xt, sk, e2 = acc[0], acc[1], acc[2], acc[3], acc[4], acc[5], acc[6], acc[7]
    for i in range(p):
        for l in range(p):
            v = vs[i, l]
            av = abs(v)
            for k in range(b):
                hp = v * a[l, k]
                rp = fma(v, a[l, k], -hp)
                s1 = ps[i, k] + hp
                z = s1 - ps[i, k]
                pc[i, k] += ((ps[i, k] - (s1 - z)) + (hp - z)) + rp
                ps[i, k] = s1
                pt[i, k] += av * aa[l, k]
        for k in range(b):
            hp = nm[k] * a[i, k]
            rp = fma(nm[k], a[i, k], -hp)
            s1 = ps[i, k] + hp
            z = s1 - ps[i, k]
            pc[i, k] += ((ps[i, k] - (s1 - z)) + (hp - z)) + rp
            ps[i, k] = s1
            hp = nd[k] * a[i, k]  # − δ a_i (exact zeros for δ = 0)
            rp = fma(nd[k], a[i, k], -hp)
            s1 = ps[i, k] + hp
            z = s1 - ps[i, k]
            pc[i, k] += ((ps[i, k] - (s1 - z)) + (hp - z)) + rp
            ps[i, k] = s1
            si = ps[i, k] + pc[i, k]
            ti = pt[i, k] + (amu[k] + adl[k]) * aa[i, k]
            di = dvs[i] * aa[i, k] + pd[i, k]
            sq = a[i, k] * a[i, k]
            s1 = n2[k] + sq
            z = s1 - n2[k]
            acc[8, k] += (n2[k] - (s1 - z)) + (sq - z)
            n2[k] = s1
            s2[k] += si * si
            t2[k] += ti * ti
            q[k] += a[i, k] * si
            qa[k] += aa[i, k] * abs(si)
            xt[k] += aa[i, k] * ti
            sk[k] += aa[i, k] * di
            e2[k] += di * di


_ARROW_REFINE = kernel(_arrow_refine, "void(float64[:, ::1], float64[::1], float64[:, ::1], float64[::1], "
                       "float64[:, ::1], float64[::1], float64[::1], float64[:, ::1], float64[:, ::1])",
                       reads=tuple(range(8)), calls=("fma", "_arrow_signs", "_arrow_environment", "_arrow_probes"))


def _times(x, y):
    """x·y for bounds x, y ≥ 0 on sums of products, 0 where either is (a sum of no terms: ∞·0
    would be NaN)."""
    return x * y if x != 0.0 and y != 0.0 else 0.0


def _arrow_vectors(a, mu, delta, base, off, vs, d, c, dvs, dd, dc, yg, outp, out):
    """Per-mode data of x_k = (a_k, ŷ_k) for the chain path's eigenvector term
    (:func:`arrow_vectors`), with :func:`_arrow_refine`'s Dot2 passes: ``outp`` (2, P, b) bounds
    on |s_P| (the probe block of s = (A − μ̃)x, entrywise) and on |δA||x| there; ``out`` (5, b):
    bounds on ‖s_E‖ (its environment block), on Σ_j |ŷ_j|(δd_j|ŷ_j| + Σ_i δC_ij|a_i|), on
    ‖|δA||x|‖, and ‖x‖² with its rounding."""
    p, b = a.shape
    m = d.size
    u = 2.0 ** -53
    sa = np.empty((p, b))
    smu = np.empty((4, b))
    _arrow_signs(a, mu, delta, sa, smu)  # the residual at μ̃ + δ
    probe = np.zeros((4, p, b))
    env = np.zeros((9, b))
    _arrow_environment(a, base, off, d, c, dd, dc, sa, smu, probe, env, yg, False)
    acc = np.zeros((9, b))
    _arrow_probes(a, vs, dvs, sa, smu, probe, acc)
    n = m + p + 2
    g2 = (2 * n * u / (1 - 2 * n * u)) ** 2
    safe = 1 + 8 * (n + 4) * u
    # the sums of |terms| T, which enter only times γ² (~1e-24 at M = 10⁴), from norms (Cauchy–
    # Schwarz; 2× for their own rounding, and m·2⁻¹⁰⁷⁴ in each square sum for the squares that
    # underflow): Σ_j |C_ij||ŷ_j| ≤ ‖C_i‖‖ŷ‖ on the probes, and ‖T_E‖ ≤ ‖d∘ŷ‖ + (|μ| + |δ|)‖ŷ‖ +
    # Σ_i |a_i|‖C_i‖ on the environment (‖d∘ŷ‖² summed in the pass, env[2])
    under = n * 5e-324  # (≥ the squares' underflow, 2⁻¹⁰⁷⁴ each, in every sum of squares below)
    cn = np.zeros(p)
    for i in range(p):
        for j in range(m):
            cn[i] += c[i, j] * c[i, j]
        cn[i] = math.sqrt(cn[i] + under)
    for k in range(b):
        yn = math.sqrt(abs(env[0, k]) + under)
        te = math.sqrt(env[2, k] + under) + _times(smu[1, k] + smu[3, k], yn)
        for i in range(p):
            te += _times(sa[i, k], cn[i])
            si = probe[0, i, k] + probe[1, i, k]  # Dot2: |ŝ − s| ≤ u|s| + γ²T
            ti = 2 * (probe[2, i, k] + _times(cn[i], yn)) + (smu[1, k] + smu[3, k]) * sa[i, k]
            outp[0, i, k] = ((abs(si) + g2 * ti * safe) / (1 - u) + TINY) * safe
            outp[1, i, k] = (probe[3, i, k] + dvs[i] * sa[i, k]) * safe
        # (the sums of squares with their underflow: review s14b, ‖s_E‖ = 1.2e-169 against η = 1e-187)
        out[0, k] = ((math.sqrt(env[1, k] + under) * safe + g2 * 2 * te * safe) / (1 - u) + TINY) * safe
        out[1, k] = env[6, k] * safe
        out[2, k] = math.sqrt((env[7, k] + acc[7, k] + under) * safe) * safe
        # ‖x‖² by Sum2 (Ogita, Rump & Oishi: u|s| + γ²Σ|p|, p the rounded squares, each within
        # u of its square; one more rounding to join the two passes): 4u + γ², where the
        # recursive sum's γ_n was 10⁴ε on W3's chain (its G diagonal then ~1e-12 on every mode)
        n2 = env[0, k] + acc[0, k]
        corr = env[8, k] + acc[8, k]
        if math.isfinite(corr):  # (an overflowing sum's correction is inf − inf)
            n2 += corr
        out[3, k] = n2
        out[4, k] = ((4 * u + g2) * n2) * safe + under


_ARROW_VECTORS = kernel(_arrow_vectors, "void(float64[:, ::1], float64[::1], float64[::1], float64[::1], "
                        "float64[::1], float64[:, ::1], float64[::1], float64[:, ::1], float64[::1], "
                        "float64[::1], float64[:, ::1], float64[:, ::1], float64[:, :, ::1], float64[:, ::1])",
                        reads=tuple(range(12)),
                        calls=("fma", "_times", "_arrow_signs", "_arrow_environment", "_arrow_probes"))


def arrow_vectors(a, mu, vs, env_d, env_c, d_vs, env_rounding, base=None, off=None, y=None):
    """Per-mode data for the chain path's eigenvector term
    (:mod:`~harmosync.solvers.arrowvectors`) on modes (μ̃_k, probe rows a_k) of the arrowhead
    A = [[V_S, C], [Cᵀ, diag(d)]], x_k = (a_k, ŷ_k) with ŷ as :func:`arrow_refine` forms it
    but μ̃_k − d_j formed as (base_k − d_j) + off_k (``base``, ``off``: μ̃ and 0 by default; the
    merges' offsets from a pole, :meth:`~.arrowhead.ArrowheadModes.pole_offsets`, keep ŷ's digits
    next to that pole; the denominators must not vanish), the residual s_k = (A − μ*_k)x_k at
    μ*_k = μ̃_k + δ_k, δ_k = fl((base_k − μ̃_k) + off_k) (the merges' value, of which μ̃ is the
    rounding: at μ̃ itself the residual would carry (μ* − μ̃)x_k ~ ε|μ| on every mode, which the
    pairs' bounds cannot see cancel), by Dot2 as there (the γ²·T parts from norms,
    :func:`_arrow_vectors`): (ρ (P, b) ≥ |s_P| entrywise, β (P, b) ≥
    (|δA||x|)_P, η (b,) ≥ ‖s_E‖, D (b,) ≥ Σ_j δd_j ŷ_j² + Σ_j |ŷ_j|(δCᵀ|a|)_j, ζ (b,) ≥ ‖|δA||x|‖,
    ‖x‖² (b,), the bound on its rounding (b,), δ (b,)), for |δA| ≤ (diag ``d_vs``, δC, δd)
    (``env_rounding`` = (δd, δC)). ``y``: the columns' environment parts (M, b) given (finite; then
    ``base``, ``off`` only set δ), for vectors not of that form (a pole's entry from the
    normalisation, the merges' own columns)."""
    a = np.ascontiguousarray(a, dtype=float)
    mu = np.ascontiguousarray(mu, dtype=float)
    p, b = a.shape
    outp, out = np.empty((2, p, b)), np.empty((5, b))
    dd, dc = (np.ascontiguousarray(x, dtype=float) for x in env_rounding)
    base = mu if base is None else np.ascontiguousarray(base, dtype=float)
    off = np.zeros(b) if off is None else np.ascontiguousarray(off, dtype=float)
    delta = (base - mu) + off
    yg = np.empty((0, 0)) if y is None else np.ascontiguousarray(y, dtype=float)
    if y is not None and yg.shape != (np.size(env_d), b):
        raise ValueError(f"arrow_vectors: y must be (M, b) = ({np.size(env_d)}, {b}), not {yg.shape}")
    if y is not None and not np.all(np.isfinite(yg)):
        raise ValueError("arrow_vectors: y must be finite (set a pole's undefined entries first)")
    _ARROW_VECTORS(a, mu, delta, base, off, np.ascontiguousarray(vs, dtype=float),
                   np.ascontiguousarray(env_d, dtype=float), np.ascontiguousarray(env_c, dtype=float),
                   np.ascontiguousarray(d_vs, dtype=float), dd, dc, yg, outp, out)
    return outp[0], outp[1], out[0], out[1], out[2], out[3], out[4], delta


def arrow_refine(a, mu, vs, env_d, env_c, d_vs, env_rounding):
    """A posteriori data for :func:`enclose` on modes (μ̃_k, probe rows a_k) of the arrowhead
    A = [[V_S, C], [Cᵀ, diag(d)]] (d = ``env_d``, C = ``env_c``): with x_k = (a_k, ŷ_k),
    ŷ_kj = (Cᵀa_k)_j/(μ̃_k − d_j) in double (any ŷ gives an honest bound for the x it makes;
    this one makes the environment block of the residual s = (A − μ̃_k)x_k small), returns
    (ρ_k (long double), half_k, η_k): the Rayleigh quotient of A + δA at x_k lies within half_k
    of ρ_k and ‖(A + δA − μ̃_k)x_k‖/‖x_k‖ ≤ η_k, for |δA| ≤ (diag ``d_vs`` (P,), δC, δd)
    (``env_rounding`` = (δd (M,), δC (P, M))). μ̃_k ≠ d_j for all j is required.

    Each entry of s is a dot product of doubles, formed by Dot2 (Ogita, Rump & Oishi, Accurate
    sum and dot product, SIAM J. Sci. Comput. 26 (2005), Thm 5.3): |ŝ_i − s_i| ≤ u|s_i| +
    γ_n²·T_i, T_i the sum of the absolute terms, n ≤ M + P + 2 (γ_2n² is charged); so
    ‖s‖ ≤ (‖ŝ‖ + γ²‖T‖)/(1 − u). ρ_k = μ̃_k + xᵀs/‖x‖²: xᵀŝ and ‖x‖² by recursive sums
    (γ_n each), whence |ρ̂ − ρ| ≤ ((4γ_n + 4u)·Σ|x||ŝ| + 3γ²·Σ|x|T)/‖x‖², plus the rounding of
    μ̃ + the correction to long double (ε_ld|ρ|). The input rounding adds |x|ᵀ|δA||x|/‖x‖² to
    half and ‖|δA||x|‖/‖x‖ to η; every sum of non-negative terms in double is raised by
    1 + 8(n + 4)u per use. (The long-double form this replaces charged the arithmetic
    1.01(M + P + 4)ε_ld ≈ 3e-17 relative; this one ≈ 1e-28, plus ε_ld|ρ| ≈ 1e-19|ρ|.)"""
    ld = np.longdouble
    a = np.ascontiguousarray(a, dtype=float)
    mu = np.ascontiguousarray(mu, dtype=float)
    out = np.empty((3, mu.size))
    dd, dc = (np.ascontiguousarray(x, dtype=float) for x in env_rounding)
    _ARROW_REFINE(a, mu, np.ascontiguousarray(vs, dtype=float), np.ascontiguousarray(env_d, dtype=float),
                  np.ascontiguousarray(env_c, dtype=float), np.ascontiguousarray(d_vs, dtype=float), dd, dc, out)
    rho = mu.astype(ld) + out[0].astype(ld)
    half = out[1] + float(np.finfo(ld).eps) * np.abs(rho.astype(float)) * (1 + 1e-12)
    return rho, half, out[2]
