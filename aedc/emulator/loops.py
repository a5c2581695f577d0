"""A while loop with a reverse derivative: the event executor's micro-steps when it is trained.

``lax.while_loop`` has no reverse-mode derivative, so training through the event-driven schedule used
a ``lax.scan`` over the schedule's ``max_microsteps`` with the finished micro-steps masked: every time
step then costs ``max_microsteps`` evaluations of the micro-step body, although most steps finish
after a few (Yin-Yang under TTFS coding: 1.8 micro-steps per step on average, at most 21 of 64; 8×8
digits, rate coded: 14.6, at most 31). :func:`bounded_while` runs only the micro-steps a sample needs
— forward and backward — and has the masked scan's derivative: the forward pass stores each
iteration's input carry in a ``(max_trips, …)`` buffer; the backward pass walks the stored carries in
reverse, pulling the cotangent back through one body evaluation per iteration (recomputed from the
stored carry, as ``jax.checkpoint`` would) and summing the cotangents of the body's closed-over
values. Under ``vmap`` both loops run until the slowest sample of the batch is done; the others'
iterations are masked by the batching rule of ``while_loop`` itself.

Only floating-point leaves carry cotangents; integer and boolean leaves (micro-step counters, fired
flags) are stored and replayed but not differentiated, the same as in the masked scan.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax
from jax.custom_derivatives import SymbolicZero

Array = Any
Carry = Any


def _is_float(a: Array) -> bool:
    return bool(jnp.issubdtype(jnp.result_type(a), jnp.floating))


def _zeros(a: Array) -> Array:
    return jnp.zeros_like(a) if _is_float(a) else None


def bounded_while(go: Callable[[Carry], Array], body: Callable[[Carry], Carry], init: Carry,
                  max_trips: int) -> Carry:
    """``while go(c) and trips < max_trips: c = body(c)``, reverse-differentiable.

    ``body`` may close over traced values (the step's parameters, state and input): they are hoisted
    into explicit arguments (:func:`_hoist`) so their cotangents are returned."""
    if max_trips < 1:
        return init
    closed, consts = _hoist(body, init)
    cond_closed, cond_consts = _hoist(go, init)
    return _loop(closed, cond_closed, max_trips, len(cond_consts), init, *cond_consts, *consts)


def _hoist(fun: Callable[[Carry], Any], example: Carry) -> tuple[Callable[..., Any], list[Any]]:
    """``fun`` as a function of (carry, *every value it closes over).

    :func:`jax.closure_convert` hoists only the values that may be differentiated and leaves the
    other tracers of the enclosing ``jit``/``scan``/``vmap`` (step index, integer tables) closed over,
    which then leak into the custom derivative's own traces; tracing to a jaxpr hoists all of them."""
    closed, shape = jax.make_jaxpr(fun, return_shape=True)(example)
    out_tree = jax.tree_util.tree_structure(shape)
    jaxpr = closed.jaxpr

    def converted(x: Carry, *consts: Any) -> Any:
        out = jax.core.eval_jaxpr(jaxpr, list(consts), *jax.tree_util.tree_leaves(x))
        return jax.tree_util.tree_unflatten(out_tree, out)

    return converted, list(closed.consts)


def _split(n_cond: int, args: tuple[Any, ...]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    return args[:n_cond], args[n_cond:]


@partial(jax.custom_vjp, nondiff_argnums=(0, 1, 2, 3))
def _loop(body: Callable[..., Carry], go: Callable[..., Array], max_trips: int, n_cond: int,
          init: Carry, *args: Any) -> Carry:
    cargs, bargs = _split(n_cond, args)

    def cond(c: tuple[Array, Carry]) -> Array:
        return go(c[1], *cargs) & (c[0] < max_trips)

    def step(c: tuple[Array, Carry]) -> tuple[Array, Carry]:
        return c[0] + 1, body(c[1], *bargs)

    return lax.while_loop(cond, step, (jnp.int32(0), init))[1]


def _loop_fwd(body: Callable[..., Carry], go: Callable[..., Array], max_trips: int, n_cond: int,
              init: Carry, *args: Any) -> tuple[Carry, tuple[Any, ...]]:
    unwrap = partial(jax.tree_util.tree_map, lambda p: p.value)
    init = unwrap(init)
    flags = tuple(None if a.perturbed else () for a in args[n_cond:])  # the bwd rule's static mask
    args = tuple(a.value for a in args)
    cargs, bargs = _split(n_cond, args)
    buf = jax.tree_util.tree_map(lambda a: jnp.zeros((max_trips, *jnp.shape(a)), jnp.result_type(a)),
                                 init)

    def cond(c: tuple[Array, Carry, Any]) -> Array:
        return go(c[1], *cargs) & (c[0] < max_trips)

    def step(c: tuple[Array, Carry, Any]) -> tuple[Array, Carry, Any]:
        i, x, b = c
        b = jax.tree_util.tree_map(lambda B, a: lax.dynamic_update_index_in_dim(B, a, i, 0), b, x)
        return i + 1, body(x, *bargs), b

    n, out, buf = lax.while_loop(cond, step, (jnp.int32(0), init, buf))
    return out, (n, buf, args, flags)


def _loop_bwd(body: Callable[..., Carry], go: Callable[..., Array], max_trips: int, n_cond: int,
              res: tuple[Any, ...], ct: Carry) -> tuple[Any, ...]:
    n, buf, args, flags = res
    cargs, bargs = _split(n_cond, args)
    # cotangents only for the body's floating-point arguments that are differentiated (the weights);
    # the others (step tables, inputs, neuron constants) are replayed as constants
    fmask = [_is_float(a) and f is None for a, f in zip(bargs, flags, strict=True)]
    fargs = [a for a, f in zip(bargs, fmask, strict=True) if f]

    def pull(x_i: Carry, ct_x: Carry) -> tuple[Carry, list[Array]]:
        """Cotangents of (carry, float args) of one body evaluation at the stored carry ``x_i``."""
        leaves, tree = jax.tree_util.tree_flatten(x_i)
        lmask = [_is_float(a) for a in leaves]

        def f(fl: list[Array], fa: list[Array]) -> list[Array]:
            it_l, it_a = iter(fl), iter(fa)
            x = jax.tree_util.tree_unflatten(
                tree, [next(it_l) if m else a for a, m in zip(leaves, lmask, strict=True)])
            a = [next(it_a) if m else b for b, m in zip(bargs, fmask, strict=True)]
            out = jax.tree_util.tree_leaves(body(x, *a))
            return [o for o, m in zip(out, lmask, strict=True) if m]

        fl = [a for a, m in zip(leaves, lmask, strict=True) if m]
        _, vjp = jax.vjp(f, fl, fargs)
        ct_leaves = jax.tree_util.tree_leaves(ct_x)
        g_l, g_a = vjp([c for c, m in zip(ct_leaves, lmask, strict=True) if m])
        it = iter(g_l)
        return jax.tree_util.tree_unflatten(tree, [next(it) if m else jnp.zeros_like(a)
                               for a, m in zip(leaves, lmask, strict=True)]), g_a

    def step(c: tuple[Array, Carry, list[Array]]) -> tuple[Array, Carry, list[Array]]:
        i, ct_x, acc = c
        i = i - 1
        x_i = jax.tree_util.tree_map(lambda B: lax.dynamic_index_in_dim(B, i, 0, keepdims=False), buf)
        g_x, g_a = pull(x_i, ct_x)
        return i, g_x, [s + g for s, g in zip(acc, g_a, strict=True)]

    def dense(a: Array, c: Any) -> Array:
        """The incoming cotangent as an array: zeros for symbolic zeros and non-float leaves."""
        if not _is_float(a) or isinstance(c, SymbolicZero):
            return jnp.zeros_like(a)
        return jnp.asarray(c)

    first = jax.tree_util.tree_map(lambda B: B[0], buf)
    ct_full = jax.tree_util.tree_map(dense, first, ct, is_leaf=lambda c: isinstance(c, SymbolicZero))
    _, ct_init, g_fargs = lax.while_loop(lambda c: c[0] > 0, step,
                                         (n, ct_full, [jnp.zeros_like(a) for a in fargs]))
    it = iter(g_fargs)
    g_bargs = [next(it) if m else None for m in fmask]
    ct_init = jax.tree_util.tree_map(lambda a: a if _is_float(a) else None, ct_init)
    return (ct_init, *[None] * len(cargs), *g_bargs)


_loop.defvjp(_loop_fwd, _loop_bwd, symbolic_zeros=True)
