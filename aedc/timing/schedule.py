"""When every PE ticks and when every event is consumed: the host-computed timing of an emulator run.

Timing model (all times are integers in microseconds; everything here is NumPy, computed once per run
shape and handed to the JAX executor as index tables):

* **Ticks.** Every PE (input populations included) executes exactly ``T`` local ticks. PE ``p`` starts
  its local tick ``k`` at ``τ_p(k) = offset_p + k·period_p + j_p(k)``, with ``period_p`` =
  :attr:`Schedule.period_us` unless listed in :attr:`Schedule.pe_periods_us` (slow or fast PEs),
  ``offset_p`` from :attr:`Schedule.pe_offsets_us` (default 0) and jitter
  ``j_p(k) = counter_hash(seed, word_p, k, JITTER_STREAM) mod (jitter_us + 1)``
  (:func:`aedc.timing.event.counter_hash`, the event policy's hash; ``JITTER_STREAM = 0x4A495454``;
  ``word_p`` the PE's address word ``chip_x·2^24 + chip_y·2^16 + qpe_x·2^12 + qpe_y·2^8 + pe``, as the
  C runtime packs it). A function of the PE's address and the tick, not of a generator's state: the
  host C runtime computes the same times from the schedule's parameters, and a PE's jitter does not
  depend on which other PEs the program uses. (The modulo's bias is below ``(jitter_us + 1)/2^32``.)
  Jitter must be smaller than every period, so a PE's ticks stay in order.
* **Events.** A tick is computed instantaneously at its start: events emitted in local tick ``k`` of PE
  ``s`` leave at ``τ_s(k)`` and arrive at PE ``d`` at ``a = τ_s(k) + link_us + hop_us·qpe_hops(s, d) +
  chip_hop_us·chip_hops(s, d)``. They become visible at ``d``'s first tick that starts strictly after
  the arrival, ``k0 = min{k' : τ_d(k') > a}`` (so never in the tick that emitted them, even on the same
  PE), and a projection with ``delay`` ticks uses them in ``d``'s tick ``k0 + delay``. The back-edge flag
  adds nothing in async mode (every projection already crosses a tick boundary). Events that would be
  used after ``d``'s last tick are lost. One receiver tick may use several source ticks (a slow
  receiver) or none (a fast one).
* **Event mode** (``Schedule.event_driven``) is the asynchronous event-driven model: events are
  integrated on arrival and spikes sent at once, in micro-steps within each time step; its contract is
  :mod:`aedc.timing.event`.
* **Sync mode** ignores all of this: every PE ticks together and a projection's events of tick ``t`` are
  used at tick ``t + latency`` (``latency = delay + back_edge``), zero-latency projections inside the
  same tick in topological order: the reference simulator's layer-by-layer contract.

Execution order: the executor runs the plan in *steps*; a PE tick runs at the end of the longest
chain of ticks it depends on (its PE's previous tick, the last source tick each of its windows uses),
not at one step per distinct start time — the same numbers (every tick still reads exactly the source
ticks its window names), a few times ``T`` steps instead of about ``n_pes · T`` under jitter.

Consequence (tested): async with zero jitter, one period for all PEs and NoC latency below one period
equals the reference simulator of the same graph with every projection's latency set to ``delay + 1``;
in a feed-forward chain each layer's spikes shift by one more tick than the layer before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from aedc.errors import TimingError
from aedc.ir.graph import Graph
from aedc.machine import PE_COST, PECost
from aedc.timing.event import EventPolicy, counter_hash

ScheduleMode = Literal["sync", "async", "event"]
JITTER_STREAM = 0x4A495454
"""The async jitter's third hash word ("JITT"): keeps its stream apart from the event policy's draws."""
TIME_MAX_US = 2**31 - 1
"""Largest period, offset and jitter (µs, ~36 min): the C runtimes hold jitter in a uint32 and draw it
``mod (jitter + 1)``, which must not wrap to 0."""
LATENCY_MAX_US = 2**20
"""Largest link, hop and chip-hop latency (µs, ~1 s): a pair's latency, link + hop·(≤ 30 QPE hops) +
chip hop·(≤ 510 chip hops), stays far inside the C runtimes' uint32."""


