"""The normal modes of a quadratic network: V = U diag(μ) Uᵀ, μ_k = w_k², as much of U as a
solution needs (the probe rows and the observed rows), and a bound e_k ≥ |μ̃_k − μ_k| on each
computed μ̃_k against the eigenvalues μ_k of V built from the exact parameters.

Two paths (chosen by :func:`~harmosync.dynamics.normal_modes.solve_closed`):

* :func:`dense_spectrum`: dense ``eigh`` of V (any environment); bounds a posteriori from
  residuals and Rayleigh quotients in extended precision, the residual theorem and the
  Kato–Temple inequality, with V's own rounding from the parameters (:func:`dense_mode_errors`).
* :func:`chain_spectrum`: a homogeneous chain with fixed or free ends, from P secular equations
  in the chain's closed-form mode basis (Eqs. A6, A8; :mod:`harmosync.solvers.arrowhead`):
  O(N²) time, O(N) memory.

Either may solve the chain cut to the light cone of the probes (:func:`cut_chain`, a fixed-end
chain of the sites within reach). On both paths the soft modes (μ_k ≤ SOFT·μ_max) are
recomputed from V's parameters in Laplacian form, where no term cancels against ‖V‖
(:func:`laplacian_form`, :func:`refine_soft_modes`, :func:`refine_chain_soft`;
:mod:`harmosync.solvers.softmodes`), with their eigenvectors' residual bounds; the dense path's
other eigenvectors' errors through the residual matrix in the computed eigenbasis
(:func:`mode_perturbation`, :func:`eigenvector_roundoff`). The result, a :class:`Spectrum`, is
what :func:`~harmosync.dynamics.normal_modes.assemble` builds an evolution
from. :func:`normal_modes`: the plain dense eigh, for the references (:mod:`.reference`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..errors import NumericalError, UnstableNetworkError
from ..network import Network, chain_mode_rows, chain_modes
from ..solvers.arrowhead import arrowhead_modes, chain_mode_errors, chain_rounding
from ..solvers.lowrank import SOFT, soft_modes
from ..solvers.roundoff import eigenvalue_errors
from ..solvers.softmodes import refine_arrowhead_soft, refine_soft_vectors, soft_mode_errors


def normal_modes(network: Network) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies w (ascending) and orthonormal eigenvectors U of V (dense eigh)."""
    lam, u = np.linalg.eigh(network.potential())
    if lam[0] <= 0:  # check_stability already refuses this; guard against roundoff
        raise NumericalError(f"the potential matrix has a non-positive eigenvalue {lam[0]:.3g}")
    return np.sqrt(lam), u


@dataclass
class Spectrum:
    """The normal modes a solution is assembled from."""

    mu: np.ndarray  # (N,) squared frequencies of the network actually solved
    a: np.ndarray  # (P, N) probe rows of U
    readout: np.ndarray  # (n, N) observed rows
    env_d: np.ndarray  # (M,) squared frequencies of the (possibly cut) environment
    env_c: np.ndarray  # (P, M) coupling in the environment's mode basis
    mu_error: np.ndarray | None = None  # (N,) bounds on |μ̃_k − μ_k| (None: the worst case)
    env_rounding: tuple | None = None  # (δd (M,), δC (P, M)) bounds on env_d's, env_c's rounding
    residual: np.ndarray | None = None  # (2 or 6 + n, N) soft modes' residual bounds (softmodes.vector_roundoff)
    # a dense eigh of V_E (graphs, defect chains), its soft modes refined: W's rows at the observed
    # sites (n_E, M) and the refined modes' residual bounds η (M,; 0 elsewhere, None: none refined)
    env_rows: np.ndarray | None = None
    env_residual: np.ndarray | None = None
    # a dense eigh's eigenvector perturbation bound b (N, N) (:func:`mode_perturbation`; None: none)
    mode_bound: np.ndarray | None = None


def _attachments(network: Network, offset: int):
    return [(i, s - offset, k) for i, s, k in network.probes.attachments]


def _coupling_rows(p: int, m: int, attachments) -> tuple[np.ndarray, list[int]]:
    sites = sorted({s for _, s, _ in attachments})
    b = np.zeros((p, len(sites)))
    for i, s, k in attachments:
        b[i, sites.index(s)] += k
    return b, sites


