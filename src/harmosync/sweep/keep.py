"""The ``[keep]`` table of a sweep: what to store per point, validated against the base config.

A point can keep full time series (every ``stride``-th time), summaries (mean/min/max over
time intervals) and the onset time of synchronization per interval. :meth:`Keep.variable_names`
lists the output variables this produces.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from .. import config as cfgmod
from ..errors import HarmosyncError, suggest
from ..observables import REGISTRY, SUMMARY_STATS

#: Series a point can keep: every observable of the registry (harmosync.observables).
SERIES = tuple(q for q, o in REGISTRY.items() if not o.steady)
#: Series that can be summarised over intervals: one number per time.
SCALAR_SERIES = tuple(q for q, o in REGISTRY.items() if not o.dims)
#: Series whose onset of synchronization is defined: the C(t, Δt) of Eq. (3), in [−1, 1].
C_VALUED = tuple(q for q, o in REGISTRY.items() if o.bounded and not o.dims)
STATS = SUMMARY_STATS  # <series>_<stat> summaries (io's numerical guard reads the names)
KEEP_KEYS = ("series", "stride", "summaries", "stats", "windows", "onset", "onset_threshold", "onset_hold")


@dataclass(frozen=True)
class Keep:
    """What to store per point. ``series``: full time series (every ``stride``-th time);
    ``summaries`` × ``stats``: mean/min/max over each summary interval; ``onset``: onset time
    of synchronization per interval (see :func:`harmosync.sweep.point.onset_time`).
    ``windows`` are the summary intervals (start, stop) [1/ω] (the ``interval`` dimension of
    the output; not the Δt of Eq. (3))."""

    series: tuple[str, ...] = ()
    stride: int = 1
    summaries: tuple[str, ...] = ()
    stats: tuple[str, ...] = STATS
    windows: tuple[tuple[float, float], ...] = ()
    onset: tuple[str, ...] = ()
    onset_threshold: float = 0.9
    onset_hold: float | None = None  # None: 5 × sync.window of the point

    @property
    def quantities(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.series + self.summaries + self.onset))

    def variable_names(self) -> list[str]:
        """The output variables per point (besides ``status``): series, ``<q>_<stat>``, ``<q>_onset``."""
        names = list(self.series)
        names += [f"{q}_{s}" for q in self.summaries for s in self.stats]
        names += [f"{q}_onset" for q in self.onset]
        return names

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["windows"] = [list(w) for w in self.windows]
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


def parse_keep(keep: dict | Keep | None, base: cfgmod.RunConfig) -> Keep:
    """Validate the ``[keep]`` table against the base config (one-line errors naming the key)."""
    if isinstance(keep, Keep):
        keep = keep.to_dict()
    if not keep:
        raise HarmosyncError('sweep error: say what to keep per point in a [keep] table, e.g. series = ["sync"] '
                             'or summaries = ["sync", "log_negativity"]')
    if not isinstance(keep, dict):
        raise HarmosyncError("sweep error: [keep] must be a table")
    for k in keep:
        if k not in KEEP_KEYS:
            raise HarmosyncError(f"sweep error: unknown key '{k}' in [keep]{suggest(k, KEEP_KEYS)}; "
                                 f"valid keys: {', '.join(KEEP_KEYS)}")

    def names(key, allowed):
        v = keep.get(key, [])
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, (list, tuple)):
            raise HarmosyncError(f"sweep error: keep.{key} must be a list of names, got {v!r}")
        for n in v:
            if n not in allowed:
                raise HarmosyncError(f"sweep error: keep.{key}: unknown quantity {n!r}{suggest(str(n), allowed)}; "
                                     f"choose from {', '.join(allowed)}")
        return tuple(dict.fromkeys(v))

    series = names("series", list(SERIES))
    summaries = names("summaries", SCALAR_SERIES)
    onset = names("onset", list(C_VALUED))
    stats = names("stats", list(STATS)) if "stats" in keep else STATS
    if not (series or summaries or onset):
        raise HarmosyncError("sweep error: [keep] keeps nothing; give series, summaries or onset")
    if "stats" in keep and not stats:
        raise HarmosyncError("sweep error: keep.stats is empty; give some of mean, min, max")
    _check_probes(series + summaries + onset, len(base.probes.frequencies))
    stride = keep.get("stride", 1)
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise HarmosyncError(f"sweep error: keep.stride = {stride!r} must be a whole number ≥ 1")
    thr = keep.get("onset_threshold", 0.9)
    if isinstance(thr, bool) or not isinstance(thr, (int, float)) or not 0 < thr <= 1:
        raise HarmosyncError(f"sweep error: keep.onset_threshold = {thr!r} must be in (0, 1]")
    hold = keep.get("onset_hold")
    if hold is not None and (isinstance(hold, bool) or not isinstance(hold, (int, float))
                             or not math.isfinite(hold) or hold < 0):
        raise HarmosyncError(f"sweep error: keep.onset_hold = {hold!r} must be a time ≥ 0 [1/ω]")
    windows = _intervals(keep.get("windows", [[base.time.start, base.time.stop]]))
    return Keep(series, stride, summaries, stats, windows, onset, float(thr),
                None if hold is None else float(hold))


def _check_probes(quantities, p: int) -> None:
    need = {"pair": "two probes", "two": "exactly two probes", "many": "more than two probes"}
    for q in quantities:
        if not REGISTRY[q].applies_to(p):
            raise HarmosyncError(f"sweep error: keep: {q} needs {need[REGISTRY[q].probes]}; the config has {p}")


def _intervals(wins) -> tuple[tuple[float, float], ...]:
    """keep.windows: the summary intervals, [start, stop] pairs [1/ω]."""
    if not isinstance(wins, (list, tuple)) or not wins:
        raise HarmosyncError("sweep error: keep.windows must be a list of [start, stop] pairs")
    out = []
    for w in wins:
        ok = isinstance(w, (list, tuple)) and len(w) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in w)
        if not ok or not w[0] < w[1]:
            raise HarmosyncError(f"sweep error: keep.windows: {w!r} must be [start, stop] with start < stop [1/ω]")
        out.append((float(w[0]), float(w[1])))
    return tuple(out)
