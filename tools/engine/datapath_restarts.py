"""Which steps restart the Kube-OVN datapath (`ovs-ovn`) of the nodes, and how many at once.

An update of the Kube-OVN Helm release (components/cluster/kube_ovn.py) that changes the ovs-ovn
DaemonSet's pod template makes the DaemonSet controller replace ovs-ovn on every node it runs
on, Agilio nodes included, while the release step runs: pulumi-kubernetes runs `helm upgrade`
with `Wait = !skipAwait` (`provider/pkg/provider/helm_release.go`, v4.32.0), and helm waits for
every updated pod of a RollingUpdate DaemonSet (`pkg/kube/ready.go` `daemonSetReady`, v3.20.2;
its post-upgrade hook `upgrade-ovs-ovn` also runs `kubectl rollout status ds/ovs-ovn`).

What the kube-ovn-v2 chart decides (`charts/kube-ovn-v2`, v1.16.2):
- `templates/ovs-ovn/ovs-ovn-daemonset.yaml`: `rollingUpdate: {maxSurge:
  .Values.ovsOvn.updateStrategy.maxSurge, maxUnavailable: ...maxUnavailable}`, values.yaml
  RollingUpdate, maxSurge 1, maxUnavailable 0; `_helpers.tpl` `kubeovn.ovs-ovn.updateStrategy`
  keeps an existing RollingUpdate DaemonSet RollingUpdate. The pod template carries
  `kubeovn.labels` (`helm.sh/chart: kube-ovn-v2-<version>`): every chart version changes it.
- kubernetes `pkg/controller/daemon/update.go` `rollingUpdate`, maxSurge > 0: a new pod is
  created beside an available old one on at most maxSurge nodes whose new pod is not yet
  available; the old pod is deleted once the new one is available. (maxSurge 0: at most
  maxUnavailable old pods are deleted first, the new ones created after.)
- `dist/images/start-ovs.sh`: the new pod (hostNetwork, hostPID, the node's /run/openvswitch)
  runs `ovs-ctl restart` of ovsdb-server and of ovs-vswitchd and `ovn-ctl restart_controller`:
  the node's datapath restarts when the new pod starts and is back when it is Ready. The old
  pod's `quit` trap stops OVS only when its own revision is the latest one (and the daemons run
  in its cgroup), which is never the case for an old pod in a rolling update.

So a node counts as out from the start of its new ovs-ovn until that pod is Ready, at most
maxSurge nodes at once (maxUnavailable when maxSurge is 0). The plan cannot know which node the
controller takes when: it counts `at_once` nodes out for the whole release step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from components.config import pins
from components.config.kube_ovn_values import effective
from tools.engine.resources import Resource
from tools.engine.step import EnginePlan, Op, Step

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
# The value paths the ovs-ovn pod template reads (`template:` of ovs-ovn-daemonset.yaml at
# v1.16.2, with the helpers it includes: `kubeovn.runAsUser` reads features.enableOvnIpsec,
# `kubeovn.masterNodes` masterNodes, `kubeovn.nodeIPs` masterNodesLabels). `namespace` moves the
# whole DaemonSet. The chart's version is in the template too (`kubeovn.labels`).
OVS_OVN_TEMPLATE_VALUES: tuple[tuple[str, ...], ...] = (
    ("namespace",),
    ("masterNodes",),
    ("masterNodesLabels",),
    ("global", "registry", "address"),
    ("global", "images", "kubeovn", "repository"),
    ("global", "images", "kubeovn", "tag"),
    ("image", "pullPolicy"),
    ("features", "enableHardwareOffload"),
    ("features", "enableOvnIpsec"),
    ("networking", "enableSsl"),
    ("networking", "tunnelType"),
    ("logging", "directory"),
    ("ovsOvn", "podAnnotations"),
    ("ovsOvn", "podLabels"),
    ("ovsOvn", "affinity"),
    ("ovsOvn", "nodeSelector"),
    ("ovsOvn", "disableModulesManagement"),
    ("ovsOvn", "ovnRemoteProbeInterval"),
    ("ovsOvn", "ovnRemoteOpenflowInterval"),
    ("ovsOvn", "extraEnv"),
    ("ovsOvn", "resources"),
    ("ovsOvn", "ovsDirectory"),
)
# The release inputs that pick the chart itself: any change renders another template.
CHART_INPUTS = ("chart", "version", "repositoryOpts")
# values.yaml `ovsOvn.updateStrategy` (v1.16.2).
CHART_MAX_SURGE = 1
CHART_MAX_UNAVAILABLE = 0
_RESTARTING = (Op.UPDATE, Op.CREATE_REPLACEMENT)


@dataclass(frozen=True)
class DatapathRestart:
    """A release step that restarts ovs-ovn on every node: why, the Agilio nodes it reaches,
    how many at once by the DaemonSet's update strategy."""

    step: str  # the release step's id
    release: str  # its resource name
    why: tuple[str, ...]  # "version v1.16.2 -> v1.16.3", "values ovsOvn.resources"
    nodes: tuple[str, ...]  # the Agilio nodes whose ovs-ovn restarts
    at_once: int
    strategy: str  # "RollingUpdate, maxSurge 1, maxUnavailable 0"

    def slots(self) -> list[str]:
        """The names the rollout analysis counts out while the release step runs, one per node
        the strategy restarts at once."""
        base = f"ovs-ovn restart ({self.at_once} of {len(self.nodes)} nodes at a time)"
        return [base] if self.at_once == 1 else [f"{base} #{i}" for i in range(1, self.at_once + 1)]


