"""Markovian baths on the oscillators of a network (open systems; CONVENTIONS, "Open systems").

Every bath is linear, so a Gaussian state stays Gaussian: dm/dt = A m and
dσ/dt = A σ + σ Aᵀ + D, with the drift A and diffusion D built here (interleaved ordering
(x1, p1, x2, p2, …), probes first, then environment sites; σ_ab = ½⟨{ΔR_a, ΔR_b}⟩).

* **Own frequency** w_j: a probe's ``frequencies`` entry, a site's on-site frequency (Ω0, its
  ``onsite_frequencies`` value, or the disordered one) — never √V_jj.
* **Bath frequency** w_b: ``frequency`` if given (then it replaces every member's own frequency
  below), else the plain mean of the members' own frequencies.
* **Lindblad** (``kind="lindblad"``): jump operator L = Σ_j c_j a_j, a_j = (w_j x_j + i p_j)/√(2w_j);
  dρ/dt = −i[H, ρ] + γ(n̄ + 1)𝓛[L]ρ + γ n̄ 𝓛[L†]ρ. With L = lᵀR (l complex), a jump at rate Γ adds
  −Γ Ω Im(l l†) to A and Γ Ω Re(l l†) Ωᵀ to D (Heisenberg equations of the dissipator).
* **Brownian** (``kind="brownian"``, Caldeira–Leggett, Markov limit): X = Σ c_j x_j, P = Σ c_j p_j,
  dρ/dt = −i[H, ρ] − i(γ/2)[X, {P, ρ}] − D_c[X, [X, ρ]], D_c = γ w_b (n̄ + ½): A gains
  −γ c_j c_k in its (p_j, p_k) entries, D gains 2 D_c c_j c_k there. Not of Lindblad form: the
  state can violate σ + iΩ/2 ≥ 0.
* **Temperature** → n̄ = 1/(e^{w/T} − 1) at the member's own frequency (separate baths) or at w_b
  (common baths); a Lindblad bath may give ``occupation`` n̄ instead.
* **Common** (``common=True``): one bath whose L (or X, P) sums over all members with the
  ``weights`` c_j (default 1, used as given). Otherwise one independent bath per member (c = 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .conventions import symplectic_form, thermal_occupation
from .errors import HarmosyncError
from .network import Network

KINDS = ("lindblad", "brownian")


@dataclass(frozen=True)
class Bath:
    """One ``[[baths]]`` table: a Lindblad or Brownian bath on ``probes`` (1-based) and/or
    environment ``sites`` (1-based; "all" for every site), with rate γ [w], and either
    ``temperature`` T [w] or (Lindblad only) ``occupation`` n̄; ``common`` baths take
    ``weights`` (probes first, then sites; default all 1) and any bath an optional
    ``frequency`` w_b [w]. Validated on construction; :func:`drift_diffusion` builds A and D."""

    kind: str
    rate: float
    probes: tuple[int, ...] = ()
    sites: tuple[int, ...] | str = ()
    temperature: float | None = None
    occupation: float | None = None
    common: bool = False
    weights: tuple[float, ...] | None = None
    frequency: float | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            from .errors import suggest

            raise HarmosyncError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}"
                                 + suggest(str(self.kind), KINDS))
        _number("rate", self.rate, minimum=0.0)
        object.__setattr__(self, "probes", _indices("probes", self.probes))
        if self.sites != "all":
            object.__setattr__(self, "sites", _indices("sites", self.sites))
        if not self.probes and not self.sites:
            raise HarmosyncError("a bath needs members: give probes and/or sites")
        if self.temperature is not None and self.occupation is not None:
            raise HarmosyncError("give temperature or occupation, not both")
        if self.occupation is not None:
            if self.kind != "lindblad":
                raise HarmosyncError("occupation is for Lindblad baths only; give a Brownian bath a temperature")
            _number("occupation", self.occupation, minimum=0.0)
        if self.temperature is not None:
            _number("temperature", self.temperature, minimum=0.0)
        if self.frequency is not None:
            _number("frequency", self.frequency, minimum=0.0, strict=True)
        if self.weights is not None:
            if not self.common:
                raise HarmosyncError("weights belong to common baths only; set common = true or drop weights")
            w = tuple(_number("weights", c) for c in self.weights)
            object.__setattr__(self, "weights", w)

    def members(self, network: Network) -> list[int]:
        """The members' 0-based oscillator indices (probes first, then sites), checked."""
        p, m = network.n_probes, network.environment.sites
        for i in self.probes:
            if not 1 <= i <= p:
                raise HarmosyncError(f"probe {i} does not exist; probes are numbered 1..{p}")
        sites = range(1, m + 1) if self.sites == "all" else self.sites
        for s in sites:
            if not 1 <= s <= m:
                where = f"sites are numbered 1..{m}" if m else "there is no environment"
                raise HarmosyncError(f"site {s} does not exist; {where}")
        out = [i - 1 for i in self.probes] + [p + s - 1 for s in sites]
        if len(set(out)) != len(out):
            raise HarmosyncError("a bath lists the same probe or site twice")
        if not out:
            raise HarmosyncError("the bath has no members (sites = \"all\" with no environment)")
        if self.weights is not None and len(self.weights) != len(out):
            raise HarmosyncError(f"weights has {len(self.weights)} entries but the bath has {len(out)} members "
                                 "(probes first, then sites); give one weight per member")
        return out


