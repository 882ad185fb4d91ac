"""Soft modes from the network's parameters: eigenvalues and eigenvectors of a dense eigh refined
in Laplacian form, where no term cancels against ‖V‖ (docs/conventions.md, "Soft spectra keep
their digits"). V = diag(d) + L + C: d the on-site stiffnesses (probes ω², sites Ω² + wall
bonds), L the Laplacian of the bonds within the probes and within the environment (V_ij = −w_ij),
C the probe–site couplings K."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy import fft

from .lowrank import soft_modes
from .roundoff import enclose
from .softgeometry import (SoftGeometry, block_enclose, cluster_enclose, hard_rows, other_soft_part, pair_angles,
                           soft_geometry)
from .stieltjes import variance_function

#: Chebyshev nodes per probe for the arrowhead's soft subspace (:func:`arrowhead_soft_basis`)
SOFT_NODES = 16


def laplacian_parts(v, p: int, rounding=None):
    """V = diag(d) + L + C split into its bonds (i, j, w_ij, δw_ij; L: within the probes and
    within the environment, V_ij = −w_ij) and its probe–site couplings (i, j, K_ij, δK_ij; i <
    ``p`` ≤ j), weights in extended precision, δ from ``rounding`` (entrywise, or 0)."""
    ld = np.longdouble
    up = sp.triu(sp.csr_matrix(v), 1).tocoo()
    i, j, val = up.row, up.col, up.data
    dval = (np.asarray(abs(sp.csr_matrix(rounding))[i, j], float).ravel() if rounding is not None and i.size
            else np.zeros(val.size))  # (no bond at all: scipy's fancy indexing of nothing is not an array)
    lap = (i < p) == (j < p)
    return ((i[lap], j[lap], -val[lap].astype(ld), dval[lap]),
            (i[~lap], j[~lap], val[~lap].astype(ld), dval[~lap]))


def laplacian_apply(d, parts, x):
    """V·x in extended precision in Laplacian form, (Vx)_i = d_i x_i + Σ_j w_ij (x_i − x_j) +
    Σ_j K_ij x_j: no term cancels against ‖V‖ (``parts`` from :func:`laplacian_parts`)."""
    (li, lj, lw, _), (ci, cj, ck, _) = parts
    dx = x[li] - x[lj]
    vx = np.asarray(d)[:, None] * x
    for rows, vals in ((li, lw[:, None] * dx), (lj, -lw[:, None] * dx),
                       (ci, ck[:, None] * x[cj]), (cj, ck[:, None] * x[ci])):
        np.add.at(vx, rows, vals)
    return vx


def laplacian_magnitudes(parts, row_abs, row_err, ax, adx) -> None:
    """Add to ``row_abs``, row by row, the magnitudes of (Vx)_i's bond and coupling terms in
    Laplacian form, Σ_j |w_ij|·|x_i − x_j| + Σ_j |K_ij|·|x_j|, and to ``row_err`` their share of
    V's rounding, Σ_j δw_ij·|x_i − x_j| + Σ_j δK_ij·|x_j| (in place, (N, S) each; ``parts`` from
    :func:`laplacian_parts`, ``ax`` = |x| (N, S), ``adx`` ≥ |x_i − x_j| per bond): what bounds
    the roundoff of :func:`laplacian_apply` and the parameters' rounding, entrywise."""
    (li, lj, lw, dlw), (ci, cj, ck, dck) = parts
    lwf, ckf = np.abs(lw.astype(float)), np.abs(ck.astype(float))
    bond, bond_err = lwf[:, None] * adx, dlw[:, None] * adx
    for rows, vals, errs in ((li, bond, bond_err), (lj, bond, bond_err),
                             (ci, ckf[:, None] * ax[cj], dck[:, None] * ax[cj]),
                             (cj, ckf[:, None] * ax[ci], dck[:, None] * ax[ci])):
        np.add.at(row_abs, rows, vals)
        np.add.at(row_err, rows, errs)


def refine_soft_vectors(v, p: int, d, mu, u, modes) -> np.ndarray:
    """The soft ``modes``' eigenvectors of a dense eigh (μ̃ ``mu``, columns ``u``, updated in
    place; returned) refined against V's parameters in Laplacian form, where the float eigh leaves
    them off by ~ε‖V‖/gap (V's rounded diagonal, its backward error): (i) a Rayleigh–Ritz of the
    soft block (SᵀVS, with VS in extended precision: its entries are soft-sized, so their float
    products and eigh resolve the soft splittings to ε‖SᵀVS‖ ≤ ε·SOFT·‖V‖), which unmixes nearly
    degenerate soft modes; (ii) one correction step against the other modes, x ← x −
    Σ_l u_l u_lᵀr/(μ̃_l − ρ) with r = Vx − ρx (Newton's step for the eigenvector: the error left
    is second order, ~(ε‖V‖/gap)², plus the rounding of x to double)."""
    modes = np.asarray(modes, int)
    if modes.size == 0:
        return u
    x = u[:, modes]
    vx = laplacian_apply(np.asarray(d, np.longdouble), laplacian_parts(v, p), x.astype(np.longdouble)).astype(float)
    gram = x.T @ vx
    gram = 0.5 * (gram + gram.T)
    _, q = np.linalg.eigh(gram - np.mean(np.diagonal(gram)) * np.eye(modes.size))
    x, vx = x @ q, vx @ q
    rho = np.sum(x * vx, axis=0) / np.sum(x * x, axis=0)
    other = np.ones(mu.size, bool)
    other[modes] = False
    uo = u[:, other]
    with np.errstate(divide="ignore", invalid="ignore"):
        coef = (uo.T @ (vx - rho * x)) / (np.asarray(mu, float)[other, None] - rho[None, :])
    coef[~np.isfinite(coef)] = 0.0
    x = x - uo @ coef
    u[:, modes] = x / np.sqrt(np.sum(x * x, axis=0))
    return u


