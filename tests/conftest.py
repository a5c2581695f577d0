"""Suite-wide rules. In CI (``CI`` set, as ``.ci/run`` does), a test skipped because a tool the project
installs is missing (the Arm cross-compiler, the host C compiler, import-linter) fails instead: a broken
install must not turn into a green run with the cross-compile checks silently skipped."""

from __future__ import annotations

import re
from collections.abc import Generator

import pytest
from ci_env import in_ci

PROJECT_TOOLS = re.compile(r"arm-none-eabi-gcc|host C compiler|import-linter|qemu-system-arm")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, None, None]:
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and in_ci()):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if PROJECT_TOOLS.search(reason):
        report.outcome = "failed"
        report.longrepr = f"CI: a tool the project installs is missing, so this test would skip: {reason}"
