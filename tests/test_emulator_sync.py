"""Emulator in sync mode equals the reference simulator bit for bit (spike steps and float32 state).

Profiles: the NIR paper LIF graphs use ``nir-euler`` at dt = 1e-4 s, the NIR paper CNN ``sinabs`` after
the default pass pipeline; hypothesis graphs draw every profile, model, kind and event rule with
arbitrary (non-dyadic) weights, so equality needs the canonical summation order, not luck.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from strategies import graphs_with_inputs

from aedc.emulator import Emulator, EmulatorResult
from aedc.frontend.nir_import import from_nir
from aedc.ir import Graph
from aedc.passes import CompileState, PassContext, PassManager
from aedc.passes.pipelines import DEFAULT_PIPELINE
from aedc.reference import Trace, simulate

DATA = Path(__file__).parent / "data" / "nir_paper"


def _load(path: Path, **kw: object) -> Graph:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # these files predate NIR 1.0 and warn about it
        return from_nir(path, **kw)  # type: ignore[arg-type]


def bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, np.float32).view(np.int32)


def mismatches(emu: EmulatorResult, ref: Trace) -> list[str]:
    """Every (population, field) whose float32 bytes differ between emulator and reference."""
    bad = []
    for name in ref.events:
        for what, a, b in (("events", emu.events[name], ref.events[name]),
                           ("outputs", emu.outputs[name], ref.outputs[name])):
            if a.shape != b.shape or not np.array_equal(bits(a), bits(b)):
                bad.append(f"{name}.{what}")
    for name, st in ref.state.items():
        for var, b in st.items():
            a = emu.state[name][var]
            if a.shape != b.shape or not np.array_equal(bits(a), bits(b)):
                bad.append(f"{name}.{var}")
    return bad


@pytest.fixture(scope="module")
def norse() -> np.ndarray:
    return np.loadtxt(DATA / "01_lif" / "lif_norse.csv", delimiter=",")


def test_nir_paper_lif_equals_reference_and_norse(norse: np.ndarray) -> None:
    graph = _load(DATA / "01_lif" / "lif_norse.nir", profile="nir-euler", dt=1e-4)
    inputs = {"input": norse[:, :1]}
    emu, ref = Emulator(graph).run(inputs), simulate(graph, inputs)
    lif = graph.outputs["output"]
    assert emu.spike_steps(lif).tolist() == [460, 510, 710, 760]
    assert mismatches(emu, ref) == []
    assert emu.metrics["first_output_tick"] == 460


def test_oracle_fails_on_a_different_reading(norse: np.ndarray) -> None:
    # Broken input: the same file under exact discretisation fires at the same steps, but every
    # voltage byte differs — the comparison must notice.
    graph = _load(DATA / "01_lif" / "lif_norse.nir", profile="nir-euler", dt=1e-4)
    other = graph.evolve(semantics=graph.semantics.evolve(discretisation="exact"))
    inputs = {"input": norse[:, :1]}
    emu = Emulator(other).run(inputs)
    assert emu.spike_steps(graph.outputs["output"]).tolist() == [460, 510, 710, 760]
    assert mismatches(emu, simulate(graph, inputs)) == [f"{graph.outputs['output']}.v"]


def test_two_lif_neurons_equals_reference() -> None:
    graph = _load(DATA / "01_lif" / "two_lif_neurons.nir", dt=1e-4)
    inputs = {"in": np.zeros((1000, 1), np.float32)}
    emu = Emulator(graph).run(inputs)
    assert emu.spike_steps("lif1").tolist() == [178, 357, 536, 715, 894]
    assert mismatches(emu, simulate(graph, inputs)) == []


@pytest.fixture(scope="module")
def cnn() -> Graph:
    graph = _load(DATA / "02_cnn" / "cnn_sinabs.nir", profile="sinabs")
    return PassManager(DEFAULT_PIPELINE).run(CompileState(graph=graph), PassContext()).graph


def test_cnn_sinabs_equals_reference_on_random_input(cnn: Graph) -> None:
    rng = np.random.default_rng(7)
    x = ((rng.random((8, 2, 34, 34)) < 0.3) * rng.uniform(0, 2, (8, 2, 34, 34))).astype(np.float32)
    emu, ref = Emulator(cnn).run({"input": x}), simulate(cnn, {"input": x})
    assert mismatches(emu, ref) == []
    assert ref.event_count("3") > 1000  # the comparison is not between two silent networks
    # broken input: one weight from a neuron that spikes, changed by 1/4, moves a voltage
    pr = cnn.projections[-1]
    w = pr.conn.weight.copy()  # type: ignore[union-attr]
    w[0, int(np.flatnonzero(ref.events[pr.pre].sum(axis=0))[0])] += np.float32(0.25)
    broken = cnn.evolve(projections=(*cnn.projections[:-1], pr.evolve(conn=pr.conn.evolve(weight=w))))
    assert mismatches(Emulator(broken).run({"input": x}), ref) != []


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(graphs_with_inputs(T=8))
def test_random_graphs_equal_reference_bit_for_bit(case: tuple[Graph, dict[str, np.ndarray]]) -> None:
    graph, inputs = case
    assert mismatches(Emulator(graph).run(inputs), simulate(graph, inputs)) == []
