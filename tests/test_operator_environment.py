"""A plan that does not depend on who runs it (issue 19, item 7): the same stack under two
operator environments gives identical provider inputs and identical kubectl step commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.config.paths import expand_home, passwd_home
from components.names import LOCAL_COMMAND
from tests.support.stack_config import dev_config
from tools.engine.mock_driver import run_stack

PROVIDER_TYPE = "pulumi:providers:kubernetes"
ENVIRONMENTS = [
    {"KUBECONFIG": "/home/alice/.kube/config:/etc/k8s/ci.conf", "HOME": "/home/alice"},
    {
        "KUBECONFIG": "/builds/ci/kubeconfig",
        "HOME": "/var/lib/ci",
        "PULUMI_K8S_ENABLE_PATCH_FORCE": "true",
        "PULUMI_K8S_UPSERT_EXISTING_OBJECTS": "true",
        "PULUMI_K8S_DELETE_UNREACHABLE": "true",
        "PULUMI_K8S_SKIP_UPDATE_UNREACHABLE": "true",
    },
]


def _plan_under(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], kubernetes: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    with monkeypatch.context() as patch:
        for name in (
            "KUBECONFIG",
            "PULUMI_K8S_ENABLE_PATCH_FORCE",
            "PULUMI_K8S_UPSERT_EXISTING_OBJECTS",
            "PULUMI_K8S_DELETE_UNREACHABLE",
            "PULUMI_K8S_SKIP_UPDATE_UNREACHABLE",
        ):
            patch.delenv(name, raising=False)
        for name, value in env.items():
            patch.setenv(name, value)
        raw = {**dev_config(), "kubernetes": kubernetes}
        run = run_stack("dev", {f"agilio-offload:{k}": v for k, v in raw.items()})
    assert run.error is None, run.error
    providers = {r.name: r.inputs for r in run.resources if r.type == PROVIDER_TYPE}
    commands = {
        r.name: (r.inputs.get("create"), r.inputs.get("delete"))
        for r in run.resources
        if r.type == LOCAL_COMMAND
    }
    assert providers and commands
    return providers, commands


@pytest.mark.parametrize(
    "kubernetes",
    [{}, {"context": "kind-agilio-lab"}, {"kubeconfigPath": "~/.kube/lab", "context": "lab"}],
)
def test_two_operators_plan_the_same_provider_and_kubectl_steps(
    monkeypatch: pytest.MonkeyPatch, kubernetes: dict[str, Any]
) -> None:
    first = _plan_under(monkeypatch, ENVIRONMENTS[0], kubernetes)
    second = _plan_under(monkeypatch, ENVIRONMENTS[1], kubernetes)
    assert first[0] == second[0], "provider inputs differ with the environment"
    assert first[1] == second[1], "kubectl step commands differ with the environment"
    for inputs in first[0].values():
        assert "/home/alice" not in str(inputs) and "/builds/ci" not in str(inputs)
        assert inputs["kubeconfig"] == kubernetes.get("kubeconfigPath", "")
        assert inputs["enablePatchForce"] == "false"


def test_tilde_means_the_passwd_home_as_the_provider_reads_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # pulumi-kubernetes util.go parseKubeconfigString: Go user.Current().HomeDir (passwd).
    monkeypatch.setenv("HOME", "/somewhere/else")
    assert expand_home("~/.kube/lab") == Path(passwd_home()) / ".kube/lab"
    assert expand_home("~") == Path(passwd_home())
    assert expand_home("/abs/k") == Path("/abs/k")
