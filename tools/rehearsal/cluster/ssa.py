"""Field ownership: `metadata.managedFields`, as the API server keeps it.

After sigs.k8s.io/structured-merge-diff `merge/update.go` (`Updater.Apply`, `Updater.Update`)
and apiserver `pkg/endpoints/handlers/fieldmanager` (managedFields entries, one per manager and
operation, `fieldsType: FieldsV1`), for the field shapes the stack uses: map keys (labels,
annotations, spec fields of a Node, whole objects). Lists are atomic here (one owned field per
list); the real library merges lists of containers by key (`k:{"name":...}`), which no stack
call depends on. `apiVersion`, `kind`, `metadata.name`/`namespace` and the server-set metadata
are never owned (fieldmanager `internal/managedfields` strips them).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Path = tuple[str, ...]

_UNOWNED_TOP = {"apiVersion", "kind"}
_UNOWNED_META = {
    "name",
    "namespace",
    "managedFields",
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
}


@dataclass(frozen=True)
class Conflict:
    manager: str
    path: Path

    def describe(self) -> str:
        return "." + ".".join(self.path)


class ConflictError(Exception):
    """Apply without force over another manager's different value: HTTP 409.

    The message follows structured-merge-diff `merge/conflict.go` `Conflicts.Error` as the
    apiserver wraps it (`internal.NewConflictError`: "Apply failed with N conflict(s): ...").
    """

    def __init__(self, conflicts: list[Conflict], api_version: str) -> None:
        self.conflicts = conflicts
        count = len(conflicts)
        plural = "s" if count > 1 else ""
        by_manager: dict[str, list[Conflict]] = {}
        for conflict in conflicts:
            by_manager.setdefault(conflict.manager, []).append(conflict)
        if count == 1:
            only = conflicts[0]
            body = f"conflict with {json.dumps(only.manager)} using {api_version}: "
            body += only.describe()
        else:
            lines = []
            for manager, found in by_manager.items():
                lines.append(f"conflicts with {json.dumps(manager)} using {api_version}:")
                lines += [f"- {c.describe()}" for c in found]
            body = "\n".join(lines)
        super().__init__(f"Apply failed with {count} conflict{plural}: {body}")


def leaf_paths(obj: Mapping[str, Any], prefix: Path = ()) -> dict[Path, Any]:
    """Every owned field of `obj` with its value: scalars, lists and empty maps are leaves."""
    found: dict[Path, Any] = {}
    for key, value in obj.items():
        if not prefix and key in _UNOWNED_TOP:
            continue
        if prefix == ("metadata",) and key in _UNOWNED_META:
            continue
        path = (*prefix, key)
        if isinstance(value, Mapping) and value:
            found.update(leaf_paths(value, path))
        else:
            found[path] = value
    return found


def get_path(obj: Mapping[str, Any], path: Path) -> tuple[bool, Any]:
    value: Any = obj
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return False, None
        value = value[key]
    return True, value


def set_path(obj: dict[str, Any], path: Path, value: Any) -> None:
    for key in path[:-1]:
        if not isinstance(obj.get(key), dict):
            obj[key] = {}
        obj = obj[key]
    obj[path[-1]] = copy.deepcopy(value)


def remove_path(obj: dict[str, Any], path: Path) -> None:
    """Remove a field, and the maps it leaves empty (not the top-level sections)."""
    parents: list[tuple[dict[str, Any], str]] = []
    current: Any = obj
    for key in path[:-1]:
        if not isinstance(current, dict) or key not in current:
            return
        parents.append((current, key))
        current = current[key]
    if isinstance(current, dict):
        current.pop(path[-1], None)
    for parent, key in reversed(parents[1:]):
        if parent[key] == {}:
            del parent[key]


def to_fields_v1(paths: list[Path]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for key in path:
            node = node.setdefault(f"f:{key}", {})
    return tree


def from_fields_v1(tree: Mapping[str, Any], prefix: Path = ()) -> Iterator[Path]:
    for key, sub in tree.items():
        if key == ".":
            continue
        path = (*prefix, key.removeprefix("f:"))
        if sub and any(k != "." for k in sub):
            yield from from_fields_v1(sub, path)
        else:
            yield path


def _entries(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    return obj.get("metadata", {}).get("managedFields") or []


def owners(obj: Mapping[str, Any]) -> dict[tuple[str, str], set[Path]]:
    """(manager, operation) -> the fields it owns."""
    found: dict[tuple[str, str], set[Path]] = {}
    for entry in _entries(obj):
        key = (entry["manager"], entry.get("operation", "Update"))
        found.setdefault(key, set()).update(from_fields_v1(entry.get("fieldsV1") or {}))
    return found


def _store_owners(obj: dict[str, Any], table: dict[tuple[str, str], set[Path]], now: str) -> None:
    api_version = obj.get("apiVersion", "v1")
    previous = {(e["manager"], e.get("operation", "Update")): e for e in _entries(obj)}
    entries = []
    for (manager, operation), paths in table.items():
        if not paths:
            continue
        entry = {
            "manager": manager,
            "operation": operation,
            "apiVersion": api_version,
            "time": previous.get((manager, operation), {}).get("time", now),
            "fieldsType": "FieldsV1",
            "fieldsV1": to_fields_v1(list(paths)),
        }
        entries.append(entry)
    obj.setdefault("metadata", {})["managedFields"] = entries


def apply(
    live: dict[str, Any] | None,
    applied: Mapping[str, Any],
    manager: str,
    *,
    force: bool,
    now: str,
) -> dict[str, Any]:
    """Server-side apply of `applied` by `manager` onto `live` (None: the object is created):
    the new object. Raises ConflictError without force when another manager owns a field the
    apply sets to another value (`Updater.Apply` -> `merge` conflicts); force moves those
    fields to `manager`; fields `manager` applied before and leaves out now are removed unless
    another manager owns them too (`Updater.prune`)."""
    result: dict[str, Any] = (
        copy.deepcopy(live)
        if live is not None
        else {
            "apiVersion": applied.get("apiVersion"),
            "kind": applied.get("kind"),
            "metadata": {
                key: applied["metadata"][key]
                for key in ("name", "namespace")
                if key in applied.get("metadata", {})
            },
        }
    )
    table = owners(result)
    wanted = leaf_paths(applied)
    conflicts = []
    for (other, operation), paths in table.items():
        if (other, operation) == (manager, "Apply"):
            continue
        for path in sorted(paths & wanted.keys()):
            present, value = get_path(result, path)
            if present and value != wanted[path]:
                conflicts.append(Conflict(other, path))
    if conflicts and not force:
        raise ConflictError(conflicts, str(applied.get("apiVersion", "v1")))
    for conflict in conflicts:
        for (other, _operation), paths in table.items():
            if other == conflict.manager:
                paths.discard(conflict.path)
    before = table.get((manager, "Apply"), set())
    for path in before - wanted.keys():
        if not any(path in paths for key, paths in table.items() if key != (manager, "Apply")):
            remove_path(result, path)
    for path, value in wanted.items():
        set_path(result, path, value)
    table[(manager, "Apply")] = set(wanted)
    _store_owners(result, table, now)
    return result


def update(
    live: dict[str, Any] | None, new: dict[str, Any], manager: str, *, now: str
) -> dict[str, Any]:
    """A non-apply write (create, update, patch) by `manager`: it takes the fields it set or
    changed, other managers lose those; removed fields leave every manager
    (`Updater.Update`). Returns `new` with its managedFields."""
    result = copy.deepcopy(new)
    before = leaf_paths(live) if live is not None else {}
    after = leaf_paths(result)
    table = owners(live) if live is not None else {}
    changed = {p for p, v in after.items() if p not in before or before[p] != v}
    removed = set(before) - set(after)
    for key, paths in table.items():
        if key != (manager, "Update"):
            paths -= changed
        paths -= removed
    table.setdefault((manager, "Update"), set()).update(changed)
    table[(manager, "Update")] -= removed
    _store_owners(result, table, now)
    return result
