"""Shared machinery of the fuzz suite: mutators for NIR (HDF5) files and IR JSON, and the oracle.

The oracle (:func:`outcome`) runs the real compiler — :func:`aedc.frontend.load.load_model` and a
:class:`~aedc.passes.PassManager` — and accepts exactly two endings: a finished compile, or an
:class:`~aedc.errors.AedcError` whose message names what is wrong (``where`` is set, or the message
quotes a name). Anything else propagates and fails the test with hypothesis's shrunk reproducer.

NIR files are mutated at the h5py level (datasets, groups, attributes) and by truncation; raw byte flips
(``test_fuzz_bytes.py``) can crash or hang libhdf5 itself. The reader runs libhdf5 in a child process
(:mod:`aedc.frontend.h5_isolate`), so those end in a ``NIRFormatError`` too; the byte flips still run in
a subprocess, so that a crash the isolation misses is counted rather than fatal.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from hypothesis import settings
from hypothesis import strategies as st

from aedc.errors import AedcError
from aedc.frontend.load import load_model
from aedc.passes import CompileState, PassContext, PassManager

REPO = Path(__file__).resolve().parents[2]
NIR_PAPER = REPO / "tests" / "data" / "nir_paper"
SEEDS: dict[str, tuple[Path, str]] = {
    "lif_norse": (NIR_PAPER / "01_lif" / "lif_norse.nir", "nir-euler"),
    "lif_rockpool": (NIR_PAPER / "01_lif" / "lif_rockpool.nir", "nir-euler"),
    "two_lif": (NIR_PAPER / "01_lif" / "two_lif_neurons.nir", "nir-euler"),
    "cnn_sinabs": (NIR_PAPER / "02_cnn" / "cnn_sinabs.nir", "sinabs"),
}
"""The shared NIR examples every NIR mutation starts from, with the profile each is read under."""

FAST_PIPELINE = ("verify,fold-scale,fuse-affine,dce,slice,place{solver=greedy},route,compress-tables")
"""The default pipeline with the greedy placer: for the CNN, whose CP-SAT placement takes seconds."""

SHARES: dict[str, float] = {
    "nir_paper": 0.30, "nir_graphs": 0.20, "ir_json": 0.30, "ir_semantic": 0.15, "cli": 0.05,
}
"""Each fuzz test's share of the profile's total number of cases (sums to 1)."""

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "fuzz-ci")
if PROFILE not in ("fuzz-ci", "fuzz"):
    PROFILE = "fuzz-ci"
TOTALS = {"fuzz-ci": 1_400, "fuzz": int(os.environ.get("AEDC_FUZZ_TOTAL", "100000"))}
JOBS = max(1, int(os.environ.get("AEDC_FUZZ_JOBS", "1")))
"""``make fuzz`` runs ``JOBS`` pytest processes (each with its own random seed); each takes 1/JOBS."""
JOB = int(os.environ.get("AEDC_FUZZ_JOB", "0"))

HDF5_TIMEOUT_S = os.environ.setdefault("AEDC_HDF5_TIMEOUT_S", "10")
"""The reader's timeout for libhdf5, below ``test_fuzz_bytes.HANG_S`` (20 s): a file that hangs libhdf5
must end in the reader's ``NIRFormatError``, not in the harness killing the worker (which inherits it)."""

OUTCOMES: Counter[str] = Counter()
"""Every fuzz case's ending (``ok`` or the error class), summed over the session; printed at the end."""


def fuzz_settings(share: str, *, minimum: int = 10) -> settings:
    """Hypothesis settings with this test's share of the profile's total number of examples."""
    n = max(minimum, round(TOTALS[PROFILE] * SHARES[share] / JOBS))
    return settings(settings.get_profile(PROFILE), max_examples=n)


# ---- the oracle ---------------------------------------------------------------------------------------

_QUOTED = re.compile(r"'[^']+'|\"[^\"]+\"")


def check_error(exc: AedcError) -> None:
    """An aedc error must say what and where: a non-empty message naming a node, field or file."""
    msg = str(exc)
    assert msg.strip(), f"{type(exc).__name__} with an empty message"
    assert exc.where or _QUOTED.search(msg), f"{type(exc).__name__} names nothing: {msg!r}"


def compile_graph(graph: Any, pipeline: str, *, seed: int = 0) -> CompileState:
    return PassManager(pipeline).run(CompileState(graph=graph), PassContext(seed=seed))


