"""Two-mode Gaussian states in closed form: the 4 × 4 Cholesky factor and the symplectic
eigenvalues of stacks of covariances without one LAPACK call per matrix (interleaved ordering
x1, p1, x2, p2; σ_ab = ½⟨{ΔR_a, ΔR_b}⟩). :func:`harmosync.measures.symplectic_eigenvalues` uses
it for two modes: mutual information and log negativity of a time series of 4 × 4 covariances
(30 001 of them per network in the Fig. 6 map) then cost a few vector operations per entry.
"""

from __future__ import annotations

import numpy as np

from .errors import HarmosyncError

#: matrices per block: the 16 input rows and the factor's 10 stay in cache (~0.5 MB)
BLOCK = 2048


def cholesky4(s):
    """Lower Cholesky factor σ = L Lᵀ of 4 × 4 matrices given as their 16 entries ``s``
    (16 arrays (K,), row-major), in LAPACK's order of operations (unblocked potf2, lower):
    L_jj = √(σ_jj − Σ_{k<j} L_jk²), L_ij = (σ_ij − Σ_{k<j} L_ik L_jk)·(1/L_jj). Returns the ten
    entries (l00, l10, l11, l20, l21, l22, l30, l31, l32, l33), each (K,); raises
    :class:`HarmosyncError` if a pivot is not positive (σ not positive definite); NaN in, NaN out."""
    with np.errstate(invalid="ignore", divide="ignore"):
        d0 = s[0]
        l00 = np.sqrt(d0)
        r0 = 1.0 / l00
        l10, l20, l30 = s[4] * r0, s[8] * r0, s[12] * r0
        d1 = s[5] - l10 * l10
        l11 = np.sqrt(d1)
        r1 = 1.0 / l11
        l21 = (s[9] - l20 * l10) * r1
        l31 = (s[13] - l30 * l10) * r1
        d2 = s[10] - (l20 * l20 + l21 * l21)
        l22 = np.sqrt(d2)
        l32 = (s[14] - (l30 * l20 + l31 * l21)) * (1.0 / l22)
        d3 = s[15] - (l30 * l30 + l31 * l31 + l32 * l32)
        l33 = np.sqrt(d3)
    # a NaN entry (a gap in stored data) gives NaN, as numpy's stacked Cholesky did; a pivot
    # ≤ 0 of a finite matrix is refused
    if np.any(d0 <= 0) or np.any(d1 <= 0) or np.any(d2 <= 0) or np.any(d3 <= 0):
        raise HarmosyncError("covariance is not positive definite; it cannot be a physical state")
    return l00, l10, l11, l20, l21, l22, l30, l31, l32, l33


def _eigenvalues_block(s, transpose: bool):
    l00, l10, l11, l20, l21, l22, l30, l31, l32, l33 = cholesky4(s)
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
    up = (0.5 * (a01 + a23), 0.5 * (a02 - a13), 0.5 * (a03 + a12))
    um = (0.5 * (a01 - a23), 0.5 * (a02 + a13), 0.5 * (a03 - a12))
    nu_max = (np.sqrt(up[0] * up[0] + up[1] * up[1] + up[2] * up[2])
              + np.sqrt(um[0] * um[0] + um[1] * um[1] + um[2] * um[2]))
    prod = ((l00 * l11) * l22) * l33
    return prod / nu_max, nu_max


def two_mode_symplectic_eigenvalues(cov, *, transpose: bool = False) -> np.ndarray:
    """Symplectic eigenvalues (ν₋, ν₊) (..., 2) of two-mode covariances ``cov`` (..., 4, 4), by
    the stable route of :func:`harmosync.measures.symplectic_eigenvalues` (Cholesky factor L,
    A = LᵀΩL, ν₊ = |u₊| + |u₋|, ν₋ = Π L_ii / ν₊), in closed form over blocks of matrices.
    ``transpose``: those of the partial transpose p₂ → −p₂ (log negativity), from the same
    factor. Raises :class:`HarmosyncError` if some σ is not positive definite."""
    cov = np.asarray(cov, dtype=float)
    shape = cov.shape[:-2]
    stack = cov.reshape(-1, 4, 4)  # a view for one leading axis, also of entry-major storage
    out = np.empty((stack.shape[0], 2))
    for b in range(0, stack.shape[0], BLOCK):
        # the 16 entries' series of this block: contiguous rows when σ is stored entry by entry
        # (NormalModeEvolution.moments(by_entry=True)), strided views otherwise
        s = [stack[b:b + BLOCK, i, j] for i in range(4) for j in range(4)]
        out[b:b + BLOCK, 0], out[b:b + BLOCK, 1] = _eigenvalues_block(s, transpose)
    return out.reshape(shape + (2,))
