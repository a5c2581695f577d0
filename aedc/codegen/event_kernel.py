"""The event-driven schedule's part of one PE's ``kernel.c`` (contract: :mod:`aedc.timing.event`; the C
interface is ``runtime/aedc_event.h``).

Per neuron slice ``k`` it adds ``s<k>_ev_begin`` (step start: ``acc = 0``, nothing fired),
``s<k>_ev_integrate`` (the rows of the micro-step's queued packets into ``acc``, and in the slice's
first micro-step its delayed and sigma-delta ports — projections in graph order, then presynaptic
index, the contract's float32 order), ``s<k>_ev_evaluate`` (the candidate test), ``s<k>_ev_candidates``,
``s<k>_ev_fire`` (the spike, sent at once) and ``s<k>_ev_end`` (the model's tick with ``z`` = fired).
The neuron work is derived from the model's :class:`~aedc.codegen.kernels.NeuronUpdate` lines rather
than written again: the candidate state is the update up to its spike test ``int z = v ⋈ θ;`` without
the lines that store state, and the commit is the whole update with that test replaced by ``z =
fired``. The frame (:func:`event_frame`) adds the PE's packet store, the slice dispatchers and the
exported ``aedc_ev_pe_t``. Only builds emitted by :func:`aedc.codegen.event_emit.emit_event_program`
contain any of it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from aedc.codegen.kernels import NEURON_KERNELS
from aedc.codegen.literals import aligned, c_float
from aedc.errors import CodegenError
from aedc.ir.graph import Population
from aedc.ir.options import Semantics
from aedc.partition.memory import EVENT_CANDIDATE_BYTES

if TYPE_CHECKING:
    from aedc.codegen.pe import PEEmitter

__all__ = ["EVENT_TERM", "event_frame", "event_slice_code"]

EVENT_TERM = "event_state"
"""The memory term of the event schedule's per-neuron state (fired flag, candidate arrival, margin) and
the PE's candidate buffer: counted in ``layout.h`` like every other region."""

_STORE = re.compile(r"^s\d+_\w+\[i\] = ")
_SPIKE_TEST = re.compile(r"^int z = v (>=|>) (.+);$")


def _split_update(k: int, pop: Population, sem: Semantics) -> tuple[list[str], str, str, str, list[str]]:
    """(candidate lines, membrane, comparison, threshold, commit lines) of a spiking slice's update."""
    model = pop.neuron.model
    update = NEURON_KERNELS[model].update
    assert update is not None
    lines = list(update(k, sem).lines)
    if model == "threshold":
        cmp = ">" if sem.threshold_cmp == ">" else ">="
        return [], "x", cmp, f"S{k}_THRESHOLD(i)", [f"float value = s{k}_fired[i] ? 1.0f : 0.0f;"]
    tests = [j for j, line in enumerate(lines) if _SPIKE_TEST.match(line)]
    if len(tests) != 1:
        raise CodegenError(f"population '{pop.name}': the C update of model '{model}' has "
                           f"{len(tests)} spike tests 'int z = v > θ;' (aedc.codegen.kernels), the event "
                           f"schedule needs exactly one to split the candidate test from the commit",
                           where=pop.name)
    j = tests[0]
    match = _SPIKE_TEST.match(lines[j])
    assert match is not None
    cmp, theta = match.groups()
    candidate = [line for line in lines[:j] if not _STORE.match(line)]
    commit = [*lines[:j], f"int z = s{k}_fired[i];", *lines[j + 1:]]
    return candidate, "v", cmp, theta, commit


