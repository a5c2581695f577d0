"""Trainer on tiny networks, a few steps: loss falls, gradients finite and non-zero, determinism,
checkpoints, export of the trained graph (IR and NIR), and what evaluate counts."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest

from aedc.datasets import encode_ttfs, randman, temporal_order, yinyang
from aedc.emulator import Emulator, PlacedProgram, Schedule
from aedc.errors import TrainingError
from aedc.frontend.nir_export import to_nir
from aedc.ir.connectivity import Dense
from aedc.train import TrainableModel, Trainables, Trainer, load_checkpoint, mlp, save_checkpoint

T = 20
ASYNC = Schedule.asynchronous(period_us=1000, link_us=100)
JITTER = Schedule.asynchronous(period_us=1000, link_us=100, jitter_us=200, seed=3)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    s = yinyang(None, size=96, seed=5)
    return encode_ttfs(s.x, T, t_max=12, bias_tick=0), s.y


def test_loss_falls_async_and_weights_are_written_back(data: tuple[np.ndarray, np.ndarray]) -> None:
    g0 = mlp([5, 16, 3], seed=1)
    trainer = Trainer(progress=False)
    g, hist = trainer.fit(g0, data, schedule=JITTER, epochs=6, lr=1e-2, batch=32, seed=0)
    assert len(hist.loss) == 6
    assert hist.loss[-1] < hist.loss[0] - 0.02, hist.loss
    assert all(np.isfinite(hist.loss))
    # the trained graph differs from the initial one only in weights and biases
    for p0, p1 in zip(g0.projections, g.projections, strict=True):
        assert isinstance(p1.conn, Dense)
        assert isinstance(p0.conn, Dense)
        assert p1.conn.weight.shape == p0.conn.weight.shape
        assert not np.array_equal(p1.conn.weight, p0.conn.weight)
    # evaluating the exported graph gives the training model's loss on the same data
    ev = trainer.evaluate(g, data, JITTER)
    model = trainer.model(g0, JITTER, T)
    assert ev.loss < hist.loss[0]
    # the accuracy is the argmax of the output's mean membrane (the default readout) over the samples,
    # recomputed here from a plain emulator run of the exported graph
    run = Emulator(g, JITTER, exact=False).run_batch({g.inputs[0]: data[0]})
    out = g.outputs[next(iter(g.outputs))]
    pred = np.argmax(np.asarray(run.state[out]["v"]).mean(axis=1), axis=1)
    assert ev.accuracy == pytest.approx(float(np.mean(pred == data[1])), abs=1.5 / len(data[1]))
    assert ev.accuracy > 1 / 3 + 0.1  # trained: above chance on three classes
    assert model.graph is g0
    nir_graph = to_nir(g)
    assert "in->h1" in nir_graph.nodes


def test_gradients_are_finite_and_non_zero(data: tuple[np.ndarray, np.ndarray]) -> None:
    trainer = Trainer(progress=False, activity_reg=0.1)
    model = trainer.model(mlp([5, 16, 3], seed=2), ASYNC, T)
    loss = trainer.loss_fn(model)
    (value, _), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(model.params0, model.base,
                                                                data[0][:32],
                                                                data[1][:32])
    assert np.isfinite(float(value))
    leaves = jax.tree_util.tree_leaves(grads)
    assert len(leaves) == 4  # two weight matrices, two bias vectors
    for leaf in leaves:
        assert np.all(np.isfinite(leaf))
        assert np.abs(leaf).sum() > 0


def test_training_is_deterministic_for_a_seed(data: tuple[np.ndarray, np.ndarray]) -> None:
    trainer, g0 = Trainer(progress=False), mlp([5, 8, 3], seed=0)
    runs = [trainer.fit(g0, data, schedule=ASYNC, epochs=2, lr=1e-2, batch=32, seed=4) for _ in range(2)]
    (g1, h1), (g2, h2) = runs
    assert h1.loss == h2.loss
    for a, b in zip(g1.projections, g2.projections, strict=True):
        assert isinstance(a.conn, Dense)
        assert isinstance(b.conn, Dense)
        assert np.array_equal(a.conn.weight, b.conn.weight)


def test_evaluate_counts_events_like_the_emulator(data: tuple[np.ndarray, np.ndarray]) -> None:
    g = mlp([5, 16, 3], seed=3, w_scale=2.0)
    ev = Trainer(progress=False).evaluate(g, data, ASYNC)
    res = Emulator(g, ASYNC, exact=False).run_batch({"in": data[0]})
    spikes = float(np.mean([m["events"]["h1"] for m in res.metrics]))
    assert spikes > 0
    # the readout (non-spiking, no outgoing projection) sends nothing: only the hidden spikes count
    assert ev.events_per_inference == pytest.approx(spikes)
    assert ev.sparsity == pytest.approx(1.0 - spikes / ((16 + 3) * T))
    assert ev.input_events_per_inference == 5.0


def test_checkpoint_round_trip(tmp_path: Path, data: tuple[np.ndarray, np.ndarray]) -> None:
    trainer = Trainer(progress=False, checkpoint_dir=tmp_path)
    g0 = mlp([5, 8, 3], seed=0)
    g, hist = trainer.fit(g0, data, schedule=Schedule.sync(), epochs=2, lr=1e-2, batch=48, seed=0,
                          val_data=data)
    assert len(hist.val_accuracy) == 2
    assert hist.val_accuracy[-1] == trainer.evaluate(g, data, Schedule.sync()).accuracy
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_000.npz", "epoch_001.npz"]
    model = trainer.model(g0, Schedule.sync(), T)
    params, meta = load_checkpoint(tmp_path / "epoch_001.npz", model.params0)
    assert meta["epoch"] == 1
    assert model.to_graph(params) == g
    path = save_checkpoint(tmp_path / "again.npz", params, epoch=7)
    again, meta2 = load_checkpoint(path, model.params0)
    assert meta2 == {"epoch": 7}
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(params),
                                                    jax.tree_util.tree_leaves(again), strict=True))


def test_temporal_task_loss_falls_in_sync_mode() -> None:
    s = temporal_order(64, 16, seed=1)
    g0 = mlp([4, 16, 2], seed=0, w_scale=3.0)
    _, hist = Trainer(progress=False).fit(g0, s, schedule=Schedule.sync(), epochs=5, lr=1e-2,
                                          batch=32, seed=0)
    assert hist.loss[-1] < hist.loss[0]


def test_bad_inputs_are_explained(data: tuple[np.ndarray, np.ndarray]) -> None:
    with pytest.raises(ValueError, match="readout"):
        Trainer(readout="first_spike")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="encode"):
        Trainer(progress=False).fit(mlp([5, 4, 3]), (np.zeros((4, 5)), np.zeros(4)), epochs=1)


def test_thresholds_and_biases_are_written_back() -> None:
    g0 = mlp([5, 8, 3], seed=0)
    model = TrainableModel(g0, Schedule.sync(), T, trainables=Trainables(bias=("out",), threshold=True))
    assert sorted(model.params0["bias"]) == ["out"]
    assert sorted(model.params0["threshold"]) == ["h1"]  # the readout does not spike
    params = {**model.params0, "threshold": {"h1": np.full(8, 0.7, np.float32)},
              "bias": {"out": np.arange(3, dtype=np.float32)}}
    g = model.to_graph(params)
    pops = g.pop_map()
    np.testing.assert_array_equal(pops["h1"].neuron.v_threshold, np.full(8, 0.7, np.float32))
    np.testing.assert_array_equal(pops["out"].neuron.bias, np.arange(3, dtype=np.float32))
    assert model.to_graph(model.params0) == g0


def _sigma_delta_net() -> object:
    from aedc.frontend.builder import Network

    rng = np.random.default_rng(0)
    net = Network("sd", dt=1e-3)
    x = net.input("x", 6, event_rule="graded")
    h = net.population("h", 12, "relu", event_rule="sigma_delta", event_threshold=0.05)
    net.dense(x, h, rng.normal(0, 0.6, (12, 6)).astype(np.float32))
    o = net.population("o", 3, "li", tau=5e-3)
    net.dense(h, o, rng.normal(0, 0.6, (3, 12)).astype(np.float32))
    net.output("y", o)
    return net.build()


def test_sigma_delta_event_threshold_is_trainable() -> None:
    """The send gate's surrogate gives the event threshold a finite, non-zero gradient; raising it
    sends fewer events; it is written back to the graph (clipped at 0) and keeps exact forward values."""
    g0 = _sigma_delta_net()
    sched = Schedule.asynchronous(link_us=100, jitter_us=200, seed=0)
    model = TrainableModel(g0, sched, 10, trainables=Trainables(bias=False, threshold=True))  # type: ignore[arg-type]
    assert sorted(model.params0["event_threshold"]) == ["h"]
    rng = np.random.default_rng(1)
    x = np.where(rng.random((4, 10, 6)) < 0.4, rng.normal(0, 1, (4, 10, 6)), 0).astype(np.float32)

    def events(p: dict[str, object]) -> jax.Array:
        return jax.numpy.sum(jax.numpy.abs(model.forward(p, x)["h"]["events"]))

    grad = jax.grad(events)(model.params0)["event_threshold"]["h"]
    assert np.all(np.isfinite(grad))
    assert float(np.abs(grad).sum()) > 0
    n0 = int(np.count_nonzero(model.forward(model.params0, x)["h"]["events"]))
    higher = {**model.params0, "event_threshold": {"h": np.full(1, 0.5, np.float32)}}
    assert int(np.count_nonzero(model.forward(higher, x)["h"]["events"])) < n0
    # forward with the initial threshold equals the emulator's exact run on the graph itself
    exact = Emulator(g0, sched).run_batch({"x": x}, metrics=False)  # type: ignore[arg-type]
    fast = model.forward(model.params0, x)["h"]["events"]
    np.testing.assert_array_equal(np.asarray(fast) != 0, exact.events["h"] != 0)
    g = model.to_graph({**model.params0, "event_threshold": {"h": np.full(1, -0.2, np.float32)}})
    assert g.pop_map()["h"].event_threshold == 0.0
    assert model.to_graph(higher).pop_map()["h"].event_threshold == np.float32(0.5)


def test_activity_regulariser_counts_sigma_delta_sends() -> None:
    """The event-rate penalty reaches sigma-delta populations through the send gate's surrogate:
    training with it (and a trainable event threshold) ends with fewer hidden events than without."""
    g0 = _sigma_delta_net()
    rng = np.random.default_rng(2)
    x = np.zeros((64, 6, 6), np.float32)
    x[:, 0] = rng.normal(0, 1, (64, 6))
    y = (x[:, 0, 0] > 0).astype(np.int32) + (x[:, 0, 1] > 0).astype(np.int32)
    sched = Schedule.sync()
    counts = {}
    for reg in (0.0, 20.0):
        trainer = Trainer(progress=False, activity_reg=reg, trainables=Trainables(threshold=True))
        g, _ = trainer.fit(g0, (x, y), schedule=sched, epochs=8, lr=1e-2, batch=16, seed=0)  # type: ignore[arg-type]
        counts[reg] = trainer.evaluate(g, (x, y), sched).events_per_inference
    assert counts[20.0] < 0.8 * counts[0.0]  # measured: 7.0 against 9.9 events per sample


def test_a_checkpoint_without_a_newer_parameter_keeps_the_models_value(tmp_path: Path) -> None:
    """A checkpoint written before sigma-delta thresholds were trainable has no ``event_threshold``:
    loading it keeps the model's value and warns, instead of a bare KeyError."""
    model = TrainableModel(_sigma_delta_net(), Schedule.sync(), 6,  # type: ignore[arg-type]
                           trainables=Trainables(threshold=True))
    old = {k: v for k, v in model.params0.items() if k != "event_threshold"}
    path = save_checkpoint(tmp_path / "old.npz", old, epoch=3)
    with pytest.warns(UserWarning, match="no event_threshold.h"):
        params, meta = load_checkpoint(path, model.params0)
    assert meta == {"epoch": 3}
    np.testing.assert_array_equal(params["event_threshold"]["h"], model.params0["event_threshold"]["h"])


