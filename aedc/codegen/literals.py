"""C text for values: exact float32 literals, image arrays, state declarations, region sizes, identifiers.

Every float goes out as a hex literal so the C sees the very float32 the host computed; every array
is declared with ``AEDC_IMAGE`` / ``AEDC_STATE`` (aedc_pe.h), which align it to 16 bytes, so its
region size is counted aligned (:func:`aligned`, the memory model's rule).
"""

from __future__ import annotations

import numpy as np

from aedc.partition.memory import align

__all__ = ["F32", "aligned", "c_array", "c_float", "c_ident", "c_state"]

F32 = np.float32

_CTYPE_BYTES = {"float": 4, "uint32_t": 4, "int32_t": 4, "uint16_t": 2, "int16_t": 2, "int8_t": 1,
                "uint8_t": 1}


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


_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)
_DIGITS = np.frombuffer(b"0123456789", np.uint8)
_EXPONENTS = np.array([list(f"{e:+d}".encode().ljust(4, b"\0")) for e in range(-149, 128)], np.uint8)
"""``p`` exponents of float32 values as double hex floats (−149 … +127), NUL-padded to 4 bytes."""


def _joined(cells: np.ndarray, per_line: int) -> str:
    """Rows of NUL-padded ASCII ``cells`` (n, width) joined as ``a, b, …`` with a line break after every
    ``per_line`` items — the NUL bytes dropped in one pass, so no per-item Python string is made."""
    n = cells.shape[0]
    sep = np.zeros((n, 6), np.uint8)
    sep[:, :2] = np.frombuffer(b", ", np.uint8)
    brk = (np.arange(n) % per_line) == per_line - 1
    sep[brk] = np.frombuffer(b",\n    ", np.uint8)
    sep[-1] = 0
    return np.concatenate([cells, sep], axis=1).tobytes().replace(b"\0", b"").decode("ascii")


def _float_cells(f32: np.ndarray) -> np.ndarray:
    """Finite float32 values as ``float.hex()`` of the value + ``f`` (``-0.0f`` / ``0.0f`` for zeros),
    byte for byte, vectorised: ``[-]0x1.<13 hex digits>p<±exp>f``. Every finite float32, subnormals
    included, is a normal double, whose 52-bit fraction holds the float32's 23 bits at the top: only
    the first 6 of the 13 digits can be non-zero."""
    bits = f32.view(np.uint32).astype(np.int64)
    neg, e8, m23 = bits >> 31, (bits >> 23) & 0xFF, bits & 0x7FFFFF
    zero = (e8 == 0) & (m23 == 0)
    sub = (e8 == 0) & ~zero
    lead = np.zeros_like(m23)
    lead[sub] = np.floor(np.log2(m23[sub].astype(np.float64))).astype(np.int64)  # exact for < 2^23
    exp = np.where(sub, lead - 149, e8 - 127)
    m24 = np.where(sub, (m23 - (1 << lead)) << (24 - lead), m23 << 1)
    cells = np.zeros((f32.size, 24), np.uint8)
    cells[:, 0] = np.where(neg == 1, ord("-"), 0)
    cells[:, 1:5] = np.frombuffer(b"0x1.", np.uint8)
    cells[:, 5:11] = _HEX[(m24[:, None] >> np.arange(20, -1, -4)[None, :]) & 0xF]
    cells[:, 11:18] = ord("0")
    cells[:, 18] = ord("p")
    cells[:, 19:23] = _EXPONENTS[np.clip(exp, -149, 127) + 149]
    cells[:, 23] = ord("f")
    cells[zero, 1:] = 0
    cells[zero, 1:5] = np.frombuffer(b"0.0f", np.uint8)
    return cells


def _int_cells(values: np.ndarray) -> np.ndarray:
    """Integers (int64) as their decimal ``str``, NUL-padded cells, vectorised."""
    mag = np.abs(values)
    width = 20
    cells = np.zeros((values.size, width), np.uint8)
    cells[:, 0] = np.where(values < 0, ord("-"), 0)
    powers = 10 ** np.arange(width - 2, -1, -1, dtype=np.uint64)
    digits = (mag.astype(np.uint64)[:, None] // powers[None, :]) % 10
    significant = np.cumsum(digits != 0, axis=1) > 0
    significant[:, -1] = True  # 0 prints as "0"
    cells[:, 1:] = np.where(significant, _DIGITS[digits.astype(np.int64)], 0)
    return cells


def c_array(ctype: str, name: str, values: np.ndarray | list[int] | list[float], section: str,
            comment: str, per_line: int = 8) -> tuple[str, int]:
    """A C array definition in ``section`` and its size in bytes (an empty array holds one 0)."""
    flat = np.asarray(values).ravel()
    count = max(flat.size, 1)
    if flat.size == 0:
        body = "0"
    elif ctype == "float":
        f32 = np.ascontiguousarray(flat.astype(F32))
        if np.all(np.isfinite(f32)):  # the common case, vectorised
            body = _joined(_float_cells(f32), per_line)
        else:
            items = [c_float(v) for v in f32]
            lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
            body = ",\n    ".join(lines)
    else:
        body = _joined(_int_cells(flat.astype(np.int64)), per_line)
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
