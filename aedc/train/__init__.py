"""Training through the emulator's schedule (sync or async), evaluation, checkpoints, export.

API::

    from aedc.train import Trainer, mlp
    graph = mlp([5, 120, 3], seed=0)                        # CubaLIF hidden, CubaLI readout
    trainer = Trainer(readout="sum_membrane", activity_reg=10.0)
    graph, history = trainer.fit(graph, (x, y), schedule=Schedule.asynchronous(link_us=100),
                                 epochs=20, lr=3e-3, batch=32, seed=0)
    acc, events, sparsity, *_ = trainer.evaluate(graph, (x_test, y_test), schedule)
    write_nir(graph, "trained.nir")                         # aedc.frontend.nir_export

* :mod:`aedc.train.model` — :class:`TrainableModel`: the graph as a differentiable function of its
  dense weights (+ biases, thresholds) under a schedule; ``to_graph`` writes them back.
* :mod:`aedc.train.losses` — readouts (mean membrane, max membrane, spike count), cross-entropy,
  the activity regulariser.
* :mod:`aedc.train.trainer` — :class:`Trainer` (``fit`` / ``evaluate``), :class:`Evaluation`,
  :class:`History`; what events and sparsity count.
* :mod:`aedc.train.checkpoint` — ``save_checkpoint`` / ``load_checkpoint`` (npz) and the resumable
  training state (``save_training_state`` / ``load_training_state``).
* :mod:`aedc.train.nets` — ``mlp``: a feed-forward (optionally recurrent) LIF network with initial
  weights.

Importing this package imports JAX and optax; ``import aedc`` does not.
"""

from aedc.train.checkpoint import (
    load_checkpoint,
    load_training_state,
    save_checkpoint,
    save_training_state,
)
from aedc.train.losses import READOUTS, cross_entropy, logits, spike_rate
from aedc.train.model import Params, TrainableModel, Trainables
from aedc.train.nets import mlp, sigma_delta_mlp
from aedc.train.trainer import Evaluation, History, Trainer, sending_populations

__all__ = ["READOUTS", "Evaluation", "History", "Params", "TrainableModel", "Trainables", "Trainer",
           "cross_entropy", "load_checkpoint", "load_training_state", "logits", "mlp", "save_checkpoint",
           "save_training_state", "sending_populations", "sigma_delta_mlp", "spike_rate"]
