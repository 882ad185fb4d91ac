"""Clusters of (nearly) degenerate soft modes: their eigenvalues from the cluster's residual and
their eigenvectors as a subspace. Where the residual theorem's intervals of two refined soft
modes overlap (a ring's pairs ±k, exactly degenerate), no gap tells the modes apart: neither
eigenvalue has an enclosure of its own and neither vector an angle to its exact eigenvector.
The cluster's span has one, to the modes outside it (docs/conventions.md, "Degenerate soft
clusters"); :func:`~.softmodes.soft_mode_errors` and :func:`~.softmodes.vector_roundoff` use
these, and :func:`soft_geometry` the soft modes' geometry as the eigenvector term sees it."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


def components(lo, hi, least: int = 1) -> list[np.ndarray]:
    """The groups of overlapping closed intervals [lo_k, hi_k] (connected components) of at least
    ``least`` intervals, each as indices ascending, the groups in order of their left ends."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    order = np.argsort(lo, kind="stable")
    reach = np.maximum.accumulate(hi[order])
    cuts = np.flatnonzero(reach[:-1] < lo[order][1:]) + 1
    return [np.sort(g) for g in np.split(order, cuts) if g.size >= least]


def other_soft_part(xf, rf, allow, n: int) -> np.ndarray:
    """t_k ≥ ‖X̃_{S∖k}ᵀ r_k‖ (:func:`~.softmodes.vector_roundoff`): each soft residual's part in
    the span of the other soft vectors, from the unit columns ``xf`` (N, S) and their residuals
    ``rf`` in double (float products: + n·ε‖r‖) and ``allow`` ≥ |r_exact − r|, entrywise (N, S)."""
    proj, part = xf.T @ rf, np.abs(xf).T @ allow
    np.fill_diagonal(proj, 0.0)
    np.fill_diagonal(part, 0.0)
    return ((np.sqrt(np.sum(proj**2, axis=0)) + np.sqrt(np.sum(part**2, axis=0))) * (1 + 1e-6)
            + 2 * n * np.finfo(float).eps * np.sqrt(np.sum(rf * rf, axis=0)))


def pair_angles(mu, e, label, xf, rf, allow, n: int) -> np.ndarray:
    """τ_k ≥ ‖(|x̂_lᵀr_k|/dist_kl)_l‖ over the soft modes l outside k's cluster (columns as
    :func:`other_soft_part`'s; ``mu``, ``e``, ``label`` the modes' refined values, enclosures
    and clusters), dist_kl = |μ_k − μ_l| − e_l − 2ε|μ_k| ≤ |λ_l − ρ_k|: each pair's projection
    over its own gap, where :func:`other_soft_part`'s norm t_k meets only the nearest one (a
    residual along a far soft mode then counts as if along the nearest: 2e4× the error on a
    hot stiff chain). ∞ where some dist_kl ≤ 0."""
    pair = (np.abs(xf.T @ rf) + np.abs(xf).T @ allow) * (1 + 1e-6)
    pair += 2 * n * np.finfo(float).eps * np.sqrt(np.sum(rf * rf, axis=0))[None, :]  # (l, k)
    other = np.asarray(label)[:, None] != np.asarray(label)[None, :]
    dist = pair_distance(mu, e)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(other, pair / np.where(dist > 0, dist, np.nan), 0.0)
    tau = np.sqrt(np.sum(ratio**2, axis=0)) * (1 + 1e-9)
    return np.where(np.isnan(tau), np.inf, tau)


def pair_distance(mu, e) -> np.ndarray:
    """(l, k): |μ_k − μ_l| − e_l − 2ε|μ_k| ≤ |λ_l − ρ_k| for the modes' values ``mu`` (ρ_k rounded)
    and enclosures ``e``."""
    mu, e = np.asarray(mu, float), np.asarray(e, float)
    return np.abs(mu[None, :] - mu[:, None]) - e[:, None] - 2 * np.finfo(float).eps * np.abs(mu)[None, :]


