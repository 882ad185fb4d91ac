"""Many networks on one chain: share the work (paper Fig. 6, sweeps over K or a plugging site).

Networks that differ only in their probes share the chain: its closed-form modes (Eqs. A6,
A8), its mode rows at every plugging site and ⟨H_E⟩ of its initial state. When they also share
all but the last probe (Fig. 6 moves probe 2 along the chain while probe 1 stays at site 1),
the normal modes of the chain with the fixed probes are computed once and only the last probe
is added per network, the secular equations of all such networks solved together
(:func:`harmosync.solvers.arrowhead.arrowhead_modes_many`; each network's numbers the same in
any batch, so a sweep's results do not depend on how its points are cut into tasks).

Small networks (at most :data:`DENSE_BATCH` oscillators) take the dense path of
:func:`harmosync.dynamics.solve` instead, with all their potential matrices diagonalised in one
stacked ``eigh`` (LAPACK per matrix, whatever the batch): for them one dense
eigendecomposition is cheaper than the secular equations' Python-level iterations. With
covariances each network's result is bitwise that of ``solve``; a means-only batch (summary
sweeps) keeps the a-priori eigenvalue errors 8ε‖V‖ and the eigenvector term's normwise form
(looser bounds, the same moments). A network with soft modes (or whose float eigh cannot tell
its lowest eigenvalue from 0) is solved by ``solve`` itself, which refines them from the
parameters.

The shared chain path carries the chain path's eigenvector term
(:mod:`harmosync.solvers.arrowvectors`) on every network, means-only ones included (until
session 13 those took their eigenvectors as exact, which a solver bug could slip past).

Stability: each configuration is checked from its exact lowest normal-mode frequency (the
structured path) instead of :class:`~harmosync.network.Network`'s own check.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import lightcone as lc
from ..conventions import thermal_factor
from ..errors import HarmosyncError, UnstableNetworkError
from ..network import Network, Probes, chain_mode_rows, chain_modes, probes
from ..solvers import blas_threads
from ..solvers import trigsum as ts
from ..solvers.arrowhead import arrowhead_modes, arrowhead_modes_many, chain_rounding
from ..states import InitialState
from .contract import Evolution, check_times
from ..solvers.lowrank import soft_modes
from .evaluation import evaluate_means, means_nufft_many, means_setup, straight_nufft
from .normal_modes import NormalModeEvolution, assemble, check_size, solve_closed
from .spectrum import (Spectrum, chain_result, dense_mode_bound, dense_mode_errors, normwise_mode_bound,
                       refine_chain_soft)

#: networks with at most this many oscillators are solved by one stacked dense eigh
DENSE_BATCH = 48
#: most networks a thread of :func:`means_many` evaluates together (their points and phases in one pass)
MEANS_GROUP = 16


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


def cores() -> int:
    """The cores this process may run on (its CPU affinity)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def means_many(evolutions: Sequence[Evolution], times, *, columns=None, workers: int | None = None) -> np.ndarray:
    """The means of every evolution on one time grid, (S, T, k): ``columns`` the interleaved
    columns wanted (default all 2n; e.g. (0, 2) for ⟨x1⟩, ⟨x2⟩ — for the closed solver only those
    trig sums are computed). ``workers`` threads (default :func:`cores`) evaluate the
    evolutions side by side, each with one FFT thread (the transforms and numpy's array
    operations release the GIL); the closed evolutions that the NUFFT evaluates go in groups
    (:func:`.evaluation.means_nufft_many`). On a uniform grid every network's numbers are those
    of its own ``means``, bit for bit; on another grid the sums are BLAS products, whose bits
    depend on BLAS's thread count (within its roundoff, ~1e-15: review s16)."""
    evos = list(evolutions)
    t = check_times(times)
    if not evos:
        raise HarmosyncError("means_many needs at least one evolution")
    cols = None if columns is None else list(columns)
    width = 2 * len(evos[0].rows) if cols is None else len(cols)
    if any((2 * len(e.rows) if cols is None else len(cols)) != width for e in evos):
        raise HarmosyncError("means_many: the evolutions observe different numbers of oscillators; "
                             "pass columns, or evaluate them separately")
    low = min(2 * len(e.rows) for e in evos)
    if cols is not None and (not cols or not all(isinstance(c, (int, np.integer)) and not isinstance(c, bool)
                                                 and 0 <= c < low for c in cols)):
        raise HarmosyncError(f"columns must list interleaved mean columns in 0..{low - 1}, got {cols}")
    if workers is not None and not (isinstance(workers, (int, np.integer)) and not isinstance(workers, bool)
                                    and workers >= 1):
        raise HarmosyncError(f"workers must be a whole number ≥ 1, got {workers!r}")
    out = np.empty((len(evos), t.size, width))
    workers = cores() if workers is None else int(workers)

    # the closed evolutions whose means the NUFFT writes straight into ``out`` go in groups
    # (means_nufft_many: their extended-precision points and phases in one pass each); the
    # rest one by one
    singles, straight = [], []
    for i, e in enumerate(evos):
        if isinstance(e, NormalModeEvolution):
            e.cover(t, means_only=True)
            setup = means_setup(e, t, "auto", cols)
            if straight_nufft(setup):
                straight.append((i, setup))
                continue
        singles.append(i)
    per = max(1, min(MEANS_GROUP, -(-len(straight) // max(workers, 1))))
    tasks = [straight[k:k + per] for k in range(0, len(straight), per)] + [[i] for i in singles]

    pooled = workers > 1 and len(tasks) > 1  # (tasks side by side: one FFT thread each)

    def run(task):
        with ts.fft_threads(1) if pooled else contextlib.nullcontext():
            if isinstance(task[0], tuple):
                means_nufft_many([evos[i] for i, _ in task], [s for _, s in task], [out[i] for i, _ in task])
                return
            e = evos[task[0]]
            if isinstance(e, NormalModeEvolution):
                evaluate_means(e, t, engine="auto", columns=cols, out=out[task[0]])
            else:
                m = e.means(t)
                out[task[0]] = m if cols is None else m[:, cols]

    if not pooled:
        for task in tasks:
            run(task)
        return out
    with ThreadPoolExecutor(min(workers, len(tasks))) as ex:
        list(ex.map(run, tasks))
    return out


def _chain_key(network: Network):
    """Networks with equal keys share their environment's work; None: solve on their own."""
    env = network.environment
    if not env.structured:
        return None
    return (env.sites, env.omega0, env.g, env.boundary)


def solve_many(networks: Sequence[Network], initials, *, covariance: bool = True,
               t_max: float | None = None, tol: float = 1e-12) -> list[Evolution]:
    """One :class:`~harmosync.dynamics.Evolution` per network (probes observed), sharing the
    chain's work between networks on the same homogeneous fixed- or free-end chain (module
    docstring). ``initials``: one :class:`InitialState` for all, or one per network.
    ``t_max``: as in :func:`harmosync.dynamics.solve`; a network whose chain the light cone
    cuts is solved on its own (the cut is per network). Other environments (graphs, periodic
    chains): :func:`harmosync.dynamics.solve` per network.
    """
    nets = list(networks)
    inits = [initials] * len(nets) if isinstance(initials, InitialState) else list(initials)
    if len(inits) != len(nets):
        raise HarmosyncError(f"got {len(inits)} initial states for {len(nets)} networks")
    out: list[Evolution | None] = [None] * len(nets)
    shared: dict[tuple, list[int]] = {}
    for idx, (net, init) in enumerate(zip(nets, inits)):
        key = _chain_key(net)
        cut = None
        if key is not None and t_max is not None:
            cut = lc.window(net, float(t_max), probe_cov=init.probes.cov,
                            temperature=float(init.environment_temperature), mean=init.probes.mean)
        if key is None or cut is not None:
            out[idx] = solve_closed(net, init, tol=tol, covariance=covariance, t_max=t_max)
        else:  # the shared path has solve's limits too
            check_size(net.size, "chain", cuttable=t_max is None and net.environment.boundary == "fixed")
            shared.setdefault(key, []).append(idx)
    for idxs in shared.values():
        env = nets[idxs[0]].environment
        if env.sites + max(nets[i].n_probes for i in idxs) <= DENSE_BATCH:
            sols = _solve_dense_batch([nets[i] for i in idxs], [inits[i] for i in idxs], tol=tol,
                                      covariance=covariance, t_max=t_max)
            for i, sol in zip(idxs, sols):
                out[i] = sol
            continue
        sols = _solve_on_chain(env, [nets[i] for i in idxs], [inits[i] for i in idxs],
                               tol=tol, covariance=covariance, labels=idxs, t_max=t_max)
        for i, sol in zip(idxs, sols):
            out[i] = sol
    return out


def _chain_couplings(env, probe_sets, inits, labels) -> tuple[list, list]:
    """V_S (P × P) and env_c = B·W_E (P × M) of each probe configuration on the chain ``env``,
    after checking it against its initial state and the chain's sites."""
    m = env.sites
    rows: dict[int, np.ndarray] = {}
    vs_all, env_c_all = [], []
    for idx, pr, init in zip(labels, probe_sets, inits):
        p = pr.count
        if init.probes.modes != p:
            raise HarmosyncError(f"network {idx}: the initial state has {init.probes.modes} probe modes "
                                 f"but there are {p} probes")
        for i, s, _ in pr.attachments:
            if not 1 <= s <= m:
                raise HarmosyncError(f"network {idx}: probe {i + 1} is plugged at site {s}, "
                                     f"outside the chain's sites 1..{m}")
        env_c = np.zeros((p, m))
        for i, s, k in pr.attachments:
            if s not in rows:
                rows[s] = chain_mode_rows(m, env.boundary, [s])[0]
            env_c[i] += k * rows[s]
        vs_all.append(pr.potential())
        env_c_all.append(env_c)
    return vs_all, env_c_all


def _solve_on_chain(env, networks, inits, *, tol, covariance, labels, t_max) -> list[Evolution]:
    """The shared path: one homogeneous fixed/free chain, many probe configurations
    (``networks`` on ``env``). Networks that share all probes but the last share those probes'
    modes (the base) and have the last probe's secular equations solved together
    (:func:`arrowhead_modes_many`, a network's numbers the same alone or in any batch); a
    network with soft modes has them recomputed from its parameters (:func:`refine_chain_soft`)."""
    probe_sets = [net.probes for net in networks]
    m = env.sites
    om = chain_modes(m, env.omega0, env.g, env.boundary, vectors=False)[0]
    env_d = om**2
    vs_all, env_c_all = _chain_couplings(env, probe_sets, inits, labels)
    groups: dict[bytes, list[int]] = {}  # networks that share all probes but the last
    for n, (vs, env_c) in enumerate(zip(vs_all, env_c_all)):
        p = vs.shape[0]
        key = np.int64(p).tobytes() + vs[: p - 1, : p - 1].tobytes() + env_c[: p - 1].tobytes()
        groups.setdefault(key, []).append(n)
    modes: list = [None] * len(labels)
    pre: dict[bytes, np.ndarray] = {}  # the probes' rows of U in the base's eigenbasis
    with blas_threads(1):
        for key, ns in groups.items():
            p = probe_sets[ns[0]].count
            base = None
            if p > 1:
                base = arrowhead_modes(vs_all[ns[0]][: p - 1, : p - 1], env_d, env_c_all[ns[0]][: p - 1])
            pre[key] = (np.zeros((p, m)) if base is None
                        else base.transform(np.eye(p)[:, : p - 1], np.zeros((p, m))))
            many = arrowhead_modes_many([vs_all[n] for n in ns], env_d, [env_c_all[n] for n in ns], base=base)
            for n, md in zip(ns, many):
                modes[n] = (md, key)
        out = []
        energies: dict[float, float] = {}
        for n, (idx, init) in enumerate(zip(labels, inits)):
            md, key = modes[n]
            p = vs_all[n].shape[0]
            if md.values[0] <= 0:
                raise UnstableNetworkError(
                    f"network {idx} is unstable: the potential matrix has smallest eigenvalue "
                    f"{md.values[0]:.4g} (it must be positive; there is no counterterm); reduce the strengths K"
                )
            a = md.transform(np.eye(p), pre[key], start=p - 1)
            temp = float(init.environment_temperature)
            if temp not in energies:
                energies[temp] = float(np.sum(thermal_factor(om, temp) * om))
            rounding = chain_rounding(env_d, env_c_all[n], m, env.omega0, env.g, env.boundary,
                                      probe_sets[n].attachments)
            mu, mu_err, res, soft = md.values, None, None, None
            if soft_modes(mu).size:
                mu, a, _, mu_err, res, soft = refine_chain_soft(networks[n], mu, a, a, tuple(range(p)), env_d,
                                                                env_c_all[n], rounding, columns=md.columns,
                                                                deflation=md.deflation)
            spec = chain_result(mu, a, a, env_d, env_c_all[n], vs_all[n], mu_err, rounding, res, soft,
                                offsets=md.pole_offsets(env_d), columns=md.columns, deflation=md.deflation)
            out.append(assemble(spec, tuple(range(p)), vs_all[n], init, environment_energy=energies[temp],
                                tol=tol, covariance=covariance, method="chain", t_max=t_max))
    return out


def _solve_dense_batch(nets, inits, *, tol, covariance, t_max) -> list[Evolution]:
    """Small networks on one chain: the dense path of ``solve`` (observed rows: the probes),
    with one stacked eigh for all networks of the same size."""
    env = nets[0].environment
    om = chain_modes(env.sites, env.omega0, env.g, env.boundary, vectors=False)[0]
    env_d = om**2
    env_rows: dict[tuple, np.ndarray] = {}
    energies: dict[float, float] = {}
    out: list[Evolution | None] = [None] * len(nets)
    by_size: dict[int, list[int]] = {}
    for k, net in enumerate(nets):
        if inits[k].probes.modes != net.n_probes:
            raise HarmosyncError(f"network {k}: the initial state has {inits[k].probes.modes} probe modes "
                                 f"but there are {net.n_probes} probes")
        by_size.setdefault(net.n_probes, []).append(k)
    v_env = env.potential()  # shared; V = [[V_S, B], [Bᵀ, V_E]] as Network.potential lays it out
    with blas_threads(1):
        for p, idx in by_size.items():
            v = np.empty((len(idx), p + env.sites, p + env.sites))
            v[:, p:, p:] = v_env
            for j, k in enumerate(idx):
                b = nets[k].coupling_block()
                v[j, :p, :p] = nets[k].probes.potential()
                v[j, :p, p:] = b
                v[j, p:, :p] = b.T
            lam, u = np.linalg.eigh(v)
            normwise = None
            if not covariance:  # means only: the eigenvector term's normwise form
                # |δV| a priori: each entry of V a sum of ≤ N + 4 terms of the parameters (Ω², bonds,
                # K, λ), rounded: ≤ γ_(N+4)·Σ|terms|, so |δV|'s row sums ≤ 2γ_(N+4) |V|'s
                dv_rows = 2.02 * (v.shape[-1] + 4) * np.finfo(float).eps * np.abs(v).sum(axis=-1)
                normwise = normwise_mode_bound(v, np.sqrt(np.maximum(lam, 0.0)) ** 2, u, dv_rows)
            for j, k in enumerate(idx):
                net, init = nets[k], inits[k]
                if lam[j, 0] <= 0 or soft_modes(lam[j]).size:
                    # soft modes (or a float eigh that cannot tell): solve's own path, which refines
                    # them from the parameters and refuses what it cannot resolve (review s8b)
                    out[k] = solve_closed(net, init, tol=tol, covariance=covariance, t_max=t_max)
                    continue
                w = np.sqrt(lam[j])
                # B·W_E as solve's dense path forms it (the same product: bitwise the same)
                sites = sorted({s for _, s, _ in net.probes.attachments})
                b = np.zeros((p, len(sites)))
                for i, s, kk in net.probes.attachments:
                    b[i, sites.index(s)] += kk
                key = tuple(sites)
                if key not in env_rows:
                    env_rows[key] = chain_mode_rows(env.sites, env.boundary, sites)
                env_c = b @ env_rows[key]
                temp = float(init.environment_temperature)
                if temp not in energies:
                    energies[temp] = float(np.sum(thermal_factor(om, temp) * om))
                # a means-only batch (a summary sweep) keeps the a-priori eigenvalue errors (the
                # a-posteriori ones cost ~1 ms per small network, as much as the rest) and the
                # eigenvector term's normwise form, stacked (the sharp one: ~3 ms per small network)
                mu_j, mu_err = w**2, None
                if normwise is not None:
                    bj = normwise[0][j]
                    modes = (bj, normwise[1][j], bj)  # (the same b: the means' and the covariance's)
                else:  # the eigenvalues' and eigenvectors' bounds as solve's dense path
                    mu_err = dense_mode_errors(net, mu_j, u[j])
                    modes = dense_mode_bound(net, mu_j, u[j])
                spec = Spectrum(mu_j, u[j, :p], u[j, :p], env_d, env_c, mu_err, mode_bound=modes)
                out[k] = assemble(spec, tuple(range(p)), net.probes.potential(), init,
                                  environment_energy=energies[temp], tol=tol, covariance=covariance,
                                  method="dense", t_max=t_max)
    return out
