"""CP-SAT placer (OR-Tools): slices → PEs minimising expected NoC packets per tick × hop cost.

Model (flat mode): a boolean ``x[i, p]`` per slice *i* and candidate PE *p*, exactly one per slice;
per PE the summed bytes, code and expected events stay within :class:`~aedc.partition.place.Capacity`
(memory and load-balance constraints; several slices may share a PE). The QPE coordinates of a slice
are linear in ``x``; per slice pair with traffic, ``dx ≥ |qx_i − qx_j|`` and ``dy ≥ |qy_i − qy_j|``,
and, on multi-chip machines, a chip-pair indicator per pair of chips carrying ``chip_weight × hops``.
Minimised: :func:`aedc.partition.objective.objective` exactly. The greedy placement is the hint, so the
result is never worse than the baseline.

Hierarchical mode (chosen automatically above ``flat_limit`` slices or for more than 4 chips): slices
are first assigned to chips by a greedy packing — graph order, or *columnar* order (slices by relative
position in their population, so slice *j* of each layer sits near slice *j* of the next) when that
costs less and uses no more PEs; then a large-neighbourhood search re-places, exactly with CP-SAT, the
slices inside every 2 × 2 window of QPEs of a chip while all other slices stay fixed (their traffic to
the window is a linear cost per candidate PE), sweeping the windows in a fixed order for ``rounds``
sweeps or until the solves have used ``time_limit_s`` deterministic seconds (status ``HEURISTIC``).

Bound: in both modes :func:`aedc.partition.bound.lower_bound` (a combinatorial bound valid for every
placement); in flat mode it is also a constraint of the model (the search ends once a solution reaches
it) and the reported bound is the larger of it and CP-SAT's own. A placement whose objective reaches
the bound is reported ``OPTIMAL`` whichever mode found it.

Determinism: CP-SAT runs with ``random_seed = seed``, ``num_workers = workers`` and, for more than one
worker, ``interleave_search`` (deterministic interleaving); the limits are *deterministic* times
(``max_deterministic_time``), so the same inputs give the same placement on any machine speed. A
wall-clock guard (30 × the flat limit + 30 s, 100 × a window's + 10 s) only stops runaway solves
(then, and only then, the result may depend on the speed and load of the machine).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Sequence
from typing import Any

from aedc.errors import PlacementError
from aedc.machine import Machine, PEAddress
from aedc.partition.bound import lower_bound
from aedc.partition.model import Placement
from aedc.partition.objective import edge_weight, hop_cost, objective
from aedc.partition.place import Capacity, PlacementProblem, build_placement
from aedc.partition.place_greedy import greedy_assignment


def _pair_weights(problem: PlacementProblem, ids: set[int] | None) -> dict[tuple[int, int], int]:
    pairs: dict[tuple[int, int], int] = {}
    for e in problem.slicing.edges:
        if e.src == e.dst or (ids is not None and (e.src not in ids or e.dst not in ids)):
            continue
        key = (min(e.src, e.dst), max(e.src, e.dst))
        w = edge_weight(e)
        if w:
            pairs[key] = pairs.get(key, 0) + w
    return pairs


def solve_interruptible(solver: Any, model: Any) -> Any:
    """``solver.solve(model)`` that a Ctrl-C stops at once.

    OR-Tools catches SIGINT during a solve by default (``catch_sigint_signal``) and leaves the default
    handler behind, so a Ctrl-C either sat in the solver or killed the process without cleanup (a
    hidden temp build left). Here the solver does not touch SIGINT; it runs in a worker thread (the
    solve releases the GIL, and the worker blocks the signal) while the main thread waits on an event,
    where Python delivers the KeyboardInterrupt; then the search is stopped, the worker awaited, and
    the interrupt re-raised. (Not ``Thread.join``: interrupted, it can report a running thread as
    finished, and the process then exits under the solver's threads — std::terminate.)
    """
    solver.parameters.catch_sigint_signal = False
    result: list[Any] = []
    failure: list[BaseException] = []
    done = threading.Event()

    def work() -> None:
        try:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            result.append(solver.solve(model))
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)
        finally:
            done.set()

    threading.Thread(target=work, name="aedc-cpsat", daemon=True).start()
    try:
        while not done.wait(0.05):
            pass
    except BaseException:
        while True:
            solver.stop_search()
            try:
                done.wait()
                break
            except BaseException:  # a second Ctrl-C while the search winds down: keep waiting
                continue
        raise
    if failure:
        raise failure[0]
    return result[0]


def _solve(problem: PlacementProblem, machine: Machine, ids: list[int], pes: Sequence[PEAddress],
           hint: dict[int, PEAddress], *, time_limit_s: float, workers: int, seed: int,
           window: int | None, log: bool = False, lower: int = 0) -> tuple[dict[int, PEAddress], str, int]:
    """Place slices ``ids`` on ``pes``; returns (assignment, status name, bound). ``lower`` is a valid
    lower bound on the objective (:func:`aedc.partition.bound.lower_bound`), added as a constraint: the
    search stops as soon as a solution reaches it."""
    from ortools.sat.python import cp_model

    t0 = time.perf_counter()
    cap = Capacity.of(machine, problem)
    b, c, ev = problem.bytes_(), problem.code(), problem.events()
    pairs = _pair_weights(problem, set(ids))
    m = cp_model.CpModel()
    cand: dict[int, list[int]] = {}
    for i in ids:
        if window is None:
            cand[i] = list(range(len(pes)))
        else:
            h = hint[i]
            cand[i] = [k for k, p in enumerate(pes)
                       if p.chip == h.chip and machine.qpe_hops(p.qpe, h.qpe) <= window]
    x = {(i, k): m.new_bool_var(f"x{i}_{k}") for i in ids for k in cand[i]}
    for i in ids:
        m.add_exactly_one(x[i, k] for k in cand[i])
    on_pe: dict[int, list[int]] = {}
    for i in ids:
        for k in cand[i]:
            on_pe.setdefault(k, []).append(i)
    for k, members in on_pe.items():
        if sum(int(b[i]) for i in members) > cap.bytes_:
            m.add(sum(int(b[i]) * x[i, k] for i in members) <= cap.bytes_)
        if sum(int(c[i]) for i in members) > cap.code:
            m.add(sum(int(c[i]) * x[i, k] for i in members) <= cap.code)
        if sum(int(ev[i]) for i in members) > cap.events:
            m.add(sum(int(ev[i]) * x[i, k] for i in members) <= cap.events)
    in_pair = {i for pair in pairs for i in pair}
    qx, qy = {}, {}
    for i in in_pair:
        qx[i] = m.new_int_var(1, machine.qpe_cols, f"qx{i}")
        qy[i] = m.new_int_var(1, machine.qpe_rows, f"qy{i}")
        m.add(qx[i] == sum(pes[k].qpe[0] * x[i, k] for k in cand[i]))
        m.add(qy[i] == sum(pes[k].qpe[1] * x[i, k] for k in cand[i]))
    chips = sorted({p.chip for p in pes}, key=lambda ch: (ch[1], ch[0]))
    y: dict[tuple[int, tuple[int, int]], Any] = {}
    if len(chips) > 1:
        for i in in_pair:
            for ch in chips:
                ks = [k for k in cand[i] if pes[k].chip == ch]
                v = m.new_bool_var(f"y{i}_{ch}")
                m.add(v == sum(x[i, k] for k in ks))
                y[i, ch] = v
    terms = []
    zs: dict[tuple[int, int, tuple[int, int], tuple[int, int]], Any] = {}
    ds: dict[tuple[int, int], tuple[Any, Any]] = {}
    span_x, span_y = machine.qpe_cols - 1, machine.qpe_rows - 1
    for (i, j), w in sorted(pairs.items()):
        dx = m.new_int_var(0, span_x, f"dx{i}_{j}")
        dy = m.new_int_var(0, span_y, f"dy{i}_{j}")
        ds[i, j] = (dx, dy)
        m.add(dx >= qx[i] - qx[j])
        m.add(dx >= qx[j] - qx[i])
        m.add(dy >= qy[i] - qy[j])
        m.add(dy >= qy[j] - qy[i])
        terms += [w * dx, w * dy]
        if y:
            for c1 in chips:
                for c2 in chips:
                    if c1 == c2:
                        continue
                    z = m.new_bool_var(f"z{i}_{j}_{c1}_{c2}")
                    m.add(z >= y[i, c1] + y[j, c2] - 1)
                    zs[i, j, c1, c2] = z
                    terms.append(w * problem.chip_weight * machine.chip_hops(c1, c2) * z)
    if lower > 0:
        m.add(sum(terms) >= lower)
    m.minimize(sum(terms))
    # a complete hint (every variable), so the first solution is the greedy placement itself
    index = {p: k for k, p in enumerate(pes)}
    for i in ids:
        hk = index.get(hint[i])
        for k in cand[i]:
            m.add_hint(x[i, k], k == hk)
    for i in in_pair:
        m.add_hint(qx[i], hint[i].qpe[0])
        m.add_hint(qy[i], hint[i].qpe[1])
        for ch in chips if y else ():
            m.add_hint(y[i, ch], hint[i].chip == ch)
    for (i, j, c1, c2), z in zs.items():
        m.add_hint(z, hint[i].chip == c1 and hint[j].chip == c2)
    for (i, j), (dx, dy) in ds.items():
        m.add_hint(dx, abs(hint[i].qpe[0] - hint[j].qpe[0]))
        m.add_hint(dy, abs(hint[i].qpe[1] - hint[j].qpe[1]))
    t_model = time.perf_counter() - t0
    solver = cp_model.CpSolver()
    prm = solver.parameters
    prm.random_seed = seed
    prm.num_workers = workers
    prm.interleave_search = workers > 1
    prm.max_deterministic_time = float(time_limit_s)
    prm.max_time_in_seconds = 30.0 * float(time_limit_s) + 30.0
    status = solve_interruptible(solver, m)
    name = solver.status_name(status)
    if log:
        print(f"cpsat: {len(ids)} slices, {len(x)} x-vars, {len(pairs)} pairs; model {t_model:.2f}s, "
              f"solve {solver.wall_time:.2f}s, {name}, obj {solver.objective_value:.0f}, "
              f"bound {solver.best_objective_bound:.0f}")
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return dict(hint), name, 0
    out = {}
    for i in ids:
        out[i] = next(pes[k] for k in cand[i] if solver.boolean_value(x[i, k]))
    return out, name, round(solver.best_objective_bound)


def _improve_windows(problem: PlacementProblem, machine: Machine, assignment: list[PEAddress], *,
                     rounds: int, size: int, solve_limit_s: float, seed: int,
                     budget_s: float) -> list[PEAddress]:
    """Large-neighbourhood search: re-place, with CP-SAT, the slices of every ``size × size`` window of
    QPEs of a chip (all other slices fixed), sweeping the windows in a fixed order, until ``rounds``
    sweeps are done, a sweep improves nothing, or the solves have used ``budget_s`` deterministic
    seconds (so the result does not depend on the speed of the machine)."""
    from ortools.sat.python import cp_model

    cap = Capacity.of(machine, problem)
    b, c, ev = problem.bytes_(), problem.code(), problem.events()
    nbrs: dict[int, list[tuple[int, int]]] = {}
    for (i, j), w in _pair_weights(problem, None).items():
        nbrs.setdefault(i, []).append((j, w))
        nbrs.setdefault(j, []).append((i, w))
    assignment = list(assignment)
    chips = sorted({p.chip for p in assignment}, key=lambda ch: (ch[1], ch[0]))
    chip_pes = {chip: machine.chip_pe_addresses(chip) for chip in chips}
    sx, sy = min(size, machine.qpe_cols), min(size, machine.qpe_rows)
    windows = [(x0, y0) for y0 in range(1, machine.qpe_rows - sy + 2)
               for x0 in range(1, machine.qpe_cols - sx + 2)]
    spent = 0.0
    for _ in range(rounds):
        improved = False
        for chip in chips:
            on: dict[PEAddress, list[int]] = {}
            for i, pe in enumerate(assignment):
                if pe.chip == chip:
                    on.setdefault(pe, []).append(i)
            for x0, y0 in windows:
                if spent >= budget_s:
                    return assignment
                pes = tuple(p for p in chip_pes[chip]
                            if x0 <= p.qpe[0] < x0 + sx and y0 <= p.qpe[1] < y0 + sy)
                free = [i for p in pes for i in on.get(p, ())]
                if not free:
                    continue
                fset = set(free)
                m = cp_model.CpModel()
                x = {(i, k): m.new_bool_var(f"x{i}_{k}") for i in free for k in range(len(pes))}
                for i in free:
                    m.add_exactly_one(x[i, k] for k in range(len(pes)))
                for k in range(len(pes)):
                    m.add(sum(int(b[i]) * x[i, k] for i in free) <= cap.bytes_)
                    m.add(sum(int(c[i]) * x[i, k] for i in free) <= cap.code)
                    m.add(sum(int(ev[i]) * x[i, k] for i in free) <= cap.events)
                terms: list[Any] = []
                current = 0
                qx, qy = {}, {}
                for i in free:
                    for j, w in nbrs.get(i, ()):
                        if j in fset:
                            continue
                        for k, p in enumerate(pes):
                            cost = w * hop_cost(machine, p, assignment[j], problem.chip_weight)
                            if cost:
                                terms.append(cost * x[i, k])
                        current += w * hop_cost(machine, assignment[i], assignment[j], problem.chip_weight)
                    if any(j in fset for j, _ in nbrs.get(i, ())):
                        qx[i] = m.new_int_var(1, machine.qpe_cols, f"qx{i}")
                        qy[i] = m.new_int_var(1, machine.qpe_rows, f"qy{i}")
                        m.add(qx[i] == sum(p.qpe[0] * x[i, k] for k, p in enumerate(pes)))
                        m.add(qy[i] == sum(p.qpe[1] * x[i, k] for k, p in enumerate(pes)))
                for i in free:
                    for j, w in nbrs.get(i, ()):
                        if j in fset and i < j:
                            dx = m.new_int_var(0, sx - 1, f"dx{i}_{j}")
                            dy = m.new_int_var(0, sy - 1, f"dy{i}_{j}")
                            m.add(dx >= qx[i] - qx[j])
                            m.add(dx >= qx[j] - qx[i])
                            m.add(dy >= qy[i] - qy[j])
                            m.add(dy >= qy[j] - qy[i])
                            terms += [w * dx, w * dy]
                            current += w * machine.qpe_hops(assignment[i].qpe, assignment[j].qpe)
                if not terms:
                    continue
                m.minimize(sum(terms))
                index = {p: k for k, p in enumerate(pes)}
                for i in free:
                    for k in range(len(pes)):
                        m.add_hint(x[i, k], index[assignment[i]] == k)
                solver = cp_model.CpSolver()
                prm = solver.parameters
                prm.random_seed = seed
                prm.num_workers = 1
                prm.max_deterministic_time = solve_limit_s
                prm.max_time_in_seconds = 100 * solve_limit_s + 10
                st = solve_interruptible(solver, m)
                spent += solver.deterministic_time
                if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE) or solver.objective_value >= current:
                    continue
                improved = True
                for i in free:
                    k = next(k for k in range(len(pes)) if solver.boolean_value(x[i, k]))
                    assignment[i] = pes[k]
                on = {}
                for i, pe in enumerate(assignment):
                    if pe.chip == chip:
                        on.setdefault(pe, []).append(i)
        if not improved:
            break
    return assignment


def _columnar_start(problem: PlacementProblem, machine: Machine, greedy: list[PEAddress],
                    baseline: int) -> list[PEAddress]:
    """The better of the graph-order packing and a *columnar* one (slices ordered by their relative
    position inside their population, then graph order): in layered networks slice *j* of every layer
    then lands next to slice *j* of the next, so far fewer packets cross chips. Kept only if it uses no
    more PEs than the graph order."""
    sizes: dict[str, int] = {}
    for s in problem.slicing.slices:
        sizes[s.population] = max(sizes.get(s.population, 0), s.hi)
    rank = {name: k for k, name in enumerate(sizes)}
    order = sorted(range(problem.n), key=lambda i: (problem.slicing.slices[i].lo
                                                    / sizes[problem.slicing.slices[i].population],
                                                    rank[problem.slicing.slices[i].population], i))
    try:
        col = greedy_assignment(problem, machine, order=order)
    except PlacementError:
        return list(greedy)
    if len(set(col)) > len(set(greedy)):
        return list(greedy)
    better = objective(machine, problem.slicing.edges, col, problem.chip_weight) < baseline
    return col if better else list(greedy)


def place(problem: PlacementProblem, machine: Machine, *, seed: int = 0, time_limit_s: float = 10.0,
          workers: int = 1, mode: str = "auto", flat_limit: int = 40, window: int = 2, rounds: int = 3,
          solve_limit_s: float = 0.05,
          log: bool = False, **_: Any) -> Placement:
    """CP-SAT placement (see the module docstring); ``mode`` = auto | flat | hierarchical."""
    greedy = greedy_assignment(problem, machine)
    baseline = objective(machine, problem.slicing.edges, greedy, problem.chip_weight)
    n = problem.n
    if mode == "auto":
        mode = "flat" if n <= flat_limit and len(machine.chips) <= 4 else "hierarchical"
    hint = dict(enumerate(greedy))
    lower = min(lower_bound(problem, machine), baseline)
    if mode == "flat":
        got, status, bound = _solve(problem, machine, list(range(n)), machine.pes(), hint,
                                    time_limit_s=time_limit_s, workers=workers, seed=seed, window=None,
                                    log=log, lower=lower)
        assignment = [got[i] for i in range(n)]
        solver = "cpsat"
    else:
        start = _columnar_start(problem, machine, greedy, baseline)
        assignment = _improve_windows(problem, machine, start, rounds=rounds, size=window,
                                      solve_limit_s=solve_limit_s, seed=seed, budget_s=time_limit_s)
        status, bound, solver = "HEURISTIC", 0, "cpsat-hierarchical"
    obj = objective(machine, problem.slicing.edges, assignment, problem.chip_weight)
    if obj > baseline:  # the hint was not kept (time limit before a first solution): keep the baseline
        assignment, status, obj = list(greedy), "HEURISTIC", baseline
    bound = max(bound, lower)
    if obj <= bound:  # the combinatorial bound proves what the solver could not
        status, bound = "OPTIMAL", obj
    return build_placement(problem, machine, assignment, solver=solver, status=status, bound=bound,
                           baseline_objective=baseline, seed=seed)
