"""Config that is valid but probably not what was meant: warnings printed at every preview and
up (`load_stack_config`) and written into the plan (`tools.plan`, `warnings.json`).

Each warning names its config path; values are shown through the one redaction rule.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections import defaultdict

from components.config.models import StackConfig
from components.config.paths import expand_home
from components.config.redact import shown
from components.config.validators import parse_ip

# The SR-IOV VFs of Agilio CX cards: PCI vendor 19ee (Netronome; Corigine cards keep it) device
# 6003 (NFP VF), bound to nfp_netvf (linux drivers/net/ethernet/netronome/nfp/nfp_netvf_main.c
# `nfp_netvf_pci_device_ids`: PCI_VENDOR_ID_NETRONOME, PCI_DEVICE_ID_NFP6000_VF; Corigine's
# PCI_VENDOR_ID_CORIGINE 1da8 with the NFP3800 VF 3803).
AGILIO_VF_VENDORS = ("19ee", "1da8")
AGILIO_VF_DEVICES = ("6003", "3803")
AGILIO_VF_DRIVERS = ("nfp_netvf",)
_OPENSSH_MAGIC = b"openssh-key-v1\x00"


def _is_loopback(host: str) -> bool:
    if host.rstrip(".").lower() in ("localhost", "localhost.localdomain"):
        return True
    ip = parse_ip(host.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip is not None and ip.is_loopback


def _host_warnings(config: StackConfig) -> list[str]:
    warnings = []
    for i, node in enumerate(config.resolved_nodes()):
        if _is_loopback(node.host):
            warnings.append(
                f"nodes[{i}].host: {shown(node.host)} is this machine (loopback): the node "
                "scripts would run here, as root; fine for a test rig only"
            )
        if node.user != "root" and not node.sudo:
            warnings.append(
                f"nodes[{i}]: user {shown(node.user)} is not root and ssh.sudo is false: the "
                "node steps load drivers and firmware and write sysfs, which need root"
            )
    return warnings


def _shared_host_keys(config: StackConfig) -> list[str]:
    by_key: dict[str, list[int]] = defaultdict(list)
    for i, node in enumerate(config.nodes):
        if node.host_key:
            by_key[" ".join(node.host_key.split(" ")[:2])].append(i)
    return [
        f"nodes[{indexes[0]}].hostKey: the same host key is pinned on "
        f"{', '.join(f'nodes[{i}]' for i in indexes)}: one machine answers for all of them "
        "(a copied key, or one host behind several addresses)"
        for indexes in by_key.values()
        if len(indexes) > 1
    ]


def _encrypted_openssh_key(text: str) -> bool:
    """OpenSSH's key format (PROTOCOL.key): magic, then the cipher name, 'none' if clear."""
    body = "".join(line for line in text.splitlines() if not line.startswith("-----"))
    try:
        blob = base64.b64decode(body, validate=False)
    except (binascii.Error, ValueError):
        return False
    if not blob.startswith(_OPENSSH_MAGIC):
        return False
    start = len(_OPENSSH_MAGIC)
    length = int.from_bytes(blob[start : start + 4], "big")
    return blob[start + 4 : start + 4 + length] != b"none"


def _key_file_warnings(config: StackConfig) -> list[str]:
    path_text = config.ssh.private_key_path
    if path_text is None:
        return []
    where = "ssh.privateKeyPath"
    path = expand_home(path_text)
    text = path.read_text() if path.is_file() else ""
    if path.suffix == ".pub" or text.startswith(("ssh-", "ecdsa-", "sk-")):
        return [f"{where}: {shown(path_text)} is a public key: give the private key's path"]
    if not text.strip():
        return [f"{where}: {shown(path_text)} is empty"]
    if (
        "ENCRYPTED" in text.split("\n", 2)[0]
        or "Proc-Type: 4,ENCRYPTED" in text
        or _encrypted_openssh_key(text)
    ):
        return [
            f"{where}: {shown(path_text)} is passphrase-protected: pulumi-command cannot "
            "prompt for it; use the SSH agent (leave privateKeyPath unset) or the secret "
            "sshPrivateKey"
        ]
    return []


def _selector_warnings(config: StackConfig) -> list[str]:
    sriov = config.sriov
    checks = [
        ("sriov.vendors", sriov.vendors, AGILIO_VF_VENDORS),
        ("sriov.devices", sriov.devices, AGILIO_VF_DEVICES),
        ("sriov.drivers", sriov.drivers, AGILIO_VF_DRIVERS),
    ]
    return [
        f"{where}: {', '.join(shown(v) for v in values)} cannot match an Agilio CX VF "
        f"(one of {', '.join(agilio)} is): the device plugin would advertise 0 VFs"
        for where, values, agilio in checks
        if not set(values) & set(agilio)
    ]


def _kubeconfig_warnings(config: StackConfig) -> list[str]:
    path_text = config.kubernetes.kubeconfig_path
    if path_text is None or expand_home(path_text).is_file():
        return []
    return [
        f"kubernetes.kubeconfigPath: {shown(path_text)} does not exist on this machine: the "
        "provider would read the text itself as a kubeconfig and fail"
    ]


def config_warnings(config: StackConfig) -> list[str]:
    """Every warning of a validated config, each with its config path."""
    return [
        *_host_warnings(config),
        *_shared_host_keys(config),
        *_key_file_warnings(config),
        *_selector_warnings(config),
        *_kubeconfig_warnings(config),
    ]
