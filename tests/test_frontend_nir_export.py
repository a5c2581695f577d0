"""to_nir / write_nir: the round trip NIR → IR → NIR keeps every parameter of every node.

The generated model holds every NIR 1.0 node type, a nested subgraph addressed with dotted names, a
recurrent edge, a node with two inputs and an Output fed by two nodes. Profile: nir-euler, dt = 1e-4.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nir
import numpy as np
import pytest

from aedc.errors import UnsupportedNodeError
from aedc.frontend import Network, NIRVersionWarning, from_nir, raw_from_nir, read_nir, to_nir, write_nir
from aedc.frontend.nir_structure import flatten
from aedc.ir import Conv2d, Graph, Projection

F32 = np.float32
RNG = np.random.default_rng(7)


def rand(*shape: int) -> np.ndarray:
    return RNG.uniform(0.5, 1.5, shape).astype(F32)


def every_node_model() -> nir.NIRGraph:
    sub = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([10])}),
        "lif": nir.LIF(tau=rand(10) * 1e-2, r=rand(10), v_leak=rand(10) - 1, v_threshold=rand(10),
                       v_reset=rand(10) - 1),
        "rec": nir.Linear(weight=rand(10, 10) * 0.1),
        "output": nir.Output(output_type={"output": np.array([10])}),
    }, edges=[("input", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")], type_check=False)
    nodes: dict[str, Any] = {
        "in": nir.Input(input_type={"input": np.array([2, 8, 8])}),
        "conv": nir.Conv2d(input_shape=(8, 8), weight=rand(4, 2, 3, 3), stride=2, padding=1, dilation=1,
                           groups=1, bias=rand(4)),
        "if1": nir.IF(r=rand(4, 4, 4), v_threshold=rand(4, 4, 4), v_reset=rand(4, 4, 4) - 1),
        "sum": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
        "avg": nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
        "thr": nir.Threshold(threshold=rand(4, 2, 2)),
        "flat": nir.Flatten(input_type={"input": np.array([4, 2, 2])}, start_dim=0, end_dim=-1),
        "fc": nir.Affine(weight=rand(10, 16), bias=rand(10)),
        "sub": sub,
        "scale": nir.Scale(scale=rand(10)),
        "delay": nir.Delay(delay=np.full(10, 2e-3, F32)),
        "cuba": nir.CubaLIF(tau_syn=rand(10) * 1e-3, tau_mem=rand(10) * 1e-2, r=rand(10), v_leak=rand(10),
                            v_threshold=rand(10), v_reset=rand(10), w_in=rand(10)),
        "lin": nir.Linear(weight=rand(6, 10)),
        "li": nir.LI(tau=rand(6) * 1e-2, r=rand(6), v_leak=rand(6)),
        "c1": nir.Conv1d(input_shape=5, weight=rand(3, 2, 3), stride=1, padding="same", dilation=1,
                         groups=1, bias=rand(3)),
        "cubali": nir.CubaLI(tau_syn=rand(3, 5) * 1e-3, tau_mem=rand(3, 5) * 1e-2, r=rand(3, 5),
                             v_leak=rand(3, 5), w_in=rand(3, 5)),
        "integ": nir.I(r=rand(3, 5)),
        "out": nir.Output(output_type={"output": np.array([6])}),
        "out2": nir.Output(output_type={"output": np.array([3, 5])}),
        "spikes": nir.Output(output_type={"output": np.array([10])}),
    }
    edges = [("in", "conv"), ("conv", "if1"), ("if1", "sum"), ("if1", "avg"), ("sum", "thr"), ("avg", "thr"),
             ("thr", "flat"), ("flat", "fc"), ("fc", "sub.input"), ("sub", "scale"), ("scale", "delay"),
             ("delay", "cuba"), ("cuba", "lin"), ("lin", "li"), ("li", "out"), ("cuba", "c1"),
             ("c1", "cubali"), ("cubali", "integ"), ("integ", "out2"), ("cubali", "out2"),
             ("sub.lif", "spikes")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def _same(field: str, a: Any, b: Any) -> bool:
    """Exactly equal (scalars may come back broadcast); Delay seconds are ticks·dt, so to rounding."""
    if isinstance(a, str) or isinstance(b, str):
        return bool(a == b)
    a, b = np.asarray(a), np.asarray(b)
    if field == "delay":
        return bool(np.allclose(a, b, rtol=1e-6, atol=0))
    a = a.reshape(b.shape) if a.size == b.size else np.broadcast_to(a, b.shape)  # (5,) vs 5
    return a.dtype.kind == b.dtype.kind and bool(np.array_equal(a, b))


def test_round_trip_keeps_every_parameter_of_every_node() -> None:
    original = every_node_model()
    flat = flatten(raw_from_nir(original))
    graph = from_nir(original)
    exported = to_nir(graph)
    assert set(exported.nodes) == set(flat.nodes)
    for name, node in flat.nodes.items():
        out = exported.nodes[name]
        assert type(out).__name__ == node.type, name
        data = out.to_dict()
        assert set(node.fields) <= set(data) | {"input_type", "shape"}, name
        for field, value in node.fields.items():
            got = data.get(field)
            if node.type in ("Input", "Output") and field == "shape":
                got = data["shape"]
            if field == "input_type":
                got = np.asarray(out.input_type["input"])
            assert got is not None, (name, field)
            assert _same(field, value, got), (name, field, value, got)
    assert set(exported.edges) == set(flat.edges)
    regraph = from_nir(exported)
    assert regraph.populations == graph.populations
    assert regraph.projections == graph.projections
    assert regraph.outputs == graph.outputs


def test_round_trip_graph_facts() -> None:
    graph = from_nir(every_node_model())
    assert graph.projection("sub.rec").back_edge  # sub.lif → sub.rec: the cut leaves the neuron
    assert sum(p.back_edge for p in graph.projections) == 1
    assert graph.projection("delay").delay == 20  # 2 ms at dt = 1e-4
    assert [p.name for p in graph.incoming("thr")] == ["avg->thr", "sum->thr"]
    assert graph.outputs == {"out": "li", "out2": "out2", "spikes": "sub.lif"}
    assert graph.population("c1").shape == (3, 5)
    assert graph.population("conv").shape == (4, 4, 4)  # (8 + 2 - 3) // 2 + 1 = 4
    exported = to_nir(graph)
    np.testing.assert_allclose(exported.nodes["delay"].delay, np.full(10, 2e-3), rtol=1e-6)
    assert exported.nodes["c1"].padding == "same"
    assert exported.nodes["flat"].end_dim == -1


def test_write_then_read_back_with_nir_and_ours(tmp_path: Path) -> None:
    graph = from_nir(every_node_model())
    path = tmp_path / "every.nir"
    write_nir(graph, path)
    loaded = nir.read(path, type_check=False)
    assert isinstance(loaded.nodes["sub.lif"], nir.LIF)
    assert set(loaded.nodes) == set(to_nir(graph).nodes)
    raw = read_nir(path)  # version is the installed nir's: no warning
    assert raw.version == nir.version
    again = from_nir(path)
    assert again.populations == graph.populations
    assert again.projections == graph.projections
    assert again.outputs == graph.outputs


def test_cnn_export_passes_nirs_own_type_check(tmp_path: Path) -> None:
    with pytest.warns(NIRVersionWarning):
        graph = from_nir(Path(__file__).parent / "data" / "nir_paper" / "02_cnn" / "cnn_sinabs.nir")
    write_nir(graph, tmp_path / "cnn.nir")
    loaded = nir.read(tmp_path / "cnn.nir")  # type_check=True
    assert list(loaded.nodes["0"].output_type["output"]) == [16, 16, 16]
    assert from_nir(tmp_path / "cnn.nir").populations == graph.populations


def _fused() -> Graph:
    """What a fuse pass leaves: a dense projection straight between two LIF populations, with bias."""
    net = Network("fused")
    net.input("x", 3)
    net.population("a", 3, "lif", tau=0.01)
    net.population("b", 2, "lif", tau=0.02, bias=np.array([0.25, -0.5]))
    net.identity("x", "a")
    net.dense("a", "b", np.arange(6).reshape(2, 3), delay=2)
    net.output("y", "b")
    return net.build()


def test_projection_of_a_fused_graph_becomes_its_own_node() -> None:
    g = _fused()
    with pytest.raises(UnsupportedNodeError, match="population 'b' has a non-zero bias"):
        to_nir(g)  # the only dense projection has a delay: the bias cannot ride on it
    g = g.evolve(projections=tuple(p.evolve(delay=0) for p in g.projections))
    exported = to_nir(g)
    fc = exported.nodes["a->b"]
    assert isinstance(fc, nir.Affine)
    np.testing.assert_array_equal(fc.weight, np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(fc.bias, [0.25, -0.5])
    assert set(exported.edges) == {("x", "a"), ("a", "a->b"), ("a->b", "b"), ("b", "y")}
    back = from_nir(exported)
    np.testing.assert_array_equal(back.population("a->b").neuron.bias, [0.25, -0.5])


def test_delayed_projection_gets_a_delay_node() -> None:
    net = Network("delayed")
    net.input("x", 3)
    net.population("a", 3, "lif", tau=0.01)
    net.population("b", 2, "lif", tau=0.02)
    net.identity("x", "a", delay=3)
    net.dense("a", "b", np.ones((2, 3)), delay=2)
    net.output("y", "b")
    exported = to_nir(net.build())
    assert isinstance(exported.nodes["x->a"], nir.Delay)
    np.testing.assert_allclose(exported.nodes["x->a"].delay, np.full(3, 3e-4), rtol=1e-6)
    assert isinstance(exported.nodes["a->b#delay"], nir.Delay)
    assert ("a->b", "a->b#delay") in exported.edges
    back = from_nir(exported)
    assert back.projection("x->a").delay == 3
    assert back.projection("a->b#delay").delay == 2


def test_unsupported_exports_say_why() -> None:
    net = Network("relu")
    net.input("x", 2)
    net.population("h", 2, "relu")
    net.identity("x", "h")
    with pytest.raises(UnsupportedNodeError, match="population 'h': neuron model 'relu' has no NIR"):
        to_nir(net.build())
    conv = Network("pad")
    conv.input("x", (1, 4, 4))
    conv.population("c", (1, 2, 2), "lif", tau=0.01)
    g = conv.build(check=False)
    proj = Projection(name="k", pre="x", post="c", conn=Conv2d(
        weight=np.ones((1, 1, 3, 3), F32), in_shape=(1, 4, 4), stride=(2, 2), padding=((0, 1), (0, 1))))
    with pytest.raises(UnsupportedNodeError, match=r"'k': padding \(\(0, 1\), \(0, 1\)\) is asymmetric"):
        to_nir(g.evolve(projections=(proj,)))
