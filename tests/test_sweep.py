"""Parameter sweeps (harmosync.sweep): config paths and grids, per-point results against
``simulate``, summaries and onset times against their definitions, the Zarr store (resume,
shards, refusal of another sweep, export), and the local process pool.

The physics of each point is ``simulate``'s (tested in its own files); what is checked here is
that a sweep point is exactly the run its config describes, and that the bookkeeping around it
(grid order, storage, resume) loses or mixes nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from harmosync import config, simulation
from harmosync import sweep as sw
from harmosync.sweep import spec as spec_mod
from harmosync.sweep import store as store_mod
from harmosync.errors import HarmosyncError

BASE = {
    "chain": {"sites": 14, "omega0": 0.4, "g": 1.2},
    "probes": {"frequencies": [1.0, 1.1], "coupling": 0.5, "sites": [1, 1], "strengths": [0.2, 0.2]},
    "initial": {"x": [0.14, 1.4], "squeezing": [0.3, 0.6]},
    "time": {"stop": 60.0, "step": 0.05},
    "sync": {"window": 10.0},
}
AXES = {"probes.sites[2]": {"start": 2, "stop": 9, "step": 3, "name": "m"},  # 2, 5, 8
        "probes.strengths[*]": {"values": [0.1, 0.25]}}
KEEP = {"series": ["sync", "x"], "summaries": ["sync", "log_negativity"], "windows": [[0, 30], [20, 60]],
        "onset": ["sync"], "onset_threshold": 0.5, "onset_hold": 2.0}


def quiet(msg):  # log sink for run_sweep in tests
    pass


def assert_same(a: xr.Dataset, b: xr.Dataset):
    """Identical data variables, bit for bit (NaN == NaN)."""
    assert sorted(a.data_vars) == sorted(b.data_vars)
    for v in a.data_vars:
        assert a[v].dims == b[v].dims, v
        assert np.array_equal(a[v].values, b[v].values, equal_nan=True), v
    for c in a.coords:
        assert np.array_equal(a[c].values, b[c].values), c


# ----------------------------------------------------------------------------------------------
# Paths, axes, grids
# ----------------------------------------------------------------------------------------------
def test_paths_address_config_entries_with_probe_numbers_from_one():
    assert sw.parse_path("probes.sites[2]") == ("probes", "sites", 1)
    assert sw.parse_path("probes.strengths[*]") == ("probes", "strengths", "*")
    assert sw.parse_path("chain.g") == ("chain", "g")
    assert sw.parse_path("graph.edges[3][2]") == ("graph", "edges", 2, 1)
    assert sw.safe_name("probes.sites[2]") == "probes_sites_2"
    assert sw.safe_name("probes.strengths[*]") == "probes_strengths_all"
    d = {"probes": {"sites": [1, 1]}}
    new = sw.set_path(d, ("probes", "sites", 1), 7)
    assert new["probes"]["sites"] == [1, 7] and d["probes"]["sites"] == [1, 1]  # base untouched
    assert sw.set_path(d, ("probes", "sites", "*"), 4)["probes"]["sites"] == [4, 4]


@pytest.mark.parametrize("path, needle", [
    ("probes.sitez[2]", 'did you mean "sites"'),
    ("chian.g", 'did you mean "chain"'),
    ("probes.sites(2)", "not a config path"),
    ("probes.sites[0]", "numbered from 1"),
    ("probes.sites[3]", "probes.sites has 2 entries; probe 3 does not exist"),
    ("chain.g[1]", "chain.g is not a list"),
])
def test_bad_paths_are_refused_naming_the_key(path, needle):
    with pytest.raises(HarmosyncError, match=None) as e:
        sw.build_spec(BASE, {path: [1, 2]}, KEEP)
    msg = str(e.value)
    assert needle in msg and "\n" not in msg


def test_axis_ranges_are_inclusive():
    vals = lambda spec: sw.axis_values("a.b", spec)[0]  # noqa: E731
    assert vals({"start": 1, "stop": 300}) == tuple(range(1, 301))
    assert vals({"start": 1, "stop": 300, "step": 1}) == tuple(range(1, 301))
    k = vals({"start": 0.05, "stop": 0.9, "step": 0.05})  # 18 values; 0.9 despite roundoff
    assert len(k) == 18 and k[-1] == pytest.approx(0.9)
    assert np.allclose(vals({"start": 1.0, "stop": 1.5, "num": 11}), np.linspace(1.0, 1.5, 11))
    assert vals({"values": [3, 1.5]}) == (3.0, 1.5)  # one type per axis: 3 and 3.0 hash alike
    assert vals([1, 2]) == (1, 2)
    for bad, needle in [({"start": 1, "stop": 3, "step": 1, "num": 3}, "not both"),
                        ({"start": 3, "stop": 1}, "below start"), ({"values": []}, "non-empty"),
                        ({"start": 0, "stop": 1, "num": 0}, "num"), ({"start": 0, "stop": 1, "stpe": 1}, "did you mean"),
                        ({"values": [1, 1]}, "repeat"), ({"start": 0, "stop": 1, "step": -1}, "positive")]:
        with pytest.raises(HarmosyncError, match=needle):
            sw.axis_values("a.b", bad)


def test_grid_is_cartesian_in_c_order():
    spec = sw.build_spec(BASE, AXES, KEEP)
    assert spec.shape == (3, 2) and spec.size == 6
    assert [spec.point_values(i) for i in range(6)] == [(2, 0.1), (2, 0.25), (5, 0.1), (5, 0.25), (8, 0.1), (8, 0.25)]
    cfg = spec.point_config(3)
    assert cfg.probes.sites == [1, 5] and cfg.probes.strengths == [0.25, 0.25]


def test_unquoted_dotted_keys_and_toml_loading(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text("""
[chain]
sites = 10
omega0 = 0.4
g = 1.2
[probes]
frequencies = [1.0, 1.1]
sites = [1, 1]
strengths = [0.2, 0.2]
[time]
stop = 30.0
step = 0.05
[sweep]
chain.g = { values = [1.0, 1.2] }
"probes.sites[2]" = { start = 1, stop = 3 }
[keep]
summaries = ["sync"]
""")
    base, axes, keep = sw.load_toml(p)
    spec = sw.build_spec(base, axes, keep)
    assert [a.path for a in spec.axes] == ["chain.g", "probes.sites[2]"] and spec.shape == (2, 3)


@pytest.mark.parametrize("keep, needle", [
    ({"seris": ["sync"]}, 'did you mean "series"'),
    ({"series": ["synk"]}, 'did you mean "sync"'),
    ({}, "say what to keep"),
    ({"summaries": ["sync"], "windows": [[5, 1]]}, "start < stop"),
    ({"onset": ["log_negativity"]}, "unknown quantity"),
    ({"summaries": ["sync"], "stride": 0}, "stride"),
])
def test_bad_keep_tables_are_refused(keep, needle):
    with pytest.raises(HarmosyncError, match=needle):
        sw.build_spec(BASE, AXES, keep)


def test_bad_values_are_caught_before_anything_runs():
    # A site beyond the chain (14 sites) is refused at the grid's corner, naming the point.
    spec = sw.build_spec(BASE, {"probes.sites[2]": {"start": 1, "stop": 15}}, KEEP)
    with pytest.raises(HarmosyncError, match=r"probes.sites\[2\] = 15"):
        sw.validate(spec)
    # A value of the wrong type fails config validation, naming the config key.
    spec = sw.build_spec(BASE, {"chain.sites": {"values": [10, -3]}}, KEEP)
    with pytest.raises(HarmosyncError, match=r"chain.sites = -3.*chain.sites"):
        sw.validate(spec)
    with pytest.raises(HarmosyncError, match="time grid"):
        sw.build_spec(BASE, {"time.stop": [50.0, 60.0]}, KEEP)


# ----------------------------------------------------------------------------------------------
# One point = the run its config describes
# ----------------------------------------------------------------------------------------------
def test_point_means_only_route_and_batch_equal_simulate():
    """A point runs simulate's own path (prepare → observe, the registry), so what can differ is
    the route: means only (no covariance built, when nothing kept needs one) and the batch route
    (dynamics.solve_many sharing the chain, as a sweep over plugging sites takes). Both give
    simulate's C of Eq. (3) and q1 of Eq. (A4) within roundoff."""
    cfg = config.parse(BASE)
    ref = simulation.simulate(cfg)
    point = sw.prepare(cfg, sw.Keep(series=("sync", "q1")))
    fast = sw.compute_series(point, ["sync", "q1"])  # means only
    assert np.allclose(fast["sync"], ref.series["sync"], rtol=1e-12, atol=1e-13, equal_nan=True)
    assert np.allclose(fast["q1"], ref.series["q1"], rtol=1e-12, atol=1e-14)
    other = config.parse({**BASE, "probes": {**BASE["probes"], "sites": [1, 3]}})
    keep = sw.Keep(series=("sync", "mutual_information"))
    batch = sw.evaluate_many([sw.prepare(cfg, keep), sw.prepare(other, keep)], keep)
    for got, c in zip(batch, (cfg, other)):
        one = simulation.simulate(c)
        assert np.allclose(got["sync"], one.series["sync"], rtol=0, atol=1e-10, equal_nan=True)
        assert np.allclose(got["mutual_information"], one.series["mutual_information"], rtol=0, atol=1e-10)


