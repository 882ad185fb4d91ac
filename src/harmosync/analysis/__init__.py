"""The paper's analysis as tools (Sec. III, Appendix A; see docs/analysis.md).

* ``times``: group velocity, crosstalk time τ_CT and revival time τ_R of a chain;
* ``langevin``: kernels γ_s(t), η(t), coefficients c_s(j), spectral densities, Eq. (A11);
* ``rayleigh``: damping matrix G′, Rayleigh's condition, exact continuum poles, localized modes.
"""

import importlib

# name -> submodule; loaded on first use, so that `simulate` (which needs only ``times``) does
# not import the kernel and Rayleigh machinery
_EXPORTS = {
    "Kernels": "langevin", "kernels": "langevin",
    "RayleighAnalysis": "rayleigh", "analyze": "rayleigh",
    "CharacteristicTimes": "times", "characteristic_times": "times",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
