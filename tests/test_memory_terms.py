"""The partition memory model, term by term, against what codegen emits and what the linker places
(issue 22 item 2).

The slicer trusts :func:`aedc.partition.memory.slice_cost` to say how many bytes a slice needs; an
over-estimate wastes PEs, an under-estimate overflows DTCM after mapping. Oracle: the bytes of every
array codegen writes, per term (``manifest.json``: ``bytes.emitted``), and with the Arm toolchain the
sizes of the ELF's ``.aedc_image`` + ``.aedc_state`` sections. Binary, graded and sigma-delta traffic,
with and without delays, sparse rows and dense blocks, several key blocks per projection.

Terms the model computes exactly must be equal. Four are bounds by design, each with its slack
stated: synapse rows and dense blocks (the 16-byte alignment of each key block's arrays, at most 12 +
16 − word bytes and 15 bytes per block: the model counts the worst case, since blocks are not known
per PE when slicing), destination lists (the slicer knows only an upper bound of the destination
QPEs before placement) and the event runtime's state (the candidate buffer's one spare entry, counted
by every non-spiking slice: 16 B per extra slice on a PE).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from aedc.codegen.build import cross_build, cross_compiler
from aedc.frontend.builder import Network
from aedc.passes import CompileState, PassContext, PassManager

F32 = np.float32
EXACT = ("neuron_state", "neuron_params", "ring_buffer", "event_history", "master_pop_table",
         "routing_info", "weight_tables", "input_buffers", "recording")
BOUNDED = ("synapse_rows", "dense_blocks", "targets", "event_state")


def network(rule: str, delay: int) -> Any:
    """600 inputs → 500 hidden (sparse, 10 %: rows format over several key blocks) → 10 LI readout
    (dense, delay 1); the hidden layer sends ``rule`` events."""
    rng = np.random.default_rng(0)
    w = rng.normal(size=(500, 600)).astype(F32)
    w = np.where(rng.random((500, 600)) < 0.1, w, 0).astype(F32)
    net = Network(f"mem-{rule}-{delay}", dt=1e-3)
    net.input("x", 600, event_rule=rule)
    if rule == "binary":
        net.population("h", 500, "cuba_lif", tau_syn=0.005, tau_mem=0.02, v_threshold=0.5)
    else:
        net.population("h", 500, "relu", event_rule=rule,
                       **({"event_threshold": 0.05} if rule == "sigma_delta" else {}))
    net.population("o", 10, "li", tau=0.02, event_rule="graded")
    net.dense("x", "h", w, delay=delay)
    net.dense("h", "o", rng.normal(size=(10, 500)).astype(F32), delay=1)
    net.output("y", "o")
    return net.build()


def compile_c(rule: str, delay: int, *, event: bool = False) -> CompileState:
    ev = "{event=true}" if event else ""
    state = PassManager(f"verify,slice{ev},place{{solver=greedy}},route,emit-c{ev}").run(
        CompileState(graph=network(rule, delay)), PassContext())
    assert state.sources is not None
    return state


CASES = [(r, d, False) for r in ("binary", "graded", "sigma_delta") for d in (0, 3)]
CASES += [("binary", 3, True)]  # the event-driven runtime's state (emit-c{event=true})


@pytest.mark.parametrize(("rule", "delay", "event"), CASES)
def test_every_term_of_every_pe(rule: str, delay: int, event: bool) -> None:
    state = compile_c(rule, delay, event=event)
    assert state.sources is not None
    pes = state.sources.manifest["pes"]
    assert len(pes) >= 5  # the hidden layer is sliced: several key blocks per projection
    seen: set[str] = set()
    for pe in pes:
        emitted, predicted = pe["bytes"]["emitted"], pe["bytes"]["predicted"]
        for term in EXACT:
            assert emitted.get(term, 0) == predicted[term], (pe["pe"], term, emitted, predicted)
            if predicted[term]:
                seen.add(term)
        blocks = predicted["master_pop_table"] // 12
        slack = {"synapse_rows": blocks * (12 + 16 - 2) + 16, "dense_blocks": blocks * 15 + 16,
                 "targets": predicted["targets"], "event_state": 16 * (len(pe["slices"]) - 1)}
        for term in BOUNDED:
            got = emitted.get(term, 0)
            assert got <= predicted[term] <= got + slack[term], (pe["pe"], term, got, predicted[term])
        if predicted["event_state"]:
            seen.add("event_state")
    # the exact terms this network exercises (h → o has delay 1: event histories in every case)
    assert {"neuron_state", "ring_buffer", "master_pop_table", "input_buffers", "event_history",
            "weight_tables"} <= seen
    assert ("event_state" in seen) == event


def test_sigma_delta_state_is_counted_where_it_lives() -> None:
    """A sigma-delta neuron keeps its last sent value (one float32), its receivers one accumulator per
    neuron; a sigma-delta *input* keeps neither (the host streams changes)."""
    state = compile_c("sigma_delta", 0)
    assert state.placement is not None
    for s in state.placement.slicing.slices:
        n = s.hi - s.lo
        want = {"x": 0, "h": 16 * -(-4 * n // 16) * 2, "o": 16 * -(-4 * n // 16) * 2}[s.population]
        assert s.memory.neuron_state == want, s.label


@pytest.mark.skipif(cross_compiler() is None, reason="needs arm-none-eabi-gcc")
def test_elf_data_sections_equal_the_emitted_arrays(tmp_path: Any) -> None:
    """With the Arm toolchain: every PE's ``.aedc_image`` + ``.aedc_state`` is the sum of the emitted
    terms (every array 16-byte aligned, so the linker adds only the padding it leaves off the last
    array of each section) and within the model's prediction."""
    state = compile_c("graded", 3)
    assert state.sources is not None
    state.sources.write(tmp_path)
    sizes = cross_build(tmp_path)
    by_pe = {pe["pe"]: pe["bytes"] for pe in state.sources.manifest["pes"]}
    for s in sizes:
        b = by_pe[s.pe]
        data = sum(v for k, v in b["emitted"].items() if k != "code")
        # the last array of each of the two sections is not padded out to 16 bytes
        assert 0 <= data - s.dynamic < 2 * 16, (s, data)
        assert s.dynamic <= b["predicted"]["total"], s
