"""Which framework wrote a NIR file, and so which profile reads it as that framework computed it.

NIR does not pin down the discrete-time semantics (DESIGN.md), so ``from_nir`` needs a profile; a new user
calls ``from_nir(path)`` without one. Exporters leave fingerprints. Each rule below is a fact about one
exporter as the golden files in ``tests/data/conformance/`` show it (snnTorch 1.0.0, Sinabs 3.1.3, Norse
1.1.0, Rockpool 3.1.0, Spyx 1.0.0), and gives a :class:`Clue` *for* or *against* a framework:

*Signatures* (the file's structure: what the exporter names and shapes, not what the user trained):

* graph or node ``metadata`` naming a framework (``framework``/``exporter``/``source_framework`` keys; aedc's
  ``to_nir`` writes ``exporter = "aedc"`` and its whole semantics, which are then used) — decisive;
* node names: Rockpool ``<i>_<Module>Torch`` (``0_LinearTorch``, ``1_LIFTorch``); Spyx ``layer_<i>``
  (``layer_1_threshold``, ``layer_1.layer_1.lif``); snnTorch, Sinabs and Norse the indices of a
  ``torch.nn.Sequential`` (``0``, ``1``, …, snnTorch's recurrent ``1.lif``/``1.w_rec``) with
  ``input``/``output``;

*Shapes*: Norse and Rockpool trace a batched sample and keep its leading axis of 1 in the
``Input``/``Output`` shapes (``[1, 16]`` into an Affine of 16 inputs, ``[1, 8]`` out of 8 neurons);
snnTorch (``ignore_dims=[0]``), Sinabs and Spyx do not — and Norse 1.1 always does. This confirms or
rules out, it is no signature of its own.

*Parameter patterns* (``r``, ``w_in``, ``τ`` of LIF/CubaLIF/LI/CubaLI):

* snnTorch: ``r = τ_mem/dt`` and ``w_in = τ_syn/dt`` for one ``dt`` (so ``r > 1``); it exports no IF;
* Sinabs: ``r = 1`` and ``τ`` in steps (``τ ≥ 1``, ``dt = 1``); its exporter writes no CubaLIF (it drops
  ``tau_syn``);
* Norse: ``r = 1``, ``w_in = 1`` and ``τ·dt`` written as ``τ`` (every ``τ`` below 1e-4 s at its 1 ms tick);
* Rockpool: ``r = τ·e^(−dt/τ)/dt`` for one ``dt``;
* Spyx: ``r = β = 1 − dt/τ`` at ``dt = 1``.

Decision (:func:`detect`): without any signature the file is not recognised and is read as
``nir-euler``, NIR's literal reading and the former default (hand-built graphs keep their behaviour).
Otherwise the candidates are the frameworks a signature points to minus every framework a clue rules
out; one left is the answer; several left are narrowed to those a parameter pattern confirms; still
several is an :class:`AmbiguousProfileError` listing them and how to pass one; none left is read as
``nir-euler`` and said so. Spyx has no profile of its own: it gets the one the conformance suite
documents (``snntorch`` at ``dt = 1``) with a caveat, as do frameworks whose options the file does not
carry (snnTorch's reset, Sinabs' spike_fn, Rockpool's spikes per step).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from aedc.errors import AmbiguousProfileError
from aedc.frontend.nir_reader import NIRImportWarning, RawGraph, RawNode
from aedc.frontend.nir_structure import FlatGraph
from aedc.ir.options import Semantics

FRAMEWORKS = ("snntorch", "sinabs", "norse", "rockpool", "spyx")
"""Frameworks whose NIR exports aedc recognises (those of the conformance suite)."""

PROFILE_FOR: Mapping[str, str] = {"snntorch": "snntorch", "sinabs": "sinabs", "norse": "norse",
                                  "rockpool": "rockpool", "spyx": "spyx", "aedc": "as recorded"}
"""The aedc profile that reads each framework's export (tests/data/conformance/README.md)."""