def orthogonalize_hard(u, modes) -> None:
    """The columns of ``u`` outside ``modes`` less their part along the refined soft columns
    (in place): a float eigh's stiff vector keeps ~ε‖V‖/gap along the exact
    soft eigenvector, which the refined soft column no longer has, so their Gram defect G_kl
    (4e-15 on a stiff free chain, g = 3e7) and the residual's share (μ_l − μ_k)G_kl both reached
    the eigenvector term, through the soft mode's thermal variance ~T/μ_k, where their effects
    cancel (tests/test_bound_hot.py). Projected out, the stiff vector is nearer its eigenvector
    and G_kl is its rounding, ~ε/√N. (In double: the part removed is ~ε‖V‖/gap, its own
    rounding far below the result's.)"""
    modes = np.asarray(modes, int)
    other = np.ones(u.shape[1], bool)
    other[modes] = False
    if modes.size == 0 or not other.any():
        return
    x, uo = u[:, modes], u[:, other]
    coef = x.T @ uo
    coef -= (x.T @ x - np.eye(modes.size)) @ coef  # (XᵀX)⁻¹ ≈ 2I − XᵀX: x's Gram is I to ~ε
    u[:, other] = uo - x @ coef


def soft_pairs(v, p: int, d, d_err, x, rounding=None) -> np.ndarray:
    """(S, S), symmetric: entry (k, l) ≥ |x̂_kᵀr_l + x̂_lᵀr_k|/2, r_l = Vx̂_l − ρ_l x̂_l with V exact
    (from its parameters ``v``, ``p``, ``d``, ``d_err``, ``rounding`` as :func:`soft_mode_errors`')
    and ρ_l the extended-precision Rayleigh quotient the refined μ̃_l rounds, for the soft columns
    ``x`` (N, S) as stored: what :func:`~harmosync.dynamics.spectrum.soft_pair_bound` needs pair by
    pair. (Until session 19 it took the norm over the other soft modes, t_l ≥ ‖X̂_(S∖l)ᵀr_l‖, and
    each order apart: 5e3× the pair's |B| on a stiff free chain, where the residual lay along a
    third soft mode, and 23× where x̂_kᵀr_l and G_kl(μ_l − μ_k)/2 cancel.)"""
    n = np.shape(x)[0]
    return _pair_bounds(_ritz(np.asarray(x, float).astype(np.longdouble), np.asarray(d, np.longdouble),
                              np.asarray(d_err, float), laplacian_parts(v, p, rounding), n), n)


def _pair_bounds(q, n: int) -> np.ndarray:
    """:func:`soft_pairs` from the columns' :func:`_ritz` data ``q``."""
    proj = q.xf.T @ q.rf  # (k, l): x̂_kᵀr_l, its float product's roundoff in the allowance below
    allow = np.abs(q.xf).T @ q.allow + 2 * n * np.finfo(float).eps * np.sqrt(np.sum(q.rf * q.rf, axis=0))[None, :]
    return (0.5 * np.abs(proj + proj.T) + 0.5 * (allow + allow.T)) * (1 + 1e-6)


