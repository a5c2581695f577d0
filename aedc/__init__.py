"""aedc — compile spiking networks into asynchronous event-driven SpiNNaker2 programs.

Importing ``aedc`` is cheap: JAX and OR-Tools are only imported by the stages that need them.
"""

from aedc.errors import AedcError
from aedc.frontend.builder import Network
from aedc.ir import Graph, load, save, verify
from aedc.stages import register_stage_passes

register_stage_passes()

__version__ = "0.1.0"

__all__ = ["AedcError", "Graph", "Network", "__version__", "load", "save", "verify"]
