"""The plain-Python oracle of the event-driven schedule (tests/event_oracle.py) against its contract
(the docstring of aedc.timing.event): its special cases against the layer-synchronous reference, hand-
worked micro-step orders, the random policy's hash, the scope it refuses, and mutated copies of the
oracle that these tests must catch. Float32 arrays are compared by their bytes."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import event_oracle
import numpy as np
import pytest
from event_oracle import EventTrace, priority, simulate_event
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import SPIKING_MODELS, graphs, graphs_with_inputs, inputs_for

from aedc.errors import TimingError
from aedc.frontend.builder import Network
from aedc.ir import PROFILES, Dense, Graph, Population, Projection, Semantics, topo_order, verify
from aedc.ir.neurons import NEURON_MODELS
from aedc.reference.simulate import Trace, simulate
from aedc.timing.event import event_priority

F32 = np.float32
PROFILE_NAMES = tuple(p for p in ("nir-euler", "snntorch", "sinabs", "norse") if p in PROFILES)
GRADED_MODELS = ("li", "cuba_li", "integrator", "linear", "relu")
Sim = Callable[..., EventTrace]
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a, F32).tobytes()


def flat(a: np.ndarray) -> np.ndarray:
    return a.reshape(a.shape[0], -1)


def differences(graph: Graph, trace: EventTrace, ref: Trace) -> list[str]:
    """Which arrays of ``trace`` differ from the reference's, bit for bit."""
    out = []
    for pop in graph.populations:
        n = pop.name
        if bits(trace.events[n]) != bits(flat(ref.events[n])):
            out.append(f"events[{n}]")
        if bits(trace.outputs[n]) != bits(flat(ref.outputs[n])):
            out.append(f"outputs[{n}]")
        out += [f"state[{n}][{v}]" for v in pop.neuron.STATE
                if bits(trace.state[n][v]) != bits(flat(ref.state[n][v]))]
    return out


def depths(graph: Graph) -> dict[str, int]:
    """Longest path of latency-0 projections from a non-input population (input populations: -1)."""
    pops = graph.pop_map()
    d: dict[str, int] = {}
    for name in topo_order(graph):
        if pops[name].is_input:
            d[name] = -1
            continue
        preds = [pr.pre for pr in graph.incoming(name) if pr.latency == 0 and not pops[pr.pre].is_input]
        d[name] = 1 + max((d[p] for p in preds), default=-1)
    return d


# --------------------------------------------------------------------------------------------------
# the random policy's hash


def test_priority_is_the_contract_hash() -> None:
    rng = np.random.default_rng(7)
    ids = np.concatenate([np.arange(300, dtype=np.uint64), rng.integers(0, 2**32 - 1, 200, dtype=np.uint64)])
    for seed, step, m in ((0, 0, 0), (1, 2, 3), (2**32 - 1, 10**6, 63), (123456789, 7, 2**31)):
        want = event_priority(seed, step, m, ids)
        got = [priority(seed, step, m, int(n)) for n in ids]
        assert got == want.tolist()
    assert [priority(0, 0, 0, n) for n in range(3)] == [0, 3749358279, 3050391475]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.integers(0, 2**32 - 1), st.integers(0, 2**20), st.integers(0, 255),
       st.lists(st.integers(0, 2**31), min_size=1, max_size=20))
def test_priority_equals_event_priority(seed: int, step: int, m: int, ids: list[int]) -> None:
    assert [priority(seed, step, m, n) for n in ids] == event_priority(seed, step, m, np.array(ids)).tolist()


# --------------------------------------------------------------------------------------------------
# special cases equal to the layer-synchronous reference


def _readout_params(rng: np.random.Generator, model: str, n: int, dt: float) -> dict[str, np.ndarray]:
    draw = {"tau": lambda: rng.uniform(1, 100, n) * dt, "tau_syn": lambda: rng.uniform(1, 100, n) * dt,
            "tau_mem": lambda: rng.uniform(1, 100, n) * dt, "v_leak": lambda: rng.uniform(-0.5, 0.5, n),
            "r": lambda: rng.uniform(0.5, 2.0, n) / (dt if model == "integrator" else 1.0),
            "w_in": lambda: rng.uniform(0.5, 2.0, n), "bias": lambda: rng.uniform(-0.25, 0.5, n)}
    return {p: np.asarray(draw[p](), F32) for p in NEURON_MODELS[model].PARAMS}


