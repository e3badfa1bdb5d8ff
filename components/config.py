"""The stack config contract (namespace `agilio-offload`): one model, every check, every default.

`load_stack_config()` reads `pulumi.Config`, validates everything and raises one `ConfigError`
listing every problem (config path, value seen, what is allowed) before the program registers a
single resource, so a bad config never reaches a node. Defaults are the runbook's values.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import pulumi
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from components import pins

NAMESPACE = "agilio-offload"
SECRET_KEYS = ("sshPrivateKey",)

# The nfp driver enables at most 64 VFs on an NFP4000/NFP6000 PF (Agilio CX); each node's own
# sriov_totalvfs is checked on the node before its VF count changes.
MAX_VFS_PER_PF = 64
# Each rollout batch adds ~7 resources to one dependency chain; the Pulumi Python SDK's cycle
# check recurses along it and fails somewhere past 150 batches (measured with 3.272.0).
MAX_ROLLOUT_BATCHES = 100


class ConfigError(pulumi.RunError):
    """Invalid stack config: every problem, one per line, each with its config path."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {problem}" for problem in problems)
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"invalid stack config ({count}):\n{lines}")


# --- value rules -------------------------------------------------------------------------------

_RFC1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_LABEL = r"[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?"
_IFNAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$")
_LINUX_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_ASSY = re.compile(r"^(scan|AMDA[0-9]{4})$")
_HEX4 = re.compile(r"^[0-9a-f]{4}$")
_DRIVER = re.compile(r"^[A-Za-z0-9_-]+$")
_RESOURCE_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")
_QUALIFIED_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_CHART_VERSION = re.compile(r"^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$")
_SSH_KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)


def _fail(kind: str, message: str, value: object) -> PydanticCustomError:
    return PydanticCustomError(kind, f"{value!r} {message}")


def _is_rfc1123_subdomain(value: str) -> bool:
    return len(value) <= 253 and re.fullmatch(rf"{_RFC1123_LABEL}(\.{_RFC1123_LABEL})*", value)


def _check_node_name(value: str) -> str:
    if not _is_rfc1123_subdomain(value):
        raise _fail(
            "node_name",
            "is not a Kubernetes node name (RFC 1123 subdomain: lower-case letters, digits, "
            "'-' and '.', starting and ending with a letter or digit, at most 253 characters)",
            value,
        )
    return value


def _check_label(value: str) -> str:
    if len(value) > 63 or not re.fullmatch(_RFC1123_LABEL, value):
        raise _fail(
            "rfc1123_label",
            "is not an RFC 1123 label (lower-case letters, digits and '-', starting and "
            "ending with a letter or digit, at most 63 characters)",
            value,
        )
    return value


def _check_host(value: str) -> str:
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    labels = value.rstrip(".").split(".")
    if len(value) <= 253 and all(
        len(lbl) <= 63 and re.fullmatch(_DNS_LABEL, lbl) for lbl in labels
    ):
        return value
    raise _fail("host", "is neither an IP address nor a DNS name", value)


def _check_ifname(value: str) -> str:
    if value in (".", "..") or not _IFNAME.match(value):
        raise _fail(
            "ifname",
            "is not a network interface name (at most 15 characters: letters, digits, "
            "'.', '-', '_'; no '/', ':', whitespace or shell metacharacters)",
            value,
        )
    return value


def _check_linux_user(value: str) -> str:
    if not _LINUX_USER.match(value):
        raise _fail(
            "user",
            "is not a Linux user name (lower-case letters, digits, '_' and '-', at most 32)",
            value,
        )
    return value


def _check_assy(value: str) -> str:
    if not _ASSY.match(value):
        raise _fail("assy", "is not 'scan' or an assembly ID 'AMDA' + 4 digits", value)
    return value