@dataclass(frozen=True)
class ReleaseKept:
    """A Kube-OVN release update that leaves ovs-ovn's pod template alone."""

    release: str
    changed: tuple[str, ...]


def is_kube_ovn_release(resource: Resource) -> bool:
    return resource.type == HELM_RELEASE and resource.inputs.get("chart") == pins.KUBE_OVN_CHART


def template_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What of the release's inputs changes the ovs-ovn pod template (empty: nothing)."""
    found = [
        f"{key} {_text(old.get(key))} -> {_text(new.get(key))}"
        for key in CHART_INPUTS
        if old.get(key) != new.get(key)
    ]
    old_values, new_values = _values(old), _values(new)
    if old_values is None or new_values is None:
        return [*found, "values (not known before apply)"] if old_values != new_values else found
    for path in OVS_OVN_TEMPLATE_VALUES:
        if effective(old_values, path) != effective(new_values, path):
            found.append(f"values {'.'.join(path)}")
    return found


def changed_values(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The top-level value paths (two levels deep) that differ, for a release kept as is."""
    old_values, new_values = _values(old) or {}, _values(new) or {}
    found = []
    for key in sorted(old_values.keys() | new_values.keys()):
        a, b = old_values.get(key), new_values.get(key)
        if a == b:
            continue
        if isinstance(a, Mapping) or isinstance(b, Mapping):
            a = a if isinstance(a, Mapping) else {}
            b = b if isinstance(b, Mapping) else {}
            found += [f"{key}.{k}" for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)]
        else:
            found.append(str(key))
    return found


def at_once(values: Mapping[str, Any] | None, nodes: int) -> tuple[int, str]:
    """How many nodes' ovs-ovn restart together, and the strategy in words. The values'
    `ovsOvn.updateStrategy` (refused by the stack's values allowlist, so the chart's 1/0 in
    practice); a percentage counts as every node (the cluster's size is not in the plan)."""
    wanted = ((values or {}).get("ovsOvn") or {}).get("updateStrategy") or {}
    surge = wanted.get("maxSurge", CHART_MAX_SURGE)
    unavailable = wanted.get("maxUnavailable", CHART_MAX_UNAVAILABLE)
    strategy = f"RollingUpdate, maxSurge {surge}, maxUnavailable {unavailable}"
    width = surge if _count(surge, nodes) else unavailable
    return min(max(_count(width, nodes), 1), max(nodes, 1)), strategy


def datapath_restarts(
    plan: EnginePlan, old: Sequence[Resource], nodes: Sequence[str]
) -> tuple[list[DatapathRestart], list[ReleaseKept]]:
    """Every Kube-OVN release step of `plan` that restarts ovs-ovn, and every one that does
    not although the release changes. A release created anew restarts no running datapath
    (a running Kube-OVN is adopted with `pulumi import`, docs/rollout.md)."""
    old_by_urn = {r.urn: r for r in old}
    restarts, kept = [], []
    for step in _release_steps(plan):
        before = old_by_urn.get(step.resource.urn)
        if before is None:
            continue
        why = template_changes(before.inputs, step.resource.inputs)
        if not why:
            kept.append(
                ReleaseKept(step.name, tuple(changed_values(before.inputs, step.resource.inputs)))
            )
            continue
        width, strategy = at_once(_values(step.resource.inputs), len(nodes))
        restarts.append(
            DatapathRestart(step.id, step.name, tuple(why), tuple(nodes), width, strategy)
        )
    return restarts, kept


def _release_steps(plan: EnginePlan) -> list[Step]:
    return [
        step
        for chain in plan.chains.values()
        for step in chain
        if step.op in _RESTARTING and is_kube_ovn_release(step.resource)
    ]


def _values(inputs: Mapping[str, Any]) -> Mapping[str, Any] | None:
    values = inputs.get("values", {})
    return values if isinstance(values, Mapping) else None


def _count(value: Any, nodes: int) -> int:
    if isinstance(value, str) and value.endswith("%"):
        return nodes if value.strip("%") not in ("", "0") else 0
    return int(value) if isinstance(value, int) else nodes


def _text(value: Any) -> str:
    return "(none)" if value is None else str(value) if not isinstance(value, Mapping) else "{...}"
