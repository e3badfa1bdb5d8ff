"""A strict reader of stack files (`stacks/Pulumi.<stack>.yaml`): YAML that can mean only one thing.

PyYAML's `safe_load` keeps the last of two duplicate keys, expands aliases (a 1 KiB file can
become millions of values), turns `2024-01-01` into a date and reads YAML 1.1 spellings (`yes`,
`0o17`, `1_000`, `12:30`) as booleans and numbers where the Pulumi CLI (YAML 1.2) reads strings.
This reader composes the document itself and refuses all of these, each error with its line and
config path, so the stack's config means the same to the plan tool, the tests and `pulumi up`.

Under `pulumi up` the CLI has parsed the file before the program starts and hands it the values
only; so the program re-reads its own stack file with this reader at start
(`check_own_stack_file`, called by `components.config.load_stack_config`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from components.config.errors import ConfigError
from components.config.keys import NAMESPACE, namespace_problems
from components.config.redact import shown, shown_key

PROJECT_DIR = Path(__file__).resolve().parents[2]
# The top-level keys of a Pulumi stack file (pulumi `sdk/go/common/workspace/project.go`
# ProjectStack: config, secretsprovider, encryptedkey, encryptionsalt, environment).
STACK_FILE_KEYS = ("config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment")

_TAG = "tag:yaml.org,2002:"
# Plain scalars that read the same in JSON, YAML 1.1 (PyYAML) and YAML 1.2 (the Pulumi CLI).
_PLAIN_INT = re.compile(r"-?(0|[1-9][0-9]*)")
_PLAIN_FLOAT = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_PLAIN_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False}
_PLAIN_BOOL["FALSE"] = False
_PLAIN_NULL = ("null", "Null", "NULL", "~", "")
# Plain scalars YAML 1.2's core schema (the Pulumi CLI) reads as numbers, booleans or null that
# YAML 1.1 (PyYAML) reads as strings, e.g. `0o17`.
_YAML12_NOT_STRING = re.compile(
    r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+"
    r"|[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"
    r"|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)"
    r"|true|True|TRUE|false|False|FALSE|null|Null|NULL|~"
)
_NOT_JSON = {
    "timestamp": "a YAML timestamp (date/time)",
    "binary": "YAML binary data",
    "set": "a YAML set",
    "omap": "a YAML ordered map",
    "pairs": "YAML pairs",
    "merge": "a YAML merge key ('<<')",
}


_RESOLVER = yaml.SafeLoader("")


class StackFileError(ConfigError):
    """A stack file that is not plain, unambiguous YAML: every problem with its line."""


class _NoAnchorsLoader(yaml.SafeLoader):
    """Refuses anchors and aliases as they are parsed, before anything is expanded."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _RefusedError(
                event.start_mark.line + 1,
                "YAML anchors and aliases ('&x', '*x') are not allowed in a stack file (an "
                "alias repeats a value where a reader cannot see it, and a few can expand a "
                "small file into millions of values): write each value out",
            )
        return super().compose_node(parent, index)


class _RefusedError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def _explicit_str(node: yaml.ScalarNode) -> bool:
    """A plain scalar tagged `!!str` by its writer (`!!str 4`): a string in YAML 1.1, YAML 1.2
    (go-yaml v3, the CLI, honours the explicit tag) and JSON alike."""
    implicit = yaml.SafeLoader.resolve(_RESOLVER, yaml.ScalarNode, node.value, (True, False))
    return node.tag == _TAG + "str" and implicit != _TAG + "str"


def _scalar(node: yaml.ScalarNode, path: str) -> Any:
    """The JSON value of a scalar, or _RefusedError when YAML versions or JSON would disagree.
    Every message shows the text through the one redaction rule (`redact.shown`)."""
    line, text, kind = node.start_mark.line + 1, node.value, node.tag.removeprefix(_TAG)
    quoted = node.style in ("'", '"')
    if (
        kind == "str"
        and not quoted
        and node.style is None
        and _YAML12_NOT_STRING.fullmatch(text)
        and not _explicit_str(node)
    ):
        raise _RefusedError(
            line,
            f"{path}: {shown(text)} is read as a string by YAML 1.1 (the plan tool's reader) "
            "but as a number, boolean or null by YAML 1.2 (the Pulumi CLI): quote it if a "
            "string is meant",
        )
    if kind == "str" or quoted:
        return text
    if kind == "int" and _PLAIN_INT.fullmatch(text):
        return int(text)
    if kind == "float" and _PLAIN_FLOAT.fullmatch(text):
        return float(text)
    if kind == "bool" and text in _PLAIN_BOOL:
        return _PLAIN_BOOL[text]
    if kind == "null" and text in _PLAIN_NULL:
        return None
    if kind in ("int", "float", "bool"):
        why = (
            f"{shown(text)} is read as a {kind} by YAML 1.1 (the plan tool's reader) but not by "
            "YAML 1.2 (the Pulumi CLI) nor JSON"
        )
    elif kind in _NOT_JSON:
        why = f"{shown(text)} is {_NOT_JSON[kind]}, not a JSON value"
    else:
        why = f"{shown(text)} has the tag {shown(node.tag)}, not a JSON value"
    raise _RefusedError(line, f"{path}: {why}: quote it if a string is meant")


