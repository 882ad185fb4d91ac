"""Where a sweep's tasks run: one loop over the ``concurrent.futures`` Executor interface.

The executor is a local process pool (:class:`LocalPool`, rebuilt if a worker dies), a serial
in-process executor, any ``concurrent.futures.Executor``, or dask.distributed through
``Client.get_executor()``. :func:`drive` keeps a few tasks per worker in flight and hands each
finished one to a sink.
"""

from __future__ import annotations

import concurrent.futures as cf
import gc
import os
import signal
import sys
from collections import deque
from collections.abc import Callable

from ..errors import HarmosyncError


class WorkersLost(RuntimeError):
    pass


class SerialExecutor(cf.Executor):
    """Runs each task in the calling process when it is submitted (no pool, no pickling)."""

    def submit(self, fn, /, *args, **kwargs):
        fut: cf.Future = cf.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except Exception as e:  # noqa: BLE001 — delivered through the future, like a pool would
            fut.set_exception(e)
        return fut


def default_workers() -> int:
    """CPUs this process may use (sched_getaffinity, else os.cpu_count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _worker_init(parent: int, forked: bool = False, copy: bool = False) -> None:
    """Process-pool workers: leave Ctrl-C to the driver, and die with it (Linux) so that a
    SIGKILLed driver leaves no orphans computing points nobody will write. A worker ``forked``
    by the fork server (whose parent is the server, not the driver ``parent``) watches the
    driver itself (see :func:`_watch`). A ``copy`` of the driver (start method "fork") drops the
    driver's signal handlers (a SIGTERM from :func:`terminate` ends it, as it ends a spawned
    worker; the CLI's handler would raise in it), unblocks the signals :func:`process_pool`
    blocked around the fork, and loads the compiled kernels (:mod:`.preload`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if copy:
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
            if callable(signal.getsignal(sig)):
                signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, FORK_BLOCKED)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            pass
    if forked:
        _watch(parent)
    elif os.getppid() != parent:
        os._exit(1)
    keep_freed_memory()
    if copy:
        import importlib

        for name in FORKSERVER_PRELOAD:
            importlib.import_module(name)
    gc.freeze()  # never undone in a worker: see freeze_heap


def freeze_heap() -> bool:
    """Move every object this process holds now (modules, kernels, the driver's objects a
    forked worker inherits) out of the garbage collector's sight (``gc.freeze``): a worker's
    full collections then skip them (~70 ms each for the ~140,000 objects of harmosync and
    numba) and never write into the inherited pages (which would copy them). Left alone in the
    driver if something else froze objects already (it could not undo only its own freeze).
    True if frozen here."""
    if gc.get_freeze_count():
        return False
    gc.freeze()
    return True


def _watch(pid: int) -> None:
    """Exit this process as soon as process ``pid`` ends (a thread waiting on its pidfd)."""
    import select
    import threading

    try:
        fd = os.pidfd_open(pid)
    except OSError:  # already gone
        os._exit(1)

    def wait():
        select.select([fd], [], [])
        os._exit(1)

    threading.Thread(target=wait, daemon=True, name="harmosync-driver-watch").start()


#: what a pool's fork server imports once for all the workers it forks (and what a worker
#: forked from the driver imports: the kernels)
FORKSERVER_PRELOAD = ["harmosync.sweep.preload"]
#: signals blocked in the driver while it forks workers (unblocked in each by _worker_init)
FORK_BLOCKED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def start_method() -> str:
    """"fork" on Linux when this process runs no other Python thread: the workers are copies
    of the driver, harmosync already imported, and load the compiled kernels side by side
    (~0.35 s of CPU each) — their first task starts ~0.6 s sooner and the sweep costs ~0.5 s
    less CPU than through a fork server, which starts Python and imports harmosync first. A
    driver with other threads (Jupyter, dask, tqdm, zarr's I/O loop, a pool being rebuilt)
    could hold a lock at the fork that the copy then never gets back, so it gets the fork
    server where a worker can watch the driver (Linux pidfds): one process imports harmosync
    and loads the kernels (~1.2 s of CPU) and forks every worker from it; else "spawn", each
    worker importing it."""
    import multiprocessing as mp
    import threading

    methods = mp.get_all_start_methods()
    if not sys.platform.startswith("linux"):
        return "spawn"
    if "fork" in methods and threading.active_count() == 1 and threading.current_thread() is threading.main_thread():
        return "fork"
    if hasattr(os, "pidfd_open") and "forkserver" in methods:
        try:
            os.close(os.pidfd_open(os.getpid()))
            return "forkserver"
        except OSError:
            pass
    return "spawn"


