"""The paper's figures (harmosync.figures): regression against golden data, the qualitative
claim of each figure checked on the exact dynamics, the fast paths of the recipes against the
core, and ``harmosync figure``.

All times are in 1/ω1 (ω1 = 1), Δt = 20 is the window of Eq. (3). The claims' time windows are
built from τ_CT and τ_R of analysis.times.characteristic_times, so that they follow the
physics, not hand-picked numbers: for the paper's chain τ_CT = 327.9 and τ_R = 658.0.

Golden files: ``tests/golden/figN.nc`` hold every GOLDEN_EVERY-th time of each figure's data
(Fig. 6: the plugging sites FIG6_SITES only) and, in their attributes, the parameters that made
them. Regenerate them only after a deliberate change of a recipe or of the physics — never to
make a failing test pass — with ``python tests/test_figures.py --regenerate``; a recipe that
gains a variable adds only that variable to its golden file, the stored ones kept as they are
after checking that they still agree, with ``python tests/test_figures.py --add-new N``.
"""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import probe_means

from harmosync import dynamics as dy
from harmosync.dynamics import reference as dyref
from harmosync import figures, io
from harmosync import measures as ms
from harmosync.errors import HarmosyncError
from harmosync.figures import common

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
GOLDEN_EVERY = 10.0  # [1/ω1]
#: Fig. 6 on a few plugging sites (the full map of 300 sites takes ~10 s), with a block of
#: neighbouring sites 146…155.
FIG6_SITES = (1, 50, 100, *range(146, 156), 200, 250, 300)
W = 20.0  # Δt


def params_for(number: int):
    """The parameters the tests (and the golden files) use: the paper's, Fig. 6 on FIG6_SITES."""
    mod = figures.recipe(number)
    return mod.Params(second_sites=FIG6_SITES) if number == 6 else mod.Params()


@functools.cache
def figure_data(number: int):
    """Each figure's dataset, computed once per session."""
    return figures.compute(number, params_for(number))


def golden_subset(ds):
    """Every GOLDEN_EVERY-th time of ``ds`` (its grid is uniform)."""
    step = float(ds.time[1] - ds.time[0])
    return ds.isel(time=slice(None, None, round(GOLDEN_EVERY / step)))


def regenerate() -> None:
    """Rewrite tests/golden/figN.nc from the current code (see the module docstring)."""
    GOLDEN_DIR.mkdir(exist_ok=True)
    for n in figures.FIGURES:
        path = io.write_netcdf(golden_subset(figure_data(n)), GOLDEN_DIR / f"fig{n}.nc", overwrite=True)
        print(f"wrote {path}")


def add_new_variables(number: int) -> None:
    """Add to tests/golden/figN.nc only the variables the recipe computes and the file lacks;
    the stored variables must still agree with the recipe (as in test_golden_data) and are
    written back unchanged."""
    golden = io.read(GOLDEN_DIR / f"fig{number}.nc")
    ds = golden_subset(figure_data(number))
    for name in golden.data_vars:
        np.testing.assert_allclose(ds[name].values, golden[name].values, rtol=1e-8, atol=1e-8,
                                   equal_nan=True, err_msg=f"fig{number}: {name}")
    new = [name for name in ds.data_vars if name not in golden.data_vars]
    for name in new:
        golden[name] = ds[name]
    path = io.write_netcdf(golden, GOLDEN_DIR / f"fig{number}.nc", overwrite=True)
    print(f"wrote {path}: added {', '.join(new) or 'nothing'}")


def mean_over(da, start, stop):
    return common.window_mean(np.asarray(da), np.asarray(da["time"]), start, stop)


def taus(ds):
    return ds.attrs["times.tau_crosstalk"], ds.attrs["times.tau_revival"]


