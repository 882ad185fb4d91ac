"""Thermal states for the open solver (:mod:`.open`), with what their errors do there.

The dense open solver writes σ(t) = σ_s + e^{At}(σ(0) − σ_s)e^{Aᵀt} + ∫₀ᵗ e^{As}(D + A_dσ_s +
σ_sA_dᵀ)e^{Aᵀs} ds (:mod:`.open`). With the computed σ̃_s = σ_s + δ and σ̃(0) = σ(0) + δ₀ in
place of the exact ones, and ∫₀ᵗ e^{As}(Aδ + δAᵀ)e^{Aᵀs} ds = e^{At}δe^{Aᵀt} − δ, the result
errs by exactly

    e^{At} δ₀ e^{Aᵀt} − ∫₀ᵗ e^{As} r e^{Aᵀs} ds,   r = A_Hσ̃_s + σ̃_sA_Hᵀ,

A_H the exact Hamiltonian drift. So σ_s's accuracy enters only through its non-stationarity r,
which is computed a posteriori (:func:`stationarity_residual`); a wrong eigenvalue in σ̃_s
cancels. δ₀ is the environment's initial thermal state's error, W g(Ω²) Wᵀ formed from computed
modes: its soft modes are recomputed from the parameters (:func:`~.spectrum.refine_soft_modes`;
a float eigh of a graph with on-site Ω = 1e-4 at T = 1 moved ⟨X²⟩ ∝ T/Ω² by 4e-8 of itself, 0.43
absolute, 87× the open solver's bound: review of session 22), and ‖δ₀‖₂ is bounded to first
order (Daleckii–Krein) by :func:`environment_thermal`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..conventions import thermal_factor
from ..network import Network, chain_modes
from ..states import environment_covariance
from ..solvers.lowrank import soft_modes
from .spectrum import _degrees, _onsite, _potential_rounding, _refined_mode_bound, rayleigh_errors, refine_soft_modes

EPS = np.finfo(float).eps


def _derivative_bounds(mu, temperature):
    """(|g_x′|, |g_p′|) at μ (> 0) for g_x(μ) = ν(w)/w, g_p(μ) = ν(w)·w, w = √μ: (ν + w|ν′|)/(2w³)
    and (ν + w|ν′|)/(2w), w|ν′| = (x/2)csch²x, x = w/2T; both decrease with μ (ν and x·csch²x
    do), so their value at the left end of an interval bounds them on it."""
    w = np.sqrt(mu)
    nu = thermal_factor(w, temperature)
    if temperature > 0:
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            x = w / (2 * temperature)
            extra = np.where(x > 350, 0.0, 0.5 * x / np.sinh(np.minimum(x, 350)) ** 2)
    else:
        extra = np.zeros_like(w)
    top = (nu + extra) * (1 + 8 * EPS)
    return top / (2 * w**3) * (1 + 4 * EPS), top / (2 * w) * (1 + 4 * EPS)


def _function_errors(mu, err, u, b, g, fs, temperature) -> tuple:
    """‖U f(Λ̃) Uᵀ − f(V_exact)‖₂ to first order, for f = g_x and g_p (``fs``): with Q = U(I + G)^(−½)
    orthogonal and QᵀV_exactQ = Λ̃ + B (|B| ≤ ``b``, |G| ≤ ``g``, :func:`~.spectrum.mode_perturbation`),
    the error is Q((Gf + fG)/2 − F ∘ B)Qᵀ, F_kl = f[μ̃_k, μ̃_l] ≤ min(|f′(min μ̃)|, max f/|μ̃_k − μ̃_l|)
    (f > 0, monotone, |f′| decreasing: :func:`_derivative_bounds`, formed once for both); the
    diagonal from the eigenvalues' bounds ``err`` (|f(μ) − f(μ̃)| ≤ |f′(μ̃ − e)|·e), then the
    Frobenius norm; plus forming U f Uᵀ in double, γ_N|U| f |U|ᵀ, whose norm is at most its
    largest row sum."""
    n = mu.size
    lo = np.minimum(mu[:, None], mu[None, :])
    gap = np.abs(mu[:, None] - mu[None, :])
    low = np.maximum(mu - err, np.finfo(float).tiny)
    derivs = zip(_derivative_bounds(lo, temperature), _derivative_bounds(low, temperature))
    au = np.abs(u)
    col = au.sum(axis=0)
    out = []
    for f, (d_lo, d_low) in zip(fs, derivs):
        big = np.maximum(f[:, None], f[None, :])
        with np.errstate(divide="ignore", invalid="ignore"):
            far = np.where(gap > 0, big / (gap * (1 - 2 * EPS)), np.inf)
        off = b * np.minimum(d_lo, far)
        np.fill_diagonal(off, 0.0)
        diag = d_low * err
        frob = np.sqrt(np.sum(off * off) + np.sum(diag * diag))
        gram = g * (0.5 * (f[:, None] + f[None, :]))
        frob += np.sqrt(np.sum(gram * gram))
        forming = 1.01 * (n + 2) * EPS * float(np.max(au @ (f * col), initial=0.0))
        out.append(float((frob + forming) * (1 + 1e-9)))
    return tuple(out)


def environment_thermal(network: Network, temperature: float):
    """(⟨XXᵀ⟩, ⟨PPᵀ⟩, (e_x, e_p)) of the environment's thermal state alone, e_x and e_p ≥ the
    spectral norms of their errors (module docstring): a homogeneous chain's closed-form modes,
    else a dense eigh, the soft modes recomputed from the parameters either way."""
    env = network.environment
    if env.homogeneous_chain:
        om, u = chain_modes(env.sites, env.omega0, env.g, env.boundary)
        mu = om**2
        u = np.array(u, dtype=float)
    else:
        mu, u = np.linalg.eigh(env.potential())
    v = env.potential(sparse=True)
    v, rounding = _potential_rounding(network, v=v, diag=_onsite(network) + _degrees(network), attachments=())
    mu_err = rayleigh_errors(v, mu, u, rounding)
    soft = soft_modes(mu)  # (the modes refine_soft_modes recomputes; their columns in place)
    mu, err, _, pairs = refine_soft_modes(network, mu, u, mu_err, environment=True)
    # b_means: |B| on every pair, the refined modes' too (their own pairs from soft_pairs)
    _, g, b = _refined_mode_bound(v, rounding, mu, u, soft if soft.size else None, soft_pairs=pairs)
    w = np.sqrt(mu)
    nu = thermal_factor(w, temperature)
    xx, pp = environment_covariance(w, u, temperature)
    return xx, pp, _function_errors(mu, err, u, b, g, (nu / w, nu * w), temperature)


def stationarity_residual(network: Network, xx, pp) -> float:
    """A bound on ‖A_Hσ̃ + σ̃A_Hᵀ‖₂ for σ̃ = ⟨XXᵀ⟩ ⊕ ⟨PPᵀ⟩ (``xx``, ``pp``; no x–p block) and the
    exact Hamiltonian drift A_H = [[0, I], [−V, 0]]: the off-diagonal block E = P − XV, formed in
    long double from the double X, P and V (a soft mode puts ~1e8 in X, whose products cancel),
    plus |X||δV| (V's rounding against its parameters) and the long-double sums' own rounding;
    ‖[[0, E], [Eᵀ, 0]]‖₂ = ‖E‖₂ ≤ ‖E‖_F."""
    ld = np.longdouble
    v, rounding = _potential_rounding(network)
    v = sp.csc_matrix(v)
    x = np.asarray(xx, float)
    xl = x.astype(ld)
    e = np.asarray(pp, float).astype(ld)
    for j in range(v.shape[1]):  # E[:, j] = P[:, j] − Σ_i X[:, i] V_ij (V sparse: a few terms a column)
        lo, hi = v.indptr[j], v.indptr[j + 1]
        e[:, j] -= xl[:, v.indices[lo:hi]] @ v.data[lo:hi].astype(ld)
    ax = np.abs(x)
    nnz = int(np.max(np.diff(v.indptr), initial=0))
    ld_err = (nnz + 2) * 1.01 * float(np.finfo(ld).eps)
    extra = np.asarray(sp.csr_matrix(rounding).T @ ax.T).T  # |X||δV| (δV symmetric)
    extra += ld_err * (np.abs(np.asarray(pp, float)) + np.asarray((abs(v).T @ ax.T)).T)
    tot = np.abs(e.astype(float)) * (1 + 2 * EPS) + extra
    return float(np.sqrt(np.sum(tot * tot)) * (1 + 1e-9))
