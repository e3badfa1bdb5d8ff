"""The stack state a rehearsal leaves: what `pulumi up` would have recorded (each resource with
the inputs it was created or last updated with), and the stack outputs. A later rehearsal
starts from it, as the next `pulumi up` starts from the checkpoint.

The inputs are the program's real values (secrets in clear text, as the command must run them):
keep the file where the stack's own secrets may be.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.engine import Resource, as_resources
from tools.engine.mock_driver import SECRET


@dataclass
class StackState:
    resources: list[Resource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def by_urn(self) -> dict[str, Resource]:
        return {r.urn: r for r in self.resources}

    def as_json(self) -> dict[str, Any]:
        return {
            "resources": [r.as_json() for r in self.resources],
            "outputs": self.outputs,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StackState:
        return cls(as_resources(data.get("resources") or []), dict(data.get("outputs") or {}))

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_json(), indent=1, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path) -> StackState:
        data = json.loads(path.read_text())
        # A rehearsal report carries the state it left under "state".
        return cls.from_json(data.get("state", data))

    def with_secrets_from(self, current: Sequence[Resource]) -> StackState:
        """This state with every input a plan could only show as "[secret]" (pulumi-command's
        `connection`, a key digest) taken from `current`, the program's registration of the same
        resource: what the plan could not see is taken as unchanged. Without it every remote
        step would differ from the baseline by its connection, and run again."""
        by_urn = {r.urn: r for r in current}
        filled = []
        for resource in self.resources:
            now = by_urn.get(resource.urn)
            if now is not None:
                inputs = _fill_secrets(dict(resource.inputs), now.inputs)
                resource = dataclasses.replace(resource, inputs=inputs)
            filled.append(resource)
        return StackState(filled, dict(self.outputs))

    @classmethod
    def from_plan_dir(cls, directory: Path) -> StackState:
        """An earlier plan's `resources.json` (and `outputs.json` if present) as a baseline."""
        resources = json.loads((directory / "resources.json").read_text())
        outputs_file = directory / "outputs.json"
        outputs = json.loads(outputs_file.read_text()) if outputs_file.exists() else {}
        return cls(as_resources(_entries(resources)), outputs)


def _fill_secrets(old: Any, now: Any) -> Any:
    if old == SECRET:
        return now
    if isinstance(old, dict) and isinstance(now, Mapping):
        return {key: _fill_secrets(value, now.get(key)) for key, value in old.items()}
    if isinstance(old, list) and isinstance(now, list) and len(old) == len(now):
        return [_fill_secrets(a, b) for a, b in zip(old, now, strict=True)]
    return old


def _entries(data: Any) -> Sequence[Mapping[str, Any]]:
    return data["resources"] if isinstance(data, dict) else data
