"""The reference simulator against a second, deliberately naive simulator on random graphs.

The naive one expands every projection to a dense matrix (via numpy, not the simulator's event
delivery), keeps the full history of every population's output and reads ``history[t - latency]``. With
dyadic weights (k/8) and spiking models only, every synaptic sum is exact in float32, so the order of
summation cannot matter and the two must agree bit for bit: the event-driven delivery, the latency
bookkeeping and the topological order are what is being tested.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from hypothesis import given, settings
from strategies import graphs_with_inputs

from aedc.ir import Graph, topo_order
from aedc.reference import neuron_constants, simulate

F = np.float32
SPIKING = ("lif", "if", "threshold", "cuba_lif")


def _reset(v: np.ndarray, z: np.ndarray, th: np.ndarray, vr: np.ndarray, mode: str) -> np.ndarray:
    if mode == "zero":
        return np.where(z, F(0), v)
    return np.where(z, v - th, v) if mode == "subtract" else np.where(z, vr, v)


def _snntorch_tick(v_old: np.ndarray, update: Callable[[np.ndarray], np.ndarray], th: np.ndarray,
                   r: np.ndarray, mode: str, cuba: bool, delay: bool,
                   above: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """snnTorch's Leaky/Synaptic forward for the subtract and zero resets, written as snnTorch does
    (``reset`` = flag, ``mem``, ``spk``; products by 0/1 flags instead of branches): returns the new
    membrane and the spikes."""
    rf = r.astype(F)
    if mode == "zero" and not cuba:  # Leaky._base_zero: mem = (1 - reset) * mem before the update
        mem = update((F(1) - rf) * v_old)
    elif mode == "zero":  # Synaptic._base_zero: mem -= mem * reset after it
        mem = update(v_old)
        mem = mem - mem * rf
    else:  # _base_sub
        mem = update(v_old) - rf * th
    spk = above(mem)
    if not delay:  # reset_delay=False: do_reset = spk - reset
        do = spk.astype(F) - rf
        mem = mem - do * (th if mode == "subtract" else mem)
    return mem.astype(F), spk


def _naive(graph: Graph, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    pops = graph.pop_map()
    T = next(iter(inputs.values())).shape[0]
    hist = {n: np.zeros((T, p.size), F) for n, p in pops.items()}
    mats = {}
    for pr in graph.projections:
        pre, post, w = pr.conn.to_coo(pops[pr.pre].shape, pops[pr.post].shape)
        m = np.zeros((pops[pr.post].size, pops[pr.pre].size), np.float64)
        np.add.at(m, (post, pre), w.astype(np.float64))
        mats[pr.name] = m
    state = {n: {"v": np.zeros(p.size, F), "i": np.zeros(p.size, F), "z": np.zeros(p.size, bool)}
             for n, p in pops.items()}
    sem = graph.semantics
    for t in range(T):
        for n in topo_order(graph):
            pop = pops[n]
            if pop.is_input:
                hist[n][t] = inputs[n][t].ravel()
                continue
            total = np.zeros(pop.size, np.float64)
            for pr in graph.incoming(n):
                if t - pr.latency >= 0:
                    total += mats[pr.name] @ hist[pr.pre][t - pr.latency].astype(np.float64)
            x = F(0) + total.astype(F) + pop.neuron.bias.ravel()
            c = {k: v.ravel() for k, v in neuron_constants(pop.neuron, sem).items()}
            s, m = state[n], pop.neuron
            if m.model == "threshold":
                th = m.threshold.ravel()  # type: ignore[union-attr]
                hist[n][t] = (x > th) if sem.threshold_cmp == ">" else (x >= th)
                continue
            if m.model == "cuba_lif":
                i_new = c["syn_decay"] * s["i"] + c["syn_gain"] * x
                drive = i_new if sem.current_first else s["i"]
                s["i"] = i_new
            else:
                drive = x

            def update(v0: np.ndarray, model: str = m.model, drive: np.ndarray = drive,
                       c: dict[str, np.ndarray] = c) -> np.ndarray:
                if model == "if":
                    return np.asarray(v0 + c["gain"] * drive, F)
                return np.asarray((c["decay"] * v0 + c["gain"] * drive) + c["leak"], F)

            th, vr = m.v_threshold.ravel(), m.v_reset.ravel()  # type: ignore[union-attr]

            def above(v: np.ndarray, th: np.ndarray = th) -> np.ndarray:
                return (v > th) if sem.threshold_cmp == ">" else (v >= th)

            if sem.reset_recheck or (sem.reset_next_tick and sem.reset == "zero"):
                # snnTorch's own formula; its reset flag is the threshold test of the stored membrane
                v, z = _snntorch_tick(s["v"], update, th, above(s["v"]), sem.reset, m.model == "cuba_lif",
                                      sem.reset_next_tick, above)
                s["v"], s["z"] = v, z
                hist[n][t] = z
                continue
            v = update(s["v"])
            if sem.reset_next_tick:
                v = _reset(v, s["z"], th, vr, sem.reset)
            z = above(v)
            if not sem.reset_next_tick:
                v = _reset(v, z, th, vr, sem.reset)
            s["v"], s["z"] = v.astype(F), z
            hist[n][t] = z
    return hist


@settings(max_examples=40, deadline=None)
@given(graphs_with_inputs(T=12, exact_weights=True, models=SPIKING))
def test_reference_equals_naive_dense_simulator(case: tuple[Graph, dict[str, np.ndarray]]) -> None:
    graph, inputs = case
    trace = simulate(graph, inputs)
    naive = _naive(graph, inputs)
    for pop in graph.populations:
        got = trace.outputs[pop.name].reshape(trace.outputs[pop.name].shape[0], -1)
        np.testing.assert_array_equal(got, naive[pop.name], err_msg=f"population {pop.name}")


@settings(max_examples=20, deadline=None)
@given(graphs_with_inputs(T=6))
def test_reference_is_deterministic_and_finite_on_any_graph(
        case: tuple[Graph, dict[str, np.ndarray]]) -> None:
    graph, inputs = case
    a, b = simulate(graph, inputs), simulate(graph, inputs)
    for name in a.outputs:
        assert a.outputs[name].tobytes() == b.outputs[name].tobytes()
        assert a.outputs[name].dtype == np.float32
