"""Passes over the compile state, and the machinery that runs them.

    from aedc.passes import CompileState, PassContext, parse_pipeline, DEFAULT_PIPELINE
    state = parse_pipeline(DEFAULT_PIPELINE).run(CompileState(graph), PassContext())

Importing this package imports no pass module (and never JAX or OR-Tools): passes are resolved by name
through the lazy registry (:mod:`aedc.passes.registry`).
"""

from aedc.passes.base import Pass
from aedc.passes.context import Diagnostic, Diagnostics, PassContext
from aedc.passes.instruments import PassInstrument, ProgressInstrument, TimingInstrument
from aedc.passes.pipeline import PassManager, Pipeline, parse_pipeline
from aedc.passes.pipelines import DEFAULT_PIPELINE, PIPELINES
from aedc.passes.registry import available_passes, get_pass, pass_names, register_pass, unregister_pass
from aedc.passes.state import ARTIFACTS, CompileState

__all__ = [
    "ARTIFACTS", "DEFAULT_PIPELINE", "PIPELINES", "CompileState", "Diagnostic", "Diagnostics", "Pass",
    "PassContext", "PassInstrument", "PassManager", "Pipeline", "ProgressInstrument", "TimingInstrument",
    "available_passes", "get_pass", "parse_pipeline", "pass_names", "register_pass", "unregister_pass",
]
