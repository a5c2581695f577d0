"""Atomic build directories: a command writes into a hidden sibling temp dir and renames it into place.

An interrupted or failed command therefore never leaves a half-written ``OUTDIR``; an existing build
directory is replaced only once the new one is complete (and only if it is an aedc build, so a typo in
``-o`` cannot wipe an unrelated folder).

A process killed outright (SIGKILL, power loss) cannot clean up: it leaves its hidden sibling
``.OUTDIR.tmp-<pid>-*`` (or ``.OUTDIR.old-<pid>-*`` if it died while swapping). The next command that
writes the same ``OUTDIR`` removes those whose process no longer runs (:func:`clean_stale`), and leaves
alone the ones of a compile still running in parallel. Names without a pid (older aedc) are removed too.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aedc.errors import AedcError

MARKER = "build.json"


class OutputDirError(AedcError):
    """The output directory cannot be (re)placed."""


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def clean_stale(target: str | os.PathLike[str]) -> list[Path]:
    """Remove ``.NAME.tmp-*`` / ``.NAME.old-*`` siblings of ``target`` left by a killed aedc process."""
    out = Path(target).absolute()
    pattern = re.compile(rf"\.{re.escape(out.name)}\.(?:tmp|old)-(?:(\d+)-)?[^-]*")
    removed: list[Path] = []
    if not out.parent.is_dir():
        return removed
    for p in sorted(out.parent.iterdir()):
        m = pattern.fullmatch(p.name)
        if m is None or not p.is_dir() or (m.group(1) is not None and _running(int(m.group(1)))):
            continue
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    return removed


@contextmanager
def atomic_output_dir(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a fresh temp dir; on success it becomes ``target`` (replacing an older aedc build)."""
    out = Path(target).absolute()
    if out.exists() and not out.is_dir():
        raise OutputDirError(f"output {out} exists and is not a directory", where=str(out))
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise OutputDirError(f"output directory {out} is not empty and is not an aedc build; "
                             f"choose another -o or remove it", where=str(out))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        clean_stale(out)
        tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-{os.getpid()}-"))
    except OSError as exc:  # read-only, /proc, /sys, a file where a directory should be, no space
        blocker = next((p for p in out.parents if p.exists()), None)
        why = (f"{blocker} is a file, not a directory" if blocker is not None and not blocker.is_dir()
               else exc.strerror or str(exc))
        raise OutputDirError(f"cannot create output directory {out}: {why} (choose a writable -o)",
                             where=str(out)) from None
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-{os.getpid()}-"))
        os.replace(out, old / "prev")
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
