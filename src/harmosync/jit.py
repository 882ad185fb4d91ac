"""Compiled kernels on first use: numba is imported when a kernel is first called, not with
harmosync (~0.2 s of imports a run that computes no kernel does not pay).

Every kernel is compiled with ``cache=True`` (later processes load it from numba's cache
instead of compiling it, ~2 s for all: numba's start is then ≈ 0.17 s of CPU for the six kernels
of a ``simulate`` — numba's import 0.10 s, its runtime 0.03 s, the array implementations an
allocating kernel's environment names 0.02 s, 3–5 ms a kernel — as numba's compiler itself is
not loaded: :func:`_runtime_only_refresh`), ``nogil=True`` (threads can share the work), numpy's
error model and without fastmath (IEEE arithmetic, so the roundoff analyses of the numpy code
they replace still hold).
"""

from __future__ import annotations

import contextlib
import gc
import signal
import sys
import threading

_LOCK = threading.Lock()
#: numba's options for every kernel: numpy's error model (x/0 is ±inf or NaN, as in numpy,
#: instead of Python's ZeroDivisionError)
OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy"}


_KERNELS: list = []


@contextlib.contextmanager
def _signals_held():
    """SIGINT/SIGTERM held back while numba compiles or loads a kernel: a KeyboardInterrupt
    raised inside LLVM's callbacks is swallowed there and leaves numba's library half built
    ("no compiled object yet", exit 1). A signal that comes meanwhile is recorded and handed
    to the previous handler after, as a clean Ctrl-C (a thread mask would not do: another
    thread can take the signal for Python's main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda signum, frame: pending.append(signum)) for s in held}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for s in dict.fromkeys(pending):
            handler = previous[s]
            if callable(handler):
                handler(s, None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(s)


@contextlib.contextmanager
def collector_paused():
    """Python's cyclic garbage collector paused within the block (as it was after), for work
    that creates many long-lived objects and little cyclic garbage, which the collections it
    triggers would scan again and again: numba's import and a kernel's load (~10⁵ objects, no
    garbage: ≈ 15 ms of a process's start), a one-run command (its imports)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if not gc.get_freeze_count():  # (a freeze of someone else's is left alone)
                # every object into the oldest generation: else the first young collection
                # after would scan all the block's objects at once (70–110 ms after a command)
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def _runtime_only_refresh() -> None:
    """Before it looks a kernel up in its cache, numba refreshes its whole compiler: every
    typing and lowering registry (≈ 0.13 s of CPU, most of a process's numba start; imports of
    numba's array, unicode, random, typed-container … implementations), though rebuilding
    compiled code needs only numba's runtime (NRT). This makes the CPU target's next refresh,
    if numba's cache lookup asks for it, initialise the runtime only; any other refresh (a
    compilation's, on a cache miss) is the full one, and the next refresh is full in any case."""
    from numba.core.registry import cpu_target
    from numba.core.runtime import rtsys

    ctx = cpu_target.target_context
    if "refresh" in vars(ctx):  # still armed: no lookup happened since
        return

    def refresh():
        del ctx.refresh  # one shot
        caller = sys._getframe(1).f_code
        if caller.co_name == "load_overload" and caller.co_filename.endswith("caching.py"):
            rtsys.initialize(ctx)
        else:
            ctx.refresh()

    ctx.refresh = refresh


def fma(a: float, b: float, c: float) -> float:
    """a·b + c rounded once (IEEE 754 fusedMultiplyAdd), for kernels: name it in a kernel's
    ``calls`` and the kernel calls LLVM's llvm.fma (one instruction where the CPU has FMA, a
    correctly rounded library call where not); in plain Python, exactly through fractions. Its
    use: TwoProduct, p = fl(ab), e = fma(a, b, −p) = ab − p exactly (Dekker's split needs 17
    flops and |ab| < 2^996)."""
    from fractions import Fraction

    return float(Fraction(a) * Fraction(b) + Fraction(c))


_FMA = None


def _fma_intrinsic():
    """:func:`fma` as a numba intrinsic (built on first use: numba is not imported with harmosync)."""
    global _FMA
    if _FMA is None:
        from numba.core import types
        from numba.extending import intrinsic

        @intrinsic
        def fused(typingctx, a, b, c):
            sig = types.float64(types.float64, types.float64, types.float64)
            return sig, lambda context, builder, signature, args: builder.fma(*args)

        _FMA = fused
    return _FMA


def kernel(fn, signature: str, *, reads=(), calls=()):
    """A callable that compiles ``fn`` (a module-level function of plain loops) for
    ``signature`` on its first call. ``reads``: positions of the array arguments ``fn`` only
    reads; they are typed read-only, so that read-only arrays (a stored result's, a cached
    state's) are accepted as well as writable ones. ``calls``: names of other module-level
    functions that ``fn`` calls; they are compiled first and rebound in ``fn``'s module, so
    that ``fn`` calls the compiled ones (:func:`fma`: LLVM's)."""
    compiled = None

    def load():
        nonlocal compiled
        if compiled is None:
            missed = False
            with _LOCK, _signals_held(), collector_paused():
                if compiled is None:
                    from numba import njit
                    from numba.core.sigutils import normalize_signature

                    _runtime_only_refresh()

                    env = fn.__globals__
                    for name in calls:
                        if env[name] is fma or env[name] is _FMA:
                            env[name] = _fma_intrinsic()
                        elif not hasattr(env[name], "py_func"):
                            env[name] = njit(**OPTIONS)(env[name])
                    args, result = normalize_signature(signature)
                    args = tuple(a.copy(readonly=True) if i in reads else a for i, a in enumerate(args))
                    compiled = njit(result(*args), **OPTIONS)(fn)
                    missed = _cache_missed(compiled)
            if missed:
                gc.collect()  # a compilation's ~10⁵ objects of cyclic garbage (not a cached load's)
        return compiled

    def run(*args):
        return (compiled or load())(*args)

    run.__doc__ = fn.__doc__
    run.__name__ = fn.__name__
    run.load = load
    _KERNELS.append(run)
    return run


def _cache_missed(dispatcher) -> bool:
    """Whether numba compiled ``dispatcher``'s signature instead of loading it from its cache:
    a compilation leaves ~170,000 objects of cyclic garbage (25 MB on `simulate`), collected
    at once even where the collector is paused (:func:`collector_paused`, ``cli.one_run``)."""
    stats = getattr(dispatcher, "stats", None)
    return bool(stats is not None and sum(stats.cache_misses.values()))


def load_all() -> None:
    """Compile (or load from the cache) every kernel of the modules imported so far, e.g.
    once in a process before it forks workers, so that they do not each load them."""
    for run in list(_KERNELS):
        run.load()
