"""Pipelines: an ordered, checked tuple of passes, built from a string or a list, and the pass manager.

Pipeline strings are flat (no nesting)::

    pipeline ::= [ pass ( "," pass )* ]
    pass     ::= NAME [ "{" [ option ( "," option )* ] "}" ]
    option   ::= KEY "=" VALUE
    NAME     ::= kebab-case pass name, e.g. fuse-affine
    KEY      ::= option name, kebab-case (snake_case is accepted too), e.g. max-dense
    VALUE    ::= BARE | QUOTED
    BARE     ::= one or more characters other than , { } = " and whitespace
    QUOTED   ::= '"' ( any character but " and \\ | '\\' any character )* '"'

Whitespace between tokens is ignored. ``str(pipeline)`` prints every pass with all of its options
(defaults included) so that ``parse_pipeline(str(p)) == p``; a build directory stores that string.

The order is checked when a pipeline is built: every pass's ``requires`` must be provided by the
initial state (``graph``) or produced by an earlier pass. The pipeline never reorders passes and runs
every listed pass exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aedc.errors import PipelineError
from aedc.ir.graph import Graph
from aedc.ir.serialize import to_json, write_atomic
from aedc.ir.verify import verify
from aedc.passes.base import Pass, check_pass_class
from aedc.passes.context import PassContext
from aedc.passes.registry import get_pass
from aedc.passes.state import CompileState

_SPECIAL = set(',{}="')


# ---- parsing --------------------------------------------------------------------------------------------

@dataclass
class _Lexer:
    text: str
    pos: int = 0

    def error(self, message: str) -> PipelineError:
        return PipelineError(f"pipeline {self.text!r}, position {self.pos}: {message}")

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.skip_ws()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            found = repr(self.peek()) if self.peek() else "the end"
            raise self.error(f"expected {char!r}, found {found}")
        self.pos += 1

    def word(self, what: str) -> tuple[str, bool]:
        """A bare or quoted token; returns ``(text, quoted)``."""
        self.skip_ws()
        if self.peek() == '"':
            self.pos += 1
            out: list[str] = []
            while self.pos < len(self.text) and self.text[self.pos] != '"':
                if self.text[self.pos] == "\\" and self.pos + 1 < len(self.text):
                    self.pos += 1
                out.append(self.text[self.pos])
                self.pos += 1
            if self.pos >= len(self.text):
                raise self.error("unterminated quoted string")
            self.pos += 1
            return "".join(out), True
        start = self.pos
        while (self.pos < len(self.text) and self.text[self.pos] not in _SPECIAL
               and not self.text[self.pos].isspace()):
            self.pos += 1
        if self.pos == start:
            found = repr(self.text[self.pos]) if self.pos < len(self.text) else "the end"
            raise self.error(f"expected {what}, found {found}")
        return self.text[start:self.pos], False


def _parse_item(lex: _Lexer) -> Pass:
    start = lex.pos
    name, quoted = lex.word("a pass name")
    if quoted:
        raise lex.error("a pass name cannot be quoted")
    try:
        cls = get_pass(name)
    except PipelineError as exc:
        lex.pos = start
        raise lex.error(str(exc)) from None
    options: dict[str, str] = {}
    quoted_keys: set[str] = set()
    if lex.peek() == "{":
        lex.pos += 1
        if lex.peek() == "}":
            lex.pos += 1
            return cls.from_options({})
        while True:
            key, kq = lex.word("an option name")
            if kq:
                raise lex.error("an option name cannot be quoted")
            lex.expect("=")
            value, vq = lex.word(f"a value for option '{key}'")
            norm = key.replace("_", "-")
            if norm in options:
                raise lex.error(f"option '{norm}' of pass '{name}' is given twice")
            options[norm] = value
            if vq:
                quoted_keys.add(norm)
            if lex.peek() == ",":
                lex.pos += 1
                continue
            lex.expect("}")
            break
    try:
        return cls.from_options(options, quoted_keys)
    except PipelineError as exc:
        lex.pos = start
        raise lex.error(str(exc)) from None


def parse_pipeline(spec: str | Sequence[str | Pass | type[Pass]] | Pipeline) -> Pipeline:
    """Build a :class:`Pipeline` from a pipeline string, or a list of pass strings, instances or classes."""
    if isinstance(spec, Pipeline):
        return spec
    if isinstance(spec, str):
        lex = _Lexer(spec)
        passes: list[Pass] = []
        if lex.peek() == "":
            return Pipeline(())
        while True:
            passes.append(_parse_item(lex))
            if lex.peek() == "":
                break
            lex.expect(",")
        return Pipeline(tuple(passes))
    items: list[Pass] = []
    for item in spec:
        if isinstance(item, Pass):
            check_pass_class(type(item))
            items.append(item)
        elif isinstance(item, str):
            items.extend(parse_pipeline(item).passes)
        elif isinstance(item, type) and issubclass(item, Pass):
            items.append(check_pass_class(item)())
        else:
            raise PipelineError(f"pipeline item {item!r} is not a pass name, Pass instance or Pass class")
    return Pipeline(tuple(items))


# ---- the pipeline ---------------------------------------------------------------------------------------

INITIAL_ARTIFACTS = frozenset({"graph"})


@dataclass(frozen=True)
class Pipeline:
    """An ordered tuple of passes whose requires/produces order has been checked."""

    passes: tuple[Pass, ...]
    provided: frozenset[str] = field(default=INITIAL_ARTIFACTS)

    def __post_init__(self) -> None:
        object.__setattr__(self, "passes", tuple(self.passes))
        available = set(self.provided)
        for i, p in enumerate(self.passes):
            if not isinstance(p, Pass):
                raise PipelineError(f"pipeline item {i} is {p!r}, not a Pass")
            missing = p.requires - available
            if missing:
                before = ", ".join(q.name for q in self.passes[:i]) or "nothing"
                raise PipelineError(
                    f"pass '{p.name}' (position {i + 1}) requires {', '.join(sorted(missing))}, which no "
                    f"earlier pass produces (before it: {before}); put a pass that produces it earlier",
                    where=p.name)
            available |= p.produces

    @staticmethod
    def parse(spec: str | Sequence[str | Pass | type[Pass]]) -> Pipeline:
        """Same as :func:`parse_pipeline`."""
        return parse_pipeline(spec)

    def __str__(self) -> str:
        return ",".join(str(p) for p in self.passes)

    def __iter__(self) -> Iterator[Pass]:
        return iter(self.passes)

    def __len__(self) -> int:
        return len(self.passes)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.passes)

    def run(self, state: CompileState, ctx: PassContext | None = None) -> CompileState:
        """Run every pass once, in order (see :class:`PassManager`)."""
        return PassManager(self).run(state, ctx or PassContext())


class PassManager:
    """Runs a pipeline: instruments, timing, verify-after-each, dumps, failure notes.

    Verification after a pass is skipped when the pass returned the very graph object that was last
    verified (a pass that does not touch the graph), so ``verify`` costs once per changed graph.

    After :meth:`run`, ``timings`` holds ``(pass, seconds)`` for every pass that ran (the time of
    ``apply`` alone, without verification or dumping).
    """

    def __init__(self, pipeline: Pipeline | str | Sequence[str | Pass | type[Pass]]) -> None:
        self.pipeline = parse_pipeline(pipeline)
        self.timings: list[tuple[Pass, float]] = []

    def _dump_indices(self, ctx: PassContext) -> set[int]:
        if not ctx.dump_after:
            return set()
        names = self.pipeline.names
        unknown = sorted(set(ctx.dump_after) - set(names) - {"*"})
        if unknown:
            raise PipelineError(f"dump_after names {unknown}, which are not in the pipeline "
                                f"({', '.join(names) or 'empty'})")
        if ctx.dump_dir is None:
            raise PipelineError("dump_after is set but dump_dir is not")
        return {i for i, n in enumerate(names) if n in ctx.dump_after or "*" in ctx.dump_after}

    def run(self, state: CompileState, ctx: PassContext | None = None) -> CompileState:
        """Run the pipeline on ``state``; the returned state is the last pass's result."""
        ctx = ctx or PassContext()
        self.timings = []
        dump = self._dump_indices(ctx)
        missing = self.pipeline.provided - state.present()
        if missing:
            raise PipelineError(f"the pipeline expects the initial state to hold {sorted(missing)}")
        if dump:
            assert ctx.dump_dir is not None
            write_atomic(ctx.dump_dir / "pipeline.txt", str(self.pipeline) + "\n")
        verified: Graph | None = None  # the last graph object verified (a pass may return it unchanged)
        for i, p in enumerate(self.pipeline.passes):
            for inst in ctx.instruments:
                inst.before_pass(i, p, state, ctx)
            start = time.perf_counter()
            try:
                new = p.apply(ctx, state)
            except Exception as exc:
                exc.add_note(f"in pass '{p.name}' (pass {i + 1} of {len(self.pipeline)})")
                raise
            seconds = time.perf_counter() - start
            self.timings.append((p, seconds))
            if not isinstance(new, CompileState):
                raise PipelineError(f"pass '{p.name}' returned {type(new).__name__}, not a CompileState",
                                    where=p.name)
            lost = p.produces - new.present()
            if lost:
                raise PipelineError(f"pass '{p.name}' declares it produces {sorted(lost)} but did not",
                                    where=p.name)
            for inst in ctx.instruments:
                inst.after_pass(i, p, new, ctx, seconds)
            if ctx.verify_each and new.graph is not verified:
                try:
                    verified = verify(new.graph)
                except Exception as exc:
                    exc.add_note(f"in pass '{p.name}': the IR it returned does not verify")
                    raise
            if i in dump:
                assert ctx.dump_dir is not None
                write_atomic(dump_path(ctx.dump_dir, i, p), to_json(new.graph))
            state = new
        return state


def dump_path(directory: Path, index: int, pass_: Pass) -> Path:
    """``directory / f"{index + 1:02d}-{pass_.name}.json"``: where the state after a pass is dumped."""
    return directory / f"{index + 1:02d}-{pass_.name}.json"
