"""The reference simulator's neuron updates: :data:`NEURON_UPDATES`, one entry per model name.

An entry is the tuple of *stages* one tick runs, in order. A stage maps the value so far to the next
one — the first gets ``x`` (the population's total input, bias included), the last one's result is the
value the population presents (a 0/1 spike, or a graded value) — and reads/updates the population's
:class:`Cell` in place. The stages are the shared pieces of the models (:mod:`aedc.ir.discretise` gives
their constants): a synaptic current, a leaky membrane, an integrator, a spike with reset (fixed or
adaptive threshold), a stateless threshold, a rectifier. Every product and sum is float32 in the order
written (the emulator and the generated C reproduce it bit for bit).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from aedc.ir.options import Semantics

F32 = np.float32


class Cell(Protocol):
    """What a stage sees of one population: semantics, constants, parameters and state (flat arrays)."""

    sem: Semantics
    c: dict[str, np.ndarray]  # float32 constants of aedc.ir.discretise.neuron_constants
    p: dict[str, np.ndarray]  # the model's parameters (float32), by name
    state: dict[str, np.ndarray]  # the model's STATE variables
    z_prev: np.ndarray  # the reset flag the previous tick left (bool): see _fire


Stage = Callable[[Cell, np.ndarray], np.ndarray]
"""One step of an update: ``(cell, value so far) → next value``; it may update ``cell`` in place."""


def synaptic_current(cell: Cell, x: np.ndarray) -> np.ndarray:
    """``i_syn' = syn_decay·i_syn + syn_gain·x``; returns the membrane's drive (new or old current, by
    ``Semantics.current_first``)."""
    i_old = cell.state["i_syn"]
    i_new = cell.c["syn_decay"] * i_old + cell.c["syn_gain"] * x
    cell.state["i_syn"] = i_new
    return i_new if cell.sem.current_first else i_old


def _clears_before_update(cell: Cell) -> bool:
    """A pending ``zero`` reset clears ``v`` before the update (snnTorch ``Leaky``: the tick's input is
    kept), except in a model with a synaptic current (snnTorch ``Synaptic``) or under
    ``zero_after_update`` (snnTorch ``RLeaky``), which clear after it."""
    sem = cell.sem
    return (sem.reset == "zero" and sem.pending_reset and "i_syn" not in cell.state
            and not sem.zero_after_update)


def _subtracts_before_update(cell: Cell) -> bool:
    """A pending subtract reset applies before the membrane update (``cuba_reset_before_update``: a
    spiking model with a synaptic current, Spyx CuBaLIF)."""
    sem = cell.sem
    return (sem.cuba_reset_before_update and sem.reset == "subtract" and sem.pending_reset
            and "i_syn" in cell.state and "v_threshold" in cell.p)


def _v_start(cell: Cell) -> np.ndarray:
    """The membrane the update starts from: ``0`` where a pending zero reset clears it first, ``v − θ``
    where a pending subtract applies first (:func:`_subtracts_before_update`)."""
    v = cell.state["v"]
    if _clears_before_update(cell):
        return np.where(cell.z_prev, F32(0.0), v).astype(F32)
    if _subtracts_before_update(cell):
        return np.where(cell.z_prev, v - cell.p["v_threshold"], v).astype(F32)
    return v


def leaky_membrane(cell: Cell, drive: np.ndarray) -> np.ndarray:
    """``v' = (decay·v + gain·drive) + leak``; returns ``v'``."""
    c = cell.c
    v: np.ndarray = (c["decay"] * _v_start(cell) + c["gain"] * drive) + c["leak"]
    cell.state["v"] = v
    return v


def integrate(cell: Cell, x: np.ndarray) -> np.ndarray:
    """``v' = v + gain·x``; returns ``v'``."""
    v = np.asarray(_v_start(cell) + cell.c["gain"] * x, F32)
    cell.state["v"] = v
    return v


def _reset(cell: Cell, v: np.ndarray, z: np.ndarray, theta: np.ndarray,
           count: np.ndarray | None = None) -> np.ndarray:
    """``v − θ`` (subtract; ``v − count·θ`` for a spike count), ``v_reset`` (to_v_reset), ``0`` (zero)
    where ``z``, or ``v`` unchanged (none)."""
    if cell.sem.reset == "subtract":
        if count is not None:
            return np.where(z, v - count * theta, v).astype(F32)
        return np.where(z, v - theta, v).astype(F32)
    if cell.sem.reset == "zero":
        return np.where(z, F32(0.0), v).astype(F32)
    if cell.sem.reset == "none":
        return v
    return np.where(z, cell.p["v_reset"], v).astype(F32)


def spike_count(sem: Semantics, v: np.ndarray, z: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """The tick's spikes as float32: ``z`` as 0/1, or under ``max_spikes > 1`` the count where ``z``:
    ``d = v/θ`` (one float32 division; ``≥ 1`` already where ``v ≥ θ > 0``), raised to 1 where it is
    not ``≥ 1`` (NaN included), capped at ``max_spikes``, then floored."""
    if not sem.multi_spike:
        return z.astype(F32)
    d = np.asarray(v / theta, F32)
    d = np.minimum(np.where(d >= F32(1.0), d, F32(1.0)), F32(sem.max_spikes))
    return np.where(z, np.floor(d), F32(0.0)).astype(F32)


def clip_below(sem: Semantics, v: np.ndarray) -> np.ndarray:
    """Sinabs' ``min_v_mem``: ``max(v − v_min, 0) + v_min`` in float32 (``v`` where there is no clip)."""
    if sem.v_min is None:
        return v
    m = F32(sem.v_min)
    return (np.maximum(np.asarray(v - m, F32), F32(0.0)) + m).astype(F32)


