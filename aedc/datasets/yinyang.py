"""The Yin-Yang data set, generated from its published definition.

Kriener, Göltz, Petrovici et al., "The Yin-Yang dataset", NICE 2022 (arXiv:2102.08211). Re-implemented
from the paper's description (no code copied):

* the yin-yang symbol of radius ``r_big = 0.5`` centred at (0.5, 0.5) in the unit square, with two dots
  of radius ``r_small = 0.1`` centred at (0.25, 0.5) (left) and (0.75, 0.5) (right);
* class 2 (*dot*): inside either dot; class 0 (*yin*): inside the right dot is excluded above, then a
  point is yin when it lies in the upper half outside the right half-disc of radius ``r_big/2`` around
  the right dot centre, or within ``r_big/2`` of the left dot centre (but outside the left dot);
  class 1 (*yang*): every other point of the big circle;
* samples: for every sample a goal class is drawn uniformly from {0, 1, 2}; points are drawn uniformly
  in ``[0, 2·r_big]²`` and rejected until one lies inside the big circle and has the goal class. So the
  classes are balanced in expectation (not exactly);
* features ``(x, y, 1 − x, 1 − y)`` (the mirrored copies keep the total input constant);
* standard splits: train 5000 (seed 42), validation 1000 (seed 41), test 1000 (seed 40), each drawn
  with ``numpy.random.RandomState(seed)`` (``randint(3)`` for the class, ``rand(2)`` per candidate
  point), the generator the published data set uses.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from aedc.datasets.encoding import Split

R_SMALL = 0.1
R_BIG = 0.5
YINYANG_SPLITS: dict[str, tuple[int, int]] = {"train": (5000, 42), "validation": (1000, 41),
                                              "test": (1000, 40)}
"""split name → (size, seed) of the published data set."""

CLASS_NAMES = ("yin", "yang", "dot")


def yinyang_class(x: np.ndarray, y: np.ndarray, r_small: float = R_SMALL,
                  r_big: float = R_BIG) -> np.ndarray:
    """Class of points inside the big circle (0 yin, 1 yang, 2 dot), vectorised."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    d_right = np.hypot(x - 1.5 * r_big, y - r_big)
    d_left = np.hypot(x - 0.5 * r_big, y - r_big)
    dot = (d_right < r_small) | (d_left < r_small)
    yin = ((d_right <= r_small) | ((d_left > r_small) & (d_left <= 0.5 * r_big))
           | ((y > r_big) & (d_right > 0.5 * r_big)))
    return np.where(dot, 2, np.where(yin, 0, 1)).astype(np.int64)


def _class_scalar(px: float, py: float, r_small: float, r_big: float) -> int:
    """:func:`yinyang_class` for one point in plain Python floats (same arithmetic, much faster)."""
    d_right = math.hypot(px - 1.5 * r_big, py - r_big)
    d_left = math.hypot(px - 0.5 * r_big, py - r_big)
    if d_right < r_small or d_left < r_small:
        return 2
    if d_right <= r_small or r_small < d_left <= 0.5 * r_big or (py > r_big and d_right > 0.5 * r_big):
        return 0
    return 1


def _point(rng: np.random.RandomState, goal: int, r_small: float, r_big: float) -> tuple[float, float]:
    while True:
        px, py = (float(v) for v in rng.rand(2) * 2.0 * r_big)
        if math.hypot(px - r_big, py - r_big) >= r_big:
            continue
        if _class_scalar(px, py, r_small, r_big) == goal:
            return px, py


def yinyang(split: Literal["train", "validation", "test"] | None = "train", *, size: int | None = None,
            seed: int | None = None, r_small: float = R_SMALL, r_big: float = R_BIG) -> Split:
    """A Yin-Yang split: ``x`` (size, 4) = (x, y, 1 − x, 1 − y) float32, ``y`` (size,) labels.

    ``split`` picks the published size and seed; ``size``/``seed`` override them (``split=None``
    needs both).
    """
    if split is not None:
        if split not in YINYANG_SPLITS:
            raise ValueError(f"unknown split {split!r}; choose one of {sorted(YINYANG_SPLITS)}")
        d_size, d_seed = YINYANG_SPLITS[split]
        size = d_size if size is None else size
        seed = d_seed if seed is None else seed
    if size is None or seed is None:
        raise ValueError("yinyang(split=None) needs size and seed")
    rng = np.random.RandomState(seed)
    xs = np.zeros((size, 4), np.float32)
    ys = np.zeros(size, np.int64)
    for i in range(size):
        goal = int(rng.randint(3))
        px, py = _point(rng, goal, r_small, r_big)
        xs[i] = (px, py, 1.0 - px, 1.0 - py)
        ys[i] = goal
    return Split(xs, ys, 3)
