"""`aedc run BUILD --input x.npy`: traces, raster, metrics written atomically; bad input exits 2."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from aedc.cli import app
from aedc.frontend.nir_import import from_nir
from aedc.ir import save
from aedc.reference import simulate

DATA = Path(__file__).parent / "data" / "nir_paper" / "01_lif"


def _build(tmp_path: Path) -> tuple[Path, Path, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = from_nir(DATA / "lif_norse.nir", profile="nir-euler", dt=1e-4)
    build = tmp_path / "build"
    build.mkdir()
    save(graph, build / "ir.json")
    (build / "build.json").write_text("{}\n")
    x = np.loadtxt(DATA / "lif_norse.csv", delimiter=",")[:, :1].astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    ref = simulate(graph, {"input": x}).events[graph.outputs["output"]]
    return build, tmp_path / "x.npy", ref


def test_run_writes_traces_raster_and_metrics(tmp_path: Path) -> None:
    build, x, ref = _build(tmp_path)
    res = CliRunner().invoke(app, ["run", str(build), "--input", str(x)])
    assert res.exit_code == 0, res.output
    run = build / "run"
    assert sorted(p.name for p in run.iterdir()) == ["build.json", "metrics.json", "raster.png",
                                                      "traces.npz"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["first_output_tick"] == 460
    assert metrics["ticks"] == 1000
    with np.load(run / "traces.npz") as tr:
        assert np.array_equal(tr["events/1"], ref)
    # async, again into the same directory (replaced atomically): shifted by the depth of 2
    res = CliRunner().invoke(app, ["run", str(build), "--input", str(x), "--schedule", "async",
                                   "--steps", "600"])
    assert res.exit_code == 0, res.output
    assert json.loads((run / "metrics.json").read_text())["first_output_tick"] == 462


def test_run_rejects_bad_input_with_exit_code_2(tmp_path: Path) -> None:
    build, _, _ = _build(tmp_path)
    np.save(tmp_path / "bad.npy", np.zeros((10, 3), np.float32))
    res = CliRunner().invoke(app, ["run", str(build), "--input", str(tmp_path / "bad.npy")])
    assert res.exit_code == 2
    assert "input 'input' has shape (10, 3)" in res.output
    assert not (build / "run").exists()


def test_run_under_the_event_schedule(tmp_path: Path) -> None:
    """``aedc run --schedule event``: the NIR paper LIF fires at the reference's steps (one neuron: the
    event-driven model and the layer-synchronous one agree), micro-step metrics and traces written."""
    _, x, ref = _build(tmp_path)
    build = tmp_path / "compiled"  # the default pipeline fuses the file's Affine into a projection
    res = CliRunner().invoke(app, ["compile", str(DATA / "lif_norse.nir"), "--dt", "1e-4", "-o", str(build)])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["run", str(build), "--input", str(x), "--schedule", "event",
                                   "--policy", "momentum", "--events-per-step", "1", "-o",
                                   str(tmp_path / "ev")], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "event-driven: micro-steps per tick" in res.output
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["overflow"] == 0
    assert metrics["microsteps_max"] >= 1
    assert metrics["decision"][0] == int(np.flatnonzero(ref.reshape(ref.shape[0], -1).any(axis=1))[0])
    # the µs time line (aedc.timing.event_time): the decision leaves within its tick, after the timer work
    assert "µs time line" in res.output
    assert 0 < metrics["decision_latency_us"] < 1000
    assert metrics["decision_us"] == metrics["decision"][0] * 1000 + metrics["decision_latency_us"]
    assert 0 < max(metrics["busy_fraction_per_pe"]) < 1
    traces = np.load(tmp_path / "ev" / "traces.npz")
    out = [k for k in traces.files if k.startswith("events/")]
    spikes = {k: traces[k] for k in out}
    assert any(np.array_equal(v.reshape(ref.shape), ref) for v in spikes.values())
    assert any(k.startswith("microsteps/") for k in traces.files)
    bad = CliRunner().invoke(app, ["run", str(build), "--input", str(x), "--schedule", "event",
                                   "--policy", "lifo", "-o", str(tmp_path / "bad")])
    assert bad.exit_code == 2
    assert "--policy" in bad.output
