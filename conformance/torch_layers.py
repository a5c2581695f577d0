"""Torch layers with parameters set from NumPy arrays: what the three torch frameworks' generators share."""

from __future__ import annotations

import numpy as np
import torch


def tensor(a: np.ndarray) -> torch.Tensor:
    """A float32 CPU tensor of ``a`` (contiguous copy)."""
    return torch.from_numpy(np.ascontiguousarray(a, np.float32))


def linear(w: np.ndarray, b: np.ndarray | None) -> torch.nn.Linear:
    """``torch.nn.Linear`` with weight ``w`` (out × in) and bias ``b`` (or none)."""
    lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=b is not None)
    with torch.no_grad():
        lin.weight.copy_(tensor(w))
        if b is not None:
            lin.bias.copy_(tensor(b))
    return lin