EVENT = Schedule.event_driven(max_microsteps=4)


def test_loss_falls_under_the_event_schedule_and_weights_are_written_back(
        data: tuple[np.ndarray, np.ndarray]) -> None:
    g0 = mlp([5, 8, 3], seed=0, w_scale=2.0)
    trainer = Trainer(progress=False)
    g, hist = trainer.fit(g0, data, schedule=EVENT, epochs=4, lr=2e-2, batch=32, seed=0)
    assert all(np.isfinite(hist.loss))
    assert hist.loss[-1] < hist.loss[0] - 0.1, hist.loss
    model = trainer.model(g0, EVENT, T)
    assert set(model.params0["w"]) == {"in->h1", "h1->out"}
    for p0, p1 in zip(g0.projections, g.projections, strict=True):
        assert isinstance(p0.conn, Dense)
        assert isinstance(p1.conn, Dense)
        assert p1.conn.weight.shape == p0.conn.weight.shape
        assert not np.array_equal(p1.conn.weight, p0.conn.weight)
    # the written-back graph, run again under the event schedule, gives a lower loss than at the start
    assert trainer.evaluate(g, data, EVENT).loss < hist.loss[0]


def test_event_schedule_forward_matches_the_emulator(data: tuple[np.ndarray, np.ndarray]) -> None:
    g = mlp([5, 8, 3], seed=0, w_scale=2.0)
    model = TrainableModel(g, EVENT, T)
    x = data[0][:16]
    out = jax.device_get(model.forward(model.params0, x))
    res = Emulator(g, EVENT, exact=False).run_batch({"in": x}, metrics=False)
    assert set(out) == set(res.events)
    assert np.asarray(out["h1"]["events"]).sum() > 0
    for n, ev in res.events.items():
        np.testing.assert_array_equal(np.asarray(out[n]["events"]).reshape(ev.shape), ev)
        assert "microstep" not in out[n]
    # identity write-back: the initial parameters give back the same graph
    assert model.to_graph(model.params0) == g


