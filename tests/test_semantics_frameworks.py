"""What the frameworks compute, tick by tick, and aedc's profiles and options reproducing it (issue 14).

Oracle: each framework's own forward pass. The numbers below were produced by snnTorch 1.0.0, Sinabs
3.1.3 and Norse 1.1.0 (torch 2.13 CPU) with the calls quoted in each test, on one neuron; aedc imports
the NIR node the framework's exporter writes for that neuron (``snntorch.export_nir``: ``r = τ/dt``,
``w_in = τ_syn/dt`` at dt = 1e-4; ``sinabs.to_nir``: ``tau = tau_mem`` in steps, ``r = 1``;
``norse.torch.utils.export_nir``: ``r = 1``, ``w_in = 1``, time constants written as ``dt·τ`` —
corrected here, warned about by the importer) and runs the reference simulator. Spike ticks must be
equal and membrane traces equal to the printed precision. Then the new semantics options run bit for
bit through the reference, the JAX emulator (sync) and the host-built C. Each test names its profile.
"""

from __future__ import annotations

import shutil
import warnings

import nir
import numpy as np
import pytest

from aedc.errors import FrontendError
from aedc.frontend import SemanticsWarning, from_nir
from aedc.frontend.builder import Network
from aedc.ir.graph import Graph
from aedc.ir.options import PROFILES, Semantics, profile
from aedc.passes import DEFAULT_PIPELINE, CompileState, PassContext, PassManager, parse_pipeline
from aedc.reference import simulate

F32 = np.float32


def a(*values: float) -> np.ndarray:
    return np.array(values, F32)


def one_neuron(node: nir.NIRNode) -> nir.NIRGraph:
    return nir.NIRGraph(nodes={"x": nir.Input(input_type=np.array([1])), "n": node,
                               "y": nir.Output(output_type=np.array([1]))},
                        edges=[("x", "n"), ("n", "y")], type_check=False)


def run(graph: Graph, x: list[float] | np.ndarray) -> tuple[list[int], np.ndarray]:
    """(spike ticks, state v or presented value) of population ``n`` under the reference."""
    tr = simulate(graph, {"x": np.asarray(x, F32).reshape(-1, 1)})
    value = tr.state["n"]["v"] if "v" in tr.state.get("n", {}) else tr.outputs["n"]
    return tr.spike_steps("n").tolist(), value.ravel()


# --- 1. the bias of a recurrent Affine applies from tick 0 --------------------------------------------


def recurrent_bias() -> nir.NIRGraph:
    """snnTorch's RLeaky export shape: input → lif → w_rec → lif, here with W = 0 and b = 0.6."""
    lif = nir.LIF(tau=a(2e-4), r=a(2.0), v_leak=a(0), v_threshold=a(1.0), v_reset=a(0))
    w_rec = nir.Affine(weight=np.zeros((1, 1), F32), bias=a(0.6))
    return nir.NIRGraph(nodes={"x": nir.Input(input_type=np.array([1])), "lif": lif, "w_rec": w_rec,
                               "y": nir.Output(output_type=np.array([1]))},
                        edges=[("x", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "y")],
                        type_check=False)


# snn.RLeaky(beta=0.5, threshold=1, linear_features=1, all_to_all=True), recurrent weight 0, bias 0.6,
# zero input: mem = β·mem + x + W·spk(t-1) + b, the bias already at tick 0.
SNNTORCH_RLEAKY_SPIKES = [2, 6]
SNNTORCH_RLEAKY_MEM = [0.6, 0.9, 1.05, 0.125, 0.6625, 0.9313, 1.0656, 0.1328, 0.6664, 0.9332]


