"""Localized modes (analysis/localized.py): normal modes of the whole network outside the
environment's band, which cannot radiate. Checked against the exact dynamics (Fig. 2 at strong
coupling), against a dense eigensolver for long chains, and against the band edges."""

from __future__ import annotations

import math

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from conftest import probe_means

from harmosync import dynamics as dy
from harmosync import network as nw
from harmosync.analysis import localized as lc
from harmosync.analysis.rayleigh import Verdict
from harmosync.analysis.summary import report


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Small dense problems: one BLAS thread is faster, and far faster on a loaded machine."""
    with threadpool_limits(1):
        yield


def test_fig2_strong_coupling_localized_mode():
    """Fig. 2, K = 0.8: one normal mode of the whole network lies below the band (ω < Ω0 = 0.4),
    in phase on both probes. It is the late oscillation: the exact ⟨x(t)⟩ minus this mode's
    contribution decays at the rate of the other exact continuum pole (within 10%), and the
    remaining oscillation has the mode's frequency. So the report's steady pattern is sync."""
    net = nw.paper_network(coupling=0.0, strengths=(0.8, 0.8))
    x0 = np.array([1.0, 1.0])
    rep = report(net, initial_mean=[1.0, 0.0, 1.0, 0.0])
    (mode,) = rep.localized_modes
    assert mode.side == "below" and mode.frequency < 0.4 and mode.pattern == "in phase"
    assert rep.steady_modes == (mode,) and rep.steady_pattern == Verdict.SYNC
    t = np.arange(0, 640, 0.05)
    x = probe_means(net, np.ravel(np.column_stack([x0, np.zeros(2)])), t)[:, 0::2]
    amp = np.array(mode.probe_amplitudes)
    loc = np.outer(np.cos(mode.frequency * t), amp * (amp @ x0))
    res = np.abs(x - loc)
    early, late = (t > 200) & (t < 250), (t > 500) & (t < 550)
    rate = -2 * np.log(res[late].max() / res[early].max()) / 300.0
    slow = max(r for r in rep.rayleigh.exact_rates if r > 1e-9)
    assert rate == pytest.approx(slow, rel=0.1)
    np.testing.assert_allclose(np.abs(x[late]).max(axis=0), mode.steady_amplitude, rtol=0.1)


@pytest.mark.parametrize("boundary", ["fixed", "free"])
def test_localized_modes_of_long_chains_from_the_schur_complement(monkeypatch, boundary):
    """Above the dense limit a chain's localized modes are its bound states, found from the P × P
    Schur complement S(μ) by inertia counts and bisection (closed-form resolvent for fixed ends,
    sparse LU otherwise; no N × N eigensolver, so M = 10⁶ takes under a second): frequencies,
    probe amplitudes (up to sign), decay lengths and steady amplitudes equal dense eigh's,
    here with the limit lowered below a 400-site chain; a probe below the band and one above it
    give localized modes on both sides."""
    net = nw.couple(nw.chain(400, 0.4, 1.2, boundary=boundary), nw.probes([0.2, 2.6], 0.05, [1, 3], [0.05, 0.9]))
    m0 = [0.14, 0.0, 1.4, 0.2]
    dense = lc.localized_modes(net, m0)
    monkeypatch.setattr(lc, "DENSE_LIMIT", 50)
    fast = lc.localized_modes(net, m0)
    assert len(dense) == len(fast) >= 2 and {m.side for m in dense} == {"below", "above"}
    for a, b in zip(dense, fast):
        assert a.side == b.side and a.pattern == b.pattern
        assert b.frequency == pytest.approx(a.frequency, rel=1e-12)
        np.testing.assert_allclose(np.abs(b.probe_amplitudes), np.abs(a.probe_amplitudes), atol=1e-10)
        assert b.decay_length == pytest.approx(a.decay_length, rel=1e-9)
        np.testing.assert_allclose(b.steady_amplitude, a.steady_amplitude, atol=1e-10)


def test_localized_modes_are_the_eigenvalues_outside_the_band():
    """Every eigenvalue ω² of the full V outside [Ω0², Ω0² + 4g] is listed (and no other), with
    cosh(1/ξ) = |Ω0² + 2g − ω²|/2g and the probe rows of the unit eigenvector; Fig. 1 at K = 0.2
    has none, at K = 0.8 one below the band (docs/analysis.md)."""
    net = nw.paper_network(sites=80, strengths=(0.8, 0.8))
    lam, u = np.linalg.eigh(net.potential())
    outside = (lam < 0.16) | (lam > 0.16 + 4.8)
    modes = lc.localized_modes(net)
    np.testing.assert_allclose([m.frequency for m in modes], np.sqrt(lam[outside]), rtol=1e-12)
    for m, k in zip(modes, np.flatnonzero(outside)):
        np.testing.assert_allclose(np.abs(m.probe_amplitudes), np.abs(u[:2, k]), atol=1e-12)
        assert m.probe_weight == pytest.approx(u[:2, k] @ u[:2, k], rel=1e-10)
        assert math.cosh(1 / m.decay_length) == pytest.approx(abs(0.16 + 2.4 - m.frequency**2) / 2.4, rel=1e-10)
    assert [m.side for m in modes] == ["below"]
    assert not lc.localized_modes(nw.paper_network(sites=80))


def test_steady_modes_keep_the_heavy_ones_heaviest_first():
    """steady_modes keeps the modes with probe weight > STEADY_WEIGHT, sorted by weight."""
    mk = lambda w: lc.LocalizedMode(1.0, "below", (math.sqrt(w), 0.0), w, 1.0, "in phase")  # noqa: E731
    modes = (mk(0.005), mk(0.2), mk(0.6))
    assert [m.probe_weight for m in lc.steady_modes(modes)] == [0.6, 0.2]
    assert lc.steady_modes((mk(lc.STEADY_WEIGHT),)) == ()
