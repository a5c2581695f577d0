"""Replay every PE's cross-compiled program on an emulated Cortex-M4F (QEMU), bit for bit; count its
instructions per tick.

The host build (:mod:`.host`) proves the generated C on x86; this module runs the *Arm* binary: the same
``kernel.c``, compiler flags (:data:`aedc.codegen.build.CROSS_CFLAGS`) and ``link.ld`` as the chip build,
with ``runtime/qemu_runtime.c`` in place of ``chip_runtime.c``, on ``qemu-system-arm -M mps2-an386``.

1. :func:`record` runs the whole program once on the host (:func:`aedc.codegen.host.run_host`, sync or
   the emulator's asynchronous schedule) with every PE's kernel behind a recording wrapper
   (``runtime/qemu_record.c``): per PE, every call its runtime made — ``begin_tick``, each received
   packet in the order it was handed over, input values, ``slice_tick`` — and what came out: each
   packet sent (key, payload, payload flag, destination) and the slice's float32 state after its tick.
   The host C equals the emulator bit for bit (``tests/test_codegen_host.py``), so this is the
   emulator's record of that PE.
2. :func:`build_replay` cross-compiles one PE against the replay runtime; :func:`replay` feeds it the
   PE's calls through a semihosting file and reads back its packets, state and per-call instruction
   counts (QEMU's ``-icount``, see ``runtime/qemu_replay.h``).
3. :func:`compare` names the PE, tick, slice and first differing word; :func:`verify_qemu` does all
   three for every PE (or a chosen few) — ``aedc verify BUILD --target qemu``.

Under the event-driven schedule (a build emitted with event code) the same three steps run with the
event runtime's calls instead of ticks: :mod:`.qemu_event` records them and ``runtime/qemu_event_runtime.c``
replays them; :func:`verify_qemu` picks that path for ``Schedule.event_driven(...)`` (the default for
an event build).

Instructions → cycles: QEMU does not model timing, so cycles are an estimate,
:data:`CYCLES_PER_INSTRUCTION` × instructions, against a tick's budget of ``tick_us`` ×
:attr:`aedc.machine.PECost.clock_mhz` cycles.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aedc.codegen.build import (
    CROSS_CC,
    CROSS_CFLAGS,
    CROSS_INCLUDES,
    CROSS_LDFLAGS,
    CROSS_LIBS,
    CROSS_SOURCES,
    EVENT_CROSS_SOURCES,
    INSTALL_HINT,
    PE_ELF,
    cross_compiler,
)
from aedc.codegen.event_host import event_sources
from aedc.codegen.host import _sources_of, run_host
from aedc.codegen.model import Sources
from aedc.errors import CodegenError
from aedc.machine import PE_COST
from aedc.reference.simulate import Trace
from aedc.timing.schedule import Schedule

if TYPE_CHECKING:
    from aedc.timing.program import PlacedProgram

__all__ = ["CYCLES_PER_INSTRUCTION", "ICOUNT_SHIFT", "QEMU", "QEMU_BOARD", "QEMU_INSTALL_HINT",
           "CostFit", "Mismatch", "PEBehaviour", "PECalls", "PEReplay", "Recording", "ReplayRun",
           "VerifyReport", "build_replay", "compare", "elf_symbols", "fit_cost", "qemu_command",
           "read_log_output", "record", "replay", "replay_input", "replay_sources", "verify_qemu"]

QEMU = "qemu-system-arm"
QEMU_BOARD = "mps2-an386"
"""QEMU's Cortex-M4F board (FPU, 4 MiB SSRAM at 0x0 holding the PE's 128 KiB map, CMSDK timers)."""
QEMU_INSTALL_HINT = ("install QEMU's Arm system emulator: apt-get update && apt-get install -y "
                     "qemu-system-arm (or run 'make toolchain')")
ICOUNT_SHIFT = 10
"""``-icount shift=10``: an instruction lasts 1024 ns of virtual time, 25.6 counts of the board's 25 MHz
timer, so the count of instructions between two timer reads is exact after rounding."""
BOARD_TIMER_NS = 40
"""One count of the mps2 board's CMSDK APB timer (25 MHz system clock)."""
CYCLES_PER_INSTRUCTION = 1.7
"""Estimated Cortex-M4 cycles per instruction of the kernels. QEMU counts instructions, not cycles;
``benchmarks/bench_qemu.py`` weights the instructions actually executed (QEMU's single-step trace) by
the Cortex-M4 TRM's cycle counts at zero wait states (taken branch 3, LDR/STR 2 or 1 pipelined,
LDM/STM 1 + N, VLDR/VSTR 2, VFP add/multiply 1, …): 1.48–1.94 over eight MLP and cnn_sinabs PEs, 1.63
on average. Treat cycles as ±20 %."""
REPLAY_TIMEOUT_S = 120.0
_OPS = {1: "begin_tick", 2: "receive", 3: "set_input", 4: "slice_tick"}
_IN_LIMIT = 16 << 20  # the runtime's input buffer (board PSRAM)
_DROPPED = "counters"  # kernel.c's counters[0]: packets dropped by a full receive queue


def qemu() -> str | None:
    """Path of ``qemu-system-arm``, or None."""
    return shutil.which(QEMU)


def qemu_command(elf: Path) -> list[str]:
    """The QEMU command line of one replay (run in the directory holding ``replay.in``)."""
    exe = qemu()
    if exe is None:
        raise CodegenError(f"'{QEMU}' not found: {QEMU_INSTALL_HINT}", where=QEMU)
    return [exe, "-M", QEMU_BOARD, "-nographic", "-monitor", "none", "-serial", "none", "-semihosting",
            "-icount", f"shift={ICOUNT_SHIFT}", "-kernel", str(elf)]


