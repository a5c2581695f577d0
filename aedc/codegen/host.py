"""Host build of the generated C: every PE's kernel with the host gcc against ``runtime/host_runtime.c``.

``run_host(build, inputs)`` compiles (once per tree: the executable is cached next to the sources,
keyed by a hash of them) and runs the whole placed program, then reads the binary traces back into an
:class:`aedc.reference.simulate.Trace` shaped like the reference simulator's: bit-identical arrays
when the C is right.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from aedc.codegen.model import Sources
from aedc.errors import CodegenError
from aedc.reference.simulate import Trace
from aedc.timing.program import PlacedProgram
from aedc.timing.schedule import Schedule, make_plan

__all__ = ["HOST_CFLAGS", "build_host", "input_frames", "run_host", "schedule_table"]

HOST_CFLAGS: tuple[str, ...] = ("-O2", "-ffp-contract=off", "-fno-fast-math", "-std=c11", "-DAEDC_HOST",
                                "-DAEDC_RXQ_LEN=65536u", "-Wall", "-Wno-unused-function",
                                "-Wno-unused-variable")


def _sources_of(build: object) -> tuple[Sources, Path | None]:
    """(sources, directory they live in, if any) of a CompileState, Sources or build directory."""
    if isinstance(build, Sources):
        return build, None
    if isinstance(build, str | os.PathLike):
        root = Path(build).absolute()  # the generated #includes name absolute paths
        c = root / "c" if (root / "c" / "manifest.json").is_file() else root
        if not (c / "manifest.json").is_file():
            raise CodegenError(f"{root} holds no generated C (no manifest.json); compile with emit-c",
                               where=str(root))
        files = tuple(sorted((p.relative_to(c).as_posix(), p.read_bytes()) for p in c.rglob("*")
                             if p.is_file() and not any(x.startswith(".") for x in p.relative_to(c).parts)
                             and p.suffix != ".elf" and p.name != "sizes.json"))
        return Sources(files=files), c
    sources = getattr(build, "sources", None)
    if isinstance(sources, Sources):
        return sources, None
    raise CodegenError("run_host needs a CompileState with sources (run the emit-c pass), a Sources "
                       "object or a build directory")


def _cc() -> str:
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise CodegenError("no host C compiler (gcc) found; install it (apt-get install -y gcc)")
    return cc


def build_host(sources: Sources, work: Path) -> Path:
    """Compile ``sources`` for the host under ``work``; return the executable (cached by content).
    A tree emitted with the event schedule (manifest ``"event"``) links ``runtime/event_runtime.c``
    and ``host/event_table.c`` instead of the tick runtime."""
    event = "event" in sources.manifest
    runtime_c = "event_runtime.c" if event else "host_runtime.c"
    runtime = resources.files("aedc.codegen").joinpath("runtime", runtime_c).read_bytes()
    digest = hashlib.sha256(runtime)
    for path, data in sources.files:
        digest.update(path.encode() + b"\0" + data + b"\0")
    exe = work / "bin" / f"host_{digest.hexdigest()[:16]}"
    if exe.is_file():
        return exe
    src = work / "src"
    sources.write(src)
    (src / "host" / runtime_c).write_bytes(runtime)
    obj = work / "bin" / "obj"
    obj.mkdir(parents=True, exist_ok=True)
    manifest = sources.manifest
    cc = _cc()
    inc = f"-I{src / 'common'}"
    wrappers = []
    for i, pe in enumerate(manifest["pes"]):
        w = obj / f"pe{i}.c"
        ev = f"#define AEDC_EV_SYMBOL aedc_ev_pe_{i}\n" if event else ""
        w.write_text(f"/* PE {pe['pe']} */\n#define AEDC_PE_SYMBOL aedc_pe_{i}\n{ev}"
                     f"#include \"{(src / pe['dir'] / 'kernel.c').as_posix()}\"\n")
        wrappers.append(str(w))
    tmp = exe.with_suffix(".tmp")
    tables = [str(src / "host" / "host_table.c")] + ([str(src / "host" / "event_table.c")] if event else [])
    _run([cc, *HOST_CFLAGS, inc, "-o", str(tmp), *wrappers, *tables,
          str(src / "host" / runtime_c)], "the host program")
    tmp.replace(exe)
    return exe


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise CodegenError(f"host build of {what} failed:\n{proc.stderr[-4000:]}", where=what)


SCHEDULE_MAGIC = 0x53444541
"""First word of the host runtime's schedule file ("AEDS", format 2: parameters, not tick times)."""


