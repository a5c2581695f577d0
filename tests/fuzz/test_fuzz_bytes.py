"""Raw byte flips in NIR files, run in a subprocess: libhdf5 may segfault or loop forever on a corrupted
heap (no Python code can catch that; e.g. two_lif_neurons.nir with bits flipped at (15536, 5),
(4414, 2), (12053, 7), (2329, 3): every string dataset read hangs), so crashes and hangs are counted and
reported, not failed; every case that returns must end in a compile or an aedc error (a Python
exception of any other class fails the test)."""

from __future__ import annotations

import subprocess
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

from fuzzlib import JOB, JOBS, OUTCOMES, PROFILE, TOTALS

HERE = Path(__file__).resolve().parent
HANG_S = 20
CASES = 150 if PROFILE == "fuzz-ci" else TOTALS["fuzz"] // 10 // JOBS  # on top of the hypothesis cases


def _log(log: Path) -> list[list[str]]:
    return [ln.split(" ", 1) for ln in log.read_text().splitlines()] if log.exists() else []


def run_flips(tmp_path: Path, seed: int, count: int) -> tuple[Counter[str], list[str], list[int],
                                                               list[int]]:
    """Run the worker until ``count`` cases are done; restart it after a segfault (``crashes``) or a case
    that makes no progress for ``HANG_S`` seconds (libhdf5 loops forever on some corrupted heaps:
    ``hangs``; the worker is killed)."""
    log, errors = tmp_path / "flips.log", tmp_path / "worker.err"
    nxt, crashes, hangs = 0, [], []
    while nxt < count:
        with errors.open("w") as err:
            proc = subprocess.Popen([sys.executable, str(HERE / "byteflip_worker.py"), str(seed),
                                     str(nxt), str(count - nxt), str(log)], stdout=subprocess.DEVNULL,
                                    stderr=err)
            seen, since = len(_log(log)), time.monotonic()
            while proc.poll() is None:
                time.sleep(0.2)
                n = len(_log(log))
                if n != seen:
                    seen, since = n, time.monotonic()
                elif time.monotonic() - since > HANG_S:
                    proc.kill()
                    proc.wait()
                    break
        lines = _log(log)
        last = int(lines[-1][0]) if lines else nxt
        if proc.returncode == 0:
            break
        stderr = errors.read_text()
        if proc.returncode == -9 and lines and lines[-1][1] == "start":
            hangs.append(last)
        else:
            assert proc.returncode < 0, stderr[-3000:]  # killed by a signal (segfault), not a traceback
            crashes.append(last)
        nxt = last + 1
    done = {int(i): r for i, r in _log(log) if r != "start"}
    bad = [f"case {i}: {r}" for i, r in sorted(done.items()) if r.startswith("EXC:")]
    return Counter(r for r in done.values()), bad, crashes, hangs


def test_fuzz_byte_flips_in_a_subprocess(tmp_path: Path) -> None:
    outcomes, bad, crashes, hangs = run_flips(tmp_path, seed=20261125 + JOB, count=CASES)
    for k, v in outcomes.items():
        OUTCOMES[f"byte flip {k}"] += v
    OUTCOMES["byte flip libhdf5 crash"] += len(crashes)
    OUTCOMES["byte flip libhdf5 hang"] += len(hangs)
    if crashes or hangs:
        warnings.warn(f"of {CASES} byte-flipped files, {len(crashes)} crashed libhdf5 (cases {crashes}) "
                      f"and {len(hangs)} hung it (cases {hangs}); seed {20261125 + JOB}", stacklevel=1)
    assert not bad, bad
    assert sum(outcomes.values()) + len(crashes) + len(hangs) == CASES
