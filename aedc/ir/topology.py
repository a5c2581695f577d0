"""Graph order: which population must be computed before which inside one tick."""

from __future__ import annotations

import heapq

from aedc.ir.graph import Graph


def zero_latency_cycle(graph: Graph) -> list[str] | None:
    """A cycle of populations joined only by zero-latency projections, or ``None`` if there is none."""
    succ: dict[str, list[str]] = {p.name: [] for p in graph.populations}
    for pr in graph.projections:
        if pr.latency == 0 and pr.pre in succ and pr.post in succ:
            succ[pr.pre].append(pr.post)
    colour: dict[str, int] = dict.fromkeys(succ, 0)
    for start in sorted(succ):
        if colour[start]:
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = []
        while stack:
            node, i = stack.pop()
            if i == 0:
                colour[node] = 1
                path.append(node)
            if i < len(succ[node]):
                stack.append((node, i + 1))
                nxt = succ[node][i]
                if colour[nxt] == 1:
                    return [*path[path.index(nxt):], nxt]
                if colour[nxt] == 0:
                    stack.append((nxt, 0))
            else:
                colour[node] = 2
                path.pop()
    return None


def topo_order(graph: Graph) -> tuple[str, ...]:
    """Populations ordered so every zero-latency projection goes forward; ties keep graph order.

    Assumes :func:`zero_latency_cycle` is ``None`` (the verifier guarantees it).
    """
    index = {p.name: i for i, p in enumerate(graph.populations)}
    indeg = dict.fromkeys(index, 0)
    succ: dict[str, list[str]] = {n: [] for n in index}
    for pr in graph.projections:
        if pr.latency == 0 and pr.pre in index and pr.post in index:
            succ[pr.pre].append(pr.post)
            indeg[pr.post] += 1
    ready = [(index[n], n) for n, d in indeg.items() if d == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, n = heapq.heappop(ready)
        order.append(n)
        for m in succ[n]:
            indeg[m] -= 1
            if indeg[m] == 0:
                heapq.heappush(ready, (index[m], m))
    if len(order) != len(index):
        raise ValueError("graph has a zero-latency cycle")
    return tuple(order)
