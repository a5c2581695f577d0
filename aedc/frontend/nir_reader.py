"""Tolerant NIR reader: an HDF5 ``.nir`` file or an in-memory ``nir.NIRGraph`` → a checked raw graph.

``nir.read`` rejects files real exporters wrote (Rockpool's Output node of shape ``[1, 1, 1]``) and fails
on malformed ones with bare ``KeyError``/``AssertionError``. This reader opens the file with h5py,
accepts the legacy fields of older NIR versions, and reports every defect as an aedc error naming the
file, node and field: an unknown node type is an :class:`~aedc.errors.UnsupportedNodeError`; an unknown,
missing or malformed field, a broken file and an edge to a missing node are
:class:`~aedc.errors.NIRFormatError`. A file written by another NIR version than 1.0 loads with a
:class:`NIRVersionWarning`.

libhdf5 itself may segfault or loop forever on a file whose bytes were corrupted inside its heaps, so
the file is read into plain data in a child process (:mod:`aedc.frontend.h5_isolate`; timeout
``AEDC_HDF5_TIMEOUT_S``, default 30 s): a crash or a timeout is a :class:`~aedc.errors.NIRFormatError`
naming the file too.

The result, :class:`RawGraph`, is a faithful, validated copy of the file (nested graphs stay nested);
turning it into IR — defaults, shapes, semantics — is :mod:`aedc.frontend.nir_import`'s job. The one
normalisation: an ``Input`` node always has ``shape`` (older files may give only ``input_type``).
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from aedc.errors import NIRFormatError, UnsupportedNodeError
from aedc.frontend.h5_isolate import run_isolated
from aedc.frontend.nir_schema import (
    COMMON_FIELDS,
    NODE_TYPES,
    SCHEMA,
    FieldValue,
    check_node,
    convert_field,
    fields_of,
)

if TYPE_CHECKING:
    import nir

SUPPORTED_VERSION = (1, 0)
"""Major and minor NIR format version this reader is written for."""


class NIRImportWarning(UserWarning):
    """Something in a NIR model was read with an assumption (e.g. a delay rounded to whole ticks)."""


class NIRVersionWarning(NIRImportWarning):
    """The file was written by a NIR version other than 1.0.x; it was read with the 1.0 field rules."""


class SemanticsWarning(NIRImportWarning):
    """A parameter is valid but almost certainly not meant under the chosen semantics (an unstable Euler
    step, an exporter's known bug); the message names the population and the likely fix.
    ``from_nir(..., strict=True)`` raises instead."""


@dataclass(frozen=True)
class RawNode:
    """One NIR node as stored: its type, checked fields, and for ``NIRGraph`` the nested graph."""

    type: str
    fields: Mapping[str, FieldValue] = field(default_factory=lambda: MappingProxyType({}))
    subgraph: RawGraph | None = None
    metadata: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class RawGraph:
    """A NIR graph as stored: named nodes, identity edges ``(src, dst)``, the writer's version."""

    nodes: Mapping[str, RawNode]
    edges: tuple[tuple[str, str], ...]
    version: str | None = None
    source: str = "<memory>"
    metadata: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))


Endpoint = Literal["src", "dst"]


def resolve_endpoint(graph: RawGraph, name: str, end: Endpoint) -> str | None:
    """Flat (dotted) path of the node an edge end ``name`` means, or ``None`` if there is none.

    ``name`` is a node of ``graph`` (exact names win, even with dots in them), a dotted path into a
    nested graph (``"sub.lif"``), or a nested graph itself, which stands for its only ``Input`` node
    as an edge destination and its only ``Output`` node as an edge source.
    """
    node = graph.nodes.get(name)
    if node is not None:
        if node.subgraph is None:
            return name
        want = "Input" if end == "dst" else "Output"
        ports = sorted(k for k, n in node.subgraph.nodes.items() if n.type == want)
        if len(ports) != 1:
            raise NIRFormatError(f"edge end '{name}' is a subgraph with {len(ports)} {want} nodes "
                                 f"{ports}; address one of them as '{name}.<node>'", where=name)
        return f"{name}.{ports[0]}"
    parts = name.split(".")
    for i in range(1, len(parts)):
        head = ".".join(parts[:i])
        sub = graph.nodes.get(head)
        if sub is not None and sub.subgraph is not None:
            inner = resolve_endpoint(sub.subgraph, ".".join(parts[i:]), end)
            if inner is not None:
                return f"{head}.{inner}"
    return None


