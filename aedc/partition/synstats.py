"""Synapse statistics of a projection restricted to a postsynaptic (and presynaptic) neuron range.

The memory model needs, for a slice ``post lo..hi`` (and, for a synapse PE, a presynaptic range), how
many synapses it holds, how many presynaptic neurons have a non-empty row into it, the longest row, and
which presynaptic neurons those are (for master-population-table entries and traffic). Small
projections expand to their canonical synapse list once (``to_coo``) and answer exactly; dense,
one-to-one and identity kinds, and convolutions too large to expand, are answered from their structure
without building the list (conv answers are upper bounds: every tap of the receptive window counts as a
row, whole input rows are assumed touched).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from aedc.ir.connectivity import Conv1d, Conv2d, Dense, Identity, OneToOne, Pool2d, Sparse, conv_out_len
from aedc.ir.graph import Graph, Projection

COO_LIMIT = 4_000_000
"""Largest synapse count expanded to an explicit list; bigger convolutions use the structural answer."""
WID_LIMIT = 16_000_000
"""Projections with at most this many stored weights keep an int32 weight id per synapse (64 MB at the
limit) so that range queries count distinct weights without sorting."""


@dataclass(frozen=True)
class RangeStats:
    """Synapses of one projection onto a post range (optionally from a pre range only)."""

    synapses: int
    rows: int  # presynaptic neurons with at least one synapse into the range
    max_row: int  # synapses of the longest such row
    pre_min: int  # smallest / largest presynaptic index with a row (pre_min > pre_max: none)
    pre_max: int
    mixed_sign: bool  # both positive and negative weights (two receptor types in the rows format)
    distinct: int = 0  # distinct non-zero weights (an upper bound for large convolutions)


@dataclass(frozen=True)
class _Coo:
    pre: np.ndarray  # sorted by post, then pre
    post: np.ndarray
    weight: np.ndarray


class ProjectionStats:
    """Answers range queries for one projection of ``graph``."""

    def __init__(self, graph: Graph, proj: Projection) -> None:
        pops = graph.pop_map()
        self.proj = proj
        self.pre_shape = pops[proj.pre].shape
        self.post_shape = pops[proj.post].shape
        self.n_pre = pops[proj.pre].size
        self.n_post = pops[proj.post].size
        conn = proj.conn
        self.conn = conn
        self._coo: _Coo | None = None
        self._conv_prefix: np.ndarray | None = None
        if isinstance(conn, Sparse) or (isinstance(conn, Conv2d | Conv1d | Pool2d)
                                        and self._conv_synapse_estimate() <= COO_LIMIT):
            pre, post, w = conn.to_coo(self.pre_shape, self.post_shape)
            keep = w != 0
            pre, post, w = pre[keep], post[keep], w[keep]
            order = np.lexsort((pre, post))
            self._coo = _Coo(pre[order], post[order], w[order])
        elif isinstance(conn, Conv2d | Conv1d | Pool2d):
            self._conv_prefix = self._conv_fanin_prefix()
        self.weights = self._weight_values()
        # a range's distinct weights without sorting its weights on every query (the slicer asks
        # thousands of times): each weight's rank among the distinct ones, counted through a bitmap
        self._wid: np.ndarray | None = None
        w_all = (self._coo.weight if self._coo is not None
                 else np.asarray(conn.weight, np.float32) if isinstance(conn, Dense) else None)
        if w_all is not None and w_all.size <= WID_LIMIT:
            self._wid = np.searchsorted(self.weights, w_all).astype(np.int32)  # zeros: any id, unused

    # ---- weights --------------------------------------------------------------------------------------

    def _weight_values(self) -> np.ndarray:
        """The distinct non-zero weights (float32), for the choice of weight type."""
        c = self.conn
        if isinstance(c, Identity):
            return np.ones(1, np.float32)
        if isinstance(c, Pool2d):
            return np.array([c.weight_value()], np.float32)
        w = np.asarray(c.weight, np.float32).ravel()
        return np.unique(w[w != 0])

    @cached_property
    def mixed_sign(self) -> bool:
        return bool((self.weights > 0).any() and (self.weights < 0).any())

    # ---- conv structure -------------------------------------------------------------------------------

    def _conv_geometry(self) -> tuple[int, int, list[tuple[int, int, int, int, int, int]]]:
        """(c_in_g, c_out_g, per spatial axis (n_in, k, stride, pad0, dilation, n_out))."""
        c = self.conn
        assert isinstance(c, Conv2d | Conv1d | Pool2d)
        if isinstance(c, Pool2d):
            kernel: tuple[int, ...] = c.kernel
            stride: tuple[int, ...] = c.stride
            dilation: tuple[int, ...] = (1, 1)
            c_in_g, c_out_g = 1, 1
        else:
            kernel = tuple(int(k) for k in c.weight.shape[2:])
            stride, dilation = c.stride, c.dilation
            c_in_g = int(c.weight.shape[1])
            c_out_g = int(c.weight.shape[0]) // c.groups
        axes = []
        for i, k in enumerate(kernel):
            n = int(c.in_shape[1 + i])
            axes.append((n, k, stride[i], c.padding[i][0], dilation[i],
                         conv_out_len(n, k, stride[i], c.padding[i], dilation[i])))
        return c_in_g, c_out_g, axes

    def _conv_synapse_estimate(self) -> int:
        c_in_g, _, axes = self._conv_geometry()
        k = int(np.prod([a[1] for a in axes]))
        return self.n_post * c_in_g * k

    def _axis_valid(self, n: int, k: int, s: int, p0: int, d: int, n_out: int) -> np.ndarray:
        o = np.arange(n_out)[:, None]
        pos = o * s - p0 + np.arange(k)[None, :] * d
        valid: np.ndarray = ((pos >= 0) & (pos < n)).sum(axis=1)
        return valid

    def _conv_fanin_prefix(self) -> np.ndarray:
        c_in_g, _, axes = self._conv_geometry()
        per_pos = np.ones(1, np.int64)
        for a in axes:
            per_pos = np.multiply.outer(per_pos, self._axis_valid(*a[:5], a[5])).ravel()
        n_out_c = self.n_post // per_pos.size
        fan = np.tile(per_pos * c_in_g, n_out_c)
        return np.concatenate([[0], np.cumsum(fan)])

    # ---- queries --------------------------------------------------------------------------------------

    def range(self, lo: int, hi: int, pre_lo: int = 0, pre_hi: int | None = None) -> RangeStats:
        """Statistics of the synapses onto post ``lo..hi`` from pre ``pre_lo..pre_hi``."""
        pre_hi = self.n_pre if pre_hi is None else pre_hi
        c = self.conn
        mixed = self.mixed_sign
        n = hi - lo
        if self._coo is not None:
            a, b = np.searchsorted(self._coo.post, [lo, hi])
            pre, w = self._coo.pre[a:b], self._coo.weight[a:b]
            ids = self._wid[a:b] if self._wid is not None else None
            if pre_lo > 0 or pre_hi < self.n_pre:
                inside = (pre >= pre_lo) & (pre < pre_hi)
                pre, w = pre[inside], w[inside]
                ids = ids[inside] if ids is not None else None
            if pre.size == 0:
                return RangeStats(0, 0, 0, 1, 0, mixed)
            counts = np.bincount(pre - pre.min())
            distinct = self._distinct(ids) if ids is not None else int(np.unique(w).size)
            return RangeStats(int(pre.size), int(np.count_nonzero(counts)), int(counts.max()),
                              int(pre.min()), int(pre.max()), mixed, distinct)
        if isinstance(c, Dense):
            m = min(pre_hi, self.n_pre) - pre_lo
            if m <= 0:
                return RangeStats(0, 0, 0, 1, 0, mixed)
            block = np.asarray(c.weight[lo:hi, pre_lo:pre_hi])
            nz = np.count_nonzero(block, axis=0)
            rows = int(np.count_nonzero(nz))
            idx = np.flatnonzero(nz)
            if rows == 0:
                return RangeStats(0, 0, 0, 1, 0, mixed)
            distinct = (self._distinct(self._wid[lo:hi, pre_lo:pre_hi][block != 0]) if self._wid is not None
                        else int(np.unique(block[block != 0]).size))
            return RangeStats(int(nz.sum()), rows, int(nz.max()), pre_lo + int(idx[0]),
                              pre_lo + int(idx[-1]), mixed, distinct)
        if isinstance(c, OneToOne | Identity):
            a, b = max(lo, pre_lo), min(hi, pre_hi)
            nzw: int
            if isinstance(c, OneToOne) and b > a:
                nzw = int(np.count_nonzero(np.asarray(c.weight).ravel()[a:b]))
            else:
                nzw = max(b - a, 0)
            if nzw == 0:
                return RangeStats(0, 0, 0, 1, 0, mixed)
            distinct = (int(np.unique(np.asarray(c.weight).ravel()[a:b]).size)
                        if isinstance(c, OneToOne) else 1)
            return RangeStats(int(nzw), int(nzw), 1, a, b - 1, mixed, distinct)
        # large convolution / pool: structural upper bounds
        assert self._conv_prefix is not None
        syn = int(self._conv_prefix[hi] - self._conv_prefix[lo])
        _, c_out_g, axes = self._conv_geometry()
        spatial_out = int(np.prod([a[5] for a in axes]))
        co_lo, co_hi = lo // spatial_out, (hi - 1) // spatial_out
        g_lo, g_hi = co_lo // c_out_g, co_hi // c_out_g
        ci_lo, ci_hi, in_lo, in_hi, inner_in, spatial_in = self._conv_window(lo, hi)
        rows_per_ch = max(in_hi - in_lo + 1, 0) * inner_in
        pmin = ci_lo * spatial_in + in_lo * inner_in
        pmax = (ci_hi - 1) * spatial_in + (in_hi + 1) * inner_in - 1
        pmin, pmax = max(pmin, pre_lo), min(pmax, pre_hi - 1)
        if pmax < pmin or syn == 0:
            return RangeStats(0, 0, 0, 1, 0, mixed)
        rows = min((ci_hi - ci_lo) * rows_per_ch, pmax - pmin + 1)
        taps = int(np.prod([-(-a[1] // a[2]) for a in axes]))
        max_row = min((co_hi - co_lo + 1), c_out_g * (g_hi - g_lo + 1)) * taps
        max_row = min(max_row, n)
        frac = (pmax - pmin + 1) / max(self.n_pre, 1) if (pre_lo > 0 or pre_hi < self.n_pre) else 1.0
        return RangeStats(int(np.ceil(syn * frac)), rows, max_row, pmin, pmax, mixed,
                          int(self.weights.size))

    def _conv_window(self, lo: int, hi: int) -> tuple[int, int, int, int, int, int]:
        """The input a large convolution's post ``lo..hi`` reads: channels ``ci_lo..ci_hi`` (half-open),
        rows ``in_lo..in_hi`` of the first spatial axis in each, the neurons per such row and per channel."""
        c_in_g, c_out_g, axes = self._conv_geometry()
        spatial_out = int(np.prod([a[5] for a in axes]))
        spatial_in = int(np.prod([a[0] for a in axes]))
        co_lo, co_hi = lo // spatial_out, (hi - 1) // spatial_out
        ci_lo, ci_hi = (co_lo // c_out_g) * c_in_g, (co_hi // c_out_g + 1) * c_in_g
        # first axis: rows of the input the output rows need
        n0, k0, s0, p0, d0, o0 = axes[0]
        inner_out = spatial_out // o0
        if co_lo == co_hi:
            r_lo, r_hi = (lo % spatial_out) // inner_out, ((hi - 1) % spatial_out) // inner_out
        else:
            r_lo, r_hi = 0, o0 - 1
        in_lo = max(r_lo * s0 - p0, 0)
        in_hi = min(r_hi * s0 - p0 + (k0 - 1) * d0, n0 - 1)
        return ci_lo, ci_hi, in_lo, in_hi, spatial_in // n0, spatial_in

    def blocks(self, lo: int, hi: int, bounds: np.ndarray, pre_lo: int = 0,
               pre_hi: int | None = None) -> np.ndarray:
        """Indices ``k`` of the presynaptic ranges ``bounds[k]..bounds[k+1]`` that hold a synapse onto
        post ``lo..hi`` (from pre ``pre_lo..pre_hi``): exact for a listed projection; for a large
        convolution the ranges its receptive rows touch in each input channel it reads (not the hull
        across channels, which holds every other channel's rows too); else the hull's ranges."""
        pre_hi = self.n_pre if pre_hi is None else pre_hi
        if self._coo is not None:
            a, b = np.searchsorted(self._coo.post, [lo, hi])
            pre = self._coo.pre[a:b]
            pre = pre[(pre >= max(pre_lo, int(bounds[0]))) & (pre < min(pre_hi, int(bounds[-1])))]
            return np.unique(np.searchsorted(bounds, pre, side="right") - 1).astype(np.int64)
        st = self.range(lo, hi, pre_lo, pre_hi)
        if st.synapses == 0 or st.pre_max < st.pre_min:
            return np.zeros(0, np.int64)
        if self._conv_prefix is None:
            a = int(np.searchsorted(bounds, st.pre_min, side="right")) - 1
            b = int(np.searchsorted(bounds, st.pre_max, side="right")) - 1
            return np.arange(a, b + 1, dtype=np.int64)
        ci_lo, ci_hi, in_lo, in_hi, inner_in, spatial_in = self._conv_window(lo, hi)
        ci = np.arange(ci_lo, ci_hi, dtype=np.int64)
        first = np.maximum(ci * spatial_in + in_lo * inner_in, max(pre_lo, st.pre_min))
        last = np.minimum(ci * spatial_in + (in_hi + 1) * inner_in - 1, min(pre_hi - 1, st.pre_max))
        keep = first <= last
        a = np.searchsorted(bounds, first[keep], side="right") - 1
        b = np.searchsorted(bounds, last[keep], side="right") - 1
        spans = [np.arange(x, y + 1) for x, y in zip(a.tolist(), b.tolist(), strict=True)]
        return np.unique(np.concatenate([np.zeros(0, np.int64), *spans])).astype(np.int64)

    def _distinct(self, ids: np.ndarray) -> int:
        """Distinct weights among the weight ids ``ids`` (a bitmap over the projection's weights)."""
        seen = np.zeros(self.weights.size, bool)
        seen[ids] = True
        return int(np.count_nonzero(seen))

    def pre_rows_in(self, lo: int, hi: int, bounds: np.ndarray) -> np.ndarray:
        """For post ``lo..hi``: per presynaptic range ``bounds[k]..bounds[k+1]`` (increasing; need not
        start at 0), how many of its neurons have a row into the range, and how many synapses they hold:
        shape (2, len(bounds) − 1)."""
        nb = len(bounds) - 1
        out = np.zeros((2, nb), np.int64)
        c = self.conn
        if self._coo is not None:
            a, b = np.searchsorted(self._coo.post, [lo, hi])
            pre = self._coo.pre[a:b]
            pre = pre[(pre >= bounds[0]) & (pre < bounds[-1])]
            if pre.size:
                which = np.searchsorted(bounds, pre, side="right") - 1
                out[1] = np.bincount(which, minlength=nb)[:nb]
                upre = np.unique(pre)
                out[0] = np.bincount(np.searchsorted(bounds, upre, side="right") - 1, minlength=nb)[:nb]
            return out
        st = self.range(lo, hi, int(bounds[0]), int(bounds[-1]))
        if st.rows == 0:
            return out
        if isinstance(c, Dense):
            nz = np.zeros(self.n_pre + 1, np.int64)
            nz[:self.n_pre] = np.count_nonzero(np.asarray(c.weight[lo:hi, :]), axis=0)
            cs_rows = np.concatenate([[0], np.cumsum(nz > 0)])
            cs_syn = np.concatenate([[0], np.cumsum(nz)])
            out[0] = cs_rows[bounds[1:]] - cs_rows[bounds[:-1]]
            out[1] = cs_syn[bounds[1:]] - cs_syn[bounds[:-1]]
            return out
        # one-to-one / identity / large conv: spread rows and synapses over the overlap of [pre_min, pre_max]
        span = st.pre_max - st.pre_min + 1
        ov = np.clip(np.minimum(bounds[1:], st.pre_max + 1) - np.maximum(bounds[:-1], st.pre_min), 0, None)
        out[0] = np.ceil(ov * st.rows / span).astype(np.int64)
        out[1] = np.ceil(ov * st.synapses / span).astype(np.int64)
        return out
