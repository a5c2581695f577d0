"""The suite's CI rule (tests/conftest.py): a skip for a missing project-installed tool fails in CI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent

CASE = '''
import pytest

@pytest.mark.skipif(True, reason="needs arm-none-eabi-gcc (apt-get install gcc-arm-none-eabi)")
def test_cross():
    pass

@pytest.mark.skipif(True, reason="needs a GPU")
def test_other():
    pass
'''


def _run(tmp_path: Path, ci: str) -> subprocess.CompletedProcess[str]:
    shutil.copy(HERE / "conftest.py", tmp_path / "conftest.py")
    shutil.copy(HERE / "ci_env.py", tmp_path / "ci_env.py")
    (tmp_path / "test_case.py").write_text(CASE)
    env = {"PATH": "/usr/bin:/bin", "CI": ci}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, check=False)


def test_a_missing_project_tool_fails_in_ci_and_skips_elsewhere(tmp_path: Path) -> None:
    ci = _run(tmp_path, "true")
    assert ci.returncode == 1, ci.stdout
    assert "1 skipped, 1 error" in ci.stdout  # the skip happens in setup: it fails there
    assert "a tool the project installs is missing" in ci.stdout
    local = _run(tmp_path, "")
    assert local.returncode == 0, local.stdout
    assert "2 skipped" in local.stdout
