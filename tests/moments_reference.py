"""The moments a second way, for the fused-pass tests: the trig sums' rows from
``trigsum.nufft(rows=True)`` (all rows in one transform) contracted by
``evaluation._COVARIANCE_ROWS`` (the two steps the fused pass of ``evaluation.iter_moment_rows``
does slab by slab, which must give bitwise the same). The columns are built from
``mode_columns`` and laid out here (means, then the low-rank columns r by r)."""

from __future__ import annotations

import numpy as np

from harmosync.conventions import to_interleaved
from harmosync.dynamics import evaluation as ev
from harmosync.solvers import trigsum as ts


def laid_out_columns(sol) -> tuple[np.ndarray, np.ndarray]:
    """``mode_columns`` (N, 2n, R+1) laid out as ``moment_columns``: block → interleaved rows,
    the means, then column 2n(1 + r) + a."""
    alpha, beta = ev.mode_columns(sol)
    n = len(sol.rows)
    order = np.ravel(np.column_stack([np.arange(n), n + np.arange(n)]))
    alpha, beta = alpha[:, order], beta[:, order]
    alpha = np.hstack([alpha[:, :, 0], alpha[:, :, 1:].transpose(0, 2, 1).reshape(alpha.shape[0], -1)])
    beta = np.hstack([beta[:, :, 0], beta[:, :, 1:].transpose(0, 2, 1).reshape(beta.shape[0], -1)])
    return alpha, beta


def contracted_moments(sol, t: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """(means (2n, T), σ (2n, 2n, T)) of ``sol`` at the uniform times ``t`` (step ``h``)."""
    alpha, beta = laid_out_columns(sol)
    n = len(sol.rows)
    const = to_interleaved(ev.stationary_covariance(sol))
    lam = np.ascontiguousarray(sol.values, dtype=float)
    rows = np.hstack([v for _, v in ts.nufft(sol.frequencies, alpha, beta, t[0], h, t.size,
                                             chunk=ev.nufft_chunk(alpha.shape[1]), rows=True)])
    cov = np.empty((2 * n, 2 * n, t.size))
    low = np.ascontiguousarray(rows[2 * n:]).reshape(-1, 2 * n, t.size)  # (R, 2n, T)
    ev._COVARIANCE_ROWS(np.ascontiguousarray(low.transpose(1, 0, 2)), lam, const, cov)
    return rows[:2 * n], cov
