"""TOML run descriptions ↔ validated parameter objects.

The config uses the paper's names (see README, "Config file"). Every table is strict: an
unknown key is an error that suggests the closest valid one. Errors are one line and name the
key: ``config error: probes.sites: ...``.
"""

from __future__ import annotations

import math
import threading
import tomllib
from pathlib import Path
from typing import Any, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import baths as baths_mod
from . import config_paths as cpaths
from . import network as nw
from . import states as st
from .errors import HarmosyncError, UnstableEnvironmentError, suggest

Number = Union[int, float]


#: Largest magnitude accepted for any frequency, coupling, temperature or displacement [user
#: units]: beyond it squares overflow or lose every digit against the other scales.
MAX_MAGNITUDE = 1e6
#: Smallest probe frequency a config accepts, 1/MAX_MAGNITUDE: below, a probe's own variances
#: ⟨x²⟩ = 1/2ω and ⟨p²⟩ = ω/2 differ by more than 1e12 and its measures lose their digits (review
#: of session 22: ω = 1e-12 gave E_N = 6.7e-5 for a product state at t = 0; 1e-300 overflowed)
MIN_FREQUENCY = 1.0 / MAX_MAGNITUDE
TEXT_FIELDS = {"boundary"}
#: Largest squeezing r a config accepts: the covariance's condition number grows like e^{4r},
#: and at r = 5 the entropies, I and E_N of double-precision covariances keep ~1e-7 nats
#: (r = 6: 1e-5); docs/conventions.md, "Measures of strongly squeezed states".
MAX_SQUEEZING = 5.0


def _bad_scalar(x) -> bool:
    return isinstance(x, (bool, str)) or (isinstance(x, (int, float)) and abs(x) > MAX_MAGNITUDE and math.isfinite(x))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_only(cls, v, info):
        """No true/false or text where numbers go (TOML would otherwise coerce them), and no
        magnitudes beyond MAX_MAGNITUDE."""
        if info.field_name in TEXT_FIELDS or isinstance(v, dict) or _plain_number(v):
            return v
        if type(v) is list and all(_plain_number(x) for x in v):  # the common list: no nesting
            return v
        flat = [v]
        while any(isinstance(x, (list, tuple)) for x in flat):
            flat = [y for x in flat for y in (x if isinstance(x, (list, tuple)) else [x])]
        for x in flat:
            if isinstance(x, (bool, str)):
                raise ValueError(f"must be a number (or list of numbers), got {x!r}")
            if isinstance(x, float) and not math.isfinite(x):
                raise ValueError(f"must be finite, got {x!r}")
            if isinstance(x, (int, float)) and math.isfinite(x) and abs(x) > MAX_MAGNITUDE \
                    and info.field_name not in ("sites", "seed"):
                raise ValueError(f"{x!r} is beyond the supported magnitude {MAX_MAGNITUDE:g}; rescale your units")
        return v


def _plain_number(x) -> bool:
    """An int or float (not bool) that _numbers_only accepts anywhere: finite, |x| ≤ MAX_MAGNITUDE."""
    return (type(x) is float or type(x) is int) and -MAX_MAGNITUDE <= x <= MAX_MAGNITUDE


def _finite(v, name="value"):
    if isinstance(v, bool):
        raise ValueError(f"must be a number, got {v!r}")
    if isinstance(v, (int, float)) and not math.isfinite(v):
        raise ValueError(f"must be finite, got {v!r}")
    return v


#: Environments built from configs, by their parameters: the points of a sweep that vary only
#: the probes share one (its modes and stability bounds are then computed once per process).
_ENVIRONMENTS: dict[tuple, nw.Environment] = {}
_ENVIRONMENTS_LOCK = threading.Lock()
SHARED_ENVIRONMENTS = 8
SHARED_SITES = 100_000  # larger environments are rebuilt (the cache's memory stays ≲ 30 MB)


