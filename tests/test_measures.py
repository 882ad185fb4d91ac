"""Measures: Eq. (3) synchronization factor, symplectic spectra, entropies, mutual information,
log negativity, Mari et al.'s complete synchronization — against closed forms."""

import numpy as np
import pytest

from harmosync import measures as ms
from harmosync import states as st
from harmosync.conventions import symplectic_form
from harmosync.errors import HarmosyncError


def random_symplectic(n, rng):
    """exp(Ω H) with H symmetric is symplectic."""
    from scipy.linalg import expm

    h = rng.normal(size=(2 * n, 2 * n))
    return expm(symplectic_form(n) @ (h + h.T) * 0.3)


# --- Eq. (3) ---------------------------------------------------------------------------------
def test_sync_factor_of_phase_shifted_cosines():
    """Over a window of whole periods, C(cos ωt, cos(ωt + φ)) = cos φ: exact for the integral,
    and the trapezoid rule on whole periods of a trigonometric polynomial of degree 2 < samples
    per period is exact too, so only roundoff remains (measured 3.4e-15)."""
    step, w = 0.01, 2 * np.pi
    t = np.arange(0, 10, step)
    for phi in (0.0, 0.7, np.pi / 2, np.pi):
        c = ms.sync_factor(np.cos(w * t), np.cos(w * t + phi), step, 2.0)
        valid = c[np.isfinite(c)]
        np.testing.assert_allclose(valid, np.cos(phi), atol=2e-14)


def test_sync_factor_forward_window_and_nan_tail():
    """C(t) uses [t, t + Δt]; undefined (NaN) where the window runs past the data."""
    step = 0.1
    t = np.arange(0, 20 + step / 2, step)
    f = np.where(t < 10, np.sin(3 * t), np.sin(5 * t))
    g = np.where(t < 10, np.sin(3 * t), -np.sin(5 * t))
    c = ms.sync_factor(f, g, step, 4.0)
    assert np.all(np.isnan(c[t > 16 + 1e-9])) and np.all(np.isfinite(c[t <= 16 + 1e-9]))
    assert np.all(c[t < 5.95] > 0.999)  # window [t, t+4] inside the synchronized part
    assert np.all(c[(t >= 10) & (t <= 16)] < -0.999)


def test_sync_factor_delay():
    """g(t) = f(t − τ): C(f, g; delay τ) = 1."""
    step, tau = 0.05, 1.5
    t = np.arange(0, 40, step)
    f = np.sin(1.3 * t) * np.exp(-t / 30)
    g = np.sin(1.3 * (t - tau)) * np.exp(-(t - tau) / 30)
    c = ms.sync_factor(f, g, step, 5.0, delay=tau)
    assert np.nanmin(c) > 0.9999
    best, _ = ms.best_delay(f, g, step, 5.0, np.arange(0, 3.01, 0.25))
    assert best == pytest.approx(tau)


def sync_reference(f, g, n, k=0):
    """Eq. (3) by its definition, window by window in extended precision (long double): the
    trapezoid mean over [i, i + n], two-pass centring, then the Pearson ratio; g read at i + k.
    A variance at the roundoff level of the signal itself, ≤ (1e-14 |h|)², is a constant signal:
    no correlation defined (NaN), the rule of measures.sync_factor."""
    out = np.full(f.size, np.nan)
    w = np.ones(n + 1, dtype=np.longdouble)
    w[0] = w[-1] = 0.5
    w /= n
    for i in range(f.size - n):
        if i + k < 0 or i + k + n > f.size - 1:
            continue
        a, b = f[i:i + n + 1].astype(np.longdouble), g[i + k:i + k + n + 1].astype(np.longdouble)
        floor_a, floor_b = 1e-28 * max(1, (a * a) @ w), 1e-28 * max(1, (b * b) @ w)
        for _ in range(2):
            a, b = a - a @ w, b - b @ w
        va, vb = (a * a) @ w, (b * b) @ w
        if va > floor_a and vb > floor_b:
            out[i] = float((a * b) @ w / np.sqrt(va * vb))
    return out


