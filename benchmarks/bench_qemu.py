"""Every PE of the compiled MLP and cnn_sinabs on QEMU's Cortex-M4F: bit-identical? instructions per tick?

Networks (compiled with the default pipeline, greedy placement to keep the compile short):

* ``mlp``: 784-512-512-10 LIF, float32 N(0,1) weights (benchmarks/bench_partition.py's MLP).
* ``cnn_sinabs``: the NIR paper's CNN (tests/data/nir_paper/02_cnn/cnn_sinabs.nir, profile sinabs).

Input: random binary events, 5 % of the inputs per tick (bench_partition's activity), ``T`` ticks, sync
schedule. For every PE: :func:`aedc.codegen.qemu.verify_qemu` (host recording, cross-build against the
replay runtime, QEMU ``-icount`` replay, bit-for-bit comparison), its worst and mean instructions per
tick, the estimated cycles (× :data:`aedc.codegen.qemu.CYCLES_PER_INSTRUCTION`) against the tick's
budget (1000 µs × 150 MHz), QEMU wall time per PE-tick; and a least-squares fit over all PE-ticks of
``instructions = a·neurons + b·packets received + c·packets sent + d`` with its error — the shape of
the per-PE cost model the slicer could use as a second budget.

The cycles-per-instruction estimate behind :data:`aedc.codegen.qemu.CYCLES_PER_INSTRUCTION` is checked
here too: four PEs of each network are replayed once more under ``-singlestep -d exec`` (QEMU logs every
instruction's address), the kernel's executed instructions are weighted by the Cortex-M4 TRM's cycle
counts (:data:`TRM_CYCLES`: taken branch 1 + P with P = 2, LDR/STR 2 or 1 when pipelined behind another,
LDRD/STRD 3, LDM/STM/PUSH/POP 1 + N (+P with pc), VLDR/VSTR 2, VDIV/VSQRT 14, MLA 2, SDIV/UDIV ≈ 7,
everything else 1), giving each PE's mix-based CPI.

The event-driven schedule (``event`` rows): the same MLP and cnn_sinabs compiled with the event code
(``slice{event=true}``, ``emit-c{event=true}``, as ``aedc compile --event``), run under
``Schedule.event_driven()`` (k = 0, arrival order, up to 64 micro-steps): every PE's calls from the host
event runtime replayed on the Arm (``runtime/qemu_event_runtime.c``), compared bit for bit, and its
instructions per time step (all its micro-steps) counted the same way; the host event run itself is
checked bit for bit against the JAX event emulator (exact mode), so the Arm equals the emulator.

Writes benchmarks/results/qemu.json. Run: ``.venv/bin/python benchmarks/bench_qemu.py [--quick]
[--event]`` (``--quick``: the MLP only, 10 ticks; ``--event``: only the event rows, merged into the
existing results file).
"""

from __future__ import annotations

import dataclasses
import json
import platform
import re
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_partition import mlp  # noqa: E402

from aedc.codegen import qemu as Q  # noqa: E402
from aedc.codegen.qemu import CYCLES_PER_INSTRUCTION, fit_cost, record, verify_qemu  # noqa: E402
from aedc.ir import Graph  # noqa: E402
from aedc.passes import DEFAULT_PIPELINE, CompileState, PassContext, PassManager  # noqa: E402
from aedc.timing.schedule import Schedule  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
ACTIVITY = 0.05
PIPELINE = DEFAULT_PIPELINE.replace("place,", "place{solver=greedy},")


def cnn() -> Graph:
    from aedc.frontend.load import load_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_model(ROOT / "tests/data/nir_paper/02_cnn/cnn_sinabs.nir", profile="sinabs")


TRM_CYCLES = {"branch_taken": 3, "branch_not_taken": 1, "ldr_str": 2, "ldr_str_pipelined": 1,
              "ldrd_strd": 3, "vldr_vstr": 2, "vdiv_vsqrt": 14, "mla_mls": 2, "sdiv_udiv": 7, "other": 1}
"""Cortex-M4 cycles per instruction class (ARM DDI 0439B, 3.3 "Instruction set summary"), zero wait
states; LDM/STM/PUSH/POP cost 1 + N registers (+ P = 2 when they load pc)."""
_RUNTIME_FUNCS = {"replay", "put", "flush", "dump", "aedc_send", "leave", "semihost", "aedc_reset",
                  "open_file", "aedc_fault", "replay_open", "replay_close"}
"""The replay runtime's own functions (the event runtime's fire_round is the PE's work: it counts)."""
_BRANCH = re.compile(r"^(b|bl|blx|bx|cbz|cbnz)(eq|ne|cs|cc|hs|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al)?$")
_LDST = re.compile(r"^(ldr|str)(b|h|sb|sh)?$")
_MULTI = {"push", "pop", "ldmia", "stmia", "stmdb", "ldmdb", "vpush", "vpop", "vldmia", "vstmia"}


