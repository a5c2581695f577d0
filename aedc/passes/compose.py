"""Composition of connectivities: one projection ``pre → post`` equal to ``a: pre → mid``, then
``b: mid → post``.

Only valid when ``mid`` is an instantaneous linear pass-through (``y = x``): then
``post_input = B·(A·x) = (B·A)·x``. Rules, tried in order:

* ``identity ∘ X`` and ``X ∘ identity`` → ``X`` (identity keeps the flat C-order index; structured kinds
  carry their own input shape, so a Flatten in between loses nothing);
* ``one_to_one ∘ one_to_one`` → the elementwise product;
* ``one_to_one`` next to ``dense``/``sparse`` → scaled columns/rows (weights); next to a conv/pool whose
  scale is constant per channel → a conv with per-channel-scaled kernels;
* ``dense ∘ dense`` → the matrix product;
* ``pool2d(kernel == stride, no padding, sum/avg)`` then ``conv2d(dilation 1)`` → one conv2d (see
  :func:`pool_then_conv`);
* otherwise, when ``|pre| · |post| <= max_dense``, expand both sides to synapse lists and compose them
  (dense result if more than half of all pairs are connected, else sparse; exact zero sums dropped).

Arithmetic: every composed weight is computed in float64 and rounded to float32 once. Weights that are
small dyadic rationals therefore compose exactly. Anything else raises :class:`CannotCompose` with the
reason, which the fusing passes report as a diagnostic.
"""

from __future__ import annotations

import numpy as np

from aedc.ir.connectivity import Conv1d, Conv2d, Dense, Identity, OneToOne, Pool2d, Shape, Sparse

AnyConn = Dense | Sparse | Conv2d | Conv1d | Pool2d | OneToOne | Identity
"""The connectivity kinds as a plain union (``aedc.ir.connectivity.Connectivity`` is its annotated form)."""

MAX_PAIRS_PER_DENSE = 4
"""The synapse-list join may build at most ``MAX_PAIRS_PER_DENSE · max_dense`` (pre, mid, post) paths."""


class CannotCompose(Exception):
    """The two connectivities have no composition within the limits; ``str(exc)`` says why."""


def _size(shape: Shape) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _f32(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, np.float64).astype(np.float32)


# ---- conv/pool helpers --------------------------------------------------------------------------------

def pool_as_conv(pool: Pool2d) -> Conv2d:
    """The depthwise conv2d that computes ``pool`` exactly (same weights, stride, padding)."""
    c = pool.in_shape[0]
    weight = np.full((c, 1, *pool.kernel), pool.weight_value(), np.float32)
    return Conv2d(weight=weight, in_shape=pool.in_shape, stride=pool.stride, padding=pool.padding,
                  groups=c)


def _per_channel(values: np.ndarray, shape: Shape) -> np.ndarray | None:
    """``values`` (flat over ``shape`` = (C, ...)) as one value per channel, or None if not constant."""
    arr = np.asarray(values, np.float64).reshape(shape)
    first = arr.reshape(shape[0], -1)[:, :1]
    if not np.array_equal(arr.reshape(shape[0], -1), np.broadcast_to(first, (shape[0], arr[0].size))):
        return None
    return first[:, 0]


