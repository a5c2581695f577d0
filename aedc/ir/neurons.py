"""Neuron models of the IR: the per-population dynamics, with parameters as float32 arrays.

Every model has a ``bias`` (constant input current, added after the synaptic sum; it is where an Affine
node's bias ends up when the Affine is fused into a projection). Parameters are arrays with the shape of
the population (the frontend broadcasts NIR's scalars). ``PARAMS`` lists the parameter fields in a fixed
order so that codegen, emulator and reference treat them alike; ``STATE`` the state variables;
``SPIKING`` whether the model emits binary spikes (otherwise it emits a value every tick: graded or
sigma-delta events).

Continuous-time definitions (NIR 1.0): LIF ``τ dv/dt = (v_leak - v) + R·I``; ALIF (no NIR node) is an
LIF whose threshold ``v_threshold + β·a`` rises by ``β`` with every spike and relaxes with
``τ_adapt da/dt = -a``; CubaLIF adds
``τ_syn dI/dt = -I + w_in·x``; IF ``dv/dt = R·I``; LI/CubaLI are LIF/CubaLIF without spikes; I is IF
without spikes; Threshold ``z = H(x - θ)``. Linear is an instantaneous pass-through ``y = x``; ReLU
``y = max(x, 0)`` (the graded/sigma-delta unit of AED networks).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import Field

from aedc.ir.arrays import NDArray
from aedc.ir.base import IRModel


class NeuronModel(IRModel):
    """Common base: ``bias`` plus class-level metadata."""

    PARAMS: ClassVar[tuple[str, ...]] = ("bias",)
    STATE: ClassVar[tuple[str, ...]] = ()
    SPIKING: ClassVar[bool] = False
    NIR_TYPE: ClassVar[str | None] = None

    bias: NDArray

    def params(self) -> dict[str, object]:
        """Parameter arrays by name, in ``PARAMS`` order."""
        return {p: getattr(self, p) for p in self.PARAMS}


class InputModel(NeuronModel):
    """A source population: its value each tick comes from the user's input array."""

    model: Literal["input"] = "input"
    PARAMS: ClassVar[tuple[str, ...]] = ()
    NIR_TYPE: ClassVar[str | None] = "Input"
    bias: NDArray = Field(default_factory=lambda: np.zeros(0, np.float32))


class LinearModel(NeuronModel):
    """Instantaneous pass-through ``y = x + bias``: what an un-fused Affine/Conv/Pool node becomes."""

    model: Literal["linear"] = "linear"


class ReLUModel(NeuronModel):
    """Graded rectifier ``y = max(x + bias, 0)`` (sigma-delta / graded-event networks)."""

    model: Literal["relu"] = "relu"


class LIFModel(NeuronModel):
    """Leaky integrate-and-fire."""

    model: Literal["lif"] = "lif"
    PARAMS: ClassVar[tuple[str, ...]] = ("tau", "r", "v_leak", "v_threshold", "v_reset", "bias")
    STATE: ClassVar[tuple[str, ...]] = ("v",)
    SPIKING: ClassVar[bool] = True
    NIR_TYPE: ClassVar[str | None] = "LIF"
    tau: NDArray
    r: NDArray
    v_leak: NDArray
    v_threshold: NDArray
    v_reset: NDArray


class ALIFModel(NeuronModel):
    """Adaptive-threshold LIF (the LSNN neuron of Bellec et al., NeurIPS 2018): an LIF membrane whose
    effective threshold ``v_threshold + beta·a`` grows by ``beta`` per spike and decays with
    ``tau_adapt`` — spike-frequency adaptation, the memory that temporal tasks use.

    One tick (float32, left to right): ``v ← (decay·v + gain·x) + leak``; ``θ = v_threshold + beta·a``
    (``a`` of the previous tick); spike on ``v > θ`` (``>=`` by the semantics), reset ``v ← v − θ``
    (subtract) or ``v_reset``; then ``a ← adapt_decay·a + z``. ``adapt_decay`` is ``e^(-dt/τ_adapt)``
    (exact) or ``1 − dt/τ_adapt`` (Euler); a spike adds 1 to ``a`` undecayed (not ``1 − ρ`` as in
    Bellec's form: that is ``beta`` scaled by ``1 − ρ``). NIR 1.0 has no such node: native graphs only.
    """

    model: Literal["alif"] = "alif"
    PARAMS: ClassVar[tuple[str, ...]] = ("tau", "r", "v_leak", "v_threshold", "v_reset", "tau_adapt",
                                         "beta", "bias")
    STATE: ClassVar[tuple[str, ...]] = ("v", "a")
    SPIKING: ClassVar[bool] = True
    tau: NDArray
    r: NDArray
    v_leak: NDArray
    v_threshold: NDArray
    v_reset: NDArray
    tau_adapt: NDArray
    beta: NDArray


