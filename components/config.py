"""The stack config contract (namespace `agilio-offload`): one model, every check, every default.

`load_stack_config()` reads `pulumi.Config`, validates everything and raises one `ConfigError`
listing every problem (config path, value seen, what is allowed) before the program registers a
single resource, so a bad config never reaches a node. Defaults are the runbook's values.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import json
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
# The only other namespace a stack of this program may set: the engine's own (`pulumi:tags`, ...).
OTHER_NAMESPACES = ("pulumi",)

# The nfp driver enables at most 64 VFs on an NFP4000/NFP6000 PF (Agilio CX); each node's own
# sriov_totalvfs is checked on the node before its VF count changes.
MAX_VFS_PER_PF = 64


class ConfigError(pulumi.RunError):
    """Invalid stack config: every problem, one per line, each with its config path."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {problem}" for problem in problems)
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"invalid stack config ({count}):\n{lines}")


# --- showing a value in an error --------------------------------------------------------------

# Values longer than this are shown as a prefix of SHOWN_PREFIX characters and their length.
SHOWN_IN_FULL = 40
SHOWN_PREFIX = 20
# What key material and kubeconfigs look like: PEM/OpenSSH armour, kubeconfig fields, a JWT (the
# usual bearer token) or a long base64 run that is not a public key's.
_SECRET_LOOKING = re.compile(
    r"-----BEGIN|PRIVATE KEY|"
    r"\b(client-key-data|client-certificate-data|certificate-authority-data|token|password|"
    r"apiVersion|clusters|users|contexts)\s*:|"
    r"\beyJ[A-Za-z0-9_-]{8,}",
    re.IGNORECASE,
)
_LONG_BASE64 = re.compile(r"[A-Za-z0-9+/]{40,}={0,2}")


def looks_secret(text: str) -> bool:
    """True for text that looks like a private key, a kubeconfig or a token."""
    if _SECRET_LOOKING.search(text):
        return True
    # A public key line ('ssh-ed25519 AAAA...') is long base64 too, and not a secret.
    return bool(_LONG_BASE64.search(text)) and text.split(" ", 1)[0] not in _PUBLIC_KEY_NAMES


def shown(value: object) -> str:
    """`value` as an error message may show it: short values in full (quoted, control characters
    escaped), longer ones as a short prefix and their length, key material never."""
    text = value if isinstance(value, str) else repr(value)
    if looks_secret(text):
        return f"<redacted: {len(text)} characters that look like a key, token or kubeconfig>"
    if len(text) <= SHOWN_IN_FULL:
        return repr(value)
    return f"{text[:SHOWN_PREFIX]!r}... ({len(text)} characters)"


# --- value rules -------------------------------------------------------------------------------

# Every pattern is used with `fullmatch`: with `match` and `$`, "ens1np0\n" passes (`$` also
# matches before a trailing newline) and the newline reaches scripts, manifests and outputs.
_RFC1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_LABEL = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?")
_IFNAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}")
_LINUX_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
_ASSY = re.compile(r"scan|AMDA[0-9]{4}")
_HEX4 = re.compile(r"[0-9a-f]{4}")
_DRIVER = re.compile(r"[A-Za-z0-9_-]+")
_RESOURCE_NAME = re.compile(r"[a-zA-Z0-9_-]+")
_QUALIFIED_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_CHART_VERSION = re.compile(r"v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?")
# Control characters (newline, carriage return, NUL, escape, ...), refused in every string.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _fail(kind: str, message: str, value: object) -> PydanticCustomError:
    return PydanticCustomError(kind, f"{shown(value)} {message}")


def _no_control_characters(value: str) -> None:
    if _CONTROL.search(value):
        raise _fail(
            "control_character",
            "contains a control character (newline, NUL, tab, ...): no value may, it would "
            "reach node scripts, manifests and outputs",
            value,
        )


def _check_text(value: str) -> str:
    _no_control_characters(value)
    if looks_secret(value):
        raise _fail(
            "secret_in_text",
            "looks like a key, token or kubeconfig, not a name: secrets belong in secret "
            "config (pulumi config set --secret) or files, never in plain values",
            value,
        )
    return value


def _is_rfc1123_subdomain(value: str) -> bool:
    return len(value) <= 253 and bool(
        re.fullmatch(rf"{_RFC1123_LABEL}(\.{_RFC1123_LABEL})*", value)
    )


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


# --- hosts, as the network sees them ---


