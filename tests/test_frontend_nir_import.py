"""from_nir on small hand-built NIR graphs: shapes, summed inputs, nesting, recurrence, delays, dt.

Graphs are built with the ``nir`` package (``type_check=False``: NIR's own type inference is what is not
trusted here). Profile: nir-euler (dt = 1e-4) unless a test names another.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import h5py
import nir
import numpy as np
import pytest

from aedc.errors import NIRFormatError
from aedc.frontend import NIRImportWarning, NIRVersionWarning, from_nir, read_nir
from aedc.frontend.nir_reader import raw_from_nir
from aedc.ir.connectivity import Conv1d, Conv2d, Dense, Identity, OneToOne, Pool2d, Sparse, same_padding
from aedc.ir.neurons import (
    CubaLIFModel,
    CubaLIModel,
    IFModel,
    IntegratorModel,
    LIFModel,
    LIModel,
    LinearModel,
    ThresholdModel,
)

F32 = np.float32


def lif(n: int | tuple[int, ...], tau: float = 0.01) -> nir.LIF:
    shape = (n,) if isinstance(n, int) else n
    return nir.LIF(tau=np.full(shape, tau, F32), r=np.ones(shape, F32), v_leak=np.zeros(shape, F32),
                   v_threshold=np.ones(shape, F32), v_reset=np.zeros(shape, F32))


def graph(nodes: dict[str, nir.NIRNode], edges: list[tuple[str, str]]) -> nir.NIRGraph:
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def inp(*shape: int) -> nir.Input:
    return nir.Input(input_type={"input": np.array(shape)})


def out(*shape: int) -> nir.Output:
    return nir.Output(output_type={"output": np.array(shape)})


def test_same_padding_with_stride_2_gives_ceil_n_over_s() -> None:
    """8×8 input, 3×3 kernel, stride 2, 'same': out = ceil(8/2) = 4; total pad (4-1)·2 + 3 - 8 = 1 → (0, 1).

    NIR's own inference keeps 8 (wrong); so does its stored output_type.
    """
    conv = nir.Conv2d(input_shape=(8, 8), weight=np.ones((4, 2, 3, 3), F32), stride=2, padding="same",
                      dilation=1, groups=1, bias=np.zeros(4, F32))
    assert list(conv.output_type["output"]) == [4, 8, 8]  # NIR's answer
    g = from_nir(graph({"x": inp(2, 8, 8), "c": conv, "y": out(4, 4, 4)}, [("x", "c"), ("c", "y")]))
    assert g.population("c").shape == (4, 4, 4)
    c = g.projection("c").conn
    assert isinstance(c, Conv2d)
    assert c.padding == ((0, 1), (0, 1))
    assert c.padding_spec == "same"
    assert same_padding(8, 3, 2, 1) == (0, 1)
    # 7×7: out 4, total pad 3·2 + 3 - 7 = 2 → (1, 1)
    conv7 = nir.Conv2d(input_shape=(7, 7), weight=np.ones((1, 1, 3, 3), F32), stride=2, padding="same",
                       dilation=1, groups=1, bias=np.zeros(1, F32))
    g7 = from_nir(graph({"x": inp(1, 7, 7), "c": conv7, "y": out(1)}, [("x", "c"), ("c", "y")]))
    assert g7.population("c").shape == (1, 4, 4)
    assert g7.projection("c").conn.padding == ((1, 1), (1, 1))  # type: ignore[union-attr]


def test_valid_padding_conv1d_and_avgpool_shapes() -> None:
    conv = nir.Conv1d(input_shape=10, weight=np.ones((3, 2, 4), F32), stride=3, padding="valid",
                      dilation=2, groups=1, bias=np.arange(3, dtype=F32))
    pool = nir.AvgPool2d(kernel_size=np.array([3, 3]), stride=np.array([2, 2]), padding=np.array([1, 1]))
    g = from_nir(graph({"x": inp(2, 10), "c": conv, "y": out(3, 2), "im": inp(2, 9, 9), "p": pool,
                        "z": out(2, 5, 5)},
                       [("x", "c"), ("c", "y"), ("im", "p"), ("p", "z")]))
    # (10 - 2·(4-1) - 1) // 3 + 1 = 2
    assert g.population("c").shape == (3, 2)
    assert isinstance(g.projection("c").conn, Conv1d)
    np.testing.assert_array_equal(g.population("c").neuron.bias, [[0, 0], [1, 1], [2, 2]])
    # (9 + 2 - 3) // 2 + 1 = 5
    assert g.population("p").shape == (2, 5, 5)
    p = g.projection("p").conn
    assert isinstance(p, Pool2d)
    assert p.mode == "avg"
    assert p.weight_value() == pytest.approx(1 / 9)


def test_several_inputs_into_one_node_are_summed_projections() -> None:
    w = np.arange(6, dtype=F32).reshape(2, 3)
    fc = nir.Affine(weight=w, bias=np.array([0.5, -0.5], F32))
    g = from_nir(graph({"a": inp(3), "b": inp(3), "fc": fc, "n": lif(2), "m": lif(2), "y": out(2)},
                       [("a", "fc"), ("b", "fc"), ("fc", "n"), ("fc", "m"), ("n", "y"), ("m", "y")]))
    into_fc = g.incoming("fc")
    assert [p.name for p in into_fc] == ["fc[a]", "fc[b]"]
    for p in into_fc:
        assert isinstance(p.conn, Dense)
        np.testing.assert_array_equal(p.conn.weight, w)
        assert p.meta == {"nir_type": "Affine"}
    np.testing.assert_array_equal(g.population("fc").neuron.bias, [0.5, -0.5])  # bias once, not per input
    # Output fed by two nodes: a pass-through population named after it sums them
    assert g.outputs == {"y": "y"}
    ysum = g.population("y")
    assert isinstance(ysum.neuron, LinearModel)
    assert ysum.meta == {"nir_type": "Output"}
    assert [(p.name, p.conn.kind) for p in g.incoming("y")] == [("m->y", "identity"), ("n->y", "identity")]
    with pytest.raises(NIRFormatError, match=r"node 'fc' \(Affine\): weight \(2, 3\) expects 3 inputs"):
        from_nir(graph({"a": inp(3), "b": inp(4), "fc": fc, "y": out(2)},
                       [("a", "fc"), ("b", "fc"), ("fc", "y")]))


def test_population_and_projection_order() -> None:
    """Topological order, ties by name; projections by (post, pre, name)."""
    g = from_nir(graph({"z": inp(2), "a": inp(2), "p": lif(2), "q": lif(2), "y": out(2)},
                       [("z", "q"), ("a", "q"), ("q", "p"), ("a", "p"), ("p", "y")]))
    assert [p.name for p in g.populations] == ["a", "z", "q", "p"]
    assert [p.name for p in g.projections] == ["a->q", "z->q", "a->p", "q->p"]


def nested() -> nir.NIRGraph:
    """in → fc → sub{input → lif ⇄ rec; lif → output} → sc → out; and sub.lif → spk (dotted)."""
    sub = graph({"input": inp(4), "lif": lif(4), "rec": nir.Linear(weight=np.eye(4, dtype=F32) * 0.5),
                 "output": out(4)},
                [("input", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")])
    return graph({"in": inp(3), "fc": nir.Affine(weight=np.ones((4, 3), F32), bias=np.zeros(4, F32)),
                  "sub": sub, "sc": nir.Scale(scale=np.arange(4, dtype=F32)), "out": out(4),
                  "spk": out(4)},
                 [("in", "fc"), ("fc", "sub.input"), ("sub", "sc"), ("sc", "out"), ("sub.lif", "spk")])


def test_nested_subgraph_is_flattened_with_dotted_names() -> None:
    g = from_nir(nested())
    assert [p.name for p in g.populations] == ["in", "fc", "sub.rec", "sub.lif", "sc"]
    assert g.outputs == {"out": "sc", "spk": "sub.lif"}
    edges = {(p.pre, p.post): p for p in g.projections}
    assert set(edges) == {("in", "fc"), ("fc", "sub.lif"), ("sub.lif", "sc"), ("sub.lif", "sub.rec"),
                          ("sub.rec", "sub.lif")}
    assert edges[("fc", "sub.lif")].name == "fc->sub.lif"  # the subgraph's Input is an alias
    assert edges[("sub.lif", "sc")].conn == OneToOne(weight=np.arange(4, dtype=F32))
    # recurrence: the DFS from 'in' reaches sub.lif → sub.rec → sub.lif; the cut is moved to the edge
    # leaving the neuron, so sub.rec (stateless) runs in the tick it is read
    assert edges[("sub.lif", "sub.rec")].back_edge
    assert not edges[("sub.rec", "sub.lif")].back_edge
    assert sum(p.back_edge for p in g.projections) == 1


def test_subgraph_name_as_edge_end_needs_one_port() -> None:
    sub = graph({"i1": inp(2), "i2": inp(2), "n": lif(2), "o": out(2)},
                [("i1", "n"), ("i2", "n"), ("n", "o")])
    with pytest.raises(NIRFormatError, match=r"'sub' is a subgraph with 2 Input nodes \['i1', 'i2'\]"):
        from_nir(graph({"x": inp(2), "sub": sub, "y": out(2)}, [("x", "sub"), ("sub", "y")]))
    g = from_nir(graph({"x1": inp(2), "x2": inp(2), "sub": sub, "y": out(2)},
                       [("x1", "sub.i1"), ("x2", "sub.i2"), ("sub", "y")]))
    assert [p.name for p in g.projections] == ["x1->sub.n", "x2->sub.n"]
    assert g.outputs == {"y": "sub.n"}


def test_delay_becomes_whole_ticks_and_breaks_a_loop() -> None:
    """lif → d (2 ms) → lif: at dt = 1e-4 that is 20 ticks; the loop needs no back-edge."""
    d = nir.Delay(delay=np.full(3, 2e-3, F32))
    g = from_nir(graph({"x": inp(3), "n": lif(3), "d": d, "y": out(3)},
                       [("x", "n"), ("n", "d"), ("d", "n"), ("n", "y")]))
    p = g.projection("d")
    assert (p.pre, p.post, p.conn, p.delay, p.back_edge) == ("n", "d", Identity(), 20, False)
    assert not any(q.back_edge for q in g.projections)
    assert g.population("d").meta == {"nir_type": "Delay"}
    with pytest.warns(NIRImportWarning, match=r"not a whole number of ticks at dt=0.0001; rounded to 3"):
        g2 = from_nir(graph({"x": inp(3), "d": nir.Delay(delay=np.full(3, 2.6e-4, F32)), "y": out(3)},
                            [("x", "d"), ("d", "y")]))
    assert g2.projection("d").delay == 3


def test_block_diagonal_affine_on_last_axis() -> None:
    """NIR applies an Affine to the last axis: input (3, 4), weight (2, 4) → output (3, 2)."""
    w = np.arange(8, dtype=F32).reshape(2, 4)
    g = from_nir(graph({"x": inp(3, 4), "fc": nir.Affine(weight=w, bias=np.array([1, 2], F32)),
                        "y": out(3, 2)}, [("x", "fc"), ("fc", "y")]))
    assert g.population("fc").shape == (3, 2)
    conn = g.projection("fc").conn
    assert isinstance(conn, Sparse)
    assert (conn.n_pre, conn.n_post, conn.pre.size) == (12, 6, 24)
    x = np.arange(12, dtype=F32)
    pre, post, weight = conn.to_coo((3, 4), (3, 2))
    y = np.zeros(6, F32)
    np.add.at(y, post, x[pre] * weight)
    np.testing.assert_array_equal(y.reshape(3, 2), x.reshape(3, 4) @ w.T)
    np.testing.assert_array_equal(g.population("fc").neuron.bias, [[1, 2]] * 3)


def test_affine_reads_a_multidimensional_input_flat_when_sizes_match() -> None:
    g = from_nir(graph({"x": inp(2, 2, 2), "fc": nir.Linear(weight=np.ones((5, 8), F32)), "y": out(5)},
                       [("x", "fc"), ("fc", "y")]))
    assert g.population("fc").shape == (5,)
    assert isinstance(g.projection("fc").conn, Dense)


def test_neuron_of_other_layout_but_same_size_is_an_identity_edge() -> None:
    g = from_nir(graph({"x": inp(2, 3), "a": lif((2, 3)), "b": lif(6), "y": out(6)},
                       [("x", "a"), ("a", "b"), ("b", "y")]))
    assert g.population("b").shape == (6,)
    assert g.projection("a->b").conn == Identity()


def test_scalar_parameters_broadcast_to_the_input_shape() -> None:
    node = nir.LIF(tau=np.array(0.02, F32), r=np.array(2.0, F32), v_leak=np.array(0.0, F32),
                   v_threshold=np.array(1.0, F32), v_reset=np.array(0.0, F32))
    g = from_nir(graph({"x": inp(2, 3), "n": node, "y": out(2, 3)}, [("x", "n"), ("n", "y")]))
    neuron = g.population("n").neuron
    assert isinstance(neuron, LIFModel)
    assert neuron.tau.shape == (2, 3)
    np.testing.assert_array_equal(neuron.r, np.full((2, 3), 2.0, F32))


def test_every_neuron_type_maps_to_its_model() -> None:
    a = np.full(2, 0.5, F32)
    nodes: dict[str, nir.NIRNode] = {
        "lif": lif(2), "cubalif": nir.CubaLIF(tau_syn=a, tau_mem=a, r=a, v_leak=a, v_threshold=a, v_reset=a,
                                              w_in=a * 4),
        "if_": nir.IF(r=a, v_threshold=a, v_reset=a), "li": nir.LI(tau=a, r=a, v_leak=a),
        "cubali": nir.CubaLI(tau_syn=a, tau_mem=a, r=a, v_leak=a, w_in=a), "i": nir.I(r=a),
        "thr": nir.Threshold(threshold=a)}
    edges = [("x", n) for n in nodes] + [(n, f"o_{n}") for n in nodes]
    g = from_nir(graph({"x": inp(2), **nodes, **{f"o_{n}": out(2) for n in nodes}}, edges))
    expect = {"lif": (LIFModel, "binary"), "cubalif": (CubaLIFModel, "binary"), "if_": (IFModel, "binary"),
              "li": (LIModel, "graded"), "cubali": (CubaLIModel, "graded"), "i": (IntegratorModel, "graded"),
              "thr": (ThresholdModel, "binary")}
    for name, (cls, rule) in expect.items():
        pop = g.population(name)
        assert isinstance(pop.neuron, cls)
        assert pop.event_rule == rule
        np.testing.assert_array_equal(pop.neuron.bias, np.zeros(2, F32))
    np.testing.assert_array_equal(g.population("cubalif").neuron.w_in, [2.0, 2.0])  # type: ignore[union-attr]
    assert g.population("thr").meta == {"nir_type": "Threshold"}


def test_snntorch_profile_infers_dt() -> None:
    """snnTorch exports r = τ_mem/dt and w_in = τ_syn/dt: τ_syn 5 ms, w_in 5 → dt = 1 ms."""
    def cuba(w_in: float) -> nir.CubaLIF:
        one = np.ones(3, F32)
        return nir.CubaLIF(tau_syn=one * 5e-3, tau_mem=one * 2e-2, r=one * 20, v_leak=one * 0,
                           v_threshold=one, v_reset=one * 0, w_in=one * w_in)

    def model(w_in: float) -> nir.NIRGraph:
        return graph({"x": inp(3), "n": cuba(w_in), "y": out(3)}, [("x", "n"), ("n", "y")])

    g = from_nir(model(5.0), profile="snntorch")
    assert g.semantics.dt == 1e-3
    assert g.meta["dt_source"] == "inferred"
    assert g.semantics.reset == "subtract"
    inconsistent = from_nir(model(4.0), profile="snntorch")
    assert inconsistent.semantics.dt == pytest.approx(1e-4)
    assert inconsistent.meta["dt_source"] == "profile"
    given = from_nir(model(5.0), profile="snntorch", dt=5e-4)
    assert given.semantics.dt == 5e-4
    assert given.meta["dt_source"] == "argument"
    assert from_nir(model(5.0)).semantics.dt == pytest.approx(1e-4)  # only snntorch infers


def test_input_event_rule_and_name() -> None:
    g = from_nir(graph({"x": inp(2), "n": lif(2), "y": out(2)}, [("x", "n"), ("n", "y")]),
                 input_event_rule="binary", name="tiny")
    assert g.population("x").event_rule == "binary"
    assert g.name == "tiny"
    assert g.meta["source"] == "<nir.NIRGraph>"


def test_raw_graph_source_and_legacy_input_type(tmp_path: Path) -> None:
    raw = raw_from_nir(graph({"x": inp(2), "n": lif(2), "y": out(2)}, [("x", "n"), ("n", "y")]))
    assert from_nir(raw).population("n").shape == (2,)
    path = tmp_path / "old.nir"
    with h5py.File(path, "w") as f:
        f.create_dataset("version", data="0.5.0", dtype=h5py.string_dtype())
        node = f.create_group("node")
        node.create_dataset("type", data="NIRGraph", dtype=h5py.string_dtype())
        node.create_dataset("edges", data=np.array([["x", "n"], ["n", "y"]], dtype=object),
                            dtype=h5py.string_dtype())
        nodes = node.create_group("nodes")
        x = nodes.create_group("x")
        x.create_dataset("type", data="Input", dtype=h5py.string_dtype())
        x.create_group("input_type").create_dataset("input", data=np.array([2]))  # no 'shape'
        n = nodes.create_group("n")
        n.create_dataset("type", data="IF", dtype=h5py.string_dtype())
        n.create_dataset("r", data=np.ones(2))
        n.create_dataset("v_threshold", data=np.ones(2))  # no v_reset (older files)
        y = nodes.create_group("y")
        y.create_dataset("type", data="Output", dtype=h5py.string_dtype())
    with pytest.warns(NIRVersionWarning, match=r"old\.nir: NIR file has version '0\.5\.0'"):
        g = from_nir(path)
    assert g.population("x").shape == (2,)
    np.testing.assert_array_equal(g.population("n").neuron.v_reset, [0, 0])  # type: ignore[union-attr]
    assert g.meta["nir_version"] == "0.5.0"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from_nir(raw)  # an in-memory graph is the installed nir's version: no warning
    with h5py.File(path, "a") as f:
        del f["version"]
    with pytest.warns(NIRVersionWarning, match="no version"):
        read_nir(path)


def test_two_levels_of_nesting_and_an_unfed_inner_input() -> None:
    """outer{input → inner{input → lif → output} → output}; edges use 'outer.inner.lif' paths.

    The whole model is one subgraph whose Input nothing feeds: it stays a real input, 'outer.input'.
    """
    inner = graph({"input": inp(2), "lif": lif(2), "output": out(2)},
                  [("input", "lif"), ("lif", "output")])
    outer = graph({"input": inp(2), "inner": inner, "li": nir.LI(tau=np.ones(2, F32), r=np.ones(2, F32),
                                                                 v_leak=np.zeros(2, F32)),
                   "output": out(2)},
                  [("input", "inner"), ("inner", "li"), ("li", "output")])
    g = from_nir(graph({"outer": outer, "probe": out(2)}, [("outer.inner.lif", "probe")]))
    assert [p.name for p in g.populations] == ["outer.input", "outer.inner.lif", "outer.li"]
    assert [p.name for p in g.projections] == ["outer.input->outer.inner.lif", "outer.inner.lif->outer.li"]
    assert g.outputs == {"outer.output": "outer.li", "probe": "outer.inner.lif"}
    assert g.inputs == ("outer.input",)