def unit_gram_defect(x) -> float:
    """‖X̂ᵀX̂ − I‖_F for the unit columns X̂ = x/‖x‖ (``x`` (N, m) extended precision), with the
    extended-precision products' rounding (γ of N + 2 terms, entrywise) added (one number for a
    group; :func:`~harmosync.dynamics.spectrum.gram_defect` bounds a whole eigh's entry by entry)."""
    ld = np.longdouble
    xn = np.asarray(x, ld) / np.sqrt(np.sum(np.asarray(x, ld) ** 2, axis=0))
    f = (xn.T @ xn - np.eye(xn.shape[1], dtype=ld)).astype(float)
    ax = np.abs(xn.astype(float))
    slack = 1.01 * (xn.shape[0] + 8) * float(np.finfo(ld).eps) * (ax.T @ ax)
    return float(np.linalg.norm(np.abs(f) + slack)) * (1 + 1e-9)


def _subspace_radius(rho, eta, f: float) -> tuple[float, float]:
    """(w, r) of :func:`cluster_enclose`'s group with Rayleigh quotients ``rho`` (double),
    residual bounds ``eta`` and Gram defect f: w the spread of ρ (and its rounding), r ≥
    ‖VQ − Q·diag(ρ)‖ for Q = X̂G^-½, ‖η‖/√(1 − f) + w·f/(1 − f)."""
    spread = float(np.ptp(rho)) + 4 * np.finfo(float).eps * float(np.max(np.abs(rho)))
    return spread, float(np.linalg.norm(eta)) / np.sqrt(1 - f) + spread * f / (1 - f)


