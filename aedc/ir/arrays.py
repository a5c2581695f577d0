"""Exact, immutable numpy arrays inside pydantic models.

Arrays are stored in JSON as ``{"dtype": "<f4", "shape": [...], "data": base64(little-endian bytes)}``,
so save → load → save is byte-identical and no float ever passes through decimal text. Arrays held by
IR models are read-only copies: an IR object cannot be mutated behind a pass's back.
"""

from __future__ import annotations

import base64
import math
from typing import Annotated, Any

import numpy as np
from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

# dtypes the IR may hold; anything else is converted on entry (documented per field by the models).
ALLOWED_DTYPES = ("<f4", "<f8", "<i4", "<i8", "|b1", "|u1", "|i1", "<f2")


def freeze(array: Any, dtype: str | np.dtype[Any] | None = None) -> np.ndarray:
    """Return a read-only, C-contiguous, little-endian copy of ``array`` (optionally cast)."""
    out = np.array(array, dtype=dtype, copy=True, order="C")
    if out.dtype.byteorder == ">":
        out = out.astype(out.dtype.newbyteorder("<"))
    out.setflags(write=False)
    return out


def encode(array: np.ndarray) -> dict[str, Any]:
    """Encode an array as a JSON-ready dict (dtype string, shape, base64 of raw little-endian bytes)."""
    arr = np.asarray(array, order="C")  # not ascontiguousarray: it turns a 0-d array into shape (1,)
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return {
        "dtype": arr.dtype.str,
        "shape": list(arr.shape),
        "data": base64.b64encode(arr.tobytes(order="C")).decode("ascii"),
    }


def decode(value: Any) -> np.ndarray:
    """Inverse of :func:`encode`; also accepts numpy arrays and nested lists/scalars."""
    if isinstance(value, dict) and set(value) == {"dtype", "shape", "data"}:
        # a malformed document must give ValueError: pydantic reports only that as a field error
        try:
            dtype = np.dtype(str(value["dtype"]))
            shape = tuple(int(s) for s in value["shape"])
        except (TypeError, OverflowError) as exc:  # OverflowError: a shape entry of ±Infinity
            raise ValueError(f"malformed array dtype/shape ({exc})") from None
        if dtype.str not in ALLOWED_DTYPES:
            raise ValueError(f"array dtype {dtype.str!r} is not one of {ALLOWED_DTYPES}")
        if any(s < 0 for s in shape):
            raise ValueError(f"negative array shape {shape}")
        raw = base64.b64decode(str(value["data"]).encode("ascii"), validate=True)
        count = math.prod(shape)  # Python ints: a huge shape cannot wrap around
        if len(raw) != count * dtype.itemsize:
            raise ValueError(f"array data has {len(raw)} bytes, shape {shape} of {dtype.str} needs "
                             f"{count * dtype.itemsize}")
        return freeze(np.frombuffer(raw, dtype=dtype).reshape(shape))
    if isinstance(value, dict):
        raise ValueError("array dict must have exactly the keys dtype, shape, data")
    arr = np.asarray(value)
    if arr.dtype == object or arr.dtype.kind in "USV":
        raise ValueError(f"expected a numeric array, got dtype {arr.dtype}")
    return freeze(arr)


def _validate(value: Any) -> np.ndarray:
    return decode(value)


NDArray = Annotated[
    np.ndarray,
    BeforeValidator(_validate),
    PlainSerializer(lambda a: encode(a), return_type=dict),
    WithJsonSchema({"type": "object", "properties": {"dtype": {"type": "string"},
                                                      "shape": {"type": "array"},
                                                      "data": {"type": "string"}}}),
]
"""An immutable numpy array field, serialised exactly."""


def arrays_equal(a: Any, b: Any) -> bool:
    """Structural equality that compares arrays by dtype, shape and bytes (NaN == NaN)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(arrays_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(arrays_equal(a[k], b[k]) for k in a)
    return bool(a == b)
