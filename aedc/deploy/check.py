"""Deploy check: compile a trained classifier and score it on every execution path of the same placement.

A trained network is only useful if the chip program does what the emulator promised. :func:`deploy_check`
compiles the graph with the default pipeline (slice → place → route → C), cross-compiles it when
``arm-none-eabi-gcc`` is there (every PE must fit ITCM/DTCM), then classifies the test set with

* the JAX emulator in *exact* mode on the compiled placement (:meth:`PlacedProgram.from_placement`),
* the generated C built for the host (:func:`aedc.codegen.host.run_host`), one process per sample,

under each given schedule (sync: the reference's layer order; async: the emulator's PE clocks and NoC
latencies, which the host runtime replays; event: the event-driven schedule, which the C's event
runtime executes itself — its tree, :func:`aedc.codegen.event_emit.emit_event_program`, is written
beside the tick one as ``c_event/`` and cross-compiled too). Per schedule it reports accuracy and
events per inference of both paths and whether every sample's traces were bit-identical (events of
every population and the readout's state) — the claim "the C does what the emulator did" checked on
the whole test set.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aedc.codegen.build import cross_build, cross_compiler
from aedc.codegen.event_host import event_sources
from aedc.codegen.host import run_host
from aedc.codegen.model import Sources
from aedc.emulator import Emulator, PlacedProgram, Schedule
from aedc.errors import CodegenError
from aedc.ir.graph import Graph
from aedc.outdir import MARKER, atomic_output_dir
from aedc.partition.model import Placement
from aedc.passes import CompileState, PassContext, PassManager
from aedc.passes.pipelines import DEFAULT_PIPELINE
from aedc.train.losses import Readout, logits
from aedc.train.trainer import sending_populations

F32 = np.float32


@dataclass(frozen=True)
class PathScore:
    """Accuracy and traffic of one execution path on the test set."""

    accuracy: float
    events_per_inference: float
    predictions: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class DeployReport:
    """What :func:`deploy_check` measured (``paths`` keyed ``"<path> <schedule>"``, e.g. ``host C async``)."""

    pes: int
    cross_compiled: bool  # False: no arm-none-eabi-gcc here (the host paths still ran)
    max_dtcm_bytes: int  # largest measured dynamic data of a PE (0 when not cross-compiled)
    max_itcm_bytes: int
    paths: dict[str, PathScore]
    identical: dict[str, bool]  # schedule → every sample bit-identical between emulator and host C
    samples: int

    def summary(self) -> str:
        """Human-readable lines: where it runs, then per schedule emulator vs host C accuracy."""
        where = f"{self.pes} PE(s), " + (
            f"cross-compiled: largest PE {self.max_dtcm_bytes:,} B DTCM data, {self.max_itcm_bytes:,} B "
            f"code" if self.cross_compiled else "not cross-compiled: arm-none-eabi-gcc is not installed "
            "(make toolchain, or apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)")
        lines = [f"deployed: {where}"]
        for name, same in self.identical.items():
            e, h = self.paths[f"emulator {name}"], self.paths[f"host C {name}"]
            lines.append(f"  {name:5s}: emulator {e.accuracy:.4f} ({e.events_per_inference:.1f} events)   "
                         f"host C {h.accuracy:.4f} ({h.events_per_inference:.1f} events)   "
                         f"bit-identical on all {self.samples} samples: {'yes' if same else 'NO'}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        return {"pes": self.pes, "cross_compiled": self.cross_compiled,
                "max_dtcm_bytes": self.max_dtcm_bytes, "max_itcm_bytes": self.max_itcm_bytes,
                "samples": self.samples, "identical": dict(self.identical),
                "paths": {k: {"accuracy": v.accuracy, "events_per_inference": v.events_per_inference}
                          for k, v in self.paths.items()}}


def _logits(state_v: np.ndarray, events: np.ndarray, readout: Readout) -> np.ndarray:
    out = {"p": {"state.v": state_v, "outputs": state_v, "events": events}}
    return np.asarray(logits(out, "p", readout))


def deploy_check(graph: Graph, x: np.ndarray, y: np.ndarray, schedules: Mapping[str, Schedule], *,
                 readout: Readout = "sum_membrane", out_dir: str | Path | None = None,
                 pipeline: str = DEFAULT_PIPELINE, batch: int = 256,
                 progress: bool = False) -> DeployReport:
    """Compile ``graph`` and classify ``x`` (samples, T, inputs) with the emulator and the host-built C
    under every schedule of ``schedules`` (name → schedule). ``out_dir``: keep the build there (C tree
    under ``c/``, the report in ``build.json``; written atomically, replacing an older aedc build);
    otherwise a temporary directory is used. Raises :class:`CodegenError` if a PE does
    not fit after cross-compilation, or if the host C cannot follow a schedule."""
    x = np.asarray(x, F32)
    y = np.asarray(y, np.int64)
    if x.ndim != 3 or len(x) == 0 or y.shape != (len(x),) or batch < 1:
        raise ValueError(f"deploy_check needs x (samples ≥ 1, T, inputs) and y (samples,) and batch ≥ 1; "
                         f"got x {x.shape}, y {y.shape}, batch {batch}")
    state = PassManager(pipeline).run(CompileState(graph=graph), PassContext())
    if not isinstance(state.sources, Sources) or not isinstance(state.placement, Placement):
        raise CodegenError(f"pipeline '{pipeline}' produced no C sources (it must end in emit-c)")
    compiled = state.graph
    inp = compiled.inputs[0]
    out = next(iter(compiled.outputs.values()))
    sending = sending_populations(compiled)
    prog = PlacedProgram.from_placement(compiled, state.placement)
    # a kept build is written atomically (a temp sibling renamed into place when complete)
    where: AbstractContextManager[str | Path] = (atomic_output_dir(out_dir) if out_dir is not None
                                                 else tempfile.TemporaryDirectory(prefix="aedc-deploy-"))
    with where as tmp:
        root = Path(tmp)
        c_dir = root / "c"
        state.sources.write(c_dir)
        sizes = cross_build(c_dir) if cross_compiler() is not None else []
        host_sources = {"sync": state.sources, "async": state.sources}
        if any(sched.mode == "event" for sched in schedules.values()):
            # the event schedule's tree (aedc.codegen.event_emit) beside the tick one, also cross-built
            host_sources["event"] = event_sources(state)[0]
            host_sources["event"].write(root / "c_event")
            if cross_compiler() is not None:
                sizes += cross_build(root / "c_event")
        paths: dict[str, PathScore] = {}
        identical: dict[str, bool] = {}
        for name, sched in schedules.items():
            emu = Emulator(prog, sched, exact=True)
            emu_v, emu_ev, emu_events = [], [], []
            for s in range(0, len(x), batch):
                res = emu.run_batch({inp: x[s:s + batch]}, metrics=False)
                emu_v.append(res.state[out]["v"].reshape((*res.state[out]["v"].shape[:2], -1)))
                emu_ev.append(res.events)
                emu_events.append(sum(np.count_nonzero(res.events[n].reshape(len(res.events[n]), -1),
                                                       axis=1) for n in sending))
            v = np.concatenate(emu_v)
            counts = np.concatenate(emu_events) if sending else np.zeros(len(x))
            ev_out = np.concatenate([e[out] for e in emu_ev]).reshape(v.shape)
            pred = _logits(v, ev_out, readout).argmax(axis=1)
            paths[f"emulator {name}"] = PathScore(float(np.mean(pred == y)), float(np.mean(counts)), pred)
            host_pred = np.zeros(len(x), np.int64)
            host_counts = np.zeros(len(x))
            same = True
            for i in _progress(len(x), f"host C {name}", progress):
                # the sources in memory (not the tree re-read from disk per sample), built once in c/.host
                tr = run_host(host_sources[sched.mode], {inp: x[i]},
                              work_dir=(root / "c_event" if sched.mode == "event" else c_dir) / ".host",
                              schedule=sched if sched.mode in ("async", "event") else None, program=prog)
                hv = tr.state[out]["v"].reshape(1, x.shape[1], -1)
                hev = tr.events[out].reshape(hv.shape)
                host_pred[i] = int(_logits(hv, hev, readout).argmax(axis=1)[0])
                host_counts[i] = sum(np.count_nonzero(tr.events[n]) for n in sending)
                b, j = divmod(i, batch)
                same = same and hv[0].tobytes() == v[i].tobytes() and all(
                    tr.events[n].tobytes() == emu_ev[b][n][j].astype(F32).tobytes() for n in emu_ev[b])
            paths[f"host C {name}"] = PathScore(float(np.mean(host_pred == y)), float(np.mean(host_counts)),
                                                host_pred)
            identical[name] = same
        report = DeployReport(pes=len(state.placement.pes), cross_compiled=bool(sizes),
                              max_dtcm_bytes=max((s.dynamic for s in sizes), default=0),
                              max_itcm_bytes=max((s.code for s in sizes), default=0),
                              paths=paths, identical=identical, samples=len(x))
        if out_dir is not None:  # the marker that makes it an aedc build directory (see aedc.outdir)
            (root / MARKER).write_text(json.dumps({"format": "aedc-deploy", "graph": graph.name,
                                                   "report": report.as_dict()}, indent=1) + "\n")
    return report


def _progress(n: int, what: str, enabled: bool) -> Iterable[int]:
    """``range(n)``, with a rich progress bar when ``enabled`` (host runs take a few ms per sample)."""
    if not enabled:
        return range(n)
    from rich.progress import track

    return track(range(n), description=what, transient=True)