@pytest.mark.parametrize("delay", [0.0, 0.35, -0.5])
def test_sync_factor_matches_definition_in_extended_precision(delay):
    """The O(T) running-sum evaluation equals Eq. (3) evaluated window by window in long double
    to 1e-13, for signal pairs that decay by 1e-13 over the record, carry an offset 1e6 times
    their oscillation, are white noise, or are constant for a while (NaN there, as the
    reference); a stack of pairs gives the row-by-row results; delays of either sign."""
    step, n = 0.05, 40
    t = step * np.arange(3000)
    rng = np.random.default_rng(7)
    f = np.stack([np.cos(t) * np.exp(-t / 5), 1e3 + 1e-3 * np.cos(1.3 * t), rng.normal(size=t.size),
                  np.where(t < 40, 2.0, np.sin(t))])
    g = np.stack([np.sin(1.1 * t) * np.exp(-t / 6), np.sin(1.3 * t + 0.4), rng.normal(size=t.size),
                  np.cos(0.9 * t)])
    k = round(delay / step)
    c = ms.sync_factor(f, g, step, n * step, delay=delay)
    assert c.shape == f.shape
    for i in range(f.shape[0]):
        ref = sync_reference(f[i], g[i], n, k)
        ok = np.isfinite(ref)
        np.testing.assert_array_equal(np.isnan(c[i][ok]), False)
        np.testing.assert_allclose(c[i][ok], ref[ok], rtol=0, atol=1e-13)
        np.testing.assert_array_equal(c[i], ms.sync_factor(f[i], g[i], step, n * step, delay=delay))
    assert np.all(np.isnan(c[3][t < 40 - n * step - 1e-9]))  # constant f: no correlation defined
    assert np.all(np.isnan(c[:, t > t[-1] - n * step + 1e-9]))  # window past the data


def test_sync_factor_long_window_is_linear_time():
    """A window of 20 000 steps on 100 001 samples (O(T·n) would be 2e9 operations per sum)
    still matches the definition at spot checks; C of cos t and cos(t + φ) over whole-ish
    periods is ≈ cos φ."""
    step = 1e-3
    t = step * np.arange(100001)
    f, g = np.cos(t) * np.exp(-t / 40), np.cos(1.2 * t + 0.3)
    c = ms.sync_factor(f, g, step, 20.0)
    n = 20000
    for i in (0, 12345, 80000):
        ref = sync_reference(f[i:i + n + 1], g[i:i + n + 1], n)[0]
        assert c[i] == pytest.approx(ref, abs=1e-12)
    phase = ms.sync_factor(np.cos(t), np.cos(t + 0.7), step, 2 * np.pi * 3 - (2 * np.pi * 3) % step)
    assert np.nanmax(np.abs(phase - np.cos(0.7))) < 1e-3


def test_sync_window_must_span_steps():
    with pytest.raises(HarmosyncError, match="at least 2 time steps"):
        ms.sync_factor(np.ones(10), np.ones(10), 1.0, 1.0)


# --- Gaussian measures ------------------------------------------------------------------------
def test_symplectic_eigenvalues_invariant_and_thermal():
    """ν_k of ⊕ thermal(ν) stay ν under any symplectic S (Williamson)."""
    rng = np.random.default_rng(1)
    nu = np.array([0.5, 0.9, 2.3])
    d = np.diag(np.repeat(nu, 2))
    s = random_symplectic(3, rng)
    np.testing.assert_allclose(ms.symplectic_eigenvalues(s @ d @ s.T), np.sort(nu), rtol=1e-10)


def test_thermal_entropy_and_purity():
    """S = (n̄+1) ln(n̄+1) − n̄ ln n̄ and Tr ρ² = 1/(2n̄+1) for a thermal mode."""
    w, t = 1.0, 1.5
    nbar = 1 / np.expm1(w / t)
    cov = st.thermal(w, t).cov
    assert np.isclose(ms.von_neumann_entropy(cov), (nbar + 1) * np.log(nbar + 1) - nbar * np.log(nbar))
    assert np.isclose(ms.purity(cov), 1 / (2 * nbar + 1))
    assert abs(ms.von_neumann_entropy(st.squeezed(1.3, 1.1, 0.4).cov)) < 1e-12


