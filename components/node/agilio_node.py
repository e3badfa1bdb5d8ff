"""AgilioNode: firmware, driver and SR-IOV VFs on one node over SSH (runbook steps 1 and 2).

Each step is a `remote.Command` running a script from `scripts/` with its parameters in a
quoted prelude, or kubectl on the operator's machine; the steps run in runbook order, each
depending on the one before:

    uncordon-after-undo -> drain -> drained -> reload-wait (read-only) -> ssh-return-after-undo
    -> firmware -> driver -> ssh-return -> vfs -> drain-before-undo -> device-plugin-restart
    -> vfs-advertised (read-only) -> uncordon

`drain` prints a fresh lease token; `drained` records it on the node, and the hardware steps
refuse to change the node without a fresh one (lease.py, scripts/lib-lease.sh), so `pulumi up
--target <node>-vfs` cannot skip the drain.
`uncordon-after-undo` and `drain-before-undo` do nothing on create; they are the node's undo
brackets (Pulumi deletes dependents first): drain before the hardware undo, uncordon after it.
`ssh-return` (after the driver step) and `ssh-return-after-undo` (its delete, after the firmware
undo) wait on the operator's machine, without an SSH session, for the node's SSH port to go
away and come back when a detached nfp reload took the node's address with the PF
(docs/ssh-and-reload.md).

Every step is made one way, by `NodeStepFactory` (below; the node's read-only preflight,
preflight.py, makes its step with it too): the script from `scripts/` with its parameters in a
quoted prelude, run over SSH by a `remote.Command`, or kubectl on the operator's machine by a
`local.Command`. rollout.py says what the node's first step waits for (`AgilioNodeArgs.after`:
the preflight gate and the node before it in its lane).
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_command import local, remote

from components.cluster.kubectl import if_node_exists, kubectl_command
from components.cluster.provider import SYSTEM_NAMESPACE
from components.cluster.vf_registration import kubectl_script_command, wait_vfs_advertised_command
from components.config.models import KubernetesConfig, ResolvedNode, SriovConfig, StackConfig
from components.config.paths import expand_home
from components.names import (
    AGILIO_NODE_LABEL,
    AGILIO_NODE_LABEL_VALUE,
    AGILIO_NODE_TYPE,
    DECOMMISSIONED_FACT,
    DEVICE_PLUGIN_POD_SELECTOR,
    DRAIN_SCRIPT,
    SSH_RETURN_AFTER_UNDO_STEP,
    SSH_RETURN_STEP,
    step_name,
)
from components.node.lease import (
    DIGEST_PARAM,
    DRAINED_STEP,
    LEASE_PARAM,
    command_digest,
    drain_lease,
    print_lease_command,
    reprint_lease_command,
)
from components.scripts import (
    ParamValue,
    remote_command,
    render_operator_script,
    render_script,
)
from components.waits import DEFAULT_WAITS, Waits

# What the firmware and vfs steps report in their JSON line, exposed as the node's facts.
REPORTED_FACTS = ("pciAddress", "totalVfs", "vfs", "firmware")

DRAIN_TIMEOUT = "600s"
# How long the device plugin restart waits for the old pod to be gone. Without --timeout
# `kubectl delete` waits 168 h (kubectl delete.go DeleteResult), e.g. for a pod stuck
# Terminating on a NotReady node.
POD_DELETE_TIMEOUT = "120s"
DRAIN_OPTIONS = ("--ignore-daemonsets", "--delete-emptydir-data", f"--timeout={DRAIN_TIMEOUT}")

# pulumi-command retries only the dial (remote/connection.go `dialWithRetry`): it stops when
# `try + 1 > dialErrorLimit`, so DIAL_ERROR_LIMIT + 1 tries, each bounded by
# PER_DIAL_TIMEOUT_SECONDS for the TCP connect only (x/crypto ssh.Dial: `net.DialTimeout(...,
# config.Timeout)`; the SSH handshake has no deadline), with the pulumi SDK's retry waits between
# them (sdk/go/common/util/retry/until.go: 100 ms, x1.5, at most 5 s). `dial_budget_seconds`
# gives the figures: 31 tries, 111.3 s of waits; about 9.6 minutes while every connect times
# out, about 1.9 minutes while every connect is refused.
DIAL_ERROR_LIMIT = 30
PER_DIAL_TIMEOUT_SECONDS = 15
RETRY_FIRST_DELAY_SECONDS = 0.1
RETRY_BACKOFF = 1.5
RETRY_MAX_DELAY_SECONDS = 5.0


def dial_budget_seconds(
    limit: int = DIAL_ERROR_LIMIT, per_dial: float = PER_DIAL_TIMEOUT_SECONDS
) -> tuple[float, float]:
    """(shortest, longest) time pulumi-command keeps dialing a node that does not answer.

    `limit + 1` tries (dialWithRetry, reachedDialingErrorLimit), `limit` waits between them
    (retry.Until: `min(0.1 * 1.5**k, 5)` s after try k). Shortest: every connect is refused at
    once (the address answers, sshd does not). Longest: every TCP connect runs to `per_dial`
    (the address is gone and SYNs are dropped). A peer that accepts TCP but never completes the
    SSH handshake holds one try without bound (x/crypto sets no handshake deadline; sshd's
    LoginGraceTime ends it on a live sshd).
    """
    waits, delay = 0.0, RETRY_FIRST_DELAY_SECONDS
    for _ in range(limit):
        waits += min(delay, RETRY_MAX_DELAY_SECONDS)
        delay *= RETRY_BACKOFF
    return waits, waits + (limit + 1) * per_dial


@dataclass(frozen=True)
class SshReturnBounds:
    """The ssh-return probe's bounds (operator_scripts/ssh-return.sh). `gone`: how long the port
    may take to go away after the reload was armed (its 2 s delay on the node, then rmmod);
    `back`: how long it may then take to come back (as long as a step waits for the PF)."""

    gone: int = DEFAULT_WAITS.ssh_gone_seconds
    back: int = DEFAULT_WAITS.pf_seconds
    poll: float = 0.5
    probe: float = 2.0

    @classmethod
    def of(cls, waits: Waits) -> SshReturnBounds:
        return cls(gone=waits.ssh_gone_seconds, back=waits.pf_seconds)


def ssh_return_command(
    node: str, host: str, port: int, action: str, bounds: SshReturnBounds = SshReturnBounds()
) -> str:
    """The local.Command text of the ssh-return probe for `node` (action apply | undo)."""
    params: dict[str, ParamValue] = {
        "NODE": node,
        "HOST": host,
        "PORT": port,
        "ACTION": action,
        "GONE_SECONDS": bounds.gone,
        "BACK_SECONDS": bounds.back,
        "POLL_SECONDS": str(bounds.poll),
        "PROBE_SECONDS": str(bounds.probe),
    }
    script = render_operator_script("ssh-return", params)
    return remote_command(script, sudo=False)


@dataclass
class NodeAccess:
    """How the program reaches nodes: SSH key (or the SSH agent), kubectl for draining, and the
    device plugin resource whose registration it checks."""

    private_key: pulumi.Input[str] | None = None
    drain: bool = True
    # rollout.maxUnavailable: a drain refuses while that many other Agilio nodes are cordoned.
    max_unavailable: int = 1
    kubernetes: KubernetesConfig = field(default_factory=KubernetesConfig)
    sriov: SriovConfig = field(default_factory=SriovConfig)


def node_access(config: StackConfig, private_key: pulumi.Input[str] | None) -> NodeAccess:
    """SSH key from the secret `sshPrivateKey`, else from `ssh.privateKeyPath`, else the agent."""
    key = private_key
    if key is None and config.ssh.private_key_path:
        key = pulumi.Output.secret(expand_home(config.ssh.private_key_path).read_text())
    return NodeAccess(
        private_key=key,
        drain=config.rollout.drain,
        max_unavailable=config.rollout.max_unavailable,
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
    """What a node step runs: on create (and update), and on delete (None: nothing to undo).
    `digest`: the apply command's digest that the drain lease names (hardware steps only)."""

    create: pulumi.Input[str]
    delete: str | None
    digest: str = ""


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

    def commands(
        self, step: str, params: dict[str, ParamValue], *, undo: bool, lease: bool = False
    ) -> StepCommands:
        """`lease`: a hardware step, whose apply names its own digest (rendered without it)
        for the drain lease check."""

        def command(action: dict[str, ParamValue]) -> str:
            script = render_script(step, self.params({**params, **action}))
            return remote_command(script, sudo=self.node.sudo)

        create = command({"ACTION": "apply"} if undo else {})
        digest = ""
        if lease:
            digest = command_digest(create)
            create = command({"ACTION": "apply", DIGEST_PARAM: digest})
        return StepCommands(
            create=create, delete=command({"ACTION": "undo"}) if undo else None, digest=digest
        )

    def remote_step(
        self,
        step: str,
        commands: StepCommands,
        *,
        after: Sequence[pulumi.Input[pulumi.Resource]] = (),
    ) -> remote.Command:
        return remote.Command(
            step_name(self.node.name, step),
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
        environment: dict[str, pulumi.Input[str]] | None = None,
        update: str | None = None,
    ) -> local.Command:
        """A kubectl step on the operator's machine. An update (an input changed without a
        trigger: kubeconfig, context, `rollout.drain`) runs nothing; only a trigger change
        (the node's hardware steps will run again) replaces it, which runs `create`."""
        return local.Command(
            step_name(self.node.name, step),
            create=create,
            update=update or echo_command(f"{self.node.name} {step}: updated, nothing to run"),
            delete=delete,
            triggers=list(triggers) if triggers is not None else None,
            environment=environment,
            # A step with its own update may read its previous stdout (the drain's lease).
            add_previous_output_in_env=update is not None,
            opts=pulumi.ResourceOptions(parent=self.parent, depends_on=list(after)),
        )


