"""The QEMU replay of the event-driven schedule: every call the host event runtime made to one PE,
made again by the cross-compiled PE on the emulated Cortex-M4F (:mod:`.qemu` does the rest).

The chip's event runtime (``runtime/event_chip_runtime.c``) runs rounds whose contents depend on what
the NoC delivered when, so it cannot be compared with anything bit for bit; the host event runtime
(``runtime/event_runtime.c``) runs the contract's global micro-steps and equals the JAX event emulator.
So, as for the tick schedules, :func:`record_event` runs the whole program on the host with every PE's
kernel behind a recording wrapper (:func:`_event_wrapper`, through ``runtime/qemu_record.c``) that
writes down, per PE and in order, each call of the event interface (``runtime/aedc_event.h``):
``begin_tick``, ``set_input`` and ``slice_tick`` of the input slices, ``store`` of every packet reaching
the PE (and whether a latency-0 port queued it), ``begin``, ``rx_clear``, ``rx``, ``integrate``,
``evaluate``, the PE's firing round of each micro-step and ``end``; and what came out: each packet sent,
the state after each step's ``end``. ``runtime/qemu_event_runtime.c`` makes the same calls on the Arm —
the firing round itself (candidates, ``aedc_ev_select`` in policy order) runs there, with the schedule's
k, policy and seed — so the Arm binary's packets (per step and micro-step), its queueing decisions, its
float32 state and its output recording are compared with the host's word for word, and its
instructions are counted per call and summed per time step.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from aedc.codegen.event_host import POLICY_CODES, run_host_event
from aedc.codegen.model import Sources
from aedc.codegen.qemu import PEBehaviour, PECalls, Recording, read_log_output, recorded_run, wrapper_head
from aedc.errors import CodegenError
from aedc.timing.schedule import Schedule

__all__ = ["EVENT_OPS", "STORE_OP", "record_event"]

EVENT_OPS = {1: "begin_tick", 3: "set_input", 4: "slice_tick", 10: "store", 11: "begin", 12: "rx_clear",
             13: "rx", 14: "integrate", 15: "evaluate", 16: "fire_round", 17: "end"}
"""The event replay's calls (op codes of ``runtime/qemu_event_runtime.c``'s input and of the log)."""
STORE_OP = 10
"""The call that hands the PE a packet."""
_FIRE = 18  # log only: a spike fired inside the PE's round (checked, not replayed: the Arm selects)
_ARGS = {1: 2, 3: 3, 4: 2, 5: 4, 6: 2, 10: 3, 11: 1, 12: 0, 13: 2, 14: 3, 15: 2, 16: 0, 17: 2, _FIRE: 3}
"""Words after {op pe} in the log (3 and 6: plus their n values)."""


def _event_wrapper(manifest: Mapping[str, Any], i: int) -> str:
    """PE ``i``'s ``aedc_ev_pe_<i>`` for the host event runtime: every call written down, then made."""
    pe = manifest["pes"][i]
    spiking = set(manifest["event"]["spiking"])
    kinds = [s["population"] in spiking for s in pe["slices"]]
    first = next((k for k, sp in enumerate(kinds) if sp), 0xFFFFFFFF)
    n_cand = sum(int(s["hi"]) - int(s["lo"]) for s, sp in zip(pe["slices"], kinds, strict=True) if sp)
    rec = "aedc_rec_call(w_, (uint32_t)(sizeof w_ / sizeof w_[0]))"
    return wrapper_head(manifest, i, "AEDC_EV_SYMBOL", f"aedc_ev_pe_real_{i}",
                        "aedc.codegen.qemu_event") + f"""\
#define REC(...) do {{ const uint32_t w_[] = {{__VA_ARGS__}}; {rec}; }} while (0)
static void rec_begin_tick(uint32_t t) {{ aedc_rec_begin(&AEDC_PE_SYMBOL, {i}u, t); }}
static void rec_input(uint32_t k, uint32_t t, const float *v) {{
    aedc_rec_input(&AEDC_PE_SYMBOL, {i}u, k, t, v, rec_n[k]);
}}
static void rec_slice_tick(uint32_t k, uint32_t t) {{
    aedc_rec_tick(&AEDC_PE_SYMBOL, {i}u, k, t, rec_n[k], 0u);
}}
static uint32_t rec_store(uint32_t key, uint32_t payload) {{
    uint32_t r = ev_store(key, payload);
    REC(10u, {i}u, key, payload, r);
    return r;
}}
static void rec_rx_clear(void) {{ REC(12u, {i}u); ev_rx_clear(); }}
static void rec_rx(uint32_t key, uint32_t payload) {{ REC(13u, {i}u, key, payload); ev_rx(key, payload); }}
static void rec_begin(uint32_t k) {{ REC(11u, {i}u, k); ev_begin(k); }}
static void rec_integrate(uint32_t k, uint32_t t, uint32_t first) {{
    REC(14u, {i}u, k, t, first);
    ev_integrate(k, t, first);
}}
static void rec_evaluate(uint32_t k, uint32_t m) {{ REC(15u, {i}u, k, m); ev_evaluate(k, m); }}
/* the runtime's firing round of this PE starts with its first spiking slice's candidates into ev_cand
 * (the end-of-micro-step count reads them into a scratch buffer) */
static uint32_t rec_candidates(uint32_t k, aedc_ev_cand_t *out) {{
    if (k == {first}u && out == ev_cand) REC(16u, {i}u);
    return ev_candidates(k, out);
}}
static void rec_fire(uint32_t k, uint32_t j, uint32_t m) {{
    REC({_FIRE}u, {i}u, k, j, m);
    uint32_t was = aedc_rec_sender({i}u);
    ev_fire(k, j, m);
    aedc_rec_sender(was);
}}
static void rec_end(uint32_t k, uint32_t t) {{
    REC(17u, {i}u, k, t);
    ev_end(k, t);
    aedc_rec_state(&AEDC_PE_SYMBOL, {i}u, k, rec_n[k], rec_nst[k]);
}}
const aedc_ev_pe_t aedc_ev_pe_{i} = {{
    {{{len(pe["slices"])}u, AEDC_TICK_US, rec_begin_tick, receive, rec_slice_tick, rec_input, trace}},
    ev_slices, ev_cand, {n_cand}u, rec_store, rec_rx_clear, rec_rx, rec_begin, rec_integrate, rec_evaluate,
    rec_candidates, rec_fire, rec_end, ev_fired_at}};
"""


