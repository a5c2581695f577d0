"""Atomic build directories: a command writes into a hidden sibling temp dir and renames it into place.

An interrupted or failed command therefore never leaves a half-written ``OUTDIR``; an existing build
directory is replaced only once the new one is complete (and only if it is an aedc build, so a typo in
``-o`` cannot wipe an unrelated folder).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aedc.errors import AedcError

MARKER = "build.json"


class OutputDirError(AedcError):
    """The output directory cannot be (re)placed."""


@contextmanager
def atomic_output_dir(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a fresh temp dir; on success it becomes ``target`` (replacing an older aedc build)."""
    out = Path(target).absolute()
    if out.exists() and not out.is_dir():
        raise OutputDirError(f"output {out} exists and is not a directory", where=str(out))
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise OutputDirError(f"output directory {out} is not empty and is not an aedc build; "
                             f"choose another -o or remove it", where=str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
        os.replace(out, old / "prev")
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
