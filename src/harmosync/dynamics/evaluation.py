"""Evaluating a closed evolution (:class:`.normal_modes.NormalModeEvolution`) on a time grid:
the means and the covariance rows from the normal modes' trig sums (direct tables or the
NUFFT, :mod:`harmosync.solvers.trigsum`), σ(t) = stationary part + low-rank part, block by
block. ``sol`` is a NormalModeEvolution (its frequencies, readout rows, ν, the low-rank Δ)."""

from __future__ import annotations

import math

import numpy as np

from ..conventions import to_interleaved
from ..errors import HarmosyncError
from ..jit import kernel
from ..solvers import trigsum as ts
from .contract import check_times, uniform_step

#: times per block of the direct trig tables
BLOCK = 512


def check_horizon(sol, t: np.ndarray) -> None:
    if np.isfinite(sol.t_max) and max(abs(t[0]), abs(t[-1])) > sol.t_max * (1 + 1e-12):
        why = (f"cut to the light cone of t_max = {sol.t_max:g} (chain sites {sol.window[0]}..{sol.window[1]})"
               if sol.window is not None else
               f"solved for |t| ≤ t_max = {sol.t_max:g} (its error bound covers no later time)")
        raise HarmosyncError(f"this evolution was {why}; solve again with t_max ≥ {max(abs(t[0]), abs(t[-1])):g}")


def uses_nufft(sol, times, *, engine: str = "auto", means_only: bool = False) -> bool:
    """Whether evaluating ``sol``'s moments (``means_only``: its means) at ``times`` runs the
    non-uniform FFT rather than the direct tables: a uniform grid, and ``engine`` "nufft", or
    "auto" with the NUFFT the cheaper (:func:`~harmosync.solvers.trigsum.nufft_cost`). The one
    place this is decided: the evaluation follows it, and the error bound charges the NUFFT's
    floor only when it is true (``NormalModeEvolution.cover``)."""
    t, h = checked_grid(times)
    if h is None or engine not in ("auto", "nufft"):
        return False
    ncols = 2 * len(sol.rows) * (1 if means_only else np.shape(sol.values)[0] + 1)
    modes = np.shape(sol.frequencies)[0]
    return engine == "nufft" or (
        ts.nufft_cost(modes, ncols, t.size, nufft_chunk(ncols)) < ts.direct_cost(modes, ncols, t.size))


def mode_columns(sol, *, means_only: bool = False):
    """Mode coefficients (α, β) of every output column: shapes (N, 2n, R+1) each (block
    order x1 … xn, p1 … pn); ``means_only``: the means' (N, 2n) only (the same numbers)."""
    w = sol.frequencies
    if means_only:
        vq, vp = sol.mean0[0][:, None], sol.mean0[1][:, None]  # (N, 1)
    else:
        vq = np.concatenate([sol.mean0[0][:, None], sol.vectors[0]], axis=1)  # (N, R+1)
        vp = np.concatenate([sol.mean0[1][:, None], sol.vectors[1]], axis=1)
    ux = (sol.readout / np.sqrt(w)).T[:, :, None]  # (N, n, 1)
    upp = (sol.readout * np.sqrt(w)).T[:, :, None]
    alpha = np.concatenate([ux * vq[:, None, :], upp * vp[:, None, :]], axis=1)
    beta = np.concatenate([ux * vp[:, None, :], -upp * vq[:, None, :]], axis=1)
    return (alpha[:, :, 0], beta[:, :, 0]) if means_only else (alpha, beta)


