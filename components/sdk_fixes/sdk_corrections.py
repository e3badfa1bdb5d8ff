"""Two costs of the Pulumi Python SDK made linear, installed by the program itself.

Every private name of the Pulumi Python SDK the program uses lives here, behind one check of the
exact SDK version (the installed `pulumi` distribution against the pin of `requirements.txt`):
an SDK upgrade breaks in this one place and falls back to the SDK's own code with a warning,
until the correction is checked against the new SDK.

1. The dependency-cycle check. `pulumi/runtime/rpc.py` `_add_dependency` calls `declare_dependency`
   (`pulumi/runtime/resource_cycle_breaker.py`) for every explicit and property dependency. The
   SDK's version asks `_reachable(to, from)`: a recursive generator walk of everything the new
   dependency reaches. Along a rollout chain every new step reaches the whole chain before it, so
   the walks cost O(chain length^2) in total, and past ~1000 resources deep the recursion raises
   RecursionError. `pulumi preview`/`up` run exactly that code.

   The correction answers exactly as `_reachable` would (same edges recorded in the SDK's
   `_direct_computed_dependencies`, same False on an edge that would close a cycle, so rpc raises
   the same "circular dependency" RuntimeError) but keeps, per resource, a level (the longest
   dependency path down to a resource without dependencies) and the set of its direct dependents:

   - A -> B (B not A) cannot close a cycle when nothing depends on A yet (only A reaches A), or
     when level(B) <= level(A) (every edge goes down at least one level, so a path from B to A
     needs level(B) > level(A)). A new resource depending on older ones, the rollout's case, takes
     one of these exits.
   - Otherwise two bounded searches run in turns, without recursion: down from B through
     dependencies, only through resources above level(A); and up from A through dependents, only
     through resources below level(B). Either one alone decides; the first to finish answers.
   - After recording A -> B, A's level rises to level(B) + 1 if lower, and A's dependents rise with
     it as needed.

2. The wait for outstanding outputs at the end of the program, `pulumi/runtime/stack.py`
   `wait_for_rpcs`: it waits with `asyncio.wait(FIRST_COMPLETED)` on every pending output and
   puts the unfinished ones back, so each completion re-registers a callback on every pending
   output: O(pending x completions). Along a chain, outputs complete one at a time, so it is
   quadratic in the chain's length (cProfile: 88% of a 40-node lane rollout one node at a time). The
   correction registers one callback per output and takes the outputs in the order they
   complete: the same outputs awaited (new ones picked up as they appear, as the SDK's loop
   does), the exception of the first failed one it sees re-raised, the same RPC loop before.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import pulumi
from pulumi.runtime import resource_cycle_breaker, rpc, stack
from pulumi.runtime.settings import SETTINGS, _get_rpc_manager

PINNED_SDK_VERSION = "3.272.0"  # requirements.txt; the correction was checked against this SDK

# The SDK's own names (pulumi/runtime/resource_cycle_breaker.py): the attribute holding each
# resource's direct dependencies, and the check the SDK calls from rpc._add_dependency.
_DEPENDENCIES = resource_cycle_breaker._DEPENDENCIES_PROPERTY
_SDK_DECLARE_DEPENDENCY: Callable[[Any, Any], bool] = resource_cycle_breaker.declare_dependency
_SDK_REACHABLE: Callable[..., bool] = resource_cycle_breaker._reachable
# pulumi/runtime/stack.py: what `run_in_stack` awaits after the program ran.
_SDK_WAIT_FOR_RPCS: Callable[..., Coroutine[Any, Any, None]] = stack.wait_for_rpcs

# This module's own bookkeeping on each resource.
_LEVEL = "_agilio_offload_dependency_level"
_DEPENDENTS = "_agilio_offload_dependents"

_EMPTY: frozenset[Any] = frozenset()


def _level(resource: Any) -> int:
    return getattr(resource, _LEVEL, 0)


def _dependencies(resource: Any) -> set[Any] | frozenset[Any]:
    return getattr(resource, _DEPENDENCIES, _EMPTY)


def _dependents(resource: Any) -> set[Any] | frozenset[Any]:
    return getattr(resource, _DEPENDENTS, _EMPTY)


def declare_dependency(from_resource: Any, to_resource: Any) -> bool:
    """`resource_cycle_breaker.declare_dependency`: record from -> to unless to reaches from."""
    if _reaches(to_resource, from_resource):
        return False
    _record(from_resource, to_resource)
    return True


def _reaches(start: Any, target: Any) -> bool:
    """Whether `start` reaches `target` through recorded dependencies (itself included), as
    `resource_cycle_breaker._reachable(start, target)` answers."""
    if start is target:
        return True
    if not _dependents(target) or _level(start) <= _level(target):
        return False
    return _bounded_search(start, target)


def _bounded_search(start: Any, target: Any) -> bool:
    """Down from `start` above level(target), and up from `target` below level(start), in turns.

    Every resource on a path start -> ... -> target lies strictly between the two levels, so
    each search alone is exact; whichever runs out first without meeting its goal says no path.
    """
    floor, ceiling = _level(target), _level(start)
    down, down_seen = [start], {start}
    up, up_seen = [target], {target}
    while down and up:
        for dependency in _dependencies(down.pop()):
            if dependency is target:
                return True
            if dependency not in down_seen and _level(dependency) > floor:
                down_seen.add(dependency)
                down.append(dependency)
        for dependent in _dependents(up.pop()):
            if dependent is start:
                return True
            if dependent not in up_seen and _level(dependent) < ceiling:
                up_seen.add(dependent)
                up.append(dependent)
    return False


def _record(from_resource: Any, to_resource: Any) -> None:
    # The SDK's `_add_dep` copies the set on every edge; adding in place records the same set.
    dependencies = getattr(from_resource, _DEPENDENCIES, None)
    if dependencies is None:
        setattr(from_resource, _DEPENDENCIES, {to_resource})
    else:
        dependencies.add(to_resource)
    dependents = getattr(to_resource, _DEPENDENTS, None)
    if dependents is None:
        setattr(to_resource, _DEPENDENTS, {from_resource})
    else:
        dependents.add(from_resource)
    _raise_levels(from_resource, _level(to_resource) + 1)


def _raise_levels(resource: Any, level: int) -> None:
    """Lift `resource` to at least `level`, and its dependents above it (the graph is acyclic)."""
    if _level(resource) >= level:
        return
    setattr(resource, _LEVEL, level)
    pending = [resource]
    while pending:
        lifted = pending.pop()
        above = _level(lifted) + 1
        for dependent in _dependents(lifted):
            if _level(dependent) < above:
                setattr(dependent, _LEVEL, above)
                pending.append(dependent)


def sdk_reachable(start: Any, target: Any) -> bool:
    """The SDK's own answer, for the tests that compare both."""
    return _SDK_REACHABLE(from_resource=start, to_resource=target)


