"""`make lint` covers every Python file of the checkout, and CI runs it before the tests.

ruff's excludes once named ``"models"``, which matched the library's ``keras_rnn/models/`` (now
``keras_rnn/predictors/``) as well as the generated ``models/`` export folder and silently
dropped 17 modules from the lint.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RUFF = Path(sys.executable).with_name("ruff")


def _tracked_python_files() -> set[str]:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return {line for line in out.stdout.splitlines() if (REPO / line).is_file()}


def test_ruff_checks_every_python_file_and_skips_generated_folders(tmp_path):
    if not RUFF.exists():
        pytest.skip("ruff is not installed beside this Python")
    out = subprocess.run(
        [str(RUFF), "check", "--show-files", "."],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    shown = {
        Path(line.strip()).resolve().relative_to(REPO).as_posix()
        for line in out.stdout.splitlines()
        if line.strip().endswith(".py")
    }
    missing = _tracked_python_files() - shown
    assert not missing, f"ruff skips: {sorted(missing)}"
    assert any(path.startswith("keras_rnn/predictors/") for path in shown)
    for generated in ("models/", "runs/", "outputs/", "build/", ".venv/"):
        assert not any(path.startswith(generated) for path in shown), generated


def test_ci_runs_lint_before_the_tests():
    lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert "make lint" in lines and "make test" in lines
    assert lines.index("make lint") < lines.index("make test")
