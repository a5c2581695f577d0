"""Emulator throughput: synaptic events/s and samples/s, sync and async, against a plain NumPy loop.

Networks: a 784-512-512-10 LIF MLP (T = 100, Poisson input, weights scaled for a few % firing per tick)
and the NIR paper's cnn_sinabs.nir (profile sinabs, default pipeline, T = 20, random graded input).
Synaptic events = events sent × the synapses each reaches (spikes × fan-out, input spikes included).
Modes: ``emulator-sync-fast`` (dense matmuls, not bit-exact in general), ``emulator-sync-exact`` (the
bit-exact sequential event order; batch 1 only: it is a reference path, not a fast one),
``emulator-async-fast`` (zero jitter, one-tick links: every projection one tick later),
``emulator-async-jitter-fast`` (period 1000 µs, jitter 400 µs), ``numpy-loop`` (a plain NumPy per-tick
loop over dense matrices, layer-synchronous) and, for the MLP, ``jax-plain-scan`` (DESIGN's yardstick:
a bare jitted ``lax.scan`` dense loop, measured here on the same machine). These rows run the graph
placed trivially (one PE per population, ``"placement": "trivial"``).

Event-driven schedule against tick-async, like for like (MLP only, ``"placement": "compiled"``): the
default pipeline's graph on ``PlacedProgram.from_placement`` of its placement (tens of PEs), at batch 64
in fast mode and at batch 1 in exact mode (as the exact sync row): ``emulator-async-*`` (the tick-async
schedule above) and ``emulator-event-k0`` (every candidate fires), ``-k0-layered``, ``-k4-arrival``,
``-k4-momentum`` (``Schedule.event_driven``, ``max_microsteps`` 64). Each event row has
``vs_tick_async`` (its time / the compiled tick-async time, same batch and exactness),
``vs_tick_async_trivial`` (/ the trivially placed one, fast only) and ``event``: micro-steps per step
(mean, max), overflow and undelivered spikes (per sample), spikes per sample and the decision
``(step, micro-step)`` (mean over the batch and sample 0) from the emulator's event metrics.

Times are the best of ``REPEATS`` runs after one warm-up (compile excluded; compile time, i.e. host
tables + XLA compile + the first run, reported separately). Writes benchmarks/results/emulator.json + .png.

Run: ``.venv/bin/python benchmarks/bench_emulator.py [--quick]``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aedc.frontend.builder import Network  # noqa: E402
from aedc.ir import Graph  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
REPEATS = 3


def mlp(seed: int = 0) -> Graph:
    rng = np.random.default_rng(seed)
    net = Network("mlp", dt=1e-3)
    sizes = (784, 512, 512, 10)
    net.input("in", sizes[0])
    prev = "in"
    for i, n in enumerate(sizes[1:]):
        name = f"l{i + 1}"
        net.population(name, n, "lif", tau=0.01, r=1.0, v_leak=0.0, v_threshold=1.0, v_reset=0.0)
        fan_in = sizes[i]
        w = rng.normal(0.4, 1.0, (n, fan_in)) * (3.0 / np.sqrt(fan_in))
        net.dense(prev, name, w.astype(np.float32))
        prev = name
    net.output("out", prev)
    return net.build()


def cnn() -> Graph:
    from aedc.frontend.nir_import import from_nir
    from aedc.passes import CompileState, PassContext, PassManager
    from aedc.passes.pipelines import DEFAULT_PIPELINE

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = from_nir(ROOT / "tests" / "data" / "nir_paper" / "02_cnn" / "cnn_sinabs.nir",
                     profile="sinabs")
    return PassManager(DEFAULT_PIPELINE).run(CompileState(graph=g), PassContext()).graph


def inputs(graph: Graph, B: int, T: int, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for name in graph.inputs:
        pop = graph.population(name)
        if pop.event_rule == "binary":
            out[name] = (rng.random((B, T, *pop.shape)) < 0.03).astype(np.float32)
        else:
            mask = rng.random((B, T, *pop.shape)) < 0.05
            out[name] = (mask * rng.uniform(0, 2, (B, T, *pop.shape))).astype(np.float32)
    return out


def numpy_loop(graph: Graph, x: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Plain layer-synchronous NumPy loop: dense matrices, Euler LIF / IF, float32, whole batch."""
    from aedc.ir import topo_order
    from aedc.reference import neuron_constants

    pops = graph.pop_map()
    mats = {}
    for pr in graph.projections:
        i, j, w = pr.conn.to_coo(pops[pr.pre].shape, pops[pr.post].shape)
        m = np.zeros((pops[pr.pre].size, pops[pr.post].size), np.float32)
        np.add.at(m, (i, j), w)
        mats[pr.name] = m
    B, T = next(iter(x.values())).shape[:2]
    order = topo_order(graph)
    consts = {n: neuron_constants(pops[n].neuron, graph.semantics) for n in order if not pops[n].is_input}
    v = {n: np.zeros((B, pops[n].size), np.float32) for n in consts}
    events = {n: np.zeros((B, T, pops[n].size), np.float32) for n in order}
    sem = graph.semantics
    for t in range(T):
        cur: dict[str, np.ndarray] = {}
        for n in order:
            if pops[n].is_input:
                cur[n] = x[n][:, t].reshape(B, -1)
                events[n][:, t] = cur[n]
                continue
            acc = np.zeros((B, pops[n].size), np.float32)
            for pr in graph.incoming(n):
                acc += cur[pr.pre] @ mats[pr.name]
            c = consts[n]
            nrn = pops[n].neuron
            xin = acc + nrn.bias.ravel()
            if "decay" in c:
                vn = c["decay"].ravel() * v[n] + c["gain"].ravel() * xin + c["leak"].ravel()
            else:
                vn = v[n] + c["gain"].ravel() * xin
            th = nrn.v_threshold.ravel()  # type: ignore[union-attr]
            z = vn >= th if sem.threshold_cmp == ">=" else vn > th
            vn = np.where(z, vn - th, vn) if sem.reset == "subtract" else np.where(
                z, nrn.v_reset.ravel(), vn)  # type: ignore[union-attr]
            v[n] = vn.astype(np.float32)
            cur[n] = z.astype(np.float32)
            events[n][:, t] = cur[n]
    return events


