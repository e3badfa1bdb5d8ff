"""The runbook's registration check: each Agilio node advertises its VFs to Kubernetes.

After the SR-IOV device plugin (re)starts on a node, kubelet puts the VFs it registered into the
node's `status.capacity` and `status.allocatable` as `<prefix>/<name>` (`corigine.com/
agilio_sriov`). When the plugin's selectors do not match the card, it registers nothing, `pulumi
up` would succeed and every offloaded pod would stay Pending. `wait-vfs-advertised.sh` waits,
bounded, until the node advertises exactly its VF count, and fails with both numbers, the
plugin pod's state and the likely cause.

Two places run it:

- per node, in the rollout after `<node>-device-plugin-restart` (the integrator builds that
  `local.Command` with `wait_vfs_advertised_command(...)`): with no device plugin DaemonSet yet,
  as on the first rollout (the plugin is created after the nodes), it says so and passes;
- once per Agilio node after the plugin's DaemonSet is up (`VfRegistration`, wired after
  `SriovDevicePlugin` in `__main__.py`): there a missing DaemonSet is an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
from pulumi_command import local

from components.cluster.kubectl import kubectl_command
from components.cluster.provider import SYSTEM_NAMESPACE
from components.config import pins
from components.config.models import KubernetesConfig, SriovConfig
from components.names import (
    AGILIO_NODE_LABEL,
    AGILIO_NODE_LABEL_VALUE,
    DEVICE_PLUGIN_DAEMON_SET,
    DEVICE_PLUGIN_POD_SELECTOR,
    VF_REGISTRATION_TYPE,
)
from components.scripts import KUBECTL_SCRIPTS, ParamValue, remote_command, render_script
from components.waits import DEFAULT_WAITS, Waits

SCRIPT = "wait-vfs-advertised"

WithoutPlugin = Literal["pass", "fail"]


def render_kubectl_script(name: str, params: Mapping[str, ParamValue]) -> str:
    """The script with its parameters in a quoted prelude right after the shebang (the node
    scripts' mechanism, components/scripts.py)."""
    return render_script(name, params, KUBECTL_SCRIPTS)


def kubectl_script_command(
    kubernetes: KubernetesConfig, name: str, params: Mapping[str, ParamValue]
) -> str:
    """The `local.Command` text that runs kubectl_scripts/<name>.sh: its parameters in the
    quoted prelude, the kubectl to run (with the stack's `--kubeconfig`/`--context`, quoted by
    `kubectl_command`) as its arguments, so the operator's shell expands a `~/` kubeconfig path
    as for every other kubectl step. `$0` is the script's name (tools/engine/rollout_analysis.py
    finds the drain by it)."""
    script = render_kubectl_script(name, params)
    return f"{remote_command(script, sudo=False)} {name} {kubectl_command(kubernetes)}"


def jsonpath_key(key: str) -> str:
    """`key` as one kubectl jsonpath field: dots escaped (client-go util/jsonpath parser.go,
    `advance`, takes `\\.` as part of the name; `/` needs no escape)."""
    return key.replace(".", "\\.")


def wait_params(
    node: str,
    sriov: SriovConfig,
    expected: int,
    waits: Waits,
    without_plugin: WithoutPlugin = "pass",
) -> dict[str, ParamValue]:
    """The script's parameters; ValueError for values the wait cannot use (the bounds are
    checked by `Waits` itself)."""
    if expected < 0:
        raise ValueError(f"expected VF count of {node} must be 0 or more, not {expected}")
    if without_plugin not in ("pass", "fail"):
        raise ValueError(f"without_plugin must be 'pass' or 'fail', not {without_plugin!r}")
    return {
        "NODE": node,
        "RESOURCE": sriov.resource,
        "RESOURCE_PATH": jsonpath_key(sriov.resource),
        "EXPECTED": expected,
        "TIMEOUT_SECONDS": waits.vfs_advertised_seconds,
        "INTERVAL_SECONDS": f"{waits.vfs_advertised_interval:g}",
        "NAMESPACE": SYSTEM_NAMESPACE,
        "DAEMONSET": DEVICE_PLUGIN_DAEMON_SET,
        "POD_SELECTOR": DEVICE_PLUGIN_POD_SELECTOR,
        "WITHOUT_PLUGIN": without_plugin,
        "VENDORS": ",".join(sriov.vendors),
        "DEVICES": ",".join(sriov.devices),
        "DRIVERS": ",".join(sriov.drivers),
        "NODE_LABEL": AGILIO_NODE_LABEL,
        "NODE_LABEL_VALUE": AGILIO_NODE_LABEL_VALUE,
        "NODE_LABEL_PATH": jsonpath_key(AGILIO_NODE_LABEL),
    }


def wait_vfs_advertised_command(
    kubernetes: KubernetesConfig,
    node: str,
    sriov: SriovConfig,
    expected: int,
    waits: Waits = DEFAULT_WAITS,
    without_plugin: WithoutPlugin = "pass",
) -> str:
    """The `local.Command` create text that waits until `node` advertises `expected` VFs.

    The script's parameters sit in its quoted prelude; the kubectl to run (with the stack's
    `--kubeconfig`/`--context`, quoted by `kubectl_command`) follows as the script's arguments,
    so the operator's shell expands a `~/` kubeconfig path as for every other kubectl step.
    `without_plugin="pass"` (the in-chain step) passes when no device plugin DaemonSet exists
    yet; `"fail"` (the cluster check) fails then.
    """
    params = wait_params(node, sriov, expected, waits, without_plugin)
    return kubectl_script_command(kubernetes, SCRIPT, params)


@dataclass
class VfRegistrationArgs:
    """The Agilio nodes with their VF counts, the plugin's resource and selectors, the cluster."""

    nodes: Mapping[str, int]
    sriov: SriovConfig
    kubernetes: KubernetesConfig
    waits: Waits = field(default_factory=Waits)


class VfRegistration(pulumi.ComponentResource):
    """The registration check once per Agilio node, after the device plugin's DaemonSet is up.

    Create it depending on the `SriovDevicePlugin` (pulumi-kubernetes waits for the DaemonSet's
    rollout before dependents start). Each child `<name>-<node>` runs again when the node's VF
    count, the resource, the selectors or the plugin's image change.
    """

    def __init__(
        self, name: str, args: VfRegistrationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(VF_REGISTRATION_TYPE, name, None, opts)
        self.checks: list[local.Command] = [
            self._check(name, node, expected, args) for node, expected in args.nodes.items()
        ]
        self.register_outputs({"nodes": dict(args.nodes), "resource": args.sriov.resource})

    def _check(
        self, name: str, node: str, expected: int, args: VfRegistrationArgs
    ) -> local.Command:
        create = wait_vfs_advertised_command(
            args.kubernetes, node, args.sriov, expected, args.waits, without_plugin="fail"
        )
        return local.Command(
            f"{name}-{node}",
            create=create,
            triggers=registration_triggers(args.sriov, expected),
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions(parent=self),
        )


def registration_triggers(sriov: SriovConfig, expected: int) -> Sequence[object]:
    """What makes the wait run again: the VF count, the resource, the selectors and the plugin
    release (a new plugin may count VFs differently)."""
    selectors = [*sriov.vendors, *sriov.devices, *sriov.drivers]
    return [expected, sriov.resource, *selectors, pins.SRIOV_DEVICE_PLUGIN_IMAGE]
