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
