"""Multicast routing: keys, trees, router tables, compression, verifier (see DESIGN.md; issue 5)."""
