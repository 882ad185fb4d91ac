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
from functools import partial

import numpy as np
import scipy.sparse as sp

from ..errors import NumericalError, UnstableNetworkError
from ..jit import kernel
from ..network import Network, chain_mode_rows, chain_modes
from ..solvers.arrowhead import arrowhead_modes, chain_mode_errors, chain_rounding
from ..solvers.arrowvectors import _GAINS, SQRT_SAFE, chain_mode_bound
from ..solvers.lowrank import SOFT, soft_modes
from ..solvers.roundoff import _gam, clustered_readout, enclose, mode_clusters
from ..solvers.softgeometry import cluster_enclose
from ..solvers.softmodes import (orthogonalize_hard, refine_arrowhead_soft, refine_soft_vectors, soft_mode_errors,
                                 soft_pairs)


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
    # the eigenvector perturbation bounds: (b, g, b_means), each (N, N), of a dense eigh
    # (:func:`mode_perturbation`), or the chain path's solvers.arrowvectors.ArrowTerm; None: none
    mode_bound: tuple | None = None
    # the chain path's merges' own columns, ks → (probe part (P, b), chain-mode part (M, b)), or None
    merged: object | None = None
    # the chain path: μ̃ of the modes left out (seen_modes) and the merges' deflation
    # (ArrowheadModes.deflation), for the eigenvalues' enclosures (arrowhead.chain_mode_errors)
    unseen: np.ndarray | None = None
    deflation: float = 0.0


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
    mu, mu_err, res, soft = modes.values, None, None, None
    if soft_modes(mu).size:
        mu, a, readout, mu_err, res, soft = refine_chain_soft(network, mu, a, readout, rows, env_d, env_c,
                                                              rounding, window, columns=modes.columns,
                                                              deflation=modes.deflation)
    site = None
    if obs_sites:
        site = ([i for i, r in enumerate(rows) if r >= p], env_rows,
                chain_rounding(env_d, env_rows, m, env.omega0, env.g, boundary,
                               [(i, s, 1.0) for i, s in enumerate(obs_sites)])[1])
    return chain_result(mu, a, readout, env_d, env_c, network.probes.potential(), mu_err, rounding, res, soft,
                        site, modes.pole_offsets(env_d), columns=modes.columns, deflation=modes.deflation)


def chain_result(mu, a, readout, env_d, env_c, vs, mu_err, rounding, res, soft, site=None,
                 offsets=None, columns=None, deflation: float = 0.0) -> Spectrum:
    """The chain path's :class:`Spectrum`: the modes some probe or observed oscillator sees
    (:func:`seen_modes`; the others carry nothing), with the eigenvector term
    (:func:`~harmosync.solvers.arrowvectors.chain_mode_bound`; any number of modes: its
    arrays are O(N·P), its residuals O(N·M·P), the order of the merges' own, its gains
    O(N log N·(P + n))).
    ``soft``: :func:`refine_chain_soft`'s last; ``site``: the observed sites (their indices
    among the readout's rows, the chain's mode rows there, bounds on their rounding) or None;
    ``offsets``: the merges' (base, off) (:meth:`~harmosync.solvers.arrowhead.ArrowheadModes.pole_offsets`);
    ``columns``: the merges' :meth:`~harmosync.solvers.arrowhead.ArrowheadModes.columns` (their own
    vectors, for the term's close pairs); ``deflation``: theirs (ArrowheadModes.deflation)."""
    keep = seen_modes(a, readout, res)
    unseen = np.asarray(mu, float)[~keep]
    kept = np.flatnonzero(keep)
    merged = None if columns is None else (lambda ks: columns(kept[np.asarray(ks, int)]))
    if mu_err is not None:
        mu_err, res = mu_err[keep], res[:, keep]
    mu, a, readout = mu[keep], a[:, keep], readout[:, keep]
    kept_soft = None
    if soft is not None:
        mask = np.zeros(keep.size, bool)
        mask[soft[0]] = True
        where = np.flatnonzero(mask[keep])
        seen = keep[soft[0]]
        kept_soft = (where, np.asarray(soft[1], float)[:, seen], res[0][where], np.asarray(soft[3])[np.ix_(seen, seen)],
                     np.asarray(soft[2], float)[seen])
    offsets = None if offsets is None else tuple(np.asarray(x)[keep] for x in offsets)
    term = chain_mode_bound(mu, a, vs, env_d, env_c, rounding, offsets=offsets, soft=kept_soft,
                            site_rows=None if site is None else (readout,) + tuple(site),
                            merged=None if merged is None else (lambda ks: merged(ks)[1]))
    return Spectrum(mu, a, readout, env_d, env_c, mu_err, rounding, res, mode_bound=term, merged=merged,
                    unseen=unseen, deflation=deflation)


def seen_modes(a, readout, residual) -> np.ndarray:
    """The modes some probe or observed oscillator sees (rows ``a``, ``readout``): the others
    carry nothing and are left out, except a member of a cluster of soft modes (``residual``'s
    labels, :func:`~harmosync.solvers.softgeometry.cluster_enclose`), which stays whole."""
    keep = np.any(np.asarray(a) != 0, axis=0) | np.any(np.asarray(readout) != 0, axis=0)
    if residual is not None:
        label = np.asarray(residual)[-2].astype(int)
        keep |= np.bincount(label, minlength=label.size)[label] > 1
    return keep


def refine_chain_soft(network: Network, mu, a, readout, rows, env_d, env_c, env_rounding, window=None,
                      columns=None, deflation: float = 0.0):
    """The chain path's soft modes recomputed from V's parameters
    (:func:`~harmosync.solvers.softmodes.refine_arrowhead_soft`; the other modes' radii from
    :func:`~harmosync.solvers.arrowhead.chain_mode_errors`) and their rows. Returns (μ, probe rows
    ``a``, ``readout`` rows of ``rows``, e, (η, t)); unchanged (e, η None) when there are more soft
    modes than SOFT_MAX: refined eigenvectors beside unrefined ones of the same cluster are not
    orthogonal (σ(0) 6× further off on 3000 soft modes); last (the soft modes' indices, their
    columns (N, S), bounds on their environment energies, their pairs' projections (S, S) of
    :func:`~harmosync.solvers.softmodes.soft_pairs`) or None."""
    p = network.n_probes
    soft = soft_modes(mu)
    if np.count_nonzero(mu < SOFT * float(mu[-1])) > soft.size:
        return mu, a, readout, None, None, None
    if window is None:
        cut, offset, boundary = {}, 0, network.environment.boundary
    else:
        v, diag, onsite, att = cut_chain(network, window)
        cut, offset, boundary = dict(v=v, diag=diag, onsite=onsite, attachments=att), window.lo - 1, "fixed"
    v, rounding, _, d, d_err = laplacian_form(network, **cut)
    radius = chain_mode_errors(mu, a, network.probes.potential(), env_d, env_c, env_rounding, count=128,
                               merged=columns, deflation=deflation)
    local = [r if r < p else r - offset for r in rows]
    mu, err, res, y, pairs = refine_arrowhead_soft(v, p, d, d_err, rounding, mu, radius, env_d, env_c, boundary,
                                                   rows=local)
    a, readout = np.array(a, float), np.array(readout, float)
    a[:, soft], readout[:, soft] = y[:p], y[local]
    env = network.environment  # (a window's "fixed" form: ≥ the free one, whose modes env_d may be)
    return mu, a, readout, err, res, (soft, y, chain_energies(y[p:], env.omega0, env.g, boundary), pairs)


