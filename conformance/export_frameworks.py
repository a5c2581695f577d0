"""aedc → frameworks, step 2 (``.venv-conformance``): load aedc's Yin-Yang export with each framework's
NIR importer, run it on the stored inputs, store what the framework computes.

Reads ``tests/data/conformance/export/`` (written by ``conformance/export_yinyang.py``) and writes
``<framework>.npz`` there — ``spikes/h1`` (B, T, 120) hidden spikes and ``v/out`` (B, T, 3) readout
membrane after each step — plus ``frameworks.json``: versions, how each file was loaded, and for a
framework that cannot load it the error it raised. ``tests/test_conformance_export.py`` (no torch)
checks aedc against these files.

* snnTorch 1.0.0 ``snntorch.import_nir.import_from_nir(nir.read("yinyang_snntorch.nir"))``: one call
  per step on the batch; spikes are ``h1``'s output, the readout membrane is the ``Synaptic`` module's
  ``mem`` (hidden state, ``init_hidden=True``);
* Norse 1.1.0 ``norse.torch.from_nir(nir.read("yinyang_norse.nir"), dt=1e-3)``: one call per step
  with the returned state; spikes from the executor's cache, the readout membrane from the
  ``LIFBoxFeedForwardState`` of ``out``;
* Sinabs 3.1.3 ``sinabs.nir.from_nir(nir.read("yinyang.nir"), batch_size=B)``: recorded as refused
  (its importer has branches for Affine, Conv, LI, IF, LIF, SumPool2d, Flatten only: no Linear, no
  CubaLIF);
* ``snntorch_plain``/``norse_plain``: the same two importers on the plain ``yinyang.nir``, recorded to
  show why the export options are needed (snnTorch asserts ``r = τ_mem/1e-4``; Norse has no CubaLI).

Run: ``.venv-conformance/bin/python conformance/export_frameworks.py``.
"""

from __future__ import annotations

import json
import sys
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DIR = ROOT / "tests" / "data" / "conformance" / "export"


def _torch_input(x: np.ndarray, t: int) -> Any:
    import torch

    return torch.from_numpy(np.ascontiguousarray(x[:, t])).float()


def run_snntorch(x: np.ndarray, nir_file: str = "yinyang_snntorch.nir") -> dict[str, np.ndarray]:
    import nir
    import torch
    from snntorch.import_nir import import_from_nir

    net = import_from_nir(nir.read(DIR / nir_file))
    spikes, v = [], []
    seen: dict[str, Any] = {}
    net.h1.register_forward_hook(lambda _m, _i, out: seen.__setitem__("h1", out))
    with torch.no_grad():
        for t in range(x.shape[1]):
            net(_torch_input(x, t))
            spikes.append(seen["h1"].numpy().copy())
            v.append(net.out.mem.numpy().copy())
    return {"spikes/h1": np.stack(spikes, 1).astype(np.uint8), "v/out": np.stack(v, 1).astype(np.float32)}


def run_norse(x: np.ndarray, nir_file: str = "yinyang_norse.nir") -> dict[str, np.ndarray]:
    import nir
    import norse.torch as norse
    import torch

    net = norse.from_nir(nir.read(DIR / nir_file), dt=1e-3)
    spikes, v = [], []
    state = None
    with torch.no_grad():
        for t in range(x.shape[1]):
            _, state = net(_torch_input(x, t), state)
            spikes.append(state.cache["h1"].numpy().copy())
            lif_state = state.state["out"][0][1]
            v.append(lif_state.v.numpy().copy())
    return {"spikes/h1": np.stack(spikes, 1).astype(np.uint8), "v/out": np.stack(v, 1).astype(np.float32)}


def run_sinabs(x: np.ndarray, nir_file: str = "yinyang.nir") -> dict[str, np.ndarray]:
    import nir
    import sinabs.nir

    sinabs.nir.from_nir(nir.read(DIR / nir_file), batch_size=x.shape[0])
    raise AssertionError("Sinabs loaded a CubaLIF network; teach the test what it computes")


RUNNERS = {"snntorch": ("yinyang_snntorch.nir", run_snntorch), "norse": ("yinyang_norse.nir", run_norse),
           "sinabs": ("yinyang.nir", run_sinabs),
           # the plain export, to record why the options are needed
           "snntorch_plain": ("yinyang.nir", run_snntorch), "norse_plain": ("yinyang.nir", run_norse)}


def main() -> int:
    warnings.simplefilter("ignore")
    with np.load(DIR / "yinyang.npz") as f:
        x = f["input"]
    report: dict[str, Any] = {"versions": {p: version(p) for p in ("torch", "nir", "nirtorch", "snntorch",
                                                                     "norse", "sinabs")},
                              "frameworks": {}}
    for name, (nir_file, runner) in RUNNERS.items():
        entry: dict[str, Any] = {"nir": nir_file}
        try:
            out = runner(x, nir_file)
        except Exception as exc:  # a framework that cannot load the file: record what it said
            entry["refused"] = f"{type(exc).__name__}: {exc}"
        else:
            np.savez_compressed(DIR / f"{name}.npz", **out)
            entry["data"] = f"{name}.npz"
            entry["hidden_spikes"] = int(out["spikes/h1"].sum())
        report["frameworks"][name] = entry
        print(name, {k: v for k, v in entry.items() if k != "nir"})
    (DIR / "frameworks.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
