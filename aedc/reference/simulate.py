"""Reference simulator: plain NumPy, layer-synchronous, one tick at a time — the oracle of later stages.

Semantics of one tick ``t`` (this is the contract the emulator and the generated C reproduce):

1. Populations are visited in :func:`aedc.ir.topo_order` (zero-latency projections point forward).
2. A population's input starts at ``0.0`` (float32). Its incoming projections are applied in graph order.
   A projection with latency ``L`` (delay, +1 for a back-edge) reads the events its ``pre`` emitted at
   tick ``t - L`` (nothing before tick 0). Events are applied in ascending presynaptic index, each
   event's synapses in ascending postsynaptic index: ``input[post] += weight * payload`` in float32.
   Binary spikes have payload 1; graded events carry the value; sigma-delta events carry the change
   since the last sent value, and a sigma-delta projection keeps a persistent accumulator
   ``acc += weight * change`` that is added to the input every tick.
3. ``x = input + bias``; the neuron model updates its state from ``x`` (see
   :mod:`aedc.ir.discretise`), decides whether it spikes and resets (see
   :class:`aedc.ir.options.Semantics`).
4. It emits events: a spike (binary), its value when non-zero (graded), or the change since the last
   sent value when ``|change| > event_threshold`` (sigma-delta).

All state starts at zero. Everything is float32 with no fused multiply-add.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from aedc.errors import SimulationError
from aedc.ir.discretise import neuron_constants
from aedc.ir.graph import Graph, Population, Projection
from aedc.ir.topology import topo_order
from aedc.ir.verify import verify
from aedc.reference.neurons import NEURON_UPDATES, Stage

F32 = np.float32


@dataclass(frozen=True)
class Trace:
    """What a run produced, per population, each array shaped ``(T, *population.shape)``.

    ``outputs``: the value a population presents each tick (spike 0/1, graded value, or the last sent
    sigma-delta value); ``events``: the payload of events sent (0 where none); ``state``: state
    variables after each tick (``v``, ``i_syn``).
    """

    outputs: dict[str, np.ndarray]
    events: dict[str, np.ndarray]
    state: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def spike_steps(self, population: str) -> np.ndarray:
        """Tick indices at which any neuron of ``population`` emitted an event (sorted, unique)."""
        ev = self.events[population]
        return np.unique(np.nonzero(ev.reshape(ev.shape[0], -1))[0])

    def event_count(self, population: str | None = None) -> int:
        """Events sent by one population, or by all non-input populations."""
        names = [population] if population else list(self.events)
        return int(sum(np.count_nonzero(self.events[n]) for n in names))


@dataclass
class _CSR:
    """Synapses of one projection grouped by presynaptic neuron (rows sorted by post)."""

    indptr: np.ndarray
    post: np.ndarray
    weight: np.ndarray

    @classmethod
    def build(cls, proj: Projection, pre: Population, post: Population) -> _CSR:
        pre_idx, post_idx, w = proj.conn.to_coo(pre.shape, post.shape)
        order = np.lexsort((post_idx, pre_idx))
        pre_idx, post_idx, w = pre_idx[order], post_idx[order], w[order]
        indptr = np.zeros(pre.size + 1, np.int64)
        np.add.at(indptr, pre_idx + 1, 1)
        return cls(np.cumsum(indptr), post_idx, np.asarray(w, F32))

    def deliver(self, acc: np.ndarray, payload: np.ndarray) -> None:
        """Apply every event of ``payload`` (flat, 0 = no event) to ``acc`` in canonical order."""
        active = np.flatnonzero(payload)
        if active.size == 0:
            return
        starts, ends = self.indptr[active], self.indptr[active + 1]
        counts = ends - starts
        if counts.sum() == 0:
            return
        rows = np.repeat(active, counts)
        idx = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        np.add.at(acc, self.post[idx], self.weight[idx] * payload[rows])


class _Neuron:
    """Per-population state, and its update: the stages of the model's entry in ``NEURON_UPDATES``."""

    def __init__(self, pop: Population, graph: Graph) -> None:
        self.pop = pop
        self.sem = graph.semantics
        self.n = pop.size
        stages = NEURON_UPDATES.get(pop.neuron.model)
        if stages is None:
            raise SimulationError(f"population '{pop.name}': neuron model '{pop.neuron.model}' has no "
                                  f"entry in aedc.reference.neurons.NEURON_UPDATES", where=pop.name)
        self.stages: tuple[Stage, ...] = stages
        self.c = {k: v.ravel() for k, v in neuron_constants(pop.neuron, self.sem).items()}
        self.p = {k: np.asarray(v, F32).ravel() for k, v in pop.neuron.params().items()}
        self.bias = np.asarray(pop.neuron.bias, F32).ravel() if not pop.is_input else None
        self.state = {var: np.zeros(self.n, F32) for var in pop.neuron.STATE}
        self.z_prev = np.zeros(self.n, bool)
        self.sent = np.zeros(self.n, F32)  # sigma-delta: last sent value

    def step(self, x: np.ndarray) -> np.ndarray:
        """Advance one tick with total input ``x`` (bias included); return the value presented."""
        for stage in self.stages:
            x = stage(self, x)
        return x

    def emit(self, value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(presented value, event payloads) under the population's event rule."""
        if self.pop.event_rule != "sigma_delta":
            return value, value
        change = (value - self.sent).astype(F32)
        send = np.abs(change) > F32(self.pop.event_threshold)
        payload = np.where(send, change, F32(0.0)).astype(F32)
        self.sent = (self.sent + payload).astype(F32)
        return self.sent.copy(), payload


def _check_inputs(graph: Graph, inputs: Mapping[str, np.ndarray],
                  steps: int | None) -> tuple[dict[str, np.ndarray], int]:
    pops = graph.pop_map()
    names = graph.inputs
    unknown = sorted(set(inputs) - set(names))
    if unknown:
        raise SimulationError(f"input(s) {unknown} are not input populations of '{graph.name}'; "
                              f"its inputs are {list(names)}", where=unknown[0])
    missing = [n for n in names if n not in inputs]
    if missing:
        raise SimulationError(f"no data for input population(s) {missing}", where=missing[0])
    out: dict[str, np.ndarray] = {}
    lengths = set()
    for n in names:
        arr = np.asarray(inputs[n], F32)
        pop = pops[n]
        if arr.shape[1:] != pop.shape and not (arr.ndim == 2 and arr.shape[1] == pop.size):
            raise SimulationError(f"input '{n}' has shape {arr.shape}, expected (T, *{pop.shape})",
                                  where=n)
        if not np.all(np.isfinite(arr)):
            raise SimulationError(f"input '{n}' contains NaN or infinity", where=n)
        if pop.event_rule == "binary" and not np.all((arr == 0) | (arr == 1)):
            raise SimulationError(f"input '{n}' uses binary events but its data is not 0/1; "
                                  f"declare it with event_rule='graded'", where=n)
        out[n] = arr.reshape(arr.shape[0], -1)
        lengths.add(arr.shape[0])
    if len(lengths) > 1:
        raise SimulationError(f"inputs have different lengths {sorted(lengths)}")
    T = steps if steps is not None else (lengths.pop() if lengths else 0)
    if any(a.shape[0] < T for a in out.values()):
        raise SimulationError(f"steps={T} is longer than the input data")
    return out, T


def simulate(graph: Graph, inputs: Mapping[str, np.ndarray], *, steps: int | None = None,
             record_state: bool = True) -> Trace:
    """Run ``graph`` for ``steps`` ticks (default: the input length) and return its :class:`Trace`."""
    verify(graph)
    data, T = _check_inputs(graph, inputs, steps)
    pops = graph.pop_map()
    order = topo_order(graph)
    neurons = {n: _Neuron(pops[n], graph) for n in order if not pops[n].is_input}
    incoming: dict[str, list[tuple[Projection, _CSR]]] = {n: [] for n in order}
    for proj in graph.projections:
        incoming[proj.post].append((proj, _CSR.build(proj, pops[proj.pre], pops[proj.post])))
    sd_acc = {proj.name: np.zeros(pops[proj.post].size, F32) for proj in graph.projections
              if pops[proj.pre].event_rule == "sigma_delta"}
    events = {n: np.zeros((T, pops[n].size), F32) for n in order}
    values = {n: np.zeros((T, pops[n].size), F32) for n in order}
    state = {n: {v: np.zeros((T, pops[n].size), F32) for v in pops[n].neuron.STATE}
             for n in order} if record_state else {}

    for t in range(T):
        for n in order:
            if pops[n].is_input:
                events[n][t] = values[n][t] = data[n][t]
                continue
            acc = np.zeros(pops[n].size, F32)
            for proj, csr in incoming[n]:
                src = t - proj.latency
                if proj.name in sd_acc:
                    if src >= 0:
                        csr.deliver(sd_acc[proj.name], events[proj.pre][src])
                    acc += sd_acc[proj.name]
                elif src >= 0:
                    csr.deliver(acc, events[proj.pre][src])
            neuron = neurons[n]
            assert neuron.bias is not None
            value, payload = neuron.emit(neuron.step((acc + neuron.bias).astype(F32)))
            values[n][t], events[n][t] = value, payload
            if record_state:
                for var, arr in neuron.state.items():
                    state[n][var][t] = arr

    def shaped(d: dict[str, np.ndarray], pop: str | None = None) -> dict[str, np.ndarray]:
        return {k: v.reshape((T, *pops[pop or k].shape)) for k, v in d.items()}

    return Trace(outputs=shaped(values), events=shaped(events),
                 state={k: shaped(v, k) for k, v in state.items() if v})

