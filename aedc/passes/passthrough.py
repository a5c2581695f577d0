"""Removing one pass-through population by composing the projections around it (shared by fold-scale and
fuse-affine).

A pass-through population ``L`` (``LinearModel``, graded events, not a graph output) emits
``y(t) = Σ_i A_i·x_i(t - lat(A_i)) + b`` every tick, instantaneously. For every outgoing ``B_j: L → post_j``
its contribution to ``post_j`` is ``B_j·y(t - lat(B_j))``. Replacing ``L`` by the projections
``pre_i → post_j`` with connectivity ``B_j ∘ A_i`` and latency ``lat(A_i) + lat(B_j)`` reproduces every
term except the bias ``B_j·b``; that one is a constant that ``post_j`` receives from tick
``lat(B_j)`` on, so it can be added to ``post_j``'s own bias only when ``lat(B_j) = 0``. With a non-zero
bias and a delayed or recurrent ``B_j``, ``L`` is kept.

Latency of a composed projection: ``delay = A.delay + B.delay``, ``back_edge = A.back_edge or
B.back_edge``; if both are back-edges one tick moves into ``delay`` so the total stays
``lat(A) + lat(B)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from aedc.ir.graph import Graph, Population, Projection
from aedc.ir.neurons import LinearModel
from aedc.passes.compose import AnyConn, CannotCompose, apply_to_vector, compose


def passthrough_problem(graph: Graph, pop: Population) -> str | None:
    """Why ``pop`` is not a removable pass-through population, or None if it is one."""
    if not isinstance(pop.neuron, LinearModel):
        return f"model '{pop.neuron.model}' is not a linear pass-through"
    if pop.event_rule != "graded":
        return f"event rule '{pop.event_rule}' is not a plain pass-through (needs 'graded')"
    ports = sorted(port for port, name in graph.outputs.items() if name == pop.name)
    if ports:
        return f"it is read by output {', '.join(repr(p) for p in ports)}"
    if any(p.pre == pop.name for p in graph.incoming(pop.name)):
        return "it projects onto itself"
    if not graph.outgoing(pop.name):
        return "it has no outgoing projection (dce removes it)"
    return None


def _unique(base: str, taken: set[str]) -> str:
    name, k = base, 2
    while name in taken:
        name, k = f"{base}#{k}", k + 1
    taken.add(name)
    return name


def _combined(name: str, a: Projection, b: Projection, conn: AnyConn) -> Projection:
    both = a.back_edge and b.back_edge
    return Projection(name=name, pre=a.pre, post=b.post, conn=conn,
                      delay=a.delay + b.delay + int(both), back_edge=a.back_edge or b.back_edge,
                      meta={"fused_from": f"{a.name}*{b.name}"})


def fuse_population(graph: Graph, name: str, *, max_dense: int) -> Graph:
    """``graph`` without the pass-through population ``name``; :class:`CannotCompose` says why not.

    Composed projections are named ``"pre->post"`` (``"#2"``, ``"#3"``, … appended if taken) and take
    the place of the outgoing projection they come from; for one outgoing projection they follow the
    order of the incoming ones. Populations keep their order.
    """
    pop = graph.population(name)
    problem = passthrough_problem(graph, pop)
    if problem:
        raise CannotCompose(problem)
    pops = graph.pop_map()
    ins, outs = graph.incoming(name), graph.outgoing(name)
    bias = np.asarray(pop.neuron.bias, np.float64).ravel()
    has_bias = bool(np.any(bias != 0.0))
    if has_bias:
        late = [b for b in outs if b.latency]
        if late:
            raise CannotCompose(f"it has a non-zero bias and projection '{late[0].name}' has latency "
                                f"{late[0].latency}: the bias would reach '{late[0].post}' "
                                f"{late[0].latency} tick(s) late")

    composed: dict[str, list[tuple[Projection, AnyConn]]] = {}
    for b in outs:
        post_shape = pops[b.post].shape
        composed[b.name] = [(a, compose(a.conn, b.conn, pops[a.pre].shape, pop.shape, post_shape,
                                        max_dense=max_dense)) for a in ins]

    extra_bias: dict[str, np.ndarray] = {}
    if has_bias:
        for b in outs:
            post = pops[b.post]
            contrib = apply_to_vector(b.conn, bias, pop.shape, post.shape)
            extra_bias[b.post] = extra_bias.get(b.post, 0.0) + contrib

    removed = {p.name for p in ins} | {p.name for p in outs}
    taken = {p.name for p in graph.projections if p.name not in removed}
    projections: list[Projection] = []
    for proj in graph.projections:
        if proj.name in composed:
            for a, conn in composed[proj.name]:
                name_ = _unique(f"{a.pre}->{proj.post}", taken)
                projections.append(_combined(name_, a, proj, conn))
        elif proj.name not in removed:
            projections.append(proj)

    populations = [_add_bias(p, extra_bias[p.name]) if p.name in extra_bias else p
                   for p in graph.populations if p.name != name]
    return graph.evolve(populations=tuple(populations), projections=tuple(projections))


def _add_bias(pop: Population, extra: np.ndarray) -> Population:
    old = np.asarray(pop.neuron.bias, np.float64)
    new = (old + np.asarray(extra, np.float64).reshape(old.shape)).astype(np.float32)
    return pop.evolve(neuron=pop.neuron.evolve(bias=new))


def fuse_all(graph: Graph, select: Callable[[Graph, Population], bool], *,
             max_dense: int) -> tuple[Graph, dict[str, str]]:
    """Fuse every population ``select`` picks, in graph order, sweeping until nothing changes.

    Returns the new graph and, for every selected population that is still there, why it was kept.
    """
    kept: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        kept = {}
        for name in [p.name for p in graph.populations]:
            pops = graph.pop_map()
            if name not in pops or not select(graph, pops[name]):
                continue
            try:
                graph = fuse_population(graph, name, max_dense=max_dense)
                changed = True
            except CannotCompose as exc:
                kept[name] = str(exc)
    return graph, kept
