"""AgilioNode under Pulumi mocks: the steps, their order, connections, rollout batches, facts."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pulumi.runtime import mocks as pulumi_mocks

from components.agilio_node import (
    DIAL_ERROR_LIMIT,
    HARDWARE_STEPS,
    PER_DIAL_TIMEOUT_SECONDS,
    STEPS,
    TYPE,
    parse_facts,
)
from tools.mock_engine import EchoMocks, ProgramRun, Registration, run_stack

REMOTE = "command:remote:Command"
LOCAL = "command:local:Command"


def nodes(count: int, **extra: Any) -> list[dict[str, Any]]:
    return [
        {"name": f"w{i}", "host": f"192.0.2.{i}", "pf": "ens1np0", **extra}
        for i in range(1, count + 1)
    ]


def run(overrides: dict[str, Any], mocks: pulumi_mocks.Mocks | None = None) -> ProgramRun:
    result = run_stack("dev", overrides, mocks=mocks)
    assert result.error is None, result.error
    return result


def names(urns: list[str]) -> set[str]:
    return {urn.split("::")[-1] for urn in urns}


def step(result: ProgramRun, node: str, name: str) -> Registration:
    return result.by_name(f"{node}-{name}")


def test_each_node_has_its_steps_as_children_in_runbook_order() -> None:
    result = run({"nodes": nodes(2), "rollout": {"drain": False}})
    components = {r.urn: r.name for r in result.by_type(TYPE)}
    assert sorted(components.values()) == ["w1", "w2"]
    for node in ("w1", "w2"):
        steps = [
            r
            for r in result.resources
            if components.get(r.parent or "") == node and r.type == REMOTE
        ]
        assert [r.name for r in steps] == [f"{node}-{s}" for s in STEPS]
        assert all(r.type == REMOTE for r in steps)
        for before, after in itertools.pairwise(steps):
            assert before.urn in after.depends_on, f"{after.name} does not wait for {before.name}"


def test_hardware_steps_replace_delete_first_and_undo_on_delete() -> None:
    result = run({"nodes": nodes(1), "rollout": {"drain": False}})
    preflight = step(result, "w1", "preflight")
    assert "delete" not in preflight.inputs, "preflight is read-only: nothing to undo"
    for name in ("firmware", "driver", "vfs"):
        command = step(result, "w1", name)
        assert command.options["deleteBeforeReplace"] is True
        assert "ACTION=undo" in command.inputs["delete"]
        assert "ACTION=apply" in command.inputs["create"]


def test_scripts_carry_their_parameters_quoted() -> None:
    result = run(
        {"nodes": nodes(1, vfs=12), "firmware": {"app": "flower-next", "assy": "AMDA0099"}}
    )
    vfs = step(result, "w1", "vfs").inputs["create"]
    for line in ("NODE=w1", "PF=ens1np0", "VFS=12", "APP=flower-next", "ASSY=AMDA0099"):
        assert f"\n{line}\n" in vfs
    assert "\nVFS=12\n" in step(result, "w1", "preflight").inputs["create"]  # checked first
    assert "VFS=" not in step(result, "w1", "firmware").inputs["create"]
    assert vfs.startswith("bash -c \"$(cat <<'AGILIO_OFFLOAD_SCRIPT'\n#!/usr/bin/env bash\n")


def test_connection_settings_and_sudo_for_a_non_root_user() -> None:
    host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKSNn5j5ZyVSxRe5xilD3GluiLGLdslifwzf9cNmviUE"
    result = run({"nodes": nodes(1, port=2222, user="ops", hostKey=host_key)})
    firmware = step(result, "w1", "firmware")
    assert firmware.inputs["connection"] == "[secret]"
    connection = firmware.revealed_inputs["connection"]
    assert connection["host"] == "192.0.2.1"
    assert (connection["port"], connection["user"], connection["hostKey"]) == (
        2222,
        "ops",
        host_key,
    )
    assert connection["dialErrorLimit"] == DIAL_ERROR_LIMIT
    assert connection["perDialTimeout"] == PER_DIAL_TIMEOUT_SECONDS
    assert "privateKey" not in connection  # no key configured: the SSH agent is used
    assert firmware.inputs["create"].startswith("sudo -n bash -c ")
    root = run({"nodes": nodes(1)})
    assert step(root, "w1", "firmware").inputs["create"].startswith("bash -c ")


def test_private_key_path_is_read_into_a_secret(tmp_path: Path) -> None:
    key_file = tmp_path / "id_ed25519"
    key_file.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nfrom-a-file\n")
    result = run({"nodes": nodes(1), "ssh": {"privateKeyPath": str(key_file)}})
    vfs = step(result, "w1", "vfs")
    assert vfs.revealed_inputs["connection"]["privateKey"] == key_file.read_text()
    assert "from-a-file" not in json.dumps(vfs.as_json())


def test_drain_brackets_the_hardware_steps_with_the_stack_kubeconfig() -> None:
    result = run(
        {
            "nodes": nodes(1),
            "kubernetes": {"context": "lab", "kubeconfigPath": "/etc/agilio/kubeconfig"},
        }
    )
    drain, uncordon = step(result, "w1", "drain"), step(result, "w1", "uncordon")
    assert (drain.type, uncordon.type) == (LOCAL, LOCAL)
    assert drain.inputs["create"] == (
        "kubectl --kubeconfig /etc/agilio/kubeconfig --context lab drain w1 "
        "--ignore-daemonsets --delete-emptydir-data --timeout=600s"
    )
    assert uncordon.inputs["create"].endswith("uncordon w1")
    assert names(step(result, "w1", "reload-wait").depends_on) == {"w1-drain"}
    assert names(step(result, "w1", "firmware").depends_on) == {"w1-reload-wait"}
    undo_drain = step(result, "w1", "drain-before-undo")
    restart = step(result, "w1", "device-plugin-restart")
    assert names(undo_drain.depends_on) == {"w1-vfs"}
    assert names(restart.depends_on) == {"w1-drain-before-undo"}
    assert names(uncordon.depends_on) == {"w1-device-plugin-restart"}


def test_undoing_a_node_drains_it_first_one_batch_at_a_time() -> None:
    result = run({"nodes": nodes(2), "rollout": {"maxUnavailable": 1}})
    undo_drain = step(result, "w1", "drain-before-undo")
    # Creating it changes nothing; deleting it (node removed, or destroy) drains the node.
    assert undo_drain.inputs["create"].startswith("echo ")
    assert undo_drain.inputs["delete"] == (
        "kubectl --context kind-agilio-lab drain w1 --ignore-daemonsets --delete-emptydir-data"
        " --timeout=600s"
    )
    assert "triggers" not in undo_drain.inputs  # a change never re-runs it
    # Pulumi deletes dependents first: it drains before vfs, driver and firmware are undone...
    assert names(undo_drain.depends_on) == {"w1-vfs"}
    # ...and the batch gate waits for it, so batch 2 is undone before batch 1 starts draining.
    chain = {r.name: names(r.depends_on) for r in result.resources}
    assert "w1-drain-before-undo" in chain["w1-device-plugin-restart"]
    assert chain["batch-1-done"] == {"w1-uncordon"}
    assert "batch-1-done" in chain["w2-drain"]


def test_the_device_plugin_restarts_on_the_node_after_its_vfs_change() -> None:
    result = run({"nodes": nodes(1), "rollout": {"drain": False}})
    restart = step(result, "w1", "device-plugin-restart")
    assert restart.type == LOCAL
    assert restart.inputs["create"] == (
        "kubectl --context kind-agilio-lab delete pod --namespace kube-system "
        "--selector name=sriov-device-plugin --field-selector spec.nodeName=w1 --ignore-not-found"
    )
    assert step(result, "w1", "vfs").urn in restart.depends_on
    assert restart.inputs["triggers"] == ["flower", "scan", "ens1np0", 4]


def test_kubectl_finds_a_home_relative_kubeconfig_on_every_operators_machine(
    tmp_path: Path,
) -> None:
    result = run({"nodes": nodes(1), "kubernetes": {"kubeconfigPath": "~/.kube/my lab"}})
    drain = step(result, "w1", "drain").inputs["create"]
    # The command text names no home directory, so it is the same for every operator...
    assert drain.startswith("kubectl --kubeconfig \"$HOME\"/'.kube/my lab' drain w1 ")
    # ...and the shell hands kubectl the operator's own path, in one piece.
    stand_in = tmp_path / "kubectl"
    stand_in.write_text("#!/bin/sh\nprintf '%s\\n' \"$@\"\n")
    stand_in.chmod(0o755)
    argv = subprocess.run(
        ["bash", "-c", drain],
        env={"HOME": "/home/operator", "PATH": f"{tmp_path}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert argv[:3] == ["--kubeconfig", "/home/operator/.kube/my lab", "drain"]


def first_change(result: ProgramRun, node: str) -> Registration:
    return step(result, node, "drain")


def last_step(result: ProgramRun, node: str) -> Registration:
    return step(result, node, "uncordon")


def gates(result: ProgramRun) -> dict[str, set[str]]:
    """The rollout gates (local commands at the top of the stack) and what each waits for."""
    components = {r.urn for r in result.resources if r.type.startswith("agilio-offload:index:")}
    return {
        r.name: names(r.depends_on) for r in result.by_type(LOCAL) if r.parent not in components
    }


def gate_of(result: ProgramRun, node: str) -> str:
    """The one rollout gate this node's first change waits for (besides its own preflight)."""
    (gate,) = names(first_change(result, node).depends_on) - {f"{node}-preflight"}
    return gate


