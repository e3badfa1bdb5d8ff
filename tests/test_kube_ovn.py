"""KubeOvnOffload under Pulumi mocks: the release, its values, node labels and annotations."""

from __future__ import annotations

from typing import Any

import pytest

from components.cluster.kube_ovn import RETAINED_RELEASE_ANNOTATION, deep_merge
from components.cluster.preflight import SCRIPT, load_cluster_script
from components.config import ConfigError, pins
from components.names import LOCAL_COMMAND
from tests.support.kubernetes_program import (
    NODE_PATCH,
    dev_kube_ovn,
    kube_ovn_values,
    named,
    run,
    run_error,
)

TUNNEL = "ovn.kubernetes.io/tunnel_interface"
RELEASE = "kubernetes:helm.sh/v3:Release"


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
    # IFACE empty: each node's node-IP NIC; the Agilio nodes' uplinks come by annotation.
    assert values["agent"]["interface"] == ""
    assert values["masterNodes"] == ["192.0.2.10"]


def test_kube_ovn_master_nodes_get_kube_ovns_label() -> None:
    patch = named("lab-control-1-kube-ovn-master-label")
    assert patch["metadata"]["name"] == "lab-control-1"
    assert patch["metadata"]["labels"] == {"kube-ovn/role": "master"}


def test_user_values_merge_in_under_the_offload_flags() -> None:
    user = {
        "networking": {"tunnelType": "vxlan", "networkType": "vxlan"},
        "features": {"enableNetworkPolicies": False},
        "agent": {"resources": {"requests": {"cpu": "500m"}}},
    }
    values = kube_ovn_values({"kubeOvn": dev_kube_ovn(values=user)})
    assert values["networking"] == user["networking"]
    assert values["features"] == {
        "enableNetworkPolicies": False,
        "enableHardwareOffload": True,
        "enableLoadbalancer": False,
    }
    assert values["agent"] == {
        "resources": {"requests": {"cpu": "500m"}},
        "mirroring": {"enabled": False},
        "interface": "",
    }


