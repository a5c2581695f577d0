"""Feature → spike-raster encoders and the :class:`Split` container."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

F32 = np.float32


@dataclass(frozen=True, eq=False)
class Split:
    """One split of a data set: ``x`` (samples, ...) float32, ``y`` (samples,) int64 labels."""

    x: np.ndarray
    y: np.ndarray
    n_classes: int

    def __len__(self) -> int:
        return int(self.y.shape[0])


def encode_ttfs(x: np.ndarray, T: int, *, t_min: int = 0, t_max: int | None = None,
                bias_tick: int | None = None) -> np.ndarray:
    """Time-to-first-spike: feature ``v ∈ [0, 1]`` → one spike at tick ``round(t_min + v·(t_max − t_min))``.

    ``x`` is ``(B, N)`` with values in [0, 1] (clipped); ``t_max`` defaults to ``T − 1``. With
    ``bias_tick`` an extra last input neuron (the "bias neuron" of Göltz et al. / Kriener et al.)
    spikes at that tick in every sample. Returns a binary float32 raster ``(B, T, N [+ 1])``.
    """
    x = np.clip(np.asarray(x, np.float64), 0.0, 1.0)
    t_max = T - 1 if t_max is None else t_max
    if not 0 <= t_min <= t_max < T:
        raise ValueError(f"need 0 <= t_min ({t_min}) <= t_max ({t_max}) < T ({T})")
    B, N = x.shape
    ticks = np.rint(t_min + x * (t_max - t_min)).astype(np.int64)
    extra = 0 if bias_tick is None else 1
    out = np.zeros((B, T, N + extra), F32)
    b_idx, n_idx = np.meshgrid(np.arange(B), np.arange(N), indexing="ij")
    out[b_idx, ticks, n_idx] = 1.0
    if bias_tick is not None:
        if not 0 <= bias_tick < T:
            raise ValueError(f"bias_tick {bias_tick} outside [0, {T})")
        out[:, bias_tick, N] = 1.0
    return out


def encode_graded(x: np.ndarray, T: int, *, tick: int = 0, bias: float | None = None) -> np.ndarray:
    """Graded events: every feature is sent once, at ``tick``, with its value as payload.

    ``bias`` adds a last input neuron that sends that value at ``tick``. Returns ``(B, T, N [+ 1])``.
    """
    x = np.asarray(x, F32)
    B, N = x.shape
    extra = 0 if bias is None else 1
    out = np.zeros((B, T, N + extra), F32)
    out[:, tick, :N] = x
    if bias is not None:
        out[:, tick, N] = bias
    return out
