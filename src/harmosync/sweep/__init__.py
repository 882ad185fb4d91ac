"""Parameter sweeps: Cartesian grids over any config value, run on an executor, stored in Zarr.

A sweep is a ``simulate`` config (the *base*) plus axes — paths into the config with the
values they take — and a *keep* spec saying what to store per point: full time series and/or
summaries (mean/min/max over time intervals, onset time of synchronization). See docs/sweeps.md.

Modules, top to bottom:

* :mod:`.spec`: the path grammar (``"probes.sites[2]"``, numbers from 1, ``[*]`` = every entry),
  axes, the validated grid and its canonical hash;
* :mod:`.keep`: the ``[keep]`` table and the output variables it produces;
* :mod:`.point`: one point → arrays, computing only what the keep spec needs;
* :mod:`.store`: the layout of the results, the Zarr store, the gridded Dataset;
* :mod:`.executors`: process pool, serial and dask executors, the one runner loop;
* :mod:`.run`: tasks, chunk sizing, shards and :func:`run_sweep`.

Times are in 1/[ω], as everywhere in harmosync (ħ = 1, unit masses). Importing this package
does not import xarray, zarr, dask or matplotlib (workers import it).
"""

from .executors import SerialExecutor as SerialExecutor
from .executors import WorkersLost as WorkersLost
from .executors import default_workers as default_workers
from .executors import process_pool as process_pool
from .keep import SERIES as SERIES
from .keep import STATS as STATS
from .keep import Keep as Keep
from .keep import parse_keep as parse_keep
from .point import compute_series as compute_series
from .point import evaluate as evaluate
from .point import evaluate_many as evaluate_many
from .point import prepare as prepare
from .point import onset_time as onset_time
from .point import summarize as summarize
from .run import run_sweep as run_sweep
from .run import run_task as run_task
from .run import run_toml as run_toml
from .spec import AXIS_UNITS as AXIS_UNITS
from .spec import Axis as Axis
from .spec import SweepSpec as SweepSpec
from .spec import axis_units as axis_units
from .spec import axis_values as axis_values
from .spec import build_spec as build_spec
from .spec import load_toml as load_toml
from .spec import parse_path as parse_path
from .spec import path_segments as path_segments
from .spec import safe_name as safe_name
from .spec import set_path as set_path
from .spec import validate as validate
from .store import SWEEP_FORMAT as SWEEP_FORMAT
from .store import export_netcdf as export_netcdf
from .store import open_store as open_store
from .store import open_sweep as open_sweep
from .store import point_config as point_config
from .store import store_layout as store_layout
from .store import to_grid as to_grid
from .store import upgrade as upgrade
