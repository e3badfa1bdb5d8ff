"""`python -m tools.rehearse` as a user runs it: a change rehearsed against an earlier plan
(`--baseline`, the plan tool's output directory).

The plan renders the program's commands with `pulumi up`'s own wait bounds and shows the SSH
connection as "[secret]"; a rehearsal that compared its own registrations with that as they are
found every node step changed, and reported every node redone for a change that touches none."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tools import plan, rehearse

REPO = Path(__file__).resolve().parents[1]
DEV = REPO / "stacks" / "Pulumi.dev.yaml"


def rehearsed(tmp_path: Path, stack_file: Path) -> dict[str, Any]:
    """The dev stack's plan as the baseline, then `stack_file` rehearsed against it."""
    baseline = tmp_path / "plan"
    assert plan.main(["--stack", "dev", "--out", str(baseline), "--quiet"]) == 0
    report = tmp_path / "rehearsal.json"
    argv = ["--stack", "dev", "--stack-file", str(stack_file), "--baseline", str(baseline)]
    assert rehearse.main([*argv, "--json", str(report)]) == 0
    found: dict[str, Any] = json.loads(report.read_text())
    assert found["figures"]["finished"], found["figures"]
    assert found["figures"]["endState"] == "= config", found["figures"]
    return found


def test_the_stack_rehearsed_against_its_own_plan_changes_nothing(tmp_path: Path) -> None:
    found = rehearsed(tmp_path, DEV)
    assert found["figures"]["steps"] == 0, found["figures"]


def test_a_vf_change_against_the_plan_touches_that_node_alone(tmp_path: Path) -> None:
    text = DEV.read_text()
    assert "      vfs: 8\n" in text
    changed = tmp_path / "Pulumi.dev.yaml"
    changed.write_text(text.replace("      vfs: 8\n", "      vfs: 6\n"))
    found = rehearsed(tmp_path, changed)
    nodes = {step["node"] for step in found["steps"] if step["node"]}
    assert nodes == {"lab-worker-2"}, nodes
    assert found["figures"]["peakDisrupted"] == 1, found["figures"]
