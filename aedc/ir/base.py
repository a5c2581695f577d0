"""The frozen pydantic base every IR model derives from."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict

from aedc.ir.arrays import arrays_equal


class IRModel(BaseModel):
    """Frozen, strict-about-fields model whose equality understands numpy arrays."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True,
                              validate_default=True)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, BaseModel)
        return all(arrays_equal(getattr(self, f), getattr(other, f)) for f in type(self).model_fields)

    def __hash__(self) -> int:  # arrays are unhashable; identity hash keeps models usable as dict keys
        return id(self)

    def evolve(self, **changes: Any) -> Self:
        """Return a validated copy with ``changes`` applied (``model_copy`` skips validation)."""
        data = {f: getattr(self, f) for f in type(self).model_fields}
        data.update(changes)
        return type(self).model_validate(data)
