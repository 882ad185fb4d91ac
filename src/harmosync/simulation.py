"""One run: config → exact moments → the observables, as plain arrays (no xarray here).

The single path of a run, shared by ``simulate`` and every sweep point: :func:`prepare` builds
and checks the inputs, :func:`observe` evolves them (``dynamics.solve``, or an evolution a
caller solved in a batch) and computes the requested observables from the registry
(:mod:`harmosync.observables`). ``io.to_dataset`` turns a :class:`RunResult` into the public
NetCDF layout.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import dynamics as dy
from . import measures as ms
from . import observables as obs
from .config import RunConfig, TimeConfig
from .errors import HarmosyncError, NumericalError
from .network import Network, system_normal_modes
from .states import InitialState


@dataclass(frozen=True, eq=False)
class RunResult:
    """One run, as plain arrays (what :func:`simulate` returns; ``io.to_dataset`` lays it out).

    ``config``, ``network`` and ``evolution`` made it; ``times`` [1/ω]; ``mean`` (T, 2P) and
    ``cov`` (T, 2P, 2P) of the probes, interleaved (x1, p1, x2, p2, ...); ``series``: the
    other observables of :mod:`harmosync.observables`, by name; ``info``: scalars for the file's
    ``result.*`` attributes (rank, error bound, energy, characteristic times).
    """

    config: RunConfig
    network: Network
    evolution: dy.Evolution
    times: np.ndarray
    mean: np.ndarray  # (T, 2P) interleaved
    cov: np.ndarray  # (T, 2P, 2P)
    series: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (T,)
    info: dict = field(default_factory=dict)  # scalars for metadata


def check_time_grid(times: np.ndarray, w_max: float) -> None:
    """Refuse a step that aliases the fastest normal mode (Nyquist: step < π / w_max)."""
    if times.size > 1:
        step = times[1] - times[0]
        safe = np.pi / w_max
        if step >= safe:
            raise HarmosyncError(
                f"time step {step:g} is too coarse for the fastest normal mode (frequency {w_max:.4g}): "
                f"it would alias; use step < {safe:.4g}"
            )


def check_window(times: np.ndarray, window: float, delay: float = 0.0) -> None:
    """The sync window must be a whole number (≥ 2) of steps (measures.window_samples, the rule
    sync_factor applies) and, with the delay, fit inside the run."""
    if times.size < 2:
        raise HarmosyncError("the sync window needs a time grid of at least two points")
    ms.window_samples(times[1] - times[0], window)
    if window + abs(delay) > times[-1] - times[0]:
        raise HarmosyncError(
            f"sync window {window:g} (plus delay {abs(delay):g}) is longer than the run ({times[-1] - times[0]:g}); "
            "shorten the window or run longer"
        )


def available_memory() -> float | None:
    """Memory available to a new allocation [bytes] (Linux MemAvailable), None if unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def memory_estimate(n_times: int, n_probes: int) -> float:
    """Peak memory of :func:`simulate` [bytes]: the (T, 2P, 2P) covariance about seven times over
    (moments, measures, the file) plus ~8 series of length T · 2P, fitted to the measured peaks
    (1.1 kB per time for 2 probes, 5.9 kB for 5)."""
    d = 2 * n_probes
    return float(n_times) * 8.0 * (7 * d * d + 8 * d)


def check_memory(n_times: int, n_probes: int) -> None:
    """Refuse a run that cannot fit in memory before computing anything."""
    need, have = memory_estimate(n_times, n_probes), available_memory()
    if have is not None and need > 0.8 * have:
        raise HarmosyncError(
            f"the run needs ≈ {need / 1e9:.3g} GB of memory ({n_times} times × the {2 * n_probes}×{2 * n_probes} "
            f"covariance), more than the {have / 1e9:.3g} GB available; use a coarser time step or a shorter run "
            "(or a sweep that keeps summaries)"
        )


@dataclass(frozen=True, eq=False)
class Point:
    """A run's inputs, built and checked (everything but the dynamics): the config, its network,
    initial state, time grid [1/w] and the pair of probes (0-based) of ``sync.probes``."""

    config: RunConfig
    network: Network
    state: InitialState
    times: np.ndarray
    pair: tuple[int, int]
    baths: tuple = ()  # harmosync.baths.Bath, from [[baths]]: an open system

    @property
    def t_max(self) -> float:
        return float(np.max(np.abs(self.times)))