def plain_scan(graph: Graph) -> Any:
    """The DESIGN yardstick: a plain jitted ``lax.scan`` dense loop (MLP only; same LIF, no emulator
    machinery: no PEs, no ring buffers, no fences)."""
    import jax
    import jax.numpy as jnp

    from aedc.reference import neuron_constants

    projs = graph.projections
    mats = [jnp.asarray(np.asarray(p.conn.weight).T) for p in projs]  # type: ignore[union-attr]
    consts = [neuron_constants(graph.population(p.post).neuron, graph.semantics) for p in projs]

    def run(x: Any) -> Any:
        def step(vs: Any, xt: Any) -> Any:
            z, nv, out = xt, [], []
            for W, c, v in zip(mats, consts, vs, strict=True):
                v = c["decay"] * v + c["gain"] * (z @ W) + c["leak"]
                s = (v > 1.0).astype(jnp.float32)
                v = jnp.where(s > 0, 0.0, v)
                nv.append(v)
                out.append(s)
                z = s
            return nv, out

        vs = [jnp.zeros((x.shape[0], W.shape[1]), jnp.float32) for W in mats]
        return jax.lax.scan(step, vs, jnp.swapaxes(x, 0, 1))[1]

    return jax.jit(run)


def synaptic_events(graph: Graph, events: dict[str, np.ndarray]) -> int:
    total = 0
    for pr in graph.projections:
        fan = graph.synapses(pr) / max(graph.population(pr.pre).size, 1)
        total += int(np.count_nonzero(events[pr.pre]) * fan)
    return total


