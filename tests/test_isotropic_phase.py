"""Session 17 (issue 11, item 2): the phase part of the covariance's evaluation error through Δ's
rows on its mostly isotropic modes (roundoff._isotropic_modes, _isotropic_phase).

σ(t) = const + F(t)ΔF(t)ᵀ in scaled normal coordinates, F's rows the observed x and p rows mode
by mode. The computed F̃ runs at μ̃_k, the exact F at μ_k (|μ_k − μ̃_k| ≤ e_k) with the initial
state exact in unscaled coordinates (roundoff.mode_terms):
  x row: F̃_k = U_ak (cos w̃t, sin w̃t)/√w̃,      F_k = U_ak (cos wt/√w̃, √w̃ sin wt/w),
  p row: F̃_k = U_ak √w̃ (−sin w̃t, cos w̃t),     F_k = U_ak (−w sin wt/√w̃, √w̃ cos wt).
On a hot mode Δ's block is ≈ −ν_k I (a cold probe in a hot environment), which a phase leaves
as it is: |FΔFᵀ − F̃ΔF̃ᵀ| there is set by the block less its isotropic part, not by ν_k · t·e_k.
Here the exact difference, on a fine grid of t, against the bound."""

from __future__ import annotations

import numpy as np
import pytest

from harmosync.solvers import roundoff as ro


def _rows(u, w_comp, w_true, t):
    """(computed, exact) functionals (T, 2n, 2N) of the x rows then the p rows, columns (q_k, p_k)
    interleaved as [q_0 … q_N-1, p_0 … p_N-1]."""
    t = np.asarray(t)[:, None, None]
    sw = np.sqrt(w_comp)
    c, s = np.cos(w_comp * t), np.sin(w_comp * t)
    ct, st = np.cos(w_true * t), np.sin(w_true * t)
    comp = np.concatenate([np.concatenate([u * c / sw, u * s / sw], axis=2),
                           np.concatenate([-u * s * sw, u * c * sw], axis=2)], axis=1)
    true = np.concatenate([np.concatenate([u * ct / sw, u * sw * st / w_true], axis=2),
                           np.concatenate([-u * w_true * st / sw, u * sw * ct], axis=2)], axis=1)
    return comp, true


def _hot_delta(rng, n_modes, hot, nu, mix, state=1.0):
    """Δ (2N × 2N): −ν I on the ``hot`` modes' blocks plus a random symmetric part of size
    ``state`` (a probe's state) and couplings ``mix`` (rank 3) among all modes."""
    d = np.zeros((2 * n_modes, 2 * n_modes))
    for k in hot:
        idx = [k, n_modes + k]
        a = rng.normal(size=(2, 2))
        d[np.ix_(idx, idx)] = -nu * np.eye(2) + state * (a + a.T) / 2
    b = rng.normal(size=(2 * n_modes, 3))
    d += mix * (b @ b.T)
    return 0.5 * (d + d.T)


#: (Δ's state part on the hot modes, coupling to the rest): a probe's state ~1 and weak
#: couplings; exactly −ν I (only the isotropic part's own error, no t in it); exactly −ν I on
#: slow hot modes coupled to fast cold ones (the pairs k cold, l hot)
CASES = {"probe": (1.0, 0.05, 1.0), "isotropic": (0.0, 0.0, 1.0), "coupled": (0.0, 0.3, 0.05)}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("seed", range(3))
def test_phase_part_bounds_the_exact_difference_and_is_tight_where_delta_is_isotropic(seed, case):
    state, mix, slow = CASES[case]
    rng = np.random.default_rng(seed)
    n_modes, n_obs = 7, 2
    w = np.sort(rng.uniform(0.1, 2.0, n_modes))
    w[2] = w[1] * (1 + 1e-9)  # a near-degenerate pair, both hot (identical probes)
    hot_true = [1, 2]
    w[hot_true] *= slow
    delta = _hot_delta(rng, n_modes, hot_true, nu=40.0, mix=mix, state=state)
    lam, vec = np.linalg.eigh(delta)
    vectors = np.array([vec[:n_modes], vec[n_modes:]])
    u = rng.normal(size=(n_obs, n_modes))
    e = 1e-7 * w**2  # large: the difference is far above the float noise of this check
    t_max = 400.0
    hot = ro._isotropic_modes(w, np.abs(u), e, t_max, lam, vectors)
    assert set(hot_true) <= set(hot.tolist())
    bound = ro._isotropic_phase(w, np.abs(u), e, t_max, lam, vectors, hot)
    # the old form: every column through |λ_r|
    z, _, dp, _ = ro._trig_sums(w, np.abs(u), vectors[0], vectors[1], t_max, e, (), parts=True)
    old = (z * np.abs(lam)) @ dp.T
    old = old + old.T + (dp * np.abs(lam)) @ dp.T
    times = np.linspace(0.0, t_max, 4001)
    worst = np.zeros_like(bound)
    for signs in (np.ones(n_modes), -np.ones(n_modes), rng.choice([-1.0, 1.0], n_modes),
                  rng.uniform(-1, 1, n_modes)):
        w_true = np.sqrt(w**2 + signs * e)
        comp, true = _rows(u, w, w_true, times)
        diff = np.abs(np.einsum("tai,ij,tbj->tab", true, delta, true)
                      - np.einsum("tai,ij,tbj->tab", comp, delta, comp)).max(axis=0)
        worst = np.maximum(worst, diff)
        assert np.all(diff <= bound), float(np.max(diff / bound))
    # tight: within 30× of what these exact μ reach on the grid; the old form charged ν·t·e
    assert float(bound.max()) <= 30 * float(worst.max())
    if mix < 0.1:  # (the couplings among the modes are no phase's to ignore)
        assert float(old.max()) >= 5 * float(bound.max())