#: glibc malloc in pool workers: arrays up to this size come from the heap, and up to twice it
#: of freed heap stays mapped (see keep_freed_memory)
MALLOC_KEEP_BYTES = 32 * 2**20


def keep_freed_memory() -> None:
    """Let this process's glibc malloc reuse freed memory instead of returning it to the system
    at once (mallopt M_MMAP_THRESHOLD = MALLOC_KEEP_BYTES, M_TRIM_THRESHOLD = twice that):
    a task's batched arrays (a few MB, allocated and freed per block of points) then cost no
    page faults — without it the summary sweep's workers spend ~10% of their time in the
    kernel. Memory stays bounded (at most 2 × MALLOC_KEEP_BYTES kept beyond the peak in use).
    Best effort: nothing happens off glibc."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, MALLOC_KEEP_BYTES)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 2 * MALLOC_KEEP_BYTES)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


def process_pool(workers: int) -> cf.ProcessPoolExecutor:
    """A local pool of ``workers`` processes, forked from the driver, forked by a fork server
    or spawned (:func:`start_method`), started now: safe whatever threads the driver runs
    (tqdm, dask, Jupyter)."""
    import multiprocessing as mp
    import threading

    method = start_method()
    ctx = mp.get_context(method)
    pool = cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init,
                                  initargs=(os.getpid(), method == "forkserver", method == "fork"))
    if method == "fork":
        # the signals stay blocked in the copies until _worker_init has replaced the driver's
        # handlers (a Ctrl-C or SIGTERM meanwhile is the driver's, delivered when unblocked here);
        # the driver's objects are frozen for the fork (see freeze_heap)
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, FORK_BLOCKED)
        frozen = freeze_heap()
        try:
            pool.submit(int)  # forks every worker now (before the pool's own threads start)
        finally:
            if frozen:
                gc.unfreeze()
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        return pool
    # Start the workers (or the fork server) now, with SIGINT ignored: they inherit that through
    # exec (the server passes it on to the workers it forks), so a Ctrl-C (sent to the whole
    # process group) is the driver's alone, even while workers start up.
    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        if method == "forkserver":
            from multiprocessing import forkserver

            # the server imports harmosync meanwhile (the preload is read only by a server that
            # starts now); the first task's submission waits for it
            ctx.set_forkserver_preload(FORKSERVER_PRELOAD)
            forkserver.ensure_running()
        else:
            for _ in range(workers):
                pool.submit(int)
    finally:
        if main:
            signal.signal(signal.SIGINT, old)
    return pool


def terminate(pool: cf.ProcessPoolExecutor) -> None:
    """Stop computing at once (Ctrl-C) instead of waiting for running tasks (reads the pool's
    private ``_processes``, present in CPython 3.8+; best effort)."""
    for p in list(getattr(pool, "_processes", {}).values() or []):
        try:
            p.terminate()
        except Exception:  # noqa: BLE001
            pass
    pool.shutdown(wait=False, cancel_futures=True)


class LocalPool:
    """A process pool the sweep owns: rebuilt when broken, terminated on Ctrl-C, shut down at
    the end (``executor`` is the current pool, None once closed)."""

    def __init__(self, workers: int):
        self.workers = workers
        self.executor: cf.ProcessPoolExecutor | None = process_pool(workers)

    def rebuild(self, old: cf.ProcessPoolExecutor) -> cf.ProcessPoolExecutor:
        terminate(old)
        self.executor = process_pool(self.workers)
        return self.executor

    def terminate(self) -> None:
        if self.executor is not None:
            terminate(self.executor)
            self.executor = None

    def shutdown(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)


def early_pool(executor, workers: int | None, max_tasks: int) -> LocalPool | None:
    """The local pool of a sweep, started before the sweep is validated and its store created,
    so that the workers' start (importing harmosync, ~1 s) overlaps that work; None for other
    executors or when one worker would do (at most ``max_tasks`` tasks). Give it to
    :func:`choose_executor`."""
    if executor not in (None, "processes"):
        return None
    nw = max(1, min(workers or default_workers(), max_tasks))
    return LocalPool(nw) if nw > 1 else None


def choose_executor(executor, workers: int | None, n_tasks: int, say: Callable[[str], None],
                    started: LocalPool | None = None):
    """(executor, tasks to keep in flight, LocalPool or None) for run_sweep's ``executor``
    argument: None (a local process pool of ``workers`` processes, default all CPUs; serial
    when one would do), ``"processes"``, ``"serial"``, a concurrent.futures Executor or a
    dask.distributed Client. ``started``: the pool :func:`early_pool` started (used, or
    terminated when one process will do)."""
    if executor is None or executor == "processes":
        nw = max(1, min(workers or default_workers(), n_tasks))
        if nw == 1 and executor is None:
            if started is not None:
                started.terminate()
            return SerialExecutor(), 1, None
        pool = started if started is not None else LocalPool(nw)
        return pool.executor, 2 * pool.workers, pool
    if executor == "serial":
        return SerialExecutor(), 1, None
    if hasattr(executor, "get_executor"):  # a dask.distributed Client
        nthreads = sum(executor.nthreads().values()) or 1
        link = dashboard_link(executor)
        nw = len(executor.nthreads())
        say(f"dask: {nw} worker{'s' if nw != 1 else ''}, {nthreads} thread{'s' if nthreads != 1 else ''}; "
            + (f"dashboard: {link}" if link else "no dashboard (the scheduler was started without one)"))
        return executor.get_executor(pure=False), 2 * nthreads, None
    if isinstance(executor, cf.Executor):
        return executor, 2 * (getattr(executor, "_max_workers", None) or 8), None
    raise HarmosyncError(f"executor = {executor!r}: give None, 'serial', 'processes', a concurrent.futures "
                         "Executor or a dask.distributed Client")


def dashboard_link(client) -> str | None:
    """The dask scheduler's dashboard URL, or None if it has none. A scheduler started with
    ``dask scheduler --no-dashboard`` still serves HTTP and reports a "dashboard" service, so
    ``client.dashboard_link`` names a page that answers 404: the page is asked for (2 s at most).
    A link that cannot be reached from here (a firewall) is kept: it may be right elsewhere."""
    import urllib.error
    import urllib.request

    try:
        if "dashboard" not in client.scheduler_info().get("services", {}):
            return None
        link = client.dashboard_link
    except Exception:  # noqa: BLE001 — a link is a courtesy, never a reason to fail
        return None
    if not link:
        return None
    try:
        urllib.request.urlopen(link, timeout=2).close()
    except urllib.error.HTTPError as e:
        return None if e.code == 404 else link
    except (OSError, ValueError):
        return link
    return link


def lost_workers_message() -> str:
    """Why a local pool's workers may have died, for the one-line error. A script (``__main__``
    from a file) gets the likeliest cause first: a pool that does not fork (a driver with
    threads, or not Linux) starts workers that import the script, and one whose sweep is not
    under ``if __name__ == "__main__":`` starts a sweep in each of them, which multiprocessing
    refuses (the workers exit at once)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    # a script run by path (not `python -m`: harmosync's CLI, pytest), nor the console script
    script = (path is not None and getattr(main, "__spec__", None) is None and not hasattr(sys, "ps1")
              and os.path.basename(path) != "harmosync")
    why = ("is the sweep under `if __name__ == \"__main__\":`? Without it the workers re-run the script; "
           "else out of memory?") if script else "out of memory?"
    return (f"worker processes died repeatedly ({why}); the finished points are saved, run the same command "
            "again to resume")


