"""The change guard: a node leaving the config without a finished decommission, or a PF change in
place on a node not decommissioned, is refused before any node changes; the guard reads the
stack's last `nodes` output through a StackReference to the stack itself."""

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


def last_outputs(
    count: int, pf: str = "ens1np0", decommissioned: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The `nodes` output of the last update, as components/outputs.py exports it: the facts
    of a node in service, the mark of a decommissioned one."""
    facts = {"pf": pf, "pciAddress": "0000:3b:00.0", "totalVfs": 64, "vfs": 4}
    return {
        "nodes": {
            name: {"pf": pf, "decommissioned": True} if name in decommissioned else dict(facts)
            for name in (f"w{i}" for i in range(1, count + 1))
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


def test_removing_decommissioned_nodes_is_allowed_whatever_their_number() -> None:
    previous = last_outputs(4, decommissioned=("w2", "w3", "w4"))["nodes"]
    assert change_problems(config(nodes(1), lanes=1), previous) == []


@pytest.mark.parametrize("lanes", [1, 2])
def test_removing_a_node_not_decommissioned_is_refused_with_the_fix(lanes: int) -> None:
    """Even one node within maxUnavailable: after a failed delete phase the last outputs lack
    the node whose undo did not finish, so counting removals cannot keep the bound."""
    previous = last_outputs(4, decommissioned=("w4",))["nodes"]
    (problem,) = change_problems(config(nodes(4)[:2], lanes=lanes), previous)
    assert problem.startswith(
        "agilio-offload:nodes: node w3 leaves the config without a finished decommission"
    )
    assert "set its decommission: true, `pulumi up`" in problem
    assert "then remove it and `pulumi up` again" in problem


def test_a_decommission_that_did_not_finish_does_not_count() -> None:
    """The mark is true only once the decommission finished (a failed one keeps the last
    outputs, or an unknown value in a preview)."""
    previous = last_outputs(2)["nodes"]
    previous["w2"] = {"pf": "ens1np0", "decommissioned": "[unknown]"}
    (problem,) = change_problems(config(nodes(1)), previous)
    assert "node w2 leaves the config" in problem


def test_a_pf_change_in_place_is_refused_with_the_documented_path() -> None:
    (problem,) = change_problems(
        config(nodes(2, pf="ens2np0")[:1] + nodes(2)[1:]), last_outputs(2)["nodes"]
    )
    assert problem.startswith(
        "agilio-offload:nodes[0].pf: node w1's PF changes from ens1np0 to ens2np0"
    )
    assert "set nodes[0].decommission: true and `pulumi up` (undoes ens1np0)" in problem
    assert "then set pf ens2np0 with decommission: false" in problem


def test_a_pf_change_of_a_decommissioned_node_is_allowed() -> None:
    previous = last_outputs(2, decommissioned=("w1",))["nodes"]
    assert change_problems(config(nodes(2, pf="ens2np0")[:1] + nodes(2)[1:]), previous) == []


def test_decommissioning_needs_no_permission() -> None:
    decommissioned = [{**node, "decommission": True} for node in nodes(3)]
    assert change_problems(config(decommissioned), last_outputs(3)["nodes"]) == []


def test_a_refused_change_registers_no_change_step_anywhere() -> None:
    result = run_after(last_outputs(4), {"nodes": nodes(3), "rollout": {"maxUnavailable": 1}})
    assert isinstance(result.error, ChangeRefused), result.error
    assert "node w4 leaves the config without a finished decommission" in str(result.error)
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


@pytest.mark.parametrize("removed", [1, 3])
def test_removing_decommissioned_nodes_plans(removed: int) -> None:
    gone = tuple(f"w{i}" for i in range(5 - removed, 5))
    result = run_after(last_outputs(4, decommissioned=gone), {"nodes": nodes(4 - removed)})
    assert result.error is None, result.error


# --- the plan tool: the baseline's outputs are the stack's last outputs ---


def test_the_plan_refuses_a_removal_against_its_baseline_until_decommissioned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    three = write_stack(tmp_path, {"nodes": nodes(3), "rollout": {"maxUnavailable": 1}})
    two = write_stack(tmp_path, {"nodes": nodes(2), "rollout": {"maxUnavailable": 1}})
    baseline, out = tmp_path / "three", tmp_path / "two"
    assert run_plan(baseline, "--stack-file", str(three)) == 0
    assert run_plan(out, "--stack-file", str(two), "--baseline", str(baseline)) == 3
    assert "node w3 leaves the config without a finished decommission" in capsys.readouterr().err
    assert not out.exists()
    # Decommissioned first (its plan's outputs carry the mark), then removed.
    gone = [*nodes(2), {**nodes(3)[2], "decommission": True}]
    decommissioned = write_stack(tmp_path, {"nodes": gone, "rollout": {"maxUnavailable": 1}})
    step = tmp_path / "decommissioned"
    assert run_plan(step, "--stack-file", str(decommissioned), "--baseline", str(baseline)) == 0
    assert "decommissioned in their lanes" in capsys.readouterr().out
    assert run_plan(out, "--stack-file", str(two), "--baseline", str(step)) == 0