def _split_zone(value: str) -> tuple[str, str | None]:
    address, percent, zone = value.partition("%")
    return address, (zone if percent else None)


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address `value` spells (without a zone), or None when it is not an IP address.
    Python's parser refuses leading-zero IPv4 octets (read as octal by inet_aton)."""
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def canonical_host(value: str) -> str:
    """The host as the network sees it, for comparing hosts: an IPv4-mapped IPv6 address is
    its IPv4 address, IPv6 in its compressed lower-case form (zone kept), a DNS name in lower
    case without the root's trailing dot. `value` must have passed `_check_host`."""
    address, zone = _split_zone(value)
    ip = _ip(address)
    if ip is None:
        return value.removesuffix(".").lower()
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip) + (f"%{zone}" if zone is not None else "")


def _check_ip_host(value: str) -> str | None:
    """None when `value` is an IP address (IPv6 zones must be interface names), else why not."""
    address, zone = _split_zone(value)
    ip = _ip(address)
    if zone is None:
        return None if ip is not None else "not an IP"
    if not isinstance(ip, ipaddress.IPv6Address):
        return "has a zone ('%...') but is not an IPv6 address"
    if not _IFNAME.fullmatch(zone) or zone in (".", ".."):
        return "has an IPv6 zone that is not a network interface name (e.g. 'fe80::1%ens1np0')"
    return None


def _check_host(value: str) -> str:
    _no_control_characters(value)
    problem = _check_ip_host(value)
    if problem is None:
        return value
    if problem != "not an IP":
        raise _fail("host", problem, value)
    labels = value.removesuffix(".").split(".")
    if all(label.isdigit() for label in labels):
        raise _fail(
            "host",
            "is not an IPv4 address (four decimal numbers 0..255 without leading zeros: "
            "resolvers read '011' as octal 9) and not a DNS name",
            value,
        )
    if labels[-1].isdigit():
        raise _fail(
            "host",
            "is not a DNS name (its last label is all digits, RFC 3696 section 2) nor an IP",
            value,
        )
    if len(value) <= 253 and all(len(lbl) <= 63 and _DNS_LABEL.fullmatch(lbl) for lbl in labels):
        return value
    raise _fail("host", "is neither an IP address nor a DNS name", value)


def _check_ifname(value: str) -> str:
    if value in (".", "..") or not _IFNAME.fullmatch(value):
        raise _fail(
            "ifname",
            "is not a network interface name (at most 15 characters: letters, digits, "
            "'.', '-', '_'; no '/', ':', whitespace or shell metacharacters)",
            value,
        )
    return value


def _check_linux_user(value: str) -> str:
    if not _LINUX_USER.fullmatch(value):
        raise _fail(
            "user",
            "is not a Linux user name (lower-case letters, digits, '_' and '-', at most 32)",
            value,
        )
    return value


def _check_assy(value: str) -> str:
    if not _ASSY.fullmatch(value):
        raise _fail("assy", "is not 'scan' or an assembly ID 'AMDA' + 4 digits", value)
    return value


# --- SSH host keys ---

# The host key types a pinned connection can use, with the fields of their key blob after the
# type name (RFC 4253 6.6, RFC 5656 3.1, RFC 8709 4, OpenSSH PROTOCOL.u2f): "string" fields
# are SSH strings (uint32 length, bytes), a number is a string of exactly that many bytes.
# pulumi-command v1.2.1 (provider/pkg/provider/remote/connection.go, SSHConfig) parses hostKey
# with x/crypto's ssh.ParseAuthorizedKey, pins it with ssh.FixedHostKey and offers only
# publicKey.Type() as host-key algorithm; OpenSSH's sshd offers these (myproposal.h
# KEX_DEFAULT_PK_ALG, OpenSSH 8.8 to 10.x).
_HOST_KEY_BLOBS: dict[str, tuple[str | int, ...]] = {
    "ssh-ed25519": (32,),
    "ecdsa-sha2-nistp256": ("nistp256", 65),
    "ecdsa-sha2-nistp384": ("nistp384", 97),
    "ecdsa-sha2-nistp521": ("nistp521", 133),
    "sk-ssh-ed25519@openssh.com": (32, "string"),
    "sk-ecdsa-sha2-nistp256@openssh.com": ("nistp256", 65, "string"),
}
_HOST_KEY_TYPES = tuple(_HOST_KEY_BLOBS)
_REFUSED_HOST_KEY_TYPES: dict[str, str] = {
    # Checked: pulumi-command v1.2.1 connection.go sets HostKeyAlgorithms to
    # []string{publicKey.Type()}, i.e. ["ssh-rsa"] for an RSA key, and x/crypto (v0.48.0,
    # ssh/common.go) names the SHA-1 RSA signature "ssh-rsa" (KeyAlgoRSA, in
    # insecureHostKeyAlgos); OpenSSH 8.8 dropped "ssh-rsa" from KEX_DEFAULT_PK_ALG (myproposal.h),
    # so the handshake fails with "no common algorithm for host key".
    "ssh-rsa": (
        "is an RSA host key: pulumi-command pins it with the SHA-1 signature algorithm "
        "'ssh-rsa' only, which OpenSSH >= 8.8 refuses by default (the connection fails with "
        "'no common algorithm for host key'); pin the node's ed25519 key instead "
        "(ssh-keyscan -t ed25519 <host>)"
    ),
    "ssh-dss": (
        "is a DSA host key: OpenSSH disabled DSA in 7.0 and removed it in 10.0; pin the "
        "node's ed25519 key (ssh-keyscan -t ed25519 <host>)"
    ),
}
_PUBLIC_KEY_NAMES = frozenset((*_HOST_KEY_TYPES, *_REFUSED_HOST_KEY_TYPES))


