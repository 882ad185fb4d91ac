"""Plotting is a leaf that leaves global state alone (STYLE: leaves don't touch global state)."""

from __future__ import annotations

import subprocess
import sys


def test_importing_plot_modules_keeps_the_users_backend():
    """Importing every plot and figure module must not switch the matplotlib backend a user
    chose (a notebook's inline backend, a GUI backend): only the CLI picks Agg, and only when
    MPLBACKEND is unset."""
    code = (
        "import matplotlib; matplotlib.use('svg'); "
        "import harmosync.plot.paper, harmosync.plot.kernels, harmosync.plot.quicklook, harmosync.plot.maps; "
        "import harmosync.figures; print(matplotlib.get_backend())"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "MPLBACKEND"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "svg", out.stdout + out.stderr
