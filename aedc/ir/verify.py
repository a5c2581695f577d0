"""The IR verifier: every invariant later stages rely on, with the offending population/projection named.

All problems are collected before raising, so a user sees every defect of a graph at once.
:func:`discretisation_warnings` lists what is valid but almost certainly not meant (an unstable Euler
step, time constants that look like an exporter's bug); the frontends warn with it, or refuse in strict
mode.
"""

from __future__ import annotations

import math

import numpy as np

from aedc.errors import VerifyError
from aedc.ir.connectivity import Conv1d, Conv2d, Dense, Identity, OneToOne, Pool2d, Sparse
from aedc.ir.graph import Graph, Population, Projection
from aedc.ir.neurons import TIME_CONSTANTS, InputModel
from aedc.ir.topology import zero_latency_cycle

MAX_SHOWN = 8


def _check_population(pop: Population, spike_rule: str = "binary") -> list[str]:
    errs: list[str] = []
    where = f"population '{pop.name}'"
    if any(s <= 0 for s in pop.shape) or not pop.shape:
        errs.append(f"{where}: shape {pop.shape} must be non-empty with positive sizes")
    neuron = pop.neuron
    for pname in neuron.PARAMS:
        arr = getattr(neuron, pname)
        if arr.shape != tuple(pop.shape):
            errs.append(f"{where}: parameter '{pname}' has shape {arr.shape}, population shape is "
                        f"{pop.shape}")
            continue
        if arr.dtype != np.float32:
            errs.append(f"{where}: parameter '{pname}' has dtype {arr.dtype}, expected float32")
        if not np.all(np.isfinite(arr)):
            errs.append(f"{where}: parameter '{pname}' has a NaN or infinite value")
        elif pname in TIME_CONSTANTS and np.any(arr <= 0):
            errs.append(f"{where}: parameter '{pname}' must be > 0 (min {float(arr.min())})")
    if not np.isfinite(pop.event_threshold):
        errs.append(f"{where}: event_threshold must be finite (got {pop.event_threshold})")
    if isinstance(neuron, InputModel):
        pass  # any rule: a sigma-delta input's data are the changes its sender already computed
    elif neuron.SPIKING and pop.event_rule != spike_rule:
        errs.append(f"{where}: spiking model '{neuron.model}' must use event_rule '{spike_rule}' "
                    f"(got '{pop.event_rule}'); only a spike count (Semantics.max_spikes > 1) "
                    f"rides 'graded' events")
    elif not neuron.SPIKING and pop.event_rule == "binary":
        errs.append(f"{where}: non-spiking model '{neuron.model}' emits values; use event_rule "
                    f"'graded' or 'sigma_delta'")
    return errs


