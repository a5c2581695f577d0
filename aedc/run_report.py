"""What ``aedc run`` writes: traces (npz), a raster/trace PNG and metrics JSON, into one atomic dir."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from aedc.emulator.emulator import Emulator, EmulatorResult
from aedc.errors import EmulatorError
from aedc.ir.graph import Graph
from aedc.timing.program import PlacedProgram
from aedc.timing.schedule import Schedule

MAX_RASTER_NEURONS = 512


def load_program(build_dir: Path, *, profile: str = "nir-euler", dt: float | None = None,
                 strict: bool = False) -> PlacedProgram:
    """The graph of a build dir (or a NIR file, imported with ``profile``/``dt``, or IR JSON), placed by
    its ``placement.json`` when there is one, else trivially."""
    from aedc.frontend.load import load_model

    graph = load_model(build_dir, profile=profile, dt=dt, strict=strict)
    placement = build_dir / "placement.json"
    if placement.is_file():
        from aedc.partition.model import Placement

        return PlacedProgram.from_placement(graph, Placement.load(placement))
    return PlacedProgram.trivial(graph)


def load_inputs(graph: Graph, path: Path) -> dict[str, np.ndarray]:
    """``.npy`` (the only input population, ``(T, *shape)`` or ``(T, N)``) or ``.npz`` keyed by name."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise EmulatorError(f"{path}: cannot read input ({exc})", where=str(path)) from None
    if isinstance(data, np.ndarray):
        if len(graph.inputs) != 1:
            raise EmulatorError(f"{path}: a .npy file feeds one input population, the graph has "
                                f"{list(graph.inputs)}; pass an .npz keyed by input name",
                                where=str(path))
        arrays = {graph.inputs[0]: data}
    else:
        arrays = {k: data[k] for k in data.files}
    for name, a in arrays.items():
        if a.dtype.kind not in "biuf":
            raise EmulatorError(f"{path}: input '{name}' has dtype {a.dtype}; inputs are numbers "
                                f"(float32 events or values, shape (T, *shape))", where=str(path))
        if a.ndim < 1 or a.shape[0] < 1:
            raise EmulatorError(f"{path}: input '{name}' has shape {a.shape}: no ticks to run "
                                f"(expected (T, *shape) with T ≥ 1)", where=str(path))
    return arrays


PER_EVENT_METRICS = ("spike_microsteps",)
"""Metrics with an entry per event: written to traces.npz (``microsteps/<pop>``), not metrics.json."""


def _plain(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v


def to_json_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """The JSON form of a run's metrics (arrays as lists, nested ones too)."""
    return {k: _plain(v) for k, v in metrics.items() if k not in PER_EVENT_METRICS}


def plot_run(result: EmulatorResult, graph: Graph, path: Path, title: str) -> None:
    """A raster per population (events; at most ``MAX_RASTER_NEURONS`` neurons) and the output's trace."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [p.name for p in graph.populations]
    out = next(iter(graph.outputs.values()), names[-1])
    fig, axes = plt.subplots(len(names) + 1, 1, figsize=(8, 1.4 * (len(names) + 1) + 0.6), sharex=True)
    for ax, n in zip(axes, names, strict=False):
        full = result.events[n].reshape(result.events[n].shape[0], -1)
        ev = full[:, :MAX_RASTER_NEURONS]
        t, i = np.nonzero(ev)
        ax.scatter(t, i, s=1, marker="|", color="k")
        shown = n if full.shape[1] <= MAX_RASTER_NEURONS else \
            f"{n}\n(first {MAX_RASTER_NEURONS} of {full.shape[1]:,})"  # say so, never cap silently
        ax.set_ylabel(shown, rotation=0, ha="right", fontsize=8)
        ax.set_ylim(-0.5, ev.shape[1] - 0.5)
    ax = axes[-1]
    trace = result.state.get(out, {}).get("v")
    series = trace if trace is not None else result.outputs[out]
    series = series.reshape(series.shape[0], -1)[:, :8]
    ax.plot(series, lw=0.8)
    ax.set_ylabel(f"{out}\n{'v' if trace is not None else 'value'}", rotation=0, ha="right", fontsize=8)
    ax.set_xlabel("local tick")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_to_dir(build_dir: Path, input_path: Path, output: Path, *, steps: int | None, schedule: Schedule,
               exact: bool, progress: Callable[[str], None], profile: str = "nir-euler",
               dt: float | None = None, strict: bool = False, devices: int | None = None,
               write: bool = True, steps_done: Callable[[int, int], None] | None = None
               ) -> dict[str, Any]:
    """Run a build on an input file and write traces.npz, raster.png, metrics.json, build.json;
    ``devices``: shard the PEs over that many JAX devices (:mod:`aedc.emulator.sharded`); ``write=False``
    runs without writing (the other processes of a multi-process run). ``steps_done(done, total)``:
    the emulator runs in chunks and reports its executor steps after each (:meth:`Emulator.run`'s
    ``progress``; a sharded run is one call and reports nothing)."""
    from aedc import __version__
    from aedc.outdir import atomic_output_dir

    progress("loading")
    program = load_program(build_dir, profile=profile, dt=dt, strict=strict)
    inputs = load_inputs(program.graph, input_path)
    progress("compiling")
    emulator = Emulator(program, schedule, exact=exact, devices=devices)
    chunked = steps_done if devices is None else None
    result = emulator.run(inputs, steps=steps, progress=chunked) if chunked is not None else \
        emulator.run(inputs, steps=steps)
    metrics = to_json_metrics(result.metrics)
    if not write:
        return metrics
    with atomic_output_dir(output) as tmp:
        progress("writing traces")
        arrays = {f"events/{k}": v for k, v in result.events.items()}
        arrays.update({f"outputs/{k}": v for k, v in result.outputs.items()})
        arrays.update({f"state/{k}/{var}": a for k, d in result.state.items() for var, a in d.items()})
        arrays["tick_times_us"] = result.tick_times
        for k, v in result.metrics.get("spike_microsteps", {}).items():
            arrays[f"microsteps/{k}"] = np.asarray(v)
        np.savez_compressed(tmp / "traces.npz", **arrays)  # type: ignore[arg-type]
        progress("plotting")
        plot_run(result, program.graph, tmp / "raster.png",
                 f"{program.graph.name}: {schedule.mode}, {metrics['ticks']} ticks")
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=1, sort_keys=True) + "\n")
        run = {"aedc_version": __version__, "kind": "run", "build": str(build_dir),
               "input": str(input_path), "schedule": schedule.__dict__, "exact": exact, "devices": devices,
               "pes": program.n_pes, "semantics": program.graph.semantics.model_dump(mode="json")}
        (tmp / "build.json").write_text(json.dumps(run, indent=1, sort_keys=True, default=list) + "\n")
    return metrics
