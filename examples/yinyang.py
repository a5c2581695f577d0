"""Yin-Yang: train a 5-120-3 LIF network through the asynchronous schedule, report accuracy and events.

Setup after the EventProp-on-SpiNNaker2 study: T = 50 ticks, dt = 1 ms, τ_mem = 20 ms, τ_syn = 5 ms,
current-based LIF hidden layer (120), non-spiking current-based LI readout (3). Inputs (x, y, 1 − x,
1 − y) as time-to-first-spike (one spike each in ticks 0 … ``--t-max``) plus a bias neuron spiking at
tick 0. Loss: cross-entropy of the mean readout membrane over time (``--readout max_membrane`` for
the maximum) plus a spike-rate regulariser (``--activity-reg``, default 10); Adam with cosine decay.
Training runs in the emulator's async mode: every PE its own process, events visible at the
receiver's first tick after the NoC latency (link 100 µs) with ``--jitter`` µs of tick jitter
(default 300), so an event's latency is 0 or 1 tick depending on sender and receiver jitter — on the
compiler's placement (``--placement compiled``, the default: the PEs and clocks the deployed program
has; the whole 5-120-3 network fits one PE, so every projection is a one-tick hop on one clock) or one
PE per population (``--placement trivial``). The
trained graph is evaluated on the test set in sync and async mode, then *deployed*: compiled with the
default pipeline, cross-compiled (when arm-none-eabi-gcc is installed) and the test set classified by
the emulator (exact mode) and by the generated C built for the host, both on the compiled placement,
sync and async — accuracy side by side and whether every sample's traces are bit-identical
(:mod:`aedc.deploy`). ``--koopman`` also trains the
same network layer-sync and runs it async (Koopman et al. 2024: trained sync, run async vs trained
async, run async).

Run: ``.venv/bin/python examples/yinyang.py [--small] [--epochs N] [--koopman] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aedc.datasets import encode_ttfs, yinyang  # noqa: E402
from aedc.emulator import Schedule  # noqa: E402
from aedc.train import Trainables, Trainer, mlp  # noqa: E402

T = 50


def schedules(jitter: int) -> dict[str, Schedule]:
    return {"sync": Schedule.sync(),
            "async": Schedule.asynchronous(period_us=1000, link_us=100, jitter_us=jitter, seed=1)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    n_train = 500 if args.small else None
    tr, te = yinyang("train", size=n_train), yinyang("test", size=300 if args.small else None)

    def enc(s: Any) -> tuple[Any, Any]:
        return encode_ttfs(s.x, T, t_max=args.t_max, bias_tick=0), s.y

    train, test = enc(tr), enc(te)
    scheds = schedules(args.jitter)
    # hidden biases stay 0 unless --train-bias: a bias is a constant input current every tick (steady
    # state gain τ_syn/dt · τ_mem/dt = 100 here), so an Adam step on it moves the membrane far more than
    # a weight step does; the readout's bias is trained (it keeps max-membrane logits from dying at 0)
    steps = args.epochs * max(len(tr) // args.batch, 1)

    def adam_cosine(lr: float) -> Any:  # Adam with the learning rate decaying to 10% (cosine)
        import optax  # type: ignore[import-untyped]

        return optax.adam(optax.cosine_decay_schedule(lr, steps, alpha=0.1))

    trainer = Trainer(placement=args.placement, readout=args.readout, optimizer=adam_cosine,
                      activity_reg=args.activity_reg,
                      progress=not args.quiet,
                      trainables=Trainables(bias=True if args.train_bias else ("out",)))
    modes = ["async", "sync"] if args.koopman else ["async"]
    out: dict[str, Any] = {"T": T, "dt_ms": 1.0, "tau_mem_ms": 20.0, "tau_syn_ms": 5.0,
                           "hidden": args.hidden, "epochs": args.epochs, "lr": args.lr,
                           "batch": args.batch, "activity_reg": args.activity_reg,
                           "n_train": len(tr), "n_test": len(te), "jitter_us": args.jitter,
                           "placement": args.placement,
                           "t_max": args.t_max, "trained": {}}
    for mode in modes:
        g0 = mlp([5, args.hidden, 3], seed=args.seed, w_scale=args.w_scale, name=f"yinyang_{mode}")
        t0 = time.perf_counter()
        g, hist = trainer.fit(g0, train, schedule=scheds[mode], epochs=args.epochs, lr=args.lr,
                              batch=args.batch, seed=args.seed)
        secs = time.perf_counter() - t0
        res: dict[str, Any] = {"train_seconds": secs, "history": hist.as_dict()}
        for run_mode, sched in scheds.items():
            ev = trainer.evaluate(g, test, sched)
            res[f"run_{run_mode}"] = ev._asdict()
        out["trained"][mode] = res
        per_epoch = sum(hist.epoch_seconds[1:]) / max(len(hist.epoch_seconds) - 1, 1)
        res["seconds_per_epoch"] = per_epoch
        print(f"trained {mode}: {secs:.1f} s ({per_epoch:.2f} s/epoch after the first)")
        for run_mode in scheds:
            ev = res[f"run_{run_mode}"]
            print(f"  run {run_mode:5s}: test accuracy {ev['accuracy']:.4f}, events/inference "
                  f"{ev['events_per_inference']:.1f}, sparsity {ev['sparsity']:.4f} (training's fast "
                  f"path: float32 sums in any order; the deploy check below uses the chip's exact order, "
                  f"so a sample on a decision boundary may flip)")
        if args.nir:
            from aedc.frontend.nir_export import write_nir

            write_nir(g, Path(args.nir).with_suffix(f".{mode}.nir"))
        if mode == "async" and not args.no_deploy:
            out["deploy"] = deploy(g, test, scheds, args)
    return out


def deploy(g: Any, test: tuple[Any, Any], scheds: dict[str, Schedule], args: argparse.Namespace) -> Any:
    """Compile the async-trained graph, cross-compile it and classify the test set with the emulator
    (exact) and the host-built C on the compiled placement, sync and async."""
    from aedc.deploy import deploy_check

    x, y = test
    t0 = time.perf_counter()
    rep = deploy_check(g, x, y, scheds, readout=args.readout, out_dir=args.build,
                       progress=not args.quiet)
    d = rep.as_dict()
    d["seconds"] = time.perf_counter() - t0
    print(rep.summary())
    return d


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--small", action="store_true", help="500 training / 300 test samples")
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--hidden", type=int, default=120)
    p.add_argument("--activity-reg", type=float, default=10.0)
    p.add_argument("--w-scale", type=float, default=2.0)
    p.add_argument("--t-max", type=int, default=30)
    p.add_argument("--jitter", type=int, default=300, help="µs of tick jitter in async mode")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--placement", default="compiled", choices=["compiled", "trivial"],
                   help="train on the compiler's placement (default: the deployed timing) or on one PE "
                        "per population")
    p.add_argument("--readout", default="sum_membrane", choices=["max_membrane", "sum_membrane"])
    p.add_argument("--train-bias", action="store_true", help="also train the neurons' biases")
    p.add_argument("--koopman", action="store_true", help="also train sync and run async")
    p.add_argument("--json", type=str, default=None, help="write the numbers here")
    p.add_argument("--nir", type=str, default=None, help="write the trained graph(s) as NIR")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--no-deploy", action="store_true",
                   help="skip compiling and scoring the C (emulator exact vs host C on the test set)")
    p.add_argument("--build", type=str, default=None, help="keep the deployed build (C tree) here")
    args = p.parse_args(argv)
    if args.small:
        args.epochs = min(args.epochs, 20)
    out = run(args)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
