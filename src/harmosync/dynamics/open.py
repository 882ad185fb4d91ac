"""The open-system solver: exact Gaussian dynamics with Markovian baths (CONVENTIONS, "Open systems").

dm/dt = A m and dσ/dt = Aσ + σAᵀ + D, with A, D from :func:`harmosync.baths.drift_diffusion`.
No time stepping: the moments on a time grid are exact up to roundoff.

Split around σ_s, the closed network's own thermal state at the environment's temperature
(stationary under the Hamiltonian drift A_H: A_Hσ_s + σ_sA_Hᵀ = 0). With A = A_H + A_d,

    σ(t) = σ_s + e^{At} Δ e^{Aᵀt} + ∫₀ᵗ e^{As} S e^{Aᵀs} ds,   Δ = σ(0) − σ_s,
    S = D + A_dσ_s + σ_sA_dᵀ,

valid whether or not a steady state exists (γ = 0 included: S = 0, the closed model; a mode
that grows, Re λ > 0, included too: a common Lindblad bath on oscillators of different own
frequencies can heat a collective mode of the network, since its L = Σ c_j a_j is built on the
bare a_j and the dissipator does not commute with H). Δ is
numerically low rank (the initial state differs from σ_s through the probes and the coupling),
and so is S (supported on the damped oscillators). On a uniform grid t_k = t_0 + kh the integral
grows by e^{At_k} Q_h e^{Aᵀt_k} per step, Q_h = ∫₀ʰ e^{As} S e^{Aᵀs} ds, computed exactly by Van
Loan's block exponential and truncated to its numerical rank (‖Ah‖ small: a handful of Krylov
directions per column of S). So every output is a readout R e^{At} W of a few columns W
(the mean, Δ's and Q_h's factors):

* **eigen path** (A diagonalizable with eigenvector condition number κ < ``KAPPA_MAX``):
  R e^{At} W = (RX) e^{Λt} (X⁻¹W), a sum of damped complex exponentials, on all times at once;
* **rows path** (defective or ill-conditioned A, e.g. a Brownian bath at critical damping, or a
  non-uniform grid): the rows G_k = R e^{At_k} propagated exactly by e^{Ah} step by step.

Steady state: σ_∞ solves Aσ_∞ + σ_∞Aᵀ + D = 0 when every eigenvalue has
Re λ < −``NOISELESS_TOL``·max|λ|: its observed block from the eigendecomposition on the eigen
path (σ_∞ = XKXᴴ, K_ab = (X⁻¹DX⁻ᴴ)_ab/−(λ_a + λ̄_b)), else and for small networks from
``solve_continuous_lyapunov``; otherwise the modes within that tolerance are noiseless
(decoherence-free) and no σ_∞ is returned.

Q_h comes from the Taylor series of e^{As}U_S (S = U_S s U_Sᵀ) when ‖A‖h ≤ 1 and few columns
suffice, else from the Taylor series of the integral in L(X) = AX + XAᵀ (2‖A‖h ≤ 1; a sparse
A makes it cheap), else from Van Loan's block exponential.

Structured path: when every bath is a local Lindblad bath of one total rate on at most a few
oscillators (lossy probes), :func:`solve_open` hands the network to :mod:`.open_modes`, which
finds the eigenvalues of A from a secular equation over the closed network's normal modes
(O(N²), no 2N × 2N matrix; Fig. 1 in 0.3 s, M = 10⁴ possible), and falls back here when its
verification fails.

Error bound (``error_bound``, absolute, any moment; :func:`_record_bound`): a priori roundoff
(the eigenvalues' error κε‖A‖ as a phase error up to the last time; or the rows path's products)
plus the truncated eigenvalues of Δ and Q_h, and for small networks ten times the discrepancy
at the last time against an independent dense route.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sps

from ..baths import drift_diffusion, hamiltonian_drift
from ..conventions import thermal_factor
from ..errors import HarmosyncError
from ..network import Network
from ..solvers import blas_threads
from ..states import InitialState
from ..solvers.damped import NotSeparated
from .contract import steps_before, uniform_step
from .open_contract import OpenContract
from . import open_modes as modal
from .thermal import environment_thermal, stationarity_residual

#: a mode whose decay rate is below this fraction of max|λ(A)| is noiseless (no steady state)
NOISELESS_TOL = 1e-10
#: eigenvector condition number above which the rows path replaces the eigen path
KAPPA_MAX = 1e6
#: relative truncation of the low-rank factors of Δ and Q_h
RANK_TOL = 1e-13
#: times per chunk of the eigen path's exponential table
CHUNK = 2048
#: phase-space dimension up to which the bound includes an independent check at the last time
CHECK_MAX = 64
#: largest network (oscillators) the dense open solver accepts
OPEN_MAX = 2000
OPEN_METHODS = ("auto", "dense", "modes")


@dataclass(frozen=True, eq=False, kw_only=True)
class OpenEvolution(OpenContract):
    """The open solver's :class:`~harmosync.dynamics.Evolution` (module docstring).

    Solver data: ``drift`` A and ``diffusion`` D (2N × 2N, interleaved), ``sigma_s`` and the
    low-rank factors ``delta`` = (values, vectors) and ``noise`` = (values, vectors) of Q_h
    (for the step ``step``), ``mean0``, ``cov0`` (full initial state), ``eigenvalues`` λ(A),
    ``steady`` (the observed σ_∞, interleaved) or None, ``noiseless`` (the noiseless modes'
    frequencies |Im λ| and their weight on the probes)."""

    drift: np.ndarray
    diffusion: np.ndarray
    damping: np.ndarray  # A_d = A − A_H
    sigma_s: np.ndarray
    mean0: np.ndarray
    cov0: np.ndarray
    kappa: float

    def diagnostics(self) -> dict:
        """``rank`` (columns propagated), slowest decay rate [w], noiseless modes, κ, path."""
        return self._diagnostics(self._cache["delta"][0].size, eigenvector_condition=self.kappa)

    def evaluate(self, t: np.ndarray, *, means_only: bool):
        return _evaluate(self, t, means_only=means_only)


def _interleave(xx, pp) -> np.ndarray:
    n = xx.shape[0]
    out = np.zeros((2 * n, 2 * n))
    out[0::2, 0::2], out[1::2, 1::2] = xx, pp
    return out


def _closed_thermal(network: Network, temperature: float) -> np.ndarray:
    """σ_s: the thermal state of the whole closed network at ``temperature`` (interleaved)."""
    lam, u = np.linalg.eigh(network.potential())
    w = np.sqrt(lam)
    nu = thermal_factor(w, temperature)
    return _interleave((u * (nu / w)) @ u.T, (u * (nu * w)) @ u.T)


def initial_moments(network: Network, initial: InitialState):
    """The full initial mean and covariance (probes ⊕ environment's own thermal state), and
    bounds on the spectral norms of the covariance's error on the x and the p quadratures
    (:func:`.thermal.environment_thermal`)."""
    p, n = network.n_probes, network.size
    mean = np.zeros(2 * n)
    mean[: 2 * p] = initial.probes.mean
    cov = np.zeros((2 * n, 2 * n))
    cov[: 2 * p, : 2 * p] = initial.probes.cov
    err = (0.0, 0.0)
    if network.environment.sites:
        xx, pp, err = environment_thermal(network, float(initial.environment_temperature))
        cov[2 * p:, 2 * p:] = _interleave(xx, pp)
    return mean, cov, err


def _low_rank(m: np.ndarray, tol: float = RANK_TOL):
    """Eigenpairs of the symmetric ``m`` above tol·max(1, ‖m‖); returns (values, vectors, dropped)."""
    lam, v = np.linalg.eigh(0.5 * (m + m.T))
    scale = max(1.0, float(np.max(np.abs(lam), initial=0.0)))
    keep = np.abs(lam) > tol * scale
    return lam[keep], v[:, keep], float(np.sum(np.abs(lam[~keep])))


def van_loan(a: np.ndarray, s: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """(e^{Ah}, ∫₀ʰ e^{As} S e^{Aᵀs} ds) exactly (Van Loan 1978: the exponential of
    [[−A, S], [0, Aᵀ]]·τ has blocks F12 = e^{−Aτ}Q, F22 = e^{Aᵀτ}), at τ = h/2^j small enough
    that e^{−Aτ} stays O(1) (‖A‖₁τ ≤ ½), then j doublings Φ(2τ) = Φ(τ)²,
    Q(2τ) = Q(τ) + Φ(τ)Q(τ)Φ(τ)ᵀ. S enters scaled to unit largest entry (Q is linear in S): the
    block's norm then stays ~‖A‖τ, where a hot bath's S ~ 1e7 had set expm's scaling and put
    ε‖S‖τ into e^{−Aτ}, whose doublings carried it into Q (review s22b: a soft chain with a hot
    Lindblad bath, Q_h 0.016 off on the observed entries, 6.5× the bound; now 2.7e-5)."""
    k = a.shape[0]
    norm = float(np.abs(a).sum(axis=0).max()) * abs(h)
    j = int(np.ceil(np.log2(norm / 0.5))) if norm > 0.5 else 0
    tau = h / 2.0**j
    unit = float(np.max(np.abs(s), initial=0.0)) or 1.0
    big = np.zeros((2 * k, 2 * k))
    big[:k, :k], big[:k, k:], big[k:, k:] = -a, s / unit, a.T
    f = sla.expm(big * tau)
    phi = f[k:, k:].T
    q = (phi @ f[:k, k:]) * unit
    for _ in range(j):
        q = q + phi @ q @ phi.T
        phi = phi @ phi
    return phi, 0.5 * (q + q.T)


def solve_open(network: Network, initial: InitialState, baths, *, observe=None, t_max=None,
               covariance: bool = True, tol: float = RANK_TOL, method: str = "auto"):
    """Exact evolution of ``network`` from ``initial`` with ``baths`` (module docstring).
    ``observe``: 0-based oscillators (default the probes); ``t_max``: unused (no cut; kept
    for the contract); ``covariance=False``: the covariance machinery is skipped.
    ``method``: "auto" (the structured path of :mod:`.open_modes` when every bath is a local
    Lindblad bath of one rate on ≤ ``open_modes.DAMPED_MAX`` oscillators, the network has
    ≥ ``modal.MODES_MIN`` oscillators and its damped modes verify; else dense), "dense" or
    "modes" (structured or an error)."""
    p, n = network.n_probes, network.size
    if initial.probes.modes != p:
        raise HarmosyncError(f"the initial state has {initial.probes.modes} probe modes but the network has {p} probes")
    if method not in OPEN_METHODS:
        raise HarmosyncError(f"method must be one of {', '.join(OPEN_METHODS)}, got {method!r}")
    rows = tuple(range(p)) if observe is None else tuple(int(r) for r in observe)
    if any(not 0 <= r < n for r in rows):
        raise HarmosyncError(f"observed oscillators must be in 0..{n - 1}")
    why = (f"the baths are not all local Lindblad baths of one rate on at most {modal.DAMPED_MAX} "
           "oscillators")
    if method != "dense":
        damping = modal.local_damping(network, baths)
        if damping is not None and (method == "modes" or n >= modal.MODES_MIN):
            try:
                return modal.solve_modes(network, initial, damping, rows, covariance=covariance, tol=tol,
                                   noiseless_tol=NOISELESS_TOL)
            except NotSeparated as e:
                why = f"its damped modes could not be verified ({e})"
        if method == "modes":
            raise HarmosyncError(f"the structured open solver does not apply: {why}; use method='dense'")
    if n > OPEN_MAX:
        raise HarmosyncError(f"the open solver is dense for these baths ({why}): {n} oscillators is beyond "
                             f"its {OPEN_MAX}; use a shorter chain")
    with blas_threads(1 if n <= 600 else None):
        a, d = drift_diffusion(network, baths)
        a_d = a - hamiltonian_drift(network)
        temp = float(initial.environment_temperature)
        sigma_s = _closed_thermal(network, temp)
        mean0, cov0, cov0_err = initial_moments(network, initial)
        # σ_s's non-stationarity (thermal module docstring): what its error does, a posteriori
        resid = stationarity_residual(network, sigma_s[0::2, 0::2], sigma_s[1::2, 1::2]) if covariance else 0.0
        lam, x = np.linalg.eig(a)
        xinv, kappa = _inverse(x)
        scale = float(np.max(np.abs(lam))) if lam.size else 1.0
        rates = -lam.real
        # a growing mode is physics, not a failure: a common Lindblad bath's L = Σ c_j a_j on
        # oscillators of different frequencies can pump a collective mode (module docstring)
        growing = rates < -NOISELESS_TOL * scale
        quiet = np.abs(rates) <= NOISELESS_TOL * scale
        idx = np.ravel([[2 * r, 2 * r + 1] for r in rows]).astype(int)
        steady, observed, noiseless = None, None, ()
        if np.any(growing):
            pass  # no steady state; the evolution below is exact all the same
        elif not np.any(quiet):
            if xinv is None or a.shape[0] <= CHECK_MAX:  # small: kept whole for the independent check
                sig = sla.solve_continuous_lyapunov(a, -d)
                steady = 0.5 * (sig + sig.T)
                observed = steady[np.ix_(idx, idx)]
            else:
                observed = _steady_block(d, lam, x, xinv, idx)
        else:
            probe_w = np.sum(np.abs(x[: 2 * p, quiet]) ** 2, axis=0)
            keep = lam[quiet].imag >= 0  # one of each conjugate pair
            noiseless = tuple((float(w), float(q)) for w, q in zip(lam[quiet].imag[keep], probe_w[keep]))
        evo = OpenEvolution(rows=rows, drift=a, diffusion=d, damping=a_d, sigma_s=sigma_s, mean0=mean0,
                            cov0=cov0, eigenvalues=lam, kappa=kappa,
                            steady=observed,
                            noiseless=noiseless, n_probes=p, has_covariance=covariance)
        dv, dvec, dropped = _low_rank(cov0 - sigma_s, tol)
        evo._cache.update(idx=idx, x=x, xinv=xinv if kappa < KAPPA_MAX else None,
                          delta=(dv, dvec), dropped=dropped, tol=tol, full_steady=steady,
                          thermal=_thermal_spread(x[idx], xinv if kappa < KAPPA_MAX else None, p, cov0_err, resid))
    return evo


def _thermal_spread(rx, xinv, p: int, cov0_err, resid) -> tuple:
    """(a, b): what the thermal states' errors can do to an observed covariance entry up to t,
    ≤ (a + b·t)·e^{2 max Re λ·t} (:mod:`.thermal`; ``rx`` the observed rows of X). On the eigen
    path the x and p quadratures apart: R e^{At} on the x columns is (RX)e^{Λt}(X⁻¹ on them), of
    norm ≤ ‖RX‖·‖X⁻¹_x‖·e^{αt}, and a soft mode's X⁻¹ is ~1/w on p, ~1 on x, where κ² charged
    1/w² to both (a graph with on-site Ω = 1e-4: 82 against an error 5e-7). δ₀ = δX ⊕ δP on the
    environment: ‖RX‖²(‖X⁻¹_x‖²e_x + ‖X⁻¹_p‖²e_p); r's blocks are x–p: 2‖RX‖²‖X⁻¹_x‖‖X⁻¹_p‖‖E‖
    a unit of time. Rows path (X⁻¹ None): (e_x + e_p, ‖E‖), with the truncation's growth."""
    ex, ep = cov0_err
    if xinv is None:
        return ex + ep, resid, False
    def norm(m):  # ‖m‖₂ (its singular values' rounding: 1e-9)
        return float(np.linalg.norm(m, 2)) * (1 + 1e-9) if m.size else 0.0

    r2 = norm(rx) ** 2
    env = slice(2 * p, None)
    ix, ip = (norm(xinv[:, env][:, 0::2]), norm(xinv[:, env][:, 1::2])) if ex or ep else (0.0, 0.0)
    jx, jp = (norm(xinv[:, 0::2]), norm(xinv[:, 1::2])) if resid else (0.0, 0.0)
    return r2 * (ix**2 * ex + ip**2 * ep), 2 * r2 * jx * jp * resid, True


def _inverse(x: np.ndarray) -> tuple[np.ndarray | None, float]:
    """(X⁻¹, κ₂(X)) with κ₂ = √(μ_max/μ_min), μ the eigenvalues of the Gram matrix XᴴX (no SVD;
    μ_min is accurate to ε·μ_max, enough to tell κ₂ from ``KAPPA_MAX``); (None, κ) when
    κ ≥ ``KAPPA_MAX`` or X is singular (a defective drift)."""
    mu = np.linalg.eigvalsh(x.conj().T @ x)
    kappa = float(np.sqrt(mu[-1] / mu[0])) if mu[0] > 0 else float("inf")
    if not np.isfinite(kappa) or kappa >= KAPPA_MAX:
        return None, kappa
    return np.linalg.inv(x), kappa


def _steady_block(d, lam, x, xinv, idx) -> np.ndarray:
    """The observed block of σ_∞ from A = XΛX⁻¹: σ_∞ = X K Xᴴ with
    K_ab = (X⁻¹DX⁻ᴴ)_ab / −(λ_a + λ̄_b) solves Aσ + σAᵀ + D = 0 (Aᵀ = X⁻ᴴΛ̄Xᴴ for real A);
    D is supported on the damped quadratures, so X⁻¹DX⁻ᴴ costs (2N)² per damped quadrature."""
    nz = np.flatnonzero(np.any(d != 0, axis=1))
    if nz.size == 0:
        return np.zeros((idx.size, idx.size))
    b = xinv[:, nz]
    k = (b @ d[np.ix_(nz, nz)]) @ b.conj().T
    k /= -(lam[:, None] + lam.conj()[None, :])
    rx = x[idx]
    s = ((rx @ k) @ rx.conj().T).real
    return 0.5 * (s + s.T)


def _noise(evo: OpenEvolution, h: float):
    """Low-rank factor (values, vectors, dropped) of Q_h for S = D + A_dσ_s + σ_sA_dᵀ, and e^{Ah}
    (computed by the rows path only)."""
    key = ("noise", float(h))
    if key not in evo._cache:
        a = evo.drift
        s = noise_source(evo)
        phi = sla.expm(a * h) if evo._cache["xinv"] is None else None
        sv, su, sdrop = _low_rank(s, 1e-15)
        if sv.size == 0:
            q = (np.zeros(0), np.zeros((a.shape[0], 0)), sdrop)
        else:
            q = _krylov_noise(a, sv, su, h)
            if q is None:
                qh = series_noise(a, s, h)
                q = _low_rank(van_loan(a, s, h)[1] if qh is None else qh, evo._cache["tol"] * 1e-3)
            q = (q[0], q[1], q[2] + sdrop * h)
        evo._cache[key] = (*q, phi)
    return evo._cache[key]


def noise_source(evo: OpenEvolution) -> np.ndarray:
    """S = D + A_dσ_s + σ_sA_dᵀ (A_d is nonzero on the damped oscillators' rows only)."""
    a_d = evo.damping
    rows = np.flatnonzero(np.any(a_d != 0, axis=1))
    ad_sig = np.zeros_like(a_d)
    ad_sig[rows] = a_d[rows] @ evo.sigma_s
    return evo.diffusion + ad_sig + ad_sig.T


def series_noise(a, s, h):
    """Q_h = Σ_{n≥0} hⁿ⁺¹/(n+1)! Lⁿ(S), L(X) = AX + XAᵀ (the Taylor series of the integral),
    while x = 2‖A‖₁h ≤ 1: the n-th term is below h‖S‖₁ xⁿ/(n+1)!, summed until that is
    < 1e-17·h‖S‖₁. A sparse A (a chain, a graph) makes each term O(nnz·2N). None when x > 1."""
    x = 2.0 * float(np.abs(a).sum(axis=0).max()) * h
    if x > 1.0:
        return None
    op = sps.csr_matrix(a) if np.count_nonzero(a) < 0.1 * a.size else a
    term = h * s
    q = term.copy()
    n, bound = 0, 1.0
    while bound > 1e-17 and n < 40:
        n += 1
        bound *= x / (n + 1)
        at = op @ term
        term = (h / (n + 1)) * (at + at.T)
        q += term
    return 0.5 * (q + q.T)


def _krylov_noise(a, sv, su, h):
    """Q_h for a dense A (:func:`taylor_noise`); None when that needs more columns than A has."""
    x = float(np.abs(a).sum(axis=0).max()) * h
    return taylor_noise(lambda v: a @ v, x, sv, su, h, max_cols=a.shape[0])


def taylor_noise(apply_a, norm_h: float, sv, su, h: float, *, max_cols: int | None = None):
    """Q_h = ∫₀ʰ e^{As} U s Uᵀ e^{Aᵀs} ds from the Taylor series of e^{As}U: with
    K_j = (hA)^j U / j!, Q_h = h Σ_{j,l} K_j s K_lᵀ / (j + l + 1), exact once (‖A‖h)^m/m! < 1e-17
    (m ≤ 30). ``apply_a``: v ↦ A v on columns; ``norm_h``: a bound on ‖A‖h (≤ 1 required).
    Returns (values, vectors, dropped), or None when ‖A‖h > 1 or more than ``max_cols`` columns
    would be needed."""
    x = float(norm_h)
    if x > 1.0:
        return None
    m, term = 0, 1.0
    while term > 1e-17 and m < 30:
        m += 1
        term *= x / m
    if max_cols is not None and (m + 1) * sv.size >= max_cols:
        return None
    ks = [su]
    for j in range(1, m + 1):
        ks.append((h / j) * apply_a(ks[-1]))
    k = np.hstack(ks)
    j = np.arange(m + 1)
    c = np.kron(h / (j[:, None] + j[None, :] + 1), np.diag(sv))  # columns ordered (j, r)
    qk, rk = np.linalg.qr(k)
    small = rk @ c @ rk.T
    lam, v = np.linalg.eigh(0.5 * (small + small.T))
    scale = max(float(np.max(np.abs(lam), initial=0.0)), 1e-300)
    keep = np.abs(lam) > 1e-16 * scale
    return lam[keep], qk @ v[:, keep], float(np.sum(np.abs(lam[~keep])))


def _evaluate(evo: OpenEvolution, t: np.ndarray, *, means_only: bool):
    """(mean (T, 2n), cov (T, 2n, 2n) or None) on the grid ``t`` (module docstring)."""
    if t[0] < 0:
        raise HarmosyncError("an open system evolves forward only: times must be ≥ 0")
    if not means_only and not evo.has_covariance:
        raise HarmosyncError("this evolution was solved with covariance=False; use means(), or solve again")
    c = evo._cache
    h = uniform_step(t)
    # grid from 0: prepend 0 and the whole steps before t[0] when t[0] is a multiple of h
    lead = 0
    if h is not None and t[0] > 0:
        lead = steps_before(t, h)
        if lead is None:
            h, lead = None, 0
    dv, dvec = c["delta"]
    cols = [evo.mean0[:, None]]
    if not means_only:
        cols.append(dvec)
    with blas_threads(1 if evo.drift.shape[0] <= 1200 else None):
        if h is not None:
            qv, qvec, qdrop, phi = _noise(evo, h) if not means_only else (np.zeros(0), None, 0.0, None)
            if not means_only:
                cols.append(qvec)
            w = np.hstack(cols)
            grid = h * np.arange(lead + t.size)
            mean, cov = _assemble(evo, _readout(evo, w, grid, h, phi), grid.size, dv, qv, means_only)
        else:
            qv, qdrop = np.zeros(0), 0.0
            grid = np.concatenate([[0.0], t]) if t[0] > 0 else t
            y, q_acc = _readout_steps(evo, np.hstack(cols), grid, means_only)
            mean, cov = _assemble(evo, [(0, y)], grid.size, dv, qv, means_only)
            if cov is not None:
                cov += q_acc
        if means_only:
            mean = mean[lead:][-t.size:]
            _record_bound(evo, t, mean, None, dropped=0.0)
            return mean, None
        mean, cov = mean[-t.size:], cov[-t.size:]
    _record_bound(evo, t, mean, cov, dropped=c["dropped"] + qdrop * max(1, lead + t.size))
    return mean, cov


def _assemble(evo: OpenEvolution, blocks, count: int, dv, qv, means_only: bool):
    """mean (T, 2n) and σ(t) = σ_s + Z diag(dv) Zᵀ + Σ_{j<k} Z_q diag(qv) Z_qᵀ (T, 2n, 2n) from the
    readout ``blocks`` (start, y (B, 2n, 1 + R + R_q)), block by block (the quadratic forms stay
    in cache; the noise sum carries over between blocks)."""
    idx = evo._cache["idx"]
    n2, r = idx.size, dv.size
    mean = np.empty((count, n2))
    cov = None if means_only else np.empty((count, n2, n2))
    sig = evo.sigma_s[np.ix_(idx, idx)]
    acc = np.zeros((n2, n2))
    for start, y in blocks:
        sl = slice(start, start + y.shape[0])
        mean[sl] = y[:, :, 0]
        if means_only:
            continue
        z = np.ascontiguousarray(y[:, :, 1:1 + r])  # contiguous: stacked products 2-4× faster
        blk = np.matmul(z * dv, np.swapaxes(z, 1, 2)) + sig
        if qv.size:
            zq = np.ascontiguousarray(y[:, :, 1 + r:])
            inc = np.matmul(zq * qv, np.swapaxes(zq, 1, 2))
            run = np.cumsum(inc, axis=0) - inc + acc  # Σ_{j<k}: the noise accumulated up to t_k
            acc = run[-1] + inc[-1]
            blk += run
        cov[sl] = 0.5 * (blk + np.swapaxes(blk, 1, 2))
    return mean, cov


def _readout(evo: OpenEvolution, w: np.ndarray, grid: np.ndarray, h: float, phi):
    """R e^{A t} W on a uniform grid from 0, as blocks (start, (B, 2n, C)): eigen path or rows path."""
    c = evo._cache
    idx = c["idx"]
    if c["xinv"] is not None:
        lam, x = evo.eigenvalues, c["x"]
        # A is real: eigenvalues come in conjugate pairs; sum over Im λ ≥ 0, doubling the pairs
        up = lam.imag > 0
        keep = up | (lam.imag == 0)
        weight = np.where(up, 2.0, 1.0)[keep]
        lam = lam[keep]
        b = (c["xinv"] @ w)[keep]  # (K, C)
        # one matrix product for every readout: B'[k, (i, c)] = (RX)[i, k] b[k, c]
        bb = (x[idx][:, keep].T * weight[:, None])[:, :, None] * b[:, None, :]
        bb = bb.reshape(lam.size, -1)
        # only the real part is needed: Re(e B') = [Re e, Im e] @ [Re B'; −Im B'], half a complex product
        bri = np.vstack([bb.real, -bb.imag])
        steps = np.exp(np.outer(h * np.arange(min(CHUNK, grid.size)), lam))  # e^{λ j h}, j < CHUNK
        for s in range(0, grid.size, CHUNK):
            e = steps[: grid.size - s] * np.exp(lam * grid[s])  # e^{λ(t_s + jh)}, ≤ 2ε relative
            yield s, (np.hstack([e.real, e.imag]) @ bri).reshape(e.shape[0], idx.size, -1)
        return
    if phi is None:
        phi = sla.expm(evo.drift * h)
    g = np.zeros((idx.size, evo.drift.shape[0]))
    g[np.arange(idx.size), idx] = 1.0
    for s in range(0, grid.size, CHUNK):
        out = np.empty((min(CHUNK, grid.size - s), idx.size, w.shape[1]))
        for k in range(out.shape[0]):
            out[k] = g @ w
            g = g @ phi
        yield s, out


def _readout_steps(evo: OpenEvolution, w: np.ndarray, grid: np.ndarray, means_only: bool):
    """Any grid from 0 (or starting at 0): rows propagated interval by interval, with the noise
    of each interval from Van Loan. Returns (R e^{At}W (T, 2n, C), accumulated noise (T, 2n, 2n))."""
    idx = np.asarray(evo._cache["idx"])
    a = evo.drift
    s = noise_source(evo)
    n2 = a.shape[0]
    g = np.zeros((idx.size, n2))
    g[np.arange(idx.size), idx] = 1.0
    out = np.empty((grid.size, idx.size, w.shape[1]))
    acc = np.zeros((grid.size, idx.size, idx.size))
    for k in range(grid.size):
        if k:
            dt = grid[k] - grid[k - 1]
            phi, q = (sla.expm(a * dt), None) if means_only else van_loan(a, s, dt)
            if q is not None:
                acc[k] = acc[k - 1] + g @ q @ g.T
            g = g @ phi
        out[k] = g @ w
    return out, acc


def _record_bound(evo: OpenEvolution, t: np.ndarray, mean, cov, *, dropped: float) -> None:
    """error_bound ← a priori roundoff + truncation + the thermal states' errors, and, for small
    networks (2N ≤ ``CHECK_MAX``), 10 × the discrepancy at the last time against an independent
    dense route (expm(A t) on the full initial state, with σ_∞ − Φσ_∞Φᵀ or Van Loan at t for the
    noise).

    A priori: eigen path, the eigenvalues' error κ ε ‖A‖ turns into a phase error κ ε ‖A‖ t on
    every exponential; rows path, T products each adding 2N ε relative error; both times the
    scale of the moments, ×10. Truncation: the dropped eigenvalues of Δ and of Q_h (× steps),
    times κ² (the growth of ‖R e^{At}‖² allowed by the eigenvector basis). Thermal states
    (:mod:`.thermal`): e^{At}δ₀e^{Aᵀt} − ∫₀ᵗ e^{As}re^{Aᵀs}ds, by quadrature (:func:`_thermal_spread`;
    the covariance only)."""
    eps = np.finfo(float).eps
    tl = float(t[-1])
    top = float(np.max(np.abs(mean), initial=0.0))
    scale = max(1.0, top * top,  # top * top: inf, not OverflowError, past 1e154 (a growing mode)
                float(np.max(np.abs(cov), initial=0.0)) if cov is not None else 0.0)
    norm_a = float(np.abs(evo.drift).sum(axis=0).max())
    grow = float(np.exp(2 * max(0.0, float(np.max(evo.eigenvalues.real, initial=0.0))) * tl))  # a growing mode
    thermal = 0.0
    if cov is not None:
        d0, r, spread = evo._cache.get("thermal", (0.0, 0.0, True))
        thermal = (d0 + abs(tl) * r) * grow
        if not spread:  # (the rows path: the truncation's growth)
            dropped, thermal = dropped + d0 + abs(tl) * r, 0.0
    if evo._cache["xinv"] is not None:
        kappa = evo.kappa
        bound = 10 * kappa * eps * (1 + norm_a * tl) * scale + dropped * kappa**2 * grow + thermal
    else:
        steps = max(1, t.size)
        bound = 10 * steps * evo.drift.shape[0] * eps * scale + dropped * (1 + norm_a * tl) ** 2 * grow
    if evo.drift.shape[0] <= CHECK_MAX:
        bound = max(bound, 10 * _discrepancy(evo, tl, mean[-1], None if cov is None else cov[-1]))
    object.__setattr__(evo, "error_bound", max(evo.error_bound, float(bound)))


def _discrepancy(evo: OpenEvolution, tl: float, mean, cov) -> float:
    idx = evo._cache["idx"]
    g = sla.expm(evo.drift * tl)[idx]
    gap = float(np.max(np.abs(g @ evo.mean0 - mean)))
    if cov is None:
        return gap
    ref = g @ evo.cov0 @ g.T
    steady = evo._cache["full_steady"]
    if steady is not None:
        ref = ref + steady[np.ix_(idx, idx)] - g @ steady @ g.T
    else:
        ref = ref + van_loan(evo.drift, evo.diffusion, tl)[1][np.ix_(idx, idx)]
    return max(gap, float(np.max(np.abs(ref - cov))))


@dataclass(frozen=True)
class OpenModes:
    """The damped normal modes of a network with baths: the eigenvalues λ = −rate + i·frequency
    of the drift A, one per conjugate pair (frequency ≥ 0), slowest decay first.

    ``rates`` [w] (amplitude decay: a mode's mean decays as e^{−rate·t}), ``frequencies`` [w],
    ``probe_weights`` (K, P): each mode's share on each probe (scaled quadratures x√w, p/√w with
    the own frequencies; a mode's weights over all oscillators sum to 1), ``noiseless``: indices of
    the modes with rate ≤ NOISELESS_TOL·max|λ| (no unique steady state if any), ``rate_gap``:
    the difference between the two slowest rates among modes that carry probe weight >
    ``PROBE_WEIGHT_MIN`` (the open-system analogue of the paper's Rayleigh condition;
    synchronization sets in on the time scale 1/rate_gap), NaN if fewer than two such modes.
    ``probe_amplitudes`` (K, P), complex: each mode's scaled position component x_j√w_j on the
    probes (same normalisation): a mode moves probe j as Re(a_j e^{λt}), so arg(a_2/a_1) is the
    phase between the probes (0: in phase, π: anti-phase). ``growing``: indices of the modes with
    rate < −NOISELESS_TOL·max|λ| (they grow; no steady state)."""

    rates: np.ndarray
    frequencies: np.ndarray
    probe_weights: np.ndarray
    noiseless: tuple[int, ...]
    rate_gap: float
    probe_amplitudes: np.ndarray
    growing: tuple[int, ...] = ()


#: probe weight above which a mode counts for the rate gap
PROBE_WEIGHT_MIN = 1e-3


def probe_modes(modes: OpenModes) -> np.ndarray:
    """Indices of the modes (slowest first) whose probe weight exceeds ``PROBE_WEIGHT_MIN``."""
    return np.flatnonzero(modes.probe_weights.sum(axis=1) > PROBE_WEIGHT_MIN)


def open_modes(network: Network, baths) -> OpenModes:
    """:class:`OpenModes` of ``network`` with ``baths`` (dense eigendecomposition of A)."""
    from ..baths import own_frequencies

    if network.size > OPEN_MAX:
        raise HarmosyncError(f"the open-mode analysis is dense: {network.size} oscillators is beyond its "
                             f"{OPEN_MAX}; use a shorter chain")
    a, _ = drift_diffusion(network, tuple(baths))
    lam, x = np.linalg.eig(a)
    keep = lam.imag >= 0
    lam, x = lam[keep], x[:, keep]
    w = own_frequencies(network)
    scale = np.ravel(np.column_stack([np.sqrt(w), 1 / np.sqrt(w)]))
    xs = x * scale[:, None]
    y = np.abs(xs) ** 2
    per_osc = y[0::2] + y[1::2]
    total = per_osc.sum(axis=0, keepdims=True)
    per_osc /= total
    amps = xs[0: 2 * network.n_probes: 2] / np.sqrt(total)
    order = np.lexsort((lam.imag, -lam.real))
    rates, freqs = -lam.real[order], lam.imag[order]
    weights = per_osc[: network.n_probes, order].T
    tol = NOISELESS_TOL * float(np.max(np.abs(lam)))
    noiseless = tuple(int(k) for k in np.flatnonzero(np.abs(rates) <= tol))
    growing = tuple(int(k) for k in np.flatnonzero(rates < -tol))
    seen = np.flatnonzero(weights.sum(axis=1) > PROBE_WEIGHT_MIN)
    gap = float(rates[seen[1]] - rates[seen[0]]) if seen.size >= 2 else float("nan")
    return OpenModes(rates, freqs, weights, noiseless, gap, amps[:, order].T, growing)
