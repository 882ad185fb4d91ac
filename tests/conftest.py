"""Shared fixtures: the paper's networks and seeded random stable networks/states."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

import harmosync.network as nw  # noqa: E402
import harmosync.states as st  # noqa: E402
from harmosync import dynamics as dy  # noqa: E402


def random_network(seed: int, *, probes: int = 2, sites: int = 6, kind: str = "graph") -> nw.Network:
    """A random stable network: random graph (or chain) environment, random probes, couplings
    well inside the stability region (scaled to half the critical coupling)."""
    rng = np.random.default_rng(seed)
    if kind == "graph":
        a = np.triu(rng.uniform(0, 1, (sites, sites)) * (rng.uniform(size=(sites, sites)) < 0.5), 1)
        env = nw.graph(a + a.T, rng.uniform(0.3, 1.5, sites))
    else:
        env = nw.chain(sites, rng.uniform(0.3, 0.8), rng.uniform(0.5, 1.5))
    freqs = rng.uniform(0.7, 1.5, probes)
    lam = rng.uniform(0, 0.3)
    plug = [int(s) for s in rng.integers(1, sites + 1, probes)]
    k = rng.uniform(-0.5, 0.5, probes)
    trial = nw.Probes(tuple(freqs), np.full((probes, probes), lam) - np.diag([lam] * probes),
                      tuple((i, plug[i], float(k[i])) for i in range(probes)))
    # scale K into the stable region without triggering the check
    vs = trial.potential()
    b = np.zeros((probes, sites))
    for i, s, kk in trial.attachments:
        b[i, s - 1] += kk
    g = b @ np.linalg.solve(env.potential(), b.T)
    mu = np.max(np.linalg.eigvals(np.linalg.solve(vs, g)).real)
    scale = 0.5 / np.sqrt(mu) if mu > 0 else 1.0
    return nw.couple(env, nw.probes(freqs, lam, plug, list(k * min(1.0, scale))))


def random_probe_state(seed: int, freqs) -> st.GaussianState:
    """Product of random squeezed thermal displaced states of the probes."""
    rng = np.random.default_rng(seed)
    states = []
    for w in freqs:
        s = st.squeezed(w, rng.uniform(0, 1.0), rng.uniform(0, 2 * np.pi), x=rng.normal(), p=rng.normal())
        states.append(st.GaussianState(s.mean, s.cov * (1 + 2 * rng.uniform(0, 0.5))))
    return st.product(*states)


@pytest.fixture
def fig1_network():
    return nw.paper_network()


@pytest.fixture
def fig1_state():
    return st.InitialState(st.product(st.coherent(1.0, 0.14), st.coherent(1.1, 1.4)))


@pytest.fixture
def fig4_network():
    return nw.paper_network(frequencies=(1.0, 1.2), coupling=0.0, strengths=(0.8, 0.8))


@pytest.fixture
def fig4_state():
    return st.InitialState(st.product(st.squeezed(1.0, 2.0), st.squeezed(1.2, 2.0)))


@pytest.fixture(scope="session", autouse=True)
def _one_blas_thread():
    """One BLAS thread per test process: tests run under xdist on 2 cores, where oversubscribed
    OpenBLAS threads make small linear algebra several times slower."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def probe_means(net, mean, times):
    """⟨x_i(t)⟩, ⟨p_i(t)⟩ of the probes (T, 2P) from their initial means (x1, p1, x2, p2, …),
    the environment at rest: coherent probes, first moments only (the covariance plays no part
    in the means of a quadratic network)."""
    mean = np.asarray(mean, float)
    state = st.InitialState(st.product(*(st.coherent(w, x, p) for w, x, p in
                                         zip(net.probes.frequencies, mean[0::2], mean[1::2]))))
    times = np.asarray(times, float)
    return dy.solve(net, state, covariance=False, t_max=float(np.max(np.abs(times)))).means(times)
