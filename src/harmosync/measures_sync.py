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
    run = np.empty((span + 1, 6))  # running sums of x, y, xy, x², y² and of bad samples
    inv = 1.0 / n
    hx = np.empty(span)
    hy = np.empty(span)
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
                run[0, q] = 0.0
            for j in range(m):
                a = f[r, b + j]
                c = g[r, b + j + k]
                x = 0.0
                y = 0.0
                bad = 1.0
                if math.isfinite(a) and math.isfinite(c):
                    x = a - mu_f
                    y = c - mu_g
                    bad = 0.0
                hx[j] = x
                hy[j] = y
                run[j + 1, 0] = run[j, 0] + x
                run[j + 1, 1] = run[j, 1] + y
                run[j + 1, 2] = run[j, 2] + x * y
                run[j + 1, 3] = run[j, 3] + x * x
                run[j + 1, 4] = run[j, 4] + y * y
                run[j + 1, 5] = run[j, 5] + bad
            scale_f = run[m, 3] / n
            scale_g = run[m, 4] / n
            for i in range(cols):
                if run[i + n + 1, 5] - run[i, 5] > 0.0:  # a sample in the window is not finite
                    continue
                e = i + n
                mf = (run[e + 1, 0] - run[i, 0] - 0.5 * (hx[i] + hx[e])) * inv
                mg = (run[e + 1, 1] - run[i, 1] - 0.5 * (hy[i] + hy[e])) * inv
                vf = (run[e + 1, 3] - run[i, 3] - 0.5 * (hx[i] * hx[i] + hx[e] * hx[e])) * inv - mf * mf
                vg = (run[e + 1, 4] - run[i, 4] - 0.5 * (hy[i] * hy[i] + hy[e] * hy[e])) * inv - mg * mg
                cfg = (run[e + 1, 2] - run[i, 2] - 0.5 * (hx[i] * hy[i] + hx[e] * hy[e])) * inv - mf * mg
                mf += mu_f
                mg += mu_g
                if scale_f > 1e6 * abs(vf) or scale_g > 1e6 * abs(vg):
                    # from the signals themselves: the centred samples lost ε·|segment mean|
                    vf, vg, cfg, mf, mg = _window(f[r], g[r], b + i, k, n)
                # ⟨h²⟩ of the signal itself, for the roundoff level of a constant one
                f2 = vf + mf * mf
                g2 = vg + mg * mg
                if vf <= 1e-28 * max(1.0, f2) or vg <= 1e-28 * max(1.0, g2):
                    continue
                cc = cfg / (math.sqrt(vf) * math.sqrt(vg))  # no overflow of vf·vg
                if cc == cc:  # an overflow's NaN stays NaN (clamping would make it ±1)
                    out[r, b + i] = min(1.0, max(-1.0, cc))


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
               calls=("_window",))
