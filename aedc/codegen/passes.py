"""The ``emit-c`` pass: a thin adapter over :func:`aedc.codegen.emit.emit_program`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from aedc.passes.base import Pass
from aedc.passes.context import PassContext
from aedc.passes.state import CompileState

__all__ = ["EmitC"]


@dataclass(frozen=True)
class EmitC(Pass):
    """Generate the per-PE SpiNNaker2 C programs, data images, linker scripts and Makefiles.

    The result is the ``sources`` artifact (:class:`aedc.codegen.model.Sources`); ``aedc compile``
    writes it to ``<build>/c/``. Options: ``tick-us``, the PEs' timer period (µs); ``event``, add the
    event-driven schedule's runtime (:func:`aedc.codegen.event_emit.emit_event_program`; budget its
    state with ``slice{event=true}``).
    """

    name: ClassVar[str] = "emit-c"
    requires: ClassVar[frozenset[str]] = frozenset({"graph", "slices", "placement", "tables"})
    produces: ClassVar[frozenset[str]] = frozenset({"sources"})

    tick_us: int = 1000
    event: bool = False

    def apply(self, ctx: PassContext, state: CompileState) -> CompileState:
        from aedc.codegen.emit import emit_program
        from aedc.codegen.event_emit import emit_event_program
        placement, tables = state.require("placement"), state.require("tables")
        emit = emit_event_program if self.event else emit_program
        sources = emit(state.graph, placement, tables, tick_us=self.tick_us)
        n = len(placement.pes)
        ctx.report(self.name, f"{n} PE program{'s' if n != 1 else ''}, {len(sources.files)} files")
        budget = tables.machine.dynamic_region_bytes
        over = [(pe["pe"], pe["bytes"]["emitted_total"]) for pe in sources.manifest["pes"]
                if pe["bytes"]["emitted_total"] > budget]
        if over:
            worst = max(over, key=lambda o: o[1])
            ctx.report(self.name, f"{len(over)} PE(s) emit more data than the DTCM budget {budget:,} B "
                                  f"(worst: PE {worst[0]}, {worst[1]:,} B; the memory model does not count "
                                  f"32-bit rows' weight tables): lower slice{{max-neurons=...}}",
                       severity="warning", where=worst[0])
        return replace(state, sources=sources)
