"""The ``fold-scale`` pass: fold pass-through scaling populations (NIR ``Scale``) into the projections
after them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from aedc.errors import PipelineError
from aedc.ir.connectivity import OneToOne
from aedc.ir.graph import Graph, Population
from aedc.ir.neurons import LinearModel
from aedc.passes.base import Pass
from aedc.passes.context import PassContext
from aedc.passes.fuse import fuse_all
from aedc.passes.state import CompileState


def is_scale(graph: Graph, pop: Population) -> bool:
    """A linear population with zero bias fed only by one-to-one projections: what NIR Scale becomes."""
    if not isinstance(pop.neuron, LinearModel) or pop.event_rule != "graded":
        return False
    incoming = graph.incoming(pop.name)
    return (bool(incoming) and all(isinstance(p.conn, OneToOne) for p in incoming)
            and not np.any(np.asarray(pop.neuron.bias) != 0))


@dataclass(frozen=True)
class FoldScale(Pass):
    """Remove elementwise-scaling pass-through populations by folding the scale into the next weights.

    A candidate is a linear (pass-through) population that is not an output, has zero bias and receives
    only one-to-one projections. Each incoming ``pre -(s)-> L`` and outgoing ``L -B-> post`` become
    ``pre -(B·diag(s))-> post``: dense columns / sparse weights / one-to-one weights are scaled, a
    conv's kernels are scaled per input channel when the scale is constant per channel, anything else
    is expanded to synapses if ``|pre|·|post| <= max-dense``. A candidate that cannot be folded is kept
    and a diagnostic says why.
    """

    name: ClassVar[str] = "fold-scale"
    requires: ClassVar[frozenset[str]] = frozenset({"graph"})
    produces: ClassVar[frozenset[str]] = frozenset()

    max_dense: int = 4_000_000

    def __post_init__(self) -> None:
        if self.max_dense < 0:
            raise PipelineError(f"fold-scale: max-dense must be >= 0 (got {self.max_dense})",
                                where=self.name)

    def apply(self, ctx: PassContext, state: CompileState) -> CompileState:
        graph, kept = fuse_all(state.graph, is_scale, max_dense=self.max_dense)
        removed = [p.name for p in state.graph.populations if p.name not in graph.pop_map()]
        if removed:
            ctx.report(self.name, f"folded {len(removed)} scaling population(s): {', '.join(removed)}")
        for pop, reason in kept.items():
            ctx.report(self.name, f"kept '{pop}': {reason}", where=pop)
        return replace(state, graph=graph)