class CubaLIFModel(NeuronModel):
    """Current-based LIF: a first-order synaptic current feeding an LIF membrane."""

    model: Literal["cuba_lif"] = "cuba_lif"
    PARAMS: ClassVar[tuple[str, ...]] = ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold",
                                         "v_reset", "w_in", "bias")
    STATE: ClassVar[tuple[str, ...]] = ("i_syn", "v")
    SPIKING: ClassVar[bool] = True
    NIR_TYPE: ClassVar[str | None] = "CubaLIF"
    tau_syn: NDArray
    tau_mem: NDArray
    r: NDArray
    v_leak: NDArray
    v_threshold: NDArray
    v_reset: NDArray
    w_in: NDArray


class IFModel(NeuronModel):
    """Integrate-and-fire (no leak)."""

    model: Literal["if"] = "if"
    PARAMS: ClassVar[tuple[str, ...]] = ("r", "v_threshold", "v_reset", "bias")
    STATE: ClassVar[tuple[str, ...]] = ("v",)
    SPIKING: ClassVar[bool] = True
    NIR_TYPE: ClassVar[str | None] = "IF"
    r: NDArray
    v_threshold: NDArray
    v_reset: NDArray


class LIModel(NeuronModel):
    """Leaky integrator (non-spiking LIF); emits its membrane value."""

    model: Literal["li"] = "li"
    PARAMS: ClassVar[tuple[str, ...]] = ("tau", "r", "v_leak", "bias")
    STATE: ClassVar[tuple[str, ...]] = ("v",)
    NIR_TYPE: ClassVar[str | None] = "LI"
    tau: NDArray
    r: NDArray
    v_leak: NDArray


class CubaLIModel(NeuronModel):
    """Current-based leaky integrator; emits its membrane value."""

    model: Literal["cuba_li"] = "cuba_li"
    PARAMS: ClassVar[tuple[str, ...]] = ("tau_syn", "tau_mem", "r", "v_leak", "w_in", "bias")
    STATE: ClassVar[tuple[str, ...]] = ("i_syn", "v")
    NIR_TYPE: ClassVar[str | None] = "CubaLI"
    tau_syn: NDArray
    tau_mem: NDArray
    r: NDArray
    v_leak: NDArray
    w_in: NDArray


class IntegratorModel(NeuronModel):
    """Pure integrator ``dv/dt = R·I``; emits its value."""

    model: Literal["integrator"] = "integrator"
    PARAMS: ClassVar[tuple[str, ...]] = ("r", "bias")
    STATE: ClassVar[tuple[str, ...]] = ("v",)
    NIR_TYPE: ClassVar[str | None] = "I"
    r: NDArray


class ThresholdModel(NeuronModel):
    """Stateless Heaviside: spike whenever the input (plus bias) crosses ``threshold``."""

    model: Literal["threshold"] = "threshold"
    PARAMS: ClassVar[tuple[str, ...]] = ("threshold", "bias")
    SPIKING: ClassVar[bool] = True
    NIR_TYPE: ClassVar[str | None] = "Threshold"
    threshold: NDArray


Neuron = Annotated[
    InputModel | LinearModel | ReLUModel | LIFModel | ALIFModel | CubaLIFModel | IFModel | LIModel
    | CubaLIModel | IntegratorModel | ThresholdModel,
    Field(discriminator="model"),
]

NEURON_MODELS: dict[str, type[NeuronModel]] = {
    cls.model_fields["model"].default: cls
    for cls in (InputModel, LinearModel, ReLUModel, LIFModel, ALIFModel, CubaLIFModel, IFModel, LIModel,
                CubaLIModel, IntegratorModel, ThresholdModel)
}
"""Model name → class, for builders and error messages."""

# Time constants must be > 0; these are checked by the verifier.
TIME_CONSTANTS = ("tau", "tau_syn", "tau_mem", "tau_adapt")
