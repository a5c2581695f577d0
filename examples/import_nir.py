"""Import a NIR graph exported by another framework, compile it for SpiNNaker2 and run every executor.

For any NIR file (by default the NIR paper's N-MNIST CNN exported by Sinabs): import with a semantics
profile (``--profile`` auto | nir-euler | snntorch | sinabs | norse, ``--dt``; auto, the default, detects
the exporting framework from the file), compile through the CLI (the default
pipeline: passes → slices → CP-SAT placement → routing tables → per-PE C; ``--build`` also
cross-compiles every PE and checks ITCM/DTCM), then run the same random input events through

* the imported graph in the NumPy reference simulator,
* the compiled graph in the reference simulator,
* the JAX emulator on the compiled placement, sync mode,
* the generated C built for the host, sync mode,

and report per population whether all four are bit-identical; then run the emulator and the host C in
the asynchronous schedule (PE clock jitter, NoC hop latency, no layer barrier) and check those two
against each other, with the events and sparsity the asynchronous run costs.

Run: ``.venv/bin/python examples/import_nir.py [file.nir] [--profile sinabs] [--ticks 40] [--build]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aedc.cli import app  # noqa: E402
from aedc.codegen.host import run_host  # noqa: E402
from aedc.emulator import Emulator, PlacedProgram, Schedule  # noqa: E402
from aedc.frontend.nir_import import from_nir  # noqa: E402
from aedc.frontend.nir_reader import NIRVersionWarning  # noqa: E402
from aedc.ir import load  # noqa: E402
from aedc.partition.model import Placement  # noqa: E402
from aedc.reference import simulate  # noqa: E402

HERE = Path(__file__).parent / "nir"
ASYNC = Schedule.asynchronous(jitter_us=200, link_us=100, hop_us=20, seed=1)


def check(path: Path, out: Path, *, profile: str = "auto", dt: float | None = None, ticks: int = 40,
          rate: float = 0.05, cross: bool = False, seed: int = 0) -> dict[str, Any]:
    """Compile ``path`` into ``out`` with the CLI and compare every executor on random input events."""
    args = ["compile", str(path), "-o", str(out), "--profile", profile]
    if dt is not None:
        args += ["--dt", str(dt)]
    if cross and shutil.which("arm-none-eabi-gcc"):
        args.append("--build")
    try:
        app(args)
    except SystemExit as exc:
        if int(exc.code or 0):
            raise
    with warnings.catch_warnings():  # the compile above has shown the file's warnings once already
        warnings.simplefilter("ignore", NIRVersionWarning)
        imported = from_nir(path, profile=profile, dt=dt)
    compiled = load(out / "ir.json")
    placement = Placement.load(out / "placement.json")
    prog = PlacedProgram.from_placement(compiled, placement)
    rng = np.random.default_rng(seed)
    x = {n: (rng.random((ticks, *compiled.population(n).shape)) < rate).astype(np.float32)
         for n in compiled.inputs}
    steps: dict[str, Callable[[], dict[str, np.ndarray]]] = {
        "imported (reference)": lambda: simulate(imported, x, record_state=False).events,
        "compiled (reference)": lambda: simulate(compiled, x, record_state=False).events,
        "emulator sync": lambda: Emulator(prog, Schedule.sync()).run(x).events,
        "host C": lambda: run_host(out, x).events,
        "emulator async": lambda: Emulator(prog, ASYNC).run(x).events,
        "host C async": lambda: run_host(out, x, schedule=ASYNC, program=prog).events,
    }
    done: dict[str, Any] = {}
    for i, (what, run) in enumerate(steps.items(), 1):  # each takes seconds to a minute: say so
        t0 = time.perf_counter()
        print(f"  [{i}/{len(steps)}] {what} on {ticks} ticks ...", end="", flush=True)
        done[what] = run()
        print(f" {time.perf_counter() - t0:.1f} s", flush=True)
    emu_async, host_async = done.pop("emulator async"), done.pop("host C async")
    runs = done
    base = runs["compiled (reference)"]
    rows = []
    for pop in compiled.populations:
        if pop.is_input:
            continue
        counts = {k: int(np.count_nonzero(v[pop.name])) for k, v in runs.items()}
        n_async = int(np.count_nonzero(emu_async[pop.name]))
        rows.append({"population": pop.name, "neurons": pop.size, **counts,
                     "identical": all(np.array_equal(v[pop.name], base[pop.name]) for v in runs.values()),
                     "emulator async": n_async,
                     "host C async identical": emu_async[pop.name].tobytes()
                     == host_async[pop.name].tobytes(),
                     "sparsity async": 1 - n_async / (pop.size * ticks)})
    return {"file": str(path), "profile": profile, "populations_imported": len(imported.populations),
            "populations_compiled": len(compiled.populations), "pes": len(placement.pes),
            "ticks": ticks, "rows": rows}


def print_report(rep: dict[str, Any]) -> bool:
    """A table of the comparison; True when every executor agreed bit for bit."""
    from rich.console import Console
    from rich.table import Table

    cols = ("imported (reference)", "compiled (reference)", "emulator sync", "host C")
    table = Table(title=f"{rep['file']}: events per population, {rep['ticks']} ticks, {rep['pes']} PEs")
    for col in ("population", "neurons", *cols, "bit-identical", "emulator async", "host C async",
                "sparsity async"):
        table.add_column(col, justify="right")
    ok = True
    for r in rep["rows"]:
        good = r["identical"] and r["host C async identical"]
        ok = ok and good
        table.add_row(r["population"], str(r["neurons"]), *(str(r[c]) for c in cols),
                      "[green]yes[/green]" if r["identical"] else "[red]NO",
                      str(r["emulator async"]),
                      "[green]identical[/green]" if r["host C async identical"] else "[red]DIFFERS",
                      f"{r['sparsity async']:.3f}")
    Console(width=max(Console().width, 150)).print(table)  # wide enough for every column in a log
    return ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("nir", nargs="?", default=str(HERE / "cnn_sinabs.nir"))
    p.add_argument("--profile", default="auto", help="semantics profile (default auto: the exporting "
                   "framework's, detected from the file)")
    p.add_argument("--dt", type=float, default=None)
    p.add_argument("--ticks", type=int, default=40)
    p.add_argument("--rate", type=float, default=0.05, help="input event probability per tick")
    p.add_argument("--build", action="store_true", help="also cross-compile every PE")
    p.add_argument("-o", "--out", default="build/import_nir")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    path = Path(args.nir)
    profile = args.profile
    rep = check(path, Path(args.out), profile=profile, dt=args.dt, ticks=args.ticks, rate=args.rate,
                cross=args.build)
    ok = print_report(rep)
    if args.json:
        Path(args.json).write_text(json.dumps(rep, indent=1) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
