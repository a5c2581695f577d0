"""Per-PE SpiNNaker2 C generation, cross-compilation and host builds (see DESIGN.md "Codegen").

The stage's entry points (imported on first use, so ``import aedc.codegen`` stays light)::

    sources = emit_program(graph, placement, tables)   # the ``sources`` artifact (Sources)
    sizes = cross_build(c_dir, machine)                 # [PESize]; CodegenError if a PE does not fit
    trace = run_host(state | sources | build dir, inputs)   # the same C built for the host

The ``emit-c`` pass (:class:`aedc.codegen.passes.EmitC`) produces ``sources``; ``aedc compile`` writes
it to ``<build>/c/`` and, with ``--build``, cross-compiles it. ``run_host`` compiles the kernels with the
host gcc (``-O2 -ffp-contract=off``) against ``runtime/host_runtime.c`` and returns traces shaped like
:func:`aedc.reference.simulate.simulate`'s — bit-identical to it (and to the emulator's sync mode).

Modules, one concern each:

* :mod:`.emit` — ``emit_program``: orders the work below into the file tree (documented there).
* :mod:`.program` — facts of the whole placed program every PE reads (key blocks, destinations,
  synapses onto a neuron range).
* :mod:`.pe` — the sources of one PE: per slice routing info, synaptic input, parameters, tick code.
* :mod:`.kernels` — ``NEURON_KERNELS``: the C update of each neuron model (where a model is added).
* :mod:`.synapses` — ``SYNAPSE_ENCODERS``: rows and dense-block images per (format, weight type).
* :mod:`.history` — event histories, the master population table, how a port reads its events.
* :mod:`.pe_files` — the text of ``kernel.c``, ``data.c`` and ``layout.h``.
* :mod:`.build_files` — directory names, linker script and Makefiles (from the machine and the
  compiler flags), ``host/host_table.c``, ``manifest.json``.
* :mod:`.literals` — exact float32 literals, C arrays and state declarations, aligned sizes.
* :mod:`.model` — the ``Sources`` artifact; :mod:`.build` — ``cross_build``; :mod:`.host` —
  ``run_host``, ``build_host``; :mod:`.passes` — the ``emit-c`` pass; ``runtime/`` — the C runtimes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aedc.codegen.build import PESize, cross_build, cross_compiler
    from aedc.codegen.emit import emit_program
    from aedc.codegen.host import build_host, run_host
    from aedc.codegen.model import Sources

__all__ = ["PESize", "Sources", "build_host", "cross_build", "cross_compiler", "emit_program", "run_host"]

_HOME = {"PESize": "build", "cross_build": "build", "cross_compiler": "build", "emit_program": "emit",
         "build_host": "host", "run_host": "host", "Sources": "model"}


def __getattr__(name: str) -> Any:
    """Import an entry point's module on first use (``run_host`` pulls in the timing model)."""
    if name not in _HOME:
        raise AttributeError(f"module 'aedc.codegen' has no attribute {name!r}")
    return getattr(importlib.import_module(f"aedc.codegen.{_HOME[name]}"), name)
