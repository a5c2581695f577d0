"""deploy_check: a classifier compiled, cross-compiled and scored by the emulator (exact) and the host C.

The oracle is the pair itself: on the compiled placement, every sample's traces must be bit-identical
between the JAX emulator and the generated C, in sync and in the asynchronous schedule, so the two
accuracies and prediction vectors are equal.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from aedc.datasets import encode_graded, encode_ttfs, yinyang
from aedc.deploy import deploy_check
from aedc.emulator import Schedule
from aedc.train import mlp, sigma_delta_mlp

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs a host C compiler")

SCHEDULES = {"sync": Schedule.sync(),
             "async": Schedule.asynchronous(period_us=1000, link_us=100, jitter_us=300, seed=1)}


def test_lif_classifier_emulator_and_host_c_agree_sample_by_sample(tmp_path: Path) -> None:
    te = yinyang("test", size=24)
    x, y = encode_ttfs(te.x, 30, t_max=20, bias_tick=0), te.y
    out = tmp_path / "deployed"
    rep = deploy_check(mlp([5, 24, 3], seed=3, w_scale=3.0), x, y, SCHEDULES, out_dir=out)
    assert rep.identical == {"sync": True, "async": True}
    for name in SCHEDULES:
        emu, host = rep.paths[f"emulator {name}"], rep.paths[f"host C {name}"]
        assert np.array_equal(emu.predictions, host.predictions)
        assert emu.accuracy == host.accuracy
        assert emu.events_per_inference == host.events_per_inference > 0
    assert (out / "c" / "manifest.json").is_file()
    assert json.loads((out / "build.json").read_text())["report"] == rep.as_dict()
    assert [p.name for p in tmp_path.iterdir()] == ["deployed"]  # no temp sibling left behind
    if shutil.which("arm-none-eabi-gcc") or os.environ.get("CI"):  # CI installs it: its absence fails
        assert rep.cross_compiled
        assert 0 < rep.max_dtcm_bytes <= 67_328
    assert rep.summary().count("bit-identical on all 24 samples: yes") == 2
    d = rep.as_dict()
    assert d["samples"] == 24
    assert set(d["paths"]) == {f"{p} {s}" for p in ("emulator", "host C")
                                                       for s in SCHEDULES}


def test_sigma_delta_classifier_graded_payloads_agree() -> None:
    rng = np.random.default_rng(0)
    x = encode_graded(rng.random((16, 12)).astype(np.float32), 6)
    y = rng.integers(0, 4, 16)
    rep = deploy_check(sigma_delta_mlp([12, 20, 4], seed=1), x, y, SCHEDULES)
    assert rep.identical == {"sync": True, "async": True}
    assert np.array_equal(rep.paths["emulator async"].predictions, rep.paths["host C async"].predictions)
    assert rep.paths["host C async"].events_per_inference > 2  # hidden sigma-delta events travel
