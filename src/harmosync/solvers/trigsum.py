"""Trig sums f_c(t_j) = Σ_k α_kc cos(w_k t_j) + β_kc sin(w_k t_j) on a uniform grid t_j = t0 + j h.

Two evaluators, same result:

* :func:`direct` — blockwise BLAS: t = t_b + τ_i with one table cos/sin(w τ_i) (block × N) and
  the rotated coefficients at each block start; cost ≈ 4·T·N·C flops.
* :func:`nufft` — a type-1 non-uniform FFT: with x_k = w_k h, f(j) = Re Σ_k c_k e^{i j x_k},
  c_k = (α_k − iβ_k) e^{i w_k t_0}. The points x_k are spread onto a grid of G ≥ 2L points
  (L outputs per chunk) with the "exponential of semicircle" kernel
  φ(z) = exp(β(√(1 − z²) − 1)), |z| ≤ 1, of width 16 grid points and β = 2.3·16 (Barnett,
  Magland & af Klinteberg, SIAM J. Sci. Comput. 41, C479 (2019)); one FFT per pair of real
  columns; each output divided by the kernel's Fourier transform (Gauss–Legendre quadrature).
  Cost ≈ chunks·(C/2·5 G log₂G + 32·N·C) flops; relative error ≈ 1e-14 of Σ_k |c_k|
  (measured in the tests against :func:`direct`).

Memory: O(N·C + G·C) per chunk, independent of the total number of times; each thread keeps
its last FFT grids (input and output, 2 × 16·G·C/2 bytes) for the next chunk or evolution.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache

import numpy as np
import scipy.fft as sfft

from ..jit import kernel

WIDTH = 16  # kernel width in grid points (finufft's maximum; error ≈ 1e-14–1e-15)
BETA = 2.30 * WIDTH
UPSAMPLE = 2.0
#: threads for the FFTs (-1: all cores); set to 1 in each worker of a process pool
FFT_WORKERS = -1
#: outputs per chunk of long records: G = 2·8184 + WIDTH = 2¹⁴ (:func:`chunk_length`)
FAST_LENGTH = ((1 << 14) - WIDTH) // 2
#: grid points per block of the transposes around the FFT (a block of C/2 rows stays in cache)
TRANSPOSE_BLOCK = 512
_LOCAL = threading.local()


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
    """Output indices on the grid and 1/φ̂(m) for m = −L/2 … L − L/2 − 1, with
    φ̂(m) = (W/2) ∫_{-1}^{1} φ(z) cos(m z πW/G) dz (even in m; |m| ≤ L/2 + 1 ≤ G/4)."""
    half_len = length // 2
    m = np.arange(-half_len, length - half_len)
    zq, wq = np.polynomial.legendre.leggauss(2 * WIDTH + 16)
    ang = np.pi * WIDTH / grid
    mabs = np.arange(max(half_len, length - half_len) + 1)
    ft = (WIDTH / 2) * (np.cos(np.outer(mabs * ang, zq)) @ (wq * _kernel(zq)))
    index, deconv = np.mod(m, grid), 1.0 / ft[np.abs(m)]
    index.setflags(write=False)
    deconv.setflags(write=False)
    return index, deconv


class NufftPlan:
    """Spreading matrix and deconvolution factors for fixed frequencies w, step h and
    chunk length L (outputs j = 0..L−1 of each chunk)."""

    def __init__(self, w, h: float, length: int):
        w = np.asarray(w, float)
        self.length = int(length)
        self.half = self.length // 2  # outputs are m = j − half ∈ [−half, L − half)
        self.grid = sfft.next_fast_len(int(np.ceil(UPSAMPLE * self.length)) + WIDTH)
        g = self.grid
        # positions x_k = w_k h mod 2π and their distances to the grid in extended precision: a
        # rounded x_k would turn into a phase error m·ε·x_k growing along the chunk
        two_pi = 2 * np.pi * np.longdouble(1)
        dx = two_pi / g
        x = np.mod(w.astype(np.longdouble) * np.longdouble(h), two_pi)
        pts = np.concatenate([x, np.mod(-x, two_pi)])  # +x for c, −x for conj(c)
        first = np.ceil((pts / dx).astype(float) - WIDTH / 2).astype(np.int64)
        offs = first[:, None] + np.arange(WIDTH)[None, :]
        z = ((offs * dx - pts[:, None]) / (WIDTH * dx / 2)).astype(float)
        # point k adds weight[k, i]·c_k to grid point cols[k, i] (i < WIDTH)
        self.weight = _kernel(z)
        self.cols = np.mod(offs, g)
        self.index, self.deconv = _deconvolution(self.length, g)
        self.w = w
        self.h = float(h)

    def _transform(self, coef: np.ndarray, t_start) -> np.ndarray:
        """The inverse FFT (C/2 rows, G) of the spread, phase-shifted coefficients (N, C), columns
        paired (A + iB); padded to an even C. The array is this thread's reused output grid: read it
        before the next call."""
        n, ncols = coef.shape
        # phase w·(t_start + half·h) in extended precision: a rounded time or product would shift
        # every mode coherently by ~ε·w·t
        arg = self.w.astype(np.longdouble) * (np.longdouble(t_start) + np.longdouble(self.half) * np.longdouble(self.h))
        arg = np.mod(arg, 2 * np.pi * np.longdouble(1)).astype(float)
        phase = np.exp(1j * arg)[:, None]
        c = coef * phase
        if ncols % 2:
            c = np.hstack([c, np.zeros((n, 1), complex)])
        ca, cb = c[:, 0::2], c[:, 1::2]
        # pair columns: (c_A + i c_B) at +x and (conj c_A + i conj c_B) at −x gives 2 Re F_A + 2i Re F_B
        vals = np.vstack([ca + 1j * cb, np.conj(ca) + 1j * np.conj(cb)])
        # one transform per row of a C-contiguous (C/2, G) array: pocketfft runs ~2× faster along
        # contiguous rows than down columns, with bitwise the same result. numpy's pocketfft
        # (scipy's transform, bitwise) from this thread's reused input grid, zero off the points
        # that receive values (only those are reset), into its reused output grid: a fresh
        # 16 MB grid per chunk cost ~10% of a W5 network's evaluation in page faults, and
        # zeroing a whole grid per chunk ~2.8 ms
        b, fb = _workspace(vals.shape[1], self.grid)
        workers = getattr(_LOCAL, "workers", None)
        workers = FFT_WORKERS if workers is None else workers
        workers = min(_cpu_count() if workers == -1 else int(workers), b.shape[0])
        _SPREAD(b, self.cols, self.weight, vals)
        try:
            if workers <= 1:
                np.fft.ifft(b, axis=1, out=fb)
            else:  # blocks of rows side by side: the transforms release the GIL
                parts = [slice(i * b.shape[0] // workers, (i + 1) * b.shape[0] // workers) for i in range(workers)]
                with ThreadPoolExecutor(workers) as ex:
                    list(ex.map(lambda r: np.fft.ifft(b[r], axis=1, out=fb[r]), parts))
        finally:  # the reused grid must be zero for the next call, even after Ctrl-C or an error
            _CLEAR(b, self.cols)
        return fb

    def _segments(self):
        # outputs m = −half … L − half − 1 sit at grid indices G − half … G − 1, then 0 … L − half − 1
        g, half, length = self.grid, self.half, self.length
        return ((slice(0, half), slice(g - half, g)), (slice(half, length), slice(0, length - half)))

    def evaluate(self, coef: np.ndarray, t_start) -> np.ndarray:
        """Σ_k Re[coef_kc e^{i w_k (t_start + j h)}], j < L, for complex coef (N, C) → (L, C)."""
        ncols = coef.shape[1]
        fb = self._transform(coef, t_start)
        # the transposes after the FFT go in cache-sized blocks of grid points (~2.5× faster than
        # one strided copy), unblocked for one or two rows (Python's per-block cost dominates).
        # (2 Re F_A + 2i Re F_B)·scale is column A's value + i column B's: one complex product
        # per block into a complex view of the (L, C) output (the same real products)
        step = self.grid if fb.shape[0] <= 2 else TRANSPOSE_BLOCK
        out = np.empty((self.length, fb.shape[0]), complex)
        scale = (0.5 * self.grid) * self.deconv[:, None]
        for dst, src in self._segments():
            for i in range(dst.start, dst.stop, step):
                j = min(i + step, dst.stop)
                np.multiply(fb[:, src.start + i - dst.start:src.start + j - dst.start].T, scale[i:j], out=out[i:j])
        return out.view(float)[:, :ncols]

    def evaluate_rows(self, coef: np.ndarray, t_start) -> np.ndarray:
        """:meth:`evaluate` transposed, (C, L): each column's values contiguous — no transpose
        of the transform (the same numbers, bitwise)."""
        ncols = coef.shape[1]
        fb = self._transform(coef, t_start)
        out = np.empty((fb.shape[0], 2, self.length))
        _SPLIT(fb, (0.5 * self.grid) * self.deconv, self.half, out)
        return out.reshape(-1, self.length)[:ncols]


def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _workspace(rows: int, grid: int):
    """This thread's FFT input grid (zero) and output grid, (rows, grid) complex each, kept for
    the last shape only: 2 × 16·G·C/2 ≈ 32·L·C bytes, within the chunk memory that
    ``dynamics.evaluation.nufft_chunk`` budgets (48·L·C with one chunk's output); reused by every
    chunk and every evolution of that shape (a map's networks)."""
    ws = getattr(_LOCAL, "grids", None)
    if ws is None or ws[0].shape != (rows, grid):
        ws = (np.zeros((rows, grid), complex), np.empty((rows, grid), complex))
        _LOCAL.grids = ws
    return ws


def nufft(w, alpha, beta, t0: float, h: float, count: int, *, chunk: int = 1 << 16, rows: bool = False):
    """Yield (start, values (L, C)) chunks of the trig sums by the non-uniform FFT; with
    ``rows``, (start, values (C, L)) — each column's values contiguous, bitwise the same."""
    length = chunk_length(chunk, count)
    plan = NufftPlan(w, h, length)
    coef = np.asarray(alpha, float) - 1j * np.asarray(beta, float)
    for start in range(0, count, length):
        t_start = np.longdouble(t0) + np.longdouble(h) * start
        stop = min(length, count - start)
        if rows:
            yield start, plan.evaluate_rows(coef, t_start)[:, :stop]
        else:
            yield start, plan.evaluate(coef, t_start)[:stop]


def chunk_length(chunk: int, count: int) -> int:
    """Outputs per NUFFT chunk: at most ``chunk``, and for records longer than
    ``FAST_LENGTH`` that many, whose grid G = 2L + WIDTH = 2¹⁴ points is a power of two
    (pocketfft: 6–9 ns per point there against 9–20 ns at G = 16 464 or 60 025: one row of
    2¹⁴ complex numbers stays in a core's L2 cache); more chunks cost little more for their
    spreading and phases."""
    length = min(int(chunk), int(count))
    return min(length, FAST_LENGTH) if count > FAST_LENGTH else length


def nufft_cost(n: int, ncols: int, count: int, chunk: int = 1 << 16) -> float:
    """Estimated time of :func:`nufft` in GEMM-flop equivalents (for choosing an evaluator):
    FFT, spreading and the per-output work run ~7× slower per flop than a BLAS GEMM (measured
    on the benchmark machine: N = 302, C = 124, T = 30 001: 0.107 s vs 0.086 s direct)."""
    length = chunk_length(chunk, count)
    g = UPSAMPLE * length + WIDTH
    chunks = -(-count // length)
    flops = chunks * (0.5 * ncols * 5 * g * np.log2(max(g, 2)) + 16 * WIDTH * n * ncols + 8 * length * ncols)
    return 7.0 * flops + 2e6


def direct_cost(n: int, ncols: int, count: int) -> float:
    """Flops of :func:`direct` (two GEMMs of T × N × C), plus its table of cos/sin."""
    return 4.0 * count * n * ncols + 20.0 * 512 * n


def _spread(grid, cols, weight, vals):
    """grid[r, cols[k, i]] += weight[k, i]·vals[k, r]: each grid point's sum in order of k (the
    order of a sparse matrix product by rows)."""
    for r in range(grid.shape[0]):
        for k in range(cols.shape[0]):
            v = vals[k, r]
            for i in range(cols.shape[1]):
                grid[r, cols[k, i]] += weight[k, i] * v


def _clear(grid, cols):
    """Zero the grid points that :func:`_spread` wrote."""
    for r in range(grid.shape[0]):
        for k in range(cols.shape[0]):
            for i in range(cols.shape[1]):
                grid[r, cols[k, i]] = 0.0


def _split(fb, scale, half, out):
    """out[r, 0, j] = Re fb[r, m]·scale[j], out[r, 1, j] = Im fb[r, m]·scale[j] for the outputs
    j = 0..L−1 at grid index m = (j − half) mod G: one pass over the transform's rows."""
    grid = fb.shape[1]
    for r in range(fb.shape[0]):
        for j in range(out.shape[2]):
            v = fb[r, j - half + grid if j < half else j - half]
            out[r, 0, j] = v.real * scale[j]
            out[r, 1, j] = v.imag * scale[j]


_SPREAD = kernel(_spread, "void(complex128[:, :], int64[:, :], float64[:, :], complex128[:, :])", reads=(1, 2, 3))
_CLEAR = kernel(_clear, "void(complex128[:, :], int64[:, :])", reads=(1,))
_SPLIT = kernel(_split, "void(complex128[:, :], float64[:], int64, float64[:, :, :])", reads=(0, 1))
