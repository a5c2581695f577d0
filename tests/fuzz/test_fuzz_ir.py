"""Fuzz IR JSON: random documents from ``tests/strategies`` graphs, mutated blindly (any field dropped,
replaced by any JSON value incl. NaN/huge ints/bad arrays, duplicated, swapped, wrapped; the text
truncated) and on purpose (the defects a user's graph can have: self-loops without delay, duplicate
names, unicode names, edges to missing populations, NaN/inf/negative tau, empty graphs, large sizes).
Every case must compile with the default pipeline or end in an aedc error naming the field/node.
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import numpy as np
from fuzzlib import NAME_TEXT, SPECIAL_FLOATS, fuzz_settings, json_mutation, outcome
from hypothesis import given, note
from hypothesis import strategies as st
from strategies import graphs

from aedc.frontend.load import load_model
from aedc.ir import to_json
from aedc.passes import DEFAULT_PIPELINE

GRAPHS = graphs(max_pops=5, max_size=32)


def _compile_text(text: str, suffix: str = ".json") -> str:
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / f"g{suffix}"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        return outcome(lambda: load_model(path), DEFAULT_PIPELINE)


@fuzz_settings("ir_json")
@given(graph=GRAPHS, mutations=st.lists(json_mutation(), min_size=1, max_size=3),
       cut=st.one_of(st.none(), st.none(), st.none(), st.floats(0.0, 0.999)))
def test_fuzz_ir_json_blind(graph: Any, mutations: list, cut: float | None) -> None:
    doc = json.loads(to_json(graph))
    for m in mutations:
        doc = m(doc)
    text = json.dumps(doc, allow_nan=True)
    if cut is not None:
        text = text[: int(len(text) * cut)]
    note(text[:2000])
    note(_compile_text(text))


def _array(values: np.ndarray) -> dict[str, Any]:
    v = np.ascontiguousarray(values)
    return {"dtype": v.dtype.str, "shape": list(v.shape), "data": base64.b64encode(v.tobytes()).decode()}


@st.composite
def semantic_mutation(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(("self_loop", "dup_pop", "dup_proj", "rename", "missing_pre",
                                 "missing_post", "bad_param", "empty", "no_projections", "big_input",
                                 "delay", "output_missing", "dt", "zero_shape", "dup_output")))
    i = draw(st.integers(0, 10**6))
    name = draw(NAME_TEXT)
    special = draw(st.sampled_from(SPECIAL_FLOATS))
    delay = draw(st.sampled_from((-1, 0, 1, 7, 2**31, 10**12)))
    n = draw(st.sampled_from((1, 2, 1000, 100_000)))

    def apply(g: dict[str, Any]) -> str:
        pops, projs = g["populations"], g["projections"]
        if kind == "self_loop" and pops:
            p = pops[i % len(pops)]
            size = math.prod(p["shape"])
            projs.append({"name": f"{p['name']}->self", "pre": p["name"], "post": p["name"],
                          "conn": {"kind": "one_to_one", "weight": _array(np.ones(size, np.float32))},
                          "delay": 0, "back_edge": False, "meta": {}})
        elif kind == "dup_pop" and pops:
            pops.append(json.loads(json.dumps(pops[i % len(pops)])))
        elif kind == "dup_proj" and projs:
            projs.append(json.loads(json.dumps(projs[i % len(projs)])))
        elif kind == "rename" and pops:
            old = pops[i % len(pops)]["name"]
            pops[i % len(pops)]["name"] = name
            for pr in projs:
                for end in ("pre", "post"):
                    if pr[end] == old:
                        pr[end] = name
            g["outputs"] = {k: (name if v == old else v) for k, v in g["outputs"].items()}
        elif kind in ("missing_pre", "missing_post") and projs:
            projs[i % len(projs)][kind.split("_")[1]] = name
        elif kind == "bad_param" and pops:
            p = pops[i % len(pops)]
            arrays = [k for k, v in p["neuron"].items() if isinstance(v, dict)]
            if arrays:
                key = arrays[i % len(arrays)]
                size = math.prod(p["shape"])
                vals = np.full(size, special, np.float32) if i % 2 else np.ones(size, np.float32)
                if not i % 2 and size:
                    vals[i % size] = special
                p["neuron"][key] = _array(vals.reshape(p["shape"]))
        elif kind == "empty":
            pops.clear()
            projs.clear()
            g["outputs"] = {}
        elif kind == "no_projections":
            projs.clear()
        elif kind == "big_input":
            inputs = [p for p in pops if p["neuron"].get("model") == "input"]
            if inputs:
                p = inputs[i % len(inputs)]
                p["shape"] = [n]
        elif kind == "delay" and projs:
            projs[i % len(projs)]["delay"] = delay
        elif kind == "output_missing":
            g["outputs"][name] = name
        elif kind == "dt":
            g["semantics"]["dt"] = special
        elif kind == "zero_shape" and pops:
            pops[i % len(pops)]["shape"] = [0]
        elif kind == "dup_output" and pops:
            g["outputs"][name] = pops[i % len(pops)]["name"]
        return kind

    return apply


@fuzz_settings("ir_semantic")
@given(graph=GRAPHS, mutations=st.lists(semantic_mutation(), min_size=1, max_size=3))
def test_fuzz_ir_semantic_defects(graph: Any, mutations: list) -> None:
    doc = json.loads(to_json(graph))
    note(str([m(doc["graph"]) for m in mutations]))
    note(_compile_text(json.dumps(doc, allow_nan=True)))
