"""The moments a second way, for the fused-pass tests: the trig sums' rows from
``trigsum.nufft(rows=True)`` contracted by ``evaluation._COVARIANCE_ROWS`` (the two steps the
fused pass of ``evaluation.iter_moment_rows`` does in one, which must give bitwise the same)."""

from __future__ import annotations

import numpy as np

from harmosync.conventions import to_interleaved
from harmosync.dynamics import evaluation as ev
from harmosync.solvers import trigsum as ts


def contracted_moments(sol, t: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """(means (2n, T), σ (2n, 2n, T)) of ``sol`` at the uniform times ``t`` (step ``h``)."""
    alpha, beta = ev.mode_columns(sol)
    n = len(sol.rows)
    order = np.ravel(np.column_stack([np.arange(n), n + np.arange(n)]))
    alpha, beta = alpha[:, order], beta[:, order]
    alpha = np.hstack([alpha[:, :, 0], alpha[:, :, 1:].reshape(alpha.shape[0], -1)])
    beta = np.hstack([beta[:, :, 0], beta[:, :, 1:].reshape(beta.shape[0], -1)])
    const = to_interleaved(ev.stationary_covariance(sol))
    lam = np.ascontiguousarray(sol.values, dtype=float)
    rows = np.hstack([v for _, v in ts.nufft(sol.frequencies, alpha, beta, t[0], h, t.size,
                                             chunk=ev.nufft_chunk(alpha.shape[1]), rows=True)])
    cov = np.empty((2 * n, 2 * n, t.size))
    ev._COVARIANCE_ROWS(np.ascontiguousarray(rows[2 * n:]).reshape(2 * n, -1, t.size), lam, const, cov)
    return rows[:2 * n], cov
