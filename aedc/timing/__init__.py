"""The timing model both executors read: which PE runs which neuron, when every PE ticks, when every
event is used.

It is plain NumPy (no JAX, no C) so that the JAX emulator and the host runtime of the generated C are
two independent witnesses of one documented model, not one reading the other's code:

* :class:`PlacedProgram` (:mod:`aedc.timing.program`): a graph plus the PE of every neuron and the PE
  addresses (NoC hops, destination QPEs).
* :class:`Schedule` and :func:`make_plan` (:mod:`aedc.timing.schedule`): the sync / async schedules,
  per-PE tick times (period, offset, jitter), arrival times over the NoC and the source-tick ranges
  each receiver tick uses.
* :mod:`aedc.timing.event`: the contract of the event-driven schedule (``Schedule.event_driven``):
  integrate on arrival, fire at once, micro-steps within each time step, and the counter-based
  priority of its ``random`` policy; :mod:`aedc.timing.event_time` its µs time line under the PE cost
  model (:class:`aedc.machine.PECost`), from any executor's event trace.
* :class:`~aedc.timing.fanout.FanOut`: per neuron, the synapses it reaches on every PE and its
  destination QPEs — what the metrics and the time line count.
"""

from aedc.timing.event import EventPolicy, event_priority
from aedc.timing.program import PlacedProgram
from aedc.timing.schedule import Plan, Schedule, ScheduleMode, make_plan

__all__ = ["EventPolicy", "PlacedProgram", "Plan", "Schedule", "ScheduleMode", "event_priority",
           "make_plan"]
