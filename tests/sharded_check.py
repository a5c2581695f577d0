"""Sharded emulator runs against the single-device run, in a process that sees 4 virtual CPU devices.

JAX fixes its device count when it is imported, and the pytest process has already imported it with
one; so ``tests/test_emulator_sharded.py`` runs this file as ``python tests/sharded_check.py OUT.json``
with ``XLA_FLAGS=--xla_force_host_platform_device_count=4`` in its environment (by hand: the same). Every case
runs the same :class:`~aedc.timing.program.PlacedProgram` under the same schedule on one device and on a
mesh, and records the (population, field) pairs whose float32 bytes differ (events, outputs, every state
variable), the event counts (so a comparison is not vacuous) and the sharding metrics. Profiles: the
NIR paper LIF uses ``nir-euler`` at dt = 1e-4; the MLP the builder's default ``nir-euler``; the
recurrent net ``snntorch``.
"""

from __future__ import annotations

import json
import sys
import warnings
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from aedc.emulator import Emulator, EmulatorResult, PlacedProgram, Schedule
from aedc.frontend.builder import Network
from aedc.ir import Graph
from aedc.machine import Machine
from aedc.partition.model import MemoryBreakdown, PEUsage, Placement, Slice, Slicing

F32 = np.float32
DATA = Path(__file__).parent / "data" / "nir_paper" / "01_lif"
JITTER = Schedule.asynchronous(period_us=1000, link_us=50, hop_us=20, jitter_us=300, seed=1)
"""Async with jitter: receivers sometimes take two source ticks in one tick, or none."""
CHIP_LATENCY = Schedule.asynchronous(period_us=1000, link_us=50, hop_us=20, chip_hop_us=2500)
"""An event between chips arrives 2,550 µs after it is sent (one chip hop): visible 3 ticks later; inside
a chip 1 tick later. With one chip per shard the minimum cross-shard latency is L = 3."""
CHIP_JITTER = Schedule.asynchronous(period_us=1000, link_us=50, hop_us=20, chip_hop_us=2500, jitter_us=400,
                                    seed=3)
"""The same with 400 µs jitter: the lookahead (in the plan's steps) still exceeds one step."""


def bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, F32).view(np.int32)


def differences(a: EmulatorResult, b: EmulatorResult) -> list[str]:
    """Every (population, field) whose float32 bytes differ between two runs."""
    bad = []
    for n in a.events:
        for what, x, y in (("events", a.events[n], b.events[n]), ("outputs", a.outputs[n], b.outputs[n])):
            if x.shape != y.shape or not np.array_equal(bits(x), bits(y)):
                bad.append(f"{n}.{what}")
    for n, st in a.state.items():
        for var, x in st.items():
            y = b.state[n][var]
            if x.shape != y.shape or not np.array_equal(bits(x), bits(y)):
                bad.append(f"{n}.{var}")
    return bad


def lif_norse() -> tuple[PlacedProgram, dict[str, np.ndarray]]:
    """The NIR paper's LIF neuron (input → linear → LIF), one PE per population: 3 PEs, 4 devices."""
    from aedc.frontend.nir_import import from_nir

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the file predates NIR 1.0
        graph = from_nir(DATA / "lif_norse.nir", profile="nir-euler", dt=1e-4)
    x = np.loadtxt(DATA / "lif_norse.csv", delimiter=",")[:, :1].astype(F32)
    return PlacedProgram.trivial(graph), {"input": x}


def mlp(seed: int = 0, dyadic: bool = False) -> Graph:
    """100-64-10 LIF/CubaLIF MLP; ``dyadic``: weights rounded to k/8 (every synaptic sum exact)."""
    rng = np.random.default_rng(seed)
    q = (lambda w: np.round(w * 8) / 8) if dyadic else (lambda w: w)
    net = Network("mlp")
    x = net.input("x", 100)
    h = net.population("h", 64, "lif", tau=2e-3, v_threshold=0.5)
    net.dense(x, h, q(rng.normal(0.05, 0.3, (64, 100))).astype(F32))
    o = net.population("o", 10, "cuba_lif", tau_syn=1e-3, tau_mem=2e-3, v_threshold=0.5)
    net.dense(h, o, q(rng.normal(0.3, 0.5, (10, 64))).astype(F32))
    net.output("y", o)
    return net.build()


MLP_MACHINE = Machine.tiny((1, 1), pes_per_qpe=4, chips=(4, 1), dynamic_region_bytes=8000)
"""4 PEs per chip with 8,000 B of data each: the 100-64-10 MLP needs 7 PEs on 2 chips."""


def compile_mlp() -> Any:
    """100-64-10 MLP through slice + greedy placement on :data:`MLP_MACHINE` (a ``CompileState``)."""
    from aedc.passes import CompileState, PassContext, PassManager

    pipeline = "verify,fold-scale,fuse-affine,dce,slice{max-neurons=16,min-neurons=4},place{solver=greedy}"
    st = PassManager(pipeline).run(CompileState(graph=mlp()), PassContext(target=MLP_MACHINE))
    assert st.placement is not None
    return st


