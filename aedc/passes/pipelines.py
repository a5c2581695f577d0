"""Named pipelines, as data: the one place to read what ``aedc compile`` runs by default."""

from __future__ import annotations

from typing import Final

DEFAULT_PIPELINE: Final[str] = "verify,fold-scale,fuse-affine,dce,slice,place,route,compress-tables,emit-c"
"""Check the imported graph, fold NIR Scale nodes, fuse the remaining linear nodes into projections,
drop what reaches no output, slice populations into PE-sized pieces and place them (CP-SAT), allocate
routing keys and build the multicast router tables, and compress them (both verify delivery), and emit
the per-PE C programs (``aedc compile`` writes them to ``<build>/c/``; ``--build`` cross-compiles them)."""

PIPELINES: Final[dict[str, str]] = {
    "default": DEFAULT_PIPELINE,
    "check": "verify",
}
"""Named pipelines a user can select by name."""
