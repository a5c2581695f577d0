"""Write the outcome table of ``tests/data/conformance/README.md`` from ``manifest.json`` + ``expected.json``.

``python conformance/readme.py`` rewrites the part of the README between the table markers;
``--check`` exits 1 when it is stale. Standard library only (``tests/test_conformance.py`` imports
:func:`table`). A case with a recipe (``expected.json``: ``plain``, ``recipe``, ``with_recipe``) shows
both outcomes; the counts give both rates.
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


def _recipe(recipe: dict[str, Any]) -> str:
    """``option → profile("p", k=v)``: the framework option and the aedc setting a user applies."""
    sets = "".join(f", {k}={tuple(v) if isinstance(v, list) else v!r}" for k, v in recipe["set"].items())
    imports = "".join(f", {k}={v!r}" for k, v in recipe.get("import", {}).items())
    return f"{recipe['option']} → `profile({recipe['profile']!r}{sets})`{imports and f' `{imports[2:]}`'}"


def _split(value: str | dict[str, Any]) -> tuple[str, dict[str, Any] | None, str | None]:
    if isinstance(value, str):
        return value, None, None
    return value["plain"], value.get("recipe"), value.get("with_recipe")


def table(manifest: dict[str, Any], expected: dict[str, Any]) -> str:
    """The Markdown table: framework × case × neuron × options → outcome with the plain profile, and with
    the recipe (the aedc setting for the framework option the file does not carry) where there is one;
    then counts."""
    rows = ["| framework | case | neuron | options | outcome (plain profile) | with the aedc setting |",
            "|---|---|---|---|---|---|"]
    counts: dict[str, dict[str, int]] = {}
    for c in manifest["cases"]:
        plain, recipe, with_recipe = _split(expected.get(c["case"], "missing"))
        n = counts.setdefault(c["framework"], {})
        category = plain.partition(":")[0]
        n[category] = n.get(category, 0) + 1
        best = (with_recipe or plain).partition(":")[0]
        n[f"best {best}"] = n.get(f"best {best}", 0) + 1
        n["recipes"] = n.get("recipes", 0) + (recipe is not None)
        text = plain.replace("|", "\\|")
        setting = (f"{_recipe(recipe)}: {with_recipe}".replace("|", "\\|") if recipe is not None
                   else "—")
        rows.append(f"| {c['framework']} | {c['case'].split('/', 1)[1]} | {c['neuron']} | "
                    f"{_options(c['options'])} | {text} | {setting} |")
    cats = ("exact", "approximate", "refused")
    rows += ["", "| framework | cases | exact | approximate | refused | recipes | exact with recipes | "
                 "approximate with recipes | refused with recipes |",
             "|---|---|---|---|---|---|---|---|---|"]
    total: dict[str, int] = {}
    for fw, n in counts.items():
        k = sum(n.get(cat, 0) for cat in cats)
        cells = [k, *(n.get(cat, 0) for cat in cats), n.get("recipes", 0),
                 *(n.get(f"best {cat}", 0) for cat in cats)]
        rows.append(f"| {fw} | " + " | ".join(str(x) for x in cells) + " |")
        for i, x in enumerate(cells):
            total[str(i)] = total.get(str(i), 0) + x
    rows.append("| all | " + " | ".join(str(total[str(i)]) for i in range(8)) + " |")
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
