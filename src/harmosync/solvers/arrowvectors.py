"""The chain path's eigenvector term: bounds b ≥ |B|, g ≥ |G| for the structured (arrowhead)
solver's modes, in the form :func:`~harmosync.dynamics.spectrum.eigenvector_roundoff` takes
from a dense eigh.

In the basis (probes, chain modes) V is the arrowhead A = [[V_S, C], [Cᵀ, diag(d)]]. The
solver gives each mode's μ̃_k and its probe row a_k; its other rows are formed through the
merges. The term is built on the vectors x_k = (a_k, ŷ_k), ŷ_kj = (Cᵀa_k)_j/(μ̃_k − d_j) in
double (:func:`~.roundoff.arrow_refine`'s vector, whose probe rows are the solution's own).
Their residuals s_k = (A − μ̃_k)x_k are formed by Dot2 (:func:`~.roundoff.arrow_vectors`): a
P-vector on the probes (ρ_k ≥ |s_P|) and a small environment part (η_k ≥ ‖s_E‖). For any
symmetric A, (μ̃_l − μ̃_k) x_kᵀx_l = s_kᵀx_l − x_kᵀs_l, so with X = [x_k], G = XᵀX − I and
B = Xᵀ(A + δA)X − Λ̃ − (GΛ̃ + Λ̃G)/2 (first order, as for the dense eigh):

    B_kl = (x_kᵀs_l + x_lᵀs_k)/2 + x_kᵀδA x_l + G_kl(δ_k + δ_l)/2   (s at μ̃ + δ, below),
    |x_kᵀs_l| ≤ |a_k|ᵀρ_l + ‖ŷ_k‖η_l,
    |G_kl| ≤ min(‖x_k‖‖x_l‖, (|x_kᵀs_l| + |x_lᵀs_k|)/|μ̃_k − μ̃_l|)   (k ≠ l),

and |x_k|ᵀ|δA||x_l| ≤ |a_k|ᵀβ_l + |a_l|ᵀβ_k + √(D_k D_l) (β = (|δA||x|)_P, D ≥ Σ δd ŷ², Cauchy–Schwarz;
AM–GM's (D_k + D_l)/2 until session 12 charged a chain mode's D ~ 8ε·d_j to its pairs with probe
modes that share no chain mode with it: 1e9× the rest, the bound 1e8× the error)
for δA the rounding of d, C and V_S against the parameters. Close pairs (neighbours whose
gap form exceeds 1e-12) get G from the vectors themselves. ŷ is formed from the merges' offsets
(:meth:`~.arrowhead.ArrowheadModes.pole_offsets`) and the residual taken at the merges' value
μ* = μ̃ + δ. A mode with a_k = 0, or whose μ̃ sits within 8ε of a pole d_j other than its own
(ŷ_j would be rounding over rounding), or whose ‖x_k‖² misses 1 by more than NORM_TOL = 1e-12
(ŷ_j off near a pole), takes ŷ_j at its nearest pole from the normalisation, or 0 (a mode of a
degenerate cluster that the coupling does not see), whichever vector has the smaller residual
and norm defect (:func:`_score`; the last kind keeps its own vector where that is nearer), its
residual by the same Dot2 passes on the column given (:func:`_pole_data`). Every choice is some vector: the bound holds for
it; the choice only decides how tight. A close pair whose vectors are not orthogonal
(|x_kᵀx_l| > GRAM_TOL: ŷ next to a pole amplifies a_k's rounding) takes ŷ from the merges' own
columns (:meth:`~.arrowhead.ArrowheadModes.columns`), and so does a pole mode where they are
nearer an eigenvector. The refined soft
modes (:func:`~harmosync.dynamics.spectrum.refine_chain_soft`) are their own columns, with their
residual bounds η against V from its parameters; their pairs with each other take
:func:`~harmosync.dynamics.spectrum.soft_pair_bound`, as on the dense path. One b serves the
means and the covariance: until session 18 the covariance left the soft modes' pairs to
``vector_roundoff``, which bounds those vectors' errors in the stationary part only, not what
they do to Δ's evolution (40 digits: |B| up to 1.2e-9 on such pairs of a stiff chain where b
was 0; the dense path's fix is session 17's).

The solution's observed site rows come from the merges, not from x: ``row_error`` (n, N)
bounds their difference from W·ŷ_k (W the chain's exact mode rows), charged as an error of
the readout. Modes that no probe and no observed oscillator sees (left out of the solution)
enter the first-order term only through Δ's component on them, which is of second order in
their coupling (dropped below ε² of their gap by the merges): left out. Costs O(P·N·M) for the
residuals (Dot2), two threads above THREADED modes, and O(N log N·(P + n)) for the gains
(:meth:`ArrowTerm.raw_gains`: the pairs within WINDOW one by one, the farther ones by index
blocks, :func:`_far`; below FAR_FROM modes every pair, O(N²·(P + n))); no N × N arrays; any
N (its arrays O(N·P); the close pairs' vectors and the pole modes' columns in blocks of
:func:`_block` columns, at most `arrowhead.column_cap` of the merges' own).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..jit import kernel
from .arrowhead import column_cap, probe_rounding, yhat
from .roundoff import arrow_vectors

#: ≥ 1 + the rounding of √(a² + b²) in double (three roundings of 2⁻⁵³ each)
SQRT_SAFE = 1 + 4 * 2.0**-52

EPS = np.finfo(float).eps
#: neighbours on each side whose G is also formed from the vectors (at least; wider where a
#: cluster of close modes is: :func:`_near_width`)
NEAR = 8
#: the widest that window grows to (a degenerate cluster of up to NEAR_MAX + 1 modes: the G of its
#: pairs from the vectors, not ‖x_k‖‖x_l‖ from a zero gap)
NEAR_MAX = 256
#: the gap form of G above which a close pair's G is formed from the vectors
NEAR_G = 1e-12
#: a vector (a_k, ŷ_k) whose ‖·‖² misses 1 by more takes ŷ_j at its nearest pole from the normalisation
NORM_TOL = 1e-12
#: a close pair whose |x_kᵀx_l| exceeds this takes the merges' own columns (chain_mode_bound's ``merged``)
GRAM_TOL = 1e-12
#: a pole mode whose residual and norm defect (:func:`_score`) exceed this is offered the merges' column
SCORE_TOL = 1e-10


def _block(rows: int, least: int = 1) -> int:
    """Columns of ``rows`` doubles in a block of ≲ 16 MB (at least ``least``): the vectors'
    environment parts are M long, and N of them could be M × N."""
    return max(least, (1 << 21) // max(rows, 1))


def _pole_fix(a, mu, env_d, env_c, idx, base, off) -> list:
    """Overrides for modes ``idx`` at a pole: ŷ_j (j the nearest pole) from ‖x‖ = 1."""
    d = np.asarray(env_d, float)
    fix = []
    step = _block(d.size)
    for c, k in enumerate(idx):
        if c % step == 0:
            y = yhat(a[:, idx[c:c + step]], base[idx[c:c + step]], env_d, env_c, off=off[idx[c:c + step]])
        j = int(np.argmin(np.abs(d - mu[k])))
        col = y[:, c % step].copy()
        col[j] = 0.0
        col[~np.isfinite(col)] = 0.0
        rest = 1.0 - float(a[:, k] @ a[:, k]) - float(col @ col)
        # a rest at the sums' rounding is noise (√ of it, ~1e-8, would be a false overlap with
        # the pole's other modes): the pole's entry is 0 then (a probe mode the merges kept pure)
        val = float(np.sqrt(rest)) if rest > 16 * (col.size + a.shape[0]) * EPS else 0.0
        fix.append((c, j, val))
    return fix


def _pole_data(a, mu, vs, env_d, env_c, d_vs, env_rounding, fix, base, off):
    """:func:`~.roundoff.arrow_vectors`' data for the columns x = (a, ŷ) (``fix``: the
    overrides; ŷ from the merges' offsets ``base``, ``off``), residual at μ̃ by the same Dot2
    passes (until session 13 in long double: W3's 124 pole columns took 0.5 s)."""
    b = a.shape[1]
    step = _block(np.size(env_d))
    if b > step:  # (column by column alike: the blocks' results are the whole's)
        parts = []
        for c0 in range(0, b, step):
            c1 = min(c0 + step, b)
            part = [(c - c0, j, v) for c, j, v in fix if c0 <= c < c1]
            parts.append(_pole_data(a[:, c0:c1], mu[c0:c1], vs, env_d, env_c, d_vs, env_rounding, part,
                                    base[c0:c1], off[c0:c1]))
        return tuple(np.concatenate(z, axis=-1) for z in zip(*parts))
    y = yhat(a, base, env_d, env_c, fix, off)
    y[~np.isfinite(y)] = 0.0  # (only a fixed entry can be non-finite; it was replaced)
    return arrow_vectors(a, mu, vs, env_d, env_c, d_vs, env_rounding, y=y)[:7]


def _score(data, idx) -> np.ndarray:
    """How far the vectors ``idx`` of (ρ, β, η, D, ζ, ‖x‖², its error) are from eigenvectors: the
    residual's size and the norm's defect."""
    rho, _, eta, _, _, n2, n2err = data
    return np.sum(rho[:, idx], axis=0) + eta[idx] + np.abs(n2[idx] - 1) + n2err[idx]


_U = 2.0 ** -53
_SAFE = 1 + 64 * _U


def _rows(aa, rho, beta, nu, eta, dsum, zeta, sidx, mu, delta, gdiag, gnear, spb, sg, nue, k0, k1, c0, c1, bm, g):
    """Rows k0..k1 − 1, columns c0..c1 − 1 of b (``bm``, the means' and the covariance's) and g,
    each (k1 − k0, c1 − c0), from the per-mode data (module docstring; residuals at μ̃ + δ,
    |δ| = ``delta``; arrays (P, N)); the soft modes' pairs (``sidx`` ≥ 0 on both) from their
    blocks ``spb``, ``sg``; ``gnear`` (N, width ≥ NEAR): G of close pairs from the vectors (∞: none). In passes
    over l that vectorise; the soft modes, the close pairs and the diagonal after. ``nue``:
    bounds on ‖ŷ_k‖, the vectors' environment parts, which alone meet the residuals' environment
    parts: |x_kᵀs_l| ≤ |a_k|ᵀρ_l + ‖ŷ_k‖η_l. (One kernel: a compiled helper called per pair or
    per row cost 6× the arithmetic, or 14 ms to load.)"""
    u, safe = _U, _SAFE
    p, n = aa.shape
    near = gnear.shape[1]
    anysoft = False
    sqd = np.empty(n)  # √D: |ŷ_k|ᵀδd|ŷ_l| ≤ √(D_k D_l) (Cauchy–Schwarz), on the rows and columns asked
    for l in range(min(c0, k0), max(c1, k1)):
        sqd[l] = np.sqrt(dsum[l])
    for l in range(c0, c1):
        if sidx[l] >= 0:
            anysoft = True
    for k in range(k0, k1):
        r = k - k0
        sk = sidx[k]
        nk, ek, zk, mk, ck, yk = nu[k], eta[k], zeta[k], mu[k], delta[k], nue[k]
        # g ← |a_k|ᵀρ_l + ν_kη_l + |a_l|ᵀρ_k + ν_lη_k (G's numerator); bm ← δA's part (stiff pairs)
        for l in range(c0, c1):
            g[r, l - c0] = yk * eta[l] + ek * nue[l]
            bm[r, l - c0] = sqd[k] * sqd[l]
        for i in range(p):
            aki, rki, bki = aa[i, k], rho[i, k], beta[i, k]
            for l in range(c0, c1):
                g[r, l - c0] += aki * rho[i, l] + rki * aa[i, l]
                bm[r, l - c0] += aki * beta[i, l] + bki * aa[i, l]
        for l in range(c0, c1):  # g ← G's gap form (or ν_kν_l), bm ← B without G's part
            num = g[r, l - c0]
            gg = nu[l] * nk
            gap = abs(mk - mu[l]) * (1 - u) - (ck + delta[l]) * (1 + u)
            q = num / gap if gap > 0 else gg
            g[r, l - c0] = min(gg, q)
            bm[r, l - c0] += 0.5 * num
        for l in range(max(c0, k - near), min(c1, k + near + 1)):  # close pairs: G from the vectors
            if l > k:
                g[r, l - c0] = min(g[r, l - c0], gnear[k, l - k - 1])
            elif l < k:
                g[r, l - c0] = min(g[r, l - c0], gnear[l, k - l - 1])
        for l in range(c0, c1):
            bm[r, l - c0] = (bm[r, l - c0] + 0.5 * g[r, l - c0] * (ck + delta[l])) * safe
            g[r, l - c0] *= safe
        if c0 <= k < c1:
            bm[r, k - c0], g[r, k - c0] = 0.0, gdiag[k] * safe
        if sk >= 0 or anysoft:  # the soft modes' pairs
            for l in range(c0, c1):
                sl = sidx[l]
                if l == k or (sk < 0 and sl < 0):
                    continue
                if sk >= 0 and sl >= 0:
                    bm[r, l - c0], g[r, l - c0] = spb[sk, sl], sg[sk, sl]
                    continue
                # δA's part: ‖x_s‖·‖|δA||x_l|‖, or componentwise as the stiff pairs' where the
                # soft mode's β and D are given (_soft_rounding; 0 for both: not given)
                da = nk * zeta[l] + nu[l] * zk
                if (sk < 0 or 0 < dsum[k] < np.inf) and (sl < 0 or 0 < dsum[l] < np.inf):
                    cw = sqd[k] * sqd[l]
                    for i in range(p):
                        cw += aa[i, k] * beta[i, l] + beta[i, k] * aa[i, l]
                    da = min(da, cw)
                num = nk * eta[l] + ek * nu[l] + da
                for i in range(p):
                    num += aa[i, k] * rho[i, l] + rho[i, k] * aa[i, l]
                gg = nu[l] * nk
                gap = abs(mk - mu[l]) * (1 - u) - (ck + delta[l]) * (1 + u)
                if gap > 0 and num < gg * gap:
                    gg = num / gap
                bm[r, l - c0] = (0.5 * (num - da) + da + 0.5 * gg * (ck + delta[l])) * safe
                g[r, l - c0] = gg * safe


_DATA = ("float64[:, ::1], float64[:, ::1], float64[:, ::1], float64[::1], float64[::1], float64[::1], "
         "float64[::1], int64[::1], float64[::1], float64[::1], float64[::1], float64[:, ::1], float64[:, ::1], "
         "float64[:, ::1], float64[::1]")
_ROWS = kernel(_rows, f"void({_DATA}, int64, int64, int64, int64, float64[:, ::1], float64[:, ::1])",
               reads=tuple(range(15)))


def _pair_terms(bb, gg, wk, wl, hk, hl, t):
    """(B ∘ F + (G/2)(h_k + h_l)) of one pair for f_c, f_s, f_k (:func:`_gains`), bb ≥ |B_kl|,
    gg ≥ |G_kl|/2: F as spectrum.propagator_divided_differences (gap 0: far = +∞)."""
    # (the square roots' rounding: SQRT_SAFE; 1/lo squared may overflow to ∞, min() then drops it)
    s = wk + wl
    gap = abs(wk - wl) * s
    lo, hi = min(wk, wl), max(wk, wl)
    ht = hi * t
    return (bb * min(t / s, 2.0 / gap) + gg * 2.0,
            bb * min(min(2.0 * t, math.sqrt(t * t + (1.0 / lo) ** 2) * SQRT_SAFE) / (lo * s), (hk + hl) / gap)
            + gg * (hk + hl),
            bb * min(math.sqrt(1.0 + ht * ht) * SQRT_SAFE / s, s / gap) + gg * s)


def _gains(b, g, k0, c0, win, skip, w, hs, u, t, gx, gp):
    """gx, gp += Σ_k |u_k| ⊗ (B ∘ F + (G/2)(h_k + h_l))_k· over the rows k = k0.. of ``b`` ≥ |B| and
    ``g`` ≥ |G| given as (B, C) blocks of the columns c0.. (all N rows and columns for a dense
    eigh's, spectrum._row_gains; BLOCK or BAND at a time for the chain path's, :func:`_rows`),
    for f_c (gx x rows, gp p rows), f_s (gp x rows), f_k (gx p rows) (:func:`_pair_terms`),
    B's diagonal left out (the eigenvalues' errors), h = 1, ``hs`` = min(t, 1/w), w. ``win`` ≥
    0: only the columns within ``win`` of the row, and not the rows where ``skip`` ≥ 0
    (:meth:`ArrowTerm.raw_gains`' window)."""
    n, m = u.shape
    width = b.shape[1]
    cc, cs, ck = np.empty(width), np.empty(width), np.empty(width)
    for r in range(b.shape[0]):
        k = k0 + r
        l0, l1 = c0, c0 + width
        if win >= 0:
            if skip[k] >= 0:
                continue
            l0, l1 = max(l0, k - win), min(l1, k + win + 1, m)
        wk, hk = w[k], hs[k]
        for l in range(l0, l1):
            c = l - c0
            cc[c], cs[c], ck[c] = _pair_terms(b[r, c] if l != k else 0.0, 0.5 * g[r, c], wk, w[l], hk, hs[l], t)
        for a in range(n):
            ua = u[a, k]
            if ua == 0.0:
                continue
            for l in range(l0, l1):
                c = l - c0
                gx[a, l] += ua * cc[c]
                gp[a, l] += ua * cs[c]
                gx[n + a, l] += ua * ck[c]
                gp[n + a, l] += ua * cc[c]


_GAINS = kernel(_gains, "void(float64[:, ::1], float64[:, ::1], int64, int64, int64, int64[::1], float64[::1], "
                        "float64[::1], float64[:, ::1], float64, float64[:, ::1], float64[:, ::1])",
                reads=(0, 1, 5, 6, 7, 8), calls=("_pair_terms",))


#: rows of b and g formed at a time in the gains' pass
BLOCK = 32
#: pairs up to WINDOW apart (or the close pairs' wider window, :func:`_near_width`) are formed
#: one by one (:func:`_rows`; the close pairs' G from the vectors among them); farther ones by
#: blocks (:func:`_far`)
WINDOW = NEAR
#: rows whose pairs within WINDOW are formed at a time
BAND = 16
#: a block of modes is taken whole where its farthest member's gap to the mode is ≤ SPREAD × its nearest's
SPREAD = 2.0
#: modes from which the gains' pass takes the far pairs by blocks (fewer: every pair one by one)
FAR_FROM = 128


def _node_sums(u, alpha, sidx, dabs, start, sums, dmax):
    """Sums over the index blocks (level s: blocks of 2^s modes, block j at start[s] + j) of
    |u_ak|α_c(k) (``sums`` (blocks, n, C); the soft modes' 0: their pairs go one by one), and each
    block's largest |δ| (``dmax``)."""
    n, m = u.shape
    nc = alpha.shape[0]
    for k in range(m):
        dmax[k] = dabs[k]
        for a in range(n):
            for c in range(nc):  # (u = 0 or a soft mode: 0, as :func:`_gains` skips them; no 0·∞)
                sums[k, a, c] = 0.0 if sidx[k] >= 0 or u[a, k] == 0.0 else u[a, k] * alpha[c, k]
    for s in range(1, start.size - 1):
        prev, cnt = start[s - 1], start[s] - start[s - 1]
        for j in range(start[s + 1] - start[s]):
            dst, src = start[s] + j, prev + 2 * j
            two = 2 * j + 1 < cnt
            dmax[dst] = max(dmax[src], dmax[src + 1]) if two else dmax[src]
            for a in range(n):
                for c in range(nc):
                    sums[dst, a, c] = sums[src, a, c] + sums[src + 1, a, c] if two else sums[src, a, c]


def _far(sums, dmax, start, beta, cn, cb, nu, w, hs, mu, dabs, sidx, t, win, a0, nall, gx, gp):
    """gx, gp += the terms of :func:`_gains` for the pairs more than ``win`` apart, neither a soft
    mode, for the readout rows a0.. (``sums``: :func:`_node_sums` of those rows), by blocks K of
    modes on one side of l (ascending w and μ): B_kl and G_kl are sums of products α_c(k)β_c(l)
    (``beta``: the first ``cn`` make the residuals' part of G's numerator, the next ``cb`` the
    δA part of B, then ν_kν_l and ν_kδ_kν_l), so Σ_(k∈K)|u_ak|(·) is exact through the block's
    sums (Σ_k |u_ak|g_klδ_k ≤ min(max δ·Σ|u|g, ν_l Σ_k |u_ak|ν_kδ_k): g ≤ ν_kν_l), and
    every F and 1/gap is largest at the member nearest l (μ_k − μ_l of one sign, |μ_k − μ_l|
    growing with the distance): taken there for the whole block, which a block is split until
    its farthest gap is within SPREAD of its nearest (O(log N) blocks per mode for a chain's
    spectrum, against N pairs one by one)."""
    n = sums.shape[1]
    m = w.size
    nc = beta.shape[0]
    levels = start.size - 1
    u = _U
    sf = 1 + (4 * levels + 2 * nc + 64) * u  # the blocks' sums, the products, the F bounds
    stk = np.empty((4 * levels + 16, 2), np.int64)
    for l in range(m):
        if sidx[l] >= 0:
            continue
        wl, hl, ml, dl = w[l], hs[l], mu[l], dabs[l]
        for side in range(2):
            lo, hi = (l + win + 1, m) if side == 0 else (0, l - win)
            top = 0
            p = lo
            while p < hi:  # [lo, hi) as aligned blocks, the largest that fit
                s = 0
                while s + 1 < levels and ((p >> (s + 1)) << (s + 1)) == p and p + (1 << (s + 1)) <= hi:
                    s += 1
                stk[top, 0], stk[top, 1] = s, p >> s
                top += 1
                p += 1 << s
            while top > 0:
                top -= 1
                s, j = stk[top, 0], stk[top, 1]
                k0 = j << s
                k1 = min(k0 + (1 << s), m)
                kn, kf = (k0, k1 - 1) if side == 0 else (k1 - 1, k0)
                wn = w[kn]
                gn = abs(wn - wl) * (wn + wl)
                if s > 0:
                    wf = w[kf]
                    if not abs(wf - wl) * (wf + wl) <= SPREAD * gn:  # (gn = 0 too): its halves
                        stk[top, 0], stk[top, 1] = s - 1, 2 * j
                        top += 1
                        if ((2 * j + 1) << (s - 1)) < m:
                            stk[top, 0], stk[top, 1] = s - 1, 2 * j + 1
                            top += 1
                        continue
                node = start[s] + j
                wmin, wmax = w[k0], w[k1 - 1]
                smin = (wl + wmin) * (1 - u)
                smax = (wl + wmax) * (1 + u)
                hk = hs[k0]  # (h = min(t, 1/w): largest at the smallest w)
                # (by reciprocals: 3 divisions a block, not 7; their roundings are in sf)
                rs = 1.0 / smin
                fc = t * rs
                fs = 2.0 * t * rs / min(wl, wmin)
                fk = (1.0 + max(wl, wmax) * t) * rs
                gw = gn * (1 - 4 * u)
                if gw > 0:
                    rg = 1.0 / gw
                    fc = min(fc, 2.0 * rg)
                    fs = min(fs, (hk + hl) * rg)
                    fk = min(fk, (wn + wl) * (1 + 2 * u) * rg)  # (s/gap = 1/|w_k − w_l| = (w_k + w_l)/gap)
                fc, fs, fk = fc * sf, fs * sf, fk * sf
                dk = dmax[node]
                gm = abs(mu[kn] - ml) * (1 - u) - (dk + dl) * (1 + u)
                rm = 1.0 / gm if gm > 0 else 0.0
                for a in range(n):
                    num = 0.0
                    for c in range(cn):
                        num += beta[c, l] * sums[node, a, c]
                    b0 = 0.0
                    for c in range(cn, cn + cb):
                        b0 += beta[c, l] * sums[node, a, c]
                    g = nu[l] * sums[node, a, nc - 2]  # Σ min(ν_kν_l, num/gap) ≤ either sum
                    if gm > 0 and num * rm < g:
                        g = num * rm
                    bb = (b0 + 0.5 * num + 0.5 * (min(g * dk, nu[l] * sums[node, a, nc - 1]) + g * dl)) * sf
                    g *= sf
                    gx[a0 + a, l] += bb * fc + g
                    gp[a0 + a, l] += bb * fs + 0.5 * g * (hk + hl)
                    gx[nall + a0 + a, l] += bb * fk + 0.5 * g * smax
                    gp[nall + a0 + a, l] += bb * fc + g


def _gather(b, g, s, win, sidx, w, hs, u, t, gx, gp):
    """gx, gp[:, s] += :func:`_gains`' terms of the pairs (k, s) more than ``win`` apart, k not a
    soft mode, from the row s of b and g (``b``, ``g`` (1, N); B, G and F are symmetric): the
    far pairs of a soft mode s as the target."""
    n = u.shape[0]
    ws, h = w[s], hs[s]
    for k in range(w.size):
        if abs(k - s) <= win or sidx[k] >= 0:
            continue
        cc, cs, ck = _pair_terms(b[0, k], 0.5 * g[0, k], w[k], ws, hs[k], h, t)
        for a in range(n):
            ua = u[a, k]
            gx[a, s] += ua * cc
            gp[a, s] += ua * cs
            gx[n + a, s] += ua * ck
            gp[n + a, s] += ua * cc


def _levels(m: int) -> np.ndarray:
    """start[s]: the first block of level s among :func:`_node_sums`' blocks (blocks of 2^s modes,
    down to one block), and the count at the end."""
    start, cnt = [0], m
    while True:
        start.append(start[-1] + cnt)
        if cnt == 1:
            return np.array(start, np.int64)
        cnt = (cnt + 1) // 2


def _window(aa, rho, beta, nu, eta, dsum, zeta, sidx, mu, delta, gdiag, gnear, spb, sg, nue, win, w, hs, u,
            t, alpha, betas, cn, cb, start, step, gx, gp):
    """:meth:`ArrowTerm.raw_gains` from FAR_FROM modes on: the pairs within ``win`` row by row
    (:func:`_rows`, :func:`_gains`), a soft mode's whole row and its far column (:func:`_gather`),
    the rest by blocks (:func:`_node_sums`, :func:`_far`; ``alpha``, ``betas``: their factors,
    ``step`` readout rows at a time)."""
    n = mu.size
    nr = u.shape[0]
    for k0 in range(0, n, BAND):  # (BAND rows at a time: a row's window alone did not vectorise)
        k1 = min(n, k0 + BAND)
        c0, c1 = max(0, k0 - win), min(n, k1 + win)
        bm, g = np.empty((k1 - k0, c1 - c0)), np.empty((k1 - k0, c1 - c0))
        _rows(aa, rho, beta, nu, eta, dsum, zeta, sidx, mu, delta, gdiag, gnear, spb, sg, nue, k0, k1, c0, c1,
              bm, g)
        _gains(bm, g, k0, c0, win, sidx, w, hs, u, t, gx, gp)
    fm, fg = np.empty((1, n)), np.empty((1, n))
    for k in range(n):
        if sidx[k] < 0:
            continue
        _rows(aa, rho, beta, nu, eta, dsum, zeta, sidx, mu, delta, gdiag, gnear, spb, sg, nue, k, k + 1, 0, n,
              fm, fg)
        _gains(fm, fg, k, 0, -1, sidx, w, hs, u, t, gx, gp)
        _gather(fm, fg, k, win, sidx, w, hs, u, t, gx, gp)
    dmax = np.empty(start[-1])
    for r0 in range(0, nr, step):
        r1 = min(nr, r0 + step)
        sums = np.empty((start[-1], r1 - r0, alpha.shape[0]))
        _node_sums(u[r0:r1], alpha, sidx, delta, start, sums, dmax)
        _far(sums, dmax, start, betas, cn, cb, nu, w, hs, mu, delta, sidx, t, win, r0, nr, gx, gp)


_WINDOW = kernel(_window, f"void({_DATA}, int64, float64[::1], float64[::1], float64[:, ::1], float64, "
                          "float64[:, ::1], float64[:, ::1], int64, int64, int64[::1], int64, float64[:, ::1], "
                          "float64[:, ::1])", reads=tuple(range(15)) + (16, 17, 18, 20, 21, 24),
                 calls=("_pair_terms", "_rows", "_gains", "_gather", "_node_sums", "_far"))


@dataclass(frozen=True)
class ArrowTerm:
    """The chain path's eigenvector term in the form
    :func:`~harmosync.dynamics.spectrum.eigenvector_roundoff` takes it: the per-mode data whose
    pairs give b ≥ |B| and g ≥ |G| (:func:`_rows`), formed in the gains' pass (no N × N
    arrays), and ``rows``: the readout's own errors (n, N) or None."""

    data: tuple
    rows: np.ndarray | None
    vectors: tuple = ()  # (base, off, the modes whose ŷ_j is the normalisation's, their (j, value))

    def columns(self, a, env_d, env_c) -> np.ndarray:
        """The vectors x_k = (a_k, ŷ_k) (P + M, N) the bound is for (tests): ``a``, ``env_d``,
        ``env_c`` as given to :func:`chain_mode_bound`; the soft modes' columns are theirs, not
        these."""
        base, off, idx, fix = self.vectors
        y = yhat(a, base, env_d, env_c, [(int(k), j, v) for k, (j, v) in zip(idx, fix)], off)
        sub = y[:, idx]
        sub[~np.isfinite(sub)] = 0.0  # (as _pole_data)
        y[:, idx] = sub
        return np.vstack([np.atleast_2d(a), y])

    def raw_gains(self, w, hs, u, t: float, gx, gp) -> None:
        """gx, gp += :func:`_gains`' sums for these b and g, no
        N × N arrays: from FAR_FROM modes on (w and μ ascending) the pairs within WINDOW formed
        BAND rows at a time (:func:`_rows`), the farther ones by blocks (:func:`_far`), the soft
        modes' whole rows and columns one by one (:func:`_gather`); below, every pair by rows
        (:func:`_split`'s two threads each take half of the rows k; the sums' roundoff bound
        holds in any order)."""
        n = w.size
        t = float(t)
        mu = self.data[8]
        if n >= FAR_FROM and np.all(np.diff(w) >= 0) and np.all(np.diff(mu) >= 0):
            self._windowed(w, hs, u, t, gx, gp)
        else:
            self._pairs(w, hs, u, t, gx, gp)
        # an infinite datum times a 0 of the other side is unbounded (∞), not an internal failure
        # (NaN, which _check_bound refuses); NaN data stay NaN
        if (np.isnan(gx).any() or np.isnan(gp).any()) and not any(np.isnan(x).any() for x in self.data):
            for x in (gx, gp):
                x[np.isnan(x)] = np.inf

    def _pairs(self, w, hs, u, t, gx, gp) -> None:
        """:meth:`raw_gains` below FAR_FROM modes: every pair."""
        n = w.size
        sidx = self.data[7]

        second = np.zeros_like(gx), np.zeros_like(gp)  # (the second thread's half of the sums)

        def work(k0, k1):
            ox, op = (gx, gp) if k0 == 0 else second
            rows = min(BLOCK, k1 - k0)
            bm, g = np.empty((rows, n)), np.empty((rows, n))
            for a in range(k0, k1, BLOCK):
                z = min(a + BLOCK, k1) - a
                _ROWS(*self.data, a, a + z, 0, n, bm[:z], g[:z])
                _GAINS(bm[:z], g[:z], a, 0, -1, sidx, w, hs, u, t, ox, op)

        _split(n, work)
        gx += second[0]
        gp += second[1]

    def _windowed(self, w, hs, u, t, gx, gp) -> None:
        """:meth:`raw_gains` from FAR_FROM modes on (:func:`_window`)."""
        data = self.data
        aa, rho, beta, nu, eta, dsum = data[:6]
        sqd = np.sqrt(dsum)
        # B's and G's numerators as Σ_c α_c(k)β_c(l) (:func:`_rows`): the residuals' part, δA's, ν_kν_l
        alpha = np.vstack([data[14], eta, aa, rho, sqd, aa, beta, nu, nu * data[9]])
        betas = np.vstack([eta, data[14], rho, aa, sqd, beta, aa, nu, nu])
        p = aa.shape[0]
        start = _levels(w.size)
        step = max(1, (1 << 22) // (int(start[-1]) * alpha.shape[0]))  # (the blocks' sums ≲ 32 MB)
        _WINDOW(*data, data[11].shape[1], w, hs, u, t, alpha, betas, 2 * p + 2, 2 * p + 1, start, step, gx, gp)

    def matrices(self) -> tuple:
        """(b, g), each (N, N) (tests; small N)."""
        n = self.data[8].size
        b, g = np.empty((n, n)), np.empty((n, n))
        _ROWS(*self.data, 0, n, 0, n, b, g)
        return b, g


#: modes above which the residuals and b, g are formed by two threads (the kernels release the GIL)
THREADED = 600


def _split(n: int, work) -> None:
    """work(k0, k1) on [0, n), in two halves on two threads above THREADED."""
    if n < THREADED:
        work(0, n)
        return
    from concurrent.futures import ThreadPoolExecutor

    # halves of equal work for whole rows; the residuals' columns alike (compiled loops, no BLAS)
    with ThreadPoolExecutor(2) as ex:
        list(ex.map(lambda r: work(*r), [(0, n // 2), (n // 2, n)]))


def chain_mode_bound(mu, a, vs, env_d, env_c, env_rounding, *, offsets=None, soft=None, site_rows=None,
                     merged=None):
    """The :class:`ArrowTerm` for :func:`~harmosync.dynamics.spectrum.eigenvector_roundoff`
    on the chain path's modes (μ̃ ``mu`` (N,), probe rows ``a`` (P, N)) of the arrowhead
    (``vs``, ``env_d``, ``env_c``; ``env_rounding`` = (δd, δC)), module docstring.

    ``offsets``: (base, off) of :meth:`~.arrowhead.ArrowheadModes.pole_offsets` (μ̃ and 0 by
    default), whence ŷ. ``soft``: the refined soft modes, (indices (S,), their columns (N_V, S) in V's basis, their
    residual bounds η (S,) of :func:`~.softmodes.soft_mode_errors` and their pairs' (S, S) of
    :func:`~.softmodes.soft_pairs`, bounds on their
    environment energies ŷᵀdiag(d)ŷ (S,), :func:`~harmosync.dynamics.spectrum.chain_energies`) or
    None.
    ``site_rows``: the observed chain sites, (readout (n, N) as the solution has it, the indices
    of the site rows in it, the chain's exact-enough mode rows W (n_s, M) and bounds on their
    rounding (n_s, M)) or None (probes only). ``merged``: ks → the environment part (M, b) of the
    merges' own columns ks (:meth:`~.arrowhead.ArrowheadModes.columns`) or None: the vectors of
    modes in close pairs whose x_kᵀx_l exceeds GRAM_TOL, and of the pole modes where nearer an
    eigenvector, take ŷ from them (module docstring)."""
    mu = np.asarray(mu, float)
    a = np.atleast_2d(np.asarray(a, float))
    p, n = a.shape
    d = np.asarray(env_d, float)
    d_vs = probe_rounding(vs)
    soft_idx = np.zeros(0, int) if soft is None else np.asarray(soft[0], int)
    is_soft = np.zeros(n, bool)
    is_soft[soft_idx] = True
    rho, beta = np.zeros((p, n)), np.zeros((p, n))
    eta, dsum, zeta, n2, n2err, delta = (np.zeros(n) for _ in range(6))
    # modes at a pole (ŷ_j rounding over rounding) or with a_k = 0: ŷ_j from the normalisation.
    # At a pole: μ̃ is one, or μ̃ is within 8ε of a pole other than its own base (where
    # (base − d_j) + off is rounding, and ŷ_j noise; review s11: μ̃ = d_9 bit for bit, base d_10,
    # off −0.056: ŷ_9 = −0.0069 against an exact ~1e-17, g 6.9e-3, the bound 3e9× the error)
    base, off = (mu, np.zeros(n)) if offsets is None else (np.asarray(x, float) for x in offsets)
    ds = np.sort(d)
    pos = np.clip(np.searchsorted(ds, mu), 1, ds.size) - 1
    lo, hi = ds[pos], ds[np.minimum(pos + 1, ds.size - 1)]
    nearest = np.where(np.abs(mu - lo) <= np.abs(mu - hi), lo, hi)
    at = ds[np.minimum(np.searchsorted(ds, base), ds.size - 1)] == base  # (np.isin, 5× faster)
    pole = ((off == 0) & at) | ((np.abs(mu - nearest) <= 8 * EPS * np.abs(mu)) & (base != nearest))
    pole = (pole | ~np.any(a != 0, axis=0)) & ~is_soft
    stiff = np.flatnonzero(~is_soft & ~pole)
    def residuals(k0, k1):
        part = stiff[k0:k1]
        out = arrow_vectors(a[:, part], mu[part], vs, d, env_c, d_vs, env_rounding, base[part], off[part])
        rho[:, part], beta[:, part] = out[0], out[1]
        eta[part], dsum[part], zeta[part], n2[part], n2err[part], delta[part] = out[2:]

    bad = np.zeros(0, int)
    if stiff.size:
        _split(stiff.size, residuals)
        bad = stiff[~(np.abs(n2[stiff] - 1) < NORM_TOL)]  # ŷ off the eigenvector: a near pole?
        pole[bad] = True
    pole_idx = np.flatnonzero(pole)
    fix = []
    if pole_idx.size:
        fix = _pole_fix(a, mu, d, env_c, pole_idx, base, off)
        if site_rows is not None:  # the sign that matches the solution's site rows
            readout, which, w_rows, _ = site_rows
            for c, k in enumerate(pole_idx):
                col, j, val = fix[c]
                y = yhat(a[:, [k]], base[[k]], d, env_c, [(0, j, val)], off[[k]])[:, 0]
                y[~np.isfinite(y)] = 0.0
                y2 = y.copy()
                y2[j] = -val
                r = np.asarray(readout, float)[which, k]
                if np.max(np.abs(r - w_rows @ y2), initial=0.0) < np.max(np.abs(r - w_rows @ y), initial=0.0):
                    fix[c] = (col, j, -val)
        out = _pole_data(a[:, pole_idx], mu[pole_idx], vs, d, env_c, d_vs, env_rounding, fix, base[pole_idx],
                         off[pole_idx])
        # or ŷ_j = 0: a mode of a degenerate cluster the coupling does not see (identical probes
        # on one site: Cᵀa at rounding, at a pole ŷ_j is 0/0), whichever is nearer an eigenvector
        zero = [(c, j, 0.0) for c, j, _ in fix]
        out0 = _pole_data(a[:, pole_idx], mu[pole_idx], vs, d, env_c, d_vs, env_rounding, zero, base[pole_idx],
                          off[pole_idx])
        use0 = _score(out0, slice(None)) < _score(out, slice(None))
        out = tuple(np.where(use0, o0, o1) for o0, o1 in zip(out0, out))
        fix = [z if u0 else f for f, z, u0 in zip(fix, zero, use0)]
        # a mode off by its norm alone keeps its own vector where that is nearer an eigenvector
        # (both bounds hold): the normalisation mends ŷ_j's noise at a pole, but not a degenerate
        # cluster's (identical probes on one site: its residual there was 1e-5 against 1e-13)
        own = np.isin(pole_idx, bad)
        own[own] = _score(out, own) >= _score((rho, beta, eta, dsum, zeta, n2, n2err), pole_idx[own])
        out = tuple(o[..., ~own] for o in out)
        fix = [(c, j, v) for c, (_, j, v) in enumerate(f for f, o in zip(fix, own) if not o)]
        pole_idx = pole_idx[~own]
        rho[:, pole_idx], beta[:, pole_idx] = out[0], out[1]
        eta[pole_idx], dsum[pole_idx], zeta[pole_idx], n2[pole_idx], n2err[pole_idx] = out[2:]
        delta[pole_idx] = 0.0  # (their residuals are at μ̃)
    soft_g = None
    if soft_idx.size:
        cols = np.asarray(soft[1], float)
        gram = cols.T @ cols
        nc = np.sqrt(np.einsum("ij,ij->j", cols, cols))
        soft_g = np.abs(gram - np.eye(soft_idx.size)) + 1.01 * (cols.shape[0] + 2) * EPS * np.outer(nc, nc)
        n2[soft_idx] = np.diag(gram)
        eta[soft_idx] = (nc * (np.asarray(soft[2], float) + EPS * np.abs(mu[soft_idx]))) * (1 + 1e-9)

    def norms():  # G's diagonal, bounds on ‖x‖ and on ‖ŷ‖ (the soft modes': their Gram's)
        gd = np.abs(n2 - 1) + n2err
        if soft_idx.size:
            gd[soft_idx] = np.diag(soft_g)
        nx = np.sqrt(np.maximum(n2 + n2err, 0.0)) * (1 + 2 * EPS)
        return gd, nx, _env_norms(a, n2, n2err, nx, soft_idx)

    gdiag, nu, nue = norms()
    if soft_idx.size:
        _soft_rounding(a, d, d_vs, env_rounding, soft_idx, np.asarray(soft[4], float), nue, beta, dsum)
    sidx = np.full(n, -1, dtype=np.int64)
    sidx[soft_idx] = np.arange(soft_idx.size)
    spb = sg = np.zeros((1, 1))
    if soft_idx.size:
        from ..dynamics.spectrum import soft_pair_bound  # (a leaf of dynamics: no cycle at import)

        sg = soft_g * (1 + 8 * EPS)
        spb = soft_pair_bound(mu[soft_idx], np.asarray(soft[1], float), soft_g, np.asarray(soft[3], float))
        np.fill_diagonal(spb, 0.0)
    width = _near_width(np.abs(a), rho, nu, eta, mu, is_soft)
    gnear = np.full((n, width), np.inf)
    data = [np.ascontiguousarray(np.abs(a)), np.ascontiguousarray(rho), np.ascontiguousarray(beta), nu, eta,
            dsum, zeta, sidx, np.ascontiguousarray(mu), np.abs(delta), gdiag, gnear, np.ascontiguousarray(spb),
            np.ascontiguousarray(sg), nue]
    _near_gram(a, mu, d, env_c, data, is_soft, pole_idx, fix, base, off)
    if merged is not None:
        # the merges' own columns where the vectors (a_k, ŷ_k) of a close pair are not orthogonal
        # (a cluster near a chain pole, where ŷ = Cᵀa/(μ − d) amplifies a_k's rounding: review
        # s11's pole 25, x_kᵀx_l 4.3e-8 against 6.7e-16 for the merges' columns, the bound 4e5×
        # the error), and for pole modes where they are nearer an eigenvector
        gn = np.where(np.isfinite(gnear), gnear, 0.0)
        # (above N·ε: a column's residual, ~ε‖A‖ against the vectors' ~ε², reaches all N partners;
        # W3's 10⁴ modes took 2 columns for a pair between 1e-12 and 2.2e-12: the bound 1.01e-10 →
        # 1.27e-10, +0.45 s)
        worst = np.max(gn, axis=1)  # a mode's largest G from the vectors, as either member
        for i in range(gn.shape[1]):
            worst[i + 1:] = np.maximum(worst[i + 1:], gn[: max(n - i - 1, 0), i])
        cl = worst > max(GRAM_TOL, n * EPS)
        # (a pole mode only where its vector is off an eigenvector by more than rounding: the
        # columns cost O(P·N²) each, 40 ms for W3 --quick's 20-odd pole modes, which gained nothing)
        poor = np.zeros(n, bool)
        poor[pole] = _score((rho, beta, eta, dsum, zeta, n2, n2err), np.flatnonzero(pole)) > SCORE_TOL
        cand = np.flatnonzero((cl & ~is_soft) | poor)
        most = column_cap(d.size)  # (the modes with the largest G first)
        if cand.size > most:  # (the columns share one O(P·N²) pass, then a product each)
            cand = np.sort(cand[np.argsort(-np.where(cl[cand], worst[cand], 0.0), kind="stable")[:most]])
        if cand.size:
            ycol = merged(cand)
            colfix = [(c, slice(None), ycol[:, c]) for c in range(cand.size)]
            outc = _pole_data(a[:, cand], mu[cand], vs, d, env_c, d_vs, env_rounding, colfix, base[cand], off[cand])
            cur = (rho, beta, eta, dsum, zeta, n2, n2err)
            take = cl[cand] | (_score(outc, slice(None)) < _score(cur, cand))
            if np.any(take):
                new = cand[take]
                rho[:, new], beta[:, new] = outc[0][:, take], outc[1][:, take]
                eta[new], dsum[new], zeta[new], n2[new], n2err[new] = (o[take] for o in outc[2:])
                delta[new] = 0.0
                keepf = ~np.isin(pole_idx, new)
                entries = {int(k): (j, v) for k, (_, j, v) in zip(pole_idx[keepf], [f for f, kf in zip(fix, keepf) if kf])}
                entries.update({int(k): (slice(None), ycol[:, c]) for c, k in enumerate(cand) if take[c]})
                pole_idx = np.array(sorted(entries), int)
                fix = [(c, *entries[int(k)]) for c, k in enumerate(pole_idx)]
                gdiag, nu, nue = norms()
                width = _near_width(np.abs(a), rho, nu, eta, mu, is_soft)
                gnear = np.full((n, width), np.inf)
                data[3], data[9], data[10], data[11], data[14] = nu, np.abs(delta), gdiag, gnear, nue
                _near_gram(a, mu, d, env_c, data, is_soft, pole_idx, fix, base, off)
    row_error = None
    if site_rows is not None:
        row_error = _row_error(a, mu, d, env_c, site_rows, is_soft, pole_idx, fix, base, off)
    return ArrowTerm(tuple(data), row_error, (base, off, pole_idx, [(j, v) for _, j, v in fix]))


def _soft_rounding(a, d, d_vs, env_rounding, soft_idx, energy, nue, beta, dsum) -> None:
    """β ≥ (|δA||x_s|)_P and D ≥ Σ_j δd_j ŷ_sj² + Σ_j |ŷ_sj|(δCᵀ|a_s|)_j (as :func:`arrow_vectors`
    gives the other modes) for the refined soft modes, into ``beta``, ``dsum``: a soft mode's ŷ
    lies on the soft poles, where δd_j ≤ r·d_j is ~ε·d_j small, so Σ_j δd_jŷ_j² ≤ r·ŷᵀdiag(d)ŷ
    (``energy``), and |ŷ|ᵀδCᵀ|a| ≤ ‖ŷ‖‖δCᵀ|a|‖ (‖ŷ‖ ≤ ``nue``). Their pairs' δA part is then
    √(D_sD_l) + |a_s|ᵀβ_l + β_sᵀ|a_l| (:func:`_rows`), not ‖x_s‖·‖|δA||x_l|‖: on a stiff chain
    δd ~ ε·1e8 on the stiff poles, which ŷ_s barely touches (40 digits: |B| ≤ 1.2e-11 on such
    pairs, against 2e-8 from the norms). Left at 0 (the norms' form only) where some δd_j > 0
    has d_j ≤ 0, or not finite."""
    dd, dc = (np.asarray(x, float) for x in env_rounding)
    if np.any((dd > 0) & (d <= 0)):
        return
    with np.errstate(divide="ignore", invalid="ignore"):
        r = float(np.max(np.where(d > 0, dd / d, 0.0), initial=0.0)) * (1 + 2 * EPS)
    m = d.size
    aa = np.abs(a[:, soft_idx])
    ny = nue[soft_idx]
    dcn = np.sqrt(np.sum(dc * dc, axis=1)) * (1 + (m + 2) * EPS)  # ‖δC_i‖ (P,)
    dca = np.sqrt(np.sum((dc.T @ aa) ** 2, axis=0)) * (1 + (aa.shape[0] + m + 4) * EPS)  # ‖δCᵀ|a_s|‖
    beta[:, soft_idx] = (np.asarray(d_vs, float)[:, None] * aa + dcn[:, None] * ny) * (1 + 4 * EPS)
    ds = (r * energy + ny * dca) * (1 + 4 * EPS)
    bad = ~(ds < np.inf) | ~np.all(beta[:, soft_idx] < np.inf, axis=0)
    ds[bad] = 0.0  # (not given: the norms' form)
    dsum[soft_idx] = ds
    beta[:, soft_idx[bad]] = 0.0


def _env_norms(a, n2, n2err, nu, soft_idx) -> np.ndarray:
    """Bounds on ‖ŷ_k‖ = (‖x_k‖² − ‖a_k‖²)^½ from ‖x_k‖² ≤ n2 + n2err and ‖a_k‖² ≥ fl(Σa²)(1 −
    (P + 2)ε), the subtraction's rounding (4ε of ‖x‖²) added: ≥ √(4ε)‖x‖ ≈ 3e-8 where ŷ is smaller.
    The refined soft modes' columns are not split so: their full ‖x‖ (``nu``)."""
    top = n2 + n2err
    a2 = np.sum(a * a, axis=0) * (1 - (a.shape[0] + 2) * EPS)
    out = np.sqrt(np.maximum(top - a2, 0.0) + 4 * EPS * np.abs(top)) * (1 + 2 * EPS)
    out = np.minimum(out, nu)
    out[soft_idx] = nu[soft_idx]
    return np.ascontiguousarray(out)


def _near_pairs(aa, rho, nu, eta, mu, soft, sel):
    """The close stiff pairs (k, k + 1 + i), i < ``sel``'s width, whose G's gap form exceeds
    NEAR_G (roughly: a filter only; NaN too) into ``sel``."""
    p, n = aa.shape
    for k in range(n):
        if soft[k]:
            continue
        for i in range(min(sel.shape[1], n - 1 - k)):
            l = k + 1 + i
            if soft[l]:
                continue
            num = aa[0, k] * rho[0, l] + aa[0, l] * rho[0, k]  # (in the order the numpy form had)
            for r in range(1, p):
                num = num + (aa[r, k] * rho[r, l] + aa[r, l] * rho[r, k])
            num = num + nu[k] * eta[l] + nu[l] * eta[k]
            sel[k, i] = not num <= NEAR_G * abs(mu[k] - mu[l])


_NEAR_PAIRS = kernel(_near_pairs, "void(float64[:, ::1], float64[:, ::1], float64[::1], float64[::1], float64[::1], "
                                  "boolean[::1], boolean[:, ::1])", reads=(0, 1, 2, 3, 4, 5))


def _near_width(aa, rho, nu, eta, mu, is_soft) -> int:
    """The close pairs' window: NEAR, or, where a pair NEAR apart still has its gap form above
    NEAR_G (a cluster of more than NEAR + 1 close modes: many identical probes, whose degenerate
    modes the coupling does not split), up to the farthest such pair within NEAR_MAX. Why: beyond
    the window G is the gap form or ‖x_k‖‖x_l‖, 1 at a zero gap, which charged every pair of such
    a cluster as if its vectors were not orthogonal at all (16 identical probes at one site with
    a soft mode of V_S: the chain path's bound 2.3e4 against an error 5e-10, 1.2e-8 with 8)."""
    n = mu.size
    s = min(NEAR, n - 1)
    if s < 1:
        return NEAR
    args = (np.ascontiguousarray(aa), np.ascontiguousarray(rho), nu, eta, np.ascontiguousarray(mu),
            np.ascontiguousarray(is_soft))
    sel = np.zeros((n, s), np.bool_)
    _NEAR_PAIRS(*args, sel)
    if s < NEAR or not sel[:, -1].any():
        return NEAR
    sel = np.zeros((n, min(NEAR_MAX, n - 1)), np.bool_)
    _NEAR_PAIRS(*args, sel)
    return max(NEAR, int(np.flatnonzero(sel.any(axis=0))[-1]) + 1)


def _near_gram(a, mu, d, env_c, data, is_soft, pole_idx, fix, base, off) -> None:
    """G of close stiff pairs (up to gnear's width apart, gap form above NEAR_G) from the vectors,
    |x_kᵀx_l| ≤ |fl(x_kᵀx_l)| + γ_(N+2)|x_k|ᵀ|x_l|, into ``data``'s gnear where smaller."""
    n = mu.size
    aa, rho, nu, eta = data[0], data[1], data[3], data[4]
    gnear = data[11]
    s = min(gnear.shape[1], n - 1)
    if s < 1:
        return
    sel = np.zeros((n, s), np.bool_)
    _NEAR_PAIRS(aa, rho, nu, eta, np.ascontiguousarray(mu), np.ascontiguousarray(is_soft), sel)
    kk, ii = np.nonzero(sel)
    ll = kk + ii + 1
    if not kk.size:
        return
    pfix = {int(k): (j, v) for k, (_, j, v) in zip(pole_idx, fix)}
    gam = 1.01 * (a.shape[0] + d.size + 2) * EPS
    # the vectors as rows, a block of modes at a time (≲ 16 MB: W3's 10⁴ modes had gathered
    # strided columns of an (M, 10³) array, 0.35 s; the whole could be M × N)
    step = _block(a.shape[0] + d.size, s + 1)
    for k0 in range(0, n, step):
        sel = (kk >= k0) & (kk < k0 + step)
        if not np.any(sel):
            continue
        k, i, l = kk[sel], ii[sel], ll[sel]
        need = np.unique(np.concatenate([k, l]))
        cfix = [(c, *pfix[int(m)]) for c, m in enumerate(need) if int(m) in pfix]
        y = yhat(a[:, need], base[need], d, env_c, cfix, off[need])
        y[~np.isfinite(y)] = 0.0  # (as _pole_data)
        x = np.ascontiguousarray(np.vstack([a[:, need], y]).T)
        ax = np.abs(x)
        for sh in np.unique(i):  # (one shift at a time: the gathers stay ≤ the block's size)
            on = i == sh
            ck, cl = np.searchsorted(need, k[on]), np.searchsorted(need, l[on])
            val = np.abs(np.einsum("ij,ij->i", x[ck], x[cl])) + gam * np.einsum("ij,ij->i", ax[ck], ax[cl])
            gnear[k[on], sh] = val * (1 + 4 * EPS)


def _row_error(a, mu, d, env_c, site_rows, is_soft, pole_idx, fix, base, off) -> np.ndarray:
    """|readout − W ŷ| on the observed site rows (0 on the probe rows and the soft modes, whose
    rows are their columns'), plus W ŷ's rounding and W's: (n, N)."""
    readout, which, w_rows, dw = site_rows
    readout = np.asarray(readout, float)
    n = mu.size
    out = np.zeros_like(readout)
    if not len(which):
        return out
    w_rows, dw = np.asarray(w_rows, float), np.asarray(dw, float)
    gam = 1.01 * (w_rows.shape[1] + 2) * EPS
    aw = np.abs(w_rows)
    pfix = dict(zip(pole_idx.tolist(), fix))
    step = max(16, (1 << 20) // max(d.size, 1))  # (ŷ blocks of ≤ 8 MB: review s11b saw 32 MB temporaries)
    for s in range(0, n, step):
        k = np.arange(s, min(s + step, n))
        fx = [(c, pfix[int(kk)][1], pfix[int(kk)][2]) for c, kk in enumerate(k) if int(kk) in pfix]
        y = yhat(a[:, k], base[k], d, env_c, fx, off[k])
        y[~np.isfinite(y)] = 0.0
        ay = np.abs(y)
        err = np.abs(readout[np.ix_(which, k)] - w_rows @ y) + (gam * (aw @ ay) + dw @ ay) * (1 + 1e-9)
        err[:, is_soft[k]] = 0.0
        out[np.ix_(which, k)] = err
    return out
