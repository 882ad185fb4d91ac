"""Many networks on one chain: share the work (paper Fig. 6 and sweeps over K or a site).

Networks that differ only in where a probe is plugged, or in its coupling K, share the chain:
its closed-form modes (Eqs. A6, A8), its mode rows at every plugging site, and the pole
representation of the stationary state (:mod:`harmosync.solvers.lowrank`). When they also share
all but the last probe — Fig. 6 moves probe 2 along the chain while probe 1 stays at site 1 —
the normal modes of the chain with the fixed probes are computed once and only the last probe
is added per network (one secular equation, :mod:`harmosync.solvers.arrowhead`).

* :func:`solve_many` — one :class:`~harmosync.dynamics.Solution` per probe configuration;
* :func:`plugging_sweep` — the probe configurations of a plugging-site sweep;
* :func:`sync_map` — means and C(t) for a whole sweep (Fig. 6), as an (S, T) array
  (:func:`harmosync.measures.sync_factor` takes all pairs at once).

Stability: each configuration is checked from its exact lowest normal-mode frequency (the
structured path) instead of :class:`~harmosync.network.Network`'s own check.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import dynamics as dy
from . import measures as ms
from .conventions import thermal_factor
from .errors import HarmosyncError, UnstableNetworkError
from .network import Environment, Probes, chain_modes, couple, probes
from .solvers import blas_threads
from .solvers.arrowhead import arrowhead_modes
from .states import InitialState


def plugging_sweep(probes_: Probes, sites: Sequence[int], *, probe: int = -1) -> list[Probes]:
    """Copies of ``probes_`` with probe ``probe`` (0-based, default the last) plugged at each of
    ``sites`` (1-based) with its first strength K — the configurations of Fig. 6."""
    p = probes_.count
    i = probe % p
    ks = [k for j, _, k in probes_.attachments if j == i]
    if not ks:
        raise HarmosyncError(f"probe {i + 1} is not plugged anywhere; give it a site and a strength first")
    site_lists = [[s for j, s, _ in probes_.attachments if j == q] for q in range(p)]
    k_lists = [[k for j, _, k in probes_.attachments if j == q] for q in range(p)]
    out = []
    for s in sites:
        sl, kl = list(site_lists), list(k_lists)
        sl[i], kl[i] = [int(s)], [ks[0]]
        out.append(probes(probes_.frequencies, probes_.coupling, sl, kl))
    return out


def solve_many(environment: Environment, probe_sets: Sequence[Probes], initial, *,
               tol: float = 1e-12, covariance: bool = True, t_max: float | None = None) -> list:
    """Solutions for ``environment`` with each of ``probe_sets`` (probes observed), sharing the
    environment's work (module docstring). ``initial``: one :class:`InitialState` for all, or
    one per configuration. ``covariance=False``: first moments only (use
    :func:`harmosync.dynamics.means`). ``t_max``: as in :func:`harmosync.dynamics.solve` (the
    light-cone cut is then made per network, without sharing).

    Falls back to :func:`harmosync.dynamics.solve` per network for graph environments and
    chains with periodic ends.
    """
    sets = list(probe_sets)
    inits = [initial] * len(sets) if isinstance(initial, InitialState) else list(initial)
    if len(inits) != len(sets):
        raise HarmosyncError(f"got {len(inits)} initial states for {len(sets)} probe configurations")
    env = environment
    structured = env.homogeneous_chain and env.boundary in ("fixed", "free")
    if not structured or t_max is not None:
        return [dy.solve(couple(env, pr), init, tol=tol, covariance=covariance, t_max=t_max)
                for pr, init in zip(sets, inits)]
    m = env.sites
    om = chain_modes(m, env.omega0, env.g, env.boundary, vectors=False)[0]
    env_d = om**2
    rows: dict[int, np.ndarray] = {}
    bases: dict[bytes, object] = {}
    energies: dict[float, float] = {}
    out = []
    with blas_threads(1):
        for idx, (pr, init) in enumerate(zip(sets, inits)):
            p = pr.count
            if init.probes.modes != p:
                raise HarmosyncError(f"configuration {idx}: the initial state has {init.probes.modes} probe modes "
                                     f"but there are {p} probes")
            for i, s, _ in pr.attachments:
                if not 1 <= s <= m:
                    raise HarmosyncError(f"configuration {idx}: probe {i + 1} is plugged at site {s}, "
                                         f"outside the chain's sites 1..{m}")
            vs = pr.potential()
            env_c = np.zeros((p, m))
            for i, s, k in pr.attachments:
                if s not in rows:
                    rows[s] = dy.chain_mode_rows(m, env.boundary, [s])[0]
                env_c[i] += k * rows[s]
            key = vs[: p - 1, : p - 1].tobytes() + env_c[: p - 1].tobytes()
            base = bases.get(key)
            if base is None and p > 1:
                base = arrowhead_modes(vs[: p - 1, : p - 1], env_d, env_c[: p - 1])
                bases[key] = base
            modes = arrowhead_modes(vs, env_d, env_c, base=base)
            if modes.values[0] <= 0:
                raise UnstableNetworkError(
                    f"configuration {idx} is unstable: the potential matrix has smallest eigenvalue "
                    f"{modes.values[0]:.4g} (it must be positive; there is no counterterm); reduce the strengths K"
                )
            a = modes.rows(probe_rows=np.eye(p))
            keep = np.any(a != 0, axis=0)
            temp = float(init.environment_temperature)
            if temp not in energies:
                energies[temp] = float(np.sum(thermal_factor(om, temp) * om))
            out.append(dy.assemble_solution(
                modes.values[keep], a[:, keep], a[:, keep], tuple(range(p)), vs, env_d, env_c, init,
                environment_energy=energies[temp], tol=tol, covariance=covariance, method="chain"))
    return out


def sync_map(environment: Environment, probes_: Probes, initial: InitialState, sites, times, *,
             window: float = 20.0, probe: int = -1, pair=(0, 1), delay: float = 0.0):
    """The synchronization map of Fig. 6: C_{x_a x_b}(t, Δt) (Eq. 3) of the probes' mean
    positions for probe ``probe`` plugged at each of ``sites`` — an (S, T) array, NaN where the
    window runs past the data. ``pair``: the two probes (0-based). ``times``: a uniform grid
    [1/frequency]; ``window`` Δt and ``delay`` in the same unit."""
    t = dy.check_times(times)
    if t.size < 2:
        raise HarmosyncError("sync_map needs at least two times")
    step = float(t[1] - t[0])
    sols = solve_many(environment, plugging_sweep(probes_, sites, probe=probe), initial, covariance=False)
    a, b = pair
    xa = np.empty((len(sols), t.size))
    xb = np.empty((len(sols), t.size))
    for i, sol in enumerate(sols):
        mean = dy.means(sol, t)
        xa[i], xb[i] = mean[:, 2 * a], mean[:, 2 * b]
    return ms.sync_factor(xa, xb, step, window, delay=delay)