def test_event_schedule_gradients_reach_the_first_layer(data: tuple[np.ndarray, np.ndarray]) -> None:
    trainer = Trainer(progress=False)
    model = trainer.model(mlp([5, 8, 3], seed=0, w_scale=2.0), EVENT, T)
    loss = trainer.loss_fn(model)
    (value, _), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(model.params0, model.base,
                                                                data[0][:32], data[1][:32])
    assert np.isfinite(float(value))
    g1 = np.asarray(grads["w"]["in->h1"]["all"])
    assert g1.shape == (5, 8)
    assert np.all(np.isfinite(g1))
    assert np.abs(g1).sum() > 0


def test_recurrent_mlp_trains_its_back_edges_under_the_event_schedule() -> None:
    """``mlp(recurrent=…)``: one delayed all-to-all back-edge per hidden layer, whose weights get
    gradients through the event schedule and change what the trained network computes."""
    g0 = mlp([20, 12, 10], seed=0, w_scale=3.0, hidden_model="lif", readout_model="li", recurrent=0.5)
    rec = [p for p in g0.projections if p.pre == p.post]
    assert [(p.name, p.back_edge) for p in rec] == [("h1->h1", True)]
    s = randman(size=32, T=20, t_max=15, seed=2)
    g, _ = Trainer(progress=False).fit(g0, s, schedule=Schedule.event_driven(1, "momentum"), epochs=2,
                                       lr=1e-2, batch=16, seed=0)
    before, after = (np.asarray(next(p for p in x.projections if p.name == "h1->h1").conn.weight)
                     for x in (g0, g))
    assert not np.array_equal(before, after)
    ref = Emulator(g, Schedule.sync()).run_batch({"in": s.x}).events["h1"]
    cut = g.evolve(projections=[p for p in g.projections if p.name != "h1->h1"])
    assert not np.array_equal(Emulator(cut, Schedule.sync()).run_batch({"in": s.x}).events["h1"], ref)


