"""The light cone of a chain: for a run of duration T only sites within reach of the probes matter.

Signals in the chain ω(k)² = Ω0² + 4g sin²(k/2) travel at most at the maximal group velocity

    v_max = max_k dω/dk = g sin k*/ω(k*),   cos k* = (A − √(A² − 4g²))/(2g),  A = Ω0² + 2g

(sites per unit time; v_max → √g as Ω0 → 0). The response of a site a distance d outside
v_max·T falls off faster than exponentially (Bessel-function tails, J_d(2√g T)-like).

**Cut and bound.** For a fixed-end chain, keeping the window of sites [lo, hi] around the
plugged (and observed) sites, with fixed walls at the cuts, gives exactly the compression
V′ = ΠVΠ of the potential matrix (a fixed-end chain of hi − lo + 1 sites). Every quantity the
probes see at time t is a sum of entries [f(V) Σ₀ h(V)]_pq, f, h ∈ {cos(t√V), sin(t√V)/√V,
−√V sin(t√V)}, Σ₀ the initial state (the probes' covariance ⊕ g(V_E) for the environment's
stationary state, g(x) = ν(√x)/√x or x·g(x)). Replace each function by its Chebyshev
truncation of degree n on an interval [a, b] holding the spectra: the products of polynomials
of total degree < 2(d + 1) are identical for V and V′, d being the distance from the nearest
plugged site to the nearest removed site (a walk must go out and come back). So

    |moment(V) − moment(V′)| ≤ 8(2 ε_prop S F + ε_corr F²)   (covariance entries),
                               4 ε_prop ‖⟨R⟩(0)‖₁           (means),

with ε_prop, ε_corr the Chebyshev tails (degree n_prop of the propagator functions for all
t ≤ T, degree n_corr of the stationary-state functions), F = max(1, 1/√a, √b) + ε_prop and
S = max(‖σ_probes‖, g(a_E), a_E… ) the norms involved, as long as 2 n_prop + n_corr < 2(d + 1).
The tails come from Bernstein-ellipse bounds |c_k| ≤ 2 M_ρ ρ^{−k} (M_ρ = max |f| on the
ellipse E_ρ, computed on 2048 points with a 1% margin), minimised over ρ; as ρ → 1 they encode
exactly the group velocity above, so n_prop ≈ v·T + O(T^{1/3}).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .conventions import thermal_factor
from .errors import HarmosyncError
from .network import Network, arccosh1p

#: default bound on the error the cut may add to any moment (absolute, the units of the moment)
CUT_TOL = 1e-13
#: a cut is used only if it keeps at most this fraction of the chain
USEFUL_FRACTION = 0.8
#: spectra with λ_min / λ_max below this are treated as gapless: no cut (the tails' degree
#: grows like √(λ_max / λ_min), beyond any useful window long before this)
GAPLESS = 1e-10


def max_group_velocity(omega0: float, g: float) -> float:
    """v_max = max_k dω/dk for ω² = Ω0² + 4g sin²(k/2) [sites per unit time; units √g]."""
    omega0, g = float(omega0), float(g)
    if g <= 0:
        return 0.0
    # maximum at cos k = c = (a − r)/2g, a = Ω0² + 2g, r = √(a² − 4g²) = √(ε(4g + ε)), ε = Ω0²;
    # 1 ∓ c and a − 2gc = r written without cancellation (Ω0 → 0: v_max → √g)
    eps = omega0**2
    if eps == 0:
        return float(np.sqrt(g))
    r = np.sqrt(eps * (4 * g + eps))
    one_minus_c = 2 * eps / (r + eps)
    one_plus_c = 2 * (4 * g + eps) / (4 * g + eps + r)
    return float(g * np.sqrt(one_minus_c * one_plus_c / r))


_NPTS = 2048
#: e^{±iθ} on the 2048 points of every Bernstein ellipse (the same for all of them)
_CIRCLE = (np.exp(1j * (2 * np.pi * np.arange(_NPTS) / _NPTS)), np.exp(-1j * (2 * np.pi * np.arange(_NPTS) / _NPTS)))


def _ellipses(a: float, b: float, rhos: np.ndarray) -> np.ndarray:
    """Points of the Bernstein ellipses E_ρ of [a, b], one row per ρ (all at once: the degree
    searches scan hundreds of ρ)."""
    al, be = 0.5 * (a + b), 0.5 * (b - a)
    r = np.asarray(rhos, float)[:, None]
    return al + be * 0.5 * (r * _CIRCLE[0] + _CIRCLE[1] / r)


def _tail_degree(lm: np.ndarray, tol: float, rhos: np.ndarray) -> tuple[int, float]:
    """Smallest n with min_ρ 2 M_ρ ρ^{−n}/(ρ − 1) ≤ tol; ``lm`` = ln M_ρ for each ρ of ``rhos``."""
    lr = np.log(rhos)
    base = np.log(2.0) + lm - np.log(rhos - 1.0)

    def tail(n):
        return float(np.exp(np.min(base - n * lr)))

    lo, hi = 0, 1
    while tail(hi) > tol:
        hi *= 2
        if hi > 1 << 40:
            raise HarmosyncError("light cone: the Chebyshev tail does not converge")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if tail(mid) > tol:
            lo = mid
        else:
            hi = mid
    return hi, tail(hi)


def propagation_degree(t_max: float, a: float, b: float, tol: float) -> tuple[int, float]:
    """Degree n with Chebyshev tails ≤ tol, on [a, b] and for every t ≤ t_max, of cos(t√x),
    sin(t√x)/√x and √x sin(t√x) (all entire in x). Returns (n, tail)."""
    t = float(t_max)
    scale = max(1.0, t, np.sqrt(b))  # |sin(u)/u| ≤ cosh Im u, |√z| ≤ … bounded below

    rhos = 1.0 + np.geomspace(1e-6, 20.0, 400)
    z = _ellipses(a, b, rhos)
    s = 1.01 * np.max(np.abs(np.sqrt(z).imag), axis=1)
    zmax = np.max(np.abs(z), axis=1)
    lm = np.log(np.maximum(scale, np.sqrt(zmax))) + t * s + np.log1p(np.exp(-2 * t * s))
    return _tail_degree(lm, tol, rhos)


def correlation_degree(a: float, b: float, temperature: float, tol: float) -> tuple[int, float]:
    """Degree n with Chebyshev tails ≤ tol on [a, b] (0 < a) of the stationary-state functions
    g(x) = ν(√x)/√x and x·g(x) (singular at x ≤ 0, so ρ stays below the ellipse through 0)."""
    al, be = 0.5 * (a + b), 0.5 * (b - a)
    if be <= 0:
        return 0, 0.0
    rmax = al / be + np.sqrt((al / be) ** 2 - 1.0)

    rhos = 1.0 + (rmax - 1.0) * np.linspace(0.02, 0.98, 200)
    z = _ellipses(a, b, rhos)
    w = np.sqrt(z)
    nu = 0.5 if temperature <= 0 else 0.5 / np.tanh(w / (2 * temperature))
    vals = np.abs(nu / w) * np.maximum(1.0, np.abs(z))
    return _tail_degree(np.log(1.01 * np.max(vals, axis=1)), tol, rhos)


def spectrum_bounds(network: Network) -> tuple[float, float]:
    """[a, b] ⊇ spectrum of V for a fixed-end homogeneous chain with probes: a from the Schur
    complement V_S − μ − B(V_E − μ)⁻¹Bᵀ with the chain's closed-form Green's function (V − μ > 0
    iff it is positive definite, μ below the band), b from Gershgorin's theorem [frequency²]."""
    env = network.environment
    om2, g, m = env.omega0**2, env.g, env.sites
    vs = network.probes.potential()
    sites = network.plugged_sites()
    b_full = network.coupling_block()
    bs = b_full[:, [s - 1 for s in sites]] if sites else np.zeros((vs.shape[0], 0))

    def green(mu):
        # (V_E − μ)⁻¹ at the plugged sites, μ < Ω0², fixed ends, sites 1..M
        kappa = float(arccosh1p((om2 - mu) / (2 * g))) if g > 0 else np.inf
        out = np.zeros((len(sites), len(sites)))
        for i, si in enumerate(sites):
            for j, sj in enumerate(sites):
                lo_, hi_ = min(si, sj), max(si, sj)
                if g == 0:
                    out[i, j] = (si == sj) / (om2 - mu)
                    continue
                num = -np.expm1(-2 * lo_ * kappa) * -np.expm1(-2 * (m + 1 - hi_) * kappa)
                den = -np.expm1(-2 * kappa) * -np.expm1(-2 * (m + 1) * kappa)
                out[i, j] = np.exp((lo_ - hi_ - 1) * kappa) * num / (den * g)
        return out

    def positive(mu):
        s = vs - mu * np.eye(vs.shape[0]) - bs @ green(mu) @ bs.T
        return float(np.linalg.eigvalsh(s)[0]) > 0

    top = om2 * (1 - 1e-12)
    if positive(top):
        a = top
    else:
        lo = min(float(np.linalg.eigvalsh(vs)[0]), om2) - float(np.linalg.norm(b_full, 2)) - 1e-12
        hi = top
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if positive(mid) else (lo, mid)
        a = lo - 1e-10 * max(1.0, abs(lo))  # margin for the roundoff of the Schur test
    row_env = om2 + 4 * g + np.abs(b_full).sum(axis=0).max(initial=0.0)
    row_pr = (np.abs(vs).sum(axis=1) + np.abs(b_full).sum(axis=1)).max()
    return float(a), float(max(row_env, row_pr))