def compiled_mlp(T: int = 31, dyadic: bool = False) -> tuple[PlacedProgram, dict[str, np.ndarray]]:
    """The compiled MLP's program and ``T`` ticks of 20 % binary input; ``dyadic``: the same placement
    (7 PEs on 2 chips) running the k/8-weight MLP."""
    st = compile_mlp()
    graph = mlp(dyadic=True) if dyadic else st.graph
    rng = np.random.default_rng(1)
    return (PlacedProgram.from_placement(graph, st.placement),
            {"x": (rng.random((T, 100)) < 0.2).astype(F32)})


def recurrent(seed: int = 0) -> Graph:
    """Graded input, sigma-delta ReLU, CubaLIF with a recurrent back edge, a delay-2 and a delay-3 loop
    through a graded LI readout."""
    rng = np.random.default_rng(seed)
    net = Network("recurrent", profile="snntorch")
    x = net.input("x", 24, event_rule="graded")
    r = net.population("r", 32, "relu", event_rule="sigma_delta", event_threshold=0.05)
    h = net.population("h", 64, "cuba_lif", tau_syn=2e-4, tau_mem=5e-4, v_threshold=0.4)
    li = net.population("li", 10, "li", tau=3e-4, event_rule="graded")
    net.dense(x, r, rng.normal(0, 0.5, (32, 24)).astype(F32))
    net.dense(x, h, rng.normal(0, 0.5, (64, 24)).astype(F32))
    net.dense(r, h, rng.normal(0, 0.3, (64, 32)).astype(F32), delay=2)
    net.dense(h, h, rng.normal(0, 0.3, (64, 64)).astype(F32), back_edge=True)
    net.dense(h, li, rng.normal(0, 0.5, (10, 64)).astype(F32), delay=1)
    net.dense(li, h, rng.normal(0, 0.2, (64, 10)).astype(F32), delay=3)
    net.output("y", li)
    return net.build()


BOARD = Machine.tiny((1, 1), pes_per_qpe=4, chips=(8, 6))
"""48 chips of 4 PEs (a board's chip count, few PEs so slices spread over many chips)."""


def spread_placement(graph: Graph, pieces: int, machine: Machine) -> Placement:
    """Non-input populations cut into ``pieces`` slices placed on every 7th PE of ``machine``."""
    slices: list[Slice] = []
    for pop in graph.populations:
        if not pop.is_input:
            cuts = np.unique(np.linspace(0, pop.size, min(pieces, pop.size) + 1).astype(int))
            slices += [Slice(population=pop.name, lo=int(a), hi=int(b)) for a, b in pairwise(cuts)]
    pes = machine.pes()
    assignment = tuple(pes[(7 * i) % len(pes)] for i in range(len(slices)))
    used = tuple(PEUsage(pe=a, slices=(i,), memory=MemoryBreakdown()) for i, a in enumerate(assignment))
    return Placement(machine=machine, slicing=Slicing(slices=tuple(slices)), assignment=assignment,
                     pes=used, objective=0, bound=0, solver="test", baseline_objective=0)


def recurrent_board(T: int = 24, B: int = 2) -> tuple[PlacedProgram, dict[str, np.ndarray]]:
    """The recurrent net spread over the 48-chip :data:`BOARD`; a batch of ``B`` graded inputs."""
    graph = recurrent()
    rng = np.random.default_rng(1)
    x = (rng.normal(0, 1, (B, T, 24)) * (rng.random((B, T, 24)) < 0.3)).astype(F32)
    return PlacedProgram.from_placement(graph, spread_placement(graph, 8, BOARD)), {"x": x}


_SINGLE: dict[tuple[int, Schedule], EmulatorResult] = {}


def single(program: PlacedProgram, data: dict[str, np.ndarray], schedule: Schedule,
           batch: bool = False) -> EmulatorResult:
    """The single-device run (the oracle), once per (program, schedule, batch)."""
    key = (id(program), schedule, batch)
    if key not in _SINGLE:
        emu = Emulator(program, schedule)
        _SINGLE[key] = emu.run_batch(data) if batch else emu.run(data)
    return _SINGLE[key]


def cnn_sinabs(T: int = 8) -> tuple[PlacedProgram, dict[str, np.ndarray]]:
    """The NIR paper's CNN (``sinabs``) through the default pipeline: 32 PEs; 5 % binary input."""
    from aedc.frontend.nir_import import from_nir
    from aedc.passes import CompileState, PassContext, PassManager
    from aedc.passes.pipelines import DEFAULT_PIPELINE

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = from_nir(DATA.parent / "02_cnn" / "cnn_sinabs.nir", profile="sinabs")
    st = PassManager(DEFAULT_PIPELINE).run(CompileState(graph=graph), PassContext())
    assert st.placement is not None
    pop = st.graph.population(st.graph.inputs[0])
    x = (np.random.default_rng(1).random((T, *pop.shape)) < 0.05).astype(F32)
    return PlacedProgram.from_placement(st.graph, st.placement), {pop.name: x}