# ----------------------------------------------------------------------------------------------
# Golden data
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("number", sorted(figures.FIGURES))
def test_golden_data(number):
    """Regression: the figure data at the golden file's own parameters equals the stored
    subsample to 1e-8 (relative and absolute)."""
    golden = io.read(GOLDEN_DIR / f"fig{number}.nc")
    mod = figures.recipe(number)
    params = common.read_params(mod.Params, golden)
    assert params == params_for(number)  # so the cached data is the golden file's recipe
    ds = golden_subset(figure_data(number))
    assert set(ds.data_vars) == set(golden.data_vars)
    for name in golden.coords:
        np.testing.assert_array_equal(ds[name].values, golden[name].values)
    for name in golden.data_vars:
        np.testing.assert_allclose(ds[name].values, golden[name].values, rtol=1e-8, atol=1e-8,
                                   equal_nan=True, err_msg=f"fig{number}: {name}")


@pytest.mark.parametrize("number", sorted(figures.FIGURES))
def test_metadata_records_choices_units_and_times(number):
    """Every figure file says what it chose where the paper is silent, and carries units,
    conventions and τ_CT, τ_R."""
    ds = figure_data(number)
    choices = {k for k in ds.attrs if k.startswith("choice.")}
    assert "choice.window" in choices
    assert choices & {"choice.initial_state", "choice.squeezing_quadrature"}
    assert "convention.ordering" in ds.attrs and ds.attrs["harmosync_version"]
    assert ds.attrs["times.tau_revival"] > 0 and "time" in ds.coords
    for name, var in ds.data_vars.items():
        assert "units" in var.attrs, name
    assert ds["sync" if "sync" in ds else "sync_variance"].attrs["window"] == W


# ----------------------------------------------------------------------------------------------
# The fast paths against the core
# ----------------------------------------------------------------------------------------------
def test_fig6_fast_path_matches_full_solution():
    """One row of the Fig. 6 map (means-only solution + strided C) equals the full exact
    solution (dynamics.solve, covariance included) followed by measures.sync_factor."""
    p = figures.recipe(6).Params(second_sites=(151,), stop=300.0)
    row = figures.compute(6, p)["sync"].sel(site=151)
    net = figures.recipe(6).network(p, 151)
    t = common.time_grid(p.stop, p.step)
    state = common.coherent_pair(p.frequencies, p.x0, p.p0)
    m = (dy.solve(net, state)).moments(t)
    ref = ms.sync_factor(m.mean[:, 0], m.mean[:, 2], p.step, p.window)[:: round(p.every / p.step)]
    np.testing.assert_allclose(row.values, ref, rtol=0, atol=1e-10, equal_nan=True)
    means = probe_means(net, [p.x0[0], p.p0[0], p.x0[1], p.p0[1]], t)
    np.testing.assert_allclose(means, m.mean, rtol=0, atol=1e-12)


# ----------------------------------------------------------------------------------------------
# The paper's claims
# ----------------------------------------------------------------------------------------------
def test_fig1_antisync_then_sync_with_flipped_coupling():
    """Fig. 1 / Sec. III A: C < −0.99 on average for 150 ≤ t ≤ 600 (anti-sync: only x+ couples
    to the chain, Eq. 8); with K2 → −K2, x− couples instead and C > +0.99 there."""
    ds = figure_data(1)
    assert mean_over(ds.sync.sel(case="attractive"), 150, 600) < -0.99
    assert mean_over(ds.sync.sel(case="repulsive"), 150, 600) > 0.99


def test_fig1_revival_breaks_and_restores_antisync():
    """Fig. 1: the reflection at τ_R degrades anti-sync and regrows the damped mode ⟨q1⟩; after
    a transient anti-sync is restored until ≈ 2τ_R."""
    ds = figure_data(1).sel(case="attractive")
    _, tau_r = taus(ds)
    assert mean_over(ds.sync, tau_r - W, tau_r + 80) > -0.6
    q1 = np.abs(ds.q1)
    assert float(q1.sel(time=slice(tau_r, tau_r + 100)).max()) > 20 * float(q1.sel(time=slice(tau_r - 150, tau_r - 50)).max())
    assert mean_over(ds.sync, 1000, 2 * tau_r - 3 * W) < -0.99


