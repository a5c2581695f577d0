"""The graph passes preserve behaviour: reference-simulate before and after, compare the outputs exactly.

Oracle: :func:`aedc.reference.simulate` (layer-synchronous NumPy, float32). Exactness: all weights and
biases are small dyadic rationals (k/8) and inputs are binary or k/8, so every float32 sum the simulator
forms — whatever the order and whether a pass-through population sits in between or its weights were
multiplied into the next projection — is exact. Fused weights are computed in float64 and rounded to
float32 once, which for these values is also exact. So the traces of the output populations (and the
membrane state of every population that survives) must be *equal*, not just close.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import graphs, inputs_for
from test_passes_helpers import binary_input, dyadic, raw_cnn, raw_mlp_with_scale

from aedc.ir import Graph
from aedc.passes import DEFAULT_PIPELINE, CompileState, PassContext, parse_pipeline
from aedc.reference import simulate

F32 = np.float32


def compiled(graph: Graph, spec: str = DEFAULT_PIPELINE) -> Graph:
    return parse_pipeline(spec).run(CompileState(graph), PassContext()).graph


def assert_same_behaviour(before: Graph, after: Graph, inputs: dict[str, np.ndarray]) -> None:
    assert before.outputs == after.outputs
    a, b = simulate(before, inputs), simulate(after, inputs)
    for pop in sorted(set(before.outputs.values())):
        np.testing.assert_array_equal(b.outputs[pop], a.outputs[pop], err_msg=f"output population {pop}")
    for name, variables in b.state.items():  # every surviving stateful population, not only outputs
        for var, trace in variables.items():
            np.testing.assert_array_equal(trace, a.state[name][var], err_msg=f"{name}.{var}")


@pytest.mark.parametrize("spec", ["fold-scale", "fuse-affine", "dce", DEFAULT_PIPELINE])
def test_mlp_with_scale_and_dead_branch(spec: str) -> None:
    g = raw_mlp_with_scale(seed=2)
    x = {"x": binary_input((6,), 24, rate=0.4)}
    after = compiled(g, spec)
    assert_same_behaviour(g, after, x)
    assert simulate(g, x).outputs["lif2"].sum() > 0  # the output actually spikes


def test_cnn_fused() -> None:
    g = raw_cnn(channels=(4, 4, 2), size=18, hidden=16, classes=4)
    x = {"input": binary_input((2, 18, 18), 12, rate=0.3)}
    after = compiled(g)
    assert len(after.populations) == 6
    assert_same_behaviour(g, after, x)
    trace = simulate(after, x)
    assert all(trace.outputs[p].sum() > 0 for p in ("1", "3", "6", "10", "12"))  # every layer is active


def test_avg_pool_and_scale_chain() -> None:
    """Scale → AvgPool → Conv → Delay chain; the delay lands on the fused projection."""
    from aedc.frontend.builder import Network

    rng = np.random.default_rng(5)
    net = Network("chain", dt=1e-3)
    net.input("x", (2, 8, 8))
    net.population("a", (2, 8, 8), "threshold", threshold=0.5)
    net.identity("x", "a")
    net.population("scale", (2, 8, 8), "linear")
    net.one_to_one("a", "scale", np.repeat(np.array([0.5, 2.0], F32), 64))
    net.population("pool", (2, 4, 4), "linear")
    net.pool2d("scale", "pool", 2, mode="avg")
    net.population("conv", (3, 4, 4), "linear", bias=np.repeat(dyadic(rng, (3,), 2), 16).reshape(3, 4, 4))
    net.conv2d("pool", "conv", dyadic(rng, (3, 2, 3, 3), 16), padding=1)
    net.population("delay", (3, 4, 4), "linear")
    net.identity("conv", "delay")  # bias passes the delay-free edge, then:
    net.population("b", (3, 4, 4), "lif", tau=4e-3, v_threshold=0.25)
    net.identity("delay", "b", delay=2)
    net.output("y", "b")
    g = net.build()
    after = compiled(g)
    x = {"x": binary_input((2, 8, 8), 16, rate=0.5)}
    # 'delay' carries conv's bias through a delayed projection: it must stay, the rest fuses
    assert sorted(after.pop_map()) == ["a", "b", "delay", "x"]
    assert_same_behaviour(g, after, x)
    assert simulate(g, x).outputs["b"].sum() > 0


def test_recurrent_pass_through() -> None:
    """A linear population inside a recurrent loop: the back-edge latency moves onto the fused edge."""
    from aedc.frontend.builder import Network

    rng = np.random.default_rng(9)
    net = Network("rec", dt=1e-3)
    net.input("x", 4)
    net.population("h", 5, "lif", tau=3e-3, v_threshold=0.25)
    net.population("rec", 5, "linear", bias=dyadic(rng, (5,), 1))
    net.dense("x", "h", dyadic(rng, (5, 4), 16))
    net.dense("h", "rec", dyadic(rng, (5, 5), 16), back_edge=True)
    net.identity("rec", "h")
    net.output("y", "h")
    g = net.build()
    after = compiled(g)
    assert "rec" not in after.pop_map()
    assert after.projection("h->h").back_edge
    x = {"x": binary_input((4,), 30, rate=0.3)}
    assert_same_behaviour(g, after, x)


EXACT_MODELS = ("lif", "cuba_lif", "if", "threshold", "linear", "linear", "linear")
"""Spiking models (binary, exact payloads) plus, drawn more often, the linear pass-through the passes
remove."""


def _exact_passthrough(graph: Graph, seed: int) -> Graph:
    """Make a drawn graph exact and give the passes work to do.

    Dyadic biases everywhere (zero on half of the linear populations, so delayed projections out of
    them do not block fusion); linear populations mostly graded (sigma-delta ones are never fused);
    the outputs are the spiking populations when there are any (a linear output is never fused).
    """
    rng = np.random.default_rng(seed)
    pops = []
    for p in graph.populations:
        if p.is_input:
            pops.append(p)
            continue
        linear = p.neuron.model == "linear"
        bias = np.zeros(p.shape, F32) if linear and rng.random() < 0.5 else dyadic(rng, p.shape, 2)
        p = p.evolve(neuron=p.neuron.evolve(bias=bias))
        if p.event_rule == "sigma_delta" and rng.random() < 0.75:
            p = p.evolve(event_rule="graded", event_threshold=0.0)
        pops.append(p)
    spiking = sorted(p.name for p in pops if p.neuron.SPIKING)
    outputs = {f"y{i}": name for i, name in enumerate(spiking)} if spiking else graph.outputs
    return graph.evolve(populations=tuple(pops), outputs=outputs)


def _value_cycle(graph: Graph) -> bool:
    """Whether a cycle runs through non-spiking populations only: around it values are multiplied by
    weights again every tick, their dyadic denominators grow without bound and float32 stops being
    exact (fusing moves the rounding, so traces may differ in the last bit). A spiking population on
    the cycle emits 0/1 and keeps everything exact."""
    pops = graph.pop_map()
    succ: dict[str, set[str]] = {}
    for pr in graph.projections:
        if not pops[pr.post].neuron.SPIKING:
            succ.setdefault(pr.pre, set()).add(pr.post)
    for start in succ:
        if pops[start].neuron.SPIKING:
            continue
        seen: set[str] = set()
        stack = list(succ[start])
        while stack:
            n = stack.pop()
            if n == start:
                return True
            if n not in seen:
                seen.add(n)
                stack.extend(succ.get(n, ()))
    return False


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.filter_too_much])
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_random_graphs_keep_their_behaviour(data: st.DataObject, seed: int) -> None:
    """Random graphs (every connectivity kind, delays, back-edges through spiking populations)."""
    graph = data.draw(graphs(max_pops=7, exact_weights=True, models=EXACT_MODELS, max_size=32))
    assume(not _value_cycle(graph))
    graph = _exact_passthrough(graph, seed)
    inputs = data.draw(inputs_for(graph, 10, exact=True))
    after = compiled(graph)
    assert_same_behaviour(graph, after, inputs)


def test_the_nir_paper_cnn_with_its_own_weights() -> None:
    """Real weights are not dyadic, so only the spikes are compared exactly (they agree for this input)
    and the membrane potentials to float32 rounding."""
    nir_import = pytest.importorskip("aedc.frontend.nir_import", reason="frontend not landed")
    candidates = [Path(__file__).parent / "data/nir_paper/02_cnn/cnn_sinabs.nir",
                  Path(__file__).resolve().parents[2] / "shared/data/nir_paper/02_cnn/cnn_sinabs.nir"]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        pytest.skip(f"NIR paper CNN not found at {[str(p) for p in candidates]}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = nir_import.from_nir(path, profile="sinabs")
    after = compiled(g)
    x = {"input": (np.random.default_rng(0).random((6, 2, 34, 34)) < 0.2).astype(F32)}
    a, b = simulate(g, x), simulate(after, x)
    for pop in ("1", "3", "6", "10", "12"):
        np.testing.assert_array_equal(b.outputs[pop], a.outputs[pop], err_msg=pop)
        np.testing.assert_allclose(b.state[pop]["v"], a.state[pop]["v"], rtol=0, atol=1e-4)
    assert a.outputs["12"].sum() > 0