@st.composite
def layered_cases(draw: st.DrawFn) -> tuple[Graph, dict[str, np.ndarray], dict[str, np.ndarray] | None]:
    """Random spiking graphs (delays, back edges, self-loops, every connectivity kind), some graded
    inputs turned sigma-delta, sometimes a graded readout, sometimes a random placement on 3 PEs."""
    graph, inputs = draw(graphs_with_inputs(T=6, models=SPIKING_MODELS, profiles=PROFILE_NAMES,
                                            max_pops=5, max_size=12))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    pops, projs = list(graph.populations), list(graph.projections)
    for i, p in enumerate(pops):
        if p.is_input and p.event_rule == "graded" and draw(st.booleans()):
            pops[i] = p.model_copy(update={"event_rule": "sigma_delta"})
    if draw(st.booleans()):
        model = draw(st.sampled_from(GRADED_MODELS))
        src = draw(st.sampled_from([p for p in pops if not p.is_input]))
        n = draw(st.integers(1, 4))
        rule = draw(st.sampled_from(("graded", "sigma_delta")))
        pops.append(Population(name="readout", shape=(n,), event_rule=rule,
                               event_threshold=0.05 if rule == "sigma_delta" else 0.0,
                               neuron=NEURON_MODELS[model](**_readout_params(rng, model, n,
                                                                            graph.semantics.dt))))
        projs.append(Projection(name="to readout", pre=src.name, post="readout",
                                conn=Dense(weight=rng.uniform(-0.75, 1.25, (n, src.size)).astype(F32)),
                                delay=draw(st.sampled_from((0, 0, 1)))))
    graph = verify(graph.model_copy(update={"populations": tuple(pops), "projections": tuple(projs)}))
    pe_of = ({p.name: rng.integers(0, 3, p.size) for p in pops if not p.is_input}
             if draw(st.booleans()) else None)
    return graph, inputs, pe_of


@SETTINGS
@given(layered_cases())
def test_layered_with_unbounded_k_equals_the_reference(
        case: tuple[Graph, dict[str, np.ndarray], dict[str, np.ndarray] | None]) -> None:
    graph, inputs, pe_of = case
    trace = simulate_event(graph, inputs, pe_of=pe_of, events_per_step=0, layered=True)
    assert differences(graph, trace, simulate(graph, inputs)) == []
    # every population integrates and fires in the micro-step of its topological depth
    d = depths(graph)
    for name, ms in trace.microstep.items():
        assert np.array_equal(ms, np.where(trace.events[name] > 0, d[name], -1)), name
    assert trace.microsteps.tolist() == [max(d.values()) + 1] * 6
    assert not trace.overflow.any()


@st.composite
def quiet_chains(draw: st.DrawFn) -> tuple[Graph, dict[str, np.ndarray]]:
    """Feed-forward chains (one projection into each population, some delayed) of LIF/IF/Threshold
    neurons that cannot cross on zero input (no bias, no leak, reset to ``v_reset <= 0`` in the tick of
    the spike, ``>``): each layer's whole input arrives in one micro-step. Weights and inputs are
    arbitrary floats of either sign."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    sem = draw(st.sampled_from((PROFILES["nir-euler"],
                                Semantics(profile="custom", dt=1e-3, discretisation="exact"))))
    dt = sem.dt
    net = Network("chain", semantics=sem)
    rule = draw(st.sampled_from(("binary", "graded")))
    n_prev = draw(st.integers(1, 8))
    prev = net.input("x", n_prev, event_rule=rule)
    for layer in range(draw(st.integers(1, 4))):
        model = draw(st.sampled_from(("lif", "if", "threshold")))
        n = draw(st.integers(1, 8))
        params: dict[str, Any] = {"threshold": rng.uniform(0.25, 2, n)} if model == "threshold" else {
            "v_threshold": rng.uniform(0.25, 2, n), "v_reset": rng.uniform(-0.5, 0, n),
            "r": rng.uniform(0.5, 2, n) / (dt if model == "if" else 1.0)}
        if model == "lif":
            params["tau"] = rng.uniform(1, 100, n) * dt
        name = net.population(f"h{layer}", n, model, **params)
        net.dense(prev, name, rng.uniform(-0.75, 1.25, (n, n_prev)).astype(F32),
                  delay=draw(st.sampled_from((0, 0, 0, 1, 2))))
        prev, n_prev = name, n
    net.output("y", prev)
    graph = net.build()
    x = rng.random((8, graph.population("x").size))
    data = (x < 0.4) if rule == "binary" else np.where(x < 0.5, 0, rng.uniform(-1, 2, x.shape))
    return graph, {"x": data.astype(F32)}


@SETTINGS
@given(quiet_chains())
def test_feed_forward_chain_with_unbounded_k_equals_the_reference(
        case: tuple[Graph, dict[str, np.ndarray]]) -> None:
    graph, inputs = case
    trace = simulate_event(graph, inputs)
    assert differences(graph, trace, simulate(graph, inputs)) == []
    d = depths(graph)
    for name, ms in trace.microstep.items():  # a layer fires in one micro-step: its depth
        assert np.array_equal(ms, np.where(trace.events[name] > 0, d[name], -1)), name


def _excitatory(graph: Graph) -> Graph:
    projs = tuple(pr.model_copy(update={"conn": pr.conn.model_copy(
        update={"weight": np.abs(pr.conn.weight).astype(F32)})}) if hasattr(pr.conn, "weight") else pr
        for pr in graph.projections)
    return verify(graph.model_copy(update={"projections": projs}))


@SETTINGS
@given(st.data())
def test_excitatory_exact_graphs_with_unbounded_k_equal_the_reference(data: st.DataObject) -> None:
    """With weights and inputs ``k/8 >= 0`` float32 sums are exact in any order and a candidate membrane
    only grows within a step, so a neuron that crosses on part of its input crosses on all of it: with
    k = 0 any graph (skips, delays, back edges) fires exactly the reference's spikes."""
    graph = _excitatory(data.draw(graphs(models=SPIKING_MODELS, profiles=PROFILE_NAMES,
                                         exact_weights=True, max_pops=5, max_size=12)))
    if data.draw(st.booleans()):  # the semantics fields the contract names, drawn one by one
        graph = graph.model_copy(update={"semantics": graph.semantics.evolve(
            profile="custom", discretisation=data.draw(st.sampled_from(("euler", "exact"))),
            reset=data.draw(st.sampled_from(("to_v_reset", "subtract"))),
            threshold_cmp=data.draw(st.sampled_from((">", ">="))), current_first=data.draw(st.booleans()),
            reset_next_tick=data.draw(st.booleans()))})
    inputs = {k: np.abs(v) for k, v in data.draw(inputs_for(graph, 6, exact=True)).items()}
    trace = simulate_event(graph, inputs)
    assert differences(graph, trace, simulate(graph, inputs)) == []


