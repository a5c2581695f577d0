"""Plain-Python oracle of the event-driven schedule (the contract is the docstring of
:mod:`aedc.timing.event`): the independent witness the JAX event executor is tested against.

It is written event by event and neuron by neuron, for reading rather than speed, and shares no code
with ``aedc.emulator``, ``aedc.codegen`` or ``aedc.reference``: the neuron ticks below are written out
again as float32 scalar expressions (every product and sum its own ``np.float32`` operation, in the
order of :mod:`aedc.reference.neurons`), and the random policy's hash is computed from the formula in
the contract with Python integers.

    trace = simulate_event(graph, inputs, events_per_step=1, policy="momentum")
    trace.events["h"]      # (T, n) float32 0/1 spikes
    trace.microstep["h"]   # (T, n) micro-step of each spike, -1 where none
    trace.overflow         # (T,) candidates left after max_microsteps

Readings of the contract where it leaves a choice (each marked ``READING`` where it is implemented):

1. A neuron is a candidate while its candidate membrane crosses (a predicate of the current ``acc``):
   a touched candidate whose membrane no longer crosses (inhibition arrived while it waited for its
   PE's budget) stops being a candidate; if it crosses again later it becomes a candidate anew, with
   the later micro-step as its arrival time.
2. The *candidate membrane* is the value the model's spike test compares: ``v`` after the leak and,
   with ``reset_next_tick``, after the previous step's late reset; for Threshold neurons ``x = acc +
   bias``. ``momentum`` ranks by ``float32(v − θ)`` of the latest candidate state; ties (and
   ``random``'s hash ties) fall back to the ``arrival`` order. ``random`` hashes ``(seed, t, m,
   global id)`` with ``t`` the 0-based time step and ``m`` the micro-step that fires.
3. A sigma-delta input projection keeps its persistent accumulator (as in the reference): in the
   micro-step that integrates the step's events of that projection, they are added to the
   accumulator (presynaptic order), then the accumulator is added to ``acc`` — one item at the
   projection's place in graph order, every step, even without events.
4. Events still in flight after ``max_microsteps`` (sent in the last micro-step to a latency-0
   receiver, or held in ``layered`` mode for a population that never became ready) are not integrated
   in that step: the end-of-step tick uses the ``acc`` integrated so far. They are not counted as
   overflow (only candidates are); latency >= 1 projections still deliver those spikes at ``t + L``.
5. ``layered``: a population becomes *ready* in the first micro-step ``m`` in which every population it
   receives a latency-0 projection from (input populations excepted: their events are sent at the
   step's start) was ready before ``m`` and has no candidate left after micro-step ``m − 1``'s firing.
   Until then the events sent to it are held; in ``m`` they are all integrated (projection order, then
   presynaptic index) and all its neurons are evaluated, as every neuron is in micro-step 0 otherwise.
   With ``k = 0`` that is the population's topological depth (longest latency-0 path from a
   non-input population). A step of a layered run does not end before every population was ready.
6. The micro-steps a step *used* are ``m + 1`` for the last micro-step ``m`` executed: the step ends
   after micro-step ``m`` when nothing is in flight or held, no candidate is left and (layered) every
   population has been ready; otherwise after ``max_microsteps``.
7. Graded populations (sinks only) integrate like any other and run their model's tick at the step's
   end on the whole ``acc``; their ``events``/``outputs`` follow the reference's event rules.
8. The default placement is one PE per population, PE ``i`` for the ``i``-th population in graph order
   (input populations included, though they hold no candidates). Input events are sent at the step's
   start and are not limited by ``k`` (only candidates are).

A finding rather than a reading: the contract's "without ``layered`` and with ``k = 0`` a feed-forward
chain is still equal to the reference" needs that no neuron crosses before its input arrives
(micro-step 0 tests every neuron on its bias, leak, late reset or last step's synaptic current alone,
and a layer whose spikes are spread over micro-steps reorders its receivers' float32 sums). The tests
pin a counterexample and two families where it holds (quiet chains; excitatory exact-weight graphs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from counter_hash_oracle import counter_hash

from aedc.errors import TimingError
from aedc.ir.discretise import neuron_constants
from aedc.ir.graph import Graph, Population
from aedc.ir.options import Semantics
from aedc.ir.verify import verify

F32 = np.float32
SPIKING_MODELS = ("lif", "alif", "cuba_lif", "if", "threshold")
GRADED_MODELS = ("li", "cuba_li", "integrator", "linear", "relu")
POLICIES = ("arrival", "momentum", "random")


def priority(seed: int, step: int, microstep: int, neuron: int) -> int:
    """The ``random`` policy's hash of one global neuron id, from the contract's formula (Python ints)."""
    return counter_hash(seed, step, microstep, neuron)


@dataclass(frozen=True)
class EventTrace:
    """What an event-driven run produced; every per-population array is ``(T, n)`` (flat neurons).

    ``events``: spikes (float32 0/1) of spiking populations, the data of inputs, the payloads of graded
    readouts; ``outputs``: the value each presents (= ``events`` but for a sigma-delta readout's last
    sent value); ``state``: each ``STATE`` variable at the end of each step; ``microstep``: for spiking
    non-input populations, the micro-step each spike fired in (-1: none); ``overflow``: candidates left
    when a step ran out of micro-steps; ``microsteps``: micro-steps each step used.
    """

    events: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]
    state: dict[str, dict[str, np.ndarray]]
    microstep: dict[str, np.ndarray]
    overflow: np.ndarray
    microsteps: np.ndarray


def _accumulate(acc: np.float32, value: np.float32) -> np.float32:
    """``acc + value`` in float32: how one synaptic contribution enters a neuron's input."""
    return F32(acc + value)


