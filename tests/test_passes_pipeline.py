"""The pass framework: pipeline strings both ways, order checks, errors, instruments, dumps, registry."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import pytest
from test_passes_helpers import raw_mlp_with_scale

from aedc.errors import AedcError, PipelineError, VerifyError
from aedc.ir import Graph, load
from aedc.ir.neurons import LinearModel
from aedc.passes import (
    DEFAULT_PIPELINE,
    CompileState,
    Pass,
    PassContext,
    PassInstrument,
    PassManager,
    Pipeline,
    ProgressInstrument,
    TimingInstrument,
    available_passes,
    get_pass,
    parse_pipeline,
    register_pass,
    unregister_pass,
)
from aedc.passes.registry import BUILTIN_PASSES
from aedc.passes.state import ARTIFACTS

# ---- user passes used by the tests (registered per test through the fixture) -------------------------

@dataclass(frozen=True)
class Tag(Pass):
    """Record the pass in the graph metadata (a test pass with one option of every supported type)."""

    name: ClassVar[str] = "tag"

    label: str = "x"
    count: int = 1
    ratio: float = 0.5
    flag: bool = False
    mode: Literal["fast", "slow"] = "fast"
    limit: int | None = None

    def apply(self, ctx: PassContext, state: CompileState) -> CompileState:
        trail = state.graph.meta.get("trail", "")
        graph = state.graph.evolve(meta={**state.graph.meta, "trail": trail + self.label})
        return dataclasses.replace(state, graph=graph)


@dataclass(frozen=True)
class MakeSlices(Pass):
    """Pretend to slice (produces 'slices')."""

    name: ClassVar[str] = "make-slices"
    produces: ClassVar[frozenset[str]] = frozenset({"slices"})

    def apply(self, ctx: PassContext, state: CompileState) -> CompileState:
        return dataclasses.replace(state, slices=("all",))


@dataclass(frozen=True)
class NeedSlices(Pass):
    """Pretend to place (requires 'slices', produces 'placement')."""

    name: ClassVar[str] = "need-slices"
    requires: ClassVar[frozenset[str]] = frozenset({"graph", "slices"})
    produces: ClassVar[frozenset[str]] = frozenset({"placement"})

    def apply(self, ctx: PassContext, state: CompileState) -> CompileState:
        return dataclasses.replace(state, placement={"all": 0})


@dataclass(frozen=True)
class Boom(Pass):
    """Fail with a VerifyError naming a population."""

    name: ClassVar[str] = "boom"

    def apply(self, ctx: PassContext, state: CompileState) -> CompileState:
        raise VerifyError("population 'lif1': broken on purpose", where="lif1")


@dataclass(frozen=True)
class BreakIR(Pass):
    """Return a graph with a dangling projection (so verify-after-each must catch it)."""

    name: ClassVar[str] = "break-ir"

    def apply(self, ctx: PassContext, state: CompileState) -> CompileState:
        g = state.graph
        bad = g.projections[0].evolve(post="nowhere")
        return dataclasses.replace(state, graph=g.evolve(projections=(bad, *g.projections[1:])))


USER_PASSES = (Tag, MakeSlices, NeedSlices, Boom, BreakIR)


@pytest.fixture
def user_passes() -> Iterator[None]:
    for cls in USER_PASSES:
        register_pass(cls)
    yield
    for cls in USER_PASSES:
        unregister_pass(cls.name)


@pytest.fixture
def state() -> CompileState:
    return CompileState(raw_mlp_with_scale(seed=2))


# ---- pipeline strings ------------------------------------------------------------------------------------

def test_default_pipeline_prints_every_option() -> None:
    p = parse_pipeline(DEFAULT_PIPELINE)
    assert p.names == ("verify", "fold-scale", "fuse-affine", "dce", "slice", "place", "route",
                       "compress-tables", "emit-c")
    assert str(p) == ("verify,fold-scale{max-dense=4000000},fuse-affine{max-dense=4000000},dce,"
                      "slice{max-neurons=256,record-ticks=100,activity=0.05,formats=auto,min-neurons=16,"
                      "fanin-split=true,event=false},"
                      "place{solver=cpsat,time-limit-s=2.0,workers=1,mode=auto,balance=1.0},"
                      "route{keys=packed,verify=true},"
                      "compress-tables{algorithm=ortc,dont-care=true,verify=true},emit-c{tick-us=1000,event=false}")


def test_options_kebab_to_snake_and_round_trip() -> None:
    p = parse_pipeline(" verify , fold-scale,fuse-affine{ max-dense = 1000000 },dce ")
    fuse = p.passes[2]
    assert fuse == get_pass("fuse-affine")(max_dense=1_000_000)  # type: ignore[call-arg]
    assert parse_pipeline(str(p)) == p
    assert parse_pipeline("fuse-affine{max_dense=7}") == parse_pipeline("fuse-affine{max-dense=7}")
    assert parse_pipeline("dce{}") == parse_pipeline("dce")
    assert parse_pipeline("") == Pipeline(())
    assert str(Pipeline(())) == ""


@pytest.mark.usefixtures("user_passes")
def test_every_option_type_parses_and_round_trips() -> None:
    p = parse_pipeline('tag{label="a b,{c}=\\"d\\"",count=-3,ratio=1e-05,flag=yes,mode=slow,limit=12}')
    tag = p.passes[0]
    assert tag == Tag(label='a b,{c}="d"', count=-3, ratio=1e-5, flag=True, mode="slow", limit=12)
    assert parse_pipeline(str(p)) == p
    assert str(parse_pipeline("tag")) == "tag{label=x,count=1,ratio=0.5,flag=false,mode=fast,limit=none}"
    assert parse_pipeline('tag{label="none",limit=none}').passes[0] == Tag(label="none", limit=None)
    assert parse_pipeline(str(Tag(label="none"))).passes[0] == Tag(label="none")
    assert parse_pipeline("tag{ratio=3}").passes[0] == Tag(ratio=3.0)


def test_list_of_names_instances_and_classes() -> None:
    fuse_cls = get_pass("fuse-affine")
    p = parse_pipeline(["verify", "fuse-affine{max-dense=5}", fuse_cls(), get_pass("dce")])
    assert str(p) == "verify,fuse-affine{max-dense=5},fuse-affine{max-dense=4000000},dce"
    assert parse_pipeline(p) is p


@pytest.mark.parametrize(("spec", "message"), [
    ("verify,fold", "position 7: unknown pass 'fold'; available passes: boom, break-ir, compress-tables,"),
    ("fuse-affine{max=3}", "pass 'fuse-affine' has no option 'max'; its options are: max-dense"),
    ("dce{x=1}", "pass 'dce' has no option 'x'; its options are: none"),
    ("fuse-affine{max-dense=lots}", "option 'max-dense': expected an integer, got 'lots'"),
    ("fuse-affine{max-dense=-1}", "max-dense must be >= 0"),
    ("fuse-affine{max-dense=1,max-dense=2}", "option 'max-dense' of pass 'fuse-affine' is given twice"),
    ("verify,", "position 7: expected a pass name, found the end"),
    ("verify,,dce", "position 7: expected a pass name, found ','"),
    ("fuse-affine{max-dense=1", "expected '}', found the end"),
    ("fuse-affine{max-dense}", "expected '=', found '}'"),
    ("verify dce", "expected ',', found 'd'"),
    ('tag{label="abc}', "unterminated quoted string"),
])
@pytest.mark.usefixtures("user_passes")
def test_malformed_pipelines_are_pipeline_errors(spec: str, message: str) -> None:
    with pytest.raises(PipelineError) as info:
        parse_pipeline(spec)
    assert message in str(info.value)


@pytest.mark.usefixtures("user_passes")
def test_literal_and_bool_errors_list_the_valid_values() -> None:
    with pytest.raises(PipelineError, match="expected one of fast, slow, got 'medium'"):
        parse_pipeline("tag{mode=medium}")
    with pytest.raises(PipelineError, match="expected true or false, got 'maybe'"):
        parse_pipeline("tag{flag=maybe}")


# ---- order checks -----------------------------------------------------------------------------------------

@pytest.mark.usefixtures("user_passes")
def test_order_is_checked_when_built() -> None:
    assert parse_pipeline("make-slices,need-slices").names == ("make-slices", "need-slices")
    with pytest.raises(PipelineError, match=r"pass 'need-slices' \(position 2\) requires slices, which no "
                                            r"earlier pass produces \(before it: verify\)"):
        parse_pipeline("verify,need-slices,make-slices")
    assert Pipeline((NeedSlices(),), provided=frozenset({"graph", "slices"})).names == ("need-slices",)


@pytest.mark.usefixtures("user_passes")
def test_run_checks_the_initial_state_and_declared_products(state: CompileState) -> None:
    pipe = Pipeline((NeedSlices(),), provided=frozenset({"graph", "slices"}))
    with pytest.raises(PipelineError, match=r"initial state to hold \['slices'\]"):
        pipe.run(state)
    out = pipe.run(dataclasses.replace(state, slices=("s",)))
    assert out.present() == {"graph", "slices", "placement"}


def test_compile_state_artifacts(state: CompileState) -> None:
    assert ARTIFACTS == ("graph", "slices", "placement", "routes", "tables", "sources")
    assert state.present() == {"graph"}
    assert state.has("graph")
    assert not state.has("graph", "tables")
    with pytest.raises(KeyError, match="unknown artifact 'slice'"):
        state.has("slice")
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.graph = state.graph  # type: ignore[misc]


# ---- running ----------------------------------------------------------------------------------------------

@pytest.mark.usefixtures("user_passes")
def test_every_pass_runs_once_in_order_and_is_timed(state: CompileState) -> None:
    timing = TimingInstrument()
    events: list[tuple[str, int, str]] = []
    ctx = PassContext(instruments=(timing, ProgressInstrument(lambda e, i, p: events.append((e, i, p.name)))))
    pm = PassManager("tag{label=a},verify,tag{label=b},tag{label=a}")
    out = pm.run(state, ctx)
    assert out.graph.meta["trail"] == "aba"
    assert [str(p) for p, _ in pm.timings] == [str(p) for p in pm.pipeline]
    assert all(s >= 0.0 for _, s in pm.timings)
    assert [p for p, _ in timing.timings] == list(pm.pipeline.passes)
    assert events == [("start", 0, "tag"), ("end", 0, "tag"), ("start", 1, "verify"), ("end", 1, "verify"),
                      ("start", 2, "tag"), ("end", 2, "tag"), ("start", 3, "tag"), ("end", 3, "tag")]
    assert state.graph.meta.get("trail") is None  # the input state is untouched


@pytest.mark.usefixtures("user_passes")
def test_failing_pass_gets_a_note_and_the_original_error(state: CompileState) -> None:
    with pytest.raises(VerifyError) as info:
        PassManager("verify,boom,dce").run(state)
    assert info.value.where == "lif1"
    assert type(info.value) is VerifyError
    assert info.value.__notes__ == ["in pass 'boom' (pass 2 of 3)"]


@pytest.mark.usefixtures("user_passes")
def test_verify_after_each_names_the_pass_that_broke_the_ir(state: CompileState) -> None:
    with pytest.raises(VerifyError, match="population 'nowhere' does not exist") as info:
        PassManager("break-ir,dce").run(state)
    assert "in pass 'break-ir': the IR it returned does not verify" in info.value.__notes__
    out = PassManager("break-ir").run(state, PassContext(verify_each=False))
    assert out.graph.projections[0].post == "nowhere"


def test_dump_after_writes_numbered_ir_files(state: CompileState, tmp_path: Path) -> None:
    ctx = PassContext(dump_after=("fuse-affine", "dce"), dump_dir=tmp_path / "dumps")
    out = PassManager(DEFAULT_PIPELINE).run(state, ctx)
    files = sorted(p.name for p in (tmp_path / "dumps").iterdir())
    assert files == ["03-fuse-affine.json", "04-dce.json", "pipeline.txt"]
    assert load(tmp_path / "dumps" / "04-dce.json") == out.graph
    assert json.loads((tmp_path / "dumps" / "03-fuse-affine.json").read_text())["format"] == "aedc-ir"
    text = (tmp_path / "dumps" / "pipeline.txt").read_text().strip()
    assert parse_pipeline(text) == parse_pipeline(DEFAULT_PIPELINE)


def test_dump_all_and_dump_errors(state: CompileState, tmp_path: Path) -> None:
    PassManager("verify,dce").run(state, PassContext(dump_after=("*",), dump_dir=tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["01-verify.json", "02-dce.json", "pipeline.txt"]
    with pytest.raises(PipelineError, match=r"dump_after names \['place'\], which are not in the pipeline"):
        PassManager("verify,dce").run(state, PassContext(dump_after=("place",), dump_dir=tmp_path))
    with pytest.raises(PipelineError, match="dump_after is set but dump_dir is not"):
        PassManager("verify").run(state, PassContext(dump_after=("verify",)))


def test_diagnostics_are_collected_in_the_context(state: CompileState) -> None:
    ctx = PassContext()
    parse_pipeline(DEFAULT_PIPELINE).run(state, ctx)
    assert [d.pass_name for d in ctx.diagnostics] == ["fold-scale", "fuse-affine", "dce", "slice", "place",
                                                      "route", "compress-tables", "emit-c"]
    assert str(ctx.diagnostics.of("dce")[0]).startswith("note: [dce] removed 1 population(s)")


def test_context_is_frozen_and_validated() -> None:
    ctx = PassContext(dump_after=["dce"], dump_dir="out")  # type: ignore[arg-type]
    assert ctx.dump_after == ("dce",)
    assert ctx.dump_dir == Path("out")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.seed = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="jobs must be >= 1"):
        PassContext(jobs=0)


def test_instruments_default_to_no_ops(state: CompileState) -> None:
    class Count(PassInstrument):
        def __init__(self) -> None:
            self.n = 0

        def after_pass(self, index: int, pass_: Pass, state: CompileState, ctx: PassContext,
                       seconds: float) -> None:
            self.n += 1

    count = Count()
    parse_pipeline("verify,verify").run(state, PassContext(instruments=(count,)))
    assert count.n == 2


# ---- registry ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(BUILTIN_PASSES))
def test_registry_keys_equal_class_names(name: str) -> None:
    cls = get_pass(name)
    assert cls.name == name
    assert cls.help()
    assert not cls.help().endswith(" ")
    assert cls.requires <= set(ARTIFACTS)
    assert cls.produces <= set(ARTIFACTS)
    chain = {"slices": "slice,", "placement": "slice,place,", "tables": "slice,place,route,"}
    producers = max((chain[a] for a in cls.requires if a in chain), key=len, default="")
    assert str(parse_pipeline(producers + str(cls())).passes[-1]) == str(cls())


def test_available_passes_lists_one_line_help() -> None:
    helps = available_passes()
    assert list(helps) == sorted(BUILTIN_PASSES)
    assert helps["dce"] == ("Remove populations (and their projections) from which no output population "
                            "is reachable.")
    assert all("\n" not in h for h in helps.values())


def test_importing_passes_does_not_import_jax_or_ortools() -> None:
    code = ("import sys, aedc, aedc.passes\n"
            "from aedc.passes import available_passes, parse_pipeline, DEFAULT_PIPELINE\n"
            "available_passes(); parse_pipeline(DEFAULT_PIPELINE)\n"
            "heavy = [m for m in sys.modules if m.split('.')[0] in ('jax', 'ortools')]\n"
            "assert not heavy, heavy\n"
            "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    code2 = ("import sys, aedc.passes\n"
             "eager = [m for m in sys.modules if m.startswith(('aedc.passes.fusion', 'aedc.passes.pass'))]\n"
             "assert not eager, 'eager pass import'\n")
    out2 = subprocess.run([sys.executable, "-c", code2], capture_output=True, text=True, check=False)
    assert out2.returncode == 0, out2.stderr


def test_user_pass_registration() -> None:
    @dataclass(frozen=True)
    class StripLinearMeta(Pass):
        """Drop the nir_type metadata of linear populations."""

        name: ClassVar[str] = "strip-meta"

        def apply(self, ctx: PassContext, state: CompileState) -> CompileState:
            pops = tuple(p.evolve(meta={}) if isinstance(p.neuron, LinearModel) else p
                         for p in state.graph.populations)
            return dataclasses.replace(state, graph=state.graph.evolve(populations=pops))

    assert register_pass(StripLinearMeta) is StripLinearMeta
    try:
        assert register_pass(StripLinearMeta) is StripLinearMeta  # idempotent
        assert available_passes()["strip-meta"] == "Drop the nir_type metadata of linear populations."
        out = parse_pipeline("strip-meta").run(CompileState(raw_mlp_with_scale()))
        assert all(not p.meta for p in out.graph.populations)

        @dataclass(frozen=True)
        class Other(Pass):
            """Another pass with a taken name."""

            name: ClassVar[str] = "strip-meta"

            def apply(self, ctx: PassContext, state: CompileState) -> CompileState:
                return state

        with pytest.raises(PipelineError, match="a pass named 'strip-meta' is already registered"):
            register_pass(Other)
        register_pass(Other, replace=True)
        assert get_pass("strip-meta") is Other
    finally:
        unregister_pass("strip-meta")
    with pytest.raises(PipelineError, match="unknown pass 'strip-meta'"):
        get_pass("strip-meta")
    with pytest.raises(PipelineError, match="a pass named 'dce' is already registered"):
        register_pass(_dce_clone())  # built-in names are taken too


def _dce_clone() -> type[Pass]:
    @dataclass(frozen=True)
    class Dce(Pass):
        """Shadows the built-in."""

        name: ClassVar[str] = "dce"

        def apply(self, ctx: PassContext, state: CompileState) -> CompileState:
            return state

    return Dce


def test_bad_pass_classes_are_rejected() -> None:
    class NotFrozen(Pass):
        """Not a frozen dataclass."""

        name: ClassVar[str] = "not-frozen"

        def apply(self, ctx: PassContext, state: CompileState) -> CompileState:
            return state

    @dataclass(frozen=True)
    class BadName(Pass):
        """Snake-case name."""

        name: ClassVar[str] = "bad_name"
        produces: ClassVar[frozenset[str]] = frozenset({"bitstream"})

        def apply(self, ctx: PassContext, state: CompileState) -> CompileState:
            return state

    with pytest.raises(PipelineError, match=r"must be decorated with @dataclass\(frozen=True\)"):
        register_pass(NotFrozen)
    with pytest.raises(PipelineError, match="must be kebab-case") as info:
        register_pass(BadName)
    assert "produces names unknown artifacts ['bitstream']" in str(info.value)
    with pytest.raises(PipelineError, match=r"not a subclass of aedc\.passes\.Pass"):
        register_pass(int)  # type: ignore[type-var]
    with pytest.raises(PipelineError, match="is not a pass name, Pass instance or Pass class"):
        parse_pipeline([3])  # type: ignore[list-item]


def test_pipeline_errors_are_aedc_errors() -> None:
    assert issubclass(PipelineError, AedcError)


@pytest.mark.usefixtures("user_passes")
def test_verification_runs_once_per_changed_graph(state: CompileState,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from aedc.ir.verify import verify

    seen: list[str] = []

    def counting(graph: Graph) -> Graph:
        seen.append(graph.meta.get("trail", ""))
        return verify(graph)

    monkeypatch.setattr("aedc.passes.pipeline.verify", counting)
    PassManager("dce,dce,tag{label=a},dce,tag{label=b}").run(state)
    assert seen == ["", "a", "ab"]  # after the first dce (it removes "probe"); the second changes nothing
