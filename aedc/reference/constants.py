"""Deprecated alias of :mod:`aedc.ir.discretise` (the discretisation constants every executor uses
moved out of the oracle's package into the IR layer)."""

import warnings

from aedc.ir.discretise import neuron_constants

warnings.warn("aedc.reference.constants moved to aedc.ir.discretise", DeprecationWarning, stacklevel=2)

__all__ = ["neuron_constants"]
