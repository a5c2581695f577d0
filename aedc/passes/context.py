"""Compile options and diagnostics of one compilation, passed explicitly to every pass.

There are no globals, singletons or environment variables that change what a pass produces: everything
a pass may consult besides the :class:`~aedc.passes.state.CompileState` is in :class:`PassContext`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from aedc.machine import Machine
    from aedc.passes.instruments import PassInstrument

Severity = Literal["note", "warning", "error"]


@dataclass(frozen=True)
class Diagnostic:
    """One message a pass wants a user to see (e.g. why a population was not fused, what was removed)."""

    pass_name: str
    message: str
    severity: Severity = "note"
    where: str | None = None  # the population/projection concerned, machine-readable

    def __str__(self) -> str:
        return f"{self.severity}: [{self.pass_name}] {self.message}"


class Diagnostics:
    """An append-only collector of :class:`Diagnostic`, in the order passes reported them."""

    def __init__(self) -> None:
        self._items: list[Diagnostic] = []

    def add(self, diagnostic: Diagnostic) -> None:
        self._items.append(diagnostic)

    @property
    def items(self) -> tuple[Diagnostic, ...]:
        return tuple(self._items)

    def of(self, pass_name: str) -> tuple[Diagnostic, ...]:
        """The diagnostics reported by the pass called ``pass_name``."""
        return tuple(d for d in self._items if d.pass_name == pass_name)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(tuple(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Diagnostics({self._items!r})"


@dataclass(frozen=True)
class PassContext:
    """Options of one compilation.

    ``seed`` and ``jobs`` are for passes that search or parallelise (placement); they never change the
    result of a deterministic pass. ``verify_each`` runs the IR verifier after every pass.
    ``dump_after`` names passes after which the state is written to ``dump_dir`` as
    ``NN-<pass>.json`` (``NN`` = 1-based position in the pipeline; ``"*"`` dumps after every pass).
    ``instruments`` are called before and after each pass. ``target`` is the machine model to compile
    for (``None``: one SpiNNaker2 chip, :data:`aedc.machine.SPINNAKER2`).
    """

    seed: int = 0
    jobs: int = 1
    verify_each: bool = True
    dump_after: tuple[str, ...] = ()
    dump_dir: Path | None = None
    instruments: tuple[PassInstrument, ...] = ()
    diagnostics: Diagnostics = field(default_factory=Diagnostics, compare=False)
    target: Machine | None = None

    def __post_init__(self) -> None:
        if self.jobs < 1:
            raise ValueError(f"PassContext.jobs must be >= 1 (got {self.jobs})")
        # accept lists and str paths from callers, store the immutable/typed forms
        object.__setattr__(self, "dump_after", tuple(self.dump_after))
        object.__setattr__(self, "instruments", tuple(self.instruments))
        if self.dump_dir is not None:
            object.__setattr__(self, "dump_dir", Path(self.dump_dir))

    def report(self, pass_name: str, message: str, *, severity: Severity = "note",
               where: str | None = None) -> None:
        """Record a diagnostic from ``pass_name``."""
        self.diagnostics.add(Diagnostic(pass_name, message, severity, where))
