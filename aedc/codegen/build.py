"""Cross-compile the generated PE programs and check their sizes against the PE's memories.

:func:`cross_build` runs ``arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard
-O2 -ffp-contract=off`` on every PE directory of a build (the flags of the PE Makefiles), reads the
section sizes from each ELF (parsed here, no binutils needed) and raises :class:`CodegenError` naming
every PE whose code exceeds ITCM (32 KiB), whose static ``.data/.bss`` exceeds the runtime's 26 KiB or
whose dynamically placed regions (``.aedc_image`` + ``.aedc_state``) exceed the DTCM budget (67,328 B).
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aedc.errors import CodegenError, PEOverflowError
from aedc.machine import Machine

__all__ = ["CROSS_CC", "CROSS_CFLAGS", "INSTALL_HINT", "PESize", "cross_build", "cross_compiler",
           "elf_sections"]

# The one definition of how a PE program is built: cross_build runs it, every PE Makefile spells it.
CROSS_CC = "arm-none-eabi-gcc"
CROSS_TARGET_CFLAGS: tuple[str, ...] = ("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard",
                                        "-O2", "-ffp-contract=off")
"""The PE's core and float ABI; no fused multiply-add, so the kernel's float32 equals the host's."""
CROSS_CFLAGS: tuple[str, ...] = (*CROSS_TARGET_CFLAGS, "-ffreestanding", "-fno-common", "-Wall")
CROSS_INCLUDES: tuple[str, ...] = ("-I../common",)
CROSS_LDFLAGS: tuple[str, ...] = ("-nostdlib", "-nostartfiles", "-T", "link.ld")
CROSS_SOURCES: tuple[str, ...] = ("kernel.c", "../common/chip_runtime.c")  # relative to the PE directory
CROSS_LIBS: tuple[str, ...] = ("-lgcc",)
PE_ELF = "pe.elf"
INSTALL_HINT = ("install the Arm cross-compiler: apt-get update && apt-get install -y gcc-arm-none-eabi "
                "libnewlib-arm-none-eabi (the host build, aedc.codegen.host.run_host, works without it)")


@dataclass(frozen=True)
class PESize:
    """Measured bytes of one PE program (from its ELF)."""

    pe: str
    code: int  # .text in ITCM (vector table included)
    static: int  # .data + .bss of the runtime (rodata included)
    image: int  # .aedc_image: the data image
    state: int  # .aedc_state: state, histories, buffers, packet queue

    @property
    def dynamic(self) -> int:
        """The dynamically placed DTCM regions: what the partition memory model predicts."""
        return self.image + self.state


def cross_compiler() -> str | None:
    """Path of ``arm-none-eabi-gcc``, or None."""
    return shutil.which(CROSS_CC)


