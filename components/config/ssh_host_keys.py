"""SSH host keys as `nodes[].hostKey` pins them: the types pulumi-command can use, the key blob
checks, and the fingerprint `ssh-keygen -l` prints."""

from __future__ import annotations

import base64
import binascii
import hashlib

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
PUBLIC_KEY_NAMES = frozenset((*_HOST_KEY_TYPES, *_REFUSED_HOST_KEY_TYPES))


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


def host_key_problem(value: str) -> str | None:
    if value != value.strip():
        return (
            "has a leading or trailing space: give '<type> <base64> [comment]' exactly as "
            "ssh-keyscan prints it, without the host name"
        )
    if value.partition(" ")[2].startswith(" "):
        return "has two spaces between its type and its key data: separate them by one space"
    fields = value.split(" ")
    if len(fields) >= 3 and fields[1] in PUBLIC_KEY_NAMES:
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
    if any(word in PUBLIC_KEY_NAMES for word in fields[2:]):
        return "holds more than one key: pin exactly one per node"
    return None


def host_key_fingerprint(value: str) -> tuple[str, str]:
    """(type, 'SHA256:...') of a checked host key line, as `ssh-keygen -l` prints it."""
    key_type, blob = value.split(" ")[:2]
    digest = hashlib.sha256(base64.b64decode(blob)).digest()
    return key_type, "SHA256:" + base64.b64encode(digest).decode().rstrip("=")
