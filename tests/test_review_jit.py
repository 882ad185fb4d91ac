"""Review of the compiled (numba) kernels of issue 14, each against a simple independent reference.

* measures.sync_factor (Eq. 3): a direct per-window Pearson in exact rational arithmetic
  (fractions.Fraction on the float samples; trapezoid weights 1/2n at the ends, 1/n inside),
  NaN where the window or g[t + k] leaves the data, where a sample is NaN/±inf, or where a
  signal is constant over the window; layouts, dtypes, threads bitwise.
* solvers.trigsum.nufft: brute-force Σ_k α_k cos(w_k t) + β_k sin(w_k t) in long double.
* measures_twomode: symplectic eigenvalues = |eigenvalues| of iΩσ (numpy.linalg.eigvals); the
  two-mode squeezed vacuum, E_N = 2r exactly.
* solvers.arrowhead: eigenvalues of the full arrowhead matrix by numpy.linalg.eigh; U's probe
  rows orthonormal (Σ_k U_pk U_qk = δ_pq) and reproducing V_S (Σ_k U_pk μ_k U_qk = (V_S)_pq).
* normal_modes' remembered time grid: means on a grid changed in place, views, other grids of
  the same length, from several threads = a fresh evaluation; means and covariances against
  the full propagator S(t) of dynamics.reference.
* numba is not imported with harmosync; a process with an empty numba cache gives bitwise the
  same numbers.
Failures found are xfail(strict=True) with their numbers.
"""

from __future__ import annotations

import math
import os
import pathlib
import subprocess
import sys
import threading
from fractions import Fraction

import numpy as np
import pytest

from harmosync import dynamics as dy
from harmosync import network as nw
from harmosync import states as st
from harmosync.dynamics import reference as ref
from harmosync.errors import HarmosyncError
from harmosync.measures import log_negativity, mutual_information, sync_factor
from harmosync.measures_twomode import two_mode_symplectic_eigenvalues
from harmosync.solvers import arrowhead as ah
from harmosync.solvers import trigsum as ts

SRC = str(pathlib.Path(ts.__file__).resolve().parents[2])  # the tree under test (…/src)


# ----------------------------------------------------------------------------------------------
# sync_factor
# ----------------------------------------------------------------------------------------------
def exact_sync(f, g, n: int, k: int) -> np.ndarray:
    """Eq. (3) evaluated exactly (rationals) on the float samples; step 1, window n, delay k."""
    f, g = np.asarray(f, float), np.asarray(g, float)
    size = f.size
    out = np.full(size, np.nan)
    w = [Fraction(1, 2)] + [Fraction(1)] * (n - 1) + [Fraction(1, 2)]
    for t in range(size):
        if t + k < 0 or t + n >= size or t + n + k >= size:
            continue
        xs, ys = f[t:t + n + 1], g[t + k:t + k + n + 1]
        if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
            continue
        x = [Fraction(float(v)) for v in xs]
        y = [Fraction(float(v)) for v in ys]
        mx = sum(a * b for a, b in zip(w, x)) / n
        my = sum(a * b for a, b in zip(w, y)) / n
        vx = sum(a * (b - mx) ** 2 for a, b in zip(w, x))
        vy = sum(a * (b - my) ** 2 for a, b in zip(w, y))
        c = sum(a * (b - mx) * (d - my) for a, b, d in zip(w, x, y))
        if vx == 0 or vy == 0:
            continue
        out[t] = math.copysign(math.sqrt(float(c * c / (vx * vy))), float(c)) if c else 0.0
    return out


def _assert_sync(f, g, n, k, tol=1e-12):
    got = sync_factor(f, g, 1.0, float(n), delay=float(k))
    want = exact_sync(f, g, n, k)
    mismatch = np.flatnonzero(np.isnan(got) != np.isnan(want))
    assert mismatch.size == 0, (n, k, mismatch)
    np.testing.assert_allclose(got, want, rtol=0, atol=tol)


@pytest.mark.parametrize("n", [2, 3, 7, 19, 38, 39, 40])
def test_sync_matches_exact_pearson_for_windows_and_delays(n):
    """Eq. (3) exactly on random signals (T = 40): every window from 2 steps to the whole
    record and beyond, delays of either sign up to and past the record."""
    rng = np.random.default_rng(n)
    f, g = rng.standard_normal(40), rng.standard_normal(40)
    for k in (0, 1, -1, 5, -5, 39, -39, 40, -40, 10**6, -10**6):
        _assert_sync(f, g, n, k)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_sync_non_finite_samples_only_void_their_windows(bad):
    """A NaN/±inf sample of f or of the delayed g voids exactly the windows that contain it
    (first, second, middle, last samples), whatever the window and delay."""
    t = np.arange(40.0)
    f, g = np.sin(0.3 * t), np.cos(0.21 * t + 0.4)
    for pos in (0, 1, 20, 39):
        fb = f.copy()
        fb[pos] = bad
        for n, k in ((5, 0), (5, 3), (5, -3), (20, 0), (38, 0)):
            _assert_sync(fb, g, n, k)
            _assert_sync(f, fb, n, k)


