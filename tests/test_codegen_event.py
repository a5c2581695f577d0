"""The generated C under the event-driven schedule (aedc.codegen.event_*; contract aedc.timing.event).

Oracles, each independent of the C: the JAX event emulator in exact mode (bit for bit: events and
outputs of every population, every state variable, each spike's micro-step, overflow and micro-steps
per step), the plain-Python oracle ``tests/event_oracle.py`` on random graphs, hand-worked spike orders
(the k = 1 policy orders, overflow and undelivered spikes) and, for ``layered=True`` with k = 0, the
reference simulator. A deliberately broken C (a flipped tie of the policy order) is shown to fail.
Profiles: the mixed graph runs ``snntorch`` and ``nir-euler``; the MLPs and the hand-worked cases the
builder's default ``nir-euler``; the hypothesis test draws profiles.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from event_oracle import simulate_event
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import SPIKING_MODELS, graphs_with_inputs
from test_codegen_host import compile_graph, driven_mlp
from test_emulator_event import _mixed, _mixed_inputs, _three_on_one_pe

from aedc.codegen.build import cross_build, cross_compiler
from aedc.codegen.emit import emit_program
from aedc.codegen.event_emit import emit_event_program
from aedc.codegen.event_host import EventHostTrace, event_sources
from aedc.codegen.host import run_host
from aedc.codegen.model import Sources
from aedc.emulator import Emulator, EmulatorResult, PlacedProgram, Schedule
from aedc.errors import CodegenError
from aedc.frontend.builder import Network
from aedc.ir.graph import Graph
from aedc.machine import Machine
from aedc.passes import CompileState
from aedc.reference import simulate
from aedc.timing import event_priority
from aedc.timing.event import EventPolicy

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs a host C compiler")

F32 = np.float32


def _bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a, F32).tobytes()


def host_vs_emulator(emu: EmulatorResult, host: EventHostTrace) -> list[str]:
    """Every (population, field) where the host C and the emulator differ ([] when bit-identical)."""
    bad = []
    for n in emu.events:
        for what, a, b in (("events", emu.events[n], host.events[n]),
                           ("outputs", emu.outputs[n], host.outputs[n])):
            if _bits(a) != _bits(b.reshape(np.shape(a))):
                bad.append(f"{n}.{what}")
    for n, d in emu.state.items():
        for var, a in d.items():
            if _bits(a) != _bits(host.state[n][var].reshape(np.shape(a))):
                bad.append(f"{n}.{var}")
    assert emu.microsteps is not None
    if set(emu.microsteps) != set(host.microsteps):
        bad.append("microstep populations")
    for n, a in emu.microsteps.items():
        got = host.microsteps.get(n)
        if got is not None and not np.array_equal(np.asarray(a), got.reshape(np.shape(a))):
            bad.append(f"{n}.microstep")
    for key in ("overflow_per_step", "microsteps_per_step"):
        if np.asarray(emu.metrics[key]).tolist() != getattr(host, key).tolist():
            bad.append(key)
    return bad


def _run_both(state: CompileState, x: dict[str, np.ndarray], sched: Schedule) -> tuple[EmulatorResult,
                                                                                        EventHostTrace]:
    assert state.placement is not None
    program = PlacedProgram.from_placement(state.graph, state.placement)
    emu = Emulator(program, sched, exact=True).run(x)
    host = run_host(state, x, schedule=sched)
    assert isinstance(host, EventHostTrace)
    return emu, host


@pytest.fixture(scope="module")
def mixed_state() -> CompileState:
    """The emulator tests' mixed graph (binary, graded and sigma-delta inputs; CubaLIF, ALIF, Threshold,
    an LI readout; a back edge, a self back edge, delays 1 and 2, a skip connection), slices of ≤ 4
    neurons sharing PEs."""
    return compile_graph(_mixed("snntorch"), 4)


# k = 4 arrival and k = 1 momentum also run on the multi-PE placement and in the hand-worked cases below
SCHEDULES = [Schedule.event_driven(0, "arrival"), Schedule.event_driven(1, "arrival"),
             Schedule.event_driven(4, "momentum", max_microsteps=4),
             Schedule.event_driven(1, "random", seed=7),
             Schedule.event_driven(4, "random", seed=123456789, max_microsteps=6),
             Schedule.event_driven(1, "momentum", layered=True, max_microsteps=5)]


@pytest.mark.parametrize("sched", SCHEDULES, ids=lambda s: f"{s.policy}-k{s.events_per_step}-M"
                         f"{s.max_microsteps}{'-layered' if s.layered else ''}")
def test_host_c_equals_emulator_on_the_mixed_graph(mixed_state: CompileState, sched: Schedule) -> None:
    x = _mixed_inputs(16, seed=1)
    emu, host = _run_both(mixed_state, x, sched)
    assert host_vs_emulator(emu, host) == []
    assert np.count_nonzero(host.events["a"]) > 10
    assert np.count_nonzero(host.events["c"]) > 10
    if sched.events_per_step == 1:  # the budget binds: spikes fire later than with k = 0
        free = run_host(mixed_state, x,
                        schedule=Schedule.event_driven(0, max_microsteps=sched.max_microsteps))
        assert isinstance(free, EventHostTrace)
        assert any(not np.array_equal(free.microsteps[n], host.microsteps[n]) for n in "abc")


def test_layered_k0_equals_the_reference_and_the_emulator(mixed_state: CompileState) -> None:
    x = _mixed_inputs(16, seed=2)
    emu, host = _run_both(mixed_state, x, Schedule.event_driven(layered=True))
    assert host_vs_emulator(emu, host) == []
    ref = simulate(mixed_state.graph, x)
    for n in ref.events:
        assert _bits(ref.events[n]) == _bits(host.events[n]), n
        assert _bits(ref.outputs[n]) == _bits(host.outputs[n]), n
    for n, d in ref.state.items():
        for var, a in d.items():
            assert _bits(a) == _bits(host.state[n][var]), (n, var)
    # a (depth 0) fires in micro-step 0, b after a, c after b
    for pop, m in (("a", 0), ("b", 1), ("c", 2)):
        assert set(np.unique(host.microsteps[pop]).tolist()) <= {-1, m}


@pytest.mark.parametrize("profile", ["nir-euler", "rockpool"])
def test_nir_euler_mixed_graph_random_policy(profile: str) -> None:
    """Also Rockpool's reading (exact decays, its exporter's gains: host constants only)."""
    state = compile_graph(_mixed(profile), 8)
    emu, host = _run_both(state, _mixed_inputs(12, seed=4), Schedule.event_driven(2, "random", seed=3,
                                                                                   max_microsteps=4))
    assert host_vs_emulator(emu, host) == []


def _recurrent_mlp(seed: int = 0) -> Graph:
    """200 → 192 LIF → 10 CubaLIF with a back edge o → h and a delay-2 skip x → o: several PEs."""
    rng = np.random.default_rng(seed)
    net = Network("recurrent_mlp")
    x = net.input("x", 200)
    h = net.population("h", 192, "lif", tau=1e-3, v_threshold=0.5)
    o = net.population("o", 10, "cuba_lif", tau_syn=5e-4, tau_mem=1e-3, v_threshold=0.5)
    net.dense(x, h, rng.normal(0.05, 0.3, (192, 200)).astype(F32))
    net.dense(h, o, rng.normal(0.05, 0.3, (10, 192)).astype(F32))
    net.dense(o, h, rng.normal(0.0, 0.5, (192, 10)).astype(F32), back_edge=True)
    net.dense(x, o, rng.normal(0.0, 0.2, (10, 200)).astype(F32), delay=2)
    net.output("y", o)
    return net.build()


@pytest.fixture(scope="module")
def recurrent_state() -> CompileState:
    return compile_graph(_recurrent_mlp(), 64)


@pytest.mark.parametrize("sched", [Schedule.event_driven(4, "arrival"), Schedule.event_driven(4, "momentum"),
                                   Schedule.event_driven(1, "random", seed=11, max_microsteps=8)],
                         ids=lambda s: f"{s.policy}-k{s.events_per_step}")
def test_host_c_equals_emulator_on_a_compiled_multi_pe_placement(recurrent_state: CompileState,
                                                                  sched: Schedule) -> None:
    state = recurrent_state
    assert state.placement is not None
    assert len(state.placement.pes) >= 3
    rng = np.random.default_rng(3)
    x = {"x": (rng.random((14, 200)) < 0.25).astype(F32)}
    emu, host = _run_both(state, x, sched)
    assert host_vs_emulator(emu, host) == []
    assert np.count_nonzero(host.events["h"]) > 100
    assert np.count_nonzero(host.events["o"]) > 5


# ---- hand-worked cases: the C against numbers worked out from the contract -----------------------------


@pytest.mark.parametrize("policy", ["arrival", "momentum", "random"])
def test_k1_fires_one_per_micro_step_in_policy_order(policy: EventPolicy) -> None:
    state = compile_graph(_three_on_one_pe((1.0, 3.0, 2.0)))  # margins 0.5, 2.5, 1.5
    seed = 7
    host = run_host(state, {"x": np.ones((1, 3), F32)}, schedule=Schedule.event_driven(1, policy, seed))
    assert isinstance(host, EventHostTrace)
    if policy == "arrival":
        want = [0, 1, 2]
    elif policy == "momentum":
        want = [2, 0, 1]
    else:  # lowest hash first, drawn again every micro-step; global ids 3, 4, 5 (x holds 0..2)
        left, want = [0, 1, 2], [-1, -1, -1]
        for m in range(3):
            pri = event_priority(seed, 0, m, np.array(left) + 3)
            want[left.pop(int(np.argmin(pri)))] = m
    assert host.microsteps["h"][0].tolist() == want
    assert host.events["h"][0].tolist() == [1, 1, 1]
    assert host.state["h"]["v"][0].tolist() == [0, 0, 0]
    assert host.microsteps_per_step.tolist() == [3]


def test_overflow_and_undelivered_spikes() -> None:
    net = Network("overflow", dt=1.0)  # nir-euler at dt = 1: IF is v' = v + x, spike v > θ, reset to 0
    net.input("x", 5)
    net.population("h", 5, "if", v_threshold=0.5)
    net.population("d", 1, "if", v_threshold=0.5)
    net.one_to_one("x", "h", 1.0)
    net.dense("h", "d", np.ones((1, 5), F32))
    state = compile_graph(net.build())
    assert state.placement is not None
    assert len(state.placement.pes) == 1  # h and d share one PE, and so its budget of k = 1
    x = {"x": np.array([[1] * 5, [0] * 5], F32)}
    emu, host = _run_both(state, x, Schedule.event_driven(1, max_microsteps=3))
    assert host_vs_emulator(emu, host) == []
    # step 0: h0, h1, h2 fire in micro-steps 0, 1, 2 (candidates since 0); d becomes a candidate in
    # micro-step 1 (h0's spike) and waits behind h1, h2; h3, h4 and d are left (overflow 3); h2's spike
    # (last micro-step) never reaches d, whose v is 2. Step 1: h3, h4 (v = 1) and d (v = 2) cross in
    # micro-step 0 on their carried state and fire in the PE's neuron order: h3, h4, then d.
    assert host.microsteps["h"].tolist() == [[0, 1, 2, -1, -1], [-1, -1, -1, 0, 1]]
    assert host.state["h"]["v"].tolist() == [[0, 0, 0, 1, 1], [0, 0, 0, 0, 0]]
    assert host.microsteps["d"][:, 0].tolist() == [-1, 2]
    assert host.state["d"]["v"][:, 0].tolist() == [2, 0]
    assert host.overflow_per_step.tolist() == [3, 0]
    assert host.microsteps_per_step.tolist() == [3, 3]


# ---- the plain-Python oracle on random graphs ---------------------------------------------------------


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
          database=None)
@given(graphs_with_inputs(T=5, models=SPIKING_MODELS, max_pops=4, max_size=12),
       st.sampled_from([(0, "arrival", False), (1, "momentum", False), (2, "random", False),
                        (1, "arrival", True)]))
def test_host_c_equals_the_oracle_on_random_graphs(case: tuple[Graph, dict[str, np.ndarray]],
                                                   sched: tuple[int, EventPolicy, bool]) -> None:
    graph, x = case
    sem = graph.semantics
    assume(sem.reset in ("to_v_reset", "subtract") and not sem.reset_recheck)
    state = compile_graph(graph, 8)
    try:
        host = run_host(state, x, schedule=Schedule.event_driven(sched[0], sched[1], seed=5, max_microsteps=4,
                                                                  layered=sched[2]))
    except CodegenError as e:  # outside the contract's scope (e.g. a semantics option): refused by name
        assume("not implemented by the event-driven C" not in str(e))
        raise
    assert isinstance(host, EventHostTrace)
    assert state.placement is not None
    program = PlacedProgram.from_placement(state.graph, state.placement)
    trace = simulate_event(state.graph, x, pe_of=dict(program.pe_of), events_per_step=sched[0],
                           policy=sched[1], seed=5, max_microsteps=4, layered=sched[2])
    for n, ev in trace.events.items():
        assert _bits(ev) == _bits(host.events[n].reshape(ev.shape)), n
    for n, vars_ in trace.state.items():
        for var, a in vars_.items():
            assert _bits(a) == _bits(host.state[n][var].reshape(a.shape)), (n, var)
    for n, m in trace.microstep.items():
        assert np.array_equal(m, host.microsteps[n].reshape(m.shape)), n
    assert host.overflow_per_step.tolist() == trace.overflow.tolist()
    assert host.microsteps_per_step.tolist() == trace.microsteps.tolist()


# ---- the comparison can fail ---------------------------------------------------------------------------


def _flip_tie(sources: Sources) -> Sources:
    """The event tree with the PE's neuron-order tie of the policy reversed (higher index first)."""
    files = dict(sources.files)
    header = files["common/aedc_event.h"].decode()
    assert "return a->i < b->i;" in header
    files["common/aedc_event.h"] = header.replace("return a->i < b->i;", "return a->i > b->i;").encode()
    return Sources(files=tuple(sorted(files.items())))


