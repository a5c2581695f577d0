"""Multicast routing: keys, trees, router tables, compression, verifier (see DESIGN.md).

The stage's entry points::

    blocks = allocate_keys(placement.slicing, placement=placement)   # aligned key block per slice
    routes = build_routes(placement, blocks)                         # the ``routes`` artifact
    tables = verify_tables(build_tables(placement.machine, routes))  # the ``tables`` artifact
    tables = verify_tables(compress_tables(tables))                  # ORTC, each table ≤ 16,384 entries

* :mod:`aedc.routing.model` — the artifacts ``KeyBlock``, ``Routes``, ``RoutingTables``
  (``save``/``load``) and the compact route encoding.
* :mod:`aedc.routing.keys`, :mod:`aedc.routing.trees`, :mod:`aedc.routing.tables` — one algorithm each.
* :mod:`aedc.routing.compress` — ``compress_tables``; every compressor (``compress_ortc``) implements
  one signature, registered in ``COMPRESSORS``.
* :mod:`aedc.routing.verify` — simulates every key through the tables: no loss, duplicate or stray.
* :mod:`aedc.routing.passes` — the ``route`` and ``compress-tables`` passes; :mod:`aedc.routing.plot`.
"""

from aedc.routing.compress import compress_tables
from aedc.routing.keys import allocate_keys
from aedc.routing.model import KeyBlock, Routes, RoutingTables
from aedc.routing.tables import build_tables
from aedc.routing.trees import build_routes
from aedc.routing.verify import verify_tables

__all__ = ["KeyBlock", "Routes", "RoutingTables", "allocate_keys", "build_routes", "build_tables",
           "compress_tables", "verify_tables"]
