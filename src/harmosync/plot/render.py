"""Writing a finished Figure as PNG with less of matplotlib's work, pixel for pixel the image
``fig.savefig(path, format="png", dpi=dpi)`` writes.

Three costs of ``savefig`` that a batch of figures (``harmosync figure all``) does not need:

* A figure with a layout engine (our ``layout="constrained"``) is drawn twice: once with drawing
  disabled, only to run the layout, then for real. :func:`save_png` runs the layout once itself
  and saves with the engine paused, so the figure is drawn once (≈ 0.04–0.08 s a figure).
* Every new renderer makes its own mathtext parser, whose cache then starts empty: each figure
  parsed its labels again (4–8 ms a label, ≈ 0.1–0.2 s a figure). The first renderer's parser,
  kept for the process and handed to later renderers of the same kind (:data:`PARSERS`), parses
  a label the process has already set (the time axis, C(t, Δt), τ_R) once: the parse of a string
  at a given size and dpi is the same whichever figure asks.
* zlib level 2 instead of PIL's default 6: the same pixels, ≈ 40% less encoding time, files
  ≈ 7% larger (:data:`COMPRESS_LEVEL`).
"""

from __future__ import annotations

import matplotlib as mpl

#: zlib level of the PNGs (0–9; PIL's default is 6).
COMPRESS_LEVEL = 2
#: renderer class -> the mathtext parser every figure saved here shares.
PARSERS: dict = {}


def save_png(fig, path, *, dpi: float, metadata: dict | None = None) -> None:
    """Write ``fig`` to ``path`` (a path or a binary file) as PNG at ``dpi`` [dots per inch]:
    the layout run once, the mathtext parser shared, zlib level :data:`COMPRESS_LEVEL`. The
    figure's dpi and layout engine are restored afterwards (a later ``savefig``, e.g. to PDF,
    runs as it would have). A figure not drawn by Agg (another backend's canvas) is saved by
    ``savefig`` itself, at the same zlib level."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    pil_kwargs = {"compress_level": COMPRESS_LEVEL}
    if not isinstance(fig.canvas, FigureCanvasAgg):  # another backend's figure: savefig's own way
        fig.savefig(path, format="png", dpi=dpi, metadata=metadata, pil_kwargs=pil_kwargs)
        return
    engine, old_dpi = fig.get_layout_engine(), fig.get_dpi()
    fig.set_dpi(dpi)  # the layout is computed at the output dpi, as savefig does
    try:
        renderer = fig.canvas.get_renderer()  # savefig draws with this one (same size and dpi)
        renderer.mathtext_parser = PARSERS.setdefault(type(renderer), renderer.mathtext_parser)
        if engine is not None:
            engine.execute(fig)
            with mpl.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
                fig.set_layout_engine(None)  # not "none": savefig would still draw once to lay out
        fig.savefig(path, format="png", dpi=dpi, metadata=metadata, pil_kwargs=pil_kwargs)
    finally:
        if engine is not None:
            fig.set_layout_engine(engine)
        fig.set_dpi(old_dpi)
