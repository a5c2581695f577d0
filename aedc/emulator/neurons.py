"""The emulator's neuron updates: :data:`NEURON_UPDATES`, one entry per model name.

An entry is the tuple of :class:`Stage` one tick runs, in order. A stage maps the value so far to the
next one — the first gets ``x`` (total input, bias included), the last one's result is the value the
population presents — and updates the tick's state dict in place; it also names the raw model
parameters it reads (they join the population's constants in ``P["neuron"]``, where training can treat
them as parameters). The stages are the same as the reference simulator's (:mod:`aedc.reference.neurons`)
in the same float32 order, every product fenced (:func:`aedc.emulator.ops.fmul`) so XLA cannot fuse it;
spikes go through :func:`aedc.emulator.ops.heaviside`, whose derivative is the training surrogate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

from aedc.emulator.ops import fmul, heaviside
from aedc.ir.options import Semantics

Array = Any


@dataclass
class NeuronTick:
    """What a stage sees of one population's tick."""

    sem: Semantics
    c: dict[str, Array]  # P["neuron"][population]: host constants, bias and the stages' parameters
    fence: Array | None  # the FMA fence of aedc.emulator.ops.fmul
    st: dict[str, Array]  # state (a fresh dict: the stages set the new values)


@dataclass(frozen=True)
class Stage:
    """One step of an update: ``run(tick, value so far) → next value``, reading ``params``."""

    run: Callable[[NeuronTick, Array], Array]
    params: tuple[str, ...] = ()


def _synaptic_current(t: NeuronTick, x: Array) -> Array:
    i_old = t.st["i_syn"]
    i_new = fmul(t.c["syn_decay"], i_old, t.fence) + fmul(t.c["syn_gain"], x, t.fence)
    t.st["i_syn"] = i_new
    return i_new if t.sem.current_first else i_old


def _clears_before_update(t: NeuronTick) -> bool:
    """A pending zero reset clears ``v`` before the update, except with a synaptic current (after)."""
    sem = t.sem  # "z" is in the state of spiking models only (a non-spiking one has no reset)
    return (sem.reset == "zero" and sem.pending_reset and "z" in t.st and "i_syn" not in t.st
            and not sem.zero_after_update)


def _subtracts_before_update(t: NeuronTick) -> bool:
    """A pending subtract reset applies before the update (``cuba_reset_before_update``)."""
    sem = t.sem
    return (sem.cuba_reset_before_update and sem.reset == "subtract" and sem.pending_reset
            and "z" in t.st and "i_syn" in t.st)


def _v_start(t: NeuronTick) -> Array:
    v = t.st["v"]
    if _subtracts_before_update(t):
        return jnp.where(t.st["z"], v - t.c["v_threshold"], v)
    return jnp.where(t.st["z"], jnp.float32(0.0), v) if _clears_before_update(t) else v


def _leaky_membrane(t: NeuronTick, drive: Array) -> Array:
    c = t.c
    v = (fmul(c["decay"], _v_start(t), t.fence) + fmul(c["gain"], drive, t.fence)) + c["leak"]
    t.st["v"] = v
    return v


def _integrate(t: NeuronTick, x: Array) -> Array:
    v = _v_start(t) + fmul(t.c["gain"], x, t.fence)
    t.st["v"] = v
    return v


def reset(t: NeuronTick, v: Array, z: Array, theta: Array, count: Array | None = None) -> Array:
    """The reset where ``z``: ``v − θ`` (subtract; ``v − count·θ`` for a spike count), 0 (zero),
    ``v_reset`` (to_v_reset) or none."""
    if t.sem.reset == "subtract":
        if count is not None:
            return jnp.where(z, v - fmul(count, theta, t.fence), v)
        return jnp.where(z, v - theta, v)
    if t.sem.reset == "zero":
        return jnp.where(z, jnp.float32(0.0), v)
    if t.sem.reset == "none":
        return v
    return jnp.where(z, t.c["v_reset"], v)


def spike_count(sem: Semantics, v: Array, zf: Array, theta: Array) -> Array:
    """The tick's spikes: ``zf`` (0/1 with the surrogate gradient), or under ``max_spikes > 1`` ``zf``
    times the reference's count (:func:`aedc.reference.neurons.spike_count`: ``v/θ`` raised to 1,
    capped at ``max_spikes``, floored); the floor has no gradient, the surrogate flows through ``zf``."""
    if not sem.multi_spike:
        return zf
    d = v / theta
    d = jnp.minimum(jnp.where(d >= 1.0, d, jnp.float32(1.0)), jnp.float32(sem.max_spikes))
    return zf * jax.lax.stop_gradient(jnp.floor(d))


def clip_below(sem: Semantics, v: Array) -> Array:
    """Sinabs' ``min_v_mem``: ``max(v − v_min, 0) + v_min`` (``v`` where there is no clip)."""
    if sem.v_min is None:
        return v
    m = jnp.float32(sem.v_min)
    return jnp.maximum(v - m, jnp.float32(0.0)) + m