@dataclass(frozen=True)
class Window:
    """Sites lo..hi (1-based, inclusive) of the original chain to keep (a fixed-end chain of
    hi − lo + 1 sites) and the bound on the error the cut adds to any moment up to ``t_max``."""

    lo: int
    hi: int
    t_max: float
    bound: float
    hops: int  # required distance d from the plugged/observed sites to a removed site
    velocity: float  # v_max of the chain [sites per unit time]

    @property
    def sites(self) -> int:
        return self.hi - self.lo + 1


def window(network: Network, t_max: float, *, sites=(), tol: float = CUT_TOL,
           probe_cov=None, temperature: float = 0.0, mean=None) -> Window | None:
    """The smallest window of a fixed-end homogeneous chain that reproduces every moment of the
    probes (and of the 1-based ``sites`` observed) up to ``t_max`` within ``tol`` (module
    docstring), or None when it would keep more than 80% of the chain (or the chain is not a
    fixed-end homogeneous chain)."""
    env = network.environment
    if not (env.homogeneous_chain and env.boundary == "fixed"):
        return None
    t_max = float(t_max)
    if not np.isfinite(t_max) or t_max < 0:
        raise HarmosyncError(f"t_max must be a finite time ≥ 0, got {t_max}")
    # Cheap exit: the window reaches at least v_max·t_max sites beyond the plugged ones (the
    # Chebyshev degree below always exceeds the light-cone distance), so if that alone keeps
    # most of the chain there is nothing to cut and no reason to compute the degrees.
    keep = sorted(set(network.plugged_sites()) | {int(s) for s in sites})
    reach = int(max_group_velocity(env.omega0, env.g) * t_max)
    if min(env.sites, keep[-1] + reach) - max(1, keep[0] - reach) + 1 > USEFUL_FRACTION * env.sites:
        return None
    a_e, b_e = env.omega0**2, env.omega0**2 + 4 * env.g
    # Ω0 → 0 (Ω0 = 0: an acoustic chain): a ground state whose correlations (x^(-1/2) on
    # [a, b]) no Chebyshev degree can capture, or λ_min within the bisection's margin of 0;
    # keep the chain (exact, just slower)
    if a_e <= GAPLESS * b_e:
        return None
    a, b = spectrum_bounds(network)
    if a <= GAPLESS * b:
        return None
    f_norm = max(1.0, 1.0 / np.sqrt(a), np.sqrt(b))
    pc = np.zeros((2, 2)) if probe_cov is None else np.asarray(probe_cov, float)
    gx = float(thermal_factor(np.sqrt(a_e), temperature) / np.sqrt(a_e))
    gp = float(thermal_factor(np.sqrt(b_e), temperature) * np.sqrt(b_e))
    s_norm = max(float(np.linalg.eigvalsh(pc)[-1]) if pc.size else 0.0, gx, gp)
    r0 = 0.0 if mean is None else float(np.abs(mean).sum())
    # split the budget: propagation tail and correlation tail
    e_prop_target = tol / (4 * (16 * s_norm * f_norm + 4 * r0 + 1.0))
    e_corr_target = tol / (4 * 8 * f_norm**2)
    n_prop, e_prop = propagation_degree(t_max, a, b, e_prop_target)
    n_corr, e_corr = correlation_degree(a_e, b_e, temperature, e_corr_target)
    f_norm += e_prop
    bound = max(8 * (2 * e_prop * s_norm * f_norm + e_corr * f_norm**2), 4 * e_prop * r0)
    hops = n_prop + (n_corr + 1) // 2 + 1
    m = env.sites
    lo, hi = max(1, keep[0] - hops), min(m, keep[-1] + hops)
    if hi - lo + 1 > USEFUL_FRACTION * m:
        return None
    return Window(lo, hi, t_max, float(bound), int(hops), max_group_velocity(env.omega0, env.g))
