"""Native builder API: write a network directly in Python, get a verified IR graph.

    net = Network("mlp", dt=1e-3)
    x = net.input("x", 784)
    h = net.population("h", 128, "lif", tau=20e-3, v_threshold=1.0)
    net.dense(x, h, w1)
    net.output("y", h)
    graph = net.build()

Scalar parameters are broadcast to the population's shape; defaults are the neutral NIR values
(``r = 1``, ``v_leak = v_reset = 0``, ``v_threshold = 1``, ``w_in = 1``, ``bias = 0``); time
constants have no default, because a wrong one silently changes the dynamics.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from aedc.errors import VerifyError
from aedc.frontend.nir_ops import check_population_size
from aedc.ir.connectivity import Conv1d, Conv2d, Dense, Identity, OneToOne, Pool2d, Sparse
from aedc.ir.graph import EventRule, Graph, Population, Projection
from aedc.ir.neurons import NEURON_MODELS, InputModel
from aedc.ir.options import PROFILES, Semantics
from aedc.ir.verify import verify

DEFAULTS: dict[str, float] = {"r": 1.0, "v_leak": 0.0, "v_reset": 0.0, "v_threshold": 1.0,
                              "w_in": 1.0, "bias": 0.0, "threshold": 1.0}


def _shape(shape: int | tuple[int, ...]) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, int | np.integer) else tuple(int(s) for s in shape)


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int | np.integer) else (int(v[0]), int(v[1]))


class Network:
    """Mutable builder for an immutable :class:`~aedc.ir.graph.Graph`."""

    def __init__(self, name: str = "network", *, profile: str = "nir-euler",
                 semantics: Semantics | None = None, **semantic_overrides: Any) -> None:
        base = semantics or PROFILES[profile]
        self._semantics = base.evolve(**semantic_overrides) if semantic_overrides else base
        self.name = name
        self._pops: list[Population] = []
        self._projs: list[Projection] = []
        self._outputs: dict[str, str] = {}

    def _pop(self, name: str) -> Population:
        for p in self._pops:
            if p.name == name:
                return p
        raise VerifyError(f"population '{name}' is not defined yet", where=name)

    def input(self, name: str, shape: int | tuple[int, ...], *,
              event_rule: EventRule = "binary") -> str:
        """Add a source population; returns its name."""
        self._pops.append(Population(name=name, shape=_shape(shape),
                                     neuron=InputModel(), event_rule=event_rule))
        return name

    def population(self, name: str, shape: int | tuple[int, ...], model: str = "lif", *,
                   event_rule: EventRule | None = None, event_threshold: float = 0.0,
                   **params: Any) -> str:
        """Add a population of ``model`` (``lif``, ``cuba_lif``, ``if``, ``li``, ``cuba_li``,
        ``integrator``, ``threshold``, ``linear``, ``relu``); returns its name."""
        if model not in NEURON_MODELS or model == "input":
            raise VerifyError(f"population '{name}': unknown model {model!r}; choose one of "
                              f"{sorted(m for m in NEURON_MODELS if m != 'input')}", where=name)
        cls = NEURON_MODELS[model]
        shp = _shape(shape)
        check_population_size(name, shp)
        unknown = set(params) - set(cls.PARAMS)
        if unknown:
            raise VerifyError(f"population '{name}': model {model!r} has no parameter(s) "
                              f"{sorted(unknown)}; it takes {list(cls.PARAMS)}", where=name)
        values = {}
        for p in cls.PARAMS:
            if p in params:
                v = params[p]
            elif p in DEFAULTS:
                v = DEFAULTS[p]
            else:
                raise VerifyError(f"population '{name}': parameter '{p}' of {model!r} is required",
                                  where=name)
            try:
                values[p] = np.broadcast_to(np.asarray(v, np.float32), shp)
            except ValueError:
                raise VerifyError(f"population '{name}': parameter '{p}' has shape "
                                  f"{np.shape(v)}, which does not broadcast to the population "
                                  f"shape {shp}", where=name) from None
        rule = event_rule or ("binary" if cls.SPIKING else "graded")
        self._pops.append(Population(name=name, shape=shp, neuron=cls(**values), event_rule=rule,
                                     event_threshold=event_threshold))
        return name

    def project(self, pre: str, post: str, conn: Any, *, delay: int = 0, back_edge: bool = False,
                name: str | None = None) -> str:
        """Add a projection with an explicit connectivity object; returns its name."""
        self._pop(pre)
        self._pop(post)
        pname = name or f"{pre}->{post}"
        if any(p.name == pname for p in self._projs):
            pname = f"{pname}#{len(self._projs)}"
        self._projs.append(Projection(name=pname, pre=pre, post=post, conn=conn, delay=delay,
                                      back_edge=back_edge))
        return pname

    def dense(self, pre: str, post: str, weight: Any, **kw: Any) -> str:
        """All-to-all projection, ``weight`` shaped (post, pre)."""
        return self.project(pre, post, Dense(weight=np.asarray(weight, np.float32)), **kw)

    def sparse(self, pre: str, post: str, pre_idx: Any, post_idx: Any, weight: Any,
               **kw: Any) -> str:
        """Explicit synapse list; it is sorted by (pre, post) here."""
        pi, qi = np.asarray(pre_idx, np.int32), np.asarray(post_idx, np.int32)
        order = np.lexsort((qi, pi))
        conn = Sparse(pre=pi[order], post=qi[order], weight=np.asarray(weight, np.float32)[order],
                      n_pre=self._pop(pre).size, n_post=self._pop(post).size)
        return self.project(pre, post, conn, **kw)

    def one_to_one(self, pre: str, post: str, weight: Any = 1.0, **kw: Any) -> str:
        n = self._pop(pre).size
        w = np.broadcast_to(np.asarray(weight, np.float32).ravel(), (n,))
        return self.project(pre, post, OneToOne(weight=w), **kw)

    def identity(self, pre: str, post: str, **kw: Any) -> str:
        return self.project(pre, post, Identity(), **kw)

    def conv2d(self, pre: str, post: str, weight: Any, *, stride: int | tuple[int, int] = 1,
               padding: int | tuple[int, int] = 0, dilation: int | tuple[int, int] = 1,
               groups: int = 1, **kw: Any) -> str:
        in_shape = self._pop(pre).shape
        if len(in_shape) != 3:
            raise VerifyError(f"conv2d {pre}->{post}: pre must have shape (C, H, W), has {in_shape}",
                              where=pre)
        ph, pw = _pair(padding)
        conn = Conv2d(weight=np.asarray(weight, np.float32), in_shape=in_shape,
                      stride=_pair(stride), padding=((ph, ph), (pw, pw)), dilation=_pair(dilation),
                      groups=groups)
        return self.project(pre, post, conn, **kw)

    def conv1d(self, pre: str, post: str, weight: Any, *, stride: int = 1, padding: int = 0,
               dilation: int = 1, groups: int = 1, **kw: Any) -> str:
        in_shape = self._pop(pre).shape
        if len(in_shape) != 2:
            raise VerifyError(f"conv1d {pre}->{post}: pre must have shape (C, L), has {in_shape}",
                              where=pre)
        conn = Conv1d(weight=np.asarray(weight, np.float32), in_shape=in_shape, stride=(stride,),
                      padding=((padding, padding),), dilation=(dilation,), groups=groups)
        return self.project(pre, post, conn, **kw)

    def pool2d(self, pre: str, post: str, kernel: int | tuple[int, int], *,
               stride: int | tuple[int, int] | None = None, padding: int | tuple[int, int] = 0,
               mode: str = "sum", **kw: Any) -> str:
        in_shape = self._pop(pre).shape
        ph, pw = _pair(padding)
        conn = Pool2d(mode=mode, kernel=_pair(kernel), stride=_pair(stride or kernel),
                      padding=((ph, ph), (pw, pw)), in_shape=in_shape)
        return self.project(pre, post, conn, **kw)

    def output(self, port: str, population: str) -> None:
        """Expose ``population`` as output ``port``."""
        self._pop(population)
        self._outputs[port] = population

    def build(self, *, check: bool = True) -> Graph:
        """Freeze into a :class:`Graph` (verified unless ``check=False``)."""
        graph = Graph(name=self.name, populations=tuple(self._pops), projections=tuple(self._projs),
                      outputs=dict(self._outputs), semantics=self._semantics)
        return verify(graph) if check else graph