# ---- what a PE did --------------------------------------------------------------------------------------


@dataclass
class PEBehaviour:
    """What one PE produced, in order: packets ``(tick, key, payload, has_payload, target)``, the
    state words of slice ``k`` after each of its ticks ``(tick, k, uint32 words)`` and the row of the
    PE's own recording (output slices) written in that tick ``(tick, k, words)``: a spike bitmap, or
    float32 values of a non-spiking output."""

    sends: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    states: list[tuple[int, int, np.ndarray]] = field(default_factory=list)
    records: list[tuple[int, int, np.ndarray]] = field(default_factory=list)
    send_calls: list[int] = field(default_factory=list)  # per packet: the index of the call that sent it
    accepted: list[tuple[int, int, int]] = field(default_factory=list)  # event: (tick, key, 0/1) per store


@dataclass
class PECalls:
    """The calls one PE's runtime made (the replay input, without its header) and per call its op
    (1 begin_tick, 2 receive, 3 set_input, 4 slice_tick; the event runtime's: :mod:`.qemu_event`) and
    tick; ``version`` and ``config`` are the input format's (1: tick runtime; 2: event runtime, whose
    config is K, policy, seed) and ``micro`` the micro-step of each event call (-1: none)."""

    words: list[np.ndarray] = field(default_factory=list)
    ops: list[int] = field(default_factory=list)
    ticks: list[int] = field(default_factory=list)
    async_mode: int = 0
    version: int = 1
    config: tuple[int, ...] = ()
    micro: list[int] = field(default_factory=list)

    def body(self) -> np.ndarray:
        return np.concatenate([*self.words, np.zeros(1, np.uint32)]).astype("<u4")


@dataclass
class Recording:
    """The host run of a program, per PE (manifest order): its calls and behaviour, and the traces;
    ``ops`` names the kinds of call and ``received_op`` is the one that hands the PE a packet."""

    calls: list[PECalls]
    expected: list[PEBehaviour]
    trace: Trace
    steps: int
    ops: Mapping[int, str] = field(default_factory=lambda: dict(_OPS))
    received_op: int = 2


@dataclass(frozen=True)
class Mismatch:
    """The first difference on one PE: where it is and the two words."""

    pe: str
    tick: int
    what: str  # e.g. "state v of slice 0, neuron 3" or "packet 2 of the tick: payload"
    expected: int | None
    got: int | None

    def __str__(self) -> str:
        def word(v: int | None) -> str:
            return "nothing" if v is None else f"0x{v:08x}"
        return (f"PE {self.pe} tick {self.tick}: {self.what}: expected {word(self.expected)}, "
                f"got {word(self.got)}")


@dataclass
class PEReplay:
    """One PE on QEMU: its behaviour, instructions per tick (and per kind of call), the work of each
    tick, the first mismatch (None when bit-identical) and the replay's wall time."""

    pe: str
    behaviour: PEBehaviour
    instructions: np.ndarray  # (T,) instructions of every call of the tick
    by_op: dict[str, np.ndarray]  # begin_tick / receive / set_input / slice_tick → (T,)
    received: np.ndarray  # (T,) packets handed to receive()
    sent: np.ndarray  # (T,) packets sent
    dropped: int  # packets the receive queue dropped (kernel counters[0])
    mismatch: Mismatch | None
    wall_s: float
    tick_us: int
    neurons: int = 0  # neurons the PE updates every tick (its slices)

    @property
    def cycles(self) -> np.ndarray:
        """Estimated cycles per tick (:data:`CYCLES_PER_INSTRUCTION`)."""
        return self.instructions * CYCLES_PER_INSTRUCTION

    @property
    def budget_cycles(self) -> float:
        """Cycles in one tick at the PE clock."""
        return self.tick_us * PE_COST.clock_mhz


@dataclass
class VerifyReport:
    """:func:`verify_qemu`'s result: one :class:`PEReplay` per PE checked, and the host traces."""

    pes: list[PEReplay]
    trace: Trace
    steps: int

    @property
    def mismatches(self) -> list[Mismatch]:
        return [p.mismatch for p in self.pes if p.mismatch is not None]

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def rows(self) -> list[dict[str, Any]]:
        """Per PE: ticks, packets in/out, instructions in its worst tick (and which) and on average,
        estimated cycles against the tick's budget, QEMU wall time per tick, the first mismatch."""
        out = []
        for p in self.pes:
            worst = int(np.argmax(p.instructions)) if p.instructions.size else 0
            peak = int(p.instructions[worst]) if p.instructions.size else 0
            out.append({
                "pe": p.pe, "neurons": p.neurons, "ticks": int(p.instructions.size),
                "received": int(p.received.sum()),
                "sent": int(p.sent.sum()), "worst_tick": worst, "instructions_worst": peak,
                "instructions_mean": float(p.instructions.mean()) if p.instructions.size else 0.0,
                "received_worst_tick": int(p.received[worst]) if p.received.size else 0,
                "sent_worst_tick": int(p.sent[worst]) if p.sent.size else 0,
                "cycles_worst": peak * CYCLES_PER_INSTRUCTION, "budget_cycles": p.budget_cycles,
                "budget_fill": peak * CYCLES_PER_INSTRUCTION / p.budget_cycles,
                "by_call_worst_tick": {k: int(v[worst]) for k, v in p.by_op.items() if v.size},
                "dropped": p.dropped, "qemu_wall_s": p.wall_s,
                "qemu_ms_per_tick": 1e3 * p.wall_s / max(int(p.instructions.size), 1),
                "ok": p.mismatch is None, "mismatch": None if p.mismatch is None else str(p.mismatch)})
        return out

    def raise_on_mismatch(self) -> None:
        """:class:`CodegenError` listing every PE whose Arm run differs from the host/emulator."""
        bad = self.mismatches
        if bad:
            hint = "".join(f"\n  PE {p.pe}: the receive queue dropped {p.dropped} packets (more than it "
                           f"holds in one tick)" for p in self.pes if p.dropped)
            raise CodegenError(f"{len(bad)} of {len(self.pes)} PEs differ on the Cortex-M4F (QEMU) "
                               f"from the host/emulator:\n  " + "\n  ".join(map(str, bad)) + hint,
                               where=bad[0].pe)


