"""µs accounting of the event-driven schedule: when every PE works, for how long, and when the network
decides — time that advances by processing cost plus NoC latency, not by ticks.

The contract of :mod:`aedc.timing.event` fixes *what* happens in which micro-step; this module gives that
execution a time line in µs under the PE cost model :class:`aedc.machine.PECost` (``Schedule.cost``) and
the schedule's NoC latencies (``link_us + hop_us·QPE hops + chip_hop_us·chip hops``, as in the async
schedule). It reorders nothing: which events are integrated together and which neurons fire stay those
of the micro-steps. It is computed on the host from any executor's event trace (events and the
micro-step of each), so the emulator and the generated C report the same times for the same trace.

Per time step ``t`` (it starts at ``t0 = t·period_us``) and PE ``p``:

1. **Timer work** at ``t0``: ``cycles_per_neuron`` for each non-input neuron of ``p`` (the step's leak
   and commit, micro-step 0's threshold tests). Input populations are streamed by the host and cost
   nothing on their PE.
2. **Packets** integrated by ``p`` in micro-step ``m``: one per (sending neuron, ``p``) pair with at least
   one synapse on ``p`` among the projections delivered in ``m``; its **words** are those synapses. In
   ``m = 0``: the step's input events (sent at ``t0``) and the events of projections of latency ``L ≥ 1``
   fired in step ``t − L`` (already held in ``p``'s event history: they arrived long before, so they
   cost processing but no NoC time); in ``m ≥ 1``: spikes fired in ``m − 1`` over latency-0 projections.
3. **Sends**: each spike ``p`` fires in ``m`` costs ``cycles_per_spike`` per destination QPE (one NoC
   packet each, as counted by ``noc_packets``).
4. ``busy(p, m) = (cycles_per_packet·packets + cycles_per_synapse·words + cycles_per_spike·sends) /
   clock_mhz``. ``p``'s micro-step ``m`` *starts* when ``p`` finished ``m − 1`` (for ``m = 0``: its timer
   work) and the last packet it integrates in ``m`` has arrived — a packet leaves its sender when the
   sender finished the micro-step that fired it (inputs: at ``t0``) and arrives after the NoC latency —
   and *finishes* ``busy(p, m)`` later; a micro-step without work on ``p`` takes no time there. Spikes
   fired by ``p`` in ``m`` leave at its finish.

Metrics (per sample): ``busy_us_per_pe`` (timer plus event work over the run) and
``busy_fraction_per_pe`` (of the run's ``T·period_us``); ``queue_depth_max`` / ``_per_pe`` (most packets
one PE integrates in one micro-step — the depth its receive queue must hold); ``step_makespan_us``
``(T,)`` (when the step's last work ends, after ``t0``), ``makespan_max_us`` and ``deadline_misses``
(steps whose work runs past the next step's start); ``first_output_us`` and ``decision_us`` (the µs,
since the run's start, at which the first output event and the decision moment of
:func:`aedc.emulator.metrics.compute_event_metrics` leave their PE) and ``decision_latency_us`` (the
same after its step's start).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from aedc.timing.fanout import FanOut
from aedc.timing.program import PlacedProgram
from aedc.timing.schedule import Schedule

__all__ = ["event_timing"]

_NEVER = -np.inf


def _latency(program: PlacedProgram, schedule: Schedule) -> np.ndarray:
    """NoC latency in µs between every pair of PEs ``(n_pes, n_pes)``."""
    chip_hops, qpe_hops = program.hops()
    lat: np.ndarray = (schedule.link_us + schedule.hop_us * qpe_hops
                       + schedule.chip_hop_us * chip_hops).astype(np.float64)
    return lat


def event_timing(program: PlacedProgram, schedule: Schedule, fanout: FanOut,
                 events: Mapping[str, np.ndarray], microsteps: Mapping[str, np.ndarray],
                 used: np.ndarray, moments: Mapping[str, tuple[int, int]] | None = None
                 ) -> dict[str, Any]:
    """The µs time line of one sample (see the module docstring).

    ``events[pop]`` ``(T, N)`` payloads (0 = none) of every population, ``microsteps[pop]`` ``(T, N)``
    the micro-step of each event of the non-input populations, ``used`` ``(T,)`` micro-steps each step
    used; ``moments`` maps a name (``"first_output"``, ``"decision"``) to a ``(step, micro-step)`` whose
    output event's departure time is reported as ``<name>_us``.
    """
    g = program.graph
    pops = g.pop_map()
    P = program.n_pes
    T = int(np.asarray(used).shape[0])
    used = np.asarray(used, np.int64)
    Mx = max(int(used.max(initial=1)), 1)
    cost = schedule.cost
    lat = _latency(program, schedule)
    packets = np.zeros((T, Mx, P), np.int64)
    words = np.zeros((T, Mx, P), np.int64)
    sends = np.zeros((T, Mx, P), np.int64)
    # pairs[m][t, s, d]: a packet from PE s reaches PE d in micro-step m over the NoC
    pairs = np.zeros((Mx, T, P, P), bool)
    fired: dict[str, np.ndarray] = {n: np.asarray(e).reshape(T, -1) != 0 for n, e in events.items()}
    when = {n: np.asarray(microsteps[n]).reshape(T, -1) for n in microsteps}

    def add(mask: np.ndarray, syn: np.ndarray, src_pe: np.ndarray, t_dst: np.ndarray, m_dst: int,
            noc: bool) -> None:
        """Events ``mask`` (rows = source steps) delivered at steps ``t_dst`` in micro-step ``m_dst``."""
        ok = (t_dst >= 0) & (t_dst < T)
        if not ok.any():
            return
        mask, t_dst = mask[ok].astype(np.int64), t_dst[ok]
        np.add.at(packets[:, m_dst], t_dst, mask @ (syn > 0))
        np.add.at(words[:, m_dst], t_dst, mask @ syn)
        if noc:
            for s in np.unique(src_pe):
                reach = (mask[:, src_pe == s] @ (syn[src_pe == s] > 0)) > 0
                pairs[m_dst, t_dst, s] |= reach

    steps = np.arange(T)
    # group the projections delivered together: (pre population, latency)
    groups: dict[tuple[str, int], np.ndarray] = {}
    for pr in g.projections:
        key = (pr.pre, pr.latency)
        counts = fanout.by_projection[pr.name]
        groups[key] = groups[key] + counts if key in groups else counts.copy()
    for (pre, L), syn in sorted(groups.items()):
        ev = fired[pre]
        src_pe = np.asarray(program.pe_of[pre])
        if L >= 1:
            add(ev, syn, src_pe, steps + L, 0, noc=False)
        elif pops[pre].is_input:
            add(ev, syn, src_pe, steps, 0, noc=True)
        else:
            for m in range(Mx - 1):
                add(ev & (when[pre] == m), syn, src_pe, steps, m + 1, noc=True)
    for n, ev in fired.items():
        if pops[n].is_input or n not in when or not type(pops[n].neuron).SPIKING:
            continue
        onehot = np.zeros((pops[n].size, P), np.int64)
        onehot[np.arange(pops[n].size), np.asarray(program.pe_of[n])] = 1
        for m in range(Mx):
            sends[:, m] += ((ev & (when[n] == m)) * fanout.qpes[n][None, :]) @ onehot
    busy = cost.us(cost.cycles_per_packet * packets + cost.cycles_per_synapse * words
                   + cost.cycles_per_spike * sends)  # (T, Mx, P) µs
    neurons = np.zeros(P, np.int64)
    for pop in g.populations:
        if not pop.is_input:
            np.add.at(neurons, np.asarray(program.pe_of[pop.name]), 1)
    timer = cost.us(cost.cycles_per_neuron * neurons)
    t0 = steps.astype(np.float64) * schedule.period_us
    finish = np.zeros((T, Mx, P), np.float64)
    prev = t0[:, None] + timer[None, :]
    for m in range(Mx):
        if m == 0:
            # inputs leave at the step's start; delayed events are already held
            arrive = np.where(pairs[0], t0[:, None, None] + lat[None], _NEVER).max(axis=1)
        else:
            arrive = np.where(pairs[m], finish[:, m - 1, :, None] + lat[None], _NEVER).max(axis=1)
        work = busy[:, m]
        start = np.maximum(prev, arrive)
        finish[:, m] = np.where(work > 0, start + work, prev)
        prev = finish[:, m]
    run_us = float(T * schedule.period_us)
    busy_pe = busy.sum(axis=(0, 1)) + T * timer
    makespan = finish[:, -1].max(axis=1) - t0 if P else np.zeros(T)
    out: dict[str, Any] = {
        "busy_us_per_pe": busy_pe,
        "busy_fraction_per_pe": busy_pe / run_us if run_us else busy_pe * 0.0,
        "queue_depth_max": int(packets.max(initial=0)),
        "queue_depth_max_per_pe": packets.max(axis=(0, 1)) if T else np.zeros(P, np.int64),
        "step_makespan_us": makespan,
        "makespan_max_us": float(makespan.max(initial=0.0)),
        "deadline_misses": int(np.sum(makespan > schedule.period_us)),
    }
    outputs = sorted(set(g.outputs.values())) or [p.name for p in g.populations if not p.is_input][-1:]
    for name, (t, m) in (moments or {}).items():
        us = -1.0
        if t >= 0 and outputs:
            cands: list[float] = []
            for o in (outputs[:1] if name == "decision" else outputs):
                at = fired[o][t] & (when[o][t] == m) if o in when else fired[o][t]
                pes = np.unique(np.asarray(program.pe_of[o])[at])
                cands.extend(finish[t, min(m, Mx - 1), pes].tolist())
            us = min(cands) if cands else -1.0
        out[f"{name}_us"] = us
        if name == "decision":
            out["decision_latency_us"] = us - t * schedule.period_us if us >= 0 else -1.0
    return out
