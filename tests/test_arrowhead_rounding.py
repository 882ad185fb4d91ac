"""harmosync.solvers.arrowhead.chain_rounding: entrywise bounds δd ≥ |d_exact − d̃| and
δC ≥ |C_exact − C̃| on a homogeneous chain's spectrum d_k = Ω0² + 4g sin²(πk/2(M+1)) (fixed ends;
free: πk/2M, k from 0) and its coupling rows C_ik = K_i W_(s_i k) as the solver has them in double,
against the same closed forms in mpmath (40 digits). Its extended-precision spectrum and rows are
kept between calls for chains up to KEPT_UP_TO sites (a map's networks share them): a second
call gives the same bounds, and the kept arrays cannot be written."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

from harmosync.network import chain_mode_rows, chain_modes
from harmosync.solvers import arrowhead


def _exact(m, omega0, g, boundary, sites, strengths):
    """(d, C) of the chain in mpmath, 40 digits."""
    with mp.workdps(40):
        fixed = boundary == "fixed"
        ks = range(1, m + 1) if fixed else range(m)
        d = [mp.mpf(omega0) ** 2 + 4 * mp.mpf(g) * mp.sin(mp.pi * k / (2 * (m + 1) if fixed else 2 * m)) ** 2
             for k in ks]
        rows = []
        for s, kk in zip(sites, strengths):
            if fixed:
                row = [mp.sqrt(mp.mpf(2) / (m + 1)) * mp.sin(mp.pi * s * k / (m + 1)) for k in ks]
            else:
                row = [mp.sqrt(mp.mpf(2) / m) * mp.cos(mp.pi * (2 * s - 1) * k / (2 * m)) for k in ks]
                row[0] = 1 / mp.sqrt(mp.mpf(m))
            rows.append([mp.mpf(kk) * x for x in row])
        return d, rows


@pytest.mark.parametrize("m, omega0, g, boundary, sites, strengths", [
    (40, 0.3, 1.0, "fixed", (1, 17), (0.06, 0.5)),
    (41, 1e-3, 2.5, "free", (1, 41), (0.2, 1e-4)),
    (300, 0.0, 1.0, "fixed", (150, 299), (0.06, 0.06)),
    (64, 2.0, 0.1, "free", (33, 33), (0.3, 0.7)),
    (arrowhead.KEPT_UP_TO + 7, 0.3, 1.0, "fixed", (1, 2001), (0.06, 0.06)),  # (not kept: computed each call)
])
def test_chain_rounding_encloses_the_closed_forms(m, omega0, g, boundary, sites, strengths):
    d = chain_modes(m, omega0, g, boundary, vectors=False)[0] ** 2
    c = np.vstack([k * chain_mode_rows(m, boundary, [s])[0] for s, k in zip(sites, strengths)])
    att = [(i, s, k) for i, (s, k) in enumerate(zip(sites, strengths))]
    dd, dc = arrowhead.chain_rounding(d, c, m, omega0, g, boundary, att)
    d_ex, c_ex = _exact(m, omega0, g, boundary, sites, strengths)
    with mp.workdps(40):
        err_d = np.array([float(abs(x - mp.mpf(y))) for x, y in zip(d_ex, d)])
        err_c = np.array([[float(abs(x - mp.mpf(y))) for x, y in zip(row, crow)] for row, crow in zip(c_ex, c)])
    assert np.all(dd >= err_d) and np.all(dc >= err_c)
    # and within 100 units of the rounding they bound (ε of the entry, or of the row's scale)
    eps = np.finfo(float).eps
    assert np.all(dd <= 100 * eps * np.abs(d) + 1e-300)
    assert np.all(dc <= 100 * eps * np.abs(np.asarray(strengths))[:, None] * np.sqrt(2 / m))
    again = arrowhead.chain_rounding(d, c, m, omega0, g, boundary, att)
    assert np.array_equal(again[0], dd) and np.array_equal(again[1], dc)
    kept = arrowhead._spectrum_kept(m, float(omega0), float(g), boundary)
    with pytest.raises(ValueError):
        kept[0] = 0
