"""Run a libhdf5 read in a forked child process, so that a corrupt file cannot crash or freeze aedc.

libhdf5 segfaults or loops forever on some files whose bytes were corrupted inside its heaps (the fuzz
suite's byte flips find both); no Python code can catch either in the process that reads. So
:func:`run_isolated` forks, runs the read in the child and gets its result — plain Python/numpy data —
or its exception back, pickled through a pipe. A child that dies by a signal, or is still reading after
the timeout (it is killed then), becomes a :class:`~aedc.errors.NIRFormatError` naming the file.

``AEDC_HDF5_TIMEOUT_S``: the timeout in seconds (default 30; ``inf`` waits forever). Raise it for a file
so large that reading it takes longer.

Fork keeps a read cheap (under 10 ms more for the CNN example: the child shares the parent's memory and
imports, and the read function needs no pickling). Where the ``fork`` start method does not exist
(Windows), and in a daemonic process, which may not have children, the read runs in-process, unprotected.
"""

from __future__ import annotations

import faulthandler
import math
import multiprocessing
import os
import pickle
import signal
import traceback
import warnings
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from aedc.errors import FrontendError, NIRFormatError

T = TypeVar("T")

TIMEOUT_ENV = "AEDC_HDF5_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 30.0
FORK_AVAILABLE = "fork" in multiprocessing.get_all_start_methods()
"""Whether reads are isolated; tests set it to ``False`` to get the in-process read."""


def timeout_s() -> float:
    """The read timeout from ``AEDC_HDF5_TIMEOUT_S`` (read at each call, so it can change at run time)."""
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0:
        raise FrontendError(f"{TIMEOUT_ENV} must be a positive number of seconds (or 'inf'), got {text!r}",
                            where=TIMEOUT_ENV)
    return value


def _sendable(exc: BaseException) -> BaseException:
    """``exc`` with the child's traceback as a note, or a RuntimeError saying what it was if it does not
    survive pickling (an exception class with a custom ``__init__`` may not)."""
    exc.add_note("raised while reading in the HDF5 reader process:\n"
                 + "".join(traceback.format_exception(exc)).rstrip())
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        plain = RuntimeError(f"{type(exc).__name__}: {exc}")
        plain.__notes__ = exc.__notes__
        return plain
    return exc


def _child(read: Callable[[], Any], conn: Connection) -> None:
    """The child's whole life: read, send ``("ok", result)`` or ``("err", exception)``, exit."""
    import resource  # POSIX only, as fork is

    faulthandler.disable()  # the parent reports a crash; no dump of its stack on the terminal
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # and no core file for a corrupt input
    try:
        message: tuple[str, Any] = ("ok", read())
    except BaseException as exc:  # the parent re-raises it, whatever it is
        message = ("err", _sendable(exc))
    try:
        conn.send(message)  # pickles first: on failure nothing was written
    except Exception as exc:
        conn.send(("err", _sendable(RuntimeError(f"the result cannot be sent back: {exc}"))))
    conn.close()


def _died(source: str, exitcode: int | None) -> NIRFormatError:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if name == "SIGKILL":
            what = "the HDF5 reader process was killed (SIGKILL; out of memory?) while reading it"
        else:
            what = f"libhdf5 crashed ({name}) while reading it; the file is corrupt"
    else:
        what = f"the HDF5 reader process exited (code {exitcode}) without a result"
    return NIRFormatError(f"{source}: cannot read as a NIR (HDF5) file: {what}", where=source)


def run_isolated(read: Callable[[], T], *, source: str) -> T:
    """``read()`` run in a forked child: its result, or the exception it raised, re-raised here.

    ``read`` must return picklable data. Raises :class:`~aedc.errors.NIRFormatError` naming ``source``
    if the child dies by a signal (libhdf5 crashed) or runs past :func:`timeout_s` (it is killed).
    In a daemonic process (a ``multiprocessing.Pool`` worker), which may not have children, and where
    fork does not exist, ``read()`` runs in-process.
    """
    if not FORK_AVAILABLE or multiprocessing.current_process().daemon:
        return read()
    limit = timeout_s()
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(read, send), name="aedc-hdf5-reader", daemon=True)
    received = False
    try:
        with warnings.catch_warnings():
            # JAX (and Python >= 3.12) warn that a fork of a multithreaded process may deadlock: the child
            # needs none of those threads, and a deadlock would end in the timeout, not a hang
            warnings.filterwarnings("ignore", r"os\.fork\(\) was called", RuntimeWarning)
            warnings.filterwarnings("ignore", r".*multi-threaded, use of fork\(\)", DeprecationWarning)
            proc.start()
        send.close()  # the child holds the only write end: its death is an EOF here
        if not receive.poll(None if math.isinf(limit) else limit):
            raise NIRFormatError(f"{source}: cannot read as a NIR (HDF5) file: reading timed out after "
                                 f"{limit:g} s (libhdf5 may loop forever on a corrupt file; for a huge "
                                 f"file raise {TIMEOUT_ENV})", where=source)
        try:
            status, value = receive.recv()
        except EOFError:
            proc.join(5.0)  # the pipe closed because the child died
            raise _died(source, proc.exitcode) from None
        received = True
    finally:
        send.close()
        receive.close()
        if received:
            proc.join(5.0)  # it exits right after sending
        if proc.is_alive():
            proc.kill()
            proc.join()
        proc.close()
    if status == "err":
        raise value
    return value  # type: ignore[no-any-return]
