"""Writing a finished Figure as PNG with less of matplotlib's work, pixel for pixel the image
``fig.savefig(path, format="png", dpi=dpi)`` writes.

Three costs of ``savefig`` that a batch of figures (``harmosync figure all``) does not need:

* A figure with a layout engine (our ``layout="constrained"``) is drawn twice: once with drawing
  disabled, only to run the layout, then for real. :func:`render_png` runs the layout once
  itself and draws with the engine paused, so the figure is drawn once (≈ 0.04–0.08 s a figure).
* Every new renderer makes its own mathtext parser, whose cache then starts empty: each figure
  parsed its labels again (4–8 ms a label, ≈ 0.1–0.2 s a figure). The first renderer's parser,
  kept for the process and handed to later renderers of the same kind (:data:`PARSERS`), parses
  a label the process has already set (the time axis, C(t, Δt), τ_R) once: the parse of a string
  at a given size and dpi is the same whichever figure asks.
* zlib level 2 instead of PIL's default 6: the same pixels, ≈ 40% less encoding time, files
  ≈ 7% larger (:data:`COMPRESS_LEVEL`). Drawing (:func:`render_png`) and encoding
  (:func:`write_png`) are apart, so that a caller can encode in a thread while it draws the next
  figure.
"""

from __future__ import annotations

import matplotlib as mpl

#: zlib level of the PNGs (0–9; PIL's default is 6).
COMPRESS_LEVEL = 2
#: renderer class -> the mathtext parser every figure saved here shares.
PARSERS: dict = {}


def render_png(fig, *, dpi: float):
    """The RGBA pixels (H, W, 4) uint8 that ``fig.savefig(format="png", dpi=dpi)`` would write
    [dpi: dots per inch]: the layout run once, the mathtext parser shared. The figure's dpi and
    layout engine are restored afterwards (a later ``savefig``, e.g. to PDF, runs as it would
    have). None for a figure not drawn by Agg (another backend's canvas)."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not isinstance(fig.canvas, FigureCanvasAgg):
        return None
    engine, old_dpi = fig.get_layout_engine(), fig.get_dpi()
    fig.set_dpi(dpi)  # the layout is computed at the output dpi, as savefig does
    try:
        renderer = fig.canvas.get_renderer()  # the canvas draws with this one (same size and dpi)
        renderer.mathtext_parser = PARSERS.setdefault(type(renderer), renderer.mathtext_parser)
        if engine is not None:
            engine.execute(fig)
            with mpl.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
                fig.set_layout_engine(None)  # not "none": that would still lay out at each draw
        fig.canvas.draw()
        return np.array(fig.canvas.buffer_rgba())  # a copy: the canvas's buffer is reused
    finally:
        if engine is not None:
            fig.set_layout_engine(engine)
        fig.set_dpi(old_dpi)


def warm_up(*, dpi: float = 150) -> None:
    """Pay matplotlib's first-use costs in this process on a small throwaway figure (≈ 0.15 s):
    loading the fonts, building the mathtext parser (then kept in :data:`PARSERS`), the
    constrained-layout engine, a colour map's table, a hatch, a colour bar. A process that
    draws figures as their data arrive (``harmosync figure all``) does it while it waits for
    the first. Only caches that do not depend on the figure are filled: the images drawn after
    are the same."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(3.0, 3.0), layout="constrained")
    try:
        top.plot(np.arange(4.0), np.arange(4.0), label="$x_1$")
        top.set_ylabel("$\\langle x_i\\rangle$ [$\\omega_1^{-1/2}$]")
        top.set_title("t [ω₁⁻¹]", loc="left")
        top.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        bottom.axvspan(1.0, 2.0, hatch="//", fill=False)
        image = bottom.imshow(np.zeros((2, 3)), aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
        fig.colorbar(image, ax=bottom)
        fig.suptitle("τ")
        render_png(fig, dpi=dpi)
    finally:
        plt.close(fig)


def write_png(pixels, path, *, dpi: float, metadata: dict | None = None) -> None:
    """Encode RGBA ``pixels`` as PNG into ``path`` (a path or a binary file) as matplotlib's Agg
    canvas does (``image.imsave``, the same chunks and metadata), at zlib level
    :data:`COMPRESS_LEVEL`. Pure encoding (PIL releases the GIL): it may run in a thread."""
    from matplotlib.image import imsave

    imsave(path, pixels, format="png", origin="upper", dpi=dpi, metadata=metadata,
           pil_kwargs={"compress_level": COMPRESS_LEVEL})


#: savefig's rcParams that change a PNG beyond what :func:`render_png` draws
SAVEFIG_RC = ("savefig.bbox", "savefig.pad_inches", "savefig.facecolor", "savefig.edgecolor",
              "savefig.transparent", "savefig.orientation")


def custom_savefig_rc() -> bool:
    """True when one of SAVEFIG_RC differs from matplotlib's default (a user's matplotlibrc)."""
    import matplotlib as mpl

    return any(mpl.rcParams[k] != mpl.rcParamsDefault[k] for k in SAVEFIG_RC)


def save_png(fig, path, *, dpi: float, metadata: dict | None = None) -> None:
    """Write ``fig`` to ``path`` as PNG at ``dpi``: :func:`render_png`, then :func:`write_png`
    (the same pixels as ``savefig``). A figure not drawn by Agg, or a user's ``savefig.*``
    settings that ``savefig`` would apply (bbox, colours, padding, transparency: a
    matplotlibrc), is saved by ``savefig`` itself, at the same zlib level."""
    pixels = png_pixels(fig, dpi=dpi)
    if pixels is None:
        savefig_png(fig, path, dpi=dpi, metadata=metadata)
    else:
        write_png(pixels, path, dpi=dpi, metadata=metadata)


def png_pixels(fig, *, dpi: float):
    """:func:`render_png`'s pixels, or None where ``savefig`` must write the PNG itself (a
    figure not drawn by Agg, or a user's ``savefig.*`` settings: :func:`custom_savefig_rc`)."""
    return None if custom_savefig_rc() else render_png(fig, dpi=dpi)


def savefig_png(fig, path, *, dpi: float, metadata: dict | None = None) -> None:
    """The PNG by ``savefig`` itself, at :data:`COMPRESS_LEVEL` (where :func:`png_pixels` is None)."""
    fig.savefig(path, format="png", dpi=dpi, metadata=metadata, pil_kwargs={"compress_level": COMPRESS_LEVEL})
