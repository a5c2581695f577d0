"""The layer-sync vs event-driven study (issue 21 item 5) on Yin-Yang: how a network trained in one
execution model behaves in another.

Per seed, a 5-100-100-3 LIF network (:func:`aedc.train.mlp`; voltage-based LIF, whose input moves the
membrane in the same step — with the current-based ``cuba_lif`` of :mod:`examples.yinyang` the
membrane integrates last step's current under ``nir-euler``, so no spike crosses a layer within a
step and every event-driven run equals layer-sync: ``--hidden-model cuba_lif`` shows it; T = 50 steps
of 1 ms, TTFS inputs) is trained twice — layer-synchronously
(``Schedule.sync()``) and event-driven (``Schedule.event_driven`` with the training policy,
"unlayered backprop": gradients through the micro-steps) — and each trained network is run under
layer-sync, event-driven (all candidates at once, and ``k`` = 1 spike per PE per micro-step with
each policy: arrival, momentum, random) and tick-async (GALS: 300 µs jitter, 100 µs links).
Reported per (trained, run) pair, mean ± std over the seeds: test accuracy (the trainer's fast
path), hidden spikes per inference, NoC packets per inference, time to decision in steps (the arg-max
of the summed readout membrane stops changing), in hidden spikes fired until then, and in µs
(:mod:`aedc.timing.event_time`, default PE cost model; layer-sync's from its event-driven form,
``layered`` with ``k`` = 0, which fires the same spikes with a barrier per layer) — the emulator's
metrics on the compiled placement of each trained graph (fast mode). The JSON and PNG are rewritten
after every seed.

Tasks (``--task``): ``yinyang`` (TTFS, sparse: a few spikes per step), ``digits`` (8×8 digits, rate
coded, 64-100-100-10 over 20 steps: dense, many candidates per step) and ``randman`` (random-manifold
spike times, 20-100-100-10 with recurrent hidden layers: the temporal task).

Run: ``.venv/bin/python benchmarks/bench_event_study.py [--task yinyang] [--seeds 5] [--epochs 20]
[--quick]``; writes benchmarks/results/event_study.<task>.json + .png (``--quick``: 1 seed, few
samples, 3 epochs → *.quick.*).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_emulator import compiled_program  # noqa: E402

from aedc.datasets import digits, encode_ttfs, randman, yinyang  # noqa: E402
from aedc.emulator import Emulator, PlacedProgram, Schedule  # noqa: E402
from aedc.ir.serialize import write_atomic  # noqa: E402
from aedc.train import Trainables, Trainer, mlp  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
T = 50
K = 1  # spikes a PE fires per micro-step in the event-driven runs with a policy (the policy decides)
METRIC_SAMPLES = 300
"""Test samples the emulator's metrics (spikes, packets, decision) are averaged over; accuracy uses the
whole test set."""
SIZES = [5, 100, 100, 3]
"""Two hidden layers: with one, every hidden neuron sees its step's whole input in micro-step 0 and a
graded readout integrates at the step's end, so event-driven execution could not differ from
layer-sync; with two, the second layer fires on partial input within a step."""


Data = tuple[np.ndarray, np.ndarray]


def yinyang_task(quick: bool) -> tuple[list[int], tuple[Data, Data], int, int]:
    """Yin-Yang, time-to-first-spike coded over T = 50 steps (a sparse code: a few spikes a step)."""
    tr = yinyang("train", size=500 if quick else None)
    te = yinyang("test", size=300 if quick else None)
    train = (encode_ttfs(tr.x, T, t_max=30, bias_tick=0), tr.y)
    test = (encode_ttfs(te.x, T, t_max=30, bias_tick=0), te.y)
    return SIZES, (train, test), len(tr.y), len(te.y)


def digits_task(quick: bool) -> tuple[list[int], tuple[Data, Data], int, int]:
    """8×8 digits, rate coded: each pixel fires with probability 0.5·intensity in each of 20 steps
    (a dense code: many inputs and hidden candidates in one step, where the order matters)."""
    tr, te = digits("train"), digits("test")
    rng = np.random.default_rng(0)

    def rate(x: np.ndarray) -> np.ndarray:
        return (rng.random((x.shape[0], 20, x.shape[1])) < 0.5 * x[:, None, :]).astype(np.float32)

    n = 300 if quick else None
    return [64, 100, 100, 10], ((rate(tr.x[:n]), tr.y[:n]), (rate(te.x), te.y)), len(tr.y[:n]), len(te.y)


def randman_task(quick: bool) -> tuple[list[int], tuple[Data, Data], int, int]:
    """Random-manifold spike times (:func:`aedc.datasets.randman`: 10 classes, 20 inputs that each
    fire once in the first 40 of T = 50 steps; only timing separates the classes), recurrent hidden
    layers (:data:`NETS`): a temporal task, where the order of events inside a step is information."""
    n_train, n_test = (300, 300) if quick else (2000, 1000)
    tr = randman("train", size=n_train, T=T, t_max=40, seed=0)
    te = randman("test", size=n_test, T=T, t_max=40, seed=0)
    return [20, 100, 100, 10], ((tr.x, tr.y), (te.x, te.y)), n_train, n_test


TASKS = {"yinyang": yinyang_task, "digits": digits_task, "randman": randman_task}
NETS: dict[str, dict[str, Any]] = {"randman": {"recurrent": 0.5}}
"""Extra :func:`aedc.train.mlp` arguments per task."""


def run_schedules(seed: int) -> dict[str, Schedule]:
    return {
        "layer-sync": Schedule.sync(),
        "event arrival k=0": Schedule.event_driven(0, "arrival"),
        f"event arrival k={K}": Schedule.event_driven(K, "arrival"),
        f"event momentum k={K}": Schedule.event_driven(K, "momentum"),
        f"event random k={K}": Schedule.event_driven(K, "random", seed=seed),
        "tick-async": Schedule.asynchronous(period_us=1000, link_us=100, jitter_us=300, seed=1),
    }


def emulator_metrics(program: PlacedProgram, x: np.ndarray, sched: Schedule) -> dict[str, float]:
    """Means over the test set of what the emulator measures on the compiled placement of ``graph``:
    hidden spikes and NoC packets per inference, and the decision — the first step from which the
    arg-max of the readout's summed membrane (the trained readout) no longer changes — in steps, in
    hidden spikes fired up to the end of that step (the events the network integrated before it
    decided) and, for the event-driven schedule, in µs (the step's start plus the time its work took:
    the readout's value for that step is final then)."""
    g = program.graph
    emu = Emulator(program, sched, exact=False)
    inp = g.inputs[0] if isinstance(g.inputs, list | tuple) else next(iter(g.inputs))
    out = next(iter(g.outputs.values()))
    pops = g.pop_map()
    hidden = [p.name for p in g.populations if not p.is_input and type(p.neuron).SPIKING]
    spikes, packets, dec_step, dec_us, before = [], [], [], [], []
    for lo in range(0, len(x), 250):
        res = emu.run_batch({inp: x[lo:lo + 250]})
        v = res.outputs[out].reshape(res.outputs[out].shape[0], res.outputs[out].shape[1], -1)
        winner = np.argmax(np.cumsum(v, axis=1), axis=2)  # (B, T)
        for b, m in enumerate(res.metrics):
            spikes.append(sum(int(np.count_nonzero(res.events[n][b])) for n in hidden))
            packets.append(m["noc_packets"])
            changed = np.flatnonzero(winner[b] != winner[b, -1])
            t = int(changed[-1] + 1) if changed.size else 0
            dec_step.append(t)
            before.append(sum(int(np.count_nonzero(res.events[n][b, :t + 1])) for n in hidden))
            if sched.mode == "event":
                dec_us.append(t * sched.period_us + float(m["step_makespan_us"][t]))
    assert pops[out].neuron.model in ("li", "cuba_li"), "the study reads a membrane readout"
    return {"spikes_per_inference": float(np.mean(spikes)),
            "noc_packets_per_inference": float(np.mean(packets)),
            "decision_step": float(np.mean(dec_step)),
            "spikes_before_decision": float(np.mean(before)),
            "decision_us": float(np.mean(dec_us)) if dec_us else -1.0}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--train-policy", default="momentum", choices=["arrival", "momentum", "random"])
    p.add_argument("--task", default="yinyang", choices=sorted(TASKS))
    p.add_argument("--hidden-model", default="lif", choices=["lif", "cuba_lif"],
                   help="lif (default): the input moves the membrane in the same step; cuba_lif: "
                        "through last step's current, so no spike crosses a layer within a step")
    p.add_argument("--activity-reg", type=float, default=1.0)
    p.add_argument("--w-scale", type=float, default=3.0)
    p.add_argument("--train-size", type=int, default=None,
                   help="train on the first N samples of the training split (default: all of it)")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    seeds = 1 if args.quick else args.seeds
    epochs = min(args.epochs, 3) if args.quick else args.epochs
    sizes, (train, (x_test, y_test)), n_train, n_test = TASKS[args.task](args.quick)
    if args.train_size is not None:
        train = (train[0][:args.train_size], train[1][:args.train_size])
        n_train = len(train[1])
    trainings = {"layer-sync": Schedule.sync(),
                 f"event {args.train_policy} k={K}": Schedule.event_driven(K, args.train_policy)}
    rows: dict[str, dict[str, list[dict[str, float]]]] = {}
    seconds: dict[str, list[float]] = {}
    out: dict[str, Any] = {}
    for seed in range(seeds):
        for tname, tsched in trainings.items():
            trainer = Trainer(readout="sum_membrane", activity_reg=args.activity_reg, progress=False,
                              trainables=Trainables(bias=("out",)))
            g0 = mlp(sizes, seed=seed, w_scale=args.w_scale, name=args.task, hidden_model=args.hidden_model,
                     readout_model="li" if args.hidden_model == "lif" else "cuba_li",
                     **NETS.get(args.task, {}))
            t0 = time.perf_counter()
            g, _ = trainer.fit(g0, train, schedule=tsched, epochs=epochs, lr=args.lr, batch=32, seed=seed)
            seconds.setdefault(tname, []).append(time.perf_counter() - t0)
            program = compiled_program(g)
            for rname, rsched in run_schedules(seed).items():
                ev = trainer.evaluate(g, (x_test, y_test), rsched)
                # layer-sync's metrics from its event-driven form (layered, k = 0: the same spikes as
                # the reference, tested) so that its decision has a µs time line with layer barriers
                msched = Schedule.event_driven(0, layered=True) if rname == "layer-sync" else rsched
                met = emulator_metrics(program, x_test[:METRIC_SAMPLES], msched)
                row = {"accuracy": ev.accuracy, **met}
                rows.setdefault(tname, {}).setdefault(rname, []).append(row)
                print(f"seed {seed} trained {tname:24s} run {rname:20s} acc {ev.accuracy:.4f} spikes "
                      f"{met['spikes_per_inference']:6.1f} decision step {met['decision_step']:5.2f} "
                      f"µs {met['decision_us']:8.1f}", flush=True)
        out = write(args, sizes, x_test, seed + 1, n_train, n_test, epochs, seconds, rows)  # partial
    return out


def write(args: argparse.Namespace, sizes: list[int], x_test: np.ndarray, seeds: int, n_train: int,
          n_test: int, epochs: int, seconds: dict[str, list[float]],
          rows: dict[str, dict[str, list[dict[str, float]]]]) -> dict[str, Any]:
    """The table (mean ± std over the seeds done) as JSON + PNG; called after every seed, so a long
    run leaves its finished seeds behind."""
    table: dict[str, dict[str, dict[str, list[float]]]] = {}
    for tname, runs in rows.items():
        for rname, rs in runs.items():
            table.setdefault(tname, {})[rname] = {
                k: [float(np.mean([r[k] for r in rs])), float(np.std([r[k] for r in rs]))] for k in rs[0]}
    commit = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip()
    out = {"benchmark": "event_study", "commit": commit,
           "task": f"{args.task} {'-'.join(map(str, sizes))} {args.hidden_model}",
           "T": int(x_test.shape[1]), "k": K, "seeds": seeds,
           "epochs": epochs, "activity_reg": args.activity_reg, "w_scale": args.w_scale,
           "n_train": n_train, "n_test": n_test, "train_policy": args.train_policy,
           "host": f"{platform.machine()}, quick={args.quick}",
           "train_seconds_mean": {k: float(np.mean(v)) for k, v in seconds.items()},
           "table": table, "per_seed": rows}
    name = f"event_study.{args.task}" + ("" if args.hidden_model == "lif" else f".{args.hidden_model}") \
        + (".quick" if args.quick else "")
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_atomic(RESULTS / f"{name}.json", json.dumps(out, indent=1) + "\n")
    plot(out, RESULTS / f"{name}.png")
    return out


def plot(out: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    trained = list(out["table"])
    runs = list(out["table"][trained[0]])
    width = 0.8 / len(trained)
    for ax, key, label in zip(axes, ("accuracy", "spikes_per_inference", "decision_step"),
                              ("test accuracy", "spikes / inference", "decision (steps)"), strict=True):
        for i, tname in enumerate(trained):
            vals = [out["table"][tname][r][key] for r in runs]
            ax.bar(np.arange(len(runs)) + i * width, [v[0] for v in vals], width,
                   yerr=[v[1] for v in vals], label=f"trained {tname}")
        ax.set_xticks(np.arange(len(runs)) + width * (len(trained) - 1) / 2)
        ax.set_xticklabels(runs, rotation=35, ha="right", fontsize=8)
        ax.set_ylabel(label)
    axes[0].set_ylim(0.5, 1.0)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{out['task']}: trained layer-sync vs event-driven, run under each schedule "
                 f"({out['seeds']} seeds, mean ± std)")
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    tmp.replace(path)  # a kill mid-run (the table is rewritten every seed) leaves the last whole plot


if __name__ == "__main__":
    main()