def _mix_cycles(elf: Path, pcs: list[int]) -> tuple[int, float]:
    """(kernel instructions, TRM-weighted cycles) of the executed addresses ``pcs``."""
    text = subprocess.run(["arm-none-eabi-objdump", "-d", "--no-show-raw-insn", str(elf)],
                          capture_output=True, text=True, check=True).stdout
    ins = {int(m.group(1), 16): (m.group(2).split(".")[0], m.group(3)) for m in
           re.finditer(r"^\s+([0-9a-f]+):\s+(\S+)[ \t]*(.*)$", text, re.M)}
    addrs = sorted(ins)
    size = dict(zip(addrs, np.diff(addrs).tolist(), strict=False))
    kernel = [(a & ~1, (a & ~1) + n) for name, entries in Q.elf_symbols(elf).items()
              if name.split(".")[0] not in _RUNTIME_FUNCS for a, n in entries if n and a & 1]
    inside = np.zeros(len(pcs), bool)
    arr = np.asarray(pcs)
    for lo, hi in kernel:
        inside |= (arr >= lo) & (arr < hi)
    count, cycles, prev_ldst = 0, 0.0, False
    for j in range(len(pcs) - 1):
        if not inside[j]:
            prev_ldst = False
            continue
        op, args = ins.get(pcs[j], ("?", ""))
        count += 1
        ldst = False
        if _BRANCH.match(op):
            taken = pcs[j + 1] != pcs[j] + size.get(pcs[j], 2)
            c = TRM_CYCLES["branch_taken" if taken else "branch_not_taken"]
        elif op in ("ldrd", "strd"):
            c = TRM_CYCLES["ldrd_strd"]
        elif _LDST.match(op):
            c = TRM_CYCLES["ldr_str_pipelined" if prev_ldst else "ldr_str"]
            ldst = True
        elif op in _MULTI:
            span = re.search(r"[rsd](\d+)-[rsd](\d+)", args)
            regs = int(span.group(2)) - int(span.group(1)) + 1 if span else args.count(",") + 1
            c = 1 + regs + (2 if "pc" in args else 0)
        elif op in ("vldr", "vstr"):
            c = TRM_CYCLES["vldr_vstr"]
        elif op in ("vdiv", "vsqrt"):
            c = TRM_CYCLES["vdiv_vsqrt"]
        elif op in ("mla", "mls"):
            c = TRM_CYCLES["mla_mls"]
        elif op in ("sdiv", "udiv"):
            c = TRM_CYCLES["sdiv_udiv"]
        else:
            c = TRM_CYCLES["other"]
        cycles += c
        prev_ldst = ldst
    return count, cycles


def cpi_sample(state: CompileState, rec: Q.Recording, indices: list[int], work: Path) -> list[dict[str, Any]]:
    """Mix-based cycles per instruction of PEs ``indices`` from a single-step trace of their replay."""
    assert state.sources is not None
    out = []
    for i in indices:
        elf = Q.build_replay(state.sources, i, work / "elf")
        run_dir = work / f"step{i}"
        run_dir.mkdir(parents=True, exist_ok=True)
        Q.replay_input(elf, rec.calls[i], state.sources, i).tofile(run_dir / "replay.in")
        subprocess.run([*Q.qemu_command(elf), "-singlestep", "-d", "exec,nochain", "-D", "exec.log"],
                       cwd=run_dir, check=True, capture_output=True)
        log = run_dir / "exec.log"
        pcs = [int(v, 16) for v in re.findall(r"\[[0-9a-f]+/([0-9a-f]+)/", log.read_text())]
        log.unlink()
        n, cycles = _mix_cycles(elf, pcs)
        pe = state.sources.manifest["pes"][i]
        out.append({"pe": pe["pe"], "slices": [s["label"] for s in pe["slices"]], "kernel_instructions": n,
                    "cycles_trm": cycles, "cpi": cycles / max(n, 1)})
    return out


def _emulator_equals_host(state: CompileState, inputs: dict[str, np.ndarray], sched: Schedule,
                          host: Any) -> bool:
    """The host event run (the recording's traces) against the JAX event emulator, bit for bit."""
    from aedc.emulator import Emulator, PlacedProgram

    assert state.placement is not None
    emu = Emulator(PlacedProgram.from_placement(state.graph, state.placement), sched, exact=True).run(inputs)

    def same(a: Any, b: Any) -> bool:
        x, y = np.asarray(a), np.asarray(b)
        return x.size == y.size and x.reshape(-1).tobytes() == y.reshape(-1).tobytes()

    return (all(same(emu.events[n], host.events[n]) and same(emu.outputs[n], host.outputs[n])
                for n in emu.events)
            and all(same(a, host.state[n][v]) for n, d in emu.state.items() for v, a in d.items())
            and all(same(np.asarray(a, np.int64), host.microsteps[n])
                    for n, a in (emu.microsteps or {}).items()))


