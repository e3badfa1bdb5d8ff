"""Remote commands of the rehearsal: the stack's `connection` re-pointed at the node's emulated
node, run by the pulumi-command-like SSH client (`tools.rehearsal.ssh`, one new connection per
call, dial retries as pulumi-command's `dialWithRetry`). Until that client is there, OpenSSH's
`ssh` runs the command instead (the same `exec` request, no PTY)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from tools.rehearsal.executor import CommandResult
from tools.rehearsal.fleet import Fleet


class FleetRemote:
    def __init__(self, fleet: Fleet, command_timeout: float = 600.0) -> None:
        self.fleet = fleet
        self.command_timeout = command_timeout
        self._client = _pulumi_command_client()

    def run_on(self, node: str, connection: Mapping[str, Any], command: str) -> CommandResult:
        if self._client is not None:
            return self._run_client(node, connection, command)
        done = self.fleet.nodes[node].run(command, timeout=self.command_timeout)
        return CommandResult(done.stdout, done.stderr, done.returncode)

    def _run_client(self, node: str, connection: Mapping[str, Any], command: str) -> CommandResult:
        ssh = importlib.import_module("tools.rehearsal.ssh")
        target = self.fleet.target(node)
        conn = ssh.Connection(
            host=target.host,
            port=target.port,
            user=str(connection.get("user") or "root"),
            private_key=target.private_key,
            host_key=target.host_key,
            dial_error_limit=int(connection.get("dialErrorLimit", 10)),
            per_dial_timeout=int(connection.get("perDialTimeout", 15)),
        )
        result = self._client.run(conn, command)
        return CommandResult(result.stdout, result.stderr, int(result.exit))

    def close(self) -> None:
        if self._client is not None:
            self._client.close_all()


def _pulumi_command_client() -> Any:
    try:
        ssh = importlib.import_module("tools.rehearsal.ssh")
    except ImportError:
        return None
    return ssh.PulumiCommandSSH()