def test_summaries_follow_their_definition():
    """mean/min/max over start ≤ t ≤ stop ignoring NaN: for f(t) = t on [2, 6] the mean is 4."""
    t = np.arange(0, 10.01, 0.5)
    f = t.copy()
    f[-3:] = np.nan  # like C past the end of the data
    s = sw.summarize(f, t, [(2.0, 6.0), (8.0, 10.0), (9.5, 10.0)])
    assert s["mean"][0] == pytest.approx(4.0) and s["min"][0] == 2.0 and s["max"][0] == 6.0
    assert s["mean"][1] == pytest.approx(8.25) and s["max"][1] == 8.5  # only the finite samples
    assert np.isnan(s["mean"][2])


def test_onset_time_analytic_and_brute_force():
    """C(t) = min(1, t/10) crosses 0.9 at t = 9 and stays: onset 9. Anti-synchronization
    (−C) has the same onset. A dip below the threshold inside the hold moves it later."""
    t = np.arange(0, 40.001, 0.1)
    c = np.minimum(1.0, t / 10)
    assert sw.onset_time(c, t, 0.9, 5.0, (0, 40)) == pytest.approx(9.0)
    assert sw.onset_time(-c, t, 0.9, 5.0, (0, 40)) == pytest.approx(9.0)
    c2 = c.copy()
    c2[(t > 12) & (t < 13)] = 0.2
    assert sw.onset_time(c2, t, 0.9, 5.0, (0, 40)) == pytest.approx(13.0)
    assert sw.onset_time(c2, t, 0.9, 2.0, (0, 40)) == pytest.approx(9.0)  # 9..11 fits before the dip
    assert np.isnan(sw.onset_time(c, t, 0.9, 50.0, (0, 40)))  # hold longer than the window
    rng = np.random.default_rng(3)
    for _ in range(30):  # against the definition, sample by sample
        x = rng.uniform(-1, 1, 80)
        x[rng.uniform(size=80) < 0.05] = np.nan
        tt = 0.5 * np.arange(80)
        thr, hold, win = rng.uniform(0.1, 0.6), rng.choice([0.0, 0.5, 1.2, 3.0]), (rng.uniform(0, 10), rng.uniform(20, 40))
        h = int(np.ceil(hold / 0.5 - 1e-9))
        idx = [i for i in range(80) if win[0] <= tt[i] <= win[1]]
        want = next((tt[i] for i in idx if i + h <= idx[-1] and all(abs(x[k]) >= thr for k in range(i, i + h + 1))),
                    np.nan)
        got = sw.onset_time(x, tt, thr, hold, win)
        assert (np.isnan(want) and np.isnan(got)) or got == want


