"""Adversarial review of issue 14's batched maps and sweeps: cases where a fast route departed
from its one-point definition, or from the command's contract (one-line errors, Ctrl-C stops).

Each test states the definition it checks; the numbers come from that definition, computed
independently (closed forms, the unbatched path), never from the code under review.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import harmosync
from harmosync import measures as ms


# ----------------------------------------------------------------------------------------------
# Single-mode symplectic eigenvalue: ν = √det σ, NaN in → NaN out (as for two or more modes)
# ----------------------------------------------------------------------------------------------
def test_single_mode_nan_covariance_gives_nan_like_two_modes():
    """For one mode ν = √det σ (the closed-form Cholesky of issue 14 must compute exactly
    that). A NaN covariance in a stack (a gap in stored data) gives ν = NaN for that entry and
    the exact values for the others — as the n ≥ 2 path (LAPACK Cholesky) and the code before
    issue 14 do — instead of refusing the whole stack as "not positive definite"."""
    good = np.array([[2.0, 0.3], [0.3, 0.7]])
    stack = np.stack([good, np.full((2, 2), np.nan), np.array([[1.0, np.nan], [np.nan, 1.0]])])
    nu = ms.symplectic_eigenvalues(stack)
    assert nu.shape == (3, 1)
    assert nu[0, 0] == pytest.approx(np.sqrt(2.0 * 0.7 - 0.3**2), rel=1e-15)
    assert np.isnan(nu[1:, 0]).all()
    # the two-mode path on the same kind of input: NaN, no error
    two = np.stack([np.eye(4) * 0.5, np.full((4, 4), np.nan)])
    assert np.isnan(ms.symplectic_eigenvalues(two)[1]).all()
    # a matrix that is really not positive definite is still refused
    with pytest.raises(harmosync.HarmosyncError, match="not positive definite"):
        ms.symplectic_eigenvalues(np.array([[1.0, 2.0], [2.0, 1.0]]))


# ----------------------------------------------------------------------------------------------
# C(t, Δt; τ) of Eq. (3) with a delay that reaches past the data: NaN (docstring), not a crash
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("delay", [6.0, -6.0, 5.0])
def test_sync_factor_delay_past_the_data_is_nan(delay):
    """Eq. (3) with g read at t + τ: where t + τ (or its window) lies outside the samples, C is
    NaN by definition (sync_factor's docstring). A |τ| as long as the series leaves no sample:
    all NaN, for one pair and for a stack, on any number of workers."""
    t = 0.1 * np.arange(50)
    f, g = np.cos(t), np.sin(1.3 * t)
    assert np.isnan(ms.sync_factor(f, g, 0.1, 2.0, delay=delay)).all()
    stack = ms.sync_factor(np.stack([f, g, f]), np.stack([g, f, f]), 0.1, 2.0, delay=delay, workers=2)
    assert stack.shape == (3, 50) and np.isnan(stack).all()


# the fake figures' drawing and the `figure all` run into sys.argv[1], shared by the scripts below
_FAKE_FIGURES_RUN = """def draw(n, ds):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.plot(ds["y"].values)
    return fig
figs.compute, figs.draw = compute, draw
from harmosync.cli import main
sys.argv = ["harmosync", "figure", "all", "--out", sys.argv[1]]
main()
"""

# ----------------------------------------------------------------------------------------------
# `harmosync figure all` on two workers: Ctrl-C stops it, as it stops the serial loop
# ----------------------------------------------------------------------------------------------
FAKE = """
import sys, time
from pathlib import Path
import numpy as np, xarray as xr
import harmosync.figures as figs
out = Path(sys.argv[1])
def compute(n, params=None, *, progress=False):
    (out.parent / f"started{n}").touch()
    time.sleep(3.0)
    return xr.Dataset({"y": ("x", np.arange(3.0))}, attrs={"title": f"fig{n}"})
"""+_FAKE_FIGURES_RUN


@pytest.mark.skipif(not hasattr(os, "killpg") or len(os.sched_getaffinity(0)) < 2 or shutil.which("ps") is None,
                    reason="needs process groups, ps and two cores (the forked figure workers)")
def test_figure_all_ctrl_c_stops_at_once_and_writes_nothing_after(tmp_path):
    """Ctrl-C (SIGINT to the terminal's process group) while both workers are making a figure:
    the command exits promptly (130), no figure file appears after the interrupt, no temporary
    file is left, no worker process survives. (The figures are replaced by 3-second fakes.)"""
    script = tmp_path / "fake.py"
    script.write_text(textwrap.dedent(FAKE))
    out = tmp_path / "figs"
    env = {**os.environ, "PYTHONPATH": str(Path(harmosync.__file__).parents[1])}
    proc = subprocess.Popen([sys.executable, str(script), str(out)], env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.time() + 60
        while len(list(tmp_path.glob("started*"))) < 2 and time.time() < deadline:
            time.sleep(0.05)
        assert len(list(tmp_path.glob("started*"))) >= 2, "the two workers never started"
        time.sleep(0.3)
        t_int = time.time()
        os.killpg(proc.pid, signal.SIGINT)
        proc.communicate(timeout=60)
        waited = time.time() - t_int
        time.sleep(0.5)
        left = subprocess.run(["ps", "-o", "pid=", "-g", str(proc.pid)], capture_output=True, text=True).stdout.split()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert proc.returncode == 130
    late = [p.name for p in out.iterdir() if p.stat().st_mtime >= t_int]
    assert not late, f"written after Ctrl-C: {late}"
    assert not list(out.glob(".*")), "temporary files left behind"
    assert not left, f"processes left: {left}"
    assert waited < 2.5, f"took {waited:.1f} s to stop after Ctrl-C"


FAILING = """
import sys, time
import numpy as np, xarray as xr
import harmosync.figures as figs
from harmosync.errors import HarmosyncError
def compute(n, params=None, *, progress=False):
    time.sleep(0.3 if n == 1 else 1.5)
    if n == 1:
        raise HarmosyncError("fig1 refused on purpose")
    return xr.Dataset({"y": ("x", np.arange(3.0))}, attrs={"title": f"fig{n}"})
"""+_FAKE_FIGURES_RUN


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores (the forked figure workers)")
def test_figure_all_stops_at_the_first_failing_figure(tmp_path):
    """A figure that fails ends `figure all` with its one-line error (exit 2), as the serial
    loop did: the figure being made beside it is stopped and the others are not started —
    nothing is written after the error, no temporary file is left. (Before the fix every other
    figure was still made and written, silently, before the error was reported.)"""
    script = tmp_path / "failing.py"
    script.write_text(textwrap.dedent(FAILING))
    out = tmp_path / "figs"
    env = {**os.environ, "PYTHONPATH": str(Path(harmosync.__file__).parents[1])}
    res = subprocess.run([sys.executable, str(script), str(out)], env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines()[-1] == "harmosync: error: fig1 refused on purpose"
    assert sorted(p.name for p in out.iterdir()) == []


def test_means_many_refuses_true_as_a_worker_count_like_sync_factor():
    """``workers`` is a whole number ≥ 1 (one-line error otherwise); True is a bool, refused
    by sync_factor — means_many must refuse it too (it took it as 1)."""
    from harmosync import dynamics as dy
    from harmosync import states as st
    from harmosync.dynamics.many import means_many
    from harmosync.network import chain, couple, probes

    net = couple(chain(6, 0.4, 1.2), probes([1.0, 1.1], 0.2, (1, 3), (0.1, 0.1)))
    evo = dy.solve(net, st.InitialState(st.product(st.coherent(1.0, x=1.0), st.coherent(1.1))),
                   covariance=False)
    t = 0.1 * np.arange(20)
    with pytest.raises(harmosync.HarmosyncError, match="workers must be a whole number"):
        ms.sync_factor(t, t, 0.1, 0.5, workers=True)
    with pytest.raises(harmosync.HarmosyncError, match="workers must be a whole number"):
        means_many([evo, evo], t, workers=True)


def test_two_mode_nan_covariance_gives_nan_and_a_finite_non_physical_one_is_refused():
    """Two modes: a NaN entry in one covariance of a stack gives NaN for that one and the
    exact ν (a product of thermal modes: ν = the diagonal) for the others; a finite σ with a
    non-positive pivot is still refused."""
    stack = np.stack([np.eye(4) * 0.6, np.eye(4) * 0.6, np.eye(4) * 0.6])
    stack[1, 0, 0] = np.nan
    nu = ms.symplectic_eigenvalues(stack)
    assert np.isnan(nu[1]).all() and np.allclose(nu[[0, 2]], 0.6, rtol=1e-15)
    bad = np.eye(4) * 0.6
    bad[2, 2] = -0.1
    from harmosync.errors import HarmosyncError

    with pytest.raises(HarmosyncError, match="not positive definite"):
        ms.symplectic_eigenvalues(bad)
