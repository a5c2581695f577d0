"""Partitioning and placement: PE memory model, slicing, CP-SAT placement (see DESIGN.md; issue 4).

Public API (import from the modules; this package imports nothing, so ``import aedc.partition`` is free):

* :mod:`aedc.partition.model` — the artifacts: ``Slice``, ``SliceEdge``, ``Slicing`` (the ``slices``
  artifact), ``MemoryBreakdown``, ``PEUsage``, ``Placement`` (the ``placement`` artifact, with
  ``to_json``/``from_json``/``save``/``load``), ``PEAddress`` (re-exported from :mod:`aedc.machine`).
* :mod:`aedc.partition.memory` — ``slice_cost``, ``synapse_slice_cost``, ``choose_format``,
  ``pe_memory``, ``pe_budget`` and the documented byte constants.
* :mod:`aedc.partition.slicing` — ``slice_graph(graph, machine, SliceOptions()) -> Slicing``.
* :mod:`aedc.partition.place` — ``PlacementProblem``, ``place(problem, machine, *, solver, seed, ...)``
  and the one placer signature ``place(problem, machine, *, seed, **options) -> Placement`` implemented
  by ``place_greedy.place`` and ``place_cpsat.place``; ``budget_violations``.
* :mod:`aedc.partition.objective` — the objective every placer minimises.
* :mod:`aedc.partition.passes` — the ``slice`` and ``place`` passes; :mod:`aedc.partition.report` — CLI
  tables and the PNG map.
"""
