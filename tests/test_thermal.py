"""The open solver's thermal states (harmosync.dynamics.thermal) against 40-digit mpmath.

environment_thermal: ⟨XXᵀ⟩ = g_x(V_E), ⟨PPᵀ⟩ = g_p(V_E) with g_x(μ) = ν(√μ)/√μ, g_p(μ) = ν(√μ)√μ,
ν = ½coth(√μ/2T) (CONVENTIONS), the exact V_E from its parameters; its bounds e_x, e_p must
cover the spectral norms of the errors, and stay within a few hundred ε of σ's scale.
stationarity_residual: ‖A_Hσ̃ + σ̃A_Hᵀ‖₂ = ‖P̃ − X̃V‖₂ (exact V) for the open solver's σ̃_s."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

from harmosync import network as nw
from harmosync.dynamics.open import _closed_thermal
from harmosync.dynamics.thermal import environment_thermal, stationarity_residual
from reference_mp import potentials_mp

mp.mp.dps = 40


def _exact_thermal(vmat, temperature):
    """(g_x(V), g_p(V)) of an mpmath matrix, by its eigendecomposition in 40 digits."""
    lam, q = mp.eigsy(vmat)
    n = vmat.rows
    xx, pp = mp.matrix(n, n), mp.matrix(n, n)
    for k in range(n):
        w = mp.sqrt(lam[k])
        nu = mp.mpf(1) / 2 if temperature == 0 else mp.coth(w / (2 * mp.mpf(temperature))) / 2
        for i in range(n):
            for j in range(n):
                xx[i, j] += q[i, k] * q[j, k] * nu / w
                pp[i, j] += q[i, k] * q[j, k] * nu * w
    return xx, pp


def _norm2(diff):
    return float(np.linalg.norm(diff, 2))


def _soft_graph(omega, sites=5):
    a = np.zeros((sites, sites))
    for j in range(sites - 1):
        a[j, j + 1] = a[j + 1, j] = 0.5
    a[0, sites - 1] = a[sites - 1, 0] = 0.3  # a ring bond: not a chain
    return nw.couple(nw.graph(a, [omega] * sites), nw.probes([1.0], 0.0, [1], [1e-5]))


NETWORKS = {
    "soft graph, Ω = 1e-3": lambda: _soft_graph(1e-3),
    "soft graph, Ω = 1e-4": lambda: _soft_graph(1e-4),
    "stiff graph": lambda: _soft_graph(2.0),
    "soft free chain": lambda: nw.couple(nw.chain(6, 1e-3, 1.0, "free"), nw.probes([1.0], 0.0, [2], [1e-3])),
    "fixed chain with a defect": lambda: nw.couple(nw.chain(6, 0.3, 1.0, "fixed", onsite_frequencies=[0.3, 0.3, 0.0, 0.3, 0.3, 0.3]),
                                                   nw.probes([1.0], 0.0, [2], [0.1])),
}


@pytest.mark.parametrize("temperature", [0.0, 1.0])
@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_environment_thermal_state_and_its_bound(name, temperature):
    net = NETWORKS[name]()
    xx, pp, (ex, ep) = environment_thermal(net, temperature)
    xe, pe = _exact_thermal(potentials_mp(net)[1], temperature)
    dx = _norm2(xx - np.array(xe.tolist(), dtype=float))
    dp = _norm2(pp - np.array(pe.tolist(), dtype=float))
    assert dx <= ex and dp <= ep, (dx, ex, dp, ep)
    scale = max(float(np.abs(xx).max()), float(np.abs(pp).max()))
    assert ex <= 1e-12 * scale and ep <= 1e-12 * scale, (ex, ep, scale)


@pytest.mark.parametrize("temperature", [0.0, 1.0])
@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_stationarity_residual_bounds_the_exact_one(name, temperature):
    """r = P − XV with V the exact potential (40 digits) of the whole network."""
    net = NETWORKS[name]()
    sig = _closed_thermal(net, temperature)
    xx, pp = sig[0::2, 0::2], sig[1::2, 1::2]
    bound = stationarity_residual(net, xx, pp)
    vmat = potentials_mp(net)[0]
    xm, pm = mp.matrix(xx.tolist()), mp.matrix(pp.tolist())
    e = pm - xm * vmat
    exact = _norm2(np.array(e.tolist(), dtype=float))
    assert exact <= bound
    assert bound <= 1e3 * max(exact, 1e-16 * float(np.abs(xx).max())), (exact, bound)
