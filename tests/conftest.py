"""Suite-wide rules and the shared mock harness.

A skipped test counts as a failure here: a test that cannot run in CI must fail loudly, never
pass silently by skipping (README "Tests").
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import hypothesis  # noqa: F401 (see below)
import pytest

# Imported here, not lazily by its pytest plugin at the end of the session: CPython 3.11.7 may
# fail compiling a module ("SystemError: AST constructor recursion depth mismatch") after a
# program run that ended in an exception, as tests/test_mock_engine.py's cycle test does.


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator:
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped tests fail this suite: {reason}"
