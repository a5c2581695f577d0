"""Test helper (not a test module): a ``sitecustomize.py`` that registers two user passes in a
subprocess started with ``PYTHONPATH`` pointing at its folder — ``test-stall`` (touch the file named by
``AEDC_TEST_MARK``, then sleep ``AEDC_TEST_STALL_S`` seconds: a compile that is deterministically slow
enough to be killed) and ``test-bug`` (raise a plain RuntimeError: an internal error)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LIF = REPO / "tests" / "data" / "nir_paper" / "01_lif" / "lif_norse.nir"
CNN = REPO / "tests" / "data" / "nir_paper" / "02_cnn" / "cnn_sinabs.nir"

SITECUSTOMIZE = '''
import os
import time
from dataclasses import dataclass
from typing import ClassVar

from aedc.passes import Pass, register_pass


@register_pass
@dataclass(frozen=True)
class Stall(Pass):
    """Touch $AEDC_TEST_MARK, then sleep $AEDC_TEST_STALL_S seconds."""

    name: ClassVar[str] = "test-stall"

    def apply(self, ctx, state):
        open(os.environ["AEDC_TEST_MARK"], "w").close()
        time.sleep(float(os.environ.get("AEDC_TEST_STALL_S", "120")))
        return state


@register_pass
@dataclass(frozen=True)
class Bug(Pass):
    """Raise a RuntimeError (a bug in a pass)."""

    name: ClassVar[str] = "test-bug"

    def apply(self, ctx, state):
        raise RuntimeError("deliberate bug in a test pass")
'''


def plugin_env(folder: Path, **extra: str) -> dict[str, str]:
    """Environment for ``python -m aedc.cli`` with the test passes registered from ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(folder), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(extra)
    return env


def aedc_cmd(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "aedc.cli", *map(str, args)]


def run_aedc(*args: str | Path, env: dict[str, str] | None = None,
             timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(aedc_cmd(*args), capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=timeout)
