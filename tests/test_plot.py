"""Plotting is a leaf that leaves global state alone (STYLE: leaves don't touch global state)."""

from __future__ import annotations

import subprocess
import sys


def test_importing_plot_modules_keeps_the_users_backend():
    """Importing every plot and figure module must not switch the matplotlib backend a user
    chose (a notebook's inline backend, a GUI backend): only the CLI picks Agg, and only when
    MPLBACKEND is unset."""
    code = (
        "import matplotlib; matplotlib.use('svg'); "
        "import harmosync.plot.paper, harmosync.plot.kernels, harmosync.plot.quicklook, harmosync.plot.maps; "
        "import harmosync.figures; print(matplotlib.get_backend())"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "MPLBACKEND"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "svg", out.stdout + out.stderr


def _busy_figure(seed: int):
    """A figure with what the paper's figures use: constrained layout, shared x, a log axis,
    math text in labels, titles and top ticks (a secondary axis), a legend outside, a map with
    a colour bar, a hatched band, a 30,001-point curve."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rng = np.random.default_rng(seed)
    fig = Figure(figsize=(7.0, 5.0), layout="constrained")
    FigureCanvasAgg(fig)
    (a, b), (c, d) = fig.subplots(2, 2, sharex="col")
    t = np.linspace(0.0, 1500.0, 30001)
    a.plot(t, np.sin(1.1 * t) * np.exp(-t / 400), lw=0.7, label=r"$\langle x_1\rangle$")
    a.axvspan(1400, 1500, hatch="///", facecolor="0.9", lw=0)
    a.set_title(r"$K_1 = K_2 = 0.2$: $q_1$ damped", loc="left")
    a.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    top = a.secondary_xaxis("top")
    top.set_xticks([658.0, 1316.0], labels=[r"$\tau_R$", r"$2\tau_R$"])
    b.semilogy(t, 1 + np.cos(t) ** 2 + rng.random(t.size), lw=0.6)
    b.set_ylabel(r"$\langle x_i^2\rangle$ [$\omega_1^{-1}$]")
    im = c.imshow(rng.uniform(-1, 1, (40, 30)), aspect="auto", cmap="RdBu_r", interpolation="nearest")
    fig.colorbar(im, ax=c, label=r"$C(t, \Delta t)$ [1]")
    d.plot(t, np.tanh(t / 300), "k--")
    d.set_xlabel(r"time $t$ [$\omega_1^{-1}$]")
    fig.suptitle("ω₂/ω₁ = 1.1, λ = 0.5")
    return fig


def test_save_png_writes_the_pixels_savefig_writes(tmp_path):
    """plot.render.save_png lays the figure out once, shares one mathtext parser between
    figures and compresses less: the decoded image must equal savefig's pixel for pixel (also
    for a second figure, whose labels the shared parser has already parsed), and the figure
    keeps its layout engine and dpi: a later savefig writes what it would have written."""
    import numpy as np
    from matplotlib.image import imread

    from harmosync.plot import render

    for seed in (0, 1):
        fig = _busy_figure(seed)
        fig.savefig(tmp_path / "ref.png", format="png", dpi=150)
        ours = _busy_figure(seed)
        engine, dpi = ours.get_layout_engine(), ours.get_dpi()
        render.save_png(ours, tmp_path / "ours.png", dpi=150, metadata={"Title": "t"})
        assert ours.get_layout_engine() is engine and ours.get_dpi() == dpi
        ref, got = imread(tmp_path / "ref.png"), imread(tmp_path / "ours.png")
        assert ref.shape == got.shape == (750, 1050, 4)
        assert np.array_equal(ref, got), f"seed {seed}: {np.count_nonzero(ref != got)} values differ"
        # a later savefig: what a second savefig writes (constrained layout starts from the
        # positions of the first, so even matplotlib's own second image may differ from its first)
        fig.savefig(tmp_path / "ref2.png", format="png", dpi=150)
        ours.savefig(tmp_path / "again.png", format="png", dpi=150)
        assert np.array_equal(imread(tmp_path / "again.png"), imread(tmp_path / "ref2.png"))


def test_warm_up_leaves_the_images_unchanged(tmp_path):
    """render.warm_up fills only figure-independent caches (fonts, the mathtext parser, a colour
    map): in a fresh process, the busy figure's pixels are the same with and without it."""
    from pathlib import Path

    import numpy as np

    code = ("import sys, numpy as np\n"
            "sys.path.insert(0, sys.argv[1])\n"
            "from test_plot import _busy_figure\n"
            "from harmosync.plot import render\n"
            "if sys.argv[2] == 'warm':\n    render.warm_up()\n"
            "np.save(sys.argv[3], render.render_png(_busy_figure(0), dpi=150))\n")
    pixels = {}
    for how in ("cold", "warm"):
        out = tmp_path / f"{how}.npy"
        subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent), how, str(out)], check=True,
                       capture_output=True)
        pixels[how] = np.load(out)
    assert pixels["cold"].shape == (750, 1050, 4) and np.array_equal(pixels["cold"], pixels["warm"])
