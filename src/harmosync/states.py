"""Gaussian initial states: probes (coherent, squeezed, thermal, any valid Gaussian) and the
environment (ground or thermal state of H_E alone, uncorrelated with the probes).

Covariances follow ``conventions``: σ_ab = ½⟨{ΔR_a, ΔR_b}⟩, interleaved (x1, p1, x2, p2, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .conventions import symplectic_form, thermal_factor
from .errors import HarmosyncError, UnphysicalStateError

#: Largest accepted squeezing parameter: e^{2r} stays far from float overflow and the
#: anti-squeezed variance stays representable with 1e-10 accuracy in the smaller one.
MAX_SQUEEZING = 8.0


@dataclass(frozen=True, eq=False)
class GaussianState:
    """Mean (2n,) and covariance (2n, 2n), interleaved; validated physical on creation."""

    mean: np.ndarray
    cov: np.ndarray

    def __post_init__(self):
        mean = np.asarray(self.mean, dtype=float)
        cov = np.asarray(self.cov, dtype=float)
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "cov", cov)
        check_covariance(cov, mean=mean)

    @property
    def modes(self) -> int:
        return self.mean.size // 2


def check_covariance(cov, *, mean=None, name: str = "covariance", tol: float = 1e-10) -> None:
    """Refuse a covariance that is not square (2n×2n), finite, symmetric or physical
    (σ + iΩ/2 ≥ 0 within ``tol`` × scale)."""
    cov = np.asarray(cov)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or cov.shape[0] % 2:
        raise UnphysicalStateError(f"{name} must be a square 2n×2n matrix, got shape {cov.shape}")
    if mean is not None and np.shape(mean) != (cov.shape[0],):
        raise UnphysicalStateError(
            f"mean must have {cov.shape[0]} entries to match the {name}, got shape {np.shape(mean)}"
        )
    if not np.all(np.isfinite(cov)) or (mean is not None and not np.all(np.isfinite(mean))):
        raise UnphysicalStateError(f"{name} and mean must be finite")
    scale = max(1.0, float(np.abs(cov).max()))
    if np.abs(cov - cov.T).max() > tol * scale:
        raise UnphysicalStateError(f"{name} must be symmetric (max |σ − σᵀ| = {np.abs(cov - cov.T).max():.3g})")
    n = cov.shape[0] // 2
    lam = np.linalg.eigvalsh(cov + 0.5j * symplectic_form(n))[0]
    if lam < -tol * scale:
        raise UnphysicalStateError(
            f"{name} violates the uncertainty principle σ + iΩ/2 ≥ 0 (smallest eigenvalue {lam:.3g}); "
            "check that variances are at least ħ/2-limited, e.g. ⟨x²⟩⟨p²⟩ ≥ 1/4"
        )


def vacuum(omega: float) -> GaussianState:
    """Ground state of x²ω²/2 + p²/2: ⟨x²⟩ = 1/(2ω), ⟨p²⟩ = ω/2."""
    return coherent(omega)


def coherent(omega: float, x: float = 0.0, p: float = 0.0) -> GaussianState:
    """The vacuum of the bare probe oscillator of frequency ω displaced to (x, p)
    [x in ω⁻¹ᐟ², p in ω¹ᐟ² of the user's unit]."""
    return squeezed(omega, 0.0, 0.0, x=x, p=p)


def squeezed(omega: float, r: float, angle: float = 0.0, *, x: float = 0.0, p: float = 0.0) -> GaussianState:
    """Squeezed (displaced) vacuum S(ξ)|0⟩, ξ = r e^{iφ}, of an oscillator of frequency ω.

    In scaled quadratures (x√ω, p/√ω) the covariance is
    ½ [[cosh 2r − sinh 2r cos φ, −sinh 2r sin φ], [−sinh 2r sin φ, cosh 2r + sinh 2r cos φ]],
    so φ = 0 squeezes x: ⟨x²⟩ = e^{−2r}/(2ω), ⟨p²⟩ = ω e^{2r}/2; φ = π squeezes p.
    """
    omega = _positive("frequency", omega)
    r = float(r)
    if not np.isfinite(r) or r < 0:
        raise HarmosyncError(f"squeezing r must be a finite number ≥ 0, got {r}")
    if r > MAX_SQUEEZING:
        raise HarmosyncError(
            f"squeezing r = {r!r} is too large (variances e^(±2r) would lose all precision); use r ≤ {MAX_SQUEEZING:g}"
        )
    angle = float(angle)
    if not np.isfinite(angle):
        raise HarmosyncError(f"squeezing angle must be finite, got {angle}")
    ch, sh = np.cosh(2 * r), np.sinh(2 * r)
    s = 0.5 * np.array([[ch - sh * np.cos(angle), -sh * np.sin(angle)],
                        [-sh * np.sin(angle), ch + sh * np.cos(angle)]])
    d = np.diag([1 / np.sqrt(omega), np.sqrt(omega)])
    return GaussianState(np.array([float(x), float(p)]), d @ s @ d)


def thermal(omega: float, temperature: float, *, x: float = 0.0, p: float = 0.0) -> GaussianState:
    """Thermal state, n̄ = 1/(e^{ω/T} − 1): ⟨x²⟩ = (n̄ + ½)/ω, ⟨p²⟩ = (n̄ + ½)ω."""
    omega = _positive("frequency", omega)
    t = float(temperature)
    if not np.isfinite(t) or t < 0:
        raise HarmosyncError(f"temperature must be a finite number ≥ 0, got {temperature}")
    nu = float(thermal_factor(omega, t))
    return GaussianState(np.array([float(x), float(p)]), np.diag([nu / omega, nu * omega]))


def product(*states: GaussianState) -> GaussianState:
    """Tensor product: means concatenated, covariances block-diagonal (interleaved order)."""
    mean = np.concatenate([s.mean for s in states])
    n = mean.size
    cov = np.zeros((n, n))
    i = 0
    for s in states:
        k = s.mean.size
        cov[i:i + k, i:i + k] = s.cov
        i += k
    return GaussianState(mean, cov)


def two_mode_squeezed(r: float, omegas=(1.0, 1.0)) -> GaussianState:
    """Two-mode squeezed vacuum of two oscillators (scaled quadratures):
    σ = ½[[cosh 2r·1, sinh 2r·Z], [sinh 2r·Z, cosh 2r·1]], Z = diag(1, −1); E_N = 2r."""
    ch, sh = np.cosh(2 * r), np.sinh(2 * r)
    z = np.diag([1.0, -1.0])
    s = 0.5 * np.block([[ch * np.eye(2), sh * z], [sh * z, ch * np.eye(2)]])
    d = np.diag([omegas[0] ** -0.5, omegas[0] ** 0.5, omegas[1] ** -0.5, omegas[1] ** 0.5])
    return GaussianState(np.zeros(4), d @ s @ d)


def _positive(name, v) -> float:
    v = float(v)
    if not np.isfinite(v) or v <= 0:
        raise HarmosyncError(f"{name} must be positive and finite, got {v}")
    return v


@dataclass(frozen=True, eq=False)
class InitialState:
    """Probes in ``probes`` (a Gaussian state of the P probes), the environment in the thermal
    state of H_E alone at ``environment_temperature`` (0: ground state, the paper), uncorrelated.

    The environment state is ⟨XXᵀ⟩ = ½ V_E^{−1/2} coth(V_E^{1/2}/2T), ⟨PPᵀ⟩ = ½ V_E^{1/2} coth(...):
    entangled across sites, not a product of local vacua.
    """

    probes: GaussianState
    environment_temperature: float = 0.0

    def __post_init__(self):
        t = float(self.environment_temperature)
        if not np.isfinite(t) or t < 0:
            raise HarmosyncError(f"environment temperature must be a finite number ≥ 0, got {t}")


def environment_covariance(frequencies: np.ndarray, modes: np.ndarray, temperature: float = 0.0):
    """(⟨XXᵀ⟩, ⟨PPᵀ⟩) of the thermal state of H_E with normal modes (Ω_k, W):
    W diag(ν_k/Ω_k) Wᵀ and W diag(ν_k Ω_k) Wᵀ with ν_k = ½ coth(Ω_k/2T)."""
    nu = thermal_factor(frequencies, temperature)
    return (modes * (nu / frequencies)) @ modes.T, (modes * (nu * frequencies)) @ modes.T