# ----------------------------------------------------------------------------------------------
# Whole sweeps
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def serial():
    return sw.run_sweep(BASE, AXES, keep=KEEP, executor="serial", progress=False, log=quiet, batch=2)


def test_serial_sweep_matches_simulate_point_by_point(serial):
    ds = serial
    assert ds["sync"].dims == ("m", "probes_strengths_all", "time")
    assert ds["x"].dims == ("m", "probes_strengths_all", "time", "probe")
    assert list(ds["m"].values) == [2, 5, 8] and ds["m"].attrs["path"] == "probes.sites[2]"
    assert (ds["status"] == 1).all()
    for m in (2, 8):
        for k in (0.1, 0.25):
            d = json.loads(ds.attrs["config_json"])
            d["probes"]["sites"][1] = m
            d["probes"]["strengths"] = [k, k]
            ref = simulation.simulate(config.parse(d))
            pt = ds.sel(m=m, probes_strengths_all=k)
            # the sweep solves its points together (dynamics.solve_many, secular equations),
            # simulate alone (dense eigh): equal within the roundoff the error bound allows
            assert np.allclose(pt["sync"], ref.series["sync"], rtol=0, atol=1e-10, equal_nan=True)
            assert np.allclose(pt["x"], ref.mean[:, 0::2], rtol=0, atol=1e-12)
            for w, (a, b) in enumerate(KEEP["windows"]):
                sel = (ref.times >= a) & (ref.times <= b)
                for q in ("sync", "log_negativity"):
                    v = ref.series[q][sel]
                    assert pt[f"{q}_mean"][w] == pytest.approx(np.nanmean(v), rel=1e-10, abs=1e-12)
                    assert pt[f"{q}_max"][w] == pytest.approx(np.nanmax(v), rel=1e-10, abs=1e-12)
                    assert pt[f"{q}_min"][w] == pytest.approx(np.nanmin(v), rel=1e-10, abs=1e-12)
                want = sw.onset_time(ref.series["sync"], ref.times, 0.5, 2.0, (a, b))
                assert np.array_equal(pt["sync_onset"][w], want, equal_nan=True)
    assert sw.point_config(ds, m=5, probes_strengths_all=0.25).probes.sites == [1, 5]


