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

Localized modes. Normal modes of the whole network with frequencies outside the chain band
[Ω0, √(Ω0² + 4g)] cannot radiate: they are exact normal modes of the finite network too, and
keep oscillating undamped while everything else disperses. Their weight on the probes explains the steady oscillations at strong coupling (Figs. 2 and 4).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from ..errors import HarmosyncError
from ..network import DENSE_LIMIT, Network
from . import langevin as lg
from .times import CharacteristicTimes, characteristic_times, max_group_velocity

#: Default horizon: an echo counts as damping if it returns within this fraction of the
#: amplitude decay time 2/G of the most damped probe mode (≈ 10% amplitude loss).
HORIZON_FRACTION = 0.1
#: A synchronization "has happened" when the damped mode's amplitude relative to the
#: surviving one has fallen by this factor (C ≈ ±(1 − O(ratio²)) then).
SYNC_RATIO = 10.0
#: Rayleigh's approximation needs the cross damping small against the mode splitting.
CROSS_DAMPING_LIMIT = 0.5
#: Above this relative error of the Markov rates (against the exact poles) no prediction is made.
MARKOV_LIMIT = 0.3
#: A normal mode is "on one probe" (no sync pattern) when |R_s1 R_s2| is below this.
ONE_PROBE_LIMIT = 0.05


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
    time_to_sync: float  # 2 ln(SYNC_RATIO) / gap
    surviving_mode: int  # 1 or 2 (smaller G′_ss)
    kind: str  # "anti-sync", "sync" or "none"
    expected: bool
    reason: str
    ohmic_ratio_eq9: float  # (1 + sin 2θ)/(1 − sin 2θ)
    ohmic_applicable: bool  # both probes at one site with equal strengths
    damping_ratio: float  # G′_11 / G′_22 from the spectral density
    horizon: float  # [1/ω] echoes with delay ≤ horizon count as damping
    paths_max_length: float  # [sites]
    spectral_model: str
    exact_frequencies: tuple[float, float]  # Re ω of the exact M → ∞ poles (Lamb-shifted) [ω]
    exact_rates: tuple[float, float]  # −2 Im ω of the poles [ω] (same convention as G′)
    markov_error: float  # max_s |G′_ss − exact_s| / exact_s
    validity: str
    weak_coupling_parameter: float  # max_s G′_ss / Ω_s: the Markov error is of this order
    steady_state: str  # what the localized modes leave oscillating (two probes)
    localized_modes: tuple[LocalizedMode, ...] = field(default_factory=tuple)
    times: CharacteristicTimes | None = None

    def as_dict(self) -> dict:
        """JSON-serialisable nested dict (NaN kept as float NaN)."""
        d = asdict(self)
        d["localized_modes"] = [asdict(m) for m in self.localized_modes]
        d["times"] = self.times.as_dict() if self.times is not None else None
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
        r = kern.rotation
        j = np.einsum("as,wst,tb->wab", r.T, kern.spectral_density(omega, width=width, shape="lorentzian"), r)
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
    (then see ``localized_modes``)."""
    vs = network.probes.potential()
    eye = np.eye(vs.shape[0])
    om = np.sqrt(np.linalg.eigvalsh(vs))
    out = np.full(om.size, complex(np.nan, np.nan))
    for i, w0 in enumerate(om):
        z, scale, ds = complex(w0 * w0) - 1e-12j, 0.0, 1.0 / steps
        while scale < 1.0 and ds > 1e-4 / steps:
            target = min(1.0, scale + ds)

            def f(zz, sc=target):
                return np.linalg.det(vs - zz * eye + sc * sc * lg.continuum_self_energy(network, zz, max_length=max_length))

            znew, ok = _newton(f, z)
            if ok:
                z, scale = znew, target
            else:
                ds /= 2
        if scale >= 1.0:
            w = np.sqrt(z)
            out[i] = w if w.real > 0 else -w
    return out


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
# Localized modes
# ----------------------------------------------------------------------------------------------
def _resolvent_columns(env, mu: float, sites: list[int]) -> np.ndarray:
    """(V_E − μ)⁻¹ at the 1-based ``sites``, (M, len(sites)), for μ outside V_E's spectrum. A
    fixed chain in closed form: below the band it is the Green's function of a chain with
    Ω0'² = Ω0² − μ; above it, with D = diag((−1)^j), V_E − μ = −D (V_E' − μ') D for the chain
    with Ω0'² = μ − Ω0² − 4g. Otherwise a sparse LU (tridiagonal: O(M))."""
    from ..network import environment_inverse_columns, chain

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


