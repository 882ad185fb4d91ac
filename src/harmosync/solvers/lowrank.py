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

Soft modes (μ_k < SOFT·max μ, :func:`soft_modes`) are left out of the compression: the
skeleton basis spans the other modes only ([floor, hi]), and each soft mode gets a column of its
own, the unit vector e_k, with its kernels 1/(μ_k + ζ_q) exact (:func:`soft_core`; the constant
function is then e_0 + Σ_k e_k). Why: the compression's error is absolute, ~ID_TOL/(floor + ζ)
at every mode, and a soft kernel ~1/μ_0 multiplies it in the pairs (k, 0) of X: summed over the
poles that is ~ID_TOL·|g′(μ_0)| ∝ μ_0^{-3/2} at T = 0 (1e-10 of σ at Ω0 = 1e-4, 6e-6 at 2.8e-6
on a free chain; docs/conventions.md). With a floor ≥ SOFT·max μ, the relative error of the
divided differences g[μ_k, μ_l] the core holds stays ≲ ID_TOL/SOFT.

Error bounds. ``bound``: spectral norm of the neglected part of Δ (scaled coordinates):
    ε_rule·(2 + κ_x + κ_p)   (pole rule, κ_x = √(λmax(V)/λmin(V_0)), κ_p = √(λmax(V_0)/λmin(V)))
  + Σ_q |ω_q|(w_max + ζ_q/w_min)·η_q·(…)   (skeleton compression, η_q measured at every μ_k)
  + Σ |dropped eigenvalues|.
``readout_bound`` (given the observed rows r_a of U): a bound on every entry of the observed
covariance at every time, derived mode by mode in the unscaled brackets B_x, B_p (Δ_qq =
W½B_xW½, Δ_pp = W-½B_pW-½), where the W^½ scaling cancels against the readout: an error e_x in
B_x reaches σ(t) through |u| ≤ ρ_x = max_a |r_a|·max(1, w), an error e_p in B_p through
ρ_p = max_a |r_a|·max(1, 1/w), and |uᵀev| ≤ ρᵀ|e|ρ. Then
  * skeleton: per pole, d̃⊗d̃ − d⊗d = e⊗d + d⊗e + e⊗e with e_k = d̃_k − d_k measured at every
    μ_k; the sums over modes collapse to P-vectors |A|(ρ∘e), |A|(ρ∘d), |Ψ|(ρ∘e), |Ψ|(ρ∘d);
  * pole rule: |g − r| ≤ ε_r·g at the eigenvalues of V and V_0 (ε_r measured there), so
    −ε_r g(V_0) ≼ δ(V_0) ≼ ε_r g(V_0) and |uᵀUᵀδ(V_0)Uv| ≤ ε_r(Σ_k ρ_k √G_kk)², G = Uᵀg(V_0)U
    (its diagonal from Δ itself), plus Σ_k ρ_k² ε_r g(μ_k) for δ(V); the same with g_p = x·g;
  * dropped eigenvalues: Σ|λ|·max_a max(Σ_k r_ak²/w_k, Σ_k r_ak² w_k);
  * roundoff of the factorisation (QR, forming the core, its eigh, Q·vec): a posteriori and
    componentwise (:func:`core_roundoff`), from the computed residuals of QT ≈ G and of the core's
    eigendecomposition, read out through q = |Q|ᵀρ_s (ρ_s = max_a |r_a|·max(w^-½, w^½));
  * roundoff of the bracket's data Ψ and H_ζ (:func:`input_roundoff`), read out as the skeleton's.

The rest of the evolution's error bound (harmosync.dynamics.normal_modes, "Error bound") is in
:mod:`.roundoff`: the eigenvalues' enclosures, what their errors do, the trig sums' rounding.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .roundoff import _gam, clustered_readout, mode_clusters
from .stieltjes import PoleRule, kernel_basis, kernel_errors, rule_relative_error, snap_interval, variance_function

#: modes with μ_k < SOFT·max μ are soft: their kernels 1/(μ_k + ζ) enter Δ exactly, outside the
#: skeleton compression, whose error (absolute, ~ID_TOL/(floor + ζ) at every mode) would meet
#: a soft kernel ~1/μ_k in the pairs with it: ~ID_TOL·μ_k^{-3/2} (docs/conventions.md)
SOFT = 1e-4
#: at most this many soft modes (the lowest) are taken exactly
SOFT_MAX = 512
#: the long-double core (core_roundoff's ``exact``) is formed only up to this many pole-product
#: numbers (poles × (2P)², ~500 poles: P ≤ 32); beyond, core_roundoff keeps its worst-case term
EXACT_CORE_MAX = 1 << 21
#: the bound's resolvent table 1/(μ_k + ζ_q) is formed once (and shared by the skeleton and
#: input-rounding terms) up to this many numbers; beyond, each forms it block by block
SHARED_RESOLVENT = 1 << 20

@dataclass(frozen=True)
class LowRank:
    values: np.ndarray  # (R,)
    vectors: np.ndarray  # (2, N, R): q and p parts
    bound: float  # spectral-norm bound on the neglected part of Δ (see module docstring)
    rule: PoleRule
    skeleton: int  # number of skeleton poles kept
    readout_bound: float | None = None  # bound on any observed covariance entry (docstring) for |t| ≤ t_max
    # tol → the same Δ with the pairs above tol·max(1, ‖Δ‖) (its eigendecomposition, factors and
    # long-double core shared; holds them: not to be kept)
    again: object = field(default=None, repr=False)
    drop_bound: float = 0.0  # the dropped pairs' share of readout_bound (_dropped_error), at most


def block2(a, b, c, d) -> np.ndarray:
    """np.block([[a, b], [c, d]]) for 2-D blocks, by slice assignment (np.block's checks cost
    ~0.1 ms a call, several per network of a map): the same array."""
    out = np.empty((a.shape[0] + c.shape[0], a.shape[1] + b.shape[1]), np.result_type(a, b, c, d))
    out[: a.shape[0], : a.shape[1]], out[: a.shape[0], a.shape[1]:] = a, b
    out[a.shape[0]:, : a.shape[1]], out[a.shape[0]:, a.shape[1]:] = c, d
    return out


_PROBE_SPECTRA: dict = {}  # V_S's bytes → its spectrum (_probe_spectrum): a map's networks share V_S


