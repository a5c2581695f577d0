"""The layering is a checked contract (import-linter, ``[tool.importlinter]`` in pyproject.toml): the
real tree keeps every contract, and a copy of the tree with one forbidden import added is refused."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT.is_file(), reason="import-linter is not installed")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"],
                          cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, check=False)


def _copy_tree(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "aedc", tmp_path / "aedc", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_every_contract() -> None:
    res = _lint(ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 broken" in res.stdout


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("codegen/model.py", "import aedc.emulator.engine", "independent witnesses"),
    ("reference/simulate.py", "import aedc.timing.schedule", "the reference simulator"),
    ("ir/graph.py", "import aedc.machine", "the IR imports nothing"),
    ("passes/base.py", "import aedc.partition.memory", "stages form layers"),
])
def test_a_forbidden_import_is_refused(tmp_path: Path, module: str, line: str, contract: str) -> None:
    root = _copy_tree(tmp_path)
    path = root / "aedc" / module
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    res = _lint(root)
    assert res.returncode != 0
    broken = [ln for ln in res.stdout.splitlines() if " BROKEN" in ln]
    assert any(contract in ln for ln in broken), res.stdout


PACKAGES = ("ir", "frontend", "passes", "partition", "routing", "codegen", "timing", "emulator",
            "reference", "train", "deploy", "datasets")


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_has_a_front_door(package: str) -> None:
    """Each package names its public signature in ``__all__``, and every name there resolves."""
    import importlib

    mod = importlib.import_module(f"aedc.{package}")
    names = getattr(mod, "__all__", None)
    assert names, f"aedc.{package} has no __all__"
    missing = [n for n in names if not hasattr(mod, n)]
    assert not missing, f"aedc.{package}.__all__ names what it does not define: {missing}"
    assert len(mod.__doc__ or "") > 80, f"aedc.{package} has no package docstring"


@pytest.mark.parametrize(("old", "new", "name"), [
    ("aedc.emulator.program", "aedc.timing", "PlacedProgram"),
    ("aedc.emulator.schedule", "aedc.timing", "Schedule"),
    ("aedc.reference.constants", "aedc.ir.discretise", "neuron_constants"),
    ("aedc.train.deploy", "aedc.deploy", "deploy_check"),
    ("aedc.emulator.report", "aedc.run_report", "run_to_dir"),
])
def test_moved_modules_keep_a_deprecation_alias(old: str, new: str, name: str) -> None:
    """Code written against the old layout still runs, warned, with the very same objects."""
    code = (f"import warnings; warnings.simplefilter('error', DeprecationWarning)\n"
            f"import {new}\n"
            f"try:\n    import {old}\nexcept DeprecationWarning as w:\n    print('warned', w)\n"
            f"warnings.simplefilter('ignore')\nimport {old} as o\n"
            f"assert o.{name} is {new}.{name}\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    assert f"warned {old} moved" in res.stdout


def test_the_event_replay_uses_only_the_tick_replays_public_names() -> None:
    """aedc.codegen.qemu_event reads the replay log with aedc.codegen.qemu's functions: only public ones
    (listed in its ``__all__`` or not underscored), so the tick replay can change its private helpers."""
    tree = ast.parse((ROOT / "aedc" / "codegen" / "qemu_event.py").read_text())
    names = [a.name for node in ast.walk(tree)
             if isinstance(node, ast.ImportFrom) and node.module == "aedc.codegen.qemu" for a in node.names]
    assert names
    assert [n for n in names if n.startswith("_")] == []
