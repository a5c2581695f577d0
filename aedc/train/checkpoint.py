"""Checkpoints: a parameter pytree (plus integer/float metadata) in one ``.npz`` file.

Keys are ``"<group>/<name>/<block>"`` paths (``"w/in->h/0"``, ``"bias/h"``); metadata under ``"meta/…"``.
A *training state* (:func:`save_training_state`, what :class:`aedc.train.Trainer` writes per epoch)
adds the optimizer state (``"opt/NNNN"``) and the history (``"hist/…"``), so that
``Trainer.fit(..., resume=path)`` continues the run to the same final weights as an uninterrupted one.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import jax
import numpy as np

from aedc.errors import TrainingError

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


def save_training_state(path: str | Path, params: dict[str, Any], opt_state: Any,
                        history: dict[str, list[float]], **meta: float | int) -> Path:
    """A checkpoint a run can resume from exactly: ``params``, the optimizer state's leaves (in
    ``jax.tree_util`` order; :func:`load_training_state` rebuilds them on the optimizer's own
    structure) and the per-epoch history, written to a temporary file and moved into place so an
    interrupted write never leaves a half checkpoint under the final name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flat = {"p" + SEP + k: v for k, v in _flatten(jax.device_get(params)).items()}
    for i, leaf in enumerate(jax.tree_util.tree_leaves(jax.device_get(opt_state))):
        flat[f"opt{SEP}{i:04d}"] = np.asarray(leaf)
    for k, v in history.items():
        flat[f"hist{SEP}{k}"] = np.asarray(v, np.float64)
    flat.update({"meta" + SEP + k: np.asarray(v) for k, v in meta.items()})
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        np.savez(f, **flat)  # type: ignore[arg-type]
    tmp.replace(path)
    return path


def load_training_state(path: str | Path, params_like: dict[str, Any], opt_like: Any) -> tuple[
        dict[str, Any], Any, dict[str, list[float]], dict[str, Any]]:
    """``(params, opt_state, history, meta)`` written by :func:`save_training_state`; ``opt_like`` is
    the optimizer's initial state (its structure). A file without optimizer state (a plain
    :func:`save_checkpoint`) cannot resume a run: :class:`aedc.errors.TrainingError` names it."""
    params, meta = load_checkpoint(path, params_like)
    with np.load(Path(path)) as z:
        opt = [z[k] for k in sorted(k for k in z.files if k.startswith("opt" + SEP))]
        hist = {k.split(SEP, 1)[1]: [float(x) for x in z[k]] for k in z.files if k.startswith("hist" + SEP)}
    leaves, tree = jax.tree_util.tree_flatten(opt_like)
    if len(opt) != len(leaves) or "epoch" not in meta:
        raise TrainingError(f"{path}: not a resumable checkpoint (it has {len(opt)} optimizer arrays, "
                            f"the optimizer {len(leaves)}; written by save_checkpoint, or by another "
                            "optimizer or network?)")
    state = jax.tree_util.tree_unflatten(tree, [np.asarray(a, np.asarray(b).dtype).reshape(np.shape(b))
                                               for a, b in zip(opt, leaves, strict=True)])
    return params, state, hist, meta
