"""The ``slice`` and ``place`` passes: thin adapters over :func:`~aedc.partition.slicing.slice_graph`
and the placers of :mod:`aedc.partition.place`.

The target machine is ``PassContext.target`` (a :class:`~aedc.machine.Machine`); without one, a single
default SpiNNaker2 chip. OR-Tools is imported only when ``place{solver=cpsat}`` runs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Literal

from aedc.machine import SPINNAKER2, Machine
from aedc.passes.base import Pass
from aedc.passes.context import PassContext
from aedc.passes.state import CompileState


def target_machine(ctx: PassContext) -> Machine:
    """``ctx.target``, else one default SpiNNaker2 chip."""
    return ctx.target if ctx.target is not None else SPINNAKER2


@dataclass(frozen=True)
class SlicePopulations(Pass):
    """Split populations into slices that fit one PE (memory model, 256-neuron limit, event budget).

    Options: ``max-neurons`` per slice; ``record-ticks`` of recording budgeted for outputs;
    ``activity`` = expected fraction of binary/sigma-delta neurons firing per tick (event budget and
    traffic); ``formats`` = auto (by bytes) | rows | dense | kernel; below ``min-neurons`` per PE the
    fan-in is split onto synapse PEs (``fanin-split``); ``event`` budgets the event-driven runtime's state
    (what ``emit-c{event=true}`` adds).
    """

    name: ClassVar[str] = "slice"
    requires: ClassVar[frozenset[str]] = frozenset({"graph"})
    produces: ClassVar[frozenset[str]] = frozenset({"slices"})

    max_neurons: int = 256
    record_ticks: int = 100
    activity: float = 0.05
    formats: Literal["auto", "rows", "dense", "kernel"] = "auto"
    min_neurons: int = 16
    fanin_split: bool = True
    event: bool = False

    def apply(self, ctx: PassContext, state: CompileState) -> CompileState:
        from aedc.partition.slicing import SliceOptions, slice_graph

        opts = SliceOptions(max_neurons=self.max_neurons, record_ticks=self.record_ticks,
                            activity=self.activity, formats=self.formats, min_neurons=self.min_neurons,
                            fanin_split=self.fanin_split, event=self.event)
        slicing = slice_graph(state.graph, target_machine(ctx), opts)
        n_syn = sum(1 for s in slicing.slices if s.role == "synapse")
        ctx.report(self.name, f"{len(slicing.slices)} slices ({n_syn} synapse PEs), "
                   f"{len(slicing.edges)} slice edges")
        return replace(state, slices=slicing)


@dataclass(frozen=True)
class PlaceSlices(Pass):
    """Assign slices to PEs minimising NoC packets × hops (CP-SAT, or the greedy baseline).

    Options: ``solver`` = cpsat | greedy; ``time-limit-s`` (CP-SAT deterministic time); ``workers``;
    ``mode`` = auto | flat | hierarchical (chips first, then QPEs); ``balance`` = fraction of a PE's
    event budget a PE may be loaded to.
    """

    name: ClassVar[str] = "place"
    requires: ClassVar[frozenset[str]] = frozenset({"graph", "slices"})
    produces: ClassVar[frozenset[str]] = frozenset({"placement"})

    solver: Literal["cpsat", "greedy"] = "cpsat"
    time_limit_s: float = 2.0
    workers: int = 1
    mode: Literal["auto", "flat", "hierarchical"] = "auto"
    balance: float = 1.0

    def apply(self, ctx: PassContext, state: CompileState) -> CompileState:
        from aedc.partition.place import PlacementProblem, place

        problem = PlacementProblem(state.require("slices"), balance=self.balance)
        placement = place(problem, target_machine(ctx), solver=self.solver, seed=ctx.seed,
                          time_limit_s=self.time_limit_s, workers=self.workers, mode=self.mode)
        from aedc.partition.report import quality

        ctx.report(self.name, f"{placement.solver}: {len(placement.pes)} PEs, {quality(placement)}")
        return replace(state, placement=placement)
