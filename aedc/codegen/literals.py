"""C text for values: exact float32 literals, image arrays, state declarations, region sizes, identifiers.

Every float goes out as a hex literal so the C sees the very float32 the host computed; every array
is declared with ``AEDC_IMAGE`` / ``AEDC_STATE`` (aedc_pe.h), which align it to 16 bytes, so its
region size is counted aligned (:func:`aligned`, the memory model's rule).
"""

from __future__ import annotations

import math

import numpy as np

from aedc.partition.memory import align

__all__ = ["F32", "aligned", "c_array", "c_float", "c_ident", "c_state"]

F32 = np.float32

_CTYPE_BYTES = {"float": 4, "uint32_t": 4, "int32_t": 4, "uint16_t": 2, "int8_t": 1, "uint8_t": 1}


def aligned(n: int) -> int:
    """Bytes an ``n``-byte array takes in its region (arrays are 16-byte aligned)."""
    return align(n)


def c_float(x: float | np.floating) -> str:
    """An exact C literal of a float32 value (hex float; inf/nan spelled with builtins)."""
    v = float(F32(x))
    if np.isnan(v):
        return "__builtin_nanf(\"\")"
    if np.isinf(v):
        return "__builtin_inff()" if v > 0 else "(-__builtin_inff())"
    if v == 0.0:
        return "-0.0f" if np.signbit(v) else "0.0f"
    return v.hex() + "f"


def c_array(ctype: str, name: str, values: np.ndarray | list[int] | list[float], section: str,
            comment: str, per_line: int = 8) -> tuple[str, int]:
    """A C array definition in ``section`` and its size in bytes (an empty array holds one 0)."""
    flat = np.asarray(values).ravel()
    if ctype == "float":
        f32 = flat.astype(F32)
        if np.all(np.isfinite(f32)):  # the common case, without c_float's per-value checks
            items = [("-0.0f" if math.copysign(1.0, v) < 0 else "0.0f") if v == 0.0 else v.hex() + "f"
                     for v in f32.astype(np.float64).tolist()]
        else:
            items = [c_float(v) for v in f32]
    else:
        items = [str(v) for v in flat.astype(np.int64).tolist()]
    if not items:
        items = ["0"]
    count = len(items)
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    body = ",\n    ".join(lines)
    text = f"/* {comment} */\nstatic {ctype} {name}[{count}] {section} = {{\n    {body}\n}};\n"
    return text, count * _CTYPE_BYTES[ctype]


def c_state(ctype: str, name: str, dims: tuple[int, ...], comment: str) -> tuple[str, int]:
    """A zero-initialised ``AEDC_STATE`` array ``name[d0][d1]…`` and its size in bytes."""
    n = int(np.prod(dims))
    shape = "".join(f"[{d}]" for d in dims)
    return f"/* {comment} */\nstatic {ctype} {name}{shape} AEDC_STATE;\n", n * _CTYPE_BYTES[ctype]


def c_ident(name: str) -> str:
    """``name`` as a C identifier fragment (every non-alphanumeric character becomes ``_``)."""
    return "".join(c if c.isalnum() else "_" for c in name)
