"""Route verifier: proves every source reaches exactly its destination PEs through the router tables.

Router semantics assumed everywhere in aedc (and respected by the compressors): an entry matches a key
when ``key & mask == entry key``; **the first matching entry wins; a key that matches no entry is
dropped** (no default route — unlike SpiNNaker 1's straight-through default routing, which this model
does not rely on); an entry with an empty route drops the packet. Routes do not depend on the link a
packet arrived by. Every packet enters the router of its source chip first.

How every key is simulated without enumerating 2^32 keys: a table whose masks are prefixes is a
piecewise-constant function of the key; :func:`table_intervals` computes it exactly as sorted
``(lo, hi, route)`` intervals covering ``0 .. 2^32``. The verifier pushes each source's used key range
``base .. base + size`` through the tables as intervals, splitting where the route changes, so the proof
covers every key of every block (for tables with non-prefix masks it falls back to per-key lookup).

Checked per key block: no key is dropped on the way (loss), no key reaches a chip twice (duplicate or
loop), every destination PE receives every key exactly once, and no other PE receives any (stray).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from aedc.errors import RoutingError
from aedc.machine import LINKS, Chip, Machine
from aedc.routing.compress_ortc import is_prefix_mask, normalise
from aedc.routing.model import KEY_BITS, LINK_BITS, RoutingTables, entry_bits, pe_bit_function
from aedc.routing.tables import RawTable
from aedc.routing.trees import neighbour

__all__ = ["RouteFunction", "equivalent", "lookup", "table_intervals", "verify_raw", "verify_tables"]

Interval = tuple[int, int, int]


def lookup(entries: Sequence[tuple[int, int, int]], key: int) -> int | None:
    """Route of ``key`` in a first-match table (``None``: no entry matches)."""
    for k, m, r in entries:
        if key & m == k:
            return r
    return None


def table_intervals(entries: Sequence[tuple[int, int, int]]) -> list[Interval]:
    """The function of a prefix-mask table as sorted, maximal ``(lo, hi, route)`` intervals that cover
    ``0 .. 2**32``; route 0 = dropped (by no match or an empty route)."""
    eff = [(k, k + (1 << (KEY_BITS - d)), r) for k, d, r in normalise(entries)]
    eff.sort(key=lambda e: (e[0], -(e[1] - e[0])))
    out: list[Interval] = []
    stack: list[Interval] = [(0, 1 << KEY_BITS, 0)]
    pos = 0

    def emit(hi: int, route: int) -> None:
        nonlocal pos
        if pos < hi:
            if out and out[-1][2] == route and out[-1][1] == pos:
                out[-1] = (out[-1][0], hi, route)
            else:
                out.append((pos, hi, route))
            pos = hi

    for lo, hi, r in eff:
        while stack[-1][1] <= lo:
            top = stack.pop()
            emit(top[1], top[2])
        emit(lo, stack[-1][2])
        stack.append((lo, hi, r))
    while stack:
        top = stack.pop()
        emit(top[1], top[2])
    return out


class RouteFunction:
    """Fast route lookup over a table: intervals + bisection for prefix tables, else a linear scan."""

    def __init__(self, entries: Sequence[tuple[int, int, int]]) -> None:
        self.entries = list(entries)
        self.prefix = all(is_prefix_mask(m) for _, m, _ in self.entries)
        if self.prefix:
            self.intervals = table_intervals(self.entries)
            self.starts = [iv[0] for iv in self.intervals]

    def pieces(self, lo: int, hi: int) -> list[Interval]:
        """``(a, b, route)`` pieces of ``lo .. hi`` with one route each (0 = dropped)."""
        if not self.prefix:
            out: list[Interval] = []
            for key in range(lo, hi):
                r = lookup(self.entries, key) or 0
                if out and out[-1][2] == r and out[-1][1] == key:
                    out[-1] = (out[-1][0], key + 1, r)
                else:
                    out.append((key, key + 1, r))
            return out
        i = bisect_right(self.starts, lo) - 1
        out = []
        while i < len(self.intervals) and self.intervals[i][0] < hi:
            a, b, r = self.intervals[i]
            out.append((max(a, lo), min(b, hi), r))
            i += 1
        return out


def equivalent(a: Sequence[tuple[int, int, int]], b: Sequence[tuple[int, int, int]],
               keyspace: Sequence[tuple[int, int]] | None = None) -> bool:
    """Whether two prefix tables route every key (of ``keyspace``) identically — an exact proof."""
    fa, fb = RouteFunction(a), RouteFunction(b)
    ranges = [(0, 1 << KEY_BITS)] if keyspace is None else [(k & m, (k & m) + (~m & (1 << KEY_BITS) - 1) + 1)
                                                             for k, m in keyspace]
    return all(fa.pieces(lo, hi) == fb.pieces(lo, hi) for lo, hi in ranges)


def verify_raw(machine: Machine, tables: RoutingTables, raw: dict[Chip, RawTable] | None = None,
               *, max_problems: int = 20) -> None:
    """Prove delivery (module docstring) for ``tables`` or for ``raw`` per-chip entries replacing them.

    Raises :class:`RoutingError` listing up to ``max_problems`` failures, each naming the source slice,
    the key range and the chip or PE.
    """
    if raw is None:
        raw = {t.chip: [entry_bits(machine, e) for e in t.entries]
               for t in tables.tables}
    funcs = {c: RouteFunction(entries) for c, entries in raw.items()}
    routes = tables.routes
    qpes = machine.qpes
    n_chips = len(machine.chips)
    pe_bit = pe_bit_function(machine)
    problems: list[str] = []
    for src in routes.sources:
        block = routes.keys[src.block]
        if block.size == 0:
            continue
        what = f"slice {block.slice} ({block.partition}, keys {block.base:#x}+{block.size})"
        expected = {(p.chip, pe_bit(p)) for p in src.destinations}
        got: dict[tuple[Chip, int], list[tuple[int, int]]] = {}
        visits: dict[Chip, list[tuple[int, int]]] = {}
        stack: list[tuple[Chip, int, int, int]] = [(src.source.chip, block.base,
                                                     block.base + block.size, 0)]
        while stack and len(problems) < max_problems:
            chip, lo, hi, depth = stack.pop()
            if depth > n_chips:
                problems.append(f"{what}: keys {lo:#x}..{hi - 1:#x} loop (still travelling at chip {chip})")
                continue
            for a, b in visits.get(chip, []):
                if a < hi and lo < b:
                    problems.append(f"{what}: keys {max(a, lo):#x}..{min(b, hi) - 1:#x} reach chip {chip} "
                                    "twice (duplicate)")
                    break
            visits.setdefault(chip, []).append((lo, hi))
            f = funcs.get(chip)
            for a, b, r in (f.pieces(lo, hi) if f is not None else [(lo, hi, 0)]):
                if r == 0:
                    problems.append(f"{what}: keys {a:#x}..{b - 1:#x} dropped at chip {chip} (no entry or "
                                    "empty route)")
                    continue
                for i, (name, _, _) in enumerate(LINKS):
                    if r >> i & 1:
                        n = neighbour(machine, chip, name)
                        if n is None:
                            problems.append(f"{what}: chip {chip} routes keys {a:#x}..{b - 1:#x} out of "
                                            f"link {name}, which leads nowhere")
                        else:
                            stack.append((n, a, b, depth + 1))
                local = r >> LINK_BITS
                bit = 0
                while local:
                    if local & 1:
                        got.setdefault((chip, 1 << (LINK_BITS + bit)), []).append((a, b))
                    local >>= 1
                    bit += 1
        for (chip, bit), spans in sorted(got.items()):
            q, pe = divmod(bit.bit_length() - 1 - LINK_BITS, 4)
            where = (f"PE {chip[0]},{chip[1]}:{qpes[q][0]},{qpes[q][1]}:{pe}" if q < len(qpes)
                     else f"bit {bit}")
            if (chip, bit) not in expected:
                problems.append(f"{what}: stray delivery to {where}")
                continue
            spans.sort()
            at = block.base
            for a, b in spans:
                if a < at:
                    problems.append(f"{what}: keys from {a:#x} delivered twice to {where}")
                    break
                if a > at:
                    break
                at = b
            if at != block.base + block.size:
                problems.append(f"{what}: keys from {at:#x} never reach {where} (loss)")
        for chip, bit in sorted(expected - set(got)):
            q, pe = divmod(bit.bit_length() - 1 - LINK_BITS, 4)
            problems.append(f"{what}: nothing reaches PE {chip[0]},{chip[1]}:{qpes[q][0]},{qpes[q][1]}:{pe}"
                            " (loss)")
        if len(problems) >= max_problems:
            break
    if problems:
        more = f" (stopped at the first {max_problems})" if len(problems) >= max_problems else ""
        raise RoutingError(f"route verification failed{more}: " + "; ".join(problems[:max_problems]),
                           where="routing")


def verify_tables(tables: RoutingTables) -> RoutingTables:
    """Verify ``tables`` (see :func:`verify_raw`) and return them marked ``verified``."""
    verify_raw(tables.machine, tables)
    return tables.model_copy(update={"verified": True})
