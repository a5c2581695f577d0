"""Partitioning and placement: PE memory model, slicing, CP-SAT placement (see DESIGN.md).

The stage's entry points::

    slicing = slice_graph(graph, machine, SliceOptions())            # the ``slices`` artifact
    placement = place(PlacementProblem(slicing), machine, solver="cpsat", seed=0)   # ``placement``

* :mod:`aedc.partition.model` — the artifacts: ``Slice``, ``SliceEdge``, ``Slicing``,
  ``MemoryBreakdown``, ``PEUsage``, ``Placement`` (``to_json``/``from_json``/``save``/``load``).
* :mod:`aedc.partition.memory` — ``slice_cost``, ``synapse_slice_cost``, ``choose_format``,
  ``pe_memory``, ``pe_budget``, the int8 weight rule and the documented byte constants.
* :mod:`aedc.partition.slicing` — ``slice_graph(graph, machine, SliceOptions()) -> Slicing``.
* :mod:`aedc.partition.place` — ``PlacementProblem`` and ``place``; every placer
  (``place_greedy``, ``place_cpsat``) implements ``place(problem, machine, *, seed, **options) ->
  Placement``; ``budget_violations``.
* :mod:`aedc.partition.objective` — the objective every placer minimises.
* :mod:`aedc.partition.passes` — the ``slice`` and ``place`` passes; :mod:`aedc.partition.report` — CLI
  tables and the PNG map.

Importing this package imports neither OR-Tools (only ``place(solver="cpsat")`` does) nor matplotlib.
"""

from aedc.partition.model import MemoryBreakdown, PEUsage, Placement, Slice, SliceEdge, Slicing
from aedc.partition.place import PlacementProblem, budget_violations, place
from aedc.partition.slicing import SliceOptions, slice_graph

__all__ = ["MemoryBreakdown", "PEUsage", "Placement", "PlacementProblem", "Slice", "SliceEdge",
           "SliceOptions", "Slicing", "budget_violations", "place", "slice_graph"]
