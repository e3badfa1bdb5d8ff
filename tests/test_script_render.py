"""Rendering a node script: the lib-*.sh parts it sources inlined, and only those, and its
comment and blank lines dropped (never a heredoc's), so that a comment edit changes no command."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components import scripts
from components.scripts import (
    KUBECTL_SCRIPTS,
    NODE_SCRIPTS,
    drop_comments,
    inline_parts,
    load_script,
    part_source_line,
    render_script,
    sourced_parts,
)
from tools.engine.mock_driver import run_stack

SCRIPTS_DIR = Path(__file__).resolve().parents[1] / "components" / "node" / "scripts"
STEPS = ("preflight", "reload-wait", "firmware", "driver", "vfs")
PARTS = sorted(path.stem for path in SCRIPTS_DIR.glob("lib-*.sh"))
PARAMS = {"NODE": "worker-1", "PF": "ens1np0"}
# Functions that change the node: a read-only step carries none of them.
NODE_CHANGING = (
    "write_file",
    "remove_file",
    "write_if_changed",
    "start_reload",
    "reload_and_prove",
    "reload_if_pending",
    "rebuild_initramfs",
)
_FUNCTION = re.compile(r"^([a-z_][a-z0-9_]*)\(\) \{", re.MULTILINE)
_VARIABLE = re.compile(r"^(?:readonly )?([A-Za-z_][A-Za-z0-9_]*)=", re.MULTILINE)
# "# Uses: lib-a.sh, lib-b.sh." in a part's header, maybe over several comment lines.
_USES = re.compile(r"^# Uses: (.*?)\.\n", re.MULTILINE | re.DOTALL)


# --- the filter -------------------------------------------------------------------------------


def test_comment_and_blank_lines_go_but_the_shebang_and_code_stay() -> None:
    text = "#!/usr/bin/env bash\n# about\n\n  # indented\nx=1 # trailing stays\n\t\necho '#'\n"
    assert drop_comments(text) == "#!/usr/bin/env bash\nx=1 # trailing stays\necho '#'"


def test_a_heredoc_body_is_kept_whole() -> None:
    text = (
        "#!/usr/bin/env bash\n"
        "cat <<EOF >f\n# kept\n\n  # kept\nEOF\n# dropped\n"
        "cat <<-'END'\n\t# kept\n\tEND\n"
        'cat <<"A" <<B\n# a\nA\n# b\nB\n'
        "# dropped\n"
    )
    assert drop_comments(text) == (
        "#!/usr/bin/env bash\n"
        "cat <<EOF >f\n# kept\n\n  # kept\nEOF\n"
        "cat <<-'END'\n\t# kept\n\tEND\n"
        'cat <<"A" <<B\n# a\nA\n# b\nB'
    )


def test_a_here_string_is_no_heredoc() -> None:
    text = '#!/usr/bin/env bash\nread -r a <<<"$x"\n# dropped\nEOF\n'
    assert drop_comments(text) == '#!/usr/bin/env bash\nread -r a <<<"$x"\nEOF'


def bash_reads(text: str) -> str:
    """`text` as bash parses it: wrapped in a function that `declare -f` prints back (without
    comments, with heredoc bodies and multi-line strings as they are)."""
    program = f"__agilio_text() {{\n{text}\n}}\ndeclare -f __agilio_text\n"
    result = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True)
    return result.stdout


SOURCES = [
    *((name, NODE_SCRIPTS) for name in (*STEPS, *PARTS)),
    ("wait-vfs-advertised", KUBECTL_SCRIPTS),
]


@pytest.mark.parametrize(("name", "package"), SOURCES, ids=[name for name, _ in SOURCES])
def test_bash_reads_the_filtered_text_as_the_file(name: str, package: str) -> None:
    text = inline_parts(load_script(name, package), package)
    filtered = drop_comments(text)
    assert filtered != text
    assert bash_reads(filtered) == bash_reads(text)


# --- what a rendered step carries ---------------------------------------------------------------


def rendered(step: str) -> str:
    return render_script(step, PARAMS)


def heredoc_body(text: str) -> str:
    """The body of the one heredoc of the steps: the vfs step's systemd unit."""
    match = re.search(r"^  cat <<EOF\n(.*?\nEOF)$", text, re.MULTILINE | re.DOTALL)
    assert match, "no unit heredoc"
    return match[1]