# ----------------------------------------------------------------------------------------------
# The analysis
# ----------------------------------------------------------------------------------------------
def analyze(network: Network, *, horizon: float | None = None, initial_mean=None,
            localized: bool = True, poles: bool = True) -> RayleighAnalysis:
    """Rayleigh analysis of two probes (Sec. III): normal modes, damping matrix G′ (Markov,
    from the spectral density at the normal-mode frequencies), gap, τ_S (Eq. 7), the predicted
    sync / anti-sync, the Ohmic ratio (Eq. 9), exact continuum poles and localized modes.

    ``horizon`` [1/ω]: echoes returning within it count as damping (module docstring); a
    homogeneous chain uses the closed-form continuum density, any other environment the
    discrete spectral density smoothed by a Lorentzian of width 1/horizon (default: two mean
    level spacings). ``initial_mean``: probes' initial means (x1, p1, x2, p2), for the steady
    amplitudes of the localized modes.
    """
    if network.n_probes != 2:
        raise HarmosyncError(f"the Rayleigh analysis is for two probes; this network has {network.n_probes}")
    r, om, theta = lg.system_rotation(network)
    env = network.environment
    times = None
    width = None
    if env.homogeneous_chain and env.g:
        model = "continuum"
        times = characteristic_times(network)
        h, max_len = model_horizon(network, horizon)
    else:
        model = "smoothed discrete (Lorentzian)"
        h = float("nan") if horizon is None else float(horizon)
        width = None if horizon is None else 1.0 / float(horizon)
        max_len = float("nan")
    g_site = _site_damping(network, om, model if model == "continuum" else "smoothed", max_len, width)
    g_modes = np.einsum("sa,wab,tb->wst", r, g_site, r)  # G′(Ω_w)
    g11, g22 = float(g_modes[0, 0, 0]), float(g_modes[1, 1, 1])
    cross = (float(g_modes[0, 0, 1]), float(g_modes[1, 0, 1]))
    gp = np.array([[g11, 0.5 * sum(cross)], [0.5 * sum(cross), g22]])
    gx = r.T @ gp @ r
    gap = abs(g11 - g22)
    gmax = max(abs(g11), abs(g22))
    rel = gap / gmax if gmax > 0 else 0.0
    tau7 = 1.0 / gmax if gmax > 0 else float("inf")
    t_sync = 2.0 * math.log(SYNC_RATIO) / gap if gap > 0 else float("inf")
    surv = 1 if g11 < g22 else 2
    prod = r[surv - 1, 0] * r[surv - 1, 1]
    kind = "none" if abs(prod) < ONE_PROBE_LIMIT or gap == 0 else ("sync" if prod > 0 else "anti-sync")
    split = abs(om[1] - om[0])
    cross_ok = max(abs(c) for c in cross) <= CROSS_DAMPING_LIMIT * split if split > 0 else False
    exact_w = (float("nan"), float("nan"))
    exact_g = (float("nan"), float("nan"))
    err = float("nan")
    if poles and model == "continuum":
        pw = continuum_poles(network, max_length=max_len)
        exact_w = tuple(float(w.real) for w in pw)
        exact_g = tuple(float(-2 * w.imag) + 0.0 for w in pw)
        errs = [abs(gm - ge) / ge for gm, ge in zip((g11, g22), exact_g) if np.isfinite(ge) and ge > 0]
        err = max(errs) if errs else float("nan")
    if times is not None:
        t_end, after = times.tau_revival_front, "the revival τ_R"
    else:  # a discrete environment damps only until its levels are resolved: the Heisenberg time
        w_env = env.frequencies()
        spacing = (w_env[-1] - w_env[0]) / (w_env.size - 1) if w_env.size > 1 else float("inf")
        t_end = 2 * math.pi / spacing if spacing > 0 else float("inf")
        after = f"the Heisenberg time 2π/Δ of the environment's {w_env.size} discrete modes (mean spacing Δ)"
    if gap == 0 or gmax == 0:
        expected, reason = False, "no damping gap (G′_11 = G′_22)"
    elif kind == "none":
        expected, reason = False, f"the surviving mode q{surv} lives on one probe (|sin 2θ| small)"
    elif t_sync >= t_end:
        expected, reason = False, (f"the gap is too small: the damped mode needs {t_sync:.4g} [1/ω] to fall "
                                   f"{SYNC_RATIO:g}× below q{surv}, after {after} = {t_end:.4g} [1/ω]")
    elif poles and model == "continuum" and not all(np.isfinite(exact_g)):
        expected, reason = False, ("strong coupling: a probe resonance has merged with the band edge (no exact "
                                   "pole found); Rayleigh's approximation does not apply, see the localized modes")
    elif poles and np.isfinite(err) and err > MARKOV_LIMIT:
        expected, reason = False, (f"Rayleigh's (Markov) approximation does not apply: its rates are off by "
                                   f"{100 * err:.3g}% (strong coupling); see the exact rates and localized modes")
    elif not cross_ok:
        expected, reason = False, (f"Rayleigh's approximation fails: cross damping |G′_12| = "
                                   f"{max(abs(c) for c in cross):.3g} is not small against |Ω2 − Ω1| = {split:.3g}")
    else:
        expected, reason = True, (f"gap: q{3 - surv} decays, q{surv} survives; amplitude ratio falls "
                                  f"{SYNC_RATIO:g}× by t = {t_sync:.4g} [1/ω]" +
                                  (f" < τ_R = {t_end:.4g}" if times is not None else
                                   f" < the Heisenberg time {t_end:.4g} of the environment" if np.isfinite(t_end) else ""))
    s2 = math.sin(2 * theta)
    ohmic = (1 + s2) / (1 - s2) if s2 < 1 else float("inf")
    att = network.probes.attachments
    ohmic_ok = (len(att) == 2 and att[0][1] == att[1][1] and att[0][2] == att[1][2])
    ratio = g11 / g22 if g22 != 0 else float("inf")

    loc = localized_modes(network, initial_mean) if localized else ()
    validity = _validity(err, loc, cross_ok)
    eps = max(abs(g11) / om[0], abs(g22) / om[1])
    steady = _steady_state(loc)
    return RayleighAnalysis(
        theta=float(theta), frequencies=(float(om[0]), float(om[1])),
        damping_matrix=_t2(gp), damping_matrix_x=_t2(gx), cross_damping=cross,
        damping_at_modes=(_t2(g_modes[0]), _t2(g_modes[1])),
        gap=gap, relative_gap=rel, tau_sync_eq7=tau7, time_to_sync=t_sync, surviving_mode=surv,
        kind=kind, expected=expected, reason=reason, ohmic_ratio_eq9=ohmic, ohmic_applicable=ohmic_ok,
        damping_ratio=ratio, horizon=h, paths_max_length=max_len, spectral_model=model,
        exact_frequencies=exact_w, exact_rates=exact_g, markov_error=err, validity=validity,
        weak_coupling_parameter=float(eps), steady_state=steady,
        localized_modes=loc, times=times,
    )


