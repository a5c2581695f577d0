"""The fields of every NIR 1.0.x node type, and their conversion to checked, canonical values.

NIR files come from many exporters and versions, so the reader checks each field once, here, instead of
letting a bad value surface later as an ``IndexError`` deep in shape inference. A field spec says what a
value must look like; :func:`convert_field` returns the canonical form (a read-only float/int array, an
``int``, a tuple of ints, or a padding string) or raises :class:`~aedc.errors.NIRFormatError` naming the
node and the field. Defaults for fields older files omit (``v_reset`` → 0, ``w_in`` → 1) are applied
by the importer, not here: the raw graph says what the file says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from aedc.errors import NIRFormatError

FieldValue = np.ndarray | int | str | tuple[int, ...]
"""A checked field value: numeric array, integer, tuple of integers or padding string."""

Kind = Literal["array", "int", "ints", "padding", "shape"]


@dataclass(frozen=True)
class FieldSpec:
    """What one field must hold. ``n`` is the array rank (``array``) or the tuple length (``ints``)."""

    kind: Kind
    required: bool = True
    n: int | None = None


def _arr(n: int | None = None, required: bool = True) -> FieldSpec:
    return FieldSpec("array", required, n)


_CONV = {"bias": _arr(1), "groups": FieldSpec("int")}
_POOL = {f: FieldSpec("ints", n=2) for f in ("kernel_size", "stride", "padding")}

SCHEMA: dict[str, dict[str, FieldSpec]] = {
    "Affine": {"weight": _arr(2), "bias": _arr()},
    "Linear": {"weight": _arr(2)},
    "Conv1d": {"weight": _arr(3), **_CONV, "stride": FieldSpec("ints", n=1),
               "padding": FieldSpec("padding", n=1), "dilation": FieldSpec("ints", n=1),
               "input_shape": FieldSpec("ints", False, 1)},
    "Conv2d": {"weight": _arr(4), **_CONV, "stride": FieldSpec("ints", n=2),
               "padding": FieldSpec("padding", n=2), "dilation": FieldSpec("ints", n=2),
               "input_shape": FieldSpec("ints", False, 2)},
    "SumPool2d": _POOL,
    "AvgPool2d": _POOL,
    "Flatten": {"start_dim": FieldSpec("int"), "end_dim": FieldSpec("int")},
    "Scale": {"scale": _arr()},
    "Delay": {"delay": _arr()},
    "Threshold": {"threshold": _arr()},
    "I": {"r": _arr()},
    "IF": {"r": _arr(), "v_threshold": _arr(), "v_reset": _arr(required=False)},
    "LI": {"tau": _arr(), "r": _arr(), "v_leak": _arr()},
    "LIF": {"tau": _arr(), "r": _arr(), "v_leak": _arr(), "v_threshold": _arr(),
            "v_reset": _arr(required=False)},
    "CubaLI": {"tau_syn": _arr(), "tau_mem": _arr(), "r": _arr(), "v_leak": _arr(),
               "w_in": _arr(required=False)},
    "CubaLIF": {"tau_syn": _arr(), "tau_mem": _arr(), "r": _arr(), "v_leak": _arr(),
                "v_threshold": _arr(), "v_reset": _arr(required=False), "w_in": _arr(required=False)},
    "Input": {"shape": FieldSpec("shape", False)},
    "Output": {"shape": FieldSpec("shape", False)},
}
"""Node type → its fields (``NIRGraph`` is handled by the reader: ``nodes``, ``edges``)."""

COMMON_FIELDS: dict[str, FieldSpec] = {"input_type": FieldSpec("shape", False),
                                       "output_type": FieldSpec("shape", False)}
"""Legacy fields any node may carry; shapes NIR stored for itself, checked but never trusted."""

NEURON_TYPES = ("LIF", "CubaLIF", "IF", "LI", "CubaLI", "I", "Threshold")
LINEAR_OP_TYPES = ("Affine", "Linear", "Conv1d", "Conv2d", "SumPool2d", "AvgPool2d", "Scale", "Delay",
                   "Flatten")
NODE_TYPES = (*LINEAR_OP_TYPES, *NEURON_TYPES, "Input", "Output", "NIRGraph")


class _Bad(Exception):
    """Internal: a value does not fit its spec (turned into NIRFormatError with node/field named)."""


def _integral(arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        return arr.astype(np.int64)
    raise _Bad(f"must hold integers, got {arr.dtype} {arr.tolist()}")


def _numeric(value: object) -> np.ndarray:
    if isinstance(value, str | bytes | Mapping):
        raise _Bad(f"must be numeric, got {type(value).__name__} {value!r:.60}")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged lists and the like
        raise _Bad(f"is not an array: {exc}") from None
    if arr.dtype.kind not in "iuf":
        raise _Bad(f"must be numeric, got dtype {arr.dtype}")
    return arr


def _convert(spec: FieldSpec, value: object) -> FieldValue:
    if spec.kind == "padding" and isinstance(value, str):
        if value not in ("same", "valid"):
            raise _Bad(f"must be 'same', 'valid' or integers, got {value!r}")
        return value
    if spec.kind == "shape" and isinstance(value, Mapping):  # {'input': shape} written as a group
        if len(value) != 1:
            raise _Bad(f"must hold one shape, got keys {sorted(value)}")
        value = next(iter(value.values()))
    arr = _numeric(value)
    if spec.kind == "array":
        if spec.n is not None and arr.ndim != spec.n:
            raise _Bad(f"must be {spec.n}-D, got shape {arr.shape}")
        out = np.array(arr, copy=True)
        out.setflags(write=False)
        return out
    ints = _integral(arr)
    if spec.kind == "int":
        if ints.size != 1:
            raise _Bad(f"must be one integer, got shape {ints.shape}")
        return int(ints.reshape(()))
    if spec.kind == "shape":
        if ints.ndim > 1 or np.any(ints <= 0) or ints.size == 0:
            raise _Bad(f"must be a non-empty list of positive sizes, got {ints.tolist()}")
        return tuple(int(v) for v in ints.reshape(-1))
    n = spec.n or 1  # ints / padding given as integers: a scalar, or one value per axis
    if ints.ndim > 1 or ints.size not in (1, n):
        raise _Bad(f"must be an integer or {n} integers, got {ints.tolist()}")
    flat = ints.reshape(-1)
    return tuple(int(flat[0] if flat.size == 1 else flat[i]) for i in range(n))


def convert_field(node_type: str, name: str, value: object, *, where: str) -> FieldValue:
    """Check and canonicalise field ``name`` of a ``node_type`` node; ``where`` names the node."""
    spec = SCHEMA[node_type].get(name) or COMMON_FIELDS[name]
    try:
        return _convert(spec, value)
    except _Bad as exc:
        raise NIRFormatError(f"{where} ({node_type}): field '{name}' {exc}", where=where) from None


def fields_of(node_type: str) -> tuple[str, ...]:
    """The field names a ``node_type`` node may have (for error messages)."""
    return (*SCHEMA[node_type], *COMMON_FIELDS)


def _fail(where: str, node_type: str, name: str, msg: str) -> NIRFormatError:
    return NIRFormatError(f"{where} ({node_type}): field '{name}' {msg}", where=where)


def _ints(fields: Mapping[str, FieldValue], name: str) -> tuple[int, ...]:
    value = fields.get(name, ())
    return value if isinstance(value, tuple) else ()


def check_node(node_type: str, fields: Mapping[str, FieldValue], *, where: str) -> None:
    """Cross-field checks of one node: parameter shapes agree, sizes and strides are positive."""
    arrays = {k: v for k, v in fields.items() if isinstance(v, np.ndarray) and k in SCHEMA[node_type]}
    if node_type in (*NEURON_TYPES, "Scale", "Delay"):
        shape: tuple[int, ...] = ()
        for name, arr in arrays.items():
            try:
                shape = np.broadcast_shapes(shape, arr.shape)
            except ValueError:
                raise _fail(where, node_type, name, f"has shape {arr.shape}, which does not broadcast "
                                                    f"with the other parameters ({shape})") from None
    if node_type == "Delay" and not np.all(np.isfinite(arrays["delay"]) & (arrays["delay"] >= 0)):
        raise _fail(where, node_type, "delay", "must be finite and >= 0 seconds")
    if node_type in ("Affine", "Conv1d", "Conv2d"):
        weight = arrays["weight"]
        if min(weight.shape) < 1:
            raise _fail(where, node_type, "weight", f"has an empty dimension: shape {weight.shape}")
        bias = arrays["bias"]
        if bias.ndim > 1 or bias.size not in (1, weight.shape[0]):
            raise _fail(where, node_type, "bias", f"has shape {bias.shape}; expected ({weight.shape[0]},) "
                                                  f"to match weight {weight.shape}")
    if node_type in ("Conv1d", "Conv2d"):
        weight, groups = arrays["weight"], fields["groups"]
        if not isinstance(groups, int) or groups < 1 or weight.shape[0] % groups:
            raise _fail(where, node_type, "groups", f"= {groups} must be >= 1 and divide the "
                                                    f"{weight.shape[0]} output channels")
    positive = {"Conv1d": ("stride", "dilation", "input_shape"), "Conv2d": ("stride", "dilation",
                "input_shape"), "SumPool2d": ("kernel_size", "stride"), "AvgPool2d": ("kernel_size",
                                                                                     "stride")}
    for name in positive.get(node_type, ()):
        if any(v < 1 for v in _ints(fields, name)):
            raise _fail(where, node_type, name, f"must be >= 1, got {_ints(fields, name)}")
    if node_type in ("Conv1d", "Conv2d", "SumPool2d", "AvgPool2d"):
        if any(v < 0 for v in _ints(fields, "padding")):
            raise _fail(where, node_type, "padding", f"must be >= 0, got {_ints(fields, 'padding')}")
    if node_type == "Input" and "shape" not in fields:
        raise NIRFormatError(f"{where} (Input): required field 'shape' (or 'input_type') is missing",
                             where=where)
