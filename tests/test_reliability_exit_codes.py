"""Exit codes of ``python -m aedc.cli`` (a real process, as a user runs it), one test per code:
0 ok; 2 bad input (any aedc error, one ``error:`` line naming the file/node); 3 the network does not fit
the target machine (``--chips 1x1``, the partition stage's machine option); 1 an internal bug (a user
pass that raises RuntimeError): "please report" and the traceback saved to a crash file in $TMPDIR."""

from __future__ import annotations

from pathlib import Path

from reliability_plugin import LIF, plugin_env, run_aedc

from aedc.frontend import Network
from aedc.ir import save


def test_exit_0_ok(tmp_path: Path) -> None:
    res = run_aedc("compile", LIF, "-o", tmp_path / "b")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "b" / "build.json").is_file()


def test_exit_2_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "broken.nir"
    bad.write_bytes(LIF.read_bytes()[:700])  # truncated HDF5
    res = run_aedc("compile", bad, "-o", tmp_path / "b")
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith("error:"), res.stderr
    assert "broken.nir" in res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    assert not (tmp_path / "b").exists()


def test_exit_3_does_not_fit(tmp_path: Path) -> None:
    n = 300_000  # one-to-one into 300k LIF neurons: about 180 PEs of memory, a 1x1 machine has 148
    net = Network("wide")
    net.input("x", n)
    net.population("h", n, "lif", tau=0.02)
    net.one_to_one("x", "h")
    net.output("o", "h")
    save(net.build(), tmp_path / "wide.json")
    res = run_aedc("compile", tmp_path / "wide.json", "-o", tmp_path / "b", "--chips", "1x1")
    assert res.returncode == 3, res.stderr
    assert "population 'h' does not fit" in res.stderr
    assert "148 PEs" in res.stderr
    assert not (tmp_path / "b").exists()


def test_exit_1_internal_bug_saves_a_crash_file(tmp_path: Path) -> None:
    crash_dir = tmp_path / "tmp"
    crash_dir.mkdir()
    env = plugin_env(tmp_path / "plugin", TMPDIR=str(crash_dir))
    res = run_aedc("compile", LIF, "-o", tmp_path / "b", "--pipeline", "verify,test-bug", env=env)
    assert res.returncode == 1, res.stderr
    assert "internal error: RuntimeError: deliberate bug in a test pass" in res.stderr
    assert "please report" in res.stderr
    crashes = list(crash_dir.glob("aedc-crash-*.txt"))
    assert len(crashes) == 1
    assert str(crashes[0]) in res.stderr.replace("\n", "")
    text = crashes[0].read_text()
    assert "Traceback" in text
    assert "deliberate bug in a test pass" in text
    assert not (tmp_path / "b").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".b.")] == []
