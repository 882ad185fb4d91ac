"""Exact Gaussian dynamics of a quadratic network, from its normal modes.

With V = U diag(w²) Uᵀ, the scaled normal coordinates y = (√w Uᵀx, Uᵀp/√w) rotate rigidly,
mode by mode, by the angle w_k t. So

* the mean of any oscillator is a trig sum Σ_k [α_k cos(w_k t) + β_k sin(w_k t)];
* the covariance is split as σ'(0) = diag(ν, ν) + Δ, with diag(ν, ν) the coupled network's own
  thermal state (stationary: it contributes a constant) and Δ numerically low rank (the initial
  state differs from it only through the probes and through the coupling, a rank-2P
  perturbation of V). With Δ = Σ_r λ_r v_r v_rᵀ, each observed covariance block is
  const + Σ_r λ_r z_r(t) z_r(t)ᵀ, where z_r(t) are again trig sums.

Eigenpairs of Δ with |λ| ≤ tol·max(1, ‖Δ‖) are dropped (they sit at the roundoff floor); the error this makes in any
covariance entry σ_ab is bounded by tol·|r_a|·|r_b| with |r_{x_i}|² = (V^{-1/2})_ii and
|r_{p_i}|² = (V^{1/2})_ii (recorded as ``Solution.error_bound``). No time stepping is involved.

Trig sums over uniform time grids are evaluated blockwise, t = t_b + τ_j, with
cos(w(t_b + τ)) = cos(w t_b) cos(wτ) − sin(w t_b) sin(wτ): one table of cos/sin(wτ_j) and one
BLAS product per block. Memory is O(N·(block + columns)), independent of the number of times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .conventions import thermal_factor, to_interleaved
from .errors import HarmosyncError, NumericalError
from .network import Network
from .states import InitialState, environment_covariance

BLOCK = 512


@dataclass(frozen=True, eq=False)
class Solution:
    """The exact solution for a set of observed oscillators (0-based, probes first).

    Attributes: ``frequencies`` w_k (N,); ``readout`` U[rows] (n, N); ``mean0`` (2, N) the
    initial mean in scaled normal coordinates; ``nu`` (N,) the stationary part; ``values`` (R,)
    and ``vectors`` (2, N, R) the low-rank part Δ; ``energy`` the conserved ⟨H⟩.
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

    @property
    def rank(self) -> int:
        return int(self.values.size)