def test_sync_constant_pieces_offsets_and_decay():
    """Constant stretches are NaN, a step's windows are defined; an offset of 1e8 with unit or
    1e-3 variation, a growing signal and a moderately decaying one keep 1e-10 (the docstring's
    accuracy)."""
    t = np.arange(60.0)
    f, g = np.sin(0.3 * t), np.cos(0.21 * t + 0.4)
    _assert_sync(np.full(60, 3.7), g, 5, 0)
    _assert_sync(np.r_[np.ones(30), np.sin(np.arange(30.0))], g, 5, 0)
    _assert_sync(np.r_[np.zeros(30), np.ones(30)], g, 5, 0)
    _assert_sync(1e8 + f, g, 8, 0, tol=1e-10)
    _assert_sync(1e8 + 1e-3 * f, g, 8, 0, tol=1e-10)
    _assert_sync(1e3 + 1e-10 * f, g, 8, 0, tol=1e-10)
    _assert_sync(np.exp(0.5 * t) * f, g, 8, 0, tol=1e-10)
    _assert_sync(np.exp(-0.3 * t) * f, np.exp(-0.2 * t) * g, 8, 0, tol=1e-10)
    _assert_sync(f, -f, 8, 0)


def test_sync_layouts_dtypes_and_stacks_are_bitwise_the_same():
    """C of a (3, 4, T) stack = C of each pair alone; Fortran order, strided views, read-only,
    big-endian, float32/int (converted to float64 first) give bitwise the same numbers."""
    rng = np.random.default_rng(2)
    f, g = rng.standard_normal((3, 4, 500)), rng.standard_normal((3, 4, 500))
    base = sync_factor(f, g, 0.1, 0.5, delay=0.2)
    rows = np.array([[sync_factor(f[i, j], g[i, j], 0.1, 0.5, delay=0.2) for j in range(4)]
                     for i in range(3)])
    assert np.array_equal(base, rows, equal_nan=True)
    wide = np.zeros((3, 4, 1000))
    wide[..., ::2] = f
    ro = f.copy()
    ro.flags.writeable = False
    for variant in (np.asfortranarray(f), wide[..., ::2], ro, f.astype(">f8")):
        assert np.array_equal(sync_factor(variant, g, 0.1, 0.5, delay=0.2), base, equal_nan=True)
    for conv in (f.astype(np.float32), (10 * f).astype(int)):
        want = sync_factor(conv.astype(float), g, 0.1, 0.5)
        assert np.array_equal(sync_factor(conv, g, 0.1, 0.5), want, equal_nan=True)


def test_sync_short_records_are_nan_and_windows_of_one_step_refused():
    """Records of 1–3 samples have no window of 2 steps: all NaN, in their shape; a window of
    the whole record has one value, one step longer none; a 1-step window is refused."""
    for shape in [(1,), (2,), (3,), (1, 1), (0, 5), (2, 0, 3)]:
        ramp = np.arange(np.prod(shape), dtype=float).reshape(shape)
        out = sync_factor(np.ones(shape), ramp, 1.0, 2.0)
        assert out.shape == shape and np.all(np.isnan(out))
    f = np.sin(np.arange(100.0))
    assert np.isfinite(sync_factor(f, f, 1.0, 99.0)).sum() == 1
    assert np.isfinite(sync_factor(f, f, 1.0, 100.0)).sum() == 0
    with pytest.raises(HarmosyncError, match="at least 2 time steps"):
        sync_factor(f, f, 1.0, 1.0)


def test_sync_workers_and_threads_are_bitwise_equal():
    """workers = 1, 2, 8 and four Python threads calling at once give the same bits."""
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((64, 5000)), rng.standard_normal((64, 5000))
    one = sync_factor(a, b, 0.05, 1.0, workers=1)
    for w in (2, 8):
        assert np.array_equal(sync_factor(a, b, 0.05, 1.0, workers=w), one, equal_nan=True)
    res = [None] * 4

    def go(i):
        res[i] = sync_factor(a, b, 0.05, 1.0, workers=1 + i % 2)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert all(np.array_equal(r, one, equal_nan=True) for r in res)


