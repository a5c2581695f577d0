"""Emit the per-PE C programs of a placed, routed graph (the ``emit-c`` pass calls :func:`emit_program`).

Output tree (every path relative to the build's ``c/`` directory, byte-identical for the same input):

``common/aedc_pe.h``, ``common/chip_runtime.c``
    the kernel ↔ runtime interface with the synapse-format helpers, and the SpiNNaker2 PE runtime
    (vector table, timer-tick loop, packet queue, NoC send).
``pe_<cx>_<cy>_<qx>_<qy>_<p>/kernel.c``, ``data.c``, ``layout.h``, ``link.ld``, ``Makefile``
    the event-driven kernel of the PE's slices, its data image (parameters, host-computed float32
    constants, synapse rows / dense blocks, master population table, routing info, destination QPE
    lists, event histories), the layout header (sizes of every region), the linker script (the
    machine's ITCM and DTCM, the stack at its top) and the per-PE cross-build.
``host/host_table.c``
    the host runtime's view of the program: every PE, the tick order of the slices, inputs and traces.
``Makefile``, ``manifest.json``
    builds every PE; PE → files, slices, key ranges, bytes per region.

Program of one PE tick ``t`` (chip and host alike):

1. ``begin_tick(t)`` clears slot ``t`` of every event history;
2. received packets are drained (the host runtime sorts them by key): the master population table maps
   the key to an event history, the event is stored there at ``key − base`` in slot ``t``;
3. ``slice_tick(k, t)`` per slice: the synaptic input starts at +0.0; incoming projections in graph
   order, presynaptic blocks in ascending order, events in ascending presynaptic index read the history
   slot of tick ``t − latency`` and add their row (ascending postsynaptic index) — the reference's
   summation order for *any* delays, because the delay buffer holds events rather than partial sums;
   sigma-delta projections sum into a persistent accumulator that is then added; ``x = input + bias``;
   the neuron update uses float32 constants computed on the host (never ``expf`` on the PE);
4. events leave as one packet per destination QPE with a PE mask (payload = float32 bits for graded
   and sigma-delta events).

This module only orders the work; each concern has its module (listed in :mod:`aedc.codegen`).
"""

from __future__ import annotations

from importlib import resources

from aedc.codegen.build_files import (
    host_table,
    linker_script,
    manifest,
    pe_dirname,
    pe_makefile,
    pe_record,
    top_makefile,
)
from aedc.codegen.kernels import KERNEL_MODELS, NEURON_KERNELS
from aedc.codegen.model import Sources
from aedc.codegen.pe import PEEmitter
from aedc.codegen.program import Program
from aedc.errors import CodegenError
from aedc.ir.graph import Graph
from aedc.ir.topology import topo_order
from aedc.partition.model import Placement
from aedc.routing.model import RoutingTables

__all__ = ["KERNEL_MODELS", "emit_program", "pe_dirname"]

RUNTIME_FILES = ("aedc_pe.h", "chip_runtime.c")


def _runtime_text(name: str) -> str:
    return resources.files("aedc.codegen").joinpath("runtime", name).read_text(encoding="utf-8")


def emit_program(graph: Graph, placement: Placement, tables: RoutingTables, *,
                 tick_us: int = 1000) -> Sources:
    """The C sources of every used PE of ``placement`` (see the module docstring); the PEs' timer
    ticks every ``tick_us`` µs."""
    if tick_us < 1:
        raise CodegenError(f"tick period must be ≥ 1 µs (got {tick_us})")
    bad = [p for p in graph.populations if p.neuron.model not in NEURON_KERNELS]
    if bad:
        names = ", ".join(f"'{p.name}' ({p.neuron.model})" for p in bad)
        raise CodegenError(f"no C kernel for the neuron model of population(s) {names}; models with a "
                           f"kernel: {', '.join(NEURON_KERNELS)}", where=bad[0].name)
    prog = Program(graph, placement, tables.routes, tables.machine, tick_us)
    files: dict[str, str] = {f"common/{name}": _runtime_text(name) for name in RUNTIME_FILES}
    pe_common = {"link.ld": linker_script(tables.machine), "Makefile": pe_makefile()}
    records = []
    slot_of: dict[int, tuple[int, int]] = {}
    for i, usage in enumerate(placement.pes):
        em = PEEmitter(prog, usage.pe, usage.slices)
        pe_files = {**em.build(), **pe_common}
        d = pe_dirname(usage.pe)
        for name, text in pe_files.items():
            files[f"{d}/{name}"] = text
        for k, idx in enumerate(usage.slices):
            slot_of[idx] = (i, k)
        records.append(pe_record(prog, usage, list(pe_files), em.sizes))
    ticking = [idx for name in topo_order(graph)
               for idx in (*prog.synapse_slices[name], *prog.neuron_slices[name])]
    order = [slot_of[idx] for idx in ticking]
    inputs = []
    off = 0
    for name in graph.inputs:
        for idx in prog.neuron_slices[name]:
            s = prog.slices[idx]
            inputs.append([*slot_of[idx], off + s.lo, s.size])
        off += prog.pops[name].size
    neuron = [prog.slices[idx].role == "neuron" for idx in ticking]
    sizes = [prog.slices[idx].size if nr else 0 for idx, nr in zip(ticking, neuron, strict=True)]
    nstate = [len(type(prog.pops[prog.slices[idx].population].neuron).STATE) if nr else 0
              for idx, nr in zip(ticking, neuron, strict=True)]
    files["host/host_table.c"] = host_table(placement, order, inputs, off, sizes, nstate)
    files["Makefile"] = top_makefile([pe_dirname(u.pe) for u in placement.pes])
    files["manifest.json"] = manifest(graph, prog, records, order, inputs, off, slot_of)
    return Sources(files=tuple(sorted((k, v.encode()) for k, v in files.items())))
