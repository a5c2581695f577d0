"""Router tables: one entry per (key block, chip on its tree), before compression.

Stage signature::

    build_tables(machine, routes) -> RoutingTables

On every chip of a block's tree (the source chip included: a PE injects every packet into its own chip's
router) the entry ``(base, mask)`` routes the block out on the tree's links from that chip and to the
destination PEs on that chip (one NoC packet per destination QPE with a 4-bit PE mask). Entries are
ordered by key; the blocks are disjoint, so order does not matter before compression.
"""

from __future__ import annotations

from aedc.machine import Chip, Machine
from aedc.routing.model import (
    LINK_BITS,
    RouterEntry,
    RouterTable,
    Routes,
    RoutingTables,
    pe_bit_function,
    route_from_bits,
)

__all__ = ["RawTable", "build_tables", "raw_tables", "tables_from_raw"]

RawTable = list[tuple[int, int, int]]
"""``(key, mask, route bits)`` entries, in order (see :func:`aedc.routing.model.route_bits`)."""

_LINK_BIT = {"E": 0, "NE": 1, "N": 2, "W": 3, "SW": 4, "S": 5}


def raw_tables(machine: Machine, routes: Routes) -> dict[Chip, RawTable]:
    """Uncompressed per-chip entries as ``(key, mask, route bits)``, chips in machine order."""
    per_chip: dict[Chip, dict[int, int]] = {}  # chip -> block index -> route bits
    assert LINK_BITS == len(_LINK_BIT)
    pe_bit = pe_bit_function(machine)
    for src in routes.sources:
        bits: dict[Chip, int] = {src.source.chip: 0}
        for t in src.tree:
            c: Chip = t.chip
            bits[c] = bits.get(c, 0) | 1 << _LINK_BIT[t.link]
        for pe in src.destinations:
            c = pe.chip
            bits[c] = bits.get(c, 0) | pe_bit(pe)
        for c, r in bits.items():
            per_chip.setdefault(c, {})[src.block] = r
    out: dict[Chip, RawTable] = {}
    for chip in machine.chips:
        if chip in per_chip:
            rows = [(routes.keys[b].base, routes.keys[b].mask, r) for b, r in per_chip[chip].items()]
            out[chip] = sorted(rows)
    return out


def tables_from_raw(machine: Machine, routes: Routes, raw: dict[Chip, RawTable],
                    uncompressed: dict[Chip, int], *, compressor: str, verified: bool = False
                    ) -> RoutingTables:
    """Wrap raw entries into the :class:`RoutingTables` artifact (chips in machine order)."""
    cache: dict[int, RouterEntry] = {}
    tables = []
    for chip in machine.chips:
        if chip not in raw:
            continue
        entries = []
        for key, mask, r in raw[chip]:
            links, targets = route_from_bits(machine, r) if r not in cache else ((), ())
            if r not in cache:
                cache[r] = RouterEntry(key=0, mask=0, links=links, targets=targets)
            proto = cache[r]
            entries.append(RouterEntry.model_construct(key=key, mask=mask, links=proto.links,
                                                       targets=proto.targets))
        tables.append(RouterTable(chip=chip, entries=tuple(entries), uncompressed=uncompressed[chip]))
    return RoutingTables(machine=machine, routes=routes, tables=tuple(tables), compressor=compressor,
                         verified=verified)


def build_tables(machine: Machine, routes: Routes) -> RoutingTables:
    """The uncompressed tables of ``routes`` (see the module docstring)."""
    raw = raw_tables(machine, routes)
    return tables_from_raw(machine, routes, raw, {c: len(t) for c, t in raw.items()}, compressor="none")