def test_sync_overflowing_signal_is_not_reported_anticorrelated():
    t = np.arange(20.0)
    c = sync_factor(1e160 * np.sin(0.3 * t), np.sin(0.3 * t), 1.0, 4.0)
    assert np.all(np.isnan(c[:16]) | (np.abs(c[:16] - 1) < 1e-12))


def test_sync_large_signals_keep_their_correlation():
    t = np.arange(20.0)
    f = 1e100 * np.sin(0.3 * t)
    c = sync_factor(f, f, 1.0, 4.0)
    assert np.all(np.isnan(c[:16]) | (np.abs(c[:16] - 1) < 1e-12))


def test_sync_small_windows_after_large_ones_are_exact():
    t = np.arange(60.0)
    g = np.cos(0.21 * t + 0.4)
    for f in (np.exp(-2 * t) * np.sin(0.3 * t), np.where(t == 30, 1e12, np.sin(0.3 * t))):
        got, want = sync_factor(f, g, 1.0, 8.0), exact_sync(f, g, 8, 0)
        ok = np.isfinite(got) & np.isfinite(want)
        assert np.max(np.abs(got - want)[ok]) < 1e-10


def test_sync_window_much_longer_than_record():
    f = np.sin(np.arange(100.0))
    try:
        assert np.all(np.isnan(sync_factor(f, f, 1.0, 1e9)))
    except HarmosyncError:
        pass


def test_sync_empty_signals():
    try:
        assert sync_factor(np.ones(0), np.ones(0), 1.0, 2.0).shape == (0,)
    except HarmosyncError:
        pass


# ----------------------------------------------------------------------------------------------
# trig sums (NUFFT)
# ----------------------------------------------------------------------------------------------
def brute_trig(w, a, b, t0, h, count):
    ld = np.longdouble
    t = ld(t0) + ld(h) * np.arange(count, dtype=ld)
    ph = np.outer(t, np.asarray(w, float).astype(ld))
    a, b = np.asarray(a, float).astype(ld), np.asarray(b, float).astype(ld)
    return (np.cos(ph) @ a + np.sin(ph) @ b).astype(float)


def _nufft(w, a, b, t0, h, count, *, chunk=1 << 16, rows=False):
    parts = [v.T if rows else v for _, v in ts.nufft(w, a, b, t0, h, count, chunk=chunk, rows=rows)]
    return np.concatenate(parts, axis=0)


def test_nufft_matches_brute_force_trig_sums():
    """Σ_k α_k cos(w_k t_j) + β_k sin(w_k t_j) within 1e-13 of Σ|α|+|β| (the module's ~1e-14
    with margin): zero, negative and w·h = π, 2π frequencies, one or two columns, one time,
    one mode, chunk edges (three chunks + 1, chunk 7), non-contiguous/read-only/int inputs;
    rows=True is the transposed rows=False, bitwise."""
    rng = np.random.default_rng(3)
    n = 30
    w = rng.uniform(0.1, 3, n)
    a, b = rng.standard_normal((n, 5)), rng.standard_normal((n, 5))
    ro = a.copy()
    ro.flags.writeable = False
    cases = [(w, a, b, 0.0, 500, {}), (w, a, b, 0.3, 1, {}), (w, a, b, 0.3, 2, {}),
             (w, a[:, :1], b[:, :1], 0.0, 500, {}), (w, a[:, :2], b[:, :2], 0.0, 500, {}),
             (np.r_[0.0, -1.3, 2 * np.pi / 0.05, np.pi / 0.05, w[4:]], a, b, 0.0, 500, {}),
             (w[:1], a[:1], b[:1], 0.0, 500, {}), (w, a, b, 0.0, 3 * ts.chunk_plan(w.size, 5, 9000)[0] + 1, {}),
             (w, a, b, 0.0, 100, {"chunk": 7}),
             (np.repeat(w, 2)[::2], np.asfortranarray(a), ro, 0.0, 500, {}),
             (w, (3 * a).astype(int), (3 * b).astype(int), 0.0, 500, {})]
    for ww, aa, bb, t0, count, kw in cases:
        got = _nufft(ww, aa, bb, t0, 0.05, count, **kw)
        scale = np.abs(aa).sum(0) + np.abs(bb).sum(0)
        assert np.max(np.abs(got - brute_trig(ww, aa, bb, t0, 0.05, count)) / scale) < 1e-13
        assert np.array_equal(got, _nufft(ww, aa, bb, t0, 0.05, count, rows=True, **kw))


