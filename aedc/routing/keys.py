"""Key allocation: one aligned key block per (source slice, outgoing partition).

Stage signature (every allocator implements it)::

    allocate_keys(slicing, *, partitions=None, strategy="packed", seed=0) -> tuple[KeyBlock, ...]

A block spans ``2**bits >= size`` keys and starts at a multiple of its span, so one ``(key, mask)``
entry matches exactly the slice; key = block base + neuron index; all blocks are disjoint and lie in
the 32-bit key space. The result is deterministic (``seed`` only matters for ``"fragmented"``).

``"packed"`` groups the slices of one population (and partition) into one aligned *group* of equal
strides, groups sorted by size (largest first) and laid out back to back, so every group and every block
is aligned without gaps between groups. Slices of a population usually share their destinations, so a
router can cover a run of them with one wider entry: this layout is what makes compression work. Given
the placement, the slices of a group are ordered by PE, so slices on one chip (one multicast tree) are
adjacent too.
``"fragmented"`` (for benchmarks and tests) shuffles the blocks and leaves random gaps between them.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

from aedc.errors import RoutingError
from aedc.partition.model import Placement, Slice, Slicing
from aedc.routing.model import KEY_BITS, KeyBlock

__all__ = ["allocate_keys", "block_bits", "check_blocks"]


def block_bits(size: int) -> int:
    """Smallest ``b`` with ``2**b >= size`` (0 for sizes 0 and 1)."""
    return max(size - 1, 0).bit_length()


def _default_partition(s: Slice) -> str:
    return "partial" if s.role == "synapse" else "spike"


def allocate_keys(slicing: Slicing, *, partitions: Callable[[Slice], tuple[str, ...]] | None = None,
                  strategy: str = "packed", seed: int = 0, placement: Placement | None = None
                  ) -> tuple[KeyBlock, ...]:
    """Key blocks for every slice and every outgoing partition of it (see the module docstring).

    ``partitions(slice)`` names the partitions of a slice (default: ``("partial",)`` for synapse slices,
    ``("spike",)`` otherwise). With a ``placement``, ``"packed"`` orders the slices of a group by their
    PE (chip, QPE, PE): slices on one chip share their multicast tree, so their routes agree on most
    chips and their adjacent blocks merge. Blocks are returned ordered by (slice, partition order).
    """
    part_of = partitions or (lambda s: (_default_partition(s),))
    wanted = [(i, p, s.size) for i, s in enumerate(slicing.slices) for p in part_of(s)]
    if strategy == "packed":
        if placement is not None:
            where = placement.assignment
            wanted.sort(key=lambda w: (where[w[0]].key(), w[0]))
        bases = _packed(slicing, wanted)
    elif strategy == "fragmented":
        bases = _fragmented(wanted, seed)
    else:
        raise ValueError(f"unknown key strategy {strategy!r}; use 'packed' or 'fragmented'")
    blocks = tuple(KeyBlock(slice=i, partition=p, base=bases[(i, p)], bits=block_bits(n), size=n)
                   for i, p, n in sorted(wanted, key=lambda w: w[0]))
    check_blocks(blocks)
    return blocks


def _packed(slicing: Slicing, wanted: list[tuple[int, str, int]]) -> dict[tuple[int, str], int]:
    groups: dict[tuple[str, str, str | None], list[tuple[int, str, int]]] = {}
    for i, p, n in wanted:
        s = slicing.slices[i]
        groups.setdefault((s.population, p, s.projection if s.role == "synapse" else None), []).append(
            (i, p, n))
    layout = []
    for name, members in groups.items():
        stride = 1 << max(block_bits(n) for _, _, n in members)
        span = 1 << block_bits(stride * len(members))
        layout.append((span, name, stride, members))
    layout.sort(key=lambda g: (-g[0], g[1][0], g[1][1], g[1][2] or ""))
    bases: dict[tuple[int, str], int] = {}
    at = 0
    for span, _, stride, members in layout:  # spans are powers of two, descending: ``at`` stays aligned
        for j, (i, p, _) in enumerate(members):
            bases[(i, p)] = at + j * stride
        at += span
    if at > 1 << KEY_BITS:
        raise RoutingError(f"key space exhausted: {at:,} keys needed, {1 << KEY_BITS:,} available")
    return bases


def _fragmented(wanted: list[tuple[int, str, int]], seed: int) -> dict[tuple[int, str], int]:
    rng = random.Random(seed)
    order = list(wanted)
    rng.shuffle(order)
    bases: dict[tuple[int, str], int] = {}
    at = 0
    for i, p, n in order:
        span = 1 << block_bits(n)
        at += span * rng.randint(0, 3)  # a gap of 0..3 blocks
        at = -(-at // span) * span
        bases[(i, p)] = at
        at += span
    if at > 1 << KEY_BITS:
        raise RoutingError(f"key space exhausted: {at:,} keys needed, {1 << KEY_BITS:,} available")
    return bases


def check_blocks(blocks: tuple[KeyBlock, ...]) -> None:
    """Raise :class:`RoutingError` unless every block is aligned, big enough, 32-bit and disjoint."""
    problems = []
    for b in blocks:
        if b.base % b.span or b.span < b.size or b.base + b.span > 1 << KEY_BITS:
            problems.append(f"block of slice {b.slice}/{b.partition} at {b.base:#x} (2^{b.bits} keys, "
                            f"{b.size} used) is misaligned, too small or outside 32 bits")
    ordered = sorted(blocks, key=lambda b: b.base)
    for a, b in itertools.pairwise(ordered):
        if a.base + a.span > b.base:
            problems.append(f"key blocks of slices {a.slice}/{a.partition} and {b.slice}/{b.partition} "
                            f"overlap at {b.base:#x}")
    if problems:
        raise RoutingError("; ".join(problems[:10]) + (f" (and {len(problems) - 10} more)"
                                                        if len(problems) > 10 else ""))
