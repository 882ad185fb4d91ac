"""Pieces the figure recipes share: time grids, exact runs, a means-only solution, a strided
synchronization factor, and the dataset metadata (parameters, open choices, characteristic times).

Every time is in [1/ω1], positions in [ω1^(-1/2)], momenta in [ω1^(1/2)] (the paper's ω1 = 1;
ħ = 1, unit masses).
"""

from __future__ import annotations

import dataclasses
import functools
import json

import numpy as np

from .. import measures as ms
from .. import states as st
from ..errors import HarmosyncError
from .. import observables as obs
from ..io import provenance
from ..network import Network

#: Recorded with every figure: the synchronization window (CONVENTIONS.md, "Measures").
WINDOW_REASON = (
    "the paper never gives the window of Eq. (3); harmosync's default Δt = 20 (CONVENTIONS.md) spans "
    "several probe periods (2π/ω ≈ 6) and is far shorter than the crosstalk and revival times"
)
STOP_REASON = (
    "the paper's plots are not in its text; 0 ≤ t ≤ 1500 covers the revival τ_R ≈ 658 and the second "
    "feedback at ≈ 2τ_R the text discusses"
)
STEP_REASON = (
    "output step 0.05 (about 125 samples per probe period, far below the aliasing limit π/ω_max ≈ 1.4); "
    "the window average of Eq. (3) is a trapezoid rule on these samples"
)
ENVIRONMENT_REASON = "the chain starts in its ground state (T = 0), uncorrelated with the probes (paper Sec. II B)"


# ----------------------------------------------------------------------------------------------
# Parameters
# ----------------------------------------------------------------------------------------------
def check_run(stop: float, step: float, window: float) -> None:
    """Refuse a time grid or window the measures cannot use (one-line HarmosyncError)."""
    for name, v in (("stop", stop), ("step", step), ("window", window)):
        if not np.isfinite(v) or v <= 0:
            raise HarmosyncError(f"figure parameter {name} must be a positive number, got {v!r}")
    if stop / step > 5e6:
        raise HarmosyncError(f"figure time grid has {stop / step:.3g} points; use a larger step or an earlier stop")
    if window + 2 * step > stop:
        raise HarmosyncError(f"figure window {window:g} is longer than the run (stop = {stop:g}); shorten it")
    ms.window_samples(step, window)  # whole number of steps


def time_grid(stop: float, step: float) -> np.ndarray:
    """t = 0, step, …, stop [1/ω1] (stop included when it is a whole number of steps)."""
    n = int(np.floor(stop / step + 1e-9))
    return step * np.arange(n + 1)


def params_dict(params) -> dict:
    """A recipe's frozen parameters as JSON-able values (tuples → lists)."""
    return json.loads(json.dumps(dataclasses.asdict(params)))


def params_from_dict(cls, data: dict):
    """Rebuild a recipe's parameter object from :func:`params_dict` output (lists → tuples)."""
    def tup(v):
        return tuple(tup(x) for x in v) if isinstance(v, list) else v
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise HarmosyncError(f"unknown figure parameters {sorted(unknown)}; valid: {sorted(names)}")
    return cls(**{k: tup(v) for k, v in data.items()})


# ----------------------------------------------------------------------------------------------
# Runs
# ----------------------------------------------------------------------------------------------
def one_thread(fn):
    """Run ``fn`` with one BLAS thread. The figures' matrices are small (≈ 300–600): threads gain
    nothing there and, on a busy machine, contend badly (a 302 × 302 eigh went from 15 ms to
    over 1 s with two OpenBLAS threads on the shared 2-core test machine)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            return fn(*args, **kwargs)

    return wrapper


def coherent_pair(frequencies, x0, p0) -> st.InitialState:
    """Each probe in the displaced vacuum of its bare oscillator (CONVENTIONS, "States"), the
    chain in its ground state."""
    states = [st.coherent(w, x, p) for w, x, p in zip(frequencies, x0, p0)]
    return st.InitialState(st.product(*states))


def squeezed_pair(frequencies, r: float, angle: float) -> st.InitialState:
    """Both probes in squeezed vacua S(r e^{iφ})|0⟩ of their bare oscillators (φ = 0 squeezes x)."""
    return st.InitialState(st.product(*(st.squeezed(w, r, angle) for w in frequencies)))


def window_mean(values, times, start: float, stop: float) -> float:
    """Mean of ``values`` over start ≤ t ≤ stop, ignoring NaN (NaN if nothing is defined)."""
    values = np.asarray(values, dtype=float)
    sel = (np.asarray(times) >= start) & (np.asarray(times) <= stop) & np.isfinite(values)
    return float(values[sel].mean()) if np.any(sel) else float("nan")


# ----------------------------------------------------------------------------------------------
# Metadata
# ----------------------------------------------------------------------------------------------
def characteristic_attrs(network: Network, prefix: str = "times.") -> dict:
    """τ_CT, τ_R and the group velocities of ``network`` (analysis.times) as flat attributes."""
    from ..analysis.times import characteristic_times

    ct = characteristic_times(network)
    return {f"{prefix}{k}": float(v) for k, v in ct.as_dict().items()}


def finish(ds, *, figure: int, title: str, params, choices: dict, network: Network | None = None):
    """Attach units, provenance (the recipe's parameters), the open choices and why, and the
    characteristic times of ``network`` to ``ds``; returns ``ds``."""
    for name in ds.variables:
        units = obs.TIME_UNITS if name == "time" else getattr(obs.REGISTRY.get(name), "units", None)
        if units is not None and "units" not in ds[name].attrs:
            ds[name].attrs["units"] = units
    ds["time"].attrs.setdefault("long_name", "time")
    ds.attrs.update(provenance({"figure": figure, "parameters": params_dict(params)}))
    ds.attrs.update({f"choice.{k}": v for k, v in choices.items()})
    if network is not None:
        ds.attrs.update(characteristic_attrs(network))
    ds.attrs["title"] = f"harmosync figure {figure}: {title}"
    ds.attrs["reference"] = "Benedetti et al., Phys. Rev. A 94, 052118 (2016)"
    return ds


def read_params(cls, ds):
    """The parameter object that made ``ds`` (from its ``config_json`` attribute)."""
    return params_from_dict(cls, json.loads(ds.attrs["config_json"])["parameters"])