def echo_command(message: str) -> str:
    """A command that only prints `agilio-offload: <message>`."""
    return shlex.join(["echo", f"agilio-offload: {message}"])


# --- the node component -------------------------------------------------------------------------


@dataclass
class AgilioNodeArgs:
    node: ResolvedNode
    access: NodeAccess
    # What the node's first change waits for (the rollout's gate, the node before it in its lane).
    after: Sequence[pulumi.Resource] = ()
    # What its VF registration wait needs on the Node first (its label and tunnel annotation).
    marks: Sequence[pulumi.Resource] = ()
    waits: Waits = field(default_factory=Waits)


class AgilioNode(pulumi.ComponentResource):
    """One Agilio node's changing steps; outputs the facts the steps report."""

    uncordon_after_undo: local.Command
    drain: local.Command
    drained: remote.Command
    reload_wait: remote.Command
    ssh_return_after_undo: local.Command
    firmware: remote.Command
    driver: remote.Command
    ssh_return: local.Command
    vfs: remote.Command
    drain_before_undo: local.Command
    device_plugin_restart: local.Command
    vfs_advertised: local.Command
    uncordon: local.Command
    last_step: pulumi.Resource
    facts: dict[str, pulumi.Input[object]]

    def __init__(
        self,
        name: str,
        args: AgilioNodeArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(AGILIO_NODE_TYPE, name, None, opts)
        self.node_name = args.node.name
        self._node = args.node
        self._access = args.access
        self._waits = args.waits
        steps = NodeStepFactory(args.node, args.access, parent=self)
        if args.node.decommission:
            self._decommission(steps, args)
        else:
            self._roll_out(steps, args)
        self.register_outputs({"node": self._node.name, "facts": self.facts})

    def _roll_out(self, steps: NodeStepFactory, args: AgilioNodeArgs) -> None:
        """The node's rollout: its steps in runbook order (the module's docstring)."""
        wait = {"PF_WAIT_SECONDS": args.waits.pf_seconds}
        hardware = {
            "firmware": steps.commands("firmware", {}, undo=True, lease=True),
            # RELOAD=auto: a synchronous reload when SSH does not cross the card, else detached
            # (scripts/driver.sh decides from the node's route to the SSH peer).
            "driver": steps.commands("driver", {"RELOAD": "auto", **wait}, undo=True, lease=True),
            "vfs": steps.commands("vfs", {"VFS": args.node.vfs, **wait}, undo=True, lease=True),
        }
        triggers = self._kubectl_triggers(hardware)

        self.uncordon_after_undo = self._uncordon_after_undo(steps, after=args.after)
        self.drain = steps.local_step(
            "drain",
            f"{self._drain_command()} && {print_lease_command(self.node_name)}",
            after=[self.uncordon_after_undo],
            triggers=triggers,
            update=reprint_lease_command(self.node_name),
        )
        # Records the drain's token on the node: its command carries it, so it runs again
        # exactly when the drain does. Its undo, after the hardware undo, removes the lease.
        self.drained = steps.remote_step(
            DRAINED_STEP, self._drained_commands(steps, hardware), after=[self.drain]
        )
        # Read-only; its undo holds a destroy until the reload that the firmware undo started
        # is done, so the next node in the lane is undone only then.
        self.reload_wait = steps.remote_step(
            "reload-wait", steps.commands("reload-wait", wait, undo=True), after=[self.drained]
        )
        # Its delete runs after the firmware undo (which may arm a detached reload) and before
        # reload-wait's undo dials the node: it waits for the SSH port to go and come back.
        # Like the undo brackets: no triggers (a replacement would run the wait out of order).
        self.ssh_return_after_undo = steps.local_step(
            SSH_RETURN_AFTER_UNDO_STEP,
            echo_command(f"{self.node_name}: the SSH port is watched on destroy only"),
            after=[self.reload_wait],
            delete=self._ssh_return_command("undo"),
        )
        self.firmware = steps.remote_step(
            "firmware", hardware["firmware"], after=[self.ssh_return_after_undo]
        )
        self.driver = steps.remote_step("driver", hardware["driver"], after=[self.firmware])
        # When the driver step armed a detached reload (its facts say so), wait without a
        # session for the node's SSH port to go away and come back before vfs dials.
        self.ssh_return = steps.local_step(
            SSH_RETURN_STEP,
            self._ssh_return_command("apply"),
            after=[self.driver],
            triggers=self._step_triggers({"driver": hardware["driver"]}),
            environment={"AGILIO_DRIVER_FACTS": self.driver.stdout},
        )
        self.vfs = steps.remote_step("vfs", hardware["vfs"], after=[self.ssh_return])
        self.drain_before_undo = self._drain_before_undo(steps, after=[self.vfs])
        # The device plugin counts VFs only when it starts: restart this node's copy so kubelet
        # sees the new VFs (none runs yet on a first rollout; then this does nothing).
        self.device_plugin_restart = steps.local_step(
            "device-plugin-restart",
            kubectl_command(args.access.kubernetes, *self._device_plugin_restart_args()),
            after=[self.drain_before_undo],
            triggers=triggers,
        )
        # The runbook's registration check: the node is uncordoned only once kubelet advertises
        # its VFs (on a first rollout no plugin runs yet: the cluster's VfRegistration checks).
        self.vfs_advertised = steps.local_step(
            "vfs-advertised",
            wait_vfs_advertised_command(
                args.access.kubernetes,
                args.node.name,
                args.access.sriov,
                args.node.vfs,
                args.waits,
            ),
            after=[self.device_plugin_restart, *args.marks],
            triggers=triggers,
        )
        self.uncordon = steps.local_step(
            "uncordon",
            self._uncordon_command(),
            after=[self.vfs_advertised],
            triggers=triggers,
        )
        self.last_step = self.uncordon

        reported = pulumi.Output.all(self.firmware.stdout, self.vfs.stdout).apply(self._facts)
        # Field by field, so a preview shows the PF (known) beside what the node will report.
        self.facts = {"pf": self._node.pf}
        for key in REPORTED_FACTS:
            self.facts[key] = reported.apply(lambda facts, key=key: facts[key])

    def _drained_commands(
        self, steps: NodeStepFactory, hardware: dict[str, StepCommands]
    ) -> StepCommands:
        digests: dict[str, ParamValue] = {
            f"{step.upper()}_DIGEST": commands.digest for step, commands in hardware.items()
        }
        node = self.node_name
        create = self.drain.stdout.apply(
            lambda stdout: (
                steps.commands(
                    DRAINED_STEP, {LEASE_PARAM: drain_lease(node, stdout), **digests}, undo=True
                ).create
            )
        )
        # Its undo (the lease files removed) carries no token: it does not wait for the drain.
        return StepCommands(
            create=create, delete=steps.commands(DRAINED_STEP, {}, undo=True).delete
        )

    def _ssh_return_command(self, action: str) -> str:
        node = self._node
        bounds = SshReturnBounds.of(self._waits)
        return ssh_return_command(node.name, node.host, node.port, action, bounds)

    # --- what re-runs the kubectl steps ---

    def _kubectl_triggers(self, hardware: dict[str, StepCommands]) -> list[pulumi.Input[object]]:
        """Everything that makes a hardware step run again (an update re-runs `create`): its
        commands and its connection. The kubectl steps are replaced, so re-run, with them:
        the node is drained before and uncordoned after, within the rollout's bound."""
        node = self._node
        return [node.app, node.assy, node.pf, node.vfs, *self._step_triggers(hardware)]

    def _step_triggers(self, steps: dict[str, StepCommands]) -> list[pulumi.Input[object]]:
        """What makes `steps` run again: their commands and the node's connection (and key).
        ssh-return takes the driver step's alone: it re-runs exactly when the driver does."""
        node = self._node
        rendered = {
            "steps": {step: [c.create, c.delete] for step, c in steps.items()},
            "connection": connection_fingerprint(node),
        }
        digest = hashlib.sha256(json.dumps(rendered, sort_keys=True).encode()).hexdigest()
        triggers: list[pulumi.Input[object]] = [digest]
        if self._access.private_key is not None:
            # A new SSH key changes every step's connection too; its digest stays secret.
            triggers.append(
                pulumi.Output.secret(self._access.private_key).apply(
                    lambda key: hashlib.sha256(key.encode()).hexdigest()
                )
            )
        return triggers

    # --- the kubectl steps ---

    def _drain_args(self) -> tuple[str, ...]:
        return ("drain", self._node.name, *DRAIN_OPTIONS)

    def _drain_command(self) -> str:
        """The drain, refused while `rollout.maxUnavailable` other Agilio nodes are cordoned
        (kubectl_scripts/drain-within-bound.sh): a node an earlier failed update left cordoned
        still counts as out."""
        if not self._access.drain:
            return echo_command(f"rollout.drain is off: {self._node.name} is not drained")
        params: dict[str, ParamValue] = {
            "NODE": self._node.name,
            "MAX_UNAVAILABLE": self._access.max_unavailable,
            "SELECTOR": f"{AGILIO_NODE_LABEL}={AGILIO_NODE_LABEL_VALUE}",
            "DRAIN_TIMEOUT": DRAIN_TIMEOUT,
        }
        return kubectl_script_command(self._access.kubernetes, DRAIN_SCRIPT, params)

    def _uncordon_command(self) -> str:
        if not self._access.drain:
            return echo_command(f"rollout.drain is off: {self._node.name} was not cordoned")
        return kubectl_command(self._access.kubernetes, "uncordon", self._node.name)

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
            f"--timeout={POD_DELETE_TIMEOUT}",
        )

    def _drain_before_undo(
        self, steps: NodeStepFactory, *, after: Sequence[pulumi.Resource]
    ) -> local.Command:
        """Drains the node when its steps are undone (the node leaves the stack, or destroy).

        Creating it does nothing. Pulumi deletes dependents first, so its delete (the drain)
        runs before the vfs, driver and firmware undo; as the next node of the lane waits for
        this node's last step, a destroy drains and undoes one node per lane at a time;
        `uncordon-after-undo` takes the node back into service after its undo.

        It always exists, whatever `rollout.drain` says: were it to vanish, the engine would
        delete it, and its delete is a drain (of every node at once). With drain off its
        delete only prints. No triggers: a replacement would run the old delete (a drain) at
        the end of the update, outside the rollout's order; changes only update it.
        """
        name = self._node.name
        return self._undo_bracket(
            steps,
            "drain-before-undo",
            kubectl_args=self._drain_args(),
            done=f"{name} is drained before any undo",
            off=f"rollout.drain is off: {name} is not drained before its undo",
            gone="nothing to drain before its undo",
            after=after,
        )

    def _uncordon_after_undo(
        self, steps: NodeStepFactory, *, after: Sequence[pulumi.Resource]
    ) -> local.Command:
        """Uncordons the node once its steps are undone (the node leaves the stack, or destroy).

        The node's first step: every other step depends on it, so Pulumi deletes it last, after
        the reload that the firmware undo started is over (reload-wait's undo). The node then
        takes pods again, before the node before it in its lane is drained: a destroy keeps at
        most `rollout.maxUnavailable` nodes out of service, as the rollout does. Like
        drain-before-undo, it always exists, has no triggers, and only prints with drain off.
        """
        name = self._node.name
        return self._undo_bracket(
            steps,
            "uncordon-after-undo",
            kubectl_args=("uncordon", name),
            done=f"{name} is uncordoned after any undo",
            off=f"rollout.drain is off: {name} was not cordoned for its undo",
            gone="nothing to uncordon after its undo",
            after=after,
        )

    def _undo_bracket(
        self,
        steps: NodeStepFactory,
        step: str,
        *,
        kubectl_args: Sequence[str],
        done: str,
        off: str,
        gone: str,
        after: Sequence[pulumi.Resource],
    ) -> local.Command:
        """A step whose create only prints `done` and whose delete runs kubectl (with drain
        off: prints `off`). No triggers: it is never replaced, only updated.

        A Node deleted by hand (a machine taken out of the cluster before it leaves the
        config) has nothing to drain or uncordon (the pod garbage collector deletes the pods
        bound to a missing Node, podgc `gcOrphaned`): the delete says so (`gone`) and passes,
        where kubectl would fail with NotFound. A Node that exists is drained as ever."""
        if self._access.drain:
            command = kubectl_command(self._access.kubernetes, *kubectl_args)
            delete = self._if_node_exists(command, gone)
        else:
            delete = echo_command(off)
        return steps.local_step(step, echo_command(done), after=after, delete=delete)

    # --- the decommission chain (`nodes[].decommission: true`) ---

    def _decommission(self, steps: NodeStepFactory, args: AgilioNodeArgs) -> None:
        """The node's undo as forward steps, in its lane, within `rollout.maxUnavailable`:

            uncordon-after-undo (no-op) -> drain -> drain-before-undo (no-op) -> vfs undo
            -> ssh-return (no-op) -> driver undo -> firmware undo -> ssh-return-after-undo
            (the probe, ACTION=undo) -> reload-wait undo -> drained undo (the drain lease
            removed) -> device-plugin-restart
            -> vfs-advertised (no-op) -> uncordon

        The same resources as the rollout's steps, so a decommission updates or replaces them
        and creates none. The engine's choice (tools/engine, pulumi-command's rules): a remote
        step keeps its triggers ([pf]), so its new `create` (the undo) runs as an update
        (remote/commandController.go `Update`: `news.Update`, else `news.Create`); the kubectl
        steps with triggers get new ones, so they are replaced create-first and their old
        delete (none) runs at the end; the brackets (no triggers) are updated. Every delete
        is made inert: None on the remote steps (`Delete` returns before dialing when
        `props.Delete == nil`), a print on the local ones. So once the decommission finished,
        the node leaves `nodes` (or gets a new PF) without any command touching it."""
        node = self._node
        wait = {"PF_WAIT_SECONDS": args.waits.pf_seconds}
        undo = {
            "vfs": self._undo_only(steps, "vfs", {"VFS": node.vfs, **wait}),
            "driver": self._undo_only(steps, "driver", {"RELOAD": "auto", **wait}),
            "firmware": self._undo_only(steps, "firmware", {}),
            "reload-wait": self._undo_only(steps, "reload-wait", wait),
        }
        # Not the rollout's triggers: going back to `decommission: false` replaces these steps
        # again, so the node is drained before its apply and uncordoned after.
        triggers: list[pulumi.Input[object]] = [*self._kubectl_triggers(undo), "decommission"]
        noop = self._decommission_noop

        self.uncordon_after_undo = noop("uncordon-after-undo", after=args.after)
        self.drain = self._decommission_local(
            "drain", self._decommission_drain(), [self.uncordon_after_undo], triggers
        )
        self.drain_before_undo = noop("drain-before-undo", after=[self.drain])
        self.vfs = self._decommission_remote(steps, "vfs", undo["vfs"], [self.drain_before_undo])
        self.ssh_return = noop(SSH_RETURN_STEP, after=[self.vfs], triggers=triggers)
        self.driver = self._decommission_remote(steps, "driver", undo["driver"], [self.ssh_return])
        self.firmware = self._decommission_remote(
            steps, "firmware", undo["firmware"], [self.driver]
        )
        # The firmware undo may have armed a detached reload: wait, without a session, for the
        # SSH port to go away and come back (passes when it does not go away).
        self.ssh_return_after_undo = self._decommission_local(
            SSH_RETURN_AFTER_UNDO_STEP, self._ssh_return_command("undo"), [self.firmware]
        )
        self.reload_wait = self._decommission_remote(
            steps, "reload-wait", undo["reload-wait"], [self.ssh_return_after_undo]
        )
        # Kept, as the rollout's other steps: unregistered, its delete would dial the node.
        self.drained = self._decommission_remote(
            steps, DRAINED_STEP, self._undo_only(steps, DRAINED_STEP, {}), [self.reload_wait]
        )
        # The plugin counts VFs only when it starts: restarted, it advertises none here.
        self.device_plugin_restart = self._decommission_local(
            "device-plugin-restart",
            kubectl_command(args.access.kubernetes, *self._device_plugin_restart_args()),
            [self.drained],
            triggers,
        )
        self.vfs_advertised = noop(
            "vfs-advertised", after=[self.device_plugin_restart], triggers=triggers
        )
        self.uncordon = self._decommission_local(
            "uncordon", self._decommission_uncordon(), [self.vfs_advertised], triggers
        )
        self.last_step = self.uncordon
        # Known in a preview; in `pulumi up` the URN resolves once the engine has run the
        # uncordon (pulumi `source_eval.go` `(*resmon).RegisterResource` answers only after
        # `<-step.done`, and fails when the step failed), so the mark is exported only when the
        # whole decommission finished; a failed one keeps the last outputs.
        decommissioned = self.uncordon.urn.apply(lambda _urn: True)
        self.facts = {"pf": node.pf, DECOMMISSIONED_FACT: decommissioned}

    def _undo_only(
        self, steps: NodeStepFactory, step: str, params: dict[str, ParamValue]
    ) -> StepCommands:
        """`step`'s undo (ACTION=undo, the text its delete runs in the rollout) as its create;
        nothing on delete."""
        script = render_script(step, steps.params({**params, "ACTION": "undo"}))
        return StepCommands(create=remote_command(script, sudo=self._node.sudo), delete=None)

    def _decommission_remote(
        self,
        steps: NodeStepFactory,
        step: str,
        commands: StepCommands,
        after: Sequence[pulumi.Resource],
    ) -> remote.Command:
        """As `NodeStepFactory.remote_step`, with the rollout's triggers ([pf]) although the
        delete is None: the change from the rollout's step is an update (runs the undo), and a
        later PF change replaces it delete-first with an inert delete."""
        return remote.Command(
            step_name(self._node.name, step),
            connection=steps.connection,
            create=commands.create,
            delete=commands.delete,
            triggers=[self._node.pf],
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=list(after), delete_before_replace=True
            ),
        )

    def _decommission_local(
        self,
        step: str,
        create: str,
        after: Sequence[pulumi.Resource],
        triggers: Sequence[pulumi.Input[object]] | None = None,
    ) -> local.Command:
        """A kubectl step (or probe) whose create also runs on update (no `update`), and whose
        delete only prints."""
        name = self._node.name
        return local.Command(
            step_name(name, step),
            create=create,
            delete=echo_command(f"{name} {step}: decommissioned, nothing to undo"),
            triggers=list(triggers) if triggers is not None else None,
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(after)),
        )

    def _decommission_noop(
        self,
        step: str,
        *,
        after: Sequence[pulumi.Resource],
        triggers: Sequence[pulumi.Input[object]] | None = None,
    ) -> local.Command:
        message = echo_command(f"{self._node.name} {step}: decommissioned, nothing to run")
        return self._decommission_local(step, message, after, triggers)

    def _decommission_drain(self) -> str:
        """The drain; when it fails (a PodDisruptionBudget, its timeout) the node is uncordoned
        again before the step fails: nothing of it is undone yet, so a failed decommission
        leaves the node in service, not out beside the next node of a re-run."""
        if not self._access.drain:
            return self._drain_command()
        drain = self._drain_command()
        uncordon = self._uncordon_command()
        return self._if_node_exists(f"{drain} || {{ {uncordon}; exit 1; }}", "nothing to drain")

    def _decommission_uncordon(self) -> str:
        if not self._access.drain:
            return self._uncordon_command()
        return self._if_node_exists(self._uncordon_command(), "nothing to uncordon")

    def _if_node_exists(self, command: str, otherwise: str) -> str:
        """`command` when the node's Node exists; else `no Node <name> in the cluster:
        <otherwise>` and success. The undo brackets and a decommission go on when the Node was
        deleted by hand (the machine may still be reachable over SSH, its card configured)."""
        name = self._node.name
        kubernetes = self._access.kubernetes
        return if_node_exists(
            kubernetes, name, command, otherwise=f"no Node {name} in the cluster: {otherwise}"
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
