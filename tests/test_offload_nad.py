"""OffloadNAD under Pulumi mocks: the attachment offloaded pods use."""

from __future__ import annotations

import json

from tests.support.kubernetes_program import named, run
from tools.plan import diff_resources


def test_nad_has_the_resource_annotation_and_the_runbooks_cni_chain() -> None:
    nad = named("offload-nad-attachment")
    assert nad["apiVersion"] == "k8s.cni.cncf.io/v1"
    assert nad["kind"] == "NetworkAttachmentDefinition"
    assert nad["metadata"] == {
        "name": "default",
        "namespace": "default",
        "annotations": {"k8s.v1.cni.cncf.io/resourceName": "corigine.com/agilio_sriov"},
    }
    config = json.loads(nad["spec"]["config"])
    kube_ovn, portmap = config["plugins"]
    assert kube_ovn == {
        "type": "kube-ovn",
        "server_socket": "/run/openvswitch/kube-ovn-daemon.sock",
        "provider": "default.default.ovn",
    }
    assert portmap == {"type": "portmap", "capabilities": {"portMappings": True}}
    assert config["cniVersion"] == "0.3.1"


def test_renaming_the_nad_changes_the_nad_and_outputs_and_nothing_on_the_nodes() -> None:
    before, after = run(), run({"nad": {"name": "offload", "namespace": "apps"}})
    nad = after.by_name("offload-nad-attachment").inputs
    assert nad["metadata"]["name"] == "offload" and nad["metadata"]["namespace"] == "apps"
    assert json.loads(nad["spec"]["config"])["plugins"][0]["provider"] == "offload.apps.ovn"
    assert after.outputs["networkAttachment"] == "apps/offload"
    assert after.outputs["podAnnotations"] == {"v1.multus-cni.io/default-network": "apps/offload"}
    changes = diff_resources(
        [r.as_json() for r in before.resources], [r.as_json() for r in after.resources]
    )
    # The cluster preflight re-runs (read-only) to check the new name and namespace (issue 20).
    assert [c.name for c in changes] == ["cluster-preflight-checks", "offload-nad-attachment"]
    assert not any(c.type.startswith("command:remote") for c in changes)


# --- KubeOvnOffload ---