def test_five_nodes_two_at_a_time_roll_out_in_three_batches() -> None:
    result = run({"nodes": nodes(5), "rollout": {"maxUnavailable": 2, "drain": True}})
    assert [gate_of(result, f"w{i}") for i in range(1, 6)] == [
        "preflight-gate",
        "preflight-gate",
        "batch-1-done",
        "batch-1-done",
        "batch-2-done",
    ]
    assert gates(result) == {
        # Every node's preflight and the cluster preflight.
        "preflight-gate": {*(f"w{i}-preflight" for i in range(1, 6)), "cluster-preflight-checks"},
        "batch-1-done": {"w1-uncordon", "w2-uncordon"},
        "batch-2-done": {"w3-uncordon", "w4-uncordon"},
    }
    assert batch_count(result) == 3


def batch_count(result: ProgramRun) -> int:
    """Longest chain of nodes whose first change waits, through a gate, for another node."""
    gate_waits = gates(result)
    depth: dict[str, int] = {}
    for component in result.by_type(TYPE):  # program order: earlier batches first
        node = component.name
        before = {
            w.rsplit("-", 1)[0]
            for w in gate_waits[gate_of(result, node)]
            if w.endswith("-uncordon")
        }
        depth[node] = 1 + max((depth[n] for n in before), default=0)
    return max(depth.values())