def test_a_flipped_policy_tie_is_detected() -> None:
    state = compile_graph(_three_on_one_pe((1.0, 1.0, 1.0)))  # equal margins: every order is a tie
    x = {"x": np.ones((1, 3), F32)}
    sched = Schedule.event_driven(1, "momentum")
    good, _ = event_sources(state)
    emu = Emulator(PlacedProgram.from_placement(state.graph, state.placement), sched).run(x)
    ok = run_host(good, x, schedule=sched)
    bad = run_host(_flip_tie(good), x, schedule=sched)
    assert isinstance(ok, EventHostTrace)
    assert isinstance(bad, EventHostTrace)
    assert host_vs_emulator(emu, ok) == []
    assert host_vs_emulator(emu, bad) == ["h.microstep"]
    assert bad.microsteps["h"][0].tolist() == [2, 1, 0]


# ---- scope, trees, the chip build ----------------------------------------------------------------------


def test_run_from_an_event_build_directory(tmp_path: Path) -> None:
    state = compile_graph(_three_on_one_pe((1.0, 3.0, 2.0)))
    x = {"x": np.ones((2, 3), F32)}
    sched = Schedule.event_driven(1, "momentum")
    event_sources(state)[0].write(tmp_path / "c")
    from_dir, from_state = run_host(tmp_path, x, schedule=sched), run_host(state, x, schedule=sched)
    assert isinstance(from_dir, EventHostTrace)
    assert isinstance(from_state, EventHostTrace)
    assert from_dir.microsteps["h"].tolist() == from_state.microsteps["h"].tolist() == [[2, 0, 1]] * 2
    assert _bits(from_dir.state["h"]["v"]) == _bits(from_state.state["h"]["v"])
    assert (tmp_path / "c" / ".host" / "bin").is_dir()  # built once next to the tree