def _check_projection(proj: Projection, pops: dict[str, Population]) -> list[str]:
    where = f"projection '{proj.name}' ({proj.pre} -> {proj.post})"
    errs = [f"{where}: {end} population '{name}' does not exist"
            for end, name in (("pre", proj.pre), ("post", proj.post)) if name not in pops]
    if errs:
        return errs
    pre, post = pops[proj.pre], pops[proj.post]
    if post.is_input:
        errs.append(f"{where}: input population '{post.name}' cannot receive events")
    conn = proj.conn
    weight = getattr(conn, "weight", None)
    if weight is not None and weight.dtype != np.float32:
        errs.append(f"{where}: weight has dtype {weight.dtype}, expected float32 (every stage computes "
                    f"in float32)")
    elif weight is not None and not np.all(np.isfinite(weight)):
        errs.append(f"{where}: weight has a NaN or infinite value")
    if isinstance(conn, Dense) and conn.weight.ndim != 2:
        errs.append(f"{where}: dense weight must be 2-D (post, pre), got shape {conn.weight.shape}")
        return errs
    need_in = conn.in_size()
    if need_in is not None and need_in != pre.size:
        errs.append(f"{where}: {conn.kind} expects {need_in} inputs, pre '{pre.name}' has {pre.size}")
    if isinstance(conn, Conv2d | Conv1d):
        nd = 2 if isinstance(conn, Conv2d) else 1
        if conn.weight.ndim != nd + 2:
            errs.append(f"{where}: {conn.kind} weight must be {nd + 2}-D, got {conn.weight.shape}")
            return errs
        c_out, c_in_g = conn.weight.shape[:2]
        if conn.in_shape[0] != c_in_g * conn.groups or c_out % conn.groups:
            errs.append(f"{where}: weight {conn.weight.shape} with groups={conn.groups} does not match "
                        f"{conn.in_shape[0]} input channels")
            return errs
        if min(conn.stride) < 1 or min(conn.dilation) < 1 or min(min(p) for p in conn.padding) < 0:
            errs.append(f"{where}: stride/dilation must be >= 1 and padding >= 0")
            return errs
    if isinstance(conn, Pool2d) and (min(conn.kernel) < 1 or min(conn.stride) < 1
                                     or min(min(p) for p in conn.padding) < 0):
        errs.append(f"{where}: pool kernel/stride must be >= 1 and padding >= 0")
        return errs
    if isinstance(conn, Sparse):
        n = conn.pre.size
        if (conn.post.size != n or conn.weight.size != n
                or (conn.pre.ndim, conn.post.ndim, conn.weight.ndim) != (1, 1, 1)):
            errs.append(f"{where}: sparse pre/post/weight must be 1-D of equal length")
            return errs
        if conn.pre.dtype.kind not in "iu" or conn.post.dtype.kind not in "iu":
            errs.append(f"{where}: sparse pre/post must be integer arrays, got {conn.pre.dtype} and "
                        f"{conn.post.dtype}")
            return errs
        if n and (conn.pre.min() < 0 or conn.pre.max() >= conn.n_pre or conn.post.min() < 0
                  or conn.post.max() >= conn.n_post):
            errs.append(f"{where}: sparse index out of range")
            return errs
        keys = conn.pre.astype(np.int64) * max(conn.n_post, 1) + conn.post
        if n and np.any(np.diff(keys) <= 0):
            errs.append(f"{where}: sparse synapses must be sorted by (pre, post) without duplicates")
    if isinstance(conn, OneToOne) and conn.weight.size != post.size:
        errs.append(f"{where}: one_to_one has {conn.weight.size} weights, post '{post.name}' has "
                    f"{post.size} neurons")
    if isinstance(conn, Identity) and pre.size != post.size:
        errs.append(f"{where}: identity needs equal sizes, pre has {pre.size}, post has {post.size}")
    if not isinstance(conn, Identity | OneToOne):
        out = conn.out_shape(pre.shape)
        if min(out, default=0) <= 0:
            errs.append(f"{where}: {conn.kind} produces an empty output {out}")
        elif (n_out := math.prod(int(d) for d in out)) != post.size:
            errs.append(f"{where}: {conn.kind} produces {n_out} values {out}, post "
                        f"'{post.name}' has {post.size} {post.shape}")
    return errs


def verify(graph: Graph) -> Graph:
    """Check ``graph``; return it unchanged or raise :class:`VerifyError` listing every problem."""
    errs: list[str] = []
    seen: set[str] = set()
    for pop in graph.populations:
        if pop.name in seen:
            errs.append(f"population '{pop.name}': duplicate name")
        seen.add(pop.name)
        errs += _check_population(pop, graph.semantics.spike_event_rule)
    pops = graph.pop_map()
    seen_proj: set[str] = set()
    for proj in graph.projections:
        if proj.name in seen_proj:
            errs.append(f"projection '{proj.name}': duplicate name")
        seen_proj.add(proj.name)
        errs += _check_projection(proj, pops)
    for port, pop_name in graph.outputs.items():
        if pop_name not in pops:
            errs.append(f"output '{port}': population '{pop_name}' does not exist")
    if not (graph.semantics.dt > 0 and np.isfinite(graph.semantics.dt)):
        errs.append(f"semantics: dt must be a positive finite number (got {graph.semantics.dt})")
    if not errs:
        cycle = zero_latency_cycle(graph)
        if cycle:
            errs.append("cycle without delay: " + " -> ".join(cycle)
                        + " (mark one projection as a back-edge or give it a delay)")
    if errs:
        shown = errs[:MAX_SHOWN]
        more = f"\n  ... and {len(errs) - MAX_SHOWN} more" if len(errs) > MAX_SHOWN else ""
        first = shown[0].split(":", 1)[0]
        raise VerifyError(f"graph '{graph.name}' is invalid:\n  " + "\n  ".join(shown) + more,
                          where=first)
    return graph


