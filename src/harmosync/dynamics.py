"""Exact Gaussian dynamics of a quadratic network, from its normal modes.

With V = U diag(w²) Uᵀ, the scaled normal coordinates y = (√w Uᵀx, Uᵀp/√w) rotate rigidly,
mode by mode, by the angle w_k t. So

* the mean of any oscillator is a trig sum Σ_k [α_k cos(w_k t) + β_k sin(w_k t)];
* the covariance is split as σ'(0) = diag(ν, ν) + Δ, with diag(ν, ν) the coupled network's own
  thermal state (stationary: it contributes a constant) and Δ numerically low rank (the initial
  state differs from it only through the probes and through the coupling, a rank-2P
  perturbation of V). With Δ = Σ_r λ_r v_r v_rᵀ, each observed covariance block is
  const + Σ_r λ_r z_r(t) z_r(t)ᵀ, where z_r(t) are again trig sums.

No time stepping is involved. The work splits in three steps, each with a fast path chosen
automatically by :func:`solve` / :func:`iter_moments`:

1. **Normal modes.** Dense ``eigh`` of V (N ≤ ``DENSE_MAX`` oscillators, or a general graph
   environment); above that, for a homogeneous chain with fixed or free ends, the modes follow
   from P secular equations in the chain's closed-form mode basis (Eqs. A6, A8;
   :mod:`harmosync.solvers.arrowhead`): O(N²) time, O(N) memory, only the observed rows of U.
   With ``t_max`` given and a fixed-end chain, the chain is first cut to the sites within reach
   of the probes (:mod:`harmosync.lightcone`), when that keeps less than 80% of it.
2. **Δ in low-rank form** from the probe rows of U alone, via a pole representation of the
   stationary variance and the resolvent identity (:mod:`harmosync.solvers.lowrank`); never a
   2N × 2N matrix. Eigenpairs of Δ with |λ| ≤ tol·max(1, ‖Δ‖) are dropped.
3. **Trig sums** on uniform time grids by a non-uniform FFT when that is cheaper, blockwise BLAS
   products otherwise (:mod:`harmosync.solvers.trigsum`); arbitrary grids by direct products.

Error bound (``Solution.error_bound``, absolute, on any covariance entry σ_ab): ε_Δ·|r_a|·|r_b|,
with ε_Δ the spectral-norm bound on the neglected part of Δ (dropped eigenvalues, pole rule,
skeleton compression; see :mod:`harmosync.solvers.lowrank`), |r_{x_i}|² = (V^{-1/2})_ii and
|r_{p_i}|² = (V^{1/2})_ii; plus, with a light-cone cut, the cut's bound on every moment. Not
included: the eigensolvers' roundoff (backward stable: a few ε‖V‖, i.e. ~1e-14 relative) and
the phase error ε·w·t that any double-precision frequency carries (~1e-12 at t = 10⁴).

Memory (besides the result, T × (2n)² numbers): O(N·C) for the mode coefficients, C = 2n(R+1)
columns, plus one time chunk: L ≤ 2¹⁷ NUFFT points (48·L·C ≤ 96 MB), or for BLAS blocks a
cos/sin table of ≤ 2²¹ numbers; about 8·N·(6C + 8) + 48·L·C bytes (+ 32 MB). Never T × N.
:func:`iter_moments` streams chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import lightcone as lc
from .conventions import thermal_factor, to_interleaved
from .errors import HarmosyncError, NumericalError
from .network import Network, chain_modes
from .solvers import blas_threads
from .solvers import trigsum as ts
from .solvers.arrowhead import arrowhead_modes
from .solvers.lowrank import eigen_roundoff, evaluation_roundoff, low_rank_delta  # accuracy (issue 11)
from .states import InitialState, environment_covariance

BLOCK = 512
#: networks with at most this many oscillators use the dense eigendecomposition
DENSE_MAX = 400
#: the structured path's O(N²) secular sweeps take ~5 s at N = 10⁴ on 2 cores: refuse N above
CHAIN_MAX = 150_000
#: the dense path's O(N³) eigendecomposition (graph environments, periodic chains): refuse above
DENSE_LIMIT_SOLVE = 20_000
#: below this many oscillators the dense linear algebra runs on one BLAS thread (faster)
SMALL = 50_000
METHODS = ("auto", "dense", "chain")


@dataclass(frozen=True, eq=False)
class Solution:
    """The exact solution for a set of observed oscillators (0-based, probes first).

    Attributes: ``frequencies`` w_k (N,); ``readout`` U[rows] (n, N); ``mean0`` (2, N) the
    initial mean in scaled normal coordinates; ``nu`` (N,) the stationary part; ``values`` (R,)
    and ``vectors`` (2, N, R) the low-rank part Δ; ``energy`` the conserved ⟨H⟩;
    ``error_bound`` (see module docstring); ``method`` "dense" or "chain" (+ "+lightcone");
    ``t_max`` the largest |t| the solution is valid for (∞ unless a light-cone cut was made);
    ``window`` the (first, last) chain sites kept by the cut, or None. Modes that no observed
    oscillator sees are left out of the structured path's N.
    """

    frequencies: np.ndarray
    rows: tuple[int, ...]
    readout: np.ndarray
    mean0: np.ndarray
    nu: np.ndarray
    values: np.ndarray
    vectors: np.ndarray
    energy: float
    error_bound: float
    method: str = "dense"
    t_max: float = np.inf
    window: tuple[int, int] | None = None

    @property
    def rank(self) -> int:
        return int(self.values.size)


def normal_modes(network: Network) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies w (ascending) and orthonormal eigenvectors U of V (dense eigh)."""
    lam, u = np.linalg.eigh(network.potential())
    if lam[0] <= 0:  # check_stability already refuses this; guard against roundoff
        raise NumericalError(f"the potential matrix has a non-positive eigenvalue {lam[0]:.3g}")
    return np.sqrt(lam), u


