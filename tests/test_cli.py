"""The `aedc` command line: outputs, exit codes, one-line errors, no partial build directories."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from aedc import Network
from aedc.cli import app
from aedc.ir import load, save

runner = CliRunner()


def _mlp_json(tmp_path: Path) -> Path:
    net = Network("mlp", dt=1e-3)
    net.input("x", 4)
    net.population("h", 3, "lif", tau=0.02)
    net.population("scale", 3, "linear")
    net.population("o", 2, "li", tau=0.01)
    net.dense("x", "h", np.full((3, 4), 0.5))
    net.one_to_one("h", "scale", 2.0)
    net.dense("scale", "o", np.full((2, 3), 0.25))
    net.output("y", "o")
    path = tmp_path / "mlp.json"
    save(net.build(), path)
    return path


def test_compile_writes_build_and_fuses(tmp_path: Path) -> None:
    model = _mlp_json(tmp_path)
    out = tmp_path / "build"
    res = runner.invoke(app, ["compile", str(model), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == ["build.json", "c", "ir.json", "pipeline.txt",
                                                     "placement.json", "routing.json", "summary.txt"]
    g = load(out / "ir.json")
    assert [p.name for p in g.populations] == ["x", "h", "o"]  # the scale pass-through is folded
    w = g.projections[-1].conn.weight  # type: ignore[union-attr]
    np.testing.assert_array_equal(w, np.full((2, 3), 0.5, np.float32))
    build = json.loads((out / "build.json").read_text())
    assert build["pipeline"].startswith("verify,fold-scale")
    assert "3 populations" in (out / "summary.txt").read_text()


def test_compile_is_deterministic_and_replaces_old_build(tmp_path: Path) -> None:
    model = _mlp_json(tmp_path)
    out = tmp_path / "build"
    assert runner.invoke(app, ["compile", str(model), "-o", str(out)]).exit_code == 0
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert runner.invoke(app, ["compile", str(model), "-o", str(out)]).exit_code == 0
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == first
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_dump_after_writes_intermediate_ir(tmp_path: Path) -> None:
    out = tmp_path / "b"
    res = runner.invoke(app, ["compile", str(_mlp_json(tmp_path)), "-o", str(out),
                              "--dump-after", "fold-scale"])
    assert res.exit_code == 0, res.output
    dumps = sorted(p.name for p in (out / "dumps").iterdir())
    assert any("fold-scale" in d for d in dumps)


def test_inspect_shows_fan_in(tmp_path: Path) -> None:
    res = runner.invoke(app, ["inspect", str(_mlp_json(tmp_path))])
    assert res.exit_code == 0, res.output
    assert "scale" in res.output
    assert "12" in res.output


def _broken_json(tmp_path: Path, mutate: str) -> Path:
    path = _mlp_json(tmp_path)
    doc = json.loads(path.read_text())
    g = doc["graph"]
    if mutate == "dangling":
        g["projections"][0]["pre"] = "nowhere"
    elif mutate == "cycle":
        extra = dict(g["projections"][0], name="loop", pre="h", post="h",
                     conn={"kind": "identity"})
        g["projections"].append(extra)
    elif mutate == "unknown-field":
        g["populations"][1]["colour"] = "red"
    elif mutate == "truncated":
        path.write_text(path.read_text()[:100])
        return path
    elif mutate == "nan-tau":
        pop = g["populations"][1]["neuron"]
        pop["tau"] = {"dtype": "<f4", "shape": [3],
                      "data": __import__("base64").b64encode(
                          np.full(3, np.nan, np.float32).tobytes()).decode()}
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(("mutate", "message"), [
    ("dangling", "nowhere"), ("cycle", "cycle without delay"), ("unknown-field", "colour"),
    ("truncated", "not valid JSON"), ("nan-tau", "NaN"),
])
def test_bad_input_gives_one_line_error_exit_2_and_no_output(tmp_path: Path, mutate: str,
                                                             message: str) -> None:
    model = _broken_json(tmp_path, mutate)
    out = tmp_path / "build"
    res = runner.invoke(app, ["compile", str(model), "-o", str(out)])
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert "Traceback" not in res.output
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_missing_file_and_bad_pipeline(tmp_path: Path) -> None:
    res = runner.invoke(app, ["compile", str(tmp_path / "none.nir"), "-o", str(tmp_path / "b")])
    assert res.exit_code == 2
    assert "no such file" in res.output
    res = runner.invoke(app, ["compile", str(_mlp_json(tmp_path)), "-o", str(tmp_path / "b"),
                              "--pipeline", "verify,frobnicate"])
    assert res.exit_code == 2
    assert "frobnicate" in res.output
    assert not (tmp_path / "b").exists()


def test_refuses_to_overwrite_a_foreign_directory(tmp_path: Path) -> None:
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.tex").write_text("do not delete")
    res = runner.invoke(app, ["compile", str(_mlp_json(tmp_path)), "-o", str(out)])
    assert res.exit_code == 2
    assert "not an aedc build" in res.output
    assert (out / "thesis.tex").read_text() == "do not delete"


def test_help_does_not_import_jax_or_ortools() -> None:
    code = ("import sys; from aedc.cli import app; from typer.testing import CliRunner; "
            "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0; "
            "print(sorted(m for m in ('jax', 'ortools') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]"


@pytest.mark.parametrize("chips", ["0x0", "-1x2", "3x0", "1000x1000", "100000x100000", "8"])
def test_absurd_chip_grids_are_refused_up_front(tmp_path: Path, chips: str) -> None:
    out = tmp_path / "b"
    res = runner.invoke(app, ["compile", str(_mlp_json(tmp_path)), "-o", str(out), f"--chips={chips}"])
    assert res.exit_code == 2, res.output
    assert "--chips" in res.output
    assert "internal error" not in res.output
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".b.tmp")]


def test_a_large_machine_costs_what_the_network_uses() -> None:
    """A 1-neuron network on a 100 × 100 chip grid (1.48 M PEs) compiles without materialising the
    machine's PEs (it took 24 s and 1 GB when every PE address was built up front)."""
    import tracemalloc

    from aedc.machine import Machine
    from aedc.passes import DEFAULT_PIPELINE, CompileState, PassContext, PassManager

    net = Network("one", dt=1e-3)
    net.input("x", 1)
    net.population("h", 1, "lif", tau=0.02)
    net.dense("x", "h", np.ones((1, 1), np.float32))
    net.output("y", "h")
    machine = Machine.spinnaker2((100, 100))
    assert len(machine.pes()) == 1_480_000
    assert machine.pes()[-1].chip == (99, 99)
    tracemalloc.start()
    state = PassManager(DEFAULT_PIPELINE).run(CompileState(graph=net.build()), PassContext(target=machine))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert state.placement is not None
    assert len(state.placement.pes) == 1
    assert peak < 150 * 2**20, f"peak {peak / 2**20:.0f} MiB"


