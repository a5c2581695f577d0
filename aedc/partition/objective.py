"""The placement objective, shared by every placer, the brute-force test oracle and the benchmark.

``objective = Σ over slice edges e (src → dst) of weight(e) × cost(PE(src), PE(dst))`` where

* ``weight(e) = round(1000 × packets_per_tick(e))`` (milli-packets per tick, an integer for CP-SAT;
  at least 1 for an edge that carries anything), and
* ``cost(a, b) = qpe_hops(a.qpe, b.qpe) + chip_weight × chip_hops(a.chip, b.chip)``: Manhattan hops on
  the QPE mesh (0 inside a QPE, so slices on one PE or one QPE cost nothing) plus a heavy weight per
  chip-to-chip link on the hexagonal torus. The QPE term is counted across chips too (the packet
  crosses the QPE mesh of the chips it leaves and enters), which keeps the cost separable.

Edges are counted per (source slice, destination slice); a multicast packet that serves two destination
slices on one QPE is counted twice (an upper estimate of NoC load that keeps the model linear).
"""

from __future__ import annotations

from collections.abc import Sequence

from aedc.machine import Machine, PEAddress
from aedc.partition.model import SliceEdge

CHIP_WEIGHT = 16
"""Cost of one chip-to-chip hop in QPE-hop units (more than a chip's QPE diameter of 11)."""


def edge_weight(edge: SliceEdge) -> int:
    """Milli-packets per tick, at least 1 for an edge that carries anything."""
    w = round(1000 * edge.packets_per_tick)
    return max(w, 1) if edge.packets_per_tick > 0 or edge.synapses > 0 else 0


def hop_cost(machine: Machine, a: PEAddress, b: PEAddress, chip_weight: int = CHIP_WEIGHT) -> int:
    chip = machine.chip_hops(a.chip, b.chip) if a.chip != b.chip else 0
    return machine.qpe_hops(a.qpe, b.qpe) + chip_weight * chip


def objective(machine: Machine, edges: Sequence[SliceEdge], assignment: Sequence[PEAddress],
              chip_weight: int = CHIP_WEIGHT) -> int:
    """The objective of ``assignment`` (slice index → PE)."""
    total = 0
    for e in edges:
        if e.src == e.dst:
            continue
        total += edge_weight(e) * hop_cost(machine, assignment[e.src], assignment[e.dst], chip_weight)
    return total
