"""aedc → frameworks (issue 14 item 4): a network trained in aedc, exported with ``to_nir`` and loaded by
snnTorch's and Norse's own NIR importers computes what aedc computes.

Oracle: the frameworks' forward passes on aedc's Yin-Yang export, stored by ``make conformance``
(``conformance/export_yinyang.py`` trains 5-120-3 for 8 epochs with seed 0 and exports it;
``conformance/export_frameworks.py`` runs snnTorch 1.0.0 / Norse 1.1.0 in ``.venv-conformance``) under
``tests/data/conformance/export/``. Here, without torch, aedc imports the *stored* ``.nir`` files and
runs them with :func:`aedc.reference.simulate` and (on 8 samples) the JAX emulator's sync schedule.
Hidden spike rasters must be identical; the readout membrane equal to float32 rounding (the
frameworks sum in another order).

Profile: the reading both importers implement — ``profile("nir-euler", current_first=True)``: Euler, the
synaptic current first, ``v`` from the new current, reset to 0 in the spike's tick (snnTorch imports
``Synaptic(reset_mechanism="zero", reset_delay=False)``, Norse ``LIBoxCell`` → ``LIFBoxCell``), at dt =
1e-4 for snnTorch (its importer hard-codes that tick: ``to_nir(graph, dt=1e-4)`` rescales the time
constants for it) and 1e-3 for Norse. What does not work, and why, is asserted too: the plain export
(snnTorch asserts ``r = τ_mem/1e-4``, neither importer has CubaLI: ``li_as_lif=True`` fixes it), Sinabs
(no CubaLIF or Linear in its importer), and aedc's default reading (the previous tick's current)
against the importers' (the new current): spikes differ.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aedc.frontend import from_nir
from aedc.ir.graph import Graph
from aedc.ir.options import profile
from aedc.reference import simulate

DIR = Path(__file__).parent / "data" / "conformance" / "export"
READING = profile("nir-euler", current_first=True)
"""The importers' reading (module docstring); ``dt`` is given per file."""
DT = {"snntorch": 1e-4, "norse": 1e-3}
V_TOL = 1e-5
"""|Δv| allowed on the readout (|v| ≤ 11 here: float32 rounding of a different summation order)."""


def _report() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DIR / "frameworks.json").read_text())
    return doc


def _data(name: str) -> dict[str, np.ndarray]:
    with np.load(DIR / name) as f:
        return {k: f[k] for k in f.files}


def _run(graph: Graph, x: np.ndarray) -> dict[str, np.ndarray]:
    spikes, v = [], []
    for sample in x:
        trace = simulate(graph, {"in": sample})
        spikes.append(trace.outputs["h1"])
        v.append(trace.state["out"]["v"])
    return {"spikes/h1": np.stack(spikes).astype(np.uint8), "v/out": np.stack(v)}


@pytest.fixture(scope="module")
def aedc_data() -> dict[str, np.ndarray]:
    return _data("yinyang.npz")


def test_the_stored_export_is_the_trained_network(aedc_data: dict[str, np.ndarray]) -> None:
    """aedc's plain export, imported again, gives the outputs aedc computed before exporting it."""
    info = json.loads((DIR / "yinyang.json").read_text())
    graph = from_nir(DIR / "yinyang.nir", profile=READING, dt=info["dt"])
    got = _run(graph, aedc_data["input"])
    np.testing.assert_array_equal(got["spikes/h1"], aedc_data["spikes/h1"])
    np.testing.assert_array_equal(got["v/out"], aedc_data["v/out"])
    assert int(got["spikes/h1"].sum()) == info["hidden_spikes"] == 4280
    assert info["test_accuracy"] > 0.8  # trained, not a random net (chance is 1/3)


@pytest.mark.parametrize("framework", ["snntorch", "norse"])
def test_framework_reproduces_aedc(framework: str, aedc_data: dict[str, np.ndarray]) -> None:
    entry = _report()["frameworks"][framework]
    assert "refused" not in entry, entry
    fw = _data(entry["data"])
    graph = from_nir(DIR / entry["nir"], profile=READING, dt=DT[framework])
    got = _run(graph, aedc_data["input"])
    assert fw["spikes/h1"].shape == got["spikes/h1"].shape == (32, 50, 120)
    np.testing.assert_array_equal(got["spikes/h1"], fw["spikes/h1"])
    np.testing.assert_array_equal(fw["spikes/h1"], aedc_data["spikes/h1"])  # = aedc before export
    assert np.abs(got["v/out"] - fw["v/out"]).max() <= V_TOL
    assert np.abs(aedc_data["v/out"] - fw["v/out"]).max() <= V_TOL
    decision = aedc_data["v/out"].sum(axis=1).argmax(axis=-1)  # the trainer's sum_membrane readout
    np.testing.assert_array_equal(fw["v/out"].sum(axis=1).argmax(axis=-1), decision)


