"""The light cone of the chain (harmosync.lightcone) and the cut it allows.

* the maximal group velocity of ω² = Ω0² + 4g sin²(k/2) (closed form) against a numerical
  maximum of dω/dk, and its Ω0 → 0 limit √g;
* the Chebyshev-tail bounds behind the cut against the actual Chebyshev coefficients of
  cos(t√x), sin(t√x)/√x, √x sin(t√x) and ½x^{-1/2} (type-II DCT), and their tightness;
* the spectrum bounds against numpy.linalg.eigvalsh (incl. a bound state below the band);
* a cut chain against the uncut one (same exact solver) within the stated bound — probes at
  the end, in the interior with an observed site, a thermal chain, an almost gapless chain;
* a scaled-down W4 (M = 2000, probes at sites 1 and 2, cut to the light cone) against scipy's
  DOP853 on the probe rows of the full propagator;
* the cut matters: beyond t_max the solution is refused, and evaluated anyway it departs from
  the uncut one once the reflection from the cut returns.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.fft import dct
from test_dynamics_structured import probe_rows_ivp

from harmosync import dynamics as dy
from harmosync import lightcone as lc
from harmosync import network as nw
from harmosync import states as st
from harmosync.conventions import to_block
from harmosync.errors import HarmosyncError

COHERENT = st.InitialState(st.product(st.coherent(1.0, 0.14), st.coherent(1.1, 1.4)))
SQUEEZED = st.InitialState(st.product(st.squeezed(1.0, 1.0), st.squeezed(1.2, 1.0, 0.5)))


@pytest.mark.parametrize("omega0, g", [(0.4, 1.2), (1.0, 0.3), (1e-4, 2.0), (1e-9, 1.2), (0.0, 1.5), (30.0, 0.01)])
def test_max_group_velocity(omega0, g):
    """v_max = max_k dω/dk for ω(k)² = Ω0² + 4g sin²(k/2); → √g as Ω0 → 0."""
    k = np.linspace(0, np.pi, 400_001)
    om = np.sqrt(omega0**2 + 4 * g * np.sin(k / 2) ** 2)
    numeric = np.max(np.gradient(om, k))
    assert np.isclose(lc.max_group_velocity(omega0, g), numeric, rtol=1e-6)
    if omega0 < 1e-3:
        assert np.isclose(lc.max_group_velocity(omega0, g), np.sqrt(g), rtol=1e-3)


def chebyshev_coefficients(f, a, b, k=8192):
    th = np.pi * (np.arange(k) + 0.5) / k
    x = 0.5 * (a + b) + 0.5 * (b - a) * np.cos(th)
    c = dct(f(x), type=2) / k
    c[0] /= 2
    return c


@pytest.mark.parametrize("tol", [1e-6, 1e-10])
@pytest.mark.parametrize("t", [10.0, 100.0, 400.0])
def test_propagation_tail_bound_holds_and_is_tight(t, tol):
    """Σ_{k>n} |c_k| ≤ stated tail for the three propagator functions; n exceeds the true
    minimal degree by < 10% (+5) — the cut is close to the real light cone."""
    a, b = 0.16, 5.16
    n, tail = lc.propagation_degree(t, a, b, tol)
    assert tail <= tol
    need = 0
    for f in (lambda x: np.cos(t * np.sqrt(x)), lambda x: np.sin(t * np.sqrt(x)) / np.sqrt(x),
              lambda x: np.sqrt(x) * np.sin(t * np.sqrt(x))):
        c = np.abs(chebyshev_coefficients(f, a, b))
        assert c[n + 1: 4 * n + 50].sum() <= tail
        rest = np.cumsum(c[::-1])[::-1]
        need = max(need, int(np.argmax(rest < tol)))
    assert n <= 1.1 * need + 5


def test_correlation_tail_bound_holds():
    """Chebyshev tail of the ground-state functions ½x^{∓1/2} on the chain's band."""
    a, b = 0.16, 0.16 + 4 * 1.2
    n, tail = lc.correlation_degree(a, b, 0.0, 1e-10)
    for f in (lambda x: 0.5 / np.sqrt(x), lambda x: 0.5 * np.sqrt(x)):
        c = np.abs(chebyshev_coefficients(f, a, b))
        assert c[n + 1:].sum() <= tail