def test_fig2_strong_coupling_synchronizes_weak_does_not():
    """Fig. 2 / Sec. IV A: in the plateau [τ_R/2, τ_R − Δt] before the revival, K = 0.8 gives
    C ≈ 1 while K = 0.1 keeps detuned oscillations (|C| ≈ 2/π on average, never locked)."""
    ds = figure_data(2).sel(initial="primary")
    _, tau_r = taus(ds)
    assert mean_over(ds.sync.sel(K=0.8), tau_r / 2, tau_r - W) > 0.98
    assert mean_over(np.abs(ds.sync.sel(K=0.1)), tau_r / 2, tau_r - W) < 0.75


def test_fig2_plateau_oscillates_at_the_localized_mode():
    """Fig. 2, K = 0.8: the steady oscillation is the network's normal mode below the chain band
    (frequency < Ω0 = 0.4, found independently by diagonalising V), not a band mode."""
    ds = figure_data(2).sel(initial="primary", K=0.8)
    net = figures.recipe(2).network(figures.recipe(2).Params(), 0.8)
    w, _ = dyref.normal_modes(net)
    below = w[w < 0.4]
    assert below.size == 1
    x1 = ds.x.sel(probe=1, time=slice(300, 600)).values
    n = 64 * x1.size  # zero padding: interpolates the peak of the Hann-windowed spectrum
    freq = 2 * np.pi * np.fft.rfftfreq(n, 0.05)
    peak = freq[np.argmax(np.abs(np.fft.rfft(x1 * np.hanning(x1.size), n=n)))]
    assert abs(peak - below[0]) < 2e-3 and peak < 0.4 - 0.015


def test_fig2_claim_depends_on_the_initial_state():
    """Documents docs/paper.md: with Fig. 1's displacement x(0) = (0.14, 1.4) instead, C at
    K = 0.8 stays far from 1 in the same plateau (the caption gives no initial state)."""
    ds = figure_data(2)
    _, tau_r = taus(ds)
    alt = mean_over(ds.sync.sel(initial="alternative", K=0.8), tau_r / 2, tau_r - W)
    assert alt < 0.6


def test_fig3_crosstalk_synchronizes():
    """Fig. 3 / Sec. IV B: during independent dissipation (t < τ_CT) no sync; at τ_CT the
    oscillations rise again; in the crosstalk window [τ_CT + Δt, τ_R − 2Δt] the symmetric state
    synchronizes (C > 0.99) and the asymmetric one does with a delay (C(τ*) > 0.97, C(0) low)."""
    ds = figure_data(3)
    tau_ct, tau_r = taus(ds)
    sym, asym = ds.sel(case="symmetric"), ds.sel(case="asymmetric")
    assert mean_over(np.abs(sym.sync), 2 * W, tau_ct - W) < 0.7
    assert mean_over(sym.sync, tau_ct + W, tau_r - 2 * W) > 0.99
    assert mean_over(asym.sync_delayed, tau_ct + W, tau_r - 2 * W) > 0.97
    assert mean_over(asym.sync, tau_ct + W, tau_r - 2 * W) < 0.5
    assert abs(float(asym.best_delay)) <= np.pi
    x1 = np.abs(sym.x.sel(probe=1))
    assert float(x1.sel(time=slice(tau_ct, tau_ct + 50)).max()) > 5 * float(x1.sel(time=slice(tau_ct - 50, tau_ct)).max())


@pytest.mark.parametrize("angle", [0.0, np.pi])
def test_fig4_entanglement_and_variance_sync(angle):
    """Fig. 4 / Sec. V A, both squeezing quadratures: E_N = 0 for the product state at t = 0,
    builds up (> 0.5) within t ≤ 50, keeps a steady non-zero mean (E_N and I) before τ_R, and
    C of ⟨x1²⟩, ⟨x2²⟩ ≈ 1 (> 0.99) for 300 ≤ t ≤ τ_R − 2Δt."""
    ds = figure_data(4).sel(squeezing_angle=angle)
    _, tau_r = taus(ds)
    ln = ds.log_negativity
    assert float(ln[0]) == 0.0 and float(ds.mutual_information[0]) < 1e-12
    assert float(ln.sel(time=slice(0, 50)).max()) > 0.5
    early, late = mean_over(ln, 300, 450), mean_over(ln, 450, tau_r - W)
    assert early > 0.01 and abs(early - late) < 0.1 * early
    assert mean_over(ds.mutual_information, 300, tau_r - W) > 0.05
    assert mean_over(ds.sync_variance, 300, tau_r - 2 * W) > 0.99


