"""Cross-field rules, checked on the raw config (camelCase keys, as in the stack file) so they
are reported together with the field errors: unique names and hosts, pinned SSH, Kube-OVN's keys."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic_core import PydanticCustomError

from components.config.redact import shown
from components.config.validators import canonical_host, check_host, parse_ip


def lookup(data: object, path: Iterable[str]) -> tuple[bool, object]:
    for key in path:
        if not isinstance(data, Mapping) or key not in data:
            return False, None
        data = data[key]
    return True, data


def _duplicates(items: list[tuple[str, object]]) -> list[str]:
    """`path: value` for every item whose value was seen before."""
    seen: Counter[str] = Counter()
    repeated = []
    for path, value in items:
        if not isinstance(value, str | int):
            continue  # a list or map where a name belongs: its own field error says so
        seen[repr(value)] += 1
        if seen[repr(value)] > 1:
            repeated.append(f"{path}: {shown(value)} is used more than once (must be unique)")
    return repeated


def _dicts(raw: Mapping[str, Any], key: str, *sub: str) -> list[tuple[int, dict]]:
    found, items = lookup(raw, (key, *sub))
    if not found or not isinstance(items, list):
        return []
    return [(i, item) for i, item in enumerate(items) if isinstance(item, dict)]


def _host_port(node: Mapping[str, Any]) -> str | None:
    """`host:port` as the network sees it (see `canonical_host`), None for an invalid host."""
    host = node.get("host")
    try:
        canonical = canonical_host(check_host(host)) if isinstance(host, str) else None
    except PydanticCustomError:
        return None
    if canonical is None:
        return None
    host_text = f"[{canonical}]" if ":" in canonical else canonical  # IPv6 in brackets
    return f"{host_text}:{node.get('port', 22)}"


def _canonical_ip(value: object) -> object:
    ip = parse_ip(value) if isinstance(value, str) and "%" not in value else None
    return value if ip is None else canonical_host(str(ip))


def _unpinned_problems(raw: Mapping[str, Any], nodes: list[tuple[int, dict]]) -> list[str]:
    found, allow = lookup(raw, ("ssh", "allowUnpinned"))
    if (found and allow is True) or not isinstance(raw.get("ssh", {}), Mapping):
        return []  # opted out, or `ssh` itself is wrong (and reported)
    return [
        f"nodes[{i}].hostKey: is required: SSH is pinned by default (without a host key "
        "pulumi-command accepts whoever answers on the address, and runs the root scripts "
        "there); collect it with 'ssh-keyscan -t ed25519 <host>' and check its fingerprint "
        "on the node's console ('ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub'), or set "
        "ssh.allowUnpinned: true to accept any host (a lab only)"
        for i, node in nodes
        if node.get("hostKey") is None
    ]


def cross_field_problems(raw: Mapping[str, Any]) -> list[str]:
    nodes = _dicts(raw, "nodes")
    masters = _dicts(raw, "kubeOvn", "masterNodes")
    problems = _duplicates([(f"nodes[{i}].name", n.get("name")) for i, n in nodes if "name" in n])
    # Hosts as the network sees them: Node-1.example.com., node-1.example.com and an IPv4
    # address beside its IPv4-mapped IPv6 spelling are one host each.
    hosts = [(f"nodes[{i}].host", _host_port(n)) for i, n in nodes]
    problems += _duplicates([(path, value) for path, value in hosts if value is not None])
    problems += _duplicates(
        [(f"kubeOvn.masterNodes[{i}].name", m.get("name")) for i, m in masters if "name" in m]
    )
    problems += _duplicates(
        [
            (f"kubeOvn.masterNodes[{i}].ip", _canonical_ip(m.get("ip")))
            for i, m in masters
            if "ip" in m
        ]
    )
    return problems + _unpinned_problems(raw, nodes) + _kube_ovn_problems(raw)


def _kube_ovn_problems(raw: Mapping[str, Any]) -> list[str]:
    """The rules between kubeOvn's keys, and between kubeOvn and the nodes."""
    found, kube_ovn = lookup(raw, ("kubeOvn",))
    if not found or not isinstance(kube_ovn, Mapping):
        return []
    problems = []
    install = kube_ovn.get("install", "helm")
    if install == "helm" and not kube_ovn.get("masterNodes"):
        problems.append(
            "kubeOvn.masterNodes: is required with kubeOvn.install: helm (the nodes that run "
            "ovn-central: [{name, ip}, ...])"
        )
    if install == "existing" and kube_ovn.get("values"):
        problems.append(
            "kubeOvn.values: only used with kubeOvn.install: helm (an existing Kube-OVN keeps "
            "its own settings); remove it"
        )
    if kube_ovn.get("iface") is None:
        problems += [
            f"nodes[{i}].uplink: is required when kubeOvn.iface is not set (the Agilio port "
            "with the node's IP: Kube-OVN's tunnel interface on this node)"
            for i, node in _dicts(raw, "nodes")
            if node.get("uplink") is None
        ]
    return problems