# ----------------------------------------------------------------------------------------------
# The chain's closed-form modes (Eqs. A6, A8)
# ----------------------------------------------------------------------------------------------
def chain_mode_rows(sites: int, boundary: str, which) -> np.ndarray:
    """Rows W[s, :] (1-based sites ``which``) of the homogeneous chain's orthonormal modes, in
    the ascending-frequency order of :func:`harmosync.network.chain_modes` (fixed: Eq. A6,
    √(2/(M+1)) sin(πsk/(M+1)); free: √(2/M) cos(πk(s − ½)/M), 1/√M for k = 0)."""
    m = int(sites)
    s = np.atleast_1d(np.asarray(which, dtype=np.int64))
    if boundary == "fixed":
        k = np.arange(1, m + 1, dtype=np.int64)
        # reduce s·k modulo 2(M+1) in integers: exact arguments even for M ~ 10⁶
        arg = np.mod(np.outer(s, k), 2 * (m + 1))
        return np.sqrt(2.0 / (m + 1)) * np.sin(np.pi * arg / (m + 1))
    if boundary == "free":
        k = np.arange(m, dtype=np.int64)
        arg = np.mod(np.outer(2 * s - 1, k), 4 * m)  # πk(s − ½)/M = π(2s − 1)k/(2M)
        rows = np.sqrt(2.0 / m) * np.cos(np.pi * arg / (2 * m))
        rows[:, 0] = 1.0 / np.sqrt(m)
        return rows
    raise HarmosyncError(f"closed-form mode rows need a fixed or free chain, got {boundary!r}")


@dataclass
class _Spectrum:
    mu: np.ndarray  # (N,) squared frequencies of the network actually solved
    a: np.ndarray  # (P, N) probe rows of U
    readout: np.ndarray  # (n, N) observed rows
    env_d: np.ndarray  # (M,) squared frequencies of the (possibly cut) environment
    env_c: np.ndarray  # (P, M) coupling in the environment's mode basis


def _attachments(network: Network, offset: int):
    return [(i, s - offset, k) for i, s, k in network.probes.attachments]


def _coupling_rows(p: int, m: int, attachments) -> tuple[np.ndarray, list[int]]:
    sites = sorted({s for _, s, _ in attachments})
    b = np.zeros((p, len(sites)))
    for i, s, k in attachments:
        b[i, sites.index(s)] += k
    return b, sites