def test_process_pool_and_store_equal_serial(serial, tmp_path):
    """The default executor (a local process pool, BLAS capped to 1 thread) writing a Zarr store
    gives the serial in-memory result bit for bit."""
    store = tmp_path / "s.zarr"
    ds = sw.run_sweep(BASE, AXES, keep=KEEP, store=store, workers=2, batch=2, progress=False, log=quiet)
    assert_same(ds.load(), serial)
    raw = xr.open_zarr(store, consolidated=False)  # the raw layout: a point dim, chunked by task
    assert raw["sync"].dims == ("point", "time") and raw["sync"].encoding["chunks"][0] == 2
    assert raw.attrs["harmosync_version"] and raw["m"].attrs["path"] == "probes.sites[2]"
    # NetCDF export: the gridded dataset, written atomically.
    out = sw.export_netcdf(store, tmp_path / "s.nc")
    assert_same(sw.open_sweep(out), serial)


def test_resume_and_shards_compute_only_missing_points(serial, tmp_path):
    store = tmp_path / "r.zarr"
    logs = []
    sw.run_sweep(BASE, AXES, keep=KEEP, store=store, executor="serial", batch=2, shard="2/3", progress=False,
                 log=logs.append)
    st = sw.open_sweep(store)["status"].values.ravel()
    assert list(st) == [0, 0, 1, 1, 0, 0]  # task 2 of 3 = points 2..3
    logs.clear()
    ds = sw.run_sweep(BASE, AXES, keep=KEEP, store=store, executor="serial", progress=False, log=logs.append)
    assert any("2 of 6 points already done; computing the remaining 4" in s for s in logs)
    assert_same(ds.load(), serial)
    logs.clear()
    sw.run_sweep(BASE, AXES, keep=KEEP, store=store, executor="serial", progress=False, log=logs.append)
    assert any("computing the remaining 0" in s for s in logs)


@pytest.mark.parametrize("damage", ["garbage", "empty", "bad codes"])
def test_a_corrupted_status_chunk_is_recomputed(serial, tmp_path, damage):
    """The status chunk is the commit marker of its points. A chunk that does not decode (garbage
    bytes, or emptied by a power cut) or decodes to codes other than 0/1/2 must not count as done:
    its points are computed again, the chunk is rewritten, and the store opens and reads like an
    undamaged one."""
    import zarr

    store = tmp_path / "c.zarr"
    kw = dict(keep=KEEP, store=store, executor="serial", batch=2, progress=False)
    sw.run_sweep(BASE, AXES, log=quiet, **kw)
    chunk = store / "status" / "c" / "1"  # points 2, 3 (zarr format 3 layout)
    assert chunk.exists()
    if damage == "garbage":
        chunk.write_bytes(b"\x00not zstd\xff" * 3)
    elif damage == "empty":
        chunk.write_bytes(b"")
    else:
        zarr.open_group(str(store), mode="r+")["status"][2:4] = [7, -3]
    st = store_mod.read_status(zarr.open_group(str(store), mode="r")["status"])
    assert list(st) == [1, 1, 0, 0, 1, 1]
    logs = []
    ds = sw.run_sweep(BASE, AXES, log=logs.append, **kw)
    assert any("4 of 6 points already done; computing the remaining 2" in s for s in logs), logs
    assert_same(ds.load(), serial)
    assert_same(sw.open_sweep(store).load(), serial)