def _shared_environment(key: tuple, build) -> nw.Environment:
    """The environment with parameters ``key`` (its kind and size first), built by ``build()``
    the first time (a few are kept, the most recent last). Environments are immutable (frozen,
    read-only arrays)."""
    if key[1] > SHARED_SITES:
        return build()
    with _ENVIRONMENTS_LOCK:  # threaded sweep executors share the cache
        env = _ENVIRONMENTS.pop(key, None)
    if env is None:
        env = build()
        for arr in (env.onsite, env.wall):
            if arr is not None:
                arr.flags.writeable = False
    with _ENVIRONMENTS_LOCK:
        while len(_ENVIRONMENTS) >= SHARED_ENVIRONMENTS:
            del _ENVIRONMENTS[next(iter(_ENVIRONMENTS))]
        _ENVIRONMENTS[key] = env
    return env


class ChainConfig(_Strict):
    sites: int = Field(gt=0, le=10_000_000, description="M, number of chain sites")
    omega0: float = Field(ge=0, description="Ω0, on-site frequency [ω unit]; 0 (acoustic) needs fixed ends")
    g: float = Field(ge=0, description="nearest-neighbour coupling [ω unit²]")
    boundary: Literal["fixed", "free", "periodic"] = "fixed"
    temperature: float = Field(0.0, ge=0, description="environment temperature [ω unit]")
    onsite_frequencies: list[float] | None = Field(None, description="Ω_j per site (defects)")
    disorder: float = Field(0.0, ge=0, description="Ω_j = Ω0 (1 + disorder·u), u uniform in [−1, 1]")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="random seed of the disorder")

    @field_validator("omega0", "g", "temperature", "disorder", mode="before")
    @classmethod
    def _fin(cls, v):
        return _finite(v)

    @model_validator(mode="after")
    def _check(self):
        if self.onsite_frequencies is not None and len(self.onsite_frequencies) != self.sites:
            raise ValueError(f"onsite_frequencies has length {len(self.onsite_frequencies)}, expected sites = {self.sites}")
        if self.onsite_frequencies is not None and self.disorder:
            raise ValueError("give onsite_frequencies or disorder, not both")
        if self.disorder >= 1:
            raise ValueError(f"disorder = {self.disorder} must be < 1 so that every Ω_j stays positive")
        return self

    def build(self) -> nw.Environment:
        onsite = self.onsite_frequencies
        key = ("chain", self.sites, self.omega0, self.g, self.boundary,
               None if onsite is None else tuple(onsite), self.disorder, self.seed)

        def make():
            om = onsite
            if self.disorder:
                rng = np.random.default_rng(self.seed)
                om = self.omega0 * (1 + self.disorder * rng.uniform(-1, 1, self.sites))
            return nw.chain(self.sites, self.omega0, self.g, self.boundary, onsite_frequencies=om)

        try:
            return _shared_environment(key, make)
        except HarmosyncError as e:
            raise type(e)(f"config error: chain: {e}") from None


class GraphConfig(_Strict):
    sites: int = Field(gt=0, le=20_000)
    edges: list[tuple[int, int, float]] = Field(description="[j, k, A_jk] bonds, sites 1..M")
    onsite_frequencies: Union[float, list[float]]
    temperature: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _check(self):
        for j, k, a in self.edges:
            if not (1 <= j <= self.sites and 1 <= k <= self.sites) or j == k:
                raise ValueError(f"edge [{j}, {k}, {a}] must join two different sites in 1..{self.sites}")
            if not math.isfinite(a):
                raise ValueError(f"edge [{j}, {k}, {a}] has a non-finite coupling")
        seen = {}
        for j, k, a in self.edges:  # one bond per pair: a repeat (either order) would be summed silently
            pair = (min(j, k), max(j, k))
            if pair in seen:
                raise ValueError(f"edge [{j}, {k}, {a}] repeats the bond {list(seen[pair])} (bonds are undirected); "
                                 "give each pair of sites once, with the total coupling")
            seen[pair] = (j, k, a)
        if isinstance(self.onsite_frequencies, list) and len(self.onsite_frequencies) != self.sites:
            raise ValueError(f"onsite_frequencies has length {len(self.onsite_frequencies)}, expected sites = {self.sites}")
        return self

    def build(self) -> nw.Environment:
        onsite = self.onsite_frequencies
        key = ("graph", self.sites, tuple(map(tuple, self.edges)),
               tuple(onsite) if isinstance(onsite, list) else onsite)

        def make():
            a = np.zeros((self.sites, self.sites))
            for j, k, v in self.edges:
                a[j - 1, k - 1] += v
                a[k - 1, j - 1] += v
            return nw.graph(a, onsite)

        try:
            return _shared_environment(key, make)
        except HarmosyncError as e:
            raise type(e)(f"config error: graph: {e}") from None


