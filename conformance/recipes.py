"""Run the framework blocks of docs/recipes.md in the frameworks' environment (``make conformance``).

Each ```python framework block is executed in a fresh namespace in a temporary directory; it must write
the ``.nir`` file it names, which must read back with ``nir.read`` (without type checks: Norse keeps
the batch axis in the Input type, which NIR 1.0.8 rejects on reading) and have the node kinds of the golden
case the recipe's aedc part uses (so the recipe shows the calls that made that file). The aedc blocks
run in CI (tests/test_recipes.py). Run: ``.venv-conformance/bin/python conformance/recipes.py``.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

import nir

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```$", re.S | re.M)
GOLDEN = {"leaky.nir": "snntorch/leaky_subtract", "lif.nir": "sinabs/lif_single",
          "lifbox.nir": "norse/lifbox"}


def kinds(graph: nir.NIRGraph) -> list[tuple[str, str]]:
    return sorted((name, type(node).__name__) for name, node in graph.nodes.items())


def main() -> int:
    text = (ROOT / "docs" / "recipes.md").read_text()
    codes = [code for lang, info, code in BLOCK.findall(text)
             if lang == "python" and "framework" in info.split()]
    failed = 0
    for code in codes:
        written = re.search(r'nir\.write\("([^"]+)"', code)
        assert written, "a framework block must nir.write its file"
        name = written.group(1)
        with tempfile.TemporaryDirectory() as tmp:
            here = os.getcwd()
            os.chdir(tmp)
            try:
                exec(compile(code, f"recipes:{name}", "exec"), {"__name__": "recipe"})
                got = kinds(nir.read(name, type_check=False))
            finally:
                os.chdir(here)
        golden = ROOT / "tests" / "data" / "conformance" / f"{GOLDEN[name]}.nir"
        want = kinds(nir.read(golden, type_check=False))
        ok = got == want
        failed += not ok
        print(f"{'ok' if ok else 'MISMATCH'} {name}: {got if not ok else len(got)} nodes"
              + ("" if ok else f" (golden {GOLDEN[name]}: {want})"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
