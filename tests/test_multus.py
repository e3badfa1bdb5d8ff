"""Multus under Pulumi mocks: the pinned thick plugin, its RBAC and CRD, a fresh cluster."""

from __future__ import annotations

import json

from components.config import pins
from components.names import MULTUS_TYPE
from tests.support.kubernetes_program import named, run


def test_multus_is_the_pinned_thick_plugin_with_upstreams_host_paths() -> None:
    spec = named("multus-ds")["spec"]["template"]["spec"]
    (daemon,) = spec["containers"]
    (installer,) = spec["initContainers"]
    assert daemon["image"] == installer["image"] == pins.MULTUS_IMAGE
    assert daemon["image"].endswith(":v4.3.0-thick")
    assert daemon["command"] == ["/usr/src/multus-cni/bin/multus-daemon"]
    assert installer["command"][-2:] == ["-t", "thick"]
    host_paths = {v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
    assert host_paths == {
        "/etc/cni/net.d",
        "/opt/cni/bin",
        "/",
        "/run",
        "/var/lib/cni/multus",
        "/var/lib/kubelet",
        "/run/k8s.cni.cncf.io",
        "/run/netns/",
        "/etc/cni/multus/net.d",
    }
    config = json.loads(named("multus-daemon-config")["data"]["daemon-config.json"])
    assert config["chrootDir"] == "/hostroot"
    assert config["multusConfigFile"] == "auto"


# The rules of upstream's thick deployment (v4.3.0): what Multus may never exceed.
UPSTREAM_MULTUS_RULES = {
    ("k8s.cni.cncf.io", "*"): {"*"},
    ("", "pods"): {"get", "list", "update", "watch"},
    ("", "pods/status"): {"get", "list", "update", "watch"},
    ("", "events"): {"create", "patch", "update"},
    ("events.k8s.io", "events"): {"create", "patch", "update"},
}


def test_multus_rbac_is_no_wider_than_upstreams() -> None:
    rules = named("multus-role")["rules"]
    for rule in rules:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                allowed = UPSTREAM_MULTUS_RULES.get((group, resource)) or UPSTREAM_MULTUS_RULES.get(
                    (group, "*"), set()
                )
                assert "*" in allowed or set(rule["verbs"]) <= allowed, (group, resource)
                assert "*" not in rule["verbs"], (group, resource)
    binding = named("multus-role-binding")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "multus", "namespace": "kube-system"}
    ]


def test_multus_ships_the_network_attachment_definition_crd() -> None:
    crd = named("multus-nad-crd")
    assert crd["metadata"]["name"] == "network-attachment-definitions.k8s.cni.cncf.io"
    assert crd["spec"]["names"]["kind"] == "NetworkAttachmentDefinition"
    (version,) = crd["spec"]["versions"]
    assert version["name"] == "v1" and version["served"] and version["storage"]


# --- OffloadNAD ---


# --- a fresh cluster: Multus comes up only once Kube-OVN has written its CNI config ---


def test_the_daemon_set_has_no_readiness_wait() -> None:
    # Thick Multus with multusConfigFile auto waits ~120 s for a primary CNI config and exits;
    # Kube-OVN comes later in the chain, so a readiness wait here would fail a fresh cluster.
    metadata = named("multus-ds")["metadata"]
    assert metadata["annotations"] == {"pulumi.com/skipAwait": "true"}


def _memory_mi(quantity: str) -> int:
    assert quantity.endswith("Mi"), quantity
    return int(quantity[:-2])


def test_the_daemon_has_room_for_its_delegate_plugins() -> None:
    # Upstream's 50Mi is reported to OOM-kill thick Multus (multus-cni #1346, #1349, #1144).
    (daemon,) = named("multus-ds")["spec"]["template"]["spec"]["containers"]
    resources = daemon["resources"]
    assert _memory_mi(resources["requests"]["memory"]) >= 128
    assert _memory_mi(resources["limits"]["memory"]) >= 4 * 128
    assert resources["limits"]["cpu"] == "1"


def test_an_existing_multus_is_reused_not_recreated() -> None:
    result = run({"multus": {"install": "existing"}})
    assert not any(r.type == MULTUS_TYPE for r in result.resources)
    assert not any(r.name.startswith("multus-") for r in result.resources)
    # The NAD still comes after the device plugin.
    nad = result.by_name("offload-nad")
    assert result.by_name("sriov-device-plugin-ds").urn in nad.depends_on