def _check_host_key(value: str) -> str:
    parts = value.split()
    problem = "is not an OpenSSH public key ('<type> <base64> [comment]', type one of " + (
        ", ".join(_SSH_KEY_TYPES) + ")"
    )
    if len(parts) < 2 or parts[0] not in _SSH_KEY_TYPES:
        raise _fail("host_key", problem, value)
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise _fail("host_key", problem, value) from None
    # The key blob starts with its own type as an SSH string: 4-byte length, then the name.
    name_length = int.from_bytes(blob[:4], "big")
    if blob[4 : 4 + name_length].decode("ascii", "replace") != parts[0]:
        raise _fail(
            "host_key", "is an OpenSSH key line whose key data does not match its type", value
        )
    return value


def _check_hex4(value: str) -> str:
    if not _HEX4.match(value):
        raise _fail("pci_id", "is not a PCI ID (4 lower-case hex digits, e.g. '19ee')", value)
    return value


def _check_driver(value: str) -> str:
    if not _DRIVER.match(value):
        raise _fail("driver", "is not a kernel driver name (letters, digits, '_', '-')", value)
    return value


def _check_resource_prefix(value: str) -> str:
    if not _is_rfc1123_subdomain(value) or "." not in value:
        raise _fail(
            "resource_prefix",
            "is not a resource prefix (a DNS domain such as 'corigine.com': lower-case "
            "RFC 1123 subdomain with at least one '.')",
            value,
        )
    if value == "kubernetes.io" or value.endswith(".kubernetes.io"):
        raise _fail("resource_prefix", "is reserved by Kubernetes", value)
    return value


def _check_resource_name(value: str) -> str:
    if len(value) > 63 or not _RESOURCE_NAME.match(value) or not _QUALIFIED_NAME.match(value):
        raise _fail(
            "resource_name",
            "is not a device plugin resource name (letters, digits, '_' and '-' "
            "(^[a-zA-Z0-9_-]+$), starting and ending with a letter or digit, at most 63)",
            value,
        )
    return value


def _check_chart_version(value: str) -> str:
    if not _CHART_VERSION.match(value):
        raise _fail("chart_version", "is not a Kube-OVN chart version such as 'v1.16.2'", value)
    return value


def _check_registry(value: str) -> str:
    # A registry host (optionally with port) and path, as in `docker.io/kubeovn`.
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9._-]+)*", value):
        raise _fail(
            "registry",
            "is not an image registry address such as 'registry.example.com/kubeovn'",
            value,
        )
    return value


def _check_ip(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise _fail("ip", "is not an IP address", value) from None
    return value


def _check_vf_count(value: int) -> int:
    if not 0 <= value <= MAX_VFS_PER_PF:
        raise _fail(
            "vf_count",
            f"is not a VF count in 0..{MAX_VFS_PER_PF} (the nfp driver's limit per Agilio CX PF)",
            value,
        )
    return value


def _check_port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise _fail("port", "is not a TCP port (1..65535)", value)
    return value


def _check_at_least_one(value: int) -> int:
    if value < 1:
        raise _fail(
            "at_least_one", "is less than 1 (at least one node must be allowed down)", value
        )
    return value


NodeName = Annotated[str, AfterValidator(_check_node_name)]
Label = Annotated[str, AfterValidator(_check_label)]
Host = Annotated[str, AfterValidator(_check_host)]
IfName = Annotated[str, AfterValidator(_check_ifname)]
LinuxUser = Annotated[str, AfterValidator(_check_linux_user)]
Assy = Annotated[str, AfterValidator(_check_assy)]
HostKey = Annotated[str, AfterValidator(_check_host_key)]
PciId = Annotated[str, AfterValidator(_check_hex4)]
DriverName = Annotated[str, AfterValidator(_check_driver)]
IpAddress = Annotated[str, AfterValidator(_check_ip)]
# Strict: a YAML `true` is not the number 1, nor "yes" a boolean.
VfCount = Annotated[int, Strict(), AfterValidator(_check_vf_count)]
Port = Annotated[int, Strict(), AfterValidator(_check_port)]
StrictBool = Annotated[bool, Strict()]


# --- the model ---------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        strict=False,
    )


class NodeConfig(_Model):
    """One Agilio node: Kubernetes name, SSH address, its PF and per-node overrides."""

    name: NodeName
    host: Host
    pf: IfName
    uplink: IfName | None = None
    vfs: VfCount | None = None
    port: Port = 22
    user: LinuxUser | None = None
    host_key: HostKey | None = None
    assy: Assy | None = None


