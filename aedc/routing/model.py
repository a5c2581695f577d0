"""Routing artifacts: key blocks, multicast routes and per-chip router tables.

What consumers (codegen, emulator) may rely on:

* :class:`KeyBlock`: source slice ``slice`` sends its ``partition`` events with key ``base + i`` for its
  neuron (or partial-sum) index ``i`` in ``0..size-1``; ``base`` is aligned to ``2**bits`` with
  ``2**bits >= size``, so ``(base, mask)`` is one router entry covering the whole slice.
* :class:`SourceRoute`: for one key block, the source PE, the destination PEs (sorted, canonical order),
  the multicast tree (the chip links it uses) and :class:`Hops` per destination PE — chip hops on the
  hexagonal torus and NoC QPE hops — for the emulator's NoC latency model.
* :class:`RouterTable`: the ordered entries of one chip router. **First match wins; a packet that matches
  no entry is dropped** (no default route). A matching entry whose route is empty drops the packet too
  (the compressor may emit such entries to carve holes). A route is a set of chip links
  (:data:`~aedc.machine.LINKS` names) plus local targets: one NoC packet per destination QPE carrying a
  4-bit PE mask (:class:`QPETarget`). Every packet, also one whose destinations are all on the source
  chip, enters the router of the source chip; tables do not depend on the link a packet arrived on.
* :class:`RoutingTables` (the ``tables`` artifact of :class:`~aedc.passes.CompileState`): the machine,
  the :class:`Routes` (``routes`` artifact) and one :class:`RouterTable` per chip that routes anything,
  with the entry count before compression. ``to_json`` is deterministic (sorted keys, no timings).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import ClassVar

from pydantic import Field

from aedc.ir.base import IRModel
from aedc.ir.document import Document
from aedc.machine import LINKS, QPE, Chip, LinkDirection, Machine, PEAddress

__all__ = ["Hops", "KeyBlock", "QPETarget", "RouterEntry", "RouterTable", "Routes", "RoutingTables",
           "SourceRoute", "TreeLink", "route_bits", "route_from_bits"]

KEY_BITS = 32
KEY_MASK = (1 << KEY_BITS) - 1
LINK_BITS = len(LINKS)
_LINK_INDEX: dict[str, int] = {name: i for i, (name, _, _) in enumerate(LINKS)}


class KeyBlock(IRModel):
    """Keys ``base .. base + size - 1`` of one outgoing partition of a source slice."""

    slice: int = Field(ge=0, description="index into Slicing.slices")
    partition: str = Field(description="'spike' (binary), 'graded' (payload) or 'partial' (synapse PE sums)")
    base: int = Field(ge=0)
    bits: int = Field(ge=0, le=KEY_BITS, description="the block spans 2**bits keys")
    size: int = Field(ge=0, description="keys in use (the slice's neurons)")

    @property
    def mask(self) -> int:
        """Router mask matching exactly the block: the top ``32 - bits`` bits."""
        return KEY_MASK ^ ((1 << self.bits) - 1)

    @property
    def span(self) -> int:
        return 1 << self.bits

    def key(self, index: int) -> int:
        """Key of neuron ``index`` of the slice (``ValueError`` outside ``0..size-1``)."""
        if not 0 <= index < self.size:
            raise ValueError(f"index {index} outside the block of {self.size} keys")
        return self.base + index


class QPETarget(IRModel):
    """One NoC packet of a router entry: destination QPE ``(qx, qy)`` and the 4-bit PE mask."""

    qpe: QPE
    pe_mask: int = Field(ge=1, le=15)


class RouterEntry(IRModel):
    """``key & mask == entry key`` matches; the packet goes out on ``links`` and to ``targets``."""

    key: int = Field(ge=0, le=KEY_MASK)
    mask: int = Field(ge=0, le=KEY_MASK)
    links: tuple[LinkDirection, ...] = ()
    targets: tuple[QPETarget, ...] = ()

    def matches(self, key: int) -> bool:
        return key & self.mask == self.key


class RouterTable(IRModel):
    """The ordered entries of the router of ``chip`` (first match wins, no match = dropped)."""

    chip: Chip
    entries: tuple[RouterEntry, ...]
    uncompressed: int = Field(ge=0, description="entries before compression")


class TreeLink(IRModel):
    """A packet of the source leaves ``chip`` by ``link``."""

    chip: Chip
    link: LinkDirection


class Hops(IRModel):
    """Path length from the source PE to one destination PE: chip-to-chip hops, then NoC QPE hops.

    ``qpe_hops`` is the Manhattan distance on the QPE mesh between the source QPE and the destination
    QPE when both are on one chip, else the distance from the QPE at the chip's entry point is unknown
    and 0 is recorded (as :meth:`Machine.pe_hops` does).
    """

    pe: PEAddress
    chip_hops: int = Field(ge=0)
    qpe_hops: int = Field(ge=0)


class SourceRoute(IRModel):
    """The multicast route of one key block (index ``block`` into ``Routes.keys``)."""

    block: int = Field(ge=0)
    source: PEAddress
    destinations: tuple[PEAddress, ...]
    tree: tuple[TreeLink, ...] = ()
    hops: tuple[Hops, ...] = ()
    packets_per_tick: float = Field(0.0, ge=0.0, description="expected packets the source sends per tick")


class Routes(IRModel):
    """The ``routes`` artifact: every key block and the multicast route of each."""

    keys: tuple[KeyBlock, ...]
    sources: tuple[SourceRoute, ...]

    def hops(self, slice_index: int, pe: PEAddress) -> Hops:
        """Hops from source slice ``slice_index`` to destination ``pe`` (``KeyError`` if not routed)."""
        for src in self.sources:
            if self.keys[src.block].slice == slice_index:
                for h in src.hops:
                    if h.pe == pe:
                        return h
        raise KeyError(f"slice {slice_index} does not send to PE {pe}")

    def hop_map(self) -> dict[tuple[int, PEAddress], Hops]:
        """``(source slice, destination PE) → Hops`` for every routed pair (for the NoC latency model)."""
        return {(self.keys[src.block].slice, h.pe): h for src in self.sources for h in src.hops}

    def link_loads(self) -> dict[tuple[Chip, LinkDirection], float]:
        """Expected packets per tick on every used chip link (sum over the trees that use it)."""
        loads: dict[tuple[Chip, LinkDirection], float] = {}
        for src in self.sources:
            for t in src.tree:
                loads[(t.chip, t.link)] = loads.get((t.chip, t.link), 0.0) + src.packets_per_tick
        return dict(sorted(loads.items()))


class RoutingTables(Document):
    """The ``tables`` artifact: per-chip router tables for ``routes`` on ``machine``."""

    FORMAT: ClassVar[str] = "aedc-routing"
    KEY: ClassVar[str] = "routing"
    WHAT: ClassVar[str] = "routing tables"
    COMPACT: ClassVar[bool] = True

    machine: Machine
    routes: Routes
    tables: tuple[RouterTable, ...] = Field(description="chips with a non-empty table, in machine order")
    compressor: str = Field("none", description="algorithm that produced the entries")
    verified: bool = Field(False, description="whether verify.verify_tables proved delivery")

    def table(self, chip: Chip) -> RouterTable | None:
        for t in self.tables:
            if t.chip == tuple(chip):
                return t
        return None

    @property
    def entries(self) -> int:
        return sum(len(t.entries) for t in self.tables)

    @property
    def uncompressed(self) -> int:
        return sum(t.uncompressed for t in self.tables)

    def text(self) -> str:
        """Stable text form: per chip, its entries in table order as ``key/mask -> links | QPE:PE-mask``."""
        lines = []
        for t in self.tables:
            lines.append(f"chip {t.chip[0]},{t.chip[1]}: {len(t.entries)} entries "
                         f"({t.uncompressed} before compression)")
            for e in t.entries:
                targets = " ".join(f"{q.qpe[0]},{q.qpe[1]}:{q.pe_mask:04b}" for q in e.targets)
                lines.append(f"  {e.key:08x}/{e.mask:08x} -> {','.join(e.links) or '-'} | {targets or '-'}")
        return "\n".join(lines) + "\n"


# ---- compact route encoding (what the compressors and the verifier work on) ------------------------------

@lru_cache(maxsize=16)
def _qpe_index(machine: Machine) -> dict[QPE, int]:
    return {q: i for i, q in enumerate(machine.qpes)}


def route_bits(machine: Machine, links: tuple[str, ...], targets: tuple[QPETarget, ...]) -> int:
    """Encode a route as an int: bit ``i`` (0..5) = link ``LINKS[i]``; bit ``6 + 4·q + pe`` = PE ``pe``
    of the ``q``-th QPE of ``machine.qpes``. 0 means "drop"."""
    index = _qpe_index(machine)
    bits = 0
    for name in links:
        bits |= 1 << _LINK_INDEX[name]
    for t in targets:
        bits |= t.pe_mask << (LINK_BITS + 4 * index[t.qpe])
    return bits


def route_from_bits(machine: Machine, bits: int) -> tuple[tuple[LinkDirection, ...], tuple[QPETarget, ...]]:
    """Inverse of :func:`route_bits`: links in ``LINKS`` order, one :class:`QPETarget` per QPE."""
    links = tuple(name for i, (name, _, _) in enumerate(LINKS) if bits >> i & 1)
    rest = bits >> LINK_BITS
    targets = []
    for q, qpe in enumerate(machine.qpes):
        m = rest >> (4 * q) & 0xF
        if m:
            targets.append(QPETarget(qpe=qpe, pe_mask=m))
    return links, tuple(targets)


def entry_bits(machine: Machine, e: RouterEntry) -> tuple[int, int, int]:
    """``(key, mask, route bits)`` of an entry."""
    return e.key, e.mask, route_bits(machine, e.links, e.targets)


def pe_bit(machine: Machine, pe: PEAddress) -> int:
    """The route bit delivering to ``pe`` on its own chip."""
    return 1 << (LINK_BITS + 4 * _qpe_index(machine)[pe.qpe] + pe.pe)


def pe_bit_function(machine: Machine) -> Callable[[PEAddress], int]:
    """:func:`pe_bit` for one machine, without hashing the machine on every call."""
    index = {q: LINK_BITS + 4 * i for i, q in enumerate(machine.qpes)}
    return lambda pe: 1 << (index[pe.qpe] + pe.pe)
