"""Chunked execution (what ``aedc run`` uses to show progress): running the scan in chunks of steps, each
from the previous chunk's carried state, gives the unchunked run's numbers bit for bit — sync, async
(jitter, a slow PE, populations split over PEs) and the event schedule, one sample and a batch, exact
and fast mode — and reports every chunk; the CLI draws that progress on a terminal only."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from rich.console import Console
from strategies import SPIKING_MODELS, graphs_with_inputs
from test_emulator_placement import split_placement
from typer.testing import CliRunner

from aedc import cli
from aedc.emulator import Emulator, EmulatorResult, PlacedProgram, Schedule
from aedc.errors import EmulatorError
from aedc.ir import Graph, save
from aedc.machine import Machine
from aedc.run_report import to_json_metrics

SCHEDULES = {
    "sync": Schedule.sync(),
    "async": Schedule.asynchronous(period_us=100, jitter_us=60, link_us=30, hop_us=20,
                                   pe_periods_us=((1, 170),), seed=4),
    "event": Schedule.event_driven(events_per_step=1, policy="random", seed=2, max_microsteps=6),
}


def _same(a: EmulatorResult, b: EmulatorResult) -> None:
    for part in ("events", "outputs"):
        da, db = getattr(a, part), getattr(b, part)
        assert da.keys() == db.keys()
        for k in da:
            assert np.array_equal(da[k].view(np.uint32), db[k].view(np.uint32)), (part, k)
    for k, d in a.state.items():
        for v, arr in d.items():
            assert np.array_equal(arr.view(np.uint32), b.state[k][v].view(np.uint32)), (k, v)
    if a.microsteps is not None:
        assert b.microsteps is not None
        for k, m in a.microsteps.items():
            assert np.array_equal(m, b.microsteps[k]), k
    assert np.array_equal(a.tick_times, b.tick_times)


def _program(graph: Graph, mode: str) -> PlacedProgram:
    # sync/async: populations cut over several PEs (the step → tick reorder of a split population)
    if mode == "event":
        return PlacedProgram.trivial(graph)
    return PlacedProgram.from_placement(graph, split_placement(graph, 2, Machine.spinnaker2()))


def _check_chunked(graph: Graph, inputs: dict[str, np.ndarray], mode: str, chunk: int,
                   exact: bool) -> None:
    emu = Emulator(_program(graph, mode), SCHEDULES[mode], exact=exact)
    whole = emu.run(inputs)
    seen: list[tuple[int, int]] = []
    chunked = emu.run(inputs, chunk=chunk, progress=lambda done, total: seen.append((done, total)))
    _same(whole, chunked)
    mc, mw = to_json_metrics(chunked.metrics), to_json_metrics(whole.metrics)
    assert [k for k in mw if mc.get(k) != mw[k]] == []
    T = next(iter(inputs.values())).shape[0]
    G = emu.steps(T)
    assert G >= T if mode == "async" else G == T
    # one report before the first chunk and one after each: 0, chunk, 2·chunk, …, G
    assert seen == [(min(i * chunk, G), G) for i in range(-(-G // chunk) + 1)]


SETTINGS = settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck),
                    derandomize=True, database=None, phases=(Phase.generate,))


@SETTINGS
@given(graphs_with_inputs(T=7, max_pops=5, max_size=16), st.sampled_from(["sync", "async"]),
       st.sampled_from([1, 4, 100]), st.booleans())
def test_chunked_tick_run_equals_one_call_bit_for_bit(case: tuple[Graph, dict[str, np.ndarray]],
                                                      mode: str, chunk: int, exact: bool) -> None:
    _check_chunked(*case, mode, chunk, exact)


@SETTINGS
@given(graphs_with_inputs(T=7, models=SPIKING_MODELS, max_pops=4, max_size=12),
       st.sampled_from([1, 3, 100]))
def test_chunked_event_run_equals_one_call_bit_for_bit(case: tuple[Graph, dict[str, np.ndarray]],
                                                       chunk: int) -> None:
    graph, inputs = case
    sem = graph.semantics  # the event schedule's scope (aedc.timing.event)
    assume(sem.reset in ("to_v_reset", "subtract") and not sem.reset_recheck)
    _check_chunked(graph, inputs, "event", chunk, True)


def test_chunked_batch_and_the_default_chunking() -> None:
    from aedc.frontend.builder import Network

    net = Network("rec", dt=1e-3)
    net.input("in", 5)
    net.population("h", 7, "lif", tau=5e-3, v_threshold=0.3)
    net.population("o", 3, "li", tau=4e-3)
    rng = np.random.default_rng(0)
    net.dense("in", "h", rng.normal(0.4, 0.3, (7, 5)))
    net.dense("h", "h", rng.normal(0.0, 0.3, (7, 7)), delay=1)
    net.dense("h", "o", rng.normal(0.2, 0.3, (3, 7)))
    net.output("y", "o")
    graph = net.build()
    x = (rng.random((3, 41, 5)) < 0.3).astype(np.float32)
    for mode, sched in SCHEDULES.items():
        emu = Emulator(_program(graph, mode), sched)
        seen: list[int] = []
        res = emu.run_batch({"in": x}, progress=lambda done, _total, seen=seen: seen.append(done))
        _same(emu.run_batch({"in": x}), res)
        G = emu.steps(41)  # chunks of ⌈G/20⌉ steps: 14 chunks of 3 ticks (sync, event)
        assert seen == [min(i * -(-G // 20), G) for i in range(-(-G // -(-G // 20)) + 1)], (mode, seen)
    with pytest.raises(EmulatorError, match="chunk must be"):
        Emulator(graph).run({"in": x[0]}, chunk=0)


def test_the_chunk_cache_keeps_the_last_few_lengths() -> None:
    """Every chunk length compiles its own XLA executable: an Emulator keeps the CHUNK_CACHE most
    recently used, so a caller varying ``chunk`` does not hold one per length for ever."""
    from aedc.emulator.emulator import CHUNK_CACHE
    from aedc.frontend.builder import Network

    net = Network("c", dt=1e-3)
    net.input("in", 3)
    net.population("h", 4, "lif", tau=5e-3, v_threshold=0.3)
    net.dense("in", "h", np.full((4, 3), 0.4))
    net.output("y", "h")
    emu = Emulator(net.build())
    x = {"in": (np.random.default_rng(1).random((12, 3)) < 0.5).astype(np.float32)}
    whole = emu.run(x)
    for chunk in range(1, CHUNK_CACHE + 3):
        _same(whole, emu.run(x, chunk=chunk))
        assert len(emu._chunks) == min(chunk, CHUNK_CACHE)
    assert [k[2] for k in emu._chunks] == list(range(3, CHUNK_CACHE + 3))  # the oldest went first
    _same(whole, emu.run(x, chunk=3))  # a hit moves it to the back
    assert [k[2] for k in emu._chunks][-1] == 3


def _lif_build(tmp_path: Path) -> tuple[Path, Path]:
    from aedc.frontend.builder import Network

    net = Network("one", dt=1e-3)
    net.input("in", 2)
    net.population("a", 3, "lif", tau=5e-3, v_threshold=0.5)
    net.dense("in", "a", np.full((3, 2), 0.4))
    net.output("y", "a")
    build = tmp_path / "build"
    build.mkdir()
    save(net.build(), build / "ir.json")
    (build / "build.json").write_text("{}\n")
    np.save(tmp_path / "x.npy", (np.random.default_rng(1).random((60, 2)) < 0.4).astype(np.float32))
    return build, tmp_path / "x.npy"


@pytest.mark.parametrize("schedule", ["sync", "async", "event"])
def test_cli_run_shows_progress_on_a_terminal_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   schedule: str) -> None:
    build, x = _lif_build(tmp_path)
    args = ["run", str(build), "--input", str(x), "--schedule", schedule]
    if schedule == "async":
        args += ["--jitter-us", "200"]
    piped = CliRunner().invoke(cli.app, args)  # CliRunner's stderr is no terminal
    assert piped.exit_code == 0, piped.output
    assert piped.output.startswith("wrote"), piped.output  # the summary only, not even a blank line
    screen = io.StringIO()
    monkeypatch.setattr(cli, "err", Console(file=screen, force_terminal=True, width=120,
                                                color_system=None))
    shown = CliRunner().invoke(cli.app, args)
    assert shown.exit_code == 0, shown.output
    assert shown.output == piped.output  # stdout unchanged: the bar is on stderr
    drawn = screen.getvalue()
    assert f"emulating ({schedule})" in drawn
    assert "ETA" in drawn
    if schedule == "async":  # the wavefront's steps (at least the 60 ticks)
        total = int(re.findall(r"(\d+)/(\d+) steps", drawn)[-1][1])
        assert total >= 60
        assert f" 0/{total} steps" in drawn
        assert f"{total}/{total} steps" in drawn
    else:  # 20 chunks of 3 ticks, each drawn
        for done in range(0, 61, 3):
            assert f" {done}/60 ticks" in drawn, done