def _integrate(em: PEEmitter, k: int, n: int, pop: Population) -> str:
    """``s<k>_ev_integrate``: every port in graph order; delayed and sigma-delta ones only in the
    slice's first micro-step (their events are all due then), latency-0 ones from the queue."""
    p = em.prog
    sd_names = iter([name for name in em.sd_accs if name.startswith(f"s{k}_sd")])
    body = [f"static void s{k}_ev_integrate(uint32_t t, uint32_t first) {{", f"    float *acc = s{k}_acc;",
            "    (void)t; (void)first; (void)acc;"]
    for proj in p.graph.incoming(pop.name):
        ports = [q for q in em.ports_of_slice if q.proj.name == proj.name]
        if not ports:
            continue
        sd, latency = ports[0].sigma_delta, ports[0].latency
        lat = f"({latency}u - aedc_async_mode)" if proj.back_edge else f"{latency}u"
        reads = [em.hists.read(port, lat) for port in ports]
        body.append(f"    /* projection {proj.name} ({proj.pre} → {proj.post}, latency {latency}) */")
        if sd:
            name = next(sd_names)
            body += ["    if (first) {", f"    float *acc = {name};",
                     f"    if (t >= {lat}) {{" if latency else "    {", *reads, "    }",
                     f"    for (uint32_t i = 0; i < {n}u; i++) s{k}_acc[i] += {name}[i];", "    }"]
        elif latency:
            body += [f"    if (first && t >= {lat}) {{", *reads, "    }"]
        else:
            body += ["    {", *reads, "    }"]
    return "\n".join([*body, "}"]) + "\n"


def _decl(ctype: str, name: str, n: int, size: int, comment: str) -> tuple[str, int]:
    return f"/* {comment} */\nstatic {ctype} {name}[{n}] AEDC_STATE;\n", n * size


def event_slice_code(em: PEEmitter, k: int, pop: Population, rec: str, record: str) -> str:
    """The event functions of neuron slice ``k`` (population ``pop``); ``rec``/``record`` are the
    slice's recording set-up and statement (as in its tick)."""
    n = em.prog.slices[em.cur_idx].size
    spiking = type(pop.neuron).SPIKING
    sem = em.prog.sem
    out = [f"/* ---- slice {k}: event-driven schedule ---- */\n#include \"aedc_event.h\"\n"]
    decls: list[tuple[str, int]] = []
    begin = [f"    for (uint32_t i = 0; i < {n}u; i++) {{", f"        s{k}_acc[i] = 0.0f;"]
    if spiking:
        decls = [_decl("uint8_t", f"s{k}_fired", n, 1, f"fired in this step, slice {k}"),
                 _decl("int16_t", f"s{k}_since", n, 2, f"micro-step it became a candidate (-1: none), "
                                                          f"slice {k}"),
                 _decl("float", f"s{k}_margin", n, 4, f"candidate membrane minus threshold, slice {k}")]
        begin += [f"        s{k}_fired[i] = 0u;", f"        s{k}_since[i] = -1;",
                  f"        AEDC_EV_FIREM(s{k}_firem[i] = -1);"]
        out.append(f"#ifdef AEDC_HOST\nstatic int16_t s{k}_firem[{n}]; /* micro-step of each spike */\n"
                   f"#endif\n")
    for text, size in decls:
        out.append(text)
        em.count(EVENT_TERM, size)
    out.append(f"static void s{k}_ev_begin(void) {{\n" + "\n".join([*begin, "    }"]) + "\n}\n")
    out.append(_integrate(em, k, n, pop))
    rank = _ranks(em)[k]
    if spiking:
        candidate, v, cmp, theta, commit = _split_update(k, pop, sem)
        lines = [f"float x = s{k}_acc[i] + S{k}_BIAS(i);", *candidate,
                 f"if ({v} {cmp} {theta}) {{",
                 f"    if (s{k}_since[i] < 0) s{k}_since[i] = (int16_t)m;",
                 f"    s{k}_margin[i] = {v} - {theta};",
                 f"}} else {{\n            s{k}_since[i] = -1;\n        }}"]
        out.append(f"static void s{k}_ev_evaluate(uint32_t m) {{\n"
                   f"    for (uint32_t i = 0; i < {n}u; i++) {{\n        if (s{k}_fired[i]) continue;\n"
                   + "".join(f"        {line}\n" for line in lines) + "    }\n}\n")
        out.append(f"static uint32_t s{k}_ev_candidates(aedc_ev_cand_t *out) {{\n    uint32_t c = 0;\n"
                   f"    for (uint32_t i = 0; i < {n}u; i++) {{\n        if (s{k}_since[i] < 0) continue;\n"
                   f"        out[c].slice = {k}u;\n        out[c].i = (uint16_t)i;\n"
                   f"        out[c].since = s{k}_since[i];\n        out[c].rank = {rank}u;\n"
                   f"        out[c].margin = s{k}_margin[i];\n        out[c].prio = 0u;\n        c++;\n"
                   f"    }}\n    return c;\n}}\n")
        base = em.prog.block_of[em.cur_idx].base
        has, bits = ("1u", "aedc_f2u(1.0f)") if pop.carries_payload else ("0u", "0u")
        out.append(f"static void s{k}_ev_fire(uint32_t i, uint32_t m) {{\n"
                   f"    (void)m;\n    s{k}_fired[i] = 1u;\n    s{k}_since[i] = -1;\n"
                   f"    AEDC_EV_FIREM(s{k}_firem[i] = (int16_t)m);\n"
                   f"    for (uint32_t d = 0; d < S{k}_N_TARGETS; d++)\n"
                   f"        aedc_send(0x{base:08x}u + i, {bits}, {has}, s{k}_targets[d]);\n}}\n")
    else:
        update = NEURON_KERNELS[pop.neuron.model].update
        assert update is not None
        commit = list(update(k, sem).lines)
    if pop.event_rule == "sigma_delta" and not spiking:
        commit += [f"float change = value - s{k}_sent[i];",
                   f"float payload = (__builtin_fabsf(change) > {c_float(pop.event_threshold)}) ? change "
                   f": 0.0f;",
                   f"s{k}_sent[i] = s{k}_sent[i] + payload;", f"value = s{k}_sent[i];"]
    else:
        commit.append("float payload = value;")
    # a value recording records every neuron every step (as the tick kernel does); a bitmap the senders
    keep = (f"        {record}\n" if record.startswith("rec[i] =")
            else f"        if (payload != 0.0f) {{ {record} }}\n" if record else "")
    out.append(f"static void s{k}_ev_end(uint32_t t) {{\n    (void)t;\n    float *acc = s{k}_acc;\n{rec}"
               f"    for (uint32_t i = 0; i < {n}u; i++) {{\n        float x = acc[i] + S{k}_BIAS(i);\n"
               + "".join(f"        {line}\n" for line in commit)
               + f"        S{k}_TRACE(i, value, payload);\n{keep}    }}\n}}\n")
    return "\n".join(out)