def check_version(version: str | None, source: str) -> None:
    """Warn (:class:`NIRVersionWarning`) unless ``version`` is a NIR 1.0.x version."""
    try:
        major_minor = tuple(int(p) for p in (version or "").split(".")[:2])
    except ValueError:
        major_minor = ()
    if major_minor != SUPPORTED_VERSION:
        what = f"version {version!r}" if version else "no version"
        warnings.warn(f"{source}: NIR file has {what}; reading it with the NIR 1.0 rules "
                      f"(legacy fields accepted, missing v_reset = 0, w_in = 1)",
                      NIRVersionWarning, stacklevel=3)


# --- plain-tree → RawGraph ------------------------------------------------------------------------

def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "OSU":
        return _text(value.item())
    return None


def _edges(value: object, where: str) -> tuple[tuple[str, str], ...]:
    try:
        arr = np.asarray(value, dtype=object)
    except (ValueError, TypeError) as exc:
        raise NIRFormatError(f"{where}: 'edges' is not a list of pairs: {exc}", where=where) from None
    if arr.size == 0:
        return ()
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise NIRFormatError(f"{where}: 'edges' must have shape (N, 2), got {arr.shape}", where=where)
    out: list[tuple[str, str]] = []
    for src, dst in arr:
        s, d = _text(src), _text(dst)
        if not s or not d:
            raise NIRFormatError(f"{where}: edge {src!r} -> {dst!r} must join two node names",
                                 where=where)
        out.append((s, d))
    dup = sorted(e for e, n in Counter(out).items() if n > 1)
    if dup:
        raise NIRFormatError(f"{where}: duplicate edge(s) {dup}", where=where)
    return tuple(out)


def _metadata(value: object) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        return MappingProxyType({})
    return MappingProxyType({str(k): v for k, v in value.items()})


def _node(name: str, tree: Mapping[str, Any], path: str, source: str) -> RawNode:
    where = f"{source}: node '{path}{name}'"
    node_type = _text(tree.get("type"))
    if node_type is None:
        raise NIRFormatError(f"{where} has no 'type' field", where=path + name)
    if node_type == "NIRGraph":
        sub = _graph(tree, f"{path}{name}.", source, version=None)
        return RawNode(type=node_type, subgraph=sub, metadata=sub.metadata)
    if node_type not in SCHEMA:
        raise UnsupportedNodeError(
            f"{where} has type {node_type!r}, which aedc does not support (NIR 1.0 node types: "
            f"{', '.join(NODE_TYPES)})", where=path + name)
    fields: dict[str, FieldValue] = {}
    for key, value in tree.items():
        if key in ("type", "metadata") or value is None:
            continue
        if key not in SCHEMA[node_type] and key not in COMMON_FIELDS:
            raise NIRFormatError(f"{where} ({node_type}) has unknown field '{key}'; a {node_type} has "
                                 f"{', '.join(fields_of(node_type))}", where=path + name)
        fields[key] = convert_field(node_type, key, value, where=where)
    if node_type == "Input" and "shape" not in fields and "input_type" in fields:
        fields["shape"] = fields["input_type"]
    missing = [k for k, spec in SCHEMA[node_type].items() if spec.required and k not in fields]
    if missing:
        raise NIRFormatError(f"{where} ({node_type}): required field '{missing[0]}' is missing",
                             where=path + name)
    check_node(node_type, fields, where=where)
    return RawNode(type=node_type, fields=MappingProxyType(fields),
                   metadata=_metadata(tree.get("metadata")))


def _graph(tree: Mapping[str, Any], path: str, source: str, version: str | None) -> RawGraph:
    label = f"{source}: graph '{path[:-1]}'" if path else f"{source}: graph"
    extra = sorted(set(tree) - {"type", "nodes", "edges", "metadata", *COMMON_FIELDS})
    if extra:
        raise NIRFormatError(f"{label} has unknown field '{extra[0]}'; a NIRGraph has nodes, edges, "
                             f"metadata", where=path[:-1] or source)
    nodes_tree = tree.get("nodes")
    if not isinstance(nodes_tree, Mapping):
        raise NIRFormatError(f"{label} has no 'nodes' group", where=path[:-1] or source)
    nodes: dict[str, RawNode] = {}
    for name, sub in nodes_tree.items():
        if not isinstance(sub, Mapping) or not name:
            raise NIRFormatError(f"{source}: node '{path}{name}' is not a group of fields",
                                 where=path + str(name))
        nodes[str(name)] = _node(str(name), sub, path, source)
    edges = _edges(tree.get("edges", ()), label)
    graph = RawGraph(nodes=MappingProxyType(nodes), edges=edges, version=version, source=source,
                     metadata=_metadata(tree.get("metadata")))
    for src, dst in edges:
        for end, name in (("src", src), ("dst", dst)):
            try:
                found = resolve_endpoint(graph, name, end)  # type: ignore[arg-type]
            except NIRFormatError as exc:
                raise NIRFormatError(f"{label}: {exc}", where=exc.where) from None
            if found is None:
                raise NIRFormatError(f"{label}: edge '{src}' -> '{dst}' refers to missing node "
                                     f"'{path}{name}'", where=path + name)
    return graph