# --------------------------------------------------------------------------------------------------
# hand-worked micro-steps (sinabs IF: v' = v + x, spike on v >= 1, subtract reset)


def _sinabs() -> Network:
    return Network("hand", profile="sinabs")


def check_three_layer_chain(sim: Sim) -> None:
    net = _sinabs()
    net.input("x", 1)
    for pre, post in (("x", "a"), ("a", "b"), ("b", "c")):
        net.population(post, 1, "if")
        net.dense(pre, post, [[1.0]])
    graph = net.build()
    inputs = {"x": np.array([[1], [0]], F32)}
    trace, ref = sim(graph, inputs), simulate(graph, inputs)
    # within ONE time step the spike crosses all three layers, one micro-step each
    assert {n: trace.microstep[n].ravel().tolist() for n in "abc"} == \
        {"a": [0, -1], "b": [1, -1], "c": [2, -1]}
    assert trace.microsteps.tolist() == [3, 1]
    # the reference fires the three layers in the same step too (layer by layer)
    assert all(ref.events[n].ravel().tolist() == [1, 0] for n in "abc")
    assert differences(graph, trace, ref) == []
    assert sim(graph, inputs, layered=True).microstep["c"].ravel().tolist() == [2, -1]


def test_three_layer_chain_fires_layer_l_in_micro_step_l() -> None:
    check_three_layer_chain(simulate_event)


def _skip_net() -> Graph:
    """x → a → b (weight −1) and the skip x → b (weight +1)."""
    net = _sinabs()
    net.input("x", 1)
    net.population("a", 1, "if")
    net.population("b", 1, "if")
    net.dense("x", "a", [[1.0]])
    net.dense("a", "b", [[-1.0]])
    net.dense("x", "b", [[1.0]])
    return net.build()


def check_skip_connection(sim: Sim) -> None:
    graph = _skip_net()
    inputs = {"x": np.array([[1], [0]], F32)}
    trace, ref = sim(graph, inputs), simulate(graph, inputs)
    # micro-step 0: b has the skip's +1 only, v = 1 >= 1: it fires; a's −1 arrives in micro-step 1.
    # End of step 0: whole input 1 − 1 = 0, fired, subtract reset: v = 0 − 1 = −1; step 1: v = −1.
    assert trace.events["b"].ravel().tolist() == [1, 0]
    assert trace.microstep["b"].ravel().tolist() == [0, -1]
    assert trace.state["b"]["v"].ravel().tolist() == [-1.0, -1.0]
    # the reference sees 1 − 1 = 0 at once: no spike, v = 0
    assert ref.events["b"].ravel().tolist() == [0, 0]
    assert ref.state["b"]["v"].ravel().tolist() == [0.0, 0.0]
    # layered: b waits for a (depth 1) and is the reference again
    assert differences(graph, sim(graph, inputs, layered=True), ref) == []


def test_skip_connection_fires_early_on_partial_input() -> None:
    check_skip_connection(simulate_event)


