"""Hypothesis strategies for small, valid, random IR graphs and their input arrays (shared by all tests).

Import it from a test module as ``from strategies import graphs, inputs_for`` (pytest puts ``tests/``
on ``sys.path``; there is deliberately no ``tests/__init__.py``).

What the strategies offer:

``graphs(max_pops=8, *, recurrent=True, exact_weights=False, models=None, kinds=None, profiles=None,
dt=None, max_size=64, max_inputs=2, max_delay=3, min_pops=2)``
    A :class:`aedc.ir.Graph` that passes :func:`aedc.ir.verify`: 1..``max_inputs`` input populations
    (binary or graded), then populations of the requested neuron ``models`` (default: every non-input
    model), each fed by a *primary* projection from an earlier population whose connectivity kind
    (default: every kind) decides its shape (conv/pool outputs are ``(C, H, W)`` / ``(C, L)`` so
    convolutions chain). Extra forward projections make several projections into one population;
    with ``recurrent=True`` further projections go backwards (self-loops included) and always have
    latency > 0 (``back_edge=True`` or ``delay > 0``), so every cycle is closed by one of them. Zero-
    latency projections only go forward in creation order, but populations and projections are stored
    in a random order, so ``topo_order`` has work to do. Every population has at most ``max_size``
    neurons. Spiking models use ``binary`` events, non-spiking ones ``graded`` or ``sigma_delta``
    (with ``event_threshold > 0``). Semantics are drawn from ``profiles`` (default: the presets of
    :data:`DRAWN_PROFILES` and ``"custom"``, which draws every field at random); ``dt`` overrides the
    profile's tick. Time constants are ``dt × [1, 100]`` (so ``[1e-3, 1e-1]`` at ``dt = 1e-3``), thresholds in
    ``[0.25, 2]``, IF/integrator ``r`` in ``[0.5, 2] / dt`` (gain ``r·dt`` of order 1).
    ``exact_weights=True`` draws every weight as ``k/8`` with ``|k| <= 16`` (average pools then have a
    power-of-two area), so float32 sums of weights times binary (or ``k/8``) payloads are exact in any
    order: use it to compare simulators bit for bit. (Payloads of graded/sigma-delta *hidden*
    populations are arbitrary floats, so restrict ``models`` to spiking ones for exactness end to end.)

``inputs_for(graph, T, *, exact=False, rate=None)``
    ``{input name: float32 array (T, *shape)}`` for every input population: 0/1 for binary inputs
    (firing probability ``rate`` or a drawn one), floats for graded inputs (``k/8`` values when
    ``exact``), about half of them zero.

``graphs_with_inputs(T=8, *, exact=None, **graph_kwargs)``
    ``(graph, inputs)`` pairs; ``exact`` defaults to ``graph_kwargs["exact_weights"]``.

``semantics(profiles=None, dt=None)``, ``shapes(max_size=64, ndims=(1, 2, 3))`` and
``conv2d_conns / conv1d_conns / pool2d_conns(in_shape=None, *, exact_weights=True)`` are the building
blocks, usable on their own (e.g. to test ``to_coo``).

Array contents come from a ``numpy`` generator seeded by a drawn integer (fast, reproducible); the
structure (sizes, kinds, strides, which edges exist) is drawn by hypothesis itself, so it shrinks well.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from aedc.ir import (
    PROFILES,
    Conv1d,
    Conv2d,
    Dense,
    Graph,
    Identity,
    OneToOne,
    Pool2d,
    Population,
    Projection,
    Semantics,
    Sparse,
    verify,
)
from aedc.ir.connectivity import conv_out_len, same_padding
from aedc.ir.neurons import NEURON_MODELS, TIME_CONSTANTS
from aedc.ir.options import INPUT_GAIN_MODELS

MODELS: tuple[str, ...] = tuple(m for m in NEURON_MODELS if m != "input")
"""Every non-input neuron model."""
SPIKING_MODELS: tuple[str, ...] = tuple(m for m in MODELS if NEURON_MODELS[m].SPIKING)
KINDS: tuple[str, ...] = ("dense", "sparse", "conv1d", "conv2d", "pool2d", "one_to_one", "identity")
"""Every connectivity kind."""

F32 = np.float32
Rng = np.random.Generator


def _rng(draw: st.DrawFn) -> Rng:
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1)))


def _weights(rng: Rng, shape: tuple[int, ...], exact: bool) -> np.ndarray:
    """Random float32 weights; ``exact``: k/8 with |k| <= 16 (sums exact in float32 in any order)."""
    if exact:
        return (rng.integers(-16, 17, size=shape) / 8).astype(F32)
    return rng.uniform(-0.75, 1.25, size=shape).astype(F32)


# --------------------------------------------------------------------------------------------------
# semantics and shapes


DRAWN_PROFILES = tuple(p for p in PROFILES if p != "spyx")
"""The presets :func:`semantics` draws by default: not ``spyx``, whose spike from the previous tick is
outside the event-driven contract that random-graph tests of every schedule draw from (its options are
tested across backends in ``tests/test_semantics_frameworks.py``)."""


@st.composite
def semantics(draw: st.DrawFn, profiles: Sequence[str] | None = None,
              dt: float | None = None) -> Semantics:
    """A :class:`Semantics`: one of ``profiles`` (default the presets and ``"custom"``); ``"custom"``
    draws every field (reset timings and ``unscaled_input`` included); ``dt`` replaces the profile's
    tick."""
    name = draw(st.sampled_from(tuple(profiles) if profiles else (*DRAWN_PROFILES, "custom")))
    if name == "custom":
        reset = draw(st.sampled_from(("to_v_reset", "subtract", "zero")))
        # reset timing: same tick, next tick, or re-checked (snnTorch reset_delay=False: not to_v_reset)
        timing = draw(st.sampled_from(("now", "next", *(("recheck",) if reset != "to_v_reset" else ()))))
        sem = Semantics(
            profile="custom",
            dt=draw(st.sampled_from((1e-4, 1e-3, 1.0))),
            discretisation=draw(st.sampled_from(("euler", "exact"))),
            reset=reset,
            threshold_cmp=draw(st.sampled_from((">", ">="))),
            current_first=draw(st.booleans()),
            reset_next_tick=timing == "next",
            reset_recheck=timing == "recheck",
            unscaled_input=tuple(draw(st.lists(st.sampled_from(INPUT_GAIN_MODELS), max_size=3))),
        )
    else:
        sem = PROFILES[name]
    return sem.evolve(dt=dt) if dt is not None else sem


@st.composite
def shapes(draw: st.DrawFn, max_size: int = 64, ndims: Sequence[int] = (1, 2, 3)) -> tuple[int, ...]:
    """A population shape with at most ``max_size`` neurons: ``(n,)``, ``(C, L)`` or ``(C, H, W)``."""
    nd = draw(st.sampled_from(tuple(ndims)))
    if nd == 1:
        return (draw(st.integers(1, max_size)),)
    c = draw(st.integers(1, min(4, max_size)))
    if nd == 2:
        return (c, draw(st.integers(1, max(1, min(16, max_size // c)))))
    h = draw(st.integers(1, max(1, min(8, max_size // c))))
    return (c, h, draw(st.integers(1, max(1, min(8, max_size // (c * h))))))


# --------------------------------------------------------------------------------------------------
# connectivity


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _draw_axis(draw: st.DrawFn, n: int, spec: str | None) -> tuple[int, int, int, tuple[int, int]]:
    """(kernel, stride, dilation, padding) along one axis of length ``n``."""
    k = draw(st.integers(1, 3))
    s = draw(st.integers(1, 2))
    d = draw(st.integers(1, 2))
    if spec == "same":
        pad = same_padding(n, k, s, d)
    elif spec == "valid":
        pad = (0, 0)
    else:
        pad = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    return k, s, d, pad


def _draw_conv(draw: st.DrawFn, rng: Rng, in_shape: tuple[int, ...], exact: bool,
               max_size: int | None) -> Conv1d | Conv2d | None:
    """A grouped 1-d/2-d convolution reading ``in_shape``; ``None`` if its output would be empty or
    larger than ``max_size``."""
    c, *spatial = in_shape
    spec = draw(st.sampled_from((None, None, "same", "valid")))
    axes = [_draw_axis(draw, n, spec) for n in spatial]
    out_sp = [conv_out_len(n, k, s, p, d) for n, (k, s, d, p) in zip(spatial, axes, strict=True)]
    if min(out_sp) < 1:
        return None
    groups = draw(st.sampled_from(_divisors(c)))
    area = math.prod(out_sp)
    cap = 3 if max_size is None else min(3, max_size // (groups * area))
    if cap < 1:
        return None
    c_out = groups * draw(st.integers(1, cap))
    weight = _weights(rng, (c_out, c // groups, *(a[0] for a in axes)), exact)
    fields: dict[str, Any] = {
        "weight": weight, "in_shape": tuple(in_shape), "groups": groups, "padding_spec": spec,
        "stride": tuple(a[1] for a in axes), "dilation": tuple(a[2] for a in axes),
        "padding": tuple(a[3] for a in axes)}
    return Conv2d(**fields) if len(spatial) == 2 else Conv1d(**fields)


def _draw_pool(draw: st.DrawFn, in_shape: tuple[int, ...], exact: bool,
               max_size: int | None) -> Pool2d | None:
    c, h, w = in_shape
    mode = draw(st.sampled_from(("sum", "avg")))
    if mode == "avg" and exact:  # power-of-two area: 1/area is a dyadic rational
        kernel = draw(st.sampled_from(((1, 1), (1, 2), (2, 1), (2, 2))))
    else:
        kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = ((draw(st.integers(0, 1)), draw(st.integers(0, 1))),
               (draw(st.integers(0, 1)), draw(st.integers(0, 1))))
    pool = Pool2d(mode=mode, kernel=kernel, stride=stride, padding=padding, in_shape=(c, h, w))
    out = pool.out_shape(in_shape)
    if min(out) < 1 or (max_size is not None and math.prod(out) > max_size):
        return None
    return pool


@st.composite
def conv2d_conns(draw: st.DrawFn, in_shape: tuple[int, int, int] | None = None, *,
                 exact_weights: bool = True, max_size: int | None = None) -> Conv2d:
    """A valid :class:`Conv2d` (groups, stride, asymmetric padding, dilation, 'same'/'valid' specs)."""
    shape = in_shape or draw(shapes(48, ndims=(3,)))
    conv = _draw_conv(draw, _rng(draw), shape, exact_weights, max_size)
    assert conv is None or isinstance(conv, Conv2d)
    assume(conv is not None)
    return conv  # type: ignore[return-value]


@st.composite
def conv1d_conns(draw: st.DrawFn, in_shape: tuple[int, int] | None = None, *,
                 exact_weights: bool = True, max_size: int | None = None) -> Conv1d:
    """A valid :class:`Conv1d`."""
    shape = in_shape or draw(shapes(48, ndims=(2,)))
    conv = _draw_conv(draw, _rng(draw), shape, exact_weights, max_size)
    assert conv is None or isinstance(conv, Conv1d)
    assume(conv is not None)
    return conv  # type: ignore[return-value]


@st.composite
def pool2d_conns(draw: st.DrawFn, in_shape: tuple[int, int, int] | None = None, *,
                 exact_weights: bool = True, max_size: int | None = None) -> Pool2d:
    """A valid sum/avg :class:`Pool2d` (stride, asymmetric padding)."""
    shape = in_shape or draw(shapes(48, ndims=(3,)))
    pool = _draw_pool(draw, shape, exact_weights, max_size)
    assume(pool is not None)
    return pool  # type: ignore[return-value]


def _sparse(rng: Rng, n_pre: int, n_post: int, exact: bool) -> Sparse:
    """Random synapse list, sorted by (pre, post), no duplicates (possibly empty)."""
    density = rng.uniform(0.0, 0.6)
    pre, post = np.nonzero(rng.random((n_pre, n_post)) < density)  # row-major: sorted by (pre, post)
    return Sparse(pre=pre.astype(np.int32), post=post.astype(np.int32),
                  weight=_weights(rng, (pre.size,), exact), n_pre=n_pre, n_post=n_post)


def _primary(draw: st.DrawFn, rng: Rng, kind: str, pre_shape: tuple[int, ...], exact: bool,
             max_size: int) -> tuple[Any, tuple[int, ...]] | None:
    """A connectivity of ``kind`` out of ``pre_shape`` and the shape of the population it creates."""
    n_pre = math.prod(pre_shape)
    if kind in ("dense", "sparse"):
        post_shape = draw(shapes(max_size))
        n_post = math.prod(post_shape)
        if kind == "dense":
            return Dense(weight=_weights(rng, (n_post, n_pre), exact)), post_shape
        return _sparse(rng, n_pre, n_post, exact), post_shape
    if kind == "one_to_one":
        return OneToOne(weight=_weights(rng, (n_pre,), exact)), pre_shape
    if kind == "identity":
        return Identity(), draw(st.sampled_from((pre_shape, (n_pre,))))
    if kind in ("conv1d", "conv2d"):
        conv = _draw_conv(draw, rng, pre_shape, exact, max_size)
        return None if conv is None else (conv, conv.out_shape(pre_shape))
    pool = _draw_pool(draw, pre_shape, exact, max_size)
    return None if pool is None else (pool, pool.out_shape(pre_shape))


def _applicable(kinds: Sequence[str], pre_shape: tuple[int, ...]) -> list[str]:
    need = {"conv1d": 2, "conv2d": 3, "pool2d": 3}
    return [k for k in kinds if need.get(k, len(pre_shape)) == len(pre_shape)]


def _joins(kind: str, pre_shape: tuple[int, ...], post_shape: tuple[int, ...]) -> bool:
    """Whether :func:`_between` can join two existing shapes with ``kind`` (conv/pool: not attempted)."""
    return kind in ("dense", "sparse") or (
        kind in ("one_to_one", "identity") and math.prod(pre_shape) == math.prod(post_shape))


def _between(rng: Rng, kind: str, pre_shape: tuple[int, ...], post_shape: tuple[int, ...],
             exact: bool) -> Any:
    """A connectivity of ``kind`` between two existing shapes (``_joins`` must hold)."""
    n_pre, n_post = math.prod(pre_shape), math.prod(post_shape)
    if kind == "dense":
        return Dense(weight=_weights(rng, (n_post, n_pre), exact))
    if kind == "sparse":
        return _sparse(rng, n_pre, n_post, exact)
    if kind == "one_to_one":
        return OneToOne(weight=_weights(rng, (n_pre,), exact))
    return Identity()


# --------------------------------------------------------------------------------------------------
# neurons


def _params(rng: Rng, model: str, shape: tuple[int, ...], dt: float) -> dict[str, np.ndarray]:
    """Parameters of ``model``: either one value broadcast or one per neuron."""
    hetero = bool(rng.random() < 0.5)
    size = shape if hetero else ()

    def u(lo: float, hi: float, zero_p: float = 0.0) -> np.ndarray:
        if rng.random() < zero_p:
            return np.zeros(shape, F32)
        return np.broadcast_to(rng.uniform(lo, hi, size=size).astype(F32), shape).copy()

    table = {
        "r": lambda: u(0.5, 2.0) / F32(dt) if model in ("if", "integrator") else u(0.5, 2.0),
        "v_leak": lambda: u(-0.5, 0.5, zero_p=0.5),
        "v_threshold": lambda: u(0.25, 2.0),
        "threshold": lambda: u(0.25, 2.0),
        "v_reset": lambda: u(-0.5, 0.0, zero_p=0.5),
        "w_in": lambda: u(0.5, 2.0),
        "bias": lambda: u(-0.25, 0.5, zero_p=0.5),
        "beta": lambda: u(0.0, 1.5, zero_p=0.25),
    }
    out = {}
    for p in NEURON_MODELS[model].PARAMS:
        out[p] = (u(1.0, 100.0) * F32(dt)) if p in TIME_CONSTANTS else table[p]()
        out[p] = np.asarray(out[p], F32)
    return out


# --------------------------------------------------------------------------------------------------
# graphs


def _proj_name(pre: str, post: str, taken: set[str]) -> str:
    name = f"{pre}->{post}"
    i = 1
    while name in taken:
        name, i = f"{pre}->{post}#{i}", i + 1
    taken.add(name)
    return name


@st.composite
def graphs(draw: st.DrawFn, max_pops: int = 8, *, recurrent: bool = True, exact_weights: bool = False,
           models: Sequence[str] | None = None, kinds: Sequence[str] | None = None,
           profiles: Sequence[str] | None = None, dt: float | None = None, max_size: int = 64,
           max_inputs: int = 2, max_delay: int = 3, min_pops: int = 2) -> Graph:
    """A small random graph that passes :func:`aedc.ir.verify` (see the module docstring)."""
    models = tuple(models) if models else MODELS
    kinds = tuple(kinds) if kinds else KINDS
    unknown = (set(models) - set(MODELS)) | (set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown model(s)/kind(s) {sorted(unknown)}; models: {MODELS}, kinds: {KINDS}")
    if not 2 <= min_pops <= max_pops:
        raise ValueError("need 2 <= min_pops <= max_pops (one input and one other population)")
    sem = draw(semantics(profiles, dt))
    rng = _rng(draw)
    n_pops = draw(st.integers(min_pops, max_pops))
    n_inputs = draw(st.integers(1, max(1, min(max_inputs, n_pops - 1))))

    pops: list[Population] = []
    projs: list[Projection] = []
    taken: set[str] = set()

    def add_proj(pre: str, post: str, conn: Any, delay: int = 0, back_edge: bool = False) -> None:
        meta = {"note": "drawn"} if draw(st.integers(0, 7)) == 0 else {}
        projs.append(Projection(name=_proj_name(pre, post, taken), pre=pre, post=post, conn=conn,
                                delay=delay, back_edge=back_edge, meta=meta))

    # Structured shapes are frequent so that convolutions and pools are actually drawn.
    structured = {"conv1d": (2,), "conv2d": (3,), "pool2d": (3,)}
    if set(kinds) <= set(structured):
        in_ndims: tuple[int, ...] = tuple(sorted({d for k in kinds for d in structured[k]}))
    else:
        in_ndims = (1, 2, 3, 3) if {"conv2d", "pool2d"} & set(kinds) else (1, 2, 3)
    for i in range(n_inputs):
        shape = draw(shapes(max_size, in_ndims))
        rule = draw(st.sampled_from(("binary", "graded")))
        pops.append(Population(name=f"in{i}", shape=shape, neuron=NEURON_MODELS["input"](),
                               event_rule=rule))

    for i in range(n_inputs, n_pops):
        model = draw(st.sampled_from(models))
        pre = pops[draw(st.integers(0, len(pops) - 1))]
        options = _applicable(kinds, pre.shape)
        options += [k for k in options if k in ("conv1d", "conv2d", "pool2d")] * 2  # favour them
        made = None
        if options:
            made = _primary(draw, rng, draw(st.sampled_from(options)), pre.shape, exact_weights,
                            max_size)
        if made is None:  # the drawn kind cannot leave this shape within the size limit: a dense
            # projection onto the same shape keeps the structure for later convolutions
            made = Dense(weight=_weights(rng, (pre.size, pre.size), exact_weights)), pre.shape
        conn, shape = made
        cls = NEURON_MODELS[model]
        rule = "binary" if cls.SPIKING else draw(st.sampled_from(("graded", "sigma_delta")))
        thr = float(F32(draw(st.sampled_from((0.01, 0.05, 0.1, 0.5))))) if rule == "sigma_delta" else 0.0
        prefix = "blk." if draw(st.integers(0, 5)) == 0 else ""
        name = f"{prefix}{model}{i}"
        pops.append(Population(name=name, shape=shape, neuron=cls(**_params(rng, model, shape, sem.dt)),
                               event_rule=rule, event_threshold=thr,
                               meta={"layer": str(i)} if draw(st.booleans()) else {}))
        latency = draw(st.sampled_from(("none", "none", "none", "delay", "back")))
        add_proj(pre.name, name, conn,
                 delay=draw(st.integers(1, max_delay)) if latency == "delay" else 0,
                 back_edge=latency == "back")

    hidden = list(range(n_inputs, n_pops))
    # extra forward projections: several projections into one population (zero latency allowed)
    for _ in range(draw(st.integers(0, len(hidden)))):
        post_i = draw(st.sampled_from(hidden))
        pre_i = draw(st.integers(0, post_i - 1))
        pre, post = pops[pre_i], pops[post_i]
        options = [k for k in kinds if _joins(k, pre.shape, post.shape)]
        if not options:
            continue
        conn = _between(rng, draw(st.sampled_from(options)), pre.shape, post.shape, exact_weights)
        add_proj(pre.name, post.name, conn, delay=draw(st.sampled_from((0, 0, 1))))

    # recurrent projections: any population (itself included) back into a non-input one
    if recurrent:
        for _ in range(draw(st.integers(0, 3))):
            post = pops[draw(st.sampled_from(hidden))]
            pre = pops[draw(st.integers(0, n_pops - 1))]
            options = [k for k in kinds if _joins(k, pre.shape, post.shape)]
            if not options:
                continue
            conn = _between(rng, draw(st.sampled_from(options)), pre.shape, post.shape, exact_weights)
            if draw(st.booleans()):
                add_proj(pre.name, post.name, conn, delay=draw(st.integers(0, max_delay)), back_edge=True)
            else:
                add_proj(pre.name, post.name, conn, delay=draw(st.integers(1, max_delay)))

    out_pops = draw(st.lists(st.sampled_from([pops[i].name for i in hidden]), min_size=1, max_size=3,
                             unique=True))
    outputs = {f"y{k}": name for k, name in enumerate(out_pops)}
    graph = Graph(
        name=draw(st.sampled_from(("g", "net", "random graph"))),
        populations=tuple(draw(st.permutations(pops))),
        projections=tuple(draw(st.permutations(projs))),
        outputs=outputs, semantics=sem,
        meta={"generator": "tests/strategies.py"} if draw(st.booleans()) else {},
    )
    return verify(graph)


# --------------------------------------------------------------------------------------------------
# inputs


@st.composite
def inputs_for(draw: st.DrawFn, graph: Graph, T: int, *, exact: bool = False,
               rate: float | None = None) -> dict[str, np.ndarray]:
    """Input arrays ``(T, *shape)`` float32 for every input population of ``graph``."""
    rng = _rng(draw)
    out: dict[str, np.ndarray] = {}
    for name in graph.inputs:
        pop = graph.population(name)
        shape = (T, *pop.shape)
        if pop.event_rule == "binary":
            p = rate if rate is not None else draw(st.sampled_from((0.05, 0.2, 0.5)))
            out[name] = (rng.random(shape) < p).astype(F32)
        else:
            vals = (rng.integers(-16, 17, size=shape) / 8 if exact
                    else rng.uniform(-1.0, 2.0, size=shape)).astype(F32)
            out[name] = np.where(rng.random(shape) < 0.5, F32(0), vals).astype(F32)
    return out


@st.composite
def graphs_with_inputs(draw: st.DrawFn, T: int = 8, *, exact: bool | None = None,
                       **graph_kwargs: Any) -> tuple[Graph, dict[str, np.ndarray]]:
    """A graph from :func:`graphs` (``graph_kwargs``) and inputs for it of length ``T``."""
    graph = draw(graphs(**graph_kwargs))
    if exact is None:
        exact = bool(graph_kwargs.get("exact_weights", False))
    return graph, draw(inputs_for(graph, T, exact=exact))
