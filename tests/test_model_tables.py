"""Every neuron model of the IR has an entry in every backend's table, keyed by model name.

Tables: :data:`aedc.ir.discretise.NEURON_CONSTANTS` (host constants), :data:`aedc.reference.neurons.
NEURON_UPDATES`, :data:`aedc.emulator.neurons.NEURON_UPDATES`, :data:`aedc.partition.memory.CODE_PER_MODEL`
and :data:`aedc.codegen.kernels.NEURON_KERNELS`. A model missing from one fails here, by name, instead of
deep in a pass; the lookups themselves refuse a missing model with an error naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import get_args

import numpy as np
import pytest

from aedc import Network
from aedc.codegen import kernels as codegen_kernels
from aedc.codegen.synapses import SYNAPSE_ENCODERS
from aedc.emulator import Emulator
from aedc.emulator import neurons as emulator_neurons
from aedc.errors import EmulatorError, SimulationError, VerifyError
from aedc.ir import Graph, discretise
from aedc.ir.neurons import NEURON_MODELS
from aedc.partition import memory
from aedc.partition.model import SynapseFormatName
from aedc.reference import neurons as reference_neurons
from aedc.reference import simulate

TABLES: dict[str, Mapping[str, object]] = {
    "aedc.ir.discretise.NEURON_CONSTANTS": discretise.NEURON_CONSTANTS,
    "aedc.reference.neurons.NEURON_UPDATES": reference_neurons.NEURON_UPDATES,
    "aedc.emulator.neurons.NEURON_UPDATES": emulator_neurons.NEURON_UPDATES,
    "aedc.partition.memory.CODE_PER_MODEL": memory.CODE_PER_MODEL,
    "aedc.codegen.kernels.NEURON_KERNELS": codegen_kernels.NEURON_KERNELS,
}
NOT_MODELS = {"aedc.partition.memory.CODE_PER_MODEL": {"synapse"}}  # keys that name other kernels
MODELS = sorted(NEURON_MODELS)


def check_entry(table_name: str, table: Mapping[str, object], model: str) -> None:
    """Fail, naming the model and the table, when ``table`` has no entry for ``model``."""
    assert model in table, (f"neuron model '{model}' ({NEURON_MODELS[model].__name__}) has no entry in "
                            f"{table_name}; add one")


@pytest.mark.parametrize("table_name", sorted(TABLES))
@pytest.mark.parametrize("model", MODELS)
def test_every_model_has_an_entry(model: str, table_name: str) -> None:
    check_entry(table_name, TABLES[table_name], model)


@pytest.mark.parametrize("fmt", get_args(SynapseFormatName))
def test_every_synapse_format_has_memory_terms_and_an_encoder(fmt: str) -> None:
    """Synapse formats are the other axis: the memory model and codegen each keep one table."""
    assert fmt in memory.SYNAPSE_TERMS, f"synapse format '{fmt}' has no entry in memory.SYNAPSE_TERMS"
    assert any(f == fmt for f, _ in SYNAPSE_ENCODERS), f"synapse format '{fmt}' has no codegen encoder"


@pytest.mark.parametrize("table_name", sorted(TABLES))
def test_tables_have_no_entry_for_a_model_the_ir_lacks(table_name: str) -> None:
    stale = set(TABLES[table_name]) - set(NEURON_MODELS) - NOT_MODELS.get(table_name, set())
    assert not stale, f"{table_name} has entries for unknown models {sorted(stale)}"


def test_check_entry_names_the_missing_model() -> None:
    table = {m: None for m in MODELS if m != "cuba_lif"}
    check_entry("a table", table, "lif")
    with pytest.raises(AssertionError, match=r"neuron model 'cuba_lif' \(CubaLIFModel\) has no entry in "
                                             r"a table"):
        check_entry("a table", table, "cuba_lif")


@pytest.mark.parametrize("model", MODELS)
def test_emulator_stages_read_parameters_the_model_has(model: str) -> None:
    params = emulator_neurons.stage_params(emulator_neurons.NEURON_UPDATES[model])
    assert set(params) <= set(NEURON_MODELS[model].PARAMS), model


# ---- the lookups refuse a model without an entry, naming it ----------------------------------------------

def _lif_graph() -> Graph:
    net = Network("one")
    net.input("x", 1, event_rule="graded")
    net.population("n", 1, "lif", tau=0.01, v_threshold=1.0)
    net.dense("x", "n", [[1.0]])
    net.output("y", "n")
    return net.build()


X = np.ones((3, 1), np.float32)


def test_discretise_refuses_a_model_without_constants(monkeypatch: pytest.MonkeyPatch) -> None:
    graph = _lif_graph()
    monkeypatch.delitem(discretise.NEURON_CONSTANTS, "lif")
    with pytest.raises(VerifyError, match=r"'lif' has no entry in aedc\.ir\.discretise\.NEURON_CONSTANTS"):
        discretise.neuron_constants(graph.pop_map()["n"].neuron, graph.semantics)


def test_reference_refuses_a_model_without_an_update(monkeypatch: pytest.MonkeyPatch) -> None:
    graph = _lif_graph()
    monkeypatch.delitem(reference_neurons.NEURON_UPDATES, "lif")
    with pytest.raises(SimulationError, match=r"population 'n': neuron model 'lif' has no entry"):
        simulate(graph, {"x": X})


def test_emulator_refuses_a_model_without_an_update(monkeypatch: pytest.MonkeyPatch) -> None:
    graph = _lif_graph()
    monkeypatch.delitem(emulator_neurons.NEURON_UPDATES, "lif")
    with pytest.raises(EmulatorError, match=r"population 'n': neuron model 'lif' has no entry"):
        Emulator(graph).run({"x": X})


def test_memory_model_refuses_a_model_without_code_bytes() -> None:
    assert memory.code_bytes(["lif"], []) == memory.CODE_RUNTIME + memory.CODE_PER_MODEL["lif"]
    with pytest.raises(NotImplementedError, match=r"\['hodgkin_huxley'\] have no entry in "
                                                  r"aedc\.partition\.memory\.CODE_PER_MODEL"):
        memory.code_bytes(["lif", "hodgkin_huxley"], [])
