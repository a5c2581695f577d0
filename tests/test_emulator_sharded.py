"""The emulator sharded over a JAX device mesh equals the single-device run bit for bit.

The comparisons need 4 JAX devices, and this process has already imported JAX with one, so they run
once in a subprocess (``tests/sharded_check.py``, which sets
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` before importing JAX) and report, per case, the
(population, field) pairs whose float32 bytes differ. Programs: the NIR paper LIF (``nir-euler``, one
PE per population, 3 PEs on 4 devices: one device holds nothing), the 100-64-10 MLP compiled by slice +
greedy placement onto 7 PEs of 2 chips (builder default ``nir-euler``), and a recurrent sigma-delta /
CubaLIF / LI net (``snntorch``) spread over 24 chips of a 48-chip machine. Schedules: sync, async with
300 µs jitter (receivers take two source ticks or none), and async with 2,550 µs between chips, whose
minimum cross-shard latency is L = 3 ticks when each of 2 devices holds one chip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ci_env import in_ci
from sharded_check import MLP_MACHINE, compile_mlp, compiled_mlp

from aedc.emulator import Emulator, PlacedProgram, Schedule
from aedc.emulator.sharded import assign_shards
from aedc.errors import EmulatorError
from aedc.ir import Graph
from aedc.machine import Machine, PEAddress

HERE = Path(__file__).parent


def _check(out: Path, which: str = "default") -> dict[str, dict[str, Any]]:
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, str(HERE / "sharded_check.py"), str(out), which], env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    return {row["case"]: row for row in json.loads(out.read_text())}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return _check(tmp_path_factory.mktemp("sharded") / "report.json")


@pytest.mark.parametrize("program", ["lif", "mlp", "recurrent"])
@pytest.mark.parametrize("schedule", ["sync", "async_jitter"])
def test_sharded_run_equals_single_device(report: dict[str, dict[str, Any]], program: str,
                                          schedule: str) -> None:
    row = report[f"{program}_{schedule}"]
    assert row["differences"] == []
    assert row["metrics_equal"]
    assert row["shards"] == 4
    assert all(v > 0 for v in row["events"].values()), row["events"]  # every population is active
    assert sum(row["shard_neurons"]) == row["neurons"]
    if schedule == "async_jitter":  # jitter: PEs tick at different times, more steps than ticks
        assert row["steps"] > row["ticks"]
    assert row["samples"] == (2 if (program, schedule) == ("recurrent", "async_jitter") else 1)


@pytest.mark.skipif(not in_ci(), reason="cnn_sinabs on 4 devices (≈ 40 s: the default pipeline and the "
                                        "exact 32-PE program, compiled four times): runs in CI (.ci/run)")
def test_sharded_cnn_sinabs_equals_single_device(tmp_path: Path) -> None:
    report = _check(tmp_path / "cnn.json", "cnn")
    for name in ("cnn_sync", "cnn_async_jitter"):
        row = report[name]
        assert row["differences"] == [], name
        assert row["metrics_equal"]
        assert row["n_pes"] == 32  # its convolutions in the kernel format (112 PEs with expanded rows)
        assert all(v > 0 for v in row["events"].values()), row["events"]
        assert 0 < row["exchange_floats"] < row["shards"] * row["neurons"]


def test_programs_span_pes_and_chips(report: dict[str, dict[str, Any]]) -> None:
    assert (report["mlp_sync"]["n_pes"], report["mlp_sync"]["chips"]) == (7, 2)
    assert report["recurrent_sync"]["chips"] == 24
    assert report["lif_sync"]["shard_neurons"] == [1, 1, 1, 0]  # more devices than PEs


def test_lookahead_divides_exchanges_by_the_cross_shard_latency(report: dict[str, dict[str, Any]]) -> None:
    # between chips an event arrives 50 + 2,500 µs after it leaves: the first receiver tick starting
    # strictly later is 3 ticks on (period 1,000 µs), so L = 3; 31 ticks, zero jitter: 31 steps, run
    # as 11 chunks of 3 (the last one padded with 2 steps in which no PE ticks)
    every, ahead = report["mlp_chips_every_step"], report["mlp_chips_lookahead"]
    assert every["ticks"] == every["steps"] == 31
    assert (every["lookahead_steps"], every["exchanges"]) == (1, 31)
    assert (ahead["lookahead_steps"], ahead["exchanges"]) == (3, 11)
    assert every["differences"] == ahead["differences"] == []
    assert all(v > 0 for v in ahead["events"].values())
    # with jitter: Λ from the plan's steps (the fewest between a cross-chip send and its first read)
    jit = report["mlp_chips_jitter_lookahead"]
    assert jit["differences"] == []
    assert jit["lookahead_steps"] >= 2
    assert jit["exchanges"] == -(-jit["steps"] // jit["lookahead_steps"])


def test_one_step_beyond_the_lookahead_changes_the_answer(report: dict[str, dict[str, Any]]) -> None:
    """The comparison can fail, and the lookahead is tight: exchanging every L + 1 steps reads events
    that have not arrived yet."""
    row = report["too_far"]
    assert row["lookahead_steps"] == 4
    assert row["differences"] != []


def test_a_data_axis_splits_the_batch(report: dict[str, dict[str, Any]]) -> None:
    """A ("data", "pe") mesh of 2 × 2: each pair of devices runs one sample's PEs, one chip each (the
    fast-mode jitter case)."""
    row = report["mlp_fast_jitter"]
    assert row["differences"] == []
    assert row["metrics_equal"]
    assert (row["samples"], row["batch_devices"], row["shards"]) == (2, 2, 2)
    assert (row["n_pes"], row["chips"]) == (7, 2)
    assert sum(row["shard_neurons"]) == row["neurons"]


@pytest.mark.parametrize("schedule", ["sync", "jitter"])
def test_fast_mode_sharded_equals_single_device_with_exact_sums(report: dict[str, dict[str, Any]],
                                                                 schedule: str) -> None:
    """Fast mode (matmuls): weights k/8 and binary spikes make every sum exact in float32, so the
    sharded matmuls (one per post PE over all source PEs) equal the single-device ones (one per block)
    and exact mode bit for bit."""
    row = report[f"mlp_fast_{schedule}"]
    assert row["differences"] == []
    assert row["vs_exact"] == []
    assert all(v > 0 for v in row["events"].values()), row["events"]


def test_exchange_is_smaller_than_an_all_gather(report: dict[str, dict[str, Any]]) -> None:
    for name in ("mlp_sync", "mlp_chips_lookahead", "recurrent_sync"):
        row = report[name]
        assert 0 < row["exchange_floats"] < row["shards"] * row["neurons"], name


def test_shards_are_whole_chips_when_there_are_enough() -> None:
    program, _ = compiled_mlp()
    shard = assign_shards(program, 2)
    chips = [p.chip for p in program.pes]
    assert {c: {int(s) for s, c2 in zip(shard, chips, strict=True) if c2 == c} for c in set(chips)} \
        == {(0, 0): {0}, (1, 0): {1}}
    assert len(MLP_MACHINE.chips) == 4  # the placement used 2 of the machine's 4 chips


def _chain_program(sizes: list[int], chips: list[tuple[int, int]]) -> PlacedProgram:
    """A bare program with one population per PE (sizes) on the given chips (PE index = list order)."""
    from aedc.frontend.builder import Network

    net = Network("chain")
    net.input("p0", sizes[0])
    for i, n in enumerate(sizes[1:], 1):
        net.population(f"p{i}", n, "lif", tau=1e-3, v_threshold=0.5)
        net.dense(f"p{i - 1}", f"p{i}", np.ones((n, sizes[i - 1])))
    graph: Graph = net.build()
    pes = tuple(PEAddress(chip=c, qpe=(1 + i // 4, 1), pe=i % 4) for i, c in enumerate(chips))
    pe_of = {f"p{i}": np.full(n, i, np.int64) for i, n in enumerate(sizes)}
    return PlacedProgram(graph, pe_of, pes, Machine.spinnaker2((2, 2)))


def test_assign_shards_groups_chips_then_pes_balancing_neurons() -> None:
    # chips in canonical order (y, x): (0,0), (1,0), (0,1); neurons per chip 30, 10, 60
    prog = _chain_program([10, 20, 10, 30, 30], [(0, 0), (0, 0), (1, 0), (0, 1), (0, 1)])
    assert assign_shards(prog, 1).tolist() == [0] * 5
    assert assign_shards(prog, 2).tolist() == [0, 0, 0, 1, 1]  # 40 | 60: whole chips
    assert assign_shards(prog, 3).tolist() == [0, 0, 1, 2, 2]  # one chip each
    # more shards than chips: single PEs in canonical order, every shard gets one
    assert assign_shards(prog, 4).tolist() == [0, 0, 1, 2, 3]  # 30 | 10 | 30 | 30
    assert assign_shards(prog, 5).tolist() == [0, 1, 2, 3, 4]
    assert assign_shards(prog, 7).tolist() == [0, 1, 2, 3, 4]  # two devices left empty


def test_mesh_refusals() -> None:
    prog = _chain_program([2, 2], [(0, 0), (0, 0)])
    with pytest.raises(EmulatorError, match="xla_force_host_platform_device_count=64"):
        Emulator(prog, devices=64)
    with pytest.raises(EmulatorError, match="event schedule"):
        Emulator(prog, Schedule.event_driven(), devices=1)
    with pytest.raises(EmulatorError, match="training on a mesh"):
        Emulator(prog, devices=1, exact=False).trainable(4)


def test_one_device_mesh_equals_the_plain_run() -> None:
    """In this process JAX has one device: a one-device mesh runs the same shard_map program."""
    prog = _chain_program([6, 5, 4], [(0, 0), (0, 0), (1, 0)])
    x = {"p0": (np.random.default_rng(0).random((12, 6)) < 0.5).astype(np.float32)}
    a = Emulator(prog).run(x)
    b = Emulator(prog, devices=1).run(x)
    for n in a.events:
        assert a.events[n].tobytes() == b.events[n].tobytes(), n
    for n, st in a.state.items():
        for v, arr in st.items():
            assert arr.tobytes() == b.state[n][v].tobytes(), (n, v)
    assert b.metrics["shards"] == 1
    assert b.metrics["exchanges"] == 0  # nothing crosses a shard
    assert int(np.count_nonzero(a.events["p2"])) > 0


def test_a_mesh_run_refuses_chunks_and_reports_its_phase() -> None:
    """A sharded run is one shard_map call: ``chunk`` is refused by name (it used to be dropped
    silently) and ``progress`` sees the start and the end of that call, nothing in between."""
    prog = _chain_program([6, 5, 4], [(0, 0), (0, 0), (1, 0)])
    x = {"p0": (np.random.default_rng(0).random((12, 6)) < 0.5).astype(np.float32)}
    emu = Emulator(prog, devices=1)
    with pytest.raises(EmulatorError, match=r"chunk=3: a run on a mesh is one shard_map call"):
        emu.run(x, chunk=3)
    with pytest.raises(EmulatorError, match=r"chunk=2: a run on a mesh"):
        emu.run_batch({"p0": x["p0"][None]}, chunk=2, progress=lambda *_: None)
    seen: list[tuple[int, int]] = []
    res = emu.run(x, progress=lambda done, total: seen.append((done, total)))
    G = emu.steps(12)
    assert seen == [(0, G), (G, G)]
    plain = Emulator(prog).run(x)
    assert all(res.events[n].tobytes() == plain.events[n].tobytes() for n in plain.events)


def test_cli_run_devices_equals_the_single_device_run(tmp_path: Path) -> None:
    """``aedc run BUILD --devices 2`` in a fresh process (it makes the 2 virtual CPU devices itself)
    writes the traces of the plain run and the sharding metrics."""
    import warnings

    from typer.testing import CliRunner

    from aedc.cli import app
    from aedc.frontend.nir_import import from_nir
    from aedc.ir import save

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = from_nir(HERE / "data" / "nir_paper" / "01_lif" / "lif_norse.nir", profile="nir-euler",
                         dt=1e-4)
    build = tmp_path / "build"
    build.mkdir()
    save(graph, build / "ir.json")
    (build / "build.json").write_text("{}\n")
    x = np.loadtxt(HERE / "data" / "nir_paper" / "01_lif" / "lif_norse.csv", delimiter=",")[:600, :1]
    np.save(tmp_path / "x.npy", x.astype(np.float32))
    args = ["run", str(build), "--input", str(tmp_path / "x.npy"), "--schedule", "async"]
    plain = CliRunner().invoke(app, [*args, "-o", str(tmp_path / "one")])
    assert plain.exit_code == 0, plain.output
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    done = subprocess.run([sys.executable, "-m", "aedc.cli", *args, "--devices", "2", "-o",
                           str(tmp_path / "two")], env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "sharded over 2 devices" in done.stdout
    metrics = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert metrics["shards"] == 2
    assert metrics["exchanges"] == 600  # async, one-tick links: every step
    with np.load(tmp_path / "one" / "traces.npz") as a, np.load(tmp_path / "two" / "traces.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for k in a.files:
            assert a[k].tobytes() == b[k].tobytes(), k
        assert np.count_nonzero(a["events/1"]) > 0


def test_two_processes_on_localhost_equal_one_device(tmp_path: Path) -> None:
    """``examples/two_processes.py``: ``aedc run --processes 2`` on localhost (``jax.distributed``, one
    CPU device per process, gloo collectives) on the compiled MLP's build directory under jittered
    async writes the single-device run's traces byte for byte."""
    from typer.testing import CliRunner

    from aedc.cli import app
    from aedc.ir import save

    st = compile_mlp()
    _, x = compiled_mlp()
    build = tmp_path / "build"
    build.mkdir()
    save(st.graph, build / "ir.json")
    st.placement.save(build / "placement.json")
    (build / "build.json").write_text("{}\n")
    np.save(tmp_path / "x.npy", x["x"])
    opts = ["--schedule", "async", "--jitter-us", "300", "--seed", "1"]
    plain = CliRunner().invoke(app, ["run", str(build), "--input", str(tmp_path / "x.npy"), *opts, "-o",
                                     str(tmp_path / "one")])
    assert plain.exit_code == 0, plain.output
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"} | {"JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, str(HERE.parent / "examples" / "two_processes.py"), str(build),
                           str(tmp_path / "x.npy"), str(tmp_path / "two"), "--", *opts], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "process 1 of 2: ran its shards" in done.stdout
    metrics = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert (metrics["shards"], metrics["shard_neurons"]) == (2, [139, 35])  # one chip per process
    assert metrics["exchanges"] > 0
    assert metrics["events"]["o"] > 0
    with np.load(tmp_path / "one" / "traces.npz") as a, np.load(tmp_path / "two" / "traces.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for k in a.files:
            assert a[k].tobytes() == b[k].tobytes(), k