def test_entropy_terms_against_mpmath():
    """The entropy of one mode, (ν + ½) ln(ν + ½) − (ν − ½) ln(ν − ½), per ν against mpmath at
    40 digits within 4ε relative (ν from just above ½ to 1e8, F- and C-ordered stacks, a
    scalar); 0 at ν ≤ ½ (roundoff below ½ counts as pure); NaN stays NaN."""
    import mpmath as mp

    nu = np.concatenate([0.5 + np.logspace(-15, 8, 60), [0.5, 0.5 - 1e-15]])
    with mp.workdps(40):
        want = [float((mp.mpf(v) + 0.5) * mp.log(mp.mpf(v) + 0.5) - (mp.mpf(v) - 0.5) * mp.log(mp.mpf(v) - 0.5))
                if v > 0.5 else 0.0 for v in nu]
    want = np.array(want)
    for got, expect in ((ms._entropy_terms(nu), want),
                        (ms._entropy_terms(np.asfortranarray(np.tile(nu, (3, 1)).T)), np.tile(want, (3, 1)).T),
                        (ms._entropy_terms(np.tile(nu, (2, 1))), np.tile(want, (2, 1)))):
        np.testing.assert_allclose(got, expect, rtol=4 * np.finfo(float).eps, atol=0)
    assert ms._entropy_terms(0.7) == pytest.approx(float(1.2 * mp.log(1.2) - 0.2 * mp.log(0.2)), rel=1e-15)
    assert np.isnan(ms._entropy_terms(np.array([np.nan, 0.7]))[0])


@pytest.mark.parametrize("r", [0.0, 0.3, 1.0, 2.0])
def test_two_mode_squeezed_vacuum(r):
    """E_N = 2r; I = 2 S(local) = 2[cosh²r ln cosh²r − sinh²r ln sinh²r]; total state pure."""
    cov = st.two_mode_squeezed(r, (1.0, 1.3)).cov
    assert np.isclose(ms.log_negativity(cov, [0], [1]), 2 * r, atol=1e-10)
    c2, s2 = np.cosh(r) ** 2, np.sinh(r) ** 2
    s_loc = c2 * np.log(c2) - (s2 * np.log(s2) if s2 > 0 else 0.0)
    assert np.isclose(ms.mutual_information(cov, [0], [1]), 2 * s_loc, atol=1e-10)
    assert abs(ms.von_neumann_entropy(cov)) < 1e-9


def test_product_states_have_no_correlations():
    cov = st.product(st.squeezed(1.0, 2.0), st.thermal(1.2, 0.5)).cov
    assert abs(ms.mutual_information(cov)) < 1e-10
    assert ms.log_negativity(cov) == 0.0


def test_stacked_covariances_and_parts():
    rng = np.random.default_rng(2)
    covs = np.array([c @ c.T for c in [random_symplectic(3, rng) for _ in range(4)]]) * 0.5
    mi = ms.mutual_information(covs, [0], [1, 2])
    assert mi.shape == (4,)
    for k in range(4):
        assert np.isclose(mi[k], ms.mutual_information(covs[k], [0], [1, 2]))
    # for a pure global state I(A:B) = 2 S(A)
    assert np.allclose(mi, 2 * ms.von_neumann_entropy(ms.reduced(covs, [0])), atol=1e-8)
    with pytest.raises(HarmosyncError, match="disjoint"):
        ms.mutual_information(covs[0], [0], [0, 1])


