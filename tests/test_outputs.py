"""The stack outputs contract (DESIGN.md): names, values, node facts, and no secret in them."""

from __future__ import annotations

import json

from pulumi.runtime import mocks as pulumi_mocks

from components.names import DEFAULT_RESOURCE, REMOTE_COMMAND
from tests.support.json_values import all_strings
from tools.engine.mock_driver import SECRET, EchoMocks, run_program, run_stack, stack_config

VF = DEFAULT_RESOURCE
CONTRACT = {
    "sriovResource",
    "networkAttachment",
    "podAnnotations",
    "podResources",
    "nodes",
    "kubeOvn",
}


def test_the_outputs_are_the_contract_with_the_dev_values() -> None:
    outputs = run_stack("dev").outputs
    assert set(outputs) == CONTRACT
    assert outputs["sriovResource"] == VF
    assert outputs["networkAttachment"] == "default/default"
    assert outputs["podAnnotations"] == {"v1.multus-cni.io/default-network": "default/default"}
    assert outputs["podResources"] == {"requests": {VF: "1"}, "limits": {VF: "1"}}
    assert outputs["kubeOvn"] == {
        "chartVersion": "v1.16.2",
        "hwOffload": True,
        "enableLb": False,
        "iface": "ens1np0",
    }
    assert set(outputs["nodes"]) == {"lab-worker-1", "lab-worker-2"}


def test_outputs_follow_the_config() -> None:
    outputs = run_stack(
        "dev",
        {
            "agilio-offload:sriov": {"resourcePrefix": "example.org", "resourceName": "vfs"},
            "agilio-offload:nad": {"name": "offload", "namespace": "apps"},
        },
    ).outputs
    assert outputs["sriovResource"] == "example.org/vfs"
    assert outputs["podResources"]["limits"] == {"example.org/vfs": "1"}
    assert outputs["podAnnotations"] == {"v1.multus-cni.io/default-network": "apps/offload"}


class NodeStepMocks(EchoMocks):
    """After `pulumi up`: each node step printed its JSON facts line last."""

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict]:
        resource_id, state = super().new_resource(args)
        if args.typ == REMOTE_COMMAND:
            node, _, step = args.name.rpartition("-")
            total = 64 if node.endswith("1") else 48
            facts = {
                "firmware": {"pciAddress": f"0000:{node[-1]}b:00.0", "firmware": "flower/x.nffw"},
                "vfs": {"pciAddress": f"0000:{node[-1]}b:00.0", "totalVfs": total, "vfs": 4},
            }.get(step, {})
            state["stdout"] = "log line\n" + json.dumps({"step": step, **facts}) + "\n"
        return resource_id, state


def test_node_facts_come_from_each_nodes_steps() -> None:
    result = run_stack("dev", preview=False, mocks=NodeStepMocks())
    assert result.error is None, result.error
    assert result.outputs["nodes"] == {
        "lab-worker-1": {
            "pf": "ens1np0",
            "pciAddress": "0000:1b:00.0",
            "totalVfs": 64,
            "vfs": 4,
            "firmware": "flower/x.nffw",
        },
        "lab-worker-2": {
            "pf": "ens1np0",
            "pciAddress": "0000:2b:00.0",
            "totalVfs": 48,
            "vfs": 4,
            "firmware": "flower/x.nffw",
        },
    }


def test_no_output_carries_a_secret() -> None:
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n"
    config, secret_keys = stack_config("dev")
    config["agilio-offload:sshPrivateKey"] = key
    result = run_program(
        config,
        stack="dev",
        secret_keys=[*secret_keys, "agilio-offload:sshPrivateKey"],
        preview=False,
        mocks=NodeStepMocks(),
    )
    assert result.error is None, result.error
    strings = all_strings(result.outputs)
    assert strings, "the outputs should have values"
    assert SECRET not in strings  # nothing secret, so nothing needs to be marked secret
    assert not any("PRIVATE KEY" in s or "not-a-real-key" in s for s in strings)
