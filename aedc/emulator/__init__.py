"""JAX emulator of a placed aedc program: every PE an independent event-driven process.

``Emulator(program, schedule=Schedule.sync()).run(inputs) -> EmulatorResult`` (traces + metrics).
Importing this package imports JAX; ``import aedc`` does not import it.

* :mod:`aedc.emulator.program` — :class:`PlacedProgram` (graph + neuron → PE), trivial placement.
* :mod:`aedc.emulator.schedule` — :class:`Schedule` and the exact timing model of async mode.
* :mod:`aedc.emulator.engine` — the ``lax.scan`` executor; when results are bit-exact.
* :mod:`aedc.emulator.metrics` — events, sparsity, NoC packets, per-PE load, latency to decision.
"""

from aedc.emulator.emulator import Emulator, EmulatorResult
from aedc.emulator.program import PlacedProgram
from aedc.emulator.schedule import Schedule

__all__ = ["Emulator", "EmulatorResult", "PlacedProgram", "Schedule"]
