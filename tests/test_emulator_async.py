"""Async mode: the documented timing model (see aedc.timing.schedule), jitter reproducibility, vmap.

Stated shift: with zero jitter, one period for every PE and NoC latency below one period, every
projection delivers one tick later than in sync mode (latency ``delay + 1`` instead of ``delay +
back_edge``). So async equals the reference simulator of the graph with every projection turned into a
back-edge, and in a bias-free, leak-free feed-forward chain a population at depth d (projections from
the input) fires exactly d ticks later than in sync mode: the NIR paper LIF (input → linear → LIF,
depth 2) fires at 462, 512, 712, 762 instead of 460, 510, 710, 760, its voltage trace shifted by 2.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from strategies import graphs_with_inputs
from test_emulator_sync import bits, mismatches

from aedc.emulator import Emulator, Schedule
from aedc.errors import EmulatorError
from aedc.frontend.builder import Network
from aedc.frontend.nir_import import from_nir
from aedc.ir import Graph
from aedc.reference import simulate

DATA = Path(__file__).parent / "data" / "nir_paper" / "01_lif"
ONE_TICK_LINKS = Schedule.asynchronous(period_us=1000, link_us=50, hop_us=20)


def all_back_edges(graph: Graph) -> Graph:
    return graph.evolve(projections=tuple(p.evolve(back_edge=True) for p in graph.projections))


def test_lif_shifts_by_its_depth_in_async_mode() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = from_nir(DATA / "lif_norse.nir", profile="nir-euler", dt=1e-4)
    x = np.loadtxt(DATA / "lif_norse.csv", delimiter=",")[:, :1]
    lif = graph.outputs["output"]
    sync = Emulator(graph).run({"input": x})
    asyn = Emulator(graph, ONE_TICK_LINKS).run({"input": x})
    assert asyn.spike_steps(lif).tolist() == [462, 512, 712, 762]
    v_sync, v_async = sync.state[lif]["v"][:, 0], asyn.state[lif]["v"][:, 0]
    assert np.array_equal(bits(v_async[2:]), bits(v_sync[:-2]))
    assert np.all(v_async[:2] == 0)
    assert asyn.metrics["first_output_tick"] == 462
    # the oracle can fail: sync is not shifted
    assert not np.array_equal(bits(v_sync[2:]), bits(v_sync[:-2]))


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(graphs_with_inputs(T=8))
def test_async_zero_jitter_equals_reference_with_one_tick_projections(
        case: tuple[Graph, dict[str, np.ndarray]]) -> None:
    graph, inputs = case
    emu = Emulator(graph, ONE_TICK_LINKS).run(inputs)
    assert mismatches(emu, simulate(all_back_edges(graph), inputs)) == []


def _counter() -> Graph:
    """input (1 binary neuron) → integrator with gain 1: v counts the input events it has used."""
    net = Network("counter", dt=1.0)
    net.input("in", 1)
    net.population("acc", 1, "integrator", r=1.0, bias=0.0)
    net.one_to_one("in", "acc", 1.0)
    return net.build()


def test_slow_receiver_takes_two_source_ticks_per_tick() -> None:
    # acc's PE (index 1) runs at half rate: its tick k' starts at 2000·k' µs and sees the source ticks
    # that arrived strictly before, i.e. source ticks 2k'−2 and 2k'−1 (latency 0): v = 0, 2, 4, 6; the
    # source stops after its 6 ticks, so the slow PE's last two ticks get nothing.
    graph = _counter()
    slow = Schedule.asynchronous(period_us=1000, pe_periods_us=((1, 2000),))
    res = Emulator(graph, slow).run({"in": np.ones((6, 1), np.float32)})
    assert res.state["acc"]["v"][:, 0].tolist() == [0, 2, 4, 6, 6, 6]
    assert res.tick_times[1].tolist() == [0, 2000, 4000, 6000, 8000, 10000]
    fast = Emulator(graph, Schedule.asynchronous(period_us=1000)).run({"in": np.ones((6, 1), np.float32)})
    assert fast.state["acc"]["v"][:, 0].tolist() == [0, 1, 2, 3, 4, 5]


def test_noc_latency_beyond_a_period_costs_a_tick() -> None:
    graph = _counter()
    x = {"in": np.ones((5, 1), np.float32)}
    far = Emulator(graph, Schedule.asynchronous(period_us=1000, link_us=1000)).run(x)
    # arrival at exactly the receiver's next tick start is not strictly before it: one more tick
    assert far.state["acc"]["v"][:, 0].tolist() == [0, 0, 1, 2, 3]


def test_jitter_is_reproducible_for_a_seed() -> None:
    graph = _counter()
    x = {"in": (np.arange(20)[:, None] % 3 == 0).astype(np.float32)}
    sched = Schedule.asynchronous(period_us=100, jitter_us=60, link_us=30, seed=3)
    a, b = Emulator(graph, sched).run(x), Emulator(graph, sched).run(x)
    assert np.array_equal(a.tick_times, b.tick_times)
    assert np.array_equal(bits(a.state["acc"]["v"]), bits(b.state["acc"]["v"]))
    other = Emulator(graph, Schedule.asynchronous(period_us=100, jitter_us=60, link_us=30, seed=4))
    assert not np.array_equal(other.run(x).tick_times, a.tick_times)
    # every event used at most once, none before it arrived
    assert a.state["acc"]["v"][-1, 0] <= x["in"].sum()


def test_jitter_must_be_below_the_period() -> None:
    with pytest.raises(EmulatorError, match="jitter"):
        Emulator(_counter(), Schedule.asynchronous(period_us=100, jitter_us=100)).run(
            {"in": np.ones((3, 1), np.float32)})


@pytest.mark.parametrize("schedule", [Schedule.sync(), Schedule.asynchronous(period_us=10, jitter_us=4)],
                         ids=["sync", "async-jitter"])
def test_vmap_batch_equals_per_sample_runs(schedule: Schedule) -> None:
    net = Network("rec", dt=1e-3)
    net.input("in", 6)
    net.population("h", 5, "lif", tau=0.01, r=1.0, v_leak=0.0, v_threshold=0.6, v_reset=0.0)
    net.population("o", 3, "relu", event_rule="sigma_delta", event_threshold=0.05)
    rng = np.random.default_rng(0)
    net.dense("in", "h", rng.uniform(-1, 2, (5, 6)))
    net.dense("h", "h", rng.uniform(-1, 1, (5, 5)), back_edge=True)
    net.dense("h", "o", rng.uniform(-1, 1, (3, 5)))
    graph = net.build()
    x = (rng.random((3, 12, 6)) < 0.4).astype(np.float32)
    emu = Emulator(graph, schedule)
    batch = emu.run_batch({"in": x})
    for b in range(3):
        one = emu.run({"in": x[b]})
        for n in ("h", "o"):
            assert np.array_equal(bits(batch.events[n][b]), bits(one.events[n]))
            assert np.array_equal(bits(batch.outputs[n][b]), bits(one.outputs[n]))
        assert np.array_equal(bits(batch.state["h"]["v"][b]), bits(one.state["h"]["v"]))
    assert batch.events["h"].sum() > 0
    # the check can fail: samples differ from each other
    assert not np.array_equal(batch.events["h"][0], batch.events["h"][1])