def _ssh_string(blob: bytes, offset: int) -> tuple[bytes, int] | None:
    if offset + 4 > len(blob):
        return None
    end = offset + 4 + int.from_bytes(blob[offset : offset + 4], "big")
    return (blob[offset + 4 : end], end) if end <= len(blob) else None


def _blob_problem(key_type: str, blob: bytes) -> str | None:
    """None when `blob` is a well-formed key of `key_type`, else what is wrong with it."""
    name = _ssh_string(blob, 0)
    if name is None:
        return "has key data that is cut short"
    if name[0] != key_type.encode():
        return "has key data of another type than its type name says"
    offset = name[1]
    for field_spec in _HOST_KEY_BLOBS[key_type]:
        item = _ssh_string(blob, offset)
        if item is None:
            return "has key data that is cut short"
        data, offset = item
        if isinstance(field_spec, int) and len(data) != field_spec:
            return f"has a key of {len(data)} bytes where {key_type} has {field_spec}"
        # Any other name is the curve an ECDSA blob must carry (RFC 5656 3.1).
        if isinstance(field_spec, str) and field_spec != "string" and data != field_spec.encode():
            return "has key data for another curve than its type name says"
    if offset != len(blob):
        return "has extra bytes after the key in its key data"
    return None


def _host_key_problem(value: str) -> str | None:
    fields = value.split(" ")
    if len(fields) >= 3 and fields[1] in _PUBLIC_KEY_NAMES:
        return (
            "starts with a host name: give only '<type> <base64>' (drop the name that "
            "ssh-keyscan prints first)"
        )
    key_type = fields[0]
    if key_type in _REFUSED_HOST_KEY_TYPES:
        return _REFUSED_HOST_KEY_TYPES[key_type]
    if key_type.endswith("-cert-v01@openssh.com"):
        return "is a host certificate, not a host key: pin the node's plain key"
    if key_type not in _HOST_KEY_BLOBS or len(fields) < 2:
        return (
            "is not an OpenSSH public host key ('<type> <base64> [comment]' on one line, type "
            f"one of {', '.join(_HOST_KEY_TYPES)})"
        )
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except (binascii.Error, ValueError):
        return "has key data that is not base64"
    if base64.b64encode(blob).decode() != fields[1]:
        return "has key data that is not canonical base64 (extra characters after the key)"
    problem = _blob_problem(key_type, blob)
    if problem:
        return problem
    if any(word in _PUBLIC_KEY_NAMES for word in fields[2:]):
        return "holds more than one key: pin exactly one per node"
    return None


def _check_host_key(value: str) -> str:
    _no_control_characters(value)
    problem = _host_key_problem(value)
    if problem:
        raise _fail("host_key", problem, value)
    return value


def host_key_fingerprint(value: str) -> tuple[str, str]:
    """(type, 'SHA256:...') of a checked host key line, as `ssh-keygen -l` prints it."""
    key_type, blob = value.split(" ")[:2]
    digest = hashlib.sha256(base64.b64decode(blob)).digest()
    return key_type, "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


# --- paths that must not hold the secret itself ---

_PRIVATE_KEY_CONTENT = re.compile(r"-----BEGIN|PRIVATE KEY|b3BlbnNzaC1rZXktdjE")
_KUBECONFIG_CONTENT = re.compile(
    r"\b(apiVersion|clusters|users|contexts|current-context|token|client-key-data)\s*:"
    r"|\{\s*\"|\beyJ[A-Za-z0-9_-]{8,}"
)