def outcome(load: Callable[[], Any], pipeline: str) -> str:
    """Load and compile; return ``'ok'`` or the aedc error's class name (anything else propagates)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile_graph(load(), pipeline)
        except AedcError as exc:
            check_error(exc)
            OUTCOMES[type(exc).__name__] += 1
            return type(exc).__name__
    OUTCOMES["ok"] += 1
    return "ok"


def load_file(path: Path, profile: str) -> Callable[[], Any]:
    return lambda: load_model(path, profile=profile)


# ---- NIR (HDF5) mutations -----------------------------------------------------------------------------

NAME_TEXT = st.one_of(
    st.sampled_from(["", ".", "a.b", "0", "input", "output", "ü", "神经元", "x" * 300, "🧠", "a b",
                     "node\x00", "..", "a/b", "\u202e", "Input"]),
    st.text(min_size=1, max_size=12).filter(lambda s: "/" not in s and s not in (".", "..")
                                            and "\x00" not in s),
)
"""Node names and edge ends: unicode, empty, dotted, long, look-alikes of real names."""

SPECIAL_FLOATS = (math.nan, math.inf, -math.inf, -1.0, 0.0, -0.0, 1e-45, 1e38, -1e38, 3.4e38, 1e300)
TYPE_NAMES = ("Input", "Output", "LIF", "CubaLIF", "IF", "LI", "I", "Integrator", "Affine", "Linear",
              "Conv1d", "Conv2d", "SumPool2d", "AvgPool2d", "Threshold", "Flatten", "Scale", "Delay",
              "NIRGraph", "CubaLI", "Conv3d", "", "lif", "LIF ")


def h5_paths(f: h5py.File) -> tuple[list[str], list[str]]:
    """(datasets, groups) of an open file, sorted (the root group excluded)."""
    datasets: list[str] = []
    groups: list[str] = []

    def visit(name: str, obj: object) -> None:
        (datasets if isinstance(obj, h5py.Dataset) else groups).append(name)

    f.visititems(visit)
    return sorted(datasets), sorted(groups)


def _replace(f: h5py.File, path: str, data: Any, dtype: Any = None) -> None:
    parent, _, leaf = path.rpartition("/")
    group = f[parent] if parent else f
    if leaf in group:
        del group[leaf]
    if isinstance(data, str):
        group.create_dataset(leaf, data=data, dtype=h5py.string_dtype())
    elif isinstance(data, np.ndarray) and data.dtype.kind in "OU":
        group.create_dataset(leaf, data=data.astype(object), dtype=h5py.string_dtype())
    else:
        group.create_dataset(leaf, data=data, dtype=dtype)


def _edges(f: h5py.File, group: str) -> list[list[str]]:
    path = f"{group}/edges" if group else "edges"
    if path not in f or not isinstance(f[path], h5py.Dataset):
        return []
    raw = f[path][()]
    if not isinstance(raw, np.ndarray) or raw.ndim != 2:
        return []
    return [[v.decode() if isinstance(v, bytes) else str(v) for v in row] for row in raw.tolist()]


def _set_edges(f: h5py.File, group: str, edges: list[list[str]]) -> None:
    arr = np.array(edges, dtype=object).reshape(-1, 2)
    _replace(f, f"{group}/edges" if group else "edges", arr)


def _graph_groups(f: h5py.File) -> list[str]:
    """Every group that is a NIR graph (has a ``nodes`` subgroup): ``node`` and nested subgraphs."""
    _, groups = h5_paths(f)
    return [g for g in groups if isinstance(f[g], h5py.Group) and isinstance(f[g].get("nodes"), h5py.Group)]


def _node_names(f: h5py.File, graph: str) -> list[str]:
    return sorted(f[f"{graph}/nodes"].keys())


def _numeric(f: h5py.File) -> list[str]:
    datasets, _ = h5_paths(f)
    return [d for d in datasets if f[d].dtype.kind in "fiub"]


@st.composite
def nir_mutation(draw: st.DrawFn) -> Callable[[h5py.File], str]:
    """One structural mutation of an open NIR file; the callable returns a description of what it did."""
    kind = draw(st.sampled_from((
        "drop", "retype", "reshape", "special", "huge_shape", "empty_graph", "self_loop", "dup_edge",
        "rename", "missing_edge", "unknown_field", "node_type", "version", "attr", "edges_garbage",
        "scalar", "negate", "empty_array", "move_node")))
    pick = st.integers(0, 10**6)
    a, b = draw(pick), draw(pick)
    name = draw(NAME_TEXT)
    special = draw(st.sampled_from(SPECIAL_FLOATS))
    new_type = draw(st.sampled_from(TYPE_NAMES))
    big = draw(st.sampled_from((0, -1, 2**31, 10**5, 3, 7)))
    retype_to = draw(st.sampled_from(("str", "int", "float", "bool", "empty", "complex", "nested",
                                      "3d", "group")))
    whole = draw(st.booleans())

    def apply(f: h5py.File) -> str:
        datasets, groups = h5_paths(f)
        graphs = _graph_groups(f)
        graph = graphs[a % len(graphs)] if graphs else ""
        nodes = _node_names(f, graph) if graph else []
        if kind == "drop" and (datasets or groups):
            every = datasets + groups
            victim = every[a % len(every)]
            if victim in f:
                del f[victim]
            return f"drop {victim}"
        if kind == "retype" and datasets:
            victim = datasets[a % len(datasets)]
            value: Any = {"str": "garbage", "int": np.int64(7), "float": np.float64(2.5),
                          "bool": np.array([True, False]), "empty": np.zeros(0, np.float32),
                          "complex": np.array([1 + 2j]), "nested": np.ones((2, 2, 2, 2), np.float32),
                          "3d": np.ones((1, 1, 1), np.int64), "group": None}[retype_to]
            if value is None:
                del f[victim]
                f.create_group(victim)
            else:
                _replace(f, victim, value)
            return f"retype {victim} to {retype_to}"
        if kind in ("reshape", "special", "scalar", "negate", "empty_array") and _numeric(f):
            nums = _numeric(f)
            victim = nums[a % len(nums)]
            data = np.array(f[victim][()])
            if kind == "reshape":
                data = (data.reshape(-1)[: max(0, data.size - 1 - b % 3)] if b % 2
                        else np.concatenate([data.reshape(-1), data.reshape(-1)]) if data.size else data)
                if b % 5 == 0 and data.size:
                    data = data.reshape(1, -1)
            elif kind == "special":
                data = data.astype(np.float32 if b % 3 else np.float64)  # float32: 1e300 → inf
                if whole or data.ndim == 0 or data.size == 0:  # (an earlier mutation may empty it)
                    data = np.full(data.shape, special)
                else:
                    data.reshape(-1)[b % max(1, data.size)] = special
            elif kind == "scalar":
                data = np.asarray(data.reshape(-1)[0] if data.size else special)
            elif kind == "negate":
                data = -data if data.dtype.kind != "b" else ~data
            else:
                data = np.zeros((0,) * max(1, data.ndim), data.dtype)
            _replace(f, victim, data)
            return f"{kind} {victim}"
        if kind == "huge_shape":
            shaped = [d for d in datasets if d.rsplit("/", 1)[-1] in
                      ("shape", "input_type", "output_type", "stride", "padding", "dilation", "groups",
                       "kernel_size", "input_shape", "start_dim", "end_dim", "delay")]
            if shaped:
                victim = shaped[a % len(shaped)]
                data = np.array(f[victim][()]).astype(np.int64)
                if data.size:
                    data.reshape(-1)[b % data.size] = big
                else:  # an earlier mutation emptied it
                    data = np.array([big], np.int64)
                _replace(f, victim, data)
                return f"huge_shape {victim}={big}"
        if kind == "empty_graph" and graph:
            for n in nodes:
                del f[f"{graph}/nodes/{n}"]
            _set_edges(f, graph, [])
            return f"empty {graph}"
        if kind == "self_loop" and nodes:
            n = nodes[a % len(nodes)]
            _set_edges(f, graph, [*_edges(f, graph), [n, n]])
            return f"self-loop {n}"
        if kind == "dup_edge" and graph:
            edges = _edges(f, graph)
            if edges:
                _set_edges(f, graph, [*edges, edges[a % len(edges)]])
                return f"duplicate edge in {graph}"
        if kind == "rename" and nodes:
            old = nodes[a % len(nodes)]
            if name not in f[f"{graph}/nodes"]:
                f.move(f"{graph}/nodes/{old}", f"{graph}/nodes/{name}")
                if whole:  # keep the edges consistent: a unicode name that should just work
                    _set_edges(f, graph, [[name if v == old else v for v in e] for e in _edges(f, graph)])
                return f"rename {old!r} to {name!r} (edges {'renamed' if whole else 'stale'})"
        if kind == "move_node" and nodes and len(graphs) > 1:
            n = nodes[a % len(nodes)]
            dest = graphs[(a + 1) % len(graphs)]
            if n not in f[f"{dest}/nodes"]:
                f.move(f"{graph}/nodes/{n}", f"{dest}/nodes/{n}")
                return f"move {n} from {graph} to {dest}"
        if kind == "missing_edge" and graph:
            edges = _edges(f, graph)
            if edges:
                e = edges[a % len(edges)]
                e[b % 2] = name
                _set_edges(f, graph, edges)
                return f"edge end → {name!r}"
        if kind == "unknown_field" and nodes:
            n = nodes[a % len(nodes)]
            _replace(f, f"{graph}/nodes/{n}/{name if name else 'x'}", np.ones(2, np.float32))
            return f"unknown field {name!r} on {n}"
        if kind == "node_type":
            types = [d for d in datasets if d.endswith("/type")]
            if types:
                victim = types[a % len(types)]
                _replace(f, victim, new_type)
                return f"type of {victim} → {new_type!r}"
        if kind == "version":
            _replace(f, "version", draw_version(b))
            return "version"
        if kind == "attr" and groups:
            g = (["/", *groups])[a % (len(groups) + 1)]
            f[g].attrs[name or "a"] = special
            return f"attribute on {g}"
        if kind == "edges_garbage" and graph:
            garbage: Any = [np.ones((3, 3), np.float32), np.array(["a", "b", "c"], dtype=object), "x",
                            np.zeros((0, 2), np.float32), np.array([[b"\xff\xfe", b"a"]], dtype=object)]
            _replace(f, f"{graph}/edges", garbage[b % len(garbage)])
            return f"garbage edges in {graph}"
        return "nothing"

    return apply


def draw_version(i: int) -> str:
    return ("1.0.0", "0.1.1", "2.0", "", "x.y", "1", "99.99.99", "1.0.🧠")[i % 8]


def copy_and_mutate(src: Path, dst: Path, mutations: list[Callable[[h5py.File], str]],
                    truncate: float | None) -> list[str]:
    """Copy ``src`` to ``dst``, apply ``mutations`` with h5py, then truncate to a fraction of its bytes."""
    shutil.copyfile(src, dst)
    done: list[str] = []
    with h5py.File(dst, "a") as f:
        for m in mutations:
            try:
                done.append(m(f))
            except (ValueError, KeyError, TypeError, OSError) as exc:  # h5py refused (e.g. name '.')
                done.append(f"mutation refused by h5py: {exc}")
    if truncate is not None:
        data = dst.read_bytes()
        dst.write_bytes(data[: int(len(data) * truncate)])
        done.append(f"truncate to {truncate:.3f}")
    return done


# ---- IR JSON mutations --------------------------------------------------------------------------------

JSON_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.sampled_from(SPECIAL_FLOATS),
    st.floats(allow_nan=True), NAME_TEXT, st.just([]), st.just({}), st.just([1, 2]),
    st.just({"dtype": "<f4", "shape": [10**9], "data": ""}), st.just({"dtype": "<f4", "shape": [-1],
                                                                      "data": ""}),
    st.just({"dtype": "|O", "shape": [1], "data": "AA=="}), st.just({"dtype": "<f4", "shape": [2],
                                                                     "data": "!!notbase64"}),
)


def json_paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (keys/indices) into a JSON document, in document order."""
    out = [prefix]
    if isinstance(doc, dict):
        for k in doc:
            out += json_paths(doc[k], (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += json_paths(v, (*prefix, i))
    return out


def get_path(doc: Any, path: tuple[Any, ...]) -> Any:
    for k in path:
        doc = doc[k]
    return doc


@st.composite
def json_mutation(draw: st.DrawFn) -> Callable[[Any], Any]:
    """One mutation of an IR JSON document (a dict); returns the mutated document."""
    kind = draw(st.sampled_from(("drop", "replace", "duplicate", "swap", "truncate_list", "wrap")))
    a = draw(st.integers(0, 10**6))
    drawn = draw(JSON_VALUES)

    def apply(doc: Any) -> Any:
        value = json.loads(json.dumps(drawn))  # a fresh copy: st.just() hands out one shared object
        paths = json_paths(doc)
        path = paths[a % len(paths)]
        if not path:
            return value if kind == "replace" else doc
        parent, key = get_path(doc, path[:-1]), path[-1]
        if kind == "drop":
            del parent[key]
        elif kind == "replace":
            parent[key] = value
        elif kind == "duplicate" and isinstance(parent, list):
            parent.append(json.loads(json.dumps(parent[key])))
        elif kind == "swap":
            other = paths[(a * 7 + 3) % len(paths)]
            if other and not (other[: len(path)] == path or path[: len(other)] == other):
                oparent = get_path(doc, other[:-1])
                parent[key], oparent[other[-1]] = oparent[other[-1]], parent[key]
        elif kind == "truncate_list" and isinstance(parent[key], list):
            parent[key] = parent[key][: len(parent[key]) // 2]
        elif kind == "wrap":
            parent[key] = [parent[key]]
        return doc

    return apply
