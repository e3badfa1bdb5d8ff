"""The nodes, runbook steps 1 and 2: each Agilio node's firmware, driver and VFs over SSH.

- `rollout.roll_out_nodes`: every node's preflight, the gate, then the nodes in
  `rollout.maxUnavailable` lanes;
- `agilio_node`: the `AgilioNode` component and the factory that makes every node step;
- `preflight`: each node's read-only checks and the gate; `change_guard`: the verdict on a change
  the rollout cannot make safely;
- `scripts/`: the shell scripts the steps run on the nodes.
"""

from components.node.agilio_node import AgilioNode, AgilioNodeArgs
from components.node.change_guard import ChangeRefused
from components.node.preflight import Preflight, PreflightArgs
from components.node.rollout import roll_out_nodes

__all__ = [
    "AgilioNode",
    "AgilioNodeArgs",
    "ChangeRefused",
    "Preflight",
    "PreflightArgs",
    "roll_out_nodes",
]
