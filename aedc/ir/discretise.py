"""Host-computed per-neuron constants of the discrete update, rounded once to float32.

Computing ``exp(-dt/τ)`` and friends once on the host (in float64) and storing float32 results is what
keeps the reference, the emulator and the chip bit-identical: no target evaluates ``expf`` itself.

Update forms (all float32, evaluated left to right, no fused multiply-add):

* leaky membrane (LIF, LI, CubaLIF/CubaLI membrane): ``v' = (decay·v + gain·x) + leak``
  Euler: ``decay = 1 - dt/τ``, ``gain = r·dt/τ``, ``leak = v_leak·dt/τ``;
  exact (exponential integration, input held over the tick): ``decay = e^(-dt/τ)``,
  ``gain = r·(1 - decay)``, ``leak = v_leak·(1 - decay)``.
* synaptic current (CubaLIF, CubaLI): ``i' = syn_decay·i + syn_gain·x`` with
  Euler ``syn_decay = 1 - dt/τ_syn``, ``syn_gain = w_in·dt/τ_syn``; exact ``syn_decay = e^(-dt/τ_syn)``,
  ``syn_gain = w_in·(1 - syn_decay)``.
* integrators (IF, I): ``v' = v + gain·x`` with ``gain = r·dt`` (Euler is exact here).
* unscaled input (a model in ``Semantics.unscaled_input``: Sinabs' ExpLeak and IAF, Norse's LIFCell and
  IAFCell): the input is added as it comes, ``gain = r`` (LIF, ALIF, LI, IF, I) or ``syn_gain = w_in``
  (CubaLIF, CubaLI); decays and leaks are unchanged.
* the ``rockpool`` reading (``Semantics.gain_reading``; Rockpool's exporter writes ``r = τ·e^(−dt/τ)/dt``
  and no ``w_in`` for its LIFTorch/LIFNeuronTorch/ExpSynTorch): the membrane takes the input after the
  decay with unit gain, ``gain = r·dt/(τ·decay)`` (LIF; CubaLIF from its current), ``LI`` (ExpSynTorch)
  and the synaptic current before it, ``gain = r·dt/τ``, ``syn_gain = w_in·syn_decay``.
* the ``spyx`` reading (Spyx's exporter writes ``r = β`` for LIF/CubaLIF and ``r = 1``, no ``w_in``
  otherwise, and adds every input unscaled): ``gain = r/decay`` (LIF, ALIF, CubaLIF's membrane), ``r``
  (LI, CubaLI's membrane, IF, I), ``syn_gain = w_in``.
* threshold adaptation (ALIF): ``a' = adapt_decay·a + z`` with Euler ``adapt_decay = 1 - dt/τ_adapt``,
  exact ``adapt_decay = e^(-dt/τ_adapt)``.

Which constants a model has is :data:`NEURON_CONSTANTS`, one entry per model name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np

from aedc.errors import VerifyError
from aedc.ir.neurons import Neuron, NeuronModel
from aedc.ir.options import Semantics

GainMode = Literal["scaled", "unscaled", "rockpool", "spyx"]
"""How a model's input gain is read: ``scaled`` (NIR: ``r·dt/τ`` or ``r·(1 − decay)``), ``unscaled`` (the
model is in ``Semantics.unscaled_input``: ``r``), ``rockpool`` or ``spyx`` (``Semantics.gain_reading``)."""

ConstantTerm = Callable[[NeuronModel, float, bool, GainMode], dict[str, np.ndarray]]
"""One group of a model's constants: ``(neuron, dt, exact, gain mode) → {name: float64 array}``."""


def _f64(neuron: NeuronModel, param: str) -> np.ndarray:
    return np.asarray(getattr(neuron, param), np.float64)


def _leaky(tau: np.ndarray, dt: float, exact: bool) -> tuple[np.ndarray, np.ndarray]:
    """(decay, 1 - decay) in float64."""
    tau64 = np.asarray(tau, np.float64)
    if exact:
        decay = np.exp(-dt / tau64)
        return decay, -np.expm1(-dt / tau64)
    a = dt / tau64
    return 1.0 - a, a


