"""The Kube-OVN Helm values policy: which values the stack owns, sets elsewhere or refuses."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from components.config.rules import lookup

# Helm values this program owns: where each is set instead, and the only value allowed.
_OWNED_VALUES: dict[tuple[str, ...], tuple[str, object]] = {
    ("features", "enableHardwareOffload"): ("it is HW_OFFLOAD, the point of this program", True),
    ("features", "enableLoadbalancer"): (
        "ENABLE_LB must stay off: the NIC cannot offload dp_hash/hash",
        False,
    ),
    ("agent", "mirroring", "enabled"): (
        "ENABLE_MIRROR must stay off, as the runbook installs Kube-OVN",
        False,
    ),
    ("cni", "nonPrimaryCNI"): (
        "offloaded pods take Kube-OVN as their default network, so it must be the primary CNI",
        False,
    ),
}
_VALUES_SET_ELSEWHERE: dict[tuple[str, ...], str] = {
    ("masterNodes",): "kubeOvn.masterNodes",
    ("masterNodesLabels",): "kubeOvn.masterNodes (the stack labels them kube-ovn/role=master)",
    ("agent", "interface"): (
        "kubeOvn.iface and nodes[].uplink for the Agilio nodes (every other node keeps its "
        "node-IP NIC)"
    ),
    ("namespace",): "the stack (always kube-system, where the other components look for it)",
}
# Values the chart renders in a way that can undo the runbook (kube-ovn-v2 v1.16.2 templates):
# `ovsOvn.extraEnv` is appended after HW_OFFLOAD in ovs-ovn's openvswitch container
# (ovs-ovn/ovs-ovn-daemonset.yaml; a later duplicate env wins), `extraObjects` renders any
# object at all (misc/extra-objects.yaml), and the images come from `global.registry`/
# `global.images` (every template's `image:`).
_REFUSED_VALUES: dict[tuple[str, ...], str] = {
    ("ovsOvn", "extraEnv"): (
        "the chart appends it after HW_OFFLOAD in the openvswitch container, where a later "
        "duplicate wins; set Open vSwitch options elsewhere"
    ),
    ("extraObjects",): "it renders any object into the release; create those in their own stack",
    ("global", "images"): "the image tag follows kubeOvn.chartVersion",
}
_REGISTRY_PATH = ("global", "registry", "address")
# Kube-OVN's tunnel network types (pkg/util/const.go NetworkTypeGeneve/Vxlan/Stt): offload of
# the runbook is of tunnelled pod traffic. "vlan" makes the chart pass `--iface=` empty to every
# kube-ovn-cni (agent/agent-daemonset.yaml), whatever the tunnel annotations say.
TUNNEL_TYPES = ("geneve", "vxlan", "stt")
_NETWORK_TYPE_PATHS = (("networking", "networkType"), ("networking", "tunnelType"))
# Every YAML line break (go-yaml `is_break`, yamlprivateh.go: CR, LF, NEL, LS, PS): the chart
# renders several values unquoted into container args, where a line break starts a new arg.
_LINE_BREAKS = ("\r", "\n", "\x85", "\u2028", "\u2029")


def _strings_with_line_breaks(value: object, path: str = "") -> list[str]:
    """`path` of every key or string under `value` that holds a YAML line break."""
    found = []
    if isinstance(value, str):
        if any(mark in value for mark in _LINE_BREAKS):
            found.append(path or "(the value)")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            found += _strings_with_line_breaks(key, where)
            found += _strings_with_line_breaks(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _strings_with_line_breaks(item, f"{path}[{index}]")
    return found


def _hw_offload_envs(value: object, path: str = "") -> list[str]:
    """`path` of every `extraEnv` entry under `value` named HW_OFFLOAD."""
    found = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if key == "extraEnv" and isinstance(item, list):
                found += [
                    f"{where}[{i}]"
                    for i, env in enumerate(item)
                    if isinstance(env, Mapping) and env.get("name") == "HW_OFFLOAD"
                ]
            else:
                found += _hw_offload_envs(item, where)
    return found


def kube_ovn_values_problems(
    values: Mapping[str, Any], allowed_registries: Iterable[str] = ()
) -> list[str]:
    """Every way `values` would undo the runbook or be set twice, one line each."""
    problems = []
    for path, (why, allowed) in _OWNED_VALUES.items():
        found, value = lookup(values, path)
        if found and value != allowed:
            problems.append(
                f"{'.'.join(path)}: {json.dumps(value)} is not allowed "
                f"({why}; only {json.dumps(allowed)})"
            )
    for path, where in _VALUES_SET_ELSEWHERE.items():
        if lookup(values, path)[0]:
            problems.append(f"{'.'.join(path)}: set by {where}, not in values")
    for path, why in _REFUSED_VALUES.items():
        if lookup(values, path)[0]:
            problems.append(f"{'.'.join(path)}: not allowed in values ({why})")
    problems += [
        f"{where}: an env named HW_OFFLOAD is not allowed (features.enableHardwareOffload sets it)"
        for where in _hw_offload_envs(values)
    ]
    found, registry = lookup(values, _REGISTRY_PATH)
    allowed = list(allowed_registries)
    if found and registry not in allowed:
        problems.append(
            f"{'.'.join(_REGISTRY_PATH)}: {json.dumps(registry)} is not an allowed registry "
            f"(list it in kubeOvn.allowedRegistries to pull Kube-OVN's image from it; "
            f"allowed now: {json.dumps(allowed)})"
        )
    for path in _NETWORK_TYPE_PATHS:
        found, value = lookup(values, path)
        if found and value not in TUNNEL_TYPES:
            problems.append(
                f"{'.'.join(path)}: {json.dumps(value)} is not allowed (offload needs a tunnel "
                f"network: one of {', '.join(TUNNEL_TYPES)})"
            )
    problems += [
        f"{where}: holds a line break (the chart renders values unquoted into container args, "
        "where a line break starts a new argument)"
        for where in _strings_with_line_breaks(values)
    ]
    return problems
