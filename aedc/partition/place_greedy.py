"""PACMAN-style baseline placer: fill PEs in graph order, no cost function.

Slices are taken in the order of :class:`~aedc.partition.model.Slicing` (populations in graph order,
each population's slices in neuron order) and packed *next-fit* onto PEs in the machine's canonical order
(chip, QPE row-major, PE): a slice goes on the current PE if it still fits there, else on the next PE.
SpiNNaker's own placer likewise walks the graph and fills cores without a cost model; this is the
baseline every other placer is compared with (``Placement.baseline_objective``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aedc.machine import Machine, PEAddress
from aedc.partition.bound import lower_bound
from aedc.partition.model import Placement
from aedc.partition.objective import objective
from aedc.partition.place import Capacity, PlacementProblem, build_placement, check_slices_fit, too_big


def greedy_assignment(problem: PlacementProblem, machine: Machine,
                      pes: Sequence[PEAddress] | None = None,
                      order: list[int] | None = None) -> list[PEAddress]:
    """Next-fit assignment of the slices (in ``order``, default graph order) onto ``pes``."""
    check_slices_fit(problem, machine)
    targets = machine.pes() if pes is None else pes
    cap = Capacity.of(machine, problem)
    b, c, e = problem.bytes_().tolist(), problem.code().tolist(), problem.events().tolist()
    out: list[PEAddress | None] = [None] * problem.n
    k, used_b, used_c, used_e, on_pe = 0, 0, 0, 0, 0
    for i in (range(problem.n) if order is None else order):
        if on_pe and (used_b + b[i] > cap.bytes_ or used_c + c[i] > cap.code or used_e + e[i] > cap.events):
            k, used_b, used_c, used_e, on_pe = k + 1, 0, 0, 0, 0
        if k >= len(targets):
            raise too_big(problem, machine, i, len(targets))
        out[i] = targets[k]
        used_b, used_c, used_e, on_pe = used_b + b[i], used_c + c[i], used_e + e[i], on_pe + 1
    return [pe for pe in out if pe is not None]


def place(problem: PlacementProblem, machine: Machine, *, seed: int = 0, **_: Any) -> Placement:
    """Greedy graph-order placement (deterministic; ``seed`` is recorded only)."""
    assignment = greedy_assignment(problem, machine)
    obj = objective(machine, problem.slicing.edges, assignment, problem.chip_weight)
    bound = min(lower_bound(problem, machine), obj)
    return build_placement(problem, machine, assignment, solver="greedy",
                           status="OPTIMAL" if obj <= bound else "HEURISTIC", bound=bound,
                           baseline_objective=obj, seed=seed)