def leaky_membrane(tau: str, *, takes_input: bool = True, input_before_decay: bool = False,
                   r_is_decay: bool = False) -> ConstantTerm:
    """``decay``, ``gain`` (from ``r``) and ``leak`` (from ``v_leak``) of a membrane with time constant
    parameter ``tau``. ``takes_input=False``: the membrane is driven by a synaptic current, not by the
    model's input, so ``unscaled_input`` leaves its gain alone (it applies to ``syn_gain``).
    ``input_before_decay``: under the ``rockpool`` reading the input joins before the decay
    (Rockpool's ExpSynTorch, NIR ``LI``: ``v ← e^(−dt/τ)(v + x)``). ``r_is_decay``: under the ``spyx``
    reading ``r`` holds the decay β (Spyx's LIF/CubaLIF export), so the unit gain is ``r/decay``."""
    def term(neuron: NeuronModel, dt: float, exact: bool, mode: GainMode) -> dict[str, np.ndarray]:
        decay, one_minus = _leaky(_f64(neuron, tau), dt, exact)
        r = _f64(neuron, "r")
        if mode == "unscaled" and takes_input:
            gain = r
        elif mode == "rockpool":
            # Rockpool's exporter writes r = τ·e^(−dt/τ)/dt for a unit gain after the decay
            unit = r * dt / (_f64(neuron, tau) * decay)
            gain = unit * decay if input_before_decay else unit
        elif mode == "spyx":
            gain = r / decay if r_is_decay else r
        else:
            gain = r * one_minus
        return {"decay": decay, "gain": gain, "leak": _f64(neuron, "v_leak") * one_minus}
    return term


def synaptic_current(tau: str) -> ConstantTerm:
    """``syn_decay`` and ``syn_gain`` (from ``w_in``) of a synaptic current with time constant ``tau``
    (``rockpool``: the input joins before the decay, ``i ← e^(−dt/τ)(i + x)``: ``syn_gain = w_in·decay``)."""
    def term(neuron: NeuronModel, dt: float, exact: bool, mode: GainMode) -> dict[str, np.ndarray]:
        decay, one_minus = _leaky(_f64(neuron, tau), dt, exact)
        w_in = _f64(neuron, "w_in")
        gain = {"unscaled": w_in, "spyx": w_in, "rockpool": w_in * decay}.get(mode, w_in * one_minus)
        return {"syn_decay": decay, "syn_gain": gain}
    return term


def integrator() -> ConstantTerm:
    """``gain = r·dt`` of a leak-free integrator (``r`` when unscaled)."""
    def term(neuron: NeuronModel, dt: float, exact: bool, mode: GainMode) -> dict[str, np.ndarray]:
        r = _f64(neuron, "r")
        return {"gain": r if mode in ("unscaled", "spyx") else r * dt}
    return term


def adaptation(tau: str) -> ConstantTerm:
    """``adapt_decay`` of a threshold adaptation variable with time constant parameter ``tau``."""
    def term(neuron: NeuronModel, dt: float, exact: bool, mode: GainMode) -> dict[str, np.ndarray]:
        return {"adapt_decay": _leaky(_f64(neuron, tau), dt, exact)[0]}
    return term


NEURON_CONSTANTS: dict[str, tuple[ConstantTerm, ...]] = {
    "input": (),
    "linear": (),
    "relu": (),
    "threshold": (),
    "lif": (leaky_membrane("tau", r_is_decay=True),),
    "li": (leaky_membrane("tau", input_before_decay=True),),
    "alif": (leaky_membrane("tau", r_is_decay=True), adaptation("tau_adapt")),
    "cuba_lif": (synaptic_current("tau_syn"), leaky_membrane("tau_mem", takes_input=False, r_is_decay=True)),
    "cuba_li": (synaptic_current("tau_syn"), leaky_membrane("tau_mem", takes_input=False)),
    "if": (integrator(),),
    "integrator": (integrator(),),
}
"""Model name → the groups of constants its update uses, in the order they are stored (codegen emits
them in this order). An entry is a tuple of :data:`ConstantTerm` built by :func:`leaky_membrane`,
:func:`synaptic_current`, :func:`integrator` or :func:`adaptation` (or a new helper for a new kind of
state); ``()`` for a stateless model. Every model of :data:`aedc.ir.neurons.NEURON_MODELS` has an entry
(a test checks)."""


def neuron_constants(neuron: Neuron, sem: Semantics) -> dict[str, np.ndarray]:
    """Float32 constants of ``neuron``'s update under ``sem`` (empty for stateless models)."""
    terms = NEURON_CONSTANTS.get(neuron.model)
    if terms is None:
        raise VerifyError(f"neuron model '{neuron.model}' has no entry in "
                          f"aedc.ir.discretise.NEURON_CONSTANTS; add one (an empty tuple if it has "
                          f"no constants)")
    exact = sem.discretisation == "exact"
    mode: GainMode = ("unscaled" if neuron.model in sem.unscaled_input
                      else "scaled" if sem.gain_reading == "nir" else sem.gain_reading)
    out: dict[str, np.ndarray] = {}
    for term in terms:
        out.update(term(neuron, sem.dt, exact, mode))
    return {k: np.asarray(v, np.float32) for k, v in out.items()}
