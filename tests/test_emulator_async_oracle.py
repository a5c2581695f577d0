"""Async mode against a second, deliberately plain implementation of the timing model.

The oracle walks every (PE, local tick) in time order in Python, finds for each event the receiver
tick that uses it by scanning the receiver's tick times (first tick starting strictly after arrival,
plus the delay), and applies the events of a receiver tick one by one in the documented order
(projections in graph order, presynaptic index ascending, then source tick ascending) with the
reference simulator's own neuron update. Schedules mix jitter, a slow PE, an offset PE and hop
latencies, so receiver ticks take zero, one or several source ticks. Trivial placement (one PE per
population), arbitrary weights and every model: equality is bit for bit.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import graphs_with_inputs
from test_emulator_sync import bits

from aedc.emulator import Emulator, PlacedProgram, Schedule
from aedc.ir import Graph, topo_order
from aedc.reference.simulate import _Neuron

F32 = np.float32


def async_oracle(graph: Graph, inputs: dict[str, np.ndarray], sched: Schedule) -> dict[str, np.ndarray]:
    prog = PlacedProgram.trivial(graph)
    chip, qpe = prog.hops()
    pops = graph.pop_map()
    T = next(iter(inputs.values())).shape[0]
    pe = {n: int(prog.pe_of[n][0]) for n in pops}
    times = sched.tick_times(prog.n_pes, T)
    rank = {n: i for i, n in enumerate(topo_order(graph))}
    neurons = {n: _Neuron(p, graph) for n, p in pops.items() if not p.is_input}
    events = {n: np.zeros((T, p.size), F32) for n, p in pops.items()}
    rows = {}
    for pr in graph.projections:
        i, j, w = pr.conn.to_coo(pops[pr.pre].shape, pops[pr.post].shape)
        rows[pr.name] = [(j[i == k], np.asarray(w, F32)[i == k]) for k in range(pops[pr.pre].size)]
    sd = {pr.name: np.zeros(pops[pr.post].size, F32) for pr in graph.projections
          if pops[pr.pre].event_rule == "sigma_delta"}

    def used_at(pr_pre: str, pr_post: str, delay: int, k: int) -> int:
        s, d = pe[pr_pre], pe[pr_post]
        arrive = times[s, k] + sched.link_us + sched.hop_us * qpe[s, d] + sched.chip_hop_us * chip[s, d]
        first = next((j for j in range(T) if times[d, j] > arrive), T)
        return first + delay

    for _, _, n, k in sorted((times[pe[n], k], rank[n], n, k) for n in pops for k in range(T)):
        if pops[n].is_input:
            events[n][k] = inputs[n][k].ravel()
            continue
        acc = np.zeros(pops[n].size, F32)
        for pr in graph.incoming(n):
            srcs = [ks for ks in range(T) if used_at(pr.pre, pr.post, pr.delay, ks) == k]
            target = sd[pr.name] if pr.name in sd else acc
            for i in range(pops[pr.pre].size):
                for ks in srcs:
                    p = events[pr.pre][ks, i]
                    if p != 0:
                        post, w = rows[pr.name][i]
                        target[post] = target[post] + w * p
            if pr.name in sd:
                acc = acc + sd[pr.name]
        nrn = neurons[n]
        assert nrn.bias is not None
        _, events[n][k] = nrn.emit(nrn.step((acc + nrn.bias).astype(F32)))
    return events


SCHEDULES = (
    Schedule.asynchronous(period_us=100, jitter_us=70, link_us=20, hop_us=5, seed=1),
    Schedule.asynchronous(period_us=100, link_us=30, pe_periods_us=((1, 230), (2, 60)),
                          pe_offsets_us=((0, 40),)),
    Schedule.asynchronous(period_us=100, jitter_us=30, link_us=150, pe_periods_us=((2, 170),), seed=5),
)


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(graphs_with_inputs(T=8), st.sampled_from(SCHEDULES))
def test_async_equals_the_plain_timing_oracle(case: tuple[Graph, dict[str, np.ndarray]],
                                              sched: Schedule) -> None:
    graph, inputs = case
    emu = Emulator(graph, sched).run(inputs)
    want = async_oracle(graph, inputs, sched)
    for n, ev in want.items():
        assert np.array_equal(bits(emu.events[n].reshape(ev.shape)), bits(ev)), n


def test_oracle_notices_a_different_schedule() -> None:
    # the same graph under two different jitter seeds: the oracle of one must reject the other
    from aedc.frontend.builder import Network

    net = Network("c", dt=1.0)
    net.input("in", 1)
    net.population("acc", 1, "integrator", r=1.0)
    net.one_to_one("in", "acc", 1.0)
    graph = net.build()
    x = {"in": np.ones((12, 1), np.float32)}
    a = Schedule.asynchronous(period_us=100, jitter_us=90, seed=1)
    b = Schedule.asynchronous(period_us=100, jitter_us=90, seed=2)
    assert np.array_equal(Emulator(graph, a).run(x).events["acc"], async_oracle(graph, x, a)["acc"])
    assert not np.array_equal(Emulator(graph, b).run(x).events["acc"], async_oracle(graph, x, a)["acc"])