def test_nufft_workspace_is_clean_after_nan_and_shared_by_threads():
    """A NaN coefficient spoils its own column pair only, and the next call (the reused grids)
    is exact again; four threads with two shapes at once, and 1 or 2 FFT threads, give the
    same bits as one call alone."""
    rng = np.random.default_rng(4)
    w = rng.uniform(0.1, 3, 30)
    a, b = rng.standard_normal((30, 5)), rng.standard_normal((30, 5))
    clean = _nufft(w, a, b, 0.0, 0.05, 500)
    bad = a.copy()
    bad[3, 0] = np.nan
    spoiled = _nufft(w, bad, b, 0.0, 0.05, 500)
    assert np.isnan(spoiled[:, 0]).all() and np.isfinite(spoiled[:, 2:]).all()
    assert np.array_equal(_nufft(w, a, b, 0.0, 0.05, 500), clean)
    w2 = rng.uniform(0.1, 3, 50)
    a2, b2 = rng.standard_normal((50, 8)), rng.standard_normal((50, 8))
    one = _nufft(w, a, b, 0.0, 0.05, 20000)
    two = _nufft(w2, a2, b2, 1.0, 0.05, 20000)
    res = {}

    def go(i):
        res[i] = (_nufft(w, a, b, 0.0, 0.05, 20000) if i % 2
                  else _nufft(w2, a2, b2, 1.0, 0.05, 20000))

    threads = [threading.Thread(target=go, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert all(np.array_equal(res[i], one if i % 2 else two) for i in range(4))
    for count in (1, 2):
        with ts.fft_threads(count):
            assert np.array_equal(_nufft(w, a, b, 0.0, 0.05, 20000), one)


def test_nufft_is_exact_after_an_interrupted_call(monkeypatch):
    rng = np.random.default_rng(0)
    w = rng.uniform(0.1, 3, 30)
    a, b = rng.standard_normal((30, 4)), rng.standard_normal((30, 4))
    clean = _nufft(w, a, b, 0.0, 0.05, 500)

    def interrupted(*args, **kwargs):
        raise MemoryError("simulated interruption inside the FFT")

    with monkeypatch.context() as m:
        m.setattr(ts, "inverse_fft", interrupted)
        with pytest.raises(MemoryError):
            _nufft(w, a, b, 0.0, 0.05, 500)
    try:
        assert np.max(np.abs(_nufft(w, a, b, 0.0, 0.05, 500) - clean)) < 1e-13
    finally:  # a call of another shape replaces this thread's (dirty) grids, for later tests
        _nufft(w, a[:, :2], b[:, :2], 0.0, 0.05, 500)


def test_sync_delay_far_past_the_record_is_nan():
    f = np.sin(np.arange(50.0))
    assert np.all(np.isnan(sync_factor(f, f, 1.0, 4.0, delay=1e20)))


# ----------------------------------------------------------------------------------------------
# two-mode symplectic eigenvalues
# ----------------------------------------------------------------------------------------------
OMEGA = np.kron(np.eye(2), np.array([[0.0, 1.0], [-1.0, 0.0]]))
FLIP = np.diag([1.0, 1.0, 1.0, -1.0])


def _random_states(rng, count):
    """σ = S D Sᵀ, S = exp(ΩH) symplectic, D = diag(ν1, ν1, ν2, ν2), some ν = ½ (pure modes)."""
    from scipy.linalg import expm

    out = []
    for _ in range(count):
        h = rng.standard_normal((4, 4))
        s = expm(OMEGA @ (h + h.T) * 0.35)
        nu = rng.uniform(0.5, 3, 2)
        nu[rng.random(2) < 0.3] = 0.5
        out.append(s @ np.diag(np.repeat(nu, 2)) @ s.T)
    return np.array(out)


def test_two_mode_eigenvalues_match_eigvals_of_i_omega_sigma():
    """(ν₋, ν₊) of σ and of its partial transpose (p₂ → −p₂) = |eig(iΩσ)| (each twice), within
    1e-12 relative (condition numbers ≤ ~4e3); views, Fortran order, entry-major storage,
    read-only and broadcast stacks give the same bits; (5, 10, 4, 4) → (5, 10, 2)."""
    rng = np.random.default_rng(4)
    covs = _random_states(rng, 120)
    for flip, got in ((False, two_mode_symplectic_eigenvalues(covs)),
                      (True, two_mode_symplectic_eigenvalues(covs, transpose=True))):
        mats = FLIP @ covs @ FLIP if flip else covs
        want = np.array([np.sort(np.abs(np.linalg.eigvals(1j * OMEGA @ m).real))[::2]
                         for m in mats])
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    big = rng.standard_normal((50, 8, 8))
    big = np.einsum("kij,klj->kil", big, big) + 4 * np.eye(8)
    sub = big[:, 2:6, 2:6]
    base = two_mode_symplectic_eigenvalues(sub.copy())
    ro = sub.copy()
    ro.flags.writeable = False
    entry_major = np.moveaxis(np.ascontiguousarray(np.moveaxis(sub, 0, -1)), -1, 0)
    for variant in (sub, np.asfortranarray(sub), entry_major, ro):
        assert np.array_equal(two_mode_symplectic_eigenvalues(variant), base)
    same = two_mode_symplectic_eigenvalues(np.broadcast_to(sub[0], (7, 4, 4)))
    assert np.array_equal(same, np.repeat(base[:1], 7, 0))
    stacked = big[:, 2:6, 2:6].reshape(5, 10, 4, 4)
    assert two_mode_symplectic_eigenvalues(stacked).shape == (5, 10, 2)
    assert two_mode_symplectic_eigenvalues(np.zeros((0, 4, 4))).shape == (0, 2)


def test_two_mode_squeezed_vacuum_and_bad_input():
    """Two-mode squeezed vacuum: ν = ½, ½; partial transpose ν̃₋ = e^{−2r}/2, so E_N = 2r and
    I = 2[(n+1)ln(n+1) − n ln n], n = sinh²r. A NaN matrix gives NaN for itself only; a
    non-positive σ is refused."""
    for r in (0.25, 0.5, 1.5):
        ch, sh = np.cosh(2 * r) / 2, np.sinh(2 * r) / 2
        c = np.array([[ch, 0, sh, 0], [0, ch, 0, -sh], [sh, 0, ch, 0], [0, -sh, 0, ch]])
        np.testing.assert_allclose(two_mode_symplectic_eigenvalues(c), [0.5, 0.5], rtol=1e-13)
        nu_t = two_mode_symplectic_eigenvalues(c, transpose=True)[0]
        np.testing.assert_allclose(nu_t, np.exp(-2 * r) / 2, rtol=1e-13)
        np.testing.assert_allclose(log_negativity(c), 2 * r, rtol=1e-13)
        n = np.sinh(r) ** 2
        entropy = (n + 1) * np.log(n + 1) - n * np.log(n)
        np.testing.assert_allclose(mutual_information(c), 2 * entropy, rtol=1e-12)
    covs = _random_states(np.random.default_rng(5), 6)
    covs[3] = np.nan
    out = two_mode_symplectic_eigenvalues(covs)
    assert np.isnan(out[3]).all() and np.isfinite(np.delete(out, 3, 0)).all()
    covs[3] = np.diag([1.0, 1.0, -1.0, 1.0])
    with pytest.raises(HarmosyncError, match="not positive definite"):
        two_mode_symplectic_eigenvalues(covs)


# ----------------------------------------------------------------------------------------------
# arrowhead
# ----------------------------------------------------------------------------------------------
def _check_arrowhead(vs, d, c):
    modes = ah.arrowhead_modes(vs, d, c)
    p, m = vs.shape[0], d.size
    full = np.zeros((p + m, p + m))
    full[:p, :p], full[:p, p:], full[p:, :p], full[p:, p:] = vs, c, c.T, np.diag(d)
    lam = np.linalg.eigh(full)[0]
    scale = np.abs(lam).max()
    np.testing.assert_allclose(modes.values, lam, rtol=0, atol=1e-13 * scale)
    rows = modes.rows(np.eye(p), None)
    np.testing.assert_allclose(rows @ rows.T, np.eye(p), rtol=0, atol=1e-12)
    np.testing.assert_allclose((rows * modes.values) @ rows.T, vs, rtol=0, atol=1e-12 * scale)


def test_arrowhead_modes_match_eigh_on_hard_spectra():
    """Equal poles (×5), poles one ulp apart, zero, 1e-20 and 1e-9 couplings, poles over 12
    decades, a probe frequency on a pole, a probe coupled to nothing, huge couplings, one
    probe, one environment mode: eigenvalues within 1e-13 of eigh's scale; probe rows
    orthonormal and reproducing V_S within 1e-12."""
    rng = np.random.default_rng(5)
    p, m = 3, 40

    def vs_random(k):
        x = rng.standard_normal((k, k)) * 0.1
        return np.diag(rng.uniform(1, 2, k)) + (x + x.T) / 2

    d = np.sort(rng.uniform(0.2, 3, m))
    c = rng.standard_normal((p, m)) * 0.1
    _check_arrowhead(vs_random(p), d, c)
    dd = d.copy()
    dd[10:15] = dd[10]
    _check_arrowhead(vs_random(p), dd, c)
    dd = d.copy()
    dd[11] = np.nextafter(dd[10], 9)
    dd[12] = np.nextafter(dd[11], 9)
    _check_arrowhead(vs_random(p), dd, c)
    for small in (0.0, 1e-20, 1e-9):
        cc = c.copy()
        cc[:, 5:9] = small
        _check_arrowhead(vs_random(p), d, cc)
    _check_arrowhead(vs_random(p), np.sort(10 ** rng.uniform(-8, 4, m)), c)
    _check_arrowhead(np.diag([d[7], d[20], 1.5]), d, c)
    vs = vs_random(p)
    vs[0, 1:] = vs[1:, 0] = 0
    _check_arrowhead(vs, d, np.vstack([np.zeros(m), c[1:]]))
    _check_arrowhead(vs_random(p), d, 1e4 * c)
    _check_arrowhead(vs_random(1), d, c[:1])
    _check_arrowhead(vs_random(p), d[:1], c[:, :1])


def test_arrowhead_many_is_each_single_and_thread_safe():
    """arrowhead_modes_many = arrowhead_modes per network, bitwise; three threads at once too."""
    rng = np.random.default_rng(6)
    m = 40
    d = np.sort(rng.uniform(0.2, 3, m))
    x = rng.standard_normal((3, 3)) * 0.1
    vs0 = np.diag(rng.uniform(1, 2, 3)) + (x + x.T) / 2
    c0 = rng.standard_normal((3, m)) * 0.1
    vss, cs = [], []
    for b in range(40):
        v, cc = vs0.copy(), c0.copy()
        v[2, 2] = 1 + 0.05 * b
        cc[2] = rng.standard_normal(m) * 0.1
        vss.append(v)
        cs.append(cc)
    base = ah.arrowhead_modes(vs0[:2, :2], d, c0[:2])
    many = ah.arrowhead_modes_many(vss, d, cs, base=base)
    for b in (0, 17, 39):
        one = ah.arrowhead_modes(vss[b], d, cs[b], base=base)
        assert np.array_equal(many[b].values, one.values)
        assert np.array_equal(many[b].rows(np.eye(3)), one.rows(np.eye(3)))
    res = {}

    def go(i):
        res[i] = ah.arrowhead_modes_many(vss, d, cs, base=base)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert all(np.array_equal(res[i][b].values, many[b].values)
               for i in range(3) for b in range(40))


# ----------------------------------------------------------------------------------------------
# normal modes: the remembered grid, the covariance contraction
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def evolution():
    net = nw.couple(nw.chain(60, 0.4, 1.2), nw.probes((1.0, 1.1), 0.5, (1, 9), (0.06, 0.06)))
    init = st.InitialState(st.product(st.coherent(1.0, 0.14), st.coherent(1.1, 1.4)))
    return net, init, dy.solve(net, init)


def _fresh(evo, t):
    """Means on a copy of t after a call on another grid (nothing remembered of t)."""
    evo.means(np.linspace(0.0, 1.0, 7))
    return evo.means(np.array(t, dtype=float, copy=True))


def test_means_grid_memory_matches_fresh_evaluations(evolution):
    """The same array shifted in place, then its last time moved, another grid of the same
    length, a strided view, a read-only copy, a list, a float32 grid, t0 = −0.0, and two
    grids alternating in four threads: each = a fresh evaluation, bitwise; and the means =
    S(t)·R(0) of the full propagator within 1e-12."""
    net, init, evo = evolution
    t = 0.05 * np.arange(4001)
    base = evo.means(t)
    m0 = ref.initial_mean(net, init)
    exact = np.array([ref.propagator(net, x) @ m0 for x in t[::400]])
    np.testing.assert_allclose(base[::400], exact[:, :base.shape[1]], rtol=0, atol=1e-12)
    g = t.copy()
    evo.means(g)
    g += 0.5
    assert np.array_equal(evo.means(g), _fresh(evo, g))
    g[-1] += 0.01
    assert np.array_equal(evo.means(g), _fresh(evo, g))
    other = t * 1.0000001
    evo.means(t)
    assert np.array_equal(evo.means(other), _fresh(evo, other))
    wide = np.zeros(2 * t.size)
    wide[::2] = t
    ro = t.copy()
    ro.flags.writeable = False
    neg = t.copy()
    neg[0] = -0.0
    for variant in (wide[::2], ro, list(t), neg):
        evo.means(t)
        assert np.array_equal(evo.means(variant), base)
    assert np.array_equal(evo.means(t.astype(np.float32)), _fresh(evo, t.astype(np.float32)))
    ga, gb = t.copy(), t + 3.0
    fa, fb = _fresh(evo, ga), _fresh(evo, gb)
    res = {}

    def go(i):
        res[i] = [evo.means(ga if i % 2 else gb) for _ in range(4)]

    threads = [threading.Thread(target=go, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert all(np.array_equal(o, fa if i % 2 else fb) for i in range(4) for o in res[i])


def test_covariance_matches_the_propagator(evolution):
    """σ(t) = S(t) σ(0) S(t)ᵀ (dynamics.reference) within the evolution's error bound."""
    net, init, evo = evolution
    t = 0.05 * np.arange(0, 401, 100)
    cov = evo.moments(t).cov
    c0 = ref.initial_covariance(net, init)
    want = np.array([s @ c0 @ s.T for s in (ref.propagator(net, x) for x in t)])
    k = cov.shape[-1]
    np.testing.assert_allclose(cov, want[:, :k, :k], rtol=0, atol=max(1e-13, evo.error_bound))


def test_squeezed_thermal_moments_match_the_propagator_on_a_long_grid():
    """A squeezed and a thermal probe, environment at T = 0.7, NUFFT on 20 001 times (two
    chunks of 2¹⁴-point grids): ⟨R(t)⟩ = S(t)⟨R(0)⟩ and σ(t) = S(t)σ(0)S(t)ᵀ within the error bound."""
    net = nw.couple(nw.chain(60, 0.4, 1.2), nw.probes((1.0, 1.1), 0.5, (1, 9), (0.06, 0.06)))
    init = st.InitialState(st.product(st.squeezed(1.0, 0.6, 0.3, x=0.5), st.thermal(1.1, 0.8, p=0.3)),
                           environment_temperature=0.7)
    evo = dy.solve(net, init)
    t = 0.05 * np.arange(20001)
    mo = evo.moments(t, engine="nufft")
    c0, m0 = ref.initial_covariance(net, init), ref.initial_mean(net, init)
    k = mo.cov.shape[-1]
    for i in range(0, t.size, 2500):
        s = ref.propagator(net, t[i])
        np.testing.assert_allclose(mo.mean[i], (s @ m0)[:k], rtol=0, atol=evo.error_bound)
        np.testing.assert_allclose(mo.cov[i], (s @ c0 @ s.T)[:k, :k], rtol=0, atol=evo.error_bound)


# ----------------------------------------------------------------------------------------------
# imports and a cold numba cache
# ----------------------------------------------------------------------------------------------
_PROBE = """
import sys, numpy as np
from harmosync.measures import sync_factor
from harmosync.measures_twomode import two_mode_symplectic_eigenvalues
from harmosync import dynamics as dy, network as nw, states as st
rng = np.random.default_rng(0)
c = sync_factor(rng.standard_normal((4, 300)), rng.standard_normal((4, 300)), 1.0, 10.0)
k = rng.standard_normal((10, 4, 4)); k = np.einsum("kij,klj->kil", k, k) + np.eye(4)
net = nw.couple(nw.chain(60, 0.4, 1.2), nw.probes((1.0, 1.1), 0.5, (1, 9), (0.06, 0.06)))
evo = dy.solve(net, st.InitialState(st.product(st.coherent(1.0, 0.14), st.coherent(1.1, 1.4))))
m = evo.moments(0.05 * np.arange(3001))
np.save(OUT, np.concatenate([c.ravel(), two_mode_symplectic_eigenvalues(k).ravel(),
                                     m.mean.ravel(), m.cov.ravel()]))
"""


def test_harmosync_imports_without_numba():
    code = ("import sys, harmosync, harmosync.measures, harmosync.dynamics, harmosync.simulation; "
            "print('numba' in sys.modules, 'llvmlite' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": SRC})
    assert out.stdout.split() == ["False", "False"]


def test_cold_numba_cache_gives_the_same_numbers(tmp_path):
    """A process with an empty NUMBA_CACHE_DIR (compiling every kernel) and one loading the
    cache it wrote give bitwise the numbers of this process."""
    script = tmp_path / "probe.py"
    script.write_text("import sys\nOUT = sys.argv[1]\n" + _PROBE)
    env = {**os.environ, "PYTHONPATH": SRC, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    outs = []
    for i in range(2):
        out = str(tmp_path / f"r{i}.npy")
        subprocess.run([sys.executable, str(script), out], check=True, env=env, capture_output=True)
        outs.append(np.load(tmp_path / f"r{i}.npy"))
    here = tmp_path / "here.npy"
    exec(compile(_PROBE, "probe", "exec"), {"__name__": "probe", "OUT": str(here)})
    assert np.array_equal(outs[0], outs[1], equal_nan=True)
    assert np.array_equal(outs[0], np.load(here), equal_nan=True)


def test_solve_many_and_means_many_match_per_network_solves():
    """Fig. 6's route on a 120-site chain (the structured path): each network of solve_many
    has the means and covariances dy.solve gives it alone within both error bounds, and
    means_many with 1 or 2 workers is bitwise each evolution's own means."""
    from harmosync.dynamics.many import means_many

    env = nw.chain(120, 0.4, 1.2)
    init = st.InitialState(st.product(st.coherent(1.0, 0.14), st.coherent(1.1, 1.4)))
    sites = [1, 2, 60, 119, 120]
    pr = nw.probes((1.0, 1.1), 0.5, (1, 1), (0.2, 0.2))
    nets = [nw.couple(env, q) for q in dy.plugging_sweep(pr, sites)]
    t = 0.05 * np.arange(4001)
    sols = dy.solve_many(nets, init, t_max=t[-1])
    assert all(s.method == "chain" for s in sols)
    one = means_many(sols, t, columns=(0, 2), workers=1)
    assert np.array_equal(means_many(sols, t, columns=(0, 2), workers=2), one)
    for i, sol in enumerate(sols):
        assert np.array_equal(one[i], sol.means(t, columns=(0, 2)))
        alone = dy.solve(nets[i], init)
        a, b = sol.moments(t[::20]), alone.moments(t[::20])
        bound = sol.error_bound + alone.error_bound
        np.testing.assert_allclose(a.mean, b.mean, rtol=0, atol=bound)
        np.testing.assert_allclose(a.cov, b.cov, rtol=0, atol=bound)


def test_nufft_after_the_interrupted_call_test_is_clean():
    """Runs after test_nufft_is_exact_after_an_interrupted_call: this thread's grids are clean."""
    rng = np.random.default_rng(0)
    w = rng.uniform(0.1, 3, 30)
    a, b = rng.standard_normal((30, 4)), rng.standard_normal((30, 4))
    np.testing.assert_allclose(_nufft(w, a, b, 0.0, 0.05, 500), brute_trig(w, a, b, 0.0, 0.05, 500),
                               rtol=0, atol=1e-12)


def test_kernel_wrappers_refuse_shapes_and_indices_that_would_read_outside_the_arrays():
    """The compiled loops do not check bounds; their public wrappers do (a bad call is a
    ValueError, never a read past an array)."""
    from harmosync.measures_sync import sync_rows
    from harmosync.solvers.arrowhead import secular_sums

    f = np.ones((3, 50))
    with pytest.raises(ValueError, match="one \\(S, T\\) shape"):
        sync_rows(f, np.ones((2, 50)), 5, 0, np.empty((3, 50)))
    with pytest.raises(ValueError, match="2 ≤ n < T"):
        sync_rows(f, f, 50, 0, np.empty((3, 50)))
    poles, z2 = np.array([1.0, 2.0, 3.0]), np.ones((1, 3))
    ok = secular_sums(poles, z2, np.array([0]), np.array([1]), np.array([0.5]), np.array([2]))
    assert all(np.isfinite(x).all() for x in ok)
    for net, origin, left in (([1], [1], [2]), ([0], [3], [2]), ([0], [1], [4]), ([-1], [1], [2])):
        with pytest.raises(ValueError, match="valid indices"):
            secular_sums(poles, z2, np.array(net), np.array(origin), np.array([0.5]), np.array(left))


def test_a_ctrl_c_while_a_kernel_compiles_arrives_after_it(tmp_path):
    """A KeyboardInterrupt raised inside numba's compilation (LLVM's callbacks) is swallowed
    there and leaves the kernel half built ("no compiled object yet", exit 1 of a sweep
    interrupted ~1 s after start): jit holds SIGINT while a kernel compiles or loads, so Ctrl-C
    arrives after it, and the kernel works on the next call."""
    import subprocess
    import sys

    script = tmp_path / "ctrl_c.py"
    script.write_text(
        "import os, signal\n"
        # (Python's own handler, whatever this process inherited: a CI started in the background
        # ignores SIGINT, and so did the script, which then printed nothing; session 14)
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "import numba\n"
        "from harmosync import jit\n"
        "def plus_one(x):\n    return x + 1.0\n"
        "kernel = jit.kernel(plus_one, 'float64(float64)')\n"
        "done = []\n"
        "real = numba.njit\n"
        "def njit(*a, **kw):\n"
        "    os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while numba compiles\n"
        "    out = real(*a, **kw)\n"
        "    done.append(True)\n"
        "    return out\n"
        "numba.njit = njit\n"
        "try:\n    kernel(1.0)\nexcept KeyboardInterrupt:\n    print('interrupted', bool(done), kernel(1.0))\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False)
    assert out.stdout.split() == ["interrupted", "True", "2.0"], (out.stdout, out.stderr)
