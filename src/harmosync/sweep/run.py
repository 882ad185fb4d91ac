"""The runner: split the grid into tasks, run them on an executor, write them as they finish.

A task is a run of consecutive points (flat C-order indices), one Zarr chunk; it is sized to
about two seconds of work. :func:`run_sweep` validates everything first, opens (or resumes) the
store, skips the tasks already done, and returns the gridded Dataset.
"""

from __future__ import annotations

import math
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import config as cfgmod
from ..errors import HarmosyncError, UnstableNetworkError
from .executors import choose_executor, drive, early_pool
from .keep import Keep
from .point import evaluate, evaluate_many, kept_bytes, prepare
from .spec import Axis, SweepSpec, build_spec, load_toml, validate
from .store import (MemorySink, ZarrSink, check_writable, consolidate_if_complete, open_store, open_sweep, raw_dataset,
                    read_status, store_chunk, to_grid)

TARGET_TASK_SECONDS = 2.0
MAX_CHUNK_BYTES = 64 * 2**20
MIN_TASKS = 64
MIN_TASK_SECONDS = 0.25
WARM_TIMING_SECONDS = 1.0  # time_point times a point faster than this twice (the first pays imports)
#: ... and one faster than BATCH_TIMING_BELOW [s] again in a batch of about BATCH_TIMING_SECONDS
#: of work (at most BATCH_TIMING_POINTS copies)
BATCH_TIMING_BELOW = 0.02
BATCH_TIMING_SECONDS = 0.1
BATCH_TIMING_POINTS = 64
#: sweeps of at least this many points start their local worker processes first (executors.early_pool)
EARLY_POOL_POINTS = 200


# ----------------------------------------------------------------------------------------------
# Tasks (run in worker processes)
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Payload:
    """What every task needs; small and picklable (sent with each task)."""

    base: dict
    axes: tuple[Axis, ...]
    keep: Keep
    blas_threads: int | None = 1


@dataclass(frozen=True, eq=False)
class TaskResult:
    start: int
    stop: int
    status: np.ndarray  # (n,) int8: 1 done, 2 failed
    data: dict  # name -> (n, ...) arrays
    errors: list  # [(flat index, message)]
    seconds: float
    notes: list = ()  # [(flat index, message)]: points computed with a warning (simulation.run_note)


def run_task(payload: Payload, start: int, stop: int) -> TaskResult:
    """Compute points start..stop−1 (flat C-order indices). A point whose config or network is
    refused (HarmosyncError) is recorded as failed with NaN values; anything else propagates."""
    t0 = time.perf_counter()
    if payload.blas_threads:
        from threadpoolctl import threadpool_limits

        # One BLAS thread per worker: faster on a full machine, and bitwise-reproducible results
        # whatever the executor.
        with threadpool_limits(limits=payload.blas_threads):
            return _run_points(payload, start, stop, t0)
    return _run_points(payload, start, stop, t0)


def _run_points(payload: Payload, start: int, stop: int, t0: float) -> TaskResult:
    spec = SweepSpec(payload.base, payload.axes, payload.keep)
    n = stop - start
    status = np.ones(n, np.int8)
    data: dict[str, np.ndarray] = {}
    errors = []
    points = []
    for i in range(start, stop):
        try:
            points.append(prepare(spec.point_config(i), spec.keep))
        except HarmosyncError as e:
            points.append(e)
    notes: dict = {}
    for k, (i, out) in enumerate(zip(range(start, stop), evaluate_many(points, spec.keep, notes))):
        if isinstance(out, HarmosyncError):
            status[k] = 2
            errors.append((i, str(out)))
            continue
        for name, v in out.items():
            if name not in data:
                data[name] = np.full((n,) + v.shape, np.nan)
            data[name][k] = v
    return TaskResult(start, stop, status, data, errors, time.perf_counter() - t0,
                      [(start + k, msg) for k, msg in sorted(notes.items())])


