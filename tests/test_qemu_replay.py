"""The cross-compiled PE programs on an emulated Cortex-M4F (QEMU mps2-an386), bit for bit.

Each PE's Arm binary (chip flags, chip link.ld, the replay runtime) is fed the packets it received in
the host run and must send the same packets and hold the same float32 state. The oracle is not only the
host recording: the Arm state and the events decoded from the Arm's packets are compared with the NumPy
reference simulator (:func:`aedc.reference.simulate.simulate`), which shares no code with the C, and
the instruction counts with QEMU's own single-step trace. Profiles: the NIR paper LIF uses
``nir-euler`` at dt = 1e-4, the MLPs the builder's default ``nir-euler``, the mixed graded/sigma-delta
net ``snntorch`` (as in test_codegen_host.py). Ticks are few: one QEMU boot is ~0.05 s.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ci_env import in_ci
from test_codegen_host import compile_graph, conv_net, driven_mlp, fan_in_split_state, mixed_net
from typer.testing import CliRunner

from aedc.codegen import qemu as Q
from aedc.codegen.model import Sources
from aedc.errors import CodegenError
from aedc.frontend.builder import Network
from aedc.frontend.load import load_model
from aedc.passes import CompileState
from aedc.reference.simulate import Trace, simulate

pytestmark = [
    pytest.mark.skipif(shutil.which("qemu-system-arm") is None,
                       reason="needs qemu-system-arm (apt-get install qemu-system-arm)"),
    pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                       reason="needs arm-none-eabi-gcc (apt-get install gcc-arm-none-eabi)"),
    pytest.mark.skipif(shutil.which("gcc") is None, reason="needs a host C compiler"),
]

DATA = Path(__file__).parent / "data" / "nir_paper" / "01_lif"
F32 = np.float32


def arm_traces(state: CompileState, report: Q.VerifyReport) -> tuple[dict[str, np.ndarray],
                                                                       dict[str, dict[str, np.ndarray]]]:
    """Events (decoded from the packets the Arm sent) and state (the Arm's dumps) per population:
    ``events[pop]`` only for populations whose events leave their PE."""
    assert isinstance(state.sources, Sources)
    manifest: dict[str, Any] = state.sources.manifest
    T = report.steps
    pops = manifest["populations"]
    slot = {tuple(x): name for name, p in pops.items() for x in p["slices"]}
    events: dict[str, np.ndarray] = {}
    states = {n: {v: np.zeros((T, p["size"]), np.uint32) for v in p["state"]} for n, p in pops.items()}
    by_pe = {r.pe: r for r in report.pes}
    for i, pe in enumerate(manifest["pes"]):
        got = by_pe[pe["pe"]].behaviour
        slices = pe["slices"]
        for t, k, words in got.states:
            s = slices[k]
            n = s["hi"] - s["lo"]
            for j, var in enumerate(s["state"][:words.size // max(n, 1)]):
                states[s["population"]][var][t, s["lo"]:s["hi"]] = words[j * n:(j + 1) * n]
        for t, key, payload, has, _ in got.sends:
            k = next(k for k, s in enumerate(slices) if key & s["key_mask"] == s["key_base"])
            if (i, k) not in slot:
                continue  # a synapse PE's partial sum
            s = slices[k]
            ev = events.setdefault(s["population"], np.zeros((T, pops[s["population"]]["size"]), F32))
            value = np.array([payload], np.uint32).view(F32)[0] if has else F32(1)
            ev[t, s["lo"] + key - s["key_base"]] = value
    return events, {n: {v: a.view(F32) for v, a in d.items()} for n, d in states.items()}


def assert_arm_equals_reference(state: CompileState, report: Q.VerifyReport, ref: Trace) -> int:
    """Bit-identical state everywhere and events wherever they leave a PE; returns the events seen."""
    events, states = arm_traces(state, report)
    T = report.steps
    for n, d in ref.state.items():
        for var, a in d.items():
            want = np.asarray(a, F32).reshape(T, -1)
            assert states[n][var].tobytes() == want.tobytes(), f"state {n}.{var}"
    for n, ev in events.items():
        assert ev.tobytes() == np.asarray(ref.events[n], F32).reshape(T, -1).tobytes(), f"events of {n}"
    return sum(int(np.count_nonzero(e)) for e in events.values())


@pytest.fixture(scope="module")
def lif() -> tuple[CompileState, dict[str, np.ndarray], Q.Recording]:
    with pytest.warns(Warning, match="NIR file has version"):
        g = load_model(DATA / "lif_norse.nir", profile="nir-euler", dt=1e-4)
    state = compile_graph(g)
    x = np.loadtxt(DATA / "lif_norse.csv", delimiter=",")[:, 0].astype(F32).reshape(-1, 1)
    inp = {"input": x}
    return state, inp, Q.record(state, inp)


def test_lif_norse_on_the_arm_spike_steps_and_voltage(
        lif: tuple[CompileState, dict[str, np.ndarray], Q.Recording]) -> None:
    state, inp, rec = lif
    report = Q.verify_qemu(state, inp, recording=rec)
    report.raise_on_mismatch()
    assert report.steps == 1000
    (pe,) = report.pes
    # the spike steps read from the PE's own recording buffer on the Arm (Norse's, test_codegen_host)
    assert [t for t, _, w in pe.behaviour.records if w.any()] == [460, 510, 710, 760]
    ref = simulate(state.graph, inp)
    _, states = arm_traces(state, report)
    out = state.graph.outputs["output"]
    assert states[out]["v"].tobytes() == np.asarray(ref.state[out]["v"], F32).reshape(1000, -1).tobytes()
    assert np.count_nonzero(states[out]["v"]) >= 900  # the voltage trace is not trivially zero
    assert (pe.instructions > 0).all()
    assert sum(pe.by_op.values()).tolist() == pe.instructions.tolist()


def test_multi_pe_mlp_binary_spikes_bit_identical_to_the_reference() -> None:
    state = compile_graph(driven_mlp(1), 64)
    assert state.placement is not None
    assert len(state.placement.pes) >= 3
    rng = np.random.default_rng(2)
    inp = {"x": (rng.random((12, 200)) < 0.25).astype(F32)}
    report = Q.verify_qemu(state, inp)
    report.raise_on_mismatch()
    assert len(report.pes) == len(state.placement.pes)
    seen = assert_arm_equals_reference(state, report, simulate(state.graph, inp))
    assert seen > 12 * 50 + 100  # input spikes plus hidden spikes crossed PEs
    # the cost of a tick grows with its work: a hidden PE's slice ticks are linear in the packets
    # it received and sent (dense blocks: one row of n weights per received spike)
    hidden = max(report.pes, key=lambda p: int(p.sent.sum()) if p.received.sum() else -1)
    a = np.stack([np.ones(12), hidden.received, hidden.sent], axis=1).astype(float)
    y = hidden.by_op["slice_tick"].astype(float)
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    assert coef[1] > 0
    assert np.abs(a @ coef - y).max() < 0.05 * y.mean()
    # and the whole PE-tick over all PEs: the per-PE cost model's form
    fit = Q.fit_cost(report.pes)
    assert fit.samples == 12 * len(report.pes)
    assert fit.per_packet_in > 0
    assert fit.median_rel_error < 0.05
    p = report.pes[0]
    assert abs(fit.predict(p.neurons, p.received[3], p.sent[3]) - p.instructions[3]) < 0.2 * p.instructions[3]


def test_graded_sigma_delta_delays_and_back_edges() -> None:
    rng = np.random.default_rng(4)
    state = compile_graph(mixed_net("mixed_rec", rng, recurrent=True), 4)
    inp = {"x": np.where(rng.random((16, 12)) < 0.5, rng.normal(0, 1, (16, 12)), 0).astype(F32)}
    report = Q.verify_qemu(state, inp)
    report.raise_on_mismatch()
    ref = simulate(state.graph, inp)
    assert assert_arm_equals_reference(state, report, ref) > 40
    events, _ = arm_traces(state, report)
    assert {"x", "r", "h", "li"} <= set(events)  # graded, sigma-delta, spikes and graded LI crossed PEs
    assert np.any((events["r"] != 0) & (events["r"] != 1))  # sigma-delta changes as payloads


def test_asynchronous_schedule_with_jitter() -> None:
    from aedc.timing.program import PlacedProgram
    from aedc.timing.schedule import Schedule

    state = compile_graph(driven_mlp(), 64)
    assert state.placement is not None
    rng = np.random.default_rng(3)
    inp = {"x": np.where(rng.random((10, 200)) < 0.3, 1, 0).astype(F32)}
    prog = PlacedProgram.from_placement(state.graph, state.placement)
    sched = Schedule.asynchronous(jitter_us=300, link_us=100, hop_us=30, seed=2,
                                  pe_periods_us=((1, 1300),), pe_offsets_us=((2, 450),))
    rec = Q.record(state, inp, schedule=sched, program=prog)
    assert {c.async_mode for c in rec.calls} == {1}
    sync = Q.record(state, inp)
    assert any(len(a.sends) != len(b.sends) or a.sends != b.sends
               for a, b in zip(rec.expected, sync.expected, strict=True))  # the schedule shows
    report = Q.verify_qemu(state, inp, recording=rec)
    report.raise_on_mismatch()
    assert sum(int(p.sent.sum()) for p in report.pes) > 500


def test_fan_in_split_synapse_pes() -> None:
    state = fan_in_split_state(np.random.default_rng(0))
    assert state.placement is not None
    assert any(s.role == "synapse" for s in state.placement.slices)
    rng = np.random.default_rng(1)
    inp = {"x": (rng.random((4, 3000)) < 0.05).astype(F32)}  # 0.1: > 256 packets a tick on a PE
    report = Q.verify_qemu(state, inp)
    report.raise_on_mismatch()
    assert_arm_equals_reference(state, report, simulate(state.graph, inp))


def test_conv_and_pool_kernels_sync_and_async() -> None:
    """Convolution and pooling kernels (targets computed at run time), sync and with clock jitter."""
    from aedc.timing.program import PlacedProgram
    from aedc.timing.schedule import Schedule

    state = compile_graph(conv_net(2), 16)
    assert state.placement is not None
    assert len(state.placement.pes) >= 3
    rng = np.random.default_rng(7)
    inp = {"x": (rng.random((10, 2, 8, 8)) < 0.3).astype(F32)}
    report = Q.verify_qemu(state, inp)
    report.raise_on_mismatch()
    assert assert_arm_equals_reference(state, report, simulate(state.graph, inp)) > 100
    prog = PlacedProgram.from_placement(state.graph, state.placement)
    report = Q.verify_qemu(state, inp, schedule=Schedule.asynchronous(jitter_us=400, link_us=50, seed=4),
                           program=prog)
    report.raise_on_mismatch()


@pytest.mark.skipif(not in_ci(), reason="cnn_sinabs sample (≈ 60 s, most of it the host build of its 32 "
                                        "kernels): runs in CI (.ci/run); make bench replays every PE")
def test_cnn_sinabs_sample_of_pes() -> None:
    from aedc.passes import CompileState as State
    from aedc.passes import PassContext, PassManager

    with pytest.warns(Warning, match="NIR file has version"):
        g = load_model(DATA.parent / "02_cnn" / "cnn_sinabs.nir", profile="sinabs")
    state = PassManager("verify,fold-scale,fuse-affine,dce,slice,place{solver=greedy},route,emit-c").run(
        State(graph=g), PassContext())
    assert isinstance(state.sources, Sources)
    names = [p["pe"] for p in state.sources.manifest["pes"]]
    assert len(names) >= 30  # 32 with its convolutions in the kernel format (112 with expanded rows)
    rng = np.random.default_rng(0)
    inp = {"input": (rng.random((3, 2, 34, 34)) < 0.05).astype(F32)}
    sample = [names[0], names[len(names) // 3], names[2 * len(names) // 3], names[-1]]
    report = Q.verify_qemu(state, inp, pes=sample)
    report.raise_on_mismatch()
    assert [p.pe for p in report.pes] == sample
    assert all(int(p.received.sum()) + int(p.sent.sum()) > 0 for p in report.pes)


def test_the_recording_of_a_sigma_delta_output_holds_its_value_every_tick() -> None:
    """The Arm's own value recording of a sigma-delta output equals the host's value every tick, the
    ticks between its events included (pe.py once recorded a value only in ticks that sent one)."""
    rng = np.random.default_rng(0)
    net = Network("sd_out", profile="snntorch")
    x = net.input("x", 8, event_rule="graded")
    r = net.population("r", 8, "relu", event_rule="sigma_delta", event_threshold=0.3)
    net.dense(x, r, rng.normal(0, 0.5, (8, 8)).astype(F32))
    net.output("y", r)
    state = compile_graph(net.build())
    inp = {"x": rng.normal(0, 1, (12, 8)).astype(F32)}
    report = Q.verify_qemu(state, inp)
    assert report.pes[0].behaviour.records  # the value recording is replayed
    report.raise_on_mismatch()


# ---- the check can fail -----------------------------------------------------------------------------------


def test_a_corrupted_packet_or_state_word_is_named(
        lif: tuple[CompileState, dict[str, np.ndarray], Q.Recording]) -> None:
    state, inp, rec = lif
    assert isinstance(state.sources, Sources)
    pe = state.sources.manifest["pes"][0]["pe"]
    sends = rec.expected[0].sends
    j = next(j for j, s in enumerate(sends) if s[0] >= 7)
    t, key, payload, has, target = sends[j]
    assert all(s[0] < t for s in sends[:j])  # the first packet of its tick
    rec.expected[0].sends[j] = (t, key, payload ^ 1, has, target)
    try:
        report = Q.verify_qemu(state, inp, recording=rec)
    finally:
        rec.expected[0].sends[j] = (t, key, payload, has, target)
    assert report.mismatches == [Q.Mismatch(pe, t, f"packet 0 of the tick (key 0x{key:08x}): payload",
                                            payload ^ 1, payload)]
    with pytest.raises(CodegenError, match=rf"(?s)1 of 1 PEs differ.*PE {pe} tick {t}: packet 0"):
        report.raise_on_mismatch()
    t, k, words = next(s for s in rec.expected[0].states[300:] if s[2].size)
    bad = words.copy()
    bad[0] ^= 0x80000000
    assert Q.compare(pe, Q.PEBehaviour(states=[(t, k, bad)]), Q.PEBehaviour(states=[(t, k, words)]),
                     state.sources.manifest, 0) == Q.Mismatch(pe, t, f"state v of slice {k}, neuron 0",
                                                              int(bad[0]), int(words[0]))


def _patch_symbol_word(elf: Path, name: str, index: int, xor: int) -> None:
    """Flip bits of word ``index`` of ELF symbol ``name`` in the file (vaddr → file offset)."""
    data = bytearray(elf.read_bytes())
    shoff, = struct.unpack_from("<I", data, 0x20)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x2E)
    (addr, size), = Q.elf_symbols(elf)[name]
    assert 4 * index < size
    for i in range(shnum):
        h = struct.unpack_from("<IIIIIIIIII", data, shoff + i * shentsize)
        if h[1] == 1 and h[3] <= addr < h[3] + h[5]:  # PROGBITS holding the symbol
            off = h[4] + addr - h[3] + 4 * index
            word, = struct.unpack_from("<I", data, off)
            struct.pack_into("<I", data, off, word ^ xor)
            elf.write_bytes(bytes(data))
            return
    raise AssertionError(f"{name} is in no loaded section")


def test_a_changed_kernel_byte_is_detected(tmp_path: Path) -> None:
    state = compile_graph(driven_mlp(1), 64)
    assert isinstance(state.sources, Sources)
    rng = np.random.default_rng(2)
    inp = {"x": (rng.random((8, 200)) < 0.25).astype(F32)}
    inp["x"][:, 0] = 1  # row 0 of the first block is used every tick
    rec = Q.record(state, inp)
    i = next(i for i, p in enumerate(state.sources.manifest["pes"])
             if "s0_p0_w" in state.sources.text(f"{p['dir']}/data.c"))
    elf = Q.build_replay(state.sources, i, tmp_path)
    got = Q.replay(elf, rec.calls[i], state.sources, i).behaviour
    pe = state.sources.manifest["pes"][i]["pe"]
    assert Q.compare(pe, rec.expected[i], got) is None
    _patch_symbol_word(elf, "s0_p0_w", 0, 0x00400000)  # the top mantissa bit of the weight x[0] → h
    got = Q.replay(elf, rec.calls[i], state.sources, i).behaviour
    bad = Q.compare(pe, rec.expected[i], got, state.sources.manifest, i)
    assert bad is not None
    assert bad.pe == pe
    assert bad.tick == 0
    assert bad.what.startswith(("state v of slice 0, neuron 0", "packet"))
    assert bad.expected != bad.got


def test_instruction_counts_equal_the_single_step_trace(
        lif: tuple[CompileState, dict[str, np.ndarray], Q.Recording], tmp_path: Path) -> None:
    """-icount timing against QEMU's own per-instruction log (-singlestep -d exec): every instruction
    executed inside begin_tick, receive and set_input (which send nothing) is counted, exactly, plus
    the runtime's call instruction."""
    state, _, rec = lif
    assert isinstance(state.sources, Sources)
    elf = Q.build_replay(state.sources, 0, tmp_path / "elf")
    calls = rec.calls[0]
    a, b = calls.ticks.index(450), calls.ticks.index(470)  # 20 ticks with input and spikes
    short = Q.PECalls(words=calls.words[a:b], ops=calls.ops[a:b], ticks=calls.ticks[a:b], async_mode=0)
    insns = Q.replay(elf, short, state.sources, 0).instructions
    ops = np.array(short.ops)
    Q.replay_input(elf, short, state.sources, 0).tofile(tmp_path / "replay.in")
    subprocess.run([*Q.qemu_command(elf), "-singlestep", "-d", "exec,nochain", "-D", "exec.log"],
                   cwd=tmp_path, check=True, capture_output=True, timeout=60)
    pcs = np.array([int(m, 16) for m in re.findall(r"\[[0-9a-f]+/([0-9a-f]+)/",
                                                    (tmp_path / "exec.log").read_text())])
    syms = Q.elf_symbols(elf)
    for name, op in (("begin_tick", 1), ("receive", 2), ("set_input", 3)):
        (addr, size), = syms[name]
        lo = addr & ~1
        traced = int(np.count_nonzero((pcs >= lo) & (pcs < lo + size)))
        calls_made = int(np.count_nonzero(ops == op))
        assert traced + calls_made == int(insns[ops == op].sum()), name  # + the call itself
        assert traced > 3 * calls_made


# ---- errors and the command line --------------------------------------------------------------------------


def test_missing_qemu_is_a_named_error(lif: tuple[CompileState, dict[str, np.ndarray], Q.Recording],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    state, inp, _ = lif
    real = shutil.which
    monkeypatch.setattr(Q.shutil, "which", lambda name: None if name == "qemu-system-arm" else real(name))
    with pytest.raises(CodegenError, match=r"'qemu-system-arm' not found: .*apt-get install -y "
                                           r"qemu-system-arm") as info:
        Q.verify_qemu(state, inp)
    assert info.value.where == "qemu-system-arm"


def test_cli_verify_reports_cycles_and_a_receive_queue_overflow(tmp_path: Path) -> None:
    """`aedc verify`: a clean run writes per-PE instructions vs the tick budget; 300 spikes a tick
    into one PE overflow its 256-packet receive queue, which the host/emulator do not model — the
    Arm program then differs and the command exits 2 naming the PE and the dropped packets."""
    import json

    from aedc.cli import app
    from aedc.ir.serialize import to_json

    rng = np.random.default_rng(0)
    net = Network("wide_in")
    x = net.input("x", 300)
    h = net.population("h", 8, "lif", tau=0.02, v_threshold=4.0)
    net.dense(x, h, rng.normal(0, 0.1, (8, 300)).astype(F32))
    net.output("y", h)
    model = tmp_path / "wide.json"
    model.write_text(to_json(net.build()))
    build = tmp_path / "build"
    runner = CliRunner()
    res = runner.invoke(app, ["compile", str(model), "-o", str(build), "--pipeline",
                              "slice{max-neurons=256},place{solver=greedy},route,emit-c"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["verify", str(build), "--target", "qemu", "--steps", "6"])
    assert res.exit_code == 0, res.output
    doc = json.loads((build / "verify-qemu.json").read_text())
    assert doc["steps"] == 6
    assert all(r["ok"] and r["ticks"] == 6 and r["instructions_worst"] > 0 for r in doc["pes"])
    assert all(r["budget_cycles"] == 150_000 for r in doc["pes"])  # 1000 µs at 150 MHz
    assert sum(r["neurons"] for r in doc["pes"]) == 308  # every input and LIF neuron, once
    res = runner.invoke(app, ["verify", str(build), "--target", "qemu", "--steps", "6", "--schedule", "async",
                              "--jitter-us", "300", "-o", str(tmp_path / "async.json")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "async.json").read_text())["schedule"] == "async"
    np.save(tmp_path / "all.npy", np.ones((3, 300), F32))
    res = runner.invoke(app, ["verify", str(build), "--target", "qemu", "--input", str(tmp_path / "all.npy")])
    assert res.exit_code == 2, res.output
    assert re.search(r"receive queue dropped \d+ packets", res.output)
    res = runner.invoke(app, ["verify", str(build), "--target", "fpga"])
    assert res.exit_code == 2
    assert "--target must be qemu" in res.output


def test_a_truncated_tick_replay_input_is_refused_by_name(
        lif: tuple[CompileState, dict[str, np.ndarray], Q.Recording], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The tick replay runtime, like the event one: a replay.in cut inside its last record (a
    set_input's values) stops the Arm with exit 2 and a message, not read past its end."""
    state, _, rec = lif
    assert isinstance(state.sources, Sources)
    i = next(i for i, c in enumerate(rec.calls) if 3 in c.ops)
    calls = rec.calls[i]
    j = max(j for j, op in enumerate(calls.ops) if op == 3)  # the last set_input: {3 k t n values[n]}
    cut = Q.PECalls(words=calls.words[:j + 1], ops=calls.ops[:j + 1], ticks=calls.ticks[:j + 1],
                    async_mode=calls.async_mode, version=calls.version, config=calls.config)
    elf = Q.build_replay(state.sources, i, tmp_path)
    full = Q.replay_input(elf, cut, state.sources, i)
    monkeypatch.setattr(Q, "replay_input", lambda *_: full[:-2])  # the end mark and the last value
    with pytest.raises(CodegenError, match=r"QEMU replay failed \(exit 2\).*truncated inside a record"):
        Q.replay(elf, cut, state.sources, i)
