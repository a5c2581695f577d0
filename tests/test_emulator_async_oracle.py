"""Async mode against a second, deliberately plain implementation of the timing model.

The oracle walks every (PE, local tick) in time order in Python, finds for each event the receiver
tick that uses it by scanning the receiver's tick times (first tick starting strictly after arrival,
plus the delay), and applies the events of a receiver tick one by one in the documented order
(projections in graph order, presynaptic index ascending, then source tick ascending) with the
reference simulator's own neuron update. Schedules mix jitter, a slow PE, an offset PE and hop
latencies, so receiver ticks take zero, one or several source ticks. Arbitrary weights and every model:
equality is bit for bit.

The oracle shares no timing code with the emulator: tick times and arrivals are computed here from the
formulas documented in :mod:`aedc.timing.schedule` (offset + k·period + jitter, a counter-based hash
of seed, the PE's address word and k, written out here in plain integers; arrival = send + link +
hop·QPE hops + chip_hop·chip hops), and the hops from the PE addresses (Manhattan distance of the
QPEs inside a chip; the hexagonal torus distance between chips). The populations are spread over
QPEs of two chips, with hop latencies and offsets large enough to move events across ticks, so a
dropped hop term or ignored offset fails (both checked by mutating aedc/timing/schedule.py).
"""

from __future__ import annotations

import numpy as np
from counter_hash_oracle import counter_hash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import graphs_with_inputs
from test_emulator_sync import bits

from aedc.emulator import Emulator, PlacedProgram, Schedule
from aedc.ir import Graph, topo_order
from aedc.machine import Machine, PEAddress
from aedc.reference.simulate import _Neuron

F32 = np.float32


def _tick_times(sched: Schedule, pes: tuple[PEAddress, ...], T: int) -> np.ndarray:
    """The documented tick start times (µs), computed here, not by the schedule: offset + k·period +
    hash(seed, address word, k, "JITT") mod (jitter + 1)."""
    period = {p: v for p, v in sched.pe_periods_us}
    offset = {p: v for p, v in sched.pe_offsets_us}

    def jitter(a: PEAddress, k: int) -> int:
        word = a.chip[0] << 24 | a.chip[1] << 16 | a.qpe[0] << 12 | a.qpe[1] << 8 | a.pe
        return counter_hash(sched.seed & 0xFFFFFFFF, word, k, 0x4A495454) % (sched.jitter_us + 1)

    return np.array([[offset.get(p, 0) + k * period.get(p, sched.period_us) + jitter(a, k)
                      for k in range(T)] for p, a in enumerate(pes)], np.int64)


def test_emulator_tick_times_are_the_documented_formula() -> None:
    # the hash's known answers (tests/test_timing_event.py pins the same ones on event_priority)
    assert [counter_hash(0, 0, 0, n) for n in range(3)] == [0, 3749358279, 3050391475]
    graph, x = _chain()
    prog = spread(graph)
    for sched in SCHEDULES:
        got = Emulator(prog, sched).run(x).tick_times
        assert np.array_equal(got, _tick_times(sched, prog.pes, 12))
    jittered = Emulator(prog, SCHEDULES[0]).run(x).tick_times
    assert len(np.unique(jittered % 100)) > 12  # the jitter is in play


def _chip_distance(a: tuple[int, int], b: tuple[int, int], w: int, h: int) -> int:
    """Hexagonal torus: a NE/SW step changes x and y together (documented in aedc.machine)."""
    best = None
    for dx in {b[0] - a[0], b[0] - a[0] - w, b[0] - a[0] + w}:
        for dy in {b[1] - a[1], b[1] - a[1] - h, b[1] - a[1] + h}:
            d = max(abs(dx), abs(dy)) if dx * dy > 0 else abs(dx) + abs(dy)
            best = d if best is None else min(best, d)
    assert best is not None
    return best