def _undo(cell: Cell, v: np.ndarray, theta: np.ndarray, z: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``reset_recheck``'s correction ``v − (z − r)·R``: reset where ``z`` and not ``r``, undo the
    re-applied reset where ``r`` and not ``z`` (``v + θ``; ``v + v`` for zero, as snnTorch computes
    ``mem − (spk − reset)·mem``)."""
    now = z & ~r
    undo = r & ~z
    if cell.sem.reset == "subtract":
        return np.where(now, v - theta, np.where(undo, v + theta, v)).astype(F32)
    return np.where(now, F32(0.0), np.where(undo, v + v, v)).astype(F32)


def _fire(cell: Cell, v: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Spike when ``v`` crosses ``theta`` and reset; stores the reset ``v`` and the flag for the next
    tick, returns the spikes (float32: 0/1, or a count under ``max_spikes > 1``).

    The flag ``r`` a tick starts with (``cell.z_prev``): with ``reset_next_tick`` the previous tick's
    spikes, whose reset is applied now, after the update (before it for a zero reset without synaptic
    current: :func:`_v_start`); with ``reset_recheck`` whether the membrane the previous reset left is
    still above its threshold — reset again now, before the threshold test, then corrected by
    :func:`_undo`. Without either, the reset is applied in the tick of the spike (``count·θ``
    subtracted for a count). Last, ``v_min`` clips the membrane (:func:`clip_below`). With
    ``spike_from_previous`` the tick emits ``r`` (the previous tick's test), not this tick's.
    """
    sem = cell.sem
    r = cell.z_prev
    if sem.pending_reset and not (_clears_before_update(cell) or _subtracts_before_update(cell)):
        v = _reset(cell, v, r, theta)
    z = (v > theta) if sem.threshold_cmp == ">" else (v >= theta)
    count = spike_count(sem, v, z, theta)
    if sem.reset_recheck:
        v = _undo(cell, v, theta, z, r)
        cell.z_prev = (v > theta) if sem.threshold_cmp == ">" else (v >= theta)
    elif sem.reset_next_tick:
        cell.z_prev = z
    else:
        v = _reset(cell, v, z, theta, count if sem.multi_spike else None)
        cell.z_prev = z
    cell.state["v"] = clip_below(sem, v)
    if sem.spike_from_previous:  # Spyx: the spike of the previous tick's test, reset now
        return r.astype(F32)
    return count


def spike_reset(cell: Cell, v: np.ndarray) -> np.ndarray:
    """Spike when ``v`` crosses ``v_threshold`` and reset; returns the spikes (0/1 or a count)."""
    return _fire(cell, v, cell.p["v_threshold"])


def adaptive_spike_reset(cell: Cell, v: np.ndarray) -> np.ndarray:
    """Spike when ``v`` crosses ``θ = v_threshold + beta·a`` and reset by ``θ``; then
    ``a' = adapt_decay·a + z`` (``z`` the count under ``max_spikes > 1``). Returns the spikes."""
    a = cell.state["a"]
    theta = (cell.p["v_threshold"] + cell.p["beta"] * a).astype(F32)
    z = _fire(cell, v, theta)
    cell.state["a"] = (cell.c["adapt_decay"] * a + z).astype(F32)
    return z


def heaviside(cell: Cell, x: np.ndarray) -> np.ndarray:
    """Stateless spike ``x > threshold`` (``>=`` by ``Semantics.threshold_cmp``) as 0/1."""
    th = cell.p["threshold"]
    fired: np.ndarray = (x > th) if cell.sem.threshold_cmp == ">" else (x >= th)
    return fired.astype(F32)


def relu(cell: Cell, x: np.ndarray) -> np.ndarray:
    """``max(x, 0)``."""
    rect: np.ndarray = np.maximum(x, F32(0.0))
    return rect


NEURON_UPDATES: dict[str, tuple[Stage, ...]] = {
    "input": (),  # never run: an input population presents its data
    "linear": (),
    "relu": (relu,),
    "threshold": (heaviside,),
    "lif": (leaky_membrane, spike_reset),
    "alif": (leaky_membrane, adaptive_spike_reset),
    "li": (leaky_membrane,),
    "cuba_lif": (synaptic_current, leaky_membrane, spike_reset),
    "cuba_li": (synaptic_current, leaky_membrane),
    "if": (integrate, spike_reset),
    "integrator": (integrate,),
}
"""Model name → the stages of its tick, in order (``()``: present the input unchanged). Every model of
:data:`aedc.ir.neurons.NEURON_MODELS` has an entry (a test checks)."""
