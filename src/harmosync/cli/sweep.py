"""``harmosync sweep CONFIG.toml -o OUT.zarr``: a parameter sweep (see docs/sweeps.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import Terminated, handle_errors, plural, sigterm_unwinds


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(file_okay=False),
              help="Zarr store (a directory) to write; an existing store of the same sweep is resumed.")
@click.option("-j", "--workers", type=click.IntRange(min=1), help="Local worker processes (default: all CPUs).")
@click.option("--scheduler", metavar="ADDRESS",
              help="Run on a dask.distributed scheduler: tcp://host:8786, or a scheduler file (*.json).")
@click.option("--local-cluster", type=click.IntRange(min=1), metavar="N",
              help="Start a local dask.distributed cluster of N worker processes (dashboard printed).")
@click.option("--shard", metavar="I/N", help="Compute only the I-th of N disjoint parts (1 ≤ I ≤ N), for job arrays.")
@click.option("--batch", type=click.IntRange(min=1), help="Points per task (= Zarr chunk) for a new store; default ≈ 2 s of work.")
@click.option("--export", "export", type=click.Path(dir_okay=False), metavar="OUT.nc",
              help="Also write the gridded result to this NetCDF file (once every point is computed).")
@click.option("--netcdf", is_flag=True, hidden=True,  # kept for old scripts: --export is the documented way
              help="Old spelling of --export with OUT.zarr's name ending in .nc.")
@click.option("--dry-run", is_flag=True, help="Validate the sweep, print its size, compute nothing.")
@click.option("--overwrite", is_flag=True, help="Start the store (and export) afresh instead of resuming.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@handle_errors
def sweep(config, output, workers, scheduler, local_cluster, shard, batch, export, netcdf, dry_run, overwrite,
          no_progress, quiet):
    """Run a Cartesian parameter sweep over any config value; results go to a Zarr store,
    written as points finish. Stopped at any moment, the same command resumes it.

    \b
    The config is a `simulate` config plus
      [sweep]   "probes.sites[2]" = { start = 1, stop = 300 }     # probe numbers from 1
                "chain.g" = { start = 1.0, stop = 1.4, num = 5 }  # or { values = [...] }
      [keep]    series = ["sync"]                                # and/or
                summaries = ["sync", "log_negativity"]           # mean/min/max per interval
                windows = [[0, 600], [600, 1500]]
                onset = ["sync"]                                 # onset time of |C| ≥ 0.9
    Examples:
      harmosync sweep examples/fig6_sweep.toml -o fig6.zarr
      harmosync sweep examples/fig6_sweep.toml -o fig6.zarr --export fig6.nc   # and a NetCDF copy
      harmosync plot fig6.zarr sync -o fig6.png
      harmosync sweep grid.toml -o grid.zarr --local-cluster 4
      harmosync sweep grid.toml -o grid.zarr --shard 3/10     # in job 3 of an array of 10
    """
    from .. import io
    from .. import sweep as sw
    from ..errors import HarmosyncError

    def echo(line: str) -> None:  # warnings and interruptions go to stderr, even with --quiet
        if line.startswith(("warning:", "interrupted:")):
            click.echo(line, err=True)
        elif not quiet:
            click.echo(line)
    if scheduler and local_cluster:
        raise HarmosyncError("give --scheduler or --local-cluster, not both")
    if (scheduler or local_cluster) and workers:
        raise HarmosyncError("--workers sets the local process pool; with dask, size the cluster instead")
    base, axes, keep = sw.load_toml(config)
    if dry_run:
        spec = sw.build_spec(base, axes, keep)
        sw.validate(spec)
        echo(f"{config}: {plural(spec.size, 'point')} = " + " × ".join(f"{a.size} {a.name} ({a.path})" for a in spec.axes)
             + f"; keeps {', '.join(spec.keep.variable_names())}; the points checked are valid"
             + " (every axis value at the corners of the grid; a point can still fail when it runs)")
        return
    if not output:
        raise HarmosyncError("give the output store with -o OUT.zarr")
    if Path(output).suffix.lower() in (".nc", ".nc4", ".h5"):
        raise HarmosyncError(f"-o {output}: the sweep writes a Zarr store (a directory, e.g. OUT.zarr); "
                             "use --export OUT.nc for NetCDF")
    if netcdf and export:
        raise HarmosyncError("give --export OUT.nc or --netcdf, not both (--netcdf is the old spelling of "
                             "--export with the store's name ending in .nc)")
    if netcdf:
        export = str(Path(output).with_suffix(".nc"))
    io.check_not_input(config, output, export)
    if export:
        io.check_output_path(export, overwrite=overwrite)
        io.check_distinct(output, export)
    if not Path(output).exists():
        io.check_output_path(output)  # a new store: its directory must be writable

    client = cluster = None
    try:
        if scheduler or local_cluster:
            client, cluster = _dask_client(scheduler, local_cluster)
        executor = client if client is not None else None
        # SIGTERM (a batch scheduler's time limit, `kill`) stops the run like Ctrl-C: the finished
        # tasks still pending in the store's writer are saved before the exit
        try:
            with sigterm_unwinds():
                ds = sw.run_sweep(base, axes, keep=keep, store=output, executor=executor, workers=workers, batch=batch,
                                  shard=shard, progress=not (no_progress or quiet), overwrite=overwrite, log=echo)
        except KeyboardInterrupt as e:
            sys.exit(143 if isinstance(e, Terminated) else 130)  # run_sweep has said how many points are saved
        except sw.WorkersLost as e:
            click.echo(f"harmosync: error: {e}", err=True)
            sys.exit(1)
        except Exception as e:
            if type(e).__name__ == "KilledWorker":
                click.echo(f"harmosync: error: a task killed its dask worker repeatedly ({e}); the finished points "
                           "are saved, run the same command again to resume", err=True)
                sys.exit(1)
            raise
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    if export:
        missing = int((ds["status"] == 0).sum())
        if missing:
            echo(f"not exported: {plural(missing, 'point')} {'is' if missing == 1 else 'are'} not computed yet "
                 "(other shards?); run again with --export when all are done")
        else:
            sw.export_netcdf(output, export, overwrite=overwrite)
            echo(f"wrote {export}")


def _dask_client(scheduler, n_local):
    """A dask.distributed Client on ``scheduler`` or on a new LocalCluster of ``n_local``
    single-threaded worker processes (dashboard on a free port)."""
    import logging

    from ..errors import HarmosyncError

    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise HarmosyncError("--scheduler/--local-cluster need dask.distributed: pip install 'dask[distributed]'") \
            from None
    if scheduler:
        try:
            if scheduler.endswith(".json"):  # written by `dask scheduler --scheduler-file FILE`
                if not Path(scheduler).is_file():
                    raise HarmosyncError(f"--scheduler {scheduler}: scheduler file does not exist")
                return Client(scheduler_file=scheduler, timeout="20s"), None
            return Client(scheduler, timeout="20s"), None
        except (OSError, TimeoutError, ValueError) as e:
            raise HarmosyncError(f"cannot connect to the dask scheduler at {scheduler!r}: {e}") from None
    cluster = LocalCluster(n_workers=n_local, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=logging.ERROR)
    return Client(cluster), cluster