def _parse_event_log(w: np.ndarray, n_pes: int, config: tuple[int, ...]) -> tuple[list[PECalls],
                                                                                  list[PEBehaviour]]:
    """Per PE: the calls to replay (micro-step of each; a firing round's is the count of rounds
    since the step began — the runtime gives every PE one per micro-step) and the behaviour. A send
    is the call's in progress: the last one recorded for its PE (stores it causes go to receivers)."""
    calls = [PECalls(version=2, config=config) for _ in range(n_pes)]
    out = [PEBehaviour() for _ in range(n_pes)]
    tick, rounds = [0] * n_pes, [0] * n_pes
    framing = [False] * n_pes  # inside an input slice's tick (its packets may reach its own PE)
    vals = w.tolist()
    j, n = 0, len(vals)
    while j < n:
        op, i = vals[j], vals[j + 1]
        if op not in _ARGS:
            raise CodegenError(f"event replay log: unknown record {op} at word {j}")
        c, size = calls[i], 2 + _ARGS[op] + (vals[j + 4] if op == 3 else vals[j + 3] if op == 6 else 0)
        args = vals[j + 2:j + 2 + _ARGS[op]]
        if op == 5 or op == 6:
            if op == 5 or not framing[i]:  # the Arm dumps no state after an input slice's tick
                j = read_log_output(out[i], vals, w, j, tick[i], len(c.ops) - 1)
                continue
            framing[i] = False
        elif op == _FIRE:
            if args[2] != rounds[i] - 1:
                raise CodegenError(f"event replay log: PE {i} fired in micro-step {args[2]} outside its "
                                   f"round {rounds[i] - 1} of step {tick[i]}")
        else:
            micro = -1
            if op == 1:
                tick[i], rounds[i] = args[0], 0
                c.async_mode = args[1]
                words = [1, args[0]]
            elif op == 4:
                framing[i] = True
                words = [4, *args]
            elif op == 16:
                micro = rounds[i]
                rounds[i] += 1
                words = [16, tick[i], micro]
            else:
                words = [op, *(args[:-1] if op == STORE_OP else args)]
                if op == 3:
                    words += vals[j + 5:j + size]
                if op == STORE_OP:
                    out[i].accepted.append((tick[i], args[0], args[2]))
                if op == 15:
                    micro = args[1]
            c.words.append(np.array(words, np.uint32))
            c.ops.append(op)
            c.ticks.append(tick[i])
            c.micro.append(micro)
        j += size
    return calls, out


def record_event(sources: Sources, inputs: Mapping[str, np.ndarray], schedule: Schedule, *,
                 steps: int | None = None, work_dir: str | Path | None = None) -> Recording:
    """Run the event build ``sources`` on the host under ``schedule`` (``Schedule.event_driven``, as
    :func:`aedc.codegen.event_host.run_host_event`) and record every PE's calls and behaviour."""
    if "event" not in sources.manifest:
        raise CodegenError("record_event needs sources emitted with the event schedule's code "
                           "(`aedc compile --event`, aedc.codegen.event_emit.emit_event_program)")
    config = (schedule.events_per_step, POLICY_CODES[schedule.policy], schedule.seed & 0xFFFFFFFF)
    calls, expected, trace, T = recorded_run(
        sources, work_dir, lambda src, w: run_host_event(src, inputs, schedule, steps=steps, work_dir=w),
        lambda words, n: _parse_event_log(words, n, config), _event_wrapper)
    return Recording(calls=calls, expected=expected, trace=trace, steps=T, ops=EVENT_OPS,
                     received_op=STORE_OP)
