"""Neuron kernels: the C update of one neuron, per neuron model, in one table (:data:`NEURON_KERNELS`).

The emitter (:mod:`aedc.codegen.pe`) writes everything around the update: the synaptic input
``acc[i]``, ``float x = acc[i] + S<k>_BIAS(i);``, one float32 state array ``s<k>_<var>[n]`` per
variable of the model's ``STATE`` (zero-initialised, traced by the host runtime), the parameter
macros, and after the update the event rule (binary, graded, sigma-delta), tracing, recording and
sending — so a kernel only turns ``x`` into ``value``.

Adding a neuron model (e.g. an adaptive-threshold LIF, ``alif``) is one entry here, a
:class:`NeuronKernel` with:

``params``
    the parameter macros ``S<k>_<NAME>(i)`` the update reads, in the order they are emitted (``BIAS``
    always follows). Each name is either a float32 constant that
    :func:`aedc.ir.discretise.neuron_constants` computes on the host for the model (decays, gains —
    the PE never calls ``expf``) or a parameter field of the model (``v_threshold``); a scalar when it
    is uniform over the slice, else an image array.
``update(k, sem)``
    a :class:`NeuronUpdate`: C statements (one per line, without indentation) run for neuron ``i``
    with ``x`` in scope, that read and write the state arrays and define ``float value`` (1.0f / 0.0f
    for a spike, else the value to send); plus any per-neuron state beyond ``STATE`` (such as the
    reset flag of ``reset_next_tick`` / ``reset_recheck``). ``sem`` is the graph's
    :class:`aedc.ir.options.Semantics`, whose reset, comparison and current order the update must
    follow exactly as :mod:`aedc.reference` does — the host C is checked bit for bit against it.

``update=None`` marks a source (``input``): the host streams its values, there is no synaptic input.
tests/test_codegen_tables.py checks that every model of :data:`aedc.ir.neurons.NEURON_MODELS` has an
entry and that every parameter name resolves. Outside codegen a new model also needs its constants
in ``neuron_constants`` and its ITCM estimate in ``aedc.partition.memory.CODE_PER_MODEL``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aedc.codegen.literals import c_float
from aedc.ir.options import Semantics

__all__ = ["KERNEL_MODELS", "NEURON_KERNELS", "NeuronKernel", "NeuronUpdate"]


@dataclass(frozen=True)
class NeuronUpdate:
    """The C of one neuron's update: statements, and extra state arrays ``(ctype, name, comment)``."""

    lines: tuple[str, ...]
    state: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class NeuronKernel:
    """One neuron model's kernel (see the module docstring for what each field must provide)."""

    params: tuple[str, ...]
    update: Callable[[int, Semantics], NeuronUpdate] | None


def _clears_before_update(sem: Semantics, cuba: bool) -> bool:
    """A pending zero reset clears ``v`` before the update (snnTorch ``Leaky``), except in a model with
    a synaptic current (``Synaptic``: after it, in :func:`_fire`)."""
    return sem.reset == "zero" and sem.pending_reset and not cuba and not sem.zero_after_update


def _subtracts_before_update(sem: Semantics, cuba: bool) -> bool:
    """A pending subtract reset applies before the membrane update (``cuba_reset_before_update``)."""
    return sem.cuba_reset_before_update and sem.reset == "subtract" and sem.pending_reset and cuba


def _v_start(k: int, sem: Semantics, cuba: bool, spiking: bool) -> str:
    """The C expression of the membrane the update starts from."""
    if spiking and _clears_before_update(sem, cuba):
        return f"(s{k}_zprev[i] ? 0.0f : s{k}_v[i])"
    if spiking and _subtracts_before_update(sem, cuba):
        return f"(s{k}_zprev[i] ? s{k}_v[i] - S{k}_V_THRESHOLD(i) : s{k}_v[i])"
    return f"s{k}_v[i]"