def chain_spectrum(network: Network, rows, window) -> Spectrum:
    """The normal modes of a homogeneous chain with fixed or free ends (``window``: cut to the
    light cone, :func:`cut_chain`, or None) from P secular equations in the chain's closed-form
    mode basis (Eqs. A6, A8; :func:`~harmosync.solvers.arrowhead.arrowhead_modes`), only the
    probe rows and the observed ``rows`` of U; the soft modes recomputed from V's parameters
    (:func:`refine_chain_soft`). Modes that no probe and no observed oscillator sees are left
    out."""
    env = network.environment
    p = network.n_probes
    offset = 0 if window is None else window.lo - 1
    m = env.sites if window is None else window.sites
    boundary = env.boundary
    env_d = chain_modes(m, env.omega0, env.g, boundary, vectors=False)[0] ** 2
    b, sites = _coupling_rows(p, m, _attachments(network, offset))
    env_c = b @ chain_mode_rows(m, boundary, sites) if sites else np.zeros((p, m))
    modes = arrowhead_modes(network.probes.potential(), env_d, env_c)
    probe_rows = np.eye(p)
    obs_sites = [r - p + 1 - offset for r in rows if r >= p]
    env_rows = chain_mode_rows(m, boundary, obs_sites) if obs_sites else None
    allrows = modes.rows(probe_rows=probe_rows, env_rows=env_rows)
    a = allrows[:p]
    site_rows = allrows[p:]
    readout = np.empty((len(rows), modes.values.size))
    j = 0
    for i, r in enumerate(rows):
        if r < p:
            readout[i] = a[r]
        else:
            readout[i] = site_rows[j]
            j += 1
    rounding = chain_rounding(env_d, env_c, m, env.omega0, env.g, boundary, _attachments(network, offset))
    mu, mu_err, res = modes.values, None, None
    if soft_modes(mu).size:
        mu, a, readout, mu_err, res = refine_chain_soft(network, mu, a, readout, rows, env_d, env_c, rounding,
                                                        window)
    # modes no observed oscillator (and no probe) sees carry nothing: leave them out
    keep = np.any(a != 0, axis=0) | np.any(readout != 0, axis=0)
    if mu_err is not None:
        mu_err, res = mu_err[keep], res[:, keep]
    return Spectrum(mu[keep], a[:, keep], readout[:, keep], env_d, env_c, mu_err, rounding, res)


def refine_chain_soft(network: Network, mu, a, readout, rows, env_d, env_c, env_rounding, window=None):
    """The chain path's soft modes recomputed from V's parameters
    (:func:`~harmosync.solvers.softmodes.refine_arrowhead_soft`; the other modes' radii from
    :func:`~harmosync.solvers.arrowhead.chain_mode_errors`) and their rows. Returns (μ, probe rows
    ``a``, ``readout`` rows of ``rows``, e, (η, t)); unchanged (e, η None) when there are more soft
    modes than SOFT_MAX: refined eigenvectors beside unrefined ones of the same cluster are not
    orthogonal (σ(0) 6× further off on 3000 soft modes)."""
    p = network.n_probes
    soft = soft_modes(mu)
    if np.count_nonzero(mu < SOFT * float(mu[-1])) > soft.size:
        return mu, a, readout, None, None
    if window is None:
        cut, offset, boundary = {}, 0, network.environment.boundary
    else:
        v, diag, onsite, att = cut_chain(network, window)
        cut, offset, boundary = dict(v=v, diag=diag, onsite=onsite, attachments=att), window.lo - 1, "fixed"
    v, rounding, _, d, d_err = laplacian_form(network, **cut)
    radius = chain_mode_errors(mu, a, network.probes.potential(), env_d, env_c, env_rounding, count=128)
    local = [r if r < p else r - offset for r in rows]
    mu, err, res, y = refine_arrowhead_soft(v, p, d, d_err, rounding, mu, radius, env_d, env_c, boundary,
                                            rows=local)
    a, readout = np.array(a, float), np.array(readout, float)
    a[:, soft], readout[:, soft] = y[:p], y[local]
    return mu, a, readout, err, res


