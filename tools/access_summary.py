"""Who the program talks to over SSH, per node: written by the plan, compared by `--baseline`.

pulumi-command's SDK marks every `connection` secret (`additional_secret_outputs=["connection"]`)
and a private key inside it makes the whole input secret, so `pulumi preview --diff` and the
plan's `resources.json` show `[secret]` for it: pointing a node at another host or dropping its
host key would otherwise diff as nothing. This summary holds nothing secret: host, port, user,
sudo, the host key's type and SHA256 fingerprint (as `ssh-keygen -l` prints it) or `UNPINNED`,
and where the private key comes from (`secret`, `file` or `agent`, never the key).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.config import NAMESPACE, StackConfig, raw_config, validate_stack_config
from components.config.load import unpinned_warning
from components.config.ssh_host_keys import host_key_fingerprint
from components.config.warnings import config_warnings
from tools.wording import names_shown, shown

ACCESS_FILE = "access.json"
WARNINGS_FILE = "warnings.json"
TRUST_FILE = "trust-changes.json"
UNPINNED = "UNPINNED"
FIELDS = ("host", "port", "user", "sudo", "hostKey", "keySource")


def key_source(config: StackConfig, has_secret_key: bool) -> str:
    """Where the SSH private key comes from, in the order `components.node.agilio_node` uses."""
    if has_secret_key:
        return "secret"
    return "file" if config.ssh.private_key_path else "agent"


def access_summary(config: StackConfig, source: str) -> dict[str, dict[str, Any]]:
    """Node name -> how the program reaches it; nothing in it is secret."""
    summary = {}
    for node in config.resolved_nodes():
        host_key = UNPINNED
        if node.host_key is not None:
            host_key = " ".join(host_key_fingerprint(node.host_key))
        summary[node.name] = {
            "host": node.host,
            "port": node.port,
            "user": node.user,
            "sudo": node.sudo,
            "hostKey": host_key,
            "keySource": source,
        }
    return summary


@dataclass(frozen=True)
class ConfigWarnings:
    """The config warnings `pulumi preview` prints (components.config.warnings): the unpinned
    line apart, as the plan's access summary already says which nodes are unpinned."""

    unpinned: str | None
    others: list[str]

    def all(self) -> list[str]:
        """Every warning, the unpinned line first (the plan's `warnings.json`)."""
        return [*([self.unpinned] if self.unpinned else []), *self.others]


def warnings_of_config_values(values: Mapping[str, str]) -> ConfigWarnings:
    config = validate_stack_config(raw_config(values))
    return ConfigWarnings(unpinned_warning(config), config_warnings(config))


def summary_of_config_values(values: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """The summary for the config the program was given (full keys, JSON text for objects)."""
    config = validate_stack_config(raw_config(values))
    return access_summary(config, key_source(config, f"{NAMESPACE}:sshPrivateKey" in values))


@dataclass(frozen=True)
class TrustChange:
    """A node whose SSH access differs from the baseline's: who it trusts, or how."""

    node: str
    kind: str  # "add", "remove" or "change"
    fields: tuple[tuple[str, Any, Any], ...]  # (field, before, after)

    def as_json(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "kind": self.kind,
            "trustChange": True,
            "fields": [{"field": f, "before": a, "after": b} for f, a, b in self.fields],
        }


def trust_changes(
    old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]
) -> list[TrustChange]:
    """Every node added, removed or with any access field changed, in node name order."""
    changes = []
    for node in sorted(set(old) | set(new)):
        before, after = old.get(node), new.get(node)
        if before is None or after is None:
            present = after if after is not None else before or {}
            fields = tuple(
                (
                    f,
                    None if before is None else present.get(f),
                    None if after is None else present.get(f),
                )
                for f in FIELDS
            )
            changes.append(TrustChange(node, "add" if before is None else "remove", fields))
            continue
        fields = tuple(
            (f, before.get(f), after.get(f)) for f in FIELDS if before.get(f) != after.get(f)
        )
        if fields:
            changes.append(TrustChange(node, "change", fields))
    return changes


def render_summary(summary: Mapping[str, Mapping[str, Any]]) -> str:
    """A table: one line per node; UNPINNED nodes stand out."""
    header = ("NODE", "HOST", "PORT", "USER", "SUDO", "HOST KEY", "KEY FROM")
    rows = [header] + [
        (
            node,
            str(access["host"]),
            str(access["port"]),
            str(access["user"]),
            "yes" if access["sudo"] else "no",
            str(access["hostKey"]),
            str(access["keySource"]),
        )
        for node, access in summary.items()
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["SSH access (not secret; --baseline compares it):"]
    lines += [
        "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    unpinned = [node for node, access in summary.items() if access["hostKey"] == UNPINNED]
    if unpinned:
        lines.append(
            f"  {len(unpinned)} {'node' if len(unpinned) == 1 else 'nodes'} UNPINNED "
            "(ssh.allowUnpinned: true): any host answering on their address is trusted: "
            f"{names_shown(unpinned)}; every node's host key in {ACCESS_FILE}"
        )
    return "\n".join(lines)


def render_trust_changes(changes: list[TrustChange]) -> str:
    if not changes:
        return "SSH access: no trust change against the baseline"
    lines = [f"SSH access: {len(changes)} node(s) with a TRUST CHANGE against the baseline"]
    for change in changes:
        symbol = {"add": "+", "remove": "-", "change": "~"}[change.kind]
        detail = ", ".join(f"{f}: {shown(a)} -> {shown(b)}" for f, a, b in change.fields)
        lines.append(f" {symbol} node {change.node}  [TRUST CHANGE]  {detail}")
    return "\n".join(lines)
