"""Routing: router entries before/after ORTC compression, compression and verification time.

Cases (results in benchmarks/results/routing.json + routing.png):

* ``cnn_sinabs`` and ``mlp`` (784-512-512-10): the partition benchmark's networks, sliced and placed by
  aedc itself (``slice`` defaults, greedy placement on one chip), packed keys.
* ``recurrent10k``-shaped: 100 inputs → 10,000 LIF in 32-neuron slices (the synapse memory of 10 M
  synapses needs ~300 PEs) with all-to-all recurrent slice traffic (10 % random connectivity reaches
  every slice), graph-order placement on an 8 × 6 board (3 chips used).
* ``layered1m``-shaped: 100,000 inputs + 10 layers of 100,000 neurons in 256-neuron slices, each slice
  feeding the 2 post slices under its local receptive field; graph-order placement on an 8 × 6 board.
* every multi-chip case also with the key space deliberately fragmented (``keys=fragmented``: blocks
  shuffled, random gaps), and ``scattered48``: the recurrent case with its slices scattered at random
  over all 48 chips, fragmented keys — the hard case for compression; also with load-balanced trees
  (``peak_link_load``: the busiest chip link's expected packets per tick).
* ``table100k``: single tables of 100,000 entries (256-key blocks) in random order — ``runs``: 64 routes
  in population-sized runs (compressible); ``random``: each entry one of 4,096 random routes.

``distinct_routes`` (Σ over chips of the distinct routes in a table) is a lower bound on the entries of
any compressed table that routes every used key correctly. Each case is verified (every key of every
block, before and after compression). Targets: ≥ 4× compression where the structure allows it, every
table ≤ 16,384 entries, a 10^5-entry table compressed in < 10 s.
Run: ``.venv/bin/python benchmarks/bench_routing.py``.
"""

from __future__ import annotations

import json
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aedc.machine import Machine  # noqa: E402
from aedc.partition.model import Placement, Slice, SliceEdge, Slicing  # noqa: E402
from aedc.routing.compress import compress_tables  # noqa: E402
from aedc.routing.compress_ortc import compress  # noqa: E402
from aedc.routing.keys import allocate_keys  # noqa: E402
from aedc.routing.plot import plot_routing  # noqa: E402
from aedc.routing.synthetic import placement_of  # noqa: E402
from aedc.routing.tables import build_tables, raw_tables  # noqa: E402
from aedc.routing.trees import build_routes  # noqa: E402
from aedc.routing.verify import equivalent, verify_tables  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
BOARD = Machine.spinnaker2((8, 6))


def compiled(name: str) -> Placement:
    """Slice and greedily place a partition-benchmark network (the same graphs) with aedc's passes."""
    from bench_partition import cnn, mlp

    from aedc.passes import CompileState, PassContext, parse_pipeline

    graph = cnn() if name == "cnn_sinabs" else mlp()
    pipeline = "verify,fold-scale,fuse-affine,dce,slice,place{solver=greedy}"
    state = parse_pipeline(pipeline).run(CompileState(graph=graph), PassContext())
    assert isinstance(state.placement, Placement)
    return state.placement