def test_resume_from_a_checkpoint_gives_the_uninterrupted_weights(
        tmp_path: Path, data: tuple[np.ndarray, np.ndarray]) -> None:
    """4 epochs in one go equal 2 epochs, a new Trainer resuming from ``epoch_001.npz``, 2 more:
    parameters bit for bit (Adam's moments and the batch order are restored, not restarted), and the
    history continues; a resume that would not be exact is refused by name."""
    g0 = mlp([5, 8, 3], seed=0)
    kw = {"schedule": Schedule.sync(), "lr": 1e-2, "batch": 16, "seed": 3}
    whole, h_whole = Trainer(progress=False).fit(g0, data, epochs=4, **kw)
    Trainer(progress=False, checkpoint_dir=tmp_path).fit(g0, data, epochs=2, **kw)
    resumed, h_res = Trainer(progress=False).fit(g0, data, epochs=4, resume=tmp_path / "epoch_001.npz",
                                                 **kw)
    assert resumed == whole
    assert h_res.loss == h_whole.loss
    assert len(h_res.epoch_seconds) == 4
    restart, _ = Trainer(progress=False).fit(g0, data, epochs=2, **kw)  # what a naive restart gives
    assert restart != whole
    with pytest.raises(TrainingError, match=r"epoch_001\.npz.*batch 16 here 32"):
        Trainer(progress=False).fit(g0, data, epochs=4, resume=tmp_path / "epoch_001.npz",
                                    **{**kw, "batch": 32})
    with pytest.raises(TrainingError, match="graph, data, schedule or trainer settings"):
        Trainer(progress=False).fit(g0, (data[0][::-1].copy(), data[1]), epochs=4,
                                    resume=tmp_path / "epoch_001.npz", **kw)
    with pytest.raises(TrainingError, match="graph, data, schedule or trainer settings"):
        Trainer(progress=False, activity_reg=1.0).fit(g0, data, epochs=4,
                                                      resume=tmp_path / "epoch_001.npz", **kw)
    shapes = r"'p/w/h1->out/0' is \(8, 3\) in the checkpoint, \(9, 3\) in the model"
    with pytest.raises(TrainingError, match=shapes):
        Trainer(progress=False).fit(mlp([5, 9, 3], seed=0), data, epochs=4,
                                    resume=tmp_path / "epoch_001.npz", **kw)
    plain = save_checkpoint(tmp_path / "plain.npz", TrainableModel(g0, Schedule.sync(), T).params0,
                            epoch=1)
    with pytest.raises(TrainingError, match="not a resumable checkpoint"):
        Trainer(progress=False).fit(g0, data, epochs=4, resume=plain, **kw)