class _Cell:
    """One population: constants, parameters, state at the step's start and the step's bookkeeping."""

    def __init__(self, pop: Population, index: int, offset: int, sem: Semantics, pe: np.ndarray) -> None:
        self.pop, self.name, self.index, self.offset = pop, pop.name, index, offset
        self.n = pop.size
        self.model = pop.neuron.model
        self.sem = sem
        self.spiking = self.model in SPIKING_MODELS
        self.pe = pe
        if pop.is_input:
            return
        self.c = {k: np.asarray(v, F32).reshape(-1) for k, v in neuron_constants(pop.neuron, sem).items()}
        self.p = {k: np.broadcast_to(np.asarray(v, F32), pop.shape).reshape(-1)
                  for k, v in pop.neuron.params().items()}
        self.bias = self.p["bias"]
        self.s = {var: np.zeros(self.n, F32) for var in pop.neuron.STATE}
        self.z_prev = np.zeros(self.n, bool)  # fired in the previous step (the late reset's flag)
        self.sent = np.zeros(self.n, F32)  # sigma-delta readout: last sent value
        self.start_step()

    def start_step(self) -> None:
        self.acc = np.zeros(self.n, F32)
        self.fired = np.zeros(self.n, bool)
        self.fire_m = np.full(self.n, -1, np.int64)
        self.since = np.full(self.n, -1, np.int64)  # micro-step it became a candidate, -1: not one
        self.margin = np.zeros(self.n, F32)  # candidate membrane minus threshold
        self.ready_at: int | None = None

    # ---- the model's tick, one neuron, float32 scalars -------------------------------------------

    def _reset(self, i: int, v: np.float32, theta: np.float32) -> np.float32:
        if self.sem.reset == "subtract":
            return F32(v - theta)
        return F32(self.p["v_reset"][i])

    def membrane(self, i: int, x: np.float32) -> tuple[dict[str, np.float32], np.float32, np.float32]:
        """The tick of neuron ``i`` from the step's start state with total input ``x``, up to the spike
        test: (new values of the state so far, the membrane compared, the threshold)."""
        m, c, p, s = self.model, self.c, self.p, self.s
        new: dict[str, np.float32] = {}
        if m == "threshold":
            return new, x, F32(p["threshold"][i])
        drive = x
        if m == "cuba_lif":
            i_old = F32(s["i_syn"][i])
            i_new = F32(F32(c["syn_decay"][i] * i_old) + F32(c["syn_gain"][i] * x))
            new["i_syn"] = i_new
            drive = i_new if self.sem.current_first else i_old
        if m == "if":
            v = F32(s["v"][i] + F32(c["gain"][i] * drive))
        else:  # lif, alif, cuba_lif: leaky membrane
            v = F32(F32(F32(c["decay"][i] * s["v"][i]) + F32(c["gain"][i] * drive)) + c["leak"][i])
        if m == "alif":
            theta = F32(p["v_threshold"][i] + F32(p["beta"][i] * s["a"][i]))  # a of the step's start
        else:
            theta = F32(p["v_threshold"][i])
        if self.sem.reset_next_tick and self.z_prev[i]:
            v = self._reset(i, v, theta)
        new["v"] = v
        return new, v, theta

    def crosses(self, v: np.float32, theta: np.float32) -> bool:
        return bool(v > theta) if self.sem.threshold_cmp == ">" else bool(v >= theta)

    def settle(self, i: int, x: np.float32, z: bool) -> None:
        """End of step for spiking neuron ``i``: the tick on the whole input with spike flag ``z`` =
        fired in this step (the reset and ALIF's adaptation follow ``z``, not the final crossing)."""
        new, v, theta = self.membrane(i, x)
        if self.model == "threshold":
            return
        if z and not self.sem.reset_next_tick:
            new["v"] = self._reset(i, v, theta)
        if self.model == "alif":
            new["a"] = F32(F32(self.c["adapt_decay"][i] * self.s["a"][i]) + F32(1.0 if z else 0.0))
        for var, val in new.items():
            self.s[var][i] = val

    def readout(self, i: int, x: np.float32) -> np.float32:
        """End of step for graded neuron ``i``: its model's tick, returning the value it presents."""
        m, c, s = self.model, self.c, self.s
        if m == "linear":
            return x
        if m == "relu":
            return F32(np.maximum(x, F32(0.0)))
        if m == "integrator":
            s["v"][i] = F32(s["v"][i] + F32(c["gain"][i] * x))
            return F32(s["v"][i])
        drive = x
        if m == "cuba_li":
            i_old = F32(s["i_syn"][i])
            i_new = F32(F32(c["syn_decay"][i] * i_old) + F32(c["syn_gain"][i] * x))
            s["i_syn"][i] = i_new
            drive = i_new if self.sem.current_first else i_old
        s["v"][i] = F32(F32(F32(c["decay"][i] * s["v"][i]) + F32(c["gain"][i] * drive)) + c["leak"][i])
        return F32(s["v"][i])


