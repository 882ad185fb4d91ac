"""Measures on signals and Gaussian covariances (interleaved ordering, σ_ab = ½⟨{ΔR_a, ΔR_b}⟩).

Every function takes plain arrays; covariance functions accept a stack (..., 2n, 2n).
"""

from __future__ import annotations

import numpy as np

from .conventions import symplectic_form
from .errors import HarmosyncError
from .measures_sync import sync_rows
from .measures_twomode import mutual_eigenvalues, two_mode_symplectic_eigenvalues


# ----------------------------------------------------------------------------------------------
# Synchronization, Eq. (3)
# ----------------------------------------------------------------------------------------------
def window_samples(step: float, window: float) -> int:
    """Number of steps n spanned by the window Δt (Δt = n·step, to 1e-6); refuses a window
    shorter than two steps."""
    n = int(round(window / step))
    if n < 2:
        raise HarmosyncError(
            f"sync window {window:g} must span at least 2 time steps (step {step:g}); use window ≥ {2 * step:g}"
        )
    if abs(n * step - window) > 1e-6 * window:
        raise HarmosyncError(
            f"sync window {window:g} is not a whole number of time steps ({step:g}); use {n * step:g}"
        )
    return n


def sync_factor(f, g, step: float, window: float, *, delay: float = 0.0, workers: int = 1) -> np.ndarray:
    """Pearson synchronization factor C_fg(t, Δt) of Eq. (3) on a uniform grid of ``step``.

    ⟨h⟩ = (1/Δt) ∫_t^{t+Δt} h dt′ over the forward window (trapezoid rule on the samples),
    C = ⟨δf δg⟩ / √(⟨δf²⟩⟨δg²⟩), δh = h − ⟨h⟩. With a ``delay`` τ, g is read at t′ + τ (Sec. IV B;
    τ a whole number of steps, either sign). NaN where the window (or the delayed signal) runs
    past the data, where a sample of a signal in the window is NaN (or infinite), or where a
    signal is constant over the window. ``f``, ``g``: shape (T,) or a stack (..., T) of signal
    pairs; returns their shape.

    Cost O(T), whatever the window, in one compiled pass per pair (:mod:`harmosync.measures_sync`):
    window sums are differences of running sums over segments of three windows, each segment
    centred on its own mean first. Roundoff in a window's moments is then ~1e-16 of the
    segment's mean square; where that could matter (a window's variance below 1e-6 of it: a
    signal that shrinks fast, or a large offset within the window), the window is recomputed
    exactly from the signals, centred on its own mean; C is then within ~1e-10 of Eq. (3)
    evaluated exactly. Signals too large to square (|h| ≳ 1e154) give NaN, never a clamped value.
    ``workers``: threads sharing a stack's signal pairs (the kernel releases the GIL); each
    pair's numbers are the same whatever the count.
    """
    f = np.asarray(f, dtype=float)
    g = np.asarray(g, dtype=float)
    if f.shape != g.shape or f.ndim < 1:
        raise HarmosyncError(f"signals must be arrays of one shape (..., T), got {f.shape} and {g.shape}")
    if not (np.isfinite(step) and step > 0 and np.isfinite(window) and np.isfinite(delay)):
        raise HarmosyncError(f"sync step, window and delay must be finite numbers (step > 0), got {step!r}, "
                             f"{window!r}, {delay!r}")
    n = window_samples(step, window)
    k = int(round(delay / step))
    if abs(k * step - delay) > 1e-6 * max(step, abs(delay)):
        raise HarmosyncError(f"delay {delay:g} is not a whole number of time steps ({step:g})")
    if not (isinstance(workers, (int, np.integer)) and not isinstance(workers, bool) and workers >= 1):
        raise HarmosyncError(f"workers must be a whole number ≥ 1, got {workers!r}")
    shape, size = f.shape, f.shape[-1]
    if n >= size or abs(k) >= size or f.size == 0:  # no window fits: all NaN (and no 64-bit overflow)
        return np.full(shape, np.nan)
    f, g = f.reshape(-1, size), g.reshape(-1, size)
    out = np.empty(f.shape)
    # pairs per thread: at least ~64 k samples each (a thread's start costs ~0.1 ms)
    count = max(1, min(int(workers), f.shape[0], f.size // 2**16))
    if count > 1:
        from concurrent.futures import ThreadPoolExecutor

        edges = np.linspace(0, f.shape[0], count + 1).astype(int)
        with ThreadPoolExecutor(count) as ex:
            list(ex.map(lambda a, b: sync_rows(f[a:b], g[a:b], n, k, out[a:b]), edges[:-1], edges[1:]))
    else:
        sync_rows(f, g, n, k, out)
    return out.reshape(shape)


def best_delay(f, g, step: float, window: float, delays, *, t_range=None, times=None):
    """The delay τ among ``delays`` that maximises the time average of C_fg(t, Δt; τ) over
    ``t_range`` (a (start, stop) pair on ``times``; default all defined points). Returns
    (best τ, mean C per delay)."""
    delays = np.asarray(delays, dtype=float)
    if delays.ndim != 1 or delays.size == 0:
        raise HarmosyncError("delays must be a non-empty list of numbers")
    f = np.asarray(f, dtype=float)
    if times is None:
        times = step * np.arange(f.size)
    mask = np.ones(f.size, bool)
    if t_range is not None:
        mask = (times >= t_range[0]) & (times <= t_range[1])
    scores = np.empty(delays.size)
    for i, d in enumerate(delays):
        c = sync_factor(f, g, step, window, delay=d)[mask]
        scores[i] = np.nanmean(c) if np.any(np.isfinite(c)) else np.nan
    if not np.any(np.isfinite(scores)):
        raise HarmosyncError("no delay leaves a complete sync window inside t_range; shorten the delays or widen t_range")
    return float(delays[np.nanargmax(scores)]), scores


# ----------------------------------------------------------------------------------------------
# Gaussian states
# ----------------------------------------------------------------------------------------------
def symplectic_eigenvalues(cov) -> np.ndarray:
    """Symplectic eigenvalues ν_k ≥ ½ (ascending), shape (..., n), of physical covariances.

    Stable route: with σ = L Lᵀ (Cholesky), A = Lᵀ Ω L is real antisymmetric with eigenvalues
    ±iν_k, so the Hermitian iA has eigenvalues ±ν_k, each found to ε·ν_max (three modes and
    more; until session 22 the eigenvalues ν_k² of AᵀA, to ε·ν_max²: a hot mode ν = 1e6 mixed
    with two vacua gave ν_min = 0.49991, E_N = 4.8e-6 of a separable state, and a pure state at
    r = 5 E_N = inf, its ν̃_min² rounded to 0). One mode: ν = √det σ =
    L_11 L_22. Two modes, without an eigensolver and without cancellation: split the 4×4
    antisymmetric A into self-dual and anti-self-dual parts, 3-vectors u± = ½(A01 ± A23,
    A02 ∓ A13, A03 ± A12); its singular values are |u₊| + |u₋| and ||u₊| − |u₋||, so
    ν_max = |u₊| + |u₋| (a sum of norms) and ν_min = √det σ / ν_max = Π L_ii / ν_max, both to
    full relative precision, even for pure states (ν1 = ν2 = ½). (The textbook
    ν±² = (s ± √(s² − 4 det σ))/2 loses half the digits there.)
    """
    cov = np.asarray(cov, dtype=float)
    n = cov.shape[-1] // 2
    if n == 1:
        # the Cholesky factor of 2 × 2 matrices in closed form, as LAPACK's (OpenBLAS's) potrf
        # computes it — L10 = σ10·(1/L00) — bit for bit, without a LAPACK call per matrix
        with np.errstate(invalid="ignore", divide="ignore"):
            l00 = np.sqrt(cov[..., 0, 0])
            l10 = cov[..., 1, 0] * (1.0 / l00)
            d11 = cov[..., 1, 1] - l10 * l10
        if np.any(cov[..., 0, 0] <= 0) or np.any(d11 <= 0):  # NaN in (a gap): NaN out
            raise HarmosyncError("covariance is not positive definite; it cannot be a physical state")
        return (l00 * np.sqrt(d11))[..., None]
    if n == 2:  # the factor and A in closed form, vectorised over the stack
        return two_mode_symplectic_eigenvalues(cov)
    try:
        lower = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise HarmosyncError("covariance is not positive definite; it cannot be a physical state") from None
    om = symplectic_form(n)
    a = np.swapaxes(lower, -1, -2) @ om @ lower
    a = 0.5 * (a - np.swapaxes(a, -1, -2))  # exactly antisymmetric: iA exactly Hermitian
    pm = np.linalg.eigvalsh(1j * a)  # −ν_n … −ν_1, ν_1 … ν_n
    return np.clip(0.5 * (pm[..., n:] - pm[..., :n][..., ::-1]), 0.0, None)


def _entropy_terms(nu) -> np.ndarray:
    """(ν + ½) ln(ν + ½) − (ν − ½) ln(ν − ½) per ν [nats], as log1p(b) + b·log1p(1/b) with
    b = ν − ½ (exact): two positive terms for every ν, so no cancellation. (The direct form
    cancelled two ~ν ln ν terms for large ν, losing ε·ν ln ν: 1e-10 of S at ν = 1e5, a mode of a
    two-mode squeezed vacuum at r = 6.)"""
    b = np.array(nu, dtype=float)  # a copy, worked on in place: a map's 10⁵ ν, fewer passes
    np.maximum(b, 0.5, out=b)
    b -= 0.5
    tail = np.empty_like(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(1.0, b, out=tail)
        np.log1p(tail, out=tail)
        tail *= b  # → 0 as b → 0 (NaN at b = 0 exactly, replaced)
    tail[b == 0] = 0.0
    tail += np.log1p(b)
    return tail if tail.ndim else tail[()]


def von_neumann_entropy(cov) -> np.ndarray:
    """S = Σ_k (ν_k + ½) ln(ν_k + ½) − (ν_k − ½) ln(ν_k − ½)  [nats]."""
    return _entropy_terms(symplectic_eigenvalues(cov)).sum(axis=-1)


def purity(cov) -> np.ndarray:
    """Tr ρ² = Π_k 1/(2ν_k) = 1/(2ⁿ √det σ)."""
    return np.prod(0.5 / symplectic_eigenvalues(cov), axis=-1)


def _indices(modes) -> np.ndarray:
    m = np.atleast_1d(np.asarray(modes, dtype=int))
    return np.ravel(np.column_stack([2 * m, 2 * m + 1]))


def reduced(cov, modes) -> np.ndarray:
    """Covariance of the listed modes (0-based)."""
    idx = _indices(modes)
    cov = np.asarray(cov)
    return cov[..., idx[:, None], idx[None, :]]


def _part(cov, modes) -> np.ndarray:
    """:func:`reduced` for reading only: ``cov`` itself (no copy) when ``modes`` are all its
    modes in order."""
    idx = _indices(modes)
    if idx.size == cov.shape[-1] and np.array_equal(idx, np.arange(idx.size)):
        return cov
    return cov[..., idx[:, None], idx[None, :]]


def _check_parts(n, a, b):
    a, b = list(np.atleast_1d(a)), list(np.atleast_1d(b))
    if not a or not b or set(a) & set(b) or not set(a) | set(b) <= set(range(n)):
        raise HarmosyncError(f"parts must be disjoint, non-empty lists of modes in 0..{n - 1}, got {a} and {b}")
    return a, b


#: Largest covariance error bound trusted to zero a correlation: a looser (or NaN) bound, as
#: the stationary-state bound gives near zero-frequency modes far from the probes, must not
#: hide real entanglement or correlations.
ACCURACY_CAP = 1e-7


def _trusted(accuracy: float) -> float:
    a = float(accuracy)
    return min(a, ACCURACY_CAP) if a > 0 else 0.0  # NaN (not > 0) trusts nothing


def entropy_error(accuracy: float, modes: int) -> float:
    """Bound on the error of a ``modes``-mode entropy when each symplectic eigenvalue is off by
    at most 4·``accuracy`` (σ's entries off by ``accuracy``, vacuum σ = ½; capped at
    ``ACCURACY_CAP``): one mode's term changes most at ν = ½, where
    S(½ + x) = (1 + x) ln(1 + x) − x ln x ≤ x (2 + ln(1/x))."""
    x = 4.0 * _trusted(accuracy)
    return 0.0 if x <= 0 else modes * x * (2.0 + np.log(1.0 / min(x, 0.5)))


def mutual_information(cov, part_a=(0,), part_b=(1,), *, accuracy: float = 0.0) -> np.ndarray:
    """I(A:B) = S_A + S_B − S_AB  [nats] for modes ``part_a`` and ``part_b`` (0-based).

    ``accuracy``: an absolute bound on the error of σ's entries (``Solution.error_bound``). I ≥ 0
    (subadditivity), so a negative value within what that error can do to the three entropies
    (:func:`entropy_error`) is reported as 0; anything more negative is left for the caller's
    checks to catch."""
    cov = np.asarray(cov, dtype=float)
    a, b = _check_parts(cov.shape[-1] // 2, part_a, part_b)
    if len(a) == len(b) == 1:  # one mode each: the three entropies' ν in one pass, the same numbers
        s = _entropy_terms(mutual_eigenvalues(_normal_where_squeezed(_part(cov, a + b))[0]))
        mi = (s[..., 0] + s[..., 1]) - (s[..., 2] + s[..., 3])
    else:
        mi = (von_neumann_entropy(_part(cov, a)) + von_neumann_entropy(_part(cov, b))
              - von_neumann_entropy(_part(cov, a + b)))
    tol = entropy_error(accuracy, 2 * (len(a) + len(b)))
    return np.where((mi < 0) & (mi >= -tol), 0.0, mi)


def partial_transpose(cov, modes) -> np.ndarray:
    """σ with p → −p on ``modes`` (positions within ``cov``)."""
    cov = np.asarray(cov, dtype=float)
    sign = np.ones(cov.shape[-1])
    sign[2 * np.atleast_1d(modes) + 1] = -1.0
    return cov * (sign[:, None] * sign[None, :])  # a new array; ±1 factors: exact


#: 2ν̃ within this of 1 counts as 1: roundoff in ν̃ of a pure product state (≈ 1e-14 times the
#: covariance's condition number) is not entanglement.
NEGATIVITY_TOL = 1e-10


def log_negativity(cov, part_a=(0,), part_b=(1,), *, accuracy: float = 0.0) -> np.ndarray:
    """E_N = Σ_k max(0, −ln 2ν̃_k) over the symplectic eigenvalues of the partial transpose
    (p → −p on B) of the reduced state of A ∪ B  [nats]. 2ν̃ within ``NEGATIVITY_TOL``
    (roundoff) of 1, or within 8·``accuracy`` (an absolute bound on the error of σ's entries,
    ``Solution.error_bound``, capped at ``ACCURACY_CAP``), is not entanglement: E_N is reported
    as exactly 0 there."""
    cov = np.asarray(cov, dtype=float)
    a, b = _check_parts(cov.shape[-1] // 2, part_a, part_b)
    sub = _part(cov, a + b)
    if sub.shape[-1] == 4:  # one mode each: the transpose's eigenvalues from σ's own factor
        two_nu = 2 * two_mode_symplectic_eigenvalues(sub, transpose=True)
    else:
        two_nu = 2 * symplectic_eigenvalues(partial_transpose(sub, np.arange(len(a), len(a) + len(b))))
    tol = max(NEGATIVITY_TOL, 8.0 * _trusted(accuracy))
    return np.where(two_nu < 1 - tol, -np.log(two_nu), 0.0).sum(axis=-1)


def complete_sync(mean, cov=None, i: int = 0, j: int = 1) -> np.ndarray:
    """Mari et al.'s complete synchronization (PRL 111, 103605 (2013)), with
    x₋ = (x_i − x_j)/√2 and p₋ = (p_i − p_j)/√2 in the user's units (ħ = 1, unit masses).

    Without ``cov``: the classical S_c = 1/(⟨x₋⟩² + ⟨p₋⟩²) on the means. With ``cov``: the quantum
    S_q = 1/(Var x₋ + Var p₋), which the uncertainty principle bounds by S_q ≤ 1.
    """
    if cov is None:
        mean = np.asarray(mean, dtype=float)
        xm = (mean[..., 2 * i] - mean[..., 2 * j]) / np.sqrt(2)
        pm = (mean[..., 2 * i + 1] - mean[..., 2 * j + 1]) / np.sqrt(2)
        with np.errstate(divide="ignore"):
            return 1.0 / (xm**2 + pm**2)
    cov = np.asarray(cov, dtype=float)
    vx = 0.5 * (cov[..., 2 * i, 2 * i] + cov[..., 2 * j, 2 * j] - 2 * cov[..., 2 * i, 2 * j])
    vp = 0.5 * (cov[..., 2 * i + 1, 2 * i + 1] + cov[..., 2 * j + 1, 2 * j + 1] - 2 * cov[..., 2 * i + 1, 2 * j + 1])
    return 1.0 / (vx + vp)


def is_physical(cov, tol: float = 1e-9) -> np.ndarray:
    """σ + iΩ/2 ≥ 0 within ``tol`` (relative to max(1, |σ|)), for a stack of covariances: the
    smallest eigenvalue λ of σ + iΩ/2 must satisfy λ ≥ −tol·scale."""
    cov = np.asarray(cov, dtype=float)
    n = cov.shape[-1] // 2
    m = cov + 0.5j * symplectic_form(n)
    scale = np.maximum(1.0, np.abs(cov).max(axis=(-1, -2)))
    finite = np.all(np.isfinite(cov), axis=(-1, -2))
    if np.all(finite):
        # the usual case, all physical, settled by one batched Cholesky (4× cheaper than
        # eigvalsh): it succeeds iff every σ + iΩ/2 + tol·scale·1 is positive definite
        try:
            np.linalg.cholesky(m + (tol * scale)[..., None, None] * np.eye(2 * n))
            return np.ones(cov.shape[:-2], dtype=bool)
        except np.linalg.LinAlgError:
            pass
    ok = np.zeros(cov.shape[:-2], dtype=bool)  # NaN or inf is never physical
    ok[finite] = np.linalg.eigvalsh(m[finite])[..., 0] >= -tol * scale[finite]
    return ok


# ----------------------------------------------------------------------------------------------
# Gaussian quantum discord (CONVENTIONS.md "Gaussian quantum discord"; beyond the paper)
# ----------------------------------------------------------------------------------------------
#: Physicality test behind discord: σ + iΩ/2 ≥ −tol·max(1, |σ|), the tolerance of simulate's
#: output guard, so that every state simulate writes has a finite discord.
PHYSICAL_TOL = 1e-8


def _e_min(sub, big_a, big_b, big_c, big_d):
    """E_min = min over pure Gaussian measurements Σ on B (2σ units, det Σ = 1) of the
    conditional det(α − γ(β + Σ)⁻¹γᵀ) = N(Σ)/Q(Σ), with N = 𝒜 + 𝒟 + tr(adj(Y) Σ),
    Q = 1 + ℬ + tr(adj(β) Σ), Y = 𝒜β − γᵀ adj(α) γ (𝒜 times the Schur complement, so adj Y = 𝒟 W,
    W = ((2σ)⁻¹)_BB): Adesso & Datta's E_min, evaluated stably (docs/conventions.md).

    Homodyne (Σ infinitely squeezed: the second branch) gives E_hom = 𝒜/λ_max(LᵀWL)
    = 𝒜𝒟/λ_max(Lᵀ adj(Y) L), β = LLᵀ. For E < E_hom the minimum over Σ of N − E·Q is finite, and at
    E_hom it is n0 − E_hom·q0 (n0 = 𝒜 + 𝒟, q0 = 1 + ℬ); if that is negative (the first branch),
    a finite Σ does better and Newton's method on E ↦ min_Σ (N − E·Q) (Dinkelbach's iteration),
    started at the closed form ((|𝒞| + √u)/(ℬ − 1))², finds it. Every iterate is the ratio at an
    explicit measurement, of sums of positive terms, so no digits are lost where the closed
    forms lose them (ℬ → 1, pure states).
    """
    s = 2.0 * sub
    a00, a01, a11 = s[:, 0, 0], s[:, 0, 1], s[:, 1, 1]
    b00, b01, b11 = s[:, 2, 2], s[:, 2, 3], s[:, 3, 3]
    g00, g01, g10, g11 = s[:, 0, 2], s[:, 0, 3], s[:, 1, 2], s[:, 1, 3]
    # adj(α) γ, then Y = 𝒜β − γᵀ adj(α) γ
    h00, h01 = a11 * g00 - a01 * g10, a11 * g01 - a01 * g11
    h10, h11 = a00 * g10 - a01 * g00, a00 * g11 - a01 * g01
    y00 = big_a * b00 - (g00 * h00 + g10 * h10)
    y01 = big_a * b01 - (g00 * h01 + g10 * h11)
    y11 = big_a * b11 - (g01 * h01 + g11 * h11)
    w00, w01, w11 = y11, -y01, y00  # adj(Y) = 𝒟 W
    l00 = np.sqrt(b00)
    l10 = b01 / l00
    l11 = np.sqrt(np.maximum(b11 - l10 * l10, 0.0))
    s00 = l00 * (w00 * l00 + 2.0 * w01 * l10) + l10 * w11 * l10
    s01 = (l00 * w01 + l10 * w11) * l11
    s11 = l11 * w11 * l11
    e_hom = big_a * big_d / (0.5 * (s00 + s11 + np.hypot(s00 - s11, 2.0 * s01)))
    e_hom = np.minimum(e_hom, big_a)  # λ_max(LᵀWL) ≥ 1; only roundoff can break it
    # a pure Σ = [[t + x, y], [y, t − x]], t² − x² − y² = 1, is v = (t, x, y): tr(KΣ) = k·v
    n0, q0 = big_a + big_d, 1.0 + big_b
    inner = np.flatnonzero(n0 < e_hom * q0)
    e = e_hom.copy()
    if inner.size:
        k = inner
        e[k] = _dinkelbach(n0[k], q0[k], (w00[k] + w11[k], w00[k] - w11[k], 2.0 * w01[k]),
                           (b00[k] + b11[k], b11[k] - b00[k], -2.0 * b01[k]), e_hom[k],
                           big_a[k], big_b[k], big_c[k], big_d[k])
    return np.maximum(e, 1.0)  # E_min ≥ 1: the conditional state is physical (roundoff only)


def _dinkelbach(n0, q0, nv, qv, e_hom, big_a, big_b, big_c, big_d, iterations: int = 40):
    """min over pure Σ = v of (n0 + nv·v)/(q0 + qv·v) below the homodyne value e_hom (_e_min).
    For E < e_hom, a = nv − E qv is future timelike and min_v (N − E Q) is attained at
    v = (a_t, −a_x, −a_y)/|a|; the ratio there is the next E (Newton's method on a concave
    function: from the first step on, the iterates fall monotonically, quadratically near E_min)."""
    bm1 = big_b - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.maximum(big_c**2 + bm1 * (big_d - big_a), 0.0)
        e = ((np.abs(big_c) + np.sqrt(u)) / bm1) ** 2  # the closed form: a start only
    e = np.where(np.isfinite(e) & (e >= 1.0) & (e < e_hom), e, 1.0)
    (nt, nx, ny), (qt, qx, qy) = nv, qv
    for _ in range(iterations):
        at, ax, ay = nt - e * qt, nx - e * qx, ny - e * qy
        h = np.hypot(ax, ay)
        with np.errstate(divide="ignore", invalid="ignore"):
            norm = np.sqrt((at - h) * (at + h))
            new = (n0 + (nt * at - nx * ax - ny * ay) / norm) / (q0 + (qt * at - qx * ax - qy * ay) / norm)
        # keep a timelike (E < e_hom): an overshoot past e_hom goes halfway there
        new = np.where(np.isfinite(new), np.where(new < e_hom, new, 0.5 * (e + e_hom)), e)
        done = np.all(np.abs(new - e) <= 4e-16 * e)
        e = new
        if done:
            break
    return e


def _single(x):
    """f(x) of CONVENTIONS.md: the entropy of a mode whose 2σ has determinant x² [nats]."""
    return _entropy_terms(0.5 * x)


def _pair_states(cov, a, b, accuracy):
    """Two-mode reduced states (K, 4, 4) of modes a, b, their symplectic eigenvalues ν (K, 2)
    (NaN where unphysical), the mask (K,) of physical ones and the output shape. Physical:
    σ + iΩ/2 ≥ −tol·max(1, |σ|) (:func:`is_physical`), tol = max(PHYSICAL_TOL, 4·accuracy): 4·accuracy
    bounds the eigenvalue shift of a 4×4 whose entries are off by it. ν₋ ≥ ½ settles most states
    without that test (σ + iΩ/2 ≥ 0 ⟺ σ > 0 and every ν ≥ ½)."""
    cov = np.asarray(cov, dtype=float)
    if cov.ndim < 2 or cov.shape[-1] != cov.shape[-2] or cov.shape[-1] % 2:
        raise HarmosyncError(f"covariance must have shape (..., 2n, 2n), got {cov.shape}")
    (a,), (b,) = _check_parts(cov.shape[-1] // 2, [a], [b])
    sub = reduced(cov, [a, b])
    shape = sub.shape[:-2]
    sub = sub.reshape(-1, 4, 4)
    tol = max(PHYSICAL_TOL, 4.0 * _trusted(accuracy))
    nu = np.full((sub.shape[0], 2), np.nan)
    try:
        nu = symplectic_eigenvalues(sub)
        ok = nu[:, 0] >= 0.5
    except HarmosyncError:  # some σ not positive definite: none of those is physical
        ok = np.zeros(sub.shape[0], dtype=bool)
    check = np.flatnonzero(~ok)
    if check.size:
        ok[check] = is_physical(sub[check], tol=tol)
        if not np.all(np.isfinite(nu[ok])):
            nu[ok] = _eigenvalues_or_nan(sub[ok])
    return sub, nu, ok, shape


def _eigenvalues_or_nan(sub):
    """ν (K, 2) of states accepted within the tolerance; NaN for one that is not numerically
    positive definite (e.g. squeezed beyond double precision), so it does not sink the batch."""
    try:
        return symplectic_eigenvalues(sub)
    except HarmosyncError:
        out = np.full((sub.shape[0], 2), np.nan)
        for k in range(sub.shape[0]):
            try:
                out[k] = symplectic_eigenvalues(sub[k:k + 1])[0]
            except HarmosyncError:
                pass
        return out


#: a mode's 2 × 2 block with tr²/det above this (local squeezing r ≳ 1.2) is brought to its local
#: normal form before the two-mode ν's of I and discord are formed (:func:`_normal_where_squeezed`;
#: at 1e4, discord just below it erred 70× its conditioning, mixing ν± from σ with E_min from the
#: normal form, review s22b; at 1e2 ≤ 3.7×)
NORMAL_FORM_KAPPA = 1e2


def _normal_where_squeezed(sub):
    """(σ', picked): the two-mode covariances ``sub`` (..., 4, 4), those with a strongly squeezed
    mode (tr²/det of its block > NORMAL_FORM_KAPPA) in their local normal form
    (:func:`_local_normal_form`; I, discord and the ν's are locally invariant), the others as
    given (the same array where none is). Why: ν_A, ν_B and ν± formed apart from σ lose ~ε·e^{4r}
    each, and I = S_A + S_B − S_AB does not cancel those losses although I itself is well
    conditioned; formed from one normal form they keep I's digits (review of session 22: local
    squeezings r ≤ 8 with weak correlations, I = −4.7e-4 against an exact 2.0e-5 where the
    conditioning allows 1.7e-9; now 1.5e-9; over 24 such states the error ≤ 13.8× the
    conditioning, the worst a state this leaves alone, against up to 2.9e5× before)."""
    sub = np.asarray(sub, dtype=float)
    flat = sub.reshape(-1, 4, 4)
    pick = _squeezed(flat)
    if not np.any(pick):
        return sub, pick
    idx = np.flatnonzero(pick)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        nf = _local_normal_form(flat[idx])
    good = _positive(nf)
    out = flat.copy()
    out[idx[good]] = nf[good]
    pick[idx[~good]] = False
    return out.reshape(sub.shape), pick


def _squeezed(flat) -> np.ndarray:
    """(K,) mask of the two-mode covariances ``flat`` (K, 4, 4) with a mode whose block has
    tr²/det > NORMAL_FORM_KAPPA (both blocks' tr²/det finite and positive)."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        kappa = [(flat[:, k, k] + flat[:, k + 1, k + 1]) ** 2
                 / (flat[:, k, k] * flat[:, k + 1, k + 1] - flat[:, k, k + 1] * flat[:, k + 1, k])
                 for k in (0, 2)]
    pick = ((kappa[0] > NORMAL_FORM_KAPPA) | (kappa[1] > NORMAL_FORM_KAPPA)) & (kappa[0] > 0) & (kappa[1] > 0)
    return pick & np.isfinite(kappa[0]) & np.isfinite(kappa[1])


def _positive(nf) -> np.ndarray:
    """(K,) mask of the normal forms ``nf`` (K, 4, 4) that are finite and positive definite (one
    rounded off positive keeps its own σ)."""
    good = np.all(np.isfinite(nf), axis=(1, 2))
    good[good] = np.linalg.eigvalsh(nf[good])[:, 0] > 0
    return good


def _local_normal_form(s):
    """Two-mode covariances (K, 4, 4) brought by local symplectic maps S_k = (det σ_k)^{1/4}
    σ_k^{-1/2} to local blocks √det σ_k · 1: strongly locally squeezed states (σ's condition
    number 1e8 and beyond) otherwise lose E_min's digits to cancellation, and discord, J and
    the determinants 𝒜, ℬ, 𝒞 are invariant under these maps. For a 2 × 2 SPD block M,
    √M = (M + √det M·1)/√(tr M + 2√det M), so S = adj(√M)/(det M)^{1/4}."""
    out = np.array(s, dtype=float, copy=True)
    t = np.zeros_like(out)
    for k in (0, 2):
        m = out[:, k:k + 2, k:k + 2]
        det = m[:, 0, 0] * m[:, 1, 1] - m[:, 0, 1] * m[:, 1, 0]
        root = np.sqrt(det)
        sq = m + root[:, None, None] * np.eye(2)
        sq /= np.sqrt(m[:, 0, 0] + m[:, 1, 1] + 2 * root)[:, None, None]
        adj = np.empty_like(sq)
        adj[:, 0, 0], adj[:, 1, 1] = sq[:, 1, 1], sq[:, 0, 0]
        adj[:, 0, 1], adj[:, 1, 0] = -sq[:, 0, 1], -sq[:, 1, 0]
        t[:, k:k + 2, k:k + 2] = adj / np.sqrt(root)[:, None, None]
    out = t @ out @ np.swapaxes(t, 1, 2)
    return 0.5 * (out + np.swapaxes(out, 1, 2))


def _discord_terms(cov, a, b, accuracy):
    """(D(a|b), J(a|b), output shape), NaN where unphysical; see :func:`discord`."""
    sub, nu, ok, shape = _pair_states(cov, a, b, accuracy)
    d = np.full(ok.shape, np.nan)
    j = np.full(ok.shape, np.nan)
    if np.any(ok):
        s = sub if np.all(ok) else sub[ok]
        nu = nu if np.all(ok) else nu[ok]
        picked = _squeezed(s)
        s = _local_normal_form(s)  # discord is locally invariant; this keeps E_min's digits
        picked[picked] = _positive(s[picked])
        if np.any(picked):  # ν± from the same normal form as the rest (:func:`_normal_where_squeezed`)
            with np.errstate(invalid="ignore"):
                nf_nu = two_mode_symplectic_eigenvalues(s[picked])
            fine = np.all(np.isfinite(nf_nu), axis=1)
            nu = nu.copy()
            nu[np.flatnonzero(picked)[fine]] = nf_nu[fine]
        big_a = 4.0 * (s[:, 0, 0] * s[:, 1, 1] - s[:, 0, 1] * s[:, 0, 1])
        big_b = 4.0 * (s[:, 2, 2] * s[:, 3, 3] - s[:, 2, 3] * s[:, 2, 3])
        big_c = 4.0 * (s[:, 0, 2] * s[:, 1, 3] - s[:, 0, 3] * s[:, 1, 2])
        big_d = (4.0 * nu[:, 0] * nu[:, 1]) ** 2  # det 2σ to full relative precision
        e = _e_min(s, big_a, big_b, big_c, big_d)
        s_a, s_b, s_cond = _single(np.sqrt(big_a)), _single(np.sqrt(big_b)), _single(np.sqrt(e))
        dd = s_b - _entropy_terms(nu[:, 0]) - _entropy_terms(nu[:, 1]) + s_cond
        jj = s_a - s_cond  # = I − D: S_b and S_ab cancel exactly
        tol = 1e-12 * (1.0 + s_a + s_b) + entropy_error(accuracy, 4)
        d[ok] = np.where((dd < 0) & (dd >= -tol), 0.0, dd)
        j[ok] = np.where((jj < 0) & (jj >= -tol), 0.0, jj)
    return d, j, shape


def discord(cov, a: int = 0, b: int = 1, *, accuracy: float = 0.0) -> np.ndarray:
    """Gaussian quantum discord D(a|b), Gaussian measurements on mode b (Adesso & Datta, PRL 105,
    030501 (2010), Eq. 7; CONVENTIONS.md)  [nats]:

        D(a|b) = f(√ℬ) − f(ν₋) − f(ν₊) + f(√E_min),

    f(x) = ((x+1)/2) ln((x+1)/2) − ((x−1)/2) ln((x−1)/2), ℬ = det β and ν± the symplectic
    eigenvalues of 2σ of the two-mode reduced state of modes ``a``, ``b`` (0-based), E_min the
    smallest determinant of a's state conditioned on a Gaussian measurement of b (``_e_min``).
    Invariant under local symplectic maps (so under the frequency scaling of x and p).

    ``cov``: (..., 2n, 2n); returns shape (...). NaN where the two-mode state is unphysical
    (σ + iΩ/2 ≥ 0 violated beyond ``PHYSICAL_TOL``·max(1, |σ|)), never clamped. D ≥ 0: a negative
    value within roundoff (1e-12 of the entropies) or within what ``accuracy`` (an absolute bound
    on σ's entries, ``Solution.error_bound``) can do to four one-mode entropies
    (:func:`entropy_error`) is reported as 0.
    """
    d, _, shape = _discord_terms(cov, a, b, accuracy)
    return d.reshape(shape)


def classical_correlation(cov, a: int = 0, b: int = 1, *, accuracy: float = 0.0) -> np.ndarray:
    """Classical correlation J(a|b) = I(a:b) − D(a|b)  [nats] (Henderson & Vedral; Gaussian
    measurements on b), evaluated in its cancelled form S(a) − f(√E_min), where S(b) and S(ab)
    drop out exactly (equal to ``mutual_information − discord`` to roundoff; tested). NaN where
    :func:`discord` is; J ≥ 0, with the same roundoff/``accuracy`` rule as :func:`discord`."""
    _, j, shape = _discord_terms(cov, a, b, accuracy)
    return j.reshape(shape)


def renyi2_entropy(cov) -> np.ndarray:
    """Rényi-2 entropy S₂ = −ln Tr ρ² = ½ ln det 2σ  [nats] of (..., 2n, 2n) covariances
    (Adesso, Girolami & Serafini, PRL 109, 190502 (2012)); from the Cholesky factor,
    ½ ln det 2σ = n ln 2 + Σ ln L_ii, so it keeps full relative precision near pure states."""
    cov = np.asarray(cov, dtype=float)
    try:
        lower = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise HarmosyncError("covariance is not positive definite; it cannot be a physical state") from None
    diag = np.diagonal(lower, axis1=-2, axis2=-1)
    return 0.5 * cov.shape[-1] * np.log(2.0) + np.log(diag).sum(axis=-1)


def renyi2_mutual_information(cov, part_a=(0,), part_b=(1,)) -> np.ndarray:
    """Rényi-2 mutual information I₂(A:B) = S₂(A) + S₂(B) − S₂(AB)  [nats], S₂ = ½ ln det 2σ of
    the reduced states of the mode lists ``part_a``, ``part_b`` (0-based); ≥ 0 for Gaussian
    states. Like :func:`mutual_information`, it does not test physicality."""
    cov = np.asarray(cov, dtype=float)
    a, b = _check_parts(cov.shape[-1] // 2, part_a, part_b)
    return (renyi2_entropy(reduced(cov, a)) + renyi2_entropy(reduced(cov, b))
            - renyi2_entropy(reduced(cov, a + b)))


# ----------------------------------------------------------------------------------------------
# Many probes: every pair at once
# ----------------------------------------------------------------------------------------------
def sync_matrix(x, step: float, window: float, delay: float = 0.0) -> np.ndarray:
    """C_ij(t, Δt) of Eq. (3) for every ordered pair of the signals ``x`` (T, P): entry [t, i, j]
    is ``sync_factor(x[:, i], x[:, j], step, window, delay=delay)[t]`` (g = x_j read at t′ + τ).
    Shape (T, P, P); symmetric for delay 0, with diagonal 1 (NaN where C is undefined)."""
    x = np.asarray(x, dtype=float)
    if x.ndim != 2:
        raise HarmosyncError(f"signals must have shape (time, probe), got {x.shape}")
    p = x.shape[1]
    if delay == 0.0:
        i, j = np.triu_indices(p)
    else:
        i, j = (k.ravel() for k in np.indices((p, p)))
    c = sync_factor(x.T[i], x.T[j], step, window, delay=delay)  # (pairs, T)
    out = np.empty((x.shape[0], p, p))
    out[:, i, j] = c.T
    if delay == 0.0:
        out[:, j, i] = c.T
    return out


def mutual_information_matrix(cov, modes=None, *, accuracy: float = 0.0) -> np.ndarray:
    """I(i:j) of :func:`mutual_information` for every pair of ``modes`` (default all modes of
    ``cov``): shape (..., P, P), symmetric, diagonal NaN (I(i:i) is not a correlation between two
    oscillators; NaN leaves it blank in a heat map)."""
    cov = np.asarray(cov, dtype=float)
    modes = list(range(cov.shape[-1] // 2)) if modes is None else [int(m) for m in modes]
    p = len(modes)
    out = np.full(cov.shape[:-2] + (p, p), np.nan)
    for i in range(p):
        for j in range(i + 1, p):
            out[..., i, j] = out[..., j, i] = mutual_information(cov, [modes[i]], [modes[j]], accuracy=accuracy)
    return out
