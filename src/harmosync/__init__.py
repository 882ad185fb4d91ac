"""harmosync: exact Gaussian dynamics, synchronization and quantum correlations in networks of
quantum harmonic oscillators (after Benedetti et al., Phys. Rev. A 94, 052118 (2016)).

The core import is light: no matplotlib, no dask, no xarray. The names below load their module
on first use (PEP 562), so ``import harmosync`` itself imports nothing heavy (numpy and scipy
come with the first name used); ``from harmosync import solve`` and ``harmosync.solve`` work as
usual. A process that forks workers before it computes (``harmosync figure all``) starts them
without paying for imports only they need.
"""

from __future__ import annotations

import importlib
import importlib.util

__version__ = "0.1.0"

#: public name -> the module (in harmosync) that defines it
EXPORTS = {
    **dict.fromkeys(("CONVENTIONS", "symplectic_form", "to_block", "to_interleaved"), "conventions"),
    **dict.fromkeys(("Evolution", "Moments", "solve"), "dynamics"),
    **dict.fromkeys(("HarmosyncError", "UnphysicalStateError", "UnstableNetworkError"), "errors"),
    **dict.fromkeys(("complete_sync", "log_negativity", "mutual_information", "purity", "symplectic_eigenvalues",
                     "sync_factor", "von_neumann_entropy"), "measures"),
    **dict.fromkeys(("Network", "chain", "couple", "graph", "paper_network", "probes", "system_mode_coordinates",
                     "system_normal_modes"), "network"),
    **dict.fromkeys(("InitialState", "coherent", "product", "squeezed", "thermal"), "states"),
}

__all__ = sorted(EXPORTS)


def __getattr__(name: str):
    """A public name's object, imported from its module on first use (then cached here); a
    submodule's name (``harmosync.measures`` after a bare ``import harmosync``) imports it."""
    if name in EXPORTS:
        value = getattr(importlib.import_module(f"{__name__}.{EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")  # which sets the attribute
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(EXPORTS))