@dataclass
class _Proj:
    """One projection: its place in graph order, latency and synapses grouped by presynaptic neuron."""

    order: int
    pre: _Cell
    post: _Cell
    latency: int
    rows: list[list[tuple[int, np.float32]]]  # rows[pre] = [(post, weight), …], post ascending
    sigma_delta: bool  # from a sigma-delta input: keeps a persistent accumulator
    sd_acc: np.ndarray


@dataclass(frozen=True)
class _Item:
    """Something in flight to a population: one event, or (``pre == -1``) a sigma-delta projection's
    accumulator, integrated after that projection's events."""

    proj: _Proj
    pre: int
    payload: np.float32
    arrival: int

    def key(self) -> tuple[int, int]:
        return self.proj.order, self.pre if self.pre >= 0 else self.proj.pre.n


def _rank(policy: str, seed: int, t: int, m: int, c: _Cell, i: int) -> tuple[float | int, ...]:
    """Sort key of candidate ``i`` of ``c`` on its PE in micro-step ``m`` of step ``t`` (lowest first).

    ``arrival``: the micro-step it became a candidate, then the PE's neuron order (population in graph
    order, flat index). READING 2: ``momentum`` ranks by ``float32(v − θ)`` of its latest candidate
    state, highest first; ``momentum`` and ``random`` break ties by the ``arrival`` order.
    """
    arrival = (int(c.since[i]), c.index, i)
    if policy == "momentum":
        return (-float(c.margin[i]), *arrival)
    if policy == "random":
        return (priority(seed, t, m, c.offset + i), *arrival)
    return arrival


_SEMANTICS_READ = ("profile", "dt", "discretisation", "reset", "threshold_cmp", "current_first",
                   "reset_next_tick", "unscaled_input", "gain_reading")
"""The ``Semantics`` fields this oracle implements (``unscaled_input``, ``gain_reading`` through the host
constants); any
other field away from its default is refused rather than silently ignored."""


