"""Slow, obviously correct references for the tests: the full propagator and initial state.

O(N³) and 2N × 2N matrices: for small networks only. The fast solvers are checked against these.
"""

from __future__ import annotations

import numpy as np

from ..conventions import to_interleaved
from ..network import Network
from ..states import InitialState, environment_covariance
from .spectrum import normal_modes


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
    """The full initial mean (2N,), interleaved: the probes' means, the environment at rest."""
    out = np.zeros(2 * network.size)
    out[: 2 * network.n_probes] = initial.probes.mean
    return out
