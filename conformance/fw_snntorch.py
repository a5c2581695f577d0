"""snnTorch 1.0 cases: Leaky, Synaptic, RLeaky, RSynaptic (every reset mechanism, reset_delay on/off,
recurrent with and without bias, dense and one-to-one), Linear with and without bias, Conv2d + AvgPool2d.

snnTorch's exporter writes dt = 1e-4 (``tau = dt/(1-beta)``, ``r = tau/dt``, ``w_in = tau_syn/dt``); the
forward pass is dimensionless (one call = one step). aedc profile: ``snntorch``, dt = 1e-4.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import snntorch as snn
import torch
from common import Case, Record, quantise, rng_weights
from snntorch.export_nir import export_to_nir
from torch_layers import linear as _linear
from torch_layers import tensor as _t

FRAMEWORK = "snntorch"
PROFILE = "snntorch"
DT = 1e-4
PACKAGES = ("snntorch", "torch", "nir", "nirtorch")

N_IN, N_HID, N_OUT = 16, 32, 8


def _probe(*layers: torch.nn.Module) -> Any:
    return export_to_nir(torch.nn.Sequential(torch.nn.Linear(4, 4), *layers), torch.zeros((1, 4)),
                         ignore_dims=[0])


PROBES = {
    "Alpha": ("no exporter branch",
              lambda: _probe(snn.Alpha(alpha=0.9, beta=0.8, init_hidden=True))),
    "Lapicque": ("no exporter branch", lambda: _probe(snn.Lapicque(beta=0.9, init_hidden=True))),
    "reset_mechanism/reset_delay": ("not written to NIR: every reset option exports the same graph (the "
                                    "cases record what snnTorch computes for each)",
                                    lambda: _probe(snn.Leaky(beta=torch.full((4,), 0.9),
                                                             threshold=torch.ones(4), init_hidden=True,
                                                             reset_mechanism="zero",
                                                             reset_delay=False))),
}




def _bias_scale(kind: str) -> float:
    """A Synaptic neuron amplifies a constant input by 1/((1-alpha)(1-beta)) (about 25): keep its biases
    small enough that v does not sit above threshold (reset 'none' would then fire every tick)."""
    return 0.1 if kind in ("Synaptic", "RSynaptic") else 1.0


def _neuron(kind: str, n: int, rng: np.random.Generator, opts: dict[str, Any]) -> torch.nn.Module:
    beta = _t(rng.uniform(0.80, 0.95, n))
    thr = _t(np.ones(n))
    common = dict(threshold=thr, init_hidden=True, reset_mechanism=opts.get("reset", "subtract"),
                  reset_delay=opts.get("reset_delay", True))
    if kind == "Leaky":
        return snn.Leaky(beta=beta, **common)
    if kind == "Synaptic":
        return snn.Synaptic(alpha=_t(rng.uniform(0.5, 0.8, n)), beta=beta, **common)
    raise ValueError(kind)


def _record(mod: torch.nn.Module, out: Any) -> dict[str, np.ndarray]:
    spk = out[0] if isinstance(out, tuple) else out
    rec = {"spikes": spk, "v": mod.mem}
    if hasattr(mod, "syn"):
        rec["i_syn"] = mod.syn
    return {k: v.detach().numpy()[0].copy() for k, v in rec.items()}


def _step_all(model: torch.nn.Sequential, names: dict[int, str], x: np.ndarray) -> Record:
    """One call of every module per time step (exactly what ``Sequential.forward`` does)."""
    steps: dict[str, dict[str, list[np.ndarray]]] = {n: {} for n in names.values()}
    with torch.no_grad():
        for t in range(x.shape[0]):
            h: Any = _t(x[t][None])
            for i, mod in enumerate(model):
                h = mod(h)
                if i in names:
                    for k, v in _record(mod, h).items():
                        steps[names[i]].setdefault(k, []).append(v)
                    h = h[0] if isinstance(h, tuple) else h
    return {n: {k: np.stack(v) for k, v in kinds.items()} for n, kinds in steps.items()}


def _export(model: torch.nn.Module, input_shape: tuple[int, ...]) -> Any:
    return export_to_nir(model, torch.zeros((1, *input_shape)), ignore_dims=[0])


def feed_forward(name: str, kind: str, seed: int, **opts: Any) -> Case:
    """Linear → neuron → Linear → neuron."""
    bias = opts.get("bias", True)

    def build(scales: list[float]) -> torch.nn.Sequential:
        w1, w2 = rng_weights(seed, (N_HID, N_IN), (N_OUT, N_HID))
        rng = np.random.default_rng(seed + 500)
        b1 = quantise(rng.uniform(-0.05, 0.1, N_HID) * _bias_scale(kind)) if bias else None
        b2 = quantise(rng.uniform(-0.05, 0.1, N_OUT) * _bias_scale(kind)) if bias else None
        return torch.nn.Sequential(
            _linear(quantise(w1 * scales[0]), b1), _neuron(kind, N_HID, rng, opts),
            _linear(quantise(w2 * scales[1]), b2), _neuron(kind, N_OUT, rng, opts))

    options = {"reset_mechanism": opts.get("reset", "subtract"),
               "reset_delay": opts.get("reset_delay", True), "linear_bias": bias}
    return Case(name, kind, options, build, lambda m: _export(m, (N_IN,)),
                lambda m, x: _step_all(m, {1: "1", 3: "3"}, x), (N_IN,), ["1", "3"])


def recurrent(name: str, kind: str, seed: int, *, rec_bias: bool, all_to_all: bool = True,
              reset: str = "subtract", reset_delay: bool = True) -> Case:
    """Linear → RLeaky/RSynaptic (recurrent Linear with or without bias, or one-to-one V)."""
    n = N_HID

    def build(scales: list[float]) -> torch.nn.Sequential:
        (w1,) = rng_weights(seed, (n, N_IN))
        rng = np.random.default_rng(seed + 500)
        beta = float(rng.uniform(0.80, 0.95))
        common: dict[str, Any] = dict(beta=beta, threshold=1.0, init_hidden=True,
                                      reset_mechanism=reset, reset_delay=reset_delay)
        if all_to_all:
            common["linear_features"] = n
        else:
            common |= dict(all_to_all=False, V=_t(quantise(rng.uniform(-0.5, 0.5, n))))
        if kind == "RSynaptic":
            common["alpha"] = float(rng.uniform(0.5, 0.8))
        cell = snn.RLeaky(**common) if kind == "RLeaky" else snn.RSynaptic(**common)
        if all_to_all:
            g = _bias_scale(kind)
            w_rec = quantise(rng.standard_normal((n, n)) * 0.3 * g / np.sqrt(n))
            b_rec = quantise(rng.uniform(0.05, 0.15, n) * g) if rec_bias else np.zeros(n, np.float32)
            with torch.no_grad():
                cell.recurrent.weight.copy_(_t(w_rec))
                cell.recurrent.bias.copy_(_t(b_rec))
        return torch.nn.Sequential(_linear(quantise(w1 * scales[0]), None), cell)

    options = {"reset_mechanism": reset, "reset_delay": reset_delay,
               "recurrent": "dense" if all_to_all else "one-to-one",
               "recurrent_bias": rec_bias}
    return Case(name, kind, options, build, lambda m: _export(m, (N_IN,)),
                lambda m, x: _step_all(m, {1: "1.lif"}, x), (N_IN,), ["1.lif"])


def conv(name: str, seed: int) -> Case:
    """Conv2d(1→4, 3×3, pad 1) → Leaky → AvgPool2d(2) → Flatten → Linear → Leaky, input 1×8×8."""
    shape = (1, 8, 8)

    def build(scales: list[float]) -> torch.nn.Sequential:
        wc, wl = rng_weights(seed, (4, 1, 3, 3), (N_OUT, 4 * 4 * 4))
        rng = np.random.default_rng(seed + 500)
        c = torch.nn.Conv2d(1, 4, 3, padding=1)
        with torch.no_grad():
            c.weight.copy_(_t(quantise(wc * scales[0])))
            c.bias.copy_(_t(quantise(rng.uniform(-0.05, 0.1, 4))))
        lif1 = snn.Leaky(beta=_t(np.full((4, 8, 8), 0.9)), threshold=_t(np.ones((4, 8, 8))),
                         init_hidden=True)
        return torch.nn.Sequential(
            c, lif1, torch.nn.AvgPool2d(2), torch.nn.Flatten(),
            _linear(quantise(wl * scales[1]), quantise(rng.uniform(-0.05, 0.1, N_OUT))),
            _neuron("Leaky", N_OUT, rng, {}))

    return Case(name, "Leaky", {"layers": "Conv2d+AvgPool2d+Flatten+Linear",
                                "reset_mechanism": "subtract", "reset_delay": True},
                build, lambda m: _export(m, shape),
                lambda m, x: _step_all(m, {1: "1", 5: "5"}, x), shape, ["1", "5"])


def cases() -> list[Case]:
    out = [
        feed_forward("leaky_subtract", "Leaky", 0),
        feed_forward("leaky_subtract_nobias", "Leaky", 1, bias=False),
        feed_forward("leaky_zero", "Leaky", 2, reset="zero"),
        feed_forward("leaky_none", "Leaky", 3, reset="none"),
        feed_forward("leaky_subtract_nodelay", "Leaky", 4, reset_delay=False),
        feed_forward("leaky_zero_nodelay", "Leaky", 5, reset="zero", reset_delay=False),
        feed_forward("synaptic_subtract", "Synaptic", 6),
        feed_forward("synaptic_zero", "Synaptic", 7, reset="zero"),
        feed_forward("synaptic_none", "Synaptic", 8, reset="none"),
        feed_forward("synaptic_subtract_nodelay", "Synaptic", 9, reset_delay=False),
        recurrent("rleaky_bias", "RLeaky", 10, rec_bias=True),
        recurrent("rleaky_nobias", "RLeaky", 11, rec_bias=False),
        recurrent("rleaky_one_to_one", "RLeaky", 12, rec_bias=False, all_to_all=False),
        recurrent("rleaky_zero", "RLeaky", 13, rec_bias=False, reset="zero"),
        recurrent("rsynaptic_bias", "RSynaptic", 14, rec_bias=True),
        recurrent("rsynaptic_nobias", "RSynaptic", 15, rec_bias=False),
        conv("conv_avgpool", 16),
    ]
    return out
