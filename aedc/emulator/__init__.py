"""JAX emulator of a placed aedc program: every PE an independent event-driven process.

API::

    emu = Emulator(program_or_graph, Schedule.sync())          # or .asynchronous(...), .event_driven(...)
    res = emu.run({"input": x})                                 # x: (T, *shape) → EmulatorResult
    res.events / res.outputs / res.state / res.tick_times / res.metrics
    batch = emu.run_batch({"input": xb})                        # xb: (B, T, *shape), vmapped
    weights, fn = Emulator(g, sched, exact=False, remat=True).trainable(T)   # jax.grad(fn)

``program`` is a :class:`PlacedProgram` — a graph plus the PE of every neuron, from
:meth:`PlacedProgram.trivial` (one PE per population) or :meth:`PlacedProgram.from_placement` (the
neuron slices of :class:`aedc.partition.model.Placement`) — or a bare graph (placed trivially).

* **Timing** (:mod:`aedc.timing.schedule`): PE ``p`` starts local tick ``k`` at
  ``offset_p + k·period_p + jitter_p(k)`` µs; an event sent in tick ``k`` of PE ``s`` arrives at ``d``
  after ``link_us + hop_us·qpe_hops + chip_hop_us·chip_hops`` and is used in the first tick of ``d``
  that starts strictly after the arrival, plus the projection's delay. Sync mode is the reference
  simulator's layer-by-layer tick.
* **Event-driven** (:mod:`aedc.emulator.event_engine`, contract :mod:`aedc.timing.event`): events are
  integrated on arrival and spikes sent at once, in micro-steps within each time step (at most ``k``
  per PE per micro-step, by the arrival / momentum / random policy); ``res.microsteps[pop]`` is the
  micro-step of every event. With ``layered=True`` and ``k = 0`` it equals the reference bit for bit.
  Differentiable in fast mode (``trainable``: surrogate spikes through the micro-steps).
* **Exactness** (:mod:`aedc.emulator.engine`): exact mode (default) is bit-exact float32 — equal to
  the reference simulator in sync mode for every graph, and to the reference of the re-timed graph in
  async mode with equal periods. Fast mode (``exact=False``) equals it when every synaptic sum is exact
  in float32, else differs by rounding.
* **Metrics** (:mod:`aedc.emulator.metrics`): events per population/PE, sparsity, synaptic events,
  per-PE load, NoC packets (one per destination QPE), first-output and decision latency; under the
  event schedule also overflow, undelivered spikes, micro-steps per step and decision latency in
  (step, micro-step).
* **Sharding** (:mod:`aedc.emulator.sharded`): ``Emulator(program, schedule, mesh=...)`` or
  ``devices=N`` shards the PEs, grouped by chip, over JAX devices (``shard_map``; several processes
  after :func:`aedc.emulator.sharded.init_processes`), sync and async schedules, exact and fast; events
  that cross devices move in one ``all_to_all`` of the neurons with remote targets, every step (sync)
  or every Λ steps (async lookahead); exact mode's answers equal one device's bit for bit.
* ``aedc run BUILD --input x.npy`` (:mod:`aedc.run_report`, beside the CLI) writes traces, raster and metrics.

Not modelled: synapse PEs of fan-in splitting (their synapses are summed on the neuron's PE), router
congestion and packet loss, the PE's processing time within a tick (a tick is instantaneous at its start).
Importing this package imports JAX; ``import aedc`` does not.
"""

from aedc.emulator.emulator import Emulator, EmulatorResult
from aedc.timing.program import PlacedProgram
from aedc.timing.schedule import Schedule

__all__ = ["Emulator", "EmulatorResult", "PlacedProgram", "Schedule"]
