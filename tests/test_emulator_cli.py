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
