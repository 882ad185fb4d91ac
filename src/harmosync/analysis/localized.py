"""Localized modes: normal modes of the whole network outside the environment's band.

A normal mode of the network (eigenvalue of ``network.potential()``) with a frequency outside
the band of the environment — [Ω0, √(Ω0² + 4g)] for a homogeneous chain, the range of V_E's
spectrum otherwise — cannot radiate: it is an exact normal mode of the finite network too and
keeps oscillating undamped while everything else disperses. Its weight on the probes explains
the steady oscillations at strong coupling (paper Figs. 2 and 4; docs/analysis.md, Sec. 3).

Up to ``DENSE_LIMIT`` oscillators the modes come from a dense eigensolver; a longer chain's are
the bound states of the P × P Schur complement (:func:`_bound_states`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import HarmosyncError
from ..network import DENSE_LIMIT, Network, chain, environment_inverse_columns

#: A localized mode keeps the probes oscillating visibly when more than this fraction of its
#: (unit) weight is on the probes.
STEADY_WEIGHT = 0.01


@dataclass(frozen=True)
class LocalizedMode:
    """A normal mode of the whole network outside the chain band: it cannot radiate.

    ``frequency`` [ω]; ``side`` "below" or "above" the band; ``probe_amplitudes`` U_ik, the
    mode's (normalised) amplitude on each probe; ``probe_weight`` Σ_i U_ik²; ``decay_length``
    the exponential localisation length along a homogeneous chain [sites] (NaN otherwise);
    ``pattern`` "in phase" or "anti-phase" on the two probes; ``steady_amplitude`` the
    amplitude of ⟨x_i(t)⟩ this mode keeps forever, from the initial probe means (if given)
    [ω^(-1/2)].
    """

    frequency: float
    side: str
    probe_amplitudes: tuple[float, ...]
    probe_weight: float
    decay_length: float
    pattern: str
    steady_amplitude: tuple[float, ...] | None = None



def _resolvent_columns(env, mu: float, sites: list[int]) -> np.ndarray:
    """(V_E − μ)⁻¹ at the 1-based ``sites``, (M, len(sites)), for μ outside V_E's spectrum. A
    fixed chain in closed form: below the band it is the Green's function of a chain with
    Ω0'² = Ω0² − μ; above it, with D = diag((−1)^j), V_E − μ = −D (V_E' − μ') D for the chain
    with Ω0'² = μ − Ω0² − 4g. Otherwise a sparse LU (tridiagonal: O(M))."""
    m = env.sites
    if env.boundary == "fixed" and env.g:
        if mu < env.omega0**2:
            return environment_inverse_columns(chain(m, math.sqrt(env.omega0**2 - mu), env.g), sites)
        cols = environment_inverse_columns(chain(m, math.sqrt(mu - env.omega0**2 - 4 * env.g), env.g), sites)
        parity = (np.arange(1, m + 1)[:, None] + np.asarray(sites)[None, :]) % 2
        return np.where(parity == 1, cols, -cols)
    import scipy.sparse as sp
    from scipy.sparse.linalg import splu

    rhs = np.zeros((m, len(sites)))
    rhs[np.asarray(sites) - 1, np.arange(len(sites))] = 1.0
    return splu((env.potential(sparse=True) - mu * sp.identity(m)).tocsc()).solve(rhs)


