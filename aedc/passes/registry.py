"""Name → pass class, resolved lazily so that importing :mod:`aedc.passes` imports no pass module.

Passes are registered as ``"module:Class"`` strings; a module is imported only when its pass is first
asked for. Pass modules must therefore import heavy dependencies (JAX, OR-Tools) inside ``apply``,
never at module level. This package registers only the IR-to-IR passes it owns; every later stage
registers its own (:func:`register_lazy`, called by :mod:`aedc.stages` when ``aedc`` is imported), so
nothing here names a stage above it. Users add their own passes with :func:`register_pass`.
"""

from __future__ import annotations

import importlib
from typing import TypeVar

from aedc.errors import PipelineError
from aedc.passes.base import Pass, check_pass_class

BUILTIN_PASSES: dict[str, str] = {
    "verify": "aedc.passes.verify:VerifyPass",
    "fold-scale": "aedc.passes.fusion:FoldScale",
    "fuse-affine": "aedc.passes.fusion:FuseAffine",
    "dce": "aedc.passes.dce:DeadCodeElimination",
}
"""The passes shipped with aedc, name → ``"module:Class"``: this package's own here, the later stages'
added by :func:`register_lazy`."""


def register_lazy(name: str, target: str) -> None:
    """Register a shipped pass by ``"module:Class"`` without importing it (how a stage registers its
    passes; the class is imported and checked on first use)."""
    module, sep, attr = target.partition(":")
    if not sep or not module or not attr:
        raise PipelineError(f"pass '{name}': target {target!r} is not 'module:Class'", where=name)
    if BUILTIN_PASSES.get(name, target) != target:
        raise PipelineError(f"a shipped pass named '{name}' is already registered as "
                            f"{BUILTIN_PASSES[name]}", where=name)
    BUILTIN_PASSES[name] = target

_user: dict[str, type[Pass]] = {}
_loaded: dict[str, type[Pass]] = {}

P = TypeVar("P", bound=type[Pass])


def register_pass(cls: P, *, replace: bool = False) -> P:
    """Make ``cls`` available by its ``name`` in pipelines; usable as a class decorator.

    Registering a name that is already taken (built-in or user) is a :class:`PipelineError` unless
    ``replace=True``.
    """
    check_pass_class(cls)
    if not replace and (cls.name in BUILTIN_PASSES or cls.name in _user) and _user.get(cls.name) is not cls:
        raise PipelineError(f"a pass named '{cls.name}' is already registered; pass replace=True to "
                            "override it", where=cls.name)
    _user[cls.name] = cls
    return cls


def unregister_pass(name: str) -> None:
    """Remove a user-registered pass (built-ins cannot be removed)."""
    if name not in _user:
        raise PipelineError(f"no user pass named '{name}' is registered", where=name)
    del _user[name]


def pass_names() -> tuple[str, ...]:
    """All registered pass names, sorted."""
    return tuple(sorted(set(BUILTIN_PASSES) | set(_user)))


def get_pass(name: str) -> type[Pass]:
    """The pass class registered as ``name`` (importing its module on first use)."""
    if name in _user:
        return _user[name]
    if name in _loaded:
        return _loaded[name]
    if name not in BUILTIN_PASSES:
        raise PipelineError(f"unknown pass '{name}'; available passes: {', '.join(pass_names())}",
                            where=name)
    module, _, attr = BUILTIN_PASSES[name].partition(":")
    cls = check_pass_class(getattr(importlib.import_module(module), attr))
    if cls.name != name:
        raise PipelineError(f"registry entry '{name}' points to {BUILTIN_PASSES[name]}, whose name is "
                            f"'{cls.name}'", where=name)
    _loaded[name] = cls
    return cls


def available_passes() -> dict[str, str]:
    """Every pass name (sorted) with its one-line help."""
    return {name: get_pass(name).help() for name in pass_names()}