def prepare(cfg: RunConfig, *, shared: bool = False) -> Point:
    """Build the network and state of ``cfg`` and run the input checks that need no dynamics:
    ``sync.probes`` names two probes, and Eq. (3)'s window and delay are whole numbers of steps
    that fit the run. (The step is checked against the fastest mode by :func:`observe`.)
    ``shared``: the time grid is :func:`time_grid`'s, shared with every point of the same
    [time] table (read-only; a sweep's points), instead of the point's own array."""
    net = cfg.build_network()
    baths = cfg.build_baths(net)
    state = initial_state(cfg)
    times = time_grid(cfg.time) if shared else cfg.time.grid()
    p = net.n_probes
    a, b = cfg.sync.probes
    if p >= 2 and not (1 <= a <= p and 1 <= b <= p and a != b):
        raise HarmosyncError(f"config error: sync.probes = [{a}, {b}] must name two different probes in 1..{p}")
    if p >= 2:
        check_window(times, cfg.sync.window, cfg.sync.delay)
        step = float(times[1] - times[0])
        k = round(cfg.sync.delay / step)  # Eq. (3) with a delay: a whole number of steps
        if abs(k * step - cfg.sync.delay) > 1e-6 * max(step, abs(cfg.sync.delay)):
            raise HarmosyncError(f"sync.delay = {cfg.sync.delay:g} is not a whole number of time steps ({step:g})")
    return Point(cfg, net, state, times, (a - 1, b - 1), baths)


#: Initial states built from configs, by their parameters: the points of a sweep that vary the
#: network share them (a phase diagram's 10,000 points have 100 probe states).
_STATES: dict[tuple, InitialState] = {}
_SHARED_LOCK = threading.Lock()
SHARED_STATES = 1024  # each a few (2P)² numbers for the P probes


def _shared(cache: dict, size: int, key: tuple, build):
    """``cache[key]``, built by ``build()`` the first time; at most ``size`` kept, the oldest
    dropped first (threaded sweep executors share the caches)."""
    with _SHARED_LOCK:
        hit = cache.get(key)
    if hit is not None:
        return hit
    value = build()
    with _SHARED_LOCK:
        while len(cache) >= size:
            del cache[next(iter(cache))]
        cache[key] = value
    return value


#: Time grids built from configs, by their [time] table: a sweep's points share one.
_GRIDS: dict[tuple, np.ndarray] = {}
SHARED_GRIDS = 16  # each T numbers


def time_grid(t: TimeConfig) -> np.ndarray:
    """``t.grid()`` of a [time] table, shared by every equal table (read-only)."""

    def build():
        grid = t.grid()
        grid.flags.writeable = False
        return grid

    return _shared(_GRIDS, SHARED_GRIDS, (t.start, t.stop, t.step), build)


def _frozen(v):
    return tuple(_frozen(x) for x in v) if isinstance(v, (list, tuple)) else v


def initial_state(cfg: RunConfig) -> InitialState:
    """``cfg.build_state()``, shared by every config with the same [initial] table, probe
    frequencies and environment temperature (arrays read-only)."""
    env = cfg.environment_config
    key = (tuple((k, _frozen(v)) for k, v in cfg.initial), tuple(cfg.probes.frequencies),
           env.temperature if env is not None else 0.0)

    def build():
        state = cfg.build_state()
        for arr in (state.probes.mean, state.probes.cov):
            arr.flags.writeable = False
        return state

    return _shared(_STATES, SHARED_STATES, key, build)


def solve(point: Point, *, covariance: bool = True) -> dy.Evolution:
    """The point's evolution up to its last time (long chains cut to the light cone)."""
    return dy.solve(point.network, point.state, t_max=point.t_max, covariance=covariance, baths=point.baths)


def fastest_mode(point: Point) -> float:
    """The frequency of the point's fastest normal mode, after every input check of its solve:
    without solving a closed network (the dense path's eigh alone, or the chain path's
    spectrum: the error bound's kernels stay unloaded)."""
    if point.baths:
        return solve(point, covariance=False).max_frequency
    return dy.fastest_mode(point.network, point.state, t_max=point.t_max)


