"""AgilioNode: firmware, driver and SR-IOV VFs on one node over SSH (runbook steps 1 and 2)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.config import ResolvedNode

TYPE = "agilio-offload:index:AgilioNode"
# The node steps in runbook order; each is a remote command named "<node>-<step>".
STEPS = ("preflight", "firmware", "driver", "vfs")
HARDWARE_STEPS = ("firmware", "driver", "vfs")


@dataclass
class AgilioNodeArgs:
    node: ResolvedNode


class AgilioNode(pulumi.ComponentResource):
    """One Agilio node's hardware steps (filled in by the AgilioNode issue)."""

    def __init__(
        self, name: str, args: AgilioNodeArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        self.node_name = args.node.name
        self.register_outputs({"node": args.node.name})