def _leaky(k: int, sem: Semantics, *, cuba: bool, spiking: bool = True) -> list[str]:
    """Membrane ``v`` of a leaky model; current-based models first update their synaptic current."""
    P = f"S{k}_"
    lines = ["float drive = x;"]
    if cuba:
        lines = [f"float i_old = s{k}_i_syn[i];",
                 f"float i_new = {P}SYN_DECAY(i) * i_old + {P}SYN_GAIN(i) * x;",
                 f"s{k}_i_syn[i] = i_new;",
                 f"float drive = {'i_new' if sem.current_first else 'i_old'};"]
    v0 = _v_start(k, sem, cuba, spiking)
    return [*lines, f"float v = ({P}DECAY(i) * {v0} + {P}GAIN(i) * drive) + {P}LEAK(i);"]


def _integrating(k: int, sem: Semantics, *, spiking: bool = True) -> list[str]:
    return [f"float v = {_v_start(k, sem, False, spiking)} + S{k}_GAIN(i) * x;"]


def _fire(k: int, sem: Semantics, membrane: list[str], theta: str | None = None,
          after: tuple[str, ...] = (), *, cuba: bool = False) -> NeuronUpdate:
    """Spike when ``v`` crosses the threshold (``V_THRESHOLD``, or the C expression ``theta``), then
    reset by it (in this tick, or the next one's, or re-checked: ``reset_recheck``); ``after`` runs
    once ``z`` is known. ``s<k>_zprev`` is the reset flag a tick starts with, as in the reference."""
    P = f"S{k}_"
    cmp = ">" if sem.threshold_cmp == ">" else ">="
    th = theta or f"{P}V_THRESHOLD(i)"

    def reset(cond: str, count: str | None = None) -> str:
        if sem.reset == "subtract":
            return f"if ({cond}) v = v - {count} * {th};" if count else f"if ({cond}) v = v - {th};"
        if sem.reset == "zero":
            return f"if ({cond}) v = 0.0f;"
        if sem.reset == "none":
            return f"/* reset none ({cond}) */"
        return f"if ({cond}) v = {P}V_RESET(i);"

    lines = list(membrane)
    state: tuple[tuple[str, str, str], ...] = ()
    if sem.pending_reset:
        what = ("still above threshold after the reset (re-checked)" if sem.reset_recheck
                else "spiked last tick (reset applied one tick late)")
        state = (("uint8_t", f"s{k}_zprev", f"{what}, slice {k}"),)
        if sem.reset_recheck or not _clears_before_update(sem, cuba):
            lines.append(f"int pending = s{k}_zprev[i];")
        if not (_clears_before_update(sem, cuba) or _subtracts_before_update(sem, cuba)):
            lines.append(reset("pending"))
    lines.append(f"int z = v {cmp} {th};")
    spikes = "(pending ? 1.0f : 0.0f)" if sem.spike_from_previous else "(z ? 1.0f : 0.0f)"
    if sem.multi_spike:  # the count of reference.spike_count; a cast floors ratio in [1, 2^24]
        cap = c_float(sem.max_spikes)
        lines += [f"float ratio = v / {th};", "if (!(ratio >= 1.0f)) ratio = 1.0f;",
                  f"if (ratio > {cap}) ratio = {cap};", "float count = z ? (float)(int32_t)ratio : 0.0f;"]
        spikes = "count"
    if sem.reset_recheck:
        undo = f"v = v + {th};" if sem.reset == "subtract" else "v = v + v;"
        lines += [reset("z && !pending"), f"else if (pending && !z) {undo}",
                  f"s{k}_zprev[i] = (uint8_t)(v {cmp} {th});"]
    elif sem.reset_next_tick:
        lines.append(f"s{k}_zprev[i] = (uint8_t)z;")
    else:
        lines.append(reset("z", "count" if sem.multi_spike else None))
    if sem.v_min is not None:  # Sinabs' min_v_mem, as reference.clip_below computes it
        m = c_float(sem.v_min)
        lines += [f"float above = v - {m};", "if (above < 0.0f) above = 0.0f;", f"v = above + {m};"]
    # ``after`` reads the spike as "(z ? 1.0f : 0.0f)": a count takes its place (ALIF's a += count)
    lines += [f"s{k}_v[i] = v;", *(a.replace("(z ? 1.0f : 0.0f)", spikes) for a in after),
              "float value = count;" if sem.multi_spike
              else f"float value = {spikes[1:-1]};" if sem.spike_from_previous
              else "float value = z ? 1.0f : 0.0f;"]
    return NeuronUpdate(tuple(lines), state)