def _chain_spectrum(network: Network, rows, window) -> _Spectrum:
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
    # modes no observed oscillator (and no probe) sees carry nothing: leave them out
    keep = np.any(a != 0, axis=0) | np.any(readout != 0, axis=0)
    return _Spectrum(modes.values[keep], a[:, keep], readout[:, keep], env_d, env_c)


def _dense_spectrum(network: Network, rows, window) -> _Spectrum:
    env = network.environment
    p = network.n_probes
    if window is None:
        w, u = normal_modes(network)
        if env.homogeneous_chain and env.boundary in ("fixed", "free"):
            env_d = chain_modes(env.sites, env.omega0, env.g, env.boundary, vectors=False)[0] ** 2
            b, sites = _coupling_rows(p, env.sites, _attachments(network, 0))
            env_c = b @ chain_mode_rows(env.sites, env.boundary, sites) if sites else np.zeros((p, env.sites))
        else:
            ew, eu = env.modes()
            env_d, env_c = ew**2, network.coupling_block() @ eu
        return _Spectrum(w**2, u[:p], u[list(rows)], env_d, env_c)
    # the cut chain: a fixed-end chain of window.sites sites (the compression of V)
    m, offset = window.sites, window.lo - 1
    att = _attachments(network, offset)
    v_e = (env.omega0**2 + 2 * env.g) * np.eye(m) - env.g * (np.eye(m, k=1) + np.eye(m, k=-1))
    bfull = np.zeros((p, m))
    for i, s, k in att:
        bfull[i, s - 1] += k
    v = np.block([[network.probes.potential(), bfull], [bfull.T, v_e]])
    lam, u = np.linalg.eigh(v)
    if lam[0] <= 0:
        raise NumericalError(f"the potential matrix has a non-positive eigenvalue {lam[0]:.3g}")
    env_d = chain_modes(m, env.omega0, env.g, "fixed", vectors=False)[0] ** 2
    b, sites = _coupling_rows(p, m, att)
    env_c = b @ chain_mode_rows(m, "fixed", sites)
    local = [r if r < p else r - offset for r in rows]
    return _Spectrum(lam, u[:p], u[local], env_d, env_c)


def _environment_energy(network: Network, temperature: float) -> float:
    """Σ_j ν_j Ω_j: ⟨H_E⟩ of the environment's initial (thermal) state [frequency]."""
    env = network.environment
    if env.homogeneous_chain:
        om = chain_modes(env.sites, env.omega0, env.g, env.boundary, vectors=False)[0]
    else:
        om = env.modes()[0]
    return float(np.sum(thermal_factor(om, temperature) * om))


def solve(network: Network, initial: InitialState, *, observe=None, tol: float = 1e-12,
          t_max: float | None = None, method: str = "auto", covariance: bool = True) -> Solution:
    """Exact normal-mode solution of ``network`` from ``initial``.

    ``observe``: 0-based oscillator indices (probes first, then sites) whose moments will be
    evaluated; default the probes. ``tol``: eigenvalues of Δ below tol·max(1, ‖Δ‖) are dropped
    (scaled units, vacuum = ½); the bound on the error this makes is ``error_bound``.
    ``t_max`` [1/frequency]: the largest |t| that will be evaluated; lets a long fixed-end chain
    be cut to the sites within reach (light cone), and then the solution refuses later times.
    ``method``: "auto" (dense for N ≤ DENSE_MAX or a graph environment, structured chain
    solver otherwise), "dense" or "chain". ``covariance=False`` skips Δ: only :func:`means`
    can be evaluated (cheaper, for sweeps of first moments).
    """
    p, n = network.n_probes, network.size
    if initial.probes.modes != p:
        raise HarmosyncError(f"the initial state has {initial.probes.modes} probe modes but the network has {p} probes")
    if method not in METHODS:
        raise HarmosyncError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    rows = tuple(range(p)) if observe is None else tuple(int(r) for r in observe)
    if any(not 0 <= r < n for r in rows):
        raise HarmosyncError(f"observed oscillators must be in 0..{n - 1}")
    temp = float(initial.environment_temperature)
    env = network.environment
    structured = env.homogeneous_chain and env.boundary in ("fixed", "free")
    if method == "chain" and not structured:
        raise HarmosyncError(
            f"method 'chain' needs a homogeneous chain with fixed or free ends, got a {env.kind} "
            f"environment{' with ' + env.boundary + ' ends' if env.boundary else ''}; use method='auto'"
        )
    window = None
    if t_max is not None:
        t_max = float(t_max)
        if not np.isfinite(t_max) or t_max < 0:
            raise HarmosyncError(f"t_max must be a finite time ≥ 0, got {t_max}")
        window = lc.window(network, t_max, sites=[r - p + 1 for r in rows if r >= p],
                           probe_cov=initial.probes.cov, temperature=temp, mean=initial.probes.mean)
    size = p + (window.sites if window is not None else env.sites)
    use = method
    if method == "auto":
        use = "chain" if structured and size > DENSE_MAX else "dense"
    if (use == "chain" and size > CHAIN_MAX) or (use == "dense" and size > DENSE_LIMIT_SOLVE):
        hint = ("pass t_max (the latest time you need) so that the chain can be cut to the light cone"
                if t_max is None and structured and env.boundary == "fixed" else
                "use a shorter chain or a shorter run")
        est = 5.0 * (size / 1e4) ** 2 if use == "chain" else 100.0 * (size / 1e4) ** 3
        raise HarmosyncError(
            f"the network has {size} oscillators to solve exactly (the {use} method would take "
            f"~{est / 3600:.0f} h on 2 cores); {hint}")
    with blas_threads(1 if size <= SMALL else None):
        spec = (_chain_spectrum if use == "chain" else _dense_spectrum)(network, rows, window)
        return assemble_solution(
            spec.mu, spec.a, spec.readout, rows, network.probes.potential(), spec.env_d, spec.env_c,
            initial, environment_energy=_environment_energy(network, temp), tol=tol,
            covariance=covariance, method=use, window=window, t_max=t_max)  # accuracy (issue 11): t_max


