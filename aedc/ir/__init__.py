"""Event-dataflow IR: pydantic models, verifier, topology and lossless JSON (imports nothing else of aedc
but errors)."""

from aedc.ir.connectivity import Conv1d, Conv2d, Dense, Identity, OneToOne, Pool2d, Sparse
from aedc.ir.graph import EventRule, Graph, Population, Projection
from aedc.ir.neurons import NEURON_MODELS
from aedc.ir.options import PROFILES, Semantics, profile
from aedc.ir.serialize import from_json, load, save, to_json
from aedc.ir.topology import topo_order
from aedc.ir.verify import verify

__all__ = [
    "NEURON_MODELS", "PROFILES", "Conv1d", "Conv2d", "Dense", "EventRule", "Graph", "Identity",
    "OneToOne", "Pool2d", "Population", "Projection", "Semantics", "Sparse", "from_json", "load",
    "profile", "save", "to_json", "topo_order", "verify",
]
