"""The documented counter-based hash (:func:`aedc.timing.event.counter_hash`) in plain Python integers:
the one independent oracle that the async jitter, the event policy 'random' and their tests draw from
(a module of its own, imported as ``tests/ci_env.py`` is, so the formula is written out once)."""

from __future__ import annotations

MASK = 0xFFFFFFFF


def counter_hash(a: int, b: int, c: int, d: int) -> int:
    """``h = a·0x9E3779B1 + b·0x85EBCA77 + c·0xC2B2AE3D + d·0x27D4EB2F (mod 2^32)``, then the murmur3
    finaliser's shifts and multiplies, as the contract writes it."""
    h = (a * 0x9E3779B1 + b * 0x85EBCA77 + c * 0xC2B2AE3D + d * 0x27D4EB2F) & MASK
    h ^= h >> 15
    h = (h * 0x2C1B3C6D) & MASK
    h ^= h >> 12
    h = (h * 0x297A2D39) & MASK
    return h ^ (h >> 15)
