"""A slow, obviously correct reference for the exact dynamics, in mpmath (tens of digits).

The network is rebuilt from its parameters in multiprecision (a homogeneous chain's
Ω0² + g·tridiag(−1, 2, −1), the probes' diag(ω²) + L(λ), the couplings K), so that the
reference is the exact answer for the parameters the user typed, not for their rounding into
a float V. Then, with V = U diag(w²) Uᵀ (``mpmath.eigsy``):

* the initial state is the probes' covariance (taken exactly as given) ⊗ the thermal state
  of H_E alone, ⟨XXᵀ⟩ = W diag(ν/Ω) Wᵀ, ⟨PPᵀ⟩ = W diag(νΩ) Wᵀ, ν = ½ coth(Ω/2T) (½ at T = 0),
  from an eigendecomposition of V_E;
* R(t) = S(t) R(0) with S(t) = [[U c Uᵀ, U (s/w) Uᵀ], [−U (w s) Uᵀ, U c Uᵀ]], c = cos(wt),
  s = sin(wt); σ(t) = S(t) σ(0) S(t)ᵀ, means ⟨R(t)⟩ = S(t) ⟨R(0)⟩.

Everything is evaluated in the normal-mode basis (σ(0) transformed once), only for the observed
rows. Cost O(N³) multiprecision operations once, O(n N²) per time: keep N ≲ 40.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np


def _mat(a) -> mp.matrix:
    a = np.asarray(a, dtype=float)
    return mp.matrix([[mp.mpf(float(x)) for x in row] for row in a])


def potentials_mp(network):
    """(V, V_E) of ``network`` as mpmath matrices, from its parameters (module docstring)."""
    env, pr = network.environment, network.probes
    m, p = env.sites, network.n_probes
    bonds = env.bonds.toarray()
    if env.homogeneous_chain:
        onsite = [mp.mpf(float(env.omega0)) ** 2] * m
    else:
        onsite = [mp.mpf(float(x)) for x in env.onsite]
    wall = env.wall if env.wall is not None else np.zeros(m)
    ve = mp.matrix(m, m)
    for j in range(m):
        ve[j, j] = onsite[j] + mp.fsum(mp.mpf(float(x)) for x in bonds[j]) + mp.mpf(float(wall[j]))
        for k in range(m):
            if k != j and bonds[j, k]:
                ve[j, k] = -mp.mpf(float(bonds[j, k]))
    n = p + m
    v = mp.matrix(n, n)
    lam = pr.coupling
    for i in range(p):
        v[i, i] = mp.mpf(float(pr.frequencies[i])) ** 2 + mp.fsum(mp.mpf(float(x)) for x in lam[i])
        for j in range(p):
            if j != i:
                v[i, j] = -mp.mpf(float(lam[i, j]))
    for i, s, k in pr.attachments:
        v[i, p + s - 1] += mp.mpf(float(k))
        v[p + s - 1, i] += mp.mpf(float(k))
    for j in range(m):
        for k in range(m):
            v[p + j, p + k] = ve[j, k]
    return v, ve


def thermal_nu(omega, temperature):
    """ν = ½ coth(Ω/2T), ½ at T = 0."""
    if temperature <= 0:
        return mp.mpf(1) / 2
    return mp.coth(omega / (2 * mp.mpf(float(temperature)))) / 2


def environment_thermal_mp(network, temperature, sites, dps: int = 60):
    """H_E's thermal state at the (0-based) environment ``sites``, from a ``dps``-digit
    eigendecomposition of V_E: (⟨X_j X_k⟩, ⟨P_j P_k⟩) = Σ_q W_jq W_kq ν_q Ω_q^∓1 (float arrays),
    ν = ½coth(Ω/2T) (CONVENTIONS.md). At t = 0 an environment site holds exactly this."""
    with mp.workdps(dps):
        om2, we = mp.eigsy(potentials_mp(network)[1])
        oms = [mp.sqrt(x) for x in om2]
        nus = [thermal_nu(o, temperature) for o in oms]
        return tuple(np.array([[float(mp.fsum(we[j, q] * we[k, q] * nus[q] * oms[q] ** power
                                              for q in range(om2.rows))) for k in sites] for j in sites])
                     for power in (-1, 1))


class Reference:
    """The exact solution of ``network`` from ``initial`` (an harmosync InitialState), observed
    at the oscillators ``observe`` (0-based, probes first; default the probes)."""

    def __init__(self, network, initial, observe=None, dps: int = 40):
        self.dps = dps
        p, n = network.n_probes, network.size
        self.rows = list(range(p)) if observe is None else [int(r) for r in observe]
        with mp.workdps(dps):
            v, ve = potentials_mp(network)
            mu, u = mp.eigsy(v)
            if min(mu) <= 0:
                raise ValueError("the reference network is unstable")
            self.w = [mp.sqrt(x) for x in mu]
            om2, we = mp.eigsy(ve)
            om = [mp.sqrt(x) for x in om2]
            nu = [thermal_nu(o, initial.environment_temperature) for o in om]
            m = ve.rows
            exx = mp.matrix(m, m)
            epp = mp.matrix(m, m)
            for j in range(m):
                for k in range(j, m):
                    a = mp.fsum(we[j, q] * we[k, q] * nu[q] / om[q] for q in range(m))
                    b = mp.fsum(we[j, q] * we[k, q] * nu[q] * om[q] for q in range(m))
                    exx[j, k] = exx[k, j] = a
                    epp[j, k] = epp[k, j] = b
            pc = _mat(initial.probes.cov)
            xx, xp, pp = mp.matrix(n, n), mp.matrix(n, n), mp.matrix(n, n)
            for i in range(p):
                for j in range(p):
                    xx[i, j], xp[i, j], pp[i, j] = pc[2 * i, 2 * j], pc[2 * i, 2 * j + 1], pc[2 * i + 1, 2 * j + 1]
            for j in range(m):
                for k in range(m):
                    xx[p + j, p + k], pp[p + j, p + k] = exx[j, k], epp[j, k]
            ut = u.T
            self.qxx, self.qxp, self.qpp = ut * xx * u, ut * xp * u, ut * pp * u
            mean = [mp.mpf(float(x)) for x in initial.probes.mean]
            x0 = mp.matrix([mean[2 * i] for i in range(p)] + [0] * m)
            p0 = mp.matrix([mean[2 * i + 1] for i in range(p)] + [0] * m)
            self.mx, self.mp_ = ut * x0, ut * p0
            self.readout = mp.matrix([[u[r, k] for k in range(n)] for r in self.rows])

    def at(self, t):
        """(mean (2n,), cov (2n, 2n)) at time t, interleaved, as float64 arrays, and the same
        in mpmath (for differences finer than double precision)."""
        with mp.workdps(self.dps):
            t = mp.mpf(float(t))
            nmodes = len(self.w)
            c = [mp.cos(w * t) for w in self.w]
            s = [mp.sin(w * t) for w in self.w]
            r = self.readout
            nobs = r.rows
            # G (2n × 2N): rows x_i(t), p_i(t) as combinations of (mode x, mode p) at t = 0
            g = mp.matrix(2 * nobs, 2 * nmodes)
            for i in range(nobs):
                for k in range(nmodes):
                    g[2 * i, k] = r[i, k] * c[k]
                    g[2 * i, nmodes + k] = r[i, k] * s[k] / self.w[k]
                    g[2 * i + 1, k] = -r[i, k] * s[k] * self.w[k]
                    g[2 * i + 1, nmodes + k] = r[i, k] * c[k]
            q = mp.matrix(2 * nmodes, 2 * nmodes)
            for j in range(nmodes):
                for k in range(nmodes):
                    q[j, k] = self.qxx[j, k]
                    q[j, nmodes + k] = self.qxp[j, k]
                    q[nmodes + k, j] = self.qxp[j, k]
                    q[nmodes + j, nmodes + k] = self.qpp[j, k]
            m0 = mp.matrix([self.mx[k] for k in range(nmodes)] + [self.mp_[k] for k in range(nmodes)])
            mean = g * m0
            cov = g * q * g.T
            return (np.array([float(x) for x in mean]),
                    np.array([[float(cov[i, j]) for j in range(cov.cols)] for i in range(cov.rows)]))

    def moments(self, times):
        """Means (T, 2n) and covariances (T, 2n, 2n), interleaved, float64."""
        out = [self.at(t) for t in np.atleast_1d(times)]
        return np.array([o[0] for o in out]), np.array([o[1] for o in out])
