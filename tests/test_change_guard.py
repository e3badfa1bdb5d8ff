"""The change guard: removing more nodes than maxUnavailable, or a PF change in place, is refused
before any node changes; the guard reads the stack's last `nodes` output through a StackReference
to the stack itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.config import StackConfig, validate_stack_config
from components.node.change_guard import ChangeRefused, change_problems
from tests.support.plan_runs import run_plan, write_stack
from tests.support.stack_config import dev_config
from tools.engine.mock_driver import EchoMocks, ProgramRun, run_stack

OWN_STACK = "organization/agilio-offload/dev"


def nodes(count: int, pf: str = "ens1np0") -> list[dict[str, Any]]:
    return [{"name": f"w{i}", "host": f"192.0.2.{i}", "pf": pf} for i in range(1, count + 1)]


def last_outputs(count: int, pf: str = "ens1np0") -> dict[str, Any]:
    """The `nodes` output of the last update, as components/outputs.py exports it."""
    return {
        "nodes": {
            f"w{i}": {"pf": pf, "pciAddress": "0000:3b:00.0", "totalVfs": 64, "vfs": 4}
            for i in range(1, count + 1)
        }
    }


def config(node_list: list[dict[str, Any]], lanes: int = 1) -> StackConfig:
    raw = {**dev_config(), "nodes": node_list, "rollout": {"maxUnavailable": lanes}}
    return validate_stack_config(raw)


def run_after(previous: dict[str, Any], overrides: dict[str, Any]) -> ProgramRun:
    return run_stack("dev", overrides, mocks=EchoMocks({OWN_STACK: previous}))


def test_the_first_update_has_nothing_to_compare() -> None:
    assert change_problems(config(nodes(3)), None) == []
    assert change_problems(config(nodes(3)), {}) == []


def test_removing_up_to_max_unavailable_nodes_is_allowed() -> None:
    previous = last_outputs(4)["nodes"]
    assert change_problems(config(nodes(3), lanes=1), previous) == []
    assert change_problems(config(nodes(2), lanes=2), previous) == []


def test_removing_more_nodes_than_max_unavailable_is_refused_with_the_fix() -> None:
    (problem,) = change_problems(config(nodes(1), lanes=1), last_outputs(4)["nodes"])
    assert "removes 3 nodes (w2, w3, w4)" in problem
    assert "rollout.maxUnavailable is 1" in problem
    assert "Remove at most 1 per `pulumi up`" in problem


def test_a_pf_change_in_place_is_refused_with_the_documented_path() -> None:
    (problem,) = change_problems(
        config(nodes(2, pf="ens2np0")[:1] + nodes(2)[1:]), last_outputs(2)["nodes"]
    )
    assert problem.startswith(
        "agilio-offload:nodes[0].pf: node w1's PF changes from ens1np0 to ens2np0"
    )
    assert "Remove the node from agilio-offload:nodes and `pulumi up`" in problem


def test_a_refused_change_registers_no_change_step_anywhere() -> None:
    result = run_after(last_outputs(4), {"nodes": nodes(1), "rollout": {"maxUnavailable": 1}})
    assert isinstance(result.error, ChangeRefused), result.error
    assert "removes 3 nodes" in str(result.error)
    names = {r.name for r in result.resources}
    # Only read-only preflights may have been registered; no gate, no drain, no hardware step.
    assert "preflight-gate" not in names
    assert not [n for n in names if n.endswith(("-drain", "-firmware", "-driver", "-vfs"))]


def test_the_guard_reads_the_stack_itself() -> None:
    result = run_after(last_outputs(2), {"nodes": nodes(2)})
    assert result.error is None, result.error
    gate = result.by_name("preflight-gate")
    # A StackReference is read, not registered: the gate depends on the read of its own stack.
    (reference,) = [urn for urn in gate.depends_on if "pulumi:pulumi:StackReference" in urn]
    assert reference.endswith(f"::{OWN_STACK}")
    assert "the change guard found nothing to refuse" in gate.inputs["create"]


@pytest.mark.parametrize("removed", [1, 2])
def test_removing_within_the_bound_plans(removed: int) -> None:
    result = run_after(
        last_outputs(4), {"nodes": nodes(4 - removed), "rollout": {"maxUnavailable": 2}}
    )
    assert result.error is None, result.error


# --- the plan tool: the baseline's outputs are the stack's last outputs ---


def test_the_plan_refuses_removing_too_many_nodes_against_its_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    three = write_stack(tmp_path, {"nodes": nodes(3), "rollout": {"maxUnavailable": 1}})
    one = write_stack(tmp_path, {"nodes": nodes(1), "rollout": {"maxUnavailable": 1}})
    baseline, out = tmp_path / "three", tmp_path / "one"
    assert run_plan(baseline, "--stack-file", str(three)) == 0
    assert run_plan(out, "--stack-file", str(one), "--baseline", str(baseline)) == 3
    assert "removes 2 nodes (w2, w3)" in capsys.readouterr().err
    assert not out.exists()
    # One node at a time is fine.
    two = write_stack(tmp_path, {"nodes": nodes(2), "rollout": {"maxUnavailable": 1}})
    assert run_plan(out, "--stack-file", str(two), "--baseline", str(baseline)) == 0
