"""Golden tests of the graph passes (verify, fold-scale, fuse-affine, dce) on raw frontend-style graphs.

The golden form is :func:`aedc.passes.outline.outline`: populations with model/shape/event rule,
projections with kind/shape/delay/back-edge, sorted. Behaviour preservation is tested separately
against the reference simulator (test_passes_semantics.py).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from test_passes_helpers import dyadic, linear, raw_cnn, raw_mlp_with_scale

from aedc.errors import VerifyError
from aedc.frontend.builder import Network
from aedc.ir import Dense, Graph, OneToOne
from aedc.passes import CompileState, PassContext, parse_pipeline
from aedc.passes.outline import outline

F32 = np.float32
CNN_FILE = Path(__file__).parent / "data/nir_paper/02_cnn/cnn_sinabs.nir"
SHARED_CNN_FILE = Path(__file__).resolve().parents[2] / "shared/data/nir_paper/02_cnn/cnn_sinabs.nir"


def run(spec: str, graph: Graph) -> tuple[Graph, PassContext]:
    ctx = PassContext()
    return parse_pipeline(spec).run(CompileState(graph), ctx).graph, ctx


def messages(ctx: PassContext, pass_name: str) -> list[str]:
    return [d.message for d in ctx.diagnostics.of(pass_name)]


# ---- verify ----------------------------------------------------------------------------------------------

def test_verify_golden_is_identity() -> None:
    g = raw_mlp_with_scale()
    out, ctx = run("verify", g)
    assert out is g
    assert len(ctx.diagnostics) == 0


def test_verify_names_the_edge_and_the_pass() -> None:
    g = raw_mlp_with_scale()
    bad = g.evolve(projections=(g.projections[0].evolve(conn=Dense(weight=np.zeros((8, 5), F32))),
                                *g.projections[1:]))
    with pytest.raises(VerifyError,
                       match=r"projection 'x->fc1' \(x -> fc1\): dense expects 5 inputs") as info:
        run("verify", bad)
    assert any("in pass 'verify'" in n for n in info.value.__notes__)


# ---- fold-scale -------------------------------------------------------------------------------------------

MLP_FOLDED = """\
pop fc1 linear (8,) graded
pop fc2 linear (4,) graded
pop lif1 lif (8,) binary
pop lif2 lif (4,) binary output=y
pop probe li (8,) graded
pop x input (6,) binary
proj fc1 -> lif1 'fc1->lif1' identity delay=0
proj fc2 -> lif2 'fc2->lif2' identity delay=0
proj lif1 -> fc2 'lif1->fc2' dense w=(4, 8) delay=0
proj lif1 -> probe 'lif1->probe' identity delay=0
proj x -> fc1 'x->fc1' dense w=(8, 6) delay=0
"""


def test_fold_scale_golden() -> None:
    g = raw_mlp_with_scale(seed=2)
    out, ctx = run("fold-scale", g)
    assert outline(out) == MLP_FOLDED
    assert messages(ctx, "fold-scale") == ["folded 1 scaling population(s): scale"]
    s = g.projection("lif1->scale").conn
    w = g.projection("scale->fc2").conn
    assert isinstance(s, OneToOne)
    assert isinstance(w, Dense)
    folded = out.projection("lif1->fc2")
    np.testing.assert_array_equal(folded.conn.weight, w.weight * s.weight[None, :])  # type: ignore[union-attr]
    assert folded.meta == {"fused_from": "lif1->scale*scale->fc2"}


def test_fold_scale_leaves_other_linear_populations() -> None:
    net = Network("s")
    net.input("x", 4)
    linear(net, "biased", 4, 0.5)  # a bias: not a plain Scale
    net.one_to_one("x", "biased", 2.0)
    linear(net, "dense_in", 4)  # fed by a dense projection: not a Scale
    net.dense("x", "dense_in", np.eye(4, dtype=F32))
    net.population("n", 4, "if")
    net.identity("biased", "n")
    net.identity("dense_in", "n")
    net.output("y", "n")
    g = net.build()
    out, ctx = run("fold-scale", g)
    assert out == g
    assert len(ctx.diagnostics) == 0


def test_fold_scale_per_channel_scale_into_conv_keeps_the_conv() -> None:
    rng = np.random.default_rng(3)
    net = Network("c")
    net.input("x", (2, 5, 5))
    net.population("a", (2, 5, 5), "if")
    net.identity("x", "a")
    linear(net, "scale", (2, 5, 5))
    net.one_to_one("a", "scale", np.repeat(np.array([0.5, -2.0], F32), 25))
    linear(net, "conv", (3, 5, 5))
    net.conv2d("scale", "conv", dyadic(rng, (3, 2, 3, 3)), padding=1)
    net.population("b", (3, 5, 5), "if")
    net.identity("conv", "b")
    net.output("y", "b")
    out, _ = run("fold-scale", net.build())
    assert "proj a -> conv 'a->conv' conv2d w=(3, 2, 3, 3) stride=(1, 1) pad=((1, 1), (1, 1)) delay=0" \
        in outline(out)


# ---- fuse-affine ------------------------------------------------------------------------------------------

CNN_FUSED = """\
pop 1 if (16, 16, 16) binary
pop 10 if (256,) binary
pop 12 if (10,) binary output=output
pop 3 if (16, 16, 16) binary
pop 6 if (8, 8, 8) binary
pop input input (2, 34, 34) {rule}
proj 1 -> 3 '1->3' conv2d w=(16, 16, 3, 3) stride=(1, 1) pad=((1, 1), (1, 1)) delay=0
proj 10 -> 12 '10->12' dense w=(10, 256) delay=0
proj 3 -> 6 '3->6' conv2d w=(8, 16, 6, 6) stride=(2, 2) pad=((2, 2), (2, 2)) delay=0
proj 6 -> 10 '6->10' dense w=(256, 512) delay=0
proj input -> 1 'input->1' conv2d w=(16, 2, 5, 5) stride=(2, 2) pad=((1, 1), (1, 1)) delay=0
"""


def test_fuse_affine_golden_cnn() -> None:
    """input -conv→ IF -conv→ IF -conv(6x6, s2, p2: pool∘conv)→ IF -dense(256x512: pool∘flatten∘affine)
    → IF -dense→ IF."""
    g = raw_cnn()
    out, ctx = run("fuse-affine", g)
    assert outline(out) == CNN_FUSED.format(rule="binary")
    assert messages(ctx, "fuse-affine") == ["fused 8 linear population(s): 0, 2, 4, 5, 7, 8, 9, 11"]
    # conv biases moved into the IF populations that follow them, per channel
    bias0 = g.population("0").neuron.bias
    np.testing.assert_array_equal(out.population("1").neuron.bias, bias0)
    # the affine bias 9 is carried by the identity 9->10 into IF 10
    np.testing.assert_array_equal(out.population("10").neuron.bias, g.population("9").neuron.bias)
    assert [p.name for p in out.populations] == ["input", "1", "3", "6", "10", "12"]


def _cnn_file() -> Path:
    for path in (CNN_FILE, SHARED_CNN_FILE):
        if path.is_file():
            return path
    pytest.skip(f"NIR paper CNN not found at {CNN_FILE} or {SHARED_CNN_FILE}")


def test_fuse_affine_on_the_nir_paper_cnn() -> None:
    """The sinabs CNN of the NIR paper, imported by the frontend, fuses into exactly five projections."""
    nir_import = pytest.importorskip("aedc.frontend.nir_import", reason="frontend not landed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the file is NIR 0.2.0: a version warning
        g = nir_import.from_nir(_cnn_file(), profile="sinabs")
    out, _ = run("verify,fold-scale,fuse-affine,dce", g)
    assert outline(out) == CNN_FUSED.format(rule=g.population("input").event_rule)


def _chain(delay_a: int = 0, back_a: bool = False, delay_b: int = 0, back_b: bool = False,
           bias: float = 0.0) -> Graph:
    net = Network("chain")
    net.input("x", 3)
    net.population("a", 3, "if")
    net.identity("x", "a")
    linear(net, "l", 2, bias)
    net.dense("a", "l", np.full((2, 3), 0.5, F32), delay=delay_a, back_edge=back_a)
    net.population("b", 2, "if")
    net.dense("l", "b", np.eye(2, dtype=F32), delay=delay_b, back_edge=back_b)
    net.output("y", "b")
    return net.build()


@pytest.mark.parametrize(("a", "b", "expected"), [
    ((0, False), (0, False), "delay=0"),
    ((2, False), (1, False), "delay=3"),
    ((0, True), (1, False), "delay=1 back"),
    ((1, False), (0, True), "delay=1 back"),
    ((1, True), (2, True), "delay=4 back"),  # latency (1+1) + (2+1) = 5 = delay 4 + back-edge
])
def test_fused_latency_is_the_sum(a: tuple[int, bool], b: tuple[int, bool], expected: str) -> None:
    out, _ = run("fuse-affine", _chain(*a, *b))
    fused = out.projection("a->b")
    assert fused.latency == sum(d + int(bk) for d, bk in (a, b))
    assert outline(out).splitlines()[-2] == f"proj a -> b 'a->b' dense w=(2, 3) {expected}"


def test_bias_behind_a_delayed_projection_keeps_the_population() -> None:
    out, ctx = run("fuse-affine", _chain(delay_b=1, bias=0.25))
    assert "l" in out.pop_map()
    assert messages(ctx, "fuse-affine") == [
        "kept 'l': it has a non-zero bias and projection 'l->b' has latency 1: the bias would reach "
        "'b' 1 tick(s) late"]
    assert ctx.diagnostics.of("fuse-affine")[0].where == "l"
    # without a bias the delay is harmless
    out2, _ = run("fuse-affine", _chain(delay_b=1))
    assert "l" not in out2.pop_map()
    # a delayed *incoming* projection does not matter for the bias
    out3, _ = run("fuse-affine", _chain(delay_a=2, bias=0.25))
    assert "l" not in out3.pop_map()
    np.testing.assert_array_equal(out3.population("b").neuron.bias, np.full(2, 0.25, F32))


def test_recurrent_bias_on_the_incoming_back_edge_is_folded() -> None:
    """What the NIR frontend now builds for ``lif → w_rec → lif`` (the cut on the edge into the Affine):
    the weighted value stays a back-edge, the bias joins the post population's from tick 0."""
    out, ctx = run("fuse-affine", _chain(back_a=True, bias=0.25))
    assert "l" not in out.pop_map()
    assert messages(ctx, "fuse-affine") == ["fused 1 linear population(s): l"]
    assert out.projection("a->b").back_edge
    np.testing.assert_array_equal(out.population("b").neuron.bias, np.full(2, 0.25, F32))


