"""Accuracy at the edges (issue 11): the exact moments against a 40-digit mpmath reference
(tests/reference_mp.py: σ(t) = S(t) σ(0) S(t)ᵀ, σ(0) = probes ⊗ thermal state of H_E alone),
on soft environments, hot soft modes, near-critical coupling and long times. Every case checks
that the error is small and that ``Evolution.error_bound`` is never below it; the cases named
in issue 11 also check that it is tight: bound ≤ 100·max(err, FLOOR·scale), FLOOR·scale being
the double-precision noise of a covariance of that scale (an error at that level cannot be
told from zero by a bound built from worst-case roundoff)."""

import numpy as np
import pytest

from harmosync import dynamics as dy
from harmosync.dynamics import reference as dyref
from harmosync import network as nw
from harmosync import states as st

from conftest import random_network, random_probe_state
from reference_mp import Reference

TIMES = np.array([0.0, 1.0, 10.0, 100.0, 1000.0])
#: relative noise floor of a double-precision covariance (see the module docstring)
FLOOR = 1e-13


def assert_tight(err, sol, scale, limit=100):
    """Honest (bound ≥ error) and tight (bound ≤ limit·max(error, noise floor)). ``limit`` is
    raised to 1000 only where the bound's frequency-error term dominates: it takes every
    eigenvalue off by the worst case 8ε‖V‖ and adds the phase errors coherently, while the
    actual phases err by ~ε‖V‖·t at random (hot soft chain, Fig. 4 up to t = 1500)."""
    assert err <= sol.error_bound
    assert sol.error_bound <= limit * max(err, FLOOR * scale), (err, sol.error_bound)


def soft_chain(m=20, omega0=1e-3, k=1e-3, boundary="free", temperature=0.0, sites=(1, 10)):
    """The audit's network: probes ω = (1, 1.1), λ = 0.3, coherent at x = (1, 0.5)."""
    net = nw.couple(nw.chain(m, omega0, 1.0, boundary), nw.probes((1.0, 1.1), 0.3, sites, (k, k)))
    state = st.product(st.coherent(1.0, 1.0), st.coherent(1.1, 0.5))
    return net, st.InitialState(state, temperature)


def errors(net, init, method, times=TIMES, observe=None, scale=False):
    ref_mean, ref_cov = Reference(net, init, observe=observe).moments(times)
    sol = dy.solve(net, init, method=method, observe=observe, t_max=float(times[-1]))
    m = sol.moments(times)
    out = float(np.abs(m.cov - ref_cov).max()), float(np.abs(m.mean - ref_mean).max()), sol
    return out + (float(np.abs(ref_cov).max()),) if scale else out


@pytest.mark.parametrize("seed", range(3))
def test_reference_agrees_with_the_float_propagator(seed):
    """The reference itself: S(t) σ(0) S(t)ᵀ with dynamics.propagator (float eigh) on benign networks."""
    net = random_network(seed, probes=2, sites=6)
    init = st.InitialState(random_probe_state(seed, net.probes.frequencies), 0.3 * seed)
    ref = Reference(net, init)
    for t in (0.0, 2.5, 40.0):
        s = dyref.propagator(net, t)
        full = s @ dyref.initial_covariance(net, init) @ s.T
        np.testing.assert_allclose(ref.at(t)[1], full[:4, :4], atol=1e-12)


@pytest.mark.parametrize("method", ["dense", "chain"])
def test_soft_free_chain_at_zero_temperature_keeps_its_digits(method):
    """The audit's case (Ω0 = 0.001, free ends: a mode at ω ≈ 0.00095): σ(0) is the product state
    exactly, and σ(t) agrees with the reference to 1e-12 (it was off by 2e-5)."""
    net, init = soft_chain()
    err, err_mean, sol, scale = errors(net, init, method, scale=True)
    assert err < 1e-12
    assert err_mean < 1e-11
    assert_tight(err, sol, scale)


@pytest.mark.parametrize("method", ["dense", "chain"])
def test_soft_free_chain_strong_coupling(method):
    """Ω0 = 0.005, K = 0.01 (refused as unphysical before): errors at roundoff."""
    net, init = soft_chain(omega0=5e-3, k=1e-2)
    err, _, sol, scale = errors(net, init, method, scale=True)
    assert err < 1e-12
    assert_tight(err, sol, scale)


@pytest.mark.parametrize("method", ["dense", "chain"])
def test_hot_soft_mode(method):
    """T = 0.5 with a mode at ω ≈ 0.001: ⟨X²⟩ ≈ T/ω² ~ 5e5 along it. The dense path is limited
    by the float V (its soft eigenvalue moves by ε‖V‖): the bound must say so."""
    net, init = soft_chain(temperature=0.5)
    err, _, sol, scale = errors(net, init, method, scale=True)
    assert err < 1e-10
    assert_tight(err, sol, scale, limit=100 if method == "dense" else 1000)


