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


def if_node_exists(kubernetes: KubernetesConfig, node: str, command: str, *, otherwise: str) -> str:
    """`command` when the Node `node` exists; without it, print `agilio-offload: <otherwise>` and
    succeed.

    `kubectl get node N --ignore-not-found` prints nothing, exit 0, for a missing Node
    (recorded, kube-apiserver v1.36.2) and fails for anything else (unreachable, forbidden):
    that fails the step, so a cluster that cannot be read never passes for one without the
    Node. Used where kubectl would fail with NotFound on a Node deleted by hand, and never to
    guard a server-side apply (one would still create the Node if it went in between).
    """
    get = kubectl_command(kubernetes, "get", "node", node, "--ignore-not-found", "-o", "name")
    say = shlex.join(["echo", f"agilio-offload: {otherwise}"])
    return f'found=$({get}) || exit $?; if [ -n "$found" ]; then {command}; else {say}; fi'