def elf_sections(path: Path) -> dict[str, int]:
    """Section name → size of a 32-bit little-endian ELF file."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 1 or data[5] != 1:
        raise CodegenError(f"{path} is not a 32-bit little-endian ELF file", where=str(path))
    shoff, = struct.unpack_from("<I", data, 0x20)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x2E)
    headers = [struct.unpack_from("<IIIIIIIIII", data, shoff + i * shentsize) for i in range(shnum)]
    strtab_off = headers[shstrndx][4]
    out: dict[str, int] = {}
    for h in headers[1:]:
        name_off = strtab_off + h[0]
        name = data[name_off:data.index(b"\0", name_off)].decode()
        out[name] = h[5]
    return out


EVENT_CROSS_SOURCES: tuple[str, ...] = ("kernel.c", "../common/event_chip_runtime.c")
"""A tree emitted with the event schedule (manifest ``"event"``) links the event runtime instead."""


def _compile(pe_dir: Path, cc: str, sources: tuple[str, ...] = CROSS_SOURCES) -> Path:
    elf = pe_dir / PE_ELF
    cmd = [cc, *CROSS_CFLAGS, *CROSS_INCLUDES, *CROSS_LDFLAGS, "-o", PE_ELF, *sources, *CROSS_LIBS]
    proc = subprocess.run(cmd, cwd=pe_dir, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise CodegenError(f"cross-compiling PE {pe_dir.name} failed:\n{proc.stderr[-4000:]}",
                           where=pe_dir.name)
    return elf


def cross_build(c_dir: str | Path, machine: Machine | None = None, *, jobs: int = 2,
                pes: Iterable[str] | None = None,
                progress: Callable[[int, int, str], None] | None = None) -> list[PESize]:
    """Build every PE of the generated tree ``c_dir`` (or only those named in ``pes``, as
    ``str(PEAddress)``); check and return the measured sizes. ``progress(done, total, pe)`` is called
    as each PE finishes (a cross-build of a large network takes a minute).

    Writes ``sizes.json`` next to ``manifest.json``. Raises :class:`CodegenError` when the
    cross-compiler is missing (with how to install it) or when any PE does not fit.
    """
    machine = machine or Machine.spinnaker2()
    root = Path(c_dir)
    manifest = json.loads((root / "manifest.json").read_text())
    cc = cross_compiler()
    if cc is None:
        raise CodegenError(f"'{CROSS_CC}' not found: {INSTALL_HINT}")
    wanted = set(pes) if pes is not None else None
    todo: list[dict[str, Any]] = [pe for pe in manifest["pes"] if wanted is None or pe["pe"] in wanted]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        runtime = EVENT_CROSS_SOURCES if "event" in manifest else CROSS_SOURCES
        futures = {pool.submit(_compile, root / pe["dir"], cc, runtime): i for i, pe in enumerate(todo)}
        for done, fut in enumerate(as_completed(futures), 1):
            fut.result()  # a failed PE raises here, at once
            if progress is not None:
                progress(done, len(todo), todo[futures[fut]]["pe"])
        elfs = [root / pe["dir"] / PE_ELF for pe in todo]
    sizes = []
    for pe, elf in zip(todo, elfs, strict=True):
        sec = elf_sections(elf)
        sizes.append(PESize(pe=pe["pe"], code=sec.get(".text", 0),
                            static=sec.get(".data", 0) + sec.get(".bss", 0),
                            image=sec.get(".aedc_image", 0), state=sec.get(".aedc_state", 0)))
    problems: list[tuple[str, str]] = []  # (PE, what exceeds)
    for s in sizes:
        if s.code > machine.itcm_bytes:
            problems.append((s.pe, f"code {s.code:,} B > ITCM {machine.itcm_bytes:,} B"))
        if s.static > machine.static_data_bytes:
            problems.append((s.pe, f"static .data/.bss {s.static:,} B > {machine.static_data_bytes:,} B"))
        if s.dynamic > machine.dynamic_region_bytes:
            problems.append((s.pe, f"data {s.dynamic:,} B > DTCM budget {machine.dynamic_region_bytes:,} B"))
    doc = [dict(asdict(s), dynamic=s.dynamic) for s in sizes]
    (root / "sizes.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    if problems:
        raise PEOverflowError("generated programs do not fit their PEs:\n  "
                              + "\n  ".join(f"PE {pe}: {what}" for pe, what in problems)
                              + "\n(lower slice{max-neurons=...} so that slices are smaller)",
                              where=problems[0][0])
    return sizes


def size_summary(sizes: list[PESize], machine: Machine | None = None) -> list[tuple[str, str, int, int]]:
    """The fullest PE per budget: ``(budget, PE, bytes, limit)`` for code (ITCM), static data and the
    dynamic data regions (DTCM budget) — what ``aedc compile --build`` prints."""
    machine = machine or Machine.spinnaker2()
    if not sizes:
        return []
    rows = []
    for what, limit, field in (("code (ITCM)", machine.itcm_bytes, "code"),
                               ("static .data/.bss", machine.static_data_bytes, "static"),
                               ("data regions (DTCM)", machine.dynamic_region_bytes, "dynamic")):
        used = [(int(getattr(s, field)), s.pe) for s in sizes]
        worst, pe = max(used)
        rows.append((what, pe, worst, int(limit)))
    return rows