def test_each_agilio_node_tunnels_over_its_own_uplink() -> None:
    nodes = [
        {"name": "w1", "host": "192.0.2.1", "pf": "ens1np0"},
        {"name": "w2", "host": "192.0.2.2", "pf": "ens1np0", "uplink": "ens2np0"},
    ]
    result = run({"nodes": nodes})
    release = result.by_name("kube-ovn-release")
    # kubeOvn.iface is not forced onto every node (the control plane has no Agilio port).
    assert release.inputs["values"]["agent"]["interface"] == ""
    patches = {
        r.inputs["metadata"]["name"]: {TUNNEL: r.inputs["metadata"]["annotations"][TUNNEL]}
        for r in result.by_type(NODE_PATCH)
        if TUNNEL in r.inputs["metadata"].get("annotations", {})
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


# --- item 3: no forced IFACE ---


def test_without_kube_ovn_iface_no_node_is_forced_onto_a_nic_and_agilio_nodes_keep_theirs() -> None:
    nodes = [
        {"name": "w1", "host": "192.0.2.1", "pf": "ens1np0", "uplink": "ens1np0"},
        {"name": "w2", "host": "192.0.2.2", "pf": "ens3np0", "uplink": "ens3np0"},
    ]
    kube_ovn = {"masterNodes": [{"name": "lab-control-1", "ip": "192.0.2.10"}]}
    result = run({"nodes": nodes, "kubeOvn": kube_ovn})
    values = result.by_name("kube-ovn-release").inputs["values"]
    # Empty is the chart's default: every kube-ovn-cni takes its node-IP NIC.
    assert values["agent"]["interface"] == ""
    tunnels = {
        r.inputs["metadata"]["name"]: r.inputs["metadata"]["annotations"][TUNNEL]
        for r in result.by_type(NODE_PATCH)
        if TUNNEL in r.inputs["metadata"].get("annotations", {})
    }
    assert tunnels == {"w1": "ens1np0", "w2": "ens3np0"}


def test_without_kube_ovn_iface_every_agilio_node_must_name_its_uplink() -> None:
    nodes = [{"name": "w1", "host": "192.0.2.1", "pf": "ens1np0"}]
    kube_ovn = {"masterNodes": [{"name": "m1", "ip": "192.0.2.10"}]}
    error = run_error({"nodes": nodes, "kubeOvn": kube_ovn})
    assert isinstance(error, ConfigError)
    assert error.problems == [
        "agilio-offload:nodes[0].uplink: is required when kubeOvn.iface is not set (the Agilio "
        "port with the node's IP: Kube-OVN's tunnel interface on this node)"
    ]


# --- item 1: an existing Kube-OVN ---


def existing(**changes: Any) -> dict[str, Any]:
    return {"kubeOvn": {"install": "existing", "iface": "ens1np0", **changes}}


def test_an_existing_kube_ovn_gets_no_release_but_its_nodes_keep_their_tunnels() -> None:
    result = run(existing())
    assert result.by_type(RELEASE) == []
    names = {r.name for r in result.by_type(NODE_PATCH)}
    # install.sh labelled its masters itself: no master label, and masterNodes is optional.
    assert not any(name.endswith("-kube-ovn-master-label") for name in names)
    assert {"lab-worker-1-kube-ovn-tunnel-interface", "lab-worker-2-kube-ovn-tunnel-interface"} <= (
        names
    )


def test_existing_kube_ovn_refuses_chart_values() -> None:
    error = run_error(existing(values={"networking": {"enableSsl": True}}))
    assert isinstance(error, ConfigError)
    assert any("kubeOvn.values: only used with kubeOvn.install: helm" in p for p in error.problems)


# --- item 4: Multus restarted once Kube-OVN is up ---


def test_multus_is_restarted_after_the_release_as_install_sh_does() -> None:
    result = run()
    restart = result.by_name("kube-ovn-multus-restart")
    assert restart.type == LOCAL_COMMAND
    assert result.by_name("kube-ovn-release").urn in restart.depends_on
    create = restart.inputs["create"]
    assert create.startswith("kubectl --context kind-agilio-lab delete pod --namespace kube-system")
    assert "--selector app=multus" in create
    assert "rollout status daemonset/kube-multus-ds --namespace kube-system" in create
    # Again when Kube-OVN's CNI config may change: another kube-ovn image.
    image = {"global": {"images": {"kubeovn": {"tag": "v1.16.2-mirror"}}}}
    other = run({"kubeOvn": dev_kube_ovn(values=image)})
    assert other.by_name("kube-ovn-multus-restart").inputs["triggers"] != restart.inputs["triggers"]


def test_values_that_leave_the_cni_config_restart_no_multus_pod() -> None:
    """install-cni moves the image's conflist into place (cmd/daemon/cniserver.go `mvCNIConf`):
    TLS between the OVN daemons or the controller's resources do not change it, and restarting
    every Multus pod of the cluster for them would take every pod's network setup down at once."""
    restart = run().by_name("kube-ovn-multus-restart").inputs["triggers"]
    for values in (
        {"networking": {"enableSsl": True}},
        {"controller": {"resources": {"requests": {"cpu": "300m"}}}},
    ):
        other = run({"kubeOvn": dev_kube_ovn(values=values)})
        assert other.by_name("kube-ovn-multus-restart").inputs["triggers"] == restart, values


def test_an_existing_multus_is_not_restarted() -> None:
    result = run({"multus": {"install": "existing"}})
    assert not any(r.name == "kube-ovn-multus-restart" for r in result.resources)


# --- issue 10 defect 2: destroy keeps what the retained Kube-OVN needs ---


def test_destroy_keeps_the_master_label_and_the_tunnel_annotations() -> None:
    result = run()
    # The tunnel annotations sit under each node's NodeMarks (before its registration wait).
    # Every node patch is retained (issue 17: its delete would re-create a deleted Node)...
    kept = {r.name for r in result.by_type(NODE_PATCH) if r.options["retainOnDelete"]}
    assert kept == {r.name for r in result.by_type(NODE_PATCH)}
    assert {
        "lab-control-1-kube-ovn-master-label",
        "lab-worker-1-kube-ovn-tunnel-interface",
        "lab-worker-2-kube-ovn-tunnel-interface",
    } < kept
    # ...and a cleanup takes the device plugin's label off (and only it, of the node's fields:
    # the tunnel annotation and master label stay for the retained release).
    cleanup = result.by_name("agilio-label-cleanup-lab-worker-1").inputs["delete"]
    assert "label node lab-worker-1 agilio-offload/agilio-cx-" in cleanup
    tunnel = result.by_name("pulumi-annotations-cleanup-lab-worker-1").inputs["delete"]
    assert "tunnel_interface" not in tunnel and "kube-ovn/role" not in cleanup + tunnel


def test_node_patches_win_conflicts_on_fields_the_stack_owns() -> None:
    # Issue 10 defect 8: an annotation written by someone else fails `up` late, not at preview.
    for patch in run().by_type(NODE_PATCH):
        assert patch.inputs["metadata"]["annotations"]["pulumi.com/patchForce"] == "true", (
            patch.name
        )
    tunnel = named("lab-worker-1-kube-ovn-tunnel-interface")["metadata"]["annotations"]
    assert tunnel["pulumi.com/patchFieldManager"] == "agilio-offload-tunnel-interface"


# --- item 5: values cannot undo the runbook (as the chart renders them) ---
# Issue 19 made kubeOvn.values an allowlist: tests/test_kube_ovn_values.py checks every path
# against the chart's recorded facts; here, what a run of the program answers.


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"ovsOvn": {"extraEnv": [{"name": "OVS_OPT", "value": "x"}]}},
            "ovsOvn.extraEnv: not an allowed value path (appended after HW_OFFLOAD",
        ),
        (
            {"agent": {"extraEnv": [{"name": "HW_OFFLOAD", "value": "false"}]}},
            "agent.extraEnv: not an allowed value path",
        ),
        (
            {"extraObjects": [{"apiVersion": "v1", "kind": "Secret"}]},
            "extraObjects: not an allowed value path (evaluated as a template (tpl)",
        ),
        (
            {"global": {"registry": {"address": "registry.example.com/kubeovn"}}},
            "global.registry.address: 'registry.example.com/kubeovn' is not an allowed registry",
        ),
        (
            {"global": {"images": {"kubeovn": {"tag": "v1.15.0"}}}},
            "global.images.kubeovn.tag: 'v1.15.0' is not the chart's version 'v1.16.2'",
        ),
        (
            {"networking": {"networkType": "vlan"}},
            "networking.networkType: 'vlan' is not one of geneve, vxlan",
        ),
        ({"networking": {"tunnelType": "gre"}}, "networking.tunnelType: 'gre' is not one of"),
        (
            # Rendered unquoted into kube-ovn-cni's args, the line break adds an argument.
            {"networking": {"excludeIps": "10.16.0.2\n          - --enable-mirror=true"}},
            "networking.excludeIps: '10.16.0.2\\n",
        ),
        ({"networking": {"excludeIps": "10.16.0.2\u2028- --x"}}, "holds a control character"),
        (
            {"agent": {"mirroring": {"enabled": True}}},
            "agent.mirroring: not an allowed value path (set by the stack",
        ),
    ],
)
def test_values_that_would_undo_the_runbook_are_refused(values: dict, expected: str) -> None:
    error = run_error({"kubeOvn": dev_kube_ovn(values=values)})
    assert isinstance(error, ConfigError)
    (problem,) = error.problems
    assert problem.startswith("agilio-offload:kubeOvn.values: ")
    assert expected in problem


