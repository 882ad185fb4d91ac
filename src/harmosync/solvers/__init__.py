"""Numerical machinery behind harmosync's fast exact paths (no physics conventions live here).

* :mod:`.stieltjes` — rational (pole) representations of the stationary position variance
  g(x) = ν(√x)/√x, used to write the initial-state correction Δ in low-rank form;
* :mod:`.lowrank` — the low-rank factor of Δ from the probe rows of the normal modes alone;
* :mod:`.arrowhead` — normal modes of probes plugged into a chain with known modes, from
  secular equations (no O(N³) dense eigendecomposition);
* :mod:`.trigsum` — trig sums Σ_k α_k cos(w_k t) + β_k sin(w_k t) on uniform time grids, by a
  non-uniform FFT (type 1, exponential-of-semicircle kernel) or blockwise BLAS products;
* :mod:`.damped` — eigenvalues and Cauchy-like eigenvectors of a drift with local damping of
  one rate on a few oscillators, from the closed network's modes (a secular equation);
* :mod:`.expsum` — sums of damped exponentials on uniform grids (blocked BLAS, or the NUFFT
  with the damping Taylor-expanded per chunk).

The physics-facing entry point is :func:`harmosync.dynamics.solve` (and
:func:`harmosync.dynamics.solve_many` for many networks on one chain).
"""

from contextlib import contextmanager

import numpy as np

#: π in extended precision (the closed forms of the chain and the NUFFT's 2π: np.pi is 1.2e-16 off)
PI_LD = np.longdouble("3.14159265358979323846264338327950288")

_CONTROLLER = None


@contextmanager
def blas_threads(count: int | None):
    """Limit BLAS/LAPACK to ``count`` threads inside the block (None: leave as is).

    Small dense factorizations (N ≲ 10³) run faster on one thread, and far faster when the
    machine is shared: idle-spinning BLAS threads compete with the other processes.
    """
    global _CONTROLLER
    if count is None:
        yield
        return
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    with _CONTROLLER.limit(limits=int(count), user_api="blas"):
        yield