def test_recurrent_affine_bias_applies_from_tick_zero() -> None:
    """Profile snntorch, dt = 1e-4. Before the fix the whole edge w_rec → lif was the back-edge and the
    bias arrived a tick late: spikes [3, 7]; now the cut is lif → w_rec: spikes [2, 6] like snnTorch."""
    g = from_nir(recurrent_bias(), profile="snntorch", dt=1e-4)
    edges = {(p.pre, p.post): p.back_edge for p in g.projections}
    assert edges == {("x", "lif"): False, ("lif", "w_rec"): True, ("w_rec", "lif"): False}
    x = np.zeros((10, 1), F32)
    tr = simulate(g, {"x": x})
    assert tr.spike_steps("lif").tolist() == SNNTORCH_RLEAKY_SPIKES
    np.testing.assert_allclose(tr.state["lif"]["v"].ravel(), SNNTORCH_RLEAKY_MEM, atol=5e-5)
    # fuse-affine now removes w_rec: its bias joins lif's, the composed lif → lif is the back-edge
    fused = parse_pipeline(DEFAULT_PIPELINE).run(CompileState(g), PassContext()).graph
    assert [p.name for p in fused.populations] == ["x", "lif"]
    assert sorted((p.pre, p.post, p.back_edge) for p in fused.projections) == [("lif", "lif", True),
                                                                              ("x", "lif", False)]
    assert fused.population("lif").neuron.bias.tolist() == pytest.approx([0.6])
    after = simulate(fused, {"x": x})
    assert after.state["lif"]["v"].tobytes() == tr.state["lif"]["v"].tobytes()


def test_the_cut_leaves_the_loops_neuron_and_keeps_other_inputs_undelayed() -> None:
    """in → A → lif, lif → A (A also reads the input): the DFS closes the loop at lif → A, which
    already leaves the neuron; the input's path through A stays undelayed (profile nir-euler)."""
    lif = nir.LIF(tau=a(1e-2, 1e-2), r=a(1, 1), v_leak=a(0, 0), v_threshold=a(1, 1), v_reset=a(0, 0))
    g = from_nir(nir.NIRGraph(
        nodes={"in": nir.Input(input_type=np.array([2])), "A": nir.Affine(weight=np.eye(2, dtype=F32),
                                                                          bias=a(0.1, 0.2)),
               "lif": lif, "out": nir.Output(output_type=np.array([2]))},
        edges=[("in", "A"), ("A", "lif"), ("lif", "A"), ("lif", "out")], type_check=False))
    assert {(p.pre, p.post): p.back_edge for p in g.projections} == {
        ("in", "A"): False, ("lif", "A"): True, ("A", "lif"): False}


# --- 2. sinabs: LIF exact with normalised input, IAF and ExpLeak unscaled -----------------------------


def test_sinabs_lif_is_exponential_with_normalised_input() -> None:
    """sl.LIF(tau_mem=2, spike_threshold=0.7) (defaults: norm_input=True, MembraneSubtract, v >= θ),
    input 1 every step: v ← αv + (1−α)x, α = e^(−1/2). Profile sinabs. Before: forward Euler, spikes
    [1, 3, 5, 7]; Sinabs and now aedc: [2, 5]."""
    g = from_nir(one_neuron(nir.LIF(tau=a(2.0), r=a(1.0), v_leak=a(0), v_threshold=a(0.7),
                                    v_reset=a(0))), profile="sinabs")
    spikes, v = run(g, np.ones(8))
    assert spikes == [2, 5]
    np.testing.assert_allclose(v, [0.3935, 0.6321, 0.0769, 0.4401, 0.6604, 0.0940, 0.4505, 0.6667],
                               atol=1e-4)
    euler, _ = run(g.evolve(semantics=g.semantics.evolve(discretisation="euler")), np.ones(8))
    assert euler == [1, 3, 5, 7]


def test_sinabs_expleak_adds_its_input_unscaled() -> None:
    """sl.ExpLeak(tau_mem=2) (norm_input=False by default), exported as LI(tau=2, r=1): v ← αv + x.
    Profile sinabs."""
    g = from_nir(one_neuron(nir.LI(tau=a(2.0), r=a(1.0), v_leak=a(0))), profile="sinabs")
    _, v = run(g, np.ones(8))
    np.testing.assert_allclose(v, [1.0, 1.6065, 1.9744, 2.1975, 2.3329, 2.4150, 2.4647, 2.4949],
                               atol=1e-4)


