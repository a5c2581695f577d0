"""Raw byte flips in NIR files, run in a subprocess: libhdf5 may segfault on a corrupted heap (no
Python code can catch that), so crashes are counted and reported, not failed; every case that returns
must end in a compile or an aedc error (a Python exception of any other class fails the test)."""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections import Counter
from pathlib import Path

from fuzzlib import JOB, JOBS, OUTCOMES, PROFILE, TOTALS

HERE = Path(__file__).resolve().parent
CASES = 150 if PROFILE == "fuzz-ci" else TOTALS["fuzz"] // 10 // JOBS  # on top of the hypothesis cases


def run_flips(tmp_path: Path, seed: int, count: int) -> tuple[Counter[str], list[str], list[int]]:
    log = tmp_path / "flips.log"
    nxt, crashes = 0, []
    while nxt < count:
        proc = subprocess.run([sys.executable, str(HERE / "byteflip_worker.py"), str(seed), str(nxt),
                               str(count - nxt), str(log)], capture_output=True, text=True, timeout=600)
        lines = [ln.split(" ", 1) for ln in log.read_text().splitlines()]
        last = int(lines[-1][0]) if lines else nxt
        if proc.returncode == 0:
            break
        assert proc.returncode < 0, proc.stderr[-3000:]  # killed by a signal (segfault), not a traceback
        crashes.append(last)
        nxt = last + 1
    done = {int(i): r for i, r in lines if r != "start"}
    bad = [f"case {i}: {r}" for i, r in sorted(done.items()) if r.startswith("EXC:")]
    return Counter(r for r in done.values()), bad, crashes


def test_fuzz_byte_flips_in_a_subprocess(tmp_path: Path) -> None:
    outcomes, bad, crashes = run_flips(tmp_path, seed=20261125 + JOB, count=CASES)
    for k, v in outcomes.items():
        OUTCOMES[f"byte flip {k}"] += v
    OUTCOMES["byte flip libhdf5 crash"] += len(crashes)
    if crashes:
        warnings.warn(f"{len(crashes)} of {CASES} byte-flipped files crashed libhdf5 (cases {crashes})",
                      stacklevel=1)
    assert not bad, bad
    assert sum(outcomes.values()) + len(crashes) == CASES
