"""Networks: the chain's potential matrix and closed-form modes (Eqs. A6, A8), the graph's bond
convention, probes (Eqs. 1, 2), stability (no counterterm), system normal modes (Eq. A7)."""

import numpy as np
import pytest

from harmosync import network as nw
from harmosync.errors import HarmosyncError, UnstableNetworkError


def test_fixed_chain_potential_matrix():
    """V_E = Ω0²·1 + g·tridiag(−1, 2, −1): end sites carry Ω0² + 2g (X_0 = X_{M+1} = 0)."""
    m, om, g = 6, 0.4, 1.2
    v = nw.chain(m, om, g).potential()
    expect = om**2 * np.eye(m) + g * (2 * np.eye(m) - np.eye(m, k=1) - np.eye(m, k=-1))
    np.testing.assert_allclose(v, expect)
    assert np.isclose(v[0, 0], om**2 + 2 * g)


@pytest.mark.parametrize("boundary", ["fixed", "free", "periodic"])
@pytest.mark.parametrize("m", [1, 2, 7, 8])
def test_chain_modes_closed_form_match_eigh(boundary, m):
    """Closed-form Ω_k (A8 for fixed ends) and orthonormal modes W (A6) diagonalise V_E."""
    env = nw.chain(m, 0.4, 1.2, boundary)
    om, w = nw.chain_modes(m, 0.4, 1.2, boundary)
    v = env.potential()
    np.testing.assert_allclose(np.sort(om**2), np.linalg.eigvalsh(v), atol=1e-12)
    np.testing.assert_allclose(w.T @ w, np.eye(m), atol=1e-12)
    np.testing.assert_allclose(w.T @ v @ w, np.diag(om**2), atol=1e-12)


def test_fixed_chain_frequencies_eq_A8():
    """Ω_j² = Ω0² + 4g sin²(πj / 2(M+1)) and X_j = √(2/(M+1)) Σ_k sin(πkj/(M+1)) Q_k."""
    m, om0, g = 300, 0.4, 1.2
    om, w = nw.chain_modes(m, om0, g)
    j = np.arange(1, m + 1)
    np.testing.assert_allclose(om**2, om0**2 + 4 * g * np.sin(np.pi * j / (2 * (m + 1))) ** 2)
    np.testing.assert_allclose(w[:, 4], np.sqrt(2 / (m + 1)) * np.sin(np.pi * 5 * j / (m + 1)))


def test_graph_bond_convention_matches_free_chain():
    """(A_jk/2)(X_j − X_k)² per unordered bond: a graph with A_{j,j+1} = g is the free chain."""
    m, om, g = 5, 0.5, 0.9
    a = g * (np.eye(m, k=1) + np.eye(m, k=-1))
    np.testing.assert_allclose(nw.graph(a, om).potential(), nw.chain(m, om, g, "free").potential())


def test_graph_energy_of_a_bond():
    """One bond A between two sites: ½xᵀVx = ½Ω²(x1²+x2²) + (A/2)(x1 − x2)²."""
    a = 0.7
    v = nw.graph([[0, a], [a, 0]], 1.0).potential()
    x = np.array([0.3, -1.1])
    assert np.isclose(0.5 * x @ v @ x, 0.5 * (x @ x) + 0.5 * a * (x[0] - x[1]) ** 2)


def test_network_potential_layout():
    """V = [[V_S, B], [Bᵀ, V_E]] with V_S = diag(ω²) + λ Laplacian, B[i, m−1] = K_i (Eqs. 1, 2)."""
    net = nw.paper_network(sites=10, plug=(1, 4), strengths=(0.2, -0.3))
    v = net.potential()
    np.testing.assert_allclose(v[:2, :2], [[1 + 0.5, -0.5], [-0.5, 1.21 + 0.5]])
    assert v[0, 2] == 0.2 and v[1, 2 + 3] == -0.3 and v[2, 0] == 0.2
    np.testing.assert_allclose(v[2:, 2:], nw.chain(10, 0.4, 1.2).potential())
    assert np.allclose(v, v.T)


def test_probe_attached_to_several_sites_and_three_probes():
    pr = nw.probes([1.0, 1.1, 1.2], 0.1, [[1, 3], 2, 5], [[0.1, -0.2], 0.1, 0.05])
    net = nw.couple(nw.chain(6, 0.5, 1.0), pr)
    b = net.coupling_block()
    assert b[0, 0] == 0.1 and b[0, 2] == -0.2 and b[1, 1] == 0.1 and b[2, 4] == 0.05
    v = net.potential()
    assert np.isclose(v[0, 0], 1.0 + 2 * 0.1)  # ω1² + λ12 + λ13


