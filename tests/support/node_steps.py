"""The program's exact node commands, run over SSH on an emulated node, with readers of what the
node recorded. Every command is the `create` or `delete` text the program gives pulumi-command for
the node, taken from the program run under Pulumi mocks (`program_commands`)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from dataclasses import dataclass
from functools import cache
from typing import Any

from components.names import HARDWARE_STEPS, STEPS
from components.node import agilio_node
from components.node.agilio_node import SshReturnBounds, ssh_return_command
from components.node.lease import DRAINED_STEP
from components.waits import DEFAULT_WAITS, Waits, waits_for_run
from tests.support.emulated_node.harness import EmulatedNode
from tools.engine.mock_driver import run_stack
from tools.rehearsal.outputs import LeaseMocks, with_lease
from tools.rehearsal.ssh import PulumiCommandSSH

# The program's dial settings (agilio_node.connection_args).
DIAL = {
    "dial_error_limit": agilio_node.DIAL_ERROR_LIMIT,
    "per_dial_timeout": agilio_node.PER_DIAL_TIMEOUT_SECONDS,
}

NODE = "worker-1"
PF = "ens1np0"
# What `pulumi destroy` runs, dependents first (preflight has no undo).
UNDO_ORDER = ("vfs", "driver", "firmware", "reload-wait", DRAINED_STEP)
RELOAD_UNIT = "agilio-offload-nfp-reload.service"
PERSIST_UNIT = f"agilio-offload-vfs-{PF}.service"
FLOWER_0097 = "flower/nic_AMDA0097.nffw"


@cache
def program_commands(
    vfs: int, assy: str, pf_wait_seconds: int, sriov: tuple[tuple[str, ...], tuple[str, ...]]
) -> dict[tuple[str, str], str]:
    """(step, "apply" | "undo") -> the command the program registers for the node's step.

    The node is configured as a test asks (`nodes[0].vfs`, `nodes[0].assy`, the device plugin's
    `sriov.vendors` and `sriov.devices`); the PF wait, a constant of the program, is patched for
    the tests that need it short.
    """
    node = {"name": NODE, "host": "127.0.0.1", "pf": PF, "vfs": vfs, "assy": assy}
    overrides: dict[str, object] = {
        "agilio-offload:nodes": [node],
        "agilio-offload:rollout": {"drain": False},
    }
    if sriov[0] or sriov[1]:
        overrides["agilio-offload:sriov"] = {
            "vendors": list(sriov[0] or ("19ee",)),
            "devices": list(sriov[1] or ("6003",)),
        }
    with waits_for_run(Waits(pf_seconds=pf_wait_seconds)):
        run = run_stack("dev", overrides, mocks=LeaseMocks())
    assert run.error is None, run.error
    commands = {}
    # `drained` carries the placeholder lease (LeaseMocks): `drained` puts a fresh token there.
    for step in (DRAINED_STEP, *STEPS):
        inputs = run.by_name(f"{NODE}-{step}").revealed_inputs
        commands[(step, "apply")] = inputs["create"]
        if inputs.get("delete"):
            commands[(step, "undo")] = inputs["delete"]
    return commands


def step_command(step: str, action: str, params: dict[str, Any]) -> str:
    """The exact command of `step`'s create (action "apply") or delete ("undo")."""
    unknown = set(params) - {"VFS", "ASSY", "PF_WAIT_SECONDS", "VENDORS", "DEVICES"}
    assert not unknown, f"not a node setting of the program: {unknown}"
    commands = program_commands(
        int(params.get("VFS", 4)),
        str(params.get("ASSY", "scan")),
        int(params.get("PF_WAIT_SECONDS", DEFAULT_WAITS.pf_seconds)),
        (tuple(params.get("VENDORS", ())), tuple(params.get("DEVICES", ()))),
    )
    return commands[(step, action)]


@dataclass
class StepRun:
    step: str
    result: subprocess.CompletedProcess[str]
    facts: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.result.returncode == 0

    @property
    def error(self) -> str:
        """The one stderr line a failed step prints."""
        lines = self.result.stderr.strip().splitlines()
        assert len(lines) == 1, f"{self.step}: want one stderr line, got {lines}"
        return lines[0]


def run_command(
    node: EmulatedNode, command: str, client: PulumiCommandSSH | None
) -> subprocess.CompletedProcess[str]:
    """`command` over OpenSSH (`node.run`, which closes its connection), or over `client`, which
    connects as pulumi-command does (its connection stays open). A dial failure or a command
    without exit status is exit 255 (what OpenSSH's client exits with then), the provider's
    error text on stderr."""
    if client is None:
        return node.run(command)
    got = client.run(node.connection(**DIAL), command)
    stderr = got.stderr
    if got.exit_code is None:
        stderr = f"{stderr}\n{got.error}" if stderr else str(got.error)
    code = 255 if got.exit_code is None else got.exit_code
    return subprocess.CompletedProcess(command, code, got.stdout, stderr)