def schedule_table(manifest: Mapping[str, Any], program: PlacedProgram, schedule: Schedule,
                   T: int) -> bytes:
    """The host runtime's asynchronous schedule: its *parameters* — jitter, seed, NoC latencies per
    link, QPE hop and chip hop, the chip grid (width, height, torus) and every host PE's period and
    offset (manifest order) — from which ``host_runtime.c`` computes the tick times (the jitter hash
    of each PE's address word and tick) and the NoC latency between every pair (hops from the PE
    addresses) itself, by the formulas of :mod:`aedc.timing.schedule`. The emulator's times are not
    sent, so the C and the emulator agree only if both follow the formulas.

    Raises :class:`CodegenError` for programs whose C would not follow that schedule exactly: synapse
    PEs (an extra hop the emulator does not model), and delayed or recurrent projections of payload
    events (graded, sigma-delta) whose receivers take two source ticks in one tick (the event history
    keeps one payload per neuron and slot; spikes are counted, so binary projections always follow).
    """
    graph = program.graph
    index = {str(a): i for i, a in enumerate(program.pes)}
    pes = manifest["pes"]
    neuron_slots = {tuple(x) for p in manifest["populations"].values() for x in p["slices"]}
    for i, pe in enumerate(pes):
        for k, sl in enumerate(pe["slices"]):
            if (i, k) not in neuron_slots:
                raise CodegenError(f"slice {sl['label']} on PE {pe['pe']} is a synapse PE (fan-in split): "
                                   f"the host runtime runs such programs in the sync schedule only",
                                   where=pe["pe"])
        if pe["pe"] not in index:
            raise CodegenError(f"PE {pe['pe']} of the build is not in the emulator's placement: run the "
                               f"emulator on PlacedProgram.from_placement of the same build", where=pe["pe"])
    # Schedule bounds its times (TIME_MAX_US, LATENCY_MAX_US): every field fits the file's "<u4" / "<i8"
    chip_hops, qpe_hops = program.hops()
    # the emulator's plan only to refuse what the C cannot hold; its times are not sent
    plan = make_plan(graph, dict(program.pe_of), program.pe_words(), chip_hops, qpe_hops, schedule, T)
    pops = graph.pop_map()
    # the receive queue keeps every packet and spike histories count: only delayed payloads can collide
    held = {pr.name: pr for pr in graph.projections if pr.latency and pops[pr.pre].carries_payload}
    for key, lo in plan.lo.items():
        pr = held.get(key[0])
        if pr is not None and np.any(plan.hi[key] - lo > 1):
            raise CodegenError(f"projection '{pr.name}' (delay {pr.delay}, {pops[pr.pre].event_rule} "
                               f"events): a receiver tick takes events of two source ticks in this "
                               f"schedule, which the C event history cannot hold; use less jitter "
                               f"or equal periods", where=pr.name)
    periods, offsets = dict(schedule.pe_periods_us), dict(schedule.pe_offsets_us)
    order = [index[pe["pe"]] for pe in pes]
    m = program.machine
    head = np.array([SCHEDULE_MAGIC, schedule.jitter_us, schedule.seed & 0xFFFFFFFF, schedule.link_us,
                     schedule.hop_us, schedule.chip_hop_us, m.chips_x, m.chips_y, int(m.torus)], "<u4")
    period = np.array([periods.get(p, schedule.period_us) for p in order], "<i8")
    offset = np.array([offsets.get(p, 0) for p in order], "<i8")
    return head.tobytes() + period.tobytes() + offset.tobytes()


def input_frames(manifest: Mapping[str, Any], inputs: Mapping[str, np.ndarray],
                 steps: int | None) -> tuple[np.ndarray, int]:
    """The host runtime's input file: every input population's ``(T, size)`` values (float32), in the
    manifest's order, side by side; and ``T`` (``steps``, else the inputs' length). Named errors for
    a missing input or a wrong shape."""
    pops: Mapping[str, Any] = manifest["populations"]
    names = manifest["inputs"]["populations"]
    missing = [n for n in names if n not in inputs]
    if missing:
        raise CodegenError(f"no data for input population(s) {missing}", where=missing[0])
    data = [np.asarray(inputs[n], np.float32).reshape(len(inputs[n]), -1) for n in names]
    T = steps if steps is not None else (data[0].shape[0] if data else 0)
    for n, d in zip(names, data, strict=True):
        if d.shape[1] != pops[n]["size"] or d.shape[0] < T:
            raise CodegenError(f"input '{n}' has shape {d.shape}, expected ({T}, {pops[n]['size']})",
                               where=n)
    flat = np.concatenate([d[:T] for d in data], axis=1) if data else np.zeros((T, 0), np.float32)
    assert flat.shape[1] == manifest["inputs"]["width"]
    return flat, T


