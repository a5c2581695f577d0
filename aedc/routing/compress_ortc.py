"""Lossless router-table compression: ORTC (Optimal Routing Table Constructor) on the binary key trie.

Algorithm (Draves, King, Venkatachary, Zill, "Constructing Optimal IP Routing Tables", INFOCOM 1999),
adapted to a first-match multicast router where a key that matches nothing is dropped:

1. *Normalise.* Our entries are prefixes (a mask of leading ones). In a first-match table an entry
   inside (or equal to) an earlier entry's prefix is never hit and is removed; what remains routes every
   key exactly like longest-prefix match (LPM). A non-prefix mask is a ``ValueError``.
2. *Sets, bottom-up.* On the binary trie of the prefixes, completed so that every node has 0 or 2
   children, a leaf gets the set {its route} (route 0 = dropped, for keys no entry matched), an inner node
   ``A # B`` = ``A ∩ B`` if that is not empty, else ``A ∪ B``. Keys outside the optional ``keyspace`` (keys
   no PE ever sends) are don't-cares: their leaves get the universal set.
3. *Choices, top-down.* The root inherits "dropped"; a node whose set holds the inherited route adds no
   entry, any other node adds one entry with the smallest route of its set, which its subtree inherits.

The result is a prefix table with the fewest entries that routes every key (every key of ``keyspace``)
exactly like the input — optimal among prefix tables, not merely greedy — including, where that is
shorter, entries with an empty route that carve a dropped hole out of a wider entry. Entries are
emitted longest prefix first, so first match equals LPM ("exploiting order": a later, wider entry
covers keys that earlier, narrower ones route differently). Time and memory are linear in the number
of trie nodes (≤ entries × 32). Because the function over keys is unchanged, the result is correct
under any default-route rule, not only "no match = dropped".

Stage signature (every compressor implements it)::

    compress(entries, *, keyspace=None) -> list[tuple[int, int, int]]

with ``entries`` an ordered sequence of ``(key, mask, route bits)`` and ``keyspace`` ``None`` (every key
counts) or ``(key, mask)`` prefixes of the keys that may ever be sent.
"""

from __future__ import annotations

import sys
from bisect import bisect_left
from collections.abc import Sequence

from aedc.routing.model import KEY_BITS, KEY_MASK

__all__ = ["compress", "is_prefix_mask", "normalise", "prefix_length"]

Entry = tuple[int, int, int]
_Set = frozenset[int] | None  # None = every route (a don't-care leaf)


def is_prefix_mask(mask: int) -> bool:
    """Whether ``mask`` is a run of leading ones (``0xFFFFFF00``), including 0 and all ones."""
    inv = ~mask & KEY_MASK
    return inv & (inv + 1) == 0


def prefix_length(mask: int) -> int:
    """Number of leading ones of a prefix mask."""
    return KEY_BITS - (~mask & KEY_MASK).bit_length()


def normalise(entries: Sequence[Entry]) -> list[tuple[int, int, int]]:
    """``(key, prefix length, route)`` of the entries a first-match lookup can hit, so that LPM over
    them routes like first match over ``entries``. Entries whose key has bits outside the mask never
    match and are dropped."""
    seen: set[tuple[int, int]] = set()
    out = []
    for key, mask, route in entries:
        if not is_prefix_mask(mask):
            raise ValueError(f"entry {key:#010x}/{mask:#010x} has a non-prefix mask; ORTC needs prefixes")
        if key & ~mask & KEY_MASK:
            continue  # matches nothing
        plen = prefix_length(mask)
        if any((key >> (KEY_BITS - d) << (KEY_BITS - d) if d else 0, d) in seen for d in range(plen + 1)):
            continue  # shadowed by an earlier entry that contains it
        seen.add((key, plen))
        out.append((key, plen, route))
    return out


def _meet(a: _Set, b: _Set) -> _Set:
    if a is None:
        return b
    if b is None:
        return a
    both = a & b
    return both if both else a | b


def compress(entries: Sequence[Entry], *, keyspace: Sequence[tuple[int, int]] | None = None
             ) -> list[Entry]:
    """The minimal prefix table routing every key (of ``keyspace``) like ``entries`` (module docstring)."""
    table = normalise(entries)
    # items: (start, prefix length, kind, route); kind 0 = keyspace prefix, 1 = table entry
    items: list[tuple[int, int, int, int]] = [(k, d, 1, r) for k, d, r in table]
    if keyspace is not None:
        for key, mask in keyspace:
            if not is_prefix_mask(mask):
                raise ValueError(f"keyspace prefix {key:#010x}/{mask:#010x} is not a prefix")
            items.append((key & mask, prefix_length(mask), 0, 0))
    items.sort()
    starts = [it[0] for it in items]
    sets: dict[tuple[int, int], _Set] = {}
    everything = keyspace is None
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old_limit, 1000))

    def leaf(inh: int, in_ks: bool) -> _Set:
        return frozenset((inh,)) if in_ks else None

    def head(depth: int, node: int, i: int, j: int, inh: int, in_ks: bool) -> tuple[int, int, bool]:
        """Consume the items at exactly this node; return (next item, inherited route, in keyspace)."""
        while i < j and items[i][1] == depth and items[i][0] == node:
            if items[i][2]:
                inh = items[i][3]
            else:
                in_ks = True
            i += 1
        return i, inh, in_ks

    def up(depth: int, node: int, i: int, j: int, inh: int, in_ks: bool) -> _Set:
        i, inh, in_ks = head(depth, node, i, j, inh, in_ks)
        if i == j:
            return leaf(inh, in_ks)
        half = node + (1 << (KEY_BITS - depth - 1))
        m = bisect_left(starts, half, i, j)
        left = up(depth + 1, node, i, m, inh, in_ks) if m > i else leaf(inh, in_ks)
        right = up(depth + 1, half, m, j, inh, in_ks) if j > m else leaf(inh, in_ks)
        s = _meet(left, right)
        sets[(depth, node)] = s
        return s

    out: list[tuple[int, int, int]] = []

    def down(depth: int, node: int, i: int, j: int, inh: int, in_ks: bool, chosen: int) -> None:
        i, inh, in_ks = head(depth, node, i, j, inh, in_ks)
        s = leaf(inh, in_ks) if i == j else sets[(depth, node)]
        if s is not None and chosen not in s:
            chosen = min(s)
            out.append((depth, node, chosen))
        if i == j:
            return
        half = node + (1 << (KEY_BITS - depth - 1))
        m = bisect_left(starts, half, i, j)
        for lo, hi, start in ((i, m, node), (m, j, half)):
            if hi > lo:
                down(depth + 1, start, lo, hi, inh, in_ks, chosen)
            else:
                s2 = leaf(inh, in_ks)
                if s2 is not None and chosen not in s2:
                    out.append((depth + 1, start, min(s2)))

    try:
        up(0, 0, 0, len(items), 0, everything)
        down(0, 0, 0, len(items), 0, everything, 0)
    finally:
        sys.setrecursionlimit(old_limit)
    out.sort(key=lambda e: (-e[0], e[1]))
    result = [(node, KEY_MASK ^ ((1 << (KEY_BITS - depth)) - 1), route) for depth, node, route in out]
    if len(result) > len(table):  # cannot happen for ORTC; keep the normalised input if it did
        result = [(k, KEY_MASK ^ ((1 << (KEY_BITS - d)) - 1), r) for k, d, r in table]
    return result
