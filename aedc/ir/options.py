"""Discrete-time semantics of a graph: the profile every stage and the emulator agree on.

NIR describes continuous-time ODEs; it does not pin down how a simulator steps them. The same file means
different spike trains under different readings, so a graph carries an explicit :class:`Semantics`,
chosen from a named *profile* at import time and recorded in the IR:

``nir-euler``
    Literal forward Euler. ``v`` is updated from last tick's synaptic current (CubaLIF), the reset is
    applied in the same tick as the spike, spike on ``v > threshold``. This is what Norse's ``LIFBoxCell``
    does (``norse.torch.functional.lif_box``: ``v += dt/tau * (v_leak - v + i)``; spike ``v - th > 0``).
``snntorch``
    snnTorch's defaults (``Leaky``/``Synaptic`` with ``reset_mechanism="subtract"``,
    ``reset_delay=True``): current first, then ``v`` from the *new* current (``I ← αI + x; v ← βv + I``);
    subtract reset applied one tick late (snnTorch computes the reset from the previous membrane value),
    spike on ``v > th``. Its other resets are options: ``reset="zero"`` and ``reset_recheck`` (below).
``sinabs``
    Sinabs' ``LIF``/``IAF``/``ExpLeak`` with their defaults, one tick per step (``dt = 1``: ``τ`` is in
    steps; at ``dt = 1e-4`` the NIR paper's CNN would be silent): exponential decay ``α = e^(−1/τ)``;
    ``LIF`` normalises its input (``v ← αv + (1−α)x``, ``norm_input=True``), ``ExpLeak`` (NIR ``LI``)
    and ``IAF`` (NIR ``IF``) do not (``v ← αv + x``, ``v ← v + x``: ``unscaled_input``); subtract
    reset in the tick of the spike, spike on ``v >= threshold``. Sinabs' default ``MultiSpike`` (several
    spikes in one tick once ``v ≥ 2θ``) is the option ``max_spikes`` (below); the preset emits one spike
    per tick (``SingleSpike``).
``norse``
    Norse at its default ``dt = 1e-3``: ``LIFBoxCell`` (NIR ``LIF``) and ``LIBoxCell`` (``LI``) as
    ``nir-euler``; ``LIFCell`` (NIR ``CubaLIF``) adds the input to the current unscaled and updates ``v``
    from the *new* current (``i ← i + x; v ← v + dt/τ_mem·(v_leak − v + i); i ← (1 − dt/τ_syn)·i``);
    ``IAFCell`` (``IF``) is ``v ← v + x``. (Norse's NIR export writes ``dt·τ`` as ``τ``: the importer
    warns when a file looks like that.)

``rockpool``
    Rockpool's torch modules at their default ``dt = 1e-3``: ``LIFTorch`` (NIR ``CubaLIF``:
    ``i ← e^(−dt/τs)(i + x); v ← e^(−dt/τm)v + i``), ``LIFNeuronTorch`` (``LIF``: ``v ← e^(−dt/τ)v + x``),
    ``ExpSynTorch`` (``LI``: ``v ← e^(−dt/τ)(v + x)``), read through the ``r`` its exporter writes
    (``gain_reading``); spike on ``v ≥ θ``, subtract reset in the same tick. Like the sinabs preset it
    emits one spike per tick (``max_spikes_per_dt=1``); Rockpool's default ``⌊v/θ⌋`` spikes up to
    ``max_spikes_per_dt = 2^16`` is ``max_spikes=2**16``. A LIFTorch bias is not exported.

``spyx``
    Spyx (Flax NNX) exported with ``to_nir(dt=1)``: Euler decays ``β = 1 − dt/τ``, inputs added
    unscaled through the ``r = β`` (LIF, CubaLIF) or ``r = 1`` its exporter writes (``gain_reading``);
    the spike is the previous step's test ``s(t) = H(V(t−1) − θ)`` (``spike_from_previous``) whose
    θ the step subtracts, after the update (LIF ``V ← βV + x − sθ``, IF) or, for CuBaLIF, before it
    (``V ← β(V − sθ) + I``: ``cuba_reset_before_update``). Spike on ``v > θ``. Its recurrent cells (RLIF,
    RCuBaLIF) feed ``s(t)`` back within the same step, which a back-edge delivers a tick later.

Options beyond the profiles: ``reset="zero"`` is snnTorch's ``reset_mechanism="zero"`` — with the reset
one tick late, ``Leaky`` clears the membrane *before* the next update, so that tick's input is kept
(``v ← β·(1 − z)·v + x``); ``Synaptic`` (a model with a synaptic current: CubaLIF) clears the updated
membrane (``v ← (1 − z)·(βv + I)``) and keeps the current, as ``RLeaky`` does for its plain membrane
(``zero_after_update``); in the tick of the spike all set ``v ← 0``.
``reset_recheck`` is snnTorch's ``reset_delay=False`` (see the field). ``reset="none"`` never resets
(snnTorch's ``reset_mechanism="none"``). ``max_spikes > 1`` emits a spike *count* per tick (Sinabs'
``MultiSpike``, Rockpool's ``max_spikes_per_dt``): where ``v`` crosses ``θ`` the count is
``min(⌊v/θ⌋, max_spikes)`` (float32 division), a subtract reset removes ``count·θ``; the count rides a
graded event (a spiking population then uses ``event_rule="graded"``; receivers multiply the weight by
it). ``v_min`` clips a spiking model's membrane from below after the reset, as Sinabs' ``min_v_mem``
computes it: ``v ← max(v − v_min, 0) + v_min`` (in float32 this may round ``v``).

Update equations (float32, constants computed in float64 on the host and rounded once):
``v' = (decay * v + gain * I) + leak`` with Euler ``decay = 1 - dt/τ, gain = r·dt/τ, leak = v_leak·dt/τ``
or exact ``decay = exp(-dt/τ), gain = r·(1 - decay), leak = v_leak·(1 - decay)``; ``gain = r`` for a
model in ``unscaled_input`` (:mod:`aedc.ir.discretise`).
"""