def chain_energies(y, omega0: float, g: float, boundary: str) -> np.ndarray:
    """Upper bounds on y_jᵀV_E y_j = Σ_k d_k (Wᵀy_j)_k² for the columns y (M, S) of a homogeneous
    chain's sites (V_E = Ω0² + g·L, L the path's Laplacian, + g at each end if "fixed"): the
    sum of squares in double, every term ≥ 0, raised by its rounding. The chain path's soft
    modes take their part of δd = |d_exact − env_d| from it (arrowvectors.chain_mode_bound)."""
    y = np.asarray(y, float)
    e = omega0**2 * np.sum(y * y, axis=0) + g * np.sum(np.diff(y, axis=0) ** 2, axis=0)
    if boundary == "fixed":
        e = e + g * (y[0] ** 2 + y[-1] ** 2)
    return e * (1 + (y.shape[0] + 8) * np.finfo(float).eps)


def dense_spectrum(network: Network, rows, window) -> Spectrum:
    """The normal modes of any network by a dense ``eigh`` of V (``window``: a fixed-end chain cut
    to the light cone, :func:`cut_chain`, or None), with per-mode bounds on the eigenvalues'
    errors (:func:`dense_mode_errors`) and the soft modes recomputed from V's parameters
    (:func:`refine_soft_modes`); a graph's or a defect chain's V_E likewise. Refuses a network
    whose lowest eigenvalue cannot be told from 0 (:class:`UnstableNetworkError`)."""
    env = network.environment
    p = network.n_probes
    if window is None:
        v = network.potential(sparse=True)
        lam, u = np.linalg.eigh(v.toarray())  # its sign is checked after refinement
        w, env_rounding = np.sqrt(np.maximum(lam, 0.0)), None
        env_rows = env_res = None
        if env.structured:
            env_d = chain_modes(env.sites, env.omega0, env.g, env.boundary, vectors=False)[0] ** 2
            b, sites = _coupling_rows(p, env.sites, _attachments(network, 0))
            env_c = b @ chain_mode_rows(env.sites, env.boundary, sites) if sites else np.zeros((p, env.sites))
        else:
            ew, eu = env.modes()
            env_d = ew**2
            # V_E's soft modes from its parameters, as V's below; every mode's error bounded (even
            # without soft modes, a mode near them moves σ through Δ: environment_roundoff)
            if env_d.size:
                env_d, env_err, env_res, _ = refine_soft_modes(network, env_d, eu, None, environment=True)
                env_rounding, env_res = (env_err, None), (env_res[0] if env_res is not None else None)
            env_c = network.coupling_block() @ eu
            env_rows = eu[[r - p for r in rows if r >= p]]
        mu, v, rounding = w**2, *_potential_rounding(network, v=v)
        # the residual, shared by the eigenvalues' and the eigenvectors' bounds (else in blocks)
        resid = residual_matrix(v, mu, u) if mu.size <= VECTOR_TERM_MAX else None
        soft = soft_modes(mu)  # the modes refine_soft_modes refines (the refined μ may cut elsewhere)
        mu, err, res, pairs = refine_soft_modes(network, mu, u, rayleigh_errors(v, mu, u, rounding, resid),
                                                rows=rows)
        if not mu[0] > err[0]:  # Network's check passed: positive, but not resolvable
            raise UnstableNetworkError(
                f"the network is within roundoff of its stability limit: the potential matrix's smallest "
                f"eigenvalue {mu[0]:.3g} ± {err[0]:.2g} cannot be told from 0 beside its largest {mu[-1]:.3g}; "
                "reduce the strengths K or raise the lowest frequencies")
        b = _refined_mode_bound(v, rounding, mu, u, *_refined(soft, res, resid, pairs))
        return Spectrum(mu, u[:p], u[list(rows)], env_d, env_c, err, env_rounding, res, env_rows, env_res, b)
    # the cut chain: a fixed-end chain of window.sites sites (the compression of V)
    m, offset = window.sites, window.lo - 1
    v, diag_ld, onsite, att = cut_chain(network, window)
    lam, u = np.linalg.eigh(v.toarray())
    if lam[0] <= 0:
        raise NumericalError(f"the potential matrix has a non-positive eigenvalue {lam[0]:.3g}")
    env_d = chain_modes(m, env.omega0, env.g, "fixed", vectors=False)[0] ** 2
    b, sites = _coupling_rows(p, m, att)
    env_c = b @ chain_mode_rows(m, "fixed", sites)
    local = [r if r < p else r - offset for r in rows]
    v, rounding = _potential_rounding(network, v=v, diag=diag_ld, attachments=att)
    resid = residual_matrix(v, lam, u) if lam.size <= VECTOR_TERM_MAX else None
    soft = soft_modes(lam)
    lam, err, res, pairs = refine_soft_modes(network, lam, u, rayleigh_errors(v, lam, u, rounding, resid), v=v,
                                      diag=diag_ld, onsite=onsite, attachments=att, rows=local)
    b = _refined_mode_bound(v, rounding, lam, u, *_refined(soft, res, resid, pairs))
    return Spectrum(lam, u[:p], u[local], env_d, env_c, err, residual=res, mode_bound=b)


