"""aedc demo: the pipeline as far as it exists today, on the NIR paper's own graphs.

1. Import the paper's single-LIF graph (Norse export), run the reference simulator on the paper's input
   and check it against what Norse itself produced: spike steps and the voltage trace.
2. Compile the paper's N-MNIST CNN (Sinabs export) with the CLI: import → IR → passes (fold Scale, fuse
   the Conv/Pool/Flatten/Affine chains into projections, dead-code elimination) → build directory.
3. Equivalence report on the same random event input: the imported graph (NumPy reference), the
   compiled graph (reference), the JAX emulator of the placed program in sync mode, the generated C
   built for the host, all bit for bit; and the emulator in asynchronous mode (PEs with clock jitter and
   NoC hop latency, no layer barrier), which is expected to differ, with its events and sparsity.

Writes build/demo/ (the CNN build directory with its C, lif_voltage.png, report.json). `make demo`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from rich.console import Console
from rich.table import Table

from aedc.cli import app
from aedc.codegen.host import run_host
from aedc.emulator import Emulator, PlacedProgram, Schedule
from aedc.frontend.nir_import import from_nir
from aedc.ir import load
from aedc.partition.model import Placement
from aedc.reference import simulate

HERE = Path(__file__).parent / "nir"
OUT = Path("build/demo")
console = Console()


def lif_check() -> dict[str, object]:
    """Reference simulation of lif_norse.nir vs Norse's recorded output."""
    norse = np.loadtxt(HERE / "lif_norse.csv", delimiter=",")
    # Norse steps v ← v + dt/τ·(v_leak − v + I), resets to v_reset in the same tick and spikes on
    # v > threshold: exactly the `nir-euler` profile, at the paper's dt = 1e-4 s.
    graph = from_nir(HERE / "lif_norse.nir", profile="nir-euler", dt=1e-4)
    trace = simulate(graph, {"input": norse[:, :1]})
    lif = graph.outputs["output"]
    ours = trace.spike_steps(lif)
    theirs = np.flatnonzero(norse[:, 2])
    v = trace.state[lif]["v"][:, 0]
    err = float(np.abs(v - norse[:, 1]).max())
    fig, ax = plt.subplots(figsize=(9, 3))
    ax.plot(norse[:, 1], lw=3, alpha=0.4, label="Norse (lif_norse.csv)")
    ax.plot(v, lw=1, label="aedc reference, nir-euler")
    ax.vlines(ours, 0, 0.12, color="k", lw=0.8, label="aedc spikes")
    ax.set(xlabel="step (dt = 0.1 ms)", ylabel="membrane voltage", title="NIR paper LIF neuron")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "lif_voltage.png", dpi=120)
    plt.close(fig)
    return {"spike_steps_aedc": ours.tolist(), "spike_steps_norse": theirs.tolist(),
            "spikes_equal": bool(np.array_equal(ours, theirs)), "max_voltage_error": err}


def cnn_check() -> dict[str, object]:
    """Compile the CNN through the CLI, then compare every executor on the same random events."""
    build = OUT / "cnn_sinabs"
    code = 0
    try:
        app(["compile", str(HERE / "cnn_sinabs.nir"), "-o", str(build), "--profile", "sinabs"])
    except SystemExit as exc:
        code = int(exc.code or 0)
    if code:
        raise SystemExit(code)
    imported = from_nir(HERE / "cnn_sinabs.nir", profile="sinabs")
    compiled = load(build / "ir.json")
    placement = Placement.load(build / "placement.json")
    rng = np.random.default_rng(0)
    x = (rng.random((40, 2, 34, 34)) < 0.05).astype(np.float32)
    runs = {
        "imported (reference)": simulate(imported, {"input": x}, record_state=False).events,
        "compiled (reference)": simulate(compiled, {"input": x}, record_state=False).events,
        "emulator sync": Emulator(PlacedProgram.from_placement(compiled, placement),
                                  Schedule.sync()).run({"input": x}).events,
        "host C": run_host(build, {"input": x}).events,
    }
    asynchronous = Emulator(PlacedProgram.from_placement(compiled, placement),
                            Schedule.asynchronous(jitter_us=200, hop_us=20, seed=1)).run({"input": x})
    base = runs["compiled (reference)"]
    rows = []
    for pop in compiled.populations:
        if pop.is_input:
            continue
        counts = {k: int(np.count_nonzero(v[pop.name])) for k, v in runs.items()}
        same = all(np.array_equal(v[pop.name], base[pop.name]) for v in runs.values())
        n_async = int(np.count_nonzero(asynchronous.events[pop.name]))
        rows.append({"population": pop.name, "neurons": pop.size, **counts, "identical": same,
                     "emulator async": n_async,
                     "sparsity async": 1 - n_async / (pop.size * x.shape[0])})
    return {"populations_imported": len(imported.populations),
            "populations_compiled": len(compiled.populations), "pes": len(placement.pes),
            "rows": rows}


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    lif = lif_check()
    console.rule("[bold]1. NIR paper LIF neuron: aedc reference vs Norse")
    console.print(f"spike steps aedc  {lif['spike_steps_aedc']}\nspike steps Norse {lif['spike_steps_norse']}"
                  f"\nmax |v_aedc − v_norse| = {lif['max_voltage_error']:.2e}   "
                  f"(plot: {OUT / 'lif_voltage.png'})")
    console.rule("[bold]2. compile cnn_sinabs.nir")
    cnn = cnn_check()
    console.rule("[bold]3. events per population, 40 ticks of 5% random input events")
    table = Table()
    cols = ("imported (reference)", "compiled (reference)", "emulator sync", "host C")
    for col in ("population", "neurons", *cols, "bit-identical", "emulator async", "sparsity async"):
        table.add_column(col, justify="right")
    for r in cnn["rows"]:  # type: ignore[attr-defined]
        table.add_row(r["population"], str(r["neurons"]), *(str(r[c]) for c in cols),
                      "[green]yes[/green]" if r["identical"] else "[red]NO",
                      str(r["emulator async"]), f"{r['sparsity async']:.3f}")
    console.print(table)
    ok = lif["spikes_equal"] and lif["max_voltage_error"] < 1e-6 and all(  # type: ignore[operator]
        r["identical"] for r in cnn["rows"])  # type: ignore[attr-defined]
    (OUT / "report.json").write_text(json.dumps({"lif": lif, "cnn": cnn}, indent=1) + "\n")
    console.print(f"[bold]{'PASS' if ok else 'FAIL'}[/bold] — report in {OUT / 'report.json'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