def _number(name, v, *, minimum=None, strict=False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise HarmosyncError(f"{name} must be a number, got {v!r}")
    v = float(v)
    if not math.isfinite(v):
        raise HarmosyncError(f"{name} must be finite, got {v!r}")
    if minimum is not None and (v < minimum or (strict and v <= minimum)):
        raise HarmosyncError(f"{name} must be {'>' if strict else '≥'} {minimum:g}, got {v:g}")
    return v


def _indices(name, values) -> tuple[int, ...]:
    if isinstance(values, (int, np.integer)) and not isinstance(values, bool):
        values = (values,)
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise HarmosyncError(f"{name} must be whole numbers counted from 1, got {v!r}")
        out.append(int(v))
    return tuple(out)


def own_frequencies(network: Network) -> np.ndarray:
    """w_j of every oscillator (probes first): the probes' frequencies, the sites' on-site
    frequencies (√ of the on-site stiffness, not √V_jj) [w]."""
    return np.concatenate([np.asarray(network.probes.frequencies, float),
                           np.sqrt(network.environment.onsite)])


def hamiltonian_drift(network: Network) -> np.ndarray:
    """A_H (2N × 2N, interleaved): dx/dt = p, dp/dt = −V x."""
    n = network.size
    a = np.zeros((2 * n, 2 * n))
    a[0::2, 1::2] = np.eye(n)
    a[1::2, 0::2] = -network.potential()
    return a


def check_jumps(bath: Bath, network: Network) -> None:
    """Raise HarmosyncError where ``bath`` does not apply to ``network``: a member that does not
    exist, or one of own frequency 0 when the bath gives none (what :func:`drift_diffusion`
    would refuse)."""
    _jumps(bath, bath.members(network), own_frequencies(network))


def _jumps(bath: Bath, idx: list[int], w: np.ndarray):
    """[(members, weights, frequencies, w_b, n̄)] of the independent baths ``bath`` stands for."""
    wb_given = bath.frequency
    if bath.common:
        c = np.ones(len(idx)) if bath.weights is None else np.asarray(bath.weights)
        freqs = np.full(len(idx), wb_given) if wb_given is not None else w[idx]
        groups = [(idx, c, freqs)]
    else:
        groups = [([j], np.ones(1), np.array([wb_given if wb_given is not None else w[j]])) for j in idx]
    out = []
    for members, c, freqs in groups:
        if np.any(freqs <= 0):
            raise HarmosyncError("a member has own frequency 0; give the bath a frequency")
        wb = float(wb_given) if wb_given is not None else float(np.mean(freqs))
        if bath.occupation is not None:
            nbar = float(bath.occupation)
        else:
            nbar = float(thermal_occupation(wb, float(bath.temperature or 0.0)))
        out.append((members, c, freqs, wb, nbar))
    return out


def drift_diffusion(network: Network, baths) -> tuple[np.ndarray, np.ndarray]:
    """The drift A and diffusion D (2N × 2N, interleaved) of ``network`` with ``baths`` (module
    docstring): dm/dt = A m, dσ/dt = Aσ + σAᵀ + D [A in w, D in w·(x, p units)]."""
    n = network.size
    a = hamiltonian_drift(network)
    d = np.zeros_like(a)
    w = own_frequencies(network)
    omega = symplectic_form(n)
    for k, bath in enumerate(baths, start=1):
        try:
            idx = bath.members(network)
            groups = _jumps(bath, idx, w)
        except HarmosyncError as e:
            raise type(e)(f"baths[{k}]: {e}") from None
        for members, c, freqs, wb, nbar in groups:
            if bath.kind == "lindblad":
                # L = lᵀR = Σ c_j (w_j x_j + i p_j)/√(2 w_j), on the members' (x_j, p_j) only;
                # Ω is block diagonal, so Ω·(l l†) lives on the same block
                sub = np.ravel([[2 * j, 2 * j + 1] for j in members])
                l = np.ravel(np.column_stack([c * np.sqrt(freqs / 2), 1j * c / np.sqrt(2 * freqs)]))
                ll = np.outer(l, l.conj())
                om = omega[np.ix_(sub, sub)]
                # L at γ(n̄+1), L† at γn̄: the drift terms differ in sign, the diffusions add
                a[np.ix_(sub, sub)] -= bath.rate * (om @ ll.imag)
                d[np.ix_(sub, sub)] += bath.rate * (2 * nbar + 1) * (om @ ll.real @ om.T)
            else:
                pj = [2 * j + 1 for j in members]
                cc = np.outer(c, c)
                a[np.ix_(pj, pj)] -= bath.rate * cc
                d[np.ix_(pj, pj)] += 2 * bath.rate * wb * (nbar + 0.5) * cc
    return a, d


def has_brownian(baths) -> bool:
    return any(b.kind == "brownian" for b in baths)