def _probe_spectrum(vs: np.ndarray):
    """(eigenvalues, (eigenvalues, eigenvectors)) of the probes' potential matrix V_S, ascending,
    remembered for the last few. Coupled probes (V_S not diagonal) up to JACOBI_MAX of them: by
    cyclic Jacobi in extended precision (:func:`jacobi_eigh`), to the eigenvalues' relative
    accuracy, which g(V_S) ~ T/ω² needs: LAPACK's eigh is accurate to ε‖V_S‖, and a soft probe's
    eigenvalue 1.2e-8 beside 2.4e-3 came out 2e-12 off, 6e-7 in σ, 7× the bound (review of
    session 17). Beyond JACOBI_MAX, and diagonal V_S (exact), LAPACK's."""
    key = (vs.shape, vs.tobytes())
    hit = _PROBE_SPECTRA.get(key)
    if hit is None:
        off = vs - np.diag(np.diag(vs))
        if np.any(off) and vs.shape[0] <= JACOBI_MAX:
            val, vec = jacobi_eigh(vs)
            hit = (val.copy(), (val, vec))
        else:
            hit = (np.linalg.eigvalsh(vs), np.linalg.eigh(vs))
        for arr in (hit[0], *hit[1]):
            arr.setflags(write=False)
        if len(_PROBE_SPECTRA) >= 16:
            _PROBE_SPECTRA.clear()
        _PROBE_SPECTRA[key] = hit
    return hit


#: coupled probes up to this many get their V_S spectrum by extended-precision Jacobi
JACOBI_MAX = 64


def jacobi_eigh(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) and orthonormal eigenvectors of the symmetric ``a`` (P × P) by the
    cyclic Jacobi method in extended precision, rotated until every off-diagonal entry is below
    ε_ld·√|a_ii a_jj| (Demmel & Veselić, SIAM J. Matrix Anal. Appl. 13, 1204 (1992): relative
    accuracy for scaled diagonally dominant matrices, as V_S = diag(ω²) + λL is), rounded to
    double. The rotation of Golub & Van Loan, Matrix Computations, Alg. 8.5.2."""
    ld = np.longdouble
    m = np.array(a, dtype=ld)
    p = m.shape[0]
    v = np.eye(p, dtype=ld)
    eps = ld(np.finfo(ld).eps)
    for _ in range(64):
        rotated = False
        for i in range(p - 1):
            for j in range(i + 1, p):
                aij = m[i, j]
                if abs(aij) <= eps * np.sqrt(abs(m[i, i] * m[j, j])):
                    m[i, j] = m[j, i] = 0
                    continue
                rotated = True
                theta = (m[j, j] - m[i, i]) / (2 * aij)
                t = (1 if theta >= 0 else -1) / (abs(theta) + np.sqrt(theta * theta + 1))
                c = 1 / np.sqrt(t * t + 1)
                s = t * c
                mi, mj = m[:, i].copy(), m[:, j].copy()
                m[:, i], m[:, j] = c * mi - s * mj, s * mi + c * mj
                mi, mj = m[i, :].copy(), m[j, :].copy()
                m[i, :], m[j, :] = c * mi - s * mj, s * mi + c * mj
                vi, vj = v[:, i].copy(), v[:, j].copy()
                v[:, i], v[:, j] = c * vi - s * vj, s * vi + c * vj
        if not rotated:
            break
    val = np.diag(m)
    order = np.argsort(val, kind="stable")
    return val[order].astype(float), v[:, order].astype(float)


_ENV_TABLES: list = []  # (V_E's eigenvalues, poles, 1/(d_j + ζ_q)): a map's networks share both

def _environment_table(env_d: np.ndarray, poles: np.ndarray) -> np.ndarray | None:
    """1/(d_j + ζ_q) (n_q, M) for double V_E eigenvalues and poles, remembered for the last few
    pairs (compared by value: a copy of each is kept); None for other dtypes or beyond
    SHARED_RESOLVENT numbers."""
    if env_d.dtype != float or poles.dtype != float or env_d.size * poles.size > SHARED_RESOLVENT:
        return None
    for d, z, table in _ENV_TABLES:
        if d.shape == env_d.shape and z.shape == poles.shape and np.array_equal(d, env_d) and np.array_equal(z, poles):
            return table
    table = 1.0 / (env_d[None, :] + poles[:, None])
    table.flags.writeable = False
    del _ENV_TABLES[3:]
    _ENV_TABLES.insert(0, (env_d.copy(), poles.copy(), table))
    return table

def environment_resolvents(env_d: np.ndarray, env_c: np.ndarray, poles: np.ndarray) -> np.ndarray:
    """H_ζ = Σ_j c_j c_jᵀ/(d_j + ζ) for every pole: (n_q, P, P). The table 1/(d_j + ζ) is the
    same for a map's networks (:func:`_environment_table`)."""
    p = env_c.shape[0]
    outer = (env_c[:, None, :] * env_c[None, :, :]).reshape(p * p, -1)  # (P², M)
    out = np.empty((poles.size, p * p), np.result_type(env_c, poles))  # long double in, long double out
    table = _environment_table(np.asarray(env_d), np.asarray(poles))
    for start in range(0, poles.size, 128):
        sl = slice(start, start + 128)
        out[sl] = (1.0 / (env_d[None, :] + poles[sl, None]) if table is None else table[sl]) @ outer.T
    return out.reshape(poles.size, p, p)

def symmetric_norms(h: np.ndarray) -> np.ndarray:
    """Spectral norms ‖H_q‖₂ = max |λ(H_q)| of symmetric matrices h (n_q, P, P). For P ≤ 2 in
    closed form, |a + d|/2 + √(((a − d)/2)² + b²) (≈ 20× cheaper than an SVD per matrix), raised
    by 8ε relative, which covers its rounding (a few ε): never below the norm."""
    p = h.shape[-1]
    if p == 1:
        return np.abs(h[:, 0, 0])
    if p > 2:
        return np.linalg.norm(h, 2, axis=(1, 2))
    a, b, d = h[:, 0, 0], 0.5 * (h[:, 0, 1] + h[:, 1, 0]), h[:, 1, 1]
    return (0.5 * np.abs(a + d) + np.hypot(0.5 * (a - d), b)) * (1 + 8 * np.finfo(float).eps)

_RULE_ERRORS: dict = {}  # (rule's poles and weights, T, V_E's eigenvalues) → their ε_r

def _environment_rule_error(rule: PoleRule, env_d: np.ndarray, temperature: float) -> float:
    """:func:`.stieltjes.rule_relative_error` at V_E's eigenvalues, remembered: the networks of a
    map or sweep share their chain and (snapped interval) rule, so ε_r there is the same for all
    (the maximum over the union of points is the larger of the two parts', exactly)."""
    key = (rule.poles.tobytes(), rule.weights.tobytes(), float(rule.constant), float(temperature),
           np.asarray(env_d, float).tobytes())
    err = _RULE_ERRORS.get(key)
    if err is None:
        err = rule_relative_error(rule, env_d, temperature)
        if len(_RULE_ERRORS) >= 8:
            _RULE_ERRORS.clear()
        _RULE_ERRORS[key] = err
    return err

