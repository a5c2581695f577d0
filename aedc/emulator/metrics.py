"""Run metrics, computed on the host from the event traces (NumPy; all arrays per sample).

* ``events[pop]`` — events sent per population (a sigma-delta/graded event counts once, whatever its
  payload); ``events_per_pe`` — the same summed over the neurons each PE runs.
* ``sparsity[pop]`` — ``1 − events / (neurons × ticks)``; ``sparsity_total`` over non-input populations.
* ``synaptic_events[pop]`` — events × the synapses they reach (the work of the receivers);
  ``load_per_pe`` — synaptic events processed by each PE (synapses are processed where the post neuron
  lives), ``load_max_per_tick`` — the busiest PE's worst tick.
* ``noc_packets`` — one multicast packet per destination QPE per event (the SpiNNaker2 intra-chip NoC
  carries a destination QPE and a 4-bit PE mask; a source sends one packet per destination QPE, its own
  QPE included when a target lives there); ``noc_packets_per_pe`` by sending PE.
* ``rx_packets_max_per_tick`` — the most packets one PE receives from the events of one tick (one
  per sending neuron with a synapse on the PE), ``rx_packets_max_per_pe``, and
  ``rx_queue_overflow_pe_ticks`` — PE-ticks above the chip runtime's receive queue
  (:data:`aedc.partition.memory.PACKET_QUEUE_LEN`, 256): the chip would drop those packets (and count
  them), the emulator and the host runtime do not.
* ``first_output_tick`` — first local tick at which any output population sends an event (−1: never);
  ``decision_tick`` — first tick from which the arg-max of the output population's cumulative event
  count (ties → lowest index) no longer changes until the end (−1 without events); both with their
  start times in µs on the output PE (``*_us``).

Event-driven schedule only (:func:`compute_event_metrics`, from the micro-step of every event):

* ``overflow`` / ``overflow_per_step`` — neurons still candidates when a step ran out of micro-steps
  (they did not fire in it); ``undelivered`` / ``undelivered_per_step`` — spikes a latency-0 receiver
  never integrated in their step (fired in its last micro-step, or, layered, for a receiver that never
  opened); ``microsteps_per_step`` — micro-steps each step used (≥ 1); ``microsteps_max``.
* ``spike_microsteps[pop]`` — ``(T, N)`` micro-step of each event (−1: none).
* ``first_output`` — ``(step, micro-step)`` of the first output event; ``decision`` — the
  ``(step, micro-step)`` from which the arg-max of the output population's cumulative event count
  (ties → lowest index) no longer changes, events of one micro-step counted together (``(−1, −1)``
  without events); ``decision_microsteps`` — the same as micro-steps since the run's start (the steps
  before it counted with the micro-steps they used).
"""

from __future__ import annotations

import numpy as np

from aedc.ir.graph import Graph
from aedc.partition.memory import PACKET_QUEUE_LEN
from aedc.timing.fanout import FanOut
from aedc.timing.program import PlacedProgram

__all__ = ["FanOut", "compute_event_metrics", "compute_metrics"]


