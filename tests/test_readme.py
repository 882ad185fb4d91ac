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


def test_config_examples_parse():
    """The config section's TOML (Fig. 1) and its [sweep]/[keep] example make a valid sweep."""
    import tomllib

    from harmosync import config
    from harmosync.sweep import build_spec, validate

    blocks = re.findall(r"```toml\n(.*?)```", README, re.S)
    run = tomllib.loads(blocks[0])
    assert config.parse(run) == config.load(ROOT / "examples" / "fig1.toml")
    extra = tomllib.loads(blocks[1])
    spec = build_spec(run, extra["sweep"], extra["keep"])
    validate(spec)
    assert spec.shape == (300,)


def test_quick_start_runs_in_order(tmp_path):
    """The Quick start's commands, in order, in a copy of the repository's examples, write only
    where git ignores (so a user running it in the repository leaves it clean)."""
    import os
    import shutil
    import subprocess
    import sys

    section = README.split("## Quick start", 1)[1]
    block = re.findall(r"```bash\n(.*?)```", section, re.S)[0]
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]
    assert any(c.startswith("harmosync figure") for c in commands)
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = dict(os.environ, MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    # `harmosync` is this checkout's, whatever else is installed
    script = f'harmosync() {{ "{sys.executable}" -m harmosync "$@"; }}\nset -e\n' + "\n".join(commands)
    proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")
                     if p.is_file() and "examples" not in p.parts and ".zarr" not in str(p))
    assert Path("out/fig1.nc") in written and Path("figures/fig6.png") in written
    if shutil.which("git") and (ROOT / ".git").exists():
        ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "--no-index", *map(str, written)],
                                 capture_output=True, text=True).stdout.split()
        assert sorted(map(Path, ignored)) == written, "the Quick start writes files that git does not ignore"
