"""The event-driven schedule (``Schedule.event_driven``): a PE integrates events as they arrive and
fires at once — the asynchronous event-driven (AED) model itself, beside ``sync`` and tick-``async``.

This docstring is the contract. The JAX emulator, the plain-Python oracle of the tests and (later) the
generated C implement it independently; none reads another's code.

**Time steps and micro-steps.** Time is divided into steps of ``dt`` (the timer period, 1 ms by
default); step ``t`` runs in *micro-steps* ``m = 0, 1, …, M − 1`` (``M = Schedule.max_microsteps``). A
micro-step is one round of event delivery: an event fired in micro-step ``m`` is integrated by its
receivers in micro-step ``m + 1`` of the same step, wherever they are placed. There is no barrier between
layers: a spike crosses as many layers within one step as there are micro-steps.

**What a neuron holds within a step.** At the step's start every neuron has its state ``s`` (the
model's ``STATE``: ``v``, ``i_syn``, ``a``, …) and an input accumulator ``acc = 0``. Integrating an event
of weight ``w`` (binary spike) or ``w·payload`` (graded/sigma-delta input) adds it to ``acc`` in float32.
At any moment the neuron's *candidate state* is the model's tick (:mod:`aedc.reference.neurons`, the
same float32 expression) applied to ``s`` with total input ``acc + bias`` — so the leak (and every decay)
is applied exactly once per step, and the membrane after all of a step's input is bit for bit what the
layer-synchronous reference computes from the same input.

**Firing.** A spiking neuron (LIF, ALIF, IF, Threshold) is a *candidate* when its candidate membrane
crosses its threshold (``>`` or ``>=`` by ``Semantics.threshold_cmp``; ALIF's threshold from ``a`` of the
step's start) and it has not fired in this step. In micro-step ``m`` each PE fires at most ``k =
Schedule.events_per_step`` of its candidates (``0``: all), chosen by ``Schedule.policy``:

* ``arrival`` — in the order they became candidates (earlier micro-step first), ties by the PE's neuron
  order (populations in graph order, then flat index): what a PE that processes packets in arrival
  order and tests touched neurons at once does;
* ``momentum`` — highest candidate membrane minus threshold first, ties as in ``arrival``;
* ``random`` — lowest :func:`event_priority` first (a counter-based hash of seed, step, micro-step and
  the neuron's global id, so every executor draws the same order without sharing a generator).

A neuron fires at most once per step (refractory for the rest of it). Its spike is sent at once and
integrated by its receivers in micro-step ``m + 1``. At the step's end the new state is the model's tick
on ``s`` with the step's whole ``acc`` and with the spike flag ``z`` = *fired in this step* (the reset —
to ``v_reset`` or ``v − θ`` — and ALIF's ``a ← adapt_decay·a + z`` follow ``z``); the reset one step
late of ``Semantics.reset_next_tick`` applies at the next step as in the reference.

**Order of a micro-step** (every PE at once): (1) integrate the events that arrive in this micro-step;
(2) compute the candidate state of the touched neurons (in micro-step 0: of every neuron, since the
bias alone may cross) and mark new candidates; (3) fire up to ``k``
candidates per PE. Within (1) events are added to ``acc`` by projection (graph order), then presynaptic
neuron (flat index), the reference's order for one projection.

**What arrives when.** Micro-step 0 of step ``t`` integrates the input frame ``t`` (every non-zero input
value is an event, sent at the step's start) and every event of a projection with latency ``L = delay +
back_edge ≥ 1`` that was fired in step ``t − L`` (any micro-step). A projection of latency 0 delivers in
the next micro-step of the same step. Because a neuron fires at most once per step, a step always ends:
it ends when no PE has a pending event or candidate, or after ``M`` micro-steps — candidates left then
are counted as *overflow* (a metric) and do not fire in this step.

**Layer-synchronous execution is the special case** ``events_per_step = 0`` with ``layered = True``: a
population integrates and fires only in the micro-step after every population it receives latency-0
projections from has finished the step (its topological depth), so it sees its whole input at once —
equal to the reference simulator bit for bit. Without ``layered``, even with ``k = 0``, event-driven
spikes differ from the reference wherever a neuron crosses on partial input: micro-step 0 tests every
neuron on its bias, leak, late reset or last step's current alone; a skip connection or spikes spread
over micro-steps bring a layer's input in pieces (and reorder its float32 sum); inhibition may arrive
after a crossing; ``k`` delays candidates. That is the point of the model. (Graphs where no neuron can
cross before its input arrives — no bias or leak drive, exact excitatory weights — still equal it.)

**Details every executor follows** (the tests' oracle, ``tests/event_oracle.py``, pins each):

1. Being a candidate is a predicate of the current ``acc``: a waiting candidate that inhibition brings
   back below threshold stops being one; crossing again later makes it a candidate anew, with the
   later micro-step as its arrival time.
2. The *candidate membrane* is what the spike test compares: ``v`` after the leak (and after the
   previous step's late reset with ``reset_next_tick``); for Threshold neurons ``acc + bias``.
   ``momentum`` ranks by ``float32(v − θ)``; its ties, and ``random``'s hash ties, fall back to the
   ``arrival`` order; ``random`` hashes ``(seed, t, m, global id)`` with ``t`` the 0-based step and
   ``m`` the micro-step that fires.
3. A sigma-delta input projection keeps its persistent accumulator as in the reference: the micro-step
   that integrates the step's events of that projection adds them to the accumulator (presynaptic
   order), then adds the accumulator to ``acc`` — one item at the projection's place in graph order,
   every step, with or without events.
4. Events still in flight after ``max_microsteps`` (sent in the last micro-step to a latency-0
   receiver, or held for a ``layered`` population that never became ready) are not integrated in that
   step and not counted as overflow (only candidates are); latency ≥ 1 projections still deliver them
   at ``t + L``.
5. ``layered``: a population becomes *ready* in the first micro-step ``m`` in which every non-input
   population it receives a latency-0 projection from was ready before ``m`` and has no candidate left
   after micro-step ``m − 1``'s firing; until then events sent to it are held, and in ``m`` all are
   integrated and all its neurons evaluated. With ``k = 0`` that is its topological depth. A layered
   step does not end before every population was ready.
6. A step *used* ``m + 1`` micro-steps for the last micro-step ``m`` executed: it ends after ``m`` when
   nothing is in flight or held, no candidate is left and (layered) every population has been ready.
7. Graded populations (sinks only) integrate like any other and run their tick once at the step's end
   on the whole ``acc``.
8. Input events are sent at the step's start and are not limited by ``k``. The global id of a neuron
   is its population's offset (graph order, inputs included) plus its flat index.

**Scope of this version.** Binary events between populations; graded or sigma-delta *inputs*; graded
populations (LI, CubaLI, integrator, linear, ReLU) may be read as outputs but not send events under this
schedule. NoC latency and per-event processing cost are not part of the order (every event takes one
micro-step); they give the execution its µs time line (:mod:`aedc.timing.event_time`: per-PE busy
time, receive-queue depth, decision time in µs, steps that overrun their deadline) under the PE cost
model ``Schedule.cost``.

**How the generated C implements it** (``aedc.codegen.event_emit.emit_event_program``, run by
``aedc.codegen.host.run_host(build, inputs, schedule=Schedule.event_driven(...))``; interface in
``aedc/codegen/runtime/aedc_event.h``). Each PE's ``kernel.c`` gets, per slice, *begin* (``acc = 0``,
nothing fired), *integrate* (the micro-step's packets, loaded into the kernel's key-sorted receive
queue, apply their synaptic rows to ``acc`` at once — projections in graph order, presynaptic index
within one, which is the key order; the delayed and sigma-delta ports only in the slice's first
micro-step, from the event histories every packet is stored in on arrival), *evaluate* (the model's
update lines up to the spike test on the step-start state with ``acc + bias``, the state stores left
out; a crossing unfired neuron keeps or gets its arrival micro-step and ``float32(v − θ)``, the others
stop being candidates), *fire* (fired flag, the spike sent at once) and *end* (the whole update with
``z`` = fired). The policy order (momentum's margin, the random hash written in C, then arrival, then
the PE's neuron order) and the pick of up to ``k`` candidates per PE are ``aedc_ev_select``, shared by
both runtimes. The host runtime (``event_runtime.c``) runs every PE in the global micro-steps above —
readiness (5), the end test (6) and overflow (4) included — and is compared bit for bit with the JAX
emulator and the oracle (``tests/test_codegen_event.py``); it computes the order itself and replays
nothing. The chip runtime (``event_chip_runtime.c``) runs the same functions on one PE: the timer marks
the steps, each pass over the NoC receive FIFO is a local micro-step (no global barrier, so the order
there depends on the NoC, and ``layered`` is host-only); ``k``, policy and seed are compile-time
options. Testing every unfired neuron instead of only the touched ones is the same predicate: an
untouched neuron's ``acc`` has not changed since its last test.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

EventPolicy = Literal["arrival", "momentum", "random"]
"""How a PE picks which of its candidates fire first when more than ``k`` are waiting."""

_MASK32 = 0xFFFFFFFF


def counter_hash(a: int | np.ndarray, b: int | np.ndarray, c: int | np.ndarray,
                 d: int | np.ndarray) -> np.ndarray:
    """A counter-based hash of four 32-bit words (uint32, broadcast): the same in NumPy, JAX and C
    (``aedc_hash4`` in ``aedc/codegen/runtime/aedc_pe.h``), so executors draw the same numbers
    without sharing a generator or its state.

    ``h = a·0x9E3779B1 + b·0x85EBCA77 + c·0xC2B2AE3D + d·0x27D4EB2F (mod 2^32)``, then ``h ^= h >> 15;
    h *= 0x2C1B3C6D; h ^= h >> 12; h *= 0x297A2D39; h ^= h >> 15`` (mod 2^32). Each word is taken mod
    2^32. Used by the event schedule's ``random`` policy (:func:`event_priority`) and the async clock
    jitter (:meth:`aedc.timing.schedule.Schedule.tick_jitter`).
    """
    w = [np.asarray(x, np.int64).astype(np.uint64) & np.uint64(_MASK32) for x in (a, b, c, d)]
    h = (w[0] * np.uint64(0x9E3779B1) + w[1] * np.uint64(0x85EBCA77) + w[2] * np.uint64(0xC2B2AE3D)
         + w[3] * np.uint64(0x27D4EB2F)) & np.uint64(_MASK32)
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(0x2C1B3C6D)) & np.uint64(_MASK32)
    h ^= h >> np.uint64(12)
    h = (h * np.uint64(0x297A2D39)) & np.uint64(_MASK32)
    h ^= h >> np.uint64(15)
    out: np.ndarray = h.astype(np.uint32)
    return out


def event_priority(seed: int, step: int, microstep: int, neuron: np.ndarray) -> np.ndarray:
    """The ``random`` policy's priority of global neuron ids ``neuron`` (uint32; lower fires first):
    :func:`counter_hash` ``(seed, step, microstep, neuron)``. The global id of a neuron is its
    population's offset (populations in graph order, inputs included) plus its flat index.
    """
    return counter_hash(seed, step, microstep, neuron)
