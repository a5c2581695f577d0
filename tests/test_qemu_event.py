"""The event-driven schedule's cross-compiled PE programs on an emulated Cortex-M4F (QEMU), bit for bit.

Each PE's Arm binary (chip flags, chip link.ld, ``runtime/qemu_event_runtime.c``) makes the calls the
host event runtime made to it — packets stored, queued, integrated, the candidate test, its firing
rounds (selected on the Arm), each step's commit — and must send the same packets in the same
micro-steps and hold the same float32 state. The oracle is not only the host recording: the events,
each spike's micro-step and the state read from the Arm are compared with the JAX event emulator in
exact mode (which shares no code with the C), and a perturbed replay or a perturbed emulator input is
shown to differ. Profiles: the MLP and the conv net the builder's default ``nir-euler`` (the conv net
``sinabs``), the mixed graph ``snntorch``; a few steps each (one QEMU boot is ~0.05 s).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import test_qemu_replay
from test_codegen_host import compile_graph, driven_mlp
from test_emulator_event import _conv_if, _mixed, _mixed_inputs
from test_qemu_replay import arm_traces
from typer.testing import CliRunner

from aedc.codegen import qemu as Q
from aedc.codegen.event_host import event_sources
from aedc.codegen.model import Sources
from aedc.emulator import Emulator, EmulatorResult, PlacedProgram, Schedule
from aedc.errors import CodegenError
from aedc.passes import CompileState

pytestmark = test_qemu_replay.pytestmark  # the tools it needs: QEMU, the Arm and the host compilers

F32 = np.float32


def arm_microsteps(manifest: dict[str, Any], report: Q.VerifyReport,
                   rec: Q.Recording) -> dict[str, np.ndarray]:
    """Per population whose spikes leave their PE: the micro-step of each spike the Arm sent (-1 none),
    read from the call (a firing round) that sent it."""
    pops = manifest["populations"]
    slot = {tuple(x): name for name, p in pops.items() for x in p["slices"]}
    index = {p["pe"]: i for i, p in enumerate(manifest["pes"])}
    out: dict[str, np.ndarray] = {}
    for r in report.pes:
        i = index[r.pe]
        slices = manifest["pes"][i]["slices"]
        for (t, key, *_), call in zip(r.behaviour.sends, r.behaviour.send_calls, strict=True):
            k = next(k for k, s in enumerate(slices) if key & s["key_mask"] == s["key_base"])
            m = rec.calls[i].micro[call]
            if (i, k) not in slot or m < 0:
                continue  # an input frame
            s = slices[k]
            a = out.setdefault(s["population"], np.full((report.steps, pops[s["population"]]["size"]), -1))
            a[t, s["lo"] + key - s["key_base"]] = m
    return out


def assert_arm_equals_emulator(state: CompileState, report: Q.VerifyReport, rec: Q.Recording,
                               emu: EmulatorResult) -> int:
    """The Arm's state everywhere, its events and spike micro-steps wherever they leave a PE, bit for
    bit the emulator's; returns the spikes seen."""
    manifest = event_sources(state)[0].manifest
    events, states = arm_traces(state, report)
    T = report.steps
    for n, d in emu.state.items():
        for var, a in d.items():
            assert states[n][var].tobytes() == np.asarray(a, F32).reshape(T, -1).tobytes(), f"state {n}.{var}"
    for n, ev in events.items():
        want = np.asarray(emu.events[n], F32).reshape(T, -1)
        want = np.where(want == 0, F32(0), want)  # a -0.0 input value is no packet, as 0.0
        assert ev.tobytes() == want.tobytes(), f"events of {n}"
    micro = arm_microsteps(manifest, report, rec)
    assert emu.microsteps is not None
    for n, m in micro.items():
        assert m.tolist() == np.asarray(emu.microsteps[n]).reshape(T, -1).tolist(), f"micro-steps of {n}"
    return sum(int(np.count_nonzero(m >= 0)) for m in micro.values())


def _emulate(state: CompileState, x: dict[str, np.ndarray], sched: Schedule) -> EmulatorResult:
    assert state.placement is not None
    return Emulator(PlacedProgram.from_placement(state.graph, state.placement), sched, exact=True).run(x)


@pytest.fixture(scope="module")
def mlp() -> tuple[CompileState, dict[str, np.ndarray], Schedule, Q.Recording]:
    state = compile_graph(driven_mlp(1), 64)
    rng = np.random.default_rng(2)
    x = {"x": (rng.random((6, 200)) < 0.25).astype(F32)}
    sched = Schedule.event_driven(4, "momentum")
    return state, x, sched, Q.record(state, x, schedule=sched)