@pytest.mark.parametrize("step", STEPS)
def test_a_rendered_step_has_no_comment_or_blank_line_but_its_shebang(step: str) -> None:
    text = rendered(step)
    if step == "vfs":  # its heredoc, comment and blank lines included, as in the file
        body = heredoc_body(text)
        assert body == heredoc_body(load_script("vfs"))
        assert "\n\n" in body and "\n# Written by agilio-offload" in f"\n{body}"
        text = text.replace(body, "EOF")
    lines = text.split("\n")
    assert lines[0] == "#!/usr/bin/env bash"
    assert [line for line in lines[1:] if not line.strip() or line.lstrip().startswith("#")] == []
    assert not sourced_parts(text)


def code(text: str) -> str:
    """`text` without comment and blank lines (the parts have no heredoc)."""
    lines = text.split("\n")
    return "\n".join(line for line in lines if line.strip() and not line.lstrip().startswith("#"))


def defined(text: str) -> set[str]:
    return set(_FUNCTION.findall(text)) | set(_VARIABLE.findall(text))


def mentions(text: str, names: set[str]) -> set[str]:
    return {name for name in names if re.search(rf"(?<![\w-]){name}(?![\w-])", code(text))}


def part_text(part: str) -> str:
    return SCRIPTS_DIR.joinpath(f"{part}.sh").read_text()


PART_NAMES = {part: defined(part_text(part)) for part in PARTS}


def test_no_two_parts_define_one_name() -> None:
    for part, names in PART_NAMES.items():
        for other, other_names in PART_NAMES.items():
            assert part == other or not names & other_names, (part, other, names & other_names)


@pytest.mark.parametrize("step", STEPS)
def test_a_step_carries_each_part_it_calls_and_no_other(step: str) -> None:
    carried = sourced_parts(load_script(step))
    for part in PARTS:
        # Used by the step's own code, or by another part it carries.
        others = [load_script(step), *(part_text(p) for p in carried if p != part)]
        used = any(mentions(text, PART_NAMES[part]) for text in others)
        assert used == (part in carried), f"{step}: {part} is {'un' if not used else ''}used"
    for part in carried:
        assert f"\n{code(part_text(part))}\n" in f"\n{rendered(step)}\n"


@pytest.mark.parametrize("step", ("preflight", "reload-wait"))
def test_a_read_only_step_carries_no_function_that_changes_the_node(step: str) -> None:
    assert not set(_FUNCTION.findall(rendered(step))) & set(NODE_CHANGING)


@pytest.mark.parametrize("part", PARTS)
def test_a_part_names_the_parts_it_uses_and_each_step_sources_them_first(part: str) -> None:
    uses = _USES.findall(part_text(part))
    listed = (
        [re.sub(r"\.sh\b.*", "", p.strip()) for p in uses[0].replace("\n#", "").split(",")]
        if uses
        else []
    )
    names = {other: PART_NAMES[other] for other in PARTS if other != part}
    needed = [other for other in PARTS if other != part and mentions(part_text(part), names[other])]
    assert sorted(listed) == sorted(needed)
    for step in STEPS:
        order = sourced_parts(load_script(step))
        if part in order:
            assert all(order.index(p) < order.index(part) for p in needed), (step, order)


def test_a_step_sourcing_a_part_twice_does_not_render() -> None:
    body = f"#!/usr/bin/env bash\n{part_source_line('lib-messages')}\n"
    with pytest.raises(ValueError, match="twice"):
        inline_parts(body + part_source_line("lib-messages"))


# --- a comment edit in a part re-runs nothing ---------------------------------------------------


def edit_comments(text: str) -> str:
    """`text` with its header comment (line 2) reworded and a comment block and blank lines
    added after it."""
    lines = text.split("\n")
    assert lines[1].startswith("# ")
    lines[1] = f"# reworded: {lines[1][2:]}"
    lines[2:2] = ["#", "# a new comment paragraph", "", "  # indented too", ""]
    return "\n".join(lines)


@pytest.fixture
def commented_parts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    original = scripts.load_script

    def load(name: str, package: str = NODE_SCRIPTS) -> str:
        text = original(name, package)
        return edit_comments(text) if name.startswith("lib-") else text

    monkeypatch.setattr(scripts, "load_script", load)
    scripts._self_contained_script.cache_clear()
    yield
    monkeypatch.setattr(scripts, "load_script", original)
    scripts._self_contained_script.cache_clear()


def dev_inputs() -> list[tuple[str, dict[str, Any]]]:
    run = run_stack("dev")
    assert run.error is None, run.error
    return [(r.urn, r.revealed_inputs) for r in run.resources]


def test_a_comment_edit_in_every_part_changes_no_input_of_the_dev_stack(
    request: pytest.FixtureRequest,
) -> None:
    before = dev_inputs()
    edited = inline_parts(load_script("vfs"))
    request.getfixturevalue("commented_parts")
    assert inline_parts(scripts.load_script("vfs")) != edited, "the edit did not reach the parts"
    assert dev_inputs() == before
