"""The sources of one PE: per slice its routing info, destinations, synaptic input, parameters and
tick function, assembled into ``kernel.c``, ``data.c`` and ``layout.h`` (see :mod:`aedc.codegen.emit`
for the program of a tick). Synapse images come from :mod:`.synapses`, neuron updates from
:mod:`.kernels`, the receive side from :mod:`.history`, the file texts from :mod:`.pe_files`."""

from __future__ import annotations

import numpy as np

from aedc.codegen import pe_files
from aedc.codegen.event_kernel import EVENT_TERM, event_frame, event_slice_code
from aedc.codegen.history import Histories, Port, receive_side
from aedc.codegen.kernels import NEURON_KERNELS
from aedc.codegen.literals import F32, aligned, c_array, c_float, c_state
from aedc.codegen.program import Program
from aedc.codegen.synapses import PortSynapses, distinct_weights, encoder_for, weight_table_array
from aedc.errors import CodegenError
from aedc.ir.discretise import neuron_constants
from aedc.ir.graph import Population, Projection
from aedc.machine import PEAddress
from aedc.partition.memory import FIXED_PE_BYTES, MPT_ENTRY_BYTES, ROUTING_INFO_BYTES, TARGET_BYTES
from aedc.partition.model import Slice

__all__ = ["PEEmitter"]


