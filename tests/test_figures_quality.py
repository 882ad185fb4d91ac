"""Every figure harmosync draws reads as a physicist expects (issue 15), checked on the figure
objects themselves: the paper's six recipes (small parameters), the ``simulate`` quick look, a
sweep map and line plot, the ``kernels`` plot and the pairwise matrices of ``plot --at``.

- each axes with data names its quantity and unit as "quantity [unit]", the unit written one
  way (:mod:`harmosync.plot.labels`: 1, nat, rad, site, probe or a power of ω as math text);
  colour bars too;
- no legend covers a plotted point of any line (legend bounding box against the lines'
  points in display coordinates) nor an image;
- titles are at least as large as tick labels; symbols such as τ_R are math text;
- the panels of a figure that share time as x axis show the same time range (zooms excepted,
  marked with gid "zoom").
"""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr
from matplotlib.collections import QuadMesh
from matplotlib.text import Text

from harmosync import figures

#: The one unit notation of harmosync.plot.labels.unit_text.
UNIT = re.compile(r"^(1|nat|rad|site|probe|\$\\omega(_1)?(\^\{-?\d+(/\d+)?\})?\$)$")
LABEL = re.compile(r"^.+ \[([^\[\]]+)\]$")

#: Small versions of the paper's figures: a 60-site chain, short runs.
SMALL = {
    1: dict(sites=60, stop=200.0, step=0.1),
    2: dict(sites=60, stop=200.0, step=0.1),
    3: dict(sites=60, plug=(1, 60), stop=200.0, step=0.1, zoom_width=40.0),
    4: dict(sites=60, stop=200.0, step=0.1),
    5: dict(sites=60, plug=(1, 60), stop=200.0, step=0.1),
    6: dict(sites=40, stop=150.0, step=0.2, every=1.0),
}


def unit_of(text: str):
    m = LABEL.match(text.strip())
    return m.group(1) if m else None


def has_data(ax) -> bool:
    lines = [ln for ln in ax.get_lines() if np.size(ln.get_xdata()) > 2]
    return bool(lines or ax.images or any(isinstance(c, QuadMesh) for c in ax.collections))


def is_colorbar(ax) -> bool:
    return hasattr(ax, "_colorbar")


def points(line) -> np.ndarray:
    """The line's plotted points in display coordinates, those inside its axes only (the rest
    is clipped and not drawn)."""
    xy = np.column_stack([np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)])
    xy = xy[np.all(np.isfinite(xy), axis=1)]
    disp = line.get_transform().transform(xy)
    box = line.axes.get_window_extent()
    inside = (disp[:, 0] >= box.x0) & (disp[:, 0] <= box.x1) & (disp[:, 1] >= box.y0) & (disp[:, 1] <= box.y1)
    return disp[inside]


def check_figure(fig) -> None:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    axes = [ax for ax in fig.axes if not is_colorbar(ax)]
    data_axes = [ax for ax in axes if has_data(ax)]
    assert data_axes, "no axes with data"
    # labels: quantity [unit] in the one notation; x via a shared sibling when it is hidden
    for ax in data_axes:
        for text, what in ((ax.get_ylabel(), "y"),
                           (next((s.get_xlabel() for s in ax.get_shared_x_axes().get_siblings(ax)
                                  if s.get_xlabel()), ""), "x")):
            unit = unit_of(text)
            assert unit is not None, f"{what} label {text!r} of {ax.get_title(loc='left')!r} has no [unit]"
            assert UNIT.match(unit), f"unit {unit!r} of {text!r} is not in the one notation"
    for ax in fig.axes:
        if is_colorbar(ax):
            unit = unit_of(ax.get_ylabel() or ax.get_xlabel())
            assert unit is not None and UNIT.match(unit), f"colour bar label {ax.get_ylabel()!r}"
    # legends cover no line's points and no image
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None] + list(fig.legends)
    for leg in legends:
        box = leg.get_window_extent(renderer)
        for ax in axes:
            for line in ax.get_lines():
                p = points(line)
                hit = (p[:, 0] > box.x0) & (p[:, 0] < box.x1) & (p[:, 1] > box.y0) & (p[:, 1] < box.y1)
                assert not hit.any(), f"legend covers {line.get_label()!r} ({int(hit.sum())} points)"
            if ax.images or any(isinstance(c, QuadMesh) for c in ax.collections):
                assert not box.overlaps(ax.get_window_extent()), "legend covers a map"
    # titles at least as large as tick labels
    ticks = max(t.get_fontsize() for ax in axes for t in ax.get_xticklabels() + ax.get_yticklabels())
    titles = [t for ax in axes for t in (ax.title, ax._left_title, ax._right_title) if t.get_text()]
    if fig._suptitle is not None:
        titles.append(fig._suptitle)
    for t in titles:
        assert t.get_fontsize() >= ticks, f"title {t.get_text()!r} ({t.get_fontsize()}) smaller than ticks ({ticks})"
    # symbols as math text
    for t in fig.findobj(Text):
        assert "τ_" not in t.get_text(), f"{t.get_text()!r}: write τ_R as math text"
    # one time range for the panels plotted against time
    ranges = {tuple(np.round(ax.get_xlim(), 6)) for ax in data_axes
              if ax.get_gid() != "zoom" and ax.get_xlabel().startswith("time $t$")}
    assert len(ranges) <= 1, f"time ranges differ: {ranges}"


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.mark.parametrize("number", sorted(figures.FIGURES))
def test_paper_figures(number):
    params = figures.recipe(number).Params(**SMALL[number])
    check_figure(figures.draw(number, figures.compute(number, params)))