def run_host(build: object, inputs: Mapping[str, np.ndarray], *, steps: int | None = None,
             work_dir: str | os.PathLike[str] | None = None, schedule: Schedule | None = None,
             program: PlacedProgram | None = None) -> Trace:
    """Run the generated program of ``build`` (CompileState, Sources or build dir) on the host.

    ``inputs``: input population → array ``(T, *shape)`` (or ``(T, size)``). Returns the per-population
    values, event payloads and state variables, shaped like :func:`aedc.reference.simulate.simulate`'s.
    ``schedule``: sync (default) or the emulator's asynchronous schedule — then ``program`` is the
    emulator's :class:`PlacedProgram` of the same placement (see :func:`schedule_table`); traces are in
    every PE's local tick order, like the emulator's. ``Schedule.event_driven(...)``: the event runtime
    (:func:`aedc.codegen.event_host.run_host_event`; ``program`` is not needed), an
    :class:`~aedc.codegen.event_host.EventHostTrace` with each spike's micro-step.
    """
    if schedule is not None and schedule.mode == "event":
        from aedc.codegen.event_host import run_host_event

        return run_host_event(build, inputs, schedule, steps=steps, work_dir=work_dir)
    sources, c_dir = _sources_of(build)
    manifest: dict[str, Any] = sources.manifest
    flat, T = input_frames(manifest, inputs, steps)
    sched: bytes | None = None
    if schedule is not None and schedule.mode == "async":
        if program is None:
            raise CodegenError("an asynchronous host run needs the emulator's PlacedProgram of the "
                               "same placement (program=PlacedProgram.from_placement(graph, placement))")
        sched = schedule_table(manifest, program, schedule, T)
    with tempfile.TemporaryDirectory(prefix="aedc-host-") as tmp:
        work = Path(work_dir) if work_dir is not None else (c_dir / ".host" if c_dir else Path(tmp))
        exe = build_host(sources, work)
        fin, fout = Path(tmp) / "in.f32", Path(tmp) / "out.f32"
        np.ascontiguousarray(flat, np.float32).tofile(fin)
        cmd = [str(exe), str(T), str(fin), str(fout)]
        if sched is not None:
            (Path(tmp) / "schedule.bin").write_bytes(sched)
            cmd.append(str(Path(tmp) / "schedule.bin"))
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise CodegenError(f"host run failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
        raw = np.fromfile(fout, np.float32)
    return _traces(manifest, raw, T)


def _traces(manifest: dict[str, Any], raw: np.ndarray, T: int) -> Trace:
    pes = manifest["pes"]
    pops: dict[str, Any] = manifest["populations"]
    where: dict[tuple[int, int], tuple[str, int, int, int]] = {}
    for name, p in pops.items():
        for pe, k in p["slices"]:
            s = pes[pe]["slices"][k]
            where[(pe, k)] = (name, s["lo"], s["hi"], len(p["state"]))
    traced = [(pe, k) for pe, k in manifest["tick_order"] if (pe, k) in where]  # not synapse PEs
    per_tick = sum((2 + where[o][3]) * (where[o][2] - where[o][1]) for o in traced)
    if raw.size != per_tick * T:
        raise CodegenError(f"trace file has {raw.size} values, expected {per_tick * T}")
    raw = raw.reshape(T, per_tick) if T else raw.reshape(0, per_tick)
    values = {n: np.zeros((T, p["size"]), np.float32) for n, p in pops.items()}
    events = {n: np.zeros((T, p["size"]), np.float32) for n, p in pops.items()}
    state = {n: {v: np.zeros((T, p["size"]), np.float32) for v in p["state"]} for n, p in pops.items()}
    off = 0
    for o in traced:
        name, lo, hi, ns = where[o]
        n = hi - lo
        values[name][:, lo:hi] = raw[:, off:off + n]
        events[name][:, lo:hi] = raw[:, off + n:off + 2 * n]
        for j, var in enumerate(pops[name]["state"]):
            state[name][var][:, lo:hi] = raw[:, off + (2 + j) * n:off + (3 + j) * n]
        off += (2 + ns) * n

    def shaped(name: str, a: np.ndarray) -> np.ndarray:
        return a.reshape((T, *pops[name]["shape"]))

    return Trace(outputs={n: shaped(n, a) for n, a in values.items()},
                 events={n: shaped(n, a) for n, a in events.items()},
                 state={n: {v: shaped(n, a) for v, a in d.items()} for n, d in state.items() if d})


def manifest_of(build: object) -> dict[str, Any]:
    """The manifest.json of ``build`` as a dict."""
    return json.loads(_sources_of(build)[0].text("manifest.json"))  # type: ignore[no-any-return]
