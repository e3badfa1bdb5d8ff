"""Walks of JSON-like values (outputs, inputs, plan files) for the tests that look into them."""

from __future__ import annotations

from typing import Any


def all_strings(value: Any) -> list[str]:
    """Every string in a JSON-like value, keys included."""
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *all_strings(v))]
    if isinstance(value, list):
        return [s for item in value for s in all_strings(item)]
    return [value] if isinstance(value, str) else []
