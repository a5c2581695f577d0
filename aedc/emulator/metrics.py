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
* ``first_output_tick`` — first local tick at which any output population sends an event (−1: never);
  ``decision_tick`` — first tick from which the arg-max of the output population's cumulative event
  count (ties → lowest index) no longer changes until the end (−1 without events); both with their
  start times in µs on the output PE (``*_us``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aedc.timing.program import PlacedProgram


@dataclass(frozen=True, eq=False)
class FanOut:
    """Per presynaptic neuron: synapses into each PE and destination QPEs (host, once per program)."""

    synapses: dict[str, np.ndarray]  # population → (N, n_pes) synapse counts by post PE
    qpes: dict[str, np.ndarray]  # population → (N,) number of distinct destination QPEs

    @classmethod
    def build(cls, program: PlacedProgram) -> FanOut:
        g = program.graph
        pops = g.pop_map()
        qpe_of_pe = program.qpe_index()
        n_q = int(qpe_of_pe.max(initial=0)) + 1
        syn = {p.name: np.zeros((p.size, program.n_pes), np.int64) for p in g.populations}
        dest = {p.name: np.zeros((p.size, n_q), bool) for p in g.populations}
        for pr in g.projections:
            i_pre, i_post, _ = pr.conn.to_coo(pops[pr.pre].shape, pops[pr.post].shape)
            pe_post = program.pe_of[pr.post][i_post]
            np.add.at(syn[pr.pre], (i_pre, pe_post), 1)
            dest[pr.pre][i_pre, qpe_of_pe[pe_post]] = True
        return cls(syn, {k: v.sum(axis=1) for k, v in dest.items()})


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
    syn_events: dict[str, int] = {}
    for n, c in per_neuron.items():
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
        "first_output_tick": first,
        "first_output_us": first_us,
        "decision_tick": decision,
        "decision_us": decision_us,
    }