def test_graded_senders_and_sync_sources_are_refused_by_name(mixed_state: CompileState) -> None:
    net = Network("graded_sender")
    net.input("x", 3)
    net.population("r", 3, "relu")
    net.population("h", 2, "lif", tau=0.01, v_threshold=0.5)
    net.dense("x", "r", np.ones((3, 3), F32))
    net.dense("r", "h", np.ones((2, 3), F32))
    state = compile_graph(net.build())
    with pytest.raises(CodegenError, match=r"population 'r' .* sends events through projection"):
        run_host(state, {"x": np.ones((2, 3), F32)}, schedule=Schedule.event_driven())
    assert mixed_state.sources is not None
    with pytest.raises(CodegenError, match="no event-schedule code: emit it with"):
        run_host(mixed_state.sources, _mixed_inputs(2), schedule=Schedule.event_driven())


def test_sync_tree_is_unchanged_and_the_event_tree_adds_to_it(mixed_state: CompileState) -> None:
    assert mixed_state.placement is not None
    assert mixed_state.tables is not None
    assert mixed_state.sources is not None
    sync = dict(emit_program(mixed_state.graph, mixed_state.placement, mixed_state.tables).files)
    assert sync == dict(mixed_state.sources.files)
    assert not any(b"aedc_event" in data or b"ev_store" in data for data in sync.values())
    event = dict(emit_event_program(mixed_state.graph, mixed_state.placement, mixed_state.tables).files)
    added = sorted(set(event) - set(sync))
    assert added == ["common/aedc_event.h", "common/event_chip_runtime.c", "host/event_table.c"]
    same = {p for p in sync if sync[p] == event[p]}
    assert {"common/aedc_pe.h", "common/chip_runtime.c", "host/host_table.c"} <= same
    manifest = json.loads(event["manifest.json"])
    assert manifest["event"]["spiking"] == ["a", "b", "c"]
    for pe in manifest["pes"]:  # the event state is counted: per spiking neuron 1 + 2 + 4 B, + 16 B
        assert pe["bytes"]["emitted"]["event_state"] > 0
        assert pe["bytes"]["emitted_total"] == sum(pe["bytes"]["emitted"].values())


