"""Small hand-made slicings and placements for routing tests and benchmarks (no placer involved).

:func:`layered_placement` slices each population into ``slice_size`` pieces, connects the slices of
consecutive layers (all-to-all, or only to ``fan_out`` post slices), and places slices on PEs in machine
order, either packed (PE after PE, chip after chip) or scattered at random (``shuffle``).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from aedc.machine import Machine
from aedc.partition.model import PEUsage, Placement, Slice, SliceEdge, Slicing

__all__ = ["layered_placement", "placement_of"]


def placement_of(machine: Machine, slicing: Slicing, assignment: Sequence[int]) -> Placement:
    """A :class:`Placement` putting slice *i* on ``machine.pes()[assignment[i]]``."""
    pes = machine.pes()
    addr = tuple(pes[a] for a in assignment)
    by_pe: dict[int, list[int]] = {}
    for i, a in enumerate(assignment):
        by_pe.setdefault(a, []).append(i)
    usage = tuple(PEUsage(pe=pes[a], slices=tuple(by_pe[a]), memory=slicing.slices[by_pe[a][0]].memory)
                  for a in sorted(by_pe))
    return Placement(machine=machine, slicing=slicing, assignment=addr, pes=usage, objective=0, bound=0,
                     solver="synthetic", status="HEURISTIC", baseline_objective=0)


def layered_placement(machine: Machine, sizes: Sequence[int], *, slice_size: int = 256,
                      fan_out: int | None = None, shuffle: bool = False, seed: int = 0,
                      stride: int = 1) -> Placement:
    """Layers ``L0 → L1 → …`` of ``sizes`` neurons, sliced and placed (see the module docstring).

    ``fan_out``: each pre slice sends to that many consecutive post slices (``None``: to all of them);
    ``stride``: place slice *i* on PE ``i * stride`` (spreads a small network over chips).
    """
    rng = random.Random(seed)
    slices: list[Slice] = []
    layer_slices: list[list[int]] = []
    for li, n in enumerate(sizes):
        ids = []
        for lo in range(0, n, slice_size):
            ids.append(len(slices))
            slices.append(Slice(population=f"L{li}", lo=lo, hi=min(n, lo + slice_size)))
        layer_slices.append(ids)
    edges = []
    for li in range(len(sizes) - 1):
        pre, post = layer_slices[li], layer_slices[li + 1]
        for k, s in enumerate(pre):
            if fan_out is None:
                targets = post
            else:
                first = k * len(post) // max(len(pre), 1)
                targets = [post[(first + j) % len(post)] for j in range(min(fan_out, len(post)))]
            for d in targets:
                edges.append(SliceEdge(src=s, dst=d, projection=f"L{li}->L{li + 1}", synapses=1,
                                       packets_per_tick=1.0))
    slicing = Slicing(slices=tuple(slices), edges=tuple(edges))
    n_pes = machine.total_pes
    if len(slices) * stride > n_pes and not shuffle:
        raise ValueError(f"{len(slices)} slices at stride {stride} need more than {n_pes} PEs")
    if shuffle:
        assignment = rng.sample(range(n_pes), len(slices))
    else:
        assignment = [i * stride for i in range(len(slices))]
    return placement_of(machine, slicing, assignment)
