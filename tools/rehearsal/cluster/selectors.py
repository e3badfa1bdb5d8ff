"""Label and field selectors, as apimachinery parses and matches them.

Labels: `k8s.io/apimachinery/pkg/labels/selector.go` `Parse` (operators `=`, `==`, `!=`, `in`,
`notin`, exists `k`, does-not-exist `!k`; terms joined by `,` are ANDed; `!=`/`notin` also
match objects without the key, `Requirement.Matches`).
Fields: `k8s.io/apimachinery/pkg/fields/selector.go` `ParseSelector` (`=`, `==`, `!=`; terms
ANDed) over the fields each resource supports as field labels (pods:
`pkg/registry/core/pod/strategy.go` `ToSelectableFields` / `PodToSelectableFields`; nodes:
`pkg/registry/core/node/strategy.go` `NodeToSelectableFields`; every resource:
`metadata.name`, `metadata.namespace`, `generic.ObjectMetaFieldsSet`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class SelectorError(ValueError):
    """A selector the API server refuses (BadRequest)."""


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """labels/selector.go `Requirement.Matches`."""
        if self.operator == "exists":
            return self.key in labels
        if self.operator == "!":
            return self.key not in labels
        if self.operator in ("=", "in"):
            return self.key in labels and labels[self.key] in self.values
        # "!=" and "notin": a missing key matches.
        return self.key not in labels or labels[self.key] not in self.values


_SET = re.compile(r"^\s*([^\s!=,()]+)\s+(in|notin)\s+\(([^)]*)\)\s*")
_EQ = re.compile(r"^\s*([^\s!=,()]+)\s*(==|=|!=)\s*([^\s,()]*)\s*")
_EXISTS = re.compile(r"^\s*(!?)\s*([^\s!=,()]+)\s*")


def parse_labels(selector: str | None) -> list[Requirement]:
    """labels.Parse: the requirements of `selector` (empty: matches everything)."""
    found: list[Requirement] = []
    rest = (selector or "").strip()
    while rest:
        if match := _SET.match(rest):
            values = tuple(v.strip() for v in match.group(3).split(",") if v.strip())
            found.append(Requirement(match.group(1), match.group(2), values))
        elif match := _EQ.match(rest):
            operator = "=" if match.group(2) == "==" else match.group(2)
            found.append(Requirement(match.group(1), operator, (match.group(3),)))
        elif match := _EXISTS.match(rest):
            found.append(Requirement(match.group(2), "!" if match.group(1) else "exists"))
        else:
            raise SelectorError(f"unable to parse requirement: {rest!r}")
        rest = rest[match.end() :]
        if rest.startswith(","):
            rest = rest[1:].strip()
            if not rest:
                raise SelectorError("found '', expected: identifier")
        elif rest:
            raise SelectorError(f"found '{rest[0]}', expected: ',' or 'end of string'")
    return found


def labels_match(labels: Mapping[str, str] | None, selector: str | None) -> bool:
    requirements = parse_labels(selector)
    return all(requirement.matches(labels or {}) for requirement in requirements)


def match_labels_selector(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A LabelSelector object (`matchLabels` + `matchExpressions`), metav1
    `LabelSelectorAsSelector`; nil or empty selects everything."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        operator = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
        requirement = Requirement(
            expression["key"],
            operator[expression["operator"]],
            tuple(expression.get("values") or ()),
        )
        if not requirement.matches(labels):
            return False
    return True


def _get(obj: Mapping[str, Any], *path: str) -> str:
    value: Any = obj
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# Field labels per resource: what `ToSelectableFields` of each registry strategy exposes.
_FIELDS: dict[str, dict[str, Callable[[Mapping[str, Any]], str]]] = {
    "pods": {
        "spec.nodeName": lambda o: _get(o, "spec", "nodeName"),
        "spec.restartPolicy": lambda o: _get(o, "spec", "restartPolicy"),
        "spec.schedulerName": lambda o: _get(o, "spec", "schedulerName"),
        "spec.serviceAccountName": lambda o: _get(o, "spec", "serviceAccountName"),
        "spec.hostNetwork": lambda o: _get(o, "spec", "hostNetwork") or "false",
        "status.phase": lambda o: _get(o, "status", "phase"),
        "status.podIP": lambda o: _get(o, "status", "podIP"),
        "status.nominatedNodeName": lambda o: _get(o, "status", "nominatedNodeName"),
    },
    "nodes": {"spec.unschedulable": lambda o: _get(o, "spec", "unschedulable") or "false"},
}


@dataclass(frozen=True)
class FieldTerm:
    field: str
    operator: str  # "=" or "!="
    value: str


def parse_fields(selector: str | None, resource: str) -> list[FieldTerm]:
    """fields.ParseSelector, then the field labels `resource` supports (an unknown one is the
    server's BadRequest `field label not supported: F`)."""
    terms: list[FieldTerm] = []
    for part in (selector or "").split(","):
        if not part.strip():
            continue
        match = re.fullmatch(r"\s*([^=!\s]+)\s*(==|=|!=)\s*(.*?)\s*", part)
        if not match:
            raise SelectorError(f"invalid selector: '{selector}'; can't understand '{part}'")
        name, operator, value = match.groups()
        known = {"metadata.name", "metadata.namespace", *_FIELDS.get(resource, {})}
        if name not in known:
            raise SelectorError(f"field label not supported: {name}")
        terms.append(FieldTerm(name, "!=" if operator == "!=" else "=", value))
    return terms


def fields_match(obj: Mapping[str, Any], terms: list[FieldTerm], resource: str) -> bool:
    for term in terms:
        if term.field == "metadata.name":
            actual = _get(obj, "metadata", "name")
        elif term.field == "metadata.namespace":
            actual = _get(obj, "metadata", "namespace")
        else:
            actual = _FIELDS[resource][term.field](obj)
        if (actual == term.value) != (term.operator == "="):
            return False
    return True
