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
# # Building your own network: a graph, defects, three probes, a thermal environment
#
# The paper's chain is one environment among many. This tutorial builds a general harmonic
# network by hand: a 6 × 6 square lattice with two defect sites, three probes plugged in at
# different places, and the lattice in a thermal state. Units are harmosync's: ħ = 1, k_B = 1
# (a temperature is an energy, in the unit [ω] of the frequencies), unit masses, couplings that
# multiply products of positions (A_jk, K, λ) in [ω]², times in 1/[ω].
#
# The environment is H_E = Σ_j (P_j² + Ω_j² X_j²)/2 + Σ_{j<k} (A_jk/2)(X_j − X_k)²: each bond
# counted once (the [conventions](../conventions.html) page says how this differs from the
# paper's double sum).

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np

import harmosync as hs
from harmosync import analysis, measures

# %% [markdown]
# ## The graph and its defects
#
# `hs.graph(couplings, onsite_frequencies)` takes the symmetric coupling matrix A (zero
# diagonal) and one on-site frequency Ω_j per site (or one for all). Sites are numbered from 1
# in everything a user writes (probe sites, configs); `j = row * L + col + 1` here.

# %%
L = 6
M = L * L
A = np.zeros((M, M))
for r in range(L):
    for c in range(L):
        j = r * L + c
        if c + 1 < L:
            A[j, j + 1] = A[j + 1, j] = 1.0       # horizontal bond, A = g = 1 [ω²]
        if r + 1 < L:
            A[j, j + L] = A[j + L, j] = 1.0       # vertical bond
omega = np.full(M, 0.5)                           # Ω_j = 0.5 [ω] ...
defects = [15, 22]                                # ... except two stiffer sites (1-based)
omega[np.array(defects) - 1] = 1.5
lattice = hs.graph(A, omega)
print(lattice.kind, lattice.sites, "sites")

# %% [markdown]
# ## Three probes
#
# Three probes of slightly different frequencies, coupled to each other by λ = 0.1 (a scalar
# couples every pair; a 3 × 3 matrix would give each pair its own), plugged into three corners
# of the lattice with K = 0.15. The network is checked for stability when it is built: a K
# large enough to make the potential matrix indefinite is refused with the largest stable
# value.

# %%
probes = hs.probes([1.0, 1.05, 1.1], coupling=0.1, sites=[1, 6, 36], strengths=[0.15, 0.15, 0.15])
net = hs.couple(lattice, probes)
print(net.n_probes, "probes,", net.size, "oscillators")

try:
    hs.couple(lattice, hs.probes([1.0, 1.05, 1.1], coupling=0.1, sites=[1, 6, 36],
                                 strengths=[3.0, 3.0, 3.0]))
except hs.UnstableNetworkError as err:
    print("refused:", err)

# %% [markdown]
# ## A thermal environment
#
# The initial state is a product: the probes in any Gaussian state (here coherent states, one
# of them squeezed), and the environment in the thermal state of H_E alone at temperature T
# (k_B = 1, so T is in [ω]; T = 0 is the ground state, the paper's choice).

# %%
T = 0.5
state = hs.InitialState(
    hs.product(hs.coherent(1.0, x=1.0), hs.coherent(1.05, x=-0.5), hs.squeezed(1.1, r=0.3, x=0.8)),
    environment_temperature=T,
)
evo = hs.solve(net, state)
times = np.arange(0.0, 400.0 + 1e-9, 0.05)
mom = evo.moments(times)            # the three probes: mean (T, 6), cov (T, 6, 6), x1 p1 x2 p2 x3 p3
x = mom.mean[:, 0::2]               # ⟨x_i(t)⟩, (T, 3)
print("error bound of the exact solution:", evo.error_bound)

# %% [markdown]
# ## Measures for every pair
#
# With three probes, the pairwise measures come as matrices: `sync_matrix` gives C_ij(t, Δt) of
# Eq. (3) for every pair, `mutual_information_matrix` I(i:j) in nats. The heat bath leaves
# the probes' second moments warmer than their vacuum (⟨x²⟩ = 1/(2ω) at T = 0).

