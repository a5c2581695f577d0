"""Frontends: NIR import/export and the native Python builder."""

from aedc.frontend.builder import Network
from aedc.frontend.nir_export import to_nir, write_nir
from aedc.frontend.nir_import import from_nir
from aedc.frontend.nir_reader import (
    NIRImportWarning,
    NIRVersionWarning,
    RawGraph,
    RawNode,
    raw_from_nir,
    read_nir,
)

__all__ = [
    "NIRImportWarning", "NIRVersionWarning", "Network", "RawGraph", "RawNode", "from_nir",
    "raw_from_nir", "read_nir", "to_nir", "write_nir",
]
