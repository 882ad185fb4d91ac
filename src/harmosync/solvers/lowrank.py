"""The initial-state correction Δ in low-rank form, from the probe rows of the normal modes.

Setting (harmosync.dynamics): V = U diag(μ) Uᵀ is the coupled potential matrix (probes first),
V_0 = V_S ⊕ V_E the uncoupled one, H = V − V_0 = [[0, B], [Bᵀ, 0]] the probe–site coupling
(rank ≤ 2P). The initial state is σ_p ⊕ (stationary state of V_E); the stationary state of V is
diag(ν) in scaled normal coordinates y = (√w Uᵀx, Uᵀp/√w), w = √μ. Their difference there is

    Δ_qq = W½ [Aᵀ(σ_xx − g(V_S))A + Uᵀ(g(V_0) − g(V))U] W½,
    Δ_pp = W-½ [Aᵀ(σ_pp − g_p(V_S))A + Uᵀ(g_p(V_0) − g_p(V))U] W-½,
    Δ_qp = W½ Aᵀ σ_xp A W-½,

with A = U[probes] (P × N), g(x) = ν(√x)/√x, g_p(x) = x g(x). With a pole representation
g ≈ Σ_q ω_q/(x + ζ_q) (:mod:`.stieltjes`), Uᵀ(g(V_0) − g(V))U ≈ Σ_q ω_q X(ζ_q), where the
resolvent identity gives, exactly,

    X(ζ) = Uᵀ[(V_0 + ζ)⁻¹ − (V + ζ)⁻¹]U = D_ζ Aᵀ(Ψ + H_ζ A) D_ζ + D_ζ Ψᵀ R_ζ A,

D_ζ = diag(1/(μ + ζ)), Ψ = A diag(μ) − V_S A (= B·U[sites]), H_ζ = B (V_E + ζ)⁻¹ Bᵀ (P × P,
from the environment's modes), R_ζ = (V_S + ζ)⁻¹. Everything depends on the network only
through μ, A, V_S and the P × P matrices H_ζ: no N × N matrix is ever formed. The functions
1/(μ + ζ_q) are compressed to a few skeleton poles by an interpolative decomposition, the
factor is orthogonalised (QR, N × 4P(r+1)) and its small core diagonalised.

Error bound (spectral norm of the neglected part of Δ), returned as ``bound``:
    ε_rule·(2 + κ_x + κ_p)   (pole rule, κ_x = √(λmax(V)/λmin(V_0)), κ_p = √(λmax(V_0)/λmin(V)))
  + Σ_q |ω_q|(w_max + ζ_q/w_min)·η_q·(…)   (skeleton compression, η_q measured at every μ_k)
  + Σ |dropped eigenvalues|.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.linalg as sla

from .stieltjes import PoleRule, variance_function, variance_rule

#: relative accuracy of the skeleton (interpolative) compression of the pole kernels
ID_TOL = 1e-15


@dataclass(frozen=True)
class LowRank:
    values: np.ndarray  # (R,)
    vectors: np.ndarray  # (2, N, R): q and p parts
    bound: float  # spectral-norm bound on the neglected part of Δ (see module docstring)
    rule: PoleRule
    skeleton: int  # number of skeleton poles kept


def _matrix_function(vs: np.ndarray, f) -> np.ndarray:
    s, q = np.linalg.eigh(vs)
    return (q * f(s)) @ q.T


def _snap(lo: float, hi: float) -> tuple[float, float]:
    # widen [lo, hi] to a 1% geometric grid so that networks of a sweep share one basis
    step = np.log(1.01)
    return float(np.exp(step * np.floor(np.log(lo) / step))), float(np.exp(step * np.ceil(np.log(hi) / step)))


@lru_cache(maxsize=32)
def kernel_basis(lo: float, hi: float, temperature: float, *, tol: float = ID_TOL, grid: int = 400):
    """Pole rule for g on [lo, hi] and an interpolative decomposition of its kernels
    k_q(μ) = 1/(μ + ζ_q): skeleton indices ``skel`` and coefficients ``coef`` (1 + r, n_q) with
    k_q ≈ coef[0, q] + Σ_s coef[1 + s, q] k_{skel[s]} (picked on Chebyshev grids of [lo, hi] in
    μ and in log μ;
    the error at the actual spectrum is measured by :func:`kernel_errors`)."""
    rule = variance_rule(lo, hi, temperature)
    poles = rule.poles
    # Chebyshev points in μ and in log μ: the kernels of the smallest poles vary on the scale
    # of μ itself near lo, which a grid in μ alone does not resolve when hi/lo ≫ grid²
    c = np.cos(np.pi * (np.arange(grid) + 0.5) / grid)
    x = np.concatenate([0.5 * (lo + hi) + 0.5 * (hi - lo) * c, np.sqrt(lo * hi) * (hi / lo) ** (0.5 * c)])
    scale = lo + poles  # max of each kernel over [lo, hi] is 1/(lo + ζ)
    g = scale / (x[:, None] + poles)  # normalised kernels
    mean = g.mean(axis=0)
    g0 = g - mean  # the constant function is always part of the basis
    _, r, piv = sla.qr(g0, mode="economic", pivoting=True)
    d = np.abs(np.diag(r))
    rank = int(np.count_nonzero(d > tol * d[0])) if d.size and d[0] > 0 else 0
    # the interpolative decomposition proper, g0[:, piv] ≈ g0[:, piv[:rank]] [1, R11⁻¹R12]: its
    # coefficients stay O(1) (a least-squares fit on [1, g_skel] does not: the kernels of the
    # largest poles are nearly constant, and coefficients ~1e30 then cancel in the core)
    t = np.zeros((rank, poles.size))
    t[:, piv] = np.hstack([np.eye(rank), sla.solve_triangular(r[:rank, :rank], r[:rank, rank:])])
    order = np.argsort(piv[:rank])
    skel, t = piv[:rank][order], t[order]
    coef = np.vstack([mean - mean[skel] @ t, t])
    # undo the normalisation: k_q = g_q/scale_q, skeleton kernels k_s = g_s/scale_s
    coef = coef / scale[None, :]
    coef[1:] *= scale[skel][:, None]
    return rule, skel, coef


def kernel_errors(mu: np.ndarray, poles: np.ndarray, skel: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """η_q = max_k |1/(μ_k + ζ_q) − (skeleton expansion)| over the given eigenvalues."""
    eta = np.zeros(poles.size)
    kk = 1.0 / (mu[:, None] + poles[skel])
    for start in range(0, poles.size, 256):
        sl = slice(start, start + 256)
        approx = coef[0, sl][None, :] + kk @ coef[1:, sl]
        eta[sl] = np.max(np.abs(1.0 / (mu[:, None] + poles[sl]) - approx), axis=0)
    return eta


def environment_resolvents(env_d: np.ndarray, env_c: np.ndarray, poles: np.ndarray) -> np.ndarray:
    """H_ζ = Σ_j c_j c_jᵀ/(d_j + ζ) for every pole: (n_q, P, P)."""
    p = env_c.shape[0]
    outer = (env_c[:, None, :] * env_c[None, :, :]).reshape(p * p, -1)  # (P², M)
    out = np.empty((poles.size, p * p))
    for start in range(0, poles.size, 128):
        sl = slice(start, start + 128)
        out[sl] = (1.0 / (env_d[None, :] + poles[sl, None])) @ outer.T
    return out.reshape(poles.size, p, p)


def low_rank_delta(mu, a, vs, env_d, env_c, probe_cov, temperature: float = 0.0, *,
                   tol: float = 1e-12, h_poles=None) -> LowRank:
    """Low-rank Δ = Σ_r λ_r v_r v_rᵀ in scaled normal coordinates (module docstring).

    mu (N,) eigenvalues of V [frequency²]; a (P, N) probe rows of its eigenvectors; vs (P, P)
    V_S; env_d (M,) eigenvalues of V_E; env_c (P, M) = B·W_E (coupling in the environment's
    mode basis); probe_cov (2P, 2P) interleaved probe covariance; ``tol``: eigenvalues below
    tol·max(1, ‖Δ‖) are dropped. ``h_poles``: precomputed H_ζ for the rule's poles (sweeps).
    """
    mu = np.asarray(mu, float)
    a = np.atleast_2d(np.asarray(a, float))
    p, n = a.shape
    w = np.sqrt(mu)
    vs_eig = np.linalg.eigvalsh(vs)
    lo = min(float(mu.min()), float(env_d.min()) if env_d.size else np.inf, float(vs_eig.min()))
    hi = max(float(mu.max()), float(env_d.max()) if env_d.size else 0.0, float(vs_eig.max()))
    rule, skel, coef = kernel_basis(*_snap(lo, hi), float(temperature))
    zeta, omega = rule.poles, rule.weights
    if h_poles is None:
        h_poles = environment_resolvents(env_d, env_c, zeta)

    psi = a * mu[None, :] - vs @ a
    y = np.vstack([a, psi])  # (2P, N): rows are the functions a_i(k), ψ_i(k)
    eta = kernel_errors(mu, zeta, skel, coef)
    r1 = skel.size + 1
    funcs = np.vstack([np.ones(n), 1.0 / (mu[None, :] + zeta[skel, None])])  # (r1, N)
    f = (funcs[:, None, :] * y[None, :, :]).reshape(r1 * 2 * p, n).T  # (N, r1·2P), col = (s, i)

    # per-pole 2P × 2P blocks: M1 = [[H, 1], [0, 0]] (between e_s, e_s'), M2 = [[0, 0], [R, 0]]
    # (between e_s and the constant)
    eye = np.eye(p)
    s_eig, s_vec = np.linalg.eigh(vs)
    rz = np.einsum("ik,qk,jk->qij", s_vec, 1.0 / (s_eig[None, :] + zeta[:, None]), s_vec)
    m1 = np.zeros((zeta.size, 2 * p, 2 * p))
    m1[:, :p, :p] = h_poles
    m1[:, :p, p:] = eye
    m2 = np.zeros((zeta.size, 2 * p, 2 * p))
    m2[:, p:, :p] = rz

    cc = (coef[:, None, :] * coef[None, :, :]).reshape(r1 * r1, -1)  # (s t, q)
    m1f, m2f = m1.reshape(zeta.size, -1), m2.reshape(zeta.size, -1)

    def core(weights):
        k = ((cc * weights) @ m1f).reshape(r1, r1, 2 * p, 2 * p).transpose(0, 2, 1, 3).copy()
        k[:, :, 0, :] += ((coef * weights) @ m2f).reshape(r1, 2 * p, 2 * p)
        return k

    kx = core(omega)
    kp = core(-omega * zeta)
    pc = np.asarray(probe_cov, float)
    pxx, pxp, ppp = pc[0::2, 0::2], pc[0::2, 1::2], pc[1::2, 1::2]
    gx_s = _matrix_function(vs, lambda s: variance_function(s, temperature))
    gp_s = _matrix_function(vs, lambda s: s * variance_function(s, temperature))
    kx[0, :p, 0, :p] += pxx - gx_s
    kp[0, :p, 0, :p] += ppp - gp_s
    if rule.constant:
        kp[0, :p, 0, p:] -= rule.constant * eye
        kp[0, p:, 0, :p] -= rule.constant * eye
    kqp = np.zeros_like(kx)
    kqp[0, :p, 0, :p] = pxp
    dim = r1 * 2 * p
    kx, kp, kqp = kx.reshape(dim, dim), kp.reshape(dim, dim), kqp.reshape(dim, dim)

    sw = np.sqrt(w)
    qx, tx = np.linalg.qr(sw[:, None] * f)
    qp, tp = np.linalg.qr(f / sw[:, None])
    c = np.block([[tx @ kx @ tx.T, tx @ kqp @ tp.T], [tp @ kqp.T @ tx.T, tp @ kp @ tp.T]])
    c = 0.5 * (c + c.T)
    lam, vec = np.linalg.eigh(c)
    small = np.abs(lam) <= tol * max(1.0, float(np.abs(lam).max(initial=0.0)))
    keep = np.flatnonzero(~small)
    split = qx.shape[1]
    vq = qx @ vec[:split, keep]
    vp = qp @ vec[split:, keep]

    # ---- error bound (module docstring)
    mu_lo, mu_hi = float(mu.min()), float(mu.max())
    v0_lo = min(float(env_d.min()) if env_d.size else np.inf, float(vs_eig.min()))
    v0_hi = max(float(env_d.max()) if env_d.size else 0.0, float(vs_eig.max()))
    kappa = np.sqrt(mu_hi / v0_lo) + np.sqrt(v0_hi / mu_lo)
    e_rule = rule.error * (2.0 + kappa)
    nb = float(np.linalg.norm(env_c, 2)) if env_c.size else 0.0
    nh = np.linalg.norm(h_poles, 2, axis=(1, 2)) if p else np.zeros(zeta.size)
    nd = 1.0 / (mu_lo + zeta)
    nr = 1.0 / (float(s_eig.min()) + zeta)
    per_pole = eta * (2 * nd * (nb + nh) + eta * (nb + nh) + nb * nr)
    e_id = float(np.sum(np.abs(omega) * (w.max() + zeta / w.min()) * per_pole))
    dropped = float(np.abs(lam[small]).sum())
    return LowRank(lam[keep], np.array([vq, vp]), e_rule + e_id + dropped, rule, int(skel.size))


def eigen_roundoff(mu, readout, temperature: float = 0.0) -> float:
    """Bound on what the eigensolver's roundoff does to the stationary covariance of the
    observed rows [same units as σ, scaled-free]: a backward-stable eigensolver returns the
    exact modes of V + E, ‖E‖ ≲ 8ε‖V‖, which moves each μ_k by up to ‖E‖. With
    g(μ) = ν(√μ)/√μ and |g′(μ)| ≤ g(μ)/μ (g falls like μ^{-1/2} at T = 0, μ^{-1} when hot),
    ⟨x_a²⟩ = Σ_k r_ak² g(μ_k) moves by ≤ ‖E‖ Σ_k r_ak² g(μ_k)/μ_k, and ⟨p_a²⟩ by ≤ ‖E‖ Σ r_ak² g.
    Negligible (~1e-15) unless the spectrum is soft: it is what bounds a thermal soft mode."""
    mu = np.asarray(mu, float)
    r2 = np.asarray(readout, float) ** 2
    if r2.size == 0:
        return 0.0
    e = 8 * np.finfo(float).eps * float(mu.max())
    g = variance_function(mu, temperature)
    return float(e * max(np.max(r2 @ (g / mu)), np.max(r2 @ g)))


def evaluation_roundoff(w, readout, nu, values, vectors, t_max: float) -> float:
    """Bound on the roundoff of evaluating σ(t) = const + Σ_r λ_r z_r z_rᵀ for |t| ≤ t_max:
    every trig sum carries ~ε·(√N + w_max·t) of the magnitude of its terms (the phase w·t is
    rounded to ε·w·t). S bounds Σ of the absolute terms of any covariance entry."""
    w = np.asarray(w, float)
    r = np.abs(np.asarray(readout, float))
    if r.size == 0:
        return 0.0
    big = np.maximum(1 / np.sqrt(w), np.sqrt(w))
    s = float(np.max((r**2) @ (nu * (1 / w + w))))
    if np.size(values):
        z = r @ ((np.abs(vectors[0]) + np.abs(vectors[1])) * big[:, None])  # (n, R)
        s += float(np.max((z**2) @ np.abs(values)))
    t = float(t_max) if np.isfinite(t_max) else 0.0
    return float(4 * np.finfo(float).eps * (np.sqrt(w.size) + float(w.max()) * t) * s)