class ProbesConfig(_Strict):
    frequencies: list[float] = Field(min_length=1, description="ω_i [ω unit]")
    coupling: Union[float, list[list[float]]] = Field(0.0, description="λ [ω unit²], or a P×P matrix")
    sites: list[Union[int, list[int]]] | None = Field(None, description="plugging site(s) per probe, 1..M")
    strengths: list[Union[float, list[float]]] | None = Field(None, description="K per probe [ω unit²]; negative flips the sign")

    @model_validator(mode="after")
    def _check(self):
        p = len(self.frequencies)
        if (self.sites is None) != (self.strengths is None):
            raise ValueError("give sites and strengths together (or neither, for probes without an environment)")
        for name in ("sites", "strengths"):
            if getattr(self, name) is None:
                continue
            n = len(getattr(self, name))
            if n != p:
                raise ValueError(f"{name} has length {n} but frequencies has length {p}; give one per probe")
        for f in self.frequencies:
            if not math.isfinite(f) or f <= 0:
                raise ValueError(f"frequencies must be positive and finite, got {f}")
            if f < MIN_FREQUENCY:
                raise ValueError(f"frequencies must be at least {MIN_FREQUENCY:g} (a probe's ⟨p²⟩ ∝ ω and ⟨x²⟩ ∝ 1/ω "
                                 f"would differ by more than 1e12), got {f:g}; rescale your units")
        if isinstance(self.coupling, list):
            if len(self.coupling) != p or any(len(row) != p for row in self.coupling):
                raise ValueError(f"coupling must be a number or a {p}×{p} matrix (one row per probe)")
        for i, s in enumerate(self.sites or ()):
            if isinstance(s, list) and not s:
                raise ValueError(f"probe {i + 1} has an empty list of sites; give at least one site")
        return self


class InitialConfig(_Strict):
    x: list[float] | None = Field(None, description="⟨x_i(0)⟩ [ω unit^(-1/2)]")
    p: list[float] | None = Field(None, description="⟨p_i(0)⟩ [ω unit^(1/2)]")
    squeezing: list[float] | None = Field(None, description="r_i ≥ 0")
    squeezing_angle: list[float] | None = Field(None, description="φ_i; 0 squeezes x")
    temperature: list[float] | None = Field(None, description="T_i of each probe [ω unit]")
    mean: list[float] | None = Field(None, description="full probe mean (2P), interleaved")
    covariance: list[list[float]] | None = Field(None, description="full probe covariance (2P×2P)")

    @field_validator("squeezing")
    @classmethod
    def _squeezing_range(cls, v):
        for r in v or ():
            if r > MAX_SQUEEZING:
                raise ValueError(f"squeezing r = {r!r} is too large: the measures of such a state keep fewer than "
                                 f"six digits in double precision; use r ≤ {MAX_SQUEEZING:g}")
        return v

    def build(self, frequencies: list[float]) -> st.GaussianState:
        p = len(frequencies)
        per = {k: getattr(self, k) for k in ("x", "p", "squeezing", "squeezing_angle", "temperature")}
        if self.covariance is not None:
            if any(v is not None for v in per.values()):
                raise HarmosyncError("config error: initial: give either covariance (and mean) or per-probe x, p, squeezing, ..., not both")
            mean = np.zeros(2 * p) if self.mean is None else np.asarray(self.mean, float)
            if len({len(row) for row in self.covariance}) > 1:
                raise HarmosyncError(f"config error: initial.covariance rows have different lengths "
                                     f"({', '.join(str(len(r)) for r in self.covariance)}); give {2 * p} rows of {2 * p} numbers")
            cov = np.asarray(self.covariance, float)
            if cov.shape != (2 * p, 2 * p):
                raise HarmosyncError(f"config error: initial.covariance must be {2 * p}×{2 * p} (2P × 2P, P = {p}), got shape {cov.shape}")
            if mean.shape != (2 * p,):
                raise HarmosyncError(f"config error: initial.mean must have length {2 * p} (2P, P = {p}), got {mean.size}")
            return _wrap("initial.covariance", lambda: st.GaussianState(mean, cov))
        if self.mean is not None:
            raise HarmosyncError("config error: initial.mean goes with initial.covariance; for coherent states use x and p")
        for k, v in per.items():
            if v is not None and len(v) != p:
                raise HarmosyncError(f"config error: initial.{k} has length {len(v)} but P = {p}; give one per probe")
            if v is not None and not all(math.isfinite(a) for a in v):
                raise HarmosyncError(f"config error: initial.{k} must be finite, got {v}")
        get = lambda k, i: 0.0 if per[k] is None else float(per[k][i])  # noqa: E731
        states = []
        for i, w in enumerate(frequencies):
            s = _wrap(f"initial (probe {i + 1})", lambda: st.squeezed(w, get("squeezing", i), get("squeezing_angle", i),
                                                                        x=get("x", i), p=get("p", i)))
            t = get("temperature", i)
            if t < 0:
                raise HarmosyncError(f"config error: initial.temperature of probe {i + 1} must be ≥ 0, got {t}")
            if t > 0:  # squeezed thermal state: (2n̄ + 1) × squeezed-vacuum covariance
                s = st.GaussianState(s.mean, s.cov * 2 * float(st.thermal_factor(w, t)))
            states.append(s)
        return st.product(*states)


