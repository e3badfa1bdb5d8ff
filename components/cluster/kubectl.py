"""kubectl command lines for the steps that run on the operator's machine (`local.Command`).

Every kubectl call of the stack goes to the cluster the stack config names (`kubernetes.context`,
`kubernetes.kubeconfigPath`), never to whatever the operator's kubeconfig points at by default.
"""

from __future__ import annotations

import shlex

from components.config.models import KubernetesConfig
from components.config.paths import SHELL_PASSWD_HOME


def shell_path(path: str) -> str:
    """A quoted path for the operator's shell. A leading `~/` becomes the passwd home of whoever
    runs the step, as the Kubernetes provider expands it (`components.config.paths`), not
    `$HOME`; the command reads the same on every operator's machine, so a change of operator
    does not re-run a step."""
    if path == "~":
        return SHELL_PASSWD_HOME
    if path.startswith("~/"):
        return SHELL_PASSWD_HOME + "/" + shlex.quote(path[2:])
    return shlex.quote(path)


def kubectl_command(kubernetes: KubernetesConfig, *args: str) -> str:
    """`kubectl [--kubeconfig P] [--context C] ARGS...`, every argument quoted."""
    command = ["kubectl"]
    if kubernetes.kubeconfig_path:
        command += ["--kubeconfig", shell_path(kubernetes.kubeconfig_path)]
    if kubernetes.context:
        command += ["--context", shlex.quote(kubernetes.context)]
    return " ".join([*command, *(shlex.quote(arg) for arg in args)])
