"""Rayleigh's condition for synchronization (paper Sec. III, Eqs. 6, 7, 9) for two probes.

Markov (weak-coupling) damping. For one normal mode q of frequency Ω coupled through c_j to
bath modes Ω_j, the mean of Eq. (A11) has the characteristic equation
s² + Ω² − Σ_j c_j² / (s² + Ω_j²) = 0 (the −γ(0) shift cancels the static part of the memory
term). To first order in c², with s = −iΩ + δ and retarded boundary conditions,

    Re δ = −(π / 4Ω²) Σ_j c_j² δ(Ω − Ω_j) = −G/2,
    G = Re ∫_0^∞ γ(t) e^{iΩt} dt = (π/2) Σ_j c_j²/Ω_j² δ(Ω − Ω_j) = J(Ω)/Ω,

with J the spectral density of ``analysis/langevin.py``. So G is the damping rate in
⟨q̈⟩ + G⟨q̇⟩ + Ω²⟨q⟩ = 0 (Eq. 6): the AMPLITUDE of ⟨q⟩ decays as e^{−Gt/2}, the energy as
e^{−Gt}. For two probes the matrix G′_ss′ = J′_ss′(Ω)/Ω with J′ = R J Rᵀ in the probes' normal
modes (G′ = M⁻¹ G M of the paper); G′_ss is taken at Ω_s and the off-diagonal G′_12 (dropped by
Rayleigh's approximation) is reported at both frequencies.

Spectral density of a finite chain. The discrete spectrum of a finite chain is a comb of δs;
during the transient before the revival the probes see its continuum limit. harmosync writes
that limit in closed form by images (``langevin.chain_paths``): each propagation path between
two attachment sites of length L contributes s_p cos(kL) / (2g sin k). A path's echo is a
*damping* (Markov) effect only if it returns before the probes have lost much amplitude;
later echoes are revivals or crosstalk, not damping. So ``analyze`` keeps the paths with
delay L / v_max ≤ ``horizon`` and, by default,

    horizon = min(max(HORIZON_FRACTION · 2/G_bulk, 2π/Ω_1), τ_R_front)

(strictly below the revival path), with G_bulk the infinite-chain rate K²/(2gΩ sin k) of the
most damped probe mode: an echo that returns within one probe period, or before the amplitude
has decayed by ~10%, is part of the bath. This gives the
semi-infinite (M → ∞) edge density J = K² sin k / g for probes at an edge (Fig. 1, 2, the two
edges of Fig. 3 seen independently, as the paper says), the bulk density for a probe deep in
the chain, and the common-bath cross term cos(k|m − n|) for nearby probes (Fig. 6, small m).

Beyond Markov. The same closed form continues the chain's Green function to complex
frequency (``langevin.continuum_self_energy``), so the exact M → ∞ complex frequencies of the
probes solve det[V_S − z + Σ(z)] = 0 (Lamb shift and damping to all orders in K; found by
continuation from K = 0). The relative difference between G′_ss and the exact rate is the
``markov_error`` that says how the approximation degrades as K grows.

Localized modes (normal modes outside the band, which keep the probes oscillating at strong
coupling) are in ``analysis/localized.py``; ``analysis/summary.py`` puts everything together.

The prediction is data: a :class:`Verdict` from a fixed set and the :class:`Reason` that decided
it, with the numbers behind it; ``harmosync analyze`` turns them into sentences.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from enum import StrEnum

import numpy as np

from ..errors import HarmosyncError
from ..network import Network
from . import langevin as lg
from .times import CharacteristicTimes, characteristic_times, group_velocity_peak

#: Default horizon: an echo counts as damping if it returns within this fraction of the
#: amplitude decay time 2/G of the most damped probe mode (≈ 10% amplitude loss).
HORIZON_FRACTION = 0.1
#: A synchronization "has happened" when the damped mode's amplitude relative to the
#: surviving one has fallen by this factor (C ≈ ±(1 − O(ratio²)) then).
SYNC_RATIO = 10.0
#: Rayleigh's approximation needs the cross damping small against the mode splitting.
CROSS_DAMPING_LIMIT = 0.5
#: ... and a splitting below this fraction of the cross damping is a degeneracy: the damping's
#: eigenvectors are the modes (to O(split/G)), continuously with identical probes.
DEGENERATE_SPLIT = 1e-3
#: Above this relative error of the Markov rates (against the exact poles) no prediction is made.
MARKOV_LIMIT = 0.3
#: Below this relative error the Markov rates are graded "good" (up to MARKOV_LIMIT "fair").
MARKOV_GOOD = 0.1
#: Rates below this fraction of the largest one (or of Ω_s) are dark modes in ``markov_error``.
RATE_FLOOR = 1e-6
#: A normal mode is "on one probe" (no sync pattern) when |R_s1 R_s2| is below this.
ONE_PROBE_LIMIT = 0.05


class Verdict(StrEnum):
    """What Rayleigh's condition predicts for two probes (a fixed set; compares equal to its value)."""

    SYNC = "sync"  # the surviving mode moves the probes in phase: C → +1
    ANTI_SYNC = "anti-sync"  # in anti-phase: C → −1
    NONE = "none"  # the analysis applies and predicts neither (before the deadline)
    NOT_APPLICABLE = "not-applicable"  # Rayleigh's two-probe Markov analysis does not apply


