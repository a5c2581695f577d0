"""Machine model: the documented SpiNNaker2 numbers, addressing order, distances, tiny machines."""

from __future__ import annotations

import pytest

from aedc.machine import LINKS, SPINNAKER2, Machine, PEAddress


def test_default_chip_numbers() -> None:
    m = SPINNAKER2
    assert len(m.qpes) == 38
    assert m.pes_per_chip == 148
    assert m.itcm_bytes + m.dtcm_bytes == 128 * 1024
    assert m.dynamic_region_bytes == 67_328
    assert m.stack_base == 0x1F000
    assert m.router_entries == 16_384
    assert m.events_per_tick == 12_000
    assert (4, 3) not in m.qpes
    assert (7, 4) not in m.qpes


def test_pes_canonical_order_and_parse() -> None:
    m = Machine.tiny((2, 2), chips=(2, 1))
    pes = m.pes()
    assert len(pes) == 32
    assert list(pes) == sorted(pes, key=PEAddress.key)
    assert all(PEAddress.parse(str(p)) == p for p in pes)


def test_qpe_hops_manhattan() -> None:
    assert SPINNAKER2.qpe_hops((1, 1), (7, 6)) == 11
    assert SPINNAKER2.qpe_hops((3, 2), (3, 2)) == 0


def test_hexagonal_torus_distance_and_links() -> None:
    board = Machine.spinnaker2((8, 6))
    assert board.total_pes == 48 * 148
    assert board.chip_hops((0, 0), (1, 1)) == 1  # NE link
    assert board.chip_hops((0, 0), (1, -1 % 6)) == 2  # opposite signs: two links
    assert board.chip_hops((0, 0), (7, 5)) == 1  # wraps to (-1, -1): SW link
    for name, dx, dy in LINKS:
        assert board.link_direction((3, 3), (3 + dx, 3 + dy)) == name
        assert board.chip_hops((3, 3), (3 + dx, 3 + dy)) == 1
    with pytest.raises(ValueError, match="not neighbours"):
        board.link_direction((0, 0), (3, 3))


def test_overrides_and_json_round_trip() -> None:
    m = Machine.tiny((3, 1), dynamic_region_bytes=4096)
    assert m.total_pes == 12
    assert Machine.from_json(m.to_json()) == m
    with pytest.raises(ValueError, match="outside"):
        Machine(qpe_cols=2, qpe_rows=2)
