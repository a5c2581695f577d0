"""Discrete-time semantics of a graph: the profile every stage and the emulator agree on.

NIR describes continuous-time ODEs; it does not pin down how a simulator steps them. The same file means
different spike trains under different readings, so a graph carries an explicit :class:`Semantics`,
chosen from a named *profile* at import time and recorded in the IR:

``nir-euler``
    Literal forward Euler. ``v`` is updated from last tick's synaptic current (CubaLIF), the reset is
    applied in the same tick as the spike, spike on ``v > threshold``. This is what Norse does
    (``norse.torch.functional.lif_box``: ``v += dt/tau * (v_leak - v + i)``; spike ``v - th > 0``).
``snntorch``
    Current first, then ``v`` from the *new* current (``I ← αI + x; v ← βv + I``); subtract reset applied
    one tick late (snnTorch computes the reset from the previous membrane value), spike on ``v > th``.
``sinabs``
    Integrate-and-fire as a discrete integrator (``dt = 1``: at ``dt = 1e-4`` the NIR paper's CNN would be
    silent), subtract reset, spike on ``v >= threshold``.

Update equations (float32, constants computed in float64 on the host and rounded once):
``v' = (decay * v + gain * I) + leak`` with Euler ``decay = 1 - dt/τ, gain = r·dt/τ, leak = v_leak·dt/τ``
or exact ``decay = exp(-dt/τ), gain = r·(1 - decay), leak = v_leak·(1 - decay)``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from aedc.ir.base import IRModel

Discretisation = Literal["euler", "exact"]
ResetMode = Literal["to_v_reset", "subtract"]
ThresholdCmp = Literal[">", ">="]
ProfileName = Literal["nir-euler", "snntorch", "sinabs", "custom"]


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


PROFILES: dict[str, Semantics] = {
    "nir-euler": Semantics(profile="nir-euler", dt=1e-4),
    "snntorch": Semantics(profile="snntorch", dt=1e-4, reset="subtract", current_first=True,
                          reset_next_tick=True),
    "sinabs": Semantics(profile="sinabs", dt=1.0, reset="subtract", threshold_cmp=">="),
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
