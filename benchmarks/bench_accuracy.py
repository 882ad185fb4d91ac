"""Error against the mpmath reference, the recorded bound and their ratio (issue 11).

    PYTHONPATH=src python benchmarks/bench_accuracy.py [--paper]

Cases: the audit's soft chains (tests/test_accuracy.py) with the dense and chain methods, and
the paper's Fig. 1 / Fig. 4 parameters on a 40-site chain; ``--paper`` adds the 300-site runs
(the mpmath reference then takes ~20 min each; set HARMOSYNC_REF_CACHE to a directory to keep
it). Times 0, 1, 10, 100, 1000 (1500 for the paper's runs); err = max |σ − σ_ref| over them.
"""

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from harmosync import dynamics as dy  # noqa: E402
from harmosync import network as nw  # noqa: E402
from harmosync import states as st  # noqa: E402
from reference_mp import Reference  # noqa: E402
from test_accuracy import soft_chain  # noqa: E402

SOFT = np.array([0.0, 1.0, 10.0, 100.0, 1000.0])
PAPER = np.array([0.0, 1.0, 10.0, 100.0, 1000.0, 1500.0])


def paper(figure, sites):
    if figure == "fig1":
        return (nw.paper_network(sites=sites),
                st.InitialState(st.product(st.coherent(1.0, 0.14), st.coherent(1.1, 1.4))))
    return (nw.paper_network(sites=sites, frequencies=(1.0, 1.2), coupling=0.0, strengths=(0.8, 0.8)),
            st.InitialState(st.product(st.squeezed(1.0, 2.0), st.squeezed(1.2, 2.0))))


def reference(name, net, init, times, observe):
    cache = os.environ.get("HARMOSYNC_REF_CACHE")
    path = Path(cache) / f"{name}.npz" if cache else None
    if path is not None and path.exists():
        return np.load(path)["cov"]
    cov = Reference(net, init, observe=observe, dps=25).moments(times)[1]
    if path is not None:
        np.savez(path, times=times, cov=cov)
    return cov


def cases(with_paper):
    yield "soft free, Ω0=1e-3, K=1e-3, T=0", *soft_chain(), SOFT, None
    yield "soft free, Ω0=5e-3, K=1e-2, T=0", *soft_chain(omega0=5e-3, k=1e-2), SOFT, None
    yield "soft free, Ω0=1e-3, T=0.5", *soft_chain(temperature=0.5), SOFT, None
    yield "soft fixed M=30, Ω0=1e-4, K=0.1, T=0.2, site 15", *soft_chain(
        m=30, omega0=1e-4, k=0.1, boundary="fixed", temperature=0.2), SOFT, [0, 1, 16]
    for fig in ("fig1", "fig4"):
        yield f"{fig} parameters, M=40", *paper(fig, 40), PAPER, None
    if with_paper:
        for fig in ("fig1", "fig4"):
            yield f"{fig}, M=300", *paper(fig, 300), PAPER, None


def main():
    print(f"{'case':52s} {'method':6s} {'scale':>8s} {'error':>9s} {'bound':>9s} {'ratio':>8s}")
    for name, net, init, times, observe in cases("--paper" in sys.argv):
        ref = reference(name.split(",")[0].replace(" ", "_") + str(net.size), net, init, times, observe)
        for method in ("dense", "chain"):
            t0 = time.perf_counter()
            sol = dy.solve(net, init, method=method, observe=observe, t_max=float(times[-1]))
            err = float(np.abs(sol.moments(times).cov - ref).max())
            print(f"{name:52s} {method:6s} {np.abs(ref).max():8.2g} {err:9.2e} {sol.error_bound:9.2e} "
                  f"{sol.error_bound / err:8.1f}  ({time.perf_counter() - t0:.2f} s)", flush=True)


if __name__ == "__main__":
    main()