def _t2(a) -> tuple[tuple[float, float], tuple[float, float]]:
    return ((float(a[0, 0]), float(a[0, 1])), (float(a[1, 0]), float(a[1, 1])))


def _steady_state(loc) -> str:
    strong = sorted((m for m in loc if m.probe_weight > 0.01), key=lambda m: -m.probe_weight)
    if not strong:
        return ("no localized mode carries more than 1% of its weight on the probes: their motion radiates "
                "into the environment")
    m = strong[0]
    kind = {"in phase": "sync", "anti-phase": "anti-sync"}.get(m.pattern, "")
    more = f" (and {len(strong) - 1} more)" if len(strong) > 1 else ""
    return (f"localized mode at ω = {m.frequency:.4g} ({m.side} the band, probe weight {m.probe_weight:.2g}, "
            f"{m.pattern}) keeps oscillating{more}" + (f": {kind} once the rest has decayed" if kind and not more else ""))


def _validity(err: float, loc, cross_ok: bool) -> str:
    strong = [m for m in loc if m.probe_weight > 0.01]
    parts = []
    if np.isfinite(err):
        grade = "good" if err < 0.1 else ("fair" if err < 0.3 else "poor")
        parts.append(f"{grade}: Markov rates differ by {100 * err:.2g}% from the exact continuum poles")
    else:
        parts.append("Markov rates not checked against exact poles")
    if not cross_ok:
        parts.append("cross damping not small (Rayleigh's approximation questionable)")
    if strong:
        parts.append(f"{len(strong)} localized mode(s) with probe weight > 1% (undamped steady oscillations)")
    return "; ".join(parts)


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
    r, om, _ = lg.system_rotation(network)
    t0, t1 = (float(x) for x in window)
    env = network.environment
    if env.homogeneous_chain and env.g:
        _, max_len = model_horizon(network, horizon)
        vmax = max_group_velocity(env.omega0, env.g)[0]
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
