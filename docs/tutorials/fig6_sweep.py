# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Fig. 6 as a sweep, read with xarray
#
# The paper's Fig. 6 maps C(t) of the two probes against the site m where probe 2 is plugged
# in (probe 1 stays on site 1). It is a parameter sweep: one run per m.
# `examples/fig6_sweep.toml` is the full figure (300 sites, t ≤ 1500, 300 runs):
#
# ```bash
# harmosync sweep examples/fig6_sweep.toml -o fig6.zarr
# harmosync plot fig6.zarr sync --x m --y time -o fig6.png
# ```
#
# Here we run a reduced version from Python that takes a few seconds: the same 300-site chain
# but every fifth plugging site (60 runs) and t ≤ 800, with the caption's parameters
# (ω2/ω1 = 1.1, λ = 0.5, K = 0.06, Ω0 = 0.4, g = 1.2) and Fig. 1's initial state. Units: ħ = 1, k_B = 1, unit masses, times in 1/[ω].

# %%
# %matplotlib inline
import shutil
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from harmosync.plot.maps import plot_variable
from harmosync.sweep import open_sweep, point_config, run_sweep

base = {  # a simulate config, as in the TOML
    "chain": {"sites": 300, "omega0": 0.4, "g": 1.2},
    "probes": {"frequencies": [1.0, 1.1], "coupling": 0.5, "sites": [1, 1],
               "strengths": [0.06, 0.06]},
    "initial": {"x": [0.14, 1.4]},
    "time": {"stop": 800.0, "step": 0.05},
    "sync": {"window": 20.0},
}
axes = {"probes.sites[2]": {"start": 1, "stop": 296, "step": 5, "name": "m"}}   # m = 1, 6, ..., 296
keep = {"series": ["sync"],                      # C(t) at every time
        "summaries": ["sync"],                   # and its mean/min/max over two intervals
        "windows": [[0, 300], [300, 780]]}

# %% [markdown]
# `run_sweep` writes a Zarr store as points finish; running the same call again on an existing
# store computes only the missing points (a sweep stopped at any moment resumes). `executor=
# "serial"` computes in this process; the default is a local process pool, and a
# `dask.distributed.Client` runs it on a cluster (see the sweeps page).

# %%
workdir = Path(tempfile.mkdtemp())
store = workdir / "fig6_small.zarr"
run_sweep(base, axes, keep=keep, store=store, executor="serial", progress=False)
_ = run_sweep(base, axes, keep=keep, store=store, executor="serial", progress=False)  # resumes: nothing left

# %% [markdown]
# ## Reading it with xarray
#
# `open_sweep` returns the gridded `xarray.Dataset`: one dimension per axis (here `m`, with the
# site numbers as coordinates and the config path and units as attributes), then `time` and
# `interval` for the summaries. `status` is 1 for every computed point.

# %%
ds = open_sweep(store)
print(dict(ds.sizes))
for name, var in ds.data_vars.items():
    print(f"{name:10s} {var.dims}")
assert (ds.status == 1).all()

# %% [markdown]
# Plain xarray selections then give the physics. C is NaN over the last Δt = 20 of the run:
# its forward window (Eq. 3) would pass the end of the data. The summaries ignore those NaN.

# %%
print("m coordinate:", dict(ds.m.attrs))
print("C is NaN for t >", float(ds.time.where(ds.sync.sel(m=151).notnull(), drop=True).max()))
late = ds.sync_mean.sel(interval=1)             # mean C over t in [300, 780], per m
m_anti, m_sync = int(late.idxmin("m")), int(late.idxmax("m"))
print(f"most anti-synchronized at m = {m_anti} (mean C = {float(late.min()):.2f}), "
      f"most synchronized at m = {m_sync} (mean C = {float(late.max()):.2f})")

# %% [markdown]
# The map (`harmosync.plot.maps.plot_variable`, the function behind `harmosync plot`) and two
# lines of it: C(t) at those two plugging sites. Below the light cone (small t, large m) the
# probes have not yet felt each other through the chain and C stays near 0; the grey band at the
# top is where C is undefined (the window passes the end of the run).

# %%
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 4))
plot_variable(ds, "sync", x="m", y="time", ax=ax0)
for m in (m_anti, m_sync):
    ds.sync.sel(m=m).plot(ax=ax1, lw=0.8, label=f"m = {m}")
ax1.set_xlabel("t  [1/ω]")
ax1.set_ylabel("C(t, Δt = 20)")
ax1.set_title("")
ax1.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
fig.tight_layout()

# %% [markdown]
# Every point records its full parameters: `point_config` rebuilds the config of one point,
# ready for `harmosync.simulation.simulate`.

# %%
cfg = point_config(ds, m=6)
print(cfg.probes.sites)

# %%
shutil.rmtree(workdir)   # the store was only for this tutorial
