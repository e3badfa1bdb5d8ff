"""The Kubernetes layer under Pulumi mocks: the chain, the providers, what destroy leaves."""

from __future__ import annotations

import pytest

from tests.support.kubernetes_program import NODE_PATCH, PROVIDER, children_of, named, run
from tools.engine.mock_driver import ProgramRun, Registration


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
        assert children_of(result, before) <= depends_on, (component, before)


def _kubernetes_resources(result: ProgramRun) -> list[Registration]:
    return [r for r in result.resources if r.type.startswith("kubernetes:")]


def _providers(result: ProgramRun) -> dict[str, Registration]:
    return {r.name: r for r in result.by_type(PROVIDER)}


def test_every_kubernetes_resource_uses_the_stacks_provider_the_retained_crd_the_adopting_one() -> (
    None
):
    result = run()
    providers = _providers(result)
    resources = _kubernetes_resources(result)
    assert len(resources) == 16
    expected = {r.name: providers["kubernetes"].urn for r in resources}
    expected["multus-nad-crd"] = providers["kubernetes-adopt"].urn
    assert {r.name: r.provider for r in resources} == expected


def test_the_providers_take_context_and_kubeconfig_from_config() -> None:
    kubernetes = {"context": "prod-admin", "kubeconfigPath": "~/.kube/prod"}
    for provider in _providers(run({"kubernetes": kubernetes})).values():
        assert provider.inputs["context"] == "prod-admin"
        assert provider.inputs["kubeconfig"] == "~/.kube/prod"
    for default in _providers(run({"kubernetes": {}})).values():
        # Issue 19: "" (the provider's default loading rules), never the runner's $KUBECONFIG.
        assert "context" not in default.inputs and default.inputs["kubeconfig"] == ""


def test_destroy_then_up_adopts_the_retained_crd() -> None:
    # Issue 10 defect 5: since pulumi-kubernetes 4.29 a create of an existing object returns
    # AlreadyExists unless the provider upserts (await.go `Creation`); the CRD is still there.
    providers = _providers(run())
    assert providers["kubernetes-adopt"].inputs["upsertExistingObjects"] == "true"
    assert providers["kubernetes"].inputs["upsertExistingObjects"] == "false"
    crd = run().by_name("multus-nad-crd")
    assert crd.options["retainOnDelete"] and crd.provider == providers["kubernetes-adopt"].urn


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
    assert retained == {
        "kube-ovn-release",
        "multus-nad-crd",
        # What the retained release needs (issue 10 defect 2).
        "lab-control-1-kube-ovn-master-label",
        "lab-worker-1-kube-ovn-tunnel-interface",
        "lab-worker-2-kube-ovn-tunnel-interface",
        # No node patch is ever deleted (issue 17: its delete, a relinquish, would create a
        # Node deleted by hand); a cleanup step takes the label off instead.
        "lab-worker-1-agilio-label",
        "lab-worker-2-agilio-label",
    }


def test_no_node_patch_is_ever_deleted_and_cleanups_only_patch_an_existing_node() -> None:
    """Issue 17, no phantom Node: a patch's delete is a server-side apply (ssa/actions.go
    `Relinquish`) that creates a Node deleted by hand, so every NodePatch is retained; the
    cleanups that take the label off use kubectl label/annotate (a PATCH of an existing object,
    NotFound otherwise) after checking the Node is there, and nothing applies."""
    result = run()
    patches = result.by_type(NODE_PATCH)
    assert patches and all(p.options["retainOnDelete"] for p in patches)
    for node in ("lab-worker-1", "lab-worker-2"):
        cleanup = result.by_name(f"agilio-label-cleanup-{node}")
        assert result.by_name(f"{node}-agilio-label").urn in cleanup.depends_on
        delete = cleanup.inputs["delete"]
        assert delete.startswith(
            f"found=$(kubectl --context kind-agilio-lab get node {node} --ignore-not-found "
            "-o name) || exit $?; "
        )
        assert f"label node {node} agilio-offload/agilio-cx-" in delete
        assert "pulumi.com/patchForce- pulumi.com/patchFieldManager-" in delete
        assert "apply" not in delete and "create" not in delete
        assert cleanup.inputs["create"] == "true"