def run(name: str, graph: Graph, T: int, event: bool = False) -> dict[str, Any]:
    t0 = time.perf_counter()
    manager = PassManager(PIPELINE)
    if event:  # as `aedc compile --event`
        manager = PassManager([dataclasses.replace(p, event=True)  # type: ignore[call-arg]
                               if p.name in ("slice", "emit-c") else p for p in manager.pipeline.passes])
    state = manager.run(CompileState(graph=graph), PassContext())
    compile_s = time.perf_counter() - t0
    assert state.sources is not None
    manifest = state.sources.manifest
    rng = np.random.default_rng(0)
    inputs = {n: (rng.random((T, *manifest["populations"][n]["shape"])) < ACTIVITY).astype(np.float32)
              for n in manifest["inputs"]["populations"]}
    sched = Schedule.event_driven() if event else None
    t0 = time.perf_counter()
    rec = record(state, inputs, schedule=sched)
    report = verify_qemu(state, inputs, jobs=2, recording=rec, schedule=sched)
    verify_s = time.perf_counter() - t0
    n_pes = len(manifest["pes"])
    with tempfile.TemporaryDirectory(prefix="aedc-bench-qemu-") as tmp:
        cpi = cpi_sample(state, rec, sorted({0, n_pes // 3, 2 * n_pes // 3, n_pes - 1}), Path(tmp))
    rows = report.rows()
    fit = fit_cost(report.pes)
    worst = max(rows, key=lambda r: r["budget_fill"])
    out = {
        "network": name, "schedule": "event" if event else "sync", "pes": len(rows), "ticks": report.steps,
        "activity": ACTIVITY,
        "bit_identical_pes": sum(r["ok"] for r in rows),
        "mismatches": [r["mismatch"] for r in rows if not r["ok"]],
        "dropped_packets": sum(r["dropped"] for r in rows),
        "worst_pe": worst["pe"], "worst_instructions": worst["instructions_worst"],
        "worst_cycles_est": worst["cycles_worst"], "budget_cycles": worst["budget_cycles"],
        "worst_budget_fill": worst["budget_fill"],
        "mean_instructions_per_pe_tick": float(np.mean([p.instructions.mean() for p in report.pes])),
        "qemu_ms_per_pe_tick": float(np.mean([r["qemu_ms_per_tick"] for r in rows])),
        "compile_s": compile_s, "verify_s": verify_s,
        "fit": dataclasses.asdict(fit),
        "cpi_sample": cpi,
        "per_pe": rows,
    }
    if event:
        t0 = time.perf_counter()
        out["host_equals_emulator"] = _emulator_equals_host(state, inputs, sched, rec.trace)  # type: ignore[arg-type]
        out["emulator_s"] = time.perf_counter() - t0
        out["microsteps_per_step_max"] = int(np.max(getattr(rec.trace, "microsteps_per_step", [0])))
        out["instructions_by_call"] = {op: int(sum(int(p.by_op[op].sum()) for p in report.pes))
                                       for op in report.pes[0].by_op}
        name = f"{name} (event)"
    print(f"{name}: {out['bit_identical_pes']}/{out['pes']} PEs bit-identical over {T} ticks "
          f"({out['dropped_packets']} packets dropped); worst PE {worst['pe']}: "
          f"{worst['instructions_worst']:,} instructions ≈ {worst['cycles_worst']:,.0f} cycles = "
          f"{100 * worst['budget_fill']:.1f}% of 1 ms at 150 MHz; QEMU {out['qemu_ms_per_pe_tick']:.2f} ms "
          f"per PE-tick; fit a={fit.per_neuron:.1f}/neuron b={fit.per_packet_in:.1f}/packet in "
          f"c={fit.per_packet_out:.1f}/packet out d={fit.per_tick:.0f}, median error "
          f"{100 * fit.median_rel_error:.1f}%; "
          f"compile {compile_s:.0f} s, verify {verify_s:.0f} s; TRM-weighted CPI of "
          f"{', '.join(c['pe'] for c in cpi)}: {', '.join(format(c['cpi'], '.2f') for c in cpi)}",
          flush=True)
    return out


def main() -> None:
    quick, event_only = "--quick" in sys.argv, "--event" in sys.argv
    cases = [("mlp", mlp, 10 if quick else 20)] + ([] if quick else [("cnn_sinabs", cnn, 20)])
    target = RESULTS / ("qemu.quick.json" if quick else "qemu.json")
    old = json.loads(target.read_text())["results"] if event_only and target.is_file() else []
    ticks = [] if event_only else [run(name, make(), T) for name, make, T in cases]
    events = [run(name, make(), T, event=True) for name, make, T in cases]
    kept = [r for r in old if r.get("schedule", "sync") != "event"]
    doc = {"machine": platform.machine(), "python": platform.python_version(),
           "cycles_per_instruction": CYCLES_PER_INSTRUCTION,
           "results": (kept if event_only else ticks) + events}
    RESULTS.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(doc, indent=1, sort_keys=True, default=float) + "\n")
    differ = [r["network"] for r in events if not r["host_equals_emulator"]]
    if differ:  # the results stay written, to look at; the run fails
        raise SystemExit(f"bench_qemu: the host event run is not bit-identical to the JAX event emulator "
                         f"on {', '.join(differ)} (host_equals_emulator false in {target})")


if __name__ == "__main__":
    main()
