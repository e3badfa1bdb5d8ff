"""OffloadNAD (filled in by the Kubernetes layer issue)."""

from __future__ import annotations

import pulumi

TYPE = "agilio-offload:index:OffloadNAD"


class OffloadNAD(pulumi.ComponentResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE, name, None, opts)
        self.register_outputs({})
