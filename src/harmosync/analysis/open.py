"""The open system's damped normal modes as an analysis (issue 12, item 5; docs/open-systems.md).

With Markovian baths the means obey dm/dt = A m (``harmosync.baths.drift_diffusion``), so every
mean is a sum of damped modes Re(a e^{λt}), λ = −rate + i·frequency an eigenvalue of A. Once
the faster modes have decayed, the slowest mode that moves the probes sets their pattern: if it
moves two probes in phase they synchronize (C → +1), in anti-phase they anti-synchronize
(C → −1). This is the open-system analogue of the paper's Rayleigh condition (Sec. III): there
the environment damps the probes' normal modes at G′_ss/2, here A's eigenvalues give the exact
rates, baths and environment together. The next-slowest probe mode's amplitude falls
``SYNC_RATIO``× below the survivor's at

    t_sync = ln(SYNC_RATIO) / rate_gap,   rate_gap = rate₂ − rate₁ (amplitude rates).

With an environment, the closed network's analysis (Rayleigh, τ_R) still describes the
transient; the rate gap describes what is left when the baths have had their time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..dynamics.open import OpenModes, open_modes, probe_modes
from ..network import Network
from .rayleigh import ONE_PROBE_LIMIT, SYNC_RATIO, Verdict

#: how many of the slowest probe modes the report lists
SLOWEST = 6
#: relative rate gap below which two modes decay alike (no gap)
GAP_MIN = 1e-8


@dataclass(frozen=True, eq=False)
class OpenReport:
    """The damped modes of ``network`` with its baths (module docstring).

    ``modes``: every mode (:class:`~harmosync.dynamics.open.OpenModes`, slowest first).
    ``slowest``: indices of the ``SLOWEST`` slowest modes with probe weight above
    ``PROBE_WEIGHT_MIN``; ``skipped``: how many slower modes carry less. ``survivor``,
    ``runner_up``: the two slowest such modes (None if absent). ``rate_gap`` [w]: their rate
    difference. ``time_to_sync`` [1/w]: ln(SYNC_RATIO)/rate_gap (inf without a gap).
    ``phase`` [rad]: arg(a₂/a₁) of the survivor on probes 1, 2 (NaN unless two probes).
    ``verdict``: SYNC, ANTI_SYNC, NONE (no gap, or the survivor lives on one probe), or
    NOT_APPLICABLE (not two probes); ``reason``: the matching code ("gap", "no-gap",
    "one-probe-mode", "not-two-probes", "no-probe-mode"). ``steady_state``: whether a unique σ_∞
    exists (no noiseless mode and no growing one)."""

    modes: OpenModes
    slowest: tuple[int, ...]
    skipped: int
    survivor: int | None
    runner_up: int | None
    rate_gap: float
    time_to_sync: float
    phase: float
    verdict: Verdict
    reason: str
    n_baths: int

    @property
    def steady_state(self) -> bool:
        return not (self.modes.noiseless or self.modes.growing)

    @property
    def slowest_rate(self) -> float:
        """The smallest decay rate of any mode [w] (0 with a noiseless mode)."""
        return float(max(0.0, self.modes.rates[0])) if self.modes.rates.size else float("nan")

    def mode_dict(self, k: int) -> dict:
        """Mode ``k`` as data: rate and frequency [w], probe weights, probe phase [rad]."""
        m = self.modes
        amp = m.probe_amplitudes[k]
        ph = [float(np.angle(a / amp[0])) if abs(amp[0]) > 0 else float("nan") for a in amp]
        return {"rate": float(m.rates[k]), "frequency": float(m.frequencies[k]),
                "probe_weights": [float(x) for x in m.probe_weights[k]], "probe_phases": ph,
                "probe_weight": float(m.probe_weights[k].sum())}

    def as_dict(self) -> dict:
        """Everything as JSON-ready data (NaN/inf kept as floats; the CLI cleans them)."""
        m = self.modes
        return {
            "baths": self.n_baths, "modes": int(m.rates.size), "slowest_rate": self.slowest_rate,
            "steady_state": self.steady_state,
            "slowest_modes": [self.mode_dict(k) for k in self.slowest], "skipped_slower_modes": self.skipped,
            "survivor": None if self.survivor is None else self.mode_dict(self.survivor),
            "runner_up": None if self.runner_up is None else self.mode_dict(self.runner_up),
            "rate_gap": self.rate_gap, "time_to_sync": self.time_to_sync, "phase": self.phase,
            "verdict": self.verdict.value, "reason_code": self.reason,
            "noiseless_modes": [self.mode_dict(k) for k in m.noiseless],
            "growing_modes": [self.mode_dict(k) for k in m.growing],
            "rates": [float(x) for x in m.rates], "frequencies": [float(x) for x in m.frequencies],
        }


def open_report(network: Network, baths) -> OpenReport:
    """:class:`OpenReport` of ``network`` with ``baths`` (dense eigendecomposition of A)."""
    baths = tuple(baths)
    modes = open_modes(network, baths)
    seen = probe_modes(modes)
    slowest = tuple(int(k) for k in seen[:SLOWEST])
    skipped = int(seen[0]) if seen.size else int(modes.rates.size)
    surv = int(seen[0]) if seen.size else None
    runner = int(seen[1]) if seen.size >= 2 else None
    gap = modes.rate_gap
    top = float(np.max(modes.rates[list(seen[:2])], initial=0.0))
    no_gap = not (gap > GAP_MIN * top)
    t_sync = math.log(SYNC_RATIO) / gap if not no_gap else math.inf
    phase, verdict, reason = float("nan"), Verdict.NONE, "gap"
    if network.n_probes == 2 and surv is not None:
        a1, a2 = modes.probe_amplitudes[surv]
        w1, w2 = modes.probe_weights[surv]
        phase = float(np.angle(a2 / a1)) if abs(a1) > 0 else float("nan")
        one_probe = math.sqrt(w1 * w2) / max(w1 + w2, 1e-300) < ONE_PROBE_LIMIT
        if no_gap:
            reason = "no-gap"
        elif one_probe:
            reason = "one-probe-mode"
        else:
            verdict = Verdict.SYNC if (a2 * np.conj(a1)).real > 0 else Verdict.ANTI_SYNC
    elif network.n_probes != 2:
        verdict, reason = Verdict.NOT_APPLICABLE, "not-two-probes"
    else:
        reason = "no-probe-mode"
    return OpenReport(modes, slowest, skipped, surv, runner, gap, t_sync, phase, verdict, reason, len(baths))
