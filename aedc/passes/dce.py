"""The ``dce`` pass: dead-code elimination — drop populations whose events can never reach an output."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from aedc.ir.graph import Graph
from aedc.passes.base import Pass
from aedc.passes.context import PassContext
from aedc.passes.state import CompileState


def live_populations(graph: Graph) -> set[str]:
    """Populations from which some output population is reachable (outputs included), plus all inputs."""
    preds: dict[str, list[str]] = {p.name: [] for p in graph.populations}
    for proj in graph.projections:
        preds.setdefault(proj.post, []).append(proj.pre)
    live: set[str] = set()
    stack = [name for name in graph.outputs.values() if name in preds]
    while stack:
        name = stack.pop()
        if name in live:
            continue
        live.add(name)
        stack.extend(preds.get(name, ()))
    return live | set(graph.inputs)


@dataclass(frozen=True)
class DeadCodeElimination(Pass):
    """Remove populations (and their projections) from which no output population is reachable.

    Inputs are always kept (a user feeds them). A graph without outputs is left unchanged, with a
    warning. A diagnostic lists what was removed.
    """

    name: ClassVar[str] = "dce"
    requires: ClassVar[frozenset[str]] = frozenset({"graph"})
    produces: ClassVar[frozenset[str]] = frozenset()

    def apply(self, ctx: PassContext, state: CompileState) -> CompileState:
        graph = state.graph
        if not graph.outputs:
            ctx.report(self.name, "the graph has no outputs; nothing removed", severity="warning")
            return state
        live = live_populations(graph)
        dead = [p.name for p in graph.populations if p.name not in live]
        projections = tuple(p for p in graph.projections if p.pre in live and p.post in live)
        dropped = [p.name for p in graph.projections if p.pre not in live or p.post not in live]
        if not dead and not dropped:
            return state
        ctx.report(self.name, f"removed {len(dead)} population(s) that reach no output"
                   + (f": {', '.join(dead)}" if dead else "")
                   + f"; {len(dropped)} projection(s)" + (f": {', '.join(dropped)}" if dropped else ""))
        new = graph.evolve(populations=tuple(p for p in graph.populations if p.name in live),
                           projections=projections)
        return replace(state, graph=new)
