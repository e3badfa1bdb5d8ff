"""The drain lease on an emulated node: a hardware step changes the node only after a fresh
drain of it in the same update (components/node/lease.py, scripts/lib-lease.sh). Every command
is the program's own (tests/support/node_steps.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.support.emulated_node.harness import EmulatedNode
from tests.support.node_steps import (
    NODE,
    apply_all,
    drained,
    fresh_token,
    must,
    numvfs_writes,
    run_step,
    undo_all,
)

if TYPE_CHECKING:
    from tests.support.emulated_node.plugin import StartNode

HINT = f"run pulumi up without --target, or add --target {NODE}-drain --target-dependents"


def refusal(step: str, what: str) -> str:
    return (
        f"agilio-offload: node {NODE}: {step}: {what}, need a fresh drain of {NODE} in this update"
    )


def test_hardware_step_without_a_lease_refuses_and_changes_nothing(node: EmulatedNode) -> None:
    must(run_step(node, "preflight"))
    before = node.written()
    for step in ("firmware", "driver", "vfs"):
        refused = run_step(node, step, drain=False)
        assert not refused.ok
        assert refused.error.startswith(refusal(step, "drain lease is missing")), refused.error
        assert refused.error.endswith(HINT), refused.error
    assert node.written() == before
    assert numvfs_writes(node) == []
    assert node.state()["card"]["firmware"] is None or "flower" not in str(
        node.state()["card"]["firmware"]
    )


def test_vfs_change_with_the_last_update_lease_refuses(node: EmulatedNode) -> None:
    """`pulumi up --target <node>-vfs` after a VF count change: the drain did not run, the
    lease on the node is the last update's, recorded for the old vfs command."""
    apply_all(node, VFS=4)
    writes = numvfs_writes(node)
    refused = run_step(node, "vfs", drain=False, VFS=8)
    assert refused.error.startswith(f"agilio-offload: node {NODE}: vfs: drain lease ")
    assert "is for another vfs command, need a fresh drain of" in refused.error, refused.error
    assert refused.error.endswith(HINT)
    assert numvfs_writes(node) == writes
    assert must(run_step(node, "vfs", VFS=8)).facts["vfs"] == 8


def test_step_rerun_with_the_lease_it_completed_with_refuses(node: EmulatedNode) -> None:
    apply_all(node, VFS=4)
    for step in ("firmware", "driver", "vfs"):
        again = run_step(node, step, drain=False, VFS=4)
        assert "was already used by" in again.error, again.error


def test_failed_step_rerun_proceeds_with_the_same_lease(start_node: StartNode) -> None:
    node = start_node(fail_once=("numvfs",))
    must(run_step(node, "preflight"))
    assert drained(node).returncode == 0
    for step in ("firmware", "driver"):
        must(run_step(node, step, drain=False))
    assert not run_step(node, "vfs", drain=False).ok
    assert must(run_step(node, "vfs", drain=False)).facts["vfs"] == 4
    assert numvfs_writes(node) == [("4", "ENOMEM"), ("4", None)]


def test_undo_needs_no_lease(node: EmulatedNode) -> None:
    apply_all(node, VFS=4)
    for path in node.state_dir().glob("drain-lease*"):
        path.unlink()
    undone = undo_all(node, VFS=4)
    assert undone["vfs"]["vfs"] == 0


def test_drained_refuses_an_old_token_for_other_commands(node: EmulatedNode) -> None:
    token = fresh_token()
    assert drained(node, token, VFS=4).returncode == 0
    # The same lease again (drained's own command changed, not the drain): nothing to refuse.
    assert drained(node, token, VFS=4).returncode == 0
    refused = drained(node, token, VFS=8)
    assert refused.returncode == 1
    assert f"drain lease {token} is the one already recorded for other step commands" in (
        refused.stderr
    )
    missing = drained(node, "", VFS=4)
    assert "drain lease token is ''" in missing.stderr