def _check_private_key_path(value: str) -> str:
    if _PRIVATE_KEY_CONTENT.search(value) or (looks_secret(value) and "/" not in value):
        raise _fail(
            "private_key_path",
            "is the content of a private key, not a path: store the key as a secret "
            "(pulumi config set --secret sshPrivateKey < KEYFILE), give the path of the key "
            "file, or use the SSH agent",
            value,
        )
    _no_control_characters(value)
    return value


def _check_kubeconfig_path(value: str) -> str:
    if _KUBECONFIG_CONTENT.search(value) or looks_secret(value):
        raise _fail(
            "kubeconfig_path",
            "is the content of a kubeconfig, not a path: give the path of the kubeconfig file "
            "(or leave it unset for the ambient kubeconfig); its token is now in the stack "
            "file's history, so rotate it",
            value,
        )
    _no_control_characters(value)
    return value


def _check_hex4(value: str) -> str:
    if not _HEX4.fullmatch(value):
        raise _fail("pci_id", "is not a PCI ID (4 lower-case hex digits, e.g. '19ee')", value)
    return value


def _check_driver(value: str) -> str:
    if not _DRIVER.fullmatch(value):
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
    if (
        len(value) > 63
        or not _RESOURCE_NAME.fullmatch(value)
        or not _QUALIFIED_NAME.fullmatch(value)
    ):
        raise _fail(
            "resource_name",
            "is not a device plugin resource name (letters, digits, '_' and '-' "
            "(^[a-zA-Z0-9_-]+$), starting and ending with a letter or digit, at most 63)",
            value,
        )
    return value


def _check_chart_version(value: str) -> str:
    if not _CHART_VERSION.fullmatch(value):
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
    if "%" in value or _ip(value) is None:
        raise _fail("ip", "is not an IP address (no zone, no leading zeros)", value)
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
Text = Annotated[str, AfterValidator(_check_text)]
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
    private_key_path: Annotated[str, AfterValidator(_check_private_key_path)] | None = None
    sudo: StrictBool | None = None
    # Without a hostKey pulumi-command does not check the host at all (ssh.InsecureIgnoreHostKey
    # in remote/connection.go): only an explicit opt-out allows that.
    allow_unpinned: StrictBool = False

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
    context: Text | None = None
    kubeconfig_path: Annotated[str, AfterValidator(_check_kubeconfig_path)] | None = None


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
            repeated.append(f"{path}: {shown(value)} is used more than once (must be unique)")
    return repeated


def _dicts(raw: Mapping[str, Any], key: str, *sub: str) -> list[tuple[int, dict]]:
    found, items = _lookup(raw, (key, *sub))
    if not found or not isinstance(items, list):
        return []
    return [(i, item) for i, item in enumerate(items) if isinstance(item, dict)]


def _host_port(node: Mapping[str, Any]) -> str | None:
    """`host:port` as the network sees it (see `canonical_host`), None for an invalid host."""
    host = node.get("host")
    try:
        canonical = canonical_host(_check_host(host)) if isinstance(host, str) else None
    except PydanticCustomError:
        return None
    if canonical is None:
        return None
    host_text = f"[{canonical}]" if ":" in canonical else canonical  # IPv6 in brackets
    return f"{host_text}:{node.get('port', 22)}"


def _canonical_ip(value: object) -> object:
    ip = _ip(value) if isinstance(value, str) and "%" not in value else None
    return value if ip is None else canonical_host(str(ip))


def _unpinned_problems(raw: Mapping[str, Any], nodes: list[tuple[int, dict]]) -> list[str]:
    found, allow = _lookup(raw, ("ssh", "allowUnpinned"))
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


def _cross_field_problems(raw: Mapping[str, Any]) -> list[str]:
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
        return f"{shown(error['input'])}: {message[0].lower()}{message[1:]}"
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


