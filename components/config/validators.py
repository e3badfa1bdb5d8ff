"""The field validators of the stack config, and the field types that carry them.

Each `_check_*` returns the value or raises a `PydanticCustomError` whose message shows the value
(redacted when it looks like a secret) and what is allowed.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, Strict
from pydantic_core import PydanticCustomError

from components.config.redact import looks_secret, shown
from components.config.ssh_host_keys import host_key_problem

# The nfp driver enables at most 64 VFs on an NFP4000/NFP6000 PF (Agilio CX); each node's own
# sriov_totalvfs is checked on the node before its VF count changes.
MAX_VFS_PER_PF = 64


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
# Control characters (C0: newline, carriage return, NUL, escape...; DEL; C1, e.g. NEL U+0085
# and CSI U+009B, which terminals act on; the Unicode line and paragraph separators), refused
# in every string.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def fail(kind: str, message: str, value: object) -> PydanticCustomError:
    return PydanticCustomError(kind, f"{shown(value)} {message}")


def _no_control_characters(value: str) -> None:
    if CONTROL.search(value):
        raise fail(
            "control_character",
            "contains a control character (newline, NUL, tab, C1 such as U+0085...): no value "
            "may, it would reach node scripts, manifests and outputs",
            value,
        )


def _check_text(value: str) -> str:
    _no_control_characters(value)
    if looks_secret(value):
        raise fail(
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
        raise fail(
            "node_name",
            "is not a Kubernetes node name (RFC 1123 subdomain: lower-case letters, digits, "
            "'-' and '.', starting and ending with a letter or digit, at most 253 characters)",
            value,
        )
    return value


def _check_label(value: str) -> str:
    if len(value) > 63 or not re.fullmatch(_RFC1123_LABEL, value):
        raise fail(
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


def parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address `value` spells (without a zone), or None when it is not an IP address.
    Python's parser refuses leading-zero IPv4 octets (read as octal by inet_aton)."""
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def canonical_host(value: str) -> str:
    """The host as the network sees it, for comparing hosts: an IPv4-mapped IPv6 address is
    its IPv4 address, IPv6 in its compressed lower-case form (zone kept), a DNS name in lower
    case without the root's trailing dot. `value` must have passed `check_host`."""
    address, zone = _split_zone(value)
    ip = parse_ip(address)
    if ip is None:
        return value.removesuffix(".").lower()
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip) + (f"%{zone}" if zone is not None else "")


def address_problem(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address, zone: str | None
) -> str | None:
    """Why `ip` (with its zone) cannot be a node's address, or None. A connect to the
    unspecified address reaches the operator's own machine (Linux routes 0.0.0.0 and :: to
    the local host), which would then run the node scripts as root."""
    plain = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip
    if plain.is_unspecified:
        return "is the unspecified address: a connect to it reaches this machine, not a node"
    if plain.is_multicast:
        return "is a multicast address, not a node's"
    if isinstance(plain, ipaddress.IPv4Address) and plain == ipaddress.IPv4Address(
        "255.255.255.255"
    ):
        return "is the broadcast address, not a node's"
    link_local = isinstance(plain, ipaddress.IPv6Address) and plain.is_link_local
    if link_local and zone is None:
        return (
            "is an IPv6 link-local address without a zone: it is ambiguous on a machine with "
            "more than one interface; add the interface (e.g. 'fe80::1%ens1np0')"
        )
    if zone is not None and not link_local:
        return "has a zone ('%...') but is not an IPv6 link-local address (fe80::/10)"
    return None


def _check_ip_host(value: str) -> str | None:
    """None when `value` is a usable IP address (IPv6 zones must be interface names, and only
    on link-local addresses), "not an IP" for a name, else why not."""
    address, zone = _split_zone(value)
    ip = parse_ip(address)
    if ip is None:
        return "not an IP" if zone is None else "has a zone ('%...') but is not an IPv6 address"
    if zone is not None and not isinstance(ip, ipaddress.IPv6Address):
        return "has a zone ('%...') but is not an IPv6 address"
    if zone is not None and (not _IFNAME.fullmatch(zone) or zone in (".", "..")):
        return "has an IPv6 zone that is not a network interface name (e.g. 'fe80::1%ens1np0')"
    return address_problem(ip, zone)


def check_host(value: str) -> str:
    _no_control_characters(value)
    problem = _check_ip_host(value)
    if problem is None:
        return value
    if problem != "not an IP":
        raise fail("host", problem, value)
    labels = value.removesuffix(".").split(".")
    if all(label.isdigit() for label in labels):
        raise fail(
            "host",
            "is not an IPv4 address (four decimal numbers 0..255 without leading zeros: "
            "resolvers read '011' as octal 9) and not a DNS name",
            value,
        )
    if labels[-1].isdigit():
        raise fail(
            "host",
            "is not a DNS name (its last label is all digits, RFC 3696 section 2) nor an IP",
            value,
        )
    if len(value) <= 253 and all(len(lbl) <= 63 and _DNS_LABEL.fullmatch(lbl) for lbl in labels):
        return value
    raise fail("host", "is neither an IP address nor a DNS name", value)


def _check_ifname(value: str) -> str:
    if value in (".", "..") or not _IFNAME.fullmatch(value):
        raise fail(
            "ifname",
            "is not a network interface name (at most 15 characters: letters, digits, "
            "'.', '-', '_'; no '/', ':', whitespace or shell metacharacters)",
            value,
        )
    return value


def _check_linux_user(value: str) -> str:
    if not _LINUX_USER.fullmatch(value):
        raise fail(
            "user",
            "is not a Linux user name (lower-case letters, digits, '_' and '-', at most 32)",
            value,
        )
    return value