class SshConfig(_Model):
    user: LinuxUser = "root"
    private_key_path: str | None = None
    sudo: StrictBool | None = None

    @field_validator("private_key_path")
    @classmethod
    def _key_file_exists(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).expanduser().is_file():
            raise _fail("private_key_path", "is not a readable file on this machine", value)
        return value


class FirmwareConfig(_Model):
    app: Literal["flower", "flower-next"] = "flower"
    assy: Assy = "scan"


class RolloutConfig(_Model):
    max_unavailable: Annotated[int, Strict(), AfterValidator(_check_at_least_one)] = 1
    drain: StrictBool = True


class SriovConfig(_Model):
    resource_prefix: Annotated[str, AfterValidator(_check_resource_prefix)] = "corigine.com"
    resource_name: Annotated[str, AfterValidator(_check_resource_name)] = "agilio_sriov"
    vendors: Annotated[list[PciId], Field(min_length=1)] = ["19ee"]
    devices: Annotated[list[PciId], Field(min_length=1)] = ["6003"]
    drivers: Annotated[list[DriverName], Field(min_length=1)] = ["nfp_netvf"]

    @property
    def resource(self) -> str:
        """The extended resource pods request, e.g. `corigine.com/agilio_sriov`."""
        return f"{self.resource_prefix}/{self.resource_name}"


class NadConfig(_Model):
    name: Label = "default"
    namespace: Label = "default"


class MasterNode(_Model):
    """A Kube-OVN master (ovn-central) node: its Kubernetes name and its InternalIP."""

    name: NodeName
    ip: IpAddress


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
        found, value = _lookup(values, path)
        if found and value != allowed:
            problems.append(
                f"{'.'.join(path)}: {json.dumps(value)} is not allowed "
                f"({why}; only {json.dumps(allowed)})"
            )
    for path, where in _VALUES_SET_ELSEWHERE.items():
        if _lookup(values, path)[0]:
            problems.append(f"{'.'.join(path)}: set by {where}, not in values")
    for path, why in _REFUSED_VALUES.items():
        if _lookup(values, path)[0]:
            problems.append(f"{'.'.join(path)}: not allowed in values ({why})")
    problems += [
        f"{where}: an env named HW_OFFLOAD is not allowed (features.enableHardwareOffload sets it)"
        for where in _hw_offload_envs(values)
    ]
    found, registry = _lookup(values, _REGISTRY_PATH)
    allowed = list(allowed_registries)
    if found and registry not in allowed:
        problems.append(
            f"{'.'.join(_REGISTRY_PATH)}: {json.dumps(registry)} is not an allowed registry "
            f"(list it in kubeOvn.allowedRegistries to pull Kube-OVN's image from it; "
            f"allowed now: {json.dumps(allowed)})"
        )
    for path in _NETWORK_TYPE_PATHS:
        found, value = _lookup(values, path)
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


