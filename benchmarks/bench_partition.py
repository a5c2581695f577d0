"""Partition + placement: compile time, PEs used against the packing lower bound, CP-SAT vs greedy.

Networks (LIF unless noted, binary spikes, activity 5 % per tick for the event budget and traffic):

* ``cnn_sinabs``: the NIR paper's CNN (tests/data/nir_paper/02_cnn/cnn_sinabs.nir, profile sinabs,
  default passes), one chip.
* ``mlp``: 784-512-512-10, float32 N(0,1) weights (dense float32 blocks), one chip.
* ``recurrent10k``: 100 inputs → 10,000 LIF, plus a recurrent projection with 10 % random connectivity
  (10 M synapses, 16 weight levels, back-edge), on a 48-chip board (8 × 6 chips).
* ``dvs_cnn``: a DVS-sized CNN built in Python: 2 × 128 × 128 binary input, four 3 × 3 convolutions
  with 64 channels (stride 2, 1, 2, 2; padding 1) to 64 × 16 × 16, a dense readout to 10 (LIF, N(0, ·)
  float32 weights): 639 k neurons, 199 M synapses, on the 48-chip board. With expanded rows its synapse
  words alone exceed the board (``rows_words_lower_bound_pes``); with kernels it fits.
* ``layered1m``: 100,000 inputs, then 10 layers of 100,000 LIF neurons (1 M neurons), each fed by a
  local 1-d receptive field of 101 neurons of the layer before (conv1d, 'same' padding, 16 weight levels):
  ≈ 101 M synapses, on a 48-chip board.

Per network: slicing time, placement time (CP-SAT with ``TIME_LIMIT`` deterministic seconds, 1 worker,
seed 0; greedy baseline), PEs used, the packing lower bound ⌈Σ slice bytes / (PE budget − per-PE fixed)⌉
(the bytes of the slices actually produced: no placer can use fewer PEs), the "unsplit" bytes
(Σ population bytes if each population were one slice: what the slicing itself adds is their difference),
objective of CP-SAT vs greedy, and a naive split with a fixed 250 neurons per PE (py-spinnaker2's default
of about 250 atoms per core, rows format as it uses): PEs it would use and how many of them overflow
the 67,328 B budget under our memory model. ``by_format``: per synapse format forced where it is offered
(``rows`` everywhere; ``dense`` for dense kinds, ``kernel`` for conv2d/pool2d, rows elsewhere) and the
default ``auto`` (fewest bytes per projection): slices, greedy PEs and the synapse bytes of all slices,
or the error when it does not fit the machine.

Writes benchmarks/results/partition.json + partition.png. Run: ``.venv/bin/python
benchmarks/bench_partition.py [--quick] [--networks=a,b]`` (``--quick`` skips the DVS CNN and the 1 M
network; ``--networks`` reruns only those and replaces their rows in the existing results).
"""

from __future__ import annotations

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

from aedc.errors import PlacementError  # noqa: E402
from aedc.frontend.builder import Network  # noqa: E402
from aedc.ir import Conv1d, Graph, Population, Projection  # noqa: E402
from aedc.ir.neurons import InputModel, LIFModel  # noqa: E402
from aedc.machine import SPINNAKER2, Machine  # noqa: E402
from aedc.partition.memory import (  # noqa: E402
    FIXED_PE_BYTES,
    LUT_ENTRIES,
    WORD_BYTES_NARROW,
    WORD_BYTES_WIDE,
)
from aedc.partition.model import Placement, Slicing  # noqa: E402
from aedc.partition.place import PlacementProblem, budget_violations, place  # noqa: E402
from aedc.partition.slicing import SliceOptions, _Slicer, slice_graph  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
TIME_LIMIT = {"cnn_sinabs": 5.0, "mlp": 5.0, "recurrent10k": 10.0, "dvs_cnn": 10.0, "layered1m": 10.0}
BOARD = Machine.spinnaker2((8, 6))
NAIVE_ATOMS = 250


def cnn() -> Graph:
    from aedc.frontend.load import load_model
    from aedc.passes import DEFAULT_PIPELINE, CompileState, PassContext, parse_pipeline

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = load_model(ROOT / "tests/data/nir_paper/02_cnn/cnn_sinabs.nir", profile="sinabs")
    front = DEFAULT_PIPELINE.split(",slice")[0]
    return parse_pipeline(front).run(CompileState(graph=g), PassContext()).graph


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