@pytest.mark.parametrize("method", ["dense", "chain"])
def test_soft_fixed_chain_warm_and_observed_site(method):
    """Fixed ends, Ω0 = 1e-4, K = 0.1, T = 0.2; a chain site observed too."""
    net, init = soft_chain(m=30, omega0=1e-4, k=0.1, boundary="fixed", temperature=0.2)
    err, _, sol, scale = errors(net, init, method, observe=[0, 1, 2 + 14], scale=True)
    assert err < 1e-11
    assert_tight(err, sol, scale)


def test_near_critical_coupling():
    """K at 99.9% of the stability limit: the lowest mode of V is soft although the chain is not."""
    env = nw.chain(12, 0.5, 1.0, "fixed")
    ge = np.linalg.inv(env.potential())[0, 0]
    k = 0.999 * np.sqrt(1.0 / ge)  # one probe, ω = 1: stable iff K² (V_E⁻¹)_11 < ω²
    net = nw.couple(env, nw.probes([1.0], 0.0, [1], [k]))
    init = st.InitialState(st.coherent(1.0, 0.7))
    err, _, sol = errors(net, init, "dense", times=np.array([0.0, 50.0, 500.0]))
    assert sol.frequencies[0] < 0.05
    assert err < 1e-10
    assert err <= sol.error_bound


@pytest.mark.parametrize("seed", range(6))
def test_bound_is_honest_on_seeded_random_soft_networks(seed):
    """Seeded random chains and graphs, half of them with an on-site frequency scaled down to
    a soft 1e-3…1e-2, at T = 0 or T > 0: error ≤ bound, and the error itself small."""
    rng = np.random.default_rng(100 + seed)
    kind = "chain" if seed % 2 else "graph"
    base = random_network(seed, probes=2, sites=8, kind=kind)
    env = base.environment
    if kind == "chain":
        env = nw.chain(8, float(rng.uniform(1e-3, 1e-2)), env.g, "free")
    pr = base.probes
    if kind == "chain":  # K ≲ ω Ω0 √M keeps the softened network stable
        om0 = env.omega0
        pr = nw.probes(pr.frequencies, float(pr.coupling[0, 1]), [s for _, s, _ in pr.attachments],
                       [float(np.sign(k)) * 0.3 * om0 for _, _, k in pr.attachments])
    net = nw.couple(env, pr)
    init = st.InitialState(random_probe_state(seed, net.probes.frequencies), float(rng.choice([0.0, 0.4])))
    err, _, sol = errors(net, init, "dense", times=np.array([0.0, 7.0, 300.0]))
    assert err <= sol.error_bound
    assert err < 1e-10


@pytest.mark.parametrize("figure", ["fig1", "fig4"])
def test_paper_runs_bound_is_tight(figure):
    """The paper's Fig. 1 (coherent probes, λ = 0.5, K = 0.2) and Fig. 4 (r = 2 squeezed probes,
    K = 0.8) parameters on a 40-site fixed chain (the 300-site runs: benchmarks/bench_accuracy.py),
    up to t = 1500: error at roundoff, bound honest and within 100× of it (or of the floor)."""
    if figure == "fig1":
        net = nw.paper_network(sites=40)
        init = st.InitialState(st.product(st.coherent(1.0, 0.14), st.coherent(1.1, 1.4)))
    else:
        net = nw.paper_network(sites=40, frequencies=(1.0, 1.2), coupling=0.0, strengths=(0.8, 0.8))
        init = st.InitialState(st.product(st.squeezed(1.0, 2.0), st.squeezed(1.2, 2.0)))
    times = np.array([0.0, 1.0, 10.0, 100.0, 1500.0])
    err, _, sol, scale = errors(net, init, "dense", times=times, scale=True)
    assert err < 1e-12 * scale
    assert_tight(err, sol, scale, limit=100 if figure == "fig1" else 1000)


@pytest.mark.parametrize("temperature", [0.0, 0.3])
@pytest.mark.parametrize("method", ["dense", "chain"])
def test_acoustic_fixed_chain(method, temperature):
    """Ω0 = 0 with fixed ends (issue 11, item 5): V_E = g·tridiag(−1, 2, −1), lowest mode
    2√g sin(π/2(M+1)) = 0.15 for M = 20. A squeezed probe and a coherent one, T = 0 and T > 0:
    moments at roundoff against the reference, and the bound honest."""
    net = nw.couple(nw.chain(20, 0.0, 1.0, "fixed"), nw.probes((1.0, 1.1), 0.3, (1, 10), (0.1, 0.1)))
    init = st.InitialState(st.product(st.coherent(1.0, 1.0), st.squeezed(1.1, 0.5, x=0.5)), temperature)
    assert net.environment.frequencies()[0] == pytest.approx(2 * np.sin(np.pi / 42), rel=1e-14)
    err, err_mean, sol, scale = errors(net, init, method, scale=True)
    assert err < 1e-12 * scale and err_mean < 1e-12
    assert_tight(err, sol, scale, limit=1000)


