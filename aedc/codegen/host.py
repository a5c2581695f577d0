"""Host build of the generated C: every PE's kernel with the host gcc against ``runtime/host_runtime.c``.

``run_host(build, inputs)`` compiles (once per tree: the executable is cached next to the sources,
keyed by a hash of them) and runs the whole placed program, then reads the binary traces back into an
:class:`aedc.reference.simulate.Trace` shaped like the reference simulator's: bit-identical arrays
when the C is right.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from aedc.codegen.model import Sources
from aedc.errors import CodegenError
from aedc.reference.simulate import Trace

__all__ = ["HOST_CFLAGS", "build_host", "run_host"]

HOST_CFLAGS: tuple[str, ...] = ("-O2", "-ffp-contract=off", "-fno-fast-math", "-std=c11", "-DAEDC_HOST",
                                "-DAEDC_RXQ_LEN=65536u", "-Wall", "-Wno-unused-function",
                                "-Wno-unused-variable")


def _sources_of(build: object) -> tuple[Sources, Path | None]:
    """(sources, directory they live in, if any) of a CompileState, Sources or build directory."""
    if isinstance(build, Sources):
        return build, None
    if isinstance(build, str | os.PathLike):
        root = Path(build).absolute()  # the generated #includes name absolute paths
        c = root / "c" if (root / "c" / "manifest.json").is_file() else root
        if not (c / "manifest.json").is_file():
            raise CodegenError(f"{root} holds no generated C (no manifest.json); compile with emit-c",
                               where=str(root))
        files = tuple(sorted((p.relative_to(c).as_posix(), p.read_bytes()) for p in c.rglob("*")
                             if p.is_file() and not any(x.startswith(".") for x in p.relative_to(c).parts)
                             and p.suffix != ".elf" and p.name != "sizes.json"))
        return Sources(files=files), c
    sources = getattr(build, "sources", None)
    if isinstance(sources, Sources):
        return sources, None
    raise CodegenError("run_host needs a CompileState with sources (run the emit-c pass), a Sources "
                       "object or a build directory")


def _cc() -> str:
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise CodegenError("no host C compiler (gcc) found; install it (apt-get install -y gcc)")
    return cc


def build_host(sources: Sources, work: Path) -> Path:
    """Compile ``sources`` for the host under ``work``; return the executable (cached by content)."""
    runtime = resources.files("aedc.codegen").joinpath("runtime", "host_runtime.c").read_bytes()
    digest = hashlib.sha256(runtime)
    for path, data in sources.files:
        digest.update(path.encode() + b"\0" + data + b"\0")
    exe = work / "bin" / f"host_{digest.hexdigest()[:16]}"
    if exe.is_file():
        return exe
    src = work / "src"
    sources.write(src)
    (src / "host" / "host_runtime.c").write_bytes(runtime)
    obj = work / "bin" / "obj"
    obj.mkdir(parents=True, exist_ok=True)
    manifest = sources.manifest
    cc = _cc()
    inc = f"-I{src / 'common'}"
    wrappers = []
    for i, pe in enumerate(manifest["pes"]):
        w = obj / f"pe{i}.c"
        w.write_text(f"/* PE {pe['pe']} */\n#define AEDC_PE_SYMBOL aedc_pe_{i}\n"
                     f"#include \"{(src / pe['dir'] / 'kernel.c').as_posix()}\"\n")
        wrappers.append(str(w))
    tmp = exe.with_suffix(".tmp")
    _run([cc, *HOST_CFLAGS, inc, "-o", str(tmp), *wrappers, str(src / "host" / "host_table.c"),
          str(src / "host" / "host_runtime.c")], "the host program")
    tmp.replace(exe)
    return exe


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise CodegenError(f"host build of {what} failed:\n{proc.stderr[-4000:]}", where=what)


def run_host(build: object, inputs: Mapping[str, np.ndarray], *, steps: int | None = None,
             work_dir: str | os.PathLike[str] | None = None) -> Trace:
    """Run the generated program of ``build`` (CompileState, Sources or build dir) on the host.

    ``inputs``: input population → array ``(T, *shape)`` (or ``(T, size)``). Returns the per-population
    values, event payloads and state variables, shaped like :func:`aedc.reference.simulate.simulate`'s.
    """
    sources, c_dir = _sources_of(build)
    manifest: dict[str, Any] = sources.manifest
    pops: dict[str, Any] = manifest["populations"]
    names = manifest["inputs"]["populations"]
    missing = [n for n in names if n not in inputs]
    if missing:
        raise CodegenError(f"no data for input population(s) {missing}", where=missing[0])
    data = [np.asarray(inputs[n], np.float32).reshape(len(inputs[n]), -1) for n in names]
    T = steps if steps is not None else (data[0].shape[0] if data else 0)
    for n, d in zip(names, data, strict=True):
        if d.shape[1] != pops[n]["size"] or d.shape[0] < T:
            raise CodegenError(f"input '{n}' has shape {d.shape}, expected ({T}, {pops[n]['size']})",
                               where=n)
    width = manifest["inputs"]["width"]
    flat = np.concatenate([d[:T] for d in data], axis=1) if data else np.zeros((T, 0), np.float32)
    assert flat.shape[1] == width
    with tempfile.TemporaryDirectory(prefix="aedc-host-") as tmp:
        work = Path(work_dir) if work_dir is not None else (c_dir / ".host" if c_dir else Path(tmp))
        exe = build_host(sources, work)
        fin, fout = Path(tmp) / "in.f32", Path(tmp) / "out.f32"
        np.ascontiguousarray(flat, np.float32).tofile(fin)
        proc = subprocess.run([str(exe), str(T), str(fin), str(fout)], capture_output=True, text=True,
                              check=False)
        if proc.returncode != 0:
            raise CodegenError(f"host run failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
        raw = np.fromfile(fout, np.float32)
    return _traces(manifest, raw, T)


def _traces(manifest: dict[str, Any], raw: np.ndarray, T: int) -> Trace:
    pes = manifest["pes"]
    pops: dict[str, Any] = manifest["populations"]
    where: dict[tuple[int, int], tuple[str, int, int, int]] = {}
    for name, p in pops.items():
        for pe, k in p["slices"]:
            s = pes[pe]["slices"][k]
            where[(pe, k)] = (name, s["lo"], s["hi"], len(p["state"]))
    traced = [(pe, k) for pe, k in manifest["tick_order"] if (pe, k) in where]  # not synapse PEs
    per_tick = sum((2 + where[o][3]) * (where[o][2] - where[o][1]) for o in traced)
    if raw.size != per_tick * T:
        raise CodegenError(f"trace file has {raw.size} values, expected {per_tick * T}")
    raw = raw.reshape(T, per_tick) if T else raw.reshape(0, per_tick)
    values = {n: np.zeros((T, p["size"]), np.float32) for n, p in pops.items()}
    events = {n: np.zeros((T, p["size"]), np.float32) for n, p in pops.items()}
    state = {n: {v: np.zeros((T, p["size"]), np.float32) for v in p["state"]} for n, p in pops.items()}
    off = 0
    for o in traced:
        name, lo, hi, ns = where[o]
        n = hi - lo
        values[name][:, lo:hi] = raw[:, off:off + n]
        events[name][:, lo:hi] = raw[:, off + n:off + 2 * n]
        for j, var in enumerate(pops[name]["state"]):
            state[name][var][:, lo:hi] = raw[:, off + (2 + j) * n:off + (3 + j) * n]
        off += (2 + ns) * n

    def shaped(name: str, a: np.ndarray) -> np.ndarray:
        return a.reshape((T, *pops[name]["shape"]))

    return Trace(outputs={n: shaped(n, a) for n, a in values.items()},
                 events={n: shaped(n, a) for n, a in events.items()},
                 state={n: {v: shaped(n, a) for v, a in d.items()} for n, d in state.items() if d})


def manifest_of(build: object) -> dict[str, Any]:
    """The manifest.json of ``build`` as a dict."""
    return json.loads(_sources_of(build)[0].text("manifest.json"))  # type: ignore[no-any-return]