def moment_columns(sol) -> tuple[np.ndarray, np.ndarray]:
    """(α, β) (N, 2n(R+1)) of the moments' trig sums in evaluation order: the 2n means
    interleaved (x1, p1, x2, …), then the low-rank columns r by r, z_ar = column 2n(1 + r) + a
    (a interleaved; one r's 2n columns side by side, so that a slab of the transform's rows
    holds whole r's). The products of :func:`mode_columns`, written straight into place by one
    compiled pass (strided numpy assignments cost 2 ns a number)."""
    w = sol.frequencies
    n, rank = len(sol.rows), sol.vectors.shape[2]
    ux = np.ascontiguousarray((sol.readout / np.sqrt(w)).T)  # (N, n)
    upp = np.ascontiguousarray((sol.readout * np.sqrt(w)).T)
    alpha, beta = np.empty((2, w.size, 2 * n * (rank + 1)))
    m0, m1 = (np.ascontiguousarray(x, dtype=float) for x in sol.mean0)
    v0, v1 = (np.ascontiguousarray(x, dtype=float) for x in sol.vectors)
    _FILL_COLUMNS(ux, upp, m0, m1, v0, v1, alpha, beta)
    return alpha, beta


def _fill_columns(ux, upp, m0, m1, v0, v1, alpha, beta):
    """moment_columns' products: per mode k and oscillator i, with u = ux[k, i], v = upp[k, i]:
    α = (u·m0, v·m1; u·v0_r, v·v1_r), β = (u·m1, (−v)·m0; u·v1_r, (−v)·v0_r)."""
    size, n = ux.shape
    rank = v0.shape[1]
    m2 = 2 * n
    for k in range(size):
        for i in range(n):
            u, v = ux[k, i], upp[k, i]
            nv = -v
            alpha[k, 2 * i] = u * m0[k]
            alpha[k, 2 * i + 1] = v * m1[k]
            beta[k, 2 * i] = u * m1[k]
            beta[k, 2 * i + 1] = nv * m0[k]
            for r in range(rank):
                c = m2 * (1 + r) + 2 * i
                alpha[k, c] = u * v0[k, r]
                alpha[k, c + 1] = v * v1[k, r]
                beta[k, c] = u * v1[k, r]
                beta[k, c + 1] = nv * v0[k, r]


_FILL_COLUMNS = kernel(_fill_columns, "void(float64[:, ::1], float64[:, ::1], float64[::1], float64[::1], "
                       "float64[:, ::1], float64[:, ::1], float64[:, ::1], float64[:, ::1])", reads=(0, 1, 2, 3, 4, 5))


def stationary_covariance(sol) -> np.ndarray:
    """The constant part of the observed covariance, block ordering (2n, 2n)."""
    w, r = sol.frequencies, sol.readout
    n = r.shape[0]
    out = np.zeros((2 * n, 2 * n))
    out[:n, :n] = (r * (sol.nu / w)) @ r.T
    out[n:, n:] = (r * (sol.nu * w)) @ r.T
    return out