def synthetic(machine: Machine, pops: list[tuple[str, int, int]],
              edges: list[tuple[str, str, str]], *, scatter: bool = False, seed: int = 0) -> Placement:
    """Populations ``(name, neurons, slice size)``; edges ``(pre, post, kind)`` with kind ``all`` (every
    pre slice → every post slice) or ``local`` (pre slice → the 2 post slices under its receptive field);
    graph-order placement (slice i on PE i), or random PEs with ``scatter``."""
    slices: list[Slice] = []
    ids: dict[str, list[int]] = {}
    for name, n, size in pops:
        ids[name] = []
        for lo in range(0, n, size):
            ids[name].append(len(slices))
            slices.append(Slice(population=name, lo=lo, hi=min(n, lo + size)))
    out = []
    for pre, post, kind in edges:
        a, b = ids[pre], ids[post]
        for k, s in enumerate(a):
            targets = b if kind == "all" else [b[min(k * len(b) // len(a) + j, len(b) - 1)] for j in (0, 1)]
            for d in dict.fromkeys(targets):
                out.append(SliceEdge(src=s, dst=d, projection=f"{pre}->{post}", synapses=1,
                                     packets_per_tick=0.05 * slices[s].size))
    slicing = Slicing(slices=tuple(slices), edges=tuple(out))
    assignment = (random.Random(seed).sample(range(machine.total_pes), len(slices)) if scatter
                  else list(range(len(slices))))
    return placement_of(machine, slicing, assignment)


def route_case(name: str, placement: Placement, keys: str = "packed", balance: bool = False
               ) -> dict[str, Any]:
    t0 = time.perf_counter()
    blocks = allocate_keys(placement.slicing, strategy=keys, seed=0, placement=placement)
    routes = build_routes(placement, blocks, balance=balance)
    tables = build_tables(placement.machine, routes)
    t1 = time.perf_counter()
    verify_tables(tables)
    t2 = time.perf_counter()
    small = compress_tables(tables)
    t3 = time.perf_counter()
    verify_tables(small)
    t4 = time.perf_counter()
    png = plot_routing(small, RESULTS / f"routing.{name}.{keys}{'.balanced' if balance else ''}.png")
    before, after = tables.entries, small.entries
    distinct = sum(len({r for _, _, r in raw}) for raw in raw_tables(placement.machine, routes).values())
    trees = "balanced" if balance else "compact"
    row = {"case": name, "keys": keys, "trees": trees, "chips": len(placement.machine.chips),
           "chips_with_tables": len(small.tables), "slices": len(placement.slices),
           "key_blocks": len(blocks), "routes": len(routes.sources),
           "entries_before": before, "entries_after": after, "ratio": round(before / max(after, 1), 2),
           "largest_before": max(len(t.entries) for t in tables.tables),
           "largest_after": max(len(t.entries) for t in small.tables),
           "distinct_routes": distinct,
           "fits": all(len(t.entries) <= placement.machine.router_entries for t in small.tables),
           "peak_link_load": round(max(routes.link_loads().values(), default=0.0), 2),
           "max_chip_hops": max((h.chip_hops for s in routes.sources for h in s.hops), default=0),
           "build_s": round(t1 - t0, 3), "verify_before_s": round(t2 - t1, 3),
           "compress_s": round(t3 - t2, 3), "verify_after_s": round(t4 - t3, 3),
           "plot": png.name}
    print(f"{name:14s} {keys:10s} {trees:8s} {before:>8,} → {after:>7,} entries ({row['ratio']:5.1f}×), "
          "largest "
          f"{row['largest_before']:,} → {row['largest_after']:,}; compress {row['compress_s']:.2f} s, "
          f"verify {row['verify_before_s']:.2f}+{row['verify_after_s']:.2f} s")
    return row


def table100k(kind: str) -> dict[str, Any]:
    rng = random.Random(1)
    n = 100_000
    if kind == "runs":
        routes = [rng.randrange(1, 1 << 100) for _ in range(64)]
        table = [(i << 8, 0xFFFFFF00, routes[(i // 97) % 64]) for i in range(n)]  # runs of 97 blocks
    else:
        routes = [rng.randrange(1, 1 << 100) for _ in range(4096)]
        table = [(i << 8, 0xFFFFFF00, rng.choice(routes)) for i in range(n)]
    rng.shuffle(table)
    t0 = time.perf_counter()
    out = compress(table)
    secs = time.perf_counter() - t0
    assert equivalent(table, out)
    print(f"table100k/{kind:6s} {n:,} → {len(out):,} entries ({n / len(out):.1f}×) in {secs:.2f} s")
    return {"case": f"table100k_{kind}", "entries_before": n, "entries_after": len(out),
            "ratio": round(n / len(out), 2), "compress_s": round(secs, 3), "exact_equivalence": True}


def plot(rows: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4.5))
    labels = [f"{r['case']}\n{r.get('keys', '')}\n{r.get('trees', '')}" for r in rows]
    xs = np.arange(len(rows))
    ax.bar(xs - 0.2, [r["entries_before"] for r in rows], 0.4, label="before")
    ax.bar(xs + 0.2, [r["entries_after"] for r in rows], 0.4, label="after ORTC")
    for x, r in zip(xs, rows, strict=True):
        ax.text(x, r["entries_before"] * 1.1, f"{r['ratio']}×\n{r['compress_s']:.2f} s", ha="center",
                fontsize=7)
    ax.set_yscale("log")
    ax.set_xticks(xs, labels, fontsize=7)
    ax.set_ylabel("router entries (all chips)")
    ax.set_title("router entries before/after compression (label: ratio, compression time)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "routing.png", dpi=110)
    plt.close(fig)


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = [route_case("cnn_sinabs", compiled("cnn_sinabs")), route_case("mlp", compiled("mlp"))]
    rec_pops = [("in", 100, 100), ("rec", 10_000, 32)]
    rec_edges = [("in", "rec", "all"), ("rec", "rec", "all")]
    rec = synthetic(BOARD, rec_pops, rec_edges)
    rows.append(route_case("recurrent10k", rec))
    rows.append(route_case("recurrent10k", rec, keys="fragmented"))
    layers = [("in", 100_000, 256)] + [(f"l{i}", 100_000, 256) for i in range(10)]
    chain = [(layers[i][0], layers[i + 1][0], "local") for i in range(10)]
    big = synthetic(BOARD, layers, chain)
    rows.append(route_case("layered1m", big))
    rows.append(route_case("layered1m", big, keys="fragmented"))
    scattered = synthetic(BOARD, rec_pops, rec_edges, scatter=True, seed=3)
    rows.append(route_case("scattered48", scattered))
    rows.append(route_case("scattered48", scattered, balance=True))
    rows.append(route_case("scattered48", scattered, keys="fragmented"))
    rows += [table100k("runs"), table100k("random")]
    doc = {"benchmark": "routing", "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
           "cpu_note": "2-core CPU container unless noted", "python": platform.python_version(),
           "router_entries": BOARD.router_entries, "results": rows}
    (RESULTS / "routing.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    plot(rows)
    print(f"wrote {RESULTS / 'routing.json'} and routing.png")


if __name__ == "__main__":
    main()
