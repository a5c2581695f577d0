"""Observe aedc on every golden case and compare with (or refresh) ``tests/data/conformance/expected.json``.

Runs in aedc's virtual environment (``.venv/bin/python conformance/expected.py``), using the observation of
``tests/test_conformance.py`` itself. Prints one line per case. ``--refresh`` rewrites the measured part
of every case whose outcome is unchanged, and writes each changed or new case as its new outcome with
the reason ``TODO: why`` (write the reason by hand before committing: the test refuses a TODO). A
case whose entry carries a ``recipe`` (written by hand: see ``tests/test_conformance.py``) is observed
twice, plain and with the recipe, and both outcomes are rewritten; the recipe itself is kept.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _test_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("test_conformance", ROOT / "tests" / "test_conformance.py")
    assert spec is not None
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _compare(tc: Any, label: str, seen: Any, old: str | None) -> tuple[str, bool]:
    """(the new outcome text, whether it equals ``old``), printing one line."""
    category, why, measured = tc.parse(old or "missing")
    same = category == seen.outcome and measured == seen.measured
    keep_why = why if category == seen.outcome and why else "TODO: why"
    mark = "  " if same else "!!"
    print(f"{mark} {label}: {seen.render(keep_why if same else '…')}")
    return seen.render(keep_why), same


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--refresh", action="store_true", help="rewrite expected.json from what aedc does now")
    args = ap.parse_args(argv)
    tc = _test_module()
    path = tc.DATA / "expected.json"
    old: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    new: dict[str, Any] = {}
    changed = 0
    for case in tc.CASES:
        entry = old.get(case)
        plain_old = entry if isinstance(entry, str) or entry is None else entry["plain"]
        plain, same = _compare(tc, case, tc.observe(tc.ENTRIES[case]), plain_old)
        changed += not same
        if isinstance(entry, dict) and entry.get("recipe"):  # recipes are written by hand, kept here
            recipe = entry["recipe"]
            label = f"{case} with {recipe['set']}{' ' + str(recipe['import']) if 'import' in recipe else ''}"
            with_recipe, same = _compare(tc, label, tc.observe_recipe(tc.ENTRIES[case], recipe),
                                         entry.get("with_recipe"))
            changed += not same
            new[case] = {"plain": plain, "recipe": recipe, "with_recipe": with_recipe}
        else:
            new[case] = plain
    if args.refresh:
        path.write_text(json.dumps(new, indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {path} ({changed} changed)")
    return 1 if changed and not args.refresh else 0


if __name__ == "__main__":
    sys.exit(main())
