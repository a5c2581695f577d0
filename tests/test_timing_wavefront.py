"""The async plan's executor steps (aedc.timing.schedule._wavefront): every tick after what it uses.

With clock jitter every PE starts its ticks at its own times; executing one step per distinct start
time cost ~n_pes·T steps of whole-network masked work. The plan now runs every tick at the end of the
longest chain of ticks it depends on. Checked here: the order respects every dependency the windows
name (a PE's ticks in order; the last source tick a receiver tick uses strictly before it), it takes
far fewer steps, and the emulator computes bit for bit what it computes in literal time order (the
oracle: the same executor with one step per distinct start time).
"""

from __future__ import annotations

import numpy as np
import pytest
from test_emulator_placement import split_placement
from test_emulator_sync import bits

import aedc.timing.schedule as schedule_mod
from aedc.emulator import Emulator, PlacedProgram, Schedule
from aedc.frontend.builder import Network
from aedc.ir import Graph
from aedc.machine import Machine
from aedc.timing.schedule import make_plan

F32 = np.float32


def net() -> Graph:
    """Three layers with a back edge and a delay, weights that keep every layer firing."""
    rng = np.random.default_rng(2)
    n = Network("wave", dt=1e-3)
    n.input("x", 12)
    n.population("a", 24, "lif", tau=0.01, v_threshold=0.4)
    n.population("b", 16, "cuba_lif", tau_syn=0.004, tau_mem=0.01, v_threshold=0.4)
    n.population("c", 6, "lif", tau=0.01, v_threshold=0.3)
    n.dense("x", "a", rng.uniform(-0.2, 1.2, (24, 12)).astype(F32))
    n.dense("a", "b", rng.uniform(-0.3, 0.9, (16, 24)).astype(F32))
    n.dense("b", "a", rng.uniform(-0.3, 0.3, (24, 16)).astype(F32), back_edge=True)
    n.dense("b", "c", rng.uniform(-0.2, 0.8, (6, 16)).astype(F32), delay=2)
    n.output("y", "c")
    return n.build()


def program() -> PlacedProgram:
    g = net()
    return PlacedProgram.from_placement(g, split_placement(g, 3, Machine.spinnaker2()))


SCHED = Schedule.asynchronous(period_us=1000, link_us=60, hop_us=40, jitter_us=450, seed=3)


def test_every_tick_runs_after_what_it_uses_in_far_fewer_steps() -> None:
    prog = program()
    chip, qpe = prog.hops()
    T = 40
    plan = make_plan(prog.graph, dict(prog.pe_of), prog.pe_words(), chip, qpe, SCHED, T)
    step = plan.step_of
    assert np.all(np.diff(step, axis=1) > 0)  # a PE's ticks in order
    used = 0
    for (_, s, d), hi in plan.hi.items():
        lo = plan.lo[(_, s, d)]
        for k in range(T):
            if hi[k] > lo[k]:
                used += 1
                assert step[s, hi[k] - 1] < step[d, k], (s, d, k)
    assert used > 100
    distinct = np.unique(plan.times).size
    assert distinct > 0.8 * prog.n_pes * T  # jitter: (almost) every PE tick at its own time
    assert plan.steps < 3 * T < distinct / 2


@pytest.mark.parametrize("exact", [True, False])
def test_same_numbers_as_the_literal_time_order(exact: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    prog = program()
    rng = np.random.default_rng(0)
    x = {"x": (rng.random((30, 12)) < 0.3).astype(F32)}
    fast = Emulator(prog, SCHED, exact=exact).run(x)

    def literal(times: np.ndarray, lo: object, hi: object) -> np.ndarray:
        return np.searchsorted(np.unique(times), times)  # one step per distinct start time

    monkeypatch.setattr(schedule_mod, "_wavefront", literal)
    slow = Emulator(prog, SCHED, exact=exact).run(x)
    assert int(fast.events["c"].sum()) > 5
    for pop in fast.events:
        assert np.array_equal(bits(fast.events[pop]), bits(slow.events[pop])), pop
    for pop, st in fast.state.items():
        for var in st:
            assert np.array_equal(bits(st[var]), bits(slow.state[pop][var])), (pop, var)