@dataclass(frozen=True)
class Schedule:
    """Execution schedule of an emulator run (see the module docstring for the exact timing model)."""

    mode: ScheduleMode = "sync"
    period_us: int = 1000
    jitter_us: int = 0
    link_us: int = 0
    hop_us: int = 0
    chip_hop_us: int = 0
    pe_periods_us: tuple[tuple[int, int], ...] = field(default=())
    pe_offsets_us: tuple[tuple[int, int], ...] = field(default=())
    seed: int = 0
    events_per_step: int = 0  # event mode: spikes a PE fires per micro-step (0 = all candidates)
    policy: EventPolicy = "arrival"  # event mode: which candidates fire first
    max_microsteps: int = 64  # event mode: micro-steps per time step at most
    layered: bool = False  # event mode: a population waits for its latency-0 inputs (= layer-sync)
    cost: PECost = PE_COST  # event mode: what a PE's work costs in µs (aedc.timing.event_time)

    def __post_init__(self) -> None:
        if self.mode not in ("sync", "async", "event"):
            raise TimingError(f"unknown schedule mode {self.mode!r}; modes are sync, async, event")
        if self.events_per_step < 0 or self.max_microsteps < 1:
            raise TimingError(f"event schedule needs events_per_step >= 0 (0 = unbounded) and "
                              f"max_microsteps >= 1 (got {self.events_per_step}, {self.max_microsteps})")
        if self.policy not in ("arrival", "momentum", "random"):
            raise TimingError(f"unknown event policy {self.policy!r}; policies are arrival, momentum, "
                              f"random")
        bounded = [("period_us", self.period_us, 1, TIME_MAX_US),
                   ("jitter_us", self.jitter_us, 0, TIME_MAX_US),
                   *((name, v, 0, LATENCY_MAX_US) for name, v in
                     (("link_us", self.link_us), ("hop_us", self.hop_us), ("chip_hop_us", self.chip_hop_us))),
                   *((f"pe_periods_us[PE {p}]", v, 1, TIME_MAX_US) for p, v in self.pe_periods_us),
                   *((f"pe_offsets_us[PE {p}]", v, 0, TIME_MAX_US) for p, v in self.pe_offsets_us)]
        bad = [(name, f"{name} = {v} µs (must be an integer {lo} … {hi:,})") for name, v, lo, hi in bounded
               if not (isinstance(v, int | np.integer) and lo <= v <= hi)]
        if bad:
            raise TimingError(f"schedule times out of range: {'; '.join(m for _, m in bad)}", where=bad[0][0])

    @classmethod
    def sync(cls) -> Schedule:
        """Layer-by-layer execution: equals the reference simulator exactly."""
        return cls("sync")

    @classmethod
    def asynchronous(cls, **kw: object) -> Schedule:
        """``Schedule(mode="async", **kw)``."""
        return cls("async", **kw)  # type: ignore[arg-type]

    @classmethod
    def event_driven(cls, events_per_step: int = 0, policy: EventPolicy = "arrival", seed: int = 0,
                     *, max_microsteps: int = 64, layered: bool = False, period_us: int = 1000,
                     link_us: int = 0, hop_us: int = 0, chip_hop_us: int = 0,
                     cost: PECost = PE_COST) -> Schedule:
        """The event-driven (AED) schedule of :mod:`aedc.timing.event`: ``events_per_step`` spikes per
        PE per micro-step (0 = all), fired in ``policy`` order; the step length, NoC latencies and PE
        cost model set its µs accounting (:mod:`aedc.timing.event_time`), not its order."""
        return cls("event", period_us=period_us, link_us=link_us, hop_us=hop_us, chip_hop_us=chip_hop_us,
                   seed=seed, events_per_step=events_per_step, policy=policy,
                   max_microsteps=max_microsteps, layered=layered, cost=cost)

    def tick_jitter(self, pe_words: np.ndarray, T: int) -> np.ndarray:
        """``j[p, k]`` in µs, int64 ``(n_pes, T)``, of PEs with address words ``pe_words`` (see the
        module docstring; :meth:`aedc.timing.program.PlacedProgram.pe_words`)."""
        words = np.asarray(pe_words, np.int64)
        h = counter_hash(self.seed, words[:, None], np.arange(T, dtype=np.int64)[None, :], JITTER_STREAM)
        out: np.ndarray = np.remainder(h.astype(np.int64), self.jitter_us + 1)
        return out

    def tick_times(self, pe_words: np.ndarray, T: int) -> np.ndarray:
        """``τ[p, k]``: start of PE ``p``'s local tick ``k`` in µs, int64 ``(n_pes, T)``; PE ``p`` has the
        address word ``pe_words[p]`` (its jitter's counter) and index ``p`` in ``pe_periods_us`` and
        ``pe_offsets_us``."""
        n_pes = len(pe_words)
        period = np.full(n_pes, self.period_us, np.int64)
        offset = np.zeros(n_pes, np.int64)
        for p, v in self.pe_periods_us:
            if 0 <= p < n_pes:
                period[p] = v
        for p, v in self.pe_offsets_us:
            if 0 <= p < n_pes:
                offset[p] = v
        if np.any(period <= 0) or self.jitter_us < 0 or np.any(offset < 0):
            raise TimingError("schedule periods must be > 0, jitter and offsets >= 0")
        if n_pes and self.jitter_us >= period.min():
            raise TimingError(f"jitter {self.jitter_us} µs must be smaller than every PE period "
                                f"(smallest {int(period.min())} µs), or ticks would reorder")
        jitter = self.tick_jitter(pe_words, T)
        k = np.arange(T, dtype=np.int64)
        times: np.ndarray = offset[:, None] + k[None, :] * period[:, None] + jitter
        return times


