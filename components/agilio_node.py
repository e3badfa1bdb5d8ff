"""AgilioNode: firmware, driver and SR-IOV VFs on one node over SSH (runbook steps 1 and 2).

Each step is a `remote.Command` running a script from `node_scripts/` with its parameters in a
quoted prelude; the steps run in runbook order, each depending on the one before:

    preflight (read-only) -> [drain] -> reload-wait (read-only) -> firmware -> driver -> vfs
    -> [drain-before-undo] -> device-plugin-restart -> [uncordon]

`agilio_nodes_in_batches` rolls the nodes out `rollout.maxUnavailable` at a time: no hardware step
of any node starts before every node passed its preflight, and batch k starts after batch k-1's
last step.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
from pulumi_command import local, remote

from components.cluster import SYSTEM_NAMESPACE
from components.config import KubernetesConfig, ResolvedNode, SriovConfig, StackConfig
from components.scripts import ParamValue, remote_command, render_script

TYPE = "agilio-offload:index:AgilioNode"
# The node steps in runbook order; each is a remote command named "<node>-<step>".
STEPS = ("preflight", "reload-wait", "firmware", "driver", "vfs")
HARDWARE_STEPS = ("firmware", "driver", "vfs")
# What the firmware and vfs steps report in their JSON line, exposed as the node's facts.
REPORTED_FACTS = ("pciAddress", "totalVfs", "vfs", "firmware")

MIN_KERNEL = "5.7"
# How long the vfs step waits for the PF to come back after a driver reload.
PF_WAIT_SECONDS = 300
# A node whose NIC reloads drops SSH for a while: retry the dial for up to 40 x 15 s.
DIAL_ERROR_LIMIT = 40
PER_DIAL_TIMEOUT_SECONDS = 15
DRAIN_TIMEOUT = "600s"
DRAIN_OPTIONS = ("--ignore-daemonsets", "--delete-emptydir-data", f"--timeout={DRAIN_TIMEOUT}")
# The SR-IOV device plugin's pods (components/sriov_device_plugin.py sets this label).
DEVICE_PLUGIN_POD_SELECTOR = "name=sriov-device-plugin"


@dataclass
class NodeAccess:
    """How the program reaches nodes: SSH key (or the SSH agent) and kubectl for draining."""

    private_key: pulumi.Input[str] | None = None
    drain: bool = True
    kubernetes: KubernetesConfig = field(default_factory=KubernetesConfig)
    # The device plugin's selectors: preflight checks the card's VFs against them.
    sriov: SriovConfig = field(default_factory=SriovConfig)


@dataclass
class AgilioNodeArgs:
    node: ResolvedNode
    access: NodeAccess


def parse_facts(stdout: str) -> dict[str, object]:
    """The JSON object a node step prints as its last line (empty when it printed none)."""
    lines = [line for line in stdout.strip().splitlines() if line.strip()]
    if not lines:
        return {}
    try:
        facts = json.loads(lines[-1])
    except json.JSONDecodeError:
        return {}
    return facts if isinstance(facts, dict) else {}


def _shell_path(path: str) -> str:
    """A quoted path for the operator's shell. A leading `~/` becomes `"$HOME"/` (kubectl does
    not expand `~`, and a quoted one is literal), so the command reads the same on every
    operator's machine and a change of operator does not re-run the drain."""
    if path.startswith("~/"):
        return '"$HOME"/' + shlex.quote(path[2:])
    return shlex.quote(path)


def _kubectl(kubernetes: KubernetesConfig, *args: str) -> str:
    command = ["kubectl"]
    if kubernetes.kubeconfig_path:
        command += ["--kubeconfig", _shell_path(kubernetes.kubeconfig_path)]
    if kubernetes.context:
        command += ["--context", shlex.quote(kubernetes.context)]
    return " ".join([*command, *(shlex.quote(arg) for arg in args)])