# ---- recording on the host ------------------------------------------------------------------------------
_RECORDED_KERNEL = "kernel.replayed.c"


def _slice_shapes(manifest: Mapping[str, Any], i: int) -> tuple[list[int], list[int]]:
    """Neurons and traced state variables of every slice of PE ``i`` (0 for inputs and synapse PEs)."""
    neuron_slots = {tuple(x) for p in manifest["populations"].values() for x in p["slices"]}
    inputs = {(r[0], r[1]) for r in manifest["inputs"]["slices"]}
    sizes, nstate = [], []
    for k, s in enumerate(manifest["pes"][i]["slices"]):
        sizes.append(int(s["hi"]) - int(s["lo"]))
        traced = (i, k) in neuron_slots and (i, k) not in inputs
        nstate.append(len(s["state"]) if traced else 0)
    return sizes, nstate


def _recordings(sources: Sources, i: int) -> dict[int, tuple[int, int, bool]]:
    """Slice → (rows, words per row, is a spike bitmap) of PE ``i``'s recording rings (output slices:
    a spike bitmap for spiking or binary populations, else a float32 value per neuron)."""
    pe = sources.manifest["pes"][i]
    text = sources.text(f"{pe['dir']}/data.c")
    return {int(m.group(2)): (int(m.group(3)), int(m.group(4)), m.group(1) == "uint32_t")
            for m in re.finditer(r"static (uint32_t|float) s(\d+)_rec\[(\d+)\]\[(\d+)\]", text)}


def _expected_records(sources: Sources, trace: Trace, T: int) -> list[list[tuple[int, int, np.ndarray]]]:
    """Per PE, the recording rows the host run implies: bit i of tick t set iff neuron lo + i sent an
    event in tick t; or the float32 value of neuron lo + i in tick t — what the emulator reports."""
    manifest = sources.manifest
    out: list[list[tuple[int, int, np.ndarray]]] = []
    for i, pe in enumerate(manifest["pes"]):
        rows: list[tuple[int, int, np.ndarray]] = []
        for k, (_, words, bitmap) in sorted(_recordings(sources, i).items()):
            s = pe["slices"][k]
            if not bitmap:
                value = np.asarray(trace.outputs[s["population"]], np.float32).reshape(T, -1)
                rows.extend((t, k, value[t, s["lo"]:s["hi"]].view(np.uint32).copy()) for t in range(T))
                continue
            ev = np.asarray(trace.events[s["population"]]).reshape(T, -1)[:, s["lo"]:s["hi"]] != 0
            bits = np.zeros((T, 32 * words), bool)
            bits[:, :ev.shape[1]] = ev
            packed = np.packbits(bits.reshape(T, words, 32)[:, :, ::-1], axis=2).view(">u4")[:, :, 0]
            rows.extend((t, k, packed[t].astype(np.uint32)) for t in range(T))
        out.append(rows)
    return out


Wrapper = Callable[[Mapping[str, Any], int], str]
"""The recording wrapper of PE ``i``'s kernel (the manifest, ``i``): C that includes the original,
renamed ``kernel.replayed.c`` (:func:`wrapper_head`), and defines the symbols the host runtime calls."""


def wrapper_head(manifest: Mapping[str, Any], i: int, symbol: str, real: str, by: str) -> str:
    """The start of PE ``i``'s recording wrapper: the kernel included with its exported ``symbol``
    macro renamed to ``real`` and ``aedc_send`` to the recorder's, the recorder's functions
    (``runtime/qemu_record.c``) and each slice's neurons ``rec_n`` and traced state variables
    ``rec_nst``; ``by`` names the module that writes it."""
    sizes, nstate = _slice_shapes(manifest, i)
    n = len(sizes)
    return f"""/* PE {manifest['pes'][i]['pe']}: the kernel behind the QEMU replay's recorder ({by}) */
#undef {symbol}
#define {symbol} {real}
#define aedc_send aedc_rec_send
#include "{_RECORDED_KERNEL}"
#undef aedc_send
void aedc_rec_begin(const aedc_pe_t *pe, uint32_t i, uint32_t t);
void aedc_rec_receive(const aedc_pe_t *pe, uint32_t i, uint32_t key, uint32_t payload);
void aedc_rec_input(const aedc_pe_t *pe, uint32_t i, uint32_t k, uint32_t t, const float *v, uint32_t n);
void aedc_rec_tick(const aedc_pe_t *pe, uint32_t i, uint32_t k, uint32_t t, uint32_t n, uint32_t nst);
void aedc_rec_state(const aedc_pe_t *pe, uint32_t i, uint32_t k, uint32_t n, uint32_t nst);
void aedc_rec_call(const uint32_t *w, uint32_t n);
uint32_t aedc_rec_sender(uint32_t i);
static const uint32_t rec_n[{max(n, 1)}] = {{{", ".join(f"{v}u" for v in sizes) or "0u"}}};
static const uint32_t rec_nst[{max(n, 1)}] = {{{", ".join(f"{v}u" for v in nstate) or "0u"}}};
"""


