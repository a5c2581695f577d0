"""Connectivity kinds: ``to_coo`` against independent brute-force loops, shape rules, 'same' padding.

The oracles below are direct convolutions/pools written with explicit Python loops over an explicitly
zero-padded input; they share no code with :mod:`aedc.ir.connectivity`. Weights and inputs are small
dyadic rationals (k/8), so every sum is exact and results are compared for equality.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from strategies import conv1d_conns, conv2d_conns, graphs, pool2d_conns

from aedc.ir import Conv1d, Conv2d, Dense, Graph, Identity, OneToOne, Pool2d, Sparse
from aedc.ir.connectivity import conv_out_len, same_padding, synapse_count

# ---------------------------------------------------------------------------------------------------
# brute-force oracles


def _padded(x: np.ndarray, pads: list[tuple[int, int]]) -> list[Any]:
    """Zero-pad the spatial axes of ``x`` (channels first) by hand; returns nested lists."""
    c, *sp = x.shape
    big = np.zeros((c, *[n + a + b for n, (a, b) in zip(sp, pads, strict=True)]))
    if len(sp) == 1:
        big[:, pads[0][0]:pads[0][0] + sp[0]] = x
    else:
        big[:, pads[0][0]:pads[0][0] + sp[0], pads[1][0]:pads[1][0] + sp[1]] = x
    return big.tolist()  # type: ignore[no-any-return]


def _n_windows(padded_len: int, k: int, stride: int, dilation: int) -> int:
    """How many windows of extent dilation*(k-1)+1 fit, by counting them one by one."""
    count = 0
    while count * stride + dilation * (k - 1) < padded_len:
        count += 1
    return count


def brute_conv2d(x: np.ndarray, w: np.ndarray, stride: tuple[int, int],
                 padding: tuple[tuple[int, int], tuple[int, int]], dilation: tuple[int, int],
                 groups: int) -> tuple[np.ndarray, int]:
    """Direct grouped 2-d convolution; returns (output, number of taps that read a real input)."""
    _, h, wd = x.shape
    c_out, c_in_g, kh, kw = w.shape
    xp = _padded(x, list(padding))
    hp, wp = len(xp[0]), len(xp[0][0])
    oh, ow = _n_windows(hp, kh, stride[0], dilation[0]), _n_windows(wp, kw, stride[1], dilation[1])
    wl = w.tolist()
    out = np.zeros((c_out, oh, ow))
    taps = 0
    per_group = c_out // groups
    for co in range(c_out):
        first_ci = (co // per_group) * c_in_g
        for oy in range(oh):
            for ox in range(ow):
                acc = 0.0
                for ci in range(c_in_g):
                    for ky in range(kh):
                        for kx in range(kw):
                            py = oy * stride[0] + ky * dilation[0]
                            px = ox * stride[1] + kx * dilation[1]
                            acc += xp[first_ci + ci][py][px] * wl[co][ci][ky][kx]
                            if padding[0][0] <= py < padding[0][0] + h \
                                    and padding[1][0] <= px < padding[1][0] + wd:
                                taps += 1
                out[co, oy, ox] = acc
    return out, taps


def brute_conv1d(x: np.ndarray, w: np.ndarray, stride: int, padding: tuple[int, int], dilation: int,
                 groups: int) -> tuple[np.ndarray, int]:
    _, n = x.shape
    c_out, c_in_g, k = w.shape
    xp = _padded(x, [padding])
    o = _n_windows(len(xp[0]), k, stride, dilation)
    wl = w.tolist()
    out = np.zeros((c_out, o))
    taps = 0
    per_group = c_out // groups
    for co in range(c_out):
        first_ci = (co // per_group) * c_in_g
        for oi in range(o):
            acc = 0.0
            for ci in range(c_in_g):
                for kk in range(k):
                    p = oi * stride + kk * dilation
                    acc += xp[first_ci + ci][p] * wl[co][ci][kk]
                    taps += padding[0] <= p < padding[0] + n
            out[co, oi] = acc
    return out, taps


def brute_pool2d(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
                 padding: tuple[tuple[int, int], tuple[int, int]], weight: float) -> np.ndarray:
    """Sum pooling times ``weight`` per element (avg pooling counts padding: weight = 1/area)."""
    c = x.shape[0]
    xp = _padded(x, list(padding))
    oh = _n_windows(len(xp[0]), kernel[0], stride[0], 1)
    ow = _n_windows(len(xp[0][0]), kernel[1], stride[1], 1)
    out = np.zeros((c, oh, ow))
    for ch in range(c):
        for oy in range(oh):
            for ox in range(ow):
                acc = 0.0
                for ky in range(kernel[0]):
                    for kx in range(kernel[1]):
                        acc += xp[ch][oy * stride[0] + ky][ox * stride[1] + kx] * weight
                out[ch, oy, ox] = acc
    return out


def apply_coo(coo: tuple[np.ndarray, np.ndarray, np.ndarray], x: np.ndarray, n_post: int) -> np.ndarray:
    """y[post] += w * x[pre] over the synapse list (float64: exact for k/8 values)."""
    pre, post, w = coo
    y = np.zeros(n_post)
    np.add.at(y, post, w.astype(np.float64) * x.ravel()[pre])
    return y


def assert_canonical(coo: tuple[np.ndarray, np.ndarray, np.ndarray], n_pre: int, n_post: int) -> None:
    """Sorted by (pre, post) strictly (no duplicates), indices in range, weights float32."""
    pre, post, w = coo
    assert pre.shape == post.shape == w.shape
    assert pre.ndim == 1
    assert w.dtype == np.float32
    if pre.size:
        assert pre.min() >= 0
        assert pre.max() < n_pre
        assert post.min() >= 0
        assert post.max() < n_post
        key = pre.astype(np.int64) * n_post + post
        assert np.all(np.diff(key) > 0)


def _dyadic(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return (rng.integers(-16, 17, size=shape) / 8).astype(np.float32)


pads = st.tuples(st.integers(0, 3), st.integers(0, 3))


@st.composite
def conv2d_cases(draw: st.DrawFn) -> tuple[Conv2d, int]:
    """Raw parameters drawn here (wider than the shared strategy: stride 3, kernel 4, padding 3)."""
    groups = draw(st.integers(1, 3))
    c_in = groups * draw(st.integers(1, 2))
    c_out = groups * draw(st.integers(1, 2))
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(pads), draw(pads))
    seed = draw(st.integers(0, 2**32 - 1))
    weight = _dyadic(np.random.default_rng(seed), (c_out, c_in // groups, kh, kw))
    conv = Conv2d(weight=weight, in_shape=(c_in, h, w), stride=stride, padding=padding,
                  dilation=dilation, groups=groups)
    assume(min(conv.out_shape(conv.in_shape)) >= 1)
    return conv, seed


def _check_conv2d(conv: Conv2d, seed: int) -> None:
    in_shape = conv.in_shape
    out_shape = conv.out_shape(in_shape)
    n_pre, n_post = math.prod(in_shape), math.prod(out_shape)
    coo = conv.to_coo(in_shape, out_shape)
    assert_canonical(coo, n_pre, n_post)
    rng = np.random.default_rng(seed + 1)
    for _ in range(2):
        x = _dyadic(rng, in_shape).astype(np.float64)
        want, taps = brute_conv2d(x, np.asarray(conv.weight, np.float64), conv.stride, conv.padding,
                                  conv.dilation, conv.groups)
        assert want.shape == out_shape
        np.testing.assert_array_equal(apply_coo(coo, x, n_post), want.ravel())
    assert coo[0].size == taps  # one synapse per tap that reads a real (unpadded) input
    assert synapse_count(conv, in_shape, out_shape) == taps


@settings(max_examples=120, deadline=None)
@given(conv2d_cases())
def test_conv2d_coo_equals_direct_convolution(case: tuple[Conv2d, int]) -> None:
    _check_conv2d(*case)


@settings(max_examples=40, deadline=None)
@given(conv2d_conns(), st.integers(0, 1000))
def test_shared_conv2d_strategy_matches_direct_convolution(conv: Conv2d, seed: int) -> None:
    _check_conv2d(conv, seed)


@st.composite
def conv1d_cases(draw: st.DrawFn) -> tuple[Conv1d, int]:
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 3))
    n, k = draw(st.integers(1, 12)), draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**32 - 1))
    conv = Conv1d(weight=_dyadic(np.random.default_rng(seed), (c_out, c_in // groups, k)),
                  in_shape=(c_in, n), stride=(draw(st.integers(1, 4)),), padding=(draw(pads),),
                  dilation=(draw(st.integers(1, 3)),), groups=groups)
    assume(conv.out_shape(conv.in_shape)[1] >= 1)
    return conv, seed


@settings(max_examples=100, deadline=None)
@given(st.one_of(conv1d_cases(), st.tuples(conv1d_conns(), st.integers(0, 1000))))
def test_conv1d_coo_equals_direct_convolution(case: tuple[Conv1d, int]) -> None:
    conv, seed = case
    out_shape = conv.out_shape(conv.in_shape)
    n_pre, n_post = math.prod(conv.in_shape), math.prod(out_shape)
    coo = conv.to_coo(conv.in_shape, out_shape)
    assert_canonical(coo, n_pre, n_post)
    x = _dyadic(np.random.default_rng(seed), conv.in_shape).astype(np.float64)
    want, taps = brute_conv1d(x, np.asarray(conv.weight, np.float64), conv.stride[0],
                              conv.padding[0], conv.dilation[0], conv.groups)
    assert want.shape == out_shape
    np.testing.assert_array_equal(apply_coo(coo, x, n_post), want.ravel())
    assert coo[0].size == taps


@st.composite
def pool2d_cases(draw: st.DrawFn) -> tuple[Pool2d, int]:
    c, h, w = draw(st.integers(1, 3)), draw(st.integers(1, 7)), draw(st.integers(1, 7))
    pool = Pool2d(mode=draw(st.sampled_from(["sum", "avg"])),
                  kernel=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
                  stride=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
                  padding=((draw(st.integers(0, 2)), draw(st.integers(0, 2))),
                           (draw(st.integers(0, 2)), draw(st.integers(0, 2)))),
                  in_shape=(c, h, w))
    assume(min(pool.out_shape(pool.in_shape)) >= 1)
    return pool, draw(st.integers(0, 2**32 - 1))


@settings(max_examples=100, deadline=None)
@given(st.one_of(pool2d_cases(), st.tuples(pool2d_conns(), st.integers(0, 1000))))
def test_pool2d_coo_equals_direct_pooling(case: tuple[Pool2d, int]) -> None:
    pool, seed = case
    out_shape = pool.out_shape(pool.in_shape)
    n_pre, n_post = math.prod(pool.in_shape), math.prod(out_shape)
    coo = pool.to_coo(pool.in_shape, out_shape)
    assert_canonical(coo, n_pre, n_post)
    area = pool.kernel[0] * pool.kernel[1]
    weight = 1.0 if pool.mode == "sum" else float(np.float32(1.0 / area))
    assert np.all(coo[2] == np.float32(weight))
    x = _dyadic(np.random.default_rng(seed), pool.in_shape).astype(np.float64)
    want = brute_pool2d(x, pool.kernel, pool.stride, pool.padding, weight)
    assert want.shape == out_shape
    np.testing.assert_array_equal(apply_coo(coo, x, n_post), want.ravel())


def test_oracle_can_fail_on_swapped_asymmetric_padding() -> None:
    """The brute-force comparison sees a conv whose padding sides are swapped."""
    w = np.arange(1, 10, dtype=np.float32).reshape(1, 1, 3, 3) / 8
    good = Conv2d(weight=w, in_shape=(1, 5, 5), padding=((0, 2), (1, 0)))
    bad = good.evolve(padding=((2, 0), (0, 1)))
    assert good.out_shape(good.in_shape) == bad.out_shape(bad.in_shape) == (1, 5, 4)
    x = np.arange(25, dtype=np.float64).reshape(1, 5, 5)
    want, _ = brute_conv2d(x, w.astype(np.float64), (1, 1), good.padding, (1, 1), 1)
    np.testing.assert_array_equal(apply_coo(good.to_coo((1, 5, 5), (1, 5, 4)), x, 20), want.ravel())
    assert not np.array_equal(apply_coo(bad.to_coo((1, 5, 5), (1, 5, 4)), x, 20), want.ravel())


# ---------------------------------------------------------------------------------------------------
# hand-computed values


def test_conv2d_known_values_stride2_padding_dilation_groups() -> None:
    # 2 groups, each output channel sees one input channel; 3x3 kernel of ones, dilation 2, stride 2
    x = np.arange(2 * 5 * 5, dtype=np.float64).reshape(2, 5, 5)
    w = np.ones((2, 1, 3, 3), np.float32)
    w[1] *= 2
    conv = Conv2d(weight=w, in_shape=(2, 5, 5), stride=(2, 2), padding=((1, 1), (1, 1)),
                  dilation=(2, 2), groups=2)
    assert conv.out_shape((2, 5, 5)) == (2, 2, 2)
    y = apply_coo(conv.to_coo((2, 5, 5), (2, 2, 2)), x, 8).reshape(2, 2, 2)
    # out (0,0,0): taps at padded rows/cols {0,2,4} → input rows/cols {-1,1,3}: rows 1,3 × cols 1,3
    assert y[0, 0, 0] == x[0, 1, 1] + x[0, 1, 3] + x[0, 3, 1] + x[0, 3, 3]
    assert y[0, 0, 0] == 6 + 8 + 16 + 18
    assert y[1, 1, 1] == 2 * sum(x[1, r, c] for r in (1, 3) for c in (1, 3))  # rows/cols 1,3,5→1,3


def test_same_padding_stride_1() -> None:
    assert same_padding(10, 3, 1, 1) == (1, 1)
    assert same_padding(10, 4, 1, 1) == (1, 2)   # odd total: extra at the end
    assert same_padding(10, 1, 1, 1) == (0, 0)
    assert same_padding(10, 3, 1, 2) == (2, 2)   # dilated extent 5
    assert same_padding(7, 5, 1, 1) == (2, 2)
    for n, k in [(10, 3), (10, 4), (7, 5), (1, 3)]:
        assert conv_out_len(n, k, 1, same_padding(n, k, 1, 1), 1) == n


def test_same_padding_stride_2() -> None:
    pad = same_padding(34, 5, 2, 1)
    assert pad == (1, 2)
    assert conv_out_len(34, 5, 2, pad, 1) == 17
    assert same_padding(7, 3, 2, 1) == (1, 1)    # out 4: (4-1)*2 + 3 - 7 = 2
    assert conv_out_len(7, 3, 2, (1, 1), 1) == 4
    assert same_padding(8, 3, 2, 1) == (0, 1)    # out 4: 6 + 3 - 8 = 1
    assert same_padding(5, 1, 2, 1) == (0, 0)    # out 3 without padding
    assert same_padding(28, 3, 2, 1) == (0, 1)
    assert conv_out_len(28, 3, 2, (0, 1), 1) == 14


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 64), st.integers(1, 7), st.integers(1, 4), st.integers(1, 3))
def test_same_padding_gives_ceil_n_over_stride(n: int, k: int, s: int, d: int) -> None:
    pad = same_padding(n, k, s, d)
    assert pad[0] >= 0
    assert pad[1] - pad[0] in (0, 1)
    assert conv_out_len(n, k, s, pad, d) == -(-n // s)
    assert _n_windows(n + sum(pad), k, s, d) == -(-n // s)  # the loop oracle agrees


def test_conv_out_len_known_values() -> None:
    assert conv_out_len(28, 5, 1, (0, 0), 1) == 24
    assert conv_out_len(28, 5, 2, (2, 2), 1) == 14
    assert conv_out_len(32, 3, 1, (1, 1), 2) == 30
    assert conv_out_len(7, 3, 3, (0, 1), 1) == 2


def test_pool2d_out_shape_and_avg_weight() -> None:
    pool = Pool2d(mode="avg", kernel=(3, 3), stride=(2, 2), padding=((1, 0), (0, 1)),
                  in_shape=(2, 6, 5))
    assert pool.out_shape((2, 6, 5)) == (2, 3, 2)
    assert pool.weight_value() == float(np.float32(1 / 9))
    assert Pool2d(kernel=(2, 2), stride=(2, 2), in_shape=(1, 4, 4)).weight_value() == 1.0
    assert pool.evolve(mode="sum").weight_value() == 1.0


# ---------------------------------------------------------------------------------------------------
# dense, sparse, one-to-one, identity


def test_dense_coo_is_transposed_and_sorted_by_pre_then_post() -> None:
    conn = Dense(weight=np.array([[1, 2, 3], [4, 5, 6]], np.float32))  # (post=2, pre=3)
    pre, post, w = conn.to_coo((3,), (2,))
    assert pre.tolist() == [0, 0, 1, 1, 2, 2]
    assert post.tolist() == [0, 1, 0, 1, 0, 1]
    assert w.tolist() == [1, 4, 2, 5, 3, 6]
    assert conn.out_shape((3,)) == (2,)
    assert conn.in_size() == 3


def test_sparse_coo_is_its_list() -> None:
    conn = Sparse(pre=np.array([0, 0, 2], np.int32), post=np.array([1, 3, 0], np.int32),
                  weight=np.array([0.5, -1, 2], np.float32), n_pre=3, n_post=4)
    pre, post, w = conn.to_coo((3,), (4,))
    assert pre.tolist() == [0, 0, 2]
    assert post.tolist() == [1, 3, 0]
    assert w.tolist() == [0.5, -1, 2]
    assert pre.dtype == post.dtype == np.int64
    assert conn.out_shape((3,)) == (4,)


def test_one_to_one_and_identity_coo() -> None:
    pre, post, w = OneToOne(weight=np.array([[1, 2], [3, 4]], np.float32)).to_coo((2, 2), (4,))
    assert pre.tolist() == post.tolist() == [0, 1, 2, 3]
    assert w.tolist() == [1, 2, 3, 4]
    pre, post, w = Identity().to_coo((2, 3), (6,))
    assert pre.tolist() == post.tolist() == list(range(6))
    assert w.dtype == np.float32
    assert w.tolist() == [1.0] * 6
    assert Identity().out_shape((2, 3)) == (2, 3)
    assert Identity().in_size() is None


@settings(max_examples=60, deadline=None)
@given(graphs())
def test_every_projection_of_a_random_graph_has_a_canonical_coo(graph: Graph) -> None:
    pops = graph.pop_map()
    for proj in graph.projections:
        pre, post = pops[proj.pre], pops[proj.post]
        coo = proj.conn.to_coo(pre.shape, post.shape)
        assert_canonical(coo, pre.size, post.size)
        assert graph.synapses(proj) == coo[0].size
        dense = np.zeros((post.size, pre.size), np.float32)
        dense[coo[1], coo[0]] = coo[2]
        if isinstance(proj.conn, Dense):
            np.testing.assert_array_equal(dense, proj.conn.weight)
        elif isinstance(proj.conn, OneToOne | Identity):
            assert coo[0].tolist() == coo[1].tolist() == list(range(pre.size))


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_conv_synapse_count_without_padding(groups: int) -> None:
    # no padding, stride 1: every tap is real → C_out * C_in/groups * k*k * out positions
    conv = Conv2d(weight=np.ones((4, 4 // groups, 3, 3), np.float32), in_shape=(4, 6, 6),
                  groups=groups)
    assert synapse_count(conv, (4, 6, 6), (4, 4, 4)) == 4 * (4 // groups) * 9 * 16


@settings(max_examples=150, deadline=None)
@given(c_in=st.integers(1, 4), groups=st.integers(1, 2), c_out_g=st.integers(1, 3),
       h=st.integers(1, 9), w=st.integers(1, 9), kh=st.integers(1, 4), kw=st.integers(1, 4),
       sh=st.integers(1, 3), sw=st.integers(1, 3), dh=st.integers(1, 2), dw=st.integers(1, 2),
       ph=st.tuples(st.integers(0, 3), st.integers(0, 3)), pw=st.tuples(st.integers(0, 3), st.integers(0, 3)),
       pool=st.booleans())
def test_synapse_count_equals_the_expanded_list(c_in: int, groups: int, c_out_g: int, h: int, w: int,
                                               kh: int, kw: int, sh: int, sw: int, dh: int, dw: int,
                                               ph: tuple[int, int], pw: tuple[int, int], pool: bool) -> None:
    """The count summaries use is computed per axis, never by expanding the synapse list: it must equal
    the list's length for every geometry (padding, stride, dilation, groups; pooling too)."""
    assume(conv_out_len(h, kh, sh, ph, dh) > 0 and conv_out_len(w, kw, sw, pw, dw) > 0)
    if pool:
        assume(dh == dw == 1)
        conn: Conv2d | Pool2d = Pool2d(kernel=(kh, kw), stride=(sh, sw), padding=(ph, pw),
                                       in_shape=(c_in, h, w))
    else:
        c = c_in * groups
        weight = np.ones((c_out_g * groups, c_in, kh, kw), np.float32)
        conn = Conv2d(weight=weight, in_shape=(c, h, w), stride=(sh, sw), padding=(ph, pw),
                      dilation=(dh, dw), groups=groups)
    pre_shape = conn.in_shape
    post_shape = conn.out_shape(pre_shape)
    assert synapse_count(conn, pre_shape, post_shape) == conn.to_coo(pre_shape, post_shape)[0].size
