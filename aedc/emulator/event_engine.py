"""The event-driven executor: micro-steps within each time step (the contract is :mod:`aedc.timing.event`).

Structure of a run (one sample; :class:`aedc.emulator.Emulator` vmaps it over the batch):

* ``lax.scan`` over time steps. The carry is every population's model state (its ``STATE`` plus the
  spike flag ``z`` of ``reset_next_tick`` and the last sent value of a sigma-delta output), the
  persistent accumulators of sigma-delta input projections, and per population with delayed or
  back-edge projections a ring of the spike vectors of its last ``max latency`` steps.
* Inside a step, ``lax.while_loop`` over micro-steps ``m`` (when the run is differentiated,
  :func:`aedc.emulator.loops.bounded_while`: a while loop that stores its carries and so has a reverse
  derivative, equal to that of a scan over ``max_microsteps`` with the finished micro-steps masked).
  Its carry holds, per neuron, the step's input accumulator ``acc`` (float32, per population) and,
  over the *firing vector* (the spiking non-input populations concatenated in graph order, then flat
  index — a PE's neuron order is this order restricted to the PE), the flags
  ``fired`` / ``candidate``, the micro-step each neuron fired in (−1: not yet) and became a candidate,
  and the spikes fired in the last micro-step (delivered in the next one).
* A micro-step delivers, computes every neuron's candidate state — the model's tick
  (:data:`aedc.emulator.neurons.NEURON_UPDATES`, the same fenced float32 stages as the tick executor)
  applied to the step-start state with input ``acc + bias`` — marks candidates (crossing, not fired,
  and in layered mode their population opened), and fires up to ``k`` of them per PE, lowest (policy
  key, arrival micro-step, neuron order) first: for ``k ≤`` :data:`ROUNDS_UP_TO`, ``k`` rounds of
  per-PE lexicographic minima over a host-built ``(PE, slot)`` table of the firing vector; above, one
  multi-key ``lax.sort`` by (PE, not candidate, keys) and each candidate's rank within its PE's block
  (which starts at a host-computed offset). With ``k = 0`` every candidate fires and nothing is ranked.
  Untouched neurons have an unchanged candidate state, so computing it for all of them is the same as
  computing it for the touched ones.
* At the step's end the new state is the model's tick on the step-start state with the whole ``acc``
  and the spike flag forced to *fired in this step* (the spike stage is split in two: threshold test,
  then reset by a given flag — :data:`_SPIKE_STAGES`); overflow = neurons still candidates then.

Order and exactness (exact mode, the default): an input accumulator starts at 0.0 each step and adds
``w·payload`` (fenced product, :func:`aedc.emulator.ops.fmul`) event by event: within a micro-step by
projection in graph order, then presynaptic flat index — a sequential ``lax.fori_loop`` over each
projection's fan-in slots (slot ``f`` of post neuron ``j`` is its ``f``-th synapse by ascending
presynaptic index), a gather per slot, no scatter. So with ``layered=True`` and ``k = 0`` every
population integrates all its input in one micro-step in the reference's order, and the run equals
:func:`aedc.reference.simulate` bit for bit; so does an unlayered ``k = 0`` run wherever no neuron
crosses before its input has arrived (e.g. a chain with excitatory weights). Fast mode
(``exact=False``) delivers a projection by one dense matmul (or a ``(K, n_post)`` gather and a sum over
slots for sparse ones): deterministic, but equal to exact mode only when the sums are exact in float32.

The contract's "details every executor follows" (items 1–8 of :mod:`aedc.timing.event`: candidates
re-tested against the current ``acc``, momentum/random ties by arrival, sigma-delta accumulators,
events in flight at the micro-step limit not integrated, layered readiness, micro-steps used, graded
sinks, global ids) are implemented as written; the tests compare this executor with the independent
oracle (``tests/event_oracle.py``) bit for bit. Choices of this executor beyond them:

* ``momentum`` reads a margin of −0 as +0 (float32 ``v − θ``), so the tie falls to the arrival order.
* The spikes fired in the last micro-step that a latency-0 receiver never integrated (or, layered, held
  for a population that never became ready) are counted per step as ``undelivered``.
* A graded population's events carry the last micro-step of their step (they are computed at its end).
* Resets other than to ``v_reset`` and by ``v − θ`` (now or one step late), e.g. ``reset="zero"`` or
  ``reset_recheck`` where the IR has them, are refused: the contract does not define them.

Differentiation (fast mode, ``Emulator.trainable``): a spike's value is the surrogate Heaviside of
:func:`aedc.emulator.ops.heaviside` of its candidate membrane at the micro-step it fired (forward
exactly 1), a neuron that did not fire carries a zero whose derivative is the surrogate at its
end-of-step membrane; spikes delivered within the step carry their surrogate, so gradients flow
through the micro-steps (Koopman et al.'s unlayered backprop). The candidate selection itself is
discrete.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from aedc.emulator.engine import DENSE_FRACTION
from aedc.emulator.loops import bounded_while
from aedc.emulator.neurons import (
    ADAPTIVE_SPIKE_RESET,
    HEAVISIDE,
    NEURON_UPDATES,
    SPIKE_RESET,
    NeuronTick,
    Stage,
    adapt,
    adaptive_threshold,
    reset,
    stage_params,
)
from aedc.emulator.ops import event_rule, fmul, heaviside
from aedc.errors import EmulatorError
from aedc.ir.discretise import neuron_constants
from aedc.ir.graph import Population
from aedc.ir.options import Semantics
from aedc.timing.program import PlacedProgram
from aedc.timing.schedule import Schedule

Array = Any
F32 = np.float32
_MASK32 = 0xFFFFFFFF
ROUNDS_UP_TO = 16
"""``k`` up to this: the per-PE choice is ``k`` rounds of per-PE minima (cheap for small ``k``); above
it, one multi-key sort of the firing vector per micro-step (XLA CPU's comparator sort is slow)."""
MASKED_SCAN = False
"""Differentiated runs: ``True`` scans all ``max_microsteps`` with the finished ones masked (the plain
formulation, kept as the reference for :func:`aedc.emulator.loops.bounded_while`, which runs only the
micro-steps the batch needs and has the same derivative)."""


# ---- the spike stage split in two: threshold test, then reset by a given flag ---------------------------


def _theta_fixed(t: NeuronTick) -> Array:
    return t.c["v_threshold"]


def _theta_heaviside(t: NeuronTick) -> Array:
    return t.c["threshold"]


def _pre_reset(t: NeuronTick, v: Array, theta: Array) -> Array:
    """The membrane the threshold is tested on: the one-step-late reset of ``reset_next_tick`` applied."""
    return reset(t, v, t.st["z"], theta) if t.sem.reset_next_tick else v


def _keep(t: NeuronTick, v: Array, theta: Array) -> Array:
    return v


def _finish_spike(t: NeuronTick, v: Array, theta: Array, z: Array, zf: Array) -> None:
    if not t.sem.reset_next_tick:
        v = reset(t, v, z, theta)
    t.st["z"] = z
    t.st["v"] = v


def _finish_adaptive(t: NeuronTick, v: Array, theta: Array, z: Array, zf: Array) -> None:
    a = t.st["a"]
    _finish_spike(t, v, theta, z, zf)
    t.st["a"] = adapt(t, a, zf)


def _finish_stateless(t: NeuronTick, v: Array, theta: Array, z: Array, zf: Array) -> None:
    return None


@dataclass(frozen=True)
class _SpikeSplit:
    theta: Callable[[NeuronTick], Array]
    pre: Callable[[NeuronTick, Array, Array], Array]
    finish: Callable[[NeuronTick, Array, Array, Array, Array], None]


_SPIKE_STAGES: dict[Stage, _SpikeSplit] = {
    SPIKE_RESET: _SpikeSplit(_theta_fixed, _pre_reset, _finish_spike),
    ADAPTIVE_SPIKE_RESET: _SpikeSplit(adaptive_threshold, _pre_reset, _finish_adaptive),
    HEAVISIDE: _SpikeSplit(_theta_heaviside, _keep, _finish_stateless),
}
"""The last stage of every spiking model, split into (threshold, tested membrane) and the reset by
*fired in this step*, built from :mod:`aedc.emulator.neurons`' own reset, threshold and adaptation."""


def event_priority_jax(seed: int, step: Array, microstep: Array, neuron: Array) -> Array:
    """:func:`aedc.timing.event.event_priority` in JAX (uint32 arithmetic wraps mod 2^32)."""
    u = jnp.uint32
    h = (u((seed & _MASK32) * 0x9E3779B1 & _MASK32) + jnp.asarray(step).astype(u) * u(0x85EBCA77)
         + jnp.asarray(microstep).astype(u) * u(0xC2B2AE3D) + jnp.asarray(neuron).astype(u) * u(0x27D4EB2F))
    h = h ^ (h >> u(15))
    h = h * u(0x2C1B3C6D)
    h = h ^ (h >> u(12))
    h = h * u(0x297A2D39)
    return h ^ (h >> u(15))


# ---- host tables ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Proj:
    name: str
    pre: str
    post: str
    latency: int
    pre_input: bool
    sigma_delta: bool  # a sigma-delta input: the projection keeps a persistent accumulator

    @property
    def same_step(self) -> bool:
        """Delivered in the micro-step after the spike (latency 0 from a population)."""
        return self.latency == 0 and not self.pre_input


def _exact_table(i_pre: np.ndarray, i_post: np.ndarray, w: np.ndarray, n_post: int) -> dict[str, Any]:
    """Fan-in slots ``(K, n_post)``: slot f of post j is its f-th synapse by ascending pre index."""
    order = np.lexsort((i_pre, i_post))
    i_pre, i_post, w = i_pre[order], i_post[order], w[order]
    counts = np.bincount(i_post, minlength=n_post)
    K = int(counts.max(initial=0))
    slot = np.arange(i_post.size) - (np.cumsum(counts) - counts)[i_post]
    src = np.zeros((K, n_post), np.int32)
    wt = np.zeros((K, n_post), F32)
    ok = np.zeros((K, n_post), bool)
    src[slot, i_post], wt[slot, i_post], ok[slot, i_post] = i_pre, w, True
    return {"src": src, "w": wt, "ok": ok}


def _fast_table(i_pre: np.ndarray, i_post: np.ndarray, w: np.ndarray, n_pre: int,
                n_post: int) -> dict[str, Any]:
    """A dense ``(n_pre, n_post)`` matrix, or for sparse projections a ``(K, n_post)`` gather table."""
    if w.size >= DENSE_FRACTION * n_pre * n_post:
        mat = np.zeros((n_pre, n_post), F32)
        np.add.at(mat, (i_pre, i_post), w)
        return {"mat": mat}
    t = _exact_table(i_pre, i_post, w, n_post)
    return {"src": t["src"], "w": t["w"]}


def _scope_errors(pops: dict[str, Population], projs: list[_Proj],
                  sem: Semantics) -> list[tuple[str, str]]:
    """(population, message) for what the contract's scope excludes: graded senders, and resets the
    contract does not name (it resets to ``v_reset`` or by ``v − θ``, now or one step late)."""
    errs: list[tuple[str, str]] = []
    recheck = bool(getattr(sem, "reset_recheck", False))
    if sem.reset not in ("to_v_reset", "subtract") or recheck:
        spiking = [n for n, p in pops.items() if not p.is_input and type(p.neuron).SPIKING]
        if spiking:
            errs.append((spiking[0], f"population '{spiking[0]}': semantics reset={sem.reset!r}"
                                     f"{' with reset_recheck' if recheck else ''}"
                                     f" is not part of the event-driven contract (aedc.timing.event "
                                     f"resets to v_reset or by v − θ, in the step of the spike or one "
                                     f"step late); use the sync or async schedule"))
    spyx = sem.spike_from_previous or sem.cuba_reset_before_update
    if sem.multi_spike or sem.v_min is not None or spyx:  # not in aedc.timing.event's split
        spiking = [n for n, p in pops.items() if not p.is_input and type(p.neuron).SPIKING]
        if spiking:
            what = (f"max_spikes={sem.max_spikes} (a spike count)" if sem.multi_spike
                    else f"v_min={sem.v_min}" if sem.v_min is not None
                    else "spike_from_previous/cuba_reset_before_update (Spyx)")
            errs.append((spiking[0], f"population '{spiking[0]}': semantics {what} is not part of the "
                                     f"event-driven contract (aedc.timing.event); use the sync or "
                                     f"async schedule"))
    senders = {p.pre for p in projs}
    for name, pop in pops.items():
        if pop.is_input:
            continue
        stages = NEURON_UPDATES.get(pop.neuron.model)
        if stages is None:
            errs.append((name, f"population '{name}': neuron model '{pop.neuron.model}' has no entry in "
                               f"aedc.emulator.neurons.NEURON_UPDATES"))
        elif type(pop.neuron).SPIKING and (not stages or stages[-1] not in _SPIKE_STAGES):
            errs.append((name, f"population '{name}': the spike stage of model '{pop.neuron.model}' has "
                               f"no threshold/reset split in aedc.emulator.event_engine._SPIKE_STAGES"))
        elif not type(pop.neuron).SPIKING and name in senders:
            errs.append((name, f"population '{name}' ({pop.neuron.model}, {pop.event_rule} events) sends "
                               f"events to other populations; the event-driven schedule carries binary "
                               f"events between populations only (aedc.timing.event, 'Scope'): graded "
                               f"populations may be outputs, not senders"
                               + ("; a NIR Affine/Conv left unfused: compile the model first (aedc "
                                  "compile fuses linear populations into projections)"
                                  if pop.neuron.model == "linear" else "")
                               + "; or use the sync or async schedule"))
    return errs


class EventCompiled:
    """Host tables of one (program, event schedule, T, exact) and the pure function of one sample."""

    def __init__(self, program: PlacedProgram, schedule: Schedule, T: int, *, exact: bool,
                 record_state: bool, remat: bool) -> None:
        graph = program.graph
        self.graph, self.schedule, self.T, self.exact = graph, schedule, T, exact
        self.record_state, self.remat = record_state, remat
        self.sem = graph.semantics
        pops = graph.pop_map()
        self.popmap = pops
        self.projs = [_Proj(pr.name, pr.pre, pr.post, pr.latency, pops[pr.pre].is_input,
                            pops[pr.pre].is_input and pops[pr.pre].event_rule == "sigma_delta")
                      for pr in graph.projections]
        errs = _scope_errors(pops, self.projs, graph.semantics)
        if errs:
            raise EmulatorError("; ".join(m for _, m in errs), where=errs[0][0])
        self.k, self.M, self.policy = schedule.events_per_step, schedule.max_microsteps, schedule.policy
        self.layered, self.seed = schedule.layered, schedule.seed
        self.names = [p.name for p in graph.populations]  # graph order
        self.hidden = [n for n in self.names if not pops[n].is_input]
        self.firing = [n for n in self.hidden if type(pops[n].neuron).SPIKING]
        self.graded = [n for n in self.hidden if n not in self.firing]
        self.stages = {n: NEURON_UPDATES[pops[n].neuron.model] for n in self.hidden}
        self.incoming: dict[str, list[_Proj]] = {n: [p for p in self.projs if p.post == n]
                                                 for n in self.hidden}
        # the firing vector: spiking populations in graph order, then flat index
        self.slice: dict[str, slice] = {}
        offset = 0
        for n in self.firing:
            self.slice[n] = slice(offset, offset + pops[n].size)
            offset += pops[n].size
        self.NF = offset
        gid_base, base = {}, 0
        for p in graph.populations:  # global neuron ids of the random policy: inputs included
            gid_base[p.name] = base
            base += p.size
        def cat(xs: list[np.ndarray]) -> np.ndarray:
            return np.concatenate(xs) if xs else np.zeros(0, np.int64)

        pe = cat([np.asarray(program.pe_of[n], np.int64) for n in self.firing])
        self.gid = cat([gid_base[n] + np.arange(pops[n].size) for n in self.firing]).astype(np.uint32)
        self.pe = pe.astype(np.int32)
        # rank of a neuron within its PE's block of the vector sorted by (PE, not candidate, key, order)
        pe_sorted = np.sort(pe)
        self.rank_base = (np.arange(self.NF) - np.searchsorted(pe_sorted, pe_sorted, side="left")
                          ).astype(np.int32)
        # the same as a (PE, slot) table: slots[p, j] = position of the j-th firing neuron of the p-th
        # PE in the vector (NF: padding), slot_of[i] = flat position of neuron i in that table
        pes, counts = np.unique(pe, return_counts=True)
        S = int(counts.max(initial=1))
        self.slots = np.full((max(len(pes), 1), S), self.NF, np.int32)
        self.slot_of = np.zeros(self.NF, np.int32)
        for r, q in enumerate(pes):
            members = np.flatnonzero(pe == q)
            self.slots[r, :members.size] = members
            self.slot_of[members] = r * S + np.arange(members.size)
        # firing neurons whose spikes some latency-0 projection integrates within the step
        self.l0_sender = np.zeros(self.NF, bool)
        for q in self.projs:
            if q.same_step:
                self.l0_sender[self.slice[q.pre]] = True
        # rings of past spike vectors, per spiking population with a delayed / back-edge projection
        self.depth = {n: max([p.latency for p in self.projs if p.pre == n and p.latency >= 1] + [0])
                      for n in self.firing}
        # layered: the populations each one waits for (latency-0 sources that are not inputs)
        self.waits = {n: sorted({p.pre for p in self.incoming[n] if p.same_step}) for n in self.hidden}
        self.pop_of_fire = np.concatenate(
            [np.full(pops[n].size, self.hidden.index(n), np.int32) for n in self.firing]) \
            if self.firing else np.zeros(0, np.int32)

        P: dict[str, Any] = {"fence": np.int32(0), "neuron": {}, "proj": {}}
        for n in self.hidden:
            pop = pops[n]
            c = {k: v.ravel() for k, v in neuron_constants(pop.neuron, self.sem).items()}
            c["bias"] = np.asarray(pop.neuron.bias, F32).ravel()
            for extra in stage_params(self.stages[n]):
                c[extra] = np.asarray(getattr(pop.neuron, extra), F32).ravel()
            if pop.event_rule == "sigma_delta":
                c["event_threshold"] = np.full(1, pop.event_threshold, F32)
            P["neuron"][n] = c
        for pr in graph.projections:
            pre, post = pops[pr.pre], pops[pr.post]
            i_pre, i_post, w = pr.conn.to_coo(pre.shape, post.shape)
            w = np.asarray(w, F32)
            P["proj"][pr.name] = (_exact_table(i_pre, i_post, w, post.size) if exact
                                  else _fast_table(i_pre, i_post, w, pre.size, post.size))
        self.params = jax.tree_util.tree_map(jnp.asarray, P)
        self.times = np.tile(np.arange(T, dtype=np.int64) * schedule.period_us, (program.n_pes, 1))

    # ---- pieces of a step -----------------------------------------------------------------------------

    def _deliver(self, P: dict[str, Any], name: str, acc: Array, payload: Array, fence: Array) -> Array:
        """``acc`` plus the events ``payload`` (flat over the pre population, 0 = none) of projection
        ``name``: exact — sequential over fan-in slots (ascending presynaptic index), fenced products,
        zero payloads skipped; fast — one matmul or a gather summed over slots."""
        t = P["proj"][name]
        if self.exact:
            K = t["src"].shape[0]
            if K == 0:
                return acc

            def body(f: Array, acc: Array) -> Array:
                p = payload[t["src"][f]]
                return jnp.where(t["ok"][f] & (p != 0), acc + fmul(t["w"][f], p, fence), acc)

            return lax.fori_loop(0, K, body, acc)
        if "mat" in t:
            return acc + payload @ t["mat"]
        if t["src"].shape[0] == 0:
            return acc
        return acc + jnp.sum(t["w"] * payload[t["src"]], axis=0)

    def _candidate(self, P: dict[str, Any], n: str, acc: Array, st: dict[str, Array],
                   fence: Array) -> tuple[NeuronTick, Array, Array]:
        """The candidate state of spiking population ``n``: (tick after the stages before the spike,
        membrane the threshold is tested on, threshold)."""
        tick = NeuronTick(self.sem, P["neuron"][n], fence, dict(st))
        x = acc + P["neuron"][n]["bias"]
        stages = self.stages[n]
        for stage in stages[:-1]:
            x = stage.run(tick, x)
        split = _SPIKE_STAGES[stages[-1]]
        theta = split.theta(tick)
        return tick, split.pre(tick, x, theta), theta

    def _ge(self) -> bool:
        return self.sem.threshold_cmp == ">="

    def _cat(self, parts: list[Array], dtype: Any) -> Array:
        return jnp.concatenate(parts) if parts else jnp.zeros(0, dtype)

    def _select(self, cand: Array, since: Array, margin: Array, t: Array, m: Array) -> Array:
        """At most ``k`` candidates per PE, lowest (policy key, arrival micro-step, neuron order) first
        (see the module docstring). ``k ≤`` :data:`ROUNDS_UP_TO`: ``k`` rounds, each taking per PE the
        lexicographic minimum over a ``(PE, slot)`` layout of the firing vector; larger ``k``: one
        multi-key sort by (PE, not candidate, keys) and the rank within the PE's block."""
        if self.k == 0:
            return cand
        order = jnp.arange(self.NF, dtype=jnp.int32)
        keys: tuple[Array, ...] = (since, order)
        if self.policy == "momentum":
            mg = lax.stop_gradient(margin)
            keys = (-jnp.where(mg == 0, jnp.float32(0.0), mg), *keys)  # −0 read as +0
        elif self.policy == "random":
            keys = (event_priority_jax(self.seed, t, m, jnp.asarray(self.gid)), *keys)
        if self.k <= ROUNDS_UP_TO:
            slots = jnp.asarray(self.slots)  # (n PEs, S) positions in the firing vector, NF = padding
            pad = jnp.concatenate([cand, jnp.zeros(1, bool)])[slots]
            padded = [jnp.concatenate([kk, jnp.zeros(1, kk.dtype)])[slots] for kk in keys]
            chosen = jnp.zeros_like(pad)
            for _ in range(self.k):
                take = pad & ~chosen
                for kk in padded:  # narrow to the lexicographic minimum, key by key
                    big = (jnp.array(jnp.inf, kk.dtype) if jnp.issubdtype(kk.dtype, jnp.floating)
                           else jnp.array(np.iinfo(np.dtype(kk.dtype)).max, kk.dtype))
                    kv = jnp.where(take, kk, big)
                    take = take & (kv == jnp.min(kv, axis=1, keepdims=True))
                chosen = chosen | take
            return chosen.reshape(-1)[jnp.asarray(self.slot_of)]
        notc = (~cand).astype(jnp.int32)
        srt = lax.sort((jnp.asarray(self.pe), notc, *keys), num_keys=len(keys) + 2)
        fire_sorted = (srt[1] == 0) & (jnp.asarray(self.rank_base) < self.k)
        return jnp.zeros(self.NF, bool).at[srt[-1]].set(fire_sorted)

    def init_carry(self) -> dict[str, Any]:
        pops = self.popmap
        state: dict[str, Any] = {}
        for n in self.hidden:
            size = pops[n].size
            st = {v: jnp.zeros(size, jnp.float32) for v in pops[n].neuron.STATE}
            if type(pops[n].neuron).SPIKING:
                st["z"] = jnp.zeros(size, bool)
            if pops[n].event_rule == "sigma_delta":
                st["sent"] = jnp.zeros(size, jnp.float32)
            state[n] = st
        sd = {p.name: jnp.zeros(pops[p.post].size, jnp.float32) for p in self.projs if p.sigma_delta}
        ring = {n: jnp.zeros((d, pops[n].size), jnp.float32) for n, d in self.depth.items() if d}
        return {"state": state, "sd": sd, "ring": ring}

    # ---- one sample -----------------------------------------------------------------------------------

    def run_one(self, P: dict[str, Any], data: dict[str, Array], *,
                differentiable: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
        """Run one sample: ``data[input] (T, N)`` → (per-population arrays ``(T, N)``: ``events``,
        ``outputs``, ``state.*``, ``microstep``; per-step ``overflow``, ``microsteps``,
        ``undelivered``)."""
        _, (ys, extra) = self.run_steps(P, data, self.init_carry(), jnp.arange(self.T),
                                        differentiable=differentiable)
        return ys, extra

    def run_steps(self, P: dict[str, Any], data: dict[str, Array], carry: dict[str, Any], steps: Array,
                  *, differentiable: bool = False) -> tuple[dict[str, Any], Any]:
        """Run the time steps ``steps`` (consecutive, from the step ``carry`` was left at): ``(carry,
        (arrays, per-step extras))`` as :meth:`run_one`'s for those steps, so chunks from carried
        state make the same scan; steps ``≥ T`` (padding a last chunk) repeat the last step after it,
        leaving the real steps' outputs alone."""
        fence = P["fence"]
        pops = self.popmap
        ge = self._ge()
        M, NF = self.M, self.NF
        hidx = {n: i for i, n in enumerate(self.hidden)}

        def step(carry: dict[str, Any], t: Array) -> tuple[dict[str, Any], Any]:
            state, ring = carry["state"], carry["ring"]

            def fixed_payload(p: _Proj) -> Array:
                """Events of a projection that arrive in micro-step 0: input frame t − L, or the spikes
                of step t − L (L ≥ 1)."""
                if p.pre_input:
                    d = data[p.pre]
                    if p.latency == 0:
                        return d[t]
                    return jnp.where(t >= p.latency, d[jnp.maximum(t - p.latency, 0)], 0.0)
                r = ring[p.pre]
                return jnp.where(t >= p.latency, r[(t - p.latency) % r.shape[0]], 0.0)

            def integrate(n: str, ps: list[_Proj], acc: Array, sd: dict[str, Array],
                          now: Array | None) -> tuple[Array, dict[str, Array]]:
                """Add projections ``ps`` (graph order) into ``acc``; ``now``: this step's spikes so far
                (the payload of latency-0 projections from populations)."""
                sd = dict(sd)
                for p in ps:
                    if p.same_step:
                        assert now is not None
                        acc = self._deliver(P, p.name, acc, now[self.slice[p.pre]], fence)
                    elif p.sigma_delta:
                        sd[p.name] = self._deliver(P, p.name, sd[p.name], fixed_payload(p), fence)
                        acc = acc + sd[p.name]
                    else:
                        acc = self._deliver(P, p.name, acc, fixed_payload(p), fence)
                return acc, sd

            def phase(mc: dict[str, Any]) -> dict[str, Any]:
                """(2) candidate states, (3) fire up to k per PE, and whether the step goes on."""
                m = mc["m"]
                crosses, hs, margins = [], [], []
                for n in self.firing:
                    _, v, theta = self._candidate(P, n, mc["acc"][n], state[n], fence)
                    h = heaviside(v, theta, ge)
                    hs.append(h)
                    crosses.append(h > 0.5)
                    margins.append(v - theta)
                cross = self._cat(crosses, bool)
                h = self._cat(hs, jnp.float32)
                opened = mc["opened"][jnp.asarray(self.pop_of_fire)] if self.layered else True
                cand = cross & ~mc["fired"] & opened
                since = jnp.where(cand, jnp.where(mc["cand"], mc["since"], m), jnp.int32(M))
                fire = self._select(cand, since, self._cat(margins, jnp.float32), t, m)
                left = cand & ~fire
                pending = jnp.any(left) | jnp.any(fire & jnp.asarray(self.l0_sender))
                if self.layered:
                    pending = pending | ~jnp.all(mc["opened"])
                return {**mc, "fired": mc["fired"] | fire, "fire_m": jnp.where(fire, m, mc["fire_m"]),
                        "s_fire": jnp.where(fire, h, mc["s_fire"]), "last": jnp.where(fire, h, 0.0),
                        "since": since, "cand": left, "go": pending & (m + 1 < M)}

            def deliver_layered(mc: dict[str, Any]) -> dict[str, Any]:
                """Layered: populations whose latency-0 sources are done open and integrate the whole
                step's input at once, in the reference's order."""
                opened = mc["opened"]
                acc, sd = dict(mc["acc"]), dict(mc["sd"])
                now = jnp.where(mc["fired"], mc["s_fire"], 0.0)
                opens = []
                for n in self.hidden:
                    ready = ~opened[hidx[n]]
                    for s in self.waits[n]:  # done: opened, and no candidates left
                        ready = ready & opened[hidx[s]] & ~jnp.any(mc["cand"][self.slice[s]])
                    a_new, sd_new = integrate(n, self.incoming[n], jnp.zeros_like(acc[n]), sd, now)
                    acc[n] = jnp.where(ready, a_new, acc[n])
                    for p in self.incoming[n]:
                        if p.sigma_delta:
                            sd[p.name] = jnp.where(ready, sd_new[p.name], sd[p.name])
                    opens.append(ready)
                return {**mc, "acc": acc, "sd": sd,
                        "opened": opened | jnp.stack(opens) if opens else opened}

            def deliver_events(mc: dict[str, Any]) -> dict[str, Any]:
                """(1) integrate the spikes fired in the previous micro-step (latency-0 projections)."""
                acc = dict(mc["acc"])
                for n in self.hidden:
                    ps = [p for p in self.incoming[n] if p.same_step]
                    if ps:
                        acc[n], _ = integrate(n, ps, acc[n], {}, mc["last"])
                return {**mc, "acc": acc}

            def body(mc: dict[str, Any]) -> dict[str, Any]:
                mc = {**mc, "m": mc["m"] + 1}
                return phase(deliver_layered(mc) if self.layered else deliver_events(mc))

            mc0: dict[str, Any] = {
                "m": jnp.int32(0), "fired": jnp.zeros(NF, bool), "cand": jnp.zeros(NF, bool),
                "fire_m": jnp.full(NF, -1, jnp.int32), "since": jnp.full(NF, M, jnp.int32),
                "s_fire": jnp.zeros(NF, jnp.float32), "last": jnp.zeros(NF, jnp.float32),
                "acc": {n: jnp.zeros(pops[n].size, jnp.float32) for n in self.hidden},
                "sd": dict(carry["sd"]), "go": jnp.bool_(True),
                "opened": jnp.zeros(len(self.hidden), bool),
            }
            if self.layered:
                mc = phase(deliver_layered(mc0))
            else:
                # micro-step 0: input frames and delayed events, then candidates (the bias may cross)
                acc, sd = dict(mc0["acc"]), mc0["sd"]
                for n in self.hidden:
                    acc[n], sd = integrate(n, [p for p in self.incoming[n] if not p.same_step], acc[n],
                                           sd, None)
                mc = phase({**mc0, "acc": acc, "sd": sd, "opened": jnp.ones(len(self.hidden), bool)})
            if differentiable and MASKED_SCAN:  # the reference for bounded_while's derivative
                def masked(mc: dict[str, Any], _: Any) -> tuple[dict[str, Any], None]:
                    new = body(mc)
                    return jax.tree_util.tree_map(lambda a, b: jnp.where(mc["go"], a, b), new, mc), None

                if M > 1:
                    mc, _ = lax.scan(masked, mc, None, length=M - 1)
            elif differentiable:  # only the micro-steps the batch needs, with a reverse derivative
                mc = bounded_while(lambda mc: mc["go"], body, mc, M - 1)
            else:
                mc = lax.while_loop(lambda mc: mc["go"], body, mc)

            # end of the step: the tick with the whole acc and z = fired in this step
            new_state, ys = dict(state), {}
            opened_f = mc["opened"][jnp.asarray(self.pop_of_fire)] if self.layered else None
            overflow = jnp.int32(0)
            m_end = mc["m"]
            new_ring = dict(ring)
            for n in self.firing:
                sl = self.slice[n]
                tick, v, theta = self._candidate(P, n, mc["acc"][n], state[n], fence)
                h_end = heaviside(v, theta, ge)
                fired = mc["fired"][sl]
                zf = jnp.where(fired, mc["s_fire"][sl], h_end - lax.stop_gradient(h_end))
                _SPIKE_STAGES[self.stages[n][-1]].finish(tick, v, theta, fired, zf)
                of = (h_end > 0.5) & ~fired
                overflow = overflow + jnp.sum(of if opened_f is None else of & opened_f[sl])
                new_state[n] = {k: tick.st[k] for k in state[n]}
                y = {"events": zf, "microstep": mc["fire_m"][sl]}
                if self.record_state:
                    y["outputs"] = zf
                    y.update({f"state.{var}": tick.st[var] for var in pops[n].neuron.STATE})
                ys[n] = y
                if n in new_ring:
                    r = new_ring[n]
                    new_ring[n] = lax.dynamic_update_slice(r, zf[None, :], (t % r.shape[0], jnp.int32(0)))
            for n in self.graded:
                tick = NeuronTick(self.sem, P["neuron"][n], fence, dict(state[n]))
                value = mc["acc"][n] + P["neuron"][n]["bias"]
                for stage in self.stages[n]:
                    value = stage.run(tick, value)
                st = tick.st
                sd = pops[n].event_rule == "sigma_delta"
                value, payload = event_rule(sd, value, st, P["neuron"][n].get("event_threshold"))
                new_state[n] = {k: st[k] for k in state[n]}
                y = {"events": payload, "microstep": jnp.where(payload != 0, m_end, -1)}
                if self.record_state:
                    y["outputs"] = value
                    y.update({f"state.{var}": st[var] for var in pops[n].neuron.STATE})
                ys[n] = y
            for n in self.names:
                if pops[n].is_input:
                    ys[n] = {"events": data[n][t]}
            undelivered = jnp.int32(0)
            for p in self.projs:
                if p.same_step:
                    sl = self.slice[p.pre]
                    if self.layered:
                        undelivered += jnp.sum(mc["fired"][sl]) * ~mc["opened"][hidx[p.post]]
                    else:
                        undelivered += jnp.sum(mc["last"][sl] != 0)
            extra = {"overflow": overflow, "microsteps": m_end + 1, "undelivered": undelivered}
            return {"state": new_state, "sd": mc["sd"], "ring": new_ring}, (ys, extra)

        body_fn: Callable[..., Any] = jax.checkpoint(step) if self.remat else step
        carry, (ys, extra) = lax.scan(body_fn, carry, jnp.minimum(steps, self.T - 1))
        return carry, (ys, extra)
