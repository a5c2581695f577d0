"""ALIF (adaptive-threshold LIF), added by following CONTRIBUTING's "adding a neuron model" recipe.

Oracle: a hand-written float32 loop of the documented update (:class:`aedc.ir.neurons.ALIFModel`),
independent of every backend; then the reference, the JAX emulator (sync and async) and the generated
C built for the host and cross-compiled, all bit for bit. Profiles: nir-euler (reset to v_reset, ``>``),
snntorch (subtract, reset one tick late), sinabs (subtract, ``>=``); Euler and exact discretisation.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from aedc.errors import UnsupportedNodeError, VerifyError
from aedc.frontend.builder import Network
from aedc.ir.graph import Graph
from aedc.passes import CompileState, PassContext, PassManager
from aedc.reference.simulate import simulate

F32 = np.float32
DT = 1e-3
FAST = ("verify,fold-scale,fuse-affine,dce,slice{max-neurons=16,min-neurons=4},place{solver=greedy},"
        "route,emit-c")
CASES = [("nir-euler", "euler"), ("snntorch", "euler"), ("sinabs", "exact"), ("nir-euler", "exact")]


def one_layer(profile: str, disc: str, beta: np.ndarray, *, model: str = "alif") -> Graph:
    net = Network("alif1", profile=profile, dt=DT, discretisation=disc)
    x = net.input("x", 1, event_rule="graded")
    extra = {"tau_adapt": 0.05, "beta": beta} if model == "alif" else {}
    h = net.population("h", beta.size, model, tau=20e-3, v_threshold=0.4, v_reset=-0.1, **extra)
    net.dense(x, h, np.linspace(0.8, 1.6, beta.size, dtype=F32)[:, None])
    net.output("y", h)
    return net.build()


def hand_loop(g: Graph, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The documented update, neuron by neuron, with NumPy float32 scalars: (spikes, v, a) per tick."""
    sem, m = g.semantics, g.pop_map()["h"].neuron
    w = g.projections[0].conn.weight[:, 0]  # type: ignore[union-attr]
    n, T = w.size, x.shape[0]
    if sem.discretisation == "exact":
        decay = np.exp(-sem.dt / np.float64(20e-3))
        one_minus, a_decay = -np.expm1(-sem.dt / np.float64(20e-3)), np.exp(-sem.dt / np.float64(0.05))
    else:
        decay, one_minus, a_decay = 1 - sem.dt / 20e-3, sem.dt / 20e-3, 1 - sem.dt / 0.05
    decay, gain, leak, a_decay = F32(decay), F32(1.0 * one_minus), F32(0.0 * one_minus), F32(a_decay)
    z_out, v_out, a_out = (np.zeros((T, n), F32) for _ in range(3))
    for i in range(n):
        v, a, zprev = F32(0), F32(0), False
        beta, th0, vr = F32(m.beta.ravel()[i]), F32(0.4), F32(-0.1)  # type: ignore[attr-defined]
        for t in range(T):
            drive = F32(F32(x[t, 0]) * F32(w[i])) + F32(0)
            v = F32(F32(F32(decay * v) + F32(gain * drive)) + leak)
            theta = F32(th0 + F32(beta * a))
            if sem.reset_next_tick and zprev:
                v = F32(v - theta) if sem.reset == "subtract" else vr
            z = bool(v > theta) if sem.threshold_cmp == ">" else bool(v >= theta)
            if not sem.reset_next_tick and z:
                v = F32(v - theta) if sem.reset == "subtract" else vr
            zprev = z
            a = F32(F32(a_decay * a) + F32(1.0 if z else 0.0))
            z_out[t, i], v_out[t, i], a_out[t, i] = F32(z), v, a
    return z_out, v_out, a_out


def drive(T: int = 400, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 1.5, (T, 1)).astype(F32)


@pytest.mark.parametrize(("profile", "disc"), CASES)
def test_reference_equals_the_documented_update(profile: str, disc: str) -> None:
    g = one_layer(profile, disc, np.array([0.0, 0.3, 1.0, 3.0], F32))
    x = drive()
    z, v, a = hand_loop(g, x)
    tr = simulate(g, {"x": x})
    assert z.sum() > 20, "the drive must make the neurons spike"
    assert np.array_equal(tr.events["h"], z)
    assert np.array_equal(tr.state["h"]["v"].view(np.uint32), v.view(np.uint32))
    assert np.array_equal(tr.state["h"]["a"].view(np.uint32), a.view(np.uint32))


def test_adaptation_lowers_the_rate_and_beta_zero_is_lif() -> None:
    beta = np.array([0.0, 0.5, 2.0], F32)
    x = np.full((300, 1), 1.0, F32)
    counts = simulate(one_layer("nir-euler", "euler", beta), {"x": x}).events["h"].sum(axis=0)
    assert counts[0] > counts[1] > counts[2] > 0
    lif = simulate(one_layer("nir-euler", "euler", beta, model="lif"), {"x": x})
    alif = simulate(one_layer("nir-euler", "euler", beta), {"x": x})
    assert np.array_equal(lif.events["h"][:, 0], alif.events["h"][:, 0])
    assert np.array_equal(lif.state["h"]["v"][:, 0].view(np.uint32),
                          alif.state["h"]["v"][:, 0].view(np.uint32))


