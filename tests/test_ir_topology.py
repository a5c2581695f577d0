"""Graph order (aedc.ir.topology): the depth-first back edges and the first cycle, pinned on small
graphs where the search order decides the answer, and checked against a plain recursive DFS; networkx
stays out of ``import aedc``.
"""

from __future__ import annotations

import subprocess
import sys

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from aedc.frontend.builder import Network
from aedc.ir import Graph
from aedc.ir.topology import dfs_back_edges, topo_order, zero_latency_cycle

Edge = tuple[str, str]


def oracle_back_edges(order: list[str], edges: list[Edge]) -> list[tuple[Edge, tuple[str, ...]]]:
    """Recursive DFS: roots in ``order``, successors in first-appearance order of ``edges``."""
    succ: dict[str, list[str]] = {n: [] for n in order}
    for s, d in edges:
        succ.setdefault(s, [])
        succ.setdefault(d, [])
        if d not in succ[s]:
            succ[s].append(d)
    done: set[str] = set()
    path: list[str] = []
    found: list[tuple[Edge, tuple[str, ...]]] = []

    def visit(n: str) -> None:
        path.append(n)
        for m in succ[n]:
            if m in path:
                found.append(((n, m), (*path[path.index(m):], m)))
            elif m not in done:
                visit(m)
        path.pop()
        done.add(n)

    for n in succ:
        if n not in done:
            visit(n)
    return found


def test_back_edges_depend_on_the_search_order() -> None:
    edges = [("a", "b"), ("b", "a"), ("b", "c"), ("c", "b")]
    assert list(dfs_back_edges(["a", "b", "c"], edges)) == [(("b", "a"), ("a", "b", "a")),
                                                            (("c", "b"), ("b", "c", "b"))]
    # from c: c -> b -> a, then a -> b and b -> c close cycles
    assert list(dfs_back_edges(["c", "a", "b"], edges)) == [(("a", "b"), ("b", "a", "b")),
                                                            (("b", "c"), ("c", "b", "c"))]
    # successors in edge order, not by name: from a, c is searched before b
    assert [e for e, _ in dfs_back_edges(["a", "b", "c"], [("a", "c"), ("a", "b"), ("b", "a"),
                                                           ("c", "a")])] == [("c", "a"), ("b", "a")]
    assert list(dfs_back_edges(["a"], [("a", "a")])) == [(("a", "a"), ("a", "a"))]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from("abcdef"), min_size=1, unique=True),
       st.lists(st.tuples(st.sampled_from("abcdef"), st.sampled_from("abcdef")), max_size=14))
def test_back_edges_match_a_recursive_dfs_and_cut_every_cycle(order: list[str], edges: list[Edge]) -> None:
    found = list(dfs_back_edges(order, edges))
    assert found == oracle_back_edges(order, edges)
    rest = nx.DiGraph([e for e in edges if e not in {b for b, _ in found}])
    assert nx.is_directed_acyclic_graph(rest)


def _graph(names: str, projs: list[tuple[str, str, int]]) -> Graph:
    """Populations in the order of ``names`` (``x`` an input, the others linear); ``(pre, post, delay)``."""
    net = Network("g")
    for n in names:
        if n == "x":
            net.input(n, 1)
        else:
            net.population(n, 1, "linear")
    for i, (a, b, d) in enumerate(projs):
        net.identity(a, b, name=f"{a}{b}{i}", delay=d)
    return net.build(check=False)


def test_first_cycle_follows_projection_order() -> None:
    # from a (the first name), c comes first in projection order, so a -> c -> a is met before a -> b -> a
    g = _graph("xabc", [("x", "a", 0), ("a", "c", 0), ("a", "b", 0), ("b", "a", 0), ("c", "a", 0)])
    assert zero_latency_cycle(g) == ["a", "c", "a"]
    # a delayed projection is not searched
    g = _graph("xabc", [("x", "a", 0), ("a", "c", 1), ("a", "b", 0), ("b", "a", 0), ("c", "a", 0)])
    assert zero_latency_cycle(g) == ["a", "b", "a"]
    assert zero_latency_cycle(_graph("xab", [("x", "a", 0), ("a", "b", 0), ("b", "a", 1)])) is None


def test_topo_order_is_graph_order_first_not_name_order_nor_fifo() -> None:
    # ready after x: c and b, graph order takes c (by name it would be b); a waits for c
    g = _graph("xcba", [("x", "b", 0), ("x", "c", 0), ("c", "a", 0)])
    assert topo_order(g) == ("x", "c", "b", "a")
    # a FIFO queue fed in projection order would give x, c, b, a
    g = _graph("xbca", [("x", "c", 0), ("c", "a", 0), ("x", "b", 0)])
    assert topo_order(g) == ("x", "b", "c", "a")


def test_importing_aedc_does_not_import_networkx() -> None:
    code = ("import sys, aedc, aedc.cli, aedc.passes, aedc.ir.topology, aedc.frontend.nir_structure, "
            "aedc.routing.trees\nprint([m for m in sys.modules if m.split('.')[0] == 'networkx'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