def _wrap(where, fn):
    try:
        return fn()
    except HarmosyncError as e:
        raise HarmosyncError(f"config error: {where}: {e}") from None


class TimeConfig(_Strict):
    start: float = 0.0
    stop: float = Field(description="last time [1/ω unit]")
    step: float = Field(gt=0, description="output step [1/ω unit]")

    @field_validator("start", "stop", "step", mode="before")
    @classmethod
    def _fin(cls, v):
        return _finite(v)

    @model_validator(mode="after")
    def _check(self):
        if self.stop <= self.start:
            raise ValueError(f"stop = {self.stop} must be after start = {self.start}")
        n = (self.stop - self.start) / self.step
        if n < 1:
            raise ValueError(f"step = {self.step} is longer than the run ({self.stop - self.start}); use a smaller step")
        if n > 5e7:
            raise ValueError(f"{n:.3g} time points is too many; use a larger step or a shorter run")
        return self

    def grid(self) -> np.ndarray:
        n = int(math.floor((self.stop - self.start) / self.step + 1e-9))
        return self.start + self.step * np.arange(n + 1)


class SyncConfig(_Strict):
    window: float = Field(20.0, gt=0, description="Δt of Eq. (3) [1/ω unit]")
    delay: float = Field(0.0, description="τ: C between f(t) and g(t + τ) [1/ω unit]")
    probes: tuple[int, int] = Field((1, 2), description="the pair of probes compared")

    @field_validator("window", "delay", mode="before")
    @classmethod
    def _fin(cls, v):
        return _finite(v)


