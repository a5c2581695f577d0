"""Public API: ``Emulator(program, schedule=...).run(inputs) -> EmulatorResult``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from aedc.emulator.engine import Compiled
from aedc.emulator.event_engine import EventCompiled
from aedc.emulator.metrics import FanOut, compute_event_metrics, compute_metrics
from aedc.emulator.sharded import ShardedCompiled, make_mesh
from aedc.errors import EmulatorError
from aedc.ir.graph import Graph
from aedc.ir.verify import verify
from aedc.timing.event_time import event_timing
from aedc.timing.program import PlacedProgram
from aedc.timing.schedule import Schedule, make_plan

F32 = np.float32
PROGRESS_CHUNKS = 20
"""A run with a progress callback executes in about this many chunks (each one call, one report)."""
CHUNK_CACHE = 4
"""Compiled chunk functions kept per Emulator (the last ones used): each holds an XLA executable."""


@dataclass(frozen=True, eq=False)
class EmulatorResult:
    """Traces in local-tick order, each ``(T, *shape)`` (``(B, T, *shape)`` from :meth:`run_batch`).

    ``events``: payload of the events sent (0 where none); ``outputs``: the value a population presents
    (spike 0/1, graded value, last sent sigma-delta value); ``state[pop][var]``: state after each tick;
    ``tick_times``: ``(n_pes, T)`` µs start of every PE tick; ``metrics``: see
    :mod:`aedc.emulator.metrics` (a list with one dict per sample from :meth:`run_batch`);
    ``microsteps[pop]`` (event schedule only, else ``None``): the micro-step of the step in which each
    event was sent (−1 where none; a graded population's events carry the step's last micro-step).
    """

    events: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]
    state: dict[str, dict[str, np.ndarray]]
    tick_times: np.ndarray
    metrics: Any = field(default=None)
    microsteps: dict[str, np.ndarray] | None = field(default=None)

    def spike_steps(self, population: str) -> np.ndarray:
        """Ticks at which any neuron of ``population`` sent an event (single-sample results)."""
        ev = self.events[population]
        return np.unique(np.nonzero(ev.reshape(ev.shape[0], -1))[0])


class Emulator:
    """Executes a placed program (or a bare graph, placed trivially) under a :class:`Schedule`.

    ``exact=True`` (default): bit-exact float32 event order (see :mod:`aedc.emulator.engine`);
    ``exact=False``: dense/matmul execution for speed. ``record_state=False`` returns events only.
    ``remat=True`` wraps the scan step in :func:`jax.checkpoint` (memory for gradients).
    Compiled functions are cached per number of ticks; batches are vmapped. A schedule with
    ``mode == "event"`` runs on :mod:`aedc.emulator.event_engine` (micro-steps within each step).
    ``mesh`` (a :class:`jax.sharding.Mesh`) or ``devices`` (a count of JAX devices) shards the PEs over
    devices, sync and async schedules (:mod:`aedc.emulator.sharded`: exact mode gives the same answers
    bit for bit, fast mode the same up to float32 summation order; ``lookahead=False`` exchanges every
    step instead of every Λ steps); ``trainable`` is not sharded.
    """

    def __init__(self, program: PlacedProgram | Graph, schedule: Schedule | None = None, *,
                 exact: bool = True, record_state: bool = True, remat: bool = False,
                 mesh: Mesh | None = None, devices: int | None = None, lookahead: bool = True) -> None:
        if isinstance(program, Graph):
            program = PlacedProgram.trivial(program)
        verify(program.graph)
        self.program = program
        self.schedule = schedule or Schedule()
        self.exact, self.record_state, self.remat = exact, record_state, remat
        self._chip_hops, self._qpe_hops = program.hops()
        self._cache: dict[int, tuple[Compiled | EventCompiled, Any]] = {}
        self._fanout: FanOut | None = None
        self.mesh = make_mesh(mesh) if mesh is not None else None if devices is None else make_mesh(devices)
        self.lookahead = lookahead
        self._sharded: dict[int, ShardedCompiled] = {}
        self._chunks: dict[tuple[int, int, int], Any] = {}
        if self.mesh is not None and self.event_driven:
            raise EmulatorError("a mesh runs the sync and async schedules; the event schedule is not "
                                "sharded yet")

    @property
    def graph(self) -> Graph:
        return self.program.graph

    @property
    def event_driven(self) -> bool:
        """Whether the schedule is the event-driven one (:mod:`aedc.timing.event`)."""
        return self.schedule.mode == "event"

    def compiled(self, T: int) -> tuple[Compiled | EventCompiled, Any]:
        """The host tables and the jitted, vmapped run function for ``T`` ticks (cached)."""
        if T in self._cache:
            return self._cache[T]
        if self.event_driven:
            ev = EventCompiled(self.program, self.schedule, T, exact=self.exact,
                               record_state=self.record_state, remat=self.remat)
            self._cache[T] = (ev, jax.jit(jax.vmap(ev.run_one, in_axes=(None, 0))))
        else:
            plan = make_plan(self.graph, dict(self.program.pe_of), self.program.pe_words(), self._chip_hops,
                             self._qpe_hops, self.schedule, T)
            comp = Compiled(self.graph, dict(self.program.pe_of), plan, T, exact=self.exact,
                            record_state=self.record_state, remat=self.remat)
            fn = jax.jit(jax.vmap(comp.run_one, in_axes=(None, 0)))
            self._cache[T] = (comp, fn)
        return self._cache[T]

    def sharded(self, T: int) -> ShardedCompiled:
        """The per-device tables and the ``shard_map`` run for ``T`` ticks (cached; needs a mesh)."""
        if self.mesh is None:
            raise EmulatorError("this Emulator has no mesh: pass mesh= or devices=")
        if T not in self._sharded:
            comp, _ = self.compiled(T)
            assert isinstance(comp, Compiled)
            self._sharded[T] = ShardedCompiled(self.program, comp, self.mesh, lookahead=self.lookahead)
        return self._sharded[T]

    def steps(self, T: int) -> int:
        """How many executor steps a run of ``T`` ticks takes: ``T`` (sync, event), the plan's global
        steps (async: a few times ``T`` under jitter); what :meth:`run`'s ``progress`` counts."""
        comp, _ = self.compiled(T)
        return comp.T if isinstance(comp, EventCompiled) else comp.plan.steps

    def _chunk_fn(self, T: int, B: int, length: int, data: dict[str, np.ndarray]) -> Any:
        """The ahead-of-time compiled, vmapped ``run_steps`` of ``length`` steps (cached per batch)."""
        key = (T, B, length)
        if key in self._chunks:
            self._chunks[key] = self._chunks.pop(key)  # now the most recently used
        else:
            comp, _ = self.compiled(T)

            def chunk(P: Any, data: Any, carry: Any, start: Any) -> Any:
                steps = start + jnp.arange(length)
                return jax.vmap(lambda d, c: comp.run_steps(P, d, c, steps))(data, carry)

            carry = self._batched_carry(comp, B)
            self._chunks[key] = jax.jit(chunk).lower(comp.params, data, carry, np.int32(0)).compile()
            while len(self._chunks) > CHUNK_CACHE:  # drop the least recently used
                del self._chunks[next(iter(self._chunks))]
        return self._chunks[key]

    @staticmethod
    def _batched_carry(comp: Compiled | EventCompiled, B: int) -> Any:
        return jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (B, *a.shape)), comp.init_carry())

    def _execute(self, data: dict[str, np.ndarray], B: int, T: int, metrics: bool,
                 progress: Callable[[int, int], None] | None = None,
                 chunk: int | None = None) -> EmulatorResult:
        if self.mesh is not None:  # shard_map exchanges between devices: one call, no chunks
            if chunk is not None:
                raise EmulatorError(f"chunk={chunk}: a run on a mesh is one shard_map call and cannot be "
                                    f"chunked; drop chunk (progress is reported at its start and end)")
            sc = self.sharded(T)
            G = sc.base.plan.steps
            if progress is not None:  # the phase only: 0 before the one call, all steps after it
                progress(0, G)
            res = self._result(sc.run(data, self.program), data, B, T, sc.base, metrics)
            if progress is not None:
                progress(G, G)
            for m in res.metrics or ():
                m.update(sc.metrics())
            return res
        comp, fn = self.compiled(T)
        if progress is None and chunk is None:
            raw = jax.device_get(fn(comp.params, data))
            return self._result(raw, data, B, T, comp, metrics)
        G = self.steps(T)
        if chunk is not None and chunk < 1:
            raise EmulatorError(f"chunk must be ≥ 1 step, got {chunk}")
        length = min(chunk or -(-G // PROGRESS_CHUNKS), G)
        fn_chunk = self._chunk_fn(T, B, length, data)
        if progress is not None:  # after compiling: the steps' rate (and so an ETA) is the run's own
            progress(0, G)
        carry = self._batched_carry(comp, B)
        parts = []
        for start in range(0, G, length):
            carry, ys = fn_chunk(comp.params, data, carry, np.int32(start))
            parts.append(jax.device_get(ys))  # waits for the chunk: the progress is true
            if progress is not None:
                progress(min(start + length, G), G)
        raw = jax.tree_util.tree_map(lambda *a: np.concatenate(a, axis=1)[:, :G], *parts)
        if isinstance(comp, Compiled):
            raw = comp.to_ticks(raw, batched=True)
        return self._result(raw, data, B, T, comp, metrics)

    def trainable(self, T: int) -> tuple[dict[str, Any], Callable[..., Any]]:
        """``(weights, fn)`` for training (fast mode only): ``fn(weights, data)`` runs a batch
        ``data[input] (B, T, N)`` and returns per-population ``{"events", "outputs", "state.*"}``
        arrays ``(B, T, N)``, differentiable in ``weights`` (spikes through a fast-sigmoid surrogate,
        graded and sigma-delta payloads directly). Use ``remat=True`` to bound memory. Under the event
        schedule the weights are one entry per projection and gradients flow through the micro-steps
        (:mod:`aedc.emulator.event_engine`); every step then runs ``max_microsteps`` masked
        micro-steps, so keep that bound near the network's depth."""
        if self.exact:
            raise EmulatorError("training needs the fast path: build the Emulator with exact=False")
        if self.mesh is not None:
            raise EmulatorError("training on a mesh is not implemented yet: build the Emulator without "
                                "mesh/devices for trainable()")
        comp, _ = self.compiled(T)
        if isinstance(comp, EventCompiled):
            return self._trainable_event(comp)
        P = comp.params
        keys = ("mat", "w", "kernel")
        weights = {name: {b: {k: e[k] for k in keys if k in e} for b, e in blocks.items()}
                   for name, blocks in P["proj"].items()}

        def fn(weights: dict[str, Any], data: dict[str, Any]) -> Any:
            proj = {name: {b: {**e, **weights[name][b]} for b, e in blocks.items()}
                    for name, blocks in P["proj"].items()}
            return jax.vmap(comp.run_one, in_axes=(None, 0))({**P, "proj": proj}, data)

        return weights, fn

    def _trainable_event(self, comp: EventCompiled) -> tuple[dict[str, Any], Callable[..., Any]]:
        """The event schedule's ``trainable``: one weight entry per projection (``mat`` or ``w``);
        micro-steps run as a masked scan of ``max_microsteps`` (a while loop has no reverse mode)."""
        P = comp.params
        weights = {name: {k: e[k] for k in ("mat", "w") if k in e} for name, e in P["proj"].items()}

        def one(P: dict[str, Any], data: dict[str, Any]) -> Any:
            return comp.run_one(P, data, differentiable=True)[0]

        def fn(weights: dict[str, Any], data: dict[str, Any]) -> Any:
            proj = {name: {**e, **weights[name]} for name, e in P["proj"].items()}
            return jax.vmap(one, in_axes=(None, 0))({**P, "proj": proj}, data)

        return weights, fn

    def _check(self, inputs: Mapping[str, np.ndarray], batched: bool,
               steps: int | None) -> tuple[dict[str, np.ndarray], int, int]:
        pops = self.graph.pop_map()
        names = self.graph.inputs
        unknown = sorted(set(inputs) - set(names))
        if unknown:
            raise EmulatorError(f"input(s) {unknown} are not input populations of "
                                f"'{self.graph.name}'; its inputs are {list(names)}", where=unknown[0])
        missing = [n for n in names if n not in inputs]
        if missing:
            raise EmulatorError(f"no data for input population(s) {missing}", where=missing[0])
        out: dict[str, np.ndarray] = {}
        shapes: set[tuple[int, int]] = set()
        for n in names:
            arr = np.asarray(inputs[n], F32)
            pop = pops[n]
            if not batched:
                arr = arr[None]
            if arr.shape[2:] != pop.shape and not (arr.ndim == 3 and arr.shape[2] == pop.size):
                want = "(B, T, *shape)" if batched else "(T, *shape)"
                raise EmulatorError(f"input '{n}' has shape {np.shape(inputs[n])}, expected {want} "
                                    f"with shape {pop.shape}", where=n)
            if not np.all(np.isfinite(arr)):
                raise EmulatorError(f"input '{n}' contains NaN or infinity", where=n)
            if pop.event_rule == "binary" and not np.all((arr == 0) | (arr == 1)):
                raise EmulatorError(f"input '{n}' uses binary events but its data is not 0/1", where=n)
            out[n] = arr.reshape(arr.shape[0], arr.shape[1], -1)
            shapes.add(arr.shape[:2])
        if len(shapes) > 1:
            raise EmulatorError(f"inputs have different (batch, length) {sorted(shapes)}")
        B, T = shapes.pop() if shapes else (1, 0)
        if steps is not None:
            if steps > T:
                raise EmulatorError(f"steps={steps} is longer than the input data ({T} ticks)")
            T = steps
            out = {k: v[:, :T] for k, v in out.items()}
        if T < 1:
            raise EmulatorError("nothing to run: zero ticks")
        return out, B, T

    def run_batch(self, inputs: Mapping[str, np.ndarray], *, steps: int | None = None,
                  metrics: bool = True, progress: Callable[[int, int], None] | None = None,
                  chunk: int | None = None) -> EmulatorResult:
        """Run a batch: ``inputs[name]`` is ``(B, T, *shape)``; results get a leading batch axis.
        ``progress``/``chunk``: as :meth:`run`."""
        data, B, T = self._check(inputs, True, steps)
        return self._execute(data, B, T, metrics, progress, chunk)

    def run(self, inputs: Mapping[str, np.ndarray], *, steps: int | None = None,
            metrics: bool = True, progress: Callable[[int, int], None] | None = None,
            chunk: int | None = None) -> EmulatorResult:
        """Run one sample: ``inputs[name]`` is ``(T, *shape)``.

        ``progress(done, total)``: called with executor steps (:meth:`steps`) before the run and after
        every chunk of ``chunk`` steps (default: a twentieth of the run): the scan runs chunk by chunk
        from the carried state, the same numbers bit for bit as one call (tested). On a mesh a run is
        one ``shard_map`` call: ``progress`` is called before it (0) and after it (all steps) only, and
        ``chunk`` is refused (EmulatorError)."""
        data, _, T = self._check(inputs, False, steps)
        res = self._execute(data, 1, T, metrics, progress, chunk)
        return EmulatorResult(
            events={k: v[0] for k, v in res.events.items()},
            outputs={k: v[0] for k, v in res.outputs.items()},
            state={k: {v: a[0] for v, a in d.items()} for k, d in res.state.items()},
            tick_times=res.tick_times, metrics=res.metrics[0] if metrics else None,
            microsteps=None if res.microsteps is None else {k: v[0] for k, v in res.microsteps.items()})

    def _result(self, raw: Any, data: dict[str, np.ndarray], B: int, T: int,
                comp: Compiled | EventCompiled, want_metrics: bool) -> EmulatorResult:
        pops = self.graph.pop_map()
        extra: dict[str, np.ndarray] | None = None
        if isinstance(comp, EventCompiled):
            raw, extra = raw
            times = comp.times
        else:
            times = comp.plan.times
        events, outputs, state = {}, {}, {}
        for n, ys in raw.items():
            shape = (B, T, *pops[n].shape)
            events[n] = np.asarray(ys["events"], F32).reshape(shape)
            if pops[n].is_input:
                outputs[n] = events[n]
            elif "outputs" in ys:
                outputs[n] = np.asarray(ys["outputs"], F32).reshape(shape)
                st = {v: np.asarray(ys[f"state.{v}"], F32).reshape(shape)
                      for v in pops[n].neuron.STATE}
                if st:
                    state[n] = st
        micro = None if extra is None else {
            n: np.asarray(ys["microstep"], np.int32).reshape((B, T, *pops[n].shape))
            for n, ys in raw.items() if "microstep" in ys}
        met = None
        if want_metrics:
            if self._fanout is None:
                self._fanout = FanOut.build(self.program)
            met = [compute_metrics(self.program, self._fanout,
                                   {n: e[b].reshape(T, -1) for n, e in events.items()}, times)
                   for b in range(B)]
            if extra is not None and micro is not None:
                assert isinstance(comp, EventCompiled)
                for b, m in enumerate(met):
                    ev_b = {n: e[b].reshape(T, -1) for n, e in events.items()}
                    micro_b = {n: a[b].reshape(T, -1) for n, a in micro.items()}
                    em = compute_event_metrics(self.graph, ev_b, micro_b,
                                               {k: np.asarray(v)[b] for k, v in extra.items()})
                    m.update(em)
                    moments: dict[str, tuple[int, int]] = {
                        k: em[k] for k in ("first_output", "decision")}  # type: ignore[misc]
                    m.update(event_timing(self.program, comp.schedule, self._fanout, ev_b, micro_b,
                                          em["microsteps_per_step"], moments))  # type: ignore[arg-type]
        return EmulatorResult(events, outputs, state, times, met, micro)
