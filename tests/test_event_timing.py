"""µs accounting of the event-driven schedule (aedc.timing.event_time), against time lines worked by hand.

The cost model in these tests runs at 1 MHz, so one cycle is one µs and every number below can be
followed on paper: packet 10, synaptic word 1, spike sent 3 per destination QPE, neuron 5 per step.
"""

from __future__ import annotations

import numpy as np
import pytest

from aedc.emulator import Emulator, PlacedProgram, Schedule
from aedc.errors import TimingError
from aedc.frontend.builder import Network
from aedc.ir import Graph
from aedc.machine import PECost

F32 = np.float32
COST = PECost(clock_mhz=1.0, cycles_per_packet=10, cycles_per_synapse=1, cycles_per_spike=3,
              cycles_per_neuron=5)


def chain(delay: int = 0) -> Graph:
    """x → a → b, one Threshold neuron each (a spike in, a spike out, no state)."""
    net = Network("chain")
    net.input("x", 1)
    net.population("a", 1, "threshold", threshold=0.5)
    net.population("b", 1, "threshold", threshold=0.5)
    net.dense("x", "a", np.ones((1, 1), F32), delay=delay)
    net.dense("a", "b", np.ones((1, 1), F32))
    net.output("y", "b")
    return net.build()


def run(graph: Graph, x: np.ndarray, **timing: object) -> dict[str, object]:
    sched = Schedule.event_driven(cost=COST, **{"link_us": 2, **timing})  # type: ignore[arg-type]
    res = Emulator(PlacedProgram.trivial(graph), sched).run({"x": x})
    met: dict[str, object] = res.metrics
    return met


def test_chain_time_line_by_hand() -> None:
    """Step 0, spike on x. a's PE: timer 5 µs; its packet leaves at 0 and arrives at 2, so micro-step 0
    runs 5 → 19 (packet 10 + word 1 + one spike sent 3). b's PE: timer 5; a's spike arrives at 19 + 2
    = 21; micro-step 1 runs 21 → 32 (packet 10 + word 1; b sends nowhere). Step 1 has no input: timer
    work only."""
    met = run(chain(), np.array([[1.0], [0.0]], F32))
    assert met["first_output"] == (0, 1)
    assert met["first_output_us"] == pytest.approx(32.0)
    assert met["decision_us"] == pytest.approx(32.0)
    assert met["decision_latency_us"] == pytest.approx(32.0)
    np.testing.assert_allclose(met["step_makespan_us"], [32.0, 5.0])
    # PE order of the trivial placement: x, a, b
    np.testing.assert_allclose(met["busy_us_per_pe"], [0.0, 2 * 5 + 14, 2 * 5 + 11])
    np.testing.assert_allclose(met["busy_fraction_per_pe"], np.array([0.0, 24, 21]) / 2000)
    assert met["queue_depth_max"] == 1
    assert met["deadline_misses"] == 0


def test_slow_noc_and_short_steps_miss_deadlines() -> None:
    """With a 20 µs link x's packet reaches a at 20 (after its timer work): a runs 20 → 34, b 54 → 65;
    a 40 µs step is missed."""
    met = run(chain(), np.array([[1.0], [0.0]], F32), link_us=20, period_us=40)
    assert met["decision_us"] == pytest.approx(65.0)
    np.testing.assert_allclose(met["step_makespan_us"], [65.0, 5.0])
    assert met["deadline_misses"] == 1


def test_delayed_events_are_held_and_cost_no_noc_time() -> None:
    """With delay 1 on x → a the spike of step 0 is integrated in step 1's micro-step 0, taken from the
    history right after the timer work: 1005 → 1019 on a's PE, b 1021 → 1032."""
    met = run(chain(delay=1), np.array([[1.0], [0.0]], F32))
    assert met["first_output"] == (1, 1)
    assert met["decision_us"] == pytest.approx(1032.0)
    assert met["decision_latency_us"] == pytest.approx(32.0)
    np.testing.assert_allclose(met["step_makespan_us"], [5.0, 32.0])


