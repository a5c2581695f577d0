"""Connectivity composition (aedc.passes.compose): every rule against the product of explicit matrices.

``matrix(conn)`` expands a connectivity through ``to_coo`` into a dense (post, pre) float64 matrix; a
composition is correct when ``matrix(compose(a, b)) == matrix(b) @ matrix(a)``. Weights are dyadic
(k/8), so the float64 products and the one rounding to float32 are exact and the comparison is exact.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_passes_helpers import dyadic

from aedc.ir.connectivity import Conv1d, Conv2d, Dense, Identity, OneToOne, Pool2d, Shape, Sparse
from aedc.passes.compose import (
    AnyConn,
    CannotCompose,
    apply_to_vector,
    compose,
    pool_as_conv,
    pool_then_conv,
)

F32 = np.float32
BIG = 10**9


def matrix(conn: AnyConn, in_shape: Shape, out_shape: Shape) -> np.ndarray:
    pre, post, w = conn.to_coo(in_shape, out_shape)
    m = np.zeros((math.prod(out_shape), math.prod(in_shape)))
    np.add.at(m, (post, pre), w.astype(np.float64))
    return m


def check(a: AnyConn, b: AnyConn, pre: Shape, mid: Shape, post: Shape, kind: str,
          max_dense: int = BIG) -> AnyConn:
    c = compose(a, b, pre, mid, post, max_dense=max_dense)
    assert c.kind in ("dense", "sparse") if kind == "explicit" else c.kind == kind
    expected = matrix(b, mid, post) @ matrix(a, pre, mid)
    np.testing.assert_array_equal(matrix(c, pre, post), expected)
    return c


rng = np.random.default_rng(7)


def sparse(n_pre: int, n_post: int, density: float = 0.2) -> Sparse:
    pre, post = np.nonzero(rng.random((n_pre, n_post)) < density)
    return Sparse(pre=pre.astype(np.int32), post=post.astype(np.int32),
                  weight=dyadic(rng, (pre.size,)), n_pre=n_pre, n_post=n_post)


def conv2d(c_in: int, c_out: int, hw: int, k: int = 3, stride: int = 1, pad: int = 1,
           groups: int = 1) -> Conv2d:
    return Conv2d(weight=dyadic(rng, (c_out, c_in // groups, k, k)), in_shape=(c_in, hw, hw),
                  stride=(stride, stride), padding=((pad, pad), (pad, pad)), groups=groups)


def out(conn: AnyConn, in_shape: Shape) -> Shape:
    return conn.out_shape(in_shape)


def test_identity_is_neutral() -> None:
    d = Dense(weight=dyadic(rng, (5, 12)))
    assert check(Identity(), d, (3, 4), (12,), (5,), "dense") is d
    c = conv2d(2, 3, 4)
    assert check(c, Identity(), (2, 4, 4), (3, 4, 4), (48,), "conv2d") is c
    assert check(Identity(), Identity(), (6,), (2, 3), (6,), "identity") == Identity()


def test_one_to_one_products_and_scaling() -> None:
    s, t = OneToOne(weight=dyadic(rng, (6,))), OneToOne(weight=dyadic(rng, (6,)))
    check(s, t, (6,), (6,), (6,), "one_to_one")
    check(s, Dense(weight=dyadic(rng, (4, 6))), (6,), (6,), (4,), "dense")
    check(Dense(weight=dyadic(rng, (6, 3))), t, (3,), (6,), (6,), "dense")
    check(s, sparse(6, 9), (6,), (6,), (9,), "sparse")
    check(sparse(5, 6), t, (5,), (6,), (6,), "sparse")


def test_one_to_one_per_channel_keeps_convolutions() -> None:
    conv = conv2d(4, 6, 5, groups=2)
    per_in = OneToOne(weight=np.repeat(dyadic(rng, (4,)), 25))
    check(per_in, conv, (4, 5, 5), (4, 5, 5), (6, 5, 5), "conv2d")
    per_out = OneToOne(weight=np.repeat(dyadic(rng, (6,)), 25))
    check(conv, per_out, (4, 5, 5), (6, 5, 5), (6, 5, 5), "conv2d")
    pool = Pool2d(mode="avg", kernel=(2, 2), stride=(2, 2), in_shape=(3, 4, 4))
    check(OneToOne(weight=np.repeat(dyadic(rng, (3,)), 16)), pool, (3, 4, 4), (3, 4, 4), (3, 2, 2),
          "conv2d")
    c1 = Conv1d(weight=dyadic(rng, (2, 3, 3)), in_shape=(3, 7))
    check(c1, OneToOne(weight=np.repeat(dyadic(rng, (2,)), 5)), (3, 7), (2, 5), (2, 5), "conv1d")
    # not constant per channel: expanded to synapses, still exact
    check(OneToOne(weight=dyadic(rng, (100,))), conv, (4, 5, 5), (4, 5, 5), (6, 5, 5), "sparse")


def test_dense_product_and_its_limit() -> None:
    a, b = Dense(weight=dyadic(rng, (7, 5))), Dense(weight=dyadic(rng, (3, 7)))
    check(a, b, (5,), (7,), (3,), "dense")
    with pytest.raises(CannotCompose, match=r"3 x 5 = 15 weights, more than max-dense \(14\)"):
        compose(a, b, (5,), (7,), (3,), max_dense=14)


@pytest.mark.parametrize("mode", ["sum", "avg"])
def test_pool_then_conv_is_one_strided_conv(mode: str) -> None:
    pool = Pool2d(mode=mode, kernel=(2, 2), stride=(2, 2), in_shape=(16, 16, 16))
    conv = conv2d(16, 8, 8)
    fused = check(pool, conv, (16, 16, 16), (16, 8, 8), (8, 8, 8), "conv2d")
    assert isinstance(fused, Conv2d)
    assert fused.weight.shape == (8, 16, 6, 6)
    assert fused.stride == (2, 2)
    assert fused.padding == ((2, 2), (2, 2))
    assert fused.in_shape == (16, 16, 16)


def test_pool_then_conv_rule_conditions() -> None:
    conv = conv2d(2, 3, 3)
    tiled = Pool2d(kernel=(2, 2), stride=(2, 2), in_shape=(2, 6, 6))
    assert pool_then_conv(tiled, conv) is not None
    ragged = Pool2d(kernel=(2, 2), stride=(2, 2), in_shape=(2, 7, 7))  # row/col 6 is not pooled
    assert pool_then_conv(ragged, conv) is None
    check(ragged, conv, (2, 7, 7), (2, 3, 3), (3, 3, 3), "explicit")
    overlapping = Pool2d(kernel=(3, 3), stride=(2, 2), in_shape=(2, 7, 7))
    assert pool_then_conv(overlapping, conv) is None
    check(overlapping, conv, (2, 7, 7), (2, 3, 3), (3, 3, 3), "explicit")
    padded = Pool2d(kernel=(2, 2), stride=(2, 2), padding=((1, 1), (1, 1)), in_shape=(2, 4, 4))
    assert pool_then_conv(padded, conv) is None
    dilated = conv.evolve(dilation=(2, 2), padding=((2, 2), (2, 2)))
    assert pool_then_conv(tiled, dilated) is None


@settings(max_examples=60, deadline=None)
@given(c=st.integers(1, 3), groups=st.sampled_from([1, 2]), kh=st.integers(1, 3), kw=st.integers(1, 3),
       ph=st.integers(1, 4), pw=st.integers(1, 4), ck=st.integers(1, 3), stride=st.integers(1, 2),
       pads=st.tuples(*[st.integers(0, 2)] * 4), mode=st.sampled_from(["sum", "avg"]),
       seed=st.integers(0, 2**16))
def test_pool_then_conv_property(c: int, groups: int, kh: int, kw: int, ph: int, pw: int, ck: int,
                                 stride: int, pads: tuple[int, int, int, int], mode: str,
                                 seed: int) -> None:
    """Any tiling pool (kernel = stride, sizes k·n) then any conv: the fused conv equals the product."""
    if mode == "avg" and (kh * kw) & (kh * kw - 1):
        kh = kw = 2  # a power-of-two area keeps 1/area exact
    r = np.random.default_rng(seed)
    c_in = c * groups
    pool = Pool2d(mode=mode, kernel=(kh, kw), stride=(kh, kw), in_shape=(c_in, ph * kh, pw * kw))
    mid = pool.out_shape(pool.in_shape)
    conv = Conv2d(weight=dyadic(r, (2 * groups, c, ck, ck)), in_shape=mid, stride=(stride, stride),
                  padding=((pads[0], pads[1]), (pads[2], pads[3])), groups=groups)
    post = conv.out_shape(mid)
    if min(post) <= 0:
        return
    fused = check(pool, conv, pool.in_shape, mid, post, "conv2d")
    assert fused.out_shape(pool.in_shape) == post


def test_explicit_composition_dense_or_sparse_by_density() -> None:
    pool = Pool2d(kernel=(2, 2), stride=(2, 2), in_shape=(8, 8, 8))
    affine = Dense(weight=dyadic(rng, (256, 128)))
    fused = check(pool, affine, (8, 8, 8), (8, 4, 4), (256,), "dense")
    assert fused.weight.shape == (256, 512)  # type: ignore[union-attr]
    check(sparse(10, 12, 0.1), sparse(12, 9, 0.1), (10,), (12,), (9,), "sparse")
    c1 = Conv1d(weight=dyadic(rng, (2, 2, 3)), in_shape=(2, 9), stride=(2,))
    c2 = Conv1d(weight=dyadic(rng, (3, 2, 2)), in_shape=(2, 4))
    check(c1, c2, (2, 9), (2, 4), (3, 3), "dense")
    conv = conv2d(2, 2, 6, stride=1, pad=1)
    check(conv, Pool2d(kernel=(2, 2), stride=(2, 2), in_shape=(2, 6, 6)), (2, 6, 6), (2, 6, 6),
          (2, 3, 3), "sparse")


def test_explicit_composition_limits() -> None:
    a, b = sparse(40, 30), sparse(30, 50)
    with pytest.raises(CannotCompose, match=r"40 x 50 = 2,000 pre/post pairs exceed max-dense \(1,999\)"):
        compose(a, b, (40,), (30,), (50,), max_dense=1999)
    # many (pre, mid, post) paths but small matrices: the dense fallback gives the same result
    d1, d2 = Dense(weight=dyadic(rng, (30, 20))), sparse(30, 25, 0.9)
    c = check(d1, d2, (20,), (30,), (25,), "dense", max_dense=2000)
    assert c == compose(d1, d2, (20,), (30,), (25,), max_dense=BIG)


def test_exact_zero_sums_are_dropped() -> None:
    a = Dense(weight=np.array([[1.0, 0.0], [1.0, 0.0]], F32))
    b = Sparse(pre=np.array([0, 1], np.int32), post=np.array([0, 0], np.int32),
               weight=np.array([0.5, -0.5], F32), n_pre=2, n_post=3)
    c = compose(a, b, (2,), (2,), (3,), max_dense=BIG)
    assert isinstance(c, Sparse)
    assert c.pre.size == 0


def test_pool_as_conv_and_apply_to_vector() -> None:
    pool = Pool2d(mode="avg", kernel=(2, 2), stride=(2, 2), in_shape=(3, 4, 4))
    np.testing.assert_array_equal(matrix(pool_as_conv(pool), (3, 4, 4), (3, 2, 2)),
                                  matrix(pool, (3, 4, 4), (3, 2, 2)))
    v = dyadic(rng, (48,))
    cases: list[tuple[AnyConn, Shape]] = [
        (pool, (3, 2, 2)), (Identity(), (48,)), (OneToOne(weight=dyadic(rng, (48,))), (48,)),
        (Dense(weight=dyadic(rng, (5, 48))), (5,))]
    for conn, shape in cases:
        np.testing.assert_array_equal(apply_to_vector(conn, v, (3, 4, 4), shape),
                                      matrix(conn, (3, 4, 4), shape) @ v.astype(np.float64))
