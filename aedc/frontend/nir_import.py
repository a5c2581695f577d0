"""``from_nir``: a NIR model (file, ``nir.NIRGraph`` or raw graph) → a verified aedc IR graph.

The raw IR convention other stages rely on:

* every NIR neuron node (LIF, CubaLIF, IF, LI, CubaLI, I, Threshold) becomes one population of the same
  name, parameters float32 and broadcast to its shape, ``bias`` zero, ``event_rule`` ``binary`` if it
  spikes else ``graded``, ``meta = {"nir_type": <type>}``; missing ``v_reset`` → 0, ``w_in`` → 1;
* an ``Input`` node becomes an input population (``event_rule = input_event_rule``);
* an ``Output`` node becomes ``graph.outputs[<output>] = <population feeding it>``; when several nodes
  feed it, a pass-through (``LinearModel``) population named after it sums them (``nir_type`` Output);
* every linear-op node (Affine, Linear, Conv1d/2d, Sum/AvgPool2d, Scale, Delay, Flatten) becomes a
  pass-through ``LinearModel`` population (``graded``, bias = Affine/conv bias, else 0) plus, for each
  incoming edge ``src → node``, one projection carrying the op, named after the node (or
  ``"node[src]"`` when it has several inputs): Dense for Affine/Linear (block-diagonal Sparse when NIR
  applies the weight to the last axis of a multi-dimensional input), Conv1d/Conv2d, Pool2d, OneToOne
  for Scale, Identity with ``delay`` ticks for Delay, Identity for Flatten (whose population also keeps
  ``meta["start_dim"]``/``meta["end_dim"]`` for export);
* every other edge is an Identity projection ``"src->dst"``; on each cycle one edge is a back-edge: the
  one leaving the loop's last neuron before the edge that closes it (see
  :mod:`aedc.frontend.nir_structure`), so ``lif → w_rec → lif`` cuts ``lif → w_rec`` and the Affine's
  bias applies from tick 0.

Populations are in topological order (ties by name), projections by (post, pre, name). Shapes are
inferred here (:mod:`aedc.frontend.nir_ops`); stored NIR shapes only give the shape of an Input.

``dt``: the given one, else for ``profile="snntorch"`` the tick that makes ``r·dt/τ_mem = 1`` and
``w_in·dt/τ_syn = 1`` for every LIF/LI/CubaLIF/CubaLI parameter (snnTorch's export writes exactly these;
taken when all agree within 1e-5 relative, rounded to 6 significant digits), else for ``profile="auto"``
the tick the recognised framework's parameters imply or runs at (:mod:`aedc.frontend.detect`), else the
profile's default. ``graph.meta["dt_source"]`` says which (``argument``, ``inferred``, ``detected``,
``profile``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from aedc.errors import FrontendError, NIRFormatError, UnsupportedNodeError
from aedc.frontend.detect import Detection, ProfileDetectedWarning, QuirkFixWarning, detect, fix_norse_tau
from aedc.frontend.nir_ops import (
    NodeRef,
    Op,
    arr,
    check_population_size,
    elementwise_shape,
    fit,
    op_bias,
    op_for_input,
    size,
)
from aedc.frontend.nir_reader import (
    NIRImportWarning,
    RawGraph,
    RawNode,
    SemanticsWarning,
    raw_from_nir,
    read_nir,
)
from aedc.frontend.nir_schema import LINEAR_OP_TYPES, NEURON_TYPES, SCHEMA
from aedc.frontend.nir_structure import Edge, FlatGraph, back_edges, flatten, recurrent_cuts, topo_order
from aedc.ir.connectivity import Identity, Shape
from aedc.ir.graph import EventRule, Graph, Population, Projection
from aedc.ir.neurons import NEURON_MODELS, InputModel, LinearModel, NeuronModel
from aedc.ir.options import Semantics
from aedc.ir.options import profile as make_profile
from aedc.ir.verify import discretisation_warnings, verify

if TYPE_CHECKING:
    import nir

MODEL_FOR_NIR: dict[str, type[NeuronModel]] = {
    cls.NIR_TYPE: cls for cls in NEURON_MODELS.values() if cls.NIR_TYPE and cls.NIR_TYPE != "Input"}
"""NIR neuron type → IR neuron model (field names are the IR parameter names)."""

PARAM_DEFAULTS = {"v_reset": 0.0, "w_in": 1.0, "bias": 0.0}
"""Values of parameters older NIR files omit (NIR's own defaults)."""

STATEFUL_TYPES = tuple(t for t in NEURON_TYPES if t != "Threshold")
"""NIR neuron types with state: a recurrent loop is cut on the edge leaving one of them."""

DELAY_RTOL = 1e-6
"""A Delay further than this (relative) from a whole number of ticks is rounded with a warning."""


def _load(source: object) -> tuple[RawGraph, str]:
    if isinstance(source, RawGraph):
        return source, "nir"
    if isinstance(source, str | Path):
        return read_nir(source), Path(source).stem
    return raw_from_nir(source), "nir"


def snntorch_dt(flat: FlatGraph) -> float | None:
    """The dt an snnTorch export implies (``r·dt/τ_mem = 1``, ``w_in·dt/τ_syn = 1``), if consistent."""
    ratios: list[np.ndarray] = []
    with np.errstate(all="ignore"):
        for node in flat.nodes.values():
            f = {k: np.asarray(v, np.float64) for k, v in node.fields.items() if isinstance(v, np.ndarray)}
            if node.type in ("LIF", "LI"):
                ratios.append(f["tau"] / f["r"])
            elif node.type in ("CubaLIF", "CubaLI"):
                ratios += [f["tau_mem"] / f["r"], f["tau_syn"] / f.get("w_in", np.float64(1.0))]
    if not ratios:
        return None
    values = np.concatenate([np.ravel(r) for r in ratios])
    if not np.all(np.isfinite(values) & (values > 0)):
        return None
    if values.max() - values.min() > 1e-5 * values.max():
        return None
    return float(f"{float(np.median(values)):.6g}")


def _semantics(profile: str | Semantics, dt: float | None, flat: FlatGraph,
               detection: Detection | None) -> tuple[Semantics, str]:
    """The semantics and where their ``dt`` came from (``argument``, ``detected``, ``inferred``,
    ``profile``)."""
    if detection is not None:
        profile = detection.semantics or detection.profile
    if dt is not None:
        source = "argument"
    elif detection is not None and detection.dt is not None:
        dt, source = detection.dt, "detected"
    elif profile == "snntorch":
        dt = snntorch_dt(flat)
        source = "profile" if dt is None else "inferred"
    else:
        source = "profile"
    if isinstance(profile, Semantics):
        return (profile if dt is None else profile.evolve(dt=dt)), source
    return make_profile(profile, dt=dt), source


def _check_discretisation(graph: Graph, strict: bool) -> None:
    """Warn (or, ``strict``, raise) for what :func:`aedc.ir.verify.discretisation_warnings` finds."""
    found = discretisation_warnings(graph)
    if strict and found:
        raise FrontendError("strict import refused graph '" + graph.name + "':\n  "
                            + "\n  ".join(msg for _, msg in found), where=found[0][0])
    for _, msg in found:
        warnings.warn(msg, SemanticsWarning, stacklevel=3)


def _delay_ticks(name: str, node: RawNode, dt: float) -> int:
    seconds = np.asarray(arr(node.fields, "delay"), np.float64)
    exact = seconds / dt
    ticks = np.rint(exact)
    if ticks.size and np.unique(ticks).size > 1:
        raise UnsupportedNodeError(
            f"node '{name}' (Delay): delays range over {int(ticks.min())}..{int(ticks.max())} ticks at "
            f"dt={dt}; aedc supports one delay per Delay node (split it into several Delay nodes)",
            where=name)
    if np.any(np.abs(exact - ticks) > DELAY_RTOL * np.abs(exact)):
        warnings.warn(f"node '{name}' (Delay): {float(seconds.ravel()[0])} s is not a whole number of "
                      f"ticks at dt={dt}; rounded to {int(ticks.ravel()[0])} ticks",
                      NIRImportWarning, stacklevel=3)
    return int(ticks.ravel()[0]) if ticks.size else 0


def _check_ports(flat: FlatGraph) -> None:
    for name, node in flat.nodes.items():
        if node.type == "Input" and flat.preds(name):
            raise NIRFormatError(f"node '{name}' (Input) receives an edge from '{flat.preds(name)[0]}'",
                                 where=name)
        if node.type == "Output" and flat.succs(name):
            raise NIRFormatError(f"node '{name}' (Output) sends an edge to '{flat.succs(name)[0]}'",
                                 where=name)
        if node.type == "Output" and not flat.preds(name):
            raise NIRFormatError(f"node '{name}' (Output) is fed by no node", where=name)


def _check_algebraic_loops(flat: FlatGraph, zero_latency: list[Edge], ticks: Mapping[str, int]) -> None:
    """A cycle of stateless nodes only (no neuron, no Delay) is an equation, not a network."""
    stateless = {n for n, node in flat.nodes.items()
                 if (node.type in (*LINEAR_OP_TYPES, "Threshold", "Output")) and not ticks.get(n, 0)}
    loops = back_edges(stateless, [(s, d) for s, d in zero_latency if s in stateless and d in stateless],
                       ())
    if loops:
        cycle = loops[min(loops)]
        raise NIRFormatError(f"cycle without a delay: {' -> '.join(cycle)}; every loop needs a neuron or "
                             f"a Delay node on it", where=cycle[0])


def _param_shape(node: RawNode) -> Shape:
    shapes = [v.shape for k, v in node.fields.items() if isinstance(v, np.ndarray) and k in SCHEMA[node.type]]
    return tuple(int(s) for s in np.broadcast_shapes(*shapes)) if shapes else ()


class _Importer:
    """One import: flat graph + semantics → shapes → populations and projections."""

    def __init__(self, flat: FlatGraph, dt: float) -> None:
        self.flat = flat
        self.ticks = {n: _delay_ticks(n, node, dt) for n, node in sorted(flat.nodes.items())
                      if node.type == "Delay"}
        _check_ports(flat)
        self.zero_latency = [e for e in flat.edges if not self.ticks.get(e[1], 0)]
        inputs = [n for n, node in flat.nodes.items() if node.type == "Input"]
        stateful = [n for n, node in flat.nodes.items() if node.type in STATEFUL_TYPES]
        self.back = set(recurrent_cuts(flat.nodes, self.zero_latency, inputs, stateful))
        _check_algebraic_loops(flat, self.zero_latency, self.ticks)
        self.order = topo_order(flat.nodes, [e for e in self.zero_latency if e not in self.back])
        self.shapes = self._infer_shapes()

    def ref(self, name: str) -> NodeRef:
        return NodeRef(name, self.flat.nodes[name].type)

    def preds(self, name: str) -> list[str]:
        """Predecessors, forward edges first, each group by name."""
        return sorted(self.flat.preds(name), key=lambda p: ((p, name) in self.back, p))

    def _op(self, name: str, in_shape: Shape) -> Op:
        node = self.flat.nodes[name]
        return op_for_input(self.ref(name), node.fields, in_shape, self.ticks.get(name, 0))

    def _shape_of(self, name: str, known: dict[str, Shape]) -> Shape | None:
        node = self.flat.nodes[name]
        inputs = [known[p] for p in self.preds(name) if p in known]
        first = inputs[0] if inputs else None
        if node.type == "Input":
            shape = node.fields["shape"]
            assert isinstance(shape, tuple)
            return shape
        if node.type in NEURON_TYPES or (node.type in ("Scale", "Delay") and first is None):
            return elementwise_shape(self.ref(name), _param_shape(node), first)
        if first is None:
            return None
        return first if node.type == "Output" else self._op(name, first).out_shape

    def _infer_shapes(self) -> dict[str, Shape]:
        known: dict[str, Shape] = {}
        pending = list(self.order)
        while pending:
            for n in pending:
                shape = self._shape_of(n, known)
                if shape is not None:
                    known[n] = shape
            if all(n not in known for n in pending):
                raise NIRFormatError(f"cannot infer the shape of node '{pending[0]}' "
                                     f"({self.flat.nodes[pending[0]].type}): none of its inputs has a "
                                     f"known shape", where=pending[0])
            pending = [n for n in pending if n not in known]
        return known

    def _identity(self, pre: str, post: str) -> Projection:
        a, b = self.shapes[pre], self.shapes[post]
        if size(a) != size(b):
            raise NIRFormatError(f"edge '{pre}' -> '{post}': '{pre}' gives shape {a} ({size(a)} values), "
                                 f"'{post}' has shape {b} ({size(b)} values)", where=post)
        return Projection(name=f"{pre}->{post}", pre=pre, post=post, conn=Identity(),
                          back_edge=(pre, post) in self.back)

    def _op_projections(self, name: str) -> list[Projection]:
        node, preds, out = self.flat.nodes[name], self.preds(name), self.shapes[name]
        projs = []
        for pre in preds:
            op = self._op(name, self.shapes[pre])
            if op.out_shape != out:
                raise self.ref(name).error(f"input '{pre}' gives output shape {op.out_shape}, its other "
                                           f"inputs give {out}; inputs of one node must agree")
            projs.append(Projection(name=name if len(preds) == 1 else f"{name}[{pre}]", pre=pre,
                                    post=name, conn=op.conn, delay=op.delay,
                                    back_edge=(pre, name) in self.back, meta={"nir_type": node.type}))
        return projs

    def _population(self, name: str, input_rule: EventRule) -> Population:
        node, shape = self.flat.nodes[name], self.shapes[name]
        meta = {"nir_type": node.type}
        if node.type == "Flatten":  # kept so that export writes the dims the file had (-1 stays -1)
            meta |= {"start_dim": str(node.fields["start_dim"]), "end_dim": str(node.fields["end_dim"])}
        if node.type == "Input":
            return Population(name=name, shape=shape, neuron=InputModel(), event_rule=input_rule,
                              meta=meta)
        check_population_size(name, shape, f"node '{name}' ({node.type})")
        if node.type in MODEL_FOR_NIR:
            cls = MODEL_FOR_NIR[node.type]
            params = {p: fit(arr(node.fields, p) if p in node.fields
                             else np.asarray(PARAM_DEFAULTS[p], np.float32), shape) for p in cls.PARAMS}
            params["bias"] = np.zeros(shape, np.float32)
            return Population(name=name, shape=shape, neuron=cls.model_validate(params),
                              event_rule="binary" if cls.SPIKING else "graded", meta=meta)
        bias = (np.zeros(shape, np.float32) if node.type == "Output"
                else op_bias(node.type, node.fields, shape))
        return Population(name=name, shape=shape, neuron=LinearModel(bias=bias), event_rule="graded",
                          meta=meta)

    def build(self, input_rule: EventRule) -> tuple[list[Population], list[Projection], dict[str, str]]:
        pops: list[Population] = []
        projs: list[Projection] = []
        outputs: dict[str, str] = {}
        for name in self.order:
            node, preds = self.flat.nodes[name], self.preds(name)
            if node.type == "Output" and len(preds) == 1:
                outputs[name] = preds[0]
                continue
            pops.append(self._population(name, input_rule))
            if node.type == "Output":
                outputs[name] = name
            if node.type in LINEAR_OP_TYPES:
                projs += self._op_projections(name)
            else:
                projs += [self._identity(pre, name) for pre in preds]
        index = {p.name: i for i, p in enumerate(pops)}
        projs.sort(key=lambda p: (index[p.post], index[p.pre], p.name))
        return pops, projs, outputs


def from_nir(source: str | Path | nir.NIRGraph | RawGraph, *, profile: str | Semantics = "auto",
             dt: float | None = None, input_event_rule: EventRule = "graded",
             name: str | None = None, strict: bool = False, fix_quirks: bool | None = None) -> Graph:
    """Import a NIR model as a verified IR graph under the discrete-time semantics ``profile``.

    ``source`` is a ``.nir`` file path, a ``nir.NIRGraph`` or a :class:`RawGraph`. ``profile`` is a
    preset's name (:data:`aedc.ir.options.PROFILES`), a whole :class:`Semantics` (e.g.
    ``profile("snntorch", reset="zero", reset_recheck=True)``) or ``"auto"`` (the default): the
    framework that wrote the file is recognised by its fingerprints (:mod:`aedc.frontend.detect`) and
    its profile and tick used, with a :class:`ProfileDetectedWarning` saying which and why (also in
    ``graph.meta``: ``framework``, ``profile_evidence``); a graph with no exporter's fingerprint is
    read as ``nir-euler`` without a warning, and one that fits several frameworks raises
    :class:`~aedc.errors.AmbiguousProfileError` listing them. An explicit profile is used as
    given. ``dt`` overrides the tick (see the module docstring for snnTorch inference).

    ``fix_quirks`` corrects known exporter quirks — so far Norse's τ·dt written as τ
    (:func:`~aedc.frontend.detect.fix_norse_tau`: each neuron node whose time constants are all below
    one tick gets them divided by ``dt``) — with a :class:`QuirkFixWarning` listing every change and
    ``graph.meta["quirks_fixed"]``. ``None`` (default) fixes them when ``"auto"`` recognised Norse,
    ``True`` always, ``False`` never.

    Raises :class:`~aedc.errors.NIRFormatError` / :class:`~aedc.errors.UnsupportedNodeError` naming
    the node, and lets the verifier's :class:`~aedc.errors.VerifyError` (e.g. ``tau <= 0``) through
    unchanged. Time constants that are valid but almost certainly wrong (an unstable Euler step
    ``dt/τ >= 1``, the ``τ·dt`` that Norse's export writes) give a :class:`SemanticsWarning` naming the
    population and the likely fix; ``strict=True`` raises :class:`~aedc.errors.FrontendError` with
    every such message instead.
    """
    if input_event_rule not in ("binary", "graded"):
        raise FrontendError(f"input_event_rule must be 'binary' or 'graded', got {input_event_rule!r}")
    if dt is not None and not (np.isfinite(dt) and dt > 0):
        raise FrontendError(f"dt must be a positive number of seconds, got {dt!r}")
    raw, default_name = _load(source)
    flat = flatten(raw)
    detection = detect(raw, flat) if isinstance(profile, str) and profile == "auto" else None
    semantics, dt_source = _semantics(profile, dt, flat, detection)
    meta = {"source": raw.source, "nir_version": raw.version or "unknown", "dt_source": dt_source}
    if detection is not None:
        meta |= {"framework": detection.framework or "unknown",
                 "profile_evidence": "; ".join(detection.evidence)}
    fixed: tuple[str, ...] = ()
    if fix_quirks or (fix_quirks is None and detection is not None and detection.framework == "norse"):
        flat, fixed = fix_norse_tau(flat, semantics.dt)
        if fixed:
            meta["quirks_fixed"] = "Norse τ·dt: " + "; ".join(fixed)
    pops, projs, outputs = _Importer(flat, semantics.dt).build(input_event_rule)
    graph = Graph(name=name or default_name, populations=tuple(pops), projections=tuple(projs),
                  outputs=outputs, semantics=semantics, meta=meta)
    verify(graph)
    if detection is not None and detection.fingerprint:
        who = (f"written by {detection.framework}" if detection.framework
               else "not recognised as any framework's export")
        warnings.warn(f"{raw.source}: {who}; reading it with profile '{semantics.profile}' at dt="
                      f"{semantics.dt:g} s. Evidence: {'; '.join(detection.evidence)}."
                      + (f" Note: {detection.caveat}." if detection.caveat else "")
                      + " Pass profile=... (aedc: --profile) to choose another.",
                      ProfileDetectedWarning, stacklevel=2)
    if fixed:
        warnings.warn(f"{raw.source}: corrected Norse's τ·dt export quirk (time constants written as "
                      f"τ·dt; divided by dt = {semantics.dt:g} s): {'; '.join(fixed)}. Pass "
                      f"fix_quirks=False to keep the file's values.", QuirkFixWarning, stacklevel=2)
    _check_discretisation(graph, strict)
    return graph
