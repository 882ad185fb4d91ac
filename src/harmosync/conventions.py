"""Physics conventions of harmosync, in one place (see ``docs/conventions.md``).

* Units: ħ = 1, k_B = 1, unit masses. Frequencies, times and couplings are in a unit the
  user picks; the paper's figures use ω1 = 1. Couplings multiplying products of positions
  (g, K, λ, A_jk) carry units of frequency squared.
* Phase-space ordering: interleaved, R = (x1, p1, x2, p2, ...). Internally the linear algebra
  uses the block ordering (x..., p...), which is also thewalrus's; ``to_block`` and
  ``to_interleaved`` convert.
* Covariance: σ_ab = ½⟨{ΔR_a, ΔR_b}⟩. The vacuum of an oscillator of frequency ω has
  ⟨x²⟩ = 1/(2ω), ⟨p²⟩ = ω/2; a physical state has σ + iΩ/2 ≥ 0.
* Oscillator numbering inside a network: probes first (0..P-1), then environment sites
  (P..P+M-1). Users see probes numbered 1..P and sites numbered 1..M.
"""

from __future__ import annotations

import numpy as np

HBAR = 1.0
#: Variance of each quadrature of the vacuum in scaled (x√ω, p/√ω) coordinates.
VACUUM_VARIANCE = 0.5 * HBAR

#: Recorded in every output file.
CONVENTIONS = {
    "units": "hbar = 1, k_B = 1, unit masses; frequencies in the user's unit (paper: omega1 = 1)",
    "ordering": "interleaved phase space (x1, p1, x2, p2, ...)",
    "covariance": "sigma_ab = 1/2 <{dR_a, dR_b}>; vacuum <x^2> = 1/(2 omega), <p^2> = omega/2",
    "chain_boundary_default": "fixed ends, X_0 = X_{M+1} = 0",
    "site_numbering": "sites 1..M, probes 1..P",
    "bond_convention": "(A_jk/2)(X_j - X_k)^2 per unordered bond; a chain has A_{j,j+1} = g",
    "interaction": "H_I = sum_i K_i x_i X_{site_i}",
    "sync_window": "forward window [t, t + window], trapezoid rule; NaN where it runs past the data",
    "entropy_unit": "nats",
    "log_negativity": "E_N = sum_k max(0, -ln(2 nu~_k))",
}


def symplectic_form(n: int, *, ordering: str = "interleaved") -> np.ndarray:
    """Symplectic form Ω of ``n`` modes, with [R_a, R_b] = i Ω_ab.

    Interleaved: Ω = ⊕ [[0, 1], [-1, 0]]; block: Ω = [[0, 1], [-1, 0]] ⊗ 1_n.
    """
    if ordering == "interleaved":
        return np.kron(np.eye(n), np.array([[0.0, 1.0], [-1.0, 0.0]]))
    if ordering == "block":
        return np.kron(np.array([[0.0, 1.0], [-1.0, 0.0]]), np.eye(n))
    raise ValueError(f"ordering must be 'interleaved' or 'block', got {ordering!r}")


def _perm_interleaved_to_block(n: int) -> np.ndarray:
    # block index a <- interleaved index perm[a]
    return np.concatenate([np.arange(0, 2 * n, 2), np.arange(1, 2 * n, 2)])


def to_block(a: np.ndarray) -> np.ndarray:
    """Reorder a phase-space vector (..., 2n) or matrix (..., 2n, 2n) from interleaved to block."""
    a = np.asarray(a)
    n = a.shape[-1] // 2
    perm = _perm_interleaved_to_block(n)
    if a.ndim >= 2 and a.shape[-2] == a.shape[-1]:
        return a[..., perm[:, None], perm[None, :]]
    return a[..., perm]


def to_interleaved(a: np.ndarray) -> np.ndarray:
    """Reorder a phase-space vector (..., 2n) or matrix (..., 2n, 2n) from block to interleaved."""
    a = np.asarray(a)
    n = a.shape[-1] // 2
    inv = np.argsort(_perm_interleaved_to_block(n))
    if a.ndim >= 2 and a.shape[-2] == a.shape[-1]:
        return a[..., inv[:, None], inv[None, :]]
    return a[..., inv]


def phase_space_labels(names: list[str] | None = None, n: int | None = None) -> list[str]:
    """Interleaved labels ``x1, p1, x2, p2, ...`` (or ``x<name>, p<name>``)."""
    if names is None:
        names = [str(i + 1) for i in range(n or 0)]
    out: list[str] = []
    for name in names:
        out += [f"x{name}", f"p{name}"]
    return out


def thermal_occupation(omega, temperature):
    """Bose occupation n̄ = 1/(e^{ω/T} − 1); 0 at T = 0. [ω, T in the same unit]"""
    omega = np.asarray(omega, dtype=float)
    if temperature <= 0:
        return np.zeros_like(omega)
    # ω/T beyond the float range (T ~ 1e-324) is T = 0: n̄ = e^{-x} underflows to 0 long before
    with np.errstate(over="ignore"):
        x = omega / temperature
    # e^{-x}/(1 − e^{-x}) cannot overflow; it underflows to 0 at very low T, which is exact enough
    return np.exp(-x) / -np.expm1(-x)


def thermal_factor(omega, temperature):
    """ν = n̄ + ½ = ½ coth(ω / 2T): the symplectic eigenvalue of a thermal mode."""
    return thermal_occupation(omega, temperature) + 0.5
