"""The ``fold-scale`` pass: fold pass-through scaling populations (NIR ``Scale``) into the projections
after them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from aedc.ir.connectivity import OneToOne
from aedc.ir.graph import Graph, Population
from aedc.ir.neurons import LinearModel
from aedc.passes.fusion_pass import FusionPass


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
