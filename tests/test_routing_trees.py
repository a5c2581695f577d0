"""Multicast trees: exactly the destination chips, each at its shortest hop count, a real tree.

Oracle: an independent brute-force BFS over the six hexagonal links of the (torus) chip grid.
"""

from __future__ import annotations

from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from aedc.machine import Chip, LinkDirection, Machine
from aedc.routing.keys import allocate_keys
from aedc.routing.synthetic import layered_placement
from aedc.routing.trees import bfs, build_routes, chip_graph, multicast_tree

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


def oracle_tree(w: int, h: int, torus: bool, src: Chip, dests: tuple[Chip, ...],
                loads: dict[tuple[Chip, str], float] | None = None, weight: float = 0.0
                ) -> tuple[tuple[Chip, str], ...]:
    """The documented rule by brute force: a step's candidates are every (chip, link) of the machine
    that reaches the node from one hop nearer the source, in link order."""
    dist = oracle_distances(w, h, torus, src)
    chips = [(x, y) for y in range(h) for x in range(w)]
    links = list(STEPS)
    on_tree, edges = {src}, set()
    for d in sorted(set(dests), key=lambda c: (-dist[c], chips.index(c))):
        node = d
        while node not in on_tree:
            cands = [(p, ln) for ln in links for p in chips
                     if follow(w, h, torus, p, ln) == node and dist[p] == dist[node] - 1]
            pool = [c for c in cands if c[0] in on_tree] or cands
            if loads is not None:
                pool = sorted(pool, key=lambda c: loads.get(c, 0.0))
            parent, link = pool[0]
            edges.add((parent, link))
            on_tree.add(node)
            node = parent
    if loads is not None:
        for e in edges:
            loads[e] = loads.get(e, 0.0) + weight
    return tuple(sorted(edges, key=lambda e: (chips.index(e[0]), links.index(e[1]))))


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 5), st.integers(1, 5), st.booleans(), st.booleans(), st.data())
def test_tree_choices_match_the_brute_force_rule(w: int, h: int, torus: bool, balance: bool,
                                                 data: st.DataObject) -> None:
    machine = Machine.tiny(chips=(w, h), torus=torus)
    chips = machine.chips
    loads: dict[tuple[Chip, LinkDirection], float] | None = {} if balance else None
    oracle_loads: dict[tuple[Chip, str], float] | None = {} if balance else None
    for i in range(3):  # a few trees in a row, so the loads of the earlier ones steer the later ones
        src = data.draw(st.sampled_from(chips))
        dests = tuple(data.draw(st.sets(st.sampled_from(chips), min_size=1, max_size=len(chips))))
        got = multicast_tree(machine, src, dests, loads, float(i + 1))
        assert got == oracle_tree(w, h, torus, src, dests, oracle_loads, float(i + 1))
    assert loads == oracle_loads


def test_ties_go_to_the_first_link_in_link_order() -> None:
    torus = Machine.tiny(chips=(4, 4), torus=True)
    # (2, 1) is 2 hops away via (1, 1) (link E) or (1, 0) (link NE): E comes first
    assert multicast_tree(torus, (0, 0), ((2, 1),)) == (((0, 0), "NE"), ((1, 1), "E"))
    # on a 2-wide torus E and W both join (0, 0) to (1, 0): two links of the chip graph, E chosen
    ring = Machine.tiny(chips=(2, 1), torus=True)
    assert sorted(chip_graph(ring).get_edge_data((0, 0), (1, 0))) == ["E", "NE", "SW", "W"]
    assert multicast_tree(ring, (0, 0), ((1, 0),)) == (((0, 0), "E"),)
    assert bfs(ring, (0, 0)) == {(0, 0): 0, (1, 0): 1}
