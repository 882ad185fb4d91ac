"""Generalized Langevin equation of the probes (paper Eqs. 4, 5 and A8–A14), for any network.

Derivation (ħ = 1, unit masses; the paper's Appendix A for two probes on a chain). With the
probes' potential V_S, the environment's V_E = W diag(Ω_j²) Wᵀ and the interaction
H_I = Σ K x_i X_site (block B, P × M), eliminating the environment gives

    ẍ + (V_S − Γ(0)) x + ∫_0^t Γ(t − t′) ẋ(t′) dt′ = −Γ(t) x(0) − ξ(t),
    Γ(t) = B V_E⁻¹ cos(V_E^½ t) Bᵀ.

Rotating to the probes' normal modes q = R x (R V_S Rᵀ = diag(Ω_s²); for two probes
q1 = cos θ x1 + sin θ x2, q2 = −sin θ x1 + cos θ x2, Eqs. A4, A5, A7) gives Eq. (A11):

    q̈_1 + [Ω_1² − γ_1(0)] q_1 + ∫_0^t [γ_1(t−t′) q̇_1(t′) + η(t−t′) q̇_2(t′)] dt′
        = −ξ_1(t) − γ_1(t) q_1(0) − η(t) q_2(0) + η(0) q_2(t)

(and 1 ↔ 2), with Γ′ = R Γ Rᵀ, γ_s = Γ′_ss, η = Γ′_12 and

    Γ′_ss′(t) = Σ_j c_s(j) c_s′(j) / Ω_j² · cos(Ω_j t),   c_s(j) = (R B W)_sj      (A12, A13)

The −γ(0) terms exist because there is no counterterm. In the environment's ground (or
thermal) state ⟨ξ(t)⟩ = 0, so the means obey the equation without ξ.

For the fixed-end chain, W_jk = √(2/(M+1)) sin(πjk/(M+1)) (A6) and Ω_j from (A8); then, for
probes at sites m, n with strengths K1, K2 (the paper has K1 = K2 = K),

    c_1(j) = √(2/(M+1)) [K1 cos θ sin(πjm/(M+1)) + K2 sin θ sin(πjn/(M+1))]
    c_2(j) = √(2/(M+1)) [K2 cos θ sin(πjn/(M+1)) − K1 sin θ sin(πjm/(M+1))]

which reduces to (A9), (A10) when K1 = K2 = K > 0 (the paper's √(2K²/(M+1)) drops the sign
of K; only products c_s c_s′ enter the kernels, so a common sign is irrelevant, but for
K1 ≠ K2, e.g. the sign-flipped coupling of Sec. III A, the strengths must sit inside).

Spectral densities (Weiss's convention): J_ss′(ω) = (π/2) Σ_j c_s(j) c_s′(j)/Ω_j δ(ω − Ω_j),
so Γ′(t) = (2/π) ∫ J(ω)/ω cos(ωt) dω and the Markov damping is G(ω) = J(ω)/ω (see
``analysis/rayleigh.py``). For a homogeneous chain the M → ∞ limit is known in closed form by
images (``chain_paths``): with k = k(ω) and v = g sin k / ω the group velocity,

    J_ab(ω) = K_a K_b Σ_paths s_p cos(k L_p) / (2 g sin k)     [sites a, b]

where each path from a to b has length L_p (sites) and sign s_p (−1 per reflection at a fixed
end, +1 at a free end). An edge site of a fixed chain (paths L = 0, +1 and L = 2, −1) gives
J = K² sin k / g, Ohmic (J ≈ K² ω/g^{3/2}) when Ω0 → 0 and ω ≪ √g.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..dynamics import check_times
from ..errors import HarmosyncError
from ..network import Network, system_normal_modes

#: Default smoothing of the discrete spectral density, in mean level spacings of the bath.
SMOOTHING_SPACINGS = 2.0


# ----------------------------------------------------------------------------------------------
# Normal modes and coefficients
# ----------------------------------------------------------------------------------------------
def system_rotation(network: Network) -> tuple[np.ndarray, np.ndarray, float]:
    """(R, Ω_s, θ): q = R x diagonalises H_S, Ω_s ascending [frequency].

    Two probes: R = [[cos θ, sin θ], [−sin θ, cos θ]] with θ and Ω_s from (A7), taken from
    ``network.system_normal_modes`` (the one definition of the pair's normal modes; every
    θ and Ω_s in ``analysis`` comes from here). Otherwise the eigenvectors of V_S (θ = NaN).
    """
    if network.n_probes == 2:
        theta, om = system_normal_modes(network.probes.frequencies, network.probes.coupling[0, 1])
        c, s = math.cos(theta), math.sin(theta)
        return np.array([[c, s], [-s, c]]), np.asarray(om, float), theta
    lam, vec = np.linalg.eigh(network.probes.potential())
    return vec.T.copy(), np.sqrt(lam), float("nan")


def to_modes(matrix, rotation: np.ndarray) -> np.ndarray:
    """R M Rᵀ on the last two axes: a site-basis matrix (Γ, J, G; shape (..., P, P)) in the
    probes' normal modes q = R x (Γ′ = R Γ Rᵀ, Eqs. A12, A13; G′ = M⁻¹ G M of Sec. III)."""
    return np.einsum("sa,...ab,tb->...st", rotation, matrix, rotation)


