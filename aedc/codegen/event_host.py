"""The generated C under the event-driven schedule on the host: :func:`run_host_event`.

``run_host(build, inputs, schedule=Schedule.event_driven(...))`` lands here. The build must carry the
event code (:func:`aedc.codegen.event_emit.emit_event_program`); a ``CompileState`` whose sources were
emitted for sync/async gets its event tree emitted here from its graph, placement and tables. The
executable is ``runtime/event_runtime.c`` linked with every PE's kernel (see its header for the
micro-step loop); the result is shaped like the emulator's event run: the reference's
:class:`~aedc.reference.simulate.Trace` plus each spike's micro-step, the overflow and the micro-steps
every step used.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aedc.codegen.host import _sources_of, _traces, build_host, input_frames
from aedc.codegen.model import Sources
from aedc.errors import CodegenError
from aedc.reference.simulate import Trace
from aedc.timing.schedule import Schedule

__all__ = ["POLICY_CODES", "EventHostTrace", "event_sources", "run_host_event"]

POLICY_CODES = {"arrival": 0, "momentum": 1, "random": 2}
"""The policy numbers of ``runtime/aedc_event.h`` (AEDC_EV_ARRIVAL, …)."""


@dataclass(frozen=True)
class EventHostTrace(Trace):
    """A host run under the event schedule: the :class:`Trace` arrays, ``microsteps`` (non-input
    population → ``(T, *shape)`` micro-step of each spike, -1 where none; a graded population's
    events carry the step's last micro-step),
    ``overflow_per_step`` and ``microsteps_per_step`` (``(T,)`` each), as the emulator reports them."""

    microsteps: dict[str, np.ndarray] = field(default_factory=dict)
    overflow_per_step: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    microsteps_per_step: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def event_sources(build: object) -> tuple[Sources, Path | None]:
    """The event-schedule sources of ``build`` (and the directory they live in, if any)."""
    sources, c_dir = _sources_of(build)
    if "event" in sources.manifest:
        return sources, c_dir
    graph, placement, tables = (getattr(build, a, None) for a in ("graph", "placement", "tables"))
    if graph is None or placement is None or tables is None:
        raise CodegenError("this build has no event-schedule code: emit it with `aedc compile --event` "
                           "(emit-c{event=true}), aedc.codegen.event_emit.emit_event_program(graph, "
                           "placement, tables), or pass the CompileState (run_host then emits it)",
                           where=str(c_dir or "sources"))
    from aedc.codegen.event_emit import emit_event_program

    layout = next((data for path, data in sources.files if path.endswith("/layout.h")), b"")
    tick = re.search(rb"#define AEDC_TICK_US (\d+)u", layout)
    return emit_event_program(graph, placement, tables, tick_us=int(tick.group(1)) if tick else 1000), None


def run_host_event(build: object, inputs: Mapping[str, np.ndarray], schedule: Schedule, *,
                   steps: int | None = None,
                   work_dir: str | os.PathLike[str] | None = None) -> EventHostTrace:
    """Run ``build`` (CompileState, event Sources or event build directory) on the host under the
    event schedule ``schedule`` (``Schedule.event_driven``)."""
    if schedule.mode != "event":
        raise CodegenError(f"run_host_event runs the event schedule, not {schedule.mode!r}")
    sources, c_dir = event_sources(build)
    manifest: dict[str, Any] = sources.manifest
    flat, T = input_frames(manifest, inputs, steps)
    if schedule.max_microsteps > 32767:
        raise CodegenError(f"the event runtime counts micro-steps in int16: max_microsteps "
                           f"{schedule.max_microsteps} > 32767")
    with tempfile.TemporaryDirectory(prefix="aedc-event-") as tmp:
        work = Path(work_dir) if work_dir is not None else (c_dir / ".host" if c_dir else Path(tmp))
        exe = build_host(sources, work)
        fin, fout, fmic = Path(tmp) / "in.f32", Path(tmp) / "out.f32", Path(tmp) / "micro.i32"
        np.ascontiguousarray(flat, np.float32).tofile(fin)
        cmd = [str(exe), str(T), str(fin), str(fout), str(fmic), str(schedule.events_per_step),
               str(POLICY_CODES[schedule.policy]), str(schedule.seed & 0xFFFFFFFF),
               str(schedule.max_microsteps), str(int(schedule.layered))]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise CodegenError(f"host event run failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
        raw = np.fromfile(fout, np.float32)
        mic = np.fromfile(fmic, np.int32)
    trace = _traces(manifest, raw, T)
    return _with_microsteps(manifest, trace, mic, T)


def _with_microsteps(manifest: dict[str, Any], trace: Trace, mic: np.ndarray, T: int) -> EventHostTrace:
    pes = manifest["pes"]
    pops: dict[str, Any] = manifest["populations"]
    where: dict[tuple[int, int], tuple[str, int, int]] = {}
    for name, p in pops.items():
        for pe, k in p["slices"]:
            s = pes[pe]["slices"][k]
            where[(pe, k)] = (name, s["lo"], s["hi"])
    order = [tuple(o) for o in manifest["tick_order"] if tuple(o) in where]
    per_step = 2 + sum(where[o][2] - where[o][1] for o in order)
    if mic.size != per_step * T:
        raise CodegenError(f"micro-step file has {mic.size} values, expected {per_step * T}")
    mic = mic.reshape(T, per_step)
    fired = {n: np.full((T, p["size"]), -1, np.int64) for n, p in pops.items()}
    off = 2
    for o in order:
        name, lo, hi = where[o]
        fired[name][:, lo:hi] = mic[:, off:off + hi - lo]
        off += hi - lo
    hidden = [n for n in pops if n not in manifest["inputs"]["populations"]]
    last = mic[:, 0].astype(np.int64)[:, None] - 1
    for n in hidden:  # a graded population's events carry the step's last micro-step (as the emulator's)
        if n not in manifest["event"]["spiking"]:
            fired[n] = np.where(trace.events[n].reshape(T, -1) != 0, last, -1)
    return EventHostTrace(outputs=trace.outputs, events=trace.events, state=trace.state,
                          microsteps={n: fired[n].reshape((T, *pops[n]["shape"])) for n in hidden},
                          overflow_per_step=mic[:, 1].astype(np.int64),
                          microsteps_per_step=mic[:, 0].astype(np.int64))

