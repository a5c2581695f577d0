"""Lossless JSON for the IR: stable key order, arrays as base64 bytes; save → load → save is identical."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from pydantic import ValidationError

from aedc.errors import SerializationError
from aedc.ir.graph import Graph

FORMAT = "aedc-ir"
VERSION = 1


def to_json(graph: Graph) -> str:
    """Serialise ``graph``: sorted keys, one space indent, trailing newline."""
    doc = {"format": FORMAT, "version": VERSION, "graph": graph.model_dump(mode="json")}
    return json.dumps(doc, sort_keys=True, indent=1, allow_nan=False) + "\n"


def _describe(err: ValidationError) -> str:
    first = err.errors()[0]
    loc = ".".join(str(x) for x in first["loc"])
    return f"field '{loc}': {first['msg']}" + (f" (+{err.error_count() - 1} more)"
                                                if err.error_count() > 1 else "")


def from_json(text: str, *, source: str = "<string>") -> Graph:
    """Parse an IR document; any defect becomes a :class:`SerializationError` naming the field."""
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SerializationError(f"{source}: not valid JSON ({exc})", where=source) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SerializationError(f"{source}: not an aedc IR document (missing format={FORMAT!r})",
                                 where=source)
    if doc.get("version") != VERSION:
        raise SerializationError(f"{source}: IR version {doc.get('version')!r} is not supported "
                                 f"(this aedc reads version {VERSION})", where=source)
    try:
        return Graph.model_validate(doc.get("graph"))
    except ValidationError as exc:
        raise SerializationError(f"{source}: {_describe(exc)}", where=source) from None


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same directory and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(graph: Graph, path: str | os.PathLike[str]) -> None:
    """Write ``graph`` as IR JSON, atomically."""
    write_atomic(Path(path), to_json(graph))


def load(path: str | os.PathLike[str]) -> Graph:
    """Read an IR JSON file written by :func:`save`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SerializationError(f"{p}: cannot read ({exc})", where=str(p)) from None
    return from_json(text, source=str(p))