def soft_mode_errors(v, p: int, d, d_err, mu, u, modes, radius, rounding=None, *, columns=None, rows=None):
    """Eigenvalues, from V's parameters, of the soft ``modes`` of a dense eigh (μ̃ ``mu``,
    eigenvectors ``u``) and per-mode bounds e_k ≥ |μ_k − λ_k| for every mode. V = diag(d) + L + C:
    L the Laplacian of the bonds within the probes and within the environment (V_ij = −w_ij, the
    weights also on the diagonal), C the probe–site couplings (i < ``p`` ≤ j). In the form

        xᵀVx = Σ_i d_i x_i² + Σ_(ij) w_ij (x_i − x_j)² + 2 Σ_(ij) K_ij x_i x_j,
        (Vx)_i = d_i x_i + Σ_j w_ij (x_i − x_j) + Σ_j K_ij x_j,

    evaluated in extended precision, no term cancels against ‖V‖, so the Rayleigh quotient ρ_k
    of a soft mode keeps its digits relative to λ_k (the float V's diagonal, Ω0² + 2g rounded,
    moves a soft eigenvalue by ~ε·V_ii: its relative error 1e-4 at Ω0 = 3e-6). ``d`` (N,)
    extended precision from the parameters, ``d_err`` ≥ |d_exact − d|; ``v`` the float V (CSR),
    whose off-diagonal entries are the parameters within ``rounding`` (entrywise). Then, as in
    :func:`~harmosync.dynamics.spectrum.rayleigh_errors`: ρ_k of the exact V lies within s_k of the
    computed one, the residual
    is ≤ η_k, and :func:`enclose` (residual theorem, Kato–Temple: the float eigenvector's residual
    ~ε‖V‖ enters squared) with the other modes' ``radius`` around μ̃ (a mode whose intervals
    overlap keeps its radius, widened by |ρ_k − μ̃_k|). ``columns`` (N, len(modes)): the modes'
    vectors, instead of ``u[:, modes]`` (either reordered in place where their Rayleigh quotients
    are not ascending: an enclosure holds λ_k only in order). Returns (μ̃ with the soft modes'
    ρ_k, e, residual, their pairs' bounds (S, S) of :func:`soft_pairs` for the columns as stored) with residual for
    :func:`vector_roundoff`: rows η (N,) the residual bounds ‖Vx_k − ρ_k x_k‖, t (N,) of their
    part in the span of the other soft x (0 off ``modes``); with ``rows`` (the observed rows'
    indices in V) also :func:`hard_components`' four per-mode numbers and |y_ak| on those rows
    (the componentwise eigenvector term); last the clusters' labels and Gram defects
    (:func:`~.softgeometry.cluster_enclose`, which also gives their enclosures): (4, N) or
    (8 + len(rows), N)."""
    ld = np.longdouble
    observed = None if rows is None else np.asarray(rows, int)
    mu = np.asarray(mu, float).copy()
    modes = np.asarray(modes, int)
    e = np.asarray(radius, float).copy()
    if modes.size == 0:
        return mu, e, None, None
    n = mu.size
    parts = laplacian_parts(v, p, rounding)
    d = np.asarray(d, ld)
    de = np.asarray(d_err, float)
    x = (np.asarray(u, float)[:, modes] if columns is None else np.asarray(columns, float)).astype(ld)
    q = _ritz(x, d, de, parts, n)
    perm = np.argsort(q.rh, kind="stable")
    if np.any(perm != np.arange(perm.size)):  # the enclosures pair mode k with λ_k: keep ρ ascending
        x = x[:, perm]
        q = _ritz(x, d, de, parts, n)
        if columns is None:
            u[:, modes] = u[:, modes][:, perm]
        else:
            columns[:] = columns[:, perm]
    rh = q.rh
    fallback = e.copy()  # the given radius bounds the given μ̃: moved to ρ, it widens by |ρ − μ̃|
    fallback[modes] += np.abs(rh - mu[modes].astype(ld)).astype(float) * (1 + 1e-12)
    mu[modes] = rh.astype(float)

    def enclosures(x, q):  # (e, label, gram, η, t) for the columns x and their _ritz data q
        rho, half, eta = mu.astype(ld), e.copy(), np.zeros(n)
        rho[modes], half[modes], eta[modes] = q.rh, q.half, q.rn
        t = np.zeros(n)  # :func:`vector_roundoff`'s t_k (x unit)
        t[modes] = other_soft_part(q.xf, q.rf, q.allow, n)
        col = np.full(n, -1)
        col[modes] = np.arange(modes.size)

        def cols(idx):
            c = col[idx]
            return x[:, c], q.xf[:, c], q.rf[:, c], q.allow[:, c]

        got, label, gram = cluster_enclose(mu, rho, half, eta, cols, modes, enclose(mu, rho, half, eta, fallback))
        got = block_enclose(mu, rho, half, eta, t, cols, modes, got)
        # the given radius, moved to ρ, bounds it too: the chain path's secular roots, refined by
        # Dot2 (arrowhead_errors), can be within 1e-21 where the soft span's Ritz vectors leave a
        # residual 1e-9 (Kato–Temple 1e-16; review of session 17, a stiff hot chain's soft modes)
        return np.minimum(got, fallback), label, gram, eta, t

    e_x, label, gram, eta, t = enclosures(x, q)
    y = _hard_solve(v, x.astype(float), q.res.astype(float), rh.astype(float))
    out = [eta, t, np.zeros(n)]  # τ (pair_angles) once the enclosures are known
    if observed is not None:
        four, yr = hard_components(*parts, d, de, x, rh, q.res, q.r_err, observed, y)
        for row in list(four) + list(yr):
            full = np.zeros(n)
            full[modes] = row
            out.append(full)
    # the same columns less their part outside the soft span, y ≈ (V − ρ)⁻¹P_H r, in extended
    # precision: the double columns' residual ε·g·|x| (stiff bonds) entered the enclosures, 2.4e-17
    # against an actual 1.6e-22 on a stiff free chain (session 18); any vector gives an honest
    # enclosure from its own residual, so each mode keeps the smaller
    if y is not None:
        x2 = x - y.astype(ld)
        q2 = _ritz(x2, d, de, parts, n)
        if np.all(np.diff(q2.rh) >= 0) and np.all(np.isfinite(q2.rn)):
            e_x = np.minimum(e_x, enclosures(x2, q2)[0])
    out[2][modes] = pair_angles(mu[modes], e_x[modes], label[modes], q.xf, q.rf, q.allow, n)
    return mu, e_x, np.array(out + [label, gram]), _pair_bounds(q, n)


class _Ritz(NamedTuple):
    rh: np.ndarray  # ρ_k (extended precision)
    res: np.ndarray  # Vx_k − ρ_k x_k (extended precision)
    half: np.ndarray  # ρ_k of the exact V within this of the computed
    rn: np.ndarray  # ≥ ‖Vx_k − ρ_k x_k‖/‖x_k‖ (exact V)
    xf: np.ndarray  # x_k/‖x_k‖ in double
    rf: np.ndarray  # the residual over ‖x_k‖ in double
    r_err: np.ndarray  # ≥ |r_computed − r_exact| entrywise (x as given)
    allow: np.ndarray  # what η adds to r entry by entry, over ‖x_k‖ (roundoff, δV, ρ_k's roundoff)


def _ritz(x, d, de, parts, n: int) -> _Ritz:
    """The Rayleigh quotients, residuals and their bounds of the columns ``x`` (extended
    precision) in Laplacian form (:func:`soft_mode_errors`): in double, |terms| for the
    extended-precision roundoff (γ of the longest sum), and the parameters' rounding: s_k
    (Rayleigh quotient) and ‖|δV||x|‖ (residual)."""
    ld = np.longdouble
    (li, lj, lw, dlw), (ci, cj, ck, dck) = parts
    dx, xx = x[li] - x[lj], x[ci] * x[cj]
    n2 = np.sum(x * x, axis=0)
    rh = (np.sum(d[:, None] * x * x, axis=0) + np.sum(lw[:, None] * dx * dx, axis=0)
          + 2 * np.sum(ck[:, None] * xx, axis=0)) / n2
    res = laplacian_apply(d, parts, x) - rh * x
    eps_ld = float(np.finfo(ld).eps)
    g = 1.01 * (n + li.size + ci.size + 8) * eps_ld
    safe = 1 + 4 * (n + li.size + ci.size) * np.finfo(float).eps
    ax, adx, axx = (np.abs(t.astype(float)) for t in (x, dx, xx))
    nrm2 = n2.astype(float) / safe
    df = np.abs(d.astype(float))
    lwf, ckf = np.abs(lw.astype(float)), np.abs(ck.astype(float))
    absum = (df @ ax**2 + lwf @ adx**2 + 2 * ckf @ axx) / nrm2
    s_k = (de @ ax**2 + dlw @ adx**2 + 2 * dck @ axx) / nrm2
    rho_f = np.abs(rh.astype(float))
    row_abs, row_err = df[:, None] * ax, de[:, None] * ax
    laplacian_magnitudes(parts, row_abs, row_err, ax, adx)
    rn = (np.sqrt(np.sum(res * res, axis=0)).astype(float)
          + g * np.sqrt(np.sum((row_abs + rho_f * ax) ** 2, axis=0))
          + np.sqrt(np.sum(row_err**2, axis=0))) * safe / np.sqrt(nrm2) + g * absum
    nx = np.sqrt(nrm2)
    r_err = (g * (row_abs + rho_f * ax) + row_err) * safe
    return _Ritz(rh, res, (s_k + g * absum) * safe, rn, x.astype(float) / nx, res.astype(float) / nx, r_err,
                 (r_err + g * absum * ax) / nx)


