"""The kernel synapse format (issue 18): conv2d / pool2d projections stored as kernels + geometry.

Oracles: the reference simulator (it expands every convolution to its (pre, post) synapse list, so it
shares no code with the C that computes targets from the geometry), the emulator's placed program, the
bytes codegen emits per memory term (``manifest.json``) and, with the Arm toolchain, the ELF's data
sections. The net covers groups, stride 2, padding, dilation 2, a delayed projection, average pooling
(one shared weight) and slices that cut channels into row bands or hold several channels.
"""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_codegen_host import assert_bit_identical

from aedc.codegen.build import cross_build, cross_compiler
from aedc.codegen.host import run_host
from aedc.codegen.model import Sources
from aedc.frontend.builder import Network
from aedc.ir.graph import Graph
from aedc.machine import SPINNAKER2
from aedc.partition.memory import KERNEL_HEADER_BYTES, kernel_geometry, weight_type_kernel
from aedc.partition.place import budget_violations
from aedc.passes import CompileState, PassContext, PassManager
from aedc.reference.simulate import simulate

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs a host C compiler")

F32 = np.float32
PIPE = "verify,slice{max-neurons=%d,min-neurons=4},place{solver=greedy},route,emit-c"


def kernel_net(w1: np.ndarray, w2: np.ndarray, name: str = "knet") -> Graph:
    """x (2, 11, 11) → grouped stride-2 conv → c (6, 6, 6) → dilated conv, delay 1 → d (4, 6, 6) →
    2×2 average pool → p (4, 3, 3)."""
    net = Network(name)
    net.input("x", (2, 11, 11))
    net.population("c", (6, 6, 6), "lif", tau=2e-3, v_threshold=0.5)
    net.conv2d("x", "c", w1, stride=2, padding=1, groups=2)
    net.population("d", (4, 6, 6), "lif", tau=2e-3, v_threshold=0.5)
    net.conv2d("c", "d", w2, padding=2, dilation=2, delay=1)
    net.population("p", (4, 3, 3), "lif", tau=2e-3, v_threshold=0.01)
    net.pool2d("d", "p", 2, stride=2, mode="avg")
    net.output("y", "p")
    return net.build()


def float_net(seed: int = 0) -> Graph:
    rng = np.random.default_rng(seed)
    return kernel_net(rng.normal(0.5, 0.6, (6, 1, 3, 3)).astype(F32),
                      rng.normal(0.3, 0.4, (4, 6, 3, 3)).astype(F32))


def compile_net(graph: Graph, max_neurons: int) -> CompileState:
    return PassManager(PIPE % max_neurons).run(CompileState(graph=graph), PassContext())


def spikes(seed: int, steps: int = 30) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"x": (rng.random((steps, 2, 11, 11)) < 0.3).astype(F32)}


def formats(state: CompileState) -> dict[str, tuple[str, str]]:
    assert state.placement is not None
    return {f.projection: (f.format, f.weight_type) for f in state.placement.slicing.formats}


