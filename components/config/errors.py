"""The one error of the stack config: every problem, one per line, each with its config path."""

from __future__ import annotations

import pulumi


class ConfigError(pulumi.RunError):
    """Invalid stack config: every problem, one per line, each with its config path."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {problem}" for problem in problems)
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"invalid stack config ({count}):\n{lines}")
