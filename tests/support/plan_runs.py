"""The plan tool run in-process on the dev stack or on a changed copy of its stack file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tools import plan
from tools.engine.mock_driver import stack_file


def write_stack(tmp_path: Path, changes: dict[str, Any]) -> Path:
    """A copy of the dev stack file with top-level keys of the namespace replaced."""
    document = yaml.safe_load(stack_file("dev").read_text())
    for key, value in changes.items():
        document["config"][f"agilio-offload:{key}"] = value
    path = tmp_path / f"Pulumi.dev-{len(list(tmp_path.iterdir()))}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def run_plan(out: Path, *extra: str) -> int:
    return plan.main(["--stack", "dev", "--out", str(out), *extra])
