"""``bounded_while`` (the trained event executor's micro-step loop) has the masked scan's derivative."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

import aedc.emulator.event_engine as event_engine
from aedc.emulator import Emulator, Schedule
from aedc.emulator.loops import bounded_while
from tests.test_emulator_event import _train_net

F32 = np.float32
M = 16


def _body(w: jax.Array) -> Any:
    def body(c: dict[str, Any]) -> dict[str, Any]:
        v = c["v"] * w[0] + w[1] * jnp.sin(c["v"])
        return {"v": v, "m": c["m"] + 1, "go": (jnp.sum(v) < 10.0) & (c["m"] + 2 < M),
                "fired": c["fired"] | (v > 1)}
    return body


def _run(w: jax.Array, x0: jax.Array, loop: str) -> tuple[jax.Array, jax.Array]:
    body = _body(w)
    c0 = {"v": x0, "m": jnp.int32(0), "go": jnp.bool_(True), "fired": jnp.zeros(3, bool)}
    if loop == "while":
        c = bounded_while(lambda c: c["go"], body, c0, M - 1)
    else:
        def masked(c: dict[str, Any], _: None) -> tuple[dict[str, Any], None]:
            return jax.tree_util.tree_map(lambda a, b: jnp.where(c["go"], a, b), body(c), c), None
        c, _ = lax.scan(masked, c0, None, length=M - 1)
    return jnp.sum(c["v"] ** 2) + jnp.sum(c["fired"]), c["m"]


def test_bounded_while_matches_the_masked_scan_value_trips_and_gradient() -> None:
    """Samples stopping after different trip counts (12, 8, 2) in one vmapped batch, cotangents for
    the closed-over parameters and for the initial carry."""
    w = jnp.array([1.1, 0.3], jnp.float32)
    x = jnp.array([[0.1, 0.2, 0.3], [0.5, 0.4, 1.0], [2.0, 3.0, 4.0]], jnp.float32)
    out = {}
    for loop in ("scan", "while"):
        def f(w: jax.Array, x: jax.Array, loop: str = loop) -> jax.Array:
            return jnp.sum(jax.vmap(lambda xi: _run(w, xi, loop)[0])(x))
        trips = jax.vmap(lambda xi, loop=loop: _run(w, xi, loop)[1])(x)
        out[loop] = (f(w, x), trips, jax.jit(jax.grad(f, argnums=(0, 1)))(w, x))
    assert np.array_equal(out["scan"][1], [12, 8, 2])
    assert np.array_equal(out["while"][1], [12, 8, 2])
    np.testing.assert_array_equal(out["scan"][0], out["while"][0])
    for a, b in zip(out["scan"][2], out["while"][2], strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-6)
    assert float(jnp.abs(out["while"][2][0]).sum()) > 0


def test_bounded_while_stops_at_max_trips() -> None:
    c = bounded_while(lambda c: c < 100, lambda c: c + 1.0, jnp.float32(0.0), 5)
    assert float(c) == 5.0
    assert float(jax.grad(lambda a: bounded_while(lambda c: c < 100, lambda c: c * a, a, 3))(
        jnp.float32(2.0))) == pytest.approx(4 * 2.0 ** 3)


def test_event_training_gradient_equals_the_masked_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """The event executor's weights gradient with the while loop equals the masked scan over all
    ``max_microsteps`` (the formulation it replaces), with micro-step counts that differ by step."""
    T = 8
    sched = Schedule.event_driven(1, "momentum", max_microsteps=12)
    x = (np.random.default_rng(2).random((3, T, 8)) < 0.5).astype(F32)
    grads = {}
    for masked in (True, False):
        monkeypatch.setattr(event_engine, "MASKED_SCAN", masked)
        emu = Emulator(_train_net(), sched, exact=False)
        weights, fn = emu.trainable(T)

        def loss(w: dict[str, Any], fn: Any = fn) -> jax.Array:
            out = fn(w, {"in": x})
            return jnp.mean((out["o"]["outputs"][:, -1, :] - jnp.array([1.0, -1.0])) ** 2)

        grads[masked] = jax.grad(loss)(weights)
    ms = np.array([m["microsteps_per_step"] for m in emu.run_batch({"in": x}).metrics])
    assert len(np.unique(ms)) > 2
    assert ms.max() < 12
    for name in ("in->h1", "h1->h2", "h2->o"):
        a, b = np.asarray(grads[True][name]["mat"]), np.asarray(grads[False][name]["mat"])
        assert np.abs(a).sum() > 0
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-7)