def _check_scope(graph: Graph) -> None:
    """Refuse what the contract's "Scope" section excludes: only binary spikes of spiking populations
    (and any input's events) travel between populations; and semantics the contract does not name
    (resets other than ``v_reset`` and ``v − θ``, further ``Semantics`` options)."""
    pops = graph.pop_map()
    problems = []
    sem = graph.semantics
    if sem.reset not in ("to_v_reset", "subtract"):
        problems.append(f"semantics: reset {sem.reset!r} is not part of the event-driven contract "
                        f"(it names the reset to v_reset and v − θ)")
    default = type(sem)()
    others = [f for f in type(sem).model_fields
              if f not in _SEMANTICS_READ and getattr(sem, f) != getattr(default, f)]
    if others:
        problems.append(f"semantics: option(s) {others} are not implemented by the event oracle")
    for pop in graph.populations:
        if pop.is_input:
            continue
        if pop.neuron.model not in SPIKING_MODELS + GRADED_MODELS:
            problems.append(f"population '{pop.name}': neuron model '{pop.neuron.model}' is unknown to "
                            f"the event oracle")
    for pr in graph.projections:
        pre = pops[pr.pre]
        if pre.is_input:
            continue
        if pre.neuron.model not in SPIKING_MODELS or pre.event_rule != "binary":
            problems.append(f"projection '{pr.name}': population '{pre.name}' (model "
                            f"'{pre.neuron.model}', event rule '{pre.event_rule}') would send events; "
                            f"under the event-driven schedule only binary spikes of spiking populations "
                            f"travel between populations (graded populations may only be read as outputs)")
    if problems:
        raise TimingError("; ".join(problems), where=graph.name)


def _check_inputs(graph: Graph, inputs: Mapping[str, np.ndarray]) -> tuple[dict[str, np.ndarray], int]:
    pops = graph.pop_map()
    unknown = sorted(set(inputs) - set(graph.inputs))
    missing = [n for n in graph.inputs if n not in inputs]
    if unknown or missing:
        raise TimingError(f"inputs must be exactly {list(graph.inputs)} (unknown {unknown}, missing "
                          f"{missing})")
    data: dict[str, np.ndarray] = {}
    for name in graph.inputs:
        arr = np.asarray(inputs[name], F32)
        pop = pops[name]
        if arr.ndim < 1 or arr.reshape(arr.shape[0], -1).shape[1] != pop.size:
            raise TimingError(f"input '{name}' has shape {arr.shape}, expected (T, *{pop.shape})",
                              where=name)
        flat = arr.reshape(arr.shape[0], -1)
        if not np.all(np.isfinite(flat)):
            raise TimingError(f"input '{name}' contains NaN or infinity", where=name)
        if pop.event_rule == "binary" and not np.all((flat == 0) | (flat == 1)):
            raise TimingError(f"input '{name}' uses binary events but its data is not 0/1", where=name)
        data[name] = flat
    lengths = {a.shape[0] for a in data.values()}
    if len(lengths) > 1:
        raise TimingError(f"inputs have different lengths {sorted(lengths)}")
    return data, lengths.pop() if lengths else 0


def _placement(graph: Graph, pe_of: Mapping[str, np.ndarray] | None) -> dict[str, np.ndarray]:
    if pe_of is None:
        return {p.name: np.full(p.size, i, np.int64) for i, p in enumerate(graph.populations)}
    names = {p.name for p in graph.populations}
    unknown = sorted(set(pe_of) - names)
    if unknown:
        raise TimingError(f"pe_of names unknown population(s) {unknown}")
    out: dict[str, np.ndarray] = {}
    for i, p in enumerate(graph.populations):
        if p.name not in pe_of:
            if not p.is_input:
                raise TimingError(f"pe_of has no PE for population '{p.name}'", where=p.name)
            out[p.name] = np.full(p.size, -1 - i, np.int64)  # inputs hold no candidates
            continue
        pe = np.asarray(pe_of[p.name]).reshape(-1)
        if pe.size != p.size or not np.issubdtype(pe.dtype, np.integer) or np.any(pe < 0):
            raise TimingError(f"pe_of['{p.name}'] must hold one PE index >= 0 per neuron ({p.size})",
                              where=p.name)
        out[p.name] = pe.astype(np.int64)
    return out