class Reason(StrEnum):
    """The condition that decided a :class:`Prediction`, checked in this order (after
    NOT_TWO_PROBES); the verdict each gives is in brackets."""

    NOT_TWO_PROBES = "not-two-probes"  # [not-applicable] Sec. III is a two-probe theory
    NO_GAP = "no-gap"  # [none] G′_11 = G′_22, or no damping at all
    ONE_PROBE_MODE = "one-probe-mode"  # [none] the surviving mode lives on one probe: |R_s1 R_s2| < ONE_PROBE_LIMIT
    GAP_TOO_SMALL = "gap-too-small"  # [none] time_to_sync ≥ deadline
    POLE_MERGED = "pole-merged"  # [not-applicable] no exact pole: a resonance merged with the band edge
    MARKOV_INACCURATE = "markov-inaccurate"  # [not-applicable] markov_error > MARKOV_LIMIT
    CROSS_DAMPING = "cross-damping"  # [not-applicable] max |G′_12| > CROSS_DAMPING_LIMIT · |Ω2 − Ω1|
    GAP = "gap"  # [sync or anti-sync] the gap damps one mode SYNC_RATIO× below the other in time


@dataclass(frozen=True)
class Prediction:
    """Rayleigh's prediction (Sec. III) as data.

    ``verdict`` and ``reason``: see :class:`Verdict`, :class:`Reason`. ``pattern``: what the
    surviving mode would impose (SYNC if its components on x1, x2 have the same sign, ANTI_SYNC
    if opposite, NONE if it lives on one probe or there is no gap). ``surviving_mode``: 1 or 2,
    the smaller G′_ss. ``time_to_sync`` [1/ω] = 2 ln(SYNC_RATIO)/gap, when the damped mode's
    amplitude has fallen SYNC_RATIO× below the survivor's. ``deadline`` [1/ω]: the time it must
    happen by, τ_R,front for a chain (``deadline_source`` "revival") or the Heisenberg time 2π/Δ
    of a discrete environment ("heisenberg"; inf if its modes are degenerate).
    """

    verdict: Verdict
    reason: Reason
    pattern: Verdict = Verdict.NONE
    surviving_mode: int | None = None
    time_to_sync: float = math.nan
    deadline: float = math.nan
    deadline_source: str = ""

    @property
    def expected(self) -> bool:
        """True when (anti-)synchronization is predicted."""
        return self.verdict in (Verdict.SYNC, Verdict.ANTI_SYNC)


