"""A lower bound on the placement objective that holds for every placement: what the gap is measured
against when a solver cannot prove one itself (the hierarchical search, or a flat CP-SAT model whose
linear relaxation is 0 because its QPE coordinates are symmetric).

Argument (per slice, then halved). Write the objective as ``½ Σ_i Σ_j c_ij · d(i, j)`` with ``c_ij`` the
summed weights of the edges between slices ``i`` and ``j`` in both directions and ``d`` the hop cost of
:func:`aedc.partition.objective.hop_cost`. Around the QPE that holds slice ``i``, at most ``N(r)`` QPEs
lie at cost ``≤ r`` (``N`` taken as the maximum over every possible centre, so it holds wherever ``i``
is), and they hold at most ``N(r) · pes_per_qpe · PE bytes`` bytes of slices, ``i``'s own included. So
``Σ_j c_ij d(i, j)`` is at least the value of filling those nested shells, cheapest first, with ``i``'s
neighbours in order of weight per byte (the fractional relaxation; the greedy order is optimal for it
by the rearrangement inequality). Summing over ``i``, halving and rounding up gives an integer bound.

It ignores the code and load limits and the indivisibility of slices, so it is loose where those bind
— but it is never above the optimum (tests check it against brute force on small problems), and it is
exact for problems whose neighbours all fit around each slice at cost 0 (then the bound is 0 and so is
the optimum).
"""

from __future__ import annotations

import math

import numpy as np

from aedc.machine import Machine
from aedc.partition.objective import edge_weight
from aedc.partition.place import Capacity, PlacementProblem

__all__ = ["lower_bound", "shell_capacity"]


def shell_capacity(machine: Machine, chip_weight: int, upto: int) -> np.ndarray:
    """``N[r]`` for ``r = 0..upto``: the most QPEs any centre has within hop cost ``r`` (QPE Manhattan
    hops plus ``chip_weight`` per chip hop, as in the objective). Chip distances are taken on the
    torus (every chip then sees the same neighbourhood, so chip (0, 0) is the only centre chip needed;
    without wrap-around distances are only longer, so the torus count still bounds them)."""
    qpes = np.array(machine.qpes, np.int64)
    qhop = np.abs(qpes[:, None, :] - qpes[None, :, :]).sum(axis=-1)  # (Q, Q)
    torus = machine if machine.torus else machine.model_copy(update={"torus": True})
    chips = machine.chips
    c0 = chips[0]
    base = np.array([0 if c == c0 else chip_weight * torus.chip_hops(c0, c) for c in chips], np.int64)
    base = base[base <= upto]
    best = np.zeros(upto + 1, np.int64)
    for q0 in range(len(qpes)):
        d = (base[:, None] + qhop[q0][None, :]).ravel()
        counts = np.bincount(d[d <= upto], minlength=upto + 1)
        best = np.maximum(best, np.cumsum(counts))
    return best


def lower_bound(problem: PlacementProblem, machine: Machine) -> int:
    """A bound ``≤`` the objective of every feasible placement of ``problem`` (module docstring)."""
    n = problem.n
    if n < 2:
        return 0
    size = np.asarray(problem.bytes_(), np.float64)
    c: dict[tuple[int, int], int] = {}
    for e in problem.slicing.edges:
        if e.src == e.dst:
            continue
        w = edge_weight(e)
        if w:
            a, b = min(e.src, e.dst), max(e.src, e.dst)
            c[a, b] = c.get((a, b), 0) + w
    if not c:
        return 0
    per_qpe = float(Capacity.of(machine, problem).bytes_ * machine.pes_per_qpe)
    # the shells up to the cost at which all slices fit (beyond it nothing needs to go further out)
    need = math.ceil(float(size.sum()) / max(per_qpe, 1.0)) + 1
    upto = 1
    cap = shell_capacity(machine, problem.chip_weight, upto)
    while cap[-1] < need and upto < 4096:
        upto *= 2
        cap = shell_capacity(machine, problem.chip_weight, upto)
    room = cap.astype(np.float64) * per_qpe  # bytes within cost ≤ r
    nbrs: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for (a, b), w in c.items():
        nbrs[a].append((b, w))
        nbrs[b].append((a, w))
    total = 0.0
    last = len(room) - 1
    for i in range(n):
        # densest neighbours first (weight per byte); a neighbour without bytes shares i's PE for free
        order = sorted(((j, w) for j, w in nbrs[i] if size[j] > 0), key=lambda jw: (-jw[1] / size[jw[0]],
                                                                                     jw[0]))
        used, r = float(size[i]), 0
        for j, w in order:
            left, density = float(size[j]), w / float(size[j])
            while left > 0:
                while r < last and used >= room[r]:
                    r += 1
                take = left if r == last else min(left, room[r] - used)
                total += take * density * r
                used += take
                left -= take
    return math.ceil(total / 2 - 1e-9)