def small_run():
    from harmosync import config, io
    from harmosync.simulation import simulate

    cfg = config.parse({"chain": {"sites": 60, "omega0": 0.4, "g": 1.2},
                        "probes": {"frequencies": [1.0, 1.1], "coupling": 0.5, "sites": [1, 1],
                                   "strengths": [0.2, 0.2]},
                        "initial": {"x": [0.14, 1.4]}, "time": {"stop": 300.0, "step": 0.05},
                        "sync": {"window": 20.0}})
    return cfg, io.to_dataset(simulate(cfg))


def test_quicklook():
    """The quick look (simulate --plot) of Fig. 1's probes: fast oscillations drawn as envelopes,
    titled with the run's parameters."""
    from harmosync.plot.quicklook import quicklook_figure

    _, ds = small_run()
    fig = quicklook_figure(ds)
    check_figure(fig)
    title = fig._suptitle.get_text()
    assert "M = 60" in title and "K = (0.2, 0.2)" in title and "λ = 0.5" in title


def test_quicklook_zero_quantity_reads():
    """A quantity identically zero (E_N of uncorrelated probes) is drawn dashed and labelled
    '≡ 0', not hidden on the axis."""
    from harmosync.plot.quicklook import quicklook_figure

    _, ds = small_run()
    ds["log_negativity"][:] = 0.0
    fig = quicklook_figure(ds)
    check_figure(fig)
    texts = [t.get_text() for leg in (ax.get_legend() for ax in fig.axes) if leg for t in leg.get_texts()]
    assert any("E_N" in t and "≡ 0" in t for t in texts)


def sweep_dataset():
    """A gridded sweep as harmosync.sweep.open_sweep returns it: axes with path and units."""
    m = np.arange(1, 31)
    k = np.array([0.1, 0.2, 0.3])
    t = np.linspace(0.0, 100.0, 101)
    rng = np.random.default_rng(1)
    ds = xr.Dataset(
        {"sync": (("m", "K", "time"), np.tanh(rng.normal(size=(m.size, k.size, t.size))),
                  {"units": "1", "value_range": [-1.0, 1.0], "window": 20.0}),
         "sync_mean": (("m", "K"), rng.uniform(-1, 1, (m.size, k.size)), {"units": "1", "value_range": [-1.0, 1.0]})},
        coords={"m": ("m", m, {"path": "probes.sites[2]", "units": "site number (1..M)"}),
                "K": ("K", k, {"path": "probes.strengths[*]", "units": "[w]^2"}),
                "time": ("time", t, {"units": "1/[w]"})},
        attrs={"sweep_axes": "m K"})
    return ds


@pytest.mark.parametrize("var, kw", [("sync", {"sel": {"K": "0.2"}}), ("sync_mean", {}),
                                     ("sync_mean", {"x": "m", "sel": {"K": "0.1"}})])
def test_sweep_plots(var, kw):
    from harmosync.plot import maps

    fig = maps.figure(sweep_dataset(), var, **kw)
    check_figure(fig)
    bars = [ax for ax in fig.axes if is_colorbar(ax)]
    for bar in bars:  # the quantity, not the variable's name
        assert bar.get_ylabel().split(" [")[0] not in ("sync", "sync_mean")


def test_kernels_plot():
    from harmosync.cli.analyze import kernels_dataset
    from harmosync.plot.kernels import kernels_plot

    cfg, _ = small_run()
    check_figure(kernels_plot(kernels_dataset(cfg, np.linspace(0.0, 100.0, 1001), points=400)))