def cluster_enclose(mu, rho, half, eta, columns, modes, e):
    """Enclosures of the soft ``modes`` that the residual theorem's intervals J_k = ρ_k ± (half_k +
    η_k) cannot separate, or separate poorly (closer than 1e3 times their widths: Kato–Temple's
    η²/δ is then ~η), ``e`` (N,) the per-mode ones (:func:`~.roundoff.enclose`; the fallback where
    they overlap). For such a group K (all in ``modes``, their indices contiguous), ``columns``(K)
    = (x (N, |K|), extended precision or double; and for :func:`other_soft_part` the unit columns,
    their residuals at ρ and the residuals' entrywise allowance), X̂ = x/‖x‖, f = ‖X̂ᵀX̂ − I‖_F < ½
    and R = VX̂ − X̂·diag(ρ) (‖r_k‖ ≤ η_k):

    - Q = X̂G^-½ is orthonormal, and ‖VQ − Q·diag(ρ)‖ ≤ r_K = ‖η_K‖/√(1 − f) + w·f/(1 − f) (w the
      spread of ρ_K; the commutator [diag(ρ), G^-½]); so (Kahan's residual theorem for a
      subspace, Parlett, The Symmetric Eigenvalue Problem, Thm 11.5.1) |K| eigenvalues lie within
      r_K of the ρ_K, one to one. They are λ_K where the other modes' enclosures μ_j ± e_j (``e``:
      each λ_j in its own, index by index, Weyl's where nothing better) stay apart from them; or
      the other groups' hulls ρ_K' ± r_K', for the groups taken together: the hulls apart from one
      another and from the rest's enclosures, in the order of the indices, hold all of their
      groups' eigenvalues (the rest's are outside), so each exactly its own.
    - Quadratically: the Ritz matrix QᵀVQ is within c_K = ‖(t_k, half_k)_K‖/(1 − f) + w·f/(1 − f)
      of diag(ρ) (‖X̂_Kᵀr_k‖ ≤ (t_k² + half_k²)^½, t_k ≥ ‖X̂_{K∖k}ᵀr_k‖ by :func:`other_soft_part`
      of the cluster's columns, and the Rayleigh quotient's half_k), its orthogonal residual ≤ r_K,
      and (Li & Li 2005; Mathias
      1998) its eigenvalues are within r_K²/gap of K's, gap = the distance of the Ritz values from
      the other modes' enclosures less r_K (the complement's eigenvalues move by ≤ r_K).

    One to one within a radius, the sorted orders match within it too: with ρ_K ascending,
    e_k = min(r_K, c_K + r_K²/gap) + |μ_k − ρ_k|; else w more (λ_k within the hull of ρ_K). Each
    mode keeps the smaller of this and the given e_k. Returns (e, label, gram): ``label`` (N,) the
    lowest index of each mode's cluster K (its own index for the others), ``gram`` (N,) the
    cluster's f (0 off clusters)."""
    mu, e = np.asarray(mu, float), np.asarray(e, float).copy()
    rho = np.asarray(rho, np.longdouble)
    rho_f = rho.astype(float)
    half, eta = (np.asarray(v, float) for v in (half, eta))
    n = mu.size
    label, gram = np.arange(n), np.zeros(n)
    modes = np.asarray(modes, int)
    width = half * (1 + 1e-12) + 2 * np.finfo(float).eps * np.abs(rho_f) + eta * (1 + 1e-12)
    reach = 1e3 * width[modes]
    groups = {}  # first index: (members, f, r, c, spread)
    for g in components(rho_f[modes] - reach, rho_f[modes] + reach, least=2):  # (a lone mode keeps its e)
        g = modes[g]
        if g[-1] - g[0] != g.size - 1:
            continue
        x, xf, rf, allow = columns(g)
        f = unit_gram_defect(x)
        if not f < 0.5:
            continue
        spread, r = _subspace_radius(rho_f[g], eta[g], f)
        inner = other_soft_part(xf, rf, allow, xf.shape[0])
        c = float(np.hypot(np.linalg.norm(inner), np.linalg.norm(half[g]))) / (1 - f) + spread * f / (1 - f)
        groups[int(g[0])] = (g, f, r, c, spread)
    # the groups taken together: each hull ρ_K ± r_K holds |K| eigenvalues; those apart from one
    # another and from every other mode's enclosure hold exactly their own (counting)
    lo_all, hi_all = mu - e, mu + e
    while True:
        lo_r, hi_r = lo_all.copy(), hi_all.copy()
        for g, f, r, c, spread in groups.values():
            lo_r[g], hi_r[g] = float(np.min(rho_f[g])) - r, float(np.max(rho_f[g])) + r
        keep = {}
        for key, (g, f, r, c, spread) in groups.items():
            left = float(np.max(hi_r[:g[0]], initial=-np.inf))
            right = float(np.min(lo_r[g[-1] + 1:], initial=np.inf))
            if left < lo_r[g[0]] and hi_r[g[0]] < right:  # apart, and in the order of the indices
                keep[key] = (g, f, r, c, spread, left, right)
        if len(keep) == len(groups):
            break
        groups = {key: v[:5] for key, v in keep.items()}
    for g, f, r, c, spread, left, right in keep.values():
        lo, hi = float(np.min(rho_f[g])), float(np.max(rho_f[g]))
        gap = min(lo - c - left, right - hi - c) - r
        radius = min(r, c + r * r / gap) if gap > 0 else r
        unsorted = spread if np.any(np.diff(rho[g]) < 0) else 0.0
        moved = np.abs(mu[g].astype(np.longdouble) - rho[g]).astype(float)
        e[g] = np.minimum(e[g], (unsorted + radius + moved) * (1 + 1e-9))
        label[g], gram[g] = g[0], f
    return e, label, gram


#: soft blocks up to this size get a block enclosure (block_enclose: a Gram matrix in long double)
BLOCK_MAX = 64


