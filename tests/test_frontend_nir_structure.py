"""NIR graph structure: back-edges of the by-name DFS, where the cut of a recurrent loop goes, and the
by-name topological order, pinned on small graphs and checked against brute force (every permutation,
a recursive DFS).
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aedc.frontend.nir_structure import back_edges, recurrent_cuts, topo_order

Edge = tuple[str, str]
NAMES = st.sampled_from(["in", "a", "b", "c", "s.x", "s.y"])


def test_back_edges_search_from_the_inputs_first() -> None:
    edges = [("a", "b"), ("b", "a"), ("in", "b")]
    # by name alone the search starts at a, and b -> a closes the loop
    assert back_edges(["a", "b", "in"], edges, ()) == {("b", "a"): ("a", "b", "a")}
    # from the input it reaches b first, so a -> b closes it
    assert back_edges(["a", "b", "in"], edges, ["in"]) == {("a", "b"): ("b", "a", "b")}


def test_back_edges_follow_successors_by_name() -> None:
    # from a: b before c (by name, not edge order); both close a loop back to a
    edges = [("a", "c"), ("c", "a"), ("a", "b"), ("b", "a")]
    assert list(back_edges("abc", edges, ()).items()) == [(("b", "a"), ("a", "b", "a")),
                                                          (("c", "a"), ("a", "c", "a"))]


def test_topo_order_is_the_smallest_by_name() -> None:
    # insertion order c, b, a; a waits for c: smallest ready name first gives b, c, a
    assert topo_order(["c", "b", "a"], [("c", "a")]) == ("b", "c", "a")


def oracle_back_edges(nodes: list[str], edges: list[Edge], roots: list[str]) -> dict[Edge, tuple[str, ...]]:
    succ = {n: sorted({d for s, d in edges if s == n}) for n in nodes}
    done: set[str] = set()
    path: list[str] = []
    found: dict[Edge, tuple[str, ...]] = {}

    def visit(n: str) -> None:
        path.append(n)
        for m in succ[n]:
            if m in path:
                found[(n, m)] = (*path[path.index(m):], m)
            elif m not in done:
                visit(m)
        path.pop()
        done.add(n)

    for n in [*sorted(roots), *sorted(nodes)]:
        if n not in done:
            visit(n)
    return found


@settings(max_examples=150, deadline=None)
@given(st.lists(NAMES, min_size=1, max_size=6, unique=True), st.data())
def test_back_edges_and_order_match_brute_force(nodes: list[str], data: st.DataObject) -> None:
    pick = st.sampled_from(nodes)
    edges = data.draw(st.lists(st.tuples(pick, pick), max_size=10))
    roots = data.draw(st.lists(pick, max_size=2, unique=True))
    back = back_edges(nodes, edges, roots)
    assert list(back.items()) == list(oracle_back_edges(nodes, edges, roots).items())
    forward = [e for e in edges if e not in back]
    valid = [p for p in itertools.permutations(sorted(nodes))
             if all(p.index(s) < p.index(d) for s, d in forward)]
    assert valid, "cutting the back-edges leaves a DAG"
    assert topo_order(nodes, forward) == min(valid)


def test_cut_moves_back_to_the_edge_leaving_the_neuron() -> None:
    # in -> lif -> w -> lif: the DFS closes the loop at w -> lif; the cut is lif -> w (lif has state)
    edges = [("in", "lif"), ("lif", "w"), ("w", "lif")]
    assert back_edges(["in", "lif", "w"], edges, ["in"]) == {("w", "lif"): ("lif", "w", "lif")}
    assert recurrent_cuts(["in", "lif", "w"], edges, ["in"], ["lif"]) == {("lif", "w"): ("lif", "w", "lif")}
    # two stateless ops after the neuron: still the edge out of the neuron
    edges = [("in", "a"), ("a", "b"), ("b", "c"), ("c", "a")]
    assert recurrent_cuts("abc", [*edges], ["in"], ["a"]) == {("a", "b"): ("a", "b", "c", "a")}
    # the last neuron before the closing edge, not the first
    assert recurrent_cuts("abc", [*edges], ["in"], ["a", "b"]) == {("b", "c"): ("b", "c", "a", "b")}
    # no neuron on the loop (an algebraic loop, refused later): the DFS's own back-edge, its cycle
    # (like every cut's) written from the cut
    assert recurrent_cuts("abc", [*edges], ["in"], []) == {("c", "a"): ("c", "a", "b", "c")}


def test_a_moved_cut_can_leave_a_second_cycle_which_a_later_round_cuts() -> None:
    # n -> w -> n and m -> w -> n -> m share w -> n; moving the first cut to n -> w leaves the second
    edges = [("in", "n"), ("n", "w"), ("w", "n"), ("n", "m"), ("m", "w")]
    cuts = recurrent_cuts(["in", "m", "n", "w"], edges, ["in"], ["n", "m"])
    left = [e for e in edges if e not in cuts]
    assert valid_orders(["in", "m", "n", "w"], left), "the cuts leave a DAG"
    assert all(src in ("n", "m") for src, _ in cuts), "every cut leaves a neuron"


def valid_orders(nodes: list[str], edges: list[Edge]) -> list[tuple[str, ...]]:
    return [p for p in itertools.permutations(sorted(set(nodes)))
            if all(p.index(s) < p.index(d) for s, d in edges)]


@settings(max_examples=150, deadline=None)
@given(st.lists(NAMES, min_size=1, max_size=6, unique=True), st.data())
def test_recurrent_cuts_leave_a_dag_and_leave_neurons(nodes: list[str], data: st.DataObject) -> None:
    pick = st.sampled_from(nodes)
    edges = data.draw(st.lists(st.tuples(pick, pick), max_size=10))
    roots = data.draw(st.lists(pick, max_size=2, unique=True))
    stateful = data.draw(st.lists(pick, max_size=3, unique=True))
    cuts = recurrent_cuts(nodes, edges, roots, stateful)
    assert valid_orders(nodes, [e for e in edges if e not in cuts]), "cutting leaves a DAG"
    for (src, dst), cycle in cuts.items():
        assert (src, dst) in edges
        assert cycle[0] == src, "the cycle starts at the cut"
        assert cycle[1] == dst
        assert cycle[-1] == src
        assert all(e in edges for e in itertools.pairwise(cycle)), "the cycle is made of edges"
        # a cut leaves the last stateful node before the DFS's closing edge: if the cycle has a
        # stateful node, the cut leaves one
        if set(cycle) & set(stateful):
            assert src in stateful


@pytest.mark.parametrize(("first", "second"), [("z", "a"), ("a", "z"), ("m", "b"), ("b", "m")])
def test_the_cut_follows_the_data_flow_not_the_names(first: str, second: str) -> None:
    """Issue 22: ``in → z ⇄ a`` — names that sort against the data flow must not move the delay. The
    neuron the input feeds runs first; the edge returning to it is the one delayed."""
    edges = [("in", first), (first, second), (second, first)]
    nodes = ["in", first, second]
    cuts = recurrent_cuts(nodes, edges, ["in"], [first, second])
    assert list(cuts) == [(second, first)]
