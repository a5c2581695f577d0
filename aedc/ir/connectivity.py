"""Connectivity kinds of a projection, their shape rules and their explicit synapse lists.

A projection maps the flat (C-order) output vector of its presynaptic population onto the flat input
vector of its postsynaptic population. Structured kinds (conv, pool) carry their own input shape so that
a flattening in between does not lose the structure. ``to_coo`` expands any kind to the canonical synapse
list ``(pre, post, weight)`` sorted by ``(pre, post)``: the order in which an event-driven PE applies a
presynaptic event's row, and therefore the summation order of the reference simulator.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from aedc.ir.arrays import NDArray
from aedc.ir.base import IRModel

Shape = tuple[int, ...]
Pad = tuple[int, int]


def conv_out_len(n: int, k: int, stride: int, pad: Pad, dilation: int) -> int:
    """Output length of a convolution/pool along one axis (PyTorch's formula with explicit padding)."""
    return (n + pad[0] + pad[1] - dilation * (k - 1) - 1) // stride + 1


def same_padding(n: int, k: int, stride: int, dilation: int) -> Pad:
    """'same' padding for any stride: output length ceil(n / stride), extra pad at the end.

    NIR's own shape inference gets this wrong for stride > 1 (it assumes the output keeps length n).
    """
    out = -(-n // stride)
    total = max((out - 1) * stride + dilation * (k - 1) + 1 - n, 0)
    return (total // 2, total - total // 2)


class Dense(IRModel):
    """All-to-all weights ``W[post, pre]`` (NIR's Affine/Linear layout: out × in)."""

    kind: Literal["dense"] = "dense"
    weight: NDArray

    def out_shape(self, in_shape: Shape) -> Shape:
        return (int(self.weight.shape[0]),)

    def in_size(self) -> int | None:
        return int(self.weight.shape[1])

    def to_coo(self, pre_shape: Shape, post_shape: Shape) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n_post, n_pre = self.weight.shape
        pre, post = np.meshgrid(np.arange(n_pre), np.arange(n_post), indexing="ij")
        return (pre.ravel().astype(np.int64), post.ravel().astype(np.int64),
                np.asarray(self.weight, np.float32).T.ravel())


class Sparse(IRModel):
    """Explicit synapse list (COO), sorted by (pre, post), no duplicate pairs."""

    kind: Literal["sparse"] = "sparse"
    pre: NDArray
    post: NDArray
    weight: NDArray
    n_pre: int = Field(ge=0)
    n_post: int = Field(ge=0)

    def out_shape(self, in_shape: Shape) -> Shape:
        return (self.n_post,)

    def in_size(self) -> int | None:
        return self.n_pre

    def to_coo(self, pre_shape: Shape, post_shape: Shape) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (np.asarray(self.pre, np.int64), np.asarray(self.post, np.int64),
                np.asarray(self.weight, np.float32))


def _conv_coo(weight: np.ndarray, in_shape: Shape, stride: tuple[int, ...], padding: tuple[Pad, ...],
              dilation: tuple[int, ...], groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Synapse list of an N-d grouped convolution (N = 1 or 2), channels first."""
    _, *spatial = in_shape
    c_out, c_in_g, *kernel = weight.shape
    out_sp = [conv_out_len(n, k, s, p, d)
              for n, k, s, p, d in zip(spatial, kernel, stride, padding, dilation, strict=True)]
    c_out_g = c_out // groups
    # index grids over (co, ci_g, k..., o...)
    grids = np.meshgrid(np.arange(c_out), np.arange(c_in_g), *[np.arange(k) for k in kernel],
                        *[np.arange(o) for o in out_sp], indexing="ij")
    co, cig = grids[0], grids[1]
    ks = grids[2:2 + len(kernel)]
    os_ = grids[2 + len(kernel):]
    ci = (co // c_out_g) * c_in_g + cig
    valid = np.ones(co.shape, bool)
    in_pos = []
    for n, k_idx, o_idx, s, p, d in zip(spatial, ks, os_, stride, padding, dilation, strict=True):
        pos = o_idx * s - p[0] + k_idx * d
        valid &= (pos >= 0) & (pos < n)
        in_pos.append(pos)
    w = np.broadcast_to(weight.reshape(weight.shape + (1,) * len(out_sp)), co.shape)
    pre = ci
    for n, pos in zip(spatial, in_pos, strict=True):
        pre = pre * n + pos
    post = co
    for o, o_idx in zip(out_sp, os_, strict=True):
        post = post * o + o_idx
    pre, post, wv = pre[valid].astype(np.int64), post[valid].astype(np.int64), w[valid]
    order = np.lexsort((post, pre))
    return pre[order], post[order], np.asarray(wv[order], np.float32)


class Conv2d(IRModel):
    """2-d convolution, weight ``(C_out, C_in/groups, kH, kW)``, input ``(C, H, W)``."""

    kind: Literal["conv2d"] = "conv2d"
    weight: NDArray
    in_shape: tuple[int, int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[Pad, Pad] = ((0, 0), (0, 0))
    dilation: tuple[int, int] = (1, 1)
    groups: int = Field(1, ge=1)
    padding_spec: Literal["same", "valid"] | None = Field(
        None, description="NIR's padding string, kept for export")

    def out_shape(self, in_shape: Shape) -> Shape:
        _, h, w = self.in_shape
        kh, kw = self.weight.shape[2:]
        return (int(self.weight.shape[0]),
                conv_out_len(h, kh, self.stride[0], self.padding[0], self.dilation[0]),
                conv_out_len(w, kw, self.stride[1], self.padding[1], self.dilation[1]))

    def in_size(self) -> int | None:
        return math.prod(int(d) for d in self.in_shape)

    def to_coo(self, pre_shape: Shape, post_shape: Shape) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return _conv_coo(np.asarray(self.weight), self.in_shape, self.stride, self.padding,
                         self.dilation, self.groups)


class Conv1d(IRModel):
    """1-d convolution, weight ``(C_out, C_in/groups, k)``, input ``(C, L)``."""

    kind: Literal["conv1d"] = "conv1d"
    weight: NDArray
    in_shape: tuple[int, int]
    stride: tuple[int] = (1,)
    padding: tuple[Pad] = ((0, 0),)
    dilation: tuple[int] = (1,)
    groups: int = Field(1, ge=1)
    padding_spec: Literal["same", "valid"] | None = None

    def out_shape(self, in_shape: Shape) -> Shape:
        return (int(self.weight.shape[0]),
                conv_out_len(self.in_shape[1], int(self.weight.shape[2]), self.stride[0],
                             self.padding[0], self.dilation[0]))

    def in_size(self) -> int | None:
        return math.prod(int(d) for d in self.in_shape)

    def to_coo(self, pre_shape: Shape, post_shape: Shape) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return _conv_coo(np.asarray(self.weight), self.in_shape, self.stride, self.padding,
                         self.dilation, self.groups)


class Pool2d(IRModel):
    """Sum or average pooling per channel; ``avg`` divides by the full kernel area (padding included)."""

    kind: Literal["pool2d"] = "pool2d"
    mode: Literal["sum", "avg"] = "sum"
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[Pad, Pad] = ((0, 0), (0, 0))
    in_shape: tuple[int, int, int]

    def out_shape(self, in_shape: Shape) -> Shape:
        c, h, w = self.in_shape
        return (c, conv_out_len(h, self.kernel[0], self.stride[0], self.padding[0], 1),
                conv_out_len(w, self.kernel[1], self.stride[1], self.padding[1], 1))

    def in_size(self) -> int | None:
        return math.prod(int(d) for d in self.in_shape)

    def weight_value(self) -> float:
        """Weight of every synapse: 1 for sum pooling, 1/area (rounded to float32) for average."""
        area = self.kernel[0] * self.kernel[1]
        return 1.0 if self.mode == "sum" else float(np.float32(1.0 / area))

    def to_coo(self, pre_shape: Shape, post_shape: Shape) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        c = self.in_shape[0]
        weight = np.zeros((c, 1, *self.kernel), np.float32) + np.float32(self.weight_value())
        return _conv_coo(weight, self.in_shape, self.stride, self.padding, (1, 1), c)


class OneToOne(IRModel):
    """Neuron i → neuron i with weight ``weight[i]`` (NIR Scale; a Delay with weight 1)."""

    kind: Literal["one_to_one"] = "one_to_one"
    weight: NDArray

    def out_shape(self, in_shape: Shape) -> Shape:
        return in_shape

    def in_size(self) -> int | None:
        return int(self.weight.size)

    def to_coo(self, pre_shape: Shape, post_shape: Shape) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        idx = np.arange(self.weight.size, dtype=np.int64)
        return idx, idx.copy(), np.asarray(self.weight, np.float32).ravel()


class Identity(IRModel):
    """Neuron i → neuron i with weight 1; pre and post may differ in shape (Flatten, plain NIR edges)."""

    kind: Literal["identity"] = "identity"

    def out_shape(self, in_shape: Shape) -> Shape:
        return in_shape

    def in_size(self) -> int | None:
        return None

    def to_coo(self, pre_shape: Shape, post_shape: Shape) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = math.prod(int(d) for d in pre_shape)
        idx = np.arange(n, dtype=np.int64)
        return idx, idx.copy(), np.ones(n, np.float32)


Connectivity = Annotated[
    Dense | Sparse | Conv2d | Conv1d | Pool2d | OneToOne | Identity, Field(discriminator="kind")
]


def _taps(n: int, k: int, s: int, p: Pad, d: int) -> int:
    """(kernel tap, output position) pairs of one axis whose input position lies inside ``0..n-1``."""
    out = conv_out_len(n, k, s, p, d)
    o = np.arange(out, dtype=np.int64)
    return int(sum(np.count_nonzero((o * s - p[0] + j * d >= 0) & (o * s - p[0] + j * d < n))
                   for j in range(k)))


def _conv_count(weight_shape: tuple[int, ...], in_shape: Shape, stride: tuple[int, ...],
                padding: tuple[Pad, ...], dilation: tuple[int, ...]) -> int:
    """What ``_conv_coo`` would list, counted per axis: every (c_out, c_in/groups) pair times the
    in-bounds taps of each spatial axis (zero weights are synapses too)."""
    c_out, c_in_g, *kernel = weight_shape
    per_axis = [_taps(n, k, s, p, d)
                for n, k, s, p, d in zip(in_shape[1:], kernel, stride, padding, dilation, strict=True)]
    return int(c_out) * int(c_in_g) * math.prod(per_axis)


def synapse_count(conn: Dense | Sparse | Conv2d | Conv1d | Pool2d | OneToOne | Identity,
                  pre_shape: Shape, post_shape: Shape) -> int:
    """Number of synapses of a projection, without building the list (summaries count every
    projection of a graph many times per compile; a 10^6-neuron convolution's list is 10^8 entries)."""
    if isinstance(conn, Dense):
        return int(conn.weight.size)
    if isinstance(conn, Sparse):
        return int(conn.pre.size)
    if isinstance(conn, OneToOne | Identity):
        return math.prod(int(d) for d in pre_shape)
    if isinstance(conn, Conv2d | Conv1d):
        return _conv_count(tuple(conn.weight.shape), conn.in_shape, conn.stride, conn.padding,
                           conn.dilation)
    c = conn.in_shape[0]  # pooling: a depthwise convolution with one shared weight
    return _conv_count((c, 1, *conn.kernel), conn.in_shape, conn.stride, conn.padding, (1, 1))
