"""Multicast trees: for every key block, its destination PEs and the chip links its packets take.

Stage signature::

    build_routes(placement, keys) -> Routes

Destinations of a block are the PEs (deduplicated, canonical order) of every slice its source slice has
a :class:`~aedc.partition.model.SliceEdge` to. Between chips the packets follow a **shortest-path tree
with greedy branch sharing** on the 6-link hexagonal torus: a breadth-first search from the source chip
gives every chip's hop distance; destination chips are taken farthest first (ties in machine order) and
each walks back towards the source, at every step choosing a neighbour one hop nearer the source that is
already on the tree if there is one (so branches are shared), else the one whose link carries the
least expected traffic of the trees built so far when ``balance`` is on, else the first in
:data:`~aedc.machine.LINKS` order (ties in that order too). Every destination chip is therefore
reached in exactly its shortest-path hop count, and each chip appears once in the tree (a tree, not a
DAG: no duplicates). This is the shortest-path flavour of the Steiner heuristics used by SpiNNaker's
NER router (rig), without its detours. Inside a chip the router sends one NoC packet per destination
QPE with a 4-bit PE mask.
"""

from __future__ import annotations

from collections import deque
from functools import lru_cache

from aedc.machine import LINKS, Chip, LinkDirection, Machine, PEAddress
from aedc.partition.model import Placement
from aedc.routing.model import Hops, KeyBlock, Routes, SourceRoute, TreeLink

__all__ = ["bfs", "build_routes", "multicast_tree", "neighbour"]


def neighbour(machine: Machine, chip: Chip, link: str) -> Chip | None:
    """The chip reached from ``chip`` over ``link`` (``None`` off the edge of a non-torus mesh)."""
    for name, dx, dy in LINKS:
        if name == link:
            x, y = chip[0] + dx, chip[1] + dy
            if machine.torus:
                return x % machine.chips_x, y % machine.chips_y
            if 0 <= x < machine.chips_x and 0 <= y < machine.chips_y:
                return x, y
            return None
    raise ValueError(f"unknown link {link!r}")


@lru_cache(maxsize=256)
def bfs(machine: Machine, source: Chip) -> dict[Chip, int]:
    """Hop distance from ``source`` to every chip (breadth-first over the chip links)."""
    dist = {source: 0}
    queue = deque([source])
    while queue:
        c = queue.popleft()
        for name, _, _ in LINKS:
            n = neighbour(machine, c, name)
            if n is not None and n not in dist:
                dist[n] = dist[c] + 1
                queue.append(n)
    return dist


def multicast_tree(machine: Machine, source: Chip, destinations: tuple[Chip, ...],
                   loads: dict[tuple[Chip, LinkDirection], float] | None = None, weight: float = 0.0
                   ) -> tuple[tuple[Chip, LinkDirection], ...]:
    """The links ``(chip, link)`` of the shortest-path tree from ``source`` to ``destinations``.

    Sorted by chip (machine order) then link order; a chip's parent link is unique. With ``loads``
    (expected packets per tick per link of the trees built so far), a new branch takes the least loaded
    of its shortest-path links (ties in ``LINKS`` order) and adds ``weight`` to the links it uses.
    """
    dist = bfs(machine, source)
    order = {c: i for i, c in enumerate(machine.chips)}
    on_tree = {source}
    edges: set[tuple[Chip, LinkDirection]] = set()
    for d in sorted(set(destinations), key=lambda c: (-dist[c], order[c])):
        node = d
        while node not in on_tree:
            # neighbours p with dist[p] == dist[node] - 1 and a link p -> node
            candidates: list[tuple[Chip, LinkDirection]] = []
            for name, _, _ in LINKS:
                p = neighbour(machine, node, _opposite(name))
                if p is not None and dist[p] == dist[node] - 1 and neighbour(machine, p, name) == node:
                    candidates.append((p, name))
            shared = [c for c in candidates if c[0] in on_tree]
            pool = shared or candidates
            if loads is not None and len(pool) > 1:
                pool = sorted(pool, key=lambda c: loads.get(c, 0.0))  # stable: LINKS order on ties
            parent, link = pool[0]
            edges.add((parent, link))
            on_tree.add(node)
            node = parent
    if loads is not None:
        for e in edges:
            loads[e] = loads.get(e, 0.0) + weight
    link_order = {name: i for i, (name, _, _) in enumerate(LINKS)}
    return tuple(sorted(edges, key=lambda e: (order[e[0]], link_order[e[1]])))


_OPPOSITE: dict[str, LinkDirection] = {"E": "W", "W": "E", "NE": "SW", "SW": "NE", "N": "S", "S": "N"}


def _opposite(link: str) -> LinkDirection:
    return _OPPOSITE[link]


def build_routes(placement: Placement, keys: tuple[KeyBlock, ...], *, balance: bool = False) -> Routes:
    """Destinations, trees and hop counts of every key block (see the module docstring).

    ``balance``: spread branches over the least loaded of the equally short links. That lowers the peak
    link load (48-chip scattered benchmark: 171 → 90 packets/tick) but makes trees of neighbouring
    sources differ, so fewer entries merge (2,287 → 4,974 entries there); off by default.
    """
    machine = placement.machine
    slicing = placement.slicing
    dests: dict[int, set[int]] = {}
    rate: dict[int, float] = {}
    for e in slicing.edges:
        dests.setdefault(e.src, set()).add(e.dst)
        rate[e.src] = max(rate.get(e.src, 0.0), e.packets_per_tick)
    sources = []
    loads: dict[tuple[Chip, LinkDirection], float] | None = {} if balance else None
    for b, block in enumerate(keys):
        targets = dests.get(block.slice)
        if not targets:
            continue
        src_pe = placement.assignment[block.slice]
        pes = sorted({placement.assignment[d] for d in targets}, key=PEAddress.key)
        chips = tuple(sorted({p.chip for p in pes}))
        tree = multicast_tree(machine, src_pe.chip, chips, loads, rate.get(block.slice, 0.0))
        dist = bfs(machine, src_pe.chip)
        hops = tuple(Hops(pe=p, chip_hops=dist[p.chip],
                          qpe_hops=machine.qpe_hops(src_pe.qpe, p.qpe) if p.chip == src_pe.chip else 0)
                     for p in pes)
        sources.append(SourceRoute(block=b, source=src_pe, destinations=tuple(pes),
                                   tree=tuple(TreeLink(chip=c, link=ln) for c, ln in tree),
                                   hops=hops, packets_per_tick=rate.get(block.slice, 0.0)))
    return Routes(keys=keys, sources=tuple(sources))
