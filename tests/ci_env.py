"""Whether the suite runs in CI (``CI`` set, as ``.ci/run`` does) — imported by conftest and by tests
that run their slow cases only there (a module of its own: ``from conftest import ...`` would find
``tests/fuzz/conftest.py`` first when the whole suite is collected)."""

from __future__ import annotations

import os


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