class AgilioNode(pulumi.ComponentResource):
    """One Agilio node's hardware steps; outputs the facts the steps report."""

    def __init__(
        self,
        name: str,
        args: AgilioNodeArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        self.node_name = args.node.name
        self._node = args.node
        self._access = args.access
        self._connection = self._connection_args()
        sriov = self._access.sriov
        self.preflight = self._step(
            "preflight",
            {
                "MIN_KERNEL": MIN_KERNEL,
                "VFS": self._node.vfs,
                "VENDORS": " ".join(sriov.vendors),
                "DEVICES": " ".join(sriov.devices),
                "DRIVERS": " ".join(sriov.drivers),
            },
            undo=False,
        )

    def roll_out(self, after: Sequence[pulumi.Resource]) -> pulumi.Resource:
        """The changing steps, once `after` (the node's rollout gate) is done; returns the last.

        A second phase rather than part of the constructor so the rollout's gate can wait for
        every node's preflight and still come before every node's first change.
        """
        first_change: list[pulumi.Resource] = [self.preflight, *after]
        if self._access.drain:
            self.drain = self._kubectl_step("drain", *self._drain_args(), after=first_change)
            first_change = [self.drain]
        # Read-only; its undo holds a destroy until the reload the firmware undo started is
        # done, so the next batch is undone only then.
        self.reload_wait = self._step("reload-wait", self._wait_params(), after=first_change)
        self.firmware = self._step("firmware", {"ACTION": "apply"}, after=[self.reload_wait])
        self.driver = self._step(
            "driver", {"RELOAD": "auto", **self._wait_params()}, after=[self.firmware]
        )
        self.vfs = self._step(
            "vfs", {"VFS": self._node.vfs, **self._wait_params()}, after=[self.driver]
        )
        after_vfs: list[pulumi.Resource] = [self.vfs]
        if self._access.drain:
            self.drain_before_undo = self._drain_before_undo(after=after_vfs)
            after_vfs = [self.drain_before_undo]
        # The device plugin counts VFs only when it starts: restart this node's copy so kubelet
        # sees the new VFs (none runs yet on a first rollout; then this does nothing).
        self.device_plugin_restart = self._kubectl_step(
            "device-plugin-restart", *self._device_plugin_restart_args(), after=after_vfs
        )
        self.last_step: pulumi.Resource = self.device_plugin_restart
        if self._access.drain:
            self.last_step = self._kubectl_step(
                "uncordon", "uncordon", self._node.name, after=[self.device_plugin_restart]
            )

        reported = pulumi.Output.all(self.firmware.stdout, self.vfs.stdout).apply(self._facts)
        # Field by field, so a preview shows the PF (known) beside what the node will report.
        self.facts: dict[str, pulumi.Input[object]] = {"pf": self._node.pf}
        for key in REPORTED_FACTS:
            self.facts[key] = reported.apply(lambda facts, key=key: facts[key])
        self.register_outputs({"node": self._node.name, "facts": self.facts})
        return self.last_step

    # --- the steps ---

    def _connection_args(self) -> remote.ConnectionArgs:
        return remote.ConnectionArgs(
            host=self._node.host,
            port=self._node.port,
            user=self._node.user,
            private_key=self._access.private_key,
            host_key=self._node.host_key,
            dial_error_limit=DIAL_ERROR_LIMIT,
            per_dial_timeout=PER_DIAL_TIMEOUT_SECONDS,
        )

    def _params(self, extra: dict[str, ParamValue]) -> dict[str, ParamValue]:
        node = self._node
        return {"NODE": node.name, "PF": node.pf, "APP": node.app, "ASSY": node.assy, **extra}

    @staticmethod
    def _wait_params() -> dict[str, ParamValue]:
        return {"ACTION": "apply", "PF_WAIT_SECONDS": PF_WAIT_SECONDS}

    def _command(self, step: str, params: dict[str, ParamValue]) -> str:
        return remote_command(render_script(step, self._params(params)), sudo=self._node.sudo)

    def _step(
        self,
        step: str,
        params: dict[str, ParamValue],
        *,
        undo: bool = True,
        after: Sequence[pulumi.Resource] = (),
    ) -> remote.Command:
        delete = self._command(step, {**params, "ACTION": "undo"}) if undo else None
        return remote.Command(
            f"{self._node.name}-{step}",
            connection=self._connection,
            create=self._command(step, params),
            delete=delete,
            # A new PF is a different device: undo the step on the old one, then apply anew.
            triggers=[self._node.pf] if undo else None,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=after,
                # The old step's delete would undo the new step's create on the same host.
                delete_before_replace=True,
            ),
        )

    def _kubectl_step(
        self, step: str, *kubectl_args: str, after: Sequence[pulumi.Resource]
    ) -> local.Command:
        return local.Command(
            f"{self._node.name}-{step}",
            create=_kubectl(self._access.kubernetes, *kubectl_args),
            # Re-run around every change of the steps it brackets.
            triggers=[self._node.app, self._node.assy, self._node.pf, self._node.vfs],
            opts=pulumi.ResourceOptions(parent=self, depends_on=after),
        )

    def _drain_args(self) -> tuple[str, ...]:
        return ("drain", self._node.name, *DRAIN_OPTIONS)

    def _device_plugin_restart_args(self) -> tuple[str, ...]:
        """Delete this node's device plugin pod; its DaemonSet starts a new one at once."""
        return (
            "delete",
            "pod",
            "--namespace",
            SYSTEM_NAMESPACE,
            "--selector",
            DEVICE_PLUGIN_POD_SELECTOR,
            "--field-selector",
            f"spec.nodeName={self._node.name}",
            "--ignore-not-found",
        )

    def _drain_before_undo(self, *, after: Sequence[pulumi.Resource]) -> local.Command:
        """Drains the node when its steps are undone (the node leaves the stack, or destroy).

        Creating it does nothing. Pulumi deletes dependents first, so its delete (the drain)
        runs before the vfs, driver and firmware undo; as the batch gates wait for it, a
        destroy drains and undoes one batch at a time. The node stays cordoned after the undo:
        uncordon it when it should take pods again. No triggers: changes never re-run it.
        """
        name = self._node.name
        return local.Command(
            f"{name}-drain-before-undo",
            create=shlex.join(["echo", f"agilio-offload: {name} is drained before any undo"]),
            delete=_kubectl(self._access.kubernetes, *self._drain_args()),
            opts=pulumi.ResourceOptions(parent=self, depends_on=after),
        )

    @staticmethod
    def _facts(stdouts: list[str]) -> dict[str, object]:
        firmware, vfs = (parse_facts(text or "") for text in stdouts)
        return {
            "pciAddress": vfs.get("pciAddress") or firmware.get("pciAddress"),
            "totalVfs": vfs.get("totalVfs"),
            "vfs": vfs.get("vfs"),
            "firmware": firmware.get("firmware"),
        }


