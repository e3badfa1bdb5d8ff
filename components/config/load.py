"""Reading and validating the stack config: `load_stack_config()` reads `pulumi.Config`,
validates everything and raises one `ConfigError` listing every problem (config path, value
seen, what is allowed) before the program registers a single resource, so a bad config never
reaches a node."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

import pulumi
from pydantic import ValidationError

from components.config.errors import ConfigError
from components.config.keys import (
    KNOWN_KEYS,
    NAMESPACE,
    SECRET_KEYS,
    namespace_problems,
    unknown_key_problems,
)
from components.config.models import ResolvedNode, StackConfig
from components.config.redact import looks_secret, shown, shown_key
from components.config.rules import cross_field_problems
from components.config.stack_file import check_own_stack_file
from components.config.validators import host_port_text
from components.config.warnings import config_warnings

# --- errors with config paths -------------------------------------------------------------------


def _path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        key = shown_key(part) if isinstance(part, str) else part
        text += f"[{part}]" if isinstance(part, int) else (f".{key}" if text else str(key))
    return text


def _describe(error: Mapping[str, Any]) -> str:
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        return "unknown key (check the spelling; docs/config-reference.md lists every key)"
    if error["type"] == "missing":
        return "is required"
    if error["type"].startswith(("int_", "bool_", "string_", "list_", "dict_", "literal_")) or (
        error["type"] in ("greater_than_equal", "less_than_equal", "too_short", "model_type")
    ):
        return f"{shown(error['input'])}: {message[0].lower()}{message[1:]}"
    return message


def _format_errors(exc: ValidationError) -> list[str]:
    return [f"{NAMESPACE}:{_path(err['loc'])}: {_describe(err)}" for err in exc.errors()]


def _secret_paths(value: object, path: str) -> list[str]:
    """The config path of every key or string under `value` that looks like a key or token."""
    if isinstance(value, str):
        return [path] if looks_secret(value) else []
    if isinstance(value, Mapping):
        found = []
        for key, item in value.items():
            where = f"{path}.{shown_key(key)}" if path else shown_key(key)
            found += [where] if isinstance(key, str) and looks_secret(key) else []
            found += _secret_paths(item, where)
        return found
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _secret_paths(item, f"{path}[{i}]")]
    return []


MAX_DEPTH = 32  # as the strict stack-file reader (components.config.stack_file)


def _too_deep(raw: Mapping[str, Any]) -> list[str]:
    """The config path of the first value nested deeper than MAX_DEPTH (walked without
    recursion: the deep value itself must not raise RecursionError here)."""
    pending: list[tuple[object, str, int]] = [(raw, "", 0)]
    while pending:
        value, path, depth = pending.pop()
        if depth > MAX_DEPTH:
            return [
                f"{NAMESPACE}:{path}: nested deeper than {MAX_DEPTH} levels (no value of this "
                "stack's config does): flatten it"
            ]
        if isinstance(value, Mapping):
            for key, item in value.items():
                where = f"{path}.{shown_key(key)}" if path else shown_key(key)
                pending.append((item, where, depth + 1))
        elif isinstance(value, list):
            pending += [(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    return []


def _snake_spellings() -> dict[str, str]:
    """snake_case field name -> the camelCase key the stack file uses, for every model."""
    import components.config.models as models

    spellings = {}
    for model in vars(models).values():
        if isinstance(model, type) and issubclass(model, models._Model):
            for name, info in model.model_fields.items():
                if info.alias and info.alias != name:
                    spellings[name] = info.alias
    return spellings


_SNAKE = _snake_spellings()


def _spelling_problems(value: object, path: str) -> list[str]:
    """One spelling per key: the model would also take `host_key` for `hostKey` (pydantic's
    populate_by_name), while the cross-field rules and the plan read camelCase only."""
    problems = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{shown_key(key)}" if path else shown_key(key)
            if key in _SNAKE:
                problems.append(
                    f"{NAMESPACE}:{where}: spelled snake_case: write {_SNAKE[key]!r} (the one "
                    "spelling every rule and the plan read)"
                )
            if where != "kubeOvn.values":  # Helm's keys, not ours
                problems += _spelling_problems(item, where)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            problems += _spelling_problems(item, f"{path}[{i}]")
    return problems


def validate_stack_config(raw: Mapping[str, Any]) -> StackConfig:
    """The validated model of `raw` (camelCase keys, as in the stack file), or a ConfigError.

    A value that looks like a key or token is never accepted, in any field: every accepted
    value may reach a plan file, a manifest or the state in plain text."""
    problems: list[str] = _too_deep(raw)
    if problems:
        raise ConfigError(problems)
    problems = _spelling_problems(raw, "")
    if problems:
        raise ConfigError(problems)
    model: StackConfig | None = None
    try:
        model = StackConfig.model_validate(raw)
    except ValidationError as exc:
        problems += _format_errors(exc)
    problems += [f"{NAMESPACE}:{p}" for p in cross_field_problems(raw)]
    if not problems:
        problems += [
            f"{NAMESPACE}:{path}: <redacted> looks like a key, token or kubeconfig: secrets "
            "belong in secret config (pulumi config set --secret) or files, never in plain values"
            for path in _secret_paths(raw, "")
        ]
    if problems or model is None:
        raise ConfigError(problems)
    return model


# --- reading pulumi.Config -----------------------------------------------------------------------


def _parse_value(text: str) -> Any:
    """Structured config reaches the program as JSON text; plain strings stay strings."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
    except RecursionError:
        return _TOO_DEEP


