"""Build the golden cases of every framework (or those named): ``python conformance/generate.py [fw ...]``.

Writes ``<out>/<framework>/<case>.nir`` and ``.npz`` and updates ``<out>/manifest.json``. A framework
that cannot be imported, or a case its exporter or forward pass refuses, is listed under
``not_generated`` in the manifest with the error, instead of stopping the run.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import versions, write_case, write_manifest  # noqa: E402

FRAMEWORKS = ("snntorch", "sinabs", "norse", "rockpool", "spyx")
DEFAULT_OUT = HERE.parent / "tests" / "data" / "conformance"


def _error(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" (at {Path(last.filename).name}:{last.lineno})" if last else ""
    return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}{where}"


def _probe(probe) -> str:  # type: ignore[no-untyped-def]
    """Run an export the framework is not expected to support; say what it did."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = probe()
    except Exception as exc:
        return f"raises {_error(exc)}"
    nodes = ", ".join(f"{k}: {type(v).__name__}" for k, v in sorted(graph.nodes.items()))
    return f"exports {{{nodes}}}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("frameworks", nargs="*", default=list(FRAMEWORKS))
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--only", help="generate only the cases whose name contains this")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for fw in args.frameworks:
        entries, failures = [], {}
        try:
            mod = importlib.import_module(f"fw_{fw}")
            cases = mod.cases()
        except Exception as exc:  # a framework that does not install or import here
            failures[f"{fw}/*"] = f"import: {_error(exc)}"
            print(f"{fw}: not generated: {failures[f'{fw}/*']}")
            write_manifest(args.out, fw, entries, failures)
            continue
        vers = versions(*mod.PACKAGES)
        for index, case in enumerate(cases):
            if args.only and args.only not in case.name:
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    entry = write_case(args.out, fw, case, index, mod.PROFILE, mod.DT, vers)
            except Exception as exc:
                failures[f"{fw}/{case.name}"] = _error(exc)
                print(f"{fw}/{case.name}: not generated: {failures[f'{fw}/{case.name}']}")
                continue
            entries.append(entry)
            print(f"{entry['case']}: rates {entry['spike_rates']} scales {entry['scales']}")
        if not args.only:
            for key, (note, probe) in getattr(mod, "PROBES", {}).items():
                failures[f"{fw}/{key}"] = f"{note} (observed: {_probe(probe)})"
        write_manifest(args.out, fw, entries, failures, partial=bool(args.only))
    return 0


if __name__ == "__main__":
    sys.exit(main())
