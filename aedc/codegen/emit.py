"""Emit the per-PE C programs of a placed, routed graph (the ``emit-c`` pass calls :func:`emit_program`).

Output tree (every path relative to the build's ``c/`` directory, byte-identical for the same input):

``common/aedc_pe.h``, ``common/chip_runtime.c``
    the kernel ↔ runtime interface with the synapse-format helpers, and the SpiNNaker2 PE runtime
    (vector table, timer-tick loop, packet queue, NoC send).
``pe_<cx>_<cy>_<qx>_<qy>_<p>/kernel.c``, ``data.c``, ``layout.h``, ``link.ld``, ``Makefile``
    the event-driven kernel of the PE's slices, its data image (parameters, host-computed float32
    constants, synapse rows / dense blocks, master population table, routing info, destination QPE
    lists, event histories), the layout header (sizes of every region), the linker script (ITCM 32 KiB,
    DTCM 96 KiB with the stack at 0x1F000) and the per-PE cross-build.
``host/host_table.c``
    the host runtime's view of the program: every PE, the tick order of the slices, inputs and traces.
``Makefile``, ``manifest.json``
    builds every PE; PE → files, slices, key ranges, bytes per region.

Program of one PE tick ``t`` (chip and host alike):

1. ``begin_tick(t)`` clears slot ``t`` of every event history;
2. received packets are drained (the host runtime sorts them by key): the master population table maps
   the key to an event history, the event is stored there at ``key − base`` in slot ``t``;
3. ``slice_tick(k, t)`` per slice: the synaptic input starts at +0.0; incoming projections in graph
   order, presynaptic blocks in ascending order, events in ascending presynaptic index read the history
   slot of tick ``t − latency`` and add their row (ascending postsynaptic index) — the reference's
   summation order for *any* delays, because the delay buffer holds events rather than partial sums;
   sigma-delta projections sum into a persistent accumulator that is then added; ``x = input + bias``;
   the neuron update uses float32 constants computed on the host (never ``expf`` on the PE);
4. events leave as one packet per destination QPE with a PE mask (payload = float32 bits for graded
   and sigma-delta events).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources

import numpy as np

from aedc.codegen.model import Sources
from aedc.errors import CodegenError
from aedc.ir.discretise import neuron_constants
from aedc.ir.graph import Graph, Population, Projection
from aedc.ir.neurons import (
    CubaLIFModel,
    CubaLIModel,
    IFModel,
    InputModel,
    IntegratorModel,
    LIFModel,
    LIModel,
    LinearModel,
    ReLUModel,
    ThresholdModel,
)
from aedc.ir.topology import topo_order
from aedc.machine import Machine, PEAddress
from aedc.partition.model import Placement, ProjectionFormat, Slice
from aedc.routing.model import KeyBlock, Routes, RoutingTables

__all__ = ["KERNEL_MODELS", "emit_program", "pe_dirname"]

KERNEL_MODELS: tuple[str, ...] = ("input", "linear", "relu", "lif", "cuba_lif", "if", "li", "cuba_li",
                                  "integrator", "threshold")
"""Neuron models with a generated kernel."""

RUNTIME_FILES = ("aedc_pe.h", "chip_runtime.c")
F32 = np.float32


def pe_dirname(pe: PEAddress) -> str:
    return f"pe_{pe.chip[0]}_{pe.chip[1]}_{pe.qpe[0]}_{pe.qpe[1]}_{pe.pe}"


def c_float(x: float | np.floating) -> str:
    """An exact C literal of a float32 value (hex float; inf/nan spelled with builtins)."""
    v = float(F32(x))
    if np.isnan(v):
        return "__builtin_nanf(\"\")"
    if np.isinf(v):
        return "__builtin_inff()" if v > 0 else "(-__builtin_inff())"
    if v == 0.0:
        return "-0.0f" if np.signbit(v) else "0.0f"
    return v.hex() + "f"


def _array(ctype: str, name: str, values: np.ndarray | list[int] | list[float], section: str,
           comment: str, per_line: int = 8) -> tuple[str, int]:
    """A C array definition in ``section`` (image: const data) and its size in bytes."""
    flat = np.asarray(values).ravel()
    if ctype == "float":
        f32 = flat.astype(F32)
        if np.all(np.isfinite(f32)):
            items = [("-0.0f" if math.copysign(1.0, v) < 0 else "0.0f") if v == 0.0 else v.hex() + "f"
                     for v in f32.astype(np.float64).tolist()]
        else:
            items = [c_float(v) for v in f32]
    else:
        items = [str(v) for v in flat.astype(np.int64).tolist()]
    if not items:
        items, count = ["0"], 1
    else:
        count = len(items)
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    body = ",\n    ".join(lines)
    const = ""
    size = {"float": 4, "uint32_t": 4, "int32_t": 4, "uint16_t": 2, "int8_t": 1, "uint8_t": 1}[ctype]
    text = f"/* {comment} */\nstatic {const}{ctype} {name}[{count}] {section} = {{\n    {body}\n}};\n"
    return text, count * size


def _state(ctype: str, name: str, dims: tuple[int, ...], comment: str) -> tuple[str, int]:
    size = {"float": 4, "uint32_t": 4, "uint8_t": 1}[ctype]
    n = int(np.prod(dims))
    shape = "".join(f"[{d}]" for d in dims)
    return f"/* {comment} */\nstatic {ctype} {name}{shape} AEDC_STATE;\n", n * size


def _align(n: int) -> int:
    return -(-n // 16) * 16


# ---- the synapses of one (projection, presynaptic slice) → neuron slice ---------------------------------

@dataclass
class _Port:
    """Events of presynaptic slice ``src`` through projection ``proj`` onto the neurons of one slice."""

    proj: Projection
    src: int  # presynaptic slice index
    hist: int  # event history index on this PE
    row_lo: int  # first presynaptic row (local to the source block) with synapses
    row_hi: int
    code: str  # C statement applying row `r` (local to row_lo) with payload `p` to `acc`
    sigma_delta: bool
    latency: int


@dataclass
class _History:
    src: int
    block: KeyBlock
    n: int
    binary: bool
    depth: int  # slots, a power of two; 1: no history (only latency-0 ports, read from the queue)
    rxq: bool = False  # a latency-0 port reads this block's packets from the received-packet queue


class _PEEmitter:
    """Builds the sources of one PE."""

    def __init__(self, prog: _Program, pe: PEAddress, slices: tuple[int, ...]) -> None:
        self.prog, self.pe, self.slices = prog, pe, slices
        self.image: list[str] = []
        self.state: list[str] = []
        self.sizes: dict[str, int] = {}
        self.hists: list[_History] = []
        self.hist_of: dict[int, int] = {}
        self.sd_accs: list[str] = []
        self.tables_done: set[str] = set()
        self.tables: dict[str, np.ndarray] = {}
        self.ports_of_slice: list[_Port] = []
        self.slice_info: list[tuple[int, int, int, bool]] = []
        self.state_names: list[list[str]] = []
        self.cur_idx = -1

    def add(self, term: str, text_size: tuple[str, int], *, state: bool = False) -> None:
        text, size = text_size
        (self.state if state else self.image).append(text)
        self.sizes[term] = self.sizes.get(term, 0) + _align(size)

    # ---- histories ---------------------------------------------------------------------------------------

    def history(self, src: int, latency: int) -> int:
        p = self.prog
        if src not in self.hist_of:
            s = p.slices[src]
            pop = p.pops[s.population]
            self.hist_of[src] = len(self.hists)
            binary = s.role == "neuron" and not pop.carries_payload
            self.hists.append(_History(src, p.block_of[src], s.size, binary, 1))
        h = self.hists[self.hist_of[src]]
        if latency == 0:
            h.rxq = True
        else:
            h.depth = max(h.depth, 1 << latency.bit_length())  # next power of two ≥ latency + 1
        return self.hist_of[src]

    # ---- synapses ----------------------------------------------------------------------------------------

    def weight_table(self, proj: Projection) -> np.ndarray:
        """Distinct weights of ``proj`` used on this PE (all its slices), sorted: the rows' weight table."""
        if proj.name not in self.tables:
            p = self.prog
            parts = [np.zeros(0, F32)]
            for idx in self.slices:
                s = p.slices[idx]
                if s.population != proj.post or (s.role == "synapse" and s.projection != proj.name):
                    continue
                pre, _post, w = p.onto(proj, s.lo, s.hi)
                if s.role == "synapse":
                    w = w[(pre >= (s.pre_lo or 0)) & (pre < (s.pre_hi or 0))]
                parts.append(w)
            self.tables[proj.name] = np.unique(np.concatenate(parts))
        return self.tables[proj.name]

    def use_table(self, proj: Projection) -> None:
        if proj.name in self.tables_done:
            return
        self.tables_done.add(proj.name)
        table = self.weight_table(proj)
        text, size = _array("float", self.prog.table_name(proj), table, "AEDC_IMAGE",
                            f"weight table of projection {proj.name} on this PE ({table.size} distinct "
                            f"weights)", 4)
        self.image.insert(0, text)
        self.sizes["weight_tables"] = self.sizes.get("weight_tables", 0) + _align(size)

    def port(self, k: int, s: Slice, proj: Projection, src: int, pre: np.ndarray, post: np.ndarray,
             w: np.ndarray) -> _Port:
        p = self.prog
        fmt = p.formats[proj.name]
        ps = p.slices[src]
        local_pre = pre - ps.lo
        local_post = post - s.lo
        row_lo, row_hi = int(local_pre.min()), int(local_pre.max()) + 1
        tag = f"s{k}_p{len(self.ports_of_slice)}"
        what = f"{proj.name}: {ps.label} → {s.label}"
        if fmt.format == "rows":
            # one 12 B header per presynaptic row *with synapses*: length, first word, presynaptic index
            with_rows, counts = np.unique(local_pre, return_counts=True)
            rows = int(with_rows.size)
            first = np.concatenate([[0], np.cumsum(counts)[:-1]])
            hdr_lines = ",\n    ".join(f"{{{c}, 0, {o}, {i}}}" for c, o, i in zip(
                counts.tolist(), first.tolist(), with_rows.tolist(), strict=True))
            self.image.append(f"/* row headers of {what}: words, flags, first word, presynaptic index */\n"
                              f"static aedc_row_header_t {tag}_hdr[{rows}] AEDC_IMAGE = {{\n"
                              f"    {hdr_lines}\n}};\n")
            # each array is 16-byte aligned (AEDC_IMAGE): the headers' padding counts too
            self.sizes["synapse_rows"] = self.sizes.get("synapse_rows", 0) + _align(12 * rows)
            find = f"int32_t r = aedc_find_row({tag}_hdr, {rows}u, i); if (r >= 0) "
            table = self.weight_table(proj)
            idx = np.searchsorted(table, w.astype(F32))
            if fmt.weight_type == "lut4":
                if table.size > 16 or s.size > 256:
                    raise CodegenError(f"projection '{proj.name}': 4-bit rows need ≤ 16 weights and ≤ 256 "
                                       f"targets (has {table.size}, slice {s.label} has {s.size})",
                                       where=proj.name)
                words = (idx.astype(np.int64) << 12) | local_post
                text, size = _array("uint16_t", f"{tag}_words", words, "AEDC_IMAGE",
                                    f"16-bit synapse words of {what}: weight index << 12 | target", 12)
                self.image.append(text)
                self.sizes["synapse_rows"] += size
                code = find + (f"aedc_rows_lut4({tag}_hdr, {tag}_words, {p.table_name(proj)}, "
                               "(uint32_t)r, p, acc)")
            else:
                if table.size > 65536 or s.size > 65536:
                    raise CodegenError(f"projection '{proj.name}': wide rows need ≤ 65,536 distinct "
                                       f"weights (has {table.size})", where=proj.name)
                words = (idx.astype(np.int64) << 16) | local_post
                text, size = _array("uint32_t", f"{tag}_words", words, "AEDC_IMAGE",
                                    f"32-bit synapse words of {what}: weight index << 16 | target", 8)
                self.image.append(text)
                self.sizes["synapse_rows"] += size
                code = find + (f"aedc_rows_wide({tag}_hdr, {tag}_words, {p.table_name(proj)}, "
                               "(uint32_t)r, p, acc)")
            self.sizes["synapse_rows"] = _align(self.sizes["synapse_rows"])
            self.use_table(proj)
        else:
            m = np.zeros((row_hi - row_lo, s.size), F32)
            m[local_pre - row_lo, local_post] = w
            wt = fmt.weight_type
            if wt == "int8":
                scale = F32(np.abs(m).max() / 127) if m.size else F32(0)
                s2 = F32(2.0 ** np.ceil(np.log2(float(scale)))) if scale > 0 else F32(1)
                q = np.round(m / s2)
                if not np.array_equal((q * s2).astype(F32), m):
                    raise CodegenError(f"projection '{proj.name}': int8 block is not exact",
                                       where=proj.name)
                text, size = _array("int8_t", f"{tag}_w", q.astype(np.int64), "AEDC_IMAGE",
                                    f"int8 dense block of {what} (× {c_float(s2)}), "
                                    f"rows {row_lo}..{row_hi - 1} × {s.size}", 16)
                code = f"aedc_dense_int8({tag}_w, {c_float(s2)}, {s.size}u, i - {row_lo}u, p, acc)"
                size += 4
            elif wt == "fp16":
                bits = m.astype(np.float16).view(np.uint16)
                text, size = _array("uint16_t", f"{tag}_w", bits, "AEDC_IMAGE",
                                    f"fp16 dense block of {what}, rows {row_lo}..{row_hi - 1} × {s.size}",
                                    12)
                code = f"aedc_dense_fp16({tag}_w, {s.size}u, i - {row_lo}u, p, acc)"
            else:
                text, size = _array("float", f"{tag}_w", m, "AEDC_IMAGE",
                                    f"float32 dense block of {what}, rows {row_lo}..{row_hi - 1} × "
                                    f"{s.size}", 4)
                code = f"aedc_dense_f32({tag}_w, {s.size}u, i - {row_lo}u, p, acc)"
            self.image.append(text)
            self.sizes["dense_blocks"] = _align(self.sizes.get("dense_blocks", 0) + size)
        hist = self.history(src, proj.latency)
        sd = p.pops[proj.pre].event_rule == "sigma_delta"
        port = _Port(proj, src, hist, row_lo, row_hi, code, sd, proj.latency)
        self.ports_of_slice.append(port)
        return port

    # ---- per slice ---------------------------------------------------------------------------------------

    def slice_code(self, k: int, idx: int) -> str:
        p = self.prog
        s = p.slices[idx]
        pop = p.pops[s.population]
        m = pop.neuron
        n = s.size
        what = ("synapse PE: partial sums" if s.role == "synapse"
                else f"model {m.model}, {pop.event_rule} events")
        out: list[str] = [f"/* ==== slice {k}: {s.label}, {what} ==== */"]
        block = p.block_of[idx]
        targets = p.targets_of(idx)
        payload = int(pop.carries_payload or s.role == "synapse")
        self.add("routing_info", (
            f"/* routing info of slice {k}: key base, mask, neurons, payload */\n"
            f"static aedc_routing_info_t s{k}_rinfo AEDC_IMAGE = "
            f"{{0x{block.base:08x}u, 0x{block.mask:08x}u, {n}u, {payload}u}};\n",
            16))
        tlist = [f"AEDC_TARGET({t.chip[0]}, {t.chip[1]}, {t.qpe[0]}, {t.qpe[1]}, {mask})"
                 for t, mask in targets]
        self.image.append(f"/* destination QPEs of slice {k} (one packet each, with a PE mask) */\n"
                          f"static uint32_t s{k}_targets[{max(len(tlist), 1)}] AEDC_IMAGE = "
                          f"{{{', '.join(tlist) or '0'}}};\n#define S{k}_N_TARGETS {len(tlist)}u\n")
        self.sizes["targets"] = self.sizes.get("targets", 0) + _align(4 * max(len(tlist), 1))
        binary = not pop.carries_payload
        words = -(-n // 32)
        host_trace = (f"#ifdef AEDC_HOST\nstatic float s{k}_val[{n}], s{k}_pay[{n}];\n"
                      f"#define S{k}_TRACE(i, v, e) (s{k}_val[i] = (v), s{k}_pay[i] = (e))\n"
                      f"#else\n#define S{k}_TRACE(i, v, e) ((void)0)\n#endif\n")
        out.append(host_trace)
        rec = ""
        if pop.name in p.outputs and p.record_ticks and s.role == "neuron":
            if m.SPIKING or binary:
                self.add("recording", _state("uint32_t", f"s{k}_rec", (p.record_ticks, words),
                                             f"recording of slice {k}: spike bitmap per tick"), state=True)
                rec = (f"    uint32_t *rec = s{k}_rec[t % {p.record_ticks}u];\n"
                       f"    for (uint32_t w = 0; w < {words}u; w++) rec[w] = 0;\n")
            else:
                self.add("recording", _state("float", f"s{k}_rec", (p.record_ticks, n),
                                             f"recording of slice {k}: value per tick"), state=True)
                rec = f"    float *rec = s{k}_rec[t % {p.record_ticks}u];\n"
        record = ""
        if rec:
            record = ("rec[i >> 5] |= 1u << (i & 31u);" if (m.SPIKING or binary) else "rec[i] = value;")
        emit = self._emit_code(k, pop, record)
        if isinstance(m, InputModel):
            if binary:
                self.add("input_buffers", _state("uint32_t", f"s{k}_in", (2, words),
                                                 f"input of slice {k}: double-buffered spike bitmap"),
                         state=True)
                read = f"float value = (s{k}_in[t & 1u][i >> 5] >> (i & 31u)) & 1u ? 1.0f : 0.0f;"
                setter = (f"    for (uint32_t w = 0; w < {words}u; w++) s{k}_in[t & 1u][w] = 0;\n"
                          f"    for (uint32_t i = 0; i < {n}u; i++)\n"
                          f"        if (values[i] != 0.0f) s{k}_in[t & 1u][i >> 5] |= 1u << (i & 31u);\n")
            else:
                self.add("input_buffers", _state("float", f"s{k}_in", (2, n),
                                                 f"input of slice {k}: double-buffered values"), state=True)
                read = f"float value = s{k}_in[t & 1u][i];"
                setter = f"    for (uint32_t i = 0; i < {n}u; i++) s{k}_in[t & 1u][i] = values[i];\n"
            out.append(f"static void s{k}_set_input(uint32_t t, const float *values) {{\n{setter}}}\n")
            out.append(f"static void s{k}_tick(uint32_t t) {{\n{rec}"
                       f"    for (uint32_t i = 0; i < {n}u; i++) {{\n        {read}\n"
                       f"        float payload = value;\n{emit}    }}\n}}\n")
            self.slice_info.append((k, n, 0, True))
            return "\n".join(out)
        # ---- synaptic input ----
        self.add("ring_buffer", _state("float", f"s{k}_acc", (n,),
                                       f"synaptic input of slice {k} this tick"), state=True)
        self.ports_of_slice = []
        synapse_role = s.role == "synapse"
        for proj in p.graph.incoming(pop.name):
            if synapse_role and proj.name != s.projection:
                continue
            split = () if synapse_role else p.synapse_slices_for(proj.name, s)
            if split:
                # fan-in split: partial sums of the synapse PEs arrive as graded events, weight 1
                for src in split:
                    ss = p.slices[src]
                    hist = self.history(src, 0)
                    self.ports_of_slice.append(_Port(
                        proj, src, hist, 0, ss.size, f"acc[{ss.lo - s.lo}u + i] += p", False, 0))
                continue
            pre, post, w = p.onto(proj, s.lo, s.hi)  # sorted by (pre, post)
            if synapse_role:
                assert s.pre_lo is not None
                assert s.pre_hi is not None
                keep = (pre >= s.pre_lo) & (pre < s.pre_hi)
                pre, post, w = pre[keep], post[keep], w[keep]
            for src in p.neuron_slices[proj.pre]:
                ps = p.slices[src]
                a, b = np.searchsorted(pre, [ps.lo, ps.hi])
                if b > a:
                    self.port(k, s, proj, src, pre[a:b], post[a:b], w[a:b])
        body = [f"    float *acc = s{k}_acc;", f"    for (uint32_t i = 0; i < {n}u; i++) acc[i] = 0.0f;"]
        by_proj: dict[str, list[_Port]] = {}
        for port in self.ports_of_slice:
            by_proj.setdefault(port.proj.name, []).append(port)
        for proj in p.graph.incoming(pop.name):
            ports = by_proj.get(proj.name, [])
            if not ports:
                continue
            sd = ports[0].sigma_delta
            body.append(f"    /* projection {proj.name} ({proj.pre} → {proj.post}, "
                        f"latency {ports[0].latency}) */")
            if sd:
                name = f"s{k}_sd{len(self.sd_accs)}"
                self.sd_accs.append(name)
                self.add("neuron_state", _state("float", name, (n,),
                                                f"sigma-delta accumulator of {proj.name} on slice {k}"),
                         state=True)
                body.append(f"    {{\n    float *acc = {name};")
            latency = ports[0].latency
            # a back edge's extra tick is the sync schedule's; asynchronously every event already
            # arrives in a later tick, so the runtime's aedc_async_mode (1 on chip) takes it away
            lat = f"({latency}u - aedc_async_mode)" if proj.back_edge else f"{latency}u"
            if latency:
                body.append(f"    if (t >= {lat}) {{")
            else:
                body.append("    {")
            for port in ports:
                h = self.hists[port.hist]
                body.append(f"        {{ /* from {p.slices[port.src].label} */")
                if latency == 0:
                    base = h.block.base
                    pay = "1.0f" if h.binary else "aedc_u2f(rxq[q][1])"
                    body.append(
                        f"        /* this tick's packets, sorted by key: ascending presynaptic index */\n"
                        f"        for (uint32_t q = aedc_rxq_first(rxq, rxq_n, "
                        f"0x{base + port.row_lo:08x}u);\n"
                        f"             q < rxq_n && rxq[q][0] < 0x{base + port.row_hi:08x}u; q++) {{\n"
                        f"            uint32_t i = rxq[q][0] - 0x{base:08x}u;\n"
                        f"            float p = {pay};\n"
                        f"            {port.code};\n"
                        f"        }}\n        }}")
                elif h.binary:
                    slot = f"(t - {lat}) & H{port.hist}_MASK"
                    body.append(
                        f"        const uint8_t *cnt = h{port.hist}_cnt[{slot}];\n"
                        f"        for (uint32_t i = {port.row_lo}u; i < {port.row_hi}u; i++) {{\n"
                        f"            float p = 1.0f;\n"
                        f"            for (uint32_t c = 0; c < cnt[i]; c++) {{ {port.code}; }}\n"
                        f"        }}\n        }}")
                else:
                    slot = f"(t - {lat}) & H{port.hist}_MASK"
                    body.append(
                        f"        const float *pay = h{port.hist}_pay[{slot}];\n"
                        f"        for (uint32_t i = {port.row_lo}u; i < {port.row_hi}u; i++) {{\n"
                        f"            float p = pay[i];\n"
                        f"            if (p == 0.0f) continue;\n"
                        f"            {port.code};\n"
                        f"        }}\n        }}")
            body.append("    }")
            if sd:
                body.append(f"    }}\n    for (uint32_t i = 0; i < {n}u; i++) acc[i] += {name}[i];")
        if synapse_role:
            return "\n".join(out) + "\n" + self._synapse(k, s, n, body)
        out.append(self._params(k, idx, pop))
        out.append(self._neuron(k, pop, n, body, rec, emit))
        return "\n".join(out)

    def _synapse(self, k: int, s: Slice, n: int, body: list[str]) -> str:
        """Tick of a synapse PE: sum this tick's events of its share of the projection and send every
        non-zero partial sum as a graded event to the neuron slice."""
        self.slice_info.append((k, 0, 0, False))
        self.state_names.append([])
        base = self.prog.block_of[self.cur_idx].base
        return (f"static void s{k}_tick(uint32_t t) {{\n" + "\n".join(body) + "\n"
                f"    for (uint32_t i = 0; i < {n}u; i++) {{\n"
                f"        float payload = acc[i];\n"
                f"        if (payload != 0.0f)\n"
                f"            for (uint32_t d = 0; d < S{k}_N_TARGETS; d++)\n"
                f"                aedc_send(0x{base:08x}u + i, aedc_f2u(payload), 1u, s{k}_targets[d]);\n"
                f"    }}\n}}\n")

    def _params(self, k: int, idx: int, pop: Population) -> str:
        p = self.prog
        s = p.slices[idx]
        consts = {kk: np.asarray(v, F32).ravel() for kk, v in neuron_constants(pop.neuron, p.sem).items()}
        m = pop.neuron
        for extra in ("v_threshold", "v_reset", "threshold", "bias"):
            if hasattr(m, extra):
                consts[extra] = np.asarray(getattr(m, extra), F32).ravel()
        lines = [f"/* parameters of slice {k} (host-computed float32 constants; scalar when uniform) */"]
        size = 0
        for name in sorted(consts, key=_PARAM_ORDER.index):
            arr = consts[name]
            part = arr[s.lo:s.hi] if arr.size >= s.hi else np.broadcast_to(arr, (s.size,))
            if part.size and np.all(part.view(np.uint32) == part.view(np.uint32)[0]):
                lines.append(f"#define S{k}_{name.upper()}(i) ({c_float(part[0])})")
                size += 4
            else:
                text, nbytes = _array("float", f"s{k}_{name}", part, "AEDC_IMAGE",
                                      f"{name} of {s.label}", 6)
                lines.append(text + f"#define S{k}_{name.upper()}(i) (s{k}_{name}[i])")
                size += nbytes
        self.sizes["neuron_params"] = self.sizes.get("neuron_params", 0) + _align(size)
        return "\n".join(lines) + "\n"

    def _emit_code(self, k: int, pop: Population, record: str) -> str:
        """C statements emitting the event of neuron ``i`` with ``value`` / ``payload`` in scope."""
        rec = f"            {record}\n" if record else ""
        if not pop.carries_payload:
            cond, has, bits = "payload != 0.0f", "0u", "0u"
        else:
            cond, has, bits = "payload != 0.0f", "1u", "aedc_f2u(payload)"
        return (f"        S{k}_TRACE(i, value, payload);\n"
                f"        if ({cond}) {{\n"
                f"            uint32_t key = 0x{self.prog.block_of[self.cur_idx].base:08x}u + i;\n"
                f"{rec}"
                f"            for (uint32_t d = 0; d < S{k}_N_TARGETS; d++)\n"
                f"                aedc_send(key, {bits}, {has}, s{k}_targets[d]);\n"
                f"        }}\n")

    def _neuron(self, k: int, pop: Population, n: int, body: list[str], rec: str, emit: str) -> str:
        p = self.prog
        sem = p.sem
        m = pop.neuron
        state_vars = list(type(m).STATE)
        for var in state_vars:
            self.add("neuron_state", _state("float", f"s{k}_{var}", (n,), f"state {var} of slice {k}"),
                     state=True)
        cmp = ">" if sem.threshold_cmp == ">" else ">="
        P = f"S{k}_"
        lines = ["        float x = acc[i] + " + P + "BIAS(i);"]
        spiking = isinstance(m, LIFModel | CubaLIFModel | IFModel)

        def reset(cond: str) -> str:
            if sem.reset == "subtract":
                return f"        if ({cond}) v = v - {P}V_THRESHOLD(i);"
            return f"        if ({cond}) v = {P}V_RESET(i);"

        if isinstance(m, LIFModel | LIModel | CubaLIFModel | CubaLIModel):
            if isinstance(m, CubaLIFModel | CubaLIModel):
                lines += [f"        float i_old = s{k}_i_syn[i];",
                          f"        float i_new = {P}SYN_DECAY(i) * i_old + {P}SYN_GAIN(i) * x;",
                          f"        s{k}_i_syn[i] = i_new;",
                          f"        float drive = {'i_new' if sem.current_first else 'i_old'};"]
            else:
                lines.append("        float drive = x;")
            lines.append(f"        float v = ({P}DECAY(i) * s{k}_v[i] + {P}GAIN(i) * drive) + {P}LEAK(i);")
        elif isinstance(m, IFModel | IntegratorModel):
            lines.append(f"        float v = s{k}_v[i] + {P}GAIN(i) * x;")
        if spiking:
            if sem.reset_next_tick:
                self.add("neuron_state", _state("uint8_t", f"s{k}_zprev", (n,),
                                                f"spiked last tick (reset applied one tick late), slice {k}"),
                         state=True)
                lines.append(reset(f"s{k}_zprev[i]"))
            lines.append(f"        int z = v {cmp} {P}V_THRESHOLD(i);")
            if sem.reset_next_tick:
                lines.append(f"        s{k}_zprev[i] = (uint8_t)z;")
            else:
                lines.append(reset("z"))
            lines += [f"        s{k}_v[i] = v;", "        float value = z ? 1.0f : 0.0f;"]
        elif isinstance(m, LIModel | CubaLIModel | IntegratorModel):
            lines += [f"        s{k}_v[i] = v;", "        float value = v;"]
        elif isinstance(m, ThresholdModel):
            lines.append(f"        float value = (x {cmp} {P}THRESHOLD(i)) ? 1.0f : 0.0f;")
        elif isinstance(m, ReLUModel):
            lines.append("        float value = (x >= 0.0f || x != x) ? x : 0.0f; /* numpy maximum */")
        elif isinstance(m, LinearModel):
            lines.append("        float value = x;")
        else:  # pragma: no cover - guarded by the model check in emit_program
            raise CodegenError(f"population '{pop.name}': no kernel for neuron model '{m.model}'",
                               where=pop.name)
        if pop.event_rule == "sigma_delta":
            self.add("neuron_state", _state("float", f"s{k}_sent", (n,),
                                            f"last sent value (sigma-delta), slice {k}"), state=True)
            lines += [f"        float change = value - s{k}_sent[i];",
                      f"        float payload = (__builtin_fabsf(change) > {c_float(pop.event_threshold)})"
                      f" ? change : 0.0f;",
                      f"        s{k}_sent[i] = s{k}_sent[i] + payload;",
                      f"        value = s{k}_sent[i];"]
        else:
            lines.append("        float payload = value;")
        self.slice_info.append((k, n, len(state_vars), False))
        self.state_names.append([f"s{k}_{v}" for v in state_vars])
        return (f"static void s{k}_tick(uint32_t t) {{\n" + "\n".join(body) + "\n" + rec
                + f"    for (uint32_t i = 0; i < {n}u; i++) {{\n" + "\n".join(lines) + "\n" + emit
                + "    }\n}\n")

    # ---- the whole PE ------------------------------------------------------------------------------------

    def build(self) -> dict[str, str]:
        p = self.prog
        slice_code = []
        for k, idx in enumerate(self.slices):
            self.cur_idx = idx
            before = len(self.state_names)
            slice_code.append(self.slice_code(k, idx))
            if len(self.state_names) == before:
                self.state_names.append([])
        # event histories and the master population table
        mpt = []
        hist_decl = []
        recv_cases = []
        begin = []
        for h_i, h in enumerate(self.hists):
            src = p.slices[h.src]
            store = "rxq_insert(key, payload); " if h.rxq else ""
            if h.depth == 1:
                pass
            elif h.binary:
                # spike counts, not a bitmap: in an asynchronous schedule a slow receiver's tick can
                # take two source ticks' spikes of one neuron, and each must add its weight
                text, size = _state("uint8_t", f"h{h_i}_cnt", (h.depth, h.n),
                                    f"event history of {src.label}: spikes per neuron per tick slot")
                store += f"h{h_i}_cnt[now & {h.depth - 1}u][i]++; "
                begin.append(f"    for (uint32_t j = 0; j < {h.n}u; j++) "
                             f"h{h_i}_cnt[t & {h.depth - 1}u][j] = 0;")
            else:
                text, size = _state("float", f"h{h_i}_pay", (h.depth, h.n),
                                    f"event history of {src.label}: payload per tick slot (0 = none)")
                store += f"h{h_i}_pay[now & {h.depth - 1}u][i] = aedc_u2f(payload); "
                begin.append(f"    for (uint32_t j = 0; j < {h.n}u; j++) h{h_i}_pay[t & {h.depth - 1}u][j] "
                             f"= 0.0f;")
            if h.depth > 1:
                hist_decl.append(text + f"#define H{h_i}_MASK {h.depth - 1}u /* {h.depth} slots */\n")
                self.sizes["event_history"] = self.sizes.get("event_history", 0) + _align(size)
            recv_cases.append(f"        case {h_i}u: {store}break; /* {src.label} */")
            mpt.append(f"    {{0x{h.block.base:08x}u, 0x{h.block.mask:08x}u, {h_i}u}}, /* {src.label} */")
        n_mpt = len(mpt)
        self.sizes["master_pop_table"] = _align(12 * n_mpt)
        self.sizes["fixed"] = FIXED_STATE_BYTES
        mpt_text = (f"/* master population table: one entry per incoming key block */\n"
                    f"static aedc_mpt_entry_t mpt[{max(n_mpt, 1)}] AEDC_IMAGE = {{\n"
                    + ("\n".join(mpt) if mpt else "    {0u, 0u, 0u}") + "\n};\n"
                    f"#define N_MPT {n_mpt}u\n")
        k_n = len(self.slices)
        ticks = "\n".join(f"    case {k}u: s{k}_tick(t); break;" for k in range(k_n))
        inputs = "\n".join(f"    case {k}u: s{k}_set_input(t, values); break;"
                           for k, _, _, is_in in self.slice_info if is_in)
        traces = []
        for k, _n, _nst, _ in sorted(self.slice_info):
            traces.append(f"    case {k}u:\n        if (what == 0u) return s{k}_val;\n"
                          f"        if (what == 1u) return s{k}_pay;")
            for j, name in enumerate(self.state_names[k]):
                traces.append(f"        if (what == {j + 2}u) return {name};")
            traces.append("        break;")
        label = str(self.pe)
        header = (f"/* PE {label}: generated by aedc — do not edit.\n"
                  + "".join(f" * slice {k}: {p.slices[i].label}\n" for k, i in enumerate(self.slices))
                  + " */\n")
        data_c = (header + "/* data image and state of this PE (included by kernel.c) */\n"
                  + "\n".join(self.image) + "\n" + mpt_text + "\n" + "\n".join(self.state) + "\n"
                  + "\n".join(hist_decl))
        kernel = (header + "#include \"aedc_pe.h\"\n#include \"layout.h\"\n#include \"data.c\"\n\n"
                  "static uint32_t now;\n\n"
                  "/* received-packet queue of this tick (key, payload), kept sorted by key: the memory\n"
                  " * model's fixed packet queue (256 × 8 B; the host build makes it larger) + counters */\n"
                  "#ifndef AEDC_RXQ_LEN\n#define AEDC_RXQ_LEN 256u\n#endif\n"
                  "/* kept even where unused (a PE that receives nothing): the fixed per-PE regions */\n"
                  "static uint32_t rxq[AEDC_RXQ_LEN][2] AEDC_STATE __attribute__((used));\n"
                  "static uint32_t rxq_n;\n"
                  "static uint32_t counters[16] AEDC_STATE __attribute__((used)); /* 0: dropped */\n\n"
                  "static void rxq_insert(uint32_t key, uint32_t payload) {\n"
                  "    if (rxq_n == AEDC_RXQ_LEN) { counters[0]++; return; }\n"
                  "    uint32_t j = rxq_n++;\n"
                  "    while (j > 0 && rxq[j - 1][0] > key) { rxq[j][0] = rxq[j - 1][0]; "
                  "rxq[j][1] = rxq[j - 1][1]; j--; }\n"
                  "    rxq[j][0] = key;\n    rxq[j][1] = payload;\n}\n\n"
                  "/* start of tick t: clear the history slot this tick's events go to */\n"
                  "static void begin_tick(uint32_t t) {\n    now = t;\n    rxq_n = 0;\n" + "\n".join(begin)
                  + ("\n" if begin else "") + "}\n\n"
                  "/* one received packet: master population table lookup, store in the event history */\n"
                  "static void receive(uint32_t key, uint32_t payload) {\n"
                  "    (void)payload;\n"
                  "    for (uint32_t e = 0; e < N_MPT; e++) {\n"
                  "        if ((key & mpt[e].mask) != mpt[e].key) continue;\n"
                  "        uint32_t i = key - mpt[e].key;\n        (void)i;\n"
                  "        switch (e) {\n" + "\n".join(recv_cases)
                  + ("\n" if recv_cases else "") + "        default: break;\n        }\n"
                  "        return;\n    }\n}\n\n" + "\n".join(slice_code) + "\n"
                  "static void slice_tick(uint32_t k, uint32_t t) {\n    switch (k) {\n" + ticks
                  + "\n    default: break;\n    }\n}\n\n"
                  "static void set_input(uint32_t k, uint32_t t, const float *values) {\n"
                  "    (void)t; (void)values;\n    switch (k) {\n" + inputs
                  + ("\n" if inputs else "") + "    default: break;\n    }\n}\n\n"
                  "#ifdef AEDC_HOST\nstatic const float *trace(uint32_t k, uint32_t what) {\n"
                  "    switch (k) {\n" + "\n".join(traces) + "\n    default: break;\n    }\n"
                  "    return 0;\n}\n#else\n#define trace 0\n#endif\n\n"
                  "#ifndef AEDC_PE_SYMBOL\n#define AEDC_PE_SYMBOL aedc_pe\n#endif\n"
                  f"const aedc_pe_t AEDC_PE_SYMBOL = {{{k_n}u, AEDC_TICK_US, begin_tick, receive, "
                  "slice_tick, set_input, trace};\n")
        layout = (header + "#ifndef AEDC_LAYOUT_H\n#define AEDC_LAYOUT_H\n"
                  "/* bytes of every DTCM region of this PE's data image and state, 16-byte aligned */\n"
                  + "".join(f"#define AEDC_BYTES_{t.upper()} {b}u\n" for t, b in sorted(self.sizes.items()))
                  + f"#define AEDC_N_SLICES {k_n}u\n#define AEDC_N_MPT {n_mpt}u\n"
                  f"#define AEDC_TICK_US {p.tick_us}u /* timer tick period */\n#endif\n")
        return {"kernel.c": kernel, "data.c": data_c, "layout.h": layout, "link.ld": LINKER_SCRIPT,
                "Makefile": PE_MAKEFILE}


FIXED_STATE_BYTES = 256 * 8 + 64  # chip runtime: packet queue of 256 packets + counters (memory model)

_PARAM_ORDER = ["syn_decay", "syn_gain", "decay", "gain", "leak", "v_threshold", "v_reset", "threshold",
                "bias"]

LINKER_SCRIPT = """/* SpiNNaker2 PE: 128 KiB SRAM = ITCM 32 KiB (code) + DTCM 96 KiB (data),
   4 KiB stack at 0x1F000. */
MEMORY
{
    ITCM (rx)  : ORIGIN = 0x00000000, LENGTH = 32K
    DTCM (rw)  : ORIGIN = 0x00008000, LENGTH = 96K
}

ENTRY(aedc_reset)

SECTIONS
{
    .text : { KEEP(*(.vectors)) *(.text .text.*) } > ITCM
    /* static runtime data (must fit 26 KiB) */
    .data : { *(.rodata .rodata.*) *(.data .data.*) } > DTCM
    .bss (NOLOAD) : { *(.bss .bss.*) *(COMMON) } > DTCM
    /* dynamically placed regions of the memory model (must fit 67,328 B) */
    .aedc_image : ALIGN(16) { *(.aedc_image) } > DTCM
    .aedc_state (NOLOAD) : ALIGN(16) { *(.aedc_state) } > DTCM
    ASSERT(SIZEOF(.data) + SIZEOF(.bss) <= 26 * 1024, "static .data/.bss over 26 KiB")
    ASSERT(. <= 0x1F000, "DTCM overflow: data reaches the stack at 0x1F000")
    __stack_top = 0x20000;
    /DISCARD/ : { *(.ARM.exidx*) *(.comment) }
}
"""

PE_MAKEFILE = """# Cross-build of one PE program (run from the build's c/ directory: make -C <pe dir>).
CC = arm-none-eabi-gcc
CFLAGS = -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard -O2 -ffp-contract=off \\
         -ffreestanding -fno-common -Wall -I../common
LDFLAGS = -nostdlib -nostartfiles -T link.ld

pe.elf: kernel.c data.c layout.h ../common/aedc_pe.h ../common/chip_runtime.c link.ld
\t$(CC) $(CFLAGS) $(LDFLAGS) -o $@ kernel.c ../common/chip_runtime.c -lgcc

clean:
\trm -f pe.elf
.PHONY: clean
"""


class _Program:
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
        return f"wtab_{_c_ident(proj.name)}"

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


def _c_ident(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


def _runtime_text(name: str) -> str:
    return resources.files("aedc.codegen").joinpath("runtime", name).read_text(encoding="utf-8")


def emit_program(graph: Graph, placement: Placement, tables: RoutingTables, *,
                 tick_us: int = 1000) -> Sources:
    """The C sources of every used PE of ``placement`` (see the module docstring); the PEs' timer
    ticks every ``tick_us`` µs."""
    if tick_us < 1:
        raise CodegenError(f"tick period must be ≥ 1 µs (got {tick_us})")
    bad = [p for p in graph.populations if p.neuron.model not in KERNEL_MODELS]
    if bad:
        names = ", ".join(f"'{p.name}' ({p.neuron.model})" for p in bad)
        raise CodegenError(f"no C kernel for the neuron model of population(s) {names}; models with a "
                           f"kernel: {', '.join(KERNEL_MODELS)}", where=bad[0].name)
    prog = _Program(graph, placement, tables.routes, tables.machine, tick_us)
    files: dict[str, str] = {f"common/{name}": _runtime_text(name) for name in RUNTIME_FILES}
    pe_entries = []
    pe_index: dict[tuple[int, ...], int] = {}
    slot_of: dict[int, tuple[int, int]] = {}
    for i, usage in enumerate(placement.pes):
        d = pe_dirname(usage.pe)
        pe_index[usage.pe.key()] = i
        em = _PEEmitter(prog, usage.pe, usage.slices)
        pe_files = em.build()
        for name, text in pe_files.items():
            files[f"{d}/{name}"] = text
        for k, idx in enumerate(usage.slices):
            slot_of[idx] = (i, k)
        predicted = usage.memory.model_dump(mode="json")
        pe_entries.append({
            "pe": str(usage.pe), "dir": d, "files": sorted(f"{d}/{n}" for n in pe_files),
            "slices": [{"slice": idx, "label": prog.slices[idx].label,
                        "population": prog.slices[idx].population, "lo": prog.slices[idx].lo,
                        "hi": prog.slices[idx].hi, "key_base": prog.block_of[idx].base,
                        "key_mask": prog.block_of[idx].mask,
                        "state": list(type(prog.pops[prog.slices[idx].population].neuron).STATE)}
                       for idx in usage.slices],
            "bytes": {"emitted": dict(sorted(em.sizes.items())),
                      "emitted_total": sum(em.sizes.values()), "predicted": predicted},
        })
    ticking = [idx for name in topo_order(graph)
               for idx in (*prog.synapse_slices[name], *prog.neuron_slices[name])]
    order = [slot_of[idx] for idx in ticking]
    inputs = []
    off = 0
    for name in graph.inputs:
        for idx in prog.neuron_slices[name]:
            s = prog.slices[idx]
            inputs.append([*slot_of[idx], off + s.lo, s.size])
        off += prog.pops[name].size
    manifest = {"format": "aedc-codegen", "version": 1, "graph": graph.name,
                "pes": pe_entries,
                "tick_order": [list(o) for o in order],
                "inputs": {"populations": list(graph.inputs), "slices": inputs, "width": off},
                "populations": {p.name: {"shape": list(p.shape), "size": p.size,
                                         "state": list(type(p.neuron).STATE),
                                         "slices": [slot_of[i] for i in prog.neuron_slices[p.name]]}
                                for p in graph.populations}}
    neuron = [prog.slices[idx].role == "neuron" for idx in ticking]
    sizes = [prog.slices[idx].size if nr else 0 for idx, nr in zip(ticking, neuron, strict=True)]
    nstate = [len(type(prog.pops[prog.slices[idx].population].neuron).STATE) if nr else 0
              for idx, nr in zip(ticking, neuron, strict=True)]
    files["host/host_table.c"] = _host_table(placement, order, inputs, off, sizes, nstate)
    files["Makefile"] = _top_makefile([pe_dirname(u.pe) for u in placement.pes])
    files["manifest.json"] = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
    return Sources(files=tuple(sorted((k, v.encode()) for k, v in files.items())))


def _host_table(placement: Placement, order: list[tuple[int, int]], inputs: list[list[int]],
                width: int, sizes: list[int], nstate: list[int]) -> str:
    lines = ["/* The host runtime's view of the program: generated by aedc — do not edit. */",
             "#include \"aedc_pe.h\"", ""]
    for i, _u in enumerate(placement.pes):
        lines.append(f"extern const aedc_pe_t aedc_pe_{i};")
    lines.append("const aedc_pe_t *const aedc_host_pes[] = {"
                 + ", ".join(f"&aedc_pe_{i}" for i in range(len(placement.pes))) + "};")
    lines.append("/* PE address packed like AEDC_TARGET, with the PE number in bits 0..3 */")
    lines.append("const uint32_t aedc_host_addr[] = {"
                 + ", ".join(f"AEDC_TARGET({u.pe.chip[0]}, {u.pe.chip[1]}, {u.pe.qpe[0]}, {u.pe.qpe[1]}, "
                             f"{u.pe.pe})" for u in placement.pes) + "};")
    lines.append(f"const uint32_t aedc_host_n_pes = {len(placement.pes)}u;")
    lines.append("/* slices in tick order (topological order of their populations): PE, slice */")
    flat = ", ".join(f"{{{a}u, {b}u}}" for a, b in order) or "{0u, 0u}"
    lines.append(f"const uint32_t aedc_host_order[][2] = {{{flat}}};")
    lines.append(f"const uint32_t aedc_host_n_order = {len(order)}u;")
    lines.append("const uint32_t aedc_host_slice_sizes[] = {" + (", ".join(f"{v}u" for v in sizes) or "0u")
                 + "};")
    lines.append("const uint32_t aedc_host_slice_states[] = {"
                 + (", ".join(f"{v}u" for v in nstate) or "0u") + "};")
    lines.append("/* input slices: PE, slice, offset in the per-tick input vector, neurons */")
    flat_in = ", ".join("{" + ", ".join(f"{v}u" for v in row) + "}" for row in inputs) or "{0u, 0u, 0u, 0u}"
    lines.append(f"const uint32_t aedc_host_inputs[][4] = {{{flat_in}}};")
    lines.append(f"const uint32_t aedc_host_n_inputs = {len(inputs)}u;")
    lines.append(f"const uint32_t aedc_host_input_width = {width}u;")
    return "\n".join(lines) + "\n"


def _top_makefile(dirs: list[str]) -> str:
    elfs = " ".join(f"{d}/pe.elf" for d in dirs)
    rules = "".join(f"{d}/pe.elf: FORCE\n\t$(MAKE) -C {d}\n" for d in dirs)
    return ("# Cross-build every PE program: make -j (needs arm-none-eabi-gcc).\n"
            f"all: {elfs}\n{rules}FORCE:\n"
            "clean:\n" + "".join(f"\t$(MAKE) -C {d} clean\n" for d in dirs) + ".PHONY: all clean FORCE\n")
