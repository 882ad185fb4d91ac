"""harmosync.jit: kernels loaded from numba's cache without numba's full compiler refresh.

A cached load needs only numba's runtime (NRT), so a process that only loads kernels does not
import numba's typing and lowering registries (numba.np.npyimpl among them: ≈ 0.13 s of a
process's start). Checked in fresh processes sharing one empty NUMBA_CACHE_DIR: the first
compiles, later ones load; a kernel compiled after cached loads (a cache miss, which needs the
full compiler) and a kernel returning an array allocated by NRT still give the right numbers.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import numpy as np

SRC = str(pathlib.Path(__file__).resolve().parents[1] / "src")

# total: reads an array (no allocation); doubled: allocates its result (NRT, numpy's lowering)
KERNELS = """
import numpy as np
from harmosync import jit

def total(x):
    s = 0.0
    for v in x:
        s += v
    return s

def doubled(x):
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = 2.0 * x[i]
    return out

TOTAL = jit.kernel(total, "float64(float64[::1])", reads=(0,))
DOUBLED = jit.kernel(doubled, "float64[::1](float64[::1])", reads=(0,))
"""


def run(tmp_path, body: str) -> list[str]:
    """``body`` run in a fresh process after ``from kernels import *`` (the module written once:
    numba's cache is keyed by its source file's time stamp)."""
    module = tmp_path / "kernels.py"
    if not module.exists():
        module.write_text(KERNELS)
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{tmp_path}", "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    code = "import sys\nimport numpy as np\nfrom kernels import *\nx = np.arange(1.0, 11.0)\n" + body
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300,
                         check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_cached_loads_skip_the_compiler_refresh_and_compiling_after_them_works(tmp_path):
    registries = "print('numba.np.npyimpl' in sys.modules)\n"
    # 1: compiles `total` (cache miss: the full compiler is loaded)
    assert run(tmp_path, "print(TOTAL(x))\n" + registries) == ["55.0", "True"]
    # 2: loads `total` from the cache (no registries), then compiles `doubled` (a miss)
    assert run(tmp_path, "print(TOTAL(x))\n" + registries + "print(DOUBLED(x).sum())\n" + registries) == [
        "55.0", "False", "110.0", "True"]
    # 3: both from the cache; an array allocated by the runtime comes back intact, read-only
    # and writable arrays are both accepted (Σ 2k for k = 1..10 = 110)
    out = run(tmp_path, "y = DOUBLED(x); x.flags.writeable = False\n"
                        "print(TOTAL(y), TOTAL(x), DOUBLED(x)[-1])\n" + registries)
    assert out == ["110.0", "55.0", "20.0", "False"]


def test_cached_kernels_of_the_package_load_without_the_registries(tmp_path):
    """harmosync's own kernels (loaded once by this test process, so cached) load in a fresh
    process without numba's registries, and compute what they computed here."""
    from harmosync import jit
    from harmosync.measures import sync_factor

    rng = np.random.default_rng(3)
    f, g = rng.standard_normal((2, 400))
    jit.load_all()
    expected = sync_factor(f, g, 0.05, 1.0)
    np.save(tmp_path / "fg.npy", np.stack([f, g]))
    script = tmp_path / "probe.py"
    script.write_text(
        "import sys\nimport numpy as np\nfrom harmosync.measures import sync_factor\n"
        f"f, g = np.load({str(tmp_path / 'fg.npy')!r})\n"
        f"np.save({str(tmp_path / 'c.npy')!r}, sync_factor(f, g, 0.05, 1.0))\n"
        "print('numba' in sys.modules, 'numba.np.npyimpl' in sys.modules)\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=False,
                         env={**os.environ, "PYTHONPATH": SRC})
    assert out.returncode == 0, out.stderr
    # (True, True): a cached load refreshed numba's whole compiler again; if numba renamed its
    # cache lookup, jit._runtime_only_refresh's caller check needs the new name
    assert out.stdout.split() == ["True", "False"]
    assert np.array_equal(np.load(tmp_path / "c.npy"), expected, equal_nan=True)


# ----------------------------------------------------------------------------------------------
# the collector paused while numba loads and while a one-run command runs
# ----------------------------------------------------------------------------------------------
def test_collector_paused_restores_the_collector_and_leaves_no_young_objects():
    """Within the block no collection runs; after it the collector is as before, and the
    block's objects are in the oldest generation (not a young generation whose next pass
    would scan them all); a freeze someone else made is left as it was."""
    import gc

    from harmosync.jit import collector_paused

    assert gc.isenabled()
    before = gc.get_stats()[0]["collections"]
    with collector_paused():
        assert not gc.isenabled()
        junk = [[i] for i in range(100_000)]  # tracked objects, 140× the young threshold
        assert gc.get_stats()[0]["collections"] == before
    assert gc.isenabled()
    assert gc.get_count()[0] < 1_000  # young generation (nearly) empty
    assert gc.is_tracked(junk[-1])
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()
    gc.enable()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with collector_paused():
            junk.append([0])
        assert gc.get_freeze_count() == frozen and gc.isenabled()
    finally:
        gc.unfreeze()


def test_one_run_commands_restore_the_collector(tmp_path):
    """simulate, analyze and kernels run with the collector paused and give it back on
    (a caller in the same process, e.g. a test with CliRunner, keeps collecting)."""
    import gc

    from click.testing import CliRunner

    from harmosync.cli import main

    root = pathlib.Path(__file__).resolve().parents[1] / "examples" / "fig1.toml"
    runs = (["simulate", str(root), "-o", str(tmp_path / "o.nc"), "-q"],
            ["analyze", str(root), "-q", "-o", str(tmp_path / "a.json")],
            ["kernels", str(root), "-q", "-o", str(tmp_path / "k.nc"), "--stop", "10"],
            ["simulate", str(tmp_path / "missing.toml"), "-o", str(tmp_path / "p.nc"), "-q"])
    for args in runs:
        result = CliRunner().invoke(main, args)
        assert result.exit_code == (2 if "missing" in args[1] else 0), result.output
        assert gc.isenabled()