def _edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: how many characters to insert, delete or change."""
    row = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        previous, row[0] = row[0], i
        for j, char_b in enumerate(b, start=1):
            previous, row[j] = (
                row[j],
                min(row[j] + 1, row[j - 1] + 1, previous + (char_a != char_b)),
            )
    return row[-1]


def namespace_problems(keys: Iterable[str]) -> list[str]:
    """A problem for each full key (`namespace:key`) of a namespace this program does not read.

    A typo of ours (`agilio-ofload:vfs`) would otherwise be ignored and the default used."""
    problems = []
    for key in keys:
        namespace = key.split(":", 1)[0]
        if namespace == NAMESPACE or namespace in OTHER_NAMESPACES:
            continue
        distance = _edit_distance(namespace, NAMESPACE)
        hint = (
            f"a misspelling of {NAMESPACE!r}? ({distance} character{'s' if distance > 1 else ''}"
            " apart)"
            if distance <= max(3, len(NAMESPACE) // 4)
            else f"this program reads only {NAMESPACE}:* (and {', '.join(OTHER_NAMESPACES)}:*)"
        )
        problems.append(
            f"{_key_text(key)}: unknown namespace {_key_text(namespace)!r}, the key would be "
            "ignored: "
            f"{hint}; fix the key or remove it"
        )
    return problems


def _config_keys() -> set[str]:
    """Every full config key the program was given (stack file and Pulumi.yaml defaults)."""
    from pulumi.runtime import config as runtime_config

    return set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())


def _configured_keys(keys: set[str]) -> set[str]:
    """Every `agilio-offload:*` key the stack sets (to name typos instead of ignoring them)."""
    prefix = f"{NAMESPACE}:"
    return {key[len(prefix) :] for key in keys if key.startswith(prefix)}


def _is_secret(key: str) -> bool:
    from pulumi.runtime import config as runtime_config

    return runtime_config.is_config_secret(key) or key in (
        runtime_config.get_config_secret_keys_env()
    )


def _plain_secret_problems(keys: set[str]) -> list[str]:
    """`sshPrivateKey` in plain text: readable by anyone with the stack file, and echoed."""
    problems = []
    for key in SECRET_KEYS:
        full = f"{NAMESPACE}:{key}"
        if full in keys and not _is_secret(full):
            problems.append(
                f"{full}: is set in plain text, not as a secret (the stack file now holds the "
                f"key in clear: rotate it); run 'pulumi config rm {key}' and then "
                f"'pulumi config set --secret {key} < KEYFILE'"
            )
    return problems


def read_raw_config(config: pulumi.Config) -> dict[str, Any]:
    """The non-secret keys of the namespace, parsed, as the stack file spells them."""
    raw = {}
    for key in _KNOWN_KEYS:
        text = config.get(key)
        if text is not None:
            raw[key] = _parse_value(text)
    return raw


def raw_config(values: Mapping[str, str]) -> dict[str, Any]:
    """The non-secret keys of the namespace from full-key config values (as the CLI passes
    them: `agilio-offload:nodes` -> JSON text), as the stack file spells them."""
    prefix = f"{NAMESPACE}:"
    return {
        key[len(prefix) :]: _parse_value(text)
        for key, text in values.items()
        if key.startswith(prefix) and key[len(prefix) :] in _KNOWN_KEYS
    }


def unpinned_nodes(config: StackConfig) -> list[ResolvedNode]:
    """The nodes reached without a host key (only with `ssh.allowUnpinned: true`)."""
    return [node for node in config.resolved_nodes() if node.host_key is None]


def warn_unpinned(config: StackConfig) -> None:
    """One warning per unpinned node, at every preview and up."""
    for node in unpinned_nodes(config):
        pulumi.log.warn(
            f"{node.name}: SSH to {node.host}:{node.port} is UNPINNED (ssh.allowUnpinned: "
            "true, no hostKey): whoever answers on that address gets the node scripts, run "
            "as root, and reports the facts this stack exports; pin it with nodes[].hostKey"
        )


def load_stack_config() -> tuple[StackConfig, pulumi.Output[str] | None]:
    """The validated config and the `sshPrivateKey` secret (None when unset), or a ConfigError.

    The stack's own file is re-read strictly first (`components.stack_file`): under
    `pulumi up` the CLI parsed it leniently (duplicate keys, aliases, dates) before the program
    started."""
    from components.stack_file import check_own_stack_file

    check_own_stack_file(pulumi.get_stack())
    config = pulumi.Config(NAMESPACE)
    keys = _config_keys()
    unknown = sorted(_configured_keys(keys) - set(_KNOWN_KEYS) - set(SECRET_KEYS))
    early = [
        *namespace_problems(sorted(keys)),
        *_unknown_key_problems(unknown),
        *_plain_secret_problems(keys),
    ]
    raw = read_raw_config(config)
    try:
        model = validate_stack_config(raw)
    except ConfigError as err:
        raise ConfigError([*early, *err.problems]) from None
    if early:
        raise ConfigError(early)
    warn_unpinned(model)
    return model, config.get_secret("sshPrivateKey")


def _unknown_key_problems(keys: list[str]) -> list[str]:
    allowed = ", ".join((*_KNOWN_KEYS, *SECRET_KEYS))
    return [f"{NAMESPACE}:{_key_text(key)}: unknown key (allowed: {allowed})" for key in keys]


def _key_text(key: str) -> str:
    """A config key as errors show it: as written, unless it could be a pasted secret."""
    plain = len(key) <= SHOWN_IN_FULL and not looks_secret(key) and not _CONTROL.search(key)
    return key if plain else shown(key)
