"""Deprecated alias of :mod:`aedc.run_report` (the loader behind ``aedc run`` reads build directories
through the frontend, so it lives beside the CLI, not inside the emulator)."""

import warnings

from aedc.run_report import load_inputs, load_program, plot_run, run_to_dir, to_json_metrics

warnings.warn("aedc.emulator.report moved to aedc.run_report", DeprecationWarning, stacklevel=2)

__all__ = ["load_inputs", "load_program", "plot_run", "run_to_dir", "to_json_metrics"]
