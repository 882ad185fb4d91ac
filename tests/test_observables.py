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
        assert o.needs in ("mean", "cov") and o.probes in ("any", "pair", "two"), name
    assert obs.available(1) == ["x", "p", "cov", "energy_probes"]
    assert "q1" not in obs.available(3) and "discord" in obs.available(3)


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
