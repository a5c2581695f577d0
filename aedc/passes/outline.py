"""A stable, sorted, one-line-per-item text form of a graph's structure (for golden tests and dumps).

    pop conv1 if (16, 16, 16) binary
    proj conv1 -> conv2 'conv1->conv2' conv2d w=(16, 16, 3, 3) stride=(1, 1) pad=((1, 1), (1, 1)) delay=0

Populations are sorted by name, projections by (pre, post, name). Weights are summarised by shape, not
printed; two graphs with equal outlines have the same structure, not necessarily the same numbers.
"""

from __future__ import annotations

from aedc.ir.connectivity import Conv1d, Conv2d, Dense, OneToOne, Pool2d, Sparse
from aedc.ir.graph import Graph, Projection


def _conn(proj: Projection) -> str:
    c = proj.conn
    if isinstance(c, Dense):
        return f"dense w={tuple(c.weight.shape)}"
    if isinstance(c, Sparse):
        return f"sparse {c.n_post}x{c.n_pre} nnz={c.pre.size}"
    if isinstance(c, Conv2d | Conv1d):
        extra = f" dil={c.dilation}" if max(c.dilation) > 1 else ""
        extra += f" groups={c.groups}" if c.groups > 1 else ""
        return f"{c.kind} w={tuple(c.weight.shape)} stride={c.stride} pad={c.padding}{extra}"
    if isinstance(c, Pool2d):
        return f"pool2d {c.mode} k={c.kernel} stride={c.stride} pad={c.padding}"
    if isinstance(c, OneToOne):
        return f"one_to_one n={c.weight.size}"
    return c.kind


def outline(graph: Graph) -> str:
    """The text form described in the module docstring, ending in a newline."""
    outputs: dict[str, list[str]] = {}
    for port, name in graph.outputs.items():
        outputs.setdefault(name, []).append(port)
    lines = []
    for p in sorted(graph.populations, key=lambda p: p.name):
        tag = f" output={','.join(sorted(outputs[p.name]))}" if p.name in outputs else ""
        lines.append(f"pop {p.name} {p.neuron.model} {tuple(p.shape)} {p.event_rule}{tag}")
    for pr in sorted(graph.projections, key=lambda p: (p.pre, p.post, p.name)):
        back = " back" if pr.back_edge else ""
        lines.append(f"proj {pr.pre} -> {pr.post} '{pr.name}' {_conn(pr)} delay={pr.delay}{back}")
    return "\n".join(lines) + "\n"