def _hard_solve(v, xf, rf, rhof):
    """y_k ≈ (V − ρ_k)⁻¹P_H r_k for the columns ``xf`` (N, S), their residuals ``rf`` and shifts
    ``rhof``, in double (V's sparse LU, the span of xf projected out, the shift by fixed-point
    steps: contracts by ρ_k/λ_H), or None where it fails (V singular to working precision)."""
    from scipy.sparse.linalg import splu

    try:
        with np.errstate(all="ignore"):
            lu = splu(sp.csc_matrix(v))
            b = rf - xf @ (xf.T @ rf)
            y = np.zeros_like(b)
            for _ in range(4):  # y = V⁻¹(b + ρy)
                y = lu.solve(b + y * rhof)
                y -= xf @ (xf.T @ y)
    except RuntimeError:
        return None
    return y if np.all(np.isfinite(y)) else None


def hard_components(lap, cpl, d, d_err, x, rho, res, res_err, rows, y):
    """What a componentwise bound on the soft vectors' error needs (:func:`vector_roundoff`).
    With x̃_k (``x``, the columns as stored, N × S) = Σ_l c_lk u_l in V's exact eigenvectors, its
    part outside the exact soft span is z_k = P_H x̃_k = (V − ρ_k)⁻¹ P_H r_k, r_k = (V − ρ_k)x̃_k
    (``res``, extended precision, within ``res_err`` entrywise of the exact one; ``rho`` ρ_k, any
    shift). Solved as y_k (:func:`_hard_solve`: V's sparse LU in double, the soft span X̃ projected
    out, the shift by fixed-point steps), then checked from the parameters: s_k = (V − ρ_k)y_k − r_k in Laplacian
    form, extended precision (``lap``, ``cpl``: the bonds and couplings of
    :func:`laplacian_parts`; ``d``, ``d_err`` the diagonal), so that P_H y_k − z_k =
    (V − ρ_k)⁻¹P_H s_k and, splitting s_k = (s_k − X̃m) + X̃m (m = X̃ᵀs_k),

        |z_ak| ≤ |y_ak| + |(P_S y_k)_a| + (a_k + b_k·‖P_H X̃‖)/gap_H,
        a_k ≥ ‖s_k − X̃m‖ + ‖s_k − s_k,computed‖,  b_k ≥ ‖m‖,  |(P_S y)_a| ≤ ‖u_a,S‖·‖U_Sᵀy_k‖,
        ‖U_Sᵀy_k‖ ≤ q_k + ‖U_S − X̃‖·‖y_k‖,  q_k ≥ ‖X̃ᵀy_k‖.

    Returns ((a, b, q, ‖y‖) (4, S), |y_ak| (len(rows), S)); ∞ where the solve failed (``y``:
    :func:`_hard_solve`'s, None where it failed)."""
    (li, lj, _, _), (ci, _, _, _) = lap, cpl
    n, k = x.shape
    xf, rhof = x.astype(float), rho.astype(float)
    eps = np.finfo(float).eps
    if y is None:
        return np.full((4, k), np.inf), np.full((len(rows), k), np.inf)
    ld = np.longdouble
    yl = y.astype(ld)
    s = laplacian_apply(d, (lap, cpl), yl) - rho * yl - res
    # its roundoff (γ of the longest sum, as soft_mode_errors) and V's rounding, entrywise
    ay, ady = np.abs(y), np.abs(y[li] - y[lj]) * (1 + 2 * eps)
    row_abs = np.abs(d.astype(float))[:, None] * ay + np.abs(rhof) * ay
    row_err = np.asarray(d_err, float)[:, None] * ay
    laplacian_magnitudes((lap, cpl), row_abs, row_err, ay, ady)
    g = 1.01 * (n + li.size + ci.size + 8) * float(np.finfo(ld).eps)
    safe = 1 + 4 * (n + li.size + ci.size) * eps
    s_err = (g * row_abs + row_err) * safe + res_err
    sf = s.astype(float)
    m = xf.T @ sf
    rest = sf - xf @ m  # ‖s − X̃m‖ with the float products' roundoff (≤ 2n·ε of |terms|) and s's
    a = (np.linalg.norm(rest, axis=0) + np.linalg.norm(2 * n * eps * (np.abs(sf) + np.abs(xf) @ np.abs(m)), axis=0)
         + np.linalg.norm(s_err + eps * np.abs(sf), axis=0)) * (1 + 1e-9)
    bm = np.linalg.norm(m, axis=0) * (1 + 1e-9)
    ynorm = np.linalg.norm(y, axis=0) * (1 + 1e-9)
    q = (np.linalg.norm(xf.T @ y, axis=0) + 2 * n * eps * np.sqrt(k) * ynorm) * (1 + 1e-9)
    return np.array([a, bm, q, ynorm]), np.abs(y[np.asarray(rows, int)])