@dataclass(frozen=True)
class RayleighAnalysis:
    """Result of :func:`analyze`. Rates G in [ω] (the damping in ⟨q̈⟩ + G⟨q̇⟩; the amplitude
    decays as e^{−Gt/2}), times in [1/ω], frequencies in [ω], θ in rad."""

    theta: float
    frequencies: tuple[float, float]  # Ω_1, Ω_2 (A7)
    damping_matrix: tuple[tuple[float, float], tuple[float, float]]  # G′ (normal modes)
    damping_matrix_x: tuple[tuple[float, float], tuple[float, float]]  # G = Rᵀ G′ R (Eq. 6, x basis)
    cross_damping: tuple[float, float]  # G′_12 at Ω_1 and at Ω_2
    damping_at_modes: tuple  # G′(Ω_1), G′(Ω_2): the full 2×2 matrix at each frequency
    gap: float  # |G′_11 − G′_22|
    relative_gap: float  # gap / max(G′_11, G′_22)
    tau_sync_eq7: float  # 1 / max |G′_ss|, Eq. (7)
    prediction: Prediction
    ohmic_ratio_eq9: float  # (1 + sin 2θ)/(1 − sin 2θ)
    ohmic_applicable: bool  # both probes at one site with equal strengths
    damping_ratio: float  # G′_11 / G′_22 from the spectral density
    horizon: float  # [1/ω] echoes with delay ≤ horizon count as damping
    paths_max_length: float  # [sites]
    spectral_model: str  # "continuum" or "smoothed discrete (Lorentzian)"
    exact_frequencies: tuple[float, float]  # Re ω of the exact M → ∞ poles (Lamb-shifted) [ω]
    exact_rates: tuple[float, float]  # −2 Im ω of the poles [ω] (same convention as G′)
    markov_error: float  # max_s |G′_ss − exact_s| / exact_s
    markov_grade: str  # "good" (< MARKOV_GOOD), "fair" (< MARKOV_LIMIT), "poor", or "unchecked"
    cross_damping_small: bool  # max |G′_12| ≤ CROSS_DAMPING_LIMIT · |Ω2 − Ω1|
    weak_coupling_parameter: float  # max_s G′_ss / Ω_s: the Markov error is of this order

    def as_dict(self) -> dict:
        """JSON-serialisable nested dict (NaN kept as float NaN, enums as their string values)."""
        d = asdict(self)
        d["prediction"] = {k: (v.value if isinstance(v, StrEnum) else v) for k, v in d["prediction"].items()}
        return d


# ----------------------------------------------------------------------------------------------
# Spectral density → damping at given frequencies
# ----------------------------------------------------------------------------------------------
def _site_damping(network: Network, omega: np.ndarray, model: str, max_length: float, width: float | None):
    """G_ij(ω) = J_ij(ω)/ω in the probe (site) basis, (len(ω), P, P) [ω]."""
    if model == "continuum":
        j = lg.continuum_spectral_density(network, omega, max_length=max_length)
    else:
        kern = lg.kernels(network, [0.0])
        j = lg.to_sites(kern.spectral_density(omega, width=width, shape="lorentzian"), kern.rotation)
    return j / np.asarray(omega)[:, None, None]


def model_horizon(network: Network, horizon: float | None = None) -> tuple[float, float]:
    """(horizon [1/ω], longest path kept [sites]) of the continuum spectral density.

    Default: an echo is part of the bath if it returns within one period 2π/Ω_1 of the slower
    probe mode (it cannot be resolved: e.g. the wall next to an edge probe) or before the most
    damped probe mode has lost ~10% of its amplitude (HORIZON_FRACTION · 2/G_bulk, with G_bulk
    the infinite-chain rate K²/(2gΩ sin k)); never the revival path itself.
    """
    lg.require_homogeneous_chain(network, "the continuum spectral density")
    times = characteristic_times(network)
    vmax = times.group_velocity_max
    if horizon is not None:
        h = float(horizon)
        if not np.isfinite(h) or h < 0:
            raise HarmosyncError(f"horizon must be a finite time ≥ 0 [1/ω], got {horizon!r}")
        return h, h * vmax
    _, om, _ = lg.system_rotation(network)
    bulk = _site_damping(network, om, "continuum", 0.0, None)
    g_bulk = float(np.max(np.abs(np.diagonal(bulk, axis1=1, axis2=2))))
    h = HORIZON_FRACTION * 2.0 / g_bulk if g_bulk > 0 else np.inf
    h = min(max(h, 2 * np.pi / om[0]), times.tau_revival_front)
    return h, min(h * vmax, times.revival_distance - 0.5)


def first_excluded_path(network: Network, max_length: float) -> float:
    """Length [sites] of the shortest propagation path between the probes' sites that the
    continuum model leaves out (its echo ends the model's validity); inf if none."""
    env = network.environment
    att = network.probes.attachments
    longest = max_length + 2 * (env.sites + 1)
    lengths = [length for _, sa, _ in att for _, sb, _ in att
               for length, _ in lg.chain_paths(sa, sb, env.sites, env.boundary, longest) if length > max_length]
    return float(min(lengths)) if lengths else float("inf")