_POLE_PRODUCTS: dict = {}  # id(coef) → (coef, ω, ζ, products): a map's networks share the basis

def _pole_products(coef, omega, zeta) -> dict:
    """The cores' network-independent factors for the weights of B_x (ω) and B_p (−ω·ζ): each
    as (weights, cc·weights, coef·weights), cc[(s, t), q] = coef[s, q]·coef[t, q]. Remembered
    for the last few bases (``stieltjes.kernel_basis`` hands the same arrays to every network
    of a map whose spectra snap to one interval): the same numbers, computed once."""
    key = (id(coef), id(omega), id(zeta))
    hit = _POLE_PRODUCTS.get(key)
    if hit is not None and hit[0] is coef and hit[1] is omega and hit[2] is zeta:
        return hit[3]
    r1 = coef.shape[0]
    cc = (coef[:, None, :] * coef[None, :, :]).reshape(r1 * r1, -1)  # (s t, q)
    out = {}
    for name, weights in (("x", omega), ("p", -omega * zeta)):
        out[name] = (weights, cc * weights, coef * weights)
    if len(_POLE_PRODUCTS) >= 4:
        _POLE_PRODUCTS.clear()
    _POLE_PRODUCTS[key] = (coef, omega, zeta, out)  # the arrays kept: their ids stay theirs
    return out

#: a mode this close (relative) above the soft cut's last one is soft too (soft_modes)
SOFT_GAP = 1e-4


def soft_modes(mu) -> np.ndarray:
    """Indices of the soft modes, μ_k < SOFT·max μ (at most SOFT_MAX, the lowest), ascending; the
    cut then moves up past each mode within SOFT_GAP (relative) of the one before (up to 64 more):
    a nearly degenerate pair the cut split left its split as the refined one's gap to the rest
    (review s9: 6e7×), and a window of fixed width only moved the split to its edge (2.5e12×,
    review s9b); a gap ≥ 1e-4 beyond the last soft mode keeps the bound within ~30×."""
    mu = np.asarray(mu, float)
    soft = np.flatnonzero(mu < SOFT * float(mu.max(initial=0.0)))
    if soft.size > SOFT_MAX:
        soft = soft[np.argsort(mu[soft], kind="stable")[:SOFT_MAX]]
    if soft.size:  # the cut moved up past every mode within SOFT_GAP (relative) of the last one
        above = np.flatnonzero(mu >= float(mu[soft].max()))
        above = above[np.argsort(mu[above], kind="stable")]
        steps = np.diff(mu[above]) <= SOFT_GAP * np.abs(mu[above][1:])
        n = int(np.argmin(np.append(steps, False)))  # the run of close steps from the top
        soft = np.union1d(soft, above[:min(n, 64) + 1])
    return np.sort(soft)

def soft_core(k, coef, weights, p0, ds, ys, m1, m2) -> np.ndarray:
    """The core of Δ's bracket for the factor [F, E]: F the skeleton columns (zero on the soft
    modes), E the soft modes' unit columns e_j. ``k`` (r1, 2P, r1, 2P): the core between the
    skeleton functions (constant first); ``ds`` (S, n_q) the soft modes' exact kernels
    1/(μ_j + ζ_q), ``ys`` (2P, S) their y = (a, ψ); ``weights`` (n_q,) or None (no pole terms);
    ``p0`` (2P, 2P) the constant·constant term. The function 1 is now e_0 + Σ_j e_j, so the
    soft modes meet the M2 and p0 terms as the constant does. Returns (r1·2P + S)², in ``k``'s
    dtype (long double for :func:`core_roundoff`'s a-posteriori check)."""
    r1, q2 = k.shape[0], k.shape[1]
    s = ds.shape[0]
    g_ns = np.zeros((r1, q2, s), k.dtype)
    g_sn = np.zeros((s, r1, q2), k.dtype)
    g_ss = ys.T @ p0 @ ys
    g_ns[0] += p0 @ ys
    g_sn[:, 0] += ys.T @ p0
    if weights is not None:
        cw, dw = coef * weights, ds * weights
        m1y, m2y = np.einsum("qil,lj->qij", m1, ys), np.einsum("qil,lj->qij", m2, ys)
        ym1, ym2 = np.einsum("ij,qil->qjl", ys, m1), np.einsum("ij,qil->qjl", ys, m2)
        g_ns += np.einsum("aq,jq,qij->aij", cw, ds, m1y, optimize=True) + np.einsum("aq,qij->aij", cw, m2y)
        g_sn += np.einsum("jq,bq,qjl->jbl", dw, coef, ym1, optimize=True)
        g_sn[:, 0] += np.einsum("jq,qjl->jl", dw, ym2)
        g_ss += (np.einsum("jq,kq,qjl,lk->jk", dw, ds, ym1, ys, optimize=True)
                 + np.einsum("jq,qjl,lk->jk", dw, ym2, ys, optimize=True))
    dim = r1 * q2
    return block2(k.reshape(dim, dim), g_ns.reshape(dim, s), g_sn.reshape(s, dim), g_ss)

def orthogonal_factor(f, scale, soft, *, divide: bool = False):
    """(Q, T) with Q orthonormal and Q·T = diag(scale)·[f, E] (``divide``: diag(scale)⁻¹; E the
    unit columns of the modes ``soft``, on whose rows f vanishes): a QR of the other rows, E's
    columns exactly."""
    scaled = f / scale[:, None] if divide else scale[:, None] * f
    if not np.size(soft):
        return np.linalg.qr(scaled)
    n, dim = f.shape
    hard = np.ones(n, bool)
    hard[soft] = False
    qh, th = np.linalg.qr(scaled[hard])
    kh, s = qh.shape[1], len(soft)
    q = np.zeros((n, kh + s))
    q[hard, :kh] = qh
    q[soft, kh + np.arange(s)] = 1.0
    t = np.zeros((kh + s, dim + s))
    t[:kh, :dim] = th
    t[kh + np.arange(s), dim + np.arange(s)] = 1.0 / scale[soft] if divide else scale[soft]
    return q, t

