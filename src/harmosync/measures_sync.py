"""The compiled kernel behind :func:`harmosync.measures.sync_factor` (Eq. 3): one pass over each
signal pair, window sums from running sums over segments (compiled on first use by
:func:`harmosync.jit.kernel`; it releases the GIL, so threads can share a stack of pairs).
"""

from __future__ import annotations

import math

import numpy as np

from .jit import kernel


def sync_rows(f, g, n: int, k: int, out) -> None:
    """C_fg(t, Δt) of Eq. (3) for signal pairs f, g (S, T) into ``out`` (S, T): window n
    steps (trapezoid weights 1/n, ends 1/2n), g read k steps later (NaN where the window or
    g[t + k] runs past the data, where a sample of either signal in the window is not
    finite, or where a signal is constant over the window: variance ≤ 1e-28 max(1, ⟨h²⟩)).

    Windows come in segments of 2n starts (3n samples). Each segment is centred on its mean,
    the window sums are differences of running sums of the centred products, so their
    roundoff is ~1e-16 of the segment's mean square; a window whose variance is below 1e-6 of
    that is recomputed directly from f and g, centred on its own (trapezoid) mean twice. The
    caller checks that a window fits (n, |k| < T).
    """
    n, k = int(n), int(k)
    size = f.shape[1] if f.ndim == 2 else -1
    # the kernel does not check its indices: a bad shape or window would read outside the arrays
    if f.ndim != 2 or g.shape != f.shape or out.shape != f.shape or not (2 <= n < size and abs(k) < size):
        raise ValueError(f"sync_rows: f, g, out must be one (S, T) shape and 2 ≤ n < T, |k| < T; got "
                         f"{f.shape}, {g.shape}, {out.shape}, n = {n}, k = {k}")
    _ROWS(f, g, n, k, out)


def _rows(f, g, n, k, out):
    """sync_rows' loops (compiled by numba; plain Python would run them too, slowly)."""
    rows, size = f.shape
    lo = max(0, -k)
    hi = min(size - 1 - n, size - 1 - n - k)  # last window start with all its samples
    seg = 2 * n
    span = seg + n
    run = np.empty((6, span + 1))  # running sums of x, y, xy, x², y² and of bad samples
    inv = 1.0 / n
    hx = np.empty(span)
    hy = np.empty(span)
    mom = np.empty((5, seg))  # per window of the segment: var f, var g, cov, mean f, mean g
    cc = np.empty(seg)
    for r in range(rows):
        for i in range(size):
            out[r, i] = np.nan
        for b in range(lo, hi + 1, seg):
            cols = min(b + seg, hi + 1) - b
            m = cols + n
            # the segment's centre: the mean of the samples where both signals are finite
            sf = 0.0
            sg = 0.0
            good = 0
            for j in range(m):
                a = f[r, b + j]
                c = g[r, b + j + k]
                if math.isfinite(a) and math.isfinite(c):
                    sf += a
                    sg += c
                    good += 1
            mu_f = sf / good if good > 0 else 0.0
            mu_g = sg / good if good > 0 else 0.0
            for q in range(6):
                run[q, 0] = 0.0
            # the sums carried in registers (a store and reload each step would chain them
            # through memory); the same additions in the same order
            s0 = s1 = s2 = s3 = s4 = s5 = 0.0
            for j in range(m):
                a = f[r, b + j]
                c = g[r, b + j + k]
                ok = math.isfinite(a) & math.isfinite(c)  # selects, not branches
                x = a - mu_f if ok else 0.0
                y = c - mu_g if ok else 0.0
                bad = 0.0 if ok else 1.0
                hx[j] = x
                hy[j] = y
                s0 += x
                s1 += y
                s2 += x * y
                s3 += x * x
                s4 += y * y
                s5 += bad
                run[0, j + 1] = s0
                run[1, j + 1] = s1
                run[2, j + 1] = s2
                run[3, j + 1] = s3
                run[4, j + 1] = s4
                run[5, j + 1] = s5
            scale_f = run[3, m] / n
            scale_g = run[4, m] / n
            # every window's moments from the running sums, in one loop without branches (it
            # vectorises); the windows' checks and rare recomputations after, one by one
            for i in range(cols):
                e = i + n
                mf = (run[0, e + 1] - run[0, i] - 0.5 * (hx[i] + hx[e])) * inv
                mg = (run[1, e + 1] - run[1, i] - 0.5 * (hy[i] + hy[e])) * inv
                mom[0, i] = (run[3, e + 1] - run[3, i] - 0.5 * (hx[i] * hx[i] + hx[e] * hx[e])) * inv - mf * mf
                mom[1, i] = (run[4, e + 1] - run[4, i] - 0.5 * (hy[i] * hy[i] + hy[e] * hy[e])) * inv - mg * mg
                mom[2, i] = (run[2, e + 1] - run[2, i] - 0.5 * (hx[i] * hy[i] + hx[e] * hy[e])) * inv - mf * mg
                mom[3, i] = mf + mu_f
                mom[4, i] = mg + mu_g
            again = 0
            for i in range(cols):  # selects only, into a contiguous row: it vectorises
                vf, vg = mom[0, i], mom[1, i]
                gone = run[5, i + n + 1] - run[5, i] > 0.0  # a sample in the window is not finite
                redo = (scale_f > 1e6 * abs(vf)) | (scale_g > 1e6 * abs(vg))
                again += (~gone) & redo
                cc[i] = np.nan if gone | redo else _pearson(vf, vg, mom[2, i], mom[3, i], mom[4, i])
            for i in range(cols):
                out[r, b + i] = cc[i]
            for i in range(cols if again else 0):
                if run[5, i + n + 1] - run[5, i] <= 0.0 and (scale_f > 1e6 * abs(mom[0, i])
                                                             or scale_g > 1e6 * abs(mom[1, i])):
                    # from the signals themselves: the centred samples lost ε·|segment mean|
                    out[r, b + i] = _pearson(*_window(f[r], g[r], b + i, k, n))