def test_complete_sync_heisenberg_bound():
    """S_q = 1/(Var x₋ + Var p₋) ≤ 1 for physical states, = 1 for the ω = 1 vacuum pair."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        s = random_symplectic(2, rng)
        cov = 0.5 * s @ s.T * (1 + rng.uniform())
        assert ms.complete_sync(np.zeros(4), cov) <= 1 + 1e-12
    assert np.isclose(ms.complete_sync(np.zeros(4), 0.5 * np.eye(4)), 1.0)
    m = np.array([1.0, 0.2, 0.0, 0.2])
    assert np.isclose(ms.complete_sync(m), 1 / 0.5)


def test_is_physical():
    assert ms.is_physical(0.5 * np.eye(2))
    assert not ms.is_physical(0.3 * np.eye(2))


def test_is_physical_batch_matches_uncertainty_principle_definition():
    """σ + iΩ/2 ≥ 0 ⟺ ν_min ≥ ½: a batch of thermal-like states scaled across ν = ½ (pure) gives
    exactly the per-state verdict of the symplectic eigenvalues, whether or not the whole batch
    is physical (the all-physical batch takes the Cholesky shortcut, a mixed one the eigvalsh
    route), and NaN covariances are never physical."""
    rng = np.random.default_rng(3)
    s = np.stack([random_symplectic(2, rng) for _ in range(40)])
    factor = np.linspace(0.8, 1.2, 40)
    factor[np.argmin(np.abs(factor - 1))] = 1.0  # one exactly pure state
    cov = 0.5 * factor[:, None, None] * s @ np.swapaxes(s, 1, 2)
    expect = factor >= 1.0
    assert np.array_equal(ms.is_physical(cov, tol=1e-9), expect)
    assert np.all(ms.is_physical(cov[expect], tol=1e-9))
    assert not np.any(ms.is_physical(cov[~expect], tol=1e-9))
    bad = cov[expect].copy()
    bad[0, 0, 0] = np.nan
    assert np.array_equal(ms.is_physical(bad), np.arange(len(bad)) > 0)


def _nu_general(cov):
    """Reference: moduli of the eigenvalues of iΩσ (non-Hermitian eig, no closed form)."""
    n = cov.shape[-1] // 2
    ev = np.abs(np.linalg.eigvals(1j * symplectic_form(n) @ cov).real)
    return np.sort(ev)[0::2]


def test_symplectic_eigenvalues_match_general_and_pure_states_exact():
    """ν_k equal the moduli of the eigenvalues of iΩσ, keep full precision for degenerate
    spectra (ν1 = ν2, e.g. pure states: ν = ½ to ~1e-12), and ν = √det σ for one mode."""
    rng = np.random.default_rng(7)
    for k in range(30):
        nu = np.sort(rng.uniform(0.5, 3.0, 2))
        if k % 3 == 0:
            nu[:] = 0.5 if k % 2 else nu[0]  # degenerate: pure, or equal thermal
        s = random_symplectic(2, rng)
        cov = s @ np.diag(np.repeat(nu, 2)) @ s.T
        got = ms.symplectic_eigenvalues(cov)
        np.testing.assert_allclose(got, nu, rtol=1e-10)
        np.testing.assert_allclose(got, _nu_general(cov), rtol=1e-8)
    c1 = st.squeezed(1.3, 0.9, 0.2).cov * 3.0
    assert np.isclose(ms.symplectic_eigenvalues(c1)[0], np.sqrt(np.linalg.det(c1)))


def test_one_mode_symplectic_eigenvalue_is_the_cholesky_product():
    """One mode: ν = √det σ = L00·L11 (σ = L Lᵀ); the closed-form factor gives LAPACK's
    numbers on a stack of random states, a pure state ν = ½ to roundoff, and refuses a
    non-positive-definite σ (the uncertainty relation needs det σ ≥ ¼ > 0)."""
    rng = np.random.default_rng(3)
    s = np.stack([st.squeezed(rng.uniform(0.5, 2), rng.uniform(0, 1.5), rng.uniform(0, 3)).cov
                  * rng.uniform(1, 5) for _ in range(200)])
    lower = np.linalg.cholesky(s)
    got = ms.symplectic_eigenvalues(s)[:, 0]
    np.testing.assert_allclose(got, lower[:, 0, 0] * lower[:, 1, 1], rtol=4e-16, atol=0)
    np.testing.assert_allclose(got, np.sqrt(np.linalg.det(s)), rtol=1e-13)
    assert ms.symplectic_eigenvalues(st.squeezed(1.0, 1.2, 0.7).cov)[0] == pytest.approx(0.5, rel=1e-14)
    for bad in (np.array([[1.0, 2.0], [2.0, 1.0]]), np.array([[0.0, 0.0], [0.0, 1.0]])):
        with pytest.raises(HarmosyncError, match="not positive definite"):
            ms.symplectic_eigenvalues(bad)
    assert np.isnan(ms.symplectic_eigenvalues(np.full((2, 2), np.nan))).all()  # a gap in data: NaN


def test_correlations_within_the_covariance_error_are_zero():
    """A product of vacua perturbed by errors of size δ in σ (as a computed covariance carries):
    I and E_N may come out slightly negative or positive; with accuracy=δ both are exactly 0,
    while a real two-mode squeezed vacuum keeps E_N = 2r and its closed-form I untouched, and
    an error far beyond δ is not hidden (I stays negative)."""
    rng = np.random.default_rng(11)
    delta = 1e-8
    base = 0.5 * np.eye(4)
    noise = rng.uniform(-delta, delta, (200, 4, 4))
    cov = base + 0.5 * (noise + np.swapaxes(noise, 1, 2))
    cov[:, 0, 0] += 2 * delta  # keep σ + iΩ/2 ≥ 0 for most samples
    cov[:, 2, 2] += 2 * delta
    raw_mi, raw_ln = ms.mutual_information(cov), ms.log_negativity(cov)
    assert np.abs(raw_mi).max() > 1e-9 or raw_ln.max() > 0  # the errors do show without accuracy
    assert np.all(ms.mutual_information(cov, accuracy=delta) >= 0)
    assert np.all(ms.log_negativity(cov, accuracy=delta) == 0)
    r = 0.4
    c, s = np.cosh(2 * r) / 2, np.sinh(2 * r) / 2
    tmsv = np.array([[c, 0, s, 0], [0, c, 0, -s], [s, 0, c, 0], [0, -s, 0, c]])
    assert ms.log_negativity(tmsv, accuracy=delta) == pytest.approx(2 * r, rel=1e-12)
    mi_exact = 2 * ((np.cosh(r) ** 2) * np.log(np.cosh(r) ** 2) - (np.sinh(r) ** 2) * np.log(np.sinh(r) ** 2))
    assert ms.mutual_information(tmsv, accuracy=delta) == pytest.approx(mi_exact, rel=1e-10)
    # a loose (or NaN) error bound, as near zero-frequency modes give, is capped: weak but real
    # entanglement and correlations survive it
    weak = 0.01
    cw, sw = np.cosh(2 * weak) / 2, np.sinh(2 * weak) / 2
    tmsv_weak = np.array([[cw, 0, sw, 0], [0, cw, 0, -sw], [sw, 0, cw, 0], [0, -sw, 0, cw]])
    for loose in (0.187, 4.8e8, np.nan):
        assert ms.log_negativity(tmsv_weak, accuracy=loose) == pytest.approx(2 * weak, rel=1e-9)
        assert ms.mutual_information(tmsv_weak, accuracy=loose) > 1e-4
    # pure parts with a correlation they cannot have (unphysical: ν = ½ ± c): I ≈ −S(½ + c) is
    # far beyond what δ can do and stays negative, for the caller's checks to catch
    c = 0.1
    fake = np.block([[0.5 * np.eye(2), c * np.eye(2)], [c * np.eye(2), 0.5 * np.eye(2)]])
    assert ms.mutual_information(fake, accuracy=delta) < -0.1


def _nu_lapack_route(cov):
    """The two-mode route of measures.symplectic_eigenvalues with LAPACK's Cholesky and matrix
    products: A = LᵀΩL, ν₊ = |u₊| + |u₋|, ν₋ = Π L_ii / ν₊ (the reference for the closed form)."""
    lower = np.linalg.cholesky(cov)
    a = np.swapaxes(lower, -1, -2) @ symplectic_form(2) @ lower
    up = 0.5 * np.stack([a[..., 0, 1] + a[..., 2, 3], a[..., 0, 2] - a[..., 1, 3], a[..., 0, 3] + a[..., 1, 2]])
    um = 0.5 * np.stack([a[..., 0, 1] - a[..., 2, 3], a[..., 0, 2] + a[..., 1, 3], a[..., 0, 3] - a[..., 1, 2]])
    nu_max = np.linalg.norm(up, axis=0) + np.linalg.norm(um, axis=0)
    return np.stack([np.prod(np.diagonal(lower, axis1=-2, axis2=-1), axis=-1) / nu_max, nu_max], axis=-1)


def test_two_mode_closed_form_factor_matches_lapack():
    """The closed-form 4 × 4 Cholesky factor (measures_twomode) is LAPACK's to a few ulp, so the
    two-mode symplectic eigenvalues agree with the LAPACK route, on random
    mixed states, pure states (ν = ½) and strongly squeezed ones (both as close to the exact ν); the partial transpose's
    eigenvalues from σ's own factor are those of the transposed σ (p₂ → −p₂: E_N); a stack
    stored entry by entry gives bitwise the same; a non-positive-definite σ is refused."""
    from harmosync import measures_twomode as tm

    rng = np.random.default_rng(5)
    covs, nus = [], []
    for k in range(300):
        nu = np.full(2, 0.5) if k % 4 == 0 else rng.uniform(0.5, 4.0, 2)
        squeeze = np.diag(np.exp(0.5 * (k % 7 - 3.0) * np.array([1.0, -1.0, 1.0, -1.0])))
        s = random_symplectic(2, rng) @ squeeze
        covs.append(s @ np.diag(np.repeat(nu, 2)) @ s.T)
        nus.append(np.sort(nu))
    cov, nus = np.stack(covs), np.array(nus)
    lower = np.linalg.cholesky(cov)
    got = np.zeros_like(lower)
    got[:, [0, 1, 1, 2, 2, 2, 3, 3, 3, 3], [0, 0, 1, 0, 1, 2, 0, 1, 2, 3]] = tm.cholesky4(cov)
    np.testing.assert_allclose(got, lower, rtol=1e-15 * 8, atol=1e-15 * 8 * np.abs(lower).max())
    # both routes err by what rounding σ's entries does (up to ~5e-13 for σ's condition number
    # here): the closed form no more than LAPACK's route
    nu, ref = ms.symplectic_eigenvalues(cov), _nu_lapack_route(cov)
    err, err_ref = np.abs(nu / nus - 1), np.abs(ref / nus - 1)
    assert err.max() <= 1.1 * err_ref.max() + 1e-15 and np.median(err) <= 2 * np.median(err_ref) + 1e-16
    np.testing.assert_allclose(nu, ref, rtol=1e-12, atol=0)
    flip = np.diag([1.0, 1.0, 1.0, -1.0])
    np.testing.assert_allclose(tm.two_mode_symplectic_eigenvalues(cov, transpose=True),
                               _nu_lapack_route(flip @ cov @ flip), rtol=1e-12, atol=0)
    entry_major = np.moveaxis(np.ascontiguousarray(np.moveaxis(cov, 0, -1)), -1, 0)
    assert np.array_equal(ms.symplectic_eigenvalues(entry_major), ms.symplectic_eigenvalues(cov))
    # σ stored entry by entry (a map's moments) takes the vectorised loops: the same bits
    assert np.array_equal(tm.two_mode_symplectic_eigenvalues(entry_major, transpose=True),
                          tm.two_mode_symplectic_eigenvalues(cov, transpose=True))
    assert np.array_equal(tm.mutual_eigenvalues(entry_major), tm.mutual_eigenvalues(cov))
    assert ms.symplectic_eigenvalues(cov.reshape(3, 100, 4, 4)).shape == (3, 100, 2)
    bad = cov[:3].copy()
    bad[1, 3, 3] = -1.0
    bad_entry_major = np.moveaxis(np.ascontiguousarray(np.moveaxis(bad, 0, -1)), -1, 0)
    for b in (bad, bad_entry_major):
        for call in (ms.symplectic_eigenvalues, tm.mutual_eigenvalues,
                     lambda c: tm.two_mode_symplectic_eigenvalues(c, transpose=True)):
            with pytest.raises(HarmosyncError, match="not positive definite"):
                call(b)
    one_bad = entry_major.copy()  # a one-mode block not positive definite: refused by MI's pass
    one_bad[5, 1, 1] = one_bad[5, 1, 0] ** 2 / one_bad[5, 0, 0] * (1 - 1e-3)
    with pytest.raises(HarmosyncError, match="not positive definite"):
        tm.mutual_eigenvalues(np.moveaxis(np.ascontiguousarray(np.moveaxis(one_bad, 0, -1)), -1, 0))


def test_two_mode_mutual_information_in_one_pass():
    """I(A:B) = S(σ_A) + S(σ_B) − S(σ_AB) for one mode each: the one-pass route (each ν the
    operations of the one-mode and two-mode routes) equals the entropies of the reduced states
    taken separately, bitwise, for any pair of modes in either order (a product with a vacuum
    mode: I = 0 with it); on a two-mode squeezed thermal state I = 2S(ν_loc) − 2S(ν)
    (ν_loc = ν cosh 2r, the global ν's both ν); a non-positive-definite σ is refused."""
    from harmosync import measures_twomode as tm

    rng = np.random.default_rng(8)
    cov = np.stack([s @ np.diag(np.repeat(rng.uniform(0.5, 3.0, 2), 2)) @ s.T
                    for s in [random_symplectic(2, rng) for _ in range(200)]])
    entry_major = np.moveaxis(np.ascontiguousarray(np.moveaxis(cov, 0, -1)), -1, 0)
    for c in (cov, entry_major):
        nus = tm.mutual_eigenvalues(c)
        assert np.array_equal(nus[:, 0], ms.symplectic_eigenvalues(ms.reduced(c, [0]))[:, 0])
        assert np.array_equal(nus[:, 1], ms.symplectic_eigenvalues(ms.reduced(c, [1]))[:, 0])
        assert np.array_equal(nus[:, 2:], ms.symplectic_eigenvalues(c))
        split = (ms.von_neumann_entropy(ms.reduced(c, [0])) + ms.von_neumann_entropy(ms.reduced(c, [1]))
                 - ms.von_neumann_entropy(c))
        # a strongly squeezed mode's state is read in its local normal form (I is invariant):
        # bitwise the split route on those normal forms, and within roundoff of it on σ itself
        nf, picked = ms._normal_where_squeezed(c)
        assert 0 < picked.sum() < picked.size
        split_nf = (ms.von_neumann_entropy(ms.reduced(nf, [0])) + ms.von_neumann_entropy(ms.reduced(nf, [1]))
                    - ms.von_neumann_entropy(nf))
        mi = ms.mutual_information(c, [0], [1])
        assert np.array_equal(mi, split_nf) and np.array_equal(mi[~picked], split[~picked])
        np.testing.assert_allclose(mi, split, rtol=0, atol=1e-10)
    three = np.stack([np.kron(np.eye(3), np.eye(2))] * 2) * 0.5  # vacuum, modes 0 and 2 correlated
    three[:, :2, :2], three[:, 4:, 4:], three[:, :2, 4:], three[:, 4:, :2] = cov[:2, :2, :2], cov[:2, 2:, 2:], \
        cov[:2, :2, 2:], cov[:2, 2:, :2]
    for a, b in (([2], [0]), ([0], [2]), ([1], [2])):
        split = (ms.von_neumann_entropy(ms.reduced(three, a)) + ms.von_neumann_entropy(ms.reduced(three, b))
                 - ms.von_neumann_entropy(ms.reduced(three, a + b)))
        assert np.array_equal(ms.mutual_information(three, a, b), split)
    np.testing.assert_allclose(ms.mutual_information(three, [2], [0]), ms.mutual_information(cov[:2], [1], [0]),
                               rtol=0, atol=1e-14)
    assert np.abs(ms.mutual_information(three, [1], [2])).max() < 1e-13  # roundoff of S(σ_B) alone
    nu, r = 1.7, 0.6
    tmsv = st.two_mode_squeezed(r, (1.0, 1.0)).cov * (2 * nu)  # thermal ν on both modes, then squeezed
    s_of = lambda x: (x + 0.5) * np.log(x + 0.5) - (x - 0.5) * np.log(x - 0.5)  # noqa: E731
    assert np.isclose(ms.mutual_information(tmsv, [0], [1]), 2 * s_of(nu * np.cosh(2 * r)) - 2 * s_of(nu),
                      rtol=1e-12)
    bad = cov[:3].copy()
    bad[1, 3, 3] = -1.0
    with pytest.raises(HarmosyncError, match="not positive definite"):
        ms.mutual_information(bad, [0], [1])


def _beamsplitter(n, i, j, theta):
    """Passive (orthogonal symplectic) mixing of modes i and j, interleaved (x, p) order."""
    s = np.eye(2 * n)
    c, sn = np.cos(theta), np.sin(theta)
    for q in (0, 1):
        a, b = 2 * i + q, 2 * j + q
        s[a, a], s[a, b], s[b, a], s[b, b] = c, sn, -sn, c
    return s


def _two_mode_squeezer(n, i, j, r):
    s = np.eye(2 * n)
    ch, sh = np.cosh(r), np.sinh(r)
    for q, sign in ((0, 1.0), (1, -1.0)):  # x_i → ch x_i + sh x_j, p_i → ch p_i − sh p_j
        a, b = 2 * i + q, 2 * j + q
        s[a, a] = s[b, b] = ch
        s[a, b] = s[b, a] = sign * sh
    return s


def _squeezer(n, i, r):
    s = np.eye(2 * n)
    s[2 * i, 2 * i], s[2 * i + 1, 2 * i + 1] = np.exp(-r), np.exp(r)
    return s


def test_three_mode_measures_keep_the_digits_their_conditioning_allows():
    """Three modes (the eigensolver route, iA Hermitian with eigenvalues ±ν_k): a hot mode
    (ν = 1e6, what a soft mode at T > 0 gives) mixed passively with two vacua is separable with
    ν = (½, ½, 1e6) and S = S(1e6); the route through AᵀA (ν² to ε·ν_max²) gave ν_min = 0.49991,
    S off by 5e-4 and E_N = 4.8e-6 (review of session 22). A pure state TMS(r = 4) on (0, 1),
    then a beam splitter on (1, 2) and a squeezing r = 3 of mode 2 (local to one side) has
    E_N(0|12) = 2·4 = 8; the old route gave 8.0048 (the conditioning allows 4e-7). With r = 5 and
    5 it gave E_N = ∞ (ν̃_min² rounded to 0); exact 10, the conditioning allows 0.064."""
    n = 3
    mix = _beamsplitter(n, 1, 2, 1.1) @ _beamsplitter(n, 0, 1, 0.7)
    hot = mix @ np.diag([1e6, 1e6, 0.5, 0.5, 0.5, 0.5]) @ mix.T
    nu = ms.symplectic_eigenvalues(hot)
    np.testing.assert_allclose(nu, [0.5, 0.5, 1e6], rtol=1e-9)
    s_hot = float(ms._entropy_terms(np.array([1e6]))[0])
    assert abs(float(ms.von_neumann_entropy(hot)) - s_hot) < 1e-8
    assert float(ms.log_negativity(hot, [0], [1, 2])) < 1e-9
    for r_tms, r_sq, exact, tol in ((4.0, 3.0, 8.0, 1e-6), (5.0, 5.0, 10.0, 0.1)):
        sp = _squeezer(n, 2, r_sq) @ _beamsplitter(n, 1, 2, 0.9) @ _two_mode_squeezer(n, 0, 1, r_tms)
        pure = sp @ (0.5 * np.eye(2 * n)) @ sp.T
        en = float(ms.log_negativity(pure, [0], [1, 2]))
        assert np.isfinite(en) and abs(en - exact) < tol, (r_tms, en)


def _rotation(n, i, phi):
    s = np.eye(2 * n)
    c, sn = np.cos(phi), np.sin(phi)
    s[2 * i:2 * i + 2, 2 * i:2 * i + 2] = [[c, -sn], [sn, c]]
    return s


def _mutual_information_mp(cov):
    """I = S_A + S_B − S_AB of the double ``cov`` taken as exact, 60 digits (ν from iΩσ)."""
    import mpmath as mp

    with mp.workdps(60):
        def entropy(block):
            n = block.rows // 2
            om = mp.matrix(symplectic_form(n).tolist())
            nus = sorted(abs(mp.im(e)) for e in mp.eig(om * block)[0])[0::2]
            return mp.fsum((x + mp.mpf(1) / 2) * mp.log(x + mp.mpf(1) / 2)
                           - (x - mp.mpf(1) / 2) * mp.log(x - mp.mpf(1) / 2) if x > mp.mpf(1) / 2 else
                           (x + mp.mpf(1) / 2) * mp.log(x + mp.mpf(1) / 2) for x in nus)
        m = mp.matrix(cov.tolist())
        return float(entropy(m[0:2, 0:2]) + entropy(m[2:4, 2:4]) - entropy(m))


@pytest.mark.parametrize("r_a, r_b, tol", [(3.5, 7.0, 3e-9), (6.0, 8.0, 2e-7)])
def test_mutual_information_of_locally_squeezed_weakly_correlated_states(r_a, r_b, tol):
    """Local squeezings r_a, r_b (rotated) on a weakly two-mode-squeezed (r = 3e-3) mixed state:
    I is well conditioned (local maps leave it unchanged) while each ν moves by ~ε·e^{4r}. Formed
    apart, ν_A, ν_B and ν± did not cancel (review of session 22: I = −4.7e-4 against 2.0e-5);
    from the local normal form I keeps its digits against 60-digit mpmath on the same rounded σ
    (``tol``: about twice what the conditioning allows, the spread of the exact I under random
    relative ε-roundings of σ's entries: 1.2e-9 and 7.2e-8; measured 3.1e-10 and 1.2e-8), and
    discord and J are not negative."""
    n = 2
    core = _two_mode_squeezer(n, 0, 1, 3e-3)
    thermal = np.diag([0.6, 0.6, 0.7, 0.7])  # (mixed enough that σ rounded to double stays physical)
    local = _rotation(n, 0, 0.4) @ _squeezer(n, 0, r_a) @ _rotation(n, 1, 1.1) @ _squeezer(n, 1, r_b)
    cov = local @ core @ thermal @ core.T @ local.T
    cov = 0.5 * (cov + cov.T)
    exact = _mutual_information_mp(cov)
    got = float(ms.mutual_information(cov))
    assert abs(got - exact) < tol, (got, exact)
    assert float(ms.discord(cov, 0, 1)) >= 0 and float(ms.classical_correlation(cov, 0, 1)) >= 0