@pytest.mark.skipif(cross_compiler() is None, reason="needs arm-none-eabi-gcc")
def test_event_tree_cross_compiles_and_fits(tmp_path: Path) -> None:
    state = compile_graph(driven_mlp(), 64)
    assert state.placement is not None
    assert state.tables is not None
    assert state.sources is not None
    event = emit_event_program(state.graph, state.placement, state.tables)
    event.write(tmp_path / "event")
    state.sources.write(tmp_path / "sync")
    ev = {s.pe: s for s in cross_build(tmp_path / "event")}
    sy = {s.pe: s for s in cross_build(tmp_path / "sync")}
    machine = Machine.spinnaker2()
    assert set(ev) == set(sy)
    assert len(ev) >= 3
    manifest = event.manifest
    for pe in manifest["pes"]:
        e, s = ev[pe["pe"]], sy[pe["pe"]]
        assert e.code > s.code  # the event loop and the per-slice event functions are linked
        assert e.code <= machine.itcm_bytes
        assert e.static <= machine.static_data_bytes
        assert e.dynamic <= machine.dynamic_region_bytes
        assert e.image == s.image  # same data image
        # the extra state is exactly what layout.h / the manifest count as event_state (16-aligned)
        assert e.state - s.state <= pe["bytes"]["emitted"]["event_state"] + 16
        assert e.state > s.state
    makefile = (tmp_path / "event" / manifest["pes"][0]["dir"] / "Makefile").read_text()
    assert "../common/event_chip_runtime.c" in makefile
    assert " ../common/chip_runtime.c" not in makefile