def _tick_wrapper(manifest: Mapping[str, Any], i: int) -> str:
    """The tick runtime's wrapper: ``aedc_pe_<i>``, whose calls go through ``runtime/qemu_record.c``."""
    n = len(manifest["pes"][i]["slices"])
    return wrapper_head(manifest, i, "AEDC_PE_SYMBOL", f"aedc_pe_real_{i}", "aedc.codegen.qemu") + f"""\
static void rec_begin(uint32_t t) {{ aedc_rec_begin(&aedc_pe_real_{i}, {i}u, t); }}
static void rec_receive(uint32_t key, uint32_t p) {{ aedc_rec_receive(&aedc_pe_real_{i}, {i}u, key, p); }}
static void rec_tick(uint32_t k, uint32_t t) {{
    aedc_rec_tick(&aedc_pe_real_{i}, {i}u, k, t, rec_n[k], rec_nst[k]);
}}
static void rec_input(uint32_t k, uint32_t t, const float *v) {{
    aedc_rec_input(&aedc_pe_real_{i}, {i}u, k, t, v, rec_n[k]);
}}
static const float *rec_trace(uint32_t k, uint32_t w) {{ return aedc_pe_real_{i}.trace(k, w); }}
const aedc_pe_t aedc_pe_{i} = {{{n}u, 0u, rec_begin, rec_receive, rec_tick, rec_input, rec_trace}};
"""


def _recording_sources(sources: Sources, log: Path, wrapper: Wrapper = _tick_wrapper) -> Sources:
    """``sources`` with every PE's kernel behind the recording ``wrapper`` and the recorder linked in."""
    manifest = sources.manifest
    files = dict(sources.files)
    recorder = resources.files("aedc.codegen").joinpath("runtime", "qemu_record.c").read_bytes()
    files["host/qemu_record.c"] = recorder
    files["host/host_table.c"] = (files["host/host_table.c"]
                                  + f'#define AEDC_REPLAY_LOG_PATH "{log.as_posix()}"\n'
                                    '#include "qemu_record.c"\n'.encode())
    for i, pe in enumerate(manifest["pes"]):
        d = pe["dir"]
        files[f"{d}/{_RECORDED_KERNEL}"] = files[f"{d}/kernel.c"]
        files[f"{d}/kernel.c"] = wrapper(manifest, i).encode()
    return Sources(files=tuple(sorted(files.items())))


def recorded_run(sources: Sources, work_dir: str | Path | None, run: Callable[[Sources, Path], Trace],
                 parse: Callable[[np.ndarray, int], tuple[list[PECalls], list[PEBehaviour]]],
                 wrapper: Wrapper = _tick_wrapper) -> tuple[list[PECalls], list[PEBehaviour], Trace, int]:
    """Run ``sources`` behind the recorder (``run(recording sources, host work dir)``), parse its log
    per PE and add the recording rows the traces imply: (calls, expected behaviours, trace, steps)."""
    with tempfile.TemporaryDirectory(prefix="aedc-record-") as tmp:
        work = Path(work_dir) if work_dir is not None else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        log = (work / "replay.log").absolute()
        log.unlink(missing_ok=True)
        trace = run(_recording_sources(sources, log, wrapper), work / "host")
        words = np.fromfile(log, "<u4") if log.is_file() else np.zeros(0, np.uint32)
        log.unlink(missing_ok=True)
    T = next(iter(trace.outputs.values())).shape[0] if trace.outputs else 0
    calls, expected = parse(words, len(sources.manifest["pes"]))
    for e, rows in zip(expected, _expected_records(sources, trace, T), strict=True):
        e.records = rows
    return calls, expected, trace, T


def replay_sources(build: object, schedule: Schedule | None) -> tuple[Sources, Path | None, Schedule | None]:
    """(sources, their directory, schedule) of a replay of ``build`` under ``schedule``: an event
    build (``aedc compile --event``) replays the event-driven schedule (``Schedule.event_driven()``
    when none is given) and nothing else — its host program is the event runtime; the event schedule
    on a CompileState emitted without event code emits it (as ``run_host`` does)."""
    sources, c_dir = _sources_of(build)
    if schedule is not None and schedule.mode == "event":
        return (*event_sources(build), schedule)
    if "event" in sources.manifest:
        if schedule is None:
            return sources, c_dir, Schedule.event_driven()
        raise CodegenError(f"this build carries the event-driven schedule's code (`aedc compile --event`): "
                           f"its host program runs that schedule only, not {schedule.mode!r}; replay it "
                           f"under the event schedule (`aedc verify --schedule event`, the default for "
                           f"an event build) or compile without --event", where=str(c_dir or "sources"))
    return sources, c_dir, schedule


def record(build: object, inputs: Mapping[str, np.ndarray], *, steps: int | None = None,
           schedule: Schedule | None = None, program: PlacedProgram | None = None,
           work_dir: str | Path | None = None) -> Recording:
    """Run ``build`` (CompileState, Sources or build directory) on the host like
    :func:`aedc.codegen.host.run_host` (same arguments) and record every PE's calls and behaviour
    (an event build's: :func:`aedc.codegen.qemu_event.record_event`)."""
    sources, c_dir, schedule = replay_sources(build, schedule)
    work = Path(work_dir) if work_dir is not None else (c_dir / ".qemu" if c_dir else None)
    if schedule is not None and schedule.mode == "event":
        from aedc.codegen.qemu_event import record_event  # it builds on this module

        return record_event(sources, inputs, schedule, steps=steps, work_dir=work)
    calls, expected, trace, T = recorded_run(
        sources, work, lambda src, w: run_host(src, inputs, steps=steps, work_dir=w, schedule=schedule,
                                               program=program), _parse_log)
    return Recording(calls=calls, expected=expected, trace=trace, steps=T)


