"""Write (deliberately broken) NIR files with h5py, in the layout ``nir.write`` uses (shared by tests).

Root ``version``, group ``node`` with ``type``, ``nodes/<name>/...`` and ``edges``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import h5py
import numpy as np


def _write_group(group: h5py.Group, tree: dict[str, Any]) -> None:
    for key, value in tree.items():
        if isinstance(value, dict):
            _write_group(group.create_group(key), value)
        elif key == "edges":
            group.create_dataset(key, data=np.array(value, dtype=object).reshape(-1, 2),
                                 dtype=h5py.string_dtype())
        elif isinstance(value, str):
            group.create_dataset(key, data=value, dtype=h5py.string_dtype())
        else:
            group.create_dataset(key, data=value)


def write_tree(path: Path, tree: dict[str, Any] | None, version: str | None = "1.0.8") -> Path:
    """Write ``tree`` as a NIR file's ``node`` group (``None``: no node group at all)."""
    with h5py.File(path, "w") as f:
        if version is not None:
            f.create_dataset("version", data=version, dtype=h5py.string_dtype())
        if tree is not None:
            _write_group(f.create_group("node"), tree)
    return path


def base_tree() -> dict[str, Any]:
    """Input(3) → Affine(2×3) → LIF(2) → Output: a valid NIR 1.0 graph."""
    ones, zeros = np.ones(2, np.float32), np.zeros(2, np.float32)
    return {"type": "NIRGraph", "edges": [("in", "fc"), ("fc", "lif"), ("lif", "out")], "nodes": {
        "in": {"type": "Input", "shape": np.array([3])},
        "fc": {"type": "Affine", "weight": np.full((2, 3), 0.5, np.float32), "bias": zeros},
        "lif": {"type": "LIF", "tau": np.full(2, 0.01, np.float32), "r": ones, "v_leak": zeros,
                "v_threshold": ones, "v_reset": zeros},
        "out": {"type": "Output", "shape": np.array([2])},
    }}


def edit_tree(**changes: Any) -> dict[str, Any]:
    tree = copy.deepcopy(base_tree())
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = tree
        for p in parents:
            target = target[p]
        if value is None:
            del target[leaf]
        else:
            target[leaf] = value
    return tree
