"""``harmosync figure N|all --out DIR [--pdf] [--overwrite]``: the paper's figures."""

from __future__ import annotations

import gc
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import click

from . import handle_errors


def _numbers(which: str) -> list[int]:
    from ..errors import HarmosyncError
    from ..figures import FIGURES

    text = str(which).strip().lower()
    if text == "all":
        return sorted(FIGURES)
    if text.isdigit() and int(text) in FIGURES:
        return [int(text)]
    raise HarmosyncError(f"figure must be one of {', '.join(map(str, FIGURES))} or 'all', got {which!r}")


def _out_dir(out: str) -> Path:
    from ..errors import HarmosyncError

    path = Path(out)
    if path.exists() and not path.is_dir():
        raise HarmosyncError(f"--out {out!r} is a file; give a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise HarmosyncError(f"cannot create output directory {out!r}: {e.strerror}") from None
    return path


def _save_images(ds, fig, tmp: dict, encoder=None):
    """The figure's PNG (and PDF, if planned) into the temporary paths ``tmp``. With an
    ``encoder`` (an executor) the PNG's encoding is left to it: its Future is returned."""
    from .. import __version__
    from ..plot import render

    title = ds.attrs.get("title", "harmosync figure")
    meta = {"Title": title, "Software": f"harmosync {__version__}", "Description": ds.attrs.get("config_json", "")}
    pixels = render.render_png(fig, dpi=150)
    if pixels is None:  # not an Agg canvas (MPLBACKEND set to another backend)
        render.save_png(fig, tmp["png"], dpi=150, metadata=meta)
    if "pdf" in tmp:
        fig.savefig(tmp["pdf"], format="pdf", metadata={"Title": title, "Creator": f"harmosync {__version__}"})
    if pixels is not None and encoder is not None:
        return encoder.submit(render.write_png, pixels, tmp["png"], dpi=150, metadata=meta)
    if pixels is not None:
        render.write_png(pixels, tmp["png"], dpi=150, metadata=meta)
    return None


def _write(ds, fig, paths: dict, *, overwrite: bool) -> None:
    """Write the NetCDF and the images; each file appears (renamed into place) only if every
    file was written successfully."""
    from ..io import atomic_path, check_dataset

    check_dataset(ds)  # finite, in-range numbers before anything is written
    with ExitStack() as stack:
        tmp = {kind: stack.enter_context(atomic_path(p, overwrite=overwrite)) for kind, p in paths.items()}
        ds.to_netcdf(tmp["nc"], engine="h5netcdf")
        _save_images(ds, fig, tmp)


def _make(n: int, paths: dict, overwrite: bool, progress: bool) -> tuple[int, float]:
    """Compute, draw and write figure ``n``; its wall time [s]."""
    import matplotlib.pyplot as plt

    from .. import figures

    t0 = time.perf_counter()
    ds = figures.compute(n, progress=progress)
    fig = figures.draw(n, ds)
    try:
        _write(ds, fig, paths, overwrite=overwrite)
    finally:
        plt.close(fig)
    return n, time.perf_counter() - t0


def _run(numbers: list[int], plan: dict, *, overwrite: bool, progress: bool):
    """Yield (n, seconds) as each figure is written. Several figures: computed in a forked
    process while this one draws them (:func:`_pipeline`). Without fork (or on one core): in turn."""
    import multiprocessing as mp
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if len(numbers) == 1 or cores < 2 or "fork" not in mp.get_all_start_methods():
        for n in numbers:
            yield _make(n, plan[n], overwrite, progress)
        return
    import numpy as np
    import xarray as xr

    # both processes need xarray, and the duck-array modules its first Dataset looks up (dask)
    xr.Dataset({"x": ("t", np.zeros(1))}, coords={"t": [0.0]})
    gc.freeze()  # the preloaded modules: out of both processes' collections (≈ 0.2 s of CPU)
    try:
        yield from _pipeline(numbers, plan, overwrite=overwrite)
    finally:
        gc.unfreeze()


#: The order the computing process takes the figures: the quick ones first, so that drawing
#: starts at once; Fig. 6's map (≈ 1 s of computing) last, while Figs. 4 and 5 are drawn.
COMPUTE_ORDER = (1, 2, 3, 4, 5, 6)


def _pipeline(numbers: list[int], plan: dict, *, overwrite: bool):
    """Two processes, split by kind of work rather than by figure: a forked child computes each
    figure (numba's kernels, the dynamics) and writes its NetCDF; this process draws it (only it
    imports matplotlib) and writes the images. Each figure's files are temporary files of this
    process (``io.atomic_path``), renamed into place together once all are written; on an error
    or Ctrl-C the child is stopped first, then every temporary file removed."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    from .. import figures
    from ..io import atomic_path

    order = [n for n in COMPUTE_ORDER if n in numbers] + [n for n in numbers if n not in COMPUTE_ORDER]
    stacks = {n: ExitStack() for n in order}
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = None
    # PNG encoding (PIL, outside the GIL) in a thread: the next figure is drawn meanwhile
    encoder = ThreadPoolExecutor(1)
    try:
        tmp = {n: {kind: stacks[n].enter_context(atomic_path(p, overwrite=overwrite)) for kind, p in plan[n].items()}
               for n in order}
        child = ctx.Process(target=_compute_all, args=(order, {n: tmp[n]["nc"] for n in order}, queue), daemon=True)
        child.start()
        import matplotlib.pyplot as plt  # while the child starts numba

        started, pngs, written = {}, {}, set()
        while stacks:
            done = [n for n in stacks if n in written and n in pngs and (pngs[n] is None or pngs[n].done())]
            for n in done:
                if pngs[n] is not None:
                    pngs[n].result()  # the encoder's error, if any
                stacks.pop(n).close()  # every file of figure n renamed into place
                yield n, time.perf_counter() - started[n]
            if done or not stacks:
                continue
            if len(pngs) == len(written) == len(order):  # all received: wait for an encoding
                wait([pngs[n] for n in stacks if pngs[n] is not None], return_when=FIRST_COMPLETED)
                continue
            n, kind, payload = _receive(queue, child)
            if kind == "data":
                started[n] = time.perf_counter() - payload[1]
                fig = figures.draw(n, payload[0])
                try:
                    pngs[n] = _save_images(payload[0], fig, tmp[n], encoder)
                finally:
                    plt.close(fig)
            else:
                written.add(n)
        child.join()  # it has sent everything: it is ending
    except BaseException:  # a figure's error, Ctrl-C: stop the child before removing its files
        if child is not None and child.is_alive():
            child.terminate()
        if child is not None:
            child.join()
        encoder.shutdown(wait=True, cancel_futures=True)
        info = sys.exc_info()
        for stack in stacks.values():
            stack.__exit__(*info)
        raise
    finally:
        encoder.shutdown(wait=True)


def _receive(queue, child) -> tuple:
    """The child's next message (n, "data" | "nc", payload); its error raised here."""
    import queue as queues

    from ..errors import HarmosyncError

    while True:
        try:
            n, kind, payload = queue.get(timeout=0.5)
        except queues.Empty:
            if child.is_alive():
                continue
            n, kind, payload = None, "stopped", None
        except (EOFError, OSError):  # it died while sending
            n, kind, payload = None, "stopped", None
        if kind == "stopped":
            child.join()
            raise HarmosyncError(f"the process computing the figures stopped (exit code {child.exitcode}); "
                                 "nothing more was written")
        if kind == "error":
            raise payload
        return n, kind, payload


def _compute_all(order: list[int], nc: dict, queue) -> None:
    """The computing child: each figure's Dataset to the parent (to draw while the next one is
    computed), then its NetCDF into the parent's temporary file ``nc[n]``. Ctrl-C is the
    parent's, which stops the child with SIGTERM."""
    import os
    import pickle
    import signal

    from .. import figures
    from ..errors import HarmosyncError
    from ..io import check_dataset

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # xarray's to_netcdf imports dask.distributed only to ask whether a distributed client runs
    # (≈ 0.25 s); none can in this process, and a blocked import answers "no" at once
    for name in ("distributed", "dask.distributed"):
        sys.modules.setdefault(name, None)
    parent = os.getppid()
    for n in order:
        if os.getppid() != parent:  # the parent was killed: nobody will rename or remove the files
            return
        try:
            t0 = time.perf_counter()
            ds = figures.compute(n)
            check_dataset(ds)  # finite, in-range numbers before anything is written
            queue.put((n, "data", (ds, time.perf_counter() - t0)))
            ds.to_netcdf(nc[n], engine="h5netcdf")
            queue.put((n, "nc", None))
        except BaseException as e:  # noqa: BLE001  (handed to the parent, which raises it)
            try:
                pickle.dumps(e)
            except Exception:  # noqa: BLE001
                e = HarmosyncError(f"figure {n}: {type(e).__name__}: {e}")
            queue.put((n, "error", e))
            return


@click.command()
@click.argument("which", metavar="N|all")
@click.option("--out", "out", required=True, type=click.Path(), help="Directory for figN.png, figN.nc (created if missing).")
@click.option("--pdf", is_flag=True, help="Also write figN.pdf.")
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar; print only errors.")
@handle_errors
def figure(which, out, pdf, overwrite, quiet):
    """Reproduce figure N (1-6) of Benedetti et al., PRA 94, 052118 (2016), or all of them.

    Writes figN.png (and figN.pdf with --pdf) and the plotted data figN.nc, with every
    parameter and each choice the paper leaves open (initial state, window, time range,
    squeezing quadrature) in the file's attributes. See docs/paper.md.

    \b
    Examples:
      harmosync figure 1 --out figs
      harmosync figure all --out figs --pdf
    """
    from .. import io

    t_start = time.perf_counter()
    numbers = _numbers(which)
    folder = _out_dir(out)
    plan = {}
    for n in numbers:
        paths = {"nc": folder / f"fig{n}.nc", "png": folder / f"fig{n}.png"}
        if pdf:
            paths["pdf"] = folder / f"fig{n}.pdf"
        for p in paths.values():  # refuse before computing anything
            io.check_output_path(p, overwrite=overwrite)
        plan[n] = paths

    from tqdm import tqdm

    tqdm.monitor_interval = 0  # no monitor thread: the workers are forked
    bar = tqdm(total=len(numbers), desc="figures", unit="fig",
               disable=quiet or len(numbers) == 1 or not sys.stderr.isatty())
    progress = not quiet and sys.stderr.isatty() and len(numbers) == 1
    for n, seconds in _run(numbers, plan, overwrite=overwrite, progress=progress):
        bar.update(1)
        if not quiet:
            names = ", ".join(str(p) for p in plan[n].values())
            tqdm.write(f"fig{n}: wrote {names} ({seconds:.1f} s)")
    bar.close()
    if not quiet:
        click.echo(f"harmosync figure {which}: {len(numbers)} figure(s) in {time.perf_counter() - t_start:.1f} s wall time")