def test_deploy_check_runs_the_event_schedule_sample_by_sample(tmp_path: Path) -> None:
    from aedc.datasets import encode_ttfs, yinyang
    from aedc.deploy import deploy_check
    from aedc.train import mlp

    te = yinyang("test", size=6)
    x, y = encode_ttfs(te.x, 30, t_max=20, bias_tick=0), te.y
    schedules = {"sync": Schedule.sync(), "event k1 momentum": Schedule.event_driven(1, "momentum"),
                 "event layered": Schedule.event_driven(layered=True)}
    rep = deploy_check(mlp([5, 24, 3], seed=3, w_scale=3.0), x, y, schedules, out_dir=tmp_path / "d")
    assert rep.identical == {name: True for name in schedules}
    for name in schedules:
        emu, host = rep.paths[f"emulator {name}"], rep.paths[f"host C {name}"]
        assert np.array_equal(emu.predictions, host.predictions)
        assert emu.events_per_inference == host.events_per_inference > 0
    assert (tmp_path / "d" / "c_event" / "host" / "event_table.c").is_file()
    assert "event" not in json.loads((tmp_path / "d" / "c" / "manifest.json").read_text())
    # layered k = 0 is the layer-synchronous schedule: the sync run's predictions
    assert np.array_equal(rep.paths["host C sync"].predictions, rep.paths["host C event layered"].predictions)


