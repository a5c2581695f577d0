"""The `aedc` command line: compile, inspect, passes.

Exit codes: 0 ok; 2 bad input (any :class:`~aedc.errors.AedcError`); 3 the network does not fit the
machine; 4 the operating system refused a read or write (permissions, read-only or full disk); 1 an
internal bug (the traceback is saved to a file and its path printed — please report it).
Heavy stages (JAX, OR-Tools) are imported only by the commands that run them, so ``aedc --help`` is fast.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import sys
import tempfile
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from aedc import __version__
from aedc.errors import AedcError
from aedc.passes.pipelines import DEFAULT_PIPELINE

if TYPE_CHECKING:  # annotations only: the commands import their stages when they run
    from aedc.codegen.build import PESize
    from aedc.ir.graph import Graph
    from aedc.machine import Machine
    from aedc.partition.model import Placement

app = typer.Typer(
    name="aedc", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Compile spiking neural networks (NIR) into asynchronous event-driven SpiNNaker2 programs.")
PIPED_WIDTH = 160
"""Columns of the tables when output goes to a file or pipe (rich's 80 cut the headers); a terminal's own
width, or $COLUMNS, wins."""
_piped = None if sys.stdout.isatty() or "COLUMNS" in os.environ else PIPED_WIDTH
out = Console(width=_piped)
err = Console(stderr=True, width=None if sys.stderr.isatty() or "COLUMNS" in os.environ else PIPED_WIDTH)


P = ParamSpec("P")
R = TypeVar("R")


def _crash_report(exc: BaseException) -> Path:
    fd, name = tempfile.mkstemp(prefix="aedc-crash-", suffix=".txt")
    with open(fd, "w") as fh:
        fh.write(f"aedc {__version__}\nargv: {sys.argv}\n\n")
        fh.write("".join(traceback.format_exception(exc)))
    return Path(name)


def _errors_to_exit_codes(fn: Callable[P, R]) -> Callable[P, R]:
    """Map errors to one-line messages and exit codes (2 bad input, 3 does not fit, 1 internal bug)."""

    def show_warning(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
        err.print(f"[yellow]warning:[/yellow] {message}", highlight=False, soft_wrap=True)

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            with warnings.catch_warnings():
                warnings.showwarning = show_warning
                return fn(*args, **kwargs)
        except AedcError as exc:
            err.print(f"[bold red]error:[/bold red] {exc}", highlight=False, soft_wrap=True)
            for note in getattr(exc, "__notes__", ()):
                err.print(f"  [dim]{note}[/dim]", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:  # Ctrl-C: the output context has removed its temp dir by now
            err.print("[bold red]interrupted[/bold red]: nothing was written", highlight=False)
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort):
            raise
        except OSError as exc:  # the operating system refused a read or write: not an aedc bug
            where = f": {exc.filename}" if exc.filename else ""
            err.print(f"[bold red]error:[/bold red] {exc.strerror or exc}{where}", highlight=False,
                      soft_wrap=True)
            raise typer.Exit(4) from None
        except Exception as exc:
            report = _crash_report(exc)
            err.print(f"[bold red]internal error:[/bold red] {type(exc).__name__}: {exc}\n"
                      f"This is a bug in aedc; please report it with the file {report}",
                      highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


def _version(value: bool) -> None:
    if value:
        out.print(f"aedc {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """aedc: NIR → event-dataflow IR → passes → (partition, routing, C) — and a reference simulator."""


def _graph_table(graph: Graph) -> Table:
    from aedc.summary import population_rows

    table = Table(title=f"populations of '{graph.name}'", title_justify="left")
    for col, just in (("population", "left"), ("model", "left"), ("shape", "left"), ("neurons", "right"),
                      ("events", "left"), ("synapses in", "right"), ("fan-in", "right"),
                      ("fan-out", "right")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in population_rows(graph):
        table.add_row(r.name, r.model, "×".join(map(str, r.shape)), f"{r.size:,}", r.event_rule,
                      f"{r.synapses_in:,}", f"{r.fan_in:.1f}", f"{r.fan_out:.1f}")
    return table


def _projection_table(graph: Graph) -> Table:
    from aedc.summary import projection_rows

    table = Table(title="projections", title_justify="left")
    for col in ("projection", "kind", "pre → post", "synapses", "delay", "back-edge"):
        table.add_column(col)
    for p in projection_rows(graph):
        table.add_row(p.name, p.kind, f"{p.pre} → {p.post}", f"{p.synapses:,}", str(p.delay),
                      "yes" if p.back_edge else "")
    return table


def _semantics_options(model: Path, profile: str | None, dt: float | None) -> str:
    """The profile to import ``model`` with; a warning when ``--profile``/``--dt`` cannot apply (an IR
    file or a build already records its semantics), instead of ignoring them silently."""
    from aedc.frontend.load import is_nir_file

    given = [name for name, value in (("--profile", profile), ("--dt", dt)) if value is not None]
    if given and model.exists() and not is_nir_file(model):
        warnings.warn(f"{' and '.join(given)} ignored: {model} is an aedc IR/build, whose semantics are "
                      f"recorded in it (aedc inspect {model} shows them); they apply to NIR files",
                      stacklevel=2)
    return profile or "auto"


def _machine(chips: str) -> Machine:
    from aedc.errors import AedcError
    from aedc.machine import MAX_CHIPS, Machine

    try:
        w, h = (int(v) for v in chips.lower().replace("×", "x").split("x"))
    except ValueError:
        raise AedcError(f"--chips expects W×H such as 8x6, got {chips!r}", where="--chips") from None
    if w < 1 or h < 1 or w * h > MAX_CHIPS:
        raise AedcError(f"--chips {chips}: each side must be ≥ 1 and the grid at most {MAX_CHIPS:,} chips "
                        f"(got {w}×{h} = {w * h:,}); a 48-chip board is 8x6", where="--chips")
    return Machine.spinnaker2((w, h))


def _fullest_pe_table(placement: Placement) -> Table:
    from aedc.partition.report import budget_lines

    if not placement.pes:  # an empty graph (or one whose populations were all removed) places nothing
        return Table(title="no PE used: nothing to place", title_justify="left")
    u, m = placement.fullest(), placement.machine
    names = ", ".join(placement.slices[i].label for i in u.slices)
    table = Table(title=f"fullest PE {u.pe} ({names}); {len(placement.pes)} PEs used",
                  title_justify="left")
    for col, just in (("term", "left"), ("bytes", "right"), ("", "left")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for term, value, note in budget_lines(u, m.dynamic_region_bytes, m.itcm_bytes):
        table.add_row(term, f"{value:,}", note)
    return table


def _sizes_table(sizes: list[PESize], machine: Machine | None) -> Table:
    from aedc.codegen.build import size_summary

    n = len(sizes)
    table = Table(title=f"cross-compiled {n} PE program{'s' if n != 1 else ''} (c/sizes.json): the "
                        f"fullest PE per budget", title_justify="left")
    for col, just in (("budget", "left"), ("PE", "left"), ("bytes", "right"), ("limit", "right"),
                      ("fill", "right")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for what, pe, used, limit in size_summary(sizes, machine):
        table.add_row(what, pe, f"{used:,}", f"{limit:,}", f"{100 * used / limit:.0f}%")
    return table


def _placement_table(placement: Placement) -> Table:
    from aedc.partition.report import quality

    m = placement.machine
    table = Table(title=f"placement ({placement.solver}): {quality(placement)}", title_justify="left")
    for col, just in (("PE", "left"), ("slices", "left"), ("bytes", "right"), ("fill", "right"),
                      ("events/tick", "right")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for u in placement.pes:
        table.add_row(str(u.pe), ", ".join(placement.slices[i].label for i in u.slices),
                      f"{u.memory.total:,}", f"{100 * u.memory.total / m.dynamic_region_bytes:.0f}%",
                      f"{u.events_per_tick:,.0f}")
    return table


@app.command("compile")
@_errors_to_exit_codes
def compile_cmd(
    model: Annotated[Path, typer.Argument(help="NIR file (.nir), IR JSON, or an aedc build dir.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Build directory to (re)create.")],
    pipeline: Annotated[str, typer.Option(help="Pass pipeline, e.g. 'verify,fold-scale,dce'.")] =
        DEFAULT_PIPELINE,
    profile: Annotated[str | None, typer.Option(help="Discrete-time semantics of a NIR file: auto "
                                                     "(default: the exporting framework's, detected "
                                                     "from the file), nir-euler, snntorch, sinabs, "
                                                     "norse, rockpool.")] = None,
    dt: Annotated[float | None, typer.Option(help="Tick length in seconds (default: the profile's).")]
        = None,
    strict: Annotated[bool, typer.Option("--strict", help="Refuse a NIR file whose semantics warnings "
                                         "(unstable Euler step, a known exporter quirk) would apply.")]
        = False,
    dump_after: Annotated[list[str] | None, typer.Option(
        "--dump-after", help="Write the IR after this pass (repeatable; '*' = all).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for every randomised stage.")] = 0,
    verify: Annotated[bool, typer.Option("--verify/--no-verify",
                                         help="Verify the IR after every pass and prove that the "
                                              "router tables deliver every key.")] = True,
    chips: Annotated[str, typer.Option(help="Target machine: a W×H grid of SpiNNaker2 chips, e.g. 8x6.")]
        = "1x1",
    build_c: Annotated[bool, typer.Option("--build/--no-build", help="Cross-compile the generated C "
                                          "(arm-none-eabi-gcc) and check every PE's sizes.")] = False,
    event: Annotated[bool, typer.Option("--event", help="Generate the event-driven schedule's runtime "
                                        "too (slice{event=true} budgets its state, emit-c{event=true} "
                                        "writes it).")] = False,
) -> None:
    """Import MODEL, run the pass pipeline and write ir.json, summary.txt, build.json (and
    placement.json when the pipeline places, c/ when it emits C) to OUTPUT."""
    from aedc.frontend.load import load_model
    from aedc.ir.serialize import to_json
    from aedc.outdir import atomic_output_dir
    from aedc.passes import CompileState, PassContext, PassManager, ProgressInstrument
    from aedc.summary import text_summary

    graph = load_model(model, profile=_semantics_options(model, profile, dt), dt=dt, strict=strict)
    manager = PassManager(pipeline)
    if event:
        manager = PassManager([dataclasses.replace(p, event=True)  # type: ignore[call-arg]
                               if p.name in ("slice", "emit-c") else p
                               for p in manager.pipeline.passes])
        if "emit-c" not in manager.pipeline.names:
            raise AedcError("--event needs a pipeline that ends in 'emit-c'", where="--event")
    sizes: list[PESize] = []
    with atomic_output_dir(output) as tmp, err.status("compiling") as status:
        def progress(event: str, index: int, pass_: object) -> None:
            if event == "start":
                status.update(f"pass {index + 1}/{len(manager.pipeline)}: {pass_}")

        ctx = PassContext(seed=seed, verify_each=verify, dump_after=tuple(dump_after or ()),
                          dump_dir=tmp / "dumps", instruments=(ProgressInstrument(progress),),
                          target=_machine(chips))
        state = manager.run(CompileState(graph=graph), ctx)
        if state.placement is not None:
            state.placement.save(tmp / "placement.json")
        if state.tables is not None:
            state.tables.save(tmp / "routing.json")
        if state.sources is not None:
            state.sources.write(tmp / "c")
            if build_c:
                from aedc.codegen.build import cross_build

                def built(done: int, total: int, pe: str) -> None:
                    status.update(f"cross-compiling: {done}/{total} PEs built (last {pe})")

                sizes = cross_build(tmp / "c", ctx.target, progress=built)
        elif build_c:
            raise AedcError("--build needs a pipeline that ends in 'emit-c'")
        (tmp / "ir.json").write_text(to_json(state.graph))
        (tmp / "summary.txt").write_text(text_summary(state.graph))
        (tmp / "pipeline.txt").write_text(str(manager.pipeline) + "\n")
        build = {"aedc_version": __version__, "source": Path(model).name,
                 "source_sha256": hashlib.sha256(Path(model).read_bytes()).hexdigest()
                 if Path(model).is_file() else None,
                 "pipeline": str(manager.pipeline), "seed": seed,
                 "semantics": state.graph.semantics.model_dump(mode="json"),
                 "diagnostics": [str(d) for d in ctx.diagnostics]}
        (tmp / "build.json").write_text(json.dumps(build, indent=1, sort_keys=True) + "\n")
    out.print(_graph_table(state.graph))
    timing = Table(title="passes", title_justify="left")
    timing.add_column("pass")
    timing.add_column("ms", justify="right")
    for p, secs in manager.timings:
        timing.add_row(str(p), f"{secs * 1e3:.1f}")
    out.print(timing)
    for d in ctx.diagnostics:
        out.print(f"[dim]{d}[/dim]")
    if state.placement is not None:
        out.print(_fullest_pe_table(state.placement))
    if sizes:
        out.print(_sizes_table(sizes, ctx.target))
    s = state.graph.summary()
    out.print(f"[green]wrote[/green] {output}/ (ir.json, summary.txt, build.json"
              f"{', placement.json' if state.placement is not None else ''}"
              f"{', routing.json' if state.tables is not None else ''}"
              f"{', c/' if state.sources is not None else ''}): "
              f"{s['neurons']:,} neurons, {s['synapses']:,} synapses")


@app.command("inspect")
@_errors_to_exit_codes
def inspect_cmd(
    path: Annotated[Path, typer.Argument(help="NIR file, IR JSON or aedc build directory.")],
    profile: Annotated[str | None, typer.Option(help="Semantics profile used when importing NIR "
                                                     "(default auto: the exporting framework's, "
                                                     "detected from the file).")] = None,
) -> None:
    """Show populations (sizes, synapses, fan-in/fan-out), projections and semantics of a model; for a
    NIR file without --profile, the framework that wrote it, the profile chosen and the evidence."""
    from aedc.frontend.load import load_model

    _semantics_options(path, profile, None)  # warns when --profile cannot apply
    graph = load_model(path, profile=profile or "auto")
    out.print(_graph_table(graph))
    out.print(_projection_table(graph))
    s, sem = graph.summary(), graph.semantics
    out.print(f"{s['neurons']:,} neurons (+{s['inputs']:,} inputs), {s['synapses']:,} synapses; "
              f"profile {sem.profile}, dt={sem.dt:g}s, {sem.discretisation}, reset {sem.reset}"
              f"{' one tick late' if sem.reset_next_tick else ''}"
              f"{' (re-checked)' if sem.reset_recheck else ''}, spike if v {sem.threshold_cmp} threshold"
              f"{', current first' if sem.current_first else ''}"
              f"{', unscaled input: ' + ', '.join(sem.unscaled_input) if sem.unscaled_input else ''}")
    out.print("outputs: " + (", ".join(f"{k} ← {v}" for k, v in graph.outputs.items()) or "none"))
    if "framework" in graph.meta:  # imported with profile auto (aedc.frontend.detect)
        out.print(f"detected: {graph.meta['framework']} → profile {sem.profile}, dt={sem.dt:g}s "
                  f"({graph.meta.get('dt_source', '?')}); evidence: {graph.meta['profile_evidence']}",
                  highlight=False)
    if "quirks_fixed" in graph.meta:
        out.print(f"quirks fixed: {graph.meta['quirks_fixed']}", highlight=False)
    if path.is_dir() and (path / "placement.json").is_file():
        from aedc.partition.model import Placement

        placement = Placement.load(path / "placement.json")
        out.print(_placement_table(placement))
        out.print(_fullest_pe_table(placement))


@app.command("report")
@_errors_to_exit_codes
def report_cmd(
    build: Annotated[Path, typer.Argument(help="An aedc build directory with placement.json.")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="PNG to write "
                                                "(default BUILD/placement.png).")] = None,
) -> None:
    """Draw the placement of BUILD as a PNG map of the chip(s): QPE grid, PEs by population, fill;
    with routing.json also routing.png beside it (router entries per chip, links used)."""
    from aedc.errors import AedcError
    from aedc.partition.model import Placement
    from aedc.partition.report import draw_placement

    if not (build / "placement.json").is_file():
        raise AedcError(f"{build} has no placement.json (compile with a pipeline that ends in 'place')",
                        where=str(build))
    target = output or build / "placement.png"
    if target.suffix.lower() != ".png":
        raise AedcError(f"-o {target}: the report is a PNG image; give a name ending in .png",
                        where=str(target))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AedcError(f"cannot create {target.parent}: {exc.strerror or exc}", where=str(target)) from None
    png = draw_placement(Placement.load(build / "placement.json"), target)
    out.print(f"[green]wrote[/green] {png}")
    if (build / "routing.json").is_file():
        from aedc.routing.model import RoutingTables
        from aedc.routing.plot import plot_routing

        png = plot_routing(RoutingTables.load(build / "routing.json"), png.with_name("routing.png"))
        out.print(f"[green]wrote[/green] {png}")


@app.command("passes")
@_errors_to_exit_codes
def passes_cmd() -> None:
    """List the registered passes and the default pipeline."""
    from aedc.passes import available_passes

    table = Table(title="passes", title_justify="left")
    table.add_column("name")
    table.add_column("what it does")
    for name, help_text in available_passes().items():
        table.add_row(name, help_text)
    out.print(table)
    out.print(f"default pipeline: {DEFAULT_PIPELINE}")


@contextlib.contextmanager
def _run_progress(schedule: str) -> Iterator[tuple[Callable[[str], None], Callable[[int, int], None]]]:
    """``(phase(what), steps_done(done, total))`` for ``aedc run``: a rich bar on stderr with elapsed
    time and an ETA from the chunks done so far, erased at the end; no-ops when stderr is not a
    terminal (rich would still write a newline into a pipe)."""
    if not err.is_terminal:
        yield (lambda what: None), (lambda done, total: None)
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    unit = "steps" if schedule == "async" else "ticks"  # async: the executor's wavefront steps
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn(unit), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                  console=err, transient=True) as bar:
        task = [bar.add_task("run", total=None)]

        def phase(what: str, total: int | None = None) -> None:  # a new task: its own clock and ETA
            bar.remove_task(task[0])
            task[0] = bar.add_task(what, total=total)
            bar.refresh()

        def steps_done(done: int, total: int) -> None:
            if done == 0:
                phase(f"emulating ({schedule})", total)
            bar.update(task[0], completed=done, refresh=True)

        yield phase, steps_done


@app.command("run")
@_errors_to_exit_codes
def run_cmd(
    build: Annotated[Path, typer.Argument(help="aedc build directory (or NIR / IR JSON file).")],
    input: Annotated[Path, typer.Option("--input", help=".npy (T, *shape) for the only input, or .npz "
                                                       "keyed by input population.")],
    steps: Annotated[int | None, typer.Option(help="Ticks to run (default: the input length).")] = None,
    schedule: Annotated[str, typer.Option(help="sync (= reference), async (tick-based GALS: one-tick "
                                                "links) or event (event-driven: integrate on arrival, "
                                                "fire at once, micro-steps within each tick).")] = "sync",
    jitter_us: Annotated[int, typer.Option(help="async: per-tick jitter in µs (period 1000 µs).")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the async jitter / the event policy 'random'.")] = 0,
    policy: Annotated[str, typer.Option(help="event: which candidates fire first when more than "
                                             "--events-per-step wait: arrival, momentum, random.")]
        = "arrival",
    events_per_step: Annotated[int, typer.Option(help="event: spikes a PE fires per micro-step "
                                                      "(0 = all).")] = 0,
    max_microsteps: Annotated[int, typer.Option(help="event: micro-steps per tick at most.")] = 64,
    layered: Annotated[bool, typer.Option("--layered", help="event: a population waits for its "
                                          "inputs (layer-synchronous; equals sync).")] = False,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Run directory (default "
                                                "BUILD/run, or build/<name>.run for a file).")] = None,
    profile: Annotated[str | None, typer.Option(help="Discrete-time semantics of a NIR file: auto "
                                                     "(default: the exporting framework's, detected "
                                                     "from the file), nir-euler, snntorch, sinabs, "
                                                     "norse, rockpool.")] = None,
    dt: Annotated[float | None, typer.Option(help="Tick length of a NIR file in seconds.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Refuse a NIR file whose semantics warnings "
                                         "would apply.")] = False,
    devices: Annotated[int | None, typer.Option(min=1, help="sync/async: shard the PEs (by chip) over N "
                                                "JAX devices, the same answers bit for bit; on CPU, N "
                                                "virtual devices are made.")] = None,
    processes: Annotated[int | None, typer.Option(min=1, help="Run as one of N processes (jax.distributed, "
                                                  "gloo on CPU; with --process-id and --coordinator): "
                                                  "the PEs are sharded over the devices of all of them "
                                                  "(--devices: how many, default all); process 0 writes "
                                                  "the run directory.")] = None,
    process_id: Annotated[int, typer.Option(min=0, help="This process's index, 0..N-1.")] = 0,
    coordinator: Annotated[str | None, typer.Option(help="host:port of the coordinator (process 0), "
                                                    "the same for every process.")] = None,
) -> None:
    """Emulate BUILD on an input (JAX): traces.npz, raster.png, metrics.json in the run directory.
    On a terminal, stderr shows the run's progress in chunks of ticks with an ETA (nothing when piped;
    TTY_COMPATIBLE=1 forces it)."""
    import os
    import sys

    local = devices if processes is None or devices is None else max(devices // processes, 1)
    if local is not None and local > 1 and "jax" not in sys.modules:
        # JAX reads this once, at import: the CPU platform then offers N devices (GPUs are unaffected)
        flag = f"--xla_force_host_platform_device_count={local}"
        if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
            os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flag}".strip()

    from aedc.run_report import run_to_dir  # imports JAX
    from aedc.timing.schedule import Schedule

    if processes is not None:
        if coordinator is None or process_id >= processes:
            raise AedcError(f"--processes {processes} needs --coordinator host:port and --process-id "
                            f"0..{processes - 1} (got {coordinator!r}, {process_id})", where="--processes")
        import jax

        from aedc.emulator.sharded import init_processes

        init_processes(coordinator, processes, process_id)
        devices = devices or jax.device_count()

    if schedule not in ("sync", "async", "event"):
        raise AedcError(f"--schedule must be sync, async or event, got {schedule!r}", where="--schedule")
    if schedule == "event":
        if policy not in ("arrival", "momentum", "random"):
            raise AedcError(f"--policy must be arrival, momentum or random, got {policy!r}", where="--policy")
        sched = Schedule.event_driven(events_per_step, policy, seed,  # type: ignore[arg-type]
                                      max_microsteps=max_microsteps, layered=layered)
    elif schedule == "sync":
        sched = Schedule.sync()
    else:
        sched = Schedule.asynchronous(period_us=1000, jitter_us=jitter_us, link_us=100, seed=seed)
    chosen = _semantics_options(build, profile, dt)
    # a file's run goes to the working directory's build/, never next to the model in a source tree
    target = output or (build / "run" if build.is_dir() else Path("build") / f"{build.stem}.run")
    with _run_progress(schedule) as (phase, steps_done):
        metrics = run_to_dir(build, input, target, steps=steps, schedule=sched, exact=True,
                             progress=phase, profile=chosen, dt=dt, strict=strict, devices=devices,
                             write=process_id == 0, steps_done=steps_done)
    if process_id:
        out.print(f"process {process_id} of {processes}: ran its shards; process 0 writes {target}/")
        return
    out.print(f"[green]wrote[/green] {target}/ (traces.npz, raster.png, metrics.json): "
              f"{metrics['ticks']} ticks, {metrics['events_total']:,} events, sparsity "
              f"{metrics['sparsity_total']:.4f}, {metrics['noc_packets']:,} NoC packets, first output "
              f"at tick {metrics['first_output_tick']}, decision at tick {metrics['decision_tick']}")
    if devices is not None:
        out.print(f"sharded over {metrics['shards']} devices (neurons {metrics['shard_neurons']}): "
                  f"{metrics['exchanges']:,} exchanges of {metrics['exchange_floats']:,} floats per "
                  f"device, lookahead {metrics['lookahead_steps']} steps")
    if metrics.get("rx_queue_overflow_pe_ticks"):
        err.print(f"[yellow]warning:[/yellow] {metrics['rx_queue_overflow_pe_ticks']:,} PE-ticks receive "
                  f"more packets than the chip runtime's receive queue holds (at most "
                  f"{metrics['rx_packets_max_per_tick']:,} in one tick, queue 256): on the chip those "
                  f"packets would be dropped and counted, here they are not; lower the input rate or "
                  f"slice{{max-neurons=...}} the receiving populations")
    if schedule == "event":
        out.print(f"event-driven: micro-steps per tick ≤ {metrics['microsteps_max']}, decision at (tick, "
                  f"micro-step) {tuple(metrics['decision'])}, overflow {metrics['overflow']:,} "
                  f"candidates, {metrics['undelivered']:,} undelivered spikes")
        busy = max(metrics["busy_fraction_per_pe"], default=0.0)
        out.print(f"µs time line (PE cost model {sched.cost.clock_mhz:g} MHz): decision at "
                  f"{metrics['decision_us']:,.1f} µs ({metrics['decision_latency_us']:,.1f} µs into its "
                  f"tick), "
                  f"busiest PE {busy:.1%} busy, longest tick {metrics['makespan_max_us']:,.1f} µs "
                  f"({metrics['deadline_misses']} past the next tick), receive queue ≤ "
                  f"{metrics['queue_depth_max']} packets")


@app.command("verify")
@_errors_to_exit_codes
def verify_cmd(
    build: Annotated[Path, typer.Argument(help="aedc build directory with generated C (c/).")],
    target: Annotated[str, typer.Option(help="What runs the PE binaries: qemu (the cross-compiled "
                                             "programs on an emulated Cortex-M4F).")] = "qemu",
    input: Annotated[Path | None, typer.Option("--input", help=".npy/.npz input as for 'aedc run' "
                                               "(default: random spikes, p = 0.2, from --seed).")] = None,
    steps: Annotated[int | None, typer.Option(help="Ticks to replay (default: the input's, or 20).")]
        = None,
    pe: Annotated[list[str] | None, typer.Option("--pe", help="Replay only this PE, e.g. 0,0:2,1:0 "
                                                 "(repeatable).")] = None,
    sample: Annotated[int | None, typer.Option(help="Replay N PEs spread over the build (first and "
                                                    "last included).")] = None,
    schedule: Annotated[str | None, typer.Option(help="sync, async (the emulator's GALS schedule, period "
                                                       "1000 µs, link 100 µs) or event (the event-driven "
                                                       "schedule; the default, and the only one, for a "
                                                       "build compiled with --event; else sync).")]
        = None,
    jitter_us: Annotated[int | None, typer.Option(help="async: per-tick jitter in µs (default 0).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the random input, the async jitter and the event "
                                           "policy 'random'.")] = 0,
    policy: Annotated[str | None, typer.Option(help="event: arrival (default), momentum or random.")]
        = None,
    events_per_step: Annotated[int | None, typer.Option(help="event: spikes a PE fires per micro-step "
                                                             "(0 = all, the default).")] = None,
    max_microsteps: Annotated[int | None, typer.Option(help="event: micro-steps per tick at most "
                                                            "(default 64).")] = None,
    layered: Annotated[bool | None, typer.Option("--layered", help="event: layer-synchronous order.")]
        = None,
    jobs: Annotated[int, typer.Option(help="Cross-builds and QEMU runs in parallel.")] = 2,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="JSON report (default "
                                                "BUILD/verify-qemu.json).")] = None,
) -> None:
    """Run every PE's cross-compiled program on QEMU (mps2-an386) with the packets it received in the
    host/emulator run; compare sent packets and float32 state bit for bit; count instructions per tick.
    An event build (`aedc compile --event`) replays the event runtime's calls (micro-steps) instead."""
    import numpy as np

    from aedc.codegen.host import manifest_of
    from aedc.codegen.qemu import CYCLES_PER_INSTRUCTION, verify_qemu

    if target != "qemu":
        raise AedcError(f"--target must be qemu, got {target!r}", where="--target")
    manifest = manifest_of(build)
    event_build = "event" in manifest
    schedule = schedule or ("event" if event_build else "sync")
    if schedule not in ("sync", "async", "event"):
        raise AedcError(f"--schedule must be sync, async or event, got {schedule!r}", where="--schedule")
    if event_build and schedule != "event":
        raise AedcError(f"{build} was compiled with --event: its host program runs the event-driven "
                        f"schedule only, not {schedule}; drop --schedule (event is the default for it) or "
                        f"compile without --event", where="--schedule")
    if schedule == "event" and not event_build:
        raise AedcError(f"{build} has no event-schedule code: compile it with `aedc compile --event` to "
                        f"replay the event-driven schedule", where="--schedule")
    given = {"--jitter-us": jitter_us, "--policy": policy, "--events-per-step": events_per_step,
             "--max-microsteps": max_microsteps, "--layered": layered}
    applies = {"--jitter-us": ("async",)} | dict.fromkeys(
        ("--policy", "--events-per-step", "--max-microsteps", "--layered"), ("event",))
    for option, value in given.items():  # an option the schedule has no use for is refused, not ignored
        if value is not None and schedule not in applies[option]:
            raise AedcError(f"{option} applies to the {applies[option][0]} schedule only, not {schedule}; "
                            f"drop it or pass --schedule {applies[option][0]}", where=option)
    policy, events_per_step, layered = policy or "arrival", events_per_step or 0, bool(layered)
    max_microsteps = 64 if max_microsteps is None else max_microsteps
    if policy not in ("arrival", "momentum", "random"):
        raise AedcError(f"--policy must be arrival, momentum or random, got {policy!r}", where="--policy")
    names = [p["pe"] for p in manifest["pes"]]
    chosen = list(pe) if pe else None
    if sample is not None:
        if sample < 1:
            raise AedcError(f"--sample must be ≥ 1, got {sample}", where="--sample")
        spread = (len(names) - 1) / max(sample - 1, 1)
        idx = sorted({round(j * spread) for j in range(min(sample, len(names)))})
        chosen = sorted({*(chosen or ()), *(names[j] for j in idx)}, key=names.index)
    program = None
    sched = None
    if input is not None or schedule == "async":
        from aedc.run_report import load_inputs, load_program  # imports JAX

        program = load_program(build)
    if input is not None:
        assert program is not None
        inputs = load_inputs(program.graph, input)
    else:
        rng = np.random.default_rng(seed)
        T = steps if steps is not None else 20
        pops = manifest["populations"]
        inputs = {n: (rng.random((T, *pops[n]["shape"])) < 0.2).astype(np.float32)
                  for n in manifest["inputs"]["populations"]}
    if schedule != "sync":
        from aedc.timing.schedule import Schedule

        sched = (Schedule.asynchronous(period_us=1000, jitter_us=jitter_us or 0, link_us=100, seed=seed)
                 if schedule == "async" else
                 Schedule.event_driven(events_per_step, policy, seed,  # type: ignore[arg-type]
                                       max_microsteps=max_microsteps, layered=layered))
    with err.status("replaying on QEMU"):
        report = verify_qemu(build, inputs, steps=steps, pes=chosen, schedule=sched, program=program,
                             jobs=jobs)
    rows = report.rows()
    table = Table(title=f"QEMU replay (mps2-an386, -icount): {len(rows)} PEs × {report.steps} ticks; cycles "
                        f"≈ {CYCLES_PER_INSTRUCTION:g} × instructions", title_justify="left")
    for col in ("PE", "in", "out", "worst tick", "instr. worst", "instr. mean", "cycles/budget",
                "ms/tick", "result"):
        table.add_column(col, justify="left" if col in ("PE", "result") else "right")
    for r in rows:
        table.add_row(r["pe"], f"{r['received']:,}", f"{r['sent']:,}", str(r["worst_tick"]),
                      f"{r['instructions_worst']:,}", f"{r['instructions_mean']:,.0f}",
                      f"{100 * r['budget_fill']:.1f}%", f"{r['qemu_ms_per_tick']:.2f}",
                      "[green]identical[/green]" if r["ok"] else f"[red]{r['mismatch']}[/red]")
    out.print(table)
    target_json = output or (build / "verify-qemu.json")
    doc = {"steps": report.steps, "schedule": schedule, "cycles_per_instruction": CYCLES_PER_INSTRUCTION,
           "pes": rows}
    if schedule == "event":
        doc.update(policy=policy, events_per_step=events_per_step, max_microsteps=max_microsteps,
                   layered=layered)
    target_json.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    report.raise_on_mismatch()
    worst = max(rows, key=lambda r: r["budget_fill"])
    out.print(f"[green]bit-identical[/green]: {len(rows)} PEs × {report.steps} ticks; fullest PE "
              f"{worst['pe']}: "
              f"{worst['instructions_worst']:,} instructions ≈ {worst['cycles_worst']:,.0f} cycles = "
              f"{100 * worst['budget_fill']:.1f}% of its tick; wrote {target_json}")


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds like an exception, so a half-written build is removed


def main() -> None:
    """Console entry point. SIGTERM (a job scheduler, ``timeout``) exits with 143 and Ctrl-C (SIGINT)
    with 130, both after cleaning up. SIGINT is set to Python's handler explicitly: a shell's background
    job inherits it ignored, and a library may have replaced it."""
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    app()


if __name__ == "__main__":
    main()
