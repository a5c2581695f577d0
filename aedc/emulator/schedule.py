"""Deprecated alias of :mod:`aedc.timing.schedule` (the timing model moved to the neutral timing
package, which the emulator and the host runtime both read)."""

import warnings

from aedc.timing.schedule import Plan, Schedule, ScheduleMode, make_plan

warnings.warn("aedc.emulator.schedule moved to aedc.timing.schedule; import Schedule from "
              "aedc.timing (or aedc.emulator)", DeprecationWarning, stacklevel=2)

__all__ = ["Plan", "Schedule", "ScheduleMode", "make_plan"]