def node_access(config: StackConfig, private_key: pulumi.Input[str] | None) -> NodeAccess:
    """SSH key from the secret `sshPrivateKey`, else from `ssh.privateKeyPath`, else the agent."""
    key = private_key
    if key is None and config.ssh.private_key_path:
        key = pulumi.Output.secret(Path(config.ssh.private_key_path).expanduser().read_text())
    return NodeAccess(
        private_key=key,
        drain=config.rollout.drain,
        kubernetes=config.kubernetes,
        sriov=config.sriov,
    )


def agilio_nodes_in_batches(
    config: StackConfig, private_key: pulumi.Input[str] | None
) -> list[AgilioNode]:
    """Every Agilio node, `rollout.maxUnavailable` at a time, in config order.

    Every node's preflight comes first, then a gate that waits for all of them: a node that
    fails its checks stops the rollout before any hardware changes anywhere. Batches are then
    separated by gates, no-op local commands that wait for the last steps of the batch before:
    each node of the next batch waits for one gate instead of every node of the batch before
    (n edges instead of n x maxUnavailable).
    """
    access = node_access(config, private_key)
    nodes = [
        AgilioNode(node.name, AgilioNodeArgs(node, access)) for node in config.resolved_nodes()
    ]
    gate = _gate(
        "preflight-gate",
        "every node passed its preflight checks",
        [node.preflight for node in nodes],
    )
    size = config.rollout.max_unavailable
    for number, start in enumerate(range(0, len(nodes), size), start=1):
        batch = nodes[start : start + size]
        last_steps = [node.roll_out(after=[gate]) for node in batch]
        if start + size < len(nodes):
            gate = _gate(f"batch-{number}-done", f"rollout batch {number} done", last_steps)
    return nodes


def _gate(name: str, message: str, after: Sequence[pulumi.Resource]) -> local.Command:
    """A point of the rollout that waits for `after`; running it only prints `message`."""
    return local.Command(
        name,
        create=shlex.join(["echo", f"agilio-offload: {message}"]),
        opts=pulumi.ResourceOptions(depends_on=after),
    )
