"""The shared strategies (tests/strategies.py) keep their promises: valid graphs within the size limits,
every model/kind/profile/event rule drawn, recurrent edges with latency, exact weights, inputs."""

from __future__ import annotations

import collections

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import DRAWN_PROFILES, KINDS, MODELS, SPIKING_MODELS, graphs, graphs_with_inputs, inputs_for

from aedc.ir import PROFILES, Graph, Pool2d, verify

COVERAGE = settings(max_examples=300, deadline=None, derandomize=True, database=None)


def _features(g: Graph) -> set[str]:
    f = {f"model:{p.neuron.model}" for p in g.populations}
    f |= {f"rule:{p.event_rule}" for p in g.populations}
    f |= {f"kind:{p.conn.kind}" for p in g.projections}
    f |= {f"profile:{g.semantics.profile}"}
    for p in g.projections:
        if p.back_edge:
            f.add("back_edge")
        if p.delay:
            f.add("delay")
        if p.pre == p.post:
            f.add("self_loop")
        if isinstance(p.conn, Pool2d):
            f.add(f"pool:{p.conn.mode}")
        conv_pad = getattr(p.conn, "padding", ())
        if any(a != b for a, b in conv_pad):
            f.add(f"asymmetric_padding:{p.conn.kind}")
        if getattr(p.conn, "groups", 1) > 1 and p.conn.kind != "pool2d":
            f.add(f"groups:{p.conn.kind}")
        if max(getattr(p.conn, "stride", (1,))) > 1:
            f.add(f"stride:{p.conn.kind}")
        if max(getattr(p.conn, "dilation", (1,))) > 1:
            f.add(f"dilation:{p.conn.kind}")
    counts = collections.Counter(p.post for p in g.projections)
    if counts and max(counts.values()) > 1:
        f.add("fan_in")
    if len(g.inputs) > 1:
        f.add("several_inputs")
    return f


def test_graphs_cover_every_model_kind_rule_and_profile() -> None:
    seen: collections.Counter[str] = collections.Counter()

    @COVERAGE
    @given(graphs())
    def collect(g: Graph) -> None:
        assert verify(g) is g
        assert 2 <= len(g.populations) <= 8
        assert all(p.size <= 64 for p in g.populations)
        assert g.outputs
        assert set(g.outputs.values()) <= {p.name for p in g.populations if not p.is_input}
        for p in g.populations:
            if p.event_rule == "sigma_delta":
                assert p.event_threshold > 0
        seen.update(_features(g))

    collect()
    want = {f"model:{m}" for m in ("input", *MODELS)} | {f"kind:{k}" for k in KINDS}
    want |= {f"rule:{r}" for r in ("binary", "graded", "sigma_delta")}
    want |= {f"profile:{p}" for p in DRAWN_PROFILES}
    want |= {"back_edge", "delay", "self_loop", "fan_in", "several_inputs", "pool:sum", "pool:avg"}
    want |= {f"{what}:{k}" for what in ("asymmetric_padding", "groups", "stride", "dilation")
             for k in ("conv1d", "conv2d")}
    want |= {"asymmetric_padding:pool2d", "stride:pool2d"}
    assert want - set(seen) == set()
    # not merely present once: every model and kind shows up in a fair share of graphs
    assert min(seen[f"model:{m}"] for m in MODELS) >= 15
    assert min(seen[f"kind:{k}"] for k in KINDS) >= 15


@settings(max_examples=60, deadline=None)
@given(graphs(models=("lif", "threshold"), kinds=("conv2d", "pool2d"), recurrent=False, max_pops=4,
              max_size=32, profiles=("sinabs",)))
def test_graph_options_are_respected(g: Graph) -> None:
    assert {p.neuron.model for p in g.populations} <= {"input", "lif", "threshold"}
    # dense appears only as the documented fallback when a conv/pool cannot fit
    assert {p.conn.kind for p in g.projections} <= {"conv2d", "pool2d", "dense"}
    assert all(p.latency == 0 or p.delay or p.back_edge for p in g.projections)
    assert all(p.shape and len(p.shape) == 3 for p in g.populations if p.is_input)
    assert len(g.populations) <= 4
    assert all(p.size <= 32 for p in g.populations)
    assert g.semantics == PROFILES["sinabs"]


@settings(max_examples=40, deadline=None)
@given(graphs(recurrent=False))
def test_non_recurrent_graphs_are_acyclic(g: Graph) -> None:
    dg = nx.MultiDiGraph()
    dg.add_nodes_from(p.name for p in g.populations)
    dg.add_edges_from((p.pre, p.post) for p in g.projections)
    assert nx.is_directed_acyclic_graph(dg)


@settings(max_examples=60, deadline=None)
@given(graphs_with_inputs(T=6, exact_weights=True, models=SPIKING_MODELS, dt=1e-3))
def test_exact_weights_and_inputs(case: tuple[Graph, dict[str, np.ndarray]]) -> None:
    g, inputs = case
    assert g.semantics.dt == 1e-3
    for proj in g.projections:
        w = getattr(proj.conn, "weight", None)
        if w is not None:
            assert w.dtype == np.float32
            k = w.astype(np.float64) * 8
            np.testing.assert_array_equal(k, np.round(k))
            assert np.abs(k).max(initial=0) <= 16
        if isinstance(proj.conn, Pool2d) and proj.conn.mode == "avg":
            assert proj.conn.weight_value() in (1.0, 0.5, 0.25)
    for pop in g.populations:
        for name in ("tau", "tau_syn", "tau_mem"):
            if hasattr(pop.neuron, name):
                tau = getattr(pop.neuron, name)
                assert tau.min() >= np.float32(1e-3) * (1 - 1e-6)
                assert tau.max() <= np.float32(1e-1) * (1 + 1e-6)
        if hasattr(pop.neuron, "v_threshold"):
            assert pop.neuron.v_threshold.min() > 0
    assert set(inputs) == set(g.inputs)
    for name, arr in inputs.items():
        pop = g.population(name)
        assert arr.dtype == np.float32
        assert arr.shape == (6, *pop.shape)
        if pop.event_rule == "binary":
            assert set(np.unique(arr).tolist()) <= {0.0, 1.0}
        else:
            k = arr.astype(np.float64) * 8
            np.testing.assert_array_equal(k, np.round(k))


@pytest.mark.parametrize("rate", [0.0, 1.0])
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_inputs_for_binary_rate(rate: float, data: st.DataObject) -> None:
    g = data.draw(graphs(max_pops=3, max_inputs=2))
    inputs = data.draw(inputs_for(g, 4, rate=rate))
    assert set(inputs) == set(g.inputs)
    for name, arr in inputs.items():
        assert arr.shape == (4, *g.population(name).shape)
        if g.population(name).event_rule == "binary":
            assert np.all(arr == rate)


def test_bad_options_are_rejected() -> None:
    for kwargs, message in [({"models": ("hodgkin_huxley",)}, "unknown model"),
                            ({"kinds": ("conv3d",)}, "unknown model"),
                            ({"max_pops": 1}, "min_pops")]:
        @settings(max_examples=1, database=None)
        @given(graphs(**kwargs))
        def draw_one(g: Graph) -> None:
            raise AssertionError("unreachable")

        with pytest.raises(ValueError, match=message):
            draw_one()
