"""Review of issue 15 (figures, documentation site, rough edges): failing tests for what a new
user still hits."""
import re
from pathlib import Path

import numpy as np
import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.parametrize("path", sorted((DOCS / "tutorials").glob("*.py")), ids=lambda p: p.name)
def test_tutorial_links_resolve_in_the_site(path):
    """mkdocs-jupyter copies a notebook's markdown links verbatim (it does not rewrite `x.md` to
    `x.html` as MkDocs does for pages, and `mkdocs build --strict` does not check them), so
    `[conventions](../conventions.md)` in own_network.py is a 404 in site/tutorials/own_network.html."""
    links = re.findall(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)", path.read_text())
    assert not links, f"{path.name}: links to .md pages that do not exist in the built site: {links}"


def test_sweep_line_labels_each_interval_by_its_time_window():
    """`harmosync plot fig6.zarr sync_mean --x m` (examples/fig6_sweep.toml, windows
    [[0, 300], [300, 1480]]) labels its two lines "interval = 0", "interval = 1": the reader
    cannot tell which window is which; the 2-D map of one interval already says "t in [0, 300]"."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import xarray as xr

    from harmosync.plot import maps

    m = np.arange(1, 21)
    ds = xr.Dataset(
        {"sync_mean": (("m", "interval"), np.random.default_rng(0).uniform(-1, 1, (m.size, 2)),
                       {"units": "1", "value_range": [-1.0, 1.0]})},
        coords={"m": ("m", m, {"path": "probes.sites[2]", "units": "site number (1..M)"}),
                "interval": ("interval", [0, 1]),
                "interval_start": ("interval", [0.0, 300.0]),
                "interval_stop": ("interval", [300.0, 1480.0])},
        attrs={"sweep_axes": "m"})
    fig = maps.figure(ds, "sync_mean", x="m")
    try:
        texts = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
        assert texts, "no legend for the two intervals"
        for lo, hi in ((0, 300), (300, 1480)):
            assert any(f"{lo}" in s and f"{hi}" in s for s in texts), f"no legend entry names [{lo}, {hi}]: {texts}"
    finally:
        plt.close(fig)
