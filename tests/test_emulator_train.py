"""Training through the asynchronous schedule: gradients exist, remat does not change them, and the
surrogate leaves the forward pass untouched."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from aedc.emulator import Emulator, Schedule
from aedc.frontend.builder import Network
from aedc.ir import Graph

T = 16


def _net() -> Graph:
    rng = np.random.default_rng(0)
    net = Network("train", dt=1e-3)
    net.input("in", 8)
    net.population("h", 6, "lif", tau=0.005, r=1.0, v_threshold=0.5)
    net.population("o", 2, "li", tau=0.01, r=1.0)
    net.dense("in", "h", rng.uniform(0, 1.5, (6, 8)))
    net.dense("h", "o", rng.uniform(-1, 1, (2, 6)))
    net.output("out", "o")
    return net.build()


def _grads(remat: bool) -> tuple[dict[str, object], float]:
    sched = Schedule.asynchronous(period_us=1000, jitter_us=300, link_us=100, seed=1)
    emu = Emulator(_net(), sched, exact=False, remat=remat)
    weights, fn = emu.trainable(T)
    x = {"in": (np.random.default_rng(2).random((4, T, 8)) < 0.5).astype(np.float32)}

    def loss(w: dict[str, object]) -> jnp.ndarray:
        out = fn(w, x)
        return jnp.mean((out["o"]["outputs"][:, -1, :] - jnp.array([1.0, -1.0])) ** 2)

    value, grads = jax.value_and_grad(loss)(weights)
    return grads, float(value)


def test_gradients_flow_through_the_async_schedule_and_remat_keeps_them() -> None:
    g_plain, l_plain = _grads(False)
    g_remat, l_remat = _grads(True)
    assert l_plain == l_remat
    leaves_p, leaves_r = jax.tree_util.tree_leaves(g_plain), jax.tree_util.tree_leaves(g_remat)
    assert len(leaves_p) == 2  # one dense matrix per projection
    for a, b in zip(leaves_p, leaves_r, strict=True):
        assert np.all(np.isfinite(a))
        assert np.abs(a).sum() > 0
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_surrogate_does_not_change_the_forward_pass() -> None:
    emu = Emulator(_net(), exact=False)
    weights, fn = emu.trainable(T)
    x = (np.random.default_rng(3).random((2, T, 8)) < 0.5).astype(np.float32)
    out = fn(weights, {"in": x})
    ref = emu.run_batch({"in": x}, metrics=False)
    assert np.array_equal(np.asarray(out["h"]["events"]).reshape(ref.events["h"].shape), ref.events["h"])
    assert ref.events["h"].sum() > 0
