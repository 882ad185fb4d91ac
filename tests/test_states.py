"""Initial Gaussian states (CONVENTIONS.md, "States")."""

import numpy as np
import pytest
import scipy.linalg as sla

from harmosync import dynamics as dy
from harmosync.dynamics import reference as dyref
from harmosync import network as nw
from harmosync import states as st
from harmosync.errors import HarmosyncError, UnphysicalStateError


def test_coherent_is_displaced_bare_vacuum():
    s = st.coherent(1.1, x=1.4, p=-0.3)
    np.testing.assert_allclose(s.mean, [1.4, -0.3])
    np.testing.assert_allclose(s.cov, np.diag([1 / 2.2, 1.1 / 2]))


def test_squeezed_quadrature_convention():
    """φ = 0 squeezes x: ⟨x²⟩ = e^{−2r}/(2ω), ⟨p²⟩ = ω e^{2r}/2; φ = π squeezes p; pure."""
    w, r = 1.2, 0.8
    s0 = st.squeezed(w, r, 0.0)
    np.testing.assert_allclose(np.diag(s0.cov), [np.exp(-2 * r) / (2 * w), w * np.exp(2 * r) / 2])
    sp = st.squeezed(w, r, np.pi)
    np.testing.assert_allclose(np.diag(sp.cov), [np.exp(2 * r) / (2 * w), w * np.exp(-2 * r) / 2])
    for ang in (0.0, 0.7, np.pi):
        assert np.isclose(np.linalg.det(st.squeezed(w, r, ang).cov), 0.25)  # pure: det σ = 1/4


def test_thermal_state_variances():
    """⟨x²⟩ = (n̄ + ½)/ω, ⟨p²⟩ = (n̄ + ½)ω, n̄ = 1/(e^{ω/T} − 1)."""
    w, t = 0.9, 2.0
    nbar = 1 / np.expm1(w / t)
    np.testing.assert_allclose(np.diag(st.thermal(w, t).cov), [(nbar + 0.5) / w, (nbar + 0.5) * w])


@pytest.mark.parametrize(
    "mean, cov, fragment",
    [
        ([0, 0], [[0.1, 0], [0, 0.1]], "uncertainty principle"),
        ([0, 0], [[1, 0.2], [0.1, 1]], "symmetric"),
        ([0, 0, 0], [[1, 0], [0, 1]], "mean must have 2"),
        ([0, 0], [[np.nan, 0], [0, 1]], "finite"),
        ([0, 0], [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "2n×2n"),
    ],
)
def test_invalid_states_refused(mean, cov, fragment):
    with pytest.raises(UnphysicalStateError, match=fragment):
        st.GaussianState(np.array(mean, float), np.array(cov, float))


def test_overflowing_squeezing_refused():
    with pytest.raises(HarmosyncError, match="too large"):
        st.squeezed(1.0, 40.0)


def test_environment_ground_state_is_not_local_vacua():
    """⟨XXᵀ⟩ = ½ V_E^{−1/2}, ⟨PPᵀ⟩ = ½ V_E^{1/2} (entangled across sites), pure."""
    env = nw.chain(8, 0.4, 1.2)
    net = nw.couple(env, nw.probes([1.0], 0.0, [1], [0.0]))
    cov = dyref.initial_covariance(net, st.InitialState(st.vacuum(1.0)))
    v = env.potential()
    xx = cov[2::2, 2::2]
    pp = cov[3::2, 3::2]
    np.testing.assert_allclose(xx, 0.5 * np.linalg.inv(sla.sqrtm(v).real), atol=1e-12)
    np.testing.assert_allclose(pp, 0.5 * sla.sqrtm(v).real, atol=1e-12)
    assert abs(xx[0, 1]) > 1e-3  # correlated sites
    # local vacuum of a site would be 1/(2Ω0)... not what the chain ground state has
    assert not np.isclose(xx[3, 3], 1 / (2 * 0.4))


def test_environment_thermal_state():
    """⟨XXᵀ⟩ = ½ V_E^{−1/2} coth(V_E^{1/2}/2T)."""
    env = nw.chain(5, 0.5, 1.0)
    om, w = env.modes()
    xx, pp = st.environment_covariance(om, w, 0.8)
    s = sla.sqrtm(env.potential()).real
    coth = np.linalg.inv(sla.tanhm(s / 1.6))
    np.testing.assert_allclose(xx, 0.5 * np.linalg.inv(s) @ coth, atol=1e-12)
    np.testing.assert_allclose(pp, 0.5 * s @ coth, atol=1e-12)