def dense_spectrum(network: Network, rows, window) -> Spectrum:
    """The normal modes of any network by a dense ``eigh`` of V (``window``: a fixed-end chain cut
    to the light cone, :func:`cut_chain`, or None), with per-mode bounds on the eigenvalues'
    errors (:func:`dense_mode_errors`) and the soft modes recomputed from V's parameters
    (:func:`refine_soft_modes`); a graph's or a defect chain's V_E likewise. Refuses a network
    whose lowest eigenvalue cannot be told from 0 (:class:`UnstableNetworkError`)."""
    env = network.environment
    p = network.n_probes
    if window is None:
        lam, u = np.linalg.eigh(network.potential())  # its sign is checked after refinement
        w, env_rounding = np.sqrt(np.maximum(lam, 0.0)), None
        env_rows = env_res = None
        if env.structured:
            env_d = chain_modes(env.sites, env.omega0, env.g, env.boundary, vectors=False)[0] ** 2
            b, sites = _coupling_rows(p, env.sites, _attachments(network, 0))
            env_c = b @ chain_mode_rows(env.sites, env.boundary, sites) if sites else np.zeros((p, env.sites))
        else:
            ew, eu = env.modes()
            env_d = ew**2
            if soft_modes(env_d).size:  # V_E's soft modes from its parameters, as V's below
                env_d, env_err, env_res = refine_soft_modes(network, env_d, eu, None, environment=True)
                env_rounding, env_res = (env_err, None), env_res[0]
            env_c = network.coupling_block() @ eu
            env_rows = eu[[r - p for r in rows if r >= p]]
        mu, err, res = refine_soft_modes(network, w**2, u, dense_mode_errors(network, w**2, u), rows=rows)
        if not mu[0] > err[0]:  # Network's check passed: positive, but not resolvable
            raise UnstableNetworkError(
                f"the network is within roundoff of its stability limit: the potential matrix's smallest "
                f"eigenvalue {mu[0]:.3g} ± {err[0]:.2g} cannot be told from 0 beside its largest {mu[-1]:.3g}; "
                "reduce the strengths K or raise the lowest frequencies")
        b = dense_mode_bound(network, mu, u, res is not None)
        return Spectrum(mu, u[:p], u[list(rows)], env_d, env_c, err, env_rounding, res, env_rows, env_res, b)
    # the cut chain: a fixed-end chain of window.sites sites (the compression of V)
    m, offset = window.sites, window.lo - 1
    v, diag_ld, onsite, att = cut_chain(network, window)
    v = v.toarray()
    lam, u = np.linalg.eigh(v)
    if lam[0] <= 0:
        raise NumericalError(f"the potential matrix has a non-positive eigenvalue {lam[0]:.3g}")
    env_d = chain_modes(m, env.omega0, env.g, "fixed", vectors=False)[0] ** 2
    b, sites = _coupling_rows(p, m, att)
    env_c = b @ chain_mode_rows(m, "fixed", sites)
    local = [r if r < p else r - offset for r in rows]
    err = dense_mode_errors(network, lam, u, v=v, diag=diag_ld, attachments=att)
    lam, err, res = refine_soft_modes(network, lam, u, err, v=v, diag=diag_ld, onsite=onsite, attachments=att,
                                      rows=local)
    b = mode_perturbation(*_potential_rounding(network, v=v, diag=diag_ld, attachments=att), lam, u,
                          soft_modes(lam) if res is not None else None)
    return Spectrum(lam, u[:p], u[local], env_d, env_c, err, residual=res, mode_bound=b)


