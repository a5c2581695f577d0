"""aedc demo: import → compile → C → emulate → equivalence report, and a trained network deployed.

1. Import the NIR paper's single-LIF graph (Norse export), run the reference simulator on the paper's
   input and check it against what Norse itself produced: spike steps and the voltage trace.
2. The paper's N-MNIST CNN (Sinabs export), via ``examples/import_nir.py``: compile with the CLI
   (passes → slices → placement → routing → per-PE C), then the same random input events through the
   imported graph and the compiled graph (NumPy reference), the JAX emulator of the placed program and
   the generated C built for the host — bit for bit in sync mode; and the emulator and the host C in the
   asynchronous schedule (PE clock jitter, NoC hop latency, no layer barrier), again bit for bit, with
   the events and sparsity that costs.
3. Yin-Yang at a small size via ``examples/yinyang.py --small``: a 5-120-3 LIF network trained through
   the asynchronous schedule, compiled, cross-compiled (when arm-none-eabi-gcc is installed) and the
   test set classified by the emulator and the host C, side by side.

Writes build/demo/ (the CNN and Yin-Yang build directories with their C, lif_voltage.png,
report.json). ``make demo``.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

import import_nir
import yinyang

from aedc.frontend.nir_import import from_nir
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


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    lif = lif_check()
    console.rule("[bold]1. NIR paper LIF neuron: aedc reference vs Norse")
    console.print(f"spike steps aedc  {lif['spike_steps_aedc']}\nspike steps Norse {lif['spike_steps_norse']}"
                  f"\nmax |v_aedc − v_norse| = {lif['max_voltage_error']:.2e}   "
                  f"(plot: {OUT / 'lif_voltage.png'})")
    console.rule("[bold]2. cnn_sinabs.nir: import → compile → C; every executor on 40 ticks of 5% events")
    cnn = import_nir.check(HERE / "cnn_sinabs.nir", OUT / "cnn_sinabs", profile="sinabs")
    cnn_ok = import_nir.print_report(cnn)
    console.rule("[bold]3. Yin-Yang: train async (small), compile, cross-compile, emulator vs host C")
    yy = yinyang.main(["--small", "--quiet", "--build", str(OUT / "yinyang")])
    dep = yy["deploy"]
    yy_ok = all(dep["identical"].values()) and all(
        dep["paths"][f"emulator {m}"]["accuracy"] == dep["paths"][f"host C {m}"]["accuracy"]
        for m in dep["identical"])
    ok = bool(lif["spikes_equal"]) and float(lif["max_voltage_error"]) < 1e-6 and cnn_ok and yy_ok  # type: ignore[arg-type]
    (OUT / "report.json").write_text(json.dumps({"lif": lif, "cnn": cnn, "yinyang": yy}, indent=1) + "\n")
    console.print(f"[bold]{'PASS' if ok else 'FAIL'}[/bold] — report in {OUT / 'report.json'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