def test_what_the_importers_refuse_is_recorded() -> None:
    """Without the export options snnTorch and Norse cannot load the network; Sinabs cannot at all."""
    fws = _report()["frameworks"]
    assert fws["snntorch_plain"]["refused"] == "AssertionError: r not supported in CubaLIF"  # dt = 1e-4
    assert fws["norse_plain"]["refused"] == "KeyError: 'out'"  # no CubaLI branch: the readout is lost
    assert fws["sinabs"]["refused"] == "KeyError: 'in->h1'"  # no Linear (nor CubaLIF) branch
    assert _report()["versions"]["snntorch"] == "1.0.0"
    assert _report()["versions"]["norse"] == "1.1.0"


def test_aedcs_default_reading_is_not_the_importers(aedc_data: dict[str, np.ndarray]) -> None:
    """The example's default semantics (nir-euler: ``v`` from the previous tick's current) on the same
    file gives other spikes than snnTorch: why the network is trained with ``current_first=True``."""
    fw = _data(_report()["frameworks"]["snntorch"]["data"])
    graph = from_nir(DIR / "yinyang_snntorch.nir", profile="nir-euler", dt=DT["snntorch"])
    got = _run(graph, aedc_data["input"][:4])
    differ = int(np.sum(got["spikes/h1"] != fw["spikes/h1"][:4]))
    assert differ > 100, differ


def test_export_for_another_tick_and_without_li_changes_no_tick() -> None:
    """``to_nir(g, dt=1e-4, li_as_lif=True)`` read back at 1e-4 (the recorded semantics, profile auto)
    computes the ticks of ``g`` at 1e-3: τ scaled by 0.1, r and w_in kept, the CubaLI readout a CubaLIF
    that never fires. Not bit for bit: ``dt/τ`` is recomputed from the rescaled float32 τ, so a decay
    constant may move by an ulp (|Δv| ~1e-7 relative here); the spikes are the same."""
    import nir

    from aedc.frontend import to_nir
    from aedc.frontend.nir_export import NEVER_FIRES
    from aedc.train import mlp

    g = mlp([5, 12, 3], seed=3, w_scale=3.0).model_copy(update={"semantics": READING.evolve(dt=1e-3)})
    exported = to_nir(g, dt=1e-4, li_as_lif=True)
    h1, out = exported.nodes["h1"], exported.nodes["out"]
    assert isinstance(h1, nir.CubaLIF)
    assert isinstance(out, nir.CubaLIF)
    np.testing.assert_array_equal(h1.tau_mem, np.float32(np.float64(np.float32(0.02)) * 0.1))
    np.testing.assert_array_equal(h1.r, np.float32(20.0))
    np.testing.assert_array_equal(out.w_in, np.float32(5.0))
    np.testing.assert_array_equal(out.v_threshold, np.float32(NEVER_FIRES))
    with pytest.warns(UserWarning, match="written by aedc"):
        back = from_nir(exported)
    assert back.semantics == READING.evolve(dt=1e-4)
    x = (np.random.default_rng(0).random((50, 5)) < 0.2).astype(np.float32)
    want, got = simulate(g, {"in": x}), simulate(back, {"in": x})
    assert int(want.outputs["h1"].sum()) > 20  # the hidden layer fires
    np.testing.assert_array_equal(got.outputs["h1"], want.outputs["h1"])
    np.testing.assert_allclose(got.state["out"]["v"], want.state["out"]["v"], rtol=1e-5, atol=1e-6)


def test_the_emulators_sync_mode_gives_the_same(aedc_data: dict[str, np.ndarray]) -> None:
    """The JAX emulator (sync schedule, exact event order) on the stored snnTorch file, batched: the
    framework's spike rasters again."""
    from aedc.emulator import Emulator

    entry = _report()["frameworks"]["snntorch"]
    fw = _data(entry["data"])
    graph = from_nir(DIR / entry["nir"], profile=READING, dt=DT["snntorch"])
    run = Emulator(graph).run_batch({"in": aedc_data["input"][:8]})
    np.testing.assert_array_equal(np.asarray(run.outputs["h1"]).astype(np.uint8), fw["spikes/h1"][:8])
    assert np.abs(np.asarray(run.state["out"]["v"]) - fw["v/out"][:8]).max() <= V_TOL