# ----------------------------------------------------------------------------------------------
# Measures of strongly squeezed two-mode states (issue 11, item 4), against mpmath
# ----------------------------------------------------------------------------------------------
import mpmath as mp  # noqa: E402

from harmosync import measures as ms  # noqa: E402

#: the two-mode families: (kind, symplectic eigenvalues); "tmsv" is the two-mode squeezed
#: vacuum (E_N = 2r), "mixed" local squeezings r, r/2 at angles then a generic passive mixing
#: (what the dynamics makes of squeezed probes), "product" two rotated single-mode squeezed vacua
FAMILIES = [("tmsv", (0.5, 0.5)), ("mixed", (0.5, 0.5)), ("mixed", (0.6, 1.5)), ("product", (0.5, 0.5))]
MEASURES = ("nu_min", "S_A", "S_AB", "MI", "E_N")


def _mp_block(a, b):
    m = mp.zeros(4, 4)
    for i in range(2):
        for j in range(2):
            m[i, j], m[2 + i, 2 + j] = a[i, j], b[i, j]
    return m


def _mp_squeeze(r, phi=0):
    """S(ξ) in scaled quadratures: S Sᵀ = 2σ of the squeezed vacuum (docs/conventions.md)."""
    c, s, cp, sp = mp.cosh(r), mp.sinh(r), mp.cos(phi), mp.sin(phi)
    return mp.matrix([[c - s * cp, -s * sp], [-s * sp, c + s * cp]])


def _mp_passive(theta, phase1=0, phase2=0):
    def rot(a):
        return mp.matrix([[mp.cos(a), mp.sin(a)], [-mp.sin(a), mp.cos(a)]])
    c, s = mp.cos(theta), mp.sin(theta)
    return mp.matrix([[c, 0, s, 0], [0, c, 0, s], [-s, 0, c, 0], [0, -s, 0, c]]) * _mp_block(rot(phase1), rot(phase2))


def squeezed_two_mode_state(kind: str, r: float, nu=(0.5, 0.5), dps: int = 80) -> mp.matrix:
    """σ = S diag(ν1, ν1, ν2, ν2) Sᵀ exactly (mpmath, ``dps`` digits), interleaved, for the
    families of FAMILIES (Williamson form: the ν are its symplectic eigenvalues)."""
    with mp.workdps(dps):
        r = mp.mpf(r)
        if kind == "tmsv":
            s = _mp_passive(mp.pi / 4) * _mp_block(_mp_squeeze(r), _mp_squeeze(r, mp.pi))
        elif kind == "mixed":
            s = _mp_block(_mp_squeeze(mp.mpf("0.2")), _mp_squeeze(mp.mpf("0.1"))) \
                * _mp_passive(mp.mpf("0.37"), mp.mpf("1.1"), mp.mpf("-0.4")) \
                * _mp_block(_mp_squeeze(r, mp.mpf("0.3")), _mp_squeeze(r / 2, mp.mpf("2.0")))
        else:
            s = _mp_block(_mp_squeeze(r, mp.mpf("0.7")), _mp_squeeze(r, mp.mpf("2.3")))
        return s * mp.diag([mp.mpf(nu[0])] * 2 + [mp.mpf(nu[1])] * 2) * s.T


def _mp_nus(s):
    n = s.rows // 2
    om = mp.zeros(2 * n, 2 * n)
    for k in range(n):
        om[2 * k, 2 * k + 1], om[2 * k + 1, 2 * k] = 1, -1
    nu = sorted(abs(mp.im(e)) for e in mp.eig(om * s, left=False, right=False))
    return nu[0::2]


def _mp_entropy(nus):
    half = mp.mpf(1) / 2
    return mp.fsum((v + half) * mp.log(v + half) - ((v - half) * mp.log(v - half) if v > half else 0) for v in nus)


def mp_measures(s, dps: int = 80) -> dict:
    """ν_min, S(mode 1), S(both), I, E_N of the two-mode σ (mpmath) from the definitions:
    ν = |eigenvalues of Ωσ|, S = Σ (ν+½)ln(ν+½) − (ν−½)ln(ν−½), E_N = Σ max(0, −ln 2ν̃)."""
    with mp.workdps(dps):
        sub = [mp.matrix([[s[i, j] for j in idx] for i in idx]) for idx in ((0, 1), (2, 3))]
        pt = s.copy()
        for j in range(4):
            pt[3, j], pt[j, 3] = -pt[3, j], -pt[j, 3]
        pt[3, 3] = s[3, 3]
        nus = _mp_nus(s)
        sa, sb, sab = _mp_entropy(_mp_nus(sub[0])), _mp_entropy(_mp_nus(sub[1])), _mp_entropy(nus)
        en = mp.fsum(max(mp.mpf(0), -mp.log(2 * v)) for v in _mp_nus(pt))
        return {"nu_min": nus[0], "S_A": sa, "S_AB": sab, "MI": sa + sb - sab, "E_N": en}


