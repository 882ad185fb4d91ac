"""``harmosync figure N|all --out DIR [--pdf] [--overwrite]``: the paper's figures."""

from __future__ import annotations

import gc
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import click

from . import handle_errors, sigterm_unwinds


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
    pixels = render.png_pixels(fig, dpi=150)
    if pixels is None:  # a user's savefig.* settings, or not an Agg canvas (MPLBACKEND set)
        render.savefig_png(fig, tmp["png"], dpi=150, metadata=meta)
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
    """Yield (n, seconds) as each figure is written. Several figures: computed and drawn in two
    forked processes at once (:func:`_pipeline`). Without fork (or on one core): in turn."""
    import multiprocessing as mp
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if len(numbers) == 1 or cores < 2 or "fork" not in mp.get_all_start_methods():
        for n in numbers:
            yield _make(n, plan[n], overwrite, progress)
        return
    from .. import figures

    for n in numbers:  # both workers use the recipes (and the dynamics they import): imported once
        figures.recipe(n)
    yield from _pipeline(numbers, plan, overwrite=overwrite)


#: The order the figures are computed and drawn: the quick ones first, so that drawing starts
#: at once; Fig. 6's map (≈ 1 s of computing) last, while Figs. 4 and 5 are drawn.
COMPUTE_ORDER = (1, 2, 3, 4, 5, 6)


def _pipeline(numbers: list[int], plan: dict, *, overwrite: bool):
    """:func:`_workers`, with SIGTERM unwinding it like Ctrl-C (the workers stopped, the
    temporary files removed, the finished figures kept)."""
    with sigterm_unwinds():
        yield from _workers(numbers, plan, overwrite=overwrite)


def _workers(numbers: list[int], plan: dict, *, overwrite: bool):
    """Two forked workers, split by kind of work rather than by figure: one computes each
    figure (numba's kernels, the dynamics) and writes its NetCDF (:func:`_compute_all`), the
    other draws it as its data arrive and writes the images (:func:`_draw_all`; only it imports
    matplotlib). This process only waits: each figure's files are its temporary files
    (``io.atomic_path``), renamed into place together once every one is written. On an error,
    a worker that stops, or Ctrl-C, both workers are stopped first, then every temporary file
    removed."""
    import multiprocessing as mp

    from ..io import atomic_path

    order = [n for n in COMPUTE_ORDER if n in numbers] + [n for n in numbers if n not in COMPUTE_ORDER]
    stacks = {n: ExitStack() for n in order}
    ctx = mp.get_context("fork")
    data, done = ctx.Queue(), ctx.Queue()  # computer -> drawer: Datasets; both -> here: reports
    workers = []
    try:
        tmp = {n: {kind: stacks[n].enter_context(atomic_path(p, overwrite=overwrite)) for kind, p in plan[n].items()}
               for n in order}
        workers = [ctx.Process(target=_compute_all, args=(order, {n: tmp[n]["nc"] for n in order}, data, done),
                               name="computing", daemon=True),
                   ctx.Process(target=_draw_all, args=(order, tmp, data, done), name="drawing", daemon=True)]
        _start(workers)
        missing = {n: {"nc", "images"} for n in order}
        started = {}
        while stacks:
            n, kind, payload = _receive(done, workers)
            if kind == "nc":
                started[n] = payload
            missing[n].discard(kind)
            if not missing[n]:
                stacks.pop(n).close()  # every file of figure n renamed into place
                yield n, time.perf_counter() - started[n]
        for w in workers:
            w.join()  # each has sent everything: it is ending
    except BaseException:  # a figure's error, Ctrl-C: stop the workers before removing their files
        for w in workers:
            if w.is_alive():
                w.terminate()
        for w in workers:
            w.join()
        info = sys.exc_info()
        for stack in stacks.values():
            stack.__exit__(*info)
        raise


def _start(workers) -> None:
    """Start the workers with SIGTERM held back while they are forked: each first restores
    SIGTERM's default action (they are stopped by it), then lets it in (:func:`_worker_start`);
    a SIGTERM to this process meanwhile is delivered after."""
    import signal

    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        for w in workers:
            w.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _receive(queue, workers) -> tuple:
    """The workers' next report (n, "nc" | "images", payload); a worker's error raised here, a
    worker that stopped without a word reported as one HarmosyncError."""
    import queue as queues

    from ..errors import HarmosyncError

    ended = False
    while True:
        try:
            n, kind, payload = queue.get(timeout=0.5)
        except queues.Empty:
            if all(w.exitcode in (None, 0) for w in workers) and not ended:
                # still working (a worker that is done has exit code 0); once both are done,
                # whatever they sent is in the pipe (flushed before they exit): one more look
                ended = all(w.exitcode == 0 for w in workers)
                continue
            n, kind, payload = None, "stopped", None
        except (EOFError, OSError):  # a worker died while sending
            n, kind, payload = None, "stopped", None
        if kind == "stopped":
            for w in workers:
                w.join(timeout=1.0)
            dead = [w for w in workers if w.exitcode not in (None, 0)] or workers
            raise HarmosyncError(f"the process {dead[0].name} the figures stopped (exit code {dead[0].exitcode}); "
                                 "nothing more was written")
        if kind == "error":
            raise payload
        return n, kind, payload