def _scale_conv_inputs(conv: Conv2d | Conv1d, scale: np.ndarray) -> Conv2d | Conv1d:
    """``conv ∘ diag(scale)`` when ``scale`` is constant per input channel."""
    per = _per_channel(scale, conv.in_shape)
    if per is None:
        raise CannotCompose("the scale is not constant per input channel of the convolution")
    c_out, c_in_g = conv.weight.shape[:2]
    co = np.arange(c_out)[:, None]
    ci = (co // (c_out // conv.groups)) * c_in_g + np.arange(c_in_g)[None, :]
    factor = per[ci].reshape(c_out, c_in_g, *([1] * (conv.weight.ndim - 2)))
    return conv.evolve(weight=_f32(np.asarray(conv.weight, np.float64) * factor))


def _scale_conv_outputs(conv: Conv2d | Conv1d, scale: np.ndarray) -> Conv2d | Conv1d:
    """``diag(scale) ∘ conv`` when ``scale`` is constant per output channel."""
    out_shape = conv.out_shape(conv.in_shape)
    per = _per_channel(scale, out_shape)
    if per is None:
        raise CannotCompose("the scale is not constant per output channel of the convolution")
    factor = per.reshape(-1, *([1] * (conv.weight.ndim - 1)))
    return conv.evolve(weight=_f32(np.asarray(conv.weight, np.float64) * factor))


def pool_then_conv(pool: Pool2d, conv: Conv2d) -> Conv2d | None:
    """One conv2d equal to ``pool`` followed by ``conv``, or None if the rule does not apply.

    Applies when the pool has ``kernel == stride = (kh, kw)``, no padding, tiles its input exactly
    (``H % kh == W % kw == 0``) and the conv has dilation 1. Then pooled pixel ``q`` is the sum of input
    pixels ``q·k .. q·k + k - 1`` (times ``1/(kh·kw)`` for avg), so conv tap ``j`` at output ``o`` reads
    input pixels ``(o·s - p + j)·k + u`` for ``u < k``: that is a conv over the input with tap
    ``m = j·k + u``, kernel ``K'[co, ci, y, x] = K[co, ci, y // kh, x // kw]``, stride ``k·s`` and
    padding ``k·p``. A pooled position outside ``[0, H/k)`` (the conv's zero padding) maps exactly onto
    input positions outside ``[0, H)`` (the new zero padding) because the pool tiles the input; the
    output length ``(k·(H/k + p0 + p1 - K)) // (k·s) + 1`` equals the original one. Groups carry over
    because pooling acts per channel.
    """
    kh, kw = pool.kernel
    _, h, w = pool.in_shape
    if (pool.kernel != pool.stride or pool.padding != ((0, 0), (0, 0)) or conv.dilation != (1, 1)
            or h % kh or w % kw or conv.in_shape != pool.out_shape(pool.in_shape)):
        return None
    weight = np.repeat(np.repeat(np.asarray(conv.weight, np.float64), kh, axis=2), kw, axis=3)
    if pool.mode == "avg":
        weight = weight / (kh * kw)
    (p0, p1), (q0, q1) = conv.padding
    return Conv2d(weight=_f32(weight), in_shape=pool.in_shape,
                  stride=(conv.stride[0] * kh, conv.stride[1] * kw),
                  padding=((p0 * kh, p1 * kh), (q0 * kw, q1 * kw)), dilation=(1, 1), groups=conv.groups)


# ---- explicit synapse lists ----------------------------------------------------------------------------

def _coo(conn: AnyConn, in_shape: Shape, out_shape: Shape) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return conn.to_coo(in_shape, out_shape)


def _from_pairs(pre: np.ndarray, post: np.ndarray, weight: np.ndarray, n_pre: int,
                n_post: int) -> Dense | Sparse:
    """Dense if more than half of all pairs are present, else sparse (sorted by (pre, post))."""
    keep = weight != 0.0
    pre, post, weight = pre[keep], post[keep], weight[keep]
    if pre.size * 2 > n_pre * n_post:
        dense = np.zeros((n_post, n_pre), np.float64)
        dense[post, pre] = weight
        return Dense(weight=_f32(dense))
    index = np.int32 if max(n_pre, n_post) < 2**31 else np.int64
    return Sparse(pre=pre.astype(index), post=post.astype(index), weight=_f32(weight), n_pre=n_pre,
                  n_post=n_post)


def _compose_explicit(a: AnyConn, b: AnyConn, pre_shape: Shape, mid_shape: Shape, post_shape: Shape,
                      max_dense: int) -> Dense | Sparse:
    n_pre, n_mid, n_post = _size(pre_shape), _size(mid_shape), _size(post_shape)
    if n_pre * n_post > max_dense:
        raise CannotCompose(f"the composition {a.kind} then {b.kind} has no structured form and "
                            f"{n_pre} x {n_post} = {n_pre * n_post:,} pre/post pairs exceed max-dense "
                            f"({max_dense:,})")
    ap, am, aw = _coo(a, pre_shape, mid_shape)
    bm, bq, bw = _coo(b, mid_shape, post_shape)  # sorted by bm
    counts = np.bincount(bm, minlength=n_mid)
    rep = counts[am]
    total = int(rep.sum())
    if total > MAX_PAIRS_PER_DENSE * max_dense:
        if n_mid * (n_pre + n_post) > max_dense:
            raise CannotCompose(f"composing {a.kind} then {b.kind} needs {total:,} synapse paths, more "
                                f"than {MAX_PAIRS_PER_DENSE} x max-dense ({max_dense:,})")
        ma = np.zeros((n_mid, n_pre), np.float64)
        np.add.at(ma, (am, ap), aw)
        mb = np.zeros((n_post, n_mid), np.float64)
        np.add.at(mb, (bq, bm), bw)
        prod = mb @ ma
        post, pre = np.nonzero(prod)
        order = np.lexsort((post, pre))
        return _from_pairs(pre[order], post[order], prod[post[order], pre[order]], n_pre, n_post)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    a_idx = np.repeat(np.arange(ap.size), rep)
    offsets = np.arange(total) - np.repeat(np.cumsum(rep) - rep, rep)
    b_idx = starts[am[a_idx]] + offsets
    key = ap[a_idx] * n_post + bq[b_idx]
    weight = aw[a_idx].astype(np.float64) * bw[b_idx].astype(np.float64)
    uniq, inverse = np.unique(key, return_inverse=True)
    sums = np.bincount(inverse, weights=weight, minlength=uniq.size)
    return _from_pairs(uniq // n_post, uniq % n_post, sums, n_pre, n_post)


# ---- the composition -------------------------------------------------------------------------------------

def compose(a: AnyConn, b: AnyConn, pre_shape: Shape, mid_shape: Shape, post_shape: Shape, *,
            max_dense: int) -> AnyConn:
    """The connectivity of ``a`` (pre → mid) followed by ``b`` (mid → post); see the module docstring."""
    if isinstance(a, Identity):
        return b
    if isinstance(b, Identity):
        return a
    if isinstance(a, OneToOne) and isinstance(b, OneToOne):
        return OneToOne(weight=_f32(np.asarray(a.weight, np.float64).ravel()
                                    * np.asarray(b.weight, np.float64).ravel()))
    if isinstance(a, OneToOne):
        s = np.asarray(a.weight, np.float64).ravel()
        if isinstance(b, Dense):
            return Dense(weight=_f32(np.asarray(b.weight, np.float64) * s[None, :]))
        if isinstance(b, Sparse):
            return b.evolve(weight=_f32(np.asarray(b.weight, np.float64) * s[np.asarray(b.pre)]))
        if isinstance(b, Conv2d | Conv1d | Pool2d):
            conv = pool_as_conv(b) if isinstance(b, Pool2d) else b
            if _per_channel(s, conv.in_shape) is not None:
                return _scale_conv_inputs(conv, s)
    if isinstance(b, OneToOne):
        t = np.asarray(b.weight, np.float64).ravel()
        if isinstance(a, Dense):
            return Dense(weight=_f32(t[:, None] * np.asarray(a.weight, np.float64)))
        if isinstance(a, Sparse):
            return a.evolve(weight=_f32(np.asarray(a.weight, np.float64) * t[np.asarray(a.post)]))
        if isinstance(a, Conv2d | Conv1d | Pool2d):
            conv = pool_as_conv(a) if isinstance(a, Pool2d) else a
            if _per_channel(t, conv.out_shape(conv.in_shape)) is not None:
                return _scale_conv_outputs(conv, t)
    if isinstance(a, Dense) and isinstance(b, Dense):
        n_pre, n_post = int(a.weight.shape[1]), int(b.weight.shape[0])
        if n_pre * n_post > max_dense:
            raise CannotCompose(f"dense x dense product would be {n_post} x {n_pre} = "
                                f"{n_pre * n_post:,} weights, more than max-dense ({max_dense:,})")
        return Dense(weight=_f32(np.asarray(b.weight, np.float64) @ np.asarray(a.weight, np.float64)))
    if isinstance(a, Pool2d) and isinstance(b, Conv2d):
        fused = pool_then_conv(a, b)
        if fused is not None:
            return fused
    return _compose_explicit(a, b, pre_shape, mid_shape, post_shape, max_dense)


def apply_to_vector(conn: AnyConn, values: np.ndarray, in_shape: Shape, out_shape: Shape) -> np.ndarray:
    """``conn`` applied to the flat vector ``values`` (float64 result, flat over ``out_shape``)."""
    v = np.asarray(values, np.float64).ravel()
    if isinstance(conn, Identity):
        return v
    if isinstance(conn, OneToOne):
        return np.asarray(conn.weight, np.float64).ravel() * v
    if isinstance(conn, Dense):
        return np.asarray(conn.weight, np.float64) @ v
    pre, post, weight = conn.to_coo(in_shape, out_shape)
    return np.bincount(post, weights=weight.astype(np.float64) * v[pre], minlength=_size(out_shape))