# %%
C = measures.sync_matrix(x, step=0.05, window=20.0)             # (T, 3, 3)
I = measures.mutual_information_matrix(mom.cov)                  # (T, 3, 3), nats
var_x = mom.cov[:, 0::2, 0::2].diagonal(axis1=1, axis2=2)        # ⟨Δx_i²⟩(t)
print("final ⟨Δx_i²⟩:", var_x[-1].round(3), " vacuum 1/(2ω):", (0.5 / np.array([1.0, 1.05, 1.1])).round(3))

fig, axes = plt.subplots(3, 1, figsize=(9, 7), sharex=True, constrained_layout=True)
for i in range(3):
    axes[0].plot(times, x[:, i], lw=0.6, label=f"⟨x{i + 1}⟩")
axes[0].set_ylabel("⟨x⟩  [ω^(-1/2)]")
for i, j in [(0, 1), (0, 2), (1, 2)]:
    axes[1].plot(times, C[:, i, j], lw=0.8, label=f"C{i + 1}{j + 1}")
    axes[2].plot(times, I[:, i, j], lw=0.8, label=f"I({i + 1}:{j + 1})")
axes[1].set_ylim(-1.05, 1.05)
axes[1].set_ylabel("C(t, Δt = 20)")
axes[2].set_ylabel("mutual information  [nats]")
axes[2].set_xlabel("t  [1/ω]")
for ax in axes:
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)

# %% [markdown]
# ## What the analysis says
#
# `analysis.report(network)` collects what is known without running the dynamics, here the
# normal modes of the whole network outside the lattice's band (the range of V_E's spectrum):
# they cannot radiate, and keep the probes oscillating forever in proportion to their weight on
# the probes. The Rayleigh prediction is for two probes, and says so for three.

# %%
rep = analysis.report(net, initial_mean=state.probes.mean)
print("prediction:", rep.prediction.verdict.name, "/", rep.prediction.reason.name)
for mode in rep.localized_modes:
    print(f"localized mode at ω = {mode.frequency:.4f} ({mode.side} the band), "
          f"weight on the probes {mode.probe_weight:.3f}")

# %% [markdown]
# ## The same network as a config
#
# Everything above fits a `[graph]` table, so `harmosync simulate` and sweeps can run it:
#
# ```toml
# [graph]
# sites = 36
# edges = [[1, 2, 1.0], [1, 7, 1.0], ...]     # [j, k, A_jk], sites from 1, each bond once
# onsite_frequencies = [0.5, ..., 1.5, ...]   # one per site, or one value for all
# temperature = 0.5                           # k_B = 1: in [ω]
#
# [probes]
# frequencies = [1.0, 1.05, 1.1]
# coupling = 0.1
# sites = [1, 6, 36]
# strengths = [0.15, 0.15, 0.15]
#
# [initial]
# x = [1.0, -0.5, 0.8]
# squeezing = [0.0, 0.0, 0.3]
#
# [sync]
# probes = [1, 3]        # the pair that the pairwise outputs (sync, mutual_information, ...) refer to
# ```

# %%
import tomllib  # noqa: E402

from harmosync import config, simulation  # noqa: E402

edges = [[j + 1, k + 1, float(A[j, k])] for j, k in zip(*np.nonzero(np.triu(A)))]
cfg = config.parse({
    "graph": {"sites": M, "edges": edges, "onsite_frequencies": omega.tolist(), "temperature": T},
    "probes": {"frequencies": [1.0, 1.05, 1.1], "coupling": 0.1, "sites": [1, 6, 36],
               "strengths": [0.15, 0.15, 0.15]},
    "initial": {"x": [1.0, -0.5, 0.8], "squeezing": [0.0, 0.0, 0.3]},
    "time": {"stop": 400.0, "step": 0.05},
    "sync": {"window": 20.0, "probes": [1, 3]},
})
run = simulation.simulate(cfg)
np.testing.assert_allclose(run.series["sync"], C[:, 0, 2], atol=1e-9, equal_nan=True)
print("the config route gives the same C13")
