"""The placed program sharded over the devices of a JAX mesh (``shard_map``): one device's answers, exactly.

Layout (host, NumPy, once per run shape):

* **Shards.** PEs in canonical order (chip, QPE, PE) are cut into ``D`` contiguous groups, one per device
  of the mesh axis, balancing neurons: whole chips per device when there are at least ``D`` chips (so
  most traffic stays on a device), single PEs otherwise (:func:`assign_shards`).
* **Per-shard blocks.** Every population becomes a ``(D, M)`` block: row ``s`` holds the neurons of
  shard ``s`` in ascending index, padded to the largest shard's count ``M`` (padding neurons compute
  unused values and are never sent or read). Each device holds only its rows: neuron constants, state,
  delivery tables (the exact fan-in slots of :mod:`aedc.emulator.engine`, restricted to its post neurons),
  ring buffers, the tick tables (``ktick``/``active``) of the PEs it runs or imports from and the
  source-tick ranges (``lo``/``hi``) of the blocks into its PEs. Only the FMA fence is replicated.
* **Exchange.** A population's ring on shard ``r`` has its ``M`` local columns plus ``D·E`` import
  columns: ``E`` is the most neurons any shard ``s`` sends to any other shard ``r`` — the neurons of
  ``s`` with a synapse onto a post neuron of ``r`` in some projection (the source slices with remote
  targets, nothing else). One ``lax.all_to_all`` of the ``(D, ΣE)`` send buffers of the exported
  populations moves them; the receiver writes them into its import columns at the source PE's ring
  slot with the source PE's activity, exactly as the single-device executor writes them.

Why the answers are identical: a post neuron's input is still the same float32 sum in the same order
(:meth:`Compiled._deliver_exact` on the same slots, only the column indices renumbered) and the neuron
update is the same function (:meth:`Compiled._neuron`); only *when* an imported payload lands in a
ring changes, and it always lands before it is read and never after a later write of the same slot:

* **sync**: a projection of latency 0 with remote targets needs its payload in the same step, so the
  population is exchanged right after its update (in topological order, before its readers); the
  others at the end of the step (they are read at the next step at the earliest).
* **async**: an event is never visible in the step that sent it. With ``Λ`` the smallest number of
  global steps between sending a tick across shards and the first step that reads it (over every
  cross-shard PE pair with synapses and every receiver tick), shards run ``Λ`` steps between exchanges
  (conservative lookahead; zero jitter and equal periods make a step a tick, so ``Λ`` is the minimum
  cross-shard latency ``L`` in ticks). The run's steps are padded to a multiple of ``Λ`` with steps in
  which no PE ticks (every write is masked, so they change nothing). ``lookahead=False`` exchanges
  every step (the baseline the exchange count is compared with).

Metrics added to every sample's dict: ``shards``, ``shard_neurons`` (per device), ``shard_bytes``
(per device: its tables, constants, state and rings), ``exchanges`` (collective rounds of the run),
``exchange_floats`` (float32 values one device sends per round, ``D·ΣE`` padded),
``lookahead_steps`` (``Λ``; 1 in sync mode), ``steps`` (the plan's global steps), ``batch_devices``
(the size of a mesh's batch axis: a two-axis mesh also splits the samples of a batch).

Fast mode (``exact=False``, :meth:`ShardedCompiled._fast_tables`): per device and projection, one dense
matrix per post PE from all ring columns, each column summed over its block's source-tick window; its
sums group the terms differently from the single-device fast mode (one matmul per block), so the two
agree whenever the sums are exact in float32 and otherwise differ by rounding. Not sharded: the
event-driven schedule and training (``Emulator.trainable``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as Spec

from aedc.emulator.engine import Compiled, _ProjInfo
from aedc.emulator.ops import event_rule
from aedc.errors import EmulatorError
from aedc.timing.program import PlacedProgram

Array = Any
F32 = np.float32
AXIS = "pe"
"""The mesh axis PEs are sharded over (a one-axis mesh may name it anything)."""

__all__ = ["AXIS", "ShardedCompiled", "assign_shards", "init_processes", "make_mesh"]


def _spec(*axes: str | None) -> Spec:
    return Spec(*axes)  # type: ignore[no-untyped-call]


def make_mesh(devices: int | Mesh) -> Mesh:
    """A one-axis mesh named :data:`AXIS` over the first ``devices`` JAX devices (or ``devices`` itself)."""
    if isinstance(devices, Mesh):
        return devices
    have = jax.devices()
    if devices < 1 or devices > len(have):
        raise EmulatorError(f"asked for {devices} devices, JAX sees {len(have)} ({have[0].platform}); "
                            f"for virtual CPU devices set XLA_FLAGS=--xla_force_host_platform_device_count"
                            f"={devices} before JAX is imported")
    return Mesh(np.array(have[:devices]), (AXIS,))


def init_processes(coordinator: str, num_processes: int, process_id: int) -> None:
    """Join a multi-process run (``jax.distributed``) before any JAX computation: CPU collectives over
    gloo, so a mesh of ``jax.devices()`` spans the processes' devices (every process runs the same
    program on the same inputs; each holds and computes only its devices' shards)."""
    jax.config.update("jax_cpu_collectives_implementation", "gloo")  # type: ignore[no-untyped-call]
    jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                               process_id=process_id)