def test_strict_refuses_a_known_exporter_quirk_that_otherwise_warns(tmp_path: Path) -> None:
    """Norse's LIFBox export writes τ·dt as τ (decay −99 at dt = 1e-3). Read with an explicit profile,
    a warning names the fix, and with --strict the compile refuses (exit 2) and writes nothing; without
    --profile the file is detected as Norse's and the quirk corrected, which --strict accepts."""
    quirk = Path(__file__).parent / "data" / "conformance" / "norse" / "lifbox.nir"
    explicit = ["--dt", "1e-3", "--pipeline", "verify", "--profile", "nir-euler"]
    res = runner.invoke(app, ["compile", str(quirk), "-o", str(tmp_path / "a"), *explicit])
    assert res.exit_code == 0, res.output
    assert "warning" in res.output
    assert "τ" in res.output or "tau" in res.output
    res = runner.invoke(app, ["compile", str(quirk), "-o", str(tmp_path / "b"), *explicit, "--strict"])
    assert res.exit_code == 2, res.output
    assert "strict" in res.output
    assert not (tmp_path / "b").exists()
    res = runner.invoke(app, ["compile", str(quirk), "-o", str(tmp_path / "c"), "--pipeline", "verify",
                              "--strict"])
    assert res.exit_code == 0, res.output
    assert "norse" in res.output
    assert "corrected" in res.output
    assert json.loads((tmp_path / "c" / "ir.json").read_text())["graph"]["semantics"]["profile"] == "norse"