def _table_block(block: int, n: int) -> int:
    # times per BLAS block: the cos/sin table (block × 2N numbers) stays ≤ 32 MB
    return int(max(16, min(block, (1 << 21) // max(n, 1))))


def nufft_chunk(ncols: int) -> int:
    # one chunk's FFT grids (2 × G complex × C/2, G ≤ 2L for L ≥ 1024), the spreading buffer
    # (≤ 8·G·C; ~4% of that in a map's narrow band) and its output (L × C): ≤ 56·L·C ≤ 96 MB
    # for C ≤ 1700, chunks of at least 1024 outputs beyond (the grids are kept per thread for
    # the next call: 20 probes on a 2000-site chain, C ≈ 6000, kept 1.5 GB with a floor of 4096,
    # 0.45 GB now, for +30% of CPU there; shorter chunks cost more again)
    length = int(96e6 / (56 * max(ncols, 1)))
    return int(min(1 << 17, max(1 << 10, 1 << int(np.log2(max(length, 1))))))


def _covariance_rows(z, lam, const, out):
    """σ_ab(t) = const_ab + Σ_r λ_r z_ar(t) z_br(t) into ``out`` (2n, 2n, B) from the low-rank
    columns ``z`` (2n, R, B), compiled by numba: r outermost, so that each z_r row is read
    once from memory for all entries a ≤ b; each entry sums over r in order, then adds const
    (the order of the einsum per entry this replaces: bitwise the same), mirrored to b > a."""
    m, rank, size = z.shape
    for a in range(m):
        for b in range(a, m):
            for t in range(size):
                out[a, b, t] = 0.0
    for r in range(rank):
        lr = lam[r]
        for a in range(m):
            zar = z[a, r]
            for b in range(a, m):
                zbr = z[b, r]
                row = out[a, b]
                for t in range(size):
                    row[t] += (lr * zar[t]) * zbr[t]
    for a in range(m):
        for b in range(a, m):
            for t in range(size):
                out[a, b, t] += const[a, b]
                out[b, a, t] = out[a, b, t]


_COVARIANCE_ROWS = kernel(_covariance_rows, "void(float64[:, :, :], float64[::1], float64[:, :], float64[:, :, ::1])",
                          reads=(0, 1, 2))


def iter_moment_rows(sol, times, *, block: int, engine: str, into=None, finite=None):
    """Yield (slice, mean (2n, B), cov (2n, 2n, B)) chunks, entry by entry (interleaved). With
    ``into`` = (mean (2n, T), cov (2n, 2n, T)), C-contiguous: each chunk is written there
    (the NUFFT's straight from its transform, no chunk array) and the yielded arrays are views
    of them. ``finite``: a list that gets, per chunk, whether all its numbers are finite (the
    NUFFT's from the pass that writes σ, no second pass)."""
    t, h = checked_grid(times)
    check_horizon(sol, t)
    if engine not in ("auto", "nufft", "direct"):
        raise HarmosyncError(f"engine must be auto, nufft or direct, got {engine!r}")
    if not sol.has_covariance:
        raise HarmosyncError("this evolution was solved with covariance=False; use means(), or solve again")
    w = sol.frequencies
    n = len(sol.rows)
    # rows in interleaved order (x1, p1, x2, p2, …): no reordering of the results; the means
    # first (the NUFFT packs neighbouring columns in pairs; a zero mean then stays exactly zero)
    alpha, beta = moment_columns(sol)
    ncols = alpha.shape[1]
    const = to_interleaved(stationary_covariance(sol))
    lam = np.ascontiguousarray(sol.values, dtype=float)

    def assemble(start, rows):
        # rows (C, B): the values of each column along the chunk's times
        size = rows.shape[1]
        cov = np.empty((2 * n, 2 * n, size))
        _COVARIANCE_ROWS(rows[2 * n:].reshape(-1, 2 * n, size).transpose(1, 0, 2), lam, const, cov)
        sl = slice(start, start + size)
        if finite is not None:
            finite.append(bool(np.isfinite(rows[: 2 * n]).all() and np.isfinite(cov).all()))
        if into is None:
            return sl, rows[: 2 * n], cov
        into[0][:, sl], into[1][:, :, sl] = rows[: 2 * n], cov
        return sl, into[0][:, sl], into[1][:, :, sl]

    tb = _table_block(block, w.size)
    if h is None:
        if engine == "nufft":
            raise HarmosyncError("engine 'nufft' needs a uniform time grid")
        for start in range(0, t.size, tb):
            arg = np.outer(t[start:start + tb], w)
            yield assemble(start, (np.cos(arg) @ alpha + np.sin(arg) @ beta).T)
        return
    chunk = nufft_chunk(ncols)
    if not uses_nufft(sol, t, engine=engine):
        for start, vals in ts.direct(w, alpha, beta, t[0], h, t.size, block=tb):
            for sub in range(0, vals.shape[0], block):
                yield assemble(start + sub, vals[sub:sub + block].T)
        return
    # the NUFFT's transform read straight into the moments, one chunk at a time and slab by
    # slab of its rows (its values never stored: the same numbers as assemble() on its rows)
    length, grid = ts.chunk_plan(w.size, ncols, t.size, chunk)
    plan = ts.NufftPlan(w, h, length, grid)
    coef = alpha - 1j * beta
    acc = np.empty((n * (2 * n + 1), length))  # Σ_r λ_r z_ar z_br so far, entries a ≤ b
    slab = slab_rows(n)
    starts = range(0, t.size, length)
    for start, phase in zip(starts, plan.chunk_phases(t[0], starts)):
        size = min(length, t.size - start)
        if into is not None:
            mean, cov, col = into[0], into[1], start
        else:
            mean, cov, col = np.empty((2 * n, size)), np.empty((2 * n, 2 * n, size)), 0
        acc[:, :size] = 0.0
        plan.transform_slabs(coef, phase, slab, lambda r0, fb: _MOMENT_SLAB(
            fb, 2 * r0, plan.scale, plan.half, lam, acc, mean, col, size))
        ok = _FINISH_COVARIANCE(acc, const, cov, mean, col, size)
        if finite is not None:
            finite.append(ok)
        if into is not None:
            yield slice(start, start + size), mean[:, start:start + size], cov[:, :, start:start + size]
            continue
        for sub in range(0, size, block):
            yield slice(start + sub, start + min(sub + block, size)), mean[:, sub:sub + block], cov[:, :, sub:sub + block]


#: rows of the transform per slab (a multiple of ducc0's SIMD group of complex rows, 1–8: each
#: row then rounds as in one call over all rows) when that is a whole number of r's
SLAB_ROWS = 8


def slab_rows(n: int) -> int:
    """Transform rows per slab for n observed oscillators: n rows hold the means or one r's 2n
    low-rank columns, so a slab must be a multiple of n; 0 (the whole transform at once) when
    that multiple of SLAB_ROWS would exceed 4·SLAB_ROWS."""
    k = SLAB_ROWS * n // math.gcd(SLAB_ROWS, n)
    return k if k <= 4 * SLAB_ROWS else 0


def _moment_slab(fb, c0, scale, half, lam, acc, mean, col, size):
    """One slab of a chunk's NUFFT transform ``fb`` (k rows; columns c0 … c0 + 2k − 1 in the
    layout of :func:`moment_columns`, column c at output j = scale[j]·Re/Im fb[c // 2 − c0/2,
    (j − half) mod G]) into the moments, in blocks of 256 outputs whose columns stay in cache:
    the block's columns split out (``trigsum._split``'s products); the means written to
    ``mean[:, col + j]``; each whole r in the slab added to the running sums ``acc`` (entries
    a ≤ b in row order): acc_ab += (λ_r z_ar) z_br, four r's per pass (one load and store of
    acc_ab for four terms). Slabs come in order of r and each pass adds its r's in order, so
    each entry sums over r in order, as :func:`_covariance_rows` does (bitwise the same)."""
    m2 = mean.shape[0]
    rows = fb.shape[0]
    grid = fb.shape[1]
    step = 256
    z = np.empty((2 * rows, step))
    for t0 in range(0, size, step):
        nb = min(step, size - t0)
        # outputs t0 + j sit at grid index t0 + j − half, + G before the wrap: two runs
        cut = min(max(half - t0, 0), nb)
        for r in range(rows):
            row, zr, zi = fb[r], z[2 * r], z[2 * r + 1]
            for lo, hi, m0 in ((0, cut, t0 - half + grid), (cut, nb, t0 - half)):
                for j in range(lo, hi):
                    v, s = row[m0 + j], scale[t0 + j]
                    zr[j] = v.real * s
                    zi[j] = v.imag * s
        c = c0
        while c < c0 + 2 * rows and c < m2:
            zc = z[c - c0]
            for j in range(nb):
                mean[c, col + t0 + j] = zc[j]
            c += 1
        first = c - c0  # the slab's whole r's of 2n columns: z rows first + i·m2 …
        count = (c0 + 2 * rows - c) // m2
        k = 0
        for a in range(m2):
            for b in range(a, m2):
                ab = acc[k, t0:t0 + nb]
                i = 0
                while i + 4 <= count:  # four r's per pass over the block, added in order of r
                    q = first + i * m2
                    r0 = (c0 + q - m2) // m2
                    l0, l1, l2, l3 = lam[r0], lam[r0 + 1], lam[r0 + 2], lam[r0 + 3]
                    a0, a1, a2, a3 = z[q + a], z[q + m2 + a], z[q + 2 * m2 + a], z[q + 3 * m2 + a]
                    b0, b1, b2, b3 = z[q + b], z[q + m2 + b], z[q + 2 * m2 + b], z[q + 3 * m2 + b]
                    for j in range(nb):
                        ab[j] = (((ab[j] + (l0 * a0[j]) * b0[j]) + (l1 * a1[j]) * b1[j])
                                 + (l2 * a2[j]) * b2[j]) + (l3 * a3[j]) * b3[j]
                    i += 4
                while i < count:
                    q = first + i * m2
                    lr = lam[(c0 + q - m2) // m2]
                    za, zb = z[q + a], z[q + b]
                    for j in range(nb):
                        ab[j] += (lr * za[j]) * zb[j]
                    i += 1
                k += 1


def _finish_covariance(acc, const, cov, mean, col, size):
    """σ_ab = acc_ab + const_ab into ``cov[a, b, col + j]``, mirrored to b > a; whether these
    and the chunk's means ``mean[:, col + j]`` are all finite (x − x is 0 for finite x only;
    a select, not a branch or an or-reduction: the loops stay vectorised)."""
    m2 = const.shape[0]
    bad = 0.0
    k = 0
    for a in range(m2):
        for b in range(a, m2):
            cab = const[a, b]
            row, x, y = acc[k], cov[a, b, col:col + size], cov[b, a, col:col + size]
            for j in range(size):
                v = row[j] + cab
                x[j] = v
                y[j] = v
                bad = bad if v - v == 0.0 else 1.0
            k += 1
    for a in range(mean.shape[0]):
        x = mean[a, col:col + size]
        for j in range(size):
            v = x[j]
            bad = bad if v - v == 0.0 else 1.0
    return bad == 0.0


_MOMENT_SLAB = kernel(_moment_slab, "void(complex128[:, ::1], int64, float64[::1], int64, float64[::1], "
                      "float64[:, ::1], float64[:, ::1], int64, int64)", reads=(0, 2, 4))
_FINISH_COVARIANCE = kernel(_finish_covariance, "boolean(float64[:, ::1], float64[:, :], float64[:, :, ::1], "
                            "float64[:, ::1], int64, int64)", reads=(0, 1, 3))


_LAST_GRID: list = [None]  # (a copy of the last grid checked, its uniform step or None)
#: grids of at most this many times are checked afresh and not remembered
SMALL_GRID = 64


def checked_grid(times) -> tuple[np.ndarray, float | None]:
    """check_times(times) and uniform_step(t, 3), remembered for the last grid: a map evaluates
    hundreds of evolutions on one grid, and the checks (≈ 0.4 ms on 30 001 times) then cost one
    comparison with the copy (threads may race to replace it: each entry is whole). Grids of
    more than 2²⁰ times are not kept (≤ 8 MB held; the checks are small beside their sums),
    nor of at most ``SMALL_GRID`` (cheap to check; each network's initial check at t = 0 would
    otherwise evict the map's grid)."""
    last = _LAST_GRID[0]
    if (last is not None and isinstance(times, np.ndarray) and times.dtype == float
            and times.shape == last[0].shape and np.array_equal(times, last[0])):
        return times, last[1]
    t = check_times(times)
    h = uniform_step(t, 3)
    if SMALL_GRID < t.size <= 1 << 20:
        _LAST_GRID[0] = (t.copy(), h)
    return t, h


def means_setup(sol, times, engine: str, columns):
    """:func:`evaluate_means`' checks and choices: (t, h, alpha, beta (N, computed columns), pick,
    whole, use_nufft, chunk)."""
    t, h = checked_grid(times)
    check_horizon(sol, t)
    n = len(sol.rows)
    if columns is None:
        columns = range(2 * n)
    cols = np.asarray(list(columns))
    if cols.ndim != 1 or cols.size == 0 or not np.issubdtype(cols.dtype, np.integer) or np.any(
            (cols < 0) | (cols >= 2 * n)):
        raise HarmosyncError(f"columns must list interleaved mean columns in 0..{2 * n - 1}, got {list(columns)}")
    # interleaved column 2i (x_i) or 2i + 1 (p_i) is i or n + i of the block order. The engine,
    # chunk and column pairs are those of all 2n sums; only the NUFFT skips unneeded pairs
    # (the BLAS paths compute all: cheap there, and a GEMM's roundoff depends on its width)
    block = np.where(cols % 2 == 0, cols // 2, n + cols // 2)
    alpha, beta = mode_columns(sol, means_only=True)
    use_nufft = uses_nufft(sol, t, engine=engine, means_only=True)
    needed = np.unique(block) if use_nufft else np.arange(2 * n)
    pick = np.searchsorted(needed, block)
    whole = bool(np.array_equal(pick, np.arange(needed.size)))  # (the columns are those computed, in order)
    return t, h, alpha[:, needed], beta[:, needed], pick, whole, use_nufft, nufft_chunk(2 * n)


def straight_nufft(setup) -> bool:
    """Whether the NUFFT writes these means straight into an output array (whole pairs of
    columns, in order: :func:`evaluate_means`' ``out``, :func:`means_nufft_many`)."""
    _, _, alpha, _, _, whole, use_nufft, _ = setup
    return use_nufft and whole and alpha.shape[1] % 2 == 0


def evaluate_means(sol, times, *, engine: str, columns=None, out=None) -> np.ndarray:
    """:meth:`NormalModeEvolution.means`' values (T, len(columns)), into ``out`` if given (a
    C-contiguous array of that shape: :func:`.many.means_many`'s rows, written by the NUFFT
    straight from its transforms where the columns are whole pairs in order)."""
    setup = means_setup(sol, times, engine, columns)
    t, h, alpha, beta, pick, whole, use_nufft, chunk = setup
    w = sol.frequencies
    if out is not None and straight_nufft(setup) and out.flags.c_contiguous and out.shape == (t.size, alpha.shape[1]):
        ts.nufft_many([w], [alpha], [beta], t[0], h, t.size, [out], [chunk])
        return out
    tb = _table_block(BLOCK, w.size)
    vals = np.empty((t.size, alpha.shape[1]))
    if h is None:
        for start in range(0, t.size, tb):
            arg = np.outer(t[start:start + tb], w)
            vals[start:start + tb] = np.cos(arg) @ alpha + np.sin(arg) @ beta
    else:
        gen = (ts.nufft(w, alpha, beta, t[0], h, t.size, chunk=chunk) if use_nufft
               else ts.direct(w, alpha, beta, t[0], h, t.size, block=tb))
        for start, chunk_vals in gen:
            vals[start:start + chunk_vals.shape[0]] = chunk_vals
    vals = vals if whole else vals[:, pick]
    if out is None:
        return vals
    out[...] = vals
    return out


def means_nufft_many(sols, setups, outs) -> None:
    """:func:`evaluate_means` (engine "auto") of each of ``sols`` into its ``outs`` row (T, C),
    from their :func:`means_setup` on one grid, each one :func:`straight_nufft` (the caller
    covers the times): :func:`~harmosync.solvers.trigsum.nufft_many`, their points and chunk
    phases together, each network's numbers those of its own evaluation."""
    t, h = setups[0][0], setups[0][1]
    ts.nufft_many([sol.frequencies for sol in sols], [st[2] for st in setups], [st[3] for st in setups], t[0], h,
                  t.size, outs, [st[7] for st in setups])
