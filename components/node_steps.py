"""How one step of a node is made: its SSH connection, its rendered script, its resource options.

Shared by the preflight (components/preflight.py) and the changing steps (components/agilio_node.py)
so every command that reaches a node is built one way: the script from `node_scripts/` with its
parameters in a quoted prelude, run over SSH by a `remote.Command`, or kubectl on the operator's
machine by a `local.Command`.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
from pulumi_command import local, remote

from components.config.models import KubernetesConfig, ResolvedNode, SriovConfig, StackConfig
from components.scripts import ParamValue, remote_command, render_script

MIN_KERNEL = "5.7"
# How long a step waits for the PF to come back after a driver reload.
PF_WAIT_SECONDS = 300
# pulumi-command retries only the dial (remote/connection.go `Dial`): up to DIAL_ERROR_LIMIT
# failed dials, each bounded by PER_DIAL_TIMEOUT_SECONDS, with the pulumi SDK's retry backoff
# between them (sdk/go/common/util/retry/until.go: 100 ms, x1.5, at most 5 s). See
# `dial_budget_seconds` for what that allows while a node's NIC reloads: with 30 dials, about
# 9 minutes while the address is gone (each dial times out), about 2 minutes once the address
# answers but sshd refuses; both outlast the PF's reappearance after a reload.
DIAL_ERROR_LIMIT = 30
PER_DIAL_TIMEOUT_SECONDS = 15
RETRY_FIRST_DELAY_SECONDS = 0.1
RETRY_BACKOFF = 1.5
RETRY_MAX_DELAY_SECONDS = 5.0


def dial_budget_seconds(
    limit: int = DIAL_ERROR_LIMIT, per_dial: float = PER_DIAL_TIMEOUT_SECONDS
) -> tuple[float, float]:
    """(shortest, longest) time pulumi-command keeps dialing a node that does not answer.

    Shortest: every dial is refused at once (the address is back, sshd is not). Longest: every
    dial times out (the address is gone). The waits between dials follow the SDK's backoff.
    """
    waits, delay = 0.0, RETRY_FIRST_DELAY_SECONDS
    for _ in range(limit - 1):
        waits += min(delay, RETRY_MAX_DELAY_SECONDS)
        delay *= RETRY_BACKOFF
    return waits, waits + limit * per_dial


@dataclass
class NodeAccess:
    """How the program reaches nodes: SSH key (or the SSH agent), kubectl for draining, and the
    device plugin resource whose registration it checks."""

    private_key: pulumi.Input[str] | None = None
    drain: bool = True
    kubernetes: KubernetesConfig = field(default_factory=KubernetesConfig)
    sriov: SriovConfig = field(default_factory=SriovConfig)


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


def connection_args(node: ResolvedNode, access: NodeAccess) -> remote.ConnectionArgs:
    return remote.ConnectionArgs(
        host=node.host,
        port=node.port,
        user=node.user,
        private_key=access.private_key,
        host_key=node.host_key,
        dial_error_limit=DIAL_ERROR_LIMIT,
        per_dial_timeout=PER_DIAL_TIMEOUT_SECONDS,
    )


def connection_fingerprint(node: ResolvedNode) -> dict[str, object]:
    """The non-secret parts of a node's connection: a change of any re-runs its steps."""
    return {
        "host": node.host,
        "port": node.port,
        "user": node.user,
        "hostKey": node.host_key,
        "dialErrorLimit": DIAL_ERROR_LIMIT,
        "perDialTimeout": PER_DIAL_TIMEOUT_SECONDS,
    }


@dataclass(frozen=True)
class StepCommands:
    """What a node step runs: on create (and update), and on delete (None: nothing to undo)."""

    create: str
    delete: str | None


class NodeStepFactory:
    """Makes one node's steps, each a child of `parent` named `<node>-<step>`."""

    def __init__(self, node: ResolvedNode, access: NodeAccess, parent: pulumi.Resource) -> None:
        self.node = node
        self.access = access
        self.parent = parent
        self.connection = connection_args(node, access)

    def params(self, extra: dict[str, ParamValue]) -> dict[str, ParamValue]:
        node = self.node
        return {"NODE": node.name, "PF": node.pf, "APP": node.app, "ASSY": node.assy, **extra}

    def commands(self, step: str, params: dict[str, ParamValue], *, undo: bool) -> StepCommands:
        def command(action: dict[str, ParamValue]) -> str:
            script = render_script(step, self.params({**params, **action}))
            return remote_command(script, sudo=self.node.sudo)

        return StepCommands(
            create=command({"ACTION": "apply"} if undo else {}),
            delete=command({"ACTION": "undo"}) if undo else None,
        )

    def remote_step(
        self,
        step: str,
        commands: StepCommands,
        *,
        after: Sequence[pulumi.Input[pulumi.Resource]] = (),
    ) -> remote.Command:
        return remote.Command(
            f"{self.node.name}-{step}",
            connection=self.connection,
            create=commands.create,
            delete=commands.delete,
            # A new PF is a different device (a PF change in place is refused by the change
            # guard; this keeps the old undo on the old PF should one ever get through).
            triggers=[self.node.pf] if commands.delete else None,
            # The provider would otherwise pass the previous stdout as environment variables,
            # which sshd without `AcceptEnv` refuses with a warning on every update.
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions(
                parent=self.parent,
                depends_on=list(after),
                # The old step's delete would undo the new step's create on the same host.
                delete_before_replace=True,
            ),
        )

    def local_step(
        self,
        step: str,
        create: str,
        *,
        after: Sequence[pulumi.Input[pulumi.Resource]],
        delete: str | None = None,
        triggers: Sequence[pulumi.Input[object]] | None = None,
    ) -> local.Command:
        """A kubectl step on the operator's machine. An update (an input changed without a
        trigger: kubeconfig, context, `rollout.drain`) runs nothing; only a trigger change
        (the node's hardware steps will run again) replaces it, which runs `create`."""
        return local.Command(
            f"{self.node.name}-{step}",
            create=create,
            update=echo_command(f"{self.node.name} {step}: updated, nothing to run"),
            delete=delete,
            triggers=list(triggers) if triggers is not None else None,
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions(parent=self.parent, depends_on=list(after)),
        )


def echo_command(message: str) -> str:
    """A command that only prints `agilio-offload: <message>`."""
    return shlex.join(["echo", f"agilio-offload: {message}"])
