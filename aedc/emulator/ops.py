"""Float32 operations the emulator's steps are built from: the fenced product, the spike surrogate and
the sigma-delta send gate (see :mod:`aedc.emulator.engine` for why products are fenced)."""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

Array = Any


@jax.custom_jvp
def _fenced(a: Array, b: Array, fence: Array) -> Array:
    p = a * b
    return lax.bitcast_convert_type(lax.bitcast_convert_type(p, jnp.int32) ^ fence, jnp.float32)


@_fenced.defjvp
def _fenced_jvp(primals: tuple[Array, ...], tangents: tuple[Array, ...]) -> tuple[Array, Array]:
    a, b, fence = primals
    da, db, _ = tangents
    return _fenced(a, b, fence), da * b + a * db


SURROGATE_SLOPE = 10.0
"""Spike surrogate (training only): d spike / d v = 1 / (1 + SLOPE·|v − θ|)² (fast sigmoid)."""


@partial(jax.custom_jvp, nondiff_argnums=(2,))
def heaviside(v: Array, theta: Array, ge: bool) -> Array:
    """Spike ``v > θ`` (``v >= θ`` if ``ge``) as 0/1 float32; its derivative is the surrogate."""
    return ((v >= theta) if ge else (v > theta)).astype(jnp.float32)


@heaviside.defjvp
def _heaviside_jvp(ge: bool, primals: tuple[Array, Array],
                   tangents: tuple[Array, Array]) -> tuple[Array, Array]:
    v, theta = primals
    dv, dtheta = tangents
    slope = 1.0 / (1.0 + SURROGATE_SLOPE * jnp.abs(v - theta)) ** 2
    return heaviside(v, theta, ge), slope * (dv - dtheta)


@jax.custom_jvp
def sd_gate(change: Array, theta: Array) -> Array:
    """Sigma-delta send: ``change`` where ``|change| > θ``, else +0.0 (exactly the reference's rule).

    Derivatives (training): d/d change is exact (1 where sent, 0 elsewhere: a straight-through gate);
    d/dθ is the surrogate of the step, ``−change · 1/(1 + SLOPE·||change| − θ|)²``, so an event
    threshold is trainable (raising it trades payload precision for fewer events)."""
    return jnp.where(jnp.abs(change) > theta, change, jnp.float32(0.0))


def event_rule(sigma_delta: bool, value: Array, st: dict[str, Array], theta: Array | None
               ) -> tuple[Array, Array]:
    """(value, payload) of a population's tick: a sigma-delta population sends its change past the
    last sent value (``st["sent"]``, updated in place) and presents the sent value; any other sends its
    value. One place for every executor (tick, sharded, event)."""
    if not sigma_delta:
        return value, value
    assert theta is not None
    payload = sd_gate(value - st["sent"], theta)
    st["sent"] = st["sent"] + payload
    return st["sent"], payload


@sd_gate.defjvp
def _sd_gate_jvp(primals: tuple[Array, Array], tangents: tuple[Array, Array]) -> tuple[Array, Array]:
    change, theta = primals
    dchange, dtheta = tangents
    sent = jnp.abs(change) > theta
    slope = 1.0 / (1.0 + SURROGATE_SLOPE * jnp.abs(jnp.abs(change) - theta)) ** 2
    return sd_gate(change, theta), jnp.where(sent, dchange, 0.0) - change * slope * dtheta


def fmul(a: Array, b: Array, fence: Array | None) -> Array:
    """``a * b`` in float32 that XLA cannot contract into an FMA with a following add (``fence`` = 0).

    Differentiable (the derivative is that of ``a * b``); ``fence=None`` is a plain product.
    """
    if fence is None:
        return a * b
    a, b = jnp.broadcast_arrays(jnp.asarray(a), jnp.asarray(b))
    return _fenced(a, b, fence)
