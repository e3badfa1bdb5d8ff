"""The floors for bench/plan_scale.py: the SDK's own cost of registering the same resources.

Registers, per node, one component with the same number of children as an AgilioNode has, plus
the same number of cluster-level resources, with no logic at all. Config (namespace `bench`):
`nodes`, `perNode` (resources per node, component included), `fixed`, and `shape`:

- `bare` (the floor the targets refer to): children are a custom resource with one input;
- `commands`: children are `command.remote.Command`s with a one-word script, so each carries
  the same output properties as a real node step (the SDK's cost grows with them).
"""

import pulumi
from pulumi_command import remote

config = pulumi.Config("bench")
nodes = config.require_int("nodes")
per_node = config.require_int("perNode")
fixed = config.require_int("fixed")
shape = config.require("shape")


class Bare(pulumi.CustomResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions) -> None:
        super().__init__("bench:index:Bare", name, {"value": name}, opts)


def child(name: str, parent: pulumi.Resource) -> None:
    opts = pulumi.ResourceOptions(parent=parent)
    if shape == "commands":
        remote.Command(name, connection=remote.ConnectionArgs(host=name), create="true", opts=opts)
    else:
        Bare(name, opts)


for index in range(nodes):
    node = pulumi.ComponentResource("bench:index:Node", f"node-{index}")
    for number in range(per_node - 1):
        child(f"node-{index}-{number}", node)
    node.register_outputs({})

for index in range(fixed):
    Bare(f"fixed-{index}", pulumi.ResourceOptions())
