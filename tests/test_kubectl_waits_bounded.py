"""Every kubectl call of the program that waits has its own bound (issue 17): a plain
`kubectl delete pod` waits up to 168 h for the pod to go (kubectl `delete.go`
`DeleteResult`: `effectiveTimeout = 168 * time.Hour` when --timeout is 0, and `--wait` defaults
to true), so one pod stuck Terminating on a NotReady node would stall `pulumi up`; `drain` and
`rollout status` have no bound without --timeout either (drain.go `evictPods`: MaxInt64)."""

from __future__ import annotations

import re
import shlex

import pytest

from components.names import LOCAL_COMMAND
from tools.engine import run_stack

WAITING_VERBS = ("delete", "drain", "wait")


def kubectl_calls(text: str) -> list[list[str]]:
    """Every `kubectl ...` command line in a local command's text (split at && ; |)."""
    calls = []
    for part in re.split(r"&&|\|\||;|\|", text):
        try:
            words = shlex.split(part)
        except ValueError:
            continue
        if words[:1] == ["kubectl"]:
            calls.append(words)
    return calls


VALUED_OPTIONS = ("--context", "--kubeconfig", "--namespace", "-n", "--selector", "-l")


def verbs_of(words: list[str]) -> list[str]:
    """The words after `kubectl` that are neither options nor option values."""
    verbs, skip = [], False
    for word in words[1:]:
        if skip:
            skip = False
        elif word.startswith("-"):
            skip = "=" not in word and word in (*VALUED_OPTIONS, "--field-selector")
        else:
            verbs.append(word)
    return verbs


def unbounded(words: list[str]) -> bool:
    verbs = verbs_of(words)
    waits = bool(verbs) and (verbs[0] in WAITING_VERBS or verbs[:2] == ["rollout", "status"])
    if not waits or "--wait=false" in words:
        return False
    return not any(w.startswith("--timeout=") and w != "--timeout=0" for w in words)


@pytest.mark.parametrize("stack", ["dev", "existing"])
def test_every_waiting_kubectl_call_has_a_timeout(stack: str) -> None:
    run = run_stack(stack)
    assert run.error is None, run.error
    found = []
    for resource in run.by_type(LOCAL_COMMAND):
        for key in ("create", "update", "delete"):
            text = resource.revealed_inputs.get(key) or ""
            found += [
                (resource.name, key, " ".join(c)) for c in kubectl_calls(text) if unbounded(c)
            ]
    assert found == []


def test_chart_version_under_existing_restarts_no_multus_pod() -> None:
    """`kubeOvn.install: existing` keeps the running Kube-OVN: its chartVersion installs nothing,
    so changing it must not re-run `kube-ovn-multus-restart` (which deletes every Multus pod of
    the cluster at once, issue 17)."""
    restarts = []
    for version in ("v1.16.2", "v1.16.3"):
        overrides = {
            "agilio-offload:kubeOvn": {"install": "existing", "chartVersion": version},
            "agilio-offload:multus": {"install": "stack"},
        }
        run = run_stack("existing", overrides)
        assert run.error is None, run.error
        restarts.append(run.by_name("kube-ovn-multus-restart").inputs["triggers"])
    assert restarts[0] == restarts[1]
