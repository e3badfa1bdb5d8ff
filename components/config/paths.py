"""`~` in the config's file paths, read the way the Kubernetes provider reads it.

pulumi-kubernetes `provider/pkg/provider/util.go` `parseKubeconfigString` expands `~` and `~/`
with Go's `user.Current().HomeDir`, which prefers the passwd entry over `$HOME` (os/user
`current()`). The program, the plan and every kubectl step do the same, so a stack means one
file whoever runs it, whatever `$HOME` says.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

# A POSIX shell word for the passwd home of whoever runs the step (not $HOME).
SHELL_PASSWD_HOME = '"$(getent passwd "$(id -u)" | cut -d: -f6)"'


def passwd_home() -> str:
    return pwd.getpwuid(os.getuid()).pw_dir


def expand_home(path: str) -> Path:
    """`path` with a leading `~` or `~/` replaced by the passwd home (never `$HOME`)."""
    if path == "~":
        return Path(passwd_home())
    if path.startswith("~/"):
        return Path(passwd_home()) / path[2:]
    return Path(path)
