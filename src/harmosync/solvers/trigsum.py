"""Trig sums f_c(t_j) = Σ_k α_kc cos(w_k t_j) + β_kc sin(w_k t_j) on a uniform grid t_j = t0 + j h.

Two evaluators, same result:

* :func:`direct` — blockwise BLAS: t = t_b + τ_i with one table cos/sin(w τ_i) (block × N) and
  the rotated coefficients at each block start; cost ≈ 4·T·N·C flops.
* :func:`nufft` — a type-1 non-uniform FFT in chunks of L outputs: with x_k = w_k h,
  f(j) = Re Σ_k c_k e^{i j x_k}, c_k = (α_k − iβ_k) e^{i w_k t_s} at the chunk's start. The points
  x_k are spread onto a grid of G ≥ σL + W points (σ = ``UPSAMPLE`` = 1.75) with the "exponential
  of semicircle" kernel φ(z) = exp(β(√(1 − z²) − 1)), |z| ≤ 1, of width W = 18 grid points and
  β = 2.2·W (Barnett, Magland & af Klinteberg, SIAM J. Sci. Comput. 41, C479 (2019): their
  β ≈ 0.97πW(1 − 1/2σ) = 2.13·W; 2.2·W measured as good), one FFT per pair of real columns, each
  output divided by the kernel's Fourier transform (Gauss–Legendre quadrature). Relative error
  ≲ 3e-15 of Σ_k |c_k| (tests: against long-double direct sums, σ = 1.75 … 2.5). σ = 1.25–1.5
  would need W = 20–26 and the deconvolution then amplifies the FFT's roundoff 200–10⁵ times:
  no better than 1e-12 in double precision. The grid G is a 5-smooth length chosen by a cost
  model (:func:`chunk_plan`): small grids (2–7 k points) stay in a core's cache, where ducc0's
  FFT (:func:`inverse_fft`) runs ≈ 3.5 ns per point against 6–7 ns at 2¹⁴ — more chunks, each
  spread once (a cheap compiled pass over the points, only onto the grid points they touch).

Memory: O(N·C + G·C) per chunk, independent of the total number of times; each thread keeps
its last FFT grids (input and output, 2 × 16·G·C/2 bytes) for the next chunk or evolution.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache

import ducc0.fft  # ≈ 4 ms to import
import numpy as np

from ..jit import fma, kernel
from . import PI_LD

WIDTH = 18  # kernel width in grid points
BETA = 2.20 * WIDTH
UPSAMPLE = 1.75  # least grid points per output (σ)
#: threads for the FFTs (-1: all cores); set to 1 in each worker of a process pool
FFT_WORKERS = -1
#: longest chunk the cost model considers, in outputs
MAX_LENGTH = 1 << 16
#: a multiple of ducc0's SIMD group of complex rows (4 on the benchmark machine; 1–8 elsewhere)
SIMD_ROWS = 16
#: 2π in extended precision (np.pi·2 is 2.4e-16 off: a phase error growing with w·t)
TWO_PI = 2 * PI_LD
_LOCAL = threading.local()
_POOL: list = [None]


@contextmanager
def fft_threads(count: int):
    """FFT threads for the transforms this thread runs inside the block (instead of
    ``FFT_WORKERS``): 1 when the caller already runs one evaluation per core."""
    old = getattr(_LOCAL, "workers", None)
    _LOCAL.workers = int(count)
    try:
        yield
    finally:
        _LOCAL.workers = old


def direct(w, alpha, beta, t0: float, h: float, count: int, *, block: int = 512):
    """Yield (start, values (B, C)) blocks of the trig sums, by BLAS products (module doc)."""
    w = np.asarray(w, float)
    table = _table(w, h, min(block, count))
    for start in range(0, count, block):
        stop = min(start + block, count)
        tb = t0 + h * start
        cb, sb = np.cos(w * tb)[:, None], np.sin(w * tb)[:, None]
        coef = np.vstack([alpha * cb + beta * sb, beta * cb - alpha * sb])
        yield start, table[: stop - start] @ coef


def _table(w, h: float, rows: int, sub: int = 32) -> np.ndarray:
    """[cos(w τ_i), sin(w τ_i)] (rows × 2N), τ_i = i h, as e^{i w h a}·e^{i w h sub b} (i = a +
    sub·b): rows/sub + sub exponentials per frequency instead of rows, and one complex product
    (relative error ≤ 2ε besides the phases' own rounding ε·w τ, which trig_sum_errors counts)."""
    if rows <= 2 * sub:
        tau = h * np.arange(rows)
        return np.hstack([np.cos(np.outer(tau, w)), np.sin(np.outer(tau, w))])
    fine = np.exp(1j * np.outer(h * np.arange(sub), w))
    coarse = np.exp(1j * np.outer(h * sub * np.arange(-(-rows // sub)), w))
    z = (coarse[:, None, :] * fine[None, :, :]).reshape(-1, w.size)[:rows]
    return np.hstack([z.real, z.imag])


def _kernel(z):
    return np.exp(BETA * (np.sqrt(np.maximum(0.0, 1.0 - z * z)) - 1.0)) * (np.abs(z) <= 1.0)


@lru_cache(maxsize=16)
def _deconvolution(length: int, grid: int):
    """(G/2)/φ̂(m) for the outputs m = −L/2 … L − L/2 − 1 (the inverse FFT's 1/G and the
    pairing's 1/2 undone), with φ̂(m) = (W/2) ∫_{-1}^{1} φ(z) cos(m z πW/G) dz (even in m)."""
    half_len = length // 2
    m = np.arange(-half_len, length - half_len)
    zq, wq = np.polynomial.legendre.leggauss(2 * WIDTH + 16)
    ang = np.pi * WIDTH / grid
    mabs = np.arange(max(half_len, length - half_len) + 1)
    ft = (WIDTH / 2) * (np.cos(np.outer(mabs * ang, zq)) @ (wq * _kernel(zq)))
    scale = (0.5 * grid) * (1.0 / ft[np.abs(m)])
    scale.setflags(write=False)
    return scale


@lru_cache(maxsize=1)
def _fast_grids(top: int = 2 * MAX_LENGTH + 64) -> np.ndarray:
    """5-smooth lengths 2^a 3^b 5^c in [16, top], ascending (ducc0 is as fast on 7- and 11-smooth
    ones, measured, but no faster: the denser set would not change the plans much)."""
    out = [p2 * p3 * p5 for p2 in 2 ** np.arange(4, 19) for p3 in 3 ** np.arange(4) for p5 in 5 ** np.arange(4)]
    return np.array(sorted(g for g in set(out) if 16 <= g <= top))


def grid_for(length: int) -> int:
    """The smallest fast grid with G ≥ σL + W."""
    grids = _fast_grids()
    need = int(np.ceil(UPSAMPLE * length)) + WIDTH
    i = int(np.searchsorted(grids, need))
    return int(grids[i]) if i < grids.size else int(need + (-need) % 64)


def _fft_ns(grid: int, rows: int = 1) -> float:
    # ducc0 on this benchmark machine, ns per point (62 rows): ≈ 0.31·log₂G up to 7 k points
    # (cache-resident; numpy's pocketfft 0.40), 0.46·log₂G to 24 k, 0.60·log₂G beyond (memory
    # bound, no faster than numpy). A power of two in cache is ≈ 0.88× that when ≥ 4 rows fill
    # ducc0's SIMD lanes (radix-4 passes; measured 0.85–0.90× for 4, 8 and 32 rows of 4,096
    # against 4,800 points, none for 1–2 rows)
    per = 0.31 if grid <= 6912 else 0.46 if grid <= 24576 else 0.60
    if rows >= 4 and grid <= 6912 and grid & (grid - 1) == 0:
        per *= 0.88
    return per * np.log2(max(grid, 2))


def chunk_plan(n: int, ncols: int, count: int, chunk: int = MAX_LENGTH) -> tuple[int, int]:
    """(L, G): outputs per chunk (≤ ``chunk``) and grid points, by a cost model in ns — per
    chunk ≈ 40 µs of Python, the FFTs (:func:`_fft_ns`), the spreading (0.3 ns per point, tap
    and row) and the output pass (1 ns per output and row); chunks balanced in length."""
    return _chunk_plan(int(n), max(int(count), 1), max((int(ncols) + 1) // 2, 1), max(1, min(int(chunk), int(count))))


@lru_cache(maxsize=64)
def _chunk_plan(n: int, count: int, rows: int, top: int) -> tuple[int, int]:
    best = None
    for g in _fast_grids():
        length = min(top, int((g - WIDTH) / UPSAMPLE))
        if length < 1:
            continue
        chunks = -(-count // length)
        cost = chunks * (4e4 + rows * (g * _fft_ns(g, rows) + 0.3 * 2 * n * WIDTH + length))
        if best is None or cost < best[0]:
            best = (cost, chunks)
        if length >= top:
            break
    length = -(-count // best[1])
    return length, grid_for(length)


#: chunks whose phases are computed together (memory 16·N bytes per chunk)
PHASE_BATCH = 64


def points(w, h: float, grid: int):
    """The points x_k = w_k h mod 2π (then −x_k mod 2π) in extended precision, as (hi, lo, first):
    hi + lo = x_k exactly (64 bits in two doubles), first the grid index of the first tap (a
    rounded x_k would turn into a phase error m·ε·x_k growing along the chunk)."""
    return points_many([w], h, [grid])[0]


def points_many(ws, h: float, grids) -> list:
    """:func:`points` of each w in ``ws`` on its grid, in one pass of array operations (each
    element's numbers those of its own call: the operations are elementwise)."""
    sizes = [np.size(w) for w in ws]
    x = np.mod(np.concatenate([np.asarray(w, float) for w in ws]).astype(np.longdouble) * np.longdouble(h), TWO_PI)
    neg = np.mod(-x, TWO_PI)
    cut = np.cumsum(sizes)[:-1]
    pts = np.concatenate([v for pair in zip(np.split(x, cut), np.split(neg, cut)) for v in pair])  # +x, −x each
    dx = np.repeat(np.array([TWO_PI / g for g in grids]), [2 * n for n in sizes])
    first = np.ceil((pts / dx).astype(float) - WIDTH / 2).astype(np.int64)
    hi = pts.astype(float)
    lo = (pts - hi).astype(float)
    cut2 = np.cumsum([2 * n for n in sizes])[:-1]
    return list(zip(np.split(hi, cut2), np.split(lo, cut2), np.split(first, cut2)))


def _chunk_args(w, h: float, half: int, t0, starts) -> np.ndarray:
    # w_k (t0 + (s + half) h) in extended precision (len(starts), N)
    ld = np.longdouble
    t = ld(t0) + ld(h) * (np.asarray(starts, dtype=ld) + ld(half))
    return np.outer(t, np.asarray(w, float).astype(ld))


def _phasors(args: list) -> list:
    """e^{i (a mod 2π)} of each extended-precision array in ``args``, in one pass (elementwise)."""
    if len(args) == 1:
        return [np.exp(1j * np.mod(args[0], TWO_PI).astype(float))]
    flat = np.exp(1j * np.mod(np.concatenate([a.ravel() for a in args]), TWO_PI).astype(float))
    return [v.reshape(a.shape) for v, a in zip(np.split(flat, np.cumsum([a.size for a in args])[:-1]), args)]


def phases_many(ws, h: float, halves, t0, starts) -> list:
    """:meth:`NufftPlan.phases` of the plans of frequencies ``ws`` (step h, each its ``half`` =
    L // 2) at their chunk ``starts`` (a list each), in one pass of array operations (the same
    numbers)."""
    return _phasors([_chunk_args(w, h, half, t0, s) for w, half, s in zip(ws, halves, starts)])


class NufftPlan:
    """Spreading weights and deconvolution factors for fixed frequencies w, step h and chunk
    length L (outputs j = 0..L−1 of each chunk), on a grid of ``grid`` points (default: the
    smallest fast G ≥ σL + W).

    Layout of :meth:`transform`: column c's value at output j is ``scale[j]`` times the real
    (c even) or imaginary (c odd) part of ``fb[c // 2, (j − half) mod G]``.

    The points x_k = w_k h mod 2π are formed in extended precision (:func:`points`; or given,
    ``points_of``, as :func:`points_many` forms a map's at once), each tap's offset from its
    grid point in double-double and its weight in one compiled pass (:func:`_points`: 0.12 ms
    a 302-mode plan, 0.38 ms in the long-double array form it replaced, whose offsets lost up
    to 1300 ulps near z = 0 to cancellation; the weights moved by ≤ 4.4e-15)."""

    def __init__(self, w, h: float, length: int, grid: int | None = None, points_of=None):
        w = np.asarray(w, float)
        self.length = int(length)
        self.half = self.length // 2  # outputs are m = j − half ∈ [−half, L − half)
        self.grid = grid_for(self.length) if grid is None else int(grid)
        g = self.grid
        if g < UPSAMPLE * self.length + WIDTH:
            raise ValueError(f"grid {g} < σL + W for L = {self.length}")
        hi, lo, first = points(w, h, g) if points_of is None else points_of
        dx = TWO_PI / g
        dx_hi = float(dx)
        # point k adds weight[k, i]·c_k to grid point support[slot[k, i]] (i < WIDTH)
        self.weight = np.empty((hi.size, WIDTH))
        self.slot = np.empty((hi.size, WIDTH), np.int64)
        support = np.empty(min(g, hi.size * WIDTH), np.int64)
        count = _POINTS(hi, lo, first, dx_hi, float(dx - dx_hi), float(WIDTH * dx / 2), np.zeros(g, np.int64),
                        self.weight, self.slot, support)
        self.support = support[:count]
        self.scale = _deconvolution(self.length, g)
        self.w = w
        self.h = float(h)

    def phases(self, t0, starts) -> np.ndarray:
        """e^{i w_k (t0 + (s + half) h)} for each chunk start s: (len(starts), N). The argument in
        extended precision, reduced by an extended-precision 2π: a rounded time or product
        would shift every mode coherently by ~ε·w·t."""
        return _phasors([_chunk_args(self.w, self.h, self.half, t0, starts)])[0]

    def chunk_phases(self, t0, starts, batch: int = PHASE_BATCH):
        """:meth:`phases` of each start in turn, computed ``batch`` chunks at a time: memory
        O(batch·N), not O(chunks·N) before the first chunk (the same numbers: elementwise)."""
        starts = list(starts)
        for b in range(0, len(starts), batch):
            yield from self.phases(t0, starts[b:b + batch])

    def transform(self, coef: np.ndarray, phase: np.ndarray) -> np.ndarray:
        """The inverse FFT (⌈C/2⌉ rows, G) of the spread coefficients coef (N, C) · phase (N,),
        columns paired (A + iB), laid out as the class docstring says. The array is this
        thread's reused output grid: read it before the next call."""
        coef = np.ascontiguousarray(coef, complex)
        phase = np.ascontiguousarray(phase, complex)
        rows = (coef.shape[1] + 1) // 2
        b, fb = _workspace(rows, self.grid)
        workers = self._workers(rows)

        def part(r):  # spread and transform a block of rows (compiled, ducc0: both release the GIL)
            _SPREAD(coef, phase, self.slot, self.weight, self.support, b, r.start, r.stop)
            inverse_fft(b[r], fb[r])

        # the reused input grid is zero off the support, and only the support is written and reset
        try:
            if workers <= 1:  # one transform per contiguous row
                part(slice(0, rows))
            else:  # blocks of rows side by side (the same bits)
                list(_pool().map(part, row_blocks(rows, workers)))
        finally:  # the reused grid must be zero for the next call, even after Ctrl-C or an error
            _CLEAR(b, self.support)
        return fb

    def transform_slabs(self, coef: np.ndarray, phase: np.ndarray, slab: int, read) -> None:
        """:meth:`transform`, handed to ``read(first row, transform of rows first … first + k − 1)``
        ``slab`` rows at a time, in order (0: all rows at once). On one FFT thread each slab is
        transformed into the first rows of the reused output grid, where ``read`` finds it
        still in cache (not the whole (rows, G) output written to memory and read back); with
        several threads the whole transform is made first (:meth:`transform`). Each row's bits
        are those of :meth:`transform` when ``slab`` is a multiple of ducc0's SIMD group."""
        coef = np.asarray(coef, complex)
        rows = (coef.shape[1] + 1) // 2
        if slab <= 0 or slab >= rows or self._workers(rows) > 1:
            read(0, self.transform(coef, phase))
            return
        b, fb = _workspace(rows, self.grid)
        try:
            _SPREAD(np.ascontiguousarray(coef), np.ascontiguousarray(phase, complex), self.slot, self.weight,
                    self.support, b, 0, rows)
            for r0 in range(0, rows, slab):
                r1 = min(rows, r0 + slab)
                read(r0, inverse_fft(b[r0:r1], fb[: r1 - r0]))
        finally:  # the reused grid must be zero for the next call, even after Ctrl-C or an error
            _CLEAR(b, self.support)

    def _workers(self, rows: int) -> int:
        workers = getattr(_LOCAL, "workers", None)
        workers = FFT_WORKERS if workers is None else workers
        workers = min(_cpu_count() if workers == -1 else int(workers), rows)
        return workers if rows >= 2 * SIMD_ROWS else 1

    def evaluate(self, coef: np.ndarray, t_start) -> np.ndarray:
        """Σ_k Re[coef_kc e^{i w_k (t_start + j h)}], j < L, for complex coef (N, C) → (L, C)."""
        ncols = np.shape(coef)[1]
        fb = self.transform(coef, self.phases(t_start, [0])[0])
        out = np.empty((self.length, fb.shape[0], 2))
        _GATHER(fb, self.scale, self.half, out)
        return out.reshape(self.length, -1)[:, :ncols]

    def evaluate_rows(self, coef: np.ndarray, t_start) -> np.ndarray:
        """:meth:`evaluate` transposed, (C, L): each column's values contiguous (the same
        numbers, bitwise)."""
        ncols = np.shape(coef)[1]
        fb = self.transform(coef, self.phases(t_start, [0])[0])
        out = np.empty((fb.shape[0], 2, self.length))
        _SPLIT(fb, self.scale, self.half, out)
        return out.reshape(-1, self.length)[:ncols]


def inverse_fft(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out`` = np.fft.ifft(a, axis=1) (normalised by 1/G) for complex (rows, G), by ducc0 on
    this thread (SIMD across rows: 1.3–1.8× numpy's pocketfft on the benchmark machine, the same
    algorithms and roundoff, ≈ 4e-16 of the largest entry from numpy's result)."""
    return ducc0.fft.c2c(a, axes=(1,), forward=False, inorm=2, out=out, nthreads=1)


def row_blocks(rows: int, workers: int) -> list[slice]:
    """``workers`` blocks of rows for the threads, split at multiples of ``SIMD_ROWS``: ducc0
    transforms rows in SIMD groups from each block's start and the last rows % group one by
    one, which rounds differently — so only such splits give every row the bits of one call."""
    per = -(-rows // workers)
    step = -(-per // SIMD_ROWS) * SIMD_ROWS
    return [slice(i, min(i + step, rows)) for i in range(0, rows, step)]


def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _pool() -> ThreadPoolExecutor:
    # one pool for the FFTs' row blocks (a pool per chunk cost ~0.1–0.2 ms); a forked child
    # drops its parent's (the threads did not fork with it)
    if _POOL[0] is None:
        _POOL[0] = ThreadPoolExecutor(_cpu_count(), thread_name_prefix="harmosync-fft")
    return _POOL[0]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _POOL.__setitem__(0, None))


def _workspace(rows: int, grid: int):
    """This thread's FFT input grid (zero) and output grid, (rows, grid) complex each, kept for
    the last shape only: 2 × 16·G·C/2 = 16·G·C ≤ 32·L·C bytes (G ≤ 2L for L ≥ 1024), within the
    chunk memory that ``dynamics.evaluation.nufft_chunk`` budgets; reused by every chunk and
    every evolution of that shape (a map's networks)."""
    ws = getattr(_LOCAL, "grids", None)
    if ws is None or ws[0].shape != (rows, grid):
        ws = (np.zeros((rows, grid), complex), np.empty((rows, grid), complex))
        _LOCAL.grids = ws
    return ws


def nufft(w, alpha, beta, t0: float, h: float, count: int, *, chunk: int = MAX_LENGTH, rows: bool = False):
    """Yield (start, values (L, C)) chunks of the trig sums by the non-uniform FFT; with
    ``rows``, (start, values (C, L)) — each column's values contiguous, bitwise the same."""
    w = np.asarray(w, float)
    coef = np.asarray(alpha, float) - 1j * np.asarray(beta, float)
    length, grid = chunk_plan(w.size, coef.shape[1], count, chunk)
    plan = NufftPlan(w, h, length, grid)
    starts = range(0, count, length)
    for start, phase in zip(starts, plan.chunk_phases(t0, starts)):
        stop = min(length, count - start)
        fb = plan.transform(coef, phase)
        if rows:
            out = np.empty((fb.shape[0], 2, length))
            _SPLIT(fb, plan.scale, plan.half, out)
            yield start, out.reshape(-1, length)[: coef.shape[1], :stop]
        else:
            out = np.empty((length, fb.shape[0], 2))
            _GATHER(fb, plan.scale, plan.half, out)
            yield start, out.reshape(length, -1)[:stop, : coef.shape[1]]


#: most chunk phases :func:`nufft_many` forms at once (16 bytes each, and 2 × 16 in long double
#: while it does: ≈ 12 MB; a map's 16 networks of 302 modes and 3 chunks take 14,500)
PHASE_ELEMENTS = 1 << 18


def nufft_many(ws, alphas, betas, t0: float, h: float, count: int, outs, chunks) -> None:
    """:func:`nufft`'s values of each set (w, α, β) written into its ``outs`` array (count, C),
    C even and C-contiguous, with chunks of at most its ``chunks`` outputs: the extended-precision
    points of all sets, and the chunk phases of as many sets' chunks as PHASE_ELEMENTS allows
    (at most PHASE_BATCH of a set's, as :func:`nufft`), each in one pass of array operations
    (:func:`points_many`, :func:`phases_many`: elementwise, so each set's numbers are those of
    its own :func:`nufft`), then each set's plan, spreading, transforms and gathers (compiled,
    or ducc0's: they release the GIL), one plan at a time, straight into its array."""
    items = []
    for w, alpha, beta, out, chunk in zip(ws, alphas, betas, outs, chunks):
        w = np.asarray(w, float)
        coef = np.asarray(alpha, float) - 1j * np.asarray(beta, float)  # (as nufft)
        if coef.shape[1] % 2 or out.shape != (count, coef.shape[1]) or not out.flags.c_contiguous:
            raise ValueError("nufft_many: each output must be a C-contiguous (count, C) array, C even")
        items.append((w, coef) + chunk_plan(w.size, coef.shape[1], count, chunk))
    pts = points_many([w for w, *_ in items], h, [grid for *_, grid in items])
    jobs = [(i, list(range(b, min(b + PHASE_BATCH * length, count), length)))
            for i, (w, _, length, _) in enumerate(items) for b in range(0, count, PHASE_BATCH * length)]
    plan, current = None, -1
    while jobs:
        take, size = 0, 0
        while take < len(jobs) and (take == 0 or size + len(jobs[take][1]) * items[jobs[take][0]][0].size
                                    <= PHASE_ELEMENTS):
            size += len(jobs[take][1]) * items[jobs[take][0]][0].size
            take += 1
        batch, jobs = jobs[:take], jobs[take:]
        phases = phases_many([items[i][0] for i, _ in batch], h, [items[i][2] // 2 for i, _ in batch], t0,
                             [first for _, first in batch])
        for (i, first), ph in zip(batch, phases):
            w, coef, length, grid = items[i]
            if i != current:  # (a set's jobs are consecutive)
                plan, current = NufftPlan(w, h, length, grid, points_of=pts[i]), i
            rows = coef.shape[1] // 2
            for start, phase in zip(first, ph):
                stop = min(length, count - start)
                _GATHER(plan.transform(coef, phase), plan.scale, plan.half,
                        outs[i][start:start + stop].reshape(stop, rows, 2))


def nufft_cost(n: int, ncols: int, count: int, chunk: int = MAX_LENGTH) -> float:
    """Estimated time of :func:`nufft` in GEMM-flop equivalents (for choosing an evaluator):
    the cost model of :func:`chunk_plan` (ns) at ~10 GEMM flops per ns (BLAS on the benchmark
    machine), plus the plan's fixed cost."""
    length, grid = chunk_plan(n, ncols, count, chunk)
    rows = (ncols + 1) // 2
    chunks = -(-count // length)
    ns = chunks * (4e4 + rows * (grid * _fft_ns(grid, rows) + 0.3 * 2 * n * WIDTH + length))
    return 10.0 * ns + 2e6


def direct_cost(n: int, ncols: int, count: int) -> float:
    """Flops of :func:`direct` (two GEMMs of T × N × C), plus its table of cos/sin."""
    return 4.0 * count * n * ncols + 20.0 * 512 * n


def _points(hi, lo, first, dx_hi, dx_lo, half_width, rank, weight, slot, support):
    """:class:`NufftPlan`'s spreading data: for each point k at x_k = hi_k + lo_k and tap i the
    grid index o = first_k + i, its kernel weight φ(z), z = (o·dx − x_k)/(W dx/2) with o·dx − x_k
    in double-double (dx = dx_hi + dx_lo; TwoProduct by an FMA, TwoSum: z within ~3 ulps, where
    the long-double form it replaced lost up to 1300 near z = 0 to cancellation), and its slot
    among the touched grid points (``rank``: G zeros, overwritten); the touched points ascending
    into ``support``; returns their count."""
    n2, width = weight.shape
    grid = rank.size
    for k in range(n2):
        col = first[k] % grid  # (one integer division a point: ~40 cycles each)
        for i in range(width):
            o = first[k] + i
            p = float(o)
            ph = p * dx_hi
            pl = fma(p, dx_hi, -ph) + p * dx_lo
            s = ph - hi[k]
            v = s - ph
            e = (ph - (s - v)) + (-hi[k] - v)
            weight[k, i] = (s + (e + (pl - lo[k]))) / half_width  # z, for now
            slot[k, i] = col
            rank[col] = 1
            col += 1
            if col == grid:
                col = 0
    for k in range(n2):  # (a loop of its own: 2× faster than within the one above)
        for i in range(width):
            z = weight[k, i]
            weight[k, i] = np.exp(BETA * (np.sqrt(1.0 - z * z) - 1.0)) if abs(z) <= 1.0 else 0.0
    count = 0
    for m in range(grid):
        if rank[m]:
            support[count] = m
            rank[m] = count
            count += 1
    for k in range(n2):
        for i in range(width):
            slot[k, i] = rank[slot[k, i]]
    return count


def _spread(coef, phase, slot, weight, support, grid, r0, r1):
    """For each pair of columns r (A = 2r, B = 2r + 1, zero past the last), r0 ≤ r < r1, with
    c = coef·phase: c_A + i c_B at the point +x_k and conj(c_A) + i conj(c_B) at −x_k (row k + N
    of ``slot``), weighted onto the grid points ``support[slot[k, i]]`` of row r; each grid
    point's sum in order of k (+x_k, then −x_k), accumulated in a (support, 2·rows) buffer
    (8·|support|·C bytes) whose rows are contiguous (vectorised), then written into the grid's
    support. A row's numbers do not depend on the range it is spread with."""
    n, ncols = coef.shape
    nr = r1 - r0
    width = slot.shape[1]
    acc = np.zeros((support.size, 2 * nr))
    val = np.zeros((2, 2 * nr))
    for k in range(n):
        ph = phase[k]
        for rr in range(nr):
            r = r0 + rr
            ca = coef[k, 2 * r] * ph
            cb = coef[k, 2 * r + 1] * ph if 2 * r + 1 < ncols else 0j
            val[0, 2 * rr] = ca.real - cb.imag  # c_A + i c_B
            val[0, 2 * rr + 1] = ca.imag + cb.real
            val[1, 2 * rr] = ca.real + cb.imag  # conj(c_A) + i conj(c_B)
            val[1, 2 * rr + 1] = cb.real - ca.imag
        for side in range(2):
            for i in range(width):
                s = slot[k + side * n, i]
                wt = weight[k + side * n, i]
                for q in range(2 * nr):
                    acc[s, q] += wt * val[side, q]
    for s in range(support.size):
        g = support[s]
        for rr in range(nr):
            grid[r0 + rr, g] = complex(acc[s, 2 * rr], acc[s, 2 * rr + 1])


def _clear(grid, support):
    """Zero the grid points that :func:`_spread` wrote."""
    for r in range(grid.shape[0]):
        for s in range(support.size):
            grid[r, support[s]] = 0.0


def _split(fb, scale, half, out):
    """out[r, 0, j] = Re fb[r, m]·scale[j], out[r, 1, j] = Im fb[r, m]·scale[j] for the outputs
    j = 0..L−1 at grid index m = (j − half) mod G: one pass over the transform's rows."""
    grid = fb.shape[1]
    for r in range(fb.shape[0]):
        for j in range(out.shape[2]):
            v = fb[r, j - half + grid if j < half else j - half]
            out[r, 0, j] = v.real * scale[j]
            out[r, 1, j] = v.imag * scale[j]


def _gather(fb, scale, half, out):
    """:func:`_split` into out[j, r, 0/1] (the (L, C) layout), in blocks of 64 outputs."""
    grid = fb.shape[1]
    for j0 in range(0, out.shape[0], 64):
        for r in range(fb.shape[0]):
            for j in range(j0, min(j0 + 64, out.shape[0])):
                v = fb[r, j - half + grid if j < half else j - half]
                out[j, r, 0] = v.real * scale[j]
                out[j, r, 1] = v.imag * scale[j]


_POINTS = kernel(_points, "int64(float64[::1], float64[::1], int64[::1], float64, float64, float64, int64[::1], "
                 "float64[:, ::1], int64[:, ::1], int64[::1])", reads=(0, 1, 2), calls=("fma",))
_SPREAD = kernel(_spread, "void(complex128[:, ::1], complex128[::1], int64[:, ::1], float64[:, ::1], int64[::1], "
                 "complex128[:, ::1], int64, int64)", reads=(0, 1, 2, 3, 4))
_CLEAR = kernel(_clear, "void(complex128[:, ::1], int64[::1])", reads=(1,))
_SPLIT = kernel(_split, "void(complex128[:, :], float64[:], int64, float64[:, :, :])", reads=(0, 1))
_GATHER = kernel(_gather, "void(complex128[:, :], float64[:], int64, float64[:, :, :])", reads=(0, 1))
