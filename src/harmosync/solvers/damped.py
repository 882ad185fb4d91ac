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
#: numbers per block of the O(N²) sums (2 MB arrays: they stay in cache)
BLOCK_NUMBERS = 1 << 18
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
        q, pi = self._vectors(sl)
        return q[0] + 1j * q[1], pi[0] + 1j * pi[1]

    def _vectors(self, sl: slice):
        """(q, π) as (real, imaginary) pairs of (b, N) arrays (module docstring): s_j = u_jᵀz,
        p_j = (μ_j − μ_k) + δ(δ + 2iΩ_k), q_j = (2λ + γ/2)s_j/p_j, π_j = λq_j − s_j; own pole
        s_k/p_k = −1/c; undamped modes e_k. Real arithmetic throughout (no complex temporaries)."""
        lam, pole, z = self.lam[sl], self.pole[sl], self.z[sl]
        w = np.sqrt(self.mu)
        delta = lam - 1j * w[pole]
        e = delta * (delta + 2j * w[pole])
        rows = np.arange(lam.size)
        damped = np.any(z != 0, axis=1)
        yt = self.y.T
        sr, si = z.real @ yt, z.imag @ yt
        r = self.mu[None, :] - self.mu[pole][:, None]
        r += e.real[:, None]
        r[rows, pole] = 1.0  # replaced below
        den = r * r
        den += (e.imag**2)[:, None]
        np.divide(1.0, den, out=den)
        # ratio = s/p = s (r − i e_i)/(r² + e_i²)
        ei = e.imag[:, None]
        rr = (sr * r + si * ei) * den
        ri = (si * r - sr * ei) * den
        del r, den
        c = self.gamma * (lam + self.gamma / 4)
        own = np.where(damped, -1.0 / np.where(damped, c, 1.0), 0.0)
        rr[rows, pole], ri[rows, pole] = own.real, own.imag
        f = 2 * lam + self.gamma / 2
        qr = f.real[:, None] * rr - f.imag[:, None] * ri
        qi = f.real[:, None] * ri + f.imag[:, None] * rr
        del rr, ri
        pr = lam.real[:, None] * qr - lam.imag[:, None] * qi
        pim = lam.real[:, None] * qi + lam.imag[:, None] * qr
        pr -= sr * damped[:, None]
        pim -= si * damped[:, None]
        und = np.flatnonzero(~damped)
        qr[und, pole[und]], qi[und, pole[und]] = 1.0, 0.0
        pr[und, pole[und]], pim[und, pole[und]] = lam[und].real, lam[und].imag
        return (qr, qi), (pr, pim)

    def products(self, rows: np.ndarray, cols_q: np.ndarray, cols_p: np.ndarray):
        """(R X (2n, K) interleaved rows (x_i, p_i), Y W (K, C), s (K,) the eigenvalue condition
        numbers ‖w‖‖v‖/|wᵀv|, ‖v‖² (K,)) for the oscillators with U rows ``rows`` (n, N) and columns W
        given in mode coordinates (``cols_q``, ``cols_p``: (N, C)); Y = X⁻¹ (left vectors
        normalized by wᵀv). Real GEMMs only."""
        k, n = self.lam.size, rows.shape[0]
        rx = np.empty((2 * n, k), complex)
        yw = np.empty((k, cols_q.shape[1]), complex)
        cond, sq = np.empty(k), np.empty(k)
        rt = np.ascontiguousarray(rows.T)
        for sl in _blocks(k, self.mu.size):
            (qr, qi), (pr, pim) = self._vectors(sl)
            rx[0::2, sl] = (qr @ rt + 1j * (qi @ rt)).T
            rx[1::2, sl] = (pr @ rt + 1j * (pim @ rt)).T
            norm = 2 * (np.einsum("ij,ij->i", qr, pr) - np.einsum("ij,ij->i", qi, pim)
                        + 1j * (np.einsum("ij,ij->i", qr, pim) + np.einsum("ij,ij->i", qi, pr)))
            re = pr @ cols_q + qr @ cols_p
            im = pim @ cols_q + qi @ cols_p
            yw[sl] = (re + 1j * im) / norm[:, None]
            size = (np.einsum("ij,ij->i", qr, qr) + np.einsum("ij,ij->i", qi, qi)
                    + np.einsum("ij,ij->i", pr, pr) + np.einsum("ij,ij->i", pim, pim))
            cond[sl], sq[sl] = size / np.abs(norm), size
        return rx, yw, cond, sq