def refine_soft_subspace(v, p: int, d, x, k: int):
    """The ``k`` lowest eigenpairs of V (parameters as in :func:`refine_soft_vectors`) from the
    span of the orthonormal columns ``x`` (N, m), when that span holds their eigenvectors to
    working precision (:func:`arrowhead_soft_basis`): a Rayleigh–Ritz of the span in double (it
    only parts the soft Ritz vectors from the span's stiff ones, to ~ε‖V‖/gap, as a float eigh
    of V would), then :func:`refine_soft_vectors` with the span's Ritz pairs as the "other
    modes" (the soft block's Rayleigh–Ritz in Laplacian form, which resolves the soft modes, and
    one Newton step). Cauchy interlacing: the k lowest
    Ritz values lie above V's k lowest eigenvalues and the (k+1)-th above λ_{k+1}, so the k lowest
    Ritz pairs are the soft ones. Cost O(nnz(V)·m + N·m²). Returns (Ritz values (k,), vectors
    (N, k))."""
    gram = x.T @ (sp.csr_matrix(v) @ x)  # float: the eigh below parts soft from stiff to ε‖V‖/gap anyway
    theta, w = np.linalg.eigh(0.5 * (gram + gram.T))
    y = x @ w
    refine_soft_vectors(v, p, d, theta, y, np.arange(k))
    return theta[:k], y[:, :k]


def refine_arrowhead_soft(v, p: int, d, d_err, rounding, mu, radius, env_d, env_c, boundary: str, rows=None):
    """The soft modes (:func:`~harmosync.solvers.lowrank.soft_modes`) of the chain path, whose
    secular roots ``mu`` keep only ~ε·max μ absolutely, recomputed from V's parameters (``v``,
    ``p``, ``d``, ``d_err``, ``rounding`` as in :func:`soft_mode_errors`), as the dense path's: the
    Rayleigh–Ritz of V in Laplacian form (:func:`refine_soft_subspace`) on a span that holds
    their eigenvectors (:func:`arrowhead_soft_basis`, taken to the sites by the chain's fast
    transform, :func:`chain_mode_apply`; ``boundary`` "fixed" or "free"), then their bounds
    (:func:`soft_mode_errors`) with the other modes' ``radius`` (the secular roots', the soft ones
    widened by how far they moved). O(N·m + nnz·m) for a span of m ≲ 16P + (soft poles) columns.
    ``rows``: the observed rows, for the componentwise eigenvector term. Returns (μ, e, the
    residual rows of :func:`soft_mode_errors`, the soft modes' vectors (N, S), their pairs' bounds
    (S, S) of :func:`soft_pairs`)."""
    soft = soft_modes(mu)
    basis = arrowhead_soft_basis(env_d, env_c, float(mu[soft].max()) + 64 * np.finfo(float).eps * float(mu[-1]))
    x = np.vstack([basis[:p], chain_mode_apply(basis[p:], boundary)])
    y = refine_soft_subspace(v, p, d, x, soft.size)[1]
    mu, err, res, pairs = soft_mode_errors(v, p, d, d_err, mu, None, soft, radius, rounding, columns=y, rows=rows)
    return mu, err, res, y, pairs


def arrowhead_soft_basis(env_d, env_c, top: float, nodes: int = SOFT_NODES) -> np.ndarray:
    """Orthonormal columns (P + M, r) in the arrowhead's coordinates (probes, environment modes)
    whose span holds every eigenvector of A = [[V_S, C], [Cᵀ, diag(d)]] (d = ``env_d``, C =
    ``env_c``) with eigenvalue λ in [0, ``top``], to working precision, without λ itself: A's
    environment rows give x_j = (Cᵀx_P)_j/(λ − d_j), so

        x = Σ_i x_i b_i(λ) + Σ_{d_j < 4·top} x_j e_j,   b_i(λ) = e_i − Σ_{d_j ≥ 4·top} C_ij e_j/(d_j − λ).

    On [0, top] each b_i(λ) is analytic with its nearest pole 4·top, 7 half-widths from the
    centre: ``nodes`` Chebyshev samples λ_q interpolate it to ~(7 + √48)^-nodes (1e-18 at 16),
    so the span of the b_i(λ_q) and the near poles' e_j holds it. The b's are orthonormalised
    by an SVD; only exactly dependent directions are dropped (a far part ~1e-6 that varies by
    1e-10 over [0, top] is a direction 1e-16 below the largest, and dropping it left residuals
    of 1e-16, the Ritz vectors' rounding 1e-22; directions of float noise are harmless: Cauchy
    interlacing keeps their Ritz values above the soft ones)."""
    d = np.asarray(env_d, float)
    c = np.atleast_2d(np.asarray(env_c, float))
    p, m = c.shape
    near = np.flatnonzero(d < 4 * top)
    far = np.flatnonzero(d >= 4 * top)
    lam = 0.5 * top * (1 + np.cos(np.pi * (np.arange(nodes) + 0.5) / nodes))
    b = np.zeros((p + far.size, p * nodes))
    for q, lq in enumerate(lam):
        b[:p, q * p:(q + 1) * p] = np.eye(p)
        b[p:, q * p:(q + 1) * p] = -(c[:, far] / (d[far] - lq)).T
    u, s, _ = np.linalg.svd(b, full_matrices=False)
    u = u[:, s > 0]  # directions at the noise level stay: a small far part is still needed
    out = np.zeros((p + m, u.shape[1] + near.size))
    out[:p, :u.shape[1]] = u[:p]
    out[p + far, :u.shape[1]] = u[p:]
    out[p + near, u.shape[1] + np.arange(near.size)] = 1.0
    return out


