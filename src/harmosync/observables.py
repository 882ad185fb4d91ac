"""The registry of observables: every quantity a run can output, defined once.

Each :class:`Observable` has its name, units, long name, the probes it refers to, what it needs
from the dynamics (first moments only, or also covariances), and how it is computed from the
moments of a run (:class:`Context`). ``simulate``, ``sweep``, the file writers and the plots
read this table; adding an observable is one entry in :data:`REGISTRY`.

Units are harmosync's: ħ = 1, unit masses, frequencies in the user's unit [w], times in 1/[w].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import measures as ms
from .errors import HarmosyncError
from .network import Network, system_mode_coordinates, system_normal_modes


@dataclass(frozen=True, eq=False)
class Context:
    """What an observable is computed from: one run's moments (interleaved, probes only) and
    its parameters. ``cov`` is None when no requested observable needs it. ``pair``: the two
    probes (0-based) the pairwise observables refer to (``sync.probes``); ``window``, ``delay``:
    Δt and τ of Eq. (3) [1/w]; ``error_bound``: the evolution's bound on any moment."""

    times: np.ndarray  # (T,)
    mean: np.ndarray  # (T, 2P)
    cov: np.ndarray | None  # (T, 2P, 2P)
    network: Network
    pair: tuple[int, int]
    window: float
    delay: float
    error_bound: float
    steady: np.ndarray | None = None  # open systems: the probes' σ_∞ (2P, 2P), if unique

    @property
    def step(self) -> float:
        return float(self.times[1] - self.times[0]) if self.times.size > 1 else 0.0

    def x2(self, i: int) -> np.ndarray:
        """⟨x_i²⟩ = σ_{x_i x_i} + ⟨x_i⟩² [1/w]."""
        return self.cov[:, 2 * i, 2 * i] + self.mean[:, 2 * i] ** 2


@dataclass(frozen=True)
class Observable:
    """One output quantity. ``dims``: its dimensions besides ``time``; ``needs``: "mean" (first
    moments) or "cov" (also covariances); ``probes``: "any" (every run), "pair" (refers to the
    pair ``sync.probes``; needs ≥ 2 probes), "two" (defined for exactly two probes) or "many"
    (every pair of probes, in runs with more than two; dimensions probe_a, probe_b);
    ``nan_allowed`` / ``inf_allowed``: NaN / +inf by definition somewhere (else the writers
    refuse them); ``bounded``: values in [−1, 1]; ``nonnegative``: ≥ 0 up to roundoff."""

    name: str
    units: str
    long_name: str
    compute: Callable[[Context], np.ndarray] = field(repr=False)
    needs: str = "mean"
    dims: tuple[str, ...] = ()
    probes: str = "any"
    nan_allowed: bool = False
    inf_allowed: bool = False
    bounded: bool = False
    nonnegative: bool = False
    uses_window: bool = False  # computed with Δt and τ of Eq. (3): stored as attributes
    #: needs a physical state (entropies, E_N, discord): NaN at the times an open system with
    #: Brownian baths violates σ + iΩ/2 ≥ 0 (``simulation.check_result`` allows exactly those)
    state_based: bool = False
    #: a property of the steady state (no time dimension; open systems with a unique σ_∞ only)
    steady: bool = False
    #: C(t, Δt) of Eq. (3) of two signals (T,) each: ``signals(context)`` gives them, and
    #: :func:`compute_many` computes the C of many runs in one ``sync_factor`` call
    signals: Callable[[Context], tuple[np.ndarray, np.ndarray]] | None = field(default=None, repr=False)

    def applies_to(self, n_probes: int) -> bool:
        return {"any": True, "pair": n_probes >= 2, "two": n_probes == 2, "many": n_probes > 2}[self.probes]

    def attrs(self, pair_1based, window: float, delay: float) -> dict:
        """Attributes beside units and long name: the pair and Eq. (3)'s Δt, τ where used."""
        out = {}
        if self.probes == "pair":
            out["probes"] = np.asarray(pair_1based)
        if self.uses_window:
            out.update(window=window, delay=delay)
        return out


def _energy_probes(c: Context) -> np.ndarray:
    # ⟨H_S⟩ = ½ Σ (V_S)_ij ⟨x_i x_j⟩ + ½ Σ ⟨p_i²⟩
    mean, cov = c.mean, c.cov
    vs = c.network.probes.potential()
    sx = cov[:, 0::2, 0::2] + mean[:, 0::2, None] * mean[:, None, 0::2]
    sp2 = np.einsum("tii->t", cov[:, 1::2, 1::2]) + np.sum(mean[:, 1::2] ** 2, axis=1)
    return 0.5 * (np.einsum("ij,tji->t", vs, sx) + sp2)


