"""The rollout's lane shape, bare: for bench/plan_scale.py `--program lanes`.

What `components/node/rollout.py` will register, without the scripts: per node a component with a
read-only `preflight`, and nine steps in a chain (`drain` -> `reload-wait` -> `firmware` ->
`driver` -> `vfs` -> `drain-before-undo` -> `device-plugin-restart` -> `vfs-advertised` ->
`uncordon`); one `preflight-gate` waits for every preflight; node i's `drain` waits for the gate
and for node i-k's `uncordon` (k = `bench:maxUnavailable`). Remote steps are
`command.remote.Command`s, kubectl steps `command.local.Command`s, each with a one-word script,
as in the program, which this installs its SDK correction first as `__main__.py` does. At k = 1
the chain is 9 x nodes deep.
"""

import pulumi
from pulumi_command import local, remote

from components.names import GATE_NAME
from components.sdk_fixes import sdk_corrections

sdk_corrections.install()
config = pulumi.Config("bench")
nodes = config.require_int("nodes")
window = config.require_int("maxUnavailable")

REMOTE_STEPS = {"preflight", "reload-wait", "firmware", "driver", "vfs"}
CHAIN = [
    "drain",
    "reload-wait",
    "firmware",
    "driver",
    "vfs",
    "drain-before-undo",
    "device-plugin-restart",
    "vfs-advertised",
    "uncordon",
]


def step(
    index: int, kind: str, node: pulumi.Resource, after: list[pulumi.Resource]
) -> pulumi.Resource:
    name = f"node-{index}-{kind}"
    opts = pulumi.ResourceOptions(parent=node, depends_on=after)
    if kind in REMOTE_STEPS:
        connection = remote.ConnectionArgs(host=name)
        return remote.Command(name, connection=connection, create="true", opts=opts)
    return local.Command(name, create="true", opts=opts)


components = [pulumi.ComponentResource("bench:index:Node", f"node-{i}") for i in range(nodes)]
preflights = [step(i, "preflight", c, []) for i, c in enumerate(components)]
gate = local.Command(GATE_NAME, create="true", opts=pulumi.ResourceOptions(depends_on=preflights))
last_steps: list[pulumi.Resource] = []
for index, component in enumerate(components):
    after: list[pulumi.Resource] = [gate]
    if index >= window:
        after.append(last_steps[index - window])
    for kind in CHAIN:
        after = [step(index, kind, component, after)]
    last_steps.append(after[0])
    component.register_outputs({})
