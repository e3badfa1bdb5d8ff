"""Node scripts: the shell files in `node/scripts/`, rendered with a quoted parameter prelude.

A script never sees a config value except through the prelude this module writes, one
`NAME='value'` line per parameter, every value passed through `shlex.quote`. The rendered
script runs on the node as `bash -c "$(cat <<'MARK' ... MARK)"`, so the remote login shell
only has to be POSIX, the script text shows verbatim in `pulumi preview`, and the script does
not read itself from stdin (a command inside it could otherwise swallow the rest).

Shared shell functions live in `node/scripts/lib.sh`. A script that wants them has the line
`. "${BASH_SOURCE[0]%/*}/lib.sh"` (so it also runs, and shellcheck follows it, from a checkout);
rendering replaces exactly that line with lib.sh's body, so what reaches the node is still one
self-contained script. Scripts without the line render as before.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from functools import cache
from importlib import resources

ParamValue = str | int | bool

_PARAM_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_HEREDOC_MARK = "AGILIO_OFFLOAD_SCRIPT"
# The line by which a node script sources the shared functions; rendering inlines lib.sh there.
LIB_SOURCE_LINE = '. "${BASH_SOURCE[0]%/*}/lib.sh"'


# The packages that hold scripts: run on the nodes, and run by kubectl on the operator's machine.
NODE_SCRIPTS = "components.node.scripts"
KUBECTL_SCRIPTS = "components.cluster.kubectl_scripts"
CLUSTER_SCRIPTS = "components.cluster.scripts"


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


def inline_lib(body: str) -> str:
    """`body` with its `LIB_SOURCE_LINE` replaced by lib.sh (without its shebang)."""
    if LIB_SOURCE_LINE not in body.splitlines():
        return body
    _, _, lib = load_script("lib").partition("\n")
    block = f"# --- lib.sh, inlined by agilio-offload ---\n{lib.rstrip()}\n# --- end of lib.sh ---"
    return "\n".join(block if line == LIB_SOURCE_LINE else line for line in body.split("\n"))


@cache
def _self_contained_script(name: str, package: str) -> str:
    return inline_lib(load_script(name, package))


def render_script(name: str, params: Mapping[str, ParamValue], package: str = NODE_SCRIPTS) -> str:
    """The script file with its parameters set in a prelude right after the shebang, and
    lib.sh inlined where the script sources it."""
    body = _self_contained_script(name, package)
    shebang, _, rest = body.partition("\n")
    if not shebang.startswith("#!"):
        raise ValueError(f"script {package}/{name}.sh must start with a shebang line")
    prelude = render_prelude(params)
    return f"{shebang}\n# parameters (rendered by agilio-offload)\n{prelude}\n{rest}"


def remote_command(script: str, *, sudo: bool) -> str:
    """The command line that runs a rendered script through the node's login shell."""
    if f"\n{_HEREDOC_MARK}\n" in f"\n{script}\n":
        raise ValueError(f"a node script may not contain the line {_HEREDOC_MARK}")
    runner = "sudo -n bash" if sudo else "bash"
    return f"{runner} -c \"$(cat <<'{_HEREDOC_MARK}'\n{script}\n{_HEREDOC_MARK}\n)\""