def float_measures(cov) -> dict:
    return {"nu_min": ms.symplectic_eigenvalues(cov)[0], "S_A": ms.von_neumann_entropy(ms.reduced(cov, [0])),
            "S_AB": ms.von_neumann_entropy(cov), "MI": ms.mutual_information(cov), "E_N": ms.log_negativity(cov)}


def measure_errors(kind, r, nu, perturbations: int = 6, seed: int = 0):
    """({measure: |float − exact|}, {measure: conditioning}) for one state: the float measures of
    σ rounded to double against the exact ones, and what the covariance's conditioning allows,
    max over ``perturbations`` random relative perturbations of σ's entries by ≤ ε/2 (a
    rounding) of the exact measures' change (mpmath throughout)."""
    rng = np.random.default_rng(seed)
    s = squeezed_two_mode_state(kind, r, nu)
    exact = mp_measures(s)
    cov = np.array([[float(s[i, j]) for j in range(4)] for i in range(4)])
    got = float_measures(cov)
    err = {k: abs(float(got[k]) - float(exact[k])) for k in MEASURES}
    cond = dict.fromkeys(MEASURES, 0.0)
    for _ in range(perturbations):
        e = rng.uniform(-1, 1, (4, 4)) * 2.0**-53
        e = (e + e.T) / 2
        with mp.workdps(80):
            sp = mp.matrix([[s[i, j] * (1 + mp.mpf(float(e[i, j]))) for j in range(4)] for i in range(4)])
            m = mp_measures(sp)
        for k in MEASURES:
            cond[k] = max(cond[k], float(abs(m[k] - exact[k])))
    return err, cond


@pytest.mark.parametrize("r", [1.0, 3.0, 5.0])
@pytest.mark.parametrize("kind, nu", FAMILIES)
def test_measures_of_squeezed_states_lose_no_more_than_the_conditioning(kind, r, nu):
    """Issue 11, item 4: ν_min, entropies, I and E_N of σ rounded to double are within 10× of
    what rounding σ's entries alone does to the exact measures (plus 1e-14: roundoff of the
    measure's own value), up to the largest r a config accepts. The exact two-mode squeezed
    vacuum has E_N = 2r (Eq.: ν̃_min = e^{−2r}/2)."""
    err, cond = measure_errors(kind, r, nu)
    for k in MEASURES:
        assert err[k] <= 10 * cond[k] + 1e-14, (k, err[k], cond[k])
    if kind == "tmsv":
        s = squeezed_two_mode_state(kind, r, nu)
        assert float(mp_measures(s)["E_N"]) == pytest.approx(2 * r, rel=1e-15)


def test_largest_accepted_squeezing_keeps_six_digits_of_the_measures():
    """At config.MAX_SQUEEZING (docs/conventions.md, "Measures of strongly squeezed states"), I and
    E_N of every family keep an absolute error ≤ 1e-6 nats and ν_min ≤ 1e-7; one step beyond
    (r + 1) they would not. The config refuses larger r."""
    from harmosync import config
    from harmosync.errors import HarmosyncError

    r = config.MAX_SQUEEZING
    worst = {k: max(measure_errors(kind, r, nu)[0][k] for kind, nu in FAMILIES) for k in MEASURES}
    assert worst["MI"] <= 1e-6 and worst["E_N"] <= 1e-6 and worst["nu_min"] <= 1e-7, worst
    beyond = {k: max(measure_errors(kind, r + 1, nu)[0][k] for kind, nu in FAMILIES) for k in MEASURES}
    assert max(beyond["MI"], beyond["E_N"]) > 1e-6, beyond
    base = {"chain": {"sites": 4, "omega0": 0.4, "g": 1.2},
            "probes": {"frequencies": [1.0, 1.2], "sites": [1, 1], "strengths": [0.2, 0.2]},
            "time": {"stop": 10.0, "step": 0.05}}
    config.parse(base | {"initial": {"squeezing": [r, r]}}).build_state()
    with pytest.raises(HarmosyncError, match=rf"initial.squeezing: squeezing r = {r + 0.5:g} is too large.*r ≤ {r:g}"):
        config.parse(base | {"initial": {"squeezing": [r + 0.5, 0.0]}})
