"""Config validators of issue 11 (item 5): zero on-site frequencies where V_E stays positive
definite, and refusals of what used to be silent (a P×P coupling's diagonal, a repeated bond)."""

import copy

import numpy as np
import pytest

from harmosync import config
from harmosync import network as nw
from harmosync.errors import HarmosyncError, UnstableEnvironmentError

BASE = {
    "chain": {"sites": 10, "omega0": 0.4, "g": 1.2, "boundary": "fixed"},
    "probes": {"frequencies": [1.0, 1.1], "coupling": 0.5, "sites": [1, 1], "strengths": [0.2, 0.2]},
    "time": {"stop": 40.0, "step": 0.05},
}


def cfg(**tables):
    d = copy.deepcopy(BASE)
    for table, body in tables.items():
        if body is None:
            d.pop(table)
        else:
            d[table] = body
    return d


def test_acoustic_fixed_chain_is_accepted():
    """omega0 = 0, fixed ends: V_E = g·tridiag(−1, 2, −1) > 0, lowest Ω = 2√g sin(π/2(M+1))."""
    c = config.parse(cfg(chain={"sites": 10, "omega0": 0.0, "g": 1.2, "boundary": "fixed"}))
    net = c.build_network()
    om = net.environment.frequencies()
    assert om[0] == pytest.approx(2 * np.sqrt(1.2) * np.sin(np.pi / 22), rel=1e-13)
    assert om[0] == pytest.approx(np.sqrt(np.linalg.eigvalsh(net.environment.potential())[0]), rel=1e-12)


@pytest.mark.parametrize("boundary", ["free", "periodic"])
def test_acoustic_chain_without_walls_is_refused_in_one_line(boundary):
    """Free or periodic ends with Ω0 = 0 have a zero mode (the uniform translation)."""
    c = config.parse(cfg(chain={"sites": 10, "omega0": 0.0, "g": 1.2, "boundary": boundary}))
    with pytest.raises(UnstableEnvironmentError, match=r"^config error: chain: .*fixed ends") as e:
        c.build_network()
    assert "\n" not in str(e.value)


def test_zero_defect_in_a_fixed_chain_is_accepted():
    """Ω_3 = 0 in a fixed chain (Ω0 = 0.4, g = 1.2, M = 10): V_E stays positive definite, its
    smallest eigenvalue (0.2379) from eigh of the potential."""
    om = [0.4] * 10
    om[2] = 0.0
    c = config.parse(cfg(chain={"sites": 10, "omega0": 0.4, "g": 1.2, "onsite_frequencies": om}))
    env = c.build_network().environment
    assert env.onsite[2] == 0.0
    assert env.smallest_eigenvalue() == pytest.approx(np.linalg.eigvalsh(env.potential())[0], rel=1e-12)
    assert env.smallest_eigenvalue() > 0.2


def test_zero_onsite_in_a_graph_is_accepted_when_bonded():
    """A graph site with Ω_j = 0 bonded to a pinned one: V_E = [[a, −a], [−a, a + Ω²]] > 0."""
    c = config.parse(cfg(chain=None, graph={"sites": 2, "edges": [[1, 2, 0.5]], "onsite_frequencies": [0.0, 0.6]},
                         probes=dict(BASE["probes"], sites=[1, 2])))
    assert np.linalg.eigvalsh(c.build_network().environment.potential())[0] > 0


def test_onsite_frequencies_error_has_the_config_prefix():
    om = [0.4] * 10
    om[4] = -0.1
    with pytest.raises(HarmosyncError, match=r"^config error: chain: chain onsite_frequencies must all be ≥ 0, got -0.1 at site 5"):
        config.parse(cfg(chain={"sites": 10, "omega0": 0.4, "g": 1.2, "onsite_frequencies": om})).build_network()


def test_coupling_matrix_diagonal_is_refused():
    """λ_ii has no meaning in Σ_{i<j} (λ_ij/2)(x_i − x_j)²: it was dropped silently."""
    c = config.parse(cfg(probes=dict(BASE["probes"], coupling=[[0.3, 0.5], [0.5, 0.0]])))
    with pytest.raises(HarmosyncError, match=r"^config error: probes: .*nonzero diagonal") as e:
        c.build_network()
    assert "\n" not in str(e.value)
    with pytest.raises(HarmosyncError, match="nonzero diagonal"):
        nw.probes((1.0, 1.1), [[0.0, 0.5], [0.5, 0.2]], (1, 1), (0.1, 0.1))
    ok = nw.probes((1.0, 1.1), [[0.0, 0.5], [0.5, 0.0]], (1, 1), (0.1, 0.1))
    np.testing.assert_array_equal(ok.coupling, [[0.0, 0.5], [0.5, 0.0]])


@pytest.mark.parametrize("edges", [[[1, 2, 0.5], [2, 1, 0.5]], [[1, 2, 0.5], [2, 3, 0.1], [1, 2, 0.2]]])
def test_duplicate_graph_edges_are_refused(edges):
    """[1, 2, a] and [2, 1, a] are the same bond: they were summed silently."""
    with pytest.raises(HarmosyncError, match=r"^config error: graph.*repeats the bond \[1, 2, 0.5\]") as e:
        config.parse(cfg(chain=None, graph={"sites": 3, "edges": edges, "onsite_frequencies": 0.4}))
    assert "\n" not in str(e.value)
