"""Checkpoints: a parameter pytree (plus integer/float metadata) in one ``.npz`` file.

Keys are ``"<group>/<name>/<block>"`` paths (``"w/in->h/0"``, ``"bias/h"``); metadata under ``"meta/…"``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import jax
import numpy as np

SEP = "/"


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for k, v in tree.items():
        path = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, path + SEP))
        else:
            out[path] = np.asarray(v)
    return out


def save_checkpoint(path: str | Path, params: dict[str, Any], **meta: float | int) -> Path:
    """Write ``params`` (nested dicts of arrays, three levels at most) and ``meta`` to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flat = {"p" + SEP + k: v for k, v in _flatten(jax.device_get(params)).items()}
    flat.update({"meta" + SEP + k: np.asarray(v) for k, v in meta.items()})
    with path.open("wb") as f:
        np.savez(f, **flat)  # type: ignore[arg-type]
    return path


def load_checkpoint(path: str | Path, like: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(params, meta)`` from ``path``; ``like`` gives the nesting (e.g. ``model.params0``).

    A parameter ``like`` has but the file lacks (a checkpoint from before it became trainable, e.g. a
    sigma-delta ``event_threshold``) keeps ``like``'s value, with a warning naming it."""
    with np.load(Path(path)) as z:
        data = {k: z[k] for k in z.files}
    missing: list[str] = []

    def leaf(key: str, default: Any) -> Any:
        if key in data:
            return data[key]
        missing.append(key.split(SEP, 1)[1].replace(SEP, "."))  # without the "p/" prefix
        return default

    def fill(tree: dict[str, Any], prefix: str) -> dict[str, Any]:
        return {k: fill(v, f"{prefix}{k}{SEP}") if isinstance(v, dict) else leaf(f"{prefix}{k}", v)
                for k, v in tree.items()}

    meta = {k.split(SEP, 1)[1]: v.item() for k, v in data.items() if k.startswith("meta" + SEP)}
    params = fill(like, "p" + SEP)
    if missing:
        warnings.warn(f"{path}: no {', '.join(missing)} in the checkpoint; kept the model's values",
                      stacklevel=2)
    return params, meta
