"""Cheaper replacements for costly bookkeeping in the Pulumi Python SDK (3.272.0).

Used only by `tools.engine.mock_driver` (the plan tool, the tests, the benchmarks), where nothing
but the SDK's own bookkeeping costs time; each keeps the SDK's behaviour, only its cost changes.
It lives beside its one user: it is not the program's (`pulumi up` never loads it, unlike
`components/sdk_corrections.py`) nor a benchmark's (the plan tool runs with it).
`pulumi up` gets none of these: `bench/plan_scale.py` times the program both ways. What the
program installs itself (`components/sdk_fixes/sdk_corrections.py`) applies in both. Profiling the
program at 300 nodes showed these hot spots (README "Scale"):

1. `stack.wait_for_rpcs` re-registers a callback on every pending output at every wake-up
   (quadratic): the program's own correction (`components/sdk_fixes/sdk_corrections.py`
   `wait_for_rpcs`) is used here for every program the engine runs, the floors too.
2. (The SDK's dependency-cycle check, quadratic along a rollout, is corrected by the program
   itself, `components/sdk_fixes/sdk_corrections.py`, so that `pulumi up` gets it too; nothing
   here.)
3. `resource._get_stack_trace` records where each resource was created: it extracts the whole
   Python stack with every frame's source line read through `linecache` (and the file stat'ed),
   then turns each file name into a URI. Here the frames are walked directly, without source
   lines, and each file's URI is computed once: the same frames, line numbers and URIs.
4. Python's cyclic garbage collector: a run keeps tens of thousands of live objects (futures,
   outputs, protobuf messages), and every full collection walks all of them, so collections
   cost more the bigger the stack (a third of a 1000-node plan). `cyclic_gc_paused` holds the
   collector off for the run and collects once after it; reference counting still frees
   everything that is not in a cycle (the peak memory stays within a few percent).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import pathlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

from pulumi.runtime import resource, resource_cycle_breaker, rpc, stack
from pulumi.runtime.proto import source_pb2

from components.sdk_fixes import sdk_corrections


@functools.cache
def _file_uri(filename: str) -> str | None:
    try:
        return pathlib.Path(filename).as_uri()
    except ValueError:  # a relative or pseudo file name ("<string>"): no position, as the SDK
        return None


@functools.cache
def _stack_frame(filename: str, line: int | None) -> source_pb2.StackFrame:
    # Cached: call sites repeat, and a repeated field copies what it is given.
    uri = _file_uri(filename) if filename and line is not None else None
    if uri is None:
        return source_pb2.StackFrame(pc=None)
    return source_pb2.StackFrame(pc=source_pb2.SourcePosition(uri=uri, line=line))


def _get_stack_trace() -> source_pb2.StackTrace:
    """The SDK's stack trace: the frames below the third `__init__` (the concrete resource's
    constructor), innermost first; empty when there is no such frame below the outermost."""
    frames: list[tuple[str, str, int | None]] = []
    frame = sys._getframe()
    while frame is not None:
        frames.append((frame.f_code.co_name, frame.f_code.co_filename, frame.f_lineno))
        frame = frame.f_back
    inits = [index for index, (name, _, _) in enumerate(frames) if name == "__init__"]
    if len(inits) < 3 or inits[2] >= len(frames) - 1:
        return source_pb2.StackTrace()
    callers = frames[inits[2] + 1 :]
    return source_pb2.StackTrace(frames=[_stack_frame(f, line) for _, f, line in callers])


# What uninstall puts back: the SDK as shipped (a plain run keeps only what the program installs).
_sdk_declare_dependency: Callable[[Any, Any], bool] = resource_cycle_breaker.declare_dependency
# Imported before any run, so this is the SDK's own wait (sdk_corrections keeps it).
_sdk_wait_for_rpcs = sdk_corrections._SDK_WAIT_FOR_RPCS
_sdk_get_stack_trace = resource._get_stack_trace


@contextlib.contextmanager
def cyclic_gc_paused(pause: bool = True) -> Iterator[None]:
    """No cyclic garbage collection inside (when `pause`); one full collection after."""
    was_enabled = gc.isenabled()
    if pause:
        gc.disable()
    try:
        yield
    finally:
        if pause and was_enabled:
            gc.enable()
            gc.collect()


def install() -> None:
    """Swap both in (the collector is paused around the run by `cyclic_gc_paused`); the cycle
    check is the SDK's own until the program installs its correction."""
    stack.wait_for_rpcs = sdk_corrections.wait_for_rpcs
    rpc.declare_dependency = _sdk_declare_dependency
    resource._get_stack_trace = _get_stack_trace


def uninstall() -> None:
    """The SDK's own versions back, its cycle check too (what `pulumi up` runs, before the
    program installs its own correction)."""
    stack.wait_for_rpcs = _sdk_wait_for_rpcs
    rpc.declare_dependency = _sdk_declare_dependency
    resource._get_stack_trace = _sdk_get_stack_trace