def test_history_plot_writes_a_learning_curve(tmp_path: Path, data: tuple[np.ndarray, np.ndarray]) -> None:
    _, hist = Trainer(progress=False).fit(mlp([5, 8, 3], seed=0), data, schedule=Schedule.sync(),
                                          epochs=2, lr=1e-2, batch=48, val_data=data)
    path = hist.plot(tmp_path / "curves" / "run.png", title="yin-yang")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000


def test_training_on_the_compiled_placement_trains_the_deployed_timing(
        data: tuple[np.ndarray, np.ndarray]) -> None:
    """``placement="compiled"``: fit and evaluate run the asynchronous schedule on the placement the
    compiler makes (here one PE holds the input and both layers, so every projection is a one-tick
    hop on one clock) — the events counted equal an exact emulator run on the placement of the full
    default pipeline (what ``deploy_check`` and the chip use), and differ from the one-PE-per-population
    timing the default trains."""
    from aedc.passes import CompileState, PassContext, PassManager
    from aedc.passes.pipelines import DEFAULT_PIPELINE

    trainer = Trainer(progress=False, placement="compiled")
    g, _ = trainer.fit(mlp([5, 16, 3], seed=1, w_scale=3.0), data, schedule=JITTER, epochs=1,
                       lr=1e-2, batch=32, seed=0)
    ev = trainer.evaluate(g, data, JITTER)
    state = PassManager(DEFAULT_PIPELINE).run(CompileState(graph=g), PassContext())
    prog = PlacedProgram.from_placement(state.graph, state.placement)
    res = Emulator(prog, JITTER).run_batch({"in": data[0]}, metrics=False)
    events = sum(int(np.count_nonzero(res.events[n])) for n in ("h1",)) / len(data[1])
    assert ev.events_per_inference == pytest.approx(events)
    trivial = Trainer(progress=False).evaluate(g, data, JITTER)
    assert trivial.events_per_inference != pytest.approx(events)
    with pytest.raises(ValueError, match="placement"):
        Trainer(placement="random")  # type: ignore[arg-type]
