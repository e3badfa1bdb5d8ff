"""How an error shows a config value: short values in full, long ones cut, key material never."""

from __future__ import annotations

import re

from components.config.ssh_host_keys import PUBLIC_KEY_NAMES

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
    return bool(_LONG_BASE64.search(text)) and text.split(" ", 1)[0] not in PUBLIC_KEY_NAMES


def shown(value: object) -> str:
    """`value` as an error message may show it: short values in full (quoted, control characters
    escaped), longer ones as a short prefix and their length, key material never."""
    text = value if isinstance(value, str) else repr(value)
    if looks_secret(text):
        return f"<redacted: {len(text)} characters that look like a key, token or kubeconfig>"
    if len(text) <= SHOWN_IN_FULL:
        return repr(value)
    return f"{text[:SHOWN_PREFIX]!r}... ({len(text)} characters)"