def assemble_solution(mu, a, readout, rows, vs, env_d, env_c, initial: InitialState, *,
                      environment_energy: float, tol: float = 1e-12, covariance: bool = True,
                      method: str = "dense", window=None, t_max: float | None = None) -> Solution:
    """A :class:`Solution` from the normal modes of a network: squared frequencies ``mu`` (N,)
    [frequency²], probe rows ``a`` (P, N) and observed rows ``readout`` (n, N) of U, the probes'
    V_S, the environment's squared mode frequencies ``env_d`` (M,) and coupling ``env_c`` = B·W_E
    (P, M), and ⟨H_E⟩ of its initial state (module docstring; used by :mod:`harmosync.fastpaths`
    to share the environment between networks)."""
    mu = np.asarray(mu, float)
    if mu.size == 0 or mu[0] <= 0:
        raise NumericalError("the potential matrix has a non-positive eigenvalue")
    w = np.sqrt(mu)
    temp = float(initial.environment_temperature)
    x0, p0 = initial.probes.mean[0::2], initial.probes.mean[1::2]
    sw = np.sqrt(w)
    mean0 = np.array([sw * (a.T @ x0), (a.T @ p0) / sw])
    pc = initial.probes.cov
    energy = 0.5 * float(np.trace(vs @ pc[0::2, 0::2]) + np.trace(pc[1::2, 1::2]) + x0 @ vs @ x0 + p0 @ p0)
    energy += float(environment_energy)
    if covariance:
        lr = low_rank_delta(mu, a, vs, env_d, env_c, pc, temp, tol=tol)
        values, vectors, bound = lr.values, lr.vectors, lr.bound * _row_norms(readout, w)
        # --- accuracy (issue 11): the eigensolver's roundoff, which dominates for soft modes
        bound += eigen_roundoff(mu, readout, temp)
        # --- end accuracy
        nu = thermal_factor(w, temp)
    else:
        values, vectors, bound = np.zeros(0), np.zeros((2, w.size, 0)), 0.0
        nu = np.full(w.size, np.nan)  # no covariance: moments() refuses, means() works
    # --- accuracy (issue 11): roundoff of the trig sums up to t_max (∞: phase error not bounded)
    if covariance:
        horizon = window.t_max if window is not None else (t_max if t_max is not None else np.inf)
        bound += evaluation_roundoff(w, readout, nu, values, vectors, horizon)
    # --- end accuracy
    label = method
    if window is not None:
        bound += window.bound
        label += "+lightcone"
    return Solution(
        frequencies=w,
        rows=tuple(rows),
        readout=np.asarray(readout, float),
        mean0=mean0,
        nu=nu,
        values=values,
        vectors=vectors,
        energy=energy,
        error_bound=float(bound),
        method=label,
        t_max=window.t_max if window is not None else np.inf,
        window=(window.lo, window.hi) if window is not None else None,
    )


