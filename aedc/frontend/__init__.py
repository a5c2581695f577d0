"""Frontends: NIR import/export and the native Python builder — everything that makes an IR graph.

* ``from_nir(path_or_graph, profile=...)`` (:mod:`aedc.frontend.nir_import`): NIR 1.0 → IR under an
  explicit discrete-time profile, or (``profile="auto"``, the default) the one of the framework that
  wrote the file (:mod:`aedc.frontend.detect`); the HDF5 file is read by
  :mod:`aedc.frontend.nir_reader` (tolerant of older files, isolated in a child process by
  :mod:`aedc.frontend.h5_isolate`).
* ``to_nir`` / ``write_nir`` (:mod:`aedc.frontend.nir_export`): IR → NIR, every parameter preserved.
* ``Network`` (:mod:`aedc.frontend.builder`): networks written directly in Python.
* ``load_model`` (:mod:`aedc.frontend.load`): a NIR file, IR JSON or build directory, by its kind.
"""

from aedc.errors import AmbiguousProfileError
from aedc.frontend.builder import Network
from aedc.frontend.detect import (
    Detection,
    ProfileDetectedWarning,
    QuirkFixWarning,
    detect,
)
from aedc.frontend.load import load_model
from aedc.frontend.nir_export import to_nir, write_nir
from aedc.frontend.nir_import import from_nir
from aedc.frontend.nir_reader import (
    NIRImportWarning,
    NIRVersionWarning,
    RawGraph,
    RawNode,
    SemanticsWarning,
    raw_from_nir,
    read_nir,
)

__all__ = [
    "AmbiguousProfileError", "Detection", "NIRImportWarning", "NIRVersionWarning", "Network",
    "ProfileDetectedWarning", "QuirkFixWarning", "RawGraph", "RawNode", "SemanticsWarning", "detect",
    "from_nir", "load_model", "raw_from_nir", "read_nir", "to_nir", "write_nir",
]
