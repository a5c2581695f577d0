"""Multicast trees: exactly the destination chips, each at its shortest hop count, a real tree.

Oracle: an independent brute-force BFS over the six hexagonal links of the (torus) chip grid.
"""

from __future__ import annotations

from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from aedc.machine import Chip, Machine
from aedc.routing.keys import allocate_keys
from aedc.routing.synthetic import layered_placement
from aedc.routing.trees import bfs, build_routes, multicast_tree

STEPS = {"E": (1, 0), "NE": (1, 1), "N": (0, 1), "W": (-1, 0), "SW": (-1, -1), "S": (0, -1)}


def oracle_distances(w: int, h: int, torus: bool, src: Chip) -> dict[Chip, int]:
    dist = {src: 0}
    queue = deque([src])
    while queue:
        x, y = queue.popleft()
        for dx, dy in STEPS.values():
            nx, ny = x + dx, y + dy
            if torus:
                nx, ny = nx % w, ny % h
            elif not (0 <= nx < w and 0 <= ny < h):
                continue
            if (nx, ny) not in dist:
                dist[(nx, ny)] = dist[(x, y)] + 1
                queue.append((nx, ny))
    return dist


def follow(w: int, h: int, torus: bool, chip: Chip, link: str) -> Chip:
    dx, dy = STEPS[link]
    x, y = chip[0] + dx, chip[1] + dy
    return (x % w, y % h) if torus else (x, y)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.booleans(), st.data())
def test_tree_reaches_exactly_the_destinations_in_shortest_hops(w: int, h: int, torus: bool,
                                                                data: st.DataObject) -> None:
    machine = Machine.tiny(chips=(w, h), torus=torus)
    chips = machine.chips
    src = data.draw(st.sampled_from(chips))
    dests = tuple(data.draw(st.sets(st.sampled_from(chips), min_size=1, max_size=len(chips))))
    tree = multicast_tree(machine, src, dests)
    oracle = oracle_distances(w, h, torus, src)
    assert bfs(machine, src) == oracle
    if torus:
        assert all(machine.chip_hops(src, c) == d for c, d in oracle.items())
    children: dict[Chip, list[Chip]] = {}
    parents: dict[Chip, Chip] = {}
    for chip, link in tree:
        child = follow(w, h, torus, chip, link)
        assert child not in parents, "a chip is reached twice"
        parents[child] = chip
        children.setdefault(chip, []).append(child)
    assert src not in parents
    # walk the tree from the source: every destination at its BFS distance; every leaf is a destination
    depth = {src: 0}
    queue = deque([src])
    while queue:
        c = queue.popleft()
        for n in children.get(c, []):
            depth[n] = depth[c] + 1
            queue.append(n)
    assert set(depth) == set(parents) | {src}
    for d in dests:
        assert depth[d] == oracle[d]
    leaves = [c for c in depth if c not in children and c != src]
    assert set(leaves) <= set(dests)


def test_branches_are_shared() -> None:
    machine = Machine.tiny(chips=(8, 6))
    # two destinations behind each other on the E axis share the first hop
    tree = multicast_tree(machine, (0, 0), ((2, 0), (3, 0)))
    assert tree == (((0, 0), "E"), ((1, 0), "E"), ((2, 0), "E"))


def test_routes_give_hops_per_destination_pe() -> None:
    machine = Machine.tiny(qpes=(2, 2), chips=(4, 4))  # 16 PEs per chip
    placement = layered_placement(machine, [32, 32], slice_size=16, stride=16)  # one slice per chip
    routes = build_routes(placement, allocate_keys(placement.slicing))
    assert len(routes.sources) == 2
    for src in routes.sources:
        for hop in src.hops:
            assert hop.chip_hops == machine.chip_hops(src.source.chip, hop.pe.chip)
    assert routes.hops(0, placement.assignment[2]).chip_hops == 2  # (0,0) -> (2,0)
    assert routes.hops(0, placement.assignment[3]).chip_hops == 1  # (0,0) -> (3,0) wraps west
    loads = routes.link_loads()
    assert sum(loads.values()) == sum(len(s.tree) * s.packets_per_tick for s in routes.sources)


def test_balanced_trees_stay_shortest_and_lower_the_peak_link_load() -> None:
    machine = Machine.tiny(qpes=(2, 2), chips=(4, 4))
    placement = layered_placement(machine, [128, 128], slice_size=8, shuffle=True, seed=2)
    keys = allocate_keys(placement.slicing)
    compact, balanced = build_routes(placement, keys), build_routes(placement, keys, balance=True)
    for src in balanced.sources:
        for hop in src.hops:
            assert hop.chip_hops == machine.chip_hops(src.source.chip, hop.pe.chip)
    assert max(balanced.link_loads().values()) <= max(compact.link_loads().values())