def _bound_states(network: Network, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues of V outside [lo, hi] ⊇ spectrum of V_E, and the probe rows of their unit
    eigenvectors, for a long chain without any N × N eigensolver. With S(μ) = V_S − μ −
    B (V_E − μ)⁻¹ Bᵀ (P × P), Haynsworth's inertia gives the number of eigenvalues of V below
    μ < lo as the number of negative eigenvalues of S(μ), and above μ > hi as P minus that; each
    bound state is bracketed by bisection on these counts. Its eigenvector is (v, −G Bᵀ v) with
    S(μ) v = 0 and G = (V_E − μ)⁻¹, normalised over all N components."""
    env = network.environment
    p = network.n_probes
    sites = network.plugged_sites()
    vs = network.probes.potential()
    bs = network.coupling_block()[:, [s - 1 for s in sites]]

    def schur(mu):
        cols = _resolvent_columns(env, mu, sites)
        return vs - mu * np.eye(p) - bs @ cols[[s - 1 for s in sites]] @ bs.T, cols

    def below(mu):  # eigenvalues of V below μ (μ outside the band)
        n = int(np.sum(np.linalg.eigvalsh(schur(mu)[0]) < 0))
        return n if mu < lo else env.sites + n

    radius = float(np.abs(vs).sum(axis=1).max() + np.abs(bs).sum(axis=1).max(initial=0.0))
    floor = min(float(np.linalg.eigvalsh(vs)[0]), lo) - radius - 1.0
    ceil = max(float(np.linalg.eigvalsh(vs)[-1]), hi) + radius + 1.0
    edge_lo, edge_hi = lo - 1e-12 * max(1.0, abs(lo)), hi + 1e-12 * max(1.0, abs(hi))
    def eigenvalue(k, a, b):  # the k-th (0-based) eigenvalue of V, in (a, b): where the count passes k
        while (mid := 0.5 * (a + b)) not in (a, b):
            a, b = (mid, b) if below(mid) <= k else (a, mid)
        return 0.5 * (a + b)

    n_low, n_not_high = below(edge_lo), below(edge_hi)
    roots = [eigenvalue(k, floor, edge_lo) for k in range(n_low)]
    roots += [eigenvalue(k, edge_hi, ceil) for k in range(n_not_high, network.size)]
    amps = []
    for mu in roots:
        s_mu, cols = schur(mu)
        ev, vec = np.linalg.eigh(s_mu)
        v = vec[:, np.argmin(np.abs(ev))]  # S(μ) v = 0 at the bound state
        env_part = cols @ (bs.T @ v)
        amps.append(v / math.sqrt(v @ v + env_part @ env_part))
    return np.array(roots), (np.array(amps).T if amps else np.zeros((p, 0)))


def localized_modes(network: Network, initial_mean=None) -> tuple[LocalizedMode, ...]:
    """Normal modes of the whole network (eigenvalues of network.potential()) outside the band
    of the environment: [Ω0², Ω0² + 4g] for a homogeneous chain, the range of V_E's spectrum
    otherwise. ``initial_mean``: the probes' initial (⟨x_i⟩, ⟨p_i⟩) interleaved, for the
    steady amplitude a mode keeps: |U_ik| √(a_k² + (b_k/w_k)²), a_k = Σ_i U_ik x_i(0),
    b_k = Σ_i U_ik p_i(0)."""
    env = network.environment
    p = network.n_probes
    if env.homogeneous_chain and env.g is not None:
        lo, hi = env.omega0**2, env.omega0**2 + 4 * env.g
        if env.boundary != "fixed":  # free/periodic chains reach the band edge Ω0 exactly
            lo = lo * (1 - 1e-12)
    else:
        lam_e = np.linalg.eigvalsh(env.potential()) if env.sites <= DENSE_LIMIT else None
        if lam_e is None:
            raise HarmosyncError("localized modes of a large non-chain network are not supported (> 4000 sites)")
        lo, hi = lam_e[0], lam_e[-1]
    if network.size <= DENSE_LIMIT:
        lam, u = np.linalg.eigh(network.potential())
    elif env.homogeneous_chain:
        lam, u = _bound_states(network, lo, hi)
    else:
        from scipy.sparse.linalg import eigsh

        v = network.potential(sparse=True)
        l1, u1 = eigsh(v, k=min(8, network.size - 2), which="SA")
        l2, u2 = eigsh(v, k=min(8, network.size - 2), which="LA")
        lam, u = np.concatenate([l1, l2]), np.hstack([u1, u2])
    tol = 1e-12 * max(1.0, abs(hi))
    sel = np.flatnonzero((lam < lo - tol) | (lam > hi + tol))
    out = []
    for k in sel:
        amp = u[:p, k]
        w = math.sqrt(lam[k])
        side = "below" if lam[k] < lo else "above"
        xi = float("nan")
        if env.homogeneous_chain and env.g:
            c = abs((env.omega0**2 + 2 * env.g - lam[k]) / (2 * env.g))
            xi = 1.0 / math.acosh(c) if c > 1 else float("inf")
        pattern = ""
        if p == 2:
            pattern = "in phase" if amp[0] * amp[1] > 0 else "anti-phase"
        steady = None
        if initial_mean is not None:
            m0 = np.asarray(initial_mean, float)
            a, b = float(amp @ m0[0::2]), float(amp @ m0[1::2])
            steady = tuple(float(abs(x) * math.hypot(a, b / w)) for x in amp)
        out.append(LocalizedMode(w, side, tuple(float(x) for x in amp), float(amp @ amp), xi, pattern, steady))
    return tuple(out)


def steady_modes(modes) -> tuple[LocalizedMode, ...]:
    """The localized modes with more than ``STEADY_WEIGHT`` of their weight on the probes,
    heaviest first: what keeps the probes oscillating once everything else has radiated away."""
    return tuple(sorted((m for m in modes if m.probe_weight > STEADY_WEIGHT), key=lambda m: -m.probe_weight))