# ----------------------------------------------------------------------------------------------
# Chunks and shards
# ----------------------------------------------------------------------------------------------
def time_point(first: cfgmod.RunConfig, keep) -> tuple[str, float, int]:
    """("ok", CPU seconds per point as a task computes it, bytes a point keeps) for ``first``
    with one BLAS thread, or ("unstable" | "error", 0, message) — plain data, so that a pool's
    worker can run it. A point faster than WARM_TIMING_SECONDS is timed a second time, warm;
    one faster than BATCH_TIMING_BELOW is then timed in a batch of copies, twice (``evaluate_many``,
    as a task runs it: batched points share their solve and C, and a lone one of the summary
    sweep costs ~6× a batched one — tasks sized on it come out 6× too small)."""
    from threadpoolctl import threadpool_limits

    from .. import jit

    try:
        with threadpool_limits(limits=1):
            jit.load_all()  # numba's one-off start (~0.35 s) is not the point's cost
            t0 = time.process_time()
            out = evaluate(prepare(first, keep), keep)
            per = time.process_time() - t0
            if per < WARM_TIMING_SECONDS:  # the first call's one-off costs would dominate
                t0 = time.process_time()
                evaluate(prepare(first, keep), keep)
                per = time.process_time() - t0
            if per < BATCH_TIMING_BELOW:
                n = min(BATCH_TIMING_POINTS, max(2, math.ceil(BATCH_TIMING_SECONDS / max(per, 1e-6))))
                for _ in range(2):  # the best of two (the first batch pays first calls)
                    t0 = time.process_time()
                    evaluate_many([prepare(first, keep) for _ in range(n)], keep)
                    per = min(per, (time.process_time() - t0) / n)
    except UnstableNetworkError:
        return "unstable", 0.0, 0
    except HarmosyncError as e:
        return "error", 0.0, str(e)
    return "ok", max(per, 1e-6), sum(np.asarray(v).nbytes for v in out.values())


