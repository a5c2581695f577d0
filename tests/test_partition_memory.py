"""PE memory model and slicing: the numbers a user relies on, fan-in splitting, row bands, errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from aedc.errors import PlacementError
from aedc.frontend.builder import Network
from aedc.ir.graph import Graph
from aedc.machine import SPINNAKER2, Machine
from aedc.partition.memory import FIXED_PE_BYTES, MemoryBreakdown, align, weight_type_dense
from aedc.partition.slicing import SliceOptions, slice_graph

BUDGET = SPINNAKER2.dynamic_region_bytes


def _dense(n_pre: int, n_post: int, weight: np.ndarray | float = 0.5) -> Graph:
    net = Network("dense")
    x = net.input("x", n_pre)
    h = net.population("h", n_post, "lif", tau=20e-3)
    w = np.broadcast_to(np.asarray(weight, np.float32), (n_post, n_pre))
    net.dense(x, h, np.array(w))
    net.output("y", h)
    return net.build()


def test_dense_256_to_128_rows_need_68608_bytes_and_are_split() -> None:
    g = _dense(256, 128)
    one_pe = slice_graph(g, SPINNAKER2, SliceOptions(formats="rows", max_neurons=1024))
    fmt = one_pe.formats[0]
    assert fmt.format == "rows"
    assert fmt.weight_type == "lut4"  # one distinct weight: 16-bit words with a 4-bit index
    assert fmt.rows_bytes == 256 * (12 + 2 * 128) == 68_608
    assert fmt.rows_bytes > BUDGET  # the rows alone overflow one PE
    h = [s for s in one_pe.slices if s.population == "h"]
    assert len(h) == 2  # so the slicer split it
    assert [(s.lo, s.hi) for s in h] == [(0, 64), (64, 128)]
    for s in h:
        # one key block: its header array and word array are each 16-byte aligned (≤ 12 + 14 B padding)
        assert s.memory.synapse_rows == align(256 * (12 + 2 * 64) + 12 + 14) == 35_872
        assert s.memory.total + FIXED_PE_BYTES <= BUDGET


def test_dense_block_format_is_chosen_by_bytes() -> None:
    sl = slice_graph(_dense(256, 128), SPINNAKER2)
    fmt = sl.formats[0]
    assert (fmt.format, fmt.weight_type, fmt.dense_bytes) == ("dense", "int8", 256 * 128)
    (h,) = [s for s in sl.slices if s.population == "h"]
    # int8 matrix + float32 scale, one 16-byte aligned block per key block (≤ 15 B padding)
    assert h.memory.dense_blocks == align(256 * 128 + 4 + 15)
    assert h.memory.synapse_rows == 0


def test_lif_slice_terms_by_hand() -> None:
    g = _dense(40, 100, weight=np.where(np.arange(40) % 2, 0.25, -0.5).astype(np.float32)[None, :])
    sl = slice_graph(g, SPINNAKER2, SliceOptions(formats="rows", record_ticks=10))
    x, h = sl.slices
    m = h.memory
    assert m.neuron_state == 100 * 4  # v
    assert m.neuron_params == align(6 * 4)  # six uniform parameters: one float32 each
    assert m.synapse_rows == align(40 * (12 + 2 * 100) + 12 + 14)  # + padding of the block's 2 arrays
    assert m.weight_tables == 64
    assert m.master_pop_table == 16  # one presynaptic key block, 12 B aligned to 16
    assert m.routing_info == 16
    assert m.ring_buffer == 100 * 4  # the tick's synaptic input: one float32 per neuron
    assert m.recording == align(10 * 4 * 4)  # 10 ticks × 4 words of spike bitmap
    assert m.total == sum(v for _, v in m.items())
    assert x.memory.input_buffers == align(2 * 8)  # double-buffered 40-bit bitmap = 2 × 2 words


def test_weight_types_hold_every_weight_exactly() -> None:
    assert weight_type_dense(np.array([0.5, -0.25, 1.0], np.float32)) == "int8"
    assert weight_type_dense(np.array([0.1], np.float32)) == "f32"  # 0.1 is not an fp16 value
    assert weight_type_dense(np.array([1e-3, 1.0, 3.14159], np.float32)) == "f32"
    assert weight_type_dense(np.array([1.5, 1000.0], np.float32)) == "fp16"


def test_large_fan_in_is_split_onto_synapse_pes() -> None:
    rng = np.random.default_rng(0)
    g = _dense(8000, 64, weight=rng.normal(size=(64, 8000)).astype(np.float32))
    sl = slice_graph(g, SPINNAKER2)
    syn = [s for s in sl.slices if s.role == "synapse"]
    neurons = [s for s in sl.slices if s.population == "h" and s.role == "neuron"]
    assert syn
    assert all(s.memory.total + FIXED_PE_BYTES <= BUDGET for s in sl.slices)
    # every synapse PE's presynaptic range is a union of whole input slices, and together they cover
    # every input neuron once per post block
    for n in neurons:
        mine = sorted((s.pre_lo, s.pre_hi) for s in syn if (s.lo, s.hi) == (n.lo, n.hi))
        assert mine[0][0] == 0
        assert mine[-1][1] == 8000
        assert all(a[1] == b[0] for a, b in itertools.pairwise(mine))
    # each synapse PE sends its partial sums to its neuron slice
    index = {id(s): i for i, s in enumerate(sl.slices)}
    for s in syn:
        dst = [e.dst for e in sl.edges if e.src == index[id(s)]]
        assert len(dst) == 1
        assert (sl.slices[dst[0]].lo, sl.slices[dst[0]].hi) == (s.lo, s.hi)


def test_conv_slices_are_row_bands_or_whole_channels() -> None:
    net = Network("conv")
    x = net.input("x", (2, 32, 32))
    h = net.population("h", (8, 32, 32), "if")
    rng = np.random.default_rng(1)
    net.conv2d(x, h, rng.normal(size=(8, 2, 3, 3)).astype(np.float32), padding=1)
    net.output("y", h)
    sl = slice_graph(net.build(), SPINNAKER2)
    for s in sl.slices:
        assert s.lo % 32 == 0  # whole rows of 32
        assert s.hi % 32 == 0


def test_neuron_slices_tile_every_population() -> None:
    g = _dense(700, 300)
    sl = slice_graph(g, SPINNAKER2)
    for pop in g.populations:
        cuts = [(sl.slices[i].lo, sl.slices[i].hi) for i in sl.of(pop.name)]
        assert cuts[0][0] == 0
        assert cuts[-1][1] == pop.size
        assert all(a[1] == b[0] for a, b in itertools.pairwise(cuts))
        assert all(hi - lo <= 256 for lo, hi in cuts)


def test_a_neuron_that_fits_no_pe_names_population_and_bytes() -> None:
    small = Machine.tiny((1, 1), dynamic_region_bytes=FIXED_PE_BYTES + 60)
    with pytest.raises(PlacementError, match=r"population 'h'.*B of DTCM.*a PE offers 2,172 B") as info:
        slice_graph(_dense(4, 4), small)
    assert info.value.exit_code == 3
    assert info.value.where == "h"


def test_breakdown_addition() -> None:
    a = MemoryBreakdown(neuron_state=16, code=100)
    assert (a + a).total == 32
    assert (a + a).code == 200


def test_a_network_far_larger_than_the_machine_fails_before_slicing() -> None:
    from aedc.ir import Population
    from aedc.ir.neurons import InputModel

    huge = Graph(name="huge", populations=(Population(name="x", shape=(10**9,), neuron=InputModel()),),
                 outputs={"o": "x"})
    with pytest.raises(PlacementError, match=r"population 'x' does not fit.*has 148 PEs") as info:
        slice_graph(huge, SPINNAKER2)  # would walk ~3.9 M slices without the up-front bound
    assert info.value.where == "x"


def test_slice_golden() -> None:
    """Golden text form of the slicing of a fixed small graph (update deliberately when the model
    changes: every number here is a byte count a user sees)."""
    net = Network("golden")
    x = net.input("x", 300)
    h = net.population("h", 200, "lif", tau=0.02)
    o = net.population("o", 10, "li", tau=0.01)
    net.dense(x, h, np.where(np.arange(300)[None, :] % 3, 0.5, -0.25).repeat(200, axis=0))
    net.dense(h, o, np.full((10, 200), 0.125))
    net.output("y", o)
    sl = slice_graph(net.build(), SPINNAKER2, SliceOptions(formats="rows"))
    text = "\n".join(f"{s.label} {s.memory.total} {s.events_per_tick:g}" for s in sl.slices)
    assert text == GOLDEN


GOLDEN = """\
x[0:150] 80 0
x[150:300] 80 0
h[0:100] 64624 1500
h[100:200] 64624 1500
o[0:10] 10704 100"""
# x[0:150]: routing 16 + targets (2 h slices × 4 → 16) + input bitmap 2 × 20 B → 48.
# h[0:100] by hand: rows 300 × (12 + 2 × 100) = 63,600, + 2 key blocks × (12 + 14) B array padding
# → 63,652 → 63,664 aligned; weight table 64; MPT 2 blocks × 12 → 32; state 100 × 4 = 400; 6 uniform
# params → 32; routing 16; targets (o[0:10]) 16; synaptic input accumulator 100 × 4 = 400 (issue 22:
# the model used to count sPyNNaker's 2 delay slots × 2 receptor types, 4× what codegen emits, and
# sliced h into 3 PEs instead of 2).


def test_sigma_delta_receivers_count_their_accumulators() -> None:
    """Issue 22: codegen gives every receiver of a sigma-delta projection a float32 accumulator per
    neuron (the reference's persistent sum of changes); the model did not count it (64 → 200 σΔ-ReLU →
    100 LI: 224 B emitted vs 112 B predicted per slice). Now every PE's emitted neuron state is within
    the prediction, and an LI slice's is exactly v + one accumulator."""
    from aedc.passes import CompileState, PassContext, PassManager

    rng = np.random.default_rng(0)
    net = Network("sd", dt=1e-3)
    net.input("x", 64, event_rule="sigma_delta")
    net.population("h", 200, "relu", event_rule="sigma_delta", event_threshold=0.05)
    net.population("o", 100, "li", tau=0.02, event_rule="graded")
    net.dense("x", "h", rng.normal(size=(200, 64)).astype(np.float32))
    net.dense("h", "o", rng.normal(size=(100, 200)).astype(np.float32))
    net.output("y", "o")
    state = PassManager("verify,slice,place{solver=greedy},route,emit-c").run(
        CompileState(graph=net.build()), PassContext())
    assert state.sources is not None
    assert state.placement is not None
    for pe in state.sources.manifest["pes"]:
        emitted, predicted = pe["bytes"]["emitted"], pe["bytes"]["predicted"]
        assert emitted["neuron_state"] <= predicted["neuron_state"], pe["pe"]
    o_slices = [s for s in state.placement.slicing.slices if s.population == "o"]
    assert o_slices
    for s in o_slices:
        n = s.hi - s.lo
        assert s.memory.neuron_state == align(4 * n) + align(4 * n)  # v, and the accumulator of h -> o