def test_bias_crossing_before_inhibition_breaks_even_a_chain() -> None:
    """The contract's "a feed-forward chain with k = 0 equals the reference" needs that no neuron
    crosses before its input arrives: micro-step 0 tests every neuron on its bias alone."""
    net = _sinabs()
    net.input("x", 1)
    net.population("a", 1, "if")
    net.population("b", 1, "if", bias=1.0)
    net.dense("x", "a", [[1.0]])
    net.dense("a", "b", [[-1.0]])
    graph = net.build()
    inputs = {"x": np.array([[1]], F32)}
    trace, ref = simulate_event(graph, inputs), simulate(graph, inputs)
    assert (trace.microstep["b"].item(), trace.state["b"]["v"].item()) == (0, -1.0)  # 0 + 1 − 1 − 1
    assert (ref.events["b"].item(), ref.state["b"]["v"].item()) == (0.0, 0.0)


def _contention_net() -> Graph:
    """Inputs x0, x1; relay r (x0 → r, 1.0); p = (p0, p1, p2) on one PE with r → p0 (1.5),
    x1 → p1 (1.25), x1 → p2 (2.0). p1 and p2 become candidates in micro-step 0 with margins 0.25 and
    1.0, p0 in micro-step 1 with margin 0.5. Global ids: x 0–1, r 2, p 3–5."""
    net = _sinabs()
    net.input("x", 2)
    net.population("r", 1, "if")
    net.population("p", 3, "if")
    net.sparse("x", "r", [0], [0], [1.0])
    net.sparse("r", "p", [0], [0], [1.5])
    net.sparse("x", "p", [1, 1], [1, 2], [1.25, 2.0])
    return net.build()


def _p_microsteps(trace: EventTrace) -> list[int]:
    return trace.microstep["p"][0].tolist()


def check_k1_policies(sim: Sim) -> None:
    graph = _contention_net()
    inputs = {"x": np.array([[1, 1]], F32)}
    run = {pol: sim(graph, inputs, events_per_step=1, policy=pol)
           for pol in ("arrival", "momentum")}
    # arrival: p1, p2 tie in micro-step 0 → PE order p1; then p2 (candidate since 0) before p0 (since 1)
    assert _p_microsteps(run["arrival"]) == [2, 0, 1]
    # momentum: p2 (1.0) first; then p0 (0.5) before p1 (0.25)
    assert _p_microsteps(run["momentum"]) == [1, 2, 0]
    # unbounded k: p1, p2 at once, p0 when r's spike arrives
    assert _p_microsteps(sim(graph, inputs)) == [1, 0, 0]
    for trace in run.values():  # the order changes the micro-steps, not the end state
        assert trace.state["p"]["v"][0].tolist() == [0.5, 0.25, 1.0]
        assert (trace.microsteps.tolist(), trace.overflow.tolist()) == ([3], [0])
    orders = set()
    for seed in range(8):
        # random: the lower documented hash of (seed, step 0, micro-step, global id) fires first
        first = 4 if event_priority(seed, 0, 0, np.array([4]))[0] < event_priority(
            seed, 0, 0, np.array([5]))[0] else 5
        other = 9 - first
        second = other if event_priority(seed, 0, 1, np.array([other]))[0] < event_priority(
            seed, 0, 1, np.array([3]))[0] else 3
        third = ({3, 4, 5} - {first, second}).pop()
        want = [0, 0, 0]
        for m, gid in enumerate((first, second, third)):
            want[gid - 3] = m
        got = _p_microsteps(sim(graph, inputs, events_per_step=1, policy="random", seed=seed))
        assert got == want, seed
        orders.add(tuple(got))
    assert len(orders) > 1  # the seed matters


def test_k1_arrival_momentum_and_random_orders() -> None:
    check_k1_policies(simulate_event)


def test_k_is_a_budget_per_pe() -> None:
    graph = _contention_net()
    inputs = {"x": np.array([[1, 1]], F32)}
    # p2 on its own PE: p1 and p2 both fire in micro-step 0
    split = {"r": np.array([1]), "p": np.array([2, 2, 3])}
    assert _p_microsteps(simulate_event(graph, inputs, pe_of=split, events_per_step=1)) == [1, 0, 0]
    # r shares p's PE and comes first in graph order: it fires in 0, p1 in 1, p2 in 2, p0 (its
    # candidate since micro-step 1, after r's spike arrived) in 3
    shared = {"r": np.array([0]), "p": np.array([0, 0, 0])}
    trace = simulate_event(graph, inputs, pe_of=shared, events_per_step=1)
    assert (trace.microstep["r"].item(), _p_microsteps(trace)) == (0, [3, 1, 2])
    assert trace.microsteps.tolist() == [4]