# No value of this program's config nests deeper than ~8 levels (kubeOvn.values affinity terms);
# a deeper one is a mistake or an attack on the readers' recursion (RecursionError).
MAX_DEPTH = 32


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH from the event stream, before anything recursive
    (PyYAML's composer, pydantic, json) sees the document; names the path and line."""
    frames: list[list[Any]] = []  # [path, is_mapping, expecting_key, key, index]

    def child_path() -> str:
        if not frames:
            return ""
        path, is_mapping, _, key, index = frames[-1]
        return (
            _join(path, key if isinstance(key, str) else "?") if is_mapping else f"{path}[{index}]"
        )

    def advance() -> None:
        if frames:
            frame = frames[-1]
            if frame[1]:
                frame[2] = not frame[2]
            else:
                frame[4] += 1

    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            path = child_path()
            if len(frames) >= MAX_DEPTH + 1:
                raise _RefusedError(
                    event.start_mark.line + 1,
                    f"{path or 'the file'}: nested deeper than {MAX_DEPTH} levels (no value of "
                    "this stack's config does): flatten it",
                )
            frames.append([path, isinstance(event, yaml.MappingStartEvent), True, None, 0])
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            frames.pop()
            advance()
        elif isinstance(event, yaml.ScalarEvent | yaml.AliasEvent):
            if frames and frames[-1][1] and frames[-1][2]:
                frames[-1][3] = getattr(event, "value", None)
            advance()


def _too_deep(node: yaml.Node, path: str) -> _RefusedError:
    return _RefusedError(
        node.start_mark.line + 1,
        f"{path or 'the file'}: nested deeper than {MAX_DEPTH} levels (no value of this "
        "stack's config does): flatten it",
    )


def _value(node: yaml.Node, path: str, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise _too_deep(node, path)
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node, path)
    if isinstance(node, yaml.SequenceNode):
        if node.tag != _TAG + "seq":
            raise _RefusedError(
                node.start_mark.line + 1, f"{path}: the tag {shown(node.tag)} is not JSON"
            )
        return [_value(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(node.value)]
    if node.tag != _TAG + "map":
        raise _RefusedError(
            node.start_mark.line + 1, f"{path}: the tag {shown(node.tag)} is not JSON"
        )
    return _mapping(node, path, depth)


def _mapping(node: yaml.MappingNode, path: str, depth: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    first_line: dict[str, int] = {}
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1
        if key_node.tag == _TAG + "merge":
            raise _RefusedError(
                line, f"{path or 'the file'}: a YAML merge key ('<<') is not allowed"
            )
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _TAG + "str":
            raise _RefusedError(line, f"{path or 'the file'}: a key must be a string (JSON)")
        key = key_node.value
        if key in first_line:
            raise _RefusedError(
                line,
                f"{_join(path, key)}: duplicate key (first at line {first_line[key]}); YAML "
                "would silently keep only the last one: remove one of them",
            )
        first_line[key] = line
        result[key] = _value(value_node, _join(path, key), depth + 1)
    return result


def _config_key_problems(name: str, node: yaml.MappingNode, project: str) -> list[str]:
    """Keys as the CLI reads them. pulumi `sdk/go/common/workspace/loaders.go`
    `stackConfigNamespacedWithProject` prefixes a key without ':' with the project name, then
    every key goes through `config.ParseKey`; a bare key beside its namespaced twin becomes one
    key twice, and which value wins depends on Go's map order: refused."""
    problems = []
    first: dict[str, int] = {}
    for line, key in _config_keys(node):
        full = key if ":" in key else f"{project}:{key}"
        problem = parse_key_problem(full, project)
        if problem:
            problems.append(f"{name}:{line}: {problem}")
            continue
        if full in first:
            problems.append(
                f"{name}:{line}: {shown_key(key)}: the same key as line {first[full]} (the CLI "
                f"reads a key without a namespace as '{project}:<key>'; which of the two wins "
                "is not defined): keep one"
            )
        first.setdefault(full, line)
        problems += [f"{name}:{line}: {p}" for p in namespace_problems([full])]
    return problems


def parse_key_problem(key: str, project: str = NAMESPACE) -> str | None:
    """Why the CLI refuses `key` in a stack file, or None. pulumi `sdk/go/common/resource/config/
    key.go` `ParseKey`: exactly one ':' (`<namespace>:<name>`), or the old
    `<namespace>:config:<name>`; anything else is "could not parse ... as a configuration key"."""
    parts = key.split(":")
    if len(parts) == 2 or (len(parts) == 3 and parts[1] == "config"):
        return None
    return (
        f"{shown_key(key)}: not a configuration key the Pulumi CLI can parse (ParseKey wants "
        "'<namespace>:<name>')"
    )


def _join(path: str, key: str) -> str:
    return f"{path}.{shown_key(key)}" if path else shown_key(key)


def _config_keys(document: yaml.MappingNode) -> Iterator[tuple[int, str]]:
    for key_node, value_node in document.value:
        if key_node.value == "config" and isinstance(value_node, yaml.MappingNode):
            for config_key, _ in value_node.value:
                yield config_key.start_mark.line + 1, str(config_key.value)


def read_stack_file(path: Path, project: str = NAMESPACE) -> dict[str, Any]:
    """The stack file as plain JSON data, or a StackFileError naming every problem it has."""
    name = _display(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise StackFileError(
            [f"{name}: is not UTF-8 text (byte {err.start}); the Pulumi CLI reads UTF-8 only"]
        ) from None
    except OSError as err:
        raise StackFileError([f"{name}: cannot be read ({err.strerror})"]) from None
    try:
        _check_depth(text)
        node = yaml.compose(text, Loader=_NoAnchorsLoader)
        document = _value(node, "") if node is not None else {}
    except _RefusedError as refused:
        raise StackFileError([f"{name}:{refused.line}: {refused.message}"]) from None
    except RecursionError:
        raise StackFileError(
            [f"{name}: nested deeper than the YAML reader can follow (max {MAX_DEPTH} levels)"]
        ) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        problem = getattr(err, "problem", None) or "is not valid YAML"
        raise StackFileError([f"{where}: {problem}"]) from None
    if not isinstance(document, dict):
        raise StackFileError([f"{name}: a stack file is a mapping with a 'config' key"])
    problems = [
        f"{name}: {key}: not a stack file key (allowed: {', '.join(STACK_FILE_KEYS)})"
        for key in document
        if key not in STACK_FILE_KEYS
    ]
    problems += _shape_problems(name, document)
    if isinstance(node, yaml.MappingNode) and not problems:
        problems += _config_key_problems(name, node, project)
    if problems:
        raise StackFileError(problems)
    return document


def _shape_problems(name: str, document: dict[str, Any]) -> list[str]:
    """`config` is a mapping of keys to values; `environment` a list of ESC environment names
    (pulumi `sdk/go/common/workspace/project.go` ProjectStack: `Config config.Map`,
    `Environment *Environment`, written as a list of names)."""
    problems = []
    if not isinstance(document.get("config", {}), dict) and document.get("config") is not None:
        problems.append(
            f"{name}: config: must be a mapping of keys to values (is a "
            f"{type(document['config']).__name__})"
        )
    environment = document.get("environment")
    if environment is not None and not (
        isinstance(environment, list) and all(isinstance(e, str) for e in environment)
    ):
        problems.append(f"{name}: environment: must be a list of Pulumi ESC environment names")
    return problems


def _display(path: Path) -> str:
    """The path as errors show it: relative to the project when inside it."""
    try:
        return str(path.resolve().relative_to(PROJECT_DIR))
    except ValueError:
        return str(path)


def own_stack_file(stack: str, project_dir: Path | None = None) -> Path | None:
    """`<stackConfigDir>/Pulumi.<stack>.yaml` of this project, when it exists."""
    project_dir = project_dir or PROJECT_DIR
    settings = yaml.safe_load((project_dir / "Pulumi.yaml").read_text()) or {}
    path = project_dir / settings.get("stackConfigDir", ".") / f"Pulumi.{stack}.yaml"
    return path if path.is_file() else None


def check_own_stack_file(stack: str) -> None:
    """Re-read the running stack's own file strictly (the CLI parsed it leniently first)."""
    path = own_stack_file(stack)
    if path is not None:
        read_stack_file(path)
