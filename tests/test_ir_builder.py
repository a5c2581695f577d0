"""The native builder (aedc.frontend.builder.Network): broadcasting, defaults, errors naming the
population, and the connectivity helpers. Profile: nir-euler unless a test says otherwise."""

from __future__ import annotations

import numpy as np
import pytest

from aedc.errors import VerifyError
from aedc.frontend.builder import Network
from aedc.ir import PROFILES, Conv1d, Conv2d, Dense, Identity, OneToOne, Pool2d, Sparse


def test_scalar_parameters_are_broadcast_to_the_population_shape() -> None:
    net = Network("b")
    net.input("x", 6)
    net.population("h", (2, 3), "lif", tau=0.02, v_threshold=0.5)
    net.dense("x", "h", np.ones((6, 6)))
    g = net.build()
    neuron = g.population("h").neuron
    assert neuron.tau.shape == (2, 3)
    assert neuron.tau.dtype == np.float32
    assert np.all(neuron.tau == np.float32(0.02))
    assert np.all(neuron.v_threshold == np.float32(0.5))
    # neutral NIR defaults
    assert np.all(neuron.r == 1)
    assert np.all(neuron.v_leak == 0)
    assert np.all(neuron.v_reset == 0)
    assert np.all(neuron.bias == 0)
    assert neuron.v_leak.shape == (2, 3)


def test_array_parameters_are_kept_per_neuron() -> None:
    net = Network("b")
    net.input("x", 3)
    net.population("h", 3, "cuba_lif", tau_syn=[0.01, 0.02, 0.03], tau_mem=0.05, w_in=[1, 2, 3])
    net.identity("x", "h")
    neuron = net.build().population("h").neuron
    assert neuron.tau_syn.tolist() == [np.float32(v) for v in (0.01, 0.02, 0.03)]
    assert neuron.w_in.tolist() == [1.0, 2.0, 3.0]
    assert neuron.tau_mem.tolist() == [np.float32(0.05)] * 3


def test_unknown_parameter_names_population_and_parameter() -> None:
    net = Network("b")
    with pytest.raises(VerifyError) as exc:
        net.population("h1", 4, "lif", tau=0.02, tau_syn=0.01)
    msg = str(exc.value)
    assert "population 'h1'" in msg
    assert "['tau_syn']" in msg
    assert "it takes ['tau', 'r', 'v_leak', 'v_threshold', 'v_reset', 'bias']" in msg
    assert exc.value.where == "h1"


def test_missing_time_constant_names_population_and_parameter() -> None:
    net = Network("b")
    with pytest.raises(VerifyError, match=r"population 'mem': parameter 'tau' of 'li' is required") \
            as exc:
        net.population("mem", 4, "li")
    assert exc.value.where == "mem"
    with pytest.raises(VerifyError, match=r"population 'c': parameter 'tau_syn' of 'cuba_lif' is "
                                          r"required"):
        net.population("c", 4, "cuba_lif", tau_mem=0.02)


def test_unknown_model_lists_the_models() -> None:
    net = Network("b")
    with pytest.raises(VerifyError, match="population 'h': unknown model 'izhikevich'") as exc:
        net.population("h", 4, "izhikevich")
    assert "'cuba_lif'" in str(exc.value)
    with pytest.raises(VerifyError, match="unknown model 'input'"):
        net.population("h", 4, "input")


def test_bad_time_constant_fails_at_build_naming_the_population() -> None:
    net = Network("b")
    net.input("x", 2)
    net.population("h", 2, "lif", tau=[0.02, -0.02])
    net.identity("x", "h")
    with pytest.raises(VerifyError, match=r"population 'h': parameter 'tau' must be > 0"):
        net.build()
    assert net.build(check=False).population("h").neuron.tau.tolist()[1] < 0


def test_event_rule_defaults_and_checks() -> None:
    net = Network("b")
    net.input("x", 2)
    net.population("s", 2, "if")
    net.population("v", 2, "relu")
    net.population("d", 2, "li", tau=0.01, event_rule="sigma_delta", event_threshold=0.1)
    for p in "svd":
        net.identity("x", p)
    g = net.build()
    assert g.population("x").event_rule == "binary"
    assert g.population("s").event_rule == "binary"
    assert g.population("v").event_rule == "graded"
    assert g.population("d").event_rule == "sigma_delta"
    assert g.population("d").event_threshold == 0.1
    net.population("bad", 2, "lif", tau=0.02, event_rule="graded")
    net.identity("x", "bad")
    with pytest.raises(VerifyError, match="population 'bad': spiking model 'lif' must use event_rule "
                                          "'binary'"):
        net.build()


def test_projection_to_an_undefined_population() -> None:
    net = Network("b")
    net.input("x", 2)
    with pytest.raises(VerifyError, match="population 'y' is not defined yet"):
        net.dense("x", "y", np.ones((2, 2)))
    with pytest.raises(VerifyError, match="population 'z' is not defined yet"):
        net.output("out", "z")


