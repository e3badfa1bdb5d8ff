"""Values and lists as people read them in the tools' output: no Python reprs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

# --- values as people read them -------------------------------------------------------------------


def shown(value: Any, limit: int = 60) -> str:
    """A value as text: `(none)` for a missing one, JSON for a structure, never a Python repr."""
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else f"{text[: limit - 20]}... ({len(text)} characters)"


def names_shown(names: Sequence[str], limit: int = 5, where: str = "") -> str:
    """`a, b, c` or `a, b, c, d, e and 995 more` (+ where the whole list is)."""
    text = ", ".join(names[:limit])
    if len(names) > limit:
        text += f" and {len(names) - limit} more" + (f" (all in {where})" if where else "")
    return text
