"""The compiled kernel of C(t, Δt), Eq. (3) (measures_sync), against Eq. (3) written out window
by window with exactly rounded sums (math.fsum): values, the NaN rules of sync_factor's
docstring, delays of either sign, and the roundoff guarantee on signals that defeat running
sums (a large offset, a fast decay)."""

import math

import numpy as np
import pytest

from harmosync import measures as ms


def pearson_fsum(a, b):
    """Eq. (3) on one window of n + 1 samples: trapezoid means ⟨h⟩ = (1/n)(½h_0 + h_1 + … +
    ½h_n), δh = h − ⟨h⟩, C = ⟨δa δb⟩/√(⟨δa²⟩⟨δb²⟩); every sum exactly rounded (fsum), the means
    refined once more (two-pass centring). NaN for a non-finite sample or a constant signal
    (variance ≤ 1e-28 max(1, ⟨h²⟩))."""
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return math.nan
    n = a.size - 1

    def mean(h):
        return math.fsum([0.5 * h[0], *h[1:-1], 0.5 * h[-1]]) / n

    da, db = a - mean(a), b - mean(b)
    da, db = da - mean(da), db - mean(db)
    va, vb, cab = mean(da * da), mean(db * db), mean(da * db)
    if va <= 1e-28 * max(1.0, mean(a * a)) or vb <= 1e-28 * max(1.0, mean(b * b)):
        return math.nan
    return min(1.0, max(-1.0, cab / math.sqrt(va * vb)))


def reference(f, g, n, k):
    """C at every start i: window f[i..i+n], g[i+k..i+k+n]; NaN past the data (either end)."""
    out = np.full(f.size, np.nan)
    for i in range(f.size):
        if i + n <= f.size - 1 and 0 <= i + k and i + k + n <= f.size - 1:
            out[i] = pearson_fsum(f[i:i + n + 1], g[i + k:i + k + n + 1])
    return out


def signals(size, step):
    t = step * np.arange(size)
    rng = np.random.default_rng(3)
    f = np.stack([np.cos(3 * t) * np.exp(-(t % 10) / 0.5),  # shrinks by e^-20: running sums lose it
                  1e6 + 1e-2 * np.sin(1.7 * t),           # offset 1e8 × the oscillation
                  rng.normal(size=size),
                  np.where((t > 5) & (t < 12), 3.0, np.sin(t)),   # constant for a while
                  np.sin(2.1 * t)])
    g = np.stack([np.sin(1.1 * t) * np.exp(-t / 3), np.cos(1.7 * t + 0.3), rng.normal(size=size),
                  np.cos(0.8 * t), np.cos(2.1 * t)])
    f[4, 100] = np.nan      # one NaN sample: every window holding it is NaN
    g[4, 200] = np.inf      # so is a window holding an infinite sample
    f[2, -3:] = np.nan
    return f, g


@pytest.mark.parametrize("k", [0, 7, -12])
def test_sync_factor_is_eq3_window_by_window(k):
    """Every sample of C equals the fsum reference within the docstring's guarantee: window
    moments carry roundoff ~1e-16 of their segment's mean square, and windows whose variance
    is below 1e-6 of it are recomputed, so C is off by at most ~1e-10 (the signal that shrinks
    by e^-20 comes close: without the recomputation it is off by 1e-5), and by 1e-13 for
    signals whose variance does not change much across a segment (here even with an offset
    1e8 times their oscillation). NaN exactly where the reference is NaN: windows past the
    data or past the delayed signal, windows with a NaN or inf sample, windows where a signal
    is constant."""
    step, n, size = 0.1, 20, 300
    f, g = signals(size, step)
    c = ms.sync_factor(f, g, step, n * step, delay=k * step)
    for r in range(f.shape[0]):
        ref = reference(f[r], g[r], n, k)
        np.testing.assert_array_equal(np.isnan(c[r]), np.isnan(ref), err_msg=f"row {r}")
        np.testing.assert_allclose(c[r], ref, rtol=0, atol=2e-10 if r == 0 else 1e-13, err_msg=f"row {r}")
    assert np.isnan(c[3, (step * np.arange(size) > 5) & (step * np.arange(size) < 12 - n * step)]).all()


def test_sync_factor_threads_and_rows_give_the_same_numbers():
    """A stack computed on 1 or 2 threads, and each pair alone, give bitwise the same C (each
    pair's arithmetic is its own)."""
    step, n = 0.05, 40
    t = step * np.arange(40_000)
    f = np.stack([np.sin(t + p) * np.exp(-t / 900) for p in np.linspace(0, 3, 6)])
    g = np.stack([np.cos(1.01 * t + p) for p in np.linspace(0, 2, 6)])
    one = ms.sync_factor(f, g, step, n * step)
    assert np.array_equal(ms.sync_factor(f, g, step, n * step, workers=2), one, equal_nan=True)
    for r in (0, 5):
        assert np.array_equal(ms.sync_factor(f[r], g[r], step, n * step), one[r], equal_nan=True)


def test_short_records_and_long_delays_are_all_nan():
    """No complete window (record shorter than the window, or a delay past the record): all NaN."""
    x = np.sin(np.arange(10.0))
    assert np.isnan(ms.sync_factor(x, x, 1.0, 12.0)).all()
    assert np.isnan(ms.sync_factor(x, x, 1.0, 3.0, delay=8.0)).all()
    assert np.isnan(ms.sync_factor(x, x, 1.0, 3.0, delay=-10.0)).all()


def test_importing_harmosync_does_not_import_numba():
    """numba (~0.2 s to import) loads on the first C computed, not with the package."""
    import subprocess
    import sys

    code = "import sys, harmosync; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_read_only_arrays_are_accepted():
    """Read-only inputs (a stored result's values, a cached state) give the same numbers as
    writable ones: C here, and the two-mode symplectic eigenvalues behind I and E_N."""
    t = 0.1 * np.arange(400)
    f, g = np.sin(t) * np.exp(-t / 30), np.cos(1.1 * t)
    want = ms.sync_factor(f, g, 0.1, 2.0)
    f.setflags(write=False)
    g.setflags(write=False)
    assert np.array_equal(ms.sync_factor(f, g, 0.1, 2.0), want, equal_nan=True)
    cov = np.diag([0.7, 0.6, 0.9, 0.55])[None].repeat(3, axis=0)
    cov[:, 0, 2] = cov[:, 2, 0] = 0.2
    nu = ms.symplectic_eigenvalues(cov)
    cov.setflags(write=False)
    assert np.array_equal(ms.symplectic_eigenvalues(cov), nu)
    assert np.array_equal(ms.log_negativity(cov), ms.log_negativity(cov.copy()))
