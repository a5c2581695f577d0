"""Fast mode (matmuls, XLA convolutions, unfenced products) against the reference.

Documented condition for equality: every synaptic sum exact in float32 in any order — dyadic weights
(k/8, |k| ≤ 16) and spiking models, so every payload is 0/1 (tests/strategies.py ``exact_weights``).
Outside that condition fast mode differs by float32 rounding of the sums, which the last test shows.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from strategies import SPIKING_MODELS, graphs_with_inputs
from test_emulator_async import all_back_edges
from test_emulator_sync import mismatches

from aedc.emulator import Emulator, Schedule
from aedc.frontend.builder import Network
from aedc.ir import Graph
from aedc.reference import simulate


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(graphs_with_inputs(T=8, exact_weights=True, models=SPIKING_MODELS,
                          kinds=("dense", "conv2d", "conv1d", "pool2d", "sparse")))
def test_fast_mode_equals_reference_when_sums_are_exact(case: tuple[Graph, dict[str, np.ndarray]]) -> None:
    graph, inputs = case
    assert mismatches(Emulator(graph, exact=False).run(inputs), simulate(graph, inputs)) == []
    asyn = Emulator(graph, Schedule.asynchronous(link_us=10), exact=False).run(inputs)
    assert mismatches(asyn, simulate(all_back_edges(graph), inputs)) == []


def test_fast_mode_rounds_differently_on_arbitrary_weights() -> None:
    # 300 graded inputs into one linear neuron: the order of a float32 sum of 300 arbitrary products
    # matters, so the exact path agrees with the reference and the matmul need not.
    rng = np.random.default_rng(0)
    net = Network("sum", dt=1.0)
    net.input("in", 300, event_rule="graded")
    net.population("y", 1, "linear")
    net.dense("in", "y", rng.standard_normal((1, 300)).astype(np.float32))
    graph = net.build()
    x = {"in": rng.standard_normal((20, 300)).astype(np.float32)}
    ref = simulate(graph, x).outputs["y"]
    assert np.array_equal(Emulator(graph).run(x).outputs["y"], ref)
    fast = Emulator(graph, exact=False).run(x).outputs["y"]
    np.testing.assert_allclose(fast, ref, rtol=1e-5, atol=1e-5)
    assert not np.array_equal(fast, ref)