def test_aedc_compile_event_writes_a_budgeted_event_tree(tmp_path: Path) -> None:
    """``aedc compile --event``: the slicer budgets the event runtime's state (slice{event=true}), the
    tree carries the event code (emit-c{event=true}), and the host C run from the build directory
    equals the JAX event emulator on the compiled placement."""
    from typer.testing import CliRunner

    from aedc.cli import app
    from aedc.emulator import Emulator, PlacedProgram
    from aedc.ir.serialize import load, save
    from aedc.partition.model import Placement

    rng = np.random.default_rng(4)
    net = Network("ev_cli", dt=1e-3)
    net.input("x", 20)
    net.population("h", 40, "lif", tau=0.01, v_threshold=0.6)
    net.population("o", 4, "lif", tau=0.01, v_threshold=0.5)
    net.dense("x", "h", rng.uniform(-0.2, 0.6, (40, 20)).astype(F32))
    net.dense("h", "o", rng.uniform(-0.1, 0.4, (4, 40)).astype(F32))
    net.output("y", "o")
    save(net.build(), tmp_path / "ev.json")
    res = CliRunner().invoke(app, ["compile", str(tmp_path / "ev.json"), "-o", str(tmp_path / "b"),
                                   "--event", "--pipeline",
                                   "verify,slice{max-neurons=16},place{solver=greedy},route,emit-c"])
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "b" / "c" / "manifest.json").read_text())
    assert "event" in manifest
    placement = Placement.load(tmp_path / "b" / "placement.json")
    assert all(s.memory.event_state > 0 for s in placement.slicing.slices)
    for pe in manifest["pes"]:
        assert pe["bytes"]["emitted"]["event_state"] <= pe["bytes"]["predicted"]["event_state"]
    graph = load(tmp_path / "b" / "ir.json")
    x = {"x": (rng.random((12, 20)) < 0.4).astype(F32)}
    sched = Schedule.event_driven(2, "momentum")
    host = run_host(tmp_path / "b", x, schedule=sched)
    emu = Emulator(PlacedProgram.from_placement(graph, placement), sched).run(x)
    assert int(emu.events["h"].sum()) > 10
    for pop in ("h", "o"):
        assert _bits(host.events[pop]) == _bits(emu.events[pop]), pop
    bad = CliRunner().invoke(app, ["compile", str(tmp_path / "ev.json"), "-o", str(tmp_path / "c"),
                                   "--event", "--pipeline", "verify,slice,place"])
    assert bad.exit_code == 2
    assert "--event" in bad.output