def normal_modes(network: Network) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies w (ascending) and orthonormal eigenvectors U of V (dense eigh)."""
    lam, u = np.linalg.eigh(network.potential())
    if lam[0] <= 0:  # check_stability already refuses this; guard against roundoff
        raise NumericalError(f"the potential matrix has a non-positive eigenvalue {lam[0]:.3g}")
    return np.sqrt(lam), u


def solve(network: Network, initial: InitialState, *, observe=None, tol: float = 1e-12) -> Solution:
    """Exact normal-mode solution of ``network`` from ``initial``.

    ``observe``: 0-based oscillator indices (probes first, then sites) whose moments will be
    evaluated; default the probes. ``tol``: eigenvalues of Δ below tol·max(1, ‖Δ‖) are dropped
    (scaled units, vacuum = ½); the bound on the error this makes is ``error_bound``.
    """
    p, n = network.n_probes, network.size
    if initial.probes.modes != p:
        raise HarmosyncError(f"the initial state has {initial.probes.modes} probe modes but the network has {p} probes")
    rows = tuple(range(p)) if observe is None else tuple(int(r) for r in observe)
    if any(not 0 <= r < n for r in rows):
        raise HarmosyncError(f"observed oscillators must be in 0..{n - 1}")
    w, u = normal_modes(network)
    env_w, env_u = network.environment.modes()
    temp = float(initial.environment_temperature)

    # Initial covariance, block ordering, rotated into the coupled normal modes: Uᵀ σ U.
    pc = initial.probes.cov
    pxx, pxp, ppp = pc[0::2, 0::2], pc[0::2, 1::2], pc[1::2, 1::2]
    up, ue = u[:p], u[p:]
    nu_e = thermal_factor(env_w, temp)
    g = ue.T @ env_u  # (N, M)
    sxx = up.T @ pxx @ up + (g * (nu_e / env_w)) @ g.T
    spp = up.T @ ppp @ up + (g * (nu_e * env_w)) @ g.T
    sxp = up.T @ pxp @ up
    sw, isw = np.sqrt(w), 1.0 / np.sqrt(w)
    qq = sw[:, None] * sxx * sw[None, :]
    pp = isw[:, None] * spp * isw[None, :]
    qp = sw[:, None] * sxp * isw[None, :]
    nu = thermal_factor(w, temp)
    delta = np.block([[qq - np.diag(nu), qp], [qp.T, pp - np.diag(nu)]])
    delta = 0.5 * (delta + delta.T)
    lam, vec = np.linalg.eigh(delta)
    # Keep eigenpairs above tol·max(1, ‖Δ‖); the rest is roundoff-level (≈ 1e-14 each).
    small = np.abs(lam) <= tol * max(1.0, float(np.abs(lam).max(initial=0.0)))
    keep = np.flatnonzero(~small)
    dropped = float(np.abs(lam[small]).sum())
    bound_rows = _row_norms(u[list(rows)], w)
    mean_x = up.T @ initial.probes.mean[0::2]
    mean_p = up.T @ initial.probes.mean[1::2]
    mean0 = np.array([sw * mean_x, isw * mean_p])
    energy = 0.5 * float(np.sum(w * (np.diag(qq) + np.diag(pp) + mean0[0] ** 2 + mean0[1] ** 2)))
    return Solution(
        frequencies=w,
        rows=rows,
        readout=u[list(rows)],
        mean0=mean0,
        nu=nu,
        values=lam[keep],
        vectors=vec[:, keep].reshape(2, n, -1),
        energy=energy,
        error_bound=dropped * bound_rows,
    )


def _row_norms(readout, w) -> float:
    # max over observed rows of |r_x|², |r_p|² (see module docstring)
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
    if t.size < 3:
        return None
    h = (t[-1] - t[0]) / (t.size - 1)
    if np.max(np.abs(t - (t[0] + h * np.arange(t.size)))) <= 1e-9 * max(1.0, abs(t[-1])):
        return h
    return None


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


def iter_moments(sol: Solution, times, *, block: int = BLOCK):
    """Yield (slice, mean (B, 2n), cov (B, 2n, 2n)) chunks, interleaved ordering."""
    t = check_times(times)
    w = sol.frequencies
    n = len(sol.rows)
    alpha, beta = _columns(sol)
    ncols = alpha.shape[1] * alpha.shape[2]
    alpha = alpha.reshape(w.size, ncols)
    beta = beta.reshape(w.size, ncols)
    const = stationary_covariance(sol)
    lam = sol.values
    h = _uniform_step(t)
    if h is not None:
        tau = h * np.arange(min(block, t.size))
        ct, st = np.cos(np.outer(tau, w)), np.sin(np.outer(tau, w))
        table = np.hstack([ct, st])
    for start in range(0, t.size, block):
        stop = min(start + block, t.size)
        if h is not None:
            tb = t[0] + h * start
            cb, sb = np.cos(w * tb)[:, None], np.sin(w * tb)[:, None]
            coef = np.vstack([alpha * cb + beta * sb, beta * cb - alpha * sb])
            out = table[: stop - start] @ coef
        else:
            arg = np.outer(t[start:stop], w)
            out = np.cos(arg) @ alpha + np.sin(arg) @ beta
        out = out.reshape(stop - start, 2 * n, -1)
        mean = out[:, :, 0]
        z = out[:, :, 1:]
        cov = np.matmul(z * lam, np.swapaxes(z, 1, 2)) + const
        yield slice(start, stop), to_interleaved(mean), to_interleaved(cov)


@dataclass(frozen=True, eq=False)
class Moments:
    """First and second moments of the observed oscillators on a time grid (interleaved)."""

    times: np.ndarray
    mean: np.ndarray  # (T, 2n)
    cov: np.ndarray  # (T, 2n, 2n)
    rows: tuple[int, ...]


def moments(sol: Solution, times, *, block: int = BLOCK) -> Moments:
    """Means and covariance of the observed oscillators at every time, exactly (see module doc).
    Memory: T·(2n)² for the result plus O(N·block) work space."""
    t = check_times(times)
    n = len(sol.rows)
    mean = np.empty((t.size, 2 * n))
    cov = np.empty((t.size, 2 * n, 2 * n))
    for sl, m, c in iter_moments(sol, t, block=block):
        mean[sl] = m
        cov[sl] = c
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(cov))):
        raise NumericalError("the evolution produced NaN or inf; check the network and the state")
    return Moments(t, mean, cov, sol.rows)


def evolve(network: Network, initial: InitialState, times, *, observe=None) -> Moments:
    """Convenience: :func:`solve` then :func:`moments`."""
    return moments(solve(network, initial, observe=observe), times)


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
