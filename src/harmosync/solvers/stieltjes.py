"""Pole representations of the stationary position variance g(x) = ν(√x)/√x on [a, b].

A normal mode of squared frequency x in its thermal state at temperature T has
⟨X²⟩ = g(x) = ν(√x)/√x and ⟨P²⟩ = x·g(x), with ν(ω) = ½ coth(ω/2T) (ħ = k_B = 1; ν = ½ at
T = 0). g is a Stieltjes function, a positive combination of 1/(x + ζ), ζ ≥ 0:

* T = 0:  ½ x^{-1/2} = (1/π) ∫_{−∞}^{∞} e^v / (x + e^{2v}) dv, discretized by the trapezoid rule
  (error ≈ 2 e^{−π²/h} relative, plus the truncated tails);
* T > 0:  g(x) = T Σ_{n∈ℤ} 1/(x + (2πnT)²) (Matsubara). The terms n ≤ n_c are kept exactly; the
  rest is the integral (1/π) ∫_{u_c}^∞ du/(x + u²), u_c = 2πT(n_c + ½) (Gauss–Legendre in
  y = u_c/u), plus its first Euler–Maclaurin (midpoint) correction −(h²/24)·2u_c/(π(x + u_c²)²),
  h = 2πT, written as a central difference of two simple poles.

The result r(x) = c + Σ_q ω_q/(x + ζ_q) is checked a posteriori on 4001 Chebyshev points of
[a, b] and, where b > 100a, 1001 geometric ones (the region near a, where √x·g ~ T/√x is
largest; in long double, where double's rounding of g would swamp the rule's error);
``error`` = max √x |g(x) − r(x)| there (tests/test_review_s9b.py: 40 digits), the quantity that
bounds the low-rank error (see :mod:`.lowrank`). Units: x in frequency², g in 1/frequency.

The kernels 1/(x + ζ_q) of a rule, evaluated at a network's squared mode frequencies, are
compressed to a few skeleton kernels by an interpolative decomposition (:func:`kernel_basis`,
its error at the actual spectrum :func:`kernel_errors`).
"""

from __future__ import annotations

from dataclasses import dataclass

from functools import lru_cache

import numpy as np
import scipy.linalg as sla

#: target relative accuracy of the representation
EPS = 2e-16