from __future__ import annotations

import math
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from aedc.ir.base import IRModel

Discretisation = Literal["euler", "exact"]
ResetMode = Literal["to_v_reset", "subtract", "zero", "none"]
ThresholdCmp = Literal[">", ">="]
ProfileName = Literal["nir-euler", "snntorch", "sinabs", "norse", "rockpool", "spyx", "custom"]
GainReading = Literal["nir", "rockpool", "spyx"]

MAX_SPIKE_COUNT = 2**24
"""Largest ``Semantics.max_spikes``: every count up to it is an exact float32 integer (Sinabs'
unbounded ``MultiSpike`` reads as this)."""

INPUT_GAIN_MODELS = ("alif", "cuba_li", "cuba_lif", "if", "integrator", "li", "lif")
"""Neuron models whose input enters through a gain (``gain`` or ``syn_gain``): what ``unscaled_input``
may name."""


class Semantics(IRModel):
    """Explicit discrete-time semantics, recorded in every graph."""

    profile: ProfileName = "nir-euler"
    dt: float = Field(1e-3, gt=0.0, description="tick length in seconds")
    discretisation: Discretisation = "euler"
    reset: ResetMode = "to_v_reset"
    threshold_cmp: ThresholdCmp = ">"
    current_first: bool = Field(
        False, description="CubaLIF/CubaLI: update v from this tick's new current (snnTorch) instead "
                           "of last tick's (literal Euler)")
    reset_next_tick: bool = Field(
        False, description="apply the reset after the next tick's update (snnTorch) instead of in the "
                           "tick of the spike")
    reset_recheck: bool = Field(
        False, description="snnTorch's reset_delay=False: reset in the tick of the spike, and the next "
                           "tick re-tests the membrane the reset left (r = v > θ): if it is still above "
                           "θ it is reset again before the threshold test, and that reset is undone "
                           "when no spike follows (snnTorch's 'avoid double reset'); subtract or zero "
                           "reset, without reset_next_tick")
    unscaled_input: tuple[str, ...] = Field(
        (), description="neuron models whose input is added without the dt/τ (or 1 − e^(−dt/τ)) "
                        "factor: gain = r (LIF, ALIF, LI), r·1 (IF, I), syn_gain = w_in (CubaLIF, "
                        "CubaLI) — Sinabs' ExpLeak and IAF, Norse's LIFCell current jump and IAFCell")
    zero_after_update: bool = Field(
        False, description="a pending zero reset (reset 'zero' one tick late) clears the updated "
                           "membrane, input included, in every model (snnTorch RLeaky: mem ← base − "
                           "reset·base), not the membrane before the update (Leaky); models with a "
                           "synaptic current (Synaptic) clear after the update anyway")
    gain_reading: GainReading = Field(
        "nir", description="how input gains are read from r and w_in: 'nir' (r·dt/τ, r·(1 − decay), or "
                           "unscaled_input); 'rockpool': Rockpool's exporter writes r = τ·e^(−dt/τ)/dt "
                           "and no w_in for a unit gain, the membrane takes the input after its decay "
                           "(gain = r·dt/(τ·decay)), LI and the synaptic current before it; 'spyx': "
                           "Spyx's exporter writes r = β for LIF/CubaLIF (gain = r/decay) and r = 1, no "
                           "w_in elsewhere, all added unscaled (gain = r, syn_gain = w_in)")
    spike_from_previous: bool = Field(
        False, description="the spike a tick emits is the previous tick's threshold test, whose reset "
                           "this tick applies (Spyx: s(t) = H(V(t−1) − θ)); needs reset_next_tick")
    cuba_reset_before_update: bool = Field(
        False, description="a pending subtract reset of a model with a synaptic current (CubaLIF) "
                           "applies before its membrane update, v ← decay·(v − θ) + gain·i (Spyx "
                           "CuBaLIF), not after it; needs reset 'subtract' and reset_next_tick")
    max_spikes: int = Field(
        1, ge=1, le=MAX_SPIKE_COUNT,
        description="spikes a neuron may emit in one tick: 1 is a binary spike; above 1 the count "
                    "min(floor(v/θ), max_spikes) where v crosses θ, sent as a graded payload, and a "
                    "subtract reset removes count·θ (Sinabs MultiSpike: 2**24, i.e. no limit in "
                    "float32; Rockpool max_spikes_per_dt); needs the reset in the tick of the spike")
    v_min: float | None = Field(
        None, description="lower clip of a spiking model's membrane after the reset, "
                          "v ← max(v − v_min, 0) + v_min (Sinabs' min_v_mem); None: no clip")

    @field_validator("unscaled_input")
    @classmethod
    def _known_models(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(INPUT_GAIN_MODELS))
        if unknown:
            raise ValueError(f"unscaled_input names {unknown}, which have no input gain; choose from "
                             f"{list(INPUT_GAIN_MODELS)}")
        return tuple(sorted(set(value)))

    @model_validator(mode="after")
    def _recheck_rule(self) -> Self:
        if self.reset_recheck and (self.reset_next_tick or self.reset not in ("subtract", "zero")):
            raise ValueError(f"reset_recheck (snnTorch's reset_delay=False) needs reset 'subtract' or "
                             f"'zero' and reset_next_tick False (got reset={self.reset!r}, "
                             f"reset_next_tick={self.reset_next_tick})")
        if self.max_spikes > 1 and self.pending_reset:
            raise ValueError(f"max_spikes={self.max_spikes} (a spike count per tick) needs the reset in "
                             f"the tick of the spike: set reset_next_tick and reset_recheck False")
        if (self.spike_from_previous or self.cuba_reset_before_update) and not self.reset_next_tick:
            raise ValueError("spike_from_previous and cuba_reset_before_update (Spyx) need "
                             "reset_next_tick (the reset of the previous tick's spike)")
        if self.cuba_reset_before_update and self.reset != "subtract":
            raise ValueError(f"cuba_reset_before_update needs reset 'subtract' (got {self.reset!r})")
        if self.v_min is not None and not math.isfinite(self.v_min):
            raise ValueError(f"v_min must be a finite number or None, got {self.v_min}")
        return self

    @property
    def multi_spike(self) -> bool:
        """Whether spiking populations emit a count per tick (``max_spikes > 1``), as graded events."""
        return self.max_spikes > 1

    @property
    def spike_event_rule(self) -> Literal["binary", "graded"]:
        """The event rule of a spiking population under these semantics: a count needs a payload."""
        return "graded" if self.multi_spike else "binary"

    @property
    def pending_reset(self) -> bool:
        """Whether a tick starts with a reset flag left by the previous one (``reset_next_tick`` or
        ``reset_recheck``)."""
        return self.reset_next_tick or self.reset_recheck