# ----------------------------------------------------------------------------------------------
# Exact continuum poles
# ----------------------------------------------------------------------------------------------
def continuum_poles(network: Network, *, max_length: float, steps: int = 24) -> np.ndarray:
    """Complex frequencies ω_s (Re > 0; amplitude ∝ e^{Im ω t}) solving
    det[V_S − ω² + s² Σ(ω²)] = 0, followed by continuation in the coupling scale s from 0 (the
    bare Ω_s) to 1, halving the step where Newton's method fails. NaN where it still fails:
    at strong coupling a resonance can run into the band edge and turn into a bound state
    (then see ``localized_modes``). (Nearly) degenerate bare Ω_s (identical probes) can lead
    both continuations to the same pole; then they are redone together, pole s a root of the
    determinant deflated by the poles before it (:func:`_deflated_poles`)."""
    _, om, _ = lg.system_rotation(network)  # the bare Ω_s
    out = np.full(om.size, complex(np.nan, np.nan))
    for i, w0 in enumerate(om):
        z = _continue(network, max_length, [complex(w0 * w0) - 1e-12j], 1.0 / steps, steps)[0]
        if np.isfinite(z):
            w = np.sqrt(z)
            out[i] = w if w.real > 0 else -w
    fin = out[np.isfinite(out)]
    if np.any(np.abs(fin[:, None] - fin[None, :]) + np.eye(fin.size) <= 1e-6 * np.abs(fin)[None, :]):
        z = _continue(network, max_length, [complex(w0 * w0) - 1e-12j for w0 in om], 1.0 / steps, steps)
        w = np.sqrt(z)
        out = np.where(w.real > 0, w, -w)
    return out


def _continue(network: Network, max_length: float, starts: list, ds: float, steps: int) -> np.ndarray:
    """Roots z_s of det[V_S − z + s²Σ(z)] continued together from ``starts`` (s = 0) to s = 1,
    root i deflated by the roots before it (the same Newton steps as before for one root); NaN
    for a root whose step fell below 1e-4/steps (and for all when the first one did)."""
    vs = network.probes.potential()
    eye = np.eye(vs.shape[0])
    z = np.array(starts, dtype=complex)
    alive = np.ones(z.size, dtype=bool)
    scale, step = 0.0, ds
    while scale < 1.0 and alive.any():
        target = min(1.0, scale + step)
        new, ok, i = z.copy(), True, 0
        for i in np.flatnonzero(alive):
            before = new[:i][alive[:i]]

            def f(zz, sc=target, before=before):
                det = np.linalg.det(vs - zz * eye + sc * sc * lg.continuum_self_energy(network, zz, max_length=max_length))
                return det / np.prod(zz - before) if before.size else det

            new[i], ok = _newton(f, z[i])
            if not ok:
                break
        if ok:
            z, scale = new, target
        else:
            step /= 2
            if step <= 1e-4 / steps:  # give up on the root that failed, continue the others
                alive[i], step = False, ds
    return np.where(alive & (scale >= 1.0), z, complex(np.nan, np.nan))


def _newton(f, z0: complex, tol: float = 1e-13, maxiter: int = 60) -> tuple[complex, bool]:
    z = z0
    for _ in range(maxiter):
        h = 1e-7 * max(1.0, abs(z))
        fz = f(z)
        d = (f(z + h) - f(z - h)) / (2 * h)
        if d == 0 or not np.isfinite(d):
            return z, False
        step = fz / d
        z = z - step
        if abs(step) < tol * max(1.0, abs(z)):
            return z, True
    return z, False