def test_unstable_network_refused_with_eigenvalue_and_critical_coupling():
    """No counterterm: K beyond the critical coupling makes V indefinite; the error names the
    smallest eigenvalue and the critical |K|, which is where V becomes singular."""
    with pytest.raises(UnstableNetworkError) as err:
        nw.paper_network(frequencies=(1.0, 1.2), coupling=0.0, strengths=(2.0, 2.0))
    msg = str(err.value)
    assert "smallest eigenvalue" in msg and "|K| <" in msg and "\n" not in msg
    kc = float(msg.split("|K| < ")[1].split()[0])
    env = nw.chain(300, 0.4, 1.2)
    below = nw.couple(env, nw.probes((1.0, 1.2), 0.0, (1, 1), (kc * 0.999, kc * 0.999)))
    assert np.linalg.eigvalsh(below.potential())[0] > 0
    pr = nw.Probes((1.0, 1.2), np.zeros((2, 2)), ((0, 1, kc), (1, 1, kc)))
    v = np.block([[pr.potential(), below.coupling_block() / 0.999], [below.coupling_block().T / 0.999, env.potential()]])
    assert abs(np.linalg.eigvalsh(v)[0]) < 1e-5  # |K| is printed to 6 digits


def test_stability_report_schur_matches_dense():
    net = nw.paper_network(plug=(1, 7), strengths=(0.5, 0.6))
    lam_min, s_star = nw.stability_report(net)
    assert np.isclose(lam_min, np.linalg.eigvalsh(net.potential())[0])
    # at s*, V(s*·K) is singular
    env, pr = net.environment, net.probes
    b = net.coupling_block() * s_star
    v = np.block([[pr.potential(), b], [b.T, env.potential()]])
    assert abs(np.linalg.eigvalsh(v)[0]) < 1e-10


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(sites=0), "sites"),
        (dict(omega0=-0.4), "omega0"),
        (dict(g=float("nan")), "finite"),
        (dict(boundary="fixd"), 'did you mean "fixed"'),
    ],
)
def test_chain_bad_input(kwargs, fragment):
    args = dict(sites=5, omega0=0.4, g=1.2, boundary="fixed") | kwargs
    with pytest.raises(HarmosyncError, match=fragment):
        nw.chain(**args)


def test_probe_site_outside_chain_refused():
    with pytest.raises(HarmosyncError, match="outside the chain's sites 1..5"):
        nw.couple(nw.chain(5, 0.4, 1.2), nw.probes((1.0, 1.1), 0.0, (1, 6), (0.1, 0.1)))


def test_system_normal_modes_eq_A7():
    """θ from tan 2θ = 2λ/(ω2² − ω1²); q1, q2 diagonalise H_S with Ω1 ≤ Ω2 (Eq. A7)."""
    for w1, w2, lam in [(1.0, 1.1, 0.5), (1.0, 1.2, 0.0), (1.3, 1.0, 0.2), (1.0, 1.0, 0.3)]:
        theta, om = nw.system_normal_modes((w1, w2), lam)
        a = np.array([[w1**2 + lam, -lam], [-lam, w2**2 + lam]])
        rot = np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])
        np.testing.assert_allclose(rot @ a @ rot.T, np.diag(om**2), atol=1e-12)
        root = np.sqrt(4 * lam**2 + (w1**2 - w2**2) ** 2)
        np.testing.assert_allclose(om**2, lam + (w1**2 + w2**2) / 2 + np.array([-1, 1]) * root / 2)


@pytest.mark.parametrize("om0, g", [(0.4, 1.2), (0.05, 2.0), (1.0, 0.0), (2.0, 0.01), (1e-6, 1.2), (1e-9, 1.0), (0.0, 1.2)])
def test_chain_green_function_closed_form(om0, g):
    """V_E⁻¹ of the fixed chain: sinh(lo κ) sinh((M+1−hi) κ) / (g sinh κ sinh((M+1) κ)),
    cosh κ = 1 + Ω0²/2g (Ω0 = 0: the limit lo (M+1−hi)/(g (M+1))), against a dense inverse (and
    stable for M = 10⁵)."""
    env = nw.chain(40, om0, g)
    cols = nw.environment_inverse_columns(env, [1, 7, 40])
    inv = np.linalg.inv(env.potential())
    np.testing.assert_allclose(cols, inv[:, [0, 6, 39]], rtol=1e-10, atol=1e-14)
    big = nw.environment_inverse_columns(nw.chain(100_000, om0, g), [1, 50_000])
    assert np.all(np.isfinite(big)) and np.all(big >= 0)


def test_arccosh1p_keeps_small_arguments():
    """κ = arccosh(1 + x) with x = Ω0²/2g → 0: the series √(2x)(1 − x/12) for tiny x (where
    np.arccosh(1 + x) returns 0, or loses half its digits), np.arccosh where 1 + x is exact."""
    for x in (1e-30, 1e-17, 4e-13, 1e-6):
        assert float(nw.arccosh1p(x)) == pytest.approx(np.sqrt(2 * x) * (1 - x / 12), rel=1e-14)
    for x in (0.5, 1.0, 3.0, 1e6):
        assert float(nw.arccosh1p(x)) == pytest.approx(np.arccosh(1 + x), rel=1e-14)
    assert float(nw.arccosh1p(0.0)) == 0.0


