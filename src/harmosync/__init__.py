"""harmosync: exact Gaussian dynamics, synchronization and quantum correlations in networks of
quantum harmonic oscillators (after Benedetti et al., Phys. Rev. A 94, 052118 (2016)).

The core import is light: no matplotlib, no dask, no xarray.
"""

__version__ = "0.1.0"

from .conventions import CONVENTIONS as CONVENTIONS
from .conventions import symplectic_form as symplectic_form
from .conventions import to_block as to_block
from .conventions import to_interleaved as to_interleaved
from .dynamics import Evolution as Evolution
from .dynamics import Moments as Moments
from .dynamics import solve as solve
from .errors import HarmosyncError as HarmosyncError
from .errors import UnphysicalStateError as UnphysicalStateError
from .errors import UnstableNetworkError as UnstableNetworkError
from .measures import complete_sync as complete_sync
from .measures import log_negativity as log_negativity
from .measures import mutual_information as mutual_information
from .measures import purity as purity
from .measures import symplectic_eigenvalues as symplectic_eigenvalues
from .measures import sync_factor as sync_factor
from .measures import von_neumann_entropy as von_neumann_entropy
from .network import Network as Network
from .network import chain as chain
from .network import couple as couple
from .network import graph as graph
from .network import paper_network as paper_network
from .network import probes as probes
from .network import system_mode_coordinates as system_mode_coordinates
from .network import system_normal_modes as system_normal_modes
from .states import InitialState as InitialState
from .states import coherent as coherent
from .states import product as product
from .states import squeezed as squeezed
from .states import thermal as thermal
