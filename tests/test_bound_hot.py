"""Session 17 (issue 11, item 2): the bound on hot environments with cold, soft probes, against
the 40-digit reference (tests/reference_mp.py), chain and dense paths.

A soft probe in a hot environment starts far from the network's thermal state: Δ has
eigenvalues ~ −T/w (−6e6 at T = 700, w = 1e-4) on the probes' modes, against a probe state ~1.
Two terms used to charge that size to entries that never see it:
  * the eigh of Δ's core (lowrank.core_roundoff): LAPACK's backward error ε‖c‖ ≈ 1e-9 leaves
    noise eigenpairs on the stiff modes' columns; the residual of all the pairs and the dropped
    pairs (lowrank._dropped_error) each carry them, read out through √w ~ 100 of a stiff mode,
    while in the kept pairs' residual they cancel (the smaller of the two is kept);
  * the phase part of evaluation_roundoff: Δ ≈ −ν I on a hot probe's mode, which a phase error
    leaves as it is (roundoff._isotropic_phase; tests/test_isotropic_phase.py).
Measured (err, bound, ratio), before session 17 → now (bound / max(err, 1e-13·max|σ|)):
  stiff_soft chain 9.1e-13, 6.6e-5 (3.1e5×) → 3.8e-10 (1.8×); dense 1.4e-12, 1.2e-5 (5.8e4×) → 2.0×;
  stiff_long chain 1.0e-9, 2.0e-7 (190×) → 4.8e-8 (46×); dense 7.1e-10, 2.1e-7 (294×) → 67×.
And the soft modes of a stiff chain (softmodes.soft_mode_errors): their Rayleigh–Ritz vectors
in double leave residuals ~ε·g·|x| (1e-9 at g = 3e7), whose Kato–Temple enclosure (1e-16) was
kept even where the chain path's secular roots, refined by Dot2, were known within 1e-21; now
the smaller of the two (the given radius moved to ρ bounds it too): 5.1e3× → 77× (chain path;
the dense path has no such roots: 2.4e3× → 1.4e3×, its enclosures 1.5e5× their errors)."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from reference_mp import Reference, potentials_mp

from harmosync import dynamics as dy
from harmosync import network as nw
from harmosync import states as st

#: (M, g, Ω0, boundary, probe ω, their site, K, T, squeezing r, observed, t_max)
CASES = {
    # a stiff fixed chain (modes up to ~6e3), three soft probes at its end, T = 700, chain sites read
    "stiff_soft": (12, 1e7, 1e-3, "fixed", (1e-4, 2e-3, 0.08), 12, 2e-8, 700.0, (0.3, 1.0, 0.0), [4, 5, 10], 9.0),
    # the probes read too, t up to 1900 (w t ~ 130 on the softest probe)
    "stiff_long": (16, 3e6, 1.5, "fixed", (4e-3, 2e-2, 0.07), 10, 5e-7, 16.0, (1.0, 0.2, 0.5), [0, 6, 12], 1900.0),
}


def _solve(name, method):
    m, g, om0, bnd, freqs, site, k, temp, rs, obs, t_max = CASES[name]
    net = nw.couple(nw.chain(m, om0, g, bnd), nw.probes(freqs, 0.0, [[site]] * len(freqs), [[k]] * len(freqs)))
    init = st.InitialState(st.product(*(st.squeezed(w, r, 0.7, x=0.3, p=-0.5) for w, r in zip(freqs, rs))), temp)
    times = [0.0, t_max / 7, t_max]
    ref_mean, ref_cov = Reference(net, init, observe=obs).moments(times)
    sol = dy.solve(net, init, method=method, observe=obs, t_max=t_max)
    got = sol.moments(times)
    err = max(float(np.abs(got.cov - ref_cov).max()), float(np.abs(got.mean - ref_mean).max()))
    return err, sol.error_bound, 1e-13 * float(np.abs(ref_cov).max())


@pytest.mark.parametrize("method", ["chain", "dense"])
@pytest.mark.parametrize("name", list(CASES))
def test_hot_environment_with_soft_probes_is_honest_and_tight(name, method):
    err, bound, floor = _solve(name, method)
    assert err <= bound
    assert bound <= 100 * max(err, floor)


def test_soft_modes_of_a_stiff_chain_keep_the_secular_roots_enclosures():
    """A free chain g = 3e7, Ω0 = 1.5e-3 (its uniform mode μ = 2.25e-6 beside 1.2e8) with a soft
    probe ω = 2e-3 at its end, T = 13, t to 900: each of the two soft modes' enclosure holds its
    exact eigenvalue (50 digits) within 100× of its error, and the bound is within 100×."""
    net = nw.couple(nw.chain(10, 1.5e-3, 3e7, "free"),
                    nw.probes((2e-3, 0.05, 0.26), 0.0, [[1], [1], [1]], [[1e-8], [5e-5], [4.5e-7]]))
    init = st.InitialState(st.product(st.squeezed(2e-3, 0.5, 0.3, x=0.4, p=0.1), st.coherent(0.05, 0.2, -0.3),
                                      st.squeezed(0.26, 1.0, 1.1, x=-0.5, p=0.2)), 13.0)
    obs, t_max = [0, 1, 2, 3, 10], 900.0
    times = np.union1d([0.0, t_max / 7], np.linspace(0.9 * t_max, t_max, 40))
    ref_mean, ref_cov = Reference(net, init, observe=obs).moments(times)
    sol = dy.solve(net, init, method="chain", observe=obs, t_max=t_max)
    got = sol.moments(times)
    err = max(float(np.abs(got.cov - ref_cov).max()), float(np.abs(got.mean - ref_mean).max()))
    assert err <= sol.error_bound <= 100 * max(err, 1e-13 * float(np.abs(ref_cov).max()))
    mu = sol.frequencies**2
    with mp.workdps(50):
        exact = sorted(mp.eigsy(potentials_mp(net)[0], eigvals_only=True))
        actual = np.array([float(abs(mp.mpf(float(m)) - x)) for m, x in zip(mu[:2], exact[:2])])
    assert np.all(actual <= sol.mu_error[:2])
    assert np.all(sol.mu_error[:2] <= 100 * actual)