@pytest.mark.parametrize("strengths, plug", [((0.2, 0.2), (1, 1)), ((0.8, 0.8), (1, 1)), ((0.5, -0.7), (3, 9))])
def test_spectrum_bounds_contain_spectrum(strengths, plug):
    net = nw.paper_network(sites=60, frequencies=(1.0, 1.2), coupling=0.0, strengths=strengths, plug=plug)
    lam = np.linalg.eigvalsh(net.potential())
    a, b = lc.spectrum_bounds(net)
    assert a <= lam[0] and lam[-1] <= b
    assert lam[0] - a < 1e-6 * max(1.0, abs(lam[0])) or a >= 0.16 * (1 - 1e-9)


CUT_CASES = {
    "end": ({"sites": 1500, "plug": (1, 2)}, COHERENT, (0, 1), 300.0),
    "interior+site": ({"sites": 1500, "plug": (700, 705), "strengths": (0.3, -0.25)}, SQUEEZED, (0, 1, 2 + 709),
                      250.0),
    "thermal": ({"sites": 1500, "plug": (1, 1), "strengths": (0.8, 0.8), "frequencies": (1.0, 1.2), "coupling": 0.0},
                st.InitialState(SQUEEZED.probes, 0.4), (0, 1), 250.0),
}


@pytest.mark.parametrize("case", sorted(CUT_CASES))
def test_cut_chain_matches_uncut_within_bound(case):
    """The light-cone cut reproduces the uncut chain's moments for |t| ≤ t_max within what the
    method delivers: the cut's own tolerance CUT_TOL = 1e-13 plus the evaluation's roundoff,
    2e-13 of the moments' scale (measured: ≤ 6.4e-14 on σ ≈ 4.5); and within the two stated
    bounds (≤ 1e-10: the trig sums' roundoff up to t_max, counted since issue 11)."""
    kw, init, rows, t_max = CUT_CASES[case]
    net = nw.paper_network(**kw)
    cut = dy.solve(net, init, observe=rows, t_max=t_max)
    full = dy.solve(net, init, observe=rows)
    assert cut.method.endswith("+lightcone") and full.window is None
    lo, hi = cut.window
    assert hi - lo + 1 < 0.6 * net.environment.sites
    t = np.linspace(0, t_max, 2001)
    a, b = cut.moments(t), full.moments(t)
    diff_mean, diff_cov = np.abs(a.mean - b.mean).max(), np.abs(a.cov - b.cov).max()
    assert diff_mean <= lc.CUT_TOL + 2e-13 * max(1.0, np.abs(b.mean).max())
    assert diff_cov <= lc.CUT_TOL + 2e-13 * max(1.0, np.abs(b.cov).max())
    assert max(diff_mean, diff_cov) <= cut.error_bound + full.error_bound
    assert cut.error_bound < 1e-10


def test_nearly_gapless_chain_cut():
    """Ω0 = 0.05 (ground-state correlations decay over ~√g/Ω0 = 20 sites): within CUT_TOL plus
    2e-13 of σ's scale (measured 3.7e-13 on σ ≈ 3.7), and within the stated bounds."""
    net = nw.couple(nw.chain(2500, 0.05, 1.0), nw.probes((1.0, 1.1), 0.5, (1, 1), (0.2, 0.2)))
    cut = dy.solve(net, SQUEEZED, t_max=200.0)
    full = dy.solve(net, SQUEEZED)
    assert cut.window is not None
    t = np.linspace(0, 200, 801)
    a, b = cut.moments(t), full.moments(t)
    diff = np.abs(a.cov - b.cov).max()
    assert diff <= lc.CUT_TOL + 2e-13 * np.abs(b.cov).max()
    assert diff <= cut.error_bound + full.error_bound


