"""Normal modes of P probes plugged into an environment whose own modes are known.

In the basis (probes, environment modes) the potential matrix is an arrowhead matrix with P
arrow rows:

    [[V_S, C], [Cᵀ, diag(d)]],   C = B W_E (P × M).

The probes are added one at a time. Adding probe i to the eigenbasis built so far (eigenvalues
λ_j) gives the one-row arrowhead [[s_i, zᵀ], [z, diag(λ)]], s_i = (V_S)_ii and z the coupling
row (V_S[i, :i], C[i]) expressed in that eigenbasis; its eigenvalues are the roots of the
secular equation

    f(μ) = s_i − μ + Σ_j z_j² / (μ − λ_j) = 0,

one in each interval between consecutive λ_j and one beyond each end (interlacing), and whose
eigenvectors are n_k (1, z_j / (μ_k − λ_j)) with n_k = (1 + Σ_j z_j²/(μ_k − λ_j)²)^{-1/2}.

* Roots are stored as (origin pole o, offset τ = μ − λ_o), so that the differences μ − λ_j
  that build the eigenvectors are formed as (λ_o − λ_j) + τ without cancellation (the
  floating-point difference of two nearby stored poles is exact).
* Each root is found by Newton steps on a rational model inside a bracket maintained from the
  sign of f (bisection fallback), from the interval's midpoint (whose f picks the nearer pole
  as the origin). The first MIDDLE_WAY steps keep the two neighbouring poles with their own
  weights z² and take the other poles' ψ and φ as a line matching value and slope. Then each
  side's ψ, φ is matched in value and slope by one pole (fixed weights; quadratic
  convergence). From the midpoint the first form lands much nearer
  where the next poles matter: on a 10⁴-site chain 3 full sweeps of the sums after the
  midpoint's and a partial one, against 4 and a partial one with fixed weights throughout
  (session 15: W3's two merges 84,040 → 70,241 root-sweeps of the sums, W2's 381,038 → 292,396).
  A root stops at |f| ≤ 8ε of its terms, or one step after |f| ≤ 8ε·log₂(n + 1) of them (the
  sums' roundoff, which 8ε can be below); until session 15 it stopped there at once, and 1%
  of a chain's roots kept |f| ~ 1e-14 of the terms where one more step gives ~1e-16.
* Deflation: a pole with |z_j| ≤ min(8 ε ‖·‖, ε²|λ_j − s|) is an eigenpair already (a chain
  mode the probe does not touch, e.g. sin(πjm/(M+1)) = 0): the probe's part of that mode is
  below ε² (session 10; LAPACK's 8 ε ‖·‖ alone dropped parts ~ε that a squeezed soft probe's
  variance makes count); at least 1e-150‖·‖ (z_j² in range), and 8 ε (|λ_j| + |s| + ‖z‖) where
  λ_j and s are one level to rounding. Two poles closer than 8 ε ‖·‖ that both couple are
  rotated so that only one does. Both change the matrix by at most 8 ε ‖·‖: the result is the
  exact decomposition of a matrix within a few ulps of the input (backward stable, like
  LAPACK's divide-and-conquer merge step that this follows). A run of close poles is rotated
  into its last coupled member, also across members that do not couple.
* Orthogonality: where a merge's vectors are not orthogonal (the probe's row misses unit norm;
  identical probes joined by λ, a root within ~K² of its pole), z is replaced by the ẑ for
  which the computed roots are exact (Löwner; Gu & Eisenstat 1995), :func:`_consistent`; other
  merges are left as they are.

* Many networks that share the poles (a map over the last probe's site or strength) are
  solved together (:func:`secular_solve_many`, :func:`arrowhead_modes_many`): one Newton
  iteration over the (network, root) grid. Every root is iterated and stopped on its own, with
  elementwise operations and one compiled pass per root over the poles (four running sums per
  side), so a network's numbers are bitwise the same alone or in any batch; a single network
  is a batch of one.

Costs O(P · iterations · N²) time and O(N · chunk) memory; only requested rows of the
eigenvector matrix (the probes, observed sites) are ever formed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache, partial

import numpy as np

from ..jit import kernel
from . import PI_LD
from .roundoff import arrow_refine, enclose
from .softgeometry import cluster_enclose

EPS = np.finfo(float).eps
CHUNK = 16  # fewest roots per block in the O(N²) sums
BLOCK_NUMBERS = 1 << 18  # numbers per block (2 MB: stays in cache)
THREADS = 2  # threads for the O(N²) sums (this machine: 2 cores)
PARALLEL_MIN = 4_000_000  # N² above which the sums are split over the threads
MAX_ITER = 60
#: the secular solver's first steps with the nearest poles' own weights (module docstring), then fixed weights
MIDDLE_WAY = 2


@dataclass
class _Stage:
    """One arrowhead merge: probe mode with diagonal s coupled by z to the previous basis."""

    n_prev: int
    rotations: list = field(default_factory=list)  # (i, j, c, s) Givens on previous basis
    deflated: np.ndarray = None  # previous indices that pass through unchanged
    active: np.ndarray = None  # previous indices that couple
    poles: np.ndarray = None  # λ of the active poles
    z: np.ndarray = None  # z of the active poles
    origin: np.ndarray = None  # root k: index into ``poles``
    tau: np.ndarray = None  # root k: μ_k − poles[origin]
    norm: np.ndarray = None  # root k: n_k
    order: np.ndarray = None  # new eigen index → (root k or deflated pole), sorted by value
    values: np.ndarray = None  # new eigenvalues, ascending
    dropped: float = 0.0  # ≥ ‖A − A'‖₂ of this merge: the couplings set to 0, the rotated poles' spread

    def apply(self, rows: np.ndarray) -> np.ndarray:
        """Row vectors over [probe mode, previous basis] (k, 1 + n_prev) → over the new
        eigenbasis (k, n_prev + 1)."""
        rows = np.array(rows, dtype=float, ndmin=2)
        head, rest = rows[:, 0], rows[:, 1:].copy()
        for i, j, c, s in self.rotations:
            ri, rj = rest[:, i].copy(), rest[:, j].copy()
            rest[:, i] = c * ri - s * rj
            rest[:, j] = s * ri + c * rj
        nroot = self.tau.size
        out_roots = np.empty((rows.shape[0], nroot))
        if self.active.size:
            rz = rest[:, self.active] * self.z  # (k, n_act)

            def work(a, b):
                d = np.empty((b - a, self.poles.size))
                _INVERSES(self.poles, self.origin[a:b], self.tau[a:b], d)
                out_roots[:, a:b] = (d @ rz.T).T

            _blocks(nroot, work, self.poles.size)
            out_roots += head[:, None]
        else:
            out_roots[:] = head[:, None]
        out_roots *= self.norm
        full = np.hstack([out_roots, rest[:, self.deflated]])
        return full[:, self.order]


def _inverses(poles, origin, tau, out):
    """out[r, j] = 1/(μ_r − λ_j), μ_r − λ_j formed as (poles[origin[r]] − λ_j) + tau[r]
    (compiled by numba: one pass, where numpy took three)."""
    for r in range(tau.size):
        pole, t = poles[origin[r]], tau[r]
        for j in range(poles.size):
            out[r, j] = 1.0 / ((pole - poles[j]) + t)


_INVERSES = kernel(_inverses, "void(float64[:], int64[:], float64[:], float64[:, :])", reads=(0, 1, 2))


def _loewner(poles, origin, tau, j0, j1, out):
    """out[j] = ẑ_j² for j0 ≤ j < j1: the coupling for which the computed roots μ_k = poles[origin[k]]
    + tau[k] (k = 0..n, root k between poles k − 1 and k) are the exact eigenvalues (Löwner;
    Gu & Eisenstat, SIAM J. Matrix Anal. Appl. 16, 172 (1995)):
    ẑ_j² = Π_k≤j (λ_j − μ_k) Π_k>j (μ_k − λ_j) / Π_i≠j |λ_j − λ_i|, as the two neighbouring roots'
    distances times the ratios (λ_j − μ_i)/(λ_j − λ_i) (i < j) and (μ_(i+1) − λ_j)/(λ_i − λ_j)
    (i > j), each ≥ 1 and every difference formed from the offsets; two running products per
    side (compiled: one pass, no division-chain latency). A non-positive factor (a root off its
    interval) leaves a non-positive or non-finite out[j]."""
    n = poles.size
    for j in range(j0, j1):
        lj = poles[j]
        p0 = (lj - poles[origin[j]]) - tau[j]
        p1 = (poles[origin[j + 1]] - lj) + tau[j + 1]
        p2 = 1.0
        p3 = 1.0
        i = 0
        while i + 2 <= j:
            p2 *= ((lj - poles[origin[i]]) - tau[i]) / (lj - poles[i])
            p3 *= ((lj - poles[origin[i + 1]]) - tau[i + 1]) / (lj - poles[i + 1])
            i += 2
        while i < j:
            p2 *= ((lj - poles[origin[i]]) - tau[i]) / (lj - poles[i])
            i += 1
        i = j + 1
        while i + 2 <= n:
            p0 *= ((poles[origin[i + 1]] - lj) + tau[i + 1]) / (poles[i] - lj)
            p1 *= ((poles[origin[i + 2]] - lj) + tau[i + 2]) / (poles[i + 1] - lj)
            i += 2
        while i < n:
            p0 *= ((poles[origin[i + 1]] - lj) + tau[i + 1]) / (poles[i] - lj)
            i += 1
        out[j] = (p0 * p1) * (p2 * p3)


_LOEWNER = kernel(_loewner, "void(float64[:], int64[:], float64[:], int64, int64, float64[:])", reads=(0, 1, 2))


def _block_ranges(n: int, width: int) -> list:
    """[a, b) row blocks of [0, n) for rows of ``width`` numbers, ≲ 2 MB each (:func:`_blocks`)."""
    rows = max(CHUNK, BLOCK_NUMBERS // max(width, 1))
    return [(a, min(a + rows, n)) for a in range(0, n, rows)]


def _blocks(n: int, work, width: int | None = None):
    """Run work(a, b) over row blocks [a, b) of [0, n) (rows of ``width`` ≈ n numbers, blocks of
    ≲ 2 MB); two threads for large n (numpy's elementwise kernels and BLAS level-2 release the
    GIL)."""
    width = n if width is None else width
    ranges = _block_ranges(n, width)
    if n * max(width, 1) < PARALLEL_MIN or THREADS < 2:
        for a, b in ranges:
            work(a, b)
        return
    from concurrent.futures import ThreadPoolExecutor

    from . import blas_threads  # (its controller is kept: threadpool_limits itself takes ~1 ms a call)

    half = [ranges[: len(ranges) // 2], ranges[len(ranges) // 2:]]

    def run(part):
        for a, b in part:
            work(a, b)

    with blas_threads(1), ThreadPoolExecutor(2) as ex:
        list(ex.map(run, half))


def _segment(poles, z2, b, pole, tau, start, stop):
    """(Σ w_j, Σ w_j/(μ − λ_j)), w_j = z_j²/(μ − λ_j), over poles start ≤ j < stop of network b's
    row of ``z2``; μ − λ_j formed as (pole − λ_j) + τ. Four running sums, j mod 4 (their terms
    share a sign: relative roundoff ≤ (n/4 + 2) ε)."""
    s0 = s1 = s2 = s3 = 0.0
    q0 = q1 = q2 = q3 = 0.0
    j = start
    while j + 4 <= stop:
        i0 = 1.0 / ((pole - poles[j]) + tau)
        i1 = 1.0 / ((pole - poles[j + 1]) + tau)
        i2 = 1.0 / ((pole - poles[j + 2]) + tau)
        i3 = 1.0 / ((pole - poles[j + 3]) + tau)
        w0, w1, w2, w3 = z2[b, j] * i0, z2[b, j + 1] * i1, z2[b, j + 2] * i2, z2[b, j + 3] * i3
        s0 += w0
        s1 += w1
        s2 += w2
        s3 += w3
        q0 += w0 * i0
        q1 += w1 * i1
        q2 += w2 * i2
        q3 += w3 * i3
        j += 4
    while j < stop:
        i0 = 1.0 / ((pole - poles[j]) + tau)
        w0 = z2[b, j] * i0
        s0 += w0
        q0 += w0 * i0
        j += 1
    return (s0 + s1) + (s2 + s3), (q0 + q1) + (q2 + q3)


def _sum_rows(poles, z2, net, origin, tau, left, out):
    """secular_sums' loop: row r's ψ, ψ′, φ, φ′ into out[r] (compiled by numba)."""
    n = poles.size
    for r in range(tau.size):
        pole, t, b, k = poles[origin[r]], tau[r], net[r], left[r]
        s, q = _segment(poles, z2, b, pole, t, 0, k)
        out[r, 0] = s
        out[r, 1] = -q
        s, q = _segment(poles, z2, b, pole, t, k, n)
        out[r, 2] = s
        out[r, 3] = -q


_SUM_ROWS = kernel(_sum_rows, "void(float64[:], float64[:, :], int64[:], int64[:], float64[:], int64[:], float64[:, :])",
                   reads=(0, 1, 2, 3, 4, 5), calls=("_segment",))


def secular_sums(poles, z2, net, origin, tau, left):
    """ψ, ψ′, φ, φ′ of each row r (network net[r], root at poles[origin[r]] + tau[r]): the sums
    of z²/(μ − λ_j) and −z²/(μ − λ_j)² over the poles left of the root (j < left[r]) and the
    rest. ``z2``: z² per network (B, n).

    One compiled pass per row over the poles, the same operations in the same order in any
    batch, so a network's roots do not depend on the networks solved beside it; two threads
    share large problems (the kernel releases the GIL).
    """
    r, n = tau.size, poles.size
    args = [np.ascontiguousarray(x, dtype=d) for x, d in
            ((poles, float), (z2, float), (net, np.int64), (origin, np.int64), (tau, float), (left, np.int64))]
    # the kernel does not check its indices: a bad one would read outside the arrays
    if (args[1].ndim != 2 or args[1].shape[1] != n or any(x.shape != (r,) for x in args[2:])
            or (r and not (0 <= args[2].min() and args[2].max() < args[1].shape[0]
                           and 0 <= args[3].min() and args[3].max() < n
                           and 0 <= args[5].min() and args[5].max() <= n))):
        raise ValueError("secular_sums: z2 must be (B, n) and net, origin, tau, left (R,) with valid indices")
    out = np.empty((r, 4))
    if r * n < PARALLEL_MIN or THREADS < 2 or r < 2:
        _SUM_ROWS(*args, out)
    else:
        from concurrent.futures import ThreadPoolExecutor

        half = r // 2
        parts = [(0, half), (half, r)]
        with ThreadPoolExecutor(2) as ex:
            list(ex.map(lambda ab: _SUM_ROWS(*args[:2], *(x[ab[0]:ab[1]] for x in args[2:]), out[ab[0]:ab[1]]),
                        parts))
    return out[:, 0].copy(), out[:, 1].copy(), out[:, 2].copy(), out[:, 3].copy()


def _model_rows(c, slope, beta_l, dl, beta_r, dr, lo, hi, has_l, has_r, t0, out):
    """_model_root's loop, root by root (compiled by numba)."""
    for r in range(c.size):
        sl = 1.0 if has_l[r] else 0.0
        sr = 1.0 if has_r[r] else 0.0
        dl_ = dl[r] if has_l[r] else 0.0
        dr_ = dr[r] if has_r[r] else 0.0
        a, b, cr, bl, br, g = lo[r], hi[r], c[r], beta_l[r], beta_r[r], slope[r]
        t = min(max(t0[r], a), b)
        for _ in range(60):
            el = sl * (t - dl_) + (1 - sl)
            er = sr * (t - dr_) - (1 - sr)
            lin = cr + g * t  # (g = −1: cr − t and −el·er below, exactly)
            p = lin * el * er + bl * er + br * el
            dp = g * (el * er) + lin * (sl * er + el * sr) + bl * sr + br * sl
            if p > 0:  # p > 0 ⇔ m < 0 ⇔ root to the left
                b = t
            if p < 0:
                a = t
            step = t - p / dp
            new = step if (step > a and step < b) else 0.5 * (a + b)
            # p at its roundoff level, a step below an ulp, or a collapsed bracket
            small = abs(p) <= 4 * EPS * (abs(lin * el * er) + abs(bl * er) + abs(br * el))
            done = small or abs(new - t) <= 2 * EPS * abs(t) or b - a <= 2 * EPS * max(abs(a), abs(b))
            if not small:
                t = new
            if done:
                break
        out[r] = t


