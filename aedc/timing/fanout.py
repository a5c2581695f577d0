"""Who receives a neuron's event, and how much work it makes there: per presynaptic neuron, the
synapses it reaches on every PE and the destination QPEs its packets go to.

Built once per placed program on the host and shared by the run metrics and the event schedule's µs
accounting (:mod:`aedc.timing.event_time`), so both count the same packets and synaptic words.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aedc.timing.program import PlacedProgram

__all__ = ["FanOut"]


@dataclass(frozen=True, eq=False)
class FanOut:
    """Per presynaptic neuron: synapses into each PE (per projection and summed per population) and the
    number of distinct destination QPEs (one NoC packet each)."""

    synapses: dict[str, np.ndarray]  # population → (N, n_pes) synapse counts by post PE
    qpes: dict[str, np.ndarray]  # population → (N,) number of distinct destination QPEs
    by_projection: dict[str, np.ndarray]  # projection → (N_pre, n_pes) synapse counts by post PE

    @classmethod
    def build(cls, program: PlacedProgram) -> FanOut:
        g = program.graph
        pops = g.pop_map()
        qpe_of_pe = program.qpe_index()
        n_q = int(qpe_of_pe.max(initial=0)) + 1
        syn = {p.name: np.zeros((p.size, program.n_pes), np.int64) for p in g.populations}
        dest = {p.name: np.zeros((p.size, n_q), bool) for p in g.populations}
        by_proj: dict[str, np.ndarray] = {}
        for pr in g.projections:
            i_pre, i_post, _ = pr.conn.to_coo(pops[pr.pre].shape, pops[pr.post].shape)
            pe_post = program.pe_of[pr.post][i_post]
            counts = np.zeros((pops[pr.pre].size, program.n_pes), np.int64)
            np.add.at(counts, (i_pre, pe_post), 1)
            by_proj[pr.name] = counts
            syn[pr.pre] += counts
            dest[pr.pre][i_pre, qpe_of_pe[pe_post]] = True
        return cls(syn, {k: v.sum(axis=1) for k, v in dest.items()}, by_proj)