def chain_mode_apply(y, boundary: str) -> np.ndarray:
    """W_E·y (M, k) for the homogeneous chain's closed-form modes (fixed: the orthonormal DST-I,
    √(2/(M+1)) sin(πjk/(M+1)); free: the orthonormal DCT-III, √(2/M) cos(πk(j − ½)/M) and 1/√M
    for k = 0), by fast transforms: O(M log M) a column, to a few ε of ‖y‖."""
    if boundary == "fixed":
        return fft.dst(np.asarray(y, float), type=1, norm="ortho", axis=0)
    return fft.dct(np.asarray(y, float), type=3, norm="ortho", axis=0)


def vector_roundoff(mu, mu_error, residual, readout, temperature: float = 0.0) -> float:
    """Bound on what the refined soft eigenvectors' errors do to the observed covariance [units
    of σ], first order as :func:`~harmosync.solvers.roundoff.eigen_roundoff` for the eigenvalues.
    ``residual`` (2, N): η_k ≥ ‖Vx̃_k − ρ_k x̃_k‖ and t_k ≥ ‖X̃_Sᵀr_k‖ (:func:`soft_mode_errors`)
    for the modes S with η_k > 0 (the lowest; the others' vectors taken as exact); with more rows
    (:func:`soft_mode_errors` given the observed ``rows``), :func:`hard_components`' numbers and
    |y_ak| on the rows of ``readout``, for the componentwise hard part below; last, the clusters'
    labels and Gram defects (:func:`~.softgeometry.cluster_enclose`: a cluster is a subspace,
    :func:`~.softgeometry.soft_geometry`, :func:`_cluster_term`). Exactly,
    x̃_k = Σ_l c_lk u_l, c_lk = u_lᵀr_k/(λ_l − ρ_k). In the stationary part Σ_k g_k x̃_k x̃_kᵀ
    (g_k = g(λ_k)) the first-order error is Σ_{k≠l} (g_k − g_l) c_lk u_l u_kᵀ (c antisymmetric),
    with (g_k − g_l)/(λ_l − ρ_k) ≤ 2G_kl = min(2g(m)/m, max(g_k, g_l)/dist(ρ_k, μ_l ± e_l)) over
    S (m = min(μ_k − e_k, μ_l − e_l), the lower enclosure, ``mu_error``; the 2 for ρ_k ≠ λ_k,
    gap_k > e_k) and ≤ g_k/gap_H over the
    others (gap_H from ρ_k to their lowest enclosure; g decreasing). Split so (Cauchy–Schwarz,
    U's rows unit), an entry (a, b) moves by ≤ Σ_k (r_k + √2 s_k)·(D_k·t'_k + η_k·g_k/gap_H),
    D_k = max_a (Σ_{l∈S∖k} 4G_kl² u_al²)^½ with |u_al| ≤ |x̃_al| + √2 s_l, and
    ‖U_Sᵀr_k‖ ≤ t'_k = t_k + η_k·sinΘ_S (the exact soft span's angle to X̃_S ≤ ‖η_S‖/gap_H, Davis–
    Kahan; after the soft block's Rayleigh–Ritz t_k is roundoff), r_k = max_b |x̃_bk| over the
    observed rows, s_k = t'_k/gap_k + η_k/gap_H ≥ sin θ_k
    (gap_k to the other modes' enclosures; ∞ unless gap_k > e_k). Beyond first order: with W the
    exact basis and c = WᵀX̃, the error is exactly Σ_k x̃_bk[Σ_{i∈S∖k} (g_k − g_i)c_ik w_ai +
    g_k z_ak] − Σ_{i∈S} g_i w_ai (P_⊥w_i)_b (P_⊥ = 1 − X̃X̃ᵀ): the soft pairs' divided differences
    hold to all orders, and P_⊥w_i = −z_i + X̃X̃ᵀz_i + P_⊥(w_i − P_S x̃_i) leaves g_i|w_ai|·(‖s_h‖
    (s_s,i + θ_i²) + max|x̃|·‖s_h‖₁ s_h,i) (|x̃_kᵀz_i| ≤ s_h,k s_h,i; ‖P_⊥W_S‖ ≤ ‖s_h‖; θ_i² ≥
    1 − c_ii). For g_p = μg: g(m)/m → g(m)/2, g → g_p. Times 3, as there:
    the stationary part, the initial state rebuilt from the split, and Δ carrying their
    difference.

    Componentwise hard part (``residual`` with 6 + n rows, n = the rows of ``readout``): the
    modes H outside S enter as h_k = Σ_{l∈H} (g_k − g_l) c_lk u_l = g_k z_k − g(V)z_k, z_k = P_H x̃_k
    (c_lk = u_lᵀx̃_k), so |h_ak| ≤ g_k·|z_ak| + g(lo_H)·‖z_k‖, with |z_ak| from
    :func:`hard_components` (≤ |y_ak| + ‖u_a,S‖(q_k + ‖U_S − X̃‖‖y_k‖) + (a_k + b_k‖P_H X̃‖)/gap_H,
    ‖u_l − x̃_l‖ ≤ √2 s_l, ‖P_H x̃_l‖ ≤ η_l/gap_H) and ≤ ‖z_k‖ ≤ η_k/gap_H; an entry (a, b) moves by
    Σ_k (|h_ak||u_bk| + |u_ak||h_bk|) (both orders of each pair (k, l)) instead of
    (r_k + √2 s_k)·η_k·g_k/gap_H. The double-stored x̃_k's hard part sits mostly on its own
    rounding, ~ε|x̃_ak| on row a, far below the normwise η_k/gap_H where the probe's weight
    |x̃_ak| on the soft mode is small (the hot soft chains: 400× tighter). For g_p the hard part
    stays normwise, g_p(μ_max)·η_k/gap_H on each row (both orders)."""
    geo = soft_geometry(mu, mu_error, residual, readout)
    if geo is None:
        return 0.0
    if not isinstance(geo, SoftGeometry):  # unresolved
        return np.inf
    out = _stationary_bound(geo, mu, temperature)
    if np.any(geo.label != geo.modes):  # clusters: their modes apart, alone, may do better (both hold)
        alone = soft_geometry(mu, mu_error, residual, readout, clusters=False)
        if isinstance(alone, SoftGeometry):
            out = min(out, _stationary_bound(alone, mu, temperature))
    return 3.0 * out * (1 + 1e-9)


