"""The immutable compile state that flows through a pipeline: the IR graph plus later-stage artifacts.

Every pass takes a :class:`CompileState` and returns a new one (``dataclasses.replace(state, ...)``);
nothing is mutated in place. An artifact that has not been produced yet is ``None``. Passes declare, by
the names in :data:`ARTIFACTS`, which artifacts they ``require`` and ``produce``; the pipeline checks that
order when it is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, overload

from aedc.errors import PipelineError
from aedc.ir.graph import Graph

if TYPE_CHECKING:  # the stages' artifact types; importing them here would invert the layering
    from aedc.codegen.model import Sources
    from aedc.partition.model import Placement, Slicing
    from aedc.routing.model import Routes, RoutingTables

ARTIFACTS: Final[tuple[str, ...]] = ("graph", "slices", "placement", "routes", "tables", "sources")
"""Artifact names, in pipeline order; ``requires``/``produces`` of every pass use these names."""


@dataclass(frozen=True)
class CompileState:
    """Everything a compilation has built so far: the graph, then one typed, serialisable artifact per
    stage (``None`` until its pass ran). :meth:`require` returns an artifact a pass needs, typed."""

    graph: Graph
    slices: Slicing | None = None  # partition: populations split into PE-sized slices
    placement: Placement | None = None  # partition: slice → PE assignment
    routes: Routes | None = None  # routing: keys and multicast trees
    tables: RoutingTables | None = None  # routing: per-chip router tables
    sources: Sources | None = None  # codegen: per-PE C sources and data images

    @overload
    def require(self, name: Literal["slices"]) -> Slicing: ...
    @overload
    def require(self, name: Literal["placement"]) -> Placement: ...
    @overload
    def require(self, name: Literal["routes"]) -> Routes: ...
    @overload
    def require(self, name: Literal["tables"]) -> RoutingTables: ...
    @overload
    def require(self, name: Literal["sources"]) -> Sources: ...

    def require(self, name: str) -> object:
        """The artifact ``name``; a :class:`PipelineError` naming it when no pass has produced it yet
        (a pipeline checks ``requires`` when built, so this fires only for a pass run by hand)."""
        if name not in ARTIFACTS or name == "graph":
            raise KeyError(f"unknown artifact {name!r}; artifacts are {', '.join(ARTIFACTS[1:])}")
        value = getattr(self, name)
        if value is None:
            raise PipelineError(f"no '{name}' artifact yet: run the pass that produces it first "
                                f"(see 'aedc passes')", where=name)
        return value

    def present(self) -> frozenset[str]:
        """Names of the artifacts that are set (``graph`` always is)."""
        return frozenset(name for name in ARTIFACTS if getattr(self, name) is not None)

    def has(self, *names: str) -> bool:
        """Whether every artifact in ``names`` is set (unknown names raise ``KeyError``)."""
        for name in names:
            if name not in ARTIFACTS:
                raise KeyError(f"unknown artifact {name!r}; artifacts are {', '.join(ARTIFACTS)}")
        return all(getattr(self, name) is not None for name in names)
