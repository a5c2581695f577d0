"""Shared pieces of the golden-case generator: the case description, weight calibration, file writing.

Runs in the generator's own virtual environment (``.venv-conformance``, see ``requirements.txt``), never in
aedc's: it imports the frameworks, aedc is not needed here.

A case is a small network built by a framework, exported by that framework's own NIR exporter, and run by
that framework's own forward pass on fixed random 0/1 inputs, one time step per call. Each weight layer has
a scale, calibrated one layer at a time (in order) so that 2–10 % of the neuron-ticks of the spiking layer
it drives carry a spike. Weights (and biases) are rounded to multiples of 2^-8 after scaling, so that the
synaptic sums of 0/1 inputs are exact in float32 whatever the order of summation: what differs between the
framework and aedc is then the neuron semantics, not the matrix product.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import h5py
import nir
import numpy as np

SEED = 1234
"""Base seed: case ``k`` of a framework draws its weights from ``SEED + k`` and its input from
``SEED + 1000 + k``."""

STEPS = 100
RATE_RANGE = (0.02, 0.10)
RATE_TARGET = 0.05
QUANTUM = 2.0 ** -8

Record = dict[str, dict[str, np.ndarray]]
"""What a run records: NIR node name → {"spikes" | "v" | "i_syn": array (T, *shape)}."""


@dataclass
class Case:
    """One golden case.

    ``build(scales)`` makes a fresh model (same random weights for every call, scaled per layer);
    ``export(model)`` returns the framework's NIR graph; ``run(model, x)`` steps the model over
    ``x`` (T, *input_shape) and returns a :data:`Record`. ``calibrate[k]`` names the node whose spike
    rate scale ``k`` is tuned on (``None``: keep ``default_scales[k]``).
    """

    name: str
    neuron: str
    options: dict[str, Any]
    build: Callable[[list[float]], Any]
    export: Callable[[Any], nir.NIRGraph]
    run: Callable[[Any, np.ndarray], Record]
    input_shape: tuple[int, ...]
    calibrate: list[str | None]
    default_scales: list[float] | None = None
    input_p: float = 0.2
    steps: int = STEPS
    rate_target: float = RATE_TARGET
    input_node: str = "input"
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def quantise(w: np.ndarray) -> np.ndarray:
    """Round to a multiple of :data:`QUANTUM` (float32)."""
    return (np.round(np.asarray(w, np.float64) / QUANTUM) * QUANTUM).astype(np.float32)


def rng_weights(seed: int, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    """Standard-normal arrays, one per shape, from ``seed`` (scaled by fan-in later)."""
    rng = np.random.default_rng(seed)
    out = []
    for s in shapes:
        fan_in = int(np.prod(s[1:])) if len(s) > 1 else 1
        out.append((rng.standard_normal(s) / np.sqrt(fan_in)).astype(np.float32))
    return out


def make_input(case: Case, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((case.steps, *case.input_shape)) < case.input_p).astype(np.float32)


def spike_rate(rec: Record, node: str) -> float:
    s = rec[node]["spikes"]
    return float(np.count_nonzero(s)) / s.size


def calibrate(case: Case, x: np.ndarray) -> list[float]:
    """Scale each weight layer in turn (bisection on log10(scale)) to hit the target spike rate."""
    scales = list(case.default_scales or [1.0] * len(case.calibrate))
    for k, node in enumerate(case.calibrate):
        if node is None:
            continue
        lo, hi = -2.0, 2.0
        best = None
        for _ in range(30):
            mid = 0.5 * (lo + hi)
            scales[k] = 10.0 ** mid
            rate = spike_rate(case.run(case.build(scales), x), node)
            if best is None or abs(rate - case.rate_target) < abs(best[1] - case.rate_target):
                best = (scales[k], rate)
            if abs(rate - case.rate_target) < 0.01:
                break
            lo, hi = (mid, hi) if rate < case.rate_target else (lo, mid)
        assert best is not None
        scales[k] = float(f"{best[0]:.4g}")
        if not RATE_RANGE[0] <= best[1] <= RATE_RANGE[1]:
            print(f"  warning: {case.name}: node {node} fires at rate {best[1]:.3f}, outside {RATE_RANGE}")
    return scales


def repack(path: Path) -> None:
    """Rewrite the HDF5 file ``nir.write`` made with fixed-length strings, same content.

    HDF5 keeps each variable-length string in a heap collection of at least 4 KiB, so a small graph's
    file is ~90 % empty heap; fixed-length byte strings read back as the same ``bytes``. The graph read
    back must be unchanged (checked here, dataset by dataset).
    """
    tmp = path.with_suffix(".tmp")

    def copy(src: h5py.Group, dst: h5py.Group) -> None:
        for k, v in src.attrs.items():
            dst.attrs[k] = v
        for k, obj in src.items():
            if isinstance(obj, h5py.Group):
                copy(obj, dst.create_group(k))
            elif obj.dtype.kind == "O":
                data = np.asarray(obj[()], dtype=object)
                flat = [x if isinstance(x, bytes) else str(x).encode() for x in data.ravel().tolist()]
                width = max([len(x) for x in flat] + [1])
                dst.create_dataset(k, data=np.array(flat, dtype=f"S{width}").reshape(data.shape))
            else:
                dst.create_dataset(k, data=obj[()])

    with h5py.File(path, "r") as src, h5py.File(tmp, "w", libver="latest") as dst:
        copy(src, dst)
    if _tree(path) != _tree(tmp):
        tmp.unlink()
        raise RuntimeError(f"{path}: repacking changed the content")
    tmp.replace(path)


def _tree(path: Path) -> dict[str, Any]:
    """Every dataset of an HDF5 file as comparable values (strings as bytes, arrays as bytes + shape)."""
    out: dict[str, Any] = {}

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            v = obj[()]
            a = np.asarray(v)
            if a.dtype.kind in "OS":
                out[name] = [bytes(x) for x in a.ravel().tolist()], a.shape
            else:
                out[name] = a.dtype.str, a.shape, a.tobytes()

    with h5py.File(path, "r") as f:
        f.visititems(visit)
        out["/attrs"] = sorted((k, repr(v)) for k, v in f.attrs.items())
    return out


def versions(*packages: str) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for p in packages:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out


def write_case(out: Path, framework: str, case: Case, index: int, profile: str, dt: float,
               vers: dict[str, str]) -> dict[str, Any]:
    """Calibrate, export, run and store one case; return its manifest entry."""
    x = make_input(case, SEED + 1000 + index)
    scales = calibrate(case, x)
    graph = case.export(case.build(scales))
    rec = case.run(case.build(scales), x)
    folder = out / framework
    folder.mkdir(parents=True, exist_ok=True)
    nir_path = folder / f"{case.name}.nir"
    nir.write(nir_path, graph)
    repack(nir_path)
    arrays: dict[str, np.ndarray] = {"input": x.astype(np.float32), "dt": np.float64(dt)}
    recorded: dict[str, list[str]] = {}
    rates: dict[str, float] = {}
    for node, kinds in rec.items():
        recorded[node] = sorted(kinds)
        for kind, a in kinds.items():
            arrays[f"{kind}/{node}"] = np.asarray(a, np.float32)
        if "spikes" in kinds:
            rates[node] = round(spike_rate(rec, node), 4)
    np.savez_compressed(folder / f"{case.name}.npz", **arrays)
    entry = {
        "case": f"{framework}/{case.name}", "framework": framework, "neuron": case.neuron,
        "options": case.options, "profile": profile, "dt": dt, "steps": case.steps,
        "nir": f"{framework}/{case.name}.nir", "data": f"{framework}/{case.name}.npz",
        "input": case.input_node, "input_shape": list(case.input_shape), "input_p": case.input_p,
        "recorded": recorded, "spike_rates": rates, "scales": scales,
        "seeds": {"weights": SEED + index, "input": SEED + 1000 + index}, "versions": vers,
    }
    multi = {n: int(np.count_nonzero(k["spikes"] > 1)) for n, k in rec.items() if "spikes" in k}
    if any(multi.values()):
        entry["multi_spike_events"] = multi
    if case.notes:
        entry["notes"] = case.notes
    entry.update(case.extra)
    return entry


def write_manifest(out: Path, framework: str, entries: list[dict[str, Any]], failures: dict[str, str],
                   *, partial: bool = False) -> None:
    """Replace ``framework``'s entries of ``manifest.json`` (only the named cases when ``partial``)."""
    path = out / "manifest.json"
    old = json.loads(path.read_text()) if path.exists() else {"cases": [], "not_generated": {}}
    new = {e["case"] for e in entries} | set(failures)

    def stale(key: str) -> bool:
        return key in new or (not partial and key.split("/")[0] == framework)

    cases = [c for c in old["cases"] if not stale(c["case"])] + entries
    not_generated = {k: v for k, v in old.get("not_generated", {}).items() if not stale(k)} | failures
    doc = {"format": 1, "cases": sorted(cases, key=lambda c: c["case"]),
           "not_generated": dict(sorted(not_generated.items()))}
    path.write_text(json.dumps(doc, indent=1) + "\n")
