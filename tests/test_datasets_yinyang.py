"""Yin-Yang (Kriener et al. 2021) generated from its definition: geometry, balance, seeds, encoders."""

from __future__ import annotations

import numpy as np
import pytest

from aedc.datasets import YINYANG_SPLITS, encode_graded, encode_ttfs, yinyang, yinyang_class
from aedc.datasets.yinyang import R_BIG, R_SMALL


@pytest.fixture(scope="module")
def test_split() -> tuple[np.ndarray, np.ndarray]:
    s = yinyang("test")
    return s.x, s.y


def test_published_split_sizes_and_seeds() -> None:
    assert YINYANG_SPLITS == {"train": (5000, 42), "validation": (1000, 41), "test": (1000, 40)}
    s = yinyang("validation", size=50)
    assert s.x.shape == (50, 4)
    assert s.x.dtype == np.float32
    assert s.n_classes == 3


def test_determinism_by_seed() -> None:
    a, b = yinyang("test", size=200), yinyang("test", size=200)
    assert np.array_equal(a.x, b.x)
    assert np.array_equal(a.y, b.y)
    c = yinyang(None, size=200, seed=7)
    assert not np.array_equal(a.x, c.x)
    # a prefix of a larger draw: the generator is consumed sample by sample
    assert np.array_equal(yinyang("test", size=50).x, a.x[:50])


def test_features_are_coordinates_and_their_mirrors(test_split: tuple[np.ndarray, np.ndarray]) -> None:
    x, _ = test_split
    np.testing.assert_allclose(x[:, 2], 1.0 - x[:, 0], atol=1e-6)
    np.testing.assert_allclose(x[:, 3], 1.0 - x[:, 1], atol=1e-6)
    assert x.min() >= 0.0
    assert x.max() <= 1.0
    assert np.all(np.hypot(x[:, 0] - 0.5, x[:, 1] - 0.5) < R_BIG)


def test_every_point_satisfies_the_definition(test_split: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = test_split
    px, py = x[:, 0].astype(np.float64), x[:, 1].astype(np.float64)
    d_left = np.hypot(px - 0.25, py - 0.5)
    d_right = np.hypot(px - 0.75, py - 0.5)
    dot = y == 2
    assert np.all(np.minimum(d_left, d_right)[dot] < R_SMALL + 1e-6)
    assert np.all(np.minimum(d_left, d_right)[~dot] >= R_SMALL - 1e-6)
    # yin: upper half outside the right half-disc, or the left half-disc (outside its dot)
    yin = (py > 0.5) & (d_right > 0.25) | (d_left <= 0.25)
    far = np.abs(np.minimum(np.abs(d_right - 0.25), np.abs(d_left - 0.25))) > 1e-4  # off boundaries
    far &= np.abs(py - 0.5) > 1e-4
    assert np.array_equal(yin[~dot & far], (y == 0)[~dot & far])


def test_point_reflection_swaps_yin_and_yang() -> None:
    rng = np.random.default_rng(0)
    p = rng.random((20000, 2))
    p = p[np.hypot(p[:, 0] - 0.5, p[:, 1] - 0.5) < R_BIG - 1e-6]
    c = yinyang_class(p[:, 0], p[:, 1])
    c_ref = yinyang_class(1.0 - p[:, 0], 1.0 - p[:, 1])
    swapped = np.array([1, 0, 2])[c]
    assert np.mean(c_ref == swapped) > 0.999  # all but points on a boundary
    # areas: the two dots are 2·π·r_small² of the circle's π·r_big²
    np.testing.assert_allclose(np.mean(c == 2), 2 * R_SMALL**2 / R_BIG**2, atol=0.01)


def test_class_balance() -> None:
    y = yinyang("train").y
    counts = np.bincount(y, minlength=3)
    assert counts.sum() == 5000
    assert np.all(np.abs(counts / 5000 - 1 / 3) < 0.02), counts


def test_ttfs_encoding_ranges() -> None:
    x = yinyang("test", size=100).x
    r = encode_ttfs(x, 50, t_min=2, t_max=30, bias_tick=0)
    assert r.shape == (100, 50, 5)
    assert set(np.unique(r)) == {0.0, 1.0}
    assert np.all(r.sum(axis=1) == 1.0)  # exactly one spike per neuron and sample
    ticks = np.argmax(r[:, :, :4], axis=1)
    assert ticks.min() >= 2
    assert ticks.max() <= 30
    np.testing.assert_array_equal(ticks, np.rint(2 + x * 28).astype(int))
    assert np.all(r[:, 0, 4] == 1.0)
    with pytest.raises(ValueError, match="t_max"):
        encode_ttfs(x, 10, t_max=10)


def test_graded_encoding() -> None:
    x = yinyang("test", size=10).x
    r = encode_graded(x, 8, tick=1, bias=1.0)
    assert r.shape == (10, 8, 5)
    np.testing.assert_array_equal(r[:, 1, :4], x)
    assert np.all(r[:, 1, 4] == 1.0)
    assert np.count_nonzero(r[:, [0, *range(2, 8)]]) == 0