def _check_assy(value: str) -> str:
    if not _ASSY.fullmatch(value):
        raise fail("assy", "is not 'scan' or an assembly ID 'AMDA' + 4 digits", value)
    return value


def _check_host_key(value: str) -> str:
    _no_control_characters(value)
    problem = host_key_problem(value)
    if problem:
        raise fail("host_key", problem, value)
    return value


# --- paths that must not hold the secret itself ---

_PRIVATE_KEY_CONTENT = re.compile(r"-----BEGIN|PRIVATE KEY|b3BlbnNzaC1rZXktdjE")
_KUBECONFIG_CONTENT = re.compile(
    r"\b(apiVersion|clusters|users|contexts|current-context|token|client-key-data)\s*:"
    r"|\{\s*\"|\beyJ[A-Za-z0-9_-]{8,}"
)


def _check_private_key_path(value: str) -> str:
    if _PRIVATE_KEY_CONTENT.search(value) or (looks_secret(value) and "/" not in value):
        raise fail(
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
        raise fail(
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
        raise fail("pci_id", "is not a PCI ID (4 lower-case hex digits, e.g. '19ee')", value)
    return value


def _check_driver(value: str) -> str:
    if not _DRIVER.fullmatch(value):
        raise fail("driver", "is not a kernel driver name (letters, digits, '_', '-')", value)
    return value


def _check_resource_prefix(value: str) -> str:
    if not _is_rfc1123_subdomain(value) or "." not in value:
        raise fail(
            "resource_prefix",
            "is not a resource prefix (a DNS domain such as 'corigine.com': lower-case "
            "RFC 1123 subdomain with at least one '.')",
            value,
        )
    if value == "kubernetes.io" or value.endswith(".kubernetes.io"):
        raise fail("resource_prefix", "is reserved by Kubernetes", value)
    return value


_QUALIFIED_NAME_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS1123_SUBDOMAIN = re.compile(rf"{_RFC1123_LABEL}(\.{_RFC1123_LABEL})*")


def _is_qualified_name(value: str) -> bool:
    """apimachinery `util/validation` `IsQualifiedName`: [prefix/]name, the prefix a DNS-1123
    subdomain (<= 253), the name 1..63 of [A-Za-z0-9_.-] starting and ending alphanumeric."""
    parts = value.split("/")
    if len(parts) > 2:
        return False
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix or len(prefix) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(prefix):
            return False
    name = parts[-1]
    return 0 < len(name) <= 63 and bool(_QUALIFIED_NAME_NAME.fullmatch(name))


def is_extended_resource_name(name: str) -> bool:
    """kubernetes `pkg/apis/core/helper/helpers.go` `IsExtendedResourceName`: not native (has a
    '/', no 'kubernetes.io/' in it), not 'requests.'-prefixed, and 'requests.' + name is a
    qualified name (so the prefix is at most 244 characters)."""
    native = "/" not in name or "kubernetes.io/" in name
    if native or name.startswith("requests."):
        return False
    return _is_qualified_name("requests." + name)


def _check_resource_name(value: str) -> str:
    if (
        len(value) > 63
        or not _RESOURCE_NAME.fullmatch(value)
        or not _QUALIFIED_NAME.fullmatch(value)
    ):
        raise fail(
            "resource_name",
            "is not a device plugin resource name (letters, digits, '_' and '-' "
            "(^[a-zA-Z0-9_-]+$), starting and ending with a letter or digit, at most 63)",
            value,
        )
    return value


def _check_chart_version(value: str) -> str:
    if not _CHART_VERSION.fullmatch(value):
        raise fail("chart_version", "is not a Kube-OVN chart version such as 'v1.16.2'", value)
    return value


def _check_registry(value: str) -> str:
    # A registry host (optionally with port) and path, as in `docker.io/kubeovn`.
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9._-]+)*", value):
        raise fail(
            "registry",
            "is not an image registry address such as 'registry.example.com/kubeovn'",
            value,
        )
    return value


def _check_ip(value: str) -> str:
    ip = parse_ip(value) if "%" not in value else None
    if ip is None:
        raise fail("ip", "is not an IP address (no zone, no leading zeros)", value)
    # A node's InternalIP: no zone, so an IPv6 link-local one is refused as well.
    problem = address_problem(ip, None)
    if problem:
        raise fail("ip", problem, value)
    return value


def host_port_text(host: str, port: int) -> str:
    """`host:port` as messages show it: an IPv6 address in brackets (RFC 3986 3.2.2)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _check_vf_count(value: int) -> int:
    if not 0 <= value <= MAX_VFS_PER_PF:
        raise fail(
            "vf_count",
            f"is not a VF count in 0..{MAX_VFS_PER_PF} (the nfp driver's limit per Agilio CX PF)",
            value,
        )
    return value


def _check_port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise fail("port", "is not a TCP port (1..65535)", value)
    return value


def _check_at_least_one(value: int) -> int:
    if value < 1:
        raise fail("at_least_one", "is less than 1 (at least one node must be allowed down)", value)
    return value


NodeName = Annotated[str, AfterValidator(_check_node_name)]
Label = Annotated[str, AfterValidator(_check_label)]
Host = Annotated[str, AfterValidator(check_host)]
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
PrivateKeyPath = Annotated[str, AfterValidator(_check_private_key_path)]
KubeconfigPath = Annotated[str, AfterValidator(_check_kubeconfig_path)]
ResourcePrefix = Annotated[str, AfterValidator(_check_resource_prefix)]
ResourceName = Annotated[str, AfterValidator(_check_resource_name)]
ChartVersion = Annotated[str, AfterValidator(_check_chart_version)]
Registry = Annotated[str, AfterValidator(_check_registry)]
AtLeastOne = Annotated[int, Strict(), AfterValidator(_check_at_least_one)]
