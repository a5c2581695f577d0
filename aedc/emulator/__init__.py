"""JAX asynchronous emulator of a placed program (see DESIGN.md; issue 7)."""
