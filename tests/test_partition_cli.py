"""`aedc compile` writes placement.json and prints the fullest PE; `inspect` and `report` show it;
a network larger than the machine exits with code 3 and names the population."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from aedc import Network
from aedc.cli import app
from aedc.ir import save
from aedc.partition.model import Placement

runner = CliRunner()


def _model(tmp_path: Path, hidden: int = 300) -> Path:
    rng = np.random.default_rng(0)
    net = Network("mlp", dt=1e-3)
    net.input("x", 200)
    net.population("h", hidden, "lif", tau=0.02)
    net.population("o", 10, "lif", tau=0.02)
    net.dense("x", "h", rng.normal(size=(hidden, 200)).astype(np.float32))
    net.dense("h", "o", rng.normal(size=(10, hidden)).astype(np.float32))
    net.output("y", "o")
    path = tmp_path / "mlp.json"
    save(net.build(), path)
    return path


def test_compile_places_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "b"
    res = runner.invoke(app, ["compile", str(_model(tmp_path)), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "fullest PE" in res.output
    assert "dense_blocks" in res.output
    p = Placement.load(out / "placement.json")
    assert {s.population for s in p.slices} == {"x", "h", "o"}
    assert all(u.memory.total <= p.machine.dynamic_region_bytes for u in p.pes)
    res = runner.invoke(app, ["inspect", str(out)])
    assert res.exit_code == 0, res.output
    assert "placement (cpsat" in res.output
    res = runner.invoke(app, ["report", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / "placement.png").read_bytes()[:4] == b"\x89PNG"


def test_network_larger_than_the_machine_exits_3(tmp_path: Path) -> None:
    out = tmp_path / "b"
    model = _model(tmp_path, hidden=800)
    res = runner.invoke(app, ["compile", str(model), "-o", str(out),
                              "--pipeline", "verify,slice{max-neurons=1},place{solver=greedy}"])
    assert res.exit_code == 3, res.output
    assert "population 'h' does not fit" in res.output
    assert "148 PEs" in res.output
    assert not out.exists()


def test_report_without_placement_is_an_error(tmp_path: Path) -> None:
    out = tmp_path / "b"
    assert runner.invoke(app, ["compile", str(_model(tmp_path)), "-o", str(out),
                               "--pipeline", "verify"]).exit_code == 0
    res = runner.invoke(app, ["report", str(out)])
    assert res.exit_code == 2
    assert "no placement.json" in res.output