def cut_chain(network: Network, window):
    """The chain cut to the light cone's ``window`` (a fixed-end chain of window.sites sites, the
    compression of V): (V as CSR, its diagonal and its sites' Ω0² + wall bonds in extended
    precision, the attachments (0-based probe, site in the cut, K))."""
    env, p = network.environment, network.n_probes
    m = window.sites
    att = _attachments(network, window.lo - 1)
    bfull = np.zeros((p, m))
    for i, s, k in att:
        bfull[i, s - 1] += k
    v_e = sp.diags([np.full(m - 1, -env.g), np.full(m, env.omega0**2 + 2 * env.g), np.full(m - 1, -env.g)],
                   [-1, 0, 1])
    v = sp.bmat([[sp.csr_matrix(network.probes.potential()), sp.csr_matrix(bfull)],
                 [sp.csr_matrix(bfull.T), v_e]], format="csr")
    ld = np.longdouble
    diag_ld = np.concatenate([_probe_diagonal(network.probes), np.full(m, ld(env.omega0) ** 2 + 2 * ld(env.g))])
    onsite = np.full(m, ld(env.omega0) ** 2)
    onsite[[0, -1]] += ld(env.g)  # the cut chain's wall bonds
    return v, diag_ld, onsite, att


def _probe_diagonal(pr) -> np.ndarray:
    ld = np.longdouble
    return np.asarray(pr.frequencies, ld) ** 2 + np.sum(np.asarray(pr.coupling, ld), axis=1)


def _potential_rounding(network: Network, *, v=None, diag=None, attachments=None):
    """(V as CSR, an entrywise bound on |V_exact − V|): V in double precision against V_exact
    formed from the same parameters in extended precision (as tests/reference_mp.py reads them:
    Ω0² of a homogeneous chain from Ω0, the diagonal sums, the summed strengths K). The
    off-diagonal bonds, λ and single K are the parameters themselves. ``v``, ``diag`` and
    ``attachments`` (0-based probe, 1-based site, K) describe a cut chain instead."""
    ld = np.longdouble
    p = network.n_probes
    if v is None:
        env = network.environment
        onsite = (np.full(env.sites, ld(env.omega0) ** 2) if env.homogeneous_chain and env.omega0 is not None
                  else np.asarray(env.onsite, ld))
        deg = np.asarray(sp.csr_matrix(env.bonds).astype(ld).sum(axis=1)).ravel()
        wall = np.asarray(env.wall, ld) if env.wall is not None else 0
        diag = np.concatenate([_probe_diagonal(network.probes), onsite + deg + wall])
        attachments = network.probes.attachments
        v = network.potential(sparse=True)
    v = sp.csr_matrix(v)
    n = v.shape[0]
    summed: dict[tuple[int, int], np.longdouble] = {}
    for i, s, k in attachments:
        summed[(i, p + s - 1)] = summed.get((i, p + s - 1), ld(0)) + ld(k)
    idx = np.array(list(summed), dtype=int).reshape(-1, 2)
    off = np.array([abs(summed[key] - ld(v[key])) for key in summed], dtype=float)
    vals = np.concatenate([np.abs(np.asarray(diag, ld) - v.diagonal().astype(ld)).astype(float), off, off])
    rows = np.concatenate([np.arange(n), idx[:, 0], idx[:, 1]])
    cols = np.concatenate([np.arange(n), idx[:, 1], idx[:, 0]])
    diff = sp.csr_matrix((vals, (rows, cols)), shape=v.shape) + 8 * float(np.finfo(ld).eps) * abs(v)
    return v, sp.csr_matrix(diff.astype(float) * (1 + 1e-9))


def dense_mode_errors(network: Network, mu, u, *, v=None, diag=None, attachments=None) -> np.ndarray:
    """Per-mode bounds on |μ̃_k − μ_k| for a dense eigh (μ̃ = ``mu``, eigenvectors ``u``) of
    ``network``'s V, μ_k the eigenvalues of V from the exact parameters
    (:func:`~harmosync.solvers.roundoff.eigenvalue_errors`; clusters fall back to Weyl's
    8ε‖V‖ + ‖δV‖ for a backward-stable eigh). ``v``, ``diag``, ``attachments``: a cut chain
    (:func:`_potential_rounding`)."""
    v, rounding = _potential_rounding(network, v=v, diag=diag, attachments=attachments)
    rows = np.asarray(abs(rounding).sum(axis=1))
    fallback = 8 * np.finfo(float).eps * float(mu[-1]) + float(np.max(rows, initial=0.0))
    return eigenvalue_errors(v, mu, u, rounding, fallback)


