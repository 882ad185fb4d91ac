"""``harmosync plot OUT.zarr VAR -o OUT.png``: maps and line plots of sweep results."""

from __future__ import annotations

import click

from . import handle_errors


@click.command()
@click.argument("store", type=click.Path())
@click.argument("var")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Image to write (PNG, PDF, SVG).")
@click.option("--x", "x", metavar="AXIS", help="Horizontal axis: a sweep axis (name or config path) or time.")
@click.option("--y", "y", metavar="AXIS", help="Vertical axis of a map: a sweep axis or time.")
@click.option("--sel", "sel", multiple=True, metavar="DIM=VALUE",
              help="Fix a dimension (nearest value within its range), e.g. --sel window=1 --sel chain_g=1.2. Repeatable.")
@click.option("--title", help="Figure title.")
@click.option("--overwrite", is_flag=True, help="Replace an existing image.")
@handle_errors
def plot(store, var, output, x, y, sel, title, overwrite):
    """Plot VAR of a sweep (a Zarr store or its NetCDF export) over one or two sweep axes.

    \b
    Two free dimensions give a colour map (C in [-1, 1] on a diverging map centred on 0),
    one gives a line plot. Examples:
      harmosync plot fig6.zarr sync -o fig6.png                     # C(t) vs site and time
      harmosync plot phase.zarr sync_mean --x K --y w2 -o phase.png  # phase diagram
      harmosync plot phase.zarr sync_mean --x K --sel w2=1.1 -o cut.png
    """
    from .. import io
    from ..errors import HarmosyncError
    from ..sweep import open_sweep

    io.check_suffix(output, io.IMAGE_SUFFIXES, "output")
    io.check_not_input(store, output)
    io.check_output_path(output, overwrite=overwrite)
    selection = {}
    for s in sel:
        if "=" not in s:
            raise HarmosyncError(f"--sel {s!r} must look like DIM=VALUE")
        k, v = s.split("=", 1)
        selection[k.strip()] = v.strip()
    ds = open_sweep(store, load=False)
    from ..plot.maps import save

    save(ds, var, output, x=x, y=y, sel=selection, overwrite=overwrite, title=title)
    click.echo(f"wrote {output}")
