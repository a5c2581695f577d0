"""Shape rules and IR connectivity of NIR's linear-op nodes, computed here rather than trusted.

Each function takes the node's checked fields and the shape of one input and returns the projection
that carries the op plus the node's output shape. NIR's own shape inference is not used: it gets
``'same'`` padding with stride > 1 wrong, and files store stale ``input_type``/``output_type`` shapes.
Shapes are unbatched (no leading batch axis). All values are cast to float32, the IR's number type.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from aedc.errors import DoesNotFitError, NIRFormatError
from aedc.frontend.nir_schema import FieldValue
from aedc.ir.connectivity import (
    Conv1d,
    Conv2d,
    Dense,
    Identity,
    OneToOne,
    Pad,
    Pool2d,
    Shape,
    Sparse,
    same_padding,
)

Conn = Dense | Sparse | Conv2d | Conv1d | Pool2d | OneToOne | Identity


@dataclass(frozen=True)
class Op:
    """A linear op applied to one input: its connectivity, output shape and delay in ticks."""

    conn: Conn
    out_shape: Shape
    delay: int = 0


@dataclass(frozen=True)
class NodeRef:
    """A NIR node's (flattened) name and type, to name it in errors."""

    name: str
    type: str

    def error(self, message: str) -> NIRFormatError:
        return NIRFormatError(f"node '{self.name}' ({self.type}): {message}", where=self.name)


def size(shape: Shape) -> int:
    return math.prod(int(d) for d in shape)


def arr(fields: Mapping[str, FieldValue], name: str) -> np.ndarray:
    value = fields[name]
    assert isinstance(value, np.ndarray), name
    return value


def ints(fields: Mapping[str, FieldValue], name: str) -> tuple[int, ...]:
    value = fields[name]
    assert isinstance(value, tuple), name
    return value


def integer(fields: Mapping[str, FieldValue], name: str) -> int:
    value = fields[name]
    assert isinstance(value, int), name
    return value


MAX_POPULATION_NEURONS = 2**26
"""Largest population (67,108,864 neurons) whose per-neuron float32 parameters the frontends create:
far beyond one SpiNNaker2 board (48 chips × 148 PEs × 256 neurons ≈ 1.8 M), and small enough that a
declared size of 10^9 is refused before gigabytes of parameters are allocated."""


def check_population_size(name: str, shape: Shape, label: str | None = None) -> None:
    """Raise :class:`~aedc.errors.DoesNotFitError` naming ``name`` if ``shape`` is too big to build."""
    n = size(shape)
    if n > MAX_POPULATION_NEURONS:
        label = label or f"population '{name}'"
        raise DoesNotFitError(f"{label} has shape {tuple(shape)} = {n:,} neurons; aedc builds "
                              f"populations of at most {MAX_POPULATION_NEURONS:,} neurons (each needs "
                              f"float32 parameters per neuron): split it or shrink its input",
                              where=name)


def fit(values: np.ndarray, shape: Shape) -> np.ndarray:
    """``values`` as float32 of ``shape``: broadcast, or reshaped when only the layout differs."""
    values = np.asarray(values, np.float32)
    try:
        return np.ascontiguousarray(np.broadcast_to(values, shape))
    except ValueError:
        return values.reshape(shape)


def elementwise_shape(where: NodeRef, param_shape: Shape, in_shape: Shape | None) -> Shape | None:
    """Shape of an elementwise node (neuron, Scale, Delay): its parameters broadcast with its input.

    An input of the same size but another layout (``(8, 4, 4)`` into parameters of shape ``(128,)``)
    is an identity edge, so the parameter shape wins. ``None`` when nothing determines the shape yet.
    """
    if in_shape is None:
        return param_shape or None
    try:
        joint = tuple(int(v) for v in np.broadcast_shapes(param_shape, in_shape))
    except ValueError:
        joint = None
    if joint is not None and size(joint) == size(in_shape):
        return joint
    if param_shape and size(param_shape) == size(in_shape):
        return param_shape
    raise where.error(f"parameters of shape {param_shape} do not fit its input of shape "
                         f"{in_shape} ({size(in_shape)} values)")


def block_diagonal(weight: np.ndarray, blocks: int) -> Sparse:
    """``weight`` (out × in) applied to each of ``blocks`` rows of the input: NIR's Affine on the last
    axis of a multi-dimensional input, as an explicit synapse list sorted by (pre, post)."""
    n_out, n_in = weight.shape
    b, i, o = np.meshgrid(np.arange(blocks), np.arange(n_in), np.arange(n_out), indexing="ij")
    return Sparse(pre=(b * n_in + i).ravel().astype(np.int64),
                  post=(b * n_out + o).ravel().astype(np.int64),
                  weight=np.asarray(weight, np.float32)[o, i].ravel(),
                  n_pre=blocks * n_in, n_post=blocks * n_out)


def _dense(where: NodeRef, weight: np.ndarray, in_shape: Shape) -> Op:
    n_out, n_in = weight.shape
    w = np.asarray(weight, np.float32)
    if in_shape[-1] == n_in:
        blocks = size(in_shape[:-1])
        out = (*in_shape[:-1], n_out)
        return Op(Dense(weight=w) if blocks == 1 else block_diagonal(w, blocks), out)
    if size(in_shape) == n_in:  # a multi-dimensional input read as one flat vector
        return Op(Dense(weight=w), (n_out,))
    raise where.error(f"weight {weight.shape} expects {n_in} inputs, but its input has "
                         f"shape {in_shape} ({size(in_shape)} values)")