def test_mlp_every_pe_bit_identical_to_the_emulator(
        mlp: tuple[CompileState, dict[str, np.ndarray], Schedule, Q.Recording]) -> None:
    state, x, sched, rec = mlp
    assert state.placement is not None
    report = Q.verify_qemu(state, x, schedule=sched, recording=rec)
    report.raise_on_mismatch()
    assert len(report.pes) == len(state.placement.pes) >= 3
    emu = _emulate(state, x, sched)
    spikes = assert_arm_equals_emulator(state, report, rec, emu)
    assert spikes > 100
    # k = 4 binds: a step's hidden spikes leave the Arm over several micro-steps (the output's stay on it)
    micro = arm_microsteps(event_sources(state)[0].manifest, report, rec)
    assert set(micro) == {"x", "h"} or set(micro) == {"h"}
    assert micro["h"].max() >= 3
    for p in report.pes:
        assert p.mismatch is None
        assert (p.instructions > 0).all()
        assert sum(p.by_op.values()).tolist() == p.instructions.tolist()
        assert int(p.received.sum()) == len(p.behaviour.accepted)  # one store per packet reaching it
    hidden = max(report.pes, key=lambda p: int(p.by_op["integrate"].sum()))
    assert hidden.by_op["integrate"].sum() > hidden.by_op["end"].sum()  # the packet path does the work


def test_a_perturbed_replay_or_emulator_input_differs(
        mlp: tuple[CompileState, dict[str, np.ndarray], Schedule, Q.Recording], tmp_path: Path) -> None:
    state, x, sched, rec = mlp
    sources = event_sources(state)[0]
    i = max(range(len(rec.calls)), key=lambda i: rec.calls[i].ops.count(13))
    pe = sources.manifest["pes"][i]["pe"]
    calls = rec.calls[i]
    keys = {int(w[1]) for w, op in zip(calls.words, calls.ops, strict=True) if op == 13}
    j = next(j for j, (w, op) in enumerate(zip(calls.words, calls.ops, strict=True))
             if op == 13 and int(w[1]) ^ 1 in keys)
    elf = Q.build_replay(sources, i, tmp_path)
    assert Q.compare(pe, rec.expected[i], Q.replay(elf, calls, sources, i).behaviour) is None
    words = list(calls.words)
    words[j] = words[j] ^ np.array([0, 1, 0], np.uint32)  # another presynaptic neuron's row
    bad = Q.PECalls(words=words, ops=calls.ops, ticks=calls.ticks, async_mode=calls.async_mode,
                    version=2, config=calls.config, micro=calls.micro)
    got = Q.replay(elf, bad, sources, i).behaviour
    miss = Q.compare(pe, rec.expected[i], got, sources.manifest, i, calls.micro)
    assert miss is not None
    assert miss.pe == pe
    assert miss.tick >= calls.ticks[j]
    assert miss.expected != miss.got
    # a packet's payload changed in the record is named with its step and micro-step
    e = rec.expected[i]
    q = next(q for q, c in enumerate(e.send_calls) if calls.micro[c] >= 1)
    t, key, payload, has, target = e.sends[q]
    first = next(p for p, s in enumerate(e.sends) if s[0] == t)
    e.sends[q] = (t, key, payload, has, target ^ 1)
    try:
        miss = Q.compare(pe, e, Q.replay(elf, calls, sources, i).behaviour, sources.manifest, i, calls.micro)
    finally:
        e.sends[q] = (t, key, payload, has, target)
    assert miss == Q.Mismatch(pe, t, f"packet {q - first} of the tick (key 0x{key:08x}, micro-step "
                                     f"{calls.micro[e.send_calls[q]]}): destination", target ^ 1, target)
    # and the emulator on an input with one spike more is not what the Arm did
    report = Q.verify_qemu(state, x, schedule=sched, recording=rec)
    y = {"x": x["x"].copy()}
    y["x"][1, np.flatnonzero(y["x"][1] == 0)[0]] = 1
    with pytest.raises(AssertionError, match=r"state|events|micro-steps"):
        assert_arm_equals_emulator(state, report, rec, _emulate(state, y, sched))


def test_mixed_graph_graded_sigma_delta_delays_back_edges() -> None:
    """Binary, graded and sigma-delta inputs, CubaLIF/ALIF/Threshold/LI, delayed ports and back edges,
    slices of ≤ 4 neurons sharing PEs; k = 1 random (drawn on the Arm) with M = 1 leaves candidates
    over (the overflow). Momentum's float32 margins: the MLP above."""
    state = compile_graph(_mixed("snntorch"), 4)
    x = _mixed_inputs(8, seed=1)
    sched = Schedule.event_driven(1, "random", seed=7, max_microsteps=1)
    rec = Q.record(state, x, schedule=sched)
    report = Q.verify_qemu(state, x, schedule=sched, recording=rec)
    report.raise_on_mismatch()
    emu = _emulate(state, x, sched)
    assert int(np.asarray(emu.metrics["overflow_per_step"]).sum()) > 0
    assert assert_arm_equals_emulator(state, report, rec, emu) > 10
    assert any(p.behaviour.records for p in report.pes)  # the LI readout's recording, every step