def check_dropped_candidate(sim: Sim) -> None:
    """READING 1: p1 waits (k = 1, p0 first by PE order), inhibition brings it below threshold in
    micro-step 1, so it is no candidate; excitation in micro-step 2 makes it a candidate anew."""
    net = _sinabs()
    net.input("x", 2)
    net.population("p", 2, "if")
    net.population("r", 1, "if")
    net.population("s", 1, "if")
    net.sparse("x", "p", [0, 0], [0, 1], [2.0, 3.0])
    net.sparse("x", "r", [1], [0], [1.0])
    net.dense("r", "p", [[0.0], [-3.0]])
    net.dense("r", "s", [[1.0]])
    net.dense("s", "p", [[0.0], [3.0]])
    graph = net.build()
    inputs = {"x": np.array([[1, 1]], F32)}
    trace = sim(graph, inputs, events_per_step=1)
    assert trace.microstep["p"][0].tolist() == [0, 2]
    assert trace.state["p"]["v"][0].tolist() == [1.0, 2.0]  # 2 − 1 and 3 − 3 + 3 − 1
    # momentum: p1 (margin 2) first, p0 (margin 1, never inhibited) next
    assert sim(graph, inputs, events_per_step=1, policy="momentum").microstep["p"][0].tolist() \
        == [1, 0]


def test_a_waiting_candidate_that_no_longer_crosses_is_dropped() -> None:
    check_dropped_candidate(simulate_event)


def test_refractory_a_neuron_fires_at_most_once_per_step() -> None:
    """n fires on x's +1 in micro-step 0; r's +5 arrives in micro-step 1 and keeps it above threshold,
    but it stays refractory: one spike, one reset (v = 6 − 1 = 5), then one spike per step while
    v >= 1."""
    net = _sinabs()
    net.input("x", 1)
    net.population("n", 1, "if")
    net.population("r", 1, "if")
    net.dense("x", "n", [[1.0]])
    net.dense("x", "r", [[1.0]])
    net.dense("r", "n", [[5.0]])
    graph = net.build()
    inputs = {"x": np.array([[1], [0], [0], [0], [0], [0], [0]], F32)}
    trace = simulate_event(graph, inputs)
    assert trace.events["n"].ravel().tolist() == [1, 1, 1, 1, 1, 1, 0]
    assert trace.microstep["n"].ravel().tolist() == [0, 0, 0, 0, 0, 0, -1]
    assert trace.state["n"]["v"].ravel().tolist() == [5, 4, 3, 2, 1, 0, 0]
    assert trace.microsteps.tolist() == [2, 1, 1, 1, 1, 1, 1]


def test_overflow_when_micro_steps_run_out() -> None:
    net = _sinabs()
    net.input("x", 3)
    net.population("p", 3, "if")
    net.one_to_one("x", "p", [2.0, 3.0, 4.0])
    graph = net.build()
    inputs = {"x": np.array([[1, 1, 1], [0, 0, 0]], F32)}
    trace = simulate_event(graph, inputs, events_per_step=1, max_microsteps=1)
    # one spike per micro-step, one micro-step: p0 fires, p1 and p2 overflow (not fired, not reset)
    assert trace.events["p"].tolist() == [[1, 0, 0], [1, 0, 0]]
    assert trace.overflow.tolist() == [2, 2]
    assert trace.microsteps.tolist() == [1, 1]
    assert trace.state["p"]["v"].tolist() == [[1, 3, 4], [0, 3, 4]]
    two = simulate_event(graph, inputs, events_per_step=1, max_microsteps=2)
    assert two.microstep["p"][0].tolist() == [0, 1, -1]
    assert two.overflow.tolist()[0] == 1
    assert simulate_event(graph, inputs, events_per_step=1).overflow.tolist() == [0, 0]


def test_spikes_in_flight_after_the_last_micro_step_are_not_integrated() -> None:
    """READING 4: with 2 micro-steps b's spike (micro-step 1) would reach c in micro-step 2: c never
    integrates it (v stays 0) and it is no overflow."""
    net = _sinabs()
    net.input("x", 1)
    for pre, post in (("x", "a"), ("a", "b"), ("b", "c")):
        net.population(post, 1, "if")
        net.dense(pre, post, [[1.0]])
    graph = net.build()
    trace = simulate_event(graph, {"x": np.array([[1], [0]], F32)}, max_microsteps=2)
    assert [trace.microstep[n][0].item() for n in "abc"] == [0, 1, -1]
    assert trace.state["c"]["v"].ravel().tolist() == [0.0, 0.0]
    assert (trace.overflow.tolist(), trace.microsteps.tolist()) == ([0, 0], [2, 1])


# --------------------------------------------------------------------------------------------------
# ALIF and the reset rules: fired early on x0's +4, r's −4 (from x1) arrives in micro-step 1


