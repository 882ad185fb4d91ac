"""[[baths]] tables in the config and the Bath API (issue 12, items 1, 2 and 7): what a bath
means (members, frequencies, occupations, weights, against CONVENTIONS "Open systems"), and bad
input refused with one line naming baths[k] (k from 1), exit status 2, nothing written."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from harmosync import config
from harmosync import network as nw
from harmosync.baths import Bath, drift_diffusion, own_frequencies
from harmosync.cli import main
from harmosync.conventions import thermal_occupation
from harmosync.errors import HarmosyncError

CHAIN = {"chain": {"sites": 10, "omega0": 0.4, "g": 1.2},
         "probes": {"frequencies": [1.0, 1.1], "coupling": 0.5, "sites": [1, 1], "strengths": [0.2, 0.2]},
         "time": {"stop": 50.0, "step": 0.1}}
ALONE = {"probes": {"frequencies": [1.0, 1.05], "coupling": 0.05}, "time": {"stop": 50.0, "step": 0.1}}


def with_baths(base, *baths):
    return {**base, "baths": list(baths)}


def test_the_issue_example_parses_and_builds():
    cfg = config.parse(with_baths(
        CHAIN,
        {"kind": "lindblad", "probes": [1, 2], "rate": 0.001, "temperature": 0.0},
        {"kind": "lindblad", "sites": {"start": 6, "stop": 10}, "rate": 0.05, "temperature": 0.0},
        {"kind": "brownian", "probes": [1, 2], "common": True, "weights": [1.0, -1.0], "rate": 0.02,
         "temperature": 1.0, "frequency": 1.05},
        {"kind": "lindblad", "sites": "all", "rate": 0.01, "occupation": 0.2},
    ))
    net = cfg.build_network()
    baths = cfg.build_baths(net)
    assert baths[1].sites == (6, 7, 8, 9, 10) and baths[3].sites == "all"
    assert baths[3].members(net) == list(range(2, 12))


def test_probes_alone_need_no_environment_and_no_plugging():
    cfg = config.parse(with_baths(ALONE, {"kind": "lindblad", "probes": [1], "rate": 0.1, "temperature": 0.0}))
    net = cfg.build_network()
    assert net.environment.sites == 0 and net.size == 2 and not net.probes.attachments
    # probes.sites without an environment is a mistake worth naming
    with pytest.raises(HarmosyncError, match=r"no \[chain\] or \[graph\]"):
        config.parse({**ALONE, "probes": {**ALONE["probes"], "sites": [1, 1], "strengths": [0.1, 0.1]}})
    with pytest.raises(HarmosyncError, match="required with an environment"):
        config.parse({**CHAIN, "probes": {"frequencies": [1.0, 1.1]}})


def test_lindblad_drift_and_diffusion_of_a_local_bath():
    """One Lindblad bath on an isolated oscillator at frequency ω: A = A_H − (γ/2)·1 and
    D = γ(2n̄ + 1)·diag(1/(2ω), ω/2) (the thermal state is stationary)."""
    w, g, temp = 1.3, 0.2, 0.8
    net = nw.couple(nw.no_environment(), nw.probes([w], 0.0, None, None))
    a, d = drift_diffusion(net, [Bath("lindblad", g, probes=(1,), temperature=temp)])
    nbar = float(thermal_occupation(w, temp))
    np.testing.assert_allclose(a, [[-g / 2, 1.0], [-w * w, -g / 2]], atol=1e-15)
    np.testing.assert_allclose(d, g * (2 * nbar + 1) * np.diag([1 / (2 * w), w / 2]), atol=1e-15)


def test_brownian_uses_the_bath_frequency_and_the_weights():
    """Common Brownian bath, c = (1, −1), no frequency given: w_b = mean own frequency;
    A gains −γ c_j c_k in (p_j, p_k), D gains 2γ w_b (n̄ + ½) c_j c_k there, n̄ at w_b."""
    net = nw.couple(nw.no_environment(), nw.probes([1.0, 1.2], 0.0, None, None))
    g, temp = 0.1, 0.6
    a, d = drift_diffusion(net, [Bath("brownian", g, probes=(1, 2), common=True, weights=(1.0, -1.0),
                                      temperature=temp)])
    wb = 1.1
    c = np.array([1.0, -1.0])
    np.testing.assert_allclose(a[1::2, 1::2], -g * np.outer(c, c))
    dc = g * wb * (float(thermal_occupation(wb, temp)) + 0.5)
    np.testing.assert_allclose(d[1::2, 1::2], 2 * dc * np.outer(c, c))
    assert not d[0::2].any()


def test_own_frequency_of_a_site_is_its_onsite_frequency_not_the_diagonal_of_v():
    net = nw.paper_network(sites=5)
    np.testing.assert_allclose(own_frequencies(net)[2:], 0.4)
    a, d = drift_diffusion(net, [Bath("lindblad", 0.1, sites=(3,), temperature=0.0)])
    j = 2 + 2  # site 3, 0-based oscillator 4
    np.testing.assert_allclose(d[2 * j, 2 * j], 0.1 / (2 * 0.4))


@pytest.mark.parametrize("bath, message", [
    ({"kind": "lindblad", "probes": [1], "rate": -0.1, "temperature": 0.0}, r"baths\[2\]\.rate: .*greater than or equal to 0"),
    ({"kind": "lindblad", "probes": [3], "rate": 0.1, "temperature": 0.0}, r"baths\[2\]: probe 3 does not exist"),
    ({"kind": "lindblad", "sites": [11], "rate": 0.1, "temperature": 0.0}, r"baths\[2\]: site 11 does not exist"),
    ({"kind": "lindblad", "sites": {"start": 5, "stop": 12}, "rate": 0.1}, r"baths\[2\]: site 11 does not exist"),
    ({"kind": "brownian", "probes": [1], "rate": 0.1, "occupation": 0.5}, r"baths\[2\]: occupation is for Lindblad"),
    ({"kind": "lindblad", "probes": [1, 2], "rate": 0.1, "common": True, "weights": [1.0]},
     r"baths\[2\]: weights has 1 entries but the bath has 2 members"),
    ({"kind": "lindblad", "probes": [1, 2], "rate": 0.1, "weights": [1.0, 1.0]}, r"baths\[2\]: weights belong to common"),
    ({"kind": "lindbald", "probes": [1], "rate": 0.1}, r"baths\[2\]\.kind"),
    ({"kind": "lindblad", "probes": [1], "rates": 0.1}, r"baths\[2\]: unknown key 'rates' \(did you mean \"rate\"\?\)"),
    ({"kind": "lindblad", "rate": 0.1}, r"baths\[2\]: a bath needs members"),
    ({"kind": "lindblad", "probes": [1], "rate": 0.1, "temperature": 1.0, "occupation": 0.1},
     r"baths\[2\]: give temperature or occupation"),
    ({"kind": "lindblad", "probes": [1], "rate": 0.1, "frequency": 0.0}, r"baths\[2\]\.frequency"),
    ({"kind": "lindblad", "probes": [1], "rate": True}, r"baths\[2\]\.rate"),
])
def test_bad_baths_are_one_line_errors_naming_the_table(tmp_path, bath, message):
    """Item 7: one line, naming baths[k] (k from 1), exit status 2, nothing written."""
    good = {"kind": "lindblad", "probes": [1], "rate": 0.1, "temperature": 0.0}
    data = with_baths(CHAIN, good, bath)
    with pytest.raises(HarmosyncError, match=message) as err:
        cfg = config.parse(data)
        cfg.build_baths(cfg.build_network())
    assert "\n" not in str(err.value) and str(err.value).startswith("config error: baths[2]")
    path = tmp_path / "c.toml"
    path.write_text(_toml(data))
    out = tmp_path / "out.nc"
    res = CliRunner().invoke(main, ["simulate", str(path), "-o", str(out)])
    assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1, res.output
    assert not out.exists() and not list(tmp_path.glob(".*partial"))


def test_api_refuses_what_the_config_refuses():
    net = nw.paper_network(sites=5)
    with pytest.raises(HarmosyncError, match="rate must be ≥ 0"):
        Bath("lindblad", -1.0, probes=(1,))
    with pytest.raises(HarmosyncError, match="occupation is for Lindblad"):
        Bath("brownian", 1.0, probes=(1,), occupation=0.1)
    with pytest.raises(HarmosyncError, match=r"baths\[1\]: site 6 does not exist"):
        drift_diffusion(net, [Bath("lindblad", 0.1, sites=(6,))])


def _toml(d: dict) -> str:
    """A minimal TOML writer for these configs (tables, arrays of tables, inline ranges)."""
    def val(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return f'"{v}"'
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {val(x)}" for k, x in v.items()) + " }"
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        return repr(v)
    lines = []
    for table, body in d.items():
        for entry in (body if isinstance(body, list) else [body]):
            lines.append(f"[[{table}]]" if isinstance(body, list) else f"[{table}]")
            lines += [f"{k} = {val(v)}" for k, v in entry.items()]
    return "\n".join(lines) + "\n"


def test_a_bath_on_a_site_of_own_frequency_zero_is_a_config_error(tmp_path):
    """An acoustic chain (Ω0 = 0: every site's own frequency is 0) with a Lindblad bath on a site
    and no bath frequency: the jump operator has no frequency. Refused when the config is built,
    as "config error: baths[1]: …" (review of session 22: it came from the solve, unprefixed)."""
    data = with_baths({**CHAIN, "chain": {**CHAIN["chain"], "omega0": 0.0}},
                      {"kind": "lindblad", "sites": [2], "rate": 0.1})
    with pytest.raises(HarmosyncError, match=r"^config error: baths\[1\]: a member has own frequency 0"):
        cfg = config.parse(data)
        cfg.build_baths(cfg.build_network())
    path = tmp_path / "c.toml"
    path.write_text(_toml(data))
    res = CliRunner().invoke(main, ["simulate", str(path), "-o", str(tmp_path / "out.nc")])
    assert res.exit_code == 2 and res.output.strip().startswith("harmosync: error: config error: baths[1]:"), res.output