class SiteRange(BaseModel):
    """An inclusive range of environment sites, as in [sweep]: {start, stop}."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    start: int = Field(ge=1)
    stop: int = Field(ge=1)

    @model_validator(mode="after")
    def _order(self):
        if self.stop < self.start:
            raise ValueError(f"stop = {self.stop} is before start = {self.start}")
        return self


class BathConfig(BaseModel):
    """One [[baths]] table (CONVENTIONS, "Open systems"; :class:`harmosync.baths.Bath`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    kind: Literal["lindblad", "brownian"]
    probes: list[int] = Field(default_factory=list, description="member probes, 1..P")
    sites: Union[list[int], SiteRange, Literal["all"]] = Field(default_factory=list,
                                                               description="member sites, 1..M")
    rate: float = Field(ge=0, description="γ [ω unit]")
    temperature: float | None = Field(None, ge=0, description="T [ω unit]")
    occupation: float | None = Field(None, ge=0, description="n̄ (Lindblad only)")
    common: bool = False
    weights: list[float] | None = Field(None, description="c_j of a common bath, probes first then sites")
    frequency: float | None = Field(None, gt=0, description="bath frequency w_b [ω unit]")

    @field_validator("rate", "temperature", "occupation", "frequency", mode="before")
    @classmethod
    def _num(cls, v):
        if v is None:
            return v
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"must be a number, got {v!r}")
        if not math.isfinite(v) or abs(v) > MAX_MAGNITUDE:
            raise ValueError(f"must be finite and at most {MAX_MAGNITUDE:g}, got {v!r}")
        return float(v)

    @field_validator("weights", mode="before")
    @classmethod
    def _nums(cls, v):
        if v is not None:
            for x in v:
                cls._num(x)
            return [float(x) for x in v]
        return v

    @model_validator(mode="after")
    def _check(self):
        if not self.probes and not self.sites:
            raise ValueError("a bath needs members: give probes and/or sites")
        if self.occupation is not None and self.kind != "lindblad":
            raise ValueError("occupation is for Lindblad baths only; give a Brownian bath a temperature")
        if self.occupation is not None and self.temperature is not None:
            raise ValueError("give temperature or occupation, not both")
        if self.weights is not None and not self.common:
            raise ValueError("weights belong to common baths only; set common = true or drop weights")
        return self

    def build(self) -> baths_mod.Bath:
        sites = self.sites
        if isinstance(sites, SiteRange):
            sites = tuple(range(sites.start, sites.stop + 1))
        elif sites != "all":
            sites = tuple(sites)
        return baths_mod.Bath(self.kind, self.rate, tuple(self.probes), sites, self.temperature,
                              self.occupation, self.common,
                              None if self.weights is None else tuple(self.weights), self.frequency)


class RunConfig(_Strict):
    chain: ChainConfig | None = None
    graph: GraphConfig | None = None
    probes: ProbesConfig
    initial: InitialConfig = InitialConfig()
    time: TimeConfig
    sync: SyncConfig = SyncConfig()
    baths: list[BathConfig] = Field(default_factory=list, description="[[baths]] tables (open systems)")

    @model_validator(mode="after")
    def _one_env(self):
        _check_tables(self)
        return self

    # -- builders ---------------------------------------------------------------------------
    @property
    def environment_config(self):
        return self.chain if self.chain is not None else self.graph

    def build_network(self) -> nw.Network:
        env = self.environment_config.build() if self.environment_config is not None else nw.no_environment()
        pc = self.probes
        try:
            pr = nw.probes(pc.frequencies, pc.coupling, pc.sites, pc.strengths)
            return nw.couple(env, pr)
        except HarmosyncError as e:
            env_table = "chain" if self.chain is not None else "graph"
            table = env_table if isinstance(e, UnstableEnvironmentError) else "probes"
            raise type(e)(f"config error: {table}: {e}") from None

    def build_state(self) -> st.InitialState:
        env = self.environment_config
        return st.InitialState(self.initial.build(self.probes.frequencies), env.temperature if env is not None else 0.0)

    def build_baths(self, network: nw.Network) -> tuple[baths_mod.Bath, ...]:
        """The [[baths]] tables as :class:`harmosync.baths.Bath`, checked against ``network``
        (members exist, weights match); errors name the table as baths[k], k from 1."""
        out = []
        for k, b in enumerate(self.baths, start=1):
            try:
                bath = b.build()
                # members exist, and each has a frequency for its jumps (own frequency 0 without
                # the bath's: refused here, as a config error, not at the solve)
                baths_mod.check_jumps(bath, network)
            except HarmosyncError as e:
                raise HarmosyncError(f"config error: baths[{k}]: {e}") from None
            out.append(bath)
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        d = self.model_dump(mode="json", exclude_none=True)
        if not d.get("baths"):  # a closed run reads as before: same files, same sweep hashes
            d.pop("baths", None)
        return d


def _check_tables(cfg: RunConfig) -> None:
    """RunConfig's checks across tables (ValueError)."""
    if cfg.chain is not None and cfg.graph is not None:
        raise ValueError("give exactly one environment table, [chain] or [graph], not both (or neither, for probes alone)")
    if cfg.chain is None and cfg.graph is None and cfg.probes.sites is not None:
        raise ValueError("probes.sites and probes.strengths plug the probes into an environment, but there is "
                         "no [chain] or [graph]; add one, or drop them for probes alone")
    if (cfg.chain is not None or cfg.graph is not None) and cfg.probes.sites is None:
        raise ValueError("probes.sites and probes.strengths are required with an environment")


