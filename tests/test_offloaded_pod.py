"""The consumer helper and the example consumer stack (examples/offloaded-app) under mocks."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from pulumi.runtime import mocks as pulumi_mocks

from components.names import DEFAULT_RESOURCE
from components.offloaded_pod import OffloadError, add_offload
from tools.engine.mock_driver import REPO_ROOT, EchoMocks, ProgramRun, run_program, run_stack

VF = DEFAULT_RESOURCE
NETWORK = "v1.multus-cni.io/default-network"
ANNOTATIONS = {NETWORK: "default/default"}
RESOURCES = {"requests": {VF: "1"}, "limits": {VF: "1"}}
EXAMPLE = REPO_ROOT / "examples" / "offloaded-app" / "__main__.py"


def pod(**container: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "nginx", "annotations": {"team": "web"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:alpine", **container}]},
    }


def test_a_pod_gets_the_annotation_and_one_vf() -> None:
    result = add_offload(pod(), ANNOTATIONS, RESOURCES)
    assert result["metadata"]["annotations"] == {"team": "web", NETWORK: "default/default"}
    (container,) = result["spec"]["containers"]
    assert container["resources"] == {"requests": {VF: "1"}, "limits": {VF: "1"}}


def test_what_the_user_set_survives_and_the_input_is_not_changed() -> None:
    original = pod(
        resources={"requests": {"cpu": "100m"}, "limits": {"memory": "64Mi", VF: "2"}},
        ports=[{"containerPort": 80}],
    )
    before = copy.deepcopy(original)
    (container,) = add_offload(original, ANNOTATIONS, RESOURCES)["spec"]["containers"]
    assert container["resources"] == {
        "requests": {"cpu": "100m", VF: "2"},
        "limits": {"memory": "64Mi", VF: "2"},
    }
    assert container["ports"] == [{"containerPort": 80}]
    assert original == before


def test_a_deployment_gets_it_on_its_pod_template_and_the_named_container() -> None:
    deployment = {
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "sidecar"}, {"name": "nginx"}]},
            }
        },
    }
    result = add_offload(deployment, ANNOTATIONS, RESOURCES, container="nginx")
    template = result["spec"]["template"]
    assert template["metadata"]["annotations"] == ANNOTATIONS
    sidecar, nginx = template["spec"]["containers"]
    assert "resources" not in sidecar
    assert nginx["resources"] == RESOURCES
    assert "annotations" not in result["metadata"]


def test_a_bare_pod_template_works_too() -> None:
    template = {"spec": {"containers": [{"name": "app"}]}}
    result = add_offload(template, ANNOTATIONS, RESOURCES)
    assert result["metadata"]["annotations"] == ANNOTATIONS


@pytest.mark.parametrize(
    ("manifest", "container", "message"),
    [
        (
            {**pod(), "metadata": {"annotations": {NETWORK: "kube-system/other"}}},
            None,
            "already 'kube-system/other'",
        ),
        (pod(), "missing", "no container named 'missing'"),
        ({"kind": "Service", "spec": {}}, None, "cannot find the pods"),
        ({"kind": "Pod", "spec": {"containers": []}}, None, "no containers"),
    ],
)
def test_what_cannot_be_done_is_an_error(
    manifest: dict[str, Any], container: str | None, message: str
) -> None:
    with pytest.raises(OffloadError, match=message):
        add_offload(manifest, ANNOTATIONS, RESOURCES, container=container)


def test_the_stacks_outputs_make_the_runbooks_pod() -> None:
    outputs = run_stack("dev").outputs
    result = add_offload(pod(), outputs["podAnnotations"], outputs["podResources"])
    assert result["metadata"]["annotations"][NETWORK] == "default/default"
    assert result["spec"]["containers"][0]["resources"] == RESOURCES


# --- the example consumer stack ---


class OffloadStackMocks(EchoMocks):
    """Answers the StackReference with what the agilio-offload stack exports."""

    def __init__(self, outputs: dict[str, Any]) -> None:
        self.outputs = outputs
        self.references: list[str] = []

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict]:
        if args.typ == "pulumi:pulumi:StackReference":
            self.references.append(args.inputs["name"])
            state = {"name": args.inputs["name"], "outputs": self.outputs}
            return args.inputs["name"], {**state, "secretOutputNames": []}
        return super().new_resource(args)


def run_example(outputs: dict[str, Any], **config: str) -> tuple[ProgramRun, OffloadStackMocks]:
    mocks = OffloadStackMocks(outputs)
    values = {"offloaded-app:offloadStack": "organization/agilio-offload/dev", **config}
    result = run_program(values, stack="dev", mocks=mocks, program=Path(EXAMPLE))
    assert result.error is None, result.error
    return result, mocks


@pytest.fixture(scope="module")
def offload_outputs() -> dict[str, Any]:
    return run_stack("dev", {"agilio-offload:nad": {"name": "vf-net", "namespace": "apps"}}).outputs


def test_the_example_runs_nginx_on_vfs_from_the_stack_reference(
    offload_outputs: dict[str, Any],
) -> None:
    result, mocks = run_example(offload_outputs, **{"offloaded-app:replicas": "3"})
    assert mocks.references == ["organization/agilio-offload/dev"]
    (deployment,) = result.by_type("kubernetes:apps/v1:Deployment")
    spec = deployment.inputs["spec"]
    assert spec["replicas"] == 3
    template = spec["template"]
    assert template["metadata"]["annotations"] == {NETWORK: "apps/vf-net"}
    assert template["metadata"]["labels"] == {"app": "nginx-offloaded"}
    (nginx,) = template["spec"]["containers"]
    assert nginx["resources"] == {
        "requests": {"cpu": "100m", "memory": "64Mi", VF: "1"},
        "limits": {"memory": "128Mi", VF: "1"},
    }
    assert result.outputs["network"] == "apps/vf-net"


def test_the_example_follows_a_different_resource_name(offload_outputs: dict[str, Any]) -> None:
    other = "example.org/vf_pool"
    outputs = {
        **offload_outputs,
        "podResources": {"requests": {other: "1"}, "limits": {other: "1"}},
    }
    result, _ = run_example(outputs)
    (deployment,) = result.by_type("kubernetes:apps/v1:Deployment")
    resources = deployment.inputs["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources["limits"][other] == "1" and VF not in resources["limits"]
