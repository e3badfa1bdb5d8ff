"""A program with a dependency cycle closed through an output resolved late: a -> b -> a."""

import asyncio

import pulumi


class Thing(pulumi.CustomResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions) -> None:
        super().__init__("test:index:Thing", name, {"name": name}, opts)


later: asyncio.Future[list[pulumi.Resource]] = asyncio.get_event_loop().create_future()
a = Thing("a", pulumi.ResourceOptions(depends_on=pulumi.Output.from_input(later)))
b = Thing("b", pulumi.ResourceOptions(depends_on=[a]))
later.set_result([b])