def _padding(fields: Mapping[str, FieldValue], spatial: Shape, kernel: Shape, stride: Shape,
             dilation: Shape) -> tuple[tuple[Pad, ...], str | None]:
    pad = fields["padding"]
    if pad == "same":
        return tuple(same_padding(n, k, s, d)
                     for n, k, s, d in zip(spatial, kernel, stride, dilation, strict=True)), "same"
    if pad == "valid":
        return tuple((0, 0) for _ in spatial), "valid"
    assert isinstance(pad, tuple)
    return tuple((p, p) for p in pad), None


def _conv(where: NodeRef, fields: Mapping[str, FieldValue], in_shape: Shape, nd: int) -> Op:
    weight = np.asarray(arr(fields, "weight"), np.float32)
    groups = integer(fields, "groups")
    c_in = weight.shape[1] * groups
    declared = fields.get("input_shape")
    if len(in_shape) == nd + 1:
        if in_shape[0] != c_in:
            raise where.error(f"weight {weight.shape} with groups={groups} expects {c_in} "
                                 f"input channels, its input has shape {in_shape}")
        if declared is not None and declared != in_shape[1:]:
            raise where.error(f"field 'input_shape' = {declared} but its input has shape "
                                 f"{in_shape}")
        full = in_shape
    elif isinstance(declared, tuple) and size(in_shape) == c_in * size(declared):
        full = (c_in, *declared)
    else:
        raise where.error(f"needs a ({'C, L' if nd == 1 else 'C, H, W'}) input with {c_in} "
                             f"channels, got shape {in_shape}")
    kernel = tuple(int(k) for k in weight.shape[2:])
    stride, dilation = ints(fields, "stride"), ints(fields, "dilation")
    padding, spec = _padding(fields, full[1:], kernel, stride, dilation)
    conn: Conv1d | Conv2d
    if nd == 2:
        conn = Conv2d(weight=weight, in_shape=full, stride=stride, padding=padding, dilation=dilation,
                      groups=groups, padding_spec=spec)
    else:
        conn = Conv1d(weight=weight, in_shape=full, stride=stride, padding=padding, dilation=dilation,
                      groups=groups, padding_spec=spec)
    return Op(conn, _nonempty(where, conn.out_shape(full)))


def _nonempty(where: NodeRef, out: Shape) -> Shape:
    if min(out) <= 0:
        raise where.error(f"kernel larger than its padded input, output shape {out}")
    return out


def _pool(where: NodeRef, fields: Mapping[str, FieldValue], in_shape: Shape, mode: str) -> Op:
    if len(in_shape) != 3:
        raise where.error(f"needs a (C, H, W) input, got shape {in_shape}")
    conn = Pool2d(mode=mode, kernel=ints(fields, "kernel_size"), stride=ints(fields, "stride"),
                  padding=tuple((p, p) for p in ints(fields, "padding")), in_shape=in_shape)
    return Op(conn, _nonempty(where, conn.out_shape(in_shape)))


def flatten_shape(shape: Shape, start_dim: int, end_dim: int) -> Shape | None:
    """``shape`` with axes ``start_dim..end_dim`` (negative from the end) merged; ``None`` if invalid."""
    n = len(shape)
    lo, hi = start_dim + n if start_dim < 0 else start_dim, end_dim + n if end_dim < 0 else end_dim
    if not 0 <= lo <= hi < n:
        return None
    return (*shape[:lo], size(shape[lo:hi + 1]), *shape[hi + 1:])


def _flatten(where: NodeRef, fields: Mapping[str, FieldValue], in_shape: Shape) -> Op:
    start, end = integer(fields, "start_dim"), integer(fields, "end_dim")
    out = flatten_shape(in_shape, start, end)
    if out is None:
        raise where.error(f"start_dim={start}, end_dim={end} do not select axes of its (unbatched) "
                          f"input of shape {in_shape}")
    return Op(Identity(), out)


def op_for_input(where: NodeRef, fields: Mapping[str, FieldValue], in_shape: Shape,
                 delay_ticks: int = 0) -> Op:
    """The projection a linear-op node applies to one input of shape ``in_shape``."""
    node_type = where.type
    if node_type in ("Affine", "Linear"):
        return _dense(where, arr(fields, "weight"), in_shape)
    if node_type in ("Conv1d", "Conv2d"):
        return _conv(where, fields, in_shape, 1 if node_type == "Conv1d" else 2)
    if node_type in ("SumPool2d", "AvgPool2d"):
        return _pool(where, fields, in_shape, "sum" if node_type == "SumPool2d" else "avg")
    if node_type == "Flatten":
        return _flatten(where, fields, in_shape)
    param = arr(fields, "scale" if node_type == "Scale" else "delay")
    shape = elementwise_shape(where, param.shape, in_shape)
    assert shape is not None
    if node_type == "Scale":
        return Op(OneToOne(weight=fit(param, shape).ravel()), shape)
    return Op(Identity(), shape, delay_ticks)


def op_bias(node_type: str, fields: Mapping[str, FieldValue], shape: Shape) -> np.ndarray:
    """The pass-through population's bias: Affine bias, conv bias broadcast over space, else zeros."""
    if node_type == "Affine":
        return fit(arr(fields, "bias"), shape)
    if node_type in ("Conv1d", "Conv2d"):
        bias = np.broadcast_to(np.asarray(arr(fields, "bias"), np.float32).reshape(-1), (shape[0],))
        return fit(bias.reshape((shape[0],) + (1,) * (len(shape) - 1)), shape)
    return np.zeros(shape, np.float32)
