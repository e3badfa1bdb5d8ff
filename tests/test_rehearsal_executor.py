"""The rehearsal's executor runs what the engine model decides, in the engine's order, with real
threads: dependencies first, independent chains at once, a failed step stops new steps, the
delete waves after the program, stack outputs kept as `executeRegisterResourceOutputs` keeps
them. Small hand-made plans, a recording cluster and remote (no emulated node here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from components.names import AGILIO_NODE_TYPE, LOCAL_COMMAND, REMOTE_COMMAND
from tools.engine import Resource
from tools.rehearsal.executor import CommandResult, Rehearsal
from tools.rehearsal.state import StackState

STACK = "urn:pulumi:t::p::pulumi:pulumi:Stack::p-t"


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:t::p::{type_}::{name}"


def command(
    name: str,
    create: str,
    delete: str = "",
    deps: Sequence[str] = (),
    kind: str = LOCAL_COMMAND,
    parent: str | None = None,
) -> Resource:
    inputs: dict[str, Any] = {"create": create}
    if delete:
        inputs["delete"] = delete
    if kind == REMOTE_COMMAND:
        inputs["connection"] = {"host": "192.0.2.1"}
    return Resource(
        urn=urn(kind, name),
        type=kind,
        name=name,
        parent=parent or STACK,
        depends_on=tuple(urn(LOCAL_COMMAND, d) if ":" not in d else d for d in deps),
        inputs=inputs,
    )


class RecordingCluster:
    def __init__(self) -> None:
        self.devices: list[tuple[str, int]] = []
        self.applied: list[tuple[str, str]] = []
        self.cordoned: set[str] = set()

    def env(self) -> dict[str, str]:
        return {}

    def apply_resource(self, op: str, new: Resource | None, old: Resource | None) -> None:
        self.applied.append((op, (new or old).name))  # type: ignore[union-attr]

    def set_node_devices(self, node: str, vfs: Sequence[Mapping[str, str]]) -> None:
        self.devices.append((node, len(vfs)))

    def disrupted_nodes(self) -> set[str]:
        return set(self.cordoned)


class RecordingRemote:
    def __init__(self) -> None:
        self.ran: list[tuple[str, str]] = []

    def run_on(self, node: str, connection: Mapping[str, Any], command: str) -> CommandResult:
        self.ran.append((node, command))
        return CommandResult("", "", 0 if "fail" not in command else 1)

    def vfs(self, name: str) -> list[dict[str, str]]:
        return [{"vendor": "19ee"}] * 2


def rehearsal(
    nodes: Sequence[str] = ("n1",),
) -> tuple[Rehearsal, RecordingCluster, RecordingRemote]:
    cluster, remote = RecordingCluster(), RecordingRemote()
    lines: list[str] = []
    return (
        Rehearsal(cluster, remote, remote, agilio_nodes=nodes, echo=lines.append),
        cluster,
        remote,
    )


def meet(here: Path, there: Path) -> str:
    """Succeeds only if the other side runs at the same time (gives up after 10 s)."""
    return (
        f"touch {here}; for _ in $(seq 100); do [ -e {there} ] && exit 0; sleep 0.1; done; exit 1"
    )


def test_dependencies_run_first_and_independent_chains_at_once(tmp_path: Path) -> None:
    a = command("a", meet(tmp_path / "a", tmp_path / "b"))
    b = command("b", meet(tmp_path / "b", tmp_path / "a"))
    c = command("c", "true", deps=["a", "b"])
    run, _, _ = rehearsal()
    outcome = run.run(StackState(), [a, b, c], {"x": 1})
    assert outcome.finished, outcome.failure
    steps = {s.name: s for s in outcome.provider_steps}
    assert steps["c"].start >= max(steps["a"].end, steps["b"].end)
    assert outcome.state.outputs == {"x": 1}
    assert [r.name for r in outcome.state.resources] == ["a", "b", "c"]


def test_a_failed_step_stops_new_steps_and_keeps_the_old_outputs(tmp_path: Path) -> None:
    # `a` fails only once `slow` is running, so `slow` is a step already running at the failure
    # (the order is made, not left to the scheduler; the wait is bounded at 10 s).
    started = tmp_path / "slow-started"
    a = command(
        "a", f"for _ in $(seq 1000); do [ -e {started} ] && exit 3; sleep 0.01; done; exit 4"
    )
    slow = command("slow", f"touch {started}; sleep 0.3")
    after = command("after", "true", deps=["a"])
    after_slow = command("after-slow", "true", deps=["slow"])
    gone = command("gone", "true", delete="true")
    old = StackState([gone], {"x": "old"})
    run, _, _ = rehearsal()
    outcome = run.run(old, [a, slow, after, after_slow], {"x": "new"})
    assert not outcome.finished
    assert outcome.failed_step == f"create:{a.urn}"
    ran = [s.name for s in outcome.provider_steps]
    assert "slow" in ran  # already running: it finishes
    assert "after" not in ran and "after-slow" not in ran and "gone" not in ran
    assert outcome.state.outputs == {"x": "old"}
    assert "gone" in [r.name for r in outcome.state.resources]  # not deleted
    assert "a" not in [r.name for r in outcome.state.resources]  # a failed create is not saved


def test_a_failed_delete_phase_keeps_the_new_outputs_and_the_undeleted_resource() -> None:
    keep = command("keep", "true")
    first = command("first", "true", delete="exit 1")
    second = command("second", "true", delete="true", deps=["first"])
    old = StackState([keep, first, second], {"nodes": ["c", "d"]})
    run, _, _ = rehearsal()
    outcome = run.run(old, [keep], {"nodes": ["d"]})
    assert not outcome.finished
    # second depends on first: deleted in the wave before it, then first's delete fails.
    assert [s.wave for s in outcome.provider_steps] == [1, 2]
    assert outcome.state.outputs == {"nodes": ["d"]}
    assert [r.name for r in outcome.state.resources] == ["keep", "first"]


def test_remote_deletes_run_the_old_inputs_and_feed_the_cluster_the_node_vfs() -> None:
    node = Resource(urn=urn(AGILIO_NODE_TYPE, "n1"), type=AGILIO_NODE_TYPE, name="n1", custom=False)
    vfs = command("n1-vfs", "apply", delete="undo old", kind=REMOTE_COMMAND, parent=node.urn)
    run, cluster, remote = rehearsal()
    outcome = run.run(StackState([node, vfs]), None)
    assert outcome.finished, outcome.failure
    assert remote.ran == [("n1", "undo old")]
    assert cluster.devices == [("n1", 2)]
    assert outcome.state.resources == []


def test_a_running_hardware_step_counts_its_node_as_disrupted() -> None:
    node = Resource(urn=urn(AGILIO_NODE_TYPE, "n1"), type=AGILIO_NODE_TYPE, name="n1", custom=False)
    vfs = command("n1-vfs", "apply", kind=REMOTE_COMMAND, parent=node.urn)
    run, cluster, _ = rehearsal()
    cluster.cordoned = {"n2"}  # not an Agilio node of this stack: does not count
    outcome = run.run(StackState(), [node, vfs])
    assert outcome.finished, outcome.failure
    assert outcome.peak_disrupted == 1 and outcome.peak_nodes == ["n1"]


def test_a_hardware_delete_with_no_command_touches_no_node() -> None:
    """A decommissioned node's removal: its remote steps have no `delete`, which pulumi-command
    does not even dial (remote/commandController.go `Delete`); the node is not out."""
    node = Resource(urn=urn(AGILIO_NODE_TYPE, "n1"), type=AGILIO_NODE_TYPE, name="n1", custom=False)
    vfs = command("n1-vfs", "undo", kind=REMOTE_COMMAND, parent=node.urn)
    run, _, remote = rehearsal()
    outcome = run.run(StackState([node, vfs]), None)
    assert outcome.finished, outcome.failure
    assert remote.ran == []
    assert outcome.peak_disrupted == 0, outcome.disrupted_timeline
