"""Kube-OVN's objects as its two installs create them, for the simulated cluster.

The kube-ovn-v2 chart (v1.16.2, `charts/kube-ovn-v2/templates`): `ovs-ovn/ovs-ovn-daemonset.yaml`
(updateStrategy from `_helpers.tpl` `kubeovn.ovs-ovn.updateStrategy`: values' type only when no
ovs-ovn DaemonSet exists, an existing RollingUpdate one stays RollingUpdate, an existing
OnDelete one with a kube-ovn image >= 1.12.0 becomes RollingUpdate because the v2 chart sets no
`chart-version` annotation; values default RollingUpdate, maxSurge 1, maxUnavailable 0), and
`agent/agent-daemonset.yaml` (kube-ovn-cni, no updateStrategy: the API defaults, RollingUpdate
maxUnavailable 1). Helm marks what it installs (pkg/action/validate.go `setMetadataVisitor`:
`meta.helm.sh/release-name`/`-namespace`, `app.kubernetes.io/managed-by: Helm`) and keeps each
release revision in a Secret `sh.helm.release.v1.NAME.vN` (pkg/storage/driver/secrets.go).
install.sh creates the same DaemonSets with kubectl (field manager
"kubectl-client-side-apply"), without the Helm marks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

SYSTEM = "kube-system"
OVS_LABELS = {
    "app.kubernetes.io/name": "kube-ovn-ovs",
    "app.kubernetes.io/part-of": "kube-ovn",
    "app": "ovs",
    "component": "network",
    "type": "infra",
}
INSTALL_SH_OVS_LABELS = {"app": "ovs", "component": "network", "type": "infra"}
CNI_LABELS = {"app": "kube-ovn-cni", "component": "network", "type": "infra"}
DAEMON_TOLERATIONS = [
    {"operator": "Exists", "effect": "NoSchedule"},
    {"operator": "Exists", "effect": "NoExecute"},
    {"key": "CriticalAddonsOnly", "operator": "Exists"},
]


def _image(version: str) -> str:
    return f"docker.io/kubeovn/kube-ovn:v{version.removeprefix('v')}"


def _flag(value: Any) -> str:
    return "true" if value in (True, "true", "True") else "false"


def daemon_set(
    name: str,
    pod_labels: Mapping[str, str],
    container: dict[str, Any],
    strategy: dict[str, Any] | None,
    metadata: Mapping[str, Any],
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": pod_labels["app"]}},
        "template": {
            "metadata": {"labels": dict(pod_labels)},
            "spec": {
                "hostNetwork": True,
                "hostPID": True,
                "priorityClassName": "system-node-critical",
                "tolerations": [dict(t) for t in DAEMON_TOLERATIONS],
                "containers": [container],
            },
        },
    }
    if strategy is not None:
        spec["updateStrategy"] = strategy
    else:
        # apps/v1 SetDefaults_DaemonSet.
        spec["updateStrategy"] = {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
        }
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": SYSTEM, **dict(metadata)},
        "spec": spec,
    }


def ovs_strategy(existing: Mapping[str, Any] | None, values: Mapping[str, Any]) -> dict[str, Any]:
    """`_helpers.tpl` `kubeovn.ovs-ovn.updateStrategy` and the template's rollingUpdate."""
    wanted = (values.get("ovsOvn") or {}).get("updateStrategy") or {}
    surge = wanted.get("maxSurge", 1)
    unavailable = wanted.get("maxUnavailable", 0)
    if existing is None:
        kind = wanted.get("type", "RollingUpdate")
    elif (existing["spec"].get("updateStrategy") or {}).get("type") == "RollingUpdate":
        kind = "RollingUpdate"
    else:
        image = existing["spec"]["template"]["spec"]["containers"][0].get("image", "")
        found = re.search(r"(\d+)\.(\d+)\.(\d+)", image.rsplit(":", 1)[-1])
        chart_version = (existing["metadata"].get("annotations") or {}).get("chart-version", "")
        new_version = "kube-ovn-v2-" + str(values.get("__chart_version", ""))
        if found and chart_version != new_version and tuple(map(int, found.groups())) >= (1, 12, 0):
            kind = "RollingUpdate"
        else:
            kind = "OnDelete"
    if kind == "RollingUpdate":
        return {"type": kind, "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}
    return {"type": kind}


def chart_labels(version: str) -> dict[str, str]:
    """`_helpers.tpl` `kubeovn.labels`, which the ovs-ovn pod template carries: every chart
    version changes the template (Chart.yaml: version v1.16.2, appVersion "1.16.2")."""
    number = version.removeprefix("v")
    return {
        "helm.sh/chart": f"kube-ovn-v2-v{number}",
        "app.kubernetes.io/version": number,
        "app.kubernetes.io/managed-by": "Helm",
    }


def ovs_container(version: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The `openvswitch` container of `ovs-ovn-daemonset.yaml` as far as the values the stack
    may set reach it (image, pull policy, env, resources); defaults from values.yaml."""
    registry = (values.get("global") or {}).get("registry") or {}
    image = ((values.get("global") or {}).get("images") or {}).get("kubeovn") or {}
    networking = values.get("networking") or {}
    features = values.get("features") or {}
    container: dict[str, Any] = {
        "name": "openvswitch",
        "image": (
            f"{registry.get('address', 'docker.io/kubeovn')}/"
            f"{image.get('repository', 'kube-ovn')}:"
            f"{image.get('tag', 'v' + version.removeprefix('v'))}"
        ),
        "imagePullPolicy": (values.get("image") or {}).get("pullPolicy", "IfNotPresent"),
        "env": [
            {"name": "ENABLE_SSL", "value": _flag(networking.get("enableSsl"))},
            {"name": "HW_OFFLOAD", "value": _flag(features.get("enableHardwareOffload"))},
            {"name": "TUNNEL_TYPE", "value": str(networking.get("tunnelType", "geneve"))},
            {"name": "OVN_DB_IPS", "value": ",".join(values.get("masterNodes") or [])},
        ],
    }
    resources = (values.get("ovsOvn") or {}).get("resources")
    if resources:
        container["resources"] = resources
    return container


def chart_objects(
    release: str,
    namespace: str,
    version: str,
    values: Mapping[str, Any],
    existing_ovs: Mapping[str, Any] | None,
) -> list[dict[str, Any]]:
    """What `helm install/upgrade` of kube-ovn-v2 VERSION with `values` writes (the parts the
    simulated cluster models)."""
    features = values.get("features") or {}
    agent = values.get("agent") or {}
    metadata = {
        "labels": {"app.kubernetes.io/managed-by": "Helm"},
        "annotations": {
            "meta.helm.sh/release-name": release,
            "meta.helm.sh/release-namespace": namespace,
        },
    }
    ovs = daemon_set(
        "ovs-ovn",
        {**OVS_LABELS, **chart_labels(version)},
        ovs_container(version, values),
        ovs_strategy(existing_ovs, {**values, "__chart_version": version}),
        metadata,
    )
    pod_annotations = (values.get("ovsOvn") or {}).get("podAnnotations")
    if pod_annotations:
        ovs["spec"]["template"]["metadata"]["annotations"] = dict(pod_annotations)
    cni = daemon_set(
        "kube-ovn-cni",
        CNI_LABELS,
        {
            "name": "cni-server",
            "image": _image(version),
            "args": [
                f"--enable-mirror={_flag((agent.get('mirroring') or {}).get('enabled'))}",
                "--encap-checksum=true",
                f"--iface={agent.get('interface', '')}",
            ],
        },
        None,
        metadata,
    )
    controller = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "kube-ovn-controller", "namespace": namespace, **metadata},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "kube-ovn-controller"}},
            "template": {
                "metadata": {"labels": {"app": "kube-ovn-controller"}},
                "spec": {
                    "containers": [
                        {
                            "name": "kube-ovn-controller",
                            "image": _image(version),
                            "args": [
                                "/kube-ovn/start-controller.sh",
                                "--network-type=geneve",
                                f"--enable-lb={_flag(features.get('enableLoadbalancer'))}",
                                "--enable-np=true",
                            ],
                        }
                    ]
                },
            },
        },
    }
    for obj in (ovs, cni):
        obj["metadata"]["namespace"] = namespace
    return [ovs, cni, controller]


def install_sh_objects(
    version: str, hw_offload: bool, enable_lb: bool, mirror: bool, iface: str = ""
) -> list[dict[str, Any]]:
    """dist/images/install.sh of VERSION (read at v1.16.2): the same DaemonSets, applied with
    `kubectl apply`; its ovs-ovn manifest has `updateStrategy: RollingUpdate, maxSurge: 1,
    maxUnavailable: 0` and the pod labels app/component/type only; `IFACE` becomes
    cni-server's `--iface`."""
    objects = chart_objects(
        "",
        SYSTEM,
        version,
        {
            "features": {"enableHardwareOffload": hw_offload, "enableLoadbalancer": enable_lb},
            "agent": {"mirroring": {"enabled": mirror}, "interface": iface},
        },
        None,
    )
    for obj in objects:
        obj["metadata"].pop("labels", None)
        obj["metadata"].pop("annotations", None)
    objects[0]["spec"]["updateStrategy"] = {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    objects[0]["spec"]["template"]["metadata"]["labels"] = dict(INSTALL_SH_OVS_LABELS)
    return objects