def test_one_batch_per_node_by_default_each_waiting_for_the_one_before() -> None:
    result = run({"nodes": nodes(3), "rollout": {"drain": False}})
    assert set(gates(result)) == {"preflight-gate", "batch-1-done", "batch-2-done"}
    # No drain or uncordon: three gates, each node's device plugin restart, the cluster
    # preflight, the Multus restart after Kube-OVN and the release's retained marker.
    assert len(result.by_type(LOCAL)) == 3 + 3 + 3
    assert names(step(result, "w1", "reload-wait").depends_on) == {"w1-preflight", "preflight-gate"}
    assert names(step(result, "w2", "reload-wait").depends_on) == {"w2-preflight", "batch-1-done"}
    assert names(step(result, "w3", "reload-wait").depends_on) == {"w3-preflight", "batch-2-done"}
    assert names(result.by_name("batch-1-done").depends_on) == {"w1-device-plugin-restart"}
    assert names(result.by_name("batch-2-done").depends_on) == {"w2-device-plugin-restart"}
    assert names(result.by_name("preflight-gate").depends_on) == {
        "w1-preflight",
        "w2-preflight",
        "w3-preflight",
        "cluster-preflight-checks",
    }


def test_a_new_pf_replaces_the_hardware_steps() -> None:
    result = run({"nodes": nodes(1), "rollout": {"drain": False}})
    for name in HARDWARE_STEPS:
        assert step(result, "w1", name).inputs["triggers"] == ["ens1np0"]
    assert "triggers" not in step(result, "w1", "preflight").inputs


def test_parse_facts_takes_the_last_json_line() -> None:
    stdout = 'agilio-offload: node w1: vfs: 4 VFs\n{"step": "vfs", "vfs": 4}\n\n'
    assert parse_facts(stdout) == {"step": "vfs", "vfs": 4}
    assert parse_facts("") == {}
    assert parse_facts("no json here\n") == {}
    assert parse_facts('["a list"]') == {}


class StdoutMocks(EchoMocks):
    """Commands answer with the facts a real node step prints last."""

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict]:
        resource_id, state = super().new_resource(args)
        if args.typ == REMOTE:
            node, _, name = args.name.rpartition("-")
            facts = {
                "firmware": {"pciAddress": "0000:3b:00.0", "firmware": "flower/nic_AMDA0099.nffw"},
                "vfs": {"pciAddress": "0000:3b:00.0", "totalVfs": 64, "vfs": 4},
            }.get(name, {})
            state["stdout"] = f"progress for {node}\n{json.dumps({'step': name, **facts})}\n"
        return resource_id, state


def test_component_facts_come_from_the_steps_json() -> None:
    result = run_stack("dev", {"nodes": nodes(1)}, preview=False, mocks=StdoutMocks())
    assert result.error is None, result.error
    (component,) = result.by_type(TYPE)
    facts = result.component_outputs[component.urn]["facts"]
    assert facts == {
        "pf": "ens1np0",
        "pciAddress": "0000:3b:00.0",
        "totalVfs": 64,
        "vfs": 4,
        "firmware": "flower/nic_AMDA0099.nffw",
    }


@pytest.mark.parametrize("drain", [True, False])
def test_preview_shows_the_pf_and_leaves_reported_facts_unknown(drain: bool) -> None:
    result = run({"nodes": nodes(1), "rollout": {"drain": drain}})
    (component,) = result.by_type(TYPE)
    assert result.component_outputs[component.urn]["facts"] == {
        "pf": "ens1np0",
        "pciAddress": "[unknown]",
        "totalVfs": "[unknown]",
        "vfs": "[unknown]",
        "firmware": "[unknown]",
    }
