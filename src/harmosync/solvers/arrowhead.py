"""Normal modes of P probes plugged into an environment whose own modes are known.

In the basis (probes, environment modes) the potential matrix is an arrowhead matrix with P
arrow rows:

    [[V_S, C], [Cᵀ, diag(d)]],   C = B W_E (P × M).

The probes are added one at a time. Adding probe i to the eigenbasis built so far (eigenvalues
λ_j) gives the one-row arrowhead [[s_i, zᵀ], [z, diag(λ)]], s_i = (V_S)_ii and z the coupling
row (V_S[i, :i], C[i]) expressed in that eigenbasis; its eigenvalues are the roots of the
secular equation

    f(μ) = s_i − μ + Σ_j z_j² / (μ − λ_j) = 0,

one in each interval between consecutive λ_j and one beyond each end (interlacing), and whose
eigenvectors are n_k (1, z_j / (μ_k − λ_j)) with n_k = (1 + Σ_j z_j²/(μ_k − λ_j)²)^{-1/2}.

* Roots are stored as (origin pole o, offset τ = μ − λ_o), so that the differences μ − λ_j
  that build the eigenvectors are formed as (λ_o − λ_j) + τ without cancellation (the
  floating-point difference of two nearby stored poles is exact).
* Each root is found by a rational ("middle way") model that keeps the two neighbouring poles
  and matches f and f′ on each side, inside a bracket maintained from the sign of f:
  quadratic convergence, bisection fallback.
* Deflation: a pole with |z_j| ≤ 8 ε ‖·‖ is an eigenpair already (a chain mode the probe does
  not touch, e.g. sin(πjm/(M+1)) = 0); two poles closer than 8 ε ‖·‖ are rotated so that only
  one couples. Both change the matrix by at most 8 ε ‖·‖: the result is the exact
  decomposition of a matrix within a few ulps of the input (backward stable, like LAPACK's
  divide-and-conquer merge step that this follows).

Costs O(P · iterations · N²) time and O(N · chunk) memory; only requested rows of the
eigenvector matrix (the probes, observed sites) are ever formed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

EPS = np.finfo(float).eps
CHUNK = 16  # fewest roots per block in the O(N²) sums
BLOCK_NUMBERS = 1 << 18  # numbers per block (2 MB: stays in cache)
MAX_ROWS = 48  # keeps the band of roots with mixed left/right poles narrow
THREADS = 2  # threads for the O(N²) sums (this machine: 2 cores)
PARALLEL_MIN = 4_000_000  # N² above which the sums are split over the threads
MAX_ITER = 60


@dataclass
class _Stage:
    """One arrowhead merge: probe mode with diagonal s coupled by z to the previous basis."""

    n_prev: int
    rotations: list = field(default_factory=list)  # (i, j, c, s) Givens on previous basis
    deflated: np.ndarray = None  # previous indices that pass through unchanged
    active: np.ndarray = None  # previous indices that couple
    poles: np.ndarray = None  # λ of the active poles
    z: np.ndarray = None  # z of the active poles
    origin: np.ndarray = None  # root k: index into ``poles``
    tau: np.ndarray = None  # root k: μ_k − poles[origin]
    norm: np.ndarray = None  # root k: n_k
    order: np.ndarray = None  # new eigen index → (root k or deflated pole), sorted by value
    values: np.ndarray = None  # new eigenvalues, ascending

    def apply(self, rows: np.ndarray) -> np.ndarray:
        """Row vectors over [probe mode, previous basis] (k, 1 + n_prev) → over the new
        eigenbasis (k, n_prev + 1)."""
        rows = np.array(rows, dtype=float, ndmin=2)
        head, rest = rows[:, 0], rows[:, 1:].copy()
        for i, j, c, s in self.rotations:
            ri, rj = rest[:, i].copy(), rest[:, j].copy()
            rest[:, i] = c * ri - s * rj
            rest[:, j] = s * ri + c * rj
        nroot = self.tau.size
        out_roots = np.empty((rows.shape[0], nroot))
        if self.active.size:
            rz = rest[:, self.active] * self.z  # (k, n_act)

            def work(a, b):
                d = self.poles[self.origin[a:b], None] - self.poles[None, :]
                d += self.tau[a:b, None]
                np.reciprocal(d, out=d)
                out_roots[:, a:b] = (d @ rz.T).T

            _blocks(nroot, work, self.poles.size)
            out_roots += head[:, None]
        else:
            out_roots[:] = head[:, None]
        out_roots *= self.norm
        full = np.hstack([out_roots, rest[:, self.deflated]])
        return full[:, self.order]


def _blocks(n: int, work, width: int | None = None):
    """Run work(a, b) over row blocks [a, b) of [0, n) (rows of ``width`` ≈ n numbers, blocks of
    ≲ 2 MB); two threads for large n (numpy's elementwise kernels and BLAS level-2 release the
    GIL)."""
    width = n if width is None else width
    rows = min(MAX_ROWS, max(CHUNK, BLOCK_NUMBERS // max(width, 1)))
    starts = list(range(0, n, rows))
    if n * max(width, 1) < PARALLEL_MIN or THREADS < 2:
        for a in starts:
            work(a, min(a + rows, n))
        return
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    half = [starts[: len(starts) // 2], starts[len(starts) // 2:]]

    def run(part):
        for a in part:
            work(a, min(a + rows, n))

    with threadpool_limits(1), ThreadPoolExecutor(2) as ex:
        list(ex.map(run, half))


def _sums(poles, z2, origin, tau, left_count):
    """ψ, ψ′, φ, φ′ at τ for each root: sums over poles left (index < left_count) and right."""
    n = tau.size
    psi, dpsi, phi, dphi = (np.empty(n) for _ in range(4))

    def work(a, b):
        d = poles[origin[a:b], None] - poles[None, :]
        d += tau[a:b, None]
        np.reciprocal(d, out=d)
        lc = left_count[a:b]
        lo, hi = int(lc.min()), int(lc.max())
        # poles < lo are left of every root in the block, ≥ hi right of every one
        psi_ab = d[:, :lo] @ z2[:lo]
        phi_ab = d[:, hi:] @ z2[hi:]
        mid = d[:, lo:hi] * z2[lo:hi]
        mask = np.arange(lo, hi)[None, :] < lc[:, None]
        psi_ab += np.where(mask, mid, 0.0).sum(axis=1)
        phi_ab += np.where(mask, 0.0, mid).sum(axis=1)
        np.square(d, out=d)
        dpsi_ab = -(d[:, :lo] @ z2[:lo])
        dphi_ab = -(d[:, hi:] @ z2[hi:])
        mid = d[:, lo:hi] * z2[lo:hi]
        dpsi_ab -= np.where(mask, mid, 0.0).sum(axis=1)
        dphi_ab -= np.where(mask, 0.0, mid).sum(axis=1)
        psi[a:b], phi[a:b], dpsi[a:b], dphi[a:b] = psi_ab, phi_ab, dpsi_ab, dphi_ab

    _blocks(n, work, poles.size)
    return psi, dpsi, phi, dphi


def _model_root(c, beta_l, dl, beta_r, dr, lo, hi, has_l, has_r, t0):
    """Root of m(τ) = c − τ + β_L/(τ − δ_L) + β_R/(τ − δ_R) in (lo, hi), m decreasing there.

    Newton on the cubic p = m·(τ − δ_L)(τ − δ_R) (smooth, no poles; sign(p) = −sign(m) inside
    the interval), kept inside the bracket by bisection.
    """
    t = np.clip(t0, lo, hi)
    lo, hi = lo.copy(), hi.copy()
    dl_, dr_ = np.where(has_l, dl, 0.0), np.where(has_r, dr, 0.0)
    sl, sr = has_l.astype(float), has_r.astype(float)
    for _ in range(60):
        el = sl * (t - dl_) + (1 - sl)
        er = sr * (t - dr_) - (1 - sr)
        lin = c - t
        p = lin * el * er + beta_l * er + beta_r * el
        dp = -el * er + lin * (sl * er + el * sr) + beta_l * sr + beta_r * sl
        hi = np.where(p > 0, t, hi)  # p > 0 ⇔ m < 0 ⇔ root to the left
        lo = np.where(p < 0, t, lo)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = t - p / dp
        bad = ~((step > lo) & (step < hi))
        new = np.where(bad, 0.5 * (lo + hi), step)
        # p at its roundoff level, a step below an ulp, or a collapsed bracket
        noise = 4 * EPS * (np.abs(lin * el * er) + np.abs(beta_l * er) + np.abs(beta_r * el))
        done = ((np.abs(p) <= noise) | (np.abs(new - t) <= 2 * EPS * np.abs(t))
                | (hi - lo <= 2 * EPS * np.maximum(np.abs(lo), np.abs(hi))))
        t = np.where(np.abs(p) <= noise, t, new)
        if np.all(done):
            break
    return t


def secular_solve(poles: np.ndarray, z: np.ndarray, s: float):
    """Roots of s − μ + Σ z_j²/(μ − λ_j) = 0 for sorted distinct ``poles`` λ and nonzero z.

    Returns (origin, tau, norm): root k = poles[origin[k]] + tau[k] lies in the k-th interval
    (k = 0 below the first pole, k = n above the last); norm[k] = n_k.
    """
    n = poles.size
    z2 = z * z
    znorm = float(np.sqrt(z2.sum()))
    nroot = n + 1
    k = np.arange(nroot)
    left_count = k.copy()  # poles with index < k are left of root k
    # origin: the nearer end of the interval, decided by the sign of f at the midpoint
    origin = np.clip(k - 1, 0, n - 1)
    tau = np.zeros(nroot)
    gap = np.zeros(nroot)
    inner = (k > 0) & (k < n)
    gap[inner] = poles[k[inner]] - poles[k[inner] - 1]
    tau[inner] = 0.5 * gap[inner]
    lo_all = min(s, poles[0]) - znorm
    hi_all = max(s, poles[-1]) + znorm
    tau[0] = 0.5 * (lo_all - poles[0]) if n else 0.0
    tau[n] = 0.5 * (hi_all - poles[-1])
    origin[0] = 0
    psi, dpsi, phi, dphi = _sums(poles, z2, origin, tau, left_count)
    f = (s - poles[origin]) - tau + psi + phi
    # inner roots: f(mid) ≥ 0 → root in [mid, right pole) → origin = right pole
    right = inner & (f >= 0)
    origin[right] = k[right]
    tau[right] = -0.5 * gap[right]  # same midpoint, measured from the right pole
    # brackets in τ (relative to origin); poles themselves are excluded
    lo = np.where(inner, np.where(right, -0.5 * gap, 0.0), 0.0)
    hi = np.where(inner, np.where(right, 0.0, 0.5 * gap), 0.0)
    lo[0], hi[0] = lo_all - poles[0], 0.0
    lo[n], hi[n] = 0.0, hi_all - poles[-1]
    # after moving the origin, the midpoint sums are unchanged (same μ), only bookkeeping
    dl = np.where(k > 0, poles[np.maximum(k - 1, 0)] - poles[origin], 0.0)
    dr = np.where(k < n, poles[np.minimum(k, n - 1)] - poles[origin], 0.0)
    has_l, has_r = k > 0, k < n
    todo = np.ones(nroot, bool)
    it = 0
    while True:
        # model step from the current τ (value and slope of ψ, φ matched separately)
        el = np.where(has_l, tau - dl, 1.0)
        er = np.where(has_r, tau - dr, -1.0)
        beta_l = np.where(has_l, -dpsi * el**2, 0.0)
        beta_r = np.where(has_r, -dphi * er**2, 0.0)
        alpha_l = np.where(has_l, psi - beta_l / el, psi)
        alpha_r = np.where(has_r, phi - beta_r / er, phi)
        c = (s - poles[origin]) + alpha_l + alpha_r
        idx = np.flatnonzero(todo)
        tau_new = _model_root(c[idx], beta_l[idx], dl[idx], beta_r[idx], dr[idx], lo[idx], hi[idx],
                              has_l[idx], has_r[idx], tau[idx])
        tau[idx] = tau_new
        p_, dp_, f_, df_ = _sums(poles, z2, origin[idx], tau[idx], left_count[idx])
        psi[idx], dpsi[idx], phi[idx], dphi[idx] = p_, dp_, f_, df_
        fval = (s - poles[origin[idx]]) - tau[idx] + p_ + f_
        scale = np.abs(s - poles[origin[idx]]) + np.abs(tau[idx]) + p_ - f_
        lo[idx] = np.where(fval > 0, tau[idx], lo[idx])
        hi[idx] = np.where(fval < 0, tau[idx], hi[idx])
        width = hi[idx] - lo[idx]
        conv = (np.abs(fval) <= 8 * EPS * scale * max(1.0, np.log2(n + 1))) | (width <= 4 * EPS * np.abs(tau[idx]))
        todo[idx[conv]] = False
        it += 1
        if not todo.any():
            break
        if it >= MAX_ITER:
            raise FloatingPointError(f"secular equation: {int(todo.sum())} roots did not converge")
    norm = 1.0 / np.sqrt(1.0 - dpsi - dphi)
    return origin, tau, norm


def merge(values: np.ndarray, z: np.ndarray, s: float) -> _Stage:
    """Eigen-decompose [[s, zᵀ], [z, diag(values)]] (``values`` ascending)."""
    n = values.size
    st = _Stage(n_prev=n)
    z = np.array(z, dtype=float)
    scale = max(float(np.abs(values).max(initial=0.0)), abs(s)) + float(np.linalg.norm(z))
    tol = 8 * EPS * scale
    # close poles: rotate so that only one of them couples
    i = 0
    while i < n - 1:
        j = i + 1
        if values[j] - values[i] <= tol and abs(z[i]) > tol and abs(z[j]) > tol:
            r = float(np.hypot(z[i], z[j]))
            c, s_ = z[j] / r, z[i] / r
            st.rotations.append((i, j, c, s_))
            z[i], z[j] = 0.0, r
        i += 1
    coupled = np.abs(z) > tol
    st.active = np.flatnonzero(coupled)
    st.deflated = np.flatnonzero(~coupled)
    st.poles = values[st.active]
    st.z = z[st.active]
    if st.active.size:
        st.origin, st.tau, st.norm = secular_solve(st.poles, st.z, float(s))
        root_vals = st.poles[st.origin] + st.tau
    else:
        st.origin, st.tau, st.norm = np.zeros(1, int), np.zeros(1), np.ones(1)
        root_vals = np.array([float(s)])
    allv = np.concatenate([root_vals, values[st.deflated]])
    st.order = np.argsort(allv, kind="stable")
    st.values = allv[st.order]
    return st


@dataclass
class ArrowheadModes:
    """Normal modes of [[V_S, B W], [(B W)ᵀ, diag(d)]] for the probes added so far:
    ``values`` μ_k (ascending); rows of the eigenvector matrix through :meth:`rows`."""

    values: np.ndarray
    stages: list  # stage i added probe i
    n_env: int

    @property
    def n_probes(self) -> int:
        return len(self.stages)

    def transform(self, probe_part: np.ndarray, env_part: np.ndarray) -> np.ndarray:
        """Row vectors given by their probe coordinates (k, P) and environment-mode coordinates
        (k, M) → coordinates in the eigenbasis (k, N)."""
        vec = np.atleast_2d(env_part)
        probe_part = np.atleast_2d(probe_part)
        for i, st in enumerate(self.stages):
            vec = st.apply(np.hstack([probe_part[:, i:i + 1], vec]))
        return vec

    def rows(self, probe_rows=None, env_rows=None) -> np.ndarray:
        """Rows of U: ``probe_rows`` (k, P) in probe coordinates and ``env_rows`` (k, M) in the
        environment's mode basis, stacked (probe rows first)."""
        p, m = self.n_probes, self.n_env
        out = []
        if probe_rows is not None:
            pr = np.atleast_2d(probe_rows)
            out.append(self.transform(pr, np.zeros((pr.shape[0], m))))
        if env_rows is not None:
            er = np.atleast_2d(env_rows)
            out.append(self.transform(np.zeros((er.shape[0], p)), er))
        return np.vstack(out)


