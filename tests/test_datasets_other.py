"""scikit-learn digits (fixed split) and the synthetic temporal-order task."""

from __future__ import annotations

import numpy as np

from aedc.datasets import digits, temporal_order


def test_digits_fixed_stratified_split() -> None:
    tr, te = digits("train"), digits("test")
    assert len(tr) + len(te) == 1797
    assert tr.x.shape[1] == 64
    assert 0.0 <= tr.x.min() <= tr.x.max() <= 1.0
    assert np.array_equal(digits("test").x, te.x)  # fixed
    frac = np.bincount(te.y, minlength=10) / np.bincount(np.concatenate([tr.y, te.y]), minlength=10)
    assert np.all(np.abs(frac - 0.2) < 0.02)


def test_temporal_order_labels_follow_the_first_spike() -> None:
    s = temporal_order(300, 20, seed=3)
    assert s.x.shape == (300, 20, 4)
    assert np.all(s.x[:, :, :2].sum(axis=1) == 1.0)
    ta, tb = np.argmax(s.x[:, :, 0], axis=1), np.argmax(s.x[:, :, 1], axis=1)
    assert np.all(ta != tb)
    assert np.all(np.maximum(ta, tb) < 10)
    np.testing.assert_array_equal(s.y, (tb < ta).astype(int))
    assert 0.35 < s.y.mean() < 0.65
    assert np.array_equal(temporal_order(300, 20, seed=3).x, s.x)
