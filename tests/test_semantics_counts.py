"""Spike counts (``Semantics.max_spikes``), the lower clip ``v_min`` and ``reset="none"`` (issue 14).

Oracle: hand-written loops of the documented updates — Sinabs' ``MultiSpike`` (``spikes = (v > 0) ·
trunc(v/θ)``, ``MembraneSubtract``: ``v − spikes·θ``), Rockpool's ``max_spikes_per_dt`` (``(v ≥ θ)·
floor(v/θ)`` capped), Sinabs' ``min_v_mem`` (``relu(v − m) + m`` after the reset) and snnTorch's
``reset_mechanism="none"`` — worked out by hand below, then run through the reference, the JAX
emulator (sync and tick-async) and, in ``test_semantics_frameworks.py``, the host C. Each test names its
profile. The golden cases of the real frameworks (``tests/test_conformance.py``, recipes) check the
same options against Sinabs' and snnTorch's own forward passes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nir
import numpy as np
import pytest

from aedc.emulator import Emulator
from aedc.errors import AedcError, VerifyError
from aedc.frontend import from_nir
from aedc.frontend.builder import Network
from aedc.ir.discretise import neuron_constants
from aedc.ir.graph import Graph
from aedc.ir.options import Semantics, profile
from aedc.ir.verify import verify
from aedc.passes import CompileState, PassContext, PassManager
from aedc.reference import simulate
from aedc.timing.schedule import Schedule

F32 = np.float32


def a(*values: float) -> np.ndarray:
    return np.array(values, F32)


def iaf_readout(sem: Semantics, theta: float = 1.0, w: float = 0.5) -> Graph:
    """x → IF(θ) → Affine(w) → LI(τ = 2, unscaled under sinabs): the LI sees w · count."""
    nodes = {"x": nir.Input(input_type=np.array([1])), "n": nir.IF(r=a(1.0), v_threshold=a(theta)),
             "w": nir.Affine(weight=np.full((1, 1), w, F32), bias=a(0.0)),
             "o": nir.LI(tau=a(2.0), r=a(1.0), v_leak=a(0.0)), "y": nir.Output(output_type=np.array([1]))}
    return from_nir(nir.NIRGraph(nodes=nodes, edges=[("x", "n"), ("n", "w"), ("w", "o"), ("o", "y")],
                                 type_check=False), profile=sem)


X = [2.5, 0.7, 0.0, 4.2, -3.0, 4.0]


def hand_counts(x: list[float], theta: float, cap: int) -> tuple[list[float], list[float]]:
    """The documented count rule by hand, in float32: v ← v + x; where v ≥ θ, k = min(⌊v/θ⌋, cap) spikes,
    v ← v − k·θ."""
    v, counts, vs = F32(0), [], []
    for xi in x:
        v = F32(v + F32(xi))
        k = F32(min(np.floor(F32(v / F32(theta))), cap)) if v >= F32(theta) else F32(0)
        v = F32(v - F32(k * F32(theta)))
        counts.append(float(k))
        vs.append(float(v))
    return counts, vs


@pytest.mark.parametrize("cap", [2**24, 3])
def test_iaf_spike_count_and_receivers_multiply(cap: int) -> None:
    """Profile sinabs + max_spikes (Sinabs MultiSpike reads as 2**24; a cap of 3 as Rockpool's
    max_spikes_per_dt = 3). Counts [2, 1, 0, 4, 0, 1] (capped: [2, 1, 0, 3, 0, 2])."""
    g = iaf_readout(profile("sinabs", max_spikes=cap))
    assert g.population("n").event_rule == "graded"  # the count is the payload
    counts, vs = hand_counts(X, 1.0, cap)
    assert counts == ([2, 1, 0, 4, 0, 1] if cap > 3 else [2, 1, 0, 3, 0, 2])
    tr = simulate(g, {"x": np.asarray(X, F32).reshape(-1, 1)})
    assert tr.events["n"].ravel().tolist() == counts
    assert tr.state["n"]["v"].ravel().tolist() == vs
    # the readout integrates 0.5·count unscaled: o ← e^(−1/2)·o + 0.5·k
    o, alpha = F32(0), F32(np.exp(-0.5))
    want = []
    for k in counts:
        o = F32(F32(alpha * o) + F32(F32(0.5) * F32(k)))
        want.append(float(o))
    assert tr.state["o"]["v"].ravel().tolist() == want
    for sched in (Schedule.sync(), Schedule.asynchronous(period_us=1000)):
        emu = Emulator(g, sched).run({"x": np.asarray(X, F32).reshape(-1, 1)}, metrics=False)
        if sched.mode == "sync":
            assert np.asarray(emu.events["n"]).ravel().tolist() == counts
            assert np.asarray(emu.state["o"]["v"]).ravel().tolist() == want
        else:  # every hop a tick later: the same counts, shifted
            assert np.asarray(emu.events["n"]).ravel().tolist()[1:] == counts[:-1]


def test_single_spike_is_unchanged_and_a_binary_count_is_refused() -> None:
    """max_spikes = 1 (the default) keeps binary spikes; a graph that declares a spiking population
    binary under max_spikes > 1 is made graded (a payload-free key cannot carry a count), and a graded
    spiking population without counts is refused by name."""
    g = iaf_readout(profile("sinabs"))
    assert g.population("n").event_rule == "binary"
    assert simulate(g, {"x": np.asarray(X, F32).reshape(-1, 1)}).events["n"].ravel().tolist() == \
        [1, 1, 1, 1, 0, 1]
    multi = g.evolve(semantics=g.semantics.evolve(max_spikes=4))
    assert multi.population("n").event_rule == "graded"
    with pytest.raises(VerifyError, match=r"population 'n'.*must use event_rule 'binary' \(got 'graded'\)"):
        verify(multi.evolve(semantics=g.semantics))
    with pytest.raises(ValueError, match=r"max_spikes=2 .* needs the reset in the tick of the spike"):
        profile("snntorch", max_spikes=2)


def test_v_min_clips_as_sinabs_computes_it() -> None:
    """Profile sinabs + v_min = −1 (sl.IAF(min_v_mem=−1)): v ← relu(v − m) + m after the reset, which
    in float32 also rounds v above the clip: 0.1 − (−1) + (−1) = 0.100000024, not 0.1."""
    x = [0.1, -3.0, 2.0, -0.25]
    g = iaf_readout(profile("sinabs", v_min=-1.0))
    tr = simulate(g, {"x": np.asarray(x, F32).reshape(-1, 1)})
    m, v, want = F32(-1.0), F32(0), []
    for xi in x:
        v = F32(v + F32(xi))
        if v >= F32(1.0):
            v = F32(v - F32(1.0))
        v = F32(F32(max(F32(v - m), F32(0))) + m)
        want.append(float(v))
    assert want[0] == float(F32(0.1) + F32(1.0) - F32(1.0)) != float(F32(0.1))
    assert want[1] == -1.0
    assert tr.state["n"]["v"].ravel().tolist() == want
    emu = Emulator(g).run({"x": np.asarray(x, F32).reshape(-1, 1)}, metrics=False)
    assert np.asarray(emu.state["n"]["v"]).ravel().tolist() == want


SNNTORCH_NONE_MEM = [2.6, 3.9, 2.25, 1.425, 1.0125, 1.70625, 0.853125, 0.426563, 1.113281, 1.456641,
                     1.62832, 1.71416]


def test_reset_none_never_resets() -> None:
    """Profile snntorch + reset='none' (snn.Leaky(beta=0.5, reset_mechanism='none')): mem = β·mem + x,
    spike where mem > θ, no reset (X4 of test_semantics_frameworks; snnTorch 1.0.0 printed the spikes
    and SNNTORCH_NONE_MEM)."""
    lif = nir.LIF(tau=a(2e-4), r=a(2.0), v_leak=a(0), v_threshold=a(1.0), v_reset=a(0))
    g = from_nir(nir.NIRGraph(nodes={"x": nir.Input(input_type=np.array([1])), "n": lif,
                                     "y": nir.Output(output_type=np.array([1]))},
                              edges=[("x", "n"), ("n", "y")], type_check=False),
                 profile=profile("snntorch", dt=1e-4, reset="none"))
    x4 = [2.6, 2.6, 0.3, 0.3, 0.3, 1.2, 0.0, 0.0, 0.9, 0.9, 0.9, 0.9]
    mem, want_v = F32(0), []
    for xi in x4:
        mem = F32(F32(F32(0.5) * mem) + F32(xi))
        want_v.append(float(mem))
    tr = simulate(g, {"x": np.asarray(x4, F32).reshape(-1, 1)})
    assert tr.state["n"]["v"].ravel().tolist() == want_v
    assert tr.spike_steps("n").tolist() == [i for i, m in enumerate(want_v) if m > 1.0] == \
        [0, 1, 2, 3, 4, 5, 8, 9, 10, 11]
    np.testing.assert_allclose(want_v, SNNTORCH_NONE_MEM, atol=1e-6)
    with pytest.raises(ValueError, match="reset_recheck"):
        Semantics(reset="none", reset_recheck=True)


@pytest.mark.parametrize("options", [{"max_spikes": 2}, {"v_min": -1.0}, {"reset": "none"},
                                     {"reset_next_tick": True, "spike_from_previous": True}])
def test_event_schedule_refuses_what_its_contract_does_not_name(options: dict[str, object]) -> None:
    """The event-driven schedule (aedc.timing.event) splits the spike stage into a threshold test and
    a reset by 'fired': a count, a clip and 'none' are not part of it, so it refuses by population."""
    sem = Semantics(profile="custom", dt=1.0, reset=options.get("reset", "subtract"),  # type: ignore[arg-type]
                    **{k: v for k, v in options.items() if k != "reset"})  # type: ignore[arg-type]
    net = Network("refuse", semantics=sem)
    x = net.input("x", 2)
    h = net.population("h", 2, "if", v_threshold=1.0, event_rule=sem.spike_event_rule)
    net.dense(x, h, np.eye(2, dtype=F32))
    net.output("h", h)
    with pytest.raises(AedcError, match=r"population 'h': semantics .* is not part of the event-driven"):
        Emulator(net.build(), Schedule.event_driven()).run({"x": np.ones((3, 2), F32)})


def test_sinabs_multispike_golden_case_through_host_c_and_the_memory_model(tmp_path: Path) -> None:
    """The golden case sinabs/conv_sumpool_multi (Conv2d → IAF → SumPool2d → Linear → IAF, MultiSpike,
    as Sinabs 3.1.3 ran it) imported with its recipe ``profile("sinabs", max_spikes=2**24)`` and compiled:
    the host-built C sends the counts as graded payloads and gives Sinabs' own spike counts, bit for bit
    with the reference; counts are recorded as float32 per neuron in the memory model and in the emitted
    image alike (and, cross-compiled, the ELF fits what the model predicted)."""
    if shutil.which("gcc") is None:
        pytest.skip("needs a host C compiler")
    from aedc.codegen.build import cross_build
    from aedc.codegen.host import run_host
    from aedc.codegen.model import Sources

    data = Path(__file__).parent / "data" / "conformance"
    g = from_nir(data / "sinabs" / "conv_sumpool_multi.nir", profile=profile("sinabs", max_spikes=2**24),
                 dt=1.0)
    assert {p.name: p.event_rule for p in g.populations if p.neuron.model == "if"} == {"1": "graded",
                                                                                     "5": "graded"}
    with np.load(data / "sinabs" / "conv_sumpool_multi.npz") as f:
        x, want = f["input"], {n: f[f"spikes/{n}"] for n in ("1", "5")}
    assert max(float(w.max()) for w in want.values()) >= 2  # Sinabs did emit several spikes in a step
    state = PassManager("verify,fold-scale,fuse-affine,dce,slice,place{solver=greedy},route,"
                        "compress-tables,emit-c").run(CompileState(graph=g), PassContext())
    inp = {"input": x.reshape(x.shape[0], *g.population("input").shape)}
    ref = simulate(state.graph, inp)
    got = run_host(state, inp)
    for n, w in want.items():
        assert got.events[n].tobytes() == ref.events[n].tobytes(), n
        assert got.events[n].reshape(w.shape).tolist() == w.astype(F32).tolist(), n
    assert isinstance(state.sources, Sources)
    out_pe = [pe for pe in state.sources.manifest["pes"] if pe["bytes"]["emitted"].get("recording")]
    assert out_pe
    for pe in out_pe:  # 100 ticks × 8 output neurons × float32: the counts, not a bitmap
        assert pe["bytes"]["emitted"]["recording"] == pe["bytes"]["predicted"]["recording"] == 100 * 8 * 4
    if shutil.which("arm-none-eabi-gcc") is None:
        return
    predicted = {pe["pe"]: pe["bytes"]["predicted"] for pe in state.sources.manifest["pes"]}
    sizes = cross_build(state.sources.write(tmp_path))
    assert sizes
    for s in sizes:
        assert s.code <= predicted[s.pe]["code"], s
        assert s.dynamic <= predicted[s.pe]["total"], s


def test_rockpool_profile_reads_the_exported_r_as_rockpool_computes() -> None:
    """Profile rockpool (dt = 1e-3) with max_spikes = 2^16. Rockpool's LIFTorch exports as
    CubaLIF(τs, τm, r = τm·e^(−dt/τm)/dt, no w_in) and computes i ← β(i + x); v ← αv + i;
    k = (v ≥ θ)·⌊v/θ⌋ spikes (up to 2^16); v ← v − k·θ (α, β the exact decays). The loop below is that
    update by hand; nir-euler reads the same file as a weaker drive."""
    dt, tau_syn, tau_mem, theta = 1e-3, 5e-3, 1e-2, 1.0
    r = F32(tau_mem * np.exp(-dt / tau_mem) / dt)  # what the exporter writes (float32 of torch)
    node = nir.CubaLIF(tau_syn=a(tau_syn), tau_mem=a(tau_mem), r=np.array([r], F32), v_leak=a(0.0),
                       v_threshold=a(theta))
    graph = nir.NIRGraph(nodes={"x": nir.Input(input_type=np.array([1])), "n": node,
                                "y": nir.Output(output_type=np.array([1]))},
                         edges=[("x", "n"), ("n", "y")], type_check=False)
    x = [3.0, 0.0, 0.0, 0.5, 2.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    alpha, beta = np.exp(-dt / tau_mem), np.exp(-dt / tau_syn)
    i = v = 0.0
    spikes, vs = [], []
    for xi in x:
        i = beta * (i + xi)
        v = alpha * v + i
        k = float(np.floor(v / theta)) if v >= theta else 0.0
        v -= k * theta
        spikes.append(k)
        vs.append(v)
    assert max(spikes) >= 2  # several spikes in one step, as Rockpool's default allows
    g = from_nir(graph, profile=profile("rockpool", max_spikes=2**16))  # Rockpool's default
    tr = simulate(g, {"x": np.asarray(x, F32).reshape(-1, 1)})
    assert tr.events["n"].ravel().tolist() == spikes
    # float32 (aedc: β·i + β·x) against this float64 loop (β·(i + x)): a few ulp per step
    np.testing.assert_allclose(tr.state["n"]["v"].ravel(), vs, atol=5e-6)
    assert float(neuron_constants(g.population("n").neuron, g.semantics)["gain"][0]) == pytest.approx(1.0,
                                                                                                     abs=2e-7)
    euler = simulate(from_nir(graph, profile="nir-euler", dt=dt), {"x": np.asarray(x, F32).reshape(-1, 1)})
    assert euler.events["n"].sum() < sum(spikes)


@pytest.mark.parametrize("kind", ["lif", "cubalif"])
def test_spyx_profile_spikes_from_the_previous_v(kind: str) -> None:
    """Profile spyx (dt = 1). Spyx's LIF: s = H(V − θ) of the previous V, then V ← βV + x − sθ; its
    CuBaLIF: s = H(V − θ), V ← V − sθ, I ← αI + x, V ← βV + I. The exporter writes LIF(τ = dt/(1 − β),
    r = β) and CubaLIF(τ_mem = dt/(1 − β), τ_syn = dt/(1 − α), r = β, no w_in). The loops below are
    Spyx's updates by hand in float32."""
    beta, alpha, theta = F32(0.75), F32(0.5), F32(1.0)
    node: nir.NIRNode = (
        nir.LIF(tau=np.array([1 / (1 - beta)], F32), r=np.array([beta]), v_leak=a(0.0), v_threshold=a(1.0))
        if kind == "lif" else
        nir.CubaLIF(tau_mem=np.array([1 / (1 - beta)], F32), tau_syn=np.array([1 / (1 - alpha)], F32),
                    r=np.array([beta]), v_leak=a(0.0), v_threshold=a(1.0)))
    graph = nir.NIRGraph(nodes={"x": nir.Input(input_type=np.array([1])), "n": node,
                                "y": nir.Output(output_type=np.array([1]))},
                         edges=[("x", "n"), ("n", "y")], type_check=False)
    x = [0.6, 0.6, 0.6, 0.0, 1.5, 0.0, 0.0, 0.9, 0.9, 0.0]
    v, i, spikes, vs = F32(0), F32(0), [], []
    for xi in map(F32, x):
        s = F32(1.0) if v - theta > 0 else F32(0.0)
        if kind == "lif":
            v = F32(F32(beta * v) + xi) - F32(s * theta)
        else:
            v = F32(v - F32(s * theta))
            i = F32(F32(alpha * i) + xi)
            v = F32(F32(beta * v) + i)
        spikes.append(float(s))
        vs.append(float(v))
    assert sum(spikes) >= 2
    g = from_nir(graph, profile="spyx")
    tr = simulate(g, {"x": np.asarray(x, F32).reshape(-1, 1)})
    assert tr.events["n"].ravel().tolist() == spikes
    np.testing.assert_allclose(tr.state["n"]["v"].ravel(), vs, atol=1e-6)
    emu = Emulator(g).run({"x": np.asarray(x, F32).reshape(-1, 1)}, metrics=False)
    assert np.asarray(emu.events["n"]).ravel().tolist() == spikes