def test_queue_depth_counts_packets_of_one_micro_step() -> None:
    """Three input neurons fire into one Threshold neuron: one PE integrates 3 packets (3 words) in
    micro-step 0: 5 + 3·10 + 3 = 38 µs, plus 3 for its spike to b; b runs 41 + 2 = 43 → 54."""
    net = Network("fan-in")
    net.input("x", 3)
    net.population("a", 1, "threshold", threshold=2.5)
    net.population("b", 1, "threshold", threshold=0.5)
    net.dense("x", "a", np.ones((1, 3), F32))
    net.dense("a", "b", np.ones((1, 1), F32))
    net.output("y", "b")
    met = run(net.build(), np.array([[1.0, 1.0, 1.0]], F32))
    assert met["queue_depth_max"] == 3
    np.testing.assert_array_equal(met["queue_depth_max_per_pe"], [0, 3, 1])
    assert met["decision_us"] == pytest.approx(54.0)


def test_the_time_line_is_a_function_of_the_trace() -> None:
    """An excitatory 3-layer network without bias fires the same spikes in the same micro-steps layered
    and unlayered (the contract's special case), so both runs get the same time line."""
    rng = np.random.default_rng(3)
    net = Network("mlp")
    net.input("x", 12)
    net.population("h1", 10, "threshold", threshold=0.8)
    net.population("h2", 8, "threshold", threshold=0.8)
    net.population("o", 3, "threshold", threshold=0.8)
    net.dense("x", "h1", rng.uniform(0, 0.6, (10, 12)).astype(F32))
    net.dense("h1", "h2", rng.uniform(0, 0.5, (8, 10)).astype(F32))
    net.dense("h2", "o", rng.uniform(0, 0.5, (3, 8)).astype(F32))
    net.output("y", "o")
    g = net.build()
    x = (rng.random((6, 12)) < 0.6).astype(F32)
    free = run(g, x)
    layered = Emulator(PlacedProgram.trivial(g), Schedule.event_driven(cost=COST, link_us=2, layered=True)
                       ).run({"x": x}).metrics
    assert free["events_total"] > 20  # type: ignore[operator]
    for key in ("first_output", "first_output_us", "decision_us", "queue_depth_max"):
        assert free[key] == layered[key], key
    for key in ("busy_us_per_pe", "step_makespan_us"):
        np.testing.assert_array_equal(free[key], layered[key])
    assert np.all(np.asarray(free["busy_us_per_pe"])[1:] > 0)  # the input PE costs nothing


def test_default_cost_model_and_bad_timing_fields() -> None:
    """The default model is SpiNNaker2's documented 150 MHz with 12.5 cycles per synapse (12 M synaptic
    events/s); a negative cost is refused."""
    sched = Schedule.event_driven()
    assert sched.cost.clock_mhz == 150.0
    assert 150.0 / sched.cost.cycles_per_synapse == pytest.approx(12.0)
    with pytest.raises(ValueError, match="cycles_per_packet"):
        PECost(cycles_per_packet=-1)
    with pytest.raises(TimingError):
        Schedule.event_driven(events_per_step=-1)


def test_receive_queue_overflow_is_counted_per_pe_tick() -> None:
    """300 input spikes in one tick onto one PE: 300 packets, more than the chip runtime's 256-entry
    receive queue (the chip would drop 44 of them); 200 the next tick fit."""
    from aedc.partition.memory import PACKET_QUEUE_LEN

    net = Network("flood")
    net.input("x", 300)
    net.population("h", 4, "threshold", threshold=1e9)
    net.dense("x", "h", np.ones((4, 300), F32))
    net.output("y", "h")
    g = net.build()
    x = np.zeros((3, 300), F32)
    x[0] = 1.0
    x[1, :200] = 1.0
    met = Emulator(PlacedProgram.trivial(g)).run({"x": x}).metrics
    assert PACKET_QUEUE_LEN == 256
    assert met["rx_packets_max_per_tick"] == 300
    np.testing.assert_array_equal(met["rx_packets_max_per_pe"], [0, 300])
    assert met["rx_queue_overflow_pe_ticks"] == 1
