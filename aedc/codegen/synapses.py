"""Synapse images: how the synapses of one port become data-image arrays and the C statement applying them.

A *port* is what one presynaptic slice sends through one projection onto one neuron slice. Its encoder
is looked up in :data:`SYNAPSE_ENCODERS` by the projection's ``(format, weight type)`` (chosen by
:func:`aedc.partition.memory.choose_format`):

* ``rows``: one 12 B header per presynaptic row with synapses and one word per synapse holding the
  index of its weight in the PE's weight table of the projection (16-bit ``lut4`` words for ≤ 16
  weights and ≤ 256 targets, else 32-bit ``wide`` words);
* ``dense``: a (rows with synapses × slice neurons) block, int8 on a power-of-two grid (the rule of
  :func:`aedc.partition.memory.int8_grid`), fp16 or float32;
* ``kernel`` (conv2d, pool2d): the kernel entries of the slice's output channels and a geometry header,
  once per slice and projection however many ports share them (``SynapseImage.shared``); the C
  computes an event's targets (runtime/aedc_pe.h ``aedc_conv_*``). int8 / int16 on the projection's
  power-of-two grid (:func:`aedc.partition.memory.int_grid`) or float32; pooling keeps its one
  weight in the header.

The C statement runs with the row ``i`` (local to the source block), its payload ``p`` and the synaptic
input ``acc`` in scope; the helpers it calls are in runtime/aedc_pe.h.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from aedc.codegen.literals import F32, c_array, c_float
from aedc.codegen.program import Program
from aedc.errors import CodegenError
from aedc.ir.connectivity import Conv2d
from aedc.ir.graph import Projection
from aedc.partition.memory import (
    KERNEL_HEADER_BYTES,
    LUT_ENTRIES,
    MAX_TARGET,
    ROW_HEADER_BYTES,
    KernelGeometry,
    int8_grid,
    int_grid,
    kernel_geometry,
)
from aedc.partition.model import ProjectionFormat, SynapseFormatName, WeightType

__all__ = ["SYNAPSE_ENCODERS", "PortSynapses", "SynapseEncoder", "SynapseImage", "distinct_weights",
           "encoder_for", "weight_table_array"]


@dataclass(frozen=True)
class PortSynapses:
    """The synapses of one port, sorted by (row, target), with indices local to the source block
    (``rows``) and to the neuron slice (``targets``)."""

    projection: str
    tag: str  # prefix of the port's C names
    what: str  # "projection: source → slice", for comments
    slice_label: str
    n_post: int  # neurons of the slice: the width of a dense block
    rows: np.ndarray
    targets: np.ndarray
    weights: np.ndarray  # float32
    table: np.ndarray  # the PE's sorted distinct weights of the projection (if the encoder uses them)
    table_name: str
    conn: object = None  # the projection's connectivity (the kernel format reads its geometry, weights)
    post_lo: int = 0  # the slice's first postsynaptic neuron (flat)
    pre_lo: int = 0  # the source block's first presynaptic neuron (flat)
    kernel_tag: str = ""  # C name prefix of the slice's kernel arrays of this projection

    @property
    def row_lo(self) -> int:
        return int(self.rows.min())

    @property
    def row_hi(self) -> int:
        return int(self.rows.max()) + 1


@dataclass(frozen=True)
class SynapseImage:
    """What an encoder produced: image arrays ``(C text, bytes)`` in order, and the applying statement."""

    arrays: tuple[tuple[str, int], ...]
    code: str
    # arrays shared by every port of one slice and projection, emitted once per name: (name, C text, bytes)
    shared: tuple[tuple[str, str, int], ...] = ()


@dataclass(frozen=True)
class SynapseEncoder:
    """One synapse format: the memory term its arrays count under, whether its words index the PE's
    weight table of the projection (which is then emitted once per PE), and the encoding itself."""

    term: str
    weight_table: bool
    encode: Callable[[PortSynapses], SynapseImage]


def _rows(port: PortSynapses, *, index_bits: int, word_bits: int, per_line: int, helper: str) -> SynapseImage:
    with_rows, counts = np.unique(port.rows, return_counts=True)
    n_rows = int(with_rows.size)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    hdr_lines = ",\n    ".join(f"{{{c}, 0, {o}, {i}}}" for c, o, i in zip(
        counts.tolist(), first.tolist(), with_rows.tolist(), strict=True))
    header = (f"/* row headers of {port.what}: words, flags, first word, presynaptic index */\n"
              f"static aedc_row_header_t {port.tag}_hdr[{n_rows}] AEDC_IMAGE = {{\n"
              f"    {hdr_lines}\n}};\n", ROW_HEADER_BYTES * n_rows)
    idx = np.searchsorted(port.table, port.weights.astype(F32))
    words = (idx.astype(np.int64) << index_bits) | port.targets
    text = c_array(f"uint{word_bits}_t", f"{port.tag}_words", words, "AEDC_IMAGE",
                   f"{word_bits}-bit synapse words of {port.what}: weight index << {index_bits} | target",
                   per_line)
    code = (f"int32_t r = aedc_find_row({port.tag}_hdr, {n_rows}u, i); if (r >= 0) "
            f"{helper}({port.tag}_hdr, {port.tag}_words, {port.table_name}, (uint32_t)r, p, acc)")
    return SynapseImage((header, text), code)


def _rows_lut4(port: PortSynapses) -> SynapseImage:
    if port.table.size > LUT_ENTRIES or port.n_post > MAX_TARGET:
        raise CodegenError(f"projection '{port.projection}': 4-bit rows need ≤ {LUT_ENTRIES} weights and ≤ "
                           f"{MAX_TARGET} targets (has {port.table.size}, slice {port.slice_label} has "
                           f"{port.n_post})", where=port.projection)
    return _rows(port, index_bits=12, word_bits=16, per_line=12, helper="aedc_rows_lut4")


def _rows_wide(port: PortSynapses) -> SynapseImage:
    if port.table.size > 65536 or port.n_post > 65536:
        raise CodegenError(f"projection '{port.projection}': wide rows need ≤ 65,536 distinct weights (has "
                           f"{port.table.size})", where=port.projection)
    return _rows(port, index_bits=16, word_bits=32, per_line=8, helper="aedc_rows_wide")


def _block(port: PortSynapses) -> np.ndarray:
    """The dense weight block: rows ``row_lo..row_hi`` × the slice's neurons, 0 where no synapse."""
    m = np.zeros((port.row_hi - port.row_lo, port.n_post), F32)
    m[port.rows - port.row_lo, port.targets] = port.weights
    return m


