"""Rockpool 3.1 (torch backend) cases: LIFTorch (→ CubaLIF; single and multiple spikes per step, with a
bias), LIFNeuronTorch (→ LIF), ExpSynTorch (→ LI) readout, LinearTorch with and without bias.

Rockpool steps at its module dt (default 1e-3 s) with exponential decays; the exporter writes taus in
seconds and ``r = τ·e^(−dt/τ)/dt``. aedc profile: ``nir-euler`` (Rockpool has no profile of its own),
dt = 1e-3. The network is a ``rockpool.nn.combinators.Sequential`` evolved over the whole input at once
(``net(x, record=True)``), which is Rockpool's own forward pass.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from common import Case, Record, quantise, rng_weights
from rockpool.nn.combinators import Sequential
from rockpool.nn.modules import ExpSynTorch, LIFNeuronTorch, LIFTorch, LinearTorch
from rockpool.nn.modules.torch.nir import to_nir

FRAMEWORK = "rockpool"
PROFILE = "nir-euler"
DT = 1e-3
PACKAGES = ("rockpool", "torch", "nir", "nirtorch")

N_IN, N_HID, N_OUT = 16, 32, 8

PROBES = {
    "LIFTorch(has_rec=True)": ("the recurrent weights are dropped: LIFTorch exports as a plain CubaLIF",
                               lambda: to_nir(Sequential(LinearTorch((4, 4)), LIFTorch(4, has_rec=True)),
                                              torch.zeros(1, 4))),
    "LIFTorch(n_syn=2)": ("multiple synaptic states are not exportable",
                          lambda: to_nir(Sequential(LinearTorch((4, 8)), LIFTorch((8, 4))),
                                         torch.zeros(1, 4))),
}


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, np.float32))


def _linear(w: np.ndarray, b: np.ndarray | None) -> LinearTorch:
    out, inp = w.shape
    if b is None:
        return LinearTorch((inp, out), weight=_t(w.T), has_bias=False)
    return LinearTorch((inp, out), weight=_t(w.T), bias=_t(b), has_bias=True)


def _neuron(kind: str, n: int, opts: dict[str, Any]) -> Any:
    rng = np.random.default_rng(n)
    tau_mem = _t(rng.uniform(0.01, 0.03, n))
    if kind == "LIFTorch":
        extra: dict[str, Any] = {}
        if opts.get("max_spikes") is not None:
            extra["max_spikes_per_dt"] = torch.tensor(float(opts["max_spikes"]))
        if opts.get("neuron_bias"):
            extra["bias"] = _t(quantise(rng.uniform(0.0, opts["neuron_bias"], n)))
        return LIFTorch(n, tau_mem=tau_mem, tau_syn=_t(np.full(n, 0.005)), threshold=_t(np.ones(n)),
                        dt=DT, **extra)
    if kind == "LIFNeuronTorch":
        return LIFNeuronTorch(n, tau_mem=tau_mem, threshold=_t(np.ones(n)), dt=DT)
    if kind == "ExpSynTorch":
        return ExpSynTorch(n, tau=_t(np.full(n, 0.02)), dt=DT)
    raise ValueError(kind)


def _run(model: Any, names: dict[str, str], x: np.ndarray) -> Record:
    with torch.no_grad():
        _, _, rec = model(_t(x[None]), record=True)
    out: Record = {}
    for key, node in names.items():
        r = rec[key]
        kinds: dict[str, np.ndarray] = {}
        if "spikes" in r:
            kinds["spikes"] = r["spikes"][0].numpy()
        if "vmem" in r:
            kinds["v"] = r["vmem"][0].numpy()
            if "isyn" in r:
                kinds["i_syn"] = r["isyn"][0].reshape(x.shape[0], -1).numpy()
        elif "isyn" in r:  # ExpSynTorch: its one state is the LI's v
            kinds["v"] = r["isyn"][0].reshape(x.shape[0], -1).numpy()
        out[node] = kinds
    return out


def _export(model: Any) -> Any:
    # the exporter passes ExpSynTorch.tau to nir.LI without detaching it (nir.write then fails on a
    # tensor that requires grad): freeze the parameters first (their values are unchanged)
    for p in torch.nn.Module.parameters(model):
        p.requires_grad_(False)
    return to_nir(model, torch.zeros((1, N_IN)))


def feed_forward(name: str, kind: str, seed: int, *, linear_bias: bool = False, readout: bool = False,
                 **opts: Any) -> Case:
    """LinearTorch → neuron → LinearTorch → neuron (→ LinearTorch → ExpSynTorch with ``readout``)."""

    def build(scales: list[float]) -> Sequential:
        w1, w2, w3 = rng_weights(seed, (N_HID, N_IN), (N_OUT, N_HID), (4, N_OUT))
        rng = np.random.default_rng(seed + 500)
        b1 = quantise(rng.uniform(-0.05, 0.1, N_HID) * scales[0]) if linear_bias else None
        b2 = quantise(rng.uniform(-0.05, 0.1, N_OUT) * scales[1]) if linear_bias else None
        layers = [_linear(quantise(w1 * scales[0]), b1), _neuron(kind, N_HID, opts),
                  _linear(quantise(w2 * scales[1]), b2), _neuron(kind, N_OUT, opts)]
        if readout:
            layers += [_linear(quantise(w3), None), _neuron("ExpSynTorch", 4, {})]
        return Sequential(*layers)

    names = {f"1_{kind}": f"1_{kind}", f"3_{kind}": f"3_{kind}"}
    if readout:
        names["5_ExpSynTorch"] = "5_ExpSynTorch"
    options: dict[str, Any] = {"linear_bias": linear_bias, "dt": DT}
    options |= {("max_spikes_per_dt" if k == "max_spikes" else k): v for k, v in opts.items()}
    if kind == "LIFTorch" and "max_spikes_per_dt" not in options:
        options["max_spikes_per_dt"] = "2**16 (default)"
    if readout:
        options["readout"] = "LinearTorch+ExpSynTorch(tau=20 ms)"
    spiking = list(names)[:2]
    return Case(name, kind + ("+ExpSynTorch" if readout else ""), options, build,
                _export, lambda m, x: _run(m, names, x),
                (N_IN,), spiking)


def cases() -> list[Case]:
    return [
        feed_forward("lif_single", "LIFTorch", 0, max_spikes=1),
        feed_forward("lif_multi", "LIFTorch", 1),
        feed_forward("lif_single_affine", "LIFTorch", 2, linear_bias=True, max_spikes=1),
        feed_forward("lif_single_neuron_bias", "LIFTorch", 3, max_spikes=1, neuron_bias=0.02),
        feed_forward("lifneuron", "LIFNeuronTorch", 4),
        feed_forward("lif_expsyn_readout", "LIFTorch", 5, readout=True, max_spikes=1),
    ]
