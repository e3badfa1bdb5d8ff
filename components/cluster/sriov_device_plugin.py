"""SriovDevicePlugin: the SR-IOV network device plugin on the Agilio nodes (runbook step 3).

It advertises the nodes' Agilio VFs to kubelet as the extended resource `<prefix>/<name>`
(`corigine.com/agilio_sriov`). Children: a NodePatch per Agilio node (the label the DaemonSet
selects), the `sriovdp-config` ConfigMap, a ServiceAccount and the DaemonSet of the pinned
release. The plugin reads its config only at start, so the pod template carries a hash of it:
a config change rolls the pods.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.cluster.provider import (
    LINUX_NODES,
    SYSTEM_NAMESPACE,
    label_node,
)
from components.config import pins
from components.config.models import SriovConfig
from components.names import (
    AGILIO_NODE_LABEL,
    AGILIO_NODE_LABEL_VALUE,
    DEVICE_PLUGIN_DAEMON_SET,
    DEVICE_PLUGIN_LABELS,
    SRIOV_DEVICE_PLUGIN_TYPE,
)

CONFIG_MAP_NAME = "sriovdp-config"
SERVICE_ACCOUNT_NAME = "sriov-device-plugin"
CONFIG_KEY = "config.json"
CONFIG_HASH_ANNOTATION = "agilio-offload/sriovdp-config-sha256"
# Host directories the plugin works in: kubelet's device plugin socket and plugin registry, and
# the device-info files Multus reads to pass the VF's PCI address to the CNI plugins.
HOST_PATHS = {
    "devicesock": "/var/lib/kubelet/device-plugins",
    "plugins-registry": "/var/lib/kubelet/plugins_registry",
    "device-info": "/var/run/k8s.cni.cncf.io/devinfo/dp",
}


@dataclass
class SriovDevicePluginArgs:
    sriov: SriovConfig
    agilio_nodes: Sequence[str]
    namespace: str = SYSTEM_NAMESPACE
    # The nodes' labels when made elsewhere (NodeMarks, before each node's own registration
    # wait); None: this component labels `agilio_nodes` itself.
    node_labels: Sequence[pulumi.Resource] | None = None


def device_plugin_config(sriov: SriovConfig) -> dict[str, Any]:
    """The plugin's `config.json`: one resource pool of the Agilio VFs."""
    return {
        "resourceList": [
            {
                "resourcePrefix": sriov.resource_prefix,
                "resourceName": sriov.resource_name,
                "selectors": {
                    "vendors": list(sriov.vendors),
                    "devices": list(sriov.devices),
                    "drivers": list(sriov.drivers),
                },
            }
        ]
    }


def config_json(sriov: SriovConfig) -> str:
    return json.dumps(device_plugin_config(sriov), indent=2, sort_keys=True) + "\n"


def config_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class SriovDevicePlugin(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: SriovDevicePluginArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(SRIOV_DEVICE_PLUGIN_TYPE, name, None, opts)
        self.node_labels: list[pulumi.Resource] = list(args.node_labels or [])
        if args.node_labels is None:
            self.node_labels = [
                label_node(
                    f"{node}-agilio-label", node, {AGILIO_NODE_LABEL: AGILIO_NODE_LABEL_VALUE}, self
                )
                for node in args.agilio_nodes
            ]
        text = config_json(args.sriov)
        self.config_hash = config_hash(text)
        self.config_map = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=CONFIG_MAP_NAME, namespace=args.namespace),
            data={CONFIG_KEY: text},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=SERVICE_ACCOUNT_NAME, namespace=args.namespace
            ),
            # The plugin talks to kubelet over its socket, never to the API server.
            automount_service_account_token=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.daemon_set = k8s.apps.v1.DaemonSet(
            f"{name}-ds",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=DEVICE_PLUGIN_DAEMON_SET, namespace=args.namespace, labels=DEVICE_PLUGIN_LABELS
            ),
            spec=self._daemon_set_spec(self.config_hash),
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.config_map, self.service_account, *self.node_labels]
            ),
        )
        self.resource = args.sriov.resource
        self.register_outputs({"resource": self.resource, "configHash": self.config_hash})

    def _daemon_set_spec(self, hash_: str) -> k8s.apps.v1.DaemonSetSpecArgs:
        return k8s.apps.v1.DaemonSetSpecArgs(
            selector=k8s.meta.v1.LabelSelectorArgs(
                match_labels={"name": DEVICE_PLUGIN_LABELS["name"]}
            ),
            update_strategy=k8s.apps.v1.DaemonSetUpdateStrategyArgs(type="RollingUpdate"),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    labels=DEVICE_PLUGIN_LABELS, annotations={CONFIG_HASH_ANNOTATION: hash_}
                ),
                spec=k8s.core.v1.PodSpecArgs(
                    # As upstream: the plugin discovers VFs through the host's network view.
                    host_network=True,
                    service_account_name=SERVICE_ACCOUNT_NAME,
                    automount_service_account_token=False,
                    node_selector={**LINUX_NODES, AGILIO_NODE_LABEL: AGILIO_NODE_LABEL_VALUE},
                    containers=[self._container()],
                    volumes=self._volumes(),
                ),
            ),
        )

    @staticmethod
    def _container() -> k8s.core.v1.ContainerArgs:
        mounts = [
            k8s.core.v1.VolumeMountArgs(name=volume, mount_path=path)
            for volume, path in HOST_PATHS.items()
        ]
        mounts.append(
            k8s.core.v1.VolumeMountArgs(name="config", mount_path="/etc/pcidp", read_only=True)
        )
        return k8s.core.v1.ContainerArgs(
            name="kube-sriovdp",
            image=pins.SRIOV_DEVICE_PLUGIN_IMAGE,
            image_pull_policy="IfNotPresent",
            # Without --log-dir the image's entrypoint logs to stderr (kubectl logs), so no
            # host log directory is mounted.
            args=["--log-level=10"],
            # Privileged as upstream ships it: the plugin reads VF PCI config space and the
            # device nodes of every VF it advertises, which an unprivileged container cannot.
            security_context=k8s.core.v1.SecurityContextArgs(privileged=True),
            resources=k8s.core.v1.ResourceRequirementsArgs(
                requests={"cpu": "250m", "memory": "40Mi"},
                limits={"cpu": "1", "memory": "200Mi"},
            ),
            volume_mounts=mounts,
        )

    @staticmethod
    def _volumes() -> list[k8s.core.v1.VolumeArgs]:
        volumes = [
            k8s.core.v1.VolumeArgs(
                name=volume,
                host_path=k8s.core.v1.HostPathVolumeSourceArgs(
                    path=path, type="DirectoryOrCreate" if volume == "device-info" else "Directory"
                ),
            )
            for volume, path in HOST_PATHS.items()
        ]
        volumes.append(
            k8s.core.v1.VolumeArgs(
                name="config",
                config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                    name=CONFIG_MAP_NAME,
                    items=[k8s.core.v1.KeyToPathArgs(key=CONFIG_KEY, path=CONFIG_KEY)],
                ),
            )
        )
        return volumes
