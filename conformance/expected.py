"""Observe aedc on every golden case and compare with (or refresh) ``tests/data/conformance/expected.json``.

Runs in aedc's virtual environment (``.venv/bin/python conformance/expected.py``), using the observation of
``tests/test_conformance.py`` itself. Prints one line per case. ``--refresh`` rewrites the measured part
of every case whose outcome is unchanged, and writes each changed or new case as its new outcome with
the reason ``TODO: why`` (write the reason by hand before committing: the test requires a reason, not
this placeholder's absence, so look for TODO).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _test_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("test_conformance", ROOT / "tests" / "test_conformance.py")
    assert spec is not None
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--refresh", action="store_true", help="rewrite expected.json from what aedc does now")
    args = ap.parse_args(argv)
    tc = _test_module()
    path = tc.DATA / "expected.json"
    old: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    new: dict[str, str] = {}
    changed = 0
    for case in tc.CASES:
        seen = tc.observe(tc.ENTRIES[case])
        category, why, measured = tc.parse(old.get(case, "missing"))
        same = category == seen.outcome and measured == seen.measured
        changed += not same
        keep_why = why if category == seen.outcome and why else "TODO: why"
        new[case] = seen.render(keep_why)
        mark = "  " if same else "!!"
        print(f"{mark} {case}: {seen.render(keep_why if same else '…')}")
    if args.refresh:
        path.write_text(json.dumps(new, indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {path} ({changed} changed)")
    return 1 if changed and not args.refresh else 0


if __name__ == "__main__":
    sys.exit(main())