_MODEL_ROWS = kernel(_model_rows, "void(float64[:], float64[:], float64[:], float64[:], float64[:], float64[:], "
                     "float64[:], float64[:], boolean[:], boolean[:], float64[:], float64[:])", reads=tuple(range(11)))


def _model_root(c, slope, beta_l, dl, beta_r, dr, lo, hi, has_l, has_r, t0):
    """Root of m(τ) = c + gτ + β_L/(τ − δ_L) + β_R/(τ − δ_R) in (lo, hi) (g = ``slope`` ≤ −1),
    m decreasing there.

    Newton on the cubic p = m·(τ − δ_L)(τ − δ_R) (smooth, no poles; sign(p) = −sign(m) inside
    the interval), kept inside the bracket by bisection. Each root stops on its own test (its
    result does not depend on the others'); one compiled loop per root.
    """
    out = np.empty(np.shape(c))
    args = [np.ascontiguousarray(x, dtype=float) for x in (c, slope, beta_l, dl, beta_r, dr, lo, hi)]
    _MODEL_ROWS(*args, np.ascontiguousarray(has_l, dtype=bool), np.ascontiguousarray(has_r, dtype=bool),
                np.ascontiguousarray(t0, dtype=float), out)
    return out


def secular_solve(poles: np.ndarray, z: np.ndarray, s: float):
    """Roots of s − μ + Σ z_j²/(μ − λ_j) = 0 for sorted distinct ``poles`` λ and nonzero z.

    Returns (origin, tau, norm): root k = poles[origin[k]] + tau[k] lies in the k-th interval
    (k = 0 below the first pole, k = n above the last); norm[k] = n_k. One network of
    :func:`secular_solve_many` (the same numbers as in any batch).
    """
    origin, tau, norm = secular_solve_many(poles, np.asarray(z, float)[None, :], [s])
    return origin[0], tau[0], norm[0]


