"""Contract of every table compressor: the compressed table routes every key exactly like the original.

Problems are random first-match tables of prefix entries (aligned key blocks, random routes, random
order, nested and duplicate prefixes allowed) in a small key space so that every key can be enumerated;
the check is exhaustive over every used key, over random unused keys (which must stay unrouted), and
also proven over all 2^32 keys by comparing the tables' exact interval functions.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aedc.routing.compress import COMPRESSORS, get_compressor, merge_prefixes
from aedc.routing.compress_ortc import compress, is_prefix_mask, normalise
from aedc.routing.verify import equivalent, lookup, table_intervals

KEY_MASK = 0xFFFFFFFF
Entry = tuple[int, int, int]


@st.composite
def tables(draw: st.DrawFn, space_bits: int = 10) -> list[Entry]:
    routes = draw(st.lists(st.integers(0, 1 << 20), min_size=1, max_size=4, unique=True))
    out = []
    for _ in range(draw(st.integers(0, 40))):
        bits = draw(st.integers(0, 5))
        base = draw(st.integers(0, (1 << space_bits) - 1)) >> bits << bits
        out.append((base, KEY_MASK ^ ((1 << bits) - 1), draw(st.sampled_from(routes))))
    return out


def used_keys(entries: list[Entry]) -> set[int]:
    return {k + i for k, m, _ in entries for i in range((~m & KEY_MASK) + 1)}


@pytest.mark.parametrize("name", sorted(COMPRESSORS))
@settings(max_examples=150, deadline=None)
@given(table=tables(), seed=st.integers(0, 1000))
def test_compressed_table_routes_every_key_like_the_original(name: str, table: list[Entry],
                                                             seed: int) -> None:
    fn = get_compressor(name)
    out = fn(table)
    assert len(out) <= len(table)
    for key in used_keys(table):
        assert lookup(out, key) == lookup(table, key) or (lookup(out, key) in (0, None)
                                                          and lookup(table, key) in (0, None))
    rng = random.Random(seed)
    for key in [rng.randrange(1 << 12) for _ in range(200)] + [rng.randrange(1 << 32) for _ in range(50)]:
        original = lookup(table, key)
        if original in (None, 0):  # the original does not route it: the compressed table must not either
            assert lookup(out, key) in (None, 0), hex(key)
        else:
            assert lookup(out, key) == original
    assert equivalent(table, out)  # exact, over all 2^32 keys
    assert fn(table) == out  # deterministic


@settings(max_examples=150, deadline=None)
@given(table=tables(), data=st.data())
def test_keyspace_dont_cares_only_affect_keys_outside_the_keyspace(table: list[Entry],
                                                                   data: st.DataObject) -> None:
    keyspace = [(k, m) for k, m, _ in table] + [(k, m) for k, m, _ in data.draw(tables())]
    out = compress(table, keyspace=keyspace)
    full = compress(table)
    assert len(out) <= len(full) <= len(table)
    inside = {k for k in used_keys([(k, m, 0) for k, m in keyspace])}
    for key in inside:
        assert (lookup(out, key) or 0) == (lookup(table, key) or 0), hex(key)
    assert equivalent(table, out, keyspace)


def test_ortc_merges_runs_and_carves_holes() -> None:
    # 8 blocks of 16 keys with one route except block 5: one wide entry + one hole-entry
    r, other = 0b1, 0b10
    table = [(i * 16, KEY_MASK ^ 15, other if i == 5 else r) for i in range(8)]
    out = compress(table)
    assert out == [(80, KEY_MASK ^ 15, other), (0, KEY_MASK ^ 127, r)]
    # the hole is routed to nothing: an empty-route entry in front of the wide one
    table = [(i * 16, KEY_MASK ^ 15, r) for i in range(8) if i != 5]
    out = compress(table)
    assert out == [(80, KEY_MASK ^ 15, 0), (0, KEY_MASK ^ 127, r)]
    # ... unless the hole is a don't-care key range (no PE sends those keys)
    assert compress(table, keyspace=[(k, m) for k, m, _ in table]) == [(0, 0, r)]  # one catch-all


def test_first_match_shadowing_is_respected() -> None:
    wide, narrow = (0, KEY_MASK ^ 255, 1), (16, KEY_MASK ^ 15, 2)
    assert normalise([wide, narrow]) == [(0, 24, 1)]  # narrow never hit
    assert compress([wide, narrow]) == [(0, KEY_MASK ^ 255, 1)]
    out = compress([narrow, wide])
    assert lookup(out, 16) == 2
    assert lookup(out, 0) == 1
    assert lookup(out, 256) is None
    with pytest.raises(ValueError, match="non-prefix"):
        normalise([(0, 0xFFFF00FF, 1)])
    assert is_prefix_mask(0)
    assert is_prefix_mask(KEY_MASK)
    assert not is_prefix_mask(0xFFFF00FF)


def test_intervals_of_a_table() -> None:
    table = [(16, KEY_MASK ^ 15, 2), (0, KEY_MASK ^ 63, 1)]
    assert table_intervals(table) == [(0, 16, 1), (16, 32, 2), (32, 64, 1), (64, 1 << 32, 0)]


def test_large_table_of_runs_compresses_to_at_most_one_entry_per_run() -> None:
    """Not a timing assertion (the 10^5-entry timing is in benchmarks/bench_routing.py)."""
    rng = random.Random(0)
    routes = [rng.randrange(1, 1 << 40) for _ in range(64)]
    n = 20_000
    table = [(i << 8, KEY_MASK ^ 255, routes[(i >> 6) % 64]) for i in range(n)]  # aligned runs of 64
    rng.shuffle(table)
    out = compress(table)
    assert len(out) <= -(-n // 64)  # at most one per run (ORTC may do better where routes repeat)
    assert equivalent(table, out)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 255), st.integers(0, 4)), max_size=20))
def test_merge_prefixes_covers_exactly_the_union(raw: list[tuple[int, int]]) -> None:
    blocks = [(b >> s << s, 1 << s) for b, s in raw]
    merged = merge_prefixes(blocks)
    union = {lo + i for lo, n in blocks for i in range(n)}
    covered = [k for key, mask in merged for k in range(key, key + (~mask & KEY_MASK) + 1)]
    assert sorted(covered) == sorted(union)  # exact, and no key twice
    assert all(is_prefix_mask(m) and k & ~m & KEY_MASK == 0 for k, m in merged)
