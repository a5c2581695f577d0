"""The compile stages' passes, registered with the pass registry when ``aedc`` is imported.

:mod:`aedc.passes` is the lowest layer that runs pipelines; it must not name the stages built on top of
it. Each stage's passes are listed here, beside the CLI, at the top of the layering — by
``"module:Class"``, so that registering imports no stage (and so neither JAX nor OR-Tools).
"""

from __future__ import annotations

from typing import Final

from aedc.passes.registry import register_lazy

STAGE_PASSES: Final[dict[str, str]] = {
    "slice": "aedc.partition.passes:SlicePopulations",
    "place": "aedc.partition.passes:PlaceSlices",
    "route": "aedc.routing.passes:RouteSlices",
    "compress-tables": "aedc.routing.passes:CompressTables",
    "emit-c": "aedc.codegen.passes:EmitC",
}
"""Pass name → ``"module:Class"`` of the partition, routing and codegen stages."""


def register_stage_passes() -> None:
    """Register every stage pass (idempotent)."""
    for name, target in STAGE_PASSES.items():
        register_lazy(name, target)
