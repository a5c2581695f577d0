"""Slicing: split every population into contiguous neuron ranges that each fit one PE.

A neuron slice fits when (all from :mod:`aedc.partition.memory` and the :class:`~aedc.machine.Machine`):
its DTCM regions plus the per-PE fixed regions fit ``dynamic_region_bytes``; its code fits ITCM; it has
≤ 256 neurons when a rows-format projection targets it (8-bit target index), no row longer than 255
entries, and ≤ ``events_per_tick`` expected synaptic events per tick.

Slices are grown greedily along the flat C order, then made uniform where the uniform size still fits.
Populations with a channel structure ``(C, H, W)`` / ``(C, L)`` are cut at whole channels when a slice
holds at least one channel, else at whole rows (row bands), so a conv slice's receptive input stays small
— unless cutting at arbitrary neurons gives fewer slices (then the PE count wins).

**Fan-in splitting.** When not even ``min_neurons`` neurons fit one PE (large fan-in), the population's
incoming projections (except one-to-one/identity) move to *synapse PEs*: each sums the synapses from a
presynaptic range (a multiple of ``fanin_unit`` neurons) onto one post block and sends the partial sums
as graded events to the block's neuron slice (see :mod:`aedc.partition.model`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from aedc.errors import PlacementError
from aedc.ir.graph import Graph, Population
from aedc.machine import Machine
from aedc.partition.memory import (
    CODE_RUNTIME,
    DEFAULT_ACTIVITY,
    FIXED_PE_BYTES,
    MAX_ROW,
    MAX_TARGET,
    Incoming,
    SliceCost,
    activity,
    choose_format,
    slice_cost,
    synapse_slice_cost,
)
from aedc.partition.model import ProjectionFormat, Slice, SliceEdge, Slicing
from aedc.partition.synstats import ProjectionStats


@dataclass(frozen=True)
class SliceOptions:
    """Options of :func:`slice_graph` (the ``slice`` pass exposes them)."""

    max_neurons: int = 256
    record_ticks: int = 100
    activity: float = DEFAULT_ACTIVITY
    formats: str = "auto"  # auto | rows | dense
    min_neurons: int = 16  # below this many neurons per PE, split the fan-in onto synapse PEs
    fanin_split: bool = True
    fanin_unit: int = 32  # presynaptic neurons per step of a synapse PE's range
    event: bool = False  # budget the event-driven runtime's per-neuron state (emit-c{event=true})


@dataclass
class _Plan:
    """Slicing of one population: neuron slice bounds, and per block its synapse slices."""

    bounds: np.ndarray  # neuron slice starts + end
    split: tuple[str, ...] = ()  # projections moved to synapse PEs
    # per neuron slice: list of (projection, pre_lo, pre_hi)
    synapse_groups: tuple[tuple[tuple[str, int, int], ...], ...] = ()


def _granules(pop: Population, cap: int) -> tuple[int, ...]:
    """Cut units, coarsest first: whole channels (if one fits ``cap``), whole rows, single neurons."""
    shape = pop.shape
    units = []
    if len(shape) >= 2:
        channel = int(np.prod(shape[1:]))
        if channel <= cap:
            units.append(channel)
        row = int(np.prod(shape[2:])) if len(shape) >= 3 else 1
        if 1 < row <= cap and row not in units:
            units.append(row)
    return (*units, 1)


class _Slicer:
    def __init__(self, graph: Graph, machine: Machine, opts: SliceOptions) -> None:
        self.graph = graph
        self.machine = machine
        self.opts = opts
        self.pops = graph.pop_map()
        self.outputs = set(graph.outputs.values())
        self.stats = {p.name: ProjectionStats(graph, p) for p in graph.projections}
        self.formats: dict[str, ProjectionFormat] = {
            p.name: choose_format(graph, p, self.stats[p.name], prefer=opts.formats)
            for p in graph.projections}
        self.budget = machine.dynamic_region_bytes - FIXED_PE_BYTES
        cap = min(opts.max_neurons, MAX_TARGET)
        self.bounds: dict[str, np.ndarray] = {
            p.name: np.append(np.arange(0, p.size, cap), p.size) for p in graph.populations}
        self.plans: dict[str, _Plan] = {}  # of the previous round (for destination counts)
        self._hulls: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.n_qpes = len(machine.qpes) * len(machine.chips)

    # ---- checks ---------------------------------------------------------------------------------------

    def fits(self, c: SliceCost, n: int) -> bool:
        return (c.memory.total <= self.budget and c.memory.code <= self.machine.itcm_bytes
                and c.events_per_tick <= self.machine.events_per_tick and c.max_row <= MAX_ROW
                and (not c.rows_format or n <= MAX_TARGET))

    def incoming(self, pop: Population) -> list[Incoming]:
        return [Incoming(p, self.stats[p.name], self.formats[p.name], self.bounds[p.pre],
                         activity(self.pops[p.pre], self.opts.activity),
                         self.pops[p.pre].carries_payload,
                         self.pops[p.pre].event_rule == "sigma_delta")
                for p in self.graph.incoming(pop.name)]

    def neuron_cost(self, pop: Population, lo: int, hi: int, sources: int = 0,
                    split: Sequence[str] = ()) -> SliceCost:
        return slice_cost(pop, lo, hi, self.incoming(pop), record_ticks=self.opts.record_ticks,
                          is_output=pop.name in self.outputs, partial_sum_sources=sources,
                          split_projections=split, destinations=self.destinations(pop, lo, hi),
                          event=self.opts.event)

    def hulls(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Per destination slice of projection ``name`` (post neuron slices, or its synapse PEs when
        the post population's fan-in is split): the presynaptic index range [min, max] it reads."""
        if name not in self._hulls:
            proj = self.graph.projection(name)
            st = self.stats[name]
            b = self.bounds[proj.post]
            plan = self.plans.get(proj.post)
            lo_l: list[int] = []
            hi_l: list[int] = []
            for j, (lo, hi) in enumerate(zip(b[:-1].tolist(), b[1:].tolist(), strict=True)):
                r = st.range(lo, hi)
                if plan is not None and name in plan.split and j < len(plan.synapse_groups):
                    for g, plo, phi in plan.synapse_groups[j]:
                        if g == name:
                            lo_l.append(max(plo, r.pre_min))
                            hi_l.append(min(phi - 1, r.pre_max))
                else:
                    lo_l.append(r.pre_min)
                    hi_l.append(r.pre_max)
            self._hulls[name] = (np.array(lo_l, np.int64), np.array(hi_l, np.int64))
        return self._hulls[name]

    def destinations(self, pop: Population, lo: int, hi: int) -> int:
        """Upper bound of the destination QPEs of slice ``pop[lo:hi]``: the destination slices whose
        presynaptic range it overlaps (several slices may share a QPE), at most the machine's QPEs."""
        total = 0
        for proj in self.graph.outgoing(pop.name):
            mins, maxs = self.hulls(proj.name)
            total += int(np.count_nonzero((mins < hi) & (maxs >= lo) & (mins <= maxs)))
        return min(max(total, 1), self.n_qpes)

    # ---- one population -------------------------------------------------------------------------------

    def _largest(self, lo: int, limit: int, units: tuple[int, ...], ok: Callable[[int, int], bool]) -> int:
        """Largest n ≤ limit with ok(lo, lo + n), trying multiples of the coarsest unit first; 0 if none."""
        if ok(lo, lo + limit):
            return limit
        for unit in units:
            best = 0
            a, b = 1, (limit - 1) // unit
            while a <= b:  # multiples of unit below limit
                m = (a + b) // 2
                if ok(lo, lo + m * unit):
                    best, a = m * unit, m + 1
                else:
                    b = m - 1
            if best:
                return best
        return 0

    def _cut(self, pop: Population, ok: Callable[[int, int], bool], cap: int,
             units: tuple[int, ...]) -> np.ndarray | None:
        """Greedy contiguous slices under ``ok``, then uniform if that still fits; None if stuck."""
        size = pop.size
        starts = [0]
        lo, prev = 0, min(cap, size)
        while lo < size:
            n = self._largest(lo, min(prev, size - lo), units, ok)
            if n == 0:
                return None
            lo += n
            prev = max(n, min(cap, size - lo)) if n >= prev else prev
            starts.append(lo)
        greedy = np.array(starts, np.int64)
        k = len(greedy) - 1
        if k > 1:
            n_u = -(-size // k)
            for unit in units:  # round up to the coarsest unit that keeps the slice count
                up = -(-n_u // unit) * unit
                if -(-size // up) <= k:
                    n_u = up
                    break
            uni = np.append(np.arange(0, size, n_u), size)
            if len(uni) - 1 <= k and all(ok(int(a), int(b)) for a, b in itertools.pairwise(uni)):
                return uni
        return greedy

    def plan(self, pop: Population) -> _Plan:
        opts = self.opts
        cap = min(opts.max_neurons, pop.size)

        def ok(lo: int, hi: int) -> bool:
            return self.fits(self.neuron_cost(pop, lo, hi), hi - lo)

        first = self._largest(0, cap, _granules(pop, cap), ok)
        if first >= min(opts.min_neurons, pop.size) or not opts.fanin_split:
            units = _granules(pop, cap)
            bounds = self._cut(pop, ok, cap, units)
            if bounds is not None and len(units) > 1:
                # cutting at any neuron may need fewer slices than whole channels / row bands: then
                # fewer PEs win over the smaller receptive input of aligned bands
                fine = self._cut(pop, ok, cap, (1,))
                if fine is not None and len(fine) < len(bounds):
                    bounds = fine
            if bounds is not None:
                return _Plan(bounds)
            if not opts.fanin_split:
                self._fail(pop)
        return self._fanin_plan(pop, cap)

    def _fanin_plan(self, pop: Population, cap: int) -> _Plan:
        incs = self.incoming(pop)
        split = tuple(i.proj.name for i in incs if i.proj.conn.kind not in ("one_to_one", "identity"))
        by_name = {i.proj.name: i for i in incs}
        block = cap
        while block >= 1:
            plan = self._try_fanin(pop, block, split, by_name)
            if plan is not None:
                return plan
            block //= 2
        self._fail(pop)
        raise AssertionError  # unreachable

    def _try_fanin(self, pop: Population, block: int, split: tuple[str, ...],
                   by_name: dict[str, Incoming]) -> _Plan | None:
        bounds = np.append(np.arange(0, pop.size, block), pop.size)
        groups: list[tuple[tuple[str, int, int], ...]] = []
        for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            mine: list[tuple[str, int, int]] = []
            for name in split:
                inc = by_name[name]
                # synapse PEs take presynaptic ranges in units of ``fanin_unit`` neurons (a range may
                # cover part of a key block: that PE then ignores the block's other keys)
                pb = np.append(np.arange(0, inc.stats.n_pre, self.opts.fanin_unit), inc.stats.n_pre)
                nblk = len(pb) - 1

                def ok(a: int, b: int, inc: Incoming = inc, pb: np.ndarray = pb,
                       lo: int = lo, hi: int = hi) -> bool:
                    c = synapse_slice_cost(inc, lo, hi, int(pb[a]), int(pb[b]))
                    return self.fits(c, hi - lo)

                i, prev = 0, 0
                while i < nblk:
                    if prev and i + prev < nblk and ok(i, i + prev) and not ok(i, i + prev + 1):
                        g = prev  # the previous group size is still the largest: skip the search
                    else:
                        g = self._largest(i, nblk - i, (1,), ok)
                    if g == 0:
                        return None
                    if inc.stats.range(lo, hi, int(pb[i]), int(pb[i + g])).synapses:
                        mine.append((name, int(pb[i]), int(pb[i + g])))
                    i, prev = i + g, g
            c = self.neuron_cost(pop, lo, hi, sources=len(mine), split=split)
            if not self.fits(c, hi - lo):
                return None
            groups.append(tuple(mine))
        return _Plan(bounds, split, tuple(groups))

    def _fail(self, pop: Population) -> None:
        c = self.neuron_cost(pop, 0, 1)
        raise PlacementError(
            f"population '{pop.name}': one neuron needs {c.memory.total + FIXED_PE_BYTES:,} B of DTCM "
            f"regions (incl. {FIXED_PE_BYTES:,} B per-PE fixed), {c.events_per_tick:,.0f} synaptic events/"
            f"tick, longest row {c.max_row}; a PE offers {self.machine.dynamic_region_bytes:,} B, "
            f"{self.machine.events_per_tick:,} events/tick, rows ≤ {MAX_ROW}; even split over synapse "
            f"PEs it does not fit: lower its fan-in or use a larger machine model",
            where=pop.name)

    # ---- whole graph ----------------------------------------------------------------------------------

    def check_machine_size(self) -> None:
        """Fail fast, before slicing anything, when the slices cannot possibly fit the machine.

        Lower bounds: a population needs ≥ ⌈size / max_neurons⌉ slices, each at least the kernel code
        of its first slice (a PE's ITCM holds the runtime once plus the kernels of its slices), and
        ≥ the per-neuron regions (state, ring buffer, input buffers) of its first full slice, scaled
        to its size (less the alignment slack of each slice).
        """
        cap_n = min(self.opts.max_neurons, MAX_TARGET)
        pes = self.machine.total_pes
        code_cap = pes * (self.machine.itcm_bytes - CODE_RUNTIME)
        byte_cap = pes * self.budget
        need_code = need_bytes = 0
        worst: tuple[int, str] = (0, "")
        for pop in self.graph.populations:
            n0 = min(cap_n, pop.size)
            c = slice_cost(pop, 0, n0, [], record_ticks=self.opts.record_ticks,
                           is_output=pop.name in self.outputs)
            n_slices = -(-pop.size // n0)
            code = n_slices * (c.memory.code - CODE_RUNTIME)
            per = c.memory.neuron_state + c.memory.ring_buffer + c.memory.input_buffers
            nbytes = (pop.size // n0) * max(per - 3 * self.machine.region_alignment, 0)
            need_code += code
            need_bytes += nbytes
            worst = max(worst, (max(code * 1000 // max(code_cap, 1), nbytes * 1000 // max(byte_cap, 1)),
                                pop.name))
        if need_code > code_cap or need_bytes > byte_cap:
            name = worst[1]
            pe_need = max(-(-need_code // (self.machine.itcm_bytes - CODE_RUNTIME)),
                          -(-need_bytes // self.budget))
            raise PlacementError(
                f"population '{name}' does not fit: the network needs at least {need_bytes:,} B of neuron "
                f"regions and {need_code:,} B of kernel code over ≥ {pe_need:,} PEs; the machine "
                f"'{self.machine.name}' has {pes:,} PEs ({byte_cap:,} B, {code_cap:,} B code): use a "
                f"machine with more chips or a smaller network", where=name)

    def run(self) -> Slicing:
        self.check_machine_size()
        plans: dict[str, _Plan] = {}
        for _ in range(4):
            plans = {p.name: self.plan(p) for p in self.graph.populations}
            new = {k: v.bounds for k, v in plans.items()}
            same = (all(np.array_equal(new[k], self.bounds[k]) for k in new)
                    and (bool(self.plans) or not any(v.split for v in plans.values()))
                    and all(plans[k].synapse_groups == self.plans[k].synapse_groups
                            for k in plans if k in self.plans))
            # destination counts and MPT blocks of the next round come from this round's slices
            self.bounds, self.plans, self._hulls = new, plans, {}
            if same:
                break
        return self._build(plans)

    def _build(self, plans: dict[str, _Plan]) -> Slicing:
        slices: list[Slice] = []
        index: dict[tuple[str, int], int] = {}  # (population, neuron slice number) → slice index
        syn_index: list[tuple[int, str, int, int, int]] = []  # (slice idx, proj, plo, phi, block)
        for pop in self.graph.populations:
            plan = plans[pop.name]
            b = plan.bounds
            incs = {i.proj.name: i for i in self.incoming(pop)}
            # each neuron slice is followed by its synapse PEs (graph order for the greedy packing:
            # a small neuron slice then shares a PE with the previous block's last synapse PE)
            for j, (lo, hi) in enumerate(zip(b[:-1].tolist(), b[1:].tolist(), strict=True)):
                groups = plan.synapse_groups[j] if plan.synapse_groups else ()
                c = self.neuron_cost(pop, lo, hi, sources=len(groups), split=plan.split)
                index[(pop.name, j)] = len(slices)
                slices.append(Slice(population=pop.name, lo=lo, hi=hi, memory=c.memory,
                                    events_per_tick=round(c.events_per_tick, 6)))
                for name, plo, phi in groups:
                    c = synapse_slice_cost(incs[name], lo, hi, plo, phi)
                    syn_index.append((len(slices), name, plo, phi, j))
                    slices.append(Slice(population=pop.name, lo=lo, hi=hi, role="synapse",
                                        projection=name, pre_lo=plo, pre_hi=phi, memory=c.memory,
                                        events_per_tick=round(c.events_per_tick, 6)))
        edges: list[SliceEdge] = []
        syn_by_proj: dict[str, list[tuple[int, int, int, int]]] = {}
        for si, name, plo, phi, j in syn_index:
            syn_by_proj.setdefault(name, []).append((si, plo, phi, j))
        for proj in self.graph.projections:
            pre_b = self.bounds[proj.pre]
            post_plan = plans[proj.post]
            rate = activity(self.pops[proj.pre], self.opts.activity)
            st = self.stats[proj.name]
            if proj.name in post_plan.split:
                for si, plo, phi, j in syn_by_proj.get(proj.name, ()):
                    s = slices[si]
                    inner = pre_b[(pre_b > plo) & (pre_b < phi)]
                    cuts = np.concatenate([[plo], inner, [phi]]).astype(np.int64)
                    counts = st.pre_rows_in(s.lo, s.hi, cuts)
                    for r in range(len(cuts) - 1):
                        k = int(np.searchsorted(pre_b, cuts[r], side="right")) - 1
                        if counts[1, r]:
                            edges.append(SliceEdge(src=index[(proj.pre, k)], dst=si, projection=proj.name,
                                                   synapses=int(counts[1, r]),
                                                   packets_per_tick=round(rate * float(counts[0, r]), 6)))
                    # partial sums: one graded event per post neuron per tick to the neuron slice
                    edges.append(SliceEdge(src=si, dst=index[(proj.post, j)], projection=proj.name,
                                           synapses=s.size, packets_per_tick=float(s.size)))
                continue
            pb = post_plan.bounds
            for j, (lo, hi) in enumerate(zip(pb[:-1].tolist(), pb[1:].tolist(), strict=True)):
                counts = st.pre_rows_in(lo, hi, pre_b)
                for k in np.flatnonzero(counts[1]).tolist():
                    edges.append(SliceEdge(src=index[(proj.pre, k)], dst=index[(proj.post, j)],
                                           projection=proj.name, synapses=int(counts[1, k]),
                                           packets_per_tick=round(rate * float(counts[0, k]), 6)))
        edges.sort(key=lambda e: (e.src, e.dst, e.projection))
        formats = tuple(self.formats[p.name] for p in self.graph.projections)
        return Slicing(slices=tuple(slices), edges=tuple(edges), formats=formats,
                       record_ticks=self.opts.record_ticks)


def slice_graph(graph: Graph, machine: Machine, options: SliceOptions | None = None) -> Slicing:
    """Split every population of ``graph`` into slices that fit one PE of ``machine``.

    Raises :class:`~aedc.errors.PlacementError` naming the population when even a fan-in-split slice
    of one neuron does not fit.
    """
    return _Slicer(graph, machine, options or SliceOptions()).run()
