"""The engine's steps and what it decided, as pulumi's `pkg/resource/deploy/step.go` names them
(read at pulumi v3.259.0): the closed list of step kinds, one step, one decision per resource,
and the plan of a whole update that `step_generator` makes and `step_executor` runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from tools.engine.resources import Resource, ResourceJSON, as_resource


class Op(StrEnum):
    """The engine's step kinds this program meets, named as in `step.go`."""

    SAME = "same"  # nothing to do.
    CREATE = "create"  # creating a new resource.
    UPDATE = "update"  # updating an existing resource (pulumi-command: runs `create` again).
    DELETE = "delete"  # deleting an existing resource.
    REPLACE = "replace"  # replacing a resource with a new one (the logical step).
    CREATE_REPLACEMENT = "create-replacement"  # creating a new resource for a replacement.
    DELETE_REPLACED = "delete-replaced"  # deleting an existing resource after replacement.


@dataclass(frozen=True)
class Decision:
    """What the engine decided for one resource, and why."""

    op: Op  # SAME, CREATE, UPDATE, REPLACE or DELETE
    urn: str
    name: str
    type: str
    changed: tuple[str, ...] = ()
    replace_keys: tuple[str, ...] = ()
    delete_before_replace: bool = False
    retained: bool = False  # a delete that calls no provider (retainOnDelete, deletedWith)
    because: str = ""

    @property
    def label(self) -> str:
        if self.op is Op.REPLACE:
            return (
                "replace (delete-before-replace)"
                if self.delete_before_replace
                else ("replace (create-before-replace)")
            )
        if self.op is Op.DELETE and self.retained:
            return "delete (retained: forgotten, left running)"
        return str(self.op)


# --- the steps of a whole update ------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One provider call (or no-op) the engine runs, with the resource state it acts on."""

    op: Op
    resource: Resource  # the new state (create, update, create-replacement) or the old one
    retained: bool = False

    def __init__(self, op: Op, resource: Resource | ResourceJSON, retained: bool = False) -> None:
        object.__setattr__(self, "op", op)
        object.__setattr__(self, "resource", as_resource(resource))
        object.__setattr__(self, "retained", retained)

    @property
    def id(self) -> str:
        return f"{self.op}:{self.resource.urn}"

    @property
    def name(self) -> str:
        return self.resource.name

    @property
    def calls_provider(self) -> bool:
        return self.resource.custom and not self.retained and self.op is not Op.SAME


@dataclass
class EnginePlan:
    """Every decision and step of one `pulumi up` (or destroy) from `old` to `new`."""

    decisions: list[Decision]
    # Register phase: per new resource, its chain of steps and the resources it waits for.
    chains: dict[str, list[Step]]
    waits_for: dict[str, list[str]]
    # Delete phase: waves in the order they run.
    delete_waves: list[list[Step]]
    errors: list[str] = field(default_factory=list)

    def decision(self, name: str) -> Decision:
        matches = [d for d in self.decisions if d.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} decisions for {name!r}")
        return matches[0]