def _kept_reason(graph: Graph, spec: str = "fuse-affine") -> str:
    out, ctx = run(spec, graph)
    assert "l" in out.pop_map()
    (msg,) = [m for m in messages(ctx, spec.split("{")[0]) if m.startswith("kept")]
    return msg


def test_populations_that_are_kept_and_why() -> None:
    g = _chain()
    as_output = g.evolve(outputs={"y": "b", "lin": "l"})
    assert _kept_reason(as_output) == "kept 'l': it is read by output 'lin'"
    pops = tuple(p.evolve(event_rule="sigma_delta", event_threshold=0.1) if p.name == "l" else p
                 for p in g.populations)
    assert _kept_reason(g.evolve(populations=pops)) == (
        "kept 'l': event rule 'sigma_delta' is not a plain pass-through (needs 'graded')")
    loop = g.evolve(projections=(*g.projections, g.projection("l->b").evolve(
        name="l->l", post="l", back_edge=True)))
    assert _kept_reason(loop) == "kept 'l': it projects onto itself"
    assert _kept_reason(g, "fuse-affine{max-dense=5}") == (
        "kept 'l': dense x dense product would be 2 x 3 = 6 weights, more than max-dense (5)")


def test_parallel_paths_get_distinct_deterministic_names() -> None:
    net = Network("par")
    net.input("x", 2)
    net.population("a", 2, "if")
    net.identity("x", "a")
    linear(net, "l1", 2)
    linear(net, "l2", 2)
    net.one_to_one("a", "l1", 0.5)
    net.dense("a", "l2", np.eye(2, dtype=F32))
    net.population("b", 2, "if")
    net.identity("l1", "b")
    net.identity("l2", "b")
    net.identity("a", "b")  # already named 'a->b'
    net.output("y", "b")
    out, _ = run("fuse-affine", net.build())
    assert outline(out) == (
        "pop a if (2,) binary\n"
        "pop b if (2,) binary output=y\n"
        "pop x input (2,) binary\n"
        "proj a -> b 'a->b' identity delay=0\n"
        "proj a -> b 'a->b#2' one_to_one n=2 delay=0\n"
        "proj a -> b 'a->b#3' dense w=(2, 2) delay=0\n"
        "proj x -> a 'x->a' identity delay=0\n")
    assert out.projection("a->b#2").meta == {"fused_from": "a->l1*l1->b"}