def drive(executor, fn, tasks, payload, sink, on_done, *, max_inflight: int, rebuild=None, max_restarts: int = 3,
          open_sink: Callable | None = None):
    """The one runner loop: keep up to ``max_inflight`` tasks ``fn(payload, start, stop)``
    submitted, ``sink.write`` each result as it finishes, then ``on_done(result)``, and
    ``sink.flush()`` (if it has one) when the loop ends, normally or not. A broken
    local pool (a worker killed) is rebuilt and its tasks resubmitted; dask.distributed
    reschedules lost tasks itself. ``open_sink``: called once the first tasks are submitted,
    its result is the sink (e.g. a store created while they run). Returns the (possibly
    rebuilt) executor."""
    queue = deque(tasks)
    inflight: dict = {}
    restarts = 0
    try:
        while queue or inflight:
            while queue and len(inflight) < max_inflight:
                t = queue.popleft()
                inflight[executor.submit(fn, payload, t[0], t[1])] = t
            if open_sink is not None:
                sink, open_sink = open_sink(), None
            done, _ = cf.wait(list(inflight), return_when=cf.FIRST_COMPLETED)
            for fut in done:
                task = inflight.pop(fut)
                try:
                    res = fut.result()
                except cf.BrokenExecutor:
                    if rebuild is None or restarts >= max_restarts:
                        raise WorkersLost(lost_workers_message()) from None
                    restarts += 1
                    queue.extendleft(reversed([task] + list(inflight.values())))
                    inflight.clear()
                    executor = rebuild(executor)
                    break
                sink.write(res)
                on_done(res)
    except BaseException:
        for f in inflight:
            f.cancel()
        raise
    finally:  # the finished tasks are saved, whatever stopped the loop
        if sink is not None and hasattr(sink, "flush"):
            sink.flush()
    return executor