def mesh_axes(mesh: Mesh) -> tuple[str, str | None]:
    """``(PE axis, batch axis)``: a one-axis mesh shards PEs; a two-axis mesh shards PEs over the axis
    named :data:`AXIS` and the samples of a batch over the other (data parallel)."""
    names = tuple(str(a) for a in mesh.axis_names)
    if len(names) == 1:
        return names[0], None
    if len(names) == 2 and AXIS in names:
        return AXIS, next(a for a in names if a != AXIS)
    raise EmulatorError(f"mesh axes {names}: give one axis (PEs) or two, one of them named '{AXIS}' "
                        f"(PEs; the other shards the batch)")


def assign_shards(program: PlacedProgram, n_shards: int) -> np.ndarray:
    """Shard of every PE ``(n_pes,)``: contiguous groups of PEs in canonical order, whole chips when there
    are at least ``n_shards`` chips, cut where the cumulative neuron count crosses ``s·total/n_shards``;
    every shard gets a unit while units remain."""
    n_pes = program.n_pes
    weight = np.zeros(n_pes, np.int64)
    for ids in program.pe_of.values():
        np.add.at(weight, ids, 1)
    order = sorted(range(n_pes), key=lambda p: program.pes[p].key())
    chips = list(dict.fromkeys(program.pes[p].chip for p in order))
    units = ([[p for p in order if program.pes[p].chip == c] for c in chips] if len(chips) >= n_shards
             else [[p] for p in order])
    w_units = [int(weight[u].sum()) for u in units]
    total = max(sum(w_units), 1)
    shard = np.zeros(n_pes, np.int64)
    s, cum, count = 0, 0, 0
    for i, (u, w) in enumerate(zip(units, w_units, strict=True)):
        left = len(units) - i
        if count and s < n_shards - 1 and (left <= n_shards - 1 - s
                                           or (cum + w / 2) * n_shards > (s + 1) * total):
            s, count = s + 1, 0
        shard[u] = s
        cum, count = cum + w, count + 1
    return shard


@dataclass(frozen=True)
class _PopLayout:
    local: tuple[np.ndarray, ...]  # per shard: global neuron ids, ascending
    M: int  # padded local count
    E: int  # padded neurons one shard sends to one other shard (0: nothing crosses)
    send: np.ndarray  # (D, D, E) local positions shard s sends to shard r
    imp_pe: np.ndarray  # (D, D·E) PE of every import column of shard r
    col: np.ndarray  # (D, N) column of global neuron i in shard r's ring (−1: absent)
    exporters: tuple[tuple[np.ndarray, ...], ...]  # [s][r]: global ids shard s sends to shard r


