"""Codegen's tables cover the IR: a kernel for every neuron model, an encoder for every synapse format and
weight type; and the numbers the build files spell come from their one source (machine, flags, memory
model)."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from typing import get_args

import numpy as np
import pytest

from aedc.codegen.build import CROSS_CFLAGS, CROSS_INCLUDES, CROSS_LDFLAGS
from aedc.codegen.build_files import linker_script, pe_makefile
from aedc.codegen.history import ReceiveSide
from aedc.codegen.kernels import NEURON_KERNELS
from aedc.codegen.pe_files import kernel_c
from aedc.codegen.synapses import SYNAPSE_ENCODERS, encoder_for
from aedc.errors import CodegenError
from aedc.ir.discretise import neuron_constants
from aedc.ir.neurons import NEURON_MODELS
from aedc.ir.options import PROFILES, Semantics
from aedc.machine import Machine
from aedc.partition.memory import FIXED_PE_BYTES
from aedc.partition.model import ProjectionFormat, SynapseFormatName, WeightType


def assert_covers(table: str, required: Iterable[str], have: Collection[str]) -> None:
    """Fail naming every required key that ``have`` lacks."""
    missing = [name for name in required if name not in have]
    if missing:
        raise AssertionError(f"{table} has no entry for {', '.join(repr(m) for m in missing)}")


def test_every_neuron_model_has_a_kernel() -> None:
    assert_covers("NEURON_KERNELS", NEURON_MODELS, NEURON_KERNELS)


def test_every_synapse_format_and_weight_type_has_an_encoder() -> None:
    assert_covers("SYNAPSE_ENCODERS (formats)", get_args(SynapseFormatName), {f for f, _ in SYNAPSE_ENCODERS})
    assert_covers("SYNAPSE_ENCODERS (weight types)", get_args(WeightType), {w for _, w in SYNAPSE_ENCODERS})


def test_a_missing_entry_is_reported_by_name() -> None:
    without_lif = {m: k for m, k in NEURON_KERNELS.items() if m != "lif"}
    with pytest.raises(AssertionError, match=r"^NEURON_KERNELS has no entry for 'lif'$"):
        assert_covers("NEURON_KERNELS", NEURON_MODELS, without_lif)
    with pytest.raises(AssertionError, match=r"no entry for 'int8'$"):
        assert_covers("weight types", get_args(WeightType), {w for _, w in SYNAPSE_ENCODERS if w != "int8"})


def test_a_format_pair_without_encoder_is_a_codegen_error() -> None:
    fmt = ProjectionFormat(projection="p", format="rows", weight_type="int8", rows_bytes=0, dense_bytes=None)
    with pytest.raises(CodegenError, match=r"'p': no synapse encoder for format rows with int8 weights"):
        encoder_for(fmt)


@pytest.mark.parametrize("model", sorted(NEURON_MODELS))
def test_kernel_parameters_resolve_and_updates_define_value(model: str) -> None:
    """Every macro a kernel reads is a host constant of the model or one of its fields, every host
    constant is read, and under every profile the update defines ``value``."""
    cls = NEURON_MODELS[model]
    kernel = NEURON_KERNELS[model]
    neuron = cls(**{p: np.ones(3, np.float32) for p in cls.PARAMS})
    consts = set(neuron_constants(neuron, Semantics()))
    assert_covers(f"constants and fields of {model}", kernel.params, consts | set(cls.PARAMS))
    assert_covers(f"params of the {model} kernel", consts, kernel.params)
    if kernel.update is None:
        assert model == "input"
        return
    for sem in (*PROFILES.values(), Semantics()):
        code = kernel.update(0, sem)
        assert any(line.startswith("float value = ") for line in code.lines), (model, sem.profile)
        assert all(not line.startswith(" ") for line in code.lines)


# ---- numbers with one source -----------------------------------------------------------------------------

def test_linker_script_is_the_machine_memory_map() -> None:
    text = linker_script(Machine())
    assert "ITCM (rx)  : ORIGIN = 0x00000000, LENGTH = 32K" in text
    assert "DTCM (rw)  : ORIGIN = 0x00008000, LENGTH = 96K" in text
    assert "<= 26 * 1024," in text
    assert "(must fit 67,328 B)" in text
    assert "ASSERT(. <= 0x1F000," in text
    assert "__stack_top = 0x20000;" in text
    other = linker_script(Machine(dynamic_region_bytes=50_000, stack_base=0x1E000, stack_bytes=8192))
    assert "(must fit 50,000 B)" in other
    assert "ASSERT(. <= 0x1E000," in other
    assert "__stack_top = 0x20000;" in other


def test_pe_makefile_runs_the_command_of_cross_build() -> None:
    text = pe_makefile().replace("\\\n", " ")
    cflags = re.search(r"^CFLAGS = (.*)$", text, re.M)
    ldflags = re.search(r"^LDFLAGS = (.*)$", text, re.M)
    assert cflags is not None
    assert ldflags is not None
    assert cflags.group(1).split() == [*CROSS_CFLAGS, *CROSS_INCLUDES]
    assert ldflags.group(1).split() == list(CROSS_LDFLAGS)


def test_kernel_fixed_regions_are_the_memory_model_fixed_term() -> None:
    text = kernel_c("", ReceiveSide((), (), (), ()), ["/* slice */"], [], [[]])
    queue = re.search(r"#define AEDC_RXQ_LEN (\d+)u", text)
    counters = re.search(r"static uint32_t counters\[(\d+)\] AEDC_STATE", text)
    assert queue is not None
    assert counters is not None
    assert "static uint32_t rxq[AEDC_RXQ_LEN][2] AEDC_STATE" in text  # key + payload words
    assert int(queue.group(1)) * 8 + int(counters.group(1)) * 4 == FIXED_PE_BYTES
