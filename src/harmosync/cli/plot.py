"""``harmosync plot OUT.zarr VAR -o OUT.png``: maps and line plots of sweep results;
``harmosync plot RUN.nc sync_matrix --at 100,500 -o OUT.png``: a run's pairwise matrices at
chosen times."""

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
@click.option("--at", "at", metavar="T1,T2,...",
              help="Times [1/ω] at which to draw a (time, probe, probe) matrix of a simulate file, "
                   "e.g. --at 100,500 (nearest stored time).")
@click.option("--title", help="Figure title.")
@click.option("--overwrite", is_flag=True, help="Replace an existing image.")
@handle_errors
def plot(store, var, output, x, y, sel, at, title, overwrite):
    """Plot VAR of a sweep (a Zarr store or its NetCDF export) over one or two sweep axes, or a
    (time, probe, probe) matrix VAR of a simulate file at the times --at.

    \b
    Two free dimensions give a colour map (C in [-1, 1] on a diverging map centred on 0),
    one gives a line plot. Examples:
      harmosync plot fig6.zarr sync -o fig6.png                     # C(t) vs site and time
      harmosync plot phase.zarr sync_mean --x K --y w2 -o phase.png  # phase diagram
      harmosync plot phase.zarr sync_mean --x K --sel w2=1.1 -o cut.png
      harmosync plot run.nc sync_matrix --at 100,500 -o clusters.png  # C of every pair
    """
    from .. import io
    from ..errors import HarmosyncError
    from ..sweep import open_sweep

    io.check_suffix(output, io.IMAGE_SUFFIXES, "output")
    io.check_not_input(store, output)
    io.check_output_path(output, overwrite=overwrite)
    if at is not None:
        if x or y or sel:
            raise HarmosyncError("--at draws a matrix at chosen times; it takes no --x, --y or --sel")
        from ..plot import matrix

        matrix.save(_read_run(store), var, _times(at), output, overwrite=overwrite, title=title)
        click.echo(f"wrote {output}")
        return
    selection = {}
    for s in sel:
        if "=" not in s:
            raise HarmosyncError(f"--sel {s!r} must look like DIM=VALUE")
        k, v = s.split("=", 1)
        selection[k.strip()] = v.strip()
    try:
        ds = open_sweep(store, load=False)
    except HarmosyncError:
        if _is_run(store):
            raise HarmosyncError(f"{store!r} is a simulate file, not a sweep: draw its (time, probe, probe) "
                                 "matrices with --at T1,T2 (e.g. sync_matrix --at 100,500)") from None
        raise
    from ..plot.maps import save

    save(ds, var, output, x=x, y=y, sel=selection, overwrite=overwrite, title=title)
    click.echo(f"wrote {output}")


def _times(text: str) -> list[float]:
    from ..errors import HarmosyncError

    try:
        times = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise HarmosyncError(f"--at {text!r}: give times separated by commas, e.g. --at 100,500") from None
    if not times:
        raise HarmosyncError("--at: give at least one time, e.g. --at 100,500")
    return times


def _is_run(path) -> bool:
    from pathlib import Path

    import h5py

    try:
        with h5py.File(Path(path), "r") as f:
            title = f.attrs.get("title", b"")
    except Exception:  # noqa: BLE001 - not an HDF5/NetCDF-4 file: not a run either
        return False
    return (title.decode() if isinstance(title, bytes) else str(title)) == "harmosync simulate"


def _read_run(path):
    """A simulate file, refused in one line if it is not one."""
    from .. import io
    from ..errors import HarmosyncError

    if not _is_run(path):
        raise HarmosyncError(f"--at reads a simulate NetCDF file (harmosync simulate -o RUN.nc); {str(path)!r} "
                             "is not one")
    return io.read(path)
