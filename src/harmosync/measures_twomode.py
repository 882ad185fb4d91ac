"""Two-mode Gaussian states in closed form: the 4 × 4 Cholesky factor and the symplectic
eigenvalues of stacks of covariances without one LAPACK call per matrix (interleaved ordering
x1, p1, x2, p2; σ_ab = ½⟨{ΔR_a, ΔR_b}⟩). :func:`harmosync.measures.symplectic_eigenvalues` uses
it for two modes: mutual information and log negativity of a time series of 4 × 4 covariances
(30 001 of them per network in the Fig. 6 map) then cost one compiled pass over the matrices.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import HarmosyncError
from .jit import kernel


def cholesky4(cov) -> np.ndarray:
    """Lower Cholesky factor σ = L Lᵀ of 4 × 4 matrices ``cov`` (K, 4, 4), in LAPACK's order of
    operations (unblocked potf2, lower): L_jj = √(σ_jj − Σ_{k<j} L_jk²), L_ij = (σ_ij −
    Σ_{k<j} L_ik L_jk)·(1/L_jj). Returns the ten entries (l00, l10, l11, l20, l21, l22, l30,
    l31, l32, l33) per matrix, (K, 10); raises :class:`HarmosyncError` if a pivot is not
    positive (σ not positive definite); NaN in, NaN out."""
    cov = np.asarray(cov, dtype=float).reshape(-1, 4, 4)
    out = np.empty((cov.shape[0], 10))
    if _FACTORS(cov, out):
        raise HarmosyncError("covariance is not positive definite; it cannot be a physical state")
    return out


def two_mode_symplectic_eigenvalues(cov, *, transpose: bool = False) -> np.ndarray:
    """Symplectic eigenvalues (ν₋, ν₊) (..., 2) of two-mode covariances ``cov`` (..., 4, 4), by
    the stable route of :func:`harmosync.measures.symplectic_eigenvalues` (Cholesky factor L,
    A = LᵀΩL, ν₊ = |u₊| + |u₋|, ν₋ = Π L_ii / ν₊), in closed form, one compiled pass over the
    matrices (any strides: σ stored entry by entry is read in place). ``transpose``: those of
    the partial transpose p₂ → −p₂ (log negativity), from the same factor. Raises
    :class:`HarmosyncError` if some σ is not positive definite."""
    cov = np.asarray(cov, dtype=float)
    shape = cov.shape[:-2]
    stack = cov.reshape(-1, 4, 4)  # a view for one leading axis, also of entry-major storage
    return _eigenvalue_pass(stack, bool(transpose), 2).reshape(shape + (2,))


def mutual_eigenvalues(cov) -> np.ndarray:
    """(ν_A, ν_B, ν₋, ν₊) (..., 4) of two-mode covariances ``cov`` (..., 4, 4): the symplectic
    eigenvalue of each mode's 2 × 2 block and the pair of the whole, in one compiled pass (what
    the mutual information I(1:2) needs), each by the operations of
    :func:`harmosync.measures.symplectic_eigenvalues` (one mode: ν = L₀₀·√(σ₁₁ − L₁₀²),
    L₁₀ = σ₁₀·(1/L₀₀); two modes: :func:`two_mode_symplectic_eigenvalues`): bitwise the same.
    Raises :class:`HarmosyncError` if some σ is not positive definite."""
    cov = np.asarray(cov, dtype=float)
    shape = cov.shape[:-2]
    stack = cov.reshape(-1, 4, 4)
    return _eigenvalue_pass(stack, False, 4).reshape(shape + (4,))


def _eigenvalue_pass(stack, transpose: bool, columns: int) -> np.ndarray:
    """The compiled pass over ``stack`` (K, 4, 4) → (K, columns): (ν₋, ν₊), or (ν_A, ν_B, ν₋, ν₊)
    for 4 columns. σ stored entry by entry (unit stride along K, a map's moments) is read in
    place by the vectorised loop (the result then a transposed view), else matrix by matrix.
    Raises :class:`HarmosyncError` if some σ is not positive definite."""
    entries = stack.transpose(1, 2, 0)
    if entries.flags.c_contiguous:
        res = np.empty((columns, stack.shape[0]))  # rows (ν_A, ν_B,) ν₋, ν₊
        bad = (_MUTUAL_BY_ENTRY(entries, res[2:], res[:2]) if columns == 4
               else _PAIRS_BY_ENTRY(entries, transpose, res))
        out = res.T
    else:
        out = np.empty((stack.shape[0], columns))
        bad = _EIGENVALUES(stack, transpose, out[:, columns - 2:], out[:, : columns - 2])
    if bad:
        raise HarmosyncError("covariance is not positive definite; it cannot be a physical state")
    return out


def _factor(s, k):
    """cholesky4 of matrix k of ``s`` (K, 4, 4): (ten entries, a pivot of a finite σ ≤ 0)."""
    return _cholesky(s[k, 0, 0], s[k, 1, 0], s[k, 1, 1], s[k, 2, 0], s[k, 2, 1], s[k, 2, 2],
                     s[k, 3, 0], s[k, 3, 1], s[k, 3, 2], s[k, 3, 3])


def _cholesky(s00, s10, s11, s20, s21, s22, s30, s31, s32, s33):
    """:func:`_factor` of the lower triangle's ten entries: no branches but selects, so that a
    loop over matrices stored entry by entry vectorises."""
    l00 = math.sqrt(s00) if s00 >= 0 else math.nan
    r0 = 1.0 / l00
    l10, l20, l30 = s10 * r0, s20 * r0, s30 * r0
    d1 = s11 - l10 * l10
    l11 = math.sqrt(d1) if d1 >= 0 else math.nan
    r1 = 1.0 / l11
    l21 = (s21 - l20 * l10) * r1
    l31 = (s31 - l30 * l10) * r1
    d2 = s22 - (l20 * l20 + l21 * l21)
    l22 = math.sqrt(d2) if d2 >= 0 else math.nan
    l32 = (s32 - (l30 * l20 + l31 * l21)) * (1.0 / l22)
    d3 = s33 - (l30 * l30 + l31 * l31 + l32 * l32)
    l33 = math.sqrt(d3) if d3 >= 0 else math.nan
    # a NaN entry (a gap in stored data) gives NaN, as numpy's stacked Cholesky did; a pivot
    # ≤ 0 of a finite matrix is refused
    bad = (s00 <= 0) | (d1 <= 0) | (d2 <= 0) | (d3 <= 0)
    return (l00, l10, l11, l20, l21, l22, l30, l31, l32, l33), bad


def _factors(s, out):
    bad = False
    for k in range(s.shape[0]):
        f, b = _factor(s, k)
        bad = bad or b
        for i in range(10):
            out[k, i] = f[i]
    return bad


def _one_mode(d0, s10, d1):
    """ν of a one-mode block [[d0, s10], [s10, d1]] by the one-mode route: (ν, not positive)."""
    m00 = math.sqrt(d0) if d0 >= 0 else math.nan
    m10 = s10 * (1.0 / m00)
    e1 = d1 - m10 * m10
    return m00 * (math.sqrt(e1) if e1 >= 0 else math.nan), (d0 <= 0) | (e1 <= 0)


def _pair(f, transpose):
    """(ν₋, ν₊) from the factor's ten entries ``f`` (of the partial transpose's with ``transpose``)."""
    l00, l10, l11, l20, l21, l22, l30, l31, l32, l33 = f
    if transpose:  # S σ S with S = diag(1, 1, 1, −1) has the factor S L S: row 3 flips sign
        l30, l31, l32 = -l30, -l31, -l32
    # A = Lᵀ Ω L (Ω = [[0, 1], [−1, 0]] per mode), its six independent entries; L is lower
    # triangular, so most products of A's definition vanish
    a01 = l00 * l11 + (l20 * l31 - l30 * l21)
    a23 = l22 * l33
    a02 = l20 * l32 - l30 * l22
    a13 = l21 * l33
    a03 = l20 * l33
    a12 = l21 * l32 - l31 * l22
    # self-dual and anti-self-dual parts u±: ν_max = |u₊| + |u₋| (measures.symplectic_eigenvalues)
    p0, p1, p2 = 0.5 * (a01 + a23), 0.5 * (a02 - a13), 0.5 * (a03 + a12)
    m0, m1, m2 = 0.5 * (a01 - a23), 0.5 * (a02 + a13), 0.5 * (a03 - a12)
    nu_max = math.sqrt(p0 * p0 + p1 * p1 + p2 * p2) + math.sqrt(m0 * m0 + m1 * m1 + m2 * m2)
    return (((l00 * l11) * l22) * l33) / nu_max, nu_max


def _eigenvalues(s, transpose, out, single):
    """(ν₋, ν₊) of every matrix of ``s`` into ``out`` (K, 2); True if some σ is not positive
    definite. ``single`` (K, 2) or (0, 2): also each mode's own ν from its 2 × 2 block, as the
    one-mode route computes it (L₀₀·√(σ₁₁ − L₁₀²), L₁₀ = σ₁₀·(1/L₀₀))."""
    bad = False
    for k in range(s.shape[0]):
        f, b = _factor(s, k)
        bad |= b
        if single.shape[0]:
            single[k, 0], b = _one_mode(s[k, 0, 0], s[k, 1, 0], s[k, 1, 1])
            bad |= b
            single[k, 1], b = _one_mode(s[k, 2, 2], s[k, 3, 2], s[k, 3, 3])
            bad |= b
        out[k, 0], out[k, 1] = _pair(f, transpose)
    return bad


def _entries(e, k):
    return (e[0, 0, k], e[1, 0, k], e[1, 1, k], e[2, 0, k], e[2, 1, k], e[2, 2, k],
            e[3, 0, k], e[3, 1, k], e[3, 2, k], e[3, 3, k])


def _pairs_by_entry(e, transpose, out):
    """:func:`_eigenvalues` of σ stored entry by entry, e[a, b, k] = σ_k[a, b] with unit stride
    in k (a map's moments), into the rows of ``out`` (2, K) = (ν₋, ν₊): the same operations per
    matrix, in a loop that vectorises (contiguous rows out, selects instead of branches; one
    loop per kind of output, as a branch inside stops the vectoriser). True if some σ is not
    positive definite."""
    bad = False
    for k in range(e.shape[2]):
        f, b = _cholesky(*_entries(e, k))
        bad |= b
        out[0, k], out[1, k] = _pair(f, transpose)
    return bad


def _mutual_by_entry(e, out, single):
    """:func:`_pairs_by_entry` (no transpose), and each mode's own ν into ``single`` (2, K)."""
    bad = False
    for k in range(e.shape[2]):
        f, b = _cholesky(*_entries(e, k))
        bad |= b
        single[0, k], b = _one_mode(e[0, 0, k], e[1, 0, k], e[1, 1, k])
        bad |= b
        single[1, k], b = _one_mode(e[2, 2, k], e[3, 2, k], e[3, 3, k])
        bad |= b
        out[0, k], out[1, k] = _pair(f, False)
    return bad


_FACTORS = kernel(_factors, "boolean(float64[:, :, :], float64[:, :])", reads=(0,), calls=("_cholesky", "_factor"))
_EIGENVALUES = kernel(_eigenvalues, "boolean(float64[:, :, :], boolean, float64[:, :], float64[:, :])", reads=(0,),
                      calls=("_cholesky", "_factor", "_one_mode", "_pair"))
_PAIRS_BY_ENTRY = kernel(_pairs_by_entry, "boolean(float64[:, :, ::1], boolean, float64[:, ::1])", reads=(0,),
                         calls=("_entries", "_cholesky", "_pair"))
_MUTUAL_BY_ENTRY = kernel(_mutual_by_entry, "boolean(float64[:, :, ::1], float64[:, ::1], float64[:, ::1])",
                          reads=(0,), calls=("_entries", "_cholesky", "_one_mode", "_pair"))
