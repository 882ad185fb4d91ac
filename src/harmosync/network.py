"""Quadratic networks of unit-mass oscillators: the environment (chain or graph) and the probes.

The Hamiltonian is H = ½ pᵀp + ½ xᵀ V x with the potential matrix V (units: frequency²).
Oscillators are ordered probes first (0..P-1), then environment sites (P..P+M-1); users
number probes 1..P and sites 1..M.

* Chain (paper Sec. III A, Eqs. A6, A8): V_E = Ω0²·1 + g·tridiag(−1, 2, −1) with fixed ends
  X_0 = X_{M+1} = 0 (end sites carry Ω0² + 2g). Free ends drop the wall bonds; periodic ends
  add the bond (M, 1).
* General graph: V_E = diag(Ω_j²) + L(A), with L(A) the weighted graph Laplacian, i.e.
  (A_jk/2)(X_j − X_k)² per unordered bond j < k (the paper's Σ_{j,k} A_jk (X_j − X_k)² counts
  each bond twice; harmosync does not).
* Probes (Eqs. 1, 2): H_S = Σ_i (p_i² + ω_i² x_i²)/2 + Σ_{i<j} (λ_ij/2)(x_i − x_j)², and
  H_I = Σ_(i, site, K) K x_i X_site. No counterterm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from .errors import HarmosyncError, UnstableEnvironmentError, UnstableNetworkError

BOUNDARIES = ("fixed", "free", "periodic")
# Dense linear algebra below this many oscillators; sparse/structured above.
DENSE_LIMIT = 4000


def _finite(name: str, value, *, positive: bool = False, nonnegative: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise HarmosyncError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(v):
        raise HarmosyncError(f"{name} must be finite, got {value!r}")
    if positive and v <= 0:
        raise HarmosyncError(f"{name} must be positive, got {v:g}")
    if nonnegative and v < 0:
        raise HarmosyncError(f"{name} must be non-negative, got {v:g}")
    return v


# ----------------------------------------------------------------------------------------------
# Environment
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Environment:
    """The network the probes are plugged into (the paper's H_E).

    Build it with :func:`chain` or :func:`graph`. ``kind`` is ``"chain"`` (then ``omega0``, ``g``
    and ``boundary`` are set and the normal modes are known in closed form) or ``"graph"``.
    """

    kind: str
    sites: int
    onsite: np.ndarray  # (M,) Ω_j² on-site stiffness [frequency²]
    bonds: sp.csr_matrix  # symmetric (M, M) A_jk ≥ 0 off the diagonal [frequency²]
    omega0: float | None = None
    g: float | None = None
    boundary: str | None = None
    wall: np.ndarray | None = None  # extra diagonal from bonds to fixed walls [frequency²]

    def potential(self, *, sparse: bool = False):
        """V_E = diag(Ω_j²) + L(A) (+ wall bonds). Dense (M, M) array, or CSR if ``sparse``."""
        a = self.bonds
        deg = np.asarray(a.sum(axis=1)).ravel()
        diag = self.onsite + deg + (self.wall if self.wall is not None else 0.0)
        v = sp.diags(diag) - a
        return v.tocsr() if sparse else v.toarray()

    @cached_property
    def homogeneous_chain(self) -> bool:
        """True when the closed-form sine/cosine modes (A6, A8) apply."""
        return self.kind == "chain" and np.all(self.onsite == self.onsite[0])

    @property
    def structured(self) -> bool:
        """True for a homogeneous chain with fixed or free ends: its mode rows are known in
        closed form (:func:`chain_mode_rows`), so the structured solvers apply."""
        return bool(self.homogeneous_chain) and self.boundary in ("fixed", "free")

    def modes(self) -> tuple[np.ndarray, np.ndarray]:
        """Normal modes of H_E alone: frequencies Ω_k (ascending) and orthonormal columns W.

        Closed form for the homogeneous chain (Eqs. A6, A8), dense eigh otherwise.
        """
        if self.sites == 0:
            return np.zeros(0), np.zeros((0, 0))
        if self.homogeneous_chain:
            return chain_modes(self.sites, self.omega0, self.g, self.boundary)
        lam, w = np.linalg.eigh(self.potential())
        if lam[0] <= 0:
            raise UnstableEnvironmentError(
                f"the environment alone is unstable: its potential matrix has smallest eigenvalue "
                f"{lam[0]:.4g}; raise the on-site frequencies"
            )
        return np.sqrt(lam), w

    def frequencies(self) -> np.ndarray:
        """Normal-mode frequencies Ω_k of H_E alone, ascending (no mode vectors: closed form for
        the homogeneous chain at any M)."""
        if self.homogeneous_chain:
            return chain_modes(self.sites, self.omega0, self.g, self.boundary, vectors=False)[0]
        return self.modes()[0]

    def smallest_eigenvalue(self) -> float:
        if self.sites == 0:  # no environment: nothing can be unstable
            return np.inf
        if self.homogeneous_chain:
            return float(chain_modes(self.sites, self.omega0, self.g, self.boundary, vectors=False)[0][0] ** 2)
        if self.sites <= DENSE_LIMIT:
            return float(np.linalg.eigvalsh(self.potential())[0])
        from scipy.sparse.linalg import eigsh

        return float(eigsh(self.potential(sparse=True), k=1, which="SA", return_eigenvectors=False)[0])

    @cached_property
    def stability_bounds(self) -> tuple[float, float]:
        """(smallest eigenvalue of V_E, its scale max_j Σ_k |(V_E)_jk|) [frequency²]: what
        :func:`check_stability` reads, computed once per environment (every network on it)."""
        if not self.sites:
            return np.inf, 1.0
        return self.smallest_eigenvalue(), float(abs(self.potential(sparse=True)).sum(axis=1).max())

    def describe(self) -> dict:
        """Parameters for file metadata (JSON-serialisable scalars)."""
        if self.kind == "none":
            return {"kind": "none", "sites": 0}
        if self.kind == "chain":
            return {"kind": "chain", "sites": self.sites, "omega0": self.omega0, "g": self.g,
                    "boundary": self.boundary}
        return {"kind": "graph", "sites": self.sites, "bonds": int(self.bonds.nnz // 2)}


def chain_modes(sites: int, omega0: float, g: float, boundary: str = "fixed", *,
                vectors: bool = True):
    """Closed-form normal modes of the homogeneous chain [frequencies in the unit of ω].

    fixed (Eqs. A6, A8):  Ω_k² = Ω0² + 4g sin²(πk / 2(M+1)),  W_jk = √(2/(M+1)) sin(πjk/(M+1)),
                          j, k = 1..M.
    free:                 Ω_k² = Ω0² + 4g sin²(πk / 2M),  W_jk ∝ cos(πk(j − ½)/M), k = 0..M-1.
    periodic:             Ω_k² = Ω0² + 4g sin²(πk / M), real Fourier modes.
    Returns (Ω ascending, W with orthonormal columns) or (Ω, None) if ``vectors`` is False.
    """
    m = int(sites)
    j = np.arange(1, m + 1)
    if boundary == "fixed":
        k = np.arange(1, m + 1)
        om2 = omega0**2 + 4 * g * np.sin(np.pi * k / (2 * (m + 1))) ** 2
        w = np.sqrt(2.0 / (m + 1)) * np.sin(np.pi * np.outer(j, k) / (m + 1)) if vectors else None
    elif boundary == "free":
        k = np.arange(m)
        om2 = omega0**2 + 4 * g * np.sin(np.pi * k / (2 * m)) ** 2
        if vectors:
            w = np.cos(np.pi * np.outer(j - 0.5, k) / m) * np.sqrt(2.0 / m)
            w[:, 0] = 1.0 / np.sqrt(m)
        else:
            w = None
    elif boundary == "periodic":
        k = np.arange(m)
        om2 = omega0**2 + 4 * g * np.sin(np.pi * k / m) ** 2
        if vectors:
            # real basis: 1, cos(2πkj/M), sin(2πkj/M) for 0 < k < M/2, and (−1)^j if M is even
            cols = [np.full(m, 1.0 / np.sqrt(m))]
            ks = [0]
            for kk in range(1, (m + 1) // 2):
                cols.append(np.sqrt(2.0 / m) * np.cos(2 * np.pi * kk * j / m))
                cols.append(np.sqrt(2.0 / m) * np.sin(2 * np.pi * kk * j / m))
                ks += [kk, kk]
            if m % 2 == 0:
                cols.append((-1.0) ** j / np.sqrt(m))
                ks.append(m // 2)
            w = np.array(cols).T
            om2 = omega0**2 + 4 * g * np.sin(np.pi * np.array(ks) / m) ** 2
        else:
            w = None
    else:
        raise HarmosyncError(f"boundary must be one of {', '.join(BOUNDARIES)}, got {boundary!r}")
    order = np.argsort(om2, kind="stable")
    om2 = om2[order]
    if om2[0] <= 0:
        raise UnstableEnvironmentError(
            f"the chain alone is unstable: its lowest mode has Ω² = {om2[0]:.4g}; "
            "use omega0 > 0 (and g ≥ 0); omega0 = 0 is stable only with fixed ends and g > 0"
        )
    return np.sqrt(om2), (w[:, order] if vectors else None)


def chain_mode_rows(sites: int, boundary: str, which) -> np.ndarray:
    """Rows W[s, :] (1-based sites ``which``) of the homogeneous chain's orthonormal modes, in
    the ascending-frequency order of :func:`chain_modes` (fixed: Eq. A6,
    √(2/(M+1)) sin(πsk/(M+1)); free: √(2/M) cos(πk(s − ½)/M), 1/√M for k = 0)."""
    m = int(sites)
    s = np.atleast_1d(np.asarray(which, dtype=np.int64))
    if boundary == "fixed":
        k = np.arange(1, m + 1, dtype=np.int64)
        # reduce s·k modulo 2(M+1) in integers: exact arguments even for M ~ 10⁶
        arg = np.mod(np.outer(s, k), 2 * (m + 1))
        return np.sqrt(2.0 / (m + 1)) * np.sin(np.pi * arg / (m + 1))
    if boundary == "free":
        k = np.arange(m, dtype=np.int64)
        arg = np.mod(np.outer(2 * s - 1, k), 4 * m)  # πk(s − ½)/M = π(2s − 1)k/(2M)
        rows = np.sqrt(2.0 / m) * np.cos(np.pi * arg / (2 * m))
        rows[:, 0] = 1.0 / np.sqrt(m)
        return rows
    raise HarmosyncError(f"closed-form mode rows need a fixed or free chain, got {boundary!r}")


def chain(sites: int, omega0: float, g: float, boundary: str = "fixed", *,
          onsite_frequencies=None) -> Environment:
    """The paper's homogeneous chain: M sites, on-site frequency Ω0, nearest-neighbour g.

    H_E = Σ_j [P_j²/2 + Ω0² X_j²/2] + (g/2) Σ_{j=0..M} (X_j − X_{j+1})² with X_0 = X_{M+1} = 0
    (``boundary="fixed"``, the paper). ``onsite_frequencies`` (M values of Ω_j) replaces Ω0 site
    by site, for defects and disorder.
    """
    if isinstance(sites, bool) or not isinstance(sites, (int, np.integer)):
        raise HarmosyncError(f"chain sites must be an integer, got {sites!r}")
    if sites < 1:
        raise HarmosyncError(f"chain sites must be at least 1, got {sites}")
    omega0 = _finite("chain omega0", omega0, nonnegative=True)  # 0: acoustic chain, stable with fixed ends
    g = _finite("chain g", g, nonnegative=True)
    if boundary not in BOUNDARIES:
        from .errors import suggest

        raise HarmosyncError(
            f"chain boundary must be one of {', '.join(BOUNDARIES)}, got {boundary!r}"
            + suggest(str(boundary), BOUNDARIES)
        )
    m = int(sites)
    if onsite_frequencies is None:
        onsite = np.full(m, omega0**2)
    else:
        om = _as_array("chain onsite_frequencies", onsite_frequencies, (m,))
        if np.any(om < 0):  # 0 is fine where V_E stays positive definite (check_stability)
            raise HarmosyncError(f"chain onsite_frequencies must all be ≥ 0, got {om.min():g} at site "
                                 f"{int(np.argmin(om)) + 1}")
        onsite = om**2
    rows = np.arange(m - 1)
    a = sp.coo_matrix((np.full(m - 1, g), (rows, rows + 1)), shape=(m, m))
    if boundary == "periodic" and m >= 2:  # M = 2: X_3 = X_1 makes a double bond
        a = a + sp.coo_matrix(([g], ([0], [m - 1])), shape=(m, m))
    a = (a + a.T).tocsr()
    wall = None
    if boundary == "fixed":
        wall = np.zeros(m)
        wall[0] += g
        wall[-1] += g
    return Environment("chain", m, onsite, a, omega0=omega0, g=g, boundary=boundary, wall=wall)


def no_environment() -> Environment:
    """An empty environment (0 sites, kind "none"): the probes alone, e.g. with their baths."""
    return Environment("none", 0, np.zeros(0), sp.csr_matrix((0, 0)))


def graph(couplings, onsite_frequencies) -> Environment:
    """A general harmonic network: couplings A (M×M, symmetric, ≥ 0, zero diagonal), and the
    on-site frequencies Ω_j (scalar or M values). H_E = Σ_j (P_j² + Ω_j² X_j²)/2 +
    Σ_{j<k} (A_jk/2)(X_j − X_k)² [A in frequency²]."""
    a = sp.csr_matrix(couplings, dtype=float) if sp.issparse(couplings) else None
    if a is None:
        arr = _as_array("couplings", couplings)
        if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
            raise HarmosyncError(f"couplings must be a square matrix, got shape {arr.shape}")
        a = sp.csr_matrix(arr)
    m = a.shape[0]
    if m < 1:
        raise HarmosyncError("couplings must have at least one site")
    if abs(a - a.T).max() > 1e-12 * max(1.0, abs(a).max()):
        raise HarmosyncError("couplings must be symmetric: A_jk = A_kj")
    if not np.all(np.isfinite(a.data)):
        raise HarmosyncError("couplings must be finite")
    if np.any(a.diagonal() != 0):
        raise HarmosyncError("couplings must have a zero diagonal (on-site terms go in onsite_frequencies)")
    om = np.broadcast_to(_as_array("onsite_frequencies", onsite_frequencies), (m,)) \
        if np.ndim(onsite_frequencies) == 0 else _as_array("onsite_frequencies", onsite_frequencies, (m,))
    if np.any(om < 0):  # 0 is fine where V_E stays positive definite (check_stability)
        raise HarmosyncError(f"graph onsite_frequencies must all be ≥ 0, got {np.min(om):g} at site "
                             f"{int(np.argmin(om)) + 1}")
    return Environment("graph", m, np.asarray(om, float) ** 2, a)


def _as_array(name, value, shape=None) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise HarmosyncError(f"{name} must be numbers, got {value!r}") from None
    if shape is not None and arr.shape != shape:
        raise HarmosyncError(f"{name} must have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        shown = repr(value) if arr.size <= 4 else f"{int(np.sum(~np.isfinite(arr)))} non-finite values"
        raise HarmosyncError(f"{name} must be finite, got {shown}")
    return arr


# ----------------------------------------------------------------------------------------------
# Probes
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Probes:
    """P probe oscillators: frequencies ω_i, pairwise couplings λ_ij and attachments.

    ``coupling`` is a scalar λ (every pair) or a P×P symmetric matrix. ``sites`` and
    ``strengths`` give, per probe, one site (1..M) and K, or a list of sites and a list of K for
    a probe attached to several sites. A negative K flips the sign of the coupling (Sec. III A).
    """

    frequencies: tuple[float, ...]
    coupling: np.ndarray  # (P, P) λ_ij, zero diagonal
    attachments: tuple[tuple[int, int, float], ...]  # (probe 0-based, site 1-based, K)

    @property
    def count(self) -> int:
        return len(self.frequencies)

    def potential(self) -> np.ndarray:
        """V_S = diag(ω_i²) + L(λ)  [frequency²]."""
        lam = self.coupling
        return np.diag(np.asarray(self.frequencies) ** 2 + lam.sum(axis=1)) - lam

    def describe(self) -> dict:
        return {"frequencies": list(self.frequencies), "coupling": self.coupling.tolist(),
                "attachments": [list(a) for a in self.attachments]}


def probes(frequencies, coupling=0.0, sites=(1, 1), strengths=(0.1, 0.1)) -> Probes:
    """Build and validate :class:`Probes` (see its docstring). Sites are numbered from 1;
    ``sites=None, strengths=None``: probes attached to nothing (the probes alone)."""
    freqs = np.atleast_1d(_as_array("probes frequencies", frequencies))
    if freqs.ndim != 1 or freqs.size < 1:
        raise HarmosyncError("probes frequencies must be a list of at least one frequency")
    if np.any(freqs <= 0):
        raise HarmosyncError(f"probes frequencies must be positive, got {freqs.tolist()}")
    p = freqs.size
    if np.ndim(coupling) == 0:
        lam_v = _finite("probes coupling", coupling)
        lam = np.full((p, p), lam_v)
        np.fill_diagonal(lam, 0.0)
    else:
        lam = _as_array("probes coupling", coupling)
        if lam.shape != (p, p):
            raise HarmosyncError(f"probes coupling must be a number or a {p}×{p} matrix, got shape {lam.shape}")
        if not np.allclose(lam, lam.T):
            raise HarmosyncError("probes coupling matrix must be symmetric")
        if np.any(np.diag(lam) != 0):
            raise HarmosyncError(f"probes coupling matrix has a nonzero diagonal {np.diag(lam).tolist()}: λ_ii is "
                                 "not a coupling; set it to 0 (a probe's own stiffness goes in its frequency)")
        lam = lam.copy()
        np.fill_diagonal(lam, 0.0)
    if sites is None and strengths is None:  # the probes alone: nothing to plug into
        return Probes(tuple(float(f) for f in freqs), lam, ())
    sites_l = list(sites) if isinstance(sites, (list, tuple, np.ndarray)) else [sites]
    str_l = list(strengths) if isinstance(strengths, (list, tuple, np.ndarray)) else [strengths]
    if len(sites_l) != p:
        raise HarmosyncError(f"probes sites has {len(sites_l)} entries but there are {p} probes; give one site (or list of sites) per probe")
    if len(str_l) != p:
        raise HarmosyncError(f"probes strengths has {len(str_l)} entries but there are {p} probes; give one K (or list of K) per probe")
    att = []
    for i, (s, k) in enumerate(zip(sites_l, str_l)):
        s_list = list(s) if isinstance(s, (list, tuple, np.ndarray)) else [s]
        if not s_list:
            raise HarmosyncError(f"probe {i + 1} has an empty list of sites; give at least one site 1..M")
        k_list = list(k) if isinstance(k, (list, tuple, np.ndarray)) else [k] * len(s_list)
        if len(k_list) != len(s_list):
            raise HarmosyncError(f"probe {i + 1} has {len(s_list)} sites but {len(k_list)} strengths")
        repeated = sorted({ss for ss in s_list if s_list.count(ss) > 1}, key=str)
        if repeated:  # the strengths would be summed silently (as repeated graph edges would)
            raise HarmosyncError(f"probe {i + 1} lists site {repeated[0]} more than once; give each site once, "
                                 "with the total strength K")
        for ss, kk in zip(s_list, k_list):
            if isinstance(ss, bool) or not isinstance(ss, (int, np.integer)):
                if isinstance(ss, float) and ss.is_integer():
                    ss = int(ss)
                else:
                    raise HarmosyncError(f"probe {i + 1} site must be an integer 1..M, got {ss!r}")
            att.append((i, int(ss), _finite(f"probe {i + 1} strength K", kk)))
    return Probes(tuple(float(f) for f in freqs), lam, tuple(att))


# ----------------------------------------------------------------------------------------------
# Probes + environment
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Network:
    """Probes plugged into an environment; validated stable (V positive definite) on creation."""

    environment: Environment
    probes: Probes
    _checked: bool = field(default=False, repr=False)

    def __post_init__(self):
        m = self.environment.sites
        for i, s, _ in self.probes.attachments:
            if not 1 <= s <= m:
                raise HarmosyncError(f"probe {i + 1} is plugged at site {s}, outside the chain's sites 1..{m}")
        check_stability(self)

    @property
    def n_probes(self) -> int:
        return self.probes.count

    @property
    def size(self) -> int:
        return self.probes.count + self.environment.sites

    def coupling_block(self) -> np.ndarray:
        """B (P × M): the probe–site block of V, B[i, site−1] = Σ K."""
        b = np.zeros((self.n_probes, self.environment.sites))
        for i, s, k in self.probes.attachments:
            b[i, s - 1] += k
        return b

    def potential(self, *, sparse: bool = False):
        """The total potential matrix V (N × N), probes first [frequency²]."""
        vs = sp.csr_matrix(self.probes.potential())
        b = sp.csr_matrix(self.coupling_block())
        v = sp.bmat([[vs, b], [b.T, self.environment.potential(sparse=True)]], format="csr")
        return v if sparse else v.toarray()

    def plugged_sites(self) -> list[int]:
        return sorted({s for _, s, _ in self.probes.attachments})

    def describe(self) -> dict:
        return {"environment": self.environment.describe(), "probes": self.probes.describe()}


def arccosh1p(x):
    """arccosh(1 + x) for x ≥ 0 without forming 1 + x (which loses x below ~1e-16 and digits of
    it below ~1e-8: Ω0 → 0): log1p(x + √(x (x + 2)))."""
    x = np.asarray(x, dtype=float)
    return np.log1p(x + np.sqrt(x * (x + 2.0)))


def environment_inverse_columns(env: Environment, sites: list[int]) -> np.ndarray:
    """Columns of V_E^{-1} at the given 1-based sites, shape (M, len(sites)).

    Homogeneous fixed chain: the closed-form Green's function of Ω0² + g·tridiag(−1, 2, −1),
    G_js = sinh(lo κ) sinh((M+1−hi) κ) / (g sinh κ sinh((M+1) κ)), cosh κ = 1 + Ω0²/2g,
    lo = min(j, s), hi = max(j, s), written with decaying exponentials so it cannot overflow.
    Otherwise a dense or sparse LU solve.
    """
    m = env.sites
    if env.homogeneous_chain and env.boundary == "fixed":
        om0, g = float(env.omega0), float(env.g)
        j = np.arange(1, m + 1)[:, None]
        s = np.asarray(sites)[None, :]
        if g == 0:
            return (j == s) / om0**2
        kap = arccosh1p(om0**2 / (2 * g))
        if kap == 0:  # Ω0 = 0 (acoustic): the κ → 0 limit, lo (M + 1 − hi) / (g (M + 1))
            return np.minimum(j, s) * (m + 1 - np.maximum(j, s)) / (g * (m + 1))
        lo, hi = np.minimum(j, s), np.maximum(j, s)
        num = np.exp((lo - hi - 1) * kap) * -np.expm1(-2 * lo * kap) * -np.expm1(-2 * (m + 1 - hi) * kap)
        return num / (g * -np.expm1(-2 * kap) * -np.expm1(-2 * (m + 1) * kap))
    rhs = np.zeros((m, len(sites)))
    for c, s in enumerate(sites):
        rhs[s - 1, c] = 1.0
    if m <= DENSE_LIMIT:
        return sla.solve(env.potential(), rhs, assume_a="pos")
    from scipy.sparse.linalg import splu

    return splu(env.potential(sparse=True).tocsc()).solve(rhs)


def _schur(network: Network):
    """(V_S, G = B V_E⁻¹ Bᵀ), both P × P."""
    env, pr = network.environment, network.probes
    vs = pr.potential()
    sites = network.plugged_sites()
    if not sites:
        return vs, np.zeros_like(vs)
    cols = environment_inverse_columns(env, sites)
    idx = [s - 1 for s in sites]
    bs = network.coupling_block()[:, idx]
    return vs, bs @ cols[idx, :] @ bs.T


def stability_report(network: Network, *, dense: bool | None = None) -> tuple[float, float]:
    """(smallest eigenvalue of V, critical scale s*) — V(s·K) is positive definite iff s < s*.

    Uses the Schur complement: with V_E > 0, V > 0 ⇔ V_S − s² B V_E⁻¹ Bᵀ > 0, so
    s* = 1/√λ_max(V_S⁻¹ B V_E⁻¹ Bᵀ) [dimensionless; ∞ for uncoupled probes]. The smallest
    eigenvalue is that of the dense V when ``dense`` (default: N ≤ 1000), otherwise that of
    the Schur complement V_S − B V_E⁻¹ Bᵀ (same sign, exact criterion).
    """
    vs, g = _schur(network)
    mu = sla.eigh(g, vs, eigvals_only=True) if np.all(np.linalg.eigvalsh(vs) > 0) else np.array([np.inf])
    s_star = 1.0 / np.sqrt(mu.max()) if mu.max() > 0 else np.inf
    if dense is None:
        dense = network.size <= 1000
    if dense:
        lam_min = float(np.linalg.eigvalsh(network.potential())[0])
    else:
        lam_min = float(np.linalg.eigvalsh(vs - g)[0])
    return lam_min, float(s_star)


#: A smallest eigenvalue of a potential matrix below this fraction of its scale is zero within
#: roundoff: no stable ground state can be computed from it.
RESOLVABLE = 1e-14


def check_stability(network: Network) -> None:
    """Refuse a network without a ground state (paper has no counterterm; see CONVENTIONS).

    The test itself is the P × P Schur complement (cheap at any N); the dense smallest eigenvalue
    is computed only to word the error."""
    env = network.environment
    env_min, env_scale = env.stability_bounds
    if env_min <= RESOLVABLE * env_scale:
        if env_min > -RESOLVABLE * env_scale:  # zero within roundoff: a (nearly) free particle
            raise UnstableEnvironmentError(
                f"the environment has a normal mode of frequency ≈ 0 (smallest eigenvalue {env_min:.3g} of its "
                f"potential matrix, below {RESOLVABLE:g} of its largest ≈ {env_scale:.3g}): double precision cannot "
                "resolve it; raise the lowest on-site frequencies"
            )
        raise UnstableEnvironmentError(
            f"the environment alone is unstable (smallest eigenvalue {env_min:.4g}); raise its on-site frequencies"
        )
    vs_min = float(np.linalg.eigvalsh(network.probes.potential())[0])
    if vs_min <= 0:
        raise UnstableNetworkError(
            f"the probes alone are unstable (smallest eigenvalue of their potential matrix {vs_min:.4g}); "
            "reduce a negative coupling λ or raise the probe frequencies"
        )
    vs, g = _schur(network)
    scale = max(1.0, float(np.abs(vs).max()))
    schur_min = float(np.linalg.eigvalsh(vs - g)[0])
    if schur_min > RESOLVABLE * scale:
        return
    if schur_min > 0:  # positive, but at the roundoff level of the potential matrix
        raise UnstableNetworkError(
            f"the network has a normal mode of frequency ≈ {np.sqrt(schur_min):.3g} [ω], too close to 0 for double "
            f"precision beside the largest entries of the potential (≈ {scale:.3g}); raise the lowest probe "
            "frequencies or weaken the couplings that lower them"
        )
    lam_min, s_star = stability_report(network)
    ks = [abs(k) for _, _, k in network.probes.attachments]
    kmax = max(ks) if ks else 0.0
    raise UnstableNetworkError(
        f"the network is unstable: the potential matrix has smallest eigenvalue {lam_min:.4g} "
        f"(it must be positive; there is no counterterm); the largest stable coupling is "
        f"|K| < {s_star * kmax:.6g} (the strengths scaled by {s_star:.6g}); reduce the strengths K"
    )


def couple(environment: Environment, probes_: Probes) -> Network:
    """Plug ``probes_`` into ``environment``; raises :class:`UnstableNetworkError` if unstable."""
    return Network(environment, probes_)


def paper_network(*, sites=300, omega0=0.4, g=1.2, frequencies=(1.0, 1.1), coupling=0.5,
                  plug=(1, 1), strengths=(0.2, 0.2), boundary="fixed") -> Network:
    """The paper's configuration (defaults: Fig. 1)."""
    return couple(chain(sites, omega0, g, boundary), probes(frequencies, coupling, plug, strengths))


def system_normal_modes(frequencies, coupling) -> tuple[float, np.ndarray]:
    """θ and (Ω_1, Ω_2) of two coupled probes (Appendix A, Eq. A7), Ω_1 ≤ Ω_2.

    q1 = cos θ x1 + sin θ x2 (frequency Ω_1), q2 = −sin θ x1 + cos θ x2 (Ω_2), with
    tan 2θ = 2λ/(ω2² − ω1²); θ = ½ atan2(2λ, ω2² − ω1²) picks the branch where q1 is the
    lower mode. Ω_s² = λ + (ω1² + ω2²)/2 + (−1)^s ½ √(4λ² + (ω1² − ω2²)²).
    """
    w1, w2 = (float(f) for f in frequencies)
    lam = float(coupling)
    theta = 0.5 * np.arctan2(2 * lam, w2**2 - w1**2)
    root = np.sqrt(4 * lam**2 + (w1**2 - w2**2) ** 2)
    mid = lam + 0.5 * (w1**2 + w2**2)
    return float(theta), np.sqrt(np.array([mid - 0.5 * root, mid + 0.5 * root]))


def system_mode_coordinates(x1, x2, theta: float):
    """(q1, q2) = (cos θ x1 + sin θ x2, −sin θ x1 + cos θ x2), Eqs. (A4), (A5), with θ from
    :func:`system_normal_modes` [same unit as x]."""
    c, s = np.cos(theta), np.sin(theta)
    return c * np.asarray(x1) + s * np.asarray(x2), -s * np.asarray(x1) + c * np.asarray(x2)
