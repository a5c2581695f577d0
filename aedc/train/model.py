"""A graph under a schedule as a differentiable function of its trainable parameters.

:class:`TrainableModel` builds the emulator's fast path (``Emulator(..., exact=False)``) for ``T`` ticks
and exposes ``forward(params, x)`` — a batch ``x (B, T, N_in)`` through the whole unrolled schedule
(sync or async: every PE's ticks, NoC latency and jitter as the schedule says; backprop runs through
the unrolled global steps, not layer by layer). Spikes are differentiated with the emulator's
fast-sigmoid surrogate; graded and sigma-delta payloads directly.

Trainable parameters (a pytree of float32 arrays): ``w[projection][block]`` — the dense matrices of
every :class:`~aedc.ir.connectivity.Dense` projection (per (source PE, destination PE) block, ``(pre,
post)`` layout); ``bias[population]`` (optional) and ``threshold[population]`` (``v_threshold`` of
spiking models, optional). Other connectivity kinds are kept fixed. :meth:`TrainableModel.to_graph`
writes the parameters back into the IR graph (Dense weight ``W[post, pre]``, neuron bias/threshold),
so the trained graph can be verified, compiled or exported with :func:`aedc.frontend.nir_export.to_nir`.

Under the event-driven schedule (``Schedule.event_driven(...)``) the forward pass is the event
executor's (:class:`~aedc.emulator.event_engine.EventCompiled`, ``differentiable=True``): gradients
flow through the micro-steps each step used (:func:`aedc.emulator.loops.bounded_while`; at most
``max_microsteps``), and each dense weight is one block, :data:`EVENT_BLOCK`, the whole
``(pre, post)`` matrix.

Built on :meth:`aedc.emulator.Emulator.compiled` (the fast path's parameter tables), the same tables
:meth:`~aedc.emulator.Emulator.trainable` uses, extended here with biases and thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

from aedc.emulator import Emulator, PlacedProgram, Schedule
from aedc.emulator.event_engine import EventCompiled
from aedc.ir.connectivity import Dense
from aedc.ir.graph import Graph

Params = dict[str, dict[str, Any]]
F32 = np.float32
EVENT_BLOCK = "all"
"""The block key of a weight under the event-driven schedule (one table per projection)."""


@dataclass(frozen=True)
class Trainables:
    """Which parameters a model trains besides the dense weights: ``True`` (every population that
    has one), ``False``, or a tuple of population names. ``threshold``: a spiking model's
    ``v_threshold`` (surrogate gradient), or a sigma-delta population's ``event_threshold`` (the
    send gate's surrogate; written back clipped at 0)."""

    bias: bool | tuple[str, ...] = True
    threshold: bool | tuple[str, ...] = False

    @staticmethod
    def wants(flag: bool | tuple[str, ...], population: str) -> bool:
        return flag if isinstance(flag, bool) else population in flag