def low_rank_delta(mu, a, vs, env_d, env_c, probe_cov, temperature: float = 0.0, *,
                   tol: float = 1e-12, h_poles=None, readout=None, t_max: float = np.inf,
                   mu_error=None) -> LowRank:
    """Low-rank Δ = Σ_r λ_r v_r v_rᵀ in scaled normal coordinates (module docstring).

    mu (N,) eigenvalues of V [frequency²]; a (P, N) probe rows of its eigenvectors; vs (P, P)
    V_S; env_d (M,) eigenvalues of V_E; env_c (P, M) = B·W_E (coupling in the environment's
    mode basis); probe_cov (2P, 2P) interleaved probe covariance; ``tol``: eigenvalues below
    tol·max(1, ‖Δ‖) are dropped. ``h_poles``: precomputed H_ζ for the rule's poles (sweeps).
    ``readout`` (n, N): the observed rows of U; gives ``readout_bound`` (module docstring).
    ``t_max`` (and the eigenvalues' errors ``mu_error``): the times that bound covers; finite,
    the readouts of Δ's factors and vectors sum near-degenerate modes with their signs first
    (:func:`.roundoff.mode_clusters`).
    """
    mu = np.asarray(mu, float)
    a = np.atleast_2d(np.asarray(a, float))
    p, n = a.shape
    w = np.sqrt(mu)
    vs = np.asarray(vs, float)
    vs_eig, (s_eig, s_vec) = _probe_spectrum(vs)
    lo = min(float(mu.min()), float(env_d.min()) if env_d.size else np.inf, float(vs_eig.min()))
    hi = max(float(mu.max()), float(env_d.max()) if env_d.size else 0.0, float(vs_eig.max()))
    soft = soft_modes(mu)
    hard = np.ones(n, bool)
    hard[soft] = False
    floor = snap_interval(float(mu[hard].min()), hi)[0] if soft.size else None
    rule, skel, coef = kernel_basis(*snap_interval(lo, hi), float(temperature), floor=floor)
    zeta, omega = rule.poles, rule.weights
    if h_poles is None:
        h_poles = environment_resolvents(env_d, env_c, zeta)

    psi = a * mu[None, :] - vs @ a
    y = np.vstack([a, psi])  # (2P, N): rows are the functions a_i(k), ψ_i(k)
    r1 = skel.size + 1
    funcs = np.vstack([np.ones(n), 1.0 / (mu[None, :] + zeta[skel, None])])  # (r1, N)
    funcs[:, soft] = 0.0  # the soft modes have columns of their own (exact kernels)
    f = (funcs[:, None, :] * y[None, :, :]).reshape(r1 * 2 * p, n).T  # (N, r1·2P), col = (s, i)

    # per-pole 2P × 2P blocks: M1 = [[H, 1], [0, 0]] (between e_s, e_s'), M2 = [[0, 0], [R, 0]]
    # (between e_s and the constant)
    eye = np.eye(p)
    rz = np.einsum("ik,qk,jk->qij", s_vec, 1.0 / (s_eig[None, :] + zeta[:, None]), s_vec)
    m1 = np.zeros((zeta.size, 2 * p, 2 * p))
    m1[:, :p, :p] = h_poles
    m1[:, :p, p:] = eye
    m2 = np.zeros((zeta.size, 2 * p, 2 * p))
    m2[:, p:, :p] = rz

    weighted = _pole_products(coef, omega, zeta)  # {weights: (cc·weights, coef·weights)}
    m1f, m2f = m1.reshape(zeta.size, -1), m2.reshape(zeta.size, -1)
    pc = np.asarray(probe_cov, float)
    pxx, pxp, ppp = pc[0::2, 0::2], pc[0::2, 1::2], pc[1::2, 1::2]
    gx_s = (s_vec * variance_function(s_eig, temperature)) @ s_vec.T  # g(V_S), g_p(V_S)
    gp_s = (s_vec * (s_eig * variance_function(s_eig, temperature))) @ s_vec.T
    zero = np.zeros((p, p))
    # the constant·constant terms: the probes' own part Aᵀ(σ − g(V_S))A, the rule's constant
    p0x = block2(pxx - gx_s, zero, zero, zero)
    p0p = block2(ppp - gp_s, -rule.constant * eye, -rule.constant * eye, zero)
    p0qp = block2(pxp, zero, zero, zero)
    soft_kern = (1.0 / (mu[soft, None] + zeta[None, :]), y[:, soft], m1, m2)

    def core(which, p0, ld=False):
        # ld: the same sums in long double from the same double data (core_roundoff's check)
        k = np.zeros((r1, 2 * p, r1, 2 * p), np.longdouble if ld else float)
        weights, kern, cf = None, soft_kern, coef
        if ld:
            kern = (1 / (mu[soft, None].astype(np.longdouble) + zeta),
                    *(x.astype(np.longdouble) for x in soft_kern[1:]))
            cf, p0 = coef.astype(np.longdouble), p0.astype(np.longdouble)
        if which is not None:
            weights, ccw, coefw = weighted[which]
            mf1, mf2 = m1f, m2f
            if ld:
                weights = omega.astype(np.longdouble) * (1 if which == "x" else -zeta.astype(np.longdouble))
                ccw = (cf[:, None, :] * cf[None, :, :]).reshape(r1 * r1, -1) * weights
                coefw, mf1, mf2 = cf * weights, m1f.astype(np.longdouble), m2f.astype(np.longdouble)
            k = (ccw @ mf1).reshape(r1, r1, 2 * p, 2 * p).transpose(0, 2, 1, 3).copy()
            k[:, :, 0, :] += (coefw @ mf2).reshape(r1, 2 * p, 2 * p)
        k[0, :, 0, :] += p0
        return soft_core(k, cf, weights, p0, *kern) if soft.size else k.reshape(r1 * 2 * p, -1)

    kx = core("x", p0x)
    kp = core("p", p0p)
    kqp = core(None, p0qp)

    sw = np.sqrt(w)
    qx, tx = orthogonal_factor(f, sw, soft)
    qp, tp = orthogonal_factor(f, sw, soft, divide=True)

    def bracket(kx, kqp, kp, tx, tp):
        c = block2(tx @ kx @ tx.T, tx @ kqp @ tp.T, tp @ kqp.T @ tx.T, tp @ kp @ tp.T)
        return 0.5 * (c + c.T)

    exact_memo: list = []
    # the long-double core's pole products are poles × (2P)² numbers a core, summed outside BLAS:
    # many probes (P = 120: 4 GB, 40 s; P = 300 ran out of 24 GB, review s22b) keep the worst case
    affordable = zeta.size * (2 * p) ** 2 <= EXACT_CORE_MAX

    def exact_core():  # c in long double, for core_roundoff when its worst case dominates (once)
        if not exact_memo:
            ks = (core("x", p0x, True), core(None, p0qp, True), core("p", p0p, True))
            exact_memo.append(bracket(*ks, tx.astype(np.longdouble), tp.astype(np.longdouble)))
        return exact_memo[0]

    c = bracket(kx, kqp, kp, tx, tp)
    lam, vec = np.linalg.eigh(c)
    split = qx.shape[1]

    # ---- error bound (module docstring): the parts that do not depend on which pairs are kept
    kern = (zeta, skel, coef, h_poles, rz)
    if readout is None:
        eta = kernel_errors(mu[hard], zeta, skel, coef)
    else:
        rows = np.atleast_2d(np.asarray(readout, float))
        r = np.abs(rows).max(axis=0) if rows.size else np.zeros(n)
        rho_x, rho_p = r * np.maximum(1.0, w), r * np.maximum(1.0, 1.0 / w)
        inv = 1.0 / (mu[:, None] + zeta) if mu.size * zeta.size <= SHARED_RESOLVENT else None
        e_skel, eta = skeleton_error(mu, a, psi, kern, (np.abs(omega), np.abs(omega * zeta)),
                                     (rho_x, rho_p), exact=soft, inv=inv)
    mu_lo, mu_hi = float(mu.min()), float(mu.max())
    v0_lo = min(float(env_d.min()) if env_d.size else np.inf, float(vs_eig.min()))
    v0_hi = max(float(env_d.max()) if env_d.size else 0.0, float(vs_eig.max()))
    kappa = np.sqrt(mu_hi / v0_lo) + np.sqrt(v0_hi / mu_lo)
    e_rule = rule.error * (2.0 + kappa)
    nb = float(np.linalg.norm(env_c, 2)) if env_c.size else 0.0
    nh = symmetric_norms(h_poles) if p else np.zeros(zeta.size)
    nd = 1.0 / (mu_lo + zeta)
    nr = 1.0 / (float(s_eig.min()) + zeta)
    per_pole = eta * (2 * nd * (nb + nh) + eta * (nb + nh) + nb * nr)
    e_id = float(np.sum(np.abs(omega) * (w.max() + zeta / w.min()) * per_pole))
    if readout is not None:
        gx, gp = variance_function(mu, temperature), mu * variance_function(mu, temperature)
        eps_r = max(rule_relative_error(rule, np.concatenate([mu, vs_eig]), temperature),
                    _environment_rule_error(rule, env_d, temperature))
        rho_s = r * np.maximum(1 / sw, sw)
        factors = ((qx, tx, sw[:, None] * f), (qp, tp, f / sw[:, None]))
        signed = np.vstack([rows / sw, rows * sw])  # every observed x and p row, in scaled coordinates

    def kept_at(tol_):  # Δ with the pairs above tol_·max(1, ‖Δ‖), and its bound
        small = np.abs(lam) <= tol_ * max(1.0, float(np.abs(lam).max(initial=0.0)))
        keep = np.flatnonzero(~small)
        vq = qx @ vec[:split, keep]
        vp = qp @ vec[split:, keep]
        dropped = float(np.abs(lam[small]).sum())
        out = LowRank(lam[keep], np.array([vq, vp]), e_rule + e_id + dropped, rule, int(skel.size))
        if readout is None:
            return out
        # diagonals of G = Uᵀg(V_0)U and G_p = Uᵀg_p(V_0)U from Δ (kept part) and the probe block
        gx0 = gx + (vq**2) @ lam[keep] / w - np.einsum("ik,ij,jk->k", a, pxx - gx_s, a)
        gp0 = gp + (vp**2) @ lam[keep] * w - np.einsum("ik,ij,jk->k", a, ppp - gp_s, a)
        e_rule_r = eps_r * (float(rho_x @ np.sqrt(np.maximum(gx0, 0))) ** 2 + float(rho_x**2 @ gx)
                            + float(rho_p @ np.sqrt(np.maximum(gp0, 0))) ** 2 + float(rho_p**2 @ gp))

        drops = []  # the dropped pairs' bounds formed (the smallest: what dropping them may cost)

        def core_bound(q, read):  # (the dropped pairs' bound in it)
            e_drop = _dropped_error(readout, w, lam[small], qx, qp, vec[:split, small], vec[split:, small],
                                    read=read)
            drops.append(e_drop)
            return core_roundoff(rho_s, q, factors, (kx, kqp, kp), (c, lam, vec, keep), (vq, vp),
                                 zeta.size + 2 * p + 4, exact=exact_core if affordable else None,
                                 others=e_skel + e_rule_r,
                                 unit_rows=soft, dropped=e_drop, read=read)

        # the readout bound for |τ| ≤ t_max: mode by mode, then with the near-degenerate runs
        e_core = core_bound(np.concatenate([rho_s @ np.abs(qx), rho_s @ np.abs(qp)]), None)
        runs = mode_clusters(w, t_max, mu_error) if rows.size else None
        if runs is not None:  # then with the runs' readouts: both honest, the smaller kept (the runs'
            # small q can spoil its λmax estimate and switches; the long-double core is formed once)
            def read(vx, vp):  # max_(a, τ) |u_a(τ)ᵀ(v_x, v_p)| column by column (vp None: zero)
                plain = np.abs(vx) if vp is None else np.abs(vx) + np.abs(vp)
                return clustered_readout(signed, vx, vp, plain, runs).max(axis=0, initial=0.0)

            # q: Q's x and p blocks, each against its own part of u_a(τ) (either trig factor)
            e_core = min(e_core, core_bound(np.concatenate([read(qx, None), read(qp, None)]), read))
        e_in = input_roundoff(mu, a, vs, psi, env_d, env_c, kern, (np.abs(omega), np.abs(omega * zeta)),
                              (rho_x, rho_p), others=e_skel + e_rule_r + e_core, inv=inv)
        return LowRank(out.values, out.vectors, out.bound, rule, out.skeleton,
                       float(e_skel + e_rule_r + e_core + e_in), kept_at, min(drops))

    return kept_at(tol)