def _extent(port: PortSynapses) -> str:
    return f"rows {port.row_lo}..{port.row_hi - 1} × {port.n_post}"


def _dense_int8(port: PortSynapses) -> SynapseImage:
    m = _block(port)
    grid = int8_grid(m)
    if grid is None:
        raise CodegenError(f"projection '{port.projection}': int8 block is not exact", where=port.projection)
    k, scale = grid
    text, size = c_array("int8_t", f"{port.tag}_w", k.astype(np.int64), "AEDC_IMAGE",
                         f"int8 dense block of {port.what} (× {c_float(scale)}), {_extent(port)}", 16)
    code = f"aedc_dense_int8({port.tag}_w, {c_float(scale)}, {port.n_post}u, i - {port.row_lo}u, p, acc)"
    return SynapseImage(((text, size + 4),), code)  # + the float32 scale


def _dense_fp16(port: PortSynapses) -> SynapseImage:
    bits = _block(port).astype(np.float16).view(np.uint16)
    text = c_array("uint16_t", f"{port.tag}_w", bits, "AEDC_IMAGE",
                   f"fp16 dense block of {port.what}, {_extent(port)}", 12)
    return SynapseImage((text,), f"aedc_dense_fp16({port.tag}_w, {port.n_post}u, i - {port.row_lo}u, p, acc)")


def _dense_f32(port: PortSynapses) -> SynapseImage:
    text = c_array("float", f"{port.tag}_w", _block(port), "AEDC_IMAGE",
                   f"float32 dense block of {port.what}, {_extent(port)}", 4)
    return SynapseImage((text,), f"aedc_dense_f32({port.tag}_w, {port.n_post}u, i - {port.row_lo}u, p, acc)")


def _geometry(port: PortSynapses) -> KernelGeometry:
    geo = kernel_geometry(port.conn)
    if geo is None:
        raise CodegenError(f"projection '{port.projection}': the kernel format needs a conv2d or pool2d "
                           f"projection", where=port.projection)
    return geo


