"""Sweeps on a real dask.distributed cluster: two worker processes on loopback.

Checks that the same runner loop, given the cluster's Executor, gives the serial result bit
for bit, and still does when a worker process is SIGKILLed mid-sweep (the scheduler
reschedules its task; the nanny restarts the worker).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

import numpy as np
import pytest
import zarr

from harmosync import sweep as sw

distributed = pytest.importorskip("distributed")

# ~0.05–0.3 s per point (covariances and mutual information on 6001 times, M = 60): a sweep of 12
# single-point tasks lasts long enough to lose a worker in the middle of it.
BASE = {
    "chain": {"sites": 60, "omega0": 0.4, "g": 1.2},
    "probes": {"frequencies": [1.0, 1.1], "coupling": 0.5, "sites": [1, 1], "strengths": [0.2, 0.2]},
    "initial": {"x": [0.14, 1.4], "squeezing": [0.5, 0.5]},
    "time": {"stop": 300.0, "step": 0.05},
    "sync": {"window": 10.0},
}
AXES = {"probes.sites[2]": {"start": 1, "stop": 12, "name": "m"}}
KEEP = {"summaries": ["sync", "mutual_information"], "windows": [[0, 150], [150, 300]], "onset": ["sync"],
        "onset_threshold": 0.6}


def quiet(msg):
    pass


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=":0", silence_logs=logging.ERROR)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def serial():
    return sw.run_sweep(BASE, AXES, keep=KEEP, executor="serial", progress=False, log=quiet, batch=1)


def assert_same(a, b):
    assert sorted(a.data_vars) == sorted(b.data_vars)
    for v in a.data_vars:
        assert np.array_equal(a[v].values, b[v].values, equal_nan=True), v


def test_dask_cluster_equals_serial(client, serial, tmp_path):
    logs = []
    ds = sw.run_sweep(BASE, AXES, keep=KEEP, store=tmp_path / "d.zarr", executor=client, batch=3, progress=False,
                      log=logs.append)
    assert_same(ds.load(), serial)
    assert any("dashboard: http" in s for s in logs)


def test_killing_a_worker_mid_sweep_still_completes_identically(client, serial, tmp_path):
    store = tmp_path / "k.zarr"
    out: dict = {}

    def run():
        try:
            out["ds"] = sw.run_sweep(BASE, AXES, keep=KEEP, store=store, executor=client, batch=1, progress=False,
                                     log=quiet).load()
        except BaseException as e:  # noqa: BLE001 — reported by the main thread
            out["error"] = e

    th = threading.Thread(target=run)
    th.start()
    killed = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and th.is_alive():
        try:
            done = int(np.count_nonzero(zarr.open_group(str(store), mode="r")["status"][:]))
        except Exception:  # noqa: BLE001 — store not created yet
            done = 0
        busy = [w for w, keys in client.processing().items() if keys]
        if busy and (store / "zarr.json").exists():  # a worker holds tasks: the sweep is mid-way
            pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
            os.kill(pid, signal.SIGKILL)  # a lost worker, mid-task
            killed = (pid, done)
            break
        time.sleep(0.02)
    th.join(180)
    assert not th.is_alive()
    assert "error" not in out, out.get("error")
    assert killed is not None and killed[1] < sw.build_spec(BASE, AXES, KEEP).size, "sweep ended before the kill"
    with pytest.raises(ProcessLookupError):
        os.kill(killed[0], 0)
    assert_same(out["ds"], serial)
    assert (out["ds"]["status"] == 1).all()
