"""Fuzz ``aedc compile`` and ``aedc inspect`` through the CLI (typer's CliRunner) on mutated NIR files:
the exit code is 0, 2 or 3 — never 1 (an internal error) — a failure prints one ``error:`` line, and
no output or temp directory is left behind by a failed compile."""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory

from fuzzlib import OUTCOMES, SEEDS, copy_and_mutate, fuzz_settings, nir_mutation
from hypothesis import given, note
from hypothesis import strategies as st
from typer.testing import CliRunner

from aedc.cli import app

RUNNER = CliRunner()


@fuzz_settings("cli")
@given(seed=st.sampled_from(["lif_norse", "lif_rockpool", "two_lif"]),
       mutations=st.lists(nir_mutation(), max_size=3),
       truncate=st.one_of(st.none(), st.none(), st.floats(0.0, 0.999)))
def test_fuzz_cli_compile_and_inspect(seed: str, mutations: list, truncate: float | None) -> None:
    src, profile = SEEDS[seed]
    with TemporaryDirectory() as tmp:
        path, out = Path(tmp) / "m.nir", Path(tmp) / "build"
        note(str(copy_and_mutate(src, path, mutations, truncate)))
        res = RUNNER.invoke(app, ["compile", str(path), "-o", str(out), "--profile", profile])
        note(res.output)
        assert res.exit_code in (0, 2, 3), res.output
        assert "internal error" not in res.output
        left = sorted(p.name for p in Path(tmp).iterdir())
        if res.exit_code == 0:
            assert left == ["build", "m.nir"]
            assert (out / "build.json").is_file()
        else:
            assert "error:" in res.output
            assert left == ["m.nir"], left
        OUTCOMES[f"cli exit {res.exit_code}"] += 1
        res = RUNNER.invoke(app, ["inspect", str(path), "--profile", profile])
        assert res.exit_code in (0, 2, 3), res.output


# ---- command-line arguments and output locations ----------------------------------------------------

_CHIPS = st.one_of(st.sampled_from(["1x1", "2x1", "0x0", "-1x2", "3x0", "1000x1000", "100000x100000",
                                    "8", "x", "", "1x1x1", "2×2", " 1x1 ", "1e3x1"]),
                   st.text(alphabet="0123456789x-×.e ", max_size=8))
_DT = st.one_of(st.sampled_from(["1e-4", "0", "-1e-3", "nan", "inf", "1e308", "abc", ""]),
                st.floats(allow_nan=True, allow_infinity=True).map(repr))
_PROFILES = st.one_of(st.sampled_from(["nir-euler", "snntorch", "sinabs", "norse", "NIR-EULER", "", "x"]),
                      st.text(max_size=6))
_PIPELINES = st.one_of(st.sampled_from(["verify", "verify,dce", "verify,slice,place{solver=greedy}",
                                        "slice", "place", "verify,,dce", "verify{x=1}", "nope",
                                        "verify,slice{max-neurons=0},place", "emit-c"]),
                       st.text(alphabet="abcdefgilmnoprstuvy-,{}=0123", max_size=20))
_OUTS = st.sampled_from(["fresh", "nested/deeper", "/proc/aedc-fuzz", "/sys/aedc-fuzz", "under-a-file/x",
                         "foreign", "existing-file", "."])


def _location(tmp: Path, kind: str) -> Path:
    """An output location of the given kind under ``tmp`` (or an unwritable system path)."""
    if kind.startswith("/"):
        return Path(kind)
    if kind == "under-a-file/x":
        (tmp / "under-a-file").write_text("x")
    if kind == "foreign":
        (tmp / "foreign").mkdir()
        (tmp / "foreign" / "keep.txt").write_text("not an aedc build")
    if kind == "existing-file":
        (tmp / "existing-file").write_text("x")
    return tmp / kind


@fuzz_settings("cli")
@given(chips=_CHIPS, dt=st.one_of(st.none(), _DT), profile=st.one_of(st.none(), _PROFILES),
       pipeline=st.one_of(st.none(), _PIPELINES), out=_OUTS, seed=st.integers(-2**70, 2**70))
def test_fuzz_cli_arguments_and_output_locations(chips: str, dt: str | None, profile: str | None,
                                                pipeline: str | None, out: str, seed: int) -> None:
    """Any option value or output location is the user's: exit 0, 2, 3 or 4, never an internal error;
    a failed compile changes nothing it was not asked to write (a foreign directory keeps its file)."""
    src, _ = SEEDS["lif_norse"]
    with TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        target = _location(tmp, out)
        args = ["compile", str(src), "-o", str(target), f"--chips={chips}", f"--seed={seed}"]
        args += [f"--dt={dt}"] if dt is not None else []
        args += [f"--profile={profile}"] if profile is not None else []
        args += [f"--pipeline={pipeline}"] if pipeline is not None else []
        res = RUNNER.invoke(app, args)
        note(f"{args}\n{res.output}")
        assert res.exit_code in (0, 2, 3, 4), res.output
        assert "internal error" not in res.output
        if res.exit_code:
            assert "error" in res.output.lower() or "usage" in res.output.lower(), res.output
            assert not [p for p in tmp.iterdir() if ".tmp-" in p.name], "a temp dir was left behind"
        if out == "foreign":
            assert (tmp / "foreign" / "keep.txt").read_text() == "not an aedc build"
        OUTCOMES[f"cli args exit {res.exit_code}"] += 1