def refine_soft_modes(network: Network, mu, u, mu_err, *, v=None, diag=None, onsite=None, attachments=None,
                      environment: bool = False, rows=None):
    """(μ, e): the soft modes (:func:`~harmosync.solvers.lowrank.soft_modes`) of a dense eigh
    (``mu``, ``u``; bounds ``mu_err`` from :func:`dense_mode_errors`) recomputed from V's
    parameters, with their bounds (:func:`~harmosync.solvers.softmodes.soft_mode_errors`); the
    other modes as given. Their eigenvectors, the columns of ``u``, are refined in place
    (:func:`~harmosync.solvers.softmodes.refine_soft_vectors`). ``v``, ``diag``, ``onsite``
    (Ω0² + wall bonds, extended precision) and ``attachments``: a cut chain
    (:func:`_potential_rounding`); ``environment``: the modes are V_E's (a graph or a chain with
    defects, :meth:`~harmosync.network.Environment.modes`), ``mu_err`` None is computed.
    ``rows``: the observed rows (of V; default the probes), for the componentwise eigenvector
    term (:func:`~harmosync.solvers.softmodes.vector_roundoff`). Returns (μ, e, the soft modes'
    residual bounds ((6 + len(rows), N); (2, N) for ``environment``; None without soft modes))."""
    soft = soft_modes(mu)
    if soft.size == 0:
        return mu, mu_err, None
    if environment:  # V_E alone: no probes, no couplings
        ld = np.longdouble
        env = network.environment
        onsite = _onsite(network)
        v = env.potential(sparse=True)
        diag = onsite + np.asarray(sp.csr_matrix(env.bonds).astype(ld).sum(axis=1)).ravel()
        if mu_err is None:
            mu_err = dense_mode_errors(network, mu, u, v=v, diag=diag, attachments=())
        v, rounding = _potential_rounding(network, v=v, diag=diag, attachments=())
        p, d, d_err = 0, onsite, 4 * float(np.finfo(ld).eps) * np.abs(onsite.astype(float))
    else:
        v, rounding, p, d, d_err = laplacian_form(network, v=v, diag=diag, onsite=onsite, attachments=attachments)
    refine_soft_vectors(v, p, d, mu, u, soft)
    if not environment:
        rows = range(p) if rows is None else rows
    return soft_mode_errors(v, p, d, d_err, mu, u, soft, mu_err, rounding, rows=rows)


def _onsite(network: Network) -> np.ndarray:
    """Ω_j² + wall bonds of the environment's sites, extended precision from the parameters."""
    ld = np.longdouble
    env = network.environment
    onsite = (np.full(env.sites, ld(env.omega0) ** 2) if env.homogeneous_chain and env.omega0 is not None
              else np.asarray(env.onsite, ld))
    return onsite + (np.asarray(env.wall, ld) if env.wall is not None else 0)


def laplacian_form(network: Network, *, v=None, diag=None, onsite=None, attachments=None):
    """(V as CSR, its entrywise rounding, P, d, δd): V = diag(d) + L + C in the Laplacian form of
    :mod:`~harmosync.solvers.softmodes`, d = (ω_i², Ω_j² + wall bonds) in extended precision from
    the parameters, |δd| ≤ 4ε_ld·d. ``v``, ``diag``, ``onsite``, ``attachments``: a cut chain
    (:func:`cut_chain`)."""
    ld = np.longdouble
    onsite = _onsite(network) if onsite is None else onsite
    d = np.concatenate([np.asarray(network.probes.frequencies, ld) ** 2, onsite])
    v, rounding = _potential_rounding(network, v=v, diag=diag, attachments=attachments)
    return v, rounding, network.n_probes, d, 4 * float(np.finfo(ld).eps) * np.abs(d.astype(float))


#: the dense path's eigenvector term (:func:`mode_perturbation`) holds N × N numbers: up to this N
VECTOR_TERM_MAX = 2000


def dense_mode_bound(network: Network, mu, u, refined: bool) -> np.ndarray | None:
    """:func:`mode_perturbation` for a dense eigh (``mu``, ``u``) of ``network``'s whole V,
    ``refined``: its soft modes were recomputed (:func:`refine_soft_modes`)."""
    return mode_perturbation(*_potential_rounding(network), mu, u, soft_modes(mu) if refined else None)


