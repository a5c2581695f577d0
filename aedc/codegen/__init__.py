"""Per-PE SpiNNaker2 C generation, cross-compilation and host builds (see DESIGN.md; issue 6)."""
