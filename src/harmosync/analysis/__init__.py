"""The paper's analysis as tools (Sec. III, Appendix A; see docs/analysis.md).

* ``times``: group velocity, crosstalk time τ_CT and revival time τ_R of a chain;
* ``langevin``: kernels γ_s(t), η(t), coefficients c_s(j), spectral densities, Eq. (A11);
* ``rayleigh``: damping matrix G′, Rayleigh's condition, exact continuum poles, localized modes.
"""

from .langevin import Kernels as Kernels
from .langevin import kernels as kernels
from .rayleigh import RayleighAnalysis as RayleighAnalysis
from .rayleigh import analyze as analyze
from .times import CharacteristicTimes as CharacteristicTimes
from .times import characteristic_times as characteristic_times