NORSE_EXPORT_DT = 1e-3
"""The ``dt`` Norse's NIR export uses unless told otherwise (``norse.torch.utils.export_nir.to_nir``)."""

NORSE_DEFAULT_TAUS = {0.01: "Norse's default τ_mem (tau_mem_inv = 100)",
                      0.005: "Norse's default τ_syn (tau_syn_inv = 200)"}
"""Norse's default time constants in seconds: the τ its export writes is ``dt`` times one of these."""


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _norse_hint(tau: float, dt: float) -> str | None:
    """If ``tau`` is ``dt_c × τ_default`` for Norse's export ``dt`` or the graph's, the likely fix."""
    for dt_c in dict.fromkeys((dt, NORSE_EXPORT_DT)):
        for default, what in NORSE_DEFAULT_TAUS.items():
            if math.isclose(tau, dt_c * default, rel_tol=1e-3):
                return (f"{_fmt(tau)} s = dt·{_fmt(default)} s at dt = {_fmt(dt_c)} s ({what}): "
                        f"this looks like Norse's NIR export, which writes dt/tau_inv — τ·dt — as τ. "
                        f"Likely fix: the intended value is {_fmt(tau)} / {_fmt(dt_c)} = "
                        f"{_fmt(tau / dt_c)} s; divide the node's time constants by {_fmt(dt_c)} before "
                        f"importing (on the nir.NIRGraph: node.tau = node.tau / {_fmt(dt_c)}) and import "
                        f"with dt={_fmt(dt_c)}")
    return None


def discretisation_warnings(graph: Graph) -> list[tuple[str, str]]:
    """``(population, message)`` for each time constant that is valid but almost certainly wrong.

    * Euler steps with ``dt/τ ≥ 1``: ``decay = 1 − dt/τ ≤ 0``, the state flips sign (or is wiped) every
      tick and grows without bound once ``dt/τ > 2``. The message names the population, the
      parameter, ``τ`` and ``dt`` and the fixes (a smaller ``dt``, ``discretisation="exact"``).
    * A ``τ`` of at most one tick that is ``dt`` times one of Norse's default time constants, for the
      graph's ``dt`` or Norse's export ``dt`` (1 ms): Norse LIFBox/LIFCell exports write ``τ·dt`` as
      ``τ`` (at the file's ``dt``, ``decay = 1 − 1/τ_true`` = −99 for the default 10 ms); the message
      prints the likely ``τ`` (under exact discretisation too, where the step is stable but the
      neuron forgets everything each tick). Any other unstable ``τ`` below ``dt`` gets the same hint
      with the graph's ``dt``.
    """
    sem = graph.semantics
    out: list[tuple[str, str]] = []
    for pop in graph.populations:
        for pname in pop.neuron.PARAMS:
            if pname not in TIME_CONSTANTS:
                continue
            tau = np.asarray(getattr(pop.neuron, pname), np.float64).ravel()
            if tau.size == 0 or not np.all(np.isfinite(tau) & (tau > 0)):
                continue  # the verifier reports these
            where = f"population '{pop.name}' ({pop.neuron.model}), parameter '{pname}'"
            short = np.unique(tau[tau <= sem.dt])  # a τ of a tick or less: suspicious in any case
            hint = next((h for h in (_norse_hint(float(t), sem.dt) for t in short) if h), None)
            ratio = sem.dt / tau
            bad = ratio >= 1.0
            if sem.discretisation == "euler" and np.any(bad):
                t_min = float(tau[bad].min())
                msg = (f"{where}: dt/τ = {_fmt(sem.dt / t_min)} >= 1 for {int(bad.sum())} of {tau.size} "
                       f"neuron(s) (τ = {_fmt(t_min)} s, dt = {_fmt(sem.dt)} s): the Euler decay "
                       f"1 − dt/τ = {_fmt(1 - sem.dt / t_min)} is <= 0, so the update is unstable")
                if hint:
                    msg += f". Likely cause: τ = {hint}"
                else:
                    msg += f"; use a dt below {_fmt(t_min)} s or discretisation='exact'"
                    if t_min < sem.dt:
                        msg += (f". If the file comes from Norse (which writes τ·dt as τ), the intended τ "
                                f"is probably τ/dt = {_fmt(t_min / sem.dt)} s")
                out.append((pop.name, msg))
            elif hint:
                out.append((pop.name, f"{where}: τ = {hint}"))
    return out
