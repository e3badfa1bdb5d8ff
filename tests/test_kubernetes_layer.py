"""The Kubernetes layer under Pulumi mocks: every input, the chain, the provider, the pins."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

import pytest

from components import pins
from components.agilio_node import DEVICE_PLUGIN_POD_SELECTOR
from components.cluster import AGILIO_NODE_LABEL
from components.kube_ovn import deep_merge
from tools.mock_engine import ProgramRun, Registration, run_stack
from tools.plan import diff_resources

NODE_PATCH = "kubernetes:core/v1:NodePatch"
PROVIDER = "pulumi:providers:kubernetes"


@cache
def _run(overrides_json: str) -> ProgramRun:
    result = run_stack("dev", json.loads(overrides_json))
    assert result.error is None, result.error
    return result


def run(overrides: dict[str, Any] | None = None) -> ProgramRun:
    """The dev stack with `overrides` (keys as in the stack file, without the namespace)."""
    return _run(json.dumps({f"agilio-offload:{k}": v for k, v in (overrides or {}).items()}))


def named(name: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    return run(overrides).by_name(name).inputs


def kube_ovn_values(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    return named("kube-ovn-release", overrides)["values"]


def dev_kube_ovn(**changes: Any) -> dict[str, Any]:
    return {
        "iface": "ens1np0",
        "masterNodes": [{"name": "lab-control-1", "ip": "192.0.2.10"}],
        **changes,
    }


# --- SriovDevicePlugin ---


def test_device_plugin_config_is_the_runbooks() -> None:
    config_map = named("sriov-device-plugin-config")
    assert config_map["metadata"] == {"name": "sriovdp-config", "namespace": "kube-system"}
    assert json.loads(config_map["data"]["config.json"]) == {
        "resourceList": [
            {
                "resourcePrefix": "corigine.com",
                "resourceName": "agilio_sriov",
                "selectors": {"vendors": ["19ee"], "devices": ["6003"], "drivers": ["nfp_netvf"]},
            }
        ]
    }


def test_device_plugin_config_follows_the_stack_config() -> None:
    sriov = {
        "resourcePrefix": "example.org",
        "resourceName": "vf_pool",
        "vendors": ["19ee", "1da8"],
        "devices": ["6003", "3803"],
    }
    (entry,) = json.loads(
        named("sriov-device-plugin-config", {"sriov": sriov})["data"]["config.json"]
    )["resourceList"]
    assert entry["resourcePrefix"] == "example.org"
    assert entry["resourceName"] == "vf_pool"
    assert entry["selectors"] == {
        "vendors": ["19ee", "1da8"],
        "devices": ["6003", "3803"],
        "drivers": ["nfp_netvf"],
    }


def test_device_plugin_runs_the_pinned_image_on_agilio_nodes_only() -> None:
    spec = named("sriov-device-plugin-ds")["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["image"] == pins.SRIOV_DEVICE_PLUGIN_IMAGE
    assert container["image"].endswith(":v3.11.0")
    assert spec["nodeSelector"][AGILIO_NODE_LABEL] == "true"
    labels = {
        r.inputs["metadata"]["name"]: r.inputs["metadata"]["labels"]
        for r in run().by_type(NODE_PATCH)
        if AGILIO_NODE_LABEL in r.inputs["metadata"].get("labels", {})
    }
    assert labels == {
        "lab-worker-1": {AGILIO_NODE_LABEL: "true"},
        "lab-worker-2": {AGILIO_NODE_LABEL: "true"},
    }


def test_device_plugin_pods_carry_the_hash_of_their_config() -> None:
    def template_hash(overrides: dict[str, Any] | None) -> str:
        template = named("sriov-device-plugin-ds", overrides)["spec"]["template"]
        return template["metadata"]["annotations"]["agilio-offload/sriovdp-config-sha256"]

    text = named("sriov-device-plugin-config")["data"]["config.json"]
    assert template_hash(None) == hashlib.sha256(text.encode()).hexdigest()
    assert template_hash({"sriov": {"resourceName": "other_pool"}}) != template_hash(None)


# --- Multus ---


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
    assert [c.name for c in changes] == ["offload-nad-attachment"]
    assert not any(c.type.startswith("command:") for c in changes)


# --- KubeOvnOffload ---


def test_kube_ovn_is_the_pinned_v2_chart_from_the_official_repository() -> None:
    release = named("kube-ovn-release")
    assert release["chart"] == "kube-ovn-v2"
    assert release["version"] == "v1.16.2" == pins.KUBE_OVN_CHART_VERSION
    assert release["repositoryOpts"] == {"repo": "https://kubeovn.github.io/kube-ovn/"}
    assert release["namespace"] == "kube-system"


def test_kube_ovn_values_are_the_runbooks_flags() -> None:
    values = kube_ovn_values()
    assert values["features"]["enableHardwareOffload"] is True
    assert values["features"]["enableLoadbalancer"] is False
    assert values["agent"]["mirroring"]["enabled"] is False
    assert values["agent"]["interface"] == "ens1np0"
    assert values["masterNodes"] == ["192.0.2.10"]


def test_kube_ovn_master_nodes_get_kube_ovns_label() -> None:
    patch = named("lab-control-1-kube-ovn-master-label")
    assert patch["metadata"] == {"name": "lab-control-1", "labels": {"kube-ovn/role": "master"}}


def test_user_values_merge_in_under_the_offload_flags() -> None:
    user = {
        "networking": {"podNicType": "veth-pair", "tunnelType": "vxlan"},
        "features": {"enableNetworkPolicies": False},
        "agent": {"mirroring": {"enabled": True}},
    }
    values = kube_ovn_values({"kubeOvn": dev_kube_ovn(values=user)})
    assert values["networking"] == user["networking"]
    assert values["features"] == {
        "enableNetworkPolicies": False,
        "enableHardwareOffload": True,
        "enableLoadbalancer": False,
    }
    assert values["agent"] == {"mirroring": {"enabled": True}, "interface": "ens1np0"}


def test_each_agilio_node_tunnels_over_its_own_uplink() -> None:
    nodes = [
        {"name": "w1", "host": "192.0.2.1", "pf": "ens1np0"},
        {"name": "w2", "host": "192.0.2.2", "pf": "ens1np0", "uplink": "ens2np0"},
    ]
    result = run({"nodes": nodes})
    release = result.by_name("kube-ovn-release")
    assert release.inputs["values"]["agent"]["interface"] == "ens1np0"
    patches = {
        r.inputs["metadata"]["name"]: r.inputs["metadata"]["annotations"]
        for r in result.by_type(NODE_PATCH)
        if "annotations" in r.inputs["metadata"]
    }
    assert patches == {
        "w1": {"ovn.kubernetes.io/tunnel_interface": "ens1np0"},
        "w2": {"ovn.kubernetes.io/tunnel_interface": "ens2np0"},
    }
    # Set before Kube-OVN's agents start.
    annotations = {r.urn for r in result.by_type(NODE_PATCH) if r.name.endswith("-interface")}
    assert annotations <= set(release.depends_on)
    assert result.outputs["kubeOvn"]["iface"] == "ens1np0"


def test_deep_merge_replaces_leaves_and_lists_and_leaves_inputs_alone() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    override = {"a": {"c": [3]}, "e": {"f": 2}}
    assert deep_merge(base, override) == {"a": {"b": 1, "c": [3]}, "d": 1, "e": {"f": 2}}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1}


# --- chain and provider ---


def _children_of(result: ProgramRun, component: str) -> set[str]:
    urn = result.by_name(component).urn
    return {r.urn for r in result.resources if r.parent == urn}


def test_the_chain_runs_in_runbook_order() -> None:
    result = run()
    urns = {r.name: r.urn for r in result.resources}
    sriov = result.by_name("sriov-device-plugin")
    # After every node's last step (uncordon with drain on, the default of dev).
    assert {urns["lab-worker-1-uncordon"], urns["lab-worker-2-uncordon"]} <= set(sriov.depends_on)
    chain = [
        ("multus", "sriov-device-plugin"),
        ("offload-nad", "multus"),
        ("kube-ovn", "offload-nad"),
    ]
    for component, before in chain:
        depends_on = set(result.by_name(component).depends_on)
        assert _children_of(result, before) <= depends_on, (component, before)


def _kubernetes_resources(result: ProgramRun) -> list[Registration]:
    return [r for r in result.resources if r.type.startswith("kubernetes:")]


def test_every_kubernetes_resource_uses_the_stacks_provider() -> None:
    result = run()
    (provider,) = result.by_type(PROVIDER)
    resources = _kubernetes_resources(result)
    assert len(resources) == 16
    assert {r.name: r.provider for r in resources} == {r.name: provider.urn for r in resources}


def test_the_provider_takes_context_and_kubeconfig_from_config() -> None:
    kubernetes = {"context": "prod-admin", "kubeconfigPath": "~/.kube/prod"}
    (provider,) = run({"kubernetes": kubernetes}).by_type(PROVIDER)
    assert provider.inputs["context"] == "prod-admin"
    assert provider.inputs["kubeconfig"] == "~/.kube/prod"
    (default,) = run({"kubernetes": {}}).by_type(PROVIDER)
    assert "context" not in default.inputs and "kubeconfig" not in default.inputs


@pytest.mark.parametrize(
    "name",
    ["sriov-device-plugin-ds", "multus-ds"],
)
def test_no_image_is_a_moving_tag(name: str) -> None:
    spec = named(name)["spec"]["template"]["spec"]
    for container in [*spec["containers"], *spec.get("initContainers", [])]:
        tag = container["image"].rsplit(":", 1)[1]
        assert tag.startswith("v") and "latest" not in tag and "snapshot" not in tag


def test_destroy_leaves_the_clusters_network_and_the_nad_crd() -> None:
    result = run()
    retained = {r.name for r in result.resources if r.options["retainOnDelete"]}
    assert retained == {"kube-ovn-release", "multus-nad-crd"}


def test_the_node_steps_restart_exactly_the_device_plugins_pods() -> None:
    result = run()
    key, value = DEVICE_PLUGIN_POD_SELECTOR.split("=")
    template = result.by_name("sriov-device-plugin-ds").inputs["spec"]["template"]
    assert template["metadata"]["labels"][key] == value
    restart = result.by_name("lab-worker-2-device-plugin-restart").inputs["create"]
    assert f"--selector {DEVICE_PLUGIN_POD_SELECTOR}" in restart
    assert "--field-selector spec.nodeName=lab-worker-2" in restart
