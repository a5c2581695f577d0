"""Key allocation: every block aligned to a power of two ≥ its size, disjoint, 32-bit, deterministic."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aedc.errors import RoutingError
from aedc.partition.model import Slice, Slicing
from aedc.routing.keys import allocate_keys, block_bits, check_blocks
from aedc.routing.model import KeyBlock


@st.composite
def slicings(draw: st.DrawFn) -> Slicing:
    slices = []
    for p in range(draw(st.integers(1, 5))):
        lo = 0
        for _ in range(draw(st.integers(1, 6))):
            size = draw(st.integers(1, 700))
            role = draw(st.sampled_from(["neuron", "neuron", "synapse"]))
            extra = {"projection": "pr", "pre_lo": 0, "pre_hi": 4} if role == "synapse" else {}
            slices.append(Slice(population=f"p{p}", lo=lo, hi=lo + size, role=role, **extra))
            lo += size
    return Slicing(slices=tuple(slices))


@settings(max_examples=60, deadline=None)
@given(slicings(), st.sampled_from(["packed", "fragmented"]), st.integers(0, 3))
def test_blocks_are_aligned_disjoint_and_cover_every_slice(slicing: Slicing, strategy: str,
                                                           seed: int) -> None:
    blocks = allocate_keys(slicing, strategy=strategy, seed=seed)
    assert [b.slice for b in blocks] == list(range(len(slicing.slices)))
    for b, s in zip(blocks, slicing.slices, strict=True):
        assert b.size == s.size
        assert b.span >= b.size > b.span // 2 or b.size == b.span == 1
        assert b.base % b.span == 0
        assert b.base + b.span <= 1 << 32
        assert b.partition == ("partial" if s.role == "synapse" else "spike")
        # one (key, mask) entry matches exactly the block
        assert all((b.key(i) & b.mask) == b.base for i in (0, b.size - 1))
        assert ((b.base + b.span) & b.mask) != b.base
        assert ((b.base - 1) & b.mask) != b.base or b.base == 0
    ordered = sorted(blocks, key=lambda b: b.base)
    for a, c in itertools.pairwise(ordered):
        assert a.base + a.span <= c.base
    assert allocate_keys(slicing, strategy=strategy, seed=seed) == blocks  # deterministic


def test_packed_keys_leave_no_gap_and_keep_population_runs() -> None:
    slicing = Slicing(slices=tuple(Slice(population=p, lo=i * 100, hi=(i + 1) * 100)
                                   for p in ("a", "b") for i in range(3)))
    blocks = allocate_keys(slicing)
    # 3 slices of 100 → stride 128, group span 512, both groups back to back from 0
    assert sorted(b.base for b in blocks) == [0, 128, 256, 512, 640, 768]
    assert [b.base for b in blocks[:3]] == [0, 128, 256]


def test_several_partitions_per_slice_get_separate_blocks() -> None:
    slicing = Slicing(slices=(Slice(population="a", lo=0, hi=10),))
    blocks = allocate_keys(slicing, partitions=lambda s: ("spike", "graded"))
    assert [(b.partition, b.size) for b in blocks] == [("spike", 10), ("graded", 10)]
    assert blocks[0].base != blocks[1].base


def test_block_bits_and_key_range() -> None:
    assert [block_bits(n) for n in (0, 1, 2, 3, 4, 5, 256, 257)] == [0, 0, 1, 2, 2, 3, 8, 9]
    b = KeyBlock(slice=0, partition="spike", base=256, bits=8, size=200)
    assert b.key(199) == 455
    assert b.mask == 0xFFFFFF00
    with pytest.raises(ValueError, match="outside"):
        b.key(200)


def test_check_blocks_names_overlap_and_misalignment() -> None:
    a = KeyBlock(slice=0, partition="spike", base=0, bits=4, size=16)
    b = KeyBlock(slice=1, partition="spike", base=8, bits=3, size=8)
    with pytest.raises(RoutingError, match="slices 0/spike and 1/spike overlap"):
        check_blocks((a, b))
    c = KeyBlock(slice=2, partition="spike", base=4, bits=3, size=8)
    with pytest.raises(RoutingError, match=r"slice 2/spike .* misaligned"):
        check_blocks((c,))


def test_packed_keys_follow_the_placement_within_a_population() -> None:
    from aedc.machine import Machine
    from aedc.routing.synthetic import layered_placement

    machine = Machine.tiny(qpes=(2, 2), chips=(3, 3))
    placement = layered_placement(machine, [160, 160], slice_size=16, shuffle=True, seed=5)
    blocks = allocate_keys(placement.slicing, placement=placement)
    for pop in ("L0", "L1"):
        mine = [b for b in blocks if placement.slices[b.slice].population == pop]
        by_key = sorted(mine, key=lambda b: b.base)
        assert [placement.assignment[b.slice].key() for b in by_key] == sorted(
            placement.assignment[b.slice].key() for b in mine)
    check_blocks(blocks)