def _early_fire_net(model: str, sem: Semantics, **params: Any) -> Graph:
    """x0 → n (+4); x1 → r (IF, threshold 0.5) → n (−4). Euler with dt = 1, tau = 2: decay = gain =
    0.5, leak = 0."""
    net = Network("early", semantics=sem)
    net.input("x", 2)
    net.population("n", 1, model, tau=2.0, **params)
    net.population("r", 1, "if", v_threshold=0.5)
    net.sparse("x", "n", [0], [0], [4.0])
    net.sparse("x", "r", [1], [0], [1.0])
    net.dense("r", "n", [[-4.0]])
    return net.build()


def _custom(**kw: Any) -> Semantics:
    return Semantics(profile="custom", dt=1.0, discretisation="euler", **kw)


def test_alif_threshold_of_the_step_start_and_adaptation_by_the_fired_flag() -> None:
    graph = _early_fire_net("alif", _custom(reset="subtract"), tau_adapt=4.0, beta=0.5)
    inputs = {"x": np.array([[1, 1], [1, 0], [1, 0]], F32)}
    trace, ref = simulate_event(graph, inputs), simulate(graph, inputs)
    # step 0: candidate v = 0.5·4 = 2 > θ = 1 → fires in micro-step 0; whole input 0 → v = 0 − 1 = −1,
    #         a = 0.75·0 + 1 = 1
    # step 1: v = 0.5·(−1) + 2 = 1.5, θ = 1 + 0.5·1 = 1.5: not > θ; a = 0.75
    # step 2: v = 0.5·1.5 + 2 = 2.75 > θ = 1.375 → fires, v = 1.375, a = 0.5625 + 1 = 1.5625
    assert trace.events["n"].ravel().tolist() == [1, 0, 1]
    assert trace.microstep["n"].ravel().tolist() == [0, -1, 0]
    assert trace.state["n"]["v"].ravel().tolist() == [-1.0, 1.5, 1.375]
    assert trace.state["n"]["a"].ravel().tolist() == [1.0, 0.75, 1.5625]
    # the reference: step 0 input 0; step 1 v = 2 > 1 → v = 1, a = 1; step 2 v = 2.5 > 1.5 → v = 1
    assert ref.events["n"].ravel().tolist() == [0, 1, 1]
    assert ref.state["n"]["v"].ravel().tolist() == [0.0, 1.0, 1.0]
    assert ref.state["n"]["a"].ravel().tolist() == [0.0, 1.0, 1.75]
    assert differences(graph, simulate_event(graph, inputs, layered=True), ref) == []


def test_reset_to_v_reset_follows_the_fired_flag() -> None:
    graph = _early_fire_net("lif", _custom(), v_reset=-0.5)
    inputs = {"x": np.array([[1, 1], [0, 0]], F32)}
    trace = simulate_event(graph, inputs)
    # fired in micro-step 0 on v = 2; the whole input 0 gives v = 0, reset to −0.5; then 0.5·(−0.5)
    assert trace.events["n"].ravel().tolist() == [1, 0]
    assert trace.state["n"]["v"].ravel().tolist() == [-0.5, -0.25]
    assert simulate(graph, inputs).state["n"]["v"].ravel().tolist() == [0.0, 0.0]


def test_reset_one_step_late_follows_the_fired_flag() -> None:
    graph = _early_fire_net("lif", _custom(reset="subtract", reset_next_tick=True, current_first=True))
    inputs = {"x": np.array([[1, 1], [0, 0], [0, 0]], F32)}
    trace = simulate_event(graph, inputs)
    # step 0 fires (v = 2 in micro-step 0), ends at v = 0 with no reset yet; step 1: v = 0.5·0 = 0, then
    # the late reset of step 0's spike: 0 − 1 = −1; step 2: −0.5
    assert trace.events["n"].ravel().tolist() == [1, 0, 0]
    assert trace.state["n"]["v"].ravel().tolist() == [0.0, -1.0, -0.5]
    assert simulate(graph, inputs).state["n"]["v"].ravel().tolist() == [0.0, 0.0, 0.0]


# --------------------------------------------------------------------------------------------------
# invariants of any run


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(graphs_with_inputs(T=5, models=SPIKING_MODELS, profiles=PROFILE_NAMES, max_pops=5, max_size=10),
       st.integers(0, 2), st.sampled_from(("arrival", "momentum", "random")),
       st.sampled_from((1, 2, 3, 64)), st.booleans(), st.integers(0, 2**32 - 1))