class TrainableModel:
    """``forward(params, x)``: run a batch through ``graph`` under ``schedule`` for ``T`` ticks."""

    def __init__(self, graph: Graph | PlacedProgram, schedule: Schedule, T: int, *,
                 trainables: Trainables = Trainables(), remat: bool = True) -> None:
        self.emulator = Emulator(graph, schedule, exact=False, record_state=True, remat=remat)
        self.graph = self.emulator.graph
        self.schedule, self.T, self.trainables = schedule, T, trainables
        comp, _ = self.emulator.compiled(T)
        self._comp = comp
        self.event_driven = isinstance(comp, EventCompiled)
        """Whether the schedule is the event-driven one: its tables hold one entry per projection
        (no PE blocks), so ``w[projection]`` has the single block :data:`EVENT_BLOCK`, the whole
        ``(pre, post)`` matrix; gradients flow through the micro-steps each step used."""
        P = comp.params
        pops = self.graph.pop_map()
        self.input = self.graph.inputs[0]
        dense = {pr.name for pr in self.graph.projections if isinstance(pr.conn, Dense)}
        params: Params = {"w": {}, "bias": {}, "threshold": {}, "event_threshold": {}}
        for name, blocks in P["proj"].items():
            if self.event_driven:
                if name in dense and "mat" in blocks:
                    params["w"][name] = {EVENT_BLOCK: blocks["mat"]}
            elif name in dense and all("mat" in e for e in blocks.values()):
                params["w"][name] = {b: e["mat"] for b, e in blocks.items()}
        for n, c in P["neuron"].items():
            if Trainables.wants(trainables.bias, n):
                params["bias"][n] = c["bias"]
            if Trainables.wants(trainables.threshold, n) and pops[n].neuron.SPIKING and "v_threshold" in c:
                params["threshold"][n] = c["v_threshold"]
            if Trainables.wants(trainables.threshold, n) and "event_threshold" in c:
                params["event_threshold"][n] = c["event_threshold"]
        self.params0: Params = params
        self.base: dict[str, Any] = P
        """The fast path's fixed tables (schedule, neuron constants, non-trainable weights): pass them
        to :meth:`apply` as an argument inside ``jax.jit`` so XLA does not constant-fold them."""
        if isinstance(comp, EventCompiled):
            event = comp

            def one(P: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
                ys = event.run_one(P, data, differentiable=True)[0]
                return {n: {k: v for k, v in y.items() if k != "microstep"} for n, y in ys.items()}

            self._run = jax.vmap(one, in_axes=(None, 0))
        else:
            self._run = jax.vmap(comp.run_one, in_axes=(None, 0))

    def apply(self, params: Params, base: dict[str, Any], x: Any) -> dict[str, Any]:
        """Run batch ``x (B, T, N_in)`` with ``params`` over the tables ``base`` (:attr:`base`):
        per population ``{"events", "outputs", "state.<var>"}`` arrays ``(B, T, N)``."""
        if self.event_driven:
            proj = {name: ({**e, "mat": params["w"][name][EVENT_BLOCK]} if name in params["w"] else e)
                    for name, e in base["proj"].items()}
        else:
            proj = {name: {b: ({**e, "mat": params["w"][name][b]} if name in params["w"] else e)
                           for b, e in blocks.items()} for name, blocks in base["proj"].items()}
        neuron = {n: {**c,
                      **({"bias": params["bias"][n]} if n in params["bias"] else {}),
                      **({"v_threshold": params["threshold"][n]} if n in params["threshold"] else {}),
                      **({"event_threshold": params["event_threshold"][n]}
                         if n in params.get("event_threshold", {}) else {})}
                  for n, c in base["neuron"].items()}
        return dict(self._run({**base, "proj": proj, "neuron": neuron}, {self.input: x}))

    def forward(self, params: Params, x: Any) -> dict[str, Any]:
        """:meth:`apply` over this model's own :attr:`base`."""
        return self.apply(params, self.base, x)

    def to_graph(self, params: Params) -> Graph:
        """The graph with ``params`` written back (weights, biases, thresholds), verified."""
        from aedc.ir.verify import verify

        params = jax.device_get(params)
        blocks_of = self.base["proj"]
        projs = []
        for pr in self.graph.projections:
            if pr.name in params["w"]:
                assert isinstance(pr.conn, Dense)
                W = np.array(pr.conn.weight, F32, copy=True)
                if self.event_driven:  # the whole (pre, post) matrix, flat over both shapes
                    mat = np.asarray(params["w"][pr.name][EVENT_BLOCK], F32)
                    W = mat.T.reshape(W.shape).copy()
                    projs.append(pr.model_copy(update={"conn": Dense(weight=W)}))
                    continue
                for b, mat in params["w"][pr.name].items():
                    e = blocks_of[pr.name][b]
                    pre, post = np.asarray(e["pre"]), np.asarray(e["post"])
                    W[np.ix_(post, pre)] = np.asarray(mat, F32).T
                pr = pr.model_copy(update={"conn": Dense(weight=W)})
            projs.append(pr)
        pops = []
        for p in self.graph.populations:
            upd: dict[str, Any] = {}
            if p.name in params["bias"]:
                upd["bias"] = np.asarray(params["bias"][p.name], F32).reshape(p.shape)
            if p.name in params["threshold"]:
                upd["v_threshold"] = np.asarray(params["threshold"][p.name], F32).reshape(p.shape)
            if upd:
                p = p.model_copy(update={"neuron": p.neuron.model_copy(update=upd)})
            if p.name in params.get("event_threshold", {}):
                theta = float(np.asarray(params["event_threshold"][p.name], F32).ravel()[0])
                p = p.model_copy(update={"event_threshold": max(theta, 0.0)})
            pops.append(p)
        return verify(self.graph.model_copy(update={"populations": tuple(pops),
                                                    "projections": tuple(projs)}))