PROFILES: dict[str, Semantics] = {
    "nir-euler": Semantics(profile="nir-euler", dt=1e-4),
    "snntorch": Semantics(profile="snntorch", dt=1e-4, reset="subtract", current_first=True,
                          reset_next_tick=True),
    "sinabs": Semantics(profile="sinabs", dt=1.0, discretisation="exact", reset="subtract",
                        threshold_cmp=">=", unscaled_input=("if", "integrator", "li")),
    "norse": Semantics(profile="norse", dt=1e-3, current_first=True, unscaled_input=("cuba_lif", "if")),
    "rockpool": Semantics(profile="rockpool", dt=1e-3, discretisation="exact", reset="subtract",
                          threshold_cmp=">=", current_first=True, gain_reading="rockpool"),
    "spyx": Semantics(profile="spyx", dt=1.0, reset="subtract", current_first=True, reset_next_tick=True,
                      gain_reading="spyx", spike_from_previous=True, cuba_reset_before_update=True),
}


def profile(name: str, **overrides: object) -> Semantics:
    """Return the preset ``name`` with ``overrides`` (``None`` values ignored) applied.

    The profile keeps its name: overriding ``dt`` is the common case and does not change the reading.
    """
    from aedc.errors import FrontendError

    if name not in PROFILES:
        raise FrontendError(f"unknown semantics profile {name!r}; choose one of {sorted(PROFILES)}")
    base = PROFILES[name]
    if not overrides:
        return base
    changed = {k: v for k, v in overrides.items() if v is not None}
    return base.evolve(**changed)
