"""NodeMarks: what one Agilio node carries on its Node object before its own VF registration
wait: the label the device plugin DaemonSet selects (`agilio-offload/agilio-cx=true`) and Kube-OVN's
tunnel-interface annotation.

They are their own component, created once the cluster preflight has passed (it checks that every
named Node exists: a server-side apply of a missing Node would create one), and depend on no node's
rollout. Under `SriovDevicePlugin`/`KubeOvnOffload`, which wait for every node's last step, a node
added to a running stack waited for the plugin pod on itself that the missing label kept away, and
never finished (issue 17).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
from pulumi_command import local

from components.cluster.kubectl import kubectl_command
from components.cluster.preflight import TUNNEL_FIELD_MANAGER
from components.cluster.provider import (
    FIELD_MANAGER_ANNOTATION,
    PATCH_FORCE_ANNOTATION,
    annotate_node,
    label_node,
)
from components.config.models import KubernetesConfig
from components.names import AGILIO_NODE_LABEL, AGILIO_NODE_LABEL_VALUE, NODE_MARKS_TYPE

TUNNEL_INTERFACE_ANNOTATION = "ovn.kubernetes.io/tunnel_interface"


@dataclass
class NodeMarksArgs:
    node: str
    # The NIC that carries the node's IP (its tunnel interface); None: no annotation.
    uplink: str | None
    kubernetes: KubernetesConfig = field(default_factory=KubernetesConfig)


class NodeMarks(pulumi.ComponentResource):
    label: k8s.core.v1.NodePatch
    tunnel_interface: k8s.core.v1.NodePatch | None

    def __init__(
        self, name: str, args: NodeMarksArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(NODE_MARKS_TYPE, name, None, opts)
        self.label = label_node(
            f"{args.node}-agilio-label",
            args.node,
            {AGILIO_NODE_LABEL: AGILIO_NODE_LABEL_VALUE},
            self,
        )
        self.tunnel_interface = None
        if args.uplink:
            self.tunnel_interface = annotate_node(
                f"{args.node}-kube-ovn-tunnel-interface",
                args.node,
                {TUNNEL_INTERFACE_ANNOTATION: args.uplink},
                self,
                # kube-ovn-cni reads it at every start: without it, on the wrong NIC.
                keep_on_destroy=True,
                field_manager=TUNNEL_FIELD_MANAGER,
            )
            self.annotations_cleanup = self._annotations_cleanup(args)
        self.register_outputs({"node": args.node})

    def _annotations_cleanup(self, args: NodeMarksArgs) -> local.Command:
        """The retained tunnel patch keeps its fields, the `pulumi.com/*` annotations it sent
        too (pulumi-kubernetes sends them in the apply body: await.go `Creation`; nothing
        relinquishes a retained patch). Deleted before it, this takes those two off the Node,
        if the Node is still there (an annotate of a missing Node would fail the delete)."""
        get = kubectl_command(args.kubernetes, "get", "node", args.node, "-o", "name")
        annotate = kubectl_command(
            args.kubernetes,
            "annotate",
            "node",
            args.node,
            f"{PATCH_FORCE_ANNOTATION}-",
            f"{FIELD_MANAGER_ANNOTATION}-",
        )
        return local.Command(
            f"pulumi-annotations-cleanup-{args.node}",
            create="true",
            delete=f"if {get} >/dev/null 2>&1; then {annotate}; fi",
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.tunnel_interface]),
        )

    @property
    def patches(self) -> list[pulumi.Resource]:
        return [p for p in (self.label, self.tunnel_interface) if p is not None]