@dataclass(frozen=True)
class PoleRule:
    """r(x) = constant + Σ_q weights[q]/(x + poles[q]) ≈ g(x) on [a, b]."""

    poles: np.ndarray
    weights: np.ndarray
    constant: float
    interval: tuple[float, float]
    temperature: float
    error: float  # max over [a, b] of √x |g(x) − r(x)| (sampled: 4001 Chebyshev points, 1001 geometric)

    def __call__(self, x) -> np.ndarray:
        x = _working(x)
        flat = x.ravel()
        out = np.empty(flat.size, x.dtype)
        weights, poles = self.weights.astype(x.dtype), self.poles.astype(x.dtype)
        step = max(1, 2**20 // max(self.poles.size, 1))  # O(1M) numbers at a time
        for start in range(0, flat.size, step):
            out[start:start + step] = (weights / (flat[start:start + step, None] + poles)).sum(axis=-1)
        return x.dtype.type(self.constant) + out.reshape(x.shape)


def _working(x) -> np.ndarray:
    """``x`` as an array of doubles, or of long doubles if given so (a check in extended precision)."""
    x = np.asarray(x)
    return x if x.dtype == np.longdouble else x.astype(float)


def variance_function(x, temperature: float) -> np.ndarray:
    """g(x) = ν(√x)/√x with ν = ½ coth(√x/2T): the position variance of a mode of squared
    frequency x at temperature T [1/frequency]; in long double if ``x`` is."""
    w = np.sqrt(_working(x))
    if temperature <= 0:
        return 0.5 / w
    with np.errstate(over="ignore"):  # w/T beyond the float range is T = 0 (the term → 0)
        y = w / temperature
    # ½ coth(y/2) = ½ + 1/(e^y − 1), written to avoid overflow at small T
    return (0.5 + np.exp(-y) / -np.expm1(-y)) / w


def _trapezoid_rule(a: float, b: float, eps: float):
    # ½ x^{-1/2} = (1/π) ∫ e^v / (x + e^{2v}) dv over v ∈ ℝ
    h = np.pi**2 / np.log(8.0 / eps)
    v_lo = np.log(eps * np.pi * np.sqrt(a) / 16.0)
    v_hi = np.log(16.0 * np.sqrt(b) / (eps * np.pi))
    # nodes j·h with integer j: no rounding drift where the integrand matters (|v| ≲ 2)
    v = h * np.arange(np.floor(v_lo / h), np.ceil(v_hi / h) + 1)
    return np.exp(2 * v), (h / np.pi) * np.exp(v)


#: Matsubara poles taken one by one at most; beyond, the tail integral starts lower (in panels)
MATSUBARA_MAX = 20000


def _tail_panels(y_lo: float):
    """Gauss–Legendre nodes and weights (16 a panel) on (0, 1] for the tail integral in
    y = u_c/u, whose integrand u_c/(π(x y² + u_c²)) has its poles at ±i·u_c/√x: one panel on
    [0, y_lo] (x y² ≤ u_c²/10⁴ there for x ≤ b, so it is smooth) and panels doubling from y_lo to
    1, each at most its own width from the pole nearest it (Bernstein ellipse ρ ≳ 4: 1e-20)."""
    g, wg = np.polynomial.legendre.leggauss(16)
    edges = np.unique(np.minimum(np.concatenate([[0.0], y_lo * 2.0 ** np.arange(64)]), 1.0))
    lo, hi = edges[:-1, None], edges[1:, None]
    return (lo + 0.5 * (hi - lo) * (g + 1)).ravel(), (0.5 * (hi - lo) * wg).ravel()


def _matsubara_rule(a: float, b: float, temperature: float, eps: float):
    h = 2 * np.pi * temperature
    # remaining E–M term ~ (7h⁴/5760)|f'''(u_c)| ≈ 7h⁴·24/(5760 π u_c⁵) must stay below eps·g(b)
    gb = float(variance_function(b, temperature))
    uc_em = (7 * h**4 * 24 / (5760 * np.pi * eps * gb)) ** 0.2
    nc = int(np.ceil(max(uc_em, 10 * np.sqrt(b)) / h - 0.5))
    if nc <= MATSUBARA_MAX:  # the tail in one Gauss–Legendre panel, smooth for x ≤ b ≤ u_c²/100
        y, wy = np.polynomial.legendre.leggauss(32)
        y, wy = 0.5 * (y + 1), 0.5 * wy
    else:  # b ≫ T² (stiff bonds, low T): u_c from the E–M term alone, the tail in panels; that
        # term relative to g(x) ≥ ½/u_c (x ≤ u_c², beyond it falls faster than g) asks for less
        uc_rel = h * (7 * 48 / (5760 * np.pi * eps)) ** 0.25
        nc = max(int(np.ceil(min(uc_em, uc_rel) / h - 0.5)), 1)
        y, wy = _tail_panels(min(1.0, (nc + 0.5) * h / (100 * np.sqrt(b))))
    uc = (nc + 0.5) * h
    n = np.arange(1, nc + 1)
    poles = [np.array([0.0]), (h * n) ** 2]
    weights = [np.array([temperature]), np.full(nc, 2 * temperature)]
    # tail integral, y = u_c/u ∈ (0, 1]
    poles.append(uc**2 / y**2)
    weights.append(wy * uc / (np.pi * y**2))
    # midpoint rule: Σ h f(nh) = ∫ f + (h²/24) f'(u_c) + …, with f = 1/(π(x + u²)):
    # (h²/24) f'(u_c) = −(h² u_c/(12π)) / (x + u_c²)², a double pole
    zeta, delta = uc**2, 1e-3 * uc**2
    amp = -h**2 * uc / (12 * np.pi)
    poles.append(np.array([zeta - delta, zeta + delta]))
    weights.append(np.array([amp / (2 * delta), -amp / (2 * delta)]))
    return np.concatenate(poles), np.concatenate(weights)


def variance_rule(a: float, b: float, temperature: float = 0.0, *, eps: float = EPS) -> PoleRule:
    """A pole representation of g(x) = ν(√x)/√x valid on [a, b] (0 < a ≤ b) at temperature T.

    At T ≤ √a/38 the thermal correction x^{-1/2}/(e^{√x/T} − 1) is below 1e-16 of g on [a, b]
    and the T = 0 rule is used (the check below includes the difference).
    """
    a, b = float(a), float(b)
    if not (0 < a <= b and np.isfinite(b)):
        raise ValueError(f"need 0 < a <= b, got [{a}, {b}]")
    t = float(temperature)
    if t <= np.sqrt(a) / 38.0:
        poles, weights = _trapezoid_rule(a, b, eps)
    else:
        poles, weights = _matsubara_rule(a, b, t, eps)
    rule = PoleRule(poles, weights, 0.0, (a, b), t, np.inf)
    k = np.arange(4001)
    x = np.concatenate([[a, b], 0.5 * (a + b) + 0.5 * (b - a) * np.cos(np.pi * k / 4000)])
    x = np.where(x > 0, x, a)  # a < ε·b: the points next to a round to 0 (g(0) = ∞)
    err = float(np.max(np.sqrt(x) * np.abs(variance_function(x, t) - rule(x))))
    if b > 100 * a:  # a wide interval: the Chebyshev points leave (a, a + 1e-7·b) unseen
        # 1001 points of up to 26 decades step by ≤ 6% in x; at a smooth maximum the samples
        # miss it by the square of that (1.3e-4 of the maximum seen by review s10): + 1%
        err = max(err, 1.01 * _geometric_error(rule, a, b, t))
    return PoleRule(poles, weights, 0.0, (a, b), t, err)


def _geometric_error(rule: PoleRule, a: float, b: float, temperature: float) -> float:
    """max √x|g(x) − r(x)| on 1001 geometric points of [a, b], in long double: near a, √x·g ~
    T/√x is large and double's rounding of g and r (a few ulp of it) would swamp the rule's own
    error there (1e-18 against 1e-14 at a = 1e-6, T = 0.015)."""
    x = np.geomspace(a, b, 1001).astype(np.longdouble)
    return float(np.max(np.sqrt(x) * np.abs(variance_function(x, temperature) - rule(x))))


def rule_relative_error(rule: PoleRule, x, temperature: float) -> float:
    """ε_r = max |g(x) − r(x)|/g(x) over the points ``x`` (the eigenvalues of V and V_0), plus
    4ε for the roundoff of evaluating the difference."""
    x = np.asarray(x, float)
    g = variance_function(x, temperature)
    err = 0.0
    for start in range(0, x.size, 4096):
        sl = slice(start, start + 4096)
        r = rule.constant + (1.0 / (x[sl, None] + rule.poles)) @ rule.weights  # rule(x) by BLAS
        err = max(err, float(np.max(np.abs(g[sl] - r) / g[sl])))
    return err + 4 * np.finfo(float).eps


#: relative accuracy of the skeleton (interpolative) compression of the pole kernels
ID_TOL = 1e-15


def snap_interval(lo: float, hi: float) -> tuple[float, float]:
    """[lo, hi] widened to a 1% geometric grid, so that networks of a sweep share one basis."""
    step = np.log(1.01)
    return float(np.exp(step * np.floor(np.log(lo) / step))), float(np.exp(step * np.ceil(np.log(hi) / step)))


@lru_cache(maxsize=32)
def kernel_basis(lo: float, hi: float, temperature: float, *, tol: float = ID_TOL, grid: int = 400,
                 floor: float | None = None):
    """Pole rule for g on [lo, hi] and an interpolative decomposition of its kernels
    k_q(μ) = 1/(μ + ζ_q): skeleton indices ``skel`` and coefficients ``coef`` (1 + r, n_q) with
    k_q ≈ coef[0, q] + Σ_s coef[1 + s, q] k_{skel[s]} for μ in [floor, hi] (default floor = lo),
    picked on Chebyshev grids of [floor, hi] in μ and in log μ; the error at the actual spectrum
    is measured by :func:`kernel_errors`. The error is absolute, ~tol/(floor + ζ_q) at every μ
    (the kernels are normalised by their maximum): the soft modes below a floor are left to
    the caller (:func:`harmosync.solvers.lowrank.low_rank_delta` takes their kernels exactly)."""
    rule = variance_rule(lo, hi, temperature)
    poles = rule.poles
    lo = lo if floor is None else max(lo, float(floor))
    # Chebyshev points in μ and in log μ: the kernels of the smallest poles vary on the scale
    # of μ itself near lo, which a grid in μ alone does not resolve when hi/lo ≫ grid²
    c = np.cos(np.pi * (np.arange(grid) + 0.5) / grid)
    x = np.concatenate([0.5 * (lo + hi) + 0.5 * (hi - lo) * c, np.sqrt(lo * hi) * (hi / lo) ** (0.5 * c)])
    scale = lo + poles  # max of each kernel over [lo, hi] is 1/(lo + ζ)
    g = scale / (x[:, None] + poles)  # normalised kernels
    mean = g.mean(axis=0)
    g0 = g - mean  # the constant function is always part of the basis
    _, r, piv = sla.qr(g0, mode="economic", pivoting=True)
    d = np.abs(np.diag(r))
    # relative to d[0]; but on a narrow [floor, hi] (every mode soft but the probes') all kernels
    # are nearly constant, d[0] ≪ 1, and that test kept every pole (the rounding of g0 alone is
    # ~ε√m per column): there the test is against the kernels' own scale (1) and that noise
    cut = tol * d[0] if d.size and d[0] >= 1.0 else max(tol, 4 * np.finfo(float).eps * np.sqrt(x.size))
    rank = int(np.count_nonzero(d > cut)) if d.size and d[0] > 0 else 0
    # the interpolative decomposition proper, g0[:, piv] ≈ g0[:, piv[:rank]] [1, R11⁻¹R12]: its
    # coefficients stay O(1) (a least-squares fit on [1, g_skel] does not: the kernels of the
    # largest poles are nearly constant, and coefficients ~1e30 then cancel in the core)
    t = np.zeros((rank, poles.size))
    t[:, piv] = np.hstack([np.eye(rank), sla.solve_triangular(r[:rank, :rank], r[:rank, rank:])])
    order = np.argsort(piv[:rank])
    skel, t = piv[:rank][order], t[order]
    coef = np.vstack([mean - mean[skel] @ t, t])
    # undo the normalisation: k_q = g_q/scale_q, skeleton kernels k_s = g_s/scale_s
    coef = coef / scale[None, :]
    coef[1:] *= scale[skel][:, None]
    return rule, skel, coef


def kernel_errors(mu: np.ndarray, poles: np.ndarray, skel: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """η_q = max_k |1/(μ_k + ζ_q) − (skeleton expansion)| over the given eigenvalues."""
    eta = np.zeros(poles.size)
    kk = 1.0 / (mu[:, None] + poles[skel])
    for start in range(0, poles.size, 256):
        sl = slice(start, start + 256)
        approx = coef[0, sl][None, :] + kk @ coef[1:, sl]
        eta[sl] = np.max(np.abs(1.0 / (mu[:, None] + poles[sl]) - approx), axis=0)
    return eta
