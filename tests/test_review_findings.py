"""Review of issue 10 (one dynamics contract, one registry, the sweep package): bugs found by
trying to break it. Each test states the contract it checks and fails on the reviewed code.

1. A sweep point's numbers must not depend on how the sweep is cut into tasks (the comment in
   ``sweep.point.evaluate_many``: "bitwise the same on any executor"): a point that fails in
   the dynamics must not change the numbers of the good points that share its task.
2. ``dynamics.solve_many`` must refuse what ``dynamics.solve`` refuses (the size limits that
   keep a sweep point from running for hours; the baseline sweep recorded such points as
   failed in seconds).
3. ``[keep] onset`` is defined for a C(t, Δt) series (one number per time); a matrix of them
   (``sync_matrix``) has no single onset and must be refused like its summaries are.
4. The sweep store's attributes agree with ``simulate``'s (the registry's ``Observable.attrs``):
   the every-pair matrices refer to no single pair.
"""

from __future__ import annotations

import numpy as np
import pytest

from harmosync import config
from harmosync import dynamics as dy
from harmosync import observables as obs
from harmosync import sweep as sw
from harmosync.dynamics import normal_modes
from harmosync.errors import HarmosyncError
from harmosync.network import chain, couple, probes
from harmosync.states import InitialState, coherent, product

BASE = {
    "chain": {"sites": 60, "omega0": 0.4, "g": 1.2},
    "probes": {"frequencies": [1.0, 1.1], "coupling": 0.5, "sites": [1, 3], "strengths": [0.2, 0.2]},
    "initial": {"x": [0.14, 1.4]},
    "time": {"stop": 40.0, "step": 0.1},
    "sync": {"window": 10.0},
}
KEEP = {"series": ["x", "sync", "mutual_information"]}


def _with(chain_table: dict) -> config.RunConfig:
    data = {**BASE, "chain": {**BASE["chain"], **chain_table}}
    return config.parse(data)


def test_good_point_bitwise_independent_of_a_failing_neighbour(monkeypatch):
    # a periodic chain (dense path) over the dense size limit fails in the dynamics, after
    # prepare; lower the limit so that the failing network stays small
    monkeypatch.setattr(normal_modes, "DENSE_LIMIT_SOLVE", 100)
    keep = sw.parse_keep(KEEP, config.parse(BASE))
    good = sw.prepare(_with({}), keep)
    bad = sw.prepare(_with({"sites": 120, "boundary": "periodic"}), keep)
    alone = sw.evaluate_many([good], keep)[0]
    together = sw.evaluate_many([good, bad], keep)
    assert isinstance(together[1], HarmosyncError)
    for name, v in alone.items():
        assert np.array_equal(v, together[0][name], equal_nan=True), name


def test_solve_many_refuses_what_solve_refuses(monkeypatch):
    # the structured path's limit CHAIN_MAX (a 2·10⁵-site free chain: solve refuses at once,
    # solve_many computed for over an hour); lowered here so that the test is fast
    monkeypatch.setattr(normal_modes, "CHAIN_MAX", 300)
    net = couple(chain(500, 0.4, 1.2, "free"), probes([1.0, 1.1], 0.5, [1, 1], [0.2, 0.2]))
    init = InitialState(product(coherent(1.0, 0.14), coherent(1.1, 1.4)))
    with pytest.raises(HarmosyncError, match="oscillators to solve exactly"):
        dy.solve(net, init, t_max=10.0)
    with pytest.raises(HarmosyncError, match="oscillators to solve exactly"):
        dy.solve_many([net], [init], t_max=10.0, covariance=False)


def _three_probes() -> config.RunConfig:
    return config.parse({**BASE, "probes": {"frequencies": [1.0, 1.1, 0.9], "coupling": 0.2,
                                            "sites": [1, 3, 5], "strengths": [0.2, 0.2, 0.1]},
                         "initial": {"x": [0.14, 1.4, 0.3]}})


def test_onset_of_sync_matrix_refused():
    with pytest.raises(HarmosyncError, match="keep.onset"):
        sw.parse_keep({"onset": ["sync_matrix"], "windows": [[0, 30]]}, _three_probes())


@pytest.mark.parametrize("name", ["sync_matrix", "mutual_information_matrix"])
def test_matrix_attrs_in_sweep_store_as_in_simulate(name):
    base = _three_probes()
    spec = sw.build_spec(base, {"probes.sites[3]": {"values": [5, 9]}}, {"series": [name]})
    var = {v.name: v for v in sw.store_layout(spec)[0]}[name]
    expected = obs.get(name).attrs(base.sync.probes, base.sync.window, base.sync.delay)
    assert ("probes" in var.attrs) == ("probes" in expected)


def test_export_of_a_sweep_with_a_failed_point(tmp_path):
    # a failed point (here an unstable K, status 2) is NaN by design; the export must not call
    # that a numerical failure ("log_negativity_mean contains NaN or inf"). Also in the baseline.
    store = tmp_path / "k.zarr"
    sw.run_sweep(BASE, {"probes.strengths[*]": {"values": [0.1, 5.0]}},
                 keep={"summaries": ["log_negativity"], "windows": [[0, 30]]}, store=store,
                 executor="serial", progress=False, log=lambda msg: None)
    sw.export_netcdf(store, tmp_path / "k.nc")
    assert (tmp_path / "k.nc").exists()