def observe(point: Point, names, *, evolution: dy.Evolution | None = None):
    """Evolve ``point`` and compute the observables ``names`` (registry order is the caller's).
    Covariances are computed only if one of ``names`` needs them; then the result passes the
    numerical guard (:func:`check_result`). ``evolution``: one solved already (in a batch,
    :func:`harmosync.dynamics.solve_many`), with covariances if they are needed.
    Returns (evolution, mean (T, 2P), cov (T, 2P, 2P) or None, {name: values})."""
    names = list(names)
    evo, ctx = _context(point, names, evolution)
    bad = None
    if ctx.cov is not None and has_brownian(point.baths):
        bad, _ = uncertainty_violation(ctx.cov)
    if ctx.cov is not None and getattr(evo, "growth_rate", 0.0) > 0:
        lost = unresolved(ctx.cov)
        bad = lost if bad is None else bad | lost
    if bad is not None and np.any(bad):
        values = _with_unphysical(names, ctx, bad)
    else:
        values = obs.compute(names, ctx)
    if ctx.cov is not None:
        check_result(ctx.mean, ctx.cov, values, unphysical=bad, bound=evo.error_bound)
    return evo, ctx.mean, ctx.cov, values


def observe_many(points, names, evolutions=None) -> list:
    """:func:`observe` for many points (``evolutions``: each point's, or None), with the
    C(t, Δt) observables of all of them from one call (:func:`harmosync.observables.compute_many`,
    the same numbers as one point at a time). Returns per point its (evolution, mean, cov,
    values) or the HarmosyncError it raised. Memory: every point's moments at once."""
    names = list(names)
    evolutions = [None] * len(points) if evolutions is None else list(evolutions)
    out: list = [None] * len(points)
    ready: dict[int, tuple] = {}
    for k, (pt, ev) in enumerate(zip(points, evolutions)):
        try:
            if has_brownian(pt.baths) and obs.needs_covariance(names):
                out[k] = observe(pt, names, evolution=ev)  # NaN where the bath leaves σ + iΩ/2 ≥ 0
            else:
                evo, ctx = _context(pt, names, ev)
                if ctx.cov is not None and getattr(evo, "growth_rate", 0.0) > 0:
                    out[k] = observe(pt, names, evolution=evo)  # NaN where σ is unresolved
                else:
                    ready[k] = (evo, ctx)
        except HarmosyncError as e:
            out[k] = e
    try:
        values = obs.compute_many(names, [ctx for _, ctx in ready.values()])
    except HarmosyncError:  # one point is refused: each alone, so that it gets its own error
        values = [None] * len(ready)
    for (k, (evo, ctx)), v in zip(ready.items(), values):
        try:
            if v is None:
                v = obs.compute(names, ctx)
            if ctx.cov is not None:
                check_result(ctx.mean, ctx.cov, v, bound=evo.error_bound)
            out[k] = (evo, ctx.mean, ctx.cov, v)
        except HarmosyncError as e:
            out[k] = e
    return out


def _context(point: Point, names: list, evolution: dy.Evolution | None) -> tuple[dy.Evolution, obs.Context]:
    """The point's evolution (``evolution`` or solved here) and the moments ``names`` need."""
    need_cov = obs.needs_covariance(names)
    if evolution is not None and point.baths and evolution.energy is not None:
        evolution = None  # a closed evolution (a batch solved without the baths): solve again, open
    evo = evolution if evolution is not None else solve(point, covariance=need_cov)
    if tuple(evo.rows) != tuple(range(point.network.n_probes)):
        raise HarmosyncError(f"observe needs an evolution of the probes (rows 0..{point.network.n_probes - 1}), "
                             f"got rows {list(evo.rows)}")
    check_time_grid(point.times, evo.max_frequency)
    if need_cov:
        mom = evo.moments(point.times)
        mean, cov = mom.mean, mom.cov
    else:  # first moments only: the covariance's low-rank part was never built
        mean, cov = evo.means(point.times), None
    cfg = point.config
    return evo, obs.Context(point.times, mean, cov, point.network, point.pair, cfg.sync.window,
                            cfg.sync.delay, evo.error_bound)


#: σ + iΩ/2 ≥ 0 is violated "for real" below −UNPHYSICAL_TOL × max(1, |σ|) (the guard's tolerance)
UNPHYSICAL_TOL = 1e-8


