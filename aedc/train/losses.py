"""Readouts (output traces → class logits) and the activity regulariser.

* ``sum_membrane`` (default): logits = the output population's membrane ``v`` summed over ticks
  divided by ``T`` (its mean). Every tick contributes a gradient, so no output can get stuck.
* ``max_membrane``: logits = the maximum over ticks of ``v`` (the readout of the EventProp Yin-Yang
  studies). Caveat measured here: with zero bias ``v`` starts at 0, so once an output's ``v`` stays
  ≤ 0 its maximum is the 0 at tick 0 with no gradient; on Yin-Yang (lr 3e-3, readout bias frozen) it
  collapsed to one class, and reached 93–94% only with biases trained at lr 1e-3, against 94.9% for
  ``sum_membrane`` at lr 3e-3 (30 epochs, async).
* ``spike_count``: logits = ``count_scale`` × spikes per output neuron (a spiking output layer;
  gradients through the surrogate only).

Non-spiking readouts send no events (they are read on their PE), so they cost no traffic. First-spike
readouts are not implemented: the tick of the first spike has no surrogate gradient in the emulator's
discrete-time path.

Activity regulariser: ``activity_reg × mean event rate`` of the spiking and sigma-delta non-input
populations (spikes or sigma-delta sends / (neurons × ticks), differentiable through the surrogates of
the spike and of the send gate) — it pushes towards fewer events.
"""

from __future__ import annotations

from typing import Any, Literal

import jax.numpy as jnp

Readout = Literal["max_membrane", "spike_count", "sum_membrane"]
READOUTS: tuple[str, ...] = ("sum_membrane", "max_membrane", "spike_count")


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
    """Mean events per neuron per tick over ``spiking`` populations (surrogate-differentiable): spikes,
    or for a sigma-delta population its send decisions (``sent``, present in the fast path)."""
    if not spiking:
        return jnp.float32(0.0)
    sends = [out[n]["sent"] if "sent" in out[n] else out[n]["events"] for n in spiking]
    total = sum(jnp.sum(a) for a in sends)
    n_elems = sum(a.size for a in sends)
    return total / n_elems
