"""Multus: the thick Multus CNI plugin on every node (runbook step 4).

Kube-OVN's offload guide requires the thick plugin for SR-IOV: with the NAD's `resourceName`
annotation it hands the VF's PCI address to Kube-OVN, which then takes the offload path. The
objects follow upstream's thick deployment of the pinned release: the NetworkAttachmentDefinition
CRD, ClusterRole/Binding, ServiceAccount, daemon config and the DaemonSet with its host paths.

On a fresh cluster Multus comes before Kube-OVN (the runbook's order), and thick Multus with
`multusConfigFile: auto` waits ~120 s for a primary CNI config, then exits and restarts until
Kube-OVN writes one. So the DaemonSet has no readiness wait (`pulumi.com/skipAwait`), and
`restart_multus` deletes the Multus pods once Kube-OVN is up, as Kube-OVN's install.sh does
(`kubectl delete pod -n kube-system -l app=multus`, then waits for them to be Ready).

`multus.install: existing` builds none of this: a running thick Multus and its CRD are reused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi_command import local

from components.cluster.kubectl import kubectl_command
from components.cluster.provider import (
    LINUX_NODES,
    SKIP_AWAIT_ANNOTATION,
    SYSTEM_NAMESPACE,
)
from components.config import pins
from components.config.models import KubernetesConfig
from components.names import MULTUS_TYPE

NAME = "multus"
DAEMON_CONFIG_MAP = "multus-daemon-config"
DAEMON_CONFIG_KEY = "daemon-config.json"
APP_LABELS = {"app": "multus", "name": "multus", "tier": "node"}
NAD_CRD_NAME = "network-attachment-definitions.k8s.cni.cncf.io"
DAEMON_SET_NAME = "kube-multus-ds"
READY_TIMEOUT = "300s"
# How long the restart waits for the old pods to be gone: a plain `kubectl delete` waits 168 h
# (kubectl delete.go DeleteResult), e.g. for a pod stuck Terminating on a NotReady node.
DELETE_TIMEOUT = "120s"
# The daemon's memory. Upstream's thick manifest gives it 50Mi (request = limit), and thick
# Multus runs the delegate CNI plugins (here kube-ovn's) inside its own cgroup: that is reported
# to OOM-kill it at start and when many pods start at once (multus-cni #1349: ~53Mi at start;
# #1346: bursts of parallel CNI requests; #1144: the limit leaves no room for the delegate;
# kube-ovn #3043: the kube-ovn plugin killed under a 50Mi Multus). Request what it uses at rest
# plus a delegate, and leave a wide limit for bursts instead of a tight Guaranteed 50Mi.
DAEMON_RESOURCES = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    # A CPU limit well above upstream's 100m: the delegate plugins share it (#1144).
    "limits": {"cpu": "1", "memory": "512Mi"},
}


@dataclass
class MultusArgs:
    # The provider of the retained NAD CRD: one that adopts it after a `destroy`
    # (provider.py `adopting_provider`); None: the component's own provider.
    crd_provider: pulumi.ProviderResource | None = None
    namespace: str = SYSTEM_NAMESPACE


def daemon_config() -> dict[str, Any]:
    """multus-daemon's config: the host's CNI dirs as mounted in the pod, config generated."""
    return {
        "chrootDir": "/hostroot",
        "cniVersion": "0.3.1",
        "logLevel": "verbose",
        "logToStderr": True,
        "cniConfigDir": "/host/etc/cni/net.d",
        "multusAutoconfigDir": "/host/etc/cni/net.d",
        "multusConfigFile": "auto",
        "socketDir": "/host/run/multus/",
    }


def nad_crd_spec() -> k8s.apiextensions.v1.CustomResourceDefinitionSpecArgs:
    schema = k8s.apiextensions.v1.JSONSchemaPropsArgs(
        type="object",
        properties={
            "apiVersion": k8s.apiextensions.v1.JSONSchemaPropsArgs(type="string"),
            "kind": k8s.apiextensions.v1.JSONSchemaPropsArgs(type="string"),
            "metadata": k8s.apiextensions.v1.JSONSchemaPropsArgs(type="object"),
            "spec": k8s.apiextensions.v1.JSONSchemaPropsArgs(
                type="object",
                properties={
                    # The CNI configuration of the attachment, as JSON text.
                    "config": k8s.apiextensions.v1.JSONSchemaPropsArgs(type="string"),
                },
            ),
        },
    )
    return k8s.apiextensions.v1.CustomResourceDefinitionSpecArgs(
        group="k8s.cni.cncf.io",
        scope="Namespaced",
        names=k8s.apiextensions.v1.CustomResourceDefinitionNamesArgs(
            plural="network-attachment-definitions",
            singular="network-attachment-definition",
            kind="NetworkAttachmentDefinition",
            short_names=["nad", "net-attach-def"],
        ),
        versions=[
            k8s.apiextensions.v1.CustomResourceDefinitionVersionArgs(
                name="v1",
                served=True,
                storage=True,
                schema=k8s.apiextensions.v1.CustomResourceValidationArgs(open_apiv3_schema=schema),
            )
        ],
    )


def cluster_role_rules() -> list[k8s.rbac.v1.PolicyRuleArgs]:
    return [
        # Upstream grants every verb on every k8s.cni.cncf.io resource; the daemon only reads
        # the attachments a pod asks for, so read access to NADs is all it gets here.
        k8s.rbac.v1.PolicyRuleArgs(
            api_groups=["k8s.cni.cncf.io"],
            resources=["network-attachment-definitions"],
            verbs=["get", "list", "watch"],
        ),
        # Reads the pod being wired and writes its network-status annotation.
        k8s.rbac.v1.PolicyRuleArgs(
            api_groups=[""],
            resources=["pods", "pods/status"],
            verbs=["get", "list", "update", "watch"],
        ),
        # Reports attachment results and failures as events on the pod.
        k8s.rbac.v1.PolicyRuleArgs(
            api_groups=["", "events.k8s.io"],
            resources=["events"],
            verbs=["create", "patch", "update"],
        ),
    ]


# name -> (host path, path in the container, mount propagation): upstream's thick DaemonSet.
HOST_PATH_MOUNTS: dict[str, tuple[str, str, str | None]] = {
    "cni": ("/etc/cni/net.d", "/host/etc/cni/net.d", None),
    # multus-daemon runs delegate plugins from the same path as on the host.
    "cnibin": ("/opt/cni/bin", "/opt/cni/bin", None),
    "host-run": ("/run", "/host/run", None),
    "host-var-lib-cni-multus": ("/var/lib/cni/multus", "/var/lib/cni/multus", None),
    "host-var-lib-kubelet": ("/var/lib/kubelet", "/var/lib/kubelet", "HostToContainer"),
    "host-run-k8s-cni-cncf-io": ("/run/k8s.cni.cncf.io", "/run/k8s.cni.cncf.io", None),
    "host-run-netns": ("/run/netns/", "/run/netns", "HostToContainer"),
    "hostroot": ("/", "/hostroot", "HostToContainer"),
    "multus-conf-dir": ("/etc/cni/multus/net.d", "/etc/cni/multus/net.d", None),
}


class Multus(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: MultusArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(MULTUS_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        namespace = args.namespace
        self.crd = k8s.apiextensions.v1.CustomResourceDefinition(
            f"{name}-nad-crd",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=NAD_CRD_NAME),
            spec=nad_crd_spec(),
            # Deleting a CRD deletes every object of its kind: every NAD in the cluster, other
            # teams' too. `pulumi destroy` leaves it (README "Rolling back"), and the next `up`
            # adopts it through the adopting provider instead of failing with AlreadyExists.
            opts=pulumi.ResourceOptions(
                parent=self, retain_on_delete=True, provider=args.crd_provider
            ),
        )
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=NAME, namespace=namespace),
            opts=child,
        )
        self.cluster_role = k8s.rbac.v1.ClusterRole(
            f"{name}-role",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=NAME),
            rules=cluster_role_rules(),
            opts=child,
        )
        self.cluster_role_binding = k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-role-binding",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=NAME),
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=NAME
            ),
            subjects=[
                k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=NAME, namespace=namespace)
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.cluster_role]),
        )
        self.config_map = k8s.core.v1.ConfigMap(
            f"{name}-daemon-config",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=DAEMON_CONFIG_MAP,
                namespace=namespace,
                labels={"app": "multus", "tier": "node"},
            ),
            data={DAEMON_CONFIG_KEY: json.dumps(daemon_config(), indent=4) + "\n"},
            opts=child,
        )
        self.daemon_set = k8s.apps.v1.DaemonSet(
            f"{name}-ds",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=DAEMON_SET_NAME,
                namespace=namespace,
                labels=APP_LABELS,
                # Not Ready until Kube-OVN writes its CNI config, which comes later in the
                # chain: waiting here would fail a fresh cluster's first `up`. pulumi-kubernetes
                # waits for a DaemonSet's pods (await/daemonset.go `dsAwaiter`, kstatus) unless
                # this annotation is true (await.go `Creation`/`Update`: `SkipAwaitLogic`).
                annotations={SKIP_AWAIT_ANNOTATION: "true"},
            ),
            spec=self._daemon_set_spec(),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[
                    self.crd,
                    self.service_account,
                    self.cluster_role_binding,
                    self.config_map,
                ],
            ),
        )
        self.register_outputs({"image": pins.MULTUS_IMAGE})

    def _daemon_set_spec(self) -> k8s.apps.v1.DaemonSetSpecArgs:
        return k8s.apps.v1.DaemonSetSpecArgs(
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"name": APP_LABELS["name"]}),
            update_strategy=k8s.apps.v1.DaemonSetUpdateStrategyArgs(type="RollingUpdate"),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=APP_LABELS),
                spec=k8s.core.v1.PodSpecArgs(
                    # The CNI of every node: it must run in the host's network and PID
                    # namespaces, on every node whatever its taints.
                    host_network=True,
                    host_pid=True,
                    node_selector=LINUX_NODES,
                    tolerations=[
                        k8s.core.v1.TolerationArgs(operator="Exists", effect="NoSchedule"),
                        k8s.core.v1.TolerationArgs(operator="Exists", effect="NoExecute"),
                    ],
                    service_account_name=NAME,
                    termination_grace_period_seconds=10,
                    init_containers=[_install_container()],
                    containers=[_daemon_container()],
                    volumes=_volumes(),
                ),
            ),
        )


def _install_container() -> k8s.core.v1.ContainerArgs:
    return k8s.core.v1.ContainerArgs(
        name="install-multus-binary",
        image=pins.MULTUS_IMAGE,
        command=[
            "/usr/src/multus-cni/bin/install_multus",
            "-d",
            "/host/opt/cni/bin",
            "-t",
            "thick",
        ],
        resources=k8s.core.v1.ResourceRequirementsArgs(
            requests={"cpu": "10m", "memory": "15Mi"}, limits={"cpu": "100m", "memory": "50Mi"}
        ),
        # Privileged because Kubernetes allows Bidirectional mount propagation (the installed
        # binary must show up on the host) only in privileged containers.
        security_context=k8s.core.v1.SecurityContextArgs(privileged=True),
        termination_message_policy="FallbackToLogsOnError",
        volume_mounts=[
            k8s.core.v1.VolumeMountArgs(
                name="cnibin", mount_path="/host/opt/cni/bin", mount_propagation="Bidirectional"
            )
        ],
    )


def _daemon_container() -> k8s.core.v1.ContainerArgs:
    mounts = [
        k8s.core.v1.VolumeMountArgs(name=volume, mount_path=path, mount_propagation=propagation)
        for volume, (_, path, propagation) in HOST_PATH_MOUNTS.items()
    ]
    mounts.append(
        k8s.core.v1.VolumeMountArgs(
            name=DAEMON_CONFIG_MAP, mount_path="/etc/cni/net.d/multus.d", read_only=True
        )
    )
    return k8s.core.v1.ContainerArgs(
        name="kube-multus",
        image=pins.MULTUS_IMAGE,
        command=["/usr/src/multus-cni/bin/multus-daemon"],
        env=[
            k8s.core.v1.EnvVarArgs(
                name="MULTUS_NODE_NAME",
                value_from=k8s.core.v1.EnvVarSourceArgs(
                    field_ref=k8s.core.v1.ObjectFieldSelectorArgs(field_path="spec.nodeName")
                ),
            )
        ],
        resources=k8s.core.v1.ResourceRequirementsArgs(**DAEMON_RESOURCES),
        # Privileged: it enters every pod's network namespace and runs the delegate CNI
        # plugins chrooted into the host's root, as kubelet would.
        security_context=k8s.core.v1.SecurityContextArgs(privileged=True),
        termination_message_policy="FallbackToLogsOnError",
        volume_mounts=mounts,
    )


def _volumes() -> list[k8s.core.v1.VolumeArgs]:
    volumes = [
        k8s.core.v1.VolumeArgs(
            name=volume, host_path=k8s.core.v1.HostPathVolumeSourceArgs(path=host_path)
        )
        for volume, (host_path, _, _) in HOST_PATH_MOUNTS.items()
    ]
    volumes.append(
        k8s.core.v1.VolumeArgs(
            name=DAEMON_CONFIG_MAP,
            config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                name=DAEMON_CONFIG_MAP,
                items=[k8s.core.v1.KeyToPathArgs(key=DAEMON_CONFIG_KEY, path=DAEMON_CONFIG_KEY)],
            ),
        )
    )
    return volumes


def restart_multus(
    name: str,
    kubernetes: KubernetesConfig,
    triggers: list[pulumi.Input[str]],
    opts: pulumi.ResourceOptions,
    namespace: str = SYSTEM_NAMESPACE,
) -> local.Command:
    """Delete the Multus pods and wait for the new ones, once Kube-OVN is up (install.sh's
    "Check to delete multus pods to reload CNI config"): each writes its config over Kube-OVN's
    on start. Runs again when `triggers` (what Kube-OVN was installed with) change."""
    selector = f"app={APP_LABELS['app']}"
    delete = kubectl_command(
        kubernetes,
        "delete",
        "pod",
        "--namespace",
        namespace,
        "--selector",
        selector,
        f"--timeout={DELETE_TIMEOUT}",
    )
    wait = kubectl_command(
        kubernetes,
        "rollout",
        "status",
        f"daemonset/{DAEMON_SET_NAME}",
        "--namespace",
        namespace,
        f"--timeout={READY_TIMEOUT}",
    )
    return local.Command(
        name,
        create=f"{delete} && {wait}",
        triggers=triggers,
        add_previous_output_in_env=False,
        opts=opts,
    )
