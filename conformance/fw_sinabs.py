"""Sinabs 3.1 cases: IAF, LIF (norm_input on/off, with tau_syn), ExpLeak; SingleSpike vs MultiSpike;
MembraneSubtract vs MembraneReset; min_v_mem; Linear with and without bias; Conv2d + SumPool2d.

Sinabs counts time in steps (dt = 1; ``alpha = exp(-1/tau_mem)``); the exporter writes tau in steps.
aedc profile: ``sinabs``, dt = 1. Layers are the ``*Squeeze`` variants with batch_size = 1, one time step
per call (the state carries over between calls, as in Sinabs' own time loop). ``to_nir`` does not fill
the Conv2d input shape, which ``nir.write`` needs: the generator calls ``graph.infer_types()`` first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sinabs
import sinabs.layers as sl
import torch
from common import Case, Record, quantise, rng_weights
from sinabs.activation import MembraneReset, MembraneSubtract, MultiSpike, SingleSpike
from torch_layers import linear as _linear
from torch_layers import tensor as _t

FRAMEWORK = "sinabs"
PROFILE = "sinabs"
DT = 1.0
PACKAGES = ("sinabs", "torch", "nir", "nirtorch")

N_IN, N_HID, N_OUT = 16, 32, 8

PROBES = {
    "LIFRecurrent": ("recurrent layers are not exportable: sinabs.nir matches IAF/LIF/ExpLeak by exact type",
                     lambda: sinabs.to_nir(torch.nn.Sequential(torch.nn.Linear(4, 4), sl.LIFRecurrent(
                         tau_mem=torch.full((4,), 5.0), rec_connect=torch.nn.Linear(4, 4))),
                         torch.zeros(1, 1, 4))),
    "ALIF": ("not exportable", lambda: sinabs.to_nir(torch.nn.Sequential(torch.nn.Linear(4, 4), sl.ALIF(
        tau_mem=torch.full((4,), 5.0), tau_adapt=torch.full((4,), 5.0))), torch.zeros(1, 1, 4))),
}




SPIKE_FNS = {"single": SingleSpike, "multi": MultiSpike}
RESET_FNS = {"subtract": MembraneSubtract, "reset": MembraneReset}


def _neuron(kind: str, n: int, opts: dict[str, Any]) -> torch.nn.Module:
    common: dict[str, Any] = dict(batch_size=1)
    if kind != "ExpLeak":
        common |= dict(spike_fn=SPIKE_FNS[opts.get("spike", "single")],
                       reset_fn=RESET_FNS[opts.get("reset", "subtract")](),
                       min_v_mem=opts.get("min_v_mem"))
    if kind == "IAF":
        return sl.IAFSqueeze(**common)
    # per-neuron tau (5..15 steps) and threshold: with scalars the exported LIF/LI has shape () and
    # nir's type inference rejects the graph
    tau = _t(np.random.default_rng(n).uniform(5.0, 15.0, n))
    if kind == "LIF":
        syn = opts.get("tau_syn")
        return sl.LIFSqueeze(tau_mem=tau, tau_syn=None if syn is None else torch.full((n,), syn),
                             spike_threshold=torch.ones(n), norm_input=opts.get("norm_input", True),
                             **common)
    if kind == "ExpLeak":
        return sl.ExpLeakSqueeze(tau_mem=tau, **common)
    raise ValueError(kind)


def _step_all(model: torch.nn.Sequential, names: dict[int, str], x: np.ndarray) -> Record:
    steps: dict[str, dict[str, list[np.ndarray]]] = {n: {} for n in names.values()}
    with torch.no_grad():
        for t in range(x.shape[0]):
            h = _t(x[t][None])
            for i, mod in enumerate(model):
                h = mod(h)
                if i in names:
                    rec = steps[names[i]]
                    if not isinstance(mod, sl.ExpLeak):
                        rec.setdefault("spikes", []).append(h[0].numpy().copy())
                    rec.setdefault("v", []).append(mod.v_mem[0].numpy().copy())
                    if getattr(mod, "i_syn", None) is not None:
                        rec.setdefault("i_syn", []).append(mod.i_syn[0].numpy().copy())
    return {n: {k: np.stack(v) for k, v in kinds.items()} for n, kinds in steps.items()}


def _export(model: torch.nn.Module, input_shape: tuple[int, ...]) -> Any:
    graph = sinabs.to_nir(model, torch.zeros((1, *input_shape)))
    graph.infer_types()
    return graph


def feed_forward(name: str, kind: str, seed: int, *, bias: bool = True, readout: bool = False,
                 **opts: Any) -> Case:
    """Linear → neuron → Linear → neuron (→ Linear → ExpLeak with ``readout``)."""

    def build(scales: list[float]) -> torch.nn.Sequential:
        w1, w2, w3 = rng_weights(seed, (N_HID, N_IN), (N_OUT, N_HID), (4, N_OUT))
        rng = np.random.default_rng(seed + 500)
        b1 = quantise(rng.uniform(-0.05, 0.1, N_HID)) if bias else None
        b2 = quantise(rng.uniform(-0.05, 0.1, N_OUT)) if bias else None
        layers = [_linear(quantise(w1 * scales[0]), b1), _neuron(kind, N_HID, opts),
                  _linear(quantise(w2 * scales[1]), b2), _neuron(kind, N_OUT, opts)]
        if readout:
            layers += [_linear(quantise(w3), None), _neuron("ExpLeak", 4, {})]
        return torch.nn.Sequential(*layers)

    names = {1: "1", 3: "3"} | ({5: "5"} if readout else {})
    options = {"spike_fn": SPIKE_FNS[opts.get("spike", "single")].__name__,
               "reset_fn": RESET_FNS[opts.get("reset", "subtract")].__name__, "linear_bias": bias}
    options |= {k: v for k, v in opts.items() if k not in ("spike", "reset")}
    if readout:
        options["readout"] = "Linear+ExpLeak(norm_input=False)"
    neuron = kind + ("+ExpLeak" if readout else "")
    return Case(name, neuron, options, build, lambda m: _export(m, (N_IN,)),
                lambda m, x: _step_all(m, names, x), (N_IN,), ["1", "3"],
                rate_target=0.08 if opts.get("spike") == "multi" else 0.05)


def conv(name: str, seed: int, spike: str = "single") -> Case:
    """Conv2d(1→4, 3×3, pad 1) → IAF → SumPool2d(2) → Flatten → Linear → IAF, input 1×8×8."""
    shape = (1, 8, 8)

    def build(scales: list[float]) -> torch.nn.Sequential:
        wc, wl = rng_weights(seed, (4, 1, 3, 3), (N_OUT, 64))
        rng = np.random.default_rng(seed + 500)
        c = torch.nn.Conv2d(1, 4, 3, padding=1)
        with torch.no_grad():
            c.weight.copy_(_t(quantise(wc * scales[0])))
            c.bias.copy_(_t(quantise(rng.uniform(-0.05, 0.1, 4))))
        return torch.nn.Sequential(
            c, _neuron("IAF", 0, {"spike": spike}), sl.SumPool2d(2), torch.nn.Flatten(),
            _linear(quantise(wl * scales[1]), quantise(rng.uniform(-0.05, 0.1, N_OUT))),
            _neuron("IAF", N_OUT, {"spike": spike}))

    return Case(name, "IAF", {"layers": "Conv2d+SumPool2d+Flatten+Linear",
                              "spike_fn": SPIKE_FNS[spike].__name__, "reset_fn": "MembraneSubtract"},
                build, lambda m: _export(m, shape), lambda m, x: _step_all(m, {1: "1", 5: "5"}, x),
                shape, ["1", "5"], rate_target=0.08 if spike == "multi" else 0.05)


def cases() -> list[Case]:
    return [
        feed_forward("iaf_single_subtract", "IAF", 0),
        feed_forward("iaf_single_subtract_nobias", "IAF", 1, bias=False),
        feed_forward("iaf_multi_subtract", "IAF", 2, spike="multi"),
        feed_forward("iaf_single_reset", "IAF", 3, reset="reset"),
        feed_forward("iaf_single_min_v_mem", "IAF", 4, min_v_mem=-1.0),
        feed_forward("lif_single", "LIF", 5),
        feed_forward("lif_multi", "LIF", 6, spike="multi"),
        feed_forward("lif_single_no_norm", "LIF", 7, norm_input=False),
        feed_forward("lif_single_tau_syn", "LIF", 8, tau_syn=4.0),
        feed_forward("iaf_explik_readout", "IAF", 9, readout=True),
        conv("conv_sumpool_single", 10),
        conv("conv_sumpool_multi", 11, spike="multi"),
    ]
