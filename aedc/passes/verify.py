"""The ``verify`` pass: check every IR invariant (shapes, edges, parameters, cycles) without changing
anything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from aedc.ir.verify import verify
from aedc.passes.base import Pass
from aedc.passes.context import PassContext
from aedc.passes.state import CompileState


@dataclass(frozen=True)
class VerifyPass(Pass):
    """Check shapes and all IR invariants; raise VerifyError naming every offending node or edge.

    Shapes are inferred per projection from its connectivity (conv/pool output sizes, dense rows,
    one-to-one/identity sizes) and checked against the post population; parameters must be finite with
    the population's shape, time constants positive, and every cycle must contain a delay or back-edge.
    """

    name: ClassVar[str] = "verify"
    requires: ClassVar[frozenset[str]] = frozenset({"graph"})
    produces: ClassVar[frozenset[str]] = frozenset()

    def apply(self, ctx: PassContext, state: CompileState) -> CompileState:
        verify(state.graph)
        return state
