"""Deprecated alias of :mod:`aedc.deploy` (deployment checking is not training; it has its own
package now)."""

import warnings

from aedc.deploy.check import DeployReport, PathScore, deploy_check

warnings.warn("aedc.train.deploy moved to aedc.deploy; use 'from aedc.deploy import deploy_check'",
              DeprecationWarning, stacklevel=2)

__all__ = ["DeployReport", "PathScore", "deploy_check"]