def arrowhead_modes(vs: np.ndarray, env_d: np.ndarray, env_c: np.ndarray, *,
                    base: ArrowheadModes | None = None) -> ArrowheadModes:
    """Normal modes of probes (V_S, P × P) coupled by env_c = B·W_E (P × M) to environment
    modes with squared frequencies env_d (M, ascending; equal or uncoupled ones are deflated).

    Probe i is added to the eigenbasis of probes 0..i−1 and the environment, with diagonal
    V_S[i, i] and couplings V_S[i, :i], env_c[i]. ``base``: the modes of the first k probes of
    this same problem (same V_S[:k, :k], env_c[:k], env_d), to continue from — what a sweep over
    the position of the last probe shares.
    """
    vs = np.asarray(vs, float)
    env_c = np.asarray(env_c, float)
    values = np.asarray(env_d, float) if base is None else base.values
    stages: list[_Stage] = [] if base is None else list(base.stages)
    for i in range(len(stages), vs.shape[0]):
        head = vs[i, :i][None, :]
        zrow = env_c[i][None, :]
        for j, st in enumerate(stages):
            zrow = st.apply(np.hstack([head[:, j:j + 1], zrow]))
        st = merge(values, zrow[0], float(vs[i, i]))
        stages.append(st)
        values = st.values
    return ArrowheadModes(values, stages, int(np.asarray(env_d).size))