def block_enclose(mu, rho, half, eta, t, columns, modes, e):
    """Enclosures of the soft ``modes`` S as one block against the stiff rest, where their
    residuals η_k lie mostly outside the soft span (stiff bonds: ε·‖V‖ on soft vectors) and the
    per-mode Kato–Temple η²/δ over the soft neighbours' distance δ is poor. With X̂, f, Q as
    :func:`cluster_enclose`'s for K = S (contiguous, at most ``BLOCK_MAX``): the Ritz matrix
    H = QᵀVQ has H_kk within d_k = half_k/(1 − f) + w·f/(1 − f) of ρ_k and its column k off the
    diagonal ≤ o_k = t_k/(1 − f) + w·f/(1 − f) (w the spread of ρ_S; G^-½ mixing the columns adds
    ‖(t, half)‖f/(1 − f) to both), so (the residual theorem and Kato–Temple at H_kk, e_k its unit
    vectors) with the θ-intervals ρ_k ± (d_k + o_k) all apart each holds one Ritz value θ_k,
    within d_k + min(o_k, o_k²/δ_k) of ρ_k (δ_k from H_kk to the other intervals); and (Li & Li)
    the sorted θ are within r_S²/gap of the sorted λ_S, r_S = ‖η_S‖/√(1 − f) + w·f/(1 − f), gap
    from the θ's hull to the stiff modes' enclosures less r_S. With ρ_S ascending, e_k = that +
    r_S²/gap + |μ_k − ρ_k| where smaller than the given ``e`` (N,); ``t`` (N,) ≥ ‖X̂_{S∖k}ᵀr_k‖
    (:func:`other_soft_part`). Returns e."""
    e = np.asarray(e, float).copy()
    modes = np.asarray(modes, int)
    if modes.size < 2 or modes.size > BLOCK_MAX or modes[-1] - modes[0] != modes.size - 1:
        return e
    rho = np.asarray(rho, np.longdouble)[modes]
    if np.any(np.diff(rho) < 0):
        return e
    rho_f = rho.astype(float)
    f = unit_gram_defect(columns(modes)[0])
    if not f < 0.5:
        return e
    spread, r = _subspace_radius(rho_f, np.asarray(eta, float)[modes], f)
    shift = spread * f / (1 - f)
    off, diag = np.asarray(t, float)[modes], np.asarray(half, float)[modes]  # ≥ ‖X̂ᵀr_k‖'s parts
    mix = float(np.linalg.norm(np.hypot(off, diag))) * f / (1 - f)  # G^-½ mixes the columns
    off, diag = (off + mix) / (1 - f) + shift, (diag + mix) / (1 - f) + shift  # H's column k
    c = off + diag
    right = float(np.min(mu[modes[-1] + 1:] - e[modes[-1] + 1:], initial=np.inf))
    left = float(np.max(mu[:modes[0]] + e[:modes[0]], initial=-np.inf))
    gap = min(float(rho_f[0] - c[0]) - left, right - float(rho_f[-1] + c[-1])) - r
    if not gap > 0:
        return e
    below = np.concatenate([[-np.inf], (rho_f + c)[:-1]])
    above = np.concatenate([(rho_f - c)[1:], [np.inf]])
    if not np.all((below < rho_f - c) & (rho_f + c < above)):  # one θ each: all apart
        return e
    delta = np.minimum(rho_f - below, above - rho_f) - diag  # from H_kk to the others' intervals
    with np.errstate(divide="ignore"):  # Kato–Temple at H_kk (within diag_k of ρ_k)
        theta = diag + np.where(delta > 0, np.minimum(off, off * off / delta), off)
    moved = np.abs(np.asarray(mu, np.longdouble)[modes] - rho).astype(float)
    new = (theta + r * r / gap + moved) * (1 + 1e-9)
    e[modes] = np.minimum(e[modes], new)
    return e


class SoftGeometry(NamedTuple):
    """The soft modes S (``modes``, those with η_k > 0) as :func:`~.softmodes.vector_roundoff`
    sees them."""

    modes: np.ndarray  # S
    lo: np.ndarray  # (N,) μ − e, the lower enclosures
    hi: np.ndarray  # (N,) μ + e
    e: np.ndarray  # (N,) e
    lo_h: float  # the lowest enclosure outside S
    gap_h: np.ndarray  # (S,) lo_h − μ_k
    t: np.ndarray  # (S,) t'_k ≥ ‖U_Sᵀr_k‖
    s_s: np.ndarray  # (S,) t'_k/gap_k (gap_k to the enclosures outside k's cluster)
    s_h: np.ndarray  # (S,) η_k/gap_H ≥ ‖P_H x̃_k‖
    s: np.ndarray  # (S,) ≥ ‖u_k − x̃_k‖/√2 (u_k: the exact basis of vector_roundoff)
    rows: np.ndarray  # (n, S) |x̃_ak| on the observed rows
    w2: np.ndarray  # (n, S) (|x̃_ak| + √2 s_k)² ≥ u_ak²
    extra: np.ndarray | None  # (4 + n, S) hard_components' numbers and |y_ak| (None: normwise only)
    angle: np.ndarray  # (S,) s_s + s_h ≥ the sine of x̃_k's angle to its cluster's exact span
    label: np.ndarray  # (S,) each mode's cluster (its lowest index; its own index alone)
    defect: np.ndarray  # (S,) ≥ ‖ŪᵀX̃_C − I‖ of its cluster (0 alone)
    tau: np.ndarray | None  # (S,) ≥ ‖(|u_lᵀr_k|/dist_kl)_{l∈S∖k}‖ (None: clusters, or not given)


