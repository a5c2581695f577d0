"""Plain-data summaries of a graph (what `aedc inspect` and build summaries show); no rendering here."""

from __future__ import annotations

from dataclasses import dataclass

from aedc.ir.graph import Graph


@dataclass(frozen=True)
class PopulationRow:
    name: str
    model: str
    shape: tuple[int, ...]
    size: int
    event_rule: str
    synapses_in: int
    synapses_out: int
    fan_in: float
    fan_out: float


@dataclass(frozen=True)
class ProjectionRow:
    name: str
    pre: str
    post: str
    kind: str
    synapses: int
    delay: int
    back_edge: bool


def population_rows(graph: Graph) -> tuple[PopulationRow, ...]:
    """One row per population: synapse counts in/out and mean fan-in/fan-out per neuron."""
    syn = {p.name: graph.synapses(p) for p in graph.projections}
    rows = []
    for pop in graph.populations:
        s_in = sum(syn[p.name] for p in graph.incoming(pop.name))
        s_out = sum(syn[p.name] for p in graph.outgoing(pop.name))
        rows.append(PopulationRow(pop.name, pop.neuron.model, pop.shape, pop.size, pop.event_rule,
                                  s_in, s_out, s_in / pop.size, s_out / pop.size))
    return tuple(rows)


def projection_rows(graph: Graph) -> tuple[ProjectionRow, ...]:
    return tuple(ProjectionRow(p.name, p.pre, p.post, p.conn.kind, graph.synapses(p), p.delay,
                               p.back_edge) for p in graph.projections)


def text_summary(graph: Graph) -> str:
    """A stable plain-text summary (written as ``summary.txt`` next to every build)."""
    s = graph.summary()
    sem = graph.semantics
    lines = [
        f"graph {graph.name!r}: {s['populations']} populations, {s['neurons']} neurons "
        f"(+{s['inputs']} inputs), {s['projections']} projections, {s['synapses']} synapses",
        f"semantics: profile={sem.profile} dt={sem.dt:g}s discretisation={sem.discretisation} "
        f"reset={sem.reset} threshold='{sem.threshold_cmp}' current_first={sem.current_first} "
        f"reset_next_tick={sem.reset_next_tick}",
        "outputs: " + (", ".join(f"{k} <- {v}" for k, v in graph.outputs.items()) or "(none)"),
        "",
        f"{'population':<24} {'model':<10} {'shape':<16} {'size':>8} {'events':<11} "
        f"{'syn in':>10} {'syn out':>10}",
    ]
    for r in population_rows(graph):
        lines.append(f"{r.name:<24} {r.model:<10} {'x'.join(map(str, r.shape)):<16} {r.size:>8} "
                     f"{r.event_rule:<11} {r.synapses_in:>10} {r.synapses_out:>10}")
    lines += ["", f"{'projection':<32} {'kind':<10} {'pre -> post':<36} {'synapses':>10} delay back"]
    for p in projection_rows(graph):
        lines.append(f"{p.name:<32} {p.kind:<10} {p.pre + ' -> ' + p.post:<36} {p.synapses:>10} "
                     f"{p.delay:>5} {'yes' if p.back_edge else 'no'}")
    return "\n".join(lines) + "\n"
