"""The README stays true: its Python example runs and gives the paper's Fig. 1 anti-sync, and
CI runs exactly its test command."""

import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_python_example_runs(monkeypatch):
    monkeypatch.chdir(ROOT)  # the example reads examples/fig1.toml
    code = re.findall(r"```python\n(.*?)```", README, re.S)[0]
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)  # noqa: S102
    c = ns["C"]
    assert np.nanmean(c[3000:12000]) < -0.99  # t in [150, 600]: anti-synchronized (Fig. 1)
    # the config route gives the same run as the hand-built network
    np.testing.assert_allclose(ns["ds"].sync.values, c, atol=1e-10, equal_nan=True)


def test_ci_runs_the_readme_test_command():
    block = re.findall(r"```bash\n(.*?)```", README, re.S)[0].splitlines()
    test_cmd = block[1].split("#")[0].strip()
    assert "pytest" in test_cmd
    assert test_cmd in (ROOT / ".ci" / "run").read_text()
