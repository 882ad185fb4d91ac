"""Sums of damped exponentials f_c(t_j) = 2 Re Σ_m b_mc e^{λ_m t_j} on a uniform grid t_j = t0 + jh.

Re λ_m ≤ 0 (the damped modes of :mod:`.damped`, one of each conjugate pair). Two evaluators,
same result:

* :func:`direct` — blocked BLAS: one table [Re, Im] e^{λ_m τ_i}, τ_i = ih (i < J), reused for
  every block, the coefficients rotated by e^{λ_m t_s} at each block start; 4·T·K·C flops.
* :func:`nufft` — writes λ = −r + iω and, in a chunk of L times centred on t_c,
  e^{λt} = e^{iωt} e^{−r t_c} Σ_{p ≤ P} (−r)^p (t − t_c)^p / p!: P + 1 undamped trig sums per
  chunk by the non-uniform FFT of :mod:`.trigsum` (its relative error ~1e-14 of Σ|c|). Modes
  with r·Lh/2 > ``X_MAX`` (strongly damped: a probe's own modes) are summed directly. The Taylor
  remainder is below X_MAX^{P+1}/(P+1)! ≤ 1e-17 of each mode's weight.

:func:`evaluate` picks the cheaper by the cost models of :mod:`.trigsum`.
"""

from __future__ import annotations

import numpy as np

from . import trigsum as ts

#: largest r·(half a chunk) for the Taylor series of the damping
X_MAX = 0.05
#: bytes of the non-uniform FFT's work arrays per group of columns
GROUP_BYTES = 16 << 20
#: numbers in the table of :func:`direct` (2K reals per time; 128 MB), at most 2048 times
TABLE_NUMBERS = 1 << 24


def taylor_terms(x: float = X_MAX) -> int:
    """P: the smallest order with x^{P+1}/(P+1)! ≤ 1e-17."""
    p, term = 0, x
    while term > 1e-17:
        p += 1
        term *= x / (p + 1)
    return p


def direct(lam, b, t0: float, h: float, count: int):
    """Yield (start, values (B, C)) blocks by BLAS products (module docstring)."""
    k = lam.size
    jmax = int(min(count, 2048, max(64, TABLE_NUMBERS // max(2 * k, 1))))
    e = np.exp(np.outer(h * np.arange(jmax), lam))
    table = np.hstack([e.real, e.imag])
    for start in range(0, count, jmax):
        stop = min(start + jmax, count)
        bs = b * np.exp(lam * (t0 + h * start))[:, None]
        yield start, 2 * (table[: stop - start] @ np.vstack([bs.real, -bs.imag]))


def nufft(lam, b, t0: float, h: float, count: int, *, chunk: int):
    """Yield (start, values (L, C)) chunks by the non-uniform FFT with the damping expanded in a
    Taylor series about each chunk's centre (module docstring)."""
    # the chunk and grid trigsum's cost model picks (small cache-resident grids), at most ``chunk``
    length, grid = ts.chunk_plan(lam.size, b.shape[1], count, chunk)
    r, w = -lam.real, lam.imag
    half = 0.5 * h * (length - 1)
    slow = r * half <= X_MAX
    fast = ~slow
    terms = taylor_terms()
    plan = ts.NufftPlan(w[slow], h, length, grid)
    bs, rs = 2 * b[slow], r[slow]
    bf, lf = b[fast], lam[fast]
    tau = h * np.arange(length) - half  # t − t_c
    # columns in groups whose FFT work arrays (grid × group/2 complex) stay ≤ GROUP_BYTES: the
    # allocator can reuse them instead of mapping fresh memory at every call
    group = int(max(2, 2 * (GROUP_BYTES // (16 * plan.grid))))
    for start in range(0, count, length):
        tc = t0 + h * start + half
        decay = np.exp(-rs * tc)[:, None]
        out = np.zeros((length, b.shape[1]))
        for g0 in range(0, b.shape[1], group):
            cols = slice(g0, min(g0 + group, b.shape[1]))
            coef = bs[:, cols] * decay
            weight = np.ones(length)
            for p in range(terms + 1):
                t_start = np.longdouble(t0) + np.longdouble(h) * start
                out[:, cols] += weight[:, None] * plan.evaluate(coef, t_start)
                coef = coef * (-rs)[:, None]
                weight = weight * tau / (p + 1)
        if lf.size:
            times = t0 + h * (start + np.arange(length))
            out += 2 * np.real(np.exp(np.outer(times, lf)) @ bf)
        yield start, out[: min(length, count - start)]


#: the damped sums' NUFFT (complex coefficients, a Taylor term per evaluation, per-chunk Python)
#: against trigsum's cost model: measured 25–29× slower than it predicts (N = 302…1000,
#: C = 20…132, T = 3e4…2e5; the direct BLAS sums 0.04–0.6 s there), so "auto" compares this
#: much. (trigsum's session-5 model had made "auto" pick the NUFFT for O1: moments 0.19 → 0.85 s)
NUFFT_SLOWDOWN = 25.0


def nufft_chunk(ncols: int) -> int:
    """Chunk length: the FFT grid and output (≈ 48·L·C bytes) stay ≤ 400 MB, L ≤ 2¹⁶."""
    length = int(400e6 / (48 * max(ncols, 1)))
    return int(min(1 << 16, max(1 << 12, 1 << int(np.log2(max(length, 1))))))


def evaluate(lam, b, t0: float, h: float, count: int, *, engine: str = "auto"):
    """(relative error of the evaluator, generator of blocks (start, values)) by the cheaper
    evaluator ("auto"), or ``engine`` "direct" / "nufft". The error is relative to Σ_m |2b_mc|:
    ε-level for direct, ``nufft_error``'s for the non-uniform FFT."""
    k, ncols = lam.size, b.shape[1]
    chunk = nufft_chunk(ncols)
    if engine == "auto":
        length = min(chunk, count)
        nfast = int(np.sum(-lam.real * 0.5 * h * (length - 1) > X_MAX))
        cost_nufft = (NUFFT_SLOWDOWN * (taylor_terms() + 1) * ts.nufft_cost(k - nfast, ncols, count, chunk)
                      + ts.direct_cost(nfast, ncols, count))
        engine = "nufft" if cost_nufft < ts.direct_cost(k, ncols, count) else "direct"
    if engine == "nufft":
        return (taylor_terms() + 2) * 1e-14, nufft(lam, b, t0, h, count, chunk=chunk)
    return 4 * np.finfo(float).eps, direct(lam, b, t0, h, count)
