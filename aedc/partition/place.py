"""Placement: the one signature every placer implements, the shared checks, and the dispatcher.

Every placer is a function ::

    place(problem: PlacementProblem, machine: Machine, *, seed: int = 0, **options) -> Placement

(``place_greedy.place``, ``place_cpsat.place``). It assigns every slice of ``problem.slicing`` to a PE
of ``machine`` so that on every PE the summed DTCM regions (plus the per-PE fixed regions) fit
``dynamic_region_bytes``, the summed code fits ITCM and the summed expected synaptic events per tick fit
``events_per_tick × balance``; it returns a :class:`~aedc.partition.model.Placement` whose objective is
:func:`aedc.partition.objective.objective`. The same problem, machine, seed and options give the same
placement (byte-identical JSON).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from aedc.errors import PlacementError
from aedc.machine import Machine, PEAddress
from aedc.partition.memory import CODE_RUNTIME, FIXED_PE_BYTES, pe_memory
from aedc.partition.model import PEUsage, Placement, Slicing
from aedc.partition.objective import CHIP_WEIGHT, objective


@dataclass(frozen=True)
class PlacementProblem:
    """What a placer places: the slicing, plus the load-balance factor and the chip-crossing weight."""

    slicing: Slicing
    balance: float = 1.0  # a PE may take at most balance × events_per_tick synaptic events per tick
    chip_weight: int = CHIP_WEIGHT

    @property
    def n(self) -> int:
        return len(self.slicing.slices)

    def bytes_(self) -> np.ndarray:
        return np.array([s.memory.total for s in self.slicing.slices], np.int64)

    def code(self) -> np.ndarray:
        return np.array([s.memory.code - CODE_RUNTIME for s in self.slicing.slices], np.int64)

    def events(self) -> np.ndarray:
        """Expected synaptic events per tick, in integer milli-events (for CP-SAT)."""
        return np.array([round(1000 * s.events_per_tick) for s in self.slicing.slices], np.int64)


@dataclass(frozen=True)
class Capacity:
    """Per-PE limits in the units of :class:`PlacementProblem`'s arrays."""

    bytes_: int
    code: int
    events: int

    @classmethod
    def of(cls, machine: Machine, problem: PlacementProblem) -> Capacity:
        return cls(machine.dynamic_region_bytes - FIXED_PE_BYTES, machine.itcm_bytes - CODE_RUNTIME,
                   int(1000 * machine.events_per_tick * problem.balance))


class Placer(Protocol):
    def __call__(self, problem: PlacementProblem, machine: Machine, *, seed: int = 0,
                 **options: Any) -> Placement: ...


PLACERS: dict[str, str] = {
    "greedy": "aedc.partition.place_greedy:place",
    "cpsat": "aedc.partition.place_cpsat:place",
}
"""Placer name → ``module:function`` (imported on use: CP-SAT loads OR-Tools)."""


def get_placer(name: str) -> Placer:
    if name not in PLACERS:
        raise ValueError(f"unknown placer {name!r}; placers: {', '.join(PLACERS)}")
    module, _, attr = PLACERS[name].partition(":")
    fn: Placer = getattr(importlib.import_module(module), attr)
    return fn


def place(problem: PlacementProblem, machine: Machine, *, solver: str = "cpsat", seed: int = 0,
          **options: Any) -> Placement:
    """Place with the placer called ``solver``."""
    return get_placer(solver)(problem, machine, seed=seed, **options)


def check_slices_fit(problem: PlacementProblem, machine: Machine) -> None:
    """Raise :class:`PlacementError` if some slice alone exceeds a PE (the slicer should prevent it)."""
    cap = Capacity.of(machine, problem)
    b, c, e = problem.bytes_(), problem.code(), problem.events()
    for i, s in enumerate(problem.slicing.slices):
        if b[i] > cap.bytes_ or c[i] > cap.code or e[i] > cap.events:
            raise PlacementError(
                f"population '{s.population}': slice {s.label} needs {int(b[i]) + FIXED_PE_BYTES:,} B "
                f"(with {FIXED_PE_BYTES:,} B per-PE fixed), {s.memory.code:,} B code and "
                f"{s.events_per_tick:,.0f} events/tick; a PE has {machine.dynamic_region_bytes:,} B, "
                f"{machine.itcm_bytes:,} B ITCM and {machine.events_per_tick * problem.balance:,.0f} "
                f"events/tick: re-slice with a smaller max-neurons", where=s.population)


def too_big(problem: PlacementProblem, machine: Machine, failed_at: int, used: int) -> PlacementError:
    """The error for a network that needs more PEs than ``machine`` has."""
    s = problem.slicing.slices[failed_at]
    total = int(problem.bytes_().sum())
    cap = Capacity.of(machine, problem).bytes_
    need = -(-total // cap)
    return PlacementError(
        f"population '{s.population}' does not fit: the network needs {total:,} B of PE memory, at least "
        f"{need:,} PEs of {cap:,} B (greedy packing used {used:,} PEs before slice {s.label}); "
        f"the machine '{machine.name}' has {machine.total_pes:,} PEs "
        f"({machine.total_pes * cap:,} B): use a machine with more chips", where=s.population)


def build_placement(problem: PlacementProblem, machine: Machine, assignment: Sequence[PEAddress], *,
                    solver: str, status: str, bound: int, baseline_objective: int,
                    seed: int) -> Placement:
    """Assemble a :class:`Placement` (per-PE usage, objective) from an assignment."""
    by_pe: dict[PEAddress, list[int]] = {}
    for i, pe in enumerate(assignment):
        by_pe.setdefault(pe, []).append(i)
    slices = problem.slicing.slices
    usage = tuple(
        PEUsage(pe=pe, slices=tuple(idx), memory=pe_memory(slices[i] for i in idx),
                events_per_tick=round(sum(slices[i].events_per_tick for i in idx), 6))
        for pe, idx in sorted(by_pe.items(), key=lambda kv: kv[0].key()))
    obj = objective(machine, problem.slicing.edges, assignment, problem.chip_weight)
    return Placement(machine=machine, slicing=problem.slicing, assignment=tuple(assignment), pes=usage,
                     objective=obj, bound=min(bound, obj), solver=solver, status=status,
                     baseline_objective=baseline_objective, seed=seed)


def budget_violations(placement: Placement) -> list[str]:
    """Every PE whose usage exceeds the machine (empty list: the placement is valid)."""
    m = placement.machine
    bad = []
    for u in placement.pes:
        if u.memory.total > m.dynamic_region_bytes:
            bad.append(f"PE {u.pe}: {u.memory.total:,} B > {m.dynamic_region_bytes:,} B")
        if u.memory.code > m.itcm_bytes:
            bad.append(f"PE {u.pe}: code {u.memory.code:,} B > {m.itcm_bytes:,} B")
        if u.events_per_tick > m.events_per_tick + 1e-6:
            bad.append(f"PE {u.pe}: {u.events_per_tick:,.0f} events/tick > {m.events_per_tick:,}")
    return bad