@pytest.mark.parametrize("max_neurons", [16, 40, 256])
def test_kernel_bytes_equal_the_emitted_arrays(max_neurons: int) -> None:
    """Per PE, the model's ``synapse_kernels`` term is exactly what codegen emits (header + the
    entries of the slice's channels per projection; pooling: the header only), far below the rows."""
    state = compile_net(float_net(), max_neurons)
    assert set(formats(state).values()) == {("kernel", "f32")}
    assert state.sources is not None
    assert state.placement is not None
    pes = state.sources.manifest["pes"]
    for pe in pes:
        emitted, predicted = pe["bytes"]["emitted"], pe["bytes"]["predicted"]
        assert emitted.get("synapse_kernels", 0) == predicted["synapse_kernels"], pe["pe"]
        assert emitted.get("synapse_rows", 0) == predicted["synapse_rows"] == 0
    # independent count: per slice and conv/pool projection, a 96 B header + 16-aligned entries
    graph = state.graph
    want = 0
    for s in state.placement.slicing.slices:
        for proj in graph.incoming(s.population):
            geo = kernel_geometry(proj.conn)
            if geo is None:
                continue
            channels = (s.hi - 1) // geo.spatial_out - s.lo // geo.spatial_out + 1
            per = 0 if geo.shared is not None else geo.c_in_g * geo.kernel[0] * geo.kernel[1]
            want += -(-KERNEL_HEADER_BYTES // 16) * 16 + -(-4 * channels * per // 16) * 16
    assert sum(pe["bytes"]["emitted"].get("synapse_kernels", 0) for pe in pes) == want
    fmt = {f.projection: f for f in state.placement.slicing.formats}
    assert fmt["c->d"].kernel_bytes is not None
    assert fmt["c->d"].kernel_bytes < fmt["c->d"].rows_bytes / 10


@pytest.mark.skipif(cross_compiler() is None, reason="needs arm-none-eabi-gcc")
def test_elf_data_of_kernel_pes(tmp_path: Path) -> None:
    """Cross-built: every PE's data sections are the emitted arrays (the kernels' included) and fit."""
    state = compile_net(float_net(), 40)
    assert state.sources is not None
    sizes = cross_build(state.sources.write(tmp_path))
    by_pe = {pe["pe"]: pe["bytes"] for pe in state.sources.manifest["pes"]}
    assert any(b["emitted"].get("synapse_kernels") for b in by_pe.values())
    for s in sizes:
        b = by_pe[s.pe]
        # uniform parameters are C literals (counted 4 B each, conservatively, but in ITCM): all are here
        data = sum(v for k, v in b["emitted"].items() if k not in ("code", "neuron_params"))
        assert 0 <= data - s.dynamic < 2 * 16, (s, data)
        assert s.dynamic <= b["predicted"]["total"]
        assert s.code <= b["predicted"]["code"] <= SPINNAKER2.itcm_bytes


@pytest.mark.parametrize("max_neurons", [16, 40, 256])
def test_host_c_equals_reference_and_emulator_sync(max_neurons: int) -> None:
    emulator = pytest.importorskip("aedc.emulator")
    state = compile_net(float_net(), max_neurons)
    inp = spikes(1)
    ref = simulate(state.graph, inp)
    assert min(int(np.count_nonzero(ref.events[n])) for n in ("c", "d", "p")) > 10  # not vacuous
    got = run_host(state, inp)
    assert_bit_identical(ref, got, what=f"kernel/{max_neurons}")
    prog = emulator.PlacedProgram.from_placement(state.graph, state.placement)
    emu = emulator.Emulator(prog, emulator.Schedule.sync()).run(inp, metrics=False)
    for n in emu.events:
        assert np.asarray(emu.events[n], F32).tobytes() == got.events[n].tobytes(), n
    for n, d in emu.state.items():
        for var, a in d.items():
            assert np.asarray(a, F32).tobytes() == got.state[n][var].tobytes(), (n, var)


def test_host_c_equals_emulator_async() -> None:
    """The same kernel code under clock jitter and NoC latency (receivers take two ticks' spikes)."""
    from aedc.emulator import Emulator, PlacedProgram, Schedule

    state = compile_net(float_net(3), 16)
    assert state.placement is not None
    inp = spikes(4, 25)
    prog = PlacedProgram.from_placement(state.graph, state.placement)
    sched = Schedule.asynchronous(jitter_us=400, link_us=50, seed=4)
    emu = Emulator(prog, sched).run(inp, metrics=False)
    got = run_host(state, inp, schedule=sched, program=prog)
    assert sum(int(np.count_nonzero(e)) for e in emu.events.values()) > 200
    for n in emu.events:
        assert np.asarray(emu.events[n], F32).tobytes() == got.events[n].tobytes(), n


def test_quantised_kernels_only_when_exact() -> None:
    """int8 / int16 on a power-of-two scale when every weight is k·scale in float32, else float32 —
    and the quantised C equals the reference bit for bit."""
    rng = np.random.default_rng(2)
    k8 = (rng.integers(-3, 9, (6, 1, 3, 3)) / 8).astype(F32)  # 12 levels of 1/8
    k16 = (rng.integers(-1000, 3001, (4, 6, 3, 3)) / 4096).astype(F32)  # needs 13 bits
    off = k8.copy()
    off.flat[0] = np.nextafter(F32(0.5), F32(1))  # one weight one ulp off the grid
    graph = kernel_net(k8, k16, "quant")
    assert weight_type_kernel(graph.projection("x->c").conn) == "int8"
    assert weight_type_kernel(graph.projection("c->d").conn) == "int16"
    assert weight_type_kernel(kernel_net(off, k16).projection("x->c").conn) == "f32"
    assert weight_type_kernel(graph.projection("d->p").conn) == "f32"  # pooling: its weight in the header
    state = compile_net(graph, 40)
    assert formats(state) == {"x->c": ("kernel", "int8"), "c->d": ("kernel", "int16"),
                              "d->p": ("kernel", "f32")}
    assert state.sources is not None
    data = "".join(d.decode() for p, d in state.sources.files if p.endswith("data.c"))
    assert "static int8_t s" in data
    assert "static int16_t s" in data
    inp = spikes(5)
    ref = simulate(state.graph, inp)
    assert min(int(np.count_nonzero(ref.events[n])) for n in ("c", "d", "p")) > 5
    assert_bit_identical(ref, run_host(state, inp), what="quantised")


def _patched(sources: Sources, edit: Any) -> Sources:
    return Sources(files=tuple((p, edit(d.decode()).encode() if p.endswith("data.c") else d)
                               for p, d in sources.files))


def test_a_wrong_stride_or_weight_is_detected() -> None:
    """The comparison is sensitive to the kernel format's data: a header with stride 1 instead of 2,
    or one perturbed kernel entry, and the host run no longer equals the reference."""
    state = compile_net(float_net(), 40)
    assert state.sources is not None
    inp = spikes(1)
    ref = simulate(state.graph, inp)
    assert_bit_identical(ref, run_host(state.sources, inp), what="unpatched")

    def stride_one(text: str) -> str:  # x->c headers: fields 8, 9 are the strides (2, 2)
        def fix(m: re.Match[str]) -> str:
            fields = m.group(2).split(", ")
            assert fields[8:10] == ["2u", "2u"]
            fields[8] = "1u"
            return m.group(1) + ", ".join(fields) + "}"
        return re.sub(r"(_kern\d+_x__c_geo AEDC_IMAGE = \{)([^}]*)\}", fix, text)

    def one_weight(text: str) -> str:  # the first entry of every kernel array of x->c, +1/64
        def bump(m: re.Match[str]) -> str:
            return m.group(1) + repr(float(F32(float.fromhex(m.group(2).rstrip("f"))) + F32(1 / 64))) + "f"
        return re.sub(r"(_kern\d+_x__c_w\[\d+\] AEDC_IMAGE = \{\s*)(-?0x[0-9a-fp.+-]+f)", bump, text)

    for edit in (stride_one, one_weight):
        patched = _patched(state.sources, edit)
        assert patched.files != state.sources.files
        with pytest.raises(AssertionError, match="differ"):
            assert_bit_identical(ref, run_host(patched, inp), what=edit.__name__)


def test_cnn_sinabs_places_on_32_pes() -> None:
    """The NIR paper's CNN: its three convolutions take the kernel format and the whole net places on
    32 PEs (the README's number; greedy placement) with no PE over budget (112 with expanded rows)."""
    from aedc.frontend.load import load_model
    from aedc.passes import DEFAULT_PIPELINE, parse_pipeline

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = load_model(Path(__file__).parent / "data/nir_paper/02_cnn/cnn_sinabs.nir", profile="sinabs")
    front = DEFAULT_PIPELINE.split(",slice")[0]
    state = parse_pipeline(front + ",slice,place{solver=greedy}").run(CompileState(graph=g), PassContext())
    assert state.placement is not None
    kinds = {p.name: p.conn.kind for p in state.graph.projections}
    for f in state.placement.slicing.formats:
        assert f.format == ("kernel" if kinds[f.projection] == "conv2d" else "dense"), f
    assert len(state.placement.pes) == 32
    assert not budget_violations(state.placement)


def test_event_driven_host_c_equals_the_emulator() -> None:
    """The event-driven runtime applies the same kernel statement per received event."""
    from test_codegen_event import _run_both, host_vs_emulator

    from aedc.emulator import Schedule

    state = compile_net(float_net(), 16)
    emu, host = _run_both(state, spikes(1, 20), Schedule.event_driven(1, "momentum", max_microsteps=5))
    assert host_vs_emulator(emu, host) == []
    assert min(int(np.count_nonzero(host.events[n])) for n in ("c", "d", "p")) > 5


def test_a_conv_slice_reads_the_key_blocks_of_its_receptive_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large convolutions are counted from their structure: a slice of a few output rows reads a few
    rows of every input channel, so its key blocks (MPT entries, ports) are those rows' blocks — a
    superset of the exact ones, not every block between the first and the last channel."""
    from aedc.partition import synstats
    from aedc.partition.synstats import ProjectionStats

    net = Network("wide_conv")
    net.input("x", (8, 32, 32))
    net.population("h", (8, 32, 32), "if")
    net.conv2d("x", "h", np.ones((8, 8, 3, 3), F32), padding=1)
    net.output("y", "h")
    graph = net.build()
    proj = graph.projection("x->h")
    bounds = np.append(np.arange(0, 8 * 1024, 128), 8 * 1024)  # 4-row bands of one channel
    exact = ProjectionStats(graph, proj)
    monkeypatch.setattr(synstats, "COO_LIMIT", 0)
    structural = ProjectionStats(graph, proj)
    assert exact._coo is not None
    assert structural._coo is None
    lo = 3 * 1024 + 8 * 32  # channel 3, output rows 8..11
    got = structural.blocks(lo, lo + 128, bounds)
    want = exact.blocks(lo, lo + 128, bounds)
    assert want.size == 24  # input rows 7..12 of 8 channels: bands 4-7, 8-11, 12-15 of each
    assert got.tolist() == want.tolist()  # a 3×3 kernel with padding 1 reads whole input rows: exact here
    st = structural.range(lo, lo + 128)
    hull = np.searchsorted(bounds, st.pre_max, "right") - np.searchsorted(bounds, st.pre_min, "right") + 1
    assert hull > 50


def test_kernels_wider_than_the_c_takes_stay_in_rows() -> None:
    from aedc.partition.memory import KERNEL_MAX_K

    net = Network("wide_kernel")
    net.input("x", (1, 1, 40))
    net.population("h", (1, 1, 40 - KERNEL_MAX_K), "if")
    net.conv2d("x", "h", np.ones((1, 1, 1, KERNEL_MAX_K + 1), F32))
    net.output("y", "h")
    state = PassManager("verify,slice").run(CompileState(graph=net.build()), PassContext())
    assert kernel_geometry(state.graph.projection("x->h").conn) is None
    assert state.slices is not None
    assert state.slices.formats[0].format == "rows"


GEOMETRIES = [  # (c_out, kernel, stride, padding, dilation, groups) on a (4, 9, 10) input
    (3, (1, 1), (1, 1), (0, 0), (1, 1), 1), (4, (3, 2), (2, 3), (1, 0), (1, 1), 2),
    (2, (2, 3), (3, 1), (2, 2), (2, 1), 1), (4, (5, 4), (1, 2), (2, 1), (1, 2), 4),
    (6, (3, 3), (2, 2), (0, 1), (3, 2), 2), (2, (4, 5), (3, 3), (1, 2), (1, 1), 1)]


def test_every_tap_rule_equals_the_expanded_synapses() -> None:
    """Strides 1–3, padding 0–2, dilations 1–3, groups, non-square kernels, side by side on one input;
    slices of ≤ 16 neurons cut channels anywhere: the host C's targets (computed from the geometry)
    give the reference's sums (from the expanded synapse list) bit for bit."""
    from aedc.ir.connectivity import conv_out_len

    rng = np.random.default_rng(8)
    net = Network("geometries")
    net.input("x", (4, 9, 10))
    for g, (c_out, k, s, p, d, groups) in enumerate(GEOMETRIES):
        shape = (c_out, *(conv_out_len(n, k[a], s[a], (p[a], p[a]), d[a]) for a, n in enumerate((9, 10))))
        net.population(f"h{g}", shape, "lif", tau=2e-3, v_threshold=0.3)
        net.conv2d("x", f"h{g}", rng.normal(0.4, 0.5, (c_out, 4 // groups, *k)).astype(F32), stride=s,
                   padding=p, dilation=d, groups=groups)
        net.output(f"y{g}", f"h{g}")
    state = compile_net(net.build(), 16)
    assert {f for f, _ in formats(state).values()} == {"kernel"}
    rng2 = np.random.default_rng(9)
    inp = {"x": (rng2.random((12, 4, 9, 10)) < 0.3).astype(F32)}
    ref = simulate(state.graph, inp)
    assert all(np.count_nonzero(ref.events[f"h{g}"]) > 5 for g in range(len(GEOMETRIES)))
    assert_bit_identical(ref, run_host(state, inp), what="geometries")


def test_projections_whose_c_names_collide_keep_their_own_kernels() -> None:
    """``c_ident`` maps "a.b->c" and "a_b->c" to the same fragment; both convolutions land on the same
    slice with different geometry (stride 1 / 2 and padding), and each must keep its own kernel and
    header in the C: host = reference = emulator, bit for bit."""
    from aedc.emulator import Emulator, PlacedProgram, Schedule

    rng = np.random.default_rng(7)
    net = Network("collide")
    net.input("a.b", (1, 6, 6))
    net.input("a_b", (1, 11, 11))
    net.population("c", (2, 6, 6), "lif", tau=2e-3, v_threshold=0.5)
    net.conv2d("a.b", "c", rng.normal(0.5, 0.5, (2, 1, 3, 3)).astype(F32), padding=1)
    net.conv2d("a_b", "c", rng.normal(0.5, 0.5, (2, 1, 3, 3)).astype(F32), stride=2, padding=1)
    net.output("y", "c")
    state = compile_net(net.build(), 256)
    assert formats(state) == {"a.b->c": ("kernel", "f32"), "a_b->c": ("kernel", "f32")}
    assert state.sources is not None
    data = "".join(d.decode() for p, d in state.sources.files if p.endswith("data.c"))
    assert data.count("_geo AEDC_IMAGE =") == 2  # one header per projection
    inp = {"a.b": (rng.random((20, 1, 6, 6)) < 0.4).astype(F32),
           "a_b": (rng.random((20, 1, 11, 11)) < 0.4).astype(F32)}
    ref = simulate(state.graph, inp)
    assert int(np.count_nonzero(ref.events["c"])) > 20
    got = run_host(state, inp)
    assert_bit_identical(ref, got, what="colliding names")
    prog = PlacedProgram.from_placement(state.graph, state.placement)
    emu = Emulator(prog, Schedule.sync()).run(inp, metrics=False)
    for n in emu.events:
        assert np.asarray(emu.events[n], F32).tobytes() == got.events[n].tobytes(), n


def test_colliding_c_names_in_rows_and_the_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows-format weight tables of "a.b->c" and "a_b->c" on one PE are two arrays (one C name would
    not compile), and were two projections ever given one kernel name, codegen names both."""
    from aedc.codegen import program as program_mod
    from aedc.codegen.literals import c_ident
    from aedc.errors import CodegenError

    rng = np.random.default_rng(8)
    net = Network("collide_rows")
    net.input("a.b", 5)
    net.input("a_b", 4)
    net.population("c", 6, "lif", tau=2e-3, v_threshold=0.5)
    net.dense("a.b", "c", rng.choice([0.25, 0.5, -0.5], (6, 5)).astype(F32))
    net.dense("a_b", "c", rng.choice([0.75, 1.0], (6, 4)).astype(F32))
    net.output("y", "c")
    rows = PIPE.replace("min-neurons=4", "min-neurons=4,formats=rows") % 256
    state = PassManager(rows).run(CompileState(graph=net.build()), PassContext())
    assert formats(state) == {"a.b->c": ("rows", "lut4"), "a_b->c": ("rows", "lut4")}  # weight tables
    inp = {"a.b": (rng.random((15, 5)) < 0.5).astype(F32), "a_b": (rng.random((15, 4)) < 0.5).astype(F32)}
    ref = simulate(state.graph, inp)
    assert int(np.count_nonzero(ref.events["c"])) > 5
    assert_bit_identical(ref, run_host(state, inp), what="colliding rows names")

    init = program_mod.Program.__init__

    def without_index(self: Any, *a: Any, **kw: Any) -> None:  # the identifiers before the fix
        init(self, *a, **kw)
        self.proj_ident = {name: c_ident(name) for name in self.proj_ident}

    rng = np.random.default_rng(7)
    conv = Network("collide_guard")
    conv.input("a.b", (1, 6, 6))
    conv.input("a_b", (1, 6, 6))
    conv.population("c", (2, 6, 6), "lif", tau=2e-3)
    conv.conv2d("a.b", "c", rng.normal(0, 1, (2, 1, 3, 3)).astype(F32), padding=1)
    conv.conv2d("a_b", "c", rng.normal(0, 1, (2, 1, 3, 3)).astype(F32), padding=1)
    conv.output("y", "c")
    monkeypatch.setattr(program_mod.Program, "__init__", without_index)
    with pytest.raises(CodegenError, match=r"projections 'a.b->c' and 'a_b->c' both emit the C array "
                                           r"s\d+_kerna_b__c_geo"):
        compile_net(conv.build(), 256)


EDGE_CASES = {  # in shape, weight shape, stride, padding ((top, bottom), (left, right)), dilation
    "kernel-of-KERNEL_MAX_K": ((1, 36, 36), (2, 1, 32, 32), (1, 1), ((0, 0), (0, 0)), (1, 1)),
    "stride-beyond-the-kernel": ((2, 11, 11), (3, 2, 2, 2), (3, 3), ((0, 0), (0, 0)), (1, 1)),
    "asymmetric-same-padding": ((2, 8, 8), (2, 2, 4, 4), (1, 1), ((1, 2), (2, 1)), (1, 1)),
}


@pytest.mark.parametrize("case", list(EDGE_CASES))
def test_kernel_edge_cases_equal_the_reference(case: str) -> None:
    """Geometry at the edges of what the kernel C handles: a kernel of exactly KERNEL_MAX_K taps per
    axis, a stride larger than the (dilated) kernel (inputs between windows reach no output), and
    'same' padding that differs per side; host C = reference bit for bit."""
    from aedc.ir.connectivity import Conv2d
    from aedc.partition.memory import KERNEL_MAX_K

    shape, wshape, stride, padding, dilation = EDGE_CASES[case]
    rng = np.random.default_rng(11)
    fan_in = wshape[1] * wshape[2] * wshape[3]
    w = (rng.normal(0.6, 0.5, wshape) * 8 / fan_in).astype(F32)  # ≈ 1.4 per tick at 30 % input
    conn = Conv2d(weight=w, in_shape=shape, stride=stride, padding=padding, dilation=dilation)
    H = (shape[1] + sum(padding[0]) - dilation[0] * (wshape[2] - 1) - 1) // stride[0] + 1
    W = (shape[2] + sum(padding[1]) - dilation[1] * (wshape[3] - 1) - 1) // stride[1] + 1
    if case == "kernel-of-KERNEL_MAX_K":
        assert wshape[2] == wshape[3] == KERNEL_MAX_K
    if case == "stride-beyond-the-kernel":  # input rows and columns 2, 5, 8 are in no window
        pre, _, _ = conn.to_coo(shape, (wshape[0], H, W))
        assert np.unique(pre).size == shape[0] * 8 * 8 < int(np.prod(shape))
    net = Network(case.replace("-", "_"))
    net.input("x", shape)
    net.population("h", (wshape[0], H, W), "lif", tau=2e-3, v_threshold=0.4)
    net.project("x", "h", conn)
    net.output("y", "h")
    state = compile_net(net.build(), 256)
    assert formats(state)["x->h"][0] == "kernel"
    inp = {"x": (rng.random((15, *shape)) < 0.3).astype(F32)}
    ref = simulate(state.graph, inp)
    assert int(np.count_nonzero(ref.events["h"])) > 5
    assert_bit_identical(ref, run_host(state, inp), what=case)