def test_a_different_sweep_is_refused_from_an_existing_store(tmp_path):
    store = tmp_path / "d.zarr"
    kw = {"store": store, "executor": "serial", "progress": False, "log": quiet}
    small = {"probes.sites[2]": [2, 3]}
    sw.run_sweep(BASE, small, keep={"summaries": ["sync"]}, **kw)
    with pytest.raises(HarmosyncError, match=r"different sweep \(\[keep\] differ"):
        sw.run_sweep(BASE, small, keep={"summaries": ["sync", "mutual_information"]}, **kw)
    with pytest.raises(HarmosyncError, match=r"\[sweep\] differ"):
        sw.run_sweep(BASE, {"probes.sites[2]": [2, 4]}, keep={"summaries": ["sync"]}, **kw)
    other = json.loads(json.dumps(BASE))
    other["chain"]["g"] = 1.3
    with pytest.raises(HarmosyncError, match="the base config differ"):
        sw.run_sweep(other, small, keep={"summaries": ["sync"]}, **kw)
    # The swept entry's placeholder in the base does not matter; formatting (1 vs 1.0) neither.
    same = json.loads(json.dumps(BASE))
    same["probes"]["sites"] = [1, 7]
    same["chain"]["g"] = 1.2
    sw.run_sweep(same, small, keep={"summaries": ["sync"]}, **kw)
    with pytest.raises(HarmosyncError, match="not a harmosync sweep store"):
        (tmp_path / "junk").mkdir()
        sw.run_sweep(BASE, small, keep={"summaries": ["sync"]}, **{**kw, "store": tmp_path / "junk"})


def test_unstable_points_are_recorded_as_failed(tmp_path):
    """A strong K makes the potential matrix indefinite (no counterterm): those points get
    status 2 and NaN; the others are computed."""
    logs = []
    ds = sw.run_sweep(BASE, {"probes.strengths[*]": [0.2, 3.0]}, keep={"summaries": ["sync"]},
                      executor="serial", progress=False, log=logs.append)
    assert list(ds["status"].values) == [1, 2]
    assert np.isfinite(ds["sync_mean"][0]).all() and np.isnan(ds["sync_mean"][1]).all()
    assert any("1 points failed" in s and "unstable" in s for s in logs)