def core_roundoff(rho, q, factors, cores, eig, vectors, kterms: int = 0, *, exact=None,
                  others: float = 0.0, unit_rows=(), dropped: float | None = None, read=None) -> float:
    """Bound on what the roundoff of Δ's factorisation does to every observed covariance entry
    [units of σ]: a posteriori residuals, read out componentwise. Exactly, Δ = G K Gᵀ with G =
    blkdiag(diag(√w)[F, E], diag(1/√w)[F, E]) (``factors``: (Q, T, G without E's exact columns)
    per block) and K = [[K_x, K_qp], [K_qpᵀ, K_p]] (``cores``). Computed: Q, T (QR: QT ≈ G),
    c = fl(T K Tᵀ) symmetrised, (λ, V) = eigh(c) (``eig`` = (c, λ, V, kept columns)) and
    v = fl(Q V) (``vectors``). A readout u(t) (|u| ≤ ``rho`` mode by mode, q and p parts
    together: module docstring) meets the core through w = Qᵀu: |w| ≤ ``q`` = |Q|ᵀρ, ‖w‖ ≤ ‖ρ‖.
    The rounding of an n-term sum is bounded by γ_n = nε_u/(1 − nε_u) of its sum of |terms|
    (ε_u = ε/2; Higham, Accuracy and Stability, §3.1: the worst case, so that the bound is a
    bound; the probabilistic 2√n·ε_u of Higham & Mary 2019 would be ~2× tighter on near-critical
    networks, but is not guaranteed; measured here ≤ 3ε_u·Σ|terms|, tests/test_bound_tightness.py).
    Then
      * core and eigh: VΛVᵀ − TKTᵀ = R + (c − TKTᵀ), R = VΛVᵀ − c computed (its sums err by
        γ_{d+2}(|V||Λ||V|ᵀ + |c|)); c's products (inner size m, then the average) and K's own
        pole sums (``kterms`` terms; |K| for their sum of |terms|, equal where measured) add
        γ_{2m+2+kterms}|T||K||T|ᵀ. X ≥ 0 bounding all this entrywise (symmetric): |w_aᵀXw_b| ≤
        min(qᵀXq, ‖ρ‖²λmax(X)), λmax(X) ≤ max_i (Xz)_i/z_i for z > 0 (Collatz–Wielandt);
      * QR: δ = QT − G computed (plus γ_{d+2}(|Q||T| + |G|), and 6ε_u|G| for forming G),
        s = ρᵀ|δ|: QTK(QT)ᵀ − GKGᵀ = δK(QT)ᵀ + QTKδᵀ − δKδᵀ reads out ≤ 2sᵀ|KTᵀ|q + sᵀ|K|s;
      * v = QV: |δv_r| ≤ γ_d|Q||V_r|: Σ_r |λ_r|(2s_r z_r + s_r²), s_r = γ_d qᵀ|V_r|,
        z_r = ρᵀ|v_r|.
    When R's own rounding γ_{d+2}(|V||Λ||V|ᵀ + |c|) is more than half of this bound and of
    ``others`` (the rest of Δ's bound) together (near-critical squeezed probes: Δ's eigenvalue
    ~e^{2r}/w_0 on a soft mode, whose x row reads it ~1/w_0 times smaller, 1.1 of a 2.2 bound
    against an error 1e-3), R is formed in long double from the same double V, Λ, c:
    γ'_{d+2} (ε_u' = 2⁻⁶⁴) instead, plus the rounding of |R'| to double. And v = QV is exact
    on the rows of Q that are a unit vector (``unit_rows``: the soft modes, whose rows hold
    only their own column of E: one term, 1·V_jr): those rows carry no γ_d.
    When the worst case γ_{2m+2+kterms}|T||K||T|ᵀ is more than half of this bound and of
    ``others`` together (chains at T > 0: kterms ≈ 350–500), ``exact``()
    gives c formed from the same data in long double (ε_u' = 2⁻⁶⁴), and c's actual error
    |c − c'| (a posteriori) plus γ'_{2m+2+kterms}|T||K||T|ᵀ replaces it (the smaller of the two
    bounds is kept; c itself, hence the moments, unchanged; 5–50 ms).
    Why componentwise: with a thermal soft mode Δ has an eigenvalue ~T/Ω_0 on that mode's own
    column, which the probes barely read; a normwise dim·ε·‖Δ‖ charged it to every observed
    entry, 1000× the error (the eigh's actual residual R is what is left, read out there).
    ``dropped``: the bound the caller has for the eigenpairs left out of Δ (:func:`_dropped_error`);
    given, the bound is the smaller of this one plus ``dropped`` and this one on the kept pairs'
    residual R_k = V_kΛ_kV_kᵀ − c alone, which holds the dropped pairs exactly: eigh's normwise
    backward error ε‖c‖ on a hot soft probe (λ ~ T/w ~ 6e6) leaves noise eigenpairs ~1e-9 on
    the stiff modes' columns, in R and in the dropped pairs alike, which cancel in R_k (review of
    session 17: hot stiff chains, 1e6× the error before). ``read``: a bound on max_a |u_aᵀ(v_x, v_p)|
    column by column (the vectors' z_r; default ρᵀ(|v_x| + |v_p|)), given where q and z_r are
    read row by row with the near-degenerate runs' terms summed first
    (:func:`.roundoff.clustered_readout`); v = QV's rounding, independent entry by entry, is
    read through |Q|ᵀρ all the same."""
    ulp, gam = 0.5 * np.finfo(float).eps, _gam  # the unit roundoff

    (qx, tx, gx), (qp, tp, gp) = factors
    c, lam, vec, keep = eig
    split, d = qx.shape[1], c.shape[0]
    k = block2(cores[0], cores[1], cores[1].T, cores[2])
    m = cores[0].shape[0]
    t = np.zeros((d, 2 * m))
    t[:split, :m], t[split:, m:] = tx, tp
    at, ak, ac = np.abs(t), np.abs(k), np.abs(c)
    ak = np.maximum(ak, ak.T)  # symmetric X (λmax = spectral norm)

    def readout(dc, gk, gr, av, alam):  # max |w_aᵀXw_b|, X z applied without forming |V||Λ||V|ᵀ or |T||K||T|ᵀ
        def x_apply(z):
            return (dc @ z + gr * (av @ (alam * (z @ av)) + ac @ z)
                    + gk * (at @ (ak @ (z @ at))))
        xq = x_apply(q) + 1e-300
        w2 = float(rho @ rho) * (1 + 1e-6)  # ‖Q‖ ≤ 1 + O(Nd·ε_u)
        return min(float(q @ xq), w2 * float(np.max(x_apply(xq) / xq)))

    ulp_ld = 0.5 * float(np.finfo(np.longdouble).eps)
    g_res = gam(d + 2)
    # the rounding of quantities formed entry by entry in mode space (QT − G, v = QV) is read
    # through |Q|ᵀρ: it has no signs to cancel (q, read with signs, is for Qᵀu itself)
    q_abs = np.concatenate([rho @ np.abs(qx), rho @ np.abs(qp)]) if read is not None else q
    s = np.zeros(2 * m)
    for i, (qq, tt, g) in enumerate(((qx, tx, gx), (qp, tp, gp))):
        n_f = g.shape[1]
        qt = q_abs[:split] if i == 0 else q_abs[split:]
        tf = tt[:, :n_f]
        s[i * m:i * m + n_f] = (rho @ np.abs(qq @ tf - g) + gam(d + 2) * (qt @ np.abs(tf))
                                + (gam(d + 2) + 6 * ulp) * (rho @ np.abs(g)))
    kt = np.hstack([k[:, :m] @ tx.T, k[:, m:] @ tp.T])  # K Tᵀ, T block diagonal
    e_qr = float(2 * s @ (np.abs(kt) @ q) + gam(m) * (s @ ak) @ (q @ at) + s @ ak @ s)
    zr = rho @ np.abs(vectors[0]) + rho @ np.abs(vectors[1]) if read is None else read(*vectors)
    qv = q_abs
    if np.size(unit_rows):  # their products 1·V_jr are exact: q less their share
        rows = np.asarray(unit_rows, dtype=int)
        own = np.concatenate([rho[rows] @ np.abs(qx[rows]), rho[rows] @ np.abs(qp[rows])])
        qv = np.maximum(q_abs - own, 0.0)
    av = np.abs(vec)
    sr = gam(d) * (qv @ av[:, keep])
    e_qv = float(np.abs(lam[keep]) @ (2 * sr * zr + sr**2))
    n_ld = 2 * m + kterms + 2
    g_ld = n_ld * ulp_ld / (1 - n_ld * ulp_ld)
    worst = gam(n_ld) * float((q @ at) @ ak @ (at.T @ q))  # its share, roughly
    exact_dc = []  # c's actual error against exact(), formed once for both residuals

    def eigh_term(vv, ll, av_):  # the eigh's residual VΛVᵀ − c over the pairs (vv, ll), read out
        al_ = np.abs(ll)
        res = np.abs((vv * ll) @ vv.T - c)
        res = np.maximum(res, res.T)
        gk, extra = gam(n_ld), 0.0
        e_eigh = readout(res, gk, g_res, av_, al_)
        if exact is not None and worst > 0.5 * (e_eigh + e_qr + e_qv + others):
            if not exact_dc:
                dc = np.abs(c - exact()).astype(float) * (1 + 4 * ulp)  # its own rounding, to ld and to double
                exact_dc.append(np.maximum(dc, dc.T))
            e_dc = readout(res + exact_dc[0], g_ld, g_res, av_, al_)
            if e_dc < e_eigh:
                gk, extra, e_eigh = g_ld, exact_dc[0], e_dc
        if readout(np.zeros_like(res), 0.0, g_res, av_, al_) > 0.5 * (e_eigh + e_qr + e_qv + others):
            ld = np.longdouble
            vl = vv.astype(ld)
            res_ld = np.abs((vl * ll.astype(ld)) @ vl.T - c.astype(ld)).astype(float)
            res_ld = np.maximum(res_ld, res_ld.T) * (1 + 2 * ulp)  # + its rounding to double
            e_eigh = min(e_eigh, readout(res_ld + extra, gk, gam(d + 2, ulp_ld), av_, al_))
        return (e_eigh + e_qr + e_qv) * (1 + 1e-6)  # the bound's own sums

    bound = eigh_term(vec, lam, av)
    if dropped is None:
        return bound
    bound += dropped
    if np.size(keep) < lam.size:
        bound = min(bound, eigh_term(vec[:, keep], lam[keep], av[:, keep]))
    return bound

