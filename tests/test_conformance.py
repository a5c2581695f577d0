"""aedc against golden cases recorded from the real frameworks (``tests/data/conformance/``).

Each case is a small network that snnTorch, Sinabs, Norse, … built, exported with its own NIR exporter
and ran with its own forward pass (``conformance/generate.py``, ``make conformance-data``): the ``.nir``,
the 0/1 input, the framework's spikes and membrane traces. Here (no torch needed) each case is imported with
``from_nir(path, profile=<the framework's profile>, dt=<the dt the framework used>)`` (the profile is in
``manifest.json``: snntorch → ``snntorch``, sinabs → ``sinabs``, norse → ``nir-euler``) and run by
:func:`aedc.reference.simulate`. Spikes must agree exactly and state traces (``v``, ``i_syn``) within float32
tolerance (:data:`TOLERANCE`) for the outcome ``exact``.

``expected.json`` writes down every case's outcome today — ``exact``, ``approximate: <why> [<measured>]``
or ``refused: <why> [<aedc error or warning>]`` — and the test asserts it, measured part included (first
diverging tick, spike counts, largest membrane difference). A change in aedc that changes a case's
outcome fails here with the new observation; then update ``expected.json``
(``.venv/bin/python conformance/expected.py --refresh`` rewrites the measured parts and marks changed
outcomes) and the README table (``conformance/readme.py``).

**Recipes.** Where the framework option that makes a case approximate is not in the NIR file but aedc has
a setting for it, the case's entry in ``expected.json`` is an object: ``plain`` (the outcome with the
manifest's profile, as above), ``recipe`` — ``option`` (the framework's option, as its user wrote it),
``profile`` (the manifest's or another preset) and ``set`` (the :class:`~aedc.ir.options.Semantics`
overrides a user who knows the option applies: ``from_nir(path, profile=profile(<profile>, **set))``),
``import`` (``from_nir`` options such as ``fix_quirks``) — and ``with_recipe``, the outcome then. Both
outcomes are asserted.
"""

from __future__ import annotations

import importlib.util
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aedc.errors import AedcError
from aedc.frontend import QuirkFixWarning, from_nir
from aedc.ir.options import PROFILES, Semantics, profile
from aedc.reference import simulate

DATA = Path(__file__).parent / "data" / "conformance"
ROOT = Path(__file__).parent.parent
TOLERANCE = 1e-4
"""A state value agrees when ``|aedc − framework| ≤ TOLERANCE · max(1, max |framework|)`` (float32 rounding
and a different order of the same operations stay far below; a different update rule does not)."""

OUTCOMES = ("exact", "approximate", "refused")
IMPORT_OPTIONS = {"fix_quirks"}
"""``from_nir`` options a recipe may set (beside the semantics)."""
KINDS = ("spikes", "v", "i_syn")
MEASURED = re.compile(r"\[([^\[\]]*)\]\s*$")


@dataclass(frozen=True)
class Observation:
    """What aedc does with one case: the outcome and a deterministic description of the difference."""

    outcome: str
    measured: str = ""

    def render(self, why: str = "<why>") -> str:
        return "exact" if self.outcome == "exact" else f"{self.outcome}: {why} [{self.measured}]"


def manifest() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DATA / "manifest.json").read_text())
    return doc


def expected() -> dict[str, str]:
    """Case → the outcome with the manifest's profile (``plain``)."""
    return {case: plain for case, (plain, _, _) in entries().items()}


def entries() -> dict[str, tuple[str, dict[str, Any] | None, str | None]]:
    """Case → (plain outcome, recipe or None, outcome with the recipe or None) from ``expected.json``."""
    doc: dict[str, Any] = json.loads((DATA / "expected.json").read_text())
    out: dict[str, tuple[str, dict[str, Any] | None, str | None]] = {}
    for case, value in doc.items():
        if isinstance(value, str):
            out[case] = (value, None, None)
        else:
            out[case] = (value["plain"], value["recipe"], value.get("with_recipe"))
    return out


def recipe_semantics(entry: dict[str, Any], recipe: dict[str, Any]) -> Semantics:
    """The :class:`Semantics` a user applies for the framework option: ``profile(<profile>, **set)`` at
    the case's dt (lists in JSON are tuples in Semantics)."""
    sets = {k: tuple(v) if isinstance(v, list) else v for k, v in recipe["set"].items()}
    return profile(recipe["profile"], dt=entry["dt"], **sets)