def test_sinabs_iaf_integrates_steps_and_fires_at_equality() -> None:
    """sl.IAF(spike_threshold=2.5), input 1: v ← v + x, spikes [2, 4, 7]; sl.IAF(spike_threshold=1,
    spike_fn=SingleSpike), input 1: v = 1 >= 1 fires every step. Profile sinabs."""
    def iaf(th: float) -> Graph:
        return from_nir(one_neuron(nir.IF(r=a(1.0), v_threshold=a(th))), profile="sinabs")

    spikes, v = run(iaf(2.5), np.ones(8))
    assert spikes == [2, 4, 7]
    assert v.tolist() == [1.0, 2.0, 0.5, 1.5, 0.0, 1.0, 2.0, 0.5]
    assert run(iaf(1.0), np.ones(8))[0] == list(range(8))


# --- norse: LIFCell (CubaLIF) takes the input into the current unscaled, v from the new current -----

# norse.LIFCell(LIFParameters(tau_syn_inv=200, tau_mem_inv=100, v_th=0.3), dt=1e-3), input 1 at
# ticks 0 and 1: i ← i + x; v ← v + dt·τ_mem_inv·((v_leak − v) + i); i ← i − dt·τ_syn_inv·i.
NORSE_LIFCELL_SPIKES = [2, 7]
NORSE_LIFCELL_V = [0.1, 0.27, 0.0, 0.1152, 0.19584, 0.24998, 0.28397, 0.0]


def lifcell() -> nir.CubaLIF:
    """What Norse's export writes for that cell, with its τ·dt written back as τ."""
    return nir.CubaLIF(tau_syn=a(0.005), tau_mem=a(0.01), r=a(1.0), w_in=a(1.0), v_leak=a(0),
                       v_threshold=a(0.3), v_reset=a(0))


def test_norse_lifcell() -> None:
    """Profile norse (dt = 1e-3). Under nir-euler (v from last tick's current, input scaled by
    dt/τ_syn) the same node never fires."""
    x = np.zeros(30)
    x[:2] = 1.0
    spikes, v = run(from_nir(one_neuron(lifcell()), profile="norse"), x)
    assert spikes == NORSE_LIFCELL_SPIKES
    np.testing.assert_allclose(v[:8], NORSE_LIFCELL_V, atol=1e-5)
    assert run(from_nir(one_neuron(lifcell()), profile="nir-euler", dt=1e-3), x)[0] == []


def test_norse_lifbox_is_nir_euler() -> None:
    """LIFBoxCell under the norse profile is the same update as nir-euler at the same dt."""
    node = nir.LIF(tau=a(0.01), r=a(1.0), v_leak=a(0), v_threshold=a(0.3), v_reset=a(0))
    x = np.full(40, 4.0)
    norse_run = run(from_nir(one_neuron(node), profile="norse"), x)
    euler_run = run(from_nir(one_neuron(node), profile="nir-euler", dt=1e-3), x)
    assert norse_run[0] == euler_run[0]
    assert norse_run[0]
    assert norse_run[1].tobytes() == euler_run[1].tobytes()


# --- 3. warnings that name the fix --------------------------------------------------------------------


def test_norse_tau_times_dt_quirk_warns_with_the_fix() -> None:
    """norse.torch.utils.export_nir writes tau = dt/tau_mem_inv: LIFBoxCell(tau_mem_inv=100) at its
    default dt = 1e-3 gives tau = 1e-5 (decay 1 − 100 = −99 at that dt)."""
    node = nir.LIF(tau=a(1e-5), r=a(1.0), v_leak=a(0), v_threshold=a(0.3), v_reset=a(0))
    with pytest.warns(SemanticsWarning) as caught:
        from_nir(one_neuron(node), profile="norse")
    (msg,) = [str(w.message) for w in caught]
    assert "population 'n' (lif), parameter 'tau'" in msg
    assert "1 − dt/τ = -99" in msg
    assert "Norse" in msg
    assert "intended value is 1e-05 / 0.001 = 0.01 s" in msg
    with pytest.raises(FrontendError, match=r"(?s)strict import refused .*'n'.*Norse") as err:
        from_nir(one_neuron(node), profile="norse", strict=True)
    assert err.value.where == "n"
    # exact steps are stable, but a τ of a hundredth of a tick is still the quirk
    with pytest.warns(SemanticsWarning, match=r"'tau': τ = 1e-05 s = dt·0.01 s at dt = 0.001 s"):
        from_nir(one_neuron(node), profile=profile("norse", discretisation="exact"))


