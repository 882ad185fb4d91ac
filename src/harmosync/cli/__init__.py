"""The ``harmosync`` command: a thin layer over the package. Exit status: 0 success,
2 usage or input error (one line on stderr), 1 internal error."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import threading
import warnings

import click

from .. import __version__
from ..errors import HarmosyncError, NumericalError

def _no_huge_pages() -> None:
    """numpy asks the kernel for transparent huge pages on every large array; where the kernel
    compacts memory for them synchronously (defrag = madvise), that stalls: 2 s of system time
    in `figure all` on the project's machine (docs/benchmarks.md). The command turns it off, for
    itself and the workers it spawns, unless NUMPY_MADVISE_HUGEPAGE is set."""
    if "NUMPY_MADVISE_HUGEPAGE" in os.environ:
        return
    os.environ["NUMPY_MADVISE_HUGEPAGE"] = "0"
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # another numpy layout: the default stays
        return
    _set_madvise_hugepage(False)


EPILOG_BUG = "this is a bug in harmosync; please report it with the command and config you ran"


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a batch system's time limit), raised where the command is, so that it
    unwinds like Ctrl-C: exit status 143 instead of 130."""


def _raise_terminated(signum, frame):
    raise Terminated()


@contextlib.contextmanager
def sigterm_unwinds():
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread, so that the
    block's cleanup (temporary files, worker processes) runs; the previous handler is restored
    after. Outside the main thread (where Python cannot set handlers) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def handle_errors(fn):
    """Turn HarmosyncError into a one-line message and exit 2; anything unexpected, and a
    NumericalError (a computed result failed its check: harmosync's fault, not the input's),
    into exit 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            with warnings.catch_warnings():
                warnings.showwarning = show_warning
                return fn(*args, **kwargs)
        except NumericalError as e:
            hint = "" if "report this" in str(e) else f" ({EPILOG_BUG})"
            click.echo(f"harmosync: internal error: {e}{hint}", err=True)
            sys.exit(1)
        except HarmosyncError as e:
            click.echo(f"harmosync: error: {e}", err=True)
            sys.exit(2)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except MemoryError as e:
            click.echo(f"harmosync: error: out of memory ({e}); nothing was written; shorten the run, use a coarser "
                       "time step or fewer probes (sweeps: keep summaries instead of series)", err=True)
            sys.exit(2)
        except KeyboardInterrupt as e:
            how = "terminated" if isinstance(e, Terminated) else "interrupted"
            click.echo(f"harmosync: {how}; no partial output was written", err=True)
            sys.exit(143 if isinstance(e, Terminated) else 130)
        except Exception as e:  # noqa: BLE001
            click.echo(f"harmosync: internal error: {type(e).__name__}: {e} ({EPILOG_BUG})", err=True)
            sys.exit(1)

    return wrapper


def one_run(fn):
    """For a command that computes one result and exits (``simulate``, ``analyze``,
    ``kernels``): Python's cyclic garbage collector paused while it runs. Its collections
    would scan the ~3·10⁵ long-lived objects of numpy, scipy, pydantic and numba again and
    again (CPU: `simulate examples/fig4.toml` −0.02 s, `analyze --check` −0.05 s, `kernels`
    −0.1 s), while a run leaves ~1,400 objects of cyclic garbage, whatever the config (mostly
    its imports'). Never for a command that forks workers (their heap would inherit the
    setting) or runs many points."""
    from ..jit import collector_paused

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with collector_paused():
            return fn(*args, **kwargs)

    return wrapper


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """A count with its noun in the right number: ``1 probe``, ``3 probes``, ``0 sites``."""
    return f"{n} {noun if n == 1 else nouns or noun + 's'}"


def show_warning(message, category, filename, lineno, file=None, line=None):
    """A Python warning (e.g. simulation.PrecisionWarning) as one line on stderr."""
    click.echo(f"harmosync: warning: {message}", err=True)


# name -> module (in harmosync.cli) defining a click command of the same name. Loaded lazily so
# that `harmosync --help` stays fast and each command's imports stay its own.
COMMANDS = {
    "simulate": "simulate",
    "analyze": "analyze",
    "kernels": "analyze",
    "figure": "figure",
    "sweep": "sweep",
    "plot": "plot",
}


class LazyGroup(click.Group):
    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """Click's main, with every usage error reduced to one line on stderr (exit 2), and a
        Ctrl-C while the command's modules still import ending as one line too (exit 130)."""
        try:
            _no_huge_pages()
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except KeyboardInterrupt:
            click.echo("harmosync: interrupted", err=True)
            sys.exit(130)
        except click.UsageError as e:
            if type(e).__name__ == "NoArgsIsHelpError" and e.ctx is not None:  # bare `harmosync`
                click.echo(e.ctx.get_help())
                sys.exit(0)
            where = e.ctx.command_path if e.ctx is not None else "harmosync"
            click.echo(f"harmosync: usage error: {e.format_message()} (see '{where} --help')", err=True)
            sys.exit(2)
        except click.ClickException as e:
            click.echo(f"harmosync: error: {e.format_message()}", err=True)
            sys.exit(e.exit_code)
        except click.Abort:
            click.echo("harmosync: aborted", err=True)
            sys.exit(130)
        if standalone_mode:
            sys.exit(rv if isinstance(rv, int) else 0)
        return rv

    def list_commands(self, ctx):
        import importlib.util

        return [n for n, m in COMMANDS.items() if importlib.util.find_spec(f"{__name__}.{m}") is not None]

    def get_command(self, ctx, name):
        if name not in self.list_commands(ctx):
            return None
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{COMMANDS[name]}"), name)


@functools.cache
def fast_exit() -> None:
    """At interpreter exit, skip the last full garbage collection of a heap the process frees
    wholesale anyway (numba, xarray, matplotlib loaded: 0.26 s of `simulate examples/fig4.toml`,
    ≈ 0.45 s of `figure all`). Every file is closed and renamed before; atexit handlers still
    run. Registered once per process."""
    import atexit
    import gc

    atexit.register(gc.freeze)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="harmosync")
def main():
    """Exact Gaussian dynamics and synchronization of quantum harmonic networks.

    \b
    Example:
      harmosync simulate examples/fig1.toml -o fig1.nc --plot fig1.png
    """
    # the commands only write image files: a non-interactive backend unless the user set one
    os.environ.setdefault("MPLBACKEND", "Agg")
    fast_exit()
