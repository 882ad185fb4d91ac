"""``harmosync figure N|all --out DIR [--pdf] [--overwrite]``: the paper's figures."""

from __future__ import annotations

import atexit
import functools
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


def _write(ds, fig, paths: dict, *, overwrite: bool) -> None:
    """Write the NetCDF and the images; each file appears (renamed into place) only if every
    file was written successfully."""
    from .. import __version__
    from ..io import atomic_path, check_dataset
    from ..plot import render

    check_dataset(ds)  # finite, in-range numbers before anything is written
    title = ds.attrs.get("title", "harmosync figure")
    with ExitStack() as stack:
        tmp = {kind: stack.enter_context(atomic_path(p, overwrite=overwrite)) for kind, p in paths.items()}
        ds.to_netcdf(tmp["nc"], engine="h5netcdf")
        render.save_png(fig, tmp["png"], dpi=150,
                        metadata={"Title": title, "Software": f"harmosync {__version__}",
                                  "Description": ds.attrs.get("config_json", "")})
        if "pdf" in tmp:
            fig.savefig(tmp["pdf"], format="pdf", metadata={"Title": title, "Creator": f"harmosync {__version__}"})


_BUSY = False  # a figure worker is inside _make (its SIGTERM handler then stops the figure)


def _make(n: int, paths: dict, overwrite: bool, progress: bool) -> tuple[int, float]:
    """Compute, draw and write figure ``n``; its wall time [s]."""
    global _BUSY
    import matplotlib.pyplot as plt

    from .. import figures

    _BUSY = True
    try:
        t0 = time.perf_counter()
        ds = figures.compute(n, progress=progress)
        fig = figures.draw(n, ds)
        try:
            _write(ds, fig, paths, overwrite=overwrite)
        finally:
            plt.close(fig)
        return n, time.perf_counter() - t0
    finally:
        _BUSY = False


def _worker_init() -> None:
    """A figure worker leaves Ctrl-C to the driver, which stops it with SIGTERM: that unwinds
    the figure in progress (its temporary files removed), and is ignored between figures."""
    import signal

    def stop(signum, frame):
        if _BUSY:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, stop)


def _preload() -> None:
    """What every figure worker needs, loaded once before the fork instead of once per worker
    (~0.9 s of CPU each): matplotlib, xarray with the duck-array modules its first Dataset
    looks up (dask.array), the NetCDF writer and the compiled kernels."""
    import h5netcdf  # noqa: F401
    import matplotlib.pyplot  # noqa: F401
    import numpy as np
    import xarray as xr

    from .. import jit, measures, measures_twomode  # noqa: F401  (the modules whose kernels load)
    from ..solvers import trigsum  # noqa: F401

    xr.Dataset({"x": ("t", np.zeros(1))}, coords={"t": [0.0]})
    jit.load_all()


def _run(numbers: list[int], plan: dict, *, overwrite: bool, progress: bool):
    """Yield (n, seconds) as each figure is written. Several figures go to two forked worker
    processes, the costliest first (Fig. 6's map), so both cores stay busy; each figure's files
    are written atomically by the process that made it. Without fork (or on one core): in turn."""
    import multiprocessing as mp
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if len(numbers) == 1 or cores < 2 or "fork" not in mp.get_all_start_methods():
        for n in numbers:
            yield _make(n, plan[n], overwrite, progress)
        return
    _preload()
    gc.freeze()  # the workers' collections then skip the preloaded modules (≈ 0.2 s of CPU in all)
    try:
        yield from _forked(numbers, plan, overwrite=overwrite)
    finally:
        gc.unfreeze()


def _forked(numbers: list[int], plan: dict, *, overwrite: bool):
    """Yield (n, seconds) from two forked workers, one figure per worker at a time."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    order = sorted(numbers, key=lambda n: n != 6)
    with ProcessPoolExecutor(max_workers=2, mp_context=mp.get_context("fork"), initializer=_worker_init) as pool:
        pending = set()
        try:
            # one figure per worker at a time: a submitted call that a worker has queued cannot
            # be cancelled, and would still be made (and written) after Ctrl-C or an error
            while order or pending:
                while order and len(pending) < 2:
                    n = order.pop(0)
                    pending.add(pool.submit(_make, n, plan[n], overwrite, False))
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        except BaseException:  # Ctrl-C or a figure's error: stop the figures in progress
            for future in pending:
                future.cancel()
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.terminate()
            raise


@functools.cache
def _fast_exit() -> None:
    """At interpreter exit, skip the last full garbage collection of a heap the process frees
    wholesale anyway (numba, matplotlib and xarray loaded: ≈ 0.45 s). Every file is closed and
    renamed before; atexit handlers still run. Registered once per process."""
    atexit.register(gc.freeze)


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
    _fast_exit()
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
