"""A chain of `chain:depth` resources, each depending on the one before, with the program's
cycle-check correction installed first (as `__main__.py` does). With `chain:cycle` true, the
first link also depends on the last, through an output resolved after the chain is built."""

import asyncio

import pulumi

from components.sdk_fixes import sdk_corrections

sdk_corrections.install()
config = pulumi.Config("chain")
depth = config.require_int("depth")
cycle = config.get_bool("cycle") or False


class Link(pulumi.CustomResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions) -> None:
        super().__init__("test:index:Link", name, {"name": name}, opts)


later: asyncio.Future[list[pulumi.Resource]] = asyncio.get_event_loop().create_future()
last = Link("link-0", pulumi.ResourceOptions(depends_on=pulumi.Output.from_input(later)))
for index in range(1, depth):
    last = Link(f"link-{index}", pulumi.ResourceOptions(depends_on=[last]))
later.set_result([last] if cycle else [])