def spread(graph: Graph) -> PlacedProgram:
    """Population i on its own PE, each on a different QPE: two on chip (0,0), two on (1,0), …"""
    machine = Machine.spinnaker2((2, 1))
    chip_pes = [[p for p in machine.pes() if p.chip == c and p.pe == 0] for c in ((0, 0), (1, 0))]
    pes = tuple(chip_pes[(i // 2) % 2][(3 * i) % len(chip_pes[0])] for i in range(len(graph.populations)))
    pe_of = {p.name: np.full(p.size, i, np.int64) for i, p in enumerate(graph.populations)}
    return PlacedProgram(graph, pe_of, pes, machine)


def async_oracle(graph: Graph, inputs: dict[str, np.ndarray], sched: Schedule,
                 prog: PlacedProgram | None = None) -> dict[str, np.ndarray]:
    prog = prog or spread(graph)
    m = prog.machine
    pops = graph.pop_map()
    T = next(iter(inputs.values())).shape[0]
    pe = {n: int(prog.pe_of[n][0]) for n in pops}
    addr = prog.pes
    times = _tick_times(sched, prog.pes, T)

    def hops(s: int, d: int) -> tuple[int, int]:
        a, b = addr[s], addr[d]
        if a.chip != b.chip:
            return _chip_distance(a.chip, b.chip, m.chips_x, m.chips_y), 0
        return 0, abs(a.qpe[0] - b.qpe[0]) + abs(a.qpe[1] - b.qpe[1])

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
        n_chip, n_qpe = hops(s, d)
        arrive = times[s, k] + sched.link_us + sched.hop_us * n_qpe + sched.chip_hop_us * n_chip
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
    # hop and chip-hop terms of several ticks, offsets beyond a period: they move events across ticks
    Schedule.asynchronous(period_us=100, link_us=10, hop_us=45, chip_hop_us=130,
                          pe_offsets_us=((1, 250), (2, 30), (3, 170))),
    Schedule.asynchronous(period_us=100, jitter_us=40, hop_us=70, chip_hop_us=60, seed=3,
                          pe_offsets_us=((0, 120), (2, 310))),
)


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(graphs_with_inputs(T=8), st.sampled_from(SCHEDULES))
def test_async_equals_the_plain_timing_oracle(case: tuple[Graph, dict[str, np.ndarray]],
                                              sched: Schedule) -> None:
    graph, inputs = case
    emu = Emulator(spread(graph), sched).run(inputs)
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
    prog = spread(graph)
    assert np.array_equal(Emulator(prog, a).run(x).events["acc"], async_oracle(graph, x, a)["acc"])
    assert not np.array_equal(Emulator(prog, b).run(x).events["acc"], async_oracle(graph, x, a)["acc"])


def _chain() -> tuple[Graph, dict[str, np.ndarray]]:
    from aedc.frontend.builder import Network

    net = Network("chain", dt=1.0)
    net.input("in", 1)
    net.population("a", 1, "integrator", r=1.0)
    net.population("b", 1, "integrator", r=1.0)
    net.one_to_one("in", "a", 1.0)
    net.one_to_one("a", "b", 1.0)
    net.output("y", "b")
    x = np.zeros((12, 1), np.float32)
    x[[0, 3, 4, 8]] = 1
    return net.build(), {"in": x}


def test_hop_latency_and_offsets_move_events_across_ticks() -> None:
    """The terms a hand-rolled executor is most likely to drop change the answer here — in the oracle
    and in the emulator alike — so equality above is not by accident."""
    graph, x = _chain()
    prog = spread(graph)
    assert len({p.qpe for p in prog.pes}) == 3
    assert len({p.chip for p in prog.pes}) == 2
    base = Schedule.asynchronous(period_us=100, link_us=10)
    variants = {
        "hop": Schedule.asynchronous(period_us=100, link_us=10, hop_us=120),
        "chip hop": Schedule.asynchronous(period_us=100, link_us=10, chip_hop_us=250),
        "offset": Schedule.asynchronous(period_us=100, link_us=10, pe_offsets_us=((2, 260),)),
    }
    ref = async_oracle(graph, x, base)
    assert np.array_equal(Emulator(prog, base).run(x).events["b"], ref["b"])
    for what, sched in variants.items():
        want = async_oracle(graph, x, sched)
        assert not np.array_equal(want["b"], ref["b"]), f"the {what} term must move events here"
        got = Emulator(prog, sched).run(x).events["b"]
        assert np.array_equal(bits(got.reshape(want["b"].shape)), bits(want["b"])), what
