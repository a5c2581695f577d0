"""Per-PE SpiNNaker2 C generation, cross-compilation and host builds (see DESIGN.md; issue 6).

API (import the modules; this package imports nothing heavy)::

    from aedc.codegen.emit import emit_program      # (graph, placement, tables) -> Sources
    from aedc.codegen.host import run_host           # (state | Sources | build dir, inputs) -> Trace
    from aedc.codegen.build import cross_build       # (c dir, machine) -> [PESize], CodegenError if too big

The ``emit-c`` pass (:class:`aedc.codegen.passes.EmitC`) produces the ``sources`` artifact
(:class:`aedc.codegen.model.Sources`); ``aedc compile`` writes it to ``<build>/c/`` and, with
``--build``, cross-compiles it. ``run_host`` compiles the same kernels with the host gcc
(``-O2 -ffp-contract=off``) against ``runtime/host_runtime.c`` and returns traces shaped like
:func:`aedc.reference.simulate.simulate`'s — bit-identical to it (and to the emulator's sync mode).
"""