def _system_modes(c: Context) -> tuple[np.ndarray, np.ndarray]:
    pr = c.network.probes
    theta, _ = system_normal_modes(pr.frequencies, pr.coupling[0, 1])
    return system_mode_coordinates(c.mean[:, 0], c.mean[:, 2], theta)


def _mean_signals(c: Context) -> tuple[np.ndarray, np.ndarray]:
    i, j = c.pair
    return c.mean[:, 2 * i], c.mean[:, 2 * j]


def _variance_signals(c: Context) -> tuple[np.ndarray, np.ndarray]:
    i, j = c.pair
    return c.x2(i), c.x2(j)


def _pearson(signals):
    """The observable C(t, Δt) of Eq. (3) of the pair ``signals(context)``."""
    return lambda c: ms.sync_factor(*signals(c), c.step, c.window, delay=c.delay)


_MIXED = "1/([w]^-1 + [w]) (x and p mixed in the user's unit)"

REGISTRY: dict[str, Observable] = {o.name: o for o in (
    Observable("x", "[w]^(-1/2)", "first moment <x_i>", lambda c: c.mean[:, 0::2], dims=("probe",)),
    Observable("p", "[w]^(1/2)", "first moment <p_i>", lambda c: c.mean[:, 1::2], dims=("probe",)),
    Observable("cov", "products of x and p units (hbar = 1)",
               "covariance of the probes, sigma_ab = 1/2 <{dR_a, dR_b}>", lambda c: c.cov,
               needs="cov", dims=("row", "col")),
    Observable("energy_probes", "[w] (hbar = 1)", "<H_S>(t), energy of the probes without the interaction",
               _energy_probes, needs="cov"),
    Observable("sync", "1", "synchronization factor C(t, window) of <x_a>, <x_b>, Eq. (3)",
               _pearson(_mean_signals), probes="pair", nan_allowed=True, bounded=True, uses_window=True,
               signals=_mean_signals),
    Observable("sync_variance", "1", "synchronization factor C(t, window) of <x_a^2>, <x_b^2>",
               _pearson(_variance_signals), needs="cov", probes="pair", nan_allowed=True, bounded=True,
               uses_window=True, signals=_variance_signals),
    Observable("mutual_information", "nat", "mutual information I(a:b) = S_a + S_b - S_ab",
               lambda c: ms.mutual_information(c.cov, [c.pair[0]], [c.pair[1]], accuracy=c.error_bound),
               needs="cov", probes="pair", nonnegative=True, state_based=True),
    Observable("log_negativity", "nat", "logarithmic negativity E_N between probes a and b",
               lambda c: ms.log_negativity(c.cov, [c.pair[0]], [c.pair[1]], accuracy=c.error_bound),
               needs="cov", probes="pair", nonnegative=True, state_based=True),
    Observable("discord", "nat", "Gaussian quantum discord D(a|b), Gaussian measurements on probe b",
               lambda c: ms.discord(c.cov, *c.pair, accuracy=c.error_bound), needs="cov", probes="pair",
               nonnegative=True, state_based=True),
    Observable("discord_reverse", "nat", "Gaussian quantum discord D(b|a), Gaussian measurements on probe a",
               lambda c: ms.discord(c.cov, c.pair[1], c.pair[0], accuracy=c.error_bound), needs="cov",
               probes="pair", nonnegative=True, state_based=True),
    Observable("classical_correlation", "nat", "classical correlation J(a|b) = I(a:b) - D(a|b)",
               lambda c: ms.classical_correlation(c.cov, *c.pair, accuracy=c.error_bound), needs="cov",
               probes="pair", nonnegative=True, state_based=True),
    Observable("renyi2_mutual_information", "nat",
               "Renyi-2 mutual information I2(a:b), S2 = 1/2 ln det 2 sigma",
               lambda c: ms.renyi2_mutual_information(c.cov, [c.pair[0]], [c.pair[1]]), needs="cov",
               probes="pair", nonnegative=True, state_based=True),
    Observable("complete_sync", _MIXED, "Mari et al. complete synchronization S_c on the means",
               lambda c: ms.complete_sync(c.mean, None, *c.pair), probes="pair",
               nan_allowed=True, inf_allowed=True),
    Observable("complete_sync_quantum", _MIXED, "Mari et al. quantum complete synchronization S_q <= 1",
               lambda c: ms.complete_sync(c.mean, c.cov, *c.pair), needs="cov", probes="pair",
               nan_allowed=True),
    Observable("sync_matrix", "1", "synchronization factor C(t, window) of <x_a>, <x_b>, Eq. (3), every pair",
               lambda c: ms.sync_matrix(c.mean[:, 0::2], c.step, c.window, delay=c.delay),
               dims=("probe_a", "probe_b"), probes="many", nan_allowed=True, bounded=True, uses_window=True),
    Observable("mutual_information_matrix", "nat", "mutual information I(a:b) of every pair of probes (diagonal NaN)",
               lambda c: ms.mutual_information_matrix(c.cov, accuracy=c.error_bound), needs="cov",
               dims=("probe_a", "probe_b"), probes="many", nan_allowed=True),
    Observable("q1", "[w]^(-1/2)", "system normal mode q1 = cos(theta) x1 + sin(theta) x2 (Eq. A4), lower frequency",
               lambda c: _system_modes(c)[0], probes="two"),
    Observable("q2", "[w]^(-1/2)", "system normal mode q2 = -sin(theta) x1 + cos(theta) x2 (Eq. A5)",
               lambda c: _system_modes(c)[1], probes="two"),
    Observable("cov_steady", "products of x and p units (hbar = 1)",
               "steady-state covariance of the probes, A sigma + sigma A^T + D = 0 (open systems)",
               lambda c: c.steady, needs="cov", dims=("row", "col"), steady=True),
)}

