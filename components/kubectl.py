"""kubectl command lines for the steps that run on the operator's machine (`local.Command`).

One builder, so the drain, the device plugin restart and the registration wait all reach the
cluster the stack was pointed at (`kubernetes.kubeconfigPath` / `kubernetes.context`) the same
way. Every word is quoted for the operator's shell.
"""

from __future__ import annotations

import shlex

from components.config import KubernetesConfig


def shell_path(path: str) -> str:
    """A quoted path for the operator's shell. A leading `~/` becomes `"$HOME"/` (kubectl does
    not expand `~`, and a quoted one is literal), so the command reads the same on every
    operator's machine and a change of operator does not re-run the drain."""
    if path.startswith("~/"):
        return '"$HOME"/' + shlex.quote(path[2:])
    return shlex.quote(path)


def kubectl_command(kubernetes: KubernetesConfig, *args: str) -> str:
    """`kubectl [--kubeconfig P] [--context C] ARGS...`, quoted for the operator's shell."""
    command = ["kubectl"]
    if kubernetes.kubeconfig_path:
        command += ["--kubeconfig", shell_path(kubernetes.kubeconfig_path)]
    if kubernetes.context:
        command += ["--context", shlex.quote(kubernetes.context)]
    return " ".join([*command, *(shlex.quote(arg) for arg in args)])