def test_invariants(case: tuple[Graph, dict[str, np.ndarray]], k: int, policy: str, M: int,
                    layered: bool, seed: int) -> None:
    graph, inputs = case
    rng = np.random.default_rng(seed)
    pe_of = {p.name: rng.integers(0, 2, p.size) for p in graph.populations if not p.is_input}
    run = {"pe_of": pe_of, "events_per_step": k, "policy": policy, "seed": seed, "max_microsteps": M,
           "layered": layered}
    trace = simulate_event(graph, inputs, **run)
    assert ((trace.microsteps >= 1) & (trace.microsteps <= M)).all()
    assert (trace.microsteps[trace.overflow > 0] == M).all()
    if k == 0:
        assert not trace.overflow.any()
    for name, ms in trace.microstep.items():
        ev = trace.events[name]
        assert set(np.unique(ev).tolist()) <= {0.0, 1.0}
        assert np.array_equal(ev > 0, ms >= 0)
        assert (ms < trace.microsteps[:, None]).all()
    if k:
        fires: dict[tuple[int, int, int], int] = {}
        for name, ms in trace.microstep.items():
            for t, i in zip(*np.nonzero(ms >= 0), strict=True):
                key = (int(t), int(pe_of[name][i]), int(ms[t, i]))
                fires[key] = fires.get(key, 0) + 1
        assert max(fires.values(), default=0) <= k
    again = simulate_event(graph, inputs, **run)
    assert all(bits(again.events[n]) == bits(trace.events[n]) for n in trace.events)


# --------------------------------------------------------------------------------------------------
# scope and options


def test_refuses_what_the_contract_excludes() -> None:
    net = _sinabs()
    net.input("x", 2)
    net.population("li", 2, "li", tau=2.0)
    net.population("h", 2, "if")
    net.dense("x", "li", np.eye(2))
    net.dense("li", "h", np.eye(2))
    graph = net.build()
    inputs = {"x": np.zeros((2, 2), F32)}
    with pytest.raises(TimingError, match=r"'li'.*only binary spikes"):
        simulate_event(graph, inputs)
    net = _sinabs()
    net.input("x", 2)
    net.population("h", 2, "relu", event_rule="sigma_delta", event_threshold=0.1)
    net.population("o", 2, "if")
    net.dense("x", "h", np.eye(2))
    net.dense("h", "o", np.eye(2), delay=1)
    with pytest.raises(TimingError, match=r"'h' \(model 'relu', event rule 'sigma_delta'\)"):
        simulate_event(net.build(), inputs)
    # as a sink, a graded population is fine (read as an output)
    net = _sinabs()
    net.input("x", 2)
    net.population("h", 2, "relu")
    net.dense("x", "h", np.eye(2))
    assert simulate_event(net.build(), inputs).outputs["h"].shape == (2, 2)


def test_refuses_semantics_the_contract_does_not_name() -> None:
    """Resets other than to ``v_reset`` and ``v − θ`` (and ``Semantics`` options the oracle does not read)
    are refused, not silently run as another reset."""
    if "zero" not in Semantics.model_fields["reset"].annotation.__args__:  # type: ignore[union-attr]
        pytest.skip("this version of Semantics has no reset='zero'")
    graph = _early_fire_net("lif", _custom(reset="zero"))
    with pytest.raises(TimingError, match="reset 'zero'"):
        simulate_event(graph, {"x": np.zeros((1, 2), F32)})


def test_refuses_bad_options_inputs_and_placements() -> None:
    graph = _skip_net()
    x = {"x": np.array([[1]], F32)}
    with pytest.raises(TimingError, match="events_per_step"):
        simulate_event(graph, x, events_per_step=-1)
    with pytest.raises(TimingError, match="max_microsteps"):
        simulate_event(graph, x, max_microsteps=0)
    with pytest.raises(TimingError, match="policy"):
        simulate_event(graph, x, policy="lifo")
    with pytest.raises(TimingError, match="not 0/1"):
        simulate_event(graph, {"x": np.array([[0.5]], F32)})
    with pytest.raises(TimingError, match="missing"):
        simulate_event(graph, {})
    with pytest.raises(TimingError, match="no PE for population 'b'"):
        simulate_event(graph, x, pe_of={"a": np.array([0])})
    with pytest.raises(TimingError, match="one PE index"):
        simulate_event(graph, x, pe_of={"a": np.array([0, 1]), "b": np.array([0])})


# --------------------------------------------------------------------------------------------------
# the oracle can fail: mutated copies are caught by the comparison with the reference