def _row_norms(readout, w) -> float:
    # max over observed rows of |r_x|², |r_p|² (see module docstring)
    if readout.size == 0:
        return 0.0
    return float(max(np.max((readout**2) @ (1 / w)), np.max((readout**2) @ w)))


def check_times(times) -> np.ndarray:
    """A 1-D, finite, strictly increasing, non-empty time grid [1/frequency unit]."""
    try:
        t = np.asarray(times, dtype=float)
    except (TypeError, ValueError):
        raise HarmosyncError("times must be numbers") from None
    if t.ndim != 1 or t.size == 0:
        raise HarmosyncError(f"times must be a non-empty 1-D array, got shape {t.shape}")
    if not np.all(np.isfinite(t)):
        raise HarmosyncError("times must be finite")
    if t.size > 1 and np.any(np.diff(t) <= 0):
        raise HarmosyncError("times must be strictly increasing")
    return t


def _uniform_step(t: np.ndarray) -> float | None:
    # uniform within 1e-11 (relative): evaluating on the ideal grid then errs by ≤ w·1e-11·t
    if t.size < 3:
        return None
    h = (t[-1] - t[0]) / (t.size - 1)
    if np.max(np.abs(t - (t[0] + h * np.arange(t.size)))) <= 1e-11 * max(1.0, abs(t[0]), abs(t[-1])):
        return h
    return None


def _check_horizon(sol: Solution, t: np.ndarray) -> None:
    if np.isfinite(sol.t_max) and max(abs(t[0]), abs(t[-1])) > sol.t_max * (1 + 1e-12):
        raise HarmosyncError(
            f"this solution was cut to the light cone of t_max = {sol.t_max:g} (chain sites "
            f"{sol.window[0]}..{sol.window[1]}); solve again with t_max ≥ {max(abs(t[0]), abs(t[-1])):g}"
        )


def _columns(sol: Solution):
    """Mode coefficients (α, β) of every output column: shapes (N, 2n, R+1) each."""
    w = sol.frequencies
    vq = np.concatenate([sol.mean0[0][:, None], sol.vectors[0]], axis=1)  # (N, R+1)
    vp = np.concatenate([sol.mean0[1][:, None], sol.vectors[1]], axis=1)
    ux = (sol.readout / np.sqrt(w)).T[:, :, None]  # (N, n, 1)
    upp = (sol.readout * np.sqrt(w)).T[:, :, None]
    alpha = np.concatenate([ux * vq[:, None, :], upp * vp[:, None, :]], axis=1)
    beta = np.concatenate([ux * vp[:, None, :], -upp * vq[:, None, :]], axis=1)
    return alpha, beta


def stationary_covariance(sol: Solution) -> np.ndarray:
    """The constant part of the observed covariance, block ordering (2n, 2n)."""
    w, r = sol.frequencies, sol.readout
    n = r.shape[0]
    out = np.zeros((2 * n, 2 * n))
    out[:n, :n] = (r * (sol.nu / w)) @ r.T
    out[n:, n:] = (r * (sol.nu * w)) @ r.T
    return out


