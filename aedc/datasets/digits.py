"""scikit-learn's 8×8 digits (1,797 samples bundled with scikit-learn: no download), fixed split."""

from __future__ import annotations

from typing import Literal

import numpy as np

from aedc.datasets.encoding import Split

TEST_FRACTION = 0.2
SPLIT_SEED = 0


def digits(split: Literal["train", "test"] = "train") -> Split:
    """Digits with pixel values scaled to [0, 1] (``x`` (n, 64)); a fixed stratified 80/20 split
    (permutation by ``numpy.random.default_rng(0)`` within each class)."""
    from sklearn.datasets import load_digits  # type: ignore[import-untyped]

    data = load_digits()
    x = (np.asarray(data.data, np.float32) / 16.0).astype(np.float32)
    y = np.asarray(data.target, np.int64)
    rng = np.random.default_rng(SPLIT_SEED)
    test_idx: list[np.ndarray] = []
    train_idx: list[np.ndarray] = []
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test = round(TEST_FRACTION * idx.size)
        test_idx.append(idx[:n_test])
        train_idx.append(idx[n_test:])
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}; choose 'train' or 'test'")
    sel = np.sort(np.concatenate(train_idx if split == "train" else test_idx))
    return Split(x[sel], y[sel], 10)
