"""The recipes in docs/recipes.md run as written (issue 20 item 8).

Every ```python block that is not marked ``framework`` is executed, in document order and in one
namespace (a recipe reuses the imports of the ones before it), from the repository root — so a recipe
that drifts from the API, or whose files are not in the repository, fails here. Its asserts are the
check: the golden files hold what snnTorch / Sinabs / Norse computed, and each recipe asserts aedc's
reference, compiled emulator and host-built C give the same spikes. The ```console block's ``aedc``
commands run through the CLI with ``build/`` redirected to a temporary directory. The framework blocks
need torch; ``make conformance`` runs them (conformance/recipes.py).
"""

from __future__ import annotations

import os
import re
import shlex
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aedc.cli import app

ROOT = Path(__file__).parent.parent
RECIPES = ROOT / "docs" / "recipes.md"
BLOCK = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```$", re.S | re.M)


def blocks(kind: str, *, framework: bool = False) -> list[str]:
    """The code of every ```<kind> block (``framework`` ones or the others), in order."""
    return [code for lang, info, code in BLOCK.findall(RECIPES.read_text())
            if lang == kind and ("framework" in info.split()) == framework]


def test_the_document_has_a_recipe_per_framework() -> None:
    text = RECIPES.read_text()
    for title in ("snnTorch → NIR → aedc", "Sinabs → NIR → aedc", "Norse → NIR → aedc"):
        assert f"## {title}" in text
    assert len(blocks("python", framework=True)) == 3
    assert len(blocks("python")) >= 3
    for path in re.findall(r'"(tests/data/conformance/[\w/]+)"', text):  # every file it names exists
        assert (ROOT / f"{path}.nir").is_file(), path


def test_python_blocks_run_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {"__name__": "recipes"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the recipes show their own warnings where they matter
        for i, code in enumerate(blocks("python")):
            exec(compile(code, f"{RECIPES}:block{i}", "exec"), namespace)


def test_console_commands_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    commands = [line[2:] for code in blocks("console") for line in code.splitlines() if line.startswith("$ ")]
    assert commands
    for line in commands:
        args = shlex.split(line.replace("build/", f"{tmp_path}{os.sep}"))
        assert args[0] == "aedc"
        res = CliRunner().invoke(app, args[1:], terminal_width=160)
        assert res.exit_code == 0, (line, res.output)
        if args[1] == "inspect":
            assert "snntorch" in res.output
    assert (tmp_path / "recipe-leaky" / "ir.json").is_file()
