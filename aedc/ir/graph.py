"""The event-dataflow graph: populations (processes) joined by projections (event channels).

A :class:`Population` is a group of neurons with one model and one *event rule* — how its output leaves
it: ``binary`` (a payload-free spike), ``graded`` (a float32 payload every tick the value is non-zero) or
``sigma_delta`` (a float32 change, sent only when it exceeds ``event_threshold``; receivers add every
change to a per-projection accumulator, so the last sent value is held). An input population sends what
its data say each tick; for a ``sigma_delta`` input the data are the changes. A :class:`Projection`
carries events from ``pre`` to ``post`` through a connectivity kind, after ``delay`` ticks; a
``back_edge`` (recurrent) projection delivers the value one tick later, which is what breaks cycles.
Several projections into one population are summed.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from aedc.ir.base import IRModel
from aedc.ir.connectivity import Connectivity, Shape, synapse_count
from aedc.ir.neurons import InputModel, Neuron
from aedc.ir.options import Semantics

EventRule = Literal["binary", "graded", "sigma_delta"]


def _sorted_meta(value: dict[str, str]) -> dict[str, str]:
    return {str(k): str(value[k]) for k in sorted(value)}


class Population(IRModel):
    """A group of identical-model neurons; the unit that partitioning slices."""

    name: str = Field(min_length=1)
    shape: Shape
    neuron: Neuron
    event_rule: EventRule = "binary"
    event_threshold: float = Field(0.0, ge=0.0, description="sigma-delta send threshold")
    meta: dict[str, str] = Field(default_factory=dict)

    _sort_meta = field_validator("meta")(_sorted_meta)

    @property
    def size(self) -> int:
        """Number of neurons (product of the shape)."""
        return math.prod(int(d) for d in self.shape)

    @property
    def is_input(self) -> bool:
        return isinstance(self.neuron, InputModel)

    @property
    def carries_payload(self) -> bool:
        """Whether its events carry a float32 payload: a spike of a spiking model or of a binary input
        does not; a binary-rule value model sends its value (as the reference does)."""
        if self.event_rule != "binary":
            return True
        return not (type(self.neuron).SPIKING or self.is_input)


class Projection(IRModel):
    """An event channel ``pre → post`` with a connectivity kind and an integer delay in ticks."""

    name: str = Field(min_length=1)
    pre: str
    post: str
    conn: Connectivity
    delay: int = Field(0, ge=0, description="ticks between emission and use (on top of a back-edge)")
    back_edge: bool = Field(False, description="recurrent: the value arrives at the next tick")
    meta: dict[str, str] = Field(default_factory=dict)

    _sort_meta = field_validator("meta")(_sorted_meta)

    @property
    def latency(self) -> int:
        """Ticks from emission to use: delay plus one for a back-edge."""
        return self.delay + int(self.back_edge)


class Graph(IRModel):
    """A whole network with its semantics; immutable — passes build new graphs."""

    name: str = "graph"
    populations: tuple[Population, ...] = ()
    projections: tuple[Projection, ...] = ()
    outputs: dict[str, str] = Field(
        default_factory=dict, description="output port name → population it reads")
    semantics: Semantics = Field(default_factory=Semantics)
    meta: dict[str, str] = Field(default_factory=dict)

    _sort_meta = field_validator("meta", "outputs")(_sorted_meta)

    @model_validator(mode="before")
    @classmethod
    def _spike_counts_are_graded(cls, data: Any) -> Any:
        """Under ``Semantics.max_spikes > 1`` a spike is a count, which a payload-free key cannot
        carry: a spiking population built ``binary`` (what the frontends write) becomes ``graded``."""
        if not isinstance(data, dict) or data.get("semantics") is None:
            return data
        sem = data["semantics"]
        sem = sem if isinstance(sem, Semantics) else Semantics.model_validate(sem)
        if not sem.multi_spike:
            return data
        pops = [p if isinstance(p, Population) else Population.model_validate(p)
                for p in data.get("populations", ())]
        return {**data, "populations": tuple(
            p.evolve(event_rule="graded") if type(p.neuron).SPIKING and p.event_rule == "binary" else p
            for p in pops)}

    def population(self, name: str) -> Population:
        """The population called ``name`` (``KeyError`` names it if absent)."""
        for p in self.populations:
            if p.name == name:
                return p
        raise KeyError(f"no population {name!r}")

    def projection(self, name: str) -> Projection:
        for p in self.projections:
            if p.name == name:
                return p
        raise KeyError(f"no projection {name!r}")

    def pop_map(self) -> dict[str, Population]:
        return {p.name: p for p in self.populations}

    @property
    def inputs(self) -> tuple[str, ...]:
        """Names of the input (source) populations, in graph order."""
        return tuple(p.name for p in self.populations if p.is_input)

    def incoming(self, name: str) -> tuple[Projection, ...]:
        return tuple(p for p in self.projections if p.post == name)

    def outgoing(self, name: str) -> tuple[Projection, ...]:
        return tuple(p for p in self.projections if p.pre == name)

    def synapses(self, proj: Projection) -> int:
        pops = self.pop_map()
        return synapse_count(proj.conn, pops[proj.pre].shape, pops[proj.post].shape)

    def summary(self) -> dict[str, int]:
        """Counts a user looks at first: populations, neurons, projections, synapses."""
        return {
            "populations": len(self.populations),
            "neurons": sum(p.size for p in self.populations if not p.is_input),
            "inputs": sum(p.size for p in self.populations if p.is_input),
            "projections": len(self.projections),
            "synapses": sum(self.synapses(p) for p in self.projections),
        }