def _present(k: int, membrane: list[str]) -> NeuronUpdate:
    """Keep ``v`` and send it."""
    return NeuronUpdate((*membrane, f"s{k}_v[i] = v;", "float value = v;"))


def _linear(k: int, sem: Semantics) -> NeuronUpdate:
    return NeuronUpdate(("float value = x;",))


def _relu(k: int, sem: Semantics) -> NeuronUpdate:
    return NeuronUpdate(("float value = (x >= 0.0f || x != x) ? x : 0.0f; /* numpy maximum */",))


def _lif(k: int, sem: Semantics) -> NeuronUpdate:
    return _fire(k, sem, _leaky(k, sem, cuba=False))


def _alif(k: int, sem: Semantics) -> NeuronUpdate:
    """LIF with the threshold ``V_THRESHOLD + BETA·a`` (``a`` of the previous tick), then
    ``a = ADAPT_DECAY·a + z``."""
    P = f"S{k}_"
    membrane = [*_leaky(k, sem, cuba=False), f"float a = s{k}_a[i];",
                f"float theta = {P}V_THRESHOLD(i) + {P}BETA(i) * a;"]
    return _fire(k, sem, membrane, "theta", (f"s{k}_a[i] = {P}ADAPT_DECAY(i) * a + (z ? 1.0f : 0.0f);",))


def _cuba_lif(k: int, sem: Semantics) -> NeuronUpdate:
    return _fire(k, sem, _leaky(k, sem, cuba=True), cuba=True)


def _if(k: int, sem: Semantics) -> NeuronUpdate:
    return _fire(k, sem, _integrating(k, sem))


def _li(k: int, sem: Semantics) -> NeuronUpdate:
    return _present(k, _leaky(k, sem, cuba=False, spiking=False))


def _cuba_li(k: int, sem: Semantics) -> NeuronUpdate:
    return _present(k, _leaky(k, sem, cuba=True, spiking=False))


def _integrator(k: int, sem: Semantics) -> NeuronUpdate:
    return _present(k, _integrating(k, sem, spiking=False))


def _threshold(k: int, sem: Semantics) -> NeuronUpdate:
    cmp = ">" if sem.threshold_cmp == ">" else ">="
    return NeuronUpdate((f"float value = (x {cmp} S{k}_THRESHOLD(i)) ? 1.0f : 0.0f;",))


_LEAK = ("decay", "gain", "leak")
_SYN = ("syn_decay", "syn_gain")
_SPIKE = ("v_threshold", "v_reset")

NEURON_KERNELS: dict[str, NeuronKernel] = {
    "input": NeuronKernel((), None),
    "linear": NeuronKernel((), _linear),
    "relu": NeuronKernel((), _relu),
    "lif": NeuronKernel((*_LEAK, *_SPIKE), _lif),
    "alif": NeuronKernel((*_LEAK, *_SPIKE, "beta", "adapt_decay"), _alif),
    "cuba_lif": NeuronKernel((*_SYN, *_LEAK, *_SPIKE), _cuba_lif),
    "if": NeuronKernel(("gain", *_SPIKE), _if),
    "li": NeuronKernel(_LEAK, _li),
    "cuba_li": NeuronKernel((*_SYN, *_LEAK), _cuba_li),
    "integrator": NeuronKernel(("gain",), _integrator),
    "threshold": NeuronKernel(("threshold",), _threshold),
}
"""Neuron model name → its kernel: the one place in codegen a neuron model is added."""

KERNEL_MODELS: tuple[str, ...] = tuple(NEURON_KERNELS)
"""Neuron models with a generated kernel (the keys of :data:`NEURON_KERNELS`)."""