@dataclass(frozen=True, eq=False)
class Plan:
    """Index tables of one run: global steps, per-PE activity, per-block source-tick ranges."""

    steps: int
    active: np.ndarray  # (G, n_pes) bool: PE ticks at global step g
    ktick: np.ndarray  # (G, n_pes) int32: that PE's local tick index at step g (clipped to T-1)
    step_of: np.ndarray  # (n_pes, T) int64: global step of PE p's local tick k
    times: np.ndarray  # (n_pes, T) int64 µs
    lo: dict[tuple[str, int, int], np.ndarray]  # (projection, src pe, dst pe) → (T,) first source tick
    hi: dict[tuple[str, int, int], np.ndarray]  # … one past the last source tick used at dst tick k
    depth: dict[str, int]  # population → ring-buffer depth (source ticks kept)
    sync: bool = False  # every PE ticks together; latency-0 events are used in the same step


def _wavefront(times: np.ndarray, lo: dict[tuple[str, int, int], np.ndarray],
               hi: dict[tuple[str, int, int], np.ndarray]) -> np.ndarray:
    """The executor's step of every PE tick ``(n_pes, T)``: the longest chain of dependencies that
    ends in it — a PE's previous tick, and the last source tick each receiver tick uses (``hi − 1``
    where its window ``[lo, hi)`` is not empty).

    What a tick computes depends only on those source ticks (the windows come from the true times
    above), so any order that runs every tick after the ticks it depends on gives the same numbers; this
    one runs every tick as early as its dependencies allow. One step per distinct start time (what a
    literal reading of the times needs) becomes one step per link of the longest chain: with jitter
    every PE starts at its own time, so the steps fall from about ``n_pes · T`` to a few times ``T`` —
    the executor does a whole network's masked work per step, which made jittered runs on a compiled
    placement two orders of magnitude slower than synchronous ones (issue 17).
    """
    n_pes, T = times.shape
    deps: list[list[tuple[np.ndarray, np.ndarray, int]]] = [[] for _ in range(n_pes)]
    for key, h in hi.items():
        _, s, d = key
        deps[d].append((lo[key], h, s))
    level = np.full((n_pes, T), -1, np.int64)
    order = np.lexsort((np.repeat(np.arange(n_pes), T), times.ravel()))  # by start time
    for flat in order.tolist():
        d, k = divmod(flat, T)
        best = int(level[d, k - 1]) + 1 if k else 0
        for lo_, h, s in deps[d]:
            last = int(h[k]) - 1
            if last >= int(lo_[k]) and last >= 0:
                best = max(best, int(level[s, last]) + 1)
        level[d, k] = best
    return level