def _table_block(block: int, n: int) -> int:
    # times per BLAS block: the cos/sin table (block × 2N numbers) stays ≤ 32 MB
    return int(max(16, min(block, (1 << 21) // max(n, 1))))


def _nufft_chunk(ncols: int) -> int:
    # one chunk's FFT grid (2L complex × C/2) plus its output (L × C) ≈ 48·L·C bytes ≤ 96 MB
    length = int(96e6 / (48 * max(ncols, 1)))
    return int(min(1 << 17, max(1 << 12, 1 << int(np.log2(max(length, 1))))))


def iter_moments(sol: Solution, times, *, block: int = BLOCK, engine: str = "auto"):
    """Yield (slice, mean (B, 2n), cov (B, 2n, 2n)) chunks, interleaved ordering.

    ``engine``: "auto" (non-uniform FFT or BLAS blocks on uniform grids, whichever is cheaper),
    "nufft", "direct". Chunks hold at most ``block`` times.
    """
    t = check_times(times)
    _check_horizon(sol, t)
    if engine not in ("auto", "nufft", "direct"):
        raise HarmosyncError(f"engine must be auto, nufft or direct, got {engine!r}")
    if np.any(np.isnan(sol.nu)):
        raise HarmosyncError("this solution was built with covariance=False; use means(), or solve again")
    w = sol.frequencies
    n = len(sol.rows)
    alpha, beta = _columns(sol)
    # rows in interleaved order (x1, p1, x2, p2, …): no reordering of the results
    order = np.ravel(np.column_stack([np.arange(n), n + np.arange(n)]))
    alpha, beta = alpha[:, order], beta[:, order]
    # columns: the 2n means first, then the 2n·R low-rank ones (the NUFFT packs neighbouring
    # columns in pairs; a zero mean then stays exactly zero)
    alpha = np.hstack([alpha[:, :, 0], alpha[:, :, 1:].reshape(w.size, -1)])
    beta = np.hstack([beta[:, :, 0], beta[:, :, 1:].reshape(w.size, -1)])
    ncols = alpha.shape[1]
    const = to_interleaved(stationary_covariance(sol))
    lam = sol.values

    def assemble(start, out):
        mean = out[:, : 2 * n]
        z = out[:, 2 * n:].reshape(out.shape[0], 2 * n, -1)
        cov = np.matmul(z * lam, np.swapaxes(z, 1, 2))
        cov += const
        return slice(start, start + out.shape[0]), mean, cov

    h = _uniform_step(t)
    tb = _table_block(block, w.size)
    if h is None:
        if engine == "nufft":
            raise HarmosyncError("engine 'nufft' needs a uniform time grid")
        for start in range(0, t.size, tb):
            arg = np.outer(t[start:start + tb], w)
            yield assemble(start, np.cos(arg) @ alpha + np.sin(arg) @ beta)
        return
    chunk = _nufft_chunk(ncols)
    use_nufft = engine == "nufft" or (
        engine == "auto" and ts.nufft_cost(w.size, ncols, t.size, chunk) < ts.direct_cost(w.size, ncols, t.size))
    gen = (ts.nufft(w, alpha, beta, t[0], h, t.size, chunk=chunk) if use_nufft
           else ts.direct(w, alpha, beta, t[0], h, t.size, block=tb))
    for start, vals in gen:
        for sub in range(0, vals.shape[0], block):
            yield assemble(start + sub, vals[sub:sub + block])


def means(sol: Solution, times, *, engine: str = "auto") -> np.ndarray:
    """The means ⟨x_i⟩, ⟨p_i⟩ of the observed oscillators (T, 2n), interleaved: the first
    moments alone (2n trig sums, no covariance work) [x in ω^(-1/2), p in ω^(1/2)]."""
    t = check_times(times)
    _check_horizon(sol, t)
    w = sol.frequencies
    alpha, beta = _columns(sol)
    alpha, beta = alpha[:, :, 0], beta[:, :, 0]
    out = np.empty((t.size, alpha.shape[1]))
    h = _uniform_step(t)
    tb = _table_block(BLOCK, w.size)
    if h is None:
        for start in range(0, t.size, tb):
            arg = np.outer(t[start:start + tb], w)
            out[start:start + tb] = np.cos(arg) @ alpha + np.sin(arg) @ beta
    else:
        chunk = _nufft_chunk(alpha.shape[1])
        use_nufft = engine == "nufft" or (engine == "auto" and ts.nufft_cost(
            w.size, alpha.shape[1], t.size, chunk) < ts.direct_cost(w.size, alpha.shape[1], t.size))
        gen = (ts.nufft(w, alpha, beta, t[0], h, t.size, chunk=chunk) if use_nufft
               else ts.direct(w, alpha, beta, t[0], h, t.size, block=tb))
        for start, vals in gen:
            out[start:start + vals.shape[0]] = vals
    return to_interleaved(out)


def probe_means(network: Network, mean, times) -> np.ndarray:
    """⟨x_i(t)⟩, ⟨p_i(t)⟩ of the probes (T, 2P), interleaved, from their initial means alone, the
    environment at rest (its mean zero, as in its ground or thermal state).

    The means of a quadratic network obey the classical equations of motion, independent of the
    covariance: :func:`solve` with ``covariance=False``, then :func:`means`. ``mean``: the
    probes' (x1, p1, x2, p2, …) at t = 0 [ω^(-1/2), ω^(1/2)].
    """
    from .states import GaussianState

    p = network.n_probes
    mean = np.asarray(mean, dtype=float)
    if mean.shape != (2 * p,):
        raise HarmosyncError(f"mean must have {2 * p} entries (x, p per probe), got shape {mean.shape}")
    # any valid covariance: it is not used when covariance=False
    state = InitialState(GaussianState(mean, 0.5 * np.eye(2 * p)))
    times = check_times(times)
    sol = solve(network, state, covariance=False, t_max=float(np.max(np.abs(times))))
    return means(sol, times)


@dataclass(frozen=True, eq=False)
class Moments:
    """First and second moments of the observed oscillators on a time grid (interleaved)."""

    times: np.ndarray
    mean: np.ndarray  # (T, 2n)
    cov: np.ndarray  # (T, 2n, 2n)
    rows: tuple[int, ...]


def moments(sol: Solution, times, *, block: int = 4096, engine: str = "auto") -> Moments:
    """Means and covariance of the observed oscillators at every time, exactly (see module doc).
    Memory: T·(2n)² for the result plus the work space of :func:`iter_moments`."""
    t = check_times(times)
    n = len(sol.rows)
    mean = np.empty((t.size, 2 * n))
    cov = np.empty((t.size, 2 * n, 2 * n))
    for sl, m, c in iter_moments(sol, t, block=block, engine=engine):
        mean[sl] = m
        cov[sl] = c
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(cov))):
        raise NumericalError("the evolution produced NaN or inf; check the network and the state")
    return Moments(t, mean, cov, sol.rows)


def evolve(network: Network, initial: InitialState, times, *, observe=None) -> Moments:
    """Convenience: :func:`solve` (with t_max = the latest |time|, so long chains are cut to
    the light cone) then :func:`moments`."""
    t = check_times(times)
    return moments(solve(network, initial, observe=observe, t_max=float(np.max(np.abs(t)))), t)


def propagator(network: Network, t: float) -> np.ndarray:
    """The symplectic matrix S(t) (2N × 2N, interleaved) with R(t) = S(t) R(0)."""
    w, u = normal_modes(network)
    c, s = np.cos(w * t), np.sin(w * t)
    xx = (u * c) @ u.T
    xp = (u * (s / w)) @ u.T
    px = -(u * (w * s)) @ u.T
    pp = xx
    return to_interleaved(np.block([[xx, xp], [px, pp]]))


def initial_covariance(network: Network, initial: InitialState) -> np.ndarray:
    """The full initial covariance σ(0) (2N × 2N, interleaved): probes ⊗ environment state."""
    p, m = network.n_probes, network.environment.sites
    env_w, env_u = network.environment.modes()
    exx, epp = environment_covariance(env_w, env_u, initial.environment_temperature)
    n = p + m
    blk = np.zeros((2 * n, 2 * n))
    pc = initial.probes.cov
    blk[:p, :p] = pc[0::2, 0::2]
    blk[:p, n:n + p] = pc[0::2, 1::2]
    blk[n:n + p, :p] = pc[1::2, 0::2]
    blk[n:n + p, n:n + p] = pc[1::2, 1::2]
    blk[p:n, p:n] = exx
    blk[n + p:, n + p:] = epp
    return to_interleaved(blk)


def initial_mean(network: Network, initial: InitialState) -> np.ndarray:
    out = np.zeros(2 * network.size)
    out[: 2 * network.n_probes] = initial.probes.mean
    return out


def normal_mode_coordinates(x1, x2, theta: float):
    """(q1, q2) = (cos θ x1 + sin θ x2, −sin θ x1 + cos θ x2), Eqs. (A4), (A5)."""
    c, s = np.cos(theta), np.sin(theta)
    return c * np.asarray(x1) + s * np.asarray(x2), -s * np.asarray(x1) + c * np.asarray(x2)
