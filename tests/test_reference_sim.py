"""Reference simulator: each model's update against hand-written float32 loops, event rules, latencies.

The hand loops below are independent re-statements of the documented semantics (aedc.reference.simulate's
module docstring); they share no code with the simulator.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from aedc import Network
from aedc.errors import SimulationError
from aedc.reference import simulate

F = np.float32


def _single(model: str, profile: str = "nir-euler", dt: float = 1e-3, **params: float):
    net = Network("one", profile=profile, dt=dt)
    net.input("x", 1, event_rule="graded")
    net.population("n", 1, model, **params)
    net.dense("x", "n", [[1.0]])
    net.output("y", "n")
    return net.build()


X = np.array([0.0, 2.0, 0.5, 3.0, 0.0, 0.0, 4.0, 1.0, 0.0, 2.5], F)[:, None]


def test_lif_euler_matches_hand_loop() -> None:
    tau, r, vl, th, vr = 0.01, 2.0, 0.1, 1.0, -0.2
    g = _single("lif", tau=tau, r=r, v_leak=vl, v_threshold=th, v_reset=vr)
    tr = simulate(g, {"x": X})
    # parameters are stored as float32; constants are computed from them in float64, rounded once
    a = 1e-3 / float(F(tau))
    decay, gain, leak = F(1 - a), F(float(F(r)) * a), F(float(F(vl)) * a)
    v, vs, zs = F(0), [], []
    for x in X[:, 0]:
        v = F(F(decay * v) + F(gain * x)) + leak
        z = v > F(th)
        v = F(vr) if z else v
        vs.append(v)
        zs.append(float(z))
    np.testing.assert_array_equal(tr.state["n"]["v"][:, 0], np.array(vs, F))
    np.testing.assert_array_equal(tr.outputs["n"][:, 0], np.array(zs, F))
    assert tr.outputs["n"][:, 0].sum() >= 1  # the input is strong enough to make it spike


def test_lif_exact_uses_exponential_constants() -> None:
    g = _single("lif", tau=0.004, v_threshold=100.0)
    g = g.evolve(semantics=g.semantics.evolve(discretisation="exact"))
    tr = simulate(g, {"x": X})
    d = math.exp(-1e-3 / 0.004)
    v, out = 0.0, []
    for x in X[:, 0]:
        v = d * v + (1 - d) * float(x)
        out.append(v)
    np.testing.assert_allclose(tr.state["n"]["v"][:, 0], out, rtol=1e-6)


def test_threshold_comparison_and_subtract_reset() -> None:
    # IF with r*dt = 1 integrates the input exactly; input 1.0 hits threshold 1.0 exactly.
    net = Network("if", profile="sinabs")
    net.input("x", 1, event_rule="graded")
    net.population("n", 1, "if", v_threshold=1.0)
    net.dense("x", "n", [[1.0]])
    g = net.build()
    x = np.array([[1.0], [0.5], [0.75], [0.0]], F)
    tr = simulate(g, {"x": x})  # sinabs: '>=' and subtract
    np.testing.assert_array_equal(tr.outputs["n"][:, 0], [1, 0, 1, 0])
    np.testing.assert_array_equal(tr.state["n"]["v"][:, 0], [0.0, 0.5, 0.25, 0.25])
    g2 = g.evolve(semantics=g.semantics.evolve(threshold_cmp=">"))
    np.testing.assert_array_equal(simulate(g2, {"x": x}).outputs["n"][:, 0], [0, 1, 1, 0])


def test_snntorch_profile_current_first_and_late_reset() -> None:
    # snnTorch Synaptic: syn = a*syn + x; mem = b*mem + syn - reset*th; reset = mem_prev > th
    # (its NIR export sets w_in*dt/tau_syn = 1 and r*dt/tau_mem = 1: gains of exactly 1).
    dt, alpha, beta = 1e-4, 0.5, 0.75
    tau_syn, tau_mem = dt / (1 - alpha), dt / (1 - beta)
    g = _single("cuba_lif", profile="snntorch", dt=dt, tau_syn=tau_syn, tau_mem=tau_mem,
                r=tau_mem / dt, w_in=tau_syn / dt, v_threshold=1.0)
    tr = simulate(g, {"x": X})
    syn = mem = F(0)
    spk_prev, spikes, mems = F(0), [], []
    for x in X[:, 0]:
        syn = F(F(alpha) * syn + F(x))
        mem = F(F(F(beta) * mem + syn) - spk_prev * F(1.0))
        spk_prev = F(mem > 1.0)
        spikes.append(spk_prev)
        mems.append(mem)
    np.testing.assert_allclose(tr.state["n"]["v"][:, 0], mems, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(tr.outputs["n"][:, 0], spikes)
    assert sum(spikes) >= 2


def test_cuba_lif_literal_euler_uses_previous_current() -> None:
    g = _single("cuba_lif", dt=1e-3, tau_syn=2e-3, tau_mem=4e-3, v_threshold=100.0)
    tr = simulate(g, {"x": X})
    i = v = 0.0
    vs = []
    for x in X[:, 0]:
        i_new = (1 - 0.5) * i + 0.5 * float(x)
        v = (1 - 0.25) * v + 0.25 * i  # last tick's current
        i = i_new
        vs.append(v)
    np.testing.assert_allclose(tr.state["n"]["v"][:, 0], vs, rtol=1e-6)
    np.testing.assert_allclose(tr.state["n"]["i_syn"][:, 0].max(), 2.234375, rtol=1e-6)


def test_feedforward_is_same_tick_and_back_edge_next_tick() -> None:
    net = Network("chain", profile="sinabs")
    net.input("x", 1)
    net.population("a", 1, "if", v_threshold=1.0)
    net.population("b", 1, "if", v_threshold=1.0)
    net.population("c", 1, "if", v_threshold=1.0)
    net.dense("x", "a", [[1.0]])
    net.dense("a", "b", [[1.0]])
    net.dense("b", "c", [[1.0]], delay=2)
    net.dense("c", "a", [[1.0]], back_edge=True)
    g = net.build()
    x = np.zeros((8, 1), F)
    x[0] = 1
    tr = simulate(g, {"x": x})
    assert list(tr.spike_steps("b")) == [0, 3, 6]  # same tick as a: no layer latency
    assert list(tr.spike_steps("c")) == [2, 5]  # delay 2 after b
    assert list(tr.spike_steps("a")) == [0, 3, 6]  # c's spike at 2 arrives at a in tick 3


def test_events_applied_in_presynaptic_order() -> None:
    # 1e8 + 1 - 1e8 in float32 depends on the order: the contract is ascending presynaptic index.
    net = Network("order", profile="sinabs")
    net.input("x", 3, event_rule="graded")
    net.population("y", 1, "linear")
    net.dense("x", "y", [[1e8, 1.0, -1e8]])
    g = net.build()
    tr = simulate(g, {"x": np.ones((1, 3), F)})
    expected = F(F(F(F(0) + F(1e8)) + F(1.0)) + F(-1e8))
    assert tr.outputs["y"][0, 0] == expected == 0.0


def test_sigma_delta_sends_changes_and_receiver_accumulates() -> None:
    net = Network("sd", profile="sinabs")
    net.input("x", 1, event_rule="graded")
    net.population("h", 1, "relu", event_rule="sigma_delta", event_threshold=0.25)
    net.population("o", 1, "linear")
    net.dense("x", "h", [[1.0]])
    net.dense("h", "o", [[2.0]])
    g = net.build()
    x = np.array([[1.0], [1.1], [1.5], [1.5], [-1.0], [0.0]], F)
    tr = simulate(g, {"x": x})
    # changes vs last sent: 1.0 (send), 0.1 (no), 0.5 (send), 0, -1.5 (send: relu → 0), 0
    np.testing.assert_allclose(tr.events["h"][:, 0], [1.0, 0, 0.5, 0, -1.5, 0])
    np.testing.assert_allclose(tr.outputs["h"][:, 0], [1.0, 1.0, 1.5, 1.5, 0, 0])
    np.testing.assert_allclose(tr.outputs["o"][:, 0], [2.0, 2.0, 3.0, 3.0, 0, 0])
    assert tr.event_count("h") == 3


def test_bias_and_graded_relu() -> None:
    net = Network("relu", profile="sinabs")
    net.input("x", 2, event_rule="graded")
    net.population("h", 2, "relu", bias=[0.5, -1.0])
    net.dense("x", "h", [[1.0, 0.0], [0.0, 1.0]])
    tr = simulate(net.build(), {"x": np.array([[0.0, 0.5], [-1.0, 2.0]], F)})
    np.testing.assert_array_equal(tr.outputs["h"], [[0.5, 0.0], [0.0, 1.0]])
    assert tr.event_count("h") == 2


@pytest.mark.parametrize(
    ("inputs", "match"),
    [({}, "no data"), ({"x": np.zeros((3, 2), F)}, "shape"), ({"x": np.full((3, 1), np.nan, F)}, "NaN"),
     ({"x": np.zeros((3, 1), F), "z": np.zeros((3, 1), F)}, "not input")],
)
def test_bad_inputs_are_named(inputs: dict[str, np.ndarray], match: str) -> None:
    g = _single("lif", tau=0.01)
    with pytest.raises(SimulationError, match=match):
        simulate(g, inputs)


def test_binary_input_rejects_non_binary_data() -> None:
    net = Network("b")
    net.input("x", 1)
    net.population("n", 1, "lif", tau=0.01)
    net.dense("x", "n", [[1.0]])
    with pytest.raises(SimulationError, match="graded"):
        simulate(net.build(), {"x": np.full((2, 1), 0.5, F)})