DEFAULT_DT: Mapping[str, float | None] = {"snntorch": None, "sinabs": 1.0, "norse": 1e-3,
                                          "rockpool": 1e-3, "spyx": 1.0, "aedc": None}
"""The tick each framework runs at when the file does not imply one (``None``: the profile's)."""

CAVEAT: Mapping[str, str] = {
    "rockpool": "Rockpool's LIFTorch emits up to 2**16 spikes per step by default (max_spikes_per_dt), "
                "which the file does not record: aedc reads one per tick unless you pass "
                "profile('rockpool', max_spikes=2**16)",
    "spyx": "the spyx profile reads Spyx's LIF, CuBaLIF, IF and PSU_LIF exports as Spyx computes them; "
            "its recurrent exports (RLIF, RCuBaLIF) route the external input through w_rec and feed the "
            "spike back within the step, which aedc does not reproduce (tests/data/conformance/README.md)",
    "snntorch": "snnTorch's reset_mechanism and reset_delay are not in the file: the profile assumes "
                "its defaults (subtract, one tick late); see the README for the other settings",
    "norse": "Norse's exporter writes neither LIFBox's v_reset nor where v starts (Norse starts it at "
             "v_leak, aedc at 0); with those at their defaults the LIFBox/IAF cases are exact (see "
             "tests/data/conformance/README.md)",
    "sinabs": "Sinabs' spike_fn (MultiSpike by default), reset_fn and norm_input are not in the file: "
              "the profile assumes SingleSpike, MembraneSubtract, norm_input=True; see the README",
}

NORSE_QUIRK_TAU = 1e-4
"""Below this every τ (s) of a Norse node is ``τ·dt`` (a true τ under 0.1 s at Norse's 1 ms tick)."""

RTOL = 1e-4
"""Relative agreement of the ``dt`` that different neurons imply (float32 parameters)."""

LEAKY = {"LIF": ("tau",), "LI": ("tau",), "CubaLIF": ("tau_mem", "tau_syn"),
         "CubaLI": ("tau_mem", "tau_syn")}
"""Neuron types with time constants, and their fields (the membrane's first)."""

META_KEYS = ("framework", "exporter", "source_framework")
"""Metadata keys whose value may name the framework (not ``source``: a file path may contain a name)."""

_ROCKPOOL = re.compile(r"^\d+_[A-Za-z]\w*Torch$")
_SPYX = re.compile(r"^layer_\d+(_threshold)?(\.layer_\d+\.(lif|w_rec))?$")
_SEQUENTIAL = re.compile(r"^\d+(\.(lif|w_rec))?$")
_SNNTORCH_RECURRENT = re.compile(r"^\d+\.(lif|w_rec)$")

Kind = Literal["signature", "for", "against"]


class ProfileDetectedWarning(NIRImportWarning):
    """``from_nir(..., profile="auto")`` chose a profile from the file's fingerprints: the message names
    the framework, the profile, the tick and the evidence (also in ``graph.meta``)."""


class QuirkFixWarning(NIRImportWarning):
    """An exporter's known quirk was corrected on import (``fix_quirks``); the message lists what changed."""


@dataclass(frozen=True)
class Clue:
    """One observation: ``signature`` (points to the framework), ``for`` (a parameter pattern that
    confirms it) or ``against`` (rules it out)."""

    framework: str
    kind: Kind
    text: str
    dt: float | None = None
    metadata: bool = False


@dataclass(frozen=True)
class Detection:
    """The outcome: the framework (``None`` when none is recognised), the profile and tick to read it
    with (``dt=None``: the profile's), and the clues behind it."""

    framework: str | None
    profile: str
    dt: float | None
    evidence: tuple[str, ...]
    caveat: str = ""
    fingerprint: bool = True
    """Whether the file carries any exporter's fingerprint (``False``: a hand-built graph)."""
    semantics: Semantics | None = None
    """The whole semantics, where the file records them (an aedc export)."""

    def summary(self) -> str:
        who = self.framework or "no known exporter"
        dt = f", dt={self.dt:g}" if self.dt is not None else ""
        return f"{self.profile}{dt} ({who}: {'; '.join(self.evidence)})"


