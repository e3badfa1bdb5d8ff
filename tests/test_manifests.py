"""Every manifest the plan writes is one a reviewer could `kubectl apply`: schema-valid, strict.

Built-in kinds are checked against the Kubernetes OpenAPI schema (`kubernetes-validate`, strict:
unknown fields fail) for the oldest and newest minor we support; the NetworkAttachmentDefinition
against the schema of the CRD the plan itself installs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tools import plan

# The Kubernetes minors the manifests are checked against: the oldest still in upstream support
# when this was written and the newest kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.33.0", kubernetes_validate.latest_version())
NAD_KIND = "NetworkAttachmentDefinition"


def _plan_manifests(out: Path, stack: str) -> dict[str, dict[str, Any]]:
    assert plan.main(["--stack", stack, "--out", str(out)]) == 0
    files = sorted((out / "kubernetes").glob("*.yaml"))
    return {path.name: yaml.safe_load(path.read_text()) for path in files}


@pytest.fixture(scope="module")
def manifests(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return _plan_manifests(tmp_path_factory.mktemp("plan") / "dev", "dev")


@pytest.fixture(scope="module")
def existing_manifests(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return _plan_manifests(tmp_path_factory.mktemp("plan") / "existing", "existing")


def test_the_plan_writes_every_kind_of_the_layer(manifests: dict[str, dict[str, Any]]) -> None:
    kinds = sorted({m["kind"] for m in manifests.values()})
    assert kinds == [
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "CustomResourceDefinition",
        "DaemonSet",
        NAD_KIND,
        "Node",
        "ServiceAccount",
    ]
    assert len(manifests) == 15


def assert_built_in_kinds_validate(manifests: dict[str, dict[str, Any]], version: str) -> None:
    """Every manifest but the NAD (a custom resource) validates strictly for `version`."""
    checked = 0
    for name, manifest in manifests.items():
        if manifest["kind"] == NAD_KIND:
            continue
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as err:
            pytest.fail(f"{name} is not a valid {manifest['kind']} for Kubernetes {version}: {err}")
        checked += 1
    assert checked == len(manifests) - 1


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_built_in_kinds_validate_strictly(
    manifests: dict[str, dict[str, Any]], version: str
) -> None:
    assert_built_in_kinds_validate(manifests, version)


def test_strict_validation_catches_a_misspelt_field() -> None:
    # The check above could fail: a field Kubernetes does not know is an error in strict mode.
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "datta": {}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(config_map, KUBERNETES_VERSIONS[-1], strict=True)


def _nad_schema(manifests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (crd,) = [m for m in manifests.values() if m["kind"] == "CustomResourceDefinition"]
    (version,) = crd["spec"]["versions"]
    return version["schema"]["openAPIV3Schema"]


def test_the_nad_validates_against_its_crd(manifests: dict[str, dict[str, Any]]) -> None:
    (nad,) = [m for m in manifests.values() if m["kind"] == NAD_KIND]
    jsonschema.validate(nad, _nad_schema(manifests))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {**nad, "spec": {"config": {"not": "a string"}}}, _nad_schema(manifests)
        )


def test_the_nads_cni_config_has_what_the_runbook_needs(
    manifests: dict[str, dict[str, Any]],
) -> None:
    (nad,) = [m for m in manifests.values() if m["kind"] == NAD_KIND]
    config = json.loads(nad["spec"]["config"])
    assert config["cniVersion"] and config["name"]
    by_type = {plugin["type"]: plugin for plugin in config["plugins"]}
    assert list(by_type) == ["kube-ovn", "portmap"]
    assert by_type["kube-ovn"]["server_socket"] == "/run/openvswitch/kube-ovn-daemon.sock"
    namespace, name = nad["metadata"]["namespace"], nad["metadata"]["name"]
    assert by_type["kube-ovn"]["provider"] == f"{name}.{namespace}.ovn"
    assert by_type["portmap"]["capabilities"] == {"portMappings": True}
    resource = nad["metadata"]["annotations"]["k8s.v1.cni.cncf.io/resourceName"]
    assert resource == "corigine.com/agilio_sriov"


def test_node_label_patches_say_they_are_patches(tmp_path: Path) -> None:
    out = tmp_path / "dev"
    assert plan.main(["--stack", "dev", "--out", str(out)]) == 0
    patches = sorted((out / "kubernetes").glob("*-patch.yaml"))
    assert [p.name.split("-", 1)[1] for p in patches] == [
        # Each Agilio node's marks: the device plugin's label, Kube-OVN's tunnel interface.
        "node-lab-worker-1-patch.yaml",
        "node-lab-worker-1-patch.yaml",
        "node-lab-worker-2-patch.yaml",
        "node-lab-worker-2-patch.yaml",
        "node-lab-control-1-patch.yaml",  # kube-ovn/role=master
    ]
    for path in patches:
        assert path.read_text().startswith("# A patch of the existing Node ")


def test_an_existing_stack_writes_no_multus_and_keeps_the_nad(
    existing_manifests: dict[str, dict[str, Any]], manifests: dict[str, dict[str, Any]]
) -> None:
    kinds = sorted({m["kind"] for m in existing_manifests.values()})
    # No Multus objects, no CRD: the cluster's own are reused.
    assert kinds == ["ConfigMap", "DaemonSet", NAD_KIND, "Node", "ServiceAccount"]
    (daemon_set,) = [m for m in existing_manifests.values() if m["kind"] == "DaemonSet"]
    assert daemon_set["metadata"]["name"] == "kube-sriov-device-plugin"
    # Its NAD still validates against the CRD schema this program would install.
    (nad,) = [m for m in existing_manifests.values() if m["kind"] == NAD_KIND]
    jsonschema.validate(nad, _nad_schema(manifests))


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_an_existing_stacks_built_in_kinds_validate_strictly(
    existing_manifests: dict[str, dict[str, Any]], version: str
) -> None:
    assert_built_in_kinds_validate(existing_manifests, version)


def test_node_patches_carry_only_metadata_the_stack_owns(
    manifests: dict[str, dict[str, Any]],
) -> None:
    patches = [m for m in manifests.values() if m["kind"] == "Node"]
    assert len(patches) == 5
    for patch in patches:
        assert set(patch) == {"apiVersion", "kind", "metadata"}
        assert patch["metadata"]["annotations"]["pulumi.com/patchForce"] == "true"
