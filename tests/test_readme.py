"""The README stays short and its commands and links keep working: every fenced plan command of
README.md and docs/*.md runs here as written (in order, in a scratch directory per page), every
relative link of README.md and docs/*.md points at a file that exists, and every #anchor at a
heading of that file."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tools import plan
from tools.engine.mock_driver import REPO_ROOT

README = REPO_ROOT / "README.md"
DOCS = sorted((REPO_ROOT / "docs").glob("*.md"))
MAX_README_LINES = 250
# The plan tool as the README spells it: through dev.sh or the venv's python.
PLAN_PREFIXES = ("./dev.sh plan", ".venv/bin/python -m tools.plan", "python -m tools.plan")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def fenced_lines(text: str) -> list[str]:
    """The lines inside ``` fences, comments after `#` dropped."""
    lines, inside = [], False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            inside = not inside
            continue
        if inside and stripped:
            lines.append(stripped.split("  #")[0].strip())
    return lines


def plan_commands(text: str) -> list[list[str]]:
    """The arguments of each fenced plan command, in the README's order."""
    commands = []
    for line in fenced_lines(text):
        prefix = next((p for p in PLAN_PREFIXES if line.startswith(p)), None)
        if prefix is not None:
            commands.append(shlex.split(line[len(prefix) :]))
    return commands


def test_the_readme_is_short() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines"


def test_the_readme_runs_the_first_rollout_plan_first() -> None:
    commands = plan_commands(README.read_text())
    assert commands, "no fenced plan command in README.md"
    assert commands[0] == [], "the first command should be `./dev.sh plan` as it stands"


PAGES_WITH_PLAN_COMMANDS = [p for p in (README, *DOCS) if plan_commands(p.read_text())]


@pytest.mark.parametrize("path", PAGES_WITH_PLAN_COMMANDS, ids=lambda p: p.name)
def test_every_fenced_plan_command_runs_as_written(
    path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # their --out/--baseline directories land here
    for args in plan_commands(path.read_text()):
        assert plan.main([*args, "--quiet"]) == 0, args
        printed = capsys.readouterr().out
        assert "Rollout order" in printed, args


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found, inside = set(), False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            inside = not inside
        elif not inside and (match := re.match(r"#+ (.*)", line)):
            found.add(slug(match.group(1)))
    return found


def relative_links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL)
    return [
        target
        for target in LINK.findall(text)
        if not re.match(r"[a-z]+:", target)  # http:, https:, mailto:
    ]


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: p.name)
def test_every_relative_link_points_at_a_file_and_heading(path: Path) -> None:
    problems = []
    for target in relative_links(path):
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            problems.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            problems.append(f"{target}: no heading #{anchor} in {linked.name}")
    assert not problems, problems


def test_the_readme_links_every_docs_page() -> None:
    text = README.read_text()
    missing = [p.name for p in DOCS if f"docs/{p.name}" not in text]
    assert not missing, missing