def uncertainty_violation(cov) -> tuple[np.ndarray, np.ndarray | None]:
    """(times where σ + iΩ/2 ≥ 0 fails beyond roundoff (T,) bool, as ``measures.is_physical``
    with UNPHYSICAL_TOL; the smallest eigenvalue of σ + iΩ/2 at each time (T,) [units of σ],
    or None when no time fails) for covariances (T, 2n, 2n)."""
    from .conventions import symplectic_form

    bad = ~ms.is_physical(cov, tol=UNPHYSICAL_TOL)  # the guard's own test (one Cholesky when all pass)
    if not np.any(bad):
        return bad, None  # all physical: the eigenvalues are not needed
    n = cov.shape[-1] // 2
    return bad, np.linalg.eigvalsh(cov + 0.5j * symplectic_form(n))[..., 0]


def _with_unphysical(names, ctx: obs.Context, bad: np.ndarray) -> dict:
    """Observables where the state is unphysical at the times ``bad`` (Brownian baths): the
    state-based ones (entropies, E_N, discord) are NaN there, computed elsewhere on the real
    covariance; the others see the covariance as it is."""
    from dataclasses import replace

    plain = [q for q in names if not obs.get(q).state_based]
    values = obs.compute(plain, ctx)
    based = [q for q in names if obs.get(q).state_based]
    if based:
        cov = ctx.cov.copy()
        cov[bad] = ctx.cov[~bad][0] if np.any(~bad) else np.eye(cov.shape[-1]) * 0.5  # placeholder
        sub = obs.compute(based, replace(ctx, cov=cov))
        for q, v in sub.items():
            v = np.array(v, dtype=float)
            v[bad] = np.nan
            values[q] = v
    return {q: values[q] for q in names}


#: a growing run's σ(t) is unresolved where its smallest eigenvalue is below this many ulps of
#: its largest entry (σ > 0 then holds to ≲ 3% only)
RESOLVED_ULPS = 32


def unresolved(cov: np.ndarray) -> np.ndarray:
    """Times (T,) bool where a growing mode has made σ so large that double precision no longer
    holds σ > 0 to a few per cent: the state-based measures are NaN there."""
    scale = np.max(np.abs(cov), axis=(1, 2))
    return np.linalg.eigvalsh(cov)[:, 0] <= RESOLVED_ULPS * np.finfo(float).eps * scale


#: the relative size of the random changes of σ's entries by which :func:`growth_precision`
#: estimates the measures' loss of digits, at least (ε: rounding σ alone)
PERTURBATION = np.finfo(float).eps


def growth_precision(names, ctx: obs.Context, values: dict) -> tuple[float, float, float] | None:
    """For a run with a growing mode (σ ~ e^{2gt}: the state-based measures lose digits like
    those of a strongly squeezed state, docs/conventions.md): the largest change of the
    state-based measures when σ's entries move at random by their relative error bound (at
    least ε; 2 seeded rank-one positive changes, so that a pure state stays a state), at the
    times σ is resolved (:func:`unresolved`), and the first time that change exceeds
    PRECISION_LIMIT. Returns (that time, the change there, the largest
    change) or None. An estimate, like the table of that section, not a bound."""
    from dataclasses import replace

    based = [q for q in names if obs.get(q).state_based]
    ok = ~unresolved(ctx.cov) if ctx.cov is not None else None
    if not based or ok is None or not np.any(ok) or not np.isfinite(ctx.error_bound):
        return None
    cov = ctx.cov[ok]
    scale = np.max(np.abs(cov), axis=(1, 2), keepdims=True)
    rel = max(PERTURBATION, float(ctx.error_bound) / float(np.max(np.abs(ctx.cov))))  # the bound's own scale
    sub = replace(ctx, times=ctx.times[ok], mean=ctx.mean[ok])
    rng = np.random.default_rng(0)
    change = np.zeros(cov.shape[0])
    for _ in range(2):
        v = rng.choice([-1.0, 1.0], size=cov.shape[:2])
        u = v[:, :, None] * v[:, None, :]  # ±1 entries, positive semidefinite: σ + iΩ/2 ≥ 0 is kept
        try:
            other = obs.compute(based, replace(sub, cov=cov + rel * scale * u))
        except HarmosyncError:  # the changed σ is not a state at some time: no digit is sure there
            return float(sub.times[0]), np.inf, np.inf
        for q in based:
            d = np.abs(np.asarray(other[q], float) - np.asarray(values[q], float)[ok])
            change = np.fmax(change, d.reshape(d.shape[0], -1).max(axis=1))
    over = change > PRECISION_LIMIT
    if not np.any(over):
        return None
    k = int(np.argmax(over))
    return float(sub.times[k]), float(change[k]), float(change.max())


