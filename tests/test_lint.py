"""The code passes ruff with the project's configuration (pyproject.toml, [tool.ruff])."""

import subprocess
import sys

from conftest import ROOT


def test_ruff_finds_nothing():
    p = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise", "."],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
