"""The simulated cluster: one store of objects, the controllers' and kubelets' behaviours, a
`kubectl` front-end and pulumi-kubernetes' way of applying resources (docs/simulated-cluster.md).

`SimCluster` is imported on first use, so the `kubectl` front-end (kubectl_cli, run once per
call) loads only what it needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tools.rehearsal.cluster.sim import SimCluster

__all__ = ["SimCluster"]


def __getattr__(name: str) -> Any:
    if name == "SimCluster":
        from tools.rehearsal.cluster.sim import SimCluster

        return SimCluster
    raise AttributeError(name)
