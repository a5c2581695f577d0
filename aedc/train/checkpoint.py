"""Checkpoints: a parameter pytree (plus integer/float metadata) in one ``.npz`` file.

Keys are ``"<group>/<name>/<block>"`` paths (``"w/in->h/0"``, ``"bias/h"``); metadata under ``"meta/…"``.
A *training state* (:func:`save_training_state`, what :class:`aedc.train.Trainer` writes per epoch)
adds the optimizer state (``"opt/NNNN"``) and the history (``"hist/…"``), so that
``Trainer.fit(..., resume=path)`` continues the run to the same final weights as an uninterrupted one.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import jax
import numpy as np

from aedc.errors import TrainingError
from aedc.ir.serialize import write_atomic

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
    _write_npz(path, _arrays(params, meta))
    return path


def _arrays(params: dict[str, Any], meta: dict[str, Any]) -> dict[str, np.ndarray]:
    """The ``"p/…"`` parameter and ``"meta/…"`` entries every checkpoint holds."""
    flat = {"p" + SEP + k: v for k, v in _flatten(jax.device_get(params)).items()}
    flat.update({"meta" + SEP + k: np.asarray(v) for k, v in meta.items()})
    return flat


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` into memory, then :func:`aedc.ir.serialize.write_atomic`: an interrupted write
    never leaves a half file under the final name."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    write_atomic(path, buf.getvalue())


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
                        history: dict[str, list[float]], **meta: float | int | str) -> Path:
    """A checkpoint a run can resume from exactly: ``params``, the optimizer state's leaves (in
    ``jax.tree_util`` order; :func:`load_training_state` rebuilds them on the optimizer's own
    structure) and the per-epoch history, written atomically (:func:`_write_npz`)."""
    path = Path(path)
    flat = _arrays(params, meta)
    for i, leaf in enumerate(jax.tree_util.tree_leaves(jax.device_get(opt_state))):
        flat[f"opt{SEP}{i:04d}"] = np.asarray(leaf)
    for k, v in history.items():
        flat[f"hist{SEP}{k}"] = np.asarray(v, np.float64)
    _write_npz(path, flat)
    return path


def load_training_state(path: str | Path, params_like: dict[str, Any], opt_like: Any) -> tuple[
        dict[str, Any], Any, dict[str, list[float]], dict[str, Any]]:
    """``(params, opt_state, history, meta)`` written by :func:`save_training_state`; ``opt_like`` is
    the optimizer's initial state (its structure). Strict where :func:`load_checkpoint` is lenient: a
    file without optimizer state (a plain :func:`save_checkpoint`), or with a missing or differently
    shaped array, cannot resume a run — :class:`aedc.errors.TrainingError` names the file and key."""
    with np.load(Path(path)) as z:
        data = {k: z[k] for k in z.files}
    opt = [data[k] for k in sorted(k for k in data if k.startswith("opt" + SEP))]
    hist = {k.split(SEP, 1)[1]: [float(x) for x in v] for k, v in data.items() if k.startswith("hist" + SEP)}
    meta = {k.split(SEP, 1)[1]: v.item() for k, v in data.items() if k.startswith("meta" + SEP)}
    leaves, tree = jax.tree_util.tree_flatten(opt_like)
    if len(opt) != len(leaves) or "epoch" not in meta:
        raise TrainingError(f"{path}: not a resumable checkpoint (it has {len(opt)} optimizer arrays, "
                            f"the optimizer {len(leaves)}; written by save_checkpoint, or by another "
                            "optimizer or network?)")

    def strict(key: str, like: Any) -> np.ndarray:
        """A resume takes every array from the file, in the shape the model has, or refuses."""
        if key not in data:
            raise TrainingError(f"{path}: no '{key}' in the checkpoint (another network?)")
        if data[key].shape != np.shape(like):
            raise TrainingError(f"{path}: '{key}' is {data[key].shape} in the checkpoint, "
                                f"{np.shape(like)} in the model (another network?)")
        return np.asarray(data[key], np.asarray(like).dtype)

    def fill(t: dict[str, Any], prefix: str) -> dict[str, Any]:
        return {k: fill(v, f"{prefix}{k}{SEP}") if isinstance(v, dict) else strict(f"{prefix}{k}", v)
                for k, v in t.items()}

    params = fill(params_like, "p" + SEP)
    state = jax.tree_util.tree_unflatten(tree, [strict(f"opt{SEP}{i:04d}", b) for i, b in enumerate(leaves)])
    return params, state, hist, meta
