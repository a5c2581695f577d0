"""One exception hierarchy for everything aedc reports to a user.

Every error a user can cause derives from :class:`AedcError`, so callers (and the CLI) can tell a bad
input (exit code 2), a network that does not fit (exit code 3) and an internal bug (anything else) apart.
Messages name the node/edge/field concerned; ``where`` keeps that name machine-readable as well.
"""

from __future__ import annotations


class AedcError(Exception):
    """Base class of all errors aedc raises on purpose."""

    exit_code: int = 2

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__(message)
        self.where = where


class FrontendError(AedcError):
    """The model could not be imported."""


class AmbiguousProfileError(FrontendError):
    """``from_nir(..., profile="auto")`` found several frameworks that could have written the file; the
    message lists them and how to pass one."""


class UnsupportedNodeError(FrontendError):
    """A NIR node type (or an option of one) that aedc cannot express."""


class NIRFormatError(FrontendError):
    """A NIR file or object is malformed: missing/unknown field, bad shape, truncated HDF5."""


class VerifyError(AedcError):
    """The IR violates an invariant (shape mismatch, dangling edge, cycle without delay, bad parameter)."""


class SerializationError(AedcError):
    """An IR JSON document cannot be read back."""


class PipelineError(AedcError):
    """A pass pipeline is malformed (unknown pass/option, wrong order) or a pass failed."""


class SimulationError(AedcError):
    """The reference simulator was given inputs that do not match the graph."""


class DoesNotFitError(AedcError):
    """The network does not fit the target machine."""

    exit_code = 3


class PlacementError(DoesNotFitError):
    """A slice cannot fit any PE, or more PEs are needed than the machine has."""


class RoutingError(AedcError):
    """Keys or router tables cannot be built (e.g. a table exceeds the router's entries)."""

    exit_code = 3


class CodegenError(AedcError):
    """C generation or (cross-)compilation failed, or a PE image exceeds its memory."""


class PEOverflowError(CodegenError, DoesNotFitError):
    """A cross-compiled PE image exceeds ITCM, the static data or the DTCM budget (exit code 3)."""


class EmulatorError(AedcError):
    """The emulator was given a program or inputs it cannot run."""


class TimingError(EmulatorError):
    """A schedule or placed program is malformed (bad periods, jitter, PE indices).

    Raised by :mod:`aedc.timing`, which both the emulator and the host runtime read; it derives from
    :class:`EmulatorError` because that is what those checks raised before the timing model had a
    package of its own.
    """


class TrainingError(AedcError):
    """A training run was asked for something it cannot do (e.g. resume from a file that is not a
    resumable checkpoint of the same network and optimizer)."""
