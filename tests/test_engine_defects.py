"""The changes of issue 10 must keep the rollout's promise: at most `rollout.maxUnavailable`
nodes out of service at once, whatever the engine does with the change (tools/engine/:
creates when their dependencies are done, deletes in ScheduleDeletes' waves).

These assert the SAFE behaviour. On the branch that brought them they fail, each for the defect
it names (issue 10), until the rollout (components/node/rollout.py) fixes it. A change the program
refuses with a clear error is safe too.
"""

from __future__ import annotations

import pytest

from components.config import ConfigError
from components.node.change_guard import ChangeRefused
from tests.support.engine_scenarios import scenario
from tools import engine as er
from tools.engine import Op

HARDWARE = er.HARDWARE_STEPS


def _rollout_or_refusal(name: str, monkeypatch: pytest.MonkeyPatch) -> er.Rollout | None:
    """The change's rollout, or None when the program refuses it with a clear error."""
    try:
        old, new, bound = scenario(name, monkeypatch)
    except (ConfigError, ChangeRefused) as refusal:
        assert "maxUnavailable" in str(refusal) or "pf" in str(refusal), refusal
        return None
    return er.analyse(old, new, bound)


def _assert_within_bound(rollout: er.Rollout | None, name: str) -> None:
    if rollout is None:
        return
    assert not rollout.over_bound, (
        f"{name}: up to {rollout.worst_case} nodes out at once "
        f"({', '.join(rollout.worst_case_nodes)}), rollout.maxUnavailable is "
        f"{rollout.max_unavailable}; waves over it: {', '.join(rollout.waves_over_bound())}"
    )
    left = [d.node for d in rollout.disruptions if d.end == er.NEVER]
    assert not left, f"{name}: left drained (cordoned) at the end: {', '.join(left)}"


def test_drain_off_drains_no_node_outside_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect 1: the vanished *-drain-before-undo are deleted in one wave: every node drained."""
    _assert_within_bound(_rollout_or_refusal("drain off", monkeypatch), "drain off")


def test_destroy_undoes_within_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 13: destroy undoes in reverse with the same bound (today each undone node stays
    cordoned, so the undone nodes add up)."""
    _assert_within_bound(_rollout_or_refusal("destroy", monkeypatch), "destroy")


def test_destroy_keeps_what_the_retained_kube_ovn_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect 2: the master label and the tunnel-interface annotations must outlive destroy."""
    rollout = _rollout_or_refusal("destroy", monkeypatch)
    assert rollout is not None
    stripped = [
        d.name
        for d in rollout.plan.decisions
        if d.op is Op.DELETE
        and not d.retained
        and d.name.endswith(("-kube-ovn-master-label", "-kube-ovn-tunnel-interface"))
    ]
    assert not stripped, f"destroy deletes what the retained Kube-OVN needs: {stripped}"


def test_removing_3_nodes_keeps_max_unavailable_1(monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect 3: removed nodes are undone in parallel (their order went through kept gates)."""
    _assert_within_bound(_rollout_or_refusal("remove 3 nodes", monkeypatch), "remove 3 nodes")


def test_pf_change_undoes_the_whole_node_before_applying(monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect 4: delete-before-replace undoes each step just before its own re-create, so the
    old PF's vfs are still set when its firmware is undone and the new PF's firmware applied."""
    rollout = _rollout_or_refusal("pf change", monkeypatch)
    if rollout is None:
        return
    timings = er.run_engine(rollout.plan, er.unit_duration)
    steps = [s for s in er.all_steps(rollout.plan) if s.name.startswith("w1-")]
    undos = [
        timings[s.id].end
        for s in steps
        if s.op in (Op.DELETE, Op.DELETE_REPLACED) and s.name.removeprefix("w1-") in HARDWARE
    ]
    applies = [
        timings[s.id].start
        for s in steps
        if s.op is Op.CREATE_REPLACEMENT and s.name.removeprefix("w1-") in HARDWARE
    ]
    assert undos and applies
    assert max(undos) <= min(applies), "a hardware step of the new PF runs before the old is undone"
    _assert_within_bound(rollout, "pf change")


def test_script_change_drains_every_node_it_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect 7: a script change re-runs every hardware step (update = `create` again) but the
    drain's triggers do not see it: the hardware changes without a drain."""
    rollout = _rollout_or_refusal("script change", monkeypatch)
    assert rollout is not None
    timings = er.run_engine(rollout.plan, er.unit_duration)
    acting = [s for s in er.all_steps(rollout.plan) if s.op is not Op.SAME]
    nodes = sorted({d.name for d in rollout.plan.decisions if d.type == er.NODE_COMPONENT})
    assert nodes
    for node in nodes:
        hardware = [s for s in acting if s.name in {f"{node}-{step}" for step in HARDWARE}]
        drains = [
            s
            for s in acting
            if s.name.startswith(f"{node}-") and er.node_command(s, node).effect is er.Effect.DRAIN
        ]
        assert hardware, f"{node}: the script change re-runs no hardware step"
        assert drains, f"{node}: its hardware steps re-run without a drain"
        first_hardware = min(timings[s.id].start for s in hardware)
        assert min(timings[s.id].end for s in drains) <= first_hardware, (
            f"{node}: drained only after its hardware changed"
        )
    _assert_within_bound(rollout, "script change")
