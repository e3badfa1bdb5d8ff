"""kubectl `-o jsonpath=TEMPLATE`, as client-go `util/jsonpath` evaluates it.

The subset the stack's scripts and tools/verify.py use, after `parser.go` and `jsonpath.go`:
text and `{"literal"}` parts (`parseQuote`), fields `.a.b` with `\\.` keeping a dot in a key
(`parseField`), `[*]` and `[N]` (`parseArray`), filters `[?(@.k=="v")]`, `[?(@.k!="v")]` and
`[?(@.k)]` (`parseFilter`, `evalFilter`), `{range X}...{end}`. One action's several results
are joined by a space (`PrintResults`); strings print as they are, maps and lists as compact
JSON (`PrintResults`: `isComplexType` -> `json.Marshal`), numbers and booleans as Go prints
them. A missing key prints nothing: kubectl sets `AllowMissingKeys(true)`
(`--allow-missing-template-keys` defaults to true, cli-runtime `JSONPathPrintFlags`).
"""

from __future__ import annotations

import json
import re
from typing import Any

_ACTION = re.compile(r"\{((?:\"(?:[^\"\\]|\\.)*\"|[^}])*)\}")


class JSONPathError(ValueError):
    """A template client-go's parser refuses, or one beyond this subset."""


def split_template(template: str) -> list[tuple[str, str]]:
    """("text", t) and ("action", a) parts, as parser.go `parseText`/`parseLeftDelim`."""
    parts: list[tuple[str, str]] = []
    pos = 0
    for match in _ACTION.finditer(template):
        if match.start() > pos:
            parts.append(("text", template[pos : match.start()]))
        parts.append(("action", match.group(1).strip()))
        pos = match.end()
    if pos < len(template):
        parts.append(("text", template[pos:]))
    if any(kind == "text" and "{" in text for kind, text in parts):
        raise JSONPathError(f"unclosed action in {template!r}")
    return parts


def path_steps(path: str) -> list[tuple[str, str]]:
    """`.a.b\\.c[*][0][?(@.k=="v")]` as ("field", key) / ("all", "") / ("index", n) /
    ("filter", expr) steps."""
    steps: list[tuple[str, str]] = []
    at = 0
    while at < len(path):
        if path[at] == ".":
            key, at = "", at + 1
            while at < len(path) and path[at] not in ".[":
                if path[at] == "\\" and at + 1 < len(path):
                    key, at = key + path[at + 1], at + 2
                else:
                    key, at = key + path[at], at + 1
            if key:
                steps.append(("field", key))
        elif path.startswith("[*]", at):
            steps.append(("all", ""))
            at += 3
        elif path.startswith("[?(", at):
            end = path.index(")]", at)
            steps.append(("filter", path[at + 3 : end]))
            at = end + 2
        elif match := re.match(r"\[(-?\d+)\]", path[at:]):
            steps.append(("index", match.group(1)))
            at += match.end()
        else:
            raise JSONPathError(f"unrecognized character in action: {path[at:]!r}")
    return steps


_FILTER = re.compile(
    r'@((?:\.(?:\\.|[^.=!\s])+)+)\s*(?:(==|!=)\s*"([^"]*)"|(==|!=)\s*\'([^\']*)\')?'
)


def _filter(items: list[Any], expr: str) -> list[Any]:
    """evalFilter for `@.path=="value"`, `@.path!="value"` and `@.path` (present)."""
    match = _FILTER.fullmatch(expr.strip())
    if not match:
        raise JSONPathError(f"filter {expr!r} is beyond this jsonpath subset")
    path, operator, value = match.group(1), match.group(2) or match.group(4), None
    value = match.group(3) if match.group(2) else match.group(5)
    kept = []
    for item in items:
        found = evaluate(path, item)
        if operator is None:
            if found:
                kept.append(item)
        elif (bool(found) and text(found[0]) == value) == (operator == "=="):
            kept.append(item)
    return kept


def evaluate(path: str, data: Any) -> list[Any]:
    values = [data]
    for kind, arg in path_steps(path):
        found: list[Any] = []
        for value in values:
            if kind == "field" and isinstance(value, dict) and arg in value:
                found.append(value[arg])
            elif kind == "all" and isinstance(value, list):
                found += value
            elif kind == "all" and isinstance(value, dict):
                found += list(value.values())
            elif kind == "index" and isinstance(value, list):
                index = int(arg)
                if -len(value) <= index < len(value):
                    found.append(value[index])
            elif kind == "filter" and isinstance(value, list):
                found += _filter(value, arg)
        values = found
    return values


def text(value: Any) -> str:
    """How PrintResults prints one result."""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    return str(value)


def _range_end(parts: list[tuple[str, str]], start: int) -> int:
    depth = 1
    for index in range(start, len(parts)):
        kind, body = parts[index]
        if kind == "action" and body.startswith("range "):
            depth += 1
        elif kind == "action" and body == "end":
            depth -= 1
            if depth == 0:
                return index
    raise JSONPathError("not in range, nothing to end")


def _render(parts: list[tuple[str, str]], data: Any) -> str:
    out: list[str] = []
    at = 0
    while at < len(parts):
        kind, body = parts[at]
        at += 1
        if kind == "text":
            out.append(body)
        elif body.startswith('"'):
            out.append(json.loads(body))
        elif body.startswith("range "):
            end = _range_end(parts, at)
            for item in evaluate(body.removeprefix("range ").strip(), data):
                out.append(_render(parts[at:end], item))
            at = end + 1
        elif body == "end":
            raise JSONPathError("not in range, nothing to end")
        elif body in ("", "."):
            out.append(text(data))
        else:
            out.append(" ".join(text(value) for value in evaluate(body, data)))
    return "".join(out)


def render(template: str, data: Any) -> str:
    """What `kubectl get ... -o jsonpath=TEMPLATE` prints for `data` (no newline added)."""
    return _render(split_template(template), data)
