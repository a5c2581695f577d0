"""The immutable compile state that flows through a pipeline: the IR graph plus later-stage artifacts.

Every pass takes a :class:`CompileState` and returns a new one (``dataclasses.replace(state, ...)``);
nothing is mutated in place. An artifact that has not been produced yet is ``None``. Passes declare, by
the names in :data:`ARTIFACTS`, which artifacts they ``require`` and ``produce``; the pipeline checks that
order when it is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aedc.ir.graph import Graph

ARTIFACTS: Final[tuple[str, ...]] = ("graph", "slices", "placement", "routes", "tables", "sources")
"""Artifact names, in pipeline order; ``requires``/``produces`` of every pass use these names."""


@dataclass(frozen=True)
class CompileState:
    """Everything a compilation has built so far.

    The later-stage artifacts are typed ``object | None`` until their stages exist (partition → slices
    and placement, routing → routes and tables, codegen → sources); each will become its own frozen,
    serialisable type then.
    """

    graph: Graph
    slices: object | None = None  # partition: populations split into PE-sized slices
    placement: object | None = None  # partition: slice → PE assignment
    routes: object | None = None  # routing: keys and multicast trees
    tables: object | None = None  # routing: per-chip router tables
    sources: object | None = None  # codegen: per-PE C sources and data images

    def present(self) -> frozenset[str]:
        """Names of the artifacts that are set (``graph`` always is)."""
        return frozenset(name for name in ARTIFACTS if getattr(self, name) is not None)

    def has(self, *names: str) -> bool:
        """Whether every artifact in ``names`` is set (unknown names raise ``KeyError``)."""
        for name in names:
            if name not in ARTIFACTS:
                raise KeyError(f"unknown artifact {name!r}; artifacts are {', '.join(ARTIFACTS)}")
        return all(getattr(self, name) is not None for name in names)
