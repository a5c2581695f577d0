"""Norse 1.1 cases: LIFBoxCell (→ LIF), LIFCell (→ CubaLIF), LIBoxCell (→ LI), IAFCell (→ IF); reset
to value vs subtract, v_leak and v_reset ≠ 0; Linear with and without bias; Conv2d.

Norse steps at dt = 1e-3 s (its default, ``norse.torch.to_nir(..., dt=1e-3)``) and is the reading of
aedc's ``nir-euler`` profile. The exporter writes ``tau = dt / tau_inv`` (that is τ·dt, not τ) and
CubaLIF without ``w_in``: the cases keep what it writes. Cells are called once per step with their state.
``to_nir`` keeps the batch dimension in the Input type (``[1, 16]``) and leaves a Conv2d's ``input_shape``
unset, which ``nir.write`` cannot store: the conv case fills in the spatial input shape (nothing else).
"""

from __future__ import annotations

from typing import Any

import nir
import norse.torch as norse
import numpy as np
import torch
from common import Case, Record, quantise, rng_weights
from norse.torch.functional.reset import reset_subtract, reset_value
from torch_layers import linear as _linear
from torch_layers import tensor as _t

FRAMEWORK = "norse"
PROFILE = "nir-euler"
DT = 1e-3
PACKAGES = ("norse", "torch", "nir", "nirtorch")

N_IN, N_HID, N_OUT = 16, 32, 8

def _probe(*layers: torch.nn.Module, shape: tuple[int, ...] = (1, 4)) -> Any:
    return norse.to_nir(norse.SequentialState(*layers), torch.zeros(shape), dt=DT)


PROBES = {
    "LICell": ("LICell (leaky integrator with a synaptic current) has no exporter branch: a None node, "
               "which nir.write cannot store", lambda: _probe(torch.nn.Linear(4, 4), norse.LICell())),
    "LIFRecurrentCell": ("no exporter branch (weights are parameters): a None node",
                         lambda: _probe(norse.LIFRecurrentCell(4, 4))),
    "Flatten": ("torch.nn.Flatten has no exporter branch: a None node between Conv2d and Linear",
                lambda: _probe(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(), torch.nn.Linear(32, 4),
                               shape=(1, 1, 6, 6))),
    "AvgPool2d": ("pooling has no exporter branch: a None node",
                  lambda: _probe(torch.nn.Conv2d(1, 2, 3), torch.nn.AvgPool2d(2), shape=(1, 1, 6, 6))),
}




def _full(n: int | tuple[int, ...], value: float) -> torch.Tensor:
    return torch.full((n,) if isinstance(n, int) else n, float(value))


def _neuron(kind: str, n: int | tuple[int, ...], opts: dict[str, Any]) -> torch.nn.Module:
    """Vector parameters (one per neuron): scalars export as shape () nodes."""
    v_leak, v_reset = _full(n, opts.get("v_leak", 0.0)), _full(n, opts.get("v_reset", 0.0))
    v_th = _full(n, 1.0)
    if kind == "LIFBoxCell":
        reset = reset_subtract if opts.get("reset") == "subtract" else reset_value
        p = norse.LIFBoxParameters(tau_mem_inv=_full(n, 100.0), v_leak=v_leak, v_th=v_th,
                                   v_reset=v_reset, reset_method=reset)
        return norse.LIFBoxCell(p, dt=DT)
    if kind == "LIFCell":
        p = norse.LIFParameters(tau_syn_inv=_full(n, 200.0), tau_mem_inv=_full(n, 100.0),
                                v_leak=v_leak, v_th=v_th, v_reset=v_reset)
        return norse.LIFCell(p, dt=DT)
    if kind == "LIBoxCell":
        return norse.LIBoxCell(norse.LIBoxParameters(tau_mem_inv=_full(n, 50.0), v_leak=v_leak), dt=DT)
    if kind == "IAFCell":
        return norse.IAFCell(norse.IAFParameters(v_th=v_th, v_reset=v_reset), dt=DT)
    raise ValueError(kind)


def _step_all(model: torch.nn.Sequential, names: dict[int, str], x: np.ndarray) -> Record:
    steps: dict[str, dict[str, list[np.ndarray]]] = {n: {} for n in names.values()}
    states: dict[int, Any] = {i: None for i in names}
    with torch.no_grad():
        for t in range(x.shape[0]):
            h = _t(x[t][None])
            for i, mod in enumerate(model):
                if i in names:
                    h, states[i] = mod(h, states[i])
                    rec = steps[names[i]]
                    if not isinstance(mod, norse.LIBoxCell):
                        rec.setdefault("spikes", []).append(h[0].numpy().copy())
                    rec.setdefault("v", []).append(states[i].v[0].detach().numpy().copy())
                    if hasattr(states[i], "i"):
                        rec.setdefault("i_syn", []).append(states[i].i[0].detach().numpy().copy())
                else:
                    h = mod(h)
    return {n: {k: np.stack(v) for k, v in kinds.items()} for n, kinds in steps.items()}


