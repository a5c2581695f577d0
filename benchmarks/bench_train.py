"""Yin-Yang training benchmark: test accuracy, events/inference and sparsity, sync vs async.

Runs :mod:`examples.yinyang` (5-120-3 current-based LIF, T = 50, dt = 1 ms, τ_mem 20 ms, τ_syn 5 ms;
TTFS inputs + bias neuron; mean-membrane readout; activity regulariser 10; Adam 3e-3 with cosine
decay, 50 epochs; async = 1000 µs ticks, 300 µs jitter, 100 µs links), trained through the
emulator's async schedule and — with ``--koopman``, the default here — also trained layer-sync; each
is evaluated on the 1000-sample test set in sync and async mode (the Koopman et al. 2024 question).
The async-trained network is then deployed (``deploy`` in the JSON): compiled, cross-compiled, and the
test set classified by the emulator (exact) and the host-built C on the compiled placement, sync and
async, with a per-sample bit-identity check. Writes benchmarks/results/train.json + .png.

Run: ``.venv/bin/python benchmarks/bench_train.py [--quick] [example options…]`` (``--quick``: the
example's ``--small`` run, written to train.quick.*).
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

import yinyang as example  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DEFAULTS = ["--epochs", "50", "--lr", "3e-3", "--w-scale", "2", "--readout", "sum_membrane",
            "--activity-reg", "10", "--jitter", "300", "--koopman", "--quiet"]


def plot(out: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trained = out["trained"]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(13, 3.8))
    labels, accs, evs = [], [], []
    for mode, res in trained.items():
        for run_mode in ("sync", "async"):
            labels.append(f"train {mode}\nrun {run_mode}")
            accs.append(100 * res[f"run_{run_mode}"]["accuracy"])
            evs.append(res[f"run_{run_mode}"]["events_per_inference"])
        ax3.plot(res["history"]["train_accuracy"], label=f"trained {mode}")
    ax1.bar(labels, accs, color="tab:blue")
    ax1.set_ylim(min(accs) - 5, 100)
    ax1.set_ylabel("test accuracy (%)")
    for i, a in enumerate(accs):
        ax1.text(i, a + 0.3, f"{a:.1f}", ha="center", fontsize=8)
    ax2.bar(labels, evs, color="tab:orange")
    ax2.set_ylabel("events / inference (hidden spikes)")
    ax3.set_xlabel("epoch")
    ax3.set_ylabel("train accuracy")
    ax3.legend()
    for ax in (ax1, ax2):
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle("Yin-Yang 5-120-3 LIF, T = 50, emulator (fast path)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    argv = sys.argv[1:]
    quick = "--quick" in argv
    argv = [a for a in argv if a != "--quick"]
    args = DEFAULTS + (["--small"] if quick else []) + argv
    out = example.main(args)
    out["argv"] = args
    out["machine"] = {"platform": platform.platform(), "cpus": os.cpu_count(),
                      "python": platform.python_version(),
                      "note": "2-core CPU shared with other jobs; times are indicative only"}
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "train.quick" if quick else "train"
    (RESULTS / f"{name}.json").write_text(json.dumps(out, indent=1))
    plot(out, RESULTS / f"{name}.png")
    print(f"wrote {RESULTS / name}.json/.png")


if __name__ == "__main__":
    main()
