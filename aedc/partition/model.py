"""Partition and placement artifacts: slices, their memory, the traffic between them, and the placement.

What consumers (routing, codegen, emulator) may rely on:

* :class:`Slicing` (the ``slices`` artifact of :class:`~aedc.passes.CompileState`) lists every
  :class:`Slice` — a contiguous range ``lo..hi`` (half-open) of a population's neurons in flat C order —
  with its :class:`MemoryBreakdown`, the per-projection synapse :class:`ProjectionFormat`, and the
  :class:`SliceEdge` s (which slice sends events to which, for which projection, how many expected
  packets per tick). A slice's index in ``Slicing.slices`` is its id everywhere (edges, placement).
* Neuron slices of one population tile ``0..size`` without gap or overlap, in order.
* A slice with ``role == "synapse"`` is a *synapse PE* of fan-in splitting: it holds the synapses of
  projection ``projection`` from presynaptic neurons ``pre_lo..pre_hi`` onto the neurons ``lo..hi`` of
  ``population``, sums them each tick and sends the partial sums as graded events (one per post neuron,
  key = block base + index) to the neuron slice covering ``lo..hi``; that neuron slice adds them to its
  input like any other graded input. Synapse slices have an edge from every presynaptic slice they read
  and one edge to their neuron slice.
* :class:`Placement` (the ``placement`` artifact) maps slice *i* to ``assignment[i]`` (a
  :class:`~aedc.machine.PEAddress`), lists every used PE with its summed byte breakdown
  (:class:`PEUsage`), and reports the objective (see :mod:`aedc.partition.objective`), the solver's best
  bound and gap, the solver name and the greedy baseline's objective. ``to_json`` is deterministic
  (sorted keys, no timings): the same input and seed give byte-identical files.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, Literal

from pydantic import Field, computed_field, model_validator

from aedc.ir.base import IRModel
from aedc.ir.document import Document
from aedc.machine import Machine, PEAddress

__all__ = ["MemoryBreakdown", "PEAddress", "PEUsage", "Placement", "ProjectionFormat", "Slice",
           "SliceEdge", "Slicing"]

SliceRole = Literal["neuron", "synapse"]
SynapseFormatName = Literal["rows", "dense", "kernel"]
WeightType = Literal["lut4", "wide", "int8", "int16", "fp16", "f32"]

TERMS: tuple[str, ...] = ("neuron_state", "neuron_params", "synapse_rows", "dense_blocks", "synapse_kernels",
                          "weight_tables",
                          "master_pop_table", "routing_info", "targets", "ring_buffer", "event_history",
                          "input_buffers", "recording", "event_state", "fixed")
"""The DTCM terms of :class:`MemoryBreakdown`, in display order (see :mod:`aedc.partition.memory`)."""



def _dropping(name: str) -> Any:
    """A before-validator that ignores the computed field ``name`` in input (JSON carries it for
    readers; it is derived, never read back)."""

    def drop(cls: type, data: Any) -> Any:
        if isinstance(data, dict) and name in data:
            data = {k: v for k, v in data.items() if k != name}
        return data

    return classmethod(drop)

class MemoryBreakdown(IRModel):
    """Bytes of the dynamically placed DTCM regions, term by term (each already 16-byte aligned).

    ``code`` is ITCM (checked against ``Machine.itcm_bytes``) and is not part of :attr:`total`.
    """

    neuron_state: int = 0
    neuron_params: int = 0
    synapse_rows: int = 0
    dense_blocks: int = 0
    synapse_kernels: int = Field(0, description="kernel format: per conv/pool projection the geometry "
                                               "header and the kernel entries of the slice's channels")
    weight_tables: int = 0
    master_pop_table: int = 0
    routing_info: int = 0
    targets: int = Field(0, description="destination QPE list: 4 B per destination (≤ destination slices)")
    event_history: int = Field(0, description="per delayed incoming key block: slots × neurons × 1 B "
                                              "(spike counts) or 4 B (payloads)")
    ring_buffer: int = 0
    input_buffers: int = 0
    recording: int = 0
    event_state: int = Field(0, description="event-driven schedule only: per spiking neuron its fired "
                                            "flag, candidate arrival, margin and candidate entry")
    fixed: int = Field(0, description="per-PE runtime regions (packet queue, counters), once per PE")
    code: int = Field(0, description="ITCM bytes of the kernels (not in total)")

    _drop_computed = model_validator(mode="before")(_dropping("total"))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total(self) -> int:
        """DTCM bytes of all dynamic regions (what must fit ``Machine.dynamic_region_bytes``)."""
        return sum(getattr(self, t) for t in TERMS)

    def __add__(self, other: MemoryBreakdown) -> MemoryBreakdown:
        data = {t: getattr(self, t) + getattr(other, t) for t in (*TERMS, "code")}
        return MemoryBreakdown(**data)

    def items(self) -> Iterator[tuple[str, int]]:
        """``(term, bytes)`` for every DTCM term, in display order."""
        return ((t, getattr(self, t)) for t in TERMS)


class ProjectionFormat(IRModel):
    """The synapse storage format chosen for one projection (by bytes; see ``memory.choose_format``)."""

    projection: str
    format: SynapseFormatName
    weight_type: WeightType
    rows_bytes: int = Field(description="bytes of the whole projection in the rows format")
    dense_bytes: int | None = Field(description="bytes in the dense-block format (None: not offered)")
    kernel_bytes: int | None = Field(None, description="bytes in the kernel format, one kernel copy per "
                                                       "slice's channels (None: not a conv2d/pool2d)")


class Slice(IRModel):
    """Neurons ``lo..hi`` (half-open, flat C order) of ``population`` on one PE, or a synapse PE."""

    population: str
    lo: int = Field(ge=0)
    hi: int = Field(ge=1)
    role: SliceRole = "neuron"
    projection: str | None = Field(None, description="synapse role: the projection it sums")
    pre_lo: int | None = Field(None, description="synapse role: first presynaptic neuron it sums")
    pre_hi: int | None = Field(None, description="synapse role: end of the presynaptic range")
    memory: MemoryBreakdown = Field(default_factory=MemoryBreakdown)
    events_per_tick: float = Field(0.0, description="expected synaptic events processed per tick")

    @property
    def size(self) -> int:
        return self.hi - self.lo

    @property
    def label(self) -> str:
        base = f"{self.population}[{self.lo}:{self.hi}]"
        if self.role == "synapse":
            return f"{base}<{self.projection}[{self.pre_lo}:{self.pre_hi}]"
        return base


class SliceEdge(IRModel):
    """Slice ``src`` sends events for ``projection`` to slice ``dst`` (indices into ``Slicing.slices``)."""

    src: int = Field(ge=0)
    dst: int = Field(ge=0)
    projection: str
    synapses: int = Field(ge=0, description="synapses src → dst (post neurons for partial sums)")
    packets_per_tick: float = Field(ge=0.0, description="expected multicast packets per tick src → dst")


class Slicing(IRModel):
    """The ``slices`` artifact: every slice, the chosen synapse formats and the slice-to-slice traffic."""

    slices: tuple[Slice, ...]
    edges: tuple[SliceEdge, ...] = ()
    formats: tuple[ProjectionFormat, ...] = ()
    record_ticks: int = Field(0, ge=0, description="ticks of recording budgeted for output populations")

    def of(self, population: str) -> tuple[int, ...]:
        """Indices of the neuron slices of ``population``, in order."""
        return tuple(i for i, s in enumerate(self.slices)
                     if s.population == population and s.role == "neuron")


class PEUsage(IRModel):
    """One used PE: the slices it runs and the summed memory (per-PE ``fixed`` terms counted once)."""

    pe: PEAddress
    slices: tuple[int, ...]
    memory: MemoryBreakdown
    events_per_tick: float = 0.0


class Placement(Document):
    """The ``placement`` artifact: slice *i* runs on ``assignment[i]``."""

    FORMAT: ClassVar[str] = "aedc-placement"
    KEY: ClassVar[str] = "placement"
    WHAT: ClassVar[str] = "placement"

    machine: Machine
    slicing: Slicing
    assignment: tuple[PEAddress, ...]
    pes: tuple[PEUsage, ...] = Field(description="used PEs, canonical order")
    objective: int = Field(description="Σ over edges of milli-packets/tick × hop cost (objective.py)")
    bound: int = Field(description="solver's best lower bound on the objective (= objective if proven)")
    solver: str
    status: str = Field("FEASIBLE", description="OPTIMAL, FEASIBLE or HEURISTIC")
    baseline_objective: int = Field(description="objective of the greedy graph-order placement")
    seed: int = 0

    _drop_computed = model_validator(mode="before")(_dropping("gap"))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def gap(self) -> float:
        """Relative optimality gap ``(objective − bound) / max(objective, 1)``."""
        return (self.objective - self.bound) / max(self.objective, 1)

    @property
    def slices(self) -> tuple[Slice, ...]:
        return self.slicing.slices

    def pe_of(self, slice_index: int) -> PEAddress:
        return self.assignment[slice_index]

    def fullest(self) -> PEUsage:
        """The PE with the most DTCM bytes (first in canonical order on ties)."""
        return max(self.pes, key=lambda u: (u.memory.total, [-k for k in u.pe.key()]))

