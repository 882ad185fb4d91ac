"""Characteristic times of a chain (analysis/times.py): the dispersion ω² = Ω0² + 4g sin²(k/2)
(Eq. A8), its group velocity, and the crosstalk and revival times checked against the exact
dynamics (the arrival of an echo or of the other probe's signal)."""

from __future__ import annotations

import subprocess
import sys

import math

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from harmosync import measures as ms
from harmosync import network as nw
from harmosync.analysis import times as tm
from conftest import probe_means
from harmosync.errors import HarmosyncError


def x_means(net, x0, t):
    """⟨x_i(t)⟩ (T, P) from initial positions x0, momenta and environment at rest."""
    return probe_means(net, np.ravel(np.column_stack([x0, np.zeros(len(x0))])), t)[:, 0::2]


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Small dense problems: one BLAS thread is faster, and far faster on a loaded machine."""
    with threadpool_limits(1):
        yield


@pytest.mark.parametrize("omega0, g", [(0.4, 1.2), (0.05, 3.0), (1.5, 0.2), (1e-9, 1.2), (0.0, 1.2)])
def test_group_velocity_peak_is_the_maximum_of_domega_dk(omega0, g):
    """v_max = max_k dω/dk: the closed form (c* root of g c² − a c + g = 0) against a brute-force
    maximum of a numerical derivative of ω(k) on a fine k grid."""
    k = np.linspace(0, np.pi, 200001)
    w = tm.dispersion(k, omega0, g)
    v = np.gradient(w, k)
    vmax, kstar, wstar = tm.group_velocity_peak(omega0, g)
    assert vmax == pytest.approx(v.max(), rel=1e-6)
    assert kstar == pytest.approx(k[np.argmax(v)], abs=1e-3)
    assert wstar == pytest.approx(float(tm.dispersion(kstar, omega0, g)), rel=1e-12)


def test_group_velocity_is_derivative_and_nan_outside_band():
    """v(ω) = g sin k/ω equals dω/dk by finite differences; NaN outside [Ω0, √(Ω0² + 4g)],
    zero at the band edges."""
    om0, g = 0.4, 1.2
    k = np.linspace(0.1, 3.0, 30)
    h = 1e-6
    fd = (tm.dispersion(k + h, om0, g) - tm.dispersion(k - h, om0, g)) / (2 * h)
    np.testing.assert_allclose(tm.group_velocity(tm.dispersion(k, om0, g), om0, g), fd, rtol=1e-7)
    lo, hi = tm.band(om0, g)
    assert math.isnan(tm.group_velocity(0.39, om0, g)) and math.isnan(tm.group_velocity(hi * 1.01, om0, g))
    assert tm.group_velocity(lo, om0, g) == 0.0 and abs(tm.group_velocity(hi, om0, g)) < 1e-7


def test_fig1_numbers_against_paper_estimate(fig1_network):
    """Fig. 1 (M = 300, Ω0 = 0.4, g = 1.2): τ_R = 2M / v. The paper's rough 2M/ω1 = 600 is ~9%
    short, because v_max = 0.914 < 1 site per 1/ω1."""
    ct = tm.characteristic_times(fig1_network)
    assert ct.revival_distance == 600
    assert ct.tau_revival_front == pytest.approx(600 / ct.group_velocity_max)
    assert ct.tau_revival == pytest.approx(600 / ct.group_velocity[0])  # ω1 = 1 is the faster carrier
    assert ct.tau_revival >= ct.tau_revival_front
    assert 650 < ct.tau_revival_front < 660 and ct.paper_tau_revival == 600
    assert ct.tau_crosstalk is None and ct.tau_crosstalk_front is None
    d = ct.as_dict()
    assert all(isinstance(v, float) for v in d.values())
    assert math.isnan(d["tau_crosstalk"]) and d["group_velocity_1"] == ct.group_velocity[0]


def test_revival_time_is_when_the_echo_arrives():
    """The echo from the far end: the exact ⟨x_i(t)⟩ of the Fig. 1 probes on an M = 100 chain and
    on an M = 300 chain (no echo yet) coincide until the echo reaches the probes. Their
    difference stays below 1e-6 of the amplitude up to 0.85 τ_R(front) (the lattice front has a
    super-exponentially small precursor) and exceeds 1% before the carrier time τ_R."""
    short, long_ = nw.paper_network(sites=100), nw.paper_network(sites=300)
    ct = tm.characteristic_times(short)
    t = np.arange(0, 1.1 * ct.tau_revival, 0.05)
    d = np.abs(x_means(short, [0.14, 1.4], t) - x_means(long_, [0.14, 1.4], t)).max(axis=1) / 1.4
    assert d[t < 0.85 * ct.tau_revival_front].max() < 1e-6
    assert d[t <= ct.tau_revival].max() > 1e-2


def test_crosstalk_time_is_when_the_other_probe_is_felt():
    """Crosstalk: uncoupled probes (λ = 0) at sites 1 and 101 of a 200-site chain; probe 2 starts
    displaced, probe 1 at rest. ⟨x1(t)⟩ is the signal from probe 2: below 1e-6 until 0.8 τ_CT
    (front), above 1e-2 by 1.05 τ_CT."""
    net = nw.paper_network(sites=200, plug=(1, 101), coupling=0.0)
    ct = tm.characteristic_times(net)
    assert ct.crosstalk_distance == 100
    assert ct.tau_crosstalk == pytest.approx(100 / max(ct.group_velocity))
    t = np.arange(0, 1.2 * ct.tau_crosstalk, 0.05)
    x1 = np.abs(x_means(net, [0.0, 1.0], t)[:, 0])
    assert x1[t < 0.8 * ct.tau_crosstalk_front].max() < 1e-6
    assert x1[t <= 1.05 * ct.tau_crosstalk].max() > 1e-2


def test_fig1_antisync_breaks_at_the_revival(fig1_network):
    """Fig. 1: C(t, Δt = 20) of the exact means stays below −0.99 from t = 150 until the forward
    window reaches the echo front, and first rises above −0.99 just after t + Δt = τ_R
    (front). Measured: first at t = 644 (t + Δt = 664; τ_R front = 656.8): 7.2 after the front,
    checked within (0, 10)."""
    ct = tm.characteristic_times(fig1_network)
    step, window = 0.05, 20.0
    t = np.arange(0, 720, step)
    x = x_means(fig1_network, [0.14, 1.4], t)
    c = ms.sync_factor(x[:, 0], x[:, 1], step, window)
    after = t >= 150
    first = t[after][np.argmax(c[after] > -0.99)]
    # the window must hold the echo: it breaks after the front enters it, within ~1.5 periods
    assert 0 < first + window - ct.tau_revival_front < 10
    assert np.all(c[(t > 150) & (t + window < ct.tau_revival_front)] < -0.99)


def test_boundaries_and_distances():
    """Distances: fixed ends mirror at 0 and M + 1, free ends at ½ and M + ½, a ring has none."""
    assert tm.revival_distance(1, 300, "fixed") == 600 and tm.echo_distance(1, 300, "fixed") == 2
    assert tm.revival_distance(1, 300, "free") == 599 and tm.echo_distance(1, 300, "free") == 1
    assert tm.revival_distance(7, 300, "periodic") == 300
    assert tm.crosstalk_distance(2, 299, 300, "periodic") == 3
    assert tm.crosstalk_distance(2, 299, 300, "fixed") == 297
    assert tm.revival_distance(150, 300, "fixed") == 302


def test_probe_frequency_outside_band_uses_front():
    """A probe above the band (ω = 3 > √(Ω0² + 4g) = 2.23) has no carrier: NaN velocity, and its
    times fall back to the front velocity."""
    net = nw.paper_network(frequencies=(3.0, 3.1), coupling=0.0, plug=(1, 50), sites=100, strengths=(0.1, 0.1))
    ct = tm.characteristic_times(net)
    assert all(math.isnan(v) for v in ct.group_velocity)
    assert ct.tau_crosstalk == ct.tau_crosstalk_front and ct.tau_revival == ct.tau_revival_front
    assert "outside" in ct.note


def test_refuses_a_graph():
    env = nw.graph(np.array([[0, 1.0], [1.0, 0]]), 1.0)
    net = nw.couple(env, nw.probes([1.0, 1.1], 0.0, [1, 2], [0.1, 0.1]))
    with pytest.raises(HarmosyncError, match="chain"):
        tm.characteristic_times(net)


def test_memory_kernel_revives_at_tau_R(fig1_network):
    """The memory kernel γ1(t) (Eq. 4) of Fig. 1 is the chain's own response at the plugging
    site: after its initial decay it stays below 0.3% of γ1(0) until 0.9 τ_R (front) and revives
    to more than 10% of it within 2% of τ_R (measured: 1% at t = 641, 10% at t = 654)."""
    from harmosync.analysis.langevin import kernels

    ct = tm.characteristic_times(fig1_network)
    t = np.arange(0, 1.05 * ct.tau_revival, 0.05)
    g = np.abs(kernels(fig1_network, t).gamma1)
    assert g[(t > 200) & (t < 0.9 * ct.tau_revival_front)].max() < 3e-3 * g[0]
    assert g[(t > 0.98 * ct.tau_revival_front) & (t < 1.02 * ct.tau_revival)].max() > 0.1 * g[0]


def test_analysis_exports_load_lazily():
    """harmosync.analysis re-exports the tools of its modules, but importing ``times`` (what
    `simulate` needs) does not load the kernel and Rayleigh modules; every export is the
    function or class (no submodule of the same name shadows it once loaded)."""
    code = ("import sys, harmosync.analysis.times; "
            "print(sorted(m for m in sys.modules if m.startswith('harmosync.analysis.')))\n"
            "import harmosync.analysis as an\n"
            "from harmosync.analysis import langevin, localized, rayleigh, summary\n"
            "for name, mod in an._EXPORTS.items():\n"
            "    assert getattr(an, name) is getattr(getattr(an, mod), name), name\n"
            "assert an.report is summary.report and an.analyze is rayleigh.analyze")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['harmosync.analysis.times']"


def test_acoustic_chain_times():
    """Ω0 = 0 (fixed ends): ω = 2√g sin(k/2), so v(ω) = √(g − ω²/4), v_max = √g at k = 0, the
    band (0, 2√g); the times are those distances over these velocities."""
    g = 1.2
    net = nw.couple(nw.chain(200, 0.0, g), nw.probes((1.0, 1.1), 0.5, (1, 51), (0.2, 0.2)))
    ct = tm.characteristic_times(net)
    assert ct.band == (0.0, pytest.approx(2 * math.sqrt(g)))
    assert ct.group_velocity_max == pytest.approx(math.sqrt(g), rel=1e-15)
    assert ct.frequency_max_velocity == 0.0
    np.testing.assert_allclose(ct.group_velocity, np.sqrt(g - np.array([1.0, 1.1]) ** 2 / 4), rtol=1e-13)
    assert ct.tau_crosstalk == pytest.approx(50 / math.sqrt(g - 0.25), rel=1e-13)
    assert ct.tau_revival_front == pytest.approx(2 * 150 / math.sqrt(g), rel=1e-15)  # probe 2 at site 51