def _dropped_error(readout, w, lam, qx, qp, cx, cp, top: int = 16, *, read=None) -> float:
    # a dropped λ v vᵀ (scaled coordinates) moves an observed entry by ≤ |λ|·(ρ_s·(|v_q| + |v_p|))²,
    # ρ_s = max_a |r_a|·max(w^-½, w^½), and by ≤ |λ|·max_a max(Σ r²/w, Σ r²w) (Cauchy–Schwarz);
    # the first needs the dropped vectors (N each): formed for the ``top`` largest |λ| only (the
    # rest, mostly rounding-level zeros, take the second) and only when that is cheap
    rows = np.atleast_2d(np.asarray(readout, float))
    if rows.size == 0 or lam.size == 0:
        return 0.0
    norms = max(float(np.max((rows**2) @ (1 / w))), float(np.max((rows**2) @ w)))
    big = np.argsort(-np.abs(lam), kind="stable")[:top]
    if w.size * cx.shape[0] * big.size > 2e7:
        return float(np.abs(lam).sum() * norms)
    rho = np.abs(rows).max(axis=0) * np.maximum(1 / np.sqrt(w), np.sqrt(w))
    vx, vp = qx @ cx[:, big], qp @ cp[:, big]
    if read is None:
        proj = rho @ (np.abs(vx) + np.abs(vp))
    else:  # the formed vectors with signs (low_rank_delta's read), their rounding γ_d|Q||c| mode by mode
        proj = read(vx, vp) + _gam(cx.shape[0]) * (rho @ (np.abs(qx) @ np.abs(cx[:, big]) + np.abs(qp) @ np.abs(cp[:, big])))
    rest = np.ones(lam.size, bool)
    rest[big] = False
    return float(np.abs(lam[big]) @ np.minimum(proj**2, norms) + np.abs(lam[rest]).sum() * norms)