def test_fan_in_and_fan_out_compose_every_pair_and_sum_biases() -> None:
    net = Network("fan")
    net.input("x", 2)
    net.population("a", 2, "if")
    net.population("c", 3, "if")
    net.identity("x", "a")
    net.dense("x", "c", np.ones((3, 2), F32))
    linear(net, "l", 2, [0.25, -0.5])
    net.dense("a", "l", np.eye(2, dtype=F32))
    net.dense("c", "l", np.ones((2, 3), F32) / 4)
    net.population("p", 2, "if", bias=0.125)
    net.population("q", 1, "if")
    net.one_to_one("l", "p", [2.0, 1.0])
    net.dense("l", "q", [[1.0, 1.0]])
    net.dense("l", "p", np.eye(2, dtype=F32), name="l->p#extra")
    net.output("y", "p")
    net.output("z", "q")
    out, _ = run("fuse-affine", net.build())
    names = [p.name for p in out.projections]
    assert names == ["x->a", "x->c", "a->p", "c->p", "a->q", "c->q", "a->p#2", "c->p#2"]
    # p gets 2·0.25 + 0.25 = 0.75 and 1·(-0.5) + (-0.5) = -1 on top of its own 0.125
    np.testing.assert_array_equal(out.population("p").neuron.bias, np.array([0.875, -0.875], F32))
    np.testing.assert_array_equal(out.population("q").neuron.bias, np.array([-0.25], F32))


