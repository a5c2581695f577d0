"""Digits (scikit-learn 8×8): a sigma-delta MLP on graded events, trained through the async schedule.

64 pixel values in [0, 1] are sent once, at tick 0, by a sigma-delta input (payload = the change from
0, which the receivers hold); the hidden ReLU layer sends sigma-delta events (the change of its value
when it exceeds the event threshold: each active unit sends its value once); a leaky-integrator readout
(τ = 4 ticks) is read as its mean membrane over T = 8 ticks. Trained in the emulator's async mode
(1000 µs ticks, ``--jitter`` µs of jitter, 100 µs links) with AdamW (cosine decay), an event-rate
penalty (``--activity-reg``, sigma-delta sends through the send gate's surrogate) and a trained
sigma-delta event threshold (``--fixed-threshold`` keeps it at ``--threshold``). Then
evaluated in sync and async mode and deployed like the Yin-Yang example: compiled, cross-compiled, and
the test set classified by the emulator (exact) and the host-built C on the compiled placement
(:mod:`aedc.deploy`).

Run: ``.venv/bin/python examples/digits.py [--epochs N] [--json out.json]``.
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

from aedc.datasets import digits, encode_graded  # noqa: E402
from aedc.emulator import Schedule  # noqa: E402
from aedc.train import Trainables, Trainer, sigma_delta_mlp  # noqa: E402

T = 8


def run(args: argparse.Namespace) -> dict[str, Any]:
    import optax  # type: ignore[import-untyped]

    tr, te = digits("train"), digits("test")
    train = (encode_graded(tr.x, T), tr.y)
    test = (encode_graded(te.x, T), te.y)
    scheds = {"sync": Schedule.sync(),
              "async": Schedule.asynchronous(period_us=1000, link_us=100, jitter_us=args.jitter, seed=1)}
    steps = args.epochs * max(len(tr) // args.batch, 1)
    trainer = Trainer(placement=args.placement, readout="sum_membrane", progress=not args.quiet,
                      activity_reg=args.activity_reg,
                      trainables=Trainables(bias=True, threshold=args.train_threshold),
                      optimizer=lambda lr: optax.adamw(optax.cosine_decay_schedule(lr, steps, alpha=0.1),
                                                       weight_decay=args.weight_decay))
    g0 = sigma_delta_mlp([64, args.hidden, 10], seed=args.seed, event_threshold=args.threshold)
    t0 = time.perf_counter()
    g, hist = trainer.fit(g0, train, schedule=scheds["async"], epochs=args.epochs, lr=args.lr,
                          batch=args.batch, seed=args.seed)
    out: dict[str, Any] = {"T": T, "hidden": args.hidden, "epochs": args.epochs, "lr": args.lr,
                           "activity_reg": args.activity_reg, "train_threshold": args.train_threshold,
                           "weight_decay": args.weight_decay, "jitter_us": args.jitter,
                           "placement": args.placement,
                           "n_train": len(tr), "n_test": len(te),
                           "event_threshold": g.pop_map()["h1"].event_threshold,
                           "train_seconds": time.perf_counter() - t0, "history": hist.as_dict()}
    print(f"trained async: {out['train_seconds']:.1f} s, event threshold {out['event_threshold']:.3f}")
    for name, sched in scheds.items():
        ev = trainer.evaluate(g, test, sched)
        out[f"run_{name}"] = ev._asdict()
        print(f"  run {name:5s}: test accuracy {ev.accuracy:.4f}, events/inference "
              f"{ev.events_per_inference:.1f} (+{ev.input_events_per_inference:.1f} input), "
              f"sparsity {ev.sparsity:.4f}")
    if not args.no_deploy:
        from aedc.deploy import deploy_check

        rep = deploy_check(g, test[0], test[1], scheds, readout="sum_membrane", out_dir=args.build,
                           progress=not args.quiet)
        out["deploy"] = rep.as_dict()
        print(rep.summary())
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=1e-2)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--threshold", type=float, default=0.05, help="initial sigma-delta event threshold")
    p.add_argument("--fixed-threshold", dest="train_threshold", action="store_false",
                   help="keep the event threshold fixed (default: trained)")
    p.add_argument("--activity-reg", type=float, default=0.5,
                   help="weight of the event-rate penalty (sigma-delta sends per neuron and tick)")
    p.add_argument("--jitter", type=int, default=300, help="µs of tick jitter in async mode")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--placement", default="compiled", choices=["compiled", "trivial"],
                   help="train on the compiler's placement (default: the deployed timing) or on one PE "
                        "per population")
    p.add_argument("--no-deploy", action="store_true", help="skip compiling and scoring the C")
    p.add_argument("--build", type=str, default=None, help="keep the deployed build (C tree) here")
    p.add_argument("--json", type=str, default=None, help="write the numbers here")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    out = run(args)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
