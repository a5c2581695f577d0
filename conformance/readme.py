"""Write the outcome table of ``tests/data/conformance/README.md`` from ``manifest.json`` + ``expected.json``.

``python conformance/readme.py`` rewrites the part of the README between the table markers;
``--check`` exits 1 when it is stale. Standard library only (``tests/test_conformance.py`` imports
:func:`table`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "conformance"
START = "<!-- outcome table: conformance/readme.py writes it from expected.json -->"
END = "<!-- end of table -->"


def _options(opts: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in opts.items() if k != "dt")


def table(manifest: dict[str, Any], expected: dict[str, str]) -> str:
    """The Markdown table: framework × case × neuron × options → outcome, then counts."""
    rows = ["| framework | case | neuron | options | outcome |", "|---|---|---|---|---|"]
    counts: dict[str, dict[str, int]] = {}
    for c in manifest["cases"]:
        outcome = expected.get(c["case"], "missing")
        category = outcome.partition(":")[0]
        counts.setdefault(c["framework"], {}).setdefault(category, 0)
        counts[c["framework"]][category] += 1
        text = outcome.replace("|", "\\|")
        rows.append(f"| {c['framework']} | {c['case'].split('/', 1)[1]} | {c['neuron']} | "
                    f"{_options(c['options'])} | {text} |")
    rows += ["", "| framework | cases | exact | approximate | refused |",
             "|---|---|---|---|---|"]
    total = {"cases": 0, "exact": 0, "approximate": 0, "refused": 0}
    for fw, n in counts.items():
        k = sum(n.values())
        rows.append(f"| {fw} | {k} | {n.get('exact', 0)} | {n.get('approximate', 0)} | "
                    f"{n.get('refused', 0)} |")
        total["cases"] += k
        for cat in ("exact", "approximate", "refused"):
            total[cat] += n.get(cat, 0)
    rows.append(f"| all | {total['cases']} | {total['exact']} | {total['approximate']} | "
                f"{total['refused']} |")
    if manifest.get("not_generated"):
        rows += ["", "Not exportable / not generated (the generator tried each and recorded what "
                     "happened):", ""]
        rows += [f"- `{k}`: {v}" for k, v in manifest["not_generated"].items()]
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    manifest = json.loads((DATA / "manifest.json").read_text())
    expected = json.loads((DATA / "expected.json").read_text())
    path = DATA / "README.md"
    text = path.read_text()
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    new = f"{head}{START}\n{table(manifest, expected)}{END}{tail}"
    if args.check:
        if new != text:
            print(f"{path} is stale: run python conformance/readme.py")
            return 1
        return 0
    path.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
