"""Builders of *raw* graphs as the NIR frontend produces them, for the pass tests (no tests in here).

Raw convention: every linear NIR node (Affine, Conv, Pool, Scale, Delay, Flatten) is a pass-through
``linear`` population (graded events, ``meta["nir_type"]``, bias = the node's bias or zeros) fed by one
projection per incoming NIR edge that carries the op; an edge out of it is an identity projection.

Weights are small dyadic rationals ``k/8`` (and inputs binary), so every float32 sum the reference
simulator forms — before and after fusing — is exact, whatever the order: the traces can be compared
for exact equality.
"""

from __future__ import annotations

import numpy as np

from aedc.frontend.builder import Network
from aedc.ir import Graph

F32 = np.float32


def dyadic(rng: np.random.Generator, shape: tuple[int, ...], k: int = 8) -> np.ndarray:
    """Weights ``j/8`` with ``|j| <= k`` (exact float32 arithmetic in any order)."""
    return (rng.integers(-k, k + 1, size=shape) / 8).astype(F32)


def with_meta(graph: Graph, meta: dict[str, dict[str, str]]) -> Graph:
    """``graph`` with population metadata set (the builder has no ``meta`` argument)."""
    pops = tuple(p.evolve(meta=meta[p.name]) if p.name in meta else p for p in graph.populations)
    return graph.evolve(populations=pops)


def linear(net: Network, name: str, shape: int | tuple[int, ...], bias: object = 0.0) -> str:
    return net.population(name, shape, "linear", bias=bias)


def raw_cnn(*, channels: tuple[int, int, int] = (16, 16, 8), size: int = 34, hidden: int = 256,
            classes: int = 10, seed: int = 0, bias: bool = True) -> Graph:
    """The NIR paper's sinabs CNN in raw form (defaults: its exact shapes), random dyadic weights.

    Input(2,S,S) → Conv(5x5,s2,p1) → IF → Conv(3x3,p1) → IF → SumPool(2) → Conv(3x3,p1) → IF → SumPool(2)
    → Flatten → Affine → IF → Affine → IF → Output; NIR node names '0'…'12' as in the file.
    """
    rng = np.random.default_rng(seed)
    c1, c2, c3 = channels
    net = Network("cnn_raw", profile="sinabs")
    net.input("input", (2, size, size))
    s1 = (size + 2 - 5) // 2 + 1
    s2 = s1 // 2
    s3 = s2 // 2
    flat = c3 * s3 * s3

    def b(n: int, shape: tuple[int, ...]) -> np.ndarray:
        vals = dyadic(rng, (n,), 2) if bias else np.zeros(n, F32)
        return np.broadcast_to(vals.reshape(n, *([1] * (len(shape) - 1))), shape).astype(F32)

    linear(net, "0", (c1, s1, s1), b(c1, (c1, s1, s1)))
    net.conv2d("input", "0", dyadic(rng, (c1, 2, 5, 5)), stride=2, padding=1)
    net.population("1", (c1, s1, s1), "if", v_threshold=1.0)
    net.identity("0", "1")
    linear(net, "2", (c1, s1, s1), b(c1, (c1, s1, s1)))
    net.conv2d("1", "2", dyadic(rng, (c2, c1, 3, 3)), padding=1)
    net.population("3", (c2, s1, s1), "if", v_threshold=1.0)
    net.identity("2", "3")
    linear(net, "4", (c2, s2, s2))
    net.pool2d("3", "4", 2)
    linear(net, "5", (c3, s2, s2), b(c3, (c3, s2, s2)))
    net.conv2d("4", "5", dyadic(rng, (c3, c2, 3, 3)), padding=1)
    net.population("6", (c3, s2, s2), "if", v_threshold=1.0)
    net.identity("5", "6")
    linear(net, "7", (c3, s3, s3))
    net.pool2d("6", "7", 2)
    linear(net, "8", flat)
    net.identity("7", "8")
    linear(net, "9", hidden, b(hidden, (hidden,)))
    net.dense("8", "9", dyadic(rng, (hidden, flat)))
    net.population("10", hidden, "if", v_threshold=1.0)
    net.identity("9", "10")
    linear(net, "11", classes, b(classes, (classes,)))
    net.dense("10", "11", dyadic(rng, (classes, hidden)))
    net.population("12", classes, "if", v_threshold=1.0)
    net.identity("11", "12")
    net.output("output", "12")
    types = {"0": "Conv2d", "2": "Conv2d", "4": "SumPool2d", "5": "Conv2d", "7": "SumPool2d",
             "8": "Flatten", "9": "Affine", "11": "Affine"}
    return with_meta(net.build(), {k: {"nir_type": v} for k, v in types.items()})


def raw_mlp_with_scale(*, seed: int = 0) -> Graph:
    """Input(6) → Affine(8) → LIF → Scale → Affine(4) → LIF → Output, plus a dead branch off the LIF."""
    rng = np.random.default_rng(seed)
    net = Network("mlp_raw", dt=1e-3)
    net.input("x", 6)
    linear(net, "fc1", 8, dyadic(rng, (8,), 2))
    net.dense("x", "fc1", dyadic(rng, (8, 6)))
    net.population("lif1", 8, "lif", tau=2e-3, v_threshold=0.5)
    net.identity("fc1", "lif1")
    linear(net, "scale", 8)
    net.one_to_one("lif1", "scale", dyadic(rng, (8,)))
    linear(net, "fc2", 4, dyadic(rng, (4,), 2))
    net.dense("scale", "fc2", dyadic(rng, (4, 8), 16))
    net.population("lif2", 4, "lif", tau=4e-3, v_threshold=0.125)
    net.identity("fc2", "lif2")
    net.population("probe", 8, "li", tau=4e-3)  # reaches no output: dce removes it
    net.identity("lif1", "probe")
    net.output("y", "lif2")
    return with_meta(net.build(), {"fc1": {"nir_type": "Affine"}, "scale": {"nir_type": "Scale"},
                                   "fc2": {"nir_type": "Affine"}})


def binary_input(shape: tuple[int, ...], steps: int, *, rate: float = 0.3, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((steps, *shape)) < rate).astype(F32)
