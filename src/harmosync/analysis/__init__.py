"""The paper's analysis as tools (Sec. III, Appendix A; see docs/analysis.md).

* ``times``: group velocity, crosstalk time τ_CT and revival time τ_R of a chain;
* ``langevin``: kernels γ_s(t), η(t), coefficients c_s(j), spectral densities, Eq. (A11);
* ``rayleigh``: damping matrix G′, Rayleigh's condition as a structured prediction, exact poles;
* ``localized``: normal modes outside the environment's band (steady oscillations);
* ``open``: an open system's modes (rates, frequencies, probe weights, rate gap, noiseless modes);
* ``summary``: ``report(network)`` → ``AnalysisReport``, everything ``harmosync analyze`` prints.
"""

import importlib

# name -> submodule; loaded on first use, so that `simulate` (which needs only ``times``) does
# not import the kernel and Rayleigh machinery (no submodule shares a name with an export)
_EXPORTS = {
    "Kernels": "langevin", "kernels": "langevin",
    "RayleighAnalysis": "rayleigh", "analyze": "rayleigh",
    "Prediction": "rayleigh", "Verdict": "rayleigh", "Reason": "rayleigh",
    "LocalizedMode": "localized", "localized_modes": "localized",
    "AnalysisReport": "summary", "report": "summary", "KernelsReport": "summary", "kernels_report": "summary",
    "CharacteristicTimes": "times", "characteristic_times": "times",
    "OpenReport": "open", "open_report": "open",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
