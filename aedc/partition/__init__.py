"""Partitioning and placement: PE memory model, slicing, CP-SAT placement (see DESIGN.md; issue 4)."""