def _worker_start() -> None:
    """What both workers do first.

    * Ctrl-C is the parent's, which stops the workers with SIGTERM (its default action).
    * xarray imports dask.array at the first Dataset it builds (≈ 0.2 s), only to recognise
      dask arrays, and dask.distributed when writing a NetCDF, to ask whether a distributed
      client runs (≈ 0.25 s). The figures make no dask arrays, so these processes block both
      imports ("not installed", at once) before importing xarray, which remembers the answer.
      Only here: the caller's process, where a user may use dask later, is left alone; where it
      had loaded xarray already (a test), only dask.distributed is blocked.
    * No garbage collection: a worker lives for six figures at most, and its cyclic garbage
      (closed matplotlib figures, ≈ 14 MB a figure) goes with it; collecting would cost
      ≈ 0.15 s of the drawing and 0.1 s of the computing (measured: docs/benchmarks.md).
    * It ends when its parent is killed (:func:`_end_with_parent`)."""
    import multiprocessing as mp
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handler (sigterm_unwinds)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})  # held back by _start
    blocked = ("dask.distributed", "distributed")
    for name in blocked if "xarray" in sys.modules else ("dask", *blocked):
        sys.modules.setdefault(name, None)
    import xarray  # noqa: F401  (after the block)

    gc.disable()
    threading.Thread(target=_end_with_parent, args=(mp.parent_process().sentinel,), daemon=True).start()


def _end_with_parent(sentinel) -> None:
    """A worker's watch (a daemon thread): end the worker at once when its parent is gone
    (killed: nobody will rename or remove its files; the next write to those paths removes the
    stale temporary files). ``sentinel``: the read end of a pipe whose write end multiprocessing
    keeps in the parent (and in a worker forked later, which ends first), ready at its death."""
    import os
    from multiprocessing.connection import wait

    wait([sentinel])
    os._exit(1)


def _report_error(queue, n: int, e: BaseException) -> None:
    """Hand a worker's error on figure ``n`` to the parent, which raises it."""
    import pickle

    from ..errors import HarmosyncError

    try:
        pickle.dumps(e)
    except Exception:  # noqa: BLE001
        e = HarmosyncError(f"figure {n}: {type(e).__name__}: {e}")
    queue.put((n, "error", e))


def _compute_all(order: list[int], nc: dict, data, done) -> None:
    """The computing worker: each figure's Dataset to the drawing worker (to draw while the
    next one is computed), then its NetCDF into the parent's temporary file ``nc[n]``."""
    from .. import figures
    from ..io import check_dataset

    _worker_start()
    for n in order:
        try:
            t0 = time.perf_counter()
            ds = figures.compute(n)
            check_dataset(ds)  # finite, in-range numbers before anything is written
            data.put((n, ds))
            ds.to_netcdf(nc[n], engine="h5netcdf")
            done.put((n, "nc", t0))
        except BaseException as e:  # noqa: BLE001  (handed to the parent, which raises it)
            _report_error(done, n, e)
            return


def _draw_all(order: list[int], tmp: dict, data, done) -> None:
    """The drawing worker: matplotlib's start (and its first-use costs, on a small figure) while
    the first figure is computed, then each figure drawn as its Dataset arrives and its images
    written into the parent's temporary files ``tmp[n]``; the PNG is encoded in a thread (PIL,
    outside the GIL) while the next figure is drawn."""
    import functools
    from concurrent.futures import ThreadPoolExecutor

    _worker_start()
    import matplotlib.pyplot as plt

    from .. import figures
    from ..plot import render

    if data.empty():  # figure 1 still being computed: its first-use costs now, not after
        render.warm_up()
    encoder = ThreadPoolExecutor(1)
    try:
        for n in order:
            got, ds = data.get()
            assert got == n, (got, n)  # the computing worker sends them in this order
            try:
                fig = figures.draw(n, ds)
                try:
                    png = _save_images(ds, fig, tmp[n], encoder)
                finally:
                    plt.close(fig)
            except BaseException as e:  # noqa: BLE001  (handed to the parent, which raises it)
                _report_error(done, n, e)
                return
            if png is None:
                done.put((n, "images", None))
            else:
                png.add_done_callback(functools.partial(_encoded, done, n))
    finally:
        encoder.shutdown(wait=True)


def _encoded(done, n: int, future) -> None:
    """Report figure ``n``'s PNG written (or its encoder's error); runs in the encoder thread."""
    e = future.exception()
    if e is None:
        done.put((n, "images", None))
    else:
        _report_error(done, n, e)


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