def secular_solve_many(poles: np.ndarray, z: np.ndarray, s) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`secular_solve` for B networks that share the poles: z (B, n) nonzero, s (B,).

    Newton on the (network, root) grid at once: every root of every network is iterated and
    stopped on its own, so a network's roots are bitwise the same alone or in any batch.
    Returns (origin, tau, norm), each (B, n + 1).
    """
    return _secular_solve(poles, z, s)[:3]


#: a root whose offset τ its equation fixes only to this relative accuracy (f's rounding over
#: its slope: a pole's weight that the rest of f nearly cancels) has its merge take ẑ (:func:`_consistent`)
VAGUE = 1e-10


def _secular_solve(poles, z, s) -> tuple:
    """:func:`secular_solve_many`'s (origin, tau, norm) and, per root, whether its τ is VAGUE:
    ε·(its terms' size)/|f′| > VAGUE·|τ| (a chain mode resonant with the probe's rest, review
    s11's pole 24: τ to 30%, where its vector's entry z_o/τ is most of it)."""
    z = np.atleast_2d(np.asarray(z, float))
    nb, n = z.shape
    s = np.broadcast_to(np.asarray(s, float), (nb,))
    z2 = z * z
    znorm = np.sqrt(z2.sum(axis=1))
    nroot = n + 1
    k = np.tile(np.arange(nroot), nb)  # root k of its network; poles j < k are left of it
    net = np.repeat(np.arange(nb), nroot)
    s_r = s[net]
    first, last = k == 0, k == n
    inner = ~first & ~last
    # origin: the nearer end of the interval, decided by the sign of f at the midpoint
    origin = np.clip(k - 1, 0, n - 1)
    gap = np.zeros(k.size)
    gap[inner] = poles[k[inner]] - poles[k[inner] - 1]
    tau = 0.5 * gap
    lo_all = np.minimum(s, poles[0]) - znorm
    hi_all = np.maximum(s, poles[-1]) + znorm
    # the outer roots' reach beyond the outer poles, ≥ ‖z‖ past max(s, λ): formed from the offsets
    # where ‖z‖ is below half an ulp of the pole and the sum above rounds it away (a bracket [0, 0])
    reach = 1 + 4 * EPS
    lo_first, hi_last = lo_all - poles[0], hi_all - poles[-1]
    lo_first = np.where(-lo_first > 0.5 * znorm, lo_first, (np.minimum(s - poles[0], 0.0) - znorm) * reach)
    hi_last = np.where(hi_last > 0.5 * znorm, hi_last, (np.maximum(s - poles[-1], 0.0) + znorm) * reach)
    tau[first] = 0.5 * lo_first[net[first]]
    tau[last] = 0.5 * hi_last[net[last]]
    psi, dpsi, phi, dphi = secular_sums(poles, z2, net, origin, tau, k)
    f = (s_r - poles[origin]) - tau + psi + phi
    # inner roots: f(mid) ≥ 0 → root in [mid, right pole) → origin = right pole
    right = inner & (f >= 0)
    origin[right] = k[right]
    tau[right] = -0.5 * gap[right]  # same midpoint, measured from the right pole
    # brackets in τ (relative to origin); poles themselves are excluded
    lo = np.where(right, -0.5 * gap, 0.0)
    hi = np.where(inner & ~right, 0.5 * gap, 0.0)
    lo[first] = lo_first[net[first]]
    hi[last] = hi_last[net[last]]
    # after moving the origin, the midpoint sums are unchanged (same μ), only bookkeeping
    has_l, has_r = ~first, ~last
    dl = np.where(has_l, poles[np.maximum(k - 1, 0)] - poles[origin], 0.0)
    dr = np.where(has_r, poles[np.minimum(k, n - 1)] - poles[origin], 0.0)
    ftol = 8 * EPS * max(1.0, np.log2(n + 1))
    # the nearest poles' weights z² (the first MIDDLE_WAY steps)
    zl = np.where(has_l, z2[net, np.maximum(k - 1, 0)], 0.0)
    zr = np.where(has_r, z2[net, np.minimum(k, n - 1)], 0.0)
    todo = np.arange(k.size)
    near = np.zeros(k.size, bool)  # |f| ≤ ftol·scale already once
    for it in range(MAX_ITER):
        i = todo
        tau_i, hl, hr = tau[i], has_l[i], has_r[i]
        before = tau_i
        el = np.where(hl, tau_i - dl[i], 1.0)
        er = np.where(hr, tau_i - dr[i], -1.0)
        shift = s_r[i] - poles[origin[i]]
        if it < MIDDLE_WAY:
            # the nearest poles with their own weights, the other poles' ψ and φ by value and
            # slope (a line); from the midpoint it lands nearer than the fixed
            # weights below, where the next poles matter (a 10⁴-site chain: 4 full sweeps of
            # the sums after the midpoint's → 3, 16% fewer root-sweeps)
            beta_l, beta_r = zl[i], zr[i]
            # (the rest's slopes are ≤ 0; a positive one is the subtraction's rounding)
            gl = np.minimum(np.where(hl, dpsi[i] + beta_l / el**2, dpsi[i]), 0.0)
            gr = np.minimum(np.where(hr, dphi[i] + beta_r / er**2, dphi[i]), 0.0)
            rest = (psi[i] - np.where(hl, beta_l / el, 0.0) - gl * tau_i) \
                + (phi[i] - np.where(hr, beta_r / er, 0.0) - gr * tau_i)
            tau_i = _model_root(shift + rest, gl + gr - 1.0, beta_l, dl[i], beta_r, dr[i], lo[i], hi[i], hl, hr,
                                tau_i)
        else:
            # the fixed weights: value and slope of ψ, φ matched separately by one pole each
            beta_l = np.where(hl, -dpsi[i] * el**2, 0.0)
            beta_r = np.where(hr, -dphi[i] * er**2, 0.0)
            alpha_l = np.where(hl, psi[i] - beta_l / el, psi[i])
            alpha_r = np.where(hr, phi[i] - beta_r / er, phi[i])
            tau_i = _model_root(shift + alpha_l + alpha_r, np.full(i.size, -1.0), beta_l, dl[i], beta_r, dr[i],
                                lo[i], hi[i], hl, hr, tau_i)
        tau[i] = tau_i
        p_, dp_, f_, df_ = secular_sums(poles, z2, net[i], origin[i], tau_i, k[i])
        psi[i], dpsi[i], phi[i], dphi[i] = p_, dp_, f_, df_
        fval = shift - tau_i + p_ + f_
        scale = np.abs(shift) + np.abs(tau_i) + p_ - f_
        lo[i] = np.where(fval > 0, tau_i, lo[i])
        hi[i] = np.where(fval < 0, tau_i, hi[i])
        # done at 8ε of the terms, or a step after reaching ftol (the sums' own roundoff, which
        # 8ε may be below; until session 15 ftol stopped it at once: the last roots at ~1e-14
        # of the terms, not ~1e-16, and the eigenvector term's residuals with them)
        ok = np.abs(fval) <= ftol * scale
        # (a root nearer 0 than its pole — a soft spectrum's lowest, |μ| ≪ |τ| — also after a step
        # within √ε|μ|: 8ε of its terms is then ε|τ|/|μ| of μ; review s15, crit 478: a first
        # merge's μ₀ = 0.0055 below poles from 2.59 stopped at 4.3e-13 of itself, the next step
        # reaches 2e-14; a chain's roots sit next to their poles, whose sweeps are unchanged)
        mu_abs = np.abs(poles[origin[i]] + tau_i)
        settled = (mu_abs >= np.abs(tau_i)) | (np.abs(tau_i - before) <= 2.0**-26 * mu_abs)
        conv = ((np.abs(fval) <= 8 * EPS * scale) & settled) | (hi[i] - lo[i] <= 4 * EPS * np.abs(tau_i)) \
            | (ok & near[i])
        near[i] |= ok
        todo = i[~conv]
        if not todo.size:
            break
    else:
        raise FloatingPointError(f"secular equation: {todo.size} roots did not converge")
    norm = 1.0 / np.sqrt(1.0 - dpsi - dphi)
    with np.errstate(divide="ignore", invalid="ignore"):  # (|f′| = 1/norm²)
        vague = ~(EPS * (np.abs(s_r - poles[origin]) + np.abs(tau) + psi - phi) * norm**2 <= VAGUE * np.abs(tau))
    return (origin.reshape(nb, nroot), tau.reshape(nb, nroot), norm.reshape(nb, nroot),
            vague.reshape(nb, nroot))


def _deflate(values: np.ndarray, z, s: float) -> _Stage:
    """The deflation of one merge (module docstring): rotations of close poles, and the split
    into coupled (active) and pass-through (deflated) previous indices."""
    n = values.size
    st = _Stage(n_prev=n)
    z = np.array(z, dtype=float)
    scale = max(float(np.abs(values).max(initial=0.0)), abs(s)) + float(np.linalg.norm(z))
    tol = 8 * EPS * scale
    # a coupling is dropped only where the probe's part of its mode, ~z_j/(λ_j − s), is below ε²
    # (or z_j² would underflow), unless λ_j and s are one level to rounding (then at 8ε of their
    # scale: a rotation within it is as good as none). 8ε‖·‖ (LAPACK's merge) lost a near pair's
    # mixing (1.2e-13 against a gap of 4e-12: a rotation of 0.029) and a stiff chain's soft-probe
    # components (~ε of the probe's weight, times ω_j² in its variance: review s10); the secular
    # solver keeps such a root as its pole + τ, τ ≈ z_j²/(λ_j − s)
    level = 8 * EPS * (np.abs(values) + abs(s))
    apart = np.abs(values - s)
    local = np.where(apart > level, EPS * EPS * apart + 1e-150 * scale, level + 8 * EPS * float(np.linalg.norm(z)))
    drop = np.minimum(tol, local)
    # close poles: in each run of them (consecutive gaps ≤ tol) rotate every coupled one into
    # the next coupled one, so that only the last couples; the secular solver needs distinct
    # poles. (A member that does not couple may sit between two that do: five equal poles with
    # couplings 6.8e-14, 2.8e-16, 3.6e-11, …, the second below its drop — pairs of neighbours
    # alone left two equal poles coupled, and the solve came out NaN: fuzz s11 pole 38.)
    last = -1  # the run's last coupled pole so far
    spread = 0.0  # Σ √2|λ_j − λ_last| over the rotations: diag(λ) rotated is diag(λ) + E, ‖E‖_F ≤ that
    # (no two poles within tol, the chain's usual case: nothing to rotate, and the loop in
    # Python was 0.2 ms of a 300-site map network)
    for j in range(n) if np.any(np.diff(values) <= tol) else ():
        if j and values[j] - values[j - 1] > tol:
            last = -1
        if abs(z[j]) <= drop[j]:
            continue
        if last >= 0:
            r = float(np.hypot(z[last], z[j]))
            c, s_ = z[j] / r, z[last] / r
            st.rotations.append((last, j, c, s_))
            spread += np.sqrt(2.0) * abs(values[j] - values[last])
            z[last], z[j] = 0.0, r
        last = j
    coupled = np.abs(z) > drop
    st.active = np.flatnonzero(coupled)
    st.deflated = np.flatnonzero(~coupled)
    st.poles = values[st.active]
    st.z = z[st.active]
    st.dropped = (float(np.linalg.norm(z[st.deflated])) + spread) * (1 + 2 * EPS * n)
    return st


def _consistent(st: _Stage, vague=None) -> None:
    """Orthogonal eigenvectors for a merge whose vectors n_k(1, z_j/(μ_k − λ_j)) are not: where
    the probe's row of them misses unit norm, |Σ_k n_k² − 1| > 8(n + 1)ε, or a root's τ is
    ``vague`` (:func:`_secular_solve`: its vector's entry z_o/τ as vague; review s11's pole 24,
    where the secular solver's first steps of session 15 found τ nearer the root, within the norm
    test, and the error went from 1e-15 to 3e-8; with ẑ 9e-16), z is replaced by the
    ẑ the computed roots are exact for (:func:`_loewner`) and the norms recomputed; the vectors
    are then those of an arrowhead within |ẑ − z| of this one (measured: ≤ 4e-16 where z ~ 0.05)
    and orthogonal to O(nε). Identical probes joined by λ and weakly plugged (a root at a
    degenerate level within ~K² of the pole it comes from) lost orthogonality this way: the
    probe rows' Gram off I by 1e-5 … 0.5, errors to 1e-4, solves refused (session 12). Other
    merges are left bitwise as they were (LAPACK's merge always takes ẑ; here that would cost
    an O(n²) pass a merge, +8% of W3)."""
    n = st.poles.size
    if not n or (abs(float(np.sum(st.norm * st.norm)) - 1.0) <= 8 * (n + 1) * EPS
                 and not (vague is not None and np.any(vague))):
        return
    z2 = np.empty(n)
    args = (np.ascontiguousarray(st.poles, float), np.ascontiguousarray(st.origin, np.int64),
            np.ascontiguousarray(st.tau, float))
    _blocks(n, lambda a, b: _LOEWNER(*args, a, b, z2), n)
    if not (np.all(np.isfinite(z2)) and np.all(z2 > 0)):
        return  # (a root off its interval: the a-posteriori bounds take the vectors as they are)
    k = np.arange(n + 1)
    _, dpsi, _, dphi = secular_sums(args[0], z2[None, :], np.zeros(n + 1, np.int64), args[1], args[2], k)
    st.z = np.copysign(np.sqrt(z2), st.z)
    st.norm = 1.0 / np.sqrt(1.0 - dpsi - dphi)


def merge_many(values: np.ndarray, zs, ss) -> list[_Stage]:
    """Eigen-decompose [[s_b, z_bᵀ], [z_b, diag(values)]] for every b (``values`` ascending):
    the secular equations of all networks with the same coupled poles solved together
    (:func:`secular_solve_many`; each network's numbers as if alone)."""
    values = np.asarray(values, float)
    ss = [float(s) for s in ss]
    stages = [_deflate(values, z, s) for z, s in zip(zs, ss)]
    groups: dict[bytes, list[int]] = {}
    for b, st in enumerate(stages):
        if st.active.size:
            groups.setdefault(st.active.tobytes(), []).append(b)
    for bs in groups.values():
        first = stages[bs[0]]
        roots = _secular_solve(first.poles, np.array([stages[b].z for b in bs]), [ss[b] for b in bs])
        for j, b in enumerate(bs):
            stages[b].origin, stages[b].tau, stages[b].norm = (r[j].copy() for r in roots[:3])
            _consistent(stages[b], roots[3][j])
    for st, s in zip(stages, ss):
        if st.active.size:
            root_vals = st.poles[st.origin] + st.tau
        else:
            st.origin, st.tau, st.norm = np.zeros(1, int), np.zeros(1), np.ones(1)
            root_vals = np.array([s])
        allv = np.concatenate([root_vals, values[st.deflated]])
        st.order = np.argsort(allv, kind="stable")
        st.values = allv[st.order]
    return stages


def merge(values: np.ndarray, z: np.ndarray, s: float) -> _Stage:
    """Eigen-decompose [[s, zᵀ], [z, diag(values)]] (``values`` ascending): one network of
    :func:`merge_many`."""
    return merge_many(values, [z], [s])[0]


@dataclass
class ArrowheadModes:
    """Normal modes of [[V_S, B W], [(B W)ᵀ, diag(d)]] for the probes added so far:
    ``values`` μ_k (ascending); rows of the eigenvector matrix through :meth:`rows`."""

    values: np.ndarray
    stages: list  # stage i added probe i
    n_env: int

    @property
    def n_probes(self) -> int:
        return len(self.stages)

    @property
    def deflation(self) -> float:
        """‖A − A'‖₂ ≤ this, A' the arrowhead whose eigenpairs the merges hold: each merge's
        dropped couplings (a border of norm ‖z_dropped‖) and its rotations of close poles (kept
        as diag(λ_last, λ_j), each off by ≤ √2|λ_j − λ_last|), carried by orthogonal maps to the
        end; every eigenvalue of A lies within it of A''s, in order (Weyl). A probe on a pole
        whose coupling there is dropped (≤ 8ε of the level) splits the pair by ±|z_j|, which
        8ε·μ_k missed where a_k = 0 (review of session 18: 1.5× the radius); close poles rotated
        by a stiff probe on a flat chain moved a mode by 4e-12 against 1.8e-15."""
        return float(sum(st.dropped for st in self.stages)) * (1 + 4 * EPS * len(self.stages))

    def transform(self, probe_part: np.ndarray, env_part: np.ndarray, *, start: int = 0) -> np.ndarray:
        """Row vectors given by their probe coordinates (k, P) and environment-mode coordinates
        (k, M) → coordinates in the eigenbasis (k, N). ``start``: ``env_part`` is already in
        the eigenbasis of the first ``start`` probes (rows a shared base transformed once)."""
        vec = np.atleast_2d(env_part)
        probe_part = np.atleast_2d(probe_part)
        for i, st in enumerate(self.stages[start:], start):
            vec = st.apply(np.hstack([probe_part[:, i:i + 1], vec]))
        return vec

    def pole_offsets(self, env_d) -> tuple[np.ndarray, np.ndarray]:
        """Each mode's μ as base + off the way the merges hold it (a root: its origin pole's
        base, off the offsets τ of its merges summed; ``env_d`` the environment's poles, the
        first bases): μ − d_i = (base − d_i) + off keeps its digits next to the pole it descends
        from, where the rounded μ̃ − d_i had lost them (a root 1e-14 above a pole at 0.024:
        relative 1e-4)."""
        base, off = np.array(env_d, float), np.zeros(self.n_env)
        for st in self.stages:
            if st.active.size:
                prev = st.active[st.origin]
                rb, roff = base[prev], off[prev] + st.tau
            else:  # an uncoupled probe: its own value
                rb, roff = st.values[st.order < st.tau.size], np.zeros(st.tau.size)
            base = np.concatenate([rb, base[st.deflated]])[st.order]
            off = np.concatenate([roff, off[st.deflated]])[st.order]
        return base, off

    def columns(self, ks) -> tuple[np.ndarray, np.ndarray]:
        """Columns ``ks`` of U, as (probe part (P, b), environment-mode part (M, b)): each
        stage's eigenvectors n_r(1, z_l/(μ_r − λ_l)) (a deflated pole: its unit vector, the
        rotations undone) applied to the column over its new basis, from the last probe's
        stage back to the environment's modes — :meth:`rows` transposed, O(Σ n²·b)."""
        ks = np.atleast_1d(np.asarray(ks, int))
        v = np.zeros((self.values.size, ks.size))
        v[ks, np.arange(ks.size)] = 1.0
        probe = np.zeros((self.n_probes, ks.size))
        for i in range(self.n_probes - 1, -1, -1):
            st = self.stages[i]
            nroot = st.tau.size
            at = np.empty(st.order.size, int)
            at[st.order] = np.arange(st.order.size)  # position in [roots, deflated] → new index
            roots = v[at[:nroot]] * st.norm[:, None]
            w = np.zeros((st.n_prev, ks.size))
            w[st.deflated] = v[at[nroot:]]
            if st.active.size:
                acc = np.zeros((st.poles.size, ks.size))
                for a, b in _block_ranges(nroot, st.poles.size):  # (row blocks of ≲ 2 MB, as apply's)
                    inv = np.empty((b - a, st.poles.size))
                    _INVERSES(st.poles, st.origin[a:b], st.tau[a:b], inv)
                    acc += inv.T @ roots[a:b]
                w[st.active] = st.z[:, None] * acc
            probe[i] = roots.sum(axis=0)
            for a, b, c, s in reversed(st.rotations):
                wa, wb = w[a].copy(), w[b].copy()
                w[a], w[b] = c * wa + s * wb, c * wb - s * wa
            v = w
        return probe, v

    def rows(self, probe_rows=None, env_rows=None) -> np.ndarray:
        """Rows of U: ``probe_rows`` (k, P) in probe coordinates and ``env_rows`` (k, M) in the
        environment's mode basis, stacked (probe rows first)."""
        p, m = self.n_probes, self.n_env
        out = []
        if probe_rows is not None:
            pr = np.atleast_2d(probe_rows)
            out.append(self.transform(pr, np.zeros((pr.shape[0], m))))
        if env_rows is not None:
            er = np.atleast_2d(env_rows)
            out.append(self.transform(np.zeros((er.shape[0], p)), er))
        return np.vstack(out)


def _new_row(stages, vs: np.ndarray, env_c: np.ndarray, i: int) -> np.ndarray:
    """Probe i's couplings (V_S[i, :i], env_c[i]) in the eigenbasis of ``stages`` (probes 0..i−1)."""
    zrow = env_c[i][None, :]
    head = vs[i, :i][None, :]
    for j, st in enumerate(stages):
        zrow = st.apply(np.hstack([head[:, j:j + 1], zrow]))
    return zrow[0]


def arrowhead_modes(vs: np.ndarray, env_d: np.ndarray, env_c: np.ndarray, *,
                    base: ArrowheadModes | None = None) -> ArrowheadModes:
    """Normal modes of probes (V_S, P × P) coupled by env_c = B·W_E (P × M) to environment
    modes with squared frequencies env_d (M, ascending; equal or uncoupled ones are deflated).

    Probe i is added to the eigenbasis of probes 0..i−1 and the environment, with diagonal
    V_S[i, i] and couplings V_S[i, :i], env_c[i]. ``base``: the modes of the first k probes of
    this same problem (same V_S[:k, :k], env_c[:k], env_d), to continue from — what a sweep over
    the position of the last probe shares.
    """
    vs = np.asarray(vs, float)
    env_c = np.asarray(env_c, float)
    values = np.asarray(env_d, float) if base is None else base.values
    stages: list[_Stage] = [] if base is None else list(base.stages)
    for i in range(len(stages), vs.shape[0]):
        st = merge(values, _new_row(stages, vs, env_c, i), float(vs[i, i]))
        stages.append(st)
        values = st.values
    return ArrowheadModes(values, stages, int(np.asarray(env_d).size))


def arrowhead_modes_many(vs_list, env_d: np.ndarray, env_c_list, *,
                         base: ArrowheadModes | None = None) -> list[ArrowheadModes]:
    """:func:`arrowhead_modes` of many networks that share all probes but the last: ``base``
    the modes of the shared first P − 1 probes (None: P = 1), then one (V_S, env_c) per network
    (P × P, P × M). The last probe's secular equations are solved together
    (:func:`merge_many`); each network's modes are bitwise those :func:`arrowhead_modes` gives
    it with the same ``base``."""
    values = np.asarray(env_d, float) if base is None else base.values
    stages: list[_Stage] = [] if base is None else list(base.stages)
    p = len(stages) + 1
    zs, ss = [], []
    for vs, env_c in zip(vs_list, env_c_list):
        vs, env_c = np.asarray(vs, float), np.asarray(env_c, float)
        if vs.shape[0] != p:
            raise ValueError(f"arrowhead_modes_many: {vs.shape[0]} probes on a base of {p - 1}")
        zs.append(_new_row(stages, vs, env_c, p - 1))
        ss.append(float(vs[p - 1, p - 1]))
    return [ArrowheadModes(st.values, stages + [st], int(np.asarray(env_d).size))
            for st in merge_many(values, zs, ss)]


def arrowhead_errors(mu, a, vs, env_d, env_c, radius, env_rounding, *, count: int = 128,
                     merged=None, unseen=None) -> np.ndarray:
    """Per-mode bounds e_k ≥ |μ̃_k − λ_k| for the structured (chain) path, whose modes are
    those of the arrowhead A = [[V_S, C], [Cᵀ, diag(d)]] (d = ``env_d``, C = ``env_c``; A is
    orthogonally similar to V). ``radius`` (N,): the a-priori bound, kept for all but the
    ``count`` modes with the largest probe rows a_k (P,), which are refined a posteriori:
    x_k = (a_k, y_k) with y_kj = (Cᵀa_k)_j/(μ̃_k − d_j) makes the environment block of
    A x_k − μ̃_k x_k (nearly) vanish, so the residual costs O(M·P) per mode
    (:func:`.roundoff.arrow_refine`: error-free transformations in double). The computed d and
    C differ from the exact ones by |δd_j| ≤ 8ε d_j (Ω0² + 4g sin²(…), a sum of non-negative
    terms, sin to a few ulps) and |δC_ij| ≤ 12ε·√(2/M)·Σ_s |K_is| (``coupling_sum``: C = B·W_E
    with closed-form rows √(2/M)·sin(π·n/(M+1)) of exact integers n: the argument carries
    ≤ 2.6u of 2π, the sine, the square root and the product a few u more, absolute),
    V_S's diagonal (ω² + Σλ) by (P + 1)·(ε/2) of its absolute terms; these enter ρ and the
    residual as in :func:`~harmosync.dynamics.spectrum.rayleigh_errors`, then :func:`.roundoff.enclose` (residual theorem,
    Kato–Temple) with ``radius`` as the enclosure of the other modes. Modes with μ̃_k equal to
    some d_j or a_k = 0 keep ``radius``, or with ``merged``, the smaller of it and their
    enclosure from the merges' own columns (:func:`_column_refine`).

    ``merged``: ks → the merges' own columns ks (:meth:`ArrowheadModes.columns`) or None. A
    refined mode whose residual bound exceeds POOR = 1e-12 of the matrix's scale is enclosed
    again from its own column, residual in long double (:func:`_column_refine`), and keeps the
    smaller of the two (both bound |μ̃_k − λ_k|): next to a pole y = Cᵀa/(μ̃ − d) divides a_k's
    rounding by μ̃ − d_j (s11 fuzz res 28: a chain mode 3.5e-15 from its pole, η = 1.5e-7 against
    an actual error of 2e-16). At most :func:`column_cap` columns a call (the most probe-like
    modes first).

    ``unseen``: (μ̃, radii) of the modes left out of ``mu`` (no probe and no observed oscillator
    sees them: :func:`~harmosync.dynamics.spectrum.seen_modes`) or None. Their eigenvalues are
    A's too: the residual theorem's intervals and Kato–Temple's gaps count them (review of
    session 18: a probe's mode beside a left-out pole 3.2e-15 away was given 3.1e-15)."""
    ld = np.longdouble
    mu = np.asarray(mu, float)
    a = np.atleast_2d(np.asarray(a, float))
    p, n = a.shape
    rho, half, eta = mu.astype(ld), np.asarray(radius, float).copy(), np.zeros(n)
    if n == 0 or p == 0 or env_c.size == 0:
        return half
    eps = np.finfo(float).eps
    idx = np.argsort(-np.sum(a * a, axis=0), kind="stable")[: min(count, n)]
    # μ̃ within 8ε of some d_j: ŷ_j = (Cᵀa)_j/(μ̃ − d_j) is rounding over rounding (a root kept a
    # pole + 1e-40 by the merge rounds to the pole or an ulp off, and its residual, ~‖V‖, set
    # e = 5e8 beside μ = 3.7e9); a = 0: x = 0 (both keep the a-priori radius)
    d_sorted = np.sort(np.asarray(env_d, float))
    if d_sorted.size:
        pos = np.clip(np.searchsorted(d_sorted, mu[idx]), 1, d_sorted.size) - 1
        near = np.minimum(np.abs(mu[idx] - d_sorted[pos]),
                          np.abs(mu[idx] - d_sorted[np.minimum(pos + 1, d_sorted.size - 1)]))
        on_pole = near <= 8 * eps * np.abs(mu[idx])
    else:
        on_pole = np.zeros(idx.size, bool)
    k = idx[~on_pole & np.any(a[:, idx] != 0, axis=0)]
    d_vs = probe_rounding(vs)
    if k.size:
        rho[k], half[k], eta[k] = arrow_refine(a[:, k], mu[k], vs, env_d, env_c, d_vs, env_rounding)
    # the on-pole modes (and a = 0) from the merges' own columns: a probe resonant with a chain
    # mode that has a node at its site leaves that mode at its pole, whose a-priori radius
    # (s11 fuzz pole 0: 9e-14 against an actual 1e-17) set the phase terms
    at_pole = idx[on_pole | ~np.any(a[:, idx] != 0, axis=0)] if merged is not None else idx[:0]
    at_pole = at_pole[: column_cap(env_c.shape[1])]
    given = None
    if at_pole.size:
        given = (at_pole, np.vstack(merged(at_pole)))  # (the columns their η is for, kept)
        rho[at_pole], half[at_pole], eta[at_pole] = _column_refine(
            given[1].astype(ld), mu[at_pole], vs, env_d, env_c, d_vs, env_rounding)
    # the left-out modes' intervals beside these (ordered by μ̃; none: the same arrays)
    un_mu, un_r = (np.zeros(0), np.zeros(0)) if unseen is None else (np.asarray(x, float) for x in unseen)
    order = np.argsort(np.concatenate([mu, un_mu]), kind="stable") if un_mu.size else np.arange(n)
    at = np.empty(order.size, int)
    at[order] = np.arange(order.size)
    at = at[:n]  # kept mode i → its place among all

    def union(kept, left):
        if not un_mu.size:
            return np.asarray(kept)
        return np.concatenate([np.asarray(kept), np.asarray(left, np.asarray(kept).dtype)])[order]

    def enclose_all(rho, half, eta):
        return enclose(union(mu, un_mu), union(rho, un_mu), union(half, un_r), union(eta, np.zeros(un_mu.size)),
                       union(np.asarray(radius, float), un_r))[at]

    e = enclose_all(rho, half, eta)
    e[at_pole] = np.minimum(e[at_pole], np.asarray(radius, float)[at_pole])
    if k.size + at_pole.size > 1:  # (nearly) degenerate modes (identical probes at mirror sites,
        # a probe resonant with a pole at a node of its site): one subspace
        columns = partial(_arrow_columns, a, mu, np.asarray(vs, float), np.asarray(env_d, float),
                          np.asarray(env_c, float), d_vs, env_rounding, rho, given=given)
        kept_of = np.full(order.size, -1)
        kept_of[at] = np.arange(n)
        e = cluster_enclose(union(mu, un_mu), union(rho, un_mu), union(half, un_r),
                            union(eta, np.zeros(un_mu.size)), lambda ids: columns(kept_of[ids]),
                            np.sort(at[np.concatenate([k, at_pole])]), union(e, un_r))[0][at]
    if merged is not None:
        # (k: the refined modes, in the order of their probe rows' weight)
        scale = np.abs(mu[k]) + float(np.max(np.abs(env_d), initial=0.0)) + float(np.max(np.abs(vs), initial=0.0))
        poor = k[eta[k] > POOR * scale]
        poor = poor[: column_cap(env_c.shape[1])]
        if poor.size:
            pc, ec = merged(poor)
            r2, h2, e2 = _column_refine(np.vstack([pc, ec]).astype(ld), mu[poor], vs, env_d, env_c, d_vs,
                                        env_rounding)
            rho[poor], half[poor], eta[poor] = r2, h2, e2
            e = np.minimum(e, enclose_all(rho, half, eta))
    return e


#: at most this many of the merges' own columns a call (:func:`column_cap`)
MAX_COLUMNS = 1024


def column_cap(n_env: int) -> int:
    """How many of the merges' own columns one call may form (:meth:`ArrowheadModes.columns`):
    they share one O(P·N²) pass over each stage's Cauchy matrix, then cost a product each; at most
    MAX_COLUMNS and ≲ 32 MB of them (``n_env`` rows). A budget of P·N² a column gave none from
    about 4000 modes on: a degenerate probe pair beside a 5000-site chain's mode kept
    e = 4.2e-6 against 8.6e-14 with its columns, and a bound 130× looser (session 21)."""
    return min(MAX_COLUMNS, max(16, (1 << 22) // max(int(n_env), 1)))
#: a refined mode whose residual bound η exceeds this times (|μ̃| + max d + max|V_S|) is enclosed
#: again from the merges' own column (its vector (a, Cᵀa/(μ̃ − d)) is off the eigenvector)
POOR = 1e-12


def _column_refine(x, mu, vs, env_d, env_c, d_vs, env_rounding) -> tuple:
    """:func:`.roundoff.arrow_refine`'s (ρ, half, η) for given columns ``x`` (P + M, b) in long
    double: the residual s = (A − μ̃)x and ρ = μ̃ + xᵀs/‖x‖² in long double
    (:func:`arrow_residual`), with its arithmetic bounded entrywise by γ(|A| + |μ̃|)|x|
    (γ = 1.01(P + M + 4)ε_ld) and the input's rounding by |δA||x|: half ≥ |x|ᵀ(γ·mag + |δA||x|)/‖x‖²
    plus the sums' rounding, η ≥ (‖s‖ + ‖γ·mag‖ + ‖|δA||x|‖)/‖x‖."""
    ld = np.longdouble
    res, mag, da = arrow_residual(x, mu, vs, env_d, env_c, d_vs, env_rounding)
    eps_ld = float(np.finfo(ld).eps)
    gam = 1.01 * (x.shape[0] + 4) * eps_ld
    ax = np.abs(x)
    n2 = np.sum(x * x, axis=0)
    rho = np.asarray(mu, float).astype(ld) + np.sum(x * res, axis=0) / n2
    err = (gam * mag).astype(float) + da
    half = ((np.sum(ax.astype(float) * err, axis=0) + 2 * gam * np.sum(ax * np.abs(res), axis=0).astype(float))
            / n2.astype(float)) * (1 + 1e-9) + 2 * eps_ld * np.abs(rho.astype(float))
    eta = ((np.sqrt(np.sum(res * res, axis=0)).astype(float) + np.sqrt(np.sum(err * err, axis=0)))
           / np.sqrt(n2.astype(float))) * (1 + 1e-9)
    return rho, half, eta


def yhat(a, mu, env_d, env_c, fix=None, off=None) -> np.ndarray:
    """ŷ_kj = (Cᵀa_k)_j/(μ_k − d_j) (M, b) for modes (μ = ``mu`` + ``off`` (b,), the difference
    formed as (mu − d_j) + off; probe rows ``a`` (P, b)), bit for bit as
    :func:`.roundoff.arrow_refine` and :func:`.roundoff.arrow_vectors` form it; ``fix``:
    (column, pole j, value) overrides."""
    a = np.atleast_2d(np.asarray(a, float))
    env_c = np.atleast_2d(np.asarray(env_c, float))
    cta = env_c[0][:, None] * a[0]
    for i in range(1, a.shape[0]):
        cta = cta + env_c[i][:, None] * a[i]
    den = np.asarray(mu, float) - np.asarray(env_d, float)[:, None]
    if off is not None:
        den = den + np.asarray(off, float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        y = cta / den
    for col, j, val in fix or ():
        y[j, col] = val
    return y


def probe_rounding(vs) -> np.ndarray:
    """Bounds on V_S's rounding against the parameters, per probe, charged as a diagonal δV_S:
    (P + 1)·(ε/2) of its absolute terms (:func:`arrowhead_errors`)."""
    vs = np.asarray(vs, float)
    p = vs.shape[0]
    diag = np.abs(np.diag(vs))
    return (p + 1) * 0.5 * EPS * (diag + 2 * (np.abs(vs).sum(axis=1) - diag))


def arrow_residual(x, mu, vs, env_d, env_c, d_vs, env_rounding) -> tuple:
    """For columns ``x`` (P + M, b) in long double and shifts ``mu`` (b,) of the arrowhead
    A = [[V_S, C], [Cᵀ, diag(d)]]: (the residual (A − μ)x in long double, its terms' magnitude
    (|A| + |μ|)|x| in long double, and |δA||x| in double for |δA| ≤ (diag ``d_vs``, δC, δd),
    ``env_rounding`` = (δd, δC))."""
    ld = np.longdouble
    p = np.shape(vs)[0]
    c, m_ld = np.asarray(env_c, float).astype(ld), np.asarray(mu, float).astype(ld)
    vs_ld, d_ld = np.asarray(vs, float).astype(ld), np.asarray(env_d, float).astype(ld)
    ax, ac, amu = np.abs(x), np.abs(c), np.abs(m_ld)
    res = np.vstack([vs_ld @ x[:p] + c @ x[p:] - m_ld * x[:p],
                     c.T @ x[:p] + d_ld[:, None] * x[p:] - m_ld * x[p:]])
    mag = np.vstack([np.abs(vs_ld) @ ax[:p] + ac @ ax[p:] + amu * ax[:p],
                     ac.T @ ax[:p] + np.abs(d_ld)[:, None] * ax[p:] + amu * ax[p:]])
    dd, dc = (np.asarray(v, float) for v in env_rounding)
    axf = ax.astype(float)
    da = np.vstack([d_vs[:, None] * axf[:p] + dc @ axf[p:], dc.T @ axf[:p] + dd[:, None] * axf[p:]])
    return res, mag, da


def _arrow_columns(a, mu, vs, env_d, env_c, d_vs, env_rounding, rho, idx, given=None) -> tuple:
    """:func:`~.softgeometry.cluster_enclose`'s columns for the arrowhead modes ``idx``
    (:func:`arrowhead_errors`): x_k = (a_k, ŷ_k) exactly as :func:`.roundoff.arrow_refine` forms
    them (the same products and sums, in the same order; its η_k are for these x), or for the
    modes in ``given`` = (modes, their columns (P + M, ·)) those columns (the merges' own, which
    :func:`_column_refine` enclosed), their
    residuals (A − ρ_k)x_k in long double (ρ_k: ``rho``, arrow_refine's), and an entrywise
    allowance: long double's γ_{n+2}(|A| + |μ̃|)|x| for the products and sums, 2ε_ld(|r| + |ρ − μ̃||x|)
    for the shift to ρ, ε|r| for the rounding to double, |δA||x| for the input's rounding."""
    ld = np.longdouble
    ag, mg = a[:, idx], mu[idx]
    x = np.vstack([ag, yhat(ag, mg, env_d, env_c)])
    if given is not None:
        where = {int(k): c for c, k in enumerate(given[0])}
        for c, k in enumerate(idx):
            if int(k) in where:
                x[:, c] = given[1][:, where[int(k)]]
    x = x.astype(ld)
    m_ld, ax = mg.astype(ld), np.abs(x)
    res, mag, da = arrow_residual(x, mg, vs, env_d, env_c, d_vs, env_rounding)
    eps_ld = float(np.finfo(ld).eps)
    nrm = np.sqrt(np.sum(x * x, axis=0))
    dq = np.asarray(rho, ld)[idx] - m_ld
    resid = res - dq * x
    gam = 1.01 * (x.shape[0] + 4) * eps_ld
    arith = (gam * mag + 2 * eps_ld * (np.abs(res) + np.abs(dq) * ax)).astype(float)
    rf = (resid / nrm).astype(float)
    nf = nrm.astype(float)
    allow = (arith / nf + da / nf) * (1 + 1e-9) + np.finfo(float).eps * np.abs(rf)
    return x, (x / nrm).astype(float), rf, allow


def chain_mode_errors(mu, a, vs, env_d, env_c, env_rounding, *, count: int, merged=None, deflation: float = 0.0,
                      unseen=None) -> np.ndarray:
    """Bounds e_k ≥ |μ̃_k − μ_k| for the chain path's modes (``mu``, probe rows ``a``): the worst
    case 8ε(μ_k + 2‖V‖·|a_k|) (coupling rows perturbed by ≤ 8ε‖V‖, roots by 8εμ_k) plus the merges'
    ``deflation`` (:attr:`ArrowheadModes.deflation`, Weyl), the ``count`` most probe-like modes
    refined in extended precision (:func:`arrowhead_errors`, ≈ 2 ms for 128 modes of a 300-site
    network) when ``env_rounding`` is known. ``unseen``: μ̃ of the modes left out of ``mu`` (a = 0:
    the worst case 8εμ plus the deflation), or None."""
    un = np.zeros(0) if unseen is None else np.asarray(unseen, float)
    top = max(float(mu[-1]), float(un.max(initial=0.0)))
    e_v = 8 * EPS * top
    mu_err = e_v * (mu / top + 2 * np.linalg.norm(a, axis=0)) + deflation
    if env_rounding is not None:
        mu_err = arrowhead_errors(mu, a, vs, env_d, env_c, mu_err, env_rounding, count=count, merged=merged,
                                  unseen=(un, e_v * (un / top) + deflation) if un.size else None)
    return mu_err


def chain_rounding(env_d, env_c, m: int, omega0: float, g: float, boundary: str, attachments):
    """Entrywise bounds (δd (M,), δC (P, M)) on |d_exact − env_d| and |C_exact − env_c| for a
    homogeneous fixed/free chain of ``m`` sites: the closed forms of
    :func:`~harmosync.network.chain_modes` and :func:`~harmosync.network.chain_mode_rows`
    recomputed in extended precision from Ω0, g and the strengths K (``attachments``: 0-based
    probe, 1-based site, K), plus 64 units of its roundoff. The extended-precision spectrum and
    site rows are kept for the next call (a map's networks share them: 0.18 → 0.03 ms a 300-site
    network)."""
    ld = np.longdouble
    kept = m <= KEPT_UP_TO
    d = (_spectrum_kept if kept else _chain_spectrum_ld)(m, float(omega0), float(g), boundary)
    table = None if kept else _trig_table_ld(m, boundary)  # (one table for all rows of this call)
    c = np.zeros(np.shape(env_c), ld)
    scale = np.zeros(c.shape[0])
    for i, s, kk in attachments:
        c[i] += ld(kk) * (_row_kept(m, boundary, int(s)) if kept else _row_ld(m, boundary, int(s), table))
        scale[i] += abs(kk) * np.sqrt(2.0 / m)
    eps_ld = float(np.finfo(ld).eps)
    dd = np.abs(d - np.asarray(env_d, ld)).astype(float) + 64 * eps_ld * np.abs(np.asarray(env_d, float))
    dc = np.abs(c - np.asarray(env_c, ld)).astype(float) + 64 * eps_ld * scale[:, None]
    return dd * (1 + 1e-9), dc * (1 + 1e-9)


#: chains up to this many sites keep their extended-precision spectrum, trig table and rows between
#: calls (≤ 1024 rows, ≲ 70 MB)
KEPT_UP_TO = 4096


def _kept(maxsize: int):
    """functools.lru_cache whose values are read-only (shared between calls)."""
    def wrap(f):
        @lru_cache(maxsize=maxsize)
        def inner(*args):
            out = f(*args)
            out.setflags(write=False)
            return out
        return inner
    return wrap


def _chain_spectrum_ld(m: int, omega0: float, g: float, boundary: str) -> np.ndarray:
    """The chain's d in extended precision (:func:`chain_rounding`)."""
    ld = np.longdouble
    fixed = boundary == "fixed"
    k = np.arange(1, m + 1) if fixed else np.arange(m)
    return ld(omega0) ** 2 + 4 * ld(g) * np.sin(PI_LD * k / (2 * (m + 1) if fixed else 2 * m)) ** 2


def _row_ld(m: int, boundary: str, s: int, table) -> np.ndarray:
    """The chain's mode row of site ``s`` (1-based) in extended precision (:func:`chain_rounding`),
    its entries from ``table`` (:func:`_trig_table_ld`'s: the sines or cosines of π·q/(M + 1) or
    π·q/2M the closed form takes, the same numbers)."""
    ld = np.longdouble
    if boundary == "fixed":
        k = np.arange(1, m + 1)
        return np.sqrt(ld(2) / (m + 1)) * table[np.mod(s * k, 2 * (m + 1))]
    k = np.arange(m)
    row = np.sqrt(ld(2) / m) * table[np.mod((2 * s - 1) * k, 4 * m)]
    row[0] = 1 / np.sqrt(ld(m))
    return row


def _trig_table_ld(m: int, boundary: str) -> np.ndarray:
    """sin(π·q/(M + 1)), q < 2(M + 1) (fixed ends), or cos(π·q/2M), q < 4M (free), in extended
    precision: every site's row of :func:`_row_ld` takes its entries from it."""
    if boundary == "fixed":
        q = np.arange(2 * (m + 1))
        return np.sin(PI_LD * q / (m + 1))
    q = np.arange(4 * m)
    return np.cos(PI_LD * q / (2 * m))


_spectrum_kept = _kept(4)(_chain_spectrum_ld)
_table_kept = _kept(4)(_trig_table_ld)
_row_kept = _kept(1024)(lambda m, boundary, s: _row_ld(m, boundary, s, _table_kept(m, boundary)))