@pytest.mark.parametrize("boundary", ["fixed", "free", "periodic"])
def test_environment_frequencies_without_vectors(boundary):
    """Environment.frequencies() (closed form for chains, no mode matrix) = √eig(V_E)."""
    env = nw.chain(37, 0.4, 1.2, boundary=boundary)
    np.testing.assert_allclose(env.frequencies(), np.sqrt(np.linalg.eigvalsh(env.potential())), rtol=1e-12)
    g = nw.graph(np.array([[0, 1.0, 0], [1.0, 0, 0.5], [0, 0.5, 0]]), [0.4, 0.5, 0.6])
    np.testing.assert_allclose(g.frequencies(), np.sqrt(np.linalg.eigvalsh(g.potential())), rtol=1e-12)


@pytest.mark.parametrize("boundary", ["fixed", "free"])
@pytest.mark.parametrize("m, om0", [(1, 0.4), (2, 0.4), (7, 0.4), (50, 0.4), (50, 1e-3), (50, 0.0)])
def test_chain_mode_rows_are_the_eigenvectors_of_the_potential(boundary, m, om0):
    """chain_mode_rows (Eq. A6 and the free-end cosines, in chain_modes' ascending order) against
    numpy.linalg.eigh of V_E, column by column up to sign (the spectra are simple), and the
    spectrum of chain_modes against eigh's eigenvalues."""
    if om0 == 0 and boundary == "free":  # a zero mode (the uniform translation): refused
        with pytest.raises(HarmosyncError, match="fixed ends"):
            nw.chain_modes(m, om0, 1.2, boundary, vectors=False)
        return
    v = nw.chain(m, om0, 1.2, boundary).potential()
    lam, u = np.linalg.eigh(v)
    om = nw.chain_modes(m, om0, 1.2, boundary, vectors=False)[0]
    np.testing.assert_allclose(om**2, lam, rtol=1e-12, atol=1e-14)
    rows = nw.chain_mode_rows(m, boundary, np.arange(1, m + 1))
    sign = np.sign(np.sum(rows * u, axis=0))
    np.testing.assert_allclose(rows * sign, u, atol=1e-13)
    # a few rows alone are the same rows
    np.testing.assert_array_equal(nw.chain_mode_rows(m, boundary, [m, 1]), rows[[m - 1, 0]])


def test_chain_mode_rows_keep_their_digits_at_a_million_sites():
    """The phase πsk/(M+1) is reduced modulo 2π in integers: at M = 10⁶ + 3 the rows agree with
    a 30-digit evaluation of √(2/(M+1)) sin(πsk/(M+1)) to 1e-15 of their scale."""
    import mpmath as mp

    m = 1_000_003
    sites = [1, 499_999, m]
    rows = nw.chain_mode_rows(m, "fixed", sites)
    ks = [1, 2, 777_777, m - 1, m]
    with mp.workdps(30):
        for i, s in enumerate(sites):
            for k in ks:
                ref = mp.sqrt(mp.mpf(2) / (m + 1)) * mp.sin(mp.pi * s * k / (m + 1))
                assert abs(rows[i, k - 1] - float(ref)) < 1e-15 * np.sqrt(2 / (m + 1))
    free = nw.chain_mode_rows(m, "free", sites)
    with mp.workdps(30):
        for i, s in enumerate(sites):
            for k in ks[:-1]:
                ref = mp.sqrt(mp.mpf(2) / m) * mp.cos(mp.pi * k * (s - mp.mpf(1) / 2) / m)
                assert abs(free[i, k] - float(ref)) < 1e-15 * np.sqrt(2 / m)


@pytest.mark.parametrize("boundary, om0", [("fixed", 0.4), ("free", 0.4), ("fixed", 1e-3), ("free", 1e-3), ("fixed", 0.0)])
def test_arrowhead_on_closed_form_rows_matches_eigh(boundary, om0):
    """The structured path's spectrum: solvers.arrowhead on (chain_modes, B·chain_mode_rows) gives
    the eigenvalues of the full V (probes + chain) and its probe rows (sign-free products
    a_ik a_jk) as numpy.linalg.eigh does, soft and acoustic chains included."""
    from harmosync.solvers.arrowhead import arrowhead_modes

    k = (0.05, -0.04) if boundary == "fixed" or om0 > 0.1 else (1e-3, -8e-4)  # a soft free chain: K ≲ ω Ω0 √M
    net = nw.couple(nw.chain(60, om0, 1.0, boundary), nw.probes((1.0, 1.1), 0.3, (1, 10), k))
    lam, u = np.linalg.eigh(net.potential())
    sites = net.plugged_sites()
    env_d = nw.chain_modes(60, om0, 1.0, boundary, vectors=False)[0] ** 2
    env_c = net.coupling_block()[:, [s - 1 for s in sites]] @ nw.chain_mode_rows(60, boundary, sites)
    modes = arrowhead_modes(net.probes.potential(), env_d, env_c)
    scale = np.abs(lam).max()
    np.testing.assert_allclose(modes.values, lam, rtol=0, atol=1e-14 * scale)
    a = modes.rows(probe_rows=np.eye(2))
    np.testing.assert_allclose(np.einsum("ik,jk->ijk", a, a), np.einsum("ik,jk->ijk", u[:2], u[:2]), atol=1e-12)
