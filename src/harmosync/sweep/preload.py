"""What a local pool's fork server loads once for all the workers it forks: the sweep's modules
and the compiled kernels (:func:`harmosync.jit.load_all`: numba's start, ~0.35 s of CPU and
~100 MB, is then paid once per sweep instead of once per worker)."""

from .. import jit
from . import run  # noqa: F401  (imports the modules whose kernels load_all loads)

jit.load_all()