def to_sites(matrix, rotation: np.ndarray) -> np.ndarray:
    """Rᵀ M′ R on the last two axes: the inverse of :func:`to_modes` (G = Rᵀ G′ R, Eq. 6)."""
    return np.einsum("sa,...st,tb->...ab", rotation, matrix, rotation)


def coefficients(network: Network) -> tuple[np.ndarray, np.ndarray]:
    """(c, Ω_j): c (P, M) the couplings of the probes' normal modes to the environment's normal
    modes, c = R B W (A9, A10 generalised), and Ω_j (M,) ascending (A8) [frequency², frequency].

    H_I = Σ_s q_s Σ_j c_s(j) Q_j (A3).
    """
    r, _, _ = system_rotation(network)
    env = network.environment
    if env.structured:
        # closed-form rows of W at the plugged sites only: O(P·M), never the M × M mode matrix
        from ..network import chain_mode_rows
        from ..network import chain_modes

        sites = network.plugged_sites()
        om_j = chain_modes(env.sites, env.omega0, env.g, env.boundary, vectors=False)[0]
        b = network.coupling_block()[:, [s - 1 for s in sites]]
        return r @ b @ chain_mode_rows(env.sites, env.boundary, sites), om_j
    om_j, w = env.modes()
    return r @ network.coupling_block() @ w, om_j


