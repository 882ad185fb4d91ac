"""Conventions (CONVENTIONS.md): ordering converters, symplectic form, vacuum, thermal factors."""

import numpy as np

from harmosync import conventions as cv
from harmosync import states as st


def test_ordering_roundtrip_and_layout():
    """to_block maps (x1,p1,x2,p2) -> (x1,x2,p1,p2) and to_interleaved inverts it."""
    v = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])  # x1 p1 x2 p2 x3 p3
    np.testing.assert_array_equal(cv.to_block(v), [1, 3, 5, 2, 4, 6])
    np.testing.assert_array_equal(cv.to_interleaved(cv.to_block(v)), v)
    m = np.random.default_rng(0).normal(size=(6, 6))
    np.testing.assert_array_equal(cv.to_interleaved(cv.to_block(m)), m)
    assert cv.to_block(m)[0, 3] == m[0, 1]  # (x1, p1)


def test_symplectic_form_orderings_agree():
    """Ω_block = P Ω_interleaved Pᵀ; Ω² = −1; [x_k, p_k] = i."""
    for n in (1, 2, 5):
        oi = cv.symplectic_form(n)
        np.testing.assert_array_equal(cv.to_block(oi), cv.symplectic_form(n, ordering="block"))
        np.testing.assert_array_equal(oi @ oi, -np.eye(2 * n))
        assert oi[0, 1] == 1.0


def test_vacuum_covariance_normalisation():
    """Vacuum of frequency ω: ⟨x²⟩ = 1/(2ω), ⟨p²⟩ = ω/2 (σ = ½⟨{ΔR, ΔR}⟩)."""
    for w in (0.3, 1.0, 2.5):
        c = st.vacuum(w).cov
        np.testing.assert_allclose(np.diag(c), [1 / (2 * w), w / 2])
        assert c[0, 1] == 0


def test_thermal_occupation_bose():
    """n̄ = 1/(e^{ω/T} − 1) and ν = ½ coth(ω/2T)."""
    w, t = 1.3, 0.7
    assert np.isclose(cv.thermal_occupation(w, t), 1 / (np.exp(w / t) - 1))
    assert np.isclose(cv.thermal_factor(w, t), 0.5 / np.tanh(w / (2 * t)))
    assert cv.thermal_occupation(w, 0.0) == 0.0


def test_conventions_recorded_in_package():
    for key in ("units", "ordering", "covariance", "chain_boundary_default", "site_numbering"):
        assert key in cv.CONVENTIONS


def test_thermal_factor_at_subnormal_temperature_is_the_ground_state():
    """ω/T overflows at T = 5e-324: treated as T = 0 (ν = ½ exactly), with no warning."""
    import warnings

    from harmosync.conventions import thermal_factor

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.all(thermal_factor(np.array([1e-3, 1.25, 1e3]), 5e-324) == 0.5)


def _docs_section(title: str) -> str:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "conventions.md").read_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_log_negativity_zero_threshold_is_the_documented_one():
    """docs/conventions.md states the E_N zero threshold the code uses (issue 11, item 6):
    2ν̃ ≥ 1 − τ counts as 1, τ = max(NEGATIVITY_TOL, 8·min(accuracy, ACCURACY_CAP)); checked on
    a two-mode squeezed vacuum, whose 2ν̃ = e^{−2r}, on both sides of τ."""
    from harmosync import measures as ms

    doc = _docs_section("The log-negativity zero threshold")
    import re

    stated = {k: float(re.search(rf"{k} = ([0-9.e+-]+\d)", doc).group(1)) for k in ("NEGATIVITY_TOL", "ACCURACY_CAP")}
    assert stated == {"NEGATIVITY_TOL": ms.NEGATIVITY_TOL, "ACCURACY_CAP": ms.ACCURACY_CAP}
    assert "max(NEGATIVITY_TOL, 8 · min(accuracy, ACCURACY_CAP))" in doc
    for accuracy in (0.0, 1e-12, 1e-9, 1e-3):
        tau = max(ms.NEGATIVITY_TOL, 8 * min(accuracy, ms.ACCURACY_CAP))
        for factor, zero in ((0.5, True), (2.0, False)):
            r = -0.5 * np.log1p(-factor * tau)  # 2ν̃ = e^{−2r} = 1 − factor·τ
            en = float(ms.log_negativity(st.two_mode_squeezed(r).cov, accuracy=accuracy))
            if zero:
                assert en == 0.0, (accuracy, en)
            else:
                assert abs(en - 2 * r) <= 1e-5 * 2 * r, (accuracy, en, 2 * r)
