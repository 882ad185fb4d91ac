"""Characteristic times of a chain environment: group velocity, crosstalk τ_CT and revival τ_R.

The chain (paper Sec. III A, Eq. A8) has the dispersion ω(k)² = Ω0² + 4g sin²(k/2), k ∈ [0, π]
(k in rad/site, ω in the user's frequency unit), band ω ∈ [Ω0, √(Ω0² + 4g)]. A signal at
frequency ω travels at the group velocity

    v(ω) = dω/dk = g sin k / ω        [sites per unit time, i.e. sites·ω]

which vanishes at both band edges. Its maximum (the light-cone front of the lattice) is at
cos k* = (a − √(a² − 4g²)) / 2g with a = Ω0² + 2g, where ω*² = √(a² − 4g²) and
v_max = g sin k* / ω*.

Two velocities define two versions of every time (see ``docs/analysis.md``):

* carrier: distance / v(ω_i) at each probe's bare frequency ω_i (v_max for a frequency outside
  the band, which has no propagating carrier). This is when the bulk of a probe's signal
  arrives. τ_CT uses the faster of the two probes (the first arrival of either signal at the
  other probe); τ_R the earliest far-end echo among the probes.
* front: distance / v_max, the earliest any influence can arrive (the light cone; a precursor
  falls off faster than exponentially before it).

For the paper's Fig. 1 (M = 300, Ω0 = 0.4, g = 1.2, ω = 1, 1.1) both probes sit near the
frequency of maximal velocity (ω* = 0.944), so τ_R = 657.9 (carrier) and 656.7 (front),
against the paper's rough "τ_R ~ 2M/ω1 ≈ 600". The exact dynamics agrees: the M = 300 and
M = 900 solutions differ by 1e-4 at t = 633, 1e-3 at t = 643 and 1e-2 at t = 650 (the
precursor of the front), and C(t) with the forward window Δt = 20 breaks at t ≈ 640.

Distances, for a probe at site a (1..M), a second probe at site b, a chain of M sites:

* crosstalk: |a − b| (fixed, free ends), min(|a − b|, M − |a − b|) (periodic);
* revival (the probe's signal crosses the chain to the far end and back): fixed ends reflect
  at sites 0 and M + 1, so 2·max(a, M + 1 − a) (= 2M for an edge probe); free ends reflect at
  ½ and M + ½, so max(2a − 1, 2M + 1 − 2a); periodic: M (once around the ring);
* echo from the nearer end: 2·min(a, M + 1 − a) (fixed), min(2a − 1, 2M + 1 − 2a) (free).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .. import lightcone as lc
from ..errors import HarmosyncError
from ..network import Network


# ----------------------------------------------------------------------------------------------
# Dispersion of the homogeneous chain
# ----------------------------------------------------------------------------------------------
def band(omega0: float, g: float) -> tuple[float, float]:
    """The continuum band (Ω0, √(Ω0² + 4g)) of the chain [frequency]."""
    return float(omega0), float(math.sqrt(omega0**2 + 4 * g))


def dispersion(k, omega0: float, g: float):
    """ω(k) = √(Ω0² + 4g sin²(k/2)) [frequency], k in rad/site (Eq. A8 with k = πj/(M+1))."""
    return np.sqrt(omega0**2 + 4 * g * np.sin(np.asarray(k, dtype=float) / 2) ** 2)


def wavenumber(omega, omega0: float, g: float):
    """k(ω) ∈ [0, π] inverting the dispersion [rad/site]; NaN outside the band."""
    om = np.asarray(omega, dtype=float)
    s = (om**2 - omega0**2) / (4 * g) if g > 0 else np.full_like(om, np.nan)
    eps = 1e-12  # band edges computed from Ω0 and g carry roundoff
    inside = (s >= -eps) & (s <= 1 + eps)
    out = np.full_like(om, np.nan, dtype=float)
    out[inside] = 2 * np.arcsin(np.sqrt(np.clip(s[inside], 0.0, 1.0)))
    return out if out.ndim else float(out)


def group_velocity(omega, omega0: float, g: float):
    """v(ω) = dω/dk = g sin k(ω) / ω [sites·frequency]; NaN outside the band, 0 at its edges."""
    k = np.asarray(wavenumber(omega, omega0, g), dtype=float)
    om = np.asarray(omega, dtype=float)
    with np.errstate(invalid="ignore"):
        v = g * np.sin(k) / om
    return v if v.ndim else float(v)


def group_velocity_peak(omega0: float, g: float) -> tuple[float, float, float]:
    """(v_max, k*, ω*): the largest group velocity [sites·frequency] and where it is reached,
    k* [rad/site] and ω* [frequency] (``lightcone.max_group_velocity`` gives v_max alone).

    From d/dc [(1 − c²)/(a − 2gc)] = 0 with c = cos k, a = Ω0² + 2g:
    g c² − a c + g = 0, so c* = (a − √(a² − 4g²)) / 2g, ω*² = √(a² − 4g²). v_max from
    :func:`harmosync.lightcone.max_group_velocity`; k* = 2 asin √((1 − c*)/2) with
    1 − c* = 2Ω0² / (ω*² + Ω0²), both free of cancellation as Ω0 → 0.
    """
    if g <= 0:
        return 0.0, float("nan"), float(omega0)
    eps = float(omega0) ** 2
    root = math.sqrt(eps * (4 * g + eps))  # = √(a² − 4g²)
    one_minus_c = 2 * eps / (root + eps) if eps > 0 else 0.0
    k = 2 * math.asin(math.sqrt(min(1.0, one_minus_c / 2)))
    return lc.max_group_velocity(omega0, g), k, math.sqrt(root)


# ----------------------------------------------------------------------------------------------
# Path lengths on the chain
# ----------------------------------------------------------------------------------------------
def crosstalk_distance(a: int, b: int, sites: int, boundary: str = "fixed") -> int:
    """Sites a signal crosses from site a to site b [sites]."""
    d = abs(int(a) - int(b))
    return min(d, sites - d) if boundary == "periodic" else d


def revival_distance(a: int, sites: int, boundary: str = "fixed") -> float:
    """Round trip from site a to the far end of the chain and back [sites] (2M at an edge)."""
    m = int(sites)
    if boundary == "fixed":
        return 2.0 * max(a, m + 1 - a)
    if boundary == "free":
        return float(max(2 * a - 1, 2 * m + 1 - 2 * a))
    return float(m)


def echo_distance(a: int, sites: int, boundary: str = "fixed") -> float:
    """Round trip from site a to the nearer end and back [sites] (part of the local bath at
    an edge; a genuine echo for an interior probe)."""
    m = int(sites)
    if boundary == "fixed":
        return 2.0 * min(a, m + 1 - a)
    if boundary == "free":
        return float(min(2 * a - 1, 2 * m + 1 - 2 * a))
    return float(m)


# ----------------------------------------------------------------------------------------------
# The result
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CharacteristicTimes:
    """Group velocities and the crosstalk and revival times of probes on a chain.

    Times in [1/ω] (the inverse of the user's frequency unit), velocities in sites·ω, distances
    in sites. ``tau_crosstalk`` and ``tau_revival`` use the carrier velocity of each probe (the group
    velocity at its frequency ω_i; v_max if ω_i is outside the band): τ_CT = |m − n| / (the
    faster of the two carriers), the first arrival of either probe's signal at the other, for
    the pair given to :func:`characteristic_times` (None if they share a site or one is unplugged);
    τ_R = min over probes of (far-end round trip) / (its carrier). The ``*_front`` versions
    use v_max (the light-cone front: before it only a precursor arrives, ~1e-4 some 20 time units
    early for the paper's chain, falling off faster than exponentially). See the module docstring for the distances.
    """

    sites: int
    omega0: float
    g: float
    boundary: str
    band: tuple[float, float]  # (Ω0, √(Ω0² + 4g)) [ω]
    group_velocity_max: float  # v_max [sites·ω]
    frequency_max_velocity: float  # ω* where v = v_max [ω]
    probe_frequencies: tuple[float, ...]  # ω_i [ω]
    probe_sites: tuple[int, ...]  # the site of each probe (its first attachment), 1..M
    group_velocity: tuple[float, ...]  # v(ω_i), NaN outside the band [sites·ω]
    mode_frequencies: tuple[float, ...]  # eigenfrequencies of the probes' own H_S [ω]
    group_velocity_modes: tuple[float, ...]  # v at those [sites·ω]
    carrier_velocity: tuple[float, ...]  # v(ω_i), or v_max outside the band [sites·ω]
    crosstalk_distance: float | None  # |m − n| [sites]
    tau_crosstalk: float | None  # [1/ω]
    tau_crosstalk_front: float | None  # [1/ω]
    revival_distance: float  # shortest far-end round trip among the probes [sites]
    tau_revival: float  # [1/ω]
    tau_revival_front: float  # [1/ω]
    echo_distance: tuple[float, ...]  # near-end round trip of each probe [sites]
    tau_echo_front: tuple[float, ...]  # [1/ω]
    paper_tau_revival: float  # the paper's rough 2M/ω1 [1/ω]
    note: str

    def as_dict(self) -> dict[str, float]:
        """Flat {name: float} for file metadata (None → NaN, tuples → name_1, name_2, ...)."""
        out: dict[str, float] = {}
        for key, value in asdict(self).items():
            if isinstance(value, str):
                continue
            if isinstance(value, (tuple, list)):
                for i, v in enumerate(value, start=1):
                    out[f"{key}_{i}"] = float(v)
            else:
                out[key] = float("nan") if value is None else float(value)
        return out


def characteristic_times(network: Network, pair: tuple[int, int] = (1, 2)) -> CharacteristicTimes:
    """Group velocities, τ_CT and τ_R of ``network`` (its environment must be a chain); τ_CT
    between the probes ``pair`` (numbers from 1, as ``sync.probes``; ignored for one probe).

    An inhomogeneous chain (defects, disorder) is treated with its nominal Ω0 and g.
    Probe frequencies outside the band [Ω0, √(Ω0² + 4g)] have no propagating carrier (NaN
    velocity): their signal leaves only through the broadband front, so the carrier velocity
    falls back to v_max when no probe frequency is in the band.
    """
    env = network.environment
    if env.kind != "chain":
        raise HarmosyncError(
            f"characteristic times need a chain environment (dispersion ω² = Ω0² + 4g sin²(k/2)); "
            f"this network's environment is a {env.kind}"
        )
    m, om0, g, bnd = env.sites, float(env.omega0), float(env.g), env.boundary
    if g <= 0:
        raise HarmosyncError(f"characteristic times need a chain coupling g > 0, got g = {g:g} (nothing propagates)")
    vmax, _, wstar = group_velocity_peak(om0, g)
    freqs = tuple(float(f) for f in network.probes.frequencies)
    sites: list[int] = []
    for i in range(network.n_probes):
        att = [s for p, s, _ in network.probes.attachments if p == i]
        sites.append(att[0] if att else 0)
    v = tuple(float(x) for x in np.atleast_1d(group_velocity(np.array(freqs), om0, g)))
    modes = tuple(float(x) for x in np.sqrt(np.clip(np.linalg.eigvalsh(network.probes.potential()), 0, None)))
    vmodes = tuple(float(x) for x in np.atleast_1d(group_velocity(np.array(modes), om0, g)))
    # a probe frequency outside the band has no carrier: its signal leaves with the front only
    carrier = tuple(x if np.isfinite(x) and x > 0 else vmax for x in v)
    note = ("carrier velocity of each probe = group velocity at its frequency"
            if all(np.isfinite(x) and x > 0 for x in v) else
            "a probe frequency lies outside the chain band; its carrier velocity is the front velocity v_max")
    if not any(s > 0 for s in sites):
        raise HarmosyncError("characteristic times need at least one probe plugged into the chain")
    d_ct = tau_ct = tau_ct_front = None
    if len(sites) >= 2:
        a, b = (i - 1 for i in check_pair(pair, len(sites)))
        if sites[a] > 0 and sites[b] > 0 and sites[a] != sites[b]:
            d_ct = float(crosstalk_distance(sites[a], sites[b], m, bnd))
            # crosstalk starts when the first of the two signals arrives
            tau_ct, tau_ct_front = d_ct / max(carrier[a], carrier[b]), d_ct / vmax
    plugged = [i for i, s in enumerate(sites) if s > 0]
    d_rev = {i: revival_distance(sites[i], m, bnd) for i in plugged}
    tau_rev = min(d_rev[i] / carrier[i] for i in plugged)
    echo = tuple(echo_distance(sites[i], m, bnd) for i in plugged)
    return CharacteristicTimes(
        sites=m, omega0=om0, g=g, boundary=bnd, band=band(om0, g),
        group_velocity_max=vmax, frequency_max_velocity=wstar,
        probe_frequencies=freqs, probe_sites=tuple(sites), group_velocity=v,
        mode_frequencies=modes, group_velocity_modes=vmodes, carrier_velocity=carrier,
        crosstalk_distance=d_ct, tau_crosstalk=tau_ct, tau_crosstalk_front=tau_ct_front,
        revival_distance=min(d_rev.values()), tau_revival=tau_rev,
        tau_revival_front=min(d_rev.values()) / vmax,
        echo_distance=echo, tau_echo_front=tuple(e / vmax for e in echo),
        paper_tau_revival=2.0 * m / freqs[0], note=note,
    )


def check_pair(pair, n_probes: int) -> tuple[int, int]:
    """``pair`` as two different probe numbers in 1..P, or a one-line error."""
    try:
        a, b = (int(x) for x in pair)
    except (TypeError, ValueError):
        raise HarmosyncError(f"the probe pair must be two probe numbers, got {pair!r}") from None
    if a == b or not (1 <= a <= n_probes and 1 <= b <= n_probes):
        raise HarmosyncError(f"the probe pair {[a, b]} (sync.probes) must be two different probes in 1..{n_probes}")
    return a, b