def chunk_hint(spec: SweepSpec, first: cfgmod.RunConfig, pool=None) -> Callable[[], int]:
    """Points per task (= Zarr chunk): about TARGET_TASK_SECONDS of work, timed on the first
    point (:func:`time_point`: CPU time, so that workers starting meanwhile do not count);
    smaller if that leaves fewer than MIN_TASKS tasks, but never tasks under MIN_TASK_SECONDS
    (per-task overhead); at most MAX_CHUNK_BYTES of kept data. ``pool``: a started LocalPool,
    whose worker times the point (its kernels are loaded already; the driver then never starts
    numba: ~0.5 s of CPU that would compete with the workers)."""

    def timed(cfg: cfgmod.RunConfig):
        if pool is not None and pool.executor is not None:
            try:
                return pool.executor.submit(time_point, cfg, spec.keep).result()
            except Exception:  # noqa: BLE001 — a broken pool: time it here (the run rebuilds the pool)
                pass
        return time_point(cfg, spec.keep)

    def hint() -> int:
        # the first point that runs: a failing or unstable point is a failed point like any
        # other (status 2), not a reason to refuse the sweep or to size the tasks blindly
        for k, index in enumerate(timing_candidates(spec.size)):
            try:
                cfg = first if index == 0 else spec.point_config(index)
            except HarmosyncError:
                continue
            kind, per, nbytes = timed(cfg)
            if kind == "ok":
                break
        else:
            # nothing ran: tasks by count, within the byte cap of the kept series (config only)
            by_bytes = max(1, MAX_CHUNK_BYTES // kept_bytes(len(first.probes.frequencies), first.time.grid().size,
                                                                 spec.keep))
            return max(1, min(math.ceil(spec.size / MIN_TASKS), 100, by_bytes))
        by_time = max(1, int(TARGET_TASK_SECONDS / per))
        by_count = max(1, math.ceil(spec.size / MIN_TASKS))
        floor = max(1, math.ceil(MIN_TASK_SECONDS / per))
        by_bytes = max(1, MAX_CHUNK_BYTES // max(nbytes, 1))
        return min(max(min(by_time, by_count), floor), by_bytes)

    return hint


#: points tried in turn to time a task when the first ones fail (spread over the grid)
TIMING_TRIES = 8


def timing_candidates(size: int) -> list[int]:
    """Flat indices tried by :func:`chunk_hint`: the first point, then points spread evenly."""
    spread = np.linspace(0, size - 1, TIMING_TRIES).round().astype(int).tolist()
    return list(dict.fromkeys([0, *spread]))


def parse_shard(shard) -> tuple[int, int] | None:
    """``"i/n"`` or ``(i, n)`` → (i, n), 1 ≤ i ≤ n; None stays None."""
    if shard is None:
        return None
    if isinstance(shard, str):
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", shard)
        if not m:
            raise HarmosyncError(f"--shard {shard!r} must look like i/n, e.g. 3/10 (i from 1 to n)")
        shard = (int(m.group(1)), int(m.group(2)))
    i, n = shard
    if not (n >= 1 and 1 <= i <= n):
        raise HarmosyncError(f"--shard {i}/{n}: need 1 ≤ i ≤ n")
    return i, n


def plan_tasks(n: int, chunk: int, shard, status: np.ndarray) -> tuple[list[tuple[int, int]], int]:
    """(tasks still to compute, points in this shard): task k covers points k·chunk ... ; a
    shard (i, n) takes the tasks with k mod n = i − 1; a task is done when none of its points
    has status 0."""
    tasks, mine = [], 0
    for k, a in enumerate(range(0, n, chunk)):
        b = min(a + chunk, n)
        if shard and k % shard[1] != shard[0] - 1:
            continue
        mine += b - a
        if np.any(status[a:b] == 0):
            tasks.append((a, b))
    return tasks, mine


# ----------------------------------------------------------------------------------------------
# The runner
# ----------------------------------------------------------------------------------------------
def run_sweep(base_config, axes: dict, *, keep, store=None, executor=None, workers: int | None = None,
              batch: int | None = None, shard=None, progress: bool = True, overwrite: bool = False,
              blas_threads: int | None = 1, log: Callable[[str], None] | None = None):
    """Run a Cartesian parameter sweep and return its gridded :class:`xarray.Dataset`.

    ``base_config``: a ``simulate`` config (dict as in the TOML, or a RunConfig). ``axes``:
    {path: spec}, path like ``"chain.g"``, ``"probes.sites[2]"`` (probe numbers from 1) or
    ``"probes.strengths[*]"`` (every probe), spec ``{"start", "stop", "step" | "num"}``
    (inclusive), ``{"values": [...]}`` or a list; optional ``"name"``. ``keep``: the [keep]
    table (see :class:`~harmosync.sweep.keep.Keep`).

    ``store``: a Zarr directory, written as points finish; rerunning with the same arguments
    resumes (only missing points are computed); a store of a different sweep is refused.
    ``None`` keeps everything in memory. ``executor``: None (a local process pool of
    ``workers`` processes, default all CPUs), ``"serial"``, any concurrent.futures Executor, or a
    dask.distributed Client. ``batch``: points per task (= Zarr chunk; default ~2 s of work).
    ``shard``: ``(i, n)`` or ``"i/n"``: compute only tasks k with k mod n = i − 1 (job arrays).
    ``blas_threads``: BLAS threads per task (None: leave as is).
    Returns the Dataset (lazy, Zarr-backed, for a store; in memory otherwise).
    """
    say = log if log is not None else (lambda s: print(s, file=sys.stderr))
    spec = build_spec(base_config, axes, keep)
    shard = parse_shard(shard)
    if shard and store is None:
        raise HarmosyncError("--shard needs a store (-o OUT.zarr) that all shards write into")
    if shard and overwrite:
        raise HarmosyncError("--overwrite cannot be combined with --shard: it would remove the other shards' "
                             "points; remove the store once before starting the shards")
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise HarmosyncError(f"batch = {batch!r} must be a whole number of points ≥ 1")
    # a large sweep starts its workers now (a small one may fit one task: serial)
    started = early_pool(executor, workers, spec.size if batch is None else -(-spec.size // batch)) \
        if spec.size >= EARLY_POOL_POINTS else None
    try:
        plan = _plan(spec, store, batch, shard, overwrite, say, started)
        ex, inflight, pool = choose_executor(executor, workers, len(plan.tasks), say, started)
    except BaseException:
        if started is not None:
            started.terminate()
        raise
    payload = Payload(spec.base, spec.axes, spec.keep, blas_threads)
    _execute(spec, ex, inflight, pool, plan, payload, store, shard, progress, say)
    if store is not None:
        consolidate_if_complete(store)
        return open_sweep(store, load=False)
    return to_grid(plan.ds_mem)


class StoreTaken(Exception):
    """Another run created the new store first, with another task size or points done: the
    tasks planned before it existed must be planned again (``info``: that store's StoreInfo)."""

    def __init__(self, info):
        super().__init__(str(info.path))
        self.info = info


@dataclass
class Plan:
    """The tasks still to compute (points per task ``chunk``) and ``open()``, which gives the
    sink they are written to: an existing store is opened at once; a new store (or the
    in-memory Dataset) is created by ``open()``, called once the first tasks are out, so that
    the workers start meanwhile. ``ds_mem``: the in-memory raw Dataset, once opened."""

    tasks: list
    chunk: int
    open: Callable[[], Any]
    ds_mem: Any = None


def _plan(spec: SweepSpec, store, batch, shard, overwrite: bool, say, pool=None) -> Plan:
    """Validate the grid and list the tasks still to compute, from the store's status if it
    exists (opening it, or replacing it with ``overwrite``), else all of them. ``pool``: the
    started local pool, if any (it times the first point: :func:`chunk_hint`)."""
    hint = chunk_hint(spec, validate(spec), pool)
    if store is not None and (shard is not None or Path(store).exists()):
        info = open_store(store, spec, chunk=batch, overwrite=overwrite, chunk_hint=hint)
        chunk, status = info.chunk, info.status
        if batch is not None and batch != chunk and not info.created:
            say(f"note: {store} was created with {chunk} points per task; keeping that")
        sink = ZarrSink(info.path)
        plan = Plan([], chunk, lambda: sink)
    else:
        chunk = store_chunk(spec, batch or hint())
        status = np.zeros(spec.size, np.int8)
        plan = Plan([], chunk, None)
        plan.open = _new_store(spec, Path(store), chunk) if store is not None else _new_memory(spec, chunk, plan)
    plan.tasks, mine = plan_tasks(spec.size, chunk, shard, status)
    todo = sum(b - a for a, b in plan.tasks)
    where = f"shard {shard[0]}/{shard[1]} of " if shard else ""
    if store is not None and todo < mine:
        earlier = int(np.count_nonzero(status == 2))
        say(f"{where}{store}: {mine - todo} of {mine} points already done; computing the remaining {todo}"
            + (f" ({earlier} points failed earlier: status 2)" if earlier else ""))
    else:
        say(f"{where}{store if store is not None else 'sweep'}: computing {todo} points "
            f"({' × '.join(f'{a.size} {a.name}' for a in spec.axes)}) in {len(plan.tasks)} tasks of up to {chunk}")
    return plan


def _new_store(spec: SweepSpec, path: Path, chunk: int):
    """``open`` for a store that does not exist yet (its directory checked now): create it with
    ``chunk`` points per task. If another run created it first, its tasks are taken as they
    are when they are ours (same chunk, nothing done yet), else :class:`StoreTaken`."""
    check_writable(path)

    def open_():
        info = open_store(path, spec, chunk=chunk)
        if not info.created and (info.chunk != chunk or np.any(info.status != 0)):
            raise StoreTaken(info)
        return ZarrSink(info.path)

    return open_


def _new_memory(spec: SweepSpec, chunk: int, plan: Plan):
    def open_():
        plan.ds_mem = raw_dataset(spec, chunk, lambda shape, fill, dtype, chunks: np.full(shape, fill, dtype))
        return MemorySink(plan.ds_mem)

    return open_


def _execute(spec, ex, inflight, pool, plan: Plan, payload, store, shard, progress, say) -> None:
    """Run the tasks with a progress bar; on Ctrl-C say how many points are saved."""
    todo = sum(b - a for a, b in plan.tasks)
    failed: list = []
    noted: list = []
    # no bar in logs: a redirected stderr would collect every refresh as a line
    bar = _progress_bar(todo) if progress and todo and sys.stderr.isatty() else NoBar()
    t0 = time.perf_counter()

    def on_done(res: TaskResult):
        failed.extend(res.errors)
        noted.extend(res.notes)
        bar.update(res.stop - res.start)
        if failed:
            bar.set_postfix(failed=len(failed), refresh=False)

    try:
        if not plan.tasks:
            plan.open()
        else:
            try:
                drive(ex, run_task, plan.tasks, payload, None, on_done, max_inflight=inflight,
                      rebuild=pool.rebuild if pool is not None else None, open_sink=plan.open)
            except StoreTaken as e:  # another run created the store meanwhile: its tasks, its status
                info = e.info
                tasks, _ = plan_tasks(spec.size, info.chunk, shard, info.status)
                say(f"note: {store} was created meanwhile by another run ({info.chunk} points per task); "
                    f"computing its {sum(b - a for a, b in tasks)} missing points")
                todo = sum(b - a for a, b in tasks)
                bar.reset(total=todo)
                if tasks:
                    drive(ex, run_task, tasks, payload, ZarrSink(info.path), on_done, max_inflight=inflight,
                          rebuild=pool.rebuild if pool is not None else None)
    except KeyboardInterrupt:
        bar.close()
        if pool is not None:
            pool.terminate()
        if store is not None:
            say(_interrupted(spec, store))
        raise
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown()
    dt = time.perf_counter() - t0
    if todo:
        say(f"done: {todo} points in {dt:.1f} s ({todo / dt:.3g} points/s)" + (f"; wrote {store}" if store else ""))
    if noted:
        i, msg = min(noted)
        say(f"warning: {len(noted)} points computed with a warning (values kept, see simulate); first at "
            f"{spec.describe(i)}: {msg}")
    if failed:
        i, msg = failed[0]
        say(f"warning: {len(failed)} points failed (status 2, values NaN); first at {spec.describe(i)}: {msg}")


def _progress_bar(total: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="pt", desc="sweep", dynamic_ncols=True, smoothing=0.1)


class NoBar:
    """The progress bar's interface, doing nothing: no tqdm when no bar is shown (a tqdm, even
    disabled, starts a monitor thread that outlives the sweep, and a driver with a thread gets
    the fork server for its next pool: executors.start_method)."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, **kwargs) -> None:
        pass

    def reset(self, total: int | None = None) -> None:
        pass

    def close(self) -> None:
        pass


def _interrupted(spec: SweepSpec, store) -> str:
    """The Ctrl-C message: how many points the store holds (none if it was not created yet)."""
    import zarr

    try:
        st = read_status(zarr.open_group(str(store), mode="r")["status"])
    except Exception:  # noqa: BLE001 — interrupted before the store was created
        return f"interrupted: no point was saved yet ({store} was not created)"
    return (f"interrupted: {int(np.count_nonzero(st))} of {spec.size} points are saved in {store}; "
            "run the same command again to resume")


def run_toml(path, **kwargs):
    """:func:`run_sweep` on a sweep TOML file (base config + [sweep] + [keep])."""
    base, axes, keep = load_toml(path)
    return run_sweep(base, axes, keep=keep, **kwargs)