def recurrent_net(profile: str, disc: str, seed: int = 0) -> Graph:
    """Spiking input → 40 ALIF (recurrent, delayed) → 8 ALIF: several PEs, binary events, delays."""
    rng = np.random.default_rng(seed)
    net = Network("alifnet", profile=profile, dt=DT, discretisation=disc)
    x = net.input("x", 24)
    h = net.population("h", 40, "alif", tau=20e-3, tau_adapt=rng.uniform(0.02, 0.2, 40).astype(F32),
                       beta=rng.uniform(0, 1.5, 40).astype(F32), v_threshold=0.5)
    o = net.population("o", 8, "alif", tau=10e-3, tau_adapt=0.1, beta=0.8, v_threshold=0.3)
    net.dense(x, h, rng.normal(0.25, 0.3, (40, 24)).astype(F32))
    net.dense(h, h, rng.normal(0, 0.15, (40, 40)).astype(F32), delay=1)
    net.dense(h, o, rng.normal(0.6, 0.3, (8, 40)).astype(F32))
    net.output("y", o)
    return net.build()


def spikes(T: int = 40, seed: int = 1) -> dict[str, np.ndarray]:
    return {"x": (np.random.default_rng(seed).random((T, 24)) < 0.3).astype(F32)}


@pytest.mark.parametrize(("profile", "disc"), CASES)
def test_emulator_sync_equals_reference(profile: str, disc: str) -> None:
    from aedc.emulator import Emulator, PlacedProgram

    g = recurrent_net(profile, disc)
    state = PassManager(FAST).run(CompileState(graph=g), PassContext())
    assert state.placement is not None
    assert len(state.placement.slicing.slices) >= 4
    ref = simulate(state.graph, spikes())
    emu = Emulator(PlacedProgram.from_placement(state.graph, state.placement)).run(spikes(), metrics=False)
    assert ref.events["h"].sum() > 50
    assert ref.events["o"].sum() > 5
    for n in ("h", "o"):
        assert np.asarray(emu.events[n], F32).tobytes() == ref.events[n].reshape(40, -1).tobytes(), n
        for var in ("v", "a"):
            assert np.asarray(emu.state[n][var], F32).tobytes() == ref.state[n][var].tobytes(), (n, var)


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs a host C compiler")
@pytest.mark.parametrize(("profile", "disc"), CASES)
def test_host_c_equals_reference_and_emulator_async(profile: str, disc: str) -> None:
    from aedc.codegen.host import run_host
    from aedc.emulator import Emulator, PlacedProgram, Schedule

    state = PassManager(FAST).run(CompileState(graph=recurrent_net(profile, disc)), PassContext())
    ref = simulate(state.graph, spikes())
    got = run_host(state, spikes())
    for n in ("h", "o"):
        assert ref.events[n].tobytes() == got.events[n].tobytes(), n
        for var in ("v", "a"):
            assert ref.state[n][var].tobytes() == got.state[n][var].tobytes(), (n, var)
    assert state.placement is not None
    prog = PlacedProgram.from_placement(state.graph, state.placement)
    sched = Schedule.asynchronous(jitter_us=300, link_us=100, hop_us=30, seed=4)
    emu = Emulator(prog, sched).run(spikes(), metrics=False)
    host = run_host(state, spikes(), schedule=sched, program=prog)
    for n in ("h", "o"):
        assert np.asarray(emu.events[n], F32).tobytes() == host.events[n].tobytes(), n
        assert np.asarray(emu.state[n]["a"], F32).tobytes() == host.state[n]["a"].tobytes(), n


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc")
def test_cross_compiled_alif_fits_its_code_estimate(tmp_path: object) -> None:
    from pathlib import Path

    from aedc.codegen.build import cross_build
    from aedc.partition.memory import CODE_PER_MODEL

    state = PassManager(FAST).run(CompileState(graph=recurrent_net("nir-euler", "euler")), PassContext())
    assert state.sources is not None
    out = Path(str(tmp_path)) / "c"
    state.sources.write(out)
    sizes = cross_build(out)
    predicted = {pe["pe"]: pe["bytes"]["predicted"] for pe in state.sources.manifest["pes"]}
    assert sizes
    assert CODE_PER_MODEL["alif"] > CODE_PER_MODEL["lif"]
    for s in sizes:
        assert s.code <= predicted[s.pe]["code"], s
        assert s.dynamic <= predicted[s.pe]["total"], s


def test_alif_needs_its_adaptation_parameters_and_has_no_nir_node() -> None:
    from aedc.frontend.nir_export import to_nir

    net = Network("bad", dt=DT)
    net.input("x", 2)
    with pytest.raises(VerifyError, match="parameter 'tau_adapt' of 'alif' is required"):
        net.population("h", 2, "alif", tau=0.02, beta=1.0)
    with pytest.raises(UnsupportedNodeError, match=r"'h'.*alif"):
        to_nir(one_layer("nir-euler", "euler", np.ones(2, F32)))
