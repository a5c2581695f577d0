"""Mistakes of the user or refusals of the operating system are not aedc bugs: one ``error:`` line
naming the path or value, exit 2 (bad input / output location) or 4 (I/O refused), no crash file, nothing
left behind. Output locations under /proc and /sys fail even for root, so the tests use them."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from test_emulator_cli import _build as ir_build
from typer.testing import CliRunner

from aedc.cli import app

DATA = Path(__file__).parent / "data" / "nir_paper" / "01_lif"
runner = CliRunner()


def _crash_files() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("aedc-crash-*.txt"))


def _check(args: list[str], code: int, *needles: str) -> None:
    before = _crash_files()
    res = runner.invoke(app, args)
    assert res.exit_code == code, res.output
    assert "internal error" not in res.output
    assert "error:" in res.output
    for n in needles:
        assert n in res.output.replace("\n", ""), res.output
    assert _crash_files() == before


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("b")
    res = runner.invoke(app, ["compile", str(DATA / "lif_norse.nir"), "-o", str(tmp / "b")])
    assert res.exit_code == 0, res.output
    return tmp / "b"


@pytest.mark.parametrize("out", ["/proc/aedc-test-out", "/sys/aedc-test-out", "/proc/self/aedc"])
def test_compile_into_an_unwritable_place(out: str) -> None:
    _check(["compile", str(DATA / "lif_norse.nir"), "-o", out], 2, "cannot create output directory", out)


def test_compile_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    _check(["compile", str(DATA / "lif_norse.nir"), "-o", str(tmp_path / "f" / "sub")], 2,
           "is a file, not a directory")


def test_report_names(build: Path, tmp_path: Path) -> None:
    _check(["report", str(build), "-o", str(tmp_path / "map.txt")], 2, "ending in .png")
    _check(["report", str(build), "-o", "/proc/aedc-map.png"], 4, "/proc/aedc-map.png")
    res = runner.invoke(app, ["report", str(build), "-o", str(tmp_path / "new" / "dir" / "map.png")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "new" / "dir" / "map.png").is_file()


def _ir_build(tmp_path: Path) -> Path:
    """A build directory holding only the imported LIF's ir.json (test_emulator_cli's), in its own
    folder so that it does not take the names the tests write."""
    (tmp_path / "ir").mkdir(exist_ok=True)
    return ir_build(tmp_path / "ir")[0]


@pytest.mark.parametrize(("data", "needle"), [
    (np.array([["a"]] * 5), "dtype"),
    (np.zeros((0, 1), np.float32), "no ticks"),
])
def test_run_on_unusable_input(tmp_path: Path, data: np.ndarray, needle: str) -> None:
    b = _ir_build(tmp_path)
    np.save(tmp_path / "x.npy", data)
    _check(["run", str(b), "--input", str(tmp_path / "x.npy"), "-o", str(tmp_path / "r")], 2, needle)
    assert not (tmp_path / "r").exists()


def test_run_into_an_unwritable_place(tmp_path: Path) -> None:
    b = _ir_build(tmp_path)
    np.save(tmp_path / "x.npy", np.zeros((5, 1), np.float32))
    _check(["run", str(b), "--input", str(tmp_path / "x.npy"), "-o", "/proc/aedc-run"], 2,
           "cannot create output directory")


def test_profile_and_dt_reach_a_nir_run_and_are_not_silently_ignored(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``aedc run FILE.nir --profile/--dt`` imports with them and writes build/<name>.run in the working
    directory (not next to the model); for an IR or build input they cannot apply, and a warning says so."""
    import json

    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "x.npy", np.zeros((5, 1), np.float32))
    res = runner.invoke(app, ["run", str(DATA / "lif_norse.nir"), "--input", str(tmp_path / "x.npy"),
                              "--profile", "snntorch", "--dt", "1e-4"])
    assert res.exit_code == 0, res.output
    run = json.loads((tmp_path / "build" / "lif_norse.run" / "build.json").read_text())
    assert run["semantics"]["profile"] == "snntorch"
    assert run["semantics"]["dt"] == 1e-4
    assert not (DATA / "lif_norse.run").exists()
    b = _ir_build(tmp_path)
    res = runner.invoke(app, ["compile", str(b), "-o", str(tmp_path / "c"), "--pipeline", "verify",
                              "--profile", "sinabs"])
    assert res.exit_code == 0, res.output
    assert "--profile ignored" in res.output.replace("\n", "")


@pytest.fixture(scope="module")
def event_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("e")
    res = runner.invoke(app, ["compile", str(DATA / "lif_norse.nir"), "-o", str(tmp / "e"), "--event"])
    assert res.exit_code == 0, res.output
    return tmp / "e"


@pytest.mark.parametrize(("event", "args", "needle"), [
    (False, ["--policy", "momentum"], "--policy applies to the event schedule only, not sync"),
    (False, ["--schedule", "async", "--events-per-step", "2"],
     "--events-per-step applies to the event schedule only, not async"),
    (False, ["--schedule", "async", "--max-microsteps", "8"],
     "--max-microsteps applies to the event schedule only, not async"),
    (False, ["--layered"], "--layered applies to the event schedule only, not sync"),
    (False, ["--jitter-us", "5"], "--jitter-us applies to the async schedule only, not sync"),
    (True, ["--jitter-us", "5"], "--jitter-us applies to the async schedule only, not event"),
])
def test_verify_refuses_an_option_its_schedule_does_not_use(build: Path, event_build: Path, event: bool,
                                                            args: list[str], needle: str) -> None:
    """``aedc verify`` options of one schedule given with another are refused (exit 2, one line naming
    the option and the schedule) before anything is replayed, not ignored."""
    _check(["verify", str(event_build if event else build), "--target", "qemu", *args], 2, needle)
