"""``Trainer``: fit a graph's parameters through the emulator's schedule, evaluate, checkpoint, export.

    trainer = Trainer(readout="sum_membrane", activity_reg=10.0)
    graph, history = trainer.fit(graph, (x_train, y_train), schedule=Schedule.asynchronous(link_us=100),
                                 epochs=20, lr=3e-3, batch=32, seed=0)
    ev = trainer.evaluate(graph, (x_test, y_test), Schedule.asynchronous(link_us=100))
    ev.accuracy, ev.events_per_inference, ev.sparsity

Data are ``(x, y)`` with ``x`` the input raster ``(samples, T, N_in)`` of the graph's (single) input
population — see :mod:`aedc.datasets` for encoders — and ``y`` integer labels; or a
:class:`~aedc.datasets.Split` whose ``x`` is already a raster. ``T`` is taken from ``x``.

Training: minibatch Adam (optax; any ``optax.GradientTransformation`` may be passed) on
cross-entropy of the readout (:mod:`aedc.train.losses`) plus the activity regulariser, gradients
through the unrolled schedule (:mod:`aedc.train.model`). The loop is deterministic for a seed: batch
order from ``numpy.random.default_rng(seed)``, and XLA CPU reductions are deterministic.

Counting (:class:`Evaluation`): ``events_per_inference`` = events sent per sample by the non-input
populations that send events over the network — spiking populations and any population with an
outgoing projection; a non-spiking readout with no outgoing projection is read on its PE and sends
nothing. ``sparsity = 1 − events / (neurons × ticks)`` over all non-input neurons (readout included);
``input_events_per_inference`` is reported separately.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax  # type: ignore[import-untyped]

from aedc.emulator import PlacedProgram, Schedule
from aedc.errors import TrainingError
from aedc.ir.graph import Graph
from aedc.passes.pipelines import DEFAULT_PIPELINE
from aedc.train.checkpoint import load_training_state, save_training_state
from aedc.train.losses import READOUTS, Readout, cross_entropy, logits, spike_rate
from aedc.train.model import Params, TrainableModel, Trainables

Data = Any  # (x, y) arrays or a Split
PLACE_PIPELINE = ",".join(DEFAULT_PIPELINE.split(",")[:DEFAULT_PIPELINE.split(",").index("place") + 1])
"""The default pipeline up to placement (:data:`aedc.passes.pipelines.DEFAULT_PIPELINE` without
routing and C): what ``Trainer(placement="compiled")`` trains on."""


class Evaluation(NamedTuple):
    """Result of :meth:`Trainer.evaluate` (unpacks as ``acc, events, sparsity, ...``)."""

    accuracy: float
    events_per_inference: float
    sparsity: float
    input_events_per_inference: float
    loss: float


@dataclass
class History:
    """Per-epoch records of :meth:`Trainer.fit` (lists, one entry per epoch)."""

    loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    events: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[float]]:
        return {"loss": self.loss, "train_accuracy": self.train_accuracy, "events": self.events,
                "val_accuracy": self.val_accuracy, "epoch_seconds": self.epoch_seconds}

    def plot(self, path: str | Path, title: str = "") -> Path:
        """The learning curves as a PNG: loss, train (and validation) accuracy, events per sample,
        per epoch — what a person looks at to see whether a run converged or should go on."""
        from matplotlib.figure import Figure  # no pyplot: the caller's backend stays as it is

        epochs = np.arange(1, len(self.loss) + 1)
        fig = Figure(figsize=(13, 3.6))
        axes = fig.subplots(1, 3)
        axes[0].plot(epochs, self.loss, "o-")
        axes[0].set_ylabel("training loss")
        axes[1].plot(epochs, self.train_accuracy, "o-", label="train")
        if self.val_accuracy:
            axes[1].plot(epochs[:len(self.val_accuracy)], self.val_accuracy, "s-", label="validation")
        axes[1].set_ylabel("accuracy")
        axes[1].legend()
        axes[2].plot(epochs, self.events, "o-")
        axes[2].set_ylabel("events / sample")
        for ax in axes:
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
        fig.suptitle(title or f"training, {len(self.loss)} epochs")
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
        return path


def _xy(data: Data) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(data, tuple):
        x, y = data
    else:
        x, y = data.x, data.y
    x, y = np.asarray(x, np.float32), np.asarray(y, np.int32)
    if x.ndim != 3:
        raise ValueError(f"x must be an input raster (samples, T, N), got shape {x.shape}; encode "
                         "features first (aedc.datasets.encode_ttfs / encode_graded)")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} samples, y has {y.shape[0]}")
    return x, y


def sending_populations(graph: Graph) -> tuple[str, ...]:
    """Non-input populations whose events travel: spiking ones and those with outgoing projections."""
    has_out = {pr.pre for pr in graph.projections}
    return tuple(p.name for p in graph.populations if not p.is_input
                 and (p.neuron.SPIKING or p.name in has_out))


@dataclass
class Trainer:
    """Training loop options; see the module docstring.

    ``readout``: how output traces become logits; ``activity_reg``: weight of the spike-rate penalty;
    ``placement``: ``"trivial"`` (default: one PE per population) or ``"compiled"`` (the compiler's
    placement, :meth:`placed`; the trained graph is then the compiled one, whose deployment
    has the trained timing); ``optimizer``: a function ``lr → optax.GradientTransformation``
    (default Adam); ``trainables``:
    biases/thresholds to train besides dense weights; ``checkpoint_dir``: write ``epoch_NNN.npz``
    (parameters, optimizer state, history: ``fit(..., resume=...)`` continues from one exactly)
    after every epoch; ``progress``: a rich progress bar with loss/accuracy/events.
    """

    readout: Readout = "sum_membrane"
    activity_reg: float = 0.0
    count_scale: float = 1.0
    optimizer: Callable[[float], optax.GradientTransformation] = optax.adam
    trainables: Trainables = field(default_factory=Trainables)
    checkpoint_dir: Path | None = None
    progress: bool = True
    output: str | None = None  # output population (default: the graph's first output)
    placement: Literal["trivial", "compiled"] = "trivial"
    _models: dict[Any, tuple[Any, TrainableModel]] = field(default_factory=dict, repr=False)
    _programs: dict[int, tuple[Graph, PlacedProgram]] = field(default_factory=dict, repr=False)
    _jitted: dict[Any, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.readout not in READOUTS:
            raise ValueError(f"unknown readout {self.readout!r}; choose one of {list(READOUTS)}")
        if self.placement not in ("trivial", "compiled"):
            raise ValueError(f"unknown placement {self.placement!r}; choose 'trivial' or 'compiled'")

    def _fingerprint(self, graph: Graph | PlacedProgram, x: np.ndarray, y: np.ndarray,
                     schedule: Schedule) -> str:
        """What must not change between a run and its resume, hashed: the initial graph, the data, the
        schedule and this trainer's loss/optimizer/placement settings."""
        from aedc.ir.serialize import to_json

        h = hashlib.sha256()
        h.update(to_json(graph.graph if isinstance(graph, PlacedProgram) else graph).encode())
        h.update(np.ascontiguousarray(x).tobytes())
        h.update(np.ascontiguousarray(y).tobytes())
        h.update(repr((schedule, self.readout, self.activity_reg, self.count_scale, self.trainables,
                       self.placement, self.output,
                       getattr(self.optimizer, "__qualname__", repr(self.optimizer)))).encode())
        return h.hexdigest()

    def placed(self, graph: Graph | PlacedProgram) -> Graph | PlacedProgram:
        """What the schedule runs on: ``graph`` itself (one PE per population) or, with
        ``placement="compiled"``, its placement by the compiler's passes up to ``place``
        (:data:`PLACE_PIPELINE`) — the PEs, tick clocks and NoC hops :func:`aedc.deploy.deploy_check`
        and the chip use, so an asynchronous schedule trains the timing it is deployed with."""
        if self.placement == "trivial" or isinstance(graph, PlacedProgram):
            return graph
        hit = self._programs.get(id(graph))
        if hit is None or hit[0] is not graph:
            from aedc.passes import CompileState, PassContext, PassManager

            state = PassManager(PLACE_PIPELINE).run(CompileState(graph=graph), PassContext())
            assert state.placement is not None
            hit = (graph, PlacedProgram.from_placement(state.graph, state.placement))
            self._programs[id(graph)] = hit
        return hit[1]

    # ---- plumbing -----------------------------------------------------------------------------------

    def model(self, graph: Graph | PlacedProgram, schedule: Schedule, T: int) -> TrainableModel:
        """The (cached) differentiable model of ``graph`` under ``schedule`` for ``T`` ticks."""
        key = (id(graph), schedule, T)
        if key not in self._models or self._models[key][0] is not graph:
            self._models[key] = (graph, TrainableModel(graph, schedule, T, trainables=self.trainables))
        return self._models[key][1]

    def _out_pop(self, graph: Graph) -> str:
        if self.output is not None:
            return self.output
        if graph.outputs:
            return next(iter(graph.outputs.values()))
        return graph.populations[-1].name

    def loss_fn(self, model: TrainableModel) -> Callable[..., Any]:
        """``loss(params, base, x, y) -> (loss, (correct, events))`` for ``model`` (pure, jit-able;
        ``base`` is ``model.base``)."""
        pop = self._out_pop(model.graph)
        spiking = tuple(p.name for p in model.graph.populations  # what the regulariser counts
                        if not p.is_input and (p.neuron.SPIKING or p.event_rule == "sigma_delta"))
        sending = sending_populations(model.graph)

        def loss(params: Params, base: Any, x: Any, y: Any) -> tuple[Any, tuple[Any, Any]]:
            out = model.apply(params, base, x)
            z = logits(out, pop, self.readout, self.count_scale)
            value = cross_entropy(z, y) + self.activity_reg * spike_rate(out, spiking)
            correct = jnp.sum(jnp.argmax(z, axis=1) == y)
            events = sum((jnp.sum(out[n]["events"] != 0) for n in sending), jnp.int32(0))
            return value, (correct, events)

        return loss

    # ---- public API ---------------------------------------------------------------------------------

    def fit(self, graph: Graph, train_data: Data, *, schedule: Schedule | None = None, epochs: int = 10,
            lr: float = 1e-3, batch: int = 32, seed: int = 0, val_data: Data | None = None,
            val_schedule: Schedule | None = None,
            resume: str | Path | None = None) -> tuple[Graph, History]:
        """Train ``graph``'s parameters (its current values are the initialisation); return the
        trained graph and the per-epoch :class:`History`.

        ``resume``: a checkpoint this trainer wrote (``checkpoint_dir/epoch_NNN.npz``) of the same
        graph, data, schedule, trainer settings, ``seed``, ``batch`` and ``lr``: training continues
        after that epoch with its parameters, optimizer state, history and batch order, up to
        ``epochs`` in all — the same final weights as a run that was never interrupted."""
        schedule = schedule or Schedule.sync()
        x, y = _xy(train_data)
        T = x.shape[1]
        model = self.model(self.placed(graph), schedule, T)
        opt = self.optimizer(lr)
        params = model.params0
        opt_state = opt.init(params)
        run: dict[str, float | int | str] = {"seed": seed, "batch": batch, "lr": lr, "samples": len(y)}
        if resume is not None or self.checkpoint_dir is not None:  # hashing graph and data costs a pass
            run["fingerprint"] = self._fingerprint(graph, x, y, schedule)
        first, hist = 0, History()
        if resume is not None:
            params, opt_state, saved, meta = load_training_state(resume, params, opt_state)
            differs = {k: (meta.get(k), v) for k, v in run.items() if meta.get(k) != v}
            if differs:
                what = ", ".join(f"{k} {a} here {b}" if k != "fingerprint" else
                                 "graph, data, schedule or trainer settings" for k, (a, b) in differs.items())
                raise TrainingError(f"{resume}: written by a run with other settings ({what}); an exact "
                                    "resume needs the same graph, data, schedule, seed, batch, lr and "
                                    "trainer settings")
            first = int(meta["epoch"]) + 1
            hist = History(**{k: list(saved.get(k, [])) for k in History().as_dict()})
        key = ("step", id(model), lr)
        if key not in self._jitted:  # a second fit of the same graph reuses the compiled step
            grad_fn = jax.value_and_grad(self.loss_fn(model), has_aux=True)

            def step(params: Params, opt_state: Any, base: Any, xb: Any, yb: Any) -> tuple[Any, ...]:
                (value, (correct, events)), grads = grad_fn(params, base, xb, yb)
                updates, opt_state = opt.update(grads, opt_state, params)
                return optax.apply_updates(params, updates), opt_state, value, correct, events

            self._jitted[key] = jax.jit(step)
        step = self._jitted[key]

        rng = np.random.default_rng(seed)
        for _ in range(first):  # the batch orders of the epochs already done
            rng.permutation(len(y))
        n_batches = max(len(y) // batch, 1)
        bar = _Bar(self.progress, max(epochs - first, 0) * n_batches)
        with bar:
            for epoch in range(first, epochs):
                t0 = time.perf_counter()
                order = rng.permutation(len(y))
                tot_loss, tot_correct, tot_events, seen = 0.0, 0, 0, 0
                for b in range(n_batches):
                    idx = order[b * batch:(b + 1) * batch]
                    params, opt_state, value, correct, events = step(params, opt_state, model.base,
                                                                   x[idx], y[idx])
                    tot_loss += float(value) * idx.size
                    tot_correct += int(correct)
                    tot_events += int(events)
                    seen += idx.size
                    bar.update(epoch, tot_loss / seen, tot_correct / seen, tot_events / seen)
                hist.loss.append(tot_loss / seen)
                hist.train_accuracy.append(tot_correct / seen)
                hist.events.append(tot_events / seen)
                hist.epoch_seconds.append(time.perf_counter() - t0)
                if val_data is not None:
                    ev = self._evaluate_params(model, params, val_data, val_schedule or schedule)
                    hist.val_accuracy.append(ev.accuracy)
                if self.checkpoint_dir is not None:
                    save_training_state(Path(self.checkpoint_dir) / f"epoch_{epoch:03d}.npz", params,
                                        opt_state, hist.as_dict(), epoch=epoch, loss=hist.loss[-1],
                                        **run)
        return model.to_graph(params), hist

    def _evaluate_params(self, model: TrainableModel, params: Params, data: Data,
                         schedule: Schedule, batch: int = 256) -> Evaluation:
        if schedule != model.schedule:
            other = self.model(model.emulator.program, schedule, model.T)  # same placement → same tree
            mine: Any = jax.tree_util.tree_structure(params)
            if jax.tree_util.tree_structure(other.params0) == mine:
                return self._evaluate_model(other, params, data, batch)
            return self.evaluate(model.to_graph(params), data, schedule, batch=batch)
        return self._evaluate_model(model, params, data, batch)

    def evaluate(self, graph: Graph | PlacedProgram, data: Data, schedule: Schedule | None = None, *,
                 batch: int = 256) -> Evaluation:
        """Accuracy, events per inference and sparsity of ``graph`` on ``data`` under ``schedule``
        (the emulator's fast path; see the module docstring for what is counted)."""
        x, _ = _xy(data)
        model = self.model(self.placed(graph), schedule or Schedule.sync(), x.shape[1])
        return self._evaluate_model(model, model.params0, data, batch)

    def _evaluate_model(self, model: TrainableModel, params: Params, data: Data,
                        batch: int) -> Evaluation:
        x, y = _xy(data)
        T = x.shape[1]
        key = ("loss", id(model))
        if key not in self._jitted:
            self._jitted[key] = jax.jit(self.loss_fn(model))
        loss = self._jitted[key]
        inp = model.input

        tot_loss, correct, events, in_ev = 0.0, 0, 0, 0
        for s in range(0, len(y), batch):
            xb, yb = x[s:s + batch], y[s:s + batch]
            value, (c, e) = loss(params, model.base, xb, yb)
            tot_loss += float(value) * len(yb)
            correct, events, in_ev = correct + int(c), events + int(e), in_ev + int(np.count_nonzero(xb))
        n = max(len(y), 1)
        neurons = sum(p.size for p in model.graph.populations if not p.is_input and p.name != inp)
        return Evaluation(accuracy=correct / n, events_per_inference=events / n,
                          sparsity=1.0 - events / n / max(neurons * T, 1),
                          input_events_per_inference=in_ev / n, loss=tot_loss / n)


class _Bar:
    """A rich progress bar (or nothing) showing epoch, loss, accuracy and events per sample."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled, self.total = enabled, total
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _Bar:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            # elapsed and remaining (ETA from the batches done so far): a run can take minutes
            self._progress = Progress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                                      TextColumn("ETA"), TimeRemainingColumn())
            self._progress.__enter__()
            self._task = self._progress.add_task("train", total=self.total, info="")
        return self

    def update(self, epoch: int, loss: float, acc: float, events: float) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=1,
                                  info=f"epoch {epoch + 1} loss {loss:.4f} acc {acc:.3f} "
                                       f"events/sample {events:.1f}")

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(None, None, None)