def kernel_matrix(coeff: np.ndarray, bath_frequencies: np.ndarray, times, *, chunk: int = 4096) -> np.ndarray:
    """Γ′(t)_ss′ = Σ_j c_s(j) c_s′(j)/Ω_j² cos(Ω_j t) (Eqs. A12, A13), shape (T, P, P) [frequency²]."""
    t = np.asarray(times, dtype=float)
    a = coeff / bath_frequencies**2  # (P, M)
    out = np.empty((t.size, coeff.shape[0], coeff.shape[0]))
    chunk = max(1, min(chunk, 2**22 // max(1, bath_frequencies.size)))  # cos table ≤ 32 MB
    for start in range(0, t.size, chunk):
        cos = np.cos(np.outer(t[start:start + chunk], bath_frequencies))  # (B, M)
        out[start:start + chunk] = np.einsum("sj,bj,rj->bsr", a, cos, coeff, optimize=True)
    return out


# ----------------------------------------------------------------------------------------------
# Kernels
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Kernels:
    """Memory kernels of the probes' normal modes on a time grid (Eqs. 4, 5, A12, A13).

    ``matrix[t, s, s′]`` = Γ′_ss′(t) [frequency²]; for two probes ``gamma1`` = Γ′_11,
    ``gamma2`` = Γ′_22, ``eta`` = Γ′_12. ``coefficients`` c_s(j) [frequency²] and
    ``bath_frequencies`` Ω_j [frequency] (A8–A10); ``system_frequencies`` Ω_s and ``rotation`` R
    (q = R x), ``theta`` θ [rad] (A7, two probes). Times [1/frequency].
    """

    times: np.ndarray
    matrix: np.ndarray
    coefficients: np.ndarray
    bath_frequencies: np.ndarray
    system_frequencies: np.ndarray
    rotation: np.ndarray
    theta: float
    network: Network

    @property
    def gamma1(self) -> np.ndarray:
        return self.matrix[:, 0, 0]

    @property
    def gamma2(self) -> np.ndarray:
        self._need_pair()
        return self.matrix[:, 1, 1]

    @property
    def eta(self) -> np.ndarray:
        self._need_pair()
        return self.matrix[:, 0, 1]

    def _need_pair(self):
        if self.matrix.shape[1] < 2:
            raise HarmosyncError("gamma2 and eta need two probes; this network has one")

    @property
    def shift(self) -> np.ndarray:
        """Γ′(0): the frequency² shift of (A11) with no counterterm, (P, P) [frequency²]."""
        return kernel_matrix(self.coefficients, self.bath_frequencies, [0.0])[0]

    def spectral_weights(self) -> np.ndarray:
        """Discrete spectral weights (π/2) c_s(j) c_s′(j)/Ω_j, shape (P, P, M) [frequency³]:
        J_ss′(ω) = Σ_j weights[s, s′, j] δ(ω − Ω_j)."""
        c = self.coefficients
        return 0.5 * np.pi * np.einsum("sj,rj->srj", c, c) / self.bath_frequencies

    def default_width(self) -> float:
        """SMOOTHING_SPACINGS mean level spacings of the bath [frequency]."""
        om = self.bath_frequencies
        if om.size < 2:
            return 0.05 * float(om[0])
        return SMOOTHING_SPACINGS * float(om[-1] - om[0]) / (om.size - 1)

    def spectral_density(self, omega, *, width: float | None = None, shape: str = "gaussian") -> np.ndarray:
        """Smoothed J_ss′(ω), shape (len(ω), P, P) [frequency³·frequency⁻¹ = frequency²].

        Each δ(ω − Ω_j) becomes a normalised Gaussian (or Lorentzian: the kernel multiplied by
        e^{−width·t}) of half-width ``width`` [frequency] (default: ``default_width()``).
        """
        om = np.atleast_1d(np.asarray(omega, dtype=float))
        wd = self.default_width() if width is None else float(width)
        if not np.isfinite(wd) or wd <= 0:
            if width is None:  # all bath modes at one frequency: g = 0, or a graph without bonds
                raise HarmosyncError(
                    "the environment has no band (all its modes share one frequency: chain g = 0 or a graph "
                    "without edges), so there is no spectral density to analyse; give the environment couplings")
            raise HarmosyncError(f"spectral density width must be positive, got {width!r}")
        if shape not in ("gaussian", "lorentzian"):
            raise HarmosyncError(f"spectral density shape must be 'gaussian' or 'lorentzian', got {shape!r}")
        weights = self.spectral_weights()
        out = np.empty((om.size,) + weights.shape[:2])
        rows = max(1, 2**22 // max(1, self.bath_frequencies.size))  # profile blocks ≤ 32 MB
        for a in range(0, om.size, rows):
            x = om[a:a + rows, None] - self.bath_frequencies[None, :]
            if shape == "gaussian":
                prof = np.exp(-0.5 * (x / wd) ** 2) / (wd * math.sqrt(2 * math.pi))
            else:
                prof = (wd / math.pi) / (x**2 + wd**2)
            out[a:a + rows] = np.einsum("srj,wj->wsr", weights, prof)
        return out


def kernels(network: Network, times) -> Kernels:
    """γ_s(t), η(t) (Eqs. 4, 5, A12, A13), c_s(j) and Ω_j (A8–A10) of ``network`` on ``times``
    [1/frequency]. Any environment, any plugging sites and strengths (see the module docstring)."""
    t = check_times(times)
    r, om_s, theta = system_rotation(network)
    c, om_j = coefficients(network)
    return Kernels(t, kernel_matrix(c, om_j, t), c, om_j, om_s, r, theta, network)


# ----------------------------------------------------------------------------------------------
# Continuum limit of a homogeneous chain (method of images)
# ----------------------------------------------------------------------------------------------
def chain_paths(a: int, b: int, sites: int, boundary: str, max_length: float) -> list[tuple[int, int]]:
    """Propagation paths (length L [sites], sign s) from site a to site b of a chain, L ≤ max_length.

    Fixed ends (X_0 = X_{M+1} = 0) mirror with sign −1 about sites 0 and M + 1 (images ±b +
    2n(M+1)); free ends mirror with sign +1 about ½ and M + ½ (images b + 2nM, 1 − b + 2nM);
    periodic: images b + nM. The sum over ALL paths is the finite chain's discrete spectrum;
    the direct path alone is the infinite chain; direct + one end is the semi-infinite chain.
    """
    m = int(sites)
    if boundary == "fixed":
        period, images = 2 * (m + 1), [(b, 1), (-b, -1)]
    elif boundary == "free":
        period, images = 2 * m, [(b, 1), (1 - b, 1)]
    elif boundary == "periodic":
        period, images = m, [(b, 1)]
    else:
        raise HarmosyncError(f"chain boundary must be fixed, free or periodic, got {boundary!r}")
    n_max = int(max_length // period) + 2
    out = []
    for n in range(-n_max, n_max + 1):
        for pos, sign in images:
            length = abs(a - (pos + n * period))
            if length <= max_length:
                out.append((length, sign))
    return sorted(out)


def _attachment_paths(network: Network, max_length: float):
    """[(probe i, probe j, K_a K_b, paths)] over every pair of attachments."""
    env = network.environment
    att = network.probes.attachments
    return [(i, j, ka * kb, chain_paths(sa, sb, env.sites, env.boundary, max_length))
            for i, sa, ka in att for j, sb, kb in att]


def require_homogeneous_chain(network: Network, what: str) -> None:
    env = network.environment
    if not env.homogeneous_chain or env.g is None or env.g <= 0:
        raise HarmosyncError(
            f"{what} needs a homogeneous chain with g > 0 (closed-form dispersion); "
            "for other environments use the smoothed discrete spectral density (Kernels.spectral_density)"
        )


def continuum_spectral_density(network: Network, omega, *, max_length: float) -> np.ndarray:
    """J_ij(ω) of the probes (site basis, NOT rotated), shape (len(ω), P, P) [frequency²], in the
    continuum limit of a homogeneous chain keeping the paths with L ≤ ``max_length`` [sites]:
    J_ab(ω) = K_a K_b Σ_p s_p cos(k L_p) / (2 g sin k); zero outside the band."""
    require_homogeneous_chain(network, "the continuum spectral density")
    env = network.environment
    om = np.atleast_1d(np.asarray(omega, dtype=float))
    s = (om**2 - env.omega0**2) / (4 * env.g)
    inside = (s > 0) & (s < 1)
    k = np.where(inside, 2 * np.arcsin(np.sqrt(np.clip(s, 0, 1))), np.nan)
    out = np.zeros((om.size, network.n_probes, network.n_probes))
    for i, j, kk, paths in _attachment_paths(network, max_length):
        tot = sum(sign * np.cos(k * length) for length, sign in paths)
        with np.errstate(invalid="ignore", divide="ignore"):
            val = kk * tot / (2 * env.g * np.sin(k))
        out[:, i, j] += np.where(inside, val, 0.0)
    return out


def continuum_self_energy(network: Network, z, *, max_length: float) -> np.ndarray:
    """Σ(z) = B G_E(z) Bᵀ (P × P, site basis) [frequency²] with the chain's Green function
    G_E(z) = (z − V_E)⁻¹ by images: G_ab = Σ_p s_p ζ^{L_p} / (g (ζ − 1/ζ)), ζ = e^{ik},
    cos k = (Ω0² + 2g − z) / 2g (principal arccos: the physical sheet for Im z > 0, its
    continuation through the band — where resonances live — for Im z < 0)."""
    env = network.environment
    z = complex(z)
    k = np.arccos(complex((env.omega0**2 + 2 * env.g - z) / (2 * env.g)))
    zeta = np.exp(1j * k)
    pref = 1.0 / (env.g * (zeta - 1.0 / zeta))
    out = np.zeros((network.n_probes, network.n_probes), dtype=complex)
    for i, j, kk, paths in _attachment_paths(network, max_length):
        out[i, j] += kk * pref * sum(sign * zeta**length for length, sign in paths)
    return out


# ----------------------------------------------------------------------------------------------
# Integrating Eq. (A11)
# ----------------------------------------------------------------------------------------------
def _source(source) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(source, Kernels):
        return source.coefficients, source.bath_frequencies, source.system_frequencies
    if isinstance(source, Network):
        _, om_s, _ = system_rotation(source)
        c, om_j = coefficients(source)
        return c, om_j, om_s
    raise HarmosyncError(f"expected a Network or Kernels, got {type(source).__name__}")


def _initial(q0, p0, n: int) -> tuple[np.ndarray, np.ndarray]:
    q0 = np.asarray(q0, dtype=float).reshape(-1)
    p0 = np.zeros(n) if p0 is None else np.asarray(p0, dtype=float).reshape(-1)
    if q0.size != n or p0.size != n:
        raise HarmosyncError(f"initial q0 and p0 must have {n} entries (one per probe mode), got {q0.size} and {p0.size}")
    if not (np.all(np.isfinite(q0)) and np.all(np.isfinite(p0))):
        raise HarmosyncError("initial q0 and p0 must be finite")
    return q0, p0


def solve_mean(source, q0, p0, times, *, rtol: float = 1e-11, atol: float = 1e-13):
    """Integrate the mean of Eq. (A11) (noise averaged out) from q(0) = q0, q̇(0) = p0.

    Returns (q, p), each (T, P), in the probes' normal modes [q in frequency^(-1/2)].

    The memory term is carried by auxiliary variables y_j = ∫_0^t cos(Ω_j(t−t′)) c_j·q̇ dt′ and
    w_j = ∫_0^t sin(Ω_j(t−t′)) c_j·q̇ dt′ (ẏ_j = c_j·q̇ − Ω_j w_j, ẇ_j = Ω_j y_j, both zero at
    t = 0), so that ∫_0^t Γ′(t−t′) q̇ dt′ = Σ_j c_j y_j / Ω_j², and

        q̈ = −(diag Ω_s² − Γ′(0)) q − Σ_j c_j y_j/Ω_j² − Γ′(t) q(0)

    is integrated with scipy's DOP853. ``source``: a Network or its Kernels.
    """
    from scipy.integrate import solve_ivp

    c, om_j, om_s = _source(source)
    t = check_times(times)
    p_n, m = c.shape
    q0, p0 = _initial(q0, p0, p_n)
    a = c / om_j**2  # (P, M)
    stiff = np.diag(om_s**2) - a @ c.T  # Ω_s² − Γ′(0)
    force0 = a * (c.T @ q0)[None, :]  # (P, M): Γ′(t) q0 = force0 @ cos(Ω_j t)

    def rhs(time, y):
        q, p = y[:p_n], y[p_n:2 * p_n]
        yy, ww = y[2 * p_n:2 * p_n + m], y[2 * p_n + m:]
        dp = -stiff @ q - a @ yy - force0 @ np.cos(om_j * time)
        return np.concatenate([p, dp, c.T @ p - om_j * ww, om_j * yy])

    y0 = np.concatenate([q0, p0, np.zeros(2 * m)])
    sol = solve_ivp(rhs, (min(0.0, t[0]), t[-1]), y0, method="DOP853", t_eval=t, rtol=rtol, atol=atol)
    if not sol.success:
        raise HarmosyncError(f"integrating Eq. (A11) failed: {sol.message}")
    return sol.y[:p_n].T, sol.y[p_n:2 * p_n].T


def volterra_mean(kern: Kernels, q0, p0):
    """Integrate the mean of Eq. (A11) on ``kern.times`` from the TABULATED kernels only.

    Trapezoid rule for both the ODE and the memory integral (global error O(h²), h the step;
    Richardson extrapolation of two steps gives O(h⁴)). The grid must be uniform and start at
    t = 0. Cost O(T² P²). Returns (q, p), each (T, P) [normal-mode coordinates].
    """
    t = kern.times
    if t[0] != 0.0 or t.size < 3:
        raise HarmosyncError("volterra_mean needs a kernel grid starting at t = 0 with at least 3 points")
    h = (t[-1] - t[0]) / (t.size - 1)
    if np.max(np.abs(np.diff(t) - h)) > 1e-9 * max(1.0, t[-1]):
        raise HarmosyncError("volterra_mean needs a uniform kernel grid")
    gam = kern.matrix
    p_n = gam.shape[1]
    q0, p0 = _initial(q0, p0, p_n)
    om2 = np.diag(kern.system_frequencies**2)
    a = om2 - gam[0]
    lhs = np.linalg.inv(np.eye(p_n) + 0.25 * h * h * om2)
    q = np.empty((t.size, p_n))
    p = np.empty((t.size, p_n))
    q[0], p[0] = q0, p0
    f_prev = -a @ q0 - gam[0] @ q0  # conv(0) = 0
    for n in range(1, t.size):
        # memory integral at t_n without its (unknown) last trapezoid node ½ h Γ(0) p_n
        known = h * (0.5 * gam[n] @ p0 + np.einsum("kab,kb->a", gam[n - 1:0:-1], p[1:n]))
        rhs = p[n - 1] + 0.5 * h * f_prev + 0.5 * h * (-a @ q[n - 1] - 0.5 * h * a @ p[n - 1] - known - gam[n] @ q0)
        p[n] = lhs @ rhs
        q[n] = q[n - 1] + 0.5 * h * (p[n - 1] + p[n])
        f_prev = -a @ q[n] - known - 0.5 * h * gam[0] @ p[n] - gam[n] @ q0
    return q, p
