"""Ready-made trainable networks with initial weights."""

from __future__ import annotations

from typing import Any

import numpy as np

from aedc.frontend.builder import Network
from aedc.ir.graph import Graph


def mlp(sizes: list[int] | tuple[int, ...], *, dt: float = 1e-3, tau_mem: float = 20e-3,
        tau_syn: float = 5e-3, v_threshold: float = 1.0, w_scale: float = 1.0,
        hidden_model: str = "cuba_lif", readout_model: str = "cuba_li", seed: int = 0,
        name: str = "mlp", recurrent: float = 0.0) -> Graph:
    """A feed-forward net ``sizes[0] → … → sizes[-1]``: current-based LIF hidden layers and a
    non-spiking current-based LI readout (or voltage-based ``lif`` / ``li``: their input moves the
    membrane in the same tick, so spikes cross layers within one event-driven step), Euler, ``dt``
    ticks.

    Parameters are normalised so that one unit of weight is one unit of input (``w_in = τ_syn/dt``,
    ``r = τ_mem/dt``: the Euler gains ``w_in·dt/τ_syn`` and ``r·dt/τ_mem`` are 1). Weights are drawn
    from ``N(0, (w_scale·c/√fan_in)²)`` with ``c`` = 0.5 into hidden layers and 0.3 into the readout,
    which gives a few % hidden spikes per tick for time-to-first-spike inputs. ``recurrent`` > 0 adds
    an all-to-all recurrent projection to every hidden layer, ``N(0, (recurrent/√n)²)`` (a back-edge:
    its events arrive one tick later), the memory a temporal task needs. Output port ``"out"``.
    """
    if len(sizes) < 2:
        raise ValueError(f"an mlp needs at least an input and an output size, got {list(sizes)}")
    rng = np.random.default_rng(seed)
    net = Network(name, dt=dt)
    prev = net.input("in", sizes[0])
    def params(model: str) -> dict[str, Any]:
        """Unit-gain parameters: a current-based model gets its current (``w_in = τ_syn/dt``) and
        membrane (``r = τ_mem/dt``), a voltage-based one (``lif``, ``li``) the membrane alone."""
        if model in ("cuba_lif", "cuba_li"):
            return {"tau_syn": tau_syn, "w_in": tau_syn / dt, "tau_mem": tau_mem, "r": tau_mem / dt}
        if model in ("lif", "li"):
            return {"tau": tau_mem, "r": tau_mem / dt}
        raise ValueError(f"mlp builds cuba_lif/lif hidden and cuba_li/li readout layers, not {model!r}")

    for i, n in enumerate(sizes[1:], start=1):
        last = i == len(sizes) - 1
        pname = "out" if last else f"h{i}"
        if last:
            net.population(pname, n, readout_model, **params(readout_model))
        else:
            net.population(pname, n, hidden_model, **params(hidden_model), v_threshold=v_threshold)
        c = 0.3 if last else 0.5
        w = rng.normal(0.0, w_scale * c / np.sqrt(sizes[i - 1]), (n, sizes[i - 1]))
        net.dense(prev, pname, w)
        if recurrent > 0 and not last:
            net.dense(pname, pname, rng.normal(0.0, recurrent / np.sqrt(n), (n, n)), back_edge=True)
        prev = pname
    net.output("out", prev)
    return net.build()


def sigma_delta_mlp(sizes: list[int] | tuple[int, ...], *, dt: float = 1e-3, tau_out: float = 4e-3,
                    event_threshold: float = 0.05, w_scale: float = 1.0, seed: int = 0,
                    name: str = "sd_mlp") -> Graph:
    """A feed-forward net for graded inputs: ReLU hidden layers that send *sigma-delta* events (the
    change of their value when it exceeds ``event_threshold``) and a leaky-integrator readout.

    Inputs are sigma-delta too: a static input sent once (``encode_graded``) is the change from 0,
    which the receivers' sigma-delta accumulators hold, so each active hidden unit sends its value once
    per inference, however long the run, and the readout integrates a constant current. Weights
    ``N(0, (w_scale·√2/√fan_in)²)`` (He) into hidden layers, ``w_scale/√fan_in`` into the readout;
    readout ``tau_out`` integrates over a few ticks. Output port ``"out"``.
    """
    if len(sizes) < 2:
        raise ValueError(f"an mlp needs at least an input and an output size, got {list(sizes)}")
    rng = np.random.default_rng(seed)
    net = Network(name, dt=dt)
    # sigma-delta input: an input value sent once is *held* by the receivers' accumulators, so the
    # hidden units see the image on every tick and send their value once (no return to 0)
    prev = net.input("in", sizes[0], event_rule="sigma_delta")
    for i, n in enumerate(sizes[1:], start=1):
        last = i == len(sizes) - 1
        pname = "out" if last else f"h{i}"
        if last:
            net.population(pname, n, "li", tau=tau_out)
        else:
            net.population(pname, n, "relu", event_rule="sigma_delta", event_threshold=event_threshold)
        c = 1.0 if last else np.sqrt(2.0)
        w = rng.normal(0.0, w_scale * c / np.sqrt(sizes[i - 1]), (n, sizes[i - 1]))
        net.dense(prev, pname, w.astype(np.float32))
        prev = pname
    net.output("out", prev)
    return net.build()
