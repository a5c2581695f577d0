"""The passes that remove pass-through populations: ``fold-scale`` and ``fuse-affine``.

Both share :class:`FusionPass` — which populations are a pass's own is all that differs; the fusion
itself (:func:`aedc.passes.passthrough.fuse_all`) and its diagnostics are common.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from aedc.errors import PipelineError
from aedc.ir.connectivity import OneToOne
from aedc.ir.graph import Graph, Population
from aedc.ir.neurons import LinearModel
from aedc.passes.base import Pass
from aedc.passes.context import PassContext
from aedc.passes.passthrough import fuse_all
from aedc.passes.state import CompileState


@dataclass(frozen=True)
class FusionPass(Pass):
    """Fuse away every population :meth:`select` picks (see :func:`aedc.passes.passthrough.fuse_all`)."""

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


def is_scale(graph: Graph, pop: Population) -> bool:
    """A linear population with zero bias fed only by one-to-one projections: what NIR Scale becomes."""
    if not isinstance(pop.neuron, LinearModel) or pop.event_rule != "graded":
        return False
    incoming = graph.incoming(pop.name)
    return (bool(incoming) and all(isinstance(p.conn, OneToOne) for p in incoming)
            and not np.any(np.asarray(pop.neuron.bias) != 0))


@dataclass(frozen=True)
class FoldScale(FusionPass):
    """Remove elementwise-scaling pass-through populations by folding the scale into the next weights.

    A candidate is a linear (pass-through) population that is not an output, has zero bias and receives
    only one-to-one projections. Each incoming ``pre -(s)-> L`` and outgoing ``L -B-> post`` become
    ``pre -(B·diag(s))-> post``: dense columns / sparse weights / one-to-one weights are scaled, a
    conv's kernels are scaled per input channel when the scale is constant per channel, anything else
    is expanded to synapses if ``|pre|·|post| <= max-dense``. A candidate that cannot be folded is kept
    and a diagnostic says why.
    """

    name: ClassVar[str] = "fold-scale"
    done: ClassVar[str] = "folded"
    what: ClassVar[str] = "scaling population"

    @staticmethod
    def select(graph: Graph, pop: Population) -> bool:
        return is_scale(graph, pop)


def _is_linear(graph: Graph, pop: Population) -> bool:
    return isinstance(pop.neuron, LinearModel)


@dataclass(frozen=True)
class FuseAffine(FusionPass):
    """Remove pass-through linear populations between others by composing their projections.

    For a linear, graded, non-output population ``L`` with incoming ``A_i: pre_i -> L`` and outgoing
    ``B_j: L -> post_j``, every pair becomes ``pre_i -(B_j∘A_i)-> post_j`` with ``delay = A.delay +
    B.delay`` and ``back_edge = A.back_edge or B.back_edge``; ``B_j`` applied to ``L``'s bias is added
    to ``post_j``'s bias — only when every ``B_j`` has latency 0, otherwise ``L`` is kept. Composition
    rules (aedc.passes.compose): identity, one-to-one scaling, dense·dense matrix product,
    pool2d(kernel = stride) then conv2d as one strided conv2d, else explicit synapse lists when
    ``|pre|·|post| <= max-dense`` (dense result if over half connected). Weights are composed in float64
    and rounded to float32 once. Every population that is kept gets a diagnostic saying why.
    """

    name: ClassVar[str] = "fuse-affine"
    done: ClassVar[str] = "fused"
    what: ClassVar[str] = "linear population"

    @staticmethod
    def select(graph: Graph, pop: Population) -> bool:
        return _is_linear(graph, pop)