def compute_metrics(program: PlacedProgram, fanout: FanOut, events: dict[str, np.ndarray],
                    times: np.ndarray) -> dict[str, object]:
    """Metrics of one sample; ``events[pop]`` is ``(T, N)`` payloads (0 = no event)."""
    g = program.graph
    T = next(iter(events.values())).shape[0] if events else 0
    n_pes = program.n_pes
    sent = {n: (e.reshape(T, -1) != 0) for n, e in events.items()}
    count = {n: int(s.sum()) for n, s in sent.items()}
    per_neuron = {n: s.sum(axis=0) for n, s in sent.items()}
    ev_pe = np.zeros(n_pes, np.int64)
    load = np.zeros(n_pes, np.int64)
    load_tick = np.zeros((T, n_pes), np.int64)
    packets = np.zeros(n_pes, np.int64)
    rx_tick = np.zeros((T, n_pes), np.int64)  # packets each PE receives from the events of each tick
    syn_events: dict[str, int] = {}
    for n, c in per_neuron.items():
        rx_tick += sent[n].astype(np.int64) @ (fanout.synapses[n] > 0)
        np.add.at(ev_pe, program.pe_of[n], c)
        np.add.at(packets, program.pe_of[n], c * fanout.qpes[n])
        load += c @ fanout.synapses[n]
        load_tick += sent[n].astype(np.int64) @ fanout.synapses[n]
        syn_events[n] = int(c @ fanout.synapses[n].sum(axis=1))
    sizes = {p.name: p.size for p in g.populations}
    sparsity = {n: 1.0 - count[n] / max(sizes[n] * T, 1) for n in count}
    hidden = [p.name for p in g.populations if not p.is_input]
    total_n = sum(sizes[n] for n in hidden)
    out_pops = sorted(set(g.outputs.values())) or hidden[-1:]
    first, first_us, decision, decision_us = -1, -1, -1, -1
    if out_pops and T:
        any_ev = np.zeros(T, bool)
        for n in out_pops:
            any_ev |= sent[n].any(axis=1)
        if any_ev.any():
            first = int(np.argmax(any_ev))
            first_us = int(times[program.pe_of[out_pops[0]][0], first])
        cum = np.cumsum(sent[out_pops[0]], axis=0)
        if cum[-1].any():
            winner = np.argmax(cum, axis=1)
            final = winner[-1]
            changed = np.flatnonzero((winner != final) | (cum.max(axis=1) == 0))
            decision = int(changed[-1] + 1) if changed.size else 0
            decision_us = int(times[program.pe_of[out_pops[0]][0], decision])
    return {
        "ticks": T,
        "events": count,
        "events_total": int(sum(count[n] for n in hidden)),
        "events_per_pe": ev_pe,
        "sparsity": sparsity,
        "sparsity_total": 1.0 - sum(count[n] for n in hidden) / max(total_n * T, 1),
        "synaptic_events": syn_events,
        "synaptic_events_total": int(sum(syn_events.values())),
        "load_per_pe": load,
        "load_max_per_tick": int(load_tick.max(initial=0)),
        "noc_packets": int(packets.sum()),
        "noc_packets_per_pe": packets,
        "rx_packets_max_per_tick": int(rx_tick.max(initial=0)),
        "rx_packets_max_per_pe": rx_tick.max(axis=0) if T else np.zeros(n_pes, np.int64),
        "rx_queue_overflow_pe_ticks": int(np.count_nonzero(rx_tick > PACKET_QUEUE_LEN)),
        "first_output_tick": first,
        "first_output_us": first_us,
        "decision_tick": decision,
        "decision_us": decision_us,
    }


def compute_event_metrics(graph: Graph, events: dict[str, np.ndarray], microsteps: dict[str, np.ndarray],
                          per_step: dict[str, np.ndarray]) -> dict[str, object]:
    """Event-schedule metrics of one sample: ``events``/``microsteps[pop]`` ``(T, N)``, ``per_step``
    the executor's ``overflow``, ``microsteps`` and ``undelivered`` per step ``(T,)``."""
    used = np.asarray(per_step["microsteps"], np.int64)
    overflow = np.asarray(per_step["overflow"], np.int64)
    undelivered = np.asarray(per_step["undelivered"], np.int64)
    hidden = [p.name for p in graph.populations if not p.is_input]
    out_pops = sorted(set(graph.outputs.values())) or hidden[-1:]
    first, decision = (-1, -1), (-1, -1)
    if out_pops:
        t_any, m_any = [], []
        for n in out_pops:
            t_, j_ = np.nonzero(events[n] != 0)
            t_any.append(t_)
            m_any.append(microsteps[n][t_, j_])
        ts, ms = np.concatenate(t_any), np.concatenate(m_any)
        if ts.size:
            i = np.lexsort((ms, ts))[0]
            first = (int(ts[i]), int(ms[i]))
        t_, j_ = np.nonzero(events[out_pops[0]] != 0)
        if t_.size:
            m_ = microsteps[out_pops[0]][t_, j_]
            moments, group = np.unique(np.stack([t_, m_], axis=1), axis=0, return_inverse=True)
            n_out = events[out_pops[0]].shape[1]
            counts = np.zeros((len(moments), n_out), np.int64)
            np.add.at(counts, (group.ravel(), j_), 1)
            winner = np.argmax(np.cumsum(counts, axis=0), axis=1)
            changed = np.flatnonzero(winner != winner[-1])
            k = int(changed[-1] + 1) if changed.size else 0
            decision = (int(moments[k, 0]), int(moments[k, 1]))
    before = np.concatenate([[0], np.cumsum(used)])
    return {
        "overflow": int(overflow.sum()),
        "overflow_per_step": overflow,
        "undelivered": int(undelivered.sum()),
        "undelivered_per_step": undelivered,
        "microsteps_per_step": used,
        "microsteps_max": int(used.max(initial=0)),
        "spike_microsteps": microsteps,
        "first_output": first,
        "decision": decision,
        "decision_microsteps": int(before[decision[0]] + decision[1]) if decision[0] >= 0 else -1,
    }