class PEEmitter:
    """Builds the sources of one PE; ``sizes`` are the bytes of every memory term it emitted."""

    def __init__(self, prog: Program, pe: PEAddress, slices: tuple[int, ...], *, event: bool = False) -> None:
        self.prog, self.pe, self.slices = prog, pe, slices
        self.event = event  # also emit the event-driven schedule's functions (aedc.codegen.event_kernel)
        self.image: list[str] = []
        self.state: list[str] = []
        self.sizes: dict[str, int] = {}
        self.hists = Histories(prog)
        self.sd_accs: list[str] = []
        self.tables_done: set[str] = set()
        self.shared_done: dict[str, str] = {}  # shared C array → the projection that emitted it
        self.tables: dict[str, np.ndarray] = {}
        self.ports_of_slice: list[Port] = []
        self.slice_info: list[tuple[int, int, int, bool]] = []
        self.state_names: list[list[str]] = []
        self.cur_idx = -1

    def count(self, term: str, size: int) -> None:
        """Count an array of ``size`` bytes under memory term ``term``."""
        self.sizes[term] = self.sizes.get(term, 0) + aligned(size)

    def add(self, term: str, text_size: tuple[str, int], *, state: bool = False) -> None:
        text, size = text_size
        (self.state if state else self.image).append(text)
        self.count(term, size)

    # ---- synapses ----------------------------------------------------------------------------------------

    def weight_table(self, proj: Projection) -> np.ndarray:
        """Distinct weights of ``proj`` used on this PE (all its slices), sorted: the rows' weight table."""
        if proj.name not in self.tables:
            self.tables[proj.name] = distinct_weights(self.prog, self.slices, proj)
        return self.tables[proj.name]

    def use_table(self, proj: Projection) -> None:
        if proj.name in self.tables_done:
            return
        self.tables_done.add(proj.name)
        text, size = weight_table_array(self.prog.table_name(proj), proj.name, self.weight_table(proj))
        self.image.insert(0, text)
        self.count("weight_tables", size)

    def port(self, k: int, s: Slice, proj: Projection, src: int, pre: np.ndarray, post: np.ndarray,
             w: np.ndarray) -> Port:
        p = self.prog
        enc = encoder_for(p.formats[proj.name])
        ps = p.slices[src]
        syn = PortSynapses(
            projection=proj.name, tag=f"s{k}_p{len(self.ports_of_slice)}",
            what=f"{proj.name}: {ps.label} → {s.label}",
            slice_label=s.label, n_post=s.size, rows=pre - ps.lo, targets=post - s.lo, weights=w,
            table=self.weight_table(proj) if enc.weight_table else np.zeros(0, F32),
            table_name=p.table_name(proj), conn=proj.conn, post_lo=s.lo, pre_lo=ps.lo,
            kernel_tag=f"s{k}_kern{p.proj_ident[proj.name]}")
        image = enc.encode(syn)
        for array in image.arrays:
            self.add(enc.term, array)
        for name, text, size in image.shared:  # once per slice and projection (kernels)
            owner = self.shared_done.get(name)
            if owner is None:
                self.shared_done[name] = proj.name
                self.add(enc.term, (text, size))
            elif owner != proj.name:  # a name two projections share: one would read the other's kernel
                raise CodegenError(f"PE {self.pe}: projections '{owner}' and '{proj.name}' both emit the C "
                                   f"array {name}", where=proj.name)
        if enc.weight_table:
            self.use_table(proj)
        hist = self.hists.use(src, proj.latency)
        sd = p.pops[proj.pre].event_rule == "sigma_delta"
        port = Port(proj, src, hist, syn.row_lo, syn.row_hi, image.code, sd, proj.latency)
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
            ROUTING_INFO_BYTES))
        tlist = [f"AEDC_TARGET({t.chip[0]}, {t.chip[1]}, {t.qpe[0]}, {t.qpe[1]}, {mask})"
                 for t, mask in targets]
        self.add("targets", (f"/* destination QPEs of slice {k} (one packet each, with a PE mask) */\n"
                             f"static uint32_t s{k}_targets[{max(len(tlist), 1)}] AEDC_IMAGE = "
                             f"{{{', '.join(tlist) or '0'}}};\n#define S{k}_N_TARGETS {len(tlist)}u\n",
                             TARGET_BYTES * max(len(tlist), 1)))
        binary = not pop.carries_payload
        words = -(-n // 32)
        out.append(f"#ifdef AEDC_HOST\nstatic float s{k}_val[{n}], s{k}_pay[{n}];\n"
                   f"#define S{k}_TRACE(i, v, e) (s{k}_val[i] = (v), s{k}_pay[i] = (e))\n"
                   f"#else\n#define S{k}_TRACE(i, v, e) ((void)0)\n#endif\n")
        rec = ""
        if pop.name in p.outputs and p.record_ticks and s.role == "neuron":
            if binary:  # a spike bitmap; a spike count (max_spikes > 1) records its value
                self.add("recording", c_state("uint32_t", f"s{k}_rec", (p.record_ticks, words),
                                              f"recording of slice {k}: spike bitmap per tick"), state=True)
                rec = (f"    uint32_t *rec = s{k}_rec[t % {p.record_ticks}u];\n"
                       f"    for (uint32_t w = 0; w < {words}u; w++) rec[w] = 0;\n")
            else:
                self.add("recording", c_state("float", f"s{k}_rec", (p.record_ticks, n),
                                              f"recording of slice {k}: value per tick"), state=True)
                rec = f"    float *rec = s{k}_rec[t % {p.record_ticks}u];\n"
        record = ""
        if rec:
            record = ("rec[i >> 5] |= 1u << (i & 31u);" if binary else "rec[i] = value;")
        emit = self._emit_code(k, pop, record)
        if NEURON_KERNELS[m.model].update is None:
            return "\n".join([*out, self._source(k, n, binary, rec, emit)])
        # ---- synaptic input ----
        self.add("ring_buffer", c_state("float", f"s{k}_acc", (n,),
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
                    hist = self.hists.use(src, 0)
                    self.ports_of_slice.append(Port(
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
        body = self._synaptic_input(k, n, pop)
        if synapse_role:
            return "\n".join(out) + "\n" + self._synapse(k, n, body)
        out.append(self._params(k, idx, pop))
        out.append(self._neuron(k, pop, n, body, rec, emit))
        if self.event:
            out.append(event_slice_code(self, k, pop, rec, record))
        return "\n".join(out)

    def _source(self, k: int, n: int, binary: bool, rec: str, emit: str) -> str:
        """An input slice: its values come from the host, double-buffered (``set_input`` fills tick
        ``t``'s half while tick ``t − 1``'s is read)."""
        words = -(-n // 32)
        if binary:
            self.add("input_buffers", c_state("uint32_t", f"s{k}_in", (2, words),
                                              f"input of slice {k}: double-buffered spike bitmap"),
                     state=True)
            read = f"float value = (s{k}_in[t & 1u][i >> 5] >> (i & 31u)) & 1u ? 1.0f : 0.0f;"
            setter = (f"    for (uint32_t w = 0; w < {words}u; w++) s{k}_in[t & 1u][w] = 0;\n"
                      f"    for (uint32_t i = 0; i < {n}u; i++)\n"
                      f"        if (values[i] != 0.0f) s{k}_in[t & 1u][i >> 5] |= 1u << (i & 31u);\n")
        else:
            self.add("input_buffers", c_state("float", f"s{k}_in", (2, n),
                                              f"input of slice {k}: double-buffered values"), state=True)
            read = f"float value = s{k}_in[t & 1u][i];"
            setter = f"    for (uint32_t i = 0; i < {n}u; i++) s{k}_in[t & 1u][i] = values[i];\n"
        self.slice_info.append((k, n, 0, True))
        return (f"static void s{k}_set_input(uint32_t t, const float *values) {{\n{setter}}}\n\n"
                f"static void s{k}_tick(uint32_t t) {{\n{rec}"
                f"    for (uint32_t i = 0; i < {n}u; i++) {{\n        {read}\n"
                f"        float payload = value;\n{emit}    }}\n}}\n")

    def _synaptic_input(self, k: int, n: int, pop: Population) -> list[str]:
        """C lines summing this tick's events of every port into ``acc``: projections in graph order,
        sigma-delta ones through their persistent accumulator."""
        p = self.prog
        body = [f"    float *acc = s{k}_acc;", f"    for (uint32_t i = 0; i < {n}u; i++) acc[i] = 0.0f;"]
        by_proj: dict[str, list[Port]] = {}
        for port in self.ports_of_slice:
            by_proj.setdefault(port.proj.name, []).append(port)
        for proj in p.graph.incoming(pop.name):
            ports = by_proj.get(proj.name, [])
            if not ports:
                continue
            sd = ports[0].sigma_delta
            latency = ports[0].latency
            body.append(f"    /* projection {proj.name} ({proj.pre} → {proj.post}, latency {latency}) */")
            if sd:
                name = f"s{k}_sd{len(self.sd_accs)}"
                self.sd_accs.append(name)
                self.add("neuron_state", c_state("float", name, (n,),
                                                 f"sigma-delta accumulator of {proj.name} on slice {k}"),
                         state=True)
                body.append(f"    {{\n    float *acc = {name};")
            # a back edge's extra tick is the sync schedule's; asynchronously every event already
            # arrives in a later tick, so the runtime's aedc_async_mode (1 on chip) takes it away
            lat = f"({latency}u - aedc_async_mode)" if proj.back_edge else f"{latency}u"
            body.append(f"    if (t >= {lat}) {{" if latency else "    {")
            body.extend(self.hists.read(port, lat) for port in ports)
            body.append("    }")
            if sd:
                body.append(f"    }}\n    for (uint32_t i = 0; i < {n}u; i++) acc[i] += {name}[i];")
        return body

    def _synapse(self, k: int, n: int, body: list[str]) -> str:
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
        """The kernel's parameter macros ``S<k>_<NAME>(i)``: a literal when uniform over the slice."""
        s = self.prog.slices[idx]
        m = pop.neuron
        consts = neuron_constants(m, self.prog.sem)
        lines = [f"/* parameters of slice {k} (host-computed float32 constants; scalar when uniform) */"]
        size = 0
        for name in (*NEURON_KERNELS[m.model].params, "bias"):
            arr = np.asarray(consts[name] if name in consts else getattr(m, name), F32).ravel()
            part = arr[s.lo:s.hi] if arr.size >= s.hi else np.broadcast_to(arr, (s.size,))
            if part.size and np.all(part.view(np.uint32) == part.view(np.uint32)[0]):
                lines.append(f"#define S{k}_{name.upper()}(i) ({c_float(part[0])})")
                size += 4
            else:
                text, nbytes = c_array("float", f"s{k}_{name}", part, "AEDC_IMAGE", f"{name} of {s.label}", 6)
                lines.append(text + f"#define S{k}_{name.upper()}(i) (s{k}_{name}[i])")
                size += nbytes
        self.count("neuron_params", size)
        return "\n".join(lines) + "\n"

    def _emit_code(self, k: int, pop: Population, record: str) -> str:
        """C statements emitting the event of neuron ``i`` with ``value`` / ``payload`` in scope. A
        spike bitmap records the neurons that send; a value recording records every neuron every
        tick (a graded or sigma-delta output holds its value between events, and the row is reused
        every ``record_ticks`` ticks, so a row written only on events would keep stale values)."""
        every = record.startswith("rec[i] =")
        rec = f"            {record}\n" if record and not every else ""
        has, bits = ("1u", "aedc_f2u(payload)") if pop.carries_payload else ("0u", "0u")
        return (f"        S{k}_TRACE(i, value, payload);\n"
                + (f"        {record}\n" if every else "")
                + f"        if (payload != 0.0f) {{\n"
                f"            uint32_t key = 0x{self.prog.block_of[self.cur_idx].base:08x}u + i;\n"
                f"{rec}"
                f"            for (uint32_t d = 0; d < S{k}_N_TARGETS; d++)\n"
                f"                aedc_send(key, {bits}, {has}, s{k}_targets[d]);\n"
                f"        }}\n")

    def _neuron(self, k: int, pop: Population, n: int, body: list[str], rec: str, emit: str) -> str:
        """Tick of a neuron slice: synaptic input, the model's update (:data:`NEURON_KERNELS`), then the
        event rule."""
        m = pop.neuron
        state_vars = list(type(m).STATE)
        for var in state_vars:
            self.add("neuron_state", c_state("float", f"s{k}_{var}", (n,), f"state {var} of slice {k}"),
                     state=True)
        update = NEURON_KERNELS[m.model].update
        assert update is not None  # sources are ticked by _source
        code = update(k, self.prog.sem)
        for ctype, name, comment in code.state:
            self.add("neuron_state", c_state(ctype, name, (n,), comment), state=True)
        lines = [f"float x = acc[i] + S{k}_BIAS(i);", *code.lines]
        if pop.event_rule == "sigma_delta":
            self.add("neuron_state", c_state("float", f"s{k}_sent", (n,),
                                             f"last sent value (sigma-delta), slice {k}"), state=True)
            lines += [f"float change = value - s{k}_sent[i];",
                      f"float payload = (__builtin_fabsf(change) > {c_float(pop.event_threshold)}) ? change "
                      f": 0.0f;",
                      f"s{k}_sent[i] = s{k}_sent[i] + payload;",
                      f"value = s{k}_sent[i];"]
        else:
            lines.append("float payload = value;")
        self.slice_info.append((k, n, len(state_vars), False))
        self.state_names.append([f"s{k}_{v}" for v in state_vars])
        return (f"static void s{k}_tick(uint32_t t) {{\n" + "\n".join(body) + "\n" + rec
                + f"    for (uint32_t i = 0; i < {n}u; i++) {{\n"
                + "".join(f"        {line}\n" for line in lines) + emit + "    }\n}\n")

    # ---- the whole PE ------------------------------------------------------------------------------------

    def build(self) -> dict[str, str]:
        """``kernel.c``, ``data.c`` and ``layout.h`` of this PE."""
        p = self.prog
        slice_code = []
        for k, idx in enumerate(self.slices):
            self.cur_idx = idx
            before = len(self.state_names)
            slice_code.append(self.slice_code(k, idx))
            if len(self.state_names) == before:
                self.state_names.append([])
        rx = receive_side(self.hists)
        for _text, size in rx.arrays:
            self.count("event_history", size)
        self.sizes["master_pop_table"] = aligned(MPT_ENTRY_BYTES * len(rx.mpt))
        self.sizes["fixed"] = FIXED_PE_BYTES
        header = pe_files.header(str(self.pe), [p.slices[i].label for i in self.slices])
        kernel = pe_files.kernel_c(header, rx, slice_code, self.slice_info, self.state_names)
        if self.event:
            frame, cand_bytes = event_frame(self)
            kernel += frame
            self.count(EVENT_TERM, cand_bytes)
        return {
            "kernel.c": kernel,
            "data.c": pe_files.data_c(header, self.image, rx, self.state),
            "layout.h": pe_files.layout_h(header, self.sizes, len(self.slices), len(rx.mpt), p.tick_us),
        }