def _kernel(port: PortSynapses, ctype: str, kmax: int | None, helper: str) -> SynapseImage:
    """The kernel slice (output channels of the port's slice) and its header, shared by the slice's
    ports of the projection; the statement computes event ``i``'s targets."""
    geo = _geometry(port)
    lo, hi = port.post_lo, port.post_lo + port.n_post
    co_lo, co_hi = geo.channels(lo, hi)
    scale = np.float32(1)
    shared: list[tuple[str, str, int]] = []
    weights = "0"
    if geo.shared is not None:
        scale = np.float32(geo.shared)
    else:
        assert isinstance(port.conn, Conv2d)  # kernel_geometry: a conv kernel unless shared
        w = np.asarray(port.conn.weight, F32)
        values: np.ndarray = w
        if kmax is not None:
            grid = int_grid(w, kmax)
            if grid is None:
                raise CodegenError(f"projection '{port.projection}': the kernel is not exactly on a "
                                   f"{ctype} grid", where=port.projection)
            values, scale = grid[0].astype(np.int64), grid[1]
        part = values[co_lo:co_hi]
        weights = f"{port.kernel_tag}_w"
        text, size = c_array(ctype, weights, part, "AEDC_IMAGE",
                             f"{ctype} kernel of {port.projection} onto {port.slice_label}: channels "
                             f"{co_lo}..{co_hi - 1} × {geo.c_in_g} × {geo.kernel[0]} × {geo.kernel[1]}"
                             + (f" (× {c_float(scale)})" if kmax is not None else ""), 8)
        shared.append((weights, text, size))
    fields = (geo.c_in_g, geo.c_out_g, geo.h, geo.w, geo.oh, geo.ow, *geo.kernel, *geo.stride, *geo.pad,
              *geo.dilation, co_lo, co_hi, lo, hi, int(geo.shared is not None), geo.entries(lo, hi))
    header = (f"/* kernel geometry of {port.projection} onto {port.slice_label} (aedc_conv_t) */\n"
              f"static aedc_conv_t {port.kernel_tag}_geo AEDC_IMAGE = "
              f"{{{', '.join(f'{v}u' for v in fields)}, {c_float(scale)}}};\n")
    shared.insert(0, (f"{port.kernel_tag}_geo", header, KERNEL_HEADER_BYTES))
    cast = "" if weights != "0" else f"(const {ctype} *)"
    code = f"{helper}(&{port.kernel_tag}_geo, {cast}{weights}, {port.pre_lo}u + i, p, acc)"
    return SynapseImage((), code, tuple(shared))


def _kernel_f32(port: PortSynapses) -> SynapseImage:
    return _kernel(port, "float", None, "aedc_conv_f32")


def _kernel_int16(port: PortSynapses) -> SynapseImage:
    return _kernel(port, "int16_t", 32767, "aedc_conv_int16")


def _kernel_int8(port: PortSynapses) -> SynapseImage:
    return _kernel(port, "int8_t", 127, "aedc_conv_int8")


SYNAPSE_ENCODERS: dict[tuple[SynapseFormatName, WeightType], SynapseEncoder] = {
    ("rows", "lut4"): SynapseEncoder("synapse_rows", True, _rows_lut4),
    ("rows", "wide"): SynapseEncoder("synapse_rows", True, _rows_wide),
    ("dense", "int8"): SynapseEncoder("dense_blocks", False, _dense_int8),
    ("dense", "fp16"): SynapseEncoder("dense_blocks", False, _dense_fp16),
    ("dense", "f32"): SynapseEncoder("dense_blocks", False, _dense_f32),
    ("kernel", "int8"): SynapseEncoder("synapse_kernels", False, _kernel_int8),
    ("kernel", "int16"): SynapseEncoder("synapse_kernels", False, _kernel_int16),
    ("kernel", "f32"): SynapseEncoder("synapse_kernels", False, _kernel_f32),
}
"""(synapse format, weight type) → encoder: the one place a synapse format is added."""


def encoder_for(fmt: ProjectionFormat) -> SynapseEncoder:
    """The encoder of ``fmt`` (a :class:`CodegenError` naming the pair when there is none)."""
    enc = SYNAPSE_ENCODERS.get((fmt.format, fmt.weight_type))
    if enc is None:
        have = ", ".join(f"{f}/{w}" for f, w in SYNAPSE_ENCODERS)
        raise CodegenError(f"projection '{fmt.projection}': no synapse encoder for format {fmt.format} with "
                           f"{fmt.weight_type} weights; encoders: {have}", where=fmt.projection)
    return enc


def distinct_weights(prog: Program, slices: Iterable[int], proj: Projection) -> np.ndarray:
    """Sorted distinct weights of ``proj`` onto the slices ``slices`` of one PE: its weight table there."""
    parts = [np.zeros(0, F32)]
    for idx in slices:
        s = prog.slices[idx]
        if s.population != proj.post or (s.role == "synapse" and s.projection != proj.name):
            continue
        pre, _post, w = prog.onto(proj, s.lo, s.hi)
        if s.role == "synapse":
            w = w[(pre >= (s.pre_lo or 0)) & (pre < (s.pre_hi or 0))]
        parts.append(w)
    return np.unique(np.concatenate(parts))


def weight_table_array(name: str, projection: str, table: np.ndarray) -> tuple[str, int]:
    """The weight table ``name`` of ``projection`` on one PE, as an image array."""
    return c_array("float", name, table, "AEDC_IMAGE",
                   f"weight table of projection {projection} on this PE ({table.size} distinct weights)", 4)