def test_an_allowed_registry_may_serve_kube_ovns_image() -> None:
    registry = "registry.example.com/kubeovn"
    values = {"global": {"registry": {"address": registry}}}
    kube_ovn = dev_kube_ovn(values=values, allowedRegistries=[registry])
    assert kube_ovn_values({"kubeOvn": kube_ovn})["global"]["registry"]["address"] == registry


def test_letting_go_of_the_release_marks_it_for_the_next_preflight() -> None:
    # Issue 10 defect 5: after `destroy`, `helm install` of the retained name fails (name in
    # use) only after the node steps; the mark lets the cluster preflight stop before them.
    result = run()
    marker = result.by_name("kube-ovn-release-retained-marker")
    assert result.by_name("kube-ovn-release").urn in marker.depends_on
    assert marker.inputs["delete"] == (
        "kubectl --context kind-agilio-lab annotate daemonset ovs-ovn --namespace kube-system "
        "agilio-offload/retained-release=kube-system/kube-ovn --overwrite"
    )
    assert marker.inputs["create"].startswith("echo ")
    script = load_cluster_script(SCRIPT)
    assert f"RETAINED_ANNOTATION='{RETAINED_RELEASE_ANNOTATION}'" in script
    assert not any(r.name.endswith("-retained-marker") for r in run(existing()).resources)