# A JSON value nested beyond the reader's recursion: refused by validate_stack_config.
_TOO_DEEP: Any = functools.reduce(lambda value, _: [value], range(MAX_DEPTH + 2), "too deep")


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
    for key in KNOWN_KEYS:
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
        if key.startswith(prefix) and key[len(prefix) :] in KNOWN_KEYS
    }


def unpinned_nodes(config: StackConfig) -> list[ResolvedNode]:
    """The nodes reached without a host key (only with `ssh.allowUnpinned: true`)."""
    return [node for node in config.resolved_nodes() if node.host_key is None]


def unpinned_warning(config: StackConfig) -> str | None:
    """ONE line for every unpinned node (the plan's access summary lists them by name)."""
    nodes = unpinned_nodes(config)
    if not nodes:
        return None
    first = f"{nodes[0].name} ({host_port_text(nodes[0].host, nodes[0].port)})"
    more = f" and {len(nodes) - 1} more" if len(nodes) > 1 else ""
    return (
        f"SSH to {len(nodes)} node(s) is UNPINNED (ssh.allowUnpinned: true, no hostKey): "
        f"{first}{more}; whoever answers on those addresses gets the node scripts, run as "
        "root, and reports the facts this stack exports; pin them with nodes[].hostKey (the "
        "plan's access summary lists every unpinned node)"
    )


def warn_unpinned(config: StackConfig) -> None:
    """The unpinned warning, once per preview and up (not once per node)."""
    warning = unpinned_warning(config)
    if warning:
        pulumi.log.warn(warning)


def load_stack_config() -> tuple[StackConfig, pulumi.Output[str] | None]:
    """The validated config and the `sshPrivateKey` secret (None when unset), or a ConfigError.

    The stack's own file is re-read strictly first (`components.stack_file`): under
    `pulumi up` the CLI parsed it leniently (duplicate keys, aliases, dates) before the program
    started."""
    check_own_stack_file(pulumi.get_stack())
    config = pulumi.Config(NAMESPACE)
    keys = _config_keys()
    unknown = sorted(_configured_keys(keys) - set(KNOWN_KEYS) - set(SECRET_KEYS))
    early = [
        *namespace_problems(sorted(keys)),
        *unknown_key_problems(unknown),
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
    for warning in config_warnings(model):
        pulumi.log.warn(warning)
    return model, config.get_secret("sshPrivateKey")
