"""The vectorised C literal writer (aedc.codegen.literals.c_array) against per-value Python formatting.

Generated C must be byte-identical whatever writes it: the hex float of every float32 (``float.hex``,
so the C sees exactly the host's value), ``-0.0f``/``0.0f``, decimal integers, eight items a line.
The oracle here is the straightforward per-item formatting, on random bit patterns (normal,
subnormal, signed zeros, extreme exponents) and integers of every width codegen writes.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from aedc.codegen.literals import c_array

F32 = np.float32


def reference(ctype: str, values: np.ndarray, per_line: int) -> str:
    flat = np.asarray(values).ravel()
    if ctype == "float":
        items = [("-0.0f" if math.copysign(1.0, v) < 0 else "0.0f") if v == 0.0 else v.hex() + "f"
                 for v in flat.astype(F32).astype(np.float64).tolist()]
    else:
        items = [str(v) for v in flat.astype(np.int64).tolist()]
    items = items or ["0"]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return ",\n    ".join(lines)


def body(text: str) -> str:
    return text.split("= {\n    ", 1)[1].rsplit("\n};\n", 1)[0]


def finite_bits(rng: np.random.Generator, n: int) -> np.ndarray:
    bits = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    bits[rng.random(n) < 0.2] &= 0x807FFFFF  # subnormals (exponent 0)
    bits[rng.random(n) < 0.05] &= 0x80000000  # ±0
    v = bits.view(F32)
    return v[np.isfinite(v)]


def test_floats_byte_identical_on_random_bit_patterns() -> None:
    rng = np.random.default_rng(0)
    v = finite_bits(rng, 200_000)
    extremes = np.array([np.finfo(F32).max, -np.finfo(F32).max, np.finfo(F32).tiny,
                         np.float32(1e-45), -np.float32(1e-45), 1.0, -2.0, 0.5, 0.0, -0.0], F32)
    for values in (v, extremes, v[:1], v[:7], v[:9]):
        for per_line in (6, 8):
            text, size = c_array("float", "a", values, "AEDC_IMAGE", "c", per_line)
            assert body(text) == reference("float", values, per_line)
            assert size == 4 * max(values.size, 1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(2**31), 2**32 - 1), max_size=40), st.sampled_from([1, 6, 8]))
def test_integers_byte_identical(values: list[int], per_line: int) -> None:
    a = np.array(values, np.int64)
    text, size = c_array("uint32_t", "w", a, "AEDC_IMAGE", "c", per_line)
    assert body(text) == reference("uint32_t", a, per_line)
    assert size == 4 * max(len(values), 1)


def test_non_finite_and_empty_arrays() -> None:
    text, _ = c_array("float", "a", np.array([np.inf, -np.inf, 1.5], F32), "S", "c")
    assert body(text) == '__builtin_inff(), (-__builtin_inff()), 0x1.8000000000000p+0f'
    text, size = c_array("uint16_t", "e", np.zeros(0, np.int64), "S", "c")
    assert body(text) == "0"
    assert size == 2
