"""The compression stage: run a compressor over every chip's table, check the router's capacity.

Compressors implement ``compress(entries, *, keyspace=None) -> list[(key, mask, route)]`` (see
:mod:`aedc.routing.compress_ortc`) and must route every key of ``keyspace`` (every key if ``None``)
exactly like the input table under first-match, no-match-is-dropped semantics.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Final

from aedc.errors import RoutingError
from aedc.routing.model import KEY_BITS, KEY_MASK, RoutingTables, entry_bits
from aedc.routing.tables import RawTable, tables_from_raw

__all__ = ["COMPRESSORS", "compress_tables", "get_compressor", "merge_prefixes"]

Compressor = Callable[..., list[tuple[int, int, int]]]

COMPRESSORS: Final[dict[str, str]] = {
    "ortc": "aedc.routing.compress_ortc:compress",
    "none": "aedc.routing.compress:identity",
}
"""Compressor name → ``"module:function"`` (imported on first use)."""


def identity(entries: Sequence[tuple[int, int, int]], *,
             keyspace: Sequence[tuple[int, int]] | None = None) -> list[tuple[int, int, int]]:
    """No compression (the input table, unchanged)."""
    return list(entries)


def merge_prefixes(blocks: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The union of ``(base, span)`` blocks as the fewest aligned ``(key, mask)`` prefixes (CIDR-style)."""
    spans: list[list[int]] = []
    for lo, n in sorted(blocks):
        if spans and lo <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], lo + n)
        else:
            spans.append([lo, lo + n])
    out = []
    for lo, hi in spans:
        while lo < hi:
            size = lo & -lo if lo else 1 << KEY_BITS
            while size > hi - lo:
                size >>= 1
            out.append((lo, KEY_MASK ^ (size - 1)))
            lo += size
    return out


def get_compressor(name: str) -> Compressor:
    if name not in COMPRESSORS:
        raise RoutingError(f"unknown table compressor {name!r}; available: {', '.join(sorted(COMPRESSORS))}",
                           where=name)
    module, _, attr = COMPRESSORS[name].partition(":")
    fn: Compressor = getattr(importlib.import_module(module), attr)
    return fn


def compress_tables(tables: RoutingTables, *, algorithm: str = "ortc", dont_care: bool = True,
                    check_capacity: bool = True) -> RoutingTables:
    """Compress every chip's table with ``algorithm``.

    With ``dont_care`` the keys outside every allocated key block (which no PE ever sends) may be routed
    anywhere; otherwise the compressed table routes all 2^32 keys like the input. Raises
    :class:`RoutingError` naming every chip whose table still exceeds ``machine.router_entries``.
    """
    machine = tables.machine
    fn = get_compressor(algorithm)
    keyspace = merge_prefixes([(b.base, b.span) for b in tables.routes.keys]) if dont_care else None
    raw: dict[tuple[int, int], RawTable] = {}
    for t in tables.tables:
        raw[t.chip] = fn([entry_bits(machine, e) for e in t.entries],
                                keyspace=keyspace)
    if check_capacity:
        over = [(c, len(r)) for c, r in raw.items() if len(r) > machine.router_entries]
        if over:
            listing = ", ".join(f"chip {c[0]},{c[1]}: {n:,} entries" for c, n in over)
            raise RoutingError(f"router table too large after {algorithm} compression ({listing}; the router "
                               f"holds {machine.router_entries:,}); spread the placement over more chips or "
                               "use fewer, larger slices", where=f"chip {over[0][0][0]},{over[0][0][1]}")
    return tables_from_raw(machine, tables.routes, raw, {t.chip: t.uncompressed
                                                         for t in tables.tables}, compressor=algorithm)
