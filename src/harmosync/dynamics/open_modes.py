"""The structured open solver: locally damped oscillators as a low-rank change of the closed network.

Applies when every bath is a local (not common) Lindblad bath and every damped oscillator has
the same total rate γ (any temperatures or occupations): then A = A_H − (γ/2)EEᵀ, E selecting
x and p of the damped oscillators, and D lives on them (CONVENTIONS, "Open systems"). Chosen by
:func:`harmosync.dynamics.open.solve_open` above ``MODES_MIN`` oscillators; the dense path
stays the reference and the fallback.

* **Closed modes**: :func:`.normal_modes.solve_closed` (dense eigh, or the chain's secular
  equations for long chains, O(N²)) gives Ω_k, the rows of U for the observed and damped
  oscillators, the initial mean and the low-rank Δ = σ(0) − σ_s in mode coordinates.
* **Damped modes**: the eigenvalues of A from the secular equation det(I + γ(λ + γ/4)g(λ)) = 0
  and Cauchy-like eigenvectors (:mod:`harmosync.solvers.damped`), verified (distinct roots, one
  per pole; trace) or refused, and then the dense path is used.
* **Moments**: as in :mod:`.open`, σ(t) = σ_s + e^{At}Δe^{Aᵀt} + Σ_{j<k} e^{At_j}Q_h e^{Aᵀt_j}
  on a uniform grid, with Q_h = ∫₀ʰ e^{As}Se^{Aᵀs}ds from the Taylor series of e^{As} applied
  in mode coordinates (O(N n_d) per column), S = D + A_dσ_s + σ_sA_dᵀ = [Y, N Y]-factored per
  block; every readout R e^{At}W = 2 Re Σ_m (Rv_m)(w_mᵀW) e^{λ_m t} (blocked GEMM with one table
  e^{λ_m jh} reused across blocks). Other grids, and σ_∞, from the double sum
  Σ_ab (Rv_a)(w_aᵀSw_b)(Rv_b)ᵀ (e^{(λ_a+λ_b)t} − 1)/(λ_a + λ_b) (t = ∞ for σ_∞).

Error bound: the closed solver's (Δ truncation, eigensolver) plus, per readout column c, the
mismatch at t = 0 of the modal expansion against the direct product RW (which also checks
completeness), and the phase error t·(δλ + 2ε|λ|) on Σ_m |B_mc| (δλ: the closed eigensolver's
error on Ω_k plus the last Newton step), propagated through the products and the noise sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..baths import own_frequencies
from ..conventions import thermal_factor, thermal_occupation, to_interleaved
from ..errors import HarmosyncError
from ..network import Network
from ..solvers import blas_threads
from ..solvers import expsum
from ..solvers.damped import damped_modes
from ..states import InitialState
from .contract import steps_before, uniform_step
from .open_contract import OpenContract
from .evaluation import stationary_covariance
from .normal_modes import solve_closed

#: the structured path is used from this many oscillators up (below, the dense path is as fast)
MODES_MIN = 40
#: and for at most this many damped oscillators (its secular equation costs O(N² n_d²))
DAMPED_MAX = 8
#: BLAS threads of the structured path: one (on the shared 2-core machine a second thread
#: spin-waits; a QR of 2·10⁴ × 136 ran 10× slower on two)
THREADS = 1
EPS = np.finfo(float).eps


@dataclass(frozen=True)
class LocalDamping:
    """Local Lindblad damping of equal rate: 0-based ``sites``, rate ``gamma`` [w], and the
    diffusion D_xx, D_pp of each damped oscillator (D has no x-p part here)."""

    sites: tuple[int, ...]
    gamma: float
    dxx: np.ndarray
    dpp: np.ndarray


def local_damping(network: Network, baths) -> LocalDamping | None:
    """The baths as :class:`LocalDamping`, or None when they are not all local Lindblad baths
    of one total rate on at most ``DAMPED_MAX`` oscillators. A local bath on oscillator j with
    L = (w x + i p)/√(2w) (w the bath frequency if given, else j's own) adds −(γ/2)·1 to A's
    2 × 2 block and γ(n̄ + ½)·diag(1/w, w) to D's (:func:`harmosync.baths.drift_diffusion`;
    checked against it in the tests: this is the same definition, specialised to one member)."""
    own = own_frequencies(network)
    rate, dxx, dpp = {}, {}, {}
    for k, bath in enumerate(baths, start=1):
        try:
            members = bath.members(network)
        except HarmosyncError as e:
            raise type(e)(f"baths[{k}]: {e}") from None
        if bath.kind != "lindblad" or (bath.common and len(members) > 1):
            return None
        for j in members:
            w = float(bath.frequency) if bath.frequency is not None else float(own[j])
            if w <= 0:
                return None  # the dense path raises the one-line error
            c = float(bath.weights[0]) ** 2 if bath.weights is not None else 1.0
            nbar = (float(bath.occupation) if bath.occupation is not None
                    else float(thermal_occupation(w, float(bath.temperature or 0.0))))
            g = c * bath.rate
            rate[j] = rate.get(j, 0.0) + g
            dxx[j] = dxx.get(j, 0.0) + g * (nbar + 0.5) / w
            dpp[j] = dpp.get(j, 0.0) + g * (nbar + 0.5) * w
    sites = tuple(sorted(j for j in rate if rate[j] > 0))
    if not sites or len(sites) > DAMPED_MAX:
        return None
    gamma = rate[sites[0]]
    if any(abs(rate[j] - gamma) > 1e-14 * gamma for j in sites):
        return None
    return LocalDamping(sites, float(gamma), np.array([dxx[j] for j in sites]),
                        np.array([dpp[j] for j in sites]))


def _source(basis, damping: LocalDamping, nu_q, nu_p):
    """S = D + A_dσ_s + σ_sA_dᵀ in mode coordinates as (values, vectors (2N, r), dropped): its
    q block is Y D_x Yᵀ − (γ/2)(YYᵀN_q + N_qYYᵀ), N_q = diag(ν/w) (σ_s), likewise the π block
    with N_p = diag(νw); so each block is F M Fᵀ with F = [Y, N Y]."""
    y, half = basis.y, 0.5 * damping.gamma
    n, nd = y.shape
    blocks = []
    for nq, dd in ((nu_q, damping.dxx), (nu_p, damping.dpp)):
        m = np.block([[np.diag(dd), -half * np.eye(nd)], [-half * np.eye(nd), np.zeros((nd, nd))]])
        blocks.append((np.hstack([y, nq[:, None] * y]), m))
    z = np.zeros((n, 2 * nd))
    f = np.block([[blocks[0][0], z], [z, blocks[1][0]]])
    mid = np.block([[blocks[0][1], np.zeros((2 * nd, 2 * nd))], [np.zeros((2 * nd, 2 * nd)), blocks[1][1]]])
    qf, rf = np.linalg.qr(f)
    sv, sw = np.linalg.eigh(rf @ mid @ rf.T)
    keep = np.abs(sv) > 1e-15 * max(float(np.max(np.abs(sv))), 1e-300)
    return sv[keep], qf @ sw[:, keep], float(np.sum(np.abs(sv[~keep])))


def _mode_noise(basis, damping: LocalDamping, nu_q, nu_p, h: float):
    """Low-rank Q_h (values, (q, π) vectors (N, r) each, dropped) in mode coordinates from
    S (:func:`_source`) and the Taylor series of e^{As}
    (:func:`.open.taylor_noise`), in ``2^j`` doublings Q_{2τ} = Q_τ + Φ_τQ_τΦ_τᵀ when ‖A‖h > ½."""
    from .open import taylor_noise

    y, mu, g = basis.y, basis.mu, damping.gamma
    n, nd = y.shape
    half = 0.5 * g

    def apply(v):  # v (2N, C) = (q; π)
        q, pi = v[:n], v[n:]
        return np.vstack([pi - half * (y @ (y.T @ q)), -mu[:, None] * q - half * (y @ (y.T @ pi))])

    sv, su, sdrop = _source(basis, damping, nu_q, nu_p)
    yy = float(np.sum(np.linalg.norm(y, axis=1)) * np.max(np.linalg.norm(y, axis=1)))
    norm = max(1.0, float(mu.max())) + half * yy  # ‖A‖₁ in mode coordinates
    j = int(np.ceil(np.log2(norm * h / 0.5))) if norm * h > 0.5 else 0
    tau = h / 2.0**j
    out = taylor_noise(apply, norm * tau, sv, su, tau)
    vals, vecs, dropped = out
    for level in range(j):  # Q_{2τ} = Q_τ + Φ_τQ_τΦ_τᵀ, Φ_τ = (e^{A h/2^j})^{2^level}
        phi_v = vecs
        for _ in range(2**level):
            phi_v = _taylor_exp(apply, norm * h / 2.0**j, phi_v, h / 2.0**j)
        qk, rk = np.linalg.qr(np.hstack([vecs, phi_v]))
        small = (rk * np.concatenate([vals, vals])) @ rk.T
        lam, v = np.linalg.eigh(0.5 * (small + small.T))
        keep = np.abs(lam) > 1e-16 * max(float(np.max(np.abs(lam), initial=0.0)), 1e-300)
        dropped = 2 * dropped + float(np.sum(np.abs(lam[~keep])))
        vals, vecs = lam[keep], qk @ v[:, keep]
    return vals, vecs[:n], vecs[n:], dropped + sdrop * h


def _taylor_exp(apply, x: float, v, tau: float):
    """e^{Aτ}v by its Taylor series (x ≥ ‖A‖τ, ≤ ½): terms until x^m/m! < 1e-17."""
    out, term, m, bound = v.copy(), v, 0, 1.0
    while bound > 1e-17 and m < 40:
        m += 1
        bound *= x / m
        term = (tau / m) * apply(term)
        out = out + term
    return out


@dataclass(frozen=True, eq=False, kw_only=True)
class ModalOpenEvolution(OpenContract):
    """The structured open solver's :class:`~harmosync.dynamics.Evolution` (module docstring);
    same members as :class:`.open.OpenEvolution` for everything above the dynamics.

    Solver data: ``modes`` (:class:`~harmosync.solvers.damped.DampedModes`), ``rx`` (2n, K) the
    observed rows of the right eigenvectors, ``damping``, ``closed`` (the closed evolution that
    supplied the modes), ``columns`` (q, π) mode-coordinate columns [mean, Δ vectors] and their
    ``coef`` (K, C) = X⁻¹W, ``delta_values``, ``sigma_s`` (observed, interleaved)."""

    modes: object
    damping: LocalDamping
    closed: object
    blas: ClassVar[int | None] = THREADS  # one BLAS thread: the readout's products are small

    def diagnostics(self) -> dict:
        return self._diagnostics(self._cache["delta_values"].size,
                                 eigenvalue_condition=float(np.max(self._cache["cond"])))

    def evaluate(self, t: np.ndarray, *, means_only: bool):
        return _evaluate(self, t, means_only=means_only)


def solve_modes(network: Network, initial: InitialState, damping: LocalDamping, rows, *,
                covariance: bool = True, tol: float = 1e-13, noiseless_tol: float = 1e-10) -> ModalOpenEvolution:
    """The structured open evolution (module docstring). Raises
    :class:`~harmosync.solvers.damped.NotSeparated` when the damped modes cannot be verified
    (the caller then uses the dense path)."""
    with blas_threads(THREADS):
        return _solve_modes(network, initial, damping, rows, covariance=covariance, tol=tol,
                            noiseless_tol=noiseless_tol)


def _solve_modes(network, initial, damping, rows, *, covariance, tol, noiseless_tol):
    p = network.n_probes
    extra = [j for j in (*damping.sites, *range(p)) if j not in rows]
    extra = list(dict.fromkeys(extra))
    closed = solve_closed(network, initial, observe=tuple(rows) + tuple(extra), covariance=covariance, tol=tol)
    allrows = list(closed.rows)
    w = closed.frequencies
    mu = w * w
    u = closed.readout  # (n + extra, N)
    y = u[[allrows.index(j) for j in damping.sites]].T
    basis = damped_modes(mu, y, damping.gamma)
    n = len(rows)
    sw = np.sqrt(w)
    vals = closed.values if covariance else np.zeros(0)
    vq = closed.vectors[0] / sw[:, None] if covariance else np.zeros((w.size, 0))
    vp = closed.vectors[1] * sw[:, None] if covariance else np.zeros((w.size, 0))
    cols_q = np.hstack([(closed.mean0[0] / sw)[:, None], vq])
    cols_p = np.hstack([(closed.mean0[1] * sw)[:, None], vp])
    rx_all, coef, cond, size = basis.products(u, cols_q, cols_p)
    rx = rx_all[: 2 * n]
    lam = basis.lam
    scale = float(np.max(np.abs(lam)))
    quiet = -lam.real <= noiseless_tol * scale
    # completeness and accuracy at t = 0: 2 Re Σ_m (Rv_m)(Y W)_m against R W
    direct = np.empty((2 * n, cols_q.shape[1]))
    direct[0::2], direct[1::2] = u[:n] @ cols_q, u[:n] @ cols_p
    res0 = np.max(np.abs(2 * np.real(rx @ coef) - direct), axis=0)  # (C,)
    nu = closed.nu if covariance else thermal_factor(w, float(initial.environment_temperature))
    sigma_s = to_interleaved(stationary_covariance(closed))[: 2 * n, : 2 * n] if covariance else None
    evo = ModalOpenEvolution(
        rows=tuple(rows), modes=basis, damping=damping, closed=closed,
        eigenvalues=np.concatenate([lam, lam.conj()]), steady=None, noiseless=(), n_probes=p,
        has_covariance=covariance)
    evo._cache.update(rx=rx, coef=coef, cond=cond, res0=res0, cols=(cols_q, cols_p), delta_values=vals,
                      nu=nu, sigma_s=sigma_s, closed_bound=float(closed.error_bound) if covariance else 0.0,
                      n=n, u=u)
    if np.any(quiet):
        probe = np.ravel([[2 * allrows.index(j), 2 * allrows.index(j) + 1] for j in range(p)])
        weights = np.sum(np.abs(rx_all[probe][:, quiet]) ** 2, axis=0) / size[quiet]
        noiseless = tuple((float(a), float(b)) for a, b in zip(lam[quiet].imag, weights))
        object.__setattr__(evo, "noiseless", noiseless)
    elif covariance:
        object.__setattr__(evo, "steady", _source_sum(evo, None))
    return evo


def _nu_qp(evo):
    w = evo.closed.frequencies
    nu = evo._cache["nu"]
    return nu / w, nu * w


def _coefficients(evo, key, cols_q, cols_p):
    """(coef (K, C) = X⁻¹W for mode-coordinate columns, res0 (C,), cached under ``key``)."""
    c = evo._cache
    if key not in c:
        n, u = c["n"], c["u"]
        _, coef, _, _ = evo.modes.products(u[:0], cols_q, cols_p)
        direct = np.empty((2 * n, cols_q.shape[1]))
        direct[0::2], direct[1::2] = u[:n] @ cols_q, u[:n] @ cols_p
        res0 = np.max(np.abs(2 * np.real(c["rx"] @ coef) - direct), axis=0, initial=0.0)
        c[key] = (coef, res0)
    return c[key]


def _readout_coef(evo, coef):
    """b[m, (i, c)] = (Rv_m)_i (X⁻¹W)_mc: every readout at once."""
    rx = evo._cache["rx"]
    return (rx.T[:, :, None] * coef[:, None, :]).reshape(rx.shape[1], -1)


def _evaluate(evo: ModalOpenEvolution, t: np.ndarray, *, means_only: bool):
    """(mean (T, 2n), cov (T, 2n, 2n) or None) on the grid ``t``."""
    if t[0] < 0:
        raise HarmosyncError("an open system evolves forward only: times must be ≥ 0")
    if not means_only and not evo.has_covariance:
        raise HarmosyncError("this evolution was solved with covariance=False; use means(), or solve again")
    c = evo._cache
    lam, n = evo.modes.lam, c["n"]
    h = uniform_step(t)
    lead = 0
    if h is not None and not means_only:  # the noise accumulates from 0: whole steps before t[0]
        lead = steps_before(t, h)
        if lead is None:
            h, lead = None, 0
    coef = c["coef"]
    if means_only or h is None:
        ncol = 1 if means_only else coef.shape[1]
        b = _readout_coef(evo, coef[:, :ncol])
        if h is not None:
            rel, gen = expsum.evaluate(lam, b, t[0], h, t.size)
            c["sum_error"] = max(c.get("sum_error", 0.0), rel)
            y = np.vstack([v for _, v in gen])
        else:
            y = np.vstack([2 * np.real(np.exp(np.outer(t[s:s + 256], lam)) @ b) for s in range(0, t.size, 256)])
        y = y.reshape(t.size, 2 * n, ncol)
        mean = y[:, :, 0]
        if means_only:
            _record_bound(evo, t, mean, None)
            return mean, None
        z = y[:, :, 1:]
        cov = np.matmul(z * c["delta_values"], np.swapaxes(z, 1, 2)) + c["sigma_s"]
        cov += _source_sum(evo, t)
        cov = 0.5 * (cov + np.swapaxes(cov, 1, 2))
        _record_bound(evo, t, mean, cov)
        return mean, cov
    key = ("noise", h)
    if key not in c:
        qv, qq, qp, qdrop = _mode_noise(evo.modes, evo.damping, *_nu_qp(evo), h)
        c[key] = (qv, qdrop, *_coefficients(evo, ("qcoef", h), qq, qp))
    qv, qdrop, qcoef, qres0 = c[key]
    r = c["delta_values"].size
    allcoef = np.hstack([coef, qcoef])
    b = _readout_coef(evo, allcoef)
    ncol = allcoef.shape[1]
    total = lead + t.size
    mean = np.empty((t.size, 2 * n))
    cov = np.empty((t.size, 2 * n, 2 * n))
    acc = np.zeros((2 * n, 2 * n))
    rel, gen = expsum.evaluate(lam, b, 0.0, h, total)
    c["sum_error"] = max(c.get("sum_error", 0.0), rel)
    for start, vals in gen:
        y = vals.reshape(vals.shape[0], 2 * n, ncol)
        zq = np.ascontiguousarray(y[:, :, 1 + r:])
        inc = np.matmul(zq * qv, np.swapaxes(zq, 1, 2))
        run = np.cumsum(inc, axis=0) - inc + acc  # Σ_{j<k}: the noise accumulated up to t_k
        acc = run[-1] + inc[-1]
        lo = max(start, lead)
        if lo >= start + y.shape[0]:
            continue
        sl = slice(lo - start, y.shape[0])
        out = slice(lo - lead, start + y.shape[0] - lead)
        z = np.ascontiguousarray(y[sl, :, 1:1 + r])
        blk = np.matmul(z * c["delta_values"], np.swapaxes(z, 1, 2)) + c["sigma_s"] + run[sl]
        cov[out] = 0.5 * (blk + np.swapaxes(blk, 1, 2))
        mean[out] = y[sl, :, 0]
    _record_bound(evo, t, mean, cov, noise=(qv, qdrop, qcoef, qres0), steps=total)
    return mean, cov


def _source_sum(evo: ModalOpenEvolution, t):
    """Σ_ab (Rv_a)(w_aᵀSw_b)(Rv_b)ᵀ f_ab over all 2N modes: f = (e^{(λ_a+λ_b)t} − 1)/(λ_a + λ_b)
    at each time of ``t`` (T, 2n, 2n), or, for t None, σ_∞ = σ_s + the sum with
    f = −1/(λ_a + λ_b) (every mode decays) (2n, 2n). O(T·K²) work, blocked."""
    sv, coef, _, _ = _source_coef(evo)
    c = evo._cache
    lam, rx = evo.modes.lam, c["rx"]
    l2 = np.concatenate([lam, lam.conj()])
    r2 = np.hstack([rx, rx.conj()])
    e2 = np.vstack([coef, coef.conj()])
    times = [None] if t is None else list(t)
    out = np.zeros((len(times), rx.shape[0], rx.shape[0]))
    step = max(1, (1 << 20) // l2.size)
    for s in range(0, l2.size, step):
        sl = slice(s, min(s + step, l2.size))
        m = (e2[sl] * sv) @ e2.T  # (b, 2K)
        tot = l2[sl, None] + l2[None, :]
        zero = tot == 0  # a noiseless pair (λ_a + λ_b = 0 exactly): f → t (review s22: 0/0 was NaN)
        safe = np.where(zero, 1.0, tot)
        for i, ti in enumerate(times):
            f = -1.0 / tot if ti is None else np.where(zero, ti, np.expm1(safe * ti) / safe)
            out[i] += np.real((r2[:, sl] @ (m * f)) @ r2.T)
    if t is None:
        return 0.5 * (out[0] + out[0].T) + c["sigma_s"]
    return out


def _source_coef(evo):
    c = evo._cache
    if "source" not in c:
        sv, su, sdrop = _source(evo.modes, evo.damping, *_nu_qp(evo))
        n2 = su.shape[0] // 2
        coef, res0 = _coefficients(evo, "scoef", su[:n2], su[n2:])
        c["source"] = (sv, coef, res0, sdrop)
    return c["source"]


def _record_bound(evo, t, mean, cov, *, noise=None, steps: int = 0) -> None:
    """error_bound ← the closed solver's bound + the modal expansion's (module docstring): per
    column, e_c = (mismatch at t = 0) + G_c·(δλ t + 2ε|λ|t + 8ε), G_c = max_i Σ_m 2|(Rv_m)_i(X⁻¹W)_mc|;
    a product z zᵀ weighted by v errs by |v|(2G e + e²), the noise sum by that at every step."""
    c = evo._cache
    lam, mu = evo.modes.lam, evo.modes.mu
    tl = float(t[-1])
    # the closed eigensolver moves μ_k by ≤ 8ε‖V‖(1 + 2|u_k|): Ω_k by that over 2Ω_k
    dlam = 8 * EPS * float(mu.max()) * 3 / (2 * float(np.sqrt(mu.min()))) + evo.modes.residual
    phase = (dlam + 2 * EPS * float(np.max(np.abs(lam)))) * tl + 8 * EPS + c.get("sum_error", 0.0)
    rx = np.abs(c["rx"])

    def errors(cf, res0):
        g = np.max(2 * (rx @ np.abs(cf)), axis=0)
        return g, res0 + g * phase

    g, e = errors(c["coef"], c["res0"])
    bound = float(e[0])
    if cov is not None:
        dv = np.abs(c["delta_values"])
        bound += float(np.sum(dv * (2 * g[1:] * e[1:] + e[1:] ** 2))) + c["closed_bound"]
        if noise is not None:
            qv, qdrop, qcoef, qres0 = noise
            gq, eq = errors(qcoef, qres0)
            bound += steps * (float(np.sum(np.abs(qv) * (2 * gq * eq + eq**2)))
                              + qdrop * float(np.max(gq, initial=1.0)) ** 2)
        else:
            sv, scoef, sres0, sdrop = _source_coef(evo)
            gs, es = errors(scoef, sres0)
            bound += tl * (float(np.sum(np.abs(sv) * (2 * gs * es + es**2)))
                           + sdrop * float(np.max(gs, initial=1.0)) ** 2)
    object.__setattr__(evo, "error_bound", max(evo.error_bound, float(bound)))