#: RunConfig's tables that are one model each (parse_update validates them alone)
SINGLE_TABLES = {"chain": ChainConfig, "graph": GraphConfig, "probes": ProbesConfig, "initial": InitialConfig,
                 "time": TimeConfig, "sync": SyncConfig}


def parse_update(base: RunConfig, data: dict, tables) -> RunConfig:
    """:func:`parse` of ``data``, a config dict that differs from the validated ``base`` only in
    the top-level ``tables`` (a sweep's point: its axes set values in those tables): those
    tables are validated alone and the rest is taken from ``base`` — the same config, ~3× faster
    than validating it all. Any refusal goes through :func:`parse` (its exact message)."""
    if not all(t in SINGLE_TABLES and isinstance(data.get(t), dict) for t in tables):
        return parse(data, depth_checked=True)
    try:
        cfg = base.model_copy(update={t: SINGLE_TABLES[t].model_validate(data[t]) for t in tables})
        _check_tables(cfg)
    except (ValidationError, ValueError):
        return parse(data, depth_checked=True)  # raises the one-line error
    return cfg


def _format_error(err: ValidationError, model: type[BaseModel]) -> str:
    errors = err.errors()
    # an unknown key explains a "missing" one (a typo: strength for strengths): report it first
    e = next((x for x in errors if x["type"] == "extra_forbidden"), errors[0])
    # a union (baths.sites: list, {start, stop} or "all") reports every branch: the branch
    # that matched the input's shape and refused its values says what is wrong, not "a valid list"
    e = next((x for x in errors if x["type"] == "value_error" and _location(x["loc"]) == _location(e["loc"])
              and e["type"] != "extra_forbidden"), e)
    loc = _location(e["loc"])
    typ, msg = e["type"], e["msg"]
    if typ == "extra_forbidden":
        *parent, key = [x for x in e["loc"] if isinstance(x, str)]
        fields = _fields_at(model, parent)
        where = ".".join(parent) or "the top level"
        if parent[:1] == ["baths"] and len(e["loc"]) > 1 and isinstance(e["loc"][1], int):
            return f"config error: baths[{e['loc'][1] + 1}]: unknown key '{key}'" + suggest(key, fields) \
                + f"; valid keys: {', '.join(fields)}"
        return f"config error: unknown key '{key}' in {('[' + where + ']') if parent else where}" + suggest(key, fields) \
            + f"; valid keys: {', '.join(fields)}"
    if typ == "missing":
        return f"config error: {loc}: required key is missing"
    msg = msg.removeprefix("Value error, ")
    got = e.get("input")
    tail = "" if isinstance(got, dict) or typ.startswith("value_error") else f" (got {got!r})"
    return f"config error: {loc or 'config'}: {msg}{tail}"


def _location(loc) -> str:
    """A pydantic error location as the user writes it: ``baths.0.rate`` → ``baths[1].rate``
    (tables numbered from 1); validator-internal parts dropped."""
    parts = [x for x in loc if not (isinstance(x, str) and x.startswith(("function-after", "function-before", "list[",
                                                                         "literal[", "SiteRange")))]
    out = ""
    for i, x in enumerate(parts):
        if isinstance(x, int) and i == 1 and parts[0] == "baths":
            out += f"[{x + 1}]"
        else:
            out += ("." if out else "") + str(x)
    return out