def test_matrix_plot():
    """harmosync plot RUN.nc sync_matrix --at ...: one panel per time, probes on both axes."""
    from harmosync.plot import matrix

    t = np.linspace(0.0, 50.0, 51)
    c = np.tile(np.eye(3), (t.size, 1, 1)) * 0.5 + 0.5 * np.cos(t)[:, None, None]
    ds = xr.Dataset({"sync_matrix": (("time", "probe_a", "probe_b"), c, {"units": "1", "window": 20.0})},
                    coords={"time": t, "probe_a": [1, 2, 3], "probe_b": [1, 2, 3]})
    fig = matrix.matrices(ds, "sync_matrix", [10.0, 40.0])
    check_figure(fig)
    assert [ax.get_title(loc="left") for ax in fig.axes if not is_colorbar(ax)] == [
        r"$t = 10$ $\omega^{-1}$", r"$t = 40$ $\omega^{-1}$"]


def test_unit_text_one_notation():
    """The file units of the registry and the sweep axes map to the one notation."""
    from harmosync.plot import labels

    assert labels.unit_text("1/[w]") == r"$\omega^{-1}$"
    assert labels.unit_text("[w]^(-1/2)", omega=labels.OMEGA1) == r"$\omega_1^{-1/2}$"
    assert labels.unit_text("[w]^2") == r"$\omega^{2}$"
    assert labels.unit_text("[w] (hbar = 1)") == r"$\omega$"
    assert labels.unit_text("nat") == "nat" and labels.unit_text("1") == "1"
    assert labels.observable_label("sync_mean") == r"mean of $C(t, \Delta t)$ [1]"
    assert labels.math_name("τ_CT") == r"$\tau_{CT}$" and labels.math_name("2τ_R") == r"$2\tau_R$"


@pytest.mark.parametrize("flaw", ["legend", "unit", "title", "symbol", "range"])
def test_checker_catches_what_issue_15_reported(flaw):
    """The checks above fail on the flaws issue 15 found: a legend over the data, "[1/ω]",
    a title smaller than the ticks, "τ_R" as plain text, panels with different time ranges."""
    fig, (a, b) = plt.subplots(2, 1)
    t = np.linspace(0, 100, 200)
    for ax in (a, b):
        ax.plot(t, np.sin(t), label="C")
        ax.set_xlabel(r"time $t$ [$\omega^{-1}$]")
        ax.set_ylabel("C [1]")
    if flaw == "legend":
        a.legend(loc="center")
    elif flaw == "unit":
        a.set_ylabel("⟨x⟩ [1/ω]")
    elif flaw == "title":
        a.set_title("panel", fontsize="x-small")
    elif flaw == "symbol":
        a.text(50, 0, "τ_R")
    else:
        b.set_xlim(0, 50)
    with pytest.raises(AssertionError):
        check_figure(fig)


def test_cli_plot_at_draws_matrices_of_a_run(tmp_path):
    """`harmosync plot RUN.nc sync_matrix --at 10,40 -o M.png` writes the image; a run's
    variable without --at, a time outside the run, a non-matrix variable and a bad --at are
    refused in one line (exit 2)."""
    from click.testing import CliRunner

    from harmosync.cli import main

    t = np.linspace(0.0, 50.0, 51)
    c = np.tile(np.eye(3), (t.size, 1, 1)) * 0.5 + 0.5 * np.cos(t)[:, None, None]
    ds = xr.Dataset({"sync_matrix": (("time", "probe_a", "probe_b"), c, {"units": "1", "window": 20.0}),
                     "sync": (("time",), c[:, 0, 1], {"units": "1"})},
                    coords={"time": t, "probe_a": [1, 2, 3], "probe_b": [1, 2, 3]},
                    attrs={"title": "harmosync simulate"})
    run = tmp_path / "run.nc"
    ds.to_netcdf(run, engine="h5netcdf")
    runner = CliRunner()
    out = tmp_path / "m.png"
    res = runner.invoke(main, ["plot", str(run), "sync_matrix", "--at", "10,40", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for args, fragment in ((["sync_matrix"], "--at"), (["sync_matrix", "--at", "99"], "outside"),
                           (["sync", "--at", "10"], "not a (time, probe, probe) matrix"),
                           (["sync_matrix", "--at", "ten"], "commas")):
        bad = runner.invoke(main, ["plot", str(run), *args, "-o", str(tmp_path / "b.png")])
        msg = bad.stderr.strip()
        assert bad.exit_code == 2 and fragment in msg and "\n" not in msg, (args, bad.output)