def _stationary_bound(geo: SoftGeometry, mu, temperature: float) -> float:
    """:func:`vector_roundoff`'s bound on the stationary part, for the soft modes as ``geo``
    (:func:`~.softgeometry.soft_geometry`) groups them."""
    k, lo, hi, e, mu = geo.modes, geo.lo, geo.hi, geo.e, np.asarray(mu, float)
    t, s_s, s_h, s, rows, w2 = geo.t, geo.s_s, geo.s_h, geo.s, geo.rows, geo.w2
    r = rows.max(axis=0)
    # each mode's cluster as an interval of enclosures (itself alone), and g, g_p at its ends
    _, start, which = np.unique(geo.label, return_index=True, return_inverse=True)
    c_lo, c_hi = np.minimum.reduceat(lo[k], start)[which], np.maximum.reduceat(hi[k], start)[which]
    c_size = np.bincount(which)[which]
    g_k, g_hi = variance_function(c_lo, temperature), variance_function(c_hi, temperature)
    gp_lo, gp_k = c_lo * g_k, c_hi * g_hi  # g_p = μg increases
    gp_max = float(hi[-1] * variance_function(hi[-1], temperature))
    alone = c_size == 1
    with np.errstate(divide="ignore"):  # 1/distance from ρ_k to mode l's cluster's enclosures (∞: they meet)
        dist = np.where(alone[None, :], np.abs(mu[k][:, None] - mu[k][None, :]) - e[k][None, :],
                        np.maximum(c_lo[None, :] - mu[k][:, None], mu[k][:, None] - c_hi[None, :]))
        inv = 1.0 / np.maximum(dist, 0.0)
    # 2G holds for a pair of clusters apart by twice the wider one (ρ_k within it of λ_k)
    apart = np.maximum(c_lo[None, :] - c_hi[:, None], c_lo[:, None] - c_hi[None, :])
    resolved = np.logical_and.outer(alone, alone) | (apart >= 2 * np.maximum.outer(c_hi - c_lo, c_hi - c_lo))
    hard = None
    if geo.extra is not None:  # h_ak ≥ |Σ_{l∈H} (g_k − g_l) c_lk u_al| on each observed row (x block)
        z = hard_rows(geo)
        g_h = float(variance_function(geo.lo_h, temperature)) if np.isfinite(geo.lo_h) else 0.0
        hard = (g_k * z + g_h * s_h, np.broadcast_to(gp_max * s_h, rows.shape))
    same = geo.label[:, None] == geo.label[None, :]
    out = 0.0
    spreads = np.where(alone, 0.0, g_k - g_hi), np.where(alone, 0.0, gp_k - gp_lo)  # of g over a cluster
    blocks = ((2 * g_k / c_lo, g_k, g_k, spreads[0]), (g_k, np.full(k.size, gp_max), gp_k, spreads[1]))
    for i, (big, top, size, spread) in enumerate(blocks):
        # the pair's divided difference: ≤ 2G at the lower of the two, and ≤ max(g)/distance; to
        # a cluster's Ū, + its spread of g over the distance (g_k − g_l = (g_k − g_i) + (g_i − g_l),
        # u_i exact); within a cluster the subspace's term (_cluster_term) instead
        arm = np.where(resolved, np.maximum.outer(big, big), np.inf)
        with np.errstate(invalid="ignore"):
            dd = np.minimum(arm, np.maximum.outer(size, size) * inv) + (spread * np.sqrt(c_size))[None, :] * inv
        dd = np.where(same, 0.0, dd) ** 2
        # dd[k, l]: ρ_k (row) against l's enclosure (column); the sum runs over the partners l
        # of each residual's mode k (|λ_l − ρ_k| ≥ |μ_l − ρ_k| − e_l): w2 @ ddᵀ (w2 @ dd had
        # charged each pair the residual's own e_k instead of e_l, until session 11)
        first = (r + np.sqrt(2.0) * s) * np.sqrt(np.max(w2 @ dd.T, axis=0)) * t
        if geo.tau is not None:  # or each pair over its own gap: Σ_l |g_k − g_l||c_lk||u_al| ≤
            # (Σ_l max(g_k, g_l)² u_al²)^½·τ_k (|c_lk| = |u_lᵀr_k|/|λ_l − ρ_k|; g or g_p monotone)
            top2 = np.where(same, 0.0, np.maximum.outer(size, size)) ** 2
            first = np.minimum(first, (r + np.sqrt(2.0) * s) * np.sqrt(np.max(w2 @ top2, axis=0)) * geo.tau)
        if hard is None:
            first = first + (r + np.sqrt(2.0) * s) * top * s_h
        else:  # max over entries (a, b) of |h_ak||u_bk| + |u_ak||h_bk|
            h, u_abs = hard[i], np.sqrt(w2)
            pairs = h[:, None, :] * u_abs[None, :, :] + u_abs[:, None, :] * h[None, :, :]
            first = first + np.max(pairs, axis=(0, 1))
        # what is left of P_⊥w_i (P_⊥ = 1 − X̃X̃ᵀ) beyond −z_i: second order in the hard angles
        second = size * np.sqrt(w2.max(axis=0)) * (np.linalg.norm(s_h) * (s_s + np.maximum(geo.angle**2, geo.defect))
                                                   + r.max() * np.sum(s_h) * s_h)
        out = max(out, float(np.sum(first + second)) + _cluster_term(geo, spread))
    return out


