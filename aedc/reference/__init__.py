"""NumPy layer-synchronous reference simulator of the IR: the oracle the emulator and the C match."""

from aedc.ir.discretise import neuron_constants
from aedc.reference.simulate import Trace, simulate

__all__ = ["Trace", "neuron_constants", "simulate"]