def raw_from_tree(tree: Mapping[str, Any], *, source: str = "<memory>",
                  version: str | None = None) -> RawGraph:
    """Check a plain nested dict laid out like a NIR file's ``node`` group and return its raw graph."""
    node_type = _text(tree.get("type"))
    if node_type not in (None, "NIRGraph"):
        raise NIRFormatError(f"{source}: top-level node has type {node_type!r}, expected 'NIRGraph'",
                             where=source)
    return _graph(tree, "", source, version)


# --- HDF5 file → plain tree -----------------------------------------------------------------------

def _h5_value(value: Any) -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray) and value.dtype.kind in "OS":
        flat = [v.decode("utf-8") if isinstance(v, bytes) else v for v in value.ravel().tolist()]
        if value.ndim == 0:
            return flat[0]
        out = np.empty(len(flat), dtype=object)
        out[:] = flat
        return out.reshape(value.shape)
    if isinstance(value, np.generic):
        return np.asarray(value)
    return value


def _h5_tree(group: Any) -> dict[str, object]:
    import h5py

    out: dict[str, object] = {}
    for key in group:
        item = group[key]
        if isinstance(item, h5py.Group):
            out[key] = _h5_tree(item)
        elif isinstance(item, h5py.Dataset):
            out[key] = _h5_value(item[()])
    return out


def _read_h5(path: str) -> dict[str, object]:
    """The whole file as a plain tree (dicts, str, numpy arrays); runs in the isolated reader process."""
    import h5py

    with h5py.File(path, "r") as f:
        tree = _h5_tree(f)
        if "version" not in tree and "version" in f.attrs:
            tree["version"] = _h5_value(f.attrs["version"])
    return tree


def read_nir(path: str | Path) -> RawGraph:
    """Read and check a ``.nir`` (HDF5) file; never lets an h5py/OS error escape unexplained."""
    import h5py  # noqa: F401  (imported here, so the forked reader does not import it on every read)

    source = str(path)
    try:
        tree = run_isolated(lambda: _read_h5(source), source=source)
    except (OSError, KeyError, ValueError, TypeError, RuntimeError, UnicodeDecodeError) as exc:
        raise NIRFormatError(f"{source}: cannot read as a NIR (HDF5) file: {exc}",
                             where=source) from exc
    node = tree.get("node")
    if not isinstance(node, Mapping):
        raise NIRFormatError(f"{source}: no 'node' group; not a NIR graph file", where=source)
    version = _text(tree.get("version"))
    check_version(version, source)
    return raw_from_tree(node, source=source, version=version)


# --- nir.NIRGraph → plain tree --------------------------------------------------------------------

def _nir_tree(graph: nir.NIRGraph) -> dict[str, object]:
    import nir

    nodes: dict[str, object] = {}
    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            nodes[name] = _nir_tree(node)
            continue
        to_dict = getattr(node, "to_dict", None)
        if to_dict is None:
            raise UnsupportedNodeError(f"node '{name}' is a {type(node).__name__}, not a NIR node",
                                       where=name)
        try:
            data = dict(to_dict())
        except (TypeError, ValueError, AttributeError) as exc:
            raise NIRFormatError(f"node '{name}' ({type(node).__name__}) cannot be read: {exc}",
                                 where=name) from exc
        data["type"] = type(node).__name__
        nodes[name] = data
    return {"type": "NIRGraph", "nodes": nodes, "edges": list(graph.edges),
            "metadata": dict(getattr(graph, "metadata", None) or {})}


def raw_from_nir(graph: nir.NIRGraph) -> RawGraph:
    """Check an in-memory ``nir.NIRGraph`` and return its raw graph (version = installed nir's)."""
    import nir

    if not isinstance(graph, nir.NIRGraph):
        raise NIRFormatError(f"expected a nir.NIRGraph, got {type(graph).__name__}")
    return raw_from_tree(_nir_tree(graph), source="<nir.NIRGraph>", version=str(nir.version))