def _export(model: torch.nn.Module, input_shape: tuple[int, ...], infer: bool = False) -> Any:
    graph = norse.to_nir(model, torch.zeros((1, *input_shape)), dt=DT)
    if infer:  # to_nir leaves Conv2d.input_shape None, which nir.write cannot store (and keeps the
        # batch dimension in the Input type, so nir's infer_types fails): fill in the spatial shape only
        for node in graph.nodes.values():
            if isinstance(node, nir.Conv2d) and node.input_shape is None:
                node.input_shape = tuple(input_shape[1:])
    return graph


def feed_forward(name: str, kind: str, seed: int, *, bias: bool = True, readout: bool = False,
                 **opts: Any) -> Case:
    """Linear → cell → Linear → cell (→ Linear → LIBoxCell with ``readout``)."""

    def build(scales: list[float]) -> norse.SequentialState:
        w1, w2, w3 = rng_weights(seed, (N_HID, N_IN), (N_OUT, N_HID), (4, N_OUT))
        rng = np.random.default_rng(seed + 500)
        b1 = quantise(rng.uniform(-0.05, 0.1, N_HID) * scales[0]) if bias else None
        b2 = quantise(rng.uniform(-0.05, 0.1, N_OUT) * scales[1]) if bias else None
        layers = [_linear(quantise(w1 * scales[0]), b1), _neuron(kind, N_HID, opts),
                  _linear(quantise(w2 * scales[1]), b2), _neuron(kind, N_OUT, opts)]
        if readout:
            layers += [_linear(quantise(w3 * 4), None), _neuron("LIBoxCell", 4, {})]
        return norse.SequentialState(*layers)

    names = {1: "1", 3: "3"} | ({5: "5"} if readout else {})
    options: dict[str, Any] = {"linear_bias": bias, "dt": DT}
    if kind == "LIFBoxCell":
        options["reset_method"] = "reset_subtract" if opts.get("reset") == "subtract" else "reset_value"
    options |= {k: v for k, v in opts.items() if k != "reset"}
    if readout:
        options["readout"] = "Linear+LIBoxCell(tau_mem_inv=50)"
    neuron = kind + ("+LIBoxCell" if readout else "")
    return Case(name, neuron, options, build, lambda m: _export(m, (N_IN,)),
                lambda m, x: _step_all(m, names, x), (N_IN,), ["1", "3"])


def conv(name: str, seed: int) -> Case:
    """Conv2d(1→2, 3×3, pad 1) → LIFBoxCell on a 1×6×6 input (the exporter has no Flatten/pooling)."""
    shape = (1, 6, 6)

    def build(scales: list[float]) -> norse.SequentialState:
        (wc,) = rng_weights(seed, (2, 1, 3, 3))
        rng = np.random.default_rng(seed + 500)
        c = torch.nn.Conv2d(1, 2, 3, padding=1)
        with torch.no_grad():
            c.weight.copy_(_t(quantise(wc * scales[0])))
            c.bias.copy_(_t(quantise(rng.uniform(-0.05, 0.1, 2) * scales[0])))
        return norse.SequentialState(c, _neuron("LIFBoxCell", (2, 6, 6), {}))

    return Case(name, "LIFBoxCell", {"layers": "Conv2d", "dt": DT}, build, lambda m: _export(m, shape, True),
                lambda m, x: _step_all(m, {1: "1"}, x), shape, ["1"])


def cases() -> list[Case]:
    return [
        feed_forward("lifbox", "LIFBoxCell", 0),
        feed_forward("lifbox_nobias", "LIFBoxCell", 1, bias=False),
        feed_forward("lifbox_reset_subtract", "LIFBoxCell", 2, reset="subtract"),
        feed_forward("lifbox_v_leak", "LIFBoxCell", 3, v_leak=0.3),
        feed_forward("lifbox_v_reset", "LIFBoxCell", 4, v_reset=-0.5),
        feed_forward("lif", "LIFCell", 5),
        feed_forward("lif_nobias", "LIFCell", 6, bias=False),
        feed_forward("lifbox_libox_readout", "LIFBoxCell", 7, readout=True),
        feed_forward("iaf", "IAFCell", 8),
        conv("conv_lifbox", 9),
    ]
