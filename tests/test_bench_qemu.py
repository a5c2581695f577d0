"""benchmarks/bench_qemu.py fails (exit status non-zero, a message) when the host event run it checks
is not bit-identical to the JAX event emulator, instead of only recording it."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_qemu.py"


@pytest.mark.parametrize("equal", [True, False])
def test_the_benchmark_fails_when_host_and_emulator_differ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            equal: bool) -> None:
    monkeypatch.syspath_prepend(str(BENCH.parent))  # as `python benchmarks/bench_qemu.py` runs it
    spec = importlib.util.spec_from_file_location("bench_qemu_under_test", BENCH)
    assert spec is not None
    assert spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    def fake_run(name: str, graph: Any, T: int, event: bool = False) -> dict[str, Any]:
        return {"network": name, "schedule": "event" if event else "sync", "host_equals_emulator": equal}

    monkeypatch.setattr(bench, "run", fake_run)
    monkeypatch.setattr(bench, "mlp", lambda: None)
    monkeypatch.setattr(bench, "RESULTS", tmp_path)
    monkeypatch.setattr(sys, "argv", ["bench_qemu.py", "--quick", "--event"])
    if equal:
        bench.main()
    else:
        with pytest.raises(SystemExit, match=r"not bit-identical to the JAX event emulator on mlp") as exc:
            bench.main()
        assert exc.value.code not in (0, None)
    rows = json.loads((tmp_path / "qemu.quick.json").read_text())["results"]
    assert [r["host_equals_emulator"] for r in rows] == [equal]  # written either way