def _cluster_term(geo: SoftGeometry, spread) -> float:
    """What :func:`vector_roundoff` adds for its clusters C of more than one mode: the exact
    Σ_C g_k u_k u_kᵀ is Σ_C g_k ū_k ū_kᵀ (:func:`soft_geometry`'s Ū) up to δg_C·‖u_a,C‖‖u_b,C‖
    (both bases of P_C: Σ (g_k − ḡ)(u_k u_kᵀ − ū_k ū_kᵀ); δg_C ``spread``, of g over the
    cluster's enclosures), and the pairs within C, Σ_{k,i∈C} x̃_bk (g_k − g_i)(H − I)_ik ū_ai, by
    ≤ δg_C·‖H − I‖·‖x̃_b,C‖‖u_a,C‖."""
    total = 0.0
    for c in np.unique(geo.label):
        members = geo.label == c
        if members.sum() < 2:
            continue
        i, d = np.flatnonzero(members)[0], float(geo.defect[members][0])
        total += spread[i] * (1 + d) * float(np.max(geo.w2[:, members].sum(axis=1)))
    return total


def variance_slopes(x, temperature: float):
    """Upper bounds on |g′(x)| and g_p′(x) (g = ``variance_function``, g_p = x·g) for x > 0
    [1/frequency³, 1/frequency]: g = ∫dm(s)/(x + s) is a Stieltjes function (½x^-½ at T = 0;
    T Σ_n 1/(x + (2πnT)²), Matsubara) and g_p = const − ∫s·dm(s)/(x + s), so both slopes fall
    with x. |g′| = g/2x at T = 0 and ≤ g/x (d ln g/dx ≥ −1/x); g_p′ ≤ g/2 (d ln g/dx ≤ −1/2x)
    and, at T > 0, ≤ g_p′(0) = Σ_{n≥1} 2T/(2πnT)² = 1/12T (the n = 0 pole carries s = 0)."""
    g = variance_function(x, temperature)
    if temperature <= 0:
        return g / (2 * x), g / 2
    return g / x, np.minimum(g / 2, 1 / (12 * temperature))


def environment_roundoff(mu, mu_error, a, env_d, env_c, env_error, readout, temperature: float = 0.0) -> float:
    """Bound on what V_E's eigenvalues' errors (``env_error`` e_j ≥ |d̃_j − d_j|, from a dense eigh
    of V_E with its soft modes refined: graphs, chains with defects) do to every observed
    covariance entry through Δ [units of σ], to first order. An error δ in d_j moves H_ζ by
    −δ c_j c_jᵀ/(d_j + ζ)² (c_j = ``env_c``[:, j]) and the bracket's X(ζ) by D Aᵀ δH A D, and
    (Aᵀc_j)_k = (μ_k − d_j)·c̃_jk with c̃_j = Uᵀ(0 ⊕ w_j) a unit vector (|c̃_jk| ≤ 1, and ≤
    |(Aᵀc_j)_k|/|μ_k − d_j|). Summed over the poles of g = ∫dm(s)/(x + s)
    (:func:`variance_slopes`) the (k, l) entry is δ·c̃_jk c̃_jl·∫dm φ_k φ_l with
    φ_k(s) = 1/(d_j + s) − 1/(μ_k + s): a Gram matrix, so (Cauchy–Schwarz, then Minkowski) a
    readout |u| ≤ ρ meets it at most as δ·(Σ_k ρ_k |c̃_jk| ‖φ_k‖)², with, for a = min(μ_k, d_j),
    b = max, ‖φ_k‖² = ∫dm (b − a)²/((a + s)²(b + s)²) ≤ |g′(a)|·((b − a)/b)² (s ≥ 0), |g′|
    falling: taken at the lower enclosure of a, (b − a) widened by both errors. The p bracket
    (g_p = const − ∫s·dm/(x + s)) the same with g_p′. Read out with ρ_x, ρ_p as
    :mod:`.lowrank`'s readout bound. Before (a divided difference bounded by g/x at the lower
    point, each term apart): a stiff V_E mode's e_j ~ 1e-14 times g(μ_0)/μ_0 ~ 1e15 of a soft
    mode of V, where the actual divided difference is ~g(μ_0)/d_j and cancels against the
    others (2.0e-6 against an error of 8.7e-10 on a near-critical graph; now 9.9e-9, twice the
    first-order effect of the measured e_j: tests/test_bound_environment.py)."""
    mu, e = np.asarray(mu, float), np.broadcast_to(np.asarray(mu_error, float), np.shape(mu))
    env_d, env_e = np.asarray(env_d, float), np.asarray(env_error, float)
    if np.size(readout) == 0 or not np.any(env_e > 0):
        return 0.0
    if np.any(e >= mu) or np.any(env_e >= env_d):
        return np.inf
    w = np.sqrt(mu)
    r = np.abs(np.atleast_2d(np.asarray(readout, float))).max(axis=0)
    rho = (r * np.maximum(1.0, w), r * np.maximum(1.0, 1.0 / w))
    lo, lo_d = mu - e, env_d - env_e
    total = 0.0
    for start in range(0, env_d.size, 128):
        sl = slice(start, start + 128)
        num = np.abs(np.asarray(env_c, float)[:, sl].T @ np.asarray(a, float))  # (j, k)
        wide = np.abs(mu[None, :] - env_d[sl, None]) + e[None, :] + env_e[sl, None]  # ≥ b − a
        gap = wide - 2 * (e[None, :] + env_e[sl, None])  # ≤ b − a
        with np.errstate(divide="ignore", invalid="ignore"):
            ct = np.where(gap > 0, np.minimum(num / gap, 1.0), 1.0)
        low = np.minimum(lo[None, :], lo_d[sl, None])
        ratio = np.minimum(wide / np.maximum(lo[None, :], lo_d[sl, None]), 1.0)
        for rh, slope in zip(rho, variance_slopes(low, temperature)):
            total += float(env_e[sl] @ ((ct * ratio * np.sqrt(slope)) @ rh) ** 2)
    return total * (1 + 1e-9)