def test_norse_quirk_is_recognised_at_another_dt_and_in_the_synaptic_tau() -> None:
    """The LIFCell export (tau_syn = 5e-6, tau_mem = 1e-5) read at nir-euler's dt = 1e-4: both time
    constants are unstable and both are traced back to Norse's defaults at its export dt."""
    node = nir.CubaLIF(tau_syn=a(5e-6), tau_mem=a(1e-5), r=a(1.0), w_in=a(1.0), v_leak=a(0),
                       v_threshold=a(0.3), v_reset=a(0))
    with pytest.warns(SemanticsWarning) as caught:
        from_nir(one_neuron(node))
    msgs = sorted(str(w.message) for w in caught)
    assert len(msgs) == 2
    assert "'tau_mem'" in msgs[0]
    assert "= 0.01 s" in msgs[0]
    assert "'tau_syn'" in msgs[1]
    assert "= 0.005 s" in msgs[1]


def test_unstable_euler_step_warns_and_exact_does_not() -> None:
    node = nir.LIF(tau=a(5e-5, 1e-2), r=a(1, 1), v_leak=a(0, 0), v_threshold=a(1, 1), v_reset=a(0, 0))
    graph = nir.NIRGraph(nodes={"x": nir.Input(input_type=np.array([2])), "n": node,
                                "y": nir.Output(output_type=np.array([2]))},
                         edges=[("x", "n"), ("n", "y")], type_check=False)
    with pytest.warns(SemanticsWarning, match=r"'n' \(lif\).*dt/τ = 2 >= 1 for 1 of 2 neuron\(s\) "
                                              r"\(τ = 5e-05 s, dt = 0.0001 s\).*discretisation='exact'"):
        from_nir(graph)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from_nir(graph, profile=profile("nir-euler", discretisation="exact"))
        from_nir(graph, dt=1e-5, strict=True)


# --- 4. snnTorch's reset_mechanism="zero" and reset_delay=False -------------------------------------

X4 = [2.6, 2.6, 0.3, 0.3, 0.3, 1.2, 0.0, 0.0, 0.9, 0.9, 0.9, 0.9]
# snn.Leaky(beta=0.5, threshold=1, **options) and snn.Synaptic(alpha=0.5, beta=0.5, threshold=1,
# **options) on X4: (spike ticks, mem after each step).
SNNTORCH = {
    ("leaky", "subtract", True): ([0, 1, 5, 9, 11], [2.6, 2.9, 0.75, 0.675, 0.6375, 1.51875, -0.240625,
                                                     -0.120312, 0.839844, 1.319922, 0.559961, 1.17998]),
    ("leaky", "zero", True): ([0, 1, 5, 9, 11], [2.6, 2.6, 0.3, 0.45, 0.525, 1.4625, 0.0, 0.0, 0.9, 1.35,
                                                 0.9, 1.35]),
    ("leaky", "subtract", False): ([0, 1, 5, 9, 10], [1.6, 2.4, 1.5, 1.05, 0.825, 0.6125, 0.30625,
                                                      0.153125, 0.976562, 0.388281, 0.094141, 0.94707]),
    ("leaky", "zero", False): ([0, 1, 5, 9, 11], [0.0, 0.0, 0.3, 0.45, 0.525, 0.0, 0.0, 0.0, 0.9, 0.0, 0.9,
                                                  0.0]),
    ("synaptic", "subtract", True): ([0, 1, 2, 3, 4, 5, 8, 9, 10, 11],
                                     [2.6, 4.2, 3.35, 2.1, 1.0625, 1.2375, 0.471875, 0.6625, 1.444531,
                                      1.178906, 1.217773, 1.323047]),
    ("synaptic", "zero", True): ([0, 2, 4, 8, 10], [2.6, 0.0, 2.25, 0.0, 1.0125, 0.0, 0.853125, 0.853125,
                                                    1.539844, 0.0, 1.62832, 0.0]),
    ("synaptic", "subtract", False): ([0, 1, 2, 3, 5, 9, 10, 11],
                                      [1.6, 3.7, 3.1, 1.975, 2.0, 1.70625, 1.70625, 1.279688, 1.753125,
                                       1.333203, 1.294922, 1.361621]),
    ("synaptic", "zero", False): ([0, 1, 2, 3, 4, 5, 8, 9, 10, 11],
                                  [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.853125, 0.853125, 0.0, 0.0, 0.0, 0.0]),
}