def _pearson(vf, vg, cfg, mf, mg):
    """C = cfg/√(vf·vg) clamped to [−1, 1], from a window's variances, covariance and means;
    NaN where a signal is constant over the window (variance ≤ 1e-28 of ⟨h²⟩, the roundoff
    level of a constant one) or an overflow made C NaN (clamping would make it ±1)."""
    f2 = vf + mf * mf
    g2 = vg + mg * mg
    flat = (vf <= 1e-28 * max(1.0, f2)) | (vg <= 1e-28 * max(1.0, g2))
    cc = cfg / (math.sqrt(vf) * math.sqrt(vg))  # no overflow of vf·vg
    return np.nan if flat | (cc != cc) else min(1.0, max(-1.0, cc))


def _window(hx, hy, i, k, n):
    """(var x, var y, cov, mean x, mean y) over samples x[i..i+n], y[i+k..i+k+n] by the
    trapezoid rule, each signal centred on its mean twice (the second pass removes the first
    mean's roundoff)."""
    mx = 0.0
    my = 0.0
    for j in range(n + 1):
        w = 0.5 if j == 0 or j == n else 1.0
        mx += w * hx[i + j]
        my += w * hy[i + k + j]
    mx /= n
    my /= n
    dx = 0.0
    dy = 0.0
    for j in range(n + 1):
        w = 0.5 if j == 0 or j == n else 1.0
        dx += w * (hx[i + j] - mx)
        dy += w * (hy[i + k + j] - my)
    mx += dx / n
    my += dy / n
    vx = 0.0
    vy = 0.0
    cxy = 0.0
    for j in range(n + 1):
        w = 0.5 if j == 0 or j == n else 1.0
        a = hx[i + j] - mx
        c = hy[i + k + j] - my
        vx += w * a * a
        vy += w * c * c
        cxy += w * a * c
    return vx / n, vy / n, cxy / n, mx, my


_ROWS = kernel(_rows, "void(float64[:, :], float64[:, :], int64, int64, float64[:, :])", reads=(0, 1),
               calls=("_window", "_pearson"))
