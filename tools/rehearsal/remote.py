"""Remote commands of the rehearsal: the stack's `connection` re-pointed at the node's emulated
node (its address, client key and pinned host key; the stack's user and dial limits kept), run
by the pulumi-command-like SSH client (`tools.rehearsal.ssh`: one new connection per call, left
open until the provider exits, dial retries as pulumi-command's `dialWithRetry`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from tools.rehearsal.executor import CommandResult
from tools.rehearsal.fleet import Fleet
from tools.rehearsal.ssh import DialPolicy, PulumiCommandSSH


class FleetRemote:
    def __init__(self, fleet: Fleet, policy: DialPolicy | None = None) -> None:
        self.fleet = fleet
        self.client = PulumiCommandSSH(policy=policy or DialPolicy())

    def run_on(self, node: str, connection: Mapping[str, Any], command: str) -> CommandResult:
        target = self.fleet.nodes[node].connection()
        if not isinstance(connection, Mapping):
            # A plan's resources.json (a --baseline) shows the connection as "[secret]".
            connection = {}
        target = dataclasses.replace(
            target,
            user=str(connection.get("user") or target.user),
            dial_error_limit=int(connection.get("dialErrorLimit", target.dial_error_limit)),
            per_dial_timeout=float(connection.get("perDialTimeout", target.per_dial_timeout)),
        )
        result = self.client.run(target, command)
        if result.error is not None and result.exit_code in (None, 0):
            return CommandResult(result.stdout, f"{result.stderr}\n{result.error}", 255)
        return CommandResult(result.stdout, result.stderr, int(result.exit_code or 0))

    def close(self) -> None:
        """The provider exits at the end of `pulumi up`: its connections close."""
        self.client.close_all()