def _parse_log(w: np.ndarray, n_pes: int) -> tuple[list[PECalls], list[PEBehaviour]]:
    calls = [PECalls() for _ in range(n_pes)]
    out = [PEBehaviour() for _ in range(n_pes)]
    tick = [0] * n_pes
    j, n = 0, int(w.size)
    vals = w.tolist()
    while j < n:
        op, i = vals[j], vals[j + 1]
        c = calls[i]
        if op == 1:
            tick[i] = vals[j + 2]
            c.async_mode = vals[j + 3]
            c.words.append(w[j:j + 3:2].copy())  # {1, t}
            j += 4
        elif op == 2:
            c.words.append(np.array([2, vals[j + 2], vals[j + 3]], np.uint32))
            j += 4
        elif op == 3:
            m = vals[j + 4]
            c.words.append(np.concatenate([np.array([3], np.uint32), w[j + 2:j + 5 + m]]))
            j += 5 + m
        elif op == 4:
            c.words.append(np.array([4, vals[j + 2], vals[j + 3]], np.uint32))
            tick[i] = vals[j + 3]
            j += 4
        elif op in (5, 6):
            j = read_log_output(out[i], vals, w, j, tick[i], len(c.ops) - 1)
            continue
        else:
            raise CodegenError(f"replay log: unknown record {op} at word {j}")
        c.ops.append(op)
        c.ticks.append(tick[i])
    return calls, out


def read_log_output(out: PEBehaviour, vals: list[int], w: np.ndarray, j: int, tick: int,
                    call: int) -> int:
    """Read the log's packet {5 pe key payload has target} or state {6 pe k n words} record at ``j``
    into ``out`` (made during call ``call`` of tick ``tick``); returns the next record's index."""
    if vals[j] == 5:
        out.sends.append((tick, vals[j + 2], vals[j + 3], vals[j + 4], vals[j + 5]))
        out.send_calls.append(call)
        return j + 6
    m = vals[j + 3]
    out.states.append((tick, vals[j + 2], w[j + 4:j + 4 + m].copy()))
    return j + 4 + m


# ---- the Arm binary -------------------------------------------------------------------------------------


