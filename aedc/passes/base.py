"""The pass protocol: a small frozen dataclass with a name, typed options and one ``apply`` method.

    @dataclass(frozen=True)
    class FuseAffine(Pass):
        \"\"\"Remove pass-through linear populations by composing their projections.\"\"\"

        name: ClassVar[str] = "fuse-affine"
        requires: ClassVar[frozenset[str]] = frozenset({"graph"})
        produces: ClassVar[frozenset[str]] = frozenset()

        max_dense: int = 4_000_000

        def apply(self, ctx: PassContext, state: CompileState) -> CompileState:
            return dataclasses.replace(state, graph=...)

Options are the dataclass fields; in a pipeline string they are written in kebab-case
(``fuse-affine{max-dense=1000}``) and parsed by the field's type: ``int``, ``float``, ``bool``,
``str``, a ``Literal[...]`` of those, or any of them ``| None``. The first line of the class docstring
is the one-line help shown by :func:`aedc.passes.available_passes`.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Union, get_args, get_origin

from aedc.errors import PipelineError
from aedc.passes.context import PassContext
from aedc.passes.state import ARTIFACTS, CompileState

PASS_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*\Z")
_BARE = re.compile(r"[A-Za-z0-9_.+\-/:@~]+\Z")
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


@dataclass(frozen=True)
class Pass(ABC):
    """Base class of all passes (abstract). Subclasses are ``@dataclass(frozen=True)``."""

    name: ClassVar[str]
    requires: ClassVar[frozenset[str]] = frozenset({"graph"})
    produces: ClassVar[frozenset[str]] = frozenset()

    @abstractmethod
    def apply(self, ctx: PassContext, state: CompileState) -> CompileState:
        """Return the new state; never mutate ``state``."""

    # ---- introspection -------------------------------------------------------------------------------

    @classmethod
    def help(cls) -> str:
        """One-line help: the first line of the class docstring."""
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0].strip() if doc else ""

    @classmethod
    def option_types(cls) -> dict[str, Any]:
        """Option field name → resolved type, in declaration order."""
        try:
            hints = typing.get_type_hints(cls)
        except Exception as exc:  # a forward reference the class's module cannot resolve
            raise PipelineError(f"pass '{cls.name}': cannot resolve option types ({exc})",
                                where=cls.name) from None
        return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}

    @classmethod
    def from_options(cls, options: Mapping[str, str], quoted: Collection[str] = ()) -> Pass:
        """Build the pass from textual options (keys kebab- or snake-case), parsing values by type.

        Keys in ``quoted`` were quoted in the pipeline string: their values are taken literally (a
        quoted ``"none"`` is the string, not ``None``).
        """
        types_ = cls.option_types()
        values: dict[str, Any] = {}
        for key, text in options.items():
            field = key.replace("-", "_")
            if field not in types_:
                valid = ", ".join(_kebab(f) for f in types_) or "none"
                raise PipelineError(f"pass '{cls.name}' has no option '{key}'; its options are: {valid}",
                                    where=cls.name)
            try:
                values[field] = parse_value(text, types_[field], quoted=key in quoted)
            except ValueError as exc:
                raise PipelineError(f"pass '{cls.name}', option '{_kebab(field)}': {exc}",
                                    where=cls.name) from None
        return cls(**values)

    def options(self) -> dict[str, Any]:
        """Current option values by field name, in declaration order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}

    def __str__(self) -> str:
        """Pipeline-string form with every option spelled out, e.g. ``fuse-affine{max-dense=4000000}``."""
        opts = self.options()
        if not opts:
            return self.name
        return self.name + "{" + ",".join(f"{_kebab(k)}={format_value(v)}" for k, v in opts.items()) + "}"


def _kebab(field: str) -> str:
    return field.replace("_", "-")


def check_pass_class(cls: object) -> type[Pass]:
    """Raise :class:`PipelineError` unless ``cls`` is a usable pass class; return it typed."""
    if not (isinstance(cls, type) and issubclass(cls, Pass)):
        raise PipelineError(f"{cls!r} is not a subclass of aedc.passes.Pass")
    label = getattr(cls, "name", cls.__qualname__)
    problems = []
    if not isinstance(getattr(cls, "name", None), str) or not PASS_NAME.match(cls.name):
        problems.append(f"name {getattr(cls, 'name', None)!r} must be kebab-case like 'fold-scale'")
    params = getattr(cls, "__dataclass_params__", None)
    if "__dataclass_fields__" not in vars(cls) or params is None or not params.frozen:
        problems.append("must be decorated with @dataclass(frozen=True)")
    if getattr(cls, "__abstractmethods__", None):
        problems.append(f"does not implement {sorted(cls.__abstractmethods__)}")
    for attr in ("requires", "produces"):
        unknown = set(getattr(cls, attr)) - set(ARTIFACTS)
        if unknown:
            problems.append(f"{attr} names unknown artifacts {sorted(unknown)} (known: {list(ARTIFACTS)})")
    if problems:
        raise PipelineError(f"pass class {cls.__qualname__} ('{label}'): " + "; ".join(problems),
                            where=str(label))
    return cls


# ---- option values --------------------------------------------------------------------------------------

def _optional(tp: Any) -> tuple[Any, bool]:
    """Split ``X | None`` into ``(X, True)``; anything else into ``(tp, False)``."""
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) != len(get_args(tp)):
            return (args[0] if len(args) == 1 else Union[tuple(args)]), True  # noqa: UP007
    return tp, False


def parse_value(text: str, tp: Any, *, quoted: bool = False) -> Any:
    """Parse option text as type ``tp``; ``ValueError`` says what was expected."""
    inner, optional = _optional(tp)
    if optional and text == "none" and not quoted:
        return None
    if get_origin(inner) is Literal:
        choices = get_args(inner)
        for choice in choices:
            if format_value(choice) == text or (isinstance(choice, str) and choice == text):
                return choice
        raise ValueError(f"expected one of {', '.join(format_value(c) for c in choices)}, got {text!r}")
    if inner is bool:
        low = text.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError(f"expected true or false, got {text!r}")
    if inner is int:
        try:
            return int(text, 10)
        except ValueError:
            raise ValueError(f"expected an integer, got {text!r}") from None
    if inner is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None
    if inner is str:
        return text
    raise ValueError(f"option type {tp!r} is not supported in pipeline strings "
                     "(use int, float, bool, str, Literal[...] or X | None)")


def format_value(value: object) -> str:
    """Text of an option value such that :func:`parse_value` gives it back."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    if _BARE.match(text) and text.lower() not in {"none"}:
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