def test_conv_and_pool_kernels() -> None:
    state = compile_graph(_conv_if(), 16)
    rng = np.random.default_rng(3)
    x = {"x": (rng.random((5, 2, 6, 6)) < 0.4).astype(F32)}
    sched = Schedule.event_driven(0, "arrival")
    rec = Q.record(state, x, schedule=sched)
    report = Q.verify_qemu(state, x, schedule=sched, recording=rec)
    report.raise_on_mismatch()
    assert assert_arm_equals_emulator(state, report, rec, _emulate(state, x, sched)) > 5


def test_cli_verify_an_event_build(tmp_path: Path) -> None:
    from aedc.cli import app
    from aedc.ir.serialize import to_json

    model = tmp_path / "mlp.json"
    model.write_text(to_json(driven_mlp(3)))
    runner = CliRunner()
    pipeline = "slice{max-neurons=128},place{solver=greedy},route,emit-c"
    res = runner.invoke(app, ["compile", str(model), "-o", str(tmp_path / "ev"), "--pipeline", pipeline,
                              "--event"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["verify", str(tmp_path / "ev"), "--target", "qemu", "--steps", "4",
                              "--policy", "momentum", "--events-per-step", "2", "--sample", "2"])
    assert res.exit_code == 0, res.output
    assert "bit-identical" in res.output
    doc = json.loads((tmp_path / "ev" / "verify-qemu.json").read_text())
    assert (doc["schedule"], doc["policy"]) == ("event", "momentum")
    assert (doc["events_per_step"], doc["steps"]) == (2, 4)
    assert len(doc["pes"]) == 2
    assert all(r["ok"] and r["ticks"] == 4 and r["instructions_worst"] > 0 for r in doc["pes"])
    res = runner.invoke(app, ["verify", str(tmp_path / "ev"), "--target", "qemu", "--schedule", "sync"])
    assert res.exit_code == 2
    assert re.search(r"compiled with --event: its host program runs the event-driven\s+schedule only",
                     res.output)
    res = runner.invoke(app, ["compile", str(model), "-o", str(tmp_path / "tick"), "--pipeline", pipeline])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["verify", str(tmp_path / "tick"), "--target", "qemu", "--schedule", "event"])
    assert res.exit_code == 2
    assert "has no event-schedule code" in res.output
    with pytest.raises(CodegenError, match="runs that schedule only, not 'sync'"):
        Q.verify_qemu(tmp_path / "ev", {"x": np.zeros((2, 200), F32)}, schedule=Schedule.sync())
    assert isinstance(event_sources(tmp_path / "ev")[0], Sources)


def test_a_truncated_or_extended_store_recording_differs(
        mlp: tuple[CompileState, dict[str, np.ndarray], Schedule, Q.Recording]) -> None:
    """The queued-store check compares its lengths: a side that recorded one store fewer (or more) is
    named with the step and the store that only one side has."""
    _, _, _, rec = mlp
    i = max(range(len(rec.expected)), key=lambda i: len(rec.expected[i].accepted))
    e = rec.expected[i]
    assert len(e.accepted) >= 2
    t, key, queued = e.accepted[-1]
    q = sum(1 for s in e.accepted if s[0] == t) - 1
    pe = "pe"
    short = Q.PEBehaviour(sends=e.sends, states=e.states, records=e.records, send_calls=e.send_calls,
                          accepted=e.accepted[:-1])
    what = f"received packet {q} of the step (key 0x{key:08x}): queued-store check recorded by one side only"
    assert Q.compare(pe, e, e) is None
    miss = Q.compare(pe, e, short)
    assert miss is not None
    assert (miss.tick, miss.expected, miss.got) == (t, queued, None)
    assert miss.what.startswith(what)
    miss = Q.compare(pe, short, e)
    assert miss is not None
    assert (miss.tick, miss.expected, miss.got) == (t, None, queued)
    assert miss.what.startswith(what)


@pytest.mark.parametrize("cut", ["record", "dump table"])
def test_a_truncated_replay_input_is_refused_by_name(
        mlp: tuple[CompileState, dict[str, np.ndarray], Schedule, Q.Recording], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, cut: str) -> None:
    """A replay.in that ends inside a record (or whose dump table is longer than the file) stops the Arm
    with exit 2 and a message, raised as CodegenError, not read past its end."""
    state, _, _, rec = mlp
    sources = event_sources(state)[0]
    i = max(range(len(rec.calls)), key=lambda i: rec.calls[i].ops.count(13))
    calls = rec.calls[i]
    elf = Q.build_replay(sources, i, tmp_path)
    full = Q.replay_input(elf, calls, sources, i)
    last = len(full) - 1 - int(calls.words[-1].size)  # where the last call's record starts
    assert calls.words[-1].size >= 2
    bad = full[:last + 1].copy() if cut == "record" else full.copy()
    if cut == "dump table":
        bad[3] = (len(full) - 4) // 4 + 1
    monkeypatch.setattr(Q, "replay_input", lambda *_: bad)
    with pytest.raises(CodegenError, match=f"QEMU replay failed \\(exit 2\\).*truncated inside "
                                           f"{'a record' if cut == 'record' else 'its dump table'}"):
        Q.replay(elf, calls, sources, i)