def test_gapless_limit_keeps_the_whole_chain_quietly():
    """Ω0 = 1e-6: the lowest eigenvalue (~1e-12) is inside the spectrum bound's safety margin,
    so no positive lower bound exists and no cut is made (the exact uncut solution, no
    RuntimeWarning from a square root of a negative bound)."""
    import warnings

    net = nw.couple(nw.chain(400, 1e-6, 1.2), nw.probes((1.0, 1.1), 0.5, (1, 1), (0.2, 0.2)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert lc.window(net, 30.0) is None
        sol = dy.solve(net, COHERENT, t_max=30.0)
    assert sol.window is None


def test_acoustic_chain_is_not_cut():
    """Ω0 = 0 (fixed ends): the ground state's correlations ½x^(-1/2) are singular at the band's
    edge 0, so no Chebyshev degree bounds the cut: no window, no warning, and the uncut exact
    solution (the long chain still needs t_max only to pick the method)."""
    import warnings

    net = nw.couple(nw.chain(3000, 0.0, 1.0), nw.probes((1.0, 1.1), 0.5, (1, 1), (0.2, 0.2)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert lc.window(net, 50.0) is None
        sol = dy.solve(net, COHERENT, t_max=50.0)
        m = sol.moments(np.linspace(0, 50, 6))
    assert sol.window is None and np.all(np.isfinite(m.cov))


def test_cut_scaled_down_w4_against_solve_ivp():
    """Scaled-down W4: M = 2000, probes at sites 1 and 2, cut at t_max = 40, against DOP853 on
    the probe rows of the *full* chain's propagator: ⟨R_P⟩ and σ_PP to 1e-8."""
    net = nw.paper_network(sites=2000, plug=(1, 2))
    init = st.InitialState(st.product(st.squeezed(1.0, 0.8, 0.2, x=0.3), st.coherent(1.1, 1.4)))
    times = np.linspace(0, 40, 5)
    m = dy.solve(net, init, t_max=float(np.max(np.abs(times)))).moments(times)  # evolve passes t_max = 40: the chain is cut
    sol = dy.solve(net, init, t_max=40.0)
    assert sol.window is not None and sol.window[1] < 200
    s_p = probe_rows_ivp(net.potential(), 2, times)
    # environment ground state in the chain's closed-form modes: ½ W diag(1/Ω) Wᵀ, ½ W diag(Ω) Wᵀ
    om, w = nw.chain_modes(2000, 0.4, 1.2)
    n = net.size
    sx, spp = s_p[:, :, 2:n], s_p[:, :, n + 2:]
    env_part = 0.5 * ((sx @ w) / om) @ np.swapaxes(sx @ w, 1, 2) + 0.5 * ((spp @ w) * om) @ np.swapaxes(spp @ w, 1, 2)
    pb = to_block(init.probes.cov)
    pidx = np.r_[0:2, n:n + 2]
    sp_ = s_p[:, :, pidx]
    cov_ref = sp_ @ pb @ np.swapaxes(sp_, 1, 2) + env_part
    mean_ref = sp_ @ to_block(init.probes.mean)
    np.testing.assert_allclose(to_block(m.mean), mean_ref, atol=1e-8)
    np.testing.assert_allclose(to_block(m.cov), cov_ref, atol=1e-8)


def test_cut_solution_refuses_later_times_and_would_be_wrong():
    """Beyond t_max the cut solution is refused; forced past it, it departs from the uncut
    chain once the reflection from the cut is back (t ≈ 2 × window / v_max)."""
    net = nw.paper_network(sites=1200, plug=(1, 1), strengths=(0.5, 0.5))
    cut = dy.solve(net, COHERENT, t_max=100.0)
    with pytest.raises(HarmosyncError, match="t_max"):
        cut.moments(np.linspace(0, 101, 11))
    lo, hi = cut.window
    back = 2 * (hi - lo + 1) / lc.max_group_velocity(0.4, 1.2)
    forced = dataclasses.replace(cut, t_max=np.inf)
    full = dy.solve(net, COHERENT)
    t = np.linspace(0, 1.5 * back, 3001)
    diff = np.abs(forced.moments(t).mean - full.moments(t).mean).max(axis=1)
    assert diff[t <= 100].max() < 1e-11
    assert diff[t > 1.2 * back].max() > 1e-4


def test_huge_chain_without_t_max_is_refused_with_the_fix():
    """A 200 000-site chain without t_max would need ~N² work: refused, naming t_max; with
    t_max the cut makes it small."""
    net = nw.paper_network(sites=200_000, plug=(1, 2))
    with pytest.raises(HarmosyncError, match="t_max"):
        dy.solve(net, COHERENT)
    sol = dy.solve(net, COHERENT, t_max=50.0)
    assert sol.window is not None and sol.window[1] < 300


def test_propagation_degree_exceeds_light_cone_distance():
    """The cheap exit of ``window`` relies on n_prop ≥ v_max·t_max (the Chebyshev degree of the
    propagator is at least the light-cone distance in sites)."""
    import harmosync.network as nw_
    from harmosync import lightcone as lc_

    for om0, g in [(0.4, 1.2), (0.05, 2.0), (1.0, 0.1), (2.0, 5.0)]:
        net = nw_.couple(nw_.chain(3000, om0, g), nw_.probes((1.0, 1.1), 0.5, (1, 1), (0.2, 0.2)))
        a, b = lc_.spectrum_bounds(net)
        for t in (1.0, 10.0, 100.0, 1000.0):
            n, _ = lc_.propagation_degree(t, a, b, 1e-15)
            assert n >= lc_.max_group_velocity(om0, g) * t
