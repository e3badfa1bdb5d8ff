"""Node scripts: the shell files in `node/scripts/`, rendered with a quoted parameter prelude.

A script never sees a config value except through the prelude this module writes, one
`NAME='value'` line per parameter, every value passed through `shlex.quote`. The rendered
script runs on the node as `bash -c "$(cat <<'MARK' ... MARK)"`, so the remote login shell
only has to be POSIX, the script text shows verbatim in `pulumi preview`, and the script does
not read itself from stdin (a command inside it could otherwise swallow the rest).

Shared shell functions live in the parts `node/scripts/lib-<part>.sh`. A script sources each
part it uses with its own line `. "${BASH_SOURCE[0]%/*}/lib-<part>.sh"`, after the parts that
part uses (so it also runs, and shellcheck follows it, from a checkout); rendering replaces each
such line with the part's text, once, so what reaches the node is one self-contained script
carrying only the parts it sources. Rendering then drops comment-only and blank lines (never
inside a heredoc) but for the shebang: a comment edit changes no command, so it re-runs no step."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from functools import cache
from importlib import resources

ParamValue = str | int | bool

_PARAM_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_HEREDOC_MARK = "AGILIO_OFFLOAD_SCRIPT"
# The line by which a node script sources one shared part; rendering inlines the part there.
_PART_SOURCE_LINE = re.compile(r'^\. "\$\{BASH_SOURCE\[0\]%/\*\}/(lib-[a-z0-9-]+)\.sh"$')
# A heredoc's start (`<<EOF`, `<<-'EOF'`), not a here-string (`<<<`); group 1: "-" when the
# body's leading tabs are stripped, group 3: the delimiter word.
_HEREDOC_START = re.compile(r"(?<!<)<<(?!<)(-?)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")

# The packages that hold scripts: run on the nodes, and run by kubectl on the operator's machine.
NODE_SCRIPTS = "components.node.scripts"
KUBECTL_SCRIPTS = "components.cluster.kubectl_scripts"
CLUSTER_SCRIPTS = "components.cluster.scripts"
# A node step's scripts run on the operator's machine (no kubectl): the SSH-return probe.
OPERATOR_SCRIPTS = "components.node.operator_scripts"


@cache
def load_script(name: str, package: str = NODE_SCRIPTS) -> str:
    """The text of `<package>/<name>.sh`, read once."""
    return resources.files(package).joinpath(f"{name}.sh").read_text()


def _shell_value(value: ParamValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return shlex.quote(str(value))


def render_prelude(params: Mapping[str, ParamValue]) -> str:
    """`NAME='value'` lines, one per parameter, in the order given."""
    lines = []
    for name, value in params.items():
        if not _PARAM_NAME.match(name):
            raise ValueError(f"script parameter name {name!r} is not an upper-case shell name")
        lines.append(f"{name}={_shell_value(value)}")
    return "\n".join(lines)


def part_source_line(part: str) -> str:
    """The line by which a script sources the part `lib-<...>.sh` named `part`."""
    return f'. "${{BASH_SOURCE[0]%/*}}/{part}.sh"'


def sourced_parts(body: str) -> list[str]:
    """The shared parts (`lib-<...>`) a script sources, in its order."""
    return [m.group(1) for line in body.split("\n") if (m := _PART_SOURCE_LINE.match(line))]


def inline_parts(body: str, package: str = NODE_SCRIPTS) -> str:
    """`body` with each part's source line replaced by the part's text (its shebang included:
    `drop_comments` removes it). A part is sourced once and sources no part itself."""
    parts = sourced_parts(body)
    if len(parts) != len(set(parts)):
        raise ValueError(f"a script sources a part twice: {parts}")
    lines = []
    for line in body.split("\n"):
        match = _PART_SOURCE_LINE.match(line)
        if not match:
            lines.append(line)
            continue
        part = match.group(1)
        text = load_script(part, package)
        if sourced_parts(text):
            raise ValueError(f"{package}/{part}.sh sources a part: list it in the script instead")
        lines.append(text.rstrip("\n"))
    return "\n".join(lines)


def drop_comments(text: str) -> str:
    """`text` without its comment-only lines (first non-blank character `#`) and blank lines,
    but for the first line (the shebang) and every line of a heredoc's body."""
    lines = text.split("\n")
    kept = lines[:1]
    # Heredocs opened on a kept line, their bodies next, in order: (delimiter, strip tabs).
    open_heredocs: list[tuple[str, bool]] = []
    for line in lines[1:]:
        if open_heredocs:
            kept.append(line)
            delimiter, strip_tabs = open_heredocs[0]
            if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                open_heredocs.pop(0)
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        kept.append(line)
        open_heredocs += [(m.group(3), m.group(1) == "-") for m in _HEREDOC_START.finditer(line)]
    return "\n".join(kept)


@cache
def _self_contained_script(name: str, package: str) -> str:
    return drop_comments(inline_parts(load_script(name, package), package))


def render_script(name: str, params: Mapping[str, ParamValue], package: str = NODE_SCRIPTS) -> str:
    """The script file with its parameters set in a prelude right after the shebang, the parts
    it sources inlined, and its comment and blank lines dropped."""
    body = _self_contained_script(name, package)
    shebang, _, rest = body.partition("\n")
    if not shebang.startswith("#!"):
        raise ValueError(f"script {package}/{name}.sh must start with a shebang line")
    prelude = render_prelude(params)
    return f"{shebang}\n{prelude}\n{rest}" if prelude else body


def render_operator_script(name: str, params: Mapping[str, ParamValue]) -> str:
    """A script of `node/operator_scripts/`, rendered as the node scripts are."""
    return render_script(name, params, OPERATOR_SCRIPTS)


def remote_command(script: str, *, sudo: bool) -> str:
    """The command line that runs a rendered script through the node's login shell."""
    if f"\n{_HEREDOC_MARK}\n" in f"\n{script}\n":
        raise ValueError(f"a node script may not contain the line {_HEREDOC_MARK}")
    runner = "sudo -n bash" if sudo else "bash"
    return f"{runner} -c \"$(cat <<'{_HEREDOC_MARK}'\n{script}\n{_HEREDOC_MARK}\n)\""
