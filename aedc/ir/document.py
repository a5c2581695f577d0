"""The JSON envelope of a saved artifact (placement.json, routing.json): written and read in one place.

A document is ``{"format": FORMAT, "version": 1, KEY: <the model>}`` with sorted keys and no NaN, so
the same artifact always gives the same bytes; reading checks the format tag and turns every defect
into a :class:`~aedc.errors.SerializationError` naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar, Self

from aedc.errors import SerializationError
from aedc.ir.base import IRModel


class Document(IRModel):
    """An IR model that is saved as its own JSON document (a stage's artifact)."""

    FORMAT: ClassVar[str]  # the "format" tag, e.g. "aedc-placement"
    KEY: ClassVar[str]  # the key the model is stored under
    WHAT: ClassVar[str]  # what it is, for error messages ("placement", "routing tables")
    COMPACT: ClassVar[bool] = False  # no indentation or spaces (large documents)
    VERSION: ClassVar[int] = 1

    def to_json(self) -> str:
        """The document: sorted keys (one-space indent unless ``COMPACT``), trailing newline."""
        doc = {"format": self.FORMAT, "version": self.VERSION, self.KEY: self.model_dump(mode="json")}
        if self.COMPACT:
            return json.dumps(doc, sort_keys=True, indent=None, separators=(",", ":"), allow_nan=False) + "\n"
        return json.dumps(doc, sort_keys=True, indent=1, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str, *, source: str = "<string>") -> Self:
        """Parse a document written by :meth:`to_json`; any defect is a :class:`SerializationError`."""
        try:
            doc = json.loads(text)
            if doc.get("format") != cls.FORMAT:
                raise ValueError(f"not an aedc {cls.WHAT.split()[0]} document")
            return cls.model_validate(doc[cls.KEY])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SerializationError(f"{source}: cannot read {cls.WHAT} ({exc})", where=source) from None

    def save(self, path: str | Path) -> None:
        """Write the document atomically (temp file + rename)."""
        from aedc.ir.serialize import write_atomic

        write_atomic(Path(path), self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a document written by :meth:`save`."""
        p = Path(path)
        return cls.from_json(p.read_text(encoding="utf-8"), source=str(p))
