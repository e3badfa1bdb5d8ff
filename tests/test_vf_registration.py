"""The registration wait (components/cluster/vf_registration.py and
kubectl_scripts/wait-vfs-advertised.sh).

The exact create text the program registers runs with `sh -c`, as pulumi-command's local
provider runs it, against the stand-in kubectl (tests/support/kubectl_standin.py: the simulated
cluster's kubectl with a scripted kubelet) first on PATH: a node that advertises 0, one that
advertises the right count after a delay (kubelet's next node status update), one that never
does (bounded by a one-second timeout), and the states of the device plugin pod. Then the
cluster-level check as the program registers it, under mocks.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from components.cluster.vf_registration import (
    jsonpath_key,
    wait_params,
    wait_vfs_advertised_command,
)
from components.config import KubernetesConfig, SriovConfig, pins
from components.config.paths import SHELL_PASSWD_HOME, passwd_home
from components.names import (
    DEFAULT_RESOURCE,
    DEVICE_PLUGIN_DAEMON_SET,
    DEVICE_PLUGIN_POD_SELECTOR,
    LOCAL_COMMAND,
    VF_REGISTRATION_TYPE,
)
from components.scripts import render_prelude
from components.waits import DEFAULT_WAITS, Waits
from tests.support.kubectl_fixture import (
    AGILIO_LABELS,
    StandIn,
    advertised,
    node,
    plugin_daemon_set,
    plugin_pod,
)
from tools.engine.mock_driver import ProgramRun, run_stack

VF = DEFAULT_RESOURCE
NODE = "worker-1"
SRIOV = SriovConfig()
LAB = KubernetesConfig(context="lab")


def cluster(
    *timeline: tuple[int, dict[str, Any]],
    pods: list[dict[str, Any]] | None = None,
    daemon_set: bool = True,
) -> dict[str, Any]:
    """worker-1 with its status timeline and (by default) a Running device plugin pod."""
    return {
        "context": "lab",
        "nodes": {NODE: node(AGILIO_LABELS, *timeline)},
        "pods": [plugin_pod("kube-sriov-device-plugin-x7k2p", NODE)] if pods is None else pods,
        "daemonsets": [plugin_daemon_set()] if daemon_set else [],
    }


def wait(
    expected: int = 4,
    *,
    kubernetes: KubernetesConfig = LAB,
    sriov: SriovConfig = SRIOV,
    without_plugin: str = "pass",
    timeout: int = 1,
) -> subprocess.CompletedProcess[str]:
    command = wait_vfs_advertised_command(
        kubernetes,
        NODE,
        sriov,
        expected,
        Waits(vfs_advertised_seconds=timeout, vfs_advertised_interval=0.05),
        without_plugin=without_plugin,  # type: ignore[arg-type]
    )
    return subprocess.run(
        ["/bin/sh", "-c", command], capture_output=True, text=True, timeout=60, check=False
    )


def last_json(stdout: str) -> dict[str, Any]:
    return json.loads(stdout.strip().splitlines()[-1])


def node_reads(kubectl: StandIn) -> int:
    return sum(1 for call in kubectl.calls() if call[2:4] == ["get", "node"])


# --- the create text ---


def test_parameters_are_a_quoted_prelude_and_kubectl_the_arguments() -> None:
    command = wait_vfs_advertised_command(LAB, NODE, SRIOV, 4)
    params = wait_params(NODE, SRIOV, 4, DEFAULT_WAITS)
    assert render_prelude(params) in command
    assert params["RESOURCE_PATH"] == "corigine\\.com/agilio_sriov"
    assert "RESOURCE_PATH='corigine\\.com/agilio_sriov'" in command
    assert command.endswith(')" wait-vfs-advertised kubectl --context lab')
    assert params["WITHOUT_PLUGIN"] == "pass"
    assert (params["DAEMONSET"], params["POD_SELECTOR"]) == (
        DEVICE_PLUGIN_DAEMON_SET,
        DEVICE_PLUGIN_POD_SELECTOR,
    )


def test_hostile_values_stay_quoted() -> None:
    kubernetes = KubernetesConfig(context="lab; touch /tmp/owned", kubeconfig_path="~/k $x")
    command = wait_vfs_advertised_command(kubernetes, "n'1", SRIOV, 2)
    assert f"NODE={shlex.quote(chr(110) + chr(39) + '1')}" in command
    assert command.endswith(
        f"kubectl --kubeconfig {SHELL_PASSWD_HOME}/'k $x' --context 'lab; touch /tmp/owned'"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [({"expected": -1}, "0 or more"), ({"without_plugin": "maybe"}, "'pass' or 'fail'")],
)
def test_bad_wait_parameters_are_refused(change: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"expected": 4, "without_plugin": "pass", **change}
    with pytest.raises(ValueError, match=message):
        wait_params(NODE, SRIOV, args["expected"], DEFAULT_WAITS, args["without_plugin"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"vfs_advertised_seconds": 0}, "vfs_advertised_seconds must be at least 1"),
        ({"vfs_advertised_interval": 0}, "vfs_advertised_interval must be more than 0"),
        ({"pf_seconds": 0}, "pf_seconds must be at least 1"),
    ],
)
def test_bad_wait_bounds_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Waits(**change)


def test_jsonpath_key_escapes_every_dot() -> None:
    assert jsonpath_key("example.co.uk/vf_pool") == "example\\.co\\.uk/vf_pool"


# --- the wait against the stand-in kubectl ---


def test_right_count_after_a_delay_passes(kubectl: StandIn) -> None:
    # The restart: the old pod's VFs drop out of allocatable, the new pod registers them.
    kubectl.answer(cluster((0, advertised(VF, 4, 0)), (3, advertised(VF, 4, 4))))
    done = wait(4, timeout=30)
    assert done.returncode == 0, done.stderr
    assert f"{NODE} advertises {VF}: capacity 4, allocatable 4 (expected 4)" in done.stdout
    assert last_json(done.stdout) == {
        "node": NODE,
        "resource": VF,
        "expected": 4,
        "capacity": 4,
        "allocatable": 4,
        "checked": True,
    }
    assert node_reads(kubectl) == 4  # three that saw 0, the one that saw 4


def test_advertising_zero_fails_with_both_numbers_the_pod_and_the_selectors(
    kubectl: StandIn,
) -> None:
    kubectl.answer(cluster((0, advertised(VF, 0, 0))))
    done = wait(4)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[0] == (
        f"wait-vfs-advertised: {NODE} does not advertise its VFs after 1s: {VF} capacity 0, "
        "allocatable 0, expected 4"
    )
    assert lines[1] == (
        f"  device plugin pods on {NODE} (kube-system, name=sriov-device-plugin): "
        "kube-sriov-device-plugin-x7k2p (Running)"
    )
    assert "selectors match none of the node's VFs" in lines[2]
    selectors = "agilio-offload:sriov.vendors=19ee, sriov.devices=6003, sriov.drivers=nfp_netvf"
    assert selectors in lines[2]
    # It read the node before giving up (that it keeps polling is shown by the delayed-count
    # test; how many reads fit in 1 s depends on the machine's load).
    assert node_reads(kubectl) >= 1


def test_never_advertised_is_bounded_and_names_the_cause(kubectl: StandIn) -> None:
    # No matching VF: the plugin creates no resource server, the node never has the resource.
    kubectl.answer(cluster((0, advertised(VF, None, None))))
    done = wait(8, sriov=SriovConfig(vendors=["1da8"], devices=["3803"]))
    assert done.returncode == 1
    assert "capacity none, allocatable none, expected 8" in done.stderr
    assert "sriov.vendors=1da8, sriov.devices=3803" in done.stderr
    assert "no devices in device pool" in done.stderr


def test_fewer_than_expected(kubectl: StandIn) -> None:
    kubectl.answer(cluster((0, advertised(VF, 2, 2))))
    done = wait(4)
    assert done.returncode == 1
    assert "capacity 2, allocatable 2, expected 4" in done.stderr
    assert "likely cause: fewer VFs advertised than created" in done.stderr


def test_plugin_pod_not_running(kubectl: StandIn) -> None:
    pods = [plugin_pod("kube-sriov-device-plugin-p9", NODE, phase="Pending")]
    kubectl.answer(cluster((0, advertised(VF, None, None)), pods=pods))
    done = wait(4)
    assert done.returncode == 1
    assert "kube-sriov-device-plugin-p9 (Pending)" in done.stderr
    assert "likely cause: the device plugin pod on worker-1 is not running" in done.stderr


def test_no_plugin_pod_on_the_node(kubectl: StandIn) -> None:
    pods = [plugin_pod("kube-sriov-device-plugin-other", "worker-2")]
    kubectl.answer(cluster((0, advertised(VF, None, None)), pods=pods))
    done = wait(4)
    assert done.returncode == 1
    assert "(kube-system, name=sriov-device-plugin): none" in done.stderr
    assert "likely cause: no device plugin pod on worker-1" in done.stderr
    assert "agilio-offload/agilio-cx=true" in done.stderr


def test_counts_of_a_terminating_pod_do_not_pass(kubectl: StandIn) -> None:
    # Just after the restart the node still shows the old pod's count: not proof yet.
    pods = [plugin_pod("kube-sriov-device-plugin-old", NODE, terminating=True)]
    kubectl.answer(cluster((0, advertised(VF, 4, 4)), pods=pods))
    done = wait(4)
    assert done.returncode == 1
    assert "kube-sriov-device-plugin-old (Running, terminating)" in done.stderr


def test_no_daemon_set_yet_passes_in_the_chain_and_fails_in_the_cluster_check(
    kubectl: StandIn,
) -> None:
    kubectl.answer(cluster(daemon_set=False, pods=[]))
    done = wait(4)
    assert done.returncode == 0, done.stderr
    assert "no device plugin DaemonSet kube-system/kube-sriov-device-plugin yet" in done.stdout
    assert last_json(done.stdout)["checked"] is False
    assert node_reads(kubectl) == 0
    failed = wait(4, without_plugin="fail")
    assert failed.returncode == 1
    assert "the device plugin DaemonSet kube-system/kube-sriov-device-plugin does not exist" in (
        failed.stderr
    )


@pytest.mark.parametrize(
    "status",
    [
        advertised(VF, None, None),  # never had VFs: no resource server, no resource
        advertised(VF, 0, 0),
        # VFs just removed: kubelet keeps them in capacity for endpointStopGracePeriod
        advertised(VF, 4, 0),
    ],
    ids=["absent", "zero", "capacity-in-grace-period"],
)
def test_a_node_with_no_vfs_expects_zero(kubectl: StandIn, status: dict[str, Any]) -> None:
    kubectl.answer(cluster((0, status)))
    done = wait(0)
    assert done.returncode == 0, done.stderr
    assert last_json(done.stdout)["expected"] == 0
    assert last_json(done.stdout)["allocatable"] in (None, 0)


def test_zero_expected_but_vfs_advertised_fails(kubectl: StandIn) -> None:
    kubectl.answer(cluster((0, advertised(VF, 4, 4))))
    done = wait(0)
    assert done.returncode == 1
    assert "likely cause: more VFs advertised than this node has" in done.stderr


def test_every_kubectl_call_gets_the_kubeconfig_and_context(
    kubectl: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # not what `~` means (issue 19): passwd home
    kubectl.answer(cluster((0, advertised(VF, 4, 4))))
    # Whether kubectl finds a kubeconfig there depends on the machine (client-go clientcmd
    # `ClientConfigLoadingRules.Load`: an explicit path that does not exist is an error).
    wait(4, kubernetes=KubernetesConfig(context="lab", kubeconfig_path="~/.kube/lab"))
    calls = kubectl.calls()
    assert calls and all(
        call[:4] == ["--kubeconfig", f"{passwd_home()}/.kube/lab", "--context", "lab"]
        for call in calls
    )
    # A kubeconfig that exists: every call of a wait that passes carries it.
    kubeconfig = str(kubectl.cluster.state_dir / "kubeconfig")
    kubectl.answer(cluster((0, advertised(VF, 4, 4))))
    done = wait(4, kubernetes=KubernetesConfig(context="lab", kubeconfig_path=kubeconfig))
    assert done.returncode == 0, done.stderr
    calls = kubectl.calls()
    assert len(calls) > 1
    assert all(call[:4] == ["--kubeconfig", kubeconfig, "--context", "lab"] for call in calls)
    assert calls[0][4:] == [
        "get",
        "daemonset",
        "kube-sriov-device-plugin",
        "--namespace",
        "kube-system",
        "--ignore-not-found",
        "-o",
        "name",
    ]


def test_unreachable_cluster_fails_at_once(kubectl: StandIn) -> None:
    kubectl.answer({"unreachable": True})
    done = wait(4, timeout=30)
    assert done.returncode == 1
    assert "The connection to the server 127.0.0.1:6443 was refused" in done.stderr
    assert "cannot read the DaemonSet kube-system/kube-sriov-device-plugin" in done.stderr
    assert len(kubectl.calls()) == 1


# --- the cluster-level check, as the program registers it ---


@cache
def dev_run() -> ProgramRun:
    result = run_stack("dev", {})
    assert result.error is None, result.error
    return result


def test_cluster_check_runs_once_per_node_after_the_device_plugin() -> None:
    run = dev_run()
    component = run.by_name("vfs-advertised")
    assert component.type == VF_REGISTRATION_TYPE
    # The SDK turns a dependency on a component into one on each of its children.
    assert run.by_name("sriov-device-plugin-ds").urn in component.depends_on
    checks = [r for r in run.resources if r.parent == component.urn]
    assert sorted(r.name for r in checks) == [
        "vfs-advertised-lab-worker-1",
        "vfs-advertised-lab-worker-2",
    ]
    for check, expected in zip(checks, (4, 8), strict=True):
        assert check.type == LOCAL_COMMAND
        create = check.inputs["create"]
        assert create == wait_vfs_advertised_command(
            KubernetesConfig(context="kind-agilio-lab"),
            check.name.removeprefix("vfs-advertised-"),
            SRIOV,
            expected,
            without_plugin="fail",
        )
        assert check.inputs["triggers"] == [
            expected,
            VF,
            "19ee",
            "6003",
            "nfp_netvf",
            pins.SRIOV_DEVICE_PLUGIN_IMAGE,
        ]


def test_the_plugin_names_the_wait_uses_are_the_plugins() -> None:
    daemon_set = dev_run().by_name("sriov-device-plugin-ds").inputs
    assert daemon_set["metadata"]["name"] == DEVICE_PLUGIN_DAEMON_SET
    key, value = DEVICE_PLUGIN_POD_SELECTOR.split("=")
    assert daemon_set["spec"]["template"]["metadata"]["labels"][key] == value
