"""Open whatever model file a user hands the CLI: a NIR (HDF5) file, an IR JSON file or a build dir."""

from __future__ import annotations

from pathlib import Path

from aedc.errors import FrontendError
from aedc.ir.graph import Graph
from aedc.ir.serialize import load

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
NIR_SUFFIXES = (".nir", ".h5", ".hdf5")


def _nir(path: Path, head: bytes) -> bool:
    """Whether a file with these first bytes is read as NIR (HDF5 signature or a NIR suffix)."""
    return head == HDF5_SIGNATURE or path.suffix in NIR_SUFFIXES


def is_nir_file(path: str | Path) -> bool:
    """Whether :func:`load_model` would import ``path`` as a NIR file (False for IR JSON, build
    directories and what cannot be read)."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            return p.is_file() and _nir(p, fh.read(8))
    except OSError:
        return False


def load_model(path: str | Path, *, profile: str = "auto", dt: float | None = None,
               strict: bool = False) -> Graph:
    """Load ``path``: ``.nir``/HDF5 via :func:`from_nir` (with ``profile``/``dt``/``strict``), JSON as
    IR, or the ``ir.json`` of an aedc build directory."""
    p = Path(path)
    if p.is_dir():
        if (p / "ir.json").is_file():
            return load(p / "ir.json")
        raise FrontendError(f"{p} is a directory without ir.json (not an aedc build)", where=str(p))
    if not p.exists():
        raise FrontendError(f"{p}: no such file", where=str(p))
    try:
        with p.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise FrontendError(f"{p}: cannot read ({exc.strerror})", where=str(p)) from None
    if _nir(p, head):
        from aedc.frontend.nir_import import from_nir

        return from_nir(p, profile=profile, dt=dt, strict=strict)
    if p.suffix == ".json" or head.lstrip().startswith(b"{"):
        return load(p)
    raise FrontendError(f"{p}: unknown model format (expected a .nir HDF5 file or an aedc ir.json)",
                        where=str(p))
