"""Random-manifold spike-time classification: a temporal task that a rate code cannot solve.

The task follows the *random manifold* ("randman") benchmark of Zenke & Vogels, "The remarkable
robustness of surrogate gradient learning for instilling complex function in spiking neural
networks", Neural Computation 33 (2021): each class is a smooth random ``dim``-dimensional manifold
embedded in the ``n_inputs``-dimensional space of input spike *times*; a sample is a uniformly drawn
point of one class's manifold, and every input neuron fires exactly once, at the time its coordinate
gives. Spike counts are identical across classes, so only timing separates them. This module is an
implementation of that published definition with its parameters (class count, input count, manifold
dimension, smoothness ``alpha``, Fourier components), written here from the description:

* per class ``c``, input ``n`` and intrinsic axis ``d``: a random smooth function
  ``f(u) = Σ_k A_k sin(2π (k·u + φ_k)) / k^alpha`` over ``k = 1..components``, ``A_k ~ U(0, 1)``,
  ``φ_k ~ U(0, 1)`` (larger ``alpha``: smoother manifolds, an easier task);
* the coordinate of a point ``u ∈ [0, 1)^dim`` is ``y = (Σ_d f(u_d) + S) / 2S`` with ``S = Σ_d Σ_k
  A_k / k^alpha``, so ``y ∈ [0, 1]``;
* the spike of input ``n`` falls in step ``min(floor(y · t_max), t_max − 1)``: ``t_max`` equal bins of
  ``[0, 1]`` (``t_max ≤ T``; the steps from ``t_max`` on leave the network time to decide).

Deterministic for a seed: the manifolds come from ``seed``, the sample points from ``seed + 1`` and
the split (``"train"``/``"test"``) offsets the sample stream, never the manifolds.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from aedc.datasets.encoding import Split


def _manifolds(n_classes: int, n_inputs: int, dim: int, components: int, alpha: float,
               seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Amplitudes ``A / k^alpha`` and phases, each ``(n_classes, n_inputs, dim, components)``, and the
    normaliser ``S`` per ``(class, input)``."""
    rng = np.random.default_rng(seed)
    k = np.arange(1, components + 1, dtype=np.float64)
    amp = rng.uniform(0.0, 1.0, (n_classes, n_inputs, dim, components)) / k ** alpha
    phase = rng.uniform(0.0, 1.0, (n_classes, n_inputs, dim, components))
    return amp, phase, amp.sum(axis=(2, 3))


def randman(split: Literal["train", "test"] = "train", *, size: int = 1000, T: int = 50,
            t_max: int | None = None, n_classes: int = 10, n_inputs: int = 20, dim: int = 1,
            alpha: float = 2.0, components: int = 4, seed: int = 0) -> Split:
    """``x (size, T, n_inputs)``: one spike per input neuron per sample; ``y (size,)``: the class,
    balanced (``size`` samples cycle through the classes, then are shuffled)."""
    t_max = T if t_max is None else t_max
    if split not in ("train", "test"):
        raise ValueError(f"randman split must be 'train' or 'test', not {split!r}")
    if not 2 <= t_max <= T:
        raise ValueError(f"t_max = {t_max} must lie in [2, T = {T}]")
    if n_classes < 2 or n_inputs < 1 or dim < 1 or components < 1 or size < 1:
        raise ValueError("randman needs n_classes >= 2 and n_inputs, dim, components, size >= 1 "
                         f"(got {n_classes}, {n_inputs}, {dim}, {components}, {size})")
    amp, phase, norm = _manifolds(n_classes, n_inputs, dim, components, alpha, seed)
    rng = np.random.default_rng([seed + 1, 0 if split == "train" else 1])
    y = rng.permutation(np.arange(size) % n_classes)
    u = rng.uniform(0.0, 1.0, (size, dim))
    k = np.arange(1, components + 1, dtype=np.float64)
    # f[s, n, d] = Σ_k amp[c_s, n, d, k] sin(2π (k u[s, d] + phase[c_s, n, d, k]))
    arg = 2 * np.pi * (k[None, None, None, :] * u[:, None, :, None] + phase[y])
    total = np.sum(amp[y] * np.sin(arg), axis=(2, 3))  # (size, n_inputs)
    coord = np.clip((total + norm[y]) / (2 * norm[y]), 0.0, 1.0)
    step = np.minimum(np.floor(coord * t_max), t_max - 1).astype(np.int64)  # t_max equal bins
    x = np.zeros((size, T, n_inputs), np.float32)
    x[np.arange(size)[:, None], step, np.arange(n_inputs)[None, :]] = 1.0
    return Split(x, y.astype(np.int64), n_classes)
