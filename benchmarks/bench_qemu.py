"""Every PE of the compiled MLP and cnn_sinabs on QEMU's Cortex-M4F: bit-identical? instructions per tick?

Networks (compiled with the default pipeline, greedy placement to keep the compile short):

* ``mlp``: 784-512-512-10 LIF, float32 N(0,1) weights (benchmarks/bench_partition.py's MLP).
* ``cnn_sinabs``: the NIR paper's CNN (tests/data/nir_paper/02_cnn/cnn_sinabs.nir, profile sinabs).

Input: random binary events, 5 % of the inputs per tick (bench_partition's activity), ``T`` ticks, sync
schedule. For every PE: :func:`aedc.codegen.qemu.verify_qemu` (host recording, cross-build against the
replay runtime, QEMU ``-icount`` replay, bit-for-bit comparison), its worst and mean instructions per
tick, the estimated cycles (× :data:`aedc.codegen.qemu.CYCLES_PER_INSTRUCTION`) against the tick's
budget (1000 µs × 150 MHz), QEMU wall time per PE-tick; and a least-squares fit over all PE-ticks of
``instructions = a·neurons + b·packets received + c·packets sent + d`` with its error — the shape of
the per-PE cost model the slicer could use as a second budget.

Writes benchmarks/results/qemu.json. Run: ``.venv/bin/python benchmarks/bench_qemu.py [--quick]``
(``--quick``: the MLP only, 10 ticks).
"""

from __future__ import annotations

import dataclasses
import json
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aedc.codegen.qemu import CYCLES_PER_INSTRUCTION, fit_cost, verify_qemu  # noqa: E402
from aedc.frontend.builder import Network  # noqa: E402
from aedc.ir import Graph  # noqa: E402
from aedc.passes import DEFAULT_PIPELINE, CompileState, PassContext, PassManager  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
ACTIVITY = 0.05
PIPELINE = DEFAULT_PIPELINE.replace("place,", "place{solver=greedy},")


def mlp() -> Graph:
    rng = np.random.default_rng(0)
    net = Network("mlp784")
    sizes = (784, 512, 512, 10)
    prev = net.input("x", sizes[0])
    for i, n in enumerate(sizes[1:]):
        h = net.population(f"h{i + 1}", n, "lif", tau=20e-3)
        net.dense(prev, h, rng.normal(size=(n, sizes[i])).astype(np.float32))
        prev = h
    net.output("y", prev)
    return net.build()


def cnn() -> Graph:
    from aedc.frontend.load import load_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_model(ROOT / "tests/data/nir_paper/02_cnn/cnn_sinabs.nir", profile="sinabs")


def run(name: str, graph: Graph, T: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    state = PassManager(PIPELINE).run(CompileState(graph=graph), PassContext())
    compile_s = time.perf_counter() - t0
    assert state.sources is not None
    manifest = state.sources.manifest
    rng = np.random.default_rng(0)
    inputs = {n: (rng.random((T, *manifest["populations"][n]["shape"])) < ACTIVITY).astype(np.float32)
              for n in manifest["inputs"]["populations"]}
    t0 = time.perf_counter()
    report = verify_qemu(state, inputs, jobs=2)
    verify_s = time.perf_counter() - t0
    rows = report.rows()
    fit = fit_cost(report.pes)
    worst = max(rows, key=lambda r: r["budget_fill"])
    out = {
        "network": name, "pes": len(rows), "ticks": report.steps, "activity": ACTIVITY,
        "bit_identical_pes": sum(r["ok"] for r in rows),
        "mismatches": [r["mismatch"] for r in rows if not r["ok"]],
        "dropped_packets": sum(r["dropped"] for r in rows),
        "worst_pe": worst["pe"], "worst_instructions": worst["instructions_worst"],
        "worst_cycles_est": worst["cycles_worst"], "budget_cycles": worst["budget_cycles"],
        "worst_budget_fill": worst["budget_fill"],
        "mean_instructions_per_pe_tick": float(np.mean([p.instructions.mean() for p in report.pes])),
        "qemu_ms_per_pe_tick": float(np.mean([r["qemu_ms_per_tick"] for r in rows])),
        "compile_s": compile_s, "verify_s": verify_s,
        "fit": dataclasses.asdict(fit),
        "per_pe": rows,
    }
    print(f"{name}: {out['bit_identical_pes']}/{out['pes']} PEs bit-identical over {T} ticks "
          f"({out['dropped_packets']} packets dropped); worst PE {worst['pe']}: "
          f"{worst['instructions_worst']:,} instructions ≈ {worst['cycles_worst']:,.0f} cycles = "
          f"{100 * worst['budget_fill']:.1f}% of 1 ms at 150 MHz; QEMU {out['qemu_ms_per_pe_tick']:.2f} ms "
          f"per PE-tick; fit a={fit.per_neuron:.1f}/neuron b={fit.per_packet_in:.1f}/packet in "
          f"c={fit.per_packet_out:.1f}/packet out d={fit.per_tick:.0f}, median error "
          f"{100 * fit.median_rel_error:.1f}%; "
          f"compile {compile_s:.0f} s, verify {verify_s:.0f} s", flush=True)
    return out


def main() -> None:
    quick = "--quick" in sys.argv
    cases = [("mlp", mlp, 10 if quick else 20)] + ([] if quick else [("cnn_sinabs", cnn, 20)])
    results = [run(name, make(), T) for name, make, T in cases]
    doc = {"machine": platform.machine(), "python": platform.python_version(),
           "cycles_per_instruction": CYCLES_PER_INSTRUCTION, "results": results}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / ("qemu.quick.json" if quick else "qemu.json")).write_text(
        json.dumps(doc, indent=1, sort_keys=True, default=float) + "\n")


if __name__ == "__main__":
    main()
