"""Facts of the whole placed program that every PE's sources read: slices, key blocks, destinations,
the synapses of a projection onto a neuron range (computed once, shared by all PEs)."""

from __future__ import annotations

import numpy as np

from aedc.codegen.literals import F32, c_ident
from aedc.ir.graph import Graph, Projection
from aedc.machine import Machine, PEAddress
from aedc.partition.model import Placement, ProjectionFormat, Slice
from aedc.routing.model import KeyBlock, Routes

__all__ = ["Program"]


class Program:
    """Shared facts of the whole placed program."""

    def __init__(self, graph: Graph, placement: Placement, routes: Routes, machine: Machine,
                 tick_us: int) -> None:
        self.graph, self.placement, self.routes, self.machine = graph, placement, routes, machine
        self.tick_us = tick_us
        self.sem = graph.semantics
        self.pops = graph.pop_map()
        self.slices = placement.slicing.slices
        self.record_ticks = placement.slicing.record_ticks
        self.outputs = set(graph.outputs.values())
        self.formats: dict[str, ProjectionFormat] = {f.projection: f for f in placement.slicing.formats}
        # c_ident is not one-to-one ("a.b->c", "a_b->c"): C names of a projection carry its index too
        self.proj_ident = {pr.name: f"{j}_{c_ident(pr.name)}" for j, pr in enumerate(graph.projections)}
        self.neuron_slices = {name: placement.slicing.of(name) for name in self.pops}
        self.synapse_slices: dict[str, tuple[int, ...]] = {
            name: tuple(i for i, s in enumerate(self.slices) if s.population == name and s.role == "synapse")
            for name in self.pops}
        self.block_of: dict[int, KeyBlock] = {}
        for b in routes.keys:
            self.block_of.setdefault(b.slice, b)
        self.dests: dict[int, tuple[PEAddress, ...]] = {}
        for r in routes.sources:
            blk = routes.keys[r.block]
            self.dests[blk.slice] = tuple(self.dests.get(blk.slice, ())) + tuple(r.destinations)
        self._coo: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._by_post: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._onto: dict[tuple[str, int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def synapse_slices_for(self, proj: str, s: Slice) -> tuple[int, ...]:
        """Synapse PEs summing ``proj`` onto (part of) neuron slice ``s``, by presynaptic range."""
        found = [i for i in self.synapse_slices[s.population] if self.slices[i].projection == proj
                 and self.slices[i].lo < s.hi and s.lo < self.slices[i].hi]
        return tuple(sorted(found, key=lambda i: (self.slices[i].pre_lo or 0, self.slices[i].lo)))

    def coo(self, proj: Projection) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if proj.name not in self._coo:
            pre, post, w = proj.conn.to_coo(self.pops[proj.pre].shape, self.pops[proj.post].shape)
            w = np.asarray(w, F32)
            # zero weights add ±0 to a sum that starts at +0.0 and so never changes it: not stored
            keep = w != 0
            pre, post, w = pre[keep], post[keep], w[keep]
            order = np.lexsort((post, pre))
            self._coo[proj.name] = (pre[order], post[order], w[order])
        return self._coo[proj.name]

    def onto(self, proj: Projection, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Synapses of ``proj`` onto post neurons ``lo..hi``, sorted by (pre, post)."""
        key = (proj.name, lo, hi)
        if key not in self._onto:
            pre, post, w = self.coo(proj)
            if proj.name not in self._by_post:
                order = np.argsort(post, kind="stable")
                self._by_post[proj.name] = (order, post[order])
            order, sorted_post = self._by_post[proj.name]
            a, b = np.searchsorted(sorted_post, [lo, hi])
            idx = np.sort(order[a:b])  # back to (pre, post) order
            self._onto[key] = (pre[idx], post[idx], w[idx])
        return self._onto[key]

    def table_name(self, proj: Projection) -> str:
        """C name of the weight table of ``proj`` (one per PE that receives it in the rows format)."""
        return f"wtab{self.proj_ident[proj.name]}"

    def targets_of(self, idx: int) -> list[tuple[PEAddress, int]]:
        """(a PE of each destination QPE, PE mask), in canonical order."""
        masks: dict[tuple[tuple[int, int], tuple[int, int]], int] = {}
        for pe in self.dests.get(idx, ()):
            key = ((pe.chip[0], pe.chip[1]), (pe.qpe[0], pe.qpe[1]))
            masks[key] = masks.get(key, 0) | (1 << pe.pe)
        out = []
        for (chip, qpe), mask in sorted(masks.items(), key=lambda kv: (kv[0][0][1], kv[0][0][0],
                                                                          kv[0][1][1], kv[0][1][0])):
            out.append((PEAddress(chip=chip, qpe=qpe, pe=0), mask))
        return out
