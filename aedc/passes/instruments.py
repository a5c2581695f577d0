"""Instruments: hooks called around every pass (timing, progress, anything a user wants to observe).

An instrument sees the pass and the state but must not change either; the pass manager calls
``before_pass`` just before ``apply`` and ``after_pass`` right after it (before verification and
dumping). Subclass :class:`PassInstrument` and override what you need.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aedc.passes.base import Pass
    from aedc.passes.context import PassContext
    from aedc.passes.state import CompileState


class PassInstrument:
    """Base instrument: both hooks do nothing."""

    def before_pass(self, index: int, pass_: Pass, state: CompileState, ctx: PassContext) -> None:
        """Called before pass number ``index`` (0-based) runs on ``state``."""

    def after_pass(self, index: int, pass_: Pass, state: CompileState, ctx: PassContext,
                   seconds: float) -> None:
        """Called after pass number ``index`` returned ``state`` after ``seconds`` of wall time."""


class TimingInstrument(PassInstrument):
    """Collects ``(pass, seconds)`` for every pass it sees, in order."""

    def __init__(self) -> None:
        self.timings: list[tuple[Pass, float]] = []

    def after_pass(self, index: int, pass_: Pass, state: CompileState, ctx: PassContext,
                   seconds: float) -> None:
        self.timings.append((pass_, seconds))


ProgressCallback = Callable[[str, int, "Pass"], None]
"""``callback(event, index, pass)`` with ``event`` ``"start"`` or ``"end"``."""


class ProgressInstrument(PassInstrument):
    """Calls ``callback("start"|"end", index, pass)`` around every pass (e.g. to drive a progress bar)."""

    def __init__(self, callback: ProgressCallback) -> None:
        self.callback = callback

    def before_pass(self, index: int, pass_: Pass, state: CompileState, ctx: PassContext) -> None:
        self.callback("start", index, pass_)

    def after_pass(self, index: int, pass_: Pass, state: CompileState, ctx: PassContext,
                   seconds: float) -> None:
        self.callback("end", index, pass_)