# ----------------------------------------------------------------------------------------------
# The analysis
# ----------------------------------------------------------------------------------------------
def analyze(network: Network, *, horizon: float | None = None, poles: bool = True) -> RayleighAnalysis:
    """Rayleigh analysis of two probes (Sec. III): normal modes, damping matrix G′ (Markov,
    from the spectral density at the normal-mode frequencies), gap, τ_S (Eq. 7), the predicted
    sync / anti-sync (:class:`Prediction`), the Ohmic ratio (Eq. 9) and the exact continuum poles.

    ``horizon`` [1/ω]: echoes returning within it count as damping (module docstring); a
    homogeneous chain uses the closed-form continuum density, any other environment the
    discrete spectral density smoothed by a Lorentzian of width 1/horizon (default: two mean
    level spacings). ``poles=False`` skips the exact poles (then the Markov rates are unchecked).
    """
    if network.n_probes != 2:
        raise HarmosyncError(f"the Rayleigh analysis is for two probes; this network has {network.n_probes}")
    model, h, max_len, width, times = _spectral_model(network, horizon)
    r, om, theta, g_site = _normal_modes(network, model, max_len, width)
    g_modes = lg.to_modes(g_site, r)  # G′(Ω_w)
    g11, g22 = float(g_modes[0, 0, 0]), float(g_modes[1, 1, 1])
    cross = (float(g_modes[0, 0, 1]), float(g_modes[1, 0, 1]))
    gp = np.array([[g11, 0.5 * sum(cross)], [0.5 * sum(cross), g22]])
    gap = abs(g11 - g22)
    gmax = max(abs(g11), abs(g22))
    split = abs(om[1] - om[0])
    # no cross damping at all (to roundoff, e.g. in the damping's own basis) is small against any split
    cross_ok = max(abs(c) for c in cross) <= max(CROSS_DAMPING_LIMIT * split, 1e-12 * gmax)
    exact_w = exact_g = (float("nan"), float("nan"))
    err = float("nan")
    checked = poles and model == "continuum"
    if checked:
        pw = continuum_poles(network, max_length=max_len)
        markov_w = om - 0.5j * np.array([g11, g22])
        if np.nansum(np.abs(pw[::-1] - markov_w)) < np.nansum(np.abs(pw - markov_w)):
            pw = pw[::-1]  # (nearly) degenerate Ω_s: the continuation does not say which pole is whose
        exact_w = tuple(float(w.real) for w in pw)
        exact_g = tuple(float(-2 * w.imag) + 0.0 for w in pw)
        err = markov_error((g11, g22), exact_g, om)
    deadline, source = _deadline(network, times)
    merged = checked and not all(np.isfinite(exact_g))
    prediction = predict(r, (g11, g22), deadline, source, pole_merged=merged, markov_error=err, cross_ok=cross_ok)
    s2 = math.sin(2 * theta)
    att = network.probes.attachments
    return RayleighAnalysis(
        theta=float(theta), frequencies=(float(om[0]), float(om[1])),
        damping_matrix=_t2(gp), damping_matrix_x=_t2(lg.to_sites(gp, r)), cross_damping=cross,
        damping_at_modes=(_t2(g_modes[0]), _t2(g_modes[1])),
        gap=gap, relative_gap=gap / gmax if gmax > 0 else 0.0, tau_sync_eq7=1.0 / gmax if gmax > 0 else float("inf"),
        prediction=prediction, ohmic_ratio_eq9=(1 + s2) / (1 - s2) if s2 < 1 else float("inf"),
        ohmic_applicable=(len(att) == 2 and att[0][1] == att[1][1] and att[0][2] == att[1][2]),
        damping_ratio=g11 / g22 if abs(g22) > 1e-12 * abs(g11) else float("inf"), horizon=h, paths_max_length=max_len,
        spectral_model=model, exact_frequencies=exact_w, exact_rates=exact_g, markov_error=err,
        markov_grade=markov_grade(err), cross_damping_small=bool(cross_ok),
        weak_coupling_parameter=float(max(abs(g11) / om[0], abs(g22) / om[1])),
    )


def _normal_modes(network: Network, model: str, max_len: float, width: float | None):
    """(R, Ω_s, θ, G(Ω_s) in the site basis) of Rayleigh's analysis: the probes' normal modes
    (``langevin.system_rotation``), except where their splitting is below DEGENERATE_SPLIT of the
    cross damping (V_S ∝ 1: identical probes at λ = 0, or nearly): then the damping picks the
    modes (its eigenvectors, to O(split/G): degenerate perturbation theory), e.g. x1 ± x2 for two
    identical probes on one site."""
    r, om, theta = lg.system_rotation(network)
    g_site = _site_damping(network, om, "continuum" if model == "continuum" else "smoothed", max_len, width)
    if abs(om[1] - om[0]) <= DEGENERATE_SPLIT * abs(g_site[0, 0, 1]):
        theta = 0.5 * math.atan2(2 * g_site[0, 0, 1], g_site[0, 0, 0] - g_site[0, 1, 1])
        r = np.array([[math.cos(theta), math.sin(theta)], [-math.sin(theta), math.cos(theta)]])
    return r, om, theta, g_site


def _spectral_model(network: Network, horizon: float | None):
    """(model, horizon [1/ω], longest path [sites], Lorentzian width [ω] or None, times or None)."""
    env = network.environment
    if env.homogeneous_chain and env.g:
        h, max_len = model_horizon(network, horizon)
        return "continuum", h, max_len, None, characteristic_times(network)
    h = float("nan") if horizon is None else float(horizon)
    width = None if horizon is None else 1.0 / float(horizon)
    return "smoothed discrete (Lorentzian)", h, float("nan"), width, None