def _newton(mu, y, uu, gamma: float, ref: np.ndarray, d0: np.ndarray):
    """Newton on F(δ) = δ(δ + 2iΩ_k) + c β for roots λ = iΩ_k + δ, k = ``ref`` (module
    docstring), from δ = ``d0``. Returns (δ, z = B⁻¹u_k, converged, last |step|)."""
    n, nd = y.shape
    w = np.sqrt(mu)
    eye = np.eye(nd)
    d, todo, last = d0.astype(complex).copy(), np.ones(ref.size, bool), np.zeros(ref.size)
    z = np.zeros((ref.size, nd), complex)
    for it in range(MAX_ITER + 1):
        final = it == MAX_ITER or not np.any(todo)
        sel = np.arange(ref.size) if final else np.flatnonzero(todo)
        kk, dd = ref[sel], d[sel]
        lam = 1j * w[kk] + dd
        # 1/p_j with p_j = (μ_j − μ_k) + e, e = δ(δ + 2iΩ_k): real arithmetic, own pole left out
        e = dd * (dd + 2j * w[kk])
        own = (np.arange(kk.size), kk)
        r = mu[None, :] - mu[kk][:, None]
        r += e.real[:, None]
        den = r * r
        den += (e.imag**2)[:, None]
        den[own] = 1.0
        np.divide(1.0, den, out=den)
        den[own] = 0.0
        a1 = r * den  # Re 1/p
        ei = e.imag[:, None]
        g = ((a1 @ uu) - 1j * ei * (den @ uu)).reshape(-1, nd, nd)
        c = gamma * (lam + gamma / 4)
        b = eye + c[:, None, None] * g
        zz = np.linalg.solve(b, y[kk][:, :, None].astype(complex))[:, :, 0]
        del r
        if final:  # the null vectors at the converged roots
            z[sel] = zz
            break
        # Σ u uᵀ/p²: 1/p² = (a1 − i e_i den)² = a1² − e_i² den² − 2i e_i a1 den
        a1d = a1 * den
        den *= den
        g1 = ((a1 * a1) @ uu - ei**2 * (den @ uu) - 2j * ei * (a1d @ uu)).reshape(-1, nd, nd)
        db = gamma * g - (2 * c * lam)[:, None, None] * g1
        beta = np.einsum("ij,ij->i", y[kk], zz)
        dbeta = -np.einsum("ij,ijk,ik->i", zz, db, zz)
        f = dd * (dd + 2j * w[kk]) + c * beta
        df = 2 * dd + 2j * w[kk] + gamma * beta + c * dbeta
        step = f / df
        d[sel] = dd - step
        last[sel] = np.abs(step)
        todo[sel[np.abs(step) <= 1e-13 * np.abs(dd - step)]] = False
    return d, z, ~todo, last


