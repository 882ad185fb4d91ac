"""The documentation stays true: every tutorial runs (each checks its own physics with asserts:
Fig. 1's anti-synchronization, the config route against the hand-built network, a resumed
sweep), and the site builds with no warning (`mkdocs build --strict`), tutorials executed."""

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = sorted((ROOT / "docs" / "tutorials").glob("*.py"))


def test_tutorials_are_listed_in_the_site():
    nav = (ROOT / "mkdocs.yml").read_text()
    assert TUTORIALS
    for path in TUTORIALS:
        assert f"tutorials/{path.name}" in nav, f"{path.name} is not in mkdocs.yml's nav"


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs(path, tmp_path, monkeypatch):
    # a percent-format notebook is a Python script: its cells run in order, top to bottom
    plt = pytest.importorskip("matplotlib.pyplot")
    monkeypatch.chdir(tmp_path)  # a tutorial must not depend on the directory it runs in
    try:
        runpy.run_path(str(path), run_name="__main__")
    finally:
        plt.close("all")
    assert not any(tmp_path.iterdir()), "a tutorial left files in the working directory"


def test_site_builds_strict(tmp_path):
    for module in ("mkdocs", "material", "mkdocstrings_handlers.python", "mkdocs_jupyter", "jupytext"):
        pytest.importorskip(module)
    env = dict(os.environ, MPLBACKEND="Agg", NO_MKDOCS_2_WARNING="1",
               PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
         "-d", str(tmp_path / "site")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert "WARNING -" not in log, log[-4000:]
    site = tmp_path / "site"
    for page in ["index.html", "api/dynamics.html", *(f"tutorials/{p.stem}.html" for p in TUTORIALS)]:
        assert (site / page).is_file(), page
    # executed: each tutorial page carries its figure (the `%matplotlib inline` cell works even
    # with MPLBACKEND=Agg, as CI sets it)
    for p in TUTORIALS:
        assert 'src="data:image/png' in (site / "tutorials" / f"{p.stem}.html").read_text(), p.name
