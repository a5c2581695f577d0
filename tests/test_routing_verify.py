"""The delivery verifier passes correct tables (before and after compression) and catches broken ones:
a flipped route bit, a dropped entry, a stray entry, a loop."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aedc.errors import RoutingError
from aedc.machine import Machine
from aedc.routing.compress import compress_tables
from aedc.routing.keys import allocate_keys
from aedc.routing.model import LINK_BITS, RoutingTables, entry_bits
from aedc.routing.synthetic import layered_placement
from aedc.routing.tables import RawTable, build_tables
from aedc.routing.trees import bfs, build_routes
from aedc.routing.verify import equivalent, verify_raw, verify_tables


def problem(shuffle: bool = True, strategy: str = "fragmented") -> RoutingTables:
    machine = Machine.tiny(qpes=(2, 2), chips=(4, 3))  # 12 chips × 16 PEs
    placement = layered_placement(machine, [96, 64, 64, 10], slice_size=16, shuffle=shuffle, seed=3,
                                  fan_out=2)
    routes = build_routes(placement, allocate_keys(placement.slicing, strategy=strategy, seed=1))
    return build_tables(machine, routes)


def raw(tables: RoutingTables) -> dict[tuple[int, int], RawTable]:
    return {t.chip: [entry_bits(tables.machine, e) for e in t.entries] for t in tables.tables}


@pytest.fixture(scope="module")
def tables() -> RoutingTables:
    return problem()


def test_correct_tables_verify_before_and_after_compression(tables: RoutingTables) -> None:
    assert len(tables.tables) > 4  # a genuinely multi-chip problem
    assert verify_tables(tables).verified
    for dont_care in (False, True):
        small = compress_tables(tables, dont_care=dont_care)
        assert small.entries <= tables.entries
        assert verify_tables(small).verified
    packed = problem(shuffle=False, strategy="packed")
    small = compress_tables(packed)
    verify_tables(small)
    assert small.entries < packed.entries


def broken(tables: RoutingTables, how: str) -> dict[tuple[int, int], RawTable]:
    r = raw(tables)
    chip = next(c for c, t in r.items() if any(route >> LINK_BITS for _, _, route in t))
    entries = r[chip]
    i = next(i for i, e in enumerate(entries) if e[2] >> LINK_BITS)
    key, mask, route = entries[i]
    if how == "flip-pe":  # deliver to one more / one fewer PE
        entries[i] = (key, mask, route ^ (1 << (LINK_BITS + 1)))
    elif how == "flip-link":  # send out of one more / one fewer link
        entries[i] = (key, mask, route ^ 0b1)
    elif how == "drop":
        del entries[i]
    elif how == "stray":  # an extra entry, first in the table, also delivers a key block to another PE
        k2, m2, r2 = entries[-1]
        extra = next(1 << b for b in range(LINK_BITS, LINK_BITS + 64) if not r2 >> b & 1)
        entries.insert(0, (k2, m2, r2 | extra))
    elif how == "loop":  # send back and forth between two neighbours
        entries[i] = (key, mask, route | 0b1001)  # E and W
    return r


@pytest.mark.parametrize(("how", "message"), [
    ("flip-pe", "stray delivery|loss"), ("flip-link", "dropped|stray|twice|loss"), ("drop", "dropped"),
    ("stray", "stray delivery"), ("loop", "twice|loop")])
def test_verifier_catches_corrupted_tables(tables: RoutingTables, how: str, message: str) -> None:
    verify_raw(tables.machine, tables, raw(tables))
    with pytest.raises(RoutingError, match=message):
        verify_raw(tables.machine, tables, broken(tables, how))


@pytest.mark.parametrize("how", ["flip-pe", "drop", "stray"])
def test_verifier_catches_corrupted_compressed_tables(tables: RoutingTables, how: str) -> None:
    small = compress_tables(tables)
    with pytest.raises(RoutingError, match="route verification failed"):
        verify_raw(small.machine, small, broken(small, how))


def test_error_names_the_source_and_the_keys(tables: RoutingTables) -> None:
    with pytest.raises(RoutingError, match=r"slice \d+ \(spike, keys 0x[0-9a-f]+\+\d+\)"):
        verify_raw(tables.machine, tables, broken(tables, "drop"))


@settings(max_examples=25, deadline=None)
@given(w=st.integers(1, 4), h=st.integers(1, 3), torus=st.booleans(), shuffle=st.booleans(),
       strategy=st.sampled_from(["packed", "fragmented"]), fan_out=st.sampled_from([None, 1, 2]),
       seed=st.integers(0, 100))
def test_random_placements_verify_before_and_after_compression(w: int, h: int, torus: bool, shuffle: bool,
                                                               strategy: str, fan_out: int | None,
                                                               seed: int) -> None:
    machine = Machine.tiny(qpes=(2, 1), chips=(w, h), torus=torus)  # 8 PEs per chip
    n_pes = machine.total_pes
    sizes = [8 * max(1, n_pes // 4), 8 * max(1, n_pes // 4), 5]
    placement = layered_placement(machine, sizes, slice_size=8, shuffle=shuffle, seed=seed, fan_out=fan_out)
    routes = build_routes(placement, allocate_keys(placement.slicing, strategy=strategy, seed=seed,
                                                   placement=placement))
    tables = build_tables(machine, routes)
    verify_tables(tables)
    for dont_care in (False, True):
        small = compress_tables(tables, dont_care=dont_care)
        verify_tables(small)
        keyspace = [(b.base, b.mask) for b in routes.keys] if dont_care else None
        for before, after in zip(tables.tables, small.tables, strict=True):
            assert equivalent([entry_bits(machine, e) for e in before.entries],
                              [entry_bits(machine, e) for e in after.entries], keyspace)
    for src in routes.sources:  # every destination at its shortest hop distance
        for hop in src.hops:
            assert hop.chip_hops == bfs(machine, src.source.chip)[hop.pe.chip]