def mode_perturbation(v, rounding, mu, u, skip=None) -> np.ndarray | None:
    """(b, g, b_means) (3, N, N): with the computed eigh (``mu``, ``u``), R = VŨ − ŨΛ̃ (extended
    precision), G = ŨᵀŨ − I (:func:`gram_defect`) and Q = Ũ(I + G)^(−1/2) (orthogonal),
    QᵀV_exactQ = Λ̃ + B to first order, B = ŨᵀR + (GΛ̃ − Λ̃G)/2 + QᵀδVQ, with b ≥ |B| entrywise:
    |ŨᵀR| + |G_kl|·|μ_k − μ_l|/2 + |Ũ|ᵀ|δV||Ũ| (``rounding`` ≥ |δV| entrywise) + the residual's
    and the product's roundoff; g ≥ |G| (Ũ f Ũᵀ = Q(f + (Gf + fG)/2)Qᵀ).
    Pairs with a mode in ``skip`` (refined soft modes, whose eigenvectors' errors in the
    covariance :func:`~harmosync.solvers.softmodes.vector_roundoff` bounds) get b = 0; b_means
    keeps them (nothing else bounds them in the means: review s7b). None above VECTOR_TERM_MAX
    modes."""
    n = mu.size
    if n > VECTOR_TERM_MAX:
        return None
    ld = np.longdouble
    eps, eps_ld = np.finfo(float).eps, float(np.finfo(ld).eps)
    u, mu = np.asarray(u, float), np.asarray(mu, float)
    vc = sp.csr_matrix(v)
    res = (vc.astype(ld) @ u.astype(ld) - u.astype(ld) * mu.astype(ld)).astype(float)
    au = np.abs(u)
    norms = np.sqrt(np.einsum("ij,ij->j", u, u))
    # the residual's extended-precision roundoff, ≤ (nnz per row + 2)ε_ld(|V||Ũ| + |Ũ||Λ̃|) entrywise,
    # seen through |Ũ|ᵀ: (|Ũ|ᵀ|V||Ũ|)_kl ≤ ‖|V|‖ ‖u_k‖‖u_l‖, ‖|V|‖ ≤ its largest row sum
    nnz = int(np.max(np.diff(vc.indptr), initial=1))
    vrow = float(np.max(np.asarray(abs(vc).sum(axis=1)), initial=0.0))
    res_err = (nnz + 2) * eps_ld * (vrow + np.abs(mu)[None, :]) * np.outer(norms, norms)
    rn = np.sqrt(np.einsum("ij,ij->j", res, res))
    b = np.abs(u.T @ res) + 1.01 * n * eps * np.outer(norms, rn) + res_err  # (|Ũ|ᵀ|R|)_kl ≤ ‖u_k‖‖r_l‖
    g = gram_defect(u)
    dv = au.T @ (abs(sp.csr_matrix(rounding)) @ au)  # ≥ |ŨᵀδVŨ| (Q for Ũ: second order)
    b += g * (np.abs(mu[:, None] - mu[None, :]) / 2) + dv * (1 + 2.02 * n * eps)
    b = np.maximum(b, b.T)  # B is symmetric (to first order)
    full = b.copy()  # the means keep the soft pairs (vector_roundoff bounds the covariance only)
    if skip is not None and np.size(skip):
        b[skip, :] = 0.0
        b[:, skip] = 0.0
    return np.array([b, g, full]) * (1 + 4 * n * eps)