def test_connectivity_helpers_build_the_right_kinds() -> None:
    net = Network("kinds", profile="sinabs")
    net.input("img", (2, 6, 6))
    net.population("c", (4, 3, 3), "if")
    net.conv2d("img", "c", np.ones((4, 1, 3, 3)), stride=2, padding=1, groups=2)
    net.population("p", (4, 1, 1), "if")
    net.pool2d("c", "p", 3, mode="avg")
    net.population("f", 4, "linear")
    net.identity("p", "f")
    net.population("o", 4, "relu")
    net.one_to_one("f", "o", 2.0)
    net.population("s", 3, "integrator")
    net.sparse("o", "s", [3, 0, 3], [0, 2, 1], [1.0, 2.0, 3.0])
    net.input("seq", (2, 8))
    net.population("t", (3, 4), "threshold", threshold=0.5)
    net.conv1d("seq", "t", np.ones((3, 2, 2)), stride=2)
    net.dense("t", "s", np.ones((3, 12)), delay=2)
    net.output("y", "s")
    g = net.build()
    assert g.semantics == PROFILES["sinabs"]
    conns = {p.name: p.conn for p in g.projections}
    conv = conns["img->c"]
    assert isinstance(conv, Conv2d)
    assert (conv.stride, conv.padding, conv.groups, conv.in_shape) == ((2, 2), ((1, 1), (1, 1)), 2,
                                                                      (2, 6, 6))
    pool = conns["c->p"]
    assert isinstance(pool, Pool2d)
    assert (pool.kernel, pool.stride, pool.mode) == ((3, 3), (3, 3), "avg")  # stride defaults to kernel
    assert isinstance(conns["p->f"], Identity)
    oto = conns["f->o"]
    assert isinstance(oto, OneToOne)
    assert oto.weight.tolist() == [2.0] * 4
    sp = conns["o->s"]
    assert isinstance(sp, Sparse)
    assert sp.pre.tolist() == [0, 3, 3]  # sorted by (pre, post)
    assert sp.post.tolist() == [2, 0, 1]
    assert sp.weight.tolist() == [2.0, 1.0, 3.0]
    assert (sp.n_pre, sp.n_post) == (4, 3)
    c1 = conns["seq->t"]
    assert isinstance(c1, Conv1d)
    assert c1.out_shape((2, 8)) == (3, 4)
    dense = conns["t->s"]
    assert isinstance(dense, Dense)
    assert g.projection("t->s").delay == 2
    assert g.outputs == {"y": "s"}
    assert g.inputs == ("img", "seq")
    # conv2d: per output channel 8 row taps x 8 column taps land inside the 6x6 image (pad 1, stride 2)
    synapses = {"img->c": 4 * 8 * 8, "c->p": 36, "p->f": 4, "f->o": 4, "o->s": 3, "seq->t": 3 * 4 * 2 * 2,
                "t->s": 36}
    assert {p.name: g.synapses(p) for p in g.projections} == synapses
    assert g.summary() == {"populations": 8, "neurons": 63, "inputs": 88, "projections": 7,
                           "synapses": 387}


def test_conv_helpers_need_structured_pre() -> None:
    net = Network("b")
    net.input("flat", 16)
    net.population("h", (1, 2, 2), "relu")
    with pytest.raises(VerifyError, match=r"conv2d flat->h: pre must have shape \(C, H, W\), has \(16,\)"):
        net.conv2d("flat", "h", np.ones((1, 1, 3, 3)))
    with pytest.raises(VerifyError, match=r"conv1d flat->h: pre must have shape \(C, L\), has \(16,\)"):
        net.conv1d("flat", "h", np.ones((1, 1, 3)))


def test_repeated_projection_names_are_made_unique() -> None:
    net = Network("b")
    net.input("x", 2)
    net.population("h", 2, "linear")
    first = net.identity("x", "h")
    second = net.one_to_one("x", "h", [0.5, 0.25], delay=1)
    assert first == "x->h"
    assert second == "x->h#1"
    g = net.build()
    assert [p.name for p in g.projections] == ["x->h", "x->h#1"]
    assert len(g.incoming("h")) == 2


def test_semantic_overrides() -> None:
    g = Network("b", profile="snntorch", dt=1e-3, discretisation="exact").build()
    assert g.semantics.dt == 1e-3
    assert g.semantics.discretisation == "exact"
    assert g.semantics.reset == "subtract"  # kept from the snntorch preset
    assert g.semantics.current_first is True


def test_parameter_of_the_wrong_shape_names_the_population() -> None:
    net = Network("b")
    with pytest.raises(VerifyError, match="population 'h'"):
        net.population("h", 4, "lif", tau=[0.01, 0.02, 0.03])