def _refined(soft, res, resid, pairs) -> tuple:
    """(refined, residual, soft_pairs) for :func:`_refined_mode_bound` after
    :func:`refine_soft_modes` (``res`` its residual rows, None: nothing refined; ``pairs`` its
    pairs' bounds; ``resid`` the eigh's :func:`residual_matrix`): the residual only where no
    column moved (else None: the other columns moved too, :func:`orthogonalize_hard`, all
    recomputed)."""
    return (None, resid, None) if res is None else (soft, None, pairs)


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
    Ω0² of a homogeneous chain from Ω0, the diagonal sums, the summed strengths K), plus that
    sum's own rounding, ≤ m·ε_ld·Σ|terms| for m terms (m ≤ the row's nonzeros + 2; Σ|terms| the
    diagonal itself on a site's row, whose terms Ω², bonds and walls are ≥ 0, and |V_ii| + 2Σ|λ_ij|
    on a probe's; Σ K of a summed K). The off-diagonal bonds, λ and single K are the parameters
    themselves: 0 there (review s9: 8ε_ld|V| on every entry put 8e-11 on a stiff chain's bonds, and
    through the AM–GM form of :func:`mode_perturbation` ~8e-11 on every pair of a soft probe's mode,
    1e12× its |B|). ``v``: the network's V if built already; with ``diag`` and ``attachments``
    (0-based probe, 1-based site, K), a cut chain instead."""
    ld = np.longdouble
    p = network.n_probes
    if diag is None:
        diag = np.concatenate([_probe_diagonal(network.probes), _onsite(network) + _degrees(network)])
        attachments = network.probes.attachments
        v = network.potential(sparse=True) if v is None else v
    v = sp.csr_matrix(v)
    n = v.shape[0]
    eps_ld = 1.01 * float(np.finfo(ld).eps)
    summed: dict[tuple[int, int], list] = {}
    for i, s, k in attachments:
        summed.setdefault((i, p + s - 1), []).append(ld(k))
    idx = np.array(list(summed), dtype=int).reshape(-1, 2)
    off = np.array([abs(sum(ks, ld(0)) - ld(v[key])) + (len(ks) * eps_ld * float(sum(abs(x) for x in ks))
                                                        if len(ks) > 1 else 0.0)
                    for key, ks in summed.items()], dtype=float)
    diag = np.asarray(diag, ld)
    terms = np.abs(diag.astype(float))
    vp = abs(v[:p, :p])
    terms[:p] += 2 * (np.asarray(vp.sum(axis=1)).ravel() - vp.diagonal())
    own = (np.diff(v.indptr) + 2) * eps_ld * terms
    vals = np.concatenate([np.abs(diag - v.diagonal().astype(ld)).astype(float) + own, off, off])
    rows = np.concatenate([np.arange(n), idx[:, 0], idx[:, 1]])
    cols = np.concatenate([np.arange(n), idx[:, 1], idx[:, 0]])
    diff = sp.csr_matrix((vals, (rows, cols)), shape=v.shape)
    return v, sp.csr_matrix(diff.astype(float) * (1 + 1e-9))


def abs_row_sums(m) -> np.ndarray:
    """The row sums of |m| (m sparse or dense, 2-D), (rows,): their largest bounds ‖|m|‖₂ for a
    symmetric m."""
    return np.asarray(abs(sp.csr_matrix(m)).sum(axis=1)).ravel()


def dense_mode_errors(network: Network, mu, u, *, v=None, diag=None, attachments=None) -> np.ndarray:
    """Per-mode bounds on |μ̃_k − μ_k| for a dense eigh (μ̃ = ``mu``, eigenvectors ``u``) of
    ``network``'s V, μ_k the eigenvalues of V from the exact parameters (:func:`rayleigh_errors`).
    ``v``, ``diag``, ``attachments``: a cut chain (:func:`_potential_rounding`)."""
    v, rounding = _potential_rounding(network, v=v, diag=diag, attachments=attachments)
    return rayleigh_errors(v, mu, u, rounding)


def rayleigh_errors(v, mu, u, rounding, residual=None) -> np.ndarray:
    """A posteriori bounds e_k ≥ |μ̃_k − λ_k| (λ_k: V + δV's, |δV| ≤ ``rounding``) from the
    residual R = VŨ − ŨΛ̃ (:func:`residual_matrix`, ``residual`` if computed already): for
    x_k = u_k/‖u_k‖ the Rayleigh quotient of V is exactly ρ_k = μ̃_k + u_kᵀr_k/‖u_k‖², taken as
    ρ̂_k = μ̃_k + d̂_k, d̂_k that quotient in double (its error bounded below), and the residual
    ‖Vx_k − ρ̂_kx_k‖ = ‖r_k − d̂_ku_k‖/‖u_k‖ bounds the one at the exact ρ_k (the Rayleigh
    quotient minimises it); δV adds s_k = |x_k|ᵀ|δV||x_k| to ρ and ‖|δV||x_k|‖ to the residual.
    Then :func:`~harmosync.solvers.roundoff.enclose` (residual theorem, Kato–Temple); modes its
    intervals cannot separate are enclosed as a group
    (:func:`~harmosync.solvers.softgeometry.cluster_enclose`), or keep Weyl's 8ε‖V‖ + ‖δV‖ for a
    backward-stable eigh."""
    mu, u = np.asarray(mu, float), np.asarray(u, float)
    vc, dv = sp.csr_matrix(v), abs(sp.csr_matrix(rounding))
    vrow = float(np.max(abs_row_sums(vc), initial=0.0))  # ≥ ‖|V|‖₂
    eps = np.finfo(float).eps
    fallback = 8 * eps * float(np.max(np.abs(mu))) + float(np.max(abs_row_sums(dv), initial=0.0))
    rho, half, eta = mu.astype(np.longdouble), np.empty(mu.size), np.empty(mu.size)
    for start in range(0, mu.size, mu.size if residual is not None else 512):  # O(512 N) memory
        sl = slice(start, start + (mu.size if residual is not None else 512))
        res = residual if residual is not None else residual_matrix(vc, mu[sl], np.ascontiguousarray(u[:, sl]))
        rho[sl], half[sl], eta[sl] = _rayleigh_data(mu[sl], u[:, sl], res, vrow, dv)
    with np.errstate(over="ignore", invalid="ignore"):  # ‖V‖ ≳ 1e150: squared norms overflow
        e = enclose(mu, rho, half, eta, fallback)
        columns = partial(_cluster_columns, vc, dv, vrow, mu, u, residual)
        e = cluster_enclose(mu, rho, half, eta, columns, np.arange(mu.size), e)[0]
    return np.where(np.isnan(e), np.inf, e)


def _cluster_columns(v, dv, vrow: float, mu, u, residual, idx) -> tuple:
    """(columns, unit columns, their residuals at ρ̂, an entrywise allowance on those residuals)
    of the modes ``idx`` for :func:`~harmosync.solvers.softgeometry.cluster_enclose`: the residual
    as :func:`_rayleigh_data` (``residual``: all modes' :func:`residual_matrix`, or None), its
    normwise error spread evenly (which |x|ᵀ meets at most in norm), and δV's part |δV||x|
    entrywise."""
    x = np.ascontiguousarray(u[:, idx])
    if residual is None:
        res, rel, nnz = residual_matrix(v, mu[idx], x)
    else:
        res, rel, nnz = residual[0][:, idx], residual[1], residual[2]
    eps = np.finfo(float).eps
    n2 = np.einsum("ij,ij->j", x, x)
    nrm = np.sqrt(n2)
    resid = res - (np.einsum("ij,ij->j", x, res) / n2) * x
    rn = np.sqrt(np.einsum("ij,ij->j", res, res))
    floor = 4 * (nnz + 2) * 2.0**-1074 * np.sqrt(x.shape[0])
    r_err = 7.2 * eps * rn + rel * (vrow + np.abs(mu[idx])) * nrm + floor
    allow = r_err / nrm / np.sqrt(x.shape[0]) + dv @ (np.abs(x) / nrm)
    return x, x / nrm, resid / nrm, allow


def _rayleigh_data(mu, u, residual, vrow: float, dv):
    """(ρ̂, half, η) of :func:`rayleigh_errors` for the columns ``u`` (values ``mu``), their
    :func:`residual_matrix` ``residual``, ‖|V|‖ ≤ ``vrow``, |δV| ≤ ``dv``."""
    ld = np.longdouble
    eps = np.finfo(float).eps
    res, rel, nnz = residual
    n = u.shape[0]
    gam = 1.01 * (n + 4) * eps
    n2 = np.einsum("ij,ij->j", u, u)
    nrm = np.sqrt(n2)
    rn = np.sqrt(np.einsum("ij,ij->j", res, res))
    d = np.einsum("ij,ij->j", u, res) / n2
    # |r̃ − r| ≤ ε|r̃|(1 + ε) + rel(|V| + |μ̃|)|u| + floor (residual_matrix), seen through |u_k|ᵀ
    # (|u|ᵀ|V||u| ≤ ‖|V|‖‖u‖²) and in norm; fl(r̃ − d̂u)'s own rounding ≤ 3ε‖r̃‖ (|d̂|‖u‖ ≤ ‖r̃‖)
    floor = 4 * (nnz + 2) * 2.0**-1074 * np.sqrt(n)
    r_err = 4.1 * eps * rn + rel * (vrow + np.abs(mu)) * nrm + floor
    d_err = ((gam + 1.01 * eps) * rn * nrm + rel * (vrow + np.abs(mu)) * n2 + floor * nrm) / n2 + gam * np.abs(d)
    rho = mu.astype(ld) + d.astype(ld)
    resid = res - d * u
    eta = (np.sqrt(np.einsum("ij,ij->j", resid, resid)) * (1 + gam) + r_err) / nrm * (1 + 4 * eps)
    ax = np.abs(u) / nrm
    dx = dv @ ax
    eta = eta + np.sqrt(np.einsum("ij,ij->j", dx, dx)) * (1 + gam)
    s_k = np.einsum("ij,ij->j", ax, dx) * (1 + gam)
    half = (s_k + d_err + 2 * float(np.finfo(ld).eps) * np.abs(rho.astype(float))) * (1 + 4 * eps)
    return rho, half, eta


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
    residual bounds ((6 + len(rows), N); (2, N) for ``environment``; None without soft modes),
    their pairs' bounds (S, S) of :func:`~harmosync.solvers.softmodes.soft_pairs`, or None))."""
    soft = soft_modes(mu)
    if environment:  # V_E alone: no probes, no couplings
        ld = np.longdouble
        env = network.environment
        onsite = _onsite(network)
        v = env.potential(sparse=True)
        diag = onsite + _degrees(network)
        v, rounding = _potential_rounding(network, v=v, diag=diag, attachments=())
        if mu_err is None:  # wanted without soft modes too (environment_roundoff; a hot stiff
            # mode's Weyl error moved a K3's bound 10× → 212×, review s9)
            mu_err = rayleigh_errors(v, mu, u, rounding)
        if soft.size == 0:
            return mu, mu_err, None, None
        p, d, d_err = 0, onsite, 4 * float(np.finfo(ld).eps) * np.abs(onsite.astype(float))
    elif soft.size == 0:
        return mu, mu_err, None, None
    else:
        v, rounding, p, d, d_err = laplacian_form(network, v=v, diag=diag, onsite=onsite, attachments=attachments)
    refine_soft_vectors(v, p, d, mu, u, soft)
    if not environment:
        orthogonalize_hard(u, soft)
        rows = range(p) if rows is None else rows
    return soft_mode_errors(v, p, d, d_err, mu, u, soft, mu_err, rounding, rows=rows)


def _degrees(network: Network) -> np.ndarray:
    """Σ_j A_ij, the environment's bond sums, extended precision from the parameters."""
    return np.asarray(sp.csr_matrix(network.environment.bonds).astype(np.longdouble).sum(axis=1)).ravel()


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
VECTOR_TERM_MAX = 4000


def dense_mode_bound(network: Network, mu, u, refined=None) -> tuple:
    """:func:`mode_perturbation` for a dense eigh (``mu``, ``u``) of ``network``'s whole V,
    ``refined``: the modes :func:`refine_soft_modes` recomputed (soft_modes of the μ it was
    given; None: none), whose pairs (:func:`soft_pair_bound`) are bounded from their columns
    (:func:`~harmosync.solvers.softmodes.soft_pairs`)."""
    if refined is None or np.size(refined) < 2:
        return _refined_mode_bound(*_potential_rounding(network), mu, u, refined)
    v, rounding, p, d, d_err = laplacian_form(network)
    pairs = soft_pairs(v, p, d, d_err, u[:, np.asarray(refined, int)], rounding)
    return _refined_mode_bound(v, rounding, mu, u, refined, soft_pairs=pairs)


def _refined_mode_bound(v, rounding, mu, u, refined=None, residual=None, soft_pairs=None):
    """:func:`mode_perturbation`, b = 0 on the pairs of the ``refined`` modes (their vectors'
    errors are vector_roundoff's); ``residual``: the eigh's :func:`residual_matrix` before they
    were refined, whose columns are recomputed (None: all computed); ``soft_pairs``: the refined
    modes' (S, S) bounds on |x̂_kᵀr_l + x̂_lᵀr_k|/2 (:func:`~harmosync.solvers.softmodes.soft_pairs`),
    which bound b_means on their pairs (:func:`soft_pair_bound`)."""
    if isinstance(refined, (bool, np.bool_)):
        raise TypeError("refined must be the indices of the refined modes (or None), not a bool")
    skip = None if refined is None or not np.size(refined) else np.asarray(refined, dtype=int)
    if residual is not None and skip is not None:
        res = residual[0].copy()
        res[:, skip] = residual_matrix(v, mu[skip], u[:, skip])[0]
        residual = (res,) + tuple(residual[1:])
    b, g, full = mode_perturbation(v, rounding, mu, u, skip, residual=residual)
    if skip is not None and soft_pairs is not None and skip.size > 1 and full is not b:
        pair = np.ix_(skip, skip)
        # the second order as mode_perturbation's, ‖ŨᵀR‖ (V exact) ≤ ‖its symmetric part‖ (≤ b_means
        # entrywise, the diagonal too) + ‖(Λ̃G − GΛ̃)/2‖
        gam = float(np.sqrt(np.sum(g * g)))
        xr = float(np.sqrt(np.sum(full * full))) \
            + 0.5 * float(np.sqrt(np.sum((g * np.abs(mu[:, None] - mu[None, :])) ** 2)))
        floor = float(_second_order(gam, float(np.max(np.abs(mu), initial=0.0)), xr))
        full[pair] = np.minimum(full[pair], soft_pair_bound(mu[skip], u[:, skip], g[pair], soft_pairs, floor))
    return b, g, full


def soft_pair_bound(mu, x, g, pairs, floor: float = 0.0) -> np.ndarray:
    """b_kl ≥ |B_kl| for two refined soft modes k ≠ l (columns ``x`` (N, S), μ̃ ``mu`` the
    rounded Rayleigh quotients ρ from V's parameters, g ≥ |G| on their pairs, ``pairs`` (S, S)
    ≥ |x̂_kᵀr_l + x̂_lᵀr_k|/2 with r_l = V_exact x̂_l − ρ_l x̂_l, x̂ = x/‖x‖
    (:func:`~harmosync.solvers.softmodes.soft_pairs`); diagonal ∞). ŨᵀV_exactŨ = (I + G)P + ŨᵀR
    (P = diag(ρ), R = V_exactŨ − ŨP) is symmetric, so ŨᵀR = S + (PG − GP)/2 with S its symmetric
    part, and to first order in G (``floor``: the rest, :func:`_second_order`)

        B = ŨᵀV_exactŨ − Λ̃ − (GΛ̃ + Λ̃G)/2,  B_kl = S_kl + G_kl((ρ_k − μ̃_k) + (ρ_l − μ̃_l))/2,

    S_kl = ‖x_k‖‖x_l‖(x̂_kᵀr_l + x̂_lᵀr_k)/2, |ρ − μ̃| ≤ ε|μ̃|: no G_kl(μ̃_l − μ̃_k)/2 (it cancels
    against x̂_kᵀr_l's antisymmetric part; charged apart, 23× |B| on a stiff free chain). The float
    V's residual (:func:`mode_perturbation`) loses this: there ŨᵀR and ŨᵀδVŨ cancel (the refined
    vectors are V_exact's, not V's), each ~ε·V_ii times the modes' overlap on the sites (1e10× |B|
    on a soft free chain's uniform mode beside a soft probe's). Until session 19 through t_l ≥
    ‖X̂_(S∖l)ᵀr_l‖, the norm over all the other soft modes: 5e3× |B_01| on that chain."""
    eps = np.finfo(float).eps
    s = mu.size
    nrm = np.sqrt(np.einsum("ij,ij->j", x, x)) * (1 + 1.01 * (x.shape[0] + 2) * eps)
    amu = np.abs(mu)
    out = (np.outer(nrm, nrm) * pairs + g * (0.5 * eps) * (amu[:, None] + amu[None, :]) + floor) * (1 + 8 * eps)
    out[np.arange(s), np.arange(s)] = np.inf  # the diagonal: μ_k's shift, not this identity's
    return out


def mode_perturbation(v, rounding, mu, u, skip=None, residual=None) -> tuple:
    """(b, g, b_means), each (N, N): with the computed eigh (``mu``, ``u``), R = VŨ − ŨΛ̃
    (:func:`residual_matrix`), G = ŨᵀŨ − I (:func:`gram_defect`) and Q = Ũ(I + G)^(−1/2) (orthogonal),
    QᵀV_exactQ = Λ̃ + B to first order, B = ŨᵀR + (GΛ̃ − Λ̃G)/2 + QᵀδVQ = (ŨᵀR + RᵀŨ)/2 + QᵀδVQ
    (ŨᵀVŨ = (I + G)Λ̃ + ŨᵀR is symmetric, so ŨᵀR − RᵀŨ = Λ̃G − GΛ̃), with b ≥ |B| entrywise:
    |(ŨᵀR)_kl + (ŨᵀR)_lk|/2 + |Ũ|ᵀ|δV||Ũ| (``rounding`` ≥ |δV| entrywise) + the residual's and the
    product's roundoff + the second order (:func:`_second_order`); g ≥ |G| (Ũ f Ũᵀ = Q(f + (Gf +
    fG)/2)Qᵀ). Until session 18 |ŨᵀR| + |G_kl|·|μ_k − μ_l|/2, the larger of both orders: on a
    stiff chain G·gap was up to 41× |B| (tests/test_eigenvector_bound.py).
    Pairs with a mode in ``skip`` (refined soft modes) get b = 0; b_means keeps them (nothing
    else bounds them in the means: review s7b; b itself when nothing is skipped).
    :func:`eigenvector_roundoff` takes b_means for the covariance too (since session 17:
    :func:`~harmosync.solvers.softmodes.vector_roundoff` bounds those vectors' errors in the
    stationary part, not what they do to Δ's evolution; review s17's drop/13, a stiff chain with
    squeezed soft probes, erred 1.06× the bound). Above VECTOR_TERM_MAX modes the normwise form
    (:func:`normwise_mode_bound`)."""
    n = mu.size
    if n > VECTOR_TERM_MAX:  # (memory: N × N arrays, no N³ beyond two products)
        dv_rows = abs_row_sums(rounding)
        return normwise_mode_bound(sp.csr_matrix(v), mu, u, dv_rows * (1 + 2 * n * np.finfo(float).eps))
    eps = np.finfo(float).eps
    u, mu = np.ascontiguousarray(u, float), np.ascontiguousarray(mu, float)
    vc = sp.csr_matrix(v)
    res, rel, nnz = residual_matrix(vc, mu, u) if residual is None else residual
    norms = np.sqrt(np.einsum("ij,ij->j", u, u))
    # the residual's roundoff beyond ε|R| (:func:`residual_matrix`), ≤ rel·(|V||Ũ| + |Ũ||Λ̃|) + its
    # underflow floor entrywise, seen through |Ũ|ᵀ: (|Ũ|ᵀ|V||Ũ|)_kl ≤ ‖|V|‖ ‖u_k‖‖u_l‖, ‖|V|‖ ≤ its
    # largest row sum, and Σ_i |u_ik| ≤ √N‖u_k‖
    vrow = float(np.max(abs_row_sums(vc), initial=0.0))
    res_err = rel * (vrow + float(np.max(np.abs(mu)))) * float(np.max(norms)) ** 2 \
        + 4 * (nnz + 2) * 2.0**-1074 * np.sqrt(n) * float(np.max(norms))
    rn = np.sqrt(np.einsum("ij,ij->j", res, res))
    safe = 1 + 4 * n * eps
    g = gram_defect(u, safe)
    b = u.T @ res
    # b ≥ |(ŨᵀR̃)_kl + (ŨᵀR̃)_lk|/2 + (‖u_k‖‖r̃_l‖ + ‖u_l‖‖r̃_k‖)/2·1.01(N + 2)ε (|Ũᵀ R̃ − fl(Ũᵀ R̃)|
    # and |Ũ|ᵀ ε|R̃|: (|Ũ|ᵀ|R̃|)_kl ≤ ‖u_k‖‖r̃_l‖) + |Ũ|ᵀ|δV||Ũ| (≥ |ŨᵀδVŨ|; Q for Ũ: second order:
    # its diagonal part as WᵀW, W = √|δV_ii|·|Ũ|, the off-diagonal rest E by Σ E_ij|u_ik||u_jl| ≤
    # (d_k + d_l)/2, d_k = Σ_i (Σ_j E_ij) u_ik² (AM–GM; E symmetric)) + res_err + the second order
    dv = abs(sp.csr_matrix(rounding))
    wd = np.abs(u)
    rows = abs_row_sums(dv)
    off = np.maximum(rows - dv.diagonal(), 0.0) + 1.01 * (n + 2) * eps * rows  # ≥ the off-diagonal row sums
    d = off @ (wd * wd) * (1 + 2 * n * eps)
    wd *= np.sqrt(dv.diagonal())[:, None]
    _PERTURBATION(b, wd.T @ wd, norms * (1.01 * (n + 2) * eps), rn, d * 0.5, 1 + 2.02 * n * eps + 6 * eps,
                  res_err + float(_second_order(np.sqrt(np.sum(g * g)), np.max(np.abs(mu), initial=0.0),
                                                np.sqrt(np.sum(b * b)))), safe)
    full = b  # the means keep the soft pairs (vector_roundoff bounds the covariance only)
    if skip is not None and np.size(skip):
        b = b.copy()
        b[skip, :] = 0.0
        b[:, skip] = 0.0
    return b, g, full


def _second_order(gam, top, xr):
    """Beyond first order in G and R: with S = (I + G)^½, QᵀVQ − Λ̃ = SΛ̃S⁻¹ − Λ̃ + S⁻¹ŨᵀRS⁻¹, whose
    first-order part is ½(ŨᵀR + RᵀŨ); for γ ≥ ‖G‖₂ (``gam``) ≤ 0.1 the rest is ≤ γ²‖Λ̃‖ + 1.3γ‖ŨᵀR‖₂
    (the series of S, S⁻¹; ``top`` ≥ ‖Λ̃‖, ``xr`` ≥ ‖ŨᵀR‖₂); ∞ above 0.1. Arrays broadcast (stacks)."""
    gam = np.asarray(gam, float)
    with np.errstate(invalid="ignore"):
        return np.where(gam <= 0.1, (gam * gam * top + 1.3 * gam * xr) * 1.01, np.inf)


def normwise_mode_bound(v, mu, u, dv_rows) -> tuple:
    """(b, g, b) of :func:`mode_perturbation` from double-precision products alone, for stacks
    (..., N, N) of small networks (a means-only batch) or one network above VECTOR_TERM_MAX:
    |(ŨᵀR)_kl + (ŨᵀR)_lk|/2 ≤ (‖u_k‖‖r_l‖ + ‖u_l‖‖r_k‖)/2 (Cauchy–Schwarz; the symmetric form, no
    G·gap) with R̃ = fl(VŨ − ŨΛ̃), ‖r_l − r̃_l‖ ≤
    γ_(N+2)(‖|V|‖ + |μ_l|)‖u_l‖; |G| ≤ |fl(ŨᵀŨ) − I| + γ_(N+1)‖u_k‖‖u_l‖; |Ũ|ᵀ|δV||Ũ| ≤
    (d_k + d_l)/2, d_k = Σ_i r_i u_ik² (AM–GM), r ≥ |δV|'s row sums (``dv_rows``, (..., N));
    ‖|V|‖ ≤ V's largest row sum; plus the second order (:func:`_second_order`). Looser than
    :func:`mode_perturbation` by ~√N on the residual part, but two products."""
    eps = np.finfo(float).eps
    mu, u = np.asarray(mu, float), np.asarray(u, float)
    n = mu.shape[-1]
    gam = 1.01 * (n + 2) * eps
    if sp.issparse(v):  # one large network: V's product and row sums from its nonzeros
        res = v @ u
        vrow = float(np.max(abs_row_sums(v), initial=0.0))
    else:
        v = np.asarray(v, float)
        res = v @ u
        vrow = np.max(np.sum(np.abs(v), axis=-1), axis=-1)[..., None]
    res -= u * mu[..., None, :]
    norms = np.sqrt(np.einsum("...ij,...ij->...j", u, u)) * (1 + gam)
    rn = np.sqrt(np.einsum("...ij,...ij->...j", res, res)) * (1 + gam) + gam * (vrow + np.abs(mu)) * norms
    del res
    nn = norms[..., :, None] * norms[..., None, :]
    g = np.swapaxes(u, -1, -2) @ u
    g -= np.eye(n)
    g = np.abs(g, out=g)
    g += gam * nn
    del nn
    b = norms[..., :, None] * rn[..., None, :]  # (the symmetric form, as mode_perturbation's)
    b += np.swapaxes(b, -1, -2)
    b *= 0.5
    d = 0.5 * (1 + gam) * np.einsum("...i,...ij->...j", np.asarray(dv_rows, float), u * u)
    b += d[..., :, None]
    b += d[..., None, :]
    gf = np.sqrt(np.sum(g * g, axis=(-2, -1)))  # ≥ ‖G‖₂; ‖ŨᵀR‖₂ ≤ ‖Ũ‖₂‖R‖_F ≤ (1 + γ)‖R‖_F
    b += _second_order(gf, np.max(np.abs(mu), axis=-1), (1 + gf) * np.sqrt(np.sum(rn * rn, axis=-1)))[..., None, None]
    safe = 1 + 8 * n * eps
    b *= safe
    g *= safe
    return b, g, b


def gram_defect(u, safe: float = 1.0) -> np.ndarray:
    """Bound on |ŨᵀŨ − I| entrywise, within ~ε·|ŨᵀŨ − I| + 1e-18 of it: Ũ (scaled by a power of
    two to |Ũ| ≤ 1 if need be) split exactly as A + r, A = S·2^(−β) with S integer-valued,
    |S| ≤ 2^β and 2β + log₂N ≤ 53, so that AᵀA is exact in BLAS (its partial sums are integers
    times 2^(−2β) below 2^(53−2β); the error-free slicing of Ozaki et al., Numer. Algorithms 59,
    2012), and AᵀA − I exact (Sterbenz); Aᵀr and rᵀr, small (|r| ≤ 2^(−β−1)), in double with
    γ_N|·|ᵀ|·| ≤ γ_N‖·‖‖·‖. ``safe``: a factor ≥ 1 the result is multiplied by."""
    n = u.shape[0]
    eps = np.finfo(float).eps
    big = float(np.max(np.abs(u)))
    scale = 1.0 if big <= 1 else 2.0 ** np.ceil(np.log2(big))
    beta = int((53 - int(np.ceil(np.log2(max(n, 2))))) // 2)
    r = np.asarray(u, float) / scale if scale != 1 else np.asarray(u, float)
    shift = 1.5 * 2.0 ** (52 - beta)  # (r + shift) − shift: r rounded to a multiple of 2^(−β), exactly
    a = r + shift
    a -= shift
    r = r - a  # exact: r's trailing bits
    x = a.T @ r
    h = a.T @ a  # exact (and symmetric)
    y = r.T @ r
    na = np.sqrt(np.einsum("ij,ij->j", a, a))
    nr = np.sqrt(np.einsum("ij,ij->j", r, r))
    # the products' roundoff γ_N(|A|ᵀ|r| + |r|ᵀ|A| + |r|ᵀ|r|) ≤ γ_N(na⊗nr + nr⊗na + nr⊗nr)
    # (Cauchy–Schwarz; norms to 1.01nε), the three sums' 3ε(|h − I| + |x| + |xᵀ| + |y|) ≤ 3ε|G| +
    # 6.1ε(the same outer products), and na⊗nr + nr⊗na + nr⊗nr ≤ (max na + max nr)(nr_k + nr_l);
    # products that underflow: ≤ 2^(−1074) a term; then × scale² (exact)
    c = (1.01 * n * eps + 6.1 * eps) * (float(np.max(na)) + float(np.max(nr)))
    # (the sums' 3ε|g|, and 5ε for the kernel's own three roundings of non-negative terms)
    q = (nr * c + n * 2.0**-1074) * ((1 + 5 * eps) * scale**2 * safe)
    _GRAM(x, h, y, 1.0 / scale**2, (1 + 8 * eps) * scale**2 * safe, q)
    return x


def _gram(x, h, y, one, c, q):
    """x ← c|(h − one·I) + y + x + xᵀ| + q_k + q_l, symmetric: G_kl from the pair (k ≤ l), with
    AᵀA's diagonal minus ``one`` first (exact)."""
    m = x.shape[0]
    for k0 in range(0, m, 64):  # 64 × 64 tiles: (k, l) and (l, k) both in cache
        for l0 in range(k0, m, 64):
            for k in range(k0, min(k0 + 64, m)):
                for l in range(max(k, l0), min(l0 + 64, m)):
                    hk = h[k, l] - one if k == l else h[k, l]
                    v = c * abs((hk + y[k, l]) + (x[k, l] + x[l, k])) + (q[k] + q[l])
                    x[k, l] = v
                    x[l, k] = v


_GRAM = kernel(_gram, "void(float64[:, ::1], float64[:, ::1], float64[:, ::1], float64, float64, float64[::1])",
               reads=(1, 2, 5))


def _perturbation(b, dv, on, rn, od, cdv, floor, safe):
    """b ← safe·(|b_kl + b_lk|/2 + (on_k·rn_l + on_l·rn_k)/2 + cdv·dv + od_k + od_l + floor)."""
    m = b.shape[0]
    for k0 in range(0, m, 64):  # 64 × 64 tiles: (k, l) and (l, k) both in cache
        for l0 in range(k0, m, 64):
            for k in range(k0, min(k0 + 64, m)):
                for l in range(max(k, l0), min(l0 + 64, m)):
                    v = safe * (0.5 * (abs(b[k, l] + b[l, k]) + (on[k] * rn[l] + on[l] * rn[k]))
                                + (cdv * dv[k, l] + (od[k] + od[l])) + floor)
                    b[k, l] = v
                    b[l, k] = v


_PERTURBATION = kernel(_perturbation, "void(float64[:, ::1], float64[:, ::1], float64[::1], float64[::1], "
                                      "float64[::1], float64, float64, float64)",
                       reads=(1, 2, 3, 4))


def _residual(indptr, indices, data, u, mu, out):
    """out = VŨ − ŨΛ̃ (V in CSR: ``indptr``, ``indices``, ``data``) by error-free transformations:
    each product exactly as p + e (Dekker's TwoProduct, |factors| < 2^995), the products' sum as
    hi + lo (Knuth's TwoSum), the errors (≤ (nnz + 2)ε/2·Σ|p| together) summed into lo in double
    (≤ γ_(2nnz+3) of that); so |out − R| ≤ ε|R| + (nnz + 2)²ε²·(|V||Ũ| + |Ũ||Λ̃|) entrywise (nnz:
    the largest row's), plus 4(nnz + 2)·2^(−1074) for products near underflow."""
    n, m = u.shape
    for i in range(n):
        for k in range(m):
            hi = -u[i, k] * mu[k]
            lo = _product_error(-u[i, k], mu[k], hi)
            for jj in range(indptr[i], indptr[i + 1]):
                p = data[jj] * u[indices[jj], k]
                s = hi + p
                z = s - hi
                lo += _product_error(data[jj], u[indices[jj], k], p) + ((hi - (s - z)) + (p - z))
                hi = s
            out[i, k] = hi + lo


def _product_error(a, b, p):
    """a·b − p exactly for p = fl(a·b) (Dekker's TwoProduct, |a|, |b| < 2^995)."""
    c = 134217729.0  # 2^27 + 1: splits a double into two halves of 26 bits
    t = c * a
    ah = t - (t - a)
    al = a - ah
    t = c * b
    bh = t - (t - b)
    bl = b - bh
    return al * bl - (((p - ah * bh) - al * bh) - ah * bl)


_RESIDUAL = kernel(_residual, "void(int32[::1], int32[::1], float64[::1], float64[:, ::1], float64[::1], "
                              "float64[:, ::1])", reads=(0, 1, 2, 3, 4), calls=("_product_error",))


def residual_matrix(v, mu, u):
    """(R = VŨ − ŨΛ̃ to ε|R| entrywise plus the bound of :func:`_residual` on the rest, nnz):
    ``v`` sparse, (``mu``, ``u``) a computed eigh; factors beyond 2^995 in extended precision."""
    vc = sp.csr_matrix(v, dtype=float)
    vc.sort_indices()
    nnz = int(np.max(np.diff(vc.indptr), initial=1))
    u = np.ascontiguousarray(u, float)
    if max(float(np.max(np.abs(vc.data), initial=0.0)), float(np.max(np.abs(mu), initial=0.0))) < 2.0**995:
        res = np.empty_like(u)
        _RESIDUAL(vc.indptr.astype(np.int32), vc.indices.astype(np.int32), vc.data, u,
                  np.ascontiguousarray(mu, float), res)
        return res, (nnz + 2) ** 2 * np.finfo(float).eps ** 2, nnz
    ld = np.longdouble  # (a V this large: overflow-safe, slower)
    res = (vc.astype(ld) @ u.astype(ld) - u.astype(ld) * np.asarray(mu, ld)).astype(float)
    return res, (nnz + 2) * float(np.finfo(ld).eps), nnz


def propagator_divided_differences(w, t: float, rows=slice(None)):
    """Bounds on |f[μ_k, μ_l]| (rows k in ``rows``, all l) for |t'| ≤ t of the propagator's
    functions of μ = w²: f_c = cos(wt'), f_s = sin(wt')/w, f_k = w sin(wt') (x(t) = f_c x₀ + f_s p₀,
    p(t) = −f_k x₀ + f_c p₀). Mean value theorem in w, Δμ = Δw (w_k + w_l), with
    |f_c′| ≤ t, |f_s′| = |x cos x − sin x|/w² ≤ min(2x, √(x² + 1))/w² (x = wt; over [w_lo, w_hi]
    ≤ min(2t, √(t² + 1/w_lo²))/w_lo), |f_k′| = |sin x + x cos x| ≤ √(1 + x²) (the bound of
    A sin x + B cos x by √(A² + B²)); and far apart |f[μ_k, μ_l]| ≤ (|f(μ_k)| + |f(μ_l)|)/|Δμ|
    with |f_c| ≤ 1, |f_s| ≤ min(t, 1/w), |f_k| ≤ w. (Also in the compiled
    :func:`~harmosync.solvers.arrowvectors._pair_terms`.)"""
    wk = w[rows][:, None]
    wl = w[None, :]
    s = wk + wl
    gap = np.abs(wk - wl) * s
    lo, hi = np.minimum(wk, wl), np.maximum(wk, wl)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # t = ∞: the far caps (near: ∞)
        fs = np.minimum(t, 1 / w)
        near = (t / s, np.minimum(2 * t, np.sqrt(t * t + (1 / lo) ** 2) * SQRT_SAFE) / (lo * s),
                np.sqrt(1 + (hi * t) ** 2) * SQRT_SAFE / s)
        far = (2 / gap, (fs[rows][:, None] + fs[None, :]) / gap, s / gap)
    return tuple(np.minimum(n_, f_) for n_, f_ in zip(near, far))  # gap 0: far is +∞


def _row_gains(b, g, w, u, t: float, rows=None, *, term=None):
    """(G_x, G_p) (2n, N) of :func:`eigenvector_roundoff` for the bounds ``b`` ≥ |B|, ``g`` ≥ |G|,
    or the chain path's ``term`` (:class:`~harmosync.solvers.arrowvectors.ArrowTerm`: its b and
    g formed in the pass); ``rows`` (n, N): bounds on the
    readout's own errors |δU_ak| (an x row's error δU_ak(cos X_k + sin P_k)/√w_k, a p row's
    δU_ak√w_k(−sin X_k + cos P_k)), or None."""
    n, m = u.shape
    gx, gp = np.zeros((2 * n, m)), np.zeros((2 * n, m))  # rows: x of each observed row, then p
    w = np.ascontiguousarray(w, float)
    if term is None:
        _GAINS(np.ascontiguousarray(b), np.ascontiguousarray(g), 0, 0, -1, np.zeros(0, np.int64), w,
               np.minimum(t, 1 / w), np.ascontiguousarray(u), float(t), gx, gp)
    else:
        term.raw_gains(w, np.minimum(t, 1 / w), np.ascontiguousarray(u), t, gx, gp)
    scale = 1 + 4 * m * np.finfo(float).eps  # the sums' roundoff (non-negative terms)
    sw = np.sqrt(w)
    gx, gp = gx / sw * scale, gp * sw * scale
    if rows is not None:
        rows = np.asarray(rows, float) * (1 + 4 * np.finfo(float).eps)
        gx[:n] += rows / sw
        gp[:n] += rows / sw
        gx[n:] += rows * sw
        gp[n:] += rows * sw
    return gx, gp


def eigenvector_roundoff(b, w, readout, mean0, nu, values, vectors, t: float, floor: float = 0.0) -> float:
    """Bound on the first-order error of every observed mean and covariance entry for |t'| ≤ t
    from the eigenvectors' errors of a dense eigh: V_exact = Q(Λ̃ + B)Qᵀ (|B| ≤ ``b[0]``,
    :func:`mode_perturbation`) moves each propagator function f(V) by Q(B ∘ F)Qᵀ, F_kl =
    f[μ_k, μ_l] (Daleckii–Krein; :func:`propagator_divided_differences`), and Ũ = Q(I + G)^(1/2)
    adds Q((Gf + fG)/2)Qᵀ (|G| ≤ ``b[1]``; or ``b`` the chain path's
    :class:`~harmosync.solvers.arrowvectors.ArrowTerm`, with the readout rows' own errors, its
    site rows against its vectors', :func:`_row_gains`). On an observed row a
    the error is gᵀy₀ (y₀ the initial state in scaled normal coordinates, ``mean0``, covariance
    diag(ν, ν) + Σ_r λ_r v_r v_rᵀ, ``nu``, ``values``, ``vectors``) with |g| ≤ G:
    G_x = |U_a|(b ∘ |F_c|)/√w, G_p = |U_a|(b ∘ |F_s|)√w for x rows (F_k, F_c for p rows). Means:
    G·|y₀|. Covariance: δσ_ab = g_aᵀσ′₀m_b(t) + g_bᵀσ′₀m_a(t) + O(B²), m_a(t) the row a of the
    computed evolution in y₀'s coordinates, |m_a| ≤ r_a = |U_a|/√w (x rows), |U_a|√w (p rows),
    bounded mode by mode on diag(ν, ν) and through |λ_r| on Δ, but σ′₀'s rows and columns of the
    hot modes (ν and Δ cancelling, :func:`_hot_modes`) exactly (:func:`_initial_products`); the
    second order by √(q_a q_b), q_a ≥ g_aᵀσ′₀g_a; ``floor``:
    the dropped eigenvalues of Δ (≤ floor·‖g‖²). The diagonal B_kk, μ_k's first-order shift, is
    left to the phase terms (|μ̃_k − μ_k| ≤ e_k, ``mu_error``). Finite ``t`` only (the
    evolution's ``cover`` calls it at each new horizon), t = 0 included (review of session 21:
    0 there dropped G's Q(G)Qᵀ, and a means-only solve read at t = 0 erred 1.5e-16 against a bound
    of 4.5e-21)."""
    w = np.asarray(w, float)
    signed = np.asarray(readout, float)
    u = np.abs(signed)
    n, m = u.shape
    if n == 0 or not 0 <= t < np.inf:  # (t = 0 too: Ũ's non-orthogonality G is there at once)
        return 0.0
    sw, m0 = np.sqrt(w), np.abs(np.asarray(mean0, float))
    # b_means for the covariance too, on both paths (mode_perturbation: vector_roundoff bounds
    # the refined soft vectors' errors in the stationary part only, not through Δ)
    if hasattr(b, "raw_gains"):  # the chain path's term (solvers.arrowvectors.ArrowTerm)
        gx, gp = _row_gains(None, None, w, u, t, b.rows, term=b)
    else:
        gx, gp = _row_gains(b[2] if len(b) > 2 else b[0], b[1], w, u, t)
    mean_err = float(np.max(gx @ m0[0] + gp @ m0[1]))
    if not np.size(nu) or not np.any(nu) and not np.size(values):
        return mean_err
    lam = np.asarray(values, float)
    vx, vp = np.asarray(vectors[0], float), np.asarray(vectors[1], float)
    r = np.concatenate([u / sw, u * sw])  # |rows of x_a, p_a| in scaled normal coordinates
    hot = _hot_modes(np.asarray(nu, float), lam, vx, vp)
    # m_b(t) read against exact vectors: near-degenerate modes' terms summed with their signs
    runs = mode_clusters(w, t, 0.0), np.concatenate([signed / sw, signed * sw])
    cross, q = _initial_products(gx, gp, r, np.asarray(nu, float), lam, vx, vp, hot, runs)
    q = q + floor * np.sum(gx**2 + gp**2, axis=1)
    cross = cross + floor * np.outer(np.sqrt(np.sum(gx**2 + gp**2, axis=1)), np.sqrt(np.sum(r**2, axis=1)))
    cov_err = float(np.max(cross + cross.T + np.sqrt(np.outer(q, q))))
    return max(mean_err, cov_err)


#: the most modes whose rows of σ′₀ :func:`eigenvector_roundoff` forms exactly (:func:`_hot_modes`)
HOT_MAX = 64


def _hot_modes(nu, lam, vx, vp) -> np.ndarray:
    """The modes (at most HOT_MAX, ascending) whose diagonal of σ′₀ = diag(ν, ν) + Σ_r λ_r v_r v_rᵀ
    the split form ν_k + Σ_r |λ_r| v_rk² overstates more than 4× (a hot soft mode's ν ~ T/w
    against Δ's −ν + ½ on a cold probe's mode: 6000× on review s8's stiff chain)."""
    if not lam.size or not nu.size:
        return np.zeros(0, dtype=int)
    al = np.abs(lam)
    split = nu + np.maximum(vx**2 @ al, vp**2 @ al)
    exact = np.maximum(np.abs(nu + vx**2 @ lam), np.abs(nu + vp**2 @ lam))
    ratio = split / np.maximum(exact, np.finfo(float).tiny)
    cand = np.flatnonzero(ratio > 4)
    return np.sort(cand[np.argsort(-ratio[cand])[:HOT_MAX]])


def _initial_products(gx, gp, r, nu, lam, vx, vp, hot, runs=(None, None)):
    """(c, q) of :func:`eigenvector_roundoff`: c_ab ≥ max_t |g_aᵀσ′₀m_b(t)| and q_a ≥ g_aᵀσ′₀g_a for
    |g_a| ≤ (``gx``, ``gp``) and m_b(t) = r_b·(cos, sin) mode by mode (|Σ_β s_(αk,βl) m_(b,βl)| ≤
    r_bl·‖(s_(αk,xl), s_(αk,pl))‖), σ′₀ = diag(ν, ν) + Σ_r λ_r v_r v_rᵀ (``vx``, ``vp``: v_r's x and p
    parts (N, R)). Its rows and columns of the ``hot`` modes exactly (their ν and Δ cancel), the
    rest as diag(ν) mode by mode (|g_x cos + g_p sin| ≤ √(g_x² + g_p²)) plus Δ through |λ_r|
    with v_r's hot entries zeroed (those entries are in the exact rows); q through σ′₀ ≼ diag(ν, ν)
    + Σ_(λ_r > 0) λ_r v_r v_rᵀ on the rest (σ′₀ ≽ 0: √(q_a q_b) ≥ |g_aᵀσ′₀g_b|), the hot rows
    entrywise, both orders (k hot or l hot: ≤ 2Σ_(k hot, all l)). ``runs``: (mode_clusters at t
    (computed frequencies), the signed rows of r): m_b read against an exact vector (v_r, a hot
    row of σ′₀) with the near-degenerate modes' terms summed with their signs first
    (:func:`~harmosync.solvers.roundoff.clustered_readout`)."""
    clusters, signed = runs
    nu, vx, vp = nu.copy(), vx.copy(), vp.copy()
    cross = q = 0.0
    if hot.size:
        lx, lp = vx[hot] * lam, vp[hot] * lam  # (H, R)
        sxx, sxp, spx, spp = lx @ vx.T, lx @ vp.T, lp @ vx.T, lp @ vp.T  # rows of σ′₀'s blocks (H, N)
        idx = np.arange(hot.size)
        sxx[idx, hot] += nu[hot]
        spp[idx, hot] += nu[hot]
        # the rows' rounding (R products, R + 1 sums; ν_k and Δ cancel on a hot mode's own block),
        # ≥ ‖(δs_x, δs_p)‖ of each pair of entries
        eps = np.finfo(float).eps
        av = np.abs(vx) + np.abs(vp)
        rnd = (av[hot] * np.abs(lam)) @ av.T
        rnd[idx, hot] += nu[hot]
        rnd *= 2 * _gam(lam.size + 3, eps)
        rows_x, rows_p = np.hypot(sxx, sxp) + rnd, np.hypot(spx, spp) + rnd  # k hot: row (α, k) against l's (x, p)
        cols_x, cols_p = np.hypot(sxx, spx) + rnd, np.hypot(sxp, spp) + rnd  # l hot: row (α, k) against l's (x, p)
        cold = np.ones(nu.size, bool)
        cold[hot] = False
        if clusters:  # the computed rows' sums with their signs, plus their rounding mode by mode
            read_x = clustered_readout(signed, sxx.T, sxp.T, np.hypot(sxx, sxp).T, clusters).T + rnd @ r.T
            read_p = clustered_readout(signed, spx.T, spp.T, np.hypot(spx, spp).T, clusters).T + rnd @ r.T
        else:
            read_x, read_p = rows_x @ r.T, rows_p @ r.T
        cross = gx[:, hot] @ read_x + gp[:, hot] @ read_p \
            + ((gx * cold) @ cols_x.T + (gp * cold) @ cols_p.T) @ r[:, hot].T
        q = 2 * np.sum(gx[:, hot] * (gx @ (np.abs(sxx) + rnd).T + gp @ (np.abs(sxp) + rnd).T)
                       + gp[:, hot] * (gx @ (np.abs(spx) + rnd).T + gp @ (np.abs(spp) + rnd).T), axis=1)
        nu[hot], vx[hot], vp[hot] = 0.0, 0.0, 0.0
    ax, ap = np.abs(vx), np.abs(vp)
    pos = lam > 0
    q = q + gx**2 @ nu + gp**2 @ nu + ((gx @ ax[:, pos] + gp @ ap[:, pos]) ** 2) @ lam[pos]
    norms = np.sqrt(ax**2 + ap**2)
    read = clustered_readout(signed, vx, vp, norms, clusters) if clusters else r @ norms
    cross = cross + (np.sqrt(gx**2 + gp**2) * nu) @ r.T + (np.abs(lam) * (gx @ ax + gp @ ap)) @ read.T
    return cross, q


class VectorTerm:
    """:func:`eigenvector_roundoff` of a solution at a horizon |t| (its arguments after ``b``
    as given here), remembered for the last horizons asked (an evaluation's ``cover`` asks again
    at the same horizon when only the NUFFT's floor changes). With a finite ``t_max`` (the
    solution refuses later times) the term at t_max is computed at once and ``b`` (N × N
    arrays) let go: the term is nondecreasing in t (every F bound and min(t, 1/w) is), so that
    value covers every |t| ≤ t_max."""

    def __init__(self, b, *args, t_max: float = np.inf, **kwargs):
        self.b, self.args, self.kwargs = b, args, kwargs
        self.known: dict[float, float] = {}
        self.t_max = float(t_max)
        if np.isfinite(self.t_max):
            self.frozen = eigenvector_roundoff(b, *args, self.t_max, **kwargs)
            self.b = None

    def __call__(self, t: float) -> float:
        t = float(t)
        if self.b is None:  # beyond t_max (a solution forced past it): not bounded
            return self.frozen if t <= self.t_max * (1 + 1e-12) else np.inf
        if t not in self.known:
            if len(self.known) > 16:
                self.known.clear()
            self.known[t] = eigenvector_roundoff(self.b, *self.args, t, **self.kwargs)
        return self.known[t]
