"""The ``fuse-affine`` pass: remove pass-through linear populations (NIR Affine, Linear, Conv, Pool,
Scale, Delay, Flatten) by composing the projections around them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from aedc.ir.graph import Graph, Population
from aedc.ir.neurons import LinearModel
from aedc.passes.fusion_pass import FusionPass


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
