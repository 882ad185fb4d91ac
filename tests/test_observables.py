"""The registry of observables (harmosync.observables) against the physics it names."""

from __future__ import annotations

import numpy as np

from harmosync import config, measures as ms, observables as obs, simulation

FIG4_SMALL = {
    "chain": {"sites": 30, "omega0": 0.4, "g": 1.2},
    "probes": {"frequencies": [1.0, 1.1], "coupling": 0.5, "sites": [1, 1], "strengths": [0.2, 0.2]},
    "initial": {"squeezing": [0.8, 0.8]},
    "time": {"stop": 100.0, "step": 0.1},
    "sync": {"window": 20.0},
}


def test_every_observable_has_units_and_a_known_dependence():
    for name, o in obs.REGISTRY.items():
        assert o.units and o.long_name, name
        assert o.needs in ("mean", "cov") and o.probes in ("any", "pair", "two", "many"), name
    assert obs.available(1) == ["x", "p", "cov", "energy_probes"]
    assert "q1" not in obs.available(3) and "discord" in obs.available(3)
    assert "sync_matrix" in obs.available(3) and "sync_matrix" not in obs.available(2)


def test_simulate_writes_discord_and_classical_correlation_consistently():
    """The file's discord is D(a|b) of the probes' reduced state (measures.discord, Adesso &
    Datta) and J = I − D, with I the file's own mutual information; D, J ≥ 0; at t = 0 the
    probes are a product state, so D = J = I = I2 = 0."""
    res = simulation.simulate(config.parse(FIG4_SMALL))
    s = res.series
    np.testing.assert_allclose(s["discord"], ms.discord(res.cov, 0, 1), atol=1e-12)
    np.testing.assert_allclose(s["discord_reverse"], ms.discord(res.cov, 1, 0), atol=1e-12)
    np.testing.assert_allclose(s["classical_correlation"], s["mutual_information"] - s["discord"], atol=1e-10)
    assert np.all(s["discord"] >= 0) and np.all(s["classical_correlation"] >= -1e-12)
    for q in ("discord", "classical_correlation", "mutual_information", "renyi2_mutual_information"):
        assert abs(s[q][0]) < 1e-12, q
    assert s["discord"].max() > 1e-3  # the probes do get correlated through the chain


THREE = {
    "chain": {"sites": 20, "omega0": 0.4, "g": 1.2},
    "probes": {"frequencies": [1.0, 1.05, 1.3], "coupling": 0.0, "sites": [1, 2, 20], "strengths": [0.2, 0.2, 0.2]},
    "initial": {"x": [1.0, 0.5, 0.8], "squeezing": [0.5, 0.0, 0.3]},
    "time": {"stop": 60.0, "step": 0.1},
    "sync": {"window": 10.0},
}


def test_three_probes_write_every_pair(tmp_path):
    """With more than two probes, sync_matrix[t, i, j] is Eq. (3) for probes i, j and
    mutual_information_matrix the I(i:j) of each pair (diagonal NaN); both reach the file with
    probe_a, probe_b coordinates; q1/q2 (two probes only) are absent."""
    from harmosync import io

    res = simulation.simulate(config.parse(THREE))
    s, m = res.series, res.mean
    assert "q1" not in s and s["sync_matrix"].shape == (res.times.size, 3, 3)
    for i, j in ((0, 1), (0, 2), (1, 2)):
        c = ms.sync_factor(m[:, 2 * i], m[:, 2 * j], 0.1, 10.0)
        np.testing.assert_allclose(s["sync_matrix"][:, i, j], c, atol=1e-12, equal_nan=True)
        np.testing.assert_allclose(s["sync_matrix"][:, j, i], c, atol=1e-12, equal_nan=True)
        mi = ms.mutual_information(res.cov, [i], [j])
        np.testing.assert_allclose(s["mutual_information_matrix"][:, i, j], mi, atol=1e-10)
    assert np.all(np.isnan(np.diagonal(s["mutual_information_matrix"], axis1=1, axis2=2)))
    ds = io.to_dataset(res)
    assert ds["sync_matrix"].dims == ("time", "probe_a", "probe_b")
    assert list(ds["probe_a"].values) == [1, 2, 3]
    io.write(res, tmp_path / "three.nc")


def test_sweep_keeps_a_pair_matrix():
    from harmosync import sweep as sw

    ds = sw.run_sweep(THREE, {"sync.window": [10.0, 20.0]}, keep={"series": ["sync_matrix"], "stride": 10},
                      executor="serial", progress=False, log=lambda m: None)
    assert ds["sync_matrix"].dims == ("sync_window", "time", "probe_a", "probe_b")
    assert ds["sync_matrix"].attrs["units"] == "1"