def best(fn: Any) -> float:
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench(name: str, graph: Graph, T: int, batches: tuple[int, ...], quick: bool) -> list[dict[str, Any]]:
    from aedc.emulator import Emulator, Schedule

    modes = {
        "emulator-sync-fast": (Schedule.sync(), False),
        "emulator-async-fast": (Schedule.asynchronous(period_us=1000, link_us=100), False),
        "emulator-async-jitter-fast": (Schedule.asynchronous(period_us=1000, jitter_us=400, link_us=100,
                                                             seed=0), False),
        "emulator-sync-exact": (Schedule.sync(), True),
    }
    rows = []
    for B in batches:
        x = inputs(graph, B, T)
        for mode, (sched, exact) in modes.items():
            if exact and (B > 1 or quick):
                continue
            emu = Emulator(graph, sched, exact=exact, record_state=False)
            comp, fn = emu.compiled(T)
            data = {k: v.reshape(B, T, -1) for k, v in x.items()}
            t0 = time.perf_counter()
            out = fn(comp.params, data)
            _ = [np.asarray(o["events"]) for o in out.values()]
            compile_s = time.perf_counter() - t0

            def run(fn: Any = fn, comp: Any = comp, data: Any = data) -> None:
                o = fn(comp.params, data)
                for v in o.values():
                    v["events"].block_until_ready()

            secs = best(run)
            ev = {k: np.asarray(v["events"]) for k, v in out.items()}
            syn = synaptic_events(graph, ev)
            rows.append(_row(name, mode, B, T, secs, syn, ev, graph, compile_s))
            print(f"{name:5s} B={B:3d} {mode:28s} {secs * 1e3:9.1f} ms  {syn / secs:10.3e} ev/s  "
                  f"{B / secs:9.1f} samples/s  (compile {compile_s:.1f} s)", flush=True)
        if name == "mlp":
            f = plain_scan(graph)
            xin = x[graph.inputs[0]].reshape(B, T, -1)
            out_ps = f(xin)
            secs = best(lambda f=f, xin=xin: [o.block_until_ready() for o in f(xin)])
            ev = {graph.inputs[0]: xin, **{p.post: np.asarray(o).swapaxes(0, 1)
                                           for p, o in zip(graph.projections, out_ps, strict=True)}}
            syn = synaptic_events(graph, ev)
            rows.append(_row(name, "jax-plain-scan", B, T, secs, syn, ev, graph, 0.0))
            print(f"{name:5s} B={B:3d} {'jax-plain-scan':28s} {secs * 1e3:9.1f} ms  {syn / secs:10.3e} "
                  f"ev/s  {B / secs:9.1f} samples/s", flush=True)
        t0 = time.perf_counter()
        ev = numpy_loop(graph, x)
        secs = time.perf_counter() - t0
        if secs < 5.0:  # slow NumPy runs are timed once
            secs = min(secs, best(lambda x=x: numpy_loop(graph, x)))
        syn = synaptic_events(graph, ev)
        rows.append(_row(name, "numpy-loop", B, T, secs, syn, ev, graph, 0.0))
        print(f"{name:5s} B={B:3d} {'numpy-loop':28s} {secs * 1e3:9.1f} ms  {syn / secs:10.3e} ev/s  "
              f"{B / secs:9.1f} samples/s", flush=True)
    return rows


EVENT_MODES = {  # mode → Schedule.event_driven arguments
    "emulator-event-k0": {"events_per_step": 0},
    "emulator-event-k0-layered": {"events_per_step": 0, "layered": True},
    "emulator-event-k4-arrival": {"events_per_step": 4, "policy": "arrival"},
    "emulator-event-k4-momentum": {"events_per_step": 4, "policy": "momentum"},
}


def compiled_program(graph: Graph) -> Any:
    """The default pipeline's graph on its placement (:meth:`PlacedProgram.from_placement`)."""
    from aedc.emulator import PlacedProgram
    from aedc.passes import CompileState, PassContext, PassManager
    from aedc.passes.pipelines import DEFAULT_PIPELINE

    st = PassManager(DEFAULT_PIPELINE).run(CompileState(graph=graph), PassContext())
    assert st.placement is not None
    return PlacedProgram.from_placement(st.graph, st.placement)