def build_replay(sources: Sources, pe_index: int, work: Path) -> Path:
    """Cross-compile PE ``pe_index`` (manifest order) of ``sources`` against the replay runtime, with
    the chip build's flags and linker script; return the ELF (cached under ``work`` by content)."""
    cc = cross_compiler()
    if cc is None:
        raise CodegenError(f"'{CROSS_CC}' not found: {INSTALL_HINT}", where=CROSS_CC)
    pe = sources.manifest["pes"][pe_index]
    d = str(pe["dir"])
    event = "event" in sources.manifest
    name, chip_sources = (("qemu_event_runtime.c", EVENT_CROSS_SOURCES) if event
                          else ("qemu_runtime.c", CROSS_SOURCES))
    mine = {p: data for p, data in sources.files
            if p.startswith(f"{d}/") or (p.startswith("common/") and p.endswith(".h"))}
    for f in (name, "qemu_replay.h"):
        mine[f"common/{f}"] = resources.files("aedc.codegen").joinpath("runtime", f).read_bytes()
    srcs = tuple(f"../common/{name}" if s == chip_sources[-1] else s for s in chip_sources)
    cmd = [cc, *CROSS_CFLAGS, *CROSS_INCLUDES, *CROSS_LDFLAGS, "-o", PE_ELF, *srcs, *CROSS_LIBS]
    digest = hashlib.sha256("\0".join(cmd[1:]).encode())
    for path, data in sorted(mine.items()):
        digest.update(path.encode() + b"\0" + data + b"\0")
    root = work / f"{d}_{digest.hexdigest()[:16]}"
    elf = root / d / PE_ELF
    if elf.is_file():
        return elf
    Sources(files=tuple(sorted(mine.items()))).write(root)
    proc = subprocess.run(cmd, cwd=root / d, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise CodegenError(f"cross-compiling PE {pe['pe']} for the QEMU replay failed:\n"
                           f"{proc.stderr[-4000:]}", where=pe["pe"])
    return elf


def elf_symbols(path: Path) -> dict[str, list[tuple[int, int]]]:
    """Symbol name → ``[(address, size), …]`` of a 32-bit little-endian ELF (statics included)."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 1 or data[5] != 1:
        raise CodegenError(f"{path} is not a 32-bit little-endian ELF file", where=str(path))
    shoff, = struct.unpack_from("<I", data, 0x20)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x2E)
    headers = [struct.unpack_from("<IIIIIIIIII", data, shoff + i * shentsize) for i in range(shnum)]
    out: dict[str, list[tuple[int, int]]] = {}
    for h in headers:
        if h[1] != 2:  # SHT_SYMTAB
            continue
        strtab = headers[h[6]][4]
        for off in range(h[4], h[4] + h[5], 16):
            name_off, value, size = struct.unpack_from("<III", data, off)
            if name_off:
                name = data[strtab + name_off:data.index(b"\0", strtab + name_off)].decode()
                out.setdefault(name, []).append((value, size))
    return out


def _dump_table(elf: Path, sources: Sources, pe_index: int) -> list[tuple[int, int, int, int]]:
    """``(slice, address, words, rows)`` of every traced state array of the PE (``s<k>_<var>``, the host
    trace's order), its recording rings (rows > 0) and, at the end (slice 0xFFFFFFFF), the
    kernel's counters."""
    manifest = sources.manifest
    syms = elf_symbols(elf)
    sizes, nstate = _slice_shapes(manifest, pe_index)
    pe = manifest["pes"][pe_index]
    table = []
    for k, s in enumerate(pe["slices"]):
        for var in s["state"][:nstate[k]]:
            name = f"s{k}_{var}"
            found = syms.get(name, [])
            if len(found) != 1 or found[0][1] != 4 * sizes[k]:
                raise CodegenError(f"PE {pe['pe']}: state array '{name}' ({4 * sizes[k]} B) is not one "
                                   f"symbol of that size in {elf} (found {found})", where=pe["pe"])
            table.append((k, found[0][0], sizes[k], 0))
    for k, (rows, words, _) in sorted(_recordings(sources, pe_index).items()):
        found = syms.get(f"s{k}_rec", [])
        if len(found) != 1 or found[0][1] != 4 * rows * words:
            raise CodegenError(f"PE {pe['pe']}: recording 's{k}_rec' is not one symbol of "
                               f"{4 * rows * words} B in {elf} (found {found})", where=pe["pe"])
        table.append((k, found[0][0], words, rows))
    counters = syms.get(_DROPPED, [])
    if len(counters) == 1:
        table.append((0xFFFFFFFF, counters[0][0], counters[0][1] // 4, 0))
    return table


def replay_input(elf: Path, calls: PECalls, sources: Sources, pe_index: int) -> np.ndarray:
    """The words of ``replay.in`` for PE ``pe_index``'s ``elf`` (format: ``runtime/qemu_replay.h``, and
    ``qemu_runtime.c`` or ``qemu_event_runtime.c`` for the calls)."""
    table = _dump_table(elf, sources, pe_index)
    head = np.array([0x52514541, calls.version, calls.async_mode, len(table)], np.uint32)
    return np.concatenate([head, np.array(table, np.uint32).reshape(-1), np.array(calls.config, np.uint32),
                           calls.body()]).astype("<u4")


@dataclass(frozen=True)
class ReplayRun:
    """One QEMU run of a PE: what it produced, the instructions of each call (aligned with
    ``PECalls.ops``), the packets its receive queue dropped and the run's wall time."""

    behaviour: PEBehaviour
    instructions: np.ndarray
    dropped: int
    wall_s: float


def replay(elf: Path, calls: PECalls, sources: Sources, pe_index: int, *,
           timeout_s: float = REPLAY_TIMEOUT_S) -> ReplayRun:
    """Run PE ``pe_index``'s recorded ``calls`` on QEMU with its replay ``elf``."""
    pe = sources.manifest["pes"][pe_index]["pe"]
    body = replay_input(elf, calls, sources, pe_index)
    if body.nbytes > _IN_LIMIT:
        raise CodegenError(f"PE {pe}: the replay input is {body.nbytes:,} B, over the runtime's "
                           f"{_IN_LIMIT:,} B; replay fewer ticks (--steps)", where=pe)
    cmd = qemu_command(elf)
    with tempfile.TemporaryDirectory(prefix="aedc-qemu-") as tmp:
        body.tofile(Path(tmp) / "replay.in")
        start = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=timeout_s,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise CodegenError(f"PE {pe}: the QEMU replay did not finish in {timeout_s:g} s (a PE "
                               f"program that never returns?)", where=pe) from None
        wall = time.perf_counter() - start
        out_path = Path(tmp) / "replay.out"
        if proc.returncode != 0 or not out_path.is_file():
            raise CodegenError(f"PE {pe}: the QEMU replay failed (exit {proc.returncode}): "
                               f"{(proc.stdout + proc.stderr)[-2000:].strip()}", where=pe)
        out = np.fromfile(out_path, "<u4")
    got, insns, dropped = _parse_out(out, calls, pe)
    return ReplayRun(got, insns, dropped, wall)


def _parse_out(w: np.ndarray, calls: PECalls, pe: str) -> tuple[PEBehaviour, np.ndarray, int]:
    if w.size < 3 or w[0] != 0x4F514541 or w[1] != 1:
        raise CodegenError(f"PE {pe}: replay.out has no AEQO v1 header", where=pe)
    vals = w.tolist()
    calib = _instructions(vals[2])
    got = PEBehaviour()
    counts: list[int] = []
    dropped = 0
    j, n, c = 3, len(vals), 0
    tick = calls.ticks[0] if calls.ticks else 0
    while j < n and vals[j] != 0:
        op = vals[j]
        if op == 5:
            got.sends.append((tick, *vals[j + 1:j + 5]))
            got.send_calls.append(c)
            j += 5
        elif op == 10:  # after the store's {7}: call c - 1
            got.accepted.append((calls.ticks[c - 1], int(calls.words[c - 1][1]), vals[j + 1]))
            j += 2
        elif op == 7:
            counts.append(_instructions(vals[j + 2]) - calib)
            c += 1
            tick = calls.ticks[c] if c < len(calls.ticks) else tick
            j += 3
        elif op == 6:
            m = vals[j + 2]
            got.states.append((calls.ticks[c - 1], vals[j + 1], w[j + 3:j + 3 + m].copy()))
            j += 3 + m
        elif op == 9:
            m = vals[j + 2]
            got.records.append((calls.ticks[c - 1], vals[j + 1], w[j + 3:j + 3 + m].copy()))
            j += 3 + m
        elif op == 8:
            m = vals[j + 1]
            dropped = vals[j + 2] if m else 0
            j += 2 + m
        else:
            raise CodegenError(f"PE {pe}: replay.out has an unknown record {op} at word {j}", where=pe)
    if len(counts) != len(calls.ops):
        raise CodegenError(f"PE {pe}: the replay made {len(counts)} of {len(calls.ops)} calls", where=pe)
    return got, np.array(counts, np.int64), dropped


def _instructions(counts: int) -> int:
    """Timer counts between two reads → instructions (exact: one instruction is 25.6 counts)."""
    return round(counts * BOARD_TIMER_NS / (1 << ICOUNT_SHIFT))


@dataclass(frozen=True)
class CostFit:
    """Least-squares ``instructions per tick = per_neuron·neurons + per_packet_in·received +
    per_packet_out·sent + per_tick`` over PE-ticks, with its relative errors: the form of the per-PE
    cost model the slicer can use as a second budget beside bytes."""

    per_neuron: float
    per_packet_in: float
    per_packet_out: float
    per_tick: float
    median_rel_error: float
    p95_rel_error: float
    max_rel_error: float
    samples: int

    def predict(self, neurons: float, received: float, sent: float) -> float:
        return (self.per_neuron * neurons + self.per_packet_in * received + self.per_packet_out * sent
                + self.per_tick)


def fit_cost(pes: Iterable[PEReplay]) -> CostFit:
    """Fit :class:`CostFit` to the measured ticks of ``pes``."""
    rows, y = [], []
    for p in pes:
        for t in range(p.instructions.size):
            rows.append((p.neurons, float(p.received[t]), float(p.sent[t]), 1.0))
            y.append(float(p.instructions[t]))
    if len(rows) < 4:
        raise CodegenError(f"a cost fit needs at least 4 PE-ticks, got {len(rows)}")
    a, b = np.asarray(rows, np.float64), np.asarray(y, np.float64)
    coef = np.linalg.lstsq(a, b, rcond=None)[0]
    rel = np.abs(a @ coef - b) / np.maximum(b, 1.0)
    return CostFit(per_neuron=float(coef[0]), per_packet_in=float(coef[1]), per_packet_out=float(coef[2]),
                   per_tick=float(coef[3]), median_rel_error=float(np.median(rel)),
                   p95_rel_error=float(np.quantile(rel, 0.95)), max_rel_error=float(rel.max()),
                   samples=len(rows))


# ---- comparison -----------------------------------------------------------------------------------------

_SEND_FIELDS = ("key", "payload", "payload flag", "destination")


def compare(pe: str, expected: PEBehaviour, got: PEBehaviour, manifest: Mapping[str, Any] | None = None,
            pe_index: int | None = None, micro: list[int] | None = None) -> Mismatch | None:
    """The first difference between two behaviours of PE ``pe`` in tick order (packets of a tick
    before the state at its end), or None when they are identical bit for bit. ``micro`` (an event
    recording's :attr:`PECalls.micro`) names the micro-step a differing packet was sent in."""
    names: dict[int, list[str]] = {}
    if manifest is not None and pe_index is not None:
        _, nst = _slice_shapes(manifest, pe_index)
        names = {k: s["state"][:nst[k]] for k, s in enumerate(manifest["pes"][pe_index]["slices"])}
    ticks = sorted({s[0] for s in expected.sends} | {s[0] for s in got.sends}
                   | {s[0] for s in expected.states} | {s[0] for s in got.states}
                   | {s[0] for s in got.records} | {s[0] for s in expected.accepted}
                   | {s[0] for s in got.accepted})
    for t in ticks:
        mine = [j for j, s in enumerate(expected.sends) if s[0] == t]
        a = [expected.sends[j][1:] for j in mine]
        b = [s[1:] for s in got.sends if s[0] == t]
        for q in range(max(len(a), len(b))):
            at = ""
            if micro is not None and q < len(mine) and mine[q] < len(expected.send_calls):
                m = micro[expected.send_calls[mine[q]]]
                at = f", micro-step {m}" if m >= 0 else ", the input frame"
            if q >= len(a) or q >= len(b):
                key = (a[q] if q < len(a) else b[q])[0]
                return Mismatch(pe, t, f"packet {q} of the tick (key 0x{key:08x}{at}) sent by one side only",
                                a[q][0] if q < len(a) else None, b[q][0] if q < len(b) else None)
            for f, x, y in zip(_SEND_FIELDS, a[q], b[q], strict=True):
                if x != y:
                    return Mismatch(pe, t, f"packet {q} of the tick (key 0x{a[q][0]:08x}{at}): {f}", x, y)
        acc_a = [s for s in expected.accepted if s[0] == t]
        acc_b = [s for s in got.accepted if s[0] == t]
        for q in range(max(len(acc_a), len(acc_b))):
            if q >= len(acc_a) or q >= len(acc_b):  # a store one side recorded and the other did not
                key = (acc_a[q] if q < len(acc_a) else acc_b[q])[1]
                return Mismatch(pe, t, f"received packet {q} of the step (key 0x{key:08x}): queued-store "
                                       f"check recorded by one side only ({len(acc_a)} expected, "
                                       f"{len(acc_b)} made)",
                                acc_a[q][2] if q < len(acc_a) else None,
                                acc_b[q][2] if q < len(acc_b) else None)
            ea, eb = acc_a[q], acc_b[q]
            if ea != eb:
                return Mismatch(pe, t, f"received packet {q} of the step (key 0x{ea[1]:08x}): queued for a "
                                       f"latency-0 port", ea[2], eb[2])
        sa = [s[1:] for s in expected.states if s[0] == t]
        sb = [s[1:] for s in got.states if s[0] == t]
        for (k, wa), (k2, wb) in zip(sa, sb, strict=False):
            if k != k2 or wa.size != wb.size:
                return Mismatch(pe, t, f"state of slice {k} vs slice {k2}: different calls", k, k2)
            diff = np.flatnonzero(wa != wb)
            if diff.size:
                j = int(diff[0])
                var_names = names.get(k) or ["state"]
                n = max(wa.size // max(len(var_names), 1), 1)
                var = var_names[min(j // n, len(var_names) - 1)]
                return Mismatch(pe, t, f"state {var} of slice {k}, neuron {j % n}", int(wa[j]), int(wb[j]))
        if len(sa) != len(sb):
            return Mismatch(pe, t, f"{len(sa)} slice ticks expected, {len(sb)} made", len(sa), len(sb))
        ra = {k: w for tt, k, w in expected.records if tt == t}
        for tt, k, wb in got.records:
            if tt != t or k not in ra:
                continue
            diff = np.flatnonzero(ra[k] != wb)
            if diff.size:
                j = int(diff[0])
                return Mismatch(pe, t, f"recording of slice {k} (the PE's output buffer), word {j}",
                                int(ra[k][j]), int(wb[j]))
    return None


# ---- the whole check ------------------------------------------------------------------------------------


def _tick_us(sources: Sources, d: str) -> int:
    m = re.search(r"#define AEDC_TICK_US (\d+)u", sources.text(f"{d}/layout.h"))
    return int(m.group(1)) if m else 1000


def _per_tick(calls: PECalls, insns: np.ndarray, T: int, names: Mapping[int, str] = _OPS,
              received_op: int = 2) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Per tick: instructions of all calls, of each kind of call (``names``), packets received."""
    ticks = np.array(calls.ticks, np.int64)
    ops = np.array(calls.ops, np.int64)
    keep = (ticks >= 0) & (ticks < T)
    total = np.bincount(ticks[keep], weights=insns[keep], minlength=T).astype(np.int64)[:T]
    by_op = {name: np.bincount(ticks[keep & (ops == op)], weights=insns[keep & (ops == op)],
                               minlength=T).astype(np.int64)[:T] for op, name in names.items()}
    received = np.bincount(ticks[keep & (ops == received_op)], minlength=T)[:T]
    return total, by_op, received


def verify_qemu(build: object, inputs: Mapping[str, np.ndarray], *, steps: int | None = None,
                pes: Iterable[str] | None = None, schedule: Schedule | None = None,
                program: PlacedProgram | None = None, jobs: int = 2,
                work_dir: str | Path | None = None, recording: Recording | None = None) -> VerifyReport:
    """Replay every PE of ``build`` (or those named in ``pes``, as ``str(PEAddress)``) on QEMU and
    compare its packets and float32 state with the host/emulator's, bit for bit; measure its
    instructions per tick. ``recording`` reuses a :func:`record` (e.g. of another build). Raises
    :class:`CodegenError` when QEMU or the cross-compiler is missing; mismatches are in the report
    (:meth:`VerifyReport.raise_on_mismatch`)."""
    sources, c_dir, schedule = replay_sources(build, schedule)
    manifest = sources.manifest
    qemu_command(Path("pe.elf"))  # a missing QEMU is said before the host run
    if cross_compiler() is None:
        raise CodegenError(f"'{CROSS_CC}' not found: {INSTALL_HINT}", where=CROSS_CC)
    all_pes = [p["pe"] for p in manifest["pes"]]
    wanted = list(pes) if pes is not None else all_pes
    unknown = [p for p in wanted if p not in all_pes]
    if unknown:
        raise CodegenError(f"PE(s) {unknown} are not in this build; its PEs are {all_pes[:8]}"
                           f"{' …' if len(all_pes) > 8 else ''}", where=unknown[0])
    with tempfile.TemporaryDirectory(prefix="aedc-verify-") as tmp:
        work = Path(work_dir) if work_dir is not None else (c_dir / ".qemu" if c_dir else Path(tmp))
        rec = recording or record(sources, inputs, steps=steps, schedule=schedule, program=program,
                                  work_dir=work)

        def one(i: int) -> PEReplay:
            d = manifest["pes"][i]["dir"]
            elf = build_replay(sources, i, work / "elf")
            calls = rec.calls[i]
            run = replay(elf, calls, sources, i)
            got = run.behaviour
            total, by_op, received = _per_tick(calls, run.instructions, rec.steps, rec.ops, rec.received_op)
            sent = np.bincount(np.array([s[0] for s in got.sends], np.int64), minlength=rec.steps)[:rec.steps]
            return PEReplay(pe=all_pes[i], behaviour=got, instructions=total, by_op=by_op,
                            received=received, sent=sent, dropped=int(run.dropped),
                            mismatch=compare(all_pes[i], rec.expected[i], got, manifest, i,
                                             calls.micro if calls.version == 2 else None),
                            wall_s=run.wall_s,
                            tick_us=_tick_us(sources, d),
                            neurons=sum(int(s["hi"]) - int(s["lo"]) for s in manifest["pes"][i]["slices"]))

        order = [all_pes.index(p) for p in wanted]
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            results = list(pool.map(one, order))
    return VerifyReport(pes=results, trace=rec.trace, steps=rec.steps)
