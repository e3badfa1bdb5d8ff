"""NodeMarks: what one Agilio node carries on its Node object before its own VF registration
wait: the label the device plugin DaemonSet selects (`agilio-offload/agilio-cx=true`) and Kube-OVN's
tunnel-interface annotation.

They are their own component, created once the cluster preflight has passed (it checks that every
named Node exists: a server-side apply of a missing Node would create one), and depend on no node's
rollout. Under `SriovDevicePlugin`/`KubeOvnOffload`, which wait for every node's last step, a node
added to a running stack waited for the plugin pod on itself that the missing label kept away, and
never finished (issue 17).

Both patches are retained: pulumi-kubernetes deletes a patch by a server-side apply, which
creates the Node again when it was deleted by hand (provider.py `_patch_node`). A cleanup step
per patch takes off, with kubectl and only from a Node that still exists, what must go when the
node leaves the stack: the label, and the `pulumi.com/*` annotations the patches sent. The
tunnel annotation stays (kube-ovn-cni reads it at every start).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
from pulumi_command import local

from components.cluster.preflight import TUNNEL_FIELD_MANAGER
from components.cluster.provider import annotate_node, label_node, node_fields_cleanup
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
        # The patches are retained (never relinquished: that would create a Node deleted by
        # hand, provider.py `_patch_node`); these take the label off instead.
        self.cleanups: list[local.Command] = [
            node_fields_cleanup(
                f"agilio-label-cleanup-{args.node}",
                args.kubernetes,
                args.node,
                self.label,
                self,
                labels=[AGILIO_NODE_LABEL],
            )
        ]
        self.tunnel_interface = None
        if args.uplink:
            self.tunnel_interface = annotate_node(
                f"{args.node}-kube-ovn-tunnel-interface",
                args.node,
                {TUNNEL_INTERFACE_ANNOTATION: args.uplink},
                self,
                field_manager=TUNNEL_FIELD_MANAGER,
            )
            # The annotation stays (kube-ovn-cni: without it, on the wrong NIC); only the
            # `pulumi.com/*` annotations of its patch go.
            self.cleanups.append(
                node_fields_cleanup(
                    f"pulumi-annotations-cleanup-{args.node}",
                    args.kubernetes,
                    args.node,
                    self.tunnel_interface,
                    self,
                )
            )
        self.register_outputs({"node": args.node})

    @property
    def patches(self) -> list[pulumi.Resource]:
        return [p for p in (self.label, self.tunnel_interface) if p is not None]

    @property
    def before_registration(self) -> list[pulumi.Resource]:
        """What the node's VF registration wait depends on: the patches and their cleanups (so
        a node leaving the stack has its label taken off after that wait's delete, where the
        patch's own delete was)."""
        return [*self.patches, *self.cleanups]
