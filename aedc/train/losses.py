"""Readouts (output traces → class logits) and the activity regulariser.

* ``max_membrane`` (default): logits = the maximum over ticks of the output population's membrane
  ``v`` (its ``state.v``, or its value for non-spiking models). Chosen for Yin-Yang/digits with a
  non-spiking leaky-integrator readout (as in the EventProp Yin-Yang studies): smooth, no dead outputs,
  and the readout sends no events (it is read on its PE), so it costs no traffic.
* ``spike_count``: logits = ``count_scale`` × spikes per output neuron (a spiking output layer;
  gradients through the surrogate only).
* ``sum_membrane``: logits = mean over ticks of ``v`` (useful for graded readouts of temporal tasks).

First-spike readouts are not implemented: the tick of the first spike has no surrogate gradient in the
emulator's discrete-time path.

Activity regulariser: ``activity_reg × mean spike rate`` of the spiking non-input populations (spikes /
(neurons × ticks), differentiable through the surrogate) — it pushes towards fewer events.
"""

from __future__ import annotations

from typing import Any, Literal

import jax.numpy as jnp

Readout = Literal["max_membrane", "spike_count", "sum_membrane"]
READOUTS: tuple[str, ...] = ("max_membrane", "spike_count", "sum_membrane")


def logits(out: dict[str, Any], pop: str, readout: Readout, count_scale: float = 1.0) -> Any:
    """``(B, n_classes)`` logits from the traces of output population ``pop``."""
    ys = out[pop]
    v = ys.get("state.v", ys["outputs"])
    if readout == "max_membrane":
        return jnp.max(v, axis=1)
    if readout == "sum_membrane":
        return jnp.mean(v, axis=1)
    if readout == "spike_count":
        return count_scale * jnp.sum(ys["events"], axis=1)
    raise ValueError(f"unknown readout {readout!r}; choose one of {list(READOUTS)}")


def cross_entropy(z: Any, y: Any) -> Any:
    """Mean softmax cross-entropy of logits ``z (B, C)`` against integer labels ``y (B,)``."""
    zmax = jnp.max(z, axis=1, keepdims=True)
    logp = z - zmax - jnp.log(jnp.sum(jnp.exp(z - zmax), axis=1, keepdims=True))
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))


def spike_rate(out: dict[str, Any], spiking: tuple[str, ...]) -> Any:
    """Mean spikes per neuron per tick over ``spiking`` populations (surrogate-differentiable)."""
    if not spiking:
        return jnp.float32(0.0)
    total = sum(jnp.sum(out[n]["events"]) for n in spiking)
    n_elems = sum(out[n]["events"].size for n in spiking)
    return total / n_elems