def run_note(point: Point, evo, cov) -> str | None:
    """One line on what :func:`simulate` warns about an open run that is computed anyway (a
    growing mode, a Brownian bath leaving σ + iΩ/2 ≥ 0, σ unresolved), for a sweep's log; or None."""
    notes = []
    rate = getattr(evo, "growth_rate", 0.0)
    if rate > 0:
        notes.append(f"a mode grows at rate {rate:.3g} [w] (no steady state)")
        if cov is not None and np.any(lost := unresolved(cov)):
            notes.append(f"σ unresolved in double precision from t = {float(point.times[np.argmax(lost)]):g} "
                         "(state-based measures NaN there)")
    if cov is not None and has_brownian(point.baths):
        bad, _ = uncertainty_violation(cov)
        if np.any(bad):
            notes.append(f"the Brownian bath leaves σ + iΩ/2 ≥ 0 at {int(bad.sum())} of {bad.size} times "
                         "(state-based measures NaN there)")
    return "; ".join(notes) or None


def has_brownian(baths) -> bool:
    return any(b.kind == "brownian" for b in baths)


def simulate(cfg: RunConfig) -> RunResult:
    """Build the network and state of ``cfg``, evolve exactly, compute every observable that
    applies to its number of probes (:func:`harmosync.observables.available`)."""
    point = prepare(cfg)
    net, p = point.network, point.network.n_probes
    check_memory(point.times.size, p)
    names = obs.available(p)
    evo, mean, cov, values = observe(point, names)
    series = {q: v for q, v in values.items() if q not in ("x", "p", "cov")}
    diag = evo.diagnostics()
    info = {"rank": diag.pop("rank"), "error_bound": evo.error_bound}
    if evo.energy is not None:
        info["energy_total"] = evo.energy
    info.update(diag)
    if point.baths:
        series.update(_open_outputs(point, evo, cov, info))
    if p == 2:
        theta, om = system_normal_modes(net.probes.frequencies, net.probes.coupling[0, 1])
        info.update(theta=theta, Omega1=float(om[0]), Omega2=float(om[1]))
    info.update(_times(net, tuple(cfg.sync.probes)))
    reason = precision_warning(evo.error_bound, cov)
    if getattr(evo, "growth_rate", 0.0) > 0 and cov is not None:
        lost_at = unresolved(cov)
        if np.any(lost_at):
            t_lost = float(point.times[np.argmax(lost_at)])
            grown = (f"a growing mode makes σ too large for double precision to resolve the state from t = {t_lost:g} "
                     f"(largest entry {float(np.max(np.abs(cov[np.argmax(lost_at)]))):.3g}): the state-based measures are NaN "
                     f"at those {int(lost_at.sum())} times")
            reason = grown if reason is None else f"{reason}; {grown}"
        ctx = obs.Context(point.times, mean, cov, net, point.pair, cfg.sync.window, cfg.sync.delay, evo.error_bound)
        lost = growth_precision(names, ctx, values)
        if lost is not None:
            t1, d1, dmax = lost
            grown = (f"a growing mode makes the state-based measures (entropies, I, E_N, discord) lose digits: "
                     f"σ's entries moved by their error bound change them by {d1:.2g} at t = {t1:g} and by up to "
                     f"{dmax:.2g} later (estimate; limit {PRECISION_LIMIT:g}); stop the run earlier for more digits")
            reason = grown if reason is None else f"{reason}; {grown}"
    if reason is not None:
        warnings.warn(reason, PrecisionWarning, stacklevel=2)
        info["precision_warning"] = reason
    return RunResult(cfg, point.network, evo, point.times, mean, cov, series, info)


