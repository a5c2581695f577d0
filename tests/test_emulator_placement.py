"""The emulator on a real :class:`~aedc.partition.model.Placement`: populations split over several PEs.

Sync results must not depend on the placement (still the reference, bit for bit); async results on
split populations exercise per-neuron tick counters, per-block delivery tables and scattered ring
writes, and with equal periods still equal the reference of the re-timed graph (every projection one
tick later). Random graphs use every model and event rule with arbitrary weights.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import graphs_with_inputs
from test_emulator_async import all_back_edges
from test_emulator_sync import mismatches

from aedc.emulator import Emulator, PlacedProgram, Schedule
from aedc.ir import Graph
from aedc.machine import Machine
from aedc.partition.model import MemoryBreakdown, PEUsage, Placement, Slice, Slicing
from aedc.reference import simulate


def split_placement(graph: Graph, pieces: int, machine: Machine) -> Placement:
    """Every non-input population cut into up to ``pieces`` contiguous slices, spread over the PEs of
    ``machine`` round robin (so QPE hops vary); inputs get no slice (the adapter gives them a PE)."""
    slices: list[Slice] = []
    for pop in graph.populations:
        if pop.is_input:
            continue
        cuts = np.unique(np.linspace(0, pop.size, min(pieces, pop.size) + 1).astype(int))
        slices += [Slice(population=pop.name, lo=int(a), hi=int(b)) for a, b in pairwise(cuts)]
    pes = machine.pes()
    assignment = tuple(pes[(7 * i) % len(pes)] for i in range(len(slices)))
    usage: dict[str, list[int]] = {}
    for i, a in enumerate(assignment):
        usage.setdefault(str(a), []).append(i)
    used = tuple(PEUsage(pe=assignment[ids[0]], slices=tuple(ids), memory=MemoryBreakdown())
                 for ids in usage.values())
    return Placement(machine=machine, slicing=Slicing(slices=tuple(slices)), assignment=assignment,
                     pes=used, objective=0, bound=0, solver="test", baseline_objective=0)


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(graphs_with_inputs(T=8), st.integers(2, 3))
def test_split_populations_sync_equals_reference_and_async_equals_retimed(
        case: tuple[Graph, dict[str, np.ndarray]], pieces: int) -> None:
    graph, inputs = case
    program = PlacedProgram.from_placement(graph, split_placement(graph, pieces, Machine.spinnaker2()))
    assert program.n_pes > sum(1 for p in graph.populations if not p.is_input)
    assert mismatches(Emulator(program).run(inputs), simulate(graph, inputs)) == []
    asyn = Schedule.asynchronous(period_us=1000, link_us=100, hop_us=10)
    assert mismatches(Emulator(program, asyn).run(inputs), simulate(all_back_edges(graph), inputs)) == []


def test_placement_adapter_maps_slices_and_places_inputs() -> None:
    from aedc.frontend.builder import Network

    net = Network("p", dt=1e-3)
    net.input("in", 4)
    net.population("h", 6, "lif", tau=0.01)
    net.dense("in", "h", np.ones((6, 4)))
    graph = net.build()
    prog = PlacedProgram.from_placement(graph, split_placement(graph, 3, Machine.spinnaker2()))
    assert prog.pe_of["h"].tolist() == [0, 0, 1, 1, 2, 2]
    assert prog.pe_of["in"].tolist() == [3] * 4
    assert len(set(prog.pes)) == 4


def test_hop_tables_equal_the_machine_model() -> None:
    machine = Machine.spinnaker2((2, 2))
    pes = machine.pes()[::37]
    prog = PlacedProgram(Graph(), {}, tuple(pes), machine)
    chip, qpe = prog.hops()
    assert chip.max() > 0
    assert qpe.max() > 0
    for i, a in enumerate(pes):
        for j, b in enumerate(pes):
            assert (chip[i, j], qpe[i, j]) == machine.pe_hops(a, b)