@pytest.mark.parametrize("angle", [0.0, np.pi])
def test_fig4_discord_beside_mutual_information(angle):
    """Fig. 4's discord D(1|2) (Gaussian measurements on probe 2): 0 for the product state at
    t = 0, 0 ≤ D ≤ I at every time (J = I − D ≥ 0 is the classical part), and a non-zero
    plateau before τ_R like I's (Giorgi et al. 2012: discord survives on the plateau)."""
    ds = figure_data(4).sel(squeezing_angle=angle)
    _, tau_r = taus(ds)
    d, mi = ds.discord.values, ds.mutual_information.values
    assert abs(d[0]) < 1e-12
    assert np.all(d >= 0) and np.all(d <= mi + 1e-10)
    assert mean_over(ds.discord, 300, tau_r - W) > 0.01


@pytest.mark.parametrize("angle", [0.0, np.pi])
def test_fig5_variances_sync_without_entanglement(angle):
    """Fig. 5 / Sec. V B, both quadratures: in the crosstalk window the variances synchronize
    (C > 0.99) while E_N stays exactly 0; the mutual information rises from zero (< 1e-12
    before the first signal arrives) to a finite value after τ_CT."""
    ds = figure_data(5).sel(squeezing_angle=angle)
    tau_ct, tau_r = taus(ds)
    assert mean_over(ds.sync_variance, tau_ct + W, tau_r - 2 * W) > 0.99
    assert float(ds.log_negativity.sel(time=slice(0, tau_r)).max()) == 0.0
    mi = ds.mutual_information
    assert float(mi.sel(time=slice(0, tau_ct - 2 * W)).max()) < 1e-12
    assert float(mi.sel(time=slice(tau_ct, tau_r)).max()) > 1e-3


def test_fig6_triangle_has_no_sync_and_does_not_depend_on_m():
    """Fig. 6 / App. B: in the triangle (before crosstalk and before probe 2's echo from the
    nearer end) the probes dissipate independently: |C| stays small and C(t) is the same for
    every plugging site m; afterwards neighbouring sites give very different C."""
    fig6 = figures.recipe(6)
    ds = figure_data(6)
    tri = fig6.triangle(ds)
    inside = ds.sync.where(tri)
    assert int(tri.sum()) > 300  # sites 50…250, 40 ≤ t < 220
    assert float(np.abs(inside).mean()) < 0.1 and float(np.abs(inside).max()) < 0.3
    spread = (inside.max("site") - inside.min("site")).where(tri.sum("site") >= 2)
    assert float(spread.max()) < 5e-3
    block = ds.sync.sel(site=slice(146, 155), time=slice(600, 900))
    assert float(np.abs(block.diff("site")).mean()) > 0.1  # full map: 0.2–0.4 for every m


@pytest.mark.parametrize("number, select, name", [
    (2, {"initial": "primary", "K": 0.8}, "sync"),
    (3, {"case": "symmetric"}, "sync"),
    (5, {"squeezing_angle": 0.0}, "sync_variance"),
])
def test_examples_reproduce_the_recipes(number, select, name):
    """examples/figN.toml run through `simulate` (full covariance, dynamics.solve) gives the
    recipe's curve (Figs. 2–3: means-only path) to roundoff, here on 0 ≤ t ≤ 150."""
    import tomllib

    from harmosync import config
    from harmosync.simulation import simulate

    data = tomllib.loads((Path(__file__).resolve().parents[1] / "examples" / f"fig{number}.toml").read_text())
    data["time"]["stop"] = 150.0
    run = io.to_dataset(simulate(config.parse(data)))
    ref = figure_data(number).sel(**select)[name].sel(time=slice(0, 150 - W - 0.01))
    got = run[name].sel(time=ref.time)
    np.testing.assert_allclose(got.values, ref.values, rtol=0, atol=1e-9)


