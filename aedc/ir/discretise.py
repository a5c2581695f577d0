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
"""

from __future__ import annotations

import numpy as np

from aedc.ir.neurons import (
    CubaLIFModel,
    CubaLIModel,
    IFModel,
    IntegratorModel,
    LIFModel,
    LIModel,
    NeuronModel,
)
from aedc.ir.options import Semantics


def _leaky(tau: np.ndarray, dt: float, exact: bool) -> tuple[np.ndarray, np.ndarray]:
    """(decay, 1 - decay) in float64."""
    tau64 = np.asarray(tau, np.float64)
    if exact:
        decay = np.exp(-dt / tau64)
        return decay, -np.expm1(-dt / tau64)
    a = dt / tau64
    return 1.0 - a, a


def neuron_constants(neuron: NeuronModel, sem: Semantics) -> dict[str, np.ndarray]:
    """Float32 constants of ``neuron``'s update under ``sem`` (empty for stateless models)."""
    exact = sem.discretisation == "exact"
    out: dict[str, np.ndarray] = {}
    if isinstance(neuron, LIFModel | LIModel):
        decay, one_minus = _leaky(neuron.tau, sem.dt, exact)
        out["decay"], out["gain"] = decay, np.asarray(neuron.r, np.float64) * one_minus
        out["leak"] = np.asarray(neuron.v_leak, np.float64) * one_minus
    elif isinstance(neuron, CubaLIFModel | CubaLIModel):
        sdecay, sone = _leaky(neuron.tau_syn, sem.dt, exact)
        out["syn_decay"], out["syn_gain"] = sdecay, np.asarray(neuron.w_in, np.float64) * sone
        decay, one_minus = _leaky(neuron.tau_mem, sem.dt, exact)
        out["decay"], out["gain"] = decay, np.asarray(neuron.r, np.float64) * one_minus
        out["leak"] = np.asarray(neuron.v_leak, np.float64) * one_minus
    elif isinstance(neuron, IFModel | IntegratorModel):
        out["gain"] = np.asarray(neuron.r, np.float64) * sem.dt
    return {k: np.asarray(v, np.float32) for k, v in out.items()}
