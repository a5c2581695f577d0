"""Deprecated alias of :mod:`aedc.timing.program` (the placed program moved to the neutral timing
package, which the emulator and the host runtime both read)."""

import warnings

from aedc.timing.program import PlacedProgram

warnings.warn("aedc.emulator.program moved to aedc.timing.program; import PlacedProgram from "
              "aedc.timing (or aedc.emulator)", DeprecationWarning, stacklevel=2)

__all__ = ["PlacedProgram"]
