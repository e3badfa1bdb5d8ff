"""Suite-wide rules and the fixtures shared by several test modules.

A skipped test counts as a failure here: a test that cannot run in CI must fail loudly, never
pass silently by skipping (README "Tests").

Shared fixtures: `start_node` and `node` (an emulated Agilio node, tests/support/emulated_node/
plugin.py) and `kubectl` (the stand-in kubectl first on PATH, over a simulated cluster,
tests/support/kubectl_fixture.py).
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import hypothesis  # noqa: F401 (see below)
import pytest

from tests.support.kubectl_fixture import StandIn

# hypothesis is imported here, not lazily by its pytest plugin at the end of the session: CPython
# 3.11.7 may fail compiling a module ("SystemError: AST constructor recursion depth mismatch")
# after a program run that ended in an exception, as tests/test_mock_engine.py's cycle test does.

pytest_plugins = ("tests.support.emulated_node.plugin",)


@pytest.fixture
def kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    """The stand-in kubectl first on PATH, answering as an empty cluster until `answer(...)`."""
    return StandIn(tmp_path, monkeypatch)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator:
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped tests fail this suite: {reason}"
