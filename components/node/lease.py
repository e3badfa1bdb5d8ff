"""The drain lease, on the operator's side (the node's side: node/scripts/lib-lease.sh).

The drain step prints a fresh random token after it drained the node (also with `rollout.drain`
off: the step still ran); the node's `drained` step takes the token from the drain's stdout and
records it with the digest of each hardware step's apply command. `pulumi up --target <node>-vfs`
leaves the drain untouched: untargeted resources keep their old state (pulumi
`pkg/resource/deploy/step_generator.go` generateSteps: `NewUntargetedSameStep` with the old
state), so `drained` keeps the old token and the hardware step refuses on the node.
"""

from __future__ import annotations

import hashlib
import re
import shlex

from components.names import DRAINED_STEP

__all__ = [
    "DIGEST_PARAM",
    "DRAINED_STEP",
    "LEASE_PARAM",
    "command_digest",
    "drain_lease",
    "print_lease_command",
    "reprint_lease_command",
]

LEASE_PARAM = "LEASE"
DIGEST_PARAM = "LEASE_DIGEST"
_TOKEN = "[0-9a-f]{32}"


def lease_line_pattern(node: str) -> re.Pattern[str]:
    return re.compile(rf"^agilio-offload: {re.escape(node)} drain lease ({_TOKEN})$", re.MULTILINE)


def drain_lease(node: str, stdout: str | None) -> str:
    """The token the drain step printed (its last lease line), "" when it printed none."""
    found = lease_line_pattern(node).findall(stdout or "")
    return found[-1] if found else ""


def print_lease_command(node: str) -> str:
    """Prints `agilio-offload: <node> drain lease <32 hex digits>`, fresh from /dev/urandom."""
    prefix = shlex.quote(f"agilio-offload: {node} drain lease ")
    return f"printf '%s%s\\n' {prefix} \"$(od -An -N16 -tx1 /dev/urandom | tr -d ' \\n')\""


def reprint_lease_command(node: str) -> str:
    """The drain's update (a kubeconfig or `rollout.drain` change: nothing is drained) prints
    the lease line of its previous stdout again, so the token, and `drained`, stay as they
    were. pulumi-command's local Command.Update runs with the old outputs and passes the
    previous stdout as PULUMI_COMMAND_STDOUT (local/commandController.go Update,
    local/commandOutputs.go run) unless addPreviousOutputInEnv is false."""
    message = shlex.quote(f"agilio-offload: {node} drain: updated, nothing drained")
    pattern = shlex.quote(f"^agilio-offload: {node} drain lease {_TOKEN}$")
    return (
        f"echo {message}; "
        f"printf '%s\\n' \"${{PULUMI_COMMAND_STDOUT:-}}\" | grep -E {pattern} | tail -n 1 || true"
    )


def command_digest(command: str) -> str:
    """The digest the lease names a hardware step's apply command by (rendered without it)."""
    return hashlib.sha256(command.encode()).hexdigest()