def _undo(t: NeuronTick, v: Array, theta: Array, z: Array, r: Array) -> Array:
    now, undo = z & ~r, r & ~z
    if t.sem.reset == "subtract":
        return jnp.where(now, v - theta, jnp.where(undo, v + theta, v))
    return jnp.where(now, jnp.float32(0.0), jnp.where(undo, v + v, v))


def _fire(t: NeuronTick, v: Array, theta: Array) -> Array:
    """The reference's ``_fire``: ``st["z"]`` is the reset flag a tick starts with (last tick's spikes
    for ``reset_next_tick``, "still above threshold after the reset" for ``reset_recheck``); returns
    the spikes (0/1, or a count under ``max_spikes > 1``)."""
    sem = t.sem
    r = t.st["z"]
    if sem.pending_reset and not (_clears_before_update(t) or _subtracts_before_update(t)):
        v = reset(t, v, r, theta)
    zf = heaviside(v, theta, sem.threshold_cmp == ">=")
    z = zf > 0.5
    count = spike_count(sem, v, zf, theta)
    if sem.reset_recheck:
        v = _undo(t, v, theta, z, r)
        t.st["z"] = v > theta if sem.threshold_cmp == ">" else v >= theta
    elif sem.reset_next_tick:
        t.st["z"] = z
    else:
        v = reset(t, v, z, theta, count if sem.multi_spike else None)
        t.st["z"] = z
    t.st["v"] = clip_below(sem, v)
    if sem.spike_from_previous:  # the previous tick's test (no surrogate gradient through it)
        return r.astype(jnp.float32)
    return count


def _spike_reset(t: NeuronTick, v: Array) -> Array:
    return _fire(t, v, t.c["v_threshold"])


def adaptive_threshold(t: NeuronTick) -> Array:
    """ALIF's threshold ``v_threshold + beta·a`` from ``a`` of the tick's start."""
    return t.c["v_threshold"] + fmul(t.c["beta"], t.st["a"], t.fence)


def adapt(t: NeuronTick, a: Array, zf: Array) -> Array:
    """ALIF's adaptation after the spike: ``adapt_decay·a + z``."""
    return fmul(t.c["adapt_decay"], a, t.fence) + zf


def _adaptive_spike_reset(t: NeuronTick, v: Array) -> Array:
    a = t.st["a"]
    zf = _fire(t, v, adaptive_threshold(t))
    t.st["a"] = adapt(t, a, zf)
    return zf


def _heaviside(t: NeuronTick, x: Array) -> Array:
    th = t.c["threshold"]
    return (x > th if t.sem.threshold_cmp == ">" else x >= th).astype(jnp.float32)


def _relu(t: NeuronTick, x: Array) -> Array:
    return jnp.where(x <= 0, jnp.float32(0.0), x)  # np.maximum(x, 0): NaN kept, -0 → +0


SYNAPTIC_CURRENT = Stage(_synaptic_current)
"""``i_syn' = syn_decay·i_syn + syn_gain·x``; passes on the new or old current (``current_first``)."""
LEAKY_MEMBRANE = Stage(_leaky_membrane)
"""``v' = (decay·v + gain·drive) + leak``."""
INTEGRATE = Stage(_integrate)
"""``v' = v + gain·x``."""
SPIKE_RESET = Stage(_spike_reset, ("v_threshold", "v_reset"))
"""Spike when ``v`` crosses ``v_threshold`` (surrogate gradient), reset now or next tick (or re-checked:
``reset_recheck``), clip by ``v_min``; → 0/1, or the count under ``max_spikes > 1``."""
ADAPTIVE_SPIKE_RESET = Stage(_adaptive_spike_reset, ("v_threshold", "v_reset", "beta"))
"""Spike when ``v`` crosses ``v_threshold + beta·a`` (surrogate gradient), reset by that threshold,
then ``a' = adapt_decay·a + z``; → 0/1."""
HEAVISIDE = Stage(_heaviside, ("threshold",))
"""Stateless ``x > threshold`` (or ``>=``) as 0/1 (no surrogate)."""
RELU = Stage(_relu)
"""``max(x, 0)``."""

NEURON_UPDATES: dict[str, tuple[Stage, ...]] = {
    "input": (),  # never run: an input population presents its data
    "linear": (),
    "relu": (RELU,),
    "threshold": (HEAVISIDE,),
    "lif": (LEAKY_MEMBRANE, SPIKE_RESET),
    "alif": (LEAKY_MEMBRANE, ADAPTIVE_SPIKE_RESET),
    "li": (LEAKY_MEMBRANE,),
    "cuba_lif": (SYNAPTIC_CURRENT, LEAKY_MEMBRANE, SPIKE_RESET),
    "cuba_li": (SYNAPTIC_CURRENT, LEAKY_MEMBRANE),
    "if": (INTEGRATE, SPIKE_RESET),
    "integrator": (INTEGRATE,),
}
"""Model name → the stages of its tick, in order (``()``: present the input unchanged). Every model of
:data:`aedc.ir.neurons.NEURON_MODELS` has an entry (a test checks)."""


def stage_params(stages: Iterable[Stage]) -> tuple[str, ...]:
    """The model parameters ``stages`` read, each once, in order of first use."""
    return tuple(dict.fromkeys(p for s in stages for p in s.params))