def test_no_isotropic_modes_without_an_isotropic_block_or_a_horizon():
    """Δ of a squeezed cold probe (anisotropic: e^{2r}/2 − 1/2, e^{−2r}/2 − 1/2) has none, nor does t = 0
    or t = ∞, nor a network with a mode whose rotated bound fails (e_k ≥ μ̃_k, e_k = ∞)."""
    w = np.array([0.5, 1.0, 2.0])
    r = 1.5
    lam = np.array([np.exp(2 * r) / 2 - 0.5, np.exp(-2 * r) / 2 - 0.5])
    vectors = np.zeros((2, 3, 2))
    vectors[0, 1, 0] = vectors[1, 1, 1] = 1.0
    e = np.full(3, 1e-15)
    assert ro._isotropic_modes(w, np.ones((1, 3)), e, 10.0, lam, vectors).size == 0
    hot_lam = np.array([-30.0, -30.5])
    assert ro._isotropic_modes(w, np.ones((1, 3)), e, 10.0, hot_lam, vectors).tolist() == [1]
    for t in (0.0, np.inf):
        assert ro._isotropic_modes(w, np.ones((1, 3)), e, t, hot_lam, vectors).size == 0
    assert ro._isotropic_modes(w, np.ones((1, 3)), np.array([0.0, 1.0, 0.0]), 10.0, hot_lam, vectors).size == 0
    # an unresolved cluster elsewhere (e = ∞, Δ zero there): none, and the bound stays ∞, not NaN
    e_inf = np.array([np.inf, 1e-15, 1e-15])
    assert ro._isotropic_modes(w, np.ones((1, 3)), e_inf, 10.0, hot_lam, vectors).size == 0
    with np.errstate(all="raise"):
        assert ro.evaluation_roundoffs(w, np.ones((1, 3)), np.full(3, 0.5), hot_lam, vectors, 10.0, e_inf) == [np.inf, np.inf]


def test_evaluation_roundoff_is_never_above_its_old_form():
    """The phase part is the smaller of the two bounds pair by pair: on a network with hot modes
    evaluation_roundoffs is ≤ the form without them (ISOTROPIC_MAX = 0), and equal without any."""
    rng = np.random.default_rng(7)
    n_modes = 6
    w = np.sort(rng.uniform(0.2, 3.0, n_modes))
    delta = _hot_delta(rng, n_modes, [0, 3], nu=25.0, mix=0.02)
    lam, vec = np.linalg.eigh(delta)
    vectors = np.array([vec[:n_modes], vec[n_modes:]])
    u = rng.normal(size=(3, n_modes))
    nu = np.full(n_modes, 0.5)
    e = 4e-16 * w**2
    new = ro.evaluation_roundoffs(w, u, nu, lam, vectors, 1e4, e)
    old_max = ro.ISOTROPIC_MAX
    try:
        ro.ISOTROPIC_MAX = 0
        old = ro.evaluation_roundoffs(w, u, nu, lam, vectors, 1e4, e)
    finally:
        ro.ISOTROPIC_MAX = old_max
    assert all(a < b / 5 for a, b in zip(new, old))