def snntorch_semantics(reset: str, reset_delay: bool) -> Semantics:
    """snnTorch's ``reset_mechanism`` and ``reset_delay`` as aedc options of the snntorch profile."""
    return profile("snntorch", dt=1e-4, reset=reset, reset_next_tick=reset_delay,
                   reset_recheck=not reset_delay)


@pytest.mark.parametrize("key", sorted(SNNTORCH), ids=lambda k: f"{k[0]}-{k[1]}-delay{k[2]}")
def test_snntorch_reset_mechanisms(key: tuple[str, str, bool]) -> None:
    """Profile snntorch with reset / reset_next_tick / reset_recheck set as snnTorch's options.
    Before: reset 'zero' did not exist and reset_delay=False read as a plain same-tick reset — Leaky
    subtract then spikes at [0, 1, 2, 5, 9, 10] (tick 2: v = 1.2 + 0.3 crosses, where snnTorch's
    re-applied reset keeps it below θ and undoes itself)."""
    kind, reset, delay = key
    node: nir.NIRNode = (
        nir.LIF(tau=a(2e-4), r=a(2.0), v_leak=a(0), v_threshold=a(1.0), v_reset=a(0)) if kind == "leaky"
        else nir.CubaLIF(tau_syn=a(2e-4), tau_mem=a(2e-4), r=a(2.0), w_in=a(2.0), v_leak=a(0),
                         v_threshold=a(1.0), v_reset=a(0)))
    g = from_nir(one_neuron(node), profile=snntorch_semantics(reset, delay))
    spikes, v = run(g, X4)
    want_spikes, want_mem = SNNTORCH[key]
    assert spikes == want_spikes
    np.testing.assert_allclose(v, want_mem, atol=2e-6)


def test_plain_same_tick_reset_differs_from_reset_delay_false() -> None:
    g = from_nir(one_neuron(nir.LIF(tau=a(2e-4), r=a(2.0), v_leak=a(0), v_threshold=a(1.0),
                                    v_reset=a(0))), profile=profile("snntorch", dt=1e-4,
                                                                     reset_next_tick=False))
    assert run(g, X4)[0] == [0, 1, 2, 5, 9, 10]


def test_recheck_needs_a_same_tick_subtract_or_zero_reset() -> None:
    with pytest.raises(ValueError, match="reset_recheck"):
        Semantics(reset="to_v_reset", reset_recheck=True)
    with pytest.raises(ValueError, match="reset_recheck"):
        PROFILES["snntorch"].evolve(reset_recheck=True)  # the preset resets one tick late
    with pytest.raises(ValueError, match="unscaled_input names"):
        Semantics(unscaled_input=("threshold",))


FAST = ("verify,fold-scale,fuse-affine,dce,slice{max-neurons=16,min-neurons=4},place{solver=greedy},"
        "route,emit-c")
OPTION_CASES: list[dict[str, object]] = [
    {"reset": "zero", "reset_next_tick": True}, {"reset": "zero", "reset_recheck": True},
    {"reset": "subtract", "reset_recheck": True},
    {"reset": "zero", "unscaled_input": ("lif", "if")},
    {"reset": "to_v_reset", "reset_next_tick": True, "unscaled_input": ("cuba_lif",)},
    {"reset": "none", "reset_next_tick": True},
    {"reset": "zero", "reset_next_tick": True, "zero_after_update": True},
    {"reset": "subtract", "max_spikes": 3}, {"reset": "subtract", "max_spikes": 2**24, "v_min": -0.3},
    {"reset": "zero", "max_spikes": 2**16, "threshold_cmp": ">="}, {"reset": "subtract", "v_min": -0.2},
    {"reset": "subtract", "discretisation": "exact", "threshold_cmp": ">=", "gain_reading": "rockpool",
     "max_spikes": 2**16},
    {"reset": "subtract", "reset_next_tick": True, "gain_reading": "spyx", "spike_from_previous": True,
     "cuba_reset_before_update": True},
]
"""Semantics options (on top of current_first, dt = 1e-3) run through every backend."""


