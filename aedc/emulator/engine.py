"""The JAX executor: one ``lax.scan`` over global steps, every PE a masked, vectorised process.

A run is compiled once per (program, schedule, T, exact) and vmapped over the batch. Each scan step is
one *global step*: the set of PEs whose tick starts at that time (all of them, every step, in sync mode).
Inside a step, populations are visited in :func:`aedc.ir.topo_order`; every neuron of a population
computes its update, and the result is kept only where its PE is active (a mask, not a Python branch).
Each population keeps a ring buffer of the payloads it emitted, indexed by the emitting PE's local tick;
a receiver at local tick ``k`` reads, per (projection, source PE, destination PE) *block*, the source
ticks ``lo[k] ≤ t < hi[k]`` of :mod:`aedc.timing.schedule`.

Exact mode (``exact=True``, the default) reproduces the reference simulator's float32 arithmetic bit for
bit: a post neuron's input starts at 0.0 and adds ``w * payload`` for every event in the canonical
order — projections in graph order, presynaptic index ascending (then source tick ascending when a slow
receiver takes several ticks at once) — skipping zero payloads, as a sequential ``lax.fori_loop`` over
fan-in slots (vectorised over post neurons and samples); sigma-delta projections accumulate into their
persistent accumulator which is then added to the input. Every product is *fenced*: XLA CPU (jax 0.10)
contracts ``a*b + c`` into a fused multiply-add (measured: 999,951 of 10⁶ adversarial cases differ from
NumPy; ``--xla_cpu_enable_fast_math=false`` does not stop it, only ``--xla_cpu_max_isa=AVX`` does), so
products go through ``bitcast(bitcast(a*b, int32) ^ zero, float32)`` with ``zero`` a runtime argument,
which LLVM cannot see through. Neuron constants are the host-computed float32 values of
:func:`aedc.ir.discretise.neuron_constants`. Hence: exact mode equals the reference simulator (and
must equal the generated C) bit for bit in sync mode, for every graph; in async mode it equals the
reference run of the correspondingly re-timed graph whenever each receiver tick uses at most one source
tick per block (always with equal periods).

Fast mode (``exact=False``) is for benchmarks and training: each block is one dense matmul (or a
gathered row sum for sparse blocks, or one XLA convolution for a whole conv/pool projection) of the
summed source payloads, synaptic products unfenced; neuron updates stay fenced and use the same host
constants. Its results therefore equal exact mode whenever every synaptic sum is exact in float32 in
any order (e.g. weights ``k/2^m`` of bounded size with binary payloads, as in the tests'
``exact_weights``); otherwise they differ by float32 rounding of the sums (a spike can then move by a
tick near threshold). Fenced products are differentiable (a custom JVP: the derivative of ``a*b``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from aedc.emulator.neurons import NEURON_UPDATES, NeuronTick, Stage, stage_params
from aedc.emulator.ops import fmul, heaviside, sd_gate
from aedc.errors import EmulatorError
from aedc.ir.connectivity import Conv1d, Conv2d, Pool2d
from aedc.ir.discretise import neuron_constants
from aedc.ir.graph import Graph, Population
from aedc.ir.options import Semantics
from aedc.ir.topology import topo_order
from aedc.timing.schedule import Plan

Array = Any
F32 = np.float32
DENSE_FRACTION = 0.1
"""Fast mode: a block with at least this fraction of its pre × post pairs connected is a dense matmul."""


@dataclass(frozen=True)
class _Block:
    key: tuple[str, int, int]
    index: int  # row of the LO/HI tables
    src: int
    dst: int


@dataclass(frozen=True)
class _ProjInfo:
    name: str
    pre: str
    post: str
    sigma_delta: bool
    nmax: int  # most source ticks one receiver tick takes from one block
    blocks: tuple[_Block, ...]
    now: bool  # sync mode, latency 0: uses the payload ``pre`` sent in this very step


@dataclass(frozen=True)
class _PopInfo:
    pop: Population
    single_pe: int | None  # the PE when the whole population is on one PE


def _pe_arrays(pe: np.ndarray) -> int | None:
    return int(pe[0]) if pe.size and np.all(pe == pe[0]) else None


class Compiled:
    """Host-side tables of one (program, plan, exact) and the pure function that runs one sample."""

    def __init__(self, graph: Graph, pe_of: dict[str, np.ndarray], plan: Plan, T: int, *, exact: bool,
                 record_state: bool, remat: bool) -> None:
        self.graph, self.plan, self.T, self.exact = graph, plan, T, exact
        self.record_state, self.remat = record_state, remat
        self.sem: Semantics = graph.semantics
        pops = graph.pop_map()
        self.order = topo_order(graph)
        self.pops = {n: _PopInfo(pops[n], _pe_arrays(pe_of[n])) for n in self.order}
        self.pe_of = pe_of
        self.always_active = bool(plan.active.all())
        keys = sorted(plan.lo)
        self.block_row = {k: i for i, k in enumerate(keys)}
        lo = np.stack([plan.lo[k] for k in keys]) if keys else np.zeros((1, T), np.int64)
        hi = np.stack([plan.hi[k] for k in keys]) if keys else np.zeros((1, T), np.int64)
        p: dict[str, Any] = {
            "fence": np.int32(0), "lo": lo.astype(np.int32), "hi": hi.astype(np.int32),
            "active": plan.active, "ktick": plan.ktick, "pe": {}, "neuron": {}, "proj": {},
        }
        self.projs: list[_ProjInfo] = []
        self.conv_cfg: dict[str, tuple[Any, ...]] = {}
        self.stages: dict[str, tuple[Stage, ...]] = {}
        for n in self.order:
            pop = pops[n]
            p["pe"][n] = pe_of[n].astype(np.int32)
            if not pop.is_input:
                stages = NEURON_UPDATES.get(pop.neuron.model)
                if stages is None:
                    raise EmulatorError(f"population '{n}': neuron model '{pop.neuron.model}' has no "
                                        f"entry in aedc.emulator.neurons.NEURON_UPDATES", where=n)
                self.stages[n] = stages
                c = {k: v.ravel() for k, v in neuron_constants(pop.neuron, self.sem).items()}
                c["bias"] = np.asarray(pop.neuron.bias, F32).ravel()
                for extra in stage_params(stages):
                    c[extra] = np.asarray(getattr(pop.neuron, extra), F32).ravel()
                if pop.event_rule == "sigma_delta":  # an array, so training can treat it as a parameter
                    c["event_threshold"] = np.full(1, pop.event_threshold, F32)
                p["neuron"][n] = c
        for pr in graph.projections:
            pre, post = pops[pr.pre], pops[pr.post]
            blocks = tuple(_Block(k, self.block_row[k], k[1], k[2]) for k in keys if k[0] == pr.name)
            nmax = max([int((plan.hi[b.key] - plan.lo[b.key]).max(initial=0)) for b in blocks] + [0])
            info = _ProjInfo(pr.name, pr.pre, pr.post, pre.event_rule == "sigma_delta", nmax, blocks,
                             plan.sync and pr.latency == 0)
            self.projs.append(info)
            i_pre, i_post, w = pr.conn.to_coo(pre.shape, post.shape)
            w = np.asarray(w, F32)
            p["proj"][pr.name] = (self._exact_tables(info, i_pre, i_post, w, post.size) if exact
                                  else self._fast_tables(info, i_pre, i_post, w))
            if not exact and len(blocks) == 1 and isinstance(pr.conn, Conv2d | Conv1d | Pool2d):
                # one block with the whole projection: run it as an XLA convolution
                entry = p["proj"][pr.name][str(blocks[0].index)]
                entry.pop("mat", None), entry.pop("src", None), entry.pop("w", None)
                conn = pr.conn
                cfg: tuple[Any, ...]
                if isinstance(conn, Pool2d):
                    ch = conn.in_shape[0]
                    kernel = np.full((ch, 1, *conn.kernel), conn.weight_value(), F32)
                    cfg = (conn.in_shape, conn.stride, conn.padding, (1, 1), ch)
                else:
                    kernel = np.asarray(conn.weight, F32)
                    cfg = (conn.in_shape, conn.stride, conn.padding, conn.dilation, conn.groups)
                entry["kernel"] = kernel
                self.conv_cfg[pr.name] = cfg
        self.host_params = p  # NumPy; the sharded executor slices these per device, never all on one
        self.needs_ring = {n: any(i.pre == n and not i.now for i in self.projs) for n in self.order}
        # fast (training) runs also output ``sent``: the sigma-delta send decisions with the surrogate
        # derivative, so an activity regulariser can count sigma-delta events differentiably
        self.count_sends = {n: not exact and pops[n].event_rule == "sigma_delta" and not pops[n].is_input
                            for n in self.order}

    @cached_property
    def params(self) -> dict[str, Any]:
        """:attr:`host_params` as device arrays (made on first use, on the default device)."""
        return jax.tree_util.tree_map(jnp.asarray, self.host_params)  # type: ignore[no-any-return]

    # ---- host tables ----------------------------------------------------------------------------------

    def _exact_tables(self, info: _ProjInfo, i_pre: np.ndarray, i_post: np.ndarray, w: np.ndarray,
                      n_post: int) -> dict[str, np.ndarray]:
        """Fan-in slots ``(K, n_post)``: slot f of post j is its f-th synapse by ascending pre index."""
        order = np.lexsort((i_pre, i_post))
        i_pre, i_post, w = i_pre[order], i_post[order], w[order]
        counts = np.bincount(i_post, minlength=n_post)
        K = int(counts.max(initial=0))
        start = np.cumsum(counts) - counts
        slot = np.arange(i_post.size) - start[i_post]
        src = np.zeros((K, n_post), np.int32)
        wt = np.zeros((K, n_post), F32)
        blk = np.zeros((K, n_post), np.int32)
        ok = np.zeros((K, n_post), bool)
        src[slot, i_post], wt[slot, i_post], ok[slot, i_post] = i_pre, w, True
        rows = {(b.src, b.dst): b.index for b in info.blocks}
        pe_pre, pe_post = self.pe_of[info.pre], self.pe_of[info.post]
        if i_post.size:
            blk[slot, i_post] = [rows[int(s), int(d)] for s, d in
                                 zip(pe_pre[i_pre], pe_post[i_post], strict=True)] \
                if len(rows) > 1 else next(iter(rows.values()))
        return {"src": src, "w": wt, "blk": blk, "ok": ok}

    def _fast_tables(self, info: _ProjInfo, i_pre: np.ndarray, i_post: np.ndarray,
                     w: np.ndarray) -> dict[str, Any]:
        """Per block: pre/post neuron indices and a dense matrix or a (K, n_post) gather table."""
        pe_pre, pe_post = self.pe_of[info.pre], self.pe_of[info.post]
        out: dict[str, Any] = {}
        for b in info.blocks:
            pre_idx, post_idx = np.flatnonzero(pe_pre == b.src), np.flatnonzero(pe_post == b.dst)
            sel = (pe_pre[i_pre] == b.src) & (pe_post[i_post] == b.dst)
            lp = np.searchsorted(pre_idx, i_pre[sel])
            lq = np.searchsorted(post_idx, i_post[sel])
            ws = w[sel]
            entry: dict[str, np.ndarray] = {"pre": pre_idx.astype(np.int32),
                                            "post": post_idx.astype(np.int32)}
            if ws.size >= DENSE_FRACTION * pre_idx.size * post_idx.size:
                mat = np.zeros((pre_idx.size, post_idx.size), F32)
                np.add.at(mat, (lp, lq), ws)
                entry["mat"] = mat
            else:
                counts = np.bincount(lq, minlength=post_idx.size)
                K = int(counts.max(initial=0))
                order = np.lexsort((lp, lq))
                lp, lq, ws = lp[order], lq[order], ws[order]
                slot = np.arange(lq.size) - (np.cumsum(counts) - counts)[lq]
                src = np.zeros((K, post_idx.size), np.int32)
                wt = np.zeros((K, post_idx.size), F32)
                src[slot, lq], wt[slot, lq] = lp, ws
                entry["src"], entry["w"] = src, wt
            out[str(b.index)] = entry
        return out

    # ---- the step ---------------------------------------------------------------------------------------

    def _ticks(self, P: dict[str, Any], g: Array, name: str) -> tuple[Array, Array]:
        """(local tick, active) of population ``name``'s neurons at step ``g`` (scalars if on one PE)."""
        pe = self.pops[name].single_pe
        if pe is not None:
            return P["ktick"][g, pe], P["active"][g, pe]
        return P["ktick"][g][P["pe"][name]], P["active"][g][P["pe"][name]]

    def _deliver_exact(self, P: dict[str, Any], info: _ProjInfo, acc: Array, ring: Array, kt: Array,
                       fence: Array, now: Array | None = None) -> Array:
        t = P["proj"][info.name]
        depth = ring.shape[0]
        n_post = acc.shape[0]
        kt = jnp.broadcast_to(kt, (n_post,))

        def body(f: Array, acc: Array) -> Array:
            src, w, blk, ok = t["src"][f], t["w"][f], t["blk"][f], t["ok"][f]
            if now is not None:  # sync, latency 0: this step's payload, always in range
                p = now[src]
                return jnp.where(ok & (p != 0), acc + fmul(w, p, fence), acc)
            lo, hi = P["lo"][blk, kt], P["hi"][blk, kt]
            for m in range(info.nmax):
                tick = lo + m
                p = ring[tick % depth, src]
                use = ok & (tick < hi) & (p != 0)
                acc = jnp.where(use, acc + fmul(w, p, fence), acc)
            return acc

        K = t["src"].shape[0]
        if K == 0 or info.nmax == 0:
            return acc
        return lax.fori_loop(0, K, body, acc)

    def _deliver_fast(self, P: dict[str, Any], g: Array, info: _ProjInfo, acc: Array,
                      ring: Array, now: Array | None = None) -> Array:
        depth = ring.shape[0]
        for b in info.blocks:
            e = P["proj"][info.name][str(b.index)]
            kd = P["ktick"][g, b.dst]
            lo, hi = P["lo"][b.index, kd], P["hi"][b.index, kd]
            full_pre = e["pre"].shape[0] == ring.shape[1]
            x = jnp.zeros(e["pre"].shape[0], jnp.float32)
            if now is not None:
                x = now if full_pre else now[e["pre"]]
            for m in range(info.nmax if now is None else 0):
                row = ring[(lo + m) % depth]
                row = row if full_pre else row[e["pre"]]
                x = x + jnp.where(lo + m < hi, row, 0.0)
            if "kernel" in e:
                in_shape, stride, padding, dilation, groups = self.conv_cfg[info.name]
                contrib = lax.conv_general_dilated(
                    x.reshape((1, *in_shape)), e["kernel"], window_strides=tuple(stride),
                    padding=tuple(tuple(p) for p in padding), rhs_dilation=tuple(dilation),
                    feature_group_count=groups).reshape(-1)
            elif "mat" in e:
                contrib = x @ e["mat"]
            else:
                contrib = jnp.sum(e["w"] * x[e["src"]], axis=0)
            if e["post"].shape[0] == acc.shape[0]:
                acc = acc + contrib
            else:
                acc = acc.at[e["post"]].add(contrib)
        return acc

    def _neuron(self, P: dict[str, Any], name: str, x: Array, st: dict[str, Array],
                fence: Array | None) -> tuple[Array, dict[str, Array]]:
        """One tick of population ``name`` from total input ``x`` (bias included): (value, state), by the
        stages of its model's entry in :data:`aedc.emulator.neurons.NEURON_UPDATES`."""
        tick = NeuronTick(self.sem, P["neuron"][name], fence, dict(st))
        for stage in self.stages[name]:
            x = stage.run(tick, x)
        return x, tick.st

    def init_carry(self) -> dict[str, Any]:
        pops = self.graph.pop_map()
        carry: dict[str, Any] = {"ring": {}, "state": {}, "sd": {}}
        for n in self.order:
            size = pops[n].size
            carry["ring"][n] = jnp.zeros((self.plan.depth[n], size), jnp.float32)
            if pops[n].is_input:
                continue
            st = {v: jnp.zeros(size, jnp.float32) for v in pops[n].neuron.STATE}
            if pops[n].neuron.SPIKING:
                st["z"] = jnp.zeros(size, bool)
            if pops[n].event_rule == "sigma_delta":
                st["sent"] = jnp.zeros(size, jnp.float32)
            carry["state"][n] = st
        for info in self.projs:
            if info.sigma_delta:
                carry["sd"][info.name] = jnp.zeros(pops[info.post].size, jnp.float32)
        return carry

    def _write_ring(self, name: str, ring: Array, kt: Array, act: Array, payload: Array) -> Array:
        depth = ring.shape[0]
        if self.pops[name].single_pe is not None:
            slot = kt % depth
            row = jnp.where(act, payload, ring[slot])
            return lax.dynamic_update_slice(ring, row[None, :], (slot, jnp.int32(0)))
        cols = jnp.arange(ring.shape[1])
        slot = kt % depth
        return ring.at[slot, cols].set(jnp.where(act, payload, ring[slot, cols]))

    def run_one(self, P: dict[str, Any], data: dict[str, Array]) -> dict[str, Any]:
        """Run one sample: ``data[input] (T, N)`` → per-population arrays in local-tick order."""
        _, ys = self.run_steps(P, data, self.init_carry(), jnp.arange(self.plan.steps))
        return self.to_ticks(ys)

    def run_steps(self, P: dict[str, Any], data: dict[str, Array], carry: dict[str, Any],
                  steps: Array) -> tuple[dict[str, Any], dict[str, Any]]:
        """Run the global steps ``steps`` (consecutive, from the step ``carry`` was left at) of one
        sample: ``(carry after them, per-population arrays in step order)``. Running ``[0, G)`` in
        chunks, each from the previous chunk's carry, is the same scan as one call; steps past the last
        (``≥ plan.steps``, padding a chunk) may follow: they leave the outputs of the real ones alone."""
        fence = P["fence"]  # neuron updates are fenced in both modes; fast-mode sums are not
        incoming: dict[str, list[_ProjInfo]] = {n: [] for n in self.order}
        for info in self.projs:
            incoming[info.post].append(info)
        pops = self.graph.pop_map()

        def step(carry: dict[str, Any], g: Array) -> tuple[dict[str, Any], dict[str, Any]]:
            ring, state, sd = dict(carry["ring"]), dict(carry["state"]), dict(carry["sd"])
            ys: dict[str, Any] = {}
            cur: dict[str, Array] = {}  # payload each population sent in this step
            for n in self.order:
                kt, act = self._ticks(P, g, n)
                if pops[n].is_input:
                    d = data[n]
                    payload = d[kt] if jnp.ndim(kt) == 0 else d[kt, jnp.arange(d.shape[1])]
                    if self.needs_ring[n]:
                        ring[n] = self._write_ring(n, ring[n], kt, act, payload)
                    ys[n] = {"events": payload}
                    cur[n] = payload
                    continue
                sd_in = {i.name: sd[i.name] for i in incoming[n] if i.sigma_delta}

                def update(ring_n: Array, st_old: dict[str, Array], sd_in: dict[str, Array],
                           n: str = n, kt: Array = kt, act: Array = act,
                           ring: dict[str, Array] = ring,
                           cur: dict[str, Array] = cur) -> tuple[Any, ...]:
                    sd_out = dict(sd_in)
                    acc = jnp.zeros(pops[n].size, jnp.float32)
                    for info in incoming[n]:
                        src = ring_n if info.pre == n else ring[info.pre]
                        now = cur[info.pre] if info.now else None
                        if info.sigma_delta:
                            s_old = sd_in[info.name]
                            s_new = (self._deliver_exact(P, info, s_old, src, kt, fence, now)
                                     if self.exact else self._deliver_fast(P, g, info, s_old, src, now))
                            sd_out[info.name] = s_new if self.always_active else jnp.where(
                                act, s_new, s_old)
                            acc = acc + s_new
                        elif self.exact:
                            acc = self._deliver_exact(P, info, acc, src, kt, fence, now)
                        else:
                            acc = self._deliver_fast(P, g, info, acc, src, now)
                    x = acc + P["neuron"][n]["bias"]
                    value, st_new = self._neuron(P, n, x, st_old, fence)
                    if pops[n].event_rule == "sigma_delta":
                        change = value - st_new["sent"]
                        payload = sd_gate(change, P["neuron"][n]["event_threshold"])
                        st_new["sent"] = st_new["sent"] + payload
                        value = st_new["sent"]
                    else:
                        payload = value
                    st_out = st_new if self.always_active else {
                        k: jnp.where(act, v, st_old[k]) for k, v in st_new.items()}
                    y = {"events": payload}
                    if self.record_state:
                        y["outputs"] = value
                        y.update({f"state.{v}": st_new[v] for v in pops[n].neuron.STATE})
                    if self.count_sends[n]:  # 0/1 per sigma-delta send, surrogate-differentiable
                        y["sent"] = heaviside(jnp.abs(change), P["neuron"][n]["event_threshold"], False)
                    if self.needs_ring[n]:
                        ring_n = self._write_ring(n, ring_n, kt, act, payload)
                    return ring_n, st_out, sd_out, y

                def skip(ring_n: Array, st_old: dict[str, Array], sd_in: dict[str, Array],
                         n: str = n) -> tuple[Any, ...]:
                    zero = jnp.zeros(pops[n].size, jnp.float32)
                    y = {"events": zero}
                    if self.record_state:
                        y["outputs"] = zero
                        y.update({f"state.{v}": st_old[v] for v in pops[n].neuron.STATE})
                    if self.count_sends[n]:
                        y["sent"] = zero
                    return ring_n, st_old, sd_in, y

                if self.pops[n].single_pe is not None and not self.always_active:
                    # a PE that does not tick at this step skips its work (an unbatched predicate,
                    # so this stays a real branch under vmap)
                    ring[n], state[n], sd_new, ys[n] = lax.cond(act, update, skip, ring[n], state[n],
                                                                sd_in)
                else:
                    ring[n], state[n], sd_new, ys[n] = update(ring[n], state[n], sd_in)
                sd.update(sd_new)
                cur[n] = ys[n]["events"]
            return {"ring": ring, "state": state, "sd": sd}, ys

        body: Callable[..., Any] = jax.checkpoint(step) if self.remat else step
        carry, ys = lax.scan(body, carry, jnp.minimum(steps, self.plan.steps - 1))
        return carry, dict(ys)

    def to_ticks(self, ys: dict[str, Any], *, batched: bool = False) -> dict[str, Any]:
        """Per-population arrays in step order (``(G, N)``, or ``(B, G, N)`` when ``batched``; JAX or
        NumPy) → local-tick order ``(T, N)``: every neuron's rows at the steps its PE ticked."""
        if self.plan.steps == self.T and np.array_equal(self.plan.step_of,
                                                        np.tile(np.arange(self.T), (len(
                                                            self.plan.step_of), 1))):
            return dict(ys)
        axis = 1 if batched else 0
        out: dict[str, Any] = {}
        for n in self.order:
            pe = self.pops[n].single_pe
            if pe is not None:
                idx = self.plan.step_of[pe]
                out[n] = jax.tree_util.tree_map(lambda a, idx=idx: a[:, idx] if batched else a[idx], ys[n])
            else:
                idx2 = self.plan.step_of[self.pe_of[n]].T  # (T, N)
                if batched:
                    idx2 = idx2[None]

                def take(a: Array, idx2: np.ndarray = idx2) -> Array:
                    xp = np if isinstance(a, np.ndarray) else jnp
                    return xp.take_along_axis(a, xp.asarray(idx2), axis=axis)

                out[n] = jax.tree_util.tree_map(take, ys[n])
        return out