def fresh_token() -> str:
    """A lease token as the drain step prints it."""
    return secrets.token_hex(16)


def drained(
    node: EmulatedNode,
    token: str | None = None,
    *,
    client: PulumiCommandSSH | None = None,
    **params: Any,
) -> subprocess.CompletedProcess[str]:
    """The `drained` step with `token` (a fresh one by default) as the drain's lease, for the
    hardware commands of `params`: what a `pulumi up` whose drain ran records on the node."""
    command = step_command(DRAINED_STEP, "apply", params)
    token = fresh_token() if token is None else token
    return run_command(node, with_lease({"create": command}, token)["create"], client)


def run_step(
    node: EmulatedNode,
    step: str,
    action: str = "apply",
    *,
    client: PulumiCommandSSH | None = None,
    drain: bool = True,
    **params: Any,
) -> StepRun:
    """`step`'s command; a hardware apply after a fresh `drained` unless `drain=False` (as
    `pulumi up` runs it when its drain ran, and as `--target` would without)."""
    if drain and action == "apply" and step in HARDWARE_STEPS:
        lease = drained(node, client=client, **params)
        assert lease.returncode == 0, f"drained failed: {lease.stderr}"
    result = run_command(node, step_command(step, action, params), client)
    facts: dict[str, Any] = {}
    if result.returncode == 0:
        last = (result.stdout.strip().splitlines() or [""])[-1]
        try:
            facts = json.loads(last)
        except json.JSONDecodeError as err:
            raise AssertionError(
                f"{step}: last stdout line is not JSON ({err}):\n{result.stdout}\n{result.stderr}"
            ) from err
        assert facts["step"] == step and facts["node"] == NODE, facts
    return StepRun(step, result, facts)


def snapshot(node: EmulatedNode) -> dict[str, Any]:
    """The node's snapshot without the drain lease files, which every drain renews (what the
    steps change besides their bookkeeping of the drain)."""
    found = node.snapshot()
    written = {k: v for k, v in found["written"].items() if "/drain-lease" not in k}
    state_dir = "var/lib/agilio-offload"
    if not any(k.startswith(f"{state_dir}/") for k in written):
        written.pop(state_dir, None)
    return {**found, "written": written}


def must(run: StepRun) -> StepRun:
    assert run.ok, f"{run.step} failed ({run.result.returncode}): {run.result.stderr}"
    return run


def apply_all(node: EmulatedNode, **params: Any) -> dict[str, dict[str, Any]]:
    """Every step in order after one fresh `drained` (one update's drain), then wait until the
    node is idle; the facts per step."""
    lease = drained(node, **params)
    assert lease.returncode == 0, f"drained failed: {lease.stderr}"
    facts = {step: must(run_step(node, step, drain=False, **params)).facts for step in STEPS}
    node.wait_idle()
    return facts


def undo_all(node: EmulatedNode, **params: Any) -> dict[str, dict[str, Any]]:
    facts = {step: must(run_step(node, step, "undo", **params)).facts for step in UNDO_ORDER}
    node.wait_idle()
    return facts


@dataclass
class Probe:
    result: subprocess.CompletedProcess[str]

    @property
    def facts(self) -> dict[str, Any]:
        return dict(json.loads(self.result.stdout.strip().splitlines()[-1]))


def ssh_return(
    node: EmulatedNode, action: str, driver_stdout: str, bounds: SshReturnBounds
) -> Probe:
    """The probe step as local.Command runs it: `/bin/sh -c <create or delete>`, the driver's
    stdout in its environment."""
    command = ssh_return_command(NODE, "127.0.0.1", node.port, action, bounds)
    env = {**os.environ, "AGILIO_DRIVER_FACTS": driver_stdout}
    result = subprocess.run(
        ["/bin/sh", "-c", command], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    return Probe(result)


def reloads(node: EmulatedNode) -> list[dict[str, Any]]:
    return node.calls("rmmod") + node.calls("modprobe")


def numvfs_writes(node: EmulatedNode) -> list[tuple[str, str | None]]:
    return [(call["argv"][1], call["error"]) for call in node.calls("sysfs-write")]


def offload(node: EmulatedNode) -> dict[str, bool]:
    return {name: dev["hwTcOffload"] for name, dev in node.state()["card"]["netdevs"].items()}


def representors(count: int) -> list[str]:
    return [f"ens1npf0vf{index}" for index in range(count)]


def offloading(vfs: int) -> set[str]:
    """The netdevs with hw-tc-offload on under flower: every representor (nfp_repr_init), i.e.
    the ports (the PF and ens1np1), the PF representor and the VF representors."""
    return {PF, "ens1np1", "ens1npf0", *representors(vfs)}