def option_net(**options: object) -> Graph:
    """Spiking input → LIF (recurrent, delayed) → CubaLIF, IF and ALIF: several PEs each."""
    rng = np.random.default_rng(7)
    sem = Semantics(profile="custom", dt=1e-3, current_first=True, **options)  # type: ignore[arg-type]
    unscaled = sem.unscaled_input
    net = Network("options", semantics=sem)
    rule = sem.spike_event_rule
    x = net.input("x", 24)
    h = net.population("h", 40, "lif", tau=8e-3, v_threshold=0.5, event_rule=rule)
    net.dense(x, h, rng.normal(0.5, 0.4, (40, 24)).astype(F32))
    net.dense(h, h, rng.normal(0.0, 0.3, (40, 40)).astype(F32), delay=1)
    outs = {"c": ("cuba_lif", {"tau_syn": 4e-3, "tau_mem": 8e-3, "v_threshold": 0.3}),
            "i": ("if", {"r": 60.0, "v_threshold": 0.6}),
            "al": ("alif", {"tau": 8e-3, "tau_adapt": 0.05, "beta": 0.4, "v_threshold": 0.3})}
    for name, (model, params) in outs.items():
        if model in unscaled:
            params = {**params, "r": 0.06} if model == "if" else params
        pop = net.population(name, 20, model, event_rule=rule, **params)
        net.dense(h, pop, rng.normal(0.4, 0.4, (20, 40)).astype(F32))
        net.output(name, pop)
    return net.build()


def _case_id(case: dict[str, object]) -> str:
    return "-".join(f"{k}={len(v) if isinstance(v, tuple) else v}" for k, v in case.items())


@pytest.mark.parametrize("case", OPTION_CASES, ids=_case_id)
def test_new_options_bit_identical_across_backends(case: dict[str, object]) -> None:
    """Reference = emulator (sync) = host C, events and every state variable bit for bit; a spike
    count (max_spikes > 1) is the graded payload its receivers multiply their weights by."""
    from aedc.emulator import Emulator, PlacedProgram

    state = PassManager(FAST).run(CompileState(graph=option_net(**case)), PassContext())
    assert state.placement is not None
    inp = {"x": (np.random.default_rng(3).random((40, 24)) < 0.3).astype(F32)}
    ref = simulate(state.graph, inp)
    assert all(ref.events[n].sum() > 10 for n in ("h", "c", "i", "al")), "every layer must spike"
    sem = state.graph.semantics
    if sem.multi_spike:
        assert ref.events["h"].max() >= 2, "the case must produce counts above 1"
    if sem.v_min is not None:
        assert ref.state["h"]["v"].min() == pytest.approx(sem.v_min, abs=1e-6), "the clip must bite"
    emu = Emulator(PlacedProgram.from_placement(state.graph, state.placement)).run(inp, metrics=False)
    for n in ("h", "c", "i", "al"):
        assert np.asarray(emu.events[n], F32).tobytes() == ref.events[n].reshape(40, -1).tobytes(), n
        for var, trace in ref.state[n].items():
            assert np.asarray(emu.state[n][var], F32).tobytes() == trace.tobytes(), (n, var)
    if shutil.which("gcc") is None:
        pytest.skip("needs a host C compiler")
    from aedc.codegen.host import run_host

    got = run_host(state, inp)
    for n in ("h", "c", "i", "al"):
        assert ref.events[n].tobytes() == got.events[n].tobytes(), n
        for var, trace in ref.state[n].items():
            assert trace.tobytes() == got.state[n][var].tobytes(), (n, var)
