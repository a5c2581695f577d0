"""The build tree around the PE sources: directory names, linker script, PE and top Makefiles, the host
runtime's table of the program and ``manifest.json``.

Their numbers are not written here: the memory map comes from :class:`aedc.machine.Machine`, the
compiler and flags from :mod:`aedc.codegen.build` (which runs the same command as the Makefiles).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aedc.codegen.build import (
    CROSS_CC,
    CROSS_CFLAGS,
    CROSS_INCLUDES,
    CROSS_LDFLAGS,
    CROSS_LIBS,
    CROSS_SOURCES,
    CROSS_TARGET_CFLAGS,
    PE_ELF,
)
from aedc.codegen.program import Program
from aedc.ir.graph import Graph
from aedc.machine import ITCM_BASE, Machine, PEAddress
from aedc.partition.model import PEUsage, Placement

__all__ = ["host_table", "linker_script", "manifest", "pe_dirname", "pe_makefile", "pe_record",
           "top_makefile"]


def pe_dirname(pe: PEAddress) -> str:
    """The directory of PE ``pe``'s sources in the build tree."""
    return f"pe_{pe.chip[0]}_{pe.chip[1]}_{pe.qpe[0]}_{pe.qpe[1]}_{pe.pe}"


def _kib(n: int) -> str:
    return f"{n // 1024} KiB" if n % 1024 == 0 else f"{n:,} B"


def _ld_size(n: int, *, expr: bool = False) -> str:
    """``n`` bytes as a linker-script number: ``32K`` (a LENGTH) or ``26 * 1024`` (an expression)."""
    if n % 1024:
        return str(n)
    return f"{n // 1024} * 1024" if expr else f"{n // 1024}K"


def linker_script(machine: Machine) -> str:
    """``link.ld``: code in ITCM, data in DTCM below the stack, the budgets of the memory model."""
    m = machine
    return f"""/* SpiNNaker2 PE: {_kib(m.sram_bytes)} SRAM = ITCM {_kib(m.itcm_bytes)} (code) + \
DTCM {_kib(m.dtcm_bytes)} (data),
   {_kib(m.stack_bytes)} stack at 0x{m.stack_base:X}. */
MEMORY
{{
    ITCM (rx)  : ORIGIN = 0x{ITCM_BASE:08x}, LENGTH = {_ld_size(m.itcm_bytes)}
    DTCM (rw)  : ORIGIN = 0x{m.dtcm_base:08x}, LENGTH = {_ld_size(m.dtcm_bytes)}
}}

ENTRY(aedc_reset)

SECTIONS
{{
    .text : {{ KEEP(*(.vectors)) *(.text .text.*) }} > ITCM
    /* static runtime data (must fit {_kib(m.static_data_bytes)}) */
    .data : {{ *(.rodata .rodata.*) *(.data .data.*) }} > DTCM
    .bss (NOLOAD) : {{ *(.bss .bss.*) *(COMMON) }} > DTCM
    /* dynamically placed regions of the memory model (must fit {m.dynamic_region_bytes:,} B) */
    .aedc_image : ALIGN({m.region_alignment}) {{ *(.aedc_image) }} > DTCM
    .aedc_state (NOLOAD) : ALIGN({m.region_alignment}) {{ *(.aedc_state) }} > DTCM
    ASSERT(SIZEOF(.data) + SIZEOF(.bss) <= {_ld_size(m.static_data_bytes, expr=True)}, \
"static .data/.bss over {_kib(m.static_data_bytes)}")
    ASSERT(. <= 0x{m.stack_base:X}, "DTCM overflow: data reaches the stack at 0x{m.stack_base:X}")
    __stack_top = 0x{m.stack_top:X};
    /DISCARD/ : {{ *(.ARM.exidx*) *(.comment) }}
}}
"""


def pe_makefile() -> str:
    """The cross-build of one PE: the command :func:`aedc.codegen.build.cross_build` runs."""
    rest = " ".join((*CROSS_CFLAGS[len(CROSS_TARGET_CFLAGS):], *CROSS_INCLUDES))
    return f"""# Cross-build of one PE program (run from the build's c/ directory: make -C <pe dir>).
CC = {CROSS_CC}
CFLAGS = {" ".join(CROSS_TARGET_CFLAGS)} \\
         {rest}
LDFLAGS = {" ".join(CROSS_LDFLAGS)}

{PE_ELF}: kernel.c data.c layout.h ../common/aedc_pe.h ../common/chip_runtime.c link.ld
\t$(CC) $(CFLAGS) $(LDFLAGS) -o $@ {" ".join((*CROSS_SOURCES, *CROSS_LIBS))}

clean:
\trm -f {PE_ELF}
.PHONY: clean
"""


