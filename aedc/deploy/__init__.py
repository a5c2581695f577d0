"""Deployment checking: does the compiled program do what the trained network promised?

:func:`deploy_check` compiles a trained classifier, cross-compiles it, and scores the JAX emulator and
the host-built C of the *same placement* side by side, sample by sample. It sits above training,
codegen and the emulator (it uses all three), which is why it is not part of :mod:`aedc.train`.
Importing this package imports JAX.
"""

from aedc.deploy.check import DeployReport, PathScore, deploy_check

__all__ = ["DeployReport", "PathScore", "deploy_check"]