def _ranks(em: PEEmitter) -> list[int]:
    """Each slice's position in the PE's neuron order: populations in graph order, then ``lo``."""
    index = {p.name: i for i, p in enumerate(em.prog.graph.populations)}
    keys = [(index[em.prog.slices[idx].population], em.prog.slices[idx].lo, j)
            for j, idx in enumerate(em.slices)]
    ranks = [0] * len(keys)
    for r, key in enumerate(sorted(keys)):
        ranks[key[2]] = r
    return ranks


def _kind(em: PEEmitter, idx: int) -> int:
    s = em.prog.slices[idx]
    pop = em.prog.pops[s.population]
    if pop.is_input:
        return 0
    return 1 if type(pop.neuron).SPIKING else 2


def event_frame(em: PEEmitter) -> tuple[str, int]:
    """The PE-level event code appended to ``kernel.c`` and the bytes of its candidate buffer."""
    p = em.prog
    offsets: dict[str, int] = {}
    off = 0
    for pop in p.graph.populations:
        offsets[pop.name] = off
        off += pop.size
    ranks = _ranks(em)
    kinds = [_kind(em, idx) for idx in em.slices]
    slices = [f"    {{{p.slices[idx].size}u, {kinds[j]}u, "
              f"{offsets[p.slices[idx].population] + p.slices[idx].lo}u, {ranks[j]}u}}, "
              f"/* {p.slices[idx].label} */" for j, idx in enumerate(em.slices)]
    n_cand = sum(p.slices[idx].size for j, idx in enumerate(em.slices) if kinds[j] == 1)
    cases = []
    for h_i, h in enumerate(em.hists.items):
        store = ""
        if h.depth > 1:
            mask = h.depth - 1
            store = (f"h{h_i}_cnt[now & {mask}u][i]++; " if h.binary
                     else f"h{h_i}_pay[now & {mask}u][i] = aedc_u2f(payload); ")
        cases.append(f"        case {h_i}u: {store}return {int(h.rxq)}u; /* {p.slices[h.src].label} */")
    neuron = [j for j in range(len(em.slices)) if kinds[j] != 0]
    spiking = [j for j in neuron if kinds[j] == 1]

    def switch(ret: str, call: str, which: list[int], default: str = "") -> str:
        body = "".join(f"    case {j}u: {ret}{call.format(k=j)}; {'' if ret else 'break;'}\n" for j in which)
        return f"    switch (k) {{\n{body}    default: break;\n    }}\n{default}"

    text = f"""
/* ==== the event-driven schedule (aedc_event.h; contract aedc.timing.event) ==== */
#include "aedc_event.h"

/* a packet reaching this PE: store it in the event history of its delayed ports; 1 when a latency-0
 * port reads the key (the runtime then queues it for the next micro-step) */
static uint32_t ev_store(uint32_t key, uint32_t payload) {{
    (void)payload;
    for (uint32_t e = 0; e < N_MPT; e++) {{
        if ((key & mpt[e].mask) != mpt[e].key) continue;
        uint32_t i = key - mpt[e].key;
        (void)i;
        switch (e) {{
{"".join(c + chr(10) for c in cases)}        default: break;
        }}
        return 0u;
    }}
    return 0u;
}}

static void ev_rx_clear(void) {{ rxq_n = 0; }}
static void ev_rx(uint32_t key, uint32_t payload) {{ rxq_insert(key, payload); }}

static void ev_begin(uint32_t k) {{
{switch("", "s{k}_ev_begin()", neuron)}}}

static void ev_integrate(uint32_t k, uint32_t t, uint32_t first) {{
    (void)t; (void)first;
{switch("", "s{k}_ev_integrate(t, first)", neuron)}}}

static void ev_evaluate(uint32_t k, uint32_t m) {{
    (void)m;
{switch("", "s{k}_ev_evaluate(m)", spiking)}}}

static uint32_t ev_candidates(uint32_t k, aedc_ev_cand_t *out) {{
    (void)out;
{switch("return ", "s{k}_ev_candidates(out)", spiking, "    return 0u;" + chr(10))}}}

static void ev_fire(uint32_t k, uint32_t i, uint32_t m) {{
    (void)i; (void)m;
{switch("", "s{k}_ev_fire(i, m)", spiking)}}}

static void ev_end(uint32_t k, uint32_t t) {{
    (void)t;
{switch("", "s{k}_ev_end(t)", neuron)}}}

#ifdef AEDC_HOST
static const int16_t *ev_fired_at(uint32_t k) {{
{switch("return ", "s{k}_firem", spiking, "    return 0;" + chr(10))}}}
#else
#define ev_fired_at 0
#endif

static const aedc_ev_slice_t ev_slices[{max(len(slices), 1)}] = {{
{chr(10).join(slices) or "    {0u, 0u, 0u, 0u}"}
}};
/* candidate buffer: one entry per spiking neuron of the PE */
static aedc_ev_cand_t ev_cand[{max(n_cand, 1)}] AEDC_STATE;

#ifndef AEDC_EV_SYMBOL
#define AEDC_EV_SYMBOL aedc_ev_pe
#endif
const aedc_ev_pe_t AEDC_EV_SYMBOL = {{
    {{{len(em.slices)}u, AEDC_TICK_US, begin_tick, receive, slice_tick, set_input, trace}},
    ev_slices, ev_cand, {n_cand}u, ev_store, ev_rx_clear, ev_rx, ev_begin, ev_integrate, ev_evaluate,
    ev_candidates, ev_fire, ev_end, ev_fired_at}};
"""
    return text, aligned(EVENT_CANDIDATE_BYTES * max(n_cand, 1))  # sizeof(aedc_ev_cand_t)

