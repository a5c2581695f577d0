"""Deterministic builds: ``aedc compile`` of the same input with the same seed writes byte-identical
trees (ir.json, placement.json, routing tables, summary, pipeline, build.json and whatever later stages
add) in two processes with different ``PYTHONHASHSEED``. Inputs: the NIR paper LIF (nir-euler), the
NIR paper CNN (sinabs) and a builder-made 3-layer MLP saved as IR JSON; the default pipeline (CP-SAT,
whose time limit is deterministic time; the CNN is placed greedily to keep the test short)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from reliability_plugin import CNN, LIF, REPO, aedc_cmd

from aedc.frontend import Network
from aedc.ir import save
from aedc.passes import DEFAULT_PIPELINE

CNN_PIPELINE = ",".join("place{solver=greedy}" if p == "place" else p
                        for p in DEFAULT_PIPELINE.split(","))


def _mlp(path: Path) -> Path:
    rng = np.random.default_rng(3)
    net = Network("mlp", profile="nir-euler")
    net.input("x", 40)
    net.population("h1", 300, "lif", tau=0.02)
    net.population("h2", 64, "lif", tau=0.02)
    net.population("y", 10, "li", tau=0.02)
    net.dense("x", "h1", rng.normal(0, 0.3, (300, 40)).astype(np.float32))
    net.dense("h1", "h2", rng.normal(0, 0.1, (64, 300)).astype(np.float32))
    net.dense("h2", "y", rng.normal(0, 0.1, (10, 64)).astype(np.float32))
    net.output("out", "y")
    save(net.build(), path)
    return path


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("model", ["lif", "cnn", "mlp"])
def test_compile_is_byte_identical_across_processes_and_hash_seeds(model: str, tmp_path: Path) -> None:
    src, profile = {"lif": (LIF, "nir-euler"), "cnn": (CNN, "sinabs"),
                    "mlp": (None, "nir-euler")}[model]
    src = src or _mlp(tmp_path / "mlp.json")
    procs = []
    for hash_seed in ("0", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        out = tmp_path / f"build-{hash_seed}"
        pipeline = CNN_PIPELINE if model == "cnn" else DEFAULT_PIPELINE
        procs.append((out, subprocess.Popen(aedc_cmd("compile", src, "-o", out, "--profile", profile,
                                                     "--seed", "7", "--pipeline", pipeline),
                                            env=env, cwd=REPO, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, text=True)))
    trees = []
    for out, proc in procs:
        _, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
        trees.append(_tree(out))
    a, b = trees
    assert {"ir.json", "build.json", "placement.json"} <= set(a)
    assert sorted(a) == sorted(b)
    differ = [name for name in a if a[name] != b[name]]
    assert not differ, f"files differ between PYTHONHASHSEED=0 and 4242: {differ}"
