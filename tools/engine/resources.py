"""A resource as the engine model sees it: one entry of the plan's `resources.json`, typed.

Built from the mock driver's registrations (`Registration.as_resource`) or read back from an
earlier plan's `resources.json` (`Resource.from_json`); `as_json` writes the entry again, key for
key, so a plan's files do not depend on which of the two a resource came from. A `Resource` also
reads as that entry (`resource["dependsOn"]`), for callers that hold plain `resources.json` data.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

# One entry of resources.json, as JSON: what the public functions of the engine model also take.
ResourceJSON = Mapping[str, Any]

# JSON key -> field, in the order the plan writes them (the engine's `RegisterResourceRequest`
# fields the mock driver records, pulumi/proto/resource.proto).
_OPTION_KEYS = {
    "deleteBeforeReplace": "delete_before_replace",
    "deleteBeforeReplaceDefined": "delete_before_replace_defined",
    "replaceOnChanges": "replace_on_changes",
    "ignoreChanges": "ignore_changes",
    "additionalSecretOutputs": "additional_secret_outputs",
    "protect": "protect",
    "retainOnDelete": "retain_on_delete",
    "deletedWith": "deleted_with",
    "replaceWith": "replace_with",
    "propertyDependencies": "property_dependencies",
}
_LISTS = ("replaceOnChanges", "ignoreChanges", "additionalSecretOutputs", "replaceWith")
_RESOURCE_KEYS = (
    "urn",
    "type",
    "name",
    "parent",
    "dependsOn",
    "inputs",
    "custom",
    "provider",
    "options",
)


@dataclass(frozen=True)
class Options:
    """The resource options the engine decides with.

    `delete_before_replace_defined` says whether the program set `delete_before_replace` at all
    (the engine lets the provider decide otherwise: step_generator.go continueStepsFromDiff);
    `deleted_with`, `replace_with` and `property_dependencies` are edges of the engine's
    dependency graph besides `dependsOn` (pkg/resource/state.go GetAllDependencies).
    """

    delete_before_replace: bool = False
    delete_before_replace_defined: bool = False
    replace_on_changes: tuple[str, ...] = ()
    ignore_changes: tuple[str, ...] = ()
    additional_secret_outputs: tuple[str, ...] = ()
    protect: bool = False
    retain_on_delete: bool = False
    deleted_with: str | None = None
    replace_with: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Options:
        """`options` of a resources.json entry; a key left out takes the engine's default (an
        unset `deleteBeforeReplaceDefined` follows `deleteBeforeReplace`)."""
        unknown = set(data) - set(_OPTION_KEYS)
        if unknown:
            raise ValueError(f"resource options not modelled: {sorted(unknown)}")
        values: dict[str, Any] = {
            _OPTION_KEYS[key]: tuple(data.get(key) or ()) for key in _LISTS if key in data
        }
        for key in ("deleteBeforeReplace", "protect", "retainOnDelete"):
            if key in data:
                values[_OPTION_KEYS[key]] = bool(data[key])
        values["delete_before_replace_defined"] = bool(
            data.get("deleteBeforeReplaceDefined", bool(data.get("deleteBeforeReplace")))
        )
        values["deleted_with"] = data.get("deletedWith") or None
        values["property_dependencies"] = {
            key: tuple(urns) for key, urns in (data.get("propertyDependencies") or {}).items()
        }
        return cls(**values)

    def as_json(self) -> dict[str, Any]:
        found = {key: getattr(self, name) for key, name in _OPTION_KEYS.items()}
        for key in _LISTS:
            found[key] = list(found[key])
        found["propertyDependencies"] = {
            key: list(urns) for key, urns in self.property_dependencies.items()
        }
        return found


@dataclass(frozen=True)
class Resource(Mapping[str, Any]):
    """One resource of a plan: what the program registered, as the engine keeps it."""

    urn: str
    type: str
    name: str
    parent: str | None = None
    depends_on: tuple[str, ...] = ()
    inputs: Mapping[str, Any] = field(default_factory=dict)
    custom: bool = True  # False: a component (no provider, no provider calls)
    provider: str | None = None  # the provider's URN (the reference's "::<id>" cut off)
    options: Options = field(default_factory=Options)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Resource:
        unknown = set(data) - set(_RESOURCE_KEYS)
        if unknown:
            raise ValueError(f"resource fields not modelled: {sorted(unknown)}")
        return cls(
            urn=data["urn"],
            type=data["type"],
            name=data["name"],
            parent=data.get("parent"),
            depends_on=tuple(data.get("dependsOn") or ()),
            inputs=data.get("inputs") or {},
            custom=bool(data.get("custom", True)),
            provider=data.get("provider"),
            options=Options.from_json(data.get("options") or {}),
        )

    def as_json(self) -> dict[str, Any]:
        """The resources.json entry (the keys in the order the plan has always written them)."""
        return {key: self[key] for key in _RESOURCE_KEYS}

    # The read-only view as the resources.json entry.
    def __getitem__(self, key: str) -> Any:
        if key == "dependsOn":
            return list(self.depends_on)
        if key == "options":
            return self.options.as_json()
        if key in _RESOURCE_KEYS:
            return getattr(self, key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(_RESOURCE_KEYS)

    def __len__(self) -> int:
        return len(_RESOURCE_KEYS)


def as_resource(value: Resource | ResourceJSON) -> Resource:
    """`value` as a `Resource` (a resources.json entry is read with `Resource.from_json`)."""
    return value if isinstance(value, Resource) else Resource.from_json(value)


def as_resources(values: Iterable[Resource | ResourceJSON]) -> list[Resource]:
    return [as_resource(value) for value in values]