def simulate_event(graph: Graph, inputs: Mapping[str, np.ndarray], *,
                   pe_of: Mapping[str, np.ndarray] | None = None, events_per_step: int = 0,
                   policy: str = "arrival", seed: int = 0, max_microsteps: int = 64,
                   layered: bool = False) -> EventTrace:
    """Run ``graph`` under the event-driven schedule for as many steps as ``inputs`` hold.

    ``pe_of``: population → PE index of each neuron (default: one PE per population, in graph order);
    ``events_per_step``: spikes a PE fires per micro-step (0 = all its candidates); ``policy``: which
    candidates fire first (``arrival``, ``momentum``, ``random`` with ``seed``); ``max_microsteps``:
    micro-steps per step at most; ``layered``: a population waits for its latency-0 inputs.
    """
    if int(events_per_step) != events_per_step or events_per_step < 0:
        raise TimingError(f"events_per_step must be an integer >= 0 (0 = unbounded), got {events_per_step}")
    if int(max_microsteps) != max_microsteps or max_microsteps < 1:
        raise TimingError(f"max_microsteps must be an integer >= 1, got {max_microsteps}")
    if policy not in POLICIES:
        raise TimingError(f"unknown event policy {policy!r}; policies are {', '.join(POLICIES)}")
    verify(graph)
    _check_scope(graph)
    data, T = _check_inputs(graph, inputs)
    pes = _placement(graph, pe_of)
    k, M = int(events_per_step), int(max_microsteps)

    cells: list[_Cell] = []
    offset = 0
    for i, pop in enumerate(graph.populations):
        cells.append(_Cell(pop, i, offset, graph.semantics, pes[pop.name]))
        offset += pop.size
    by_name = {c.name: c for c in cells}
    hidden = [c for c in cells if not c.pop.is_input]
    projs: list[_Proj] = []
    for j, pr in enumerate(graph.projections):
        pre, post = by_name[pr.pre], by_name[pr.post]
        pre_idx, post_idx, w = pr.conn.to_coo(pre.pop.shape, post.pop.shape)
        rows: list[list[tuple[int, np.float32]]] = [[] for _ in range(pre.n)]
        for a, b, wt in sorted(zip(pre_idx.tolist(), post_idx.tolist(), np.asarray(w, F32), strict=True),
                               key=lambda syn: (syn[0], syn[1])):
            rows[a].append((b, F32(wt)))
        projs.append(_Proj(j, pre, post, pr.latency, rows,
                           pre.pop.is_input and pre.pop.event_rule == "sigma_delta", np.zeros(post.n, F32)))
    zero_latency_from = {c.name: [p.pre for p in projs if p.post is c and p.latency == 0
                                  and not p.pre.pop.is_input] for c in hidden}

    events = {c.name: np.zeros((T, c.n), F32) for c in cells}
    outputs = {c.name: np.zeros((T, c.n), F32) for c in cells}
    state = {c.name: {v: np.zeros((T, c.n), F32) for v in c.pop.neuron.STATE} for c in hidden}
    microstep = {c.name: np.full((T, c.n), -1, np.int64) for c in hidden if c.spiking}
    overflow = np.zeros(T, np.int64)
    used = np.zeros(T, np.int64)

    for t in range(T):
        for c in cells:
            if c.pop.is_input:
                events[c.name][t] = outputs[c.name][t] = data[c.name][t]
            else:
                c.start_step()
        inbox: dict[str, list[_Item]] = {c.name: [] for c in hidden}
        # Micro-step 0 receives the input frame t (latency 0) and every event of a latency-L projection
        # sent in step t − L; latency-0 spikes of step t are added as they fire.
        for pr in projs:
            src = t - pr.latency
            if src >= 0 and (pr.latency > 0 or pr.pre.pop.is_input):
                for i in np.flatnonzero(events[pr.pre.name][src]).tolist():
                    inbox[pr.post.name].append(_Item(pr, i, F32(events[pr.pre.name][src, i]), 0))
            if pr.sigma_delta:  # READING 3: the persistent accumulator enters acc every step
                inbox[pr.post.name].append(_Item(pr, -1, F32(0.0), 0))

        m = 0
        for m in range(M):
            # which populations act in this micro-step (READING 5)
            for c in hidden:
                if c.ready_at is None and (not layered or all(
                        p.ready_at is not None and p.ready_at < m and not np.any(p.since >= 0)
                        for p in zero_latency_from[c.name])):
                    c.ready_at = m
            ready = [c for c in hidden if c.ready_at is not None]
            # (1) integrate what arrives (or was held), by projection, then presynaptic neuron
            touched: dict[str, set[int]] = {c.name: set() for c in hidden}
            for c in ready:
                due = sorted((it for it in inbox[c.name] if it.arrival <= m), key=_Item.key)
                inbox[c.name] = [it for it in inbox[c.name] if it.arrival > m]
                for it in due:
                    if it.pre < 0:  # a sigma-delta projection's accumulator
                        for post in range(c.n):
                            c.acc[post] = _accumulate(c.acc[post], it.proj.sd_acc[post])
                            touched[c.name].add(post)
                        continue
                    for post, w in it.proj.rows[it.pre]:
                        contribution = F32(w * it.payload)
                        if it.proj.sigma_delta:
                            it.proj.sd_acc[post] = F32(it.proj.sd_acc[post] + contribution)
                        else:
                            c.acc[post] = _accumulate(c.acc[post], contribution)
                            touched[c.name].add(post)
            # (2) candidate state of the touched neurons (of all, in the population's first micro-step)
            for c in ready:
                if not c.spiking:
                    continue
                look = range(c.n) if c.ready_at == m else sorted(touched[c.name])
                for i in look:
                    if c.fired[i]:
                        continue
                    _, v, theta = c.membrane(i, F32(c.acc[i] + c.bias[i]))
                    if c.crosses(v, theta):
                        if c.since[i] < 0:
                            c.since[i] = m
                        c.margin[i] = F32(v - theta)
                    else:
                        c.since[i] = -1  # READING 1: no longer crossing, no longer a candidate
            # (3) every PE fires up to k of its candidates, in policy order
            waiting: dict[int, list[tuple[_Cell, int]]] = {}
            for c in ready:
                for i in np.flatnonzero(c.since >= 0).tolist():
                    waiting.setdefault(int(c.pe[i]), []).append((c, i))
            for pe in sorted(waiting):
                ranked = sorted(((_rank(policy, seed, t, m, c, i), c, i) for c, i in waiting[pe]),
                                key=lambda r: r[0])
                for _, c, i in ranked if k == 0 else ranked[:k]:
                    c.fired[i], c.fire_m[i], c.since[i] = True, m, -1
                    for pr in projs:
                        if pr.pre is c and pr.latency == 0:
                            inbox[pr.post.name].append(_Item(pr, i, F32(1.0), m + 1))
            # does the step end here? (READING 6)
            candidates = sum(int(np.count_nonzero(c.since >= 0)) for c in hidden)
            in_flight = any(inbox[c.name] for c in hidden)
            if candidates == 0 and not in_flight and all(c.ready_at is not None for c in hidden):
                break
        else:
            overflow[t] = candidates  # READING 4: what is still in flight is not integrated
        used[t] = m + 1

        # end of step: the model's tick on the whole acc, with z = fired in this step
        for c in hidden:
            for i in range(c.n):
                x = F32(c.acc[i] + c.bias[i])
                if c.spiking:
                    c.settle(i, x, bool(c.fired[i]))
                else:
                    value = c.readout(i, x)
                    if c.pop.event_rule == "sigma_delta":
                        change = F32(value - c.sent[i])
                        payload = change if abs(change) > F32(c.pop.event_threshold) else F32(0.0)
                        c.sent[i] = F32(c.sent[i] + payload)
                        events[c.name][t, i], outputs[c.name][t, i] = payload, c.sent[i]
                    else:
                        events[c.name][t, i] = outputs[c.name][t, i] = value
            if c.spiking:
                c.z_prev = c.fired.copy()
                events[c.name][t] = outputs[c.name][t] = c.fired.astype(F32)
                microstep[c.name][t] = c.fire_m
            for var in c.s:
                state[c.name][var][t] = c.s[var]

    return EventTrace(events=events, outputs=outputs, state=state, microstep=microstep,
                      overflow=overflow, microsteps=used)