def skeleton_error(mu, a, psi, kern, weights, rho, exact=(), *, inv=None):
    """(Σ_j Σ_q weights[j]_q·b_q(rho[j]), η): b_q bounds ρᵀ|X̃(ζ_q) − X(ζ_q)|ρ, the skeleton
    compression's error in the bracket (module docstring; X = D Aᵀ(Ψ + H A) D + D Ψᵀ R A, d̃ = d +
    e), for each pair of pole weights and readout norms (the x and p brackets share d and e);
    η_q = max_k e_k(ζ_q) (:func:`.stieltjes.kernel_errors`). The modes ``exact`` (the soft ones)
    carry their kernels exactly: e = 0 there. ``inv``: 1/(μ_k + ζ_q) (N, n_q) if already formed."""
    zeta, skel, coef, h_poles, rz = kern
    ay = np.abs(np.vstack([a, psi]))
    p = a.shape[0]
    kk = 1.0 / (mu[:, None] + zeta[skel])
    rows = np.vstack([ay * rh for rh in rho])  # ρ into the 2P × N side: one GEMM per block
    total, eta = 0.0, np.zeros(zeta.size)
    # the blocks' N × 128 tables in two buffers, worked in place (fresh 10 MB arrays each step
    # cost their page faults: W3's 10⁴ modes, 3 blocks); the same operations, the same numbers
    width = min(128, zeta.size)
    buf_d, buf_e = np.empty((mu.size, width)), np.empty((mu.size, width))
    for start in range(0, zeta.size, 128):
        sl = slice(start, start + 128)
        full = zeta[sl].size == width  # (a shorter last block: its own contiguous tables, as before)
        e = buf_e if full else np.empty((mu.size, zeta[sl].size))
        if inv is None:
            d = buf_d if full else np.empty((mu.size, zeta[sl].size))
            np.add(mu[:, None], zeta[sl], out=d)
            np.divide(1.0, d, out=d)
        else:
            d = inv[:, sl]
        np.matmul(kk, coef[1:, sl], out=e)
        e += coef[0, sl][None, :]
        np.subtract(d, e, out=e)
        np.abs(e, out=e)
        e[np.asarray(exact, dtype=int)] = 0.0  # (a bare () would index all of e)
        eta[sl] = e.max(axis=0, initial=0.0)
        h, rr = np.abs(h_poles[sl]), np.abs(rz[sl])
        prod_e, prod_d = rows @ e, rows @ d  # per ρ: |A|, |Ψ| against ρ∘e, ρ∘d
        for j, (wt, rh) in enumerate(zip(weights, rho)):
            ae, pe = prod_e[2 * j * p:(2 * j + 1) * p], prod_e[(2 * j + 1) * p:(2 * j + 2) * p]
            ad, pd = prod_d[2 * j * p:(2 * j + 1) * p], prod_d[(2 * j + 1) * p:(2 * j + 2) * p]
            b = (np.einsum("iq,qij,jq->q", ae, h, 2 * ad + ae)
                 + np.sum(ae * pd + pe * ad + ae * pe, axis=0)
                 + np.einsum("iq,qij,j->q", pe, rr, ay[:p] @ rh))
            total += float(wt[sl] @ b)
    return total, eta