#: Units of the coordinates every output shares.
TIME_UNITS = "1/[w]"
#: The statistics a sweep summarises a series by, stored as ``<series>_<stat>``.
SUMMARY_STATS = ("mean", "min", "max")
#: A sweep's onset time of a series, stored as ``<series>_onset`` [1/w]; NaN where none.
ONSET = "onset"


def available(n_probes: int) -> list[str]:
    """The observables defined for a run with ``n_probes`` probes, in output order."""
    return [name for name, o in REGISTRY.items() if o.applies_to(n_probes) and not o.steady]


def get(name: str) -> Observable:
    try:
        return REGISTRY[name]
    except KeyError:
        raise HarmosyncError(f"unknown observable {name!r}; valid: {', '.join(REGISTRY)}") from None


def needs_covariance(names) -> bool:
    return any(get(q).needs == "cov" for q in names)


def compute(names, context: Context) -> dict[str, np.ndarray]:
    """{name: values} for each of ``names``, in that order (``REGISTRY``'s definitions)."""
    return {q: get(q).compute(context) for q in names}


def compute_many(names, contexts) -> list[dict[str, np.ndarray]]:
    """:func:`compute` for many runs: per context its {name: values}. The C(t, Δt) of runs
    with the same time grid, Δt and τ (``Observable.signals``) come from one ``sync_factor``
    call on the stacked signals — the same numbers as one run at a time (every operation of
    ``sync_factor`` is per signal pair). Memory: the stacked signals, 3 · runs · T numbers."""
    names = list(names)
    out: list[dict] = [{} for _ in contexts]
    for q in names:
        o = get(q)
        groups: dict[tuple, list[int]] = {}
        for k, c in enumerate(contexts):
            key = (c.times.size, c.step, c.window, c.delay) if o.signals is not None else (k,)
            groups.setdefault(key, []).append(k)
        for idx in groups.values():
            if len(idx) == 1:
                out[idx[0]][q] = o.compute(contexts[idx[0]])
                continue
            c0 = contexts[idx[0]]
            pairs = [o.signals(contexts[k]) for k in idx]
            cc = ms.sync_factor(np.stack([f for f, _ in pairs]), np.stack([g for _, g in pairs]),
                                c0.step, c0.window, delay=c0.delay)
            for row, k in enumerate(idx):
                out[k][q] = cc[row]
    return out


def series_of(name: str) -> tuple[str, str | None]:
    """The observable a stored variable holds, and how: ``sync_min`` → ("sync", "min"),
    ``sync_onset`` → ("sync", "onset"), ``sync`` → ("sync", None). Names that are no
    observable's come back unchanged with None."""
    base, _, suffix = name.rpartition("_")
    if base in REGISTRY and (suffix in SUMMARY_STATS or suffix == ONSET):
        return base, suffix
    return name, None