def case(name: str, program: PlacedProgram, data: dict[str, np.ndarray], schedule: Schedule,
         batch: bool = False, exact: bool = True, **kw: Any) -> dict[str, Any]:
    """``data`` is ``(T, N)`` per input, or ``(B, T, N)`` with ``batch`` (both runs vmapped); with
    ``exact=False`` both runs are fast mode, and ``vs_exact`` compares the sharded one with exact mode."""
    fast = Emulator(program, schedule, exact=False)
    one = single(program, data, schedule, batch) if exact else (fast.run_batch(data) if batch
                                                                 else fast.run(data))
    emu = Emulator(program, schedule, exact=exact, **kw)
    many = emu.run_batch(data) if batch else emu.run(data)
    m1, m2 = (one.metrics, many.metrics) if batch else ([one.metrics], [many.metrics])
    keys = ("shards", "exchanges", "exchange_floats", "lookahead_steps", "steps", "batch_devices")
    return {"case": name, "differences": differences(one, many),
            "events": {n: int(np.count_nonzero(e)) for n, e in one.events.items()},
            "ticks": int(next(iter(data.values())).shape[batch]),
            "steps": int(np.unique(one.tick_times).size), "samples": len(m1),
            "n_pes": program.n_pes, "chips": len({p.chip for p in program.pes}),
            "metrics_equal": all(a["events"] == b["events"] and a["noc_packets"] == b["noc_packets"]
                                 for a, b in zip(m1, m2, strict=True)),
            "shard_neurons": np.asarray(m2[0]["shard_neurons"]).tolist(),
            "neurons": sum(p.size for p in program.graph.populations),
            "vs_exact": [] if exact else differences(single(program, data, schedule, batch), many),
            **{k: m2[0][k] for k in keys}}


def too_far(program: PlacedProgram, data: dict[str, np.ndarray], schedule: Schedule) -> dict[str, Any]:
    """The lookahead one step too long (events read before they are exchanged): must differ."""
    from aedc.emulator.sharded import ShardedCompiled, make_mesh

    class TooFar(ShardedCompiled):
        def _lookahead(self, *args: Any) -> int:
            return super()._lookahead(*args) + 1

    one = single(program, data, schedule)
    comp, _ = Emulator(program, schedule).compiled(next(iter(data.values())).shape[0])
    sc = TooFar(program, comp, make_mesh(2))  # type: ignore[arg-type]
    raw = sc.run({k: v[None] for k, v in data.items()}, program)
    bad = [n for n in one.events if not np.array_equal(bits(raw[n]["events"][0]), bits(one.events[n]))]
    return {"case": "too_far", "lookahead_steps": sc.lookahead, "differences": bad}


def main(out: str, which: str = "default") -> None:
    import jax
    from jax.sharding import Mesh

    if len(jax.devices()) != 4:
        sys.exit(f"needs 4 JAX devices, sees {jax.devices()}: run with "
                 f"XLA_FLAGS=--xla_force_host_platform_device_count=4")
    rows = []
    if which == "cnn":
        cnn, cx = cnn_sinabs()
        rows.append(case("cnn_sync", cnn, cx, Schedule.sync(), devices=4))
        rows.append(case("cnn_async_jitter", cnn, cx, JITTER, devices=4))
        Path(out).write_text(json.dumps(rows, indent=1))
        return
    lif, lif_x = lif_norse()
    rows.append(case("lif_sync", lif, lif_x, Schedule.sync(), devices=4))
    rows.append(case("lif_async_jitter", lif, lif_x, JITTER, devices=4))
    prog, x = compiled_mlp()
    rows.append(case("mlp_sync", prog, x, Schedule.sync(), devices=4))
    rows.append(case("mlp_async_jitter", prog, x, JITTER, devices=4))
    by_chip = Mesh(np.array(jax.devices()[:2]), ("pe",))
    rows.append(case("mlp_chips_lookahead", prog, x, CHIP_LATENCY, mesh=by_chip))
    rows.append(case("mlp_chips_every_step", prog, x, CHIP_LATENCY, mesh=by_chip, lookahead=False))
    rec, rx = recurrent_board()
    rows.append(case("recurrent_sync", rec, {"x": rx["x"][0]}, Schedule.sync(), devices=4))
    rows.append(case("recurrent_async_jitter", rec, rx, JITTER, batch=True, devices=4))
    rows.append(case("mlp_chips_jitter_lookahead", prog, x, CHIP_JITTER, mesh=by_chip))
    rows.append(too_far(prog, x, CHIP_LATENCY))
    fast, fx = compiled_mlp(24, dyadic=True)
    rows.append(case("mlp_fast_sync", fast, fx, Schedule.sync(), exact=False, devices=4))
    data_pe = Mesh(np.array(jax.devices()).reshape(2, 2), ("data", "pe"))  # 2 samples × 2 PE shards
    fxb = {"x": np.stack([fx["x"], fx["x"][::-1]])}
    rows.append(case("mlp_fast_jitter", fast, fxb, JITTER, batch=True, exact=False, mesh=data_pe))
    Path(out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:3])