class ShardedCompiled:
    """Per-shard tables of one :class:`Compiled` (exact or fast) and the ``shard_map`` run over ``mesh``."""

    def __init__(self, program: PlacedProgram, base: Compiled, mesh: Mesh, *, lookahead: bool = True) -> None:
        self.base, self.mesh = base, mesh
        self.axis, self.batch_axis = mesh_axes(mesh)
        D = self.D = int(mesh.shape[self.axis])
        plan = base.plan
        self.sync = plan.sync
        graph = base.graph
        pops = graph.pop_map()
        self.shard_of_pe = assign_shards(program, D)
        sh = {n: self.shard_of_pe[np.asarray(program.pe_of[n])] for n in base.order}
        coo = {pr.name: pr.conn.to_coo(pops[pr.pre].shape, pops[pr.post].shape)[:2]
               for pr in graph.projections}
        self.layout: dict[str, _PopLayout] = {}
        for n in base.order:
            N = pops[n].size
            local = tuple(np.flatnonzero(sh[n] == s) for s in range(D))
            M = max(1, *(a.size for a in local))
            pos = np.zeros(N, np.int64)
            for a in local:
                pos[a] = np.arange(a.size)
            pairs = np.zeros((N, D), bool)  # neuron i has a synapse onto shard r
            for pr in graph.projections:
                if pr.pre == n:
                    i_pre, i_post = coo[pr.name]
                    pairs[i_pre, sh[pr.post][i_post]] = True
            pairs[np.arange(N), sh[n]] = False
            lists = [[np.flatnonzero(pairs[:, r] & (sh[n] == s)) for r in range(D)] for s in range(D)]
            E = max(0, *(a.size for row in lists for a in row))
            send = np.zeros((D, D, E), np.int32)
            imp_pe = np.zeros((D, D * E), np.int32)
            col = np.full((D, N), -1, np.int64)
            for r in range(D):
                col[r, local[r]] = np.arange(local[r].size)
            for s in range(D):
                for r in range(D):
                    ids = lists[s][r]
                    send[s, r, :ids.size] = pos[ids]
                    imp_pe[r, s * E: s * E + ids.size] = np.asarray(program.pe_of[n])[ids]
                    col[r, ids] = M + s * E + np.arange(ids.size)
            self.layout[n] = _PopLayout(local, M, E, send, imp_pe, col,
                                        tuple(tuple(row) for row in lists))
        # which exchanges a step needs: sync latency-0 projections with remote targets are exchanged
        # inside the step, right after their population; the rest at the end of a chunk
        self.exported = [n for n in base.order if self.layout[n].E > 0]
        self.in_step = {n for n in self.exported if any(
            i.now and i.pre == n and self._crosses(i, sh, coo) for i in base.projs)}
        # an in-step exchange also takes every exported population updated before it in the step
        last = max([base.order.index(n) for n in self.in_step], default=-1)
        self.deferred = [n for n in self.exported if base.order.index(n) > last]
        self.lookahead = 1 if self.sync or not lookahead else self._lookahead(program, sh, coo)
        self._build_params(program, pops)

    def _crosses(self, info: _ProjInfo, sh: dict[str, np.ndarray],
                 coo: dict[str, tuple[np.ndarray, np.ndarray]]) -> bool:
        i_pre, i_post = coo[info.name]
        return bool(np.any(sh[info.pre][i_pre] != sh[info.post][i_post]))

    def _lookahead(self, program: PlacedProgram, sh: dict[str, np.ndarray],
                   coo: dict[str, tuple[np.ndarray, np.ndarray]]) -> int:
        """Fewest global steps from sending a tick across shards to the first step that reads it."""
        plan, base = self.base.plan, self.base
        gap = plan.steps
        for info in base.projs:
            i_pre, i_post = coo[info.name]
            cross = sh[info.pre][i_pre] != sh[info.post][i_post]
            pe_pre, pe_post = np.asarray(program.pe_of[info.pre]), np.asarray(program.pe_of[info.post])
            pe_pairs = np.unique(np.stack([pe_pre[i_pre[cross]], pe_post[i_post[cross]]], axis=1), axis=0)
            for s, d in pe_pairs.tolist():
                lo, hi = plan.lo[info.name, s, d], plan.hi[info.name, s, d]
                reads = np.flatnonzero(hi > lo)
                if reads.size:
                    gap = min(gap, int((plan.step_of[d, reads] - plan.step_of[s, hi[reads] - 1]).min()))
        if gap < 1:  # cannot happen in async mode (an event is never read in the step that sent it)
            raise EmulatorError(f"cross-shard event read {gap} steps after it was sent")
        return gap

    # ---- host tables ------------------------------------------------------------------------------

    def _rows(self, n: str, arr: np.ndarray) -> np.ndarray:
        """``(D, M, ...)`` rows of a per-neuron array (padding repeats neuron 0's value)."""
        lay = self.layout[n]
        idx = np.zeros((self.D, lay.M), np.int64)
        for s, a in enumerate(lay.local):
            idx[s, :a.size] = a
        return np.asarray(arr)[idx]

    def _tick_tables(self, program: PlacedProgram, sharded: dict[str, Any]) -> None:
        """Per shard: ``ktick``/``active`` ``(G_pad, n_local)`` of the PEs it reads the ticks of (its own
        and those it imports from; ``pe``/``imp_pe`` renumbered into them) and ``lo``/``hi`` of the blocks
        into its PEs (``blk`` renumbered). Steps are padded to a multiple of Λ with steps in which no
        PE ticks."""
        base, D, plan = self.base, self.D, self.base.plan
        G, L = plan.steps, self.lookahead
        # sync, or async with one period and no jitter: every PE starts tick k at step k, so a step's
        # tick and activity are scalars and ring writes are rows (the padding steps: none active)
        self.lockstep = bool(plan.active.all() and np.all(plan.ktick == plan.ktick[:, :1]))
        self.G_pad = -(-G // L) * L
        pad = self.G_pad - G
        active = np.concatenate([plan.active, np.zeros((pad, plan.active.shape[1]), bool)])
        ktick = np.concatenate([plan.ktick, np.full((pad, plan.ktick.shape[1]), max(base.T - 1, 0),
                                                    np.int32)])
        lists = []
        for r in range(D):
            pes = set(np.flatnonzero(self.shard_of_pe == r).tolist())
            for lay in self.layout.values():
                for src in range(D):
                    k = len(lay.exporters[src][r])
                    pes.update(lay.imp_pe[r, src * lay.E: src * lay.E + k].tolist())
            lists.append(sorted(pes) or [0])
        width = max(len(a) for a in lists)
        cols = np.array([a + [a[0]] * (width - len(a)) for a in lists], np.int64)  # (D, width)
        lut = np.full((D, program.n_pes), 0, np.int64)
        for r, a in enumerate(lists):
            lut[r, a] = np.arange(len(a))
        rows = np.arange(D)[:, None]
        for n, pe in sharded["pe"].items():
            sharded["pe"][n] = lut[rows, pe].astype(np.int32)
        for n, pe in sharded["imp_pe"].items():
            sharded["imp_pe"][n] = lut[rows, pe].astype(np.int32)
        sharded["ktick"] = np.moveaxis(ktick[:, cols], 1, 0)  # (D, G_pad, width)
        sharded["active"] = np.moveaxis(active[:, cols], 1, 0)
        keys = sorted(plan.lo)
        mine = [[base.block_row[k] for k in keys if self.shard_of_pe[k[2]] == r] for r in range(D)]
        nb = 1 + max(len(m) for m in mine)  # the last row stays empty (lo = hi = 0): "no block"
        lo = np.zeros((D, nb, base.T), np.int32)
        hi = np.zeros((D, nb, base.T), np.int32)
        blut = np.zeros((D, max(len(keys), 1)), np.int64)
        H = base.host_params
        for r, m in enumerate(mine):
            lo[r, :len(m)], hi[r, :len(m)] = H["lo"][m], H["hi"][m]
            blut[r, m] = np.arange(len(m))
        sharded["lo"], sharded["hi"] = lo, hi
        if base.exact:
            for t in sharded["proj"].values():
                t["blk"] = np.where(t["ok"], blut[rows[:, :, None], t["blk"]], 0).astype(np.int32)
        else:
            self._fast_tables(program, sharded, lut, blut, nb - 1)

    def _fast_tables(self, program: PlacedProgram, sharded: dict[str, Any], lut: np.ndarray,
                     blut: np.ndarray, empty: int) -> None:
        """Fast mode, per shard and projection: for each post PE ``q`` of the shard (padded to ``Q``),
        a dense ``(C, Nq)`` matrix from the ``C`` ring columns (local and imported) to its post neurons,
        each column's block row (its source tick window towards ``q``) and the post positions. One
        matmul per post PE over all source PEs at once: the sums equal the single-device fast mode's
        whenever they are exact in float32 (its per-block sums are added in another order)."""
        base, D = self.base, self.D
        pops = base.graph.pop_map()
        for pr in base.graph.projections:
            pre, post = self.layout[pr.pre], self.layout[pr.post]
            i_pre, i_post, w = pr.conn.to_coo(pops[pr.pre].shape, pops[pr.post].shape)
            pe_pre, pe_post = np.asarray(program.pe_of[pr.pre]), np.asarray(program.pe_of[pr.post])
            qs = [np.unique(pe_post[a]) for a in post.local]
            Q = max(1, *(q.size for q in qs))
            members = [[np.flatnonzero(pe_post[a] == q) for q in qr] for a, qr in zip(post.local, qs,
                                                                                      strict=True)]
            Nq = max([1] + [m.size for row in members for m in row])
            C = pre.M + D * pre.E
            W = np.zeros((D, Q, C, Nq), F32)
            postpos = np.full((D, Q, Nq), post.M, np.int32)  # padding: a dummy slot past the neurons
            slot = np.zeros((pops[pr.post].size, 2), np.int64)  # post neuron → (q slot, index in it)
            qpe = np.zeros((D, Q), np.int32)
            blk = np.full((D, Q, C), empty, np.int32)
            col_pe = np.zeros((D, C), np.int64)  # global PE of every ring column (−1: padding)
            col_pe[:] = -1
            for r in range(D):
                col_pe[r, :pre.local[r].size] = pe_pre[pre.local[r]]
                for src in range(D):
                    ids = pre.exporters[src][r]
                    col_pe[r, pre.M + src * pre.E: pre.M + src * pre.E + len(ids)] = pe_pre[np.asarray(
                        ids, np.int64)]
                for qi, (q, m) in enumerate(zip(qs[r], members[r], strict=True)):
                    postpos[r, qi, :m.size] = m
                    slot[post.local[r][m]] = np.stack([np.full(m.size, qi), np.arange(m.size)], axis=1)
                    qpe[r, qi] = lut[r, q]
                    for c in np.flatnonzero(col_pe[r] >= 0):
                        row = base.block_row.get((pr.name, int(col_pe[r, c]), int(q)))
                        if row is not None:
                            blk[r, qi, c] = blut[r, row]
            r_of = self.shard_of_pe[pe_post[i_post]]
            np.add.at(W, (r_of, slot[i_post, 0], pre.col[r_of, i_pre], slot[i_post, 1]), np.asarray(w, F32))
            sharded["fproj"][pr.name] = {"W": W, "postpos": postpos, "qpe": qpe, "blk": blk}

    def _build_params(self, program: PlacedProgram, pops: dict[str, Any]) -> None:
        base, D = self.base, self.D
        H = base.host_params
        sharded: dict[str, Any] = {"pe": {}, "neuron": {}, "proj": {}, "fproj": {}, "send": {}, "imp_pe": {}}
        for n in base.order:
            sharded["pe"][n] = self._rows(n, np.asarray(program.pe_of[n])).astype(np.int32)
            lay = self.layout[n]
            if lay.E:
                sharded["send"][n], sharded["imp_pe"][n] = lay.send, lay.imp_pe
            if n in H["neuron"]:
                sharded["neuron"][n] = {
                    k: (self._rows(n, v) if v.size == pops[n].size and pops[n].size > 1
                        else np.broadcast_to(v, (D, *v.shape)).copy())
                    for k, v in H["neuron"][n].items()}
        for info in base.projs if base.exact else ():
            t = H["proj"][info.name]
            rows = self._rows(info.post, np.arange(pops[info.post].size))  # (D, M_post)
            valid = np.zeros(rows.shape, bool)
            for s, a in enumerate(self.layout[info.post].local):
                valid[s, :a.size] = True
            col = self.layout[info.pre].col
            src = np.stack([col[s][t["src"][:, rows[s]]] for s in range(D)])  # (D, K, M)
            ok = t["ok"][:, rows] & valid[None]  # (K, D, M)
            ok = np.moveaxis(ok, 1, 0)
            if np.any(ok & (src < 0)):
                raise EmulatorError(f"projection '{info.name}': a synapse's source is neither local nor "
                                    f"imported on its shard (layout bug)", where=info.name)
            K = int(ok.sum(axis=1).max(initial=0))  # slots are filled from 0, so trimming keeps order
            sharded["proj"][info.name] = {
                "src": np.where(ok, src, 0)[:, :K].astype(np.int32),
                "w": np.where(ok, np.moveaxis(t["w"][:, rows], 1, 0), F32(0))[:, :K].astype(F32),
                "blk": np.where(ok, np.moveaxis(t["blk"][:, rows], 1, 0), 0)[:, :K].astype(np.int32),
                "ok": ok[:, :K]}
        self._tick_tables(program, sharded)
        replicated = {"fence": H["fence"]}
        carry = sum(int(np.prod(a.shape)) * a.dtype.itemsize
                    for a in jax.tree_util.tree_leaves(jax.eval_shape(self._init_carry)))
        self.shard_bytes = [sum(int(np.asarray(a)[s].nbytes) for a in jax.tree_util.tree_leaves(sharded))
                            + carry for s in range(D)]
        spec_s, spec_r = NamedSharding(self.mesh, _spec(self.axis)), NamedSharding(self.mesh, _spec())
        self.sharded = jax.tree_util.tree_map(lambda a: jax.device_put(a, spec_s), sharded)
        self.replicated = jax.tree_util.tree_map(lambda a: jax.device_put(a, spec_r), replicated)
        chunks = self.G_pad // self.lookahead if self.deferred else 0
        self.exchanges = base.plan.steps * len(self.in_step) + chunks
        self.exchange_floats = D * sum(self.layout[n].E for n in self.exported)
        self._fn = jax.jit(jax.shard_map(
            self._run_shard, mesh=self.mesh, in_specs=(_spec(self.axis), _spec(), self._data_spec()),
            out_specs=self._data_spec(), check_vma=False))

    def _data_spec(self) -> Spec:
        """Inputs ``(D, B, T, M)`` and outputs ``(D, B, G, M)``: devices along PEs (and batch)."""
        return _spec(self.axis, self.batch_axis) if self.batch_axis else _spec(self.axis)

    # ---- the per-shard program ------------------------------------------------------------------------

    def _deliver(self, P: dict[str, Any], info: _ProjInfo, acc: Array, ring: Array, g: Array, kt: Array,
                 fence: Array, now: Array | None) -> Array:
        """Add projection ``info``'s input to ``acc``: the exact fan-in slots, or the fast matmuls."""
        if self.base.exact:
            return self.base._deliver_exact(P, info, acc, ring, kt, fence, now)
        t = P["fproj"][info.name]
        Q, C = t["blk"].shape
        if now is not None:  # sync, latency 0: this step's payload
            if now.shape[0] < C:  # not exchanged: no synapse of this projection crosses the shards
                now = jnp.concatenate([now, jnp.zeros(C - now.shape[0], now.dtype)])
            x = jnp.broadcast_to(now[:C], (Q, C))
        else:
            kd = P["ktick"][g][t["qpe"]]  # (Q,) the post PEs' local ticks
            lo, hi = P["lo"][t["blk"], kd[:, None]], P["hi"][t["blk"], kd[:, None]]  # (Q, C)
            depth = ring.shape[0]
            cols = jnp.arange(C)[None, :]
            x = jnp.zeros((Q, C), jnp.float32)
            for m in range(info.nmax):
                x = x + jnp.where(lo + m < hi, ring[(lo + m) % depth, cols], 0.0)
        contrib = jnp.einsum("qc,qcn->qn", x, t["W"])
        M = acc.shape[0]
        out = jnp.concatenate([acc, jnp.zeros(1, acc.dtype)]).at[t["postpos"].reshape(-1)].add(
            contrib.reshape(-1))
        return out[:M]

    def _exchange(self, bufs: list[Array], axis: int) -> list[Array]:
        """All-to-all of the send buffers ``(..., D, E_n)`` (``axis`` is the destination-shard axis)."""
        sizes = [b.shape[-1] for b in bufs]
        out = lax.all_to_all(jnp.concatenate(bufs, axis=-1), self.axis, axis, axis,  # type: ignore[no-untyped-call]
                             tiled=True)
        parts, at = [], 0
        for k in sizes:
            parts.append(lax.slice_in_dim(out, at, at + k, axis=out.ndim - 1))
            at += k
        return parts

    def _write_imports(self, n: str, P: dict[str, Any], ring: Array, g: Array,
                       recv: Array) -> Array:
        """Write received payloads ``(D, E)`` into ``n``'s import columns at the source PEs' tick slots."""
        lay = self.layout[n]
        depth = ring.shape[0]
        if self.lockstep:  # every PE at the same tick: one row of the ring
            slot = P["ktick"][g, 0] % depth
            row = jnp.where(P["active"][g, 0], recv.reshape(-1), ring[slot, lay.M:])
            return lax.dynamic_update_slice(ring, row[None, :], (slot, jnp.int32(lay.M)))
        pe = P["imp_pe"][n]
        slot = P["ktick"][g][pe] % depth
        cols = lay.M + jnp.arange(self.D * lay.E)
        old = ring[slot, cols]
        return ring.at[slot, cols].set(jnp.where(P["active"][g][pe], recv.reshape(-1), old))

    def _run_shard(self, S: dict[str, Any], R: dict[str, Any], data: dict[str, Array]) -> dict[str, Any]:
        P = jax.tree_util.tree_map(lambda a: a[0], S)
        data = {k: v[0] for k, v in data.items()}
        ys = jax.vmap(self._run_one, in_axes=(None, None, 0))(P, R, data)
        out: dict[str, Any] = jax.tree_util.tree_map(lambda a: a[None], ys)
        return out

    def _init_carry(self) -> dict[str, Any]:
        base = self.base
        pops = base.graph.pop_map()
        carry: dict[str, Any] = {"ring": {}, "state": {}, "sd": {}}
        for n in base.order:
            lay = self.layout[n]
            carry["ring"][n] = jnp.zeros((base.plan.depth[n], lay.M + self.D * lay.E), jnp.float32)
            if pops[n].is_input:
                continue
            st = {v: jnp.zeros(lay.M, jnp.float32) for v in pops[n].neuron.STATE}
            if pops[n].neuron.SPIKING:
                st["z"] = jnp.zeros(lay.M, bool)
            if pops[n].event_rule == "sigma_delta":
                st["sent"] = jnp.zeros(lay.M, jnp.float32)
            carry["state"][n] = st
        for info in base.projs:
            if info.sigma_delta:
                carry["sd"][info.name] = jnp.zeros(self.layout[info.post].M, jnp.float32)
        return carry

    def _run_one(self, P: dict[str, Any], R: dict[str, Any], data: dict[str, Array]) -> dict[str, Any]:
        base = self.base
        pops = base.graph.pop_map()
        fence = R["fence"]
        incoming: dict[str, list[_ProjInfo]] = {n: [] for n in base.order}
        for info in base.projs:
            incoming[info.post].append(info)
        deferred = self.deferred

        def step(carry: dict[str, Any], g: Array) -> tuple[dict[str, Any], Any]:
            ring, state, sd = dict(carry["ring"]), dict(carry["state"]), dict(carry["sd"])
            ys: dict[str, Any] = {}
            cur: dict[str, Array] = {}
            pending: list[str] = []
            for n in base.order:
                lay = self.layout[n]
                pe = P["pe"][n]
                if self.lockstep:
                    kt, act = P["ktick"][g, 0], P["active"][g, 0]
                else:
                    kt, act = P["ktick"][g][pe], P["active"][g][pe]
                if pops[n].is_input:
                    payload = data[n][kt] if self.lockstep else data[n][kt, jnp.arange(lay.M)]
                    ys[n] = {"events": payload}
                else:
                    sd_in = {i.name: sd[i.name] for i in incoming[n] if i.sigma_delta}

                    def update(st_old: dict[str, Array], sd_in: dict[str, Array], n: str = n,
                               kt: Array = kt, act: Array = act, ring: dict[str, Array] = ring,
                               cur: dict[str, Array] = cur) -> tuple[Any, ...]:
                        sd_out = dict(sd_in)
                        acc = jnp.zeros(self.layout[n].M, jnp.float32)
                        for info in incoming[n]:
                            now = cur[info.pre] if info.now else None
                            if info.sigma_delta:
                                s_old = sd_in[info.name]
                                s_new = self._deliver(P, info, s_old, ring[info.pre], g, kt, fence, now)
                                sd_out[info.name] = jnp.where(act, s_new, s_old)
                                acc = acc + s_new
                            else:
                                acc = self._deliver(P, info, acc, ring[info.pre], g, kt, fence, now)
                        x = acc + P["neuron"][n]["bias"]
                        value, st_new = base._neuron(P, n, x, st_old, fence)
                        sd = pops[n].event_rule == "sigma_delta"
                        value, payload = event_rule(sd, value, st_new,
                                                    P["neuron"][n].get("event_threshold"))
                        st_out = {k: jnp.where(act, v, st_old[k]) for k, v in st_new.items()}
                        y = {"events": payload}
                        if base.record_state:
                            y["outputs"] = value
                            y.update({f"state.{v}": st_new[v] for v in pops[n].neuron.STATE})
                        return st_out, sd_out, y

                    def skip(st_old: dict[str, Array], sd_in: dict[str, Array],
                             n: str = n) -> tuple[Any, ...]:
                        zero = jnp.zeros(self.layout[n].M, jnp.float32)
                        y = {"events": zero}
                        if base.record_state:
                            y["outputs"] = zero
                            y.update({f"state.{v}": st_old[v] for v in pops[n].neuron.STATE})
                        return st_old, sd_in, y

                    if self.lockstep:
                        state[n], sd_new, ys[n] = update(state[n], sd_in)
                    else:  # none of the shard's PEs of n ticks: the masked update would change nothing
                        state[n], sd_new, ys[n] = lax.cond(jnp.any(act), update, skip, state[n], sd_in)
                    sd.update(sd_new)
                    payload = ys[n]["events"]
                if base.needs_ring[n]:
                    cols = jnp.arange(lay.M)
                    slot = kt % ring[n].shape[0]
                    if self.lockstep:
                        row = jnp.where(act, payload, ring[n][slot, :lay.M])
                        ring[n] = lax.dynamic_update_slice(ring[n], row[None, :], (slot, jnp.int32(0)))
                    else:
                        ring[n] = ring[n].at[slot, cols].set(jnp.where(act, payload, ring[n][slot, cols]))
                cur[n] = payload
                if n in self.exported:
                    pending.append(n)
                if n in self.in_step:  # sync: latency-0 readers on other shards need it now
                    recv = self._exchange([cur[m][P["send"][m]] for m in pending], 0)
                    for m, r in zip(pending, recv, strict=True):
                        if base.needs_ring[m]:
                            ring[m] = self._write_imports(m, P, ring[m], g, r)
                        cur[m] = jnp.concatenate([cur[m], r.reshape(-1)])
                    pending = []
            sends = {m: cur[m][P["send"][m]] for m in pending}  # (D, E): deferred to the chunk's end
            return {"ring": ring, "state": state, "sd": sd}, (ys, sends)

        def chunk(carry: dict[str, Any], gs: Array) -> tuple[dict[str, Any], Any]:
            carry, (ys, sends) = lax.scan(step, carry, gs)
            if deferred:
                recv = self._exchange([sends[m] for m in deferred], 1)  # (Λ, D, E) each
                ring = dict(carry["ring"])
                for j in range(self.lookahead):
                    for m, r in zip(deferred, recv, strict=True):
                        if base.needs_ring[m]:
                            ring[m] = self._write_imports(m, P, ring[m], gs[j], r[j])
                carry = {**carry, "ring": ring}
            return carry, ys

        body: Any = jax.checkpoint(chunk) if base.remat else chunk
        gs = jnp.arange(self.G_pad).reshape(-1, self.lookahead)
        _, ys = lax.scan(body, self._init_carry(), gs)
        out: dict[str, Any] = jax.tree_util.tree_map(lambda a: a.reshape(self.G_pad, *a.shape[2:]), ys)
        return out

    # ---- host side --------------------------------------------------------------------------------

    def run(self, data: dict[str, np.ndarray], program: PlacedProgram) -> dict[str, Any]:
        """Run a batch ``data[input] (B, T, N)``; the single-device executor's raw output, in local-tick
        order, gathered from the shards ``{pop: {"events": (B, T, N), ...}}``."""
        if self.batch_axis:
            split = int(self.mesh.shape[self.batch_axis])
            B = next(iter(data.values())).shape[0]
            if B % split:
                raise EmulatorError(f"a batch of {B} does not split over the mesh's '{self.batch_axis}' "
                                    f"axis of {split} devices; use a multiple of {split}")
        spec_s = NamedSharding(self.mesh, self._data_spec())
        blocks = {n: jax.device_put(self._input_rows(n, v), spec_s) for n, v in data.items()}
        ys = self._fn(self.sharded, self.replicated, blocks)
        if not all(a.is_fully_addressable for a in jax.tree_util.tree_leaves(ys)):
            from jax.experimental import multihost_utils  # several processes: every one gets it all

            ys = multihost_utils.process_allgather(ys, tiled=True)
        raw = jax.device_get(ys)
        out: dict[str, Any] = {}
        T = self.base.T
        for n, ys in raw.items():
            lay = self.layout[n]
            N = sum(a.size for a in lay.local)
            shard, pos = np.zeros(N, np.int64), np.zeros(N, np.int64)
            for s, a in enumerate(lay.local):
                shard[a], pos[a] = s, np.arange(a.size)
            steps = self.base.plan.step_of[np.asarray(program.pe_of[n])][:, :T]  # (N, T)
            out[n] = {}
            for k, a in ys.items():  # a: (D, B, G_pad, M)
                per = np.asarray(a)[shard, :, :, pos]  # (N, B, G_pad)
                got = np.take_along_axis(per, np.broadcast_to(steps[:, None, :], (N, per.shape[1], T)),
                                         axis=2)
                out[n][k] = np.moveaxis(got, 0, 2)  # (B, T, N)
        return out

    def _input_rows(self, n: str, v: np.ndarray) -> np.ndarray:
        """``(D, B, T, M)`` blocks of an input ``(B, T, N)`` (padding columns are zero)."""
        lay = self.layout[n]
        out = np.zeros((self.D, v.shape[0], v.shape[1], lay.M), F32)
        for s, a in enumerate(lay.local):
            out[s, :, :, :a.size] = v[:, :, a]
        return out

    def metrics(self) -> dict[str, object]:
        """The sharding figures added to every sample's metrics (see the module docstring)."""
        return {
            "shards": self.D,
            "shard_neurons": np.array([sum(lay.local[s].size for lay in self.layout.values())
                                       for s in range(self.D)], np.int64),
            "shard_bytes": np.array(self.shard_bytes, np.int64),
            "exchanges": int(self.exchanges),
            "exchange_floats": int(self.exchange_floats),
            "lookahead_steps": int(self.lookahead),
            "steps": int(self.base.plan.steps),
            "batch_devices": int(self.mesh.shape[self.batch_axis]) if self.batch_axis else 1,
        }