def event_summary(res: Any, graph: Graph) -> dict[str, Any]:
    """Batch summary of the emulator's event metrics (:func:`aedc.emulator.metrics.compute_event_metrics`)."""
    met = res.metrics
    used = np.stack([m["microsteps_per_step"] for m in met])  # (B, T)
    dec = np.array([m["decision"] for m in met], np.float64)  # (B, 2); (−1, −1) without output events
    ok = dec[:, 0] >= 0
    hidden = [p.name for p in graph.populations if not p.is_input]
    spikes = sum(np.count_nonzero(res.events[n]) for n in hidden) / len(met)
    return {"microsteps_per_step_mean": float(used.mean()), "microsteps_per_step_max": int(used.max()),
            "overflow_per_sample": float(np.mean([m["overflow"] for m in met])),
            "overflow_total": int(sum(m["overflow"] for m in met)),
            "undelivered_per_sample": float(np.mean([m["undelivered"] for m in met])),
            "spikes_per_sample": float(spikes),
            "decision_mean": [float(dec[ok, 0].mean()), float(dec[ok, 1].mean())] if ok.any() else None,
            "decision_sample0": [int(v) for v in met[0]["decision"]],
            "decision_microsteps_mean": float(np.mean([m["decision_microsteps"] for m in met])),
            "samples_without_decision": int((~ok).sum()),
            # µs accounting of the PE cost model (aedc.timing.event_time)
            "decision_us_mean": float(np.mean([m["decision_us"] for m in met if m["decision_us"] >= 0]))
            if ok.any() else None,
            "decision_latency_us_mean": float(np.mean([m["decision_latency_us"] for m in met
                                                       if m["decision_latency_us"] >= 0]))
            if ok.any() else None,
            "busy_fraction_max": float(max(np.max(m["busy_fraction_per_pe"]) for m in met)),
            "makespan_max_us": float(max(m["makespan_max_us"] for m in met)),
            "queue_depth_max": int(max(m["queue_depth_max"] for m in met))}


def bench_compiled(name: str, graph: Graph, T: int, trivial_rows: list[dict[str, Any]],
                   quick: bool) -> list[dict[str, Any]]:
    """Tick-async and the event-driven schedule on the compiled placement: batch 64 fast, batch 1 exact."""
    import jax

    from aedc.emulator import Emulator, Schedule

    prog = compiled_program(graph)
    g = prog.graph
    rows: list[dict[str, Any]] = []
    for B, exact in ((64, False), (1, True)):
        if exact and quick:
            continue
        suffix = "exact" if exact else "fast"
        x = inputs(g, B, T)
        data = {k: v.reshape(B, T, -1) for k, v in x.items()}
        modes: dict[str, Any] = {"emulator-async": Schedule.asynchronous(period_us=1000, link_us=100)}
        modes.update({m: Schedule.event_driven(**kw, seed=0, max_microsteps=64)  # type: ignore[arg-type]
                      for m, kw in EVENT_MODES.items()})
        base = None
        triv = next((r for r in trivial_rows if r["network"] == name and r["batch"] == B
                     and r["mode"] == f"emulator-async-{suffix}"), None)
        for mode, sched in modes.items():
            emu = Emulator(prog, sched, exact=exact, record_state=False)
            t0 = time.perf_counter()
            comp, fn = emu.compiled(T)
            out = jax.device_get(fn(comp.params, data))
            compile_s = time.perf_counter() - t0

            def run(fn: Any = fn, comp: Any = comp, data: Any = data) -> None:
                for leaf in jax.tree_util.tree_leaves(fn(comp.params, data)):
                    leaf.block_until_ready()

            secs = best(run)
            raw = out[0] if emu.event_driven else out
            ev = {k: np.asarray(v["events"]) for k, v in raw.items()}
            syn = synaptic_events(g, ev)
            row = _row(name, f"{mode}-{suffix}", B, T, secs, syn, ev, g, compile_s)
            row.update(placement="compiled", pes=prog.n_pes)
            hidden = [p.name for p in g.populations if not p.is_input]
            row["spikes_per_sample"] = sum(np.count_nonzero(ev[n]) for n in hidden) / B
            msg = ""
            if emu.event_driven:
                row["schedule"] = {"events_per_step": sched.events_per_step, "policy": sched.policy,
                                   "layered": sched.layered, "max_microsteps": sched.max_microsteps,
                                   "seed": sched.seed}
                row["event"] = event_summary(emu.run_batch(x), g)
                assert base is not None
                row["vs_tick_async"] = secs / base
                if triv is not None:
                    row["vs_tick_async_trivial"] = secs / triv["seconds"]
                e = row["event"]
                msg = (f"  ×{row['vs_tick_async']:.2f} async  µsteps {e['microsteps_per_step_mean']:.2f}/"
                       f"{e['microsteps_per_step_max']}  overflow {e['overflow_per_sample']:.1f}  "
                       f"decision {e['decision_sample0']}")
            else:
                base = secs
            rows.append(row)
            print(f"{name:5s} B={B:3d} {row['mode'] + ' [compiled]':39s} {secs * 1e3:9.1f} ms  "
                  f"{syn / secs:10.3e} ev/s  (compile {compile_s:.1f} s){msg}", flush=True)
    return rows


