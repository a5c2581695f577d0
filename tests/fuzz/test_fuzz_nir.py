"""Fuzz the NIR frontend and the whole default pipeline with structurally mutated ``.nir`` files.

Seeds: the shared NIR paper examples (LIF from Norse and Rockpool, two LIF neurons, the Sinabs CNN;
profiles nir-euler and sinabs) and random IR graphs from ``tests/strategies`` exported with
:func:`aedc.frontend.write_nir`. Mutations (see :func:`fuzzlib.nir_mutation`): dropped/retyped
fields, wrong shapes, NaN/inf/negative values, huge shape fields, empty graphs, self-loops, duplicate
edges, unicode/dotted/empty names, edges to missing nodes, unknown fields and types, odd versions,
and truncation. Every case must compile or end in an aedc error naming the node/field.
"""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
from fuzzlib import (
    FAST_PIPELINE,
    OUTCOMES,
    SEEDS,
    check_error,
    copy_and_mutate,
    fuzz_settings,
    load_file,
    nir_mutation,
    outcome,
)
from hypothesis import given, note
from hypothesis import strategies as st
from strategies import graphs

from aedc.errors import AedcError
from aedc.frontend import write_nir
from aedc.ir.graph import Graph
from aedc.passes import DEFAULT_PIPELINE

TRUNCATE = st.one_of(st.none(), st.none(), st.none(), st.floats(0.0, 0.999))
# the CNN compiles in ~0.5 s (greedy placement), the LIF files in ~0.03 s: draw it 1 time in 7
SEED_NAMES = st.sampled_from(["lif_norse", "lif_rockpool", "two_lif"] * 2 + ["cnn_sinabs"])


@fuzz_settings("nir_paper")
@given(seed=SEED_NAMES, mutations=st.lists(nir_mutation(), min_size=1, max_size=3),
       truncate=TRUNCATE)
def test_fuzz_nir_paper_examples(seed: str, mutations: list, truncate: float | None) -> None:
    src, profile = SEEDS[seed]
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.nir"
        note(f"{seed}: {copy_and_mutate(src, path, mutations, truncate)}")
        pipeline = FAST_PIPELINE if seed == "cnn_sinabs" else DEFAULT_PIPELINE
        note(outcome(load_file(path, profile), pipeline))


def _unbiased(graph: Graph) -> Graph:
    """``graph`` with every population's bias set to 0."""
    pops = tuple(p.model_copy(update={"neuron": p.neuron.model_copy(update={
        "bias": np.zeros_like(np.asarray(p.neuron.bias))})}) for p in graph.populations)
    return graph.model_copy(update={"populations": pops})


@fuzz_settings("nir_graphs")
@given(graph=graphs(max_pops=5, max_size=32), mutations=st.lists(nir_mutation(), max_size=2),
       truncate=TRUNCATE)
def test_fuzz_nir_from_random_graphs(graph: object, mutations: list, truncate: float | None) -> None:
    with TemporaryDirectory() as tmp:
        src, path = Path(tmp) / "src.nir", Path(tmp) / "m.nir"
        try:
            write_nir(graph, src)  # type: ignore[arg-type]
        except AedcError as exc:  # the exporter refused (e.g. a bias it cannot express): fine
            check_error(exc)
            try:  # most refusals are biases NIR cannot carry: the unbiased graph still gets fuzzed
                write_nir(_unbiased(graph), src)  # type: ignore[arg-type]
            except AedcError as again:
                check_error(again)
                OUTCOMES[f"export refused {type(again).__name__}"] += 1
                return
        note(str(copy_and_mutate(src, path, mutations, truncate)))
        note(outcome(load_file(path, "nir-euler"), DEFAULT_PIPELINE))
