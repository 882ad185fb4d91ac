"""``harmosync simulate CONFIG.toml -o OUT.nc [--plot OUT.png]``."""

from __future__ import annotations

import contextlib
import time

import click

from . import handle_errors, one_run, plural


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="NetCDF file to write.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Also write a quick-look plot (PNG or PDF).")
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
@handle_errors
@one_run
def simulate(config, output, plot_path, overwrite, quiet):
    """Evolve one network exactly and write its moments and measures to NetCDF.

    \b
    Example:
      harmosync simulate examples/fig1.toml -o fig1.nc --plot fig1.png
    """
    from .. import config as cfgmod
    from .. import io
    from ..simulation import simulate as run

    t0 = time.perf_counter()
    io.check_suffix(output, io.NETCDF_SUFFIXES, "output")
    io.check_suffix(plot_path, io.IMAGE_SUFFIXES, "--plot")
    io.check_not_input(config, output, plot_path)
    io.check_output_path(output, overwrite=overwrite)
    if plot_path:
        io.check_output_path(plot_path, overwrite=overwrite)
        io.check_distinct(output, plot_path)
    cfg = cfgmod.load(config)
    result = run(cfg)
    lay = io.layout(result)  # plain arrays: the file is written without importing xarray
    io.check_values(lay.data_vars)
    # both files appear together or not at all
    with contextlib.ExitStack() as stack:
        nc_tmp = stack.enter_context(io.atomic_path(output, overwrite=overwrite))
        io.write_layout(lay, nc_tmp)
        if plot_path:
            from ..plot.quicklook import quicklook

            png_tmp = stack.enter_context(io.atomic_path(plot_path, overwrite=overwrite))
            quicklook(io.to_dataset(result), png_tmp, overwrite=True, fmt=plot_path.rsplit(".", 1)[-1].lower())
    if not quiet:
        click.echo(
            f"wrote {output}: {plural(result.times.size, 'time')} to t = {result.times[-1]:g} [1/ω unit], "
            f"{plural(result.network.n_probes, 'probe')}, {plural(result.network.environment.sites, 'site')} "
            f"({time.perf_counter() - t0:.2f} s)"
        )
