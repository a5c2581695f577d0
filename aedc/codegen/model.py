"""The ``sources`` artifact of codegen: the generated file tree, in memory, deterministic."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Sources:
    """Generated files as ``(relative path, bytes)`` pairs sorted by path (see :mod:`aedc.codegen.emit`)."""

    files: tuple[tuple[str, bytes], ...]

    def paths(self) -> tuple[str, ...]:
        return tuple(p for p, _ in self.files)

    def text(self, path: str) -> str:
        for p, data in self.files:
            if p == path:
                return data.decode()
        raise KeyError(f"no generated file {path!r}")

    @property
    def manifest(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.text("manifest.json"))
        return doc

    def write(self, directory: str | os.PathLike[str]) -> Path:
        """Write every file under ``directory`` (created; files already there are overwritten)."""
        root = Path(directory)
        for rel, data in self.files:
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.is_file() or path.read_bytes() != data:
                path.write_bytes(data)
        return root
