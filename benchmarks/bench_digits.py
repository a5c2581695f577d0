"""Digits benchmark: a sigma-delta MLP (64-128-10) on graded events, trained async, deployed.

Runs :mod:`examples.digits` with its defaults (T = 8, sigma-delta input and ReLU hidden layer, leaky-
integrator readout, AdamW 3e-3 cosine, weight decay 1e-2, 40 epochs, event-rate penalty 0.5 and a
trained event threshold; async = 1000 µs ticks, 300 µs jitter, 100 µs links) for seeds 0, 1, 2, and once
per seed without the penalty and with the threshold fixed (``baseline`` in the JSON): test accuracy
sync/async, events and sparsity, and the deploy check (emulator exact vs host C on the compiled
placement). Writes benchmarks/results/digits.json + .png.

Run: ``.venv/bin/python benchmarks/bench_digits.py``.
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

import digits as example  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SEEDS = (0, 1, 2)


def plot(runs: list[dict[str, Any]], baseline: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    width = 0.2
    for j, key in enumerate(("run_sync", "run_async")):
        accs = [100 * r[key]["accuracy"] for r in runs]
        ax1.bar([i + (j - 0.5) * width for i in range(len(runs))], accs, width, label=key[4:])
    hosts = [100 * r["deploy"]["paths"]["host C async"]["accuracy"] for r in runs]
    ax1.bar([i + 1.5 * width for i in range(len(runs))], hosts, width, label="host C async")
    ax1.axhline(95, color="k", lw=0.8, ls="--")
    ax1.set(xticks=range(len(runs)), xticklabels=[f"seed {r['seed']}" for r in runs], ylim=(90, 100),
            ylabel="test accuracy (%)")
    ax1.legend(fontsize=8)
    xs = range(len(runs))
    ax2.bar([i - 0.2 for i in xs], [b["run_async"]["events_per_inference"] for b in baseline], 0.4,
            color="tab:gray", label="no penalty, fixed threshold")
    ax2.bar([i + 0.2 for i in xs], [r["run_async"]["events_per_inference"] for r in runs], 0.4,
            color="tab:orange", label="penalty 0.5, trained threshold")
    ax2.set(xticks=list(xs), xticklabels=[f"seed {r['seed']}" for r in runs])
    ax2.set_ylabel("hidden events / inference (async)")
    ax2.legend(fontsize=8)
    fig.suptitle("Digits 64-128-10 sigma-delta MLP, trained async, T = 8")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    runs, baseline = [], []
    for seed in SEEDS:
        out = example.main(["--seed", str(seed), "--quiet"])
        out["seed"] = seed
        runs.append(out)
        base = example.main(["--seed", str(seed), "--quiet", "--no-deploy", "--activity-reg", "0",
                             "--fixed-threshold"])
        baseline.append({"seed": seed, "run_sync": base["run_sync"], "run_async": base["run_async"]})
    machine = {"platform": platform.platform(), "cpus": os.cpu_count(),
               "python": platform.python_version()}
    doc = {"runs": runs, "baseline": baseline, "machine": machine}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "digits.json").write_text(json.dumps(doc, indent=1))
    plot(runs, baseline, RESULTS / "digits.png")
    print(f"wrote {RESULTS / 'digits'}.json/.png")


if __name__ == "__main__":
    main()