def bracket_roundoff(mu, a, kern, weights, rho, dpsi, dh, *, inv=None) -> tuple[float, float]:
    """(Ψ's part, H's part) of Σ_j Σ_q weights[j]_q·b_q(rho[j]), b_q bounding ρᵀ|δX(ζ_q)|ρ for
    errors |δΨ| ≤ ``dpsi`` (P, N) and |δH_ζ| ≤ ``dh`` (n_q, P, P) in the bracket's data
    (X = D Aᵀ(Ψ + H A) D + D Ψᵀ R A, module docstring; linear in both, D, A, R as they are):
    with a = |A|(ρ∘d), e = dpsi·(ρ∘d), b_q = aᵀe + eᵀ|R||A|ρ (Ψ) + aᵀ·dh·a (H). ``inv``: the
    table d = 1/(μ_k + ζ_q) (N, n_q) if already formed."""
    zeta, rz = kern[0], kern[4]
    aa, p = np.abs(a), a.shape[0]
    rows = np.vstack([x * rh for rh in rho for x in (aa, dpsi)])  # ρ into the P × N side: one GEMM
    e_psi = e_h = 0.0
    for start in range(0, zeta.size, 128):
        sl = slice(start, start + 128)
        prod = rows @ (1.0 / (mu[:, None] + zeta[sl]) if inv is None else inv[:, sl])  # per ρ: |A|(ρ∘d), dpsi·(ρ∘d)
        rr = np.abs(rz[sl])
        for j, (wt, rh) in enumerate(zip(weights, rho)):
            ad, ep = prod[2 * j * p:(2 * j + 1) * p], prod[(2 * j + 1) * p:(2 * j + 2) * p]
            e_psi += float(wt[sl] @ (np.sum(ad * ep, axis=0) + np.einsum("iq,qij,j->q", ep, rr, aa @ rh)))
            e_h += float(wt[sl] @ np.einsum("iq,qij,jq->q", ad, dh[sl], ad))
    return e_psi * (1 + 1e-6), e_h * (1 + 1e-6)

def psi_rounding(mu, a, vs, psi) -> np.ndarray:
    """A bound (P, N) on |Ψ̃ − Ψ| for the computed ``psi`` of Ψ = A diag(μ) − V_S A (the double
    data exact): |Ψ̃ − Ψ'| with Ψ' in long double, plus Ψ''s own γ'_{P+2}(|A| diag(μ) + |V_S||A|)."""
    ld, ulp_ld = np.longdouble, 0.5 * float(np.finfo(np.longdouble).eps)
    size = np.abs(a) * mu + np.abs(vs) @ np.abs(a)
    exact = a.astype(ld) * mu.astype(ld) - vs.astype(ld) @ a.astype(ld)
    return np.abs(psi - exact).astype(float) * (1 + 4 * _gam(1)) + _gam(a.shape[0] + 2, ulp_ld) * size

def input_roundoff(mu, a, vs, psi, env_d, env_c, kern, weights, rho, others: float = 0.0, *, inv=None) -> float:
    """What the rounding of Ψ = A diag(μ) − V_S A and of H_ζ = Σ_j c_j c_jᵀ/(d_j + ζ)
    (:func:`environment_resolvents`) does to the observed covariance through Δ's brackets
    (:func:`bracket_roundoff`). On a soft mode d ≈ 1/μ_0 while Ψ's column (~μ_0·a) is rounded
    relative to |V_S||a|: at T > 0 this grows ~T/μ_0² (hot soft networks near their stability
    limit, which only the t = 0 checks caught before). Ψ's error a posteriori: |Ψ̃ − Ψ'| with Ψ'
    in long double (ε_u' = 2⁻⁶⁴; P·N products), plus γ'_{P+2}(|A| diag(μ) + |V_S||A|). H's: the
    worst case γ_{M+3} Σ_j |c_j||c_j|ᵀ/(d_j + ζ) (a product, a sum and a quotient per term, an
    M-term sum); when that is more than half of this bound and ``others`` together, the actual
    |H̃ − H'| (H' in long double, n_q·M·P² products) plus γ'_{M+3}·(the same sum) instead."""
    ld, ulp_ld = np.longdouble, 0.5 * float(np.finfo(np.longdouble).eps)
    m = env_d.size
    dpsi = psi_rounding(mu, a, vs, psi)
    zeta = kern[0]
    # Σ_j |c_j||c_j|ᵀ/(d_j + ζ): its diagonal is H's own (positive terms; V_E > 0), the rest
    # ≤ √(H_ii H_kk) (Cauchy–Schwarz); H's computed diagonal errs by ≤ γ_{M+3} relative
    diag = np.diagonal(kern[3], axis1=1, axis2=2) * (1 + 2 * _gam(m + 3))
    h_abs = np.sqrt(diag[:, :, None] * diag[:, None, :]) * (1 + 1e-6)
    e_psi, e_h = bracket_roundoff(mu, a, kern, weights, rho, dpsi, _gam(m + 3) * h_abs, inv=inv)
    if e_h > 0.5 * (e_psi + e_h + others):
        h_ld = environment_resolvents(env_d.astype(ld), env_c.astype(ld), zeta.astype(ld))
        dh = np.abs(kern[3] - h_ld).astype(float) * (1 + 4 * _gam(1)) + _gam(m + 3, ulp_ld) * h_abs
        e_h = min(e_h, bracket_roundoff(mu, a, kern, weights, rho, np.zeros_like(dpsi), dh, inv=inv)[1])
    return e_psi + e_h