def levels(rng: np.random.Generator, n: int) -> np.ndarray:
    """Weights on 16 levels k/8, k in -8..7 without 0 (a 4-bit weight index)."""
    k = rng.integers(-8, 7, size=n)
    k[k >= 0] += 1
    return (k / 8).astype(np.float32)


def recurrent() -> Graph:
    rng = np.random.default_rng(1)
    n, n_in, p = 10_000, 100, 0.1
    net = Network("recurrent10k")
    x = net.input("x", n_in)
    r = net.population("r", n, "lif", tau=20e-3)
    net.dense(x, r, levels(rng, n * n_in).reshape(n, n_in))
    # 10 % random connectivity, drawn per presynaptic neuron (sorted by (pre, post), no duplicates)
    per = rng.binomial(n, p, size=n)
    pre = np.repeat(np.arange(n), per)
    post = np.concatenate([np.sort(rng.choice(n, size=k, replace=False)) for k in per])
    net.sparse(r, r, pre, post, levels(rng, pre.size), back_edge=True)
    net.output("y", r)
    return net.build()


def layered(layers: int = 10, width: int = 100_000, k: int = 101) -> Graph:
    """Built without the builder's verifier pass over synapse lists (conv1d stays structural)."""
    rng = np.random.default_rng(2)
    zeros = np.zeros(width, np.float32)
    lif = LIFModel(tau=zeros + 20e-3, r=zeros + 1, v_leak=zeros, v_threshold=zeros + 1, v_reset=zeros,
                   bias=zeros)
    pops = [Population(name="x", shape=(1, width), neuron=InputModel())]
    projs = []
    for i in range(layers):
        pops.append(Population(name=f"l{i}", shape=(1, width), neuron=lif))
        w = levels(rng, k).reshape(1, 1, k)
        conn = Conv1d(weight=w, in_shape=(1, width), padding=((k // 2, k // 2),), padding_spec="same")
        projs.append(Projection(name=f"{pops[-2].name}->{pops[-1].name}", pre=pops[-2].name,
                                post=pops[-1].name, conn=conn))
    return Graph(name="layered1m", populations=tuple(pops), projections=tuple(projs),
                 outputs={"y": pops[-1].name})


def dvs_cnn() -> Graph:
    rng = np.random.default_rng(3)
    net = Network("dvs_cnn")
    prev = net.input("x", (2, 128, 128))
    for i, (c, h, w, c_in, stride) in enumerate([(64, 64, 64, 2, 2), (64, 64, 64, 64, 1),
                                                  (64, 32, 32, 64, 2), (64, 16, 16, 64, 2)]):
        layer = net.population(f"c{i + 1}", (c, h, w), "lif", tau=20e-3)
        net.conv2d(prev, layer, rng.normal(0, 0.3, (c, c_in, 3, 3)).astype(np.float32), stride=stride,
                   padding=1)
        prev = layer
    out = net.population("o", 10, "lif", tau=20e-3)
    net.dense(prev, out, rng.normal(0, 0.1, (10, 64 * 16 * 16)).astype(np.float32))
    net.output("y", out)
    return net.build(check=False)


def rows_words_lower_bound(graph: Graph, machine: Machine) -> int:
    """PEs that the rows format's synapse words alone need (2 B a word with ≤ 16 distinct weights, else
    4 B; headers, state and every other term left out): no slicing can use fewer."""
    sl = _Slicer(graph, machine, SliceOptions(formats="rows"))
    words = sum(sl.stats[p.name].range(0, sl.stats[p.name].n_post).synapses
                * (WORD_BYTES_NARROW if sl.stats[p.name].weights.size <= LUT_ENTRIES else WORD_BYTES_WIDE)
                for p in graph.projections)
    return -(-int(words) // (machine.dynamic_region_bytes - FIXED_PE_BYTES))


def synapses(graph: Graph, sl: _Slicer) -> int:
    return sum(sl.stats[p.name].range(0, sl.stats[p.name].n_post).synapses for p in graph.projections)


def naive(graph: Graph, machine: Machine) -> dict[str, int]:
    """py-spinnaker2-style: every population cut into fixed 250-neuron chunks, one chunk per PE, rows."""
    sl = _Slicer(graph, machine, SliceOptions(formats="rows", fanin_split=False))
    sl.bounds = {p.name: np.append(np.arange(0, p.size, NAIVE_ATOMS), p.size) for p in graph.populations}
    used = over = 0
    for pop in graph.populations:
        b = sl.bounds[pop.name]
        for lo, hi in zip(b[:-1].tolist(), b[1:].tolist(), strict=True):
            used += 1
            c = sl.neuron_cost(pop, lo, hi)
            if c.memory.total + FIXED_PE_BYTES > machine.dynamic_region_bytes:
                over += 1
    return {"pes": used, "overflowing_pes": over}


def unsplit_bytes(graph: Graph, machine: Machine) -> int:
    """Σ over populations of the bytes of one slice holding the whole population (no split overhead)."""
    sl = _Slicer(graph, machine, SliceOptions())
    sl.bounds = {p.name: np.array([0, p.size]) for p in graph.populations}
    return sum(sl.neuron_cost(p, 0, p.size).memory.total for p in graph.populations)


FORMATS = ("rows", "dense", "kernel", "auto")
SYNAPSE_TERMS = ("synapse_rows", "dense_blocks", "synapse_kernels", "weight_tables")


def format_row(slicing: Slicing, greedy: Placement) -> dict[str, Any]:
    return {"fits": True, "slices": len(slicing.slices), "pes_greedy": len(greedy.pes),
            "synapse_bytes": int(sum(getattr(s.memory, t) for s in slicing.slices for t in SYNAPSE_TERMS)),
            "formats": sorted({f"{f.format}/{f.weight_type}" for f in slicing.formats})}


def by_format(graph: Graph, machine: Machine, auto: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Slices, greedy PEs and synapse bytes with each synapse format (see the module docstring); a
    forced format that offers nothing over rows (no projection of its kinds) repeats the rows entry."""
    out: dict[str, dict[str, Any]] = {"auto": auto}
    kinds = {p.conn.kind for p in graph.projections}
    offered = {"rows": True, "dense": "dense" in kinds, "kernel": bool(kinds & {"conv2d", "pool2d"})}
    for fmt in ("rows", "dense", "kernel"):
        if not offered[fmt]:
            out[fmt] = {**out["rows"], "same_as": "rows"}
            continue
        try:
            slicing = slice_graph(graph, machine, SliceOptions(formats=fmt))
            greedy = place(PlacementProblem(slicing), machine, solver="greedy")
        except PlacementError as e:
            out[fmt] = {"fits": False, "error": str(e).split(":")[0]}
            if fmt == "rows":
                out[fmt]["rows_words_lower_bound_pes"] = rows_words_lower_bound(graph, machine)
            continue
        out[fmt] = format_row(slicing, greedy)
    return {f: out[f] for f in FORMATS}


def run(name: str, build: Any, machine: Machine) -> dict[str, Any]:
    t0 = time.perf_counter()
    graph = build()
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    slicing = slice_graph(graph, machine)
    t_slice = time.perf_counter() - t0
    problem = PlacementProblem(slicing)
    t0 = time.perf_counter()
    greedy = place(problem, machine, solver="greedy")
    t_greedy = time.perf_counter() - t0
    t0 = time.perf_counter()
    cp = place(problem, machine, solver="cpsat", seed=0, time_limit_s=TIME_LIMIT[name], workers=1)
    t_cpsat = time.perf_counter() - t0
    assert not budget_violations(cp)
    budget = machine.dynamic_region_bytes - FIXED_PE_BYTES
    total = int(sum(s.memory.total for s in slicing.slices))
    lower = -(-total // budget)
    sl = _Slicer(graph, machine, SliceOptions())
    row = {
        "network": name, "machine": f"{machine.chips_x}x{machine.chips_y} chips, {machine.total_pes} PEs",
        "neurons": sum(p.size for p in graph.populations if not p.is_input),
        "synapses": synapses(graph, sl),
        "slices": len(slicing.slices), "synapse_slices": sum(s.role == "synapse" for s in slicing.slices),
        "slice_edges": len(slicing.edges),
        "total_slice_bytes": total, "unsplit_bytes": unsplit_bytes(graph, machine),
        "lower_bound_pes": lower, "pes_cpsat": len(cp.pes), "pes_greedy": len(greedy.pes),
        "pes_over_lower_bound": round(len(cp.pes) / lower, 4),
        "chips_used": len({u.pe.chip for u in cp.pes}),
        "objective_greedy": greedy.objective, "objective_cpsat": cp.objective,
        "objective_reduction": round(1 - cp.objective / max(greedy.objective, 1), 4),
        "cpsat_solver": cp.solver, "cpsat_status": cp.status, "cpsat_bound": cp.bound,
        "cpsat_gap": round(cp.gap, 4), "time_limit_det_s": TIME_LIMIT[name],
        "build_s": round(t_build, 2), "slice_s": round(t_slice, 2), "greedy_s": round(t_greedy, 2),
        "cpsat_s": round(t_cpsat, 2), "partition_and_place_s": round(t_slice + t_cpsat, 2),
        "mean_fill": round(float(np.mean([u.memory.total for u in cp.pes]))
                           / machine.dynamic_region_bytes, 4),
        "naive_250": naive(graph, machine),
        "by_format": by_format(graph, machine, format_row(slicing, greedy)),
    }
    print(json.dumps(row))
    return row


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["network"] for r in rows]
    x = np.arange(len(rows))
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    w = 0.2
    a.bar(x - 1.5 * w, [r["lower_bound_pes"] for r in rows], w, label="lower bound ⌈bytes/budget⌉")
    a.bar(x - 0.5 * w, [r["pes_cpsat"] for r in rows], w, label="aedc (CP-SAT)")
    a.bar(x + 0.5 * w, [r["naive_250"]["pes"] for r in rows], w, label="naive 250/PE: PEs")
    a.bar(x + 1.5 * w, [r["naive_250"]["overflowing_pes"] for r in rows], w,
          label="naive 250/PE: overflowing")
    a.set_yscale("log")
    a.set_xticks(x, names)
    a.set_ylabel("PEs")
    a.legend(fontsize=7)
    a.set_title("PEs used")
    b.bar(x - w / 2, [r["objective_greedy"] for r in rows], w, label="greedy (graph order)")
    b.bar(x + w / 2, [r["objective_cpsat"] for r in rows], w, label="CP-SAT")
    b.set_yscale("log")
    b.set_xticks(x, names)
    b.set_ylabel("milli-packets/tick × hop cost")
    b.legend(fontsize=7)
    b.set_title("NoC objective")
    for i, r in enumerate(rows):
        b.text(i, r["objective_cpsat"], f"-{100 * r['objective_reduction']:.0f}%", ha="center",
               va="bottom", fontsize=7)
        a.text(i, r["pes_cpsat"], f"{r['pes_over_lower_bound']:.2f}×", ha="center", va="bottom", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    quick = "--quick" in sys.argv
    cases = [("cnn_sinabs", cnn, SPINNAKER2), ("mlp", mlp, SPINNAKER2), ("recurrent10k", recurrent, BOARD)]
    if not quick:
        cases += [("dvs_cnn", dvs_cnn, BOARD), ("layered1m", layered, BOARD)]
    only = next((a.split("=", 1)[1].split(",") for a in sys.argv if a.startswith("--networks=")), None)
    if only is not None:
        cases = [c for c in cases if c[0] in only]
    rows = [run(name, build, machine) for name, build, machine in cases]
    if only is not None and (RESULTS / "partition.json").exists():
        old = json.loads((RESULTS / "partition.json").read_text())
        new = {r["network"]: r for r in rows}
        rows = [new.pop(r["network"], r) for r in old["results"]] + list(new.values())
        quick = old["quick"] and quick
    RESULTS.mkdir(parents=True, exist_ok=True)
    doc = {"benchmark": "partition", "host": f"{platform.machine()}, {__import__('os').cpu_count()} CPUs",
           "python": platform.python_version(), "quick": quick, "results": rows}
    (RESULTS / "partition.json").write_text(json.dumps(doc, indent=1) + "\n")
    plot(rows, RESULTS / "partition.png")
    print(f"wrote {RESULTS / 'partition.json'} and partition.png")


if __name__ == "__main__":
    main()