def _deadline(network: Network, times: CharacteristicTimes | None) -> tuple[float, str]:
    """When a predicted synchronization must have happened [1/ω]: a chain's revival τ_R,front;
    a discrete environment damps only until its levels are resolved, the Heisenberg time
    2π/Δ (Δ the mean spacing of its normal-mode frequencies)."""
    if times is not None:
        return times.tau_revival_front, "revival"
    w_env = network.environment.frequencies()
    spacing = (w_env[-1] - w_env[0]) / (w_env.size - 1) if w_env.size > 1 else float("inf")
    return (2 * math.pi / spacing if spacing > 0 else float("inf")), "heisenberg"


def predict(rotation: np.ndarray, damping: tuple[float, float], deadline: float, deadline_source: str = "", *,
            pole_merged: bool = False, markov_error: float = float("nan"), cross_ok: bool = True) -> Prediction:
    """Rayleigh's condition (Sec. III) from the diagonal damping (G′_11, G′_22) [ω] of the normal
    modes q = R x (``rotation`` R): the less damped mode survives, and its components on x1, x2
    decide sync (same sign) or anti-sync; it counts if the damped mode falls SYNC_RATIO× below it
    before ``deadline`` [1/ω] and the approximation holds (no merged pole, Markov error ≤
    MARKOV_LIMIT, cross damping small). The checks run in the order of :class:`Reason`."""
    g11, g22 = damping
    gap = abs(g11 - g22)
    surv = 1 if g11 < g22 else 2
    prod = rotation[surv - 1, 0] * rotation[surv - 1, 1]
    pattern = Verdict.NONE if abs(prod) < ONE_PROBE_LIMIT or gap == 0 else (Verdict.SYNC if prod > 0 else Verdict.ANTI_SYNC)
    t_sync = 2.0 * math.log(SYNC_RATIO) / gap if gap > 0 else float("inf")
    if gap == 0 or max(abs(g11), abs(g22)) == 0:
        verdict, reason = Verdict.NONE, Reason.NO_GAP
    elif pattern is Verdict.NONE:
        verdict, reason = Verdict.NONE, Reason.ONE_PROBE_MODE
    elif t_sync >= deadline:
        verdict, reason = Verdict.NONE, Reason.GAP_TOO_SMALL
    elif pole_merged:
        verdict, reason = Verdict.NOT_APPLICABLE, Reason.POLE_MERGED
    elif np.isfinite(markov_error) and markov_error > MARKOV_LIMIT:
        verdict, reason = Verdict.NOT_APPLICABLE, Reason.MARKOV_INACCURATE
    elif not cross_ok:
        verdict, reason = Verdict.NOT_APPLICABLE, Reason.CROSS_DAMPING
    else:
        verdict, reason = pattern, Reason.GAP
    return Prediction(verdict, reason, pattern, surv, t_sync, float(deadline), deadline_source)


def markov_error(markov, exact, frequencies) -> float:
    """max_s |G′_ss − G_s,exact| / G_s,exact over the poles found, NaN if none. A rate below
    RATE_FLOOR of the largest exact rate (or of Ω_s: no damping at all) is a dark mode whose
    exact rate is zero up to roundoff; it is compared on that floor's scale, not against its
    own roundoff (0 against 1e-18 is not a 100% error)."""
    ge_all = [ge for ge in exact if np.isfinite(ge)]
    if not ge_all:
        return float("nan")
    top = max(max(ge_all), 0.0)
    errs = [abs(gm - ge) / max(ge, RATE_FLOOR * max(top, w))
            for gm, ge, w in zip(markov, exact, frequencies) if np.isfinite(ge)]
    return float(max(errs))


def markov_grade(error: float) -> str:
    """"good" (< MARKOV_GOOD), "fair" (< MARKOV_LIMIT), "poor", or "unchecked" (NaN): how far the
    Markov rates G′_ss are from the exact continuum poles (relative error)."""
    if not np.isfinite(error):
        return "unchecked"
    return "good" if error < MARKOV_GOOD else ("fair" if error < MARKOV_LIMIT else "poor")


