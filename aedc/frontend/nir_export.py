"""``to_nir`` / ``write_nir``: an IR graph → a ``nir.NIRGraph`` (flat, dotted names kept).

The inverse of :func:`~aedc.frontend.nir_import.from_nir` on its raw convention, and a best effort for
graphs that passes have changed:

* a pass-through ``LinearModel`` population whose ``meta["nir_type"]`` names a linear op and whose
  incoming projections all carry that same op becomes that NIR node (weight, bias, conv parameters,
  Delay seconds = ticks·dt, Flatten dims), fed by one edge per projection;
* a neuron population becomes its NIR neuron node; input populations become ``Input`` nodes and
  ``graph.outputs`` ``Output`` nodes; any other pass-through population becomes a ``Scale`` of ones;
* every other projection becomes its own node named after the projection — Linear/Affine (dense or
  sparse weights as a dense matrix), Conv, SumPool/AvgPool, Scale — or a plain edge for an identity; a
  delay adds a ``Delay`` node (``"<projection>#delay"``). Back-edges are plain NIR edges;
* NIR neurons have no bias: a non-zero population bias is moved into one incoming dense/conv projection
  (without delay) as its Affine/Conv bias, or :class:`~aedc.errors.UnsupportedNodeError` says why not.

The graph's ``metadata`` records ``exporter = "aedc"`` and the semantics (JSON, at the written ``dt``):
``from_nir(path)`` (``profile="auto"``) reads an aedc export back with the semantics it had.

Options for importers that read NIR differently (``tests/test_conformance_export.py``):
``dt=<reader's tick>`` writes the graph for a reader stepping at another tick — every time constant
and delay is scaled by ``dt/graph.semantics.dt`` and ``r``/``w_in`` kept, so ``dt/τ``, ``r·dt/τ`` and
``w_in·dt/τ_syn`` (all a tick of the Euler update uses) are unchanged up to the float32 rounding of the
scaled τ (snnTorch 1.0's
``import_from_nir`` assumes dt = 1e-4 whatever the file); ``li_as_lif=True`` writes LI/CubaLI as
LIF/CubaLIF with ``v_threshold`` = the largest float32 (the same update, never a spike) for importers
without LI nodes (snnTorch 1.0, Norse 1.1).

Nesting is not rebuilt: a flattened ``sub.lif`` stays one node called ``sub.lif``, so importing the
export gives the same population names. Conv/pool padding must be symmetric per axis unless the conv
kept NIR's ``'same'``/``'valid'`` string.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aedc.errors import UnsupportedNodeError
from aedc.frontend.nir_ops import block_diagonal, flatten_shape, size
from aedc.frontend.nir_schema import LINEAR_OP_TYPES
from aedc.ir.connectivity import Conv1d, Conv2d, Dense, Identity, OneToOne, Pool2d, Shape, Sparse
from aedc.ir.graph import Graph, Population, Projection
from aedc.ir.neurons import TIME_CONSTANTS, InputModel, LinearModel

if TYPE_CHECKING:
    import nir

LIF_FOR_LI = {"LI": "LIF", "CubaLI": "CubaLIF"}
"""``li_as_lif``: the spiking node with the same update as each leaky integrator."""
NEVER_FIRES = float(np.finfo(np.float32).max)
"""``li_as_lif``'s threshold: the largest float32 (finite, so aedc's verifier reads the file back)."""


def _f32(values: Any, shape: Shape | None = None) -> np.ndarray:
    out = np.array(values, np.float32)
    return out.reshape(shape) if shape is not None else out


def _sparse_matrix(conn: Sparse) -> np.ndarray:
    dense = np.zeros((conn.n_post, conn.n_pre), np.float32)
    dense[np.asarray(conn.post), np.asarray(conn.pre)] = conn.weight
    return dense


def _affine_weight(conn: object, pre: Shape, post: Shape) -> np.ndarray | None:
    """The NIR Affine/Linear weight a projection came from: dense, or one block of a block-diagonal."""
    if isinstance(conn, Dense):
        return _f32(conn.weight)
    if not isinstance(conn, Sparse) or len(pre) < 2 or pre[:-1] != post[:-1]:
        return None
    n_in, n_out, blocks = pre[-1], post[-1], size(pre[:-1])
    first = (np.asarray(conn.pre) < n_in) & (np.asarray(conn.post) < n_out)
    weight = np.zeros((n_out, n_in), np.float32)
    weight[np.asarray(conn.post)[first], np.asarray(conn.pre)[first]] = np.asarray(conn.weight)[first]
    return weight if block_diagonal(weight, blocks) == conn else None


def _rows(bias: np.ndarray, n: int) -> np.ndarray | None:
    """``bias`` as one row of ``n`` values if it repeats that row (Affine bias over leading axes)."""
    flat = np.asarray(bias, np.float32).reshape(-1, n)
    return flat[0].copy() if np.all(flat == flat[:1]) else None


def _channels(bias: np.ndarray, channels: int) -> np.ndarray | None:
    """``bias`` as one value per channel if it is constant over space (a conv bias)."""
    flat = np.asarray(bias, np.float32).reshape(channels, -1)
    return flat[:, 0].copy() if np.all(flat == flat[:, :1]) else None


def _symmetric(padding: tuple[tuple[int, int], ...], where: str) -> tuple[int, ...]:
    if any(a != b for a, b in padding):
        raise UnsupportedNodeError(f"'{where}': padding {padding} is asymmetric; NIR pads both sides of "
                                   f"an axis equally", where=where)
    return tuple(a for a, _ in padding)


def _conv_node(conn: Conv1d | Conv2d, bias: np.ndarray | None, where: str) -> nir.NIRNode:
    import nir

    weight = _f32(conn.weight)
    b = _f32(np.zeros(weight.shape[0]) if bias is None else bias)
    padding: Any = conn.padding_spec or _symmetric(conn.padding, where)
    if isinstance(conn, Conv2d):
        return nir.Conv2d(input_shape=tuple(conn.in_shape[1:]), weight=weight, stride=tuple(conn.stride),
                          padding=padding, dilation=tuple(conn.dilation), groups=conn.groups, bias=b)
    return nir.Conv1d(input_shape=conn.in_shape[1], weight=weight, stride=conn.stride[0],
                      padding=padding if isinstance(padding, str) else padding[0],
                      dilation=conn.dilation[0], groups=conn.groups, bias=b)


def _pool_node(conn: Pool2d, where: str) -> nir.NIRNode:
    import nir

    cls = nir.SumPool2d if conn.mode == "sum" else nir.AvgPool2d
    return cls(kernel_size=np.array(conn.kernel), stride=np.array(conn.stride),
               padding=np.array(_symmetric(conn.padding, where)))


class _Exporter:
    """One export: nodes and edges are collected in graph order, so the result is deterministic."""

    def __init__(self, graph: Graph, dt: float | None = None, li_as_lif: bool = False) -> None:
        self.graph = graph
        self.dt = graph.semantics.dt if dt is None else dt
        self.time_scale = self.dt / graph.semantics.dt
        self.li_as_lif = li_as_lif
        self.pops = graph.pop_map()
        self.nodes: dict[str, nir.NIRNode] = {}
        self.edges: list[tuple[str, str]] = []

    def unique(self, name: str) -> str:
        out, i = name, 1
        while out in self.nodes:
            out, i = f"{name}#{i}", i + 1
        return out

    def delay_node(self, ticks: int, shape: Shape) -> nir.NIRNode:
        import nir

        return nir.Delay(delay=np.full(shape, ticks * self.dt, np.float32))

    # --- populations ------------------------------------------------------------------------------

    def op_node(self, pop: Population, incoming: tuple[Projection, ...]) -> nir.NIRNode | None:
        """The linear-op NIR node a pass-through population stands for, or ``None``."""
        import nir

        kind = pop.meta.get("nir_type", "")
        first = incoming[0] if incoming else None
        if (not isinstance(pop.neuron, LinearModel) or first is None
                or kind not in (*LINEAR_OP_TYPES, "Output")
                or any(p.conn != first.conn or p.delay != first.delay for p in incoming)
                or (first.delay and kind != "Delay")):
            return None
        conn, bias, shape = first.conn, pop.neuron.bias, pop.shape
        pre_shapes = {self.pops[p.pre].shape for p in incoming}
        zero = not np.any(bias)
        where = pop.name
        if kind in ("Affine", "Linear") and len(pre_shapes) == 1:
            weight = _affine_weight(conn, next(iter(pre_shapes)), shape)
            row = None if weight is None else _rows(bias, weight.shape[0])
            if weight is None or row is None:
                return None
            return nir.Linear(weight=weight) if kind == "Linear" and zero else nir.Affine(weight=weight,
                                                                                         bias=row)
        if kind in ("Conv1d", "Conv2d") and isinstance(conn, Conv1d | Conv2d) and conn.kind == kind.lower():
            channel_bias = _channels(bias, shape[0])
            return None if channel_bias is None else _conv_node(conn, channel_bias, where)
        if not zero:
            return None
        if kind in ("SumPool2d", "AvgPool2d") and isinstance(conn, Pool2d) \
                and conn.mode == ("sum" if kind == "SumPool2d" else "avg"):
            return _pool_node(conn, where)
        if kind == "Scale" and isinstance(conn, OneToOne):
            return nir.Scale(scale=_f32(conn.weight, shape))
        if isinstance(conn, Identity) and kind == "Delay":
            return self.delay_node(first.delay, shape)
        if isinstance(conn, Identity) and kind == "Flatten" and len(pre_shapes) == 1:
            pre = next(iter(pre_shapes))
            dims = [(int(pop.meta["start_dim"]), int(pop.meta["end_dim"]))] if "end_dim" in pop.meta else []
            dims += [(lo, hi) for lo in range(len(pre)) for hi in range(lo, len(pre))]
            for lo, hi in dims:
                if flatten_shape(pre, lo, hi) == shape:
                    return nir.Flatten(input_type={"input": np.array(pre)}, start_dim=lo, end_dim=hi)
            return None
        if kind == "Output" and isinstance(conn, Identity) and self.graph.outputs.get(pop.name) == pop.name \
                and not self.graph.outgoing(pop.name):
            return nir.Output(output_type={"output": np.array(shape)})
        return None

    def pop_node(self, pop: Population) -> nir.NIRNode:
        import nir

        neuron = pop.neuron
        if isinstance(neuron, InputModel):
            return nir.Input(input_type={"input": np.array(pop.shape)})
        if isinstance(neuron, LinearModel):
            return nir.Scale(scale=np.ones(pop.shape, np.float32))
        if neuron.NIR_TYPE is None:
            raise UnsupportedNodeError(f"population '{pop.name}': neuron model '{neuron.model}' has no NIR "
                                       f"1.0 node type", where=pop.name)
        params = {p: _f32(getattr(neuron, p), pop.shape) for p in neuron.PARAMS if p != "bias"}
        if self.time_scale != 1.0:
            for p in set(params) & set(TIME_CONSTANTS):
                params[p] = _f32(np.asarray(params[p], np.float64) * self.time_scale)
        kind = neuron.NIR_TYPE
        if self.li_as_lif and kind in LIF_FOR_LI:
            kind = LIF_FOR_LI[kind]
            params |= {"v_threshold": np.full(pop.shape, NEVER_FIRES, np.float32),
                       "v_reset": np.zeros(pop.shape, np.float32)}
        node: nir.NIRNode = getattr(nir, kind)(**params)
        return node

    # --- projections ------------------------------------------------------------------------------

    def bias_carriers(self, plain: list[Population]) -> dict[str, np.ndarray]:
        """For each population with a bias NIR cannot hold: the incoming projection that takes it."""
        carriers: dict[str, np.ndarray] = {}
        for pop in plain:
            if isinstance(pop.neuron, InputModel) or not np.any(pop.neuron.bias):
                continue
            for proj in self.graph.incoming(pop.name):
                if proj.delay or proj.back_edge:
                    continue
                conn = proj.conn
                if isinstance(conn, Dense | Sparse):
                    carriers[proj.name] = _f32(pop.neuron.bias).reshape(-1)
                    break
                if isinstance(conn, Conv1d | Conv2d):
                    channel_bias = _channels(pop.neuron.bias, int(conn.weight.shape[0]))
                    if channel_bias is not None:
                        carriers[proj.name] = channel_bias
                        break
            else:
                raise UnsupportedNodeError(
                    f"population '{pop.name}' has a non-zero bias, but NIR {pop.meta.get('nir_type', '')} "
                    f"nodes have none and no incoming dense/conv projection without delay can carry it as "
                    f"an Affine/Conv bias (conv biases must be constant per channel)", where=pop.name)
        return carriers

    def projection(self, proj: Projection, bias: np.ndarray | None) -> None:
        import nir

        pre, post = self.pops[proj.pre], self.pops[proj.post]
        conn = proj.conn
        where = proj.name
        if isinstance(conn, Identity):
            if proj.delay:
                name = self.unique(proj.name)
                self.nodes[name] = self.delay_node(proj.delay, pre.shape)
                self.edges += [(pre.name, name), (name, post.name)]
            else:
                self.edges.append((pre.name, post.name))
            return
        node: nir.NIRNode
        out_shape = conn.out_shape(pre.shape)
        if isinstance(conn, Dense | Sparse):
            weight = _f32(conn.weight) if isinstance(conn, Dense) else _sparse_matrix(conn)
            node = nir.Linear(weight=weight) if bias is None else nir.Affine(weight=weight, bias=bias)
        elif isinstance(conn, Conv1d | Conv2d):
            node = _conv_node(conn, bias, where)
        elif isinstance(conn, Pool2d):
            node = _pool_node(conn, where)
        else:
            assert isinstance(conn, OneToOne)
            node = nir.Scale(scale=_f32(conn.weight, pre.shape))
        name = self.unique(proj.name)
        self.nodes[name] = node
        self.edges.append((pre.name, name))
        if proj.delay:
            delay = self.unique(f"{proj.name}#delay")
            self.nodes[delay] = self.delay_node(proj.delay, out_shape)
            self.edges.append((name, delay))
            name = delay
        self.edges.append((name, post.name))

    def run(self) -> nir.NIRGraph:
        import nir

        absorbed: set[str] = set()
        plain: list[Population] = []
        for pop in self.graph.populations:
            incoming = self.graph.incoming(pop.name)
            node = self.op_node(pop, incoming)
            if node is None:
                plain.append(pop)
                node = self.pop_node(pop)
            else:
                absorbed |= {p.name for p in incoming}
                self.edges += [(p.pre, pop.name) for p in incoming]
            self.nodes[pop.name] = node
        carriers = self.bias_carriers(plain)
        for proj in self.graph.projections:
            if proj.name not in absorbed:
                self.projection(proj, carriers.get(proj.name))
        for port, src in sorted(self.graph.outputs.items()):
            if port == src and isinstance(self.nodes[src], nir.Output):
                continue
            name = self.unique(port)
            self.nodes[name] = nir.Output(output_type={"output": np.array(self.pops[src].shape)})
            self.edges.append((src, name))
        semantics = self.graph.semantics.evolve(dt=self.dt)
        return nir.NIRGraph(nodes=self.nodes, edges=self.edges, type_check=False,
                            metadata={"exporter": "aedc", "aedc_semantics": semantics.model_dump_json()})


def to_nir(graph: Graph, *, dt: float | None = None, li_as_lif: bool = False) -> nir.NIRGraph:
    """Export ``graph`` as a ``nir.NIRGraph`` (see the module docstring for what maps to what, and for
    ``dt`` — the reader's tick, default the graph's — and ``li_as_lif``)."""
    if dt is not None and not (np.isfinite(dt) and dt > 0):
        raise UnsupportedNodeError(f"to_nir: dt must be a positive number of seconds, got {dt!r}")
    return _Exporter(graph, dt, li_as_lif).run()


def write_nir(graph: Graph, path: str | Path, *, dt: float | None = None, li_as_lif: bool = False) -> None:
    """Export ``graph`` (:func:`to_nir` options) and write it as a ``.nir`` (HDF5) file with ``nir.write``."""
    import nir

    model = to_nir(graph, dt=dt, li_as_lif=li_as_lif)
    for name in model.nodes:
        if "/" in name or name in (".", ""):
            raise UnsupportedNodeError(f"node name {name!r} cannot be an HDF5 group name ('/' separates "
                                       f"groups); rename the population or projection", where=name)
    nir.write(path, model)
