"""scikit-learn digits (fixed split) and the synthetic temporal tasks (temporal order, randman)."""

from __future__ import annotations

import numpy as np
import pytest

from aedc.datasets import digits, randman, temporal_order


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


def test_randman_is_a_timing_code_with_learnable_classes() -> None:
    """One spike per input per sample (so counts carry no label), classes separable by spike times
    alone: 1-nearest-neighbour on the spike steps of the training split classifies the test split
    (same manifolds, other points) far above chance, a count-based classifier cannot."""
    tr = randman("train", size=1000, T=30, t_max=25, seed=4)
    te = randman("test", size=300, T=30, t_max=25, seed=4)
    assert tr.x.shape == (1000, 30, 20)
    assert tr.n_classes == 10
    assert np.all(tr.x.sum(axis=1) == 1.0)
    steps = tr.x.argmax(axis=1)
    assert int(steps.max()) == 24  # t_max − 1: the top bin is reached …
    assert int(steps.min()) == 0  # … and the bottom one
    assert np.all(randman("train", size=200, T=2, t_max=2, seed=4).x.argmax(axis=1).std(axis=0) > 0)
    assert np.array_equal(np.bincount(tr.y), np.full(10, 100))
    t_tr, t_te = tr.x.argmax(axis=1), te.x.argmax(axis=1)
    nn = tr.y[np.argmin(((t_te[:, None, :] - t_tr[None]) ** 2).sum(-1), axis=1)]
    assert np.mean(nn == te.y) > 0.9
    assert not np.array_equal(t_tr[:300], t_te)  # other points of the same manifolds
    np.testing.assert_array_equal(randman("train", size=1000, T=30, t_max=25, seed=4).x, tr.x)
    other = randman("train", size=1000, T=30, t_max=25, seed=5)
    assert not np.array_equal(other.x, tr.x)


def test_randman_smoothness_and_bad_arguments() -> None:
    """Smoother manifolds (larger alpha) put a class's samples closer to their nearest neighbour
    (the same number of points on a less wiggly curve)."""
    def nn_distance(alpha: float) -> float:
        s = randman(size=400, T=200, alpha=alpha, n_classes=2, seed=1)
        t = s.x.argmax(axis=1).astype(float)[s.y == 0]
        d = ((t[:, None] - t[None]) ** 2).sum(-1)
        np.fill_diagonal(d, np.inf)
        return float(np.sqrt(d.min(axis=1)).mean())
    assert nn_distance(2.0) < 0.8 * nn_distance(0.0)
    with pytest.raises(ValueError, match="t_max"):
        randman(T=10, t_max=11)
    with pytest.raises(ValueError, match="n_classes"):
        randman(n_classes=1)
    with pytest.raises(ValueError, match="split"):
        randman("validation")  # type: ignore[arg-type]
