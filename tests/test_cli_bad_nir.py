"""Broken NIR files through `aedc compile`: exit code 2, one line naming the defect, no output dir."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
from nirfiles import base_tree, edit_tree, write_tree
from typer.testing import CliRunner

from aedc.cli import app

runner = CliRunner()


def _truncated(path: Path) -> Path:
    write_tree(path, base_tree())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _not_hdf5(path: Path) -> Path:
    path.write_bytes(b"this is not an HDF5 file at all\n")
    return path


def _tree(**changes: object) -> Callable[[Path], Path]:
    return lambda path: write_tree(path, edit_tree(**changes))


def _cycle(path: Path) -> Path:
    tree = edit_tree(nodes__sc={"type": "Scale", "scale": np.full(3, 0.5, np.float32)},
                     nodes__fc__weight=np.ones((3, 3), np.float32),
                     nodes__fc__bias=np.zeros(3, np.float32),
                     edges=[("in", "fc"), ("fc", "sc"), ("sc", "fc"), ("fc", "lif"), ("lif", "out")])
    for k in ("tau", "r", "v_leak", "v_threshold", "v_reset"):
        tree["nodes"]["lif"][k] = np.full(3, 0.01 if k == "tau" else 1.0, np.float32)
    return write_tree(path, tree)


def _bad_edges(path: Path) -> Path:
    write_tree(path, edit_tree(edges=None))
    with h5py.File(path, "a") as f:
        f["node"].create_dataset("edges", data=np.array([["in", "fc", "lif"]], dtype=object),
                                 dtype=h5py.string_dtype())
    return path


CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "truncated": (_truncated, "model.nir"),
    "not-hdf5": (_not_hdf5, "model.nir"),
    "no-node-group": (lambda p: write_tree(p, None), "no 'node' group"),
    "edge-to-missing-node": (_tree(edges=[("in", "fc"), ("fc", "lif"), ("lif", "outt")]), "'outt'"),
    "edges-wrong-shape": (_bad_edges, "edges"),
    "unknown-node-type": (_tree(nodes__lif__type="Conv3d"), "Conv3d"),
    "unknown-field": (_tree(nodes__lif__gain=np.ones(2, np.float32)), "'gain'"),
    "missing-field": (_tree(nodes__lif__tau=None), "'tau'"),
    "shape-mismatch": (_tree(nodes__in__shape=np.array([4])), "node 'fc'"),
    "nan-tau": (_tree(nodes__lif__tau=np.array([0.01, np.nan], np.float32)), "NaN"),
    "negative-tau": (_tree(nodes__lif__tau=np.array([0.01, -0.02], np.float32)), "must be > 0"),
    "cycle-without-delay": (_cycle, "cycle without a delay"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_broken_nir_exits_2_naming_the_defect(tmp_path: Path, case: str) -> None:
    make, expected = CASES[case]
    model = make(tmp_path / "model.nir")
    out = tmp_path / "build"
    res = runner.invoke(app, ["compile", str(model), "-o", str(out)])
    assert res.exit_code == 2, res.output
    assert expected in res.output
    assert "error:" in res.output
    assert "Traceback" not in res.output
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.nir"]
