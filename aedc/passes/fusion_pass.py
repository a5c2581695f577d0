"""The shared shape of the passes that remove selected pass-through populations (``fold-scale``,
``fuse-affine``): which populations is theirs to say, the fusion and its diagnostics are common."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, replace
from typing import ClassVar

from aedc.errors import PipelineError
from aedc.ir.graph import Graph, Population
from aedc.passes.base import Pass
from aedc.passes.context import PassContext
from aedc.passes.fuse import fuse_all
from aedc.passes.state import CompileState


@dataclass(frozen=True)
class FusionPass(Pass):
    """Fuse away every population :meth:`select` picks (see :func:`aedc.passes.fuse.fuse_all`)."""

    requires: ClassVar[frozenset[str]] = frozenset({"graph"})
    produces: ClassVar[frozenset[str]] = frozenset()
    done: ClassVar[str]  # the diagnostic's verb, "fused <n> <what>(s): ..."
    what: ClassVar[str] = "population"

    max_dense: int = 4_000_000

    def __post_init__(self) -> None:
        if self.max_dense < 0:
            raise PipelineError(f"{self.name}: max-dense must be >= 0 (got {self.max_dense})",
                                where=self.name)

    @staticmethod
    @abstractmethod
    def select(graph: Graph, pop: Population) -> bool:
        """Whether ``pop`` is a candidate of this pass."""

    def apply(self, ctx: PassContext, state: CompileState) -> CompileState:
        graph, kept = fuse_all(state.graph, self.select, max_dense=self.max_dense)
        removed = [p.name for p in state.graph.populations if p.name not in graph.pop_map()]
        if removed:
            ctx.report(self.name, f"{self.done} {len(removed)} {self.what}(s): {', '.join(removed)}")
        for pop, reason in kept.items():
            ctx.report(self.name, f"kept '{pop}': {reason}", where=pop)
        return replace(state, graph=graph)