def _arrays(node: RawNode) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, np.float64).ravel() for k, v in node.fields.items() if isinstance(v, np.ndarray)}


def _common(values: list[np.ndarray]) -> float | None:
    """The one positive finite value all of ``values`` agree on (within :data:`RTOL`), if any."""
    if not values:
        return None
    v = np.concatenate(values)
    if v.size == 0 or not np.all(np.isfinite(v) & (v > 0)) or v.max() - v.min() > RTOL * v.max():
        return None
    return float(f"{float(np.median(v)):.6g}")


def _rockpool_dt(r: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Solve ``r·dt/τ = e^(−dt/τ)`` for ``dt`` (Newton on ``x = dt/τ``; the left side increases, the
    right decreases: one root)."""
    x = 1.0 / (r + 1.0)
    with np.errstate(all="ignore"):
        for _ in range(30):
            x = x - (r * x - np.exp(-x)) / (r + np.exp(-x))
    return np.asarray(x * tau, np.float64)


def _names(flat: FlatGraph) -> list[Clue]:
    inner = [n for n, node in flat.nodes.items() if node.type not in ("Input", "Output")]
    ports = [n for n, node in flat.nodes.items() if node.type in ("Input", "Output")]
    if not inner:
        return []
    if any(_ROCKPOOL.match(n) for n in inner):
        example = next(n for n in sorted(inner) if _ROCKPOOL.match(n))
        return [Clue("rockpool", "signature", f"node names like '{example}' (Rockpool's <i>_<Module>Torch)")]
    if all(_SPYX.match(n) for n in inner):
        return [Clue("spyx", "signature", f"node names {_few(inner)} (Spyx's layer_<i>)")]
    if all(_SEQUENTIAL.match(n) for n in inner) and all(p in ("input", "output") for p in ports):
        text = f"node names {_few(inner)} and input/output (a torch.nn.Sequential's indices)"
        clues = [Clue(f, "signature", text) for f in ("snntorch", "sinabs", "norse")]
        rec = sorted(n for n in inner if _SNNTORCH_RECURRENT.match(n))
        if rec:
            clues.append(Clue("snntorch", "for", f"recurrent subgraph '{rec[0]}' (snnTorch's RLeaky/"
                                                 f"RSynaptic export: <i>.lif, <i>.w_rec)"))
            clues += [Clue(f, "against", f"'{rec[0]}' is snnTorch's recurrent naming")
                      for f in ("sinabs", "norse")]
        return clues
    return []


def _few(names: list[str]) -> str:
    s = sorted(names)
    return ", ".join(s[:3]) + (", …" if len(s) > 3 else "")


def _param_shape(node: RawNode) -> tuple[int, ...] | None:
    shapes = [v.shape for k, v in node.fields.items() if isinstance(v, np.ndarray) and k != "weight"]
    return tuple(int(s) for s in np.broadcast_shapes(*shapes)) if shapes else None


def _batch_axis(flat: FlatGraph) -> bool | None:
    """Whether the ports keep a leading batch axis of 1 (``None``: the shapes cannot tell)."""
    seen: list[bool] = []
    for name, node in flat.nodes.items():
        shape = node.fields.get("shape")
        if not isinstance(shape, tuple) or not shape:
            continue
        if node.type == "Input":
            for succ in flat.succs(name):
                w = flat.nodes[succ].fields.get("weight")
                kind = flat.nodes[succ].type
                if not isinstance(w, np.ndarray):
                    continue
                rank = {"Affine": 1, "Linear": 1, "Conv1d": 2, "Conv2d": 3}.get(kind)
                if rank is not None and len(shape) in (rank, rank + 1):
                    seen.append(len(shape) == rank + 1 and shape[0] == 1)
        elif node.type == "Output":
            for pred in flat.preds(name):
                if flat.nodes[pred].type not in (*LEAKY, "IF", "I", "Threshold"):
                    continue
                inner = _param_shape(flat.nodes[pred])
                if inner is None:
                    continue
                extra = len(shape) - len(inner)
                seen.append(extra > 0 and tuple(shape[extra:]) == inner and set(shape[:extra]) == {1})
    return None if not seen else all(seen)


def _shapes(flat: FlatGraph) -> list[Clue]:
    batch = _batch_axis(flat)
    if batch is None:
        return []
    if batch:
        text = "a leading batch axis of 1 in the Input/Output shapes"
        return ([Clue(f, "for", text) for f in ("norse", "rockpool")]
                + [Clue(f, "against", f"{text} (its exporter drops it)") for f in ("snntorch", "sinabs",
                                                                                    "spyx")])
    return [Clue("norse", "against", "no batch axis in the Input/Output shapes (Norse keeps it)")]


def _parameters(flat: FlatGraph) -> list[Clue]:
    leaky = {n: node for n, node in flat.nodes.items() if node.type in LEAKY}
    types = {node.type for node in flat.nodes.values()}
    clues: list[Clue] = []
    if types & {"IF", "I"}:
        clues.append(Clue("snntorch", "against", "IF/I nodes (snnTorch exports Leaky/Synaptic only)"))
    if "CubaLIF" in types:
        clues.append(Clue("sinabs", "against", "CubaLIF nodes (Sinabs exports LIF, dropping tau_syn)"))
    if not leaky:
        return clues
    f = {n: a for n, node in leaky.items()
         if all(k in (a := _arrays(node)) and a[k].size for k in ("r", *LEAKY[node.type]))}
    if not f:  # no usable parameters (empty or missing arrays): the importer reports those
        return clues
    r = np.concatenate([a["r"] for a in f.values()])
    w_in = np.concatenate([a.get("w_in", np.ones(1)) for a in f.values()])
    taus = np.concatenate([a[k] for n, a in f.items() for k in LEAKY[leaky[n].type]])
    mem = {n: a[LEAKY[leaky[n].type][0]] for n, a in f.items()}
    ones = bool(np.all(r == 1.0) and np.all(w_in == 1.0))
    # snnTorch: r = τ_mem/dt, w_in = τ_syn/dt
    with np.errstate(divide="ignore", invalid="ignore"):  # r = 0 or w_in = 0: no dt fits (inf/nan)
        dts = [mem[n] / a["r"] for n, a in f.items()]
        dts += [a["tau_syn"] / a["w_in"] for a in f.values() if "tau_syn" in a and "w_in" in a]
    dt = _common(dts)
    if dt is not None and np.all(r > 1.0):
        clues.append(Clue("snntorch", "for", f"r = τ/dt (and w_in = τ_syn/dt) for dt = {dt:g} s", dt))
    else:
        clues.append(Clue("snntorch", "against", "r ≠ τ_mem/dt for one dt > 0 (snnTorch writes r = τ/dt)"))
    # Norse: r = 1 and τ·dt as τ; Sinabs: r = 1, τ in steps
    if ones and taus.max() < NORSE_QUIRK_TAU:
        clues.append(Clue("norse", "for", f"r = 1, w_in = 1 and every τ below {NORSE_QUIRK_TAU:g} s "
                                          f"(Norse writes τ·dt as τ: τ = {taus.min():.4g} s)"))
    if not ones:
        clues += [Clue(fw, "against", "r ≠ 1 (its exporter writes r = 1)") for fw in ("sinabs", "norse")]
    if taus.min() < 1.0:
        clues.append(Clue("sinabs", "against", f"τ = {taus.min():.4g} < 1 step (Sinabs' τ is in steps)"))
    elif ones:
        clues.append(Clue("sinabs", "for", f"r = 1 and τ ≥ 1 ({taus.min():.4g}…{taus.max():.4g}: time in "
                                           f"steps, dt = 1)", 1.0))
    # Rockpool: r = τ·e^(−dt/τ)/dt
    rdt = _common([_rockpool_dt(a["r"], mem[n]) for n, a in f.items()])
    if rdt is not None and not ones:
        clues.append(Clue("rockpool", "for", f"r = τ·e^(−dt/τ)/dt for dt = {rdt:g} s", rdt))
    else:
        clues.append(Clue("rockpool", "against", "r ≠ τ·e^(−dt/τ)/dt for one dt"))
    # Spyx: r = β = 1 − dt/τ (dt = 1)
    with np.errstate(all="ignore"):
        sdt = _common([mem[n] * (1.0 - a["r"]) for n, a in f.items() if leaky[n].type in ("LIF", "CubaLIF")])
    if sdt is not None:
        clues.append(Clue("spyx", "for", f"r = β = 1 − dt/τ for dt = {sdt:g}", sdt))
    elif any(leaky[n].type in ("LIF", "CubaLIF") for n in f):
        clues.append(Clue("spyx", "against", "r ≠ 1 − dt/τ (Spyx writes r = β)"))
    return clues


def _metadata(raw: RawGraph) -> list[Clue]:
    found: list[Clue] = []
    for where, meta in [("graph", raw.metadata), *((f"node '{n}'", node.metadata)
                                                   for n, node in sorted(raw.nodes.items()))]:
        for key in META_KEYS:
            value = str(meta.get(key, "")).strip().lower()
            name = "aedc" if value == "aedc" else next((f for f in FRAMEWORKS if f in value), None)
            if name is not None:
                found.append(Clue(name, "signature", f"{where} metadata {key} = {meta[key]!r}",
                                  metadata=True))
    return found


def clues(raw: RawGraph, flat: FlatGraph) -> list[Clue]:
    """Every clue in ``raw`` (its flattened form ``flat``), in a fixed order."""
    return [*_metadata(raw), *_names(flat), *_shapes(flat), *_parameters(flat)]


def _aedc_semantics(raw: RawGraph) -> tuple[Semantics | None, str]:
    """The semantics aedc's ``to_nir`` recorded, and what the evidence says about them."""
    text = str(raw.metadata.get("aedc_semantics", ""))
    try:
        return Semantics.model_validate_json(text), "the semantics aedc recorded"
    except ValueError:
        return None, ("no readable aedc_semantics (another aedc version?): NIR's literal reading"
                      if text else "no aedc_semantics recorded: NIR's literal reading")


def detect(raw: RawGraph, flat: FlatGraph) -> Detection:
    """The framework that wrote ``raw`` and the profile/tick to read it with (module docstring)."""
    found = clues(raw, flat)
    meta = [c for c in found if c.metadata]
    named = sorted({c.framework for c in meta})
    if len(named) == 1:
        if named[0] == "aedc":
            sem, how = _aedc_semantics(raw)
            return Detection("aedc", sem.profile if sem else "nir-euler", sem.dt if sem else None,
                             (*(c.text for c in meta), how), semantics=sem)
        return _result(named[0], found, named)
    if len(named) > 1:
        raise _ambiguous(raw, named, found)
    signed = sorted({c.framework for c in found if c.kind == "signature"},
                    key=FRAMEWORKS.index)
    if not signed:
        return Detection(None, "nir-euler", None, ("no exporter fingerprint (node names, metadata or "
                                                   "batch axis): NIR's literal reading",),
                         fingerprint=False)
    ruled = {c.framework for c in found if c.kind == "against"}
    left = [f for f in signed if f not in ruled]
    if len(left) > 1:
        confirmed = [f for f in left if any(c.framework == f and c.kind == "for" for c in found)]
        left = confirmed or left
    if len(left) > 1:
        raise _ambiguous(raw, left, found)
    if not left:
        why = [f"not {f}: {', '.join(c.text for c in found if c.kind == 'against' and c.framework == f)}"
               for f in signed]
        return Detection(None, "nir-euler", None, ("a framework's fingerprint, but every candidate is "
                                                   "ruled out", *why))
    return _result(left[0], found, signed)


def _result(framework: str, found: list[Clue], signed: list[str]) -> Detection:
    mine = [c for c in found if c.framework == framework and c.kind != "against"]
    dt = next((c.dt for c in mine if c.kind == "for" and c.dt is not None), DEFAULT_DT[framework])
    ruled: dict[str, list[str]] = {}
    for c in found:
        if c.kind == "against" and c.framework != framework and c.framework in signed:
            ruled.setdefault(c.framework, []).append(c.text)
    others = [f"not {f}: {', '.join(dict.fromkeys(texts))}" for f, texts in ruled.items()]
    return Detection(framework, PROFILE_FOR[framework], dt,
                     tuple(dict.fromkeys([c.text for c in mine if c.kind != "against"] + others)),
                     CAVEAT.get(framework, ""))


def _ambiguous(raw: RawGraph, left: list[str], found: list[Clue]) -> AmbiguousProfileError:
    lines = []
    for f in left:
        why = "; ".join(c.text for c in found if c.framework == f and c.kind != "against")
        lines.append(f"  {f} (profile '{PROFILE_FOR.get(f, f)}'): {why}")
    return AmbiguousProfileError(
        f"{raw.source}: cannot tell which framework wrote this NIR graph; it fits {', '.join(left)}:\n"
        + "\n".join(lines) + "\npass the profile: from_nir(path, profile='"
        + PROFILE_FOR.get(left[0], left[0]) + "') or `aedc inspect|compile FILE --profile NAME` "
        "(profiles: nir-euler, snntorch, sinabs, norse)", where=raw.source)


def fix_norse_tau(flat: FlatGraph, dt: float) -> tuple[FlatGraph, tuple[str, ...]]:
    """Undo Norse's τ·dt export quirk: every LIF/CubaLIF/LI/CubaLI node whose time constants are all
    below one tick ``dt`` gets them divided by ``dt``, rounded to 6 significant digits (the float32 file
    holds ~7; Norse's own τ is ``1/tau_inv``, e.g. 1e-5 s / 1e-3 = 0.01 s). A τ below one tick is an
    unstable Euler step under any reading, so a node that is not Norse's is never made worse.

    Returns the corrected graph and one line per changed node (``"'1' (LIF) tau 1e-05 → 0.01 s"``).
    """
    nodes = dict(flat.nodes)
    changed: list[str] = []
    for name, node in sorted(flat.nodes.items()):
        keys = LEAKY.get(node.type, ())
        values = {k: node.fields[k] for k in keys if isinstance(node.fields.get(k), np.ndarray)}
        if not values or len(values) != len(keys):
            continue
        arrays = {k: np.asarray(v, np.float64) for k, v in values.items()}
        if not all(a.size and np.all(np.isfinite(a) & (a > 0) & (a < dt)) for a in arrays.values()):
            continue
        fields = dict(node.fields)
        parts = []
        for k, a in arrays.items():
            new = np.vectorize(lambda x: float(f"{x:.6g}"))(a / dt)
            v = values[k]
            assert isinstance(v, np.ndarray)
            fields[k] = new.astype(v.dtype)
            parts.append(f"{k} {_span(a)} → {_span(new)} s")
        nodes[name] = RawNode(type=node.type, fields=fields, subgraph=node.subgraph, metadata=node.metadata)
        changed.append(f"'{name}' ({node.type}) " + ", ".join(parts))
    return FlatGraph(nodes=nodes, edges=flat.edges), tuple(changed)


def _span(a: np.ndarray) -> str:
    lo, hi = float(a.min()), float(a.max())
    return f"{lo:.4g}" if lo == hi else f"{lo:.4g}…{hi:.4g}"