def top_makefile(dirs: Sequence[str]) -> str:
    """Builds every PE directory (``make -j``)."""
    elfs = " ".join(f"{d}/{PE_ELF}" for d in dirs)
    rules = "".join(f"{d}/{PE_ELF}: FORCE\n\t$(MAKE) -C {d}\n" for d in dirs)
    return ("# Cross-build every PE program: make -j (needs arm-none-eabi-gcc).\n"
            f"all: {elfs}\n{rules}FORCE:\n"
            "clean:\n" + "".join(f"\t$(MAKE) -C {d} clean\n" for d in dirs) + ".PHONY: all clean FORCE\n")


def pe_record(prog: Program, usage: PEUsage, files: Sequence[str], sizes: dict[str, int]) -> dict[str, Any]:
    """The manifest entry of one PE: its files, slices with their key blocks, emitted and predicted bytes."""
    d = pe_dirname(usage.pe)
    return {
        "pe": str(usage.pe), "dir": d, "files": sorted(f"{d}/{n}" for n in files),
        "slices": [{"slice": idx, "label": prog.slices[idx].label,
                    "population": prog.slices[idx].population, "lo": prog.slices[idx].lo,
                    "hi": prog.slices[idx].hi, "key_base": prog.block_of[idx].base,
                    "key_mask": prog.block_of[idx].mask,
                    "state": list(type(prog.pops[prog.slices[idx].population].neuron).STATE)}
                   for idx in usage.slices],
        "bytes": {"emitted": dict(sorted(sizes.items())),
                  "emitted_total": sum(sizes.values()), "predicted": usage.memory.model_dump(mode="json")},
    }


def manifest(graph: Graph, prog: Program, pes: list[dict[str, Any]], order: Sequence[tuple[int, int]],
             inputs: Sequence[Sequence[int]], width: int, slot_of: dict[int, tuple[int, int]]) -> str:
    """``manifest.json``: PE → files, slices, key ranges and bytes; the tick order; inputs; populations."""
    doc = {"format": "aedc-codegen", "version": 1, "graph": graph.name,
           "pes": pes,
           "tick_order": [list(o) for o in order],
           "inputs": {"populations": list(graph.inputs), "slices": [list(i) for i in inputs], "width": width},
           "populations": {p.name: {"shape": list(p.shape), "size": p.size,
                                    "state": list(type(p.neuron).STATE),
                                    "slices": [slot_of[i] for i in prog.neuron_slices[p.name]]}
                           for p in graph.populations}}
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def host_table(placement: Placement, order: Sequence[tuple[int, int]], inputs: Sequence[Sequence[int]],
               width: int, sizes: Sequence[int], nstate: Sequence[int]) -> str:
    """``host/host_table.c``: the host runtime's view of the program (PEs, tick order, inputs)."""
    lines = ["/* The host runtime's view of the program: generated by aedc — do not edit. */",
             "#include \"aedc_pe.h\"", ""]
    for i, _u in enumerate(placement.pes):
        lines.append(f"extern const aedc_pe_t aedc_pe_{i};")
    lines.append("const aedc_pe_t *const aedc_host_pes[] = {"
                 + ", ".join(f"&aedc_pe_{i}" for i in range(len(placement.pes))) + "};")
    lines.append("/* PE address packed like AEDC_TARGET, with the PE number in bits 0..3 */")
    lines.append("const uint32_t aedc_host_addr[] = {"
                 + ", ".join(f"AEDC_TARGET({u.pe.chip[0]}, {u.pe.chip[1]}, {u.pe.qpe[0]}, {u.pe.qpe[1]}, "
                             f"{u.pe.pe})" for u in placement.pes) + "};")
    lines.append(f"const uint32_t aedc_host_n_pes = {len(placement.pes)}u;")
    lines.append("/* slices in tick order (topological order of their populations): PE, slice */")
    flat = ", ".join(f"{{{a}u, {b}u}}" for a, b in order) or "{0u, 0u}"
    lines.append(f"const uint32_t aedc_host_order[][2] = {{{flat}}};")
    lines.append(f"const uint32_t aedc_host_n_order = {len(order)}u;")
    lines.append("const uint32_t aedc_host_slice_sizes[] = {" + (", ".join(f"{v}u" for v in sizes) or "0u")
                 + "};")
    lines.append("const uint32_t aedc_host_slice_states[] = {"
                 + (", ".join(f"{v}u" for v in nstate) or "0u") + "};")
    lines.append("/* input slices: PE, slice, offset in the per-tick input vector, neurons */")
    flat_in = ", ".join("{" + ", ".join(f"{v}u" for v in row) + "}" for row in inputs) or "{0u, 0u, 0u, 0u}"
    lines.append(f"const uint32_t aedc_host_inputs[][4] = {{{flat_in}}};")
    lines.append(f"const uint32_t aedc_host_n_inputs = {len(inputs)}u;")
    lines.append(f"const uint32_t aedc_host_input_width = {width}u;")
    return "\n".join(lines) + "\n"
