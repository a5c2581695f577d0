"""aedc → frameworks, step 1 (aedc's environment): train Yin-Yang briefly in aedc and export it as NIR.

Issue 14 item 4: a network trained in aedc and exported with :func:`aedc.frontend.nir_export.to_nir`
must load in the frameworks' NIR importers and compute what aedc computes. This script trains the
Yin-Yang example's 5-120-3 network (current-based LIF hidden layer, CubaLI readout; T = 50, dt = 1 ms,
τ_mem 20 ms, τ_syn 5 ms; time-to-first-spike inputs) for a few epochs with a fixed seed, through the
emulator's sync schedule, under :data:`SEMANTICS` — the reading snnTorch 1.0's and Norse 1.1's importers
implement (``import_nir``: ``Synaptic``/``CubaLIF`` update the current first, then ``v`` from the new
current, and reset to 0 in the spike's own tick) — and writes under ``tests/data/conformance/export/``:

* ``yinyang.nir`` — ``to_nir(graph)``, the plain export;
* ``yinyang_snntorch.nir`` — ``to_nir(graph, dt=1e-4, li_as_lif=True)``: snnTorch's importer assumes
  dt = 1e-4 whatever the file says, and has no LI/CubaLI node;
* ``yinyang_norse.nir`` — ``to_nir(graph, li_as_lif=True)``: Norse's importer has no CubaLI either;
* ``yinyang.npz`` — ``input`` (B, T, 5) for :data:`N_SAMPLES` test samples, ``label``, and aedc's own
  sync outputs (``spikes/h1``, ``v/out`` from :func:`aedc.reference.simulate`; the emulator's sync mode
  equals it bit for bit, ``tests/test_emulator_sync.py``), the accuracy on the test split;
* ``yinyang.json`` — the training settings and accuracy.

The ``.nir`` files are repacked with fixed-length strings like the golden cases
(:func:`conformance.common.repack`).

Step 2 (``conformance/export_frameworks.py``, in ``.venv-conformance``) loads the files with each
framework and stores their outputs; ``tests/test_conformance_export.py`` compares them with aedc's.
Run: ``.venv/bin/python conformance/export_yinyang.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aedc.datasets import encode_ttfs, yinyang  # noqa: E402
from aedc.frontend.nir_export import write_nir  # noqa: E402
from aedc.ir.graph import Graph  # noqa: E402
from aedc.ir.options import profile  # noqa: E402
from conformance.common import repack  # noqa: E402

OUT = ROOT / "tests" / "data" / "conformance" / "export"
T = 50
T_MAX = 30
SEED = 0
EPOCHS = 8
N_TRAIN = 1000
N_SAMPLES = 32
"""Test samples stored with the framework outputs (the whole test split is scored for the accuracy)."""
SNNTORCH_DT = 1e-4
"""The tick ``snntorch.import_nir`` hard-codes (``dt = 1e-4`` in ``_nir_to_snntorch_module``)."""
SEMANTICS = profile("nir-euler", dt=1e-3, current_first=True)
"""What both importers compute: Euler, current first, reset to v_reset = 0 in the tick of the spike,
spike on v > θ (snnTorch's imported ``Synaptic`` has ``reset_mechanism="zero"``, ``reset_delay=False``;
Norse's ``CubaLIF`` is ``LIBoxCell`` then ``LIFBoxCell`` with ``reset_value``)."""


def train() -> tuple[Graph, float]:
    """The Yin-Yang example's network and trainer, shortened: ``EPOCHS`` epochs on ``N_TRAIN`` samples."""
    from aedc.emulator import Schedule
    from aedc.train import Trainables, Trainer, mlp

    tr, te = yinyang("train", size=N_TRAIN), yinyang("test")
    train_xy = (encode_ttfs(tr.x, T, t_max=T_MAX, bias_tick=0), tr.y)
    test_xy = (encode_ttfs(te.x, T, t_max=T_MAX, bias_tick=0), te.y)
    g0 = mlp([5, 120, 3], seed=SEED, w_scale=2.0, name="yinyang")
    g0 = g0.model_copy(update={"semantics": SEMANTICS})
    trainer = Trainer(readout="sum_membrane", activity_reg=10.0, progress=False,
                      trainables=Trainables(bias=("out",)))
    g, _ = trainer.fit(g0, train_xy, schedule=Schedule.sync(), epochs=EPOCHS, lr=3e-3, batch=32,
                       seed=SEED)
    return g, float(trainer.evaluate(g, test_xy, Schedule.sync()).accuracy)


def main() -> int:
    from aedc.reference import simulate

    OUT.mkdir(parents=True, exist_ok=True)
    graph, accuracy = train()
    for name, options in (("yinyang", {}), ("yinyang_snntorch", {"dt": SNNTORCH_DT, "li_as_lif": True}),
                          ("yinyang_norse", {"li_as_lif": True})):
        write_nir(graph, OUT / f"{name}.nir", **options)  # type: ignore[arg-type]
        repack(OUT / f"{name}.nir")  # fixed-length strings: a tenth of the bytes, same content
    te = yinyang("test")
    x = encode_ttfs(te.x[:N_SAMPLES], T, t_max=T_MAX, bias_tick=0)
    spikes, v = [], []
    for sample in x:
        trace = simulate(graph, {"in": sample})
        spikes.append(trace.outputs["h1"])
        v.append(trace.state["out"]["v"])
    np.savez_compressed(OUT / "yinyang.npz", input=x.astype(np.float32), label=te.y[:N_SAMPLES],
                        **{"spikes/h1": np.stack(spikes).astype(np.uint8),
                           "v/out": np.stack(v).astype(np.float32)})
    info = {"network": "5-120-3 (cuba_lif hidden, cuba_li readout)", "T": T, "t_max": T_MAX,
            "dt": SEMANTICS.dt, "semantics": SEMANTICS.model_dump(mode="json"), "epochs": EPOCHS,
            "n_train": N_TRAIN, "seed": SEED, "test_accuracy": round(accuracy, 4),
            "n_samples": N_SAMPLES, "hidden_spikes": int(np.sum(spikes))}
    (OUT / "yinyang.json").write_text(json.dumps(info, indent=1) + "\n")
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
