"""The config keys this program reads: its namespace, the known and secret keys, and the typo
finder that names a key of another namespace or an unknown key instead of ignoring it."""

from __future__ import annotations

from collections.abc import Iterable

from components.config.models import StackConfig
from components.config.redact import shown_key

NAMESPACE = "agilio-offload"
SECRET_KEYS = ("sshPrivateKey",)
# The only other namespace a stack of this program may set: the engine's own (`pulumi:tags`, ...).
OTHER_NAMESPACES = ("pulumi",)

KNOWN_KEYS = tuple(field.alias or name for name, field in StackConfig.model_fields.items())


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
            f"{key_text(key)}: unknown namespace {key_text(namespace)!r}, the key would be "
            "ignored: "
            f"{hint}; fix the key or remove it"
        )
    return problems


def unknown_key_problems(keys: list[str]) -> list[str]:
    allowed = ", ".join((*KNOWN_KEYS, *SECRET_KEYS))
    return [f"{NAMESPACE}:{key_text(key)}: unknown key (allowed: {allowed})" for key in keys]


def key_text(key: str) -> str:
    """A config key as errors show it (the one rule: `redact.shown_key`)."""
    return shown_key(key)
