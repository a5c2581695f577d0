"""A synthetic temporal task that needs memory: which of two channels spiked first?

Each sample has ``n_channels`` input neurons (default 2 signal channels + ``n_noise`` noise channels).
Channel A and channel B each emit one spike at distinct random ticks in ``[0, T/2)``; the label is 0 when
A came first and 1 when B did; noise channels spike at random (Poisson, rate ``noise_p`` per tick). A
network must remember the first spike until the second arrives — a rate code cannot solve it (both
channels spike exactly once). Deterministic for a seed.
"""

from __future__ import annotations

import numpy as np

from aedc.datasets.encoding import Split


def temporal_order(size: int, T: int, *, n_noise: int = 2, noise_p: float = 0.02,
                   seed: int = 0) -> Split:
    """``x`` (size, T, 2 + n_noise) binary spike rasters, ``y`` (size,) in {0, 1}."""
    if T < 4:
        raise ValueError(f"T = {T} is too short; need at least 4 ticks")
    rng = np.random.default_rng(seed)
    x = (rng.random((size, T, 2 + n_noise)) < noise_p).astype(np.float32)
    x[:, :, :2] = 0.0
    half = T // 2
    for i in range(size):
        ta, tb = rng.choice(half, size=2, replace=False)
        x[i, ta, 0] = 1.0
        x[i, tb, 1] = 1.0
    y = (np.argmax(x[:, :, 1], axis=1) < np.argmax(x[:, :, 0], axis=1)).astype(np.int64)
    return Split(x, y, 2)
