"""Spyx 1.0 (Flax NNX, JAX on CPU) cases: LIF, CuBaLIF, IF, RLIF, RCuBaLIF, PSU_LIF; nnx.Linear with
and without bias.

Spyx is discrete (``V ← βV + x − s·θ`` with the spike ``s = H(V_prev − θ)`` taken from the state *before*
the update); ``spyx.nir.to_nir(..., dt=1)`` writes ``tau = dt/(1−β)`` and ``r = β``. aedc profile:
``snntorch`` (the discrete ``v ← βv + x`` reading; Spyx has no profile of its own), dt = 1. The model is a
``spyx.nn.Sequential`` called once per step with its state, layer by layer as its ``__call__`` does.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import spyx.nn as snn
from common import Case, Record, quantise, rng_weights
from flax import nnx
from spyx.nir import to_nir

jax.config.update("jax_platform_name", "cpu")

FRAMEWORK = "spyx"
PROFILE = "snntorch"
DT = 1.0
PACKAGES = ("spyx", "jax", "flax", "nir")

N_IN, N_HID, N_OUT = 16, 32, 8

PROBES = {
    "ALIF": ("spyx.nir.to_nir has no ALIF branch: the layer is left out of the graph",
             lambda: to_nir(snn.Sequential(nnx.Linear(4, 4, rngs=nnx.Rngs(0)),
                                           snn.ALIF((4,), rngs=nnx.Rngs(0))),
                            {"input": np.array([4])}, {"output": np.array([4])})),
}


def _linear(w: np.ndarray, b: np.ndarray | None, rngs: nnx.Rngs) -> nnx.Linear:
    out, inp = w.shape
    lin = nnx.Linear(inp, out, use_bias=b is not None, rngs=rngs)
    lin.kernel.value = jnp.asarray(w.T)
    if b is not None:
        lin.bias.value = jnp.asarray(b)
    return lin


def _neuron(kind: str, n: int, rng: np.random.Generator, rngs: nnx.Rngs) -> nnx.Module:
    beta = float(rng.uniform(0.8, 0.95))
    if kind == "LIF":
        return snn.LIF((n,), beta=beta, rngs=rngs)
    if kind == "CuBaLIF":
        return snn.CuBaLIF((n,), alpha=float(rng.uniform(0.5, 0.8)), beta=beta, rngs=rngs)
    if kind == "IF":
        return snn.IF((n,), rngs=rngs)
    if kind == "PSU_LIF":
        return snn.PSU_LIF((n,), beta=beta, rngs=rngs)
    if kind in ("RLIF", "RCuBaLIF"):
        cell = (snn.RLIF((n,), beta=beta, rngs=rngs) if kind == "RLIF" else
                snn.RCuBaLIF((n,), alpha=float(rng.uniform(0.5, 0.8)), beta=beta, rngs=rngs))
        cell.recurrent_w.value = jnp.asarray(quantise(rng.standard_normal((n, n)) * 0.3 / np.sqrt(n)))
        return cell
    raise ValueError(kind)


def _step_all(model: snn.Sequential, names: dict[int, str], x: np.ndarray) -> Record:
    steps: dict[str, dict[str, list[np.ndarray]]] = {n: {} for n in names.values()}
    state = model.initial_state(1)
    for t in range(x.shape[0]):
        h = jnp.asarray(x[t][None])
        new = []
        for i, (layer, s) in enumerate(zip(model.layers, state, strict=True)):
            if s is None:
                h = layer(h)
                new.append(None)
                continue
            h, s = layer(h, s)
            new.append(s)
            if i in names:
                rec = steps[names[i]]
                spikes_at = f"{names[i]}_threshold" if isinstance(layer, snn.PSU_LIF) else names[i]
                steps.setdefault(spikes_at, {}).setdefault("spikes", []).append(np.asarray(h[0]))
                st = np.asarray(s[0])
                if st.shape[-1] == 2 * h.shape[-1]:  # CuBaLIF: [V, I] concatenated
                    rec.setdefault("v", []).append(st[: h.shape[-1]])
                    rec.setdefault("i_syn", []).append(st[h.shape[-1]:])
                else:
                    rec.setdefault("v", []).append(st)
        state = new
    return {n: {k: np.stack(v).astype(np.float32) for k, v in kinds.items()} for n, kinds in steps.items()}


def _export(model: snn.Sequential, n_out: int) -> Any:
    return to_nir(model, {"input": np.array([N_IN])}, {"output": np.array([n_out])}, dt=DT)


def feed_forward(name: str, kind: str, seed: int, *, bias: bool = True) -> Case:
    """nnx.Linear → neuron → nnx.Linear → neuron."""

    def build(scales: list[float]) -> snn.Sequential:
        rngs = nnx.Rngs(seed)
        w1, w2 = rng_weights(seed, (N_HID, N_IN), (N_OUT, N_HID))
        rng = np.random.default_rng(seed + 500)
        small = 0.1 if kind == "CuBaLIF" else 1.0
        b1 = quantise(rng.uniform(-0.05, 0.1, N_HID) * small) if bias else None
        b2 = quantise(rng.uniform(-0.05, 0.1, N_OUT) * small) if bias else None
        return snn.Sequential(_linear(quantise(w1 * scales[0]), b1, rngs), _neuron(kind, N_HID, rng, rngs),
                              _linear(quantise(w2 * scales[1]), b2, rngs), _neuron(kind, N_OUT, rng, rngs))

    names = {1: "layer_1", 3: "layer_3"}
    spiking = [f"{n}_threshold" if kind == "PSU_LIF" else n for n in names.values()]
    reset = ("none (PSU_LIF exports as LI + Threshold)" if kind == "PSU_LIF"
             else "subtract (spike from the previous V)")
    return Case(name, kind, {"linear_bias": bias, "reset": reset},
                build, lambda m: _export(m, N_OUT), lambda m, x: _step_all(m, names, x), (N_IN,),
                spiking)


def recurrent(name: str, kind: str, seed: int) -> Case:
    """nnx.Linear → RLIF / RCuBaLIF (recurrent weights, no recurrent bias: Spyx has none)."""

    def build(scales: list[float]) -> snn.Sequential:
        rngs = nnx.Rngs(seed)
        (w1,) = rng_weights(seed, (N_HID, N_IN))
        rng = np.random.default_rng(seed + 500)
        return snn.Sequential(_linear(quantise(w1 * scales[0]), None, rngs), _neuron(kind, N_HID, rng, rngs))

    return Case(name, kind, {"recurrent": "dense, no bias", "linear_bias": False},
                build, lambda m: _export(m, N_HID), lambda m, x: _step_all(m, {1: "layer_1.layer_1.lif"}, x),
                (N_IN,), ["layer_1.layer_1.lif"])


def cases() -> list[Case]:
    return [
        feed_forward("lif", "LIF", 0),
        feed_forward("lif_nobias", "LIF", 1, bias=False),
        feed_forward("cubalif", "CuBaLIF", 2),
        feed_forward("if", "IF", 3),
        feed_forward("psu_lif", "PSU_LIF", 4),
        recurrent("rlif", "RLIF", 5),
        recurrent("rcubalif", "RCuBaLIF", 6),
    ]
