"""One recipe per figure of Benedetti et al., PRA 94, 052118 (2016).

Each module ``figN`` has a frozen ``Params`` (the caption's values and the recipe's open
choices, defaults = the paper), ``CHOICES`` (why each open choice was made; written into the
file as ``choice.*``), ``compute(params) -> xarray.Dataset`` (the plotted data, with units and
provenance) and ``draw(ds) -> matplotlib Figure``. The CLI (``harmosync figure N``) writes
``figN.png`` (and ``figN.pdf``) and ``figN.nc``.

Importing this package is light: the recipes import xarray and matplotlib only when called.
"""

from __future__ import annotations

import importlib

from ..errors import HarmosyncError

#: figure number -> (module name, one-line description)
FIGURES = {
    1: ("fig1", "coupled probes at one edge: anti-synchronization until the revival; flipped K2 synchronizes"),
    2: ("fig2", "uncoupled probes at a common node: K = 0.1 (no sync) vs K = 0.8 (sync)"),
    3: ("fig3", "uncoupled probes at opposite edges: synchronization by crosstalk"),
    4: ("fig4", "squeezed probes at a common node: variances, mutual information, entanglement"),
    5: ("fig5", "squeezed probes at opposite edges: variances synchronize, no entanglement"),
    6: ("fig6", "map of C(t) against the plugging site m of probe 2 and time"),
}


def recipe(number: int):
    """The module of figure ``number`` (1..6)."""
    if number not in FIGURES:
        raise HarmosyncError(f"figure must be one of {', '.join(map(str, FIGURES))}, got {number!r}")
    return importlib.import_module(f"{__name__}.{FIGURES[number][0]}")


def compute(number: int, params=None, *, progress: bool = False):
    """The data of figure ``number`` as an xarray Dataset (default: the paper's parameters).
    ``progress``: a tqdm bar inside the slow recipes (Fig. 6)."""
    mod = recipe(number)
    params = mod.Params() if params is None else params
    if getattr(mod, "SLOW", False):
        return mod.compute(params, progress=progress)
    return mod.compute(params)


def draw(number: int, ds):
    """The matplotlib Figure of figure ``number`` from its Dataset."""
    return recipe(number).draw(ds)