def _row(net: str, mode: str, B: int, T: int, secs: float, syn: int, ev: dict[str, np.ndarray],
         graph: Graph, compile_s: float) -> dict[str, Any]:
    hidden = [p for p in graph.populations if not p.is_input]
    spikes = sum(int(np.count_nonzero(ev[p.name])) for p in hidden)
    rate = spikes / max(B * T * sum(p.size for p in hidden), 1)
    return {"network": net, "mode": mode, "batch": B, "ticks": T, "seconds": secs,
            "synaptic_events": syn, "events_per_s": syn / secs, "samples_per_s": B / secs,
            "firing_per_tick": rate, "compile_s": compile_s, "placement": "trivial"}


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    nets = sorted({r["network"] for r in rows})
    most = max(sum(r["network"] == n for r in rows) for n in nets)
    fig, axes = plt.subplots(1, len(nets), figsize=(6.5 * len(nets), max(4.0, 0.3 * most + 1.0)))
    axes = np.atleast_1d(axes)
    colours = {"trivial": "tab:blue", "compiled": "tab:green", "event": "tab:orange"}
    for ax, net in zip(axes, nets, strict=True):
        sub = [r for r in rows if r["network"] == net]
        kind = ["event" if "event" in r else r.get("placement", "trivial") for r in sub]
        labels = [f"{r['mode']}{' [compiled]' if r.get('placement') == 'compiled' else ''}\nB={r['batch']}"
                  for r in sub]
        ax.barh(range(len(sub)), [r["events_per_s"] for r in sub], color=[colours[k] for k in kind])
        for i, r in enumerate(sub):
            if "vs_tick_async" in r:
                note = f" {r['seconds'] * 1e3:.0f} ms, ×{r['vs_tick_async']:.2f} tick-async"
                ax.text(r["events_per_s"], i, note, va="center", fontsize=6)
        ax.set_yticks(range(len(sub)), labels, fontsize=6)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_xlabel("synaptic events / s")
        target = ax.axvline(1e7, color="tab:red", ls="--", lw=1, label="target 1e7")
        names = {"trivial": "one PE per population", "compiled": "tick, compiled placement",
                 "event": "event-driven, compiled placement"}
        handles = [Patch(color=c, label=names[k]) for k, c in colours.items() if k in kind]
        lo, hi = ax.get_xlim()
        ax.set_xlim(lo, hi * 10)  # room for the notes
        ax.set_title(net)
        ax.legend(handles=[*handles, target], fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.1),
                  ncol=2)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    tmp.replace(path)


def main() -> None:
    import jax

    quick = "--quick" in sys.argv
    t_start = time.perf_counter()
    rows = bench("mlp", mlp(), 100, (1, 64), quick)
    rows += bench_compiled("mlp", mlp(), 100, rows, quick)
    rows += bench("cnn", cnn(), 20, (1, 64) if not quick else (1,), quick)
    RESULTS.mkdir(parents=True, exist_ok=True)
    doc = {"benchmark": "emulator", "machine": {"platform": platform.platform(),
                                                "processor": platform.processor(),
                                                "jax": jax.__version__,
                                                "device": str(jax.devices()[0]),
                                                "cpus": os.cpu_count(),
                                                "load_average_1m": os.getloadavg()[0]},
           "repeats": REPEATS, "total_run_s": time.perf_counter() - t_start, "rows": rows}
    tmp = RESULTS / "emulator.json.tmp"
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(RESULTS / "emulator.json")
    plot(rows, RESULTS / "emulator.png")
    print(f"wrote {RESULTS / 'emulator.json'} and emulator.png")


if __name__ == "__main__":
    main()