def _fields_at(model: type[BaseModel], path: list[str]) -> list[str]:
    m = model
    for key in path:
        f = m.model_fields.get(key)
        if f is None:
            return []
        ann = f.annotation
        sub = [a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not sub:
            return []
        m = sub[0]
    return list(m.model_fields)


#: Deepest nesting of tables and lists a config may have (real ones have at most five levels):
#: deeper input is refused before anything recurses into it.
MAX_DEPTH = 32


def check_depth(data, where: str) -> None:
    """Refuse tables and lists nested more than MAX_DEPTH levels deep (``where`` names the input)."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise HarmosyncError(f"{where} nests tables or lists more than {MAX_DEPTH} levels deep; a harmosync "
                                 "config has a few levels (see README, \"Config file\")")
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list, tuple)))


def parse(data: dict, *, depth_checked: bool = False) -> RunConfig:
    """Validate a config dict; raises :class:`HarmosyncError` with a one-line message.
    ``depth_checked``: the caller knows ``data`` nests no deeper than a valid config (a sweep's
    point: its base config with numbers set), so :func:`check_depth` is skipped."""
    if not isinstance(data, dict):
        raise HarmosyncError("config error: the config must be a TOML table")
    if not depth_checked:
        check_depth(data, "config error: the config")
    try:
        return RunConfig.model_validate(data)
    except ValidationError as err:
        raise HarmosyncError(_format_error(err, RunConfig)) from None


def load(path_or_dict) -> RunConfig:
    """Read and validate a config: a TOML file (path), or a dict laid out as the TOML (tables as
    dicts, ``[[baths]]`` as a list of dicts), validated exactly as a file is. One-line
    :class:`HarmosyncError` on bad input. To change a value afterwards, see :func:`replace`."""
    if isinstance(path_or_dict, dict):
        return parse(path_or_dict)
    if not isinstance(path_or_dict, (str, Path)) and not hasattr(path_or_dict, "__fspath__"):
        raise HarmosyncError(f"config error: load takes a TOML file's path or a dict, got {type(path_or_dict).__name__}")
    return parse(read_toml(path_or_dict))


def replace(cfg: RunConfig, *changes) -> RunConfig:
    """A new config: ``cfg`` with values changed at dotted paths, validated as a file is.

    ``changes``: path, value pairs, ``replace(cfg, "probes.strengths[2]", 0.3, "chain.g", 1.1)``,
    or one dict ``{path: value}``. Paths are those of ``[sweep]`` axes
    (:mod:`harmosync.config_paths`): entry numbers from 1 (probe numbers for ``[probes]``
    lists), ``[*]`` for every entry, ``baths[1].rate`` for a ``[[baths]]`` table; a list entry
    must exist (lists do not grow). The network is built at once, so an unstable one is refused
    here (:class:`~harmosync.errors.UnstableNetworkError`), not when it runs.
    """
    if not isinstance(cfg, RunConfig):
        raise HarmosyncError(f"config error: replace takes a RunConfig (from config.load), got {type(cfg).__name__}")
    if len(changes) == 1 and isinstance(changes[0], dict):
        pairs = list(changes[0].items())
    elif changes and len(changes) % 2 == 0:
        pairs = list(zip(changes[::2], changes[1::2]))
    else:
        raise HarmosyncError("config error: replace takes path, value pairs, e.g. "
                             "replace(cfg, \"probes.strengths[2]\", 0.3), or one dict {path: value}")
    data = cfg.to_dict()
    for path, value in pairs:
        segs = cpaths.parse_path(path, RunConfig, what="config error")
        cpaths.check_target(data, path, segs, what="config error")
        value = value.tolist() if isinstance(value, (np.ndarray, np.generic)) else value
        data = cpaths.set_path(data, segs, value)
    new = parse(data)
    new.build_baths(new.build_network())
    return new


def read_toml(path) -> dict:
    """The TOML file at ``path`` as a dict (UTF-8, a byte-order mark allowed), with one-line
    errors; ``load`` and the sweep configs read through it."""
    path = Path(path)
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise HarmosyncError(f"config file {str(path)!r} does not exist") from None
    except OSError as e:
        raise HarmosyncError(f"cannot read config file {str(path)!r}: {e.strerror}") from None
    try:
        data = tomllib.loads(text.decode("utf-8-sig"))  # a byte-order mark from Windows editors is fine
    except UnicodeDecodeError:
        raise HarmosyncError(f"config file {str(path)!r} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise HarmosyncError(f"config file {str(path)!r} is not valid TOML: {e}") from None
    except RecursionError:  # the parser recurses into nested arrays and inline tables
        raise HarmosyncError(f"config file {str(path)!r} nests tables or lists thousands of levels deep; a "
                             "harmosync config has a few levels (see README, \"Config file\")") from None
    check_depth(data, f"config file {str(path)!r}")
    return data
