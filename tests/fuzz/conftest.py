"""Fuzz-suite configuration: hypothesis profiles and ``sys.path`` for the shared strategies.

Profiles (select with ``HYPOTHESIS_PROFILE``; the default is ``fuzz-ci``):

``fuzz-ci``  the ``make test`` budget: 1,400 hypothesis cases (+150 byte flips), about a minute.
``fuzz``     ``make fuzz``: 100,000 cases in total (each test's share is fixed, see ``fuzzlib.SHARES``).

Each fuzz test asks :func:`fuzzlib.fuzz_settings` for its share of the profile's total, so the
profile decides the total and the split stays the same.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

TESTS = Path(__file__).resolve().parent.parent
for p in (TESTS, TESTS / "fuzz"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

_COMMON = {"deadline": None, "database": None, "print_blob": True,
           "suppress_health_check": (HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture)}
settings.register_profile("fuzz-ci", max_examples=1_400, derandomize=True, **_COMMON)
settings.register_profile("fuzz", max_examples=100_000, **_COMMON)
PROFILE_NAME = os.environ.get("HYPOTHESIS_PROFILE", "fuzz-ci")


def pytest_terminal_summary(terminalreporter: object) -> None:
    """Print how the fuzz cases ended (``ok`` = compiled), so a run's case count can be recorded."""
    from fuzzlib import OUTCOMES

    if OUTCOMES:
        total = sum(OUTCOMES.values())
        parts = ", ".join(f"{k} {v:,}" for k, v in OUTCOMES.most_common())
        terminalreporter.write_line(  # type: ignore[attr-defined]
            f"fuzz ({PROFILE_NAME}): {total:,} cases ended: {parts}")