def gram_defect(u) -> np.ndarray:
    """|ŨᵀŨ − I| entrywise, to ~ε_ld: Ũ split into 4 slices of β bits, Ũ = Σ_i I_i 2^(−iβ) + r
    with integer-valued I_i, |I_i| ≤ 2^β, and 2β + log₂N ≤ 53, so that every BLAS product
    I_iᵀI_j is exact (its partial sums are integers below 2^53) — the error-free scheme of Ozaki et
    al. (Numer. Algorithms 59, 2012); the products with i + j ≤ 5 summed in extended precision,
    the rest and r bounded."""
    n = u.shape[0]
    scale = 2.0 ** np.ceil(np.log2(max(float(np.max(np.abs(u))), 1e-300)))
    beta = int((53 - int(np.ceil(np.log2(max(n, 2))))) // 2)
    r = np.asarray(u, float) / scale
    slices = []
    for i in range(1, 5):
        s = np.round(r * 2.0 ** (i * beta))
        r = r - s * 2.0 ** (-i * beta)  # exact: s·2^(−iβ) holds r's leading bits
        slices.append(s)
    ld = np.longdouble
    acc = np.zeros((u.shape[1], u.shape[1]), ld)
    for i in range(4):
        for j in range(i, 4):
            if i + j + 2 > 5:
                continue
            prod = (slices[i].T @ slices[j]).astype(ld) * ld(2.0) ** (-(i + j + 2) * beta)
            acc += prod if i == j else prod + prod.T
    acc = acc * ld(scale) ** 2 - np.eye(u.shape[1], dtype=ld)
    # left out: products with i + j ≥ 6 (each ≤ N·2^(−(i+j−2)β)) and those with r (|r| ≤ 2^(−4β−1))
    rest = 4 * n * 2.0 ** (-4 * beta) * scale**2
    return np.abs(acc).astype(float) * (1 + 1e-15) + rest + 16 * float(np.finfo(ld).eps) * scale**2


def propagator_divided_differences(w, t: float, rows=slice(None)):
    """Bounds on |f[μ_k, μ_l]| (rows k in ``rows``, all l) for |t'| ≤ t of the propagator's
    functions of μ = w²: f_c = cos(wt'), f_s = sin(wt')/w, f_k = w sin(wt') (x(t) = f_c x₀ + f_s p₀,
    p(t) = −f_k x₀ + f_c p₀). Mean value theorem in w, Δμ = Δw (w_k + w_l), with
    |f_c′| ≤ t, |f_s′| = |x cos x − sin x|/w² ≤ 2t/w (x = wt), |f_k′| ≤ 1 + wt; and far apart
    |f[μ_k, μ_l]| ≤ (|f(μ_k)| + |f(μ_l)|)/|Δμ| with |f_c| ≤ 1, |f_s| ≤ min(t, 1/w), |f_k| ≤ w."""
    wk = w[rows][:, None]
    wl = w[None, :]
    s = wk + wl
    gap = np.abs(wk - wl) * s
    lo, hi = np.minimum(wk, wl), np.maximum(wk, wl)
    with np.errstate(divide="ignore", invalid="ignore"):  # t = ∞: the far caps (near: ∞)
        fs = np.minimum(t, 1 / w)
        near = (t / s, 2 * t / (lo * s), (1 + hi * t) / s)
        far = (2 / gap, (fs[rows][:, None] + fs[None, :]) / gap, s / gap)
    return tuple(np.where(gap > 0, np.minimum(n_, f_), n_) for n_, f_ in zip(near, far))


def _row_gains(b, g, w, u, t: float):
    """(G_x, G_p) (2n, N) of :func:`eigenvector_roundoff` for the bounds ``b`` ≥ |B|, ``g`` ≥ |G|."""
    n, m = u.shape
    sw = np.sqrt(w)
    ones, hs = np.ones(m), np.minimum(t, 1 / w)  # |f_c|, |f_s| (|f_k| ≤ w)
    gx, gp = np.zeros((2 * n, m)), np.zeros((2 * n, m))  # rows: x of each observed row, then p
    for start in range(0, m, 256):  # row blocks of b: O(256·N) memory
        rows = slice(start, min(start + 256, m))
        fc, fs, fk = propagator_divided_differences(w, t, rows)
        bb, gg = b[rows].copy(), g[rows] / 2
        bb[np.arange(bb.shape[0]), np.arange(start, rows.stop)] = 0.0  # B_kk: the eigenvalues' errors
        with np.errstate(invalid="ignore"):  # 0·∞ (t = ∞): no perturbation, no error
            uc, us, uk = (u[:, rows] @ (np.where(bb > 0, bb * f, 0.0) + gg * (h[rows][:, None] + h[None, :]))
                          for f, h in ((fc, ones), (fs, hs), (fk, w)))
        gx[:n] += uc
        gp[:n] += us
        gx[n:] += uk
        gp[n:] += uc
    scale = 1 + 4 * m * np.finfo(float).eps
    return gx / sw * scale, gp * sw * scale


def eigenvector_roundoff(b, w, readout, mean0, nu, values, vectors, t: float, floor: float = 0.0) -> float:
    """Bound on the first-order error of every observed mean and covariance entry for |t'| ≤ t
    from the eigenvectors' errors of a dense eigh: V_exact = Q(Λ̃ + B)Qᵀ (|B| ≤ ``b[0]``,
    :func:`mode_perturbation`) moves each propagator function f(V) by Q(B ∘ F)Qᵀ, F_kl =
    f[μ_k, μ_l] (Daleckii–Krein; :func:`propagator_divided_differences`), and Ũ = Q(I + G)^(1/2)
    adds Q((Gf + fG)/2)Qᵀ (|G| ≤ ``b[1]``). On an observed row a
    the error is gᵀy₀ (y₀ the initial state in scaled normal coordinates, ``mean0``, covariance
    diag(ν, ν) + Σ_r λ_r v_r v_rᵀ, ``nu``, ``values``, ``vectors``) with |g| ≤ G:
    G_x = |U_a|(b ∘ |F_c|)/√w, G_p = |U_a|(b ∘ |F_s|)√w for x rows (F_k, F_c for p rows). Means:
    G·|y₀|. Covariance: δσ_ab = g_aᵀσ′₀m_b(t) + g_bᵀσ′₀m_a(t) + O(B²), m_a(t) the row a of the
    computed evolution in y₀'s coordinates, |m_a| ≤ r_a = |U_a|/√w (x rows), |U_a|√w (p rows),
    bounded mode by mode on diag(ν, ν) and through |λ_r| on Δ; the second order by √(q_a q_b),
    q_a ≥ g_aᵀσ′₀g_a; ``floor``:
    the dropped eigenvalues of Δ (≤ floor·‖g‖²). The diagonal B_kk, μ_k's first-order shift, is
    left to the phase terms (|μ̃_k − μ_k| ≤ e_k, ``mu_error``). Finite ``t`` only (the
    evolution's ``cover`` calls it at each new horizon)."""
    w = np.asarray(w, float)
    u = np.abs(np.asarray(readout, float))
    n, m = u.shape
    if n == 0 or not 0 < t < np.inf:
        return 0.0
    sw, m0 = np.sqrt(w), np.abs(np.asarray(mean0, float))
    gx, gp = _row_gains(b[2] if len(b) > 2 else b[0], b[1], w, u, t)
    mean_err = float(np.max(gx @ m0[0] + gp @ m0[1]))
    if len(b) > 2 and np.any(b[2] != b[0]):  # soft pairs: in the means only
        gx, gp = _row_gains(b[0], b[1], w, u, t)
    if not np.size(nu) or not np.any(nu) and not np.size(values):
        return mean_err
    lam = np.asarray(values, float)
    pos = lam > 0
    ax, ap = np.abs(vectors[0]), np.abs(vectors[1])
    q = gx**2 @ nu + gp**2 @ nu + ((gx @ ax[:, pos] + gp @ ap[:, pos]) ** 2) @ lam[pos] \
        + floor * np.sum(gx**2 + gp**2, axis=1)
    r = np.concatenate([u / sw, u * sw])  # |rows of x_a, p_a| in scaled normal coordinates
    # gᵀσ′₀m_b(t), m_b(t) = r_b·(cos, sin) the row b of the rotation: diag(ν) part mode by mode
    # (|g_x cos + g_p sin| ≤ √(g_x² + g_p²)), Δ's part through |λ_r|, the dropped part by Cauchy–Schwarz
    cross = (np.sqrt(gx**2 + gp**2) * nu) @ r.T \
        + (np.abs(lam) * (gx @ ax + gp @ ap)) @ (r @ np.sqrt(ax**2 + ap**2)).T \
        + floor * np.outer(np.sqrt(np.sum(gx**2 + gp**2, axis=1)), np.sqrt(np.sum(r**2, axis=1)))
    cov_err = float(np.max(cross + cross.T + np.sqrt(np.outer(q, q))))
    return max(mean_err, cov_err)
