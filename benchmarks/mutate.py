"""Mutation testing of the core modules with mutmut (``make mutate``; hours, not CI).

For each module in :data:`MODULES` (or those named on the command line) mutmut 3 mutates the module in a
scratch copy of the working tree and runs the module's own tests against every mutant; a mutant the
tests do not fail "survived". Writes ``benchmarks/results/mutation.json``: per module the mutant count,
killed, survived, timeouts, the survivor rate and the surviving mutants' names (``mutmut show NAME`` in
the scratch copy prints the diff), merged with the rows of modules not rerun. The goal (issue 22): fewer
than 10 % survivors per module, each survivor killed by a test that asserts behaviour — or recorded as
an equivalent mutant (one that cannot change any result, e.g. a dtype argument that NumPy infers).

Run: ``.venv/bin/python benchmarks/mutate.py [module ...]`` (module paths as in :data:`MODULES`).
"""

from __future__ import annotations

import json
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "mutation.json"
MUTMUT = Path(sys.executable).parent / "mutmut"

MODULES: dict[str, tuple[list[str], str]] = {
    # module: (its tests, a pytest -k selection or "")
    "aedc/partition/bound.py": (["tests/test_partition_place.py"], "lower_bound or cpsat_equals"),
    "aedc/timing/event_time.py": (["tests/test_event_timing.py"], ""),
    "aedc/timing/schedule.py": (["tests/test_emulator_async_oracle.py", "tests/test_timing_wavefront.py",
                                 "tests/test_timing_event.py"], ""),
    "aedc/partition/memory.py": (["tests/test_memory_terms.py", "tests/test_partition_memory.py"], ""),
    "aedc/codegen/synapses.py": (["tests/test_codegen_tables.py", "tests/test_codegen_host.py"], ""),
    "aedc/routing/compress_ortc.py": (["tests/test_routing_compress.py"], ""),
    "aedc/frontend/nir_structure.py": (["tests/test_frontend_nir_structure.py"], ""),
    "aedc/reference/neurons.py": (["tests/test_reference_sim.py", "tests/test_reference_property.py"], ""),
}


def run_module(module: str, tests: list[str], select: str) -> dict[str, Any]:
    """mutmut over ``module`` with ``tests`` in a scratch copy of the tree; the counts it reports."""
    with tempfile.TemporaryDirectory(prefix="aedc-mutate-") as tmp:
        work = Path(tmp) / "tree"
        shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns(
            ".venv*", ".git", "build", "mutants", "__pycache__", ".mypy_cache", ".ruff_cache",
            ".pytest_cache", ".hypothesis"))
        args = ["-x", "-q", "-p", "no:cacheprovider", *(["-k", select] if select else [])]
        config = (f"\n[tool.mutmut]\nsource_paths = [{json.dumps(module)}]\n"
                  f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n"
                  f"also_copy = [\"tests\", \"aedc\", \"conformance\", \"examples\", \"benchmarks\"]\n"
                  f"pytest_add_cli_args = {json.dumps(args)}\n")
        with (work / "pyproject.toml").open("a") as fh:
            fh.write(config)
        t0 = time.perf_counter()
        subprocess.run([str(MUTMUT), "run", "--max-children", "1"], cwd=work, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - t0
        out = subprocess.run([str(MUTMUT), "results", "--all", "true"], cwd=work, check=False,
                             capture_output=True, text=True).stdout
    status: dict[str, str] = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+): (\w[\w ]*)$", line)
        if m:
            status[m.group(1)] = m.group(2).strip()
    counts: dict[str, int] = {}
    for s in status.values():
        counts[s] = counts.get(s, 0) + 1
    total = len(status)
    survived = [n for n, s in sorted(status.items()) if s == "survived"]
    return {"tests": tests, "select": select, "mutants": total, "counts": counts,
            "survived": len(survived), "survivor_rate": round(len(survived) / total, 4) if total else None,
            "survivors": survived, "seconds": round(seconds, 1)}


def main(argv: list[str]) -> int:
    if not MUTMUT.exists():
        print(f"{MUTMUT} not found: make mutate installs mutmut into the venv", file=sys.stderr)
        return 2
    names = argv or list(MODULES)
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        print(f"unknown module(s) {unknown}; choose from {list(MODULES)}", file=sys.stderr)
        return 2
    doc: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"modules": {}}
    for name in names:
        tests, select = MODULES[name]
        row = run_module(name, tests, select)
        doc["modules"][name] = row
        print(f"{name}: {row['mutants']} mutants, {row['survived']} survived "
              f"({100 * (row['survivor_rate'] or 0):.1f} %), {row['counts']}, {row['seconds']:.0f} s",
              flush=True)
        doc.update({"benchmark": "mutation", "tool": "mutmut 3",
                    "host": f"{platform.machine()}, python {platform.python_version()}"})
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
