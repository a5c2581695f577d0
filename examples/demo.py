"""aedc demo: the pipeline as far as it exists today, on the NIR paper's own graphs.

1. Import the paper's single-LIF graph (Norse export), run the reference simulator on the paper's input
   and check it against what Norse itself produced: spike steps and the voltage trace.
2. Compile the paper's N-MNIST CNN (Sinabs export) with the CLI: import → IR → passes (fold Scale, fuse
   the Conv/Pool/Flatten/Affine chains into projections, dead-code elimination) → build directory.
3. Equivalence report: the imported graph and the compiled graph, simulated on the same random event
   input, must emit exactly the same events.

Writes build/demo/ (the CNN build directory, lif_voltage.png, report.json). Run it with `make demo`.
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
from aedc.frontend.nir_import import from_nir
from aedc.ir import load
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
    """Compile the CNN through the CLI, then compare imported vs compiled graph on random events."""
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
    rng = np.random.default_rng(0)
    x = (rng.random((40, 2, 34, 34)) < 0.05).astype(np.float32)
    a = simulate(imported, {"input": x}, record_state=False)
    b = simulate(compiled, {"input": x}, record_state=False)
    rows = []
    for pop in compiled.populations:
        if pop.is_input:
            continue
        same = bool(np.array_equal(a.events[pop.name], b.events[pop.name]))
        rows.append({"population": pop.name, "neurons": pop.size,
                     "events_imported": a.event_count(pop.name),
                     "events_compiled": b.event_count(pop.name), "identical": same,
                     "sparsity": 1 - b.event_count(pop.name) / (pop.size * x.shape[0])})
    return {"populations_imported": len(imported.populations),
            "populations_compiled": len(compiled.populations), "rows": rows}


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    lif = lif_check()
    console.rule("[bold]1. NIR paper LIF neuron: aedc reference vs Norse")
    console.print(f"spike steps aedc  {lif['spike_steps_aedc']}\nspike steps Norse {lif['spike_steps_norse']}"
                  f"\nmax |v_aedc − v_norse| = {lif['max_voltage_error']:.2e}   "
                  f"(plot: {OUT / 'lif_voltage.png'})")
    console.rule("[bold]2. compile cnn_sinabs.nir")
    cnn = cnn_check()
    console.rule("[bold]3. equivalence: imported graph vs compiled graph (40 ticks, 5% input events)")
    table = Table()
    for col in ("population", "neurons", "events imported", "events compiled", "identical",
                "sparsity"):
        table.add_column(col, justify="right")
    for r in cnn["rows"]:  # type: ignore[attr-defined]
        table.add_row(r["population"], str(r["neurons"]), str(r["events_imported"]),
                      str(r["events_compiled"]), "[green]yes[/green]" if r["identical"] else "[red]NO",
                      f"{r['sparsity']:.3f}")
    console.print(table)
    ok = lif["spikes_equal"] and lif["max_voltage_error"] < 1e-6 and all(  # type: ignore[operator]
        r["identical"] for r in cnn["rows"])  # type: ignore[attr-defined]
    (OUT / "report.json").write_text(json.dumps({"lif": lif, "cnn": cnn}, indent=1) + "\n")
    console.print(f"[bold]{'PASS' if ok else 'FAIL'}[/bold] — report in {OUT / 'report.json'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