def observe_recipe(entry: dict[str, Any], recipe: dict[str, Any]) -> Observation:
    """:func:`observe` with the recipe: its semantics and its ``from_nir`` options (``import``)."""
    return observe(entry, recipe_semantics(entry, recipe), recipe.get("import"))


def parse(outcome: str) -> tuple[str, str, str]:
    """``"approximate: why [measured]"`` → (category, why, measured)."""
    category, _, rest = outcome.partition(":")
    m = MEASURED.search(rest)
    measured = m.group(1) if m else ""
    why = rest[:m.start()].strip() if m else rest.strip()
    return category.strip(), why, measured


def _aedc_array(trace: Any, node: str, kind: str) -> np.ndarray | None:
    if kind == "spikes":
        return trace.outputs.get(node)
    state = trace.state.get(node, {})
    return state.get(kind)


def observe(entry: dict[str, Any], semantics: Semantics | None = None,
            import_options: dict[str, Any] | None = None) -> Observation:
    """Import and run one case with aedc (with the manifest's profile, or ``semantics`` and
    ``import_options``: a recipe) and compare it with the framework's recording. An aedc warning makes
    the case refused, except the report of a quirk fix the recipe asked for (``fix_quirks``)."""
    opts = import_options or {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            graph = from_nir(DATA / entry["nir"], profile=semantics or entry["profile"], dt=entry["dt"],
                             **opts)
        except AedcError as exc:
            return Observation("refused", type(exc).__name__)
    asked = {QuirkFixWarning} if opts.get("fix_quirks") else set()
    named = sorted({w.category.__name__ for w in caught
                    if w.category.__module__.startswith("aedc") and w.category not in asked})
    if named:
        return Observation("refused", ", ".join(named))
    with np.load(DATA / entry["data"]) as f:
        data = {k: f[k] for k in f.files}
    x = data["input"]
    shape = graph.pop_map()[entry["input"]].shape
    if int(np.prod(shape)) == int(np.prod(x.shape[1:])):  # e.g. Norse writes the batch dim, [1, 16]
        x = x.reshape(x.shape[0], *shape)
    try:
        with np.errstate(all="ignore"):  # a diverging reading overflows float32; the comparison says so
            trace = simulate(graph, {entry["input"]: x})
    except AedcError as exc:
        return Observation("refused", f"{type(exc).__name__} in simulate")
    first: tuple[int, str] | None = None
    first_spike: tuple[int, str] | None = None
    counts = np.zeros(3, np.int64)  # aedc, framework, coinciding
    max_dv = 0.0
    missing = []
    for node in sorted(entry["recorded"]):
        for kind in KINDS:
            key = f"{kind}/{node}"
            if key not in data:
                continue
            ref = data[key].reshape(data[key].shape[0], -1).astype(np.float64)
            got = _aedc_array(trace, node, kind)
            if got is None:
                missing.append(f"{node} {kind}")
                continue
            got = np.asarray(got, np.float64).reshape(got.shape[0], -1)
            if got.shape != ref.shape:
                missing.append(f"{node} {kind} shape {got.shape[1:]} vs {ref.shape[1:]}")
                continue
            if kind == "spikes":
                bad = np.any(got != ref, axis=1)
                counts += [int(got.sum()), int(ref.sum()), int(np.minimum(got, ref).sum())]
                if bad.any() and (first_spike is None or int(np.argmax(bad)) < first_spike[0]):
                    first_spike = (int(np.argmax(bad)), node)
            else:
                diff = np.abs(got - ref)
                bad = np.any(diff > TOLERANCE * max(1.0, float(np.abs(ref).max())), axis=1)
                if kind == "v":
                    max_dv = max(max_dv, float(diff.max()))
            if bad.any() and (first is None or int(np.argmax(bad)) < first[0]):
                first = (int(np.argmax(bad)), f"{node} {kind}")
    absent = f"; aedc has no {', '.join(missing)}" if missing else ""
    if first is None:
        return Observation("approximate", absent[2:]) if missing else Observation("exact")
    spikes = ("spikes agree" if first_spike is None
              else f"first spike difference at tick {first_spike[0]} ({first_spike[1]})")
    return Observation("approximate", f"first diverging tick {first[0]} ({first[1]}); {spikes}; spikes "
                                      f"{counts[0]} aedc / {counts[1]} framework, {counts[2]} coincide; "
                                      f"max |dv| {max_dv:.2g}{absent}")


CASES = [c["case"] for c in manifest()["cases"]] if (DATA / "manifest.json").exists() else []
ENTRIES = {c["case"]: c for c in manifest()["cases"]} if CASES else {}
RECIPE_CASES = [c for c, (_, recipe, _) in entries().items() if recipe] if CASES else []


def test_every_case_has_an_expected_outcome() -> None:
    exp = expected()
    assert sorted(exp) == sorted(CASES), "expected.json and manifest.json list different cases"
    for case, outcome in exp.items():
        category, why, measured = parse(outcome)
        assert category in OUTCOMES, f"{case}: outcome {outcome!r} is not one of {OUTCOMES}"
        if category != "exact":
            assert why, f"{case}: {category} needs a reason"
            assert measured, f"{case}: {category} needs a [measured] part"
            assert not why.startswith("TODO"), f"{case}: write the reason (expected.py wrote a TODO)"
    for case, (_, recipe, with_recipe) in entries().items():
        if recipe is None:
            continue
        assert recipe.get("option"), f"{case}: a recipe names the framework option it stands for"
        assert recipe["profile"] in PROFILES, f"{case}: recipe profile {recipe['profile']!r} unknown"
        assert recipe["set"] or recipe.get("import") or recipe["profile"] != ENTRIES[case]["profile"], \
            f"{case}: a recipe changes the profile, a semantics option or an import option"
        assert set(recipe.get("import", {})) <= IMPORT_OPTIONS, f"{case}: unknown import option"
        assert with_recipe, f"{case}: a recipe needs its outcome ('with_recipe')"
        category, why, measured = parse(with_recipe)
        assert category in OUTCOMES, f"{case}: recipe outcome {with_recipe!r} is not one of {OUTCOMES}"
        if category != "exact":
            assert why, f"{case}: the recipe's {category} outcome needs a reason"
            assert measured, f"{case}: the recipe's {category} outcome needs a [measured] part"
            assert not why.startswith("TODO"), f"{case}: write the recipe outcome's reason"


def test_cases_are_complete_and_small() -> None:
    doc = manifest()
    assert doc["cases"], "no golden cases"
    total = 0
    for entry in doc["cases"]:
        for key in ("framework", "neuron", "options", "profile", "dt", "versions"):
            assert key in entry, f"{entry['case']}: manifest entry has no {key!r}"
        assert entry["versions"].get(entry["framework"]), f"{entry['case']}: no framework version"
        for path in (DATA / entry["nir"], DATA / entry["data"]):
            total += path.stat().st_size
        with np.load(DATA / entry["data"]) as f:
            assert f["input"].dtype == np.float32
            assert f["input"].shape[0] == entry["steps"]
            assert float(f["dt"]) == entry["dt"]
    assert total < 2.5e6, f"golden cases take {total} bytes"


@pytest.mark.parametrize("case", CASES)
def test_case_outcome_is_the_recorded_one(case: str) -> None:
    category, why, measured = parse(expected()[case])
    seen = observe(ENTRIES[case])
    hint = (f"\n{case}: aedc now gives {seen.render(why or '<why>')!r}, expected.json says "
            f"{expected()[case]!r}; if this is the change you meant, update expected.json "
            f"(.venv/bin/python conformance/expected.py --refresh) and the README table "
            f"(.venv/bin/python conformance/readme.py)")
    assert seen.outcome == category, hint
    assert seen.measured == measured, hint


@pytest.mark.parametrize("case", RECIPE_CASES)
def test_recipe_outcome_is_the_recorded_one(case: str) -> None:
    """The case with the aedc setting a user applies for the framework option (its recipe)."""
    _, recipe, with_recipe = entries()[case]
    assert recipe is not None
    assert with_recipe is not None
    category, why, measured = parse(with_recipe)
    seen = observe_recipe(ENTRIES[case], recipe)
    hint = (f"\n{case} with {recipe['set']}: aedc now gives {seen.render(why or '<why>')!r}, "
            f"expected.json says {with_recipe!r}; update it (.venv/bin/python conformance/expected.py "
            f"--refresh) and the README table (.venv/bin/python conformance/readme.py)")
    assert seen.outcome == category, hint
    assert seen.measured == measured, hint


def test_readme_table_is_generated_from_expected() -> None:
    spec = importlib.util.spec_from_file_location("conformance_readme", ROOT / "conformance" / "readme.py")
    assert spec is not None
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    readme = (DATA / "README.md").read_text()
    doc = json.loads((DATA / "expected.json").read_text())
    assert mod.table(manifest(), doc) in readme, \
        "tests/data/conformance/README.md is stale: run .venv/bin/python conformance/readme.py"
