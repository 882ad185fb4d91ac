"""Damped normal modes of a network whose oscillators n_d of N are damped at one rate γ.

In the closed network's normal-mode coordinates (q, π) = (Uᵀx, Uᵀp), V = U diag(μ) Uᵀ,
μ_k = Ω_k², local Lindblad damping of equal rate on x and p of the damped oscillators gives

    A = [[−(γ/2)YYᵀ, I], [−diag(μ), −(γ/2)YYᵀ]],   Y = U[damped, :]ᵀ (N × n_d), rows u_kᵀ.

**Eigenvalues.** With the closed resolvent's damped block g(λ) = Σ_k u_k u_kᵀ/(λ² + μ_k), the
determinant lemma and the commuting 2 × 2 blocks of I + (γ/2)Eᵀ(λ − A_H)⁻¹E give

    det(λ − A) = Π_k (λ² + μ_k) · det(I + γ(λ + γ/4) g(λ)).

Each root λ = iΩ_k + δ is found from its own pole: with B = I + c G_k (G_k: g without term k,
c = γ(λ + γ/4)), det(I + c g) = det B · (1 + c β/p_k), β = u_kᵀB⁻¹u_k, p_k = δ(δ + 2iΩ_k), so
δ solves F(δ) = δ(δ + 2iΩ_k) + c β = 0 (Newton, from δ = 0; no cancellation: the differences
λ² + μ_j = (μ_j − μ_k) + δ(δ + 2iΩ_k) use the exact differences of the stored μ).
Verified, else refused (:class:`NotSeparated`): every root converged and lies closer to its
own pole than half the distance to any other pole (so the N roots are distinct and, with their
conjugates, all 2N eigenvalues, each simple), and Σ Re λ = tr A / 2 = −γ n_d / 2.

**Eigenvectors** (Cauchy-like, O(N) each): with z = B⁻¹u_k (the null vector of I + c g),
s_j = u_jᵀz, p_j = λ² + μ_j, the right eigenvector is q_j = (2λ + γ/2)s_j/p_j, π_j = λq_j − s_j,
and the left one is the swap (π, q) (Aᵀ = SAS, S = [[0, I], [I, 0]]). Modes with u_k = 0 are
not damped: λ = iΩ_k, v = (e_k, iΩ_k e_k).

Costs O(iterations · N² n_d²) time and O(N · block) memory; no 2N × 2N matrix is formed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EPS = np.finfo(float).eps
#: complex numbers per block of the O(N²) sums (16 MB)
BLOCK_NUMBERS = 1 << 20
MAX_ITER = 50
#: |u_k|² below which a mode counts as undamped (its rate γ|u_k|²/2 < 1e-200 γ)
DECOUPLED = 1e-200


class NotSeparated(Exception):
    """The damped modes could not be verified (module docstring); use the dense path."""


def _blocks(n_rows: int, n_cols: int):
    step = max(1, BLOCK_NUMBERS // max(n_cols, 1))
    for s in range(0, n_rows, step):
        yield slice(s, min(s + step, n_rows))


@dataclass(frozen=True, eq=False)
class DampedModes:
    """Eigenvalues λ (K,) of A with Im λ ≥ 0 (one of each conjugate pair), their poles ``pole``
    (K,) (index k of Ω_k), the vectors ``z`` (K, n_d) (zero for undamped modes), ``mu`` (N,),
    ``y`` (N, n_d), ``gamma``; ``residual``: the largest last Newton step |Δδ| [w]."""

    lam: np.ndarray
    pole: np.ndarray
    z: np.ndarray
    mu: np.ndarray
    y: np.ndarray
    gamma: float
    residual: float

    @property
    def damped(self) -> np.ndarray:
        return np.any(self.z != 0, axis=1)

    def vectors(self, sl: slice) -> tuple[np.ndarray, np.ndarray]:
        """Right eigenvectors (q, π) of the modes ``sl``, each (b, N) complex (unnormalized)."""
        lam, pole, z = self.lam[sl], self.pole[sl], self.z[sl]
        w = np.sqrt(self.mu)
        delta = lam - 1j * w[pole]
        p = (self.mu[None, :] - self.mu[pole][:, None]) + (delta * (delta + 2j * w[pole]))[:, None]
        s = z @ self.y.T  # (b, N) complex
        rows = np.arange(lam.size)
        damped = np.any(z != 0, axis=1)
        p[rows, pole] = 1.0  # replaced below
        ratio = s / p
        # own pole: s_k/p_k = β/(−cβ) = −1/c exactly; undamped modes: e_k
        c = self.gamma * (lam + self.gamma / 4)
        ratio[rows, pole] = np.where(damped, -1.0 / np.where(damped, c, 1.0), 0.0)
        q = (2 * lam + self.gamma / 2)[:, None] * ratio
        pi = lam[:, None] * q - np.where(damped[:, None], s, 0.0)
        und = np.flatnonzero(~damped)
        q[und, pole[und]] = 1.0
        pi[und, pole[und]] = lam[und]
        return q, pi

    def products(self, rows: np.ndarray, cols_q: np.ndarray, cols_p: np.ndarray):
        """(R X (2n, K) interleaved rows (x_i, p_i), Y W (K, C), s (K,) the eigenvalue condition
        numbers ‖w‖‖v‖/|wᵀv|) for the oscillators with U rows ``rows`` (n, N) and columns W
        given in mode coordinates (``cols_q``, ``cols_p``: (N, C)); Y = X⁻¹ (left vectors
        normalized by wᵀv)."""
        k, n = self.lam.size, rows.shape[0]
        rx = np.empty((2 * n, k), complex)
        yw = np.empty((k, cols_q.shape[1]), complex)
        cond = np.empty(k)
        for sl in _blocks(k, self.mu.size):
            q, pi = self.vectors(sl)
            rx[0::2, sl] = rows @ q.T
            rx[1::2, sl] = rows @ pi.T
            norm = 2 * np.einsum("ij,ij->i", q, pi)
            yw[sl] = (pi @ cols_q + q @ cols_p) / norm[:, None]
            size = np.sum(np.abs(q) ** 2 + np.abs(pi) ** 2, axis=1)
            cond[sl] = size / np.abs(norm)
        return rx, yw, cond


def damped_modes(mu, y, gamma: float) -> DampedModes:
    """The damped modes (module docstring) for squared closed frequencies ``mu`` (N,),
    ascending and distinct, damped rows ``y`` (N, n_d) and rate ``gamma`` [w]. Raises
    :class:`NotSeparated` when the roots cannot be verified."""
    mu = np.asarray(mu, float)
    y = np.atleast_2d(np.asarray(y, float))
    n, nd = y.shape
    w = np.sqrt(mu)
    if n > 1 and np.any(np.diff(mu) <= 0):
        raise NotSeparated("the closed frequencies are not distinct")
    # distance from pole k to the nearest other pole (±iΩ_j, the conjugate −iΩ_k included)
    gap = 2 * w
    if n > 1:
        dw = np.diff(w)
        gap[1:] = np.minimum(gap[1:], dw)
        gap[:-1] = np.minimum(gap[:-1], dw)
    coupled = np.sum(y * y, axis=1) > DECOUPLED
    idx = np.flatnonzero(coupled)
    delta = np.zeros(n, complex)
    z = np.zeros((n, nd), complex)
    last = np.zeros(n)
    uu = (y[:, :, None] * y[:, None, :]).reshape(n, nd * nd)
    eye = np.eye(nd)
    for sl in _blocks(idx.size, n):
        k = idx[sl]
        d, todo = np.zeros(k.size, complex), np.ones(k.size, bool)
        for _ in range(MAX_ITER):
            if not np.any(todo):
                break
            kk, dd = k[todo], d[todo]
            lam = 1j * w[kk] + dd
            p = (mu[None, :] - mu[kk][:, None]) + (dd * (dd + 2j * w[kk]))[:, None]
            p[np.arange(kk.size), kk] = np.inf
            inv = 1.0 / p
            g = (inv @ uu).reshape(-1, nd, nd)
            g1 = ((inv * inv) @ uu).reshape(-1, nd, nd)
            c = gamma * (lam + gamma / 4)
            b = eye + c[:, None, None] * g
            db = gamma * g - (2 * c * lam)[:, None, None] * g1
            zz = np.linalg.solve(b, y[kk][:, :, None].astype(complex))[:, :, 0]
            beta = np.einsum("ij,ij->i", y[kk], zz)
            dbeta = -np.einsum("ij,ijk,ik->i", zz, db, zz)
            f = dd * (dd + 2j * w[kk]) + c * beta
            df = 2 * dd + 2j * w[kk] + gamma * beta + c * dbeta
            step = f / df
            d[todo] = dd - step
            done = np.abs(step) <= 1e-13 * np.abs(dd - step)
            sel = np.flatnonzero(todo)
            last[kk] = np.abs(step)
            todo[sel[done]] = False
        if np.any(todo):
            raise NotSeparated(f"{int(todo.sum())} damped mode(s) did not converge")
        delta[k] = d
    # final null vectors at the converged roots
    for sl in _blocks(idx.size, n):
        k = idx[sl]
        dd = delta[k]
        lam = 1j * w[k] + dd
        p = (mu[None, :] - mu[k][:, None]) + (dd * (dd + 2j * w[k]))[:, None]
        p[np.arange(k.size), k] = np.inf
        g = ((1.0 / p) @ uu).reshape(-1, nd, nd)
        b = eye + (gamma * (lam + gamma / 4))[:, None, None] * g
        z[k] = np.linalg.solve(b, y[k][:, :, None].astype(complex))[:, :, 0]
    if np.any(np.abs(delta) >= 0.5 * gap):
        bad = int(np.sum(np.abs(delta) >= 0.5 * gap))
        raise NotSeparated(f"{bad} damped mode(s) moved more than half-way to a neighbouring pole")
    trace = float(np.sum(delta.real))
    if abs(trace + gamma * nd / 2) > 1e-8 * gamma * nd + 1e-14 * n * float(np.max(np.abs(delta), initial=0)):
        raise NotSeparated(f"Σ Re λ = {trace:.6g}, not tr A / 2 = {-gamma * nd / 2:.6g}")
    return DampedModes(1j * w + delta, np.arange(n), z, mu, y, float(gamma),
                       float(np.max(last, initial=0.0)))