class KubeOvnConfig(_Model):
    # helm: the stack installs Kube-OVN (a Helm release); existing: a running Kube-OVN (e.g.
    # from install.sh) is kept, and the cluster preflight checks it has offload on.
    install: Literal["helm", "existing"] = "helm"
    chart_version: Annotated[str, AfterValidator(_check_chart_version)] = (
        pins.KUBE_OVN_CHART_VERSION
    )
    # The default uplink of the Agilio nodes (their tunnel-interface annotation); unset: each
    # Agilio node names its uplink. Never IFACE for the whole cluster: other nodes keep their
    # node-IP NIC (components/kube_ovn.py).
    iface: IfName | None = None
    # Required with install: helm (checked with the other cross-field rules).
    master_nodes: list[MasterNode] = []
    # Before `values`, whose check reads it.
    allowed_registries: list[Annotated[str, AfterValidator(_check_registry)]] = []
    values: dict[str, Any] = {}

    @field_validator("values")
    @classmethod
    def _values_keep_offload(cls, values: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        problems = kube_ovn_values_problems(values, info.data.get("allowed_registries", []))
        if problems:
            raise PydanticCustomError("kube_ovn_values", "; ".join(problems))
        return values


class MultusConfig(_Model):
    # stack: the stack installs thick Multus and the NAD CRD; existing: both are already on the
    # cluster (the cluster preflight checks they are) and are reused as they are.
    install: Literal["stack", "existing"] = "stack"


class KubernetesConfig(_Model):
    context: str | None = None
    kubeconfig_path: str | None = None


class StackConfig(_Model):
    """The whole `agilio-offload:*` config of a stack."""

    nodes: Annotated[list[NodeConfig], Field(min_length=1)]
    vfs: VfCount = 4
    ssh: SshConfig = SshConfig()
    firmware: FirmwareConfig = FirmwareConfig()
    rollout: RolloutConfig = RolloutConfig()
    sriov: SriovConfig = SriovConfig()
    nad: NadConfig = NadConfig()
    kube_ovn: KubeOvnConfig
    multus: MultusConfig = MultusConfig()
    kubernetes: KubernetesConfig = KubernetesConfig()

    def resolved_nodes(self) -> list[ResolvedNode]:
        """Every node with the stack-wide defaults filled in, in config order."""
        return [self._resolve(node) for node in self.nodes]

    def _resolve(self, node: NodeConfig) -> ResolvedNode:
        user = node.user or self.ssh.user
        return ResolvedNode(
            name=node.name,
            host=node.host,
            port=node.port,
            user=user,
            sudo=self.ssh.sudo if self.ssh.sudo is not None else user != "root",
            host_key=node.host_key,
            pf=node.pf,
            # One of the two is set (a config rule).
            uplink=node.uplink or self.kube_ovn.iface or "",
            vfs=node.vfs if node.vfs is not None else self.vfs,
            app=self.firmware.app,
            assy=node.assy or self.firmware.assy,
        )


class ResolvedNode(_Model):
    """A node as the hardware steps see it: no defaults left to look up."""

    name: str
    host: str
    port: int
    user: str
    sudo: bool
    host_key: str | None
    pf: str
    uplink: str
    vfs: int
    app: str
    assy: str


# --- cross-field rules (checked on the raw data, so they are reported with field errors) ----


def _lookup(data: object, path: Iterable[str]) -> tuple[bool, object]:
    for key in path:
        if not isinstance(data, Mapping) or key not in data:
            return False, None
        data = data[key]
    return True, data


def _duplicates(items: list[tuple[str, object]]) -> list[str]:
    """`path: value` for every item whose value was seen before."""
    seen: Counter[object] = Counter()
    repeated = []
    for path, value in items:
        seen[value] += 1
        if seen[value] > 1:
            repeated.append(f"{path}: {value!r} is used more than once (must be unique)")
    return repeated


def _dicts(raw: Mapping[str, Any], key: str, *sub: str) -> list[tuple[int, dict]]:
    found, items = _lookup(raw, (key, *sub))
    if not found or not isinstance(items, list):
        return []
    return [(i, item) for i, item in enumerate(items) if isinstance(item, dict)]


def _cross_field_problems(raw: Mapping[str, Any]) -> list[str]:
    nodes = _dicts(raw, "nodes")
    masters = _dicts(raw, "kubeOvn", "masterNodes")
    problems = _duplicates([(f"nodes[{i}].name", n.get("name")) for i, n in nodes if "name" in n])
    problems += _duplicates(
        [
            # DNS names are case-insensitive: Node-1 and node-1 are one host.
            (f"nodes[{i}].host", f"{n['host'].lower()}:{n.get('port', 22)}")
            for i, n in nodes
            if isinstance(n.get("host"), str)
        ]
    )
    problems += _duplicates(
        [(f"kubeOvn.masterNodes[{i}].name", m.get("name")) for i, m in masters if "name" in m]
    )
    problems += _duplicates(
        [(f"kubeOvn.masterNodes[{i}].ip", m.get("ip")) for i, m in masters if "ip" in m]
    )
    return problems + _kube_ovn_problems(raw)


def _kube_ovn_problems(raw: Mapping[str, Any]) -> list[str]:
    """The rules between kubeOvn's keys, and between kubeOvn and the nodes."""
    found, kube_ovn = _lookup(raw, ("kubeOvn",))
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


def _rollout_problems(model: StackConfig) -> list[str]:
    batches = math.ceil(len(model.nodes) / model.rollout.max_unavailable)
    if batches <= MAX_ROLLOUT_BATCHES:
        return []
    needed = math.ceil(len(model.nodes) / MAX_ROLLOUT_BATCHES)
    return [
        f"rollout.maxUnavailable: {model.rollout.max_unavailable} rolls {len(model.nodes)} nodes "
        f"out in {batches} batches; at most {MAX_ROLLOUT_BATCHES} are allowed (the Pulumi "
        f"Python SDK fails on dependency chains deeper than ~1000 resources): set it to at "
        f"least {needed}"
    ]


# --- errors with config paths -------------------------------------------------------------------


def _path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _describe(error: Mapping[str, Any]) -> str:
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        return "unknown key (check the spelling; README 'Config reference' lists every key)"
    if error["type"] == "missing":
        return "is required"
    if error["type"].startswith(("int_", "bool_", "string_", "list_", "dict_", "literal_")) or (
        error["type"] in ("greater_than_equal", "less_than_equal", "too_short", "model_type")
    ):
        return f"{error['input']!r}: {message[0].lower()}{message[1:]}"
    return message


def _format_errors(exc: ValidationError) -> list[str]:
    return [f"{NAMESPACE}:{_path(err['loc'])}: {_describe(err)}" for err in exc.errors()]


def validate_stack_config(raw: Mapping[str, Any]) -> StackConfig:
    """The validated model of `raw` (camelCase keys, as in the stack file), or a ConfigError."""
    problems: list[str] = []
    model: StackConfig | None = None
    try:
        model = StackConfig.model_validate(raw)
    except ValidationError as exc:
        problems += _format_errors(exc)
    problems += [f"{NAMESPACE}:{p}" for p in _cross_field_problems(raw)]
    if model is not None:
        problems += [f"{NAMESPACE}:{p}" for p in _rollout_problems(model)]
    if problems or model is None:
        raise ConfigError(problems)
    return model


# --- reading pulumi.Config -----------------------------------------------------------------------

_KNOWN_KEYS = tuple(field.alias or name for name, field in StackConfig.model_fields.items())


def _parse_value(text: str) -> Any:
    """Structured config reaches the program as JSON text; plain strings stay strings."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _configured_keys() -> set[str]:
    """Every `agilio-offload:*` key the stack sets (to name typos instead of ignoring them)."""
    from pulumi.runtime import config as runtime_config

    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    prefix = f"{NAMESPACE}:"
    return {key[len(prefix) :] for key in keys if key.startswith(prefix)}


def read_raw_config(config: pulumi.Config) -> dict[str, Any]:
    """The non-secret keys of the namespace, parsed, as the stack file spells them."""
    raw = {}
    for key in _KNOWN_KEYS:
        text = config.get(key)
        if text is not None:
            raw[key] = _parse_value(text)
    return raw


def load_stack_config() -> tuple[StackConfig, pulumi.Output[str] | None]:
    """The validated config and the `sshPrivateKey` secret (None when unset), or a ConfigError."""
    config = pulumi.Config(NAMESPACE)
    unknown = sorted(_configured_keys() - set(_KNOWN_KEYS) - set(SECRET_KEYS))
    raw = read_raw_config(config)
    try:
        model = validate_stack_config(raw)
    except ConfigError as err:
        raise ConfigError([*_unknown_key_problems(unknown), *err.problems]) from None
    if unknown:
        raise ConfigError(_unknown_key_problems(unknown))
    return model, config.get_secret("sshPrivateKey")


def _unknown_key_problems(keys: list[str]) -> list[str]:
    allowed = ", ".join((*_KNOWN_KEYS, *SECRET_KEYS))
    return [f"{NAMESPACE}:{key}: unknown key (allowed: {allowed})" for key in keys]
