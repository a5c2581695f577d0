"""The ``route`` and ``compress-tables`` passes on hand-made placements (no placer involved), the
artifact's JSON round trip, the capacity error, and the routing plot."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from aedc.errors import RoutingError
from aedc.frontend import Network
from aedc.ir.graph import Graph
from aedc.machine import Machine
from aedc.partition.model import Placement
from aedc.passes import CompileState, PassContext
from aedc.routing.model import RoutingTables
from aedc.routing.passes import CompressTables, RouteSlices
from aedc.routing.synthetic import layered_placement


def graph() -> Graph:
    net = Network("routing")
    net.input("L0", 64)
    net.population("L1", 64, "lif", tau=0.02)
    net.population("L2", 64, "relu")  # graded events
    net.dense("L0", "L1", np.ones((64, 64), np.float32))
    net.dense("L1", "L2", np.ones((64, 64), np.float32))
    net.output("y", "L2")
    return net.build()


def placement(router_entries: int = 16_384) -> Placement:
    machine = Machine.tiny(qpes=(2, 2), chips=(3, 3), router_entries=router_entries)
    return layered_placement(machine, [64, 64, 64], slice_size=16, stride=5)


def run(ctx: PassContext, p: Placement, **options: object) -> CompileState:
    state = CompileState(graph=graph(), slices=p.slicing, placement=p)
    state = RouteSlices().apply(ctx, state)
    return CompressTables(**options).apply(ctx, state)  # type: ignore[arg-type]


def test_route_and_compress_passes_verify_and_report() -> None:
    ctx = PassContext()
    state = run(ctx, placement())
    tables = state.tables
    assert isinstance(tables, RoutingTables)
    assert tables.verified
    assert tables.compressor == "ortc"
    assert tables.routes == state.routes
    assert tables.entries < tables.uncompressed
    partitions = {tables.routes.keys[s.block].partition for s in tables.routes.sources}
    assert partitions == {"spike"}  # L0 (input) and L1 (LIF) send; L2 (ReLU, graded) has no edges
    assert {b.partition for b in tables.routes.keys if b.slice >= 8} == {"graded"}
    notes = [d.message for d in ctx.diagnostics]
    assert "delivery verified" in notes[0]
    assert "router entries" in notes[1]


def test_no_verify_skips_the_verifier() -> None:
    state = run(PassContext(verify_each=False), placement())
    assert isinstance(state.tables, RoutingTables)
    assert not state.tables.verified


def test_table_over_capacity_names_the_chip_and_count() -> None:
    p = placement(router_entries=1)
    routed = RouteSlices().apply(PassContext(), CompileState(graph=graph(), slices=p.slicing, placement=p))
    assert isinstance(routed.tables, RoutingTables)
    table = routed.tables.tables[0]
    expected = f"chip {table.chip[0]},{table.chip[1]}: {len(table.entries)} entries, "
    with pytest.raises(RoutingError, match=re.escape(expected) + r".*the router holds 1\)"):
        run(PassContext(), p, algorithm="none")


def test_json_round_trip_is_deterministic() -> None:
    a = run(PassContext(), placement()).tables
    b = run(PassContext(), placement()).tables
    assert isinstance(a, RoutingTables)
    assert isinstance(b, RoutingTables)
    assert a.to_json() == b.to_json()
    back = RoutingTables.from_json(a.to_json())
    assert back == a
    assert back.to_json() == a.to_json()


def test_pass_options_render() -> None:
    assert str(CompressTables()) == "compress-tables{algorithm=ortc,dont-care=true,verify=true}"
    assert str(RouteSlices()) == "route{keys=packed,verify=true}"
    assert dataclasses.replace(RouteSlices(), keys="fragmented").keys == "fragmented"


def test_plot_routing(tmp_path: Path) -> None:
    from aedc.routing.plot import plot_routing

    tables = run(PassContext(), placement()).tables
    assert isinstance(tables, RoutingTables)
    path = plot_routing(tables, tmp_path / "routing.png")
    assert path.stat().st_size > 1000


def test_plot_routing_of_one_chip_has_no_empty_link_panel(tmp_path: Path) -> None:
    """Issue 20: a one-chip routing map had an empty right half (no chip links to draw)."""
    import matplotlib.image as mpimg

    from aedc.routing.plot import plot_routing

    one = Machine.tiny(qpes=(2, 1), chips=(1, 1))
    three = Machine.tiny(qpes=(2, 1), chips=(3, 1), torus=False)
    widths = {}
    for name, machine in (("one", one), ("three", three)):
        p = layered_placement(machine, [8, 4], slice_size=4, stride=1)
        state = RouteSlices().apply(PassContext(), CompileState(graph=graph(), slices=p.slicing,
                                                                placement=p))
        state = CompressTables().apply(PassContext(), state)
        assert state.tables is not None
        widths[name] = mpimg.imread(plot_routing(state.tables, tmp_path / f"{name}.png")).shape[1]
    assert widths["one"] < 0.6 * widths["three"]


def test_golden_tables_of_two_layers_on_two_chips() -> None:
    """Golden text of the route and compress-tables output: L0 (3 slices) on chip 0,0 → L1 on chip 1,0."""
    machine = Machine.tiny(qpes=(2, 1), chips=(3, 1), torus=False)
    p = layered_placement(machine, [24, 16], slice_size=8, stride=3)
    ctx = PassContext()
    state = RouteSlices().apply(ctx, CompileState(graph=graph(), slices=p.slicing, placement=p))
    assert isinstance(state.tables, RoutingTables)
    assert state.tables.text() == (
        "chip 0,0: 3 entries (3 before compression)\n"
        "  00000000/fffffff8 -> E | -\n"
        "  00000008/fffffff8 -> E | -\n"
        "  00000010/fffffff8 -> E | -\n"
        "chip 1,0: 3 entries (3 before compression)\n"
        "  00000000/fffffff8 -> - | 1,1:0010 2,1:0001\n"
        "  00000008/fffffff8 -> - | 1,1:0010 2,1:0001\n"
        "  00000010/fffffff8 -> - | 1,1:0010 2,1:0001\n")
    state = CompressTables().apply(ctx, state)
    assert isinstance(state.tables, RoutingTables)
    # keys 0x18..0x1f belong to no block (don't-care), so one entry covers the 3 blocks of L0
    assert state.tables.text() == (
        "chip 0,0: 1 entries (3 before compression)\n"
        "  00000000/ffffffe0 -> E | -\n"
        "chip 1,0: 1 entries (3 before compression)\n"
        "  00000000/ffffffe0 -> - | 1,1:0010 2,1:0001\n")
    hops = state.tables.routes.hop_map()
    assert hops[(0, p.assignment[4])].chip_hops == 1
    assert len(hops) == 6
