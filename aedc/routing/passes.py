"""The ``route`` and ``compress-tables`` passes: thin adapters over the routing stages.

``route`` allocates keys (:mod:`aedc.routing.keys`), builds the multicast trees (:mod:`aedc.routing.trees`)
and the uncompressed router tables (:mod:`aedc.routing.tables`); ``compress-tables`` compresses them
(:mod:`aedc.routing.compress`). Both run the delivery verifier (:mod:`aedc.routing.verify`) unless their
``verify`` option is false or the compilation runs without verification (``--no-verify``, i.e.
``PassContext.verify_each`` false).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar, Literal

from aedc.passes.base import Pass
from aedc.passes.context import PassContext
from aedc.passes.state import CompileState

if TYPE_CHECKING:
    from aedc.partition.model import Slice

__all__ = ["CompressTables", "RouteSlices"]


def _partitions(state: CompileState) -> Callable[[Slice], tuple[str, ...]]:
    """Partition names of a slice: 'partial' for synapse PEs, else by the population's event rule."""
    rules = {p.name: p.event_rule for p in state.graph.populations}

    def of(s: Slice) -> tuple[str, ...]:
        if s.role == "synapse":
            return ("partial",)
        return ("spike",) if rules.get(s.population, "binary") == "binary" else ("graded",)

    return of


@dataclass(frozen=True)
class RouteSlices(Pass):
    """Allocate aligned key blocks, build shortest-path multicast trees and per-chip router tables.

    Options: ``keys`` = packed (population runs, compressible) | fragmented (shuffled, with gaps);
    ``verify`` the delivery of every key before compression.
    """

    name: ClassVar[str] = "route"
    requires: ClassVar[frozenset[str]] = frozenset({"graph", "slices", "placement"})
    produces: ClassVar[frozenset[str]] = frozenset({"routes", "tables"})

    keys: Literal["packed", "fragmented"] = "packed"
    verify: bool = True

    def apply(self, ctx: PassContext, state: CompileState) -> CompileState:
        from aedc.routing.keys import allocate_keys
        from aedc.routing.tables import build_tables
        from aedc.routing.trees import build_routes
        from aedc.routing.verify import verify_tables

        placement = state.require("placement")
        blocks = allocate_keys(placement.slicing, partitions=_partitions(state),
                               strategy=self.keys, seed=ctx.seed, placement=placement)
        routes = build_routes(placement, blocks)
        tables = build_tables(placement.machine, routes)
        if self.verify and ctx.verify_each:
            tables = verify_tables(tables)
        biggest = max((len(t.entries) for t in tables.tables), default=0)
        ctx.report(self.name, f"{len(blocks)} key blocks, {len(routes.sources)} multicast routes, "
                   f"{tables.entries:,} router entries on {len(tables.tables)} chips (largest {biggest:,})"
                   + (", delivery verified" if tables.verified else ""))
        return replace(state, routes=routes, tables=tables)


@dataclass(frozen=True)
class CompressTables(Pass):
    """Compress every chip's router table losslessly (ORTC) and check it fits the router.

    Options: ``algorithm`` = ortc | none; ``dont-care`` lets keys that no PE sends be routed anywhere;
    ``verify`` the delivery of every key after compression.
    """

    name: ClassVar[str] = "compress-tables"
    requires: ClassVar[frozenset[str]] = frozenset({"graph", "tables"})
    produces: ClassVar[frozenset[str]] = frozenset({"tables"})

    algorithm: Literal["ortc", "none"] = "ortc"
    dont_care: bool = True
    verify: bool = True

    def apply(self, ctx: PassContext, state: CompileState) -> CompileState:
        from aedc.routing.compress import compress_tables
        from aedc.routing.verify import verify_tables

        tables = compress_tables(state.require("tables"), algorithm=self.algorithm,
                                 dont_care=self.dont_care)
        if self.verify and ctx.verify_each:
            tables = verify_tables(tables)
        before, after = tables.uncompressed, tables.entries
        biggest = max((len(t.entries) for t in tables.tables), default=0)
        ctx.report(self.name, f"{before:,} → {after:,} router entries ({before / max(after, 1):.1f}×), "
                   f"largest table {biggest:,} of {tables.machine.router_entries:,}"
                   + (", delivery verified" if tables.verified else ""))
        return replace(state, tables=tables)