def test_fuse_affine_is_deterministic() -> None:
    from aedc.ir import to_json

    a, _ = run("fuse-affine", raw_cnn(channels=(4, 4, 2), size=10, hidden=8))
    b, _ = run("fuse-affine", raw_cnn(channels=(4, 4, 2), size=10, hidden=8))
    assert to_json(a) == to_json(b)


# ---- dce --------------------------------------------------------------------------------------------------

def test_dce_golden() -> None:
    out, ctx = run("dce", raw_mlp_with_scale(seed=2))
    assert outline(out) == (
        "pop fc1 linear (8,) graded\n"
        "pop fc2 linear (4,) graded\n"
        "pop lif1 lif (8,) binary\n"
        "pop lif2 lif (4,) binary output=y\n"
        "pop scale linear (8,) graded\n"
        "pop x input (6,) binary\n"
        "proj fc1 -> lif1 'fc1->lif1' identity delay=0\n"
        "proj fc2 -> lif2 'fc2->lif2' identity delay=0\n"
        "proj lif1 -> scale 'lif1->scale' one_to_one n=8 delay=0\n"
        "proj scale -> fc2 'scale->fc2' dense w=(4, 8) delay=0\n"
        "proj x -> fc1 'x->fc1' dense w=(8, 6) delay=0\n")
    assert messages(ctx, "dce") == [
        "removed 1 population(s) that reach no output: probe; 1 projection(s): lif1->probe"]


def test_dce_keeps_inputs_and_recurrent_loops_that_reach_outputs() -> None:
    net = Network("d")
    net.input("x", 2)
    net.input("unused", 3)
    net.population("a", 2, "if")
    net.population("b", 2, "if")
    net.population("dead", 2, "if")
    net.population("dead2", 2, "if")
    net.identity("x", "a")
    net.identity("a", "b")
    net.identity("b", "a", back_edge=True, name="b->a")
    net.identity("a", "dead")
    net.identity("dead", "dead2")
    net.identity("dead2", "dead", back_edge=True)
    net.output("y", "b")
    out, ctx = run("dce", net.build())
    assert [p.name for p in out.populations] == ["x", "unused", "a", "b"]
    assert [p.name for p in out.projections] == ["x->a", "a->b", "b->a"]
    assert messages(ctx, "dce") == ["removed 2 population(s) that reach no output: dead, dead2; "
                                    "3 projection(s): a->dead, dead->dead2, dead2->dead"]


def test_dce_without_outputs_changes_nothing_and_warns() -> None:
    g = raw_mlp_with_scale().evolve(outputs={})
    out, ctx = run("dce", g)
    assert out is g
    (diag,) = ctx.diagnostics.of("dce")
    assert diag.severity == "warning"
    assert diag.message == "the graph has no outputs; nothing removed"


def test_dce_on_a_clean_graph_reports_nothing() -> None:
    g, _ = run("dce", raw_mlp_with_scale())
    out, ctx = run("dce", g)
    assert out is g
    assert len(ctx.diagnostics) == 0