def _open_outputs(point: Point, evo, cov, info: dict) -> dict:
    """Open systems: ``cov_steady`` when a unique steady state exists (and
    ``result.slowest_rate`` from the diagnostics), a warning (``growing_rate``) when a mode grows,
    and the warning when a Brownian bath drives
    the probes' state out of σ + iΩ/2 ≥ 0 (when, and by how much). Updates ``info``."""
    out = {}
    steady = evo.steady  # the open solver's σ_∞ of the probes, or None
    if steady is not None:
        out["cov_steady"] = steady
    else:
        info.pop("slowest_rate", None)  # no unique steady state: no slowest rate to report
        top = evo.growth_rate
        if top > 0:
            msg = (f"a mode grows at rate {top:.3g} [omega] (the baths pump energy into it): no steady "
                   f"state; the moments grow like exp({2 * top:.3g} t)")
            info["growing_rate"] = top
            warnings.warn(msg, RuntimeWarning, stacklevel=3)
    if has_brownian(point.baths):
        bad, lam = uncertainty_violation(cov)
        if np.any(bad):
            t = point.times
            k = int(np.argmin(lam))
            msg = (f"the Brownian bath drives the probes' state out of sigma + i Omega/2 >= 0 at "
                   f"{int(bad.sum())} of {t.size} times, from t = {t[bad][0]:g} to t = {t[bad][-1]:g}; smallest "
                   f"eigenvalue {lam[k]:.3g} at t = {t[k]:g}; entropies, E_N and discord are NaN there")
            info.update(unphysical_times=int(bad.sum()), unphysical_first=float(t[bad][0]),
                        unphysical_last=float(t[bad][-1]), unphysical_min_eigenvalue=float(lam[k]),
                        warning=msg)
            warnings.warn(msg, RuntimeWarning, stacklevel=3)
    return out


# -- precision warning (issue 11, item 2) -------------------------------------------------------
#: relative accuracy of the covariance below which :func:`simulate` warns (docs/conventions.md,
#: "Precision warning"): fewer than six digits of its largest entry
PRECISION_LIMIT = 1e-6


class PrecisionWarning(UserWarning):
    """The run's error bound is too large for the digits its results need (written anyway)."""


def precision_warning(error_bound: float, cov: np.ndarray) -> str | None:
    """One-line reason when the bound on every covariance entry, ``error_bound``, exceeds
    PRECISION_LIMIT × max |σ_ab(t)| over the run (or is not finite), else None."""
    scale = float(np.max(np.abs(cov))) if cov is not None and cov.size else 0.0
    if np.isfinite(error_bound) and error_bound <= PRECISION_LIMIT * scale:
        return None
    return (f"double precision cannot reach the accuracy this run needs: the covariance is known only to "
            f"±{error_bound:.2g} (result.error_bound), {error_bound / scale if scale else np.inf:.2g} of its "
            f"largest entry {scale:.3g} (limit {PRECISION_LIMIT:g}); the results are written with that bound; "
            "a shorter run, a lower temperature or a higher lowest frequency (Ω0) brings it down")


def _times(net: Network, pair: tuple[int, int]) -> dict:
    """Characteristic times (τ_CT between the probes ``pair``, τ_R, group velocities) for chain
    environments, else {}."""
    if net.environment.kind != "chain" or not net.environment.g:
        return {}
    from .analysis.times import characteristic_times

    try:
        return {f"times.{k}": v for k, v in characteristic_times(net, pair).as_dict().items()}
    except HarmosyncError:
        return {}


def check_result(mean, cov, series, *, unphysical=None, bound: float = 0.0) -> None:
    """Numerical guard before anything is written: finite numbers, physical covariances.
    ``unphysical``: times (T,) bool where an open system with Brownian baths is known to leave
    σ + iΩ/2 ≥ 0 (the physics, not a numerical failure): allowed there, and NaN there in the
    state-based observables; everywhere else the guard is unchanged. ``bound``: the evolution's
    error bound on each entry of σ; an error that large moves the eigenvalues of σ + iΩ/2 by
    ≤ 2P·bound (Weyl), so only a violation beyond max(1e-8, 2P·bound) is a failure (within it,
    the precision warning speaks)."""
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(cov))):
        raise NumericalError("the result contains NaN or inf; nothing was written")
    bound = float(bound) if np.isfinite(bound) else 0.0
    bad = ~ms.is_physical(cov, tol=max(1e-8, cov.shape[-1] * bound))
    if unphysical is not None:
        bad &= ~unphysical
    if np.any(bad):
        k = int(np.flatnonzero(bad)[0])
        raise NumericalError(
            f"the probes' covariance violates σ + iΩ/2 ≥ 0 at time index {k} beyond roundoff; nothing was written "
            "(report this with your config)"
        )
    for name, values in series.items():
        o = obs.get(name)
        if unphysical is not None and o.state_based and np.any(unphysical):
            values = np.asarray(values)[~unphysical]
        if not o.nan_allowed and not np.all(np.isfinite(values)):
            raise NumericalError(f"{name} contains NaN or inf; nothing was written")