def test_import_stays_light():
    """Workers import harmosync.sweep; it must not pull in xarray, dask, zarr or matplotlib."""
    code = ("import sys, harmosync.sweep; bad = [m for m in ('xarray', 'dask', 'zarr', 'matplotlib') "
            "if m in sys.modules]; print(bad); sys.exit(bool(bad))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_plot_maps_and_lines(serial, tmp_path):
    import matplotlib.pyplot as plt

    from harmosync.plot import maps

    fig, ax = plt.subplots()
    maps.plot_variable(serial, "sync", sel={"probes_strengths_all": "0.25"}, ax=ax)
    im = ax.images[0]  # Fig. 6 style: C over site and time, diverging map fixed to [−1, 1]
    assert (im.norm.vmin, im.norm.vmax) == (-1.0, 1.0) and im.get_cmap().name.startswith("RdBu_r")
    assert ax.get_xlabel().startswith("m  (probes.sites[2])") and ax.get_ylabel().startswith("t")
    plt.close(fig)
    fig, ax = plt.subplots()
    maps.plot_variable(serial, "sync_mean", x="m", sel={"probes_strengths_all": "0.1"}, ax=ax)
    assert len(ax.lines) >= 2  # one line per summary interval
    plt.close(fig)
    with pytest.raises(HarmosyncError, match="--sel interval"):
        maps.plot_variable(serial, "sync_mean", x="m", y="probes.strengths[*]")
    maps.save(serial, "sync_onset", tmp_path / "o.png", x="m", y="probes_strengths_all", sel={"interval": "1"})
    assert (tmp_path / "o.png").stat().st_size > 1000


def test_sweep_map_has_the_mirror_symmetry_of_the_chain():
    """A chain with fixed ends is symmetric under j → M + 1 − j, so moving both plugging sites
    (m1, m2) → (M + 1 − m1, M + 1 − m2) leaves H, and so ⟨x_i(t)⟩ and C(t), unchanged: the 2-D
    sweep map must have that point symmetry (and not, say, m1 → M + 1 − m1 alone). This checks
    that values land at the right labels of a two-axis grid."""
    m = 8
    base = {**BASE, "chain": {"sites": m, "omega0": 0.4, "g": 1.2}, "time": {"stop": 30.0, "step": 0.05}}
    ds = sw.run_sweep(base, {"probes.sites[1]": {"start": 1, "stop": m, "name": "m1"},
                             "probes.sites[2]": {"start": 1, "stop": m, "name": "m2"}},
                      keep={"series": ["x", "sync"], "summaries": ["sync"]}, executor="serial", progress=False,
                      log=quiet, batch=7)
    x = ds["x"].values  # (m1, m2, time, probe)
    assert np.allclose(x, x[::-1, ::-1], rtol=1e-9, atol=1e-11)
    c = ds["sync"].values
    ok = np.isfinite(c)
    assert np.allclose(c[ok], c[::-1, ::-1][ok], rtol=1e-7, atol=1e-9)
    assert not np.allclose(x, x[::-1, :], rtol=1e-3, atol=1e-4)  # probe 1's site does matter
    # With K2 = 0 probe 2's site drops out of H: every m2 gives the same run.
    ds = sw.run_sweep({**BASE, "probes": {**BASE["probes"], "strengths": [0.2, 0.0]}},
                      {"probes.sites[2]": [1, 4, 9]}, keep={"series": ["x"]}, executor="serial", progress=False,
                      log=quiet)
    x = ds["x"].values
    assert np.allclose(x, x[:1], rtol=1e-12, atol=1e-14)


def test_review_guards_float_range_needs_step_and_onset_hold_fits():
    """A non-integer range without step/num is refused (it would silently give one value), and an
    onset hold longer than the run is refused (every onset would be NaN)."""
    with pytest.raises(HarmosyncError, match="give step or num"):
        sw.axis_values("a.b", {"start": 0.1, "stop": 0.2})
    assert sw.axis_values("a.b", {"start": 1, "stop": 3})[0] == (1, 2, 3)


def test_onset_hold_longer_than_run_refused():
    base = {"chain": {"sites": 10, "omega0": 0.4, "g": 1.2},
            "probes": {"frequencies": [1.0, 1.1], "coupling": 0.5, "sites": [1, 1], "strengths": [0.2, 0.2]},
            "initial": {"x": [0.14, 1.4]}, "time": {"stop": 60.0, "step": 0.05}, "sync": {"window": 10.0}}
    spec = sw.build_spec(base, {"probes.sites[2]": {"values": [1, 2]}},
                         {"summaries": ["sync"], "windows": [[10, 40]], "onset": ["sync"], "onset_hold": 1000.0})
    with pytest.raises(HarmosyncError, match="onset_hold = 1000 is longer than the run"):
        sw.validate(spec)


# ----------------------------------------------------------------------------------------------
# Issue 10: units of every axis, BOM, the interval dimension (store format 2), arrays of tables
# ----------------------------------------------------------------------------------------------
def test_paths_grow_to_arrays_of_tables():
    """``table[i].key[j]`` addresses entry i (from 1) of an array of tables ``[[table]]``. No
    config table is one yet: such a path is refused in one line naming the unknown table."""
    assert sw.path_segments("baths[1].rate") == ("baths", 0, "rate")
    assert sw.path_segments("baths[2].rates[3]") == ("baths", 1, "rates", 2)
    assert sw.path_segments("baths[*].rate") == ("baths", "*", "rate")
    assert sw.path_segments("probes.sites[2]") == ("probes", "sites", 1)
    assert sw.safe_name("baths[1].rate") == "baths_1_rate"
    assert sw.set_path({"baths": [{"rate": 1}, {"rate": 2}]}, ("baths", 1, "rate"), 5) == \
        {"baths": [{"rate": 1}, {"rate": 5}]}
    for path, needle in [("baths[1].rate", "baths has 0 entries; table 1 does not exist"), ("baths[0].rate", "numbered from 1"),
                         ("probes[1].sites", "[probes] is one table, not an array of tables"),
                         ("baths[1]", "not a config path")]:
        with pytest.raises(HarmosyncError) as e:
            sw.build_spec(BASE, {path: [1, 2]}, KEEP)
        assert needle in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_every_config_key_that_has_units_gives_them_to_its_axis():
    """The axis coordinate carries the units of the config entry it sets: K and λ in [ω]², ω in
    [ω], times in 1/[ω]; a comment must not swallow entries of the units table."""
    assert sw.axis_units(sw.parse_path("probes.strengths[*]")) == "[w]^2"
    assert sw.axis_units(sw.parse_path("probes.frequencies[2]")) == "[w]"
    assert sw.axis_units(sw.parse_path("probes.coupling")) == "[w]^2"
    assert sw.axis_units(sw.parse_path("chain.sites")) == "1"  # M is a count, probe sites are site numbers
    assert sw.axis_units(sw.parse_path("probes.sites[2]")) == "site number (1..M)"
    for table in config.RunConfig.model_fields:
        for key in spec_mod._table_fields(table):
            if key not in spec_mod.NO_UNITS:
                assert sw.axis_units((table, key)), f"{table}.{key} has no units"


def test_a_sweep_over_strengths_carries_units_in_the_store_and_the_dataset(tmp_path):
    store = tmp_path / "u.zarr"
    ds = sw.run_sweep(BASE, {"probes.strengths[*]": [0.1, 0.2], "probes.frequencies[2]": [1.1]},
                      keep={"summaries": ["sync"]}, store=store, executor="serial", progress=False, log=quiet)
    raw = xr.open_zarr(store, consolidated=False)
    for d in (raw, ds, sw.open_sweep(store)):
        assert d["probes_strengths_all"].attrs["units"] == "[w]^2"
        assert d["probes_frequencies_2"].attrs["units"] == "[w]"


def test_a_sweep_file_with_a_byte_order_mark_runs(tmp_path):
    """Windows editors write a UTF-8 BOM; simulate accepts it (config.load), so must sweep."""
    text = """[chain]
sites = 10
omega0 = 0.4
g = 1.2
[probes]
frequencies = [1.0, 1.1]
sites = [1, 1]
strengths = [0.2, 0.2]
[initial]
x = [0.14, 1.4]
[time]
stop = 30.0
step = 0.05
[sync]
window = 10.0
[sweep]
"probes.sites[2]" = [1, 2]
[keep]
summaries = ["sync"]
"""
    p = tmp_path / "bom.toml"
    p.write_bytes(b"\xef\xbb\xbf" + text.encode())
    ds = sw.run_toml(p, executor="serial", progress=False, log=quiet)
    assert (ds["status"] == 1).all() and np.isfinite(ds["sync_mean"]).all()
    (tmp_path / "plain.toml").write_text(text)
    ref = sw.run_toml(tmp_path / "plain.toml", executor="serial", progress=False, log=quiet)
    assert_same(ds, ref)


SMALL_AXES = {"probes.sites[2]": [2, 5, 8, 11]}
SMALL_KEEP = {"summaries": ["sync"], "windows": [[0, 30], [20, 60]], "onset": ["sync"], "onset_threshold": 0.5,
              "onset_hold": 2.0}
OLD_NAMES = {"interval": "window", "interval_start": "window_start", "interval_stop": "window_stop"}


def write_format1_store(path, chunk: int):
    """An empty store as harmosync wrote it in sweep format 1 (before issue 10): the summary
    intervals' dimension was ``window`` (coordinates ``window_start``, ``window_stop``) and the
    probe strengths/frequencies axes had no units. Arrays, chunks and attributes otherwise as
    format 2 (checked against a store written by the old code when the format changed)."""
    import dask.array as da

    spec = sw.build_spec(BASE, SMALL_AXES, SMALL_KEEP)
    ds = store_mod.raw_dataset(spec, chunk, lambda shape, fill, dtype, chunks: da.full(shape, fill, dtype=dtype,
                                                                                       chunks=chunks))
    ds = ds.rename(OLD_NAMES)
    ds.attrs["sweep_format"] = 1
    enc = {v: {"chunks": ds[v].data.chunksize, "fill_value": ds[v].data.dtype.type(0 if v == "status" else np.nan)}
           for v in ds.data_vars}
    ds.to_zarr(str(path), mode="w-", compute=False, consolidated=False, encoding=enc)


def test_a_format_1_store_is_resumed_and_read_with_the_interval_dimension(tmp_path):
    store = tmp_path / "old.zarr"
    write_format1_store(store, chunk=1)
    kw = {"keep": SMALL_KEEP, "executor": "serial", "progress": False, "log": quiet}
    sw.run_sweep(BASE, SMALL_AXES, store=store, shard="1/2", **kw)  # half the points, as an interrupted run
    old = sw.open_sweep(store)
    assert old["sync_mean"].dims == ("probes_sites_2", "interval") and list(old["status"].values) == [1, 0, 1, 0]
    logs = []
    ds = sw.run_sweep(BASE, SMALL_AXES, store=store, **{**kw, "log": logs.append}).load()
    assert any("2 of 4 points already done" in s for s in logs)
    assert xr.open_zarr(store, consolidated=False)["sync_mean"].dims == ("point", "window")  # resumed in place
    ref = sw.run_sweep(BASE, SMALL_AXES, **kw)
    assert_same(ds, ref)
    assert list(ds["interval_start"].values) == [0.0, 20.0] and ds.attrs["sweep_format"] == sw.SWEEP_FORMAT
    assert ds["probes_sites_2"].attrs["units"] == "site number (1..M)"
    out = sw.export_netcdf(store, tmp_path / "old.nc")  # the export is format 2
    assert_same(sw.open_sweep(out), ref)
    # A NetCDF export of format 1 is read as format 2 too.
    old_nc = tmp_path / "old1.nc"
    ref.rename(OLD_NAMES).assign_attrs(sweep_format=1).to_netcdf(old_nc, engine="h5netcdf")
    assert_same(sw.open_sweep(old_nc), ref)


def test_a_store_of_an_unknown_format_is_refused_in_one_line(tmp_path):
    import zarr

    store = tmp_path / "new.zarr"
    kw = {"keep": SMALL_KEEP, "executor": "serial", "progress": False, "log": quiet, "store": store}
    sw.run_sweep(BASE, {"probes.sites[2]": [2]}, **kw)
    zarr.open_group(str(store), mode="r+").attrs["sweep_format"] = 99
    for call in (lambda: sw.run_sweep(BASE, {"probes.sites[2]": [2]}, **kw), lambda: sw.open_sweep(store)):
        with pytest.raises(HarmosyncError, match="sweep format 99") as e:
            call()
        assert "\n" not in str(e.value)


def test_a_sweep_of_small_networks_is_simulate_bit_for_bit():
    """Points of ≤ dynamics.many.DENSE_BATCH oscillators are solved together by one stacked
    eigh, which is simulate's own dense path: a sweep over K and ω2 keeps exactly simulate's
    numbers (C of Eq. (3), ⟨x⟩, E_N), in tasks of any size."""
    axes = {"probes.strengths[*]": {"values": [0.1, 0.3]}, "probes.frequencies[2]": {"values": [1.0, 1.25]}}
    keep = {"series": ["sync", "x", "log_negativity"]}
    ds = sw.run_sweep(BASE, axes, keep=keep, executor="serial", progress=False, log=quiet, batch=3)
    for k in (0.1, 0.3):
        for w2 in (1.0, 1.25):
            d = json.loads(ds.attrs["config_json"])
            d["probes"]["strengths"] = [k, k]
            d["probes"]["frequencies"][1] = w2
            ref = simulation.simulate(config.parse(d))
            pt = ds.sel(probes_strengths_all=k, probes_frequencies_2=w2)
            assert np.array_equal(pt["sync"], ref.series["sync"], equal_nan=True)
            assert np.array_equal(pt["x"], ref.mean[:, 0::2])
            assert np.array_equal(pt["log_negativity"], ref.series["log_negativity"])


def test_a_closed_config_keeps_the_sweep_identity_it_had_before_open_systems():
    """Stores are resumed only when their sweep hash matches. This base config's hash was
    recorded in a store written by harmosync before [[baths]] existed (commit f073570); a
    closed config must still hash the same (no "baths": [] in its canonical form), or every
    store written before would be refused as "a different sweep"."""
    base = {"chain": {"sites": 40, "omega0": 0.4, "g": 1.2},
            "probes": {"frequencies": [1.0, 1.1], "coupling": 0.5, "sites": [1, 1], "strengths": [0.2, 0.2]},
            "initial": {"x": [0.14, 1.4], "squeezing": [0.3, 0.0]},
            "time": {"stop": 200.0, "step": 0.1}, "sync": {"window": 20.0}}
    axes = {"probes.strengths[*]": {"start": 0.1, "stop": 0.3, "num": 3, "name": "K"},
            "probes.frequencies[2]": [1.05, 1.1]}
    spec = sw.build_spec(base, axes, {"series": ["sync"]})
    assert "baths" not in config.parse(base).to_dict()
    assert spec.hashes()["base"] == "5bb26231e90316c5141a5885463584a6"
