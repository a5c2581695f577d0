"""The event-driven schedule's interface (aedc.timing.event): options checked, the random policy's
counter-based priority pinned (every executor must draw exactly these numbers)."""

from __future__ import annotations

import numpy as np
import pytest
from counter_hash_oracle import counter_hash

from aedc.errors import TimingError
from aedc.timing import Schedule, event_priority


def test_event_driven_constructor_and_validation() -> None:
    s = Schedule.event_driven(events_per_step=4, policy="momentum", seed=3, max_microsteps=16)
    assert (s.mode, s.events_per_step, s.policy, s.seed, s.max_microsteps, s.layered) == \
        ("event", 4, "momentum", 3, 16, False)
    with pytest.raises(TimingError, match="events_per_step"):
        Schedule.event_driven(events_per_step=-1)
    with pytest.raises(TimingError, match="max_microsteps"):
        Schedule.event_driven(max_microsteps=0)
    with pytest.raises(TimingError, match="policy"):
        Schedule.event_driven(policy="lifo")  # type: ignore[arg-type]
    with pytest.raises(TimingError, match="mode"):
        Schedule("tick")  # type: ignore[arg-type]


def test_random_priority_is_the_documented_counter_hash() -> None:
    ids = np.arange(0, 5000, 7)
    for seed, step, m in ((0, 0, 0), (1, 2, 3), (2**31 + 5, 999, 63)):
        got = event_priority(seed, step, m, ids)
        assert got.dtype == np.uint32
        assert got.tolist() == [counter_hash(seed, step, m, int(n)) for n in ids]
    assert event_priority(0, 0, 0, np.array([0, 1, 2])).tolist() == [0, 3749358279, 3050391475]
    # distinct counters give (almost surely) distinct orders
    a, b = event_priority(0, 0, 0, ids), event_priority(0, 0, 1, ids)
    assert not np.array_equal(np.argsort(a), np.argsort(b))


def test_tick_executors_refuse_the_event_schedule() -> None:
    from aedc.frontend.builder import Network
    from aedc.timing import PlacedProgram, make_plan

    net = Network("n", dt=1e-3)
    net.input("x", 2)
    net.population("h", 2, "lif", tau=0.02)
    net.dense("x", "h", np.eye(2, dtype=np.float32))
    net.output("y", "h")
    prog = PlacedProgram.trivial(net.build())
    hops = prog.hops()
    with pytest.raises(TimingError, match="micro-step"):
        make_plan(prog.graph, dict(prog.pe_of), prog.pe_words(), hops[0], hops[1], Schedule.event_driven(),
                  4)
