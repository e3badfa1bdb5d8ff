"""Builders of raw stack config for the config, trust and secret tests: the dev stack's config as
its stack file spells it, OpenSSH public keys of each type, a value set at a path, and the
problems a config is refused with."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
import yaml

from components.config import ConfigError, validate_stack_config
from tools.engine.mock_driver import stack_file


def dev_config() -> dict[str, Any]:
    """The dev stack's config as the stack file spells it, without the namespace prefix."""
    document = yaml.safe_load(stack_file("dev").read_text())
    return {key.split(":", 1)[1]: value for key, value in document["config"].items()}


def _ssh_string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


# The fields after the type name of each key blob (RFC 5656 3.1, RFC 8709 4, PROTOCOL.u2f).
KEY_FIELDS = {
    "ssh-ed25519": [bytes(range(32))],
    "ecdsa-sha2-nistp256": [b"nistp256", b"\x04" + bytes(range(64))],
    "ecdsa-sha2-nistp384": [b"nistp384", b"\x04" + bytes(96)],
    "ecdsa-sha2-nistp521": [b"nistp521", b"\x04" + bytes(132)],
    "sk-ssh-ed25519@openssh.com": [bytes(32), b"ssh:"],
    "sk-ecdsa-sha2-nistp256@openssh.com": [b"nistp256", b"\x04" + bytes(64), b"ssh:"],
    "ssh-rsa": [b"\x01\x00\x01", b"\x00" + bytes(range(1, 129))],
}


def key_blob(key_type: str = "ssh-ed25519", embedded: str | None = None) -> bytes:
    fields = KEY_FIELDS[embedded or key_type]
    return b"".join(_ssh_string(f) for f in [(embedded or key_type).encode(), *fields])


def ssh_public_key(
    key_type: str = "ssh-ed25519", embedded: str | None = None, comment: str = "ops@example"
) -> str:
    blob = base64.b64encode(key_blob(key_type, embedded)).decode()
    return f"{key_type} {blob} {comment}".rstrip()


def problems_of(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        validate_stack_config(raw)
    return caught.value.problems


def set_path(raw: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `raw` with `value` at a path like `nodes[0].pf` or `kubeOvn.values`."""
    changed = copy.deepcopy(raw)
    target: Any = changed
    parts = path.replace("[", ".").replace("]", "").split(".")
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target.setdefault(part, {})
    last = parts[-1]
    if last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return changed
