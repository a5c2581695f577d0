"""Float32 ground rules of the emulator: no x64, no fused multiply-add, metrics by hand."""

from __future__ import annotations

import platform
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aedc.emulator import Emulator, PlacedProgram, Schedule
from aedc.emulator.ops import fmul
from aedc.frontend.builder import Network


def _adversarial(n: int = 100_000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # c ≈ −a·b: a*b + c is pure rounding error of the product, which an FMA would keep
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    c = (-(a.astype(np.float64) * b)).astype(np.float32)
    return a, b, c


def test_x64_is_off_and_results_are_float32() -> None:
    assert jax.config.jax_enable_x64 is False
    assert jnp.zeros(1).dtype == jnp.float32


def test_fenced_product_is_never_contracted_into_an_fma() -> None:
    a, b, c = _adversarial()
    want = (a * b) + c  # NumPy: two roundings
    fenced = jax.jit(lambda a, b, c, z: fmul(a, b, z) + c)(a, b, c, np.int32(0))
    assert np.array_equal(np.asarray(fenced), want)


def _cpu_has_fma() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return platform.machine() in ("aarch64", "arm64") or " fma " in f" {flags} ".replace("\n", " ")


@pytest.mark.skipif(not _cpu_has_fma(), reason="XLA contracts a*b+c into an FMA only on FMA-capable CPUs")
def test_unfenced_jit_contracts_so_the_fence_test_can_fail() -> None:
    # On an FMA-capable CPU XLA contracts a*b+c (measured with jax 0.10: 99.995% of these differ from
    # two roundings); with the fence 0 differ. So the fence test above would catch a missing fence.
    a, b, c = _adversarial()
    plain = np.asarray(jax.jit(lambda a, b, c: a * b + c)(a, b, c))
    fma = (a.astype(np.float64) * b + c).astype(np.float32)
    assert not np.array_equal(plain, (a * b) + c)
    assert np.count_nonzero(plain == fma) > 0.9 * a.size


def test_metrics_by_hand() -> None:
    # in (3 binary) → h (2 neurons, IF, threshold 0.5): dense weights 1 so any input spike fires h
    net = Network("m", dt=1.0)
    net.input("in", 3)
    net.population("h", 2, "if", r=1.0, v_threshold=0.5)
    net.dense("in", "h", np.ones((2, 3)))
    net.output("out", "h")
    graph = net.build()
    x = np.zeros((4, 3), np.float32)
    x[1, 0] = x[1, 2] = x[3, 1] = 1
    prog = PlacedProgram.trivial(graph)
    m = Emulator(prog, Schedule.sync()).run({"in": x}).metrics
    assert m["events"] == {"in": 3, "h": 4}
    assert m["events_per_pe"].tolist() == [3, 4]
    assert m["sparsity"]["h"] == 1 - 4 / 8
    assert m["synaptic_events"]["in"] == 3 * 2
    assert m["load_per_pe"].tolist() == [0, 6]
    assert m["load_max_per_tick"] == 4
    # PE 0 and 1 share QPE (1, 2) of the default chip: one packet per input event, none from h
    assert prog.pes[0].qpe == prog.pes[1].qpe
    assert m["noc_packets"] == 3
    assert (m["first_output_tick"], m["decision_tick"]) == (1, 1)
