"""Two linear-time replacements for quadratic bookkeeping in the Pulumi Python SDK (3.272.0).

Used only by `tools.mock_engine` (the plan tool, the tests, the benchmarks), where nothing but
the SDK's own bookkeeping costs time; both keep the SDK's behaviour, only its cost changes.
`bench/plan_scale.py` runs the program and the floor through the same engine. Profiling the
program at 300 nodes showed the two hot spots (README "Scale"):

1. `stack.wait_for_rpcs` waits for the outstanding outputs with `asyncio.wait(FIRST_COMPLETED)`
   and puts the unfinished ones back: every wake-up re-registers a callback on every pending
   output, O(pending x wake-ups). Here each batch of outstanding outputs is awaited once.
2. `resource_cycle_breaker.declare_dependency` walks everything the new dependency reaches to
   check that it does not reach back to the dependent: O(edges x reach), quadratic along a
   rollout, and a RecursionError past ~1000 resources deep. While every dependency declared so
   far points from a newer resource to an older one (creation order), the graph cannot have a
   cycle through a newer resource, so a new dependency of that kind needs no walk. The first
   dependency on a newer resource (possible through an output resolved later) ends the shortcut
   for the rest of the run: from then on the SDK's own walk runs.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections.abc import Callable
from typing import Any

import pulumi
from pulumi.runtime import resource_cycle_breaker, rpc, stack
from pulumi.runtime.settings import SETTINGS, _get_rpc_manager

_SEQUENCE = "_agilio_offload_sequence"
_ORIGINAL_RESOURCE_INIT = pulumi.Resource.__init__


class _Ordering:
    """Creation numbers of this run's resources, and whether every edge still points back."""

    def __init__(self) -> None:
        self.counter = itertools.count()
        self.edges_point_back = True


_ordering = _Ordering()


async def _wait_for_rpcs(await_all_outstanding_tasks: bool = True) -> None:
    rpc_manager = _get_rpc_manager()
    while True:
        while rpc_manager.rpcs:
            await asyncio.sleep(0)
            await rpc_manager.rpcs.pop()
        if rpc_manager.unhandled_exception is not None:
            raise rpc_manager.unhandled_exception.with_traceback(rpc_manager.exception_traceback)
        if await_all_outstanding_tasks:
            await _await_outstanding_outputs()
        if not rpc_manager.rpcs:
            return


async def _await_outstanding_outputs() -> None:
    while True:
        with SETTINGS.lock:
            if not SETTINGS.outputs:
                return
            pending = list(SETTINGS.outputs)
            SETTINGS.outputs.clear()
        results = await asyncio.gather(*pending, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result


@functools.wraps(_ORIGINAL_RESOURCE_INIT)
def _numbered_resource_init(self: pulumi.Resource, *args: Any, **kwargs: Any) -> None:
    setattr(self, _SEQUENCE, next(_ordering.counter))
    _ORIGINAL_RESOURCE_INIT(self, *args, **kwargs)


def _declare_dependency(from_resource: object, to_resource: object) -> bool:
    newer, older = getattr(from_resource, _SEQUENCE, None), getattr(to_resource, _SEQUENCE, None)
    points_back = newer is not None and older is not None and newer > older
    if not (points_back and _ordering.edges_point_back):
        _ordering.edges_point_back = False
        return _sdk_declare_dependency(from_resource, to_resource)
    resource_cycle_breaker._add_dep(from_resource, to_resource)
    return True


_sdk_declare_dependency: Callable[[Any, Any], bool] = resource_cycle_breaker.declare_dependency
_sdk_wait_for_rpcs = stack.wait_for_rpcs


def install() -> None:
    """Swap both in, with a fresh creation order for the run about to start."""
    global _ordering
    _ordering = _Ordering()
    pulumi.Resource.__init__ = _numbered_resource_init  # type: ignore[method-assign]
    stack.wait_for_rpcs = _wait_for_rpcs
    rpc.declare_dependency = _declare_dependency


def uninstall() -> None:
    """The SDK's own versions back (for the test that both give the same result)."""
    pulumi.Resource.__init__ = _ORIGINAL_RESOURCE_INIT  # type: ignore[method-assign]
    stack.wait_for_rpcs = _sdk_wait_for_rpcs
    rpc.declare_dependency = _sdk_declare_dependency
