"""Graph structure of a NIR model: flatten nested graphs, find back-edges, order the nodes.

Flattening: an inner node ``lif`` of subgraph ``sub`` becomes ``sub.lif``. A subgraph's own ``Input``
and ``Output`` nodes are *aliases*: each edge into an alias is joined to each edge out of it, and the
alias disappears. An inner ``Input`` that nothing feeds (or an inner ``Output`` that feeds nothing) is
kept as a real graph input (output port), so a graph that is one big subgraph still has inputs.

Back-edges: NIR edges are instantaneous, so a cycle must be cut somewhere for a tick-based executor.
A depth-first search from the ``Input`` nodes (sorted by name, successors sorted by name, then every
unvisited node by name) over the zero-latency edges finds each edge that closes a cycle; the IR delivers
the value of a cut edge one tick later. Edges into a ``Delay`` of at least one tick already carry
latency and are not searched, so a loop through a Delay is never delayed twice. The search is networkx's
(:func:`aedc.ir.topology.dfs_back_edges`), and so is the node order (its lexicographical topological
sort); networkx is imported inside those functions, not with this module.

Where the cut goes (:func:`recurrent_cuts`): on the edge *out of the last stateful node* (a neuron with
state) before the closing edge on its cycle, not on the closing edge itself. What is delayed is the
neuron's output ``z(t-1)``; the stateless ops after it on the loop (a recurrent Affine) are applied in
the same tick, so their bias applies from tick 0 — as in snnTorch's ``RLeaky``, where
``mem ← β·mem + x + W·z(t-1) + b`` (DESIGN.md: "only the weighted value is delayed"). For
``lif → w_rec → lif`` the cut is ``lif → w_rec``, and fuse-affine moves ``w_rec``'s bias into ``lif``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from aedc.errors import NIRFormatError
from aedc.frontend.nir_reader import RawGraph, RawNode, resolve_endpoint
from aedc.ir.topology import dfs_back_edges

Edge = tuple[str, str]


@dataclass(frozen=True)
class FlatGraph:
    """A NIR graph without nesting: dotted node names, no alias nodes, edges sorted."""

    nodes: Mapping[str, RawNode]
    edges: tuple[Edge, ...]

    def preds(self, name: str) -> tuple[str, ...]:
        return tuple(s for s, d in self.edges if d == name)

    def succs(self, name: str) -> tuple[str, ...]:
        return tuple(d for s, d in self.edges if s == name)


def _collect(graph: RawGraph, prefix: str, nodes: dict[str, RawNode], edges: list[Edge],
             aliases: list[str]) -> None:
    for name, node in graph.nodes.items():
        full = prefix + name
        if node.subgraph is not None:
            _collect(node.subgraph, full + ".", nodes, edges, aliases)
            continue
        if full in nodes:
            raise NIRFormatError(f"node name '{full}' is used twice once nested graphs are flattened; "
                                 f"rename one of them", where=full)
        nodes[full] = node
        if prefix and node.type in ("Input", "Output"):
            aliases.append(full)
    for src, dst in graph.edges:
        s, d = resolve_endpoint(graph, src, "src"), resolve_endpoint(graph, dst, "dst")
        assert s is not None, src  # the reader checked every edge end
        assert d is not None, dst
        edges.append((prefix + s, prefix + d))


def flatten(graph: RawGraph) -> FlatGraph:
    """Flatten nested graphs into one level with dotted names and contract subgraph Input/Output."""
    nodes: dict[str, RawNode] = {}
    edges: list[Edge] = []
    aliases: list[str] = []
    _collect(graph, "", nodes, edges, aliases)
    for alias in sorted(aliases):
        preds = [s for s, d in edges if d == alias]
        succs = [d for s, d in edges if s == alias]
        if (nodes[alias].type == "Input" and not preds) or (nodes[alias].type == "Output" and not succs):
            continue  # a real input / output port of the whole model
        edges = [e for e in edges if alias not in e] + [(p, s) for p in preds for s in succs]
        del nodes[alias]
    dup = sorted(e for e, n in Counter(edges).items() if n > 1)
    if dup:
        raise NIRFormatError(f"edge {dup[0][0]!r} -> {dup[0][1]!r} appears twice once nested graphs "
                             f"are flattened", where=dup[0][1])
    return FlatGraph(nodes=MappingProxyType(nodes), edges=tuple(sorted(edges)))


def back_edges(nodes: Iterable[str], edges: Iterable[Edge],
               roots: Iterable[str]) -> dict[Edge, tuple[str, ...]]:
    """Edges closing a cycle in a DFS from ``roots`` (then all nodes) by name → the cycle they close.

    Successors are searched by name; the dict lists the edges in the order the search meets them.
    """
    return dict(dfs_back_edges([*sorted(roots), *sorted(set(nodes))], sorted(set(edges))))


def topo_order(nodes: Iterable[str], edges: Iterable[Edge]) -> tuple[str, ...]:
    """Topological order of an acyclic edge set, ties broken by name.

    The lexicographically smallest order by name (``networkx.lexicographical_topological_sort``): at
    each step the smallest name whose predecessors are all placed.
    """
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(sorted(set(nodes)))
    g.add_edges_from(set(edges))
    try:
        return tuple(nx.lexicographical_topological_sort(g))
    except nx.NetworkXUnfeasible:
        raise AssertionError("topo_order needs an acyclic edge set") from None


def recurrent_cuts(nodes: Iterable[str], edges: Iterable[Edge], roots: Iterable[str],
                   stateful: Iterable[str]) -> dict[Edge, tuple[str, ...]]:
    """The edges to cut so that ``edges`` has no cycle → the cycle each one cuts.

    Each back-edge ``(u, v)`` of :func:`back_edges` closes a cycle ``v → … → u → v``; its cut is moved
    back along that cycle to the edge leaving the last ``stateful`` node before ``u`` (``(u, v)``
    itself when ``u`` is stateful or the cycle has no stateful node). Moved cuts may leave another
    cycle uncut (one that shared the closing edge), so the search repeats on the remaining edges until
    none is left; every round cuts at least one edge of a remaining cycle.
    """
    node_list, edge_list, root_list = sorted(set(nodes)), sorted(set(edges)), sorted(roots)
    state = set(stateful)
    cuts: dict[Edge, tuple[str, ...]] = {}
    while True:
        left = [e for e in edge_list if e not in cuts]
        found = back_edges(node_list, left, root_list)
        if not found:
            return cuts
        for cycle in found.values():
            path = cycle[:-1]  # v, ..., u of the back-edge (u, v)
            last = max((i for i, n in enumerate(path) if n in state), default=len(path) - 1)
            cut = (path[last], cycle[last + 1])
            cuts.setdefault(cut, cycle[last:-1] + cycle[:last + 1])
