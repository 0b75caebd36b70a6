"""The README's command blocks and Python blocks run as written (slow: a few minutes; `pytest -m slow`).

Every line of every ```bash block is run in order, in a scratch directory, with the virtual
environment's bin/ first on PATH (the README asks for it to be active), except the set-up
lines (they are what runs this test), lines that need hardware or software the machine may not
have (a GPU, a Dask cluster, the [bench] extra, a user's own spec or MNIST files) and the
runs the README itself times in tens of minutes, which are listed in SKIP with the reason.
"""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP = {
    "python3 -m venv": "the set-up commands: running them is what runs this test",
    "bench/": "benchmarks need the [bench] extra and minutes of quiet machine",
    "my.toml": "a user's own spec file",
    "SLURM_ARRAY_TASK_ID": "a SLURM job-array script (needs a cluster)",
    "--mnist DIR": "a user's own MNIST files",
    "--scale default": "the landscape suite takes tens of minutes",
    "sublevel ccnn table  ": "the full CCNN table takes 5-15 minutes (the --quick line runs)",
    "sublevel experiment": "the experiments take minutes each (their tests run small versions)",
}


def commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split("  #")[0].strip() if not line.lstrip().startswith("#") else ""
            if line and not any(marker in line + "  " for marker in SKIP):
                out.append(line)
    return out


@pytest.mark.slow
def test_readme_commands_run_as_written(tmp_path):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    (tmp_path / "docs").symlink_to(ROOT / "docs")
    (tmp_path / "figures").mkdir()  # the README's commands run at the repository root, which has it
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))  # the environment running the tests
    ran = commands()
    assert len(ran) >= 15
    for line in ran:
        proc = subprocess.run(shlex.split(line) if "|" not in line else line, shell="|" in line, cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, f"{line}\n{proc.stderr[-2000:]}"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_readme_python_blocks_run_as_written(tmp_path, index):
    """Every ```python block, as written, in a fresh interpreter in a scratch directory."""
    script = tmp_path / "block.py"
    script.write_text(python_blocks()[index])
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