def _t2(a) -> tuple[tuple[float, float], tuple[float, float]]:
    return ((float(a[0, 0]), float(a[0, 1])), (float(a[1, 0]), float(a[1, 1])))

# ----------------------------------------------------------------------------------------------
# Check against the exact dynamics
# ----------------------------------------------------------------------------------------------
def measure_decay_rates(network: Network, *, window=(20.0, 600.0), method: str = "pencil",
                        horizon: float | None = None, step: float | None = None) -> np.ndarray:
    """Decay rates G_s [ω] of the two probe normal modes, fitted from the exact dynamics
    (amplitude ∝ e^{−G t/2}, the convention of G′).

    For s = 1, 2 the probes start in the pure normal mode q_s = 1 (x = R_s, p = 0), the
    environment at rest, and ⟨q_s(t)⟩ is computed exactly (``dynamics.solve``, first moments) on ``window``
    [1/ω], cut (for a chain) at 95% of the arrival time of the first echo the continuum model
    leaves out (revival, crosstalk: see :func:`first_excluded_path`).

    ``method="pencil"``: matrix-pencil fit of 8 damped exponentials; the rate of the one with
    the largest amplitude at positive frequency. ``method="envelope"``: straight-line fit of
    log|Hilbert transform| (stops where the envelope falls below 1e-3 of its start). NaN if
    less than 5 periods remain.
    """
    model, _, max_len, width, _ = _spectral_model(network, horizon)
    r, om = _normal_modes(network, model, max_len, width)[:2]  # the modes :func:`analyze` uses
    t0, t1 = (float(x) for x in window)
    env = network.environment
    if env.homogeneous_chain and env.g:
        _, max_len = model_horizon(network, horizon)
        vmax = group_velocity_peak(env.omega0, env.g)[0]
        t1 = min(t1, 0.95 * first_excluded_path(network, max_len) / vmax)
    if method not in ("pencil", "envelope"):
        raise HarmosyncError(f"method must be 'pencil' or 'envelope', got {method!r}")
    from .. import states as st
    from ..dynamics import solve

    def q_mode(s, t):  # ⟨q_s(t)⟩ from q_s = 1: x = R_s, p = 0 (the covariance plays no part)
        pr = network.probes.frequencies
        state = st.InitialState(st.product(*(st.coherent(w, x) for w, x in zip(pr, r[s]))))
        return solve(network, state, covariance=False, t_max=float(t[-1])).means(t)[:, 0::2] @ r[s]

    out = np.full(2, np.nan)
    for s in range(2):
        if t1 - t0 < 5 * 2 * np.pi / om[s]:
            continue
        if method == "pencil":
            dt = step or min(0.5, np.pi / (4 * om[-1]))
            t = np.arange(t0, t1, dt)
            q = q_mode(s, t)
            rates, amps = _pencil(q, dt, 8)
            keep = rates.imag > 0
            if np.any(keep):
                out[s] = -2.0 * rates[keep][np.argmax(amps[keep])].real
        else:
            from scipy.signal import hilbert

            dt = step or 0.05
            t = np.arange(0.0, t1 + 50.0, dt)  # padding keeps Hilbert edge effects out of the fit
            q = q_mode(s, t)
            envl = np.abs(hilbert(q))
            idx = np.flatnonzero((t >= t0) & (t <= t1))
            low = np.flatnonzero(envl[idx] < 1e-3 * envl[idx[0]])
            if low.size:
                idx = idx[: low[0]]
            if idx.size < 2 or t[idx[-1]] - t[idx[0]] < 5 * 2 * np.pi / om[s]:
                continue
            out[s] = -2.0 * np.polyfit(t[idx], np.log(envl[idx]), 1)[0]
    return out


def _pencil(y: np.ndarray, dt: float, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Matrix-pencil fit y_n ≈ Σ_i a_i e^{λ_i n dt}: (λ_i complex [ω], |a_i|)."""
    n = y.size
    ell = n // 3
    hank = np.lib.stride_tricks.sliding_window_view(y, ell + 1)
    _, _, vh = np.linalg.svd(hank, full_matrices=False)
    v = vh[:order].T
    z = np.linalg.eigvals(np.linalg.pinv(v[:-1]) @ v[1:]).astype(complex)
    lam = np.log(z) / dt
    basis = np.exp(np.outer(np.arange(n) * dt, lam))
    amp = np.linalg.lstsq(basis, y.astype(complex), rcond=None)[0]
    return lam, np.abs(amp)