async def wait_for_rpcs(await_all_outstanding_tasks: bool = True) -> None:
    """`stack.wait_for_rpcs`: every RPC, then every outstanding output, until none is left."""
    rpc_manager = _get_rpc_manager()
    while True:
        while rpc_manager.rpcs:
            await asyncio.sleep(0)  # let the RPCs just queued run, as the SDK does
            try:
                await rpc_manager.rpcs.pop()
            except Exception as failure:
                if rpc_manager.unhandled_exception is not None:
                    cause = rpc_manager.unhandled_exception.with_traceback(
                        rpc_manager.exception_traceback
                    )
                    raise failure from cause
                raise
        if rpc_manager.unhandled_exception is not None:
            raise rpc_manager.unhandled_exception.with_traceback(rpc_manager.exception_traceback)
        if await_all_outstanding_tasks:
            await _outstanding_outputs()
        if not rpc_manager.rpcs:
            return


async def _outstanding_outputs() -> None:
    """Await every output in `SETTINGS.outputs` (and those added meanwhile) as each completes."""
    completed: asyncio.Queue[asyncio.Future[Any]] = asyncio.Queue()
    watching = 0
    while True:
        with SETTINGS.lock:
            pending = list(SETTINGS.outputs)
            SETTINGS.outputs.clear()
        for output in pending:
            output.add_done_callback(completed.put_nowait)
        watching += len(pending)
        if watching == 0:
            return
        done = await completed.get()
        watching -= 1
        await done  # re-raises its exception, as the SDK's loop does


def sdk_version() -> str:
    """The installed Pulumi Python SDK's version (the package has no `__version__`)."""
    return importlib.metadata.version("pulumi")


# The last resort of the fallback: the SDK's recursive walk with a raised recursion limit.
# Each level of its `yield from` chain holds a C stack frame: on Python 3.11 with the usual
# 8 MiB main-thread stack a 15,000-deep walk completed (bench/sdk_fallback.py prints it).
FALLBACK_RECURSION_LIMIT = 15_000


def walk_declare_dependency(from_resource: Any, to_resource: Any) -> bool:
    """`resource_cycle_breaker.declare_dependency` through the SDK's own `_deps` and `_add_dep`,
    with `_reachable`'s recursive generator walk made an explicit stack: the same answers and
    the same recorded edges at any depth (still one walk per edge, as the SDK's)."""
    if _walk_reaches(to_resource, from_resource):
        return False
    resource_cycle_breaker._add_dep(from_resource, to_resource)
    return True


def _walk_reaches(start: Any, target: Any) -> bool:
    """`resource_cycle_breaker._reachable(start, target)` without recursion."""
    visited = {start}
    pending = [start]
    while pending:
        resource = pending.pop()
        if resource == target:
            return True
        for dependency in resource_cycle_breaker._deps(resource):
            if dependency not in visited:
                visited.add(dependency)
                pending.append(dependency)
    return False


def _fallback() -> str:
    """The cycle check for an SDK other than the pinned one; what it is, for the warning."""
    helpers = ("_deps", "_add_dep", "declare_dependency")
    if all(callable(getattr(resource_cycle_breaker, name, None)) for name in helpers):
        rpc.declare_dependency = walk_declare_dependency
        return "the SDK's dependency-cycle check without recursion"
    rpc.declare_dependency = _SDK_DECLARE_DEPENDENCY
    sys.setrecursionlimit(max(sys.getrecursionlimit(), FALLBACK_RECURSION_LIMIT))
    return (
        f"the SDK's own dependency-cycle check with a recursion limit of {FALLBACK_RECURSION_LIMIT}"
    )


def install() -> bool:
    """Use both corrections for the rest of the run; True if they are in use.

    Call it before the first resource is created (the top of `__main__.py`): the cycle check's
    levels and dependents cover only the dependencies it records itself. On another SDK the
    fallback still takes deep rollouts: the SDK's walk without recursion (or, if the SDK's
    helpers are gone, its own walk with a raised recursion limit).
    """
    version = sdk_version()
    if version != PINNED_SDK_VERSION:
        how = _fallback()
        stack.wait_for_rpcs = _SDK_WAIT_FOR_RPCS
        pulumi.log.warn(
            f"agilio-offload: Pulumi SDK {version} is not the pinned {PINNED_SDK_VERSION}; "
            f"using {how} and the SDK's own output wait (both quadratic in the rollout's length)"
        )
        return False
    rpc.declare_dependency = declare_dependency
    stack.wait_for_rpcs = wait_for_rpcs
    return True