# ----------------------------------------------------------------------------------------------
# Input checks and the CLI
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("number, kwargs, fragment", [
    (1, {"step": 0.0}, "step"),
    (1, {"window": 20.03}, "whole number of time steps"),
    (4, {"angles": ()}, "angles"),
    (6, {"every": 0.15}, "every"),
    (6, {"second_sites": (0, 5)}, "second_sites"),
])
def test_bad_parameters_are_refused(number, kwargs, fragment):
    with pytest.raises(HarmosyncError, match=fragment):
        figures.recipe(number).Params(**kwargs)


def test_unknown_figure_is_refused():
    with pytest.raises(HarmosyncError, match="figure must be one of"):
        figures.recipe(7)


def test_cli_writes_files_and_never_overwrites(tmp_path):
    """`harmosync figure 1 --out DIR` writes fig1.png and fig1.nc (readable, with its choices);
    a second run refuses (exit 2, one line) and leaves the file untouched; bad input exits 2."""
    from harmosync.cli import main

    runner = CliRunner()
    res = runner.invoke(main, ["figure", "1", "--out", str(tmp_path / "figs")])
    assert res.exit_code == 0, res.output
    png, nc = tmp_path / "figs" / "fig1.png", tmp_path / "figs" / "fig1.nc"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ds = io.read(nc)
    assert "choice.initial_state" in ds.attrs and ds.sync.dims == ("case", "time")
    assert "wall time" in res.output
    before = (png.stat().st_mtime_ns, nc.read_bytes())
    again = runner.invoke(main, ["figure", "1", "--out", str(tmp_path / "figs")])
    assert again.exit_code == 2
    msg = again.stderr.strip()
    assert msg.startswith("harmosync: error:") and "\n" not in msg and "--overwrite" in msg
    assert (png.stat().st_mtime_ns, nc.read_bytes()) == before
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == ["fig1.nc", "fig1.png"]
    for args in (["figure", "7", "--out", str(tmp_path)], ["figure", "1", "--out", str(png)]):
        bad = runner.invoke(main, args)
        assert bad.exit_code == 2 and bad.stderr.startswith("harmosync: error:"), bad.output


def test_figures_package_import_is_light():
    """Importing the recipes loads neither matplotlib nor xarray (they are leaves)."""
    code = ("import sys, harmosync.figures as f\n"
            "[f.recipe(n) for n in f.FIGURES]\n"
            "print(any(m in sys.modules for m in ('matplotlib', 'xarray')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_sigterm_unwinds_like_ctrl_c_with_exit_143():
    """Within `figure all`'s pipeline SIGTERM raises cli.Terminated (a KeyboardInterrupt, so
    the cleanup of Ctrl-C runs), the previous handler is back afterwards, and the command exits
    with 143 and one line."""
    import os
    import signal
    import threading
    import time

    from harmosync.cli import Terminated, handle_errors, sigterm_unwinds

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers are set in the main thread only")
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated):
        with sigterm_unwinds():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # interrupted by the handler at once
    assert signal.getsignal(signal.SIGTERM) is before

    @handle_errors
    def command():
        raise Terminated()

    with pytest.raises(SystemExit) as stop:
        command()
    assert stop.value.code == 143