def damped_modes(mu, y, gamma: float) -> DampedModes:
    """The damped modes (module docstring) for squared closed frequencies ``mu`` (N,),
    ascending and distinct, damped rows ``y`` (N, n_d) and rate ``gamma`` [w]. Raises
    :class:`NotSeparated` when the roots cannot be verified.

    Roots that move more than half-way to a neighbouring pole (a probe mode in resonance with
    a band of closed modes sharing its weight) are found again as a cluster: starting points
    from the dense eigenvalues of A restricted to the cluster's modes and ``CLUSTER_MARGIN``
    neighbours on each side, then Newton on the full secular equation; the cluster's roots
    must be distinct from each other and from their neighbours' (relative ``SEPARATION``)."""
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
    coupled = np.sum(y * y, axis=1) > DECOUPLED if gamma > 0 else np.zeros(n, bool)
    # first-order shifts γ|u_k|²/2: refuse early when too many poles would need a cluster solve
    strong = int(np.sum(0.5 * gamma * np.sum(y * y, axis=1) >= 0.5 * gap))
    if strong > max(50, n // 20):
        raise NotSeparated(f"{strong} damped modes shift by more than half the distance to the next mode")
    idx = np.flatnonzero(coupled)
    uu = (y[:, :, None] * y[:, None, :]).reshape(n, nd * nd)
    lam = 1j * w.astype(complex)
    pole = np.arange(n)
    z = np.zeros((n, nd), complex)
    ok = np.ones(n, bool)
    last = np.zeros(n)
    for sl in _blocks(idx.size, n):
        k = idx[sl]
        d, zz, conv, step = _newton(mu, y, uu, gamma, k, np.zeros(k.size))
        lam[k], z[k], last[k] = 1j * w[k] + d, zz, step
        ok[k] = conv & (np.abs(d) < 0.5 * gap[k])
    bad = np.flatnonzero(~ok)
    if bad.size:
        _clusters(mu, y, uu, gamma, bad, lam, pole, z, last)
    trace = float(np.sum(lam.real))
    if abs(trace + gamma * nd / 2) > 1e-8 * gamma * nd + 1e-14 * n * float(np.max(np.abs(lam.real), initial=0)):
        raise NotSeparated(f"Σ Re λ = {trace:.6g}, not tr A / 2 = {-gamma * nd / 2:.6g}")
    return DampedModes(lam, pole, z, mu, y, float(gamma), float(np.max(last, initial=0.0)))


#: closed modes added on each side of a cluster of strongly shifted roots
CLUSTER_MARGIN = 12
#: roots closer than this (relative to max |λ|) count as one
SEPARATION = 1e-9


def _clusters(mu, y, uu, gamma, bad, lam, pole, z, last) -> None:
    """Recompute the roots of the poles ``bad`` (and ``CLUSTER_MARGIN`` neighbours) cluster by
    cluster (see :func:`damped_modes`), updating lam, pole, z, last in place."""
    n, nd = y.shape
    w = np.sqrt(mu)
    m = CLUSTER_MARGIN
    groups = []
    for k in bad:
        lo, hi = max(0, k - m), min(n, k + m + 1)
        if groups and lo <= groups[-1][1]:
            groups[-1][1] = max(groups[-1][1], hi)
        else:
            groups.append([lo, hi])
    if sum(hi - lo for lo, hi in groups) > max(200, n // 10):
        raise NotSeparated(f"{bad.size} damped modes moved more than half-way to a neighbouring pole")
    sep = SEPARATION * float(w.max())
    for lo, hi in groups:
        wlo, whi = max(0, lo - m), min(n, hi + m)
        sub = np.arange(wlo, whi)
        yw = y[sub]
        size = sub.size
        a = np.zeros((2 * size, 2 * size))
        damp = -0.5 * gamma * (yw @ yw.T)
        a[:size, :size], a[:size, size:] = damp, np.eye(size)
        a[size:, :size], a[size:, size:] = -np.diag(mu[sub]), damp
        ev = np.linalg.eigvals(a)
        ev = ev[ev.imag > 0]
        near = sub[np.argmin(np.abs(ev[:, None] - 1j * w[sub][None, :]), axis=1)]
        pick = (near >= lo) & (near < hi)
        if int(pick.sum()) != hi - lo:
            raise NotSeparated(f"a cluster of damped modes near frequency {w[lo]:.6g} has "
                               f"{int(pick.sum())} roots for {hi - lo} poles")
        ev, ref = ev[pick], near[pick]
        d, zz, conv, step = _newton(mu, y, uu, gamma, ref, ev - 1j * w[ref])
        if not np.all(conv):
            raise NotSeparated(f"a cluster of damped modes near frequency {w[lo]:.6g} did not converge")
        order = np.argsort(ref, kind="stable")
        new = (1j * w[ref] + d)[order]
        lam[lo:hi], pole[lo:hi], z[lo:hi], last[lo:hi] = new, ref[order], zz[order], step[order]
        # distinct from each other and from the roots of the neighbouring poles
        around = lam[wlo:whi]
        dist = np.abs(new[:, None] - around[None, :])
        dist[np.arange(hi - lo), np.arange(lo - wlo, hi - wlo)] = np.inf
        if np.min(dist) <= sep:
            raise NotSeparated(f"two damped modes near frequency {w[lo]:.6g} coincide")
        # isolated roots lie nearest their own poles: a cluster root whose nearest pole is in
        # the window can coincide only with the roots checked above
        nearest = np.argmin(np.abs(new[:, None] - 1j * w[None, :]), axis=1) if n <= 4096 else \
            np.searchsorted(w, new.imag).clip(0, n - 1)
        if np.any((nearest < wlo - 1) | (nearest > whi)):
            raise NotSeparated(f"a root of the cluster near frequency {w[lo]:.6g} left its window")
