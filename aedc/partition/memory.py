"""The PE memory model: the bytes a slice needs, term by term, and the synapse format of each projection.

Every dynamically placed DTCM region is rounded up to ``Machine.region_alignment`` (16 B) on its own; a
slice's regions must fit ``Machine.dynamic_region_bytes`` (67,328 B) together with the per-PE
:data:`FIXED_PE_BYTES`. Code goes to ITCM (``Machine.itcm_bytes``, 32 KiB) and is estimated per kernel.
The runtime's static ``.data/.bss`` (≤ 26 KiB) and the 4 KiB stack are outside this budget.

Terms (each documented where it is computed, in :func:`slice_memory`):

* ``neuron_state``   float32 per state variable per neuron (+ last sent value for sigma-delta, + one
  accumulator per neuron for every incoming sigma-delta projection).
* ``neuron_params``  float32 per parameter per neuron, or one float32 if the parameter is uniform over
  the slice (the kernel then reads a scalar).
* ``synapse_rows``   rows format: per presynaptic neuron with a row, a 12 B header (row length, delayed
  row pointer, plastic/fixed counts as in py-spinnaker2's synaptic rows) + one word per synapse; the
  headers and the words of each incoming key block are separate 16-byte aligned arrays, so each block
  adds at most 12 + 14 B of padding (counted as that bound). A word is
  16 bit (4-bit weight index, 3-bit delay, 1 type bit, 8-bit target — hence ≤ 256 neurons per PE and rows
  ≤ 255 entries) when the projection has ≤ 16 distinct weights, else 32 bit (``wide``: fp32 weight
  index / wider target).
* ``weight_tables``  rows format: the float32 weight table the words index — 16 entries (64 B) for
  4-bit indices, one entry per distinct weight of the slice for wide words (codegen's measured layout).
* ``dense_blocks``   dense format: a (rows-with-synapses × slice size) weight matrix, int8 (+4 B scale),
  fp16 or float32 (whichever holds every weight exactly), no per-synapse index.
* ``synapse_kernels`` kernel format (conv2d and pool2d only): per incoming conv/pool projection with
  synapses here, a :data:`KERNEL_HEADER_BYTES` geometry header and the kernel entries of the slice's
  output channels (channels × c_in/groups × kh × kw; int8 / int16 on a power-of-two scale when every
  weight is exactly ``k·scale`` in float32, else float32; pooling stores its one weight in the header),
  each a 16-byte aligned array. A PE computes an event's targets from the geometry at run time.
* ``master_pop_table`` 12 B per incoming key block (per presynaptic slice feeding this slice; per synapse
  PE sending partial sums), as the SpiNNaker master population table: key, mask, row address/length.
* ``routing_info``   16 B per slice: its key block base, mask, neuron count and payload type.
* ``targets``        the slice's destination QPE list, one 32-bit word (QPE + PE mask) per destination
  QPE, at least one word; placement is not known while slicing, so the count is bounded by the slices
  the slice's events reach (several on one QPE share a word) and by the machine's QPEs.
* ``ring_buffer``    delay slots × neurons × receptor types × 4 B; slots = next power of two ≥ max
  incoming latency + 1 (at least 2: the tick being summed and the next); 2 receptor types (excitatory,
  inhibitory) when a rows-format input has both signs, else 1.
* ``input_buffers``  input populations: the host streams each tick's events, double-buffered (bitmap for
  binary, float32 per neuron for graded); synapse PEs: their outgoing partial sums (float32 per neuron).
* ``event_history``  delayed projections (latency ≥ 1): per incoming key block, ``next_pow2(latency + 1)``
  tick slots × its neurons × 1 B (spike counts) or 4 B (payloads); latency-0 ports read the tick's
  receive queue instead.
* ``recording``      output populations only: T ticks × (spike bitmap, or float32 per neuron).
* ``fixed``          once per PE: incoming packet queue (256 × 8 B) + 64 B of counters/config.
* ``code``           ITCM: runtime 8 KiB once per PE + per slice its neuron model's kernel (1–3 KiB), 2 KiB
  per synapse format and 256 B per incoming key block, 64 B for a kernel-format one (calibrated against
  measured ELF sizes: see ``CODE_PER_PORT``; the per-model and per-format terms are conservative).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from aedc.ir.connectivity import Conv2d, Pool2d, conv_out_len
from aedc.ir.graph import Graph, Population, Projection
from aedc.ir.neurons import InputModel
from aedc.machine import Machine
from aedc.partition.model import MemoryBreakdown, ProjectionFormat, Slice, SynapseFormatName, WeightType
from aedc.partition.synstats import ProjectionStats, RangeStats

ROW_HEADER_BYTES = 12  # per synaptic row (DESIGN.md; py-spinnaker2 row layout)
WORD_BYTES_NARROW = 2  # 16-bit synapse word: 4-bit weight index, 3-bit delay, 1 type bit, 8-bit target
WORD_BYTES_WIDE = 4  # when a projection has more than 16 distinct weights
LUT_ENTRIES = 16  # 4-bit weight index
MAX_TARGET = 256  # 8-bit target index → at most 256 neurons per PE in the rows format
MAX_ROW = 255  # entries per row (8-bit length field)
MPT_ENTRY_BYTES = 12  # master population table entry: key, mask, address + length
TARGET_BYTES = 4  # one destination QPE word of a slice's target list
ROUTING_INFO_BYTES = 16  # key base, mask, count, payload type
PACKET_QUEUE_LEN = 256  # packets the kernel's receive queue holds in one tick
PACKET_BYTES = 8  # one queued packet: key + 32-bit payload
PACKET_QUEUE_BYTES = PACKET_QUEUE_LEN * PACKET_BYTES
COUNTER_WORDS = 16  # 32-bit counters and config of the runtime
FIXED_PE_BYTES = PACKET_QUEUE_BYTES + 4 * COUNTER_WORDS
# ITCM: measured with arm-none-eabi-gcc -O2 on generated PEs (cnn_sinabs): the runtime + kernel skeleton
# is ~1.4 KB and every incoming key block (port: MPT entry + unrolled row loop) ~213 B, so a slice with
# 54 ports measured 12.3 KB. The runtime term keeps a reserve for a full chip runtime (interrupts, DMA).
CODE_RUNTIME = 8 * 1024
CODE_PER_PORT = 256
# a kernel-format port is its receive loop and one call of the shared aedc_conv_* routine: cnn_sinabs'
# conv PEs measured 1,880 B with 10 ports and 2,172 B with 16 (≈ 49 B a port, arm-none-eabi-gcc -O2)
CODE_PER_KERNEL_PORT = 64
CODE_PER_MODEL: dict[str, int] = {
    "input": 1024, "linear": 1536, "relu": 1536, "threshold": 1536, "lif": 2560, "alif": 3072, "li": 2560,
    "cuba_lif": 3072, "cuba_li": 3072, "if": 2048, "integrator": 2048,
    "synapse": 1024,  # not a neuron model: the kernel of a synapse PE (fan-in splitting)
}
"""ITCM bytes of one kernel, by neuron model name (an entry is a conservative estimate of the compiled
update loop; a new model takes its nearest relative's number until measured). Every model of
:data:`aedc.ir.neurons.NEURON_MODELS` has an entry (a test checks); :func:`code_bytes` refuses others."""
CODE_PER_FORMAT = 2048

DEFAULT_ACTIVITY = 0.05
"""Expected fraction of a binary / sigma-delta population that sends an event in a tick (graded: 1)."""


def align(n: int, a: int = 16) -> int:
    """``n`` rounded up to a multiple of ``a`` (0 stays 0)."""
    return -(-int(n) // a) * a


def next_pow2(n: int) -> int:
    return 1 << max(int(n) - 1, 0).bit_length()


def activity(pop: Population, binary_rate: float = DEFAULT_ACTIVITY) -> float:
    """Expected events per neuron per tick: ``binary_rate`` for binary/sigma-delta and for the spike
    counts of a spiking model (graded under ``max_spikes > 1``: sent only where ``v`` crosses θ), 1 for
    other graded populations."""
    return 1.0 if pop.event_rule == "graded" and not type(pop.neuron).SPIKING else binary_rate


def int_grid(weights: np.ndarray, kmax: int) -> tuple[np.ndarray, np.float32] | None:
    """``(k, scale)`` with every weight exactly ``k·scale`` in float32 and ``|k| ≤ kmax``, or None when
    the weights are not on such a grid.

    The scale is the smallest power of two ≥ max|w| / kmax: a power of two so that ``k·scale`` is exact
    in float32 (what the quantised kernels compute), the smallest so that ``k`` fits. No or only zero
    weights: scale 1. The memory model picks the weight type by it, codegen encodes with it.
    """
    w = np.asarray(weights, np.float32)
    scale = np.float32(np.abs(w).max() / kmax) if w.size else np.float32(0)
    s = np.float32(2.0 ** np.ceil(np.log2(float(scale)))) if scale > 0 else np.float32(1)
    k = np.round(w / s)
    if np.all(np.abs(k) <= kmax) and np.array_equal((k * s).astype(np.float32), w):
        return k, s
    return None


def int8_grid(weights: np.ndarray) -> tuple[np.ndarray, np.float32] | None:
    """The int8 weight rule (dense blocks, kernels): :func:`int_grid` with ``|k| ≤ 127``."""
    return int_grid(weights, 127)


def weight_type_dense(weights: np.ndarray) -> WeightType:
    """Narrowest dense weight type that holds every (distinct, non-zero) weight exactly."""
    w = np.asarray(weights, np.float32)
    if w.size == 0 or (np.any(w) and int8_grid(w) is not None):
        return "int8"
    if np.array_equal(w.astype(np.float16).astype(np.float32), w):
        return "fp16"
    return "f32"


DENSE_BYTES: Mapping[WeightType, int] = {"int8": 1, "int16": 2, "fp16": 2, "f32": 4, "lut4": 2, "wide": 4}

KERNEL_HEADER_BYTES = 84
"""The kernel format's geometry header (``aedc_conv_t`` in runtime/aedc_pe.h): 20 uint32 fields and the
float32 scale (or pooling's one weight)."""


KERNEL_MAX_K = 32
"""Kernel rows / columns the kernel format takes at most (the C finds an event's taps per axis into
stack arrays of this length, ``AEDC_CONV_MAX_K``); larger kernels stay in rows or dense blocks."""


@dataclass(frozen=True)
class KernelGeometry:
    """A conv2d / pool2d projection as the kernel format stores it (pooling: one group per channel,
    one shared weight)."""

    c_in_g: int
    c_out_g: int
    h: int
    w: int
    oh: int
    ow: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pad: tuple[int, int]  # top, left
    dilation: tuple[int, int]
    shared: float | None  # pooling: the weight of every tap; None: a conv kernel

    @property
    def spatial_out(self) -> int:
        return self.oh * self.ow

    def channels(self, lo: int, hi: int) -> tuple[int, int]:
        """Output channels ``co_lo..co_hi`` (half-open) of post neurons ``lo..hi``."""
        return lo // self.spatial_out, (hi - 1) // self.spatial_out + 1

    def entries(self, lo: int, hi: int) -> int:
        """Kernel entries stored for post neurons ``lo..hi``."""
        if self.shared is not None or hi <= lo:
            return 0
        co_lo, co_hi = self.channels(lo, hi)
        return (co_hi - co_lo) * self.c_in_g * self.kernel[0] * self.kernel[1]


def kernel_geometry(conn: object) -> KernelGeometry | None:
    """The kernel-format geometry of a conv2d / pool2d connectivity, None for every other kind and for
    kernels wider or taller than :data:`KERNEL_MAX_K`."""
    if isinstance(conn, Conv2d):
        c_out, c_in_g, kh, kw = (int(d) for d in conn.weight.shape)
        kernel, stride, dil = (kh, kw), conn.stride, conn.dilation
        c_out_g, shared = c_out // conn.groups, None
    elif isinstance(conn, Pool2d):
        kernel, stride, dil = conn.kernel, conn.stride, (1, 1)
        c_in_g, c_out_g, shared = 1, 1, conn.weight_value()
    else:
        return None
    if max(kernel) > KERNEL_MAX_K:
        return None
    _, h, w = conn.in_shape
    oh = conv_out_len(h, kernel[0], stride[0], conn.padding[0], dil[0])
    ow = conv_out_len(w, kernel[1], stride[1], conn.padding[1], dil[1])
    return KernelGeometry(c_in_g, c_out_g, h, w, oh, ow, (int(kernel[0]), int(kernel[1])),
                          (int(stride[0]), int(stride[1])), (conn.padding[0][0], conn.padding[1][0]),
                          (int(dil[0]), int(dil[1])), shared)


def weight_type_kernel(conn: object) -> WeightType:
    """Narrowest kernel weight type whose dequantised value is the float32 weight bit for bit: int8 or
    int16 on a power-of-two scale (:func:`int_grid`), else float32 (pooling: float32, in the header)."""
    if not isinstance(conn, Conv2d):
        return "f32"
    w = np.asarray(conn.weight, np.float32)
    if not np.any(w) or int_grid(w, 127) is not None:
        return "int8"
    if int_grid(w, 32767) is not None:
        return "int16"
    return "f32"


def kernel_slice_bytes(geo: KernelGeometry, weight_type: WeightType, lo: int, hi: int) -> int:
    """Bytes of one projection's kernel slice onto post ``lo..hi``: the header and the entries of its
    channels, each 16-byte aligned (codegen's two arrays)."""
    return align(KERNEL_HEADER_BYTES) + align(DENSE_BYTES[weight_type] * geo.entries(lo, hi))


def choose_format(graph: Graph, proj: Projection, stats: ProjectionStats, *,
                  prefer: str = "auto") -> ProjectionFormat:
    """Rows, dense blocks or kernels for ``proj``, by the bytes of the whole projection in each format
    (kernels: one copy of the whole kernel and one header, what a slice per channel group stores).

    ``prefer`` = ``rows`` / ``dense`` / ``kernel`` forces a format where offered (dense: dense kinds;
    kernel: conv2d and pool2d).
    """
    whole: RangeStats = stats.range(0, stats.n_post)
    word = WORD_BYTES_NARROW if stats.weights.size <= LUT_ENTRIES else WORD_BYTES_WIDE
    rows_type: WeightType = "lut4" if word == WORD_BYTES_NARROW else "wide"
    rows_bytes = ROW_HEADER_BYTES * whole.rows + word * whole.synapses
    offered = proj.conn.kind in ("dense",)
    dense_type = weight_type_dense(stats.weights)
    dense_bytes = whole.rows * stats.n_post * DENSE_BYTES[dense_type] if offered else None
    geo = kernel_geometry(proj.conn)
    kernel_type = weight_type_kernel(proj.conn)
    kernel_bytes = (kernel_slice_bytes(geo, kernel_type, 0, stats.n_post) if geo is not None else None)
    fmt: SynapseFormatName = "rows"
    if prefer == "dense" and offered:
        fmt = "dense"
    elif prefer == "kernel" and kernel_bytes is not None:
        fmt = "kernel"
    elif prefer == "auto":
        sizes: tuple[tuple[int | None, SynapseFormatName], ...] = (
            (rows_bytes, "rows"), (dense_bytes, "dense"), (kernel_bytes, "kernel"))
        # the fewest bytes; ties keep the earlier format (rows, then dense)
        fmt = min(((b, i, name) for i, (b, name) in enumerate(sizes) if b is not None))[2]
    wtype = {"rows": rows_type, "dense": dense_type, "kernel": kernel_type}[fmt]
    return ProjectionFormat(projection=proj.name, format=fmt, weight_type=wtype,
                            rows_bytes=rows_bytes, dense_bytes=dense_bytes, kernel_bytes=kernel_bytes)


@dataclass(frozen=True)
class Incoming:
    """One incoming projection of a population, with what the memory model needs to know about it."""

    proj: Projection
    stats: ProjectionStats
    fmt: ProjectionFormat
    pre_bounds: np.ndarray  # slice boundaries of the presynaptic population (starts + end)
    pre_rate: float
    pre_payload: bool = True  # its events carry a float32 payload (else spikes: 1 B counts in histories)
    pre_sigma_delta: bool = False  # sigma-delta source: the receiver holds a float32 accumulator per neuron


@dataclass(frozen=True)
class SliceCost:
    """Memory and per-tick load of one candidate slice, plus the limits it must respect."""

    memory: MemoryBreakdown
    events_per_tick: float
    max_row: int  # longest rows-format row
    rows_format: bool  # some input uses the rows format (then the 256-target limit applies)


def _params_bytes(pop: Population, lo: int, hi: int) -> int:
    total = 0
    for name in type(pop.neuron).PARAMS:
        arr = np.asarray(getattr(pop.neuron, name)).ravel()
        part = arr[lo:hi] if arr.size >= hi else arr
        # uniform over the slice → one scalar; otherwise one float32 per neuron
        total += 4 if part.size == 0 or np.all(part == part[0]) else 4 * (hi - lo)
    return total


def _block_range(bounds: np.ndarray, pmin: int, pmax: int) -> tuple[int, int]:
    """First and last key block (slice of ``bounds``) overlapping presynaptic ``pmin..pmax``."""
    a = int(np.searchsorted(bounds, pmin, side="right")) - 1
    b = int(np.searchsorted(bounds, pmax, side="right")) - 1
    return a, b


def code_bytes(models: Iterable[str], formats: Iterable[str], ports: int = 0, kernel_ports: int = 0) -> int:
    """ITCM estimate: runtime + one kernel per distinct model + one per distinct synapse format + the
    unrolled code of every incoming key block (``ports``; ``kernel_ports`` of them, also counted in
    ``ports``, are kernel-format ports: a call of the shared routine each)."""
    unknown = sorted(set(models) - set(CODE_PER_MODEL))
    if unknown:
        raise NotImplementedError(f"neuron model(s) {unknown} have no entry in "
                                  f"aedc.partition.memory.CODE_PER_MODEL (ITCM bytes of the kernel); "
                                  f"add one")
    return (CODE_RUNTIME + sum(CODE_PER_MODEL[m] for m in set(models))
            + CODE_PER_FORMAT * len(set(formats)) + CODE_PER_PORT * (ports - kernel_ports)
            + CODE_PER_KERNEL_PORT * kernel_ports)


CONV_KINDS = ("conv2d", "conv1d", "pool2d")


def pre_blocks(inc: Incoming, st: RangeStats, lo: int, hi: int, pre_lo: int = 0,
               pre_hi: int | None = None) -> np.ndarray:
    """The presynaptic key blocks (indices into ``inc.pre_bounds``) with a synapse onto post ``lo..hi``:
    for convolutions and pooling the blocks their receptive field touches
    (:meth:`ProjectionStats.blocks`: a slice reads a few rows of every input channel, not the rows in
    between), for other kinds every block between the first and the last presynaptic neuron."""
    if st.synapses == 0 or st.pre_max < st.pre_min:
        return np.zeros(0, np.int64)
    if inc.proj.conn.kind in CONV_KINDS:
        return inc.stats.blocks(lo, hi, inc.pre_bounds, pre_lo, pre_hi)
    a, b = _block_range(inc.pre_bounds, st.pre_min, st.pre_max)
    return np.arange(a, b + 1, dtype=np.int64)


def history_bytes(inc: Incoming, blocks: np.ndarray) -> int:
    """Event histories a delayed projection needs on the receiver: per presynaptic key block with a
    row here (``blocks``, :func:`pre_blocks`), one array of ``next_pow2(latency + 1)`` tick slots × the
    block's neurons × 1 B (spike counts) or 4 B (payloads), 16-byte aligned — codegen's layout; none for
    latency 0 (those ports read the tick's receive queue)."""
    if inc.proj.latency == 0 or blocks.size == 0:
        return 0
    sizes = inc.pre_bounds[blocks + 1] - inc.pre_bounds[blocks]
    per = next_pow2(inc.proj.latency + 1) * (4 if inc.pre_payload else 1)
    return sum(align(per * int(n)) for n in sizes)


def target_bytes(destinations: int) -> int:
    """Bytes of a destination QPE list of ``destinations`` entries (one word at least)."""
    return align(TARGET_BYTES * max(int(destinations), 1))


def _rows_terms(inc: Incoming, st: RangeStats, lo: int, hi: int, blocks: int) -> dict[str, int]:
    """Sparse rows: 12 B header per presynaptic neuron with a row + one word per synapse; per key block
    a header array and a word array, each 16-byte aligned (padding ≤ 12 and ≤ 16 − word); the weight
    table (16 entries for lut4 words, else the distinct weights the slice uses)."""
    word = WORD_BYTES_NARROW if inc.fmt.weight_type == "lut4" else WORD_BYTES_WIDE
    pad = blocks * (ROW_HEADER_BYTES + 16 - word)
    table = LUT_ENTRIES if inc.fmt.weight_type == "lut4" else st.distinct
    return {"synapse_rows": align(ROW_HEADER_BYTES * st.rows + word * st.synapses + pad),
            "weight_tables": align(4 * table)}


def _dense_terms(inc: Incoming, st: RangeStats, lo: int, hi: int, blocks: int) -> dict[str, int]:
    """Dense blocks: rows-with-synapses × post neurons, no index; int8 carries a 4 B float32 scale;
    one 16-byte aligned block per key block (padding ≤ 15)."""
    extra = 4 if inc.fmt.weight_type == "int8" else 0
    n = hi - lo
    return {"dense_blocks": align(st.rows * n * DENSE_BYTES[inc.fmt.weight_type] + blocks * (extra + 15))}


def _kernel_terms(inc: Incoming, st: RangeStats, lo: int, hi: int, blocks: int) -> dict[str, int]:
    """Kernels: one header and the kernel entries of the slice's output channels per projection,
    however many key blocks feed it (:func:`kernel_slice_bytes`; exact)."""
    geo = kernel_geometry(inc.proj.conn)
    assert geo is not None  # choose_format offers kernels for conv2d / pool2d only
    return {"synapse_kernels": kernel_slice_bytes(geo, inc.fmt.weight_type, lo, hi)}


SynapseTerms = Callable[[Incoming, RangeStats, int, int, int], dict[str, int]]

SYNAPSE_TERMS: Mapping[SynapseFormatName, SynapseTerms] = {
    "rows": _rows_terms, "dense": _dense_terms, "kernel": _kernel_terms}
"""Synapse format → its byte terms ``(incoming, stats of the slice's synapses, post lo, post hi, key
blocks) → {term: bytes}``: the one place the memory model learns a format (codegen's twin is
:data:`aedc.codegen.synapses.SYNAPSE_ENCODERS`; a test checks both cover every format)."""


def synapse_terms(inc: Incoming, st: RangeStats, lo: int, hi: int, blocks: np.ndarray) -> dict[str, int]:
    """Rows / dense / kernel / table / MPT bytes of one projection's synapses onto post ``lo..hi`` from
    the presynaptic key blocks ``blocks`` (:func:`pre_blocks`)."""
    if st.synapses == 0:
        return {}
    out = dict(SYNAPSE_TERMS[inc.fmt.format](inc, st, lo, hi, int(blocks.size)))
    # one MPT entry per presynaptic key block (slice) that has a row into this slice
    out["master_pop_table"] = MPT_ENTRY_BYTES * int(blocks.size)
    return out


def slice_cost(pop: Population, lo: int, hi: int, incoming: Iterable[Incoming], *,
               record_ticks: int, is_output: bool, partial_sum_sources: int = 0,
               split_projections: Iterable[str] = (), destinations: int = 1,
               event: bool = False) -> SliceCost:
    """Memory and load of neuron slice ``pop[lo:hi]``.

    ``partial_sum_sources``: synapse PEs sending partial sums to this slice (fan-in splitting);
    projections named in ``split_projections`` are held by those synapse PEs, not by this slice;
    ``destinations``: an upper bound of the destination QPEs of the slice's events; ``event``: the
    program also carries the event-driven schedule's runtime (:func:`event_state_bytes`).
    """
    n = hi - lo
    neuron = pop.neuron
    terms: dict[str, int] = {}
    split = set(split_projections)
    # neuron state: float32 per state variable (+ the last sent value of a sigma-delta neuron; an
    # input's values come from the host already as changes, so it keeps none)
    n_state = len(type(neuron).STATE) + (1 if pop.event_rule == "sigma_delta" and not pop.is_input else 0)
    terms["neuron_state"] = align(4 * n_state * n)
    terms["neuron_params"] = align(_params_bytes(pop, lo, hi))
    events = 0.0
    max_row = 0
    rows_fmt = False
    kernel_ports = 0
    for inc in incoming:
        if inc.proj.name in split:
            continue
        st = inc.stats.range(lo, hi)
        blocks = pre_blocks(inc, st, lo, hi)
        if inc.fmt.format == "kernel" and st.synapses:
            kernel_ports += int(blocks.size)
        if inc.pre_sigma_delta and st.synapses:
            # the receiver keeps the running sum of a sigma-delta source's changes (codegen's
            # s<k>_sd<j> array; the reference's persistent accumulator)
            terms["neuron_state"] += align(4 * n)
        for k, v in synapse_terms(inc, st, lo, hi, blocks).items():
            terms[k] = terms.get(k, 0) + v
        terms["event_history"] = terms.get("event_history", 0) + history_bytes(inc, blocks)
        events += inc.pre_rate * st.synapses
        if inc.fmt.format == "rows" and st.synapses:
            rows_fmt = True
            max_row = max(max_row, st.max_row)
    # partial sums from synapse PEs: one MPT entry each, one float32 add per post neuron per tick
    terms["master_pop_table"] = terms.get("master_pop_table", 0) + MPT_ENTRY_BYTES * partial_sum_sources
    ports = terms["master_pop_table"] // MPT_ENTRY_BYTES  # one per incoming key block
    events += float(partial_sum_sources * n)
    for key in ("synapse_rows", "dense_blocks", "synapse_kernels", "weight_tables", "master_pop_table"):
        terms[key] = align(terms.get(key, 0))
    terms["routing_info"] = ROUTING_INFO_BYTES
    terms["targets"] = target_bytes(destinations)
    if not isinstance(neuron, InputModel):
        # the tick's synaptic input: one float32 accumulator per neuron (codegen's s<k>_acc). Delays
        # live in the event histories (``event_history``), not in per-slot ring buffers as in
        # sPyNNaker, so neither the delay nor the receptor types multiply it.
        terms["ring_buffer"] = align(4 * n)
    else:
        # host-streamed input, double-buffered: a bitmap (binary) or float32 per neuron (graded)
        per_tick = -(-n // 32) * 4 if pop.event_rule == "binary" else 4 * n
        terms["input_buffers"] = align(2 * per_tick)
    if event:
        terms["event_state"] = event_state_bytes(pop, n)
    if is_output and record_ticks:
        # a spike bitmap (binary), else float32 per neuron (a spike count of max_spikes > 1 included)
        per_tick = -(-n // 32) * 4 if pop.event_rule == "binary" else 4 * n
        terms["recording"] = align(record_ticks * per_tick)
    models = [neuron.model]
    fmts = [inc.fmt.format for inc in incoming if inc.proj.name not in split]
    terms["code"] = code_bytes(models, fmts, ports, kernel_ports)
    return SliceCost(MemoryBreakdown(**terms), events, max_row, rows_fmt)


EVENT_CANDIDATE_BYTES = 16
"""One entry of a PE's candidate buffer in the event-driven runtime (``aedc_ev_cand_t``)."""


def event_state_bytes(pop: Population, n: int) -> int:
    """The event-driven schedule's state of ``n`` neurons of ``pop`` (codegen's
    ``aedc.codegen.event_kernel``): for a spiking population a fired flag (1 B), the micro-step it
    became a candidate (2 B) and its margin (4 B) per neuron, each array 16-byte aligned, and its
    entries of the PE's candidate buffer (16 B each). The buffer has one entry even on a PE without
    spiking neurons, so an input or graded slice counts one (at most 16 B too many per extra such
    slice on a PE)."""
    if pop.is_input or not type(pop.neuron).SPIKING:
        return EVENT_CANDIDATE_BYTES
    return align(n) + align(2 * n) + align(4 * n) + EVENT_CANDIDATE_BYTES * n


def synapse_slice_cost(inc: Incoming, lo: int, hi: int, pre_lo: int, pre_hi: int) -> SliceCost:
    """Memory and load of a synapse PE summing ``inc``'s synapses from pre ``pre_lo..pre_hi`` onto
    post ``lo..hi`` and sending the partial sums as graded events."""
    n = hi - lo
    st = inc.stats.range(lo, hi, pre_lo, pre_hi)
    blocks = pre_blocks(inc, st, lo, hi, pre_lo, pre_hi)
    terms = synapse_terms(inc, st, lo, hi, blocks)
    terms["event_history"] = history_bytes(inc, blocks)
    ports = terms.get("master_pop_table", 0) // MPT_ENTRY_BYTES
    for key in ("synapse_rows", "dense_blocks", "synapse_kernels", "weight_tables", "master_pop_table"):
        terms[key] = align(terms.get(key, 0))
    terms["routing_info"] = ROUTING_INFO_BYTES
    terms["targets"] = target_bytes(1)  # the QPE of its neuron slice
    terms["ring_buffer"] = align(4 * n)  # the partial sums, one float32 per post neuron, sent each tick
    terms["code"] = code_bytes(["synapse"], [inc.fmt.format], ports,
                               ports if inc.fmt.format == "kernel" else 0)
    return SliceCost(MemoryBreakdown(**terms), inc.pre_rate * st.synapses,
                     st.max_row if inc.fmt.format == "rows" else 0, inc.fmt.format == "rows")


def pe_memory(slices: Iterable[Slice]) -> MemoryBreakdown:
    """Memory of a PE running ``slices``: their terms summed and the per-PE fixed regions once; code
    = the runtime once + every slice's kernels (no sharing assumed between slices: conservative)."""
    total = MemoryBreakdown(fixed=FIXED_PE_BYTES)
    code = CODE_RUNTIME
    for s in slices:
        total = total + s.memory.evolve(code=0)
        code += s.memory.code - CODE_RUNTIME
    return total.evolve(code=code)


def pe_budget(machine: Machine) -> int:
    """Bytes a PE offers to slices: the dynamic-region budget less the per-PE fixed regions."""
    return machine.dynamic_region_bytes - FIXED_PE_BYTES