def soft_geometry(mu, mu_error, residual, readout, *, clusters: bool = True):
    """:class:`SoftGeometry` of the soft modes (``residual`` as
    :func:`~.softmodes.vector_roundoff`'s, the enclosures μ ± ``mu_error``); None without soft
    modes or observed rows, ∞ when an enclosure reaches 0 or a soft mode's gap (to the
    enclosures outside its cluster) is not resolved. A cluster C (:func:`cluster_enclose`;
    without the residual's last two rows every mode alone) is taken as a subspace: with σ_C =
    ‖(s_s + s_h)_C‖ ≥ ‖(I − P_C)X̃_C‖_F (P_C the exact span of its λ's) and f_C = ‖X̃_CᵀX̃_C − I‖_F,
    H² = X̃ᵀP_CX̃ = I + δ, ‖δ‖ ≤ f_C + σ_C² < ½, Ū = P_CX̃H⁻¹ is an orthonormal basis of P_C with
    ‖Ū − X̃_C‖_F ≤ σ_C/√(1 − f − σ²) + √(1 + f)·(f + σ²) (|(1 + δ)^-½ − 1| ≤ |δ|) and ŪᵀX̃_C − I =
    H − I, ‖H − I‖ ≤ f + σ². ``clusters`` False: a cluster's modes whose enclosures are apart
    each alone."""
    mu = np.asarray(mu, float)
    residual = np.asarray(residual, float)
    if np.size(readout) == 0:
        return None
    readout = np.atleast_2d(np.asarray(readout, float))
    n_obs = readout.shape[0]
    # rows: η, t[, τ][, hard_components' 4 + n][, labels, Gram defects] (softmodes.soft_mode_errors)
    tail = residual.shape[0] in (4, 5, 8 + n_obs, 9 + n_obs)
    label = residual[-2].astype(int) if tail else np.arange(mu.size)
    gram = residual[-1] if tail else np.zeros(mu.size)
    body = residual[:-2] if tail else residual
    pairs = body.shape[0] in (3, 7 + n_obs)
    eta, t = body[:2]
    tau_all = body[2] if pairs else None
    body = np.concatenate([body[:2], body[3:]]) if pairs else body
    k = np.flatnonzero(eta > 0)
    if k.size == 0:
        return None
    e = np.broadcast_to(np.asarray(mu_error, float), mu.shape)
    lo, hi = mu - e, mu + e
    if lo.min() <= 0:
        return np.inf
    if not clusters:  # a cluster only where the enclosures still overlap
        label = label.copy()
        for c in np.unique(label):
            idx = np.flatnonzero(label == c)
            for sub in components(lo[idx], hi[idx]):
                label[idx[sub]] = idx[sub].min()
    n = mu.size
    # clusters: runs of one label (modes may have been dropped since: positions, not labels)
    start = np.concatenate([[True], label[1:] != label[:-1]])
    run = np.cumsum(start) - 1
    first_all = np.flatnonzero(start)[run]
    size_all = np.bincount(run)[run]
    if np.unique(label).size != run[-1] + 1 or np.any((size_all > 1) & (eta <= 0)):
        return np.inf  # a cluster apart, or with a member outside S
    first, size = first_all[k], size_all[k]
    last = first + size - 1
    # the nearest enclosure outside k's cluster: below (running max of hi), above (running min of lo)
    below = np.concatenate([[-np.inf], np.maximum.accumulate(hi)])[first]
    above = np.concatenate([np.minimum.accumulate(lo[::-1])[::-1], [np.inf]])[last + 1]
    gap = np.minimum(mu[k] - below, above - mu[k])
    rest = np.ones(n, bool)
    rest[k] = False
    lo_h = float(lo[rest].min()) if rest.any() else np.inf
    gap_h = lo_h - mu[k]
    if np.any(gap <= np.where(size > 1, 0.0, e[k])) or np.any(gap_h <= 0):
        return np.inf
    eta, t = eta[k], t[k] + eta[k] * min(1.0, float(np.linalg.norm(eta[k])) / float(gap_h.min()))
    s_s, s_h = t / gap, eta / gap_h
    angle = s_s + s_h
    s, defect = angle.copy(), np.zeros(k.size)
    for c in np.unique(first[size > 1]):
        members = first == c
        f, sig2 = float(gram[k][members][0]), float(np.sum(angle[members] ** 2))
        if not f + sig2 < 0.5:
            return np.inf
        close = np.sqrt(sig2 / (1 - f - sig2)) + np.sqrt(1 + f) * (f + sig2)
        s[members], defect[members] = close / np.sqrt(2.0) * (1 + 1e-9), (f + sig2) * (1 + 1e-9)
    tau = None
    if tau_all is not None and np.all(size == 1):  # each pair over its own gap (pair_angles)
        # |u_lᵀr_k| ≤ |x̃_lᵀr_k| + ‖u_l − x̃_l‖η_k, ‖u_l − x̃_l‖ ≤ √2 s_l
        dist = pair_distance(mu[k], e[k])
        np.fill_diagonal(dist, np.inf)
        inv = 1.0 / np.where(dist > 0, dist, np.nan)
        for _ in range(3):  # each pass from valid s_l: a valid, smaller τ_k and s_k
            with np.errstate(invalid="ignore"):
                tau = tau_all[k] + np.sqrt(2.0) * eta * np.sqrt(np.sum((s[:, None] * inv) ** 2, axis=0))
            tau = np.where(np.isnan(tau), np.inf, tau) * (1 + 1e-9)
            s_s = np.minimum(s_s, tau)  # sin²θ_k = Σ_{l≠k} c_lk², c_lk = u_lᵀr_k/(λ_l − ρ_k)
            angle = s_s + s_h
            s = angle.copy()
    rows = np.abs(readout[:, k])
    w2 = (rows + np.sqrt(2.0) * s) ** 2  # |u_al|² ≤ (|x̃_al| + √2 s_l)²
    extra = body[2:][:, k] if body.shape[0] == 6 + n_obs else None
    return SoftGeometry(k, lo, hi, e, lo_h, gap_h, t, s_s, s_h, s, rows, w2, extra, angle, first, defect, tau)


def hard_rows(geo: SoftGeometry) -> np.ndarray:
    """|z_ak| ≥ |(P_H x̃_k)_a| (n, S) on the observed rows (:func:`~.softmodes.hard_components`,
    :func:`~.softmodes.vector_roundoff`), from ``geo`` (:func:`soft_geometry`, with ``extra``)."""
    a, b, q, ynorm = geo.extra[:4]
    sin_h = float(np.linalg.norm(geo.s_h))  # ‖P_H X̃‖ ≤ ‖P_H X̃‖_F ≤ ‖η/gap_H‖
    across = float(np.sqrt(2.0) * np.linalg.norm(geo.s))  # ‖U_S − X̃‖ ≤ ‖·‖_F
    u_s = np.sqrt(geo.w2.sum(axis=1))  # ‖u_a,S‖
    z = geo.extra[4:] + u_s[:, None] * (q + across * ynorm)[None, :] + ((a + b * sin_h) / geo.gap_h)[None, :]
    return np.minimum(np.nan_to_num(z, nan=np.inf), geo.s_h[None, :])
