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
# # Getting started: one run, its measures, its plot
#
# This tutorial reproduces the paper's Fig. 1 run from Python: two probes of frequencies
# ω1 = 1 and ω2 = 1.1, coupled to each other (λ = 0.5) and both plugged into site 1 of a
# 300-site chain (Ω0 = 0.4, g = 1.2, fixed ends) with K = 0.2, start displaced
# (x1(0) = 0.14, x2(0) = 1.4) while the chain is in its ground state. Units are harmosync's:
# ħ = 1, k_B = 1, unit masses, frequencies in [ω] (here ω1 = 1), times in 1/[ω].
#
# The same run from the command line is `harmosync simulate examples/fig1.toml -o fig1.nc`.
# Here we take the config route, which is what that command does, and then the hand-built
# route through `harmosync.solve`.

# %%
# %matplotlib inline
import tomllib

import matplotlib.pyplot as plt
import numpy as np

import harmosync as hs
from harmosync import config, io, measures, simulation

# %% [markdown]
# ## The config route
#
# A run is described by a config (the TOML of `examples/fig1.toml`, here inline).
# `config.parse` validates it into a frozen `RunConfig`; `config.load(path)` does the same
# from a file. Unknown keys and unstable networks are refused with a one-line message.

# %%
FIG1 = """
[chain]
sites = 300
omega0 = 0.4
g = 1.2
temperature = 0.0          # k_B = 1: a temperature is an energy in [ω]; 0 is the ground state

[probes]
frequencies = [1.0, 1.1]
coupling = 0.5
sites = [1, 1]
strengths = [0.2, 0.2]

[initial]
x = [0.14, 1.4]

[time]
stop = 1500.0
step = 0.05

[sync]
window = 20.0              # Δt of Eq. (3)
"""
cfg = config.parse(tomllib.loads(FIG1))
result = simulation.simulate(cfg)          # exact moments and every observable, as arrays
ds = io.to_dataset(result)                 # the public NetCDF layout, as an xarray.Dataset
print(dict(ds.sizes))
print(list(ds.data_vars))

# %% [markdown]
# Every variable carries its units and long name, and the file's attributes carry the whole
# config and the conventions. `io.write(result, "fig1.nc")` writes the same Dataset as a
# NetCDF file (atomically); `io.read` or `xarray.open_dataset` reads it back.

# %%
for name in ["x", "sync", "mutual_information", "log_negativity", "discord"]:
    print(f"{name:20s} units = {ds[name].attrs.get('units', '')!r:10s} {ds[name].attrs.get('long_name', '')}")
print("error bound of the exact solution:", ds.attrs["result.error_bound"])

# %% [markdown]
# ## Its measures
#
# The synchronization factor C(t, Δt) of Eq. (3) is the Pearson correlation of ⟨x1⟩ and ⟨x2⟩
# over a window Δt. In Fig. 1 the probes anti-synchronize (C → −1) well before the chain's
# revival time τ_R, when the wave sent into the chain comes back from its far end.

# %%
tau_r = ds.attrs["result.times.tau_revival"]
early = ds.sync.sel(time=slice(150, 600))
print(f"τ_R = {tau_r:.0f}; mean C over t in [150, 600] = {float(early.mean()):.4f}")
assert float(early.mean()) < -0.99   # anti-synchronized, as in the paper

# %% [markdown]
# ## Its plot
#
# C over the whole run, with τ_R marked; then a close-up of 40 time units inside the
# anti-synchronized stretch: the two means in anti-phase, and the mutual information and
# logarithmic negativity, which oscillate at the probes' frequencies.

# %%
zoom = dict(time=slice(400, 440))
fig, axes = plt.subplots(3, 1, figsize=(8, 7.5), constrained_layout=True)
axes[0].plot(ds.time, ds.sync, color="k", lw=0.8)
axes[0].axvline(tau_r, color="tab:red", ls=":", lw=1)
axes[0].annotate(r"$\tau_R$", (tau_r, 0.6), xytext=(6, 0), textcoords="offset points", color="tab:red")
axes[0].set(ylim=(-1.05, 1.05), xlabel="t  [1/ω]", ylabel=r"$C(t, \Delta t = 20)$",
            title="Fig. 1: synchronization factor of ⟨x1⟩ and ⟨x2⟩")
for i in ds.probe.values:
    axes[1].plot(ds.time.sel(**zoom), ds.x.sel(probe=i, **zoom), lw=1, label=f"⟨x{i}⟩")
axes[1].set(xlabel="t  [1/ω]", ylabel="⟨x⟩  [ω^(-1/2)]", title="the means, in anti-phase")
axes[2].plot(ds.time.sel(**zoom), ds.log_negativity.sel(**zoom), lw=1, label="log negativity $E_N$")
axes[2].plot(ds.time.sel(**zoom), ds.mutual_information.sel(**zoom), lw=1.5, label="mutual information $I$")
axes[2].set(xlabel="t  [1/ω]", ylabel="[nats]", title="quantum correlations of the two probes")
for ax in axes[1:]:
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)

# %% [markdown]
# ## The same run by hand: `harmosync.solve`
#
# The config is a convenience: the core is a network, an initial state and `solve`, which
# returns an `Evolution`. `moments(t)` gives the observed oscillators' means and covariance at
# any times (by default the probes: 0-based oscillators 0 and 1), `means(t)` the means alone.

# %%
net = hs.couple(hs.chain(300, omega0=0.4, g=1.2),
                hs.probes([1.0, 1.1], coupling=0.5, sites=[1, 1], strengths=[0.2, 0.2]))
state = hs.InitialState(hs.product(hs.coherent(1.0, x=0.14), hs.coherent(1.1, x=1.4)))
evo = hs.solve(net, state)
t = np.arange(0, 1500.0001, 0.05)
m = evo.moments(t)                        # m.mean (T, 4), m.cov (T, 4, 4): x1, p1, x2, p2
C = measures.sync_factor(m.mean[:, 0], m.mean[:, 2], step=0.05, window=20.0)
EN = measures.log_negativity(m.cov, [0], [1])
np.testing.assert_allclose(C, ds.sync.values, atol=1e-10, equal_nan=True)   # the same run
print("max E_N =", EN.max(), "nats; the config route and the hand-built one agree")
