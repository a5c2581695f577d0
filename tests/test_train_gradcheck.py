"""The gradient through an asynchronous schedule equals finite differences on the graded path.

Network: graded input (4) → LI (6, graded events every tick) → CubaLI (3, graded readout), async
schedule with 300 µs jitter, 100 µs links and a slow PE (so receivers sometimes take two source ticks
or none), loss = cross-entropy of the mean readout membrane. No spikes: the function of the weights
is smooth (linear dynamics, smooth loss), so autodiff must equal the derivative, not a surrogate.

Tolerance: the emulator runs float32 (no float64 path). Central differences with step h = 1e-2 have
truncation error O(h²·|L'''|) ≈ 1e-5 here and rounding error ≈ ε·|L|/h ≈ 6e-8·1/1e-2 ≈ 6e-6; we require
|g − g_fd| ≤ 2e-3·|g| + 2e-4 for every weight while the gradients are O(1e-2 … 1): a wrong delivery
tick, a dropped block or a missing term of the recurrence would be off by far more (checked below by
comparing against the gradient of the *sync* schedule, which differs).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from aedc.emulator import Schedule
from aedc.frontend.builder import Network
from aedc.ir import Graph
from aedc.train import TrainableModel, cross_entropy

T = 12
ASYNC = Schedule.asynchronous(period_us=1000, jitter_us=300, link_us=100, seed=2,
                              pe_periods_us=((1, 1400),))


def _graph() -> Graph:
    rng = np.random.default_rng(0)
    net = Network("graded", dt=1e-3)
    net.input("in", 4, event_rule="graded")
    net.population("h", 6, "li", tau=4e-3, r=4.0)
    net.population("o", 3, "cuba_li", tau_syn=3e-3, tau_mem=5e-3, r=5.0, w_in=3.0)
    net.dense("in", "h", rng.normal(0, 1.0, (6, 4)))
    net.dense("h", "o", rng.normal(0, 1.0, (3, 6)))
    net.output("out", "o")
    return net.build()


def _loss_fn(model: TrainableModel, x: np.ndarray, y: np.ndarray):  # type: ignore[no-untyped-def]
    @jax.jit
    def loss(params: dict, base: dict) -> jnp.ndarray:  # type: ignore[type-arg]
        out = model.apply(params, base, x)
        return cross_entropy(jnp.mean(out["o"]["outputs"], axis=1), y)

    return loss


def _grad_and_fd(schedule: Schedule, fd: bool = True) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (5, T, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 1, 0], np.int32)
    model = TrainableModel(_graph(), schedule, T)
    loss = _loss_fn(model, x, y)
    params = model.params0
    grads = jax.grad(loss)(params, model.base)
    h = 1e-2
    g_all, fd_all = [], []
    for name, blocks in params["w"].items():
        for b, mat in blocks.items():
            m = np.asarray(mat)
            for idx in np.ndindex(m.shape):
                g_all.append(float(np.asarray(grads["w"][name][b])[idx]))
                if not fd:
                    continue
                plus, minus = m.copy(), m.copy()
                plus[idx] += h
                minus[idx] -= h

                def at(w: np.ndarray, name: str = name, b: str = b) -> float:
                    p = {**params, "w": {**params["w"], name: {**params["w"][name], b: jnp.asarray(w)}}}
                    return float(loss(p, model.base))

                fd_all.append((at(plus) - at(minus)) / (2 * h))
    return np.array(g_all), np.array(fd_all)


def test_async_gradient_matches_central_differences() -> None:
    g, fd = _grad_and_fd(ASYNC)
    assert g.size == 4 * 6 + 6 * 3
    assert np.abs(g).max() > 1e-2
    assert np.count_nonzero(np.abs(g) > 1e-4) > g.size // 2
    np.testing.assert_array_less(np.abs(g - fd), 2e-3 * np.abs(g) + 2e-4)
    # the check can fail: the sync schedule's gradient is a different function's
    g_sync, _ = _grad_and_fd(Schedule.sync(), fd=False)
    assert np.abs(g_sync - fd).max() > 10 * (2e-3 * np.abs(g).max() + 2e-4)
