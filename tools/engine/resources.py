"""A resource as the engine model sees it: one entry of the plan's `resources.json`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Resource = Mapping[str, Any]


def options(resource: Resource) -> Mapping[str, Any]:
    return resource.get("options") or {}
