"""The closed solver: exact Gaussian dynamics of a quadratic network from its normal modes.

With V = U diag(w²) Uᵀ, the scaled normal coordinates y = (√w Uᵀx, Uᵀp/√w) rotate rigidly,
mode by mode, by the angle w_k t. So

* the mean of any oscillator is a trig sum Σ_k [α_k cos(w_k t) + β_k sin(w_k t)];
* the covariance is split as σ'(0) = diag(ν, ν) + Δ, with diag(ν, ν) the coupled network's own
  thermal state (stationary: it contributes a constant) and Δ numerically low rank (the initial
  state differs from it only through the probes and through the coupling, a rank-2P
  perturbation of V). With Δ = Σ_r λ_r v_r v_rᵀ, each observed covariance block is
  const + Σ_r λ_r z_r(t) z_r(t)ᵀ, where z_r(t) are again trig sums.

No time stepping is involved. The work splits in three steps, each with a fast path chosen
automatically by :func:`solve_closed` and the evolution's methods:

1. **Normal modes** (:mod:`.spectrum`). Dense ``eigh`` of V (N ≤ ``DENSE_MAX`` oscillators, or
   a general graph environment); above that, for a homogeneous chain with fixed or free ends,
   the modes follow from P secular equations in the chain's closed-form mode basis (Eqs. A6,
   A8; :mod:`harmosync.solvers.arrowhead`): O(N²) time, O(N) memory, only the observed rows of U.
   With ``t_max`` given and a fixed-end chain, the chain is first cut to the sites within reach
   of the probes (:mod:`harmosync.lightcone`), when that keeps less than 80% of it.
2. **Δ in low-rank form** from the probe rows of U alone, via a pole representation of the
   stationary variance and the resolvent identity (:mod:`harmosync.solvers.lowrank`); never a
   2N × 2N matrix. Eigenpairs of Δ with |λ| ≤ tol·max(1, ‖Δ‖) are dropped; where Δ's
   readout bound is most of the covariance's and pairs were dropped, those with |λ| ≤
   tol·RETRY_TOL·max(1, ‖Δ‖) instead, if that bound is smaller (a probe squeezed to r = 6.4
   sets ‖Δ‖ ~ 1e5, and the environment's own pairs ~K² it dropped erred 2e-7 of max|σ| on the
   observed chain sites: tests/test_bound_lowrank.py).
3. **Trig sums** on uniform time grids by a non-uniform FFT when that is cheaper, blockwise BLAS
   products otherwise (:mod:`harmosync.solvers.trigsum`); arbitrary grids by direct products.

Error bound (``NormalModeEvolution.error_bound``): absolute, on every mean ⟨x_a⟩, ⟨p_a⟩ and
every covariance entry σ_ab of the observed oscillators, for |t| ≤ ``t_max``; without a
``t_max``, for the times evaluated so far (``NormalModeEvolution.cover`` sets it at the first
evaluation and raises it before each later one reaches a later |t|: read it after evaluating);
the means' part alone with
``covariance=False``. The sum of
(:mod:`harmosync.solvers.lowrank`)

* Δ's truncation: ε_Δ·|r_a|·|r_b| (dropped eigenvalues, pole rule, skeleton compression);
* the eigenvalues' error e_k ≥ |μ̃_k − μ_k|, μ_k the eigenvalues of V built from the exact
  parameters, per mode and a posteriori: residuals and Rayleigh quotients in extended precision,
  the residual theorem and the Kato–Temple inequality, V's own rounding from the parameters
  (dense: :func:`~.spectrum.dense_mode_errors`, and the soft modes recomputed from the
  parameters in Laplacian form, :func:`~.spectrum.refine_soft_modes`; chain: the modes most
  like a probe, by the arrowhead's residual, the soft ones recomputed in Laplacian form as the
  dense path's, :func:`~.spectrum.refine_chain_soft`, the others by the a-priori
  8ε(μ_k + 2‖V‖·|a_k|)); a cluster the per-mode enclosures cannot separate is enclosed as a
  subspace (:func:`~harmosync.solvers.softgeometry.cluster_enclose`).
  e_k enters (i) the stationary split, to first order
  (``eigen_roundoff``: g(μ̃) for g(μ) in the stationary part, in Δ and between them) and (ii)
  the propagator, amplitude and phase, up to t_max (:func:`~harmosync.solvers.roundoff.mode_terms`);
* a dense eigh of V_E (graphs, defect chains): its eigenvalues' errors through
  Δ, a Gram form over the poles of g (:func:`~harmosync.solvers.softmodes.environment_roundoff`);
* the trig sums' roundoff and the phase error 3ε·w_k·t of the rounded products, per observed x
  and p row and summed over modes with the amplitude of each (``trig_sum_errors``), for the
  means and for every pair of rows of the covariance: the direct tables' 4ε√N, raised to the
  NUFFT's floor once an evaluation runs the NUFFT (``NormalModeEvolution.cover``);
* with a light-cone cut, the cut's bound on every moment;
* wherever a sum over modes is read out (the trig sums' size, the eigenvector term's readout,
  Δ's factors in the lowrank terms) the near-degenerate modes' terms are summed with their
  signs first, up to t_max (:func:`~harmosync.solvers.roundoff.mode_clusters`): a probe
  resonant with a mode through a weak coupling shares it with opposite signs on the sites;
* a posteriori, at least ``INITIAL_CHECK`` times the miss at t = 0 of the observed probes
  (:func:`initial_discrepancy`) and, without a cut, of the observed environment sites against
  H_E's thermal state (:func:`environment_discrepancy`: hot soft networks near their
  stability limit lose digits there that the terms above do not all count: the rounding of
  Δ's resolvent pieces on a soft mode, amplified ~T/μ_0; Ψ's and H_ζ's part is bounded a priori,
  :func:`~harmosync.solvers.lowrank.input_roundoff`).

It is first order in the eigenvalues' errors; the refined soft modes' eigenvector errors enter
through their parts outside the exact soft span, bounded row by row on the observed rows
(:func:`~harmosync.solvers.softmodes.vector_roundoff`, :func:`~harmosync.solvers.softmodes.hard_components`),
the dense eigh's other eigenvectors through the residual matrix in the computed eigenbasis and
the propagator's divided differences (Daleckii–Krein; :func:`~.spectrum.eigenvector_roundoff`, up to
t_max; the chain path's from the vectors (a_k, Cᵀa_k/(μ_k − d)) and their residuals,
:mod:`~harmosync.solvers.arrowvectors`, any number of modes): tested
honest against 25–40-digit references on soft, hot, near-critical, acoustic and random networks,
and 2–160× above the actual error there (docs/conventions.md).

Memory (besides the result, T × (2n)² numbers): O(N·C) for the mode coefficients, C = 2n(R+1)
columns, plus one time chunk: L ≤ 2¹⁷ NUFFT points (48·L·C ≤ 96 MB), or for BLAS blocks a
cos/sin table of ≤ 2²¹ numbers; about 8·N·(6C + 8) + 48·L·C bytes (+ 32 MB). Never T × N.
``iter_moments`` streams chunks.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

import numpy as np

from .. import lightcone as lc
from ..conventions import thermal_factor
from ..errors import HarmosyncError, NumericalError
from ..network import Network, chain_mode_rows, chain_modes
from ..solvers import blas_threads
from ..solvers.arrowhead import chain_mode_errors
from ..solvers.lowrank import low_rank_delta
from ..solvers.roundoff import (eigen_roundoff, evaluation_roundoff, evaluation_roundoffs, means_roundoff,
                                means_roundoffs, mode_clusters)
from ..solvers.softmodes import environment_roundoff, vector_roundoff
from ..states import InitialState, environment_covariance
from .contract import Moments, check_times
from .evaluation import BLOCK, checked_grid, evaluate_means, iter_moment_rows, uses_nufft
from .spectrum import Spectrum, VectorTerm, chain_spectrum, cut_chain, dense_spectrum

#: the bound is at least this many times the discrepancy at t = 0 (:func:`initial_discrepancy`):
#: a safety net, measured where no a-priori term reaches (it caught the soft T = 0 chains' loss
#: to the skeleton compression before soft modes were taken exactly)
INITIAL_CHECK = 10.0
#: environments above this many sites (not homogeneous chains) skip the t = 0 check of the
#: observed environment sites when the solve did not diagonalise V_E (:func:`environment_discrepancy`:
#: a second O(M³) eigh)
ENV_CHECK_MAX = 1000
#: a solution that misses the initial state by more than this fraction of it is refused
LOST = 1e-4
#: networks with at most this many oscillators use the dense eigendecomposition
DENSE_MAX = 400
#: the structured path's O(N²) secular sweeps take ~5 s at N = 10⁴ on 2 cores: refuse N above
CHAIN_MAX = 150_000
#: the dense path's O(N³) eigendecomposition (graph environments, periodic chains): refuse above
DENSE_LIMIT_SOLVE = 20_000
#: below this many oscillators the dense linear algebra runs on one BLAS thread (faster)
SMALL = 50_000
METHODS = ("auto", "dense", "chain")


def solve_threads(size: int) -> int | None:
    """The BLAS threads a solve of ``size`` oscillators runs in (``blas_threads``): one up to SMALL."""
    return 1 if size <= SMALL else None


#: serialises the read-and-raise of NormalModeEvolution.cover between threads
COVER_LOCK = threading.Lock()


@dataclass(frozen=True, eq=False)
class NormalModeEvolution:
    """The closed solver's :class:`~harmosync.dynamics.Evolution`, for a set of observed
    oscillators (0-based, probes first).

    Solver data (read only inside :mod:`harmosync.dynamics`): ``frequencies`` w_k (N,);
    ``readout`` U[rows] (n, N); ``mean0`` (2, N) the initial mean in scaled normal coordinates;
    ``nu`` (N,) the stationary part; ``values`` (R,) and ``vectors`` (2, N, R) the low-rank part
    Δ; ``method`` "dense" or "chain" (+ "+lightcone"); ``window`` the (first, last) chain sites
    kept by a light-cone cut, or None. Contract: ``rows``, ``error_bound`` (module docstring),
    ``t_max`` (the ``t_max`` solved for, ∞ if none), ``energy`` (the conserved ⟨H⟩), ``has_covariance``, ``means``,
    ``moments``, ``iter_moments``, ``max_frequency``, ``diagnostics``. Modes that no observed
    oscillator sees are left out of the structured path's N.
    """

    frequencies: np.ndarray
    rows: tuple[int, ...]
    readout: np.ndarray
    mean0: np.ndarray
    nu: np.ndarray
    values: np.ndarray
    vectors: np.ndarray
    energy: float
    error_bound: float
    method: str = "dense"
    t_max: float = np.inf
    window: tuple[int, int] | None = None
    has_covariance: bool = True
    # what the bound at a later horizon needs (:meth:`cover`): the eigenvalues' errors, the
    # covariance terms that do not grow with t, the a-posteriori floor, the |t| covered so far
    # and whether the bound covers the NUFFT's floor (assemble bounds the direct tables); the
    # light-cone cut's bound, added to the rest
    mu_error: np.ndarray | None = None
    fixed_bound: float = 0.0
    cut_bound: float = 0.0
    bound_floor: float = 0.0
    covered: float = np.inf
    nufft_covered: bool = True
    vector_term: object = field(default=None, repr=False)  # |t| → the dense eigh's eigenvector term (assemble)
    # |t| → the covariance terms that do not grow with t but whose readouts cancel over
    # near-degenerate modes up to |t| (solved without t_max; else None: ``fixed_bound``)
    fixed_at: object = field(default=None, repr=False)
    # (|t|, nufft) → the means' and the evaluation's roundoff there, as assemble found them for
    # both evaluators at once (a map's networks are each evaluated once, by the NUFFT)
    known_roundoff: dict = field(default_factory=dict, repr=False)

    @property
    def rank(self) -> int:
        return int(self.values.size)

    @property
    def max_frequency(self) -> float:
        return float(self.frequencies[-1])

    @property
    def steady(self) -> None:
        """A closed network does not relax: no steady covariance."""
        return None

    def diagnostics(self) -> dict:
        """``rank`` of Δ, highest and lowest normal-mode frequency [ω]."""
        return {"rank": self.rank, "highest_mode_frequency": float(self.frequencies[-1]),
                "lowest_mode_frequency": float(self.frequencies[0])}

    def means(self, times, *, engine: str = "auto", columns=None) -> np.ndarray:
        """⟨x_i⟩, ⟨p_i⟩ of the observed oscillators (T, 2n), interleaved: 2n trig sums, no
        covariance work [x in ω^(-1/2), p in ω^(1/2)]. ``columns``: only these interleaved
        columns, in this order (T, len(columns)), e.g. (0, 2) for ⟨x1⟩, ⟨x2⟩ — half the
        transforms; bitwise the full result's columns when they pair as the full evaluation
        pairs them (the NUFFT transforms neighbouring columns of the block order x…, p… in
        pairs: all positions of an even number of oscillators, say), else within roundoff."""
        self.cover(times, engine=engine, means_only=True)
        return evaluate_means(self, times, engine=engine, columns=columns)

    def cover(self, times, *, engine: str = "auto", means_only: bool = False) -> None:
        """Raise ``error_bound`` to cover ``times`` evaluated with ``engine`` (solved without
        ``t_max``, the bound covers the times evaluated so far: the phase errors grow with |t|,
        module docstring; the NUFFT's floor is charged once an evaluation runs it,
        :func:`.evaluation.uses_nufft`); called by every evaluation, before it runs. Solved
        without t_max, the first evaluation replaces solve's bound rather than raising it
        (``covered`` < 0 until then): solve's read Δ mode by mode (valid at every t), this one
        sums near-degenerate modes up to the horizon (:attr:`fixed_at`), and it adds the
        eigenvector term, at t = 0 too (solve leaves it to this, ~1.5 ms on W1)."""
        # (times beyond t_max are refused by the evaluation: the bound covers |t| ≤ t_max only)
        t = checked_grid(times)[0]  # (a map's grid is checked once, not per network)
        horizon = min(max(abs(float(t[0])), abs(float(t[-1]))), self.t_max)
        nufft = not self.nufft_covered and uses_nufft(self, times, engine=engine, means_only=means_only)
        while True:  # the bound at what is covered so far and these times together
            state = self.covered, self.nufft_covered
            reach, floor = max(horizon, state[0]), nufft or state[1]
            if (reach, floor) == state:
                return
            known = self.known_roundoff.get((reach, floor))
            bound = known[0] if known else means_roundoff(self.frequencies, self.readout, self.mean0, reach,
                                                          self.mu_error, nufft=floor)
            term = self.cut_bound + (self.vector_term(reach) if self.vector_term is not None else 0.0)
            if self.has_covariance:
                ev = known[1] if known else evaluation_roundoff(
                    self.frequencies, self.readout, self.nu, self.values, self.vectors, reach, self.mu_error,
                    nufft=floor)
                fixed = self.fixed_bound
                if self.fixed_at is not None and fixed > max(bound, ev) + term:  # (else it gains < 2×)
                    fixed = self.fixed_at(reach)
                bound = float(np.maximum(bound, fixed + ev))  # (a NaN stays one, for _check_bound; max() drops it)
            bound += term
            _check_bound(bound)
            with COVER_LOCK:  # threads evaluating one evolution: neither lowers the other's bound or reach
                if (self.covered, self.nufft_covered) == state:  # else another thread moved it: again
                    # (solved without t_max, the first evaluation's bound replaces solve's, whose
                    # Δ readout was mode by mode for every t: both cover t = 0)
                    before = self.error_bound if state[0] >= 0 else 0.0
                    object.__setattr__(self, "error_bound", max(before, bound, self.bound_floor))
                    object.__setattr__(self, "covered", reach)
                    object.__setattr__(self, "nufft_covered", floor)
                    return

    def iter_moments(self, times, *, block: int = None, engine: str = "auto"):
        """Yield (slice, mean (B, 2n), cov (B, 2n, 2n)) chunks, interleaved ordering.
        ``engine``: "auto" (non-uniform FFT or BLAS blocks on uniform grids, whichever is
        cheaper), "nufft", "direct". Chunks hold at most ``block`` times."""
        self.cover(times, engine=engine)
        for sl, m, c in iter_moment_rows(self, times, block=BLOCK if block is None else block, engine=engine):
            out = sl, np.ascontiguousarray(m.T), np.ascontiguousarray(np.moveaxis(c, -1, 0))
            del m, c  # m views its whole chunk: let it go before the next one is computed
            yield out

    def moments(self, times, *, block: int = 4096, engine: str = "auto", by_entry: bool = False) -> Moments:
        """Means and covariance of the observed oscillators at every time, exactly. Memory:
        T·(2n)² for the result plus the work space of ``iter_moments``. ``by_entry``: the same
        numbers, but ``mean`` (T, 2n) and ``cov`` (T, 2n, 2n) are views of arrays stored entry
        by entry (each entry's time series contiguous: ``cov[:, a, b]`` is one contiguous row),
        which is how the evaluation produces them — no transpose; for measures that read entry
        by entry (a map's mutual information, log negativity, C of the variances)."""
        t = check_times(times)
        self.cover(t, engine=engine)
        n = len(self.rows)
        if by_entry:  # stored (2n, T) and (2n, 2n, T); the result's arrays are transposed views
            store_m, store_c = np.empty((2 * n, t.size)), np.empty((2 * n, 2 * n, t.size))
            mean, cov = store_m.T, np.moveaxis(store_c, -1, 0)
            finite: list[bool] = []  # per chunk, checked as it is written
            for _ in iter_moment_rows(self, t, block=block, engine=engine, into=(store_m, store_c), finite=finite):
                pass  # each chunk written straight into the stores
            ok = all(finite)
        else:
            mean, cov = np.empty((t.size, 2 * n)), np.empty((t.size, 2 * n, 2 * n))
            for sl, m, c in iter_moment_rows(self, t, block=block, engine=engine):
                mean[sl] = m.T  # each chunk transposed into place: no second result-sized array
                cov[sl] = np.moveaxis(c, -1, 0)
            ok = bool(np.isfinite(mean).all() and np.isfinite(cov).all())
        if not ok:
            raise NumericalError("the evolution produced NaN or inf; check the network and the state")
        return Moments(t, mean, cov, self.rows)


def _environment_energy(network: Network, temperature: float) -> float:
    """Σ_j ν_j Ω_j: ⟨H_E⟩ of the environment's initial (thermal) state [frequency]."""
    env = network.environment
    if env.homogeneous_chain:
        om = chain_modes(env.sites, env.omega0, env.g, env.boundary, vectors=False)[0]
    else:
        om = env.modes()[0]
    return float(np.sum(thermal_factor(om, temperature) * om))


def plan_closed(network: Network, initial: InitialState, *, observe=None, t_max: float | None = None,
                method: str = "auto") -> tuple:
    """Every input check of :func:`solve_closed` before any work: (the observed rows, the
    light-cone window or None, the method used, the size solved)."""
    p, n = network.n_probes, network.size
    if initial.probes.modes != p:
        raise HarmosyncError(f"the initial state has {initial.probes.modes} probe modes but the network has {p} probes")
    if method not in METHODS:
        raise HarmosyncError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    rows = tuple(range(p)) if observe is None else tuple(observe)
    if not rows or any(isinstance(r, bool) or not float(r).is_integer() or not 0 <= r < n for r in rows):
        raise HarmosyncError(f"observe must list oscillator indices, whole numbers in 0..{n - 1} "
                             f"(probes first, then sites), got {list(rows)}")
    rows = tuple(int(r) for r in rows)
    temp = float(initial.environment_temperature)
    env = network.environment
    structured = env.structured
    if method == "chain" and not structured:
        raise HarmosyncError(
            f"method 'chain' needs a homogeneous chain with fixed or free ends, got a {env.kind} "
            f"environment{' with ' + env.boundary + ' ends' if env.boundary else ''}; use method='auto'"
        )
    window = None
    if t_max is not None:
        t_max = _time(t_max)
        window = lc.window(network, t_max, sites=[r - p + 1 for r in rows if r >= p],
                           probe_cov=initial.probes.cov, temperature=temp, mean=initial.probes.mean)
    size = p + (window.sites if window is not None else env.sites)
    use = method
    if method == "auto":
        use = "chain" if structured and size > DENSE_MAX else "dense"
    check_size(size, use, cuttable=t_max is None and structured and env.boundary == "fixed")
    return rows, window, use, size


def _time(t_max) -> float:
    """``t_max`` as a finite time ≥ 0, or a one-line refusal."""
    try:
        t = float(t_max) if not isinstance(t_max, (bool, np.bool_)) else np.nan
    except (TypeError, ValueError):
        t = np.nan
    if not np.isfinite(t) or t < 0:
        raise HarmosyncError(f"t_max must be a finite time ≥ 0, got {t_max!r}")
    return t


def fastest_mode(network: Network, initial: InitialState, *, t_max: float | None = None) -> float:
    """The frequency of the fastest normal mode :func:`solve_closed` would solve for (the
    network, or its chain cut to the light cone), after the same input checks, without the
    solution: the dense path's eigh (the same LAPACK routine, so the same last bit as the solve:
    a step at π/w_max is refused by both or neither), or the structured chain path's spectrum
    (for a sweep's early time-grid check)."""
    rows, window, use, size = plan_closed(network, initial, t_max=t_max)
    if use == "chain":
        return float(np.sqrt(chain_spectrum(network, rows, window).mu[-1]))
    v = network.potential(sparse=True) if window is None else cut_chain(network, window)[0]
    return float(np.sqrt(max(np.linalg.eigh(v.toarray())[0][-1], 0.0)))


def solve_closed(network: Network, initial: InitialState, *, observe=None, tol: float = 1e-12,
                 t_max: float | None = None, method: str = "auto",
                 covariance: bool = True) -> NormalModeEvolution:
    """Exact normal-mode evolution of the closed ``network`` from ``initial``.

    ``observe``: 0-based oscillator indices (probes first, then sites) whose moments will be
    evaluated; default the probes. ``tol``: eigenvalues of Δ below tol·max(1, ‖Δ‖) are dropped
    (scaled units, vacuum = ½; or below tol·RETRY_TOL·max(1, ‖Δ‖), module docstring); the bound
    on the error this makes is ``error_bound``.
    ``t_max`` [1/frequency]: the largest |t| that will be evaluated; lets a long fixed-end chain
    be cut to the sites within reach (light cone), and then the solution refuses later times.
    ``method``: "auto" (dense for N ≤ DENSE_MAX or a graph environment, structured chain
    solver otherwise), "dense" or "chain". ``covariance=False`` skips Δ: only ``means`` can be
    evaluated (cheaper, for sweeps of first moments), and ``error_bound`` bounds the means.
    """
    rows, window, use, size = plan_closed(network, initial, observe=observe, t_max=t_max, method=method)
    p, temp = network.n_probes, float(initial.environment_temperature)
    t_max = None if t_max is None else float(t_max)
    with blas_threads(solve_threads(size)):
        spec = (chain_spectrum if use == "chain" else dense_spectrum)(network, rows, window)
        evo = assemble(spec, rows, network.probes.potential(), initial,
                       environment_energy=_environment_energy(network, temp), tol=tol,
                       covariance=covariance, method=use, window=window, t_max=t_max)
    if window is None and covariance and any(r >= p for r in rows):
        floor = INITIAL_CHECK * environment_discrepancy(evo, network, initial, spec)
        if floor > evo.bound_floor:
            evo = replace(evo, bound_floor=floor, error_bound=max(evo.error_bound, floor))
    return evo


def check_size(size: int, method: str, *, cuttable: bool = False) -> None:
    """Refuse a network too large for ``method`` ("chain": O(N²) secular sweeps; "dense": O(N³)
    eigh) before any work, with the time it would take. ``cuttable``: a fixed-end chain that a
    t_max would cut to the light cone."""
    if (method == "chain" and size > CHAIN_MAX) or (method == "dense" and size > DENSE_LIMIT_SOLVE):
        hint = ("pass t_max (the latest time you need) so that the chain can be cut to the light cone"
                if cuttable else "use a shorter chain or a shorter run")
        est = 5.0 * (size / 1e4) ** 2 if method == "chain" else 100.0 * (size / 1e4) ** 3
        raise HarmosyncError(
            f"the network has {size} oscillators to solve exactly (the {method} method would take "
            f"~{est / 3600:.0f} h on 2 cores); {hint}")


#: Δ is formed once more with tol·RETRY_TOL where its readout bound is most of the covariance's
#: and pairs were dropped (:func:`assemble`)
RETRY_TOL = 1e-4
#: ... or where the dropped pairs may move an observed entry by more than this of its size (without
#: t_max the covariance's bound is known at t = 0 only: fig4 without t_max retried for 6%, rank 18 → 24,
#: its dropped pairs at 8e-13 of its entries)
RETRY_LOST = 1e-12
#: ... in either case only where the dropped pairs' own bound is more than this share of Δ's readout
#: bound (at 0.5, review 2 of session 21 found cases at a 5–50% share whose error fell 1e2–1e4×
#: with the retry; a retry that does not lower the bound is discarded, at 1–3 ms)
RETRY_SHARE = 0.01


@dataclass(frozen=True)
class _FixedAt:
    """|t| → the covariance terms that do not grow with t, for |τ| ≤ |t|, of a network solved
    without t_max (:attr:`NormalModeEvolution.fixed_at`): Δ's readout bound, whose readouts
    cancel over near-degenerate modes only up to a finite |t| (:func:`.roundoff.mode_clusters`),
    formed again from the inputs (a few rows of N: Δ's factors, ~5 MB for 300 sites, are not
    kept), plus the terms ``others`` that do not depend on t. ``bound``: the same at ∞ (mode by
    mode), used where no modes lie close enough to cancel, and never exceeded."""

    inputs: tuple  # low_rank_delta's (mu, a, vs, env_d, env_c, probe_cov, temperature)
    tol: float
    readout: np.ndarray
    mu_error: np.ndarray
    others: tuple
    bound: float
    delta: tuple  # (values, vectors) of the Δ evaluated: the bound is for it alone

    def __call__(self, t: float) -> float:
        mu = self.inputs[0]
        if mode_clusters(np.sqrt(mu), float(t), self.mu_error) is None:
            return self.bound
        with blas_threads(solve_threads(mu.size)):  # (as solve_closed formed it)
            lr = low_rank_delta(*self.inputs, tol=self.tol, readout=self.readout, t_max=float(t),
                                mu_error=self.mu_error)
        if not (np.array_equal(lr.values, self.delta[0]) and np.array_equal(lr.vectors, self.delta[1])):
            return self.bound  # (another BLAS, thread count or path formed it: not the Δ evaluated)
        return min(self.bound, fixed_total(lr.readout_bound, self.others))


def fixed_total(readout: float, others) -> float:
    """Δ's readout bound plus ``others``, summed in this order (the same sums as before session 21)."""
    out = readout
    for x in others:
        out += x
    return float(out)


def _check_bound(bound: float) -> None:
    """A NaN bound is an internal failure, never a result (review s12: a merge's NaN roots once
    left error_bound = nan on a finite-looking solution); ∞ is a bound that says it knows nothing."""
    if np.isnan(bound):
        raise NumericalError("the error bound came out NaN (an internal numerical failure); please report "
                             "this network; method='dense' may solve it")


def assemble(spec: Spectrum, rows, vs, initial: InitialState, *, environment_energy: float,
             tol: float = 1e-12, covariance: bool = True, method: str = "dense",
             window=None, t_max: float | None = None) -> NormalModeEvolution:
    """The evolution from a network's normal modes ``spec`` (squared frequencies ``mu`` (N,)
    [frequency²], probe rows ``a`` (P, N) and observed rows ``readout`` (n, N) of U, the
    environment's squared mode frequencies ``env_d`` (M,) and coupling ``env_c`` = B·W_E
    (P, M)), the observed ``rows``, the probes' V_S ``vs`` and ⟨H_E⟩ of the environment's
    initial state (module docstring; :mod:`.many` shares the environment between networks).
    ``t_max``: the latest |t| to be evaluated, for the trig sums' roundoff in the bound."""
    mu, a, readout, env_d, env_c = np.asarray(spec.mu, float), spec.a, spec.readout, spec.env_d, spec.env_c
    if mu.size == 0 or mu[0] <= 0:
        raise NumericalError("the potential matrix has a non-positive eigenvalue")
    w = np.sqrt(mu)
    temp = float(initial.environment_temperature)
    x0, p0 = initial.probes.mean[0::2], initial.probes.mean[1::2]
    sw = np.sqrt(w)
    mean0 = np.array([sw * (a.T @ x0), (a.T @ p0) / sw])
    pc = initial.probes.cov
    energy = 0.5 * float(np.trace(vs @ pc[0::2, 0::2]) + np.trace(pc[1::2, 1::2]) + x0 @ vs @ x0 + p0 @ p0)
    energy += float(environment_energy)
    # the eigensolvers' error on each μ_k (module docstring, "Error bound")
    if spec.mu_error is not None:
        mu_err = np.asarray(spec.mu_error, float)
    elif method == "chain":  # a means-only evolution (maps, sweeps) refines the 16 that carry the means
        mu_err = chain_mode_errors(mu, a, vs, env_d, env_c, spec.env_rounding, count=128 if covariance else 16,
                                   merged=spec.merged, deflation=spec.deflation, unseen=spec.unseen)
    else:  # worst case: a dense eigh 8ε‖V‖
        mu_err = np.full(mu.size, 8 * np.finfo(float).eps * float(mu[-1]))
    # phases are bounded up to t_max only (∞: the bound covers t = 0)
    horizon = window.t_max if window is not None else (t_max if t_max is not None else np.inf)
    floors = (False, True) if np.isfinite(horizon) else (False,)  # (the NUFFT's too: for cover)
    means_b = means_roundoffs(w, readout, mean0, horizon, mu_err, floors=floors)
    bound = means_b[0]
    eval_b = [0.0] * len(floors)
    fixed_at = None
    if covariance:
        inputs = (mu, a, vs, env_d, env_c, pc, temp)
        lr = low_rank_delta(*inputs, tol=tol, readout=readout, t_max=horizon, mu_error=mu_err)
        nu = thermal_factor(w, temp)
        others = [eigen_roundoff(mu, readout, temp, mu_err)]
        if method == "dense" and spec.env_rounding is not None:  # V_E from a dense eigh
            others.append(environment_roundoff(mu, mu_err, a, env_d, env_c, spec.env_rounding[0], readout, temp))
        if spec.residual is not None:  # the refined soft eigenvectors' errors
            others.append(vector_roundoff(mu, mu_err, spec.residual, readout, temp))

        def covariance_part(lr):
            fixed = fixed_total(lr.readout_bound, others)
            return fixed, evaluation_roundoffs(w, readout, nu, lr.values, lr.vectors, horizon, mu_err, floors=floors)

        fixed, eval_b = covariance_part(lr)
        # the observed entries' size: their stationary part, the observed probes' initial block
        probes = np.ravel([[2 * r, 2 * r + 1] for r in rows if r < a.shape[0]]).astype(int)
        size = max(1.0, float(np.max((readout**2) @ (nu * np.maximum(1 / w, w)), initial=0.0)),
                   float(np.abs(pc[np.ix_(probes, probes)]).max(initial=0.0)))
        tight = np.isfinite(horizon) and lr.readout_bound > 0.5 * (fixed + eval_b[0])
        if lr.drop_bound > RETRY_SHARE * lr.readout_bound and (tight or lr.drop_bound > RETRY_LOST * size):
            # the dropped pairs are a share of Δ's readout bound, and that most of the covariance's
            # (with t_max) or they may move an observed entry by more than RETRY_LOST of its size
            # (a huge squeezed probe's λ sets tol·‖Δ‖ far above what the observed entries
            # resolve; they erred by it too): Δ once more with tol·RETRY_TOL, the smaller bound kept
            again = lr.again(tol * RETRY_TOL)  # (Δ's eigendecomposition and long-double core shared)
            fixed2, eval2 = covariance_part(again)
            if fixed2 + eval2[0] < fixed + eval_b[0]:
                lr, fixed, eval_b, tol = again, fixed2, eval2, tol * RETRY_TOL
        values, vectors = lr.values, lr.vectors
        # no t_max: this bound covers t = 0 and cover() the horizons evaluated (Δ's readouts
        # cancel over near-degenerate modes only up to a finite |t|: at ∞ they are mode by mode)
        if np.isinf(horizon):  # (this bound, for t = 0, is mode by mode: the first cover replaces it)
            fixed_at = _FixedAt(inputs, tol, readout, mu_err, tuple(others), fixed, (values, vectors))
        cov = fixed + eval_b[0]
        bound = float(np.maximum(bound, cov))  # (a NaN stays one, for _check_bound; max() drops it)
    else:
        values, vectors, fixed = np.zeros(0), np.zeros((2, w.size, 0)), 0.0
        nu = np.zeros(w.size)  # has_covariance=False: moments refuse, means work
    vector_term = None  # a dense eigh's eigenvector errors up to |t| (spectrum.eigenvector_roundoff)
    if spec.mode_bound is not None:
        vector_term = VectorTerm(spec.mode_bound, w, readout, mean0, nu, values, vectors, t_max=horizon,
                                 floor=tol * max(1.0, float(np.max(np.abs(values), initial=0.0))))
        bound += vector_term(horizon) if np.isfinite(horizon) else 0.0  # no t_max: cover adds it (t = 0 too)
    _check_bound(bound)
    label = method
    if window is not None:
        bound += window.bound
        label += "+lightcone"
    evo = NormalModeEvolution(
        frequencies=w,
        rows=tuple(rows),
        readout=np.asarray(readout, float),
        mean0=mean0,
        nu=nu,
        values=values,
        vectors=vectors,
        energy=energy,
        error_bound=float(bound),
        method=label,
        t_max=window.t_max if window is not None else (float(t_max) if t_max is not None else np.inf),
        window=(window.lo, window.hi) if window is not None else None,
        has_covariance=covariance,
        mu_error=mu_err,
        fixed_bound=float(fixed),
        fixed_at=fixed_at,
        cut_bound=float(window.bound) if window is not None else 0.0,
        # no t_max: nothing yet (the first evaluation's cover replaces this bound, t = 0 included)
        covered=float(horizon) if np.isfinite(horizon) else -1.0,
        nufft_covered=False,  # the direct tables: cover raises it when the NUFFT runs
        vector_term=vector_term,
        known_roundoff={(float(horizon), f): (m, e) for f, m, e in zip(floors, means_b, eval_b)}
        if np.isfinite(horizon) else {},
    )
    # a posteriori: t = 0 must give the initial state, known exactly (the split is covariance-only)
    miss = initial_discrepancy(evo, initial, a.shape[0]) if covariance else 0.0
    scale = float(np.abs(pc).max())
    if miss > LOST * scale:  # not even the initial state: nothing of this solution can be trusted
        raise HarmosyncError(
            f"double precision cannot resolve this network with the {method} method: at t = 0 the solution "
            f"misses the initial state by {miss / scale:.1g} of its largest entry (its lowest mode, frequency² "
            f"{mu[0]:.3g}, is {mu[0] / mu[-1]:.1g} of the highest: near the stability limit?); "
            + ("try method='dense', or " if method == "chain" else "")
            + "reduce the strengths K or raise the lowest frequencies")
    evo = replace(evo, bound_floor=float(INITIAL_CHECK * miss))
    if INITIAL_CHECK * miss > bound:
        evo = replace(evo, error_bound=float(INITIAL_CHECK * miss))
    return evo


def _unbounded(evo: NormalModeEvolution) -> NormalModeEvolution:
    """``evo`` whose evaluations leave its bound alone (the t = 0 checks below are the solver's,
    not the user's: solved without t_max, a user's first evaluation sets the bound, ``cover``)."""
    return replace(evo, covered=np.inf, nufft_covered=True, known_roundoff={})


def initial_discrepancy(evo: NormalModeEvolution, initial: InitialState, n_probes: int) -> float:
    """max |m(0) − m₀|, |σ(0) − σ₀| over the observed probes' entries: the evolution at t = 0
    against the initial state, which is known exactly. It measures what the stationary split
    loses where the a-priori terms do not reach (a safety net: the soft T = 0 chains that needed
    it keep their digits since the soft modes bypass the skeleton compression); ``assemble``
    keeps the bound at least ``INITIAL_CHECK`` times it."""
    pos = [i for i, r in enumerate(evo.rows) if r < n_probes]
    if not pos:
        return 0.0
    evo = _unbounded(evo)
    cols = np.ravel([[2 * i, 2 * i + 1] for i in pos])
    ref = np.ravel([[2 * evo.rows[i], 2 * evo.rows[i] + 1] for i in pos])
    t0 = np.zeros(1)
    miss = float(np.max(np.abs(evo.means(t0)[0, cols] - initial.probes.mean[ref])))
    if evo.has_covariance:
        cov = evo.moments(t0).cov[0][np.ix_(cols, cols)]
        miss = max(miss, float(np.max(np.abs(cov - initial.probes.cov[np.ix_(ref, ref)]))))
    return miss


def environment_discrepancy(evo: NormalModeEvolution, network: Network, initial: InitialState,
                            spec: Spectrum | None = None) -> float:
    """:func:`initial_discrepancy` for the observed environment sites: at t = 0 they hold H_E's
    thermal state, ⟨X Xᵀ⟩ = W diag(ν/Ω) Wᵀ, ⟨P Pᵀ⟩ = W diag(νΩ) Wᵀ, ⟨X Pᵀ⟩ = 0, no mean, and no
    correlation with the probes (W, Ω: V_E's modes, closed form on a homogeneous chain; else
    ``spec``'s, a dense eigh with the soft modes refined, or a plain eigh). Returns
    max |σ(0) − σ₀| over the entries with an environment site, less what σ₀ itself may be off
    by (:func:`thermal_slack`). Hot soft networks near their stability limit lose digits there
    that no a-priori term of the bound counts (65× the bound on a defect chain, review s6b;
    the rounding of Δ's resolvent pieces on a soft mode, 1.3× what the other terms bound on a
    near-critical graph, session 7)."""
    p, env = network.n_probes, network.environment
    pos = [i for i, r in enumerate(evo.rows) if r >= p]
    sites = [evo.rows[i] - p for i in pos]
    temp = float(initial.environment_temperature)
    closed = env.homogeneous_chain and env.boundary in ("fixed", "free")
    refined = None
    if closed:
        om = chain_modes(env.sites, env.omega0, env.g, env.boundary, vectors=False)[0]
        w = chain_mode_rows(env.sites, env.boundary, [s + 1 for s in sites])
    elif spec is not None and spec.env_rows is not None:  # the solve's own eigh of V_E
        om, w = np.sqrt(spec.env_d), spec.env_rows
        if spec.env_residual is not None:
            refined = (spec.env_residual, spec.env_rounding[0])
    elif env.sites > ENV_CHECK_MAX:
        return 0.0
    else:
        om, vectors = env.modes()
        w = vectors[sites]
    n = len(evo.rows)
    want, slack = np.zeros((2 * n, 2 * n)), np.zeros((2 * n, 2 * n))
    probe_pos = [i for i, r in enumerate(evo.rows) if r < p]
    if probe_pos:
        cols = np.ravel([[2 * i, 2 * i + 1] for i in probe_pos])
        ref = np.ravel([[2 * evo.rows[i], 2 * evo.rows[i] + 1] for i in probe_pos])
        want[np.ix_(cols, cols)] = initial.probes.cov[np.ix_(ref, ref)]
    xs, ps = np.array([2 * i for i in pos]), np.array([2 * i + 1 for i in pos])
    thermal = environment_covariance(om, w, temp)  # its ⟨XXᵀ⟩, ⟨PPᵀ⟩ on the observed sites
    for idx, power, block in ((xs, -1, thermal[0]), (ps, 1, thermal[1])):
        want[np.ix_(idx, idx)] = block
        slack[np.ix_(idx, idx)] = thermal_slack(om, w, temp, power, exact=closed, refined=refined)
    evo = _unbounded(evo)
    t0 = np.zeros(1)
    env_cols = np.ravel([[2 * i, 2 * i + 1] for i in pos])
    miss = float(np.max(np.abs(evo.means(t0)[0, env_cols])))
    diff = np.abs(evo.moments(t0).cov[0] - want) - slack
    return max(miss, float(np.max(diff[env_cols])), 0.0)


def thermal_slack(om, w, temperature: float, power: int, *, exact: bool = False, refined=None) -> np.ndarray:
    """Entrywise bound on the error of W diag(f) Wᵀ, f = ν(Ω)·Ω^power, on the rows ``w`` (n_E, M)
    of V_E's modes (frequencies ``om``): its sums' rounding 8Mε·|W| f |W|ᵀ, and unless ``exact``
    (closed-form modes) the modes' own error to first order (Daleckii–Krein): W̃, Ω̃ exact for
    V_E + E moves f(V_E) by W (WᵀEW ∘ F) Wᵀ, F_qr = f[μ_q, μ_r] (:func:`thermal_divided_differences`),
    with |(WᵀEW)_qr| ≤ 8ε‖V_E‖ for a float eigh. ``refined`` = (η (M,), e (M,)): the modes with
    η_q > 0 recomputed from the parameters (:func:`~.spectrum.refine_soft_modes`), whose pairs
    need only |(WᵀEW)_qr| ≤ η_q + η_r (residual bounds) and ≤ e_q on the diagonal (eigenvalue
    bounds): 8ε‖V_E‖·f[μ_0, μ_0] ~ ε‖V_E‖T/μ_0² on a soft mode hid every error at t = 0 there."""
    m = om.size
    aw = np.abs(w)
    f = thermal_factor(om, temperature) * om**power
    out = 8 * m * np.finfo(float).eps * ((aw * f) @ aw.T)
    if exact:
        return out
    eta, e = (np.asarray(x, float) for x in refined) if refined is not None else (np.zeros(m), None)
    soft = np.flatnonzero(eta > 0)
    for start in range(0, m, 256):  # row blocks: O(256·M) memory at any M
        rows = slice(start, min(start + 256, m))
        b = np.full((rows.stop - start, m), 8 * np.finfo(float).eps * float(om[-1] ** 2))
        mine = soft[(soft >= start) & (soft < rows.stop)]
        b[np.ix_(mine - start, soft)] = eta[mine, None] + eta[None, soft]
        b[mine - start, mine] = e[mine] if mine.size else 0.0
        out += aw[:, rows] @ (b * thermal_divided_differences(om, temperature, power, rows)) @ aw.T
    return out


def thermal_divided_differences(om, temperature: float, power: int, rows=slice(None)) -> np.ndarray:
    """|f[μ_q, μ_r]| (M × M; the rows q in ``rows`` only) for f(μ) = ν(√μ)·μ^(power/2),
    ν = ½coth(√μ/2T): by the Daleckii–Krein formula, a perturbation E of V_E moves f(V_E) by
    W (WᵀE W ∘ f[μ_q, μ_r]) Wᵀ to first order. Near-equal μ (relative gap < 1e-6) take |f′| at
    the smaller one (f′ varies by ~1e-6 over such a gap)."""
    mu = om**2
    f = thermal_factor(om, temperature) * om**power
    if temperature > 0:
        x = om / (2 * temperature)
        dnu = -0.25 / temperature / np.sinh(np.minimum(x, 300.0)) ** 2
    else:
        dnu = np.zeros_like(om)
    nu = thermal_factor(om, temperature)
    slope = np.abs((dnu * om + power * nu) * om ** (power - 1) / (2 * om))  # df/dμ = (df/dΩ)/(2Ω)
    idx = np.arange(mu.size)
    q = idx[rows]
    gap = mu[q, None] - mu[None, :]
    close = np.abs(gap) <= 1e-6 * np.maximum(mu[q, None], mu[None, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        div = np.abs((f[q, None] - f[None, :]) / gap)
    lower = np.minimum(q[:, None], idx[None, :])  # μ ascending
    return np.where(close, slope[lower], div)
