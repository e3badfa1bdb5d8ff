"""ClusterPreflight: under mocks (what it is given, what waits for it) and its script against the
simulated cluster's kubectl, seeded (tests/support/cluster_standin.py) as an install.sh cluster, a
fresh cluster and a chart-installed cluster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.cluster.preflight import SCRIPT, TUNNEL_FIELD_MANAGER, load_cluster_script
from components.names import HARDWARE_STEPS
from tests.support.cluster_standin import (
    Outcome,
    Seed,
    StandIn,
    annotated,
    attachment,
    cluster,
    denied,
    kube_ovn,
    multus,
    node,
    patched,
    runbook_device_plugin,
    unreachable,
)
from tests.support.kubernetes_program import NODE_PATCH, depends_on_transitively, run
from tests.support.shellcheck import run_shellcheck

REPO = Path(__file__).resolve().parents[1]
CHECKS = "cluster-preflight-checks"
TUNNEL = "ovn.kubernetes.io/tunnel_interface"
DEV_NODES = ("lab-control-1", "lab-worker-1", "lab-worker-2")
EXISTING = {"kubeOvn": {"install": "existing", "iface": "ens1np0"}}
BOTH_EXISTING = {**EXISTING, "multus": {"install": "existing"}}


# --- under mocks -----------------------------------------------------------------------------


def test_every_node_change_and_every_node_patch_waits_for_the_cluster_preflight() -> None:
    # Issue 10 defect 6 / issue 11 item 2: nothing changes before the named nodes are checked.
    result = run()
    checks = result.by_name(CHECKS).urn
    assert checks in result.by_name("preflight-gate").depends_on
    for name in ("lab-worker-1", "lab-worker-2"):
        for step in (*HARDWARE_STEPS, "drain"):
            resource = result.by_name(f"{name}-{step}")
            assert checks in depends_on_transitively(result, resource), resource.name
    for patch in result.by_type(NODE_PATCH):
        assert checks in depends_on_transitively(result, patch), patch.name


def params(overrides: dict[str, Any] | None = None) -> str:
    return run(overrides).by_name(CHECKS).inputs["create"]


def test_the_check_is_given_every_named_node_and_the_stacks_context() -> None:
    create = params()
    assert "NODES='lab-worker-1 lab-worker-2'\n" in create
    assert "MASTERS='lab-control-1'\n" in create
    assert "TUNNELS='lab-worker-1=ens1np0 lab-worker-2=ens1np0'\n" in create
    assert "KUBE_CONTEXT='kind-agilio-lab'\n" in create
    assert "KUBE_OVN_INSTALL='helm'\nMULTUS_INSTALL='stack'\n" in create
    # A value with shell characters stays one quoted word.
    odd = params({"kubernetes": {"context": "lab'; reboot #"}})
    assert "KUBE_CONTEXT='lab'\"'\"'; reboot #'\n" in odd


def test_the_plan_of_an_existing_stack_has_no_release_and_has_the_cluster_check() -> None:
    result = run(stack="existing")
    assert result.by_type("kubernetes:helm.sh/v3:Release") == []
    assert not any(
        r.type.startswith("kubernetes:apps/v1:DaemonSet") and r.name == "multus-ds"
        for r in result.resources
    )
    create = result.by_name(CHECKS).inputs["create"]
    assert "KUBE_OVN_INSTALL='existing'\nMULTUS_INSTALL='existing'\n" in create
    assert result.by_name(CHECKS).urn in result.by_name("preflight-gate").depends_on


# --- the script ----------------------------------------------------------------------------


def test_the_script_file_passes_shellcheck() -> None:
    path = REPO / "components" / "cluster" / "scripts" / f"{SCRIPT}.sh"
    lines = path.read_text().splitlines()
    assert lines[0] == "#!/usr/bin/env bash" and "set -euo pipefail" in lines
    result = run_shellcheck(str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rendered_script_passes_shellcheck(tmp_path: Path) -> None:
    create = params()
    script = create.split("<<'AGILIO_OFFLOAD_SCRIPT'\n", 1)[1].rsplit("\nAGILIO_OFFLOAD_SCRIPT", 1)[
        0
    ]
    assert script.startswith(load_cluster_script(SCRIPT).split("\n", 1)[0])
    path = tmp_path / "rendered.sh"
    path.write_text(script)
    result = run_shellcheck(str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def check(
    cluster_kubectl: StandIn, seeds: list[Seed], overrides: dict[str, Any] | None = None
) -> Outcome:
    return cluster_kubectl.check(seeds, params(overrides))


@pytest.fixture
def cluster_kubectl(tmp_path: Path) -> StandIn:
    return StandIn(tmp_path)


def dev_nodes(**annotations: dict[str, str]) -> list[Seed]:
    return [node(name, annotations.get(name.replace("-", "_"))) for name in DEV_NODES]


def problems(outcome: Outcome) -> list[str]:
    return [line for line in outcome.stderr.splitlines() if line.startswith("cluster preflight:")]


# A fresh cluster: nodes, no CNI yet.


def test_a_fresh_cluster_passes_with_the_stacks_context(cluster_kubectl: StandIn) -> None:
    outcome = check(cluster_kubectl, cluster(dev_nodes()))
    assert outcome.code == 0, outcome.stderr
    facts = json.loads(outcome.stdout.splitlines()[-1])
    assert facts == {
        "nodes": "lab-worker-1 lab-worker-2",
        "kubeOvn": "helm",
        "multus": "stack",
        "kubeOvnRelease": "",
    }
    assert all(call[:2] == ["--context", "kind-agilio-lab"] for call in outcome.calls)


def test_the_stacks_kubeconfig_reaches_kubectl_with_home_expanded(cluster_kubectl: StandIn) -> None:
    kubernetes = {"kubeconfigPath": "~/.kube/lab", "context": "lab-admin"}
    outcome = check(cluster_kubectl, cluster(dev_nodes()), {"kubernetes": kubernetes})
    assert outcome.code == 0, outcome.stderr
    expected = ["--kubeconfig", f"{cluster_kubectl.home}/.kube/lab", "--context", "lab-admin"]
    assert all(call[:4] == expected for call in outcome.calls), outcome.calls


def test_a_missing_node_or_master_stops_before_any_change(cluster_kubectl: StandIn) -> None:
    nodes = [node("lab-control-1"), node("lab-worker-1")]
    outcome = check(
        cluster_kubectl,
        cluster(nodes),
        {
            "kubeOvn": {
                "iface": "ens1np0",
                "masterNodes": [{"name": "lab-contrl-1", "ip": "192.0.2.10"}],
            }
        },
    )
    assert outcome.code == 1
    found = problems(outcome)
    assert any(
        p.startswith("cluster preflight: node lab-worker-2 (nodes[].name) is not in the cluster")
        for p in found
    ), found
    assert any(
        "node lab-contrl-1 (kubeOvn.masterNodes[].name) is not in the cluster" in p
        and "phantom node" in p
        for p in found
    ), found
    assert found[-1] == "cluster preflight: 2 problem(s); nothing was changed on any node"


def test_a_tunnel_interface_set_by_someone_else_is_reported(cluster_kubectl: StandIn) -> None:
    nodes = dev_nodes(lab_worker_2={TUNNEL: "eno1"})
    outcome = check(cluster_kubectl, cluster(nodes))
    assert outcome.code == 1
    (problem, _) = problems(outcome)
    assert "node lab-worker-2: annotation ovn.kubernetes.io/tunnel_interface is 'eno1'" in problem
    assert "set outside this stack (by kubectl-annotate)" in problem
    assert "set nodes[].uplink: eno1" in problem
    assert "kubectl annotate node lab-worker-2 ovn.kubernetes.io/tunnel_interface-" in problem


def test_the_stacks_own_earlier_tunnel_interface_is_no_conflict(cluster_kubectl: StandIn) -> None:
    nodes = [*dev_nodes(), patched("lab-worker-2", TUNNEL_FIELD_MANAGER, {TUNNEL: "ens9np0"})]
    outcome = check(cluster_kubectl, cluster(nodes))
    assert outcome.code == 0, outcome.stderr


def test_an_unreachable_cluster_exits_2(cluster_kubectl: StandIn) -> None:
    outcome = check(cluster_kubectl, [unreachable()])
    assert outcome.code == 2
    assert (
        "cannot list the cluster's nodes with kubectl (context kind-agilio-lab)" in outcome.stderr
    )


# An install.sh cluster (Kube-OVN applied with kubectl, upstream's thick Multus).


def install_sh(**flags: Any) -> dict[str, Any]:
    return cluster(dev_nodes(), kube_ovn(**flags), multus())


def test_install_sh_with_offload_passes_as_existing(cluster_kubectl: StandIn) -> None:
    outcome = check(cluster_kubectl, install_sh(iface="ens1np0"), BOTH_EXISTING)
    assert outcome.code == 0, outcome.stderr


def test_install_sh_without_offload_stops_with_the_install_line(cluster_kubectl: StandIn) -> None:
    # install.sh's defaults: HW_OFFLOAD=false, ENABLE_LB=true, ENABLE_MIRROR=false.
    state = install_sh(hw_offload="false", enable_lb="true", iface="ens1np0")
    outcome = check(cluster_kubectl, state, BOTH_EXISTING)
    assert outcome.code == 1
    (problem, _) = problems(outcome)
    assert "ovs-ovn HW_OFFLOAD is 'false', needs true" in problem
    assert "kube-ovn-controller --enable-lb is 'true', needs false" in problem
    assert "enable-mirror" not in problem.split(": reinstall")[0]
    assert problem.endswith(
        "reinstall it with HW_OFFLOAD=true ENABLE_LB=false ENABLE_MIRROR=false IFACE=ens1np0 "
        "bash install.sh (the install.sh of your Kube-OVN version, with the other variables "
        "you installed it with)"
    )


def test_a_later_duplicate_hw_offload_env_wins(cluster_kubectl: StandIn) -> None:
    state = install_sh(extra_env=[{"name": "HW_OFFLOAD", "value": "false"}])
    outcome = check(cluster_kubectl, state, BOTH_EXISTING)
    assert outcome.code == 1
    assert "ovs-ovn HW_OFFLOAD is 'false', needs true" in outcome.stderr


def test_mirroring_on_is_reported(cluster_kubectl: StandIn) -> None:
    outcome = check(cluster_kubectl, install_sh(enable_mirror="true"), BOTH_EXISTING)
    assert outcome.code == 1
    assert "kube-ovn-cni --enable-mirror is 'true', needs false" in outcome.stderr


def test_install_sh_cannot_be_taken_over_by_the_release(cluster_kubectl: StandIn) -> None:
    outcome = check(cluster_kubectl, install_sh(), {"multus": {"install": "existing"}})
    assert outcome.code == 1
    (problem, _) = problems(outcome)
    assert (
        "Kube-OVN already runs (daemonset kube-system/ovs-ovn from install.sh or kubectl" in problem
    )
    assert problem.endswith(
        "(DaemonSet selectors are immutable): set kubeOvn.install: existing to keep it (this "
        "check then confirms it has offload on)"
    )


def test_a_foreign_multus_and_crd_are_reported_when_the_stack_installs_multus(
    cluster_kubectl: StandIn,
) -> None:
    outcome = check(cluster_kubectl, install_sh(), EXISTING)
    assert outcome.code == 1
    found = problems(outcome)
    expected = (
        "Multus already runs (daemonset kube-system/kube-multus-ds, not applied by Pulumi): "
        "set multus.install: existing"
    )
    assert any(expected in p for p in found), found
    assert any(
        "customresourcedefinition network-attachment-definitions.k8s.cni.cncf.io exists, "
        "not applied by Pulumi" in p
        for p in found
    ), found


def test_the_stacks_own_multus_and_retained_crd_pass(cluster_kubectl: StandIn) -> None:
    state = cluster(dev_nodes(), multus(manager="pulumi-kubernetes-8f3a2c1d"))
    assert check(cluster_kubectl, state).code == 0


def test_an_existing_multus_must_be_thick_and_have_its_crd(cluster_kubectl: StandIn) -> None:
    thin = cluster(dev_nodes(), kube_ovn(), multus(thick=False))
    outcome = check(cluster_kubectl, thin, BOTH_EXISTING)
    assert outcome.code == 1
    assert "the running Multus is not the thick plugin" in outcome.stderr
    outcome = check(cluster_kubectl, cluster(dev_nodes(), kube_ovn()), BOTH_EXISTING)
    assert outcome.code == 1
    found = problems(outcome)
    assert any("no Multus runs (no daemonset labelled app=multus" in p for p in found)
    assert any(
        "customresourcedefinition network-attachment-definitions.k8s.cni.cncf.io is not in" in p
        for p in found
    )


def test_existing_without_any_kube_ovn_says_how_to_install_it(cluster_kubectl: StandIn) -> None:
    outcome = check(cluster_kubectl, cluster(dev_nodes(), multus()), BOTH_EXISTING)
    assert outcome.code == 1
    assert "no Kube-OVN runs (daemonset kube-system/ovs-ovn not found)" in outcome.stderr
    # IFACE empty: each node's node-IP NIC; the Agilio nodes' uplinks come by annotation.
    assert "HW_OFFLOAD=true ENABLE_LB=false ENABLE_MIRROR=false IFACE= bash install.sh" in (
        outcome.stderr
    )


# A chart-installed cluster (the kube-ovn-v2 release `kube-ovn`).


def chart(**flags: Any) -> dict[str, Any]:
    return cluster(dev_nodes(), kube_ovn(helm_release="kube-ovn", **flags))


def test_the_stacks_release_passes_as_helm_and_as_existing(cluster_kubectl: StandIn) -> None:
    assert check(cluster_kubectl, chart()).code == 0
    outcome = check(cluster_kubectl, chart(), EXISTING)
    assert outcome.code == 0, outcome.stderr
    assert json.loads(outcome.stdout.splitlines()[-1])["kubeOvnRelease"] == "kube-ovn"


def test_another_release_cannot_be_taken_over(cluster_kubectl: StandIn) -> None:
    outcome = check(cluster_kubectl, cluster(dev_nodes(), kube_ovn(helm_release="ovn")))
    assert outcome.code == 1
    assert "daemonset kube-system/ovs-ovn from Helm release kube-system/ovn" in outcome.stderr


def test_a_chart_install_without_offload_gets_the_helm_upgrade_line(
    cluster_kubectl: StandIn,
) -> None:
    outcome = check(cluster_kubectl, chart(hw_offload="false"), EXISTING)
    assert outcome.code == 1
    assert (
        "reinstall it with helm upgrade kube-ovn kubeovn/kube-ovn-v2 --namespace kube-system "
        "--reuse-values --set features.enableHardwareOffload=true "
        "--set features.enableLoadbalancer=false --set agent.mirroring.enabled=false"
    ) in outcome.stderr


def test_a_release_this_stack_let_go_of_stops_install_helm_with_the_adoption_steps(
    cluster_kubectl: StandIn,
) -> None:
    retained = {"agilio-offload/retained-release": "kube-system/kube-ovn"}
    state = [*chart(), annotated("daemonset", "ovs-ovn", retained, namespace="kube-system")]
    outcome = check(cluster_kubectl, state)
    assert outcome.code == 1
    (problem, _) = problems(outcome)
    assert "Helm release kube-system/kube-ovn runs but this stack let go of it" in problem
    assert "pulumi import kubernetes:helm.sh/v3:Release kube-ovn-release kube-system/kube-ovn" in (
        problem
    )
    assert problem.endswith(
        "kubectl annotate daemonset ovs-ovn --namespace kube-system "
        "agilio-offload/retained-release-)"
    )
    # Kept as it is, it is simply the existing Kube-OVN.
    assert check(cluster_kubectl, state, EXISTING).code == 0


# --- objects the stack would create, found before any node step (issue 20 item 2) ---


def test_the_runbooks_device_plugin_objects_stop_before_any_node_step(
    cluster_kubectl: StandIn,
) -> None:
    outcome = check(cluster_kubectl, cluster(dev_nodes(), runbook_device_plugin()))
    assert outcome.code == 1, outcome.stderr
    (problem, _) = problems(outcome)
    for name in (
        "configmap kube-system/sriovdp-config",
        "serviceaccount kube-system/sriov-device-plugin",
        "daemonset kube-system/kube-sriov-device-plugin",
    ):
        assert name in problem
    assert (
        "kubectl delete --namespace kube-system daemonset/kube-sriov-device-plugin "
        "serviceaccount/sriov-device-plugin configmap/sriovdp-config"
    ) in problem
    assert "pulumi import" in problem


def test_the_stacks_own_device_plugin_objects_pass(cluster_kubectl: StandIn) -> None:
    state = cluster(dev_nodes(), runbook_device_plugin(manager="pulumi-kubernetes-4f1c2a"))
    assert check(cluster_kubectl, state).code == 0


def test_a_missing_nad_namespace_stops_with_the_fix(cluster_kubectl: StandIn) -> None:
    outcome = check(
        cluster_kubectl, cluster(dev_nodes()), {"nad": {"name": "offload", "namespace": "perff"}}
    )
    assert outcome.code == 1, outcome.stderr
    (problem, _) = problems(outcome)
    assert "nad.namespace perff does not exist" in problem
    assert "kubectl create namespace perff" in problem


def test_a_conflicting_nad_stops_with_the_fix(cluster_kubectl: StandIn) -> None:
    state = cluster(
        dev_nodes(),
        kube_ovn(iface="ens1np0"),
        multus(),
        attachment("default", "default", "kubectl-client-side-apply"),
    )
    outcome = check(cluster_kubectl, state, BOTH_EXISTING)
    assert outcome.code == 1, outcome.stderr
    (problem, _) = problems(outcome)
    assert "networkattachmentdefinition default/default already exists" in problem
    assert "kubectl delete network-attachment-definitions.k8s.cni.cncf.io default" in problem
    own = cluster(
        dev_nodes(),
        kube_ovn(iface="ens1np0"),
        multus(),
        attachment("default", "default", "pulumi-kubernetes-77ab01"),
    )
    assert check(cluster_kubectl, own, BOTH_EXISTING).code == 0


def test_an_rbac_denial_inside_a_read_is_check_access_not_a_finding(
    cluster_kubectl: StandIn,
) -> None:
    state = [*install_sh(iface="ens1np0"), denied("deployment", "kube-ovn-controller")]
    outcome = check(cluster_kubectl, state, BOTH_EXISTING)
    assert outcome.code == 2, outcome.stderr
    assert "check access" in outcome.stderr
    assert "Forbidden" in outcome.stderr
    assert "reinstall" not in outcome.stderr


@pytest.mark.parametrize(
    "refused",
    [
        ["node", "lab-worker-2"],
        ["daemonset", "ovs-ovn"],
        ["customresourcedefinition", "network-attachment-definitions.k8s.cni.cncf.io"],
        ["configmap", "sriovdp-config"],
        ["namespace", "default"],
    ],
)
def test_every_read_tells_access_from_findings(
    cluster_kubectl: StandIn, refused: list[str]
) -> None:
    state = [*cluster(dev_nodes(lab_worker_2={TUNNEL: "eno1"})), denied(*refused)]
    outcome = check(cluster_kubectl, state)
    assert outcome.code == 2, (refused, outcome.stderr)
    assert "check access" in outcome.stderr
    assert "Error from server (Forbidden)" in outcome.stderr


def test_a_tunnel_interface_changed_by_hand_is_reported_though_the_stack_patched_the_node(
    cluster_kubectl: StandIn,
) -> None:
    """The stack's field manager owns pulumi.com/patchForce on the node, but the annotation
    itself was last written by `kubectl annotate --overwrite` (manager kubectl-annotate)."""
    nodes = [
        *dev_nodes(),
        patched("lab-worker-2", TUNNEL_FIELD_MANAGER, {TUNNEL: "ens1np0"}),
        annotated("node", "lab-worker-2", {TUNNEL: "eno1"}),
    ]
    outcome = check(cluster_kubectl, cluster(nodes))
    assert outcome.code == 1, outcome.stderr
    assert "annotation ovn.kubernetes.io/tunnel_interface is 'eno1'" in outcome.stderr
    assert "kubectl-annotate" in outcome.stderr