def test_package_names_load_their_modules_on_first_use():
    """`import harmosync` loads none of numpy, scipy, numba, xarray, matplotlib (PEP 562: each
    public name imports its module on first use, so `figure all` forks its workers before the
    imports only one of them needs); `from harmosync import solve`, `harmosync.chain`, `dir` and
    `__version__` work as with eager imports, as does a submodule as an attribute
    (`harmosync.measures` after `import harmosync`); an unknown name is an AttributeError."""
    code = ("import importlib, sys, harmosync as hs\n"
            "heavy = {'numpy', 'scipy', 'numba', 'xarray', 'matplotlib'}\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & heavy), hs.__version__)\n"
            "from harmosync import solve\n"
            "from harmosync.dynamics import solve as direct\n"
            "print(solve is direct, set(hs.__all__) <= set(dir(hs)), all(getattr(hs, n) is getattr("
            "importlib.import_module('harmosync.' + hs.EXPORTS[n]), n) for n in hs.__all__), hasattr(hs, 'nothing'),\n"
            "      hs.measures is sys.modules['harmosync.measures'])")
    from harmosync import __version__

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == f"[] {__version__}"
    assert out[1] == "True True True False True"


if __name__ == "__main__":
    if sys.argv[1:] == ["--regenerate"]:
        regenerate()
    elif sys.argv[1:2] == ["--add-new"] and all(a.isdigit() for a in sys.argv[2:]):
        for n in sys.argv[2:]:
            add_new_variables(int(n))
    else:
        print("usage: python tests/test_figures.py --regenerate   (rewrites tests/golden/figN.nc)\n"
              "       python tests/test_figures.py --add-new N ... (adds figN's new variables only)")


def test_several_figures_run_in_two_processes_and_write_what_one_process_writes(tmp_path):
    """`figure all` computes the figures in a forked child while the parent draws them: the
    files are those of the serial run (same data, same PNG bytes), and a refusal reaches the
    caller as the same error."""
    from harmosync.cli import figure as cli_figure
    from harmosync.errors import HarmosyncError

    def plan(folder):
        folder.mkdir()
        return {n: {"nc": folder / f"fig{n}.nc", "png": folder / f"fig{n}.png"} for n in (2, 3)}

    serial, forked = plan(tmp_path / "serial"), plan(tmp_path / "forked")
    for n in (2, 3):
        cli_figure._make(n, serial[n], False, False)
    assert sorted(n for n, _ in cli_figure._run([2, 3], forked, overwrite=False, progress=False)) == [2, 3]
    for n in (2, 3):
        assert forked[n]["png"].read_bytes() == serial[n]["png"].read_bytes()
        a, b = io.read(serial[n]["nc"]), io.read(forked[n]["nc"])
        assert a.identical(b) or all(np.array_equal(a[v], b[v], equal_nan=True) for v in a.variables)
    with pytest.raises(HarmosyncError, match="overwrite"):
        list(cli_figure._run([2, 3], forked, overwrite=False, progress=False))


def _failing_compute(monkeypatch, failing: int, how: str):
    """figures.compute, replaced (in this process, hence in the child it forks) by one that
    fails for figure ``failing``: an error, or the process dying without a word."""
    import os

    real = figures.compute

    def compute(number, params=None, *, progress=False):
        if number == failing:
            if how == "die":
                os._exit(3)
            raise HarmosyncError(f"figure {number} refused on purpose")
        return real(number, params, progress=progress)

    monkeypatch.setattr(figures, "compute", compute)


@pytest.mark.parametrize("how, message", [("error", "refused on purpose"), ("die", "stopped")])
def test_a_failure_in_the_computing_process_reaches_the_caller_and_leaves_no_partial_file(
        tmp_path, monkeypatch, how, message):
    """An error in the forked child (or the child dying) is raised in the caller as one
    HarmosyncError; the failed figure leaves no file, no temporary file is left behind, and a
    figure is either complete (NetCDF and PNG) or absent."""
    from harmosync.cli import figure as cli_figure

    _failing_compute(monkeypatch, 3, how)
    plan = {n: {"nc": tmp_path / f"fig{n}.nc", "png": tmp_path / f"fig{n}.png"} for n in (2, 3)}
    with pytest.raises(HarmosyncError, match=message):
        list(cli_figure._run([2, 3], plan, overwrite=False, progress=False))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert not [n for n in names if n.endswith(".partial")], names
    assert "fig3.nc" not in names and "fig3.png" not in names
    assert ("fig2.nc" in names) == ("fig2.png" in names), names