def _fixed_graph(profile: str) -> tuple[Graph, dict[str, np.ndarray]]:
    """A fixed graph: LIF, IF (exact k/8 weights: equalities with the threshold happen), CubaLIF with a
    delayed sigma-delta input and a back edge, ALIF with a skip, an LI readout."""
    rng = np.random.default_rng(2024)
    net = Network("fixed", profile=profile)
    dt = PROFILES[profile].dt

    def tau(n: int) -> np.ndarray:
        return rng.uniform(1.5, 4, n) * dt

    def w(n_post: int, n_pre: int, lo: float = -0.5, hi: float = 2.0) -> np.ndarray:
        return rng.uniform(lo, hi, (n_post, n_pre)).astype(F32)

    net.input("x", 6)
    net.input("g", 4, event_rule="sigma_delta")
    net.population("a", 8, "lif", tau=tau(8), v_threshold=0.5)
    net.population("i", 6, "if", r=1.0 / dt)
    net.population("b", 6, "cuba_lif", tau_syn=tau(6), tau_mem=tau(6), v_threshold=0.3)
    net.population("c", 5, "alif", tau=tau(5), tau_adapt=tau(5), beta=0.3, v_threshold=0.7)
    net.population("l", 3, "li", tau=tau(3))
    net.dense("x", "a", w(8, 6))
    net.dense("x", "i", (rng.integers(-4, 12, (6, 6)) / 8).astype(F32))
    net.dense("a", "b", w(6, 8))
    net.dense("g", "b", w(6, 4), delay=1)
    net.dense("b", "a", w(8, 6, -0.5, 0.5), back_edge=True)
    net.dense("b", "c", w(5, 6))
    net.dense("i", "c", w(5, 6))
    net.dense("x", "c", w(5, 6))
    net.dense("c", "l", w(3, 5))
    net.output("y", "l")
    T = 12
    inputs = {"x": (rng.random((T, 6)) < 0.5).astype(F32),
              "g": np.where(rng.random((T, 4)) < 0.5, 0, rng.uniform(-1, 1, (T, 4))).astype(F32)}
    return net.build(), inputs


def _mutant(old: str, new: str, monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """A copy of the oracle with ``old`` (found exactly once) replaced by ``new``."""
    source = Path(event_oracle.__file__).read_text()
    assert source.count(old) == 1
    mutant = types.ModuleType("event_oracle_mutant")
    monkeypatch.setitem(sys.modules, mutant.__name__, mutant)
    exec(compile(source.replace(old, new), mutant.__name__, "exec"), mutant.__dict__)
    return mutant


MUTANTS = [
    pytest.param("return F32(acc + value)", "return F32(F32(F32(0.5) * acc) + value)", "nir-euler",
                 id="leak-per-event"),
    pytest.param("key=_Item.key)", "key=_Item.key, reverse=True)", "nir-euler",
                 id="reverse-integration-order"),
    pytest.param("src = t - pr.latency\n", "src = t - pr.latency - 1\n", "nir-euler",
                 id="every-projection-one-step-late"),
    pytest.param('return bool(v > theta) if self.sem.threshold_cmp == ">" else bool(v >= theta)',
                 "return bool(v > theta)", "sinabs", id="threshold-cmp-ignored"),
    pytest.param("if self.sem.reset_next_tick and self.z_prev[i]:", "if False:", "snntorch",
                 id="late-reset-ignored"),
]


@pytest.mark.parametrize(("old", "new", "profile"), MUTANTS)
def test_mutated_oracle_is_caught_by_the_reference(old: str, new: str, profile: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    mutant = _mutant(old, new, monkeypatch)
    graph, inputs = _fixed_graph(profile)
    ref = simulate(graph, inputs)
    assert differences(graph, simulate_event(graph, inputs, layered=True), ref) == []
    assert differences(graph, mutant.simulate_event(graph, inputs, layered=True), ref) != []


EVENT_MUTANTS = [
    pytest.param("_Item(pr, i, F32(1.0), m + 1)", "_Item(pr, i, F32(1.0), m + 2)", check_three_layer_chain,
                 id="delivered-two-micro-steps-later"),
    pytest.param("if z and not self.sem.reset_next_tick:",
                 "if self.crosses(v, theta) and not self.sem.reset_next_tick:", check_skip_connection,
                 id="reset-by-the-final-crossing"),
    pytest.param("arrival = (int(c.since[i]), c.index, i)", "arrival = (c.index, i)", check_k1_policies,
                 id="arrival-ignores-the-candidate-micro-step"),
    pytest.param("c.since[i] = -1  # READING 1", "pass  # READING 1", check_dropped_candidate,
                 id="candidates-never-dropped"),
]


@pytest.mark.parametrize(("old", "new", "check"), EVENT_MUTANTS)
def test_mutated_event_rules_are_caught_by_the_hand_cases(
        old: str, new: str, check: Callable[[Sim], None], monkeypatch: pytest.MonkeyPatch) -> None:
    """Event-order bugs the layered special case cannot see (there every population integrates once)."""
    mutant = _mutant(old, new, monkeypatch)
    with pytest.raises(AssertionError):
        check(mutant.simulate_event)