def make_plan(graph: Graph, pe_of: dict[str, np.ndarray], pe_words: np.ndarray, chip_hops: np.ndarray,
              qpe_hops: np.ndarray, schedule: Schedule, T: int) -> Plan:
    """Build the :class:`Plan` of ``graph`` placed by ``pe_of`` under ``schedule`` for ``T`` ticks; PE
    ``p`` has the address word ``pe_words[p]`` (:meth:`PlacedProgram.pe_words`, the jitter's
    counter)."""
    n_pes = len(pe_words)
    if schedule.mode == "event":
        raise TimingError("the event-driven schedule has no tick plan: it is executed micro-step by "
                          "micro-step (aedc.timing.event); this executor runs sync and async schedules")
    karange = np.arange(T, dtype=np.int64)
    pairs: dict[str, set[tuple[int, int]]] = {}
    for pr in graph.projections:
        src_pes, dst_pes = np.unique(pe_of[pr.pre]), np.unique(pe_of[pr.post])
        pairs[pr.name] = {(int(s), int(d)) for s in src_pes for d in dst_pes}
    lo: dict[tuple[str, int, int], np.ndarray] = {}
    hi: dict[tuple[str, int, int], np.ndarray] = {}
    if schedule.mode == "sync":
        times = np.tile(karange * schedule.period_us, (n_pes, 1))
        G = T
        step_of = np.tile(karange, (n_pes, 1))
        for pr in graph.projections:
            start = karange - pr.latency
            for s, d in pairs[pr.name]:
                lo[pr.name, s, d] = np.maximum(start, 0)
                hi[pr.name, s, d] = np.maximum(start + 1, 0)
    else:
        times = schedule.tick_times(pe_words, T)
        uniq = np.unique(times)
        G = int(uniq.size)
        step_of = np.searchsorted(uniq, times)
        for pr in graph.projections:
            for s, d in pairs[pr.name]:
                arrive = times[s] + schedule.link_us + schedule.hop_us * qpe_hops[s, d] \
                    + schedule.chip_hop_us * chip_hops[s, d]
                used = np.searchsorted(times[d], arrive, side="right") + pr.delay
                lo[pr.name, s, d] = np.searchsorted(used, karange, side="left")
                hi[pr.name, s, d] = np.searchsorted(used, karange, side="right")
    if schedule.mode == "async":
        step_of = _wavefront(times, lo, hi)
        G = int(step_of.max(initial=-1)) + 1
    active = np.zeros((G, n_pes), bool)
    ktick = np.zeros((G, n_pes), np.int64)
    for p in range(n_pes):
        active[step_of[p], p] = True
        # local tick at step g = ticks of p started at or before g, minus one (clipped)
        ktick[:, p] = np.clip(np.searchsorted(step_of[p], np.arange(G), side="right") - 1, 0, T - 1)
    # ring depth per presynaptic population: newest tick written by a source PE at the read step minus
    # the oldest tick still to be read, plus one
    depth = {p.name: 1 for p in graph.populations}
    for pr in graph.projections:
        for s, d in pairs[pr.name]:
            l_, h_ = lo[pr.name, s, d], hi[pr.name, s, d]
            reads = np.flatnonzero(h_ > l_)
            if reads.size == 0:
                continue
            g = step_of[d, reads]
            newest = np.searchsorted(step_of[s], g, side="right") - 1
            depth[pr.pre] = max(depth[pr.pre], int((newest - l_[reads]).max()) + 1)
    return Plan(G, active, ktick.astype(np.int32), step_of, times, lo, hi, depth,
                schedule.mode == "sync")
